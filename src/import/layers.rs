//! The operators that map to the computing stages of issue 14: average
//! pooling (a sum whose divisor the next quantizer divides by exactly),
//! dense layers (`Gemm`, `MatMul`, `QGemm`, `QLinearMatMul`), `ArgMax` and
//! channel reductions, and activations: `Sigmoid` / `Tanh` as lookup tables
//! of the exact QDQ formula, `HardSwish` as its exact rational formula.
//! The rearrangements and `MaxUnpool` are in `rearrange.rs`.

use super::exact::Dyadic;
use super::lower::{
    attr_f, attr_i, attr_ints, attr_s, int_param, only_attrs, unsupported, Fail, Lowering, Res,
};
use super::ops::{node_base, pair, pair_text, Bias};
use super::proto::Node;
use super::values::{Codes, Func, QConst, Shortcut, Val};
use crate::numeric::table::{quotient_code, TableFn};

impl Lowering<'_> {
    // ---- average pooling ----------------------------------------------------

    /// `AveragePool` / `GlobalAveragePool` on a real value.
    pub fn avgpool(&mut self, n: &Node, global: bool) -> Res<Vec<Val>> {
        let x = self.need(n, 0, "input")?;
        let window = self.pool_window(n, &x, global)?;
        Ok(vec![self.pool_average(n, &x, &window)?])
    }

    /// `QLinearAveragePool` / `QLinearGlobalAveragePool` (com.microsoft):
    /// inputs `x, x_scale, x_zp, y_scale, y_zp`.
    pub fn qlinear_avgpool(&mut self, n: &Node, global: bool) -> Res<Vec<Val>> {
        if attr_i(n, "channels_last", 0) != 0 {
            return unsupported("channels_last = 1");
        }
        let x = self.dequantized(n, 0, 1, 2)?;
        let window = self.pool_window(n, &x, global)?;
        let out_scale = self.scale(n, 3)?;
        let (zp, lo, hi, ty) = self.zero_point(n, 4)?;
        let avg = self.pool_average(n, &x, &window)?;
        self.requantize_to(n, avg, out_scale, (zp, lo, hi, ty))
    }

    fn pool_window(&self, n: &Node, x: &Val, global: bool) -> Res<Window> {
        let shape = x
            .shape()
            .ok_or_else(|| Fail::Unsupported("an input that is not a map".into()))?;
        if global {
            only_attrs(n, &["channels_last"])?;
            return Ok(Window {
                kernel: (shape[1], shape[2]),
                stride: (1, 1),
                pads: [0; 4],
                include_pad: true,
                input: shape,
                out: [shape[0], 1, 1],
                global: true,
            });
        }
        only_attrs(
            n,
            &[
                "kernel_shape",
                "strides",
                "pads",
                "ceil_mode",
                "count_include_pad",
                "auto_pad",
                "channels_last",
                "dilations",
            ],
        )?;
        let window = pool_geometry(n, shape)?;
        Ok(Window {
            include_pad: attr_i(n, "count_include_pad", 0) != 0,
            ..window
        })
    }

    /// The exact average: the window sum (a depthwise convolution by ones)
    /// with the window size as its divisor, and, for codes, the `avgpool`
    /// of the codes as the shortcut when the quantizer keeps the scale.
    fn pool_average(&mut self, n: &Node, x: &Val, w: &Window) -> Res<Val> {
        let count = (w.kernel.0 * w.kernel.1) as u64;
        // Windows that reach the padding divide by fewer pixels.
        let uniform = w.pads == [0; 4] || w.include_pad;
        let shortcut = match x {
            Val::Affine { codes, zp, scale } if w.pads == [0; 4] || !w.include_pad || *zp == 0 => {
                Some(Shortcut {
                    expr: if w.global {
                        format!("global_avgpool({})", codes.name)
                    } else {
                        format!("avgpool({}, {})", codes.name, w.args())
                    },
                    zp: *zp,
                    scale: *scale,
                    lo: codes.lo,
                    hi: codes.hi,
                })
            }
            _ => None,
        };
        let (e, scale, bound, div) = match x {
            Val::Affine { codes, zp, scale } => {
                let (c, s, b) = self.affine_parts(codes, *zp, *scale)?;
                (c, Some(s), b, 1)
            }
            other => {
                let (e, _, b, d) = self.real_div(other)?;
                (e, None, b, d)
            }
        };
        // Windows that reach the padding hold fewer pixels: the sum is
        // multiplied by the integer map `L / count` and divided by `L` (the
        // counts' least common multiple), exactly `sum / count`.
        let (weights, count) = if uniform {
            (None, count)
        } else {
            let counts = w.counts();
            let l = counts.iter().fold(1u64, |a, &c| a / gcd(a, c) * c);
            let m: Vec<i64> = counts.iter().map(|&c| (l / c) as i64).collect();
            let per_plane = m.len();
            let q = QConst {
                dims: w.out.to_vec(),
                codes: (0..w.out[0] * per_plane)
                    .map(|i| m[i % per_plane])
                    .collect(),
                scales: vec![Dyadic::from_int(1)],
                zps: vec![0],
                axis: 0,
            };
            let max_m = m.iter().copied().max().unwrap_or(1) as f64;
            let name = int_param(&mut self.script, &format!("{}_weights", node_base(n)), &q);
            (Some((name, max_m)), l)
        };
        let ones = self.ones(n, [w.input[0], 1, w.kernel.0, w.kernel.1]);
        let mut args = vec![e, ones];
        if w.stride != (1, 1) {
            args.push(format!("stride: {}", pair_text(w.stride)));
        }
        if w.pads != [0; 4] {
            let p = w.pads;
            args.push(format!("pad: ({}, {}, {}, {})", p[0], p[1], p[2], p[3]));
        }
        if w.input[0] > 1 {
            args.push(format!("groups: {}", w.input[0]));
        }
        let mut sum = format!("conv({})", args.join(", "));
        let mut bound = bound * (w.kernel.0 * w.kernel.1) as f64;
        if let Some((m, max_m)) = weights {
            sum = format!("{sum} * {m}");
            bound *= max_m;
        }
        if let Some(s) = scale {
            sum = format!("{sum} * {s}");
        }
        let div = div
            .checked_mul(count)
            .ok_or_else(|| Fail::Unsupported("a divisor beyond 64 bits".into()))?;
        Ok(self.pending_real(n, sum, (w.out, bound, div), shortcut))
    }

    /// A param of ones (the kernel of a window sum).
    fn ones(&mut self, n: &Node, dims: [usize; 4]) -> String {
        let count = dims.iter().product();
        let q = QConst {
            dims: dims.to_vec(),
            codes: vec![1; count],
            scales: vec![Dyadic::from_int(1)],
            zps: vec![0],
            axis: 0,
        };
        int_param(&mut self.script, &format!("{}_ones", node_base(n)), &q)
    }

    // ---- dense layers ---------------------------------------------------------

    /// `Gemm(A, B, C)` and `MatMul(A, B)` on dequantized values: `dense`.
    pub fn gemm(&mut self, n: &Node, matmul: bool) -> Res<Vec<Val>> {
        if matmul {
            only_attrs(n, &[])?;
        } else {
            only_attrs(n, &["alpha", "beta", "transA", "transB"])?;
            for a in ["alpha", "beta"] {
                if attr_f(n, a).is_some_and(|v| v != 1.0) {
                    return unsupported(format!("{a} other than 1"));
                }
            }
            if attr_i(n, "transA", 0) != 0 {
                return unsupported("transA = 1");
            }
        }
        let trans_b = !matmul && attr_i(n, "transB", 0) != 0;
        let x = self.need(n, 0, "input")?;
        let w = match self.need(n, 1, "weights")? {
            Val::QConst(q) => q,
            Val::Const(_) => {
                return Err(Fail::Float(
                    "its weights are float: they need a DequantizeLinear or a Quant".into(),
                ))
            }
            Val::Poisoned => return Err(Fail::Poisoned),
            _ => return unsupported("weights that are not a constant"),
        };
        let w = self.rows_of_outputs(n, w, trans_b)?;
        let bias = if matmul {
            None
        } else {
            match self.arg(n, 2)? {
                None => None,
                Some(Val::QConst(q)) => Some(Bias::Codes(q)),
                Some(Val::Const(k)) => Some(Bias::Values(k.values)),
                Some(_) => return unsupported("a bias that is not a constant"),
            }
        };
        Ok(vec![self.conv(n, &x, &w, bias, false)?])
    }

    /// Weights as `[O, K]` with one scale per output row: `B` is `[K, O]`
    /// (`MatMul`, `Gemm` without `transB`) or `[O, K]` (`transB = 1`).
    fn rows_of_outputs(&self, n: &Node, w: QConst, transposed: bool) -> Res<QConst> {
        if w.dims.len() != 2 {
            return unsupported(format!("weights of shape {:?} (2-D only)", w.dims));
        }
        let per_channel = w.scales.len() > 1;
        let out_axis = if transposed { 0 } else { 1 };
        if per_channel && w.axis != out_axis {
            return Err(self.scale_shape(
                n,
                format!(
                    "{} weight scales along axis {} of {:?}, not along the outputs",
                    w.scales.len(),
                    w.axis,
                    w.dims
                ),
            ));
        }
        if transposed {
            return Ok(w);
        }
        let (k, o) = (w.dims[0], w.dims[1]);
        let mut codes = vec![0; k * o];
        for r in 0..k {
            for c in 0..o {
                codes[c * k + r] = w.codes[r * o + c];
            }
        }
        Ok(QConst {
            dims: vec![o, k],
            codes,
            axis: 0,
            ..w
        })
    }

    /// `QGemm` (com.microsoft): `A, a_scale, a_zp, B, b_scale, b_zp, C,
    /// y_scale, y_zp`, and `QLinearMatMul`: `a, a_scale, a_zp, b, b_scale,
    /// b_zp, y_scale, y_zp`.
    pub fn qlinear_dense(&mut self, n: &Node, gemm: bool) -> Res<Vec<Val>> {
        let trans_b = if gemm {
            only_attrs(n, &["alpha", "transA", "transB"])?;
            if attr_f(n, "alpha").is_some_and(|v| v != 1.0) {
                return unsupported("alpha other than 1");
            }
            if attr_i(n, "transA", 0) != 0 {
                return unsupported("transA = 1");
            }
            attr_i(n, "transB", 0) != 0
        } else {
            only_attrs(n, &[])?;
            false
        };
        let x = self.dequantized(n, 0, 1, 2)?;
        let w = match self.need(n, 3, "weights")? {
            Val::Const(k) if k.int => k,
            _ => return unsupported("weights that are not an integer initializer"),
        };
        let scales = self.consts(n, 4)?;
        let zps = self.consts(n, 5)?;
        if w.dims.len() != 2 {
            return unsupported(format!("weights of shape {:?} (2-D only)", w.dims));
        }
        let outputs = if trans_b { w.dims[0] } else { w.dims[1] };
        if (scales.len() != 1 && scales.len() != outputs)
            || (zps.len() != 1 && zps.len() != scales.len())
        {
            return Err(self.scale_shape(
                n,
                format!(
                    "{} weight scales and {} zero points for {outputs} outputs",
                    scales.len(),
                    zps.len()
                ),
            ));
        }
        let ints = |v: &[Dyadic]| -> Res<Vec<i64>> {
            v.iter()
                .map(|&d| super::lower::integer(d))
                .collect::<Option<Vec<i64>>>()
                .ok_or_else(|| Fail::Unsupported("codes that are not integers".into()))
        };
        let mut zps = ints(&zps)?;
        if zps.len() == 1 {
            zps = vec![zps[0]; scales.len()];
        }
        let wq = QConst {
            dims: w.dims.clone(),
            codes: ints(&w.values)?,
            scales: scales.clone(),
            zps,
            axis: if trans_b { 0 } else { 1 },
        };
        let wq = self.rows_of_outputs(n, wq, trans_b)?;
        let (y_scale, y_zp) = if gemm { (7, 8) } else { (6, 7) };
        let bias = match (gemm, self.arg(n, 6)?) {
            (true, Some(Val::Const(b))) if b.int => {
                let x_scale = match &x {
                    Val::Affine { scale, .. } => *scale,
                    _ => Dyadic::from_int(1),
                };
                let s = scales
                    .iter()
                    .map(|s| s.mul(x_scale))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| self.too_wide(&n.name, "a scale product"))?;
                let count = s.len();
                Some(Bias::Codes(QConst {
                    dims: b.dims.clone(),
                    codes: ints(&b.values)?,
                    scales: s,
                    zps: vec![0; count],
                    axis: 0,
                }))
            }
            (true, None) | (false, _) => None,
            (true, Some(_)) => return unsupported("a bias that is not an integer initializer"),
        };
        let real = self.conv(n, &x, &wq, bias, false)?;
        if gemm && self.arg(n, y_scale)?.is_none() {
            return Ok(vec![real]);
        }
        let out_scale = self.scale(n, y_scale)?;
        let (zp, lo, hi, ty) = self.zero_point(n, y_zp)?;
        self.requantize_to(n, real, out_scale, (zp, lo, hi, ty))
    }

    // ---- reductions over channels ---------------------------------------------

    /// `ArgMax` over channels: the codes' order is the values' (positive
    /// scales, positive divisors).
    pub fn argmax(&mut self, n: &Node) -> Res<Vec<Val>> {
        only_attrs(n, &["axis", "keepdims", "select_last_index"])?;
        if attr_i(n, "axis", 0) != 1 {
            return unsupported(format!(
                "axis = {} (channels, axis 1, only)",
                attr_i(n, "axis", 0)
            ));
        }
        if attr_i(n, "select_last_index", 0) != 0 {
            return unsupported("select_last_index = 1");
        }
        let x = self.need(n, 0, "input")?;
        let e = match &x {
            Val::Codes(c) | Val::Affine { codes: c, .. } => c.name.clone(),
            other => self.real_div(other)?.0,
        };
        let shape = x
            .shape()
            .ok_or_else(|| Fail::Unsupported("an input that is not a map".into()))?;
        let name = self.script.fresh(n.outputs.first().map_or(&n.name, |s| s));
        self.script.let_(
            &name,
            &format!("argmax({e})"),
            &format!("{} {}", n.op_type, n.name),
        );
        Ok(vec![Val::Codes(Codes {
            name,
            lo: 0,
            hi: shape[0] as i64 - 1,
            shape: [1, shape[1], shape[2]],
        })])
    }

    /// `ReduceMax`, `ReduceSum`, `ReduceMean` over the channel axis.
    pub fn reduce(&mut self, n: &Node) -> Res<Vec<Val>> {
        only_attrs(n, &["axes", "keepdims", "noop_with_empty_axes"])?;
        let axes = match self.arg(n, 1)? {
            Some(Val::Const(k)) => k
                .values
                .iter()
                .map(|&v| super::lower::integer(v))
                .collect::<Option<Vec<i64>>>(),
            None => attr_ints(n, "axes"),
            Some(_) => return unsupported("axes that are not a constant"),
        };
        if axes.as_deref() != Some(&[1]) {
            return unsupported(format!("axes {axes:?} (channels, [1], only)"));
        }
        let x = self.need(n, 0, "input")?;
        let shape = x
            .shape()
            .ok_or_else(|| Fail::Unsupported("an input that is not a map".into()))?;
        let out = [1, shape[1], shape[2]];
        match n.op_type.as_str() {
            "ReduceMax" => self.map_codes(n, x, out, |e| format!("max({e})")),
            op => {
                let (e, _, bound, div) = self.real_div(&x)?;
                let c = shape[0] as u64;
                let div = if op == "ReduceMean" { div * c } else { div };
                let bound = bound * c as f64;
                Ok(vec![self.let_real_div(
                    n,
                    format!("sum({e})"),
                    out,
                    bound,
                    div,
                )])
            }
        }
    }

    // ---- activations ------------------------------------------------------------

    /// `Sigmoid` / `Tanh` of dequantized codes: a table, once quantized.
    pub fn transcendental(&mut self, n: &Node) -> Res<Vec<Val>> {
        only_attrs(n, &[])?;
        let f = if n.op_type == "Tanh" {
            Func::Tanh
        } else {
            Func::Sigmoid
        };
        match self.need(n, 0, "input")? {
            Val::Affine { codes, zp, scale } => Ok(vec![Val::Table {
                codes,
                zp,
                scale,
                f,
                from: super::lower::problem(n, String::new()),
            }]),
            Val::Poisoned => Err(Fail::Poisoned),
            Val::FloatInput { name, .. } => Err(Fail::Float(format!(
                "reads the float input `{name}`, which no QuantizeLinear quantizes first"
            ))),
            _ => unsupported(
                "an input that is not dequantized codes (a table needs a DequantizeLinear before it)",
            ),
        }
    }

    /// `QLinearSigmoid` (com.microsoft): `x, x_scale, x_zp, y_scale, y_zp`.
    pub fn qlinear_sigmoid(&mut self, n: &Node) -> Res<Vec<Val>> {
        only_attrs(n, &[])?;
        let Val::Affine { codes, zp, scale } = self.dequantized(n, 0, 1, 2)? else {
            return unsupported("an input that is not codes");
        };
        let out_scale = self.scale(n, 3)?;
        let (out_zp, lo, hi, ty) = self.zero_point(n, 4)?;
        let codes = self.table(
            n,
            &codes,
            (zp, scale),
            Func::Sigmoid,
            (out_scale, out_zp, lo, hi, ty),
        )?;
        Ok(vec![Val::Codes(codes)])
    }

    /// `HardSwish(x) = x * clip(x + 3, 0, 6) / 6`, exactly: for `x = e / d`,
    /// `e * clip(e + 3d, 0, 6d) / (6 d^2)`.
    pub fn hardswish(&mut self, n: &Node) -> Res<Vec<Val>> {
        only_attrs(n, &[])?;
        let x = self.need(n, 0, "input")?;
        let (e, shape, bound, div) = self.real_div(&x)?;
        let d = div as i64;
        let e = if e.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            e
        } else {
            format!("({e})")
        };
        let expr = format!("{e} * clip({e} + {}, 0, {})", 3 * d, 6 * d);
        let div = (6 * div)
            .checked_mul(div)
            .ok_or_else(|| Fail::Unsupported("a divisor beyond 64 bits".into()))?;
        let bound = bound * (bound + 3.0 * d as f64).min(6.0 * d as f64);
        Ok(vec![self.let_real_div(n, expr, shape, bound, div)])
    }

    /// The lookup table `codes -> saturate(round(f((c - zp) * scale) /
    /// out_scale) + out_zp)`, every entry exact (`quotient_code`).
    pub fn table(
        &mut self,
        n: &Node,
        codes: &Codes,
        (zp, scale): (i64, Dyadic),
        f: Func,
        (out_scale, out_zp, lo, hi, ty): (Dyadic, i64, i64, i64, &str),
    ) -> Res<Codes> {
        let span = (codes.hi - codes.lo + 1) as u64;
        if !span.is_power_of_two() || span > 1 << 16 {
            return unsupported(format!(
                "a table of codes {} .. {} (a full type of at most 16 bits)",
                codes.lo, codes.hi
            ));
        }
        let tf = match f {
            Func::Sigmoid => TableFn::Sigmoid,
            Func::Tanh => TableFn::Tanh,
        };
        // x = (c - zp) * m * 2^e = raw / 2^frac.
        let (raw_scale, frac) = if scale.exp >= 0 {
            let m = (scale.exp < 60)
                .then(|| scale.mant.checked_mul(1i128 << scale.exp))
                .flatten()
                .ok_or_else(|| self.too_wide(&n.name, "an input scale of 2^60 or more"))?;
            (m, 0)
        } else {
            (scale.mant, scale.exp.unsigned_abs())
        };
        let mut entries = Vec::with_capacity(span as usize);
        for c in codes.lo..=codes.hi {
            let raw = (c - zp) as i128 * raw_scale;
            let q = quotient_code(tf, raw, frac, out_scale.mant, out_scale.exp)
                .map_err(|e| self.too_wide(&n.name, &format!("a table entry: {e:?}")))?;
            entries.push(
                q.saturating_add(out_zp as i128)
                    .clamp(lo as i128, hi as i128),
            );
        }
        let lut = self.script.fresh(&format!("{}_lut", node_base(n)));
        self.script.param(
            &lut,
            ty,
            &[span as usize],
            crate::data::NpyData::Int(entries),
            super::lower::narrowest_dtype(lo, hi),
        );
        let name = self.script.fresh(&format!("{}_q", node_base(n)));
        self.script.let_(
            &name,
            &format!("table({}, {lut})", codes.name),
            &format!("{} {}", n.op_type, n.name),
        );
        Ok(Codes {
            name,
            lo,
            hi,
            shape: codes.shape,
        })
    }
}

/// Pooling geometry.
pub struct Window {
    pub kernel: (usize, usize),
    pub stride: (usize, usize),
    /// top, bottom, left, right
    pub pads: [usize; 4],
    pub include_pad: bool,
    pub input: [usize; 3],
    pub out: [usize; 3],
    pub global: bool,
}

/// The window of a local `AveragePool` / `MaxPool` over a `[C, H, W]` map:
/// the limits both share (no ceil mode, dilation or SAME padding), kernel,
/// strides, pads and the output size (`include_pad` false).
pub fn pool_geometry(n: &Node, shape: [usize; 3]) -> Res<Window> {
    if attr_i(n, "ceil_mode", 0) != 0 {
        return unsupported("ceil_mode = 1");
    }
    if pair(attr_ints(n, "dilations"), 1)? != (1, 1) {
        return unsupported("dilations other than 1");
    }
    if !matches!(
        attr_s(n, "auto_pad").as_deref(),
        None | Some("NOTSET") | Some("VALID")
    ) {
        return unsupported("auto_pad SAME_*");
    }
    let Some(k) = attr_ints(n, "kernel_shape") else {
        return unsupported("no kernel_shape");
    };
    let k = pair(Some(k), 1)?;
    let s = pair(attr_ints(n, "strides"), 1)?;
    let pads = four_pads(attr_ints(n, "pads"))?;
    if pads[0] >= k.0 || pads[1] >= k.0 || pads[2] >= k.1 || pads[3] >= k.1 {
        return unsupported("a pad as large as the kernel");
    }
    let oh = (shape[1] + pads[0] + pads[1])
        .checked_sub(k.0)
        .map(|v| v / s.0 + 1);
    let ow = (shape[2] + pads[2] + pads[3])
        .checked_sub(k.1)
        .map(|v| v / s.1 + 1);
    let (Some(oh), Some(ow)) = (oh, ow) else {
        return unsupported("an empty output");
    };
    Ok(Window {
        kernel: k,
        stride: s,
        pads,
        include_pad: false,
        input: shape,
        out: [shape[0], oh, ow],
        global: false,
    })
}

impl Window {
    /// The pixels inside the map of each output window, row by row.
    fn counts(&self) -> Vec<u64> {
        let inside = |o: usize, k: usize, s: usize, pad: usize, size: usize| {
            let start = (o * s) as i64 - pad as i64;
            let lo = start.max(0);
            let hi = (start + k as i64).min(size as i64);
            (hi - lo).max(0) as u64
        };
        let mut v = vec![];
        for oy in 0..self.out[1] {
            for ox in 0..self.out[2] {
                let h = inside(
                    oy,
                    self.kernel.0,
                    self.stride.0,
                    self.pads[0],
                    self.input[1],
                );
                let w = inside(
                    ox,
                    self.kernel.1,
                    self.stride.1,
                    self.pads[2],
                    self.input[2],
                );
                v.push((h * w).max(1));
            }
        }
        v
    }

    fn args(&self) -> String {
        let mut a = vec![pair_text(self.kernel)];
        if self.stride != self.kernel {
            a.push(format!("stride: {}", pair_text(self.stride)));
        }
        if self.pads != [0; 4] {
            let p = self.pads;
            a.push(format!("pad: ({}, {}, {}, {})", p[0], p[1], p[2], p[3]));
        }
        if self.include_pad && self.pads != [0; 4] {
            a.push("count_include_pad: true".into());
        }
        a.join(", ")
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// ONNX `pads` `[top, left, bottom, right]` as `[top, bottom, left, right]`.
pub fn four_pads(p: Option<Vec<i64>>) -> Res<[usize; 4]> {
    match p {
        None => Ok([0; 4]),
        Some(p) if p.len() == 4 && p.iter().all(|&v| v >= 0) => {
            Ok([p[0] as usize, p[2] as usize, p[1] as usize, p[3] as usize])
        }
        Some(p) => unsupported(format!("pads {p:?}")),
    }
}

impl Lowering<'_> {
    /// `ConvInteger(x, w, x_zp, w_zp)` and `MatMulInteger(a, b, a_zp,
    /// b_zp)`: the exact integer sum of `(x - x_zp) * (w - w_zp)`, as codes
    /// (onnxruntime's int32; refused if it could leave the int32 range).
    pub fn integer_op(&mut self, n: &Node, conv: bool) -> Res<Vec<Val>> {
        let codes = match self.need(n, 0, "input")? {
            Val::Codes(c) => c,
            Val::Poisoned => return Err(Fail::Poisoned),
            _ => return unsupported("an input that is not integer codes"),
        };
        let zp_of = |me: &Self, i: usize| -> Res<Vec<i64>> {
            match me.arg(n, i)? {
                None => Ok(vec![0]),
                Some(Val::Const(k)) if k.int => k
                    .values
                    .iter()
                    .map(|&v| super::lower::integer(v))
                    .collect::<Option<Vec<i64>>>()
                    .ok_or_else(|| Fail::Unsupported("a zero point that is not an integer".into())),
                Some(_) => unsupported(format!("input {i} is not an integer constant")),
            }
        };
        let x_zp = zp_of(self, 2)?;
        if x_zp.len() != 1 {
            return Err(self.scale_shape(n, format!("{} input zero points", x_zp.len())));
        }
        let w = match self.need(n, 1, "weights")? {
            Val::Const(k) if k.int => k,
            _ => return unsupported("weights that are not an integer initializer"),
        };
        let w_zps = zp_of(self, 3)?;
        let axis = if conv { 0 } else { 1 };
        let channels = w.dims.get(axis).copied().unwrap_or(0);
        if w_zps.len() != 1 && w_zps.len() != channels {
            return Err(self.scale_shape(
                n,
                format!(
                    "{} weight zero points for weights of shape {:?}",
                    w_zps.len(),
                    w.dims
                ),
            ));
        }
        let count = w_zps.len();
        let wq = QConst {
            dims: w.dims.clone(),
            codes: w
                .values
                .iter()
                .map(|&v| super::lower::integer(v))
                .collect::<Option<Vec<i64>>>()
                .ok_or_else(|| Fail::Unsupported("codes that are not integers".into()))?,
            scales: vec![Dyadic::from_int(1); count],
            zps: w_zps,
            axis,
        };
        let wq = if conv {
            wq
        } else {
            self.rows_of_outputs(n, wq, false)?
        };
        let x = Val::Affine {
            codes,
            zp: x_zp[0],
            scale: Dyadic::from_int(1),
        };
        let (expr, shape, bound) = match self.conv(n, &x, &wq, None, false)? {
            Val::Real(r) => (r.expr, r.shape, r.bound),
            _ => return unsupported("an integer product that is not a map"),
        };
        if bound >= 2f64.powi(31) {
            return Err(self.too_wide(&n.name, "the integer sums could leave int32"));
        }
        // The codes' range: a bound of the sums (it sizes the requantizations
        // after a DequantizeLinear; the checker proves the exact one).
        let b = bound.ceil() as i64;
        Ok(vec![Val::Codes(Codes {
            name: expr,
            lo: -b,
            hi: b,
            shape,
        })])
    }
}
