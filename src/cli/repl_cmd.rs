//! `convoy repl [FILE]`: the terminal front end of [`convoy::repl::Session`].
//! On a terminal: rustyline with history kept in a file, tab completion of
//! names, stages, keywords and `:commands`, and a continuation prompt while
//! braces are open. Otherwise: commands are read from standard input and the
//! transcript (each input after its prompt, then the answer) is printed as
//! plain text, so sessions can be scripted and tested.

use convoy::repl::{completion_words, ReplIo, Session, COMMANDS};
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::{History, MemHistory};
use rustyline::validate::Validator;
use rustyline::{Config, Context, Editor, Helper};
use std::cell::RefCell;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

const PROMPT: &str = "convoy> ";
const MORE: &str = "   ...> ";
const HISTORY_LINES: usize = 1000;

/// Files relative to the working folder.
struct Disk;

impl ReplIo for Disk {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        std::fs::read(path).map_err(|e| format!("{path}: {}", super::files::io_reason(&e)))
    }
    fn write(&self, path: &str, bytes: &[u8]) -> Result<(), String> {
        std::fs::write(path, bytes).map_err(|e| format!("{path}: {}", super::files::io_reason(&e)))
    }
}

pub fn run(file: Option<&Path>) -> i32 {
    let io = Disk;
    let mut session = Session::new(&io);
    let terminal = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    session.set_color(terminal && std::env::var_os("NO_COLOR").is_none());
    if let Some(f) = file {
        let r = session.line(&format!(":load {}", f.display()));
        print!("{}", r.text);
    }
    if terminal {
        interactive(&mut session)
    } else {
        scripted(&mut session)
    }
}

/// Standard input is not a terminal: echo each line after its prompt, then the answer.
fn scripted(session: &mut Session) -> i32 {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let prompt = if session.pending() { MORE } else { PROMPT };
        let _ = writeln!(out, "{prompt}{line}");
        let r = session.line(&line);
        let _ = write!(out, "{}", r.text);
        if r.quit {
            return 0;
        }
    }
    let _ = write!(out, "{}", session.finish());
    0
}

fn history_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CONVOY_HISTORY") {
        return Some(PathBuf::from(p));
    }
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    Some(state.join("convoy").join("history"))
}

fn interactive(session: &mut Session) -> i32 {
    let names = Rc::new(RefCell::new(session.names()));
    let config = Config::builder().auto_add_history(false).build();
    let mut rl: Editor<ReplHelper, MemHistory> =
        match Editor::with_history(config, MemHistory::new()) {
            Ok(rl) => rl,
            Err(e) => {
                eprintln!("cannot start the line editor: {e}");
                return 1;
            }
        };
    rl.set_helper(Some(ReplHelper {
        names: names.clone(),
    }));
    let history = history_path();
    if let Some(text) = history
        .as_ref()
        .and_then(|p| std::fs::read_to_string(p).ok())
    {
        for l in text.lines() {
            let _ = rl.add_history_entry(l);
        }
    }
    println!("Convoy REPL: declarations, statements and expressions; :help lists the commands.");
    loop {
        let prompt = if session.pending() { MORE } else { PROMPT };
        match rl.readline(prompt) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = rl.add_history_entry(line.as_str());
                }
                let r = session.line(&line);
                print!("{}", r.text);
                *names.borrow_mut() = session.names();
                if r.quit {
                    break;
                }
            }
            Err(rustyline::error::ReadlineError::Interrupted) => continue,
            Err(_) => break,
        }
    }
    if let Some(p) = history {
        let h = rl.history();
        let skip = h.len().saturating_sub(HISTORY_LINES);
        let lines: Vec<String> = h.into_iter().skip(skip).cloned().collect();
        if let Some(dir) = p.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = std::fs::write(&p, lines.join("\n") + "\n");
    }
    0
}

struct ReplHelper {
    names: Rc<RefCell<Vec<String>>>,
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let start = before
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .map_or(0, |i| i + 1);
        let word = &before[start..];
        let mut out: Vec<String> = vec![];
        if word.starts_with(':') {
            out.extend(
                COMMANDS
                    .iter()
                    .filter_map(|(c, _)| c.split_whitespace().next())
                    .filter(|c| c.starts_with(word))
                    .map(str::to_string),
            );
        } else if !word.is_empty() {
            let names = self.names.borrow();
            out.extend(
                names
                    .iter()
                    .map(String::as_str)
                    .chain(completion_words())
                    .filter(|w| w.starts_with(word))
                    .map(str::to_string),
            );
        }
        out.sort();
        out.dedup();
        Ok((
            start,
            out.into_iter()
                .map(|w| Pair {
                    display: w.clone(),
                    replacement: w,
                })
                .collect(),
        ))
    }
}

impl Hinter for ReplHelper {
    type Hint = String;
}
impl Highlighter for ReplHelper {}
impl Validator for ReplHelper {}
impl Helper for ReplHelper {}
