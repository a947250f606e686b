//! Expressions: names, literals, arithmetic, shifts and `as` conversions.
//! Stage and block calls are in `calls`.

use super::error::{CheckError, CheckWarning, RangeFact};
use super::interval::{self, Overflowed};
use super::scope::{suggest, Value};
use super::Checker;
use crate::ast::{BinOp, Expr, ExprKind};
use crate::ir::{CastOverflow, Elementwise, Interval, NodeId, Op, Rounding, Shape};
use crate::numeric;
use crate::span::Span;
use crate::types::{Overflow, Quant, ScalarType, MAX_TYPE_BITS};

impl Checker<'_> {
    pub(super) fn eval(&mut self, e: &Expr) -> Value {
        match &e.kind {
            ExprKind::Number(n) => self.number(n, e.span),
            ExprKind::Name(name) => self.name(name, e.span),
            ExprKind::Tuple(items) => Value::Tuple(items.iter().map(|i| self.eval(i)).collect()),
            ExprKind::Call(call) => self.call(call, None),
            ExprKind::Type(ty) => Value::Type(*ty),
            ExprKind::Pipe(lhs, call) => {
                let first = self.eval(lhs);
                self.call(call, Some((first, lhs.span)))
            }
            ExprKind::Neg(x) => match self.eval(x) {
                Value::Int(v) => Value::Int(-v),
                v => self.unary(v, e.span, x.span, "-", Op::Neg, interval::neg),
            },
            ExprKind::Binary(op, a, b) => self.binary(*op, a, b, e.span),
            ExprKind::Cast {
                value,
                ty,
                overflow,
            } => {
                let v = self.eval(value);
                self.cast(
                    v,
                    value.span,
                    ty.node,
                    ty.span,
                    overflow.as_ref().map(|o| o.node),
                    e.span,
                )
            }
        }
    }

    fn name(&mut self, name: &str, span: Span) -> Value {
        if let Some(v) = self.scope().lookup(name) {
            return v;
        }
        if crate::builtins::is_word(name) {
            return Value::Word(name.to_string());
        }
        let candidates: Vec<String> = self.scope().names().map(str::to_string).collect();
        let suggestion = suggest(name, candidates.iter().map(|s| s.as_str()));
        self.error(CheckError::UnknownName {
            span,
            name: name.to_string(),
            suggestion,
        })
    }

    fn number(&mut self, n: &crate::ast::Number, span: Span) -> Value {
        match super::literal::exact_binary(n) {
            Some((raw, 0)) => Value::Int(raw),
            Some((raw, frac)) => {
                let id = self.push(
                    Op::Constant { data: vec![raw] },
                    Shape::Scalar,
                    frac,
                    vec![Interval::point(raw)],
                    span,
                    "literal".into(),
                );
                Value::Tensor(id)
            }
            None => self.error(CheckError::InexactLiteral {
                span,
                text: super::literal::written(n),
            }),
        }
    }

    /// Turns a compile-time integer into a scalar constant node.
    pub(super) fn materialize(&mut self, v: Value, span: Span) -> Value {
        match v {
            Value::Int(raw) => match interval::within_limit(raw) {
                Ok(raw) => Value::Tensor(self.push(
                    Op::Constant { data: vec![raw] },
                    Shape::Scalar,
                    0,
                    vec![Interval::point(raw)],
                    span,
                    "literal".into(),
                )),
                Err(Overflowed) => self.error(CheckError::TooWide { span, bits: 128 }),
            },
            other => other,
        }
    }

    /// The node behind a value that must be a tensor, or None (error reported).
    pub(super) fn tensor(&mut self, v: Value, span: Span) -> Option<NodeId> {
        match self.materialize(v, span) {
            Value::Tensor(id) => Some(id),
            Value::Poison => None,
            Value::Tuple(_) => {
                self.error(CheckError::NotATensor {
                    span,
                    what: "a tuple".into(),
                });
                None
            }
            Value::Word(w) => {
                self.error(CheckError::NotATensor { span, what: w });
                None
            }
            Value::Type(t) => {
                self.error(CheckError::NotATensor {
                    span,
                    what: format!("the type {t}"),
                });
                None
            }
            Value::Int(_) => None,
        }
    }

    pub(super) fn too_wide(&mut self, span: Span) -> Value {
        self.error(CheckError::TooWide {
            span,
            bits: interval::LIMIT_BITS + 1,
        })
    }

    pub(super) fn unary(
        &mut self,
        v: Value,
        span: Span,
        arg_span: Span,
        label: &str,
        op: fn(NodeId) -> Op,
        f: fn(Interval) -> Interval,
    ) -> Value {
        let Some(x) = self.tensor(v, arg_span) else {
            return Value::Poison;
        };
        let node = &self.nodes[x];
        let ranges = node.ranges.iter().map(|r| f(*r)).collect();
        let (shape, frac) = (node.shape.clone(), node.frac);
        if matches!(shape, Shape::Weights { .. }) {
            return self.weights_in_arithmetic(arg_span);
        }
        Value::Tensor(self.push(op(x), shape, frac, ranges, span, label.into()))
    }

    fn weights_in_arithmetic(&mut self, span: Span) -> Value {
        self.error(CheckError::NotATensor {
            span,
            what: "weights (they are used only by conv and deconv)".into(),
        })
    }

    pub(super) fn rounding(
        &mut self,
        v: Value,
        span: Span,
        arg_span: Span,
        mode: Rounding,
    ) -> Value {
        let Some(x) = self.tensor(v, arg_span) else {
            return Value::Poison;
        };
        let node = &self.nodes[x];
        let frac = node.frac;
        let ranges = node
            .ranges
            .iter()
            .map(|r| interval::monotone(*r, |v| numeric::round_to_int(v, frac, mode)))
            .collect();
        let shape = node.shape.clone();
        let label = match mode {
            Rounding::Floor => "floor",
            Rounding::Round => "round",
            Rounding::Trunc => "trunc",
        };
        Value::Tensor(self.push(Op::Round(x, mode), shape, 0, ranges, span, label.into()))
    }

    fn binary(&mut self, op: BinOp, a: &Expr, b: &Expr, span: Span) -> Value {
        let va = self.eval(a);
        let vb = self.eval(b);
        if let (BinOp::Shr | BinOp::Shl, _) = (op, &vb) {
            return self.shift(op, va, a.span, vb, b.span, span);
        }
        // Constant folding of compile-time integers (block arguments, literals).
        if let (Value::Int(x), Value::Int(y)) = (&va, &vb) {
            let folded = match op {
                BinOp::Add => x.checked_add(*y),
                BinOp::Sub => x.checked_sub(*y),
                BinOp::Mul => x.checked_mul(*y),
                BinOp::Shr | BinOp::Shl => None,
            };
            return match folded.map(interval::within_limit) {
                Some(Ok(v)) => Value::Int(v),
                _ => self.too_wide(span),
            };
        }
        let kind = match op {
            BinOp::Add => Elementwise::Add,
            BinOp::Sub => Elementwise::Sub,
            _ => Elementwise::Mul,
        };
        self.elementwise(kind, va, a.span, vb, b.span, span, op.symbol())
    }

    /// A broadcasting elementwise operation between two tensors.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn elementwise(
        &mut self,
        kind: Elementwise,
        va: Value,
        a_span: Span,
        vb: Value,
        b_span: Span,
        span: Span,
        label: &str,
    ) -> Value {
        let (Some(a), Some(b)) = (self.tensor(va, a_span), self.tensor(vb, b_span)) else {
            return Value::Poison;
        };
        let (na, nb) = (&self.nodes[a], &self.nodes[b]);
        let Some(shape) = broadcast(&na.shape, &nb.shape) else {
            return self.error(CheckError::BroadcastMismatch {
                span,
                left: na.shape.dims(),
                right: nb.shape.dims(),
            });
        };
        let frac = match kind {
            Elementwise::Mul => na.frac + nb.frac,
            _ => na.frac.max(nb.frac),
        };
        let channels = shape.channels();
        let pick = |r: &[Interval], c: usize| r[if r.len() == 1 { 0 } else { c }];
        let mut ranges = Vec::with_capacity(channels);
        for c in 0..channels {
            let (ra, rb) = (pick(&na.ranges, c), pick(&nb.ranges, c));
            let r = match kind {
                Elementwise::Mul => interval::mul(ra, rb),
                _ => interval::align(ra, na.frac, frac).and_then(|ra| {
                    let rb = interval::align(rb, nb.frac, frac)?;
                    Ok(match kind {
                        Elementwise::Add => interval::add(ra, rb)?,
                        Elementwise::Sub => interval::sub(ra, rb)?,
                        Elementwise::Max => interval::max(ra, rb),
                        _ => interval::min(ra, rb),
                    })
                }),
            };
            match r {
                Ok(r) => ranges.push(r),
                Err(Overflowed) => return self.too_wide(span),
            }
        }
        Value::Tensor(self.push(
            Op::Binary(kind, a, b),
            shape,
            frac,
            ranges,
            span,
            label.into(),
        ))
    }

    fn shift(
        &mut self,
        op: BinOp,
        va: Value,
        a_span: Span,
        vb: Value,
        b_span: Span,
        span: Span,
    ) -> Value {
        let n = match vb {
            Value::Int(n) if (0..=interval::LIMIT_BITS as i128).contains(&n) => n as u32,
            Value::Int(n) => {
                return self.error(CheckError::ShiftAmount {
                    span: b_span,
                    amount: n,
                });
            }
            Value::Poison => return Value::Poison,
            _ => {
                return self.error(CheckError::NotAnInteger {
                    span: b_span,
                    what: "a shift amount".into(),
                })
            }
        };
        if let Value::Int(x) = va {
            return match op {
                BinOp::Shr => Value::Int(numeric::floor_shr(x, n)),
                _ => match interval::shl_value(x, n) {
                    Ok(v) => Value::Int(v),
                    Err(Overflowed) => self.too_wide(span),
                },
            };
        }
        let Some(x) = self.tensor(va, a_span) else {
            return Value::Poison;
        };
        let node = &self.nodes[x];
        let (shape, frac) = (node.shape.clone(), node.frac);
        let ranges: Result<Vec<Interval>, Overflowed> = node
            .ranges
            .iter()
            .map(|r| match op {
                BinOp::Shr => Ok(interval::monotone(*r, |v| numeric::floor_shr(v, n))),
                _ => interval::align(*r, 0, n),
            })
            .collect();
        let Ok(ranges) = ranges else {
            return self.too_wide(span);
        };
        let (op, label) = match op {
            BinOp::Shr => (Op::Shr(x, n), format!(">> {n}")),
            _ => (Op::Shl(x, n), format!("<< {n}")),
        };
        Value::Tensor(self.push(op, shape, frac, ranges, span, label))
    }

    /// `x as T [mode]`, proven or with its overflow mode.
    pub(super) fn cast(
        &mut self,
        v: Value,
        arg_span: Span,
        to: ScalarType,
        type_span: Span,
        int_mode: Option<Overflow>,
        span: Span,
    ) -> Value {
        let Some(x) = self.tensor(v, arg_span) else {
            return Value::Poison;
        };
        if to.width > MAX_TYPE_BITS {
            return self.error(CheckError::TooWide {
                span: type_span,
                bits: to.width,
            });
        }
        let node = &self.nodes[x];
        let (shape, frac) = (node.shape.clone(), node.frac);
        // Assigning an ap_fixed to an ap_int truncates toward zero.
        let quant = if to.fixed { to.quant } else { Quant::TrnZero };
        let mode = if to.fixed {
            Some(to.overflow)
        } else {
            int_mode
        };
        let (cmin, cmax) = to.code_bounds();
        let up = to.storage_frac() as i32 - to.frac_bits();
        let mut triggers = false;
        let mut ranges = vec![];
        for r in &node.ranges {
            let q = interval::monotone(*r, |v| {
                numeric::quantize(v, frac as i32, to.frac_bits(), quant)
            });
            let fits = q.lo >= cmin && q.hi <= cmax;
            // ap_fixed's AP_SAT_SYM never yields the minimum code, except for a
            // 1-bit signed type, where it behaves as AP_SAT.
            let symmetric = to.signed && to.width > 1;
            let sym_min = symmetric && q.lo == cmin;
            let out = match mode {
                _ if fits && !(mode == Some(Overflow::SatSym) && sym_min) => q,
                None => q,
                Some(Overflow::Wrap) => Interval::new(cmin, cmax),
                Some(Overflow::Sat) => {
                    Interval::new(q.lo.clamp(cmin, cmax), q.hi.clamp(cmin, cmax))
                }
                Some(Overflow::SatSym) => {
                    let low = if symmetric { -cmax } else { cmin };
                    Interval::new(q.lo.clamp(low, cmax), q.hi.clamp(low, cmax))
                }
                Some(Overflow::SatZero) => {
                    let inside = Interval::new(q.lo.max(cmin), q.hi.min(cmax));
                    if inside.lo <= inside.hi {
                        inside.hull(Interval::point(0))
                    } else {
                        Interval::point(0)
                    }
                }
            };
            triggers |= !fits || (mode == Some(Overflow::SatSym) && sym_min);
            let up = u32::try_from(up).unwrap_or(u32::MAX);
            match (
                interval::shl_value(out.lo, up),
                interval::shl_value(out.hi, up),
            ) {
                (Ok(lo), Ok(hi)) => ranges.push(Interval::new(lo, hi)),
                _ => return self.too_wide(type_span),
            }
        }
        let range_fact = RangeFact {
            range: node.range(),
            frac,
        };
        let overflow = match mode {
            None if triggers => {
                return self.error(CheckError::CastOutOfRange {
                    span: arg_span,
                    range: range_fact,
                    target: to,
                    type_span,
                });
            }
            None => CastOverflow::Proven,
            Some(m) => CastOverflow::Mode(m),
        };
        match mode {
            // A block is generic: its `sat` may be needed by other uses of it.
            Some(Overflow::Sat | Overflow::SatZero | Overflow::SatSym)
                if !triggers && self.block_stack.is_empty() =>
            {
                self.warnings.push(CheckWarning::SatNeverTriggers {
                    span,
                    range: range_fact,
                    target: to,
                });
            }
            Some(Overflow::Wrap) if to.fixed && triggers => {
                self.warnings.push(CheckWarning::WrapCanTrigger {
                    span,
                    range: range_fact,
                    target: to,
                });
            }
            _ => {}
        }
        let label = match (to.fixed, int_mode) {
            (false, Some(m)) => format!("as {to} {}", m.name()),
            _ => format!("as {to}"),
        };
        let id = self.push_typed(
            Op::Cast {
                x,
                to,
                quant,
                overflow,
            },
            shape,
            to.storage_frac(),
            ranges,
            to,
            span,
            label,
        );
        Value::Tensor(id)
    }
}

/// The shape of an elementwise result: scalars broadcast everywhere, a `[C]`
/// vector over the channels of a `[C, H, W]` map.
pub fn broadcast(a: &Shape, b: &Shape) -> Option<Shape> {
    match (a, b) {
        (Shape::Weights { .. }, _) | (_, Shape::Weights { .. }) => None,
        (Shape::Scalar, s) | (s, Shape::Scalar) => Some(s.clone()),
        (Shape::Vector(n), Shape::Map { c, .. }) | (Shape::Map { c, .. }, Shape::Vector(n))
            if n == c =>
        {
            Some(if matches!(a, Shape::Map { .. }) {
                a.clone()
            } else {
                b.clone()
            })
        }
        _ if a == b => Some(a.clone()),
        _ => None,
    }
}
