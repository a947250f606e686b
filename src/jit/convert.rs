//! Between exact [`Tensor`]s and the narrow little-endian buffers the
//! generated code works on; input checks mirror the interpreter's.

use super::machine::Workspace;
use super::plan::Buffer;
use crate::interp::{NodeRef, RunError};
use crate::ir::{NodeId, Op, Program};
use crate::tensor::Tensor;

/// Writes C-order values into the interior of `buf` (the halo stays zero).
pub(crate) fn write_buffer(buf: &Buffer, bytes: &mut [u8], values: &[i128]) {
    let n = buf.elem.bytes;
    let d = buf.dims;
    let mut k = 0;
    for c in 0..d.c {
        for y in 0..d.h {
            let row = buf.offset(c, y, 0) * n;
            for x in 0..d.w {
                let v = values.get(k).copied().unwrap_or(0);
                k += 1;
                let at = row + x * n;
                if let Some(slot) = bytes.get_mut(at..at + n) {
                    slot.copy_from_slice(&v.to_le_bytes()[..n]);
                }
            }
        }
    }
}

/// Reads the interior of `buf` back as exact values, in C order.
pub(crate) fn read_buffer(buf: &Buffer, bytes: &[u8]) -> Vec<i128> {
    let n = buf.elem.bytes;
    let d = buf.dims;
    let mut out = Vec::with_capacity(d.c * d.h * d.w);
    for c in 0..d.c {
        for y in 0..d.h {
            let row = buf.offset(c, y, 0) * n;
            for x in 0..d.w {
                let at = row + x * n;
                let mut raw = [0u8; 16];
                if let Some(slot) = bytes.get(at..at + n) {
                    raw[..n].copy_from_slice(slot);
                }
                let v = i128::from_le_bytes(raw);
                let v = if buf.elem.signed && n < 16 {
                    let shift = 128 - 8 * n as u32;
                    (v << shift) >> shift
                } else {
                    v
                };
                out.push(v);
            }
        }
    }
    out
}

/// The interpreter's input checks: count, shape, length, fraction, and every
/// value inside its channel's range.
pub(crate) fn check_inputs(program: &Program, inputs: &[Tensor]) -> Result<(), RunError> {
    if inputs.len() != program.inputs.len() {
        return Err(RunError::InputCount {
            expected: program.inputs.len(),
            found: inputs.len(),
        });
    }
    for (info, tensor) in program.inputs.iter().zip(inputs) {
        let node = program
            .nodes
            .get(info.node)
            .ok_or_else(|| RunError::MissingNode {
                name: info.name.clone(),
                node: info.node,
            })?;
        let expected = node.shape.dims();
        if tensor.shape != expected {
            return Err(RunError::InputShape {
                input: info.name.clone(),
                expected,
                found: tensor.shape.clone(),
            });
        }
        if tensor.data.len() != node.shape.len() {
            return Err(RunError::InputLength {
                input: info.name.clone(),
                expected: node.shape.len(),
                found: tensor.data.len(),
            });
        }
        if tensor.frac != node.frac {
            return Err(RunError::InputFrac {
                input: info.name.clone(),
                expected: node.frac,
                found: tensor.frac,
            });
        }
        let plane = node.shape.plane().max(1);
        for (k, &v) in tensor.data.iter().enumerate() {
            let channel = k / plane;
            let Some(&range) = node.ranges.get(channel) else {
                continue;
            };
            if !range.contains(v) {
                return Err(RunError::InputRange {
                    input: info.name.clone(),
                    ty: node.ty,
                    index: unravel(&expected, k),
                    channel,
                    value: v,
                    frac: node.frac,
                    range,
                });
            }
        }
    }
    Ok(())
}

fn unravel(dims: &[usize], mut k: usize) -> Vec<usize> {
    let mut index = vec![0; dims.len()];
    for (slot, &d) in index.iter_mut().zip(dims).rev() {
        *slot = k % d.max(1);
        k /= d.max(1);
    }
    index
}

/// The error for a bad index at flat input position `flat` of unpool `root`.
pub(crate) fn unpool_error(
    program: &Program,
    plan: &super::plan::Plan,
    ws: &Workspace,
    root: NodeId,
    flat: usize,
) -> RunError {
    let node = &program.nodes[root];
    let (idx, out) = match node.op {
        Op::MaxUnpool { idx, out, .. } => (idx, out),
        _ => (root, crate::ir::Pair { h: 0, w: 0 }),
    };
    let plane = program.nodes[idx].shape.plane().max(1);
    let index = plan
        .buffer_of
        .get(idx)
        .copied()
        .flatten()
        .map(|b| read_buffer(&plan.buffers[b], ws.bytes(b)))
        .and_then(|v| v.get(flat).copied())
        .unwrap_or(-1);
    RunError::UnpoolIndex {
        node: NodeRef {
            id: root,
            label: node.label.clone(),
            owner: node.owner.clone(),
            span: node.span,
        },
        channel: flat / plane,
        position: flat % plane,
        index,
        limit: out.h * out.w,
    }
}
