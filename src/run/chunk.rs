//! One chunk of a streamed batch: its images decoded from the chunk's
//! input bytes into each thread's scratch, run, and encoded into the
//! thread's part of the chunk's output bytes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use super::plan::PlannedInput;
use super::runner::ImageRunner;
use super::{InputError, StreamError};
use crate::data::view::{c_strides, fortran_strides};
use crate::data::{ArrayView, ImageReader, ImageWriter, ReadFault, ValueError};
use crate::interp::RunError;
use crate::ir::Interval;
use crate::tensor::unravel;

/// One input's codec and, for a batched input, the chunk's bytes.
pub(super) struct InputState<'p, 's> {
    pub planned: &'p PlannedInput<'s>,
    pub reader: ImageReader,
    /// The chunk's images (batched) or the single image (not batched).
    pub bytes: Vec<u8>,
    /// Images `bytes` holds.
    pub held: usize,
}

impl InputState<'_, '_> {
    pub fn view(&self) -> ArrayView<'_> {
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

/// One chunk's work, shared by its threads.
pub(super) struct Chunk<'a, 'p, 's, R: ImageRunner> {
    /// Whether the files have a batch axis (errors then name the image).
    pub batched: bool,
    pub runner: &'a R,
    pub inputs: &'a [InputState<'p, 's>],
    pub views: &'a [ArrayView<'a>],
    pub writers: &'a [ImageWriter],
    /// The chunk's first image in the batch.
    pub first: usize,
    pub parallel: bool,
}

impl<R: ImageRunner> Chunk<'_, '_, '_, R> {
    /// Runs the chunk's `n` images, spread over one thread per scratch,
    /// encoding output `k` into `outputs[k]` (`n` images long). The error is
    /// that of the first failing image in batch order.
    ///
    /// The images go in blocks to whichever thread is free (blocks claimed
    /// in batch order): a thread the OS runs less on a shared machine, or
    /// images that take longer, do not hold up the others, as a fixed
    /// share per thread would.
    pub fn run_on_threads(
        &self,
        scratches: &mut [R::Scratch],
        n: usize,
        outputs: &mut [&mut [u8]],
    ) -> Result<(), StreamError> {
        let sizes: Vec<usize> = self.writers.iter().map(ImageWriter::image_bytes).collect();
        let parts = scratches.len().min(n).max(1);
        if parts == 1 {
            let mut slices = split_outputs(outputs, &sizes, 1, n);
            return self
                .run(&mut scratches[0], 0..n, &mut slices[0])
                .map_err(|(_, e)| e);
        }
        // About eight blocks per thread, of at most 16 images.
        let per_block = n.div_ceil(8 * parts).clamp(1, 16);
        let blocks = n.div_ceil(per_block);
        let queue = Mutex::new(
            split_outputs(outputs, &sizes, blocks, per_block)
                .into_iter()
                .enumerate(),
        );
        let failed = AtomicBool::new(false);
        let results: Vec<Result<(), (usize, StreamError)>> = std::thread::scope(|s| {
            let handles: Vec<_> = (scratches.iter_mut().take(parts))
                .map(|scratch| {
                    let (queue, failed) = (&queue, &failed);
                    s.spawn(move || {
                        // Blocks before a failing one were all claimed
                        // before it and run to their end (or fail earlier):
                        // the smallest failing image is the batch's first.
                        while !failed.load(Ordering::Relaxed) {
                            let next = match queue.lock() {
                                Ok(mut q) => q.next(),
                                Err(poisoned) => poisoned.into_inner().next(),
                            };
                            let Some((b, mut slice)) = next else {
                                return Ok(());
                            };
                            let range = b * per_block..((b + 1) * per_block).min(n);
                            if let Err(e) = self.run(scratch, range, &mut slice) {
                                failed.store(true, Ordering::Relaxed);
                                return Err(e);
                            }
                        }
                        Ok(())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err((
                            usize::MAX,
                            StreamError::Io {
                                path: String::new(),
                                reason: "a worker thread panicked".into(),
                            },
                        ))
                    })
                })
                .collect()
        });
        match results
            .into_iter()
            .filter_map(Result::err)
            .min_by_key(|(i, _)| *i)
        {
            Some((_, e)) => Err(e),
            None => Ok(()),
        }
    }

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
        // Outputs the backend stores straight into `outs` (no copy after
        // the run): their encoding is the backend's bytes as they are.
        let direct: Vec<bool> = (self.writers.iter().enumerate())
            .map(|(k, w)| w.is_plain_copy() && self.runner.direct_output(k))
            .collect();
        // Inputs the backend may read straight from the images' bytes (no
        // copy before the run) when an image's layout and values allow.
        let direct_in: Vec<bool> = (0..self.inputs.len())
            .map(|k| self.runner.direct_input(k))
            .collect();
        for i in range.clone() {
            let image = self.first + i;
            let fail = |e: StreamError| (image, e);
            let mut from: Vec<Option<&[u8]>> = vec![None; self.inputs.len()];
            for (k, (input, view)) in self.inputs.iter().zip(self.views).enumerate() {
                let one = if input.planned.batched {
                    view.image(i)
                } else {
                    Some(view.clone())
                };
                let one = one.ok_or_else(|| fail(payload_error(input)))?;
                if direct_in[k] {
                    from[k] = input.reader.in_place(&one);
                    if from[k].is_some() {
                        continue;
                    }
                }
                let dst = self.runner.input_bytes(scratch, k);
                if let Err(fault) = input.reader.read(&one, dst, &mut gather) {
                    return Err(fail(self.read_error(k, image, fault)));
                }
            }
            let mut into: Vec<Option<&mut [u8]>> = (self.writers.iter().zip(outs.iter_mut()))
                .zip(&direct)
                .map(|((writer, out), &direct)| {
                    let size = writer.image_bytes();
                    let at = (i - range.start) * size;
                    direct.then(|| &mut out[at..at + size])
                })
                .collect();
            self.runner
                .run_into(scratch, self.parallel, &from, &mut into)
                .map_err(|e| fail(StreamError::Run(e)))?;
            drop(into);
            for (k, writer) in self.writers.iter().enumerate() {
                if direct[k] {
                    continue;
                }
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
            } if self.batched => {
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

/// Splits every output into `parts` consecutive slices of `per_part`
/// images (the last may be shorter or empty): slice `[p][k]` is output
/// `k`'s part for thread `p`.
fn split_outputs<'o>(
    outputs: &'o mut [&mut [u8]],
    sizes: &[usize],
    parts: usize,
    per_part: usize,
) -> Vec<Vec<&'o mut [u8]>> {
    let mut slices: Vec<Vec<&mut [u8]>> = (0..parts).map(|_| vec![]).collect();
    for (out, &size) in outputs.iter_mut().zip(sizes) {
        let mut rest: &mut [u8] = out;
        for part in slices.iter_mut() {
            let take = (per_part * size).min(rest.len());
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(take);
            part.push(head);
            rest = tail;
        }
    }
    slices
}
