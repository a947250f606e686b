//! The checker's diagnostics as LSP diagnostics: byte spans become UTF-16
//! ranges, the first label is the range, the other labels are related
//! information, help and notes follow the message.
//!
//! An error inside a standard-library block (arguments of the wrong shape,
//! say) has its span in the module, not in the document: it is shown on the
//! call of that block in the document, with the module's line as related
//! information.

use super::analysis::Analysis;
use super::position::LineIndex;
use super::stdlib::StdLib;
use crate::diag::{self, Severity};
use crate::span::Span;
use lsp_types::{
    Diagnostic, DiagnosticRelatedInformation, DiagnosticSeverity, DiagnosticTag, Location,
    NumberOrString, Range, Uri,
};

/// Where spans of one analysis are, in editor terms.
pub struct Locator<'a> {
    pub analysis: &'a Analysis,
    pub uri: &'a Uri,
    pub index: &'a LineIndex,
    pub std: &'a StdLib,
}

impl Locator<'_> {
    /// The location of a span of any source the checker saw.
    pub fn location(&self, span: Span) -> Option<Location> {
        if span.source == self.analysis.id {
            return Some(Location::new(
                self.uri.clone(),
                self.index.range(span.range()),
            ));
        }
        self.std
            .by_source_name(self.analysis.sources.name(span.source))?
            .location(span)
    }

    /// The document range for a span elsewhere: the call of the stdlib block
    /// holding it, else the `use` that brought the module in. Also returns the
    /// block's name.
    fn fallback(&self, span: Span) -> (Range, Option<String>) {
        let syms = &self.analysis.symbols;
        let module = self
            .std
            .by_source_name(self.analysis.sources.name(span.source));
        let block = module.and_then(|m| {
            m.blocks()
                .find(|b| b.span.start <= span.start && span.end <= b.span.end)
        });
        if let Some(b) = block {
            if let Some(call) = syms.calls.iter().find(|c| c.func == b.name.node) {
                return (
                    self.index.range(call.span.range()),
                    Some(b.name.node.clone()),
                );
            }
        }
        let use_span = module.and_then(|m| {
            syms.uses
                .iter()
                .find(|(path, _)| path.get(1).map(String::as_str) == Some(m.name))
                .map(|(_, s)| *s)
        });
        let range = use_span.map_or_else(Range::default, |s| self.index.range(s.range()));
        (range, block.map(|b| b.name.node.clone()))
    }

    pub fn diagnostic(&self, d: &diag::Diagnostic) -> Diagnostic {
        let primary = d.primary_span();
        let mut message = d.message.clone();
        let mut related = vec![];
        let range = match primary {
            Some(span) if span.source == self.analysis.id => self.index.range(span.range()),
            Some(span) => {
                let (range, block) = self.fallback(span);
                if let Some(b) = block {
                    let calls = self
                        .analysis
                        .symbols
                        .calls
                        .iter()
                        .filter(|c| c.func == b)
                        .count();
                    message = if calls > 1 {
                        format!("in one of the {calls} calls of `{b}`: {message}")
                    } else {
                        format!("in `{b}`: {message}")
                    };
                }
                range
            }
            None => Range::default(),
        };
        if let Some(first) = d.labels.first() {
            if !first.message.is_empty() {
                message.push_str(&format!("\n{}", first.message));
            }
        }
        for (i, label) in d.labels.iter().enumerate() {
            // The primary label is the range itself, unless it lies elsewhere.
            let elsewhere = label.span.source != self.analysis.id;
            if i == 0 && !elsewhere {
                continue;
            }
            if let Some(location) = self.location(label.span) {
                let text = if label.message.is_empty() {
                    "here".to_string()
                } else {
                    label.message.clone()
                };
                related.push(DiagnosticRelatedInformation {
                    location,
                    message: text,
                });
            }
        }
        if let Some(help) = &d.help {
            message.push_str(&format!("\nhelp: {help}"));
        }
        for note in &d.notes {
            message.push_str(&format!("\nnote: {note}"));
        }
        Diagnostic {
            range,
            severity: Some(match d.severity {
                Severity::Error => DiagnosticSeverity::ERROR,
                Severity::Warning => DiagnosticSeverity::WARNING,
                Severity::Note => DiagnosticSeverity::INFORMATION,
            }),
            code: Some(NumberOrString::String(d.code.to_string())),
            code_description: None,
            source: Some("convoy".into()),
            message,
            related_information: (!related.is_empty()).then_some(related),
            // W001: a declaration never used; editors grey it out.
            tags: (d.code == "W001").then(|| vec![DiagnosticTag::UNNECESSARY]),
            data: None,
        }
    }

    pub fn all(&self) -> Vec<Diagnostic> {
        self.analysis
            .diagnostics
            .iter()
            .map(|d| self.diagnostic(d))
            .collect()
    }
}
