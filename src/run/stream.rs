//! The streaming driver: a batch in chunks of images sized to a memory
//! budget. Per chunk: read each batched input's images with positioned
//! reads, run the images (spread over threads when the batch has at least
//! as many images as threads, else one image at a time with the backend's
//! own row threads), encode the outputs into the chunk's output bytes, and
//! append those to each output after its header. Memory is the chunk's
//! bytes and a scratch per thread, whatever the batch's length.

use std::time::{Duration, Instant};

use super::chunk::{Chunk, InputState};
use super::io::{ByteSink, ByteSource};
use super::plan::{BatchPlan, PlannedInput};
use super::runner::ImageRunner;
use super::{InputError, StreamError};
use crate::data::{write_npy_header, ArrayView, ImageReader, ImageWriter};

/// How a batch is streamed.
#[derive(Clone, Copy, Debug)]
pub struct StreamOptions {
    /// Bytes of input and output data held per chunk (at least one image).
    pub memory_budget: usize,
    /// Read and write fixed-point values as raw codes (`--raw`).
    pub raw: bool,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            memory_budget: 64 << 20,
            raw: false,
        }
    }
}

/// Where the time of a streamed run went.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StreamStats {
    pub images: usize,
    pub chunks: usize,
    /// Threads the images were spread over (1: one image at a time).
    pub image_threads: usize,
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub read_time: Duration,
    /// Decoding, running and encoding.
    pub compute_time: Duration,
    pub write_time: Duration,
}

/// Runs every image of `plan` with `runner`, writing output `k` (program
/// output order) to `sinks[k]`: its `.npy` header first, then the images'
/// payload chunk by chunk. `progress` hears the number of images done.
pub fn run_batch<R: ImageRunner>(
    plan: &BatchPlan,
    runner: &R,
    sinks: &mut [&mut dyn ByteSink],
    options: &StreamOptions,
    progress: &mut dyn FnMut(usize),
) -> Result<StreamStats, StreamError> {
    let program = runner.program();
    let mut stats = StreamStats {
        images: plan.images,
        ..Default::default()
    };
    let (mut inputs, writers) = codecs(plan, runner, options.raw)?;
    // Headers first: the shapes are known before any image runs.
    for ((writer, info), sink) in writers.iter().zip(&program.outputs).zip(sinks.iter_mut()) {
        let mut shape = program.nodes[info.node].shape.dims();
        if plan.batched {
            shape.insert(0, plan.images);
        }
        let header = write_npy_header(&shape, writer.dtype());
        let t = Instant::now();
        sink.write_all(&header)
            .map_err(|e| write_error(&info.name, &e))?;
        stats.write_time += t.elapsed();
        stats.bytes_written += header.len() as u64;
    }
    for input in inputs.iter_mut().filter(|i| !i.planned.batched) {
        let t = Instant::now();
        input.bytes = vec![0; input.planned.image_bytes()];
        read_images(input.planned, 0, 0, 1, &mut input.bytes)?;
        stats.read_time += t.elapsed();
        stats.bytes_read += input.bytes.len() as u64;
        input.held = 1;
    }

    let per_image: usize = (inputs.iter())
        .filter(|i| i.planned.batched)
        .map(|i| i.planned.image_bytes())
        .chain(writers.iter().map(ImageWriter::image_bytes))
        .sum();
    let threads = runner.threads().max(1);
    let chunk = chunk_images(plan, per_image, threads, options.memory_budget);
    let across_images = threads > 1 && plan.images >= threads;
    stats.image_threads = if across_images { threads } else { 1 };
    let mut scratches: Vec<R::Scratch> =
        (0..stats.image_threads).map(|_| runner.scratch()).collect();
    let mut outputs: Vec<Vec<u8>> = writers.iter().map(|_| vec![]).collect();

    let mut first = 0;
    while first < plan.images {
        let n = chunk.min(plan.images - first);
        stats.chunks += 1;
        let t = Instant::now();
        for input in inputs.iter_mut().filter(|i| i.planned.batched) {
            input.bytes.resize(n * input.planned.image_bytes(), 0);
            read_images(input.planned, plan.images, first, n, &mut input.bytes)?;
            input.held = n;
            stats.bytes_read += input.bytes.len() as u64;
        }
        stats.read_time += t.elapsed();

        let t = Instant::now();
        let views: Vec<ArrayView> = inputs.iter().map(InputState::view).collect();
        let job = Chunk {
            batched: plan.batched,
            runner,
            inputs: &inputs,
            views: &views,
            writers: &writers,
            first,
            parallel: !across_images,
        };
        for (out, writer) in outputs.iter_mut().zip(&writers) {
            out.resize(n * writer.image_bytes(), 0);
        }
        let mut slices: Vec<&mut [u8]> = outputs.iter_mut().map(Vec::as_mut_slice).collect();
        job.run_on_threads(&mut scratches, n, &mut slices)?;
        stats.compute_time += t.elapsed();

        let t = Instant::now();
        for ((out, sink), info) in outputs.iter().zip(sinks.iter_mut()).zip(&program.outputs) {
            sink.write_all(out)
                .map_err(|e| write_error(&info.name, &e))?;
            stats.bytes_written += out.len() as u64;
        }
        stats.write_time += t.elapsed();
        first += n;
        progress(first);
    }
    Ok(stats)
}

/// Each input's reader and each output's writer. A dtype the type cannot be
/// read as is an error before any data is read.
pub(super) fn codecs<'p, 's, R: ImageRunner>(
    plan: &'p BatchPlan<'s>,
    runner: &R,
    raw: bool,
) -> Result<(Vec<InputState<'p, 's>>, Vec<ImageWriter>), StreamError> {
    let program = runner.program();
    let mut inputs = vec![];
    let mut errors = vec![];
    for (k, planned) in plan.inputs.iter().enumerate() {
        let node = &program.nodes[program.inputs[k].node];
        let ranges: Vec<(i128, i128)> = node.ranges.iter().map(|r| (r.lo, r.hi)).collect();
        match ImageReader::new(
            planned.header.dtype,
            &node.ty,
            raw,
            &ranges,
            &planned.dims,
            runner.input_layout(k),
        ) {
            Ok(reader) => inputs.push(InputState {
                planned,
                reader,
                bytes: vec![],
                held: 0,
            }),
            Err(e) => errors.push(InputError::Value {
                path: planned.path.clone(),
                name: planned.name.clone(),
                reason: e.to_string(),
            }),
        }
    }
    if !errors.is_empty() {
        return Err(StreamError::Input(errors));
    }
    let mut writers = vec![];
    for (k, info) in program.outputs.iter().enumerate() {
        let node = &program.nodes[info.node];
        let writer = ImageWriter::new(&node.ty, raw, &node.shape.dims(), runner.output_layout(k))
            .map_err(|e| InputError::Output {
            name: info.name.clone(),
            reason: e.to_string(),
        })?;
        writers.push(writer);
    }
    Ok((inputs, writers))
}

/// Images per chunk: what the memory budget holds, but no more than a
/// twentieth of the batch (so that the progress bar moves) unless that
/// leaves fewer than four images per thread. Fortran-order files take one
/// read per element position per chunk: they get the budget's whole chunk.
fn chunk_images(plan: &BatchPlan, per_image: usize, threads: usize, budget: usize) -> usize {
    let images = plan.images.max(1);
    let by_memory = (budget / per_image.max(1)).clamp(1, images);
    let fortran = plan
        .inputs
        .iter()
        .any(|i| i.batched && i.header.fortran_order);
    if fortran {
        return by_memory;
    }
    by_memory.min(images.div_ceil(20).max(4 * threads))
}

fn write_error(output: &str, e: &std::io::Error) -> StreamError {
    StreamError::Io {
        path: format!("{output}.npy"),
        reason: e.to_string(),
    }
}

/// Reads images `first..first + n` of `input` into `buf`, as the chunk's own
/// array `[n, ...]` in the file's order (`images`: the file's batch size).
fn read_images(
    input: &PlannedInput,
    images: usize,
    first: usize,
    n: usize,
    buf: &mut [u8],
) -> Result<(), StreamError> {
    let h = &input.header;
    let io = |e: std::io::Error| StreamError::Io {
        path: input.path.clone(),
        reason: e.to_string(),
    };
    let size = h.dtype.itemsize();
    let source: &dyn ByteSource = input.source;
    let base = h.data_offset as u64;
    if !input.batched || !h.fortran_order || n == images {
        // C order (or everything): one contiguous run.
        let offset = base + (first * input.image_bytes()) as u64;
        return source.read_at(offset, buf).map_err(io);
    }
    // Fortran order: the batch axis is fastest, so each position of an image
    // holds a run of the chunk's images.
    let run = n * size;
    for (p, slot) in buf.chunks_exact_mut(run).enumerate() {
        let offset = base + ((p * images + first) * size) as u64;
        source.read_at(offset, slot).map_err(io)?;
    }
    Ok(())
}
