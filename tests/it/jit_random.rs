//! Randomly generated pipelines (shapes, strides, pads, dilations, groups,
//! output padding, halos, widths, every quantization and overflow mode,
//! chained stages): the JIT and the interpreter agree bit for bit.

use crate::common::gen::random_program;
use crate::common::{self, compile, tools, Files};
use convoy::jit::JitOptions;

fn agree(seed: u64, options: &JitOptions) -> Result<(), String> {
    let src = random_program(seed);
    let (checked, _) = compile("gen.cnn", &src, &Files::default())?;
    let program = &checked.program;
    let jit =
        convoy::compile_jit(program, options).map_err(|e| format!("seed {seed}: {e}\n{src}"))?;
    let inputs = common::random_inputs(program, |_| seed ^ 0xABCD);
    let expected = convoy::interpret(program, &inputs).map_err(|e| format!("interp: {e}"))?;
    let got = jit
        .run(&inputs)
        .map_err(|e| format!("seed {seed}: jit: {e}\n{src}"))?;
    for (k, (g, e)) in got.iter().zip(&expected).enumerate() {
        if g != e {
            let i = g
                .data
                .iter()
                .zip(&e.data)
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            return Err(format!(
                "seed {seed}: output {k} differs at {i}: jit {:?} interp {:?}\n{src}",
                g.data.get(i),
                e.data.get(i)
            ));
        }
    }
    Ok(())
}

fn run_seeds(seeds: std::ops::Range<u64>, options: &JitOptions) {
    let mut failures = vec![];
    for seed in seeds.clone() {
        if let Err(e) = agree(seed, options) {
            failures.push(e);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} seeds disagree; first:\n{}",
        failures.len(),
        seeds.end - seeds.start,
        failures[0]
    );
}

#[test]
fn random_pipelines_single_thread_scalar() {
    run_seeds(
        0..1500,
        &JitOptions {
            threads: 1,
            simd: false,
            disasm: false,
            native: false,
            vnni: false,
            ..JitOptions::default()
        },
    );
}

#[test]
fn random_pipelines_default_options() {
    run_seeds(1500..3000, &JitOptions::default());
}

/// Random pointwise convolutions that take the vector path (u8 inputs, i8
/// weights, widths a multiple of 16) with random requantization chains.
fn pointwise_program(seed: u64) -> String {
    let mut rng = common::gen::Rng::new(seed);
    let mut depthwise = None;
    let cin = 4 * rng.range(1, 6);
    let cout = rng.range(1, 7);
    let w = 16 * rng.range(1, 3);
    let h = rng.range(4, 6);
    let halo = rng.range(0, 1);
    let in_ty = *rng.pick(&["u8", "u5", "u1", "ufixed<8, 3>"]);
    let w_ty = *rng.pick(&["i8", "i4", "u7", "i2"]);
    let b_ty = *rng.pick(&["i16", "i8", "i31", "u12"]);
    let q = *rng.pick(&[
        "trn",
        "trn_zero",
        "rnd",
        "rnd_zero",
        "rnd_inf",
        "rnd_min_inf",
        "rnd_conv",
    ]);
    let o = *rng.pick(&["wrap", "sat", "sat_zero", "sat_sym"]);
    let fw = rng.range(8, 32);
    let k = rng.range(1, 9999);
    let sh = rng.range(0, 12);
    let target = match rng.range(0, 3) {
        0 => format!("u8 {}", rng.pick(&["sat", "wrap"])),
        1 => format!("i{} {}", rng.range(2, 16), rng.pick(&["sat", "wrap"])),
        2 => format!(
            "fixed<{}, {}, {q}, {o}>",
            rng.range(4, 20),
            rng.range(-2, 12)
        ),
        _ => format!(
            "ufixed<{}, {}, {q}, {o}>",
            rng.range(4, 16),
            rng.range(0, 10)
        ),
    };
    let mut deconv_cols = None;
    let conv = if rng.chance(30) {
        // A depthwise stride-2 transposed conv over wide rows.
        let (kh, kw) = (rng.range(1, 4), rng.range(1, 8));
        let sh = rng.range(1, 2);
        let pads: Vec<i64> = (0..4)
            .map(|i| {
                rng.range(
                    0,
                    if i < 2 {
                        (kh - 1).min(1)
                    } else {
                        (kw - 1).min(3)
                    },
                )
            })
            .collect();
        depthwise = Some((kh, kw));
        deconv_cols = Some(rng.range(16, 40));
        format!(
            "dwdeconv(x, dw, stride: ({sh}, 2), pad: ({}, {}, {}, {}))",
            pads[0], pads[1], pads[2], pads[3]
        )
    } else if rng.chance(50) {
        "conv(x, w)".to_string()
    } else {
        let (kh, kw) = (rng.range(1, 4), rng.range(1, 4));
        let pads: Vec<i64> = (0..4)
            .map(|i| rng.range(0, if i < 2 { kh - 1 } else { kw - 1 }))
            .collect();
        depthwise = Some((kh, kw));
        format!(
            "dwconv(x, dw, pad: ({}, {}, {}, {}))",
            pads[0], pads[1], pads[2], pads[3]
        )
    };
    let (dh, dwk) = depthwise.unwrap_or((1, 1));
    let expr = match rng.range(0, 5) {
        0 => format!("relu(b + trunc({conv} * f)) as {target}"),
        1 => format!("(relu({conv} + b) >> {sh}) as {target}"),
        2 => format!("({conv} * f + b) as {target}"),
        3 => format!("max({conv} >> {sh}, -3) - min(b, 5) as {target}"),
        4 => format!("round({conv} * f) + floor({conv} * 0.375) as {target}"),
        _ => format!("(-{conv} << 2) as {target}"),
    };
    let w = deconv_cols.unwrap_or(w);
    format!(
        "pipeline p {{\n  input x: {in_ty}[{cin}, {h}, {w}] pad {halo}\n  param w: {w_ty}[{cout}, {cin}, 1, 1] = random(seed: {})\n  param b: {b_ty}[{}] = random(seed: {})\n  param dw: {w_ty}[{cin}, 1, {dh}, {dwk}] = random(seed: {})\n  const f: fixed<{fw}, 1> = 0.{k:04}\n  let y = {expr}\n  output y\n}}\n",
        seed * 2 + 1,
        if depthwise.is_some() { cin } else { cout },
        seed * 2 + 2,
        seed * 3 + 7
    )
}

#[test]
fn random_pointwise_and_depthwise_vector_kernels() {
    let mut failures = vec![];
    let mut vector = 0;
    let mut deconvs = 0;
    for seed in 0..400 {
        let src = pointwise_program(seed);
        let (checked, _) = match compile("pw.cnn", &src, &Files::default()) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("seed {seed}: does not check\n{src}\n{e}"));
                continue;
            }
        };
        let program = &checked.program;
        // Cranelift's own vector code with VNNI and with pmaddwd (the
        // AVX-512 kernels have their own test, `jit_native.rs`), then scalar
        // code.
        for (simd, vnni) in [(true, true), (true, false), (false, false)] {
            let options = JitOptions {
                threads: 1,
                simd,
                disasm: false,
                native: false,
                vnni,
                ..JitOptions::default()
            };
            let inputs = common::random_inputs(program, |_| seed);
            let stages = match common::jit_agrees(program, &inputs, &options) {
                Ok(stages) => stages,
                Err(e) => {
                    failures.push(format!("seed {seed} simd {simd} vnni {vnni}: {e}\n{src}"));
                    continue;
                }
            };
            vector += stages.iter().filter(|s| s.vector).count();
            deconvs += stages
                .iter()
                .filter(|s| s.vector && s.label.starts_with("dwdeconv"))
                .count();
        }
    }
    common::assert_no_failures(&failures);
    // How many stages took the vector path: pinned for hosts with VNNI.
    if tools::vnni().is_some() {
        assert!(vector > 200, "only {vector} stages took the vector path");
        assert!(
            deconvs > 10,
            "only {deconvs} deconvolutions took the vector path"
        );
    }
}

/// Values beyond 64 bits: products of wide fixed-point constants and
/// inputs, rounded and saturated with every mode, run on i128 registers.
#[test]
fn wide_values_on_128_bit_registers() {
    let quants = [
        "trn",
        "trn_zero",
        "rnd",
        "rnd_zero",
        "rnd_inf",
        "rnd_min_inf",
        "rnd_conv",
    ];
    let overflows = ["wrap", "sat", "sat_zero", "sat_sym"];
    let mut failures = vec![];
    for (i, q) in quants.iter().enumerate() {
        for (j, o) in overflows.iter().enumerate() {
            let src = format!(
                "pipeline wide {{
  input x: i32[2, 3, 5]
  input z: i24[2, 3, 5] pad 1
  const k: fixed<60, 1> = 0.123456789012345
  param w: i16[2, 2, 3, 3] = random(seed: {})
  let p = x * k * x
  let c = conv(z, w, pad: 1) * k
  let y = (p - c) as fixed<40, {}, {q}, {o}>
  let m = max(p, c) >> 7 as i50 {}
  let r = round(c) + floor(-p) as fixed<64, 70, {q}, {o}>
  output y, m, r
}}
",
                i * 4 + j,
                10 + i as i64 * 3,
                if j % 2 == 0 { "wrap" } else { "sat" }
            );
            let (checked, _) = match compile("wide.cnn", &src, &Files::default()) {
                Ok(c) => c,
                Err(e) => {
                    failures.push(format!("does not check:\n{src}\n{e}"));
                    continue;
                }
            };
            let program = &checked.program;
            let inputs = common::random_inputs(program, |k| (i * 4 + j) as u64 * 7 + k as u64);
            let expected = convoy::interpret(program, &inputs).expect("interpreter runs");
            for simd in [true, false] {
                let options = JitOptions {
                    threads: 1,
                    simd,
                    disasm: false,
                    native: simd,
                    vnni: simd,
                    ..JitOptions::default()
                };
                match convoy::compile_jit(program, &options).map(|j| j.run(&inputs)) {
                    Ok(Ok(got)) if got == expected => {}
                    Ok(Ok(_)) => failures.push(format!("outputs differ:\n{src}")),
                    Ok(Err(e)) => failures.push(format!("run: {e}\n{src}")),
                    Err(e) => failures.push(format!("compile: {e}\n{src}")),
                }
            }
        }
    }
    common::assert_no_failures(&failures);
}
