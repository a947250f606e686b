//! AST -> checked [`Program`]: names resolved, blocks inlined, shapes and
//! geometry checked, and the exact range of every value proven from the
//! declared types and the real constant weights.

mod conv_range;
mod error;
mod expr;
mod interval;
mod literal;
mod params;
mod scope;
mod stages;
pub mod table;

pub use error::{CheckError, CheckWarning, RangeFact, UnpoolMismatch};

use crate::ast::{self, Item, LetTarget, Stmt};
use crate::diag::SourceMap;
use crate::ir::{InputInfo, Interval, Node, NodeId, Op, OutputInfo, Program, Shape};
use crate::span::Span;
use crate::types::{narrowest, ScalarType, MAX_TYPE_BITS};
use scope::{Scope, Value};
use std::collections::HashMap;

/// Tensors larger than this many elements are refused (64 Mi values: the
/// reference interpreter holds each value exactly in 16 bytes).
pub const MAX_ELEMENTS: u128 = 1 << 26;

/// Reads the files named by `load("...")`, relative to the script. The core
/// does no IO: the CLI (or a test) provides this.
pub trait DataSource {
    fn read(&self, path: &str) -> Result<Vec<u8>, String>;
}

/// A data source with no files, for scripts that only use `random`.
pub struct NoFiles;

impl DataSource for NoFiles {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        Err(format!("no data files are available here (asked for {path})"))
    }
}

#[derive(Clone, Debug, Default)]
pub struct CheckOptions {
    /// Which pipeline to check when the file holds several.
    pub pipeline: Option<String>,
}

/// The result of a successful check: the program and any warnings.
#[derive(Clone, Debug)]
pub struct Checked {
    pub program: Program,
    pub warnings: Vec<CheckWarning>,
}

/// The errors (and the warnings found before them) of a failed check.
#[derive(Clone, Debug)]
pub struct Failed {
    pub errors: Vec<CheckError>,
    pub warnings: Vec<CheckWarning>,
}

/// Checks one pipeline of `file`. Standard-library modules named by `use` are
/// parsed from the copies built into the binary and added to `sources`.
pub fn check(
    sources: &mut SourceMap,
    file: &ast::File,
    options: &CheckOptions,
    data: &dyn DataSource,
) -> Result<Checked, Failed> {
    let mut cx = Checker::new(data);
    cx.collect_blocks(sources, file);
    let pipeline = cx.select_pipeline(file, options);
    if let Some(p) = pipeline {
        cx.pipeline(p);
    }
    if cx.errors.is_empty() && pipeline.is_some() {
        let program = Program {
            name: pipeline.map(|p| p.name.node.clone()).unwrap_or_default(),
            nodes: cx.nodes,
            inputs: cx.inputs,
            outputs: cx.outputs,
        };
        Ok(Checked {
            program,
            warnings: cx.warnings,
        })
    } else {
        Err(Failed {
            errors: cx.errors,
            warnings: cx.warnings,
        })
    }
}

pub(crate) struct Checker<'a> {
    data: &'a dyn DataSource,
    blocks: HashMap<String, ast::BlockDecl>,
    nodes: Vec<Node>,
    inputs: Vec<InputInfo>,
    outputs: Vec<OutputInfo>,
    errors: Vec<CheckError>,
    warnings: Vec<CheckWarning>,
    /// Innermost last; names are looked up only in the innermost (blocks are closed).
    scopes: Vec<Scope>,
    /// Blocks being inlined, outermost first, to catch recursion.
    block_stack: Vec<String>,
    /// Name of the declaration being checked, for the stage table.
    owner: String,
}

impl<'a> Checker<'a> {
    fn new(data: &'a dyn DataSource) -> Self {
        Checker {
            data,
            blocks: HashMap::new(),
            nodes: vec![],
            inputs: vec![],
            outputs: vec![],
            errors: vec![],
            warnings: vec![],
            scopes: vec![Scope::default()],
            block_stack: vec![],
            owner: String::new(),
        }
    }

    fn error(&mut self, e: CheckError) -> Value {
        self.errors.push(e);
        Value::Poison
    }

    fn scope(&mut self) -> &mut Scope {
        // There is always at least the pipeline's scope.
        let last = self.scopes.len() - 1;
        &mut self.scopes[last]
    }

    fn collect_blocks(&mut self, sources: &mut SourceMap, file: &ast::File) {
        for item in &file.items {
            match item {
                Item::Block(b) => self.add_block(b.clone()),
                Item::Use(u) => self.use_std(sources, u),
                Item::Pipeline(_) => {}
            }
        }
    }

    fn add_block(&mut self, b: ast::BlockDecl) {
        if stages::is_builtin(&b.name.node) {
            self.errors.push(CheckError::BlockShadowsStage {
                span: b.name.span,
                name: b.name.node.clone(),
            });
            return;
        }
        self.blocks.entry(b.name.node.clone()).or_insert(b);
    }

    /// `use std::MODULE::BLOCK` or `use std::MODULE` (every block of it).
    fn use_std(&mut self, sources: &mut SourceMap, u: &ast::UseDecl) {
        let names: Vec<&str> = u.path.iter().map(|i| i.node.as_str()).collect();
        let module = match names.as_slice() {
            ["std", module, ..] if names.len() <= 3 => *module,
            _ => {
                self.errors.push(CheckError::UnknownStdModule {
                    span: u.span,
                    path: names.join("::"),
                    available: crate::stdlib::modules().map(|m| format!("std::{m}")).collect(),
                });
                return;
            }
        };
        let Some(text) = crate::stdlib::module_source(module) else {
            self.errors.push(CheckError::UnknownStdModule {
                span: u.span,
                path: names.join("::"),
                available: crate::stdlib::modules().map(|m| format!("std::{m}")).collect(),
            });
            return;
        };
        let file_name = format!("<std>/{module}.cnn");
        let id = match sources.find(&file_name) {
            Some(id) => id,
            None => sources.add(file_name, text),
        };
        // The stdlib is tested to parse; a failure here would be our bug, reported as such.
        let Ok(parsed) = crate::syntax::parse(text, id) else {
            self.errors.push(CheckError::UnknownStdModule {
                span: u.span,
                path: names.join("::"),
                available: vec![],
            });
            return;
        };
        let blocks: Vec<ast::BlockDecl> = parsed
            .items
            .into_iter()
            .filter_map(|i| match i {
                Item::Block(b) => Some(b),
                _ => None,
            })
            .collect();
        match names.get(2) {
            Some(wanted) => match blocks.iter().find(|b| b.name.node == *wanted) {
                Some(b) => self.add_block(b.clone()),
                None => self.errors.push(CheckError::UnknownStdBlock {
                    span: u.path[2].span,
                    module: module.to_string(),
                    name: wanted.to_string(),
                    available: blocks.iter().map(|b| b.name.node.clone()).collect(),
                }),
            },
            None => blocks.into_iter().for_each(|b| self.add_block(b)),
        }
    }

    fn select_pipeline<'f>(
        &mut self,
        file: &'f ast::File,
        options: &CheckOptions,
    ) -> Option<&'f ast::Pipeline> {
        let pipelines: Vec<&ast::Pipeline> = file
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Pipeline(p) => Some(p),
                _ => None,
            })
            .collect();
        let names = || pipelines.iter().map(|p| p.name.node.clone()).collect();
        match (&options.pipeline, pipelines.len()) {
            (Some(name), _) => {
                let found = pipelines.iter().find(|p| &p.name.node == name).copied();
                if found.is_none() {
                    self.errors.push(CheckError::PipelineNotFound {
                        name: name.clone(),
                        available: names(),
                    });
                }
                found
            }
            (None, 0) => {
                self.errors.push(CheckError::NoPipeline);
                None
            }
            (None, 1) => pipelines.first().copied(),
            (None, _) => {
                self.errors
                    .push(CheckError::SeveralPipelines { names: names() });
                None
            }
        }
    }

    fn pipeline(&mut self, p: &ast::Pipeline) {
        for stmt in &p.body {
            self.stmt(stmt, false);
        }
        if self.outputs.is_empty() && self.errors.is_empty() {
            self.errors.push(CheckError::NoOutputs { span: p.name.span });
        }
        // After an error, "unused" is usually a consequence: say nothing.
        if self.errors.is_empty() {
            let unused = self.scope().unused();
            for (name, span) in unused {
                self.warnings.push(CheckWarning::Unused { span, name });
            }
        }
    }

    fn stmt(&mut self, stmt: &Stmt, in_block: bool) {
        match stmt {
            Stmt::Input(d) if !in_block => self.input(d),
            Stmt::Param(d) if !in_block => self.param(d),
            Stmt::Output(o) if !in_block => self.output(o),
            Stmt::Input(ast::InputDecl { span, .. }) => {
                self.error(CheckError::NotAllowedInBlock { span: *span, what: "input" });
            }
            Stmt::Param(ast::ParamDecl { span, .. }) => {
                self.error(CheckError::NotAllowedInBlock { span: *span, what: "param" });
            }
            Stmt::Output(ast::OutputStmt { span, .. }) => {
                self.error(CheckError::NotAllowedInBlock { span: *span, what: "output" });
            }
            Stmt::Const(d) => self.constant(d),
            Stmt::Let(d) => self.let_decl(d),
        }
    }

    fn declare(&mut self, name: &ast::Ident, value: Value) {
        if let Some(previous) = self.scope().bind(&name.node, value, name.span, true) {
            self.errors.push(CheckError::Redefined {
                span: name.span,
                name: name.node.clone(),
                previous,
            });
        }
    }

    /// The full name of a declaration: `y`, or `y.dw` inside a block used by `y`.
    fn qualified(&self, name: &str) -> String {
        if self.owner.is_empty() || self.block_stack.is_empty() {
            name.to_string()
        } else {
            format!("{}.{}", self.owner, name)
        }
    }

    fn input(&mut self, d: &ast::InputDecl) {
        self.owner = d.name.node.clone();
        let Some(shape) = self.declared_shape(&d.ty, &[1, 3]) else {
            return self.declare(&d.name, Value::Poison);
        };
        let ty = d.ty.scalar.node;
        let (lo, hi) = ty.value_bounds();
        let ranges = vec![Interval::new(lo, hi); shape.channels()];
        let halo = self.halo(&d.ty);
        let index = self.inputs.len();
        let id = self.push_typed(
            Op::Input { index },
            shape,
            ty.storage_frac(),
            ranges,
            ty,
            d.span,
            "input".into(),
        );
        self.nodes[id].halo = halo;
        self.nodes[id].name = Some(d.name.node.clone());
        self.inputs.push(InputInfo {
            name: d.name.node.clone(),
            node: id,
        });
        self.declare(&d.name, Value::Tensor(id));
    }

    fn halo(&mut self, ty: &ast::TensorType) -> usize {
        match &ty.halo {
            Some(h) if h.node > 64 => {
                self.error(CheckError::ParameterTooLarge {
                    span: h.span,
                    what: "halo",
                    value: h.node as i128,
                });
                0
            }
            Some(h) => {
                if ty.dims.as_ref().is_none_or(|d| d.len() != 3) {
                    self.error(CheckError::BadHalo { span: h.span });
                }
                h.node as usize
            }
            None => 0,
        }
    }

    /// The shape written in a declaration; `ranks` lists the ranks allowed.
    fn declared_shape(&mut self, ty: &ast::TensorType, ranks: &[usize]) -> Option<Shape> {
        let dims: Vec<usize> = match &ty.dims {
            None => vec![],
            Some(ds) => {
                let mut out = vec![];
                for d in ds {
                    if d.node == 0 {
                        self.error(CheckError::ZeroParameter {
                            span: d.span,
                            what: "dimension",
                        });
                        return None;
                    }
                    out.push(usize::try_from(d.node).unwrap_or(usize::MAX));
                }
                out
            }
        };
        let elements = dims
            .iter()
            .try_fold(1u128, |acc, &d| acc.checked_mul(d as u128))
            .unwrap_or(u128::MAX);
        if elements > MAX_ELEMENTS {
            self.error(CheckError::TensorTooLarge {
                span: ty.span,
                elements,
            });
            return None;
        }
        if !ranks.contains(&dims.len()) {
            self.error(CheckError::WrongRank {
                span: ty.span,
                what: "declaration",
                expected: rank_names(ranks),
                found: dims,
            });
            return None;
        }
        Some(match dims.as_slice() {
            [] => Shape::Scalar,
            [n] => Shape::Vector(*n),
            [c, h, w] => Shape::Map { c: *c, h: *h, w: *w },
            [o, i, kh, kw] => Shape::Weights {
                o: *o,
                i: *i,
                kh: *kh,
                kw: *kw,
            },
            _ => return None,
        })
    }

    fn param(&mut self, d: &ast::ParamDecl) {
        self.owner = d.name.node.clone();
        let Some(shape) = self.declared_shape(&d.ty, &[0, 1, 3, 4]) else {
            return self.declare(&d.name, Value::Poison);
        };
        let ty = d.ty.scalar.node;
        let value = match self.param_data(d, &shape) {
            Some(data) => {
                let ranges = channel_ranges(&data, &shape);
                let id = self.push_typed(
                    Op::Constant { data },
                    shape,
                    ty.storage_frac(),
                    ranges,
                    ty,
                    d.span,
                    "param".into(),
                );
                self.nodes[id].name = Some(d.name.node.clone());
                Value::Tensor(id)
            }
            None => Value::Poison,
        };
        self.declare(&d.name, value);
    }

    fn constant(&mut self, d: &ast::ConstDecl) {
        self.owner = self.qualified(&d.name.node);
        if d.ty.dims.is_some() {
            self.error(CheckError::ConstNotScalar { span: d.ty.span });
            return self.declare(&d.name, Value::Poison);
        }
        let ty = d.ty.scalar.node;
        let value = match self.const_value(&d.value, ty) {
            Some(raw) => {
                let id = self.push_typed(
                    Op::Constant { data: vec![raw] },
                    Shape::Scalar,
                    ty.storage_frac(),
                    vec![Interval::point(raw)],
                    ty,
                    d.span,
                    "const".into(),
                );
                self.nodes[id].name = Some(self.owner.clone());
                Value::Tensor(id)
            }
            None => Value::Poison,
        };
        self.declare(&d.name, value);
    }

    fn let_decl(&mut self, d: &ast::LetDecl) {
        let first = match &d.target {
            LetTarget::Name(n) => n.node.clone(),
            LetTarget::Tuple(ns) => ns.iter().map(|n| n.node.as_str()).collect::<Vec<_>>().join(", "),
        };
        let outer = self.owner.clone();
        self.owner = self.qualified(&first);
        let value = self.eval(&d.value);
        self.owner = outer;
        match &d.target {
            LetTarget::Name(name) => {
                let value = match (&d.ty, value) {
                    (Some(ty), Value::Tensor(id)) => self.annotate(id, ty, d.value.span),
                    (_, Value::Int(v)) => self.materialize(Value::Int(v), d.value.span),
                    (_, v) => v,
                };
                if let Value::Tensor(id) = value {
                    let qualified = self.qualified(&name.node);
                    let node = &mut self.nodes[id];
                    if node.name.is_none() {
                        node.name = Some(qualified);
                    }
                }
                self.declare(name, value);
            }
            LetTarget::Tuple(names) => {
                let parts = match value {
                    Value::Tuple(parts) if parts.len() == names.len() => parts,
                    Value::Poison => vec![Value::Poison; names.len()],
                    Value::Tuple(parts) => {
                        self.error(CheckError::TupleArity {
                            span: d.span,
                            expected: names.len(),
                            found: parts.len(),
                        });
                        vec![Value::Poison; names.len()]
                    }
                    _ => {
                        self.error(CheckError::TupleArity {
                            span: d.span,
                            expected: names.len(),
                            found: 1,
                        });
                        vec![Value::Poison; names.len()]
                    }
                };
                for (name, part) in names.iter().zip(parts) {
                    if let Value::Tensor(id) = part {
                        let qualified = self.qualified(&name.node);
                        let node = &mut self.nodes[id];
                        if node.name.is_none() {
                            node.name = Some(qualified);
                        }
                    }
                    self.declare(name, part);
                }
            }
        }
    }

    /// `let y: T[dims] pad P = expr`: the annotation asserts, it never converts.
    /// When the value is stored at another scale (an integer annotated as a fixed
    /// type), or is already bound to another name, an exact copy node carries it.
    fn annotate(&mut self, id: NodeId, ty: &ast::TensorType, expr_span: Span) -> Value {
        let node = &self.nodes[id];
        let declared = ty.scalar.node;
        if let Some(ds) = &ty.dims {
            let dims: Vec<usize> = ds.iter().map(|d| d.node as usize).collect();
            if dims != node.shape.dims() {
                return self.error(CheckError::DimsMismatch {
                    span: ty.span,
                    declared: dims,
                    found: node.shape.dims(),
                });
            }
        }
        if node.frac as i32 > declared.frac_bits() || declared.frac_bits() < 0 {
            return self.error(CheckError::AnnotationFraction {
                span: expr_span,
                frac: node.frac,
                declared,
            });
        }
        let up = declared.storage_frac() - node.frac;
        let (lo, hi) = declared.value_bounds();
        let range = node.range();
        let (shape, ranges, named) = (node.shape.clone(), node.ranges.clone(), node.name.is_some());
        if (range.lo << up) < lo || (range.hi << up) > hi {
            return self.error(CheckError::AnnotationOutOfRange {
                span: expr_span,
                range: RangeFact {
                    range,
                    frac: node.frac,
                },
                declared,
            });
        }
        let halo = self.halo(ty);
        let id = if up > 0 || named {
            let ranges = ranges
                .iter()
                .map(|r| Interval::new(r.lo << up, r.hi << up))
                .collect();
            self.push_typed(
                Op::Cast {
                    x: id,
                    to: declared,
                    quant: declared.quant,
                    overflow: crate::ir::CastOverflow::Proven,
                },
                shape,
                declared.storage_frac(),
                ranges,
                declared,
                expr_span,
                format!("as {declared}"),
            )
        } else {
            id
        };
        let node = &mut self.nodes[id];
        node.ty = declared;
        node.halo = halo;
        Value::Tensor(id)
    }

    fn output(&mut self, o: &ast::OutputStmt) {
        for name in &o.names {
            match self.scope().lookup(&name.node) {
                Some(Value::Tensor(id)) => {
                    let bits = self.nodes[id].ty.width;
                    if bits > MAX_TYPE_BITS {
                        self.error(CheckError::OutputTooWide {
                            span: name.span,
                            name: name.node.clone(),
                            bits,
                        });
                    }
                    self.outputs.push(OutputInfo {
                        name: name.node.clone(),
                        node: id,
                    });
                }
                Some(Value::Poison) => {}
                Some(_) => {
                    self.error(CheckError::NotATensor {
                        span: name.span,
                        what: name.node.clone(),
                    });
                }
                None => {
                    let suggestion = scope::suggest(&name.node, self.scopes[0].names());
                    self.error(CheckError::UnknownName {
                        span: name.span,
                        name: name.node.clone(),
                        suggestion,
                    });
                }
            }
        }
    }

    /// Adds a node whose type is the narrowest holding its range.
    fn push(
        &mut self,
        op: Op,
        shape: Shape,
        frac: u32,
        ranges: Vec<Interval>,
        span: Span,
        label: String,
    ) -> NodeId {
        let hull = ranges
            .iter()
            .copied()
            .reduce(Interval::hull)
            .unwrap_or(Interval::point(0));
        let ty = narrowest(hull.lo, hull.hi, frac);
        self.push_typed(op, shape, frac, ranges, ty, span, label)
    }

    #[allow(clippy::too_many_arguments)]
    fn push_typed(
        &mut self,
        op: Op,
        shape: Shape,
        frac: u32,
        ranges: Vec<Interval>,
        ty: ScalarType,
        span: Span,
        label: String,
    ) -> NodeId {
        self.nodes.push(Node {
            op,
            shape,
            frac,
            ranges,
            ty,
            halo: 0,
            name: None,
            label,
            owner: self.owner.clone(),
            macs: 0,
            span,
        });
        self.nodes.len() - 1
    }
}

fn rank_names(ranks: &[usize]) -> &'static str {
    match ranks {
        [1, 3] => "a vector [N] or a map [C, H, W]",
        [0, 1, 3, 4] => "a scalar, [N], [C, H, W] or [O, I, KH, KW]",
        [3] => "a map [C, H, W]",
        [4] => "weights [O, I, KH, KW]",
        _ => "another shape",
    }
}

/// Tight per-channel ranges of constant data.
fn channel_ranges(data: &[i128], shape: &Shape) -> Vec<Interval> {
    let plane = shape.plane().max(1);
    data.chunks(plane)
        .map(|c| {
            let lo = c.iter().copied().min().unwrap_or(0);
            let hi = c.iter().copied().max().unwrap_or(0);
            Interval::new(lo, hi)
        })
        .collect()
}

pub use literal::decimal;
pub use scope::suggest;
