//! One document, parsed and checked: the diagnostics to publish, the symbol
//! index, and the checked program of every pipeline (for hovers).

use super::symbols::{self, Symbols};
use crate::ast::{self, Item, LetTarget, Stmt};
use crate::diag::{Diagnostic, SourceMap};
use crate::ir::Program;
use crate::span::{SourceId, Span};
use crate::{CheckOptions, DataSource};

pub struct Analysis {
    pub sources: SourceMap,
    /// The document's id in `sources` (stdlib modules the checker loads get others).
    pub id: SourceId,
    pub file: Option<ast::File>,
    pub symbols: Symbols,
    /// The checked program of each pipeline: as written when it checks, else
    /// without the statements that have errors (see [`recover`]), for hovers.
    pub programs: Vec<Program>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses and checks `text`. A file with several pipelines has each checked
/// on its own (the command line asks for `--pipeline`; an editor shows all).
pub fn analyze(name: &str, text: &str, data: &dyn DataSource) -> Analysis {
    let mut sources = SourceMap::new();
    let id = sources.add(name, text);
    let file = match crate::parse(&sources, id) {
        Ok(f) => f,
        Err(diagnostics) => {
            return Analysis {
                sources,
                id,
                file: None,
                symbols: Symbols::default(),
                programs: vec![],
                diagnostics,
            }
        }
    };
    let symbols = symbols::index(&file);
    let pipelines: Vec<String> = file
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Pipeline(p) => Some(p.name.node.clone()),
            _ => None,
        })
        .collect();
    let several = pipelines.len() > 1;
    let runs: Vec<Option<String>> = if several {
        pipelines.into_iter().map(Some).collect()
    } else {
        vec![None]
    };
    let mut programs = vec![];
    let mut diagnostics: Vec<Diagnostic> = vec![];
    for pipeline in runs {
        let options = CheckOptions {
            pipeline: pipeline.clone(),
        };
        let found = match crate::check(&mut sources, &file, &options, data) {
            Ok(c) => {
                programs.push(c.program);
                c.diagnostics
            }
            Err(d) => {
                let name = pipeline.or_else(|| symbols.only_pipeline());
                if let Some(p) =
                    name.and_then(|n| recover(&mut sources, id, &file, &symbols, &n, several, data))
                {
                    programs.push(p);
                }
                d
            }
        };
        for d in found {
            // Blocks are checked again for every pipeline that uses them.
            if !diagnostics.contains(&d) {
                diagnostics.push(d);
            }
        }
    }
    Analysis {
        sources,
        id,
        file: Some(file),
        symbols,
        programs,
        diagnostics,
    }
}

impl Analysis {
    /// The checked program of the pipeline named `name`.
    pub fn program(&self, name: &str) -> Option<&Program> {
        self.programs.iter().find(|p| p.name == name)
    }
}

fn stmt_span(s: &Stmt) -> Span {
    match s {
        Stmt::Input(d) => d.span,
        Stmt::Param(d) => d.span,
        Stmt::Const(d) => d.span,
        Stmt::Let(d) => d.span,
        Stmt::Output(d) => d.span,
    }
}

fn holds(outer: Span, inner: Span) -> bool {
    outer.source == inner.source && outer.start <= inner.start && inner.end <= outer.end
}

/// The program of pipeline `name` without the statements that have errors,
/// so that hovers keep working on the rest of a file being edited. The
/// statements an error lies in are dropped (with those calling a block an
/// error lies in, and then those using what was dropped) until the rest
/// checks; every `let` left becomes an output, so nothing is unused. `None`
/// when nothing useful is left.
fn recover(
    sources: &mut SourceMap,
    id: SourceId,
    file: &ast::File,
    symbols: &Symbols,
    name: &str,
    several: bool,
    data: &dyn DataSource,
) -> Option<Program> {
    let index = file
        .items
        .iter()
        .position(|i| matches!(i, Item::Pipeline(p) if p.name.node == name))?;
    let Item::Pipeline(original) = &file.items[index] else {
        return None;
    };
    let mut body: Vec<Stmt> = original
        .body
        .iter()
        .filter(|s| !matches!(s, Stmt::Output(_)))
        .cloned()
        .collect();
    // Spans past the end of the text: the made-up output names.
    let end = sources.text(id).len();
    let options = CheckOptions {
        pipeline: several.then(|| name.to_string()),
    };
    for _ in 0..=original.body.len() {
        let names: Vec<ast::Ident> = body
            .iter()
            .filter_map(|s| match s {
                Stmt::Let(d) => Some(let_names(d)),
                Stmt::Input(d) => Some(vec![d.name.node.clone()]),
                _ => None,
            })
            .flatten()
            .enumerate()
            .map(|(i, n)| ast::Ident::new(n, Span::new(id, end + 1 + i, end + 2 + i)))
            .collect();
        if names.is_empty() {
            return None;
        }
        let mut pipeline = original.clone();
        pipeline.body = body.clone();
        pipeline.body.push(Stmt::Output(ast::OutputStmt {
            names: names.clone(),
            span: Span::new(id, end + 1, end + 1 + names.len()),
        }));
        let mut attempt = file.clone();
        attempt.items[index] = Item::Pipeline(pipeline);
        let errors = match crate::check(sources, &attempt, &options, data) {
            Ok(c) => return Some(c.program),
            Err(d) => d,
        };
        let before = body.len();
        for span in errors
            .iter()
            .filter(|d| d.is_error())
            .filter_map(|d| d.primary_span())
        {
            if span.source == id && span.start as usize > end {
                // An output that cannot be one (too wide): drop its statement.
                if let Some(n) = names.iter().find(|n| n.span == span) {
                    body.retain(|s| match s {
                        Stmt::Let(d) => !let_names(d).contains(&n.node),
                        Stmt::Input(d) => d.name.node != n.node,
                        _ => true,
                    });
                }
                continue;
            }
            // An error inside a block: drop the statements calling it.
            let block = block_holding(sources, symbols, id, span);
            body.retain(|s| {
                let s_span = stmt_span(s);
                let calls_block = block.as_ref().is_some_and(|b| {
                    symbols
                        .calls
                        .iter()
                        .any(|c| &c.func == b && holds(s_span, c.span))
                });
                !holds(s_span, span) && !calls_block
            });
        }
        if body.len() == before {
            return None;
        }
    }
    None
}

fn let_names(d: &ast::LetDecl) -> Vec<String> {
    match &d.target {
        LetTarget::Name(n) => vec![n.node.clone()],
        LetTarget::Tuple(ns) => ns.iter().map(|n| n.node.clone()).collect(),
    }
}

/// The name of the block (in the document or the stdlib) whose body holds `span`.
fn block_holding(
    sources: &SourceMap,
    symbols: &Symbols,
    id: SourceId,
    span: Span,
) -> Option<String> {
    if span.source == id {
        return symbols
            .defs
            .iter()
            .find(|d| d.kind == symbols::DefKind::Block && holds(d.decl, span))
            .map(|d| d.name.clone());
    }
    let module = sources.name(span.source);
    let text = crate::stdlib::module_source(module.strip_prefix("<std>/")?.strip_suffix(".cnn")?)?;
    let parsed = crate::syntax::parse(text, span.source).ok()?;
    parsed.items.iter().find_map(|i| match i {
        Item::Block(b) if holds(b.span, span) => Some(b.name.node.clone()),
        _ => None,
    })
}
