//! One classifier for convolutions: every vector path of the JIT (the
//! precompiled kernels in `native` and Cranelift's 128-bit code in `simd`)
//! asks [`classify`] what a convolution is and which operand widths it has,
//! and picks its kernel from the answer, instead of repeating shape tests
//! with limits of its own (XNNPACK's operator-to-microkernel tables are the
//! model).

use super::expr::{accumulators_fit_32_bits, u8_x_i8_weights};
use super::plan::weight_dims;
use crate::ir::{Chw, ConvGeom, Interval, NodeId, Op, Program};

/// The largest kernel side and stride the direct kernels take.
pub(crate) const MAX_KERNEL: usize = 11;
pub(crate) const MAX_STRIDE: usize = 4;

/// What a convolution is, from its geometry alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConvKind {
    /// 1x1, one group, stride 1, dilation 1, no padding.
    Pointwise,
    /// One input channel per output channel (`groups` = input channels =
    /// output channels), any kernel, stride, dilation and padding.
    Depthwise,
    /// One group with 1 to 4 input channels (an image's first layer).
    FirstLayer,
    /// Several groups of more than one input channel each.
    Grouped,
    /// Every other convolution: one group, a KxK window.
    Full,
    /// A transposed convolution (`deconv`), `depthwise` when each group has
    /// one input and one output channel.
    Transposed { depthwise: bool },
}

/// The widths of a convolution's operands, which decide the dot-product
/// instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operands {
    /// Inputs in `0..=255`, weights in `-128..=127`, every partial sum within
    /// 32 bits: `vpdpbusd`.
    U8xI8,
    /// Inputs in `-128..=127`, weights in `-128..=127`: `vpdpbusd` on the
    /// inputs plus 128, with `128 * sum(weights)` taken off in the tail
    /// (direct kernels only).
    I8xI8,
    /// Anything else: the scalar code (wider operands would take
    /// `vpdpwssd` / `vpmaddwd`; no kernel for them yet).
    Wide,
}

/// A classified convolution: the facts every kernel chooser reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ConvPattern {
    pub kind: ConvKind,
    pub operands: Operands,
    pub core: NodeId,
    pub x: NodeId,
    pub w: NodeId,
    pub geom: ConvGeom,
    /// Output channels, input channels per group, kernel rows and columns
    /// (for `Transposed`: input channels, output channels per group, ...,
    /// as the weights are laid out).
    pub weights: (usize, usize, usize, usize),
    pub input: Chw,
    pub output: Chw,
}

impl ConvPattern {
    /// Whether the direct kernels (`native::conv`) take this geometry:
    /// a window of at most 11 x 11, strides of at most 4 (transposed: its
    /// stride phases, each a stride-1 convolution).
    pub fn direct_geometry(&self) -> bool {
        let (_, _, kh, kw) = self.weights;
        (1..=MAX_KERNEL).contains(&kh)
            && (1..=MAX_KERNEL).contains(&kw)
            && (1..=MAX_STRIDE).contains(&self.geom.stride.h)
            && (1..=MAX_STRIDE).contains(&self.geom.stride.w)
            && self.geom.dilation.h >= 1
            && self.geom.dilation.w >= 1
    }
}

/// Classifies the convolution or transposed convolution `core`; `None` for
/// any other node.
pub(crate) fn classify(program: &Program, core: NodeId) -> Option<ConvPattern> {
    let (x, w, geom, transposed) = match &program.nodes[core].op {
        Op::Conv { x, w, geom } => (*x, *w, *geom, false),
        Op::Deconv { x, w, geom } => (*x, *w, *geom, true),
        _ => return None,
    };
    let weights = weight_dims(program, core, w).ok()?;
    let (o, i, kh, kw) = weights;
    let input = program.nodes[x].shape.chw();
    let output = program.nodes[core].shape.chw();
    let groups = geom.groups.max(1);
    let kind = if transposed {
        ConvKind::Transposed {
            depthwise: i == 1 && geom.groups == o && o == input.c,
        }
    } else if i == 1 && groups == o && input.c == o {
        ConvKind::Depthwise
    } else if kh == 1
        && kw == 1
        && groups == 1
        && geom.stride.h == 1
        && geom.stride.w == 1
        && geom.pad == Default::default()
    {
        ConvKind::Pointwise
    } else if groups > 1 {
        ConvKind::Grouped
    } else if i <= 4 {
        ConvKind::FirstLayer
    } else {
        ConvKind::Full
    };
    let xr = program.nodes[x].range();
    let dims = (o, i, kh, kw);
    let groups = geom.groups.max(1);
    let operands = match (u8_x_i8_weights(program, x, w), &program.nodes[w].op) {
        (Some(data), _) if dots_fit_32_bits(data, kind, dims, groups, xr) => Operands::U8xI8,
        // Signed bytes as `x + 128` (unsigned), the weights' sums times 128
        // taken off again: the dot products run on `x + 128` in `0..=255`.
        (None, Op::Constant { data })
            if xr.lo >= -128
                && xr.hi <= 127
                && data.iter().all(|&v| (-128..=127).contains(&v))
                && dots_fit_32_bits(data, kind, dims, groups, Interval { lo: 0, hi: 255 }) =>
        {
            Operands::I8xI8
        }
        _ => Operands::Wide,
    };
    Some(ConvPattern {
        kind,
        operands,
        core,
        x,
        w,
        geom,
        weights,
        input,
        output,
    })
}

/// Whether every output channel's dot product fits 32 bits. A transposed
/// convolution's weights are `[in, out / groups, kh, kw]`: output channel
/// `o` of group `g` sums the taps `[g * in_g + i][o % out_g]`.
fn dots_fit_32_bits(
    data: &[i128],
    kind: ConvKind,
    (o, i, kh, kw): (usize, usize, usize, usize),
    groups: usize,
    x: crate::ir::Interval,
) -> bool {
    let taps = kh * kw;
    if !matches!(kind, ConvKind::Transposed { .. }) {
        return accumulators_fit_32_bits(data, i * taps, x);
    }
    let (cin, cout_g) = (o, i);
    let cin_g = cin / groups.max(1);
    if data.len() != cin * cout_g * taps || cin_g * groups != cin {
        return false;
    }
    let channels = (0..groups * cout_g).map(|oc| {
        let (g, ol) = (oc / cout_g, oc % cout_g);
        (0..cin_g)
            .flat_map(|c| {
                let at = ((g * cin_g + c) * cout_g + ol) * taps;
                data[at..at + taps].iter().copied()
            })
            .collect::<Vec<i128>>()
    });
    super::expr::accumulator_bound(channels, x).is_some_and(|b| super::range::signed_bits(b) <= 32)
}
