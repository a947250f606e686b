//! Rearrangements on the row kernels: each output row is copied from
//! source rows whose positions are computed once per row (a crop, a pad
//! band, a reshape with whole rows: one `copy_from_slice`; pixel shuffles:
//! strided element copies). Only without a tail, and when the operand and
//! the result are stored alike (the same element bytes and signedness).

use super::{Kind, RowStage, View};
use crate::ir::{NodeId, Op, Pads, Program, Remap, ShuffleMode};
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
    #[inline(always)]
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
        if let Remap::Pad { pads, value } = *remap {
            return self.pad_rows::<B>(pads, value, lo, hi, x, out, base);
        }
        let (xv, ov) = (&self.x, &self.out);
        let b = B;
        // Element `i` of a row as a byte range.
        let el = |i: usize| i * b..(i + 1) * b;
        for item in lo..hi {
            let (c, y) = (item / ov.h, item % ov.h);
            let o = ov.row(c, y);
            let dst = &mut out[o.start - base..o.end - base];
            match *remap {
                Remap::Pad { .. } => {}
                Remap::Slice { start } => {
                    let src = &x[xv.row(c + start[0], y + start[1])];
                    copy_bytes(dst, &src[start[2] * b..(start[2] + ov.w) * b]);
                }
                Remap::Reshape if ov.w == xv.w => {
                    let n = c * ov.h + y;
                    copy_bytes(dst, &x[xv.row(n / xv.h, n % xv.h)]);
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

impl RowStage {
    /// Output rows `lo..hi` of `pad`: each row filled with the value, then
    /// the input row copied into it. Its own loop, with the row's position
    /// stepped rather than divided out per row, since the rows are short
    /// and many.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn pad_rows<const B: usize>(
        &self,
        pads: Pads,
        value: i128,
        lo: usize,
        hi: usize,
        x: &[u8],
        out: &mut [u8],
        base: usize,
    ) {
        let (xv, ov) = (&self.x, &self.out);
        // Two's complement, little endian: the low bytes of any value the
        // buffer's element holds.
        let bytes = value.to_le_bytes();
        let mut fill = [0u8; B];
        fill.copy_from_slice(&bytes[..B]);
        let (row_bytes, in_bytes, at) = (ov.w * B, xv.w * B, pads.left * B);
        let h = ov.h.max(1);
        let (mut c, mut y) = (lo / h, lo % h);
        for _ in lo..hi {
            let o = (ov.origin + c * ov.plane + y * ov.stride) * B - base;
            let dst = &mut out[o..o + row_bytes];
            fill_elements(dst, &fill);
            if let Some(iy) = y.checked_sub(pads.top).filter(|&iy| iy < xv.h) {
                let s = (xv.origin + c * xv.plane + iy * xv.stride) * B;
                copy_bytes(&mut dst[at..at + in_bytes], &x[s..s + in_bytes]);
            }
            y += 1;
            if y == h {
                (c, y) = (c + 1, 0);
            }
        }
    }
}

/// Bytes of a register: what the copies and fills below move at once.
const VECTOR: usize = 64;

/// `dst.copy_from_slice(src)` without a `memcpy` call per row when the row
/// has at least 64 bytes: whole 64-byte blocks (one register move each in
/// the AVX-512 copy of the kernels), then the last block again, overlapping,
/// for the rest (it writes the same bytes).
#[inline(always)]
fn copy_bytes(dst: &mut [u8], src: &[u8]) {
    let n = dst.len();
    if n < VECTOR || src.len() != n {
        dst.copy_from_slice(src);
        return;
    }
    let mut i = 0;
    while i + VECTOR <= n {
        dst[i..i + VECTOR].copy_from_slice(&src[i..i + VECTOR]);
        i += VECTOR;
    }
    if i < n {
        dst[n - VECTOR..n].copy_from_slice(&src[n - VECTOR..n]);
    }
}

/// Fills `dst` with copies of the element `fill` (`B` bytes, a power of
/// two up to 16; `dst` holds whole elements), in 64-byte blocks of the
/// repeated pattern when it has at least 64 bytes: every block starts on an
/// element (offsets are multiples of 64, or `n - 64` with `n` a multiple
/// of `B`).
#[inline(always)]
fn fill_elements<const B: usize>(dst: &mut [u8], fill: &[u8; B]) {
    let mut block = [0u8; VECTOR];
    for (k, byte) in block.iter_mut().enumerate() {
        *byte = fill[k % B];
    }
    let n = dst.len();
    if n < VECTOR {
        for px in dst.chunks_exact_mut(B) {
            px.copy_from_slice(fill);
        }
        return;
    }
    let mut i = 0;
    while i + VECTOR <= n {
        dst[i..i + VECTOR].copy_from_slice(&block);
        i += VECTOR;
    }
    if i < n {
        dst[n - VECTOR..n].copy_from_slice(&block);
    }
}
