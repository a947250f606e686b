//! The one place that turns pest pairs into the AST.

use super::error::ParseError;
use super::Rule;
use crate::ast::*;
use crate::span::{SourceId, Span, Spanned};
use crate::types::{Overflow, Quant, ScalarType, MAX_TYPE_BITS};
use pest::iterators::Pair;
use pest::pratt_parser::{Assoc, Op, PrattParser};
use std::sync::OnceLock;

struct Converter<'a> {
    text: &'a str,
    source: SourceId,
    errors: Vec<ParseError>,
    /// `trivia[i]`: byte `i` is whitespace or inside a comment. pest lets
    /// optional trailing parts swallow trivia; spans are trimmed with this.
    trivia: Vec<bool>,
}

fn trivia_mask(text: &str) -> Vec<bool> {
    let bytes = text.as_bytes();
    let mut mask = vec![false; bytes.len()];
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            in_string = b != b'"' && b != b'\n';
        } else if b == b'"' {
            in_string = true;
        } else if b == b'/' && bytes.get(i + 1) == Some(&b'/') {
            while i < bytes.len() && bytes[i] != b'\n' {
                mask[i] = true;
                i += 1;
            }
            continue;
        } else {
            mask[i] = b.is_ascii_whitespace();
        }
        i += 1;
    }
    mask
}

pub fn file(pair: Pair<Rule>, text: &str, source: SourceId) -> Result<File, Vec<ParseError>> {
    let mut cx = Converter {
        text,
        source,
        errors: vec![],
        trivia: trivia_mask(text),
    };
    let mut items = vec![];
    let mut tests = vec![];
    for p in pair.into_inner() {
        match p.as_rule() {
            Rule::test_decl => tests.extend(cx.test_decl(p)),
            Rule::use_decl => items.push(Item::Use(cx.use_decl(p))),
            Rule::block_decl => items.push(Item::Block(cx.block_decl(p))),
            Rule::pipeline_decl => items.push(Item::Pipeline(cx.pipeline(p))),
            Rule::bad_semicolon => cx
                .errors
                .push(ParseError::StraySemicolon { span: cx.span(&p) }),
            _ => {}
        }
    }
    if cx.errors.is_empty() {
        Ok(File { items, tests })
    } else {
        Err(cx.errors)
    }
}

fn pratt() -> &'static PrattParser<Rule> {
    static PRATT: OnceLock<PrattParser<Rule>> = OnceLock::new();
    // Loosest first: `|>`, `as`, shifts, `+ -`, `*`, unary `-`.
    PRATT.get_or_init(|| {
        PrattParser::new()
            .op(Op::postfix(Rule::pipe))
            .op(Op::postfix(Rule::cast))
            .op(Op::infix(Rule::shr, Assoc::Left) | Op::infix(Rule::shl, Assoc::Left))
            .op(Op::infix(Rule::add, Assoc::Left) | Op::infix(Rule::sub, Assoc::Left))
            .op(Op::infix(Rule::mul, Assoc::Left))
            .op(Op::prefix(Rule::neg))
    })
}

impl<'a> Converter<'a> {
    fn span(&self, p: &Pair<Rule>) -> Span {
        let s = p.as_span();
        let mut end = s.end();
        while end > s.start() && self.trivia.get(end - 1).copied().unwrap_or(false) {
            end -= 1;
        }
        if end == s.start() && p.as_rule() == Rule::missing_equals {
            // Point at the token where the `=` should have been.
            let rest = &self.text[end..];
            let len = rest
                .find(|c: char| c.is_whitespace() || c == '(')
                .unwrap_or(rest.len())
                .max(1)
                .min(rest.len());
            return Span::new(self.source, s.start(), s.start() + len);
        }
        Span::new(self.source, s.start(), end)
    }

    fn ident(&self, p: Pair<Rule>) -> Ident {
        Spanned::new(p.as_str().to_string(), self.span(&p))
    }

    fn use_decl(&mut self, p: Pair<Rule>) -> UseDecl {
        let span = self.span(&p);
        UseDecl {
            path: p.into_inner().map(|i| self.ident(i)).collect(),
            span,
        }
    }

    /// `///` lines immediately above `start`, without the slashes.
    fn doc_above(&self, start: usize) -> Vec<String> {
        let before = &self.text[..start];
        let mut lines: Vec<String> = before
            .lines()
            .rev()
            .skip_while(|l| l.trim().is_empty())
            .take_while(|l| l.trim_start().starts_with("///"))
            .map(|l| {
                let t = l.trim_start().trim_start_matches("///");
                t.strip_prefix(' ').unwrap_or(t).to_string()
            })
            .collect();
        lines.reverse();
        lines
    }

    fn block_decl(&mut self, p: Pair<Rule>) -> BlockDecl {
        let span = self.span(&p);
        let doc = self.doc_above(span.start as usize);
        let mut inner = p.into_inner();
        let name = inner
            .next()
            .map(|n| self.ident(n))
            .unwrap_or_default_ident();
        let mut params = vec![];
        let mut body = vec![];
        let mut result = None;
        for q in inner {
            match q.as_rule() {
                Rule::block_param => {
                    let mut parts = q.into_inner();
                    let name = parts
                        .next()
                        .map(|n| self.ident(n))
                        .unwrap_or_default_ident();
                    let default = parts.next().map(|e| self.expr(e));
                    params.push(BlockParam { name, default });
                }
                Rule::return_stmt => {
                    result = q.into_inner().next().map(|e| self.expr(e));
                }
                _ => {
                    if let Some(s) = self.stmt(q) {
                        body.push(s);
                    }
                }
            }
        }
        BlockDecl {
            doc,
            name,
            params,
            body,
            result: result.unwrap_or(Expr {
                kind: ExprKind::Tuple(vec![]),
                span,
            }),
            span,
        }
    }

    fn pipeline(&mut self, p: Pair<Rule>) -> Pipeline {
        let span = self.span(&p);
        let mut inner = p.into_inner();
        let name = inner
            .next()
            .map(|n| self.ident(n))
            .unwrap_or_default_ident();
        let body = inner.filter_map(|q| self.stmt(q)).collect();
        Pipeline { name, body, span }
    }

    /// `test NAME { run ...  expect ...  snapshot ... }`; `None` when it has
    /// no `run` line (reported).
    fn test_decl(&mut self, p: Pair<Rule>) -> Option<TestDecl> {
        let span = self.span(&p);
        let mut inner = p.into_inner().filter(|q| !is_test_word(q.as_rule()));
        let name = self.ident(inner.next()?);
        let mut run: Option<TestRun> = None;
        let mut checks = vec![];
        for q in inner {
            let q_span = self.span(&q);
            let rule = q.as_rule();
            let mut parts = q.into_inner().filter(|r| !is_test_word(r.as_rule()));
            match rule {
                Rule::test_run => {
                    let pipeline = self.ident(parts.next()?);
                    let inputs = parts
                        .filter_map(|i| {
                            let i_span = self.span(&i);
                            let mut kv = i.into_inner();
                            let name = self.ident(kv.next()?);
                            let init = self.init(kv.next()?);
                            Some(TestInput {
                                name,
                                init,
                                span: i_span,
                            })
                        })
                        .collect();
                    match &run {
                        Some(first) => self.errors.push(ParseError::SecondRun {
                            span: q_span,
                            first: first.span,
                        }),
                        None => {
                            run = Some(TestRun {
                                pipeline,
                                inputs,
                                span: q_span,
                            })
                        }
                    }
                }
                Rule::test_golden => {
                    let name = self.ident(parts.next()?);
                    let path = match self.init(parts.next()?) {
                        Init::Load(path) => path,
                        Init::Random(_) => continue,
                    };
                    checks.push(TestCheck::Golden {
                        name,
                        path,
                        span: q_span,
                    });
                }
                Rule::test_fits => {
                    let name = self.ident(parts.next()?);
                    let ty = self.scalar_type(parts.next()?);
                    checks.push(TestCheck::Fits {
                        name,
                        ty,
                        span: q_span,
                    });
                }
                Rule::test_no_overflow => {
                    let kind_pair = parts.next()?;
                    let kind = if kind_pair.as_str() == "sat" {
                        OverflowKind::Sat
                    } else {
                        OverflowKind::Wrap
                    };
                    let kind = Spanned::new(kind, self.span(&kind_pair));
                    let within = parts.next().map(|w| self.ident(w));
                    checks.push(TestCheck::NoOverflow {
                        kind,
                        within,
                        span: q_span,
                    });
                }
                Rule::test_snapshot => checks.push(TestCheck::Snapshot {
                    names: parts.map(|n| self.ident(n)).collect(),
                    span: q_span,
                }),
                _ => self.errors.push(ParseError::BadTestLine { span: q_span }),
            }
        }
        let Some(run) = run else {
            self.errors.push(ParseError::TestWithoutRun {
                span: name.span,
                name: name.node.clone(),
            });
            return None;
        };
        Some(TestDecl {
            name,
            run,
            checks,
            span,
        })
    }

    fn stmt(&mut self, p: Pair<Rule>) -> Option<Stmt> {
        let span = self.span(&p);
        let rule = p.as_rule();
        if rule == Rule::bad_semicolon {
            self.errors.push(ParseError::StraySemicolon { span });
            return None;
        }
        let mut inner = p.into_inner().peekable();
        Some(match rule {
            Rule::input_decl => {
                let name = self.ident(inner.next()?);
                let ty = self.tensor_type(inner.next()?);
                Stmt::Input(InputDecl { name, ty, span })
            }
            Rule::param_decl => {
                let name = self.ident(inner.next()?);
                let ty = self.tensor_type(inner.next()?);
                self.equals(&mut inner, "param");
                let init = self.init(inner.next()?);
                Stmt::Param(ParamDecl {
                    name,
                    ty,
                    init,
                    span,
                })
            }
            Rule::const_decl => {
                let name = self.ident(inner.next()?);
                let ty = self.tensor_type(inner.next()?);
                self.equals(&mut inner, "const");
                let num = inner.next()?;
                let value = self.signed_number(num);
                Stmt::Const(ConstDecl {
                    name,
                    ty,
                    value,
                    span,
                })
            }
            Rule::let_decl => {
                let mut attributes = vec![];
                while inner.peek().map(|q| q.as_rule()) == Some(Rule::attribute) {
                    let a = inner.next()?;
                    attributes.push(self.attribute(a)?);
                }
                inner.next(); // `let`
                let target_pair = inner.next()?;
                let idents: Vec<Ident> = target_pair.into_inner().map(|i| self.ident(i)).collect();
                let target = if idents.len() == 1 {
                    LetTarget::Name(idents.into_iter().next()?)
                } else {
                    LetTarget::Tuple(idents)
                };
                let ty = match inner.peek().map(|q| q.as_rule()) {
                    Some(Rule::tensor_type) => inner.next().map(|t| self.tensor_type(t)),
                    _ => None,
                };
                self.equals(&mut inner, "let");
                let value = self.expr(inner.next()?);
                Stmt::Let(LetDecl {
                    attributes,
                    target,
                    ty,
                    value,
                    span,
                })
            }
            Rule::output_stmt => Stmt::Output(OutputStmt {
                names: inner.map(|i| self.ident(i)).collect(),
                span,
            }),
            _ => return None,
        })
    }

    /// `@hls(pe: 16, simd: 4)`
    fn attribute(&mut self, p: Pair<Rule>) -> Option<Attribute> {
        let span = self.span(&p);
        let mut inner = p.into_inner();
        let name = self.ident(inner.next()?);
        let mut args = vec![];
        for arg in inner {
            let arg_span = self.span(&arg);
            let mut parts = arg.into_inner();
            let key = self.ident(parts.next()?);
            let v = parts.next()?;
            let v_span = self.span(&v);
            let value = match v.as_str().parse::<i64>() {
                Ok(x) => x,
                Err(_) => {
                    self.errors
                        .push(ParseError::NumberTooLarge { span: v_span });
                    0
                }
            };
            args.push(AttributeArg {
                key,
                value: Spanned::new(value, v_span),
                span: arg_span,
            });
        }
        Some(Attribute { name, args, span })
    }

    /// Records a `missing_equals` marker as an error and skips it.
    fn equals<'i>(
        &mut self,
        inner: &mut std::iter::Peekable<pest::iterators::Pairs<'i, Rule>>,
        what: &'static str,
    ) {
        if let Some(q) = inner.peek() {
            if q.as_rule() == Rule::missing_equals {
                let span = self.span(q);
                self.errors.push(ParseError::MissingEquals { span, what });
                inner.next();
            }
        }
    }

    fn init(&mut self, p: Pair<Rule>) -> Init {
        let rule = p.as_rule();
        let inner = p.into_inner().next();
        match (rule, inner) {
            (Rule::load_init, Some(s)) => {
                let text = s.into_inner().next().map_or("", |t| t.as_str());
                // The span of the path includes its quotes.
                Init::Load(Spanned::new(text.to_string(), self.span_of_str(text)))
            }
            (_, Some(n)) => {
                let span = self.span(&n);
                Init::Random(Spanned::new(self.uint(&n), span))
            }
            (_, None) => Init::Random(Spanned::new(0, Span::new(self.source, 0, 0))),
        }
    }

    fn span_of_str(&self, s: &str) -> Span {
        let start = s.as_ptr() as usize - self.text.as_ptr() as usize;
        Span::new(self.source, start.saturating_sub(1), start + s.len() + 1)
    }

    fn uint(&mut self, p: &Pair<Rule>) -> u64 {
        match p.as_str().parse::<u64>() {
            Ok(v) => v,
            Err(_) => {
                self.errors
                    .push(ParseError::NumberTooLarge { span: self.span(p) });
                0
            }
        }
    }

    fn int_lit(&mut self, p: &Pair<Rule>) -> i64 {
        match p.as_str().parse::<i64>() {
            Ok(v) => v,
            Err(_) => {
                self.errors
                    .push(ParseError::NumberTooLarge { span: self.span(p) });
                0
            }
        }
    }

    fn tensor_type(&mut self, p: Pair<Rule>) -> TensorType {
        let span = self.span(&p);
        let mut scalar = None;
        let mut dims = None;
        let mut halo = None;
        for q in p.into_inner() {
            match q.as_rule() {
                Rule::dims => {
                    let ds = q
                        .into_inner()
                        .map(|d| {
                            let span = self.span(&d);
                            Spanned::new(self.uint(&d), span)
                        })
                        .collect();
                    dims = Some(ds);
                }
                Rule::uint => {
                    let span = self.span(&q);
                    halo = Some(Spanned::new(self.uint(&q), span));
                }
                _ => scalar = Some(self.scalar_type(q)),
            }
        }
        TensorType {
            scalar: scalar.unwrap_or(Spanned::new(ScalarType::int(false, 8), span)),
            dims,
            halo,
            span,
        }
    }

    fn scalar_type(&mut self, p: Pair<Rule>) -> Spanned<ScalarType> {
        let span = self.span(&p);
        let text = p.as_str();
        let ty = match p.as_rule() {
            Rule::int_type => {
                let signed = text.starts_with('i');
                let width = self.width(&text[1..], span);
                ScalarType::int(signed, width)
            }
            Rule::bad_int_type => {
                let fixed: String = text.chars().filter(|c| !c.is_whitespace()).collect();
                self.errors.push(ParseError::SpacedIntType { span, fixed });
                ScalarType::int(false, 8)
            }
            _ => self.fixed_type(p),
        };
        Spanned::new(ty, span)
    }

    fn width(&mut self, digits: &str, span: Span) -> u32 {
        match digits.parse::<u32>() {
            Ok(w) if (1..=MAX_TYPE_BITS).contains(&w) => w,
            _ => {
                self.errors.push(ParseError::BadWidth {
                    span,
                    width: digits.to_string(),
                });
                8
            }
        }
    }

    fn fixed_type(&mut self, p: Pair<Rule>) -> ScalarType {
        let mut inner = p.into_inner();
        let signed = inner.next().is_some_and(|k| k.as_str() == "fixed");
        let (Some(w), Some(i)) = (inner.next(), inner.next()) else {
            return ScalarType::fixed(signed, 8, 8);
        };
        let w_span = self.span(&w);
        let width = self.width(w.as_str(), w_span);
        let int_bits = self.int_lit(&i);
        let int_bits = i32::try_from(int_bits).unwrap_or_else(|_| {
            self.errors.push(ParseError::NumberTooLarge {
                span: self.span(&i),
            });
            0
        });
        // Keep the LSB within 2^-100 .. 2^100: exact i128 arithmetic relies on it.
        if (width as i64 - int_bits as i64).abs() > 100 {
            self.errors.push(ParseError::NumberTooLarge {
                span: self.span(&i),
            });
        }
        let mut ty = ScalarType::fixed(signed, width, int_bits);
        // Modes come in ap_fixed's order: quantization, then overflow.
        let mut seen_quant = false;
        let mut seen_overflow = false;
        for m in inner {
            let name = m.as_str();
            let m_span = self.span(&m);
            if let Some(q) = Quant::from_name(name) {
                if seen_quant || seen_overflow {
                    self.errors.push(ParseError::MisplacedMode {
                        span: m_span,
                        name: name.to_string(),
                    });
                }
                seen_quant = true;
                ty.quant = q;
            } else if let Some(o) = Overflow::from_name(name) {
                if seen_overflow {
                    self.errors.push(ParseError::MisplacedMode {
                        span: m_span,
                        name: name.to_string(),
                    });
                }
                seen_overflow = true;
                ty.overflow = o;
            } else {
                self.errors.push(ParseError::UnknownMode {
                    span: m_span,
                    name: name.to_string(),
                });
            }
        }
        ty
    }

    fn signed_number(&mut self, p: Pair<Rule>) -> Spanned<Number> {
        let span = self.span(&p);
        let mut negative = false;
        let mut num = None;
        for q in p.into_inner() {
            match q.as_rule() {
                Rule::neg => negative = true,
                _ => num = Some(self.number(&q)),
            }
        }
        let mut n = num.unwrap_or(Number {
            negative: false,
            digits: "0".into(),
            exp10: 0,
            is_integer: true,
        });
        n.negative = negative;
        Spanned::new(n, span)
    }

    fn number(&mut self, p: &Pair<Rule>) -> Number {
        let text = p.as_str();
        let (mantissa, exp) = match text.find(['e', 'E']) {
            Some(i) => (&text[..i], Some(&text[i + 1..])),
            None => (text, None),
        };
        let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let exp10_written: i64 = match exp.map(|e| e.parse::<i64>()) {
            None => 0,
            Some(Ok(e)) if e.abs() < 1000 => e,
            Some(_) => {
                self.errors
                    .push(ParseError::NumberTooLarge { span: self.span(p) });
                0
            }
        };
        let mut digits = format!("{int_part}{frac_part}");
        let trimmed = digits.trim_start_matches('0');
        digits = if trimmed.is_empty() {
            "0".to_string()
        } else {
            trimmed.to_string()
        };
        Number {
            negative: false,
            digits,
            exp10: (exp10_written - frac_part.len() as i64) as i32,
            is_integer: exp.is_none() && frac_part.is_empty(),
        }
    }

    fn expr(&mut self, p: Pair<Rule>) -> Expr {
        let pairs = p.into_inner();
        // The Pratt closures need `self` mutably; collect errors through a RefCell.
        let cell = std::cell::RefCell::new(self);
        let expr = pratt()
            .map_primary(|q| cell.borrow_mut().primary(q))
            .map_prefix(|op, rhs| {
                let span = cell.borrow().span(&op).to(rhs.span);
                Expr {
                    kind: ExprKind::Neg(Box::new(rhs)),
                    span,
                }
            })
            .map_infix(|lhs, op, rhs| {
                let bin = match op.as_rule() {
                    Rule::add => BinOp::Add,
                    Rule::sub => BinOp::Sub,
                    Rule::mul => BinOp::Mul,
                    Rule::shr => BinOp::Shr,
                    _ => BinOp::Shl,
                };
                let span = lhs.span.to(rhs.span);
                Expr {
                    kind: ExprKind::Binary(bin, Box::new(lhs), Box::new(rhs)),
                    span,
                }
            })
            .map_postfix(|lhs, op| {
                let mut cx = cell.borrow_mut();
                let op_span = cx.span(&op);
                let span = lhs.span.to(op_span);
                match op.as_rule() {
                    Rule::pipe => {
                        let call = op.into_inner().next().map(|c| cx.call(c));
                        match call {
                            Some(call) => Expr {
                                kind: ExprKind::Pipe(Box::new(lhs), call),
                                span,
                            },
                            None => lhs,
                        }
                    }
                    _ => cx.cast(lhs, op, span),
                }
            })
            .parse(pairs);
        expr
    }

    fn cast(&mut self, lhs: Expr, op: Pair<Rule>, span: Span) -> Expr {
        let mut inner = op.into_inner();
        let Some(ty_pair) = inner.next() else {
            return lhs;
        };
        let ty = self.scalar_type(ty_pair);
        let overflow = inner.next().map(|m| {
            let m_span = self.span(&m);
            let mode = Overflow::from_name(m.as_str()).unwrap_or_default();
            Spanned::new(mode, m_span)
        });
        if let (true, Some(o)) = (ty.node.fixed, &overflow) {
            self.errors
                .push(ParseError::ModeOnFixedCast { span: o.span });
        }
        Expr {
            kind: ExprKind::Cast {
                value: Box::new(lhs),
                ty,
                overflow,
            },
            span,
        }
    }

    fn primary(&mut self, p: Pair<Rule>) -> Expr {
        let span = self.span(&p);
        let kind = match p.as_rule() {
            Rule::number => ExprKind::Number(self.number(&p)),
            Rule::ident => ExprKind::Name(p.as_str().to_string()),
            Rule::call => ExprKind::Call(self.call(p)),
            Rule::paren => {
                let mut items: Vec<Expr> = p.into_inner().map(|e| self.expr(e)).collect();
                if items.len() == 1 {
                    // Parentheses only group; keep the inner node with the wider span.
                    let mut e = items.remove(0);
                    e.span = span;
                    return e;
                }
                ExprKind::Tuple(items)
            }
            Rule::list => ExprKind::List(p.into_inner().map(|e| self.expr(e)).collect()),
            _ => ExprKind::Tuple(vec![]),
        };
        Expr { kind, span }
    }

    /// An argument: an expression, or a scalar type (`type_arg`).
    fn arg_value(&mut self, p: Pair<Rule>) -> Expr {
        if p.as_rule() == Rule::range_arg {
            let span = self.span(&p);
            let (mut start, mut end) = (None, None);
            for bound in p.into_inner() {
                // Digits only; a bound too large for i128 is rejected as too large.
                let v = bound.as_str().parse::<i128>().unwrap_or(i128::MAX);
                match bound.as_rule() {
                    Rule::range_start => start = Some(v),
                    _ => end = Some(v),
                }
            }
            return Expr {
                kind: ExprKind::Range { start, end },
                span,
            };
        }
        if p.as_rule() != Rule::type_arg {
            return self.expr(p);
        }
        let span = self.span(&p);
        match p.into_inner().next() {
            Some(ty) => {
                let ty = self.scalar_type(ty);
                Expr {
                    kind: ExprKind::Type(ty.node),
                    span,
                }
            }
            None => Expr {
                kind: ExprKind::Tuple(vec![]),
                span,
            },
        }
    }

    fn call(&mut self, p: Pair<Rule>) -> Call {
        let span = self.span(&p);
        let mut inner = p.into_inner();
        let func = inner
            .next()
            .map(|f| self.ident(f))
            .unwrap_or_default_ident();
        let args = inner
            .map(|a| {
                let parts: Vec<Pair<Rule>> = a.into_inner().collect();
                let mut it = parts.into_iter();
                match (it.next(), it.next()) {
                    (Some(name), Some(value)) => Arg {
                        name: Some(self.ident(name)),
                        value: self.arg_value(value),
                    },
                    (Some(value), None) => Arg {
                        name: None,
                        value: self.arg_value(value),
                    },
                    _ => Arg {
                        name: None,
                        value: Expr {
                            kind: ExprKind::Tuple(vec![]),
                            span,
                        },
                    },
                }
            })
            .collect();
        Call { func, args, span }
    }
}

/// The words of a test (`run`, `expect`, ...) appear as pairs; they carry nothing.
fn is_test_word(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::test_word
            | Rule::run_word
            | Rule::with_word
            | Rule::expect_word
            | Rule::fits_word
            | Rule::no_word
            | Rule::in_word
            | Rule::snapshot_word
    )
}

trait OrDefaultIdent {
    fn unwrap_or_default_ident(self) -> Ident;
}

impl OrDefaultIdent for Option<Ident> {
    fn unwrap_or_default_ident(self) -> Ident {
        self.unwrap_or_else(|| Spanned::new(String::new(), Span::default()))
    }
}
