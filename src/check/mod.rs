//! AST -> checked [`Program`]: names resolved, blocks inlined, shapes and
//! geometry checked, and the exact range of every value proven from the
//! declared types and the real constant weights.

mod attributes;
mod blocks;
mod calls;
mod conv_range;
mod decls;
mod error;
mod expr;
mod geometry;
mod interval;
mod literal;
mod lookup;
mod params;
mod reduce;
mod remap;
mod scope;
pub mod table;

pub use attributes::nearest_divisors;
pub use error::{CheckError, CheckWarning, NoParallelForm, RangeFact, UnpoolMismatch};

use crate::ast::{self, Item, Stmt};
use crate::diag::SourceMap;
use crate::ir::{InputInfo, Interval, Node, NodeId, Op, OutputInfo, Program, Shape, StageHint};
use crate::span::Span;
use crate::types::{narrowest, ScalarType};
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
        Err(format!(
            "no data files are available here (asked for {path})"
        ))
    }
}

#[derive(Clone, Debug, Default)]
pub struct CheckOptions {
    /// Which pipeline to check when the file holds several.
    pub pipeline: Option<String>,
}

/// The result of a check that passed: the program and any warnings
/// (`convoy::Checked` is this with the warnings rendered as diagnostics).
#[derive(Clone, Debug)]
pub struct Passed {
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
) -> Result<Passed, Failed> {
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
            hints: cx.hints,
        }
        .share_subexpressions();
        Ok(Passed {
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
    /// `@hls(...)` of the stages checked so far.
    hints: Vec<StageHint>,
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
            hints: vec![],
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
        if crate::builtins::is_builtin(&b.name.node) {
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
                    available: crate::stdlib::modules()
                        .map(|m| format!("std::{m}"))
                        .collect(),
                });
                return;
            }
        };
        let Some(text) = crate::stdlib::module_source(module) else {
            self.errors.push(CheckError::UnknownStdModule {
                span: u.span,
                path: names.join("::"),
                available: crate::stdlib::modules()
                    .map(|m| format!("std::{m}"))
                    .collect(),
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
            self.errors
                .push(CheckError::NoOutputs { span: p.name.span });
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
                self.error(CheckError::NotAllowedInBlock {
                    span: *span,
                    what: "input",
                });
            }
            Stmt::Param(ast::ParamDecl { span, .. }) => {
                self.error(CheckError::NotAllowedInBlock {
                    span: *span,
                    what: "param",
                });
            }
            Stmt::Output(ast::OutputStmt { span, .. }) => {
                self.error(CheckError::NotAllowedInBlock {
                    span: *span,
                    what: "output",
                });
            }
            Stmt::Const(d) => self.constant(d),
            Stmt::Let(d) => self.let_decl(d),
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

pub use literal::decimal;
pub use scope::suggest;
