//! Statements and expressions as [`Doc`]s, with the comments written inside
//! them placed next to the node they follow (or before the argument or pipe
//! stage they precede, when they sit on a line of their own).

use super::comments::{number_text, wrapped_in_parens, Comment};
use super::doc::{text, Doc};
use crate::ast::*;
use std::collections::HashMap;

/// A node comments can attach to, by identity (the AST is not moved while
/// it is being printed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Key {
    Expr(usize),
    Arg(usize),
    Stage(usize),
    Param(usize),
}

fn key_expr(e: &Expr) -> Key {
    Key::Expr(e as *const Expr as usize)
}
fn key_arg(a: &Arg) -> Key {
    Key::Arg(a as *const Arg as usize)
}
fn key_stage(c: &Call) -> Key {
    Key::Stage(c as *const Call as usize)
}
fn key_param(p: &BlockParam) -> Key {
    Key::Param(p as *const BlockParam as usize)
}

#[derive(Clone, Copy)]
enum Place {
    Before(Key),
    After(Key),
    /// No node before it: the comment trails the statement's first line.
    Start,
}

struct Candidate {
    start: usize,
    end: usize,
    key: Key,
    /// Preceded by a break opportunity: an argument, a tuple item, a pipe
    /// stage or a block parameter.
    slot: bool,
}

/// The nodes of one statement (or block header), in pre-order.
#[derive(Default)]
struct Nodes(Vec<Candidate>);

impl Nodes {
    fn push(&mut self, start: u32, end: u32, key: Key, slot: bool) {
        self.0.push(Candidate {
            start: start as usize,
            end: end as usize,
            key,
            slot,
        });
    }

    fn expr(&mut self, e: &Expr, slot: bool) {
        self.push(e.span.start, e.span.end, key_expr(e), slot);
        match &e.kind {
            ExprKind::Number(_)
            | ExprKind::Name(_)
            | ExprKind::Type(_)
            | ExprKind::Range { .. } => {}
            ExprKind::Tuple(items) | ExprKind::List(items) => {
                items.iter().for_each(|x| self.expr(x, true))
            }
            ExprKind::Call(c) => self.args(c),
            ExprKind::Neg(x) => self.expr(x, false),
            ExprKind::Binary(_, a, b) => {
                self.expr(a, false);
                self.expr(b, false);
            }
            ExprKind::Cast { value, .. } => self.expr(value, false),
            ExprKind::Pipe(lhs, c) => {
                self.expr(lhs, false);
                self.push(c.span.start, c.span.end, key_stage(c), true);
                self.args(c);
            }
        }
    }

    fn args(&mut self, c: &Call) {
        for a in &c.args {
            let start = a.name.as_ref().map_or(a.value.span.start, |n| n.span.start);
            self.push(start, a.value.span.end, key_arg(a), true);
            self.expr(&a.value, false);
        }
    }

    fn param(&mut self, p: &BlockParam) {
        let end = p.default.as_ref().map_or(p.name.span.end, |d| d.span.end);
        self.push(p.name.span.start, end, key_param(p), true);
        if let Some(d) = &p.default {
            self.expr(d, false);
        }
    }
}

/// Builds docs for one statement; owns the comments written inside it.
pub struct StmtPrinter<'a> {
    text: &'a str,
    before: HashMap<Key, Vec<String>>,
    after: HashMap<Key, Vec<String>>,
    /// Comments with no node before them: they trail the statement's first line.
    start: Vec<String>,
}

impl<'a> StmtPrinter<'a> {
    fn new(text: &'a str, comments: &[Comment], nodes: &Nodes) -> Self {
        let mut p = StmtPrinter {
            text,
            before: HashMap::new(),
            after: HashMap::new(),
            start: vec![],
        };
        // Where the previous comment went, so that comments keep their order:
        // one that would land before it joins it instead.
        let mut last: Option<(Place, usize)> = None;
        for c in comments {
            let mut place = None;
            if c.own_line {
                let next = nodes
                    .0
                    .iter()
                    .filter(|n| n.start >= c.end)
                    .map(|n| n.start)
                    .min();
                let slot = next.and_then(|s| nodes.0.iter().find(|n| n.start == s && n.slot));
                place = slot.map(|n| (Place::Before(n.key), n.start));
            }
            if place.is_none() {
                let last_end = nodes
                    .0
                    .iter()
                    .filter(|n| n.end <= c.start)
                    .map(|n| n.end)
                    .max();
                // The outermost node ending there: the first in pre-order with the smallest start.
                let target = last_end.and_then(|e| {
                    nodes
                        .0
                        .iter()
                        .filter(|n| n.end == e)
                        .min_by_key(|n| n.start)
                });
                place = Some(match target {
                    Some(n) => (Place::After(n.key), n.end),
                    None => (Place::Start, 0),
                });
            }
            let Some(mut here) = place else { continue };
            if let Some(prev) = last {
                if here.1 < prev.1 {
                    here = prev;
                }
            }
            last = Some(here);
            match here.0 {
                Place::Before(k) => p.before.entry(k).or_default().push(c.text.clone()),
                Place::After(k) => p.after.entry(k).or_default().push(c.text.clone()),
                Place::Start => p.start.push(c.text.clone()),
            }
        }
        p
    }

    pub fn for_stmt(text: &'a str, comments: &[Comment], stmt: &Stmt) -> Self {
        let mut nodes = Nodes::default();
        if let Stmt::Let(l) = stmt {
            nodes.expr(&l.value, false);
        }
        Self::new(text, comments, &nodes)
    }

    pub fn for_plain(text: &'a str, comments: &[Comment]) -> Self {
        Self::new(text, comments, &Nodes::default())
    }

    /// A line with no expressions in it (`use ...`, `pipeline NAME {`).
    pub fn line(&mut self, s: String) -> Doc {
        let mut out = vec![];
        self.start_comments(&mut out);
        out.push(text(s));
        Doc::Concat(out)
    }

    pub fn for_return(text: &'a str, comments: &[Comment], e: &Expr) -> Self {
        let mut nodes = Nodes::default();
        nodes.expr(e, false);
        Self::new(text, comments, &nodes)
    }

    pub fn for_block_header(text: &'a str, comments: &[Comment], b: &BlockDecl) -> Self {
        let mut nodes = Nodes::default();
        b.params.iter().for_each(|p| nodes.param(p));
        Self::new(text, comments, &nodes)
    }

    /// Comments that trail the statement's first line, as line suffixes.
    fn start_comments(&mut self, out: &mut Vec<Doc>) {
        for c in std::mem::take(&mut self.start) {
            out.push(Doc::LineSuffix(c));
        }
    }

    fn after(&mut self, key: Key, out: &mut Vec<Doc>) {
        if let Some(cs) = self.after.remove(&key) {
            for c in cs {
                out.push(Doc::LineSuffix(c));
            }
        }
    }

    fn before(&mut self, key: Key, out: &mut Vec<Doc>) {
        if let Some(cs) = self.before.remove(&key) {
            for c in cs {
                out.push(Doc::Text(c));
                out.push(Doc::HardLine);
            }
        }
    }

    /// `header` is everything before ` = ` (already padded for alignment).
    pub fn stmt(&mut self, stmt: &Stmt, header: String) -> Doc {
        let mut out = vec![];
        self.start_comments(&mut out);
        // Attributes, each on its own line above the `let`.
        if let Stmt::Let(l) = stmt {
            for a in &l.attributes {
                out.push(text(a.text()));
                out.push(Doc::HardLine);
            }
        }
        out.push(text(header));
        match stmt {
            Stmt::Input(_) | Stmt::Output(_) => {}
            Stmt::Param(p) => out.push(text(format!(" = {}", init(&p.init)))),
            Stmt::Const(c) => {
                let sign = if c.value.node.negative { "-" } else { "" };
                let digits = number_text(self.text, c.value.span.start as usize);
                out.push(text(format!(" = {sign}{digits}")));
            }
            Stmt::Let(l) => {
                out.push(text(" = "));
                out.push(self.expr(&l.value));
            }
        }
        self.rest(&mut out);
        Doc::Concat(out)
    }

    pub fn return_stmt(&mut self, e: &Expr) -> Doc {
        let mut out = vec![];
        self.start_comments(&mut out);
        out.push(text("return "));
        out.push(self.expr(e));
        self.rest(&mut out);
        Doc::Concat(out)
    }

    pub fn block_header(&mut self, b: &BlockDecl) -> Doc {
        let mut out = vec![];
        self.start_comments(&mut out);
        let open = text(format!("block {}(", b.name.node));
        if b.params.is_empty() {
            out.push(open);
            out.push(text(") {"));
        } else {
            let mut inner = vec![Doc::SoftLine];
            for (i, p) in b.params.iter().enumerate() {
                if i > 0 {
                    inner.push(text(","));
                    inner.push(Doc::Line);
                }
                self.before(key_param(p), &mut inner);
                inner.push(text(p.name.node.clone()));
                if let Some(d) = &p.default {
                    inner.push(text(" = "));
                    inner.push(self.expr(d));
                }
                self.after(key_param(p), &mut inner);
            }
            inner.push(Doc::IfBreak(","));
            out.push(Doc::Group(vec![
                open,
                Doc::Indent(inner),
                Doc::SoftLine,
                text(") {"),
            ]));
        }
        self.rest(&mut out);
        Doc::Concat(out)
    }

    /// Comments not placed yet (none, unless nodes were skipped) trail the end.
    fn rest(&mut self, out: &mut Vec<Doc>) {
        let mut left: Vec<String> = vec![];
        left.extend(self.before.drain().flat_map(|(_, v)| v));
        left.extend(self.after.drain().flat_map(|(_, v)| v));
        left.sort();
        out.extend(left.into_iter().map(Doc::LineSuffix));
    }

    fn expr(&mut self, e: &Expr) -> Doc {
        let mut out = vec![];
        let parens = !matches!(e.kind, ExprKind::Tuple(_))
            && wrapped_in_parens(self.text, e.span.start as usize, e.span.end as usize);
        let inner = self.bare_expr(e);
        if parens {
            out.push(text("("));
            out.push(inner);
            out.push(text(")"));
        } else {
            out.push(inner);
        }
        self.after(key_expr(e), &mut out);
        Doc::Concat(out)
    }

    /// An operand, parenthesized when the user did or precedence needs it.
    fn operand(&mut self, e: &Expr, needs: bool) -> Doc {
        let d = self.expr(e);
        if needs && !self.has_parens(e) {
            Doc::Concat(vec![text("("), d, text(")")])
        } else {
            d
        }
    }

    fn has_parens(&self, e: &Expr) -> bool {
        matches!(e.kind, ExprKind::Tuple(_))
            || wrapped_in_parens(self.text, e.span.start as usize, e.span.end as usize)
    }

    fn bare_expr(&mut self, e: &Expr) -> Doc {
        match &e.kind {
            ExprKind::Number(_) => text(number_text(self.text, e.span.start as usize)),
            ExprKind::Name(n) => text(n.clone()),
            ExprKind::Type(t) => text(t.to_string()),
            ExprKind::Range { start, end } => {
                let bound = |b: &Option<i128>| b.map_or(String::new(), |v| v.to_string());
                text(format!("{}..{}", bound(start), bound(end)))
            }
            ExprKind::Tuple(items) | ExprKind::List(items) => {
                let (open, close) = match e.kind {
                    ExprKind::List(_) => ("[", "]"),
                    _ => ("(", ")"),
                };
                let mut inner = vec![Doc::SoftLine];
                for (i, x) in items.iter().enumerate() {
                    if i > 0 {
                        inner.push(text(","));
                        inner.push(Doc::Line);
                    }
                    self.before(key_expr(x), &mut inner);
                    inner.push(self.expr(x));
                }
                inner.push(Doc::IfBreak(","));
                Doc::Group(vec![
                    text(open),
                    Doc::Indent(inner),
                    Doc::SoftLine,
                    text(close),
                ])
            }
            ExprKind::Call(c) => self.call(c),
            ExprKind::Neg(x) => {
                let needs = prec(x) < NEG;
                Doc::Concat(vec![text("-"), self.operand(x, needs)])
            }
            ExprKind::Binary(op, a, b) => {
                let p = binary_prec(*op);
                let da = self.operand(a, prec(a) < p);
                let db = self.operand(b, prec(b) <= p);
                Doc::Concat(vec![da, text(format!(" {} ", op.symbol())), db])
            }
            ExprKind::Cast {
                value,
                ty,
                overflow,
            } => {
                let dv = self.operand(value, prec(value) < CAST);
                let mut t = format!(" as {}", ty.node);
                if let Some(o) = overflow {
                    t.push(' ');
                    t.push_str(o.node.name());
                }
                Doc::Concat(vec![dv, text(t)])
            }
            ExprKind::Pipe(..) => self.pipe_chain(e),
        }
    }

    /// `a |> f() |> g()` is one group: on one line, or one stage per line.
    fn pipe_chain(&mut self, e: &Expr) -> Doc {
        let mut stages: Vec<(&Expr, &Call)> = vec![];
        let mut base = e;
        while let ExprKind::Pipe(lhs, c) = &base.kind {
            // Only the outermost node may carry the user's parentheses: an
            // inner parenthesized pipe is a base of its own.
            if !std::ptr::eq(base, e) && self.has_parens(base) {
                break;
            }
            stages.push((base, c));
            base = lhs;
        }
        stages.reverse();
        let base_doc = self.expr(base);
        let mut inner = vec![];
        for (node, c) in stages {
            inner.push(Doc::Line);
            self.before(key_stage(c), &mut inner);
            inner.push(text("|> "));
            inner.push(self.call(c));
            self.after(key_stage(c), &mut inner);
            if !std::ptr::eq(node, e) {
                self.after(key_expr(node), &mut inner);
            }
        }
        Doc::Group(vec![base_doc, Doc::Indent(inner)])
    }

    fn call(&mut self, c: &Call) -> Doc {
        let open = text(format!("{}(", c.func.node));
        if c.args.is_empty() {
            return Doc::Concat(vec![open, text(")")]);
        }
        let mut inner = vec![Doc::SoftLine];
        for (i, a) in c.args.iter().enumerate() {
            if i > 0 {
                inner.push(text(","));
                inner.push(Doc::Line);
            }
            self.before(key_arg(a), &mut inner);
            if let Some(n) = &a.name {
                inner.push(text(format!("{}: ", n.node)));
            }
            inner.push(self.expr(&a.value));
            self.after(key_arg(a), &mut inner);
        }
        inner.push(Doc::IfBreak(","));
        Doc::Group(vec![open, Doc::Indent(inner), Doc::SoftLine, text(")")])
    }
}

const CAST: u8 = 2;
const NEG: u8 = 6;

fn binary_prec(op: BinOp) -> u8 {
    match op {
        BinOp::Shr | BinOp::Shl => 3,
        BinOp::Add | BinOp::Sub => 4,
        BinOp::Mul => 5,
    }
}

/// Binding strength, loosest first: `|>`, `as`, shifts, `+ -`, `*`, unary `-`.
fn prec(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::Pipe(..) => 1,
        ExprKind::Cast { .. } => CAST,
        ExprKind::Binary(op, ..) => binary_prec(*op),
        ExprKind::Neg(_) => NEG,
        _ => 7,
    }
}

fn init(i: &Init) -> String {
    match i {
        Init::Load(p) => format!("load(\"{}\")", p.node),
        Init::Random(s) => format!("random(seed: {})", s.node),
    }
}

/// `u8[16, 32, 64] pad 1`.
pub fn tensor_type(t: &TensorType) -> String {
    let dims: Option<Vec<String>> = t
        .dims
        .as_ref()
        .map(|d| d.iter().map(|x| x.node.to_string()).collect());
    crate::notation::tensor_type(
        t.scalar.node,
        dims.as_deref(),
        t.halo.as_ref().map(|h| h.node.to_string()),
    )
}
