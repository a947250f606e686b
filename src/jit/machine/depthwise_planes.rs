//! The AVX-512 depthwise convolution of maps whose output fits one
//! register block: at most 8 x 8 pixels (MobileNet's and EfficientNet's
//! 7 x 7 layers, stride 2 from 14 x 14), in the layout of
//! `depthwise_packed::packed` at 8 lanes a row (vector `p` holds output
//! rows `2 p` and `2 p + 1`).
//!
//! The windows of vector `p` for every kernel row lie in at most 128
//! bytes of input (`native::plane_windows::fits`). So each vector loads
//! those bytes once a channel, into two registers, and gathers the windows
//! of each group of 4 taps (`PlaneTaps`: any 4 of the kernel's taps, those
//! no channel weighs left out, so 5 x 5 taps are 7 groups, not 5 rows of
//! two quads) from them with one zero-masked `vpermt2b` by a table
//! (`PlaneWindows`, made once per stage for whole channels). `packed` loads two rows for every kernel row and vector, and
//! at stride 1 goes through a scratch array. The mask also zeroes the
//! padding (taps outside the input), the pixels past the width and the
//! rows past the block.
//!
//! Memory: vector `p`'s loads are masked to the bytes from its first to
//! its last weighed byte: input bytes (with `borders`: its own rows and
//! columns only) or bytes of its halo that the packed kernel reads too
//! (`NativeStage::fits` checked those against the buffer).

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

#[cfg(target_arch = "x86_64")]
use super::depthwise_packed::Finish;
#[cfg(target_arch = "x86_64")]
use super::tail_avx512::Tail;
#[cfg(target_arch = "x86_64")]
use crate::jit::native::plane_windows::PlaneWindows;
#[cfg(target_arch = "x86_64")]
use crate::jit::native::NativeStage;

/// Runs items `lo..hi` (channel rows) of the depthwise stage `st` with
/// input `x` and output `out`, a channel's rows (or the part of them in
/// the job) at a time; `FORM` is the tail's form. Returns false, storing
/// nothing, for a stage without plane tables (`plane_windows::fits` does
/// not hold), and, having stored some of the rows or none, if it could not
/// make the tables of a block (not when `fits` holds): the caller then
/// runs another kernel on the items.
///
/// # Safety
/// See `avx512::run`; `FORM` is the stage's.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
pub(super) unsafe fn planes<const FORM: u8>(
    (st, x, out, lo, hi): (&NativeStage, *const u8, *mut u8, usize, usize),
) -> bool {
    // The groups of taps and the whole channel's tables are the stage's;
    // a job that cuts a channel makes the tables of its parts.
    let Some((groups, whole)) = st.plane_windows() else {
        return false;
    };
    let tail = Tail::new(st.requant());
    let finish = Finish::new::<FORM, 8>(st, &tail);
    let h = st.height();
    let plane = st.x().plane;
    let mut part: Option<((usize, usize), PlaneWindows)> = None;
    let mut item = lo;
    while item < hi {
        let (c, y) = (item / h, item % h);
        let n = (h - y).min(hi - item);
        item += n;
        let t = match whole {
            t if (y, n) == (0, h) => t,
            _ => {
                if part.as_ref().is_none_or(|(key, _)| *key != (y, n)) {
                    part = PlaneWindows::new(st, groups, y, n).map(|t| ((y, n), t));
                }
                let Some((_, t)) = &part else { return false };
                t
            }
        };
        let channel = x.wrapping_add(st.x().origin + c * plane);
        let mut spans = [[_mm512_setzero_si512(); 2]; 4];
        for (p, span) in spans.iter_mut().enumerate() {
            let at = channel.wrapping_offset(t.from[p]);
            // SAFETY: the masks keep the bytes from the vector's first
            // weighed byte to its last (see the module's memory note).
            unsafe {
                span[0] = _mm512_maskz_loadu_epi8(t.loads[p][0], at.cast());
                span[1] = _mm512_maskz_loadu_epi8(t.loads[p][1], at.wrapping_add(64).cast());
            }
        }
        let k = groups.groups();
        let taps = &groups.weights[c * k..(c + 1) * k];
        // (One sum a vector: its chain of `vpdpbusd` overlaps the next
        // channel's; two sums, of the even and odd windows, measured
        // 0-10% slower.)
        let mut acc = [_mm512_setzero_si512(); 4];
        let windows = t.idx.chunks_exact(4).zip(t.keep.chunks_exact(4));
        for ((idx, keep), &tap) in windows.zip(taps) {
            let wv = _mm512_set1_epi32(tap);
            for p in 0..4 {
                // SAFETY: `idx[p]` is 64 bytes.
                let idx = unsafe { _mm512_loadu_si512(idx[p].as_ptr().cast()) };
                let v = _mm512_maskz_permutex2var_epi8(keep[p], spans[p][0], idx, spans[p][1]);
                acc[p] = _mm512_dpbusd_epi32(acc[p], v, wv);
            }
        }
        // SAFETY: `c` is a channel of the output, `y .. y + n` rows of it.
        unsafe { finish.store(acc, out, c, y, n) };
    }
    true
}
