//! Convoy: a language and toolchain for fixed-point CNN layer pipelines.
//!
//! One function per phase: [`parse`] (source -> AST), [`check`] (AST -> checked
//! [`ir::Program`] with shapes and exact ranges), [`interpret`] (the executable
//! specification). The core does no file or terminal IO: callers hand in the
//! source text and a [`DataSource`] for `load(...)`; diagnostics come back as
//! data and are rendered by [`diag::render`].

// The core reports errors as data; it never unwraps (tests may, see clippy.toml).
#![deny(clippy::unwrap_used)]
// Every `unsafe` lives in `jit::machine` (see ARCHITECTURE.md).
#![deny(unsafe_code)]

pub mod ast;
pub mod builtins;
pub mod check;
pub mod data;
pub mod diag;
pub mod fmt;
pub mod graph;
pub mod hls;
pub mod import;
pub mod interp;
pub mod ir;
pub mod jit;
pub mod lsp;
pub mod notation;
pub mod numeric;
pub mod repl;
pub mod run;
pub mod span;
pub mod stdlib;
pub mod syntax;
pub mod tensor;
pub mod testing;
pub mod types;

pub use check::{CheckOptions, DataSource, NoFiles};
pub use diag::{Diagnostic, Severity, SourceMap};
pub use hls::{HlsOptions, Project as HlsProject};
pub use interp::{interpret, interpret_all, RunError};
pub use jit::{compile as compile_jit, CompiledPipeline, ExecError, Isa, JitError, JitOptions};
pub use tensor::Tensor;

use diag::Report;
use span::SourceId;

/// Source -> AST.
pub fn parse(sources: &SourceMap, id: SourceId) -> Result<ast::File, Vec<Diagnostic>> {
    syntax::parse(sources.text(id), id)
        .map_err(|errs| errs.iter().map(|e| e.diagnostic()).collect())
}

/// A checked program and the warnings and notes found on the way.
#[derive(Clone, Debug)]
pub struct Checked {
    pub program: ir::Program,
    pub diagnostics: Vec<Diagnostic>,
}

/// AST -> checked program. On failure, every error (and warning) found.
pub fn check(
    sources: &mut SourceMap,
    file: &ast::File,
    options: &CheckOptions,
    data: &dyn DataSource,
) -> Result<Checked, Vec<Diagnostic>> {
    let dedup = |mut d: Vec<Diagnostic>| {
        let mut seen = Vec::new();
        d.retain(|x| {
            let key = (x.code, x.primary_span(), x.message.clone());
            let new = !seen.contains(&key);
            seen.push(key);
            new
        });
        d
    };
    match check::check(sources, file, options, data) {
        Ok(c) => {
            // The backends rely on the IR's invariants without looking; a
            // checker bug should stop here, where it happens (debug builds,
            // so every test), not as a wrong value in a backend.
            debug_assert_eq!(
                c.program.verify(),
                Ok(()),
                "the checker broke an IR invariant"
            );
            Ok(Checked {
                program: c.program,
                diagnostics: dedup(c.warnings.iter().map(|w| w.diagnostic()).collect()),
            })
        }
        Err(f) => Err(dedup(
            f.errors
                .iter()
                .map(|e| e.diagnostic())
                .chain(f.warnings.iter().map(|w| w.diagnostic()))
                .collect(),
        )),
    }
}

/// Parse and check the source `id` in one step.
pub fn compile(
    sources: &mut SourceMap,
    id: SourceId,
    options: &CheckOptions,
    data: &dyn DataSource,
) -> Result<Checked, Vec<Diagnostic>> {
    let file = parse(sources, id)?;
    check(sources, &file, options, data)
}

/// Checked program -> HLS C++ project (files as `(relative path, text)`).
/// On failure, one diagnostic at the offending stage; nothing is produced.
pub fn emit_hls(program: &ir::Program, options: &HlsOptions) -> Result<HlsProject, Diagnostic> {
    hls::emit(program, options).map_err(|e| e.diagnostic())
}

/// Source -> the same program in Convoy's canonical layout (comments kept).
pub fn format(sources: &SourceMap, id: SourceId) -> Result<String, Vec<Diagnostic>> {
    let file = parse(sources, id)?;
    Ok(fmt::format_file(&file, sources.text(id)))
}
