//! `convoy run FILE --input NAME=PATH ... --out DIR`.

use super::files::{io_reason, load_program, print_diagnostics, write_all};
use super::Backend;
use convoy::diag::{self, Diagnostic, Report, Severity, SourceMap};
use convoy::run::{decode_inputs, encode_outputs, InputFile};
use std::path::Path;

pub fn run(
    path: &Path,
    inputs: &[String],
    out: &Path,
    pipeline: Option<String>,
    backend: Backend,
    raw: bool,
) -> i32 {
    let (sources, checked) = match load_program(path, pipeline) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let warnings: Vec<Diagnostic> = checked
        .diagnostics
        .iter()
        .filter(|d| d.severity != Severity::Note)
        .cloned()
        .collect();
    print_diagnostics(&sources, &warnings);
    let program = &checked.program;

    let mut files = vec![];
    for spec in inputs {
        let Some((name, file)) = spec.split_once('=') else {
            eprintln!("error: --input expects NAME=PATH, got `{spec}`");
            return 2;
        };
        match std::fs::read(file) {
            Ok(bytes) => files.push(InputFile {
                name: name.to_string(),
                path: file.to_string(),
                bytes,
            }),
            Err(e) => {
                print_diagnostics(&sources, &[diag::file_error(file, &io_reason(&e))]);
                return 1;
            }
        }
    }
    let batch = match decode_inputs(program, &files, raw) {
        Ok(b) => b,
        Err(errors) => {
            let d: Vec<Diagnostic> = errors.iter().map(|e| e.diagnostic()).collect();
            print_diagnostics(&sources, &d);
            return 1;
        }
    };
    let mut results = Vec::with_capacity(batch.images.len());
    for image in &batch.images {
        let outputs = match backend {
            Backend::Interp => convoy::interpret(program, image),
        };
        match outputs {
            Ok(o) => results.push(o),
            Err(e) => {
                print_diagnostics(&sources, &[e.diagnostic()]);
                return 1;
            }
        }
    }
    let encoded = match encode_outputs(program, &results, batch.batched, raw) {
        Ok(e) => e,
        Err(e) => {
            print_diagnostics(&sources, &[e.diagnostic()]);
            return 1;
        }
    };
    let named: Vec<(String, Vec<u8>)> = encoded
        .into_iter()
        .map(|(name, bytes)| (format!("{name}.npy"), bytes))
        .collect();
    if let Err(d) = write_all(out, &named) {
        print_diagnostics(&SourceMap::new(), &[d]);
        return 1;
    }
    for (name, _) in &named {
        println!("wrote {}", out.join(name).display());
    }
    0
}
