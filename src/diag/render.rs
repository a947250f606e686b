//! Rendering diagnostics with ariadne, the only place that does.

use super::{Diagnostic, Severity, SourceMap};
use ariadne::{Color, Config, Label, Report, ReportKind};

/// Render diagnostics as text; `color` only when writing to a terminal.
pub fn render(sources: &SourceMap, diagnostics: &[Diagnostic], color: bool) -> String {
    let mut out = Vec::new();
    for d in diagnostics {
        render_one(sources, d, color, &mut out);
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn render_one(sources: &SourceMap, d: &Diagnostic, color: bool, out: &mut Vec<u8>) {
    let kind = match d.severity {
        Severity::Error => ReportKind::Error,
        Severity::Warning => ReportKind::Warning,
        Severity::Note => ReportKind::Advice,
    };
    let Some(primary) = d.primary_span() else {
        // No location: a plain message in the same style.
        let word = match d.severity {
            Severity::Error => "Error",
            Severity::Warning => "Warning",
            Severity::Note => "Advice",
        };
        out.extend_from_slice(format!("[{}] {word}: {}\n", d.code, d.message).as_bytes());
        if let Some(help) = &d.help {
            out.extend_from_slice(format!("  Help: {help}\n").as_bytes());
        }
        for note in &d.notes {
            out.extend_from_slice(format!("  Note: {note}\n").as_bytes());
        }
        return;
    };
    let primary_name = sources.name(primary.source).to_string();
    let mut report = Report::build(kind, (primary_name.clone(), primary.range()))
        .with_config(Config::default().with_color(color))
        .with_code(d.code)
        .with_message(&d.message);
    let colors = [Color::Red, Color::Blue, Color::Cyan, Color::Magenta];
    for (i, label) in d.labels.iter().enumerate() {
        let name = sources.name(label.span.source).to_string();
        let mut l = Label::new((name, label.span.range())).with_message(&label.message);
        if color {
            let c = if d.severity == Severity::Warning && i == 0 {
                Color::Yellow
            } else {
                colors[i % colors.len()]
            };
            l = l.with_color(c);
        }
        report = report.with_label(l.with_order(i as i32));
    }
    if let Some(help) = &d.help {
        report = report.with_help(help);
    }
    for note in &d.notes {
        report = report.with_note(note);
    }
    let cache = ariadne::sources(
        d.labels
            .iter()
            .map(|l| l.span.source)
            .chain(std::iter::once(primary.source))
            .map(|id| (sources.name(id).to_string(), sources.text(id).to_string()))
            .collect::<Vec<_>>(),
    );
    // Writing into a Vec cannot fail.
    let _ = report.finish().write(cache, &mut *out);
}
