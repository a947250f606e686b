//! The AVX2 direct convolution's repacking (`conv_avx2`): each input row
//! it needs, once, into quad rows of the window (`native::conv`): four
//! bytes of a dword from four channels (or taps), one dword per output
//! column of a column phase.
//!
//! Column stride 1 interleaves the input rows in place. Column stride 2
//! with quads of four channels (`repack_avx512::quad_map`) interleaves each
//! channel quad's row once and picks both phases' dwords from it
//! ([`repack_quads2`]); every other form first splits each channel's row
//! into its phase rows ([`split_half`] and a byte loop beyond stride 2).

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

#[cfg(target_arch = "x86_64")]
use super::repack_avx512::{channel_rows, input_row, phase_rows, quad_sources, Window};
#[cfg(target_arch = "x86_64")]
use crate::jit::native::{Direct, NativeStage};

/// 32 bytes from `p`, of which only the first `len` are used (zero
/// after). Bytes `p - back .. p + len` are readable: a short load ends
/// at `p + len` and is shifted into place (`tail16`), not copied through
/// the stack (a byte copy then a vector load stalled store forwarding:
/// 7% of a stride-2 3 x 3 convolution on Zen 3).
///
/// # Safety
/// Bytes `p - back .. p + len` are readable.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn load_upto(p: *const u8, len: usize, back: usize) -> __m256i {
    // SAFETY (each): the loads read `p + len - 16 .. p + len` at most
    // (`back + len >= 16`), or `len >= 16` bytes from `p`.
    unsafe {
        if len >= 32 {
            return _mm256_loadu_si256(p.cast());
        }
        if len >= 16 {
            let low = _mm_loadu_si128(p.cast());
            return _mm256_setr_m128i(low, tail16(p.add(len - 16), len - 16));
        }
        if back + len >= 16 {
            return _mm256_zextsi128_si256(tail16(p.add(len).sub(16), len));
        }
    }
    let mut buf = [0u8; 32];
    // SAFETY: `len` readable bytes.
    buf[..len].copy_from_slice(unsafe { std::slice::from_raw_parts(p, len) });
    // SAFETY: `buf` is 32 bytes.
    unsafe { _mm256_loadu_si256(buf.as_ptr().cast()) }
}

/// The last `m` (at most 16) of the 16 bytes at `q`, moved to the front,
/// zero after.
///
/// # Safety
/// 16 readable bytes at `q`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn tail16(q: *const u8, m: usize) -> __m128i {
    let iota = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    // SAFETY: the caller's 16 bytes.
    let v = unsafe { _mm_loadu_si128(q.cast()) };
    // Byte `i < m` from byte `i + 16 - m`; the rest masked to zero.
    let pick = _mm_add_epi8(iota, _mm_set1_epi8((16 - m) as i8));
    let keep = _mm_cmpgt_epi8(_mm_set1_epi8(m as i8), iota);
    _mm_and_si128(_mm_shuffle_epi8(v, pick), keep)
}

/// Prefetches the input rows output row `oy` needs that the window does not
/// hold yet (every channel's readable bytes), while the current row runs.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub(super) fn prefetch_rows(st: &NativeStage, d: &Direct, x: *const u8, oy: usize, win: &Window) {
    let (ry, base) = d.row_phase(oy);
    let ring = d.ring() as i64;
    let cin = d.groups * d.cin_g;
    let (lo, hi) = d.readable;
    for &r in &d.row_lists[ry] {
        let iy = base + r;
        if win.tags[iy.rem_euclid(ring) as usize] == iy {
            continue;
        }
        for c in 0..cin {
            let row = input_row(st, d, x, iy, c);
            let mut b = lo;
            while b < hi {
                // A prefetch never faults, inside the buffer or not.
                _mm_prefetch::<_MM_HINT_T0>(row.wrapping_add(b).cast());
                b += 64;
            }
            _mm_prefetch::<_MM_HINT_T0>(row.wrapping_add(hi - 1).cast());
        }
    }
}

/// Repacks input row `iy` into window slot `slot`: by [`repack_quads2`]
/// when `map` (`repack_avx512::quad_map`, column stride 2), else by
/// [`repack`].
///
/// # Safety
/// As `repack_avx512::repack`; `map` is `quad_map(d)` or `None`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub(super) unsafe fn repack_row(
    st: &NativeStage,
    d: &Direct,
    map: Option<&[[Option<usize>; 4]]>,
    x: *const u8,
    iy: i64,
    slot: usize,
    win: &mut Window,
) {
    // SAFETY (both): the caller's guarantees.
    unsafe {
        match map {
            Some(m) if d.stride_w == 2 => repack_quads2(st, d, m, x, iy, slot, win),
            _ => repack(st, d, x, iy, slot, win),
        }
    }
}

/// [`repack`] for column stride 2 and quads of four channels (`map`, see
/// `repack_avx512::quad_map`): per channel quad, 32 input columns are
/// interleaved into dwords once, then `vpermd` and `vperm2i128` pick out
/// phase 0's dwords (even columns) and phase 1's (odd columns), with no
/// phase rows in between (splitting each channel's row first took a
/// third of a stride-2 3 x 3 convolution's repacking on Zen 3).
///
/// # Safety
/// As `repack_avx512::repack`; `map` is `quad_map(d)` and `d.stride_w` is 2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn repack_quads2(
    st: &NativeStage,
    d: &Direct,
    map: &[[Option<usize>; 4]],
    x: *const u8,
    iy: i64,
    slot: usize,
    win: &mut Window,
) {
    let hi = d.readable.1;
    let flip = _mm256_set1_epi8(if d.flip { -128 } else { 0 });
    // Each 128-bit half: the even dwords, then the odd ones.
    let split = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    let base = slot * win.slot;
    let data = win.bytes_mut();
    for g in 0..d.groups {
        for (g4, phases) in map.iter().enumerate() {
            let rows = channel_rows(st, d, x, iy, g, g4);
            let dst = phases.map(|q| q.map(|q| base + (g * d.quads.len() + q) * d.cols * 4));
            let mut u0 = 0;
            while u0 < d.cols {
                // Input columns `2 u0 .. 2 u0 + 32` (zero past the readable
                // bytes and for absent channels).
                let at = 2 * u0;
                let load = |r: Option<*const u8>| match r {
                    // SAFETY: `hi` readable bytes from the row (`lo` is 0),
                    // of which the load reads `at .. min(hi, at + 32)`.
                    Some(p) if at < hi => {
                        _mm256_xor_si256(unsafe { load_upto(p.add(at), hi - at, at) }, flip)
                    }
                    Some(_) => flip,
                    None => _mm256_setzero_si256(),
                };
                let v = interleave(load(rows[0]), load(rows[1]), load(rows[2]), load(rows[3]));
                for k in 0..2 {
                    let a = _mm256_permutevar8x32_epi32(v[2 * k], split);
                    let b = _mm256_permutevar8x32_epi32(v[2 * k + 1], split);
                    let picked = [
                        _mm256_permute2x128_si256::<0x20>(a, b),
                        _mm256_permute2x128_si256::<0x31>(a, b),
                    ];
                    for (dst, v) in dst.iter().zip(picked) {
                        if let Some(dst) = dst {
                            // SAFETY: dwords `u0 + 8 k .. + 8` of the quad
                            // row: `u0 + 16 <= cols` (a multiple of 16).
                            unsafe {
                                _mm256_storeu_si256(data.add(dst + 4 * (u0 + 8 * k)).cast(), v)
                            };
                        }
                    }
                }
                u0 += 16;
            }
        }
    }
}

/// Repacks input row `iy` into window slot `slot` (see `repack_avx512::repack`).
///
/// # Safety
/// As `repack_avx512::repack`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn repack(
    st: &NativeStage,
    d: &Direct,
    x: *const u8,
    iy: i64,
    slot: usize,
    win: &mut Window,
) {
    let (sw, phase_len) = (d.stride_w, d.phase_len);
    let split = |row: *const u8, hi: usize, phases: &mut [u8]| {
        // SAFETY: `row` holds `hi` readable bytes (`phase_rows`).
        let src = unsafe { std::slice::from_raw_parts(row, hi) };
        for (p, dst) in phases.chunks_exact_mut(phase_len).enumerate() {
            if sw == 2 {
                // SAFETY: a 64-byte multiple of `dst`; `src` bounds
                // checked inside.
                unsafe { split_half(src, p, dst) };
            } else {
                for (i, b) in dst.iter_mut().enumerate() {
                    *b = src.get(i * sw + p).copied().unwrap_or(0);
                }
            }
        }
    };
    // SAFETY: the caller's guarantee on row `iy`.
    let phase_rows = unsafe { phase_rows(st, d, (x, iy), win, split) };
    // Signed inputs as `x + 128` (see `Direct::flip`).
    let flip = _mm256_set1_epi8(if d.flip { -128 } else { 0 });
    let base = slot * win.slot;
    for g in 0..d.groups {
        for (q, quad) in d.quads.iter().enumerate() {
            let src = quad_sources(d, &phase_rows, g, quad);
            let dst = base + ((g * d.quads.len() + q) * d.cols) * 4;
            let mut u0 = 0;
            while u0 < d.cols {
                // SAFETY: bytes `lo..hi` readable from `p`.
                let load = |(p, lo, hi): (*const u8, usize, usize)| unsafe {
                    _mm256_xor_si256(load_range(p, lo, hi, u0), flip)
                };
                let v = interleave(load(src[0]), load(src[1]), load(src[2]), load(src[3]));
                for (k, v) in v.iter().enumerate().take((d.cols - u0).div_ceil(8)) {
                    let at = dst + 4 * u0 + 32 * k;
                    // SAFETY: `at + 32 <= base + win.slot` (u0 + 8 k < cols,
                    // a multiple of 16).
                    unsafe { _mm256_storeu_si256(win.bytes_mut().add(at).cast(), *v) };
                }
                u0 += 32;
            }
        }
    }
}

/// The 32 bytes at `p + at`, of which only those in `p + lo .. p + hi` are
/// read (zero elsewhere).
///
/// # Safety
/// Bytes `lo..hi` from `p` are readable.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn load_range(p: *const u8, lo: usize, hi: usize, at: usize) -> __m256i {
    if lo <= at && at + 32 <= hi {
        // SAFETY: 32 readable bytes.
        return unsafe { _mm256_loadu_si256(p.wrapping_add(at).cast()) };
    }
    if lo <= at && at < hi {
        // SAFETY: bytes `lo..hi` from `p`: `at - lo` before `p + at`,
        // `hi - at` from it.
        return unsafe { load_upto(p.wrapping_add(at), hi - at, at - lo) };
    }
    let mut buf = [0u8; 32];
    for (i, b) in buf.iter_mut().enumerate() {
        if (lo..hi).contains(&(at + i)) {
            // SAFETY: byte `at + i` is readable.
            *b = unsafe { *p.wrapping_add(at + i) };
        }
    }
    // SAFETY: `buf` is 32 bytes.
    unsafe { _mm256_loadu_si256(buf.as_ptr().cast()) }
}

/// Four rows of 32 bytes as 32 dwords `[a_i b_i c_i d_i]`, in pixel order.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn interleave(a: __m256i, b: __m256i, c: __m256i, d: __m256i) -> [__m256i; 4] {
    let t0 = _mm256_unpacklo_epi8(a, b);
    let t1 = _mm256_unpackhi_epi8(a, b);
    let t2 = _mm256_unpacklo_epi8(c, d);
    let t3 = _mm256_unpackhi_epi8(c, d);
    // Lane q of r_k: pixels 16q + 4k .. 16q + 4k + 3.
    let r0 = _mm256_unpacklo_epi16(t0, t2);
    let r1 = _mm256_unpackhi_epi16(t0, t2);
    let r2 = _mm256_unpacklo_epi16(t1, t3);
    let r3 = _mm256_unpackhi_epi16(t1, t3);
    [
        _mm256_permute2x128_si256::<0x20>(r0, r1),
        _mm256_permute2x128_si256::<0x20>(r2, r3),
        _mm256_permute2x128_si256::<0x31>(r0, r1),
        _mm256_permute2x128_si256::<0x31>(r2, r3),
    ]
}

/// `dst[i] = src[2 i + p]` (zero past `src`), 32 bytes a step.
///
/// # Safety
/// `dst.len()` is a multiple of 32.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn split_half(src: &[u8], p: usize, dst: &mut [u8]) {
    let pick: [i8; 32] = std::array::from_fn(|i| {
        let i = i % 16;
        if i < 8 {
            (2 * i + p) as i8
        } else {
            -1
        }
    });
    // SAFETY: `pick` is 32 bytes.
    let pick = unsafe { _mm256_loadu_si256(pick.as_ptr().cast()) };
    let mut i0 = 0;
    while i0 + 32 <= dst.len() {
        let at = 2 * i0;
        let part = |at: usize| {
            let len = src.len().saturating_sub(at);
            if len == 0 {
                return _mm256_setzero_si256();
            }
            // SAFETY: `len` readable bytes from `src[at]`, `at` before it.
            unsafe { load_upto(src.as_ptr().add(at), len, at) }
        };
        let a = _mm256_shuffle_epi8(part(at), pick);
        let b = _mm256_shuffle_epi8(part(at + 32), pick);
        // 64-bit elements: a0 b0 a1 b1 -> a0 a1 b0 b1.
        let v = _mm256_permute4x64_epi64::<0xD8>(_mm256_unpacklo_epi64(a, b));
        // SAFETY: `i0 + 32 <= dst.len()`.
        unsafe { _mm256_storeu_si256(dst.as_mut_ptr().add(i0).cast(), v) };
        i0 += 32;
    }
}
