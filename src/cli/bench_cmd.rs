//! `convoy bench FILE`: compile time, median, min and mean run time after warm-up,
//! and GMAC/s for the pipeline and for each generated stage.

use super::files::{load_program, print_diagnostics, read_input_files, write_all};
use super::{Backend, Format};
use convoy::data::random_raw;
use convoy::diag::{self, Diagnostic, Report};
use convoy::ir::Program;
use convoy::run::{decode_inputs, InputFile};
use convoy::Tensor;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

struct StageTime {
    name: String,
    label: String,
    macs: u64,
    median: Duration,
    vector: bool,
    native: bool,
    row_kernel: bool,
    /// `[avx512 kernel]`, `[amx kernel]` or `[avx2 kernel]`: which precompiled kernel runs it.
    kernel: &'static str,
    /// The stage that runs this one band by band with it (its time and
    /// MACs are counted there).
    banded_into: Option<String>,
}

struct BenchReport {
    file: String,
    backend: &'static str,
    threads: usize,
    iters: usize,
    /// Timed runs of the whole pipeline (more than `iters` under `--min-time`).
    runs: usize,
    macs: u64,
    compile: Duration,
    median: Duration,
    min: Duration,
    /// The timed window's length over its runs: the throughput a batch
    /// sees, stalls and all (a median keeps only the undisturbed runs).
    mean: Duration,
    stages: Vec<StageTime>,
    /// Concatenations laid out in place: no stage, no copy.
    laid_out: Vec<String>,
    /// One core's `vpdpbusd` peak (GMAC/s), measured after the runs.
    peak: Option<f64>,
}

#[derive(clap::Args)]
pub struct BenchArgs {
    file: PathBuf,
    #[arg(long)]
    pipeline: Option<String>,
    #[arg(long, value_enum, default_value = "jit")]
    backend: Backend,
    /// Threads for the JIT (default: every core).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Timed runs after warm-up (at least).
    #[arg(long, default_value_t = 50)]
    iters: usize,
    /// Keep timing runs until this many seconds have passed (at most
    /// 100,000 runs): a median over a window as long as a peer's.
    #[arg(long, value_name = "SECONDS", default_value_t = 0.0)]
    min_time: f64,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// An input, as NAME=PATH.npy (random data otherwise).
    #[arg(long = "input", short = 'i', value_name = "NAME=PATH")]
    inputs: Vec<String>,
    /// Also write the JIT's machine code, stage by stage, to this file (`-`: stdout).
    #[arg(long, value_name = "PATH")]
    asm: Option<PathBuf>,
    /// Compile every stage with Cranelift: no precompiled AVX-512 or row kernels.
    #[arg(long)]
    no_kernels: bool,
    /// Run each depthwise stage whose map only the pointwise stage after
    /// it reads band by band with it, the map kept in cache, also on one
    /// thread (the default on two threads or more).
    #[arg(long, conflicts_with = "no_fuse_bands")]
    fuse_bands: bool,
    /// Never run depthwise and pointwise stages band by band.
    #[arg(long)]
    no_fuse_bands: bool,
    /// Cranelift's dot products without VNNI (`pmaddwd`, as on CPUs without it).
    #[arg(long)]
    no_vnni: bool,
    /// No AMX tiles: the AVX-512 `vpdpbusd` kernels run the convolutions
    /// that AMX-INT8 would on CPUs that have it (Sapphire Rapids on).
    #[arg(long)]
    no_amx: bool,
    /// Instruction set of the JIT's vector code (`avx2`: as on CPUs without AVX-512).
    #[arg(long, value_enum, default_value = "auto")]
    isa: super::IsaArg,
}

pub fn run(args: &BenchArgs) -> i32 {
    let BenchArgs {
        file: path,
        pipeline,
        backend,
        threads,
        iters,
        min_time,
        format,
        inputs,
        asm,
        no_kernels,
        fuse_bands,
        no_fuse_bands,
        no_vnni,
        no_amx,
        isa,
    } = args;
    let (backend, threads, iters, format) = (*backend, *threads, *iters, *format);
    let window = Window {
        iters: iters.max(1),
        min_time: Duration::try_from_secs_f64(*min_time).unwrap_or_default(),
    };
    let (sources, checked) = match load_program(path, pipeline.clone()) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let program = &checked.program;
    let files = match read_input_files(&sources, inputs) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let image = match bench_inputs(program, &files) {
        Ok(i) => i,
        Err(d) => {
            print_diagnostics(&sources, &d);
            return 1;
        }
    };
    let report = match backend {
        Backend::Jit => {
            let options = convoy::JitOptions {
                threads: threads.unwrap_or(0),
                disasm: asm.is_some(),
                native: !no_kernels,
                vnni: !no_vnni,
                amx: !no_amx,
                isa: isa.isa(),
                ..Default::default()
            };
            let compiled = match convoy::compile_jit(program, &options) {
                Ok(mut c) => {
                    if *fuse_bands {
                        c.set_fusion(convoy::jit::Fusion::Auto);
                    }
                    if *no_fuse_bands {
                        c.set_fusion(convoy::jit::Fusion::Off);
                    }
                    c
                }
                Err(e) => {
                    print_diagnostics(&sources, &[e.diagnostic()]);
                    return 1;
                }
            };
            if let Some(out) = asm {
                if let Err(d) = write_asm(out, &compiled) {
                    print_diagnostics(&sources, &[d]);
                    return 1;
                }
            }
            let mut ws = compiled.workspace();
            if let Err(e) = compiled.load_inputs(&mut ws, &image) {
                print_diagnostics(&sources, &[e.diagnostic()]);
                return 1;
            }
            let whole = time(window, || {
                compiled.execute(&mut ws).map_err(|e| e.diagnostic())
            });
            let Timing {
                median,
                min,
                mean,
                runs,
            } = match whole {
                Ok(t) => t,
                Err(d) => {
                    print_diagnostics(&sources, &[d]);
                    return 1;
                }
            };
            let mut stages = vec![];
            for (k, info) in compiled.stages().iter().enumerate() {
                // Stages: `iters` runs each, not the whole window again.
                let each = Window {
                    min_time: Duration::ZERO,
                    ..window
                };
                let t = time(each, || {
                    compiled
                        .execute_stage(&mut ws, k)
                        .map_err(|e| e.diagnostic())
                });
                stages.push(StageTime {
                    name: info.name.clone(),
                    label: info.label.clone(),
                    macs: info.macs,
                    median: t.map(|t| t.median).unwrap_or_default(),
                    vector: info.vector,
                    native: info.native,
                    row_kernel: info.row_kernel,
                    kernel: match info.kernel_isa {
                        _ if info.kernel == Some("direct amx") => "  [amx kernel]",
                        Some(convoy::Isa::Avx2) => "  [avx2 kernel]",
                        Some(convoy::Isa::Avx2Vnni) => "  [avx2-vnni kernel]",
                        _ => "  [avx512 kernel]",
                    },
                    banded_into: None,
                });
            }
            // A banded pair's time is its second stage's: so are its MACs.
            for k in compiled.fused_stages() {
                let (first, second) = stages.split_at_mut(k);
                let (dw, pw) = (&mut first[k - 1], &mut second[0]);
                pw.macs += std::mem::take(&mut dw.macs);
                dw.banded_into = Some(pw.name.clone());
            }
            BenchReport {
                file: path.display().to_string(),
                backend: "jit",
                threads: compiled.threads(),
                iters: window.iters,
                runs,
                macs: program.total_macs(),
                compile: compiled.compile_time,
                median,
                min,
                mean,
                stages,
                laid_out: compiled.laid_out(),
                peak: convoy::jit::vpdpbusd_peak(),
            }
        }
        Backend::Interp => {
            let t = time(window, || {
                convoy::interpret(program, &image)
                    .map(|_| ())
                    .map_err(|e| e.diagnostic())
            });
            let Timing {
                median,
                min,
                mean,
                runs,
            } = match t {
                Ok(t) => t,
                Err(d) => {
                    print_diagnostics(&sources, &[d]);
                    return 1;
                }
            };
            BenchReport {
                file: path.display().to_string(),
                backend: "interp",
                threads: 1,
                iters: window.iters,
                runs,
                macs: program.total_macs(),
                compile: Duration::ZERO,
                median,
                min,
                mean,
                stages: vec![],
                laid_out: vec![],
                peak: None,
            }
        }
    };
    match format {
        Format::Text => print!("{}", text(&report)),
        Format::Json => println!("{}", json(&report)),
    }
    0
}

/// Cranelift's disassembly of every stage, headed by the stage's name.
fn write_asm(out: &Path, compiled: &convoy::CompiledPipeline) -> Result<(), Diagnostic> {
    let mut text = String::new();
    for info in compiled.stages() {
        text.push_str(&format!("; stage {}: {}\n", info.name, info.label));
        text.push_str(info.disasm.as_deref().unwrap_or("; (no disassembly)\n"));
        text.push('\n');
    }
    if out == Path::new("-") {
        print!("{text}");
        return Ok(());
    }
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| diag::file_error(&out.display().to_string(), "not a file name"))?;
    write_all(dir, &[(name, text.into_bytes())])
}

/// Random inputs (seeded by position), or the first image of `--input` files.
fn bench_inputs(program: &Program, files: &[InputFile]) -> Result<Vec<Tensor>, Vec<Diagnostic>> {
    if files.is_empty() {
        return Ok(program
            .inputs
            .iter()
            .enumerate()
            .map(|(k, info)| {
                let node = &program.nodes[info.node];
                Tensor {
                    shape: node.shape.dims(),
                    frac: node.frac,
                    data: random_raw(k as u64 + 1, &node.ty, node.shape.len()),
                }
            })
            .collect());
    }
    let batch = decode_inputs(program, files, false)
        .map_err(|errors| errors.iter().map(|e| e.diagnostic()).collect::<Vec<_>>())?;
    batch.images.into_iter().next().ok_or_else(Vec::new)
}

/// How many runs to time: at least `iters`, and for at least `min_time`.
#[derive(Clone, Copy)]
struct Window {
    iters: usize,
    min_time: Duration,
}

/// At most this many timed runs, whatever `--min-time` asks.
const MAX_RUNS: usize = 100_000;

/// What [`time`] measured.
struct Timing {
    median: Duration,
    min: Duration,
    mean: Duration,
    runs: usize,
}

/// Warm-up (at least 2 runs and 0.2 s), then the window's timed runs.
fn time(
    window: Window,
    mut f: impl FnMut() -> Result<(), Diagnostic>,
) -> Result<Timing, Diagnostic> {
    let warm = Instant::now();
    let mut runs = 0;
    while runs < 2 || (warm.elapsed() < Duration::from_millis(200) && runs < window.iters) {
        f()?;
        runs += 1;
    }
    let mut times = Vec::with_capacity(window.iters);
    let start = Instant::now();
    while times.len() < window.iters
        || (start.elapsed() < window.min_time && times.len() < MAX_RUNS)
    {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed());
    }
    let mean = start.elapsed() / times.len() as u32;
    times.sort();
    Ok(Timing {
        median: times[times.len() / 2],
        min: times[0],
        mean,
        runs: times.len(),
    })
}

fn gmacs(macs: u64, t: Duration) -> f64 {
    if t.is_zero() {
        0.0
    } else {
        macs as f64 / t.as_secs_f64() / 1e9
    }
}

fn us(t: Duration) -> f64 {
    t.as_secs_f64() * 1e6
}

fn text(r: &BenchReport) -> String {
    let mut out = format!(
        "{}: backend {}, {} thread(s), {} timed runs\n  compile {:.2} ms\n  run     median {:.1} us, min {:.1} us, mean {:.1} us (throughput {:.0} images/s)\n  {:.3} GMAC per image, {:.2} GMAC/s (median)\n",
        r.file,
        r.backend,
        r.threads,
        r.runs,
        r.compile.as_secs_f64() * 1e3,
        us(r.median),
        us(r.min),
        us(r.mean),
        1e6 / us(r.mean).max(1e-9),
        r.macs as f64 / 1e9,
        gmacs(r.macs, r.median)
    );
    if let Some(peak) = r.peak {
        // The threads' peak: one core's times the threads that ran.
        let all = peak * r.threads as f64;
        out.push_str(&format!(
            "  vpdpbusd peak {:.1} GMAC/s per core (micro-benchmark), {:.1} GMAC/s on {} thread(s): the pipeline reaches {:.1}%\n",
            peak,
            all,
            r.threads,
            100.0 * gmacs(r.macs, r.median) / all
        ));
    }
    for s in &r.stages {
        if let Some(into) = &s.banded_into {
            out.push_str(&format!(
                "  stage {:<12} runs band by band in stage {into}: {}{}\n",
                s.name, s.label, s.kernel
            ));
            continue;
        }
        // Stages run on all the threads: their share of the threads' peak.
        let share = match r.peak {
            Some(p) if s.macs > 0 => format!(
                " ({:>4.1}% of peak)",
                100.0 * gmacs(s.macs, s.median) / (p * r.threads as f64)
            ),
            _ => String::new(),
        };
        out.push_str(&format!(
            "  stage {:<12} {:>10.1} us {:>8.2} GMAC/s{}  {}{}\n",
            s.name,
            us(s.median),
            gmacs(s.macs, s.median),
            share,
            s.label,
            if s.row_kernel {
                "  [row kernel]"
            } else if s.native {
                s.kernel
            } else if s.vector {
                "  [vector]"
            } else {
                ""
            }
        ));
    }
    for name in &r.laid_out {
        out.push_str(&format!(
            "  layout {name:<11} concat: its inputs are stored in place (no copy)\n"
        ));
    }
    out
}

fn json(r: &BenchReport) -> String {
    let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let stages: Vec<String> = r
        .stages
        .iter()
        .map(|s| {
            format!(
                "{{\"name\": \"{}\", \"label\": \"{}\", \"macs\": {}, \"median_us\": {:.3}, \"gmacs\": {:.3}, \"vector\": {}, \"native\": {}}}",
                esc(&s.name),
                esc(&s.label),
                s.macs,
                us(s.median),
                gmacs(s.macs, s.median),
                s.vector,
                s.native
            )
        })
        .collect();
    format!(
        "{{\"file\": \"{}\", \"backend\": \"{}\", \"threads\": {}, \"iters\": {}, \"runs\": {}, \"macs\": {}, \"compile_ms\": {:.3}, \"median_us\": {:.3}, \"min_us\": {:.3}, \"mean_us\": {:.3}, \"gmacs\": {:.3}, \"vpdpbusd_peak_gmacs\": {}, \"stages\": [{}]}}",
        esc(&r.file),
        r.backend,
        r.threads,
        r.iters,
        r.runs,
        r.macs,
        r.compile.as_secs_f64() * 1e3,
        us(r.median),
        us(r.min),
        us(r.mean),
        gmacs(r.macs, r.median),
        r.peak.map_or("null".to_string(), |p| format!("{p:.3}")),
        stages.join(", ")
    )
}
