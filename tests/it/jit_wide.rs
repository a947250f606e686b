//! Convolutions stored wider than 8 bits on the AVX-512 direct kernel
//! (`NativeStage::out_bytes`: the tail's 32-bit results stored as their
//! low 16 bits or whole), against the interpreter: bare convolutions
//! (32-bit accumulators, or 16-bit when the ranges allow), 16-bit and
//! 12-bit saturating casts with every rounding, shifts to `i16`, after
//! pointwise, full, strided, dilated, grouped, depthwise and signed-input
//! convolutions, widths across several 64-pixel chunks with tails, channel
//! counts that are not multiples of 16, a second stage reading the wide
//! map, 1 and 2 threads, each forced instruction set (AVX-512 and AVX2;
//! transposed convolutions stay on Cranelift).

use crate::common::gen::{Rng, QUANT};
use crate::common::{self, compile, tools, Files};
use convoy::jit::{Isa, JitOptions};

/// A convolution of a random form with a tail whose output needs 16 or
/// 32 bits, and a stage reading it back.
fn program(seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let c = rng.range(1, 40);
    let cout = rng.range(1, 40);
    let (h, w) = (rng.range(1, 7), rng.range(1, 150));
    let signed = rng.chance(20);
    let in_ty = if signed {
        *rng.pick(&["i8", "fixed<8, 3>"])
    } else {
        *rng.pick(&["u8", "u8", "ufixed<8, 2>"])
    };
    // (conv expression, weight shape, output channels)
    let (conv, wshape, co) = match rng.range(0, 6) {
        0 => ("conv(x, w)".to_string(), (cout, c, 1, 1), cout),
        1 => ("conv(x, w, pad: 1)".to_string(), (cout, c, 3, 3), cout),
        2 => (
            "conv(x, w, stride: 2, pad: 2)".to_string(),
            (cout, c, 5, 5),
            cout,
        ),
        3 => (
            "conv(x, w, pad: (1, 1, 2, 2), dilation: (1, 2))".to_string(),
            (cout, c, 3, 3),
            cout,
        ),
        4 => ("dwconv(x, w, pad: 1)".to_string(), (c, 1, 3, 3), c),
        5 if c % 2 == 0 => (
            "conv(x, w, pad: 1, groups: 2)".to_string(),
            (2 * cout, c / 2, 3, 3),
            2 * cout,
        ),
        _ => (
            format!("deconv(x, w, stride: 2, pad: 1, output_pad: 1, groups: {c})"),
            (c, 1, 3, 3),
            c,
        ),
    };
    let q = *rng.pick(&QUANT);
    let f = format!("0.{:03}", rng.range(1, 999));
    let expr = match rng.range(0, 5) {
        0 => conv.clone(),
        1 => format!("({conv} + b) as fixed<16, {}, {q}, sat>", rng.range(8, 16)),
        2 => format!("(relu({conv} + b) >> {}) as i16 sat", rng.range(0, 6)),
        3 => format!(
            "(({conv} + b) * f) as fixed<12, {}, {q}, {}>",
            rng.range(6, 12),
            rng.pick(&["sat", "sat_sym"])
        ),
        _ => format!(
            "(({conv} + b) * f) as ufixed<16, {}, {q}, sat>",
            rng.range(6, 12)
        ),
    };
    format!(
        "pipeline p {{
  input x: {in_ty}[{c}, {h}, {w}]
  param w: i8[{}, {}, {}, {}] = random(seed: {})
  param b: i16[{co}] = random(seed: {})
  const f: ufixed<10, 0> = {f}
  let y = {expr}
  let z = (y >> 4) as i8 sat
  output y, z
}}
",
        wshape.0,
        wshape.1,
        wshape.2,
        wshape.3,
        seed * 2 + 1,
        seed * 2 + 2,
    )
}

/// Runs `count` programs under `isa`: how many compiled, and how many of
/// their wide stages (`y`) ran on `isa`'s kernels.
fn check(isa: Isa, count: u64) -> (usize, usize) {
    let family = common::RandomPrograms {
        file: "wide.cnn",
        stage: "y",
        kernel: None,
        inputs: 7,
        refused_ok: false,
        min_job: None,
    };
    common::check_random_programs(&family, isa, count, program)
}

#[test]
fn wide_outputs_match_the_interpreter_on_avx512_kernels() {
    if tools::isa(Isa::Avx512).is_none() {
        return;
    }
    let (checked, native) = check(Isa::Avx512, 200);
    if tools::avx512_kernels().is_some() {
        // Every form but the transposed one runs on the direct kernel
        // (when the matcher takes its tail: not two shifts, not a cast
        // to more fraction bits).
        assert!(
            native * 10 > checked * 5,
            "only {native} of {checked} wide stages ran on the AVX-512 kernels"
        );
    }
}

#[test]
fn wide_outputs_match_the_interpreter_under_avx2() {
    if tools::isa(Isa::Avx2).is_none() {
        return;
    }
    let (checked, native) = check(Isa::Avx2, 120);
    // The AVX2 direct kernel stores them too (through a stack copy).
    assert!(
        native * 10 > checked * 5,
        "only {native} of {checked} wide stages ran on the AVX2 kernels"
    );
}

/// The wide stages a user writes run on the AVX-512 kernels: a 16-bit
/// output after a convolution, a convolution with no requantization.
#[test]
fn wide_stages_run_on_kernels() {
    if tools::avx512_kernels().is_none() {
        return;
    }
    let src = "pipeline wide {
  input x: u8[8, 20, 37]
  param w: i8[12, 8, 3, 3] = random(seed: 1)
  param w1: i8[10, 8, 1, 1] = random(seed: 2)
  param b: i16[12] = random(seed: 3)
  let a = (conv(x, w, pad: 1) + b) as fixed<16, 16, rnd, sat>
  let s = conv(x, w1)
  let t = (relu(conv(x, w, stride: 2, pad: 1) + b) >> 3) as i16 sat
  output a, s, t
}
";
    let (checked, _) = compile("wide.cnn", src, &Files::default()).expect("checks");
    let jit = convoy::compile_jit(&checked.program, &JitOptions::default()).expect("compiles");
    for name in ["a", "s", "t"] {
        let stage = (jit.stages().iter())
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no stage {name}"));
        assert!(
            stage.native && stage.kernel_isa == Some(Isa::Avx512),
            "stage {name} ({}) is not on a kernel",
            stage.label
        );
    }
}
