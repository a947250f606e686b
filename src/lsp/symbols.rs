//! An index of one parsed file: every declaration, every use of a name, every
//! call and every written type, with spans, and each use resolved to its
//! declaration as the checker would (pipelines and blocks are separate,
//! closed scopes).

use crate::ast::{self, Expr, ExprKind, Item, LetTarget, Stmt, TensorType};
use crate::span::Span;
use crate::types::ScalarType;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefKind {
    Pipeline,
    Block,
    BlockParam,
    Input,
    Param,
    Const,
    Let,
}

impl DefKind {
    pub fn keyword(self) -> &'static str {
        match self {
            DefKind::Pipeline => "pipeline",
            DefKind::Block => "block",
            DefKind::BlockParam => "block parameter",
            DefKind::Input => "input",
            DefKind::Param => "param",
            DefKind::Const => "const",
            DefKind::Let => "let",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Def {
    pub name: String,
    pub kind: DefKind,
    /// The name as written in the declaration.
    pub span: Span,
    /// The whole declaration.
    pub decl: Span,
    /// Index of the item (pipeline or block) it belongs to; its own for those.
    pub item: usize,
    pub ty: Option<TensorType>,
    /// A `let`'s value or a block parameter's default.
    pub value: Option<Expr>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefKind {
    /// A name in an expression or an `output` list.
    Name,
    /// The function of a call: a stage or a block.
    Call,
    /// `stride` in `conv(x, w, stride: 2)`.
    NamedArg { func: String },
    /// One segment of `use std::blocks::dsconv`; `index` 0 is `std`.
    UsePath { path: Vec<String>, index: usize },
    /// The pipeline a `test` runs.
    Pipeline,
}

#[derive(Clone, Debug)]
pub struct Ref {
    pub name: String,
    pub span: Span,
    pub kind: RefKind,
    pub item: usize,
    /// The declaration in this file, when there is one.
    pub def: Option<usize>,
}

#[derive(Clone, Debug)]
pub struct TypeUse {
    pub span: Span,
    pub ty: ScalarType,
}

#[derive(Clone, Debug)]
pub struct CallSite {
    pub func: String,
    pub func_span: Span,
    pub span: Span,
    pub item: usize,
    /// The pipeline-level `let` (first name) whose value holds the call.
    pub owner: Option<String>,
    /// The call is that `let`'s whole value.
    pub is_let_value: bool,
}

#[derive(Clone, Debug, Default)]
pub struct Symbols {
    pub defs: Vec<Def>,
    pub refs: Vec<Ref>,
    pub types: Vec<TypeUse>,
    pub calls: Vec<CallSite>,
    /// `use` declarations, as paths of names.
    pub uses: Vec<(Vec<String>, Span)>,
    /// Span of each item.
    pub items: Vec<Span>,
    /// `load("...")` paths, with the span of the string.
    pub loads: Vec<(String, Span)>,
}

struct Walker<'a> {
    out: Symbols,
    item: usize,
    owner: Option<&'a str>,
    let_value: Option<Span>,
}

pub fn index(file: &ast::File) -> Symbols {
    let mut w = Walker {
        out: Symbols::default(),
        item: 0,
        owner: None,
        let_value: None,
    };
    for (i, item) in file.items.iter().enumerate() {
        w.item = i;
        match item {
            Item::Use(u) => {
                let path: Vec<String> = u.path.iter().map(|p| p.node.clone()).collect();
                for (index, seg) in u.path.iter().enumerate() {
                    w.out.refs.push(Ref {
                        name: seg.node.clone(),
                        span: seg.span,
                        kind: RefKind::UsePath {
                            path: path.clone(),
                            index,
                        },
                        item: i,
                        def: None,
                    });
                }
                w.out.uses.push((path, u.span));
                w.out.items.push(u.span);
            }
            Item::Block(b) => {
                w.out.items.push(b.span);
                w.def(&b.name, DefKind::Block, b.span, None, None);
                for p in &b.params {
                    let decl = p
                        .default
                        .as_ref()
                        .map_or(p.name.span, |d| p.name.span.to(d.span));
                    w.def(&p.name, DefKind::BlockParam, decl, None, p.default.clone());
                    if let Some(d) = &p.default {
                        w.expr(d);
                    }
                }
                for s in &b.body {
                    w.stmt(s);
                }
                w.expr(&b.result);
            }
            Item::Pipeline(p) => {
                w.out.items.push(p.span);
                w.def(&p.name, DefKind::Pipeline, p.span, None, None);
                for s in &p.body {
                    w.stmt(s);
                }
            }
        }
    }
    for t in &file.tests {
        w.test(t, file);
    }
    let mut out = w.out;
    resolve(&mut out);
    out
}

impl<'a> Walker<'a> {
    fn def(
        &mut self,
        name: &ast::Ident,
        kind: DefKind,
        decl: Span,
        ty: Option<TensorType>,
        value: Option<Expr>,
    ) {
        self.out.defs.push(Def {
            name: name.node.clone(),
            kind,
            span: name.span,
            decl,
            item: self.item,
            ty,
            value,
        });
    }

    fn tensor_type(&mut self, t: &TensorType) {
        self.out.types.push(TypeUse {
            span: t.scalar.span,
            ty: t.scalar.node,
        });
    }

    fn stmt(&mut self, s: &'a Stmt) {
        match s {
            Stmt::Input(d) => {
                self.def(&d.name, DefKind::Input, d.span, Some(d.ty.clone()), None);
                self.tensor_type(&d.ty);
            }
            Stmt::Param(d) => {
                self.def(&d.name, DefKind::Param, d.span, Some(d.ty.clone()), None);
                self.tensor_type(&d.ty);
                if let ast::Init::Load(path) = &d.init {
                    self.out.loads.push((path.node.clone(), path.span));
                }
            }
            Stmt::Const(d) => {
                self.def(&d.name, DefKind::Const, d.span, Some(d.ty.clone()), None);
                self.tensor_type(&d.ty);
            }
            Stmt::Let(d) => {
                let names: Vec<&ast::Ident> = match &d.target {
                    LetTarget::Name(n) => vec![n],
                    LetTarget::Tuple(ns) => ns.iter().collect(),
                };
                for n in &names {
                    self.def(n, DefKind::Let, d.span, d.ty.clone(), Some(d.value.clone()));
                }
                if let Some(t) = &d.ty {
                    self.tensor_type(t);
                }
                self.owner = names.first().map(|n| n.node.as_str());
                self.let_value = Some(d.value.span);
                self.expr(&d.value);
                self.owner = None;
                self.let_value = None;
            }
            Stmt::Output(o) => {
                for n in &o.names {
                    self.reference(n, RefKind::Name);
                }
            }
        }
    }

    /// `test NAME { run P with x = ...  expect y ... }`: its names are those
    /// of the pipeline it runs.
    fn test(&mut self, t: &ast::TestDecl, file: &ast::File) {
        let pipeline = &t.run.pipeline;
        self.item = file
            .items
            .iter()
            .position(|i| matches!(i, Item::Pipeline(p) if p.name.node == pipeline.node))
            .unwrap_or(usize::MAX);
        self.reference(pipeline, RefKind::Pipeline);
        for input in &t.run.inputs {
            self.reference(&input.name, RefKind::Name);
            if let ast::Init::Load(path) = &input.init {
                self.out.loads.push((path.node.clone(), path.span));
            }
        }
        for check in &t.checks {
            match check {
                ast::TestCheck::Golden { name, path, .. } => {
                    self.reference(name, RefKind::Name);
                    self.out.loads.push((path.node.clone(), path.span));
                }
                ast::TestCheck::Fits { name, ty, .. } => {
                    self.reference(name, RefKind::Name);
                    self.out.types.push(TypeUse {
                        span: ty.span,
                        ty: ty.node,
                    });
                }
                ast::TestCheck::NoOverflow { within, .. } => {
                    if let Some(name) = within {
                        self.reference(name, RefKind::Name);
                    }
                }
                ast::TestCheck::Snapshot { names, .. } => {
                    for name in names {
                        self.reference(name, RefKind::Name);
                    }
                }
            }
        }
    }

    fn reference(&mut self, name: &ast::Ident, kind: RefKind) {
        self.out.refs.push(Ref {
            name: name.node.clone(),
            span: name.span,
            kind,
            item: self.item,
            def: None,
        });
    }

    fn call(&mut self, c: &'a ast::Call) {
        self.reference(&c.func, RefKind::Call);
        self.out.calls.push(CallSite {
            func: c.func.node.clone(),
            func_span: c.func.span,
            span: c.span,
            item: self.item,
            owner: self.owner.map(str::to_string),
            is_let_value: self.let_value == Some(c.span),
        });
        for a in &c.args {
            if let Some(n) = &a.name {
                self.reference(
                    n,
                    RefKind::NamedArg {
                        func: c.func.node.clone(),
                    },
                );
            }
            self.expr(&a.value);
        }
    }

    fn expr(&mut self, e: &'a Expr) {
        match &e.kind {
            ExprKind::Number(_) => {}
            ExprKind::Name(n) => self.out.refs.push(Ref {
                name: n.clone(),
                span: e.span,
                kind: RefKind::Name,
                item: self.item,
                def: None,
            }),
            ExprKind::Tuple(items) => items.iter().for_each(|i| self.expr(i)),
            ExprKind::Call(c) => self.call(c),
            ExprKind::Neg(x) => self.expr(x),
            ExprKind::Binary(_, a, b) => {
                self.expr(a);
                self.expr(b);
            }
            ExprKind::Cast { value, ty, .. } => {
                self.expr(value);
                self.out.types.push(TypeUse {
                    span: ty.span,
                    ty: ty.node,
                });
            }
            ExprKind::Type(ty) => self.out.types.push(TypeUse {
                span: e.span,
                ty: *ty,
            }),
            ExprKind::Pipe(lhs, c) => {
                self.expr(lhs);
                // The pipe's whole expression is what a `let` holds.
                let whole = self.let_value == Some(e.span);
                self.call(c);
                if whole {
                    if let Some(last) = self.out.calls.last_mut() {
                        last.is_let_value = true;
                    }
                }
            }
        }
    }
}

fn is_value(kind: DefKind) -> bool {
    !matches!(kind, DefKind::Pipeline | DefKind::Block)
}

/// Links each use to its declaration: a name to the latest declaration
/// before it in the same item (or the first after it, so that a use before
/// its `let` still navigates), a block call to the block, a named argument
/// of a block call to the block's parameter.
fn resolve(s: &mut Symbols) {
    let defs = &s.defs;
    for r in &mut s.refs {
        r.def = match &r.kind {
            RefKind::Name => {
                let same: Vec<usize> = (0..defs.len())
                    .filter(|&i| {
                        defs[i].item == r.item && defs[i].name == r.name && is_value(defs[i].kind)
                    })
                    .collect();
                same.iter()
                    .rev()
                    .find(|&&i| defs[i].decl.start <= r.span.start)
                    .or(same.first())
                    .copied()
            }
            RefKind::Call => block_def(defs, &r.name),
            RefKind::NamedArg { func } => block_def(defs, func).and_then(|b| {
                (0..defs.len()).find(|&i| {
                    defs[i].item == defs[b].item
                        && defs[i].kind == DefKind::BlockParam
                        && defs[i].name == r.name
                })
            }),
            RefKind::UsePath { .. } => None,
            RefKind::Pipeline => defs
                .iter()
                .position(|d| d.kind == DefKind::Pipeline && d.name == r.name),
        };
    }
}

fn block_def(defs: &[Def], name: &str) -> Option<usize> {
    defs.iter()
        .position(|d| d.kind == DefKind::Block && d.name == name)
}

impl Symbols {
    /// The use or declaration of a name under the byte offset.
    pub fn at(&self, offset: usize) -> Option<Target<'_>> {
        let within = |s: Span| s.start as usize <= offset && offset <= s.end as usize;
        if let Some(r) = self.refs.iter().find(|r| within(r.span)) {
            return Some(Target::Ref(r));
        }
        self.defs.iter().find(|d| within(d.span)).map(Target::Def)
    }

    /// The item (pipeline or block) whose span holds the offset.
    pub fn item_at(&self, offset: usize) -> Option<usize> {
        self.items
            .iter()
            .position(|s| s.start as usize <= offset && offset <= s.end as usize)
    }

    /// The declaration of an item by its index.
    pub fn item_def(&self, item: usize) -> Option<&Def> {
        self.defs
            .iter()
            .find(|d| d.item == item && matches!(d.kind, DefKind::Pipeline | DefKind::Block))
    }

    /// The name of the file's only pipeline, if it has one.
    pub fn only_pipeline(&self) -> Option<String> {
        let mut pipelines = self.defs.iter().filter(|d| d.kind == DefKind::Pipeline);
        let first = pipelines.next()?;
        pipelines.next().is_none().then(|| first.name.clone())
    }

    pub fn type_at(&self, offset: usize) -> Option<&TypeUse> {
        self.types
            .iter()
            .find(|t| t.span.start as usize <= offset && offset <= t.span.end as usize)
    }
}

#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    Ref(&'a Ref),
    Def(&'a Def),
}
