//! The words of every diagnostic: each phase's error enum becomes a
//! [`Diagnostic`] here, and nowhere else; one file per phase. Errors that are
//! not diagnostics themselves (a `.npy` file's problem, a value that does not
//! convert, a cast that fails) are described here too, and their `Display`
//! impls delegate to these words.

mod check;
mod data;
mod files;
mod hls;
mod import;
mod jit;
mod parse;
mod runtime;
mod testing;
mod warnings;

pub use data::{npy_reason, value_reason};
pub use files::file_error;
pub use runtime::{cast_reason, fault_reason};

use super::codes::Code;
use super::{Diagnostic, Label, Severity};
use crate::check::RangeFact;
use crate::span::Span;

/// The note of every error that only a bug can cause.
const BUG: &str = "this is a bug in Convoy, not in your script: please report it";

fn error(code: Code, message: impl Into<String>) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        code: code.id,
        message: message.into(),
        labels: vec![],
        help: None,
        notes: vec![],
    }
}

fn note(code: Code, message: impl Into<String>) -> Diagnostic {
    Diagnostic {
        severity: Severity::Note,
        ..error(code, message)
    }
}

fn warning(code: Code, message: impl Into<String>) -> Diagnostic {
    Diagnostic {
        severity: Severity::Warning,
        ..error(code, message)
    }
}

impl Diagnostic {
    fn label(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }
}

fn dims(d: &[usize]) -> String {
    crate::notation::dims(d)
}

fn range(r: &RangeFact) -> String {
    format!(
        "[{}, {}]",
        crate::check::decimal(r.range.lo, r.frac),
        crate::check::decimal(r.range.hi, r.frac)
    )
}

fn list(items: &[impl AsRef<str>]) -> String {
    items
        .iter()
        .map(|s| format!("`{}`", s.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}
