//! Which values live in buffers and which are computed inline: the kernels
//! both styles and the estimator share.
//!
//! A node is *static* when it does not depend on an input (weights, biases,
//! constants and anything folded from them): it becomes a `const` array.
//! Every other node is a map computed per pixel. A dynamic node is
//! *materialized* (an array in the `array` style, a stream in the `stream`
//! style) when it is an input, an output or a named `let`, when it is read
//! by a spatial stage (conv, deconv, pooling, unpooling, upsampling, concat),
//! or when operations of more than one kernel read it. Everything else is
//! fused into the kernel that reads it (computed once there, however often
//! the kernel reads it): a kernel is one
//! spatial *core* at most (the conv of `relu(conv(x, w) + b) >> 7 as u8`),
//! followed by an elementwise epilogue, one output pixel at a time.

use crate::ir::{NodeId, Op, PoolGeom, Program};

/// One function of the emitted design: computes `out` (and, for a max-pool
/// whose indices are used too, `indices`) one pixel at a time.
#[derive(Clone, Debug)]
pub struct Kernel {
    pub out: NodeId,
    /// The paired `MaxPoolIndices` node computed in the same window scan.
    pub indices: Option<NodeId>,
    /// The spatial node at the root of the computation, if any.
    pub core: Option<NodeId>,
    /// The dynamic nodes computed inline, in topological order (`out` last).
    pub body: Vec<NodeId>,
    /// Materialized nodes read at the output pixel by the epilogue.
    pub pixel_reads: Vec<NodeId>,
    /// Materialized nodes the core reads through a window (or, for concat,
    /// by channel), in operand order.
    pub window_reads: Vec<NodeId>,
    /// Static nodes the kernel reads.
    pub statics: Vec<NodeId>,
    /// The stage (`let` name) the kernel belongs to.
    pub stage: String,
}

pub struct Plan {
    pub is_static: Vec<bool>,
    pub materialized: Vec<bool>,
    pub kernels: Vec<Kernel>,
}

impl Plan {
    pub fn new(program: &Program) -> Plan {
        let n = program.nodes.len();
        let is_static: Vec<bool> = program.reads_inputs().iter().map(|r| !r).collect();
        let uses = program.use_counts();
        let mut spatial_use = vec![false; n];
        // A spatial stage (an unpool too: its kernel searches the input for
        // each output pixel) reads its operands at other positions. Conv and
        // deconv weights are static; their map operand is read through a window.
        for node in program.nodes.iter().filter(|n| n.op.is_spatial()) {
            for o in node.op.operands() {
                spatial_use[o] = true;
            }
        }
        // Only what an output depends on is computed.
        let live = program.live();
        let mut materialized = vec![false; n];
        for (id, node) in program.nodes.iter().enumerate() {
            let input = matches!(node.op, Op::Input { .. });
            if is_static[id] || !(live[id] || input) {
                continue;
            }
            materialized[id] = matches!(node.op, Op::Input { .. })
                || node.name.is_some()
                || uses[id] == 0
                || spatial_use[id];
        }
        for out in &program.outputs {
            if !is_static[out.node] {
                materialized[out.node] = true;
            }
        }
        // A value read by several operations is computed once: inside the
        // kernel that reads it when every reader is in that kernel (PReLU's
        // accumulator), else in a kernel of its own. Readers come later in
        // topological order, so walking back decides them first.
        let mut readers: Vec<Vec<NodeId>> = vec![vec![]; n];
        for (u, node) in program.nodes.iter().enumerate().filter(|&(u, _)| live[u]) {
            for o in node.op.operands() {
                readers[o].push(u);
            }
        }
        let mut kernel_of: Vec<NodeId> = (0..n).collect();
        for id in (0..n).rev() {
            if materialized[id] || is_static[id] || !live[id] {
                continue;
            }
            let roots: Vec<NodeId> = readers[id].iter().map(|&u| kernel_of[u]).collect();
            match roots.split_first() {
                Some((&first, rest)) if rest.iter().all(|&r| r == first) => kernel_of[id] = first,
                _ => materialized[id] = true,
            }
        }
        // At most one spatial core per kernel: materialize the extra ones.
        loop {
            let mut changed = false;
            for id in 0..n {
                if !materialized[id] || matches!(program.nodes[id].op, Op::Input { .. }) {
                    continue;
                }
                let body = collect_body(program, &is_static, &materialized, id);
                let spatial: Vec<NodeId> = body
                    .iter()
                    .copied()
                    .filter(|&b| program.nodes[b].op.is_spatial())
                    .collect();
                for &extra in spatial.iter().skip(1) {
                    materialized[extra] = true;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        let mut kernels: Vec<Kernel> = vec![];
        let mut paired = vec![false; n];
        for id in 0..n {
            if !materialized[id] || paired[id] || matches!(program.nodes[id].op, Op::Input { .. }) {
                continue;
            }
            let body = collect_body(program, &is_static, &materialized, id);
            let core = body
                .iter()
                .copied()
                .find(|&b| program.nodes[b].op.is_spatial());
            let mut indices = None;
            if let Op::MaxPool { x, geom } = program.nodes[id].op {
                indices = find_indices(program, &materialized, x, &geom, id);
                if let Some(i) = indices {
                    paired[i] = true;
                }
            }
            let mut pixel_reads = vec![];
            let mut statics = vec![];
            let mut window_reads = vec![];
            for &b in &body {
                let is_core = Some(b) == core;
                for o in program.nodes[b].op.operands() {
                    if is_static[o] {
                        if !statics.contains(&o) {
                            statics.push(o);
                        }
                    } else if materialized[o] {
                        let list = if is_core {
                            &mut window_reads
                        } else {
                            &mut pixel_reads
                        };
                        if !list.contains(&o) {
                            list.push(o);
                        }
                    }
                }
            }
            kernels.push(Kernel {
                out: id,
                indices,
                core,
                body,
                pixel_reads,
                window_reads,
                statics,
                stage: program.nodes[id].owner.clone(),
            });
        }
        Plan {
            is_static,
            materialized,
            kernels,
        }
    }
}

/// The dynamic, non-materialized nodes `root` is computed from, plus `root`,
/// in topological (id) order.
fn collect_body(
    program: &Program,
    is_static: &[bool],
    materialized: &[bool],
    root: NodeId,
) -> Vec<NodeId> {
    let mut body = vec![root];
    let mut stack = vec![root];
    while let Some(id) = stack.pop() {
        for o in program.nodes[id].op.operands() {
            if !is_static[o] && !materialized[o] && !body.contains(&o) {
                body.push(o);
                stack.push(o);
            }
        }
    }
    body.sort_unstable();
    body
}

/// A materialized `MaxPoolIndices` node over the same input and geometry.
fn find_indices(
    program: &Program,
    materialized: &[bool],
    x: NodeId,
    geom: &PoolGeom,
    values: NodeId,
) -> Option<NodeId> {
    program
        .nodes
        .iter()
        .enumerate()
        .find_map(|(id, n)| match n.op {
            Op::MaxPoolIndices { x: ix, geom: ig }
                if ix == x && ig == *geom && materialized[id] && id != values =>
            {
                Some(id)
            }
            _ => None,
        })
}
