//! The seed example reproduces the reference HLS design bit for bit.
//!
//! `tests/cpp/seed_reference.cpp` holds the reference's `DW_CONV_3x3` and a
//! `conv1x1` that reads and writes the interior, transcribed with the real
//! ap_types types (ap_uint<8> [16][34][66] buffers, ap_int<8> weights,
//! ap_int<16> bias, ap_fixed<32,1> factor = 0.0123). It is compiled with
//! `g++ -O1 -std=c++14 -I <ap_types>` and run on the weights of
//! examples/seed/*.npy and on random u8 maps; `convoy run examples/seed.cnn
//! --backend interp` runs on the same maps, and all 16 x 32 x 64 outputs
//! must be identical.
//!
//! The headers come from `bash tools/fetch_ap_types.sh` (build/ap_types/) or
//! the folder named by `$AP_TYPES`; without them (or without g++) the test
//! fails in CI and says it is skipped elsewhere (`common::tools`).

use crate::common::cpp::*;
use crate::common::{root, tools};
use std::path::{Path, PathBuf};
use std::process::Command;

const C: usize = 16;
const H: usize = 32;
const W: usize = 64;
const N: usize = C * H * W;

/// 0.0123 stored in ap_fixed<32,1> (AP_TRN floors 0.0123 * 2^31 = 26414048.87).
const FACTOR_RAW: i64 = 26_414_048;

/// The seed example's weights, in the order seed_reference.cpp reads them.
fn write_params(path: &Path) {
    let dir = root().join("examples").join("seed");
    let expect = [
        ("w_dw", vec![16, 1, 3, 3]),
        ("b_dw", vec![16]),
        ("w_pw", vec![16, 16, 1, 1]),
        ("b_pw", vec![16]),
    ];
    let mut all = Vec::new();
    for (name, shape) in expect {
        let npy = read_npy(&dir.join(format!("{name}.npy")));
        assert_eq!(
            npy.shape, shape,
            "examples/seed/{name}.npy has an unexpected shape"
        );
        all.extend(npy.values);
    }
    write_ints(path, &all, 16);
}

/// What one input map gives on both sides.
struct Run {
    convoy: Vec<i64>,
    cpp: Vec<i64>,
    cpp_literal: Vec<i64>,
    dw_wrapped: i64,
    pw_wrapped: i64,
}

fn run_both(name: &str, x: &[u8], exe: &Path, params: &Path, dir: &Path) -> Run {
    assert_eq!(x.len(), N);
    let x_npy = dir.join(format!("{name}_x.npy"));
    let x_txt = dir.join(format!("{name}_x.txt"));
    write_npy_u8(&x_npy, &[C, H, W], x);
    write_ints(&x_txt, x, W);

    // Convoy.
    let out_dir = dir.join(format!("{name}_convoy"));
    run_ok(
        Command::new(env!("CARGO_BIN_EXE_convoy"))
            .arg("run")
            .arg(root().join("examples").join("seed.cnn"))
            .arg("--input")
            .arg(format!("x={}", x_npy.display()))
            .arg("--out")
            .arg(&out_dir)
            .args(["--backend", "interp"]),
        "convoy run examples/seed.cnn",
    );
    let pw = read_npy(&out_dir.join("pw.npy"));
    assert_eq!(pw.descr, "|u1", "pw.npy should be uint8");
    assert_eq!(pw.shape, vec![C, H, W], "pw.npy shape");

    // The reference, intended (interior) and literal conv1x1.
    let mut outputs = Vec::new();
    let mut stdout = String::new();
    for literal in [false, true] {
        let out = dir.join(format!(
            "{name}_cpp{}.txt",
            if literal { "_literal" } else { "" }
        ));
        let mut cmd = Command::new(exe);
        cmd.arg(params).arg(&x_txt).arg(&out);
        if literal {
            cmd.arg("--literal");
        }
        let text = run_ok(&mut cmd, "seed_reference");
        let values = read_ints(&out);
        assert_eq!(
            values.len(),
            N,
            "seed_reference wrote {} values",
            values.len()
        );
        assert_eq!(
            counter(&text, "to_int_disagreements"),
            0,
            "ap_int<32> = ap_fixed vs to_int()"
        );
        assert_eq!(
            counter(&text, "factor_raw"),
            FACTOR_RAW,
            "ap_fixed<32,1> factor = 0.0123"
        );
        if !literal {
            stdout = text;
        }
        outputs.push(values);
    }
    let cpp_literal = outputs.pop().unwrap_or_default();
    let cpp = outputs.pop().unwrap_or_default();
    Run {
        convoy: pw.values,
        cpp,
        cpp_literal,
        dw_wrapped: counter(&stdout, "dw_wrapped"),
        pw_wrapped: counter(&stdout, "pw_wrapped"),
    }
}

fn chw(i: usize) -> (usize, usize, usize) {
    (i / (H * W), i / W % H, i % W)
}

/// Indices where `a` and `b` differ.
fn mismatches(a: &[i64], b: &[i64]) -> Vec<usize> {
    (0..N).filter(|&i| a[i] != b[i]).collect()
}

fn describe(which: &[usize], convoy: &[i64], cpp: &[i64]) -> String {
    which
        .iter()
        .take(12)
        .map(|&i| {
            let (c, h, w) = chw(i);
            format!(
                "  pw[{c}, {h}, {w}]: convoy {} reference {}\n",
                convoy[i], cpp[i]
            )
        })
        .collect()
}

/// The input maps: two uniformly random ones and one that stresses the
/// extremes (mostly 0 and 255, so accumulators reach their widest values).
fn inputs() -> Vec<(&'static str, Vec<u8>)> {
    let mut rng = SplitMix64(0x5EED_C0DE_2024);
    let uniform1: Vec<u8> = (0..N).map(|_| rng.below(256) as u8).collect();
    let uniform2: Vec<u8> = (0..N).map(|_| rng.below(256) as u8).collect();
    let extremes: Vec<u8> = (0..N)
        .map(|_| match rng.below(8) {
            0..=2 => 0,
            3..=5 => 255,
            6 => 254,
            _ => rng.below(256) as u8,
        })
        .collect();
    vec![
        ("uniform1", uniform1),
        ("uniform2", uniform2),
        ("extremes", extremes),
    ]
}

#[test]
fn seed_matches_reference_hls_bit_for_bit() {
    let Some(cpp) = tools::cpp() else {
        return;
    };
    let dir: PathBuf = scratch("reference_hls");
    let exe = compile_cpp(
        &cpp,
        "seed_reference.cpp",
        "seed_reference",
        &bin_dir(),
        &["-O1"],
    );
    let params = dir.join("params.txt");
    write_params(&params);

    let mut failures = String::new();
    let mut total_pw_wrapped = 0;
    for (name, x) in inputs() {
        let run = run_both(name, &x, &exe, &params, &dir);
        println!(
            "{name}: dw_wrapped {} pw_wrapped {} (relu results > 255 stored into ap_uint<8>)",
            run.dw_wrapped, run.pw_wrapped
        );
        total_pw_wrapped += run.pw_wrapped;
        assert!(
            run.dw_wrapped > 0,
            "{name}: no depthwise output wrapped: the wrap path was not exercised"
        );

        let bad = mismatches(&run.convoy, &run.cpp);
        if !bad.is_empty() {
            failures.push_str(&format!(
                "{name}: {} of {N} outputs differ; first ones:\n{}",
                bad.len(),
                describe(&bad, &run.convoy, &run.cpp)
            ));
            continue;
        }

        // The literal conv1x1 (no +1 offset) differs exactly in the last row
        // and column, which it never writes: proof that the comparison sees
        // a misplaced pixel, and a statement of what the literal code does.
        let literal_bad = mismatches(&run.convoy, &run.cpp_literal);
        let edge = |i: usize| {
            let (_, h, w) = chw(i);
            h == H - 1 || w == W - 1
        };
        let expected: Vec<usize> = (0..N).filter(|&i| edge(i) && run.convoy[i] != 0).collect();
        assert!(
            !literal_bad.is_empty(),
            "{name}: the literal conv1x1 should differ from seed.cnn"
        );
        assert!(
            literal_bad.iter().all(|&i| edge(i)) && literal_bad == expected,
            "{name}: the literal conv1x1 should differ exactly at the non-zero outputs of the last \
             row and column; it differs at {} positions, first:\n{}",
            literal_bad.len(),
            describe(&literal_bad, &run.convoy, &run.cpp_literal)
        );
    }
    assert!(
        failures.is_empty(),
        "convoy and the reference HLS design disagree:\n{failures}"
    );
    assert!(
        total_pw_wrapped > 0,
        "no pointwise output wrapped: the wrap path was not exercised"
    );
}

#[test]
fn missing_headers_fail_with_a_hint() {
    // A folder without the headers is an error that says how to get them.
    let empty = scratch("no_headers");
    let msg =
        tools::find_ap_types(Some(empty.clone().into_os_string())).expect_err("no headers there");
    assert!(msg.contains("tools/fetch_ap_types.sh"), "{msg}");
    assert!(msg.contains(&empty.display().to_string()), "{msg}");
    // The real lookup finds them, or the missing-tool policy applies.
    let Some(cpp) = tools::cpp() else {
        return;
    };
    assert!(cpp.ap_types.join("ap_fixed.h").is_file());
}
