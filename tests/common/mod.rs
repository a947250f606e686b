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
