//! Loop nests of one stage: rows of the output, the core at each pixel (a
//! convolution's dot product, a deconvolution phase, a pooling window, ...),
//! then the fused elementwise chain and one store.

use std::collections::HashMap;

use cranelift_codegen::ir::types::I64;
use cranelift_codegen::ir::{condcodes::IntCC, InstBuilder, Type, Value};

use super::emit::{Fx, V};
use super::expr::{accumulator_bound, Pixel};
use super::plan::{deconv_axis, unsupported, weight_dims, Stage};
use super::range::ty_for;
use super::JitError;
use crate::ir::{ChannelReduce, ConvGeom, Interval, NodeId, Op, PoolGeom, Resample, Shape};

/// Taps up to this count are unrolled with their weights in registers.
const UNROLL_TAPS: usize = 32;

impl Fx<'_, '_> {
    /// Items of a stage: output rows `C * H`, or channels for an unpool.
    pub fn items(&self, stage: &Stage) -> usize {
        let node = &self.program.nodes[stage.root];
        let d = node.shape.chw();
        if matches!(node.op, Op::MaxUnpool { .. }) {
            d.c
        } else {
            d.c * d.h
        }
    }

    /// The whole body of a stage function after the entry block.
    pub fn build_stage(&mut self, stage: &Stage, lo: Value, hi: Value) -> Result<(), JitError> {
        let root = stage.root;
        let node = &self.program.nodes[root];
        if let Op::MaxUnpool { x, idx, .. } = node.op {
            return self.unpool(root, x, idx, lo, hi);
        }
        if let Some(c) = stage.core {
            if c == root && !matches!(node.shape, Shape::Map { .. }) {
                return Err(unsupported(c, node, "a stage on a non-map value"));
            }
        }
        let d = node.shape.chw();
        self.loop_carry(lo, hi, &[], |fx, r, _| {
            fx.cache.clear();
            let c = fx.b.ins().udiv_imm_s(r, d.h as i64);
            let y = fx.b.ins().urem_imm_s(r, d.h as i64);
            fx.hoist_invariants(root, root, stage.core, c)?;
            let mut rows = HashMap::new();
            fx.leaf_rows(root, root, stage.core, c, y, &mut rows)?;
            let out_row = fx.row_addr(root, c, y)?;
            let row = Row {
                root,
                c,
                y,
                out_row,
                rows,
            };
            match stage.core.map(|k| (k, &fx.program.nodes[k].op)) {
                None => fx.for_range(0, d.w as i64, |fx, x| fx.finish(&row, x, None)),
                Some((k, Op::Conv { x, w, geom })) => fx.conv(&row, k, *x, *w, geom),
                Some((k, Op::Deconv { x, w, geom })) => fx.deconv(&row, k, *x, *w, geom),
                Some((k, Op::Upsample { x, factor, mode })) => {
                    fx.upsample(&row, k, *x, (factor.h, factor.w), *mode)
                }
                Some((k, Op::MaxPool { x, geom })) => fx.pool(&row, k, *x, geom, false),
                Some((k, Op::MaxPoolIndices { x, geom })) => fx.pool(&row, k, *x, geom, true),
                Some((k, Op::Concat(xs))) => fx.concat(&row, k, xs),
                Some((k, Op::Reduce { x, op })) => fx.channel_reduce(&row, k, *x, *op),
                Some((k, _)) => Err(unsupported(
                    k,
                    &fx.program.nodes[k],
                    "no code for this stage",
                )),
            }?;
            Ok(vec![])
        })?;
        Ok(())
    }

    /// Row addresses of the map-shaped buffers the chain under `n` reads.
    fn leaf_rows(
        &mut self,
        n: NodeId,
        root: NodeId,
        core: Option<NodeId>,
        c: Value,
        y: Value,
        rows: &mut HashMap<NodeId, Value>,
    ) -> Result<(), JitError> {
        let node = &self.program.nodes[n];
        if n != root && self.plan.buffer_of[n].is_some() {
            if matches!(node.shape, Shape::Map { .. }) && !rows.contains_key(&n) {
                let a = self.row_addr(n, c, y)?;
                rows.insert(n, a);
            }
            return Ok(());
        }
        if Some(n) == core || !node.op.is_elementwise() || self.cache.contains_key(&n) {
            return Ok(());
        }
        for x in node.op.operands() {
            self.leaf_rows(x, root, core, c, y, rows)?;
        }
        Ok(())
    }

    /// The fused chain at pixel `x` of the row, stored to the root's buffer.
    fn finish(&mut self, row: &Row, x: Value, core: Option<(NodeId, V)>) -> Result<(), JitError> {
        let px = Pixel {
            c: row.c,
            x,
            rows: &row.rows,
            core,
        };
        let v = self.value(row.root, &px, row.root)?;
        let elem = self.buffer(row.root)?.elem;
        let addr = self.elem_addr(row.out_row, x, elem);
        self.store(elem, v, addr, 0);
        Ok(())
    }

    fn weights(&self, k: NodeId, w: NodeId) -> Result<&[i128], JitError> {
        match &self.program.nodes[w].op {
            Op::Constant { data } => Ok(data),
            _ => Err(unsupported(
                k,
                &self.program.nodes[k],
                "weights are not constant",
            )),
        }
    }

    fn xrange(&self, x: NodeId) -> Interval {
        self.program.nodes[x].range()
    }

    /// The machine type of core `k`'s accumulator: it holds every partial
    /// sum of each output channel's dot product (`channels`, one weight list
    /// each) with inputs in `x`'s range.
    fn accumulator_type<W: AsRef<[i128]>>(
        &self,
        k: NodeId,
        x: NodeId,
        channels: impl IntoIterator<Item = W>,
    ) -> Result<Type, JitError> {
        let bound = accumulator_bound(channels, self.xrange(x))
            .ok_or_else(|| unsupported(k, &self.program.nodes[k], "accumulator beyond 128 bits"))?;
        Ok(ty_for(&[bound]))
    }

    fn conv(
        &mut self,
        row: &Row,
        k: NodeId,
        x: NodeId,
        w: NodeId,
        g: &ConvGeom,
    ) -> Result<(), JitError> {
        let (cout, cin_g, kh, kw) = weight_dims(self.program, k, w)?;
        let taps = cin_g * kh * kw;
        let data = self.weights(k, w)?;
        let acc_ty = self.accumulator_type(k, x, data.chunks(taps.max(1)))?;
        let cout_g = cout / g.groups;
        let xbuf = self.buffer(x)?;
        let (xe, plane) = (xbuf.elem, (xbuf.rows() * xbuf.stride()) as i64);
        let xstride = xbuf.stride() as i64;
        let wbuf = self.buffer(w)?;
        let we = wbuf.elem;
        let wbase = self.base(w)?;
        let grp = self.b.ins().udiv_imm_s(row.c, cout_g as i64);
        let ci0 = self.b.ins().imul_imm_s(grp, cin_g as i64);
        let iy0 = self.b.ins().imul_imm_s(row.y, g.stride.h as i64);
        let iy0 = self.b.ins().iadd_imm_s(iy0, -(g.pad.top as i64));
        // Address of (ci0, iy0, -left).
        let x0 = self.row_addr(x, ci0, iy0)?;
        let x0 = self
            .b
            .ins()
            .iadd_imm_s(x0, -((g.pad.left * xe.bytes) as i64));
        let wrow = self.b.ins().imul_imm_s(row.c, (taps * we.bytes) as i64);
        let wrow = self.b.ins().iadd(wbase, wrow);
        let tap_offset = |ci: usize, ky: usize, kx: usize| {
            ci as i64 * plane + (ky * g.dilation.h) as i64 * xstride + (kx * g.dilation.w) as i64
        };
        let sw = g.stride.w as i64;
        let w_out = self.program.nodes[k].shape.chw().w as i64;
        if taps <= UNROLL_TAPS {
            let mut ws = Vec::with_capacity(taps);
            for t in 0..taps {
                let v = self.load(we, wrow, t as i64);
                ws.push(self.retype(v, acc_ty));
            }
            self.for_range(0, w_out, |fx, ox| {
                let col = fx.b.ins().imul_imm_s(ox, sw);
                let base = fx.elem_addr(x0, col, xe);
                let mut acc = fx.iconst(acc_ty, 0);
                let mut t = 0;
                for ci in 0..cin_g {
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let v = fx.load(xe, base, tap_offset(ci, ky, kx));
                            let v = fx.retype(v, acc_ty);
                            let p = fx.b.ins().imul(v, ws[t]);
                            acc = fx.b.ins().iadd(acc, p);
                            t += 1;
                        }
                    }
                }
                fx.finish(row, ox, Some((k, V { v: acc, ty: acc_ty })))
            })
        } else {
            let (zero, n) = (self.i64(0), self.i64(cin_g as i64));
            self.for_range(0, w_out, |fx, ox| {
                let col = fx.b.ins().imul_imm_s(ox, sw);
                let base = fx.elem_addr(x0, col, xe);
                let acc0 = V {
                    v: fx.iconst(acc_ty, 0),
                    ty: acc_ty,
                };
                let acc = fx.loop_carry(zero, n, &[acc0], |fx, ci, acc| {
                    let xoff = fx.b.ins().imul_imm_s(ci, plane * xe.bytes as i64);
                    let xb = fx.b.ins().iadd(base, xoff);
                    let woff = fx.b.ins().imul_imm_s(ci, (kh * kw * we.bytes) as i64);
                    let wb = fx.b.ins().iadd(wrow, woff);
                    let mut a = acc[0].v;
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let v = fx.load(xe, xb, tap_offset(0, ky, kx));
                            let v = fx.retype(v, acc_ty);
                            let wv = fx.load(we, wb, (ky * kw + kx) as i64);
                            let wv = fx.retype(wv, acc_ty);
                            let p = fx.b.ins().imul(v, wv);
                            a = fx.b.ins().iadd(a, p);
                        }
                    }
                    Ok(vec![V { v: a, ty: acc_ty }])
                })?;
                fx.finish(row, ox, Some((k, acc[0])))
            })
        }
    }

    fn deconv(
        &mut self,
        row: &Row,
        k: NodeId,
        x: NodeId,
        w: NodeId,
        g: &ConvGeom,
    ) -> Result<(), JitError> {
        let (cin, cout_g, kh, kw) = weight_dims(self.program, k, w)?;
        let cin_g = cin / g.groups;
        let d = self.program.nodes[k].shape.chw();
        let rows = deconv_axis(d.h, g.pad.top, kh, g.dilation.h, g.stride.h);
        let cols = deconv_axis(d.w, g.pad.left, kw, g.dilation.w, g.stride.w);
        let data = self.weights(k, w)?;
        let per = kh * kw;
        // Weights are [Cin, Cout/groups, KH, KW]: gather each output
        // channel's taps over its group's input channels.
        let channels = (0..cout_g * g.groups).map(|o| {
            let (grp, oc) = (o / cout_g, o % cout_g);
            (0..cin_g)
                .flat_map(|ci| {
                    let at = ((grp * cin_g + ci) * cout_g + oc) * per;
                    data[at..at + per].iter().copied()
                })
                .collect::<Vec<i128>>()
        });
        let acc_ty = self.accumulator_type(k, x, channels)?;
        let xbuf = self.buffer(x)?;
        let (xe, plane, xstride) = (
            xbuf.elem,
            (xbuf.rows() * xbuf.stride()) as i64,
            xbuf.stride() as i64,
        );
        let we = self.buffer(w)?.elem;
        let wbase = self.base(w)?;
        let grp = self.b.ins().udiv_imm_s(row.c, cout_g as i64);
        let oc = self.b.ins().urem_imm_s(row.c, cout_g as i64);
        let ci0 = self.b.ins().imul_imm_s(grp, cin_g as i64);
        let t = self.b.ins().iadd_imm_s(row.y, g.pad.top as i64);
        let q = self.b.ins().udiv_imm_s(t, g.stride.h as i64);
        let phase = self.b.ins().urem_imm_s(t, g.stride.h as i64);
        // Weight (ci0, oc, 0, 0) and input (ci0, q, 0).
        let w0 = self.b.ins().imul_imm_s(ci0, cout_g as i64);
        let w0 = self.b.ins().iadd(w0, oc);
        let w0 = self.b.ins().imul_imm_s(w0, (per * we.bytes) as i64);
        let w0 = self.b.ins().iadd(wbase, w0);
        let x0 = self.row_addr(x, ci0, q)?;
        let w_ci = (cout_g * per) as i64;
        let blocks = self.deconv_blocks;
        self.dispatch(phase, g.stride.h, |fx, ry| {
            let taps_y = rows.taps[ry].clone();
            if let Some((qa, qb)) = blocks {
                fx.deconv_vector(row, k, x0, w0, &taps_y, &cols, (qa, qb), xstride)?;
            }
            for rx in 0..g.stride.w {
                let taps_x = cols.taps[rx].clone();
                let (sw, left) = (g.stride.w as i64, g.pad.left as i64);
                let lo = (left - rx as i64).max(0);
                let qx_lo = (lo + sw - 1) / sw;
                let qx_hi = (d.w as i64 - 1 + left - rx as i64).div_euclid(sw);
                let count = cin_g * taps_y.len() * taps_x.len();
                let tap_list: Vec<(i64, i64)> = taps_y
                    .iter()
                    .flat_map(|&(ky, m)| {
                        taps_x.iter().map(move |&(kx, mx)| {
                            ((ky * kw + kx) as i64, -(m as i64) * xstride - mx as i64)
                        })
                    })
                    .collect();
                let unrolled = count <= UNROLL_TAPS;
                let mut ws = vec![];
                if unrolled {
                    for ci in 0..cin_g {
                        for &(wt, _) in &tap_list {
                            let v = fx.load(we, w0, ci as i64 * w_ci + wt);
                            ws.push(fx.retype(v, acc_ty));
                        }
                    }
                }
                // Columns the vector code computed are skipped here.
                let (skip_lo, skip_hi) = blocks.unwrap_or((qx_hi + 1, qx_hi + 1));
                let spans = [
                    (qx_lo, skip_lo.min(qx_hi + 1)),
                    (skip_hi.max(qx_lo), qx_hi + 1),
                ];
                for (from, to) in spans {
                    fx.for_range(from, to, |fx, qx| {
                        let base = fx.elem_addr(x0, qx, xe);
                        let ox = fx.b.ins().imul_imm_s(qx, sw);
                        let ox = fx.b.ins().iadd_imm_s(ox, rx as i64 - left);
                        let acc = if unrolled {
                            let mut acc = fx.iconst(acc_ty, 0);
                            let mut t = 0;
                            for ci in 0..cin_g {
                                for &(_, off) in &tap_list {
                                    let v = fx.load(xe, base, ci as i64 * plane + off);
                                    let v = fx.retype(v, acc_ty);
                                    let p = fx.b.ins().imul(v, ws[t]);
                                    acc = fx.b.ins().iadd(acc, p);
                                    t += 1;
                                }
                            }
                            V { v: acc, ty: acc_ty }
                        } else {
                            let (zero, n) = (fx.i64(0), fx.i64(cin_g as i64));
                            let acc0 = V {
                                v: fx.iconst(acc_ty, 0),
                                ty: acc_ty,
                            };
                            let list = tap_list.clone();
                            fx.loop_carry(zero, n, &[acc0], |fx, ci, acc| {
                                let xoff = fx.b.ins().imul_imm_s(ci, plane * xe.bytes as i64);
                                let xb = fx.b.ins().iadd(base, xoff);
                                let woff = fx.b.ins().imul_imm_s(ci, w_ci * we.bytes as i64);
                                let wb = fx.b.ins().iadd(w0, woff);
                                let mut a = acc[0].v;
                                for &(wt, off) in &list {
                                    let v = fx.load(xe, xb, off);
                                    let v = fx.retype(v, acc_ty);
                                    let wv = fx.load(we, wb, wt);
                                    let wv = fx.retype(wv, acc_ty);
                                    let p = fx.b.ins().imul(v, wv);
                                    a = fx.b.ins().iadd(a, p);
                                }
                                Ok(vec![V { v: a, ty: acc_ty }])
                            })?[0]
                        };
                        fx.finish(row, ox, Some((k, acc)))
                    })?;
                }
            }
            Ok(())
        })
    }

    fn upsample(
        &mut self,
        row: &Row,
        k: NodeId,
        x: NodeId,
        (fh, fw): (usize, usize),
        mode: Resample,
    ) -> Result<(), JitError> {
        let xd = self.program.nodes[x].shape.chw();
        let xe = self.buffer(x)?.elem;
        let w_out = (xd.w * fw) as i64;
        match mode {
            Resample::Nearest => {
                let iy = self.b.ins().udiv_imm_s(row.y, fh as i64);
                let xrow = self.row_addr(x, row.c, iy)?;
                self.for_range(0, w_out, |fx, ox| {
                    let ix = fx.b.ins().udiv_imm_s(ox, fw as i64);
                    let addr = fx.elem_addr(xrow, ix, xe);
                    let v = fx.load(xe, addr, 0);
                    fx.finish(row, ox, Some((k, v)))
                })
            }
            Resample::Bilinear => {
                let Interval { lo, hi } = self.xrange(x);
                let scale = (2 * fh.max(1) * 2 * fw.max(1)) as i128;
                let m = lo.unsigned_abs().max(hi.unsigned_abs()) as i128;
                let b = m.checked_mul(scale).ok_or_else(|| {
                    unsupported(k, &self.program.nodes[k], "interpolation beyond 128 bits")
                })?;
                let ty = ty_for(&[Interval::new(-b, b)]);
                let (y0, y1, wy0, wy1) = self.linear_taps(row.y, fh, xd.h);
                let r0 = self.row_addr(x, row.c, y0)?;
                let r1 = self.row_addr(x, row.c, y1)?;
                let wy0 = self.b.ins().ireduce_or_same(wy0, ty);
                let wy1 = self.b.ins().ireduce_or_same(wy1, ty);
                self.for_range(0, w_out, |fx, ox| {
                    let (x0, x1, wx0, wx1) = fx.linear_taps(ox, fw, xd.w);
                    let wx0 = fx.b.ins().ireduce_or_same(wx0, ty);
                    let wx1 = fx.b.ins().ireduce_or_same(wx1, ty);
                    let mut acc = fx.iconst(ty, 0);
                    for (r, wy) in [(r0, wy0), (r1, wy1)] {
                        let mut part = fx.iconst(ty, 0);
                        for (col, wx) in [(x0, wx0), (x1, wx1)] {
                            let addr = fx.elem_addr(r, col, xe);
                            let v = fx.load(xe, addr, 0);
                            let v = fx.retype(v, ty);
                            let p = fx.b.ins().imul(v, wx);
                            part = fx.b.ins().iadd(part, p);
                        }
                        let p = fx.b.ins().imul(part, wy);
                        acc = fx.b.ins().iadd(acc, p);
                    }
                    fx.finish(row, ox, Some((k, V { v: acc, ty })))
                })
            }
        }
    }

    /// Half-pixel taps of output `o` (i64) along an axis of `size` inputs:
    /// `(i0, i1, weight0, weight1)`, all i64.
    fn linear_taps(&mut self, o: Value, f: usize, size: usize) -> (Value, Value, Value, Value) {
        if f == 1 {
            let (one, zero) = (self.i64(1), self.i64(0));
            return (o, o, one, zero);
        }
        let s = 2 * f as i64;
        let t = self.b.ins().imul_imm_s(o, 2);
        let t = self.b.ins().iadd_imm_s(t, 1 - f as i64);
        let zero = self.i64(0);
        let t = self.smax(t, zero);
        let i0 = self.b.ins().sshr_imm_s(t, i64::from(s.trailing_zeros()));
        let lambda = self.b.ins().band_imm_s(t, s - 1);
        let next = self.b.ins().iadd_imm_s(i0, 1);
        let last = self.i64(size as i64 - 1);
        let i1 = self.smin(next, last);
        let sv = self.i64(s);
        let w0 = self.b.ins().isub(sv, lambda);
        (i0, i1, w0, lambda)
    }

    fn pool(
        &mut self,
        row: &Row,
        k: NodeId,
        x: NodeId,
        g: &PoolGeom,
        indices: bool,
    ) -> Result<(), JitError> {
        let xd = self.program.nodes[x].shape.chw();
        let xe = self.buffer(x)?.elem;
        let Interval { lo, hi } = self.xrange(x);
        let ty = ty_for(&[Interval::new(lo - 1, hi)]);
        let mut ys = vec![];
        for ky in 0..g.kernel.h {
            let iy = self.b.ins().imul_imm_s(row.y, g.stride.h as i64);
            let iy = self.b.ins().iadd_imm_s(iy, ky as i64 - g.pad.top as i64);
            let ok = self
                .b
                .ins()
                .icmp_imm_s(IntCC::UnsignedLessThan, iy, xd.h as i64);
            let addr = self.row_addr(x, row.c, iy)?;
            let flat = self.b.ins().imul_imm_s(iy, xd.w as i64);
            ys.push((ok, addr, flat));
        }
        let w_out = self.program.nodes[k].shape.chw().w as i64;
        self.for_range(0, w_out, |fx, ox| {
            let mut best = fx.iconst(ty, lo - 1);
            let mut at = fx.i64(0);
            for &(ok_y, addr, flat) in &ys {
                for kx in 0..g.kernel.w {
                    let ix = fx.b.ins().imul_imm_s(ox, g.stride.w as i64);
                    let ix = fx.b.ins().iadd_imm_s(ix, kx as i64 - g.pad.left as i64);
                    let ok_x =
                        fx.b.ins()
                            .icmp_imm_s(IntCC::UnsignedLessThan, ix, xd.w as i64);
                    let a = fx.elem_addr(addr, ix, xe);
                    let v = fx.load(xe, a, 0);
                    let v = fx.retype(v, ty);
                    let gt = fx.b.ins().icmp(IntCC::SignedGreaterThan, v, best);
                    let ok = fx.b.ins().band(ok_y, ok_x);
                    let better = fx.b.ins().band(ok, gt);
                    best = fx.sel(better, v, best);
                    if indices {
                        let pos = fx.b.ins().iadd(flat, ix);
                        at = fx.sel(better, pos, at);
                    }
                }
            }
            let v = if indices {
                V { v: at, ty: I64 }
            } else {
                V { v: best, ty }
            };
            fx.finish(row, ox, Some((k, v)))
        })
    }

    /// The maximum over the channels of `x` at each pixel of the row, or
    /// the first channel holding it (`argmax`): one row address per channel,
    /// the channels compared in order with a strict `>`.
    fn channel_reduce(
        &mut self,
        row: &Row,
        k: NodeId,
        x: NodeId,
        op: ChannelReduce,
    ) -> Result<(), JitError> {
        let xd = self.program.nodes[x].shape.chw();
        let xe = self.buffer(x)?.elem;
        let ty = ty_for(&[self.xrange(x)]);
        let mut addrs = vec![];
        for ch in 0..xd.c {
            let c = self.i64(ch as i64);
            addrs.push(self.row_addr(x, c, row.y)?);
        }
        let w_out = self.program.nodes[k].shape.chw().w as i64;
        self.for_range(0, w_out, |fx, ox| {
            let mut best = None;
            let mut at = fx.i64(0);
            for (ch, &addr) in addrs.iter().enumerate() {
                let a = fx.elem_addr(addr, ox, xe);
                let v = fx.load(xe, a, 0);
                let v = fx.retype(v, ty);
                best = Some(match best {
                    None => v,
                    Some(b) => {
                        let gt = fx.b.ins().icmp(IntCC::SignedGreaterThan, v, b);
                        if op == ChannelReduce::ArgMax {
                            let here = fx.i64(ch as i64);
                            at = fx.sel(gt, here, at);
                        }
                        fx.sel(gt, v, b)
                    }
                });
            }
            let v = match (op, best) {
                (ChannelReduce::ArgMax, _) => V { v: at, ty: I64 },
                (ChannelReduce::Max, Some(b)) => V { v: b, ty },
                (ChannelReduce::Max, None) => fx.constant(0),
            };
            fx.finish(row, ox, Some((k, v)))
        })
    }

    fn concat(&mut self, row: &Row, k: NodeId, xs: &[NodeId]) -> Result<(), JitError> {
        let mut offsets = vec![];
        let mut at = 0;
        for &x in xs {
            offsets.push(at);
            at += self.program.nodes[x].shape.chw().c;
        }
        let mut sel = self.i64(0);
        for &off in &offsets[1..] {
            let ge = self
                .b
                .ins()
                .icmp_imm_s(IntCC::UnsignedGreaterThanOrEqual, row.c, off as i64);
            let ge = self.b.ins().uextend(I64, ge);
            sel = self.b.ins().iadd(sel, ge);
        }
        let f = self.program.nodes[k].frac;
        let r = self.program.nodes[k].range();
        let w_out = self.program.nodes[k].shape.chw().w as i64;
        self.dispatch(sel, xs.len(), |fx, i| {
            let x = xs[i];
            let xe = fx.buffer(x)?.elem;
            let shift = f.saturating_sub(fx.program.nodes[x].frac);
            let ty = ty_for(&[r, fx.xrange(x)]);
            let c = fx.b.ins().iadd_imm_s(row.c, -(offsets[i] as i64));
            let xrow = fx.row_addr(x, c, row.y)?;
            fx.for_range(0, w_out, |fx, ox| {
                let addr = fx.elem_addr(xrow, ox, xe);
                let v = fx.load(xe, addr, 0);
                let mut v = fx.retype(v, ty);
                if shift > 0 {
                    v = fx.b.ins().ishl_imm_s(v, i64::from(shift));
                }
                fx.finish(row, ox, Some((k, V { v, ty })))
            })
        })
    }

    fn unpool(
        &mut self,
        root: NodeId,
        x: NodeId,
        idx: NodeId,
        lo: Value,
        hi: Value,
    ) -> Result<(), JitError> {
        let out = self.program.nodes[root].shape.chw();
        let xd = self.program.nodes[x].shape.chw();
        let oe = self.buffer(root)?.elem;
        let xe = self.buffer(x)?.elem;
        let ie = self.buffer(idx)?.elem;
        let shift = self.program.nodes[root]
            .frac
            .saturating_sub(self.program.nodes[x].frac);
        let r = self.program.nodes[root].range();
        let ty = ty_for(&[r, self.xrange(x)]);
        let limit = (out.h * out.w) as i64;
        self.loop_carry(lo, hi, &[], |fx, c, _| {
            fx.for_range(0, out.h as i64, |fx, y| {
                let a = fx.row_addr(root, c, y)?;
                let zero = fx.constant(0);
                fx.for_range(0, out.w as i64, |fx, xx| {
                    let at = fx.elem_addr(a, xx, oe);
                    fx.store(oe, zero, at, 0);
                    Ok(())
                })
            })?;
            fx.for_range(0, xd.h as i64, |fx, y| {
                let xrow = fx.row_addr(x, c, y)?;
                let irow = fx.row_addr(idx, c, y)?;
                fx.for_range(0, xd.w as i64, |fx, xx| {
                    let ia = fx.elem_addr(irow, xx, ie);
                    let i = fx.load(ie, ia, 0);
                    let i = fx.retype(i, I64);
                    let ok = fx.b.ins().icmp_imm_s(IntCC::UnsignedLessThan, i, limit);
                    let good = fx.b.create_block();
                    let bad = fx.b.create_block();
                    fx.b.ins().brif(ok, good, &[], bad, &[]);
                    fx.b.switch_to_block(bad);
                    let flat = fx.b.ins().imul_imm_s(c, (xd.h * xd.w) as i64);
                    let yw = fx.b.ins().imul_imm_s(y, xd.w as i64);
                    let flat = fx.b.ins().iadd(flat, yw);
                    let flat = fx.b.ins().iadd(flat, xx);
                    fx.b.ins().return_(&[flat]);
                    fx.b.switch_to_block(good);
                    let oy = fx.b.ins().udiv_imm_s(i, out.w as i64);
                    let ox = fx.b.ins().urem_imm_s(i, out.w as i64);
                    let orow = fx.row_addr(root, c, oy)?;
                    let xa = fx.elem_addr(xrow, xx, xe);
                    let v = fx.load(xe, xa, 0);
                    let mut v = fx.retype(v, ty);
                    if shift > 0 {
                        v = fx.b.ins().ishl_imm_s(v, i64::from(shift));
                    }
                    let oa = fx.elem_addr(orow, ox, oe);
                    fx.store(oe, V { v, ty }, oa, 0);
                    Ok(())
                })
            })?;
            Ok(vec![])
        })?;
        Ok(())
    }
}

/// The row being computed: the root's channel and row, where it is stored,
/// and the row addresses of the map-shaped buffers its chain reads.
pub(crate) struct Row {
    pub root: NodeId,
    pub c: Value,
    pub y: Value,
    pub out_row: Value,
    pub rows: HashMap<NodeId, Value>,
}

/// `ireduce` to `ty` when narrower, `sextend` when wider (weights of a few bits).
trait ReduceOrSame {
    fn ireduce_or_same(self, v: Value, ty: cranelift_codegen::ir::Type) -> Value;
}

impl<'f, T: InstBuilder<'f>> ReduceOrSame for T {
    fn ireduce_or_same(self, v: Value, ty: cranelift_codegen::ir::Type) -> Value {
        match ty.bits().cmp(&64) {
            std::cmp::Ordering::Equal => {
                // `self` consumed without an instruction: a no-op copy.
                self.iadd_imm_s(v, 0)
            }
            std::cmp::Ordering::Less => self.ireduce(ty, v),
            std::cmp::Ordering::Greater => self.sextend(ty, v),
        }
    }
}
