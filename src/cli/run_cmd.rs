//! `convoy run FILE --input NAME=PATH ... --out DIR`: streams the batch
//! through `convoy::run` from files opened here, writing each output to a
//! temporary file in DIR that is renamed into place only when every output
//! is complete.

use super::files::{io_reason, load_program, print_diagnostics};
use super::progress::Progress;
use super::Backend;
use convoy::diag::{self, Diagnostic, Report, Severity, SourceMap};
use convoy::run::{
    plan_batch, run_batch, ByteSink, ByteSource, ImageRunner, InputSpec, InterpRunner, JitRunner,
    StreamError, StreamOptions, StreamStats,
};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub struct Options {
    pub file: PathBuf,
    pub inputs: Vec<String>,
    pub out: PathBuf,
    pub pipeline: Option<String>,
    pub backend: Backend,
    pub threads: Option<usize>,
    pub raw: bool,
    pub stats: bool,
    pub memory_mb: usize,
    pub isa: convoy::Isa,
}

/// An input file read with positioned reads (several threads may share it).
struct FileSource {
    file: File,
    len: u64,
}

impl ByteSource for FileSource {
    fn len(&self) -> u64 {
        self.len
    }

    #[cfg(unix)]
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(&self.file, buf, offset)
    }

    #[cfg(not(unix))]
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = &self.file;
        file.seek(SeekFrom::Start(offset))?;
        file.read_exact(buf)
    }
}

/// An output being written under a temporary name.
struct TempOutput {
    file: File,
    temp: PathBuf,
    target: PathBuf,
}

impl ByteSink for TempOutput {
    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        std::io::Write::write_all(&mut self.file, bytes)
    }
}

pub fn run(o: &Options) -> i32 {
    let (sources, checked) = match load_program(&o.file, o.pipeline.clone()) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let warnings: Vec<Diagnostic> = checked
        .diagnostics
        .iter()
        .filter(|d| d.severity != Severity::Note)
        .cloned()
        .collect();
    print_diagnostics(&sources, &warnings);
    let program = &checked.program;

    let start = Instant::now();
    let files = match open_inputs(&sources, &o.inputs) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let specs: Vec<InputSpec> = files
        .iter()
        .map(|(name, path, source)| InputSpec {
            name: name.clone(),
            path: path.clone(),
            source,
        })
        .collect();
    let plan = match plan_batch(program, &specs) {
        Ok(p) => p,
        Err(e) => return fail(&sources, &e),
    };
    let options = StreamOptions {
        memory_budget: o.memory_mb.max(1) << 20,
        raw: o.raw,
    };
    let result = match o.backend {
        Backend::Jit => {
            let jit_options = convoy::JitOptions {
                threads: o.threads.unwrap_or(0),
                isa: o.isa,
                ..Default::default()
            };
            let compiled = match convoy::compile_jit(program, &jit_options) {
                Ok(c) => c,
                Err(e) => {
                    print_diagnostics(&sources, &[e.diagnostic()]);
                    return 1;
                }
            };
            stream_to_files(
                &o.out,
                &plan,
                &JitRunner {
                    compiled: &compiled,
                },
                &options,
            )
        }
        Backend::Interp => {
            let runner = InterpRunner {
                program,
                threads: o.threads.unwrap_or(0),
            };
            stream_to_files(&o.out, &plan, &runner, &options)
        }
    };
    let (stats, written, finish_time) = match result {
        Ok(x) => x,
        Err(e) => return fail(&sources, &e),
    };
    for path in &written {
        println!("wrote {}", path.display());
    }
    if o.stats {
        println!("{}", stats_line(&stats, finish_time, start.elapsed()));
    }
    0
}

fn fail(sources: &SourceMap, e: &StreamError) -> i32 {
    print_diagnostics(sources, &e.diagnostics());
    1
}

/// Opens every `--input NAME=PATH` file. `Err` holds the exit code after the
/// problem was printed: 2 for a malformed spec, 1 for an unreadable file.
fn open_inputs(
    sources: &SourceMap,
    specs: &[String],
) -> Result<Vec<(String, String, FileSource)>, i32> {
    let mut files = vec![];
    for spec in specs {
        let Some((name, path)) = spec.split_once('=') else {
            eprintln!("error: --input expects NAME=PATH, got `{spec}`");
            return Err(2);
        };
        let opened = File::open(path).and_then(|file| {
            let meta = file.metadata()?;
            if meta.is_dir() {
                return Err(std::io::Error::other("a folder, not a file"));
            }
            Ok(FileSource {
                file,
                len: meta.len(),
            })
        });
        match opened {
            Ok(source) => files.push((name.to_string(), path.to_string(), source)),
            Err(e) => {
                print_diagnostics(sources, &[diag::file_error(path, &io_reason(&e))]);
                return Err(1);
            }
        }
    }
    Ok(files)
}

/// Streams into temporary files in `dir`, renamed into place only when the
/// whole batch is written; on any failure they are removed (and `dir` too,
/// if this run created it and left it empty). Returns the statistics, the
/// files written and the time spent finishing them.
fn stream_to_files<R: ImageRunner>(
    dir: &Path,
    plan: &convoy::run::BatchPlan,
    runner: &R,
    options: &StreamOptions,
) -> Result<(StreamStats, Vec<PathBuf>, Duration), StreamError> {
    let program = runner.program();
    let io = |path: &Path, e: &std::io::Error| StreamError::Io {
        path: path.display().to_string(),
        reason: io_reason(e),
    };
    let created = !dir.exists();
    std::fs::create_dir_all(dir).map_err(|e| io(dir, &e))?;
    let mut outputs: Vec<TempOutput> = vec![];
    let cleanup = |outputs: &[TempOutput]| {
        for o in outputs {
            let _ = std::fs::remove_file(&o.temp);
        }
        if created {
            let _ = std::fs::remove_dir(dir);
        }
    };
    for info in &program.outputs {
        let name = format!("{}.npy", info.name);
        let target = dir.join(&name);
        let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        match File::create(&temp) {
            Ok(file) => outputs.push(TempOutput { file, temp, target }),
            Err(e) => {
                cleanup(&outputs);
                return Err(io(&target, &e));
            }
        }
    }
    let mut progress = Progress::new(plan.images);
    let streamed = {
        let mut sinks: Vec<&mut dyn ByteSink> =
            outputs.iter_mut().map(|o| o as &mut dyn ByteSink).collect();
        run_batch(plan, runner, &mut sinks, options, &mut |done| {
            progress.update(done)
        })
    };
    progress.finish();
    let stats = match streamed {
        Ok(s) => s,
        Err(StreamError::Io { path, reason }) => {
            cleanup(&outputs);
            // A failed write names the output's final path.
            let path = (outputs.iter())
                .find(|o| o.target.file_name().is_some_and(|f| f == path.as_str()))
                .map_or(path, |o| o.target.display().to_string());
            return Err(StreamError::Io { path, reason });
        }
        Err(e) => {
            cleanup(&outputs);
            return Err(e);
        }
    };
    let t = Instant::now();
    for o in &outputs {
        // Errors of delayed writes show up at flush time.
        if let Err(e) = o.file.sync_data() {
            cleanup(&outputs);
            return Err(io(&o.target, &e));
        }
    }
    for o in &outputs {
        if let Err(e) = std::fs::rename(&o.temp, &o.target) {
            cleanup(&outputs);
            return Err(io(&o.target, &e));
        }
    }
    let written = outputs.iter().map(|o| o.target.clone()).collect();
    Ok((stats, written, t.elapsed()))
}

/// `stats: 2000 images in 0.41 s (4878 images/s, 304 MB/s); compute 0.20 s,
/// read 0.02 s, write 0.09 s, finish 0.05 s; 2 threads across images; peak RSS 95 MB`
fn stats_line(s: &StreamStats, finish: Duration, total: Duration) -> String {
    let secs = total.as_secs_f64().max(1e-9);
    let mb = (s.bytes_read + s.bytes_written) as f64 / 1e6;
    let threads = if s.image_threads > 1 {
        format!("{} threads across images", s.image_threads)
    } else {
        "one image at a time".to_string()
    };
    format!(
        "stats: {} images in {:.3} s ({:.0} images/s, {:.0} MB/s); compute {:.3} s, read {:.3} s, write {:.3} s, finish {:.3} s; {} chunks, {threads}; peak RSS {}",
        s.images,
        secs,
        s.images as f64 / secs,
        mb / secs,
        s.compute_time.as_secs_f64(),
        s.read_time.as_secs_f64(),
        s.write_time.as_secs_f64(),
        finish.as_secs_f64(),
        s.chunks,
        peak_rss(),
    )
}

/// Peak resident memory of this process: `VmHWM` on Linux, else unknown.
fn peak_rss() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|kb| kb.trim().parse::<u64>().ok())
        .map_or_else(|| "unknown".to_string(), |kb| format!("{} MB", kb / 1024))
}
