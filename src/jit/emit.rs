//! The function builder shared by every stage: typed values, loops, loads and
//! stores on planned buffers.
//!
//! Every generated stage is `extern "C" fn(bufs: *const *mut u8, lo: i64,
//! hi: i64) -> i64`: it computes work items `lo..hi` (rows `c * H + y` of its
//! output, or channels for unpooling) and returns -1, or the flat position of
//! a bad unpooling index.

use std::collections::HashMap;

use cranelift_codegen::ir::types::{I128, I16, I32, I64, I8};
use cranelift_codegen::ir::{condcodes::IntCC, BlockArg, InstBuilder, MemFlagsData, Type, Value};
use cranelift_frontend::FunctionBuilder;

use super::plan::{Buffer, Elem, Plan};
use super::range::ty_for;
use super::JitError;
use crate::ir::{Interval, NodeId, Program};

/// A value held as a signed number in its machine type.
#[derive(Clone, Copy, Debug)]
pub(crate) struct V {
    pub v: Value,
    pub ty: Type,
}

/// Bits of a scalar type, or of one lane of a vector type.
pub(crate) fn bits(ty: Type) -> u32 {
    ty.lane_bits()
}

pub(crate) fn flags() -> MemFlagsData {
    MemFlagsData::trusted()
}

/// Unaligned, non-trapping access (vectors at arbitrary pixel offsets).
pub(crate) fn vflags() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

pub(crate) struct Fx<'a, 'f> {
    pub b: FunctionBuilder<'f>,
    pub program: &'a Program,
    pub plan: &'a Plan,
    pub bufs: Value,
    bases: HashMap<usize, Value>,
    /// Row-invariant values of the stage being built, by node.
    pub cache: HashMap<NodeId, V>,
    pub simd: super::Simd,
    /// Elementwise code runs on vectors (`I32X4` or `I64X2`) instead of
    /// scalars: every value is held in lanes of that type.
    pub lanes: Option<Type>,
    /// For a vectorized deconvolution: the column-phase block range
    /// `qa..qb` that vector code computes (the scalar code does the rest).
    pub deconv_blocks: Option<(i64, i64)>,
}

impl<'a, 'f> Fx<'a, 'f> {
    pub fn new(
        b: FunctionBuilder<'f>,
        program: &'a Program,
        plan: &'a Plan,
        bufs: Value,
        simd: super::Simd,
    ) -> Self {
        Fx {
            b,
            program,
            plan,
            bufs,
            bases: HashMap::new(),
            cache: HashMap::new(),
            simd,
            lanes: None,
            deconv_blocks: None,
        }
    }

    pub fn buffer_index(&self, node: NodeId) -> Result<usize, JitError> {
        self.plan
            .buffer_of
            .get(node)
            .copied()
            .flatten()
            .ok_or_else(|| JitError::Program {
                reason: format!("node {node} has no buffer"),
            })
    }

    pub fn buffer(&self, node: NodeId) -> Result<&'a Buffer, JitError> {
        let plan: &'a Plan = self.plan;
        Ok(&plan.buffers[self.buffer_index(node)?])
    }

    /// Base address of buffer `index`, loaded once in the entry block.
    pub fn base(&mut self, node: NodeId) -> Result<Value, JitError> {
        let index = self.buffer_index(node)?;
        Ok(*self.bases.get(&index).ok_or_else(|| JitError::Program {
            reason: format!("buffer of node {node} not loaded"),
        })?)
    }

    /// Loads the base pointers of every buffer; call in the entry block.
    pub fn load_bases(&mut self) {
        for index in 0..self.plan.buffers.len() {
            let v = self
                .b
                .ins()
                .load(I64, flags(), self.bufs, (index * 8) as i32);
            self.bases.insert(index, v);
        }
    }

    pub fn iconst(&mut self, ty: Type, v: i128) -> Value {
        if ty.is_vector() {
            let lane = self.iconst(ty.lane_type(), v);
            return self.b.ins().splat(ty, lane);
        }
        if ty == I128 {
            if let Ok(small) = i64::try_from(v) {
                let lo = self.b.ins().iconst(I64, small);
                return self.b.ins().sextend(I128, lo);
            }
            let lo = self.b.ins().iconst(I64, v as u64 as i64);
            let hi = self.b.ins().iconst(I64, (v >> 64) as i64);
            return self.b.ins().iconcat(lo, hi);
        }
        // Truncated to the type: callers only pass values that fit.
        self.b.ins().iconst(ty, v as i64)
    }

    pub fn constant(&mut self, v: i128) -> V {
        let ty = self.ty_for(&[Interval::point(v)]);
        V {
            v: self.iconst(ty, v),
            ty,
        }
    }

    /// `v` re-expressed in `ty` (the value fits by construction).
    pub fn retype(&mut self, v: V, ty: Type) -> Value {
        use std::cmp::Ordering;
        if v.ty == ty {
            return v.v;
        }
        if ty.is_vector() {
            let lane = self.retype(v, ty.lane_type());
            return self.b.ins().splat(ty, lane);
        }
        match bits(v.ty).cmp(&bits(ty)) {
            Ordering::Equal => v.v,
            Ordering::Less => self.b.ins().sextend(ty, v.v),
            Ordering::Greater => self.b.ins().ireduce(ty, v.v),
        }
    }

    pub fn i64(&mut self, v: i64) -> Value {
        self.b.ins().iconst(I64, v)
    }

    /// Address `base + (index * elem + offset)` with `index` an i64 element index.
    pub fn elem_addr(&mut self, base: Value, index: Value, elem: Elem) -> Value {
        let scaled = if elem.bytes == 1 {
            index
        } else {
            self.b.ins().imul_imm_s(index, elem.bytes as i64)
        };
        self.b.ins().iadd(base, scaled)
    }

    pub fn load(&mut self, elem: Elem, addr: Value, offset: i64) -> V {
        let st = storage_ty(elem);
        let off = i32::try_from(offset * elem.bytes as i64).unwrap_or(i32::MAX);
        let raw = self.b.ins().load(st, flags(), addr, off);
        if elem.signed {
            V { v: raw, ty: st }
        } else {
            let wide = wider(st);
            V {
                v: self.b.ins().uextend(wide, raw),
                ty: wide,
            }
        }
    }

    pub fn store(&mut self, elem: Elem, v: V, addr: Value, offset: i64) {
        let st = storage_ty(elem);
        let raw = self.retype(v, st);
        let off = i32::try_from(offset * elem.bytes as i64).unwrap_or(i32::MAX);
        self.b.ins().store(flags(), raw, addr, off);
    }

    /// Address of interior element `(c, y, 0)` of `buf`, `c` and `y` i64 values.
    pub fn row_addr(&mut self, node: NodeId, c: Value, y: Value) -> Result<Value, JitError> {
        let buf = self.buffer(node)?;
        let base = self.base(node)?;
        let (rows, stride, top, left) = (buf.rows(), buf.stride(), buf.halo.top, buf.halo.left);
        let elem = buf.elem;
        let cr = self.b.ins().imul_imm_s(c, rows as i64);
        let row = self.b.ins().iadd(cr, y);
        let row = self.b.ins().iadd_imm_s(row, top as i64);
        let index = self.b.ins().imul_imm_s(row, stride as i64);
        let index = self.b.ins().iadd_imm_s(index, left as i64);
        Ok(self.elem_addr(base, index, elem))
    }

    /// `for i in lo..hi` with loop-carried values; returns their final values.
    pub fn loop_carry(
        &mut self,
        lo: Value,
        hi: Value,
        init: &[V],
        mut body: impl FnMut(&mut Self, Value, &[V]) -> Result<Vec<V>, JitError>,
    ) -> Result<Vec<V>, JitError> {
        let header = self.b.create_block();
        let body_block = self.b.create_block();
        let exit = self.b.create_block();
        self.b.append_block_param(header, I64);
        for v in init {
            self.b.append_block_param(header, v.ty);
            self.b.append_block_param(exit, v.ty);
        }
        let mut args = vec![BlockArg::Value(lo)];
        args.extend(init.iter().map(|v| BlockArg::Value(v.v)));
        self.b.ins().jump(header, &args);
        self.b.switch_to_block(header);
        let params = self.b.block_params(header).to_vec();
        let i = params[0];
        let carried: Vec<V> = init
            .iter()
            .zip(&params[1..])
            .map(|(v, &p)| V { v: p, ty: v.ty })
            .collect();
        let cond = self.b.ins().icmp(IntCC::SignedLessThan, i, hi);
        let exit_args: Vec<BlockArg> = carried.iter().map(|v| BlockArg::Value(v.v)).collect();
        self.b.ins().brif(cond, body_block, &[], exit, &exit_args);
        self.b.switch_to_block(body_block);
        let next = body(self, i, &carried)?;
        let step = self.b.ins().iadd_imm_s(i, 1);
        let mut args = vec![BlockArg::Value(step)];
        for (n, c) in next.iter().zip(&carried) {
            let v = self.retype(*n, c.ty);
            args.push(BlockArg::Value(v));
        }
        self.b.ins().jump(header, &args);
        self.b.switch_to_block(exit);
        let out = self.b.block_params(exit).to_vec();
        Ok(init
            .iter()
            .zip(out)
            .map(|(v, p)| V { v: p, ty: v.ty })
            .collect())
    }

    /// `for i in lo..hi` (constant bounds).
    pub fn for_range(
        &mut self,
        lo: i64,
        hi: i64,
        mut body: impl FnMut(&mut Self, Value) -> Result<(), JitError>,
    ) -> Result<(), JitError> {
        if hi <= lo {
            return Ok(());
        }
        let (l, h) = (self.i64(lo), self.i64(hi));
        self.loop_carry(l, h, &[], |fx, i, _| {
            body(fx, i)?;
            Ok(vec![])
        })?;
        Ok(())
    }

    /// Runs one of `variants` chosen by `selector` (0-based), then continues.
    pub fn dispatch(
        &mut self,
        selector: Value,
        variants: usize,
        mut body: impl FnMut(&mut Self, usize) -> Result<(), JitError>,
    ) -> Result<(), JitError> {
        if variants == 1 {
            return body(self, 0);
        }
        let join = self.b.create_block();
        for k in 0..variants {
            let this = self.b.create_block();
            if k + 1 < variants {
                let next = self.b.create_block();
                let is = self.b.ins().icmp_imm_s(IntCC::Equal, selector, k as i64);
                self.b.ins().brif(is, this, &[], next, &[]);
                self.b.switch_to_block(this);
                body(self, k)?;
                self.b.ins().jump(join, &[]);
                self.b.switch_to_block(next);
            } else {
                self.b.ins().jump(this, &[]);
                self.b.switch_to_block(this);
                body(self, k)?;
                self.b.ins().jump(join, &[]);
            }
        }
        self.b.switch_to_block(join);
        Ok(())
    }

    pub fn smax(&mut self, a: Value, b: Value) -> Value {
        if self.is_vec(a) {
            return self.b.ins().smax(a, b);
        }
        let gt = self.b.ins().icmp(IntCC::SignedGreaterThan, a, b);
        self.sel(gt, a, b)
    }

    pub fn smin(&mut self, a: Value, b: Value) -> Value {
        if self.is_vec(a) {
            return self.b.ins().smin(a, b);
        }
        let lt = self.b.ins().icmp(IntCC::SignedLessThan, a, b);
        self.sel(lt, a, b)
    }

    /// The machine type for values in `ranges` (the lane type in lanes mode).
    pub fn ty_for(&self, ranges: &[Interval]) -> Type {
        if let Some(t) = self.lanes {
            t
        } else {
            ty_for(ranges)
        }
    }

    fn is_vec(&self, v: Value) -> bool {
        self.b.func.dfg.value_type(v).is_vector()
    }

    /// `c ? a : b`, with `c` a flag or (for vectors) a lane mask.
    pub fn sel(&mut self, c: Value, a: Value, b: Value) -> Value {
        if self.is_vec(a) {
            self.b.ins().bitselect(c, a, b)
        } else if self.b.func.dfg.value_type(a) == I128 {
            // Masks, not `select`: the mid-end would turn a compare and
            // select into `smax.i128`, which x64 cannot lower.
            let m = self.b.ins().bmask(I128, c);
            let keep = self.b.ins().band(a, m);
            let other = self.b.ins().band_not(b, m);
            self.b.ins().bor(keep, other)
        } else {
            self.b.ins().select(c, a, b)
        }
    }

    fn amount(&mut self, v: Value, n: i64) -> Option<Value> {
        self.is_vec(v)
            .then(|| self.b.ins().iconst(cranelift_codegen::ir::types::I32, n))
    }

    pub fn shl_n(&mut self, v: Value, n: i64) -> Value {
        if n == 0 {
            return v;
        }
        match self.amount(v, n) {
            Some(k) => self.b.ins().ishl(v, k),
            None => self.b.ins().ishl_imm_s(v, n),
        }
    }

    pub fn sshr_n(&mut self, v: Value, n: i64) -> Value {
        match self.amount(v, n) {
            Some(k) => self.b.ins().sshr(v, k),
            None => self.b.ins().sshr_imm_s(v, n),
        }
    }

    pub fn ushr_n(&mut self, v: Value, n: i64) -> Value {
        match self.amount(v, n) {
            Some(k) => self.b.ins().ushr(v, k),
            None => self.b.ins().ushr_imm_s(v, n),
        }
    }

    pub fn cmp_imm(&mut self, cc: IntCC, v: Value, n: i64) -> Value {
        let ty = self.b.func.dfg.value_type(v);
        if ty.is_vector() {
            let k = self.iconst(ty, i128::from(n));
            self.b.ins().icmp(cc, v, k)
        } else {
            self.b.ins().icmp_imm_s(cc, v, n)
        }
    }

    pub fn and_imm(&mut self, v: Value, n: i64) -> Value {
        let ty = self.b.func.dfg.value_type(v);
        let k = self.iconst(ty, i128::from(n));
        self.b.ins().band(v, k)
    }

    pub fn add_imm(&mut self, v: Value, n: i64) -> Value {
        let ty = self.b.func.dfg.value_type(v);
        let k = self.iconst(ty, i128::from(n));
        self.b.ins().iadd(v, k)
    }
}

pub(crate) fn storage_ty(elem: Elem) -> Type {
    match elem.bytes {
        1 => I8,
        2 => I16,
        4 => I32,
        8 => I64,
        _ => I128,
    }
}

fn wider(ty: Type) -> Type {
    match ty.bits() {
        8 => I16,
        16 => I32,
        32 => I64,
        _ => I128,
    }
}
