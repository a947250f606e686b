//! The `convoy repl` session, pure: lines in, text out. The terminal front
//! end (history, completion, prompts) is `cli/repl_cmd.rs`; files are read
//! and written through [`ReplIo`], so the session does no IO of its own.
//!
//! Every accepted input is added to a script (see `script`), and the whole
//! script is parsed and checked again after each input: an input that makes
//! it fail is reported and dropped, and the session goes on. A declaration of
//! a name that exists replaces the old one in place, so re-typing
//! `const factor: fixed<32, 1> = 0.002` changes the factor of every stage
//! that uses it.

mod commands;
mod script;
mod view;

use crate::check::CheckOptions;
use crate::diag::{render, Diagnostic, SourceMap};
use crate::ir::Program;
use crate::span::{SourceId, Span};
use crate::tensor::Tensor;
use crate::DataSource;
use script::{entries_of, remap, Entry, Kind, Script};

/// Files for `:load`, `:save`, `:input` and `load("...")`, provided by the caller.
pub trait ReplIo {
    fn read(&self, path: &str) -> Result<Vec<u8>, String>;
    fn write(&self, path: &str, bytes: &[u8]) -> Result<(), String>;
}

/// The answer to one line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reply {
    pub text: String,
    /// `:quit` was asked for.
    pub quit: bool,
}

/// Keywords, modes and initializers, for completion; [`completion_words`]
/// adds the built-in stages, their parameters and words.
pub const WORDS: &[&str] = &[
    "input", "param", "const", "let", "output", "use", "block", "return", "pipeline", "as", "sat",
    "wrap", "sat_zero", "sat_sym", "load", "random", "seed", "fixed", "ufixed",
];

/// Every word the session completes: [`WORDS`] and, from the table of
/// built-ins, the stages, their named parameters and their words.
pub fn completion_words() -> Vec<&'static str> {
    let builtins = crate::builtins::BUILTINS.iter().flat_map(|b| {
        let named = b.params.iter().filter(|p| !p.required()).map(|p| p.name);
        std::iter::once(b.name).chain(named)
    });
    let words = crate::builtins::words().into_iter().map(|w| w.word);
    let mut out: Vec<&'static str> = WORDS.iter().copied().chain(builtins).chain(words).collect();
    out.sort_unstable();
    out.dedup();
    out
}

pub const COMMANDS: &[(&str, &str)] = &[
    (
        ":type EXPR",
        "shape, exact range and type of an expression, without running it",
    ),
    (
        ":ranges",
        "the stage table of the session: shape, storage, range, type, MACs",
    ),
    (
        ":run",
        "run the pipeline (random inputs unless set with :input) and count overflows",
    ),
    (
        ":input NAME=PATH.npy",
        "use a file for an input (`:input NAME=random` to undo)",
    ),
    (":seed N", "the seed of the random inputs"),
    (":load FILE", "replace the session with a script"),
    (":reload", "load the last script again"),
    (":save FILE", "write the session as a formatted .cnn"),
    (
        ":emit hls [STAGE]",
        "the HLS C++ of the pipeline, or of one stage",
    ),
    (":bench", "time the pipeline"),
    (":show", "the session as a script"),
    (":clear", "forget everything"),
    (":help", "this list"),
    (":quit", "leave"),
];

pub struct Session<'io> {
    io: &'io dyn ReplIo,
    script: Script,
    /// Lines of an input whose braces or parentheses are still open.
    buffer: String,
    /// Comment lines typed since the last input, for the next declaration.
    comments: String,
    count: usize,
    /// Folder `load("...")` paths are relative to (that of the loaded file).
    dir: String,
    loaded: Option<String>,
    /// `:input NAME=PATH` files.
    inputs: Vec<(String, String)>,
    seed: u64,
    color: bool,
}

/// A checked session and the sources its diagnostics point into.
struct CheckedSession {
    program: Program,
    sources: SourceMap,
    warnings: Vec<Diagnostic>,
}

struct Files<'a> {
    io: &'a dyn ReplIo,
    dir: &'a str,
}

impl DataSource for Files<'_> {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        self.io.read(&join(self.dir, path))
    }
}

fn join(dir: &str, path: &str) -> String {
    if dir.is_empty() || path.starts_with('/') {
        path.to_string()
    } else {
        format!("{}/{path}", dir.trim_end_matches('/'))
    }
}

impl<'io> Session<'io> {
    pub fn new(io: &'io dyn ReplIo) -> Self {
        Session {
            io,
            script: Script::new(),
            buffer: String::new(),
            comments: String::new(),
            count: 0,
            dir: String::new(),
            loaded: None,
            inputs: vec![],
            seed: 1,
            color: false,
        }
    }

    /// Colour in diagnostics (for a terminal).
    pub fn set_color(&mut self, color: bool) {
        self.color = color;
    }

    /// Whether the last line left braces or parentheses open.
    pub fn pending(&self) -> bool {
        !self.buffer.is_empty()
    }

    /// Names the user declared, for completion.
    pub fn names(&self) -> Vec<String> {
        self.script.names()
    }

    /// One line typed by the user.
    pub fn line(&mut self, line: &str) -> Reply {
        if !self.buffer.is_empty() && line.trim_start().starts_with(':') {
            // A command ends an unfinished input: say what was dropped.
            let dropped = self.finish();
            let mut r = self.line(line);
            r.text = format!("{dropped}{}", r.text);
            return r;
        }
        if self.buffer.is_empty() {
            let t = line.trim();
            if t.is_empty() {
                return Reply::default();
            }
            if t.starts_with("//") {
                // Kept for the next declaration (and `:save`), not an input of its own.
                self.comments.push_str(t);
                self.comments.push('\n');
                return Reply::default();
            }
            if t.starts_with(':') {
                self.comments.clear();
                return self.command(t);
            }
            let comments = std::mem::take(&mut self.comments);
            self.buffer.push_str(&comments);
        }
        self.buffer.push_str(line);
        self.buffer.push('\n');
        if depth(&self.buffer) > 0 {
            return Reply::default();
        }
        let text = std::mem::take(&mut self.buffer);
        Reply {
            text: self.entry(text.trim_end()),
            quit: false,
        }
    }

    /// Drops an unfinished input (the end of the input came with braces or
    /// parentheses open) and says what is wrong with it.
    pub fn finish(&mut self) -> String {
        if self.buffer.is_empty() {
            return String::new();
        }
        let text = std::mem::take(&mut self.buffer);
        self.label();
        let first = text.lines().next().unwrap_or("").trim();
        format!(
            "unfinished input dropped ({} brace or parenthesis left open): {first}\n",
            depth(&text)
        )
    }

    /// Like [`Session::line`] for each line of `text`, answers joined.
    pub fn lines(&mut self, text: &str) -> Reply {
        let mut out = Reply::default();
        for l in text.lines() {
            let r = self.line(l);
            out.text.push_str(&r.text);
            if r.quit {
                out.quit = true;
                break;
            }
        }
        out
    }

    fn label(&mut self) -> String {
        self.count += 1;
        format!("[{}]", self.count)
    }

    /// A complete input: items, statements, or an expression.
    fn entry(&mut self, text: &str) -> String {
        let label = self.label();
        match classify(text) {
            Input::Items => match parse(text, "", &label) {
                Ok(file) => {
                    let mut next = self.script.clone();
                    for e in entries_of(&file, text, &label) {
                        next.put_item(e);
                    }
                    if let Some(p) = file.items.iter().find_map(|i| match i {
                        crate::ast::Item::Pipeline(p) => Some(p),
                        _ => None,
                    }) {
                        next.stmts = entries_of(&file, text, &label)
                            .into_iter()
                            .filter(|e| matches!(e.kind, Kind::Decl(_) | Kind::Output))
                            .collect();
                        next.name = p.name.node.clone();
                        next.header = header_comments(text, p.span.start as usize);
                    }
                    self.accept(next, &label)
                }
                Err(e) => e,
            },
            Input::Stmts => {
                let prefix = "pipeline p {\n";
                match parse(text, prefix, &label) {
                    Ok(file) => {
                        let wrapped = format!("{prefix}{text}\n}}");
                        let mut next = self.script.clone();
                        for e in entries_of(&file, &wrapped, &label) {
                            next.put_stmt(e);
                        }
                        self.accept(next, &label)
                    }
                    Err(e) => e,
                }
            }
            Input::Expr => self.expression(text, &label, true),
        }
    }

    /// Checks `next`; keeps it if it checks, and says what the new
    /// declarations are.
    fn accept(&mut self, next: Script, label: &str) -> String {
        let mut out = String::new();
        for e in next.uses.iter().chain(&next.blocks) {
            let known = self
                .script
                .uses
                .iter()
                .chain(&self.script.blocks)
                .any(|o| o.text == e.text);
            match &e.kind {
                Kind::Block(name) if !known => out.push_str(&format!("block {name} defined\n")),
                Kind::Use if !known => out.push_str(&format!("{}\n", e.text.trim())),
                _ => {}
            }
        }
        if next.stmts.is_empty() {
            // No pipeline to check yet: blocks are checked where they are used.
            self.script = next;
            return out;
        }
        out.push_str(&self.accept_checked(next, label));
        out
    }

    fn accept_checked(&mut self, next: Script, label: &str) -> String {
        let before: Vec<String> = self.script.stmts.iter().map(|e| e.text.clone()).collect();
        match self.check(&next, &[], label) {
            Ok(c) => {
                let mut out = self.render(&c.sources, &c.warnings);
                let changed: Vec<Entry> = next
                    .stmts
                    .iter()
                    .filter(|e| !before.contains(&e.text))
                    .cloned()
                    .collect();
                self.script = next;
                for e in changed {
                    if let Kind::Decl(names) = &e.kind {
                        for n in names {
                            out.push_str(&describe(&c.program, n));
                        }
                    }
                }
                out
            }
            Err(text) => text,
        }
    }

    /// Parses and checks `script` plus `extra` statements. Warnings about
    /// earlier inputs and unused names are left out.
    fn check(
        &self,
        script: &Script,
        extra: &[String],
        label: &str,
    ) -> Result<CheckedSession, String> {
        let composed = script.compose(extra, true);
        let mut sources = SourceMap::new();
        let id = sources.add("<session>", composed.text.clone());
        let data = Files {
            io: self.io,
            dir: &self.dir,
        };
        let result = crate::compile(&mut sources, id, &CheckOptions::default(), &data);
        let keep = |d: &Diagnostic, sources: &SourceMap| {
            d.is_error()
                || (d.code != "W001"
                    && d.primary_span()
                        .is_some_and(|s| sources.name(s.source) == label))
        };
        match result {
            Ok(c) => {
                let mut diags = remap(&c.diagnostics, &mut sources, id, &composed);
                diags.retain(|d| keep(d, &sources));
                Ok(CheckedSession {
                    program: c.program,
                    sources,
                    warnings: diags,
                })
            }
            Err(d) => {
                let mut diags = remap(&d, &mut sources, id, &composed);
                diags.retain(|d| keep(d, &sources));
                Err(self.render(&sources, &diags))
            }
        }
    }

    fn render(&self, sources: &SourceMap, d: &[Diagnostic]) -> String {
        render(sources, d, self.color)
    }

    /// An expression alone: its type line, then its value on the session's inputs.
    fn expression(&mut self, text: &str, label: &str, run: bool) -> String {
        let name = self.fresh_name();
        let prefix = format!("pipeline p {{\n  let {name} = ");
        if let Err(e) = parse(text, &prefix, label) {
            return e;
        }
        let mut script = self.script.clone();
        // The expression is an entry of its own, for diagnostics.
        script.stmts.push(Entry {
            label: label.to_string(),
            text: format!("let {name} = {text}"),
            kind: Kind::Decl(vec![name.clone()]),
        });
        // An output of its own, so that even an alias (`w_dw`) names a node.
        script.stmts.push(Entry {
            label: label.to_string(),
            text: format!("output {name}"),
            kind: Kind::Output,
        });
        let c = match self.check(&script, &[], label) {
            Ok(c) => c,
            Err(e) => return e,
        };
        let mut out = self.render(&c.sources, &c.warnings);
        let Some(id) = node_named(&c.program, &name) else {
            return out;
        };
        let node = &c.program.nodes[id];
        out.push_str(&view::summary(node));
        out.push('\n');
        if !run {
            return out;
        }
        match self.evaluate(&c.program) {
            Ok((values, note)) => {
                if c.program.reads_inputs()[id] {
                    out.push_str(&note);
                }
                if let Some(v) = values.get(id) {
                    out.push_str(&view::value(v));
                }
            }
            Err(e) => out.push_str(&e),
        }
        out
    }

    fn fresh_name(&self) -> String {
        let names = self.script.names();
        let mut name = "it".to_string();
        while names.contains(&name) {
            name.push('_');
        }
        name
    }

    /// Values of every node, on `:input` files or random inputs, with a line
    /// saying which.
    fn evaluate(&self, program: &Program) -> Result<(Vec<Tensor>, String), String> {
        let (inputs, note) = self.make_inputs(program)?;
        crate::interpret_all(program, &inputs)
            .map(|v| (v, note))
            .map_err(|e| format!("run failed: {e}\n"))
    }

    fn make_inputs(&self, program: &Program) -> Result<(Vec<Tensor>, String), String> {
        let mut inputs = vec![];
        let mut said = vec![];
        for (i, info) in program.inputs.iter().enumerate() {
            let node = &program.nodes[info.node];
            match self.inputs.iter().find(|(n, _)| *n == info.name) {
                Some((_, path)) => {
                    let bytes = self.io.read(path).map_err(|e| format!("{e}\n"))?;
                    let t = decode(&bytes, node, path)?;
                    said.push(format!("{} = {path}", info.name));
                    inputs.push(t);
                }
                None => {
                    let seed = self.seed.wrapping_add(i as u64);
                    inputs.push(Tensor {
                        shape: node.shape.dims(),
                        frac: node.frac,
                        data: crate::data::random_raw(seed, &node.ty, node.shape.len()),
                    });
                    said.push(format!("{} = random(seed: {seed})", info.name));
                }
            }
        }
        let note = if said.is_empty() {
            String::new()
        } else {
            format!("on {}\n", said.join(", "))
        };
        Ok((inputs, note))
    }
}

/// One image of `node`'s type from `.npy` bytes (the first of a batch).
fn decode(bytes: &[u8], node: &crate::ir::Node, path: &str) -> Result<Tensor, String> {
    let arr = crate::data::parse_npy(bytes).map_err(|e| format!("{path}: {e}\n"))?;
    let dims = node.shape.dims();
    let batched = arr.shape.len() == dims.len() + 1 && arr.shape[1..] == dims[..];
    if arr.shape != dims && !batched {
        return Err(format!(
            "{path}: the array is {:?}, the input is {:?}\n",
            arr.shape, dims
        ));
    }
    let values =
        crate::data::npy_to_raw(&arr, &node.ty, false).map_err(|e| format!("{path}: {e}\n"))?;
    Ok(Tensor {
        shape: dims,
        frac: node.frac,
        data: values.into_iter().take(node.shape.len()).collect(),
    })
}

enum Input {
    Items,
    Stmts,
    Expr,
}

/// What an input is, from its first word (comments skipped).
fn classify(text: &str) -> Input {
    let code = text
        .lines()
        .map(str::trim_start)
        .find(|l| !l.is_empty() && !l.starts_with("//"))
        .unwrap_or("");
    match code
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .next()
        .unwrap_or("")
    {
        "use" | "block" | "pipeline" | "test" => Input::Items,
        "input" | "param" | "const" | "let" | "output" => Input::Stmts,
        _ => Input::Expr,
    }
}

/// Net count of open `{` and `(` outside comments and strings.
fn depth(text: &str) -> i32 {
    let mut d = 0;
    for line in text.lines() {
        let mut in_string = false;
        let b = line.as_bytes();
        for i in 0..b.len() {
            match b[i] {
                b'"' => in_string = !in_string,
                b'/' if !in_string && b.get(i + 1) == Some(&b'/') => break,
                b'{' | b'(' if !in_string => d += 1,
                b'}' | b')' if !in_string => d -= 1,
                _ => {}
            }
        }
    }
    d
}

/// Parses `prefix + text` (closing the pipeline a prefix opened); parse
/// errors are rendered against `text` alone, as the source `label`.
fn parse(text: &str, prefix: &str, label: &str) -> Result<crate::ast::File, String> {
    let suffix = if prefix.is_empty() { "" } else { "\n}" };
    let full = format!("{prefix}{text}{suffix}");
    match crate::syntax::parse(&full, SourceId(0)) {
        Ok(f) => Ok(f),
        Err(errs) => {
            let mut sources = SourceMap::new();
            let id = sources.add(label, text);
            let shift = prefix.len();
            let diags: Vec<Diagnostic> = errs
                .iter()
                .map(|e| {
                    let mut d = crate::diag::Report::diagnostic(e);
                    for l in &mut d.labels {
                        let s = (l.span.start as usize)
                            .saturating_sub(shift)
                            .min(text.len());
                        let e = (l.span.end as usize).saturating_sub(shift).min(text.len());
                        l.span = Span::new(id, s, e.max(s));
                    }
                    d
                })
                .collect();
            Err(render(&sources, &diags, false))
        }
    }
}

/// `//` lines right above `start` (the comments above a pasted pipeline).
fn header_comments(text: &str, start: usize) -> String {
    let lines: Vec<&str> = text[..start]
        .lines()
        .rev()
        .take_while(|l| l.trim_start().starts_with("//"))
        .collect();
    lines
        .iter()
        .rev()
        .map(|l| l.trim())
        .collect::<Vec<_>>()
        .join("\n")
}

fn node_named(program: &Program, name: &str) -> Option<usize> {
    program
        .nodes
        .iter()
        .rposition(|n| n.name.as_deref() == Some(name))
        .or_else(|| {
            program
                .outputs
                .iter()
                .find(|o| o.name == name)
                .map(|o| o.node)
        })
}

/// `dw: u8[16, 32, 64]   range 0 .. 255   narrowest u8`, and what its casts do.
fn describe(program: &Program, name: &str) -> String {
    let Some(id) = node_named(program, name) else {
        return String::new();
    };
    let node = &program.nodes[id];
    let mut out = format!("{name}: {}\n", view::summary(node));
    for n in program.nodes.iter().filter(|n| n.owner == name) {
        if let crate::ir::Op::Cast {
            x,
            to,
            overflow: crate::ir::CastOverflow::Mode(m),
            ..
        } = &n.op
        {
            let src = &program.nodes[*x];
            let r = src.range();
            let (lo, hi) = to.value_bounds();
            let shift = to.storage_frac() as i64 - src.frac as i64;
            let fits = |v: i128| {
                let v = if shift >= 0 {
                    v << shift
                } else {
                    v >> (-shift)
                };
                lo <= v && v <= hi
            };
            if !(fits(r.lo) && fits(r.hi)) {
                let verb = match m {
                    crate::types::Overflow::Wrap => "wraps",
                    _ => "saturates",
                };
                out.push_str(&format!(
                    "  `{}` {verb}: the value before it ranges over {} .. {}\n",
                    n.label,
                    crate::numeric::to_decimal(r.lo, src.frac),
                    crate::numeric::to_decimal(r.hi, src.frac)
                ));
            }
        }
    }
    out
}

impl Reply {
    fn text(s: impl Into<String>) -> Self {
        Reply {
            text: s.into(),
            quit: false,
        }
    }
}
