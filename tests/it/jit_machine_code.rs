//! The vector kernels really become the instructions they were written for:
//! `vpdpbusd` on hosts with VNNI (the CLIF pattern is fragile: operand order
//! matters), and no vector dot product at all when SIMD is off. The checks
//! of `vpdpbusd` need a CPU with VNNI, those of `pmaddwd` SSE4.1 (without
//! them: a failure in CI, a skip elsewhere).

use crate::common::{compile, tools, Files};
use convoy::jit::JitOptions;

const POINTWISE: &str = "
pipeline pw {
  input x: u8[32, 4, 32]
  param w: i8[16, 32, 1, 1] = random(seed: 5)
  param b: i16[16] = random(seed: 6)
  let y = (relu(conv(x, w) + b) >> 7) as u8 sat
  output y
}
";

fn stage_code(simd: bool) -> Vec<(bool, String)> {
    stage_code_with(simd, true)
}

fn stage_code_with(simd: bool, vnni: bool) -> Vec<(bool, String)> {
    let (checked, _) = compile("pw.cnn", POINTWISE, &Files::default()).expect("checks");
    let options = JitOptions {
        threads: 1,
        simd,
        disasm: true,
        // Cranelift's code is what this file inspects.
        native: false,
        vnni,
        ..JitOptions::default()
    };
    let jit = convoy::compile_jit(&checked.program, &options).expect("compiles");
    jit.stages()
        .iter()
        .map(|s| (s.vector, s.disasm.clone().unwrap_or_default()))
        .collect()
}

#[test]
fn pointwise_conv_uses_vpdpbusd() {
    let stages = stage_code(true);
    assert_eq!(stages.len(), 1);
    let (vector, code) = &stages[0];
    // (Without VNNI this stage takes the `pmaddwd` path checked below.)
    if tools::vnni().is_none() {
        return;
    }
    assert!(vector, "the pointwise stage should take the vector path");
    let count = code.matches("vpdpbusd").count();
    // Each iteration of the loop over groups of 4 input channels issues one
    // per pixel quad (4) and output channel (2), unrolled 4 times.
    assert!(
        count >= 4 * 2 * 4,
        "expected vpdpbusd, found {count}:\n{code}"
    );
    assert!(
        !code.contains("pmullw"),
        "the dot product was not folded:\n{code}"
    );
}

/// Without VNNI the same dot products become `pmaddwd` (any x86-64 CPU with
/// SSE4.1); checked here by compiling for this CPU with VNNI switched off.
#[test]
fn pointwise_conv_uses_pmaddwd_without_vnni() {
    let stages = stage_code_with(true, false);
    let (vector, code) = &stages[0];
    if tools::sse41().is_none() {
        assert!(!vector, "no SSE4.1: the scalar path must be chosen");
        return;
    }
    assert!(vector, "the pointwise stage should take the vector path");
    let count = code.matches("pmaddwd").count();
    // Two per dot product (low and high pixel pairs), as for vpdpbusd above.
    assert!(
        count >= 2 * 4 * 2 * 4,
        "expected pmaddwd, found {count}:\n{code}"
    );
    assert!(!code.contains("vpdpbusd"), "VNNI was switched off:\n{code}");
    assert!(
        !code.contains("pmullw") && !code.contains("pmulld"),
        "the dot product was not folded:\n{code}"
    );
}

#[test]
fn scalar_path_has_no_vector_dot_products() {
    let stages = stage_code(false);
    let (vector, code) = &stages[0];
    assert!(!vector);
    assert!(!code.contains("vpdpbusd") && !code.contains("pmaddwd"));
    assert!(
        code.contains("imul"),
        "the scalar dot product multiplies:\n{code}"
    );
}

#[test]
fn depthwise_and_deconv_use_shuffled_windows_and_vpdpbusd() {
    if tools::vnni().is_none() {
        return;
    }
    let src = "
pipeline dw {
  input x: u8[4, 8, 32] pad 1
  param w: i8[4, 1, 3, 3] = random(seed: 1)
  param u: i8[4, 1, 4, 4] = random(seed: 2)
  let y = (relu(dwconv(x, w, pad: 1)) >> 4) as u8 sat
  let z = (dwdeconv(y, u, stride: 2, pad: 1) >> 6) as u8 sat
  output z
}
";
    let (checked, _) = compile("dw.cnn", src, &Files::default()).expect("checks");
    let options = JitOptions {
        threads: 1,
        simd: true,
        disasm: true,
        // Cranelift's code is what this file inspects.
        native: false,
        vnni: true,
        ..JitOptions::default()
    };
    let jit = convoy::compile_jit(&checked.program, &options).expect("compiles");
    assert_eq!(jit.stages().len(), 2);
    for s in jit.stages() {
        let code = s.disasm.clone().unwrap_or_default();
        assert!(s.vector, "{} should be vectorized", s.label);
        assert!(code.contains("vpdpbusd"), "{}:\n{code}", s.label);
        assert!(code.contains("pshufb"), "{}:\n{code}", s.label);
    }
}
