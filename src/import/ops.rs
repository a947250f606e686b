//! Operators: each ONNX node becomes Convoy stages. QOperator nodes
//! (`QLinearConv`, `QLinearAdd` ...) are their QDQ meaning: dequantize the
//! inputs, apply the float op exactly, quantize the result.

use super::exact::Dyadic;
use super::layers::pool_geometry;
use super::lower::{
    attr_f, attr_i, attr_ints, attr_s, centred, int_param, only_attrs, unsupported, Fail, Lowering,
    Res,
};
use super::proto::Node;
use super::requant::Rounding;
use super::values::{Codes, QConst, Val};

const QONNX_DOMAINS: &[&str] = &[
    "qonnx.custom_op.general",
    "finn.custom_op.general",
    "onnx.brevitas",
];

/// Bias of a convolution: integer codes with scales, or exact float values.
pub enum Bias {
    Codes(QConst),
    Values(Vec<Dyadic>),
}

impl Lowering<'_> {
    pub fn node(&mut self, n: &Node) -> Res<Vec<Val>> {
        let domain = n.domain.as_str();
        if QONNX_DOMAINS.contains(&domain) {
            return match n.op_type.as_str() {
                "Quant" => self.qonnx_quant(n),
                "BipolarQuant" => self.bipolar_quant(n),
                "Trunc" => self.qonnx_trunc(n),
                _ => unsupported("not a QONNX operator the importer knows"),
            };
        }
        let ms = domain == "com.microsoft";
        if !(domain.is_empty() || domain == "ai.onnx" || ms) {
            return unsupported(format!("operator domain `{domain}`"));
        }
        match (n.op_type.as_str(), ms) {
            ("QuantizeLinear", _) => self.quantize_linear(n),
            ("DequantizeLinear", _) => self.dequantize_linear(n),
            ("Conv", false) => self.conv_float(n, false),
            ("ConvTranspose", false) => self.conv_float(n, true),
            ("QLinearConv", false) => self.qlinear_conv(n),
            ("MaxPool", false) => self.maxpool(n),
            ("Resize", false) => self.resize(n),
            ("Concat", false) => self.concat(n),
            ("QLinearConcat", true) => self.qlinear_concat(n),
            ("Add" | "Sub" | "Mul", false) => self.binary(n),
            ("QLinearAdd" | "QLinearMul", true) => self.qlinear_binary(n),
            ("Relu" | "Clip" | "LeakyRelu", false) => self.activation(n),
            ("QLinearLeakyRelu", true) => self.qlinear_leaky_relu(n),
            ("Identity", false) => Ok(vec![self.need(n, 0, "input")?]),
            ("BatchNormalization", false) => self.batch_norm(n),
            ("AveragePool", false) => self.avgpool(n, false),
            ("GlobalAveragePool", false) => self.avgpool(n, true),
            ("QLinearAveragePool", true) => self.qlinear_avgpool(n, false),
            ("QLinearGlobalAveragePool", true) => self.qlinear_avgpool(n, true),
            ("Gemm", false) => self.gemm(n, false),
            ("MatMul", false) => self.gemm(n, true),
            ("QGemm", true) => self.qlinear_dense(n, true),
            ("QLinearMatMul", false) => self.qlinear_dense(n, false),
            ("ArgMax", false) => self.argmax(n),
            ("ReduceMax" | "ReduceSum" | "ReduceMean", false) => self.reduce(n),
            ("Flatten", false) => self.flatten(n),
            ("Reshape", false) => self.reshape(n),
            ("DepthToSpace", false) => self.depth_to_space(n, false),
            ("SpaceToDepth", false) => self.depth_to_space(n, true),
            ("Pad", false) => self.pad(n),
            ("Slice", false) => self.slice(n),
            ("MaxUnpool", false) => self.maxunpool(n),
            ("Sigmoid" | "Tanh", false) => self.transcendental(n),
            ("QLinearSigmoid", true) => self.qlinear_sigmoid(n),
            ("HardSwish", false) => self.hardswish(n),
            ("ConvInteger", false) => self.integer_op(n, true),
            ("MatMulInteger", false) => self.integer_op(n, false),
            ("Transpose", false) => self.boundary_transpose(n),
            _ => unsupported("not an operator the importer knows"),
        }
    }

    // ---- convolutions -------------------------------------------------------

    fn qlinear_conv(&mut self, n: &Node) -> Res<Vec<Val>> {
        let x = self.dequantized(n, 0, 1, 2)?;
        let w = match self.need(n, 3, "weights")? {
            Val::Const(k) if k.int => k,
            _ => return unsupported("weights that are not an integer initializer"),
        };
        let w_scales = self.consts(n, 4)?;
        let w_zps = self.consts(n, 5)?;
        let out_scale = self.scale(n, 6)?;
        let (zp, lo, hi, ty) = self.zero_point(n, 7)?;
        let channels = w.dims.first().copied().unwrap_or(0);
        if w_scales.len() != 1 && w_scales.len() != channels {
            return Err(self.scale_shape(
                n,
                format!(
                    "{} weight scales for {channels} output channels",
                    w_scales.len()
                ),
            ));
        }
        if w_zps.len() != w_scales.len() && w_zps.len() != 1 {
            return Err(self.scale_shape(
                n,
                format!(
                    "{} weight zero points for {} scales",
                    w_zps.len(),
                    w_scales.len()
                ),
            ));
        }
        let codes: Vec<i64> = w
            .values
            .iter()
            .filter_map(|&v| super::lower::integer(v))
            .collect();
        let zps: Vec<i64> = w_zps
            .iter()
            .filter_map(|&v| super::lower::integer(v))
            .collect();
        let zps = if zps.len() == 1 {
            vec![zps[0]; w_scales.len()]
        } else {
            zps
        };
        let wq = QConst {
            dims: w.dims.clone(),
            codes,
            scales: w_scales.clone(),
            zps,
            axis: 0,
        };
        // The bias is int32 in units of x_scale * w_scale (exactly).
        let x_scale = match &x {
            Val::Affine { scale, .. } => *scale,
            _ => Dyadic::new(1, 0),
        };
        let bias = match self.arg(n, 8)? {
            None => None,
            Some(Val::Const(b)) if b.int => {
                let scales = w_scales
                    .iter()
                    .map(|s| s.mul(x_scale))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| self.too_wide(&n.name, "a scale product"))?;
                let count = scales.len();
                Some(Bias::Codes(QConst {
                    dims: b.dims.clone(),
                    codes: b
                        .values
                        .iter()
                        .filter_map(|&v| super::lower::integer(v))
                        .collect(),
                    scales,
                    zps: vec![0; count],
                    axis: 0,
                }))
            }
            Some(_) => return unsupported("a bias that is not an integer initializer"),
        };
        let real = self.conv(n, &x, &wq, bias, false)?;
        let codes = self.quantize(
            n,
            &real,
            out_scale,
            zp,
            (lo, hi, ty),
            Rounding::HalfEven,
            false,
        )?;
        Ok(vec![Val::Codes(codes)])
    }

    fn conv_float(&mut self, n: &Node, transposed: bool) -> Res<Vec<Val>> {
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
        let bias = match self.arg(n, 2)? {
            None => None,
            Some(Val::QConst(q)) => Some(Bias::Codes(q)),
            Some(Val::Const(k)) => Some(Bias::Values(k.values)),
            Some(_) => return unsupported("a bias that is not a constant"),
        };
        let real = self.conv(n, &x, &w, bias, transposed)?;
        Ok(vec![real])
    }

    /// The exact real result of a (transposed) convolution.
    pub fn conv(
        &mut self,
        n: &Node,
        x: &Val,
        w: &QConst,
        bias: Option<Bias>,
        transposed: bool,
    ) -> Res<Val> {
        let mut known = vec![
            "kernel_shape",
            "strides",
            "pads",
            "dilations",
            "group",
            "auto_pad",
        ];
        if transposed {
            known.push("output_padding");
        }
        if w.dims.len() != 2 {
            only_attrs(n, &known)?;
        }
        let (x_expr, x_scale, shape, x_max) = match x {
            Val::Affine { codes, zp, scale } => {
                let m = (codes.hi - zp).abs().max((codes.lo - zp).abs()) as f64;
                (centred(codes, *zp), *scale, codes.shape, m)
            }
            other => {
                let (e, s, b) = self.real(other)?;
                (e, Dyadic::new(1, 0), s, b)
            }
        };
        if w.dims.len() == 2 && !transposed {
            return self.dense(n, (x_expr, x_scale, shape, x_max), w, bias);
        }
        if w.dims.len() != 4 {
            return unsupported(format!(
                "weights of rank {} (2-D convolutions only)",
                w.dims.len()
            ));
        }
        let [c_in, h, wd] = shape;
        let (kh, kw) = (w.dims[2], w.dims[3]);
        let group = attr_i(n, "group", 1).max(1) as usize;
        let strides = pair(attr_ints(n, "strides"), 1)?;
        let dil = pair(attr_ints(n, "dilations"), 1)?;
        if let Some(k) = attr_ints(n, "kernel_shape") {
            if k != [kh as i64, kw as i64] {
                return unsupported(format!("kernel_shape {k:?} differs from the weights"));
            }
        }
        let mut pads = match attr_ints(n, "pads") {
            None => [0usize; 4],
            Some(p) if p.len() == 4 && p.iter().all(|&v| v >= 0) => {
                [p[0] as usize, p[2] as usize, p[1] as usize, p[3] as usize]
            }
            Some(p) => return unsupported(format!("pads {p:?}")),
        };
        match attr_s(n, "auto_pad").as_deref() {
            None | Some("NOTSET") | Some("VALID") => {}
            Some(mode @ ("SAME_UPPER" | "SAME_LOWER")) if !transposed => {
                let same = |size: usize, k: usize, s: usize, d: usize| {
                    let out = size.div_ceil(s);
                    ((out - 1) * s + (k - 1) * d + 1).saturating_sub(size)
                };
                let th = same(h, kh, strides.0, dil.0);
                let tw = same(wd, kw, strides.1, dil.1);
                let upper = mode == "SAME_UPPER";
                let split = |t: usize| {
                    if upper {
                        (t / 2, t - t / 2)
                    } else {
                        (t - t / 2, t / 2)
                    }
                };
                let ((a, b), (c, d)) = (split(th), split(tw));
                pads = [a, b, c, d];
            }
            Some(other) => return unsupported(format!("auto_pad = {other}")),
        }
        let out_pad = if transposed {
            pair(attr_ints(n, "output_padding"), 0)?
        } else {
            (0, 0)
        };
        let (c_out, out_h, out_w) = if transposed {
            if w.dims[0] != c_in || !c_in.is_multiple_of(group) {
                return unsupported(format!("weights {:?} for {c_in} input channels", w.dims));
            }
            let oh = ((h - 1) * strides.0 + dil.0 * (kh - 1) + out_pad.0 + 1)
                .checked_sub(pads[0] + pads[1]);
            let ow = ((wd - 1) * strides.1 + dil.1 * (kw - 1) + out_pad.1 + 1)
                .checked_sub(pads[2] + pads[3]);
            (w.dims[1] * group, oh, ow)
        } else {
            if w.dims[1] * group != c_in || !w.dims[0].is_multiple_of(group) {
                return unsupported(format!(
                    "weights {:?} for {c_in} input channels in {group} groups",
                    w.dims
                ));
            }
            let span_h = dil.0 * (kh - 1) + 1;
            let span_w = dil.1 * (kw - 1) + 1;
            let oh = (h + pads[0] + pads[1])
                .checked_sub(span_h)
                .map(|v| v / strides.0 + 1);
            let ow = (wd + pads[2] + pads[3])
                .checked_sub(span_w)
                .map(|v| v / strides.1 + 1);
            (w.dims[0], oh, ow)
        };
        let (Some(out_h), Some(out_w)) = (out_h, out_w) else {
            return unsupported("an empty output");
        };
        // Scale per output channel: x_scale * w_scale[channel].
        let per_group = c_out / group;
        let w_channel = |o: usize| if transposed { o % per_group } else { o };
        let mut scales = Vec::with_capacity(c_out);
        for o in 0..c_out {
            let s = w.scale_of_channel(w_channel(o).min(w.scales.len() - 1));
            scales.push(
                s.mul(x_scale)
                    .ok_or_else(|| self.too_wide(&n.name, "a scale product"))?,
            );
        }
        // Bounds of each output channel's real value (sizes the requantization).
        let mut tap_sum = vec![0f64; c_out];
        for (i, _) in w.codes.iter().enumerate() {
            let inner = w.dims[1] * kh * kw;
            let o = if transposed {
                let ci = i / inner;
                let j = (i / (kh * kw)) % w.dims[1];
                (ci / (c_in / group)) * per_group + j
            } else {
                i / inner
            };
            tap_sum[o] += w.centred(i).unsigned_abs() as f64;
        }
        let w_name = int_param(&mut self.script, &format!("{}_w", node_base(n)), w);
        let mut args = vec![x_expr, w_name];
        if strides != (1, 1) {
            args.push(format!("stride: {}", pair_text(strides)));
        }
        if pads != [0; 4] {
            args.push(if pads[0] == pads[1] && pads[2] == pads[3] {
                format!("pad: {}", pair_text((pads[0], pads[2])))
            } else {
                format!("pad: ({}, {}, {}, {})", pads[0], pads[1], pads[2], pads[3])
            });
        }
        if transposed && out_pad != (0, 0) {
            args.push(format!("output_pad: {}", pair_text(out_pad)));
        }
        if dil != (1, 1) {
            args.push(format!("dilation: {}", pair_text(dil)));
        }
        if group != 1 {
            args.push(format!("groups: {group}"));
        }
        let stage = if transposed { "deconv" } else { "conv" };
        let acc = format!("{stage}({})", args.join(", "));
        let bound: Vec<f64> = (0..c_out)
            .map(|o| tap_sum[o] * x_max * scales[o].to_f64())
            .collect();
        let w_scales: Vec<Dyadic> = (0..c_out)
            .map(|o| w.scale_of_channel(w_channel(o).min(w.scales.len() - 1)))
            .collect();
        self.scaled_accumulator(
            n,
            acc,
            (&scales, &w_scales, x_scale),
            bound,
            bias,
            [c_out, out_h, out_w],
        )
    }

    /// A dense layer: `dense(x, w)` with `w` `[O, C*H*W]`, its scales and bias
    /// as a convolution's.
    fn dense(
        &mut self,
        n: &Node,
        (x_expr, x_scale, shape, x_max): (String, Dyadic, [usize; 3], f64),
        w: &QConst,
        bias: Option<Bias>,
    ) -> Res<Val> {
        let (c_out, k) = (w.dims[0], w.dims[1]);
        if k != shape.iter().product::<usize>() {
            return unsupported(format!(
                "weights {:?} for an input of {} values",
                w.dims,
                shape.iter().product::<usize>()
            ));
        }
        let mut scales = Vec::with_capacity(c_out);
        let mut bound = vec![0f64; c_out];
        for (o, b) in bound.iter_mut().enumerate() {
            let s = w
                .scale_of_channel(o.min(w.scales.len() - 1))
                .mul(x_scale)
                .ok_or_else(|| self.too_wide(&n.name, "a scale product"))?;
            let taps: f64 = (0..k)
                .map(|i| w.centred(o * k + i).unsigned_abs() as f64)
                .sum();
            *b = taps * x_max * s.to_f64();
            scales.push(s);
        }
        let w_name = int_param(&mut self.script, &format!("{}_w", node_base(n)), w);
        let acc = format!("dense({x_expr}, {w_name})");
        let w_scales: Vec<Dyadic> = (0..c_out)
            .map(|o| w.scale_of_channel(o.min(w.scales.len() - 1)))
            .collect();
        self.scaled_accumulator(
            n,
            acc,
            (&scales, &w_scales, x_scale),
            bound,
            bias,
            [c_out, 1, 1],
        )
    }

    /// `acc * scale[o] (+ bias)`: the exact real result of a convolution or
    /// dense layer whose accumulator is `acc`.
    fn scaled_accumulator(
        &mut self,
        n: &Node,
        acc: String,
        (scales, w_scales, x_scale): (&[Dyadic], &[Dyadic], Dyadic),
        mut bound: Vec<f64>,
        bias: Option<Bias>,
        [c_out, out_h, out_w]: [usize; 3],
    ) -> Res<Val> {
        if bias.is_none() && scales.iter().all(|s| *s == Dyadic::from_int(1)) {
            // An integer-only product (ConvInteger, MatMulInteger).
            let b = bound.iter().copied().fold(0f64, f64::max);
            return Ok(self.let_real(n, acc, [c_out, out_h, out_w], b));
        }
        // One vector of products `x_scale * w_scale[o]` when it fits 64 bits,
        // else the two factors (per-channel scales far apart in exponent).
        let fits = super::exact::fixed_type_for(scales).is_some()
            && scales.iter().all(|v| v.mant_bits() <= 53);
        let scale_name = if fits || x_scale == Dyadic::new(1, 0) {
            self.scale_values(n, "scale", scales)?
        } else {
            let ws = self.scale_values(n, "w_scale", w_scales)?;
            let xs = self.scale_values(n, "x_scale", &vec![x_scale; c_out])?;
            format!("{ws} * {xs}")
        };
        let expr = match bias {
            None => format!("{acc} * {scale_name}"),
            Some(Bias::Codes(b)) => {
                if b.codes.len() != c_out || (b.scales.len() != 1 && b.scales.len() != c_out) {
                    return Err(self.scale_shape(
                        n,
                        format!(
                            "a bias of {} values with {} scales for {c_out} channels",
                            b.codes.len(),
                            b.scales.len()
                        ),
                    ));
                }
                for (o, bo) in bound.iter_mut().enumerate() {
                    *bo += b.centred(o).unsigned_abs() as f64 * b.scale_of_channel(o).to_f64();
                }
                let b_name = int_param(&mut self.script, &format!("{}_b", node_base(n)), &b);
                let same = (0..c_out).all(|o| b.scale_of_channel(o) == scales[o]);
                if same {
                    format!("({acc} + {b_name}) * {scale_name}")
                } else {
                    let bs: Vec<Dyadic> = (0..c_out).map(|o| b.scale_of_channel(o)).collect();
                    let bs_name = self.scale_values(n, "b_scale", &bs)?;
                    format!("{acc} * {scale_name} + {b_name} * {bs_name}")
                }
            }
            Some(Bias::Values(v)) => {
                if v.len() != c_out {
                    return unsupported(format!(
                        "a bias of {} values for {c_out} channels",
                        v.len()
                    ));
                }
                for (o, bo) in bound.iter_mut().enumerate() {
                    *bo += v[o].to_f64().abs();
                }
                let name = self.fixed_param(n, "b", &v)?;
                format!("{acc} * {scale_name} + {name}")
            }
        };
        let b = bound.iter().copied().fold(0f64, f64::max);
        Ok(self.let_real(n, expr, [c_out, out_h, out_w], b * 1.001 + 1.0))
    }

    /// A scale per output channel, as a vector param.
    fn scale_values(&mut self, n: &Node, suffix: &str, scales: &[Dyadic]) -> Res<String> {
        self.fixed_param(n, suffix, scales)
    }

    /// Exact dyadic values as a fixed-point vector param.
    pub fn fixed_param(&mut self, n: &Node, suffix: &str, values: &[Dyadic]) -> Res<String> {
        let name = self.script.fresh(&format!("{}_{suffix}", node_base(n)));
        self.scale_param(&name, values)?;
        Ok(name)
    }

    pub fn consts(&self, n: &Node, i: usize) -> Res<Vec<Dyadic>> {
        match self.arg(n, i)? {
            Some(Val::Const(k)) => Ok(k.values),
            None => Ok(vec![Dyadic::ZERO]),
            Some(_) => unsupported(format!("input {i} is not a constant")),
        }
    }

    /// QOperator input `(codes, scale, zero point)` at `i, s, z`.
    pub fn dequantized(&self, n: &Node, i: usize, s: usize, z: usize) -> Res<Val> {
        match self.need(n, i, "input")? {
            Val::Codes(codes) => {
                let scale = self.scale(n, s)?;
                let (zp, ..) = self.zero_point(n, z)?;
                Ok(Val::Affine { codes, zp, scale })
            }
            Val::Poisoned => Err(Fail::Poisoned),
            Val::FloatInput { name, .. } => Err(Fail::Float(format!(
                "reads the float input `{name}`, which no QuantizeLinear quantizes first"
            ))),
            _ => unsupported("an input that is not integer codes"),
        }
    }

    /// NHWC models: a `Transpose` to NCHW right after a float input (the
    /// pipeline's input is then the NCHW tensor), or back to NHWC right
    /// before an output (the pipeline's output stays NCHW). Only the
    /// layout label changes: Convoy's maps are `[C, H, W]`.
    fn boundary_transpose(&mut self, n: &Node) -> Res<Vec<Val>> {
        only_attrs(n, &["perm"])?;
        let perm = attr_ints(n, "perm");
        let x = self.need(n, 0, "input")?;
        let to_nchw = perm.as_deref() == Some(&[0, 3, 1, 2]);
        let to_nhwc = perm.as_deref() == Some(&[0, 2, 3, 1]);
        match x {
            Val::FloatInput { name, shape } if to_nchw => {
                // Read as [N, H, W, C]: `shape` holds (H, W, C).
                Ok(vec![Val::FloatInput {
                    name,
                    shape: [shape[2], shape[0], shape[1]],
                }])
            }
            Val::Codes(ref c) | Val::Affine { codes: ref c, .. }
                if to_nchw && self.is_declared_input(&c.name) =>
            {
                // The quantized NHWC input: declare it as [C, H, W] instead.
                let shape = [c.shape[2], c.shape[0], c.shape[1]];
                self.redeclare_input(&c.name, shape);
                let codes = Codes { shape, ..c.clone() };
                Ok(vec![match x {
                    Val::Affine { zp, scale, .. } => Val::Affine { codes, zp, scale },
                    _ => Val::Codes(codes),
                }])
            }
            Val::Codes(_) | Val::Affine { .. } if to_nhwc => {
                let out = n.outputs.first().cloned().unwrap_or_default();
                self.nhwc_outputs.insert(out);
                Ok(vec![x])
            }
            _ => unsupported(
                "a transpose other than NHWC -> NCHW after a float input or NCHW -> NHWC before an output",
            ),
        }
    }

    // ---- pooling, resizing, concatenation -------------------------------------

    fn maxpool(&mut self, n: &Node) -> Res<Vec<Val>> {
        only_attrs(
            n,
            &[
                "kernel_shape",
                "strides",
                "pads",
                "ceil_mode",
                "dilations",
                "storage_order",
                "auto_pad",
            ],
        )?;
        let x = self.need(n, 0, "input")?;
        let shape = x
            .shape()
            .ok_or_else(|| Fail::Unsupported("an input that is not a map".into()))?;
        let window = pool_geometry(n, shape)?;
        let (k, s, pads) = (window.kernel, window.stride, window.pads);
        let [_, oh, ow] = window.out;
        let mut args = vec![pair_text(k)];
        if s != k {
            args.push(format!("stride: {}", pair_text(s)));
        }
        if pads != [0; 4] {
            args.push(format!(
                "pad: ({}, {}, {}, {})",
                pads[0], pads[1], pads[2], pads[3]
            ));
        }
        let out_shape = [shape[0], oh, ow];
        if n.outputs.len() > 1 {
            return self.maxpool_indices(n, x, args.join(", "), (k, s, pads), out_shape);
        }
        // Max commutes with `(q - zp) * scale` for a positive scale: pool the codes.
        self.map_codes(n, x, out_shape, |e| {
            format!("maxpool({e}, {})", args.join(", "))
        })
    }

    /// Applies a stage that commutes with dequantization (it only moves or
    /// picks values) to codes, or to a real value.
    pub fn map_codes(
        &mut self,
        n: &Node,
        x: Val,
        shape: [usize; 3],
        f: impl Fn(&str) -> String,
    ) -> Res<Vec<Val>> {
        let comment = format!("{} {}", n.op_type, n.name);
        let (c, affine) = match x {
            Val::Codes(c) => (c, None),
            Val::Affine { codes, zp, scale } => (codes, Some((zp, scale))),
            other => {
                let (e, _, bound, div) = self.real_div(&other)?;
                return Ok(vec![self.let_real_div(n, f(&e), shape, bound, div)]);
            }
        };
        let name = self.script.fresh(n.outputs.first().map_or(&n.name, |s| s));
        self.script.let_(&name, &f(&c.name), &comment);
        let codes = Codes { name, shape, ..c };
        Ok(vec![match affine {
            Some((zp, scale)) => Val::Affine { codes, zp, scale },
            None => Val::Codes(codes),
        }])
    }

    fn resize(&mut self, n: &Node) -> Res<Vec<Val>> {
        only_attrs(
            n,
            &[
                "mode",
                "coordinate_transformation_mode",
                "nearest_mode",
                "cubic_coeff_alpha",
                "exclude_outside",
                "extrapolation_value",
                "antialias",
                "axes",
                "keep_aspect_ratio_policy",
            ],
        )?;
        let x = self.need(n, 0, "input")?;
        let shape = x
            .shape()
            .ok_or_else(|| Fail::Unsupported("an input that is not a map".into()))?;
        let mode = attr_s(n, "mode").unwrap_or_else(|| "nearest".into());
        let coord =
            attr_s(n, "coordinate_transformation_mode").unwrap_or_else(|| "half_pixel".into());
        let nearest = attr_s(n, "nearest_mode").unwrap_or_else(|| "round_prefer_floor".into());
        // Integer factors, from `scales` (input 2) or `sizes` (input 3).
        let factors = match (self.arg(n, 2)?, self.arg(n, 3)?) {
            (Some(Val::Const(s)), _) if s.values.len() == 4 => {
                let f: Vec<Option<i64>> =
                    s.values.iter().map(|&v| super::lower::integer(v)).collect();
                match (f[0], f[1], f[2], f[3]) {
                    (Some(1), Some(1), Some(a), Some(b)) if a > 0 && b > 0 => {
                        (a as usize, b as usize)
                    }
                    _ => return unsupported("scales that are not whole factors of H and W"),
                }
            }
            (_, Some(Val::Const(s))) if s.values.len() == 4 => {
                let f: Vec<Option<i64>> =
                    s.values.iter().map(|&v| super::lower::integer(v)).collect();
                let (Some(h2), Some(w2)) = (f[2], f[3]) else {
                    return unsupported("sizes that are not integers");
                };
                let (h2, w2) = (h2.max(0) as usize, w2.max(0) as usize);
                if !h2.is_multiple_of(shape[1])
                    || !w2.is_multiple_of(shape[2])
                    || f[1] != Some(shape[0] as i64)
                {
                    return unsupported("sizes that are not whole multiples of H and W");
                }
                (h2 / shape[1], w2 / shape[2])
            }
            _ => return unsupported("scales or sizes that are not constants of 4 values"),
        };
        let out_shape = [shape[0], shape[1] * factors.0, shape[2] * factors.1];
        let f = pair_text(factors);
        match mode.as_str() {
            "nearest" => {
                // For whole factors these all pick input floor(o / f).
                let ok = match coord.as_str() {
                    "asymmetric" => nearest == "floor",
                    "half_pixel" | "pytorch_half_pixel" => {
                        nearest == "round_prefer_floor" || nearest == "round_prefer_ceil"
                    }
                    _ => false,
                };
                if !ok {
                    return unsupported(format!(
                        "nearest with coordinate_transformation_mode = {coord}, nearest_mode = {nearest}"
                    ));
                }
                self.map_codes(n, x, out_shape, |e| format!("upsample({e}, {f}, nearest)"))
            }
            "linear" => {
                if !matches!(coord.as_str(), "half_pixel" | "pytorch_half_pixel") {
                    return unsupported(format!(
                        "linear with coordinate_transformation_mode = {coord}"
                    ));
                }
                if !factors.0.is_power_of_two() || !factors.1.is_power_of_two() {
                    return unsupported("linear with factors that are not powers of two");
                }
                let (expr, bound) = match &x {
                    Val::Affine { codes, zp, scale } => {
                        let (centred, s, bound) = self.affine_parts(codes, *zp, *scale)?;
                        (format!("upsample({centred}, {f}, bilinear) * {s}"), bound)
                    }
                    other => {
                        let (e, _, b) = self.real(other)?;
                        (format!("upsample({e}, {f}, bilinear)"), b)
                    }
                };
                Ok(vec![self.let_real(n, expr, out_shape, bound)])
            }
            other => unsupported(format!("mode = {other}")),
        }
    }

    fn concat(&mut self, n: &Node) -> Res<Vec<Val>> {
        only_attrs(n, &["axis"])?;
        let axis = attr_i(n, "axis", 1);
        if axis != 1 && axis != -3 {
            return unsupported(format!("axis = {axis} (channels only)"));
        }
        let mut xs = vec![];
        for i in 0..n.inputs.len() {
            xs.push(self.need(n, i, "input")?);
        }
        self.concat_vals(n, xs)
    }

    fn concat_vals(&mut self, n: &Node, xs: Vec<Val>) -> Res<Vec<Val>> {
        let shapes: Vec<[usize; 3]> = xs
            .iter()
            .map(|x| {
                x.shape()
                    .ok_or_else(|| Fail::Unsupported("an input that is not a map".into()))
            })
            .collect::<Res<_>>()?;
        if shapes.iter().any(|s| s[1..] != shapes[0][1..]) {
            return unsupported("inputs of different heights or widths");
        }
        let shape = [
            shapes.iter().map(|s| s[0]).sum(),
            shapes[0][1],
            shapes[0][2],
        ];
        // Codes of one quantization concatenate as codes.
        if let Some(Val::Affine {
            codes: c0,
            zp: z0,
            scale: s0,
        }) = xs.first()
        {
            let same = xs.iter().all(|x| {
                matches!(x, Val::Affine { codes, zp, scale }
                if zp == z0 && scale == s0 && codes.lo == c0.lo && codes.hi == c0.hi)
            });
            if same {
                let names: Vec<String> = xs
                    .iter()
                    .map(|x| match x {
                        Val::Affine { codes, .. } => codes.name.clone(),
                        _ => String::new(),
                    })
                    .collect();
                let name = self.script.fresh(n.outputs.first().map_or(&n.name, |s| s));
                self.script.let_(
                    &name,
                    &format!("concat({})", names.join(", ")),
                    &format!("{} {}", n.op_type, n.name),
                );
                return Ok(vec![Val::Affine {
                    codes: Codes {
                        name,
                        shape,
                        ..c0.clone()
                    },
                    zp: *z0,
                    scale: *s0,
                }]);
            }
        }
        let mut exprs = vec![];
        let mut bound = 0f64;
        for x in &xs {
            let (e, _, b) = self.real(x)?;
            exprs.push(e);
            bound = bound.max(b);
        }
        Ok(vec![self.let_real(
            n,
            format!("concat({})", exprs.join(", ")),
            shape,
            bound,
        )])
    }

    fn qlinear_concat(&mut self, n: &Node) -> Res<Vec<Val>> {
        only_attrs(n, &["axis"])?;
        let axis = attr_i(n, "axis", 1);
        if axis != 1 && axis != -3 {
            return unsupported(format!("axis = {axis} (channels only)"));
        }
        let out_scale = self.scale(n, 0)?;
        let (zp, lo, hi, ty) = self.zero_point(n, 1)?;
        let mut xs = vec![];
        let mut i = 2;
        while i + 2 < n.inputs.len() + 1 && i < n.inputs.len() {
            xs.push(self.dequantized(n, i, i + 1, i + 2)?);
            i += 3;
        }
        let joined = self.concat_vals(n, xs)?.remove(0);
        self.requantize_to(n, joined, out_scale, (zp, lo, hi, ty))
    }

    /// Quantizes `v` to `(scale, zp)`; codes already of that quantization
    /// pass through.
    pub fn requantize_to(
        &mut self,
        n: &Node,
        v: Val,
        scale: Dyadic,
        (zp, lo, hi, ty): (i64, i64, i64, &str),
    ) -> Res<Vec<Val>> {
        if let Val::Affine {
            codes,
            zp: z,
            scale: s,
        } = &v
        {
            if *z == zp && *s == scale && codes.lo == lo && codes.hi == hi {
                return Ok(vec![Val::Codes(codes.clone())]);
            }
        }
        let codes = self.quantize(n, &v, scale, zp, (lo, hi, ty), Rounding::HalfEven, false)?;
        Ok(vec![Val::Codes(codes)])
    }

    // ---- elementwise --------------------------------------------------------

    fn binary(&mut self, n: &Node) -> Res<Vec<Val>> {
        only_attrs(n, &[])?;
        let a = self.need(n, 0, "input")?;
        let b = self.need(n, 1, "input")?;
        self.binary_vals(n, &a, &b)
    }

    fn binary_vals(&mut self, n: &Node, a: &Val, b: &Val) -> Res<Vec<Val>> {
        let operand = |me: &mut Self, v: &Val| -> Res<(String, Option<[usize; 3]>, f64)> {
            match v {
                Val::Const(k) if k.values.len() == 1 => Ok((
                    format!("({})", k.values[0].decimal()),
                    None,
                    k.values[0].to_f64().abs(),
                )),
                other => {
                    let (e, s, bd) = me.real(other)?;
                    Ok((format!("({e})"), Some(s), bd))
                }
            }
        };
        let (ea, sa, ba) = operand(self, a)?;
        let (eb, sb, bb) = operand(self, b)?;
        let shape = match (sa, sb) {
            (Some(x), Some(y)) if x == y => x,
            (Some(x), None) | (None, Some(x)) => x,
            (Some(_), Some(_)) => {
                return unsupported("operands of different shapes (no broadcasting)")
            }
            (None, None) => return unsupported("two constant operands"),
        };
        let (expr, bound) = match n.op_type.as_str() {
            "Add" | "QLinearAdd" => (format!("{ea} + {eb}"), ba + bb),
            "Sub" => (format!("{ea} - {eb}"), ba + bb),
            _ => (format!("{ea} * {eb}"), ba * bb),
        };
        Ok(vec![self.let_real(n, expr, shape, bound)])
    }

    fn qlinear_binary(&mut self, n: &Node) -> Res<Vec<Val>> {
        let a = self.dequantized(n, 0, 1, 2)?;
        let b = self.dequantized(n, 3, 4, 5)?;
        let out_scale = self.scale(n, 6)?;
        let (zp, lo, hi, ty) = self.zero_point(n, 7)?;
        let real = self.binary_vals(n, &a, &b)?.remove(0);
        self.requantize_to(n, real, out_scale, (zp, lo, hi, ty))
    }

    fn activation(&mut self, n: &Node) -> Res<Vec<Val>> {
        let x = self.need(n, 0, "input")?;
        let (e, shape, mut bound) = self.real(&x)?;
        let expr = match n.op_type.as_str() {
            "Relu" => {
                only_attrs(n, &[])?;
                format!("relu({e})")
            }
            "LeakyRelu" => {
                only_attrs(n, &["alpha"])?;
                leaky(&e, attr_f(n, "alpha").unwrap_or(0.01))?
            }
            _ => {
                only_attrs(n, &["min", "max"])?;
                let lo = match self.arg(n, 1)? {
                    Some(Val::Const(k)) if k.values.len() == 1 => Some(k.values[0]),
                    None => attr_f(n, "min").and_then(|f| Dyadic::from_f64(f as f64)),
                    _ => return unsupported("a min that is not a constant"),
                };
                let hi = match self.arg(n, 2)? {
                    Some(Val::Const(k)) if k.values.len() == 1 => Some(k.values[0]),
                    None => attr_f(n, "max").and_then(|f| Dyadic::from_f64(f as f64)),
                    _ => return unsupported("a max that is not a constant"),
                };
                // A bound beyond the values' own (clip(x, 6, 8) of small x).
                for b in [lo, hi].into_iter().flatten() {
                    bound = bound.max(b.to_f64().abs());
                }
                if let (Some(l), Some(h)) = (lo, hi) {
                    if l.to_f64() > h.to_f64() {
                        return unsupported("a min above the max");
                    }
                }
                match (lo, hi) {
                    (Some(l), Some(h)) => format!("clip({e}, {}, {})", l.decimal(), h.decimal()),
                    (Some(l), None) => format!("max({e}, {})", l.decimal()),
                    (None, Some(h)) => format!("min({e}, {})", h.decimal()),
                    (None, None) => e.clone(),
                }
            }
        };
        Ok(vec![self.let_real(n, expr, shape, bound)])
    }

    fn qlinear_leaky_relu(&mut self, n: &Node) -> Res<Vec<Val>> {
        only_attrs(n, &["alpha"])?;
        let x = self.dequantized(n, 0, 1, 2)?;
        let out_scale = self.scale(n, 3)?;
        let (zp, lo, hi, ty) = self.zero_point(n, 4)?;
        let (e, shape, bound) = self.real(&x)?;
        let expr = leaky(&e, attr_f(n, "alpha").unwrap_or(0.01))?;
        let real = self.let_real(n, expr, shape, bound);
        self.requantize_to(n, real, out_scale, (zp, lo, hi, ty))
    }
}

fn leaky(e: &str, alpha: f32) -> Res<String> {
    let a = Dyadic::from_f64(alpha as f64)
        .ok_or_else(|| Fail::Unsupported("alpha is not finite".into()))?;
    if !(0.0..=1.0).contains(&alpha) {
        return unsupported(format!("alpha = {alpha} (0 <= alpha <= 1 only)"));
    }
    Ok(format!("max({e}, ({e}) * {})", a.decimal()))
}

/// An attribute pair `[h, w]`, or `(default, default)` when absent.
pub fn pair(v: Option<Vec<i64>>, default: usize) -> Res<(usize, usize)> {
    match v {
        None => Ok((default, default)),
        Some(p) if p.len() == 2 && p.iter().all(|&x| x >= 1 || (default == 0 && x >= 0)) => {
            Ok((p[0] as usize, p[1] as usize))
        }
        Some(p) => unsupported(format!("{p:?} (2-D, positive values only)")),
    }
}

pub fn pair_text((a, b): (usize, usize)) -> String {
    if a == b {
        a.to_string()
    } else {
        format!("({a}, {b})")
    }
}

pub fn node_base(n: &Node) -> String {
    if n.name.is_empty() {
        n.outputs
            .first()
            .cloned()
            .unwrap_or_else(|| n.op_type.clone())
    } else {
        n.name.clone()
    }
}
