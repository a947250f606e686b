//! Tails that shift twice: a `>>` on a convolution of inputs with fraction
//! bits (bilinear upsampling's `ufixed<12, 8>`), then a cast that drops
//! the fraction bits (or a `floor`/`round`), with every rounding of the
//! cast, on values of both signs and on ones a `relu` keeps non-negative
//! (where truncation toward zero is the floor): against the interpreter
//! under every forced instruction set, and on the kernels where the two
//! shifts are one (`requant::set_shift`; such a stage once ran on scalar
//! code, 25 ms instead of 0.4).

use crate::common::gen::{Rng, QUANT};
use crate::common::{self, tools, RandomPrograms};
use convoy::jit::Isa;

fn program(seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let (cin, cout) = (rng.range(1, 40), rng.range(1, 40));
    let k = *rng.pick(&[1, 3]);
    let (h, w) = (rng.range(k, k + 12), rng.range(k, k + 70));
    let x_ty = *rng.pick(&[
        "ufixed<12, 8>",
        "ufixed<8, 3>",
        "fixed<8, 3>",
        "ufixed<10, 4>",
    ]);
    let q = *rng.pick(&QUANT);
    let targets = [
        "u8 sat".to_string(),
        "u8 wrap".to_string(),
        "i8 sat".to_string(),
        format!("ufixed<8, 6, {q}, sat>"),
        format!("fixed<8, 6, {q}, sat>"),
    ];
    let target = rng.pick(&targets);
    let sum = format!("conv(x, w, pad: {}) + b", k / 2);
    let shift = rng.range(1, 12);
    let expr = match rng.range(0, 3) {
        0 => format!("(relu({sum}) >> {shift}) as {target}"),
        1 => format!("(({sum}) >> {shift}) as {target}"),
        2 => format!("floor(relu({sum}) >> {shift}) as {target}"),
        _ => format!("round(relu({sum}) >> {shift}) as {target}"),
    };
    format!(
        "pipeline p {{
  input x: {x_ty}[{cin}, {h}, {w}]
  param w: i8[{cout}, {cin}, {k}, {k}] = random(seed: {})
  param b: i8[{cout}] = random(seed: {})
  let y = {expr}
  output y
}}
",
        2 * seed + 1,
        2 * seed + 2,
    )
}

#[test]
fn tails_that_shift_twice_match_the_interpreter() {
    let family = RandomPrograms {
        file: "shifts.cnn",
        stage: "y",
        kernel: None,
        inputs: 1,
        refused_ok: false,
        min_job: Some(1),
    };
    let isas = [Isa::Avx512, Isa::Avx2, Isa::Scalar];
    for (isa, native) in common::check_on_isas(&family, &isas, 100, program) {
        // The non-negative sums (`relu`) and the floors of signed ones
        // merge their shifts; signed sums cast toward zero do not.
        if isa == Isa::Avx512 && tools::avx512_kernels().is_some() {
            assert!(native >= 50, "only {native} of 100 on the AVX-512 kernels");
        }
    }
}
