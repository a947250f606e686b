//! The AVX-512 direct convolution with output channels on the lanes
//! (`native::Lanes`), for rows whose pixel count is no multiple of 16 (7,
//! 14, 28 wide outputs): the window rows are repacked as for
//! `conv_avx512::direct` (quad rows, one dword per input column and channel
//! quad), but a register block is `N` pixels of one output row x `M`
//! vectors of 16 output channels. Per step every pixel's input dword is
//! broadcast and multiplied by the `M` weight vectors, so no lane idles
//! past the end of a row. A folded tail without a residual map runs on the
//! sums as they are, with per-lane constants ([`stored`]: 64 bytes per
//! four pixels, then a byte transpose and a masked store per channel row);
//! other tails take the accumulators transposed to pixel order (16 x 16
//! dwords) into a row of 32-bit sums per channel, finished by the
//! requantization tails of the pixel-lane kernel. (Transposing and
//! finishing each channel row took ~15% of 3x3 128 -> 128 on 14 x 14.)
//!
//! Memory: the reads are the window's slots (as `conv_avx512`, one dword
//! per pixel inside the row's `Direct::cols`), the block's weights, and a
//! scratch of `16 M` rows of [`ROW`] sums owned by the call; stores are
//! masked to the output row's width.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

#[cfg(target_arch = "x86_64")]
use super::avx512::lanes;
#[cfg(target_arch = "x86_64")]
use super::conv_avx512::{live_steps, RowSteps};
#[cfg(target_arch = "x86_64")]
use super::tail_avx512::{Fast, Tail};
#[cfg(target_arch = "x86_64")]
use crate::jit::native::{lanes_block, Direct, Lanes, NativeStage};

/// Sums of one channel's output row in the scratch: rows of up to 64
/// pixels, plus the 16 a block's last transposed vector may write past it.
#[cfg(target_arch = "x86_64")]
pub(super) const ROW: usize = 64 + 16;

/// Runs output rows `lo..hi` of a direct convolution planned with
/// `d.lanes == Some(l)`, in the channel blocks that start in `c0..c1`
/// (a job's channel slice: every block starts in exactly one slice, so
/// the jobs of a row range write disjoint channels).
///
/// # Safety
/// As `conv_avx512::direct`; `native::fits` checked `l` against `d`
/// (rows of at most 64 pixels, one row and column phase, `l.n`, `l.m`
/// within the dispatched blocks, `l.weights` of the planned length).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
pub(super) unsafe fn rows(
    st: &NativeStage,
    d: &Direct,
    l: &Lanes,
    (x, res): (*const u8, *const u8),
    out: *mut u8,
    (lo, hi): (usize, usize),
    (c0, c1): (usize, usize),
) {
    let tail = Tail::new(st.requant());
    let mut window = RowSteps::new(st, d, x);
    let steps = &d.steps[0];
    let t = steps.len();
    let width = st.width();
    // The folded tail without a residual map runs on the channel-lane sums
    // (`stored`): per 16-channel vector of every group, its constants.
    let fast = tail.fast().filter(|_| st.residual().is_none());
    // The 32-bit sums of the other tails (`transposed`), the bytes of the
    // folded one (`stored`).
    let mut scratch = vec![0i32; if fast.is_some() { 0 } else { 16 * l.m * ROW }];
    let mut byte_rows = vec![0u8; if fast.is_some() { l.m * ROW_BYTES } else { 0 }];
    let mut lane_k = vec![];
    if let Some(f) = &fast {
        for g in 0..d.groups {
            let end = (g + 1) * d.cout_g;
            for o in (g * d.cout_g..end).step_by(16) {
                lane_k.push(f.lane_channels(o, (end - o).min(16)));
            }
        }
    }
    let idx = channel_dwords();
    let o_rows = st.out();
    for oy in lo..hi {
        // SAFETY: the caller's guarantees (`plan_direct` checked the rows).
        unsafe { window.row(st, d, x, oy) };
        // Steps reading padding rows only are skipped (`live_steps`).
        let (s0, s1) = live_steps(d, steps, oy);
        let mut at = 0;
        let mut kv = 0;
        for g in 0..d.groups {
            window.group(d, g);
            let end = (g + 1) * d.cout_g;
            let mut o = g * d.cout_g;
            while o < end {
                let mb = lanes_block((end - o).div_ceil(16), l.m);
                let (block, block_at, block_kv) = (o, at, kv);
                kv += mb;
                at += 16 * mb * t;
                o += 16 * mb;
                if !(c0..c1).contains(&block) {
                    continue;
                }
                let w = &l.weights[block_at + 16 * mb * s0..block_at + 16 * mb * s1];
                let ch = (end - block).min(16 * mb);
                let sink = fast.map(|fast| Sink {
                    fast,
                    k: &lane_k[block_kv..block_kv + mb],
                    bytes: byte_rows.as_mut_ptr(),
                });
                let mut x0 = 0;
                while x0 < width {
                    let n = l.n.min(width - x0);
                    // SAFETY: every step's dwords `x0 .. x0 + n` lie in its
                    // quad row (`x0 + n <= width <= Direct::cols`); `w`
                    // holds `t` steps of `16 mb` weights; the transposed
                    // sums land in rows `< 16 mb` of the scratch, at
                    // columns `x0 .. x0 + 16 <= ROW`.
                    unsafe {
                        let at = window.at[s0..].as_ptr();
                        dispatch((n, mb), at, s1 - s0, x0, w, &mut scratch, sink.as_ref())
                    };
                    x0 += n;
                }
                let dst =
                    out.wrapping_add(o_rows.origin + block * o_rows.plane + oy * o_rows.stride);
                if sink.is_some() {
                    // SAFETY: the blocks filled the byte rows up to
                    // `width`; output row `oy` of channels `block .. block + ch`
                    // lies in the output.
                    unsafe {
                        flush(
                            byte_rows.as_ptr(),
                            (mb, ch),
                            (dst, o_rows.plane),
                            width,
                            idx,
                        )
                    };
                } else {
                    // SAFETY: the output (and residual) rows `oy` of
                    // channels `block .. block + ch` lie in their buffers.
                    unsafe { finish(&tail, st, (block, ch), oy, &scratch, (out, res)) };
                }
            }
        }
    }
}

/// Calls `block::<N, M>` for the runtime `n` (pixels) and `m` (vectors).
///
/// # Safety
/// See [`block`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
unsafe fn dispatch(
    (n, m): (usize, usize),
    at: *const *const u8,
    t: usize,
    x0: usize,
    w: &[i32],
    scratch: &mut [i32],
    sink: Option<&Sink>,
) {
    macro_rules! pick {
        ($m:literal; $($n:literal)*) => {
            match n {
                // SAFETY: the caller's guarantees.
                $($n => unsafe { block::<$n, $m>(at, t, x0, w, scratch, sink) },)*
                _ => {}
            }
        };
    }
    match m {
        1 => pick!(1; 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16),
        2 => pick!(2; 1 2 3 4 5 6 7 8 9 10 11 12 13 14),
        _ => pick!(3; 1 2 3 4 5 6 7 8),
    }
}

/// Pixels `x0 .. x0 + N` of the row, channels of `M` vectors: one
/// broadcast per step and pixel, one `vpdpbusd` per step, pixel and
/// vector; the sums go to the scratch in pixel order (channel `j` of
/// vector `v` in row `16 v + j`, pixel `x0 + p` at column `x0 + p`).
///
/// # Safety
/// `at` points at `t` step pointers whose dwords `x0 .. x0 + N` are
/// readable; `w` holds `t * 16 M` weights; `scratch` holds `16 M` rows of
/// [`ROW`] and `x0 + 16 <= ROW`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
unsafe fn block<const N: usize, const M: usize>(
    at: *const *const u8,
    t: usize,
    x0: usize,
    w: &[i32],
    scratch: &mut [i32],
    sink: Option<&Sink>,
) {
    let mut acc = [[_mm512_setzero_si512(); M]; N];
    let steps = t.min(w.len() / (16 * M));
    let w = w.as_ptr();
    for s in 0..steps {
        // SAFETY: `s < t`; the pixel's dword lies in the step's quad row;
        // `16 M (s + 1) <= w.len()`.
        let base = unsafe { (*at.add(s)).add(4 * x0) };
        let wv: [__m512i; M] =
            std::array::from_fn(|v| unsafe { _mm512_loadu_si512(w.add(16 * (M * s + v)).cast()) });
        for (p, acc_p) in acc.iter_mut().enumerate() {
            // SAFETY: as above.
            let b = _mm512_set1_epi32(unsafe { base.add(4 * p).cast::<i32>().read_unaligned() });
            for (a, &wm) in acc_p.iter_mut().zip(&wv) {
                *a = _mm512_dpbusd_epi32(*a, b, wm);
            }
        }
    }
    // A copy made only here keeps `acc` from escaping (as in
    // `conv_avx512::block`): borrowed directly, it lived in memory zeroed by
    // a `memset` call per block (2% of 3x3 32 -> 64 stride 2 to 56 x 56).
    let sums = acc;
    match sink {
        // SAFETY: the caller's guarantee on the sink's rows.
        Some(f) => unsafe { stored::<N, M>(&sums, f, x0) },
        // SAFETY: the caller's guarantee on `scratch` and `x0`.
        None => unsafe { transposed::<N, M>(&sums, x0, scratch) },
    }
}

/// Bytes of one vector's row in the byte scratch of [`stored`]: 16
/// channels of up to 64 pixels, pixel-major, plus the 48 bytes a block's
/// last four-pixel store may write past its pixels.
#[cfg(target_arch = "x86_64")]
const ROW_BYTES: usize = 16 * 64 + 64;

/// Where a block's channel-lane sums go through the folded tail
/// ([`stored`], then [`flush`]): `k` the tail's constants per vector of 16
/// channels; `bytes` the byte scratch of the channel block's row, vector
/// `v` at `v * ROW_BYTES`, pixel `x` at `16 x` (channel `j` at byte `j`).
#[cfg(target_arch = "x86_64")]
struct Sink<'a> {
    fast: Fast<'a>,
    k: &'a [[[__m512i; 2]; 2]],
    bytes: *mut u8,
}

/// The folded tail on a block's sums as they are (16 channels on the
/// lanes, per-lane constants): per vector and four pixels, one 64-byte
/// store to the byte scratch (pixel-major; [`flush`] turns a whole row
/// into channel rows). A block's bytes past its `N` pixels are written
/// over by the next block or lie past the row's width.
///
/// # Safety
/// `f.bytes` holds `M` vectors' rows of [`ROW_BYTES`], `x0 + N <= 64`;
/// `f.k` holds `M` vectors' constants.
#[cfg(target_arch = "x86_64")]
#[inline(never)]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
unsafe fn stored<const N: usize, const M: usize>(acc: &[[__m512i; M]; N], f: &Sink, x0: usize) {
    let zero = _mm512_setzero_si512();
    for (v, k) in f.k.iter().enumerate().take(M) {
        let mut p0 = 0;
        while p0 < N {
            let mut a = [zero; 4];
            for (a, acc_p) in a.iter_mut().zip(&acc[p0..(p0 + 4).min(N)]) {
                *a = acc_p[v];
            }
            // SAFETY: this function's target features; `16 (x0 + p0) + 64
            // <= 16 * 64 + 48 < ROW_BYTES` (`p0 < N`, `x0 + N <= 64`).
            unsafe {
                let bytes = f.fast.lanes4(&a, k);
                let at = f.bytes.add(v * ROW_BYTES + 16 * (x0 + p0));
                _mm512_storeu_si512(at.cast(), bytes);
            }
            p0 += 4;
        }
    }
}

/// Four groups' channel dwords (`y[i]` dword `c`: channel `c`'s pixels
/// `4 i ..`) transposed in 128-bit lanes: lane `L` of result `k` holds
/// channel `4 L + k`'s four groups.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
fn lanes_of_four(y: [__m512i; 4]) -> [__m512i; 4] {
    let t0 = _mm512_unpacklo_epi32(y[0], y[1]);
    let t1 = _mm512_unpackhi_epi32(y[0], y[1]);
    let t2 = _mm512_unpacklo_epi32(y[2], y[3]);
    let t3 = _mm512_unpackhi_epi32(y[2], y[3]);
    [
        _mm512_unpacklo_epi64(t0, t2),
        _mm512_unpackhi_epi64(t0, t2),
        _mm512_unpacklo_epi64(t1, t3),
        _mm512_unpackhi_epi64(t1, t3),
    ]
}

/// The `vpermb` indices of [`flush`]: from four pixels' 16 channel bytes
/// (byte `16 p + j`), dword `j` holds channel `j`'s four pixels.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
fn channel_dwords() -> __m512i {
    let idx: [u8; 64] = std::array::from_fn(|b| (16 * (b % 4) + b / 4) as u8);
    // SAFETY: 64 bytes.
    unsafe { _mm512_loadu_si512(idx.as_ptr().cast()) }
}

/// Stores a channel block's row from the byte scratch ([`stored`]): per
/// vector, its `width` pixels in 4-pixel groups (`vpermb` to channel
/// dwords), transposed to channel rows (up to 16, 32 or 64 pixels: 4, 8
/// or 16 groups) and stored with one masked store per channel row `dst +
/// j * plane`, channels `j < ch`.
///
/// # Safety
/// `bytes` holds `mb` vectors' rows of [`ROW_BYTES`] (written up to pixel
/// `width <= 64`); `dst + j * plane` is the output row of channel `j < ch`,
/// `width` bytes.
#[cfg(target_arch = "x86_64")]
#[inline(never)]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
unsafe fn flush(
    bytes: *const u8,
    (mb, ch): (usize, usize),
    (dst, plane): (*mut u8, usize),
    width: usize,
    idx: __m512i,
) {
    for v in 0..mb {
        let row = bytes.wrapping_add(v * ROW_BYTES);
        let out = Rows {
            dst: dst.wrapping_add(16 * v * plane),
            plane,
            ch: ch.saturating_sub(16 * v).min(16),
            width,
        };
        // SAFETY (all three): the caller's guarantees, for vector `v`.
        unsafe {
            match width.div_ceil(4) {
                0..=4 => flush_groups::<4>(row, &out, idx),
                5..=8 => flush_groups::<8>(row, &out, idx),
                _ => flush_groups::<16>(row, &out, idx),
            }
        }
    }
}

/// The output rows of one vector's 16 channels ([`flush`]): channel `j <
/// ch` at `dst + j * plane`, `width` bytes.
#[cfg(target_arch = "x86_64")]
struct Rows {
    dst: *mut u8,
    plane: usize,
    ch: usize,
    width: usize,
}

/// [`flush`] of one vector whose row has at most `4 G` pixels: the `G`
/// groups' channel dwords transposed in 128-bit lanes (`G` 4 and 8: lane
/// `L` of `u[k]` holds channel `4 L + k`'s groups; two 4-group halves
/// joined by `vpermt2q`), each channel row stored from its lane by a
/// store shifted back by the lane's offset, masked to the lane (the
/// masked-off bytes before the row are not accessed).
///
/// # Safety
/// `row` holds `64 G <= ROW_BYTES` readable bytes, written up to pixel
/// `out.width <= 4 G`; `out`'s rows are writable for `out.width` bytes.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
unsafe fn flush_groups<const G: usize>(row: *const u8, out: &Rows, idx: __m512i) {
    // SAFETY (whole body): the caller's target features and guarantees.
    unsafe {
        let groups = out.width.div_ceil(4);
        let mut y = [_mm512_setzero_si512(); G];
        for (g, y) in y.iter_mut().enumerate().take(groups) {
            *y = _mm512_permutexvar_epi8(idx, _mm512_loadu_si512(row.add(64 * g).cast()));
        }
        let mask = lanes(out.width);
        if G == 16 {
            let mut all = [_mm512_setzero_si512(); 16];
            all.copy_from_slice(&y[..16]);
            for (j, r) in transpose16(&all).iter().enumerate().take(out.ch) {
                _mm512_mask_storeu_epi8(out.dst.add(j * out.plane).cast(), mask, *r);
            }
            return;
        }
        let u0 = lanes_of_four([y[0], y[1], y[2], y[3]]);
        if G == 4 {
            for j in 0..out.ch {
                let (lane, k) = (j / 4, j % 4);
                let at = out.dst.add(j * out.plane).wrapping_sub(16 * lane);
                _mm512_mask_storeu_epi8(at.cast(), mask << (16 * lane), u0[k]);
            }
            return;
        }
        // G == 8: lane `L` of the two halves side by side, lanes 0 and 1
        // in `lo`, 2 and 3 in `hi`.
        let u1 = lanes_of_four([y[4 % G], y[5 % G], y[6 % G], y[7 % G]]);
        let pick_lo = _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0);
        let pick_hi = _mm512_set_epi64(15, 14, 7, 6, 13, 12, 5, 4);
        for k in 0..4 {
            let lo = _mm512_permutex2var_epi64(u0[k], pick_lo, u1[k]);
            let hi = _mm512_permutex2var_epi64(u0[k], pick_hi, u1[k]);
            for lane in 0..4 {
                let j = 4 * lane + k;
                if j < out.ch {
                    let v = if lane < 2 { lo } else { hi };
                    let half = lane % 2;
                    let at = out.dst.add(j * out.plane).wrapping_sub(32 * half);
                    _mm512_mask_storeu_epi8(at.cast(), mask << (32 * half), v);
                }
            }
        }
    }
}

/// Stores the sums of a block in pixel order (see [`block`]): per vector a
/// 16 x 16 transpose (pixels past `N` zero).
///
/// # Safety
/// `scratch` holds `16 M` rows of [`ROW`] and `x0 + 16 <= ROW`.
#[cfg(target_arch = "x86_64")]
#[inline(never)]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
unsafe fn transposed<const N: usize, const M: usize>(
    acc: &[[__m512i; M]; N],
    x0: usize,
    scratch: &mut [i32],
) {
    for v in 0..M {
        let mut r = [_mm512_setzero_si512(); 16];
        for (r, acc_p) in r.iter_mut().zip(acc) {
            *r = acc_p[v];
        }
        let cols = transpose16(&r);
        for (j, c) in cols.iter().enumerate() {
            let at = (16 * v + j) * ROW + x0;
            // SAFETY: `at + 16 <= 16 M ROW`, the caller's guarantee.
            unsafe { _mm512_storeu_si512(scratch.as_mut_ptr().add(at).cast(), *c) };
        }
    }
}

/// The 16 x 16 dword transpose: lane `i` of vector `j` of the result is
/// lane `j` of `r[i]`.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
fn transpose16(r: &[__m512i; 16]) -> [__m512i; 16] {
    let mut t = [_mm512_setzero_si512(); 16];
    for i in 0..8 {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    // `u[4 i + k]`, 128-bit lane `L`: column `4 L + k` of rows `4 i .. 4 i + 3`.
    let mut u = [_mm512_setzero_si512(); 16];
    for i in 0..4 {
        u[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    let mut out = [_mm512_setzero_si512(); 16];
    for k in 0..4 {
        let x0 = _mm512_shuffle_i32x4::<0x44>(u[k], u[4 + k]);
        let x1 = _mm512_shuffle_i32x4::<0xEE>(u[k], u[4 + k]);
        let y0 = _mm512_shuffle_i32x4::<0x44>(u[8 + k], u[12 + k]);
        let y1 = _mm512_shuffle_i32x4::<0xEE>(u[8 + k], u[12 + k]);
        out[k] = _mm512_shuffle_i32x4::<0x88>(x0, y0);
        out[4 + k] = _mm512_shuffle_i32x4::<0xDD>(x0, y0);
        out[8 + k] = _mm512_shuffle_i32x4::<0x88>(x1, y1);
        out[12 + k] = _mm512_shuffle_i32x4::<0xDD>(x1, y1);
    }
    out
}

/// The tail of channels `o .. o + ch` (scratch rows `0 .. ch`) of output
/// row `oy`, stored masked to the row's width (plus the residual map's
/// pixels when the stage has one).
///
/// # Safety
/// As [`rows`]: row `oy` of channels `o .. o + ch` lies in the output (and
/// the residual map); `scratch` holds `ch` rows of [`ROW`].
#[cfg(target_arch = "x86_64")]
#[inline(never)]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
pub(super) unsafe fn finish(
    tail: &Tail,
    st: &NativeStage,
    (o, ch): (usize, usize),
    oy: usize,
    scratch: &[i32],
    (out, res): (*mut u8, *const u8),
) {
    let width = st.width();
    let pv = width.div_ceil(16);
    let o_rows = st.out();
    let fast = tail.fast();
    for j in 0..ch {
        let c = o + j;
        let row = &scratch[j * ROW..j * ROW + 64];
        let mut acc = [_mm512_setzero_si512(); 4];
        for (p, a) in acc.iter_mut().enumerate().take(pv) {
            // SAFETY: `16 p + 16 <= 64` sums of the row.
            *a = unsafe { _mm512_loadu_si512(row.as_ptr().add(16 * p).cast()) };
        }
        let dst = out.wrapping_add(o_rows.origin + c * o_rows.plane + oy * o_rows.stride);
        if let (Some(f), None, 2..) = (&fast, st.residual(), pv) {
            // SAFETY: this function's target features; the mask keeps the
            // store within the row.
            unsafe {
                let v = f.ordered4(&acc, f.channel(c));
                _mm512_mask_storeu_epi8(dst.cast(), lanes(width), v);
            }
            continue;
        }
        let k = tail.channel(c);
        for (p, &a) in acc.iter().enumerate().take(pv) {
            let bytes = match st.residual() {
                None => tail.apply(a, k),
                Some((m, signed)) => {
                    let at = res.wrapping_add(m.origin + c * m.plane + oy * m.stride + 16 * p);
                    let mask = lanes(width - 16 * p) & 0xFFFF;
                    // SAFETY: the mask keeps the load within the residual
                    // map's row.
                    let r = unsafe { _mm512_maskz_loadu_epi8(mask, at.cast()) };
                    let r = _mm512_castsi512_si128(r);
                    let wide = if signed {
                        _mm512_cvtepi8_epi32(r)
                    } else {
                        _mm512_cvtepu8_epi32(r)
                    };
                    let align = st.requant().residual.map_or(0, |q| q.align);
                    let wide = _mm512_sll_epi32(wide, _mm_cvtsi32_si128(align as i32));
                    tail.apply_residual(a, k, wide)
                }
            };
            let mask = lanes(width - 16 * p) & 0xFFFF;
            // SAFETY: the mask keeps the store within the row.
            unsafe {
                _mm512_mask_storeu_epi8(
                    dst.wrapping_add(16 * p).cast(),
                    mask,
                    _mm512_castsi128_si512(bytes),
                )
            };
        }
    }
}
