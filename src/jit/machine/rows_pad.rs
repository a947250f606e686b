//! Constant padding with AVX-512 VBMI2 ([`Special::Pad`]) of a map whose
//! rows are back to back into another: an output plane is one run of bytes,
//! written 64 at a time. The interior pixels of a 64-byte block are the
//! next input bytes in order, so each block is one load of as many bytes
//! as it has interior pixels and one `vpexpandb` of them into the padding
//! value under the block's interior mask (from a bitmap of the plane made
//! once a job). A plane of `W` x `H` bytes takes `H W / 64` stores; the
//! generic row code filled the plane and then copied every row in.
//!
//! [`Special::Pad`]: crate::jit::native::Special::Pad

use std::arch::x86_64::*;

use super::avx512::lanes;
use super::rows_avx512::Rows;
use crate::jit::native::Grid;

/// Runs items `lo..hi` (output rows, channel-major) of a padding by
/// `(top, left)` with `value`: reads the whole input buffer, writes the
/// output rows into the part of the output buffer from byte `base` on. A
/// row outside either panics (the pool catches it).
///
/// # Safety
/// The host has AVX-512 F, BW and VBMI2, POPCNT, BMI1 and BMI2; `xg` and
/// `og` are dense (`Grid::dense`), `og` `top + xg.h` rows or more of
/// `left + xg.w` bytes or more.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi2,popcnt,bmi1,bmi2")]
pub(super) unsafe fn pad(
    (top, left, value): (usize, usize, u8),
    (xg, og): (Grid, Grid),
    (lo, hi, x, out, base): Rows,
) {
    let (ow, oh) = (og.w, og.h.max(1));
    let interior = Interior::new((top, left), (xg.h, xg.w), (oh, ow));
    let fill = _mm512_set1_epi8(value as i8);
    // The input bytes of the output rows before row `y` of a plane.
    let before = |y: usize| y.saturating_sub(top).min(xg.h) * xg.w;
    for c in lo / oh..hi.div_ceil(oh) {
        // This job's rows `y0..y1` of channel `c`, bytes `b0..b1` of the
        // plane.
        let (y0, y1) = (lo.max(c * oh) - c * oh, hi.min(c * oh + oh) - c * oh);
        if y0 >= y1 {
            continue;
        }
        let (b0, b1) = (y0 * ow, y1 * ow);
        let at = og.row(c, y0) - base;
        let dst = &mut out[at..at + (b1 - b0)];
        let from = xg.row(c, 0) + before(y0);
        let src = &x[from..from + before(y1) - before(y0)];
        let (mut d, mut s) = (dst.as_mut_ptr(), src.as_ptr());
        let mut b = b0;
        while b < b1 {
            // (`bzhi`: the low `n <= 64` bits without a branch.)
            let keep = _bzhi_u64(u64::MAX, (b1 - b).min(64) as u32);
            let inside = interior.at(b) & keep;
            let n = inside.count_ones();
            // SAFETY: the block's interior pixels are the next `n` bytes of
            // `src` (those of rows `y0..y1` in order), and its `keep` bytes
            // are in `dst`; both pointers advance by what was used.
            unsafe {
                let bytes = _mm512_maskz_loadu_epi8(_bzhi_u64(u64::MAX, n), s.cast());
                let block = _mm512_mask_expand_epi8(fill, inside, bytes);
                _mm512_mask_storeu_epi8(d.cast(), keep, block);
                s = s.add(n as usize);
                d = d.add(64);
            }
            b += 64;
        }
    }
}

/// The interior pixels of an output plane as a bitmap (bit `b` for byte
/// `b` of the plane), with a zero word after the last.
struct Interior(Vec<u64>);

impl Interior {
    fn new((top, left): (usize, usize), (h, w): (usize, usize), (oh, ow): (usize, usize)) -> Self {
        let mut bits = vec![0u64; (oh * ow).div_ceil(64) + 1];
        for y in top..(top + h).min(oh) {
            let (mut b, end) = (y * ow + left, y * ow + (left + w).min(ow));
            while b < end {
                let (word, bit) = (b / 64, b % 64);
                let n = (end - b).min(64 - bit);
                bits[word] |= lanes(n) << bit;
                b += n;
            }
        }
        Interior(bits)
    }

    /// Bits `b .. b + 64` (`b` inside the plane).
    fn at(&self, b: usize) -> u64 {
        let (word, bit) = (b / 64, b % 64);
        let low = self.0[word] >> bit;
        if bit == 0 {
            low
        } else {
            low | self.0[word + 1] << (64 - bit)
        }
    }
}
