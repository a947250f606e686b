//! `convoy emit hls` and `convoy estimate` from the command line: projects
//! are written whole or not at all, existing folders are not clobbered,
//! bad parallelism and constants the emitter cannot write are diagnosed at
//! the source, and a testbench really fails when the design is wrong.

use crate::common::{root, stderr, tools};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn convoy(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_convoy"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run convoy")
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("hls_cli")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.parent().expect("parent")).expect("mkdir");
    dir
}

fn seed() -> String {
    root()
        .join("examples")
        .join("seed.cnn")
        .display()
        .to_string()
}

fn files_in(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn emit_writes_a_project_and_refuses_to_clobber_it() {
    let dir = scratch("seed");
    let d = dir.display().to_string();
    let first = convoy(&["emit", "hls", &seed(), "-o", &d]);
    assert!(first.status.success(), "{}", stderr(&first));
    for f in [
        "seed.h",
        "seed.cpp",
        "seed_params.h",
        "seed_tb.cpp",
        "run_hls.tcl",
        "Makefile",
        "README.md",
        "tb_data/x.txt",
        "tb_data/pw.golden.txt",
    ] {
        assert!(dir.join(f).is_file(), "missing {f}");
    }
    let cpp = std::fs::read_to_string(dir.join("seed.cpp")).expect("cpp");
    assert!(
        cpp.contains("// seed.cnn:14: let dw: u8[16, 32, 64]"),
        "source line comment:\n{cpp}"
    );
    assert!(
        cpp.contains("const cnv_x_t cnv_x[16][34][66]"),
        "halo-sized input:\n{cpp}"
    );
    let tcl = std::fs::read_to_string(dir.join("run_hls.tcl")).expect("tcl");
    for cmd in [
        "open_project",
        "set_top cnv_seed",
        "add_files -tb",
        "set_part",
        "create_clock -period 5",
        "csim_design",
        "csynth_design",
        "cosim_design",
        "export_design",
    ] {
        assert!(tcl.contains(cmd), "run_hls.tcl lacks {cmd}");
    }
    let again = convoy(&["emit", "hls", &seed(), "-o", &d, "--style", "stream"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("--force"), "{}", stderr(&again));
    assert!(!std::fs::read_to_string(dir.join("seed.cpp"))
        .expect("cpp")
        .contains("DATAFLOW"));
    let forced = convoy(&[
        "emit",
        "hls",
        &seed(),
        "-o",
        &d,
        "--style",
        "stream",
        "--force",
    ]);
    assert!(forced.status.success(), "{}", stderr(&forced));
    assert!(std::fs::read_to_string(dir.join("seed.cpp"))
        .expect("cpp")
        .contains("#pragma HLS DATAFLOW"));
}

#[test]
fn parallel_factors_must_divide() {
    let dir = scratch("bad_pe");
    let d = dir.display().to_string();
    let out = convoy(&["emit", "hls", &seed(), "-o", &d, "--parallel", "dw=pe:3"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    assert!(
        text.contains("E405")
            && text.contains("pe factor 3 does not divide the 16 output channels of `dw`"),
        "{text}"
    );
    assert!(text.contains("seed.cnn:14"), "points at the stage: {text}");
    assert_eq!(files_in(&dir), 0, "nothing is written");

    let out = convoy(&["emit", "hls", &seed(), "-o", &d, "--parallel", "pw=simd:5"]);
    assert!(
        stderr(&out)
            .contains("simd factor 5 does not divide the 16 input channels per group of `pw`"),
        "{}",
        stderr(&out)
    );
    let out = convoy(&["estimate", &seed(), "--parallel", "nope=pe:2"]);
    assert!(stderr(&out).contains("E403"), "{}", stderr(&out));
    let out = convoy(&["estimate", &seed(), "--parallel", "dw=pe:two"]);
    assert!(stderr(&out).contains("E404"), "{}", stderr(&out));
    let ok = convoy(&[
        "estimate",
        &seed(),
        "--parallel",
        "dw=pe:4",
        "--parallel",
        "pw=pe:2,simd:8",
    ]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let table = String::from_utf8_lossy(&ok.stdout);
    assert!(
        table.contains("frames/s") && table.contains("DSP"),
        "{table}"
    );
}

#[test]
fn simd_needs_a_reduction() {
    let dir = scratch("unpool_simd");
    let src = root()
        .join("examples")
        .join("unpool.cnn")
        .display()
        .to_string();
    let out = convoy(&[
        "emit",
        "hls",
        &src,
        "-o",
        &dir.display().to_string(),
        "--parallel",
        "n=simd:2",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("E406"), "{}", stderr(&out));
    assert_eq!(files_in(&dir), 0);
}

#[test]
fn constants_without_an_exact_literal_are_refused() {
    let dir = scratch("wide_const");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let script = dir.join("wide.cnn");
    std::fs::write(
        &script,
        "pipeline wide {\n  input x: u8[1, 2, 2]\n  const k: fixed<60, 1> = 0.3\n  let y = x * k as u8 sat\n  output y\n}\n",
    )
    .expect("write");
    let out_dir = dir.join("out");
    let out = convoy(&[
        "emit",
        "hls",
        &script.display().to_string(),
        "-o",
        &out_dir.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("E401"), "{}", stderr(&out));
    assert!(!out_dir.exists(), "nothing is written");
}

/// A testbench whose golden data disagree with the design must fail:
/// the check is real.
#[test]
fn testbench_detects_a_wrong_result() {
    let (Some(cpp), Some(())) = (tools::cpp(), tools::make()) else {
        return;
    };
    let headers = cpp.ap_types;
    let dir = scratch("tamper");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let script = dir.join("tiny.cnn");
    std::fs::write(
        &script,
        "pipeline tiny {\n  input x: u8[2, 3, 3] pad 1\n  param w: i8[2, 1, 3, 3] = random(seed: 3)\n  let y = (dwconv(x, w, pad: 1) >> 4) as u8 sat\n  output y\n}\n",
    )
    .expect("write");
    let proj = dir.join("proj");
    let out = convoy(&[
        "emit",
        "hls",
        &script.display().to_string(),
        "-o",
        &proj.display().to_string(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let make = |tag: &str| {
        Command::new("make")
            .arg("-C")
            .arg(&proj)
            .arg("csim")
            .env("AP_TYPES", &headers)
            .output()
            .unwrap_or_else(|e| panic!("make ({tag}): {e}"))
    };
    let good = make("good");
    assert!(
        good.status.success(),
        "{}{}",
        String::from_utf8_lossy(&good.stdout),
        stderr(&good)
    );
    assert!(String::from_utf8_lossy(&good.stdout).contains("PASS"));
    // Change one golden value: the same binary must now fail and say where.
    let golden = proj.join("tb_data").join("y.golden.txt");
    let text = std::fs::read_to_string(&golden).expect("golden");
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let v: i64 = lines[4].parse().expect("int");
    lines[4] = (v + 1).to_string();
    std::fs::write(&golden, lines.join("\n") + "\n").expect("write");
    let bad = make("bad");
    assert!(!bad.status.success());
    let stdout = String::from_utf8_lossy(&bad.stdout);
    assert!(
        stdout.contains("y[0][1][1]: got")
            && stdout.contains("1 of 18 values differ")
            && stdout.contains("FAIL"),
        "{stdout}"
    );
}

/// `estimate --format json`: one object with each stage's II and what sets
/// it, and an interval that `pe` divides (stream style).
#[test]
fn estimate_prints_json_for_scripts() {
    let run = |pe: &str| {
        let out = convoy(&[
            "estimate",
            &seed(),
            "--style",
            "stream",
            "--format",
            "json",
            "--parallel",
            &format!("dw=pe:{pe}"),
            "--parallel",
            &format!("pw=pe:{pe}"),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let v: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("estimate --format json is JSON");
        v
    };
    let slow = run("1");
    let fast = run("16");
    let stages = fast["stages"].as_array().expect("stages");
    assert_eq!(stages.len(), 2, "{fast}");
    for s in stages {
        assert_eq!(s["ii"], 1, "{s}");
        assert!(s["ii_limited_by"].is_string(), "{s}");
        assert_eq!(s["pe"], 16, "{s}");
    }
    let interval = |v: &serde_json::Value| v["interval_cycles"].as_u64().expect("interval");
    assert!(
        interval(&slow) >= 12 * interval(&fast),
        "{} vs {}",
        interval(&slow),
        interval(&fast)
    );
    // The input alone is 2048 beats of 16 channels.
    assert!(interval(&fast) >= 2048, "{fast}");
}

/// `@hls(pe: 16)` in the script (examples/seed_pe16.cnn) gives the design the
/// CLI's `--parallel dw=pe:16` would; `--parallel` replaces the attribute of
/// the stage it names and leaves the others.
#[test]
fn the_hls_attribute_sets_parallelism_and_parallel_overrides_it() {
    let json = |args: &[&str]| {
        let mut all = vec!["estimate", "--style", "stream", "--format", "json"];
        all.extend_from_slice(args);
        let out = convoy(&all);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("JSON")
    };
    let stage = |v: &serde_json::Value, name: &str| {
        v["stages"]
            .as_array()
            .expect("stages")
            .iter()
            .find(|s| s["stage"] == name)
            .unwrap_or_else(|| panic!("no stage {name}: {v}"))
            .clone()
    };
    let pe16 = root().join("examples").join("seed_pe16.cnn");
    let pe16 = pe16.to_str().expect("utf-8 path");
    let annotated = json(&[pe16]);
    let seed = seed();
    let by_cli = json(&[
        &seed,
        "--parallel",
        "dw=pe:16",
        "--parallel",
        "pw=pe:16,simd:16",
    ]);
    for name in ["dw", "pw"] {
        let (a, c) = (stage(&annotated, name), stage(&by_cli, name));
        assert_eq!(a["pe"], 16, "{a}");
        for key in ["pe", "ii", "cycles", "multipliers", "dsp", "bram18k"] {
            assert_eq!(a[key], c[key], "{name}.{key}: attribute {a} vs CLI {c}");
        }
    }
    assert_eq!(annotated["interval_cycles"], by_cli["interval_cycles"]);
    let overridden = json(&[pe16, "--parallel", "dw=pe:2"]);
    assert_eq!(stage(&overridden, "dw")["pe"], 2, "{overridden}");
    assert_eq!(stage(&overridden, "dw")["simd"], serde_json::Value::Null);
    assert_eq!(stage(&overridden, "pw")["pe"], 16, "{overridden}");
    assert_eq!(stage(&overridden, "pw")["simd"], 16, "{overridden}");
    // The plain seed has no attribute: pe 1 everywhere.
    let plain = json(&[&seed]);
    assert_eq!(stage(&plain, "dw")["pe"], 1, "{plain}");
}

/// Stream style: the top-level ports are AXI4-Stream beats whose TLAST marks
/// the last pixel of a frame. The testbench checks it: a design that puts
/// TLAST on the wrong beat fails C simulation, naming the beats.
#[test]
fn testbench_detects_a_misplaced_tlast() {
    let (Some(cpp), Some(())) = (tools::cpp(), tools::make()) else {
        return;
    };
    let headers = cpp.ap_types;
    let dir = scratch("tlast");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let script = dir.join("tiny.cnn");
    std::fs::write(
        &script,
        "pipeline tiny {\n  input x: u8[2, 3, 3]\n  param w: i8[2, 1, 3, 3] = random(seed: 3)\n  let y = (dwconv(x, w, pad: 1) >> 4) as u8 sat\n  output y\n}\n",
    )
    .expect("write");
    let proj = dir.join("proj");
    let out = convoy(&[
        "emit",
        "hls",
        &script.display().to_string(),
        "--style",
        "stream",
        "-o",
        &proj.display().to_string(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let make = |tag: &str| {
        let out = Command::new("make")
            .arg("-C")
            .arg(&proj)
            .arg("csim")
            .env("AP_TYPES", &headers)
            .output()
            .unwrap_or_else(|e| panic!("make ({tag}): {e}"));
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
        (out.status.success(), text)
    };
    let (ok, text) = make("good");
    assert!(ok && text.contains("PASS"), "{text}");
    let readme = std::fs::read_to_string(proj.join("README.md")).expect("README");
    assert!(
        readme.contains("TLAST is set on the last pixel of each frame"),
        "{readme}"
    );
    // TLAST one beat early: the testbench names both beats and fails.
    let design = proj.join("tiny.cpp");
    let text = std::fs::read_to_string(&design).expect("design");
    let right = "to_axis_cnv_y(pix, oy == 2 && ox == 2)";
    assert!(text.contains(right), "{text}");
    std::fs::write(
        &design,
        text.replace(right, "to_axis_cnv_y(pix, oy == 2 && ox == 1)"),
    )
    .expect("write");
    let (ok, text) = make("early TLAST");
    assert!(!ok, "{text}");
    assert!(
        text.contains("y: beat 7 (row 2, column 1): TLAST 1, expected 0")
            && text.contains("y: beat 8 (row 2, column 2): TLAST 0, expected 1")
            && text.contains("2 beats with a wrong TLAST")
            && text.contains("0 of 18 values differ")
            && text.contains("FAIL"),
        "{text}"
    );
}
