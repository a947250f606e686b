//! The text of a failed expectation, as `convoy test` prints it under
//! `failures:` (like a panic message under cargo's test runner).

use super::execute::Failure;
use crate::ast::OverflowKind;
use crate::diag::SourceMap;

/// `file:line:column` of a span.
fn place(sources: &SourceMap, span: crate::span::Span) -> String {
    let (line, col) = sources.line_col(span.source, span.start as usize);
    format!("{}:{line}:{col}", sources.name(span.source))
}

pub fn render(failure: &Failure, sources: &SourceMap) -> String {
    match failure {
        Failure::Run(d) => {
            let mut s = format!("the run failed: [{}] {}\n", d.code, d.message);
            if let Some(span) = d.primary_span() {
                s.push_str(&format!("  at {}\n", place(sources, span)));
            }
            s
        }
        Failure::BackendsDisagree { output, diff } => format!(
            "the JIT and the interpreter disagree on `{output}` (interpreter -> JIT):\n{}",
            diff.render("  ")
        ),
        Failure::Golden { name, path, diff } => format!(
            "`{name}` differs from {path} (golden -> computed):\n{}",
            diff.render("  ")
        ),
        Failure::NotFits {
            name,
            ty,
            range,
            proven,
            reason,
        } => format!(
            "`{name}` does not fit {ty}: {reason}\n  proven range [{}, {}], type {proven}\n",
            range.0, range.1
        ),
        Failure::Overflow { kind, span, events } => {
            let word = match kind {
                OverflowKind::Sat => "saturating",
                OverflowKind::Wrap => "wrapping",
            };
            let mut s = format!(
                "expected no {word} cast to change a value ({}), but {} did:\n",
                place(sources, *span),
                if events.len() == 1 {
                    "one".to_string()
                } else {
                    events.len().to_string()
                }
            );
            for e in events {
                s.push_str(&format!(
                    "  `{}` in `{}` at {}: {} of {} values; first at {}: {} became {}\n",
                    e.label,
                    e.owner,
                    place(sources, e.span),
                    e.count,
                    e.total,
                    crate::notation::dims(&e.first_index),
                    e.before,
                    e.after
                ));
            }
            s
        }
    }
}
