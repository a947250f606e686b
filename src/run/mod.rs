//! Running a checked program on data files, a batch at a time.
//!
//! `plan` reads every input's `.npy` header and matches the files to the
//! program (names, shapes, a shared leading batch axis [N, ...]); `stream`
//! then runs the batch in chunks sized to a memory budget: each chunk's
//! images are read with positioned reads, decoded straight into the
//! backend's buffers (`data::ImageReader`), run on several threads across
//! images (or across rows, for small batches), encoded from the buffers in
//! the output file's dtype (`data::ImageWriter`) and appended to each
//! output, whose header was written first. `runner` adapts the JIT and the
//! interpreter to that loop. `whole` is the earlier path that decodes whole
//! files into tensors (for a few images: `convoy emit`, `convoy bench`).
//!
//! `arrays` runs a batch already in memory (the Python package's numpy
//! arrays) through the same codecs and threads, into caller-owned buffers.
//!
//! Pure: the caller hands in [`ByteSource`]s and [`ByteSink`]s (files for
//! the CLI, memory for tests) and renames the outputs into place only when
//! [`stream::run_batch`] succeeded.

mod arrays;
mod chunk;
mod io;
pub mod plan;
pub mod runner;
pub mod stream;
mod whole;

pub use arrays::{plan_arrays, run_arrays, ArrayInput, ArrayPlan, OutputArray};
pub use io::{ByteSink, ByteSource};
pub use plan::{plan_batch, BatchPlan, InputSpec};
pub use runner::{ImageRunner, InterpRunner, JitRunner};
pub use stream::{run_batch, StreamOptions, StreamStats};
pub use whole::{decode_inputs, encode_outputs, Batch, InputFile};

use crate::interp::RunError;
use crate::jit::ExecError;

/// What can be wrong with the data handed to a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputError {
    Missing {
        name: String,
    },
    Unknown {
        name: String,
        available: Vec<String>,
    },
    Duplicate {
        name: String,
    },
    BadNpy {
        path: String,
        reason: String,
    },
    Shape {
        path: String,
        name: String,
        declared: Vec<usize>,
        found: Vec<usize>,
    },
    Value {
        path: String,
        name: String,
        reason: String,
    },
    BatchMismatch {
        first: (String, usize),
        other: (String, usize),
    },
    Output {
        name: String,
        reason: String,
    },
}

/// Why a streamed run stopped. Outputs are then incomplete: the caller
/// discards them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamError {
    /// The files do not fit the program, or a value does not fit its type.
    Input(Vec<InputError>),
    /// The backend stopped on an image (a bad unpool index, an input
    /// outside its proven range).
    Run(ExecError),
    /// A file could not be read or written.
    Io { path: String, reason: String },
}

impl From<InputError> for StreamError {
    fn from(e: InputError) -> Self {
        StreamError::Input(vec![e])
    }
}

impl From<RunError> for StreamError {
    fn from(e: RunError) -> Self {
        StreamError::Run(ExecError::from(e))
    }
}

/// Matches named files to `program`'s inputs, in the program's input order:
/// every input given exactly once, no unknown name. All mismatches are
/// reported together.
fn match_inputs<'f, F>(
    program: &crate::ir::Program,
    files: &'f [F],
    name: impl Fn(&F) -> &String,
) -> Result<Vec<&'f F>, Vec<InputError>> {
    let mut errors = vec![];
    let mut by_input: Vec<Option<&F>> = vec![None; program.inputs.len()];
    for f in files {
        match program.inputs.iter().position(|i| i.name == *name(f)) {
            Some(i) if by_input[i].is_some() => errors.push(InputError::Duplicate {
                name: name(f).clone(),
            }),
            Some(i) => by_input[i] = Some(f),
            None => errors.push(InputError::Unknown {
                name: name(f).clone(),
                available: program.inputs.iter().map(|i| i.name.clone()).collect(),
            }),
        }
    }
    for (info, f) in program.inputs.iter().zip(&by_input) {
        if f.is_none() {
            errors.push(InputError::Missing {
                name: info.name.clone(),
            });
        }
    }
    if errors.is_empty() {
        Ok(by_input.into_iter().flatten().collect())
    } else {
        Err(errors)
    }
}
