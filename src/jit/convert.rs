//! Between exact tensors and the narrow little-endian buffers the
//! generated code works on (inputs are checked by `interp::check_inputs`).

use super::machine::Workspace;
use super::plan::Buffer;
use crate::data::{ElemType, ImageLayout};
use crate::interp::{NodeRef, RunError};
use crate::ir::{NodeId, Op, Program};

/// Where an image's values sit in `buf`: its interior, inside the halo, in
/// the buffer's own element width (for the data layer's readers and writers).
pub(crate) fn layout_of(buf: &Buffer) -> ImageLayout {
    ImageLayout {
        channels: buf.dims.c,
        height: buf.dims.h,
        width: buf.dims.w,
        row_stride: buf.stride(),
        channel_stride: buf.rows() * buf.stride(),
        origin: buf.offset(0, 0, 0),
        elem: ElemType {
            bytes: buf.elem.bytes,
            signed: buf.elem.signed,
        },
    }
}

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
