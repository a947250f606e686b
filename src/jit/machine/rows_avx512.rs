//! The row kernels of [`Special`] stages with AVX-512 BW: max pooling with
//! windows two columns apart, and nearest upsampling doubling the columns.
//!
//! Max pooling, 64 outputs at a time: for each pair of window columns
//! `(2 s, 2 s + 1)`, the 128 input bytes from column `2 ox0 + 2 s - pad`
//! on, their maxima over the window rows (masked loads: padding and
//! columns outside the row are the type's minimum, and never read), then,
//! in 16-bit lanes, the even byte (tap `2 s`) and the odd one (tap
//! `2 s + 1`) compared in place (`vpsrlw` + `vpmaxub`); the low bytes of
//! the lanes are the outputs (`vpmovwb`). No bounds test in the loops, no
//! scratch row.

use std::arch::x86_64::*;
use std::ops::Range;

use super::avx512::column_masks;
use super::rows_narrow;
use crate::jit::native::{Grid, Special};

/// Runs items `lo..hi` (output rows, channel-major) of `special`: reads
/// the whole input buffer `x`, writes the output rows into `out`, the part
/// of the output buffer from byte `base` on. A row outside `x` or `out`
/// panics (the pool catches it). False, doing nothing, for a stage it has
/// no kernel for on this host (windows one column apart without VBMI, or
/// strides and factors other than 1 and 2 on wide rows).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2")]
#[inline(never)]
pub(super) fn run(
    special: &Special,
    lo: usize,
    hi: usize,
    x: &[u8],
    out: &mut [u8],
    base: usize,
) -> bool {
    let vbmi = std::is_x86_feature_detected!("avx512vbmi");
    match *special {
        Special::MaxPool {
            signed,
            kernel,
            stride,
            pad,
            x: xg,
            out: og,
        } => {
            let window = (kernel, stride, pad);
            // SAFETY (the narrow and the s1 kernels): the host has AVX-512
            // VBMI (tested) and the features of this function.
            if vbmi
                && unsafe {
                    if signed {
                        rows_narrow::max_pool::<true>(
                            window,
                            (xg, og),
                            (lo, hi, x, &mut *out, base),
                        )
                    } else {
                        rows_narrow::max_pool::<false>(
                            window,
                            (xg, og),
                            (lo, hi, x, &mut *out, base),
                        )
                    }
                }
            {
                return true;
            }
            let (geometry, rows) = ((kernel, stride.0, pad), (lo, hi, x, out, base));
            // SAFETY (the windows one column apart): as above.
            match (stride.1, signed) {
                (1, true) if vbmi && kernel.1 <= 64 => unsafe {
                    max_pool_s1_vbmi::<true>(geometry, (xg, og), rows)
                },
                (1, false) if vbmi && kernel.1 <= 64 => unsafe {
                    max_pool_s1_vbmi::<false>(geometry, (xg, og), rows)
                },
                (2, true) => max_pool_s2::<true>(geometry, (xg, og), rows),
                (2, false) => max_pool_s2::<false>(geometry, (xg, og), rows),
                _ => return false,
            }
        }
        Special::Nearest {
            factor,
            x: xg,
            out: og,
        } => {
            // SAFETY: as above.
            if vbmi
                && unsafe { rows_narrow::nearest(factor, (xg, og), (lo, hi, x, &mut *out, base)) }
            {
                return true;
            }
            match factor {
                (fh, 2) => nearest2(fh, (xg, og), (lo, hi, x, out, base)),
                _ => return false,
            }
        }
        Special::Pad {
            top,
            left,
            value,
            x: xg,
            out: og,
        } => {
            let bits = std::is_x86_feature_detected!("popcnt")
                && std::is_x86_feature_detected!("bmi1")
                && std::is_x86_feature_detected!("bmi2");
            if !(bits && std::is_x86_feature_detected!("avx512vbmi2")) {
                return false;
            }
            // SAFETY: the host has AVX-512 VBMI2, POPCNT and BMI (tested)
            // and the features of this function.
            unsafe { super::rows_pad::pad((top, left, value), (xg, og), (lo, hi, x, out, base)) }
        }
    }
    true
}

/// Items `lo..hi`, the input buffer, the output part and where it starts.
pub(super) type Rows<'a> = (usize, usize, &'a [u8], &'a mut [u8], usize);

type Geometry = ((usize, usize), usize, (usize, usize));

/// The input rows, inside a plane of `h` rows, under the window of output
/// row `oy` (kernel height `kh`, row stride `sh`, top padding `pt`): empty
/// when the window lies in the padding.
pub(super) fn window_rows(
    oy: usize,
    (kh, sh, pt): (usize, usize, usize),
    h: usize,
) -> Range<usize> {
    let y0 = (oy * sh).saturating_sub(pt);
    let y1 = (oy * sh + kh).saturating_sub(pt).min(h);
    y0..y1.max(y0)
}

/// Byte maxima, signed or not.
#[inline(always)]
pub(super) fn max8<const SIGNED: bool>(a: __m512i, b: __m512i) -> __m512i {
    // SAFETY: only inlined into functions compiled with AVX-512 BW (`run`,
    // `rows_narrow`).
    unsafe {
        if SIGNED {
            _mm512_max_epi8(a, b)
        } else {
            _mm512_max_epu8(a, b)
        }
    }
}

#[inline(always)]
fn max_pool_s2<const SIGNED: bool>(
    ((kh, kw), sh, (pt, pl)): Geometry,
    (xg, og): (Grid, Grid),
    (lo, hi, x, out, base): Rows,
) {
    let oh = og.h.max(1);
    let min = if SIGNED { i8::MIN } else { 0 };
    // SAFETY (all intrinsics below): `run` is compiled with AVX-512 BW.
    let minv = unsafe { _mm512_set1_epi8(min) };
    let pairs = kw.div_ceil(2);
    let ow = og.w;
    // Per chunk of 64 outputs and pair of window columns: the first
    // column loaded, and the masks of the two loads (the same for every
    // row).
    let mut loads = Vec::with_capacity(ow.div_ceil(64) * pairs);
    for k in 0..ow.div_ceil(64) {
        for s in 0..pairs {
            let first = (128 * k + 2 * s) as i64 - pl as i64;
            let (a, b) = column_masks(first, xg.w as i64);
            loads.push((first as isize, a, b));
        }
    }
    let (mut c, mut oy) = (lo / oh, lo % oh);
    for _ in lo..hi {
        let window = window_rows(oy, (kh, sh, pt), xg.h);
        let rows = window.len();
        // Every byte read below is inside interior rows `window` of
        // channel `c`, `xg.stride` apart.
        assert!(
            rows == 0 || xg.row(c, window.end - 1) + xg.w <= x.len(),
            "input row outside the buffer"
        );
        let top = x.as_ptr().wrapping_add(xg.row(c, window.start));
        let start = og.row(c, oy) - base;
        let dst = &mut out[start..start + ow];
        for (k, chunk) in loads.chunks_exact(pairs).enumerate() {
            let ox0 = 64 * k;
            let n = (ow - ox0).min(64);
            let (mut acc_a, mut acc_b) = (minv, minv);
            for (s, &(first, ma, mb)) in chunk.iter().enumerate() {
                let (mut va, mut vb) = (minv, minv);
                let mut p = top.wrapping_offset(first);
                for _ in 0..rows {
                    // SAFETY: the masks select only columns `0..w` of the
                    // row, inside `x` (asserted above); the other bytes are
                    // not read.
                    unsafe {
                        let a = _mm512_mask_loadu_epi8(minv, ma, p.cast());
                        let b = _mm512_mask_loadu_epi8(minv, mb, p.wrapping_add(64).cast());
                        va = max8::<SIGNED>(va, a);
                        vb = max8::<SIGNED>(vb, b);
                    }
                    p = p.wrapping_add(xg.stride);
                }
                if 2 * s + 1 < kw {
                    // SAFETY: as above (features).
                    unsafe {
                        va = max8::<SIGNED>(va, _mm512_srli_epi16(va, 8));
                        vb = max8::<SIGNED>(vb, _mm512_srli_epi16(vb, 8));
                    }
                }
                acc_a = max8::<SIGNED>(acc_a, va);
                acc_b = max8::<SIGNED>(acc_b, vb);
            }
            // SAFETY: as above (features); `store_part` writes `n` bytes of
            // `dst` from `ox0` on.
            unsafe {
                let lo = _mm512_cvtepi16_epi8(acc_a);
                let hi = _mm512_cvtepi16_epi8(acc_b);
                let v = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
                store_part(&mut dst[ox0..ox0 + n], v);
            }
        }
        oy += 1;
        if oy == oh {
            (c, oy) = (c + 1, 0);
        }
    }
}

/// Max pooling with windows one column apart, 64 outputs at a time: the
/// 128 input bytes from column `ox0 - pad` on, their maxima over the
/// window rows (masked loads, as in [`max_pool_s2`]), then each window
/// column's bytes gathered from the two vectors (`vpermt2b`) and compared.
///
/// # Safety
/// The host has AVX-512 VBMI.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi,avx2")]
#[inline(never)]
unsafe fn max_pool_s1_vbmi<const SIGNED: bool>(
    ((kh, kw), sh, (pt, pl)): Geometry,
    (xg, og): (Grid, Grid),
    (lo, hi, x, out, base): Rows,
) {
    let oh = og.h.max(1);
    let min = if SIGNED { i8::MIN } else { 0 };
    let minv = _mm512_set1_epi8(min);
    let ow = og.w;
    // Window column `kx`'s bytes: lane `i` takes byte `i + kx` of the two
    // vectors (`Special::MaxPool` windows one column apart are at most 64
    // wide).
    let mut taps = Vec::with_capacity(kw);
    for kx in 0..kw.min(64) {
        let mut idx = [0u8; 64];
        for (i, b) in idx.iter_mut().enumerate() {
            *b = (i + kx) as u8;
        }
        // SAFETY: a load of the 64 bytes of `idx`.
        taps.push(unsafe { _mm512_loadu_si512(idx.as_ptr().cast()) });
    }
    let mut loads = Vec::with_capacity(ow.div_ceil(64));
    for k in 0..ow.div_ceil(64) {
        let first = (64 * k) as i64 - pl as i64;
        let (a, b) = column_masks(first, xg.w as i64);
        // The second vector is read only for the windows' last columns.
        let b = b & super::avx512::lanes(kw - 1);
        loads.push((first as isize, a, b));
    }
    let (mut c, mut oy) = (lo / oh, lo % oh);
    for _ in lo..hi {
        let window = window_rows(oy, (kh, sh, pt), xg.h);
        let rows = window.len();
        // Every byte read below is inside interior rows `window` of
        // channel `c`, `xg.stride` apart.
        assert!(
            rows == 0 || xg.row(c, window.end - 1) + xg.w <= x.len(),
            "input row outside the buffer"
        );
        let top = x.as_ptr().wrapping_add(xg.row(c, window.start));
        let start = og.row(c, oy) - base;
        let dst = &mut out[start..start + ow];
        for (k, &(first, ma, mb)) in loads.iter().enumerate() {
            let ox0 = 64 * k;
            let n = (ow - ox0).min(64);
            let (mut va, mut vb) = (minv, minv);
            let mut p = top.wrapping_offset(first);
            // SAFETY (the loads): the masks select only columns `0..w` of
            // the row, inside `x` (asserted above); the other bytes are
            // not read.
            if mb == 0 {
                // Windows inside the first vector: no second load.
                for _ in 0..rows {
                    let a = unsafe { _mm512_mask_loadu_epi8(minv, ma, p.cast()) };
                    va = max8::<SIGNED>(va, a);
                    p = p.wrapping_add(xg.stride);
                }
            } else {
                for _ in 0..rows {
                    let a = unsafe { _mm512_mask_loadu_epi8(minv, ma, p.cast()) };
                    let b = unsafe { _mm512_mask_loadu_epi8(minv, mb, p.wrapping_add(64).cast()) };
                    va = max8::<SIGNED>(va, a);
                    vb = max8::<SIGNED>(vb, b);
                    p = p.wrapping_add(xg.stride);
                }
            }
            let mut acc = va;
            for &t in &taps[1..] {
                acc = max8::<SIGNED>(acc, _mm512_permutex2var_epi8(va, t, vb));
            }
            // SAFETY: as above (features); `store_part` writes `n` bytes of
            // `dst` from `ox0` on.
            unsafe { store_part(&mut dst[ox0..ox0 + n], acc) };
        }
        oy += 1;
        if oy == oh {
            (c, oy) = (c + 1, 0);
        }
    }
}

/// `out[y][2 j + r] = x[y / fh][j]`: 32 input bytes at a time widened to
/// 16-bit lanes (`vpmovzxbw`), each lane's byte copied into its high byte.
#[inline(always)]
fn nearest2(fh: usize, (xg, og): (Grid, Grid), (lo, hi, x, out, base): Rows) {
    let oh = og.h.max(1);
    let w = xg.w;
    let (mut c, mut oy) = (lo / oh, lo % oh);
    let (mut iy, mut phase) = (oy / fh.max(1), oy % fh.max(1));
    for _ in lo..hi {
        let from = xg.row(c, iy);
        let src = &x[from..from + w];
        let start = og.row(c, oy) - base;
        let dst = &mut out[start..start + 2 * w];
        let mut j = 0;
        while j + 32 <= w {
            // SAFETY: `run` is compiled with AVX-512 BW; the load reads
            // bytes `j..j + 32` of `src`, the store bytes `2 j..2 j + 64`
            // of `dst`.
            unsafe {
                let v = _mm256_loadu_si256(src.as_ptr().add(j).cast());
                let z = _mm512_cvtepu8_epi16(v);
                let d = _mm512_or_si512(z, _mm512_slli_epi16(z, 8));
                _mm512_storeu_si512(dst.as_mut_ptr().add(2 * j).cast(), d);
            }
            j += 32;
        }
        if j < w {
            let n = w - j;
            // SAFETY: as above (and VL); the masked load reads the `n`
            // bytes of `src` from `j` on, `store_part` writes `2 n` bytes
            // of `dst`.
            unsafe {
                let mask = super::avx512::lanes(n) as u32;
                let v = _mm256_maskz_loadu_epi8(mask, src.as_ptr().add(j).cast());
                let z = _mm512_cvtepu8_epi16(v);
                let d = _mm512_or_si512(z, _mm512_slli_epi16(z, 8));
                store_part(&mut dst[2 * j..], d);
            }
        }
        oy += 1;
        phase += 1;
        if phase == fh {
            (iy, phase) = (iy + 1, 0);
        }
        if oy == oh {
            (c, oy, iy, phase) = (c + 1, 0, 0, 0);
        }
    }
}

/// The first `dst.len()` (at most 64) bytes of `v` into `dst`: one store
/// when whole, else the length's binary digits as stores of 32, 16, 8, 4,
/// 2 and 1 bytes (a masked store is slow on Zen 4; no byte written twice).
///
/// # Safety
/// Only inlined into functions compiled with AVX-512 F.
#[inline(always)]
pub(super) unsafe fn store_part(dst: &mut [u8], v: __m512i) {
    let n = dst.len().min(64);
    let p = dst.as_mut_ptr();
    // SAFETY: every store below writes bytes `at..at + size` with
    // `at + size <= n <= dst.len()`.
    unsafe {
        if n == 64 {
            _mm512_storeu_si512(p.cast(), v);
            return;
        }
        let mut at = 0;
        let mut y = _mm512_castsi512_si256(v);
        if n >= 32 {
            _mm256_storeu_si256(p.cast(), y);
            y = _mm512_extracti64x4_epi64(v, 1);
            at = 32;
        }
        store_part256(p.add(at), n - at, y);
    }
}

/// The first `n` (at most 32) bytes of `y` at `p`, as in [`store_part`].
///
/// # Safety
/// `p..p + n` is writable; only inlined into functions compiled with AVX2.
#[inline(always)]
pub(super) unsafe fn store_part256(p: *mut u8, n: usize, y: __m256i) {
    // SAFETY: the caller's guarantees; each store stays below `p + n`.
    unsafe {
        if n >= 32 {
            _mm256_storeu_si256(p.cast(), y);
            return;
        }
        let mut at = 0;
        let mut q = _mm256_castsi256_si128(y);
        if n >= 16 {
            _mm_storeu_si128(p.cast(), q);
            q = _mm256_extracti128_si256(y, 1);
            at = 16;
        }
        if n - at >= 8 {
            _mm_storel_epi64(p.add(at).cast(), q);
            q = _mm_srli_si128(q, 8);
            at += 8;
        }
        let mut rest = _mm_cvtsi128_si64(q) as u64;
        if n - at >= 4 {
            p.add(at).cast::<u32>().write_unaligned(rest as u32);
            rest >>= 32;
            at += 4;
        }
        if n - at >= 2 {
            p.add(at).cast::<u16>().write_unaligned(rest as u16);
            rest >>= 16;
            at += 2;
        }
        if n - at >= 1 {
            p.add(at).write(rest as u8);
        }
    }
}
