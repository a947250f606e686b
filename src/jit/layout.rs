//! Concatenation as layout: a `concat` whose inputs are all computed by
//! stages into buffers of its own layout gets no stage. Each input's buffer
//! becomes a *view* of the concatenation's buffer at the input's first
//! channel (`Buffer::view`), its producer stores its channels there, and
//! nothing is copied.
//!
//! Buffers are `[C][rows][stride]` planes, each with its own halo, so an
//! input with the concatenation's element type, fraction, rows and stride
//! (the halos are unified: each is the cover of all) is exactly channels
//! `off..off + c` of the concatenation. The copy stays when any input
//! differs: a pipeline input or constant (the caller's bytes), another
//! element type or fraction (the copy converts), an input given twice or
//! already laid out into another concatenation, an unpool (a scatter), a
//! concatenation with an elementwise tail fused in (the copy computes it),
//! or a producer that reads a buffer of the same concatenation (a vector
//! kernel's loads may run past the end of a view into channels that other
//! threads of the stage store). Concatenations of concatenations nest: an
//! inner one laid out becomes a view of the outer one, and views are
//! resolved to the outermost buffer.

use super::plan::{spread_planes, Plan};
use crate::ir::{NodeId, Op, Pads, Program};

/// Lays out every concatenation of `plan` that can be (see the module
/// comment), dropping its stage.
pub(crate) fn place_concats(program: &Program, plan: &mut Plan) {
    let inputs: Vec<NodeId> = program.inputs.iter().map(|i| i.node).collect();
    for k in 0..program.nodes.len() {
        let Op::Concat(xs) = &program.nodes[k].op else {
            continue;
        };
        let Some(at) = plan
            .stages
            .iter()
            .position(|s| s.root == k && s.core == Some(k))
        else {
            continue;
        };
        let Some(members) = members(program, plan, &inputs, k, xs) else {
            continue;
        };
        let owner = plan.buffer_of[k].expect("a stage root has a buffer");
        let group: Vec<usize> = std::iter::once(owner)
            .chain(members.iter().map(|&(b, _)| b))
            .chain(nested(plan, &members))
            .collect();
        if !producers_read_outside(program, plan, k, &group) {
            continue;
        }
        let mut halo = Pads::default();
        for &b in &group {
            halo.cover(plan.buffers[b].halo);
        }
        for &b in &group {
            plan.buffers[b].halo = halo;
            spread_planes(&mut plan.buffers[b]);
        }
        let plane = plan.buffers[owner].rows() * plan.buffers[owner].stride();
        let bytes = plane * plan.buffers[owner].elem.bytes;
        for (b, first) in members {
            plan.buffers[b].view = Some((owner, first * bytes));
        }
        plan.stages.remove(at);
    }
    resolve(plan);
}

/// The buffers of the inputs `xs` of concatenation `k` with the channel
/// each starts at, when every one can be a view of `k`'s buffer.
fn members(
    program: &Program,
    plan: &Plan,
    inputs: &[NodeId],
    k: NodeId,
    xs: &[NodeId],
) -> Option<Vec<(usize, usize)>> {
    let node = &program.nodes[k];
    let out = &plan.buffers[plan.buffer_of[k]?];
    let mut members = vec![];
    let mut first = 0;
    for (i, &x) in xs.iter().enumerate() {
        let xn = &program.nodes[x];
        let b = plan.buffer_of[x]?;
        let buf = &plan.buffers[b];
        let laid_out = matches!(xn.op, Op::Concat(_)) && !plan.stages.iter().any(|s| s.root == x);
        let produced = laid_out || plan.stages.iter().any(|s| s.root == x);
        let ok = produced
            && !xs[..i].contains(&x)
            && !inputs.contains(&x)
            && !xn.op.is_leaf()
            && !matches!(xn.op, Op::MaxUnpool { .. })
            && buf.view.is_none()
            && buf.constant.is_none()
            && buf.elem == out.elem
            && xn.frac == node.frac
            && (buf.dims.h, buf.dims.w) == (out.dims.h, out.dims.w);
        if !ok {
            return None;
        }
        members.push((b, first));
        first += buf.dims.c;
    }
    (first == out.dims.c).then_some(members)
}

/// The buffers already laid out into the `members` (inner concatenations).
fn nested(plan: &Plan, members: &[(usize, usize)]) -> Vec<usize> {
    let mut out = vec![];
    let mut todo: Vec<usize> = members.iter().map(|&(b, _)| b).collect();
    while let Some(owner) = todo.pop() {
        for (b, buf) in plan.buffers.iter().enumerate() {
            if buf.view.is_some_and(|(o, _)| o == owner) {
                out.push(b);
                todo.push(b);
            }
        }
    }
    out
}

/// Whether no stage storing a buffer of `group` (but concatenation `k`'s
/// own copy) reads one of `group`.
fn producers_read_outside(program: &Program, plan: &Plan, k: NodeId, group: &[usize]) -> bool {
    let in_group = |n: NodeId| plan.buffer_of[n].is_some_and(|b| group.contains(&b));
    plan.stages
        .iter()
        .filter(|s| s.root != k && in_group(s.root))
        .all(|s| {
            let nodes = super::stage_nodes(program, plan, s.root);
            !nodes
                .iter()
                .any(|&n| program.nodes[n].op.operands().into_iter().any(in_group))
        })
}

/// Views of views point at the outermost buffer, at the summed offset.
fn resolve(plan: &mut Plan) {
    for b in 0..plan.buffers.len() {
        let mut view = plan.buffers[b].view;
        while let Some((o, off)) = view {
            match plan.buffers[o].view {
                Some((oo, off2)) => view = Some((oo, off + off2)),
                None => break,
            }
        }
        plan.buffers[b].view = view;
    }
}
