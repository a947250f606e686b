//! The Cranelift JIT backend: compiles a checked [`Program`] to native code
//! that computes bit for bit what the interpreter computes.
//!
//! Phases: `plan` decides which nodes own buffers and fuses elementwise
//! chains into the loop of the stage producing them; `stage` and `expr`
//! generate one function per materialized node, picking for every value the
//! narrowest machine integer its proven range allows (`range`); `simd`
//! replaces the scalar code of u8 x i8 pointwise, depthwise and depthwise
//! transposed convolutions with 128-bit vector code, `vpdpbusd` dot products
//! when the CPU has VNNI and `pmaddwd` otherwise (chosen at run time; the
//! scalar code is always correct); `native` hands the same three stage
//! shapes with their requantization tail to precompiled AVX-512 kernels when
//! the CPU has them (Cranelift's x64 backend has no vectors wider than 128
//! bits); `machine` holds every `unsafe` (code pointers, calls, the AVX-512
//! kernels); `pool` runs the rows of a stage on several threads.

mod convert;
mod emit;
mod expr;
mod fuse;
mod layout;
#[allow(unsafe_code)]
mod machine;
mod native;
mod pattern;
mod plan;
mod pool;
mod range;
mod remap;
mod simd;
mod stage;

use std::time::{Duration, Instant};

use cranelift_codegen::ir::types::I64;
use cranelift_codegen::ir::{AbiParam, InstBuilder};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{Linkage, Module};

use crate::data::ImageLayout;
use crate::interp::RunError;
use crate::ir::{NodeId, Program};
use crate::span::Span;
use crate::tensor::Tensor;

pub use fuse::Fusion;
pub use machine::Workspace;

/// One core's `vpdpbusd` peak in GMAC/s, measured now by a micro-benchmark
/// of 512-bit `vpdpbusd` with no loads (about 20 ms); `None` on CPUs
/// without AVX-512 VNNI. `convoy bench` prints it next to the achieved GMAC/s.
pub fn vpdpbusd_peak() -> Option<f64> {
    machine::vpdpbusd_peak(400_000)
}

/// How to compile.
#[derive(Clone, Copy, Debug)]
pub struct JitOptions {
    /// Threads that run each stage (0: every core).
    pub threads: usize,
    /// Use vector instructions where the CPU has them (the scalar code is
    /// used otherwise, and is always correct).
    pub simd: bool,
    /// Keep Cranelift's disassembly of every stage (see [`StageInfo::disasm`]).
    pub disasm: bool,
    /// Let the precompiled AVX-512 kernels run the stages they fit (with
    /// `simd`, on CPUs with AVX-512 F/BW/VBMI/VNNI), and the row kernels
    /// the pooling, upsampling, concatenation and elementwise stages they
    /// fit (with `simd`, on every host); off: Cranelift code only.
    pub native: bool,
    /// Let Cranelift's vector code use VNNI (`vpdpbusd`) where the CPU has
    /// it; off: the `pmaddwd` dot products that every x86-64 CPU with
    /// SSE4.1 runs (so that path is tested on VNNI machines too).
    pub vnni: bool,
    /// Which instruction set the vector code may use (`convoy run --isa`,
    /// `convoy bench --isa`): the best the CPU has, or one forced.
    pub isa: Isa,
    /// Let the direct convolutions `native::AmxPlan` takes run on AMX tiles
    /// where the CPU has AMX-INT8 and the OS grants the tile state
    /// (`--isa auto` and `avx512`); off: the `vpdpbusd` kernels (so that
    /// they are tested and measured on AMX machines too).
    pub amx: bool,
    /// The least work a job of a stage gets when the threads share the
    /// stage (work: multiply-accumulates plus [`OUTPUT_WORK`] per output
    /// value); a stage with less than twice this runs on one thread. Tests
    /// set 1 to cut every stage into as many jobs as its rows and channels
    /// allow.
    pub min_job: u64,
}

/// The work an output value counts for in [`JitOptions::min_job`]: about
/// the multiply-accumulates a kernel does in the time a row kernel or
/// Cranelift code takes for one value.
pub const OUTPUT_WORK: u64 = 32;

/// The work a multiply-accumulate of a depthwise kernel counts for in
/// [`JitOptions::min_job`] (1 for the others): one input channel a group
/// leaves its kernels per-channel work that dense ones share across many
/// (on Emerald Rapids, 3x3 depthwise on 576 x 14x14 ran at 12-16 GMAC/s
/// against 300-400 for full convolutions), so a small depthwise stage
/// ran on one thread where two halved its time.
const DEPTHWISE_MAC_WORK: u64 = 8;

/// The most jobs a stage is cut into, per thread: a thread that starts
/// late (woken, or the OS ran something else) still finds some to take.
/// Two, not four: each job repacks the input rows its first output rows
/// read and sets up its kernel again (3x3 32 -> 32 on 64 x 64 in eight
/// jobs took 6% more samples than in one, on one thread), and a worker
/// starts within a microsecond of the caller while it spins (two threads,
/// against four jobs a thread: 3x3 layers 1.00-1.10x, nearest upsampling
/// 1.08x, the first layer of 4 channels 1.07x).
pub(crate) const JOBS_PER_THREAD: usize = 2;

/// [`JOBS_PER_THREAD`] for a fused depthwise and pointwise pair, whose
/// jobs are whole bands: four (the depthwise-separable block on two
/// threads ran 0.97x with two).
const BAND_JOBS_PER_THREAD: usize = 4;

/// The default [`JitOptions::min_job`]: about 5 microseconds of a kernel,
/// against the microsecond or so a job costs to hand out and set up.
pub const MIN_JOB: u64 = 1_000_000;

/// The instruction set of the vector code and the precompiled kernels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Isa {
    /// The widest the CPU has (detected at run time).
    #[default]
    Auto,
    /// AVX-512 F/BW/VBMI/VNNI kernels; compiling fails on CPUs without them.
    Avx512,
    /// No AVX-512: the AVX2 (AVX-VNNI) kernels and 128-bit Cranelift vectors
    /// without EVEX encodings, as on a CPU without AVX-512.
    Avx2,
    /// `Avx2` with `vpdpbusd ymm` in the kernels, as on a CPU with AVX-VNNI
    /// but not AVX-512: AVX-VNNI, or on CPUs with only AVX-512 VNNI its EVEX
    /// form (the same instruction), so that these kernels run everywhere
    /// AVX-512 VNNI does.
    Avx2Vnni,
    /// Scalar Cranelift code only (the always-correct fallback).
    Scalar,
}

impl Isa {
    /// The words `--isa` takes.
    pub const NAMES: [&'static str; 5] = ["auto", "avx512", "avx2", "avx2-vnni", "scalar"];

    pub fn from_name(name: &str) -> Option<Isa> {
        match name {
            "auto" => Some(Isa::Auto),
            "avx512" => Some(Isa::Avx512),
            "avx2" => Some(Isa::Avx2),
            "avx2-vnni" => Some(Isa::Avx2Vnni),
            "scalar" => Some(Isa::Scalar),
            _ => None,
        }
    }

    /// The AVX2 kernels, with or without `vpdpbusd` forced.
    pub fn is_avx2(self) -> bool {
        matches!(self, Isa::Avx2 | Isa::Avx2Vnni)
    }
}

/// Whether the direct convolutions can run on AMX-INT8 tiles here (the
/// CPU has AMX-TILE and AMX-INT8 and the OS granted the tile state; see
/// [`JitOptions::amx`]).
pub fn amx_supported() -> bool {
    machine::amx_available()
}

/// Whether this CPU can run code compiled for `isa`.
pub fn isa_supported(isa: Isa) -> bool {
    match isa {
        Isa::Auto | Isa::Scalar => true,
        Isa::Avx512 => native::host_supported(),
        Isa::Avx2 => native::host_supports_avx2(),
        Isa::Avx2Vnni => native::host_supports_avx2() && native::host_supports_vnni256(),
    }
}

impl Default for JitOptions {
    fn default() -> Self {
        JitOptions {
            threads: 0,
            simd: true,
            disasm: false,
            native: true,
            vnni: true,
            isa: Isa::Auto,
            amx: true,
            min_job: MIN_JOB,
        }
    }
}

/// Vector features the generated code may use.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Simd {
    /// `vpdpbusd` (AVX-VNNI or AVX512-VNNI with VL).
    pub vnni: bool,
    /// SSSE3 and SSE4.1 (byte shuffles, 32-bit min / max and multiplies):
    /// the vector kernels run, with `pmaddwd` dot products without VNNI.
    pub sse41: bool,
}

impl Simd {
    /// Whether the 128-bit vector kernels may run at all.
    pub fn vectors(&self) -> bool {
        self.vnni || self.sse41
    }
}

/// Why a program could not be compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JitError {
    /// A node the JIT has no exact code for (e.g. beyond 128-bit arithmetic).
    Unsupported {
        node: NodeId,
        label: String,
        owner: String,
        span: Span,
        reason: String,
    },
    /// Cranelift rejected a generated function.
    Codegen { stage: String, message: String },
    /// The host CPU is not supported by Cranelift.
    Host { message: String },
    /// The program breaks an IR invariant (a checker bug).
    Program { reason: String },
}

/// The words are in `diag` (one catalogue for every message): the
/// diagnostic's message.
impl std::fmt::Display for JitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::diag::Report::diagnostic(self).message)
    }
}

impl std::error::Error for JitError {}

/// One generated stage, for `convoy bench`.
#[derive(Clone, Debug)]
pub struct StageInfo {
    /// The `let` whose value the stage stores.
    pub name: String,
    /// What it computes, e.g. `dwconv + ... as u8 wrap`.
    pub label: String,
    /// Multiply-accumulates per image of every node fused into the stage.
    pub macs: u64,
    /// Whether the stage's dot products run on vectors.
    pub vector: bool,
    /// Whether a precompiled kernel runs the stage (no Cranelift code): an
    /// AVX-512 kernel, or a row kernel (`row_kernel`).
    pub native: bool,
    /// Whether the row kernels (pooling, upsampling) run the stage.
    pub row_kernel: bool,
    /// The instruction set of the precompiled kernel that runs the stage
    /// (`Avx512` or `Avx2`), `None` on Cranelift code and row kernels.
    pub kernel_isa: Option<Isa>,
    /// Which precompiled convolution kernel runs the stage: `pointwise`,
    /// `depthwise`, `depthwise deconv`, `direct` (any other u8 x i8
    /// convolution) or `wide16`; `None` on Cranelift code and row kernels.
    pub kernel: Option<&'static str>,
    /// The machine code as Cranelift prints it, when asked for.
    pub disasm: Option<String>,
    /// The multiply-accumulates as [`JitOptions::min_job`] counts them:
    /// [`DEPTHWISE_MAC_WORK`] each on a depthwise kernel, else 1.
    mac_work: u64,
}

/// A compiled pipeline: native code for every stage, and a thread pool.
pub struct CompiledPipeline {
    program: Program,
    plan: plan::Plan,
    machine: machine::Machine,
    pool: pool::Pool,
    stages: Vec<StageInfo>,
    id: u64,
    /// Per input and per output: whether [`CompiledPipeline::execute_into`]
    /// may take the caller's bytes for it (decided once: the checks walk
    /// every node, and `execute_into` asks per image).
    direct: (Vec<bool>, Vec<bool>),
    /// Wall time of [`compile`].
    pub compile_time: Duration,
    /// [`JitOptions::min_job`] (at least 1).
    min_job: u64,
}

static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Checked program -> native code.
pub fn compile(program: &Program, options: &JitOptions) -> Result<CompiledPipeline, JitError> {
    let start = Instant::now();
    let plan = plan::plan(program)?;
    let mut flags = settings::builder();
    let host = |e: &dyn std::fmt::Display| JitError::Host {
        message: e.to_string(),
    };
    flags.set("opt_level", "speed").map_err(|e| host(&e))?;
    // The IR verifier catches generator bugs in debug builds (and so in the
    // test suite); release builds skip it for compile time.
    let verify = if cfg!(debug_assertions) {
        "true"
    } else {
        "false"
    };
    flags.set("enable_verifier", verify).map_err(|e| host(&e))?;
    if !isa_supported(options.isa) {
        return Err(JitError::Host {
            message: format!("this CPU cannot run `--isa {:?}` code", options.isa).to_lowercase(),
        });
    }
    let mut isa_builder = cranelift_native::builder().map_err(|e| host(&e))?;
    if !options.vnni {
        for flag in ["has_avx_vnni", "has_avx512vnni"] {
            isa_builder.set(flag, "false").map_err(|e| host(&e))?;
        }
    }
    if options.isa.is_avx2() {
        // As on a CPU without AVX-512: no EVEX encodings.
        for flag in [
            "has_avx512bitalg",
            "has_avx512dq",
            "has_avx512f",
            "has_avx512vbmi",
            "has_avx512vl",
            "has_avx512vnni",
        ] {
            isa_builder.set(flag, "false").map_err(|e| host(&e))?;
        }
    }
    let isa = isa_builder
        .finish(settings::Flags::new(flags))
        .map_err(|e| host(&e))?;
    let simd = if options.simd && options.isa != Isa::Scalar {
        simd::features(&*isa)
    } else {
        Simd::default()
    };
    let mut module = JITModule::new(JITBuilder::with_isa(
        isa,
        cranelift_module::default_libcall_names(),
    ));
    let native_isa = match options.isa {
        _ if !options.simd || !options.native => None,
        Isa::Auto if native::host_supported() => Some(Isa::Avx512),
        Isa::Auto if native::host_supports_avx2() => Some(Isa::Avx2),
        Isa::Avx512 | Isa::Avx2 | Isa::Avx2Vnni => Some(options.isa),
        Isa::Auto | Isa::Scalar => None,
    };
    // Inputs whose padded readers all pad at the borders lose their halo:
    // the caller's arrays can then be read in place (`input_direct`).
    let plan = native::unpad_inputs(program, plan, native_isa);
    // The row kernels are safe code on every host, compiled for the widest
    // vectors the host and `options.isa` allow; `native` off or `--isa
    // scalar` keeps every stage on Cranelift (for tests and comparisons).
    let rows_isa =
        (options.simd && options.native && options.isa != Isa::Scalar).then_some(options.isa);
    let mut code = vec![];
    let mut items = vec![];
    let mut stages = vec![];
    let mut fctx = FunctionBuilderContext::new();
    let frontend = module.target_config();
    for (k, stage) in plan.stages.iter().enumerate() {
        let node = &program.nodes[stage.root];
        let name = node.name.clone().unwrap_or_else(|| node.owner.clone());
        let codegen = |e: &dyn std::fmt::Display| JitError::Codegen {
            stage: name.clone(),
            message: e.to_string(),
        };
        let label = stage_label(program, &plan, stage.root);
        let macs = stage_nodes(program, &plan, stage.root)
            .iter()
            .map(|&n| program.nodes[n].macs)
            .sum();
        if let Some(rs) = rows_isa.and_then(|isa| native::plan_rows(program, &plan, stage, isa)) {
            items.push(rs.items());
            code.push(machine::StageCode::Rows(Box::new(rs)));
            stages.push(StageInfo {
                name,
                label,
                macs,
                vector: true,
                native: true,
                row_kernel: true,
                kernel_isa: None,
                kernel: None,
                disasm: None,
                mac_work: macs,
            });
            continue;
        }
        if let Some(mut ns) =
            native_isa.and_then(|isa| native::plan_native(program, &plan, stage, isa))
        {
            if !options.amx {
                ns.drop_amx();
            }
            items.push(ns.items());
            let kernel = Some(ns.kernel_name());
            let mac_work = if ns.is_depthwise() {
                macs * DEPTHWISE_MAC_WORK
            } else {
                macs
            };
            code.push(machine::StageCode::Native(Box::new(ns)));
            stages.push(StageInfo {
                name,
                label,
                macs,
                vector: true,
                native: true,
                row_kernel: false,
                kernel_isa: native_isa,
                kernel,
                disasm: None,
                mac_work,
            });
            continue;
        }
        let mut ctx = module.make_context();
        for _ in 0..3 {
            ctx.func.signature.params.push(AbiParam::new(I64));
        }
        ctx.func.signature.returns.push(AbiParam::new(I64));
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let vector;
        let count;
        {
            let entry = b.create_block();
            b.append_block_params_for_function_params(entry);
            b.switch_to_block(entry);
            let params = b.block_params(entry).to_vec();
            let mut fx = emit::Fx::new(b, program, &plan, params[0], simd);
            fx.load_bases();
            let vec_items = fx.try_vector_stage(stage, params[1], params[2])?;
            vector = vec_items.is_some();
            count = match vec_items {
                Some(n) => n,
                None => {
                    fx.build_stage(stage, params[1], params[2])?;
                    fx.items(stage)
                }
            };
            let done = fx.b.ins().iconst(I64, -1);
            fx.b.ins().return_(&[done]);
            fx.b.seal_all_blocks();
            fx.b.finalize(frontend);
        }
        let id = module
            .declare_function(&format!("stage{k}"), Linkage::Local, &ctx.func.signature)
            .map_err(|e| codegen(&e))?;
        ctx.set_disasm(options.disasm);
        module
            .define_function(id, &mut ctx)
            .map_err(|e| codegen(&format!("{e:?}")))?;
        let disasm = ctx.compiled_code().and_then(|c| c.vcode.clone());
        module.clear_context(&mut ctx);
        code.push(machine::StageCode::Jit(id));
        items.push(count);
        stages.push(StageInfo {
            name,
            label,
            macs,
            vector,
            native: false,
            row_kernel: false,
            kernel_isa: None,
            kernel: None,
            disasm,
            mac_work: macs,
        });
    }
    let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut machine = machine::Machine::new(module, code, items, id)?;
    let threads = if options.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        options.threads
    };
    // Depthwise -> pointwise bands on two threads and more: the depthwise
    // map stays in cache instead of streaming through memory. dsconv
    // 64x128x256 on two Zen 4 threads: 0.62 ms either way while memory
    // was quiet, 0.64 against 0.87-0.90 ms while it was contended; on one
    // thread the bands measured 1% slower.
    let fusion = if threads >= 2 {
        Fusion::Auto
    } else {
        Fusion::Off
    };
    fuse::fuse(program, &plan, &mut machine, fusion);
    let mut compiled = CompiledPipeline {
        program: program.clone(),
        plan,
        machine,
        pool: pool::Pool::new(threads),
        stages,
        id,
        direct: (vec![], vec![]),
        compile_time: start.elapsed(),
        min_job: options.min_job.max(1),
    };
    compiled.direct = (
        (0..program.inputs.len())
            .map(|k| compiled.input_reads_within(k))
            .collect(),
        (0..program.outputs.len())
            .map(|k| compiled.output_unread(k))
            .collect(),
    );
    Ok(compiled)
}

/// The nodes computed by the stage storing `root`: it and its fused chain.
fn stage_nodes(program: &Program, plan: &plan::Plan, root: NodeId) -> Vec<NodeId> {
    let mut out = vec![root];
    let mut k = 0;
    while k < out.len() {
        for x in program.nodes[out[k]].op.operands() {
            if plan.buffer_of[x].is_none() && !out.contains(&x) {
                out.push(x);
            }
        }
        k += 1;
    }
    out
}

fn stage_label(program: &Program, plan: &plan::Plan, root: NodeId) -> String {
    let mut nodes = stage_nodes(program, plan, root);
    nodes.sort_unstable();
    let labels: Vec<&str> = nodes
        .iter()
        .map(|&n| program.nodes[n].label.as_str())
        .collect();
    labels.join(" -> ")
}

impl CompiledPipeline {
    pub fn program(&self) -> &Program {
        &self.program
    }

    pub fn stages(&self) -> &[StageInfo] {
        &self.stages
    }

    pub fn threads(&self) -> usize {
        self.pool.threads()
    }

    /// The concatenations laid out in place (`layout`): their inputs are
    /// stored into their buffer, and they have no stage.
    pub fn laid_out(&self) -> Vec<String> {
        let nodes = self.program.nodes.iter().enumerate();
        nodes
            .filter(|(id, n)| {
                matches!(n.op, crate::ir::Op::Concat(_))
                    && self.plan.buffer_of[*id].is_some()
                    && !self.plan.stages.iter().any(|s| s.root == *id)
            })
            .map(|(_, n)| n.name.clone().unwrap_or_else(|| n.owner.clone()))
            .collect()
    }

    /// Fresh buffers for one image, constants filled in.
    pub fn workspace(&self) -> Workspace {
        let mut ws = Workspace::new(self.id, &self.plan);
        for (b, buf) in self.plan.buffers.iter().enumerate() {
            if let Some(data) = &buf.constant {
                convert::write_buffer(buf, ws.bytes_mut(b), data);
            }
        }
        ws
    }

    /// Checks `inputs` as the interpreter does and writes them into `ws`.
    pub fn load_inputs(&self, ws: &mut Workspace, inputs: &[Tensor]) -> Result<(), RunError> {
        crate::interp::check_inputs(&self.program, inputs)?;
        for (info, tensor) in self.program.inputs.iter().zip(inputs) {
            let b = self.plan.buffer_of[info.node].ok_or_else(|| missing(info.node, &info.name))?;
            convert::write_buffer(&self.plan.buffers[b], ws.bytes_mut(b), &tensor.data);
        }
        Ok(())
    }

    /// Runs every stage on the inputs already in `ws` (the low-level entry:
    /// no conversion), with the pipeline's threads.
    pub fn execute(&self, ws: &mut Workspace) -> Result<(), ExecError> {
        self.execute_with(ws, self.pool.threads())
    }

    fn execute_with(&self, ws: &mut Workspace, threads: usize) -> Result<(), ExecError> {
        for k in 0..self.plan.stages.len() {
            self.execute_stage_with(ws, k, threads)?;
        }
        Ok(())
    }

    /// The most jobs stage `k` is cut into on `threads` threads: small
    /// stages are not worth waking a thread for ([`JitOptions::min_job`]);
    /// several jobs per thread, so that a worker that wakes late still
    /// finds some to take (the caller claims the rest itself).
    fn parts(&self, k: usize, threads: usize) -> usize {
        self.parts_of(k, threads, JOBS_PER_THREAD)
    }

    /// [`Self::parts`] with at most `per_thread` jobs a thread.
    fn parts_of(&self, k: usize, threads: usize, per_thread: usize) -> usize {
        let node = &self.program.nodes[self.plan.stages[k].root];
        let work = self.stages[k].mac_work + OUTPUT_WORK * node.shape.len() as u64;
        // Debug builds with `min_job` 1 (the tests' setting) cut a stage
        // on one thread too: `pool::run_here` runs the odd jobs before the
        // even ones, so a job that writes outside its own items shows as
        // wrong output.
        let threads = match cfg!(debug_assertions) && self.min_job == 1 {
            true => threads.max(2),
            false => threads,
        };
        if threads <= 1 {
            return 1;
        }
        usize::try_from(work / self.min_job)
            .map_or(usize::MAX, |p| p.max(1))
            .min(per_thread * threads)
    }

    /// Runs each native depthwise stage whose output only the native
    /// pointwise stage after it reads band by band with it as `fusion`
    /// says (`compile` chose [`Fusion::Auto`] on two threads or more, else
    /// [`Fusion::Off`]); returns the stages that
    /// now run the pair (the depthwise stage before each runs nothing of
    /// its own, its time counted in theirs). `convoy bench --fuse-bands`.
    pub fn set_fusion(&mut self, fusion: Fusion) -> Vec<usize> {
        fuse::fuse(&self.program, &self.plan, &mut self.machine, fusion)
    }

    /// The stages that run band by band with the depthwise stage before
    /// them ([`Self::set_fusion`]).
    pub fn fused_stages(&self) -> Vec<usize> {
        self.machine.fused().collect()
    }

    /// [`Self::parts`], of both stages for a fused pair
    /// ([`BAND_JOBS_PER_THREAD`]).
    fn stage_parts(&self, k: usize, threads: usize) -> usize {
        match self.machine.fused().any(|s| s == k) {
            true => (self.parts_of(k - 1, threads, BAND_JOBS_PER_THREAD)
                + self.parts_of(k, threads, BAND_JOBS_PER_THREAD))
            .min(BAND_JOBS_PER_THREAD * threads.max(1)),
            false => self.parts(k, threads),
        }
    }

    /// How stage `k` is cut into jobs on the pipeline's threads: row
    /// ranges, and channel slices of each range (native pointwise and
    /// direct convolutions of small maps; 1 otherwise).
    pub fn stage_jobs(&self, k: usize) -> (usize, usize) {
        let parts = self.stage_parts(k, self.pool.threads());
        self.machine.cut_counts(k, parts)
    }

    /// Runs stage `k` alone (for per-stage timings).
    pub fn execute_stage(&self, ws: &mut Workspace, k: usize) -> Result<(), ExecError> {
        self.execute_stage_with(ws, k, self.pool.threads())
    }

    fn execute_stage_with(
        &self,
        ws: &mut Workspace,
        k: usize,
        threads: usize,
    ) -> Result<(), ExecError> {
        let stage = &self.plan.stages[k];
        let parts = self.stage_parts(k, threads);
        let jobs = self
            .machine
            .jobs(k, ws, &self.plan, parts)
            .map_err(|_| ExecError::ForeignWorkspace)?;
        let status = self
            .pool
            .run(jobs)
            .map_err(|pool::Panicked| ExecError::Panicked {
                stage: Some(self.stages[k].name.clone()),
            })?;
        if status >= 0 {
            return Err(ExecError::Run(Box::new(convert::unpool_error(
                &self.program,
                &self.plan,
                ws,
                stage.root,
                status as usize,
            ))));
        }
        Ok(())
    }

    /// The outputs, as tensors, after [`Self::execute`].
    pub fn read_outputs(&self, ws: &Workspace) -> Result<Vec<Tensor>, RunError> {
        self.program
            .outputs
            .iter()
            .map(|out| {
                let b =
                    self.plan.buffer_of[out.node].ok_or_else(|| missing(out.node, &out.name))?;
                let node = &self.program.nodes[out.node];
                Ok(Tensor {
                    shape: node.shape.dims(),
                    frac: node.frac,
                    data: convert::read_buffer(&self.plan.buffers[b], ws.bytes(b)),
                })
            })
            .collect()
    }

    /// The layout of input `k`'s values in a [`Workspace`] (program input
    /// order): the data layer reads files straight into it
    /// ([`crate::data::ImageReader`]), skipping the per-value `Tensor`.
    pub fn input_layout(&self, k: usize) -> Option<ImageLayout> {
        let info = self.program.inputs.get(k)?;
        let b = self.plan.buffer_of[info.node]?;
        Some(convert::layout_of(&self.plan.buffers[b]))
    }

    /// The layout of output `k`'s values after [`Self::execute`].
    pub fn output_layout(&self, k: usize) -> Option<ImageLayout> {
        let info = self.program.outputs.get(k)?;
        let b = self.plan.buffer_of[info.node]?;
        Some(convert::layout_of(&self.plan.buffers[b]))
    }

    /// The bytes of input `k`'s buffer, to fill in [`Self::input_layout`]
    /// (only the interior: the halo must stay zero). Values written here are
    /// not checked: the caller guarantees they lie in the input's ranges,
    /// as [`crate::data::ImageReader`] does.
    pub fn input_bytes_mut<'w>(
        &self,
        ws: &'w mut Workspace,
        k: usize,
    ) -> Result<&'w mut [u8], ExecError> {
        let b = self.buffer_of_io(ws, self.program.inputs.get(k).map(|i| i.node))?;
        Ok(ws.bytes_mut(b))
    }

    /// The bytes of output `k`'s buffer, read in [`Self::output_layout`].
    pub fn output_bytes<'w>(&self, ws: &'w Workspace, k: usize) -> Result<&'w [u8], ExecError> {
        let b = self.buffer_of_io(ws, self.program.outputs.get(k).map(|o| o.node))?;
        Ok(ws.bytes(b))
    }

    fn buffer_of_io(&self, ws: &Workspace, node: Option<NodeId>) -> Result<usize, ExecError> {
        if ws.id != self.id {
            return Err(ExecError::ForeignWorkspace);
        }
        let node = node.ok_or(ExecError::ForeignWorkspace)?;
        self.plan.buffer_of[node]
            .ok_or_else(|| ExecError::from(missing(node, &self.program.nodes[node].label)))
    }

    /// Whether output `k` can be computed straight into the caller's bytes
    /// ([`Self::execute_into`]): its buffer has no halo (the bytes are the
    /// dense [`Self::output_layout`]), a stage writes it, and nothing else
    /// uses it: no stage reads it, it is no input or constant, and no other
    /// output is the same buffer.
    pub fn output_direct(&self, k: usize) -> bool {
        self.direct.1.get(k) == Some(&true)
    }

    fn output_unread(&self, k: usize) -> bool {
        let Some(b) = (self.program.outputs.get(k)).and_then(|o| self.plan.buffer_of[o.node])
        else {
            return false;
        };
        let buf = &self.plan.buffers[b];
        let h = buf.halo;
        let owned = |n: &NodeId| self.plan.buffer_of[*n] == Some(b);
        h.top + h.bottom + h.left + h.right == 0
            && buf.constant.is_none()
            && self.plan.stages.iter().any(|s| owned(&s.root))
            && !self.program.inputs.iter().any(|i| owned(&i.node))
            && (self.program.outputs.iter())
                .filter(|o| owned(&o.node))
                .count()
                == 1
            && !(self.program.nodes.iter()).any(|n| n.op.operands().iter().any(owned))
    }

    /// Whether input `k` can be read straight from the caller's bytes
    /// ([`Self::execute_into`]): its buffer has no halo and no gap (the
    /// bytes are the dense [`Self::input_layout`], as a C-order array's
    /// image is), it is no output or constant, and every stage that reads
    /// it loads only inside its planned bytes
    /// (`NativeStage::reads_within_buffers`: a caller's array has no spare
    /// bytes after it for vector loads to run into). A padded input gets
    /// there when every reader that needs the padding pads at the borders
    /// itself (`native::unpad_inputs`, the AVX-512 depthwise kernel).
    pub fn input_direct(&self, k: usize) -> bool {
        self.direct.0.get(k) == Some(&true)
    }

    fn input_reads_within(&self, k: usize) -> bool {
        let Some(b) = (self.program.inputs.get(k)).and_then(|i| self.plan.buffer_of[i.node]) else {
            return false;
        };
        let buf = &self.plan.buffers[b];
        let h = buf.halo;
        let owned = |n: NodeId| self.plan.buffer_of[n] == Some(b);
        let reads = |s: &plan::Stage| {
            (stage_nodes(&self.program, &self.plan, s.root).iter())
                .any(|&n| self.program.nodes[n].op.operands().into_iter().any(owned))
        };
        h.top + h.bottom + h.left + h.right == 0
            && buf.constant.is_none()
            && !self.plan.stages.iter().any(|s| owned(s.root))
            && !self.program.outputs.iter().any(|o| owned(o.node))
            && (self.plan.stages.iter().enumerate())
                .all(|(s, stage)| !reads(stage) || self.machine.reads_within_buffers(s))
    }

    /// Runs every stage as [`Self::execute`] (`parallel`) or
    /// [`Self::execute_single_thread`] does, with input `k` read from
    /// `inputs[k]` when it is given (its values in [`Self::input_layout`],
    /// at least as many bytes, already checked against the input's ranges
    /// as [`Self::input_bytes_mut`] requires) instead of the workspace: no
    /// copy before the run; and output `k`'s values stored in `outputs[k]`
    /// when it is given (in [`Self::output_layout`], at least as many
    /// bytes): no copy after the run. Only inputs for which
    /// [`Self::input_direct`] holds and outputs for which
    /// [`Self::output_direct`] holds may be given (else
    /// [`ExecError::ForeignWorkspace`]).
    pub fn execute_into(
        &self,
        ws: &mut Workspace,
        parallel: bool,
        inputs: &[Option<&[u8]>],
        outputs: &mut [Option<&mut [u8]>],
    ) -> Result<(), ExecError> {
        let threads = if parallel { self.pool.threads() } else { 1 };
        let mut from = vec![];
        for (k, bytes) in inputs.iter().enumerate() {
            if let Some(bytes) = bytes {
                if !self.input_direct(k) {
                    return Err(ExecError::ForeignWorkspace);
                }
                let b = self.buffer_of_io(ws, self.program.inputs.get(k).map(|i| i.node))?;
                from.push((b, *bytes));
            }
        }
        let mut at = vec![];
        for (k, out) in outputs.iter_mut().enumerate() {
            if let Some(bytes) = out {
                if !self.output_direct(k) {
                    return Err(ExecError::ForeignWorkspace);
                }
                let b = self.buffer_of_io(ws, self.program.outputs.get(k).map(|o| o.node))?;
                at.push((b, &mut **bytes));
            }
        }
        if from.is_empty() && at.is_empty() {
            return self.execute_with(ws, threads);
        }
        ws.with_buffers_at(&from, &mut at, |ws| self.execute_with(ws, threads))
            .ok_or(ExecError::ForeignWorkspace)?
    }

    /// Runs every stage on one thread (for callers that spread images over
    /// threads themselves).
    pub fn execute_single_thread(&self, ws: &mut Workspace) -> Result<(), ExecError> {
        self.execute_with(ws, 1)
    }

    /// Runs one image: the same contract and errors as [`crate::interpret`].
    pub fn run(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>, ExecError> {
        let mut ws = self.workspace();
        self.load_inputs(&mut ws, inputs)?;
        self.execute(&mut ws)?;
        Ok(self.read_outputs(&ws)?)
    }

    /// Runs several images, in parallel across the pipeline's threads.
    pub fn run_batch(&self, images: &[Vec<Tensor>]) -> Result<Vec<Vec<Tensor>>, ExecError> {
        let threads = self.pool.threads().min(images.len()).max(1);
        if threads <= 1 {
            return images.iter().map(|i| self.run(i)).collect();
        }
        let chunk = images.len().div_ceil(threads);
        let results: Vec<Result<Vec<Vec<Tensor>>, ExecError>> = std::thread::scope(|s| {
            let handles: Vec<_> = images
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || {
                        let mut ws = self.workspace();
                        part.iter()
                            .map(|inputs| {
                                self.load_inputs(&mut ws, inputs)?;
                                self.execute_with(&mut ws, 1)?;
                                Ok(self.read_outputs(&ws)?)
                            })
                            .collect()
                    })
                })
                .collect();
            handles
                .into_iter()
                // Jobs catch their own panics; this is one elsewhere (a
                // bug): the batch failed, it is not shorter.
                .map(|h| h.join().unwrap_or(Err(ExecError::Panicked { stage: None })))
                .collect()
        });
        let mut out = vec![];
        for r in results {
            out.extend(r?);
        }
        Ok(out)
    }
}

fn missing(node: NodeId, name: &str) -> RunError {
    RunError::MissingNode {
        name: name.to_string(),
        node,
    }
}

/// Why a compiled pipeline did not run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExecError {
    /// What the interpreter would report too: bad inputs, a bad unpool index.
    Run(Box<RunError>),
    /// A [`Workspace`] made by another pipeline was passed to this one.
    ForeignWorkspace,
    /// Code run for a stage (`stage`, if known) panicked: a bug in Convoy.
    /// No output of the run is given.
    Panicked { stage: Option<String> },
}

impl From<RunError> for ExecError {
    fn from(e: RunError) -> Self {
        ExecError::Run(Box::new(e))
    }
}

/// The words are in `diag`: the diagnostic's message.
impl std::fmt::Display for ExecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::diag::Report::diagnostic(self).message)
    }
}

impl std::error::Error for ExecError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::SourceMap;

    fn pipeline(threads: usize) -> CompiledPipeline {
        let src = "pipeline p {
  input x: u8[16, 64, 64]
  let y = relu(x - 3)
  output y
}";
        let mut sources = SourceMap::new();
        let id = sources.add("panic.cnn", src);
        let file = crate::parse(&sources, id).expect("parses");
        let checked = crate::check(&mut sources, &file, &Default::default(), &crate::NoFiles)
            .expect("checks");
        let options = JitOptions {
            threads,
            ..JitOptions::default()
        };
        compile(&checked.program, &options).expect("compiles")
    }

    fn panics() -> i64 {
        panic!("injected panic in a JIT stage")
    }

    fn image(p: &CompiledPipeline) -> Vec<Tensor> {
        let x = &p.program().nodes[p.program().inputs[0].node];
        vec![Tensor {
            shape: x.shape.dims(),
            frac: x.frac,
            data: vec![7; x.shape.len()],
        }]
    }

    #[test]
    fn a_panicking_stage_fails_the_run_and_the_batch() {
        for threads in [1, 2] {
            let mut p = pipeline(threads);
            let images = vec![image(&p); 5];
            assert_eq!(p.run_batch(&images).map(|o| o.len()), Ok(5));
            p.machine.replace_stage(0, panics);
            let stage = Some(p.stages[0].name.clone());
            assert_eq!(
                p.run(&images[0]),
                Err(ExecError::Panicked {
                    stage: stage.clone()
                })
            );
            // Never a shorter batch: the whole batch fails.
            assert_eq!(p.run_batch(&images), Err(ExecError::Panicked { stage }));
        }
    }
}
