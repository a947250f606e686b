//! Rearrangements (`Flatten`, `Reshape`, `DepthToSpace`, `SpaceToDepth`,
//! `Pad`, `Slice`) and `MaxPool` indices with `MaxUnpool`: stages that move
//! values, so they run on codes (or carry a real value's divisor).

use super::exact::Dyadic;
use super::layers::four_pads;
use super::lower::{attr_i, attr_ints, attr_s, only_attrs, unsupported, Fail, Lowering, Res};
use super::ops::pair;
use super::proto::Node;
use super::values::{Codes, Indices, Val};

impl Lowering<'_> {
    // ---- rearrangements ---------------------------------------------------------

    pub fn flatten(&mut self, n: &Node) -> Res<Vec<Val>> {
        only_attrs(n, &["axis"])?;
        if attr_i(n, "axis", 1) != 1 {
            return unsupported("axis other than 1");
        }
        let x = self.need(n, 0, "input")?;
        let [c, h, w] = self.map_shape(&x)?;
        self.map_codes(n, x, [c * h * w, 1, 1], |e| format!("flatten({e})"))
    }

    /// A static `Reshape` of `[N, C, H, W]` to `[N, K]` or `[N, C', H', W']`
    /// (`0` or `-1` for the batch).
    pub fn reshape(&mut self, n: &Node) -> Res<Vec<Val>> {
        only_attrs(n, &["allowzero"])?;
        let x = self.need(n, 0, "input")?;
        let [c, h, w] = self.map_shape(&x)?;
        let total = (c * h * w) as i64;
        let dims = match self.arg(n, 1)? {
            Some(Val::Const(k)) => k
                .values
                .iter()
                .map(|&v| super::lower::integer(v))
                .collect::<Option<Vec<i64>>>()
                .ok_or_else(|| Fail::Unsupported("a shape that is not integers".into()))?,
            _ => return unsupported("a shape that is not a constant (dynamic shape)"),
        };
        if dims.is_empty() || !(-1..=1).contains(&dims[0]) {
            return unsupported(format!("shape {dims:?}: the batch axis must stay first"));
        }
        let mut rest: Vec<i64> = dims[1..].to_vec();
        let known: i64 = rest.iter().filter(|&&d| d > 0).product();
        let holes = rest.iter().filter(|&&d| d == -1).count();
        if rest.iter().any(|&d| d == 0 || d < -1) || holes > 1 || known == 0 {
            return unsupported(format!("shape {dims:?}"));
        }
        for d in &mut rest {
            if *d == -1 {
                *d = total / known;
            }
        }
        if rest.iter().product::<i64>() != total {
            return unsupported(format!("shape {dims:?} for {total} values per image"));
        }
        let out = match rest[..] {
            [k] => [k as usize, 1, 1],
            [a, b, d] => [a as usize, b as usize, d as usize],
            _ => return unsupported(format!("shape {dims:?} (rank 2 or 4 only)")),
        };
        self.map_codes(n, x, out, |e| {
            format!("reshape({e}, [{}, {}, {}])", out[0], out[1], out[2])
        })
    }

    pub fn depth_to_space(&mut self, n: &Node, inverse: bool) -> Res<Vec<Val>> {
        only_attrs(n, &["blocksize", "mode"])?;
        let r = attr_i(n, "blocksize", 0);
        if r < 1 {
            return unsupported("no blocksize");
        }
        let r = r as usize;
        let x = self.need(n, 0, "input")?;
        let [c, h, w] = self.map_shape(&x)?;
        if inverse {
            if !h.is_multiple_of(r) || !w.is_multiple_of(r) {
                return unsupported(format!("blocksize {r} for a {h} x {w} map"));
            }
            return self.map_codes(n, x, [c * r * r, h / r, w / r], |e| {
                format!("space_to_depth({e}, {r})")
            });
        }
        if !c.is_multiple_of(r * r) {
            return unsupported(format!("blocksize {r} for {c} channels"));
        }
        let mode = match attr_s(n, "mode").as_deref() {
            None | Some("DCR") => "",
            Some("CRD") => ", mode: crd",
            Some(other) => return unsupported(format!("mode = {other}")),
        };
        self.map_codes(n, x, [c / (r * r), h * r, w * r], |e| {
            format!("depth_to_space({e}, {r}{mode})")
        })
    }

    /// `Pad` in `constant` mode on the height and width; the pad value is
    /// the code of the padded real value (`zp` for 0).
    pub fn pad(&mut self, n: &Node) -> Res<Vec<Val>> {
        only_attrs(n, &["mode"])?;
        if !matches!(attr_s(n, "mode").as_deref(), None | Some("constant")) {
            return unsupported("a mode other than constant");
        }
        let pads = match self.arg(n, 1)? {
            Some(Val::Const(k)) => k
                .values
                .iter()
                .map(|&v| super::lower::integer(v))
                .collect::<Option<Vec<i64>>>(),
            _ => None,
        };
        let Some(p) = pads.filter(|p| p.len() == 8 && p.iter().all(|&v| v >= 0)) else {
            return unsupported("pads that are not 8 constant, non-negative integers");
        };
        if self.arg(n, 3)?.is_some() {
            return unsupported("the axes input");
        }
        if p[0] != 0 || p[1] != 0 || p[4] != 0 || p[5] != 0 {
            return unsupported("padding of the batch or channel axis");
        }
        let value = match self.arg(n, 2)? {
            None => Dyadic::ZERO,
            Some(Val::Const(k)) if k.values.len() == 1 => k.values[0],
            Some(Val::Affine { .. } | Val::Codes(_) | Val::QConst(_)) => {
                return unsupported("a pad value that is not a plain constant")
            }
            Some(_) => return unsupported("a pad value that is not a constant"),
        };
        let x = self.need(n, 0, "input")?;
        let [c, h, w] = self.map_shape(&x)?;
        let (t, b, l, r) = (p[2] as usize, p[6] as usize, p[3] as usize, p[7] as usize);
        let code = match &x {
            // The code of `value` in the input's quantization (QDQ: a float
            // value; QOperator: the code itself).
            Val::Affine { zp, scale, codes } => {
                let q = if value.is_zero() {
                    Some(*zp)
                } else {
                    quotient(value, *scale).map(|q| q + zp)
                };
                match q {
                    Some(q) if q >= codes.lo && q <= codes.hi => q.to_string(),
                    _ => return unsupported("a pad value that is no code of the input"),
                }
            }
            Val::Codes(_) => match super::lower::integer(value) {
                Some(v) => v.to_string(),
                None => return unsupported("a pad value that is not an integer code"),
            },
            _ if value.is_zero() => "0".into(),
            _ => return unsupported("a pad value other than 0 on a computed value"),
        };
        let value_arg = if code == "0" {
            String::new()
        } else {
            format!(", value: {code}")
        };
        self.map_codes(n, x, [c, h + t + b, w + l + r], |e| {
            format!("pad({e}, ({t}, {b}, {l}, {r}){value_arg})")
        })
    }

    /// A static `Slice` with steps of 1 on the channel, row and column axes.
    pub fn slice(&mut self, n: &Node) -> Res<Vec<Val>> {
        only_attrs(n, &[])?;
        let list = |me: &Self, i: usize| -> Res<Option<Vec<i64>>> {
            match me.arg(n, i)? {
                None => Ok(None),
                Some(Val::Const(k)) => Ok(Some(
                    k.values
                        .iter()
                        .map(|&v| super::lower::integer(v))
                        .collect::<Option<Vec<i64>>>()
                        .ok_or_else(|| Fail::Unsupported(format!("input {i} is not integers")))?,
                )),
                Some(_) => unsupported(format!("input {i} is not a constant (dynamic slice)")),
            }
        };
        let starts = list(self, 1)?.unwrap_or_default();
        let ends = list(self, 2)?.unwrap_or_default();
        let axes = list(self, 3)?.unwrap_or_else(|| (0..starts.len() as i64).collect());
        let steps = list(self, 4)?.unwrap_or_else(|| vec![1; starts.len()]);
        if starts.len() != ends.len() || axes.len() != starts.len() || steps.len() != starts.len() {
            return unsupported("starts, ends, axes and steps of different lengths");
        }
        let x = self.need(n, 0, "input")?;
        let shape = self.map_shape(&x)?;
        let mut ranges = [None, None, None];
        for i in 0..starts.len() {
            let axis = if axes[i] < 0 { axes[i] + 4 } else { axes[i] };
            if !(1..=3).contains(&axis) {
                return unsupported(format!("axis {} (channels, rows, columns only)", axes[i]));
            }
            if steps[i] != 1 {
                return unsupported(format!("step {}", steps[i]));
            }
            let dim = shape[axis as usize - 1] as i64;
            let clamp = |v: i64| if v < 0 { v + dim } else { v }.clamp(0, dim);
            let (a, b) = (clamp(starts[i]), clamp(ends[i]));
            if a >= b {
                return unsupported("an empty slice");
            }
            ranges[axis as usize - 1] = Some((a as usize, b as usize));
        }
        let mut out = shape;
        let mut args = vec![];
        for (k, name) in ["channels", "rows", "cols"].iter().enumerate() {
            if let Some((a, b)) = ranges[k] {
                if (a, b) != (0, shape[k]) {
                    out[k] = b - a;
                    args.push(format!("{name}: {a}..{b}"));
                }
            }
        }
        if args.is_empty() {
            return Ok(vec![x]);
        }
        self.map_codes(n, x, out, |e| format!("slice({e}, {})", args.join(", ")))
    }

    fn map_shape(&self, x: &Val) -> Res<[usize; 3]> {
        match x {
            Val::Poisoned => Err(Fail::Poisoned),
            _ => x
                .shape()
                .ok_or_else(|| Fail::Unsupported("an input that is not a map".into())),
        }
    }

    // ---- MaxPool indices, MaxUnpool --------------------------------------------

    /// `MaxPool` with its `Indices` output: `maxpool(..., indices: true)`.
    /// ONNX counts indices across the batch and the channels; they only
    /// matter to the `MaxUnpool` that reads them, which undoes the same
    /// offsets, so per-plane indices are the same meaning.
    pub fn maxpool_indices(
        &mut self,
        n: &Node,
        x: Val,
        args: String,
        (kernel, stride, pads): ((usize, usize), (usize, usize), [usize; 4]),
        shape: [usize; 3],
    ) -> Res<Vec<Val>> {
        if attr_i(n, "storage_order", 0) != 0 {
            return unsupported("storage_order = 1");
        }
        let input = self.map_shape(&x)?;
        let (c, affine) = match x {
            Val::Codes(c) => (c, None),
            Val::Affine { codes, zp, scale } => (codes, Some((zp, scale))),
            _ => return unsupported("indices of a value that is not codes"),
        };
        let v = self.script.fresh(&n.outputs[0]);
        let idx = self.script.fresh(&n.outputs[1]);
        self.script.let_(
            &format!("({v}, {idx})"),
            &format!("maxpool({}, {args}, indices: true)", c.name),
            &format!("{} {}", n.op_type, n.name),
        );
        let codes = Codes {
            name: v,
            shape,
            ..c
        };
        let values = match affine {
            Some((zp, scale)) => Val::Affine { codes, zp, scale },
            None => Val::Codes(codes),
        };
        Ok(vec![
            values,
            Val::Indices(Indices {
                name: idx,
                args,
                kernel,
                stride,
                pads,
                input,
                shape,
            }),
        ])
    }

    /// `MaxUnpool(x, indices, output_shape)` of a `MaxPool` of this graph
    /// with the same geometry, back to the pooled input's size.
    pub fn maxunpool(&mut self, n: &Node) -> Res<Vec<Val>> {
        only_attrs(n, &["kernel_shape", "strides", "pads"])?;
        let idx = match self.need(n, 1, "indices")? {
            Val::Indices(i) => i,
            Val::Poisoned => return Err(Fail::Poisoned),
            _ => return unsupported("indices that no MaxPool of the model computes"),
        };
        let k = pair(attr_ints(n, "kernel_shape"), 1)?;
        let s = pair(attr_ints(n, "strides"), 1)?;
        let pads = four_pads(attr_ints(n, "pads"))?;
        if (k, s, pads) != (idx.kernel, idx.stride, idx.pads) {
            return unsupported("a kernel, stride or pads other than its MaxPool's");
        }
        let x = self.need(n, 0, "input")?;
        if self.map_shape(&x)? != idx.shape {
            return unsupported("an input of another shape than its indices");
        }
        let [c, h, w] = idx.input;
        let default_h = (idx.shape[1] - 1) * s.0 + k.0;
        let default_w = (idx.shape[2] - 1) * s.1 + k.1;
        let default_h = default_h.checked_sub(pads[0] + pads[1]);
        let default_w = default_w.checked_sub(pads[2] + pads[3]);
        let wanted = match self.arg(n, 2)? {
            None => None,
            Some(Val::Const(k)) => Some(
                k.values
                    .iter()
                    .map(|&v| super::lower::integer(v))
                    .collect::<Vec<_>>(),
            ),
            Some(_) => return unsupported("an output_shape that is not a constant"),
        };
        let fits = (default_h, default_w) == (Some(h), Some(w))
            && wanted.as_ref().is_none_or(|v| {
                v.len() == 4 && v[1..] == [Some(c as i64), Some(h as i64), Some(w as i64)]
            });
        if !fits {
            return unsupported(format!(
                "an output shape other than its MaxPool's input [{c}, {h}, {w}]"
            ));
        }
        let f = |e: &str| format!("maxunpool({e}, {}, {})", idx.name, idx.args);
        match &x {
            // Zero where nothing lands: the code of 0 is `zp`, so the codes
            // unpool directly only when it is 0.
            Val::Codes(_) => self.map_codes(n, x, idx.input, f),
            Val::Affine { zp: 0, .. } => self.map_codes(n, x, idx.input, f),
            Val::Affine { codes, zp, scale } => {
                let (centred, s, bound) = self.affine_parts(codes, *zp, *scale)?;
                let expr = format!("{} * {s}", f(&centred));
                Ok(vec![self.let_real(n, expr, idx.input, bound)])
            }
            other => {
                let (e, _, bound, div) = self.real_div(other)?;
                Ok(vec![self.let_real_div(n, f(&e), idx.input, bound, div)])
            }
        }
    }
}

/// `v / s` when it is an integer.
fn quotient(v: Dyadic, s: Dyadic) -> Option<i64> {
    if v.mant % s.mant != 0 {
        return None;
    }
    super::lower::integer(Dyadic::new(v.mant / s.mant, v.exp - s.exp))
}
