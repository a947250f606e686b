//! A compact, stable text form of the AST for snapshot tests: one line per
//! statement, expressions as S-expressions, spans as `@start..end`.

use crate::ast::*;
use crate::span::Span;

fn at(s: Span) -> String {
    format!("@{}..{}", s.start, s.end)
}

pub fn dump(file: &File) -> String {
    let mut out = String::new();
    for item in &file.items {
        match item {
            Item::Use(u) => {
                let path: Vec<&str> = u.path.iter().map(|p| p.node.as_str()).collect();
                out.push_str(&format!("use {} {}\n", path.join("::"), at(u.span)));
            }
            Item::Block(b) => {
                for line in &b.doc {
                    out.push_str(&format!("/// {line}\n"));
                }
                let params: Vec<String> = b
                    .params
                    .iter()
                    .map(|p| match &p.default {
                        Some(d) => format!("{} = {}", p.name.node, expr(d)),
                        None => p.name.node.clone(),
                    })
                    .collect();
                out.push_str(&format!(
                    "block {}({}) {}\n",
                    b.name.node,
                    params.join(", "),
                    at(b.span)
                ));
                for s in &b.body {
                    out.push_str(&format!("  {}\n", stmt(s)));
                }
                out.push_str(&format!("  return {}\n", expr(&b.result)));
            }
            Item::Pipeline(p) => {
                out.push_str(&format!("pipeline {} {}\n", p.name.node, at(p.span)));
                for s in &p.body {
                    out.push_str(&format!("  {}\n", stmt(s)));
                }
            }
        }
    }
    for t in &file.tests {
        out.push_str(&test_decl(t));
    }
    out
}

fn init(i: &Init) -> String {
    match i {
        Init::Load(p) => format!("load({:?})", p.node),
        Init::Random(s) => format!("random(seed: {})", s.node),
    }
}

fn test_decl(t: &TestDecl) -> String {
    let mut out = format!("test {} {}\n", t.name.node, at(t.span));
    let inputs: Vec<String> = t
        .run
        .inputs
        .iter()
        .map(|i| format!("{} = {} {}", i.name.node, init(&i.init), at(i.span)))
        .collect();
    out.push_str(&format!(
        "  run {} with [{}] {}\n",
        t.run.pipeline.node,
        inputs.join(", "),
        at(t.run.span)
    ));
    for c in &t.checks {
        let line = match c {
            TestCheck::Golden { name, path, span } => {
                format!(
                    "expect {} == load({:?}) {}",
                    name.node,
                    path.node,
                    at(*span)
                )
            }
            TestCheck::Fits { name, ty, span } => {
                format!("expect {} fits {} {}", name.node, ty.node, at(*span))
            }
            TestCheck::NoOverflow { kind, within, span } => {
                let kind = match kind.node {
                    OverflowKind::Sat => "sat",
                    OverflowKind::Wrap => "wrap",
                };
                let within = within
                    .as_ref()
                    .map(|w| format!(" in {}", w.node))
                    .unwrap_or_default();
                format!("expect no {kind}{within} {}", at(*span))
            }
            TestCheck::Snapshot { names, span } => format!(
                "snapshot {} {}",
                names
                    .iter()
                    .map(|n| n.node.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                at(*span)
            ),
        };
        out.push_str(&format!("  {line}\n"));
    }
    out
}

fn tensor_type(t: &TensorType) -> String {
    let dims: Option<Vec<u64>> = t.dims.as_ref().map(|d| d.iter().map(|x| x.node).collect());
    crate::notation::tensor_type(
        t.scalar.node,
        dims.as_deref(),
        t.halo.as_ref().map(|h| h.node),
    )
}

fn number(n: &Number) -> String {
    let sign = if n.negative { "-" } else { "" };
    if n.exp10 == 0 {
        format!("{sign}{}", n.digits)
    } else {
        format!("{sign}{}e{}", n.digits, n.exp10)
    }
}

fn stmt(s: &Stmt) -> String {
    match s {
        Stmt::Input(d) => format!(
            "input {}: {} {}",
            d.name.node,
            tensor_type(&d.ty),
            at(d.span)
        ),
        Stmt::Param(d) => {
            let init = match &d.init {
                Init::Load(p) => format!("load({:?})", p.node),
                Init::Random(s) => format!("random(seed: {})", s.node),
            };
            format!(
                "param {}: {} = {} {}",
                d.name.node,
                tensor_type(&d.ty),
                init,
                at(d.span)
            )
        }
        Stmt::Const(d) => format!(
            "const {}: {} = {} {}",
            d.name.node,
            tensor_type(&d.ty),
            number(&d.value.node),
            at(d.span)
        ),
        Stmt::Let(d) => {
            let target = match &d.target {
                LetTarget::Name(n) => n.node.clone(),
                LetTarget::Tuple(ns) => format!(
                    "({})",
                    ns.iter()
                        .map(|n| n.node.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            let ty =
                d.ty.as_ref()
                    .map(|t| format!(": {}", tensor_type(t)))
                    .unwrap_or_default();
            let attributes: String = d
                .attributes
                .iter()
                .map(|a| format!("{} {} ", a.text(), at(a.span)))
                .collect();
            format!(
                "{attributes}let {target}{ty} = {} {}",
                expr(&d.value),
                at(d.span)
            )
        }
        Stmt::Output(o) => format!(
            "output {} {}",
            o.names
                .iter()
                .map(|n| n.node.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            at(o.span)
        ),
    }
}

fn call(c: &Call) -> String {
    let mut parts = vec![c.func.node.clone()];
    for a in &c.args {
        match &a.name {
            Some(n) => parts.push(format!("{}: {}", n.node, expr(&a.value))),
            None => parts.push(expr(&a.value)),
        }
    }
    format!("({}){}", parts.join(" "), at(c.span))
}

pub fn expr(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Number(n) => number(n),
        ExprKind::Name(n) => n.clone(),
        ExprKind::Tuple(items) => format!(
            "(tuple {})",
            items.iter().map(expr).collect::<Vec<_>>().join(" ")
        ),
        ExprKind::Call(c) => call(c),
        ExprKind::Neg(x) => format!("(neg {})", expr(x)),
        ExprKind::Binary(op, a, b) => format!("({} {} {})", op.symbol(), expr(a), expr(b)),
        ExprKind::Cast {
            value,
            ty,
            overflow,
        } => match overflow {
            Some(o) => format!("(as {} {} {})", ty.node, o.node.name(), expr(value)),
            None => format!("(as {} {})", ty.node, expr(value)),
        },
        ExprKind::Pipe(lhs, c) => format!("(|> {} {})", expr(lhs), call(c)),
        ExprKind::Type(t) => format!("(type {t})"),
        ExprKind::List(items) => format!(
            "(list {})",
            items.iter().map(expr).collect::<Vec<_>>().join(" ")
        ),
        ExprKind::Range { start, end } => {
            let bound = |b: &Option<i128>| b.map_or(String::new(), |v| v.to_string());
            format!("(range {}..{})", bound(start), bound(end))
        }
    }
}
