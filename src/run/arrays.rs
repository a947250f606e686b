//! Running a batch held in memory: arrays handed in as C-order bytes with
//! numpy's dtype strings (the Python package passes numpy's own buffers),
//! outputs written into buffers the caller allocated from
//! [`ArrayPlan::outputs`]. The matching, codecs, errors and threads are
//! those of a streamed run of the same arrays as files ([`super::stream`]),
//! so the bytes out are those `convoy run` writes; nothing is copied on the
//! way in beyond decoding each image into the backend's buffers.

use super::chunk::Chunk;
use super::plan::{batch_plan, planned_input, BatchPlan};
use super::runner::ImageRunner;
use super::stream::codecs;
use super::{ByteSource, InputError, StreamError};
use crate::data::dtype::parse_descr;
use crate::data::view::c_strides;
use crate::data::{ArrayView, Dtype, NpyError, NpyHeader};

/// One input array: C-order bytes, numpy's dtype string (`<f8`, `|u1`,
/// `>i2`) and shape, with a leading batch axis `[N, ...]` or without.
pub struct ArrayInput<'a> {
    pub name: String,
    pub descr: String,
    pub shape: Vec<usize>,
    pub bytes: &'a [u8],
}

/// An output array of a batch: its dtype (by the data-file rules) and shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputArray {
    pub name: String,
    pub dtype: Dtype,
    pub shape: Vec<usize>,
}

impl OutputArray {
    pub fn byte_len(&self) -> usize {
        self.shape.iter().product::<usize>() * self.dtype.itemsize()
    }
}

/// A batch of arrays matched to a program, and the outputs it will write.
pub struct ArrayPlan<'a> {
    plan: BatchPlan<'static>,
    /// Per input in program order, its bytes as a view.
    views: Vec<ArrayView<'a>>,
    raw: bool,
    pub outputs: Vec<OutputArray>,
}

impl ArrayPlan<'_> {
    /// Images in the batch (1 without a batch axis).
    pub fn images(&self) -> usize {
        self.plan.images
    }
}

/// The inputs have no source of their own: their bytes come as views.
static NO_BYTES: Vec<u8> = Vec::new();

/// Matches `arrays` to `runner`'s program (names, dtypes, shapes, a shared
/// batch axis) and lists the outputs. Errors name the array as `path` the
/// way a file would be named: `where_(name)`.
pub fn plan_arrays<'a, R: ImageRunner>(
    runner: &R,
    arrays: &[ArrayInput<'a>],
    raw: bool,
    where_: impl Fn(&str) -> String,
) -> Result<ArrayPlan<'a>, StreamError> {
    let program = runner.program();
    let by_input = super::match_inputs(program, arrays, |a| &a.name).map_err(StreamError::Input)?;
    let mut errors = vec![];
    let mut inputs = vec![];
    let mut views = vec![];
    for (info, a) in program.inputs.iter().zip(by_input) {
        let path = where_(&a.name);
        let (dtype, order) = match parse_descr(&a.descr) {
            Ok(d) => d,
            Err(kind) => {
                let reason = NpyError::UnsupportedDtype {
                    descr: a.descr.clone(),
                    kind,
                };
                errors.push(InputError::Value {
                    path,
                    name: a.name.clone(),
                    reason: reason.to_string(),
                });
                continue;
            }
        };
        let len = a
            .shape
            .iter()
            .try_fold(dtype.itemsize(), |n, &d| n.checked_mul(d));
        if len != Some(a.bytes.len()) {
            errors.push(InputError::Value {
                path,
                name: a.name.clone(),
                reason: format!(
                    "{} bytes do not hold a C-order {dtype} array of shape {:?}",
                    a.bytes.len(),
                    a.shape
                ),
            });
            continue;
        }
        let header = NpyHeader {
            dtype,
            order,
            fortran_order: false,
            shape: a.shape.clone(),
            data_offset: 0,
        };
        let source: &'static dyn ByteSource = &NO_BYTES;
        match planned_input(program, info, path, source, header) {
            Ok(p) => {
                inputs.push(p);
                views.push(ArrayView {
                    dtype,
                    order,
                    shape: a.shape.clone(),
                    strides: c_strides(&a.shape),
                    bytes: a.bytes,
                });
            }
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(StreamError::Input(errors));
    }
    let plan = batch_plan(inputs)?;
    let (_, writers) = codecs(&plan, runner, raw)?;
    let outputs = (program.outputs.iter())
        .zip(&writers)
        .map(|(info, writer)| {
            let mut shape = program.nodes[info.node].shape.dims();
            if plan.batched {
                shape.insert(0, plan.images);
            }
            OutputArray {
                name: info.name.clone(),
                dtype: writer.dtype(),
                shape,
            }
        })
        .collect();
    Ok(ArrayPlan {
        plan,
        views,
        raw,
        outputs,
    })
}

/// Runs every image of `plan` with `runner` (the one it was planned with),
/// writing output `k` into `outputs[k]`, C order, `plan.outputs[k]`'s dtype
/// (little-endian) and shape. Images are spread over the runner's threads
/// when there are at least as many, else run one at a time with the
/// backend's row threads, as [`super::run_batch`] does.
pub fn run_arrays<R: ImageRunner>(
    runner: &R,
    plan: &ArrayPlan,
    outputs: &mut [&mut [u8]],
) -> Result<(), StreamError> {
    for (k, (out, spec)) in outputs.iter().zip(&plan.outputs).enumerate() {
        if out.len() != spec.byte_len() {
            return Err(InputError::Output {
                name: spec.name.clone(),
                reason: format!(
                    "the buffer has {} bytes, the output needs {} (output {k})",
                    out.len(),
                    spec.byte_len()
                ),
            }
            .into());
        }
    }
    if outputs.len() != plan.outputs.len() {
        return Err(InputError::Output {
            name: String::new(),
            reason: format!(
                "{} buffers for {} outputs",
                outputs.len(),
                plan.outputs.len()
            ),
        }
        .into());
    }
    let (inputs, writers) = codecs(&plan.plan, runner, plan.raw)?;
    let threads = runner.threads().max(1);
    let images = plan.plan.images;
    let across_images = threads > 1 && images >= threads;
    let parts = if across_images { threads } else { 1 };
    let mut scratches: Vec<R::Scratch> = (0..parts).map(|_| runner.scratch()).collect();
    let job = Chunk {
        batched: plan.plan.batched,
        runner,
        inputs: &inputs,
        views: &plan.views,
        writers: &writers,
        first: 0,
        parallel: !across_images,
    };
    job.run_on_threads(&mut scratches, images, outputs)
}
