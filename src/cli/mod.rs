//! Commands of the `convoy` binary. Exit codes: 0 success, 1 a diagnostic about
//! the user's script or data, 2 a usage error (clap's own).

mod bench_cmd;
mod check_cmd;
mod emit_cmd;
mod files;
mod fmt_cmd;
mod graph_cmd;
mod import_cmd;
mod lsp_cmd;
mod progress;
mod repl_cmd;
mod run_cmd;
mod test_cmd;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "convoy",
    version,
    about = "Fixed-point CNN pipelines: check ranges, run bit-exactly"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Backend {
    /// Native code compiled with Cranelift, bit-exact with the interpreter.
    Jit,
    /// The reference interpreter: the executable specification.
    Interp,
}

/// `--isa`: which instruction set the JIT's vector code may use.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Default)]
pub enum IsaArg {
    /// The widest the CPU has, detected at run time.
    #[default]
    Auto,
    /// AVX-512 kernels (fails on CPUs without AVX-512 F/BW/VBMI/VNNI).
    Avx512,
    /// AVX2 / AVX-VNNI kernels and 128-bit vectors, as on CPUs without AVX-512.
    Avx2,
    /// The AVX2 kernels with `vpdpbusd ymm`, as on CPUs with AVX-VNNI but
    /// not AVX-512 (its EVEX form on CPUs with AVX-512 VNNI alone).
    Avx2Vnni,
    /// Scalar code only.
    Scalar,
}

impl IsaArg {
    pub fn isa(self) -> convoy::Isa {
        match self {
            IsaArg::Auto => convoy::Isa::Auto,
            IsaArg::Avx512 => convoy::Isa::Avx512,
            IsaArg::Avx2 => convoy::Isa::Avx2,
            IsaArg::Avx2Vnni => convoy::Isa::Avx2Vnni,
            IsaArg::Scalar => convoy::Isa::Scalar,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Check a script: shapes, exact ranges, types; print the stage table.
    Check {
        file: PathBuf,
        /// Which pipeline, when the file holds several.
        #[arg(long)]
        pipeline: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Run a pipeline on .npy inputs and write one .npy per output.
    Run {
        file: PathBuf,
        /// An input, as NAME=PATH.npy (repeat for several).
        #[arg(long = "input", short = 'i', value_name = "NAME=PATH")]
        inputs: Vec<String>,
        /// Folder for the outputs (created if needed).
        #[arg(long, short = 'o', value_name = "DIR")]
        out: PathBuf,
        #[arg(long)]
        pipeline: Option<String>,
        #[arg(long, value_enum, default_value = "jit")]
        backend: Backend,
        /// Threads (default: every core): across images when the batch has
        /// at least as many images, else across the rows of each stage.
        #[arg(long, value_name = "N")]
        threads: Option<usize>,
        /// Read and write fixed-point values as raw two's-complement integers.
        #[arg(long)]
        raw: bool,
        /// Print images/s, MB/s, peak memory and the time in I/O vs compute.
        #[arg(long)]
        stats: bool,
        /// Megabytes of input and output data held at once (the batch is
        /// streamed in chunks of that size).
        #[arg(long, value_name = "MB", default_value_t = 64)]
        memory: usize,
        /// Instruction set of the JIT's vector code.
        #[arg(long, value_enum, default_value = "auto")]
        isa: IsaArg,
    },
    /// Language server over stdio, for editors (see editors/README.md).
    Lsp,
    /// Rewrite scripts in the canonical layout (folders: every .cnn inside).
    Fmt {
        /// Files or folders; `-` formats standard input to standard output.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Change nothing: name the files that would change and exit 1 if any.
        #[arg(long)]
        check: bool,
    },
    /// Draw the pipeline: one node per stage, edges with shape, halo, type, range.
    Graph {
        file: PathBuf,
        /// Where to write: `.svg` (needs Graphviz `dot`) or `.dot`; stdout (DOT) if absent.
        #[arg(long, short = 'o', value_name = "PATH")]
        out: Option<PathBuf>,
        #[arg(long)]
        pipeline: Option<String>,
    },
    /// Interactive session: type declarations and expressions, see shapes, ranges, values.
    Repl {
        /// A script to load first.
        file: Option<PathBuf>,
    },
    /// Emit a project for another tool: `emit hls FILE -o DIR` writes Vitis HLS C++.
    Emit(emit_cmd::EmitArgs),
    /// Resources (DSP, BRAM_18K), latency and frames/s of the HLS design.
    Estimate(emit_cmd::EstimateArgs),
    /// Run the `test` declarations of .cnn files (golden, snapshot, range).
    Test {
        /// Files and folders (searched recursively for *.cnn); default: the current folder.
        paths: Vec<PathBuf>,
        #[arg(long, value_enum, default_value = "jit")]
        backend: Backend,
        /// Accept every new or changed snapshot.
        #[arg(long)]
        accept: bool,
        /// Show each new or changed snapshot and ask whether to accept it.
        #[arg(long, conflicts_with = "accept")]
        review: bool,
        /// Write a PNG heat map (old | new | difference) of this channel of each changed snapshot.
        #[arg(long, value_name = "CHANNEL")]
        pictures: Option<usize>,
        /// Also run each test's inputs through the emitted HLS C++ (g++ and ap_types headers).
        #[arg(long)]
        hls_csim: bool,
        /// Only the tests whose name (FILE::TEST) contains this text.
        #[arg(long)]
        filter: Option<String>,
    },
    /// Time a pipeline: compile time, median and min run time, GMAC/s.
    Bench(bench_cmd::BenchArgs),
    /// Import a quantized ONNX model (QDQ, QOperator, QONNX) as a script and .npy files.
    Import(import_cmd::ImportArgs),
}

pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    match cli.command {
        Command::Test {
            paths,
            backend,
            accept,
            review,
            pictures,
            hls_csim,
            filter,
        } => test_cmd::run(&test_cmd::Options {
            paths,
            backend,
            accept,
            review,
            pictures,
            hls_csim,
            filter,
        }),
        Command::Check {
            file,
            pipeline,
            format,
        } => check_cmd::run(&file, pipeline, format),
        Command::Run {
            file,
            inputs,
            out,
            pipeline,
            backend,
            threads,
            raw,
            stats,
            memory,
            isa,
        } => run_cmd::run(&run_cmd::Options {
            file,
            inputs,
            out,
            pipeline,
            backend,
            threads,
            raw,
            stats,
            memory_mb: memory,
            isa: isa.isa(),
        }),
        Command::Bench(args) => bench_cmd::run(&args),
        Command::Lsp => lsp_cmd::run(),
        Command::Fmt { files, check } => fmt_cmd::run(&files, check),
        Command::Graph {
            file,
            out,
            pipeline,
        } => graph_cmd::run(&file, out.as_deref(), pipeline),
        Command::Repl { file } => repl_cmd::run(file.as_deref()),
        Command::Emit(args) => emit_cmd::emit(&args),
        Command::Import(args) => import_cmd::run(&args),
        Command::Estimate(args) => emit_cmd::estimate(&args),
    }
}
