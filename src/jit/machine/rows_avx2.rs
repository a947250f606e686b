//! The row kernels of [`Special`] stages with AVX2, as `rows_avx512` does
//! them with 32 outputs at a time. AVX2 has no byte-masked load: a chunk's
//! bytes are loaded whole where the input buffer holds them, and the
//! columns outside the row replaced by the type's minimum (`vpblendvb`
//! with a mask made once per chunk); near the buffer's ends they are
//! gathered one by one.

use std::arch::x86_64::*;

use super::rows_avx512::{store_part256, window_rows};
use super::rows_narrow_avx2;
use crate::jit::native::{Grid, Special};

/// [`super::rows_avx512::run`] with AVX2.
#[target_feature(enable = "avx2")]
#[inline(never)]
pub(super) fn run(
    special: &Special,
    lo: usize,
    hi: usize,
    x: &[u8],
    out: &mut [u8],
    base: usize,
) -> bool {
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
            let narrow = if signed {
                rows_narrow_avx2::max_pool::<true>(window, (xg, og), (lo, hi, x, &mut *out, base))
            } else {
                rows_narrow_avx2::max_pool::<false>(window, (xg, og), (lo, hi, x, &mut *out, base))
            };
            if narrow {
                return true;
            }
            let (geometry, rows) = ((kernel, stride.0, pad), (lo, hi, x, out, base));
            match (stride.1, signed) {
                (1, false) if kernel.1 <= 33 => max_pool_s1::<false>(geometry, (xg, og), rows),
                (1, true) if kernel.1 <= 33 => max_pool_s1::<true>(geometry, (xg, og), rows),
                (2, false) => max_pool_s2::<false>(geometry, (xg, og), rows),
                (2, true) => max_pool_s2::<true>(geometry, (xg, og), rows),
                _ => return false,
            }
        }
        Special::Nearest {
            factor: (fh, 2),
            x: xg,
            out: og,
        } => nearest2(fh, (xg, og), (lo, hi, x, out, base)),
        Special::Nearest { .. } | Special::Pad { .. } => return false,
    }
    true
}

/// Items `lo..hi`, the input buffer, the output part and where it starts.
type Rows<'a> = (usize, usize, &'a [u8], &'a mut [u8], usize);

type Geometry = ((usize, usize), usize, (usize, usize));

#[inline(always)]
fn max8<const SIGNED: bool>(a: __m256i, b: __m256i) -> __m256i {
    // SAFETY: only inlined into `run`, compiled with AVX2.
    unsafe {
        if SIGNED {
            _mm256_max_epi8(a, b)
        } else {
            _mm256_max_epu8(a, b)
        }
    }
}

/// The lanes `t` of a 32-byte load from column `first` with
/// `0 <= first + t < w`, as a byte mask; and whether that is all of them.
#[inline(always)]
fn inside(first: i64, w: i64) -> (__m256i, bool) {
    let from = (-first).clamp(-1, 33) as i8;
    let to = (w - first).clamp(-1, 33) as i8;
    // SAFETY: only inlined into `run`, compiled with AVX2.
    let mask = unsafe {
        let t = _mm256_setr_epi8(
            0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
            24, 25, 26, 27, 28, 29, 30, 31,
        );
        _mm256_and_si256(
            _mm256_cmpgt_epi8(t, _mm256_set1_epi8(from - 1)),
            _mm256_cmpgt_epi8(_mm256_set1_epi8(to), t),
        )
    };
    (mask, from <= 0 && to >= 32)
}

/// The maxima over input rows `rows` of channel `c` of the 64 bytes from
/// column `first` (`ma`, `mb`: the lanes of each half inside the row,
/// `whole_*` when that is all of them; the others are the type's minimum).
/// With `!B` only the first 32 bytes: the second half stays the minimum.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn rows_max<const SIGNED: bool, const B: bool>(
    x: &[u8],
    xg: Grid,
    c: usize,
    rows: std::ops::Range<usize>,
    first: i64,
    ((ma, whole_a), (mb, whole_b)): ((__m256i, bool), (__m256i, bool)),
    minv: __m256i,
) -> (__m256i, __m256i) {
    let (mut va, mut vb) = (minv, minv);
    if rows.is_empty() {
        return (va, vb);
    }
    let (w, min) = (xg.w as i64, if SIGNED { 0x80u8 } else { 0 });
    let (top, bottom) = (xg.row(c, rows.start) as i64, xg.row(c, rows.end - 1) as i64);
    if top + first >= 0 && bottom + first + 64 <= x.len() as i64 {
        // Every row's 64 bytes from `first` are in the buffer: whole
        // loads, the padding columns replaced after.
        let mut p = x.as_ptr().wrapping_offset((top + first) as isize);
        for _ in rows {
            // SAFETY: the 64 bytes from `p` are in `x`, rows `top..=bottom`
            // apart by the stride (tested just above); callers are
            // compiled with AVX2.
            unsafe {
                va = max8::<SIGNED>(va, _mm256_loadu_si256(p.cast()));
                if B {
                    vb = max8::<SIGNED>(vb, _mm256_loadu_si256(p.add(32).cast()));
                }
            }
            p = p.wrapping_add(xg.stride);
        }
        // The maxima of the rows' columns outside the row are those of
        // other bytes: the type's minimum instead.
        // SAFETY: as above (features).
        unsafe {
            if !whole_a {
                va = _mm256_blendv_epi8(minv, va, ma);
            }
            if B && !whole_b {
                vb = _mm256_blendv_epi8(minv, vb, mb);
            }
        }
    } else {
        for iy in rows {
            let row = xg.row(c, iy) as i64;
            let (a, b) = if row + first >= 0 && row + first + 64 <= x.len() as i64 {
                // SAFETY: the 64 bytes from `row + first` are in `x`
                // (tested just above).
                unsafe {
                    let p = x.as_ptr().offset((row + first) as isize);
                    (
                        _mm256_loadu_si256(p.cast()),
                        _mm256_loadu_si256(p.add(32).cast()),
                    )
                }
            } else {
                edge(x, row, first, w, min)
            };
            // SAFETY: as above (features).
            unsafe {
                va = max8::<SIGNED>(va, _mm256_blendv_epi8(minv, a, ma));
                if B {
                    vb = max8::<SIGNED>(vb, _mm256_blendv_epi8(minv, b, mb));
                }
            }
        }
    }
    (va, vb)
}

#[inline(always)]
fn max_pool_s2<const SIGNED: bool>(
    ((kh, kw), sh, (pt, pl)): Geometry,
    (xg, og): (Grid, Grid),
    (lo, hi, x, out, base): Rows,
) {
    let oh = og.h.max(1);
    let min = if SIGNED { i8::MIN } else { 0 };
    // SAFETY (all intrinsics below): `run` is compiled with AVX2.
    let minv = unsafe { _mm256_set1_epi8(min) };
    let pairs = kw.div_ceil(2);
    let (w, ow) = (xg.w as i64, og.w);
    // Per chunk of 32 outputs and pair of window columns: the first
    // column loaded, and the lanes of the two loads inside the row.
    let mut loads = Vec::with_capacity(ow.div_ceil(32) * pairs);
    for k in 0..ow.div_ceil(32) {
        for s in 0..pairs {
            let first = (64 * k + 2 * s) as i64 - pl as i64;
            loads.push((first, inside(first, w), inside(first + 32, w)));
        }
    }
    // Rows of at most 16 outputs from at most 32 columns: the second half
    // of each load is outside the row.
    let narrow = loads.iter().all(|&(first, _, _)| first + 32 >= w);
    let (mut c, mut oy) = (lo / oh, lo % oh);
    for _ in lo..hi {
        let rows = window_rows(oy, (kh, sh, pt), xg.h);
        let start = og.row(c, oy) - base;
        let dst = &mut out[start..start + ow];
        for (k, chunk) in loads.chunks_exact(pairs).enumerate() {
            let ox0 = 32 * k;
            let n = (ow - ox0).min(32);
            let (mut acc_a, mut acc_b) = (minv, minv);
            for (s, &(first, ma, mb)) in chunk.iter().enumerate() {
                let (mut va, mut vb) = if narrow {
                    rows_max::<SIGNED, false>(x, xg, c, rows.clone(), first, (ma, mb), minv)
                } else {
                    rows_max::<SIGNED, true>(x, xg, c, rows.clone(), first, (ma, mb), minv)
                };
                if 2 * s + 1 < kw {
                    // SAFETY: as above (features).
                    unsafe {
                        va = max8::<SIGNED>(va, _mm256_srli_epi16(va, 8));
                        vb = max8::<SIGNED>(vb, _mm256_srli_epi16(vb, 8));
                    }
                }
                acc_a = max8::<SIGNED>(acc_a, va);
                acc_b = max8::<SIGNED>(acc_b, vb);
            }
            // SAFETY: as above (features); `store_part256` writes `n` bytes
            // of `dst` from `ox0` on.
            unsafe {
                let low = _mm256_set1_epi16(0xff);
                let packed =
                    _mm256_packus_epi16(_mm256_and_si256(acc_a, low), _mm256_and_si256(acc_b, low));
                let v = _mm256_permute4x64_epi64(packed, 0xd8);
                store_part256(dst[ox0..ox0 + n].as_mut_ptr(), n, v);
            }
        }
        oy += 1;
        if oy == oh {
            (c, oy) = (c + 1, 0);
        }
    }
}

/// Max pooling with windows one column apart and at most 33 wide, 32
/// outputs at a time: the maxima over the window rows of the 64 bytes
/// from column `ox0 - pad` ([`rows_max`]), then window column `kx` read
/// back from them at byte `kx` (a copy on the stack: AVX2 shifts bytes
/// only within 16-byte lanes).
#[inline(always)]
fn max_pool_s1<const SIGNED: bool>(
    ((kh, kw), sh, (pt, pl)): Geometry,
    (xg, og): (Grid, Grid),
    (lo, hi, x, out, base): Rows,
) {
    let oh = og.h.max(1);
    let min = if SIGNED { i8::MIN } else { 0 };
    // SAFETY (all intrinsics below): `run` is compiled with AVX2.
    let minv = unsafe { _mm256_set1_epi8(min) };
    let (w, ow) = (xg.w as i64, og.w);
    let loads: Vec<_> = (0..ow.div_ceil(32))
        .map(|k| {
            let first = (32 * k) as i64 - pl as i64;
            (first, inside(first, w), inside(first + 32, w))
        })
        .collect();
    let (mut c, mut oy) = (lo / oh, lo % oh);
    let mut buf = [0u8; 64];
    for _ in lo..hi {
        let rows = window_rows(oy, (kh, sh, pt), xg.h);
        let start = og.row(c, oy) - base;
        let dst = &mut out[start..start + ow];
        for (k, &(first, ma, mb)) in loads.iter().enumerate() {
            let ox0 = 32 * k;
            let n = (ow - ox0).min(32);
            let (va, vb) = if kw > 1 {
                rows_max::<SIGNED, true>(x, xg, c, rows.clone(), first, (ma, mb), minv)
            } else {
                rows_max::<SIGNED, false>(x, xg, c, rows.clone(), first, (ma, mb), minv)
            };
            let mut acc = va;
            if kw > 1 {
                // SAFETY: stores of the 64 bytes of `buf`, loads of 32 bytes
                // from `kx <= 32` (features as above).
                unsafe {
                    _mm256_storeu_si256(buf.as_mut_ptr().cast(), va);
                    _mm256_storeu_si256(buf.as_mut_ptr().add(32).cast(), vb);
                    for kx in 1..kw {
                        acc = max8::<SIGNED>(acc, _mm256_loadu_si256(buf.as_ptr().add(kx).cast()));
                    }
                }
            }
            // SAFETY: as above (features); `store_part256` writes `n` bytes
            // of `dst` from `ox0` on.
            unsafe { store_part256(dst[ox0..ox0 + n].as_mut_ptr(), n, acc) };
        }
        oy += 1;
        if oy == oh {
            (c, oy) = (c + 1, 0);
        }
    }
}

/// The 64 bytes of row `row` from column `first` on, where the buffer
/// does not hold them all: one by one, `min` outside the row's `w`
/// columns.
#[inline(always)]
fn edge(x: &[u8], row: i64, first: i64, w: i64, min: u8) -> (__m256i, __m256i) {
    let mut buf = [min; 64];
    for (t, b) in buf.iter_mut().enumerate() {
        let ix = first + t as i64;
        if (0..w).contains(&ix) {
            *b = x[(row + ix) as usize];
        }
    }
    // SAFETY: loads of the 64 bytes of `buf`; only inlined into `run`,
    // compiled with AVX2.
    unsafe {
        (
            _mm256_loadu_si256(buf.as_ptr().cast()),
            _mm256_loadu_si256(buf.as_ptr().add(32).cast()),
        )
    }
}

/// `out[y][2 j + r] = x[y / fh][j]`: 16 input bytes at a time widened to
/// 16-bit lanes, each lane's byte copied into its high byte, and stored
/// into two output rows when the job has both (`fh >= 2`: each vector
/// made once for both).
#[inline(always)]
fn nearest2(fh: usize, (xg, og): (Grid, Grid), (lo, hi, x, out, base): Rows) {
    let oh = og.h.max(1);
    let w = xg.w;
    let fh = fh.max(1);
    let (mut c, mut oy) = (lo / oh, lo % oh);
    let (mut iy, mut phase) = (oy / fh, oy % fh);
    let mut item = lo;
    while item < hi {
        let from = xg.row(c, iy);
        let src = &x[from..from + w];
        let start = og.row(c, oy) - base;
        // Output rows `oy` and, when the job has it, `oy + 1` of the same
        // input row (`og.h` is `fh` input rows per channel): `og.stride`
        // bytes apart.
        let copies = if phase + 1 < fh && item + 1 < hi {
            2
        } else {
            1
        };
        let span = (copies - 1) * og.stride + 2 * w;
        let dst = &mut out[start..start + span];
        let second = (copies - 1) * og.stride;
        let mut j = 0;
        while j + 32 <= w {
            // SAFETY: `run` is compiled with AVX2; the load reads bytes
            // `j..j + 32` of `src`, the stores bytes `2 j..2 j + 64` of
            // each output row in `dst`. Quarters 0, 2, 1, 3, then each
            // half's low and high bytes doubled: bytes 0..16 and 16..32.
            unsafe {
                let v = _mm256_loadu_si256(src.as_ptr().add(j).cast());
                let v = _mm256_permute4x64_epi64(v, 0xd8);
                let (a, b) = (_mm256_unpacklo_epi8(v, v), _mm256_unpackhi_epi8(v, v));
                for row in [0, second] {
                    let d = dst.as_mut_ptr().add(row + 2 * j);
                    _mm256_storeu_si256(d.cast(), a);
                    _mm256_storeu_si256(d.add(32).cast(), b);
                }
            }
            j += 32;
        }
        while j + 16 <= w {
            // SAFETY: `run` is compiled with AVX2; the load reads bytes
            // `j..j + 16` of `src`, the store bytes `2 j..2 j + 32` of each
            // output row in `dst`.
            unsafe {
                let v = _mm_loadu_si128(src.as_ptr().add(j).cast());
                let z = _mm256_cvtepu8_epi16(v);
                let d = _mm256_or_si256(z, _mm256_slli_epi16(z, 8));
                for row in [0, second] {
                    _mm256_storeu_si256(dst.as_mut_ptr().add(row + 2 * j).cast(), d);
                }
            }
            j += 16;
        }
        if j < w {
            let n = w - j;
            let at = from + j;
            let v = if at + 16 <= x.len() {
                // SAFETY: the 16 bytes from `at` are in `x` (the ones past
                // the row are not stored).
                unsafe { _mm_loadu_si128(x.as_ptr().add(at).cast()) }
            } else {
                let mut buf = [0u8; 16];
                buf[..n].copy_from_slice(&src[j..]);
                // SAFETY: a load of the 16 bytes of `buf`.
                unsafe { _mm_loadu_si128(buf.as_ptr().cast()) }
            };
            // SAFETY: as above; `store_part256` writes `2 n` bytes of each
            // output row in `dst` from `2 j` on.
            unsafe {
                let z = _mm256_cvtepu8_epi16(v);
                let d = _mm256_or_si256(z, _mm256_slli_epi16(z, 8));
                for row in [0, second] {
                    store_part256(dst[row + 2 * j..].as_mut_ptr(), 2 * n, d);
                }
            }
        }
        for _ in 0..copies {
            item += 1;
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
}
