//! `Pipeline`: a checked program, its JIT builds (one per thread count,
//! compiled on first use and kept), and what Python asks of it.

use crate::report::{diagnostic_dict, failure, io_reason};
use convoy::check::decimal;
use convoy::data::npy_dtype_for;
use convoy::diag::{Diagnostic, Report, SourceMap};
use convoy::hls::{self, HlsOptions, Style};
use convoy::run::{plan_arrays, run_arrays, ArrayInput, ImageRunner, InterpRunner, JitRunner};
use convoy::run::{InputError, StreamError};
use convoy::{Checked, CompiledPipeline, ExecError, JitOptions, RunError};
use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1, PyReadwriteArray1};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PySlice};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[pyclass(module = "convoy._convoy", frozen)]
pub struct Pipeline {
    sources: SourceMap,
    checked: Checked,
    origin: Origin,
    jit: Mutex<Vec<(usize, Arc<CompiledPipeline>)>>,
}

/// What the pipeline was checked from: enough to check it again elsewhere.
pub struct Origin {
    pub name: String,
    pub text: String,
    pub pipeline: Option<String>,
    /// Every `load("...")` file, as (path as written, bytes).
    pub files: Vec<(String, Vec<u8>)>,
}

type OriginParts<'py> = (
    String,
    String,
    Option<String>,
    Vec<(String, Bound<'py, PyBytes>)>,
);

/// One output of a run: name, its bytes, numpy dtype string, shape.
type OutputBytes<'py> = (String, Bound<'py, PyArray1<u8>>, String, Vec<usize>);

impl Pipeline {
    pub fn new(sources: SourceMap, checked: Checked, origin: Origin) -> Self {
        Pipeline {
            sources,
            checked,
            origin,
            jit: Mutex::new(vec![]),
        }
    }

    fn program(&self) -> &convoy::ir::Program {
        &self.checked.program
    }

    /// The JIT build for `threads` (0: every core), compiled once.
    fn compiled(&self, threads: usize) -> Result<Arc<CompiledPipeline>, Diagnostic> {
        let mut builds = self.jit.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, c)) = builds.iter().find(|(t, _)| *t == threads) {
            return Ok(c.clone());
        }
        let options = JitOptions {
            threads,
            ..JitOptions::default()
        };
        let compiled =
            Arc::new(convoy::compile_jit(self.program(), &options).map_err(|e| e.diagnostic())?);
        builds.push((threads, compiled.clone()));
        Ok(compiled)
    }

    fn fail(&self, kind: &str, diagnostics: &[Diagnostic]) -> PyErr {
        failure(kind, &self.sources, diagnostics)
    }

    /// A failed run as `Failure`: bad data (names, shapes, dtypes, values
    /// outside the type or the proven range) is "input", the rest "run".
    fn run_failure(&self, e: &StreamError) -> PyErr {
        let kind = match e {
            StreamError::Input(_) => "input",
            StreamError::Run(ExecError::Run(r)) if matches!(**r, RunError::InputRange { .. }) => {
                "input"
            }
            StreamError::Run(_) => "run",
            StreamError::Io { .. } => "io",
        };
        let mut diagnostics = e.diagnostics();
        if let StreamError::Input(errors) = e {
            // The CLI's hint names its flag; here the inputs are arguments.
            for (d, err) in diagnostics.iter_mut().zip(errors) {
                if let InputError::Missing { name } = err {
                    d.help = Some(format!("pass it as run({name}=array)"));
                }
            }
        }
        for d in &mut diagnostics {
            if let Some(help) = &d.help {
                d.help = Some(help.replace("--raw", "raw=True"));
            }
            d.message = d.message.replace("--raw", "raw=True");
        }
        self.fail(kind, &diagnostics)
    }

    fn hls_options(
        &self,
        style: &str,
        parallel: Vec<(String, String)>,
        part: Option<String>,
        clock_ns: f64,
    ) -> PyResult<HlsOptions> {
        let style = match style {
            "array" => Style::Array,
            "stream" => Style::Stream,
            other => {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "style must be \"array\" or \"stream\", not {other:?}"
                )))
            }
        };
        let mut stages = BTreeMap::new();
        for (stage, knobs) in parallel {
            let p = hls::parse_parallel(&knobs).map_err(|e| self.fail("hls", &[e.diagnostic()]))?;
            stages.insert(stage, p);
        }
        let defaults = HlsOptions::default();
        Ok(HlsOptions {
            style,
            part: part.unwrap_or(defaults.part),
            clock_ns,
            parallel: stages,
            sources: Some(self.sources.clone()),
            ..defaults
        })
    }

    fn value_dict<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        node: convoy::ir::NodeId,
    ) -> PyResult<Bound<'py, PyDict>> {
        let n = &self.program().nodes[node];
        let d = PyDict::new(py);
        d.set_item("name", name)?;
        d.set_item("shape", n.shape.dims())?;
        d.set_item("type", n.ty.to_string())?;
        d.set_item("dtype", npy_dtype_for(&n.ty, false).name())?;
        d.set_item("raw_dtype", npy_dtype_for(&n.ty, true).name())?;
        d.set_item("frac", n.frac)?;
        let range = n.range();
        d.set_item("min", decimal(range.lo, n.frac))?;
        d.set_item("max", decimal(range.hi, n.frac))?;
        Ok(d)
    }
}

/// A cache line, in bytes.
const LINE: usize = 64;

/// Plans the run, allocates the outputs as numpy arrays (uninitialised:
/// every byte is written), and runs into them with the GIL released. The
/// outer error is Python's, the inner one the run's.
fn run_into<'py, R: ImageRunner>(
    py: Python<'py>,
    runner: &R,
    inputs: &[ArrayInput],
    raw: bool,
) -> PyResult<Result<Vec<OutputBytes<'py>>, StreamError>> {
    let plan = match plan_arrays(runner, inputs, raw, |name| format!("argument `{name}`")) {
        Ok(p) => p,
        Err(e) => return Ok(Err(e)),
    };
    let numpy = py.import("numpy")?;
    let mut arrays = vec![];
    for o in &plan.outputs {
        // Each output starts on a cache line: the JIT may store its last
        // stage straight into it, and its vector stores then split no lines.
        let n = o.byte_len();
        let block = numpy
            .call_method1("empty", (n + LINE - 1, "u1"))?
            .cast_into::<PyArray1<u8>>()?;
        let skip = (block.data() as usize).wrapping_neg() % LINE;
        let a = block.call_method1(
            "__getitem__",
            (PySlice::new(py, skip as isize, (skip + n) as isize, 1),),
        )?;
        arrays.push(a.cast_into::<PyArray1<u8>>()?);
    }
    let mut guards: Vec<PyReadwriteArray1<u8>> = arrays.iter().map(|a| a.readwrite()).collect();
    let mut slices = vec![];
    for g in &mut guards {
        slices.push(g.as_slice_mut()?);
    }
    if let Err(e) = py.detach(|| run_arrays(runner, &plan, &mut slices)) {
        return Ok(Err(e));
    }
    drop(guards);
    Ok(Ok(plan
        .outputs
        .into_iter()
        .zip(arrays)
        .map(|(o, bytes)| (o.name, bytes, o.dtype.descr().to_string(), o.shape))
        .collect()))
}

/// Warm-up (at least 2 runs and 0.2 s), then `iters` timed runs. The loop of `convoy bench`, so
/// that the figures compare; the count lets a caller divide the loop's CPU
/// time by its runs.
fn time(iters: usize, mut f: impl FnMut() -> Result<(), ExecError>) -> Result<Timing, ExecError> {
    let warm = Instant::now();
    let mut runs = 0;
    while runs < 2 || (warm.elapsed() < Duration::from_millis(200) && runs < iters) {
        f()?;
        runs += 1;
    }
    let mut times = Vec::with_capacity(iters);
    let start = Instant::now();
    for _ in 0..iters {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed());
    }
    let mean = start.elapsed() / iters as u32;
    times.sort();
    Ok(Timing {
        median: times[times.len() / 2],
        min: times[0],
        mean,
        runs: runs + iters,
    })
}

/// What [`time`] measured: the median, minimum and mean of the timed runs
/// (the mean is the throughput a batch sees), and every run made.
struct Timing {
    median: Duration,
    min: Duration,
    mean: Duration,
    runs: usize,
}

#[pymethods]
impl Pipeline {
    #[getter]
    fn name(&self) -> String {
        self.program().name.clone()
    }

    /// (source name, source text, pipeline, [(load path, bytes)]): the
    /// arguments of `restore`, for pickling.
    fn origin<'py>(&self, py: Python<'py>) -> OriginParts<'py> {
        let o = &self.origin;
        let files = (o.files.iter())
            .map(|(p, b)| (p.clone(), PyBytes::new(py, b)))
            .collect();
        (o.name.clone(), o.text.clone(), o.pipeline.clone(), files)
    }

    /// Inputs, outputs (name, shape, type, dtypes, exact range) and the
    /// checker's warnings and notes.
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let program = self.program();
        let d = PyDict::new(py);
        let inputs = PyList::empty(py);
        for i in &program.inputs {
            inputs.append(self.value_dict(py, &i.name, i.node)?)?;
        }
        let outputs = PyList::empty(py);
        for o in &program.outputs {
            outputs.append(self.value_dict(py, &o.name, o.node)?)?;
        }
        let warnings = PyList::empty(py);
        for w in &self.checked.diagnostics {
            warnings.append(diagnostic_dict(py, &self.sources, w)?)?;
        }
        d.set_item("inputs", inputs)?;
        d.set_item("outputs", outputs)?;
        d.set_item("warnings", warnings)?;
        d.set_item("macs", program.total_macs())?;
        Ok(d)
    }

    /// The stage table of `convoy check`, one dict per row.
    fn table<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let rows = PyList::empty(py);
        for r in convoy::check::table::rows(self.program()) {
            let d = PyDict::new(py);
            d.set_item("stage", r.stage)?;
            d.set_item("op", r.op)?;
            d.set_item("shape", r.shape)?;
            d.set_item("storage", r.storage)?;
            d.set_item("halo", r.halo)?;
            d.set_item("min", r.min)?;
            d.set_item("max", r.max)?;
            d.set_item("type", r.ty)?;
            d.set_item("macs", r.macs)?;
            rows.append(d)?;
        }
        Ok(rows)
    }

    /// Runs C-order byte buffers (numpy's dtype strings and shapes) with the
    /// GIL released; returns each output's bytes, dtype string and shape.
    #[allow(clippy::too_many_arguments)]
    fn run<'py>(
        &self,
        py: Python<'py>,
        names: Vec<String>,
        arrays: Vec<PyReadonlyArray1<'py, u8>>,
        descrs: Vec<String>,
        shapes: Vec<Vec<usize>>,
        backend: &str,
        threads: usize,
        raw: bool,
    ) -> PyResult<Vec<OutputBytes<'py>>> {
        let mut slices = vec![];
        for a in &arrays {
            slices.push(a.as_slice()?);
        }
        let inputs: Vec<ArrayInput> = (names.into_iter().zip(descrs).zip(shapes).zip(slices))
            .map(|(((name, descr), shape), bytes)| ArrayInput {
                name,
                descr,
                shape,
                bytes,
            })
            .collect();
        let jit = match backend {
            "jit" => Some(self.compiled(threads).map_err(|d| self.fail("jit", &[d]))?),
            "interp" => None,
            other => {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "backend must be \"jit\" or \"interp\", not {other:?}"
                )))
            }
        };
        let program = self.program();
        let result = match &jit {
            Some(compiled) => run_into(py, &JitRunner { compiled }, &inputs, raw)?,
            None => run_into(py, &InterpRunner { program, threads }, &inputs, raw)?,
        };
        result.map_err(|e| self.run_failure(&e))
    }

    /// `convoy bench`'s measurement: one image of random inputs, `iters`
    /// timed runs after warm-up, GIL released.
    fn bench<'py>(
        &self,
        py: Python<'py>,
        iters: usize,
        threads: usize,
    ) -> PyResult<Bound<'py, PyDict>> {
        let compiled = self.compiled(threads).map_err(|d| self.fail("jit", &[d]))?;
        let image = hls::random_inputs(self.program(), 1);
        let iters = iters.max(1);
        let timed = py.detach(|| {
            let mut ws = compiled.workspace();
            compiled
                .load_inputs(&mut ws, &image)
                .map_err(ExecError::from)?;
            time(iters, || compiled.execute(&mut ws))
        });
        let Timing {
            median,
            min,
            mean,
            runs,
        } = timed.map_err(|e| self.fail("run", &[e.diagnostic()]))?;
        let macs = self.program().total_macs();
        let d = PyDict::new(py);
        d.set_item("threads", compiled.threads())?;
        d.set_item("iters", iters)?;
        d.set_item("runs", runs)?;
        d.set_item("compile_ms", compiled.compile_time.as_secs_f64() * 1e3)?;
        d.set_item("median_us", median.as_secs_f64() * 1e6)?;
        d.set_item("min_us", min.as_secs_f64() * 1e6)?;
        d.set_item("mean_us", mean.as_secs_f64() * 1e6)?;
        d.set_item("macs", macs)?;
        d.set_item("gmacs", macs as f64 / median.as_secs_f64().max(1e-12) / 1e9)?;
        Ok(d)
    }

    /// `convoy estimate --format json`, as JSON text.
    fn estimate(
        &self,
        style: &str,
        parallel: Vec<(String, String)>,
        part: Option<String>,
        clock_ns: f64,
    ) -> PyResult<String> {
        let options = self.hls_options(style, parallel, part, clock_ns)?;
        match hls::estimate(self.program(), &options) {
            Ok(e) => Ok(e.to_json().to_string()),
            Err(e) => Err(self.fail("hls", &[e.diagnostic()])),
        }
    }

    /// `convoy emit hls`: writes the project into `dir` (every file or none);
    /// returns the paths written.
    #[allow(clippy::too_many_arguments)]
    fn emit_hls(
        &self,
        dir: PathBuf,
        style: &str,
        parallel: Vec<(String, String)>,
        part: Option<String>,
        clock_ns: f64,
        seed: u64,
        force: bool,
    ) -> PyResult<Vec<String>> {
        let mut options = self.hls_options(style, parallel, part, clock_ns)?;
        options.seed = seed;
        let nonempty = std::fs::read_dir(&dir).map_or(dir.exists(), |mut e| e.next().is_some());
        if nonempty && !force {
            let d = convoy::diag::file_error(
                &dir.display().to_string(),
                "the folder exists and is not empty; pass force=True to overwrite its files",
            );
            return Err(self.fail("io", &[d]));
        }
        let project =
            convoy::emit_hls(self.program(), &options).map_err(|d| self.fail("hls", &[d]))?;
        write_project(&dir, &project.files).map_err(|d| self.fail("io", &[d]))
    }
}

/// Every file or none: temporary names first, renamed when all are written.
fn write_project(dir: &Path, files: &[(String, String)]) -> Result<Vec<String>, Diagnostic> {
    let fail = |p: &Path, e: &std::io::Error| {
        convoy::diag::file_error(&p.display().to_string(), &io_reason(e))
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
            .map_or_else(|| dir.to_path_buf(), Path::to_path_buf);
        let file_name = target
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = parent.join(format!(".{file_name}.{}.tmp", std::process::id()));
        let written = std::fs::create_dir_all(&parent).and_then(|()| std::fs::write(&temp, text));
        if let Err(e) = written {
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
    Ok(temps.iter().map(|(_, t)| t.display().to_string()).collect())
}
