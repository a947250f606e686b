//! Exact output ranges and MAC counts of convolutions and transposed
//! convolutions, from the input's per-channel ranges and the real weights.
//!
//! Along each axis, an output position reads some subset of the kernel taps
//! (the rest fall into zero padding, or, transposed, receive no input). The
//! distinct subsets are few, so the range of an output channel is the hull,
//! over every pair of row and column subsets that occurs, of the sum of each
//! valid tap's extreme contributions. Distinct taps read distinct input
//! positions, so when the inputs range freely over their intervals this bound
//! is attained: it is the exact range, not just a sound one.

use super::interval::{self, Overflowed, Result};
use crate::ir::Interval;
use std::collections::HashMap;

/// One spatial axis of a (transposed) convolution.
#[derive(Clone, Copy, Debug)]
pub struct Axis {
    pub in_len: usize,
    pub out_len: usize,
    pub kernel: usize,
    pub stride: usize,
    pub pad_before: usize,
    pub dilation: usize,
}

impl Axis {
    /// Taps `k` that contribute to output `o`.
    fn valid_taps(&self, o: usize, transposed: bool) -> Vec<usize> {
        let (o, p, s, d, n) = (
            o as i64,
            self.pad_before as i64,
            self.stride as i64,
            self.dilation as i64,
            self.in_len as i64,
        );
        (0..self.kernel)
            .filter(|&k| {
                let k = k as i64;
                if transposed {
                    // o = i*s - p + k*d for some input i in 0..n.
                    let t = o + p - k * d;
                    t >= 0 && t % s == 0 && t / s < n
                } else {
                    let i = o * s - p + k * d;
                    (0..n).contains(&i)
                }
            })
            .collect()
    }

    /// The distinct tap subsets along this axis, each with the number of
    /// outputs that use it, in order of first appearance.
    pub fn tap_sets(&self, transposed: bool) -> Vec<(Vec<usize>, usize)> {
        let mut index: HashMap<Vec<usize>, usize> = HashMap::new();
        let mut sets: Vec<(Vec<usize>, usize)> = vec![];
        for o in 0..self.out_len {
            let taps = self.valid_taps(o, transposed);
            match index.get(&taps) {
                Some(&i) => sets[i].1 += 1,
                None => {
                    index.insert(taps.clone(), sets.len());
                    sets.push((taps, 1));
                }
            }
        }
        sets
    }
}

/// Weights as the range computation sees them: for output channel `o`, the
/// (input channel, weight) pairs of tap `(ky, kx)`.
pub struct Kernel<'a> {
    pub data: &'a [i128],
    /// `[O, I/g, KH, KW]` for conv, `[I, O/g, KH, KW]` for deconv.
    pub dims: [usize; 4],
    pub groups: usize,
    pub transposed: bool,
    pub in_channels: usize,
    pub out_channels: usize,
}

impl Kernel<'_> {
    fn taps_of(&self, o: usize, ky: usize, kx: usize) -> Vec<(usize, i128)> {
        let [d0, d1, kh, kw] = self.dims;
        let in_per_group = self.in_channels / self.groups;
        let out_per_group = self.out_channels / self.groups;
        let grp = o / out_per_group;
        (0..in_per_group)
            .map(|j| {
                let ci = grp * in_per_group + j;
                let flat = if self.transposed {
                    let o_in_group = o % out_per_group;
                    ((ci * d1 + o_in_group) * kh + ky) * kw + kx
                } else {
                    ((o * d1 + j) * kh + ky) * kw + kx
                };
                debug_assert!(flat < d0 * d1 * kh * kw);
                (ci, self.data.get(flat).copied().unwrap_or(0))
            })
            .collect()
    }
}

/// Per-output-channel ranges (raw, at input frac + weight frac) and MACs per image.
pub fn conv_ranges(
    inputs: &[Interval],
    kernel: &Kernel,
    rows: &Axis,
    cols: &Axis,
) -> Result<(Vec<Interval>, u64)> {
    let [_, _, kh, kw] = kernel.dims;
    let row_sets = rows.tap_sets(kernel.transposed);
    let col_sets = cols.tap_sets(kernel.transposed);
    let in_per_group = (kernel.in_channels / kernel.groups) as u64;

    let mut macs: u64 = 0;
    for (rs, rn) in &row_sets {
        for (cs, cn) in &col_sets {
            let per_output = (rs.len() * cs.len()) as u64 * in_per_group;
            macs = macs.saturating_add(per_output * (*rn as u64) * (*cn as u64));
        }
    }
    macs = macs.saturating_mul(kernel.out_channels as u64);

    let mut ranges = Vec::with_capacity(kernel.out_channels);
    for o in 0..kernel.out_channels {
        // Extreme contributions of each tap, summed over the group's inputs.
        let mut lo_tap = vec![0i128; kh * kw];
        let mut hi_tap = vec![0i128; kh * kw];
        let mut magnitude: i128 = 0;
        for ky in 0..kh {
            for kx in 0..kw {
                for (ci, w) in kernel.taps_of(o, ky, kx) {
                    let x = inputs.get(ci).copied().ok_or(Overflowed)?;
                    let c = interval::mul(x, Interval::point(w))?;
                    let t = ky * kw + kx;
                    lo_tap[t] = interval::within_limit(lo_tap[t] + c.lo)?;
                    hi_tap[t] = interval::within_limit(hi_tap[t] + c.hi)?;
                    magnitude = interval::within_limit(magnitude + c.lo.abs().max(c.hi.abs()))?;
                }
            }
        }
        // Partial sums in any order stay within `magnitude`, checked above.
        let mut range: Option<Interval> = None;
        for (rs, _) in &row_sets {
            for (cs, _) in &col_sets {
                let mut r = Interval::point(0);
                for &ky in rs {
                    for &kx in cs {
                        let t = ky * kw + kx;
                        r = interval::add(r, Interval::new(lo_tap[t], hi_tap[t]))?;
                    }
                }
                range = Some(range.map_or(r, |acc| acc.hull(r)));
            }
        }
        ranges.push(range.unwrap_or(Interval::point(0)));
    }
    Ok((ranges, macs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axis(in_len: usize, out_len: usize, kernel: usize, stride: usize, pad: usize) -> Axis {
        Axis {
            in_len,
            out_len,
            kernel,
            stride,
            pad_before: pad,
            dilation: 1,
        }
    }

    #[test]
    fn padded_conv_has_border_subsets() {
        let sets = axis(5, 5, 3, 1, 1).tap_sets(false);
        assert_eq!(
            sets,
            vec![(vec![1, 2], 1), (vec![0, 1, 2], 3), (vec![0, 1], 1)]
        );
    }

    #[test]
    fn stride_two_deconv_has_phases() {
        // 4-tap kernel, stride 2, pad 1: each output gets two taps of one phase.
        let sets = axis(4, 8, 4, 2, 1).tap_sets(true);
        let taps: Vec<Vec<usize>> = sets.iter().map(|s| s.0.clone()).collect();
        assert!(taps.contains(&vec![1, 3]));
        assert!(taps.contains(&vec![0, 2]));
        assert_eq!(sets.iter().map(|s| s.1).sum::<usize>(), 8);
    }

    #[test]
    fn positive_weights_reach_the_bound() {
        // 1 channel, 3x3 all-ones kernel on u8 with pad 1: max is 9 * 255.
        let w = vec![1i128; 9];
        let k = Kernel {
            data: &w,
            dims: [1, 1, 3, 3],
            groups: 1,
            transposed: false,
            in_channels: 1,
            out_channels: 1,
        };
        let a = axis(4, 4, 3, 1, 1);
        let (r, macs) = conv_ranges(&[Interval::new(0, 255)], &k, &a, &a).unwrap();
        assert_eq!(r, vec![Interval::new(0, 9 * 255)]);
        // 4x4 outputs: corners 4 taps, edges 6, interior 9.
        assert_eq!(macs, 4 * 4 + 8 * 6 + 4 * 9);
    }
}
