//! Tails the AVX-512 kernels gained beyond the plain requantization, against
//! the interpreter: a PReLU's sign split (`max(y, 0) + min(y, 0) * a`, a
//! factor per sign and channel, `native::requant::match_tail_split`) after
//! pointwise, depthwise, full, strided, grouped, transposed and signed-input
//! convolutions, with every rounding and overflow mode, slopes of both signs
//! (0 and the type's maximum among them), channel counts that are not
//! multiples of 16 or 64, residual maps, consecutive factors, 1 and 2
//! threads, each forced instruction set. Each test asserts that the kernels
//! ran (where the host has them), and that the AVX2 kernels, which have no
//! sign split, left those stages to Cranelift.

use crate::common::gen::{Rng, QUANT};
use crate::common::{self, compile, root, tools, Files, Folder};
use convoy::jit::{Isa, JitOptions};

fn target(rng: &mut Rng) -> String {
    let q = *rng.pick(&QUANT);
    let o = *rng.pick(&[
        "sat", "sat", "sat", "sat_sym", "sat_sym", "sat_zero", "wrap",
    ]);
    match rng.range(0, 8) % 5 {
        0 => format!("fixed<8, {}, {q}, {o}>", rng.range(1, 8)),
        1 => format!("ufixed<8, {}, {q}, {o}>", rng.range(1, 8)),
        2 => format!("i8 {}", rng.pick(&["sat", "sat_sym"])),
        3 => format!("u8 {}", rng.pick(&["sat", "sat_zero"])),
        _ => format!("fixed<12, {}, {q}, sat>", rng.range(4, 10)),
    }
}

/// A convolution of a random form with a PReLU tail (or, one program in
/// eight, a tail of consecutive factors).
fn program(seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let c = rng.range(1, 80);
    let cout = rng.range(1, 70);
    let (h, w) = (rng.range(1, 9), rng.range(1, 150));
    let signed = rng.chance(15);
    let in_ty = if signed {
        *rng.pick(&["i8", "fixed<8, 3>"])
    } else {
        *rng.pick(&["u8", "u8", "u8", "ufixed<8, 2>"])
    };
    // (conv expression, weight shape, output channels)
    let (conv, wshape, co) = match rng.range(0, 5) {
        0 => ("conv(x, w)".to_string(), (cout, c, 1, 1), cout),
        1 => ("dwconv(x, w, pad: 1)".to_string(), (c, 1, 3, 3), c),
        2 => ("conv(x, w, pad: 1)".to_string(), (cout, c, 3, 3), cout),
        3 => (
            "dwconv(x, w, stride: 2, pad: (1, 1, 0, 0))".to_string(),
            (c, 1, 3, rng.range(2, 4)),
            c,
        ),
        4 => (
            format!("deconv(x, w, stride: 2, pad: 1, output_pad: 1, groups: {c})"),
            (c, 1, 3, 3),
            c,
        ),
        _ => (
            "conv(x, w, stride: 2, pad: 2)".to_string(),
            (cout, c, 5, 5),
            cout,
        ),
    };
    let a_ty = *rng.pick(&[
        "ufixed<6, 0>",
        "ufixed<6, 0>",
        "ufixed<1, 0>",
        "fixed<8, 1>",
        "u3",
        "fixed<4, 0>",
    ]);
    let f = format!(
        "const f: {} = 0.{:04}",
        rng.pick(&[
            "fixed<8, 1>",
            "ufixed<8, 0>",
            "ufixed<6, 0>",
            "fixed<16, 1>"
        ]),
        rng.range(1, 9999)
    );
    let y = format!("{conv} + b");
    let prelu = match rng.range(0, 3) {
        0 => format!("prelu({y}, a)"),
        1 => format!("(min({y}, 0) * a + relu({y}))"),
        2 => format!("(a * min({y}, 0) + max({y}, 0))"),
        _ => format!("(max(0, {y}) + min(0, {y}) * a)"),
    };
    let t = target(&mut rng);
    let sh = rng.range(0, 10);
    let residual = wshape.2 == 3 && co == c && !signed && rng.chance(20);
    let expr = if residual {
        format!("(({prelu} >> {sh}) + r) as i8 sat")
    } else {
        match rng.range(0, 7) {
            // (Two shifts do not fuse: `>>` only with integer slopes.)
            0 if a_ty == "u3" => format!("({prelu} >> {sh}) as {t}"),
            0 => format!("{prelu} as {t}"),
            1 => format!("relu({prelu} * f) as {t}"),
            2 => format!("(min({prelu}, {}) * f) as {t}", rng.range(0, 3000)),
            3 => format!("(({conv}) * m * f) as {t}"),
            4 => format!("({prelu} * f + d) as {t}"),
            _ => format!("({prelu} * f) as {t}"),
        }
    };
    let r = if residual {
        format!("  input r: i8[{c}, {h}, {w}]\n")
    } else {
        String::new()
    };
    format!(
        "use std::blocks::prelu
pipeline p {{
  input x: {in_ty}[{c}, {h}, {w}] pad 1
{r}  param w: i8[{}, {}, {}, {}] = random(seed: {})
  param b: i16[{co}] = random(seed: {})
  param a: {a_ty}[{co}] = random(seed: {})
  param m: i6[{co}] = random(seed: {})
  param d: i8[{co}] = random(seed: {})
  {f}
  let y = {expr}
  output y
}}
",
        wshape.0,
        wshape.1,
        wshape.2,
        wshape.3,
        seed * 5 + 1,
        seed * 5 + 2,
        seed * 5 + 3,
        seed * 5 + 4,
        seed * 5 + 5,
    )
}

/// Runs `count` programs under `isa`: how many compiled, and how many of
/// their stages ran on `isa`'s kernels.
fn check(isa: Isa, count: u64) -> (usize, usize) {
    let mut failures = vec![];
    let (mut checked_ok, mut native) = (0, 0);
    for seed in 0..count {
        let src = program(seed);
        let checked = match compile("tails.cnn", &src, &Files::default()) {
            Ok((c, _)) => c,
            // Some random tails are rightly rejected (an unproven wrap).
            Err(e) => {
                if std::env::var("SHOW").is_ok() {
                    eprintln!("{e}\n{src}");
                }
                continue;
            }
        };
        checked_ok += 1;
        let program = &checked.program;
        let options = JitOptions {
            threads: 1 + (seed % 2) as usize,
            min_job: 1,
            isa,
            ..JitOptions::default()
        };
        let inputs = common::random_inputs(program, |k| seed * 7 + k as u64);
        match common::jit_agrees(program, &inputs, &options) {
            Ok(stages) => {
                native += (stages.iter())
                    .filter(|s| s.native && s.kernel_isa == Some(isa))
                    .count()
            }
            Err(e) => failures.push(format!("{isa:?} seed {seed}: {e}\n{src}")),
        }
    }
    common::assert_no_failures(&failures);
    assert!(
        checked_ok as u64 > count / 2,
        "only {checked_ok} of {count} programs checked"
    );
    eprintln!("{isa:?}: {checked_ok} programs, {native} stages on its kernels");
    (checked_ok, native)
}

#[test]
fn prelu_tails_match_the_interpreter_on_avx512_kernels() {
    if tools::isa(Isa::Avx512).is_none() {
        return;
    }
    let (checked, native) = check(Isa::Avx512, 240);
    if tools::avx512_kernels().is_some() {
        assert!(
            native * 10 > checked * 3,
            "only {native} of {checked} stages ran on the AVX-512 kernels"
        );
    }
}

#[test]
fn prelu_tails_match_the_interpreter_under_avx2() {
    if tools::isa(Isa::Avx2).is_none() {
        return;
    }
    check(Isa::Avx2, 120);
}

/// A PReLU tail the kernels take whole: an unsigned input, the output
/// requantized as QuantizeLinear does it (a factor, a saturating cast to
/// 8 bits with a rounding).
fn plain_program(seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let c = rng.range(1, 70);
    let cout = rng.range(1, 70);
    let (h, w) = (rng.range(1, 6), rng.range(1, 140));
    let (conv, wshape, co) = match rng.range(0, 4) {
        0 => ("conv(x, w)".to_string(), (cout, c, 1, 1), cout),
        1 => ("dwconv(x, w, pad: 1)".to_string(), (c, 1, 3, 3), c),
        2 => ("conv(x, w, pad: 1)".to_string(), (cout, c, 3, 3), cout),
        3 => (
            format!("deconv(x, w, stride: 2, pad: 1, output_pad: 1, groups: {c})"),
            (c, 1, 3, 3),
            c,
        ),
        _ => (
            "dwconv(x, w, stride: 2, pad: 1)".to_string(),
            (c, 1, 3, 3),
            c,
        ),
    };
    let a_ty = *rng.pick(&[
        "ufixed<6, 0>",
        "ufixed<6, 0>",
        "ufixed<2, 0>",
        "fixed<6, 1>",
    ]);
    let f = format!("0.{:03}", rng.range(1, 999));
    let q = *rng.pick(&QUANT);
    let o = *rng.pick(&["sat", "sat_sym"]);
    let t = if rng.chance(50) {
        format!("fixed<8, {}, {q}, {o}>", rng.range(3, 8))
    } else {
        format!("ufixed<8, {}, {q}, {o}>", rng.range(3, 8))
    };
    format!(
        "use std::blocks::prelu
pipeline p {{
  input x: u8[{c}, {h}, {w}] pad 1
  param w: i8[{}, {}, {}, {}] = random(seed: {})
  param b: i16[{co}] = random(seed: {})
  param a: {a_ty}[{co}] = random(seed: {})
  const f: ufixed<8, 0> = {f}
  let y = (prelu({conv} + b, a) * f) as {t}
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
    )
}

/// Every plain PReLU stage runs on the AVX-512 kernels (and none on the
/// AVX2 ones, which have no sign split), bit-exact in both.
#[test]
fn plain_prelu_tails_run_on_the_avx512_kernels() {
    let mut failures = vec![];
    for isa in [Isa::Avx512, Isa::Avx2] {
        if !convoy::jit::isa_supported(isa) {
            continue;
        }
        let (mut checked_ok, mut native) = (0, 0);
        for seed in 0..120 {
            let src = plain_program(seed);
            let (checked, _) = compile("plain.cnn", &src, &Files::default())
                .unwrap_or_else(|e| panic!("seed {seed}: {e}\n{src}"));
            checked_ok += 1;
            let program = &checked.program;
            let options = JitOptions {
                threads: 1 + (seed % 2) as usize,
                min_job: 1,
                isa,
                ..JitOptions::default()
            };
            let inputs = common::random_inputs(program, |_| seed);
            match common::jit_agrees(program, &inputs, &options) {
                Ok(stages) => {
                    let on = |s: &&convoy::jit::StageInfo| s.native && s.kernel_isa == Some(isa);
                    let n = stages.iter().filter(on).count();
                    native += n;
                    if isa == Isa::Avx512 && n == 0 && tools::avx512_kernels().is_some() {
                        failures.push(format!("seed {seed}: not on a kernel\n{src}"));
                    }
                }
                Err(e) => failures.push(format!("{isa:?} seed {seed}: {e}\n{src}")),
            }
        }
        eprintln!("{isa:?}: {checked_ok} programs, {native} stages on its kernels");
        if isa == Isa::Avx2 {
            assert_eq!(native, 0, "a sign split planned for the AVX2 kernels");
        }
    }
    common::assert_no_failures(&failures);
}

/// The PReLU stages of the examples run on the AVX-512 kernels.
#[test]
fn prelu_examples_run_on_kernels() {
    if tools::avx512_kernels().is_none() {
        return;
    }
    for (file, stages) in [
        ("examples/fsrcnn.cnn", &["f", "s", "m1", "m2", "e"][..]),
        ("examples/activations.cnn", &["p"][..]),
    ] {
        let path = root().join(file);
        let src = std::fs::read_to_string(&path).expect("example");
        let folder = Folder(path.parent().expect("folder").to_path_buf());
        let (checked, _) = compile(file, &src, &folder).expect("checks");
        let jit = convoy::compile_jit(&checked.program, &JitOptions::default()).expect("compiles");
        for name in stages {
            let stage = (jit.stages().iter())
                .find(|s| s.name == *name)
                .unwrap_or_else(|| panic!("{file}: no stage {name}"));
            assert!(
                stage.native && stage.kernel_isa == Some(Isa::Avx512),
                "{file}: stage {name} ({}) is not on a kernel",
                stage.label
            );
        }
    }
}
