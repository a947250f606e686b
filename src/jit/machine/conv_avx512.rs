//! The AVX-512 direct convolution (`native::conv` plans it and explains the
//! layout): repack the input rows a window needs into quad rows, then one
//! `vpdpbusd` per step, pixel vector and output channel, 16 pixels a vector,
//! up to 4 vectors and 6 channels (24 accumulators) a register block.
//!
//! Memory: input rows are read with masked loads that stop at the end of
//! the row's halo (`Direct::row_bytes`), so no load leaves the buffer; the
//! repacked rows live in a scratch owned by the call, sized for the largest
//! read (`Direct::cols`); stores are masked to the output row's width.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

#[cfg(target_arch = "x86_64")]
use super::avx512::lanes;
#[cfg(target_arch = "x86_64")]
use super::phase_scatter::Interleave;
use super::tail_avx512::Tail;
#[cfg(target_arch = "x86_64")]
use crate::jit::native::{avx512_channels, avx512_rows, avx512_vectors, Direct, NativeStage};

/// The window rows repacked for one call: `ring` slots of `quads * cols`
/// dwords, each tagged with the input row it holds.
#[cfg(target_arch = "x86_64")]
pub(super) struct Window {
    pub data: Vec<u8>,
    pub tags: Vec<i64>,
    /// Bytes of one slot.
    pub slot: usize,
    /// Phase rows of the current input row (strides above 1).
    pub phases: Vec<u8>,
    /// The most input rows an output row reads.
    pub rows_max: usize,
}

#[cfg(target_arch = "x86_64")]
impl Window {
    /// The window of one output row, with phase rows for column strides
    /// above 1 (the AVX2 kernel's repacking).
    pub(super) fn new(d: &Direct) -> Window {
        Window::with_rows(d, 1, d.stride_w > 1)
    }

    /// A window for `rows` consecutive output rows at once (one row phase):
    /// the span of their input rows; `phases`: with phase rows for the
    /// current input row (strides above 1 split by [`repack`]).
    pub(super) fn with_rows(d: &Direct, rows: usize, phases: bool) -> Window {
        let ring = d.ring() + (rows - 1) * d.row_step;
        let quads = d.groups * d.quads.len();
        let slot = quads * d.cols * 4;
        let cin = d.groups * d.cin_g;
        let phases = if phases {
            vec![0u8; cin * d.stride_w * d.phase_len]
        } else {
            vec![]
        };
        Window {
            // 64 spare bytes: the last pixel vector of a row may start at
            // the last dword of a slot.
            data: vec![0u8; ring * slot + 64],
            tags: vec![i64::MIN; ring],
            slot,
            phases,
            rows_max: d.row_lists.iter().map(Vec::len).max().unwrap_or(0),
        }
    }
}

/// Repacks the input rows output row `oy` reads that the window does not
/// hold yet, and points `rows` at the slot of each (in `row_lists`
/// order); returns the row phase of `oy`.
///
/// # Safety
/// As [`direct`]: `oy < st.height`, `map` is `quad_map(d)`, and `rows`
/// has `win.rows_max` entries.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
pub(super) unsafe fn window_rows(
    st: &NativeStage,
    d: &Direct,
    map: &Option<Vec<[Option<usize>; 4]>>,
    x: *const u8,
    oy: usize,
    win: &mut Window,
    rows: &mut [*const u8],
) -> usize {
    let ring = win.tags.len() as i64;
    let (ry, base) = d.row_phase(oy);
    let list = &d.row_lists[ry];
    for &r in list {
        let iy = base + r;
        let slot = iy.rem_euclid(ring) as usize;
        if win.tags[slot] != iy {
            // SAFETY: row `iy` of every channel is inside the input's
            // halo-padded buffer (`plan_direct` checked the rows).
            unsafe {
                match (map, d.stride_w) {
                    (Some(m), 1) => repack_pairs::<1>(st, d, m, x, iy, slot, win),
                    (Some(m), 2) => repack_pairs::<2>(st, d, m, x, iy, slot, win),
                    (Some(m), 3) => repack_quads::<3>(st, d, m, x, iy, slot, win),
                    (Some(m), 4) => repack_quads::<4>(st, d, m, x, iy, slot, win),
                    _ => repack(st, d, x, iy, slot, win),
                }
            };
            win.tags[slot] = iy;
        }
    }
    for (row, &r) in rows.iter_mut().zip(list) {
        let slot = (base + r).rem_euclid(ring) as usize;
        *row = win.data[slot * win.slot..].as_ptr();
    }
    ry
}

/// Runs output rows `lo..hi`, channels `c0..c1`, of a direct convolution.
///
/// Narrow outputs run `avx512_rows` output rows in one register block
/// (each row's pixel vectors read that row's window rows), so that a block
/// has four pixel vectors whatever the width and stride.
///
/// # Safety
/// As `avx512::run`: `x` and `out` are the stage's buffers with their
/// planned sizes, `lo <= hi <= st.height`, `c1 <= st.channels()` and `c0`
/// a multiple of `avx512_channels` (0 with several groups), the host has AVX-512 F, BW, VBMI
/// and VNNI, and `native::conv::plan_direct` accepted the stage (every
/// input row an output row reads inside the input's halo-padded buffer).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
pub(super) unsafe fn direct(
    st: &NativeStage,
    d: &Direct,
    (x, res): (*const u8, *const u8),
    out: *mut u8,
    (lo, hi): (usize, usize),
    (c0, c1): (usize, usize),
) {
    if let Some(l) = &d.lanes {
        // SAFETY: the caller's guarantees; `native::fits` checked `l`.
        return unsafe { super::conv_lanes::rows(st, d, l, (x, res), out, lo, hi) };
    }
    let tail = Tail::new(st.requant());
    // Signed inputs of a transposed convolution: a tail per phase list
    // (`Direct::phase_requants`).
    let mut phase_tails = Vec::with_capacity(d.phase_requants.len());
    for q in &d.phase_requants {
        phase_tails.push(Tail::new(q));
    }
    // Bytes per output element (`NativeStage::out_bytes`: 2 and 4 only
    // unstaged, without a residual map).
    let eb = st.out_bytes();
    let nr = avx512_rows(d);
    let quad_map = quad_map(d);
    // (The channel-quad repacking reads the input rows in place.)
    let mut win = Window::with_rows(d, nr, d.stride_w > 1 && quad_map.is_none());
    let pv = avx512_vectors(d);
    let chunk = 16 * pv;
    let mut rows = vec![vec![std::ptr::null::<u8>(); win.rows_max]; nr];
    let phases = d.out_phases;
    // Transposed (output columns shifted or interleaved): each block's
    // phases land here before the interleaved copy.
    let staged = phases > 1 || d.out_shift > 0;
    let mut staging = vec![0u8; if staged { 16 * phases * 64 } else { 0 }];
    let interleave = Interleave::new(if staged { phases } else { 0 });
    let per = avx512_channels(d);
    let own;
    let blocked = if d.blocked.is_empty() {
        own = blocked_weights(st, d, per);
        &own
    } else {
        &d.blocked
    };
    // Per block row and step of the current row phase list: its window
    // bytes at block column 0 (`Spot::steps`).
    let steps_max = d.steps.iter().map(Vec::len).max().unwrap_or(0);
    let mut step_at = vec![vec![std::ptr::null::<u8>(); steps_max]; nr];
    let mut oy = lo;
    while oy < hi {
        // Rows `oy..oy + r` (one row phase when `nr > 1`).
        let r = nr.min(hi - oy);
        let mut ry = 0;
        for (k, rows) in rows.iter_mut().enumerate().take(r) {
            // SAFETY: the caller's guarantees (`plan_direct` checked the
            // rows); the window spans the input rows of `nr` output rows.
            ry = unsafe { window_rows(st, d, &quad_map, x, oy + k, &mut win, rows) };
        }
        for g in 0..d.groups {
            if phases == 1 {
                for (rows, at) in rows.iter().zip(step_at.iter_mut()).take(r) {
                    fill_steps(d, rows, &d.steps[ry], g, at);
                }
            }
            let mut q0 = 0;
            while q0 < d.q_width {
                // Channels `c0..c1` of the group's (`c0` starts a block).
                let mut o = (g * d.cout_g).max(c0);
                let end = ((g + 1) * d.cout_g).min(c1);
                while o < end {
                    let n = (end - o).min(per);
                    for rx in 0..phases {
                        let p = ry * phases + rx;
                        if phases > 1 {
                            fill_steps(d, &rows[0], &d.steps[p], g, &mut step_at[0]);
                        }
                        // Channel block `o..o + n`, phase `p`: step `s`,
                        // channel `j` at `s * n + j` (`blocked_weights`).
                        let w = &blocked[o * d.steps_total + n * d.step_offsets[p]..]
                            [..n * d.steps[p].len()];
                        // (`out` counts elements of `eb` bytes: 1 when staged.)
                        let (dst, plane, mask) = if !staged {
                            let at =
                                st.out().origin + o * st.out().plane + oy * st.out().stride + q0;
                            let mask = lanes(st.width() - q0) & lanes(chunk);
                            (out.wrapping_add(eb * at), eb * st.out().plane, mask)
                        } else {
                            (staging[64 * rx..].as_mut_ptr(), 64 * phases, u64::MAX)
                        };
                        // The residual map's pixels of channel `o` (plain
                        // convolutions only: `plan_direct` checks).
                        let residual = st.residual().as_ref().map(|(m, signed)| ResidualAt {
                            at: res.wrapping_add(m.origin + o * m.plane + oy * m.stride + q0),
                            plane: m.plane,
                            stride: m.stride,
                            signed: *signed,
                            align: st.requant().residual.map_or(0, |q| q.align),
                        });
                        let len = d.steps[p].len();
                        let mut steps: [&[*const u8]; 4] = [&[]; 4];
                        for (steps, at) in steps.iter_mut().zip(&step_at).take(r) {
                            *steps = &at[..len];
                        }
                        let spot = Spot {
                            steps,
                            x0: q0,
                            dst,
                            plane,
                            stride: eb * st.out().stride,
                            mask,
                            residual,
                            bytes: eb,
                        };
                        let tail = phase_tails.get(p).unwrap_or(&tail);
                        // SAFETY: the reads stay within the window's slots
                        // (`Direct::cols` covers q0 + shift + chunk); the
                        // stores within output rows `oy..oy + r` of
                        // channels `o..o + n` (masked to the width), or
                        // `staging` (one row then).
                        unsafe { dispatch((pv, r, n), tail, &spot, w, o) };
                    }
                    if staged {
                        // SAFETY: this function's target features; the
                        // staging holds `n` channels' phases; row `oy` of
                        // channels `o..o + n` lies in the output.
                        unsafe {
                            interleave.scatter(st, d, &staging, (o, n), (oy, q0, chunk), out)
                        };
                    }
                    o += n;
                }
                q0 += chunk;
            }
        }
        oy += r;
    }
}

/// What a block reads (per block row and step, the window bytes of its
/// first pixel vector at block column 0, read from block column `x0`) and
/// where it stores (`dst` for its first channel and row, `plane` bytes per
/// channel, `stride` per row, `mask` one bit per pixel, `bytes` per
/// pixel: 1, or 2 and 4 without a residual map).
#[cfg(target_arch = "x86_64")]
struct Spot<'a> {
    steps: [&'a [*const u8]; 4],
    x0: usize,
    dst: *mut u8,
    plane: usize,
    stride: usize,
    mask: u64,
    residual: Option<ResidualAt>,
    bytes: usize,
}

/// The residual map's bytes of a block's first channel, at its first pixel.
#[cfg(target_arch = "x86_64")]
struct ResidualAt {
    at: *const u8,
    plane: usize,
    stride: usize,
    signed: bool,
    align: u32,
}

/// Calls `block::<PV, R, N>` for the runtime `pv` (vectors a row), `r`
/// (rows) and `n` (channels): every `(pv, 1, n)` up to 24 accumulators,
/// and the multi-row blocks of `avx512_rows` (6 channels at most, their
/// `avx512_channels`).
///
/// # Safety
/// See [`block`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
unsafe fn dispatch(
    (pv, r, n): (usize, usize, usize),
    tail: &Tail,
    spot: &Spot,
    w: &[i32],
    o: usize,
) {
    macro_rules! pick {
        ($p:literal, $r:literal; $($n:literal)*) => {
            match n {
                // SAFETY: the caller's guarantees.
                $($n => unsafe { block::<$p, $r, $n>(tail, spot, w, o) },)*
                _ => {}
            }
        };
    }
    match (pv, r) {
        (1, 1) => pick!(1, 1; 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16),
        (1, 2) => pick!(1, 2; 1 2 3 4 5 6),
        (1, 3) => pick!(1, 3; 1 2 3 4 5 6),
        (1, _) => pick!(1, 4; 1 2 3 4 5 6),
        (2, 1) => pick!(2, 1; 1 2 3 4 5 6 7 8 9 10 11 12),
        (2, _) => pick!(2, 2; 1 2 3 4 5 6),
        (3, _) => pick!(3, 1; 1 2 3 4 5 6 7 8),
        _ => pick!(4, 1; 1 2 3 4 5 6),
    }
}

/// Output channels `o..o + N`, `16 PV` block columns from `spot.x0` in
/// each of `R` rows: one `vpdpbusd` per step, vector and channel, then the
/// tail and a masked store per channel and row.
///
/// # Safety
/// `spot.steps[k]` for `k < R` hold as many steps as `w` (`N` weights a
/// step); each step's bytes from block column `spot.x0` hold `64 PV`
/// readable bytes (the window rows hold `Direct::cols` dwords per quad plus
/// 64 spare bytes); `spot.dst + j * spot.plane + k * spot.stride` may take
/// the masked 64-byte store of channel `j < N`, row `k < R`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
unsafe fn block<const PV: usize, const R: usize, const N: usize>(
    tail: &Tail,
    spot: &Spot,
    w: &[i32],
    o: usize,
) {
    let mut acc = [[[_mm512_setzero_si512(); PV]; R]; N];
    let steps = (0..R).fold(w.len() / N, |m, k| m.min(spot.steps[k].len()));
    let at: [*const *const u8; R] = std::array::from_fn(|k| spot.steps[k].as_ptr());
    let w = w.as_ptr();
    for s in 0..steps {
        // SAFETY: `s < steps` is inside every list; `x0 + 16 PV` dwords of
        // the step's quad row lie within the slot plus its spare bytes.
        let a: [[__m512i; PV]; R] = std::array::from_fn(|k| {
            let base = unsafe { (*at[k].add(s)).add(4 * spot.x0) };
            std::array::from_fn(|p| unsafe { _mm512_loadu_si512(base.add(64 * p).cast()) })
        });
        for (j, acc_j) in acc.iter_mut().enumerate() {
            // SAFETY: `s N + j < w.len()`.
            let wv = _mm512_set1_epi32(unsafe { *w.add(s * N + j) });
            for (acc_k, a_k) in acc_j.iter_mut().zip(&a) {
                for (acc_p, &a_p) in acc_k.iter_mut().zip(a_k) {
                    *acc_p = _mm512_dpbusd_epi32(*acc_p, a_p, wv);
                }
            }
        }
    }
    // The tail reads the sums from memory. A copy made only here keeps
    // `acc` itself from escaping: borrowed directly, it lived in memory
    // zeroed by a `memset` call per block (7% of a 3-channel first layer).
    let sums = acc;
    // SAFETY (both): the caller's guarantees.
    if spot.residual.is_some() {
        unsafe { finish_residual::<PV, R, N>(&sums, tail, spot, o) }
    } else if spot.bytes > 1 {
        unsafe { finish_wide::<PV, R, N>(&sums, tail, spot, o) }
    } else {
        unsafe { finish::<PV, R, N>(&sums, tail, spot, o) }
    }
}

/// The tail and the stores of a block's accumulators. Out of line: inlined,
/// the tail's hoisted constants make the dot-product loop spill its
/// accumulators (1.7x slower on a 3x3 convolution).
///
/// # Safety
/// As [`block`].
#[cfg(target_arch = "x86_64")]
#[inline(never)]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
unsafe fn finish<const PV: usize, const R: usize, const N: usize>(
    acc: &[[[__m512i; PV]; R]; N],
    tail: &Tail,
    spot: &Spot,
    o: usize,
) {
    if let Some(f) = tail.fast() {
        for (j, acc_j) in acc.iter().enumerate() {
            let k = f.channel(o + j);
            for (row, acc_k) in acc_j.iter().enumerate() {
                // Pixel vectors past `PV` are zero: the mask drops their bytes.
                let mut four = [_mm512_setzero_si512(); 4];
                four[..PV].copy_from_slice(acc_k);
                // SAFETY: this function's target features.
                let v = unsafe { f.ordered4(&four, k) };
                let at = spot.dst.wrapping_add(j * spot.plane + row * spot.stride);
                // SAFETY: the caller's guarantee on `dst`, `plane`, `stride`
                // and `mask`.
                unsafe { _mm512_mask_storeu_epi8(at.cast(), spot.mask, v) };
            }
        }
        return;
    }
    for (j, acc_j) in acc.iter().enumerate() {
        let k = tail.channel(o + j);
        for (row, acc_k) in acc_j.iter().enumerate() {
            let mut q = [_mm_setzero_si128(); 4];
            for (q, &a) in q.iter_mut().zip(acc_k) {
                *q = tail.apply(a, k);
            }
            // SAFETY: the caller's guarantee on `dst`, `plane` and `mask`.
            unsafe { store(q, spot, j, row) };
        }
    }
}

/// [`finish`] for outputs of 16 or 32 bits (`spot.bytes`): each vector's
/// 32-bit results stored as their low 16 bits (`vpmovdw`) or whole, masked
/// to the pixels of `spot.mask`.
///
/// # Safety
/// As [`block`], `spot.dst + j * spot.plane + row * spot.stride` taking
/// `spot.bytes` bytes per pixel of the mask.
#[cfg(target_arch = "x86_64")]
#[inline(never)]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
unsafe fn finish_wide<const PV: usize, const R: usize, const N: usize>(
    acc: &[[[__m512i; PV]; R]; N],
    tail: &Tail,
    spot: &Spot,
    o: usize,
) {
    let eb = spot.bytes;
    for (j, acc_j) in acc.iter().enumerate() {
        let k = tail.channel(o + j);
        for (row, acc_k) in acc_j.iter().enumerate() {
            for (p, &a) in acc_k.iter().enumerate() {
                let v = tail.result(a, k);
                let m = (spot.mask >> (16 * p)) as u16;
                let at = spot
                    .dst
                    .wrapping_add(j * spot.plane + row * spot.stride + 16 * p * eb);
                // SAFETY: the caller's guarantee on `dst`, `plane`,
                // `stride` and `mask` (pixels `16 p ..` of the block row).
                if eb == 2 {
                    unsafe { _mm512_mask_cvtepi32_storeu_epi16(at.cast(), m, v) };
                } else {
                    unsafe { _mm512_mask_storeu_epi32(at.cast(), m, v) };
                }
            }
        }
    }
}

/// [`finish`] with the residual map added (`spot.residual`).
///
/// # Safety
/// As [`block`].
#[cfg(target_arch = "x86_64")]
#[inline(never)]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
unsafe fn finish_residual<const PV: usize, const R: usize, const N: usize>(
    acc: &[[[__m512i; PV]; R]; N],
    tail: &Tail,
    spot: &Spot,
    o: usize,
) {
    let Some(r) = &spot.residual else {
        return;
    };
    let align = _mm_cvtsi32_si128(r.align as i32);
    for (j, acc_j) in acc.iter().enumerate() {
        let k = tail.channel(o + j);
        for (row, acc_k) in acc_j.iter().enumerate() {
            let mut q = [_mm_setzero_si128(); 4];
            for (p, (q, &a)) in q.iter_mut().zip(acc_k).enumerate() {
                // SAFETY: pixel (o + j, oy + row, x0 + 16 p) of the
                // residual map lies in its buffer, whose spare bytes cover
                // the 16 read from it.
                let at = r.at.wrapping_add(j * r.plane + row * r.stride + 16 * p);
                let bytes = unsafe { _mm_loadu_si128(at.cast()) };
                let wide = if r.signed {
                    _mm512_cvtepi8_epi32(bytes)
                } else {
                    _mm512_cvtepu8_epi32(bytes)
                };
                *q = tail.apply_residual(a, k, _mm512_sll_epi32(wide, align));
            }
            // SAFETY: the caller's guarantee on `dst`, `plane` and `mask`.
            unsafe { store(q, spot, j, row) };
        }
    }
}

/// The weights of `st` reordered for a kernel's channel blocks of `per`
/// channels (`native::conv::blocked_weights`): per call for `conv_avx2`;
/// the AVX-512 kernel reads `Direct::blocked`, made once by the plan.
#[cfg(target_arch = "x86_64")]
pub(super) fn blocked_weights(st: &NativeStage, d: &Direct, per: usize) -> Vec<i32> {
    crate::jit::native::blocked_weights(d, st.weights(), per)
}

/// The window bytes of each of `steps` (of group `g`) at block column 0:
/// quad `quad` of the group in the slot of the step's input row, shifted by
/// `shift` dwords.
#[cfg(target_arch = "x86_64")]
pub(super) fn fill_steps(
    d: &Direct,
    rows: &[*const u8],
    steps: &[crate::jit::native::Step],
    g: usize,
    out: &mut [*const u8],
) {
    let quad0 = g * d.quads.len();
    for (at, step) in out.iter_mut().zip(steps) {
        let off = ((quad0 + step.quad) * d.cols + step.shift) * 4;
        *at = rows[step.row].wrapping_add(off);
    }
}

/// The steps `s0..s1` of `list` (the step list of output row `oy`'s row
/// phase) from the first to the last that reads an input row of the image
/// (`Direct::in_rows`): the steps before and after read only padding rows,
/// zero bytes whose products add nothing, and are skipped. All steps when
/// the input is flipped (its padding reads as 128, which `pre` takes off
/// for every step) or the plan has no `in_rows`.
#[cfg(target_arch = "x86_64")]
pub(super) fn live_steps(
    d: &Direct,
    list: &[crate::jit::native::Step],
    oy: usize,
) -> (usize, usize) {
    let Some(h) = d.in_rows.filter(|_| !d.flip) else {
        return (0, list.len());
    };
    let (ry, base) = d.row_phase(oy);
    let rows = &d.row_lists[ry];
    let live = |s: &crate::jit::native::Step| (0..h as i64).contains(&(base + rows[s.row]));
    // (Scans only the skipped steps and one more at each end.)
    let s0 = list.iter().position(live).unwrap_or(list.len());
    let s1 = list[s0..].iter().rposition(live).map_or(s0, |i| s0 + i + 1);
    (s0, s1)
}

/// Joins the four quarters of channel `j`, row `row` and stores them
/// (masked).
///
/// # Safety
/// `spot.dst + j * spot.plane + row * spot.stride` may take the masked
/// 64-byte store.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
unsafe fn store(q: [__m128i; 4], spot: &Spot, j: usize, row: usize) {
    let v = _mm512_castsi128_si512(q[0]);
    let v = _mm512_inserti32x4::<1>(v, q[1]);
    let v = _mm512_inserti32x4::<2>(v, q[2]);
    let v = _mm512_inserti32x4::<3>(v, q[3]);
    // SAFETY (both): the caller's guarantee.
    let at = unsafe { spot.dst.add(j * spot.plane + row * spot.stride) };
    unsafe { _mm512_mask_storeu_epi8(at.cast(), spot.mask, v) };
}

/// Repacks input row `iy` (of every channel) into window slot `slot`.
///
/// # Safety
/// Row `iy` of every input channel lies in the input's buffer, from padded
/// column 0 for `d.row_bytes` bytes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
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
    let row = |c: usize| input_row(st, d, x, iy, c);
    // The phase rows: (pointer, readable range) per channel and phase.
    let mut phase_rows = vec![(std::ptr::null::<u8>(), 0usize, 0usize); cin * sw];
    if sw == 1 {
        for (c, pr) in phase_rows.iter_mut().enumerate() {
            *pr = (row(c), lo, hi);
        }
    } else {
        for c in 0..cin {
            let at = c * sw * d.phase_len;
            // SAFETY: as above, `row(c)` has `lo..hi` readable (`lo` is 0
            // for strided convolutions); the phase rows are `sw` runs of
            // `phase_len` bytes of `win.phases`.
            unsafe {
                split_phases(
                    row(c),
                    hi,
                    sw,
                    d.phase_len,
                    &mut win.phases[at..at + sw * d.phase_len],
                )
            };
            for p in 0..sw {
                let at = (c * sw + p) * d.phase_len;
                phase_rows[c * sw + p] = (win.phases[at..].as_ptr(), 0, d.phase_len);
            }
        }
    }
    prefetch_next(st, d, x, iy);
    // Signed inputs as `x + 128` (see `Direct::flip`).
    let flip = _mm512_set1_epi8(if d.flip { -128 } else { 0 });
    let base = slot * win.slot;
    for g in 0..d.groups {
        for (q, quad) in d.quads.iter().enumerate() {
            let src: [(*const u8, usize, usize); 4] = std::array::from_fn(|j| match quad[j] {
                Some(s) => {
                    let (p, lo, hi) = phase_rows[(g * d.cin_g + s.channel) * sw + s.phase];
                    // Readable bytes relative to the shifted pointer.
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
                    _mm512_xor_si512(load_range(p, lo, hi, u0), flip)
                };
                let v = interleave(load(src[0]), load(src[1]), load(src[2]), load(src[3]));
                for (k, v) in v.iter().enumerate().take((d.cols - u0).div_ceil(16)) {
                    let at = dst + 4 * u0 + 64 * k;
                    // SAFETY: `at + 64 <= base + win.slot` (u0 + 16 k < cols,
                    // a multiple of 16).
                    unsafe { _mm512_storeu_si512(win.data.as_mut_ptr().add(at).cast(), *v) };
                }
                u0 += 64;
            }
        }
    }
}

/// Byte `col0` of row `iy` of input channel `c` (the pointer itself may lie
/// before the buffer; bytes `Direct::readable` from it are readable).
#[cfg(target_arch = "x86_64")]
pub(super) fn input_row(
    st: &NativeStage,
    d: &Direct,
    x: *const u8,
    iy: i64,
    c: usize,
) -> *const u8 {
    let at = (st.x().origin + c * st.x().plane) as i64 + iy * st.x().stride as i64 + d.col0;
    x.wrapping_offset(at as isize)
}

/// Prefetches the input row a later output row repacks next (`row_step`
/// rows after `iy`): its lines reach the cache while this one's are
/// repacked and used.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
fn prefetch_next(st: &NativeStage, d: &Direct, x: *const u8, iy: i64) {
    let (lo, hi) = d.readable;
    for c in 0..d.groups * d.cin_g {
        let next = input_row(st, d, x, iy, c).wrapping_add(d.row_step * st.x().stride);
        for at in (lo..hi).step_by(64) {
            _mm_prefetch::<_MM_HINT_T0>(next.wrapping_add(at).cast());
        }
    }
}

/// Per channel quad `g4` of a group and column phase `p`, the index of the
/// quad holding channels `4 g4 .. 4 g4 + 3` at phase `p`, when every quad
/// is such a channel quad (groups of at least four channels, or 1-wide
/// kernels) and the rows are readable from their first byte (plain
/// convolutions): [`repack_quads`] then interleaves each channel quad once
/// for all its phases.
#[cfg(target_arch = "x86_64")]
pub(super) fn quad_map(d: &Direct) -> Option<Vec<[Option<usize>; 4]>> {
    if d.readable.0 != 0 || !(1..=4).contains(&d.stride_w) {
        return None;
    }
    let mut map = vec![[None; 4]; d.cin_g.div_ceil(4)];
    for (q, quad) in d.quads.iter().enumerate() {
        let first = quad[0]?;
        let (g4, p) = (first.channel / 4, first.phase);
        let expected = std::array::from_fn(|j| {
            let channel = 4 * g4 + j;
            (channel < d.cin_g).then_some(crate::jit::native::Source {
                channel,
                phase: p,
                offset: 0,
            })
        });
        if *quad != expected || first.channel % 4 != 0 || p >= d.stride_w {
            return None;
        }
        let spot = &mut map[g4][p];
        if spot.is_some() {
            return None;
        }
        *spot = Some(q);
    }
    Some(map)
}

/// [`repack`] for quads of four channels at column stride `S` (see
/// [`quad_map`]): per channel quad, 64 S input columns are interleaved
/// into dwords once, then each phase's dwords `S u + p` are picked out by
/// `vpermt2d` and stored in the phase's quad row.
///
/// # Safety
/// As [`repack`]; `map` is `quad_map(d)` and `S` is `d.stride_w`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
unsafe fn repack_quads<const S: usize>(
    st: &NativeStage,
    d: &Direct,
    map: &[[Option<usize>; 4]],
    x: *const u8,
    iy: i64,
    slot: usize,
    win: &mut Window,
) {
    let hi = d.readable.1;
    prefetch_next(st, d, x, iy);
    let flip = _mm512_set1_epi8(if d.flip { -128 } else { 0 });
    // Per phase: dword indices `(S i + p) mod 32` into a pair of vectors,
    // and the lanes taken from the second pair (`S i + p >= 32`).
    let index = |p: usize| {
        let idx: [i32; 16] = std::array::from_fn(|i| ((S * i + p) & 31) as i32);
        let high = (0..16).fold(0u16, |m, i| m | (u16::from(S * i + p >= 32) << i));
        // SAFETY: `idx` is 64 bytes.
        (unsafe { _mm512_loadu_si512(idx.as_ptr().cast()) }, high)
    };
    let mut picks = [(_mm512_setzero_si512(), 0u16); 4];
    for (p, pick) in picks.iter_mut().enumerate() {
        *pick = index(p);
    }
    let base = slot * win.slot;
    let data = win.data.as_mut_ptr();
    for g in 0..d.groups {
        for (g4, phases) in map.iter().enumerate() {
            let rows = channel_rows(st, d, x, iy, g, g4);
            let mut u0 = 0;
            while u0 < d.cols {
                let vectors = (d.cols - u0).div_ceil(16).min(4);
                // Dwords of input columns `S u0 ..`, 16 a vector (zero past
                // the readable bytes and for absent channels); the last
                // block loads only what its `vectors` read.
                let needed = S * (vectors - 1) + if S > 2 { 4 } else { S };
                let mut v = [_mm512_setzero_si512(); 16];
                for m in (0..S).take_while(|m| 4 * m < needed) {
                    // SAFETY: `hi` readable bytes from each row (`lo` is 0).
                    let load = |r: Option<*const u8>| match r {
                        Some(p) => {
                            _mm512_xor_si512(unsafe { load_upto(p, hi, S * u0 + 64 * m) }, flip)
                        }
                        None => _mm512_setzero_si512(),
                    };
                    let q = interleave(load(rows[0]), load(rows[1]), load(rows[2]), load(rows[3]));
                    v[4 * m..4 * m + 4].copy_from_slice(&q);
                }
                for (p, quad) in phases.iter().enumerate().take(S) {
                    let Some(q) = *quad else { continue };
                    let (idx, high) = picks[p];
                    let dst = base + ((g * d.quads.len() + q) * d.cols + u0) * 4;
                    for k in 0..vectors {
                        let out = if S == 1 {
                            v[k]
                        } else {
                            let a = _mm512_permutex2var_epi32(v[S * k], idx, v[S * k + 1]);
                            if S > 2 {
                                let b = _mm512_permutex2var_epi32(v[S * k + 2], idx, v[S * k + 3]);
                                _mm512_mask_blend_epi32(high, a, b)
                            } else {
                                a
                            }
                        };
                        // SAFETY: `dst + 64 k + 64 <= base + win.slot`
                        // (u0 + 16 k < cols, a multiple of 16).
                        unsafe { _mm512_storeu_si512(data.add(dst + 64 * k).cast(), out) };
                    }
                }
                u0 += 64;
            }
        }
    }
}

/// The rows of channels `4 g4 .. 4 g4 + 3` of group `g` at input row `iy`
/// (`None` past the group's channels).
#[cfg(target_arch = "x86_64")]
pub(super) fn channel_rows(
    st: &NativeStage,
    d: &Direct,
    x: *const u8,
    iy: i64,
    g: usize,
    g4: usize,
) -> [Option<*const u8>; 4] {
    let mut rows = [None; 4];
    for (j, r) in rows.iter_mut().enumerate() {
        let c = 4 * g4 + j;
        if c < d.cin_g {
            *r = Some(input_row(st, d, x, iy, g * d.cin_g + c));
        }
    }
    rows
}

/// [`repack_quads`] for strides `S` of 1 and 2, in half the shuffles: one
/// `vpermb` of two channels' 64 loaded bytes picks the byte pairs of 32
/// pixels of a phase (pixel `i` is column `S i + p`, or `i + 32 h` at
/// stride 1), ordered so that `vpunpck{l,h}wd` of the two pairs' vectors
/// are the quads of pixels `0..16` and `16..32` in order.
///
/// # Safety
/// As [`repack_quads`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
unsafe fn repack_pairs<const S: usize>(
    st: &NativeStage,
    d: &Direct,
    map: &[[Option<usize>; 4]],
    x: *const u8,
    iy: i64,
    slot: usize,
    win: &mut Window,
) {
    let hi = d.readable.1;
    prefetch_next(st, d, x, iy);
    let flip = _mm512_set1_epi8(if d.flip { -128 } else { 0 });
    // Per phase `p` and half `h` (pixels `32 h ..`): byte `t` of 128-bit
    // lane `l` is channel `t % 2` (second source from byte 64 on) of pixel
    // `4 l + w` (word `w < 4`) or `16 + 4 l + w - 4`.
    let mut picks = [[_mm512_setzero_si512(); 2]; 2];
    for (p, halves) in picks.iter_mut().enumerate().take(S) {
        for (h, pick) in halves.iter_mut().enumerate() {
            let mut idx = [0u8; 64];
            for (t, b) in idx.iter_mut().enumerate() {
                let (l, w, j) = (t / 16, t % 16 / 2, t % 2);
                let i = if w < 4 { 4 * l + w } else { 12 + 4 * l + w };
                let col = if S == 1 { 32 * h + i } else { S * i + p };
                *b = (col + 64 * j) as u8;
            }
            // SAFETY: `idx` is 64 bytes.
            *pick = unsafe { _mm512_loadu_si512(idx.as_ptr().cast()) };
        }
    }
    let base = slot * win.slot;
    let data = win.data.as_mut_ptr();
    for g in 0..d.groups {
        for (g4, phases) in map.iter().enumerate() {
            let rows = channel_rows(st, d, x, iy, g, g4);
            let mut u0 = 0;
            while u0 < d.cols {
                let vectors = (d.cols - u0).div_ceil(16).min(4);
                let halves = vectors.div_ceil(2);
                // Per channel, the 64 bytes of half `h` (stride 2) or of
                // both halves (stride 1); zero for absent channels.
                let mut ld = [[_mm512_setzero_si512(); 2]; 4];
                for (r, ld) in rows.iter().zip(ld.iter_mut()) {
                    if let Some(r) = *r {
                        let n = if S == 1 { 1 } else { halves };
                        for (h, ld) in ld.iter_mut().enumerate().take(n) {
                            // SAFETY: `hi` readable bytes from the row.
                            let v = unsafe { load_upto(r, hi, S * u0 + 64 * h) };
                            *ld = _mm512_xor_si512(v, flip);
                        }
                    }
                }
                for (p, quad) in phases.iter().enumerate().take(S) {
                    let Some(q) = *quad else { continue };
                    let dst = base + ((g * d.quads.len() + q) * d.cols + u0) * 4;
                    for (h, &pick) in picks[p].iter().enumerate().take(halves) {
                        let src = if S == 1 { 0 } else { h };
                        let ab = _mm512_permutex2var_epi8(ld[0][src], pick, ld[1][src]);
                        let cd = _mm512_permutex2var_epi8(ld[2][src], pick, ld[3][src]);
                        let at = data.wrapping_add(dst + 128 * h);
                        // SAFETY: `dst + 64 k + 64 <= base + win.slot` for
                        // `k = 2 h (+ 1) < vectors` (u0 + 16 k < cols, a
                        // multiple of 16).
                        unsafe { _mm512_storeu_si512(at.cast(), _mm512_unpacklo_epi16(ab, cd)) };
                        if 2 * h + 1 < vectors {
                            let v = _mm512_unpackhi_epi16(ab, cd);
                            // SAFETY: as above.
                            unsafe { _mm512_storeu_si512(at.add(64).cast(), v) };
                        }
                    }
                }
                u0 += 64;
            }
        }
    }
}

/// The 64 bytes at `p + at`, of which only those in `p + lo .. p + hi` are
/// read (zero elsewhere).
///
/// # Safety
/// Bytes `lo..hi` from `p` are readable.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
unsafe fn load_range(p: *const u8, lo: usize, hi: usize, at: usize) -> __m512i {
    if lo <= at {
        // SAFETY: as `load_upto`, from `p` with `hi` readable bytes.
        return unsafe { load_upto(p, hi, at) };
    }
    if at + 64 <= lo || hi <= at {
        return _mm512_setzero_si512();
    }
    let mask = lanes(hi - at) & !lanes(lo - at);
    // SAFETY: the mask keeps the load within `lo..hi`.
    unsafe { _mm512_maskz_loadu_epi8(mask, p.wrapping_add(at).cast()) }
}

/// The 64 bytes at `p + at`, of which only those before `p + len` are
/// read (zero after): a plain load inside the row, a masked one at its end.
///
/// # Safety
/// `p` holds `len` readable bytes (`p + at` may lie past them).
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
unsafe fn load_upto(p: *const u8, len: usize, at: usize) -> __m512i {
    if at + 64 <= len {
        // SAFETY: 64 readable bytes from `p + at`.
        unsafe { _mm512_loadu_si512(p.add(at).cast()) }
    } else if at < len {
        // SAFETY: the mask keeps the load within the readable bytes.
        unsafe { _mm512_maskz_loadu_epi8(lanes(len - at), p.add(at).cast()) }
    } else {
        _mm512_setzero_si512()
    }
}

/// Four rows of 64 bytes as 64 dwords `[a_i b_i c_i d_i]`, in pixel order.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
fn interleave(a: __m512i, b: __m512i, c: __m512i, d: __m512i) -> [__m512i; 4] {
    let t0 = _mm512_unpacklo_epi8(a, b);
    let t1 = _mm512_unpackhi_epi8(a, b);
    let t2 = _mm512_unpacklo_epi8(c, d);
    let t3 = _mm512_unpackhi_epi8(c, d);
    // Lane q of r_k: pixels 16q + 4k .. 16q + 4k + 3.
    let r0 = _mm512_unpacklo_epi16(t0, t2);
    let r1 = _mm512_unpackhi_epi16(t0, t2);
    let r2 = _mm512_unpacklo_epi16(t1, t3);
    let r3 = _mm512_unpackhi_epi16(t1, t3);
    // A 4 x 4 transpose of 128-bit lanes.
    let u0 = _mm512_shuffle_i32x4::<0x44>(r0, r1);
    let u1 = _mm512_shuffle_i32x4::<0x44>(r2, r3);
    let u2 = _mm512_shuffle_i32x4::<0xEE>(r0, r1);
    let u3 = _mm512_shuffle_i32x4::<0xEE>(r2, r3);
    [
        _mm512_shuffle_i32x4::<0x88>(u0, u1),
        _mm512_shuffle_i32x4::<0xDD>(u0, u1),
        _mm512_shuffle_i32x4::<0x88>(u2, u3),
        _mm512_shuffle_i32x4::<0xDD>(u2, u3),
    ]
}

/// `dst[p * len + i] = src[i * s + p]` for every phase `p < s` (`s` in
/// 2..=4, `len` a multiple of 64) of the `have` readable bytes of `src`
/// (zero past them): each 64-byte block of the source is loaded once for
/// all its phases.
///
/// # Safety
/// `src` holds `have` readable bytes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
unsafe fn split_phases(src: *const u8, have: usize, s: usize, len: usize, dst: &mut [u8]) {
    // Per phase: indices into (v0, v1) and into (v2, v3), and which bytes
    // come from the second pair (source bytes 128 and on).
    let index = |p: usize| {
        let idx: [u8; 64] = std::array::from_fn(|i| ((s * i + p) & 127) as u8);
        let high: u64 = (0..64).fold(0, |m, i| m | (u64::from(s * i + p >= 128) << i));
        // SAFETY: `idx` is 64 bytes.
        (unsafe { _mm512_loadu_si512(idx.as_ptr().cast()) }, high)
    };
    let phases: [(__m512i, u64); 4] = std::array::from_fn(|p| index(p.min(s - 1)));
    // SAFETY: `have` readable bytes from `src`.
    let load = |at: usize| unsafe { load_upto(src, have, at) };
    let mut i0 = 0;
    while i0 + 64 <= len {
        let at = i0 * s;
        let (v0, v1) = (load(at), load(at + 64));
        let (v2, v3) = if s > 2 {
            (load(at + 128), load(at + 192))
        } else {
            (_mm512_setzero_si512(), _mm512_setzero_si512())
        };
        for (p, &(idx, high)) in phases.iter().enumerate().take(s) {
            let v = _mm512_permutex2var_epi8(v0, idx, v1);
            let v = if s > 2 {
                let w = _mm512_permutex2var_epi8(v2, idx, v3);
                _mm512_mask_blend_epi8(high, v, w)
            } else {
                v
            };
            // SAFETY: `p * len + i0 + 64 <= s * len = dst.len()`.
            unsafe { _mm512_storeu_si512(dst.as_mut_ptr().add(p * len + i0).cast(), v) };
        }
        i0 += 64;
    }
}
