//! `convoy emit hls FILE -o DIR` and `convoy estimate FILE`.

use super::files::{io_reason, load_program, print_diagnostics, read_input_files};
use clap::{Args, ValueEnum};
use convoy::diag::{self, Diagnostic, Report, Severity, SourceMap};
use convoy::hls::{self, HlsOptions, Style};
use convoy::run::decode_inputs;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum EmitTarget {
    /// A Vitis HLS C++ project, bit-exact in C simulation.
    Hls,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum StyleArg {
    /// Whole maps in arrays (with their halos), one loop nest per stage.
    Array,
    /// hls::stream FIFOs between stages under DATAFLOW, line buffers.
    Stream,
}

/// Options shared by `emit hls` and `estimate`.
#[derive(Args)]
pub struct DesignArgs {
    file: PathBuf,
    /// Which pipeline, when the file holds several.
    #[arg(long)]
    pipeline: Option<String>,
    #[arg(long, value_enum, default_value = "array")]
    style: StyleArg,
    /// FPGA part for the Tcl script's set_part.
    #[arg(long, default_value = "xczu9eg-ffvb1156-2-e")]
    part: String,
    /// Clock period in nanoseconds.
    #[arg(long = "clock-ns", value_name = "NS", default_value_t = 5.0)]
    clock_ns: f64,
    /// Parallelism of a stage, as STAGE=pe:N[,simd:M] (repeat for several).
    #[arg(long = "parallel", value_name = "STAGE=pe:N,simd:M")]
    parallel: Vec<String>,
}

/// How `convoy estimate` prints.
#[derive(Clone, Copy, ValueEnum)]
pub enum EstimateFormat {
    Text,
    /// One JSON object, for scripts.
    Json,
}

#[derive(Args)]
pub struct EstimateArgs {
    #[command(flatten)]
    design: DesignArgs,
    #[arg(long, value_enum, default_value = "text")]
    format: EstimateFormat,
}

#[derive(Args)]
pub struct EmitArgs {
    #[arg(value_enum)]
    target: EmitTarget,
    #[command(flatten)]
    design: DesignArgs,
    /// Project folder (created; an existing non-empty one needs --force).
    #[arg(long, short = 'o', value_name = "DIR")]
    out: PathBuf,
    /// Testbench input, as NAME=PATH.npy (random data otherwise).
    #[arg(long = "input", short = 'i', value_name = "NAME=PATH")]
    inputs: Vec<String>,
    /// Seed of the random testbench inputs.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Overwrite the files of an existing project folder.
    #[arg(long)]
    force: bool,
    /// Also print the resource and latency estimate.
    #[arg(long)]
    report: bool,
}

fn options(design: &DesignArgs, sources: &SourceMap) -> Result<HlsOptions, Diagnostic> {
    let mut parallel = BTreeMap::new();
    for spec in &design.parallel {
        let bad = || hls::HlsError::BadParallel { text: spec.clone() }.diagnostic();
        let (stage, knobs) = spec.split_once('=').ok_or_else(bad)?;
        parallel.insert(
            stage.trim().to_string(),
            hls::parse_parallel(knobs).map_err(|e| e.diagnostic())?,
        );
    }
    Ok(HlsOptions {
        style: match design.style {
            StyleArg::Array => Style::Array,
            StyleArg::Stream => Style::Stream,
        },
        part: design.part.clone(),
        clock_ns: design.clock_ns,
        parallel,
        sources: Some(sources.clone()),
        ..HlsOptions::default()
    })
}

fn warnings(sources: &SourceMap, d: &[Diagnostic]) {
    let shown: Vec<Diagnostic> = d
        .iter()
        .filter(|d| d.severity != Severity::Note)
        .cloned()
        .collect();
    print_diagnostics(sources, &shown);
}

pub fn emit(args: &EmitArgs) -> i32 {
    let EmitTarget::Hls = args.target;
    let (sources, checked) = match load_program(&args.design.file, args.design.pipeline.clone()) {
        Ok(x) => x,
        Err(code) => return code,
    };
    warnings(&sources, &checked.diagnostics);
    let program = &checked.program;
    if !args.force && is_nonempty_dir(&args.out) {
        let d = diag::file_error(
            &args.out.display().to_string(),
            "the folder exists and is not empty; pass --force to overwrite its files",
        );
        print_diagnostics(&sources, &[d]);
        return 1;
    }
    let mut options = match options(&args.design, &sources) {
        Ok(o) => o,
        Err(d) => {
            print_diagnostics(&sources, &[d]);
            return 1;
        }
    };
    options.seed = args.seed;
    if !args.inputs.is_empty() {
        let files = match read_input_files(&sources, &args.inputs) {
            Ok(f) => f,
            Err(code) => return code,
        };
        match decode_inputs(program, &files, false) {
            // A batch: the testbench runs the first image.
            Ok(batch) => options.inputs = batch.images.into_iter().next(),
            Err(errors) => {
                let d: Vec<Diagnostic> = errors.iter().map(|e| e.diagnostic()).collect();
                print_diagnostics(&sources, &d);
                return 1;
            }
        }
    }
    let project = match convoy::emit_hls(program, &options) {
        Ok(p) => p,
        Err(d) => {
            print_diagnostics(&sources, &[d]);
            return 1;
        }
    };
    if let Err(d) = write_project(&args.out, &project.files) {
        print_diagnostics(&SourceMap::new(), &[d]);
        return 1;
    }
    println!(
        "wrote {} files to {} ({} style); run `AP_TYPES=/path/to/ap_types make -C {} csim`",
        project.files.len(),
        args.out.display(),
        options.style.name(),
        args.out.display()
    );
    if args.report {
        match hls::estimate(program, &options) {
            Ok(e) => print!("{e}"),
            Err(e) => print_diagnostics(&sources, &[e.diagnostic()]),
        }
    }
    0
}

pub fn estimate(args: &EstimateArgs) -> i32 {
    let design = &args.design;
    let (sources, checked) = match load_program(&design.file, design.pipeline.clone()) {
        Ok(x) => x,
        Err(code) => return code,
    };
    warnings(&sources, &checked.diagnostics);
    let options = match options(design, &sources) {
        Ok(o) => o,
        Err(d) => {
            print_diagnostics(&sources, &[d]);
            return 1;
        }
    };
    match hls::estimate(&checked.program, &options) {
        Ok(e) => {
            match args.format {
                EstimateFormat::Text => print!("{e}"),
                EstimateFormat::Json => println!("{}", e.to_json()),
            }
            0
        }
        Err(e) => {
            print_diagnostics(&sources, &[e.diagnostic()]);
            1
        }
    }
}

fn is_nonempty_dir(dir: &Path) -> bool {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => entries.next().is_some(),
        Err(_) => dir.exists(),
    }
}

/// Writes every file or none: all go to temporary names first (inside the
/// folder, so that renames stay on one file system), then are renamed.
fn write_project(dir: &Path, files: &[(String, String)]) -> Result<(), Diagnostic> {
    let fail = |path: &Path, e: &std::io::Error| {
        diag::file_error(&path.display().to_string(), &io_reason(e))
    };
    let mut temps: Vec<(PathBuf, PathBuf)> = vec![];
    let cleanup = |temps: &[(PathBuf, PathBuf)]| {
        for (t, _) in temps {
            let _ = std::fs::remove_file(t);
        }
    };
    for (name, text) in files {
        let target = dir.join(name);
        let parent = target
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| dir.to_path_buf());
        if let Err(e) = std::fs::create_dir_all(&parent) {
            cleanup(&temps);
            return Err(fail(&parent, &e));
        }
        let file_name = target
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = parent.join(format!(".{file_name}.{}.tmp", std::process::id()));
        if let Err(e) = std::fs::write(&temp, text) {
            cleanup(&temps);
            return Err(fail(&target, &e));
        }
        temps.push((temp, target));
    }
    for (temp, target) in &temps {
        if let Err(e) = std::fs::rename(temp, target) {
            cleanup(&temps);
            return Err(fail(target, &e));
        }
    }
    Ok(())
}
