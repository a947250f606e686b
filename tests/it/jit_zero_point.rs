//! Offsets added to the requantization product before its rounding (an
//! output zero point, as QLinearConv computes it: `((acc + b) * m + 128)
//! as u8`), which the tail matcher folds into its post-add when exact
//! (`native::requant::fold_mid`), against the interpreter: pointwise,
//! full, strided, depthwise, grouped and transposed convolutions, unsigned
//! and signed inputs, per-channel and scalar factors, offsets that are and
//! are not multiples of the shift's unit (even and odd in it, for ties to
//! even), of both signs, every rounding and overflow mode, `>>`,
//! `floor` and `round` as the shift, a clamp between the offset and the shift, channel
//! counts that are not multiples of 16, 1 and 2 threads, AVX-512 and forced
//! AVX2. The zero-point stages must run on the kernels.

use crate::common::gen::{Rng, QUANT};
use crate::common::{self, compile, tools, Files};
use convoy::jit::{Isa, JitOptions};

/// A convolution with a tail that adds an offset after its factor.
fn program(seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let c = rng.range(1, 40);
    let cout = rng.range(1, 40);
    let (h, w) = (rng.range(1, 8), rng.range(1, 150));
    let in_ty = if rng.chance(20) {
        *rng.pick(&["i8", "fixed<8, 3>"])
    } else {
        *rng.pick(&["u8", "u8", "ufixed<8, 2>"])
    };
    let (conv, wshape, co) = match rng.range(0, 5) {
        0 => ("conv(x, w)".to_string(), (cout, c, 1, 1), cout),
        1 => ("conv(x, w, pad: 1)".to_string(), (cout, c, 3, 3), cout),
        2 => (
            "conv(x, w, stride: 2, pad: 2)".to_string(),
            (cout, c, 5, 5),
            cout,
        ),
        3 => ("dwconv(x, w, pad: 1)".to_string(), (c, 1, 3, 3), c),
        4 if c % 2 == 0 => (
            "conv(x, w, pad: 1, groups: 2)".to_string(),
            (2 * cout, c / 2, 3, 3),
            2 * cout,
        ),
        _ => (
            "deconv(x, w, stride: 2, pad: 1, output_pad: 1)".to_string(),
            (c, cout, 3, 3),
            cout,
        ),
    };
    // Mostly the roundings the fold takes (it refuses those that look at
    // the sign), sometimes any.
    let q = if rng.chance(70) {
        *rng.pick(&["rnd_conv", "rnd_conv", "rnd", "trn", "rnd_min_inf"])
    } else {
        *rng.pick(&QUANT)
    };
    let o = *rng.pick(&["sat", "sat", "sat_sym", "wrap"]);
    // The offset: the usual zero points, or any value.
    let zp = if rng.chance(70) {
        *rng.pick(&[128, 128, -128, 64, 2, 1, -3])
    } else {
        rng.range(-300, 300)
    };
    let m = if rng.chance(50) { "m" } else { "f" };
    let expr = match rng.range(0, 8) {
        0 | 5 | 6 => format!("(({conv} + b) * {m} + {zp}) as ufixed<8, 8, {q}, {o}>"),
        1 | 7 => format!("(({conv} + b) * {m} - {zp}) as fixed<8, 8, {q}, {o}>"),
        2 => format!("(({conv} * {m} + {zp}) >> {}) as i8 sat", rng.range(0, 6)),
        3 => format!(
            "{}({conv} * {m} + {zp}) as u8 sat",
            rng.pick(&["floor", "floor", "round"])
        ),
        4 => format!("(max({conv} * {m} + {zp}, 0) as ufixed<8, 8, {q}, sat>)"),
        // (A fraction left: the shift drops fewer bits.)
        _ => format!(
            "(({conv} + b) * {m} + {zp}) as fixed<8, {}, {q}, sat>",
            rng.range(2, 7)
        ),
    };
    format!(
        "pipeline p {{
  input x: {in_ty}[{c}, {h}, {w}]
  param w: i8[{}, {}, {}, {}] = random(seed: {})
  param b: i16[{co}] = random(seed: {})
  param m: ufixed<16, 0>[{co}] = random(seed: {})
  const f: ufixed<12, 0> = 0.{:03}
  let y = {expr}
  output y
}}
",
        wshape.0,
        wshape.1,
        wshape.2,
        wshape.3,
        seed * 3 + 1,
        seed * 3 + 2,
        seed * 3 + 3,
        rng.range(1, 999),
    )
}

/// Runs `count` programs under `isa`: how many compiled, and how many of
/// their stages `y` ran on `isa`'s kernels.
fn check(isa: Isa, count: u64) -> (usize, usize) {
    let family = common::RandomPrograms {
        file: "zero_point.cnn",
        stage: "y",
        kernel: None,
        inputs: 11,
        refused_ok: false,
        min_job: Some(1),
    };
    common::check_random_programs(&family, isa, count, program)
}

#[test]
fn zero_points_match_the_interpreter_on_avx512_kernels() {
    if tools::isa(Isa::Avx512).is_none() {
        return;
    }
    let (checked, native) = check(Isa::Avx512, 200);
    if tools::avx512_kernels().is_some() {
        assert!(
            native * 10 > checked * 4,
            "only {native} of {checked} zero-point stages ran on the AVX-512 kernels"
        );
    }
}

#[test]
fn zero_points_match_the_interpreter_under_avx2() {
    if tools::isa(Isa::Avx2).is_none() {
        return;
    }
    let (checked, native) = check(Isa::Avx2, 120);
    // The AVX2 kernels (pointwise, depthwise, direct; no transposed).
    assert!(
        native * 10 > checked * 3,
        "only {native} of {checked} zero-point stages ran on the AVX2 kernels"
    );
}

/// QLinearConv's zero point 128 after a per-channel factor, rounded to
/// the nearest even: the stage runs on the kernels (examples/requant.cnn's
/// y2), and with an odd offset in the shift's unit (not exact under ties
/// to even) or a rounding that looks at the sign it still agrees.
#[test]
fn zero_point_stages_run_on_kernels() {
    if tools::avx512_kernels().is_none() {
        return;
    }
    let src = "pipeline zp {
  input x: u8[16, 9, 37]
  param w: i8[20, 16, 1, 1] = random(seed: 1)
  param b: i32[20] = random(seed: 2)
  param m: ufixed<16, 0>[20] = random(seed: 3)
  let y = ((conv(x, w) + b) * m + 128) as ufixed<8, 8, rnd_conv, sat>
  param w2: i8[20, 16, 3, 3] = random(seed: 4)
  let z = ((conv(x, w2, pad: 1) + b) * m - 128) as fixed<8, 8, rnd, sat>
  output y, z
}
";
    let (checked, _) = compile("zp.cnn", src, &Files::default()).expect("checks");
    for isa in [Isa::Avx512, Isa::Avx2] {
        let options = JitOptions {
            isa,
            ..JitOptions::default()
        };
        let jit = convoy::compile_jit(&checked.program, &options).expect("compiles");
        for name in ["y", "z"] {
            let stage = (jit.stages().iter())
                .find(|s| s.name == name)
                .unwrap_or_else(|| panic!("no stage {name}"));
            assert!(
                stage.native && stage.kernel_isa == Some(isa),
                "{isa:?}: stage {name} ({}) is not on a kernel",
                stage.label
            );
        }
    }
}
