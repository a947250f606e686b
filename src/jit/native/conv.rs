//! Direct convolution for every u8 x i8 convolution the pointwise and
//! depthwise kernels do not take: full KxK windows (up to 11 x 11), strides
//! 1 to 4, any dilation, symmetric or asymmetric padding, groups, first
//! layers of 1 to 4 input channels, depthwise with wide rows, and transposed
//! convolutions of any groups.
//!
//! The structure is the implicit GEMM of MLAS / oneDNN, arranged for
//! `vpdpbusd`: a 32-bit lane is one output pixel, and one instruction adds
//! four products (a *quad* of input bytes times four weight bytes) to each of
//! 16 pixels. Per input row the kernel repacks the bytes it needs once into
//! quad rows (`quads`): byte `j` of dword `u` of a quad row is input channel
//! `source[j].channel`, column `col0 + (u + source[j].offset) * stride +
//! source[j].phase` of the row. Splitting the columns by stride phase turns
//! every tap of a strided or dilated window into a contiguous load: output
//! pixel `ox`, tap `kx` reads column `ox * s + kx * d - pad`, which is dword
//! `ox + (kx * d) / s` of phase `(kx * d) % s`. The sum over a window is then
//! a list of steps (input row, quad, dword shift), the same for every pixel,
//! and the weights are packed once, here, in step order.
//!
//! When every quad is four channels of one phase (groups of four channels
//! or more), the AVX-512 kernel interleaves each channel quad once per
//! input row and picks every phase's dwords from the interleaved bytes; it
//! splits rows into phase rows only for quads of taps (the AVX2 kernel
//! always does).
//!
//! Quads hold four input channels of one tap when a group has at least four
//! channels; with fewer (first layers, depthwise) they hold several taps of
//! a row (channel-major within a tap, taps in order), so a 3-channel first
//! layer wastes one byte of 28, not one of 4.
//!
//! A transposed convolution is `sh * sw` such convolutions, one per output
//! stride phase (`plan::deconv_axis`): output row `oy` with `oy + pad_top =
//! qy * sh + ry` reads input rows `qy - m` for the taps `(ky, m)` of phase
//! `ry`, and column phase `rx` computes the outputs `qx * sw + rx - pad_left`
//! from input columns `qx - m`; no product touches an inserted zero.

use super::{Kind, NativeStage, Words};
use crate::ir::Program;
use crate::jit::pattern::{ConvKind, ConvPattern, Operands};
use crate::jit::plan::{deconv_axis, Buffer, Plan};
use crate::jit::Isa;

/// Byte `j` of a quad: an input channel (within its group), read at a
/// column phase, `offset` dwords further along the phase row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Source {
    pub channel: usize,
    pub phase: usize,
    pub offset: usize,
}

/// One `vpdpbusd` per pixel vector: input row `row` (an index into the
/// output row's list of input rows), quad `quad` of the group, dwords
/// shifted by `shift`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Step {
    pub row: usize,
    pub quad: usize,
    pub shift: usize,
}

/// A direct convolution's plan (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Direct {
    pub groups: usize,
    pub cin_g: usize,
    pub cout_g: usize,
    /// Output row `oy`: `t = oy + row_shift`, row phase `t % row_phases`,
    /// input rows `(t / row_phases) * row_step + row_lists[phase][i]`.
    pub row_shift: usize,
    pub row_phases: usize,
    pub row_step: usize,
    pub row_lists: Vec<Vec<i64>>,
    /// Input column stride of the quad rows (1 for transposed convolutions).
    pub stride_w: usize,
    /// Output column phases (the stride of a transposed convolution, else
    /// 1): phase `rx` of block column `q` is output `q * out_phases + rx -
    /// out_shift`.
    pub out_phases: usize,
    pub out_shift: usize,
    /// Block columns per output row (pixels of one output column phase).
    pub q_width: usize,
    /// The quads of one group (every group has the same).
    pub quads: Vec<[Option<Source>; 4]>,
    /// Steps of each (row phase, column phase), `ry * out_phases + rx`, and
    /// where each list's weights start in a channel's packed weights.
    pub steps: Vec<Vec<Step>>,
    pub step_offsets: Vec<usize>,
    /// Packed weights per output channel (the sum of the lists' lengths).
    pub steps_total: usize,
    /// Dwords per quad row: [`read_width`], plus the largest shift,
    /// rounded up to 16 (what the widest block reads).
    pub cols: usize,
    /// Column of the input row (relative to interior column 0) that byte 0
    /// of phase row 0 holds, and the readable bytes from there: `lo..hi`.
    pub col0: i64,
    pub readable: (usize, usize),
    /// Bytes of one phase row (strides above 1), a multiple of 64.
    pub phase_len: usize,
    /// Signed inputs: the repacking adds 128 (flips the top bit) and the
    /// tail's `pre` takes `128 * sum(w)` off.
    pub flip: bool,
    /// Signed inputs of a transposed convolution: each phase list sums
    /// other taps, so each list `p` has its own tail, the stage's with
    /// `128 * sum(w)` of that list's weights taken off `pre`
    /// ([`phase_tails`]); empty otherwise (every list runs the stage's
    /// tail).
    pub phase_requants: Vec<super::Requant>,
    /// The packed weights in the AVX-512 kernel's channel-block order
    /// ([`blocked_weights`] for [`avx512_channels`]), made once here;
    /// empty for the AVX2 kernel.
    pub blocked: Words,
    /// The AVX-512 kernel with output channels on the lanes ([`Lanes`]),
    /// when [`lanes_shape`] picks it.
    pub lanes: Option<Lanes>,
    /// The stage on AMX tiles instead of `lanes` or `blocked`, where the
    /// CPU and the OS have them ([`super::AmxPlan`]).
    pub amx: Option<super::AmxPlan>,
    /// Plain convolutions: the input's rows (`0..in_rows` hold the image,
    /// the rows around it the zero padding, so a step reading only
    /// padding rows adds nothing unless `flip`); None for transposed ones.
    pub in_rows: Option<usize>,
}

/// The AVX-512 kernel for narrow rows with output channels on the lanes:
/// a register block is `n` pixels of one output row x `m` vectors of 16
/// output channels; per step each pixel's input quad (one dword of the
/// quad rows) is broadcast and multiplied by `m` vectors of 16 channels'
/// weights. No lane idles when a row has fewer pixels than a multiple of 16
/// (7, 14, 28 wide rows) as long as a group has a multiple of 16 channels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Lanes {
    /// Pixels a block (at most; a row's last block may have fewer).
    pub n: usize,
    /// Vectors of 16 channels a block (at most; a group's last block may
    /// have fewer).
    pub m: usize,
    /// Per group, per channel block `o..o + 16 mb` (`mb = min(m, vectors
    /// left)`), step `s`: the 16 mb channels' weights (zero past the
    /// group's channels), the blocks one after another.
    pub weights: Words,
}

/// The (pixels, vectors) of a lanes block for `d` ([`Lanes`]), when it is
/// used: plain convolutions (one row and one column phase) whose rows of
/// up to 64 pixels leave lanes of pixel vectors idle, with at least 16
/// channels a group, when the idle lanes' `vpdpbusd` outweigh what the
/// lanes kernel adds per output (the folded tail on the channel-lane sums
/// and a byte transpose; other tails a 16 x 16 dword transpose too): per
/// 16 outputs, `steps * (idle / used)` wasted `vpdpbusd` against ~8. On
/// Zen 4, one thread, against the pixel-lane kernel: 3x3 128 -> 128 on 14
/// x 14 (288 steps, 2 of 16 lanes idle) 1.15x faster, 64 -> 128 stride 2
/// to 28 x 28 (144 steps, 4 of 32) 1.07x, 96 -> 96 on 10 x 10 1.4x, 5x5
/// 64 -> 64 on 14 x 14 1.18x, 64 -> 64 on 60 x 60 (144 steps, 4 of 64)
/// 1.02x, 32 -> 128 on 14 x 14 (72 steps) 1.09x, 32 -> 32 on 30 x 30 (72
/// steps, 2 of 32) the same. The block's shape: the best [`lanes_score`]
/// of [`LANES_BLOCKS`], each with the row's pixels split evenly.
pub(crate) fn lanes_shape(d: &Direct) -> Option<(usize, usize)> {
    let plain = d.row_phases == 1 && d.out_phases == 1 && d.out_shift == 0;
    let w = d.q_width;
    if !plain || w > 64 || w.is_multiple_of(16) || d.cout_g < 16 {
        return None;
    }
    let lanes = w.next_multiple_of(16);
    if d.steps_total * (lanes - w) < 8 * w {
        return None;
    }
    let v = d.cout_g.div_ceil(16);
    LANES_BLOCKS
        .iter()
        .map(|&(m, n_max)| (w.div_ceil(w.div_ceil(n_max)), lanes_block(v, m)))
        .max_by_key(|&(n, m)| (lanes_score(d, (n, m)), std::cmp::Reverse(n * m)))
}

/// The register blocks of the lanes kernel: (vectors of 16 channels, most
/// pixels). None holds more than 28 sums, leaving registers for the `m`
/// weight vectors and a broadcast of the 32.
pub(crate) const LANES_BLOCKS: [(usize, usize); 4] = [(1, 16), (2, 12), (2, 14), (3, 8)];

/// What a lanes block shape `(n, m)` is worth for `d` (the larger the
/// better; ties go to the fewer sums): the sums a step's block holds, up
/// to 24, scaled by how evenly the group's channel vectors fill blocks of
/// `m`, less a seventh when one block's weights (`steps x m x 64` bytes)
/// pass 40 KiB and no longer stay in a 48 KiB L1 while the block runs along
/// the row. Measured on Sapphire Rapids, one thread, 3x3 convolutions:
/// 128 -> 128 on 28 x 28 (288 steps) 14 x 2 (37 KB of weights) 1.05x
/// faster than 7 x 3 (55 KB) and 1.02x faster than 10 x 2; 128 -> 128 on
/// 14 x 14 14 x 2 1.05x faster than 7 x 3 and 7 x 2; but 64 -> 64 on 56 x
/// 56 (144 steps) 12 x 2 (blocks 12 12 12 12 8) 1.025x faster than 14 x 2
/// (14 14 14 14): past 24 sums a block runs no faster (the loop runs at
/// ~85% of the `vpdpbusd` peak from 20 sums up in a micro-benchmark).
fn lanes_score(d: &Direct, (n, m): (usize, usize)) -> usize {
    let v = d.cout_g.div_ceil(16);
    let sums = 1000 * (n * m).min(24) * v / (v.div_ceil(m) * m);
    if d.steps_total * 64 * m > 40 << 10 {
        sums * 6 / 7
    } else {
        sums
    }
}

/// The vectors of the next channel block of a lanes kernel with `left`
/// vectors of the group still to run: at most `m`, the blocks as even as
/// they go (16 vectors at most 3 a block: 3 3 3 3 2 2, not 3 3 3 3 3 1,
/// whose one-vector block loads a broadcast per `vpdpbusd`).
pub(crate) fn lanes_block(left: usize, m: usize) -> usize {
    left.div_ceil(left.div_ceil(m.max(1)))
}

/// The weights `w` (`[channel][step]`) in [`Lanes::weights`] order.
pub(crate) fn lanes_weights(d: &Direct, w: &[i32], m: usize) -> Vec<i32> {
    let t = d.steps_total;
    let mut out = vec![];
    for g in 0..d.groups {
        let end = (g + 1) * d.cout_g;
        let mut o = g * d.cout_g;
        while o < end {
            let mb = lanes_block((end - o).div_ceil(16), m);
            for s in 0..t {
                for j in 0..16 * mb {
                    out.push(if o + j < end { w[(o + j) * t + s] } else { 0 });
                }
            }
            o += 16 * mb;
        }
    }
    out
}

impl Direct {
    /// Dwords a block reads from each step's quad row from block column
    /// `x0 + shift` on: the block columns rounded up to the kernel's
    /// vectors ([`read_width`]), or, for the lanes kernel, the block columns
    /// themselves.
    pub fn read_width(&self) -> usize {
        if self.lanes.is_some() {
            self.q_width
        } else {
            read_width(self.q_width)
        }
    }

    /// Per quad, the dwords of its rows that some step reads (`cols` or
    /// fewer: a quad read only at small shifts needs less), a multiple of
    /// 16. One pass over the steps (per quad it was 64 x 576 steps on 3x3
    /// 256 -> 256, a third of the stage's time).
    pub fn quad_cols(&self) -> Vec<usize> {
        let mut shift = vec![0; self.quads.len()];
        for s in self.steps.iter().flatten() {
            shift[s.quad] = shift[s.quad].max(s.shift);
        }
        let cols = |shift: usize| self.cols_for(shift).min(self.cols);
        shift.into_iter().map(cols).collect()
    }

    /// The dwords a quad row needs when steps read it at shifts up to
    /// `shift`: [`Direct::read_width`] plus the shift, a multiple of 16.
    pub fn cols_for(&self, shift: usize) -> usize {
        (self.read_width() + shift).next_multiple_of(16)
    }

    /// Rows the repacked window holds: the span of one output row's input
    /// rows.
    pub fn ring(&self) -> usize {
        let all = self.row_lists.iter().flatten();
        let lo = all.clone().copied().min().unwrap_or(0);
        let hi = all.copied().max().unwrap_or(0);
        (hi - lo + 1) as usize
    }

    /// The row phase of output row `oy` and the base its rows are relative to.
    pub fn row_phase(&self, oy: usize) -> (usize, i64) {
        let t = oy + self.row_shift;
        (
            t % self.row_phases,
            ((t / self.row_phases) * self.row_step) as i64,
        )
    }
}

/// The residual map of tail `requant` for an output of dims `d`, as its
/// rows and signedness: `Some(None)` without one, `None` when the kernels
/// cannot add it (a residual map has one byte per value and the output's
/// own dims).
pub(super) fn residual_map(
    plan: &Plan,
    requant: &super::Requant,
    d: crate::ir::Chw,
) -> Option<Option<(super::Rows, bool)>> {
    let Some(r) = requant.residual else {
        return Some(None);
    };
    let rb = plan.buffer_of[r.node]?;
    let buf = &plan.buffers[rb];
    (buf.elem.bytes == 1 && buf.dims == d).then(|| Some((super::rows(plan, rb), buf.elem.signed)))
}

/// The direct plan of the u8 x i8 convolution `pattern`, fused into `stage`
/// with the tail `requant`, when the buffers allow it.
pub(super) fn plan_direct(
    program: &Program,
    plan: &Plan,
    pattern: &ConvPattern,
    root: crate::ir::NodeId,
    requant: super::Requant,
    isa: Isa,
) -> Option<NativeStage> {
    if !pattern.direct_geometry() {
        return None;
    }
    let transposed = matches!(pattern.kind, ConvKind::Transposed { .. });
    let geom = pattern.geom;
    let groups = geom.groups.max(1);
    // Output channels, input channels per group, kernel, as conv weights.
    let (cout, cin_g, kh, kw) = if transposed {
        let (cin, cout_g, kh, kw) = pattern.weights;
        (cout_g * groups, cin / groups.max(1), kh, kw)
    } else {
        pattern.weights
    };
    let (xd, d) = (pattern.input, program.nodes[root].shape.chw());
    if cout == 0 || cin_g == 0 || groups * cin_g != xd.c || cout % groups != 0 || d.w == 0 {
        return None;
    }
    if d.h == 0 || d.c != cout {
        return None;
    }
    let xb = plan.buffer_of[pattern.x]?;
    let xbuf = &plan.buffers[xb];
    let out = &plan.buffers[plan.buffer_of[root]?];
    let flip = pattern.operands == Operands::I8xI8;
    // Outputs of 16 or 32 bits: the tail's 32-bit results stored as
    // their low 16 bits or whole (the values fit the storage: it is the
    // narrowest holding the output's range), by the kernels of plain
    // convolutions (with a residual map too: `r + conv(..)` of two u8
    // maps is a u9, which ran on scalar code 1000x slower).
    let wide = out.elem.bytes > 1;
    let wide_ok = matches!(out.elem.bytes, 2 | 4) && !transposed;
    if xbuf.elem.bytes != 1 || xbuf.elem.signed != flip || (wide && !wide_ok) {
        return None;
    }
    let mut requant = requant;
    // (A transposed convolution's phases sum different taps: one
    // correction per channel and phase, `Direct::phase_requants`, below.)
    if flip && !transposed {
        // `sum(x * w) = sum((x + 128) * w) - 128 * sum(w)` per output channel.
        let sums = weight_sums(program, pattern, cout)?;
        for (p, s) in requant.pre.iter_mut().zip(sums) {
            *p = i32::try_from(i64::from(*p) - 128 * s).ok()?;
        }
    }
    // A residual map, added by the kernels of plain convolutions.
    if transposed && requant.residual.is_some() {
        return None;
    }
    let residual = residual_map(plan, &requant, d)?;
    let mut stage = if transposed {
        // On AVX2 one input channel a group (depthwise) fills a quad with
        // a phase's taps of one channel: slower than Cranelift's vector
        // code (64 x 64x128 4x4 stride 2: 9.6 against 2.3 ms).
        if isa.is_avx2() && cin_g < 2 {
            return None;
        }
        let shape = (cout, cin_g, kh, kw);
        plan_transposed(program, plan, pattern, root, requant, shape, isa)
    } else {
        if !window_in_halo(pattern, xbuf, d) {
            return None;
        }
        plan_window(program, plan, pattern, root, requant, isa)
    }?;
    stage.residual = residual;
    stage.out_bytes = out.elem.bytes;
    if let Kind::Direct(d) = &mut stage.kind {
        d.flip = flip;
        if flip && transposed {
            d.phase_requants = phase_tails(d, &stage.weights, &stage.requant)?;
        }
    }
    stage.fits(plan)
}

/// Per phase list of `d` (signed inputs of a transposed convolution), the
/// tail `requant` with `128 * sum(w)` of the list's weights taken off each
/// channel's `pre`: `sum(x * w) = sum((x + 128) * w) - 128 * sum(w)` over
/// the list's taps, which every output pixel of the phase sums (taps
/// outside the input read the halo's or the repacking's zeros, flipped to
/// 128 like the input). The sums come from the packed weights
/// (`[channel][step]`, the bytes the kernel multiplies).
fn phase_tails(
    d: &Direct,
    packed: &[i32],
    requant: &super::Requant,
) -> Option<Vec<super::Requant>> {
    let t = d.steps_total;
    let cout = d.groups * d.cout_g;
    if packed.len() < cout * t || requant.pre.len() < cout {
        return None;
    }
    let byte_sum = |w: i32| -> i64 { w.to_le_bytes().iter().map(|&b| i64::from(b as i8)).sum() };
    d.steps
        .iter()
        .zip(&d.step_offsets)
        .map(|(list, &off)| {
            let mut q = requant.clone();
            for (o, p) in q.pre.iter_mut().enumerate().take(cout) {
                let w = packed.get(o * t + off..o * t + off + list.len())?;
                let sum: i64 = w.iter().map(|&v| byte_sum(v)).sum();
                *p = i32::try_from(i64::from(*p) - 128 * sum).ok()?;
            }
            Some(q)
        })
        .collect()
}

/// Each output channel's sum of weights (for the signed-input correction)
/// of a convolution (weights `[out, in / groups, kh, kw]`).
fn weight_sums(program: &Program, pattern: &ConvPattern, cout: usize) -> Option<Vec<i64>> {
    let weights = constant_weights(program, pattern)?;
    let (_, cin_g, kh, kw) = pattern.weights;
    let per = cin_g * kh * kw;
    (0..cout)
        .map(|o| {
            let w = weights.get(o * per..(o + 1) * per)?;
            Some(w.iter().map(|&v| v as i64).sum())
        })
        .collect()
}

/// The quads and one kernel row's steps of a convolution whose column
/// `kx` sits at phase and shift `tap(kx)`; per step, the (channel, kx) of
/// each byte, for packing the weights.
type RowSteps = (Vec<[Option<Source>; 4]>, Vec<(usize, usize)>, Vec<Elements>);

/// The (channel, tap) of each byte of a step's quad.
type Elements = [Option<(usize, usize)>; 4];

fn row_steps(cin_g: usize, kxs: &[usize], tap: impl Fn(usize) -> (usize, usize)) -> RowSteps {
    let mut quads: Vec<[Option<Source>; 4]> = vec![];
    let mut steps = vec![];
    let mut elements: Vec<Elements> = vec![];
    if cin_g >= 4 || kxs.len() <= 1 {
        // Quads of four channels, one per (channel quad, phase) in use.
        let mut index = std::collections::HashMap::new();
        for &kx in kxs {
            let (phase, shift) = tap(kx);
            for g4 in 0..cin_g.div_ceil(4) {
                let quad = *index.entry((g4, phase)).or_insert_with(|| {
                    quads.push(std::array::from_fn(|j| {
                        let channel = 4 * g4 + j;
                        (channel < cin_g).then_some(Source {
                            channel,
                            phase,
                            offset: 0,
                        })
                    }));
                    quads.len() - 1
                });
                steps.push((quad, shift));
                elements.push(std::array::from_fn(|j| {
                    let channel = 4 * g4 + j;
                    (channel < cin_g).then_some((channel, kx))
                }));
            }
        }
    } else {
        // Quads of taps: the (channel, kx) pairs of a kernel row in order.
        let pairs: Vec<(usize, usize)> = kxs
            .iter()
            .flat_map(|&kx| (0..cin_g).map(move |c| (c, kx)))
            .collect();
        for chunk in pairs.chunks(4) {
            quads.push(std::array::from_fn(|j| {
                chunk.get(j).map(|&(channel, kx)| {
                    let (phase, offset) = tap(kx);
                    Source {
                        channel,
                        phase,
                        offset,
                    }
                })
            }));
            steps.push((quads.len() - 1, 0));
            elements.push(std::array::from_fn(|j| chunk.get(j).copied()));
        }
    }
    (quads, steps, elements)
}

/// A plain convolution: one row phase, one column phase.
fn plan_window(
    program: &Program,
    plan: &Plan,
    pattern: &ConvPattern,
    root: crate::ir::NodeId,
    requant: super::Requant,
    isa: Isa,
) -> Option<NativeStage> {
    let (cout, cin_g, kh, kw) = pattern.weights;
    let geom = pattern.geom;
    let groups = geom.groups.max(1);
    let d = program.nodes[root].shape.chw();
    let xb = plan.buffer_of[pattern.x]?;
    let xbuf = &plan.buffers[xb];
    let (sh, sw) = (geom.stride.h, geom.stride.w);
    let (dh, dw) = (geom.dilation.h, geom.dilation.w);
    let kxs: Vec<usize> = (0..kw).collect();
    let (quads, steps, elements) = row_steps(cin_g, &kxs, |kx| ((kx * dw) % sw, (kx * dw) / sw));
    // Every kernel row repeats the row's steps.
    let all_steps: Vec<Step> = (0..kh)
        .flat_map(|row| {
            steps
                .iter()
                .map(move |&(quad, shift)| Step { row, quad, shift })
        })
        .collect();
    let weights = constant_weights(program, pattern)?;
    let t = all_steps.len();
    let mut packed = vec![0i32; cout * t];
    for o in 0..cout {
        for ky in 0..kh {
            for (s, el) in elements.iter().enumerate() {
                let mut word = 0u32;
                for (j, e) in el.iter().enumerate() {
                    if let Some((c, kx)) = *e {
                        let v = weights[((o * cin_g + c) * kh + ky) * kw + kx];
                        word |= (v as i8 as u8 as u32) << (8 * j);
                    }
                }
                packed[o * t + ky * steps.len() + s] = word as i32;
            }
        }
    }
    let max_shift = all_steps.iter().map(|s| s.shift).max().unwrap_or(0);
    let cols = (read_width(d.w) + max_shift).next_multiple_of(16);
    let row_bytes = xbuf.stride() - (xbuf.halo.left - geom.pad.left);
    let direct = Direct {
        groups,
        cin_g,
        cout_g: cout / groups,
        row_shift: 0,
        row_phases: 1,
        row_step: sh,
        row_lists: vec![(0..kh)
            .map(|ky| (ky * dh) as i64 - geom.pad.top as i64)
            .collect()],
        stride_w: sw,
        out_phases: 1,
        out_shift: 0,
        q_width: d.w,
        quads,
        steps: vec![all_steps],
        step_offsets: vec![0],
        steps_total: t,
        cols,
        col0: -(geom.pad.left as i64),
        readable: (0, row_bytes),
        phase_len: row_bytes.div_ceil(sw).next_multiple_of(64),
        flip: false,
        phase_requants: vec![],
        blocked: Words::default(),
        lanes: None,
        amx: None,
        in_rows: Some(pattern.input.h),
    };
    let ob = plan.buffer_of[root]?;
    Some(stage(plan, (xb, ob), d, direct, packed, requant, isa))
}

/// A transposed convolution, phase by phase (see the module documentation).
fn plan_transposed(
    program: &Program,
    plan: &Plan,
    pattern: &ConvPattern,
    root: crate::ir::NodeId,
    requant: super::Requant,
    (cout, cin_g, kh, kw): (usize, usize, usize, usize),
    isa: Isa,
) -> Option<NativeStage> {
    let geom = pattern.geom;
    let groups = geom.groups.max(1);
    let cout_g = cout / groups;
    let d = program.nodes[root].shape.chw();
    let xb = plan.buffer_of[pattern.x]?;
    let xbuf = &plan.buffers[xb];
    let (sh, sw) = (geom.stride.h, geom.stride.w);
    let rows = deconv_axis(d.h, geom.pad.top, kh, geom.dilation.h, sh);
    let cols = deconv_axis(d.w, geom.pad.left, kw, geom.dilation.w, sw);
    let max_mx = cols
        .taps
        .iter()
        .flatten()
        .map(|&(_, m)| m)
        .max()
        .unwrap_or(0);
    // Every input row a row phase reads lies in the halo-padded buffer.
    let last_q = (d.h - 1 + geom.pad.top) / sh;
    if last_q >= xbuf.dims.h + xbuf.halo.bottom {
        return None;
    }
    for taps in &rows.taps {
        if taps
            .iter()
            .any(|&(_, m)| m > geom.pad.top / sh + xbuf.halo.top)
        {
            return None;
        }
    }
    let weights = constant_weights(program, pattern)?;
    // Quads are shared by the column phases: collect them across phases.
    let mut quads: Vec<[Option<Source>; 4]> = vec![];
    let mut steps = vec![];
    let mut offsets = vec![];
    let mut packed_lists: Vec<Vec<Elements>> = vec![];
    let mut total = 0;
    for ry in 0..sh {
        for rx in 0..sw {
            let kxs: Vec<usize> = cols.taps[rx].iter().map(|&(kx, _)| kx).collect();
            let shift_of = |kx: usize| {
                let m = cols.taps[rx]
                    .iter()
                    .find(|&&(k, _)| k == kx)
                    .map_or(0, |t| t.1);
                (0, max_mx - m)
            };
            let (q, row, elements) = row_steps(cin_g, &kxs, shift_of);
            // Re-index this phase's quads into the shared list.
            let map: Vec<usize> = q
                .iter()
                .map(|quad| match quads.iter().position(|x| x == quad) {
                    Some(i) => i,
                    None => {
                        quads.push(*quad);
                        quads.len() - 1
                    }
                })
                .collect();
            let mut list = vec![];
            let mut els = vec![];
            for (i, &(ky, _)) in rows.taps[ry].iter().enumerate() {
                for (&(quad, shift), el) in row.iter().zip(&elements) {
                    list.push(Step {
                        row: i,
                        quad: map[quad],
                        shift,
                    });
                    els.push(el.map(|e| e.map(|(c, kx)| (c, ky * kw + kx))));
                }
            }
            offsets.push(total);
            total += list.len();
            steps.push(list);
            packed_lists.push(els);
        }
    }
    let mut packed = vec![0i32; cout * total];
    for o in 0..cout {
        let (g, ol) = (o / cout_g, o % cout_g);
        let mut at = o * total;
        for els in &packed_lists {
            for el in els {
                let mut word = 0u32;
                for (j, e) in el.iter().enumerate() {
                    if let Some((c, tap)) = *e {
                        let ci = g * cin_g + c;
                        let v = weights[(ci * cout_g + ol) * kh * kw + tap];
                        word |= (v as i8 as u8 as u32) << (8 * j);
                    }
                }
                packed[at] = word as i32;
                at += 1;
            }
        }
    }
    let q_width = (d.w + geom.pad.left).div_ceil(sw);
    let max_shift = max_mx;
    let readable_from = (max_mx as i64 - xbuf.halo.left as i64).max(0) as usize;
    let direct = Direct {
        groups,
        cin_g,
        cout_g,
        row_shift: geom.pad.top,
        row_phases: sh,
        row_step: 1,
        row_lists: rows
            .taps
            .iter()
            .map(|t| t.iter().map(|&(_, m)| -(m as i64)).collect())
            .collect(),
        stride_w: 1,
        out_phases: sw,
        out_shift: geom.pad.left,
        q_width,
        quads,
        steps,
        step_offsets: offsets,
        steps_total: total,
        cols: (read_width(q_width) + max_shift).next_multiple_of(16),
        col0: -(max_mx as i64),
        readable: (readable_from, max_mx + xbuf.dims.w + xbuf.halo.right),
        phase_len: 64,
        flip: false,
        phase_requants: vec![],
        blocked: Words::default(),
        lanes: None,
        amx: None,
        in_rows: None,
    };
    let ob = plan.buffer_of[root]?;
    Some(stage(plan, (xb, ob), d, direct, packed, requant, isa))
}

#[allow(clippy::too_many_arguments)]
fn stage(
    plan: &Plan,
    (xb, ob): (usize, usize),
    d: crate::ir::Chw,
    mut direct: Direct,
    weights: Vec<i32>,
    requant: super::Requant,
    isa: Isa,
) -> NativeStage {
    // The channel-lane kernel stores bytes only: wider outputs take the
    // pixel-lane kernel (given the lanes, then taken away, they kept the
    // lanes kernel's narrower quad rows, failed `fits` and ran on scalar
    // code: 14.7 ms for 3x3 64 -> 64 on 28 x 28 with a 16-bit output).
    let bytes_out = plan.buffers[ob].elem.bytes == 1;
    if isa == Isa::Avx512 {
        // AMX tiles, where the host has them, for the byte outputs of plain
        // convolutions of rows of 8 to 64 pixels (`AmxPlan::new`); the
        // kernels below stay planned (`JitOptions::amx` off runs them).
        if bytes_out && crate::jit::machine::amx_available() {
            direct.amx = super::AmxPlan::new(&direct, &weights);
        }
        if let Some((n, m)) = lanes_shape(&direct).filter(|_| bytes_out) {
            let weights = lanes_weights(&direct, &weights, m).into();
            direct.lanes = Some(Lanes { n, m, weights });
            // The lanes kernel reads each step's dwords of its pixels only,
            // not whole vectors of 16: the window's quad rows (and the
            // repacking) shrink to them (80 -> 64 dwords on 56-wide rows,
            // 32 -> 16 on 7-wide ones).
            let max_shift = direct.steps.iter().flatten().map(|s| s.shift).max();
            direct.cols = direct.cols_for(max_shift.unwrap_or(0));
        } else {
            direct.blocked = blocked_weights(&direct, &weights, avx512_channels(&direct)).into();
        }
    }
    NativeStage {
        kind: Kind::Direct(Box::new(direct)),
        x: super::rows(plan, xb),
        out: super::rows(plan, ob),
        channels: d.c,
        height: d.h,
        width: d.w,
        weights: weights.into(),
        windows: vec![],
        requant,
        isa,
        residual: None,
        out_bytes: 1,
        pairs: Default::default(),
        words: Default::default(),
        planes: Default::default(),
        blocked_avx2: Default::default(),
    }
}

/// Pixel vectors of 16 lanes per output row in an AVX-512 register block.
pub(crate) fn avx512_vectors(d: &Direct) -> usize {
    d.q_width.div_ceil(16).min(4)
}

/// Output rows per AVX-512 register block: rows of one or two pixel
/// vectors (outputs up to 32 wide) share a block with the next output rows,
/// four vectors in all, in plain convolutions (one row phase, one column
/// phase). With fewer vectors a block broadcasts one weight per one or two
/// `vpdpbusd`, and the broadcasts take issue slots from them: on Zen 4 the
/// dot loop runs at ~94% of peak at 4 vectors x 6 channels, ~85% at 2 x
/// 12 and ~80% at 1 x 16.
pub(crate) fn avx512_rows(d: &Direct) -> usize {
    let plain = d.row_phases == 1 && d.out_phases == 1 && d.out_shift == 0;
    match avx512_vectors(d) {
        1 if plain => 4,
        2 if plain => 2,
        _ => 1,
    }
}

/// Block columns the kernels read from each step's dwords for rows of
/// `q_width` block columns: blocks of 16 columns a vector, up to 4 vectors
/// (AVX-512) or 2 x 8 (AVX2) a row. Narrow rows read (and the repacking
/// writes) only what their vectors cover, not 64 columns.
pub(crate) fn read_width(q_width: usize) -> usize {
    if q_width <= 64 {
        q_width.next_multiple_of(16)
    } else {
        q_width.next_multiple_of(64)
    }
}

/// Output channels per AVX-512 register block (at most 24 accumulators):
/// `pv` pixel vectors of 16 lanes in each of `avx512_rows` rows.
pub(crate) fn avx512_channels(d: &Direct) -> usize {
    match avx512_vectors(d) * avx512_rows(d) {
        1 => 16,
        2 => 12,
        3 => 8,
        _ => 6,
    }
}

/// The weights `w` (`[channel][step]`, `Direct::steps_total` a channel)
/// reordered for a kernel's channel blocks of `per` channels (from each
/// group's first channel): block `o..o + n`, phase list `p` starts at `o *
/// steps_total + n * step_offsets[p]` and holds step `s` of channel `o +
/// j` at `s * n + j`, so one pointer serves a step's broadcasts.
pub(crate) fn blocked_weights(d: &Direct, w: &[i32], per: usize) -> Vec<i32> {
    let t = d.steps_total;
    let mut out = vec![0; w.len()];
    for g in 0..d.groups {
        let end = (g + 1) * d.cout_g;
        let mut o = g * d.cout_g;
        while o < end {
            let n = (end - o).min(per);
            for (list, &off) in d.steps.iter().zip(&d.step_offsets) {
                for s in 0..list.len() {
                    for j in 0..n {
                        out[o * t + n * off + s * n + j] = w[(o + j) * t + off + s];
                    }
                }
            }
            o += n;
        }
    }
    out
}

/// Whether every window of every output pixel lies in the input's
/// halo-padded buffer (the plan sizes halos so; checked here because the
/// kernel reads without bounds tests).
pub(super) fn window_in_halo(p: &ConvPattern, xbuf: &Buffer, d: crate::ir::Chw) -> bool {
    let (_, _, kh, kw) = p.weights;
    let g = p.geom;
    if d.h == 0 {
        return false;
    }
    let last_y = (d.h - 1) * g.stride.h + (kh - 1) * g.dilation.h;
    let last_x = (d.w - 1) * g.stride.w + (kw - 1) * g.dilation.w;
    g.pad.top <= xbuf.halo.top
        && g.pad.left <= xbuf.halo.left
        && last_y < g.pad.top + xbuf.dims.h + xbuf.halo.bottom
        && last_x < g.pad.left + xbuf.dims.w + xbuf.halo.right
}

/// The weights' values (the pattern's operand check proved them bytes).
fn constant_weights<'a>(program: &'a Program, pattern: &ConvPattern) -> Option<&'a [i128]> {
    match &program.nodes[pattern.w].op {
        crate::ir::Op::Constant { data } => Some(data),
        _ => None,
    }
}
