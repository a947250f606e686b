//! The AVX2 depthwise convolution (`native::plan_native` plans it for
//! `Isa::Avx2`, on the stages of the AVX-512 kernel in `avx512.rs` whose
//! windows fit a 128-bit lane; rows of more than 4 taps go to
//! `depthwise_words_avx2`): 32 output pixels of one row and channel at
//! a time, four vectors of 8. Per kernel row and vector, the 16 input bytes
//! of each 4-pixel half (one `vbroadcasti128` when both halves' windows lie
//! in the same 16 bytes) gathered into each pixel's taps by one `vpshufb`,
//! one `vpdpbusd ymm` (`dot256`: AVX-VNNI, or its EVEX form under `--isa
//! avx2-vnni`); else (AVX2 alone) two
//! `vpshufb` gather taps 0 and 2, and 1 and 3, as zero-extended words, and
//! two `vpmaddwd` multiply them by the row's taps as sign-extended words
//! (exact for any operands, where `vpmaddubsw` would saturate).
//!
//! Memory: the loads of the last vector end before the AVX-512 kernel's
//! (`NativeStage::fits` checked those). With `Kind::Depthwise::borders`
//! (an input without halo, maybe the caller's array) the kernel rows are
//! first copied into zero-padded scratch rows: AVX2 has no byte-masked
//! loads.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

#[cfg(target_arch = "x86_64")]
use super::dot256::{dpbusd, maddubs, Dot, BYTES, EVEX, MADD, VEX};
#[cfg(target_arch = "x86_64")]
use super::pointwise_avx2::{halves, store};
#[cfg(target_arch = "x86_64")]
use super::tail_avx2::Tail;
#[cfg(target_arch = "x86_64")]
use crate::jit::native::byte_pairs::{BytePairs, MAX_DEPTHWISE_REST_SHARE};
#[cfg(target_arch = "x86_64")]
use crate::jit::native::{Kind, NativeStage};

/// The column stride, dilation and taps of a depthwise stage (from its
/// window table: lane `i` of pixel vector `p` reads byte `windows[64 p +
/// i] + bases[p]` from column `stride_w x0`), with the taps that no
/// channel weighs dropped; `None` when 4 pixels' windows do not fit in 16
/// bytes. `plan_native` plans AVX2 depthwise stages only when they do.
pub(super) fn geometry(st: &NativeStage) -> Option<(usize, usize, usize)> {
    let &Kind::Depthwise {
        stride: (_, sw),
        quads: (1, _),
        ..
    } = st.kind()
    else {
        // (Rows of more than 4 taps: the direct kernel.)
        return None;
    };
    let w = st.windows();
    let dw = usize::from(*w.get(1)?) - usize::from(w[0]);
    // Byte t of every weight dword is tap t of a kernel row.
    let used = st.weights().iter().fold(0u32, |m, &v| m | v as u32);
    let taps = (0..4)
        .rev()
        .find(|t| used >> (8 * t) & 0xFF != 0)
        .map_or(1, |t| t + 1);
    (3 * sw + (taps - 1) * dw <= 15).then_some((sw, dw, taps))
}

/// Whether the AVX2 kernels compute depthwise stage `st`: this module's
/// (see [`geometry`]) or, for rows of 5 to 8 adjacent taps,
/// `depthwise_words_avx2`'s.
pub(crate) fn fits(st: &NativeStage) -> bool {
    geometry(st).is_some() || super::depthwise_words_avx2::fits(st)
}

/// Runs items `lo..hi` (channel-major output rows) of the depthwise stage
/// `st`, `FAST` with the folded tail, `BORDERS` for an input without halo.
///
/// # Safety
/// As `avx512::run`, with AVX2 instead of AVX-512; with `BORDERS` the
/// input needs no spare bytes.
#[cfg(target_arch = "x86_64")]
pub(super) unsafe fn depthwise<const FAST: bool, const BORDERS: bool>(
    st: &NativeStage,
    x: *const u8,
    out: *mut u8,
    lo: usize,
    hi: usize,
) {
    // SAFETY (each): the caller's guarantees; `dot256::form` checked the
    // host's features.
    unsafe {
        match super::dot256::form(st.isa()) {
            // Rows of more than 4 taps: adjacent byte pairs in every form.
            _ if geometry(st).is_none() => {
                super::depthwise_words_avx2::words::<FAST, BORDERS>(st, x, out, lo, hi)
            }
            VEX => vnni::<FAST, BORDERS>(st, x, out, lo, hi),
            EVEX => evex::<FAST, BORDERS>(st, x, out, lo, hi),
            _ if super::depthwise_words_avx2::fits(st) => {
                super::depthwise_words_avx2::words::<FAST, BORDERS>(st, x, out, lo, hi)
            }
            _ => {
                // Byte pairs where at most half the kernel rows need a rest.
                let &Kind::Depthwise { kh, .. } = st.kind() else {
                    return;
                };
                let plan =
                    || BytePairs::plan(st.weights(), st.channels(), kh, MAX_DEPTHWISE_REST_SHARE);
                match st.byte_pairs(plan) {
                    Some(p) => bytes::<FAST, BORDERS>(st, x, out, lo, hi, p),
                    None => wide::<FAST, BORDERS>(st, x, out, lo, hi),
                }
            }
        }
    }
}

/// [`kernel`] with `vpmaddubsw` on the split taps of `pairs`.
///
/// # Safety
/// As [`depthwise`]; `pairs` planned from `st`'s weights.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn bytes<const FAST: bool, const BORDERS: bool>(
    st: &NativeStage,
    x: *const u8,
    out: *mut u8,
    lo: usize,
    hi: usize,
    pairs: &BytePairs,
) {
    // SAFETY: the caller's guarantees.
    unsafe { kernel::<FAST, BORDERS, BYTES>(st, x, out, (lo, hi), Some(pairs)) }
}

/// [`kernel`] with `vpdpbusd` (AVX-VNNI).
///
/// # Safety
/// As [`depthwise`]; the host has AVX-VNNI.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avxvnni")]
unsafe fn vnni<const FAST: bool, const BORDERS: bool>(
    st: &NativeStage,
    x: *const u8,
    out: *mut u8,
    lo: usize,
    hi: usize,
) {
    // SAFETY: the caller's guarantees.
    unsafe { kernel::<FAST, BORDERS, VEX>(st, x, out, (lo, hi), None) }
}

/// [`kernel`] with the EVEX `vpdpbusd` (`--isa avx2-vnni`).
///
/// # Safety
/// As [`depthwise`]; the host has AVX-512 VNNI and VL.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avx512vnni,avx512vl")]
unsafe fn evex<const FAST: bool, const BORDERS: bool>(
    st: &NativeStage,
    x: *const u8,
    out: *mut u8,
    lo: usize,
    hi: usize,
) {
    // SAFETY: the caller's guarantees.
    unsafe { kernel::<FAST, BORDERS, EVEX>(st, x, out, (lo, hi), None) }
}

/// [`kernel`] with `vpmaddwd`.
///
/// # Safety
/// As [`depthwise`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn wide<const FAST: bool, const BORDERS: bool>(
    st: &NativeStage,
    x: *const u8,
    out: *mut u8,
    lo: usize,
    hi: usize,
) {
    // SAFETY: the caller's guarantees.
    unsafe { kernel::<FAST, BORDERS, MADD>(st, x, out, (lo, hi), None) }
}

/// The kernel of [`depthwise`], with the dot products `DOT` (`dot256`).
///
/// # Safety
/// As [`depthwise`]; only inlined into functions compiled with AVX2 and
/// the features of `DOT`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn kernel<const FAST: bool, const BORDERS: bool, const DOT: Dot>(
    st: &NativeStage,
    x: *const u8,
    out: *mut u8,
    (lo, hi): (usize, usize),
    pairs: Option<&BytePairs>,
) {
    let &Kind::Depthwise {
        kh,
        pad_top,
        pad_left,
        stride: (sh, _),
        dilation_h,
        borders,
        ..
    } = st.kind()
    else {
        return;
    };
    let Some((sw, dw, taps)) = geometry(st) else {
        return;
    };
    // Both halves of a vector from one 16-byte load: pixels 4..7's windows
    // end within the 16 bytes from pixel 0's.
    let one_load = 7 * sw + (taps - 1) * dw <= 15;
    // Byte `b` of the gathered windows: tap `t` of pixel `i` of half `h`
    // of the vector (`vpdpbusd`), or with `from` (`MADD`): taps `from` and
    // `from + 2` as the low bytes of two words.
    let table = |from: Option<usize>| {
        let table: [i8; 32] = std::array::from_fn(|b| {
            let (half, i, t) = (b / 16, (b % 16) / 4, b % 4);
            let lead = if one_load { 4 * sw * half } else { 0 };
            let t = match from {
                None => Some(t),
                Some(f) => (t % 2 == 0).then_some(f + t),
            };
            match t {
                Some(t) if t < taps => (lead + sw * i + t * dw) as i8,
                _ => -1,
            }
        });
        // SAFETY: `table` is 32 bytes.
        unsafe { _mm256_loadu_si256(table.as_ptr().cast()) }
    };
    let (table, even, odd) = (table(None), table(Some(0)), table(Some(1)));
    // Pack order (byte 16 L + 4 p + i is pixel 8 p + 4 L + i) to pixel order.
    let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    let tail = Tail::new(st.requant());
    let fast = if FAST { tail.fast() } else { None };
    let width = st.width();
    let chunks = width.div_ceil(32);
    // With `BORDERS`: a zero-padded copy of each kernel row, input column
    // `ix` at `ix + pad_left`, as long as the last chunk's loads.
    let (in_h, in_w) = borders.unwrap_or((usize::MAX, 0));
    let len = (pad_left + in_w).max(sw * 32 * chunks + 16) + 16;
    let mut scratch = vec![0u8; if BORDERS { kh * len } else { 0 }];
    let (stride, plane) = (st.x().stride as isize, st.x().plane as isize);
    // Each kernel row's column `-pad_left`, as an offset from `x` (or from
    // the scratch rows with `BORDERS`), and its taps.
    // (offset, taps, rest of the taps: `BYTES`).
    let mut rows = vec![(0isize, 0i32, 0i32); kh];
    let ones = _mm256_set1_epi16(1);
    let all = match pairs {
        Some(p) if DOT == BYTES => &p.main[..],
        _ => st.weights(),
    };
    for item in lo..hi {
        let (c, y) = (item / st.height(), item % st.height());
        let weights = &all[c * kh..(c + 1) * kh];
        // Channel `c`'s rests (kernel row, rest): none but with `BYTES`.
        let rests = pairs
            .and_then(|p| p.rests.get(c))
            .map_or(&[][..], Vec::as_slice);
        let rest_of = |ky: usize| rests.iter().find(|&&(k, _)| k == ky).map_or(0, |&(_, r)| r);
        // Input row of kernel row 0 (above the input when negative).
        let top = (sh * y) as isize - pad_top as isize;
        // Offset of that row's column `-pad_left`.
        let first = st.x().origin as isize + c as isize * plane + top * stride - pad_left as isize;
        let mut n = 0;
        for (ky, &tap) in weights.iter().enumerate() {
            let dy = (ky * dilation_h) as isize;
            if BORDERS {
                let iy = top + dy;
                if !(0..in_h as isize).contains(&iy) {
                    continue;
                }
                let at = (st.x().origin + c * st.x().plane) as isize + iy * stride;
                // SAFETY: row `iy` of channel `c` is one of the input's, its
                // `in_w` bytes inside the buffer (`fits`).
                let src = unsafe { std::slice::from_raw_parts(x.offset(at), in_w) };
                scratch[ky * len + pad_left..ky * len + pad_left + in_w].copy_from_slice(src);
                rows[n] = ((ky * len) as isize, tap, rest_of(ky));
            } else {
                rows[n] = (first + dy * stride, tap, rest_of(ky));
            }
            n += 1;
        }
        let base = if BORDERS { scratch.as_ptr() } else { x };
        let at_out = st.out().origin + c * st.out().plane + y * st.out().stride;
        for chunk in 0..chunks {
            let x0 = 32 * chunk;
            let mut acc = [_mm256_setzero_si256(); 4];
            for &(row, tap, rest) in &rows[..n] {
                let row = base.wrapping_offset(row);
                let wv = _mm256_set1_epi32(tap);
                let rv = _mm256_set1_epi32(rest);
                let (we, wo) = halves(tap);
                let (we, wo) = (_mm256_set1_epi32(we), _mm256_set1_epi32(wo));
                for (k, acc_k) in acc.iter_mut().enumerate() {
                    let at = row.wrapping_add(sw * (x0 + 8 * k));
                    // SAFETY: pixel `x0 + 8 k`'s window starts in the
                    // halo-padded row (or the scratch row); the 16 bytes
                    // from it and from pixel `x0 + 8 k + 4`'s end before
                    // the 128 the AVX-512 kernel loads from column `sw x0'`
                    // (`x0'` = `x0` rounded down to 64) plus `bases[3]`,
                    // which `fits` (or the scratch's length) covers.
                    let v = unsafe {
                        if one_load {
                            _mm256_broadcastsi128_si256(_mm_loadu_si128(at.cast()))
                        } else {
                            _mm256_loadu2_m128i(at.add(4 * sw).cast(), at.cast())
                        }
                    };
                    *acc_k = if DOT == BYTES {
                        let g = _mm256_shuffle_epi8(v, table);
                        // SAFETY (both): AVX2.
                        let a = unsafe { maddubs(*acc_k, g, wv, ones) };
                        if rest != 0 {
                            unsafe { maddubs(a, g, rv, ones) }
                        } else {
                            a
                        }
                    } else if DOT != MADD {
                        // SAFETY: the caller's target features.
                        unsafe { dpbusd::<DOT>(*acc_k, _mm256_shuffle_epi8(v, table), wv) }
                    } else {
                        let e = _mm256_madd_epi16(_mm256_shuffle_epi8(v, even), we);
                        let o = _mm256_madd_epi16(_mm256_shuffle_epi8(v, odd), wo);
                        _mm256_add_epi32(*acc_k, _mm256_add_epi32(e, o))
                    };
                }
            }
            let bytes = match &fast {
                // SAFETY: this function's target features.
                Some(f) => unsafe { f.packed4(&acc, f.channel(c)) },
                // SAFETY: as above.
                None => unsafe { tail.packed4(&acc, tail.channel(c)) },
            };
            let bytes = _mm256_permutevar8x32_epi32(bytes, order);
            // SAFETY: pixels (c, y, x0 .. x0 + count) are inside the output.
            unsafe { store(out.add(at_out + x0), bytes, (width - x0).min(32)) };
        }
    }
}
