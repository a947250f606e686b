//! The general AVX-512 depthwise convolution (column strides 1 to 4, any
//! column dilation, at most 4 taps a kernel row): 64 output pixels of one
//! row and channel at a time, as 4 vectors of 16 pixels. Per kernel row the
//! `SW + 1` 64-byte blocks of input the 64 windows span are loaded once;
//! vector `p` gathers its windows from blocks `SW p / 4` and the one after
//! by one `vpermt2b` (`native::depthwise_windows` made the byte indices,
//! relative to `bases[p] = 64 (SW p / 4)`), then one `vpdpbusd`.
//!
//! The column stride is a const parameter so that the loads, the blocks
//! each vector reads and the accumulators are all fixed at compile time:
//! with them chosen at run time (the former `avx512::depthwise`, which
//! shared loads between vectors by comparing their bases) LLVM kept the
//! 4 accumulators on the stack inside the dot loop.
//!
//! Memory: the blocks are the 128 bytes from `bases[p]` that
//! `depthwise_windows` checked against the buffer and its spare bytes
//! (`bases[3] + 128` bytes from column `SW x0`: `SW + 1` blocks). With
//! `MASKED` (an input without a halo) kernel rows outside the input are
//! skipped and the loads masked to its columns `0..W`, so masked-off bytes
//! read as the zero padding and are never accessed (AVX-512 masked loads
//! suppress faults).

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

#[cfg(target_arch = "x86_64")]
use super::avx512::{column_masks, lanes, store};
#[cfg(target_arch = "x86_64")]
use super::tail_avx512::Tail;
#[cfg(target_arch = "x86_64")]
use crate::jit::native::{Kind, NativeStage};

/// The block of 64 input bytes (from column `SW x0`) that pixel vector `p`
/// gathers from first; it also reads the next one.
const fn block(sw: usize, p: usize) -> usize {
    sw * p / 4
}

/// Runs items `lo..hi` (channel rows) of the depthwise stage `st` with
/// input `x` and output `out`; `FORM` is the tail's [`Form`], `MASKED`
/// whether the input lacks the halo (`Kind::Depthwise::borders`), `SW` the
/// column stride.
///
/// # Safety
/// See `avx512::run`; `FORM`, `MASKED` and `SW` are the stage's.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
pub(super) unsafe fn gathered<
    const FORM: u8,
    const MASKED: bool,
    const SW: usize,
    const Q: usize,
>(
    (st, x, out, lo, hi): (&NativeStage, *const u8, *mut u8, usize, usize),
) {
    let &Kind::Depthwise {
        kh,
        pad_top,
        pad_left,
        stride: (sh, sw),
        dilation_h,
        quads: (_, step),
        bases,
        borders,
    } = st.kind()
    else {
        return;
    };
    debug_assert!(sw == SW && (0..4).all(|p| bases[p] == 64 * block(SW, p)));
    let (in_h, in_w) = borders.unwrap_or((usize::MAX, usize::MAX));
    let tail = Tail::new(st.requant());
    // Windows of vector p: byte indices into blocks `block(SW, p)` and the
    // next (see `native::depthwise_windows`).
    let windows: [__m512i; 4] = std::array::from_fn(|p| {
        let idx = &st.windows()[64 * p..64 * (p + 1)];
        // SAFETY: `idx` is 64 bytes.
        unsafe { _mm512_loadu_si512(idx.as_ptr().cast()) }
    });
    let (fast, mirror) = tail.forms(FORM);
    let chunks = st.width().div_ceil(64);
    // With `MASKED`: per chunk, the masks of the `SW + 1` block loads that
    // keep the input's columns `0..in_w` (block 4 unused below stride 4).
    let masks: Vec<[[u64; 5]; Q]> = if MASKED {
        (0..chunks)
            .map(|chunk| {
                std::array::from_fn(|q| {
                    std::array::from_fn(|b| {
                        let first = SW * 64 * chunk + 64 * b + q * step;
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
            let masks = masks.get(chunk).copied().unwrap_or([[u64::MAX; 5]; Q]);
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
                    // SAFETY (each load): see the module's memory note.
                    let blocks: [__m512i; 5] = std::array::from_fn(|b| {
                        if b > SW {
                            _mm512_setzero_si512()
                        } else if MASKED {
                            unsafe { _mm512_maskz_loadu_epi8(m[b], at.wrapping_add(64 * b).cast()) }
                        } else {
                            unsafe { _mm512_loadu_si512(at.wrapping_add(64 * b).cast()) }
                        }
                    });
                    for p in 0..4 {
                        let b = block(SW, p);
                        let win = _mm512_permutex2var_epi8(blocks[b], windows[p], blocks[b + 1]);
                        acc[p] = _mm512_dpbusd_epi32(acc[p], win, wv);
                    }
                }
            }
            // A copy for the tails, which take a reference (the general
            // one not inlined): with the loop's own array passed, LLVM
            // kept it in memory and stored every `vpdpbusd`'s result.
            let sums = acc;
            // SAFETY: this function's target features; `c` is a channel.
            // (The channel's constants made here, not hoisted: held
            // across the loop LLVM loses that `mul` is a sign-extended
            // dword and multiplies on 64 bits, three products a vector.)
            let bytes = match (&fast, &mirror) {
                (Some(f), _) => unsafe { f.ordered4(&sums, f.channel(c)) },
                (None, Some(m)) => unsafe { m.ordered4(&sums, c) },
                (None, None) => tail.apply4(&sums, k),
            };
            let at = st.out().origin + c * st.out().plane + y * st.out().stride + x0;
            // SAFETY: pixel (c, y, x0) is inside the output; the mask keeps
            // the store within the row's width.
            unsafe { store(out.add(at), lanes(st.width() - x0), bytes) };
        }
    }
}
