//! Max pooling and nearest upsampling on rows narrower than a vector, with
//! AVX-512 VBMI: several output rows in one 64-byte vector.
//!
//! The row kernels of `rows_avx512` fill one vector per output row; on a
//! 14 x 14 map pooled 2 x 2 that is 7 of 64 lanes. Here a group of `R`
//! consecutive output rows of one channel shares the vectors. The input
//! rows they read are `step` bytes apart in the buffer (`sh` rows of
//! `stride` bytes), so one masked load of 128 bytes from the group's first
//! window row holds window row `ky` of every output row of the group, row
//! `r`'s columns at lanes `r step ..`; the mask keeps only columns `0..w`
//! of rows inside the plane (padding rows and the bytes between rows read
//! as the type's minimum, and are never touched). After the maxima over
//! the window rows, one byte permutation per window column (`vpermt2b`)
//! moves each output's input column to lane `r ow + j`, and a masked
//! maximum takes it where that column is inside the row. Nearest
//! upsampling is the same permutation with one tap. No bounds test in the
//! loops.

use std::arch::x86_64::*;

use super::avx512::lanes;
use super::rows_avx512::{max8, store_part};
use crate::jit::native::Grid;

/// Items `lo..hi`, the input buffer, the output part and where it starts.
type Rows<'a> = (usize, usize, &'a [u8], &'a mut [u8], usize);

/// Window `(kh, kw)`, stride `(sh, sw)`, padding `(top, left)`.
pub(super) type Window = ((usize, usize), (usize, usize), (usize, usize));

/// Bytes two loads hold.
const SPAN: usize = 128;

/// Output rows of `ow` outputs one group holds when their input rows,
/// `w` bytes each, start `step` bytes apart: all of them inside the two
/// loads, all outputs inside one vector. Below 2 the row kernels of
/// `rows_avx512` do as well.
fn group_rows(ow: usize, w: usize, step: usize) -> usize {
    if ow == 0 || w > SPAN {
        return 0;
    }
    let by_input = (SPAN - w).checked_div(step).map_or(usize::MAX, |k| k + 1);
    (64 / ow).min(by_input)
}

/// Lanes `from..from + n` of the two loads.
fn span_mask(from: usize, n: usize) -> u128 {
    let below = |k: usize| {
        if k >= 128 {
            u128::MAX
        } else {
            (1u128 << k) - 1
        }
    };
    below(from + n) & !below(from)
}

#[inline(always)]
fn mask_max8<const SIGNED: bool>(acc: __m512i, k: u64, b: __m512i) -> __m512i {
    // SAFETY: only inlined into functions compiled with AVX-512 BW.
    unsafe {
        if SIGNED {
            _mm512_mask_max_epi8(acc, k, acc, b)
        } else {
            _mm512_mask_max_epu8(acc, k, acc, b)
        }
    }
}

/// A vector of 64 byte indices.
#[inline(always)]
fn index(idx: &[u8; 64]) -> __m512i {
    // SAFETY: a load of the 64 bytes of `idx` (AVX-512 F: callers).
    unsafe { _mm512_loadu_si512(idx.as_ptr().cast()) }
}

/// The two masked loads of 128 bytes from `p`, maxed into `(va, vb)`.
///
/// # Safety
/// Every byte of `p..p + 128` that `mask` selects is readable.
#[inline(always)]
unsafe fn load_max<const SIGNED: bool>(
    (va, vb): (__m512i, __m512i),
    minv: __m512i,
    mask: u128,
    p: *const u8,
) -> (__m512i, __m512i) {
    // SAFETY: the caller's guarantee; masked lanes are not read.
    unsafe {
        let a = _mm512_mask_loadu_epi8(minv, mask as u64, p.cast());
        let hi = (mask >> 64) as u64;
        let vb = if hi == 0 {
            vb
        } else {
            max8::<SIGNED>(
                vb,
                _mm512_mask_loadu_epi8(minv, hi, p.wrapping_add(64).cast()),
            )
        };
        (max8::<SIGNED>(va, a), vb)
    }
}

/// Stores outputs `r ow..(r + 1) ow` of `v` as output row `oy + r` of
/// channel `c`, for `r < n`: one store when the rows are contiguous.
///
/// # Safety
/// Only inlined into functions compiled with AVX-512 BW.
#[inline(always)]
unsafe fn store_rows(
    og: Grid,
    (c, oy, n): (usize, usize, usize),
    v: __m512i,
    out: &mut [u8],
    base: usize,
) {
    let ow = og.w;
    if og.stride == ow {
        let start = og.row(c, oy) - base;
        // SAFETY: the caller's features; `store_part` writes the slice.
        unsafe { store_part(&mut out[start..start + n * ow], v) };
        return;
    }
    for r in 0..n {
        let start = og.row(c, oy + r) - base;
        let dst = &mut out[start..start + ow];
        // SAFETY: the masked store writes lanes `r ow..(r + 1) ow`, at
        // `dst`'s `ow` bytes; the other lanes are not written.
        unsafe {
            let p = dst.as_mut_ptr().wrapping_sub(r * ow);
            _mm512_mask_storeu_epi8(p.cast(), lanes(ow) << (r * ow), v);
        }
    }
}

/// Max pooling of output rows `lo..hi` (channel-major) in groups. False,
/// doing nothing, when a vector holds fewer than two output rows.
///
/// # Safety
/// The host has AVX-512 BW and VBMI.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi,avx2")]
#[inline(never)]
pub(super) unsafe fn max_pool<const SIGNED: bool>(
    ((kh, kw), (sh, sw), (pt, pl)): Window,
    (xg, og): (Grid, Grid),
    (lo, hi, x, out, base): Rows,
) -> bool {
    let (w, ow) = (xg.w, og.w);
    let step = sh * xg.stride;
    let group = group_rows(ow, w, step);
    if group < 2 {
        return false;
    }
    // Window column `kx` of output `(r, j)` is input column
    // `j sw + kx - pl` of the group's row `r`: lane `r step + col`, taken
    // where the column is inside the row.
    let mut taps = Vec::with_capacity(kw);
    for kx in 0..kw {
        let (mut idx, mut valid) = ([0u8; 64], 0u64);
        for r in 0..group {
            for j in 0..ow {
                let col = (j * sw + kx) as isize - pl as isize;
                if (0..w as isize).contains(&col) {
                    idx[r * ow + j] = (r * step + col as usize) as u8;
                    valid |= 1 << (r * ow + j);
                }
            }
        }
        if valid != 0 {
            taps.push((index(&idx), valid));
        }
    }
    // `rows[k]`: the columns of the group's first `k` rows.
    let rows: Vec<u128> = (0..=group)
        .scan(0u128, |m, k| {
            let now = *m;
            if k < group {
                *m |= span_mask(k * step, w);
            }
            Some(now)
        })
        .collect();
    let pool = Pool {
        kh,
        sh,
        pt,
        group,
        taps,
        rows,
    };
    if (group - 1) * step + w > 64 {
        pool.run::<SIGNED, true>((xg, og), (lo, hi, x, out, base));
    } else {
        pool.run::<SIGNED, false>((xg, og), (lo, hi, x, out, base));
    }
    true
}

/// What [`max_pool`] computes once per stage.
struct Pool {
    kh: usize,
    sh: usize,
    pt: usize,
    group: usize,
    /// Per window column: the lane of each output's input column, and the
    /// outputs whose column is inside the row.
    taps: Vec<(__m512i, u64)>,
    /// `rows[k]`: the columns of the group's first `k` rows.
    rows: Vec<u128>,
}

impl Pool {
    /// The groups of output rows `lo..hi`; `TWO`: their input rows span
    /// two loads.
    #[inline(always)]
    fn run<const SIGNED: bool, const TWO: bool>(
        &self,
        (xg, og): (Grid, Grid),
        (lo, hi, x, out, base): Rows,
    ) {
        let Pool {
            kh, sh, pt, group, ..
        } = *self;
        let (w, oh) = (xg.w, og.h.max(1));
        let h = xg.h as isize;
        let stride = xg.stride as isize;
        // SAFETY (intrinsics): callers are compiled with AVX-512 BW and
        // VBMI.
        let minv = unsafe { _mm512_set1_epi8(if SIGNED { i8::MIN } else { 0 }) };
        let (mut c, mut oy, mut item) = (lo / oh, lo % oh, lo);
        while item < hi {
            let n = group.min(oh - oy).min(hi - item);
            // Every byte read below is in interior rows `0..h` of channel
            // `c`.
            assert!(
                xg.h == 0 || xg.row(c, xg.h - 1) + w <= x.len(),
                "input row outside the buffer"
            );
            let plane = x.as_ptr().wrapping_add(xg.row(c, 0));
            let top = (oy * sh) as isize - pt as isize;
            let (mut va, mut vb) = (minv, minv);
            if top >= 0 && top + ((n - 1) * sh + kh) as isize <= h {
                // Every window row of every row of the group is inside.
                let mask = self.rows[n];
                let mut p = plane.wrapping_offset(top * stride);
                for _ in 0..kh {
                    // SAFETY: the mask selects columns `0..w` of rows
                    // `0..h` of the plane, inside `x` (asserted above).
                    unsafe {
                        va =
                            max8::<SIGNED>(va, _mm512_mask_loadu_epi8(minv, mask as u64, p.cast()));
                        if TWO {
                            let b = _mm512_mask_loadu_epi8(
                                minv,
                                (mask >> 64) as u64,
                                p.wrapping_add(64).cast(),
                            );
                            vb = max8::<SIGNED>(vb, b);
                        }
                    }
                    p = p.wrapping_offset(stride);
                }
            } else {
                for ky in 0..kh {
                    // Input row of the group's row `r`: `first + r sh`;
                    // the rows inside the plane are `r_lo..r_hi`.
                    let first = top + ky as isize;
                    let r_lo = if first >= 0 {
                        0
                    } else {
                        (-first as usize).div_ceil(sh)
                    };
                    let r_hi = if first >= h {
                        0
                    } else {
                        ((h - first) as usize).div_ceil(sh).min(n)
                    };
                    if r_lo >= r_hi {
                        continue;
                    }
                    let mask = self.rows[r_hi] & !self.rows[r_lo];
                    let p = plane.wrapping_offset(first * stride);
                    // SAFETY: as above.
                    (va, vb) = unsafe { load_max::<SIGNED>((va, vb), minv, mask, p) };
                }
            }
            let mut acc = minv;
            for &(idx, valid) in &self.taps {
                // SAFETY: as above (features).
                let t = unsafe {
                    if TWO {
                        _mm512_permutex2var_epi8(va, idx, vb)
                    } else {
                        _mm512_permutexvar_epi8(idx, va)
                    }
                };
                acc = mask_max8::<SIGNED>(acc, valid, t);
            }
            // SAFETY: as above (features).
            unsafe { store_rows(og, (c, oy, n), acc, out, base) };
            item += n;
            oy += n;
            if oy == oh {
                (c, oy) = (c + 1, 0);
            }
        }
    }
}

/// Nearest upsampling `out[y][x] = in[y / fh][x / fw]` of output rows
/// `lo..hi` in groups. False, doing nothing, when a vector holds fewer
/// than two output rows.
///
/// # Safety
/// The host has AVX-512 BW and VBMI.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi,avx2")]
#[inline(never)]
pub(super) unsafe fn nearest(
    (fh, fw): (usize, usize),
    (xg, og): (Grid, Grid),
    (lo, hi, x, out, base): Rows,
) -> bool {
    let (w, ow, oh) = (xg.w, og.w, og.h.max(1));
    let (fh, fw) = (fh.max(1), fw.max(1));
    let stride = xg.stride;
    // A group of `g` rows from phase `p` reads input rows
    // `0..=(p + g - 1) / fh` after its first.
    let mut group = (64 / ow.max(1)).min(oh);
    while group >= 2 && ((fh - 1 + group - 1) / fh) * stride + w > SPAN {
        group -= 1;
    }
    if ow == 0 || w > SPAN || group < 2 || ow > w * fw {
        return false;
    }
    // Per phase `oy % fh` of a group's first row: output `(r, j)` is
    // lane `((p + r) / fh) stride + j / fw`; a whole group reads
    // `(p + group - 1) / fh + 1` input rows.
    let phases: Vec<(__m512i, usize)> = (0..fh)
        .map(|p| {
            let mut idx = [0u8; 64];
            for r in 0..group {
                for j in 0..ow {
                    idx[r * ow + j] = (((p + r) / fh) * stride + j / fw) as u8;
                }
            }
            (index(&idx), (p + group - 1) / fh + 1)
        })
        .collect();
    // `rows[k]`: the columns of the first `k` input rows.
    let rows: Vec<u128> = (0..=SPAN / stride.max(1) + 1)
        .scan(0u128, |m, k| {
            let now = *m;
            if k * stride < SPAN {
                *m |= span_mask(k * stride, w.min(SPAN - k * stride));
            }
            Some(now)
        })
        .collect();
    let up = Upsample {
        fh,
        group,
        phases,
        rows,
    };
    if ((fh - 1 + group - 1) / fh) * stride + w > 64 {
        up.run::<true>((xg, og), (lo, hi, x, out, base));
    } else {
        up.run::<false>((xg, og), (lo, hi, x, out, base));
    }
    true
}

/// What [`nearest`] computes once per stage.
struct Upsample {
    fh: usize,
    group: usize,
    /// Per phase: the lanes of the outputs, the input rows a whole group
    /// reads.
    phases: Vec<(__m512i, usize)>,
    /// `rows[k]`: the columns of the first `k` input rows.
    rows: Vec<u128>,
}

impl Upsample {
    /// The groups of output rows `lo..hi`; `TWO`: their input rows span
    /// two loads.
    #[inline(always)]
    fn run<const TWO: bool>(&self, (xg, og): (Grid, Grid), (lo, hi, x, out, base): Rows) {
        let (fh, group, w) = (self.fh, self.group, xg.w);
        let oh = og.h.max(1);
        let (mut c, mut oy, mut item) = (lo / oh, lo % oh, lo);
        let (mut iy, mut phase) = (oy / fh, oy % fh);
        while item < hi {
            let n = group.min(oh - oy).min(hi - item);
            let (idx, whole) = self.phases[phase];
            let reads = if n == group {
                whole
            } else {
                (phase + n - 1) / fh + 1
            };
            // Every byte read below is in interior rows `iy..iy + reads`
            // of channel `c`.
            assert!(
                xg.row(c, iy + reads - 1) + w <= x.len(),
                "input row outside the buffer"
            );
            let mask = self.rows[reads];
            let p = x.as_ptr().wrapping_add(xg.row(c, iy));
            // SAFETY: the mask selects columns `0..w` of those rows,
            // inside `x` (asserted above); masked lanes are not read. The
            // callers are compiled with AVX-512 BW and VBMI.
            let v = unsafe {
                let zero = _mm512_setzero_si512();
                let a = _mm512_mask_loadu_epi8(zero, mask as u64, p.cast());
                if TWO {
                    let b = _mm512_mask_loadu_epi8(
                        zero,
                        (mask >> 64) as u64,
                        p.wrapping_add(64).cast(),
                    );
                    _mm512_permutex2var_epi8(a, idx, b)
                } else {
                    _mm512_permutexvar_epi8(idx, a)
                }
            };
            // SAFETY: as above (features).
            unsafe { store_rows(og, (c, oy, n), v, out, base) };
            item += n;
            oy += n;
            phase += n;
            while phase >= fh {
                (iy, phase) = (iy + 1, phase - fh);
            }
            if oy == oh {
                (c, oy, iy, phase) = (c + 1, 0, 0, 0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::rows_narrow_avx2;
    use super::*;

    #[test]
    fn groups_fill_the_vector_and_the_two_loads() {
        // 2 x 2 pooling of dense 14-byte rows: 7 outputs, rows 28 bytes
        // apart; the fifth row's columns end at byte 126.
        assert_eq!(group_rows(7, 14, 28), 5);
        // Output rows of 40 bytes: one row per vector.
        assert_eq!(group_rows(40, 80, 80), 1);
        assert_eq!(group_rows(7, 200, 14), 0);
        assert_eq!(span_mask(3, 2), 0b11000);
        assert_eq!(span_mask(126, 2), 3u128 << 126);
    }

    /// xorshift64: the test's own random numbers.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    /// A buffer of `c` planes of `h x w` with a halo of `halo` on every side.
    fn grid(h: usize, w: usize, halo: usize) -> Grid {
        let stride = w + 2 * halo;
        Grid {
            origin: halo * stride + halo,
            stride,
            plane: (h + 2 * halo) * stride,
            h,
            w,
        }
    }

    /// A kernel on items `lo..hi`, writing the bytes from `base` on.
    type Job<'a> = dyn FnMut(usize, usize, &mut [u8], usize) -> bool + 'a;

    /// Runs `kernel` on items `0..c oh` split into jobs at random, each
    /// given only the bytes of its own rows, into a buffer of sentinels.
    fn run_jobs(rng: &mut Rng, (c, og): (usize, Grid), kernel: &mut Job) -> Option<Vec<u8>> {
        let mut out = vec![0xA5u8; c * og.plane];
        let items = c * og.h;
        let mut lo = 0;
        while lo < items {
            let hi = (lo + 1 + rng.below(items)).min(items);
            let base = og.row(lo / og.h, lo % og.h);
            let end = og.row((hi - 1) / og.h, (hi - 1) % og.h) + og.w;
            if !kernel(lo, hi, &mut out[base..end], base) {
                return None;
            }
            lo = hi;
        }
        Some(out)
    }

    /// The kernels against loops over every output, on random narrow
    /// maps: windows up to 5 x 5, strides up to 3, paddings, factors up
    /// to 3, halos, jobs splitting channels, signed and unsigned bytes.
    /// Bytes outside the output's interior stay untouched.
    #[test]
    fn narrow_kernels_match_loops_over_every_output() {
        if !std::is_x86_feature_detected!("avx2") {
            eprintln!("no AVX2 on this host: the narrow kernels do not run here");
            return;
        }
        let vbmi = std::is_x86_feature_detected!("avx512vbmi")
            && std::is_x86_feature_detected!("avx512bw");
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let (mut pools, mut avx2_pools, mut upsamplings) = (0, 0, 0);
        for case in 0..3000 {
            let (c, h, w) = (1 + rng.below(5), 1 + rng.below(20), 1 + rng.below(40));
            let (xh, oh_halo) = (rng.below(3), rng.below(2));
            let xg = grid(h, w, xh);
            let x: Vec<u8> = (0..c * xg.plane).map(|_| rng.below(256) as u8).collect();
            let value = |ch: usize, iy: usize, ix: usize| x[xg.row(ch, iy) + ix];
            if case % 2 == 0 {
                let (kh, kw) = (1 + rng.below(5), 1 + rng.below(5));
                let (sh, sw) = (1 + rng.below(3), 1 + rng.below(3));
                let (pt, pl) = (rng.below(kh), rng.below(kw));
                let (pb, pr) = (rng.below(kh), rng.below(kw));
                if h + pt + pb < kh || w + pl + pr < kw {
                    continue;
                }
                let (oh, ow) = ((h + pt + pb - kh) / sh + 1, (w + pl + pr - kw) / sw + 1);
                let og = grid(oh, ow, oh_halo);
                let signed = rng.below(2) == 1;
                let window = ((kh, kw), (sh, sw), (pt, pl));
                let key = |v: u8| if signed { v as i8 as i32 } else { v as i32 };
                let mut want = vec![0xA5u8; c * og.plane];
                for ch in 0..c {
                    for oy in 0..oh {
                        for ox in 0..ow {
                            let mut best = if signed { 0x80u8 } else { 0 };
                            for ky in 0..kh {
                                for kx in 0..kw {
                                    let iy = (oy * sh + ky) as isize - pt as isize;
                                    let ix = (ox * sw + kx) as isize - pl as isize;
                                    if (0..h as isize).contains(&iy)
                                        && (0..w as isize).contains(&ix)
                                    {
                                        let v = value(ch, iy as usize, ix as usize);
                                        if key(v) > key(best) {
                                            best = v;
                                        }
                                    }
                                }
                            }
                            want[og.row(ch, oy) + ox] = best;
                        }
                    }
                }
                let what = format!(
                    "case {case}: max_pool {window:?} on {c}x{h}x{w}, halos {xh}/{oh_halo}"
                );
                if vbmi {
                    let got = run_jobs(&mut rng, (c, og), &mut |lo, hi, out, base| {
                        let rows = (lo, hi, &x[..], out, base);
                        // SAFETY: the host has AVX-512 BW and VBMI (tested).
                        unsafe {
                            if signed {
                                max_pool::<true>(window, (xg, og), rows)
                            } else {
                                max_pool::<false>(window, (xg, og), rows)
                            }
                        }
                    });
                    match got {
                        Some(got) => {
                            pools += 1;
                            assert!(got == want, "{what}");
                        }
                        None => assert!(group_rows(ow, w, sh * xg.stride) < 2, "{what}: refused"),
                    }
                }
                let got = run_jobs(&mut rng, (c, og), &mut |lo, hi, out, base| {
                    let rows = (lo, hi, &x[..], out, base);
                    // SAFETY: the host has AVX2 (tested).
                    unsafe {
                        if signed {
                            rows_narrow_avx2::max_pool::<true>(window, (xg, og), rows)
                        } else {
                            rows_narrow_avx2::max_pool::<false>(window, (xg, og), rows)
                        }
                    }
                });
                match got {
                    Some(got) => {
                        avx2_pools += 1;
                        assert!(got == want, "{what} (AVX2)");
                    }
                    None => assert!(w > 16 || ow > 16, "{what}: refused (AVX2)"),
                }
            } else {
                let (fh, fw) = (1 + rng.below(3), 1 + rng.below(3));
                let og = grid(h * fh, w * fw, oh_halo);
                let got = run_jobs(&mut rng, (c, og), &mut |lo, hi, out, base| {
                    // SAFETY: as above.
                    unsafe { nearest((fh, fw), (xg, og), (lo, hi, &x[..], out, base)) }
                });
                let Some(got) = got else {
                    continue;
                };
                upsamplings += 1;
                let mut want = vec![0xA5u8; c * og.plane];
                for ch in 0..c {
                    for oy in 0..og.h {
                        for ox in 0..og.w {
                            want[og.row(ch, oy) + ox] = value(ch, oy / fh, ox / fw);
                        }
                    }
                }
                assert!(
                    got == want,
                    "case {case}: nearest ({fh}, {fw}) on {c}x{h}x{w}, halos {xh}/{oh_halo}"
                );
            }
        }
        assert!(
            pools > 900 && avx2_pools > 200 && upsamplings > 700,
            "{pools} poolings, {avx2_pools} with AVX2, {upsamplings} upsamplings ran"
        );
    }
}
