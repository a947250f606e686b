//! `convoy run` uses the JIT by default: its files are byte-identical to the
//! interpreter's, for single images and for batches; `convoy bench` reports.

use crate::common::{compile, root, Folder};
use convoy::data::{random_raw, raw_to_npy};
use std::path::{Path, PathBuf};
use std::process::Command;

fn convoy() -> Command {
    Command::new(env!("CARGO_BIN_EXE_convoy"))
}

fn scratch(name: &str) -> PathBuf {
    crate::common::scratch(&format!("jit_cli/{name}"))
}

/// Writes one random `.npy` per input of `example` (with `batch` images if
/// given) and returns the `--input` arguments.
fn write_inputs(example: &Path, dir: &Path, batch: Option<usize>) -> Vec<String> {
    let src = std::fs::read_to_string(example).expect("read");
    let folder = Folder(example.parent().expect("folder").to_path_buf());
    let (checked, _) = compile("x.cnn", &src, &folder).expect("checks");
    let program = &checked.program;
    let mut args = vec![];
    for (k, info) in program.inputs.iter().enumerate() {
        let node = &program.nodes[info.node];
        let mut shape = node.shape.dims();
        let n = batch.unwrap_or(1);
        if let Some(b) = batch {
            shape.insert(0, b);
        }
        let values = random_raw(40 + k as u64, &node.ty, node.shape.len() * n);
        let bytes = raw_to_npy(&shape, &values, &node.ty, false).expect("encode");
        let path = dir.join(format!("{}.npy", info.name));
        std::fs::write(&path, bytes).expect("write input");
        args.push("--input".into());
        args.push(format!("{}={}", info.name, path.display()));
    }
    args
}

fn run(example: &Path, inputs: &[String], out: &Path, extra: &[&str]) {
    let status = convoy()
        .arg("run")
        .arg(example)
        .args(inputs)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("convoy runs");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
}

fn same_files(a: &Path, b: &Path) {
    let mut names: Vec<_> = std::fs::read_dir(a)
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    names.sort();
    assert!(!names.is_empty());
    for n in names {
        let x = std::fs::read(a.join(&n)).expect("read");
        let y = std::fs::read(b.join(&n)).expect("read");
        assert!(x == y, "{n:?} differs between backends");
    }
}

#[test]
fn default_backend_matches_the_interpreter() {
    for (name, batch) in [
        ("seed", None),
        ("unpool", Some(3)),
        ("fixed_act", Some(2)),
        ("strided", None),
    ] {
        let example = root().join("examples").join(format!("{name}.cnn"));
        assert!(
            example.is_file(),
            "{} is gone: name another example here",
            example.display()
        );
        let dir = scratch(name);
        let inputs = write_inputs(&example, &dir, batch);
        run(&example, &inputs, &dir.join("jit"), &[]);
        run(
            &example,
            &inputs,
            &dir.join("jit1"),
            &["--backend", "jit", "--threads", "1"],
        );
        run(
            &example,
            &inputs,
            &dir.join("interp"),
            &["--backend", "interp"],
        );
        same_files(&dir.join("jit"), &dir.join("interp"));
        same_files(&dir.join("jit1"), &dir.join("interp"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn bench_reports_json() {
    let out = convoy()
        .args([
            "bench",
            "--iters",
            "3",
            "--threads",
            "1",
            "--format",
            "json",
        ])
        .arg(root().join("examples/seed.cnn"))
        .output()
        .expect("convoy runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for key in [
        "\"compile_ms\"",
        "\"median_us\"",
        "\"min_us\"",
        "\"mean_us\"",
        "\"gmacs\"",
        "\"stages\"",
        "\"backend\": \"jit\"",
        "\"vpdpbusd_peak_gmacs\"",
    ] {
        assert!(text.contains(key), "{key} missing in {text}");
    }
}

/// `--min-time` keeps timing past `--iters` until the window has passed:
/// 0.3 s of a pipeline that runs in microseconds is many more than 2 runs.
#[test]
fn bench_min_time_times_a_window() {
    let runs = |extra: &[&str]| {
        let out = convoy()
            .args([
                "bench",
                "--iters",
                "2",
                "--threads",
                "1",
                "--format",
                "json",
            ])
            .args(extra)
            .arg(root().join("examples/seed.cnn"))
            .output()
            .expect("convoy runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let tail = text.split("\"runs\": ").nth(1).expect("a runs field");
        let digits: String = tail.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<usize>().expect("a count")
    };
    assert_eq!(runs(&[]), 2);
    assert!(runs(&["--min-time", "0.3"]) > 2);
}

/// `--isa scalar` keeps every stage off the vector kernels; `--isa avx512`
/// (where the CPU has it) puts `strided.cnn`'s stride-2 and dilated
/// convolutions on them; a forced set the CPU lacks is a diagnostic.
#[test]
fn bench_isa_forces_the_instruction_set() {
    let bench = |isa: &str| {
        convoy()
            .args([
                "bench",
                "--iters",
                "2",
                "--threads",
                "1",
                "--format",
                "json",
                "--isa",
                isa,
            ])
            .arg(root().join("examples/strided.cnn"))
            .output()
            .expect("convoy runs")
    };
    let out = bench("scalar");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("\"native\": true"), "{text}");
    assert!(!text.contains("\"vector\": true"), "{text}");
    let out = bench("avx512");
    if convoy::jit::isa_supported(convoy::Isa::Avx512) {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(text.matches("\"native\": true").count(), 2, "{text}");
    } else {
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("E602"));
    }
}

/// The `vpdpbusd` peak of the core is measured and printed next to the
/// achieved GMAC/s (a number where the CPU has AVX-512 VNNI).
#[test]
fn bench_prints_the_vpdpbusd_peak() {
    let out = convoy()
        .args(["bench", "--iters", "2", "--threads", "1"])
        .arg(root().join("examples/seed.cnn"))
        .output()
        .expect("convoy runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    if crate::common::tools::avx512_kernels().is_some() {
        let line = text
            .lines()
            .find(|l| l.contains("vpdpbusd peak"))
            .unwrap_or_else(|| panic!("no peak in {text}"));
        let peak: f64 = line
            .split_whitespace()
            .nth(2)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no number in {line}"));
        // Debug builds (the test suite's) do not inline the intrinsics: the
        // figure means something in release builds only.
        assert!(peak > 0.0, "implausible peak {peak}: {line}");
        assert!(text.contains("% of peak"), "no per-stage share in {text}");
    } else {
        assert!(!text.contains("vpdpbusd peak"), "{text}");
    }
}
