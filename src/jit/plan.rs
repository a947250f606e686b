//! Which nodes get a buffer, which are fused into the loop of another, and
//! how every buffer is laid out.
//!
//! A node is *materialized* (owns a buffer) when it is an input, a constant,
//! an output, read more than once, or read by a stage that needs random
//! access (conv, deconv, pooling, upsampling, concat, unpool). Every other
//! node is computed inside the loop of the one materialized node that reads
//! it: elementwise chains collapse into one loop nest, and one producing
//! stage (a conv, deconv, pool, upsample or concat) may sit at the bottom of
//! that chain as the stage's *core*. Stages run in topological order.
//!
//! Buffers are `[C][top + H + bottom][left + W + right]`: the halo on each
//! side is the larger of the declared `pad` and what the readers need, so
//! convolutions read their zero padding from memory instead of testing
//! bounds (halos are zero and never written).

use super::JitError;
use crate::ir::{Node, NodeId, Op, Program, Shape};

/// `[C, H, W]` of a node's value: vectors are `[N, 1, 1]`, scalars `[1, 1, 1]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Dims {
    pub c: usize,
    pub h: usize,
    pub w: usize,
}

pub(crate) fn dims(shape: &Shape) -> Dims {
    match *shape {
        Shape::Scalar => Dims { c: 1, h: 1, w: 1 },
        Shape::Vector(n) => Dims { c: n, h: 1, w: 1 },
        Shape::Map { c, h, w } => Dims { c, h, w },
        Shape::Weights { o, i, kh, kw } => Dims {
            c: o,
            h: 1,
            w: i * kh * kw,
        },
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Halo {
    pub top: usize,
    pub bottom: usize,
    pub left: usize,
    pub right: usize,
}

impl Halo {
    fn cover(&mut self, other: Halo) {
        self.top = self.top.max(other.top);
        self.bottom = self.bottom.max(other.bottom);
        self.left = self.left.max(other.left);
        self.right = self.right.max(other.right);
    }
}

/// Storage element: `bytes` wide, read back signed or unsigned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Elem {
    pub bytes: usize,
    pub signed: bool,
}

impl Elem {
    /// The narrowest of u8/i8 ... u64/i64/i128 holding every value of `lo..=hi`.
    pub fn for_range(lo: i128, hi: i128) -> Elem {
        for bytes in [1usize, 2, 4, 8] {
            let bits = 8 * bytes as u32;
            if lo >= 0 && hi < (1i128 << bits) {
                return Elem {
                    bytes,
                    signed: false,
                };
            }
            let half = 1i128 << (bits - 1);
            if lo >= -half && hi < half {
                return Elem {
                    bytes,
                    signed: true,
                };
            }
        }
        Elem {
            bytes: 16,
            signed: true,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Buffer {
    pub dims: Dims,
    pub halo: Halo,
    pub elem: Elem,
    /// Constant contents (a `param` or `const`), in C order without halo.
    pub constant: Option<Vec<i128>>,
}

impl Buffer {
    pub fn rows(&self) -> usize {
        self.halo.top + self.dims.h + self.halo.bottom
    }
    pub fn stride(&self) -> usize {
        self.halo.left + self.dims.w + self.halo.right
    }
    pub fn elems(&self) -> usize {
        self.dims.c * self.rows() * self.stride()
    }
    pub fn bytes(&self) -> usize {
        self.elems() * self.elem.bytes
    }
    /// Element offset of interior position `(c, y, x)`.
    pub fn offset(&self, c: usize, y: usize, x: usize) -> usize {
        (c * self.rows() + y + self.halo.top) * self.stride() + x + self.halo.left
    }
}

/// One generated function: computes `root` (and everything fused into it).
#[derive(Clone, Debug)]
pub(crate) struct Stage {
    pub root: NodeId,
    /// The producing operation at the bottom of the fused chain, if any.
    pub core: Option<NodeId>,
}

#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub buffers: Vec<Buffer>,
    /// Node -> its buffer, for materialized nodes.
    pub buffer_of: Vec<Option<usize>>,
    pub stages: Vec<Stage>,
}

pub(crate) fn is_elementwise(op: &Op) -> bool {
    matches!(
        op,
        Op::Neg(_)
            | Op::Relu(_)
            | Op::Round(..)
            | Op::Shr(..)
            | Op::Shl(..)
            | Op::Binary(..)
            | Op::Cast { .. }
    )
}

/// Operations that can be the core of a fused stage.
fn is_core(op: &Op) -> bool {
    matches!(
        op,
        Op::Conv { .. }
            | Op::Deconv { .. }
            | Op::Upsample { .. }
            | Op::MaxPool { .. }
            | Op::MaxPoolIndices { .. }
            | Op::Concat(_)
    )
}

pub(crate) fn unsupported(id: NodeId, node: &Node, reason: impl Into<String>) -> JitError {
    JitError::Unsupported {
        node: id,
        label: node.label.clone(),
        owner: node.owner.clone(),
        span: node.span,
        reason: reason.into(),
    }
}

pub(crate) fn plan(program: &Program) -> Result<Plan, JitError> {
    let n = program.nodes.len();
    let mut uses = vec![0usize; n];
    let mut consumer = vec![None; n];
    for (id, node) in program.nodes.iter().enumerate() {
        for x in node.op.operands() {
            if x >= id {
                return Err(unsupported(
                    id,
                    node,
                    "operands are not in topological order",
                ));
            }
            uses[x] += 1;
            consumer[x] = Some(id);
        }
        if node.ranges.len() != node.shape.channels() {
            return Err(unsupported(id, node, "the node has no range per channel"));
        }
    }
    let mut output = vec![false; n];
    for o in &program.outputs {
        if o.node >= n {
            return Err(JitError::Program {
                reason: format!("output `{}` names no node", o.name),
            });
        }
        output[o.node] = true;
    }
    // Walk from the last node back: a node's consumer has been decided first.
    let mut root: Vec<NodeId> = (0..n).collect();
    let mut core: Vec<Option<NodeId>> = vec![None; n];
    let mut materialized = vec![false; n];
    for id in (0..n).rev() {
        let node = &program.nodes[id];
        let leaf = matches!(node.op, Op::Input { .. } | Op::Constant { .. });
        let fusable_into = match consumer[id] {
            Some(u) if uses[id] == 1 && !output[id] && !leaf => {
                is_elementwise(&program.nodes[u].op).then_some(u)
            }
            _ => None,
        };
        match fusable_into {
            Some(u) if is_elementwise(&node.op) => root[id] = root[u],
            Some(u) if is_core(&node.op) && core[root[u]].is_none() => {
                root[id] = root[u];
                core[root[u]] = Some(id);
            }
            _ => {
                materialized[id] = true;
                if is_core(&node.op) {
                    core[id] = Some(id);
                }
            }
        }
    }
    let mut buffers = vec![];
    let mut buffer_of = vec![None; n];
    for id in (0..n).filter(|&id| materialized[id]) {
        let node = &program.nodes[id];
        let range = node.range();
        let constant = match &node.op {
            Op::Constant { data } if data.len() == node.shape.len() => Some(data.clone()),
            Op::Constant { .. } => {
                return Err(unsupported(id, node, "constant of the wrong length"))
            }
            _ => None,
        };
        let d = dims(&node.shape);
        let halo = if matches!(node.shape, Shape::Map { .. }) {
            Halo {
                top: node.halo,
                bottom: node.halo,
                left: node.halo,
                right: node.halo,
            }
        } else {
            Halo::default()
        };
        buffer_of[id] = Some(buffers.len());
        buffers.push(Buffer {
            dims: d,
            halo,
            elem: Elem::for_range(range.lo.min(0), range.hi.max(0)),
            constant,
        });
    }
    let mut stages = vec![];
    for id in 0..n {
        let node = &program.nodes[id];
        if !materialized[id] || matches!(node.op, Op::Input { .. } | Op::Constant { .. }) {
            continue;
        }
        stages.push(Stage {
            root: id,
            core: core[id],
        });
        if let Some(c) = core[id] {
            let need = read_halo(program, c)?;
            if let Some((x, halo)) = need {
                let b = buffer_of[x]
                    .ok_or_else(|| unsupported(c, &program.nodes[c], "unbuffered operand"))?;
                buffers[b].halo.cover(halo);
            }
        }
    }
    for buf in &mut buffers {
        // Planes a multiple of 4 KiB apart map every channel's row to the
        // same cache sets; vector kernels read 4 to 64 channels at once.
        if buf.dims.h > 1 && (buf.rows() * buf.stride() * buf.elem.bytes) % 4096 == 0 {
            buf.halo.right += 64 / buf.elem.bytes;
        }
    }
    Ok(Plan {
        buffers,
        buffer_of,
        stages,
    })
}

/// How far outside its operand's plane a core stage reads.
fn read_halo(program: &Program, id: NodeId) -> Result<Option<(NodeId, Halo)>, JitError> {
    let node = &program.nodes[id];
    let d = dims(&node.shape);
    Ok(match &node.op {
        Op::Conv { x, w, geom } => {
            let xd = dims(&program.nodes[*x].shape);
            let wd = weight_dims(program, id, *w)?;
            let last_y = (d.h - 1) * geom.stride.h + (wd.2 - 1) * geom.dilation.h;
            let last_x = (d.w - 1) * geom.stride.w + (wd.3 - 1) * geom.dilation.w;
            Some((
                *x,
                Halo {
                    top: geom.pad.top,
                    bottom: (last_y + 1).saturating_sub(geom.pad.top + xd.h),
                    left: geom.pad.left,
                    right: (last_x + 1).saturating_sub(geom.pad.left + xd.w),
                },
            ))
        }
        Op::Deconv { x, w, geom } => {
            let xd = dims(&program.nodes[*x].shape);
            let wd = weight_dims(program, id, *w)?;
            let rows = deconv_axis(d.h, geom.pad.top, wd.2, geom.dilation.h, geom.stride.h);
            let cols = deconv_axis(d.w, geom.pad.left, wd.3, geom.dilation.w, geom.stride.w);
            Some((
                *x,
                Halo {
                    top: rows.halo_before(),
                    bottom: rows.halo_after(xd.h),
                    left: cols.halo_before(),
                    right: cols.halo_after(xd.w),
                },
            ))
        }
        Op::MaxPool { x, geom } | Op::MaxPoolIndices { x, geom } => {
            let xd = dims(&program.nodes[*x].shape);
            let last_y = (d.h - 1) * geom.stride.h + geom.kernel.h - 1;
            let last_x = (d.w - 1) * geom.stride.w + geom.kernel.w - 1;
            Some((
                *x,
                Halo {
                    top: geom.pad.top,
                    bottom: (last_y + 1).saturating_sub(geom.pad.top + xd.h),
                    left: geom.pad.left,
                    right: (last_x + 1).saturating_sub(geom.pad.left + xd.w),
                },
            ))
        }
        _ => None,
    })
}

pub(crate) fn weight_dims(
    program: &Program,
    id: NodeId,
    w: NodeId,
) -> Result<(usize, usize, usize, usize), JitError> {
    match program.nodes[w].shape {
        Shape::Weights { o, i, kh, kw } => Ok((o, i, kh, kw)),
        _ => Err(unsupported(
            id,
            &program.nodes[id],
            "weights are not [O, I, KH, KW]",
        )),
    }
}

/// One axis of a transposed convolution, gathered by stride phase.
///
/// Output `o` satisfies `o + pad = q * stride + r` (`0 <= r < stride`); tap
/// `k` contributes when `k * dilation = m * stride + r`, reading input
/// `q - m`. So each phase `r` is a dense convolution over `q` with the taps
/// `taps[r]` (pairs `(k, m)`), and no multiplication touches an inserted zero.
#[derive(Clone, Debug)]
pub(crate) struct DeconvAxis {
    pub stride: usize,
    pub pad: usize,
    pub out: usize,
    /// Per phase `r`: the taps `(k, m)`.
    pub taps: Vec<Vec<(usize, usize)>>,
}

impl DeconvAxis {
    /// Smallest and largest `q` over the outputs.
    fn q_bounds(&self) -> (usize, usize) {
        (
            self.pad / self.stride,
            (self.out - 1 + self.pad) / self.stride,
        )
    }
    fn max_m(&self) -> usize {
        self.taps
            .iter()
            .flatten()
            .map(|&(_, m)| m)
            .max()
            .unwrap_or(0)
    }
    fn halo_before(&self) -> usize {
        self.max_m().saturating_sub(self.q_bounds().0)
    }
    fn halo_after(&self, size: usize) -> usize {
        (self.q_bounds().1 + 1).saturating_sub(size)
    }
}

pub(crate) fn deconv_axis(
    out: usize,
    pad: usize,
    k: usize,
    dilation: usize,
    stride: usize,
) -> DeconvAxis {
    let mut taps = vec![vec![]; stride];
    for tap in 0..k {
        let at = tap * dilation;
        taps[at % stride].push((tap, at / stride));
    }
    DeconvAxis {
        stride,
        pad,
        out,
        taps,
    }
}
