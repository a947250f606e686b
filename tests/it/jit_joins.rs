//! Two convolutions of one input joined by an add (a ResNet block's main
//! path and its 1x1 shortcut), each with a tail of its own, written in
//! either order, with or without a cast back to bytes after the add:
//! against the interpreter under every forced instruction set, and on the
//! kernels (one convolution's stage adds the other's stored map as its
//! residual map; the shortcut's tail once fused into the add's stage, on
//! the other convolution's raw sums, and ran on scalar code).

use crate::common::gen::Rng;
use crate::common::{self, tools, RandomPrograms};
use convoy::jit::Isa;

fn program(seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let (cin, cout) = (rng.range(1, 40), rng.range(1, 70));
    let stride = rng.range(1, 2);
    let k = *rng.pick(&[1, 3, 3, 5]);
    let (h, w) = (rng.range(k, k + 20), rng.range(k, k + 80));
    let main = format!(
        "let c = ((conv(x, w1, stride: {stride}, pad: {}) + b) >> {}) as {}",
        k / 2,
        rng.range(6, 12),
        rng.pick(&["i8 sat", "u8 sat", "i7 sat"])
    );
    let short = format!(
        "let s = (conv(x, ws, stride: {stride}) >> {}) as {}",
        rng.range(4, 9),
        rng.pick(&["i8 sat", "u8 sat", "i6 sat"])
    );
    let (first, second) = if rng.chance(50) {
        (main, short)
    } else {
        (short, main)
    };
    let join = *rng.pick(&[
        "relu(c + s) as u8 sat",
        "(c + s) as i8 sat",
        "c + s",
        "relu(s + c)",
    ]);
    format!(
        "pipeline p {{
  input x: u8[{cin}, {h}, {w}]
  param w1: i8[{cout}, {cin}, {k}, {k}] = random(seed: {})
  param ws: i8[{cout}, {cin}, 1, 1] = random(seed: {})
  param b: i16[{cout}] = random(seed: {})
  {first}
  {second}
  let y = {join}
  output y
}}
",
        3 * seed + 1,
        3 * seed + 2,
        3 * seed + 3,
    )
}

#[test]
fn joined_convolutions_match_the_interpreter_on_the_kernels() {
    let family = RandomPrograms {
        file: "join.cnn",
        stage: "y",
        kernel: None,
        inputs: 1,
        refused_ok: false,
        min_job: Some(1),
    };
    let isas = [Isa::Avx512, Isa::Avx2, Isa::Scalar];
    for (isa, native) in common::check_on_isas(&family, &isas, 60, program) {
        // The add joins a convolution's stage: every one on the kernels.
        if isa != Isa::Scalar && tools::isa(isa).is_some() {
            assert_eq!(native, 60, "joins on {isa:?} kernels");
        }
    }
}
