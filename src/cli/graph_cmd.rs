//! `convoy graph FILE [-o out.svg|out.png|out.dot]`: the pipeline as a
//! picture. DOT is always produced by the library; SVG and PNG are rendered
//! by Graphviz `dot` when it is installed (otherwise the DOT is written next
//! to the requested path and the user is told).

use super::files::{io_reason, load_program, print_diagnostics};
use convoy::diag::{self, SourceMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub fn run(file: &Path, out: Option<&Path>, pipeline: Option<String>) -> i32 {
    let (sources, checked) = match load_program(file, pipeline) {
        Ok(x) => x,
        Err(code) => return code,
    };
    print_diagnostics(&sources, &checked.diagnostics);
    let dot = convoy::graph::to_dot(&checked.program);
    let Some(out) = out else {
        print!("{dot}");
        return 0;
    };
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "svg" | "png" => match render(&dot, &ext, out) {
            Ok(()) => {
                eprintln!("wrote {}", out.display());
                0
            }
            Err(Render::NoGraphviz) => {
                let fallback: PathBuf = out.with_extension("dot");
                eprintln!(
                    "Graphviz `dot` is not installed (apt-get install graphviz), so no {} was drawn; \
                     writing the DOT text to {} instead",
                    ext.to_uppercase(),
                    fallback.display()
                );
                write(&fallback, dot.as_bytes())
            }
            Err(Render::Failed(reason)) => {
                let d = diag::file_error(&out.display().to_string(), &reason);
                print_diagnostics(&SourceMap::new(), &[d]);
                1
            }
        },
        _ => write(out, dot.as_bytes()),
    }
}

fn write(path: &Path, bytes: &[u8]) -> i32 {
    match std::fs::write(path, bytes) {
        Ok(()) => {
            eprintln!("wrote {}", path.display());
            0
        }
        Err(e) => {
            let d = diag::file_error(&path.display().to_string(), &io_reason(&e));
            print_diagnostics(&SourceMap::new(), &[d]);
            1
        }
    }
}

enum Render {
    NoGraphviz,
    Failed(String),
}

/// `dot -T<format> -o <out>`, the DOT text on its standard input.
fn render(dot: &str, format: &str, out: &Path) -> Result<(), Render> {
    let child = Command::new("dot")
        .arg(format!("-T{format}"))
        .arg("-o")
        .arg(out)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Render::NoGraphviz),
        Err(e) => return Err(Render::Failed(format!("cannot run dot: {e}"))),
    };
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(dot.as_bytes())
            .map_err(|e| Render::Failed(format!("cannot write to dot: {e}")))?;
    }
    let result = child
        .wait_with_output()
        .map_err(|e| Render::Failed(format!("dot failed: {e}")))?;
    if result.status.success() {
        Ok(())
    } else {
        Err(Render::Failed(format!(
            "dot failed: {}",
            String::from_utf8_lossy(&result.stderr).trim()
        )))
    }
}
