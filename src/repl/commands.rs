//! The `:` commands of the session.

use super::script::{entries_of, Kind, Script};
use super::{view, Reply, Session, COMMANDS};
use crate::check::table;
use crate::ir::{CastOverflow, Op, Program};
use crate::numeric::{fits, quantize, to_decimal};
use crate::tensor::Tensor;
use crate::types::Overflow;

impl Session<'_> {
    pub(super) fn command(&mut self, line: &str) -> Reply {
        let (cmd, arg) = match line.split_once(char::is_whitespace) {
            Some((c, a)) => (c, a.trim()),
            None => (line, ""),
        };
        let text = match cmd {
            ":help" | ":h" | ":?" => help(),
            ":quit" | ":q" | ":exit" => {
                return Reply {
                    text: String::new(),
                    quit: true,
                }
            }
            ":clear" => {
                self.script = Script::new();
                self.inputs.clear();
                self.loaded = None;
                self.dir.clear();
                "session cleared\n".into()
            }
            ":type" | ":t" if !arg.is_empty() => {
                let label = self.label();
                self.expression(arg, &label, false)
            }
            ":ranges" => match self.check(&self.script.clone(), &[], "") {
                Ok(c) => table::render_text(&c.program),
                Err(e) => e,
            },
            ":show" => self.formatted(),
            ":run" => self.run(),
            ":input" if arg.contains('=') => self.set_input(arg),
            ":seed" => match arg.parse::<u64>() {
                Ok(s) => {
                    self.seed = s;
                    format!("random inputs now use seed {s} (input i: seed {s} + i)\n")
                }
                Err(_) => "usage: :seed N\n".into(),
            },
            ":load" if !arg.is_empty() => self.load(arg),
            ":reload" => match self.loaded.clone() {
                Some(path) => self.load(&path),
                None => "nothing was loaded yet: use :load FILE\n".into(),
            },
            ":save" if !arg.is_empty() => {
                let text = self.formatted();
                match self.io.write(arg, text.as_bytes()) {
                    Ok(()) => format!("saved {arg} ({} lines)\n", text.lines().count()),
                    Err(e) => format!("cannot save: {e}\n"),
                }
            }
            ":emit" => self.emit(arg),
            ":bench" => self.bench(),
            _ => {
                format!("unknown command or missing argument: {line}\n(:help lists the commands)\n")
            }
        };
        Reply::text(text)
    }

    /// The session as a script in the canonical layout.
    fn formatted(&self) -> String {
        let text = self.script.source();
        match crate::syntax::parse(&text, crate::span::SourceId(0)) {
            Ok(file) => crate::fmt::format_file(&file, &text),
            Err(_) => text,
        }
    }

    fn set_input(&mut self, arg: &str) -> String {
        let Some((name, path)) = arg.split_once('=') else {
            return "usage: :input NAME=PATH.npy\n".into();
        };
        let (name, path) = (name.trim().to_string(), path.trim().to_string());
        self.inputs.retain(|(n, _)| *n != name);
        if path == "random" {
            return format!("{name} is random again\n");
        }
        self.inputs.push((name.clone(), path.clone()));
        format!("{name} = {path}\n")
    }

    fn load(&mut self, path: &str) -> String {
        let bytes = match self.io.read(path) {
            Ok(b) => b,
            Err(e) => return format!("cannot load: {e}\n"),
        };
        let Ok(text) = String::from_utf8(bytes) else {
            return format!("cannot load {path}: not UTF-8 text\n");
        };
        let label = self.label();
        let file = match super::parse(&text, "", path) {
            Ok(f) => f,
            Err(e) => return e,
        };
        let mut next = Script::new();
        for e in entries_of(&file, &text, &label) {
            match e.kind {
                Kind::Use | Kind::Block(_) => next.put_item(e),
                _ => next.stmts.push(e),
            }
        }
        if let Some(p) = file.items.iter().find_map(|i| match i {
            crate::ast::Item::Pipeline(p) => Some(p),
            _ => None,
        }) {
            next.name = p.name.node.clone();
            next.header = super::header_comments(&text, p.span.start as usize);
        }
        let old_dir = std::mem::replace(
            &mut self.dir,
            path.rsplit_once('/')
                .map_or(String::new(), |(d, _)| d.to_string()),
        );
        let out = self.accept(next, &label);
        if self.script.name == file_pipeline_name(&file) && out_is_ok(&out) {
            self.loaded = Some(path.to_string());
            format!("{out}loaded {path}: pipeline {}\n", self.script.name)
        } else {
            self.dir = old_dir;
            out
        }
    }

    fn run(&mut self) -> String {
        let c = match self.check(&self.script.clone(), &[], "") {
            Ok(c) => c,
            Err(e) => return e,
        };
        let program = &c.program;
        let (values, note) = match self.evaluate(program) {
            Ok(v) => v,
            Err(e) => return e,
        };
        let mut out = note;
        for o in &program.outputs {
            let node = &program.nodes[o.node];
            out.push_str(&format!("{}: {}\n", o.name, view::summary(node)));
            if let Some(v) = values.get(o.node) {
                out.push_str(&view::value(v));
            }
        }
        out.push_str(&overflows(program, &values));
        out
    }

    fn emit(&mut self, arg: &str) -> String {
        let mut words = arg.split_whitespace();
        if words.next() != Some("hls") {
            return "usage: :emit hls [STAGE]\n".into();
        }
        let stage = words.next();
        let c = match self.check(&self.script.clone(), &[], "") {
            Ok(c) => c,
            Err(e) => return e,
        };
        let project = match crate::emit_hls(&c.program, &crate::HlsOptions::default()) {
            Ok(p) => p,
            Err(d) => return super::render(&c.sources, &[d], self.color),
        };
        let main = format!("{}.cpp", c.program.name);
        let Some(cpp) = project.file(&main) else {
            return format!("the HLS project has no {main}\n");
        };
        match stage {
            None => cpp.to_string(),
            Some(s) => match stage_section(cpp, s) {
                Some(sec) => sec,
                None => format!("no stage `{s}` in {main} (stages are the names of `let`s)\n"),
            },
        }
    }

    fn bench(&mut self) -> String {
        let c = match self.check(&self.script.clone(), &[], "") {
            Ok(c) => c,
            Err(e) => return e,
        };
        let program = &c.program;
        let (inputs, note) = match self.make_inputs(program) {
            Ok(x) => x,
            Err(e) => return e,
        };
        let start = std::time::Instant::now();
        let compiled = match crate::compile_jit(program, &crate::JitOptions::default()) {
            Ok(p) => p,
            Err(e) => return format!("the JIT cannot compile this pipeline: {e:?}\n"),
        };
        let compile_ms = start.elapsed().as_secs_f64() * 1e3;
        let mut times = vec![];
        for _ in 0..11 {
            let t = std::time::Instant::now();
            if let Err(e) = compiled.run(&inputs) {
                return format!("run failed: {e:?}\n");
            }
            times.push(t.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        let gmacs = program.total_macs() as f64 / median / 1e9;
        format!(
            "{note}JIT (Cranelift): compiled in {compile_ms:.1} ms; median of 11 runs {:.3} ms, min {:.3} ms, {gmacs:.2} GMAC/s\n",
            median * 1e3,
            times[0] * 1e3
        )
    }
}

fn help() -> String {
    let mut out = String::from(
        "Type declarations and statements as in a script (multi-line while braces are open);\n\
         an expression alone shows its shape, exact range, narrowest type and value.\n\
         Re-declaring a name replaces it.\n\n",
    );
    let w = COMMANDS.iter().map(|(c, _)| c.len()).max().unwrap_or(0);
    for (c, what) in COMMANDS {
        out.push_str(&format!("  {c:<w$}  {what}\n"));
    }
    out
}

fn file_pipeline_name(file: &crate::ast::File) -> String {
    file.items
        .iter()
        .find_map(|i| match i {
            crate::ast::Item::Pipeline(p) => Some(p.name.node.clone()),
            _ => None,
        })
        .unwrap_or_else(|| "session".into())
}

fn out_is_ok(out: &str) -> bool {
    !out.contains("Error")
}

/// For every cast with an overflow mode: how many values it changed.
fn overflows(program: &Program, values: &[Tensor]) -> String {
    let mut out = String::new();
    let mut any = false;
    for n in &program.nodes {
        let Op::Cast {
            x,
            to,
            quant,
            overflow: CastOverflow::Mode(mode),
        } = &n.op
        else {
            continue;
        };
        let Some(src) = values.get(*x) else { continue };
        let total = src.data.len();
        let changed = src
            .data
            .iter()
            .filter(|&&raw| {
                let code = quantize(raw, src.frac as i32, to.frac_bits(), *quant);
                !fits(code, to.signed, to.width)
            })
            .count();
        if changed == 0 {
            continue;
        }
        any = true;
        let verb = match mode {
            Overflow::Wrap => "wrapped",
            Overflow::Sat => "saturated",
            Overflow::SatZero => "set to zero (sat_zero)",
            Overflow::SatSym => "saturated (sat_sym)",
        };
        let r = program.nodes[*x].range();
        out.push_str(&format!(
            "{}: `{}` {verb} {changed} of {total} values ({}%); before it: {} .. {}\n",
            n.owner,
            n.label,
            percent(changed, total),
            to_decimal(r.lo, program.nodes[*x].frac),
            to_decimal(r.hi, program.nodes[*x].frac),
        ));
    }
    if !any {
        out.push_str("no cast changed a value: nothing wrapped or saturated\n");
    }
    out
}

/// `100 * part / whole` with one decimal, rounded half up.
fn percent(part: usize, whole: usize) -> String {
    let tenths = (part * 1000 + whole / 2) / whole.max(1);
    format!("{}.{}", tenths / 10, tenths % 10)
}

/// The lines of `cpp` that belong to stage `name`: from the first line that
/// mentions it in a comment to the next blank line after its loop nest.
fn stage_section(cpp: &str, name: &str) -> Option<String> {
    let lines: Vec<&str> = cpp.lines().collect();
    let is_comment_for = |l: &str| {
        let t = l.trim_start();
        t.starts_with("//")
            && t.split(|c: char| !c.is_alphanumeric() && c != '_' && c != '.')
                .any(|w| w == name)
    };
    let start = lines.iter().position(|l| is_comment_for(l))?;
    let mut end = start + 1;
    while end < lines.len() && !lines[end].trim().is_empty() {
        end += 1;
    }
    Some(lines[start..end].join("\n") + "\n")
}
