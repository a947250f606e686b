//! Shared subexpressions: identical pure nodes become one.
//!
//! Every operation of the IR is pure, so two nodes with the same operation on
//! the same operands (after their own operands were merged) and the same
//! proven facts (shape, frac, ranges, type, halo) hold the same values. The
//! checker builds one node per occurrence in the source; this pass keeps the
//! first of each class and points every reader of the others at it, so
//! `conv(x, w)` written twice is computed once by every backend. A `let`
//! read several times is already one node; the backends' planners decide
//! whether a node read by several operations of one stage is computed inside
//! that stage or stored (`jit::plan`, `hls::plan`).
//!
//! Names: nodes bound to two different names stay apart (a test, the REPL
//! and the language server find values by name); otherwise the kept node
//! keeps its name, or takes the merged one's. Stages: a node of a stage
//! with an `@hls` attribute is merged only with nodes of that same stage
//! (the attribute sets the parallelism of what the stage computes).

use super::{Node, NodeId, Op, Program};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

/// The facts that decide whether two nodes hold the same values (and may
/// carry one name).
fn same_values(a: &Node, b: &Node) -> bool {
    let names_agree = match (&a.name, &b.name) {
        (Some(x), Some(y)) => x == y,
        _ => true,
    };
    names_agree
        && a.op == b.op
        && a.shape == b.shape
        && a.frac == b.frac
        && a.ranges == b.ranges
        && a.ty == b.ty
        && a.halo == b.halo
}

fn fingerprint(node: &Node) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    node.op.hash(&mut h);
    node.shape.hash(&mut h);
    node.frac.hash(&mut h);
    node.ranges.hash(&mut h);
    node.ty.hash(&mut h);
    node.halo.hash(&mut h);
    h.finish()
}

impl Op {
    /// The same operation on operands renamed by `f`.
    pub fn map_operands(&self, f: impl Fn(NodeId) -> NodeId) -> Op {
        let mut op = self.clone();
        match &mut op {
            Op::Input { .. } | Op::Constant { .. } => {}
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
            | Op::Remap { x, .. } => *x = f(*x),
            Op::Binary(_, a, b) => {
                *a = f(*a);
                *b = f(*b);
            }
            Op::Conv { x, w, .. } | Op::Deconv { x, w, .. } => {
                *x = f(*x);
                *w = f(*w);
            }
            Op::Lookup { x, table, .. } => {
                *x = f(*x);
                *table = f(*table);
            }
            Op::MaxUnpool { x, idx, .. } => {
                *x = f(*x);
                *idx = f(*idx);
            }
            Op::Concat(xs) => xs.iter_mut().for_each(|x| *x = f(*x)),
        }
        op
    }
}

impl Program {
    /// This program with every class of identical nodes merged into its first
    /// node (topological order and every invariant kept).
    pub fn share_subexpressions(self) -> Program {
        let Program {
            name,
            nodes,
            inputs,
            outputs,
            hints,
        } = self;
        let mut kept: Vec<Node> = Vec::with_capacity(nodes.len());
        // Old id -> new id.
        let mut new_id: Vec<NodeId> = Vec::with_capacity(nodes.len());
        let mut classes: HashMap<u64, Vec<NodeId>> = HashMap::new();
        // A stage with an `@hls` attribute keeps what it computes: merged
        // into another stage, its conv would no longer be there for the
        // `pe` / `simd` the checker validated against it.
        let hinted = |stage: &str| hints.iter().any(|h| h.stage == stage);
        let may_merge =
            |a: &Node, b: &Node| a.owner == b.owner || !(hinted(&a.owner) || hinted(&b.owner));
        for mut node in nodes {
            node.op = node
                .op
                .map_operands(|x| new_id.get(x).copied().unwrap_or(x));
            let key = fingerprint(&node);
            let bucket = classes.entry(key).or_default();
            match bucket
                .iter()
                .copied()
                .find(|&k| same_values(&kept[k], &node) && may_merge(&kept[k], &node))
            {
                Some(k) => {
                    if kept[k].name.is_none() {
                        kept[k].name = node.name.take();
                    }
                    new_id.push(k);
                }
                None => {
                    bucket.push(kept.len());
                    new_id.push(kept.len());
                    kept.push(node);
                }
            }
        }
        let renumber = |id: NodeId| new_id.get(id).copied().unwrap_or(id);
        Program {
            name,
            nodes: kept,
            inputs: inputs
                .into_iter()
                .map(|mut i| {
                    i.node = renumber(i.node);
                    i
                })
                .collect(),
            outputs: outputs
                .into_iter()
                .map(|mut o| {
                    o.node = renumber(o.node);
                    o
                })
                .collect(),
            hints,
        }
    }
}
