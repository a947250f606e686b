//! Helpers shared by the integration tests (`tests/it/`, and the test
//! files not yet folded into it).
#![allow(dead_code)]

pub mod cpp;
pub mod gen;
pub mod tools;

use convoy::diag::{render, SourceMap};
use convoy::{CheckOptions, Checked, DataSource};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// In-memory data files for `load(...)`.
#[derive(Default)]
pub struct Files(pub HashMap<String, Vec<u8>>);

impl DataSource for Files {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        self.0
            .get(path)
            .cloned()
            .ok_or_else(|| "no such file".to_string())
    }
}

/// Reads files relative to a folder, as the CLI does.
pub struct Folder(pub PathBuf);

impl DataSource for Folder {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        std::fs::read(self.0.join(path)).map_err(|e| e.to_string())
    }
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `$CARGO_TARGET_TMPDIR/<path>`, emptied and created: a scratch folder
/// for one test (`path` unique to it).
pub fn scratch(path: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(path);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// Copies the folder `from` to `to`, recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// A process's standard output, as text.
pub fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A process's standard error, as text.
pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Parses and checks `src` named `name`; Err holds the rendered diagnostics (no colour).
pub fn compile(name: &str, src: &str, data: &dyn DataSource) -> Result<(Checked, String), String> {
    let mut sources = SourceMap::new();
    let id = sources.add(name, src);
    match convoy::compile(&mut sources, id, &CheckOptions::default(), data) {
        Ok(c) => {
            let warnings = render(&sources, &c.diagnostics, false);
            Ok((c, warnings))
        }
        Err(d) => Err(render(&sources, &d, false)),
    }
}

/// One tensor per input of `program`, the values of input `k` (its node
/// `node`) being `fill(k, node)`.
pub fn inputs(
    program: &convoy::ir::Program,
    mut fill: impl FnMut(usize, &convoy::ir::Node) -> Vec<i128>,
) -> Vec<convoy::Tensor> {
    program
        .inputs
        .iter()
        .enumerate()
        .map(|(k, info)| {
            let node = &program.nodes[info.node];
            convoy::Tensor {
                shape: node.shape.dims(),
                frac: node.frac,
                data: fill(k, node),
            }
        })
        .collect()
}

/// Random inputs of `program`: input `k` from the seed `seed(k)`.
pub fn random_inputs(
    program: &convoy::ir::Program,
    seed: impl Fn(usize) -> u64,
) -> Vec<convoy::Tensor> {
    inputs(program, |k, node| {
        convoy::data::random_raw(seed(k), &node.ty, node.shape.len())
    })
}

/// Runs `cmd` with `input` on its standard input; its output.
pub fn run_with_stdin(cmd: &mut std::process::Command, input: &str) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

/// Compiles `program` with `options` and runs it on `inputs`: its stages
/// when the outputs are the interpreter's bit for bit, why not otherwise.
pub fn jit_agrees(
    program: &convoy::ir::Program,
    inputs: &[convoy::Tensor],
    options: &convoy::jit::JitOptions,
) -> Result<Vec<convoy::jit::StageInfo>, String> {
    let jit = convoy::compile_jit(program, options).map_err(|e| format!("compile: {e}"))?;
    let expected = convoy::interpret(program, inputs).map_err(|e| format!("interpreter: {e}"))?;
    match jit.run(inputs) {
        Ok(got) if got == expected => Ok(jit.stages().to_vec()),
        Ok(_) => Err("outputs differ".to_string()),
        Err(e) => Err(format!("run: {e}")),
    }
}

/// A family of random programs checked against the interpreter by
/// [`check_random_programs`].
pub struct RandomPrograms<'a> {
    /// The file name diagnostics use.
    pub file: &'a str,
    /// The stage counted when it runs on the kernels.
    pub stage: &'a str,
    /// The kernel (`StageInfo::kernel`) it must run on to count (None:
    /// any).
    pub kernel: Option<&'a str>,
    /// Input `k` of program `seed` comes from the seed `seed * inputs + k`.
    pub inputs: u64,
    /// A program the checker refuses is skipped (some random geometries
    /// leave no output); otherwise it is a failure.
    pub refused_ok: bool,
    /// `JitOptions::min_job` (None: the default).
    pub min_job: Option<u64>,
}

/// Runs programs `program(0)..program(count)` under `isa`, on 1 or 2
/// threads by the seed's parity, against the interpreter, and fails on the
/// first that differs (with the count of all). Returns how many programs
/// checked and how many of their stages `family.stage` ran on `isa`'s
/// kernels. `SHOW=1` prints each program's stages.
pub fn check_random_programs(
    family: &RandomPrograms,
    isa: convoy::jit::Isa,
    count: u64,
    program: impl Fn(u64) -> String,
) -> (usize, usize) {
    let mut failures = vec![];
    let (mut checked_ok, mut native) = (0, 0);
    for seed in 0..count {
        let src = program(seed);
        let checked = match compile(family.file, &src, &Files::default()) {
            Ok((c, _)) => c,
            Err(_) if family.refused_ok => continue,
            Err(e) => {
                failures.push(format!("seed {seed}: {e}\n{src}"));
                continue;
            }
        };
        checked_ok += 1;
        let program = &checked.program;
        let defaults = convoy::jit::JitOptions::default();
        let options = convoy::jit::JitOptions {
            threads: 1 + (seed % 2) as usize,
            min_job: family.min_job.unwrap_or(defaults.min_job),
            isa,
            ..defaults
        };
        let inputs = random_inputs(program, |k| seed * family.inputs + k as u64);
        match jit_agrees(program, &inputs, &options) {
            Ok(stages) => {
                let on = |s: &&convoy::jit::StageInfo| {
                    s.name == family.stage
                        && s.native
                        && s.kernel_isa == Some(isa)
                        && family.kernel.is_none_or(|k| s.kernel == Some(k))
                };
                native += stages.iter().filter(on).count();
                if std::env::var("SHOW").is_ok() {
                    eprintln!("{src}");
                    for s in &stages {
                        eprintln!("seed {seed} {} {} {}", s.name, s.native, s.label);
                    }
                }
            }
            Err(e) => failures.push(format!("{isa:?} seed {seed}: {e}\n{src}")),
        }
    }
    assert_no_failures(&failures);
    eprintln!(
        "{isa:?}: {checked_ok} programs, {native} stages {} on its kernels",
        family.stage
    );
    (checked_ok, native)
}

/// [`check_random_programs`] under each of `isas` that this host runs;
/// every program must check. Returns, per instruction set run, how many
/// stages `family.stage` ran on its kernels.
pub fn check_on_isas(
    family: &RandomPrograms,
    isas: &[convoy::jit::Isa],
    count: u64,
    program: impl Fn(u64) -> String,
) -> Vec<(convoy::jit::Isa, usize)> {
    let mut native = vec![];
    for &isa in isas.iter().filter(|&&isa| convoy::jit::isa_supported(isa)) {
        let (checked, n) = check_random_programs(family, isa, count, &program);
        assert_eq!(checked as u64, count, "every program checks");
        native.push((isa, n));
    }
    native
}

/// Fails with the count and the first of `failures`, if any.
pub fn assert_no_failures(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} failures; first:\n{}",
        failures.len(),
        failures[0]
    );
}

/// Every `.cnn` file under `dir`, sorted.
pub fn cnn_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    out.retain(|p| p.extension().is_some_and(|e| e == "cnn"));
    out.sort();
    out
}

/// SOURCE then OUTPUT, the layout of every snapshot.
pub fn source_and_output(src: &str, output: &str) -> String {
    format!("SOURCE\n{}\nOUTPUT\n{}", src.trim_end(), output.trim_end())
}
