//! Geometry of the stages: output sizes, impossible shapes, and the nodes
//! with their exact ranges (convolution ranges are in `conv_range`).

use super::calls::{ArgVal, Bound};
use super::conv_range::{conv_ranges, Axis, Kernel};
use super::error::{CheckError, CheckWarning, UnpoolMismatch};
use super::interval::{self, Overflowed};
use super::scope::Value;
use super::Checker;
use crate::ir::{ConvGeom, Interval, Op, Pair, PoolGeom, Resample, Shape};
use crate::span::Span;

impl Checker<'_> {
    pub(super) fn conv(&mut self, b: &Bound, depthwise: bool, transposed: bool) -> Value {
        let span = b.call_span;
        let Some((x, cin, h, w)) = self.map_arg(b.arg("x"), "input") else {
            return Value::Poison;
        };
        let Some(warg) = b.arg("w") else {
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
        let stride = self.pair_arg(b, "stride", 1);
        let pad = self.pads_arg(b);
        let output_pad = if transposed {
            self.pair_arg(b, "output_pad", 0)
        } else {
            Some(Pair { h: 0, w: 0 })
        };
        let dilation = self.pair_arg(b, "dilation", 1);
        let groups = if depthwise {
            Some(cin)
        } else {
            match b.arg("groups") {
                Some(g) => self.int_arg(&g, "groups", 1),
                None => b.number_default("groups"),
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
            return self.error(CheckError::GroupsDoNotDivide {
                span,
                groups,
                channels_in: cin,
                channels_out: cout,
            });
        }
        let expected = if transposed {
            vec![cin, d1, kh, kw]
        } else {
            vec![cout, cin / groups, kh, kw]
        };
        if expected != vec![d0, d1, kh, kw] {
            return self.error(CheckError::WeightShape {
                span: warg.span,
                expected,
                found: vec![d0, d1, kh, kw],
            });
        }
        let rows = self.axis(
            span,
            "height",
            h,
            kh,
            stride.h,
            pad.top,
            pad.bottom,
            dilation.h,
            output_pad.h,
            transposed,
        );
        let cols = self.axis(
            span,
            "width",
            w,
            kw,
            stride.w,
            pad.left,
            pad.right,
            dilation.w,
            output_pad.w,
            transposed,
        );
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
        let kernel = Kernel {
            data,
            dims: [d0, d1, kh, kw],
            groups,
            transposed,
            in_channels: cin,
            out_channels: cout,
        };
        let frac = xn.frac + wn.frac;
        let Ok((ranges, macs)) = conv_ranges(&xn.ranges, &kernel, &rows, &cols) else {
            return self.too_wide(span);
        };
        let geom = ConvGeom {
            stride,
            pad,
            dilation,
            groups,
            output_pad,
        };
        let shape = Shape::Map {
            c: cout,
            h: rows.out_len,
            w: cols.out_len,
        };
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
                self.error(CheckError::OutputPadTooLarge {
                    span,
                    output_pad,
                    stride,
                    dilation,
                });
                return None;
            }
            let size = (len as i128 - 1) * stride as i128 - before as i128 - after as i128
                + effective as i128
                + output_pad as i128;
            if size < 1 {
                self.error(CheckError::EmptyOutput {
                    span,
                    axis: name,
                    size,
                });
                return None;
            }
            size as usize
        } else {
            let padded = len + before + after;
            if effective > padded {
                self.error(CheckError::KernelTooLarge {
                    span,
                    axis: name,
                    kernel: effective,
                    padded,
                });
                return None;
            }
            // The last positions past the last window: a warning only when
            // some of them are real pixels, not the zero padding after them
            // (a 3x3, stride 2, pad 1 conv of an even map leaves only padding).
            let unread = ((padded - effective) % stride).saturating_sub(after);
            if unread > 0 {
                self.warnings.push(CheckWarning::RowsNeverRead {
                    span,
                    axis: name,
                    count: unread,
                });
            }
            (padded - effective) / stride + 1
        };
        Some(Axis {
            in_len: len,
            out_len,
            kernel,
            stride,
            pad_before: before,
            dilation,
        })
    }

    pub(super) fn upsample(&mut self, b: &Bound) -> Value {
        let span = b.call_span;
        let Some((x, c, h, w)) = self.map_arg(b.arg("x"), "input") else {
            return Value::Poison;
        };
        let factor = self.pair_arg(b, "factor", 1);
        let mode = self.word_arg(b, "mode");
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
                    let arg_span = b.arg("factor").map_or(span, |a| a.span);
                    return self.error(CheckError::BilinearFactor {
                        span: arg_span,
                        factor: f,
                    });
                }
                if f > 1 {
                    extra += f.trailing_zeros() + 1;
                }
            }
            let ranges: Result<Vec<Interval>, Overflowed> = node
                .ranges
                .iter()
                .map(|r| interval::align(*r, 0, extra))
                .collect();
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
        let shape = Shape::Map {
            c,
            h: h * factor.h,
            w: w * factor.w,
        };
        Value::Tensor(self.push(
            Op::Upsample { x, factor, mode },
            shape,
            frac,
            ranges,
            span,
            label.into(),
        ))
    }

    fn pool_geom(
        &mut self,
        b: &Bound,
        span: Span,
        h: usize,
        w: usize,
    ) -> Option<(PoolGeom, usize, usize)> {
        let kernel = self.pair_arg(b, "kernel", 1)?;
        // An omitted stride is the kernel size (`IfOmitted::Derived` in the table).
        let stride = match b.arg("stride") {
            Some(_) => self.pair_arg(b, "stride", 1)?,
            None => kernel,
        };
        let pad = self.pads_arg(b)?;
        for (p, k) in [
            (pad.top, kernel.h),
            (pad.bottom, kernel.h),
            (pad.left, kernel.w),
            (pad.right, kernel.w),
        ] {
            if p >= k {
                self.error(CheckError::PoolPadTooLarge {
                    span,
                    pad: p,
                    kernel: k,
                });
                return None;
            }
        }
        Some((
            PoolGeom {
                kernel,
                stride,
                pad,
            },
            h,
            w,
        ))
    }

    pub(super) fn maxpool(&mut self, b: &Bound) -> Value {
        let span = b.call_span;
        let Some((x, c, h, w)) = self.map_arg(b.arg("x"), "input") else {
            return Value::Poison;
        };
        let Some((geom, _, _)) = self.pool_geom(b, span, h, w) else {
            return Value::Poison;
        };
        let Some(indices) = self.word_arg(b, "indices") else {
            return Value::Poison;
        };
        let rows = self.axis(
            span,
            "height",
            h,
            geom.kernel.h,
            geom.stride.h,
            geom.pad.top,
            geom.pad.bottom,
            1,
            0,
            false,
        );
        let cols = self.axis(
            span,
            "width",
            w,
            geom.kernel.w,
            geom.stride.w,
            geom.pad.left,
            geom.pad.right,
            1,
            0,
            false,
        );
        let (Some(rows), Some(cols)) = (rows, cols) else {
            return Value::Poison;
        };
        let shape = Shape::Map {
            c,
            h: rows.out_len,
            w: cols.out_len,
        };
        let node = &self.nodes[x];
        let (frac, ranges) = (node.frac, node.ranges.clone());
        let values = self.push(
            Op::MaxPool { x, geom },
            shape.clone(),
            frac,
            ranges,
            span,
            "maxpool".into(),
        );
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

    pub(super) fn maxunpool(&mut self, b: &Bound) -> Value {
        let span = b.call_span;
        let Some((x, c, h, w)) = self.map_arg(b.arg("x"), "input") else {
            return Value::Poison;
        };
        let Some(iarg) = b.arg("indices") else {
            return Value::Poison;
        };
        let Some(idx) = self.tensor(iarg.value.clone(), iarg.span) else {
            return Value::Poison;
        };
        let Some((geom, _, _)) = self.pool_geom(b, span, h, w) else {
            return Value::Poison;
        };
        // PyTorch max_unpool2d: (H - 1) * stride - pad_top - pad_bottom + kernel.
        let out_h = ((h as i128 - 1) * geom.stride.h as i128
            - (geom.pad.top + geom.pad.bottom) as i128
            + geom.kernel.h as i128)
            .max(0) as usize;
        let out_w = ((w as i128 - 1) * geom.stride.w as i128
            - (geom.pad.left + geom.pad.right) as i128
            + geom.kernel.w as i128)
            .max(0) as usize;
        let source = match &self.nodes[idx].op {
            Op::MaxPoolIndices { x: pooled, .. } => Some(*pooled),
            _ => None,
        };
        let mismatch = match source {
            None => Some(UnpoolMismatch::NotIndices),
            Some(_) if self.nodes[idx].shape != self.nodes[x].shape => {
                Some(UnpoolMismatch::Shape {
                    values: self.nodes[x].shape.dims(),
                    indices: self.nodes[idx].shape.dims(),
                })
            }
            Some(src) => match self.nodes[src].shape {
                Shape::Map { h: ih, w: iw, .. } if (ih, iw) != (out_h, out_w) => {
                    Some(UnpoolMismatch::Plane {
                        ih,
                        iw,
                        oh: out_h,
                        ow: out_w,
                    })
                }
                _ => None,
            },
        };
        if let Some(reason) = mismatch {
            return self.error(CheckError::UnpoolIndices {
                span: iarg.span,
                reason,
            });
        }
        if !self.check_size(span, &[c, out_h, out_w]) {
            return Value::Poison;
        }
        let node = &self.nodes[x];
        let ranges = node
            .ranges
            .iter()
            .map(|r| r.hull(Interval::point(0)))
            .collect();
        let shape = Shape::Map {
            c,
            h: out_h,
            w: out_w,
        };
        let out = Pair { h: out_h, w: out_w };
        Value::Tensor(self.push(
            Op::MaxUnpool { x, idx, out },
            shape,
            node.frac,
            ranges,
            span,
            "maxunpool".into(),
        ))
    }

    pub(super) fn concat(&mut self, args: Vec<ArgVal>, span: Span) -> Value {
        let mut ids = vec![];
        for a in args {
            match self.map_arg(Some(a), "concat input") {
                Some((id, ..)) => ids.push(id),
                None => return Value::Poison,
            }
        }
        // The binding gave at least the two required maps.
        let Some(&first) = ids.first() else {
            return Value::Poison;
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
                    return self.error(CheckError::ConcatMismatch {
                        span,
                        first: first_dims,
                        other: other_dims,
                    });
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
}
