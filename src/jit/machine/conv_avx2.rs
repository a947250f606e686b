//! The AVX2 direct convolution, for CPUs without AVX-512 (or with
//! `--isa avx2`): the plan and layout of `conv_avx512` on 256-bit vectors,
//! 8 pixels a vector, `vpdpbusd ymm` from AVX-VNNI (`vpmaddubsw` would
//! saturate on u8 x i8 pairs). AVX2 has no byte-masked loads or stores, so
//! the last bytes of a row go through a zeroed stack copy, and the output's
//! last pixels through a byte copy.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

#[cfg(target_arch = "x86_64")]
use super::conv_avx512::{blocked_weights, fill_steps, Window};
#[cfg(target_arch = "x86_64")]
use crate::jit::native::{Bias, Direct, Kind, NativeStage, Requant, Scale};

/// Channels per register block for `pv` pixel vectors (16 registers).
fn max_channels(pv: usize) -> usize {
    if pv == 1 {
        12
    } else {
        6
    }
}

/// Runs items `lo..hi` of an AVX2 stage (a direct convolution).
///
/// # Safety
/// As `avx512::run`, with AVX2 and AVX-VNNI instead of AVX-512.
#[cfg(target_arch = "x86_64")]
pub(super) unsafe fn run(stage: &NativeStage, ptrs: *const *mut u8, lo: usize, hi: usize) {
    let Kind::Direct(d) = stage.kind() else {
        return;
    };
    // SAFETY: the caller guarantees `ptrs` has an entry for every buffer.
    let (x, out) = unsafe {
        (
            (*ptrs.add(stage.x().buffer)).cast_const(),
            *ptrs.add(stage.out().buffer),
        )
    };
    // SAFETY: as above, the residual buffer has an entry too; the caller's
    // guarantees are the kernel's preconditions.
    let res = stage.residual().map_or(std::ptr::null(), |(r, _)| unsafe {
        (*ptrs.add(r.buffer)).cast_const()
    });
    unsafe { direct(stage, d, (x, res), out, lo, hi) }
}

/// Runs output rows `lo..hi` of a direct convolution (one output column
/// phase: `plan_direct` keeps transposed convolutions off this kernel).
///
/// # Safety
/// As `conv_avx512::direct`, with AVX2 and AVX-VNNI instead of AVX-512.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avxvnni")]
pub(super) unsafe fn direct(
    st: &NativeStage,
    d: &Direct,
    (x, res): (*const u8, *const u8),
    out: *mut u8,
    lo: usize,
    hi: usize,
) {
    if d.out_phases != 1 {
        return;
    }
    let tail = Tail::new(st.requant());
    let mut win = Window::new(d);
    let pv = d.q_width.div_ceil(8).min(2);
    let chunk = 8 * pv;
    let ring = d.ring() as i64;
    let rows_max = d.row_lists.iter().map(Vec::len).max().unwrap_or(0);
    let mut rows = vec![std::ptr::null::<u8>(); rows_max];
    let blocked = blocked_weights(st, d, max_channels(pv));
    let mut step_at = vec![std::ptr::null::<u8>(); d.steps.iter().map(Vec::len).max().unwrap_or(0)];
    for oy in lo..hi {
        let (ry, base) = d.row_phase(oy);
        let list = &d.row_lists[ry];
        for &r in list {
            let iy = base + r;
            let slot = iy.rem_euclid(ring) as usize;
            if win.tags[slot] != iy {
                // SAFETY: row `iy` of every channel is inside the input's
                // halo-padded buffer (`plan_direct` checked the rows).
                unsafe { repack(st, d, x, iy, slot, &mut win) };
                win.tags[slot] = iy;
            }
        }
        for (row, &r) in rows.iter_mut().zip(list) {
            let slot = (base + r).rem_euclid(ring) as usize;
            *row = win.data[slot * win.slot..].as_ptr();
        }
        for g in 0..d.groups {
            fill_steps(d, &rows, &d.steps[ry], g, &mut step_at);
            let mut x0 = 0;
            while x0 < st.width() {
                let spot = Spot {
                    steps: &step_at[..d.steps[ry].len()],
                    x0,
                    count: (st.width() - x0).min(chunk),
                    oy,
                    res,
                    residual: st.residual().map(|(r, signed)| {
                        (r, signed, st.requant().residual.map_or(0, |q| q.align))
                    }),
                };
                let mut o = g * d.cout_g;
                let end = o + d.cout_g;
                // SAFETY (each block): as in `conv_avx512::direct`.
                unsafe {
                    while o < end {
                        let n = (end - o).min(max_channels(pv));
                        // Step-major (`blocked_weights`; one row phase).
                        let w = &blocked[o * d.steps_total..(o + n) * d.steps_total];
                        dispatch(pv, n, st, &tail, &spot, w, o, out);
                        o += n;
                    }
                }
                x0 += chunk;
            }
        }
    }
}

/// Where a block reads and stores: `count` pixels from `x0` (each step's
/// window bytes at column 0 in `steps`).
#[cfg(target_arch = "x86_64")]
struct Spot<'a> {
    steps: &'a [*const u8],
    x0: usize,
    count: usize,
    oy: usize,
    /// The residual map (`NativeStage::residual`): its buffer, rows,
    /// signedness and alignment.
    res: *const u8,
    residual: Option<(crate::jit::native::Rows, bool, u32)>,
}

/// Calls `block::<PV, N>` for the runtime `pv` and `n`.
///
/// # Safety
/// See [`block`].
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,avxvnni")]
unsafe fn dispatch(
    pv: usize,
    n: usize,
    st: &NativeStage,
    tail: &Tail,
    spot: &Spot,
    w: &[i32],
    o: usize,
    out: *mut u8,
) {
    macro_rules! pick {
        ($p:literal; $($n:literal)*) => {
            match n {
                // SAFETY: the caller's guarantees.
                $($n => unsafe { block::<$p, $n>(st, tail, spot, w, o, out) },)*
                _ => {}
            }
        };
    }
    match pv {
        1 => pick!(1; 1 2 3 4 5 6 7 8 9 10 11 12),
        _ => pick!(2; 1 2 3 4 5 6),
    }
}

/// Output channels `o..o + N`, `8 PV` pixels from `spot.x0` of row
/// `spot.oy`.
///
/// # Safety
/// As `conv_avx512::block`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avxvnni")]
unsafe fn block<const PV: usize, const N: usize>(
    st: &NativeStage,
    tail: &Tail,
    spot: &Spot,
    w: &[i32],
    o: usize,
    out: *mut u8,
) {
    let mut acc = [[_mm256_setzero_si256(); PV]; N];
    let steps = spot.steps.len().min(w.len() / N);
    let (at, w) = (spot.steps.as_ptr(), w.as_ptr());
    for s in 0..steps {
        // SAFETY: `s < steps` is inside both lists; `x0 + 8 PV` dwords of
        // the step's quad row lie within the slot.
        let base = unsafe { (*at.add(s)).add(4 * spot.x0) };
        let a: [__m256i; PV] =
            std::array::from_fn(|p| unsafe { _mm256_loadu_si256(base.add(32 * p).cast()) });
        for (j, acc_j) in acc.iter_mut().enumerate() {
            // SAFETY: `s N + j < w.len()`.
            let wv = _mm256_set1_epi32(unsafe { *w.add(s * N + j) });
            for (acc_p, &a_p) in acc_j.iter_mut().zip(&a) {
                *acc_p = _mm256_dpbusd_avx_epi32(*acc_p, a_p, wv);
            }
        }
    }
    // SAFETY: the caller's guarantees.
    unsafe { finish::<PV, N>(&acc, st, tail, spot, (o, out)) }
}

/// The tail and the stores of a block's accumulators. Out of line: inlined,
/// the tail's constants make the dot-product loop spill its accumulators.
///
/// # Safety
/// As [`block`].
#[cfg(target_arch = "x86_64")]
#[inline(never)]
#[target_feature(enable = "avx2,avxvnni")]
unsafe fn finish<const PV: usize, const N: usize>(
    acc: &[[__m256i; PV]; N],
    st: &NativeStage,
    tail: &Tail,
    spot: &Spot,
    (o, out): (usize, *mut u8),
) {
    for (j, acc_j) in acc.iter().enumerate() {
        let c = o + j;
        let k = tail.channel(c);
        let mut bytes = [0u8; 16];
        for (p, &a) in acc_j.iter().enumerate() {
            let v = match &spot.residual {
                None => tail.apply(a, k),
                Some((r, signed, align)) => {
                    let at = r.origin + c * r.plane + spot.oy * r.stride + spot.x0 + 8 * p;
                    // SAFETY: pixel (c, oy, x0 + 8 p) of the residual map
                    // lies in its buffer, whose spare bytes cover the 8 read.
                    let bytes = unsafe { _mm_loadl_epi64(spot.res.add(at).cast()) };
                    let wide = if *signed {
                        _mm256_cvtepi8_epi32(bytes)
                    } else {
                        _mm256_cvtepu8_epi32(bytes)
                    };
                    let shift = _mm_cvtsi32_si128(*align as i32);
                    tail.apply_residual(a, k, Some(_mm256_sll_epi32(wide, shift)))
                }
            };
            // SAFETY: 8 bytes at 8p <= 8 of a 16-byte array.
            unsafe { _mm_storel_epi64(bytes.as_mut_ptr().add(8 * p).cast(), v) };
        }
        let at = st.out().origin + c * st.out().plane + spot.oy * st.out().stride + spot.x0;
        // SAFETY: pixels (c, oy, x0 .. x0 + count) are inside the output row.
        let dst = unsafe { std::slice::from_raw_parts_mut(out.add(at), spot.count) };
        if spot.count == 8 * PV {
            // A constant length: one move, not a call.
            dst.copy_from_slice(&bytes[..8 * PV]);
        } else {
            dst.copy_from_slice(&bytes[..spot.count]);
        }
    }
}

/// 32 bytes from `p`, of which only the first `len` are read (zero after).
///
/// # Safety
/// `p` holds `len` readable bytes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avxvnni")]
unsafe fn load_upto(p: *const u8, len: usize) -> __m256i {
    if len >= 32 {
        // SAFETY: 32 readable bytes.
        return unsafe { _mm256_loadu_si256(p.cast()) };
    }
    let mut buf = [0u8; 32];
    // SAFETY: `len` readable bytes.
    buf[..len].copy_from_slice(unsafe { std::slice::from_raw_parts(p, len) });
    // SAFETY: `buf` is 32 bytes.
    unsafe { _mm256_loadu_si256(buf.as_ptr().cast()) }
}

/// Repacks input row `iy` into window slot `slot` (see `conv_avx512::repack`).
///
/// # Safety
/// As `conv_avx512::repack`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avxvnni")]
unsafe fn repack(
    st: &NativeStage,
    d: &Direct,
    x: *const u8,
    iy: i64,
    slot: usize,
    win: &mut Window,
) {
    let cin = d.groups * d.cin_g;
    let sw = d.stride_w;
    let (lo, hi) = d.readable;
    // Byte `col0` of row `iy` of channel `c`; bytes `lo..hi` from it are
    // readable (the pointer itself may lie before the buffer).
    let row = |c: usize| -> *const u8 {
        let at = (st.x().origin + c * st.x().plane) as i64 + iy * st.x().stride as i64 + d.col0;
        x.wrapping_offset(at as isize)
    };
    let mut phase_rows = vec![(std::ptr::null::<u8>(), 0usize, 0usize); cin * sw];
    if sw == 1 {
        for (c, pr) in phase_rows.iter_mut().enumerate() {
            *pr = (row(c), lo, hi);
        }
    } else {
        for c in 0..cin {
            // SAFETY: `row(c)` holds `hi` readable bytes (`lo` is 0 for
            // strided convolutions).
            let src = unsafe { std::slice::from_raw_parts(row(c), hi) };
            for p in 0..sw {
                let at = (c * sw + p) * d.phase_len;
                let dst = &mut win.phases[at..at + d.phase_len];
                if sw == 2 {
                    // SAFETY: a 64-byte multiple of `dst`; `src` bounds checked inside.
                    unsafe { split_half(src, p, dst) };
                } else {
                    for (i, b) in dst.iter_mut().enumerate() {
                        *b = src.get(i * sw + p).copied().unwrap_or(0);
                    }
                }
                phase_rows[c * sw + p] = (win.phases[at..].as_ptr(), 0, d.phase_len);
            }
        }
    }
    // Signed inputs as `x + 128` (see `Direct::flip`).
    let flip = _mm256_set1_epi8(if d.flip { -128 } else { 0 });
    let base = slot * win.slot;
    for g in 0..d.groups {
        for (q, quad) in d.quads.iter().enumerate() {
            let src: [(*const u8, usize, usize); 4] = std::array::from_fn(|j| match quad[j] {
                Some(s) => {
                    let (p, lo, hi) = phase_rows[(g * d.cin_g + s.channel) * sw + s.phase];
                    (
                        p.wrapping_add(s.offset),
                        lo.saturating_sub(s.offset),
                        hi.saturating_sub(s.offset),
                    )
                }
                None => (std::ptr::null(), 0, 0),
            });
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
                    unsafe { _mm256_storeu_si256(win.data.as_mut_ptr().add(at).cast(), *v) };
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
#[target_feature(enable = "avx2,avxvnni")]
unsafe fn load_range(p: *const u8, lo: usize, hi: usize, at: usize) -> __m256i {
    if lo <= at && at + 32 <= hi {
        // SAFETY: 32 readable bytes.
        return unsafe { _mm256_loadu_si256(p.wrapping_add(at).cast()) };
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
#[target_feature(enable = "avx2,avxvnni")]
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
#[target_feature(enable = "avx2,avxvnni")]
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
            // SAFETY: `len` readable bytes from `src[at]`.
            unsafe { load_upto(src.as_ptr().add(at), len) }
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

/// The requantization tail (`native::Requant`) on 8 lanes; AVX2 has no
/// 64-bit arithmetic shift, so `sra64` builds one from logical shifts.
#[cfg(target_arch = "x86_64")]
struct Tail<'a> {
    q: &'a Requant,
    pre: bool,
    clamp1: bool,
    clamp2: bool,
    lo1: __m256i,
    hi1: __m256i,
    lo2: __m256i,
    hi2: __m256i,
    shift: __m256i,
    shift_odd: __m256i,
    half: __m256i,
    half_down: __m256i,
    low_bits: __m256i,
    ones: __m256i,
    shift32: __m256i,
    half32: __m256i,
    half_down32: __m256i,
    low_bits32: __m256i,
    ones32: __m256i,
    /// Byte 0 of each dword, per 128-bit lane, into its low 4 bytes.
    low_bytes: __m256i,
}

#[cfg(target_arch = "x86_64")]
impl<'a> Tail<'a> {
    #[target_feature(enable = "avx2,avxvnni")]
    fn new(q: &'a Requant) -> Tail<'a> {
        let shift = q.scale.as_ref().map_or(0, |s| s.shift);
        let half = if shift == 0 { 0 } else { 1i64 << (shift - 1) };
        let odd = if shift >= 32 { shift - 32 } else { shift };
        let low: [i8; 32] = std::array::from_fn(|i| {
            let i = i % 16;
            if i < 4 {
                (4 * i) as i8
            } else {
                -1
            }
        });
        Tail {
            q,
            pre: q.pre.iter().any(|&v| v != 0),
            clamp1: q.lo1 > i32::MIN || q.hi1 < i32::MAX,
            clamp2: q.lo2 > i32::MIN || q.hi2 < i32::MAX,
            lo1: _mm256_set1_epi32(q.lo1),
            hi1: _mm256_set1_epi32(q.hi1),
            lo2: _mm256_set1_epi32(q.lo2),
            hi2: _mm256_set1_epi32(q.hi2),
            shift: _mm256_set1_epi64x(i64::from(shift)),
            shift_odd: _mm256_set1_epi64x(i64::from(odd)),
            half: _mm256_set1_epi64x(half),
            half_down: _mm256_set1_epi64x((half - 1).max(0)),
            low_bits: _mm256_set1_epi64x((2 * half - 1).max(0)),
            ones: _mm256_set1_epi64x(1),
            shift32: _mm256_set1_epi32(shift.min(31) as i32),
            half32: _mm256_set1_epi32(half.min(1 << 30) as i32),
            half_down32: _mm256_set1_epi32((half - 1).clamp(0, 1 << 30) as i32),
            low_bits32: _mm256_set1_epi32((2 * half - 1).clamp(0, i64::from(i32::MAX)) as i32),
            ones32: _mm256_set1_epi32(1),
            // SAFETY: `low` is 32 bytes.
            low_bytes: unsafe { _mm256_loadu_si256(low.as_ptr().cast()) },
        }
    }

    #[target_feature(enable = "avx2,avxvnni")]
    fn channel(&self, c: usize) -> [__m256i; 3] {
        let q = self.q;
        let mul = q.scale.as_ref().map_or(1, |s| s.mul[c]);
        [
            _mm256_set1_epi32(q.pre[c]),
            _mm256_set1_epi64x(i64::from(mul)),
            _mm256_set1_epi32(q.post[c]),
        ]
    }

    /// 8 accumulators of one channel to 8 bytes (the low 8 of the result).
    #[target_feature(enable = "avx2,avxvnni")]
    fn apply(&self, acc: __m256i, k: [__m256i; 3]) -> __m128i {
        self.apply_residual(acc, k, None)
    }

    /// [`Self::apply`], with the residual values `res` (aligned) added after
    /// the second clamp, then the third clamp.
    #[target_feature(enable = "avx2,avxvnni")]
    fn apply_residual(
        &self,
        acc: __m256i,
        [pre, mul, post]: [__m256i; 3],
        res: Option<__m256i>,
    ) -> __m128i {
        let mut v = acc;
        if self.pre {
            v = _mm256_add_epi32(v, pre);
        }
        if self.clamp1 {
            v = _mm256_min_epi32(_mm256_max_epi32(v, self.lo1), self.hi1);
        }
        if let Some(s) = &self.q.scale {
            v = self.scale(v, mul, s);
        }
        let v = _mm256_add_epi32(v, post);
        let v = if self.clamp2 {
            _mm256_min_epi32(_mm256_max_epi32(v, self.lo2), self.hi2)
        } else {
            v
        };
        let v = match res {
            Some(r) => {
                let lo3 = _mm256_set1_epi32(self.q.lo3);
                let hi3 = _mm256_set1_epi32(self.q.hi3);
                _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(v, r), lo3), hi3)
            }
            None => v,
        };
        let b = _mm256_shuffle_epi8(v, self.low_bytes);
        let b = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 1, 1, 1, 1, 1));
        _mm256_castsi256_si128(b)
    }

    #[target_feature(enable = "avx2,avxvnni")]
    fn scale(&self, v: __m256i, mul: __m256i, s: &Scale) -> __m256i {
        if s.narrow {
            return _mm256_srav_epi32(self.bias32(v, s), self.shift32);
        }
        let even = _mm256_mul_epi32(v, mul);
        let odd = _mm256_mul_epi32(_mm256_shuffle_epi32::<0xF5>(v), mul);
        if s.shift == 0 {
            return _mm256_blend_epi32::<0xAA>(even, _mm256_slli_epi64::<32>(odd));
        }
        let even = sra64(self.bias(even, s), self.shift);
        let odd = sra64(self.bias(odd, s), self.shift_odd);
        let odd = if s.shift >= 32 {
            odd
        } else {
            _mm256_slli_epi64::<32>(odd)
        };
        _mm256_blend_epi32::<0xAA>(even, odd)
    }

    #[target_feature(enable = "avx2,avxvnni")]
    fn bias32(&self, v: __m256i, s: &Scale) -> __m256i {
        let negative = || _mm256_cmpgt_epi32(_mm256_setzero_si256(), v);
        let add_if =
            |m: __m256i, x: __m256i, y: __m256i| _mm256_add_epi32(x, _mm256_and_si256(m, y));
        match s.bias {
            Bias::None => v,
            Bias::TowardZero => add_if(negative(), v, self.low_bits32),
            Bias::Half => _mm256_add_epi32(v, self.half32),
            Bias::HalfDown => _mm256_add_epi32(v, self.half_down32),
            Bias::HalfTowardZero => add_if(
                negative(),
                _mm256_add_epi32(v, self.half_down32),
                self.ones32,
            ),
            Bias::HalfAway => {
                let up = _mm256_add_epi32(v, self.half32);
                _mm256_sub_epi32(up, _mm256_and_si256(negative(), self.ones32))
            }
            Bias::HalfEven => {
                let odd = _mm256_and_si256(_mm256_srav_epi32(v, self.shift32), self.ones32);
                _mm256_add_epi32(_mm256_add_epi32(v, self.half_down32), odd)
            }
        }
    }

    #[target_feature(enable = "avx2,avxvnni")]
    fn bias(&self, p: __m256i, s: &Scale) -> __m256i {
        let negative = || _mm256_cmpgt_epi64(_mm256_setzero_si256(), p);
        let add_if =
            |m: __m256i, x: __m256i, y: __m256i| _mm256_add_epi64(x, _mm256_and_si256(m, y));
        match s.bias {
            Bias::None => p,
            Bias::TowardZero => add_if(negative(), p, self.low_bits),
            Bias::Half => _mm256_add_epi64(p, self.half),
            Bias::HalfDown => _mm256_add_epi64(p, self.half_down),
            Bias::HalfTowardZero => {
                add_if(negative(), _mm256_add_epi64(p, self.half_down), self.ones)
            }
            Bias::HalfAway => {
                let up = _mm256_add_epi64(p, self.half);
                _mm256_sub_epi64(up, _mm256_and_si256(negative(), self.ones))
            }
            Bias::HalfEven => {
                let odd = _mm256_and_si256(sra64(p, self.shift), self.ones);
                _mm256_add_epi64(_mm256_add_epi64(p, self.half_down), odd)
            }
        }
    }
}

/// Arithmetic shift right of 64-bit lanes: `!((!x) >> s)` for negative `x`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avxvnni")]
fn sra64(x: __m256i, s: __m256i) -> __m256i {
    let sign = _mm256_cmpgt_epi64(_mm256_setzero_si256(), x);
    _mm256_xor_si256(_mm256_srlv_epi64(_mm256_xor_si256(x, sign), s), sign)
}
