//! `convoy fmt`: one canonical layout for `.cnn` files.
//!
//! The layout follows the examples: two-space indentation, the `=` of
//! consecutive `param` / `const` declarations aligned, and the `=` of
//! consecutive plain `let`s; trailing comments of consecutive one-line
//! statements in one column; a blank line kept where the source had one or
//! more. Statements longer than [`WIDTH`] break, pipes first (one `|>` stage
//! per line), then argument lists (one argument per line, trailing comma).
//!
//! Comments are recovered from the source by byte position (see `comments`):
//! a comment on a line of its own belongs to what follows it, a comment after
//! code trails that code. Redundant parentheses the user wrote are kept;
//! numbers keep their spelling; types are written as the checker writes them.
//! Formatting never changes the AST (modulo spans), and is idempotent.

mod comments;
mod doc;
mod expr;

use crate::ast::{File, Item, LetTarget, Stmt};
use comments::{blank_between, find_brace, newline_between, next_token, Comment};
use doc::{print, COMMENT_GAP};
use expr::{tensor_type, StmtPrinter};

/// Lines are kept within this many columns where a break allows it.
pub const WIDTH: usize = 100;
const INDENT: usize = 2;

/// Formats a parsed file; `text` is the source it was parsed from.
pub fn format_file(file: &File, text: &str) -> String {
    let comments = comments::scan(text);
    let f = Formatter {
        text,
        comments: &comments,
    };
    let children: Vec<Child> = file
        .items
        .iter()
        .map(|item| {
            let span = match item {
                Item::Use(u) => u.span,
                Item::Block(b) => b.span,
                Item::Pipeline(p) => p.span,
            };
            Child {
                start: span.start as usize,
                end: span.end as usize,
                what: What::Item(item),
            }
        })
        .collect();
    // `test` declarations are kept as written (their own tool owns their layout).
    let mut children = children;
    children.extend(file.tests.iter().map(|t| Child {
        start: t.span.start as usize,
        end: t.span.end as usize,
        what: What::Verbatim,
    }));
    children.sort_by_key(|c| c.start);
    let (_, rows) = f.body(&children, 0, text.len(), 0, true);
    let mut out = render_rows(&rows, 0);
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

struct Formatter<'a> {
    text: &'a str,
    comments: &'a [Comment],
}

#[derive(Clone, Copy)]
enum What<'a> {
    Item(&'a Item),
    Stmt(&'a Stmt),
    Return(&'a crate::ast::Expr),
    /// Copied from the source, trailing spaces removed.
    Verbatim,
}

struct Child<'a> {
    start: usize,
    end: usize,
    what: What<'a>,
}

enum Row {
    Blank,
    Comment(String),
    /// Code (its lines already indented) and the comments trailing its last line.
    Code {
        text: String,
        trailing: Vec<String>,
    },
}

/// What a child of a body is, for the alignment of `=`.
#[derive(PartialEq, Eq, Clone, Copy)]
enum AlignClass {
    Decl,
    PlainLet,
    Other,
}

impl<'a> Formatter<'a> {
    fn comments_in(&self, lo: usize, hi: usize) -> Vec<Comment> {
        self.comments
            .iter()
            .filter(|c| c.start >= lo && c.start < hi)
            .cloned()
            .collect()
    }

    /// Lays out `children` (non-overlapping, in order) found in `text[lo..hi]`.
    /// Returns the comments trailing the line that opened the body (a `{`) and
    /// the rows. At the top level (`top`), items are separated by blank lines
    /// except between `use`s.
    fn body(
        &self,
        children: &[Child],
        lo: usize,
        hi: usize,
        indent: usize,
        top: bool,
    ) -> (Vec<String>, Vec<Row>) {
        let inside = |c: &Comment| {
            children
                .iter()
                .any(|ch| c.start >= ch.start && c.start < ch.end)
        };
        let mut header_trailing = vec![];
        let mut trailing: Vec<Vec<String>> = vec![vec![]; children.len()];
        let mut trailing_end: Vec<usize> = children.iter().map(|c| c.end).collect();
        // (position, Some(child) or None for a comment line, comment text)
        let mut elements: Vec<(usize, usize, Option<usize>, String)> = vec![];
        for c in self.comments_in(lo, hi).iter().filter(|c| !inside(c)) {
            let prev = children.iter().rposition(|ch| ch.end <= c.start);
            match prev {
                Some(i) if !newline_between(self.text, children[i].end, c.start) => {
                    trailing[i].push(c.text.clone());
                    trailing_end[i] = c.end;
                }
                None if !top && !newline_between(self.text, lo, c.start) => {
                    header_trailing.push(c.text.clone());
                }
                _ => elements.push((c.start, c.end, None, c.text.clone())),
            }
        }
        for (i, ch) in children.iter().enumerate() {
            elements.push((ch.start, trailing_end[i], Some(i), String::new()));
        }
        elements.sort_by_key(|e| e.0);

        // Blank lines before each element, and the alignment runs they break.
        let mut blank = vec![false; elements.len()];
        let mut prev_end: Option<usize> = None;
        let mut prev_child: Option<usize> = None;
        for (k, (start, end, child, _)) in elements.iter().enumerate() {
            if let Some(p) = prev_end {
                blank[k] = blank_between(self.text, p, *start);
                if top && !blank[k] {
                    // Items stand apart, except a list of `use`s.
                    let first_of_entry = elements[k..]
                        .iter()
                        .find_map(|e| e.2)
                        .map(|i| children[i].what);
                    let is_use = |w: Option<What>| matches!(w, Some(What::Item(Item::Use(_))));
                    let prev_what = prev_child.map(|i| children[i].what);
                    let starts_entry = elements[k - 1].2.is_some();
                    if starts_entry
                        && prev_child.is_some()
                        && !(is_use(first_of_entry) && is_use(prev_what))
                    {
                        blank[k] = true;
                    }
                }
            }
            prev_end = Some(*end);
            if child.is_some() {
                prev_child = *child;
            }
        }
        let pads = self.pads(children, &elements, &blank);

        let mut rows = vec![];
        for (k, (_, _, child, comment)) in elements.iter().enumerate() {
            if blank[k] {
                rows.push(Row::Blank);
            }
            match child {
                None => rows.push(Row::Comment(comment.clone())),
                Some(i) => {
                    let (text, mut pending) = self.child(&children[*i], pads[*i], indent);
                    pending.extend(trailing[*i].iter().cloned());
                    rows.push(Row::Code {
                        text,
                        trailing: pending,
                    });
                }
            }
        }
        (header_trailing, rows)
    }

    /// The width each child's text before ` = ` is padded to (0: none).
    fn pads(
        &self,
        children: &[Child],
        elements: &[(usize, usize, Option<usize>, String)],
        blank: &[bool],
    ) -> Vec<usize> {
        let mut pads = vec![0; children.len()];
        let mut run: Vec<usize> = vec![];
        let mut run_class = AlignClass::Other;
        let flush = |run: &mut Vec<usize>, pads: &mut Vec<usize>| {
            let width = run
                .iter()
                .map(|&i| header(children[i].what).len())
                .max()
                .unwrap_or(0);
            for &i in run.iter() {
                pads[i] = width;
            }
            run.clear();
        };
        for (k, e) in elements.iter().enumerate() {
            if blank[k] {
                flush(&mut run, &mut pads);
            }
            let Some(i) = e.2 else { continue };
            let class = align_class(children[i].what);
            if class != run_class {
                flush(&mut run, &mut pads);
                run_class = class;
            }
            if class != AlignClass::Other {
                run.push(i);
            }
        }
        flush(&mut run, &mut pads);
        pads
    }

    /// One child's text (indented) and the comments left for its last line.
    fn child(&self, ch: &Child, pad: usize, indent: usize) -> (String, Vec<String>) {
        let interior = self.comments_in(ch.start, ch.end);
        match ch.what {
            What::Verbatim => {
                let lines: Vec<&str> = self.text[ch.start..ch.end]
                    .lines()
                    .map(str::trim_end)
                    .collect();
                (lines.join("\n"), vec![])
            }
            What::Stmt(s) => {
                let mut p = StmtPrinter::for_stmt(self.text, &interior, s);
                let head = format!("{:<pad$}", header(ch.what));
                let d = p.stmt(s, head);
                let printed = print(&d, indent, WIDTH);
                (printed.text, printed.pending)
            }
            What::Return(e) => {
                let mut p = StmtPrinter::for_return(self.text, &interior, e);
                let printed = print(&p.return_stmt(e), indent, WIDTH);
                (printed.text, printed.pending)
            }
            What::Item(Item::Use(u)) => {
                let mut p = StmtPrinter::for_plain(self.text, &interior);
                let path: Vec<&str> = u.path.iter().map(|i| i.node.as_str()).collect();
                let printed = print(&p.line(format!("use {}", path.join("::"))), indent, WIDTH);
                (printed.text, printed.pending)
            }
            What::Item(Item::Pipeline(pl)) => {
                let brace = find_brace(self.text, pl.name.span.end as usize).unwrap_or(ch.end);
                let mut p = StmtPrinter::for_plain(self.text, &self.comments_in(ch.start, brace));
                let head = print(
                    &p.line(format!("pipeline {} {{", pl.name.node)),
                    indent,
                    WIDTH,
                );
                let children: Vec<Child> = pl.body.iter().map(|s| stmt_child(s)).collect();
                self.braced(
                    head.text,
                    head.pending,
                    &children,
                    brace + 1,
                    ch.end.saturating_sub(1),
                    indent,
                )
            }
            What::Item(Item::Block(b)) => {
                let after_params = b
                    .params
                    .last()
                    .map(|p| p.default.as_ref().map_or(p.name.span.end, |d| d.span.end))
                    .unwrap_or(b.name.span.end) as usize;
                let brace = find_brace(self.text, after_params).unwrap_or(ch.end);
                let mut p =
                    StmtPrinter::for_block_header(self.text, &self.comments_in(ch.start, brace), b);
                let head = print(&p.block_header(b), indent, WIDTH);
                let mut children: Vec<Child> = b.body.iter().map(stmt_child).collect();
                let prev = children.last().map_or(brace + 1, |c| c.end);
                children.push(Child {
                    start: next_token(self.text, prev).min(b.result.span.start as usize),
                    end: b.result.span.end as usize,
                    what: What::Return(&b.result),
                });
                self.braced(
                    head.text,
                    head.pending,
                    &children,
                    brace + 1,
                    ch.end.saturating_sub(1),
                    indent,
                )
            }
        }
    }

    /// `header {`, the body one level deeper, `}`.
    fn braced(
        &self,
        head: String,
        mut head_comments: Vec<String>,
        children: &[Child],
        lo: usize,
        hi: usize,
        indent: usize,
    ) -> (String, Vec<String>) {
        let (trailing, rows) = self.body(children, lo, hi, indent + INDENT, false);
        head_comments.extend(trailing);
        let mut out = with_comments(head, &head_comments);
        let body = render_rows(&rows, indent + INDENT);
        if !body.is_empty() {
            out.push('\n');
            out.push_str(&body);
        }
        out.push('\n');
        out.push_str(&" ".repeat(indent));
        out.push('}');
        (out, vec![])
    }
}

fn stmt_child(s: &Stmt) -> Child<'_> {
    let span = match s {
        Stmt::Input(d) => d.span,
        Stmt::Param(d) => d.span,
        Stmt::Const(d) => d.span,
        Stmt::Let(d) => d.span,
        Stmt::Output(d) => d.span,
    };
    Child {
        start: span.start as usize,
        end: span.end as usize,
        what: What::Stmt(s),
    }
}

fn align_class(w: What) -> AlignClass {
    match w {
        What::Stmt(Stmt::Param(_) | Stmt::Const(_)) => AlignClass::Decl,
        What::Stmt(Stmt::Let(l)) if l.ty.is_none() && matches!(l.target, LetTarget::Name(_)) => {
            AlignClass::PlainLet
        }
        _ => AlignClass::Other,
    }
}

/// A statement's text before its ` = ` (the whole statement when it has none).
fn header(w: What) -> String {
    let What::Stmt(s) = w else {
        return String::new();
    };
    match s {
        Stmt::Input(d) => format!("input {}: {}", d.name.node, tensor_type(&d.ty)),
        Stmt::Param(d) => format!("param {}: {}", d.name.node, tensor_type(&d.ty)),
        Stmt::Const(d) => format!("const {}: {}", d.name.node, tensor_type(&d.ty)),
        Stmt::Let(l) => {
            let target = match &l.target {
                LetTarget::Name(n) => n.node.clone(),
                LetTarget::Tuple(ns) => format!(
                    "({})",
                    ns.iter()
                        .map(|n| n.node.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            match &l.ty {
                Some(t) => format!("let {target}: {}", tensor_type(t)),
                None => format!("let {target}"),
            }
        }
        Stmt::Output(o) => format!(
            "output {}",
            o.names
                .iter()
                .map(|n| n.node.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn with_comments(mut code: String, comments: &[String]) -> String {
    if !comments.is_empty() {
        while code.ends_with(' ') {
            code.pop();
        }
        code.push_str(&" ".repeat(COMMENT_GAP));
        code.push_str(&comments.join(" "));
    }
    code
}

/// Rows as text: comments trailing consecutive one-line statements share a column.
fn render_rows(rows: &[Row], indent: usize) -> String {
    let mut lines: Vec<String> = vec![];
    let mut k = 0;
    while k < rows.len() {
        match &rows[k] {
            Row::Blank => lines.push(String::new()),
            Row::Comment(c) => lines.push(format!("{}{c}", " ".repeat(indent))),
            Row::Code { text, trailing } => {
                let aligned = |r: &Row| matches!(r, Row::Code { text, trailing } if !trailing.is_empty() && !text.contains('\n'));
                if aligned(&rows[k]) {
                    let mut end = k;
                    while end < rows.len() && aligned(&rows[end]) {
                        end += 1;
                    }
                    let col = rows[k..end]
                        .iter()
                        .map(|r| match r {
                            Row::Code { text, .. } => text.trim_end().chars().count(),
                            _ => 0,
                        })
                        .max()
                        .unwrap_or(0);
                    for r in &rows[k..end] {
                        if let Row::Code { text, trailing } = r {
                            let t = text.trim_end();
                            let pad = col - t.chars().count() + COMMENT_GAP;
                            lines.push(format!("{t}{}{}", " ".repeat(pad), trailing.join(" ")));
                        }
                    }
                    k = end;
                    continue;
                }
                lines.push(with_comments(text.clone(), trailing));
            }
        }
        k += 1;
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests;
