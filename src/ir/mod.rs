//! The checked program: a flat, topologically ordered graph of nodes, every one
//! with its shape, exact value format and proven per-channel range. Blocks are
//! inlined and pipes expanded; this is what every backend consumes.
//!
//! Values are exact: a node's elements are integers `raw` meaning `raw / 2^frac`.
//!
//! Invariants the checker guarantees and backends may rely on:
//! - nodes are in topological order: operands come before their users;
//! - `program.inputs[i].node` is an `Op::Input { index: i }` node;
//! - `ranges.len() == shape.channels()`, and every value of the node lies in its
//!   channel's range, so every intermediate fits in 127 bits;
//! - fractions: Neg, Relu, Shr, Shl, MaxPool, MaxUnpool, nearest Upsample keep the
//!   operand's frac (so does Remap); Add, Sub, Max, Min and Concat align operands up to the node's
//!   frac (the largest); Mul, Conv and Deconv add the operands' fracs; Round gives
//!   0; Cast gives `to.storage_frac()`; bilinear Upsample adds `log2(2f)` per
//!   axis with factor `f > 1`; MaxPoolIndices is 0; Lookup has its table's frac;
//!   DivRound and a channel Max keep the operand's frac, ArgMax is 0;
//! - conv and deconv weights are always `Op::Constant` nodes;
//! - `node.ty` holds every value of the node (its `storage_frac()` equals `frac`);
//! - `program.outputs[i].node` names a node, and a constant holds one value
//!   per element.
//!
//! [`Program::verify`] checks each of them (`verify.rs`); [`analysis`] has the
//! questions every backend asks (what kind of operation, how often read,
//! what is live, a value as `[C, H, W]`).

mod analysis;
mod remap;
mod share;
mod verify;

pub use analysis::{reduction_channels, Chw, OpKind};
pub use remap::{Remap, ShuffleMode, Source};
pub use verify::{Broken, Invariant};

use crate::span::Span;
use crate::types::{Overflow, Quant, ScalarType};

pub type NodeId = usize;

/// A closed interval of raw values (both ends included).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Interval {
    pub lo: i128,
    pub hi: i128,
}

impl Interval {
    pub fn new(lo: i128, hi: i128) -> Self {
        Interval { lo, hi }
    }
    pub fn point(v: i128) -> Self {
        Interval { lo: v, hi: v }
    }
    pub fn hull(self, other: Interval) -> Interval {
        Interval::new(self.lo.min(other.lo), self.hi.max(other.hi))
    }
    pub fn contains(self, v: i128) -> bool {
        self.lo <= v && v <= self.hi
    }
    /// Every sum of a value of `self` and one of `other`; `None` when a bound
    /// does not fit in i128.
    pub fn checked_add(self, other: Interval) -> Option<Interval> {
        Some(Interval::new(
            self.lo.checked_add(other.lo)?,
            self.hi.checked_add(other.hi)?,
        ))
    }
    /// Every difference of a value of `self` and one of `other`.
    pub fn checked_sub(self, other: Interval) -> Option<Interval> {
        Some(Interval::new(
            self.lo.checked_sub(other.hi)?,
            self.hi.checked_sub(other.lo)?,
        ))
    }
    /// Every product of a value of `self` and one of `other`; `None` when a
    /// bound does not fit in i128.
    pub fn checked_mul(self, other: Interval) -> Option<Interval> {
        let p = [
            self.lo.checked_mul(other.lo)?,
            self.lo.checked_mul(other.hi)?,
            self.hi.checked_mul(other.lo)?,
            self.hi.checked_mul(other.hi)?,
        ];
        Some(Interval::new(*p.iter().min()?, *p.iter().max()?))
    }
    /// Every value times `2^n`; `None` when a bound does not fit in i128.
    pub fn checked_shl(self, n: u32) -> Option<Interval> {
        let s = |v: i128| crate::numeric::checked_shl(v, u64::from(n));
        Some(Interval::new(s(self.lo)?, s(self.hi)?))
    }
}

/// Tensor shapes. Feature maps are `[C, H, W]`, vectors `[N]`, weights
/// `[O, I/groups, KH, KW]`, scalars `[]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Shape {
    Scalar,
    Vector(usize),
    Map {
        c: usize,
        h: usize,
        w: usize,
    },
    Weights {
        o: usize,
        i: usize,
        kh: usize,
        kw: usize,
    },
}

impl Shape {
    pub fn dims(&self) -> Vec<usize> {
        match *self {
            Shape::Scalar => vec![],
            Shape::Vector(n) => vec![n],
            Shape::Map { c, h, w } => vec![c, h, w],
            Shape::Weights { o, i, kh, kw } => vec![o, i, kh, kw],
        }
    }
    pub fn len(&self) -> usize {
        self.dims().iter().product()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The channel count that ranges are tracked per: C for maps, N for vectors
    /// (a vector broadcasts over a map's channels), O for weights, 1 for scalars.
    pub fn channels(&self) -> usize {
        match *self {
            Shape::Scalar => 1,
            Shape::Vector(n) => n,
            Shape::Map { c, .. } => c,
            Shape::Weights { o, .. } => o,
        }
    }
    /// Elements per channel.
    pub fn plane(&self) -> usize {
        match *self {
            Shape::Map { h, w, .. } => h * w,
            Shape::Weights { i, kh, kw, .. } => i * kh * kw,
            _ => 1,
        }
    }
}

/// Zero padding on the four sides of a plane.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Pads {
    pub top: usize,
    pub bottom: usize,
    pub left: usize,
    pub right: usize,
}

/// A `(h, w)` pair of stage parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pair {
    pub h: usize,
    pub w: usize,
}

/// Convolution geometry, shared by `conv` and `deconv`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConvGeom {
    pub stride: Pair,
    pub pad: Pads,
    pub dilation: Pair,
    pub groups: usize,
    /// `deconv` only: extra rows / columns at the bottom / right (ONNX `output_padding`).
    pub output_pad: Pair,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PoolGeom {
    pub kernel: Pair,
    pub stride: Pair,
    pub pad: Pads,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Resample {
    /// ONNX Resize `nearest`, `asymmetric`, `floor`: out[o] = in[o / f].
    Nearest,
    /// ONNX Resize `linear`, `half_pixel` (factors must be powers of two, so
    /// that the result is exact in binary fixed point).
    Bilinear,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rounding {
    /// Toward minus infinity.
    Floor,
    /// Nearest, ties away from zero.
    Round,
    /// Toward zero.
    Trunc,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Elementwise {
    Add,
    Sub,
    Mul,
    Max,
    Min,
}

/// How an `as` conversion treats out-of-range values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CastOverflow {
    /// The checker proved every value fits: nothing to do.
    Proven,
    /// The mode named at the `as` (integer targets) or in the fixed type.
    Mode(Overflow),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// The pipeline's `index`-th input.
    Input {
        index: usize,
    },
    /// Constant data (a `param` or a `const`), raw values at the node's `frac`,
    /// in C order.
    Constant {
        data: Vec<i128>,
    },
    Neg(NodeId),
    Relu(NodeId),
    /// `floor`, `round`, `trunc`: to an integer (frac 0).
    Round(NodeId, Rounding),
    /// `x >> n`: floor(raw / 2^n), same frac.
    Shr(NodeId, u32),
    /// `x << n`: exact multiplication by 2^n, same frac.
    Shl(NodeId, u32),
    /// Broadcasting binary operation; operands are aligned to the result's frac
    /// (for Mul, the fracs add).
    Binary(Elementwise, NodeId, NodeId),
    /// `x as T`: quantize to T's fraction bits with `quant`, then handle overflow.
    Cast {
        x: NodeId,
        to: ScalarType,
        quant: Quant,
        overflow: CastOverflow,
    },
    Conv {
        x: NodeId,
        w: NodeId,
        geom: ConvGeom,
    },
    Deconv {
        x: NodeId,
        w: NodeId,
        geom: ConvGeom,
    },
    Upsample {
        x: NodeId,
        factor: Pair,
        mode: Resample,
    },
    MaxPool {
        x: NodeId,
        geom: PoolGeom,
    },
    /// Flat `h * W + w` position of each maximum within its channel's input plane.
    MaxPoolIndices {
        x: NodeId,
        geom: PoolGeom,
    },
    /// Values of `x` scattered to positions `idx` in planes of `out` size, zero elsewhere.
    MaxUnpool {
        x: NodeId,
        idx: NodeId,
        out: Pair,
    },
    Concat(Vec<NodeId>),
    /// A rearrangement (`depth_to_space`, `space_to_depth`, `flatten`,
    /// `reshape`, `slice`, `pad`): each element one of `x`'s or the pad
    /// value (`Remap::source`), same frac as `x`.
    Remap {
        x: NodeId,
        remap: Remap,
    },
    /// `table(x, ...)`: `table[raw_x - offset]`, elementwise. `table` is a
    /// constant `[N]` node holding the entries at this node's frac; the
    /// checker proved `offset <= raw_x < offset + N` for every value of `x`.
    Lookup {
        x: NodeId,
        table: NodeId,
        offset: i128,
    },
    /// `raw_x / divisor` rounded to the nearest integer, ties to even
    /// (`numeric::div_round_even`), same frac: average pooling's division.
    DivRound {
        x: NodeId,
        divisor: u64,
    },
    /// A reduction over the channels of `x` at each pixel: `[C, H, W]` ->
    /// `[1, H, W]`.
    Reduce {
        x: NodeId,
        op: ChannelReduce,
    },
}

/// What [`Op::Reduce`] computes over a pixel's channels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChannelReduce {
    /// The largest value (same frac).
    Max,
    /// The first channel holding the largest value (ONNX `ArgMax`,
    /// `select_last_index = 0`), frac 0.
    ArgMax,
}

impl Op {
    /// The nodes this one reads.
    pub fn operands(&self) -> Vec<NodeId> {
        match self {
            Op::Input { .. } | Op::Constant { .. } => vec![],
            Op::Neg(x)
            | Op::Relu(x)
            | Op::Round(x, _)
            | Op::Shr(x, _)
            | Op::Shl(x, _)
            | Op::Cast { x, .. }
            | Op::Upsample { x, .. }
            | Op::MaxPool { x, .. }
            | Op::MaxPoolIndices { x, .. }
            | Op::DivRound { x, .. }
            | Op::Reduce { x, .. }
            | Op::Remap { x, .. } => vec![*x],
            Op::Binary(_, a, b) => vec![*a, *b],
            Op::Conv { x, w, .. } | Op::Deconv { x, w, .. } => vec![*x, *w],
            Op::MaxUnpool { x, idx, .. } => vec![*x, *idx],
            Op::Lookup { x, table, .. } => vec![*x, *table],
            Op::Concat(xs) => xs.clone(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub op: Op,
    pub shape: Shape,
    /// Values are `raw / 2^frac`.
    pub frac: u32,
    /// Proven range of raw values, one interval per channel (see `Shape::channels`).
    pub ranges: Vec<Interval>,
    /// The node's type: the narrowest holding its range, or what a cast or an
    /// annotation names.
    pub ty: ScalarType,
    /// Storage halo (`pad P` on an input or an annotated `let`), in pixels.
    pub halo: usize,
    /// The `let` / `input` / `param` / `const` name this node is bound to, if any.
    pub name: Option<String>,
    /// Short description of the operation for tables: `dwconv`, `*`, `as u8 wrap`.
    pub label: String,
    /// The let (or declaration) whose expression produced this node.
    pub owner: String,
    /// Multiply-accumulates per image.
    pub macs: u64,
    pub span: Span,
}

impl Node {
    /// Hull of the per-channel ranges.
    pub fn range(&self) -> Interval {
        self.ranges
            .iter()
            .copied()
            .reduce(Interval::hull)
            .unwrap_or(Interval::point(0))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct InputInfo {
    pub name: String,
    pub node: NodeId,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OutputInfo {
    pub name: String,
    pub node: NodeId,
}

/// `@hls(pe: N, simd: M)` on a `let`, validated by the checker: the HLS
/// parallelism of the stage the `let` names (`Node::owner`). No backend that
/// computes values reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageHint {
    /// The stage, as in `Node::owner` (`y`, or `y.dw` inside a block).
    pub stage: String,
    pub pe: Option<usize>,
    pub simd: Option<usize>,
    /// The attribute(s), for messages.
    pub span: Span,
}

/// A checked pipeline.
#[derive(Clone, Debug, PartialEq)]
pub struct Program {
    pub name: String,
    pub nodes: Vec<Node>,
    pub inputs: Vec<InputInfo>,
    pub outputs: Vec<OutputInfo>,
    /// HLS hints of the stages that have one, in source order.
    pub hints: Vec<StageHint>,
}

impl Program {
    pub fn total_macs(&self) -> u64 {
        self.nodes.iter().map(|n| n.macs).sum()
    }
}
