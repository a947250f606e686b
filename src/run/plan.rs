//! Matching data files to a program from their headers alone: which file
//! feeds which input, each file's layout, the batch size.

use super::io::ByteSource;
use super::{InputError, StreamError};
use crate::data::npy_header::PREAMBLE_MAX;
use crate::data::{npy_header_end, parse_npy_header, NpyError, NpyHeader};
use crate::ir::Program;

/// One `--input NAME=PATH`, opened by the caller.
pub struct InputSpec<'s> {
    pub name: String,
    pub path: String,
    pub source: &'s dyn ByteSource,
}

/// One input of the program with its file.
pub struct PlannedInput<'s> {
    pub name: String,
    pub path: String,
    pub source: &'s dyn ByteSource,
    pub header: NpyHeader,
    /// Whether the file has the leading batch axis (else every image reads it).
    pub batched: bool,
    /// The input's declared shape.
    pub dims: Vec<usize>,
}

impl PlannedInput<'_> {
    /// Bytes of one image in the file.
    pub fn image_bytes(&self) -> usize {
        self.dims.iter().product::<usize>() * self.header.dtype.itemsize()
    }
}

/// The files of a run, matched to the program's inputs (in program order).
pub struct BatchPlan<'s> {
    pub inputs: Vec<PlannedInput<'s>>,
    /// Images in the batch (1 without a batch axis).
    pub images: usize,
    /// Whether the inputs carry a batch axis (the outputs then carry one too).
    pub batched: bool,
}

/// Reads every file's header and matches the files to `program`'s inputs.
/// The errors are those of [`super::decode_inputs`] that a header shows.
pub fn plan_batch<'s>(
    program: &Program,
    files: &[InputSpec<'s>],
) -> Result<BatchPlan<'s>, StreamError> {
    let by_input = super::match_inputs(program, files, |f| &f.name).map_err(StreamError::Input)?;
    let mut errors = vec![];
    let mut inputs = vec![];
    for (info, f) in program.inputs.iter().zip(by_input) {
        let bad = |e: NpyError| InputError::BadNpy {
            path: f.path.clone(),
            reason: e.to_string(),
        };
        let header = match read_header(f.source, &f.path)? {
            Ok(h) => h,
            Err(e) => {
                errors.push(bad(e));
                continue;
            }
        };
        match planned_input(program, info, f.path.clone(), f.source, header) {
            Ok(p) => inputs.push(p),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(StreamError::Input(errors));
    }
    batch_plan(inputs)
}

/// One input's data described by `header`, matched to the input's declared
/// shape: exactly it, or it under a leading batch axis.
pub(super) fn planned_input<'s>(
    program: &Program,
    info: &crate::ir::InputInfo,
    path: String,
    source: &'s dyn ByteSource,
    header: NpyHeader,
) -> Result<PlannedInput<'s>, InputError> {
    let dims = program.nodes[info.node].shape.dims();
    let batched = if header.shape == dims {
        false
    } else if header.shape.len() == dims.len() + 1 && header.shape[1..] == dims[..] {
        true
    } else {
        return Err(InputError::Shape {
            path,
            name: info.name.clone(),
            declared: dims,
            found: header.shape.clone(),
        });
    };
    Ok(PlannedInput {
        name: info.name.clone(),
        path,
        source,
        header,
        batched,
        dims,
    })
}

/// The batch of matched inputs: every batched one must have the same size.
pub(super) fn batch_plan(inputs: Vec<PlannedInput<'_>>) -> Result<BatchPlan<'_>, StreamError> {
    let batches: Vec<&PlannedInput> = inputs.iter().filter(|i| i.batched).collect();
    if let (Some(first), Some(other)) = (
        batches.first(),
        batches
            .iter()
            .find(|b| b.header.shape[0] != batches[0].header.shape[0]),
    ) {
        return Err(InputError::BatchMismatch {
            first: (first.name.clone(), first.header.shape[0]),
            other: (other.name.clone(), other.header.shape[0]),
        }
        .into());
    }
    let batched = !batches.is_empty();
    let images = batches.first().map_or(1, |b| b.header.shape[0]);
    Ok(BatchPlan {
        inputs,
        images,
        batched,
    })
}

/// The header of a `.npy` source, checked against the source's length as
/// [`crate::data::parse_npy`] checks a whole file. The outer error is a read
/// failure, the inner one a bad file.
fn read_header(
    source: &dyn ByteSource,
    path: &str,
) -> Result<Result<NpyHeader, NpyError>, StreamError> {
    let io = |e: std::io::Error| StreamError::Io {
        path: path.to_string(),
        reason: e.to_string(),
    };
    let len = usize::try_from(source.len()).unwrap_or(usize::MAX);
    let mut prefix = vec![0u8; len.min(PREAMBLE_MAX)];
    source.read_at(0, &mut prefix).map_err(io)?;
    let end = match npy_header_end(&prefix) {
        Ok(end) => end,
        Err(e) => return Ok(Err(e)),
    };
    let mut bytes = vec![0u8; len.min(end)];
    source.read_at(0, &mut bytes).map_err(io)?;
    let header = match parse_npy_header(&bytes) {
        Ok(h) => h,
        Err(e) => return Ok(Err(e)),
    };
    let expected = match header.data_len() {
        Ok(n) => n,
        Err(e) => return Ok(Err(e)),
    };
    let found = len - header.data_offset;
    if found != expected {
        return Ok(Err(NpyError::DataLength { expected, found }));
    }
    Ok(Ok(header))
}
