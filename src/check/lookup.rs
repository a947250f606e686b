//! `table(x, f, T)` and `table(x, lut)`: the entries computed (or read) at
//! check time, a constant `[N]` node, and a `Lookup` whose range is the
//! exact hull of the entries its input can reach.

use super::calls::{ArgVal, Bound};
use super::error::CheckError;
use super::scope::Value;
use super::Checker;
use crate::ir::{Interval, NodeId, Op, Shape};
use crate::numeric::table::{entries, TableFn};
use crate::numeric::to_decimal;
use crate::types::ScalarType;

/// Inputs of at most this many values (16 bits).
pub const MAX_TABLE_ENTRIES: i128 = 1 << 16;

impl Checker<'_> {
    pub(super) fn table(&mut self, b: &Bound) -> Value {
        let (Some(x), Some(f)) = (b.arg("x"), b.arg("f")) else {
            return Value::Poison;
        };
        let out_type = b.arg("T");
        let Some(xid) = self.tensor(x.value.clone(), x.span) else {
            return Value::Poison;
        };
        match f.value.clone() {
            Value::Word(w) => match TableFn::from_name(&w) {
                Some(func) => self.builtin_table(b, xid, &x, func, &f, out_type),
                None => self.bad_table_function(&f, w),
            },
            Value::Tensor(t) => {
                // A user table has its param's type: `T` may only repeat it.
                match out_type {
                    Some(ArgVal {
                        value: Value::Type(ty),
                        ..
                    }) if ty == self.nodes[t].ty => {}
                    Some(t_arg) => {
                        return self.error(CheckError::TableType {
                            span: t_arg.span,
                            user: true,
                        })
                    }
                    None => {}
                }
                self.user_table(b, xid, &x, t, &f)
            }
            Value::Poison => Value::Poison,
            Value::Int(v) => self.bad_table_function(&f, v.to_string()),
            _ => self.bad_table_function(&f, "this value".into()),
        }
    }

    fn bad_table_function(&mut self, f: &ArgVal, found: String) -> Value {
        self.error(CheckError::BadMode {
            span: f.span,
            found,
            allowed: TableFn::ALL.iter().map(|f| f.name()).collect(),
        })
    }

    /// `x`'s raw values, if the table can take them: at most 2^16 of them.
    fn table_domain(&mut self, xid: NodeId, x: &ArgVal) -> Option<Interval> {
        let node = &self.nodes[xid];
        let hull = node.range();
        let count = hull.hi - hull.lo + 1;
        if node.ty.width > 16 || count > MAX_TABLE_ENTRIES {
            let ty = node.ty;
            self.error(CheckError::TableInputTooWide { span: x.span, ty });
            return None;
        }
        Some(hull)
    }

    fn builtin_table(
        &mut self,
        b: &Bound,
        xid: NodeId,
        x: &ArgVal,
        func: TableFn,
        f: &ArgVal,
        out_type: Option<ArgVal>,
    ) -> Value {
        let to: ScalarType = match out_type {
            Some(ArgVal {
                value: Value::Type(t),
                ..
            }) => t,
            Some(ArgVal {
                value: Value::Poison,
                ..
            }) => return Value::Poison,
            Some(other) => {
                return self.error(CheckError::TableType {
                    span: other.span,
                    user: false,
                })
            }
            None => {
                return self.error(CheckError::TableType {
                    span: b.call_span,
                    user: false,
                })
            }
        };
        let Some(domain) = self.table_domain(xid, x) else {
            return Value::Poison;
        };
        let frac = self.nodes[xid].frac;
        let data = match entries(func, domain.lo, domain.hi, frac, &to) {
            Ok(d) => d,
            Err((raw, reason)) => {
                return self.error(CheckError::TableEntry {
                    span: f.span,
                    func: func.name(),
                    input: to_decimal(raw, frac),
                    reason,
                })
            }
        };
        let label = format!("table {}", func.name());
        self.lookup(xid, data, domain.lo, to, b, label)
    }

    fn user_table(&mut self, b: &Bound, xid: NodeId, x: &ArgVal, t: NodeId, f: &ArgVal) -> Value {
        let Some(_) = self.table_domain(xid, x) else {
            return Value::Poison;
        };
        let xty = self.nodes[xid].ty;
        let expected = 1u128 << xty.width;
        let (data, to) = match (&self.nodes[t].op, &self.nodes[t].shape) {
            (Op::Constant { data }, Shape::Vector(n)) if *n as u128 == expected => {
                (data.clone(), self.nodes[t].ty)
            }
            (_, shape) => {
                let found = shape.dims();
                return self.error(CheckError::TableLength {
                    span: f.span,
                    expected,
                    found,
                    input: xty,
                });
            }
        };
        // Entry k is for x's code min + k; raws are codes (frac_bits >= 0).
        let (min_code, _) = xty.code_bounds();
        let up = xty.storage_frac() as i64 - i64::from(xty.frac_bits());
        let offset = min_code << up.clamp(0, 64);
        self.lookup(xid, data, offset, to, b, "table".into())
    }

    /// The constant `[N]` of entries and the lookup reading it.
    fn lookup(
        &mut self,
        xid: NodeId,
        data: Vec<i128>,
        offset: i128,
        to: ScalarType,
        b: &Bound,
        label: String,
    ) -> Value {
        let n = data.len();
        let frac = to.storage_frac();
        let entry_ranges: Vec<Interval> = data.iter().map(|&v| Interval::point(v)).collect();
        let per_channel: Option<Vec<Interval>> = self.nodes[xid]
            .ranges
            .iter()
            .map(|r| {
                let lo = usize::try_from(r.lo - offset).ok()?;
                let hi = usize::try_from(r.hi - offset).ok()?;
                data.get(lo..=hi)?
                    .iter()
                    .map(|&v| Interval::point(v))
                    .reduce(Interval::hull)
            })
            .collect();
        let Some(ranges) = per_channel else {
            // The domain covers every channel's range: unreachable.
            return Value::Poison;
        };
        let table = self.push_typed(
            Op::Constant { data },
            Shape::Vector(n),
            frac,
            entry_ranges,
            to,
            b.call_span,
            "table".into(),
        );
        let shape = self.nodes[xid].shape.clone();
        Value::Tensor(self.push_typed(
            Op::Lookup {
                x: xid,
                table,
                offset,
            },
            shape,
            frac,
            ranges,
            to,
            b.call_span,
            label,
        ))
    }
}
