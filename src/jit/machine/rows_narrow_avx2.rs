//! Max pooling on rows of at most 16 columns with AVX2: two output rows
//! in one register, one a 16-byte lane, as `rows_narrow` does with
//! AVX-512 VBMI (which AVX2 lacks: its byte shuffle stays within a lane,
//! which is all a row of 16 columns needs).
//!
//! Per output row, the maxima over its window rows of the 16 bytes from
//! column 0; then per window column `kx` one `vpshufb` moves output `j`'s
//! column `j sw + kx - pl` to byte `j`, or zero where that column is
//! padding. Signed bytes are compared as unsigned with the sign bit
//! flipped, so that zero is the type's minimum, which padding never
//! exceeds. Any window, stride and padding.

use std::arch::x86_64::*;

use super::rows_avx512::{store_part256, window_rows};
use crate::jit::native::Grid;

/// Items `lo..hi`, the input buffer, the output part and where it starts.
type Rows<'a> = (usize, usize, &'a [u8], &'a mut [u8], usize);

/// Window `(kh, kw)`, stride `(sh, sw)`, padding `(top, left)`.
pub(super) type Window = ((usize, usize), (usize, usize), (usize, usize));

/// The 16 bytes of row `at` of `x`, sign bits flipped with `SIGNED`:
/// loaded whole where `x` holds them, else copied (the last rows of the
/// buffer).
#[inline(always)]
fn row16<const SIGNED: bool>(x: &[u8], at: usize, w: usize) -> __m128i {
    // SAFETY (intrinsics): callers are compiled with AVX2.
    unsafe {
        let v = if at + 16 <= x.len() {
            // SAFETY: the 16 bytes from `at` are in `x`.
            _mm_loadu_si128(x.as_ptr().add(at).cast())
        } else {
            let mut buf = [0u8; 16];
            buf[..w].copy_from_slice(&x[at..at + w]);
            _mm_loadu_si128(buf.as_ptr().cast())
        };
        if SIGNED {
            _mm_xor_si128(v, _mm_set1_epi8(i8::MIN))
        } else {
            v
        }
    }
}

/// Max pooling of output rows `lo..hi` (channel-major), two at a time.
/// False, doing nothing, for rows wider than 16 columns.
#[target_feature(enable = "avx2")]
#[inline(never)]
pub(super) fn max_pool<const SIGNED: bool>(
    ((kh, kw), (sh, sw), (pt, pl)): Window,
    (xg, og): (Grid, Grid),
    (lo, hi, x, out, base): Rows,
) -> bool {
    let (w, ow, oh) = (xg.w, og.w, og.h.max(1));
    if w > 16 || ow > 16 || ow == 0 {
        return false;
    }
    // Per window column: output `j` takes byte `j sw + kx - pl`, or zero
    // (bit 7 set) where that is padding.
    let taps: Vec<__m256i> = (0..kw)
        .filter_map(|kx| {
            let mut idx = [0x80u8; 16];
            let mut any = false;
            for (j, b) in idx.iter_mut().enumerate().take(ow) {
                let col = (j * sw + kx) as isize - pl as isize;
                if (0..w as isize).contains(&col) {
                    *b = col as u8;
                    any = true;
                }
            }
            // SAFETY: a load of the 16 bytes of `idx`, in both lanes.
            any.then(|| unsafe {
                _mm256_broadcastsi128_si256(_mm_loadu_si128(idx.as_ptr().cast()))
            })
        })
        .collect();
    let window_max = |c: usize, oy: usize| {
        let mut v = _mm_setzero_si128();
        for iy in window_rows(oy, (kh, sh, pt), xg.h) {
            v = _mm_max_epu8(v, row16::<SIGNED>(x, xg.row(c, iy), w));
        }
        v
    };
    let (mut c, mut oy, mut item) = (lo / oh, lo % oh, lo);
    while item < hi {
        // Rows `oy` and `oy + 1` of channel `c`, when the job and the
        // channel have both.
        let two = oy + 1 < oh && item + 1 < hi;
        let low = window_max(c, oy);
        let high = if two { window_max(c, oy + 1) } else { low };
        let v = _mm256_inserti128_si256::<1>(_mm256_castsi128_si256(low), high);
        let mut acc = _mm256_setzero_si256();
        for &t in &taps {
            acc = _mm256_max_epu8(acc, _mm256_shuffle_epi8(v, t));
        }
        if SIGNED {
            acc = _mm256_xor_si256(acc, _mm256_set1_epi8(i8::MIN));
        }
        let start = og.row(c, oy) - base;
        // SAFETY: `store_part256` writes the first `ow` bytes of the row.
        unsafe { store_part256(out[start..start + ow].as_mut_ptr(), ow, acc) };
        if two {
            let start = og.row(c, oy + 1) - base;
            let high_lane = _mm256_permute2x128_si256::<0x11>(acc, acc);
            // SAFETY: as above, the high lane into the next row.
            unsafe { store_part256(out[start..start + ow].as_mut_ptr(), ow, high_lane) };
        }
        let n = if two { 2 } else { 1 };
        item += n;
        oy += n;
        if oy == oh {
            (c, oy) = (c + 1, 0);
        }
    }
    true
}
