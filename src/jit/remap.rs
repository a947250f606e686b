//! Rearrangements as a stage core: pure data movement. Each output row
//! `(c, y)` finds its source rows once (block offsets, crop origin, pad
//! band); the loop over the row's pixels only loads and stores (a strided
//! copy), with no per-element bounds test. Only `reshape` between rows of
//! different widths divides per pixel (by constants).

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::I64;
use cranelift_codegen::ir::{InstBuilder, Type, Value};

use super::emit::{Fx, V};
use super::range::ty_for;
use super::stage::Row;
use super::JitError;
use crate::ir::{NodeId, Remap, ShuffleMode};

impl Fx<'_, '_> {
    pub(super) fn remap(
        &mut self,
        row: &Row,
        k: NodeId,
        x: NodeId,
        remap: &Remap,
    ) -> Result<(), JitError> {
        let from = self.program.nodes[x].shape.chw();
        let to = self.program.nodes[k].shape.chw();
        let xe = self.buffer(x)?.elem;
        // One type for loaded and filled values (the pad value may be wider).
        let ty: Type = ty_for(&[self.program.nodes[k].range(), self.program.nodes[x].range()]);
        let load = |fx: &mut Self, xrow: Value, ix: Value| -> V {
            let addr = fx.elem_addr(xrow, ix, xe);
            let v = fx.load(xe, addr, 0);
            V {
                v: fx.retype(v, ty),
                ty,
            }
        };
        match *remap {
            Remap::DepthToSpace { r, mode } => {
                let i = self.b.ins().urem_imm_s(row.y, r as i64);
                let iy = self.b.ins().udiv_imm_s(row.y, r as i64);
                for j in 0..r {
                    // Input channel of block offset (i, j).
                    let ci = match mode {
                        ShuffleMode::Dcr => {
                            let t = self.b.ins().imul_imm_s(i, (r * to.c) as i64);
                            let t = self.b.ins().iadd(t, row.c);
                            self.b.ins().iadd_imm_s(t, (j * to.c) as i64)
                        }
                        ShuffleMode::Crd => {
                            let t = self.b.ins().imul_imm_s(row.c, (r * r) as i64);
                            let u = self.b.ins().imul_imm_s(i, r as i64);
                            let t = self.b.ins().iadd(t, u);
                            self.b.ins().iadd_imm_s(t, j as i64)
                        }
                    };
                    let xrow = self.row_addr(x, ci, iy)?;
                    self.for_range(0, from.w as i64, |fx, q| {
                        let v = load(fx, xrow, q);
                        let ox = fx.b.ins().imul_imm_s(q, r as i64);
                        let ox = fx.b.ins().iadd_imm_s(ox, j as i64);
                        fx.finish(row, ox, Some((k, v)))
                    })?;
                }
                Ok(())
            }
            Remap::SpaceToDepth { r } => {
                let block = self.b.ins().udiv_imm_s(row.c, from.c as i64);
                let ci = self.b.ins().urem_imm_s(row.c, from.c as i64);
                let bi = self.b.ins().udiv_imm_s(block, r as i64);
                let bj = self.b.ins().urem_imm_s(block, r as i64);
                let iy = self.b.ins().imul_imm_s(row.y, r as i64);
                let iy = self.b.ins().iadd(iy, bi);
                let xrow = self.row_addr(x, ci, iy)?;
                self.for_range(0, to.w as i64, |fx, ox| {
                    let ix = fx.b.ins().imul_imm_s(ox, r as i64);
                    let ix = fx.b.ins().iadd(ix, bj);
                    let v = load(fx, xrow, ix);
                    fx.finish(row, ox, Some((k, v)))
                })
            }
            Remap::Reshape if to.w == from.w => {
                // Rows stay whole: output row c H' + y is input row n of the
                // flat row order.
                let n = self.b.ins().imul_imm_s(row.c, to.h as i64);
                let n = self.b.ins().iadd(n, row.y);
                let ci = self.b.ins().udiv_imm_s(n, from.h as i64);
                let iy = self.b.ins().urem_imm_s(n, from.h as i64);
                let xrow = self.row_addr(x, ci, iy)?;
                self.for_range(0, to.w as i64, |fx, ox| {
                    let v = load(fx, xrow, ox);
                    fx.finish(row, ox, Some((k, v)))
                })
            }
            Remap::Reshape => {
                let plane = (from.h * from.w) as i64;
                let n = self.b.ins().imul_imm_s(row.c, to.h as i64);
                let n = self.b.ins().iadd(n, row.y);
                let flat0 = self.b.ins().imul_imm_s(n, to.w as i64);
                self.for_range(0, to.w as i64, |fx, ox| {
                    let flat = fx.b.ins().iadd(flat0, ox);
                    let ci = fx.b.ins().udiv_imm_s(flat, plane);
                    let rest = fx.b.ins().urem_imm_s(flat, plane);
                    let iy = fx.b.ins().udiv_imm_s(rest, from.w as i64);
                    let ix = fx.b.ins().urem_imm_s(rest, from.w as i64);
                    let xrow = fx.row_addr(x, ci, iy)?;
                    let v = load(fx, xrow, ix);
                    fx.finish(row, ox, Some((k, v)))
                })
            }
            Remap::Slice { start } => {
                let ci = self.b.ins().iadd_imm_s(row.c, start[0] as i64);
                let iy = self.b.ins().iadd_imm_s(row.y, start[1] as i64);
                let xrow = self.row_addr(x, ci, iy)?;
                let x0 = start[2] as i64;
                self.for_range(0, to.w as i64, |fx, ox| {
                    let ix = fx.b.ins().iadd_imm_s(ox, x0);
                    let v = load(fx, xrow, ix);
                    fx.finish(row, ox, Some((k, v)))
                })
            }
            Remap::Pad { pads, value } => {
                let fill = V {
                    v: self.iconst(ty, value),
                    ty,
                };
                // Rows of the band: 0 <= y - top < H, one unsigned compare.
                let iy = self.b.ins().iadd_imm_s(row.y, -(pads.top as i64));
                let inside = self
                    .b
                    .ins()
                    .icmp_imm_s(IntCC::UnsignedLessThan, iy, from.h as i64);
                let inside = self.b.ins().uextend(I64, inside);
                let (left, right) = (pads.left as i64, (pads.left + from.w) as i64);
                let width = to.w as i64;
                self.dispatch(inside, 2, |fx, band| {
                    if band == 0 {
                        return fx
                            .for_range(0, width, |fx, ox| fx.finish(row, ox, Some((k, fill))));
                    }
                    fx.for_range(0, left, |fx, ox| fx.finish(row, ox, Some((k, fill))))?;
                    let xrow = fx.row_addr(x, row.c, iy)?;
                    let xrow = fx.b.ins().iadd_imm_s(xrow, -(left * xe.bytes as i64));
                    fx.for_range(left, right, |fx, ox| {
                        let v = load(fx, xrow, ox);
                        fx.finish(row, ox, Some((k, v)))
                    })?;
                    fx.for_range(right, width, |fx, ox| fx.finish(row, ox, Some((k, fill))))
                })
            }
        }
    }
}
