//! The AVX-512 depthwise convolution at column stride `SW` 1, 2 or 4 with
//! adjacent taps (`native::depthwise_windows`; at most 4 taps a kernel
//! row), the common 3x3, 3x3 stride 2 and 2x2 forms: lane `j` of the 64
//! bytes loaded from column `o + SW x0` holds the 4 bytes from column
//! `o + 4 j`, which are the window of pixel `x0 + (o + 4 j) / SW` (taps past
//! the kernel's width weigh zero). With `offset(SW, p)` as `o` for the 4
//! pixel vectors `p` the 64 pixels of a chunk are each one lane: one load
//! per pixel vector and kernel row is the `vpdpbusd` operand, without the
//! byte permutations of the general kernel (`depthwise_gather::gathered`).
//!
//! Memory: as `depthwise_gather::gathered`: the loads, from `offset(SW,
//! p) + 64 <= 64 SW + 64` bytes past the window of pixel `x0`, lie within
//! the `bases[3] + 128` bytes the general kernel loads there
//! (`depthwise_windows` checked them against the buffer and its spare
//! bytes); with `MASKED` (an input without a halo) rows outside the input
//! are skipped and the loads masked to its columns.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

#[cfg(target_arch = "x86_64")]
use super::avx512::{column_masks, lanes, store, Form};
#[cfg(target_arch = "x86_64")]
use super::tail_avx512::Tail;
#[cfg(target_arch = "x86_64")]
use crate::jit::native::{Kind, NativeStage};

/// The column, from `SW x0`, of the 64 bytes pixel vector `p` loads: its
/// lane `j` is pixel `x0 + (offset + 4 j) / SW`.
pub(super) const fn offset(sw: usize, p: usize) -> usize {
    64 * (p * sw / 4) + sw * (p % (4 / sw))
}

/// Runs items `lo..hi` (channel rows) of the depthwise stage `st` with
/// input `x` and output `out`; `FORM` is the tail's [`Form`], `MASKED`
/// whether the input lacks the halo (`Kind::Depthwise::borders`), `SW` the
/// column stride.
///
/// # Safety
/// See `avx512::run`; the stage has column stride `SW` (1, 2 or 4) and
/// adjacent taps (`avx512::adjacent`); `FORM` and `MASKED` are the stage's.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
pub(super) unsafe fn loaded<const FORM: u8, const MASKED: bool, const SW: usize, const Q: usize>(
    (st, x, out, lo, hi): (&NativeStage, *const u8, *mut u8, usize, usize),
) {
    let &Kind::Depthwise {
        kh,
        pad_top,
        pad_left,
        stride: (sh, sw),
        dilation_h,
        quads: (_, step),
        borders,
        ..
    } = st.kind()
    else {
        return;
    };
    let (in_h, in_w) = borders.unwrap_or((usize::MAX, usize::MAX));
    let tail = Tail::new(st.requant());
    let (fast, mirror) = tail.forms(FORM);
    let plain = FORM == Form::MirroredPlain as u8;
    debug_assert!(SW == sw && 4 % SW == 0);
    // Pack order: byte `16 L + 4 p + i` is lane `4 L + i` of vector `p`.
    // At stride 1 that is pixel `16 L + 4 i + p`: byte `m` of each 16-byte
    // lane takes byte `4 (m % 4) + m / 4` (`vpshufb`); at strides 2 and 4
    // pixels cross 16-byte lanes (`vpermb` by `order`).
    let order = {
        let mut idx = [0u8; 64];
        for (b, v) in (0u8..64).enumerate() {
            let (lane, p, i) = (b / 16, b % 16 / 4, b % 4);
            idx[(offset(SW, p) + 4 * (4 * lane + i)) / SW] = v;
        }
        if SW == 1 {
            idx = std::array::from_fn(|b| (4 * (b % 4) + b % 16 / 4) as u8);
        }
        // SAFETY: `idx` is 64 bytes.
        unsafe { _mm512_loadu_si512(idx.as_ptr().cast()) }
    };
    let chunks = st.width().div_ceil(64);
    // With `MASKED`: per chunk, the masks of the 4 loads (columns from
    // `x0 + p - pad_left`) that keep the input's columns `0..in_w`.
    let masks: Vec<[[u64; 4]; Q]> = if MASKED {
        (0..chunks)
            .map(|chunk| {
                std::array::from_fn(|q| {
                    std::array::from_fn(|p| {
                        let first = SW * 64 * chunk + offset(SW, p) + q * step;
                        column_masks(first as i64 - pad_left as i64, in_w as i64).0
                    })
                })
            })
            .collect()
    } else {
        vec![]
    };
    let (stride, plane) = (st.x().stride as isize, st.x().plane as isize);
    for item in lo..hi {
        let (c, y) = (item / st.height(), item % st.height());
        let k = tail.channel(c);
        let taps = &st.weights()[c * kh * Q..(c + 1) * kh * Q];
        // Input row of kernel row 0 (above the input when negative: in the
        // halo, or skipped with `MASKED`).
        let top = (sh * y) as isize - pad_top as isize;
        // Offset of that row's column `-pad_left`.
        let first = st.x().origin as isize + c as isize * plane + top * stride - pad_left as isize;
        for chunk in 0..chunks {
            let x0 = 64 * chunk;
            let masks = masks.get(chunk).copied().unwrap_or([[u64::MAX; 4]; Q]);
            let mut acc = [_mm512_setzero_si512(); 4];
            for (ky, row) in taps.chunks_exact(Q).enumerate() {
                let dy = (ky * dilation_h) as isize;
                if MASKED && !(0..in_h as isize).contains(&(top + dy)) {
                    continue;
                }
                for (q, &tap) in row.iter().enumerate() {
                    let at = x.wrapping_offset(first + dy * stride + (SW * x0 + q * step) as isize);
                    let m = masks[q];
                    let wv = _mm512_set1_epi32(tap);
                    // SAFETY (each load): see the module's memory note; with
                    // `MASKED` the masks keep the row's columns `0..in_w`,
                    // which `fits` checked lie in the buffer.
                    let win: [__m512i; 4] = if MASKED {
                        unsafe {
                            [
                                _mm512_maskz_loadu_epi8(
                                    m[0],
                                    at.wrapping_add(offset(SW, 0)).cast(),
                                ),
                                _mm512_maskz_loadu_epi8(
                                    m[1],
                                    at.wrapping_add(offset(SW, 1)).cast(),
                                ),
                                _mm512_maskz_loadu_epi8(
                                    m[2],
                                    at.wrapping_add(offset(SW, 2)).cast(),
                                ),
                                _mm512_maskz_loadu_epi8(
                                    m[3],
                                    at.wrapping_add(offset(SW, 3)).cast(),
                                ),
                            ]
                        }
                    } else {
                        unsafe {
                            [
                                _mm512_loadu_si512(at.wrapping_add(offset(SW, 0)).cast()),
                                _mm512_loadu_si512(at.wrapping_add(offset(SW, 1)).cast()),
                                _mm512_loadu_si512(at.wrapping_add(offset(SW, 2)).cast()),
                                _mm512_loadu_si512(at.wrapping_add(offset(SW, 3)).cast()),
                            ]
                        }
                    };
                    acc[0] = _mm512_dpbusd_epi32(acc[0], win[0], wv);
                    acc[1] = _mm512_dpbusd_epi32(acc[1], win[1], wv);
                    acc[2] = _mm512_dpbusd_epi32(acc[2], win[2], wv);
                    acc[3] = _mm512_dpbusd_epi32(acc[3], win[3], wv);
                }
            }
            // A copy for the tails, which take a reference (the general
            // one not inlined): with the loop's own array passed, LLVM
            // kept it in memory and stored every `vpdpbusd`'s result.
            let sums = acc;
            // SAFETY: this function's target features; `c` is a channel.
            // (The channel's constants made here, not hoisted: see
            // `depthwise_gather::gathered`.)
            let packed = match (&fast, &mirror) {
                (Some(f), _) => unsafe { f.packed4(&sums, f.channel(c)) },
                (None, Some(m)) if plain => unsafe { m.packed4::<true>(&sums, c) },
                (None, Some(m)) => unsafe { m.packed4::<false>(&sums, c) },
                (None, None) => tail.apply4_packed(&sums, k),
            };
            let bytes = if SW == 1 {
                _mm512_shuffle_epi8(packed, order)
            } else {
                _mm512_permutexvar_epi8(order, packed)
            };
            let at = st.out().origin + c * st.out().plane + y * st.out().stride + x0;
            // SAFETY: pixel (c, y, x0) is inside the output; the mask keeps
            // the store within the row's width.
            unsafe { store(out.add(at), lanes(st.width() - x0), bytes) };
        }
    }
}
