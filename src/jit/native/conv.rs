//! Direct convolution for every u8 x i8 convolution the pointwise and
//! stride-1 depthwise kernels do not take: full KxK windows (up to 11 x 11),
//! strides 1 to 4, any dilation, symmetric or asymmetric padding, groups,
//! first layers of 1 to 4 input channels, strided or wide depthwise.
//!
//! The structure is the implicit GEMM of MLAS / oneDNN, arranged for
//! `vpdpbusd`: a 32-bit lane is one output pixel, and one instruction adds
//! four products (a *quad* of input bytes times four weight bytes) to each of
//! 16 pixels. Per input row the kernel repacks the bytes it needs once into
//! quad rows (`quads`): byte `j` of dword `u` of a quad row is input channel
//! `source[j].channel`, column `(u + source[j].offset) * stride_w +
//! source[j].phase` of the padded row. Splitting the columns by stride phase
//! turns every tap of a strided or dilated window into a contiguous load:
//! output pixel `ox`, tap `kx` reads column `ox * s + kx * d`, which is dword
//! `ox + (kx * d) / s` of phase `(kx * d) % s`. The sum over a window is then
//! a list of `steps` (kernel row, quad, dword shift), the same for every
//! pixel, and the weights are packed once, here, in step order.
//!
//! Quads hold four input channels of one tap when a group has at least four
//! channels; with fewer (first layers, depthwise) they hold several taps of
//! a row (channel-major within a tap, taps in order), so a 3-channel first
//! layer wastes one byte of 28, not one of 4.

use super::{Kind, NativeStage};
use crate::ir::Program;
use crate::jit::pattern::ConvPattern;
use crate::jit::plan::{Buffer, Plan};
use crate::jit::Isa;

/// Byte `j` of a quad: an input channel (within its group), read at a
/// column phase, `offset` dwords further along the phase row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Source {
    pub channel: usize,
    pub phase: usize,
    pub offset: usize,
}

/// One `vpdpbusd` per pixel vector: kernel row `ky`, quad `quad` of the
/// group, dwords shifted by `shift`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Step {
    pub ky: usize,
    pub quad: usize,
    pub shift: usize,
}

/// A direct convolution's plan (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Direct {
    pub groups: usize,
    pub cin_g: usize,
    pub cout_g: usize,
    pub kh: usize,
    pub stride: (usize, usize),
    pub dilation_h: usize,
    pub pad_top: usize,
    pub pad_left: usize,
    /// The quads of one group (every group has the same).
    pub quads: Vec<[Option<Source>; 4]>,
    pub steps: Vec<Step>,
    /// Dwords per quad row: the output width rounded up to 64, plus the
    /// largest shift, rounded up to 64.
    pub cols: usize,
    /// Bytes of an input row from padded column 0 to the end of its halo:
    /// what the repacking may read.
    pub row_bytes: usize,
    /// Bytes of one phase row (strides above 1), a multiple of 64.
    pub phase_len: usize,
}

impl Direct {
    /// Rows the repacked window holds: every input row one output row reads.
    pub fn ring(&self) -> usize {
        (self.kh - 1) * self.dilation_h + 1
    }
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
    let (cout, cin_g, kh, kw) = pattern.weights;
    let geom = pattern.geom;
    let groups = geom.groups.max(1);
    let (xd, d) = (pattern.input, program.nodes[root].shape.chw());
    if cout == 0 || cin_g == 0 || groups * cin_g != xd.c || cout % groups != 0 || d.w == 0 {
        return None;
    }
    let xb = plan.buffer_of[pattern.x]?;
    let xbuf = &plan.buffers[xb];
    let out = &plan.buffers[plan.buffer_of[root]?];
    if xbuf.elem.bytes != 1 || xbuf.elem.signed || out.elem.bytes != 1 {
        return None;
    }
    if !window_in_halo(pattern, xbuf, d) {
        return None;
    }
    let (sh, sw) = (geom.stride.h, geom.stride.w);
    let (dh, dw) = (geom.dilation.h, geom.dilation.w);
    let tap = |kx: usize| ((kx * dw) % sw, (kx * dw) / sw);
    let mut quads: Vec<[Option<Source>; 4]> = vec![];
    // Per step, the (channel, kx) of each byte, for packing the weights.
    let mut steps = vec![];
    let mut elements: Vec<[Option<(usize, usize)>; 4]> = vec![];
    if cin_g >= 4 {
        // Quads of four channels, one per (channel quad, phase) in use.
        let mut index = std::collections::HashMap::new();
        for kx in 0..kw {
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
        let pairs: Vec<(usize, usize)> = (0..kw)
            .flat_map(|kx| (0..cin_g).map(move |c| (c, kx)))
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
    // Every kernel row repeats the row's steps.
    let all_steps: Vec<Step> = (0..kh)
        .flat_map(|ky| {
            steps
                .iter()
                .map(move |&(quad, shift)| Step { ky, quad, shift })
        })
        .collect();
    let weights = super::u8_x_i8_weights(program, pattern.x, pattern.w)?;
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
    let cols = (d.w.next_multiple_of(64) + max_shift).next_multiple_of(64);
    let row_bytes = xbuf.stride() - (xbuf.halo.left - geom.pad.left);
    let phase_len = row_bytes.div_ceil(sw).next_multiple_of(64);
    let direct = Direct {
        groups,
        cin_g,
        cout_g: cout / groups,
        kh,
        stride: (sh, sw),
        dilation_h: dh,
        pad_top: geom.pad.top,
        pad_left: geom.pad.left,
        quads,
        steps: all_steps,
        cols,
        row_bytes,
        phase_len,
    };
    Some(NativeStage {
        kind: Kind::Direct(Box::new(direct)),
        x: super::rows(plan, xb),
        out: super::rows(plan, plan.buffer_of[root]?),
        channels: d.c,
        height: d.h,
        width: d.w,
        weights: packed,
        windows: vec![],
        requant,
        isa,
    })
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
