//! The streaming driver: a batch in chunks of images sized to a memory
//! budget. Per chunk: read each batched input's images with positioned
//! reads, run the images (spread over threads when the batch has at least
//! as many images as threads, else one image at a time with the backend's
//! own row threads), encode the outputs into the chunk's output bytes, and
//! append those to each output after its header. Memory is the chunk's
//! bytes and a scratch per thread, whatever the batch's length.

use std::time::{Duration, Instant};

use super::io::{ByteSink, ByteSource};
use super::plan::{BatchPlan, PlannedInput};
use super::runner::ImageRunner;
use super::{InputError, StreamError};
use crate::data::view::{c_strides, fortran_strides};
use crate::data::{write_npy_header, ArrayView, ImageReader, ImageWriter, ReadFault, ValueError};
use crate::interp::RunError;
use crate::ir::Interval;
use crate::tensor::unravel;

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

/// One input's codec and, for a batched input, the chunk's bytes.
struct InputState<'p, 's> {
    planned: &'p PlannedInput<'s>,
    reader: ImageReader,
    /// The chunk's images (batched) or the single image (not batched).
    bytes: Vec<u8>,
    /// Images `bytes` holds.
    held: usize,
}

impl InputState<'_, '_> {
    fn view(&self) -> ArrayView<'_> {
        let h = &self.planned.header;
        if !self.planned.batched {
            return ArrayView::of_npy(h, &self.bytes);
        }
        let mut shape = vec![self.held];
        shape.extend_from_slice(&self.planned.dims);
        let strides = if h.fortran_order {
            fortran_strides(&shape)
        } else {
            c_strides(&shape)
        };
        ArrayView {
            dtype: h.dtype,
            order: h.order,
            shape,
            strides,
            bytes: &self.bytes,
        }
    }
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
    // Codecs: a dtype the type cannot be read as is an error before any data.
    let mut inputs = vec![];
    let mut errors = vec![];
    for (k, planned) in plan.inputs.iter().enumerate() {
        let node = &program.nodes[program.inputs[k].node];
        let ranges: Vec<(i128, i128)> = node.ranges.iter().map(|r| (r.lo, r.hi)).collect();
        match ImageReader::new(
            planned.header.dtype,
            &node.ty,
            options.raw,
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
        let writer = ImageWriter::new(
            &node.ty,
            options.raw,
            &node.shape.dims(),
            runner.output_layout(k),
        )
        .map_err(|e| InputError::Output {
            name: info.name.clone(),
            reason: e.to_string(),
        })?;
        writers.push(writer);
    }
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
        for (out, w) in outputs.iter_mut().zip(&writers) {
            out.resize(n * w.image_bytes(), 0);
        }
        let views: Vec<ArrayView> = inputs.iter().map(InputState::view).collect();
        let job = Chunk {
            plan,
            runner,
            inputs: &inputs,
            views: &views,
            writers: &writers,
            first,
            parallel: !across_images,
        };
        let parts = scratches.len().min(n);
        let per_part = n.div_ceil(parts);
        // Each thread's slice of every output: images a..b of the chunk.
        let mut slices: Vec<Vec<&mut [u8]>> = (0..parts).map(|_| vec![]).collect();
        for (out, w) in outputs.iter_mut().zip(&writers) {
            let step = (per_part * w.image_bytes()).max(1);
            for (part, slice) in out.chunks_mut(step).enumerate() {
                slices[part].push(slice);
            }
        }
        for part in slices.iter_mut() {
            // Outputs of zero bytes have no chunk slices: pad so every part
            // has one slice per output.
            while part.len() < writers.len() {
                part.push(&mut []);
            }
        }
        let result = if parts <= 1 {
            job.run(&mut scratches[0], 0..n, &mut slices[0])
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = (scratches.iter_mut())
                    .zip(slices.iter_mut())
                    .enumerate()
                    .map(|(p, (scratch, slice))| {
                        let job = &job;
                        let range = p * per_part..((p + 1) * per_part).min(n);
                        s.spawn(move || job.run(scratch, range, slice))
                    })
                    .collect();
                // The first failing image in batch order wins.
                let mut first_error: Result<(), (usize, StreamError)> = Ok(());
                for h in handles {
                    let r = h.join().unwrap_or_else(|_| {
                        Err((
                            usize::MAX,
                            StreamError::Io {
                                path: String::new(),
                                reason: "a worker thread panicked".into(),
                            },
                        ))
                    });
                    if let Err((i, e)) = r {
                        if first_error.as_ref().err().is_none_or(|f| i < f.0) {
                            first_error = Err((i, e));
                        }
                    }
                }
                first_error
            })
        };
        drop(slices);
        result.map_err(|(_, e)| e)?;
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

/// One chunk's work, shared by its threads.
struct Chunk<'a, 'p, 's, R: ImageRunner> {
    plan: &'a BatchPlan<'s>,
    runner: &'a R,
    inputs: &'a [InputState<'p, 's>],
    views: &'a [ArrayView<'a>],
    writers: &'a [ImageWriter],
    /// The chunk's first image in the batch.
    first: usize,
    parallel: bool,
}

impl<R: ImageRunner> Chunk<'_, '_, '_, R> {
    /// Runs the chunk's images `range`, encoding output `k` of image `i` into
    /// `outs[k]` (which starts at `range.start`).
    fn run(
        &self,
        scratch: &mut R::Scratch,
        range: std::ops::Range<usize>,
        outs: &mut [&mut [u8]],
    ) -> Result<(), (usize, StreamError)> {
        let program = self.runner.program();
        let mut gather = vec![];
        for i in range.clone() {
            let image = self.first + i;
            let fail = |e: StreamError| (image, e);
            for (k, (input, view)) in self.inputs.iter().zip(self.views).enumerate() {
                let one = if input.planned.batched {
                    view.image(i)
                } else {
                    Some(view.clone())
                };
                let one = one.ok_or_else(|| fail(payload_error(input)))?;
                let dst = self.runner.input_bytes(scratch, k);
                if let Err(fault) = input.reader.read(&one, dst, &mut gather) {
                    return Err(fail(self.read_error(k, image, fault)));
                }
            }
            self.runner
                .run(scratch, self.parallel)
                .map_err(|e| fail(StreamError::Run(e)))?;
            for (k, writer) in self.writers.iter().enumerate() {
                let size = writer.image_bytes();
                let at = (i - range.start) * size;
                let dst = &mut outs[k][at..at + size];
                let src = self.runner.output_bytes(scratch, k);
                writer.write(src, dst).map_err(|e| {
                    let info = &program.outputs[k];
                    fail(
                        InputError::Output {
                            name: info.name.clone(),
                            reason: self.batch_index(e, image).to_string(),
                        }
                        .into(),
                    )
                })?;
            }
        }
        Ok(())
    }

    /// The error for image `image` of input `k`, as the whole-file path words it.
    fn read_error(&self, k: usize, image: usize, fault: ReadFault) -> StreamError {
        let input = &self.inputs[k];
        match fault {
            ReadFault::Value(e) => InputError::Value {
                path: input.planned.path.clone(),
                name: input.planned.name.clone(),
                reason: self.batch_index(e, image).to_string(),
            }
            .into(),
            ReadFault::Range { flat, channel, raw } => {
                let program = self.runner.program();
                let node = &program.nodes[program.inputs[k].node];
                let range = node
                    .ranges
                    .get(channel)
                    .copied()
                    .unwrap_or(Interval { lo: 0, hi: 0 });
                RunError::InputRange {
                    input: input.planned.name.clone(),
                    ty: node.ty,
                    index: unravel(flat, &input.planned.dims),
                    channel,
                    value: raw,
                    frac: node.frac,
                    range,
                }
                .into()
            }
            ReadFault::Payload => payload_error(input),
        }
    }

    /// Puts the image's position in front of an element's index when the
    /// files have a batch axis.
    fn batch_index(&self, e: ValueError, image: usize) -> ValueError {
        match e {
            ValueError::Element {
                mut index,
                value,
                ty,
                problem,
            } if self.plan.batched => {
                index.insert(0, image);
                ValueError::Element {
                    index,
                    value,
                    ty,
                    problem,
                }
            }
            other => other,
        }
    }
}

fn payload_error(input: &InputState) -> StreamError {
    StreamError::Io {
        path: input.planned.path.clone(),
        reason: "the data is shorter than the header says".into(),
    }
}
