//! `convoy._convoy`: the native half of the Python package. It calls the
//! library's public surface (compile, the stage table, `run::run_arrays`,
//! the JIT, the HLS emitter and estimate) and hands plain data to the
//! Python half (`python/convoy/__init__.py`), which shapes the arrays and
//! raises the public exception classes from [`Failure`]'s arguments.

#![deny(clippy::unwrap_used)]

mod pipeline;
mod report;

use convoy::diag::SourceMap;
use convoy::span::SourceId;
use convoy::{CheckOptions, DataSource};
use pyo3::prelude::*;
use std::cell::RefCell;
use std::path::{Path, PathBuf};

pyo3::create_exception!(
    _convoy,
    Failure,
    pyo3::exceptions::PyException,
    "Raised by the native module as (kind, message, diagnostics); the Python \
     half turns it into CheckError, InputError, RunError or ConvoyError."
);

/// Where `load("...")` files come from: a folder (and every file read is
/// kept, so that the pipeline can be pickled and checked again elsewhere,
/// on a Ray worker say), or the files kept by an earlier check.
enum Files {
    Folder {
        dir: PathBuf,
        read: RefCell<Vec<(String, Vec<u8>)>>,
    },
    Kept(Vec<(String, Vec<u8>)>),
}

impl DataSource for Files {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        match self {
            Files::Folder { dir, read } => {
                let full = dir.join(path);
                let bytes = std::fs::read(&full)
                    .map_err(|e| format!("{}: {}", full.display(), report::io_reason(&e)))?;
                read.borrow_mut().push((path.to_string(), bytes.clone()));
                Ok(bytes)
            }
            Files::Kept(files) => (files.iter())
                .find(|(p, _)| p == path)
                .map(|(_, b)| b.clone())
                .ok_or_else(|| format!("{path}: not among the pickled pipeline's files")),
        }
    }
}

/// Checks `text` (named `name` in diagnostics) with `load(...)` from
/// `files`; a `Failure("check", ...)` on errors.
fn check_source(
    name: String,
    text: String,
    files: Files,
    pipeline: Option<String>,
) -> PyResult<pipeline::Pipeline> {
    let mut sources = SourceMap::new();
    let id: SourceId = sources.add(name.clone(), text.clone());
    let options = CheckOptions {
        pipeline: pipeline.clone(),
    };
    match convoy::compile(&mut sources, id, &options, &files) {
        Ok(checked) => {
            let kept = match files {
                Files::Folder { read, .. } => read.into_inner(),
                Files::Kept(kept) => kept,
            };
            let origin = pipeline::Origin {
                name,
                text,
                pipeline,
                files: kept,
            };
            Ok(pipeline::Pipeline::new(sources, checked, origin))
        }
        Err(diagnostics) => Err(report::failure("check", &sources, &diagnostics)),
    }
}

fn folder(dir: PathBuf) -> Files {
    Files::Folder {
        dir,
        read: RefCell::new(vec![]),
    }
}

/// Reads and checks a `.cnn` file.
#[pyfunction]
#[pyo3(signature = (path, pipeline=None))]
fn load(path: PathBuf, pipeline: Option<String>) -> PyResult<pipeline::Pipeline> {
    let text = match std::fs::read(&path) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|_| {
            let d = convoy::diag::file_error(&path.display().to_string(), "not UTF-8 text");
            report::failure("io", &SourceMap::new(), &[d])
        })?,
        Err(e) => {
            let d = convoy::diag::file_error(&path.display().to_string(), &report::io_reason(&e));
            return Err(report::failure("io", &SourceMap::new(), &[d]));
        }
    };
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    check_source(path.display().to_string(), text, folder(dir), pipeline)
}

/// Checks source text; `load(...)` paths are relative to `base_dir`.
#[pyfunction]
#[pyo3(signature = (source, pipeline=None, name="<string>".to_string(), base_dir=PathBuf::from(".")))]
fn compile(
    source: String,
    pipeline: Option<String>,
    name: String,
    base_dir: PathBuf,
) -> PyResult<pipeline::Pipeline> {
    check_source(name, source, folder(base_dir), pipeline)
}

/// Checks a pipeline again from `Pipeline.origin()` (unpickling).
#[pyfunction]
fn restore(
    name: String,
    source: String,
    pipeline: Option<String>,
    files: Vec<(String, Vec<u8>)>,
) -> PyResult<pipeline::Pipeline> {
    check_source(name, source, Files::Kept(files), pipeline)
}

#[pymodule]
fn _convoy(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("Failure", m.py().get_type::<Failure>())?;
    m.add_class::<pipeline::Pipeline>()?;
    m.add_function(wrap_pyfunction!(load, m)?)?;
    m.add_function(wrap_pyfunction!(compile, m)?)?;
    m.add_function(wrap_pyfunction!(restore, m)?)?;
    Ok(())
}
