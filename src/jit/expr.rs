//! Elementwise operations fused into a stage's loop: each node of the chain is
//! computed in the narrowest machine type holding its operands, its result and
//! its intermediates (see `range`), exactly as `numeric` defines it.

use cranelift_codegen::ir::{condcodes::IntCC, InstBuilder, Value};

use super::emit::{bits, Fx, V};
use super::plan::unsupported;
use super::range::signed_bits;
use super::JitError;
use crate::ir::{CastOverflow, Elementwise, Interval, NodeId, Op, Program, Rounding, Shape};
use crate::numeric::{code_bounds, quantize};
use crate::types::{Overflow, Quant, ScalarType};

/// Where the pixel being computed is: its channel, and row addresses of the
/// map-shaped buffers it reads (by node).
pub(crate) struct Pixel<'r> {
    pub c: Value,
    pub x: Value,
    pub rows: &'r std::collections::HashMap<NodeId, Value>,
    /// The core's value at this pixel.
    pub core: Option<(NodeId, V)>,
}

fn range_of(fx: &Fx<'_, '_>, n: NodeId) -> Interval {
    fx.program.nodes[n].range()
}

impl Fx<'_, '_> {
    fn too_wide(&self, n: NodeId, what: &str) -> JitError {
        unsupported(
            n,
            &self.program.nodes[n],
            format!("{what} needs more than 128 bits"),
        )
    }

    /// Whether node `n`, as seen from a stage whose fused chain contains it,
    /// is the same for every pixel of a row (no map-shaped input, no core).
    pub fn row_invariant(&self, n: NodeId, core: Option<NodeId>) -> bool {
        if Some(n) == core {
            return false;
        }
        let node = &self.program.nodes[n];
        if self.plan.buffer_of[n].is_some() {
            return !matches!(node.shape, Shape::Map { .. });
        }
        if !node.op.is_elementwise() {
            return false;
        }
        node.op
            .operands()
            .iter()
            .all(|&x| self.row_invariant(x, core))
    }

    /// Computes the row-invariant parts of the chain under `n` (stage `root`)
    /// into the cache, so that the pixel loop only reads them.
    pub fn hoist_invariants(
        &mut self,
        n: NodeId,
        root: NodeId,
        core: Option<NodeId>,
        c: Value,
    ) -> Result<(), JitError> {
        let empty = std::collections::HashMap::new();
        let px = Pixel {
            c,
            x: c,
            rows: &empty,
            core: None,
        };
        let node = &self.program.nodes[n];
        if n != root && self.plan.buffer_of[n].is_some() {
            if !matches!(node.shape, Shape::Map { .. }) {
                let v = self.value(n, &px, root)?;
                self.cache.insert(n, v);
            }
            return Ok(());
        }
        if Some(n) == core || !node.op.is_elementwise() {
            return Ok(());
        }
        if n != root && self.row_invariant(n, core) {
            let v = self.value(n, &px, root)?;
            self.cache.insert(n, v);
            return Ok(());
        }
        for x in node.op.operands() {
            self.hoist_invariants(x, root, core, c)?;
        }
        Ok(())
    }

    /// The value of node `n` at the pixel: a buffer read, a constant, the
    /// core's value, or an elementwise operation on those. `root` is the
    /// node the stage stores (its own buffer is not read).
    pub fn value(&mut self, n: NodeId, px: &Pixel<'_>, root: NodeId) -> Result<V, JitError> {
        if let Some(v) = self.cache.get(&n) {
            return Ok(*v);
        }
        if let Some((core, v)) = px.core {
            if core == n {
                return Ok(v);
            }
        }
        let node = &self.program.nodes[n];
        if n != root && self.plan.buffer_of[n].is_some() {
            return self.read(n, px);
        }
        let out = range_of(self, n);
        let v = match &node.op {
            Op::Neg(x) => {
                let a = self.value(*x, px, root)?;
                let ty = self.ty_for(&[range_of(self, *x), out]);
                let a = self.retype(a, ty);
                V {
                    v: self.b.ins().ineg(a),
                    ty,
                }
            }
            Op::Relu(x) => {
                let a = self.value(*x, px, root)?;
                let zero = self.iconst(a.ty, 0);
                V {
                    v: self.smax(a.v, zero),
                    ty: a.ty,
                }
            }
            Op::Round(x, rounding @ (Rounding::Floor | Rounding::Trunc))
                if self.split_here(*x, self.program.nodes[*x].frac).is_some() =>
            {
                let d = self.program.nodes[*x].frac;
                self.split_mul(*x, d, *rounding == Rounding::Trunc, px, root)?
            }
            Op::Round(x, rounding) => {
                let a = self.value(*x, px, root)?;
                let q = match rounding {
                    Rounding::Floor => Quant::Trn,
                    Rounding::Round => Quant::RndInf,
                    Rounding::Trunc => Quant::TrnZero,
                };
                let frac = self.program.nodes[*x].frac;
                let xr = range_of(self, *x);
                self.quantize_down(n, a, xr, frac, q)?
            }
            Op::Shr(x, k) => {
                let a = self.value(*x, px, root)?;
                let k = (*k).min(bits(a.ty) - 1);
                V {
                    v: self.sshr_n(a.v, i64::from(k)),
                    ty: a.ty,
                }
            }
            Op::Shl(x, k) => {
                let a = self.value(*x, px, root)?;
                let ty = self.ty_for(&[range_of(self, *x), out]);
                let a = self.retype(a, ty);
                V {
                    v: self.shl_n(a, i64::from(*k)),
                    ty,
                }
            }
            Op::Binary(op, a, b) => self.binary(n, *op, *a, *b, px, root)?,
            Op::Cast {
                x,
                to,
                quant,
                overflow,
            } => {
                let xr = range_of(self, *x);
                let frac = self.program.nodes[*x].frac;
                let shift = i64::from(frac) - i64::from(to.frac_bits());
                let split = matches!(quant, Quant::Trn | Quant::TrnZero)
                    && shift > 0
                    && self.split_here(*x, shift as u32).is_some();
                let (a, code) = if split {
                    let code =
                        self.split_mul(*x, shift as u32, *quant == Quant::TrnZero, px, root)?;
                    (code, Some(code))
                } else {
                    (self.value(*x, px, root)?, None)
                };
                self.cast(n, a, xr, frac, to, *quant, *overflow, code)?
            }
            Op::Constant { data } if data.len() == 1 => self.constant(data[0]),
            Op::Lookup { x, table, offset } => {
                // One load at `raw_x - offset` (the checker proved it in the table).
                let a = self.value(*x, px, root)?;
                if signed_bits(range_of(self, *x)) > 62 || a.ty.is_vector() {
                    return Err(unsupported(n, node, "a table input wider than 62 bits"));
                }
                let index = self.retype(a, cranelift_codegen::ir::types::I64);
                let index = self.add_imm(index, -(*offset as i64));
                let elem = self.buffer(*table)?.elem;
                let base = self.base(*table)?;
                let addr = self.elem_addr(base, index, elem);
                self.load(elem, addr, 0)
            }
            _ => {
                return Err(unsupported(n, node, "not an elementwise operation"));
            }
        };
        Ok(v)
    }

    /// A read of materialized node `n` at the pixel, broadcast by shape.
    fn read(&mut self, n: NodeId, px: &Pixel<'_>) -> Result<V, JitError> {
        let node = &self.program.nodes[n];
        if let Op::Constant { data } = &node.op {
            if data.len() == 1 {
                return Ok(self.constant(data[0]));
            }
        }
        let buf = self.buffer(n)?;
        let elem = buf.elem;
        match node.shape {
            Shape::Map { .. } => {
                let row = *px.rows.get(&n).ok_or_else(|| JitError::Program {
                    reason: format!("no row address for node {n}"),
                })?;
                let addr = self.elem_addr(row, px.x, elem);
                Ok(self.load(elem, addr, 0))
            }
            Shape::Vector(_) => {
                let base = self.base(n)?;
                let addr = self.elem_addr(base, px.c, elem);
                Ok(self.load(elem, addr, 0))
            }
            Shape::Scalar => {
                let base = self.base(n)?;
                Ok(self.load(elem, base, 0))
            }
            Shape::Weights { .. } => Err(unsupported(n, node, "weights used as a value")),
        }
    }

    fn binary(
        &mut self,
        n: NodeId,
        op: Elementwise,
        a: NodeId,
        b: NodeId,
        px: &Pixel<'_>,
        root: NodeId,
    ) -> Result<V, JitError> {
        let out = range_of(self, n);
        let (ra, rb) = (range_of(self, a), range_of(self, b));
        let va = self.value(a, px, root)?;
        let vb = self.value(b, px, root)?;
        if op == Elementwise::Mul {
            let prod = ra
                .checked_mul(rb)
                .ok_or_else(|| self.too_wide(n, "the product"))?;
            let ty = self.ty_for(&[ra, rb, prod, out]);
            let (x, y) = (self.retype(va, ty), self.retype(vb, ty));
            return Ok(V {
                v: self.b.ins().imul(x, y),
                ty,
            });
        }
        let f = self.program.nodes[n].frac;
        let (sa, sb) = (
            f.saturating_sub(self.program.nodes[a].frac),
            f.saturating_sub(self.program.nodes[b].frac),
        );
        let ra2 = ra
            .checked_shl(sa)
            .ok_or_else(|| self.too_wide(n, "aligning an operand"))?;
        let rb2 = rb
            .checked_shl(sb)
            .ok_or_else(|| self.too_wide(n, "aligning an operand"))?;
        let mut spans = vec![ra, rb, ra2, rb2, out];
        if op == Elementwise::Sub || op == Elementwise::Add {
            // The exact result range; the checker's may be wider or narrower.
            let sum = match op {
                Elementwise::Add => ra2.checked_add(rb2),
                _ => ra2.checked_sub(rb2),
            };
            spans.push(sum.ok_or_else(|| self.too_wide(n, "the sum"))?);
        }
        let ty = self.ty_for(&spans);
        let mut x = self.retype(va, ty);
        let mut y = self.retype(vb, ty);
        if sa > 0 {
            x = self.shl_n(x, i64::from(sa));
        }
        if sb > 0 {
            y = self.shl_n(y, i64::from(sb));
        }
        let v = match op {
            Elementwise::Add => self.b.ins().iadd(x, y),
            Elementwise::Sub => self.b.ins().isub(x, y),
            Elementwise::Max => self.smax(x, y),
            Elementwise::Min => self.smin(x, y),
            Elementwise::Mul => self.b.ins().imul(x, y),
        };
        Ok(V { v, ty })
    }

    /// `raw / 2^d` rounded to an integer with mode `q` (`d = frac`).
    fn quantize_down(
        &mut self,
        n: NodeId,
        a: V,
        r: Interval,
        d: u32,
        q: Quant,
    ) -> Result<V, JitError> {
        if d == 0 {
            return Ok(a);
        }
        let width = signed_bits(r);
        if d > width {
            // |raw| < 2^(width - 1) <= 2^(d - 2): the value is in (-1/4, 1/4).
            return Ok(match q {
                Quant::Trn => {
                    let neg = self.cmp_imm(IntCC::SignedLessThan, a.v, 0);
                    let ty = self.ty_for(&[Interval::new(-1, 0)]);
                    let m1 = self.iconst(ty, -1);
                    let z = self.iconst(ty, 0);
                    V {
                        v: self.sel(neg, m1, z),
                        ty,
                    }
                }
                _ => self.constant(0),
            });
        }
        let unit = 1i128
            .checked_shl(d)
            .filter(|&u| u > 0)
            .ok_or_else(|| self.too_wide(n, "rounding"))?;
        let around = r
            .checked_add(Interval::new(-unit, unit))
            .ok_or_else(|| self.too_wide(n, "rounding"))?;
        let ty = self.ty_for(&[around]);
        let x = self.retype(a, ty);
        let half = unit >> 1;
        let bias = match q {
            Quant::Trn => None,
            Quant::TrnZero => {
                let neg = self.cmp_imm(IntCC::SignedLessThan, x, 0);
                let m = self.iconst(ty, unit - 1);
                let z = self.iconst(ty, 0);
                Some(self.sel(neg, m, z))
            }
            Quant::Rnd => Some(self.iconst(ty, half)),
            Quant::RndMinInf => Some(self.iconst(ty, half - 1)),
            Quant::RndInf | Quant::RndZero => {
                let cc = if q == Quant::RndInf {
                    IntCC::SignedLessThan
                } else {
                    IntCC::SignedGreaterThanOrEqual
                };
                let test = self.cmp_imm(cc, x, 0);
                let h1 = self.iconst(ty, half - 1);
                let h = self.iconst(ty, half);
                Some(self.sel(test, h1, h))
            }
            Quant::RndConv => {
                let floor = self.sshr_n(x, i64::from(d));
                let odd = self.and_imm(floor, 1);
                Some(self.add_imm(odd, (half - 1) as i64))
            }
        };
        let sum = match bias {
            Some(b) => self.b.ins().iadd(x, b),
            None => x,
        };
        Ok(V {
            v: self.sshr_n(sum, i64::from(d)),
            ty,
        })
    }

    /// `x as to`: quantize, overflow, scale to the storage fraction.
    #[allow(clippy::too_many_arguments)]
    fn cast(
        &mut self,
        n: NodeId,
        a: V,
        r: Interval,
        from_frac: u32,
        to: &ScalarType,
        q: Quant,
        overflow: CastOverflow,
        code: Option<V>,
    ) -> Result<V, JitError> {
        let f_to = to.frac_bits();
        let shift = i64::from(from_frac) - i64::from(f_to);
        let (min, max) = code_bounds(to.signed, to.width);
        let qlo = quantize(r.lo, from_frac as i32, f_to, q);
        let qhi = quantize(r.hi, from_frac as i32, f_to, q);
        if [qlo, qhi].iter().any(|&v| v == i128::MIN || v == i128::MAX) {
            return Err(self.too_wide(n, "the conversion"));
        }
        let out = range_of(self, n);
        let code = if let Some(code) = code {
            code
        } else if shift > 0 {
            let d = u32::try_from(shift).map_err(|_| self.too_wide(n, "the conversion"))?;
            self.quantize_down(n, a, r, d, q)?
        } else {
            let ty = self.ty_for(&[r, Interval::new(qlo, qhi)]);
            let x = self.retype(a, ty);
            V {
                v: self.shl_n(x, -shift),
                ty,
            }
        };
        let ty = self.ty_for(&[
            Interval::new(qlo, qhi),
            Interval::new(min, max),
            out,
            Interval::point(0),
        ]);
        let ty = if bits(code.ty) > bits(ty) {
            code.ty
        } else {
            ty
        };
        let mut v = self.retype(code, ty);
        let needs = qlo < min || qhi > max;
        if let CastOverflow::Mode(mode) = overflow {
            let sym = mode == Overflow::SatSym && to.signed && qlo <= min;
            if needs || sym {
                v = self.overflow(v, ty, to, mode, (min, max));
            }
        }
        if f_to < 0 {
            v = self.shl_n(v, -i64::from(f_to));
        }
        Ok(V { v, ty })
    }

    fn overflow(
        &mut self,
        v: Value,
        ty: cranelift_codegen::ir::Type,
        to: &ScalarType,
        mode: Overflow,
        (min, max): (i128, i128),
    ) -> Value {
        match mode {
            Overflow::Wrap => {
                let spare = bits(ty) - to.width.min(bits(ty));
                if spare == 0 {
                    return v;
                }
                let up = self.shl_n(v, i64::from(spare));
                if to.signed {
                    self.sshr_n(up, i64::from(spare))
                } else {
                    self.ushr_n(up, i64::from(spare))
                }
            }
            Overflow::Sat | Overflow::SatSym => {
                let lo = if mode == Overflow::SatSym && to.signed {
                    -max
                } else {
                    min
                };
                let (lo, hi) = (self.iconst(ty, lo), self.iconst(ty, max));
                let v = self.smin(v, hi);
                self.smax(v, lo)
            }
            Overflow::SatZero => {
                let (lo, hi) = (self.iconst(ty, min), self.iconst(ty, max));
                let below = self.b.ins().icmp(IntCC::SignedLessThan, v, lo);
                let above = self.b.ins().icmp(IntCC::SignedGreaterThan, v, hi);
                let out = self.b.ins().bor(below, above);
                let zero = self.iconst(ty, 0);
                self.sel(out, zero, v)
            }
        }
    }
}

impl Fx<'_, '_> {
    /// For 32-bit lanes: `m = a * k` (a fused product by a constant `k >= 0`)
    /// whose floor or truncation by `2^d` can be split so that no lane
    /// overflows: returns `(a, k, s)`.
    pub fn split_here(&self, m: NodeId, d: u32) -> Option<(NodeId, i128, u32)> {
        if self.lanes != Some(cranelift_codegen::ir::types::I32X4) {
            return None;
        }
        self.split_candidate(m, d, 30)
    }

    /// `split_here` without the lane test, for lanes of `limit + 1` bits.
    pub fn split_candidate(&self, m: NodeId, d: u32, limit: u32) -> Option<(NodeId, i128, u32)> {
        if self.plan.buffer_of[m].is_some() {
            return None;
        }
        let Op::Binary(Elementwise::Mul, a, b) = self.program.nodes[m].op else {
            return None;
        };
        let konst = |x: NodeId| match &self.program.nodes[x].op {
            Op::Constant { data } if data.len() == 1 && data[0] >= 0 => Some(data[0]),
            _ => None,
        };
        let (a, k) = match (konst(a), konst(b)) {
            (_, Some(k)) => (a, k),
            (Some(k), _) => (b, k),
            _ => return None,
        };
        let r = self.program.nodes[a].range();
        let big = r.lo.unsigned_abs().max(r.hi.unsigned_abs());
        let big = i128::try_from(big).ok()?;
        let cap = 1i128 << limit;
        if big >= cap {
            return None;
        }
        // Largest s <= d with big * 2^s < cap: then |a * (k mod 2^s)| < cap.
        let mut s = d.min(limit);
        while s > 0 && big.checked_mul(1i128 << s)? >= cap {
            s -= 1;
        }
        let high = big.checked_mul(k >> s)?.checked_add(big)?;
        (high < cap).then_some((a, k, s))
    }

    /// `floor(a * k / 2^d)` (or its truncation toward zero) on 32-bit lanes,
    /// with `k = k1 * 2^s + k0`: `floor((a * k1 + floor(a * k0 / 2^s)) / 2^(d - s))`,
    /// exact because `floor((n + y) / q) = floor((n + floor(y)) / q)` for
    /// integers `n`, `q > 0`. Truncation works on `|a|` and restores the sign.
    fn split_mul(
        &mut self,
        m: NodeId,
        d: u32,
        trunc: bool,
        px: &Pixel<'_>,
        root: NodeId,
    ) -> Result<V, JitError> {
        let (a, k, s) = self
            .split_here(m, d)
            .ok_or_else(|| unsupported(m, &self.program.nodes[m], "no split product"))?;
        let ty = cranelift_codegen::ir::types::I32X4;
        let va = self.value(a, px, root)?;
        let va = self.retype(va, ty);
        let x = if trunc { self.b.ins().iabs(va) } else { va };
        let k0 = self.iconst(ty, k & ((1i128 << s) - 1));
        let k1 = self.iconst(ty, k >> s);
        let lo = self.b.ins().imul(x, k0);
        let lo = self.sshr_n(lo, i64::from(s));
        let hi = self.b.ins().imul(x, k1);
        let sum = self.b.ins().iadd(hi, lo);
        let q = self.sshr_n(sum, i64::from((d - s).min(31)));
        if !trunc {
            return Ok(V { v: q, ty });
        }
        let zero = self.iconst(ty, 0);
        let neg = self.b.ins().icmp(IntCC::SignedLessThan, va, zero);
        let minus = self.b.ins().ineg(q);
        Ok(V {
            v: self.sel(neg, minus, q),
            ty,
        })
    }
}

/// The interval every partial sum of a dot product lies in, for `taps`
/// weights against inputs in `x` (zero included: padding reads zeros).
fn dot_bound(weights: &[i128], x: Interval) -> Option<Interval> {
    let x = x.hull(Interval::point(0));
    let mut bound = Interval::point(0);
    for &w in weights {
        let p = Interval::point(w).checked_mul(x)?;
        bound = bound.checked_add(p.hull(Interval::point(0)))?;
    }
    Some(bound)
}

/// The constant weights of a convolution whose operands have the shapes of
/// `vpdpbusd` / `pmaddwd`: inputs `x` within 0..=255 (unsigned bytes) and
/// every weight of `w` within -128..=127 (signed bytes).
pub(crate) fn u8_x_i8_weights(program: &Program, x: NodeId, w: NodeId) -> Option<&[i128]> {
    let xr = program.nodes[x].range();
    let Op::Constant { data } = &program.nodes[w].op else {
        return None;
    };
    let narrow = xr.lo >= 0 && xr.hi <= 255 && data.iter().all(|&v| (-128..=127).contains(&v));
    narrow.then_some(data.as_slice())
}

/// The interval every partial sum of every channel's dot product lies in
/// (`channels`: one weight list each, against inputs in `x`); `None` past
/// 128 bits.
pub(crate) fn accumulator_bound<W: AsRef<[i128]>>(
    channels: impl IntoIterator<Item = W>,
    x: Interval,
) -> Option<Interval> {
    let mut bound = Interval::point(0);
    for channel in channels {
        bound = bound.hull(dot_bound(channel.as_ref(), x)?);
    }
    Some(bound)
}

/// Whether every dot product of one channel's `taps` weights (the groups of
/// `weights`, in order) with inputs in `x` fits 32 bits.
pub(crate) fn accumulators_fit_32_bits(weights: &[i128], taps: usize, x: Interval) -> bool {
    accumulator_bound(weights.chunks(taps.max(1)), x).is_some_and(|b| signed_bits(b) <= 32)
}
