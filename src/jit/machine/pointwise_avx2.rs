//! The AVX2 pointwise (1x1) convolution (`native::plan_native` plans it for
//! `Isa::Avx2`): `pointwise_avx512` on 256-bit vectors. 32 pixels at a
//! time, every input channel's 32 bytes interleaved once into `vpdpbusd`
//! operands (four channels a dword), then register blocks of two output
//! channels x four pixel vectors (8 accumulators), each channel's 32
//! results requantized and packed into one 32-byte vector in pixel order.
//!
//! The products: `vpdpbusd ymm` (`dot256`: AVX-VNNI, or its EVEX form under
//! `--isa avx2-vnni`); else (AVX2 alone) `vpmaddwd` on 16-bit halves, exact for any operands: the
//! activations' even and odd bytes of each dword zero-extended to words
//! (once per chunk, for every output channel), the weights' sign-extended
//! (once per stage), two `vpmaddwd` and two `vpaddd` per 32 products.
//! (`vpmaddubsw` would take u8 x i8 pairs directly, but saturates to 16
//! bits: a pair of products up to 255 x 128 each overflows.)
//!
//! A residual map (MobileNetV2's projections: `(r + (conv + b) >> s as i8
//! sat) as u8 sat`) is added after the second clamp, its 32 bytes of a
//! chunk spread into the accumulators' pixel order by one `vpshufb` per
//! vector. It is read at the output's pixels, or, where a job's rows run
//! back to back and the map's rows are not (a halo), from its rows copied
//! into planes of their own; a partial chunk's bytes through a stack copy.
//! (On AVX-512 the direct kernel adds it; on AVX2 that kernel ran these
//! projections at 0.36-0.40x of AVX-512.)
//!
//! Memory: loads may run up to 31 bytes past the last pixel (the planned
//! 64 of the AVX-512 kernel, `NativeStage::fits`, cover them); AVX2 has no
//! byte-masked stores, so a run's last partial vector goes through a stack
//! copy.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

#[cfg(target_arch = "x86_64")]
use super::dot256::{dpbusd, maddubs, maddubs2, Dot, BYTES, EVEX, MADD, SUMS, VEX};
#[cfg(target_arch = "x86_64")]
use super::row_copy::{copy_rows, After};
#[cfg(target_arch = "x86_64")]
use super::tail_avx2::{Fast, Tail};
#[cfg(target_arch = "x86_64")]
use crate::jit::native::byte_pairs::BytePairs;
#[cfg(target_arch = "x86_64")]
use crate::jit::native::NativeStage;

/// Output channels per register block.
const BLOCK: usize = 2;

/// Runs rows `lo..hi` of the pointwise stage `st` (`cin` input channels in
/// `groups` groups of four, the input read at `stride`, the residual map
/// added where the stage has one): `args` is `(cin, groups, stride, (x,
/// residual), out, lo, hi)`.
///
/// # Safety
/// As `avx512::run`, with AVX2 and AVX-VNNI instead of AVX-512.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub(super) unsafe fn pointwise(st: &NativeStage, args: Args) {
    let groups = args.1;
    let tail = Tail::new(st.requant());
    let fast = tail.fast();
    let form = super::dot256::form(st.isa());
    // Without VNNI: byte pairs where few weight quads need a rest.
    let pairs = (form == MADD)
        .then(|| {
            st.byte_pairs(|| {
                // Each channel's even quad partnered with the next.
                let (position, partner) = (
                    |i: usize| (i / groups, i % groups),
                    |i: usize| {
                        ((i % groups).is_multiple_of(2) && i % groups + 1 < groups).then_some(i + 1)
                    },
                );
                // A rest costs the most here (few quads a channel): 2.8%
                // of the quads with a rest made 32 -> 192 on 56 x 56 11%
                // slower summed; 0.6% made the dsconv block's 64 -> 64 on
                // 128 x 256 7% faster.
                BytePairs::plan_best_by(st.weights(), st.channels(), (position, partner), 128)
            })
        })
        .flatten();
    // SAFETY (each): the caller's guarantees; `dot256::form` checked the
    // host's features; `fast` is `Some` when `FAST`, with `neg` when `NEG`.
    unsafe {
        match (fast.is_some(), fast.as_ref().is_some_and(Fast::has_neg)) {
            (false, _) => by_form::<false, false>(st, &tail, fast, args, form, pairs),
            (true, false) => by_form::<true, false>(st, &tail, fast, args, form, pairs),
            (true, true) => by_form::<true, true>(st, &tail, fast, args, form, pairs),
        }
    }
}

/// The driver for `form` and `pairs` (`DOT` of `drive`), the tail chosen by
/// `FAST` and `NEG` (the folded tail mirrored for a sign-dependent rounding,
/// `Fast::has_neg`, decided once per call rather than per channel).
///
/// # Safety
/// As [`pointwise`]; `form` is `dot256::form` of the stage's ISA; `fast`
/// is `Some` when `FAST`, with `neg` when `NEG`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn by_form<const FAST: bool, const NEG: bool>(
    st: &NativeStage,
    tail: &Tail,
    fast: Option<Fast>,
    args: Args,
    form: Dot,
    pairs: Option<&BytePairs>,
) {
    // SAFETY (each): the caller's guarantees.
    unsafe {
        match (form, pairs) {
            (VEX, _) => drive_vnni::<FAST, NEG>(st, tail, fast, args),
            (EVEX, _) => drive_evex::<FAST, NEG>(st, tail, fast, args),
            (_, Some(p)) if p.summed => drive_bytes::<FAST, NEG, SUMS>(st, tail, fast, args, p),
            (_, Some(p)) => drive_bytes::<FAST, NEG, BYTES>(st, tail, fast, args, p),
            (_, None) => drive_wide::<FAST, NEG>(st, tail, fast, args),
        }
    }
}

/// [`drive`] with `vpmaddubsw` on the split quads of `pairs` (`DOT`:
/// `BYTES`, or `SUMS` when `pairs.summed`).
///
/// # Safety
/// As [`drive`]; `pairs` planned from `st`'s weights.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn drive_bytes<const FAST: bool, const NEG: bool, const DOT: Dot>(
    st: &NativeStage,
    tail: &Tail,
    fast: Option<Fast>,
    a: Args,
    pairs: &BytePairs,
) {
    // SAFETY: the caller's guarantees.
    unsafe { drive::<FAST, NEG, DOT>(st, tail, fast, a, Some(pairs)) }
}

/// [`drive`] with `vpdpbusd` (AVX-VNNI).
///
/// # Safety
/// As [`drive`]; the host has AVX-VNNI.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avxvnni")]
unsafe fn drive_vnni<const FAST: bool, const NEG: bool>(
    st: &NativeStage,
    tail: &Tail,
    fast: Option<Fast>,
    a: Args,
) {
    // SAFETY: the caller's guarantees.
    unsafe { drive::<FAST, NEG, VEX>(st, tail, fast, a, None) }
}

/// [`drive`] with the EVEX `vpdpbusd` (`--isa avx2-vnni`).
///
/// # Safety
/// As [`drive`]; the host has AVX-512 VNNI and VL.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avx512vnni,avx512vl")]
unsafe fn drive_evex<const FAST: bool, const NEG: bool>(
    st: &NativeStage,
    tail: &Tail,
    fast: Option<Fast>,
    a: Args,
) {
    // SAFETY: the caller's guarantees.
    unsafe { drive::<FAST, NEG, EVEX>(st, tail, fast, a, None) }
}

/// [`drive`] with `vpmaddwd`.
///
/// # Safety
/// As [`drive`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn drive_wide<const FAST: bool, const NEG: bool>(
    st: &NativeStage,
    tail: &Tail,
    fast: Option<Fast>,
    a: Args,
) {
    // SAFETY: the caller's guarantees.
    unsafe { drive::<FAST, NEG, MADD>(st, tail, fast, a, None) }
}

/// The 16-bit halves of weight quads `[w0 w1 w2 w3]`: `(w0, w2)` and `(w1,
/// w3)` as sign-extended words.
pub(super) fn halves(w: i32) -> (i32, i32) {
    let b = w.to_le_bytes().map(|v| i32::from(v as i8) & 0xFFFF);
    (b[0] | b[2] << 16, b[1] | b[3] << 16)
}

/// `cin`, `groups`, `stride`, `x` and the residual map's buffer (null
/// without one), `out`, `lo`, `hi` of [`pointwise`].
type Args = (
    usize,
    usize,
    (usize, usize),
    (*const u8, *const u8),
    *mut u8,
    usize,
    usize,
);

/// The kernel: `FAST` with the folded tail `fast`, else the general `tail`;
/// `DOT` (`dot256`): `vpdpbusd` in either encoding, or `vpmaddwd`.
///
/// # Safety
/// As [`pointwise`]; `fast` is `Some` when `FAST`; only inlined into
/// functions compiled with AVX2 and the features of `DOT`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn drive<const FAST: bool, const NEG: bool, const DOT: Dot>(
    st: &NativeStage,
    tail: &Tail,
    fast: Option<Fast>,
    (cin, groups, (sh, sw), (x, res), out, lo, hi): Args,
    pairs: Option<&BytePairs>,
) {
    // Interleaving four channel rows with byte then word unpacks leaves
    // 128-bit lane L of vector k holding pixels 16L + 4k .. 16L + 4k + 3:
    // the tail's pack order (`Tail::packed4`), so its bytes are in pixel
    // order.
    // Per group: the four vectors of quads, or (`MADD`) their even
    // bytes and their odd bytes as words; the weights' halves likewise.
    let per = if DOT != MADD { 4 } else { 8 };
    let (main, rests) = match pairs {
        Some(p) if DOT == BYTES || DOT == SUMS => (&p.main[..], &p.rests[..]),
        _ => (st.weights(), &[][..]),
    };
    // Two halves of 32 pixels: the 64 pixels of a cache line of each
    // channel's plane are used at once (with 32, each line was loaded
    // twice: the planes lie a multiple of 4 KiB apart, in the same L1
    // sets, and the line left before its second half was used).
    let mut acts = vec![_mm256_setzero_si256(); 2 * per * groups];
    let weights: Vec<(i32, i32)> = if DOT != MADD {
        vec![]
    } else {
        st.weights().iter().map(|&w| halves(w)).collect()
    };
    let low = _mm256_set1_epi16(0xFF);
    // Runs of pixels, as (offset of the first from an input plane's pixel
    // (0, 0), from an output plane's, length): each row, or all rows
    // `lo..hi` at once when neither buffer has side halos (and the input
    // is not strided) or the narrow rows go through compacted planes.
    let (w, xs, os) = (st.width(), st.x().stride, st.out().stride);
    // Narrow rows that would run one by one (a strided input, or one with
    // side halos) into an output without them: the job's input pixels are
    // first copied into planes of their own, back to back, which then run
    // as one (a 14-pixel row filled 14 of 32 lanes).
    let one_by_one = !(xs == w && os == w && (sh, sw) == (1, 1));
    let narrow = 4 * w < 3 * 32 * w.div_ceil(32);
    let in_dense = xs == w && (sh, sw) == (1, 1);
    // Narrow rows into an output with side halos (a depthwise stage's
    // padding) run as one run into planes of their own, whose rows are then
    // copied into the output (a 7-pixel row filled 7 of 32 lanes).
    let compact_out = one_by_one && os != w && narrow && (4..=32).contains(&w);
    let compact = narrow && !in_dense && (os == w || compact_out);
    let out_plane = (hi - lo) * w + 32;
    let mut out_scratch = vec![
        0u8;
        if compact_out {
            st.channels() * out_plane
        } else {
            0
        }
    ];
    let (out_base, out_origin, out_plane) = if compact_out {
        (out_scratch.as_mut_ptr(), 0, out_plane)
    } else {
        (out, st.out().origin, st.out().plane)
    };
    let scratch = if compact {
        // SAFETY: the caller's guarantees (see `compacted`).
        unsafe { compacted(st, x, cin, (sh, sw), (lo, hi)) }
    } else {
        vec![]
    };
    let (x, origin, plane, (sh, sw), xs) = if compact {
        (scratch.as_ptr(), 0, (hi - lo) * w + 64, (1, 1), w)
    } else {
        (x, st.x().origin, st.x().plane, (sh, sw), xs)
    };
    let by_rows = !(compact || compact_out || !one_by_one);
    // The residual map (when the stage adds one) is read at the output's
    // pixels; where the job's rows run back to back and the map's rows are
    // not, from its rows copied into planes of their own.
    let res_rows = st.residual().map(|(r, _)| r);
    let res_compact = res_rows.is_some_and(|r| !by_rows && r.stride != w);
    let mut res_scratch = vec![
        0u8;
        if res_compact {
            st.channels() * (hi - lo) * w
        } else {
            0
        }
    ];
    if let (Some(r), true) = (res_rows, res_compact) {
        // SAFETY: rows `lo..hi` of each channel of the residual map lie in
        // its buffer (`fits`), `w` bytes each; the scratch planes hold
        // `hi - lo` rows of `w` bytes.
        unsafe {
            copy_planes(
                st.channels(),
                (res.add(r.origin + lo * r.stride), r.stride, r.plane),
                (res_scratch.as_mut_ptr(), w, (hi - lo) * w),
                (w, hi - lo),
            )
        };
    }
    let residual = st.residual().map(|(r, signed)| {
        let (base, origin, plane) = if res_compact {
            (res_scratch.as_ptr(), 0, (hi - lo) * w)
        } else {
            (res, r.origin, r.plane)
        };
        let align = st.requant().residual.map_or(0, |q| q.align);
        Residual::new(base, (origin, plane), signed, align)
    });
    let runs: Vec<(usize, usize, usize, usize)> = if by_rows {
        (lo..hi)
            .map(|y| (sh * y * xs, y * os, y * res_rows.map_or(0, |r| r.stride), w))
            .collect()
    } else {
        // The job's rows back to back in the input (or its compacted
        // planes), in the output (or the planes of `out_scratch`) and in
        // the residual map (or its compacted planes).
        let first_in = if compact { 0 } else { lo * w };
        let first_out = if compact_out { 0 } else { lo * w };
        let first_res = if res_compact { 0 } else { lo * w };
        vec![(first_in, first_out, first_res, (hi - lo) * w)]
    };
    let channels = st.channels();
    for &(start, out_start, res_start, len) in &runs {
        for x0 in (0..len).step_by(64) {
            let halves = if len - x0 > 32 { 2 } else { 1 };
            for g in 0..groups {
                for h in 0..halves {
                    let at_x = start + sw * (x0 + 32 * h);
                    let row = |i: usize| {
                        let ch = 4 * g + i;
                        if ch >= cin {
                            return _mm256_setzero_si256();
                        }
                        let at = origin + ch * plane + at_x;
                        // The next chunks' bytes (the planes are far
                        // apart: too many streams for the hardware
                        // prefetcher; a prefetch never faults).
                        _mm_prefetch::<_MM_HINT_T0>(x.wrapping_add(at + 64 * sw).cast());
                        // SAFETY: pixel `at_x` of channel `ch` is inside the
                        // input (or the compacted planes); the 32 bytes from
                        // it (64 with `sw` 2) end at most 31 (63) past the
                        // run's last pixel (`fits` checked 63 spare bytes,
                        // or `sw` x 64 bytes from each chunk; the compacted
                        // planes have 64).
                        unsafe {
                            if sw == 2 {
                                even_bytes(x.add(at))
                            } else {
                                _mm256_loadu_si256(x.add(at).cast())
                            }
                        }
                    };
                    let (c0, c1, c2, c3) = (row(0), row(1), row(2), row(3));
                    let t0 = _mm256_unpacklo_epi8(c0, c1);
                    let t1 = _mm256_unpackhi_epi8(c0, c1);
                    let t2 = _mm256_unpacklo_epi8(c2, c3);
                    let t3 = _mm256_unpackhi_epi8(c2, c3);
                    let v = [
                        _mm256_unpacklo_epi16(t0, t2),
                        _mm256_unpackhi_epi16(t0, t2),
                        _mm256_unpacklo_epi16(t1, t3),
                        _mm256_unpackhi_epi16(t1, t3),
                    ];
                    let at = (h * groups + g) * per;
                    for (k, &v) in v.iter().enumerate() {
                        if DOT != MADD {
                            acts[at + k] = v;
                        } else {
                            acts[at + k] = _mm256_and_si256(v, low);
                            acts[at + 4 + k] = _mm256_srli_epi16::<8>(v);
                        }
                    }
                }
            }
            for h in 0..halves {
                let spot = Spot {
                    origin: out_origin,
                    plane: out_plane,
                    offset: out_start + x0 + 32 * h,
                    count: (len - x0 - 32 * h).min(32),
                    residual: residual.as_ref().map(|r| (r, res_start + x0 + 32 * h)),
                };
                let f = (tail, fast);
                let ops = Operands {
                    acts: &acts[h * per * groups..(h + 1) * per * groups],
                    halves: &weights[..],
                    main,
                    rests,
                };
                let mut o = 0;
                // SAFETY (each block): the caller's guarantees, and `o + N <= channels`.
                while o + BLOCK <= channels {
                    unsafe { block::<BLOCK, FAST, NEG, DOT>(f, &ops, o, &spot, out_base) };
                    o += BLOCK;
                }
                if o < channels {
                    unsafe { block::<1, FAST, NEG, DOT>(f, &ops, o, &spot, out_base) };
                }
            }
        }
    }
    if compact_out {
        // SAFETY: rows `lo..hi` of each channel are this job's, `w` bytes
        // each; the planes hold `hi - lo` rows of `w` bytes.
        unsafe {
            copy_planes(
                channels,
                (out_scratch.as_ptr(), w, out_plane),
                (out.add(st.out().origin + lo * os), os, st.out().plane),
                (w, hi - lo),
            )
        };
    }
}

/// Copies `rows` rows of `w` bytes of each of `channels` planes from
/// `src` to `dst`, each given as (first row of plane 0, row pitch, plane
/// pitch): each row exactly, no byte around it written.
///
/// # Safety
/// Those rows are readable in `src` and writable in `dst`, apart; only
/// inlined into functions compiled with AVX2.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn copy_planes(
    channels: usize,
    (src, src_pitch, src_plane): (*const u8, usize, usize),
    (dst, dst_pitch, dst_plane): (*mut u8, usize, usize),
    (w, rows): (usize, usize),
) {
    for c in 0..channels {
        // SAFETY: the caller's guarantees; `After::Nothing` writes the
        // rows only.
        unsafe {
            copy_rows(
                (src.add(c * src_plane), src_pitch),
                (dst.add(c * dst_plane), dst_pitch),
                w,
                rows,
                After::Nothing,
            )
        };
    }
}

/// The input pixels of rows `lo..hi` of pointwise stage `st` (`cin`
/// channels read at `stride` from `x`), as planes of `(hi - lo) w + 64`
/// bytes, channel after channel, each plane's rows back to back.
///
/// # Safety
/// As [`pointwise`]: `fits` checked the loads of each row's chunks (`sw`
/// x 32 bytes from input column `sw x` of each 32 pixels `x`); only
/// inlined into functions compiled with AVX2.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn compacted(
    st: &NativeStage,
    x: *const u8,
    cin: usize,
    (sh, sw): (usize, usize),
    (lo, hi): (usize, usize),
) -> Vec<u8> {
    let w = st.width();
    let plane = (hi - lo) * w + 64;
    let mut planes = vec![0u8; cin * plane];
    for ch in 0..cin {
        for y in lo..hi {
            let src = st.x().origin + ch * st.x().plane + sh * y * st.x().stride;
            let dst = ch * plane + (y - lo) * w;
            for x0 in (0..w).step_by(32) {
                // SAFETY: the loads as `fits` checked them; the 32 bytes
                // stored end at most 31 past the row, inside the plane (64
                // spare bytes after its last row); the next row, copied
                // after, overwrites them.
                unsafe {
                    let v = if sw == 2 {
                        even_bytes(x.add(src + 2 * x0))
                    } else {
                        _mm256_loadu_si256(x.add(src + x0).cast())
                    };
                    _mm256_storeu_si256(planes.as_mut_ptr().add(dst + x0).cast(), v);
                }
            }
        }
    }
    planes
}

/// Bytes 0, 2, .., 62 of the 64 from `at`, in order: 32 pixels of a row
/// read at column stride 2.
///
/// # Safety
/// 64 bytes from `at` are readable; only inlined into functions compiled
/// with AVX2.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn even_bytes(at: *const u8) -> __m256i {
    // SAFETY: the caller's guarantees.
    unsafe {
        let low = _mm256_set1_epi16(0xFF);
        let a = _mm256_and_si256(_mm256_loadu_si256(at.cast()), low);
        let b = _mm256_and_si256(_mm256_loadu_si256(at.add(32).cast()), low);
        // Per 128-bit lane: a's 8 even bytes, then b's; quads 0 2 1 3.
        _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packus_epi16(a, b))
    }
}

/// Where a pointwise block stores: `count` (at most 32) pixels from
/// `offset` past each output plane's pixel (0, 0), the planes `plane`
/// bytes apart from `origin` (the output's, or the planes of a compacted
/// output); the residual map and the offset of the same pixels in it.
#[cfg(target_arch = "x86_64")]
struct Spot<'a> {
    origin: usize,
    plane: usize,
    offset: usize,
    count: usize,
    residual: Option<(&'a Residual, usize)>,
}

/// A residual map as a pointwise block reads it: planes `plane` bytes
/// apart from byte `origin` of `base`, one byte a value (`signed` or not),
/// aligned to the tail by `align` bits.
#[cfg(target_arch = "x86_64")]
struct Residual {
    base: *const u8,
    origin: usize,
    plane: usize,
    signed: bool,
    align: __m128i,
    /// Per 128-bit lane, bytes `4 p .. 4 p + 4` into the top byte of
    /// dwords 0..4 (the others zero): the values of accumulator vector
    /// `p`, whose lane `4 L + i` is pixel `16 L + 4 p + i`.
    spread: [__m256i; 4],
}

#[cfg(target_arch = "x86_64")]
impl Residual {
    fn new(base: *const u8, (origin, plane): (usize, usize), signed: bool, align: u32) -> Self {
        let spread = |p: usize| {
            let idx: [i8; 32] = std::array::from_fn(|b| {
                let b = b % 16;
                if b % 4 == 3 {
                    (4 * p + b / 4) as i8
                } else {
                    -1
                }
            });
            // SAFETY: `idx` is 32 bytes; AVX (the kernel runs on AVX2
            // hosts only).
            unsafe { _mm256_loadu_si256(idx.as_ptr().cast()) }
        };
        Residual {
            base,
            origin,
            plane,
            signed,
            // SAFETY: SSE2.
            align: unsafe { _mm_cvtsi32_si128(align as i32) },
            spread: [spread(0), spread(1), spread(2), spread(3)],
        }
    }

    /// Channel `c`'s `count` (at most 32) values from `offset`, widened and
    /// aligned, in the order of the accumulators (see `spread`); the lanes
    /// past `count` zero.
    ///
    /// # Safety
    /// The values lie in the map (or its compacted planes); only inlined
    /// into functions compiled with AVX2.
    #[inline(always)]
    unsafe fn values(&self, c: usize, offset: usize, count: usize) -> [__m256i; 4] {
        let at = self.origin + c * self.plane + offset;
        // SAFETY: the caller's guarantees: `count` bytes from `at`; fewer
        // than 32 go through a copy, so no byte past them is read.
        let bytes = unsafe {
            if count >= 32 {
                _mm256_loadu_si256(self.base.add(at).cast())
            } else {
                let mut part = [0u8; 32];
                std::ptr::copy_nonoverlapping(self.base.add(at), part.as_mut_ptr(), count);
                _mm256_loadu_si256(part.as_ptr().cast())
            }
        };
        let mut values = [bytes; 4];
        for (v, &spread) in values.iter_mut().zip(&self.spread) {
            // SAFETY: the caller's target features.
            unsafe {
                let top = _mm256_shuffle_epi8(bytes, spread);
                let wide = if self.signed {
                    _mm256_srai_epi32::<24>(top)
                } else {
                    _mm256_srli_epi32::<24>(top)
                };
                *v = _mm256_sll_epi32(wide, self.align);
            }
        }
        values
    }
}

/// What a block multiplies: one chunk's activations (quads, or their
/// halves when `MADD`), the weights' halves (`MADD`), the weight quads
/// (`BYTES`, `SUMS`: the main quads) and, per output channel, the rests
/// (`BYTES`, `SUMS`).
#[cfg(target_arch = "x86_64")]
struct Operands<'a> {
    acts: &'a [__m256i],
    halves: &'a [(i32, i32)],
    main: &'a [i32],
    rests: &'a [Vec<(usize, i32)>],
}

/// Output channels `o..o + N` of 32 pixels: `4 N` accumulators, one
/// `vpdpbusd` (two `vpmaddwd`; one `vpmaddubsw` and one `vpmaddwd`) per
/// accumulator and group of four input channels, then (`BYTES`) one per
/// rest.
///
/// # Safety
/// As [`drive`]; `o + N <= st.channels()`; the operands as `drive` made
/// them.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn block<const N: usize, const FAST: bool, const NEG: bool, const DOT: Dot>(
    (tail, fast): (&Tail, Option<Fast>),
    ops: &Operands,
    o: usize,
    spot: &Spot,
    out: *mut u8,
) {
    let (acts, halves) = (ops.acts, ops.halves);
    let per = if DOT != MADD { 4 } else { 8 };
    let groups = acts.len() / per;
    let mut acc = [[_mm256_setzero_si256(); 4]; N];
    let w = &ops.main[o * groups..(o + N) * groups];
    let ones = _mm256_set1_epi16(1);
    let h = if DOT != MADD {
        &[][..]
    } else {
        &halves[o * groups..(o + N) * groups]
    };
    let mut g0 = 0;
    if DOT == SUMS {
        // Quads `g0` and `g0 + 1` at once, pixel vectors outside (a
        // register each for the two quads' vectors, the weights of all
        // `N` channels held).
        while g0 + 1 < groups {
            // SAFETY: `g0 + 1 < groups`: as below.
            let wv: [(__m256i, __m256i); N] = std::array::from_fn(|j| unsafe {
                let at = j * groups + g0;
                (
                    _mm256_set1_epi32(*w.get_unchecked(at)),
                    _mm256_set1_epi32(*w.get_unchecked(at + 1)),
                )
            });
            for p in 0..4 {
                // SAFETY: as below.
                let (a, b) = unsafe {
                    (
                        *acts.get_unchecked(4 * g0 + p),
                        *acts.get_unchecked(4 * g0 + 4 + p),
                    )
                };
                for (acc_j, &(wa, wb)) in acc.iter_mut().zip(&wv) {
                    // SAFETY: AVX2.
                    acc_j[p] = unsafe { maddubs2(acc_j[p], (a, wa), (b, wb), ones) };
                }
            }
            g0 += 2;
        }
    }
    for g in g0..groups {
        // SAFETY: `g < groups`, so `per g + per - 1 < acts.len()` and `j
        // groups + g < N groups = w.len() = h.len()` (`h` when `MADD`).
        unsafe {
            if DOT != MADD {
                let a: [__m256i; 4] = std::array::from_fn(|p| *acts.get_unchecked(4 * g + p));
                for (j, acc_j) in acc.iter_mut().enumerate() {
                    let wv = _mm256_set1_epi32(*w.get_unchecked(j * groups + g));
                    for (acc_p, &a_p) in acc_j.iter_mut().zip(&a) {
                        *acc_p = if DOT == BYTES || DOT == SUMS {
                            maddubs(*acc_p, a_p, wv, ones)
                        } else {
                            dpbusd::<DOT>(*acc_p, a_p, wv)
                        };
                    }
                }
            } else {
                let a = acts.as_ptr().add(8 * g);
                let wv: [(__m256i, __m256i); N] = std::array::from_fn(|j| {
                    let (even, odd) = *h.get_unchecked(j * groups + g);
                    (_mm256_set1_epi32(even), _mm256_set1_epi32(odd))
                });
                // Pixel vectors outside: each activation vector loaded once.
                for p in 0..4 {
                    let (ae, ao) = (*a.add(p), *a.add(4 + p));
                    for (acc_j, &(we, wo)) in acc.iter_mut().zip(&wv) {
                        let e = _mm256_madd_epi16(ae, we);
                        let o = _mm256_madd_epi16(ao, wo);
                        acc_j[p] = _mm256_add_epi32(acc_j[p], _mm256_add_epi32(e, o));
                    }
                }
            }
        }
    }
    if DOT == BYTES || DOT == SUMS {
        for (j, acc_j) in acc.iter_mut().enumerate() {
            for &(g, r) in &ops.rests[o + j] {
                let wv = _mm256_set1_epi32(r);
                for (p, acc_p) in acc_j.iter_mut().enumerate() {
                    // SAFETY: `g < groups` (a quad index of the channel),
                    // so `4 g + p < acts.len()`; AVX2.
                    *acc_p = unsafe { maddubs(*acc_p, *acts.get_unchecked(4 * g + p), wv, ones) };
                }
            }
        }
    }
    for (j, acc_j) in acc.iter().enumerate() {
        // SAFETY: the caller's guarantees, `o + j < st.channels()`.
        unsafe { finish::<FAST, NEG>((tail, fast), acc_j, o + j, spot, out) };
    }
}

/// The tail and the store of output channel `c`'s 32 accumulators.
///
/// # Safety
/// As [`block`], `c < st.channels()`; only inlined into functions compiled
/// with AVX2 and AVX-VNNI.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn finish<const FAST: bool, const NEG: bool>(
    (tail, fast): (&Tail, Option<Fast>),
    acc: &[__m256i; 4],
    c: usize,
    spot: &Spot,
    out: *mut u8,
) {
    // SAFETY: the caller's target features; `fast` is `Some` when `FAST`
    // (with `neg` when `NEG`).
    let v = unsafe {
        if FAST {
            let f = fast.unwrap_unchecked();
            f.packed4_with::<NEG>(acc, f.channel_with::<NEG>(c))
        } else if let Some((r, offset)) = spot.residual {
            // SAFETY: the run's pixels are in the residual map too.
            let res = r.values(c, offset, spot.count);
            tail.packed4_residual(acc, tail.channel(c), &res)
        } else {
            tail.packed4(acc, tail.channel(c))
        }
    };
    let at = spot.origin + c * spot.plane + spot.offset;
    // SAFETY: the run's pixels `offset .. offset + count` are inside the
    // output plane (this job's rows).
    unsafe { store(out.add(at), v, spot.count) };
}

/// The first `count` (at most 32) bytes of `v` to `dst`: one store, or
/// stores of 16, 8, 4, 2 and 1 bytes as `count`'s bits say (no call, no
/// byte beyond `count` written).
///
/// # Safety
/// `dst` holds `count` writable bytes; AVX2.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(super) unsafe fn store(dst: *mut u8, v: __m256i, count: usize) {
    // SAFETY: the caller's guarantees; each store writes bytes `at ..
    // at + n` with `at + n <= count`.
    unsafe {
        if count >= 32 {
            _mm256_storeu_si256(dst.cast(), v);
            return;
        }
        let mut at = 0;
        let mut part = _mm256_castsi256_si128(v);
        if count & 16 != 0 {
            _mm_storeu_si128(dst.cast(), part);
            part = _mm256_extracti128_si256::<1>(v);
            at = 16;
        }
        if count & 8 != 0 {
            _mm_storel_epi64(dst.add(at).cast(), part);
            part = _mm_srli_si128::<8>(part);
            at += 8;
        }
        let mut rest = _mm_cvtsi128_si64(part) as u64;
        if count & 4 != 0 {
            dst.add(at).cast::<u32>().write_unaligned(rest as u32);
            rest >>= 32;
            at += 4;
        }
        if count & 2 != 0 {
            dst.add(at).cast::<u16>().write_unaligned(rest as u16);
            rest >>= 16;
            at += 2;
        }
        if count & 1 != 0 {
            dst.add(at).write(rest as u8);
        }
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    #[test]
    fn store_writes_exactly_count_bytes() {
        if !std::is_x86_feature_detected!("avx2") {
            eprintln!("NOT ON THIS CPU: store_writes_exactly_count_bytes: AVX2");
            return;
        }
        let bytes: [u8; 32] = std::array::from_fn(|i| i as u8 + 1);
        for count in 0..=32 {
            let mut dst = [0u8; 40];
            // SAFETY: AVX2 (checked above); `dst` holds `count + 4` bytes
            // from byte 4.
            unsafe {
                let v = _mm256_loadu_si256(bytes.as_ptr().cast());
                store(dst.as_mut_ptr().add(4), v, count);
            }
            let want: Vec<u8> = (0..40)
                .map(|i| {
                    if (4..4 + count).contains(&i) {
                        bytes[i - 4]
                    } else {
                        0
                    }
                })
                .collect();
            assert_eq!(dst.to_vec(), want, "count {count}");
        }
    }
}
