//! The AVX-512 pointwise (1x1) convolution (`native::plan_pointwise_or_depthwise`
//! plans it): 64 pixels at a time, every input channel's 64 bytes interleaved
//! once into `vpdpbusd` operands (four channels a dword), then register blocks
//! of four output channels x four pixel vectors (16 accumulators, one
//! `vpdpbusd` each per group of four input channels, the group's weights
//! broadcast), each channel's 64 results requantized and stored as one
//! 64-byte vector. Maps past twice the L2 go a batch of chunks at a time, the
//! next batch's input prefetched a few lines a block ([`batched`]).
//!
//! Memory: as `avx512::run` (loads may run up to 63 bytes past the last
//! pixel, which the workspace's spare bytes cover; stores are masked).

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

#[cfg(target_arch = "x86_64")]
use super::avx512::lanes;
use super::tail_avx512::{Fast, Mirror, Tail};
#[cfg(target_arch = "x86_64")]
use crate::jit::native::NativeStage;

/// Runs rows `lo..hi`, output channels `ch.0..ch.1`, of the pointwise
/// stage `st` (`cin` input channels in `groups` groups of four).
///
/// # Safety
/// See `avx512::run`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
pub(super) unsafe fn pointwise(
    st: &NativeStage,
    (cin, groups): (usize, usize),
    x: *const u8,
    out: *mut u8,
    (lo, hi): (usize, usize),
    ch: (usize, usize),
) {
    let tail = Tail::new(st.requant());
    let args = (cin, groups, x, out, (lo, hi), ch);
    // One copy of the kernel per form of the folded or mirrored tail, so
    // that its inner loops test nothing: the pack's signedness, whether the
    // high halves shift, whether a byte clamp follows the pack. Without
    // either, the general one.
    // SAFETY (each): the caller's guarantees; each form is the tail's.
    if let Some(m) = tail.mirror() {
        let b = unsafe { m.byte_clamp() };
        return match (m.signed(), m.clamps(), m.plain()) {
            (false, false, false) => unsafe {
                drive(st, Mirrored::<false, false, false>(m, b), args)
            },
            (false, false, true) => unsafe {
                drive(st, Mirrored::<false, false, true>(m, b), args)
            },
            (false, true, false) => unsafe {
                drive(st, Mirrored::<false, true, false>(m, b), args)
            },
            (false, true, true) => unsafe { drive(st, Mirrored::<false, true, true>(m, b), args) },
            (true, false, false) => unsafe {
                drive(st, Mirrored::<true, false, false>(m, b), args)
            },
            (true, false, true) => unsafe { drive(st, Mirrored::<true, false, true>(m, b), args) },
            (true, true, false) => unsafe { drive(st, Mirrored::<true, true, false>(m, b), args) },
            (true, true, true) => unsafe { drive(st, Mirrored::<true, true, true>(m, b), args) },
        };
    }
    let Some(f) = tail.fast() else {
        return unsafe { drive(st, General(&tail), args) };
    };
    let b = unsafe { f.byte_clamp() };
    match (f.signed(), f.shifts(), f.clamps()) {
        (false, false, false) => unsafe { drive(st, Folded::<false, false, false>(f, b), args) },
        (false, false, true) => unsafe { drive(st, Folded::<false, false, true>(f, b), args) },
        (false, true, false) => unsafe { drive(st, Folded::<false, true, false>(f, b), args) },
        (false, true, true) => unsafe { drive(st, Folded::<false, true, true>(f, b), args) },
        (true, false, false) => unsafe { drive(st, Folded::<true, false, false>(f, b), args) },
        (true, false, true) => unsafe { drive(st, Folded::<true, false, true>(f, b), args) },
        (true, true, false) => unsafe { drive(st, Folded::<true, true, false>(f, b), args) },
        (true, true, true) => unsafe { drive(st, Folded::<true, true, true>(f, b), args) },
    }
}

/// A form of the tail: 64 accumulators of one output channel to bytes in
/// pack order (`Tail::apply4_packed`).
#[cfg(target_arch = "x86_64")]
trait Finish: Copy {
    /// # Safety
    /// Only inlined into functions compiled with AVX-512 F, BW, VBMI and
    /// VNNI; `c` is one of the stage's channels.
    unsafe fn bytes(&self, acc: &[__m512i; 4], c: usize) -> __m512i;
}

/// The general tail.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct General<'a>(&'a Tail<'a>);

/// The folded tail of the form `SIGNED`, `SHR`, `CLAMP` (`Fast::packed4_as`)
/// and its byte clamp.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Folded<'a, const SIGNED: bool, const SHR: bool, const CLAMP: bool>(
    Fast<'a>,
    (__m512i, __m512i),
);

/// The mirrored tail of the form `SIGNED`, `CLAMP`, `PLAIN`
/// (`Mirror::packed4_as`) and its byte clamp.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Mirrored<'a, const SIGNED: bool, const CLAMP: bool, const PLAIN: bool>(
    Mirror<'a>,
    (__m512i, __m512i),
);

#[cfg(target_arch = "x86_64")]
impl Finish for General<'_> {
    #[inline(always)]
    unsafe fn bytes(&self, acc: &[__m512i; 4], c: usize) -> __m512i {
        // SAFETY: the caller's target features.
        unsafe { self.0.apply4_packed(acc, self.0.channel(c)) }
    }
}

#[cfg(target_arch = "x86_64")]
impl<const SIGNED: bool, const SHR: bool, const CLAMP: bool> Finish
    for Folded<'_, SIGNED, SHR, CLAMP>
{
    #[inline(always)]
    unsafe fn bytes(&self, acc: &[__m512i; 4], c: usize) -> __m512i {
        // SAFETY: the caller's target features; the form is the tail's
        // (`pointwise` chose it).
        unsafe {
            self.0
                .packed4_as::<SIGNED, SHR, CLAMP>(acc, self.0.channel(c), self.1)
        }
    }
}

#[cfg(target_arch = "x86_64")]
impl<const SIGNED: bool, const CLAMP: bool, const PLAIN: bool> Finish
    for Mirrored<'_, SIGNED, CLAMP, PLAIN>
{
    #[inline(always)]
    unsafe fn bytes(&self, acc: &[__m512i; 4], c: usize) -> __m512i {
        // SAFETY: the caller's target features and channel; the form is
        // the tail's (`pointwise` chose it).
        unsafe { self.0.packed4_as::<SIGNED, CLAMP, PLAIN>(acc, c, self.1) }
    }
}

/// `cin`, `groups`, `x`, `out`, rows `lo..hi` and channels `c0..c1` of
/// [`pointwise`].
type Args = (
    usize,
    usize,
    *const u8,
    *mut u8,
    (usize, usize),
    (usize, usize),
);

/// The kernel, with the tail `fin`.
///
/// # Safety
/// See `avx512::run`; `fin` is of the stage's tail.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
unsafe fn drive<F: Finish>(
    st: &NativeStage,
    fin: F,
    (cin, groups, x, out, (lo, hi), (c0, c1)): Args,
) {
    // Runs of pixels, as (offset of the first from a plane's pixel (0, 0),
    // length): each row, or all rows `lo..hi` at once when neither buffer
    // has side halos (rows back to back: no partly empty chunk per row).
    // Rows narrower than 64 pixels with side halos (14 x 14 maps feeding a
    // padded depthwise stage) are one run too, over the pixels' indices
    // `y w + x`: a chunk then spans rows, each row's part of it loaded and
    // stored with a mask of its own (`Segments`) instead of 64 lanes for
    // 14 pixels (3.9x on 96 -> 576 channels on 14 x 14).
    let (w, xs, os) = (st.width(), st.x().stride, st.out().stride);
    let flat = xs == w && os == w;
    let runs: Vec<(usize, usize)> = if flat || w < 64 {
        vec![(lo * w, (hi - lo) * w)]
    } else {
        (lo..hi).map(|y| (y * xs, w)).collect()
    };
    let spanning = !flat && w < 64;
    // Chunks of at most 64 pixels: (offset of the first, length).
    let chunks = runs.iter().flat_map(|&(start, len)| {
        (0..len)
            .step_by(64)
            .map(move |x0| (start + x0, (len - x0).min(64)))
    });
    let out_offset = |y_off: usize| y_off / xs * os + y_off % xs;
    let spot_of = |(at_x, n): (usize, usize)| Spot::One {
        offset: if flat || spanning {
            at_x
        } else {
            out_offset(at_x)
        },
        mask: lanes(n),
    };
    debug_assert!(c0 % 4 == 0 && c1 <= st.channels());
    let big = cin * st.x().plane + st.channels() * st.out().plane > PREFETCH_ABOVE;
    if big && !spanning {
        // SAFETY: the caller's guarantees.
        return unsafe { batched(st, fin, (cin, groups, x, out), chunks, spot_of, (c0, c1)) };
    }
    // Interleaving four channel rows with byte then word unpacks leaves
    // quarter q of vector k holding pixels 16q + 4k .. 16q + 4k + 3: the
    // accumulators come out in that order, which is the tail's pack order
    // (`Tail::apply4_packed`): its bytes are in pixel order.
    let mut acts = vec![_mm512_setzero_si512(); 4 * groups];
    let mut segments = Segments::default();
    for (at_x, n) in chunks {
        let spot = if spanning {
            segments.cut(at_x, n, w, (xs, os));
            let loads = (xs != w).then_some(&segments.parts[..]);
            // SAFETY: the chunk's pixels (by the parts' masks) are inside
            // the input.
            unsafe { interleave(st, (cin, x), &mut acts, at_x, loads, true) };
            if os != w {
                Spot::Parts(&segments.parts)
            } else {
                spot_of((at_x, n))
            }
        } else {
            // SAFETY: pixel `at_x` of every channel is inside the input.
            unsafe { interleave(st, (cin, x), &mut acts, at_x, None, true) };
            spot_of((at_x, n))
        };
        let mut o = c0;
        while o < c1 {
            // SAFETY: the caller's guarantees, and `o < c1`.
            unsafe { block_of(st, fin, &acts, (o, c1), &spot, out) };
            o += 4;
        }
    }
}

/// [`drive`] on maps past twice the L2 ([`PREFETCH_ABOVE`]), without
/// spanning chunks: chunks go `batch` at a time, each batch read from
/// `chunks` once (the one after it is known while it runs, for the
/// prefetches). All of a batch's activations are interleaved first
/// (at most `ACTS_BUDGET` bytes, in L1), then each block of output channels
/// runs over the whole batch, and before each block a few lines of the
/// next batch's input are prefetched: the planes are too many streams for
/// the hardware prefetchers, and a burst of prefetches (the next chunk's
/// line with each load, as `drive` does) stalls on the line fill buffers.
/// 64 -> 128 channels on 128 x 256 (6 MB of planes): 1.07-1.15x.
///
/// # Safety
/// As [`drive`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
unsafe fn batched<'a, F: Finish>(
    st: &NativeStage,
    fin: F,
    (cin, groups, x, out): (usize, usize, *const u8, *mut u8),
    mut chunks: impl Iterator<Item = (usize, usize)>,
    spot_of: impl Fn((usize, usize)) -> Spot<'a>,
    (c0, c1): (usize, usize),
) {
    let batch = (ACTS_BUDGET / (4 * groups * 64)).clamp(1, MAX_BATCH);
    let mut acts = vec![_mm512_setzero_si512(); 4 * groups * batch];
    // The next `batch` chunks (fewer at the end), and how many.
    let mut take = || {
        let mut some = [(0, 0); MAX_BATCH];
        let n = some
            .iter_mut()
            .take(batch)
            .zip(&mut chunks)
            .map(|(slot, c)| *slot = c)
            .count();
        (some, n)
    };
    let mut this = take();
    while this.1 > 0 {
        let after = take();
        let (some, n) = (&this.0[..this.1], this.1);
        for (k, &(at_x, _)) in some.iter().enumerate() {
            let acts = &mut acts[4 * groups * k..4 * groups * (k + 1)];
            // SAFETY: pixel `at_x` of every channel is inside the input.
            unsafe { interleave(st, (cin, x), acts, at_x, None, false) };
        }
        let next = &after.0[..after.1];
        let calls = (c1 - c0).div_ceil(4) * n;
        let per_call = (cin * next.len()).div_ceil(calls.max(1));
        // The next line to fetch: channel `ch`, chunk `kk` of `next`.
        let (mut ch, mut kk) = (0, 0);
        let mut o = c0;
        while o < c1 {
            for (k, &chunk) in some.iter().enumerate() {
                for _ in 0..per_call {
                    if ch == cin {
                        break;
                    }
                    let at = st.x().origin + ch * st.x().plane + next[kk].0;
                    // (A prefetch never faults.)
                    _mm_prefetch::<_MM_HINT_T0>(x.wrapping_add(at).cast());
                    kk += 1;
                    if kk == next.len() {
                        (ch, kk) = (ch + 1, 0);
                    }
                }
                let acts = &acts[4 * groups * k..4 * groups * (k + 1)];
                // SAFETY: the caller's guarantees, and `o < c1`.
                unsafe { block_of(st, fin, acts, (o, c1), &spot_of(chunk), out) };
            }
            o += 4;
        }
        this = after;
    }
}

/// The bytes of interleaved activations a batch of chunks may take.
const ACTS_BUDGET: usize = 16 * 1024;
/// The most chunks in a batch.
const MAX_BATCH: usize = 8;
/// The bytes of input and output planes above which [`batched`] runs:
/// twice the 2 MiB L2 of the server cores with AVX-512. 64 -> 128 channels
/// over 64 x 128 (1.5 MB) and 128 x 128 (3 MB) ran 0.95x and 0.98x
/// batched, over 96 x 256 (4.5 MB) 1.11x.
const PREFETCH_ABOVE: usize = 4 << 20;

/// Interleaves the 64 pixels from `at_x` of every input channel into
/// `acts` (`4 groups` vectors), each channel's row loaded whole or, when
/// `parts` is given, by those parts' masks; `fetch_next` prefetches the
/// next chunk's line of each plane.
///
/// # Safety
/// Only inlined into functions compiled with AVX-512 F and BW; pixel
/// `at_x` of every channel is inside the input and the 64 bytes from it
/// end at most 63 past the run's last pixel (`fits` checked the spare
/// bytes), or the masks of `parts` keep pixels inside the input.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn interleave(
    st: &NativeStage,
    (cin, x): (usize, *const u8),
    acts: &mut [__m512i],
    at_x: usize,
    parts: Option<&[(u64, usize, usize)]>,
    fetch_next: bool,
) {
    for g in 0..acts.len() / 4 {
        let row = |i: usize| {
            let ch = 4 * g + i;
            if ch >= cin {
                return _mm512_setzero_si512();
            }
            let plane = st.x().origin + ch * st.x().plane;
            if let Some(parts) = parts {
                let mut v = _mm512_setzero_si512();
                for &(mask, at, _) in parts {
                    // SAFETY: the mask keeps the segment's pixels, inside
                    // the input; lane `i` of the load is byte `at + i` of
                    // the plane.
                    v = unsafe {
                        _mm512_mask_loadu_epi8(v, mask, x.wrapping_add(plane + at).cast())
                    };
                }
                return v;
            }
            let at = plane + at_x;
            if fetch_next {
                // The next chunk's bytes, fetched while this one computes
                // (a prefetch never faults).
                _mm_prefetch::<_MM_HINT_T0>(x.wrapping_add(at + 64).cast());
            }
            // SAFETY: the caller's guarantees.
            unsafe { _mm512_loadu_si512(x.add(at).cast()) }
        };
        let (c0, c1, c2, c3) = (row(0), row(1), row(2), row(3));
        let t0 = _mm512_unpacklo_epi8(c0, c1);
        let t1 = _mm512_unpackhi_epi8(c0, c1);
        let t2 = _mm512_unpacklo_epi8(c2, c3);
        let t3 = _mm512_unpackhi_epi8(c2, c3);
        acts[4 * g] = _mm512_unpacklo_epi16(t0, t2);
        acts[4 * g + 1] = _mm512_unpackhi_epi16(t0, t2);
        acts[4 * g + 2] = _mm512_unpacklo_epi16(t1, t3);
        acts[4 * g + 3] = _mm512_unpackhi_epi16(t1, t3);
    }
}

/// The block of output channels `o..min(o + 4, c1)`.
///
/// # Safety
/// As [`block`], `o < c1 <= st.channels()`; only inlined into functions
/// compiled with AVX-512 F, BW and VNNI.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn block_of<F: Finish>(
    st: &NativeStage,
    fin: F,
    acts: &[__m512i],
    (o, c1): (usize, usize),
    spot: &Spot,
    out: *mut u8,
) {
    // Four channels per block (16 accumulators): six (24) left the tail too
    // few registers for its constants and ran 7-10% slower on 32 and 64
    // input channels; three lose the activations' reuse.
    // SAFETY (each): the caller's guarantees, `o + N <= c1`.
    unsafe {
        match c1 - o {
            1 => block::<1, F>(st, fin, acts, o, spot, out),
            2 => block::<2, F>(st, fin, acts, o, spot, out),
            3 => block::<3, F>(st, fin, acts, o, spot, out),
            _ => block::<4, F>(st, fin, acts, o, spot, out),
        }
    }
}

/// Where a pointwise block stores: 64 pixels (masked) from `offset` past
/// each output plane's pixel (0, 0), or the rows of a chunk spanning rows.
#[cfg(target_arch = "x86_64")]
enum Spot<'a> {
    One { offset: usize, mask: u64 },
    Parts(&'a [(u64, usize, usize)]),
}

/// A chunk of up to 64 pixels by index `y w + x` cut at the rows: per row
/// its lanes' mask and the offsets, from the input's and the output's
/// plane, of the byte that lane 0 would be in that row (lane `i` of the
/// row's part is byte `offset + i`).
#[derive(Default)]
struct Segments {
    parts: Vec<(u64, usize, usize)>,
}

impl Segments {
    /// Cuts the `n` pixels from index `first` into rows `w` pixels wide,
    /// `strides` (input, output) bytes apart.
    fn cut(&mut self, first: usize, n: usize, w: usize, (xs, os): (usize, usize)) {
        self.parts.clear();
        let mut lane = 0;
        while lane < n {
            let (y, x) = ((first + lane) / w, (first + lane) % w);
            let take = (w - x).min(n - lane);
            let mask = lanes(lane + take) & !lanes(lane);
            // `y xs + x >= lane`: the rows before hold `y w + x >= lane`
            // pixels of this chunk or earlier, and `xs >= w`.
            self.parts
                .push((mask, y * xs + x - lane, y * os + x - lane));
            lane += take;
        }
    }
}

/// Output channels `o..o + N` of 64 pixels: `4 N` accumulators, one
/// `vpdpbusd` per accumulator and group of four input channels.
///
/// # Safety
/// See `avx512::run`; `o + N <= st.channels()`; `fin` as [`drive`]; only
/// called from functions compiled with AVX-512 F, BW and VNNI. Optimized
/// builds always inline it (a call per block, its arguments in memory,
/// cost 10%); debug builds never do: inlined into both loops for every
/// N, their frames passed 1 MB each with the general tail and overflowed
/// a worker thread's 2 MiB stack.
#[cfg(target_arch = "x86_64")]
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline(never))]
unsafe fn block<const N: usize, F: Finish>(
    st: &NativeStage,
    fin: F,
    acts: &[__m512i],
    o: usize,
    spot: &Spot,
    out: *mut u8,
) {
    let groups = acts.len() / 4;
    let mut acc = [[_mm512_setzero_si512(); 4]; N];
    let w = &st.weights()[o * groups..(o + N) * groups];
    for g in 0..groups {
        // SAFETY: `g < groups`, so `4 g + 3 < acts.len()` and `j groups +
        // g < N groups = w.len()` (no bounds tests in the loop).
        let a: [__m512i; 4] = std::array::from_fn(|p| unsafe { *acts.get_unchecked(4 * g + p) });
        for (j, acc_j) in acc.iter_mut().enumerate() {
            let wv = _mm512_set1_epi32(unsafe { *w.get_unchecked(j * groups + g) });
            for (acc_p, &a_p) in acc_j.iter_mut().zip(&a) {
                *acc_p = _mm512_dpbusd_epi32(*acc_p, a_p, wv);
            }
        }
    }
    // Written out per channel (LLVM kept a loop over them, the accumulators
    // stored and loaded back).
    // SAFETY (each): the caller's guarantees, `j < N`.
    unsafe {
        finish(st, fin, &acc[0], o, spot, out);
        if N > 1 {
            finish(st, fin, &acc[1 % N], o + 1, spot, out);
        }
        if N > 2 {
            finish(st, fin, &acc[2 % N], o + 2, spot, out);
        }
        if N > 3 {
            finish(st, fin, &acc[3 % N], o + 3, spot, out);
        }
    }
    debug_assert!(N <= 4);
}

/// The tail and the store of output channel `c`'s 64 accumulators.
///
/// # Safety
/// As [`block`], `c < st.channels()`; only inlined into functions compiled
/// with AVX-512 F, BW and VNNI (always inlined: `#[target_feature]`
/// functions cannot be).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn finish<F: Finish>(
    st: &NativeStage,
    fin: F,
    acc: &[__m512i; 4],
    c: usize,
    spot: &Spot,
    out: *mut u8,
) {
    // SAFETY: the caller's target features and channel.
    let v = unsafe { fin.bytes(acc, c) };
    let plane = st.out().origin + c * st.out().plane;
    match *spot {
        Spot::One { offset, mask } => {
            let at = plane + offset;
            // SAFETY: the run's pixels are inside the output and the mask
            // keeps the store within the run (this job's rows); the
            // prefetch (of the next chunk's line, as for the input) never
            // faults.
            unsafe {
                super::avx512::store(out.add(at), mask, v);
                _mm_prefetch::<_MM_HINT_ET0>(out.wrapping_add(at + 64).cast_const().cast());
            }
        }
        Spot::Parts(parts) => {
            for &(mask, _, at) in parts {
                // SAFETY: the mask keeps the row's pixels of the chunk
                // (this job's rows, inside the output): lane `i` is byte
                // `at + i` of the plane.
                unsafe { super::avx512::store(out.wrapping_add(plane + at), mask, v) };
            }
        }
    }
}
