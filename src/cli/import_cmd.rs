//! `convoy import MODEL.onnx -o DIR [--name NAME] [--force]`: writes
//! `DIR/NAME.cnn` and its `.npy` files in `DIR/NAME/`, then prints the
//! script's stage table. Everything is written to a temporary folder in
//! `DIR` and renamed into place at the end, so a failed import writes
//! nothing.

use super::files::{io_reason, print_diagnostics};
use convoy::check::table;
use convoy::diag::{self, Report, SourceMap};
use convoy::import::ImportError;
use convoy::CheckOptions;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct ImportArgs {
    /// The quantized model (QDQ, QOperator or QONNX .onnx).
    model: PathBuf,
    /// Folder for NAME.cnn and its data folder NAME/ (created if needed).
    #[arg(long, short = 'o', value_name = "DIR")]
    out: PathBuf,
    /// The pipeline's name (default: the model file's name).
    #[arg(long)]
    name: Option<String>,
    /// Replace NAME.cnn and NAME/ if they exist.
    #[arg(long)]
    force: bool,
}

struct Memory(HashMap<String, Vec<u8>>);

impl convoy::DataSource for Memory {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        self.0
            .get(path)
            .cloned()
            .ok_or_else(|| format!("{path}: no such file"))
    }
}

pub fn run(args: &ImportArgs) -> i32 {
    let shown = args.model.display().to_string();
    let bytes = match std::fs::read(&args.model) {
        Ok(b) => b,
        Err(e) => return fail(diag::file_error(&shown, &io_reason(&e))),
    };
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| pipeline_name(&args.model));
    let imported = match convoy::import::import(&bytes, &shown, &name) {
        Ok(i) => i,
        Err(e) => return fail(e.diagnostic()),
    };
    // Check the script before writing anything.
    let data = Memory(imported.files.iter().cloned().collect());
    let mut sources = SourceMap::new();
    let id = sources.add(format!("{name}.cnn"), imported.script.clone());
    let checked = match convoy::compile(&mut sources, id, &CheckOptions::default(), &data) {
        Ok(c) => c,
        Err(d) => {
            return fail(
                ImportError::ScriptRejected {
                    file: shown,
                    diagnostics: diag::render(&sources, &d, false),
                }
                .diagnostic(),
            )
        }
    };
    let script_path = args.out.join(format!("{name}.cnn"));
    let data_dir = args.out.join(&name);
    if !args.force {
        for p in [&script_path, &data_dir] {
            if p.exists() {
                return fail(
                    ImportError::OutputExists {
                        path: p.display().to_string(),
                    }
                    .diagnostic(),
                );
            }
        }
    }
    if let Err(d) = write(&args.out, &name, &imported) {
        return fail(d);
    }
    print_diagnostics(&sources, &checked.diagnostics);
    println!(
        "wrote {} and {} data files in {}/",
        script_path.display(),
        imported.files.len(),
        data_dir.display()
    );
    print!("{}", table::render_text(&checked.program));
    0
}

fn fail(d: convoy::Diagnostic) -> i32 {
    print_diagnostics(&SourceMap::new(), &[d]);
    1
}

/// The model file's stem as a Convoy name.
fn pipeline_name(model: &Path) -> String {
    let stem = model
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut s: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, 'm');
    }
    s
}

/// Writes into `DIR/.NAME.import-PID/`, then renames into place.
fn write(
    out: &Path,
    name: &str,
    imported: &convoy::import::Imported,
) -> Result<(), convoy::Diagnostic> {
    let err =
        |p: &Path, e: std::io::Error| diag::file_error(&p.display().to_string(), &io_reason(&e));
    std::fs::create_dir_all(out).map_err(|e| err(out, e))?;
    let temp = out.join(format!(".{name}.import-{}", std::process::id()));
    let result = (|| {
        let _ = std::fs::remove_dir_all(&temp);
        std::fs::create_dir_all(temp.join(name)).map_err(|e| err(&temp, e))?;
        std::fs::write(temp.join(format!("{name}.cnn")), &imported.script)
            .map_err(|e| err(&temp, e))?;
        for (file, bytes) in &imported.files {
            let p = temp.join(file);
            std::fs::write(&p, bytes).map_err(|e| err(&p, e))?;
        }
        let data_dir = out.join(name);
        if data_dir.exists() {
            std::fs::remove_dir_all(&data_dir).map_err(|e| err(&data_dir, e))?;
        }
        std::fs::rename(temp.join(name), &data_dir).map_err(|e| err(&data_dir, e))?;
        let script = out.join(format!("{name}.cnn"));
        std::fs::rename(temp.join(format!("{name}.cnn")), &script).map_err(|e| err(&script, e))?;
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&temp);
    result
}
