//! `convoy fmt FILE... [--check]`: rewrites `.cnn` files in the canonical
//! layout (folders: every `.cnn` file inside), or with `--check` only names
//! the files that would change and shows how, exiting 1 if there are any.
//! `-` formats standard input to standard output.

use super::files::{io_reason, print_diagnostics};
use convoy::diag::{self, SourceMap};
use std::io::Read;
use std::path::{Path, PathBuf};

pub fn run(paths: &[PathBuf], check: bool) -> i32 {
    if paths.iter().any(|p| p.as_os_str() == "-") {
        return stdin_to_stdout();
    }
    let mut files = vec![];
    for p in paths {
        if p.is_dir() {
            collect(p, &mut files);
        } else {
            files.push(p.clone());
        }
    }
    let mut failed = false;
    let mut changed = 0;
    for path in &files {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                let d = diag::file_error(&path.display().to_string(), &io_reason(&e));
                print_diagnostics(&SourceMap::new(), &[d]);
                failed = true;
                continue;
            }
        };
        let mut sources = SourceMap::new();
        let id = sources.add(path.display().to_string(), text.clone());
        let formatted = match convoy::format(&sources, id) {
            Ok(f) => f,
            Err(d) => {
                print_diagnostics(&sources, &d);
                failed = true;
                continue;
            }
        };
        if formatted == text {
            continue;
        }
        changed += 1;
        if check {
            println!("would reformat {}", path.display());
            print!("{}", line_diff(&text, &formatted));
        } else if let Err(e) = std::fs::write(path, &formatted) {
            let d = diag::file_error(&path.display().to_string(), &io_reason(&e));
            print_diagnostics(&SourceMap::new(), &[d]);
            failed = true;
        } else {
            eprintln!("reformatted {}", path.display());
        }
    }
    if failed || (check && changed > 0) {
        1
    } else {
        0
    }
}

fn stdin_to_stdout() -> i32 {
    let mut text = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut text) {
        let d = diag::file_error("<stdin>", &io_reason(&e));
        print_diagnostics(&SourceMap::new(), &[d]);
        return 1;
    }
    let mut sources = SourceMap::new();
    let id = sources.add("<stdin>", text);
    match convoy::format(&sources, id) {
        Ok(f) => {
            print!("{f}");
            0
        }
        Err(d) => {
            print_diagnostics(&sources, &d);
            1
        }
    }
}

/// Every `.cnn` file under `dir`, sorted, recursively.
fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|e| e == "cnn") {
            out.push(p);
        }
    }
}

/// The changed lines, `-` old and `+` new, with their line numbers (an LCS diff).
fn line_diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut out = String::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] > lcs[i + 1][j]) {
            out.push_str(&format!("  {:>4} + {}\n", j + 1, b[j]));
            j += 1;
        } else {
            out.push_str(&format!("  {:>4} - {}\n", i + 1, a[i]));
            i += 1;
        }
    }
    out
}
