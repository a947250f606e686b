//! A small Wadler / Prettier style document printer: a statement is built as
//! a [`Doc`] of texts, break opportunities and groups, and the printer picks
//! for every group either one line or one line per break, whichever fits.

/// Spaces a comment keeps from the code it trails.
pub const COMMENT_GAP: usize = 3;

#[derive(Clone, Debug)]
pub enum Doc {
    Text(String),
    /// A space when the enclosing group is flat, a line break when it is broken.
    Line,
    /// Nothing when flat, a line break when broken.
    SoftLine,
    /// Always a line break; the enclosing groups break.
    HardLine,
    /// Text written only when the enclosing group is broken (a trailing comma).
    IfBreak(&'static str),
    Group(Vec<Doc>),
    /// Lines inside are indented two more spaces.
    Indent(Vec<Doc>),
    Concat(Vec<Doc>),
    /// A comment to write at the end of the current line. It does not take
    /// part in layout decisions, so a trailing comment never moves a break
    /// (which keeps formatting idempotent).
    LineSuffix(String),
}

pub fn text(s: impl Into<String>) -> Doc {
    Doc::Text(s.into())
}

impl Doc {
    /// Whether the doc contains something that forces its groups to break.
    fn forces_break(&self) -> bool {
        match self {
            Doc::HardLine => true,
            Doc::Group(ds) | Doc::Indent(ds) | Doc::Concat(ds) => ds.iter().any(Doc::forces_break),
            _ => false,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Flat,
    Break,
}

/// The printed text (lines joined by `\n`, the first line starting with
/// `indent` spaces) and the comments still waiting for the end of the last line.
pub struct Printed {
    pub text: String,
    pub pending: Vec<String>,
}

/// Prints `doc` at `indent` within `width` columns.
pub fn print(doc: &Doc, indent: usize, width: usize) -> Printed {
    let mut out = " ".repeat(indent);
    let mut col = indent;
    let mut pending: Vec<String> = vec![];
    let mut stack: Vec<(usize, Mode, &Doc)> = vec![(indent, Mode::Break, doc)];
    while let Some((ind, mode, d)) = stack.pop() {
        match d {
            Doc::Text(s) => {
                out.push_str(s);
                col += s.chars().count();
            }
            Doc::Line | Doc::SoftLine if mode == Mode::Flat => {
                if matches!(d, Doc::Line) {
                    out.push(' ');
                    col += 1;
                }
            }
            Doc::Line | Doc::SoftLine | Doc::HardLine => {
                newline(&mut out, &mut pending, ind);
                col = ind;
            }
            Doc::IfBreak(s) => {
                if mode == Mode::Break {
                    out.push_str(s);
                    col += s.len();
                }
            }
            Doc::Group(ds) => {
                let flat = mode == Mode::Flat
                    || (!d.forces_break() && fits(d, width.saturating_sub(col), &stack));
                let m = if flat { Mode::Flat } else { Mode::Break };
                stack.extend(ds.iter().rev().map(|x| (ind, m, x)));
            }
            Doc::Indent(ds) => stack.extend(ds.iter().rev().map(|x| (ind + 2, mode, x))),
            Doc::Concat(ds) => stack.extend(ds.iter().rev().map(|x| (ind, mode, x))),
            Doc::LineSuffix(s) => pending.push(s.clone()),
        }
    }
    trim_end_spaces(&mut out);
    Printed { text: out, pending }
}

fn trim_end_spaces(out: &mut String) {
    while out.ends_with(' ') {
        out.pop();
    }
}

fn newline(out: &mut String, pending: &mut Vec<String>, indent: usize) {
    trim_end_spaces(out);
    if !pending.is_empty() {
        out.push_str(&" ".repeat(COMMENT_GAP));
        out.push_str(&pending.join(" "));
        pending.clear();
    }
    out.push('\n');
    out.push_str(&" ".repeat(indent));
}

/// Whether `group` fits flat in `room` columns, together with what follows it
/// on the same line (up to the next break in `rest`).
fn fits(group: &Doc, room: usize, rest: &[(usize, Mode, &Doc)]) -> bool {
    let mut room = room as isize;
    let mut work: Vec<(Mode, &Doc)> = vec![(Mode::Flat, group)];
    let mut rest_idx = rest.len();
    loop {
        let Some((mode, d)) = work.pop() else {
            if rest_idx == 0 {
                return true;
            }
            rest_idx -= 1;
            let (_, m, d) = rest[rest_idx];
            work.push((m, d));
            continue;
        };
        match d {
            Doc::Text(s) => room -= s.chars().count() as isize,
            Doc::Line if mode == Mode::Flat => room -= 1,
            Doc::SoftLine if mode == Mode::Flat => {}
            Doc::Line | Doc::SoftLine | Doc::HardLine => return true,
            Doc::IfBreak(s) => {
                if mode == Mode::Break {
                    room -= s.len() as isize;
                }
            }
            Doc::Group(ds) => {
                let m = if mode == Mode::Break && d.forces_break() {
                    Mode::Break
                } else {
                    mode
                };
                work.extend(ds.iter().rev().map(|x| (m, x)));
            }
            Doc::Indent(ds) | Doc::Concat(ds) => work.extend(ds.iter().rev().map(|x| (mode, x))),
            Doc::LineSuffix(_) => {}
        }
        if room < 0 {
            return false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: &[&str]) -> Doc {
        let mut inner = vec![Doc::SoftLine];
        for (i, a) in args.iter().enumerate() {
            if i > 0 {
                inner.push(text(","));
                inner.push(Doc::Line);
            }
            inner.push(text(*a));
        }
        inner.push(Doc::IfBreak(","));
        Doc::Group(vec![
            text(format!("{name}(")),
            Doc::Indent(inner),
            Doc::SoftLine,
            text(")"),
        ])
    }

    #[test]
    fn a_group_breaks_only_when_it_does_not_fit() {
        let d = call("f", &["aaaa", "bbbb"]);
        assert_eq!(print(&d, 0, 40).text, "f(aaaa, bbbb)");
        assert_eq!(print(&d, 0, 10).text, "f(\n  aaaa,\n  bbbb,\n)");
    }

    #[test]
    fn a_line_suffix_waits_for_the_line_end() {
        let d = Doc::Group(vec![
            text("f("),
            Doc::Indent(vec![
                Doc::SoftLine,
                text("a"),
                Doc::LineSuffix("// c".into()),
                text(","),
                Doc::Line,
                text("b"),
                Doc::IfBreak(","),
            ]),
            Doc::SoftLine,
            text(")"),
        ]);
        let p = print(&d, 2, 8);
        assert_eq!(p.text, "  f(\n    a,   // c\n    b,\n  )");
        assert!(p.pending.is_empty());
        let p = print(&d, 2, 80);
        assert_eq!(p.text, "  f(a, b)");
        assert_eq!(p.pending, vec!["// c".to_string()]);
    }
}
