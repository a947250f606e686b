//! Stages whose operands are not u8 x i8 on the native kernels, against
//! the interpreter: transposed convolutions of signed inputs (the direct
//! kernel's `x + 128` repacking with one correction per channel and stride
//! phase, `Direct::phase_requants`), reading a pipeline input with a halo
//! or a signed map a first stage computes, random kernels (up to 11 x
//! 11), strides 1 to 4, dilations, asymmetric paddings, output paddings,
//! groups, channel counts that are no multiple of the vector width, every
//! tail form (PReLU's sign split too), 1 and 2 threads, AVX-512 and forced
//! AVX2 (where transposed convolutions stay on Cranelift). And the
//! examples' stages that moved report their kernel.

use crate::common::gen::{Rng, QUANT};
use crate::common::{self, compile, root, tools, Folder};
use convoy::jit::{Isa, JitOptions};

fn target(rng: &mut Rng) -> String {
    let q = *rng.pick(&QUANT);
    let o = *rng.pick(&["wrap", "sat", "sat_sym", "sat_zero"]);
    match rng.range(0, 3) {
        0 => format!("u8 {}", rng.pick(&["sat", "wrap"])),
        1 => format!("i8 {}", rng.pick(&["sat", "wrap", "sat_sym"])),
        2 => format!("fixed<8, {}, {q}, {o}>", rng.range(-1, 8)),
        _ => format!("ufixed<8, {}, {q}, {o}>", rng.range(0, 8)),
    }
}

/// A transposed convolution of a signed map with a random tail: the map
/// is the pipeline's input or a first stage's output.
fn program(seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let big = rng.chance(15);
    let (kh, kw) = if big {
        (rng.range(5, 11), rng.range(5, 11))
    } else {
        (rng.range(1, 5), rng.range(1, 5))
    };
    let (sh, sw) = (rng.range(1, 4), rng.range(1, 4));
    let (dh, dw) = if rng.chance(20) {
        (rng.range(1, 3), rng.range(1, 3))
    } else {
        (1, 1)
    };
    let (groups, cin_g, cout_g) = (rng.range(1, 3), rng.range(1, 14), rng.range(1, 12));
    let (cin, cout) = (groups * cin_g, groups * cout_g);
    let pads: Vec<i64> = (0..4)
        .map(|i| rng.range(0, if i < 2 { kh - 1 } else { kw - 1 }))
        .collect();
    let (h, w) = (rng.range(1, 12), rng.range(1, if big { 24 } else { 70 }));
    let conv = format!(
        "deconv(x, w, stride: ({sh}, {sw}), pad: ({}, {}, {}, {}), output_pad: ({}, {}), dilation: ({dh}, {dw}), groups: {groups})",
        pads[0], pads[1], pads[2], pads[3],
        rng.range(0, sh.max(dh) - 1),
        rng.range(0, sw.max(dw) - 1),
    );
    let signed = *rng.pick(&["i8", "fixed<8, 3>", "i4", "i7", "fixed<6, 2>"]);
    // The signed map: read in place (a halo of 0 to 2), or computed.
    let source = if rng.chance(50) {
        format!(
            "  input x: {signed}[{cin}, {h}, {w}] pad {}\n",
            rng.range(0, 2)
        )
    } else {
        let cast = if signed.starts_with('i') {
            format!("{signed} sat")
        } else {
            format!(
                "{}, {}, sat>",
                &signed[..signed.len() - 1],
                rng.pick(&QUANT)
            )
        };
        let first = match rng.range(0, 2) {
            0 => format!("(conv(a, w0, pad: 1) >> {}) as {cast}", rng.range(4, 9)),
            1 => format!("((conv(a, w0, pad: 1) + b0) * 0.0078125) as {cast}"),
            _ => format!("(prelu(conv(a, w0, pad: 1) + b0, s0) * 0.015625) as {cast}"),
        };
        format!(
            "  input a: u8[{cin}, {h}, {w}]
  param w0: i8[{cin}, {cin}, 3, 3] = random(seed: {})
  param b0: i16[{cin}] = random(seed: {})
  param s0: ufixed<6, 0>[{cin}] = random(seed: {})
  let x = {first}
",
            seed * 5 + 4,
            seed * 5 + 5,
            seed * 5 + 6,
        )
    };
    let sh_bits = rng.range(0, 12);
    let t = target(&mut rng);
    let q = *rng.pick(&QUANT);
    let expr = match rng.range(0, 7) {
        0 => format!("relu(b + trunc({conv} * f)) as {t}"),
        1 => format!("(relu({conv} + b) >> {sh_bits}) as {t}"),
        2 => format!("({conv} * f + b) as {t}"),
        3 => format!("max({conv} - b, {}) as {t}", rng.range(-50, 50)),
        4 => format!("round({conv} * m) as {t}"),
        5 => format!("(({conv} + b) * 0.00390625) as ufixed<8, 8, {q}, sat>"),
        6 => format!("(prelu({conv} + b, m) * 0.0078125) as fixed<8, 8, {q}, sat>"),
        _ => format!("{conv} as {t}"),
    };
    format!(
        "use std::blocks::prelu
pipeline p {{
{source}  param w: i8[{cin}, {cout_g}, {kh}, {kw}] = random(seed: {})
  param b: i16[{cout}] = random(seed: {})
  param m: ufixed<6, 0>[{cout}] = random(seed: {})
  const f: fixed<16, 1> = 0.{:04}
  let y = {expr}
  output y
}}
",
        seed * 5 + 1,
        seed * 5 + 2,
        seed * 5 + 3,
        rng.range(1, 9999)
    )
}

/// Runs `count` programs under `isa`: how many compiled, and how many of
/// their transposed stages (`y`) ran on `isa`'s kernels.
fn check(isa: Isa, count: u64) -> (usize, usize) {
    let family = common::RandomPrograms {
        file: "signed.cnn",
        stage: "y",
        kernel: None,
        inputs: 7,
        refused_ok: true,
        min_job: Some(1),
    };
    common::check_random_programs(&family, isa, count, program)
}

#[test]
fn signed_transposed_convolutions_match_the_interpreter_on_avx512_kernels() {
    if tools::isa(Isa::Avx512).is_none() {
        return;
    }
    let (checked, native) = check(Isa::Avx512, 150);
    assert!(checked >= 120, "only {checked} programs checked");
    if tools::avx512_kernels().is_some() {
        // The direct kernel takes them unless the tail does not match or
        // the map read in place has too small a halo.
        assert!(
            native * 10 > checked * 4,
            "only {native} of {checked} signed transposed stages ran on the AVX-512 kernels"
        );
    }
}

#[test]
fn signed_transposed_convolutions_match_the_interpreter_under_avx2() {
    if tools::isa(Isa::Avx2).is_none() {
        return;
    }
    // No AVX2 kernel for transposed convolutions: Cranelift's code.
    check(Isa::Avx2, 60);
}

/// The examples' stages that left Cranelift's scalar code report their
/// kernel: FSRCNN's 9x9 stride-2 transposed convolution of signed bytes,
/// the requantization with a zero point after the factor (requant's y2).
#[test]
fn moved_example_stages_run_on_kernels() {
    if tools::avx512_kernels().is_none() {
        return;
    }
    for (example, stage) in [("fsrcnn", "y"), ("requant", "y2")] {
        let path = root().join("examples").join(format!("{example}.cnn"));
        let src = std::fs::read_to_string(&path).expect("read example");
        let dir = path.parent().expect("folder").to_path_buf();
        let (checked, _) =
            compile(&path.display().to_string(), &src, &Folder(dir)).expect("checks");
        let jit = convoy::compile_jit(&checked.program, &JitOptions::default()).expect("compiles");
        let info = (jit.stages().iter())
            .find(|s| s.name == stage)
            .unwrap_or_else(|| panic!("{example}: no stage {stage}"));
        assert!(
            info.native && info.kernel_isa == Some(Isa::Avx512),
            "{example}: stage {stage} ({}) is not on a kernel",
            info.label
        );
    }
}
