//! Pointwise and windowed convolutions whose operands are wider than u8 x i8 on the
//! AVX-512 `vpdpwssd` kernel (`native::wide16`), and windows of 2x2 to 5x5
//! with row strides, row and column dilation and asymmetric padding (column
//! stride 2 stays on Cranelift), against the interpreter:
//! 16-bit inputs (`i16`, `fixed<16, k>`, 12-bit, a computed 16-bit map,
//! a map minus a constant), byte inputs times 9- to 16-bit weights, tails
//! of every form stored in 8, 16 or 32 bits, channel counts that are not
//! multiples of 2 or 16, widths across several 64-pixel chunks with tails,
//! 1 and 2 threads, AVX-512 (`vpdpwssd`) and forced AVX2 (`vpmaddwd`).
//! And the examples' stages that moved report their kernel.

use crate::common::gen::{Rng, QUANT};
use crate::common::{self, compile, root, tools, Folder};
use convoy::jit::{Isa, JitOptions};

/// A pointwise convolution of wide operands with a random tail.
fn program(seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let c = rng.range(1, 40);
    let cout = rng.range(1, 40);
    let (h, w) = (rng.range(1, 6), rng.range(1, 150));
    // (input declaration and the map `x` the convolution reads, weight type)
    let (source, w_ty) = match rng.range(0, 5) {
        0 | 1 => (
            format!(
                "  input x: {}[{c}, {h}, {w}]\n",
                rng.pick(&["i16", "fixed<16, 6>", "i12", "u12", "fixed<14, 4>", "u15"])
            ),
            *rng.pick(&["i8", "i8", "i6", "i10"]),
        ),
        2 => (
            format!(
                "  input a: u8[{c}, {h}, {w}]\n  let x = a - {}\n",
                rng.range(1, 200)
            ),
            *rng.pick(&["i8", "i12"]),
        ),
        3 => (
            format!(
                "  input a: u8[{c}, {h}, {w}]
  param w0: i8[{c}, {c}, 1, 1] = random(seed: {})
  let x = (conv(a, w0) >> {}) as i16 sat
",
                seed * 5 + 4,
                rng.range(0, 4)
            ),
            "i8",
        ),
        _ => (
            format!(
                "  input x: {}[{c}, {h}, {w}]\n",
                rng.pick(&["u8", "i8", "ufixed<8, 2>"])
            ),
            *rng.pick(&["i9", "i12", "i16", "u9"]),
        ),
    };
    // 1x1, or a window (column stride 1 on the kernel; 2 stays on
    // Cranelift).
    let (conv, kh, kw) = match rng.range(0, 7) {
        0..=2 => ("conv(x, w)".to_string(), 1, 1),
        3 => ("conv(x, w, pad: 1)".to_string(), 3, 3),
        4 => (
            format!(
                "conv(x, w, stride: ({}, 1), pad: (1, 0, 2, 1), dilation: ({}, {}))",
                rng.range(1, 3),
                rng.range(1, 2),
                rng.range(1, 2)
            ),
            3,
            3,
        ),
        5 => ("conv(x, w, pad: (2, 2, 0, 4))".to_string(), 5, 5),
        6 => ("conv(x, w, stride: 2, pad: 1)".to_string(), 3, 3),
        _ => ("conv(x, w, pad: (0, 1, 1, 0))".to_string(), 2, 2),
    };
    let conv = conv.as_str();
    let q = *rng.pick(&QUANT);
    let f = format!("0.{:03}", rng.range(1, 999));
    let expr = match rng.range(0, 6) {
        0 => conv.to_string(),
        1 => format!(
            "({conv} * f + b) as fixed<16, {}, {q}, sat>",
            rng.range(4, 12)
        ),
        2 => format!("(relu({conv} + b) >> {}) as u8 sat", rng.range(4, 14)),
        3 => format!(
            "(({conv} + b) * f) as fixed<8, {}, {q}, sat>",
            rng.range(0, 8)
        ),
        4 => format!("(({conv} + b) >> {}) as i16 sat", rng.range(0, 8)),
        _ => format!(
            "(({conv} + b) * m + 128) as ufixed<8, {}, rnd_conv, sat>",
            rng.range(6, 10)
        ),
    };
    format!(
        "pipeline p {{
{source}  param w: {w_ty}[{cout}, {c}, {kh}, {kw}] = random(seed: {})
  param b: i16[{cout}] = random(seed: {})
  param m: ufixed<12, 0>[{cout}] = random(seed: {})
  const f: ufixed<10, 0> = {f}
  let y = {expr}
  output y
}}
",
        seed * 5 + 1,
        seed * 5 + 2,
        seed * 5 + 3,
    )
}

/// Runs `count` programs under `isa`: how many compiled, and how many of
/// their stages `y` ran on `isa`'s kernels.
fn check(isa: Isa, count: u64) -> (usize, usize) {
    let family = common::RandomPrograms {
        file: "wide16.cnn",
        stage: "y",
        kernel: None,
        inputs: 13,
        refused_ok: true,
        min_job: Some(1),
    };
    let (checked, native) = common::check_random_programs(&family, isa, count, program);
    assert!(
        checked as u64 * 10 > count * 8,
        "only {checked} programs checked"
    );
    (checked, native)
}

#[test]
fn wide_operands_match_the_interpreter_on_avx512_kernels() {
    if tools::isa(Isa::Avx512).is_none() {
        return;
    }
    let (checked, native) = check(Isa::Avx512, 200);
    if tools::avx512_kernels().is_some() {
        assert!(
            native * 10 > checked * 5,
            "only {native} of {checked} wide-operand stages ran on the AVX-512 kernels"
        );
    }
}

#[test]
fn wide_operands_match_the_interpreter_under_avx2() {
    if tools::isa(Isa::Avx2).is_none() {
        return;
    }
    let (checked, native) = check(Isa::Avx2, 80);
    // The AVX2 kernel takes them too (tails without a sign split).
    assert!(
        native * 10 > checked * 5,
        "only {native} of {checked} wide-operand stages ran on the AVX2 kernels"
    );
}

/// The examples' 16-bit pointwise stages run on the kernel: fixed_act's
/// `act` (a `fixed<16, 6>` input), pooling_heads' segmentation head (`p -
/// 8`, 9-bit values in 16-bit storage).
#[test]
fn wide_example_stages_run_on_kernels() {
    if tools::avx512_kernels().is_none() {
        return;
    }
    for (example, stage) in [("fixed_act", "act"), ("pooling_heads", "s")] {
        let path = root().join("examples").join(format!("{example}.cnn"));
        let src = std::fs::read_to_string(&path).expect("read example");
        let dir = path.parent().expect("folder").to_path_buf();
        let (checked, _) =
            compile(&path.display().to_string(), &src, &Folder(dir)).expect("checks");
        let jit = convoy::compile_jit(&checked.program, &JitOptions::default()).expect("compiles");
        let info = (jit.stages().iter())
            .find(|s| s.name == stage && s.label.starts_with("conv"))
            .unwrap_or_else(|| panic!("{example}: no convolution stage {stage}"));
        assert!(
            info.native && info.kernel_isa == Some(Isa::Avx512),
            "{example}: stage {stage} ({}) is not on a kernel",
            info.label
        );
    }
}
