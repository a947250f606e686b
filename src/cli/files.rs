//! File access for the CLI: reading scripts and data, writing outputs
//! atomically, and printing diagnostics.

use convoy::diag::{self, Diagnostic, SourceMap};
use convoy::span::SourceId;
use convoy::{CheckOptions, Checked, DataSource};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Reads `load("...")` files relative to the script's folder.
pub struct ScriptFolder {
    pub dir: PathBuf,
}

impl DataSource for ScriptFolder {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        let full = self.dir.join(path);
        std::fs::read(&full).map_err(|e| format!("{}: {}", full.display(), io_reason(&e)))
    }
}

pub fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

pub fn print_diagnostics(sources: &SourceMap, diagnostics: &[Diagnostic]) {
    if diagnostics.is_empty() {
        return;
    }
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    eprint!("{}", diag::render(sources, diagnostics, color));
}

/// Reads and checks a script; prints diagnostics. `Err(exit code)` on failure.
pub fn load_program(path: &Path, pipeline: Option<String>) -> Result<(SourceMap, Checked), i32> {
    let text = match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(_) => {
                let d = diag::file_error(&path.display().to_string(), "not UTF-8 text");
                print_diagnostics(&SourceMap::new(), &[d]);
                return Err(1);
            }
        },
        Err(e) => {
            let d = diag::file_error(&path.display().to_string(), &io_reason(&e));
            print_diagnostics(&SourceMap::new(), &[d]);
            return Err(1);
        }
    };
    let mut sources = SourceMap::new();
    let id: SourceId = sources.add(path.display().to_string(), text);
    let folder = ScriptFolder {
        dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
    };
    let options = CheckOptions { pipeline };
    match convoy::compile(&mut sources, id, &options, &folder) {
        Ok(checked) => Ok((sources, checked)),
        Err(diagnostics) => {
            print_diagnostics(&sources, &diagnostics);
            Err(1)
        }
    }
}

/// Writes every file or none: each goes to a temporary name in `dir`, and only
/// when all are written are they renamed into place.
pub fn write_all(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<(), Diagnostic> {
    std::fs::create_dir_all(dir)
        .map_err(|e| diag::file_error(&dir.display().to_string(), &io_reason(&e)))?;
    let mut temps: Vec<(PathBuf, PathBuf)> = vec![];
    let cleanup = |temps: &[(PathBuf, PathBuf)]| {
        for (t, _) in temps {
            let _ = std::fs::remove_file(t);
        }
    };
    for (name, bytes) in files {
        let target = dir.join(name);
        let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        if let Err(e) = std::fs::write(&temp, bytes) {
            cleanup(&temps);
            let _ = std::fs::remove_file(&temp);
            return Err(diag::file_error(
                &target.display().to_string(),
                &io_reason(&e),
            ));
        }
        temps.push((temp, target));
    }
    for (temp, target) in &temps {
        if let Err(e) = std::fs::rename(temp, target) {
            cleanup(&temps);
            return Err(diag::file_error(
                &target.display().to_string(),
                &io_reason(&e),
            ));
        }
    }
    Ok(())
}

/// Reads every `--input NAME=PATH` file. `Err` holds the exit code after the
/// problem was printed: 2 for a malformed spec, 1 for an unreadable file.
pub fn read_input_files(
    sources: &SourceMap,
    specs: &[String],
) -> Result<Vec<convoy::run::InputFile>, i32> {
    let mut files = vec![];
    for spec in specs {
        let Some((name, file)) = spec.split_once('=') else {
            eprintln!("error: --input expects NAME=PATH, got `{spec}`");
            return Err(2);
        };
        match std::fs::read(file) {
            Ok(bytes) => files.push(convoy::run::InputFile {
                name: name.to_string(),
                path: file.to_string(),
                bytes,
            }),
            Err(e) => {
                print_diagnostics(sources, &[diag::file_error(file, &io_reason(&e))]);
                return Err(1);
            }
        }
    }
    Ok(files)
}
