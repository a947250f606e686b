//! Narrow maps (rows of 1 to ~70 pixels) whose buffers have side halos,
//! against the interpreter: a pointwise convolution or an elementwise
//! stage writing into a buffer that a padded depthwise stage reads (its
//! rows then lie apart, and a 64-pixel chunk spans several of them), read
//! from an input with a halo of its own (a padded 3x3 convolution reads it
//! too), and the depthwise stage on such a buffer whose last chunk's loads
//! would pass its spare bytes (it pads at the borders with masked loads).
//! 1 and 2 threads (a thread's rows start inside a chunk), every forced
//! instruction set; the AVX-512 kernels must have run them.

use crate::common::gen::Rng;
use crate::common::{self, tools, RandomPrograms};
use convoy::jit::Isa;

/// The stage that feeds the padded depthwise stage.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Producer {
    Pointwise,
    Elementwise,
}

fn program(seed: u64, producer: Producer) -> String {
    let mut rng = Rng::new(seed);
    let k = *rng.pick(&[1, 3, 3, 5]);
    let (cin, h) = (rng.range(1, 40), rng.range(k, k + 10));
    // Mostly the narrow rows, sometimes rows past one chunk.
    let w = if rng.chance(80) {
        rng.range(1, 40)
    } else {
        rng.range(40, 140)
    };
    let cout = if producer == Producer::Pointwise {
        rng.range(1, 70)
    } else {
        cin
    };
    let stride = rng.range(1, 2);
    let pad = rng.range(1, k.max(2) - 1);
    // A second reader with padding gives the input a halo.
    let halo_input = rng.chance(50);
    let x_ty = *rng.pick(&["u8", "u8", "i8", "u6"]);
    let producer_expr = match producer {
        Producer::Pointwise => format!(
            "(relu(conv(x, e) + b) >> {}) as {}",
            rng.range(4, 10),
            rng.pick(&["u8 sat", "u8 wrap", "u7 sat"])
        ),
        Producer::Elementwise => match rng.range(0, 3) {
            0 => format!("(x >> {}) as u8 sat", rng.range(0, 3)),
            1 => format!("(x + r) as {}", rng.pick(&["u8 sat", "u8 wrap", "i8 sat"])),
            2 => "max(x, r) as u8 sat".to_string(),
            _ => format!("(x - r + {}) as u8 sat", rng.range(0, 20)),
        },
    };
    let side = if halo_input {
        format!(
            "  let z = (conv(x, w3, pad: 1) >> {}) as u8 sat\n  output z\n",
            rng.range(4, 9)
        )
    } else {
        String::new()
    };
    let also_a = if rng.chance(30) { ", a" } else { "" };
    format!(
        "pipeline p {{
  input x: {x_ty}[{cin}, {h}, {w}]
  input r: u8[{cin}, {h}, {w}]
  param e: i8[{cout}, {cin}, 1, 1] = random(seed: {})
  param b: i16[{cout}] = random(seed: {})
  param d: i8[{cout}, 1, {k}, {k}] = random(seed: {})
  param w3: i8[4, {cin}, 3, 3] = random(seed: {})
  let a = {producer_expr}
  let y = (relu(dwconv(a, d, stride: {stride}, pad: {pad})) >> {}) as u8 sat
{side}  output y{also_a}
}}
",
        3 * seed + 1,
        3 * seed + 2,
        3 * seed + 3,
        3 * seed + 4,
        rng.range(3, 9),
    )
}

/// Checks `count` programs whose producer is `producer` under every
/// instruction set; returns how many stages named `stage` ran on the
/// AVX-512 kernel `kernel` (None: any).
fn check(producer: Producer, (stage, kernel): (&str, Option<&str>), count: u64) -> usize {
    let family = RandomPrograms {
        file: "narrow.cnn",
        stage,
        kernel,
        inputs: 2,
        refused_ok: false,
        min_job: Some(1),
    };
    let isas = [Isa::Avx512, Isa::Avx2, Isa::Avx2Vnni, Isa::Scalar];
    let native = common::check_on_isas(&family, &isas, count, |s| program(s, producer));
    (native.iter().find(|(isa, _)| *isa == Isa::Avx512)).map_or(0, |&(_, n)| n)
}

#[test]
fn narrow_pointwise_into_padded_readers_matches_the_interpreter() {
    let native = check(Producer::Pointwise, ("a", Some("pointwise")), 80);
    if tools::avx512_kernels().is_some() {
        // Signed inputs take other kernels (`x + 128`).
        assert!(native > 40, "only {native} pointwise stages on AVX-512");
    }
}

#[test]
fn narrow_depthwise_on_padded_buffers_matches_the_interpreter() {
    let native = check(Producer::Pointwise, ("y", Some("depthwise")), 80);
    if tools::avx512_kernels().is_some() {
        assert!(native > 60, "only {native} depthwise stages on AVX-512");
    }
}

#[test]
fn narrow_elementwise_rows_match_the_interpreter() {
    let native = check(Producer::Elementwise, ("y", Some("depthwise")), 80);
    if tools::avx512_kernels().is_some() {
        assert!(native > 60, "only {native} depthwise stages on AVX-512");
    }
}
