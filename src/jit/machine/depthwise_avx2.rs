//! The AVX2 depthwise convolution (`native::plan_native` plans it for
//! `Isa::Avx2`, on the stages of the AVX-512 kernel in `avx512.rs` whose
//! windows fit a 128-bit lane; rows of more than 4 taps go to
//! `depthwise_words_avx2`): 32 output pixels of one row and channel at
//! a time, four vectors of 8; rows of at most 16 pixels take one or two
//! vectors, and the four hold up to 4 or 2 output rows of the channel
//! (7x7 and 14x14 maps). Per kernel row and vector, the 16 input bytes
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
//! (an input without halo, maybe the caller's array) a channel's input
//! rows are first copied into zero-padded scratch rows: AVX2 has no
//! byte-masked loads. Into a dense output (rows and planes back to back)
//! a group's row of at most 8 (16) pixels is one store of 8 (16) bytes
//! when the bytes after it, up to the job's end, are the job's own and
//! written later, as in `depthwise_words_avx2` (3x3 on 960 x 7x7: 10%).

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

#[cfg(target_arch = "x86_64")]
use super::dot256::{dpbusd, maddubs, Dot, BYTES, EVEX, MADD, VEX};
#[cfg(target_arch = "x86_64")]
use super::pointwise_avx2::{halves, store};
#[cfg(target_arch = "x86_64")]
use super::row_copy::{copy_rows, After};
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
    use super::depthwise_words_avx2 as words;
    // Column stride 2 and adjacent taps: with VNNI, the weight quads on
    // the loads as they are (no gather).
    let quads = words::fits(st) && matches!(st.kind(), Kind::Depthwise { stride: (_, 2), .. });
    // SAFETY (each): the caller's guarantees; `dot256::form` checked the
    // host's features.
    unsafe {
        match super::dot256::form(st.isa()) {
            VEX if quads => words::words_vnni::<FAST, BORDERS>(st, x, out, lo, hi),
            EVEX if quads => words::words_evex::<FAST, BORDERS>(st, x, out, lo, hi),
            // Rows of more than 4 taps: adjacent byte pairs in every form.
            _ if geometry(st).is_none() => words::words::<FAST, BORDERS>(st, x, out, lo, hi),
            VEX => vnni::<FAST, BORDERS>(st, x, out, lo, hi),
            EVEX => evex::<FAST, BORDERS>(st, x, out, lo, hi),
            _ if words::fits(st) => words::words::<FAST, BORDERS>(st, x, out, lo, hi),
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
    // Both halves of a vector from one 16-byte load: the windows of its
    // pixels 4..7 (those of the row: 4..6 in rows of 7, as at stride 2 on
    // 14x14 maps) end within the 16 bytes from pixel 0's. (A pixel past the
    // row gathers bytes of the same load, and is not stored.)
    let last = st.width().clamp(1, 8) - 1;
    let one_load = last * sw + (taps - 1) * dw <= 15;
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
    let height = st.height();
    // With `BORDERS`: a zero-padded copy of the channel's input rows the
    // items read (input row `iy` in scratch row `iy + pad_top`, column `ix`
    // at `ix + pad_left`, the rows around them zero), each as long as the
    // last chunk's loads, made once per channel (per kernel row and item,
    // the copies took most of a 7x7 map).
    let (in_h, in_w) = borders.unwrap_or((0, 0));
    let len = (pad_left + in_w).max(sw * 32 * chunks + 16) + 16;
    let span = (kh - 1) * dilation_h + 1;
    // (Output row `y`, kernel row `ky` reads scratch row `sh y + ky dh`.)
    let padded_rows = if BORDERS {
        sh * height.saturating_sub(1) + span
    } else {
        0
    };
    let mut scratch = vec![0u8; padded_rows * len];
    let mut held = usize::MAX;
    let (stride, plane) = (st.x().stride as isize, st.x().plane as isize);
    // Rows of at most 16 pixels (7x7 and 14x14 maps) take one or two
    // vectors; the four vectors hold `group` output rows of a channel.
    let per_row = if width <= 16 { width.div_ceil(8) } else { 4 };
    let group = 4 / per_row;
    // A dense output: a row of a group may end in a whole store of its 8
    // or 16 bytes, the bytes after it the job's own, written later (a
    // 7-pixel row took stores of 4, 2 and 1 bytes). `job_end` 0: never.
    let job_end = super::depthwise_words_avx2::dense_job_end(st, hi).unwrap_or(0);
    // Per kernel row: each vector's first window, the taps, their rest.
    let mut taps_of = vec![([std::ptr::null::<u8>(); 4], 0i32, 0i32); kh];
    let ones = _mm256_set1_epi16(1);
    let all = match pairs {
        Some(p) if DOT == BYTES => &p.main[..],
        _ => st.weights(),
    };
    let gather = Gather {
        table,
        even,
        odd,
        ones,
        one_load,
        sw,
    };
    // Bytes from a kernel row of the group's first output row to the next
    // output row and to the next kernel row, and from the first vector's
    // window to vector `k`'s (output row `k / per_row`, pixel `8 (k %
    // per_row)`).
    let (next, down) = if BORDERS {
        ((sh * len) as isize, (dilation_h * len) as isize)
    } else {
        (sh as isize * stride, dilation_h as isize * stride)
    };
    let apart: [isize; 4] =
        std::array::from_fn(|k| (k / per_row) as isize * next + (sw * 8 * (k % per_row)) as isize);
    let mut item = lo;
    while item < hi {
        let (c, y) = (item / height, item % height);
        // Output rows `y .. y + r` of channel `c`.
        let r = group.min(height - y).min(hi - item);
        let weights = &all[c * kh..(c + 1) * kh];
        // Channel `c`'s rests (kernel row, rest): none but with `BYTES`.
        let rests = pairs
            .and_then(|p| p.rests.get(c))
            .map_or(&[][..], Vec::as_slice);
        let rest_of = |ky: usize| rests.iter().find(|&&(k, _)| k == ky).map_or(0, |&(_, r)| r);
        if BORDERS && held != c {
            held = c;
            // The input rows of this channel's output rows `y..y1`, clipped
            // to the input.
            let y1 = height.min(y + hi - item);
            let first_row = (sh * y).saturating_sub(pad_top);
            let end_row = in_h.min((sh * (y1 - 1) + span).saturating_sub(pad_top));
            if first_row < end_row {
                let at = st.x().origin + c * st.x().plane + first_row * st.x().stride;
                let to = (first_row + pad_top) * len + pad_left;
                // SAFETY: rows `first_row..end_row` of channel `c` are the
                // input's, their `in_w` bytes inside the buffer (`fits`),
                // each but the last followed by the next row (`in_w` bytes
                // and the stride after each readable); scratch rows up to
                // `end_row + pad_top <= padded_rows` (`end_row`'s bound)
                // have `in_w + 16` bytes from column `pad_left`, and the
                // zeros written after a row land in its padding.
                unsafe {
                    copy_rows(
                        (x.add(at), st.x().stride),
                        (scratch.as_mut_ptr().add(to), len),
                        in_w,
                        end_row - first_row,
                        After::Zeros,
                    )
                };
            }
        }
        item += r;
        // Output row `y`'s kernel row 0 at column `-pad_left` (from `x`, or
        // from the scratch), and the bytes to the next output row and to
        // the next kernel row.
        let (base, row0) = if BORDERS {
            (scratch.as_ptr(), (sh * y * len) as isize)
        } else {
            let top = (sh * y) as isize - pad_top as isize;
            let row0 =
                st.x().origin as isize + c as isize * plane + top * stride - pad_left as isize;
            (x, row0)
        };
        for chunk in 0..chunks {
            let x0 = 32 * chunk;
            for (ky, (t, &tap)) in taps_of.iter_mut().zip(weights).enumerate() {
                let at = base
                    .wrapping_offset(row0 + ky as isize * down)
                    .wrapping_add(sw * x0);
                let windows = std::array::from_fn(|k| at.wrapping_offset(apart[k]));
                *t = (windows, tap, rest_of(ky));
            }
            let vectors = if group > 1 {
                r * per_row
            } else {
                (width - x0).div_ceil(8)
            };
            // SAFETY (each): pixel `x0 + 8 k`'s window (of each row of the
            // group) starts in the halo-padded row or the scratch row; the
            // 16 bytes from it and from pixel `x0 + 8 k + 4`'s end before
            // the 128 the AVX-512 kernel loads from column `sw x0'` (`x0'`
            // = `x0` rounded down to 64) plus `bases[3]`, which `fits` (or
            // the scratch's length) covers.
            let acc = unsafe {
                match vectors {
                    1 => gather.dots::<1, DOT>(&taps_of),
                    2 => gather.dots::<2, DOT>(&taps_of),
                    3 => gather.dots::<3, DOT>(&taps_of),
                    _ => gather.dots::<4, DOT>(&taps_of),
                }
            };
            let bytes = match &fast {
                // SAFETY: this function's target features.
                Some(f) => unsafe { f.packed4(&acc, f.channel(c)) },
                // SAFETY: as above.
                None => unsafe { tail.packed4(&acc, tail.channel(c)) },
            };
            let bytes = _mm256_permutevar8x32_epi32(bytes, order);
            let at_out = |y: usize| st.out().origin + c * st.out().plane + y * st.out().stride;
            if group == 1 {
                // SAFETY: pixels (c, y, x0 .. x0 + count) are inside the output.
                unsafe { store(out.add(at_out(y) + x0), bytes, (width - x0).min(32)) };
                continue;
            }
            for k in 0..r {
                let at = at_out(y + k);
                // Row `y + k`'s bytes are dwords `2 per_row k ..`: of 8
                // bytes, half `k % 2` of 128-bit lane `k / 2`; of 16, lane `k`.
                let lane = if per_row * k < 2 {
                    _mm256_castsi256_si128(bytes)
                } else {
                    _mm256_extracti128_si256::<1>(bytes)
                };
                if at + 8 * per_row <= job_end {
                    // SAFETY: pixels (c, y + k, 0 .. width) are inside the
                    // output, and the bytes after them up to `job_end` are
                    // this job's, written later.
                    unsafe {
                        match (per_row, k % 2) {
                            (1, 0) => _mm_storel_epi64(out.add(at).cast(), lane),
                            (1, _) => _mm_storeh_pd(out.add(at).cast(), _mm_castsi128_pd(lane)),
                            _ => _mm_storeu_si128(out.add(at).cast(), lane),
                        }
                    }
                    continue;
                }
                // Row `y + k`'s bytes (dwords `2 per_row k ..`) first.
                let from = _mm256_set1_epi32((2 * per_row * k) as i32);
                let pick = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), from);
                let v = _mm256_permutevar8x32_epi32(bytes, pick);
                // SAFETY: pixels (c, y + k, 0 .. width) are inside the output.
                unsafe { store(out.add(at), v, width) };
            }
        }
    }
}

/// How [`kernel`] gathers each pixel's taps from a kernel row's bytes:
/// `table` for `vpdpbusd` and `vpmaddubsw`, `even` / `odd` for the two
/// `vpmaddwd` (`MADD`), `one_load` when both halves of a vector come from
/// one 16-byte load, `sw` the column stride.
#[cfg(target_arch = "x86_64")]
struct Gather {
    table: __m256i,
    even: __m256i,
    odd: __m256i,
    ones: __m256i,
    one_load: bool,
    sw: usize,
}

#[cfg(target_arch = "x86_64")]
impl Gather {
    /// The sums of `V` vectors of 8 pixels over the kernel rows `rows`
    /// (each: per vector, the row's byte of its first pixel's window; the
    /// taps; the rest of the taps with `BYTES`); vectors past `V` are zero.
    ///
    /// # Safety
    /// As [`kernel`]'s loads: pixel `8 k`'s window (`k < V`) starts in each
    /// row, and the 16 bytes from it and from pixel `8 k + 4`'s are
    /// readable; only inlined into functions compiled with AVX2 and the
    /// features of `DOT`.
    #[inline(always)]
    unsafe fn dots<const V: usize, const DOT: Dot>(
        &self,
        rows: &[([*const u8; 4], i32, i32)],
    ) -> [__m256i; 4] {
        let sw = self.sw;
        let mut acc = [_mm256_setzero_si256(); 4];
        for &(windows, tap, rest) in rows {
            let wv = _mm256_set1_epi32(tap);
            let rv = _mm256_set1_epi32(rest);
            let (we, wo) = halves(tap);
            let (we, wo) = (_mm256_set1_epi32(we), _mm256_set1_epi32(wo));
            for (k, acc_k) in acc.iter_mut().enumerate().take(V) {
                let at = windows[k];
                // SAFETY: the caller's guarantee.
                let v = unsafe {
                    if self.one_load {
                        _mm256_broadcastsi128_si256(_mm_loadu_si128(at.cast()))
                    } else {
                        _mm256_loadu2_m128i(at.add(4 * sw).cast(), at.cast())
                    }
                };
                *acc_k = if DOT == BYTES {
                    let g = _mm256_shuffle_epi8(v, self.table);
                    // SAFETY (both): AVX2.
                    let a = unsafe { maddubs(*acc_k, g, wv, self.ones) };
                    if rest != 0 {
                        unsafe { maddubs(a, g, rv, self.ones) }
                    } else {
                        a
                    }
                } else if DOT != MADD {
                    // SAFETY: the caller's target features.
                    unsafe { dpbusd::<DOT>(*acc_k, _mm256_shuffle_epi8(v, self.table), wv) }
                } else {
                    let e = _mm256_madd_epi16(_mm256_shuffle_epi8(v, self.even), we);
                    let o = _mm256_madd_epi16(_mm256_shuffle_epi8(v, self.odd), wo);
                    _mm256_add_epi32(*acc_k, _mm256_add_epi32(e, o))
                };
            }
        }
        acc
    }
}
