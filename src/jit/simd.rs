//! Vector code for u8 x i8 convolutions.
//!
//! Pointwise (1x1): for each output row, 16 pixels at a time, four input channels are
//! interleaved per pixel (`[c0 c1 c2 c3]` in each 32-bit lane) into a small
//! stack scratch; then, two output channels at a time, every group of four
//! input channels is one widening dot-accumulate per four pixels, written as
//! the CLIF tree that Cranelift's x64 backend folds into `vpdpbusd`
//! (AVX-VNNI / AVX512-VNNI):
//!
//! ```text
//! lo  = imul(swiden_low(w), uwiden_low(x))     hi = imul(swiden_high(w), uwiden_high(x))
//! acc = iadd(iadd_pairwise(iadd_pairwise(swiden_low(lo), swiden_high(lo)),
//!                          iadd_pairwise(swiden_low(hi), swiden_high(hi))), acc)
//! ```
//!
//! Without VNNI (or with `JitOptions::vnni` off) the same dot product is
//! written in the shape Cranelift folds into `pmaddwd` (SSE2): bytes widened
//! to 16 bits, products summed in pairs, then the pairs of pairs. Both trees
//! compute the exact 4-way dot product whatever instructions they become;
//! the vector paths need SSSE3 and SSE4.1, the scalar code runs otherwise.
//!
//! Three kernels: pointwise convolutions (above); depthwise convolutions with
//! stride 1 and rows of at most 4 taps, where a byte shuffle gives every
//! 32-bit lane its own sliding window of the input row; and depthwise
//! stride-2 transposed convolutions, one sliding-window dot product per
//! stride phase, the two phases interleaved on store.
//!
//! The fused elementwise chain then runs on `I32X4` lanes when every value
//! fits in 29 bits, on `I64X2` lanes when it fits in 61 (both exact), and the
//! results are narrowed with byte shuffles into 16-byte stores. A rounded
//! product by a constant (`trunc(acc * factor)`, 40+ bits) still runs on
//! `I32X4` by splitting the constant (`Fx::split_mul`).

use cranelift_codegen::ir::immediates::Offset32;
use cranelift_codegen::ir::types::{I32, I32X4, I64X2, I8X16};
use cranelift_codegen::ir::{
    ConstantData, Endianness, InstBuilder, MemFlagsData, StackSlotData, StackSlotKind, Value,
};
use cranelift_codegen::isa::TargetIsa;

use super::emit::{vflags, Fx, V};
use super::expr::Pixel;
use super::pattern::{classify, ConvKind, ConvPattern, Operands};
use super::plan::{weight_dims, Stage};
use super::range::signed_bits;
use super::{JitError, Simd};
use crate::ir::{Interval, NodeId, Op, Rounding, Shape};
use crate::types::Quant;

/// The vector features of the ISA Cranelift was configured for.
pub(crate) fn features(isa: &dyn TargetIsa) -> Simd {
    let flags = isa.isa_flags();
    let on = |name: &str| {
        flags
            .iter()
            .any(|f| f.name == name && f.as_bool().unwrap_or(false))
    };
    Simd {
        vnni: (on("has_avx") && on("has_avx_vnni")) || (on("has_avx512vl") && on("has_avx512vnni")),
        sse41: on("has_ssse3") && on("has_sse41"),
    }
}

/// Pixels per column block.
const BLOCK: usize = 16;

fn lane_flags() -> MemFlagsData {
    MemFlagsData::new().with_endianness(Endianness::Little)
}

impl Fx<'_, '_> {
    /// Emits a vectorized stage when the stage fits the vector kernel; returns
    /// its item count (output rows), or `None` to use the scalar code.
    pub fn try_vector_stage(
        &mut self,
        stage: &Stage,
        lo: Value,
        hi: Value,
    ) -> Result<Option<usize>, JitError> {
        if let Some(blocks) = self.vector_deconv(stage)? {
            self.deconv_blocks = Some(blocks);
            let r = self.build_stage(stage, lo, hi);
            self.deconv_blocks = None;
            r?;
            return Ok(Some(self.items(stage)));
        }
        if let Some(k) = self.vector_depthwise(stage)? {
            let Op::Conv { x, w, geom } = self.program.nodes[k].op else {
                return Ok(None);
            };
            let d = self.program.nodes[stage.root].shape.chw();
            self.depthwise(stage, k, x, w, &geom, lo, hi)?;
            return Ok(Some(d.c * d.h));
        }
        let Some(k) = self.vector_conv(stage)? else {
            return Ok(None);
        };
        let Op::Conv { x, w, .. } = self.program.nodes[k].op else {
            return Ok(None);
        };
        let (cout, cin, _, _) = weight_dims(self.program, k, w)?;
        let d = self.program.nodes[stage.root].shape.chw();
        self.pointwise(stage, k, x, w, (cout, cin), d.w, lo, hi)?;
        Ok(Some(d.h))
    }

    /// The classified u8 x i8 convolution at the core of `stage`, when
    /// vector code is enabled at all.
    fn vector_pattern(&self, stage: &Stage) -> Option<ConvPattern> {
        let core = self.simd.vectors().then_some(stage.core).flatten()?;
        classify(self.program, core).filter(|p| p.operands == Operands::U8xI8)
    }

    /// The block range `qa..qb` of a depthwise stride-2 deconvolution whose
    /// middle columns the vector kernel can compute.
    fn vector_deconv(&self, stage: &Stage) -> Result<Option<(i64, i64)>, JitError> {
        let Some(p) = self.vector_pattern(stage) else {
            return Ok(None);
        };
        let (geom, kw, d) = (p.geom, p.weights.3, p.output);
        let plain = p.kind == ConvKind::Transposed { depthwise: true }
            && geom.stride.w == 2
            && geom.dilation.w == 1
            && kw <= 8;
        if !plain || self.buffer(stage.root)?.elem.bytes != 1 {
            return Ok(None);
        }
        if !self.lane_friendly(stage.root, stage.root, p.core) {
            return Ok(None);
        }
        let left = geom.pad.left as i64;
        let qa = (left + 1) / 2;
        let blocks = (d.w as i64 + left - 2 * qa) / (2 * BLOCK as i64);
        Ok((blocks >= 1).then_some((qa, qa + BLOCK as i64 * blocks)))
    }

    /// The vector blocks of one deconvolution output row: for each column
    /// phase, a sliding-window dot product per row tap (as in `depthwise`),
    /// the fused chain, then both phases interleaved into 32 output bytes.
    #[allow(clippy::too_many_arguments)]
    pub fn deconv_vector(
        &mut self,
        row: &super::stage::Row,
        k: NodeId,
        x0: Value,
        w0: Value,
        taps_y: &[(usize, usize)],
        cols: &super::plan::DeconvAxis,
        (qa, qb): (i64, i64),
        xstride: i64,
    ) -> Result<(), JitError> {
        let stage = Stage {
            root: row.root,
            core: Some(k),
        };
        let kw = {
            let Op::Deconv { w, .. } = self.program.nodes[k].op else {
                return Ok(());
            };
            weight_dims(self.program, k, w)?.3
        };
        let left = match self.program.nodes[k].op {
            Op::Deconv { geom, .. } => geom.pad.left as i64,
            _ => 0,
        };
        // Per column phase: window width, and one packed weight word per row tap.
        let mut phases = vec![];
        for rx in 0..2 {
            let taps_x = &cols.taps[rx];
            let width = taps_x.iter().map(|&(_, m)| m + 1).max().unwrap_or(1);
            let mut words = vec![];
            for &(ky, m) in taps_y {
                let bytes: Vec<(i32, usize)> = taps_x
                    .iter()
                    .map(|&(kx, mx)| ((ky * kw + kx) as i32, width - 1 - mx))
                    .collect();
                let v = self.packed_weights(w0, &bytes);
                words.push((v, -(m as i64) * xstride - (width as i64 - 1)));
            }
            phases.push(words);
        }
        let elem = self.buffer(row.root)?.elem;
        let n = (qb - qa) / BLOCK as i64;
        self.for_range(0, n, |fx, j| {
            let qx0 = fx.b.ins().imul_imm_s(j, BLOCK as i64);
            let qx0 = fx.b.ins().iadd_imm_s(qx0, qa);
            let src = fx.b.ins().iadd(x0, qx0);
            let mut outs = vec![];
            for words in &phases {
                let mut acc = fx.zero_quads();
                for &(wv, off) in words {
                    fx.window_dots(&mut acc, src, off, wv);
                }
                let v = fx.lane_values(&stage, k, row.c, &acc, elem)?;
                outs.push(v[0]);
            }
            let lo = fx.shuffle(outs[0], outs[1], interleave_bytes(0));
            let hi = fx.shuffle(outs[0], outs[1], interleave_bytes(8));
            let ox0 = fx.b.ins().imul_imm_s(qx0, 2);
            let ox0 = fx.b.ins().iadd_imm_s(ox0, -left);
            let dst = fx.b.ins().iadd(row.out_row, ox0);
            fx.b.ins().store(vflags(), lo, dst, 0);
            fx.b.ins().store(vflags(), hi, dst, 16);
            Ok(())
        })
    }

    /// The depthwise conv at the core of `stage` if the sliding-window
    /// vector kernel applies: stride 1, dilation 1, rows of at most 4 taps.
    fn vector_depthwise(&self, stage: &Stage) -> Result<Option<NodeId>, JitError> {
        let Some(p) = self.vector_pattern(stage) else {
            return Ok(None);
        };
        let (geom, kw, d) = (p.geom, p.weights.3, p.output);
        let plain = p.kind == ConvKind::Depthwise
            && kw <= 4
            && geom.stride.h == 1
            && geom.stride.w == 1
            && geom.dilation.h == 1
            && geom.dilation.w == 1;
        if !plain || !d.w.is_multiple_of(BLOCK) || self.buffer(stage.root)?.elem.bytes > 8 {
            return Ok(None);
        }
        Ok(self
            .lane_friendly(stage.root, stage.root, p.core)
            .then_some(p.core))
    }

    /// Depthwise rows: each kernel row is one 4-byte dot product per pixel
    /// (taps zero-padded to 4), fed by a byte shuffle of the input row that
    /// gives every 32-bit lane its own sliding window.
    #[allow(clippy::too_many_arguments)]
    fn depthwise(
        &mut self,
        stage: &Stage,
        k: NodeId,
        x: NodeId,
        w: NodeId,
        g: &crate::ir::ConvGeom,
        lo: Value,
        hi: Value,
    ) -> Result<(), JitError> {
        let root = stage.root;
        let (_, _, kh, kw) = weight_dims(self.program, k, w)?;
        let d = self.program.nodes[root].shape.chw();
        let xstride = self.buffer(x)?.stride() as i64;
        let out_elem = self.buffer(root)?.elem;
        let out_plane = {
            let b = self.buffer(root)?;
            (b.rows() * b.stride() * b.elem.bytes) as i64
        };
        let wbase = self.base(w)?;
        let we = self.buffer(w)?.elem;
        let zero_c = self.i64(0);
        self.loop_carry(lo, hi, &[], |fx, r, _| {
            let c = fx.b.ins().udiv_imm_s(r, d.h as i64);
            let y = fx.b.ins().urem_imm_s(r, d.h as i64);
            // Packed taps of each kernel row: w0 | w1 << 8 | w2 << 16 | w3 << 24.
            let wrow = fx.b.ins().imul_imm_s(c, (kh * kw * we.bytes) as i64);
            let wrow = fx.b.ins().iadd(wbase, wrow);
            let mut packed = vec![];
            for ky in 0..kh {
                let bytes: Vec<(i32, usize)> = (0..kw)
                    .map(|kx| (((ky * kw + kx) * we.bytes) as i32, kx))
                    .collect();
                packed.push(fx.packed_weights(wrow, &bytes));
            }
            let iy = fx.b.ins().iadd_imm_s(y, -(g.pad.top as i64));
            let xrow = fx.row_addr(x, c, iy)?;
            let xrow = fx.b.ins().iadd_imm_s(xrow, -(g.pad.left as i64));
            let out0 = fx.row_addr(root, zero_c, y)?;
            fx.for_range(0, (d.w / BLOCK) as i64, |fx, xb| {
                let col = fx.b.ins().imul_imm_s(xb, BLOCK as i64);
                let src = fx.b.ins().iadd(xrow, col);
                let mut acc = fx.zero_quads();
                for (ky, &wv) in packed.iter().enumerate() {
                    fx.window_dots(&mut acc, src, ky as i64 * xstride, wv);
                }
                fx.lane_epilogue(stage, k, c, &acc, out0, out_plane, xb, out_elem)
            })?;
            Ok(vec![])
        })?;
        Ok(())
    }

    /// The conv at the core of `stage` if the vector kernel applies to it.
    fn vector_conv(&self, stage: &Stage) -> Result<Option<NodeId>, JitError> {
        let Some(p) = self.vector_pattern(stage) else {
            return Ok(None);
        };
        let (cout, cin, _, _) = p.weights;
        if p.kind != ConvKind::Pointwise
            || cin % 4 != 0
            || !p.output.w.is_multiple_of(BLOCK)
            || cout == 0
        {
            return Ok(None);
        }
        let out = self.buffer(stage.root)?;
        if !self.lane_friendly(stage.root, stage.root, p.core) || out.elem.bytes > 8 {
            return Ok(None);
        }
        Ok(Some(p.core))
    }

    /// Whether the chain above the core can run on 64-bit lanes: only the
    /// core, constants and per-channel values as leaves, every value (and
    /// every aligned operand or product) within 62 bits.
    fn lane_friendly(&self, n: NodeId, root: NodeId, core: NodeId) -> bool {
        self.lanes_fit(n, root, core, 61)
    }

    /// `lane_friendly` with every value within `limit` bits (61 for
    /// `I64X2`, 29 for `I32X4`: rounding adds up to two bits).
    fn lanes_fit(&self, n: NodeId, root: NodeId, core: NodeId, limit: u32) -> bool {
        if n == core {
            return true;
        }
        let node = &self.program.nodes[n];
        let fits = |r: Option<Interval>| r.is_some_and(|r| signed_bits(r) <= limit);
        if !fits(Some(node.range())) {
            return false;
        }
        if n != root && self.plan.buffer_of[n].is_some() {
            return !matches!(node.shape, Shape::Map { .. });
        }
        if !node.op.is_elementwise() {
            return false;
        }
        let range = |m: NodeId| self.program.nodes[m].range();
        // A rounded product by a constant can run split on 32-bit lanes.
        if limit < 32 {
            let split = match &node.op {
                Op::Round(m, Rounding::Floor | Rounding::Trunc) => {
                    self.split_candidate(*m, self.program.nodes[*m].frac, limit + 1)
                }
                Op::Cast {
                    x: m,
                    to,
                    quant: Quant::Trn | Quant::TrnZero,
                    ..
                } => {
                    let shift = i64::from(self.program.nodes[*m].frac) - i64::from(to.frac_bits());
                    let fits_cast = to.width < limit && to.frac_bits() >= -2;
                    (shift > 0 && fits_cast)
                        .then(|| self.split_candidate(*m, shift as u32, limit + 1))
                        .flatten()
                }
                _ => None,
            };
            if let Some((a, _, _)) = split {
                return self.lanes_fit(a, root, core, limit);
            }
        }
        let ok = match &node.op {
            Op::Binary(_, a, b) => {
                let (fa, fb) = (self.program.nodes[*a].frac, self.program.nodes[*b].frac);
                fits(range(*a).checked_mul(range(*b)))
                    && fits(range(*a).checked_shl(node.frac.saturating_sub(fa)))
                    && fits(range(*b).checked_shl(node.frac.saturating_sub(fb)))
            }
            Op::Shl(x, k) => fits(range(*x).checked_shl(*k)),
            Op::Cast { to, .. } => {
                to.width < limit && to.frac_bits() >= -2 && {
                    let shift = i64::from(to.frac_bits()) - i64::from(self.program.nodes[n].frac);
                    shift <= 0 || fits(range(n).checked_shl(shift as u32))
                }
            }
            // A table lookup is one scalar load per value.
            Op::Lookup { .. } => false,
            _ => true,
        };
        ok && node
            .op
            .operands()
            .iter()
            .all(|&m| self.lanes_fit(m, root, core, limit))
    }

    fn shuffle(&mut self, a: Value, b: Value, mask: [u8; 16]) -> Value {
        let imm = self
            .b
            .func
            .dfg
            .immediates
            .push(ConstantData::from(mask.to_vec()));
        self.b.ins().shuffle(a, b, imm)
    }

    fn as_bytes(&mut self, v: Value) -> Value {
        if self.b.func.dfg.value_type(v) == I8X16 {
            v
        } else {
            self.b.ins().bitcast(I8X16, lane_flags(), v)
        }
    }

    /// Keeps the low half of every lane of `a` then `b` (lanes of `bytes`).
    fn narrow(&mut self, a: Value, b: Value, bytes: usize) -> Value {
        let (a, b) = (self.as_bytes(a), self.as_bytes(b));
        let mut mask = [0u8; 16];
        let half = bytes / 2;
        let lanes = 16 / bytes;
        for i in 0..2 * lanes {
            let src = (i / lanes) * 16 + (i % lanes) * bytes;
            for j in 0..half {
                mask[i * half + j] = (src + j) as u8;
            }
        }
        self.shuffle(a, b, mask)
    }

    #[allow(clippy::too_many_arguments)]
    fn pointwise(
        &mut self,
        stage: &Stage,
        k: NodeId,
        x: NodeId,
        w: NodeId,
        (cout, cin): (usize, usize),
        width: usize,
        lo: Value,
        hi: Value,
    ) -> Result<(), JitError> {
        let root = stage.root;
        let groups = cin / 4;
        let slot = self.b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            (cin * BLOCK) as u32,
            4,
        ));
        let xbuf = self.buffer(x)?;
        let plane = (xbuf.rows() * xbuf.stride()) as i64;
        let out_elem = self.buffer(root)?.elem;
        let wbase = self.base(w)?;
        let ob = if cout % 2 == 0 { 2 } else { 1 };
        let zero_c = self.i64(0);
        self.loop_carry(lo, hi, &[], |fx, y, _| {
            let xrow = fx.row_addr(x, zero_c, y)?;
            let out0 = fx.row_addr(root, zero_c, y)?;
            let out_plane = {
                let b = fx.buffer(root)?;
                (b.rows() * b.stride() * b.elem.bytes) as i64
            };
            fx.for_range(0, (width / BLOCK) as i64, |fx, xb| {
                let col = fx.b.ins().imul_imm_s(xb, BLOCK as i64);
                let src = fx.b.ins().iadd(xrow, col);
                let scratch =
                    fx.b.ins()
                        .stack_addr(cranelift_codegen::ir::types::I64, slot, 0);
                for g in 0..groups {
                    let rows: Vec<Value> = (0..4)
                        .map(|j| {
                            let off = ((4 * g + j) as i64 * plane) as i32;
                            fx.b.ins().load(I8X16, vflags(), src, Offset32::new(off))
                        })
                        .collect();
                    let (lo8, hi8) = (interleave_bytes(0), interleave_bytes(8));
                    let lo16: [u8; 16] =
                        std::array::from_fn(|i| ((i / 4) * 2 + (i % 2) + 16 * ((i / 2) % 2)) as u8);
                    let hi16: [u8; 16] = std::array::from_fn(|i| {
                        (8 + (i / 4) * 2 + (i % 2) + 16 * ((i / 2) % 2)) as u8
                    });
                    let t0 = fx.shuffle(rows[0], rows[1], lo8);
                    let t1 = fx.shuffle(rows[0], rows[1], hi8);
                    let t2 = fx.shuffle(rows[2], rows[3], lo8);
                    let t3 = fx.shuffle(rows[2], rows[3], hi8);
                    let q = [
                        fx.shuffle(t0, t2, lo16),
                        fx.shuffle(t0, t2, hi16),
                        fx.shuffle(t1, t3, lo16),
                        fx.shuffle(t1, t3, hi16),
                    ];
                    for (p, v) in q.into_iter().enumerate() {
                        fx.b.ins()
                            .store(vflags(), v, scratch, ((4 * g + p) * 16) as i32);
                    }
                }
                let (z, n) = (fx.i64(0), fx.i64((cout / ob) as i64));
                fx.loop_carry(z, n, &[], |fx, j, _| {
                    let o = fx.b.ins().imul_imm_s(j, ob as i64);
                    let wrow = fx.b.ins().imul_imm_s(o, cin as i64);
                    let wrow = fx.b.ins().iadd(wbase, wrow);
                    let zero = fx.b.ins().iconst(I32, 0);
                    let zero = fx.b.ins().splat(I32X4, zero);
                    // A loop over the groups of 4 input channels, carrying
                    // every accumulator: each iteration issues independent
                    // dot products (straight-line code would be elaborated
                    // one accumulator chain at a time).
                    let init: Vec<V> = (0..ob * 4).map(|_| V { v: zero, ty: I32X4 }).collect();
                    let unroll = [4, 2, 1].into_iter().find(|u| groups % u == 0).unwrap_or(1);
                    let (g0, gn) = (fx.i64(0), fx.i64((groups / unroll) as i64));
                    let out = fx.loop_carry(g0, gn, &init, |fx, gi, accs| {
                        let at = fx.b.ins().imul_imm_s(gi, 64 * unroll as i64);
                        let acts_at = fx.b.ins().iadd(scratch, at);
                        let w_at = fx.b.ins().imul_imm_s(gi, 4 * unroll as i64);
                        let w_at = fx.b.ins().iadd(wrow, w_at);
                        let mut cur: Vec<Value> = accs.iter().map(|a| a.v).collect();
                        for u in 0..unroll {
                            let acts: Vec<Value> = (0..4)
                                .map(|p| {
                                    fx.b.ins().load(
                                        I8X16,
                                        vflags(),
                                        acts_at,
                                        (16 * (4 * u + p)) as i32,
                                    )
                                })
                                .collect();
                            for c in 0..ob {
                                let quad =
                                    fx.b.ins()
                                        .load(I32, vflags(), w_at, (c * cin + 4 * u) as i32);
                                let wv = fx.b.ins().splat(I32X4, quad);
                                let wv = fx.b.ins().bitcast(I8X16, lane_flags(), wv);
                                for (p, act) in acts.iter().enumerate() {
                                    cur[c * 4 + p] = fx.dot4(cur[c * 4 + p], wv, *act);
                                }
                            }
                        }
                        Ok(cur.into_iter().map(|v| V { v, ty: I32X4 }).collect())
                    })?;
                    let acc: Vec<[Value; 4]> = (0..ob)
                        .map(|c| std::array::from_fn(|p| out[c * 4 + p].v))
                        .collect();
                    for (c, acc_c) in acc.iter().enumerate() {
                        let ch = fx.b.ins().iadd_imm_s(o, c as i64);
                        fx.lane_epilogue(stage, k, ch, acc_c, out0, out_plane, xb, out_elem)?;
                    }
                    Ok(vec![])
                })?;
                Ok(())
            })?;
            Ok(vec![])
        })?;
        Ok(())
    }

    /// Four accumulator quads (16 lanes of 32 bits) at zero.
    fn zero_quads(&mut self) -> [Value; 4] {
        let zero = self.b.ins().iconst(I32, 0);
        let zero = self.b.ins().splat(I32X4, zero);
        [zero; 4]
    }

    /// Weight bytes packed into every 32-bit lane: the byte at offset `at`
    /// of `base` becomes byte `byte` of the word, the other bytes are zero.
    fn packed_weights(&mut self, base: Value, bytes: &[(i32, usize)]) -> Value {
        let mut word = self.b.ins().iconst(I32, 0);
        for &(at, byte) in bytes {
            let b = self
                .b
                .ins()
                .load(cranelift_codegen::ir::types::I8, vflags(), base, at);
            let b = self.b.ins().uextend(I32, b);
            let b = self.b.ins().ishl_imm_s(b, (8 * byte) as i64);
            word = self.b.ins().bor(word, b);
        }
        let v = self.b.ins().splat(I32X4, word);
        self.b.ins().bitcast(I8X16, lane_flags(), v)
    }

    /// One tap row of a sliding-window dot product over 16 pixels: lane j of
    /// quad p reads bytes 4p + j .. 4p + j + 3 of the window starting at
    /// `src + off` (quads 2 and 3 from a load 8 bytes further), times the
    /// packed `weights`, added to `acc`.
    fn window_dots(&mut self, acc: &mut [Value; 4], src: Value, off: i64, weights: Value) {
        let near: [u8; 16] = std::array::from_fn(|i| ((i / 4) + (i % 4)) as u8);
        let far: [u8; 16] = std::array::from_fn(|i| (4 + (i / 4) + (i % 4)) as u8);
        let l0 = self.b.ins().load(I8X16, vflags(), src, off as i32);
        let l1 = self.b.ins().load(I8X16, vflags(), src, (off + 8) as i32);
        let windows = [
            self.shuffle(l0, l0, near),
            self.shuffle(l0, l0, far),
            self.shuffle(l1, l1, near),
            self.shuffle(l1, l1, far),
        ];
        for (p, win) in windows.into_iter().enumerate() {
            acc[p] = self.dot4(acc[p], weights, win);
        }
    }

    /// `acc + dot4(w, x)` per 32-bit lane: `w` signed bytes, `x` unsigned
    /// bytes. With VNNI in the shape `vpdpbusd` matches; otherwise both are
    /// widened to 16 bits and summed in pairs in the shape `pmaddwd`
    /// matches, then the pairs of pairs.
    fn dot4(&mut self, acc: Value, w: Value, x: Value) -> Value {
        if !self.simd.vnni {
            let mut halves = vec![];
            for high in [false, true] {
                let (w16, x16) = if high {
                    (self.b.ins().swiden_high(w), self.b.ins().uwiden_high(x))
                } else {
                    (self.b.ins().swiden_low(w), self.b.ins().uwiden_low(x))
                };
                let wl = self.b.ins().swiden_low(w16);
                let xl = self.b.ins().swiden_low(x16);
                let lo = self.b.ins().imul(wl, xl);
                let wh = self.b.ins().swiden_high(w16);
                let xh = self.b.ins().swiden_high(x16);
                let hi = self.b.ins().imul(wh, xh);
                halves.push(self.b.ins().iadd_pairwise(lo, hi));
            }
            let sum = self.b.ins().iadd_pairwise(halves[0], halves[1]);
            return self.b.ins().iadd(sum, acc);
        }
        let wl = self.b.ins().swiden_low(w);
        let xl = self.b.ins().uwiden_low(x);
        let lo = self.b.ins().imul(wl, xl);
        let wh = self.b.ins().swiden_high(w);
        let xh = self.b.ins().uwiden_high(x);
        let hi = self.b.ins().imul(wh, xh);
        let lo_l = self.b.ins().swiden_low(lo);
        let lo_h = self.b.ins().swiden_high(lo);
        let lo_s = self.b.ins().iadd_pairwise(lo_l, lo_h);
        let hi_l = self.b.ins().swiden_low(hi);
        let hi_h = self.b.ins().swiden_high(hi);
        let hi_s = self.b.ins().iadd_pairwise(hi_l, hi_h);
        let sum = self.b.ins().iadd_pairwise(lo_s, hi_s);
        self.b.ins().iadd(sum, acc)
    }

    /// The fused chain on the 16 accumulators of channel `ch`, narrowed and
    /// stored to its row.
    #[allow(clippy::too_many_arguments)]
    fn lane_epilogue(
        &mut self,
        stage: &Stage,
        k: NodeId,
        ch: Value,
        acc: &[Value; 4],
        out0: Value,
        out_plane: i64,
        xb: Value,
        elem: super::plan::Elem,
    ) -> Result<(), JitError> {
        let results = self.lane_values(stage, k, ch, acc, elem)?;
        let off = self.b.ins().imul_imm_s(ch, out_plane);
        let base = self.b.ins().iadd(out0, off);
        let col = self.b.ins().imul_imm_s(xb, (BLOCK * elem.bytes) as i64);
        let base = self.b.ins().iadd(base, col);
        for (i, v) in results.into_iter().enumerate() {
            self.b.ins().store(vflags(), v, base, (i * 16) as i32);
        }
        Ok(())
    }

    /// The fused chain on 16 accumulators (4 x I32X4) of channel `ch`,
    /// narrowed to `elem`: 16-byte vectors in pixel order.
    fn lane_values(
        &mut self,
        stage: &Stage,
        k: NodeId,
        ch: Value,
        acc: &[Value; 4],
        elem: super::plan::Elem,
    ) -> Result<Vec<Value>, JitError> {
        let root = stage.root;
        let lane = if self.lanes_fit(root, root, k, 29) {
            I32X4
        } else {
            I64X2
        };
        let saved = std::mem::take(&mut self.cache);
        self.hoist_invariants(root, root, stage.core, ch)?;
        self.lanes = Some(lane);
        let cached: Vec<(NodeId, V)> = self.cache.iter().map(|(&n, &v)| (n, v)).collect();
        for (n, v) in cached {
            let s = self.retype(v, lane);
            self.cache.insert(n, V { v: s, ty: lane });
        }
        let empty = std::collections::HashMap::new();
        let mut results = vec![];
        let mut cores = vec![];
        for &a in acc {
            if lane == I32X4 {
                cores.push(a);
            } else {
                cores.push(self.b.ins().swiden_low(a));
                cores.push(self.b.ins().swiden_high(a));
            }
        }
        for core in cores {
            let px = Pixel {
                c: ch,
                x: ch,
                rows: &empty,
                core: Some((k, V { v: core, ty: lane })),
            };
            let v = self.value(root, &px, root)?;
            results.push(self.retype(v, lane));
        }
        self.lanes = None;
        self.cache = saved;
        // Lanes -> the storage lane width, by halving.
        let mut bytes = lane.lane_bits() as usize / 8;
        while bytes > elem.bytes {
            results = results
                .chunks(2)
                .map(|p| self.narrow(p[0], p[1], bytes))
                .collect();
            bytes /= 2;
        }
        Ok(results)
    }
}

/// The shuffle mask interleaving the bytes of two vectors from byte `from`
/// on (`0`: their low halves, `8`: their high halves): a0 b0 a1 b1 ...
fn interleave_bytes(from: usize) -> [u8; 16] {
    std::array::from_fn(|i| (from + (i / 2) + 16 * (i % 2)) as u8)
}
