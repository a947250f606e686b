//! The gather tables of the depthwise kernel of maps that fit one
//! register block (`machine::depthwise_planes`): output maps of at most
//! 8 x 8 pixels, 8 lanes a row, vector `p` (16 lanes of 4 bytes) holding
//! output rows `2 p` and `2 p + 1`. Each vector loads the input bytes its
//! windows span (at most 128, [`fits`]) into two registers, and each
//! window (any 4 taps of the kernel, [`PlaneTaps`]) is one zero-masked
//! `vpermt2b` of them by a table made here ([`PlaneWindows`]).

use super::{Kind, NativeStage};

/// Whether the plane kernel computes the depthwise stage `st`: output
/// maps of at most 8 x 8 pixels whose vectors' windows lie within 128
/// bytes of input.
pub(crate) fn fits(st: &NativeStage) -> bool {
    let &Kind::Depthwise {
        kh,
        pad_left,
        stride: (sh, sw),
        dilation_h,
        quads: (q, step),
        borders,
        ..
    } = st.kind()
    else {
        return false;
    };
    let (w, h) = (st.width(), st.height());
    if !(1..=8).contains(&w) || !(1..=8).contains(&h) || kh == 0 || q == 0 {
        return false;
    }
    // The columns of the taps, from the first pixel's first tap to the
    // last pixel's last; with `borders` only the input's own.
    let mut first = -(pad_left as i64);
    let mut last = (sw * (w - 1) + (q - 1) * step + 3 * (step / 4)) as i64 - pad_left as i64;
    if let Some((_, in_w)) = borders {
        first = first.max(0);
        last = last.min(in_w as i64 - 1);
    }
    // A vector's two output rows read `sh + (kh - 1) dh + 1` input rows.
    let rows = (sh + (kh - 1) * dilation_h) as i64;
    rows * st.x().stride as i64 + last - first < 128
}

/// The kernel's taps in groups of 4, one `vpdpbusd` operand each: the
/// taps some channel weighs (a tap whose weight is zero in every channel
/// adds nothing: 5 taps a row take 2 quads of the stage's weights, of
/// which 3 taps are zero, and 5 x 5 taps take 7 groups instead of 10).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PlaneTaps {
    /// Tap `4 k + t` of group `k`: its kernel row and its column from the
    /// window's first.
    pub taps: Vec<(usize, usize)>,
    /// Per channel `c`, at `c groups + k`: the weights of group `k`, a
    /// little-endian quad (zero past the last tap).
    pub weights: Vec<i32>,
}

impl PlaneTaps {
    /// The groups of the depthwise stage `st` (`None` for another kind).
    pub(crate) fn new(st: &NativeStage) -> Option<Self> {
        let &Kind::Depthwise {
            kh,
            quads: (quads, step),
            ..
        } = st.kind()
        else {
            return None;
        };
        let channels = st.channels();
        let quad_weights = st.weights().get(..channels * kh * quads)?;
        // The weight of tap `t` of quad `q` of row `ky` in channel `c`.
        let weight = |c: usize, ky: usize, q: usize, t: usize| {
            (quad_weights[(c * kh + ky) * quads + q] >> (8 * t)) as i8
        };
        let mut taps = vec![];
        let mut sources = vec![];
        for ky in 0..kh {
            for q in 0..quads {
                for t in 0..4 {
                    if (0..channels).any(|c| weight(c, ky, q, t) != 0) {
                        taps.push((ky, q * step + t * (step / 4)));
                        sources.push((ky, q, t));
                    }
                }
            }
        }
        let groups = taps.len().div_ceil(4);
        let mut weights = vec![0i32; channels * groups];
        for c in 0..channels {
            for (i, &(ky, q, t)) in sources.iter().enumerate() {
                let byte = weight(c, ky, q, t) as u8 as i32;
                weights[c * groups + i / 4] |= byte << (8 * (i % 4));
            }
        }
        Some(PlaneTaps { taps, weights })
    }

    /// The groups of 4 taps.
    pub(crate) fn groups(&self) -> usize {
        self.taps.len().div_ceil(4)
    }
}

/// The tables of one block, output rows `y .. y + n` of a channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PlaneWindows {
    /// Per vector: the offset of its loads from input pixel (0, 0) of the
    /// channel, and the masks of its two 64-byte loads (the bytes from its
    /// first weighed byte to its last).
    pub from: [isize; 4],
    pub loads: [[u64; 2]; 4],
    /// Per group of taps `k` ([`PlaneTaps`]) and vector `p`, at `4 k + p`:
    /// the byte of the loads each window byte takes, and the mask of the
    /// window bytes a tap weighs (the others zero: padding, pixels past
    /// the width, rows past the block, the last group's missing taps).
    pub idx: Vec<[u8; 64]>,
    pub keep: Vec<u64>,
}

impl PlaneWindows {
    /// The tables of output rows `y .. y + n` of the depthwise stage `st`
    /// (`fits(st)`) with the groups `taps`; `None` for another kind of
    /// stage or a span over 128 bytes.
    pub(crate) fn new(st: &NativeStage, taps: &PlaneTaps, y: usize, n: usize) -> Option<Self> {
        let &Kind::Depthwise {
            pad_top,
            pad_left,
            stride: (sh, sw),
            dilation_h,
            borders,
            ..
        } = st.kind()
        else {
            return None;
        };
        let (w, stride) = (st.width(), st.x().stride as isize);
        // Byte `i` of the windows of vector `p`, group `k`: its offset
        // from pixel (0, 0) when a tap weighs it.
        let offset = |p: usize, k: usize, i: usize| -> Option<isize> {
            let (j, t) = (i / 4, i % 4);
            let (r, px) = (2 * p + j / 8, j % 8);
            let &(ky, col) = taps.taps.get(4 * k + t)?;
            if r >= n || px >= w {
                return None;
            }
            let iy = (sh * (y + r) + ky * dilation_h) as isize - pad_top as isize;
            let ix = (sw * px + col) as isize - pad_left as isize;
            if let Some((in_h, in_w)) = borders {
                if !(0..in_h as isize).contains(&iy) || !(0..in_w as isize).contains(&ix) {
                    return None;
                }
            }
            Some(iy * stride + ix)
        };
        let windows = taps.groups();
        let mut tables = PlaneWindows {
            from: [0; 4],
            loads: [[0; 2]; 4],
            idx: vec![[0; 64]; 4 * windows],
            keep: vec![0; 4 * windows],
        };
        for p in 0..4 {
            let offsets = |k: usize| (0..64).map(move |i| offset(p, k, i));
            let (lo, hi) = (0..windows)
                .flat_map(offsets)
                .flatten()
                .fold((isize::MAX, isize::MIN), |(lo, hi), o| {
                    (lo.min(o), hi.max(o))
                });
            if lo > hi {
                // No byte weighed: the vector's rows are past the block.
                continue;
            }
            if hi - lo >= 128 {
                return None;
            }
            let below = |n: isize| match n {
                ..=0 => 0,
                64.. => u64::MAX,
                n => (1u64 << n) - 1,
            };
            tables.from[p] = lo;
            tables.loads[p] = [below(hi - lo + 1), below(hi - lo + 1 - 64)];
            for k in 0..windows {
                let (idx, keep) = (&mut tables.idx[4 * k + p], &mut tables.keep[4 * k + p]);
                for (i, o) in offsets(k).enumerate() {
                    if let Some(o) = o {
                        idx[i] = (o - lo) as u8;
                        *keep |= 1 << i;
                    }
                }
            }
        }
        Some(tables)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::program;
    use super::super::{plan_native, unpad_inputs, Isa};
    use super::*;

    /// Every block of every map the kernel takes gets its tables (the
    /// kernel relies on it: `fits` bounds every block's span), and every
    /// byte a window takes lies in its vector's masked loads. Maps of
    /// random geometry around 8 x 8 outputs, with and without a halo.
    #[test]
    fn every_block_of_a_fitting_map_has_tables_within_its_loads() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut draw = |lo: usize, hi: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            lo + (state % (hi - lo + 1) as u64) as usize
        };
        let (mut fitting, mut blocks) = (0, 0);
        for case in 0..600 {
            let (kh, kw) = (draw(1, 6), draw(1, 6));
            let (sh, sw) = (draw(1, 3), [1, 2, 2, 3, 4][draw(0, 4)]);
            let (dh, dw) = (draw(1, 2), draw(1, 2));
            let (pt, pl) = (draw(0, (kh - 1) * dh), draw(0, (kw - 1) * dw));
            let h = (kh - 1) * dh + 1 + sh * draw(0, 8);
            let w = (kw - 1) * dw + 1 + sw * draw(0, 8);
            let x = if case % 2 == 0 { "x" } else { "max(x, 3)" };
            let p = program(&format!(
                "pipeline p {{
  input x: u8[5, {h}, {w}]
  param w: i8[5, 1, {kh}, {kw}] = random(seed: {case})
  let y = (relu(conv({x}, w, stride: ({sh}, {sw}), pad: ({pt}, {pl}, 0, 0), dilation: ({dh}, {dw}), groups: 5)) >> 6) as u8 sat
  output y
}}"
            ));
            let plan = crate::jit::plan::plan(&p).expect("plans");
            let plan = unpad_inputs(&p, plan, Some(Isa::Avx512));
            let stage = plan.stages.last().expect("a stage");
            let Some(ns) = plan_native(&p, &plan, stage, Isa::Avx512) else {
                continue;
            };
            if !fits(&ns) {
                continue;
            }
            fitting += 1;
            let rows = ns.height();
            for y in 0..rows {
                for n in 1..=rows - y {
                    let taps = PlaneTaps::new(&ns).expect("a depthwise stage");
                    let t = PlaneWindows::new(&ns, &taps, y, n)
                        .unwrap_or_else(|| panic!("case {case}: no tables for rows {y} + {n}"));
                    blocks += 1;
                    for (k, (idx, &keep)) in t.idx.iter().zip(&t.keep).enumerate() {
                        let [a, b] = t.loads[k % 4];
                        let loaded = u128::from(a) | u128::from(b) << 64;
                        for (i, &at) in idx.iter().enumerate() {
                            assert!(
                                keep >> i & 1 == 0 || loaded >> at & 1 == 1,
                                "case {case}: window byte {i} of {k} takes byte {at}, not loaded"
                            );
                        }
                    }
                }
            }
        }
        assert!(fitting > 150, "only {fitting} maps fit");
        assert!(blocks > 2000, "only {blocks} blocks");
    }
}
