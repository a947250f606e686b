//! The interpreter against an independent implementation of the same
//! semantics: the ONNX reference evaluator (`onnx.reference`), one test per
//! case.
//!
//! `tools/onnx_fixtures.py` writes one folder per case under
//! `tests/fixtures/onnx/`: a script `case.cnn`, its inputs `<name>.npy`, the
//! weights it loads, and `expected_<output>.npy` computed with ONNX (stages)
//! and exact ap_fixed arithmetic in Python (casts), never with Convoy. This
//! test runs `convoy run case.cnn --backend interp` on every case and
//! compares each output with the expected array element by element, by
//! value (Convoy writes the narrowest dtype; the fixtures may use another).
//!
//! Regenerate the fixtures with
//! `build/venv/bin/python tools/onnx_fixtures.py` (a venv with numpy and onnx).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cases::ONNX_FIXTURES;
use convoy::data::{parse_npy, NpyArray, NpyData};

/// The suite must not pass vacuously.
const MIN_CASES: usize = 200;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join("onnx")
}

/// Names declared by `input NAME: ...` lines of a script.
fn input_names(source: &str) -> Vec<String> {
    source
        .lines()
        .filter_map(|line| {
            let rest = line.trim_start().strip_prefix("input")?;
            if !rest.starts_with(char::is_whitespace) {
                return None;
            }
            let name: String = rest
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            (!name.is_empty()).then_some(name)
        })
        .collect()
}

fn read_npy(path: &Path) -> Result<NpyArray, String> {
    let bytes = fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse_npy(&bytes).map_err(|e| format!("cannot parse {}: {e:?}", path.display()))
}

/// Every element as an exact value. Integers are exact as i128; floats are
/// exact f64 values. Values in the fixtures stay far below 2^53, so both
/// kinds compare exactly as f64 when they are mixed.
#[derive(Clone, Copy, Debug)]
enum Value {
    Int(i128),
    Float(f64),
}

impl Value {
    fn same(self, other: Value) -> bool {
        match (self, other) {
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Int(a), Value::Float(b)) | (Value::Float(b), Value::Int(a)) => {
                b.fract() == 0.0 && b.abs() < 2f64.powi(100) && a == b as i128
            }
            (Value::Float(a), Value::Float(b)) => a == b,
        }
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Int(v) => write!(f, "{v}"),
            Value::Float(v) => write!(f, "{v}"),
        }
    }
}

fn values(a: &NpyArray) -> Vec<Value> {
    match &a.data {
        NpyData::Int(v) => v.iter().map(|&x| Value::Int(x)).collect(),
        NpyData::Float(v) => v.iter().map(|&x| Value::Float(x)).collect(),
    }
}

/// `[c, y, x]` of flat index `k` in C order.
fn unravel(shape: &[usize], mut k: usize) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for (i, &d) in shape.iter().enumerate().rev() {
        if d > 0 {
            idx[i] = k % d;
            k /= d;
        }
    }
    idx
}

/// Compares one output with its expected array: `None` when equal.
fn compare(output: &str, got: &NpyArray, want: &NpyArray) -> Option<String> {
    if got.shape != want.shape {
        return Some(format!(
            "output `{output}`: shape {:?}, expected {:?}",
            got.shape, want.shape
        ));
    }
    let (g, w) = (values(got), values(want));
    let differing = g.iter().zip(&w).filter(|(a, b)| !a.same(**b)).count();
    let first = g.iter().zip(&w).position(|(a, b)| !a.same(*b))?;
    Some(format!(
        "output `{output}`: {differing} of {} elements differ; first at flat index {first} {:?}: got {}, expected {}",
        w.len(),
        unravel(&want.shape, first),
        g[first],
        w[first]
    ))
}

/// Runs one case; `Err` describes the failure.
fn run_case(case: &Path, scratch: &Path) -> Result<(), String> {
    let script = case.join("case.cnn");
    let source = fs::read_to_string(&script)
        .map_err(|e| format!("cannot read {}: {e}", script.display()))?;
    let name = case
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let out = scratch.join(&name);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_convoy"));
    cmd.arg("run").arg(&script);
    for input in input_names(&source) {
        cmd.arg("--input").arg(format!(
            "{input}={}",
            case.join(format!("{input}.npy")).display()
        ));
    }
    cmd.arg("--out").arg(&out).arg("--backend").arg("interp");
    let result = cmd
        .output()
        .map_err(|e| format!("cannot start convoy: {e}"))?;
    if !result.status.success() {
        return Err(format!(
            "convoy run failed ({}):\n{}{}",
            result.status,
            String::from_utf8_lossy(&result.stdout),
            String::from_utf8_lossy(&result.stderr)
        ));
    }
    let mut expected: Vec<(String, PathBuf)> = fs::read_dir(case)
        .map_err(|e| format!("cannot list {}: {e}", case.display()))?
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let file = path.file_name()?.to_str()?;
            let output = file
                .strip_prefix("expected_")?
                .strip_suffix(".npy")?
                .to_string();
            Some((output, path))
        })
        .collect();
    expected.sort();
    if expected.is_empty() {
        return Err("no expected_<output>.npy file".into());
    }
    let mut problems = vec![];
    for (output, want_path) in &expected {
        let want = read_npy(want_path)?;
        let got = match read_npy(&out.join(format!("{output}.npy"))) {
            Ok(g) => g,
            Err(e) => {
                problems.push(format!("output `{output}`: {e}"));
                continue;
            }
        };
        if let Some(p) = compare(output, &got, &want) {
            problems.push(p);
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

mod fixture {
    onnx_fixtures!(super::interpreter_matches_onnx_reference);
}

/// Runs `tests/fixtures/onnx/<name>/`; fails with every output that differs.
fn interpreter_matches_onnx_reference(name: &str) {
    let case = fixtures_dir().join(name);
    let scratch = crate::common::scratch(&format!("onnx_reference/{name}"));
    let result = run_case(&case, &scratch);
    let _ = fs::remove_dir_all(&scratch);
    if let Err(e) = result {
        panic!("ONNX reference case {name} fails:\n{e}");
    }
}

#[test]
fn no_case_went_missing() {
    assert!(
        ONNX_FIXTURES.len() >= MIN_CASES,
        "only {} ONNX reference cases in {} (expected at least {MIN_CASES}); regenerate them with tools/onnx_fixtures.py",
        ONNX_FIXTURES.len(),
        fixtures_dir().display()
    );
}

#[test]
fn input_names_are_read_from_the_script() {
    let src = "pipeline p {\n  input x: u8[1, 2, 2]\n  input  z2: fixed<8, 4>[1, 2, 2]\n  // input q: u8[1]\n  let inputs = x\n}\n";
    assert_eq!(input_names(src), vec!["x".to_string(), "z2".to_string()]);
}
