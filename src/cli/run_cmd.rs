//! `convoy run FILE --input NAME=PATH ... --out DIR`.

use super::files::{load_program, print_diagnostics, read_input_files, write_all};
use super::progress::Progress;
use super::Backend;
use convoy::diag::{Diagnostic, Report, Severity, SourceMap};
use convoy::run::{decode_inputs, encode_outputs};
use std::path::Path;

pub fn run(
    path: &Path,
    inputs: &[String],
    out: &Path,
    pipeline: Option<String>,
    backend: Backend,
    (threads, isa): (Option<usize>, convoy::Isa),
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

    let files = match read_input_files(&sources, inputs) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let batch = match decode_inputs(program, &files, raw) {
        Ok(b) => b,
        Err(errors) => {
            let d: Vec<Diagnostic> = errors.iter().map(|e| e.diagnostic()).collect();
            print_diagnostics(&sources, &d);
            return 1;
        }
    };
    let mut results = Vec::with_capacity(batch.images.len());
    let mut progress = Progress::new(batch.images.len());
    match backend {
        Backend::Jit => {
            let options = convoy::JitOptions {
                threads: threads.unwrap_or(0),
                isa,
                ..Default::default()
            };
            let compiled = match convoy::compile_jit(program, &options) {
                Ok(c) => c,
                Err(e) => {
                    print_diagnostics(&sources, &[e.diagnostic()]);
                    return 1;
                }
            };
            // Chunks of a few images per thread, so that a long batch can
            // show its progress.
            let chunk = 4 * compiled.threads().max(1);
            for part in batch.images.chunks(chunk) {
                match compiled.run_batch(part) {
                    Ok(r) => results.extend(r),
                    Err(e) => {
                        progress.finish();
                        print_diagnostics(&sources, &[e.diagnostic()]);
                        return 1;
                    }
                }
                progress.update(results.len());
            }
        }
        Backend::Interp => {
            for image in &batch.images {
                match convoy::interpret(program, image) {
                    Ok(o) => results.push(o),
                    Err(e) => {
                        progress.finish();
                        print_diagnostics(&sources, &[e.diagnostic()]);
                        return 1;
                    }
                }
                progress.update(results.len());
            }
        }
    }
    progress.finish();
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
