//! Rearrangements on the row kernels: each output row is copied from
//! source rows whose positions are computed once per row (a crop, a pad
//! band, a reshape with whole rows: one `copy_from_slice`; pixel shuffles:
//! strided element copies). Only without a tail, and when the operand and
//! the result are stored alike (the same element bytes and signedness).

use super::{Kind, RowStage, View};
use crate::ir::{NodeId, Op, Program, Remap, ShuffleMode};
use crate::jit::plan::{Plan, Stage};

pub(in crate::jit::native) fn plan_remap(
    program: &Program,
    plan: &Plan,
    stage: &Stage,
    k: NodeId,
) -> Option<RowStage> {
    let Op::Remap { x, remap } = &program.nodes[k].op else {
        return None;
    };
    if stage.root != k {
        return None;
    }
    let xv = View::of(plan, plan.buffer_of[*x]?);
    let out = View::of(plan, plan.buffer_of[k]?);
    let alike = xv.bytes == out.bytes && xv.signed == out.signed && xv.buffer != out.buffer;
    (alike && matches!(out.bytes, 1 | 2 | 4 | 8 | 16))
        .then(|| RowStage::new(Kind::Remap { remap: *remap }, xv, vec![], out, None))
}

impl RowStage {
    /// Output rows `lo..hi` of a rearrangement.
    pub(super) fn remap_rows(
        &self,
        remap: &Remap,
        lo: usize,
        hi: usize,
        x: &[u8],
        out: &mut [u8],
        base: usize,
    ) {
        // The element size as a constant: element copies are fixed-size
        // moves (a byte store for u8 / i8), not calls of `memcpy`.
        match self.out.bytes {
            1 => self.remap_rows_of::<1>(remap, lo, hi, x, out, base),
            2 => self.remap_rows_of::<2>(remap, lo, hi, x, out, base),
            4 => self.remap_rows_of::<4>(remap, lo, hi, x, out, base),
            8 => self.remap_rows_of::<8>(remap, lo, hi, x, out, base),
            _ => self.remap_rows_of::<16>(remap, lo, hi, x, out, base),
        }
    }

    #[inline(always)]
    fn remap_rows_of<const B: usize>(
        &self,
        remap: &Remap,
        lo: usize,
        hi: usize,
        x: &[u8],
        out: &mut [u8],
        base: usize,
    ) {
        let (xv, ov) = (&self.x, &self.out);
        let b = B;
        // Element `i` of a row as a byte range.
        let el = |i: usize| i * b..(i + 1) * b;
        for item in lo..hi {
            let (c, y) = (item / ov.h, item % ov.h);
            let o = ov.row(c, y);
            let dst = &mut out[o.start - base..o.end - base];
            match *remap {
                Remap::Slice { start } => {
                    let src = &x[xv.row(c + start[0], y + start[1])];
                    dst.copy_from_slice(&src[start[2] * b..(start[2] + ov.w) * b]);
                }
                Remap::Pad { pads, value } => {
                    // Two's complement, little endian: the low bytes of any
                    // value the buffer's element holds.
                    let bytes = value.to_le_bytes();
                    let mut fill = [0u8; B];
                    fill.copy_from_slice(&bytes[..B]);
                    for px in dst.chunks_exact_mut(B) {
                        px.copy_from_slice(&fill);
                    }
                    if let Some(iy) = y.checked_sub(pads.top).filter(|&iy| iy < xv.h) {
                        let at = pads.left * b;
                        dst[at..at + xv.w * b].copy_from_slice(&x[xv.row(c, iy)]);
                    }
                }
                Remap::Reshape if ov.w == xv.w => {
                    let n = c * ov.h + y;
                    dst.copy_from_slice(&x[xv.row(n / xv.h, n % xv.h)]);
                }
                Remap::Reshape => {
                    let plane = xv.h * xv.w;
                    let flat0 = (c * ov.h + y) * ov.w;
                    for (ox, px) in dst.chunks_exact_mut(B).enumerate() {
                        let flat = flat0 + ox;
                        let src = &x[xv.row(flat / plane, flat % plane / xv.w)];
                        px.copy_from_slice(&src[el(flat % xv.w)]);
                    }
                }
                Remap::DepthToSpace { r, mode } => {
                    let i = y % r;
                    for j in 0..r {
                        let ci = match mode {
                            ShuffleMode::Dcr => (i * r + j) * ov.c + c,
                            ShuffleMode::Crd => (c * r + i) * r + j,
                        };
                        let src = &x[xv.row(ci, y / r)];
                        for (q, px) in src.chunks_exact(B).enumerate() {
                            let at = (q * r + j) * B;
                            dst[at..at + B].copy_from_slice(px);
                        }
                    }
                }
                Remap::SpaceToDepth { r } => {
                    let (block, ci) = (c / xv.c, c % xv.c);
                    let src = &x[xv.row(ci, y * r + block / r)];
                    let bj = block % r;
                    for (ox, px) in dst.chunks_exact_mut(B).enumerate() {
                        let at = (ox * r + bj) * B;
                        px.copy_from_slice(&src[at..at + B]);
                    }
                }
            }
        }
    }
}
