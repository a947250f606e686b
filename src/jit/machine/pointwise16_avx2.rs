//! The AVX2 form of `pointwise16` (operands wider than u8 x i8; 1x1, or
//! KxK with column stride 1): per output row, 32 pixels at a time, every
//! window tap's pair of input channels widened once to 16-bit pairs
//! (channel `2p` in the low half of each dword, `2p + 1` in the high half;
//! zero outside the input), then register blocks of two output channels x
//! `PV` vectors of 8 pixels, one `vpmaddwd` and one `vpaddd` per tap, pair,
//! vector and channel (wrapping adds: the sums are exact modulo 2^32 and
//! the plan proved the accumulators fit 32 bits), then the stage's tail.
//!
//! Memory: AVX2 has no masked 16-bit loads or byte stores: the inputs are
//! loaded and the results stored through stack copies, so no access leaves
//! the input's rows and columns or the output row's pixels.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

#[cfg(target_arch = "x86_64")]
use super::tail_avx2::Tail;
#[cfg(target_arch = "x86_64")]
use crate::jit::native::{Kind, NativeStage};

/// Output channels per register block.
const BLOCK: usize = 2;

/// Rows `lo..hi` of the wide-operand stage `st`.
///
/// # Safety
/// As `pointwise16::pointwise16`, with AVX2 instead of AVX-512.
#[cfg(target_arch = "x86_64")]
#[inline(never)]
#[target_feature(enable = "avx2")]
pub(super) unsafe fn pointwise16(
    st: &NativeStage,
    x: *const u8,
    out: *mut u8,
    lo: usize,
    hi: usize,
) {
    let Kind::Wide16 {
        cin,
        pairs,
        in_bytes,
        in_signed,
        window,
    } = st.kind()
    else {
        return;
    };
    let (cin, pairs, in_bytes, in_signed) = (*cin, *pairs, *in_bytes, *in_signed);
    let tail = Tail::new(st.requant());
    let (w, c) = (st.width(), st.channels());
    let (xr, or) = (st.x(), st.out());
    let weights = st.weights();
    // Per tap and pair (`items` in all), the 4 vectors of widened pairs.
    let items = window.taps.len() * pairs;
    let mut pix = vec![_mm256_setzero_si256(); items.max(1) * 4];
    let (in_h, in_w) = (window.in_h as i64, window.in_w as i64);
    for oy in lo..hi {
        let mut x0 = 0;
        while x0 < w {
            let pv = (w - x0).div_ceil(8).min(4);
            for (t, &(dy, dx)) in window.taps.iter().enumerate() {
                let iy = (oy * window.stride_h) as i64 + dy;
                for p in 0..pairs {
                    for v in 0..pv {
                        let px = x0 + 8 * v;
                        let n = (w - px).min(8) as i64;
                        // Lanes `lo_i..hi_i` read input columns `c0 + i`
                        // inside the row; the others (and rows outside the
                        // input) are zero.
                        let c0 = px as i64 + dx;
                        let (lo_i, hi_i) = ((-c0).clamp(0, n), (in_w - c0).clamp(0, n));
                        let any = (0..in_h).contains(&iy) && hi_i > lo_i;
                        let load = |ch: usize| -> __m256i {
                            if ch >= cin || !any {
                                return _mm256_setzero_si256();
                            }
                            let at = (xr.origin + ch * xr.plane) as i64
                                + iy * xr.stride as i64
                                + c0
                                + lo_i;
                            let mut buf = [0u8; 16];
                            let skip = in_bytes * lo_i as usize;
                            // SAFETY: columns `c0 + lo_i..c0 + hi_i` of row
                            // `iy` of channel `ch` lie inside the input's
                            // row, inside `x` (`fits`); `buf` takes up to 8
                            // elements of 2 bytes.
                            unsafe {
                                std::ptr::copy_nonoverlapping(
                                    x.wrapping_offset((in_bytes as i64 * at) as isize),
                                    buf.as_mut_ptr().add(skip),
                                    in_bytes * (hi_i - lo_i) as usize,
                                )
                            };
                            // SAFETY: `buf` holds 16 bytes.
                            let b = unsafe { _mm_loadu_si128(buf.as_ptr().cast()) };
                            match (in_bytes, in_signed) {
                                (2, _) => _mm256_cvtepu16_epi32(b),
                                (_, true) => _mm256_cvtepi8_epi32(b),
                                _ => _mm256_cvtepu8_epi32(b),
                            }
                        };
                        let low = _mm256_and_si256(load(2 * p), _mm256_set1_epi32(0xFFFF));
                        let high = _mm256_slli_epi32::<16>(load(2 * p + 1));
                        pix[4 * (t * pairs + p) + v] = _mm256_or_si256(low, high);
                    }
                }
            }
            let mut o = 0;
            while o < c {
                let nb = (c - o).min(BLOCK);
                let dst = Dst {
                    out,
                    at: or.origin + o * or.plane + oy * or.stride + x0,
                    plane: or.plane,
                    pixels: (w - x0).min(32),
                    bytes: st.out_bytes(),
                };
                let wt = &weights[o * items..(o + nb) * items];
                // SAFETY: the caller's guarantees; `dst` addresses output
                // channels `o..o + nb`, pixels `x0..` of row `oy`.
                unsafe {
                    match (pv, nb) {
                        (1, 1) => block::<1, 1>(&tail, &pix, wt, items, &dst, o),
                        (2, 1) => block::<2, 1>(&tail, &pix, wt, items, &dst, o),
                        (3, 1) => block::<3, 1>(&tail, &pix, wt, items, &dst, o),
                        (_, 1) => block::<4, 1>(&tail, &pix, wt, items, &dst, o),
                        (1, _) => block::<1, 2>(&tail, &pix, wt, items, &dst, o),
                        (2, _) => block::<2, 2>(&tail, &pix, wt, items, &dst, o),
                        (3, _) => block::<3, 2>(&tail, &pix, wt, items, &dst, o),
                        (_, _) => block::<4, 2>(&tail, &pix, wt, items, &dst, o),
                    }
                };
                o += nb;
            }
            x0 += 32;
        }
    }
}

/// Where a block stores: element `at` of channel `o` (then `plane`
/// elements a channel), `pixels` pixels, `bytes` bytes an element.
#[cfg(target_arch = "x86_64")]
struct Dst {
    out: *mut u8,
    at: usize,
    plane: usize,
    pixels: usize,
    bytes: usize,
}

/// Output channels `o..o + N` of `8 PV` pixels: one `vpmaddwd` and one
/// `vpaddd` per pair, vector and channel, then the tail and the stores.
///
/// # Safety
/// `pix` holds `4 * pairs` vectors, `w` `N * pairs` weights; `dst` may
/// take `dst.pixels` elements of channels `o..o + N`.
#[cfg(target_arch = "x86_64")]
#[inline(never)]
#[target_feature(enable = "avx2")]
unsafe fn block<const PV: usize, const N: usize>(
    tail: &Tail,
    pix: &[__m256i],
    w: &[i32],
    pairs: usize,
    dst: &Dst,
    o: usize,
) {
    let mut acc = [[_mm256_setzero_si256(); PV]; N];
    let (pp, wp) = (pix.as_ptr(), w.as_ptr());
    for p in 0..pairs.min(pix.len() / 4).min(w.len() / N.max(1)) {
        // SAFETY: `4 p + v < pix.len()`, `j pairs + p < w.len()`.
        let a: [__m256i; PV] = std::array::from_fn(|v| unsafe { *pp.add(4 * p + v) });
        for (j, acc_j) in acc.iter_mut().enumerate() {
            let wv = _mm256_set1_epi32(unsafe { *wp.add(j * pairs + p) });
            for (acc_v, &a_v) in acc_j.iter_mut().zip(&a) {
                *acc_v = _mm256_add_epi32(*acc_v, _mm256_madd_epi16(a_v, wv));
            }
        }
    }
    // SAFETY: the caller's guarantee on `dst`.
    unsafe { finish::<PV, N>(&acc, tail, dst, o) }
}

/// The tail and the stores of a block's accumulators, through a stack
/// copy of each channel's results.
///
/// # Safety
/// As [`block`].
#[cfg(target_arch = "x86_64")]
#[inline(never)]
#[target_feature(enable = "avx2")]
unsafe fn finish<const PV: usize, const N: usize>(
    acc: &[[__m256i; PV]; N],
    tail: &Tail,
    dst: &Dst,
    o: usize,
) {
    let eb = dst.bytes;
    let mut buf = [0u8; 4 * 32];
    for (j, acc_j) in acc.iter().enumerate() {
        let k = tail.channel(o + j);
        for (v, &a) in acc_j.iter().enumerate() {
            let at = buf.as_mut_ptr().wrapping_add(8 * v * eb);
            // SAFETY: `at` has `8 eb` bytes of `buf` (v < 4, eb <= 4).
            unsafe {
                match eb {
                    1 => _mm_storel_epi64(at.cast(), tail.apply(a, k)),
                    2 => {
                        let r = tail.result(a, k);
                        // The low 16 bits of each lane, in order.
                        let s = _mm256_shuffle_epi8(
                            r,
                            _mm256_setr_epi8(
                                0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1, 0, 1, 4,
                                5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1,
                            ),
                        );
                        let s = _mm256_permute4x64_epi64::<0b1000>(s);
                        _mm_storeu_si128(at.cast(), _mm256_castsi256_si128(s));
                    }
                    _ => _mm256_storeu_si256(at.cast(), tail.result(a, k)),
                }
            }
        }
        let to = dst.out.wrapping_add(eb * (dst.at + j * dst.plane));
        // SAFETY: the caller's guarantee: `pixels` elements from `to`.
        unsafe { std::ptr::copy_nonoverlapping(buf.as_ptr(), to, dst.pixels * eb) };
    }
}
