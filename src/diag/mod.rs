//! Diagnostics as data. Each phase reports its own error enum (facts and spans,
//! no text); `messages` turns them into [`Diagnostic`]s and `render` prints
//! those with ariadne. Nothing else in the crate writes diagnostic text.

pub mod codes;
mod messages;
mod render;

pub use messages::{cast_reason, fault_reason, file_error, npy_reason, value_reason};
pub use render::render;

use crate::span::{SourceId, Span};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
    /// A fact worth knowing, e.g. the value a `const` really stores.
    Note,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// One message about the user's program, ready to render.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable short code, e.g. `E012`, for searching the docs: the `id` of
    /// one of [`codes::ALL`].
    pub code: &'static str,
    pub message: String,
    /// The first label is the primary location.
    pub labels: Vec<Label>,
    pub help: Option<String>,
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    pub fn primary_span(&self) -> Option<Span> {
        self.labels.first().map(|l| l.span)
    }
}

/// Anything that can be reported to the user.
pub trait Report {
    fn diagnostic(&self) -> Diagnostic;
}

/// The texts that spans point into: the user's file and any stdlib modules.
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    files: Vec<(String, String)>,
}

impl SourceMap {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> SourceId {
        self.files.push((name.into(), text.into()));
        SourceId((self.files.len() - 1) as u32)
    }

    pub fn name(&self, id: SourceId) -> &str {
        self.files.get(id.0 as usize).map_or("<unknown>", |f| &f.0)
    }

    pub fn text(&self, id: SourceId) -> &str {
        self.files.get(id.0 as usize).map_or("", |f| &f.1)
    }

    pub fn find(&self, name: &str) -> Option<SourceId> {
        self.files
            .iter()
            .position(|f| f.0 == name)
            .map(|i| SourceId(i as u32))
    }

    /// 1-based line and column of a byte offset.
    pub fn line_col(&self, id: SourceId, offset: usize) -> (usize, usize) {
        let text = self.text(id);
        let before = &text[..offset.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }
}
