//! Calls: built-in stages and functions, their signatures and arguments.
//! Geometry of the stages is in `geometry`, block inlining in `blocks`.

use super::error::CheckError;
use super::interval;
use super::scope::{suggest, Value};
use super::{Checker, MAX_ELEMENTS};
use crate::ast::{Call, Ident};
use crate::ir::{Elementwise, NodeId, Op, Pads, Pair, Rounding, Shape};
use crate::span::Span;

/// Every built-in stage and function, with its parameters in positional order.
/// `true` marks a required parameter.
const STAGES: &[(&str, &[(&str, bool)])] = &[
    (
        "conv",
        &[
            ("x", true),
            ("w", true),
            ("stride", false),
            ("pad", false),
            ("dilation", false),
            ("groups", false),
        ],
    ),
    (
        "dwconv",
        &[
            ("x", true),
            ("w", true),
            ("stride", false),
            ("pad", false),
            ("dilation", false),
        ],
    ),
    (
        "deconv",
        &[
            ("x", true),
            ("w", true),
            ("stride", false),
            ("pad", false),
            ("output_pad", false),
            ("dilation", false),
            ("groups", false),
        ],
    ),
    (
        "dwdeconv",
        &[
            ("x", true),
            ("w", true),
            ("stride", false),
            ("pad", false),
            ("output_pad", false),
            ("dilation", false),
        ],
    ),
    (
        "upsample",
        &[("x", true), ("factor", true), ("mode", false)],
    ),
    (
        "maxpool",
        &[
            ("x", true),
            ("kernel", true),
            ("stride", false),
            ("pad", false),
            ("indices", false),
        ],
    ),
    (
        "maxunpool",
        &[
            ("x", true),
            ("indices", true),
            ("kernel", true),
            ("stride", false),
            ("pad", false),
        ],
    ),
    ("relu", &[("x", true)]),
    ("clip", &[("x", true), ("lo", true), ("hi", true)]),
    ("max", &[("a", true), ("b", true)]),
    ("min", &[("a", true), ("b", true)]),
    ("floor", &[("x", true)]),
    ("round", &[("x", true)]),
    ("trunc", &[("x", true)]),
];

/// The largest stride, dilation, kernel, factor or pad accepted.
const MAX_GEOMETRY: i128 = 1 << 16;

pub fn is_builtin(name: &str) -> bool {
    name == "concat" || STAGES.iter().any(|(n, _)| *n == name)
}

pub fn builtin_names() -> impl Iterator<Item = &'static str> {
    STAGES
        .iter()
        .map(|(n, _)| *n)
        .chain(std::iter::once("concat"))
}

/// An evaluated argument.
#[derive(Clone)]
pub(super) struct ArgVal {
    pub(super) value: Value,
    pub(super) span: Span,
}

/// Arguments bound to a signature's parameters, by position or by name.
pub(super) struct Bound {
    pub(super) args: Vec<Option<ArgVal>>,
    pub(super) call_span: Span,
}

impl Bound {
    pub(super) fn get(&self, i: usize) -> Option<ArgVal> {
        self.args.get(i).cloned().flatten()
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
        if name == "concat" {
            return self.concat(args.into_iter().map(|(_, a)| a).collect(), call.span);
        }
        if let Some((_, sig)) = STAGES.iter().find(|(n, _)| *n == name) {
            let Some(bound) = self.bind(name, sig, args, call.span) else {
                return Value::Poison;
            };
            return self.stage(name, bound);
        }
        if self.blocks.contains_key(name) {
            return self.inline_block(call, args);
        }
        let candidates: Vec<String> = builtin_names()
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

    /// Binds arguments to a signature, by position then by name; reports
    /// unknown, duplicate, surplus and missing arguments.
    pub(super) fn bind(
        &mut self,
        func: &str,
        sig: &[(&str, bool)],
        args: Vec<(Option<&Ident>, ArgVal)>,
        call_span: Span,
    ) -> Option<Bound> {
        let mut slots: Vec<Option<ArgVal>> = vec![None; sig.len()];
        let mut ok = true;
        let mut position = 0;
        for (name, arg) in args {
            let index = match name {
                None => {
                    let i = position;
                    position += 1;
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
        ok.then_some(Bound {
            args: slots,
            call_span,
        })
    }

    fn stage(&mut self, name: &str, b: Bound) -> Value {
        let span = b.call_span;
        let first = b.get(0).map(|a| (a.value, a.span));
        match name {
            "conv" | "dwconv" => self.conv(&b, name == "dwconv", false),
            "deconv" | "dwdeconv" => self.conv(&b, name == "dwdeconv", true),
            "upsample" => self.upsample(&b),
            "maxpool" => self.maxpool(&b),
            "maxunpool" => self.maxunpool(&b),
            "relu" => match first {
                Some((v, s)) => self.unary(v, span, s, "relu", Op::Relu, interval::relu),
                None => Value::Poison,
            },
            "floor" | "round" | "trunc" => {
                let mode = match name {
                    "floor" => Rounding::Floor,
                    "round" => Rounding::Round,
                    _ => Rounding::Trunc,
                };
                match first {
                    Some((v, s)) => self.rounding(v, span, s, mode),
                    None => Value::Poison,
                }
            }
            "max" | "min" => {
                let (Some(a), Some(c)) = (b.get(0), b.get(1)) else {
                    return Value::Poison;
                };
                let kind = if name == "max" {
                    Elementwise::Max
                } else {
                    Elementwise::Min
                };
                self.elementwise(kind, a.value, a.span, c.value, c.span, span, name)
            }
            "clip" => {
                let (Some(x), Some(lo), Some(hi)) = (b.get(0), b.get(1), b.get(2)) else {
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
            _ => Value::Poison,
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

    /// One number or an `(h, w)` pair.
    pub(super) fn pair_arg(
        &mut self,
        a: Option<ArgVal>,
        what: &'static str,
        default: usize,
        min: i128,
    ) -> Option<Pair> {
        let Some(a) = a else {
            return Some(Pair {
                h: default,
                w: default,
            });
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

    /// One number, `(h, w)`, or `(top, bottom, left, right)`.
    pub(super) fn pads_arg(&mut self, a: Option<ArgVal>) -> Option<Pads> {
        let Some(a) = a else {
            return Some(Pads::default());
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

    pub(super) fn word_arg(
        &mut self,
        a: Option<ArgVal>,
        allowed: &[&'static str],
        default: &'static str,
    ) -> Option<String> {
        let Some(a) = a else {
            return Some(default.to_string());
        };
        match &a.value {
            Value::Word(w) if allowed.contains(&w.as_str()) => Some(w.clone()),
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
                    allowed: allowed.to_vec(),
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
