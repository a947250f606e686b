//! The `convoy` binary end to end: exit codes, files written, errors named.

use crate::common::{root, stderr};
use convoy::data::{parse_npy, write_npy, Dtype, NpyData};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn convoy(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_convoy"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("the binary runs")
}

fn scratch(name: &str) -> PathBuf {
    crate::common::scratch(&format!("cli/{name}"))
}

fn write(path: &Path, shape: &[usize], data: NpyData, dtype: Dtype) {
    std::fs::write(path, write_npy(shape, &data, dtype)).unwrap();
}

fn u8_map(shape: &[usize], seed: u64) -> NpyData {
    let n: usize = shape.iter().product();
    NpyData::Int(
        (0..n)
            .map(|i| ((i as u64 * 2654435761 + seed) % 256) as i128)
            .collect(),
    )
}

#[test]
fn check_prints_the_table_and_json() {
    let o = convoy(&["check", "examples/seed.cnn"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("dwconv") && out.contains("total MACs per image: 810048"),
        "{out}"
    );
    let o = convoy(&["check", "examples/seed.cnn", "--format", "json"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.starts_with("{\n  \"pipeline\": \"seed\""), "{out}");
    assert!(out.contains("\"type\": \"u8\""));
}

#[test]
fn run_writes_outputs_with_the_narrowest_dtype() {
    let dir = scratch("run");
    let x = dir.join("x.npy");
    write(&x, &[8, 32, 32], u8_map(&[8, 32, 32], 1), Dtype::U8);
    let out = dir.join("out");
    let o = convoy(&[
        "run",
        "examples/unpool.cnn",
        "--input",
        &format!("x={}", x.display()),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for name in ["u", "n"] {
        let arr = parse_npy(&std::fs::read(out.join(format!("{name}.npy"))).unwrap()).unwrap();
        assert_eq!(arr.shape, vec![8, 32, 32]);
        assert_eq!(arr.dtype, Dtype::U8);
    }
    // The interpreter, explicitly, writes the same bytes.
    let out2 = dir.join("out2");
    let o = convoy(&[
        "run",
        "examples/unpool.cnn",
        "--backend",
        "interp",
        "-i",
        &format!("x={}", x.display()),
        "-o",
        out2.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(out.join("u.npy")).unwrap(),
        std::fs::read(out2.join("u.npy")).unwrap()
    );
}

#[test]
fn a_batch_axis_is_carried_to_the_outputs() {
    let dir = scratch("batch");
    let x = dir.join("x.npy");
    // Any integer dtype whose values fit is accepted.
    write(&x, &[3, 8, 32, 32], u8_map(&[3, 8, 32, 32], 2), Dtype::I64);
    let out = dir.join("out");
    let o = convoy(&[
        "run",
        "examples/unpool.cnn",
        "--input",
        &format!("x={}", x.display()),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let arr = parse_npy(&std::fs::read(out.join("n.npy")).unwrap()).unwrap();
    assert_eq!(arr.shape, vec![3, 8, 32, 32]);
    // Each image of the batch equals the same image run alone.
    let single = dir.join("x1.npy");
    let all = match parse_npy(&std::fs::read(&x).unwrap()).unwrap().data {
        NpyData::Int(v) => v,
        NpyData::Float(_) => unreachable!(),
    };
    let image = all[8 * 32 * 32..2 * 8 * 32 * 32].to_vec();
    write(&single, &[8, 32, 32], NpyData::Int(image), Dtype::U8);
    let out1 = dir.join("out1");
    let o = convoy(&[
        "run",
        "examples/unpool.cnn",
        "--input",
        &format!("x={}", single.display()),
        "--out",
        out1.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let one = parse_npy(&std::fs::read(out1.join("n.npy")).unwrap()).unwrap();
    match (arr.data, one.data) {
        (NpyData::Int(b), NpyData::Int(s)) => assert_eq!(&b[s.len()..2 * s.len()], &s[..]),
        _ => panic!("integer outputs expected"),
    }
}

/// Each bad run exits 1, names the problem, and writes nothing.
#[test]
fn bad_data_is_refused_and_nothing_is_written() {
    let dir = scratch("bad");
    let good = dir.join("good.npy");
    write(&good, &[8, 32, 32], u8_map(&[8, 32, 32], 3), Dtype::U8);
    let float = dir.join("float.npy");
    write(
        &float,
        &[8, 32, 32],
        NpyData::Float(vec![0.5; 8 * 32 * 32]),
        Dtype::F64,
    );
    let big = dir.join("big.npy");
    write(
        &big,
        &[8, 32, 32],
        NpyData::Int(vec![300; 8 * 32 * 32]),
        Dtype::I16,
    );
    let shape = dir.join("shape.npy");
    write(&shape, &[8, 32, 31], u8_map(&[8, 32, 31], 4), Dtype::U8);
    let corrupt = dir.join("corrupt.npy");
    std::fs::write(&corrupt, b"\x93NUMPY\x01\x00").unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec![], "no data for input `x`"),
        (
            vec![
                format!("x={}", good.display()),
                format!("y={}", good.display()),
            ],
            "no input `y`",
        ),
        (vec![format!("x={}", float.display())], "float.npy"),
        (vec![format!("x={}", big.display())], "300"),
        (vec![format!("x={}", shape.display())], "[8, 32, 31]"),
        (vec![format!("x={}", corrupt.display())], "corrupt.npy"),
        (
            vec![format!("x={}", dir.join("missing.npy").display())],
            "missing.npy",
        ),
    ];
    for (inputs, expected) in cases {
        let out = dir.join("never");
        let mut args = vec![
            "run".to_string(),
            "examples/unpool.cnn".into(),
            "--out".into(),
            out.display().to_string(),
        ];
        for i in &inputs {
            args.push("--input".into());
            args.push(i.clone());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = convoy(&args);
        assert_eq!(o.status.code(), Some(1), "{inputs:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(expected),
            "{inputs:?}: expected `{expected}` in\n{}",
            stderr(&o)
        );
        assert!(
            !out.exists() || std::fs::read_dir(&out).unwrap().next().is_none(),
            "{inputs:?} wrote files"
        );
    }
}

#[test]
fn script_errors_exit_1_and_usage_errors_exit_2() {
    let dir = scratch("script");
    let bad = dir.join("bad.cnn");
    std::fs::write(
        &bad,
        "pipeline p {\n  input x: u8[1, 2, 2]\n  let y = x as u4\n  output y\n}\n",
    )
    .unwrap();
    let o = convoy(&["check", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("the value may not fit u4"),
        "{}",
        stderr(&o)
    );
    let o = convoy(&["check", dir.join("nope.cnn").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("nope.cnn"));
    assert_eq!(convoy(&[]).status.code(), Some(2));
    assert_eq!(convoy(&["check"]).status.code(), Some(2));
    assert_eq!(
        convoy(&["run", "examples/seed.cnn", "--bogus"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn several_pipelines_need_a_choice() {
    let dir = scratch("pipelines");
    let f = dir.join("two.cnn");
    std::fs::write(&f, "pipeline a {\n  input x: u8[1, 2, 2]\n  output x\n}\npipeline b {\n  input x: i8[1, 2, 2]\n  let y = -x\n  output y\n}\n").unwrap();
    let o = convoy(&["check", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--pipeline"));
    let o = convoy(&["check", f.to_str().unwrap(), "--pipeline", "b"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("pipeline b"));
}
