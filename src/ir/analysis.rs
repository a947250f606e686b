//! Questions every backend asks of a checked program: what kind of operation
//! a node is, how often it is read, what the outputs depend on, and its value
//! seen as a `[C, H, W]` map. The fusion planners of the JIT and of the HLS
//! emitter both decide with these, so they classify operations alike.

use super::{Node, NodeId, Op, Pads, Program, Shape};

/// How an operation produces its values, which decides what a fusion
/// planner may do with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// Inputs and constants: no operands, always held in memory.
    Leaf,
    /// Each element from the operands' elements at the same position
    /// (broadcast): computed inline in the loop of the node that reads it.
    Elementwise,
    /// Each output pixel from a window of its operand (or, for concat, from
    /// one operand's channel): operands are read at other positions than the
    /// pixel being computed, so they must be in memory. Computed one output
    /// pixel at a time, it can be the *core* at the bottom of a fused stage.
    Gather,
    /// Each input pixel decides which output pixel it lands on (`MaxUnpool`).
    /// Spatial like a gather (operands in memory), but an output pixel is
    /// known only after searching the input for what lands there: the HLS
    /// kernel does that search and fuses it as a core; the JIT scatters in a
    /// stage of its own, never fused.
    Scatter,
}

impl Op {
    pub fn kind(&self) -> OpKind {
        match self {
            Op::Input { .. } | Op::Constant { .. } => OpKind::Leaf,
            Op::Neg(_)
            | Op::Relu(_)
            | Op::Round(..)
            | Op::Shr(..)
            | Op::Shl(..)
            | Op::Binary(..)
            | Op::Cast { .. }
            | Op::Lookup { .. }
            | Op::DivRound { .. } => OpKind::Elementwise,
            Op::Conv { .. }
            | Op::Deconv { .. }
            | Op::Upsample { .. }
            | Op::MaxPool { .. }
            | Op::MaxPoolIndices { .. }
            | Op::Reduce { .. }
            | Op::Concat(_)
            | Op::Remap { .. } => OpKind::Gather,
            Op::MaxUnpool { .. } => OpKind::Scatter,
        }
    }

    /// An input or a constant.
    pub fn is_leaf(&self) -> bool {
        self.kind() == OpKind::Leaf
    }

    pub fn is_elementwise(&self) -> bool {
        self.kind() == OpKind::Elementwise
    }

    /// Reads its operands at other positions than its own (a gather or a
    /// scatter): every operand it reads must be materialized.
    pub fn is_spatial(&self) -> bool {
        matches!(self.kind(), OpKind::Gather | OpKind::Scatter)
    }

    /// Computes one output pixel at a time from windows of its operands: what
    /// a stage fused pixel by pixel may have at its bottom.
    pub fn is_gather(&self) -> bool {
        self.kind() == OpKind::Gather
    }
}

/// Input channels per group of a conv or deconv node: the reduction that
/// SIMD lanes split (`None` for every other node).
pub fn reduction_channels(nodes: &[Node], id: NodeId) -> Option<usize> {
    match &nodes[id].op {
        Op::Conv { w, .. } => match nodes[*w].shape {
            Shape::Weights { i, .. } => Some(i),
            _ => None,
        },
        Op::Deconv { x, geom, .. } => Some(nodes[*x].shape.chw().c / geom.groups.max(1)),
        _ => None,
    }
}

impl Program {
    /// How many times each node is read (an operand named twice counts twice).
    pub fn use_counts(&self) -> Vec<usize> {
        let mut uses = vec![0; self.nodes.len()];
        for node in &self.nodes {
            for x in node.op.operands() {
                if let Some(u) = uses.get_mut(x) {
                    *u += 1;
                }
            }
        }
        uses
    }

    /// Which nodes depend on a pipeline input; the others (constants and
    /// what is computed from them alone) are the same for every image.
    pub fn reads_inputs(&self) -> Vec<bool> {
        let mut reads = vec![false; self.nodes.len()];
        for (id, node) in self.nodes.iter().enumerate() {
            reads[id] = matches!(node.op, Op::Input { .. })
                || node
                    .op
                    .operands()
                    .iter()
                    .any(|&x| reads.get(x).copied().unwrap_or(false));
        }
        reads
    }

    /// Which nodes an output depends on (the outputs included): the rest
    /// need not be computed.
    pub fn live(&self) -> Vec<bool> {
        let mut live = vec![false; self.nodes.len()];
        for out in &self.outputs {
            if let Some(l) = live.get_mut(out.node) {
                *l = true;
            }
        }
        // Topological order: every user is decided before its operands.
        for id in (0..self.nodes.len()).rev() {
            if live[id] {
                for x in self.nodes[id].op.operands() {
                    if let Some(l) = live.get_mut(x) {
                        *l = true;
                    }
                }
            }
        }
        live
    }
}

/// A value seen as a `[C, H, W]` map: see [`Shape::chw`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Chw {
    pub c: usize,
    pub h: usize,
    pub w: usize,
}

impl Shape {
    /// The value as a `[C, H, W]` map, the layout every backend stores:
    /// a map is itself, a vector `[N]` is `[N, 1, 1]` (one value per
    /// channel), a scalar `[1, 1, 1]`, and weights `[O, I, KH, KW]` are
    /// `[O, 1, I * KH * KW]` (one row of taps per output channel).
    pub fn chw(&self) -> Chw {
        match *self {
            Shape::Scalar => Chw { c: 1, h: 1, w: 1 },
            Shape::Vector(n) => Chw { c: n, h: 1, w: 1 },
            Shape::Map { c, h, w } => Chw { c, h, w },
            Shape::Weights { o, i, kh, kw } => Chw {
                c: o,
                h: 1,
                w: i * kh * kw,
            },
        }
    }
}

impl Pads {
    /// The same padding on every side.
    pub fn uniform(n: usize) -> Pads {
        Pads {
            top: n,
            bottom: n,
            left: n,
            right: n,
        }
    }

    /// Widens every side to cover `other` too.
    pub fn cover(&mut self, other: Pads) {
        self.top = self.top.max(other.top);
        self.bottom = self.bottom.max(other.bottom);
        self.left = self.left.max(other.left);
        self.right = self.right.max(other.right);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{ConvGeom, Elementwise, InputInfo, Node, OutputInfo, Pair};
    use crate::span::Span;
    use crate::types::ScalarType;

    fn node(op: Op, shape: Shape) -> Node {
        Node {
            op,
            ranges: vec![crate::ir::Interval::point(0); shape.channels()],
            shape,
            frac: 0,
            ty: ScalarType::int(false, 1),
            halo: 0,
            name: None,
            label: String::new(),
            owner: String::new(),
            macs: 0,
            span: Span::default(),
        }
    }

    #[test]
    fn maps_vectors_scalars_and_weights_as_chw() {
        let map = Shape::Map { c: 3, h: 4, w: 5 };
        assert_eq!(map.chw(), Chw { c: 3, h: 4, w: 5 });
        assert_eq!(Shape::Vector(7).chw(), Chw { c: 7, h: 1, w: 1 });
        assert_eq!(Shape::Scalar.chw(), Chw { c: 1, h: 1, w: 1 });
        let weights = Shape::Weights {
            o: 8,
            i: 2,
            kh: 3,
            kw: 3,
        };
        assert_eq!(weights.chw(), Chw { c: 8, h: 1, w: 18 });
    }

    #[test]
    fn unpool_is_spatial_but_not_a_gather() {
        let unpool = Op::MaxUnpool {
            x: 0,
            idx: 1,
            out: Pair { h: 2, w: 2 },
        };
        assert!(unpool.is_spatial() && !unpool.is_gather());
        let concat = Op::Concat(vec![0, 1]);
        assert!(concat.is_spatial() && concat.is_gather());
        assert!(Op::Relu(0).is_elementwise() && !Op::Relu(0).is_spatial());
        assert!(Op::Input { index: 0 }.is_leaf());
    }

    #[test]
    fn use_counts_and_liveness() {
        let map = Shape::Map { c: 1, h: 2, w: 2 };
        let weights = Shape::Weights {
            o: 1,
            i: 1,
            kh: 1,
            kw: 1,
        };
        let geom = ConvGeom {
            stride: Pair { h: 1, w: 1 },
            pad: Pads::default(),
            dilation: Pair { h: 1, w: 1 },
            groups: 1,
            output_pad: Pair { h: 0, w: 0 },
        };
        let program = Program {
            name: "p".into(),
            nodes: vec![
                node(Op::Input { index: 0 }, map.clone()),
                node(Op::Constant { data: vec![1] }, weights),
                node(Op::Conv { x: 0, w: 1, geom }, map.clone()),
                node(Op::Binary(Elementwise::Add, 2, 2), map.clone()),
                node(Op::Relu(0), map),
            ],
            inputs: vec![InputInfo {
                name: "x".into(),
                node: 0,
            }],
            outputs: vec![OutputInfo {
                name: "y".into(),
                node: 3,
            }],
            hints: vec![],
        };
        assert_eq!(program.use_counts(), [2, 1, 2, 0, 0]);
        assert_eq!(program.reads_inputs(), [true, false, true, true, true]);
        assert_eq!(program.live(), [true, true, true, true, false]);
    }

    #[test]
    fn pads_cover_each_side() {
        let mut p = Pads::uniform(1);
        p.cover(Pads {
            top: 0,
            bottom: 3,
            left: 2,
            right: 0,
        });
        assert_eq!(
            p,
            Pads {
                top: 1,
                bottom: 3,
                left: 2,
                right: 1
            }
        );
    }
}
