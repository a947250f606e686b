//! Diagnostics as Python data, and the one exception the native module raises.

use crate::Failure;
use convoy::diag::{self, Diagnostic, Severity, SourceMap};
use pyo3::prelude::*;
use pyo3::types::PyDict;

pub fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// One diagnostic as a dict: code, severity, message, help, notes, span
/// (file, byte start and end, 1-based line and column) and its rendering
/// without colour.
pub fn diagnostic_dict<'py>(
    py: Python<'py>,
    sources: &SourceMap,
    d: &Diagnostic,
) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    out.set_item("code", d.code)?;
    let severity = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    };
    out.set_item("severity", severity)?;
    out.set_item("message", &d.message)?;
    out.set_item("help", &d.help)?;
    out.set_item("notes", &d.notes)?;
    match d.primary_span() {
        Some(span) => {
            let (line, column) = sources.line_col(span.source, span.start as usize);
            let s = PyDict::new(py);
            s.set_item("file", sources.name(span.source))?;
            s.set_item("start", span.start)?;
            s.set_item("end", span.end)?;
            s.set_item("line", line)?;
            s.set_item("column", column)?;
            out.set_item("span", s)?;
        }
        None => out.set_item("span", py.None())?,
    }
    out.set_item(
        "rendered",
        diag::render(sources, std::slice::from_ref(d), false),
    )?;
    Ok(out)
}

/// `Failure(kind, rendered message, [diagnostic dicts])`.
pub fn failure(kind: &str, sources: &SourceMap, diagnostics: &[Diagnostic]) -> PyErr {
    let message = diag::render(sources, diagnostics, false);
    Python::attach(|py| {
        let dicts: PyResult<Vec<Py<PyDict>>> = diagnostics
            .iter()
            .map(|d| diagnostic_dict(py, sources, d).map(Bound::unbind))
            .collect();
        match dicts {
            Ok(dicts) => {
                Failure::new_err((kind.to_string(), message.trim_end().to_string(), dicts))
            }
            Err(e) => e,
        }
    })
}
