//! The session's script: what the user entered, kept as entries of source
//! text, and composed into one `.cnn` text that is parsed and checked as a
//! whole after every input (simple and always correct). Each entry remembers
//! its label (`[3]`, the input it came from) so that diagnostics can be shown
//! against what was typed.

use crate::ast::{File, Item, LetTarget, Stmt};
use crate::diag::{Diagnostic, SourceMap};
use crate::span::{SourceId, Span};

/// One piece of the session: a `use`, a `block`, or a pipeline statement.
#[derive(Clone, Debug)]
pub struct Entry {
    /// `[3]`: the input it was typed in.
    pub label: String,
    pub text: String,
    pub kind: Kind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Use,
    Block(String),
    /// A statement declaring these names.
    Decl(Vec<String>),
    Output,
}

#[derive(Clone, Debug, Default)]
pub struct Script {
    pub name: String,
    /// Comments written above a pasted or loaded pipeline.
    pub header: String,
    pub uses: Vec<Entry>,
    pub blocks: Vec<Entry>,
    pub stmts: Vec<Entry>,
}

/// The composed text and where each entry sits in it.
pub struct Composed {
    pub text: String,
    /// `(start, end, entry label, entry text)`.
    pub regions: Vec<(usize, usize, String, String)>,
}

impl Script {
    pub fn new() -> Self {
        Script {
            name: "session".into(),
            ..Default::default()
        }
    }

    pub fn has_output(&self) -> bool {
        self.stmts.iter().any(|e| e.kind == Kind::Output)
    }

    /// Every declared name, in order.
    pub fn names(&self) -> Vec<String> {
        let mut out = vec![];
        for e in &self.stmts {
            if let Kind::Decl(ns) = &e.kind {
                out.extend(ns.iter().cloned());
            }
        }
        for e in &self.blocks {
            if let Kind::Block(n) = &e.kind {
                out.push(n.clone());
            }
        }
        out
    }

    /// The last `let` (or the first input) name, to give a script without
    /// outputs something to check.
    fn probe_name(&self) -> Option<String> {
        let decl = |e: &Entry| match &e.kind {
            Kind::Decl(ns) => ns.first().cloned(),
            _ => None,
        };
        self.stmts
            .iter()
            .rev()
            .filter(|e| first_code(&e.text).starts_with("let"))
            .find_map(decl)
            .or_else(|| {
                self.stmts
                    .iter()
                    .filter(|e| first_code(&e.text).starts_with("input"))
                    .find_map(decl)
            })
            .or_else(|| self.stmts.iter().rev().find_map(decl))
    }

    /// Adds a statement, replacing the one that declared the same name (or,
    /// for `output`, the previous outputs) in place.
    pub fn put_stmt(&mut self, entry: Entry) {
        let kind = entry.kind.clone();
        let same = |e: &Entry| match (&e.kind, &kind) {
            (Kind::Output, Kind::Output) => true,
            (Kind::Decl(a), Kind::Decl(b)) => a.iter().any(|n| b.contains(n)),
            _ => false,
        };
        if let Some(i) = self.stmts.iter().position(same) {
            self.stmts[i] = entry;
            // A second statement declaring one of the names goes away too.
            let mut k = i + 1;
            while k < self.stmts.len() {
                if same(&self.stmts[k]) {
                    self.stmts.remove(k);
                } else {
                    k += 1;
                }
            }
        } else {
            self.stmts.push(entry);
        }
    }

    pub fn put_item(&mut self, entry: Entry) {
        match &entry.kind {
            Kind::Use => {
                if !self.uses.iter().any(|u| u.text.trim() == entry.text.trim()) {
                    self.uses.push(entry);
                }
            }
            Kind::Block(name) => {
                let name = name.clone();
                match self
                    .blocks
                    .iter()
                    .position(|b| b.kind == Kind::Block(name.clone()))
                {
                    Some(i) => self.blocks[i] = entry,
                    None => self.blocks.push(entry),
                }
            }
            _ => self.put_stmt(entry),
        }
    }

    /// The whole script as one `.cnn` text, with `extra` statements at the end
    /// of the pipeline and an `output` added when none was written (`probe`).
    pub fn compose(&self, extra: &[String], probe: bool) -> Composed {
        let mut text = String::new();
        let mut regions = vec![];
        let mut push = |text: &mut String, e: &Entry, indent: &str| {
            text.push_str(indent);
            let start = text.len();
            text.push_str(&e.text);
            regions.push((start, text.len(), e.label.clone(), e.text.clone()));
            text.push('\n');
        };
        for e in &self.uses {
            push(&mut text, e, "");
        }
        for e in &self.blocks {
            text.push('\n');
            push(&mut text, e, "");
        }
        if !self.header.is_empty() {
            text.push('\n');
            text.push_str(&self.header);
            text.push('\n');
        }
        text.push_str(&format!("pipeline {} {{\n", self.name));
        let mut group = None;
        for e in &self.stmts {
            // A blank line between inputs, declarations and stages, as in the examples.
            let g = stmt_group(&e.text);
            if group.is_some_and(|p| p != g) {
                text.push('\n');
            }
            group = Some(g);
            push(&mut text, e, "  ");
        }
        for x in extra {
            text.push_str("  ");
            text.push_str(x);
            text.push('\n');
        }
        if probe && !self.has_output() {
            let extra_name = extra.iter().find_map(|x| {
                x.strip_prefix("let ")
                    .and_then(|r| r.split_whitespace().next())
                    .map(str::to_string)
            });
            if let Some(n) = extra_name.or_else(|| self.probe_name()) {
                text.push_str(&format!("  output {n}\n"));
            }
        }
        text.push_str("}\n");
        Composed { text, regions }
    }

    /// The script for `:save`: no probe output, as typed (the caller formats it).
    pub fn source(&self) -> String {
        self.compose(&[], false).text
    }
}

/// Diagnostics about the composed text, moved onto the entries they point
/// into; `sources` gains one source per entry, named by its label.
pub fn remap(
    diagnostics: &[Diagnostic],
    sources: &mut SourceMap,
    script: SourceId,
    composed: &Composed,
) -> Vec<Diagnostic> {
    let mut ids: Vec<Option<SourceId>> = vec![None; composed.regions.len()];
    diagnostics
        .iter()
        .map(|d| {
            let mut d = d.clone();
            for l in &mut d.labels {
                if l.span.source != script {
                    continue;
                }
                let (s, e) = (l.span.start as usize, l.span.end as usize);
                let Some(k) = composed
                    .regions
                    .iter()
                    .position(|(a, b, _, _)| *a <= s && e <= *b)
                else {
                    continue;
                };
                let (a, _, label, text) = &composed.regions[k];
                let id = *ids[k].get_or_insert_with(|| sources.add(label.clone(), text.clone()));
                l.span = Span::new(id, s - a, e - a);
            }
            d
        })
        .collect()
}

/// Splits a parsed wrapper pipeline (or file) into entries: each statement
/// with the comments written above it and after it on its line.
pub fn entries_of(file: &File, text: &str, label: &str) -> Vec<Entry> {
    let mut out = vec![];
    for item in &file.items {
        match item {
            Item::Use(u) => out.push(Entry {
                label: label.into(),
                text: slice(text, u.span),
                kind: Kind::Use,
            }),
            Item::Block(b) => {
                let start = doc_start(text, b.span.start as usize);
                out.push(Entry {
                    label: label.into(),
                    text: text[start..b.span.end as usize].to_string(),
                    kind: Kind::Block(b.name.node.clone()),
                });
            }
            Item::Pipeline(p) => {
                let mut prev = text[..p.span.end as usize]
                    .find('{')
                    .map_or(p.span.start as usize, |i| i + 1);
                for s in &p.body {
                    let span = stmt_span(s);
                    let (start, end) = with_comments(text, prev, span);
                    prev = end;
                    out.push(Entry {
                        label: label.into(),
                        text: dedent(&text[start..end]),
                        kind: stmt_kind(s),
                    });
                }
            }
        }
    }
    out
}

/// The first line of an entry that is not a comment.
fn first_code(text: &str) -> &str {
    text.lines()
        .map(str::trim_start)
        .find(|l| !l.starts_with("//") && !l.is_empty())
        .unwrap_or("")
}

/// 0: `input`, 1: `param` / `const`, 2: `let` / `output` (after comments).
fn stmt_group(text: &str) -> u8 {
    let code = first_code(text);
    if code.starts_with("input") {
        0
    } else if code.starts_with("param") || code.starts_with("const") {
        1
    } else {
        2
    }
}

pub fn stmt_span(s: &Stmt) -> Span {
    match s {
        Stmt::Input(d) => d.span,
        Stmt::Param(d) => d.span,
        Stmt::Const(d) => d.span,
        Stmt::Let(d) => d.span,
        Stmt::Output(d) => d.span,
    }
}

pub fn stmt_kind(s: &Stmt) -> Kind {
    match s {
        Stmt::Input(d) => Kind::Decl(vec![d.name.node.clone()]),
        Stmt::Param(d) => Kind::Decl(vec![d.name.node.clone()]),
        Stmt::Const(d) => Kind::Decl(vec![d.name.node.clone()]),
        Stmt::Let(d) => match &d.target {
            LetTarget::Name(n) => Kind::Decl(vec![n.node.clone()]),
            LetTarget::Tuple(ns) => Kind::Decl(ns.iter().map(|n| n.node.clone()).collect()),
        },
        Stmt::Output(_) => Kind::Output,
    }
}

fn slice(text: &str, span: Span) -> String {
    text.get(span.range()).unwrap_or("").to_string()
}

/// The start of the `///` lines right above `start`.
fn doc_start(text: &str, start: usize) -> usize {
    let mut s = start;
    loop {
        let before = text[..s].trim_end_matches([' ', '\t']);
        let before = before.strip_suffix('\n').unwrap_or(before);
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        if before[line_start..].trim_start().starts_with("///") && line_start < s {
            s = line_start;
        } else {
            return s;
        }
    }
}

/// The statement with its own-line comments above (after `prev`) and a
/// comment trailing its last line.
fn with_comments(text: &str, prev: usize, span: Span) -> (usize, usize) {
    let (s, e) = (span.start as usize, span.end as usize);
    // Comments above: whole lines between the end of the previous line and `s`.
    let prev_line_end = text[prev..s].find('\n').map_or(s, |i| prev + i + 1);
    let start = if text[prev_line_end..s].trim().starts_with("//") {
        prev_line_end
    } else {
        s
    };
    let line_end = text[e..].find('\n').map_or(text.len(), |i| e + i);
    let end = if text[e..line_end].trim_start().starts_with("//") {
        line_end
    } else {
        e
    };
    (start, end)
}

/// Removes the common leading indentation of the lines after the first.
fn dedent(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    let indent = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    lines
        .iter()
        .map(|l| l.get(indent..).unwrap_or(l.trim_start()).trim_end())
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}
