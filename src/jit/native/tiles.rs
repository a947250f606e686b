//! The plan of the AMX-INT8 direct convolution (`machine::conv_amx`): the
//! runs of steps one tile multiplies, and the weights packed as its `A`
//! tiles.

use super::conv::Direct;
use super::Words;

/// Steps a tile product takes at most (64 bytes of a tile row: 16 dwords).
const MOST_STEPS: usize = 16;

/// Steps a tile product takes at least: with fewer, a `tdpbsud` does less
/// than the `vpdpbusd` loop in the same time (32 -> 32 channels: 8).
const LEAST_STEPS: usize = 8;

/// The narrowest output rows the tiles run: rows of at most 16 pixels
/// take one window tile of 16 pixels (against four weight tiles), so 7
/// pixels leave more than half its products unused.
const LEAST_WIDTH: usize = 8;

/// A direct convolution on AMX tiles: every `kq` steps from step 0 are one
/// tap over `kq` consecutive channel quads (quad rows `Direct::cols` dwords
/// apart in the window, so one tile load of that stride).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AmxPlan {
    /// Steps a tile product takes (rows of a `B` tile, dwords of an `A` row).
    pub kq: usize,
    /// Per block of 16 output channels (whole register blocks of
    /// `channels`; channels past the stage's weigh zero), per run of `kq`
    /// steps: 16 rows of `kq` weight dwords, one row per channel.
    pub weights: Words,
    /// Output channels a register block runs: 32 (32 pixels of a row), or
    /// 64 on rows of at most 16 pixels (16 pixels).
    pub channels: usize,
    /// Runs of `kq` steps.
    runs: usize,
}

impl AmxPlan {
    /// The plan for `d` with weights `w` (`[channel][step]`, `d.steps_total`
    /// a channel), when the tiles can run it: a plain convolution of one
    /// group (one row phase, one column phase, one step list), the
    /// steps in runs of at least [`LEAST_STEPS`], shifts under 16 (a tile
    /// load reads up to the largest shift past a row's pixels rounded up to
    /// 16, within the window's 64 spare bytes), rows of [`LEAST_WIDTH`] to
    /// 64 pixels.
    pub(crate) fn new(d: &Direct, w: &[i32]) -> Option<AmxPlan> {
        // Plain convolutions (transposed ones have phases and tails per
        // phase list).
        let plain = d.row_phases == 1
            && d.out_phases == 1
            && d.out_shift == 0
            && d.phase_requants.is_empty()
            && d.in_rows.is_some();
        let steps = match d.steps.as_slice() {
            [steps] if plain && d.groups == 1 && (LEAST_WIDTH..=64).contains(&d.q_width) => steps,
            _ => return None,
        };
        let t = steps.len();
        let kq = (LEAST_STEPS..=MOST_STEPS)
            .rev()
            .find(|&kq| t.is_multiple_of(kq) && runs_fit(steps, kq))?;
        if steps.iter().any(|s| s.shift >= 16) || w.len() != d.cout_g * t {
            return None;
        }
        let runs = t / kq;
        let channels = if d.q_width <= 16 { 64 } else { 32 };
        let blocks = d.cout_g.div_ceil(16).next_multiple_of(channels / 16);
        let mut packed = Vec::with_capacity(blocks * 16 * t);
        for b in 0..blocks {
            for r in 0..runs {
                for j in 0..16 {
                    let o = 16 * b + j;
                    for k in 0..kq {
                        packed.push(if o < d.cout_g {
                            w[o * t + r * kq + k]
                        } else {
                            0
                        });
                    }
                }
            }
        }
        Some(AmxPlan {
            kq,
            weights: packed.into(),
            channels,
            runs,
        })
    }

    /// The first weight dword of channel block `block`'s run from step `s`
    /// (a multiple of `kq`).
    pub(crate) fn offset(&self, block: usize, s: usize) -> usize {
        (block * self.runs + s / self.kq) * 16 * self.kq
    }
}

/// Whether every `kq` steps from step 0 are one tap (kernel row and
/// shift) over consecutive quads.
fn runs_fit(steps: &[super::Step], kq: usize) -> bool {
    steps.chunks(kq).all(|run| {
        run.iter()
            .enumerate()
            .all(|(k, s)| (s.row, s.shift, s.quad) == (run[0].row, run[0].shift, run[0].quad + k))
    })
}
