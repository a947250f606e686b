//! The example networks against their workaround versions
//! (`tests/cases/workarounds/NAME.cnn`: the same network as
//! `examples/NAME.cnn`, written as it had to be before tables, shared
//! subexpressions, pixel shuffle, average pooling, dense and argmax). Each
//! workaround computes the example's onnxruntime goldens (its `test` block
//! reads them), and in both HLS styles the example's design has no more
//! stages and no more multipliers than the workaround's, and fewer of one
//! of them, as `convoy estimate` counts them (the table of
//! examples/README.md, `python3 tools/workaround_costs.py`).

use crate::common::root;

use std::path::Path;
use std::process::Command;

fn workarounds() -> Vec<String> {
    let dir = root().join("tests/cases/workarounds");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            let stem = path.file_stem()?.to_str()?.to_string();
            (path.extension()? == "cnn").then_some(stem)
        })
        .collect();
    names.sort();
    names
}

/// (stages, multipliers) of `convoy estimate --style STYLE --format json`.
fn estimate(path: &Path, style: &str) -> (usize, u64) {
    let o = Command::new(env!("CARGO_BIN_EXE_convoy"))
        .args(["estimate", "--style", style, "--format", "json"])
        .arg(path)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let stages = v["stages"].as_array().unwrap().len();
    (stages, v["multipliers"].as_u64().unwrap())
}

#[test]
fn every_workaround_computes_the_examples_goldens() {
    let names = workarounds();
    assert!(names.len() >= 4, "{names:?}");
    let o = Command::new(env!("CARGO_BIN_EXE_convoy"))
        .args(["test", "--backend", "interp"])
        .arg(root().join("tests/cases/workarounds"))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for name in &names {
        assert!(
            out.contains(&format!("{name}.cnn::{name}_workaround ... ok")),
            "{out}"
        );
    }
}

#[test]
fn every_example_costs_less_than_its_workaround() {
    for name in workarounds() {
        let example = root().join(format!("examples/{name}.cnn"));
        let old = root().join(format!("tests/cases/workarounds/{name}.cnn"));
        for style in ["array", "stream"] {
            let (old_stages, old_mults) = estimate(&old, style);
            let (new_stages, new_mults) = estimate(&example, style);
            assert!(
                new_stages <= old_stages
                    && new_mults <= old_mults
                    && (new_stages < old_stages || new_mults < old_mults),
                "{name}, {style}: {new_stages} stages and {new_mults} multipliers, \
                 the workaround {old_stages} and {old_mults}"
            );
        }
    }
}
