//! Average pooling, dense layers and reductions over channels (issue 14,
//! items 2 and 4). Every one that is a convolution is lowered to one, so
//! every backend's convolution kernels run it: a window's sum is a
//! depthwise convolution by ones, `dense` a convolution whose kernel is the
//! whole map, `sum` a 1x1 convolution by ones. What is left is the rounded
//! division of an average (`Op::DivRound`) and the maximum and argmax over
//! channels (`Op::Reduce`).

use super::calls::Bound;
use super::error::CheckError;
use super::scope::Value;
use super::Checker;
use crate::ir::{ChannelReduce, ConvGeom, Elementwise, Interval, NodeId, Op, Pads, Pair, Shape};
use crate::numeric::div_round_even;
use crate::span::Span;

/// Real (not padding) positions of window `o` of one axis.
fn real_count(o: usize, stride: usize, before: usize, kernel: usize, len: usize) -> usize {
    let start = (o * stride) as i128 - before as i128;
    let end = start + kernel as i128;
    (end.min(len as i128) - start.max(0)).max(0) as usize
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

impl Checker<'_> {
    /// A constant of weights `shape`, every element 1 (frac 0).
    fn ones(&mut self, shape: Shape, span: Span, label: &str) -> NodeId {
        let o = shape.channels();
        let data = vec![1; shape.len()];
        self.push(
            Op::Constant { data },
            shape,
            0,
            vec![Interval::point(1); o],
            span,
            label.into(),
        )
    }

    /// `avgpool(x, k, stride:, pad:, count_include_pad:)` and, with
    /// `global`, `global_avgpool(x)`.
    pub(super) fn avgpool(&mut self, b: &Bound, global: bool) -> Value {
        let span = b.call_span;
        let Some((x, c, h, w)) = self.map_arg(b.arg("x"), "input") else {
            return Value::Poison;
        };
        let (kernel, stride, pad, include_pad) = if global {
            let k = Pair { h, w };
            (k, k, Pads::default(), false)
        } else {
            let Some((g, _, _)) = self.pool_geom(b, span, h, w) else {
                return Value::Poison;
            };
            let Some(word) = self.word_arg(b, "count_include_pad") else {
                return Value::Poison;
            };
            (g.kernel, g.stride, g.pad, word == "true")
        };
        let ones = self.ones(
            Shape::Weights {
                o: c,
                i: 1,
                kh: kernel.h,
                kw: kernel.w,
            },
            span,
            "avgpool ones",
        );
        let geom = ConvGeom {
            stride,
            pad,
            dilation: Pair { h: 1, w: 1 },
            groups: c,
            output_pad: Pair { h: 0, w: 0 },
        };
        let Value::Tensor(sum) = self.conv_node(span, x, ones, geom, false, "avgpool sum") else {
            return Value::Poison;
        };
        let Shape::Map { h: oh, w: ow, .. } = self.nodes[sum].shape else {
            return Value::Poison;
        };
        let full = (kernel.h * kernel.w) as u64;
        let counts: Vec<u64> = (0..oh)
            .flat_map(|oy| {
                let rows = real_count(oy, stride.h, pad.top, kernel.h, h);
                (0..ow)
                    .map(move |ox| (rows * real_count(ox, stride.w, pad.left, kernel.w, w)) as u64)
            })
            .collect();
        let padded = counts.iter().any(|&n| n != full);
        // Every average lies in the hull of what it averages.
        let bounds: Vec<Interval> = self.nodes[x]
            .ranges
            .iter()
            .map(|r| {
                if padded && include_pad {
                    r.hull(Interval::point(0))
                } else {
                    *r
                }
            })
            .collect();
        let (numerator, divisor) = if !padded || include_pad {
            (sum, full)
        } else {
            // Windows of different counts: sum * (L / count) / L, exact, with
            // L the least common multiple of the counts.
            let l = counts.iter().fold(1u64, |l, &n| l / gcd(l, n) * n);
            let data: Vec<i128> = (0..c)
                .flat_map(|_| counts.iter().map(|&n| i128::from(l / n)))
                .collect();
            let ranges = vec![
                Interval::new(
                    data.iter().copied().min().unwrap_or(1),
                    data.iter().copied().max().unwrap_or(1)
                );
                c
            ];
            let shape = Shape::Map { c, h: oh, w: ow };
            let m = self.push(
                Op::Constant { data },
                shape,
                0,
                ranges,
                span,
                "avgpool weights".into(),
            );
            let scaled = self.elementwise(
                Elementwise::Mul,
                Value::Tensor(sum),
                span,
                Value::Tensor(m),
                span,
                span,
                "*",
            );
            let Value::Tensor(scaled) = scaled else {
                return Value::Poison;
            };
            (scaled, l)
        };
        let node = &self.nodes[numerator];
        let d = i128::from(divisor);
        let ranges: Vec<Interval> = node
            .ranges
            .iter()
            .zip(&bounds)
            .map(|(r, bound)| {
                let lo = div_round_even(r.lo, d).max(bound.lo);
                let hi = div_round_even(r.hi, d).min(bound.hi);
                Interval::new(lo, hi)
            })
            .collect();
        let (shape, frac) = (node.shape.clone(), node.frac);
        let label = if global { "global_avgpool" } else { "avgpool" };
        Value::Tensor(self.push(
            Op::DivRound {
                x: numerator,
                divisor,
            },
            shape,
            frac,
            ranges,
            span,
            label.into(),
        ))
    }

    /// `dense(x, w)`: the convolution of `x` by `w` seen as `[O, C, H, W]`.
    pub(super) fn dense(&mut self, b: &Bound) -> Value {
        let span = b.call_span;
        let Some((x, c, h, w)) = self.map_arg(b.arg("x"), "input") else {
            return Value::Poison;
        };
        let Some(warg) = b.arg("w") else {
            return Value::Poison;
        };
        let Some(wid) = self.tensor(warg.value.clone(), warg.span) else {
            return Value::Poison;
        };
        let wn = &self.nodes[wid];
        // A 2-D param `[O, I]` is held as `[O, I, 1, 1]`: shown as declared.
        let found = match wn.shape {
            Shape::Weights { o, i, kh: 1, kw: 1 } => vec![o, i],
            ref s => s.dims(),
        };
        let weights = match (&wn.shape, &wn.op) {
            (&Shape::Weights { o, i, kh, kw }, Op::Constant { data }) => {
                if (i, kh, kw) == (c, h, w) {
                    Some(wid)
                } else if (i, kh, kw) == (c * h * w, 1, 1) {
                    // ONNX Flatten order (C, H, W) is the C order of [O, C, H, W].
                    let (data, frac, ty, ranges) =
                        (data.clone(), wn.frac, wn.ty, wn.ranges.clone());
                    let shape = Shape::Weights {
                        o,
                        i: c,
                        kh: h,
                        kw: w,
                    };
                    let id = self.push_typed(
                        Op::Constant { data },
                        shape,
                        frac,
                        ranges,
                        ty,
                        warg.span,
                        "dense weights".into(),
                    );
                    Some(id)
                } else {
                    None
                }
            }
            _ => None,
        };
        let Some(weights) = weights else {
            let o = match self.nodes[wid].shape {
                Shape::Weights { o, .. } => o,
                _ => self.nodes[wid].shape.dims().first().copied().unwrap_or(1),
            };
            return self.error(CheckError::DenseWeights {
                span: warg.span,
                input: vec![c, h, w],
                expected: vec![o, c * h * w],
                found,
            });
        };
        let geom = ConvGeom {
            stride: Pair { h: 1, w: 1 },
            pad: Pads::default(),
            dilation: Pair { h: 1, w: 1 },
            groups: 1,
            output_pad: Pair { h: 0, w: 0 },
        };
        self.conv_node(span, x, weights, geom, false, "dense")
    }

    /// `sum(x)`: a 1x1 convolution by ones to one channel.
    pub(super) fn channel_sum(&mut self, b: &Bound) -> Value {
        let span = b.call_span;
        let Some((x, c, _, _)) = self.map_arg(b.arg("x"), "input") else {
            return Value::Poison;
        };
        let shape = Shape::Weights {
            o: 1,
            i: c,
            kh: 1,
            kw: 1,
        };
        let ones = self.ones(shape, span, "sum ones");
        let geom = ConvGeom {
            stride: Pair { h: 1, w: 1 },
            pad: Pads::default(),
            dilation: Pair { h: 1, w: 1 },
            groups: 1,
            output_pad: Pair { h: 0, w: 0 },
        };
        self.conv_node(span, x, ones, geom, false, "sum")
    }

    /// `max(x)` and `argmax(x)` over the channels of each pixel.
    pub(super) fn channel_reduce(
        &mut self,
        x: Option<super::calls::ArgVal>,
        op: ChannelReduce,
        span: Span,
    ) -> Value {
        let Some((x, c, h, w)) = self.map_arg(x, "input") else {
            return Value::Poison;
        };
        let node = &self.nodes[x];
        let (frac, range, label) = match op {
            // The largest of values each at least its channel's low end.
            ChannelReduce::Max => {
                let lo = node.ranges.iter().map(|r| r.lo).max().unwrap_or(0);
                let hi = node.ranges.iter().map(|r| r.hi).max().unwrap_or(0);
                (node.frac, Interval::new(lo, hi), "max channels")
            }
            ChannelReduce::ArgMax => (0, Interval::new(0, c as i128 - 1), "argmax"),
        };
        Value::Tensor(self.push(
            Op::Reduce { x, op },
            Shape::Map { c: 1, h, w },
            frac,
            vec![range],
            span,
            label.into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::real_count;

    #[test]
    fn windows_count_their_real_pixels() {
        // 5 pixels, kernel 3, stride 2, pad 1: [-1, 2), [1, 4), [3, 6).
        let counts: Vec<usize> = (0..3).map(|o| real_count(o, 2, 1, 3, 5)).collect();
        assert_eq!(counts, [2, 3, 2]);
        assert_eq!(real_count(0, 1, 0, 3, 3), 3);
    }
}
