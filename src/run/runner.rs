//! The backends as the streaming driver sees them: per thread a scratch
//! holding one image's buffers, input buffers to fill in a layout, a run,
//! output buffers to read in a layout.

use crate::data::{ElemType, ImageLayout};
use crate::ir::Program;
use crate::jit::{CompiledPipeline, ExecError, Workspace};
use crate::tensor::Tensor;

/// A backend that runs one image at a time on buffers it lays out.
pub trait ImageRunner: Sync {
    /// One thread's buffers.
    type Scratch: Send;
    fn program(&self) -> &Program;
    fn scratch(&self) -> Self::Scratch;
    /// Where input `k`'s values go (program input order).
    fn input_layout(&self, k: usize) -> ImageLayout;
    /// Where output `k`'s values are after [`Self::run`].
    fn output_layout(&self, k: usize) -> ImageLayout;
    fn input_bytes<'s>(&self, scratch: &'s mut Self::Scratch, k: usize) -> &'s mut [u8];
    fn output_bytes<'s>(&self, scratch: &'s Self::Scratch, k: usize) -> &'s [u8];
    /// Runs the image whose inputs were written; `parallel`: the backend may
    /// use its own threads (only when images are not spread over threads).
    fn run(&self, scratch: &mut Self::Scratch, parallel: bool) -> Result<(), ExecError>;
    /// Whether [`Self::run_into`] can store output `k` straight into the
    /// caller's bytes (a dense [`Self::output_layout`]).
    fn direct_output(&self, _k: usize) -> bool {
        false
    }
    /// Whether [`Self::run_into`] can read input `k` straight from the
    /// caller's bytes (a dense [`Self::input_layout`]).
    fn direct_input(&self, _k: usize) -> bool {
        false
    }
    /// [`Self::run`], with input `k` read from `inputs[k]` when given (only
    /// inputs [`Self::direct_input`] allows, values in the input's
    /// layout and ranges) and output `k` stored in `outputs[k]` when given
    /// (only outputs [`Self::direct_output`] allows) instead of the scratch.
    fn run_into(
        &self,
        scratch: &mut Self::Scratch,
        parallel: bool,
        inputs: &[Option<&[u8]>],
        outputs: &mut [Option<&mut [u8]>],
    ) -> Result<(), ExecError> {
        if inputs.iter().any(Option::is_some) || outputs.iter().any(Option::is_some) {
            return Err(ExecError::ForeignWorkspace);
        }
        self.run(scratch, parallel)
    }
    /// Threads the backend would use for one image (`--threads`).
    fn threads(&self) -> usize;
}

/// The Cranelift JIT: inputs go straight into its workspace buffers.
pub struct JitRunner<'p> {
    pub compiled: &'p CompiledPipeline,
}

impl ImageRunner for JitRunner<'_> {
    type Scratch = Workspace;

    fn program(&self) -> &Program {
        self.compiled.program()
    }

    fn scratch(&self) -> Workspace {
        self.compiled.workspace()
    }

    fn input_layout(&self, k: usize) -> ImageLayout {
        self.compiled
            .input_layout(k)
            .unwrap_or_else(|| ImageLayout::dense(0, 0, 0, ElemType::WIDE))
    }

    fn output_layout(&self, k: usize) -> ImageLayout {
        self.compiled
            .output_layout(k)
            .unwrap_or_else(|| ImageLayout::dense(0, 0, 0, ElemType::WIDE))
    }

    fn input_bytes<'s>(&self, ws: &'s mut Workspace, k: usize) -> &'s mut [u8] {
        self.compiled.input_bytes_mut(ws, k).unwrap_or_default()
    }

    fn output_bytes<'s>(&self, ws: &'s Workspace, k: usize) -> &'s [u8] {
        self.compiled.output_bytes(ws, k).unwrap_or_default()
    }

    fn run(&self, ws: &mut Workspace, parallel: bool) -> Result<(), ExecError> {
        if parallel {
            self.compiled.execute(ws)
        } else {
            self.compiled.execute_single_thread(ws)
        }
    }

    fn direct_output(&self, k: usize) -> bool {
        self.compiled.output_direct(k)
    }

    fn direct_input(&self, k: usize) -> bool {
        self.compiled.input_direct(k)
    }

    fn run_into(
        &self,
        ws: &mut Workspace,
        parallel: bool,
        inputs: &[Option<&[u8]>],
        outputs: &mut [Option<&mut [u8]>],
    ) -> Result<(), ExecError> {
        self.compiled.execute_into(ws, parallel, inputs, outputs)
    }

    fn threads(&self) -> usize {
        self.compiled.threads()
    }
}

/// The reference interpreter: inputs are read as dense `i128`s, the exact
/// values it computes on.
pub struct InterpRunner<'p> {
    pub program: &'p Program,
    /// Threads to spread images over (0: every core).
    pub threads: usize,
}

/// One image of the interpreter: dense `i128` bytes per input and output.
pub struct InterpScratch {
    inputs: Vec<Vec<u8>>,
    outputs: Vec<Vec<u8>>,
}

impl InterpRunner<'_> {
    fn dense(&self, node: usize) -> ImageLayout {
        let chw = self.program.nodes[node].shape.chw();
        ImageLayout::dense(chw.c, chw.h, chw.w, ElemType::WIDE)
    }
}

impl ImageRunner for InterpRunner<'_> {
    type Scratch = InterpScratch;

    fn program(&self) -> &Program {
        self.program
    }

    fn scratch(&self) -> InterpScratch {
        let size = |node: usize| self.dense(node).span_bytes();
        InterpScratch {
            inputs: (self.program.inputs.iter())
                .map(|i| vec![0; size(i.node)])
                .collect(),
            outputs: (self.program.outputs.iter())
                .map(|o| vec![0; size(o.node)])
                .collect(),
        }
    }

    fn input_layout(&self, k: usize) -> ImageLayout {
        self.dense(self.program.inputs[k].node)
    }

    fn output_layout(&self, k: usize) -> ImageLayout {
        self.dense(self.program.outputs[k].node)
    }

    fn input_bytes<'s>(&self, s: &'s mut InterpScratch, k: usize) -> &'s mut [u8] {
        &mut s.inputs[k]
    }

    fn output_bytes<'s>(&self, s: &'s InterpScratch, k: usize) -> &'s [u8] {
        &s.outputs[k]
    }

    fn run(&self, s: &mut InterpScratch, _parallel: bool) -> Result<(), ExecError> {
        let inputs: Vec<Tensor> = (self.program.inputs.iter())
            .zip(&s.inputs)
            .map(|(info, bytes)| {
                let node = &self.program.nodes[info.node];
                Tensor {
                    shape: node.shape.dims(),
                    frac: node.frac,
                    data: bytes.chunks_exact(16).map(wide).collect(),
                }
            })
            .collect();
        let outputs = crate::interp::interpret(self.program, &inputs)?;
        for (bytes, tensor) in s.outputs.iter_mut().zip(&outputs) {
            for (slot, v) in bytes.chunks_exact_mut(16).zip(&tensor.data) {
                slot.copy_from_slice(&v.to_le_bytes());
            }
        }
        Ok(())
    }

    fn threads(&self) -> usize {
        if self.threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            self.threads
        }
    }
}

fn wide(bytes: &[u8]) -> i128 {
    let mut a = [0u8; 16];
    a.copy_from_slice(bytes);
    i128::from_le_bytes(a)
}
