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
#[cfg(target_arch = "x86_64")]
use super::repack_avx512::{window_rows, QuadInput, Window};
use super::tail_avx512::Tail;
#[cfg(target_arch = "x86_64")]
use crate::jit::native::{avx512_channels, avx512_rows, avx512_vectors, Direct, NativeStage};

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
    if let Some(a) = &d.amx {
        // SAFETY: the caller's guarantees; the plan exists only where
        // `conv_amx::available()` held and `AmxPlan::new` accepted `d`.
        return unsafe { super::conv_amx::rows(st, d, a, (x, res), out, (lo, hi), (c0, c1)) };
    }
    if let Some(l) = &d.lanes {
        // SAFETY: the caller's guarantees; `native::fits` checked `l`.
        return unsafe { super::conv_lanes::rows(st, d, l, (x, res), out, (lo, hi), (c0, c1)) };
    }
    let tail = Tail::new(st.requant());
    // Signed inputs of a transposed convolution: a tail per phase list
    // (`Direct::phase_requants`).
    let mut phase_tails = Vec::with_capacity(d.phase_requants.len());
    for q in &d.phase_requants {
        phase_tails.push(Tail::new(q));
    }
    // Bytes per output element (`NativeStage::out_bytes`: 2 and 4 only
    // unstaged).
    let eb = st.out_bytes();
    let nr = avx512_rows(d);
    let input = QuadInput::new(st, d, x);
    // (The channel-quad repacking reads the input rows in place.)
    let mut win = Window::with_rows(d, nr, d.stride_w > 1 && input.is_none());
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
    let blocked: &[i32] = if d.blocked.is_empty() {
        own = blocked_weights(st, d, per);
        &own
    } else {
        &d.blocked
    };
    // Per block row and step of the current row phase list: its window
    // bytes at block column 0 (`Spot::steps`).
    let steps_max = d.steps.iter().map(Vec::len).max().unwrap_or(0);
    let spots = step_spots(d);
    let mut step_at = vec![vec![std::ptr::null::<u8>(); steps_max]; nr];
    let mut oy = lo;
    while oy < hi {
        // Rows `oy..oy + r` (one row phase when `nr > 1`).
        let r = nr.min(hi - oy);
        let mut ry = 0;
        for (k, rows) in rows.iter_mut().enumerate().take(r) {
            // SAFETY: the caller's guarantees (`plan_direct` checked the
            // rows); the window spans the input rows of `nr` output rows.
            ry = unsafe { window_rows(st, d, (x, &input), oy + k, &mut win, rows) };
        }
        for g in 0..d.groups {
            if phases == 1 {
                for (rows, at) in rows.iter().zip(step_at.iter_mut()).take(r) {
                    fill_steps(d, rows, &spots[ry], g, at);
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
                            fill_steps(d, &rows[0], &spots[p], g, &mut step_at[0]);
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
/// pixel: 1, 2 or 4).
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
    for (j, acc_j) in acc.iter().enumerate() {
        let k = tail.channel(o + j);
        for (row, acc_k) in acc_j.iter().enumerate() {
            for (p, &a) in acc_k.iter().enumerate() {
                // SAFETY: the caller's guarantee.
                unsafe { store_wide(tail.result(a, k), spot, (j, row, p)) };
            }
        }
    }
}

/// Pixel vector `p` of channel `j`, row `row` of a block: 16 32-bit
/// results stored as their low 16 bits (`vpmovdw`) or whole
/// (`spot.bytes`), masked to the pixels of `spot.mask`.
///
/// # Safety
/// `spot.dst + j * spot.plane + row * spot.stride` takes `spot.bytes`
/// bytes per pixel of the mask (pixels `16 p ..` of the block row).
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
unsafe fn store_wide(v: __m512i, spot: &Spot, (j, row, p): (usize, usize, usize)) {
    let eb = spot.bytes;
    let m = (spot.mask >> (16 * p)) as u16;
    let at = (spot.dst).wrapping_add(j * spot.plane + row * spot.stride + 16 * p * eb);
    // SAFETY (both): the caller's guarantee.
    if eb == 2 {
        unsafe { _mm512_mask_cvtepi32_storeu_epi16(at.cast(), m, v) };
    } else {
        unsafe { _mm512_mask_storeu_epi32(at.cast(), m, v) };
    }
}

/// [`finish`] with the residual map added (`spot.residual`); outputs of
/// 16 or 32 bits (`spot.bytes`) stored as in [`finish_wide`].
///
/// # Safety
/// As [`block`]; with `spot.bytes > 1` as [`finish_wide`].
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
                let res = _mm512_sll_epi32(wide, align);
                if spot.bytes == 1 {
                    *q = tail.apply_residual(a, k, res);
                    continue;
                }
                // SAFETY: the caller's guarantee (as `finish_wide`).
                unsafe { store_wide(tail.result_residual(a, k, res), spot, (j, row, p)) };
            }
            if spot.bytes > 1 {
                continue;
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

/// Each step of each of `d.steps`' lists as its window row and the byte
/// offset of its quad row (group 0), shifted by its dwords: made once per
/// call, so that [`fill_steps`] only adds a row's slot to each (computing
/// the offsets per output row took 5% of 3x3 128 -> 128 on 14 x 14).
#[cfg(target_arch = "x86_64")]
pub(super) fn step_spots(d: &Direct) -> Vec<Vec<(usize, usize)>> {
    d.steps.iter().map(|list| list_spots(d, list)).collect()
}

/// [`step_spots`] of one step list.
#[cfg(target_arch = "x86_64")]
pub(super) fn list_spots(d: &Direct, list: &[crate::jit::native::Step]) -> Vec<(usize, usize)> {
    let spot = |s: &crate::jit::native::Step| (s.row, (s.quad * d.cols + s.shift) * 4);
    list.iter().map(spot).collect()
}

/// The repacked window of one output row at a time and the window bytes
/// of each step of the first step list, for the direct kernels that run
/// one such list (`conv_lanes`, `conv_amx`).
#[cfg(target_arch = "x86_64")]
pub(super) struct RowSteps {
    input: Option<QuadInput>,
    win: Window,
    rows: Vec<*const u8>,
    spots: Vec<(usize, usize)>,
    /// Per step of the list, its window bytes for the group of the last
    /// [`RowSteps::group`].
    pub at: Vec<*const u8>,
}

#[cfg(target_arch = "x86_64")]
impl RowSteps {
    pub(super) fn new(st: &NativeStage, d: &Direct, x: *const u8) -> RowSteps {
        let input = QuadInput::new(st, d, x);
        let win = Window::with_rows(d, 1, d.stride_w > 1 && input.is_none());
        let steps = &d.steps[0];
        RowSteps {
            rows: vec![std::ptr::null(); win.rows_max],
            spots: list_spots(d, steps),
            at: vec![std::ptr::null(); steps.len()],
            input,
            win,
        }
    }

    /// Repacks the input rows output row `oy` reads that the window does
    /// not hold yet (`window_rows`).
    ///
    /// # Safety
    /// As `window_rows`, with `x` the input `RowSteps::new` was given.
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
    pub(super) unsafe fn row(&mut self, st: &NativeStage, d: &Direct, x: *const u8, oy: usize) {
        // SAFETY: the caller's guarantees.
        unsafe { window_rows(st, d, (x, &self.input), oy, &mut self.win, &mut self.rows) };
    }

    /// Points [`RowSteps::at`] at group `g`'s steps of the current row.
    pub(super) fn group(&mut self, d: &Direct, g: usize) {
        fill_steps(d, &self.rows, &self.spots, g, &mut self.at);
    }
}

/// The window bytes of each step of a list (its [`step_spots`]) of group
/// `g` at block column 0: quad `quad` of the group in the slot of the
/// step's input row, shifted by `shift` dwords.
#[cfg(target_arch = "x86_64")]
pub(super) fn fill_steps(
    d: &Direct,
    rows: &[*const u8],
    spots: &[(usize, usize)],
    g: usize,
    out: &mut [*const u8],
) {
    let group = g * d.quads.len() * d.cols * 4;
    for (at, &(row, off)) in out.iter_mut().zip(spots) {
        *at = rows[row].wrapping_add(group + off);
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
