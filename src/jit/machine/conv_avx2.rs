//! The AVX2 direct convolution, for CPUs without AVX-512 (or with
//! `--isa avx2`): the plan and layout of `conv_avx512` on 256-bit vectors,
//! 8 pixels a vector, `vpdpbusd ymm` (`dot256`: AVX-VNNI when the host has
//! it, or the EVEX form under `--isa avx2-vnni`), else `vpmaddubsw` byte
//! pairs where the weights make them exact (`block_bytes`; not for
//! transposed convolutions, whose rests would be indexed across their
//! phase lists), else two `vpmaddwd` on the 16-bit halves of each quad
//! (`block_wide`). The window's
//! quad rows are repacked by `repack_avx2`; AVX2 has no byte-masked
//! stores, so the output's last pixels go through a byte copy.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

#[cfg(target_arch = "x86_64")]
use super::conv_avx512::{blocked_weights, fill_steps, step_spots};
#[cfg(target_arch = "x86_64")]
use super::dot256::{dpbusd, maddubs, maddubs2, Dot, EVEX, MADD, VEX};
#[cfg(target_arch = "x86_64")]
use super::repack_avx2::{prefetch_rows, repack_row};
#[cfg(target_arch = "x86_64")]
use super::repack_avx512::{quad_map, Window};
#[cfg(target_arch = "x86_64")]
use super::tail_avx2::{Fast, Tail};
#[cfg(target_arch = "x86_64")]
use crate::jit::native::byte_pairs::BytePairs;
#[cfg(target_arch = "x86_64")]
use crate::jit::native::{Direct, Kind, NativeStage};

/// Channels per register block for `pv` pixel vectors (16 registers):
/// with `vnni`, the accumulators and the pixel vectors; without, the
/// pixel vectors' two halves and the weights' two halves too.
fn max_channels(pv: usize, vnni: bool) -> usize {
    match (pv, vnni) {
        (1, true) => 12,
        (_, true) => 6,
        (1, false) => 10,
        _ => 4,
    }
}

/// Channels per register block with `vpmaddubsw` (`block_bytes`): the
/// accumulators, the pixel vectors, the weights, the ones and a product
/// (4 with two pixel vectors, not 5: channel counts are mostly multiples
/// of 4, and 32 channels in blocks of 5 left a block of 2).
fn bytes_channels(pv: usize) -> usize {
    if pv == 1 {
        10
    } else {
        4
    }
}

/// Sums of step pairs (`BytePairs::plan_best_by`) with at most one added
/// rest per this many quads.
const QUADS_PER_REST: usize = 32;

/// The fewest steps a channel for byte pairs in [`plan_pairs`].
const MIN_PAIR_STEPS: usize = 16;

/// `blocked` (laid out by `blocked_weights` in blocks of `per` channels)
/// split into byte pairs, each rest indexed by its step, each even step's
/// quads partnered with the next step's (`BytePairs::plan_best_by`);
/// `None` when the widened words pay better.
fn plan_pairs(st: &NativeStage, d: &Direct, blocked: &[i32], per: usize) -> Option<BytePairs> {
    let (channels, steps) = (st.channels(), d.steps_total);
    // Few steps a channel (first layers: one per tap): the repacking and
    // the tail dominate, and the pairs measured slower (128 x 128, 3 -> 32
    // channels, 3 x 3: 0.87-0.93x).
    if steps < MIN_PAIR_STEPS || blocked.len() != channels * steps {
        return None;
    }
    // Each channel's block: its first channel and its width.
    let mut block = vec![(0, 1); channels];
    for g in 0..d.groups {
        let (mut o, end) = (g * d.cout_g, (g + 1) * d.cout_g);
        while o < end {
            let n = (end - o).min(per);
            block.get_mut(o..o + n)?.fill((o, n));
            o += n;
        }
    }
    // Quad `i`'s block, step and channel within the block.
    let place = |i: usize| {
        let (o, n) = block[i / steps];
        let at = i - o * steps;
        (o, at / n, at % n)
    };
    // Each even step's quads partnered with the next step's.
    let position = |i: usize| {
        let (o, s, j) = place(i);
        (o + j, s)
    };
    let partner = |i: usize| {
        let (o, s, _) = place(i);
        (s % 2 == 0 && s + 1 < steps).then_some(i + block[o].1)
    };
    BytePairs::plan_best_by(blocked, channels, (position, partner), QUADS_PER_REST)
}

/// Runs items `lo..hi` of an AVX2 stage: a pointwise, depthwise or
/// direct convolution.
///
/// # Safety
/// As `avx512::run`, with AVX2 and AVX-VNNI instead of AVX-512.
#[cfg(target_arch = "x86_64")]
pub(super) unsafe fn run(stage: &NativeStage, ptrs: *const *mut u8, lo: usize, hi: usize) {
    // SAFETY: the caller guarantees `ptrs` has an entry for every buffer.
    let (x, out) = unsafe {
        (
            (*ptrs.add(stage.x().buffer)).cast_const(),
            *ptrs.add(stage.out().buffer),
        )
    };
    // SAFETY: as above, the residual buffer has an entry too.
    let res = stage.residual().map_or(std::ptr::null(), |(r, _)| unsafe {
        (*ptrs.add(r.buffer)).cast_const()
    });
    let fast = super::tail_avx2::folds(stage.requant());
    let d = match stage.kind() {
        Kind::Direct(d) => d,
        // SAFETY (each): the caller's guarantees are the kernels'.
        &Kind::Pointwise {
            cin,
            groups,
            stride,
        } => {
            let args = (cin, groups, stride, (x, res), out, lo, hi);
            return unsafe { super::pointwise_avx2::pointwise(stage, args) };
        }
        Kind::Depthwise { borders, .. } => {
            use super::depthwise_avx2::depthwise;
            return unsafe {
                match (fast, borders.is_some()) {
                    (true, false) => depthwise::<true, false>(stage, x, out, lo, hi),
                    (false, false) => depthwise::<false, false>(stage, x, out, lo, hi),
                    (true, true) => depthwise::<true, true>(stage, x, out, lo, hi),
                    (false, true) => depthwise::<false, true>(stage, x, out, lo, hi),
                }
            };
        }
        Kind::Deconv { .. } => return,
        Kind::Wide16 { .. } => {
            return unsafe { super::pointwise16_avx2::pointwise16(stage, x, out, lo, hi) }
        }
    };
    // SAFETY: the caller's guarantees are the kernel's preconditions.
    unsafe { direct(stage, d, (x, res), out, lo, hi) }
}

/// Runs output rows `lo..hi` of a direct convolution; a transposed one
/// (several output column phases, or its columns shifted) block by block
/// through `staging`, copied to the interleaved columns by
/// `phase_scatter::scatter_avx2` (`plan_direct` gives this kernel those with two
/// input channels a group or more).
///
/// # Safety
/// As `conv_avx512::direct`, with AVX2 instead of AVX-512.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub(super) unsafe fn direct(
    st: &NativeStage,
    d: &Direct,
    (x, res): (*const u8, *const u8),
    out: *mut u8,
    lo: usize,
    hi: usize,
) {
    let tail = Tail::new(st.requant());
    // Signed inputs of a transposed convolution: a tail per phase list
    // (`Direct::phase_requants`).
    let mut phase_tails = Vec::with_capacity(d.phase_requants.len());
    for q in &d.phase_requants {
        phase_tails.push(Tail::new(q));
    }
    // Transposed (output columns interleaved or shifted): each block's
    // column phases land in `staging` (64 bytes a phase and channel), then
    // `phase_scatter::scatter_avx2` copies them to their output columns.
    let phases = d.out_phases;
    let staged = phases > 1 || d.out_shift > 0;
    let mut staging = vec![0u8; if staged { 16 * phases * 64 } else { 0 }];
    let mut win = Window::new(d);
    let map = if d.stride_w == 2 { quad_map(d) } else { None };
    let pv = d.q_width.div_ceil(8).min(2);
    let chunk = 8 * pv;
    let rows_max = d.row_lists.iter().map(Vec::len).max().unwrap_or(0);
    let mut rows = vec![std::ptr::null::<u8>(); rows_max];
    // `vpdpbusd` with AVX-VNNI, else `vpmaddwd` on the halves of the
    // quads (`block_wide`).
    let dot = super::dot256::form(st.isa());
    let vnni = dot != MADD;
    // Without VNNI: byte pairs where few weight quads need a rest (their
    // rests are indexed by step: one phase list only).
    let pairs = if vnni || staged || d.row_phases > 1 {
        None
    } else {
        let per = bytes_channels(pv);
        st.byte_pairs(|| plan_pairs(st, d, &blocked_weights(st, d, per), per))
    };
    let per = match pairs {
        Some(_) => bytes_channels(pv),
        None => max_channels(pv, vnni),
    };
    let own;
    let blocked = match pairs {
        Some(p) => &p.main[..],
        None => match st.blocked_avx2(per, || blocked_weights(st, d, per)) {
            Some(w) => w,
            None => {
                own = blocked_weights(st, d, per);
                &own[..]
            }
        },
    };
    let halves: Vec<(i32, i32)> = if vnni || pairs.is_some() {
        vec![]
    } else {
        blocked
            .iter()
            .map(|&w| super::pointwise_avx2::halves(w))
            .collect()
    };
    let spots = step_spots(d);
    let mut step_at = vec![std::ptr::null::<u8>(); d.steps.iter().map(Vec::len).max().unwrap_or(0)];
    // `staged`: each column phase's step addresses, filled once per row
    // and group (they do not depend on the channel block).
    let mut phase_at = vec![step_at.clone(); if staged { phases } else { 0 }];
    for oy in lo..hi {
        let ry = win.fill(d, oy, &mut rows, |iy, slot, win| {
            // SAFETY: row `iy` of every channel is inside the input's
            // halo-padded buffer (`plan_direct` checked the rows); `map`
            // is `quad_map(d)`.
            unsafe { repack_row(st, d, map.as_deref(), x, iy, slot, win) }
        });
        // The next output row's new input rows reach the cache while this
        // one runs (3x3 stride 2, 32 -> 64 on 128 x 128: 877 -> 866 us).
        if oy + 1 < hi {
            prefetch_rows(st, d, x, oy + 1, &win);
        }
        for g in 0..d.groups {
            if !staged {
                fill_steps(d, &rows, &spots[ry], g, &mut step_at);
            }
            for (rx, at) in phase_at.iter_mut().enumerate() {
                fill_steps(d, &rows, &spots[ry * phases + rx], g, at);
            }
            // Block columns: output pixels, or (`staged`) a column of each
            // phase's.
            let columns = if staged { d.q_width } else { st.width() };
            let mut x0 = 0;
            while x0 < columns {
                let count = (columns - x0).min(chunk);
                // A row's last 8 pixels or fewer take one pixel vector, not
                // two (56-pixel rows: a seventh of the work was lanes past
                // the row); the blocks of `per` channels fit both.
                let pv = if count <= 8 { 1 } else { pv };
                // Channel block `o..o + n` on `spot` with `tail`, its
                // weights `at` (phase list `p`: step `s`, channel `j` at
                // `s n + j`, `blocked_weights`).
                // SAFETY (each block): as in `conv_avx512::direct`; a
                // staged block stores `8 pv` bytes a channel into its
                // phase's 64 of `staging`.
                let run = |spot: &Spot, tail: &Tail, at: std::ops::Range<usize>, (o, n)| unsafe {
                    if vnni {
                        dispatch(dot, pv, n, st, tail, spot, &blocked[at], o, out);
                    } else if let Some(p) = pairs {
                        let ops = (&blocked[at], &p.rests[..]);
                        if p.summed {
                            dispatch_bytes::<true>(pv, n, st, tail, spot, ops, o, out);
                        } else {
                            dispatch_bytes::<false>(pv, n, st, tail, spot, ops, o, out);
                        }
                    } else {
                        dispatch_wide(pv, n, st, tail, spot, &halves[at], o, out);
                    }
                };
                let residual = st
                    .residual()
                    .map(|(r, signed)| (r, signed, st.requant().residual.map_or(0, |q| q.align)));
                let (mut o, end) = (g * d.cout_g, (g + 1) * d.cout_g);
                if !staged {
                    let steps = &step_at[..d.steps[ry].len()];
                    let to = st.out().origin + oy * st.out().stride + x0;
                    let to = (out.wrapping_add(to), st.out().plane);
                    let spot = Spot {
                        steps,
                        x0,
                        count,
                        oy,
                        res,
                        residual,
                        to,
                    };
                    while o < end {
                        let n = (end - o).min(per);
                        // Row phase list `ry` (one column phase; a
                        // transposed convolution may have several rows').
                        let at = o * d.steps_total + n * d.step_offsets[ry];
                        let tail = phase_tails.get(ry).unwrap_or(&tail);
                        run(&spot, tail, at..at + n * d.steps[ry].len(), (o, n));
                        o += n;
                    }
                    x0 += chunk;
                    continue;
                }
                while o < end {
                    let n = (end - o).min(per);
                    for rx in 0..phases {
                        let p = ry * phases + rx;
                        // Channel `o + j` at byte `64 (phases j + rx)`.
                        let first = staging[64 * rx..].as_mut_ptr();
                        let to = (first.wrapping_sub(o * 64 * phases), 64 * phases);
                        let steps = &phase_at[rx][..d.steps[p].len()];
                        let count = 8 * pv;
                        let spot = Spot {
                            steps,
                            x0,
                            count,
                            oy,
                            res,
                            residual,
                            to,
                        };
                        let at = o * d.steps_total + n * d.step_offsets[p];
                        let tail = phase_tails.get(p).unwrap_or(&tail);
                        run(&spot, tail, at..at + n * d.steps[p].len(), (o, n));
                    }
                    let span = (oy, x0, 8 * pv);
                    // SAFETY: this function's target features; the
                    // staging holds `n` channels' phases; row `oy` of
                    // channels `o..o + n` lies in the output.
                    unsafe {
                        super::phase_scatter::scatter_avx2(st, d, &staging, (o, n), span, out)
                    };
                    o += n;
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
    /// Where channel `c`'s `count` bytes go: `.0 + c .1` (the output's
    /// pixel (c, oy, x0), or in a transposed convolution's staging).
    to: (*mut u8, usize),
}

/// Calls `block::<PV, N>` for the runtime `pv` and `n`.
///
/// # Safety
/// See [`block`].
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2")]
unsafe fn dispatch(
    dot: Dot,
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
                $($n if dot == EVEX => unsafe { block_evex::<$p, $n>(st, tail, spot, w, o, out) },)*
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

/// Calls `block_wide::<PV, N>` for the runtime `pv` and `n`.
///
/// # Safety
/// See [`block_wide`].
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2")]
unsafe fn dispatch_wide(
    pv: usize,
    n: usize,
    st: &NativeStage,
    tail: &Tail,
    spot: &Spot,
    h: &[(i32, i32)],
    o: usize,
    out: *mut u8,
) {
    macro_rules! pick {
        ($p:literal; $($n:literal)*) => {
            match n {
                // SAFETY: the caller's guarantees.
                $($n => unsafe { block_wide::<$p, $n>(st, tail, spot, h, o, out) },)*
                _ => {}
            }
        };
    }
    match pv {
        1 => pick!(1; 1 2 3 4 5 6 7 8 9 10),
        _ => pick!(2; 1 2 3 4),
    }
}

/// A block's main quads and every channel's rests (step, rest).
#[cfg(target_arch = "x86_64")]
type PairOperands<'a> = (&'a [i32], &'a [Vec<(usize, i32)>]);

/// Calls `block_bytes::<PV, N, SUMMED>` for the runtime `pv` and `n`.
///
/// # Safety
/// See [`block_bytes`].
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2")]
unsafe fn dispatch_bytes<const SUMMED: bool>(
    pv: usize,
    n: usize,
    st: &NativeStage,
    tail: &Tail,
    spot: &Spot,
    ops: PairOperands,
    o: usize,
    out: *mut u8,
) {
    macro_rules! pick {
        ($p:literal; $($n:literal)*) => {
            match n {
                // SAFETY: the caller's guarantees.
                $($n => unsafe { block_bytes::<$p, $n, SUMMED>(st, tail, spot, ops, o, out) },)*
                _ => {}
            }
        };
    }
    match pv {
        1 => pick!(1; 1 2 3 4 5 6 7 8 9 10),
        _ => pick!(2; 1 2 3 4),
    }
}

/// [`block`] without AVX-VNNI, on weights split into byte pairs
/// (`native::byte_pairs`): one `vpmaddubsw` and one `vpmaddwd` by ones per
/// quad of `w` (the main quads), then the same for each rest of channel
/// `o + j` (`rests[o + j]`: step, rest). `SUMMED` (planned by
/// `BytePairs::plan_summed_by`, each even step partnered with the next):
/// the two steps' `vpmaddubsw` words added, then one `vpmaddwd`.
///
/// # Safety
/// As [`block`], without AVX-VNNI; `w` and `rests` planned by
/// [`plan_pairs`] for this block's layout.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn block_bytes<const PV: usize, const N: usize, const SUMMED: bool>(
    st: &NativeStage,
    tail: &Tail,
    spot: &Spot,
    (w, rests): PairOperands,
    o: usize,
    out: *mut u8,
) {
    let mut acc = [[_mm256_setzero_si256(); PV]; N];
    let steps = spot.steps.len().min(w.len() / N);
    let (at, wp) = (spot.steps.as_ptr(), w.as_ptr());
    let ones = _mm256_set1_epi16(1);
    // Step `s`'s pixel vectors.
    let load = |s: usize| -> [__m256i; PV] {
        // SAFETY: `s < steps` is inside the list; `x0 + 8 PV` dwords of
        // the step's quad row lie within the slot.
        let base = unsafe { (*at.add(s)).add(4 * spot.x0) };
        std::array::from_fn(|p| unsafe { _mm256_loadu_si256(base.add(32 * p).cast()) })
    };
    let mut s = 0;
    if SUMMED {
        while s + 1 < steps {
            let (a, b) = (load(s), load(s + 1));
            for (j, acc_j) in acc.iter_mut().enumerate() {
                // SAFETY: `(s + 1) N + j < w.len()`.
                let (wa, wb) = unsafe {
                    (
                        _mm256_set1_epi32(*wp.add(s * N + j)),
                        _mm256_set1_epi32(*wp.add((s + 1) * N + j)),
                    )
                };
                for p in 0..PV {
                    // SAFETY: AVX2.
                    acc_j[p] = unsafe { maddubs2(acc_j[p], (a[p], wa), (b[p], wb), ones) };
                }
            }
            s += 2;
        }
    }
    for s in s..steps {
        let a = load(s);
        for (j, acc_j) in acc.iter_mut().enumerate() {
            // SAFETY: `s N + j < w.len()`.
            let wv = _mm256_set1_epi32(unsafe { *wp.add(s * N + j) });
            for (acc_p, &a_p) in acc_j.iter_mut().zip(&a) {
                // SAFETY: AVX2.
                *acc_p = unsafe { maddubs(*acc_p, a_p, wv, ones) };
            }
        }
    }
    for (j, acc_j) in acc.iter_mut().enumerate() {
        for &(s, r) in rests.get(o + j).map_or(&[][..], Vec::as_slice) {
            if s >= steps {
                continue;
            }
            // SAFETY: as in the loop above.
            let base = unsafe { (*at.add(s)).add(4 * spot.x0) };
            let wv = _mm256_set1_epi32(r);
            for (p, acc_p) in acc_j.iter_mut().enumerate() {
                // SAFETY: as above; AVX2.
                *acc_p = unsafe {
                    maddubs(
                        *acc_p,
                        _mm256_loadu_si256(base.add(32 * p).cast()),
                        wv,
                        ones,
                    )
                };
            }
        }
    }
    // SAFETY: the caller's guarantees.
    unsafe { finish::<PV, N>(&acc, st, tail, spot, (o, out)) }
}

/// [`block`] without AVX-VNNI: each quad of activations split into its
/// even and odd bytes as words, multiplied by the weights' halves
/// (`pointwise_avx2::halves`) by two `vpmaddwd`, exact for any operands.
///
/// # Safety
/// As [`block`], without AVX-VNNI; `h` holds the halves of `block`'s `w`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn block_wide<const PV: usize, const N: usize>(
    st: &NativeStage,
    tail: &Tail,
    spot: &Spot,
    h: &[(i32, i32)],
    o: usize,
    out: *mut u8,
) {
    let mut acc = [[_mm256_setzero_si256(); PV]; N];
    let steps = spot.steps.len().min(h.len() / N);
    let (at, h) = (spot.steps.as_ptr(), h.as_ptr());
    let low = _mm256_set1_epi16(0xFF);
    for s in 0..steps {
        // SAFETY: `s < steps` is inside both lists; `x0 + 8 PV` dwords of
        // the step's quad row lie within the slot.
        let base = unsafe { (*at.add(s)).add(4 * spot.x0) };
        let mut even = [_mm256_setzero_si256(); PV];
        let mut odd = [_mm256_setzero_si256(); PV];
        for p in 0..PV {
            // SAFETY: as above.
            let a = unsafe { _mm256_loadu_si256(base.add(32 * p).cast()) };
            even[p] = _mm256_and_si256(a, low);
            odd[p] = _mm256_srli_epi16::<8>(a);
        }
        for (j, acc_j) in acc.iter_mut().enumerate() {
            // SAFETY: `s N + j < h.len()`.
            let (e, o) = unsafe { *h.add(s * N + j) };
            let (we, wo) = (_mm256_set1_epi32(e), _mm256_set1_epi32(o));
            for p in 0..PV {
                let sum = _mm256_add_epi32(
                    _mm256_madd_epi16(even[p], we),
                    _mm256_madd_epi16(odd[p], wo),
                );
                acc_j[p] = _mm256_add_epi32(acc_j[p], sum);
            }
        }
    }
    // SAFETY: the caller's guarantees.
    unsafe { finish::<PV, N>(&acc, st, tail, spot, (o, out)) }
}

/// Output channels `o..o + N`, `8 PV` pixels from `spot.x0` of row
/// `spot.oy`, with AVX-VNNI.
///
/// # Safety
/// As `conv_avx512::block`; the host has AVX-VNNI.
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
    // SAFETY: the caller's guarantees.
    unsafe { block_dot::<PV, N, VEX>(st, tail, spot, w, o, out) }
}

/// [`block`] with the EVEX `vpdpbusd` (`dot256::EVEX`).
///
/// # Safety
/// As `conv_avx512::block`; the host has AVX-512 VNNI and VL.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avx512vnni,avx512vl")]
unsafe fn block_evex<const PV: usize, const N: usize>(
    st: &NativeStage,
    tail: &Tail,
    spot: &Spot,
    w: &[i32],
    o: usize,
    out: *mut u8,
) {
    // SAFETY: the caller's guarantees.
    unsafe { block_dot::<PV, N, EVEX>(st, tail, spot, w, o, out) }
}

/// The body of [`block`] and [`block_evex`].
///
/// # Safety
/// As `conv_avx512::block`; only inlined into functions with the target
/// features of `DOT` (`dot256::dpbusd`).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn block_dot<const PV: usize, const N: usize, const DOT: Dot>(
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
                // SAFETY: the caller's target features.
                *acc_p = unsafe { dpbusd::<DOT>(*acc_p, a_p, wv) };
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
#[target_feature(enable = "avx2")]
unsafe fn finish<const PV: usize, const N: usize>(
    acc: &[[__m256i; PV]; N],
    st: &NativeStage,
    tail: &Tail,
    spot: &Spot,
    (o, out): (usize, *mut u8),
) {
    if st.out_bytes() > 1 {
        // SAFETY: the caller's guarantees.
        return unsafe { finish_wide::<PV, N>(acc, st, tail, spot, (o, out)) };
    }
    // The folded tail (two multiplies, packs) where the stage has it, its
    // form (mirrored or not) decided once for the block.
    let fast = tail.fast().filter(|_| spot.residual.is_none());
    // SAFETY (both): the caller's guarantees.
    unsafe {
        if fast.is_some_and(|f| f.has_neg()) {
            finish_bytes::<PV, N, true>(acc, (tail, fast), spot, o)
        } else {
            finish_bytes::<PV, N, false>(acc, (tail, fast), spot, o)
        }
    }
}

/// [`finish`] for 8-bit outputs; `NEG`: the folded tail `fast` is
/// mirrored (`Fast::has_neg`).
///
/// # Safety
/// As [`block`]; only inlined into functions compiled with AVX2.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn finish_bytes<const PV: usize, const N: usize, const NEG: bool>(
    acc: &[[__m256i; PV]; N],
    (tail, fast): (&Tail, Option<Fast>),
    spot: &Spot,
    o: usize,
) {
    for (j, acc_j) in acc.iter().enumerate() {
        let c = o + j;
        let mut bytes = [0u8; 16];
        if let Some(f) = fast {
            // SAFETY: AVX2; `acc_j` holds PV (1 or 2) vectors.
            let v = unsafe { f.bytes16_with::<NEG>(acc_j, f.channel_with::<NEG>(c)) };
            // SAFETY: 16 bytes into a 16-byte array.
            unsafe { _mm_storeu_si128(bytes.as_mut_ptr().cast(), v) };
        } else {
            // The general tail, 8 pixels at a time.
            let k = tail.channel(c);
            for (p, &a) in acc_j.iter().enumerate() {
                let v = match &spot.residual {
                    None => tail.apply(a, k),
                    // SAFETY: the caller's guarantees.
                    Some(r) => tail.apply_residual(a, k, Some(unsafe { residual8(spot, r, c, p) })),
                };
                // SAFETY: 8 bytes at 8p <= 8 of a 16-byte array.
                unsafe { _mm_storel_epi64(bytes.as_mut_ptr().add(8 * p).cast(), v) };
            }
        }
        // Pixels (c, oy, x0 .. x0 + count) of the output, or channel `j`'s
        // `count` bytes of its 64 in a staged phase.
        let dst = spot.to.0.wrapping_add(c * spot.to.1);
        // SAFETY: `dst` is one of those, inside the output or the staging.
        let dst = unsafe { std::slice::from_raw_parts_mut(dst, spot.count) };
        if spot.count == 8 * PV {
            // A constant length: one move, not a call.
            dst.copy_from_slice(&bytes[..8 * PV]);
        } else {
            // (Stores by pieces here, as `pointwise_avx2::store`, made the
            // first layer's finish 17% slower: 528 -> 615 us.)
            dst.copy_from_slice(&bytes[..spot.count]);
        }
    }
}

/// The residual map `r`'s 8 values from pixel (c, oy, x0 + 8 p) of
/// `spot`, widened to 32 bits and aligned to the tail (`r`'s shift).
///
/// # Safety
/// As [`block`]; only inlined into functions compiled with AVX2.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn residual8(
    spot: &Spot,
    &(r, signed, align): &(crate::jit::native::Rows, bool, u32),
    c: usize,
    p: usize,
) -> __m256i {
    let at = r.origin + c * r.plane + spot.oy * r.stride + spot.x0 + 8 * p;
    // SAFETY: pixel (c, oy, x0 + 8 p) of the residual map lies in its
    // buffer, whose spare bytes cover the 8 read.
    let bytes = unsafe { _mm_loadl_epi64(spot.res.add(at).cast()) };
    let wide = if signed {
        _mm256_cvtepi8_epi32(bytes)
    } else {
        _mm256_cvtepu8_epi32(bytes)
    };
    _mm256_sll_epi32(wide, _mm_cvtsi32_si128(align as i32))
}

/// [`finish`] for outputs of 16 or 32 bits (`NativeStage::out_bytes`),
/// with the residual map added where the stage has one: the 32-bit
/// results through a stack copy, each stored as its low `out_bytes`
/// bytes.
///
/// # Safety
/// As [`block`].
#[cfg(target_arch = "x86_64")]
#[inline(never)]
#[target_feature(enable = "avx2")]
unsafe fn finish_wide<const PV: usize, const N: usize>(
    acc: &[[__m256i; PV]; N],
    st: &NativeStage,
    tail: &Tail,
    spot: &Spot,
    (o, out): (usize, *mut u8),
) {
    let eb = st.out_bytes();
    for (j, acc_j) in acc.iter().enumerate() {
        let c = o + j;
        let k = tail.channel(c);
        let mut values = [0i32; 16];
        for (p, &a) in acc_j.iter().enumerate() {
            let v = match &spot.residual {
                None => tail.result(a, k),
                // SAFETY: the caller's guarantees.
                Some(r) => tail.result_residual(a, k, Some(unsafe { residual8(spot, r, c, p) })),
            };
            // SAFETY: 8 values at 8p <= 8 of a 16-value array.
            unsafe { _mm256_storeu_si256(values.as_mut_ptr().add(8 * p).cast(), v) };
        }
        let at = st.out().origin + c * st.out().plane + spot.oy * st.out().stride + spot.x0;
        for (i, &v) in values.iter().enumerate().take(spot.count) {
            // SAFETY: pixel (c, oy, x0 + i), `i < count`, is inside the
            // output row; its element is `eb` bytes (little-endian: the
            // low bytes of `v` first).
            unsafe {
                let dst = out.add(eb * (at + i));
                std::ptr::copy_nonoverlapping(v.to_le_bytes().as_ptr(), dst, eb);
            }
        }
    }
}
