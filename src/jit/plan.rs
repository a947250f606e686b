//! Which nodes get a buffer, which are fused into the loop of another, and
//! how every buffer is laid out.
//!
//! A node is *materialized* (owns a buffer) when it is an input, a constant,
//! an output, read by more than one stage, or read by a stage that needs
//! random access (conv, deconv, pooling, upsampling, concat, unpool). Every
//! other node is computed inside the loop of the stage that reads it (once,
//! however often that stage reads it): elementwise chains collapse into one
//! loop nest, and one producing
//! stage (a conv, deconv, pool, upsample or concat) may sit at the bottom of
//! that chain as the stage's *core*. Stages run in topological order.
//!
//! Buffers are `[C][top + H + bottom][left + W + right]`: the halo on each
//! side is the larger of the declared `pad` and what the readers need, so
//! convolutions read their zero padding from memory instead of testing
//! bounds (halos are zero and never written).

use super::JitError;
use crate::ir::{Chw, Node, NodeId, Op, Pads, Pair, Program, Shape};

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
    pub dims: Chw,
    pub halo: Pads,
    pub elem: Elem,
    /// Constant contents (a `param` or `const`), in C order without halo.
    pub constant: Option<Vec<i128>>,
    /// `(buffer, byte offset)`: this buffer is those bytes of another one
    /// (a concatenation's input laid out in place, `layout`).
    pub view: Option<(usize, usize)>,
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
    let mut consumers: Vec<Vec<NodeId>> = vec![vec![]; n];
    for (id, node) in program.nodes.iter().enumerate() {
        for x in node.op.operands() {
            if x >= id {
                return Err(unsupported(
                    id,
                    node,
                    "operands are not in topological order",
                ));
            }
            consumers[x].push(id);
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
    // Walk from the last node back: a node's consumers have been decided
    // first. A node goes into the stage of its consumers when they are all
    // elementwise and in one stage (a value read twice by one stage, as
    // PReLU reads its accumulator, is computed once there: the core's value
    // is held per pixel, an elementwise node is pure and Cranelift's value
    // numbering merges its copies). A stage computes its root pixel by
    // pixel, so only a gather can be its core; an unpool (a scatter) is a
    // stage of its own (`Fx::unpool`).
    let mut root: Vec<NodeId> = (0..n).collect();
    let mut core: Vec<Option<NodeId>> = vec![None; n];
    let mut materialized = vec![false; n];
    for id in (0..n).rev() {
        let node = &program.nodes[id];
        let one_stage = |users: &[NodeId]| -> Option<NodeId> {
            let (&first, rest) = users.split_first()?;
            let all_elementwise = users.iter().all(|&u| program.nodes[u].op.is_elementwise());
            (all_elementwise && rest.iter().all(|&u| root[u] == root[first])).then_some(first)
        };
        let fusable_into = if output[id] || node.op.is_leaf() {
            None
        } else {
            one_stage(&consumers[id])
        };
        match fusable_into {
            Some(u) if node.op.is_elementwise() => root[id] = root[u],
            Some(u) if node.op.is_gather() && core[root[u]].is_none() => {
                root[id] = root[u];
                core[root[u]] = Some(id);
            }
            _ => {
                materialized[id] = true;
                if node.op.is_gather() {
                    core[id] = Some(id);
                }
            }
        }
    }
    own_tails(
        program,
        (&consumers, &output),
        (&mut root, &mut core, &mut materialized),
    );
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
        let halo = if matches!(node.shape, Shape::Map { .. }) {
            Pads::uniform(node.halo)
        } else {
            Pads::default()
        };
        buffer_of[id] = Some(buffers.len());
        buffers.push(Buffer {
            dims: node.shape.chw(),
            halo,
            elem: Elem::for_range(range.lo.min(0), range.hi.max(0)),
            constant,
            view: None,
        });
    }
    let mut stages = vec![];
    for id in 0..n {
        let node = &program.nodes[id];
        if !materialized[id] || node.op.is_leaf() {
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
        spread_planes(buf);
    }
    let mut plan = Plan {
        buffers,
        buffer_of,
        stages,
    };
    super::layout::place_concats(program, &mut plan);
    Ok(plan)
}

/// A tail that the walk in [`plan`] fused into its reader's stage goes
/// back to its own convolution: when an operand of a binary node of a
/// stage with a core (`c + s`, `c` that stage's convolution) is a chain of
/// elementwise nodes (`(s >> 8) as i8 sat`) down to a convolution that is
/// a stage of its own with no tail, the chain joins that convolution's
/// stage and its top is stored. The binary node then reads a stored map
/// (a residual map the kernels add) instead of a tail on another
/// stage's raw sums, which only scalar code computed (a ResNet block with
/// a 1x1 shortcut: 52 ms instead of 0.8).
fn own_tails(
    program: &Program,
    (consumers, output): (&[Vec<NodeId>], &[bool]),
    (root, core, materialized): (&mut [NodeId], &mut [Option<NodeId>], &mut [bool]),
) {
    for b in 0..program.nodes.len() {
        let Op::Binary(_, l, r) = program.nodes[b].op else {
            continue;
        };
        for top in [l, r] {
            if root[top] != root[b] || core[root[b]].is_none() || consumers[top] != [b] {
                continue;
            }
            let Some((chain, g)) = own_gather(program, (consumers, output), top) else {
                continue;
            };
            // The convolution is a stage of its own, with no tail.
            if !(materialized[g] && root[g] == g && core[g] == Some(g)) {
                continue;
            }
            for &c in &chain {
                root[c] = top;
            }
            materialized[top] = true;
            core[top] = Some(g);
            (root[g], core[g], materialized[g]) = (top, None, false);
        }
    }
}

/// The chain below elementwise node `top` when it leads, through
/// elementwise nodes of one computed operand each, read by nothing else,
/// to a gather read only by the chain and no output: the chain's nodes
/// (from `top` down) and the gather.
fn own_gather(
    program: &Program,
    (consumers, output): (&[Vec<NodeId>], &[bool]),
    top: NodeId,
) -> Option<(Vec<NodeId>, NodeId)> {
    let mut chain = vec![top];
    loop {
        let n = *chain.last()?;
        if !program.nodes[n].op.is_elementwise() {
            return None;
        }
        let computed: Vec<NodeId> = (program.nodes[n].op.operands().into_iter())
            .filter(|&x| !program.nodes[x].op.is_leaf())
            .collect();
        let [below] = computed[..] else {
            return None;
        };
        if output[below] || consumers[below] != [n] {
            return None;
        }
        if program.nodes[below].op.is_gather() {
            return Some((chain, below));
        }
        chain.push(below);
    }
}

/// Planes a multiple of 4 KiB apart map every channel's row to the same
/// cache sets; vector kernels read 4 to 64 channels at once. One more zero
/// row per plane breaks that at the least memory (a wider row would add to
/// every row, up to half the buffer).
pub(crate) fn spread_planes(buf: &mut Buffer) {
    let plane = |b: &Buffer| b.rows() * b.stride() * b.elem.bytes;
    if buf.dims.h > 1 && plane(buf) % 4096 == 0 {
        buf.halo.bottom += 1;
        if plane(buf) % 4096 == 0 {
            buf.halo.bottom -= 1;
            buf.halo.right += 64 / buf.elem.bytes;
        }
    }
}

/// How far outside its operand's plane a core stage reads.
pub(crate) fn read_halo(program: &Program, id: NodeId) -> Result<Option<(NodeId, Pads)>, JitError> {
    let node = &program.nodes[id];
    let d = node.shape.chw();
    Ok(match &node.op {
        Op::Conv { x, w, geom } => {
            let xd = program.nodes[*x].shape.chw();
            let wd = weight_dims(program, id, *w)?;
            let extent = Pair {
                h: (wd.2 - 1) * geom.dilation.h + 1,
                w: (wd.3 - 1) * geom.dilation.w + 1,
            };
            Some((*x, window_halo(d, xd, geom.stride, geom.pad, extent)))
        }
        Op::Deconv { x, w, geom } => {
            let xd = program.nodes[*x].shape.chw();
            let wd = weight_dims(program, id, *w)?;
            let rows = deconv_axis(d.h, geom.pad.top, wd.2, geom.dilation.h, geom.stride.h);
            let cols = deconv_axis(d.w, geom.pad.left, wd.3, geom.dilation.w, geom.stride.w);
            Some((
                *x,
                Pads {
                    top: rows.halo_before(),
                    bottom: rows.halo_after(xd.h),
                    left: cols.halo_before(),
                    right: cols.halo_after(xd.w),
                },
            ))
        }
        Op::MaxPool { x, geom } | Op::MaxPoolIndices { x, geom } => {
            let xd = program.nodes[*x].shape.chw();
            Some((*x, window_halo(d, xd, geom.stride, geom.pad, geom.kernel)))
        }
        _ => None,
    })
}

/// The halo around an `input` plane that windows of `extent` pixels read
/// for an `out` plane: the padding above and to the left, and below and to
/// the right whatever the last window reaches past the plane.
fn window_halo(out: Chw, input: Chw, stride: Pair, pad: Pads, extent: Pair) -> Pads {
    let last_y = (out.h - 1) * stride.h + extent.h - 1;
    let last_x = (out.w - 1) * stride.w + extent.w - 1;
    Pads {
        top: pad.top,
        bottom: (last_y + 1).saturating_sub(pad.top + input.h),
        left: pad.left,
        right: (last_x + 1).saturating_sub(pad.left + input.w),
    }
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
