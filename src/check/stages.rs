//! Calls: built-in stages (their arguments, geometry and ranges) and blocks
//! (inlined with their own scope).

use super::conv_range::{conv_ranges, Axis, Kernel};
use super::error::{CheckError, CheckWarning, UnpoolMismatch};
use super::interval::{self, Overflowed};
use super::scope::{suggest, Scope, Value};
use super::{Checker, MAX_ELEMENTS};
use crate::ast::Call;
use crate::ir::{
    ConvGeom, Elementwise, Interval, NodeId, Op, Pads, Pair, PoolGeom, Resample, Rounding, Shape,
};
use crate::span::Span;

/// Every built-in stage and function, with its parameters in positional order.
/// `true` marks a required parameter.
const STAGES: &[(&str, &[(&str, bool)])] = &[
    ("conv", &[("x", true), ("w", true), ("stride", false), ("pad", false), ("dilation", false), ("groups", false)]),
    ("dwconv", &[("x", true), ("w", true), ("stride", false), ("pad", false), ("dilation", false)]),
    ("deconv", &[("x", true), ("w", true), ("stride", false), ("pad", false), ("output_pad", false), ("dilation", false), ("groups", false)]),
    ("dwdeconv", &[("x", true), ("w", true), ("stride", false), ("pad", false), ("output_pad", false), ("dilation", false)]),
    ("upsample", &[("x", true), ("factor", true), ("mode", false)]),
    ("maxpool", &[("x", true), ("kernel", true), ("stride", false), ("pad", false), ("indices", false)]),
    ("maxunpool", &[("x", true), ("indices", true), ("kernel", true), ("stride", false), ("pad", false)]),
    ("relu", &[("x", true)]),
    ("clip", &[("x", true), ("lo", true), ("hi", true)]),
    ("max", &[("a", true), ("b", true)]),
    ("min", &[("a", true), ("b", true)]),
    ("floor", &[("x", true)]),
    ("round", &[("x", true)]),
    ("trunc", &[("x", true)]),
];

/// The largest stride, dilation, kernel, factor or pad accepted.
const MAX_GEOMETRY: i128 = 1 << 16;

pub fn is_builtin(name: &str) -> bool {
    name == "concat" || STAGES.iter().any(|(n, _)| *n == name)
}

pub fn builtin_names() -> impl Iterator<Item = &'static str> {
    STAGES.iter().map(|(n, _)| *n).chain(std::iter::once("concat"))
}

/// An evaluated argument.
#[derive(Clone)]
struct ArgVal {
    value: Value,
    span: Span,
}

/// Arguments bound to a signature's parameters, by position or by name.
struct Bound {
    args: Vec<Option<ArgVal>>,
    call_span: Span,
}

impl Bound {
    fn get(&self, i: usize) -> Option<ArgVal> {
        self.args.get(i).cloned().flatten()
    }
}

impl Checker<'_> {
    pub(super) fn call(&mut self, call: &Call, piped: Option<(Value, Span)>) -> Value {
        let name = call.func.node.as_str();
        let mut args: Vec<(Option<&crate::ast::Ident>, ArgVal)> = vec![];
        if let Some((value, span)) = piped {
            args.push((None, ArgVal { value, span }));
        }
        for a in &call.args {
            let value = self.eval(&a.value);
            args.push((a.name.as_ref(), ArgVal { value, span: a.value.span }));
        }
        if name == "concat" {
            return self.concat(args.into_iter().map(|(_, a)| a).collect(), call.span);
        }
        if let Some((_, sig)) = STAGES.iter().find(|(n, _)| *n == name) {
            let Some(bound) = self.bind(name, sig, args, call.span) else {
                return Value::Poison;
            };
            return self.stage(name, bound);
        }
        if self.blocks.contains_key(name) {
            return self.inline_block(call, args);
        }
        let candidates: Vec<String> = builtin_names()
            .map(str::to_string)
            .chain(self.blocks.keys().cloned())
            .collect();
        let suggestion = suggest(name, candidates.iter().map(|s| s.as_str()));
        self.error(CheckError::UnknownFunction {
            span: call.func.span,
            name: name.to_string(),
            suggestion,
        })
    }

    fn bind(
        &mut self,
        func: &str,
        sig: &[(&'static str, bool)],
        args: Vec<(Option<&crate::ast::Ident>, ArgVal)>,
        call_span: Span,
    ) -> Option<Bound> {
        let mut slots: Vec<Option<ArgVal>> = vec![None; sig.len()];
        let mut ok = true;
        let mut position = 0;
        for (name, arg) in args {
            let index = match name {
                None => {
                    let i = position;
                    position += 1;
                    if i >= sig.len() {
                        self.error(CheckError::TooManyArguments {
                            span: arg.span,
                            func: func.to_string(),
                            max: sig.len(),
                        });
                        ok = false;
                        continue;
                    }
                    i
                }
                Some(n) => match sig.iter().position(|(p, _)| *p == n.node) {
                    Some(i) => i,
                    None => {
                        self.error(CheckError::UnknownArgument {
                            span: n.span,
                            func: func.to_string(),
                            name: n.node.clone(),
                            allowed: sig.iter().map(|(p, _)| *p).collect(),
                        });
                        ok = false;
                        continue;
                    }
                },
            };
            if slots[index].is_some() {
                self.error(CheckError::DuplicateArgument {
                    span: arg.span,
                    name: sig[index].0.to_string(),
                });
                ok = false;
            }
            if arg.value == Value::Poison {
                ok = false;
            }
            slots[index] = Some(arg);
        }
        for (i, (p, required)) in sig.iter().enumerate() {
            if *required && slots[i].is_none() {
                self.error(CheckError::MissingArgument {
                    span: call_span,
                    func: func.to_string(),
                    name: p.to_string(),
                });
                ok = false;
            }
        }
        ok.then_some(Bound {
            args: slots,
            call_span,
        })
    }

    fn stage(&mut self, name: &str, b: Bound) -> Value {
        let span = b.call_span;
        let first = b.get(0).map(|a| (a.value, a.span));
        match name {
            "conv" | "dwconv" => self.conv(&b, name == "dwconv", false),
            "deconv" | "dwdeconv" => self.conv(&b, name == "dwdeconv", true),
            "upsample" => self.upsample(&b),
            "maxpool" => self.maxpool(&b),
            "maxunpool" => self.maxunpool(&b),
            "relu" => match first {
                Some((v, s)) => self.unary(v, span, s, "relu", Op::Relu, interval::relu),
                None => Value::Poison,
            },
            "floor" | "round" | "trunc" => {
                let mode = match name {
                    "floor" => Rounding::Floor,
                    "round" => Rounding::Round,
                    _ => Rounding::Trunc,
                };
                match first {
                    Some((v, s)) => self.rounding(v, span, s, mode),
                    None => Value::Poison,
                }
            }
            "max" | "min" => {
                let (Some(a), Some(c)) = (b.get(0), b.get(1)) else {
                    return Value::Poison;
                };
                let kind = if name == "max" { Elementwise::Max } else { Elementwise::Min };
                self.elementwise(kind, a.value, a.span, c.value, c.span, span, name)
            }
            "clip" => {
                let (Some(x), Some(lo), Some(hi)) = (b.get(0), b.get(1), b.get(2)) else {
                    return Value::Poison;
                };
                let low = self.elementwise(Elementwise::Max, x.value, x.span, lo.value, lo.span, span, "clip lo");
                self.elementwise(Elementwise::Min, low, x.span, hi.value, hi.span, span, "clip hi")
            }
            _ => Value::Poison,
        }
    }

    // ---- argument helpers ----

    fn int_arg(&mut self, a: &ArgVal, what: &'static str, min: i128) -> Option<usize> {
        match a.value {
            Value::Int(v) if v < min => {
                self.error(if v == 0 && min > 0 {
                    CheckError::ZeroParameter { span: a.span, what }
                } else {
                    CheckError::ParameterTooLarge { span: a.span, what, value: v }
                });
                None
            }
            Value::Int(v) if v > MAX_GEOMETRY => {
                self.error(CheckError::ParameterTooLarge { span: a.span, what, value: v });
                None
            }
            Value::Int(v) => Some(v as usize),
            Value::Poison => None,
            _ => {
                self.error(CheckError::NotAnInteger {
                    span: a.span,
                    what: what.to_string(),
                });
                None
            }
        }
    }

    /// One number or an `(h, w)` pair.
    fn pair_arg(&mut self, a: Option<ArgVal>, what: &'static str, default: usize, min: i128) -> Option<Pair> {
        let Some(a) = a else {
            return Some(Pair { h: default, w: default });
        };
        match &a.value {
            Value::Tuple(items) if items.len() == 2 => {
                let h = self.int_arg(&ArgVal { value: items[0].clone(), span: a.span }, what, min)?;
                let w = self.int_arg(&ArgVal { value: items[1].clone(), span: a.span }, what, min)?;
                Some(Pair { h, w })
            }
            Value::Tuple(_) => {
                self.error(CheckError::BadPair { span: a.span, what, allowed: "one number or (h, w)" });
                None
            }
            _ => {
                let v = self.int_arg(&a, what, min)?;
                Some(Pair { h: v, w: v })
            }
        }
    }

    /// One number, `(h, w)`, or `(top, bottom, left, right)`.
    fn pads_arg(&mut self, a: Option<ArgVal>) -> Option<Pads> {
        let Some(a) = a else {
            return Some(Pads::default());
        };
        let items = match &a.value {
            Value::Tuple(items) => items.clone(),
            v => vec![v.clone()],
        };
        let mut vals = vec![];
        for item in items {
            vals.push(self.int_arg(&ArgVal { value: item, span: a.span }, "pad", 0)?);
        }
        Some(match vals.as_slice() {
            [p] => Pads { top: *p, bottom: *p, left: *p, right: *p },
            [h, w] => Pads { top: *h, bottom: *h, left: *w, right: *w },
            [t, b, l, r] => Pads { top: *t, bottom: *b, left: *l, right: *r },
            _ => {
                self.error(CheckError::BadPair {
                    span: a.span,
                    what: "pad",
                    allowed: "one number, (h, w) or (top, bottom, left, right)",
                });
                return None;
            }
        })
    }

    fn word_arg(&mut self, a: Option<ArgVal>, allowed: &[&'static str], default: &'static str) -> Option<String> {
        let Some(a) = a else {
            return Some(default.to_string());
        };
        match &a.value {
            Value::Word(w) if allowed.contains(&w.as_str()) => Some(w.clone()),
            Value::Poison => None,
            other => {
                let found = match other {
                    Value::Word(w) => w.clone(),
                    Value::Int(v) => v.to_string(),
                    _ => "this value".into(),
                };
                self.error(CheckError::BadMode { span: a.span, found, allowed: allowed.to_vec() });
                None
            }
        }
    }

    /// A `[C, H, W]` map argument.
    fn map_arg(&mut self, a: Option<ArgVal>, what: &'static str) -> Option<(NodeId, usize, usize, usize)> {
        let a = a?;
        let id = self.tensor(a.value, a.span)?;
        match self.nodes[id].shape {
            Shape::Map { c, h, w } => Some((id, c, h, w)),
            ref s => {
                let found = s.dims();
                self.error(CheckError::WrongRank { span: a.span, what, expected: "a map [C, H, W]", found });
                None
            }
        }
    }

    fn check_size(&mut self, span: Span, dims: &[usize]) -> bool {
        let n = dims.iter().try_fold(1u128, |acc, &d| acc.checked_mul(d as u128)).unwrap_or(u128::MAX);
        if n > MAX_ELEMENTS {
            self.error(CheckError::TensorTooLarge { span, elements: n });
            return false;
        }
        true
    }

    // ---- stages ----

    fn conv(&mut self, b: &Bound, depthwise: bool, transposed: bool) -> Value {
        let span = b.call_span;
        let Some((x, cin, h, w)) = self.map_arg(b.get(0), "input") else {
            return Value::Poison;
        };
        let Some(warg) = b.get(1) else {
            return Value::Poison;
        };
        let Some(wid) = self.tensor(warg.value.clone(), warg.span) else {
            return Value::Poison;
        };
        let (d0, d1, kh, kw) = match (&self.nodes[wid].shape, &self.nodes[wid].op) {
            (Shape::Weights { o, i, kh, kw }, Op::Constant { .. }) => (*o, *i, *kh, *kw),
            (s, _) => {
                let found = s.dims();
                return self.error(CheckError::WrongRank {
                    span: warg.span,
                    what: "weights",
                    expected: "constant weights [O, I, KH, KW] (a param)",
                    found,
                });
            }
        };
        let stride = self.pair_arg(b.get(2), "stride", 1, 1);
        let pad = self.pads_arg(b.get(3));
        let (output_pad, dilation, groups_arg) = if transposed {
            (self.pair_arg(b.get(4), "output_pad", 0, 0), self.pair_arg(b.get(5), "dilation", 1, 1), b.get(6))
        } else {
            (Some(Pair { h: 0, w: 0 }), self.pair_arg(b.get(4), "dilation", 1, 1), b.get(5))
        };
        let groups = if depthwise {
            Some(cin)
        } else {
            match groups_arg {
                Some(g) => self.int_arg(&g, "groups", 1),
                None => Some(1),
            }
        };
        let (Some(stride), Some(pad), Some(output_pad), Some(dilation), Some(groups)) =
            (stride, pad, output_pad, dilation, groups)
        else {
            return Value::Poison;
        };
        // Channels: conv weights are [O, I/g, ..], deconv weights [I, O/g, ..].
        let cout = if transposed { d1 * groups } else { d0 };
        if cin % groups != 0 || cout % groups != 0 {
            return self.error(CheckError::GroupsDoNotDivide { span, groups, channels_in: cin, channels_out: cout });
        }
        let expected = if transposed { vec![cin, d1, kh, kw] } else { vec![cout, cin / groups, kh, kw] };
        if expected != vec![d0, d1, kh, kw] {
            return self.error(CheckError::WeightShape { span: warg.span, expected, found: vec![d0, d1, kh, kw] });
        }
        let rows = self.axis(span, "height", h, kh, stride.h, pad.top, pad.bottom, dilation.h, output_pad.h, transposed);
        let cols = self.axis(span, "width", w, kw, stride.w, pad.left, pad.right, dilation.w, output_pad.w, transposed);
        let (Some(rows), Some(cols)) = (rows, cols) else {
            return Value::Poison;
        };
        if !self.check_size(span, &[cout, rows.out_len, cols.out_len]) {
            return Value::Poison;
        }
        let (xn, wn) = (&self.nodes[x], &self.nodes[wid]);
        let Op::Constant { data } = &wn.op else {
            return Value::Poison;
        };
        let kernel = Kernel { data, dims: [d0, d1, kh, kw], groups, transposed, in_channels: cin, out_channels: cout };
        let frac = xn.frac + wn.frac;
        let Ok((ranges, macs)) = conv_ranges(&xn.ranges, &kernel, &rows, &cols) else {
            return self.too_wide(span);
        };
        let geom = ConvGeom { stride, pad, dilation, groups, output_pad };
        let shape = Shape::Map { c: cout, h: rows.out_len, w: cols.out_len };
        let (op, label) = match (transposed, depthwise) {
            (false, false) => (Op::Conv { x, w: wid, geom }, "conv"),
            (false, true) => (Op::Conv { x, w: wid, geom }, "dwconv"),
            (true, false) => (Op::Deconv { x, w: wid, geom }, "deconv"),
            (true, true) => (Op::Deconv { x, w: wid, geom }, "dwdeconv"),
        };
        let id = self.push(op, shape, frac, ranges, span, label.into());
        self.nodes[id].macs = macs;
        Value::Tensor(id)
    }

    /// Geometry of one axis; reports impossible sizes.
    #[allow(clippy::too_many_arguments)]
    fn axis(
        &mut self,
        span: Span,
        name: &'static str,
        len: usize,
        kernel: usize,
        stride: usize,
        before: usize,
        after: usize,
        dilation: usize,
        output_pad: usize,
        transposed: bool,
    ) -> Option<Axis> {
        let effective = dilation * (kernel - 1) + 1;
        let out_len = if transposed {
            if output_pad >= stride && output_pad >= dilation {
                self.error(CheckError::OutputPadTooLarge { span, output_pad, stride, dilation });
                return None;
            }
            let size = (len as i128 - 1) * stride as i128 - before as i128 - after as i128
                + effective as i128
                + output_pad as i128;
            if size < 1 {
                self.error(CheckError::EmptyOutput { span, axis: name, size });
                return None;
            }
            size as usize
        } else {
            let padded = len + before + after;
            if effective > padded {
                self.error(CheckError::KernelTooLarge { span, axis: name, kernel: effective, padded });
                return None;
            }
            let unread = (padded - effective) % stride;
            if unread > 0 {
                self.warnings.push(CheckWarning::RowsNeverRead { span, axis: name, count: unread });
            }
            (padded - effective) / stride + 1
        };
        Some(Axis { in_len: len, out_len, kernel, stride, pad_before: before, dilation })
    }

    fn upsample(&mut self, b: &Bound) -> Value {
        let span = b.call_span;
        let Some((x, c, h, w)) = self.map_arg(b.get(0), "input") else {
            return Value::Poison;
        };
        let factor = self.pair_arg(b.get(1), "factor", 1, 1);
        let mode = self.word_arg(b.get(2), &["nearest", "bilinear"], "nearest");
        let (Some(factor), Some(mode)) = (factor, mode) else {
            return Value::Poison;
        };
        if !self.check_size(span, &[c, h * factor.h, w * factor.w]) {
            return Value::Poison;
        }
        let node = &self.nodes[x];
        let (frac, ranges, mode) = if mode == "bilinear" {
            let mut extra = 0;
            for f in [factor.h, factor.w] {
                if !f.is_power_of_two() {
                    let arg_span = b.get(1).map_or(span, |a| a.span);
                    return self.error(CheckError::BilinearFactor { span: arg_span, factor: f });
                }
                if f > 1 {
                    extra += f.trailing_zeros() + 1;
                }
            }
            let ranges: Result<Vec<Interval>, Overflowed> =
                node.ranges.iter().map(|r| interval::align(*r, 0, extra)).collect();
            let Ok(ranges) = ranges else {
                return self.too_wide(span);
            };
            (node.frac + extra, ranges, Resample::Bilinear)
        } else {
            (node.frac, node.ranges.clone(), Resample::Nearest)
        };
        let label = match mode {
            Resample::Nearest => "upsample nearest",
            Resample::Bilinear => "upsample bilinear",
        };
        let shape = Shape::Map { c, h: h * factor.h, w: w * factor.w };
        Value::Tensor(self.push(Op::Upsample { x, factor, mode }, shape, frac, ranges, span, label.into()))
    }

    fn pool_geom(&mut self, b: &Bound, span: Span, h: usize, w: usize, kernel_at: usize) -> Option<(PoolGeom, usize, usize)> {
        let kernel = self.pair_arg(b.get(kernel_at), "kernel", 1, 1)?;
        let stride = self.pair_arg(b.get(kernel_at + 1), "stride", 0, 1).map(|s| {
            if b.get(kernel_at + 1).is_none() { kernel } else { s }
        })?;
        let pad = self.pads_arg(b.get(kernel_at + 2))?;
        for (p, k) in [(pad.top, kernel.h), (pad.bottom, kernel.h), (pad.left, kernel.w), (pad.right, kernel.w)] {
            if p >= k {
                self.error(CheckError::PoolPadTooLarge { span, pad: p, kernel: k });
                return None;
            }
        }
        Some((PoolGeom { kernel, stride, pad }, h, w))
    }

    fn maxpool(&mut self, b: &Bound) -> Value {
        let span = b.call_span;
        let Some((x, c, h, w)) = self.map_arg(b.get(0), "input") else {
            return Value::Poison;
        };
        let Some((geom, _, _)) = self.pool_geom(b, span, h, w, 1) else {
            return Value::Poison;
        };
        let Some(indices) = self.word_arg(b.get(4), &["true", "false"], "false") else {
            return Value::Poison;
        };
        let rows = self.axis(span, "height", h, geom.kernel.h, geom.stride.h, geom.pad.top, geom.pad.bottom, 1, 0, false);
        let cols = self.axis(span, "width", w, geom.kernel.w, geom.stride.w, geom.pad.left, geom.pad.right, 1, 0, false);
        let (Some(rows), Some(cols)) = (rows, cols) else {
            return Value::Poison;
        };
        let shape = Shape::Map { c, h: rows.out_len, w: cols.out_len };
        let node = &self.nodes[x];
        let (frac, ranges) = (node.frac, node.ranges.clone());
        let values = self.push(Op::MaxPool { x, geom }, shape.clone(), frac, ranges, span, "maxpool".into());
        if indices == "false" {
            return Value::Tensor(values);
        }
        let plane = (h * w) as i128;
        let idx = self.push(
            Op::MaxPoolIndices { x, geom },
            shape,
            0,
            vec![Interval::new(0, plane - 1); c],
            span,
            "maxpool indices".into(),
        );
        Value::Tuple(vec![Value::Tensor(values), Value::Tensor(idx)])
    }

    fn maxunpool(&mut self, b: &Bound) -> Value {
        let span = b.call_span;
        let Some((x, c, h, w)) = self.map_arg(b.get(0), "input") else {
            return Value::Poison;
        };
        let Some(iarg) = b.get(1) else {
            return Value::Poison;
        };
        let Some(idx) = self.tensor(iarg.value.clone(), iarg.span) else {
            return Value::Poison;
        };
        let Some((geom, _, _)) = self.pool_geom(b, span, h, w, 2) else {
            return Value::Poison;
        };
        // PyTorch max_unpool2d: (H - 1) * stride - pad_top - pad_bottom + kernel.
        let out_h = ((h as i128 - 1) * geom.stride.h as i128 - (geom.pad.top + geom.pad.bottom) as i128 + geom.kernel.h as i128).max(0) as usize;
        let out_w = ((w as i128 - 1) * geom.stride.w as i128 - (geom.pad.left + geom.pad.right) as i128 + geom.kernel.w as i128).max(0) as usize;
        let source = match &self.nodes[idx].op {
            Op::MaxPoolIndices { x: pooled, .. } => Some(*pooled),
            _ => None,
        };
        let mismatch = match source {
            None => Some(UnpoolMismatch::NotIndices),
            Some(_) if self.nodes[idx].shape != self.nodes[x].shape => Some(UnpoolMismatch::Shape {
                values: self.nodes[x].shape.dims(),
                indices: self.nodes[idx].shape.dims(),
            }),
            Some(src) => match self.nodes[src].shape {
                Shape::Map { h: ih, w: iw, .. } if (ih, iw) != (out_h, out_w) => {
                    Some(UnpoolMismatch::Plane { ih, iw, oh: out_h, ow: out_w })
                }
                _ => None,
            },
        };
        if let Some(reason) = mismatch {
            return self.error(CheckError::UnpoolIndices { span: iarg.span, reason });
        }
        if !self.check_size(span, &[c, out_h, out_w]) {
            return Value::Poison;
        }
        let node = &self.nodes[x];
        let ranges = node.ranges.iter().map(|r| r.hull(Interval::point(0))).collect();
        let shape = Shape::Map { c, h: out_h, w: out_w };
        let out = Pair { h: out_h, w: out_w };
        Value::Tensor(self.push(Op::MaxUnpool { x, idx, out }, shape, node.frac, ranges, span, "maxunpool".into()))
    }

    fn concat(&mut self, args: Vec<ArgVal>, span: Span) -> Value {
        let mut ids = vec![];
        for a in args {
            match self.map_arg(Some(a), "concat input") {
                Some((id, ..)) => ids.push(id),
                None => return Value::Poison,
            }
        }
        let Some(&first) = ids.first() else {
            return self.error(CheckError::MissingArgument { span, func: "concat".into(), name: "x".into() });
        };
        let (h, w) = match self.nodes[first].shape {
            Shape::Map { h, w, .. } => (h, w),
            _ => return Value::Poison,
        };
        let frac = ids.iter().map(|&i| self.nodes[i].frac).max().unwrap_or(0);
        let mut ranges = vec![];
        let mut channels = 0;
        for &i in &ids {
            let n = &self.nodes[i];
            match n.shape {
                Shape::Map { c, h: hh, w: ww } if (hh, ww) == (h, w) => channels += c,
                ref other => {
                    let (first_dims, other_dims) = (self.nodes[first].shape.dims(), other.dims());
                    return self.error(CheckError::ConcatMismatch { span, first: first_dims, other: other_dims });
                }
            }
            for r in &n.ranges {
                match interval::align(*r, n.frac, frac) {
                    Ok(r) => ranges.push(r),
                    Err(Overflowed) => return self.too_wide(span),
                }
            }
        }
        let shape = Shape::Map { c: channels, h, w };
        Value::Tensor(self.push(Op::Concat(ids), shape, frac, ranges, span, "concat".into()))
    }

    /// Inlines a block: its parameters bound in a fresh scope, its statements
    /// checked there, its result returned.
    fn inline_block(&mut self, call: &Call, args: Vec<(Option<&crate::ast::Ident>, ArgVal)>) -> Value {
        let name = call.func.node.clone();
        if self.block_stack.contains(&name) {
            let mut chain = self.block_stack.clone();
            chain.push(name.clone());
            return self.error(CheckError::RecursiveBlock { span: call.span, name, chain });
        }
        let Some(block) = self.blocks.get(&name).cloned() else {
            return Value::Poison;
        };
        let sig: Vec<(&str, bool)> = block.params.iter().map(|p| (p.name.node.as_str(), p.default.is_none())).collect();
        // Parameter names are not 'static; bind by hand with the same rules as stages.
        let mut slots: Vec<Option<ArgVal>> = vec![None; sig.len()];
        let mut position = 0;
        let mut ok = true;
        for (arg_name, arg) in args {
            let index = match arg_name {
                None => {
                    position += 1;
                    if position > sig.len() {
                        self.error(CheckError::TooManyArguments { span: arg.span, func: name.clone(), max: sig.len() });
                        ok = false;
                        continue;
                    }
                    position - 1
                }
                Some(n) => match sig.iter().position(|(p, _)| *p == n.node) {
                    Some(i) => i,
                    None => {
                        let allowed = vec![];
                        self.error(CheckError::UnknownArgument { span: n.span, func: name.clone(), name: n.node.clone(), allowed });
                        ok = false;
                        continue;
                    }
                },
            };
            if slots[index].is_some() {
                self.error(CheckError::DuplicateArgument { span: arg.span, name: sig[index].0.to_string() });
                ok = false;
            }
            slots[index] = Some(arg);
        }
        for (i, (p, required)) in sig.iter().enumerate() {
            if *required && slots[i].is_none() {
                self.error(CheckError::MissingArgument { span: call.span, func: name.clone(), name: p.to_string() });
                ok = false;
            }
        }
        if !ok {
            return Value::Poison;
        }
        let outer_owner = self.owner.clone();
        self.block_stack.push(name.clone());
        self.scopes.push(Scope::default());
        for (param, slot) in block.params.iter().zip(slots) {
            let value = match slot {
                Some(a) => a.value,
                None => match &param.default {
                    Some(default) => self.eval(default),
                    None => Value::Poison,
                },
            };
            self.scope().bind(&param.name.node, value, param.name.span, false);
        }
        for stmt in &block.body {
            self.stmt(stmt, true);
            self.owner = outer_owner.clone();
        }
        let result = self.eval(&block.result);
        let unused = if self.errors.is_empty() { self.scope().unused() } else { vec![] };
        for (n, span) in unused {
            self.warnings.push(CheckWarning::Unused { span, name: n });
        }
        self.scopes.pop();
        self.block_stack.pop();
        self.owner = outer_owner;
        result
    }
}
