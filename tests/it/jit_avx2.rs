//! The AVX2 pointwise and depthwise kernels (`machine::pointwise_avx2`,
//! `machine::depthwise_avx2`, `--isa avx2`) against the interpreter:
//! random 1x1 and depthwise convolutions with random channel counts, widths
//! (partial vectors of 32 pixels, rows back to back or with side halos),
//! depthwise strides, dilations and paddings (from the input's halo, or at
//! the borders of a pipeline input without one), every tail form (folded,
//! general, signed and unsigned packs, narrower clamps, wrapping casts), 1
//! and 2 threads. `vpmaddwd` on hosts without AVX-VNNI, `vpdpbusd` with it.

use crate::common::gen::{Rng, QUANT};
use crate::common::{self, compile, tools, Files};
use convoy::jit::{Isa, JitOptions, StageInfo};

/// A random tail over the convolution `conv`.
fn tail(rng: &mut Rng, conv: &str) -> String {
    let t = match rng.range(0, 6) {
        0 => "u8 sat".to_string(),
        1 => "i8 sat".to_string(),
        2 => format!("u{} sat", rng.range(4, 7)),
        3 => format!("u8 {}", rng.pick(&["wrap", "sat"])),
        4 => format!(
            "fixed<8, {}, {}, {}>",
            rng.range(0, 8),
            rng.pick(&QUANT),
            rng.pick(&["wrap", "sat", "sat_sym"])
        ),
        _ => "i8 wrap".to_string(),
    };
    match rng.range(0, 6) {
        0 => format!("round(({conv} + b) * s) as {t}"),
        1 => format!("relu(b + trunc({conv} * s)) as {t}"),
        2 => format!("(relu({conv} + b) >> {}) as {t}", rng.range(0, 12)),
        3 => format!("floor(({conv} + b) * s) as {t}"),
        4 => format!(
            "(min(relu({conv} + b), {}) * m >> 6) as {t}",
            rng.range(0, 4000)
        ),
        _ => format!("({conv} * s + b) as {t}"),
    }
}

/// A random pointwise (`depthwise` false) or depthwise convolution on
/// unsigned inputs with a random tail.
fn program(seed: u64, depthwise: bool) -> String {
    program_with(seed, depthwise, Window::Any)
}

/// The depthwise windows of [`program_with`].
#[derive(Clone, Copy, PartialEq)]
enum Window {
    /// Rows of 1 to 3 taps, any stride and dilation.
    Any,
    /// Column stride 2 and adjacent taps (`machine::depthwise_words_avx2`
    /// without VNNI), the padding often zero on the right and bottom (the
    /// last window row and column inside the input).
    Stride2,
    /// Rows of 5 to 8 adjacent taps, column stride 1 or 2
    /// (`machine::depthwise_words_avx2` in every AVX2 form).
    WideRows,
    /// As `Any` on maps of about 16 output columns or fewer, which share
    /// the four vectors with the next output rows.
    NarrowMaps,
    /// Not depthwise: a 1x1 convolution with row stride 1 to 4 and column
    /// stride 1 or 2, any dilation (the pointwise kernel's strided loads).
    Strided1x1,
}

/// As [`program`], with depthwise windows of the kind `window`.
fn program_with(seed: u64, depthwise: bool, window: Window) -> String {
    let stride2 = window == Window::Stride2;
    let mut rng = Rng::new(seed);
    let (cin, cout) = if depthwise {
        let c = rng.range(1, 20);
        (c, c)
    } else {
        (rng.range(1, 40), rng.range(1, 40))
    };
    let (kh, kw) = if window == Window::WideRows {
        (rng.range(1, 8), rng.range(5, 8))
    } else if depthwise {
        (rng.range(1, 5), rng.range(1, 4))
    } else {
        (1, 1)
    };
    let (sh, sw, dh, dw) = if stride2 {
        (rng.range(1, 4), 2, rng.range(1, 2), 1)
    } else if window == Window::WideRows {
        (rng.range(1, 3), rng.range(1, 2), rng.range(1, 2), 1)
    } else if window == Window::Strided1x1 {
        (
            rng.range(1, 4),
            rng.range(1, 2),
            rng.range(1, 3),
            rng.range(1, 3),
        )
    } else if depthwise {
        let d = if rng.chance(25) { (1, 2) } else { (1, 1) };
        (rng.range(1, 4), rng.range(1, 3), d.0, d.1)
    } else {
        (1, 1, 1, 1)
    };
    let pads: Vec<i64> = (0..4)
        .map(|i| {
            let most = if i < 2 { kh - 1 } else { kw - 1 };
            // (top, bottom, left, right): bottom and right zero.
            if stride2 && i % 2 == 1 && rng.chance(50) {
                0
            } else {
                rng.range(0, most)
            }
        })
        .collect();
    let h = rng.range((kh - 1) * dh + 1, (kh - 1) * dh + 12);
    let w = if window == Window::NarrowMaps {
        rng.range((kw - 1) * dw + 1, (kw - 1) * dw + 16 * sw + 2)
    } else {
        rng.range((kw - 1) * dw + 1, (kw - 1) * dw + 150)
    };
    let halo = rng.range(0, 2);
    let in_ty = *rng.pick(&["u8", "u8", "u5", "ufixed<8, 3>"]);
    let w_ty = *rng.pick(&["i8", "i8", "i5", "u7"]);
    let s_ty = format!("fixed<{}, 1>", rng.range(12, 40));
    // The input itself (the depthwise kernel pads at its borders), or a
    // computed map (its halo holds the padding).
    let (let_x, x) = if rng.chance(50) {
        (format!("  let x1 = max(x, {})\n", rng.range(0, 9)), "x1")
    } else {
        (String::new(), "x")
    };
    let groups = if depthwise { cin } else { 1 };
    let conv = format!(
        "conv({x}, w, stride: ({sh}, {sw}), pad: ({}, {}, {}, {}), dilation: ({dh}, {dw}), groups: {groups})",
        pads[0], pads[1], pads[2], pads[3]
    );
    let expr = tail(&mut rng, &conv);
    format!(
        "pipeline p {{
  input x: {in_ty}[{cin}, {h}, {w}] pad {halo}
  param w: {w_ty}[{cout}, {}, {kh}, {kw}] = random(seed: {})
  param b: i16[{cout}] = random(seed: {})
  param m: u9[{cout}] = random(seed: {})
  const s: {s_ty} = 0.{:04}
{let_x}  let y = {expr}
  output y
}}
",
        cin / groups,
        seed * 3 + 1,
        seed * 3 + 2,
        seed * 3 + 3,
        rng.range(1, 9999)
    )
}

/// Runs `count` random programs under `--isa avx2` (or `avx2-vnni`);
/// returns how many stages ran on an AVX2 kernel.
fn check(isa: Isa, depthwise: bool, count: u64) -> usize {
    check_with(isa, count, |seed| program(seed, depthwise))
}

/// As [`check`], on the programs `program(seed)`.
fn check_with(isa: Isa, count: u64, program: impl Fn(u64) -> String) -> usize {
    let (checked_ok, avx2) =
        check_sources(isa, count, |seed| Some((program(seed), Files::default())));
    if convoy::jit::isa_supported(isa) {
        assert!(checked_ok as u64 > count / 2, "only {checked_ok} checked");
    }
    avx2
}

/// Compiles `source(seed)` (a program and its files) for `seed` in
/// `0..count` and compares the JIT under `isa` on 1 or 2 threads with the
/// interpreter; the programs checked and the stages on an AVX2 kernel.
fn check_sources(
    isa: Isa,
    count: u64,
    source: impl Fn(u64) -> Option<(String, Files)>,
) -> (usize, usize) {
    check_kernel(isa, count, None, source)
}

/// As [`check_sources`], counting only the stages on the AVX2 kernel
/// family `kernel` (`StageInfo::kernel`) when given.
fn check_kernel(
    isa: Isa,
    count: u64,
    kernel: Option<&str>,
    source: impl Fn(u64) -> Option<(String, Files)>,
) -> (usize, usize) {
    check_stages(
        isa,
        count,
        |s| kernel.is_none() || s.kernel == kernel,
        source,
    )
}

/// As [`check_sources`], counting only the stages on an AVX2 kernel that
/// `counts`.
fn check_stages(
    isa: Isa,
    count: u64,
    counts: impl Fn(&StageInfo) -> bool,
    source: impl Fn(u64) -> Option<(String, Files)>,
) -> (usize, usize) {
    if tools::isa(isa).is_none() {
        return (0, 0);
    }
    let mut failures = vec![];
    let (mut checked_ok, mut avx2) = (0, 0);
    for seed in 0..count {
        let Some((src, files)) = source(seed) else {
            continue;
        };
        let Ok((checked, _)) = compile("avx2.cnn", &src, &files) else {
            continue;
        };
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
                avx2 += (stages.iter())
                    .filter(|s| s.native && s.kernel_isa == Some(isa))
                    .filter(|s| counts(s))
                    .count()
            }
            Err(e) => failures.push(format!("seed {seed}: {e}\n{src}")),
        }
    }
    eprintln!("{checked_ok} programs, {avx2} stages on AVX2 kernels");
    common::assert_no_failures(&failures);
    (checked_ok, avx2)
}

#[test]
fn avx2_pointwise_convolutions_match_the_interpreter() {
    for isa in [Isa::Avx2, Isa::Avx2Vnni] {
        let n = check(isa, false, 150);
        if convoy::jit::isa_supported(isa) {
            assert!(n > 50, "{isa:?}: only {n} stages ran on the AVX2 kernels");
        }
    }
}

#[test]
fn avx2_depthwise_convolutions_match_the_interpreter() {
    for isa in [Isa::Avx2, Isa::Avx2Vnni] {
        let n = check(isa, true, 150);
        if convoy::jit::isa_supported(isa) {
            assert!(n > 50, "{isa:?}: only {n} stages ran on the AVX2 kernels");
        }
    }
}

#[test]
fn avx2_stride2_depthwise_convolutions_match_the_interpreter() {
    for isa in [Isa::Avx2, Isa::Avx2Vnni] {
        let n = check_with(isa, 150, |seed| program_with(seed, true, Window::Stride2));
        if convoy::jit::isa_supported(isa) {
            assert!(n > 50, "{isa:?}: only {n} stages ran on the AVX2 kernels");
        }
    }
}

/// 1x1 convolutions with strides (ResNet's downsampling shortcuts) on the
/// pointwise kernel, not the direct one.
#[test]
fn avx2_strided_1x1_convolutions_match_the_interpreter() {
    check_family(Window::Strided1x1, "pointwise", 150, 50);
}

/// 5x5 and 7x7 depthwise layers (rows of 5 to 8 adjacent taps, column
/// stride 1 or 2) on the depthwise kernel, not the direct one (most of
/// the other stages have tails the kernels do not take).
#[test]
fn avx2_wide_row_depthwise_convolutions_match_the_interpreter() {
    check_family(Window::WideRows, "depthwise", 200, 60);
}

/// Depthwise stages on maps of at most about 16 output columns: one or two
/// vectors a row, the four vectors holding up to 4 or 2 rows of a channel;
/// jobs of 1 or 2 threads cut channels.
#[test]
fn avx2_depthwise_narrow_maps_match_the_interpreter() {
    check_family(Window::NarrowMaps, "depthwise", 200, 80);
}

/// Two depthwise layers on narrow maps (rows of 1 to 31 pixels: the
/// kernel runs a job's rows as one run and copies them out of a line;
/// with column stride 2, rows of up to 8 pixels two or four to a chunk),
/// the first writing into the halo the second pads from: the copies and
/// stores must write each row's pixels and nothing of the halo around
/// them.
#[test]
fn avx2_narrow_depthwise_pairs_match_the_interpreter() {
    for isa in [Isa::Avx2, Isa::Avx2Vnni] {
        let (checked_ok, n) = check_kernel(isa, 120, Some("depthwise"), |seed| {
            let mut rng = Rng::new(seed);
            let (c, h, w) = (rng.range(1, 40), rng.range(1, 20), rng.range(1, 31));
            let (kh, kw) = (rng.range(1, 5).min(h), rng.range(1, 7).min(w));
            // Sometimes side paddings wider than a vector (the scratch
            // rows' pitch must still hold an output row).
            let wide = rng.chance(20);
            let pads: Vec<i64> = (0..4)
                .map(|i| match i {
                    2 | 3 if wide => rng.range(0, 70),
                    _ => rng.range(0, if i < 2 { kh - 1 } else { kw - 1 }),
                })
                .collect();
            let (k2, halo) = (rng.range(1, 3), rng.range(0, 2));
            // Half the first stages with column stride 2 (rows of up to 8
            // pixels run two or four rows a chunk), any row stride.
            let stride = match rng.chance(50) {
                true => (rng.range(1, 3), 2),
                false => (1, 1),
            };
            let program = format!(
                "pipeline p {{
  input x: u8[{c}, {h}, {w}] pad {halo}
  param w: i8[{c}, 1, {kh}, {kw}] = random(seed: {})
  param v: i7[{c}, 1, {}, {}] = random(seed: {})
  param b: i16[{c}] = random(seed: {})
  const s: fixed<24, 1> = 0.00{}
  let y = round((conv(x, w, stride: {:?}, pad: ({}, {}, {}, {}), groups: {c}) + b) * s) as u8 sat
  let z = round((conv(y, v, pad: {}, groups: {c}) + b) * s) as u8 sat
  output z
}}
",
                seed * 3 + 1,
                2 * k2 + 1,
                2 * k2 + 1,
                seed * 3 + 2,
                seed * 3 + 3,
                rng.range(100, 999),
                stride,
                pads[0],
                pads[1],
                pads[2],
                pads[3],
                k2,
            );
            Some((program, Files::default()))
        });
        if convoy::jit::isa_supported(isa) {
            assert!(checked_ok > 60, "{isa:?}: only {checked_ok} checked");
            assert!(
                n > 100,
                "{isa:?}: only {n} stages ran on the depthwise kernel"
            );
        }
    }
}

/// 1x1 convolutions with a residual map added in the tail (MobileNetV2's
/// projections) on the pointwise kernel: residual maps signed or not,
/// with or without halos; inputs strided or with
/// halos; outputs with side halos (a padded depthwise stage reads them);
/// narrow and wide rows, jobs of 1 or 2 threads cutting rows.
#[test]
fn avx2_pointwise_residuals_match_the_interpreter() {
    for isa in [Isa::Avx2, Isa::Avx2Vnni] {
        // The pointwise stages whose tail adds the residual map.
        let residual =
            |s: &StageInfo| s.kernel == Some("pointwise") && s.label.matches('+').count() >= 2;
        let (checked_ok, n) = check_stages(isa, 160, residual, |seed| {
            Some((residual_program(seed), Files::default()))
        });
        if convoy::jit::isa_supported(isa) {
            assert!(checked_ok > 100, "{isa:?}: only {checked_ok} checked");
            assert!(
                n > 100,
                "{isa:?}: only {n} residual stages on the pointwise kernel"
            );
        }
    }
}

/// A random 1x1 convolution whose tail adds a residual map (see
/// [`avx2_pointwise_residuals_match_the_interpreter`]).
fn residual_program(seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let (cin, cout) = (rng.range(1, 40), rng.range(1, 40));
    let (sh, sw) = if rng.chance(25) {
        (rng.range(1, 3), rng.range(1, 2))
    } else {
        (1, 1)
    };
    let (oh, ow) = (
        rng.range(1, 12),
        if rng.chance(50) {
            rng.range(1, 20)
        } else {
            rng.range(1, 140)
        },
    );
    let (h, w) = ((oh - 1) * sh + 1, (ow - 1) * sw + 1);
    let x_halo = rng.range(0, 1);
    let conv = format!("conv(x, w, stride: ({sh}, {sw}))");
    let r_ty = *rng.pick(&["u8", "i8", "u6", "i5"]);
    // The residual map: the input, or a computed map that a padded
    // depthwise stage reads too (its rows get side halos).
    let (let_r, r, mut outputs) = if rng.chance(50) {
        let k = rng.range(0, 3);
        (
            format!(
                "  let r1 = max(r, {k})\n  let q = (conv(r1, d, pad: 1, groups: {cout}) >> 4) as u8 sat\n"
            ),
            "r1",
            vec!["q"],
        )
    } else {
        (String::new(), "r", vec![])
    };
    let (sum, out) = if rng.chance(50) {
        (
            format!("{r} + (({conv} + b) >> {}) as i8 sat", rng.range(4, 12)),
            "u8 sat",
        )
    } else {
        (
            format!(
                "{r} + round(({conv} + b) * s) as {}",
                rng.pick(&["i8 sat", "u8 sat", "i9 sat"])
            ),
            *rng.pick(&["i8 sat", "u8 sat", "u7 sat"]),
        )
    };
    // Sometimes a padded depthwise stage reads the sum: its rows get side
    // halos.
    outputs.push("y");
    let z = if rng.chance(40) {
        outputs.push("z");
        format!("  let z = (conv(y, d, pad: 1, groups: {cout}) >> 4) as u8 sat\n")
    } else {
        String::new()
    };
    let outputs = outputs.join(", ");
    format!(
        "pipeline p {{
  input x: u8[{cin}, {h}, {w}] pad {x_halo}
  input r: {r_ty}[{cout}, {oh}, {ow}]
  param w: i8[{cout}, {cin}, 1, 1] = random(seed: {})
  param b: i16[{cout}] = random(seed: {})
  param d: i8[{cout}, 1, 3, 3] = random(seed: {})
  const s: fixed<20, 1> = 0.{:04}
{let_r}  let y = ({sum}) as {out}
{z}  output {outputs}
}}
",
        seed * 3 + 1,
        seed * 3 + 2,
        seed * 3 + 3,
        rng.range(1, 9999)
    )
}

/// `count` programs of [`program_with`]`(seed, _, window)` under both AVX2
/// forms; on a CPU with the form, more than half must check and more than
/// `least` stages run on the kernel family `kernel`.
fn check_family(window: Window, kernel: &str, count: u64, least: usize) {
    let depthwise = window != Window::Strided1x1;
    for isa in [Isa::Avx2, Isa::Avx2Vnni] {
        let source = |seed| Some((program_with(seed, depthwise, window), Files::default()));
        let (checked_ok, n) = check_kernel(isa, count, Some(kernel), source);
        if convoy::jit::isa_supported(isa) {
            assert!(
                checked_ok as u64 > count / 2,
                "{isa:?}: only {checked_ok} checked"
            );
            assert!(
                n > least,
                "{isa:?}: only {n} stages ran on the {kernel} kernel"
            );
        }
    }
}

/// Products shifted by more than 32 bits (fractional inputs times a
/// 31-bit factor): the folded tail's high halves shift right too.
#[test]
fn avx2_tails_shifting_past_32_bits_match_the_interpreter() {
    let isa = Isa::Avx2;
    if tools::isa(isa).is_none() {
        return;
    }
    let mut failures = vec![];
    let mut avx2 = 0;
    for seed in 0..24u64 {
        let mut rng = Rng::new(seed);
        let c = rng.range(1, 12);
        let (cout, cin_g, k, groups) = if seed % 2 == 0 {
            (rng.range(1, 20), c, 1, 1)
        } else {
            (c, 1, 3, c)
        };
        let pad = if k == 3 { 1 } else { 0 };
        let src = format!(
            "pipeline p {{
  input x: ufixed<8, {}>[{c}, {}, {}] pad 1
  param w: i8[{cout}, {cin_g}, {k}, {k}] = random(seed: {})
  param b: i16[{cout}] = random(seed: {})
  const s: fixed<32, 1> = 0.{:04}
  let y = {}((conv(x, w, pad: {pad}, groups: {groups}) + b) * s) as {}
  output y
}}
",
            rng.range(1, 5),
            rng.range(3, 9),
            rng.range(3, 90),
            seed + 1,
            seed + 2,
            rng.range(100, 9999),
            rng.pick(&["round", "floor", "trunc"]),
            rng.pick(&["u8 sat", "i8 sat", "u6 sat"]),
        );
        let (checked, _) = compile("avx2.cnn", &src, &Files::default()).expect("checks");
        let program = &checked.program;
        let options = JitOptions {
            threads: 1 + (seed % 2) as usize,
            min_job: 1,
            isa,
            ..JitOptions::default()
        };
        let inputs = common::random_inputs(program, |_| seed);
        match common::jit_agrees(program, &inputs, &options) {
            Ok(stages) => avx2 += stages.iter().filter(|s| s.native).count(),
            Err(e) => failures.push(format!("seed {seed}: {e}\n{src}")),
        }
    }
    common::assert_no_failures(&failures);
    assert!(avx2 > 12, "only {avx2} stages ran on the AVX2 kernels");
}

/// `program` with its weights loaded from `w.npy`: i8 values mostly small
/// enough for exact `vpmaddubsw` pairs, `large`% of them beyond (pairs
/// that saturate unless split: `native::byte_pairs`). `None` for programs
/// without a `param w`.
fn with_trained_weights(src: &str, seed: u64, large: u64) -> Option<(String, Files)> {
    let line = src
        .lines()
        .find(|l| l.trim_start().starts_with("param w:"))?;
    let dims_text = &line[line.find('[')? + 1..line.find(']')?];
    let dims: Vec<usize> = (dims_text.split(','))
        .map(|d| d.trim().parse().ok())
        .collect::<Option<_>>()?;
    let mut rng = Rng::new(seed ^ 0x5eed);
    let values: Vec<i128> = (0..dims.iter().product::<usize>())
        .map(|_| {
            // Up to 32 on odd seeds: four weights of one sign fit a
            // 16-bit lane (`BytePairs::plan_summed_by` needs no rest).
            let magnitude = if rng.range(0, 99) < large as i64 {
                rng.range(65, 128)
            } else {
                rng.range(0, if seed % 2 == 1 { 32 } else { 48 })
            };
            let signed = if rng.chance(50) {
                -magnitude
            } else {
                magnitude
            };
            i128::from(signed.clamp(-128, 127))
        })
        .collect();
    let npy = convoy::data::write_npy(
        &dims,
        &convoy::data::NpyData::Int(values),
        convoy::data::Dtype::I8,
    );
    let decl = format!("  param w: i8[{dims_text}] = load(\"w.npy\")");
    let mut files = Files::default();
    files.0.insert("w.npy".to_string(), npy);
    Some((src.replace(line, &decl), files))
}

/// Weights like a trained network's (mostly small, some near the limits)
/// take `vpmaddubsw` pairs where few quads need a rest: pointwise and
/// direct convolutions, every share of large weights from none to a
/// third, 1 and 2 threads.
#[test]
fn byte_pair_weights_match_the_interpreter() {
    let (checked_ok, avx2) = check_sources(Isa::Avx2, 320, |seed| {
        // Pointwise (`pointwise_avx2`) and full, grouped and first-layer
        // convolutions (`conv_avx2`).
        use crate::jit_conv::{program as conv, Form};
        let base = match seed % 4 {
            0 | 1 => program(seed, false),
            2 => conv(seed, Form::Full),
            _ => conv(
                seed,
                [Form::Grouped, Form::FirstLayer][(seed / 4 % 2) as usize],
            ),
        };
        with_trained_weights(&base, seed, seed % 34)
    });
    if convoy::jit::isa_supported(Isa::Avx2) {
        assert!(checked_ok > 200, "only {checked_ok} checked");
        assert!(avx2 > 120, "only {avx2} stages on the AVX2 kernels");
    }
}

/// Roundings whose bias depends on the product's sign (`trunc`, `round`)
/// before a bias add that the clamp does not cover, so the folded AVX2
/// tail runs mirrored (`Folded::neg`, `Mirrored`): full, first-layer,
/// depthwise and pointwise convolutions, 1 and 2 threads.
#[test]
fn sign_dependent_roundings_fold_in_the_avx2_kernels() {
    use crate::jit_conv::{program as conv, Form};
    let tails = [
        "relu(b + trunc(CONV * f)) as u8 sat",
        "(trunc(CONV * f) + b) as i8 sat",
        "(round(CONV * f) + b) as u8 sat",
        "relu(b + trunc(CONV * f)) as u6 sat",
    ];
    let (checked_ok, avx2) = check_sources(Isa::Avx2, 160, |seed| {
        // Seeds `3 k` and `3 k + 1`: full, full, first-layer, depthwise.
        let form = [Form::Full, Form::FirstLayer, Form::Depthwise][(seed % 6 / 2) as usize];
        let base = if seed % 3 == 2 {
            program(seed, false)
        } else {
            conv(seed, form)
        };
        if base.contains("input r:") {
            return None;
        }
        // The convolution call of the program's `let y` line.
        let line = base
            .lines()
            .find(|l| l.trim_start().starts_with("let y ="))?;
        let start = line.find("conv(")?;
        let groups = start + line[start..].find("groups:")?;
        let end = groups + line[groups..].find(')')? + 1;
        let tail = tails[(seed / 3 % 4) as usize].replace("CONV", &line[start..end]);
        let src = base.replace(line, &format!("  let y = {tail}"));
        // The pointwise programs name their scale `s`.
        let src = if src.contains("const s:") {
            src.replace("* f)", "* s)")
        } else {
            src
        };
        // Post-adds of a byte's range take the mirrored fold (at most
        // 2^14: `Mirrored`); wider ones, every other seed, the general tail.
        let src = if seed / 12 % 2 == 0 {
            src.replace("param b: i16[", "param b: i8[")
                .replace("param b: i24[", "param b: i8[")
        } else {
            src
        };
        Some((src, Files::default()))
    });
    if convoy::jit::isa_supported(Isa::Avx2) {
        assert!(checked_ok > 60, "only {checked_ok} checked");
        assert!(avx2 > 40, "only {avx2} stages on the AVX2 kernels");
    }
}
