//! The AVX-512 depthwise convolution of narrow maps (output rows of at
//! most 32 pixels): `R = 64 / P` output rows of one channel share the 64
//! lanes of a register block, `P` (8, 16 or 32) lanes a row, where the
//! row-wide kernels (`depthwise_avx512::loaded`, `depthwise_gather`) fill
//! 64 lanes with one row and leave `64 - W` of them idle (28 of 64 pixels
//! used on 28 x 28 maps, 7 of 64 on 7 x 7).
//!
//! Slot `s = 16 p + j` (lane `j` of pixel vector `p`) is pixel `s % P` of
//! output row `y + s / P`. With `P >= 16` the 16 pixels of vector `p` lie
//! in one row: per kernel row and quad of taps one 64-byte load from that
//! input row, from the column of its first pixel, and one `vpermb` by the
//! same window table for every vector (lane `j` takes bytes `SW j + t DW`,
//! `t < 4`) make the `vpdpbusd` operand. With `P = 8` vector `p` holds
//! rows `2 p` and `2 p + 1`: one `vpermt2b` of the two rows' loads. When
//! the vectors and kernel rows read the same input rows often enough
//! (stride 1, taller kernels, and always at `P = 8`) each row's windows
//! are gathered once per block into a scratch array and weighed from
//! there by every vector and kernel row that reads them.
//! Any row and column stride (1 to 4), dilation and kernel height, rows
//! of up to 8 taps (two quads), as long as a vector's windows lie in 64
//! bytes (`fits`).
//!
//! Memory: the loads of vector `p` start at column `sw (16 p % P) + q
//! step - pad_left` of its input row, at most `16 sw + step - pad_left`,
//! and end 64 bytes later, within the `bases[3] + 128 + step` bytes from
//! column `-pad_left` that `NativeStage::fits` checked against the buffer
//! and its spare bytes (`bases[3] + 128 >= 16 sw + 64` for every stride).
//! Rows of a block past the map (or past the job's items) load the block's
//! first row and are not stored. With `MASKED` (an input without a halo)
//! the loads are masked to the input's columns and to zero on rows outside
//! it, which read as the zero padding and are never accessed (AVX-512
//! masked loads suppress faults).

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

#[cfg(target_arch = "x86_64")]
use super::avx512::{column_masks, lanes, store, Form};
#[cfg(target_arch = "x86_64")]
use super::tail_avx512::Tail;
#[cfg(target_arch = "x86_64")]
use crate::jit::native::{Kind, NativeStage};

/// The lanes a row takes (8, 16 or 32) when the packed kernel computes the
/// depthwise stage `st`: output rows of at most 32 pixels, and every
/// vector's windows within its 64-byte loads.
pub(super) fn row_lanes(st: &NativeStage) -> Option<usize> {
    let &Kind::Depthwise {
        stride: (_, sw),
        quads: (_, step),
        ..
    } = st.kind()
    else {
        return None;
    };
    let (w, dw) = (st.width(), step / 4);
    let p = w.max(8).next_power_of_two();
    let span = |pixels: usize| (pixels - 1) * sw + 3 * dw;
    (p <= 32 && span(p.min(16)) < 64).then_some(p)
}

/// Runs items `lo..hi` (channel rows) of the depthwise stage `st` with
/// input `x` and output `out`, `64 / P` rows at a time; `FORM` is the
/// tail's [`Form`], `MASKED` whether the input lacks the halo
/// (`Kind::Depthwise::borders`), `Q` the quads a kernel row.
///
/// # Safety
/// See `avx512::run`; `P` is `row_lanes(st)`, `FORM`, `MASKED` and `Q`
/// are the stage's.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
pub(super) unsafe fn packed<const FORM: u8, const MASKED: bool, const P: usize, const Q: usize>(
    (st, x, out, lo, hi): (&NativeStage, *const u8, *mut u8, usize, usize),
) {
    let &Kind::Depthwise {
        kh,
        pad_top,
        pad_left,
        stride: (sh, sw),
        dilation_h,
        quads: (_, step),
        borders,
        ..
    } = st.kind()
    else {
        return;
    };
    debug_assert!(row_lanes(st) == Some(P));
    let (in_h, in_w) = borders.unwrap_or((usize::MAX, usize::MAX));
    let tail = Tail::new(st.requant());
    let finish = Finish::new::<FORM, P>(st, &tail);
    let rows = 64 / P;
    let dw = step / 4;
    // Lane `j` of a vector: pixel `j % P` of its first row (P >= 16), or
    // of the second row's load (`+ 64`) from lane 8 (P = 8).
    let windows = {
        let mut idx = [0u8; 64];
        for (i, v) in idx.iter_mut().enumerate() {
            let (j, t) = (i / 4, i % 4);
            *v = ((j % P.min(16)) * sw + t * dw + 64 * (j / P.min(16))) as u8;
        }
        // SAFETY: `idx` is 64 bytes.
        unsafe { _mm512_loadu_si512(idx.as_ptr().cast()) }
    };
    let row_of = |p: usize| 16 * p / P;
    let half = |p: usize| if P == 32 { p % 2 } else { 0 };
    // Kernel row `ky` of vector `p` reads input row `i = sh row_of(p) + ky
    // dh` from the block's first (and at P = 8 row `i + sh` too): the
    // windows of each row (each quad and half) are gathered once into
    // `wins[(i Q + q) halves + h]`, then weighed by every vector and kernel
    // row that reads them (a `vpdpbusd` from memory).
    let halves = if P == 32 { 2 } else { 1 };
    let span = sh * row_of(3) + (kh - 1) * dilation_h + 1;
    let mut wins = vec![_mm512_setzero_si512(); span * Q * halves];
    // Offsets in `wins` of vector `p`'s windows for kernel row 0, quad 0,
    // and the step to the next kernel row.
    let first: [usize; 4] = std::array::from_fn(|p| sh * row_of(p) * Q * halves + half(p));
    let next_row = dilation_h * Q * halves;
    // Without enough reuse (kernel rows read by the vectors over at least
    // 2/5 as many windows as they weigh) the scratch array's stores and
    // loads cost more than they save: each vector gathers its own windows
    // (measured: 3x3 and 5x5 stride 2 at 16 lanes a row, 3x3 to 7x7 at
    // 32). At 8 lanes a row (two loads and a `vpermt2b` a window) sharing
    // pays from 3x3 on.
    let direct = P != 8 && 5 * span * halves > 8 * kh;
    // With `MASKED`: the masks of the loads of quad `q` of half `h`
    // (columns from `sw 16 h + q step - pad_left`) that keep the input's
    // columns `0..in_w`.
    let masks: [[u64; 2]; Q] = std::array::from_fn(|q| {
        std::array::from_fn(|h| {
            let first = (sw * 16 * h + q * step) as i64 - pad_left as i64;
            if MASKED {
                column_masks(first, in_w as i64).0
            } else {
                u64::MAX
            }
        })
    });
    let (stride, plane) = (st.x().stride as isize, st.x().plane as isize);
    let h = st.height();
    // The gathered windows' rows for the block rows `(y, n)` of
    // `gather_key` (the same for every channel): per window `i` and load
    // `l`, the row's offset from the channel's column `-pad_left` in
    // `row_at[2 i + l]`, and with `MASKED` its masks per quad and half
    // (zero for rows outside the input).
    let mut gather_key = (usize::MAX, 0);
    let mut row_at = vec![0isize; 2 * span];
    let mut row_masks = vec![0u64; 2 * span * Q * halves];
    let mut item = lo;
    while item < hi {
        let (c, y) = (item / h, item % h);
        let n = rows.min(h - y).min(hi - item);
        item += n;
        let taps = &st.weights()[c * kh * Q..(c + 1) * kh * Q];
        // Input row of the block's input row 0, the offset of its column
        // `-pad_left`, and its last row that an output row of the block
        // reads (the rows of output rows past `n` read no further).
        let top = (sh * y) as isize - pad_top as isize;
        let base = st.x().origin as isize + c as isize * plane - pad_left as isize;
        let last = sh * (n - 1) + (kh - 1) * dilation_h;
        let mut acc = [_mm512_setzero_si512(); 4];
        if !direct && gather_key != (y, n) {
            gather_key = (y, n);
            for i in 0..span {
                // The rows loaded (the second at P = 8 only).
                let rows = [i.min(last), (i + sh).min(last)];
                for (l, &r) in rows.iter().enumerate() {
                    let iy = top + r as isize;
                    let inside = (0..in_h as isize).contains(&iy);
                    row_at[2 * i + l] = iy * stride;
                    for (q, quad_masks) in masks.iter().enumerate() {
                        for (hf, &mask) in quad_masks.iter().enumerate().take(halves) {
                            row_masks[((2 * i + l) * Q + q) * halves + hf] =
                                if inside { mask } else { 0 };
                        }
                    }
                }
            }
        }
        if direct {
            for (ky, row) in taps.chunks_exact(Q).enumerate() {
                let dy = ky * dilation_h;
                for (q, &tap) in row.iter().enumerate() {
                    let wv = _mm512_set1_epi32(tap);
                    for p in 0..4 {
                        let col = (sw * 16 * half(p) + q * step) as isize;
                        let i = sh * row_of(p) + dy;
                        let rows = [i.min(last), (i + sh).min(last)];
                        let mut loads = [_mm512_setzero_si512(); 2];
                        for (l, &r) in loads.iter_mut().zip(&rows).take(if P == 8 { 2 } else { 1 })
                        {
                            let iy = top + r as isize;
                            let at = x.wrapping_offset(base + iy * stride + col);
                            *l = if MASKED {
                                let m = if (0..in_h as isize).contains(&iy) {
                                    masks[q][half(p)]
                                } else {
                                    0
                                };
                                // SAFETY: the mask keeps the input's own
                                // bytes (see the module's memory note).
                                unsafe { _mm512_maskz_loadu_epi8(m, at.cast()) }
                            } else {
                                // SAFETY: see the module's memory note.
                                unsafe { _mm512_loadu_si512(at.cast()) }
                            };
                        }
                        let v = if P == 8 {
                            _mm512_permutex2var_epi8(loads[0], windows, loads[1])
                        } else {
                            _mm512_permutexvar_epi8(windows, loads[0])
                        };
                        acc[p] = _mm512_dpbusd_epi32(acc[p], v, wv);
                    }
                }
            }
        } else {
            let wp = wins.as_mut_ptr();
            for i in 0..span {
                for q in 0..Q {
                    for hf in 0..halves {
                        let col = (sw * 16 * hf + q * step) as isize;
                        // (A loop, not a closure: closures lose the target
                        // features.)
                        let mut loads = [_mm512_setzero_si512(); 2];
                        for (l, ld) in loads
                            .iter_mut()
                            .enumerate()
                            .take(if P == 8 { 2 } else { 1 })
                        {
                            let at = x.wrapping_offset(base + row_at[2 * i + l] + col);
                            *ld = if MASKED {
                                let m = row_masks[((2 * i + l) * Q + q) * halves + hf];
                                // SAFETY: the mask keeps the input's own
                                // bytes (see the module's memory note).
                                unsafe { _mm512_maskz_loadu_epi8(m, at.cast()) }
                            } else {
                                // SAFETY: see the module's memory note.
                                unsafe { _mm512_loadu_si512(at.cast()) }
                            };
                        }
                        let v = if P == 8 {
                            _mm512_permutex2var_epi8(loads[0], windows, loads[1])
                        } else {
                            _mm512_permutexvar_epi8(windows, loads[0])
                        };
                        // SAFETY: `(i Q + q) halves + hf < span Q halves`,
                        // the length of `wins`.
                        unsafe { wp.add((i * Q + q) * halves + hf).write(v) };
                    }
                }
            }
            for (ky, row) in taps.chunks_exact(Q).enumerate() {
                let at = ky * next_row;
                for (q, &tap) in row.iter().enumerate() {
                    let wv = _mm512_set1_epi32(tap);
                    for p in 0..4 {
                        // SAFETY: the offset is that of row `sh row_of(p) + ky
                        // dh < span`, quad `q`, half `half(p)`: in `wins`.
                        let v = unsafe { wp.add(first[p] + at + q * halves).read() };
                        acc[p] = _mm512_dpbusd_epi32(acc[p], v, wv);
                    }
                }
            }
        }
        // SAFETY: `c` is a channel of the output and `y .. y + n` rows
        // of it.
        unsafe { finish.store(acc, out, c, y, n) };
    }
}

/// The tail and the stores of a block of the narrow-map kernels: the 64
/// sums of `64 / P` output rows of one channel, slot `16 p + j` (lane `j`
/// of vector `p`) pixel `s % P` of row `s / P`.
#[cfg(target_arch = "x86_64")]
pub(super) struct Finish<'a> {
    st: &'a NativeStage,
    tail: &'a Tail<'a>,
    fast: Option<super::tail_avx512::Fast<'a>>,
    mirror: Option<super::tail_avx512::Mirror<'a>>,
    plain: bool,
    /// Pack order to slot order, or with the output's rows back to back
    /// (`dense`) to the block's rows one after the other.
    order: __m512i,
    dense: bool,
    lanes_a_row: usize,
}

#[cfg(target_arch = "x86_64")]
impl<'a> Finish<'a> {
    /// `FORM` is the stage's tail [`Form`], `P` its lanes a row.
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
    pub(super) fn new<const FORM: u8, const P: usize>(
        st: &'a NativeStage,
        tail: &'a Tail<'a>,
    ) -> Self {
        let (fast, mirror) = tail.forms(FORM);
        let plain = FORM == Form::MirroredPlain as u8;
        // Pack order (byte `16 L + 4 p + i` is lane `4 L + i` of vector
        // `p`) to slot order (byte `16 p + j` is lane `j` of vector `p`);
        // with the output's rows back to back (`dense`), to the block's
        // rows one after the other (byte `W r + x` is pixel `x` of row `r`,
        // slot `P r + x`).
        let (w, dense) = (st.width(), st.out().stride == st.width());
        let order = {
            let pack = |s: usize| {
                let (p, l) = (s / 16, s % 16);
                (16 * (l / 4) + 4 * p + l % 4) as u8
            };
            let idx: [u8; 64] = std::array::from_fn(|b| {
                if dense {
                    pack((P * (b / w) + b % w).min(63))
                } else {
                    pack(b)
                }
            });
            // SAFETY: `idx` is 64 bytes.
            unsafe { _mm512_loadu_si512(idx.as_ptr().cast()) }
        };
        Finish {
            st,
            tail,
            fast,
            mirror,
            plain,
            order,
            dense,
            lanes_a_row: P,
        }
    }

    /// Applies the tail to the sums `acc` of rows `y .. y + n` of channel
    /// `c` and stores their pixels.
    ///
    /// # Safety
    /// `out` is the output buffer, with the stage's rows `(c, y .. y + n)`
    /// inside it; no other thread writes them.
    #[inline(always)]
    pub(super) unsafe fn store(
        &self,
        acc: [__m512i; 4],
        out: *mut u8,
        c: usize,
        y: usize,
        n: usize,
    ) {
        let (st, p) = (self.st, self.lanes_a_row);
        // A copy for the tails (see `depthwise_avx512::loaded`).
        let sums = acc;
        // SAFETY: this function's target features; `c` is a channel.
        let packed = match (&self.fast, &self.mirror) {
            (Some(f), _) => unsafe { f.packed4(&sums, f.channel(c)) },
            (None, Some(m)) if self.plain => unsafe { m.packed4::<true>(&sums, c) },
            (None, Some(m)) => unsafe { m.packed4::<false>(&sums, c) },
            (None, None) => self.tail.apply4_packed(&sums, self.tail.channel(c)),
        };
        let bytes = _mm512_permutexvar_epi8(self.order, packed);
        let w = st.width();
        let at = st.out().origin + c * st.out().plane + y * st.out().stride;
        if self.dense {
            // SAFETY: rows (c, y .. y + n) are inside the output, back to
            // back: the mask keeps their `n w` bytes.
            unsafe { store(out.add(at), lanes(n * w), bytes) };
        } else {
            for r in 0..n {
                // SAFETY: row (c, y + r) is inside the output; the mask
                // keeps its `w` pixels, bytes `r P ..` of `bytes`, stored
                // from `r P` bytes before the row (not written).
                unsafe {
                    store(
                        out.wrapping_add(at + r * st.out().stride)
                            .wrapping_sub(r * p),
                        lanes(w) << (r * p),
                        bytes,
                    )
                };
            }
        }
    }
}
