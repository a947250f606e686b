//! The whole-file path: every input decoded to exact tensors at once, every
//! output encoded from them. `convoy emit` and `convoy bench` use it for a
//! few images, and the tests hold the streaming driver to it byte for byte.

use super::InputError;
use crate::data::{self, NpyArray};
use crate::ir::Program;
use crate::tensor::Tensor;

/// One `--input NAME=PATH` after the caller read the file.
pub struct InputFile {
    pub name: String,
    pub path: String,
    pub bytes: Vec<u8>,
}

/// The decoded inputs: one `Vec<Tensor>` (in program input order) per image.
pub struct Batch {
    pub images: Vec<Vec<Tensor>>,
    /// Whether the files carried a batch axis (the outputs then carry one too).
    pub batched: bool,
}

pub fn decode_inputs(
    program: &Program,
    files: &[InputFile],
    raw: bool,
) -> Result<Batch, Vec<InputError>> {
    let by_input = super::match_inputs(program, files, |f| &f.name)?;
    let mut errors = vec![];
    // (per input: batch size or None, raw values)
    let mut decoded: Vec<(Option<usize>, Vec<i128>, &InputFile)> = vec![];
    for (info, f) in program.inputs.iter().zip(by_input) {
        let node = &program.nodes[info.node];
        let arr: NpyArray = match data::parse_npy(&f.bytes) {
            Ok(a) => a,
            Err(e) => {
                errors.push(InputError::BadNpy {
                    path: f.path.clone(),
                    reason: e.to_string(),
                });
                continue;
            }
        };
        let dims = node.shape.dims();
        let batch = if arr.shape == dims {
            None
        } else if arr.shape.len() == dims.len() + 1 && arr.shape[1..] == dims[..] {
            Some(arr.shape[0])
        } else {
            errors.push(InputError::Shape {
                path: f.path.clone(),
                name: info.name.clone(),
                declared: dims,
                found: arr.shape.clone(),
            });
            continue;
        };
        match data::npy_to_raw(&arr, &node.ty, raw) {
            Ok(values) => decoded.push((batch, values, f)),
            Err(e) => errors.push(InputError::Value {
                path: f.path.clone(),
                name: f.name.clone(),
                reason: e.to_string(),
            }),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let batches: Vec<(usize, &InputFile)> = decoded
        .iter()
        .filter_map(|(b, _, f)| b.map(|n| (n, *f)))
        .collect();
    if let (Some(first), Some(other)) = (
        batches.first(),
        batches.iter().find(|b| b.0 != batches[0].0),
    ) {
        return Err(vec![InputError::BatchMismatch {
            first: (first.1.name.clone(), first.0),
            other: (other.1.name.clone(), other.0),
        }]);
    }
    let batched = !batches.is_empty();
    let count = batches.first().map_or(1, |b| b.0);
    let images = (0..count)
        .map(|n| {
            program
                .inputs
                .iter()
                .zip(&decoded)
                .map(|(info, (b, values, _))| {
                    let node = &program.nodes[info.node];
                    let len = node.shape.len();
                    let start = if b.is_some() { n * len } else { 0 };
                    Tensor {
                        shape: node.shape.dims(),
                        frac: node.frac,
                        data: values[start..start + len].to_vec(),
                    }
                })
                .collect()
        })
        .collect();
    Ok(Batch { images, batched })
}

/// Stacks each output over the images and encodes it as `.npy` bytes, in the
/// narrowest numpy dtype of the output's type. Returns `(output name, bytes)`.
pub fn encode_outputs(
    program: &Program,
    results: &[Vec<Tensor>],
    batched: bool,
    raw: bool,
) -> Result<Vec<(String, Vec<u8>)>, InputError> {
    let mut out = vec![];
    for (k, info) in program.outputs.iter().enumerate() {
        let node = &program.nodes[info.node];
        let mut shape = node.shape.dims();
        if batched {
            shape.insert(0, results.len());
        }
        let values: Vec<i128> = results
            .iter()
            .flat_map(|r| r[k].data.iter().copied())
            .collect();
        let bytes =
            data::raw_to_npy(&shape, &values, &node.ty, raw).map_err(|e| InputError::Output {
                name: info.name.clone(),
                reason: e.to_string(),
            })?;
        out.push((info.name.clone(), bytes));
    }
    Ok(out)
}
