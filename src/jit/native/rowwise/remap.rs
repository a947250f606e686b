//! Rearrangements on the row kernels: each output row is copied from
//! source rows whose positions are computed once per row (a crop, a pad
//! band, a reshape with whole rows: one `copy_from_slice`; pixel shuffles:
//! strided element copies). Only without a tail, and when the operand and
//! the result are stored alike (the same element bytes and signedness).

use super::pieces::{self, VECTOR};
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
        // The row's position stepped, not divided out per row.
        let h = ov.h.max(1);
        let (mut c, mut y) = (lo / h, lo % h);
        for _ in lo..hi {
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
                    let source = |j: usize| {
                        let ci = match mode {
                            ShuffleMode::Dcr => (i * r + j) * ov.c + c,
                            ShuffleMode::Crd => (c * r + i) * r + j,
                        };
                        &x[xv.row(ci, y / r)]
                    };
                    if r == 2 {
                        // Both sources interleaved in one pass (the
                        // compiler's byte shuffles), each byte stored once.
                        // Index loops over slices cut to length first (no
                        // bounds test per element, no iterator calls).
                        let n = xv.w * B;
                        let (s0, s1) = (&source(0)[..n], &source(1)[..n]);
                        let dst = &mut dst[..2 * n];
                        let mut q = 0;
                        while q < n {
                            for k in 0..B {
                                dst[2 * q + k] = s0[q + k];
                                dst[2 * q + B + k] = s1[q + k];
                            }
                            q += B;
                        }
                    } else {
                        for j in 0..r {
                            let src = source(j);
                            for (run, px) in dst.chunks_exact_mut(r * B).zip(src.chunks_exact(B)) {
                                run[el(j)].copy_from_slice(px);
                            }
                        }
                    }
                }
                Remap::SpaceToDepth { r } => {
                    let (block, ci) = (c / xv.c, c % xv.c);
                    let src = &x[xv.row(ci, y * r + block / r)];
                    let bj = block % r;
                    for (px, run) in dst.chunks_exact_mut(B).zip(src.chunks_exact(r * B)) {
                        px.copy_from_slice(&run[el(bj)]);
                    }
                }
            }
            y += 1;
            if y == h {
                (c, y) = (c + 1, 0);
            }
        }
    }
}

impl RowStage {
    /// Output rows `lo..hi` of `pad`, a channel at a time: its rows filled
    /// with the value (one span at the speed of a `memset` when the rows
    /// are stored back to back, else row by row), then the input rows
    /// copied over their middles. Rows and sources are walked by iterators
    /// (no position multiplied out or bounds checked per row): the rows are
    /// short and many, and a row costs little more than its one copy.
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
        // buffer's element holds, repeated over a register.
        let bytes = value.to_le_bytes();
        let mut block = [0u8; VECTOR];
        for (k, byte) in block.iter_mut().enumerate() {
            *byte = bytes[k % B];
        }
        let (row_bytes, in_bytes, left) = (ov.w * B, xv.w * B, pads.left * B);
        let (out_step, in_step) = (ov.stride * B, xv.stride * B);
        let dense = out_step == row_bytes;
        let h = ov.h.max(1);
        for c in lo / h..hi.div_ceil(h) {
            // This job's rows `y0..y1` of channel `c`.
            let (y0, y1) = (lo.max(c * h) - c * h, hi.min(c * h + h) - c * h);
            if y0 >= y1 {
                continue;
            }
            let first = (ov.origin + c * ov.plane + y0 * ov.stride) * B - base;
            let span = &mut out[first..first + (y1 - y0 - 1) * out_step + row_bytes];
            if dense {
                fill(span, &block);
            } else {
                for row in span.chunks_mut(out_step) {
                    fill(&mut row[..row_bytes], &block);
                }
            }
            // The input rows `iy0..iy1` land on output rows `top + iy`.
            let iy0 = y0.max(pads.top) - pads.top;
            let iy1 = y1.saturating_sub(pads.top).min(xv.h);
            if iy0 >= iy1 {
                continue;
            }
            let n = iy1 - iy0;
            let rows = &mut span[(iy0 + pads.top - y0) * out_step..];
            let from = (xv.origin + c * xv.plane + iy0 * xv.stride) * B;
            if dense && in_step == in_bytes {
                // Both back to back: exact chunks, no length worked out per row.
                let rows = rows[..n * row_bytes].chunks_exact_mut(row_bytes);
                let sources = x[from..from + n * in_bytes].chunks_exact(in_bytes);
                copy_rows(rows, sources, left, in_bytes);
            } else {
                let rows = rows.chunks_mut(out_step).take(n);
                copy_rows(rows, x[from..].chunks(in_step), left, in_bytes);
            }
        }
    }
}

/// Each source's first `len` bytes into its row at `left`.
#[inline(always)]
fn copy_rows<'a>(
    rows: impl Iterator<Item = &'a mut [u8]>,
    sources: impl Iterator<Item = &'a [u8]>,
    left: usize,
    len: usize,
) {
    for (row, src) in rows.zip(sources) {
        copy_bytes(&mut row[left..left + len], &src[..len]);
    }
}

/// `dst.copy_from_slice(src)` without a `memcpy` call per row: whole
/// 64-byte blocks (one register move each in the AVX-512 copy of the
/// kernels), then the last 64 bytes again, overlapping (the same bytes),
/// or, for rows under 64 bytes, fixed-size moves ([`pieces::copy`]).
#[inline(always)]
fn copy_bytes(dst: &mut [u8], src: &[u8]) {
    let n = dst.len();
    if src.len() != n {
        // Panics (a kernel bug, reported as such): lengths always agree.
        dst.copy_from_slice(src);
        return;
    }
    if n < VECTOR {
        pieces::copy(dst, src);
        return;
    }
    // Index loops, not iterator adapters: the kernel is one large function,
    // and calls the inliner leaves out cost more than the copies.
    let mut i = 0;
    while i + VECTOR <= n {
        dst[i..i + VECTOR].copy_from_slice(&src[i..i + VECTOR]);
        i += VECTOR;
    }
    if i < n {
        dst[n - VECTOR..].copy_from_slice(&src[n - VECTOR..]);
    }
}

/// Fills `dst` from the repeated element pattern `block`, in 64-byte
/// blocks, the last one overlapping the one before (or fixed-size moves
/// under 64 bytes). `dst` starts on an element and holds whole elements,
/// so every block starts on one (64 is a multiple of the element's bytes,
/// and so is `dst.len() - 64`).
#[inline(always)]
fn fill(dst: &mut [u8], block: &[u8; VECTOR]) {
    let n = dst.len();
    if n < VECTOR {
        pieces::store(dst, block);
        return;
    }
    let mut i = 0;
    while i + VECTOR <= n {
        dst[i..i + VECTOR].copy_from_slice(block);
        i += VECTOR;
    }
    if i < n {
        dst[n - VECTOR..].copy_from_slice(block);
    }
}
