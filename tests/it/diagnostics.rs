//! Rendered diagnostics (colour off): one test and one snapshot per case
//! file of `tests/cases/diagnostics/` (its README describes the format), and
//! the checks that keep the table of codes honest: every code is used by
//! exactly one message and shown by at least one snapshot, and every case
//! file, test and snapshot belong together.

use crate::common::{self, root, source_and_output, Files};
use convoy::data::{write_npy, Dtype, NpyData};
use convoy::diag::{codes, render, Diagnostic, Report, SourceMap};
use convoy::ir::Program;
use convoy::{CheckOptions, Tensor};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One `#[test]` per case file of `tests/cases/diagnostics/`, named after it
/// (`diagnostics::case::bad_token`).
mod case {
    diagnostic_cases!(super::run_case);
}

use crate::cases::DIAGNOSTIC_CASES as CASES;

fn cases_dir() -> PathBuf {
    root().join("tests/cases/diagnostics")
}

/// How a case is run, from its `//! key: value` header.
enum Mode {
    /// Parse and check the script (the default).
    Check { pipeline: Option<String> },
    /// Run the `convoy` binary with these arguments in a scratch folder that
    /// holds the script and the data files.
    Cli(Vec<String>),
    /// Check the script, then hand the program to this driver.
    Api(String),
}

fn mode(name: &str, src: &str) -> Mode {
    let mut mode = Mode::Check { pipeline: None };
    for line in src.lines().map_while(|l| l.strip_prefix("//! ")) {
        let (key, value) = line
            .split_once(": ")
            .unwrap_or_else(|| panic!("{name}: header line `{line}` is not `key: value`"));
        mode = match key {
            "pipeline" => Mode::Check {
                pipeline: Some(value.to_string()),
            },
            "cli" => Mode::Cli(value.split_whitespace().map(String::from).collect()),
            "api" => Mode::Api(value.to_string()),
            _ => panic!("{name}: unknown header key `{key}`"),
        };
    }
    mode
}

fn run_case(name: &str) {
    let path = cases_dir().join(format!("{name}.cnn"));
    let src = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file = format!("{name}.cnn");
    let (snapshot, text) = match mode(name, &src) {
        Mode::Check { pipeline } => {
            let mut sources = SourceMap::new();
            let id = sources.add(file, src.as_str());
            let options = CheckOptions { pipeline };
            match convoy::compile(&mut sources, id, &options, &data_files()) {
                Err(d) => {
                    let text = render(&sources, &d, false);
                    assert!(text.contains("Error"), "{name} rendered no error:\n{text}");
                    (format!("error_{name}"), text)
                }
                Ok(c) => {
                    assert!(!c.diagnostics.is_empty(), "{name}: no error, no warning");
                    (
                        format!("warning_{name}"),
                        render(&sources, &c.diagnostics, false),
                    )
                }
            }
        }
        Mode::Cli(args) => (format!("error_{name}"), run_cli(name, &src, &args)),
        Mode::Api(driver) => {
            let mut sources = SourceMap::new();
            let id = sources.add(file, src.as_str());
            let checked = convoy::compile(&mut sources, id, &CheckOptions::default(), &NoData)
                .unwrap_or_else(|d| panic!("{name}: {}", render(&sources, &d, false)));
            let diagnostics = drive(&driver, checked.program);
            assert!(
                diagnostics.iter().any(Diagnostic::is_error),
                "{name}: the driver reported no error"
            );
            (
                format!("error_{name}"),
                render(&sources, &diagnostics, false),
            )
        }
    };
    insta::assert_snapshot!(snapshot, source_and_output(&src, &text));
}

/// `convoy ARGS` in a fresh folder holding the case (as `NAME.cnn`) and
/// every data file; the command must fail with exit code 1. Returns the command line
/// and what it printed to stderr.
fn run_cli(name: &str, src: &str, args: &[String]) -> String {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("diagnostics")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    std::fs::write(dir.join(format!("{name}.cnn")), src).expect("write the case");
    for (file, bytes) in &data_files().0 {
        std::fs::write(dir.join(file), bytes).expect("write a data file");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_convoy"))
        .args(args)
        .current_dir(&dir)
        .output()
        .expect("run convoy");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{name}: convoy {} exited with {:?}\n{stderr}",
        args.join(" "),
        out.status
    );
    format!("$ convoy {}\n{stderr}", args.join(" "))
}

/// The data files a case may name, generated here: in memory for `Check`
/// cases, beside the script in a `Cli` case's folder.
fn data_files() -> Files {
    let mut f = Files::default();
    let mut add = |name: &str, shape: &[usize], data: NpyData, dtype: Dtype| {
        f.0.insert(name.into(), write_npy(shape, &data, dtype));
    };
    let w: Vec<i128> = (0..16 * 9).map(|i| (i % 7) - 3).collect();
    add("w.npy", &[16, 1, 3, 3], NpyData::Int(w.clone()), Dtype::I8);
    add("w_bad_shape.npy", &[16, 9], NpyData::Int(w), Dtype::I8);
    let big: Vec<i128> = (0..16).map(|i| i * 20).collect();
    add("b_big.npy", &[16], NpyData::Int(big), Dtype::I16);
    let fl: Vec<f64> = (0..16).map(|i| i as f64 * 0.1).collect();
    add("b_float.npy", &[16], NpyData::Float(fl), Dtype::F64);
    // An image [1, 2, 2], alone and in batches of 2 and 3.
    add(
        "x.npy",
        &[1, 2, 2],
        NpyData::Int(vec![1, 2, 3, 4]),
        Dtype::U8,
    );
    let batch = |n: i128| NpyData::Int((0..4 * n).collect());
    add("x_batch2.npy", &[2, 1, 2, 2], batch(2), Dtype::U8);
    add("x_batch3.npy", &[3, 1, 2, 2], batch(3), Dtype::U8);
    add("x_3x3.npy", &[1, 3, 3], NpyData::Int(vec![0; 9]), Dtype::U8);
    let x300 = NpyData::Int(vec![1, 2, 300, 4]);
    add("x_300.npy", &[1, 2, 2], x300, Dtype::I16);
    let xf = NpyData::Float(vec![0.5, 1.0, 1.5, 2.0]);
    add("x_float.npy", &[1, 2, 2], xf, Dtype::F64);
    // Two 60-bit values, more than float64's 53 significant bits.
    let wide = NpyData::Int(vec![(1 << 59) + 1, 3]);
    add("x_wide.npy", &[1, 1, 2], wide, Dtype::I64);
    f.0.insert("corrupt.npy".into(), b"\x93NUMPY garbage".to_vec());
    f
}

/// `load(...)` for `Api` cases, whose scripts load nothing.
struct NoData;

impl convoy::DataSource for NoData {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        Err(format!("{path}: Api cases load no files"))
    }
}

/// What the library reports when `program` is used as the `driver` says:
/// public calls that go wrong, or, for errors no public call can cause,
/// the error built by hand.
fn drive(driver: &str, mut program: Program) -> Vec<Diagnostic> {
    match driver {
        "interpret_without_inputs" => vec![interpret(&program, vec![])],
        "interpret_wrong_shape" => {
            let mut inputs = zero_inputs(&program);
            inputs[0].shape.reverse();
            vec![interpret(&program, inputs)]
        }
        "interpret_wrong_length" => {
            let mut inputs = zero_inputs(&program);
            inputs[0].data.pop();
            vec![interpret(&program, inputs)]
        }
        "interpret_wrong_frac" => {
            let mut inputs = zero_inputs(&program);
            inputs[0].frac += 1;
            vec![interpret(&program, inputs)]
        }
        "interpret_out_of_range" => {
            let mut inputs = zero_inputs(&program);
            inputs[0].data[1] = 300;
            vec![interpret(&program, inputs)]
        }
        "interpret_output_without_node" => {
            program.outputs[0].node = program.nodes.len();
            vec![interpret(&program, zero_inputs(&program))]
        }
        "interpret_narrowed_range" => {
            // The last node claims that every value is 0: a checker bug.
            let last = program.nodes.last_mut().expect("nodes");
            for r in &mut last.ranges {
                *r = convoy::ir::Interval::point(0);
            }
            let mut inputs = zero_inputs(&program);
            inputs[0].data.fill(7);
            vec![interpret(&program, inputs)]
        }
        "interpret_indices_from_input" => {
            // The maxunpool reads the second input as its indices: values
            // no maxpool could produce (the checker refuses such scripts).
            let idx = program.inputs[1].node;
            for node in &mut program.nodes {
                if let convoy::ir::Op::MaxUnpool { idx: i, .. } = &mut node.op {
                    *i = idx;
                }
            }
            let mut inputs = zero_inputs(&program);
            inputs[1].data.fill(200);
            vec![interpret(&program, inputs)]
        }
        "jit_without_ranges" => {
            // A node without its per-channel ranges (a checker bug).
            program.nodes.last_mut().expect("nodes").ranges.clear();
            vec![jit_error(&program)]
        }
        "jit_output_without_node" => {
            program.outputs[0].node = program.nodes.len();
            vec![jit_error(&program)]
        }
        "jit_foreign_workspace" => {
            let options = convoy::JitOptions::default();
            let a = convoy::compile_jit(&program, &options).expect("compiles");
            let b = convoy::compile_jit(&program, &options).expect("compiles");
            let mut ws = b.workspace();
            vec![a.execute(&mut ws).expect_err("foreign").diagnostic()]
        }
        // Cranelift rejecting generated code, or a host it does not support:
        // no program can cause these on a supported machine.
        "built_codegen_error" => vec![convoy::JitError::Codegen {
            stage: program.outputs[0].name.clone(),
            message: "Verifier errors".into(),
        }
        .diagnostic()],
        // A panic in a kernel is caught and reported (`jit::pool`); no
        // correct kernel panics, so the test builds the error.
        "built_panicked" => vec![convoy::ExecError::Panicked {
            stage: Some(program.outputs[0].name.clone()),
        }
        .diagnostic()],
        "built_host_error" => vec![convoy::JitError::Host {
            message: "the host is not supported by Cranelift".into(),
        }
        .diagnostic()],
        "hls_wider_than_emittable" => {
            // Checked programs stay far below the emitter's 128 bits.
            let last = program.nodes.last_mut().expect("nodes");
            last.ty.width = 200;
            vec![emit_hls(&program, convoy::HlsOptions::default())]
        }
        "hls_testbench_input_shape" => {
            let mut inputs = zero_inputs(&program);
            inputs[0].shape.reverse();
            let options = convoy::HlsOptions {
                inputs: Some(inputs),
                ..Default::default()
            };
            vec![emit_hls(&program, options)]
        }
        _ => panic!("no driver `{driver}`"),
    }
}

fn zero_inputs(program: &Program) -> Vec<Tensor> {
    program
        .inputs
        .iter()
        .map(|i| {
            let node = &program.nodes[i.node];
            Tensor::zeros(node.shape.dims(), node.frac)
        })
        .collect()
}

fn interpret(program: &Program, inputs: Vec<Tensor>) -> Diagnostic {
    convoy::interpret(program, &inputs)
        .expect_err("the run fails")
        .diagnostic()
}

fn jit_error(program: &Program) -> Diagnostic {
    match convoy::compile_jit(program, &convoy::JitOptions::default()) {
        Ok(_) => panic!("the JIT compiles it"),
        Err(e) => e.diagnostic(),
    }
}

fn emit_hls(program: &Program, options: convoy::HlsOptions) -> Diagnostic {
    match convoy::emit_hls(program, &options) {
        Ok(_) => panic!("the HLS emitter accepts it"),
        Err(d) => d,
    }
}

#[test]
fn several_errors_are_reported_in_one_run() {
    let src = "pipeline p {\n  input x: u8[16, 32, 64]\n  param w: i8[16, 1, 3, 3] = random(seed: 1)\n  let a = relu(nope)\n  let b = dwconv(x, w, stride: 0)\n  let c = x * 3 as u4\n  output a, b, c\n}\n";
    let text = common::compile("many.cnn", src, &data_files()).unwrap_err();
    assert_eq!(text.matches("Error").count(), 3, "{text}");
}

/// The snapshots of this file: (name, text). insta keeps them in
/// `snapshots/` beside this file, named after this module's path, so this
/// finds them wherever the file moves.
fn snapshots() -> Vec<(String, String)> {
    let here = Path::new(file!()).parent().expect("the test file's folder");
    let dir = root().join(here).join("snapshots");
    let prefix = format!("{}__", module_path!().replace("::", "__"));
    let mut out = vec![];
    for entry in std::fs::read_dir(&dir).expect("the snapshots folder") {
        let path = entry.expect("entry").path();
        let file = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if let Some(name) = file
            .strip_prefix(&prefix)
            .and_then(|n| n.strip_suffix(".snap"))
        {
            let text = std::fs::read_to_string(&path).expect("read a snapshot");
            out.push((name.to_string(), text));
        }
    }
    out.sort();
    out
}

/// A snapshot without its case would never be checked again.
#[test]
fn every_snapshot_has_a_case() {
    let orphans: Vec<String> = snapshots()
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| {
            let case = name
                .strip_prefix("error_")
                .or_else(|| name.strip_prefix("warning_"));
            !case.is_some_and(|c| CASES.contains(&c))
        })
        .collect();
    assert!(orphans.is_empty(), "snapshots without a case: {orphans:?}");
}

/// Every code of the table appears as `[CODE]` in the output of some
/// snapshot, and every code a snapshot shows is in the table.
#[test]
fn every_code_is_shown_by_a_snapshot() {
    let mut shown = BTreeSet::new();
    // `convoy import`'s errors are snapshotted beside their models
    // (`tests/it/import.rs`), which need ONNX files rather than scripts.
    for (_, text) in snapshots().into_iter().chain(crate::import::snapshots()) {
        let output = text.split_once("\nOUTPUT\n").map_or("", |(_, o)| o);
        for part in output.split('[').skip(1) {
            if let Some(code) = part.split(']').next().filter(|c| is_code(c)) {
                shown.insert(code.to_string());
            }
        }
    }
    let table: BTreeSet<String> = codes::ALL.iter().map(|c| c.id.to_string()).collect();
    let unshown: Vec<_> = table.difference(&shown).collect();
    let unknown: Vec<_> = shown.difference(&table).collect();
    assert!(
        unshown.is_empty() && unknown.is_empty(),
        "codes no snapshot shows: {unshown:?}; codes not in diag::codes: {unknown:?}"
    );
}

/// Codes are unique in the table, and each is used by exactly one message:
/// two diagnostics never share a code.
#[test]
fn every_code_is_unique_and_used_once() {
    let mut seen = BTreeSet::new();
    let twice: Vec<_> = codes::ALL
        .iter()
        .filter(|c| !seen.insert(c.id))
        .map(|c| c.id)
        .collect();
    assert!(twice.is_empty(), "codes twice in the table: {twice:?}");
    let used = code_uses(&root().join("src/diag/messages"));
    let wrong: Vec<String> = codes::ALL
        .iter()
        .filter_map(|c| {
            let n = used.iter().filter(|u| *u == c.id).count();
            (n != 1).then(|| format!("{} used {n} times", c.id))
        })
        .collect();
    assert!(wrong.is_empty(), "{wrong:?}");
    let unknown: Vec<_> = used.iter().filter(|u| codes::find(u).is_none()).collect();
    assert!(unknown.is_empty(), "codes not in the table: {unknown:?}");
}

/// Every code named in the code (comments left out) of the `.rs` files under
/// `dir`, once per mention.
fn code_uses(dir: &Path) -> Vec<String> {
    let mut out = vec![];
    for entry in std::fs::read_dir(dir).expect("messages folder") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read");
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or("");
            let words = code.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
            out.extend(words.filter(|w| is_code(w)).map(String::from));
        }
    }
    assert!(!out.is_empty(), "no code found under {}", dir.display());
    out
}

/// `E123`, `W001`, `N001`.
fn is_code(word: &str) -> bool {
    let b = word.as_bytes();
    b.len() == 4 && matches!(b[0], b'E' | b'W' | b'N') && b[1..].iter().all(u8::is_ascii_digit)
}
