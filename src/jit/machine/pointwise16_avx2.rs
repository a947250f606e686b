//! The AVX2 form of `pointwise16` (operands wider than u8 x i8; 1x1, or
//! KxK with column stride 1): each input row a job reads widened once
//! into a slot, every pair of input channels as 16-bit pairs (channel `2p`
//! in the low half of each dword, `2p + 1` in the high half; zero outside
//! the input); per output row, 32 pixels at a time, register blocks of two
//! output channels x `PV` vectors of 8 pixels, one `vpmaddwd` and one
//! `vpaddd` per tap, pair, vector and channel (wrapping adds: the sums are
//! exact modulo 2^32 and the plan proved the accumulators fit 32 bits),
//! then the stage's tail.
//!
//! Memory: AVX2 has no masked 16-bit loads or byte stores: 8 columns of
//! the input are loaded directly only where all 8 are inside the row, the
//! others through a stack copy, and the results are stored through stack
//! copies, so no access leaves the input's rows and columns or the output
//! row's pixels.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

#[cfg(target_arch = "x86_64")]
use super::pointwise16::Source;
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
    let Kind::Wide16 { pairs, window, .. } = st.kind() else {
        return;
    };
    let pairs = *pairs;
    let tail = Tail::new(st.requant());
    let (w, c) = (st.width(), st.channels());
    let or = st.out();
    let weights = st.weights();
    // Per tap and pair (`items` in all), where its widened pairs start.
    let items = window.taps.len() * pairs;
    let mut pix: Vec<*const i32> = vec![std::ptr::null(); items.max(1)];
    // Each input row read is widened once into a slot, as in
    // `pointwise16` (columns from `first`, `cols` of them a pair).
    let dxs = window.taps.iter().map(|t| t.1);
    let first = dxs.clone().min().unwrap_or(0);
    let reach = (dxs.max().unwrap_or(0) - first) as usize;
    let cols = (w.div_ceil(8) * 8 + reach).next_multiple_of(8);
    let mut slots = super::pointwise16::RowSlots::new(&window.taps, pairs * cols);
    let Some(source) = Source::of(st, x) else {
        return;
    };
    for oy in lo..hi {
        slots.load((oy * window.stride_h) as i64, &mut |iy, row| {
            // SAFETY: the caller's guarantees on `x`; this function's
            // features.
            unsafe { widen_row(&source, iy, (first, cols), row) }
        });
        let mut x0 = 0;
        while x0 < w {
            let pv = (w - x0).div_ceil(8).min(4);
            for (t, &(_, dx)) in window.taps.iter().enumerate() {
                let row = slots.row(t);
                for p in 0..pairs {
                    // Columns `x0 + dx ..` of pair `p`: `8 pv` dwords
                    // inside the slot.
                    let at = p * cols + (x0 as i64 + dx - first) as usize;
                    pix[t * pairs + p] = row[at..at + 8 * pv].as_ptr();
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

/// Input row `iy` of every pair of channels widened into `dst`, as
/// `pointwise16::widen_row` does: 8 columns at a time, loaded directly
/// where all 8 are inside the row, else through a stack copy of those
/// inside.
///
/// # Safety
/// The input's rows `0..in_h` of `in_w` elements of every channel are
/// inside the buffer at `src.x` (`fits`); the host has AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn widen_row(src: &Source, iy: i64, (first, cols): (i64, usize), dst: &mut [i32]) {
    let eb = src.in_bytes;
    for (p, pair) in dst.chunks_exact_mut(cols).enumerate() {
        for (k, lanes) in pair.chunks_exact_mut(8).enumerate() {
            // Lanes `lo_i..hi_i` read input columns `c0 + i` inside the
            // row; the others (and rows outside the input) are zero.
            let c0 = first + 8 * k as i64;
            let (lo_i, hi_i) = ((-c0).clamp(0, 8), (src.in_w - c0).clamp(0, 8));
            let any = (0..src.in_h).contains(&iy) && hi_i > lo_i;
            let load = |ch: usize| -> __m256i {
                if ch >= src.cin || !any {
                    return _mm256_setzero_si256();
                }
                let at = (src.origin + ch * src.plane) as i64 + iy * src.stride as i64 + c0 + lo_i;
                let from = src.x.wrapping_offset((eb as i64 * at) as isize);
                let b = if hi_i - lo_i == 8 {
                    // SAFETY: columns `c0..c0 + 8` of row `iy` of channel
                    // `ch` are inside the input's row, inside the buffer
                    // (the caller's guarantee): `8 eb` bytes.
                    unsafe {
                        if eb == 2 {
                            _mm_loadu_si128(from.cast())
                        } else {
                            _mm_loadl_epi64(from.cast())
                        }
                    }
                } else {
                    let mut buf = [0u8; 16];
                    // SAFETY: columns `c0 + lo_i..c0 + hi_i` of the row,
                    // as above; `buf` takes up to 8 elements of 2 bytes.
                    unsafe {
                        std::ptr::copy_nonoverlapping(
                            from,
                            buf.as_mut_ptr().add(eb * lo_i as usize),
                            eb * (hi_i - lo_i) as usize,
                        );
                        _mm_loadu_si128(buf.as_ptr().cast())
                    }
                };
                match (eb, src.in_signed) {
                    (2, _) => _mm256_cvtepu16_epi32(b),
                    (_, true) => _mm256_cvtepi8_epi32(b),
                    _ => _mm256_cvtepu8_epi32(b),
                }
            };
            let low = _mm256_and_si256(load(2 * p), _mm256_set1_epi32(0xFFFF));
            let high = _mm256_slli_epi32::<16>(load(2 * p + 1));
            // SAFETY: a store of the 8 dwords of `lanes`.
            unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), _mm256_or_si256(low, high)) };
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
/// Each of `pix` points to `8 PV` dwords (the widened pairs of a tap and
/// pair of channels), `w` holds `N * pairs` weights; `dst` may
/// take `dst.pixels` elements of channels `o..o + N`.
#[cfg(target_arch = "x86_64")]
#[inline(never)]
#[target_feature(enable = "avx2")]
unsafe fn block<const PV: usize, const N: usize>(
    tail: &Tail,
    pix: &[*const i32],
    w: &[i32],
    pairs: usize,
    dst: &Dst,
    o: usize,
) {
    let mut acc = [[_mm256_setzero_si256(); PV]; N];
    let wp = w.as_ptr();
    for (p, &from) in pix.iter().enumerate().take(pairs.min(w.len() / N.max(1))) {
        // SAFETY: `from` points to `8 PV` dwords (the caller's guarantee),
        // `j pairs + p < w.len()`.
        let a: [__m256i; PV] =
            std::array::from_fn(|v| unsafe { _mm256_loadu_si256(from.add(8 * v).cast()) });
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
