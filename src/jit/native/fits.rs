//! [`NativeStage::fits`]: the check, where a native stage is built, that
//! every byte its kernel reads or writes lies in the plan's buffers. The
//! kernels in `machine/` read and write through raw pointers and rely on it.

use super::{Direct, Kind, NativeStage, Rows, LANES_BLOCKS};
use crate::jit::machine::Workspace;
use crate::jit::plan::Plan;
use crate::jit::Isa;

/// Byte just past pixel (c, y, x) of `rows`, or None below 0.
fn end(r: Rows, c: usize, y: i64, x: i64) -> Option<usize> {
    let at = r.origin as i64 + (c * r.plane) as i64 + y * r.stride as i64 + x;
    usize::try_from(at).ok()
}

impl NativeStage {
    /// `self` if every access of its kernel stays inside the buffers of
    /// `plan`: stores inside the output's planned bytes, loads inside the
    /// input's (and the residual map's) planned bytes plus the workspace's
    /// spare bytes (the kernels' vector loads run up to 127 bytes past the
    /// last byte they use), the constants as long as the kernel indexes them.
    pub(super) fn fits(self, plan: &Plan) -> Option<NativeStage> {
        self.fits_sizes(&|b| plan.buffers.get(b).map(|buf| buf.bytes()))
    }

    /// [`Self::fits`] with buffer `b` of `bytes(b)` bytes (`None`: no such
    /// buffer).
    pub(super) fn fits_sizes(self, bytes: &dyn Fn(usize) -> Option<usize>) -> Option<NativeStage> {
        let (x_bytes, out_bytes) = (bytes(self.x.buffer)?, bytes(self.out.buffer)?);
        let (c, h, w) = (self.channels, self.height, self.width);
        if c == 0 || h == 0 || w == 0 || self.x.buffer == self.out.buffer {
            return None;
        }
        let spare = Workspace::SPARE;
        let chunks = w.div_ceil(64) as i64;
        let x_ok = match &self.kind {
            &Kind::Pointwise {
                cin,
                groups,
                stride: (sh, sw),
            } => {
                // Loads of 64 bytes from each chunk of a row, or (rows
                // back to back) from any pixel; strided (AVX2 only), `sw`
                // times 32 bytes from input column `sw x` of each half
                // chunk's pixel `x`.
                let strided = (sh, sw) != (1, 1);
                let (row, last) = if strided {
                    ((sh * (h - 1)) as i64, (sw as i64) * 64 * chunks)
                } else {
                    (h as i64 - 1, (64 * chunks).max(w as i64 + 63))
                };
                let stride_ok = !strided
                    || (self.isa.is_avx2() && (1..=4).contains(&sh) && (1..=2).contains(&sw));
                stride_ok
                    && self.weights.len() >= c * groups
                    && end(self.x, cin.max(1) - 1, row, last)? <= x_bytes + spare
            }
            &Kind::Depthwise {
                kh,
                pad_top,
                pad_left,
                stride: (sh, sw),
                dilation_h,
                quads: (quads, step),
                bases,
                borders,
            } => {
                let (pt, pl) = (pad_top as i64, pad_left as i64);
                // The last pixel vector's loads, from the last row read,
                // for the last quad of taps.
                let last_row = ((h - 1) * sh + (kh.max(1) - 1) * dilation_h) as i64 - pt;
                let last_col = (sw as i64) * 64 * (chunks - 1)
                    + bases[3] as i64
                    + 128
                    + ((quads.max(1) - 1) * step) as i64
                    - pl;
                let loads_ok = match borders {
                    // Masked loads of the input's own rows and columns
                    // only: its last byte bounds them, no spare bytes.
                    Some((in_h, in_w)) => {
                        in_w <= self.x.stride
                            && end(self.x, c - 1, in_h as i64 - 1, in_w as i64)? <= x_bytes
                    }
                    None => {
                        end(self.x, 0, -pt, -pl).is_some()
                            && end(self.x, c - 1, last_row, last_col)? <= x_bytes + spare
                    }
                };
                self.weights.len() >= c * kh * quads
                    && (1..=2).contains(&quads)
                    && self.windows.len() >= 4 * 64
                    && self.windows.iter().all(|&i| i < 128)
                    && bases.iter().all(|&b| b <= bases[3])
                    && loads_ok
            }
            &Kind::Deconv { kh, in_h, in_w, .. } => {
                self.weights.len() >= c * kh * 16
                    && self.windows.len() >= 4 * 64
                    && end(self.x, c - 1, in_h as i64 - 1, in_w as i64)? <= x_bytes
            }
            Kind::Direct(d) => self.direct_fits(d, x_bytes)?,
            // Masked loads of each row's own elements.
            Kind::Wide16 {
                cin,
                pairs,
                in_bytes,
                window,
                ..
            } => {
                let (cin, in_bytes) = (*cin, *in_bytes);
                let (ih, iw) = (window.in_h, window.in_w);
                // Masked loads of the input's own rows and columns, which
                // do not overlap.
                self.weights.len() >= c * window.taps.len() * pairs
                    && *pairs == cin.div_ceil(2)
                    && matches!(in_bytes, 1 | 2)
                    && window.stride_h >= 1
                    && self.residual.is_none()
                    && ih > 0
                    && iw <= self.x.stride
                    && end(self.x, 0, 0, 0).is_some()
                    && end(self.x, cin.max(1) - 1, ih as i64 - 1, iw as i64)? * in_bytes <= x_bytes
            }
        };
        let residual_ok = match self.residual {
            None => true,
            Some((r, _)) => {
                // The direct kernels add a residual map, and the AVX2
                // pointwise one; the tail reads whole pixel vectors of it.
                let r_bytes = bytes(r.buffer)?;
                let adds = match self.kind {
                    Kind::Direct(_) => true,
                    Kind::Pointwise { .. } => self.isa.is_avx2(),
                    _ => false,
                };
                adds && r.buffer != self.out.buffer
                    && end(r, c - 1, h as i64 - 1, 64 * chunks)? <= r_bytes + spare
            }
        };
        // `out` counts elements of `out_bytes` bytes; only the direct
        // kernels (plain convolutions, pixel lanes, with or without a
        // residual map) and the 16-bit pointwise kernel (without) store
        // wider elements.
        let wide_ok = match (self.out_bytes, &self.kind) {
            (1, _) => true,
            (2 | 4, Kind::Direct(d)) => d.out_phases == 1 && d.out_shift == 0 && d.lanes.is_none(),
            (2 | 4, Kind::Wide16 { .. }) => self.residual.is_none(),
            _ => false,
        };
        let out_ok =
            wide_ok && end(self.out, c - 1, h as i64 - 1, w as i64)? * self.out_bytes <= out_bytes;
        let consts_ok = [&self.requant.pre, &self.requant.post]
            .iter()
            .all(|v| v.len() >= c)
            && self.requant.scale.as_ref().is_none_or(|s| {
                s.mul.len() >= c && s.neg.as_ref().is_none_or(|n| n.len() >= c)
            })
            // A sign split only in the AVX-512 tail.
            && (self.isa == Isa::Avx512
                || self.requant.scale.as_ref().is_none_or(|s| s.neg.is_none()));
        (x_ok && residual_ok && out_ok && consts_ok).then_some(self)
    }

    /// A direct convolution's input rows (bytes `readable` from `col0` of
    /// each row any output row reads, every input channel), its steps (rows,
    /// quads, window columns and weights they index) and its packed weights.
    fn direct_fits(&self, d: &Direct, x_bytes: usize) -> Option<bool> {
        let lists = d.row_phases * d.out_phases;
        let cin = d.groups * d.cin_g;
        // A block reads dwords `x0 + shift ..` up to the block columns
        // rounded up to its vectors (`read_width`); the lanes kernel up to
        // the block columns themselves.
        let width = d.read_width();
        let steps_ok = d.row_lists.len() == d.row_phases
            && d.steps.len() == lists
            && d.step_offsets.len() == lists
            && d.steps.iter().enumerate().all(|(p, steps)| {
                let rows = d.row_lists[p / d.out_phases.max(1)].len();
                d.step_offsets[p] + steps.len() <= d.steps_total
                    && steps.iter().all(|s| {
                        s.row < rows && s.quad < d.quads.len() && s.shift + width <= d.cols
                    })
            })
            && self.weights.len() >= self.channels * d.steps_total
            && d.groups * d.cout_g == self.channels
            && d.quads
                .iter()
                .flatten()
                .flatten()
                .all(|s| s.channel < d.cin_g)
            // One tail per phase list, or none: each the stage's but `pre`.
            && (d.phase_requants.is_empty()
                || (d.phase_requants.len() == lists
                    && d.phase_requants.iter().all(|q| {
                        q.pre.len() >= self.channels
                            && super::Requant {
                                pre: self.requant.pre.clone(),
                                ..q.clone()
                            } == self.requant
                    })));
        if !steps_ok || cin == 0 || !lanes_fit(d) {
            return Some(false);
        }
        let (mut lo_row, mut hi_row) = (i64::MAX, i64::MIN);
        for oy in 0..self.height {
            let (ry, base) = d.row_phase(oy);
            for &r in &d.row_lists[ry] {
                lo_row = lo_row.min(base + r);
                hi_row = hi_row.max(base + r);
            }
        }
        if lo_row > hi_row {
            return Some(true);
        }
        let (lo, hi) = d.readable;
        let first = end(self.x, 0, lo_row, d.col0 + lo as i64).is_some();
        let last = end(self.x, cin - 1, hi_row, d.col0 + hi as i64)?;
        Some(first && last <= x_bytes)
    }
}

/// Whether the lanes kernel's plan (`Direct::lanes`) is one its dispatch
/// runs: one row and column phase, rows of at most 64 pixels, blocks of
/// [`LANES_BLOCKS`], and the weights of every channel block.
fn lanes_fit(d: &Direct) -> bool {
    let Some(l) = &d.lanes else {
        return true;
    };
    let plain = d.row_phases == 1 && d.out_phases == 1 && d.out_shift == 0;
    // Every group's `cout_g` channels in vectors of 16, `steps_total` each.
    let weights = d.groups * 16 * d.cout_g.div_ceil(16) * d.steps_total;
    plain
        && d.q_width <= 64
        && d.steps.len() == 1
        && d.steps[0].len() == d.steps_total
        && LANES_BLOCKS
            .iter()
            .any(|&(m, n_max)| l.m == m && (1..=n_max).contains(&l.n))
        && l.weights.len() == weights
}
