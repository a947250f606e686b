//! The precompiled AVX-512 kernels (`jit::native`) against the interpreter:
//! random pointwise and depthwise convolutions of every size the kernels
//! split differently (channel counts not a multiple of 4 or 6, rows not a
//! multiple of 64, halos, paddings), with requantization tails in every
//! rounding and overflow mode, per-channel and scalar constants. On hosts
//! without AVX-512 the same programs check Cranelift's code instead, and the
//! checks that the kernels ran fail in CI and say they are skipped elsewhere.

use crate::common::gen::{Rng, QUANT};
use crate::common::{self, compile, tools, Files};
use convoy::jit::JitOptions;

fn target(rng: &mut Rng) -> String {
    let q = *rng.pick(&QUANT);
    let o = *rng.pick(&["wrap", "sat", "sat_sym", "sat_zero"]);
    match rng.range(0, 4) {
        0 => format!("u8 {}", rng.pick(&["sat", "wrap"])),
        1 => format!("i8 {}", rng.pick(&["sat", "wrap", "sat_sym"])),
        2 => format!("fixed<8, {}, {q}, {o}>", rng.range(-1, 8)),
        3 => format!("ufixed<8, {}, {q}, {o}>", rng.range(0, 8)),
        _ => format!("i{} sat", rng.range(9, 12)),
    }
}

/// A pointwise, depthwise or depthwise transposed convolution with a
/// random tail.
fn program(seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let deconv = rng.chance(30);
    let depthwise = deconv || rng.chance(50);
    let (cin, cout) = if depthwise {
        let c = rng.range(1, 12);
        (c, c)
    } else {
        (rng.range(1, 70), rng.range(1, 20))
    };
    let (kh, kw) = (rng.range(1, 5), rng.range(1, if deconv { 9 } else { 4 }));
    let (h, w) = (rng.range(kh, kh + 3), rng.range(kw, 150));
    let pads: Vec<i64> = (0..4)
        .map(|i| rng.range(0, if i % 2 == 0 { kh - 1 } else { kw - 1 }))
        .collect();
    let halo = rng.range(0, 2);
    let in_ty = *rng.pick(&["u8", "u8", "u5", "ufixed<8, 3>"]);
    let w_ty = *rng.pick(&["i8", "i8", "i5", "u7"]);
    let b_ty = *rng.pick(&["i16", "i8", "i24"]);
    let f = format!("fixed<{}, {}>", rng.range(12, 32), rng.range(1, 3));
    let m_ty = *rng.pick(&["i6", "u9", "fixed<16, 2>", "ufixed<20, 0>"]);
    let conv = if deconv {
        let (sh, sw) = (rng.range(1, 3), *rng.pick(&[1, 2, 2, 2, 4, 3]));
        let dh = if rng.chance(25) { 2 } else { 1 };
        format!(
            "deconv(x, w, stride: ({sh}, {sw}), pad: ({}, {}, {}, {}), output_pad: ({}, {}), dilation: ({dh}, 1), groups: {cin})",
            rng.range(0, kh - 1),
            rng.range(0, kw - 1),
            rng.range(0, kh - 1),
            rng.range(0, kw - 1),
            rng.range(0, sh.min(dh) - 1),
            rng.range(0, sw - 1),
        )
    } else if depthwise {
        format!(
            "dwconv(x, w, pad: ({}, {}, {}, {}))",
            pads[0], pads[2], pads[1], pads[3]
        )
    } else {
        "conv(x, w)".to_string()
    };
    let sh = rng.range(0, 14);
    let t = target(&mut rng);
    let q = *rng.pick(&QUANT);
    let expr = match rng.range(0, 8) {
        0 => format!("relu(b + trunc({conv} * f)) as {t}"),
        1 => format!("(relu({conv} + b) >> {sh}) as {t}"),
        2 => format!("({conv} * f + b) as {t}"),
        3 => format!("max({conv} - b, {}) as {t}", rng.range(-50, 50)),
        4 => format!(
            "(min(relu({conv} + b), {}) * m >> {sh}) as {t}",
            rng.range(0, 4000)
        ),
        5 => format!("round({conv} * m) as {t}"),
        6 => format!("floor(({conv} + b) * f) as {t}"),
        7 => format!("({conv} * f) as fixed<8, {}, {q}, sat>", rng.range(0, 8)),
        _ => format!("{conv} as {t}"),
    };
    let (wi, wk) = if depthwise {
        (1, (kh, kw))
    } else {
        (cin, (1, 1))
    };
    let tail = second_stage(&mut rng, depthwise, cout);
    format!(
        "pipeline p {{
  input x: {in_ty}[{cin}, {h}, {w}] pad {halo}
  param w: {w_ty}[{cout}, {wi}, {}, {}] = random(seed: {})
  param b: {b_ty}[{cout}] = random(seed: {})
  param m: {m_ty}[{cout}] = random(seed: {})
  const f: {f} = 0.{:04}
  let y = {expr}
{tail}}}
",
        wk.0,
        wk.1,
        seed * 3 + 1,
        seed * 3 + 2,
        seed * 3 + 3,
        rng.range(1, 9999)
    )
}

/// The end of a program: `y` as the output, or (for depthwise stages) a
/// pointwise stage reading it, so that kernels feed kernels (and `y` is
/// sometimes an output too).
fn second_stage(rng: &mut Rng, depthwise: bool, c: i64) -> String {
    if !depthwise || rng.chance(50) {
        return "  output y\n".to_string();
    }
    let cout = rng.range(1, 9);
    let outputs = if rng.chance(30) { "y, z" } else { "z" };
    format!(
        "  param w2: i8[{cout}, {c}, 1, 1] = random(seed: {})
  param b2: i16[{cout}] = random(seed: {})
  let z = (relu(conv(y, w2) + b2) >> {}) as u8 sat
  output {outputs}
",
        rng.range(1, 999),
        rng.range(1, 999),
        rng.range(4, 10)
    )
}

#[test]
fn native_kernels_match_the_interpreter() {
    let mut failures = vec![];
    let (mut native, mut native_deconv, mut checked_ok, mut pairs) = (0, 0, 0, 0);
    let host = tools::host_kernels();
    for seed in 0..600 {
        let src = program(seed);
        let checked = match compile("native.cnn", &src, &Files::default()) {
            Ok((c, _)) => c,
            // Some random tails are rightly rejected (an unproven `as`).
            Err(e) => {
                if std::env::var("SHOW").is_ok() {
                    eprintln!("{e}");
                }
                continue;
            }
        };
        checked_ok += 1;
        let program = &checked.program;
        let options = JitOptions {
            threads: 1 + (seed % 2) as usize,
            min_job: 1,
            ..JitOptions::default()
        };
        let stages = match common::jit_agrees(
            program,
            &common::random_inputs(program, |_| seed),
            &options,
        ) {
            Ok(stages) => stages,
            Err(e) => {
                failures.push(format!("seed {seed}: {e}\n{src}"));
                continue;
            }
        };
        native += stages.iter().filter(|s| s.native).count();
        if let Some(s) = (stages.iter()).find(|s| s.native && s.kernel_isa != host) {
            failures.push(format!(
                "seed {seed}: stage {} on {:?}, not this CPU's {:?} kernels\n{src}",
                s.name, s.kernel_isa, host
            ));
        }
        pairs += stages
            .windows(2)
            .filter(|p| p[0].native && p[1].native)
            .count();
        native_deconv += stages
            .iter()
            .filter(|s| s.native && s.label.contains("deconv"))
            .count();
    }
    common::assert_no_failures(&failures);
    assert!(checked_ok > 400, "only {checked_ok} programs checked");
    if tools::avx512_kernels().is_some() {
        assert!(
            native > 100,
            "only {native} stages ran on the AVX-512 kernels"
        );
        assert!(pairs > 15, "only {pairs} native stages fed native stages");
        assert!(
            native_deconv > 20,
            "only {native_deconv} transposed convolutions ran on the kernels"
        );
    } else if host.is_some() {
        // The AVX2 kernels (checked above to be the ones that ran).
        assert!(native > 100, "only {native} stages ran on the AVX2 kernels");
        assert!(pairs > 15, "only {pairs} native stages fed native stages");
    } else {
        assert_eq!(native, 0, "no AVX-512 or AVX2 here: no stage may be native");
    }
}

/// The benchmark's stages are the ones the kernels exist for: losing them to
/// a change in the matcher would silently cost the speed figures.
#[test]
fn benchmark_stages_run_on_the_kernels() {
    let path = common::root().join("examples/seed.cnn");
    let src = std::fs::read_to_string(&path).expect("read seed.cnn");
    let dir = path.parent().expect("folder").to_path_buf();
    let (checked, _) = compile("seed.cnn", &src, &common::Folder(dir)).expect("checks");
    let jit = convoy::compile_jit(&checked.program, &JitOptions::default()).expect("compiles");
    let native: Vec<_> = (jit.stages().iter())
        .map(|s| s.native.then_some(s.kernel_isa).flatten())
        .collect();
    // AVX-512 where the CPU has it (else the record that it has not), AVX2
    // on CPUs without it.
    let _ = tools::avx512_kernels();
    assert_eq!(native, vec![tools::host_kernels(); 2]);
    let off = JitOptions {
        native: false,
        ..JitOptions::default()
    };
    let jit = convoy::compile_jit(&checked.program, &off).expect("compiles");
    assert!(jit.stages().iter().all(|s| !s.native));
}

/// A pointwise convolution whose tail has the folded form in each of its
/// variants (see `Folded` in `jit::machine::avx512`): shifts below, at and
/// above 32 bits (the high halves shifted or not), factors too large to
/// scale up (the general tail instead), unsigned and signed packs, with and
/// without a byte clamp after them; channel counts around the register
/// block's (16, 32, 64, 96 input channels and others, outputs not a
/// multiple of 4), odd widths, halos.
fn folded_pointwise_program(seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let cin = if rng.chance(50) {
        *rng.pick(&[16, 32, 64, 96, 4, 8])
    } else {
        rng.range(1, 100)
    };
    let cout = rng.range(1, 40);
    let (h, w) = (rng.range(1, 4), rng.range(1, 200));
    let halo = rng.range(0, 1);
    // 32 - ib fraction bits: shifts of about 30 to 44 with the factor's
    // value anywhere below its maximum 2^(ib - 1).
    let ib = rng.range(-12, 2);
    let code = rng.range(1, (1 << 31) - 1) >> rng.range(0, 30);
    let value = code as f64 * 2f64.powi(ib as i32 - 32);
    let conv = "(conv(x, w) + b) * f";
    let expr = match rng.range(0, 5) {
        0 => format!("round({conv}) as u8 sat"),
        1 => format!("floor({conv}) as i8 sat"),
        2 => format!("({conv}) as fixed<8, {}, rnd, sat>", rng.range(1, 8)),
        3 => format!("min(relu(floor({conv})), {}) as u8", rng.range(1, 254)),
        4 => format!("min(max(floor({conv}), {}), 100) as i8", rng.range(-127, 0)),
        _ => format!(
            "({conv}) as ufixed<8, {}, rnd_min_inf, sat>",
            rng.range(0, 8)
        ),
    };
    format!(
        "pipeline p {{
  input x: u8[{cin}, {h}, {w}] pad {halo}
  param w: i8[{cout}, {cin}, 1, 1] = random(seed: {})
  param b: i16[{cout}] = random(seed: {})
  const f: fixed<32, {ib}> = {value:.20}
  let y = {expr}
  output y
}}
",
        seed * 2 + 1,
        seed * 2 + 2,
    )
}

#[test]
fn folded_pointwise_tails_match_the_interpreter() {
    let mut failures = vec![];
    let (mut native, mut checked_ok) = (0, 0);
    for seed in 0..300 {
        let src = folded_pointwise_program(seed);
        let checked = match compile("folded.cnn", &src, &Files::default()) {
            Ok((c, _)) => c,
            Err(e) => {
                failures.push(format!("seed {seed}: does not check\n{src}\n{e}"));
                continue;
            }
        };
        checked_ok += 1;
        let program = &checked.program;
        let options = JitOptions {
            threads: 1 + (seed % 2) as usize,
            min_job: 1,
            ..JitOptions::default()
        };
        let inputs = common::random_inputs(program, |_| seed);
        match common::jit_agrees(program, &inputs, &options) {
            Ok(stages) => native += stages.iter().filter(|s| s.native).count(),
            Err(e) => failures.push(format!("seed {seed}: {e}\n{src}")),
        }
    }
    common::assert_no_failures(&failures);
    if tools::avx512_kernels().is_some() {
        assert!(
            native > 250,
            "only {native} of {checked_ok} stages ran on the kernels"
        );
    }
}

/// Pointwise convolutions on maps past 4 MiB of planes, which the AVX-512
/// kernel runs in batches of chunks with the next batch's input prefetched
/// (`pointwise_avx512::batched`): input channels from 1 to 100 (batches of
/// 8 down to 2 chunks), outputs not a multiple of 4, rows with and without
/// halos (one run, or one a row with a short last chunk), 1 and 2 threads.
#[test]
fn pointwise_maps_larger_than_l2_match_the_interpreter() {
    let mut failures = vec![];
    let mut native = 0;
    for seed in 0..6u64 {
        let mut rng = Rng::new(seed + 900);
        let cin = *rng.pick(&[1, 7, 16, 33, 64, 100]);
        let cout = rng.range(2, 11);
        let halo = rng.range(0, 1);
        // At least 4.1 MiB of planes.
        let w = rng.range(130, 300);
        let h = (4_300_000 / ((cin + cout) * w) + 1).max(2);
        let src = format!(
            "pipeline p {{
  input x: u8[{cin}, {h}, {w}] pad {halo}
  param w: i8[{cout}, {cin}, 1, 1] = random(seed: {})
  param b: i16[{cout}] = random(seed: {})
  const f: fixed<32, -6> = 0.00097
  let y = round((conv(x, w) + b) * f) as u8 sat
  output y
}}
",
            seed + 1,
            seed + 2
        );
        let checked = match compile("large.cnn", &src, &Files::default()) {
            Ok((c, _)) => c,
            Err(e) => {
                failures.push(format!("seed {seed}: does not check\n{src}\n{e}"));
                continue;
            }
        };
        let options = JitOptions {
            threads: 1 + (seed % 2) as usize,
            ..JitOptions::default()
        };
        let inputs = common::random_inputs(&checked.program, |_| seed);
        match common::jit_agrees(&checked.program, &inputs, &options) {
            Ok(stages) => native += stages.iter().filter(|s| s.native).count(),
            Err(e) => failures.push(format!("seed {seed}: {e}\n{src}")),
        }
    }
    common::assert_no_failures(&failures);
    if tools::avx512_kernels().is_some() {
        assert_eq!(native, 6, "every stage runs on the kernel");
    }
}

/// A pointwise or depthwise convolution whose tail rounds symmetrically
/// about zero (`trunc`, `round`, ties toward zero) with a post-add that can
/// lift a rounded negative product above the lower clamp: the mirrored
/// form of the tail (see `Mirrored` in `jit::machine::tail_avx512`), with
/// and without a pre-add, shifts below and above 32 bits and short ones
/// (ties), unsigned and
/// signed packs, byte clamps, proven and unproven 8-bit wraps; negative
/// factors and large post-adds (the general tail instead). Depthwise
/// kernels of at most 4 taps a row at column stride 1 (loaded windows),
/// with and without the input's halo, and wider ones (gathered windows).
fn mirrored_program(seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let depthwise = rng.chance(50);
    let (cin, cout) = if depthwise {
        let c = rng.range(1, 12);
        (c, c)
    } else {
        let cin = if rng.chance(50) {
            *rng.pick(&[16, 32, 64, 4])
        } else {
            rng.range(1, 80)
        };
        (cin, rng.range(1, 24))
    };
    let (kh, kw) = if depthwise {
        (rng.range(1, 4), *rng.pick(&[3, 3, 2, 1, 4, 5]))
    } else {
        (1, 1)
    };
    let (h, w) = (rng.range(kh, kh + 3), rng.range(kw, 200));
    let halo = rng.range(0, 1);
    let conv = if depthwise {
        let sh = *rng.pick(&[1, 1, 2]);
        format!(
            "dwconv(x, w, stride: ({sh}, 1), pad: ({}, {}, {}, {}))",
            rng.range(0, kh - 1),
            rng.range(0, kw - 1),
            rng.range(0, kh - 1),
            rng.range(0, kw - 1)
        )
    } else {
        "conv(x, w)".to_string()
    };
    // 32 - ib fraction bits: shifts of about 30 to 44; a negative factor
    // now and then.
    let ib = rng.range(-12, 2);
    let code = rng.range(1, (1 << 31) - 1) >> rng.range(0, 30);
    let sign = if rng.chance(10) { "-" } else { "" };
    let value = code as f64 * 2f64.powi(ib as i32 - 32);
    // Or a short factor (shift 11), so that ties occur.
    let (f_ty, value) = if rng.chance(40) {
        (
            "fixed<12, 1>".to_string(),
            rng.range(1, 1023) as f64 / 2048.0,
        )
    } else {
        (format!("fixed<32, {ib}>"), value)
    };
    let b_ty = *rng.pick(&["i8", "i8", "i10", "i16"]);
    let product = if rng.chance(30) {
        format!("({conv} + c) * f")
    } else {
        format!("{conv} * f")
    };
    let expr = match rng.range(0, 6) {
        0 => format!("relu(b + trunc({product})) as u8 wrap"),
        1 => format!("relu(b + round({product})) as u8 sat"),
        2 => format!("(b + trunc({product})) as i8 sat"),
        3 => format!(
            "min(relu(b + trunc({product})), {}) as u8",
            rng.range(1, 254)
        ),
        4 => format!(
            "min(max(b + round({product}), {}), 100) as i8",
            rng.range(-127, 0)
        ),
        5 => format!(
            "({product}) as fixed<8, {}, rnd_zero, sat>",
            rng.range(1, 8)
        ),
        _ => format!(
            "({product}) as ufixed<8, {}, rnd_inf, sat>",
            rng.range(0, 8)
        ),
    };
    let (wi, wk) = if depthwise {
        (1, (kh, kw))
    } else {
        (cin, (1, 1))
    };
    format!(
        "pipeline p {{
  input x: u8[{cin}, {h}, {w}] pad {halo}
  param w: i8[{cout}, {wi}, {}, {}] = random(seed: {})
  param b: {b_ty}[{cout}] = random(seed: {})
  param c: i8[{cout}] = random(seed: {})
  const f: {f_ty} = {sign}{value:.20}
  let y = {expr}
  output y
}}
",
        wk.0,
        wk.1,
        seed * 3 + 1,
        seed * 3 + 2,
        seed * 3 + 3,
    )
}

#[test]
fn mirrored_tails_match_the_interpreter() {
    let mut failures = vec![];
    let (mut native, mut checked_ok) = (0, 0);
    for seed in 0..300 {
        let src = mirrored_program(seed);
        let checked = match compile("mirrored.cnn", &src, &Files::default()) {
            Ok((c, _)) => c,
            // Some random tails are rightly rejected (an unproven wrap).
            Err(e) => {
                if std::env::var("SHOW").is_ok() {
                    eprintln!("{e}");
                }
                continue;
            }
        };
        checked_ok += 1;
        let program = &checked.program;
        let options = JitOptions {
            threads: 1 + (seed % 2) as usize,
            min_job: 1,
            ..JitOptions::default()
        };
        let inputs = common::random_inputs(program, |_| seed);
        match common::jit_agrees(program, &inputs, &options) {
            Ok(stages) => native += stages.iter().filter(|s| s.native).count(),
            Err(e) => failures.push(format!("seed {seed}: {e}\n{src}")),
        }
    }
    common::assert_no_failures(&failures);
    assert!(checked_ok > 200, "only {checked_ok} programs checked");
    if tools::avx512_kernels().is_some() {
        assert!(
            native > 180,
            "only {native} of {checked_ok} stages ran on the kernels"
        );
    }
}

/// A depthwise convolution of random geometry: strides 1 to 4 each way
/// (column strides 1, 2 and 4 with adjacent taps run the kernel by plain
/// loads, the others the gathering kernel), dilations, kernels of 1 to 7
/// taps each way, paddings, rows of several 64-pixel chunks, channel counts
/// up to 150 (not multiples of 64), on the pipeline input itself (no halo:
/// the kernel pads at the borders) or on a computed map (the halo pads),
/// with folded, general and mirrored tails. `Maps::Narrow`: output rows
/// of at most about 40 pixels, several rows a register block
/// (`depthwise_packed`), more channels; `Maps::Planes`: output maps of
/// about 8 x 8 pixels or fewer, a channel a register block
/// (`depthwise_planes`), and some just over.
fn depthwise_program(seed: u64, maps: Maps) -> String {
    let narrow = maps != Maps::Wide;
    let mut rng = Rng::new(seed);
    let c = if rng.chance(if narrow { 60 } else { 30 }) {
        rng.range(1, 150)
    } else {
        rng.range(1, 12)
    };
    let (kh, kw) = (rng.range(1, 7), rng.range(1, 7));
    let (sh, sw) = (rng.range(1, 4), *rng.pick(&[1, 2, 2, 3, 4]));
    let dh = if rng.chance(25) { rng.range(2, 3) } else { 1 };
    let dw = if rng.chance(25) { rng.range(2, 3) } else { 1 };
    let pads: Vec<i64> = (0..4)
        .map(|i| rng.range(0, if i < 2 { (kh - 1) * dh } else { (kw - 1) * dw }))
        .collect();
    // Input rows (columns) that give about 8 output rows (columns) or
    // fewer, sometimes 9 or 10.
    let planes = |s: i64, k: i64, d: i64, pads: i64, rng: &mut Rng| {
        let out = if rng.chance(85) {
            rng.range(1, 8)
        } else {
            rng.range(9, 10)
        };
        ((out - 1) * s + (k - 1) * d + 1 - pads + rng.range(0, s - 1)).max(1)
    };
    let h = if maps == Maps::Planes {
        planes(sh, kh, dh, pads[0] + pads[2], &mut rng)
    } else {
        rng.range(
            (kh - 1) * dh + 1,
            (kh - 1) * dh + if narrow { 30 } else { 12 },
        )
    };
    let w = if maps == Maps::Planes {
        planes(sw, kw, dw, pads[1] + pads[3], &mut rng)
    } else if narrow {
        let most = *rng.pick(&[8, 16, 36]) * sw;
        rng.range((kw - 1) * dw + 1, (kw - 1) * dw + most)
    } else {
        rng.range((kw - 1) * dw + 1, (kw - 1) * dw + 300)
    };
    let halo = rng.range(0, 2);
    let (let_x, x) = if rng.chance(50) {
        (format!("  let x1 = max(x, {})\n", rng.range(0, 9)), "x1")
    } else {
        (String::new(), "x")
    };
    let conv = format!(
        "conv({x}, w, stride: ({sh}, {sw}), pad: ({}, {}, {}, {}), dilation: ({dh}, {dw}), groups: {c})",
        pads[0], pads[1], pads[2], pads[3]
    );
    // Narrow maps read with padding (`y` stored with a halo: rows not
    // back to back).
    let end = if narrow && rng.chance(40) {
        let outputs = if rng.chance(50) { "y, z" } else { "z" };
        format!("  let z = maxpool(y, 3, stride: 1, pad: 1)\n  output {outputs}\n")
    } else {
        String::from("  output y\n")
    };
    let t = target(&mut rng);
    let expr = match rng.range(0, 6) {
        0 => format!("round(({conv} + b) * s) as u8 sat"),
        1 => format!("relu(b + trunc({conv} * s)) as u8 wrap"),
        2 => format!("(b + round({conv} * s)) as i8 sat"),
        3 => format!("(relu({conv} + b) >> {}) as {t}", rng.range(0, 12)),
        4 => format!("floor(({conv} + b) * s) as {t}"),
        _ => format!("({conv} * s + b) as {t}"),
    };
    format!(
        "pipeline p {{
  input x: u8[{c}, {h}, {w}] pad {halo}
  param w: i8[{c}, 1, {kh}, {kw}] = random(seed: {})
  param b: i8[{c}] = random(seed: {})
  const s: fixed<{}, 1> = 0.{:04}
{let_x}  let y = {expr}
{end}}}
",
        seed * 3 + 1,
        seed * 3 + 2,
        rng.range(12, 32),
        rng.range(1, 9999)
    )
}

/// The map sizes `depthwise_program` draws.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Maps {
    Wide,
    Narrow,
    Planes,
}

#[test]
fn depthwise_geometries_match_the_interpreter() {
    depthwise_geometries(Maps::Wide);
}

/// Narrow maps (output rows of up to about 40 pixels: 2, 4 or 8 rows a
/// register block, a map's last block partly empty, jobs of 1 to 3
/// threads cutting blocks), and the AVX2 kernels on them.
#[test]
fn narrow_depthwise_maps_match_the_interpreter() {
    depthwise_geometries(Maps::Narrow);
}

/// Maps of at most 8 x 8 output pixels (`depthwise_planes`: one register
/// block a channel, every kernel row's windows gathered from one 128-byte
/// span a vector) and a few just larger, on inputs with and without a
/// halo, jobs of 1 to 3 threads.
#[test]
fn depthwise_planes_match_the_interpreter() {
    depthwise_geometries(Maps::Planes);
}

fn depthwise_geometries(maps: Maps) {
    let narrow = maps != Maps::Wide;
    let mut failures = vec![];
    let (mut native, mut checked_ok) = (0, 0);
    for seed in 0..400 {
        let src = depthwise_program(seed, maps);
        let checked = match compile("depthwise.cnn", &src, &Files::default()) {
            Ok((c, _)) => c,
            // Some random tails are rightly rejected (an unproven `as`).
            Err(e) => {
                if std::env::var("SHOW").is_ok() {
                    eprintln!("{e}");
                }
                continue;
            }
        };
        checked_ok += 1;
        let program = &checked.program;
        let options = JitOptions {
            threads: 1 + (seed % if narrow { 3 } else { 2 }) as usize,
            min_job: 1,
            isa: if narrow && seed % 4 == 3 {
                convoy::jit::Isa::Avx2
            } else {
                JitOptions::default().isa
            },
            ..JitOptions::default()
        };
        let inputs = common::random_inputs(program, |_| seed);
        match common::jit_agrees(program, &inputs, &options) {
            Ok(stages) => {
                native += (stages.iter())
                    .filter(|s| s.native && s.label.contains("conv"))
                    .count()
            }
            Err(e) => failures.push(format!("seed {seed}: {e}\n{src}")),
        }
    }
    eprintln!("{checked_ok} programs, {native} convolutions on the kernels");
    common::assert_no_failures(&failures);
    assert!(checked_ok > 300, "only {checked_ok} programs checked");
    if tools::avx512_kernels().is_some() {
        assert!(
            native > 200,
            "only {native} convolutions ran on the kernels"
        );
    }
}
