//! Rearrangements (`depth_to_space`, `space_to_depth`, `flatten`, `reshape`,
//! `slice`, `pad`): shapes, and exact per-channel ranges, since every output
//! channel holds values of known input channels (and the pad value).

use super::calls::{ArgVal, Bound};
use super::error::CheckError;
use super::scope::Value;
use super::Checker;
use crate::ir::{Interval, NodeId, Op, Remap, Shape, ShuffleMode};
use crate::span::Span;

impl Checker<'_> {
    pub(super) fn depth_to_space(&mut self, b: &Bound) -> Value {
        let span = b.call_span;
        let Some((x, c, h, w)) = self.map_arg(b.arg("x"), "depth_to_space input") else {
            return Value::Poison;
        };
        let (Some(r_arg), Some(mode)) = (b.arg("r"), self.word_arg(b, "mode")) else {
            return Value::Poison;
        };
        let Some(r) = self.int_arg(&r_arg, "block size", 1) else {
            return Value::Poison;
        };
        if !c.is_multiple_of(r * r) {
            return self.error(CheckError::BlockNotDividing {
                span: r_arg.span,
                r,
                divisor: r * r,
                axis: "channels",
                size: c,
            });
        }
        let mode = if mode == "crd" {
            ShuffleMode::Crd
        } else {
            ShuffleMode::Dcr
        };
        let out_c = c / (r * r);
        if !self.check_size(span, &[out_c, h * r, w * r]) {
            return Value::Poison;
        }
        let ins = &self.nodes[x].ranges;
        let ranges = (0..out_c)
            .map(|oc| {
                let sources = (0..r * r).map(|k| match mode {
                    ShuffleMode::Dcr => k * out_c + oc,
                    ShuffleMode::Crd => oc * r * r + k,
                });
                hull(sources.map(|i| ins[i]))
            })
            .collect();
        let shape = Shape::Map {
            c: out_c,
            h: h * r,
            w: w * r,
        };
        self.remap_node(x, Remap::DepthToSpace { r, mode }, shape, ranges, span)
    }

    pub(super) fn space_to_depth(&mut self, b: &Bound) -> Value {
        let span = b.call_span;
        let Some((x, c, h, w)) = self.map_arg(b.arg("x"), "space_to_depth input") else {
            return Value::Poison;
        };
        let Some(r_arg) = b.arg("r") else {
            return Value::Poison;
        };
        let Some(r) = self.int_arg(&r_arg, "block size", 1) else {
            return Value::Poison;
        };
        for (axis, size) in [("rows", h), ("columns", w)] {
            if !size.is_multiple_of(r) {
                return self.error(CheckError::BlockNotDividing {
                    span: r_arg.span,
                    r,
                    divisor: r,
                    axis,
                    size,
                });
            }
        }
        if !self.check_size(span, &[c * r * r, h / r, w / r]) {
            return Value::Poison;
        }
        // Output channel (i r + j) C + c holds input channel c.
        let ranges = (0..c * r * r)
            .map(|oc| self.nodes[x].ranges[oc % c])
            .collect();
        let shape = Shape::Map {
            c: c * r * r,
            h: h / r,
            w: w / r,
        };
        self.remap_node(x, Remap::SpaceToDepth { r }, shape, ranges, span)
    }

    pub(super) fn flatten(&mut self, b: &Bound) -> Value {
        let Some((x, c, h, w)) = self.map_arg(b.arg("x"), "flatten input") else {
            return Value::Poison;
        };
        self.reshape_to(x, [c, h, w], [c * h * w, 1, 1], b.call_span, "flatten")
    }

    pub(super) fn reshape(&mut self, b: &Bound) -> Value {
        let Some((x, c, h, w)) = self.map_arg(b.arg("x"), "reshape input") else {
            return Value::Poison;
        };
        let Some(a) = b.arg("shape") else {
            return Value::Poison;
        };
        let Value::Tuple(items) = &a.value else {
            return self.error(CheckError::BadReshapeShape { span: a.span });
        };
        if items.len() != 3 {
            return self.error(CheckError::BadReshapeShape { span: a.span });
        }
        let mut to = [0; 3];
        for (slot, item) in to.iter_mut().zip(items.clone()) {
            let item = ArgVal {
                value: item,
                span: a.span,
            };
            let Some(v) = self.int_arg(&item, "reshape size", 1) else {
                return Value::Poison;
            };
            *slot = v;
        }
        if c * h * w != to.iter().product::<usize>() {
            return self.error(CheckError::ReshapeCount {
                span: a.span,
                from: vec![c, h, w],
                to: to.to_vec(),
            });
        }
        self.reshape_to(x, [c, h, w], to, b.call_span, "reshape")
    }

    /// `x` (`[c, h, w]`) as `to`, the same count of elements in C order.
    fn reshape_to(
        &mut self,
        x: NodeId,
        from: [usize; 3],
        to: [usize; 3],
        span: Span,
        label: &str,
    ) -> Value {
        let (in_plane, out_plane) = (from[1] * from[2], to[1] * to[2]);
        // Output channel oc holds the flat elements [oc P', (oc + 1) P'):
        // input channels from the first's to the last's.
        let ins = &self.nodes[x].ranges;
        let ranges = (0..to[0])
            .map(|oc| {
                let first = oc * out_plane / in_plane;
                let last = ((oc + 1) * out_plane - 1) / in_plane;
                hull((first..=last).map(|i| ins[i]))
            })
            .collect();
        let shape = Shape::Map {
            c: to[0],
            h: to[1],
            w: to[2],
        };
        let frac = self.nodes[x].frac;
        let op = Op::Remap {
            x,
            remap: Remap::Reshape,
        };
        Value::Tensor(self.push(op, shape, frac, ranges, span, label.into()))
    }

    pub(super) fn slice(&mut self, b: &Bound) -> Value {
        let span = b.call_span;
        let Some((x, c, h, w)) = self.map_arg(b.arg("x"), "slice input") else {
            return Value::Poison;
        };
        let mut start = [0; 3];
        let mut size = [c, h, w];
        for (axis, name) in ["channels", "rows", "cols"].into_iter().enumerate() {
            let Some(a) = b.arg(name) else { continue };
            let whole = size[axis];
            let Some((lo, hi)) = self.range_arg(&a, name, whole) else {
                return Value::Poison;
            };
            start[axis] = lo;
            size[axis] = hi - lo;
        }
        let ranges = self.nodes[x].ranges[start[0]..start[0] + size[0]].to_vec();
        let shape = Shape::Map {
            c: size[0],
            h: size[1],
            w: size[2],
        };
        self.remap_node(x, Remap::Slice { start }, shape, ranges, span)
    }

    /// A `slice` range over an axis of `size`, as `(start, end)`.
    fn range_arg(&mut self, a: &ArgVal, axis: &'static str, size: usize) -> Option<(usize, usize)> {
        let (start, end) = match a.value {
            Value::Range { start, end } => (start.unwrap_or(0), end.unwrap_or(size as i128)),
            Value::Poison => return None,
            _ => {
                self.error(CheckError::NotARange { span: a.span, axis });
                return None;
            }
        };
        if end > size as i128 {
            self.error(CheckError::SliceOutOfBounds {
                span: a.span,
                axis,
                end,
                size,
            });
            return None;
        }
        if start >= end {
            self.error(CheckError::EmptySlice {
                span: a.span,
                axis,
                start,
                end,
            });
            return None;
        }
        Some((start as usize, end as usize))
    }

    pub(super) fn pad(&mut self, b: &Bound) -> Value {
        let span = b.call_span;
        let Some((x, c, h, w)) = self.map_arg(b.arg("x"), "pad input") else {
            return Value::Poison;
        };
        let Some(pads) = self.pads_arg(b) else {
            return Value::Poison;
        };
        let value = match b.arg("value") {
            None => 0,
            Some(a) => match self.pad_value(&a, x) {
                Some(v) => v,
                None => return Value::Poison,
            },
        };
        let (oh, ow) = (h + pads.top + pads.bottom, w + pads.left + pads.right);
        if !self.check_size(span, &[c, oh, ow]) {
            return Value::Poison;
        }
        let padded = (oh, ow) != (h, w);
        let ranges = self.nodes[x]
            .ranges
            .iter()
            .map(|r| {
                if padded {
                    r.hull(Interval::point(value))
                } else {
                    *r
                }
            })
            .collect();
        let shape = Shape::Map { c, h: oh, w: ow };
        self.remap_node(x, Remap::Pad { pads, value }, shape, ranges, span)
    }

    /// The pad value as a raw value at `x`'s frac, if `x`'s type holds it.
    fn pad_value(&mut self, a: &ArgVal, x: NodeId) -> Option<i128> {
        let (raw, frac) = match a.value {
            Value::Int(v) => (v, 0),
            Value::Tensor(id) => match self.constant_scalar(id) {
                Some(v) => v,
                None => {
                    self.error(CheckError::NotAnInteger {
                        span: a.span,
                        what: "pad value (a constant)".into(),
                    });
                    return None;
                }
            },
            Value::Poison => return None,
            _ => {
                self.error(CheckError::NotAnInteger {
                    span: a.span,
                    what: "pad value".into(),
                });
                return None;
            }
        };
        let node = &self.nodes[x];
        let (ty, xfrac) = (node.ty, node.frac);
        let held = (frac <= xfrac)
            .then(|| crate::numeric::checked_shl(raw, u64::from(xfrac - frac)))
            .flatten()
            .filter(|&v| type_holds(&ty, v));
        if held.is_none() {
            let value = crate::numeric::to_decimal(raw, frac);
            self.error(CheckError::PadValue {
                span: a.span,
                value,
                ty,
            });
        }
        held
    }

    /// `(raw, frac)` of a scalar constant, or of a negated one (`-0.5`).
    fn constant_scalar(&self, id: NodeId) -> Option<(i128, u32)> {
        let node = &self.nodes[id];
        match (&node.op, &node.shape) {
            (Op::Constant { data }, Shape::Scalar) => Some((*data.first()?, node.frac)),
            (Op::Neg(inner), Shape::Scalar) => {
                let (v, f) = self.constant_scalar(*inner)?;
                Some((v.checked_neg()?, f))
            }
            _ => None,
        }
    }

    fn remap_node(
        &mut self,
        x: NodeId,
        remap: Remap,
        shape: Shape,
        ranges: Vec<Interval>,
        span: Span,
    ) -> Value {
        let frac = self.nodes[x].frac;
        let label = remap.label();
        Value::Tensor(self.push(Op::Remap { x, remap }, shape, frac, ranges, span, label))
    }
}

fn hull(ranges: impl Iterator<Item = Interval>) -> Interval {
    ranges.reduce(Interval::hull).unwrap_or(Interval::point(0))
}

/// Whether `raw` (at `ty`'s storage frac) is a value of `ty`.
fn type_holds(ty: &crate::types::ScalarType, raw: i128) -> bool {
    let (lo, hi) = crate::numeric::code_bounds(ty.signed, ty.width);
    let up = u64::from(ty.storage_frac()).saturating_add_signed(-i64::from(ty.frac_bits()));
    let scaled = |code: i128| crate::numeric::checked_shl(code, up);
    scaled(lo).is_none_or(|lo| lo <= raw) && scaled(hi).is_none_or(|hi| raw <= hi)
}
