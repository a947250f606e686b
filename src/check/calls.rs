//! Calls: arguments bound to the parameters of a built-in stage (from the
//! table in `crate::builtins`) or of a block. Geometry of the stages is in
//! `geometry`, block inlining in `blocks`.

use super::error::CheckError;
use super::interval;
use super::scope::{suggest, Value};
use super::{Checker, MAX_ELEMENTS};
use crate::ast::{Call, Ident};
use crate::builtins::{self, Builtin, IfOmitted, Kind, Param};
use crate::ir::{Elementwise, NodeId, Op, Pads, Pair, Rounding, Shape};
use crate::span::Span;

/// The largest stride, dilation, kernel, factor or pad accepted.
const MAX_GEOMETRY: i128 = 1 << 16;

/// An evaluated argument.
#[derive(Clone)]
pub(super) struct ArgVal {
    pub(super) value: Value,
    pub(super) span: Span,
}

/// Arguments bound to a signature's parameters, by position or by name.
pub(super) struct Binding {
    /// One slot per parameter, in order.
    pub(super) slots: Vec<Option<ArgVal>>,
    /// Positional arguments after the last parameter, for a variadic stage.
    pub(super) rest: Vec<ArgVal>,
}

/// A built-in stage's arguments, read by parameter name.
pub(super) struct Bound {
    pub(super) builtin: &'static Builtin,
    args: Binding,
    pub(super) call_span: Span,
}

impl Bound {
    /// The parameter `name` of this stage; every name the checker asks for
    /// is one the table lists.
    pub(super) fn param(&self, name: &str) -> Option<&'static Param> {
        let param = self.builtin.param(name);
        debug_assert!(
            param.is_some(),
            "`{}` has no parameter `{name}`",
            self.builtin.name
        );
        param
    }

    /// The argument given for the parameter `name`.
    pub(super) fn arg(&self, name: &str) -> Option<ArgVal> {
        let index = self.builtin.params.iter().position(|p| p.name == name);
        debug_assert!(
            index.is_some(),
            "`{}` has no parameter `{name}`",
            self.builtin.name
        );
        index.and_then(|i| self.args.slots.get(i).cloned().flatten())
    }

    /// What an omitted numeric parameter stands for.
    pub(super) fn number_default(&self, name: &str) -> Option<usize> {
        match self.param(name)?.default {
            IfOmitted::Number(n) => Some(n),
            other => {
                debug_assert!(false, "`{name}` has no numeric default: {other:?}");
                None
            }
        }
    }

    /// Every argument in order, the variadic ones last.
    pub(super) fn all(self) -> Vec<ArgVal> {
        let mut out: Vec<ArgVal> = self.args.slots.into_iter().flatten().collect();
        out.extend(self.args.rest);
        out
    }
}

impl Checker<'_> {
    pub(super) fn call(&mut self, call: &Call, piped: Option<(Value, Span)>) -> Value {
        let name = call.func.node.as_str();
        let mut args: Vec<(Option<&Ident>, ArgVal)> = vec![];
        if let Some((value, span)) = piped {
            args.push((None, ArgVal { value, span }));
        }
        for a in &call.args {
            let value = self.eval(&a.value);
            args.push((
                a.name.as_ref(),
                ArgVal {
                    value,
                    span: a.value.span,
                },
            ));
        }
        if let Some(builtin) = builtins::find(name) {
            let params: Vec<(&str, bool)> = builtin
                .params
                .iter()
                .map(|p| (p.name, p.required()))
                .collect();
            let Some(args) = self.bind(name, &params, builtin.variadic, args, call.span) else {
                return Value::Poison;
            };
            return self.stage(Bound {
                builtin,
                args,
                call_span: call.span,
            });
        }
        if self.blocks.contains_key(name) {
            return self.inline_block(call, args);
        }
        let candidates: Vec<String> = builtins::names()
            .map(str::to_string)
            .chain(self.blocks.keys().cloned())
            .collect();
        let suggestion = suggest(name, candidates.iter().map(|s| s.as_str()));
        self.error(CheckError::UnknownFunction {
            span: call.func.span,
            name: name.to_string(),
            suggestion,
        })
    }

    /// Binds arguments to a signature `(name, required)`, by position then
    /// by name; reports unknown, duplicate, surplus and missing arguments.
    /// A variadic signature keeps surplus positional arguments in `rest`.
    pub(super) fn bind(
        &mut self,
        func: &str,
        sig: &[(&str, bool)],
        variadic: bool,
        args: Vec<(Option<&Ident>, ArgVal)>,
        call_span: Span,
    ) -> Option<Binding> {
        let mut slots: Vec<Option<ArgVal>> = vec![None; sig.len()];
        let mut rest = vec![];
        let mut ok = true;
        let mut position = 0;
        for (name, arg) in args {
            let index = match name {
                None => {
                    let i = position;
                    position += 1;
                    if i >= sig.len() && variadic {
                        ok &= arg.value != Value::Poison;
                        rest.push(arg);
                        continue;
                    }
                    if i >= sig.len() {
                        self.error(CheckError::TooManyArguments {
                            span: arg.span,
                            func: func.to_string(),
                            max: sig.len(),
                        });
                        ok = false;
                        continue;
                    }
                    i
                }
                Some(n) => match sig.iter().position(|(p, _)| *p == n.node) {
                    Some(i) => i,
                    None => {
                        self.error(CheckError::UnknownArgument {
                            span: n.span,
                            func: func.to_string(),
                            name: n.node.clone(),
                            allowed: sig.iter().map(|(p, _)| p.to_string()).collect(),
                        });
                        ok = false;
                        continue;
                    }
                },
            };
            if slots[index].is_some() {
                self.error(CheckError::DuplicateArgument {
                    span: arg.span,
                    name: sig[index].0.to_string(),
                });
                ok = false;
            }
            if arg.value == Value::Poison {
                ok = false;
            }
            slots[index] = Some(arg);
        }
        for (i, (p, required)) in sig.iter().enumerate() {
            if *required && slots[i].is_none() {
                self.error(CheckError::MissingArgument {
                    span: call_span,
                    func: func.to_string(),
                    name: p.to_string(),
                });
                ok = false;
            }
        }
        ok.then_some(Binding { slots, rest })
    }

    fn stage(&mut self, b: Bound) -> Value {
        let span = b.call_span;
        let name = b.builtin.name;
        match b.builtin.kind {
            Kind::Conv => self.conv(&b, false, false),
            Kind::DwConv => self.conv(&b, true, false),
            Kind::Deconv => self.conv(&b, false, true),
            Kind::DwDeconv => self.conv(&b, true, true),
            Kind::Upsample => self.upsample(&b),
            Kind::MaxPool => self.maxpool(&b),
            Kind::MaxUnpool => self.maxunpool(&b),
            Kind::Relu => match b.arg("x") {
                Some(x) => self.unary(x.value, span, x.span, name, Op::Relu, interval::relu),
                None => Value::Poison,
            },
            Kind::Floor | Kind::Round | Kind::Trunc => {
                let mode = match b.builtin.kind {
                    Kind::Floor => Rounding::Floor,
                    Kind::Round => Rounding::Round,
                    _ => Rounding::Trunc,
                };
                match b.arg("x") {
                    Some(x) => self.rounding(x.value, span, x.span, mode),
                    None => Value::Poison,
                }
            }
            Kind::Max | Kind::Min => {
                let (Some(a), Some(c)) = (b.arg("a"), b.arg("b")) else {
                    return Value::Poison;
                };
                let kind = if b.builtin.kind == Kind::Max {
                    Elementwise::Max
                } else {
                    Elementwise::Min
                };
                self.elementwise(kind, a.value, a.span, c.value, c.span, span, name)
            }
            Kind::Clip => {
                let (Some(x), Some(lo), Some(hi)) = (b.arg("x"), b.arg("lo"), b.arg("hi")) else {
                    return Value::Poison;
                };
                let low = self.elementwise(
                    Elementwise::Max,
                    x.value,
                    x.span,
                    lo.value,
                    lo.span,
                    span,
                    "clip lo",
                );
                self.elementwise(
                    Elementwise::Min,
                    low,
                    x.span,
                    hi.value,
                    hi.span,
                    span,
                    "clip hi",
                )
            }
            Kind::Concat => self.concat(b.all(), span),
            Kind::Table => self.table(&b),
        }
    }

    pub(super) fn int_arg(&mut self, a: &ArgVal, what: &'static str, min: i128) -> Option<usize> {
        match a.value {
            Value::Int(v) if v < min => {
                self.error(if v == 0 && min > 0 {
                    CheckError::ZeroParameter { span: a.span, what }
                } else {
                    CheckError::ParameterTooLarge {
                        span: a.span,
                        what,
                        value: v,
                    }
                });
                None
            }
            Value::Int(v) if v > MAX_GEOMETRY => {
                self.error(CheckError::ParameterTooLarge {
                    span: a.span,
                    what,
                    value: v,
                });
                None
            }
            Value::Int(v) => Some(v as usize),
            Value::Poison => None,
            _ => {
                self.error(CheckError::NotAnInteger {
                    span: a.span,
                    what: what.to_string(),
                });
                None
            }
        }
    }

    /// The parameter `what`: one number or an `(h, w)` pair, the table's
    /// default when omitted.
    pub(super) fn pair_arg(&mut self, b: &Bound, what: &'static str, min: i128) -> Option<Pair> {
        let Some(a) = b.arg(what) else {
            let n = b.number_default(what)?;
            return Some(Pair { h: n, w: n });
        };
        match &a.value {
            Value::Tuple(items) if items.len() == 2 => {
                let h = self.int_arg(
                    &ArgVal {
                        value: items[0].clone(),
                        span: a.span,
                    },
                    what,
                    min,
                )?;
                let w = self.int_arg(
                    &ArgVal {
                        value: items[1].clone(),
                        span: a.span,
                    },
                    what,
                    min,
                )?;
                Some(Pair { h, w })
            }
            Value::Tuple(_) => {
                self.error(CheckError::BadPair {
                    span: a.span,
                    what,
                    allowed: "one number or (h, w)",
                });
                None
            }
            _ => {
                let v = self.int_arg(&a, what, min)?;
                Some(Pair { h: v, w: v })
            }
        }
    }

    /// The `pad` parameter: one number, `(h, w)`, or `(top, bottom, left,
    /// right)`, the table's default when omitted.
    pub(super) fn pads_arg(&mut self, b: &Bound) -> Option<Pads> {
        let Some(a) = b.arg("pad") else {
            let p = b.number_default("pad")?;
            return Some(Pads {
                top: p,
                bottom: p,
                left: p,
                right: p,
            });
        };
        let items = match &a.value {
            Value::Tuple(items) => items.clone(),
            v => vec![v.clone()],
        };
        let mut vals = vec![];
        for item in items {
            vals.push(self.int_arg(
                &ArgVal {
                    value: item,
                    span: a.span,
                },
                "pad",
                0,
            )?);
        }
        Some(match vals.as_slice() {
            [p] => Pads {
                top: *p,
                bottom: *p,
                left: *p,
                right: *p,
            },
            [h, w] => Pads {
                top: *h,
                bottom: *h,
                left: *w,
                right: *w,
            },
            [t, b, l, r] => Pads {
                top: *t,
                bottom: *b,
                left: *l,
                right: *r,
            },
            _ => {
                self.error(CheckError::BadPair {
                    span: a.span,
                    what: "pad",
                    allowed: "one number, (h, w) or (top, bottom, left, right)",
                });
                return None;
            }
        })
    }

    /// The parameter `name`: one of the words the table allows for it, its
    /// default when omitted.
    pub(super) fn word_arg(&mut self, b: &Bound, name: &str) -> Option<&'static str> {
        let param = b.param(name)?;
        let allowed: Vec<&'static str> = param.words.iter().map(|w| w.word).collect();
        let Some(a) = b.arg(name) else {
            return match param.default {
                IfOmitted::Word(w) => Some(w),
                _ => None,
            };
        };
        match &a.value {
            Value::Word(w) if allowed.contains(&w.as_str()) => allowed.into_iter().find(|a| a == w),
            Value::Poison => None,
            other => {
                let found = match other {
                    Value::Word(w) => w.clone(),
                    Value::Int(v) => v.to_string(),
                    _ => "this value".into(),
                };
                self.error(CheckError::BadMode {
                    span: a.span,
                    found,
                    allowed,
                });
                None
            }
        }
    }

    /// A `[C, H, W]` map argument.
    pub(super) fn map_arg(
        &mut self,
        a: Option<ArgVal>,
        what: &'static str,
    ) -> Option<(NodeId, usize, usize, usize)> {
        let a = a?;
        let id = self.tensor(a.value, a.span)?;
        match self.nodes[id].shape {
            Shape::Map { c, h, w } => Some((id, c, h, w)),
            ref s => {
                let found = s.dims();
                self.error(CheckError::WrongRank {
                    span: a.span,
                    what,
                    expected: "a map [C, H, W]",
                    found,
                });
                None
            }
        }
    }

    pub(super) fn check_size(&mut self, span: Span, dims: &[usize]) -> bool {
        let n = dims
            .iter()
            .try_fold(1u128, |acc, &d| acc.checked_mul(d as u128))
            .unwrap_or(u128::MAX);
        if n > MAX_ELEMENTS {
            self.error(CheckError::TensorTooLarge { span, elements: n });
            return false;
        }
        true
    }
}
