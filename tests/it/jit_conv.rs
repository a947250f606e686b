//! The direct convolution kernels (`jit::native::conv`) against the
//! interpreter: random full, grouped, first-layer and depthwise
//! convolutions with random kernels (up to 11 x 11), strides (1 to 4),
//! dilations, asymmetric paddings, channel counts that are no multiple of
//! the vector width, every tail form, 1 and 2 threads, under every forced
//! instruction set; narrow maps (outputs 1 to ~45 pixels wide) with many
//! output channels, whose register blocks end in partial channel blocks;
//! tall narrow maps (outputs up to 32 pixels wide, up to ~40 rows), whose
//! AVX-512 register blocks hold several output rows.

use crate::common::gen::{Rng, QUANT};
use crate::common::{self, compile, tools, Files};
use convoy::jit::{Isa, JitOptions};

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

/// What a random convolution is meant to exercise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Form {
    Full,
    Grouped,
    FirstLayer,
    Depthwise,
    Transposed,
    /// Full, output rows of 1 to ~45 pixels, 40 to 140 output channels.
    Narrow,
    /// Full or grouped, outputs up to 32 pixels wide and up to ~40 rows
    /// (several rows a register block, a partial block of rows at the end
    /// of each thread's share).
    Tall,
    /// Full or grouped, 16 to 70 output channels a group, outputs up to
    /// ~70 pixels wide: the AVX-512 kernel with output channels on the
    /// lanes (rows of up to 64 pixels, no multiple of 16), its partial
    /// pixel and channel blocks.
    Lanes,
    /// [`Form::Lanes`] with signed inputs (flipped by the repacking: their
    /// padding rows read as 128, no step of them skipped) and padding rows.
    LanesSigned,
    /// [`Form::Lanes`] with a folded tail of per-channel multipliers and
    /// no residual map: the lanes kernel's tail on the channel-lane sums.
    LanesFolded,
    /// One group of 32 to 128 input channels (runs of 8 to 16 channel
    /// quads), outputs 8 to 64 pixels wide: the AMX kernel where the
    /// host has the tiles (`convoy::jit::amx_supported`), its partial
    /// pixel tiles and channel blocks.
    Tiles,
    /// Full or grouped, outputs of 16 or 32 bits (a residual map added
    /// without a cast back to bytes half the time): the pixel-lane
    /// kernels' wide stores, also where the lanes kernel would take the
    /// shape.
    WideOut,
}

/// A random convolution of `form` with a random tail.
pub(crate) fn program(seed: u64, form: Form) -> String {
    let mut rng = Rng::new(seed);
    let big = rng.chance(10);
    let (kh, kw) = if big {
        (rng.range(5, 11), rng.range(5, 11))
    } else {
        (rng.range(1, 5), rng.range(1, 5))
    };
    let (sh, sw) = (rng.range(1, 4), rng.range(1, 4));
    let (dh, dw) = if rng.chance(25) {
        (rng.range(1, 3), rng.range(1, 3))
    } else {
        (1, 1)
    };
    let (groups, cin_g, cout_g) = match form {
        Form::Full => (1, rng.range(4, 24), rng.range(1, 40)),
        Form::Grouped => (rng.range(2, 4), rng.range(2, 9), rng.range(1, 10)),
        Form::FirstLayer => (1, rng.range(1, 4), rng.range(1, 40)),
        Form::Depthwise => (rng.range(1, 20), 1, 1),
        Form::Transposed => (rng.range(1, 3), rng.range(1, 9), rng.range(1, 12)),
        Form::Narrow => (1, rng.range(4, 40), rng.range(40, 140)),
        Form::Tiles => (1, *rng.pick(&[32, 40, 48, 64, 96, 128]), rng.range(1, 100)),
        Form::Tall => (rng.range(1, 2), rng.range(4, 20), rng.range(1, 30)),
        Form::Lanes | Form::LanesSigned | Form::LanesFolded | Form::WideOut => {
            (rng.range(1, 2), rng.range(1, 64), rng.range(16, 70))
        }
    };
    let (cin, cout) = (groups * cin_g, groups * cout_g);
    let wshape = if form == Form::Transposed {
        (cin, cout_g)
    } else {
        (cout, cin_g)
    };
    let (eh, ew) = ((kh - 1) * dh + 1, (kw - 1) * dw + 1);
    let mut pads: Vec<i64> = (0..4)
        .map(|i| rng.range(0, if i < 2 { kh - 1 } else { kw - 1 }))
        .collect();
    if form == Form::LanesSigned {
        pads[0] = pads[0].max(1);
        pads[1] = pads[1].max(1);
    }
    let (h, w) = if form == Form::Transposed {
        (rng.range(1, 10), rng.range(1, if big { 20 } else { 140 }))
    } else if form == Form::Narrow {
        (
            rng.range(eh.max(1), eh + 8),
            rng.range(ew.max(1), ew + 39 * sw),
        )
    } else if matches!(
        form,
        Form::Lanes | Form::LanesSigned | Form::LanesFolded | Form::WideOut
    ) {
        // Output width `(w + pad - ew) / sw + 1`: 1 to ~70.
        (
            rng.range(eh.max(1), eh + 6),
            rng.range(ew.max(1), ew + 69 * sw),
        )
    } else if form == Form::Tiles {
        // Output width `(w + pad - ew) / sw + 1`: 8 to 64.
        let ow = rng.range(8, 64);
        let w = ((ow - 1) * sw + ew - pads[2] - pads[3]).max(ew);
        (rng.range(eh.max(1), eh + 6), w)
    } else if form == Form::Tall {
        // Output width `(w + pad - ew) / sw + 1`: 1 to 32.
        (
            rng.range(eh.max(1), eh + 40 * sh),
            rng.range(ew.max(1), ew + 31 * sw),
        )
    } else {
        (
            rng.range(eh.max(1), eh + 12),
            rng.range(ew.max(1), if big { ew + 40 } else { ew + 150 }),
        )
    };
    let halo = rng.range(0, 2);
    // Signed inputs take the direct kernels' `x + 128` path (plain
    // convolutions only).
    let in_ty = if form == Form::Transposed {
        *rng.pick(&["u8", "u8", "u5", "ufixed<8, 3>"])
    } else if form == Form::LanesSigned {
        *rng.pick(&["i8", "fixed<8, 3>", "i4"])
    } else if form == Form::WideOut {
        // (Fractional inputs leave the tail forms the kernels take.)
        *rng.pick(&["u8", "u8", "u5", "i8"])
    } else {
        *rng.pick(&["u8", "u8", "u5", "ufixed<8, 3>", "i8", "fixed<8, 3>", "i4"])
    };
    let w_ty = *rng.pick(&["i8", "i8", "i5", "u7"]);
    let b_ty = *rng.pick(&["i16", "i8", "i24"]);
    let f = format!("fixed<{}, {}>", rng.range(12, 32), rng.range(1, 3));
    let m_ty = *rng.pick(&["i6", "u9", "fixed<16, 2>", "ufixed<20, 0>"]);
    // Multipliers whose raw values shifted to bit 32 stay 32-bit values,
    // so that the folded tail (`tail_avx512::Folded`) takes them.
    let m_ty = if form == Form::LanesFolded {
        *rng.pick(&["fixed<16, 0>", "fixed<10, 0>", m_ty])
    } else {
        m_ty
    };
    let conv = if form == Form::Transposed {
        format!(
            "deconv(x, w, stride: ({sh}, {sw}), pad: ({}, {}, {}, {}), output_pad: ({}, {}), dilation: ({dh}, {dw}), groups: {groups})",
            pads[0], pads[1], pads[2], pads[3],
            rng.range(0, sh.max(dh) - 1),
            rng.range(0, sw.max(dw) - 1),
        )
    } else {
        format!(
            "conv(x, w, stride: ({sh}, {sw}), pad: ({}, {}, {}, {}), dilation: ({dh}, {dw}), groups: {groups})",
            pads[0], pads[1], pads[2], pads[3]
        )
    };
    let sh_bits = rng.range(0, 14);
    let t = if form == Form::WideOut {
        format!("i{} sat", rng.pick(&[10, 12, 16, 20]))
    } else {
        target(&mut rng)
    };
    let q = *rng.pick(&QUANT);
    let expr = match rng.range(0, 8) {
        0 => format!("relu(b + trunc({conv} * f)) as {t}"),
        1 => format!("(relu({conv} + b) >> {sh_bits}) as {t}"),
        2 => format!("({conv} * f + b) as {t}"),
        3 => format!("max({conv} - b, {}) as {t}", rng.range(-50, 50)),
        4 => format!(
            "(min(relu({conv} + b), {}) * m >> {sh_bits}) as {t}",
            rng.range(0, 4000)
        ),
        5 => format!("round({conv} * m) as {t}"),
        6 => format!("floor(({conv} + b) * f) as {t}"),
        7 => format!("({conv} * f) as fixed<8, {}, {q}, sat>", rng.range(0, 8)),
        _ => format!("{conv} as {t}"),
    };
    // Sometimes a residual map of the output's shape joins the tail, as in
    // MobileNetV2 (`(x + p) as u8 sat`), after a saturating mid-chain cast.
    let expr = if form == Form::LanesFolded {
        let t = *rng.pick(&["u8 sat", "i8 sat", "u6 sat", "u8 sat"]);
        format!("round(({conv} + b) * m) as {t}")
    } else {
        expr
    };
    let folded = form == Form::LanesFolded;
    let residual_chance = if form == Form::WideOut { 50 } else { 30 };
    let (residual_input, expr) = if form != Form::Transposed
        && !folded
        && rng.chance(residual_chance)
    {
        let oh = (h + pads[0] + pads[1] - eh) / sh + 1;
        let ow = (w + pads[2] + pads[3] - ew) / sw + 1;
        let r_ty = *rng.pick(&["u8", "i8", "u6"]);
        let cast = *rng.pick(&["i8 sat", "u8 sat", "i9 sat"]);
        // A wide output keeps the sum's bits (`r + p` of two bytes is 9).
        let out_cast = if form == Form::WideOut {
            ""
        } else {
            " as u8 sat"
        };
        (
            format!("  input r: {r_ty}[{cout}, {oh}, {ow}]\n"),
            format!(
                "(r + ((conv(x, w, stride: ({sh}, {sw}), pad: ({}, {}, {}, {}), dilation: ({dh}, {dw}), groups: {groups}) + b) >> {}) as {cast}){out_cast}",
                pads[0], pads[1], pads[2], pads[3], rng.range(4, 12)
            ),
        )
    } else {
        (String::new(), expr)
    };
    format!(
        "pipeline p {{
  input x: {in_ty}[{cin}, {h}, {w}] pad {halo}
{residual_input}
  param w: {w_ty}[{}, {}, {kh}, {kw}] = random(seed: {})
  param b: {b_ty}[{cout}] = random(seed: {})
  param m: {m_ty}[{cout}] = random(seed: {})
  const f: {f} = 0.{:04}
  let y = {expr}
  output y
}}
",
        wshape.0,
        wshape.1,
        seed * 3 + 1,
        seed * 3 + 2,
        seed * 3 + 3,
        rng.range(1, 9999)
    )
}

/// Every instruction set the host can run, forced in turn.
fn isas() -> Vec<Isa> {
    [Isa::Avx512, Isa::Avx2, Isa::Avx2Vnni, Isa::Scalar]
        .into_iter()
        .filter(|&isa| convoy::jit::isa_supported(isa))
        .collect()
}

/// Runs `count` random programs of `form` under every forced instruction
/// set; returns how many stages ran on a native kernel per set.
fn check_form(form: Form, count: u64) -> Vec<(Isa, usize)> {
    let mut failures = vec![];
    let mut native = vec![];
    let mut checked_ok = 0;
    // The forms the AMX kernel may take run under AVX-512 with the tiles
    // and without them (the `vpdpbusd` kernels they replace).
    let tiles = matches!(
        form,
        Form::Lanes | Form::LanesSigned | Form::LanesFolded | Form::WideOut | Form::Tiles
    );
    let runs = isas().into_iter().flat_map(|isa| match isa {
        Isa::Avx512 if tiles => vec![(isa, true), (isa, false)],
        _ => vec![(isa, true)],
    });
    for (isa, amx) in runs {
        let mut n = 0;
        for seed in 0..count {
            let src = program(seed, form);
            let Ok((checked, _)) = compile("conv.cnn", &src, &Files::default()) else {
                continue;
            };
            checked_ok += 1;
            let program = &checked.program;
            let options = JitOptions {
                threads: 1 + (seed % 2) as usize,
                min_job: 1,
                isa,
                amx,
                ..JitOptions::default()
            };
            let inputs = common::random_inputs(program, |_| seed);
            match common::jit_agrees(program, &inputs, &options) {
                Ok(stages) => n += stages.iter().filter(|s| s.native).count(),
                Err(e) => failures.push(format!("{isa:?} amx {amx} seed {seed}: {e}\n{src}")),
            }
        }
        native.push((isa, n));
    }
    eprintln!("{form:?}: {checked_ok} programs, native stages per isa {native:?}");
    common::assert_no_failures(&failures);
    assert!(
        checked_ok as u64 > count / 2,
        "only {checked_ok} programs checked"
    );
    native
}

/// The kernels ran on most programs of a form, where the host has them.
fn assert_kernels_ran(native: &[(Isa, usize)], count: u64) {
    for &(isa, n) in native {
        match isa {
            Isa::Scalar => assert_eq!(n, 0, "no native stage may run with --isa scalar"),
            Isa::Avx512 if tools::avx512_kernels().is_some() => {
                assert!(
                    n as u64 > count / 3,
                    "only {n} stages ran on {isa:?} kernels"
                )
            }
            _ => {}
        }
    }
}

#[test]
fn full_convolutions_match_the_interpreter() {
    assert_kernels_ran(&check_form(Form::Full, 120), 120);
}

#[test]
fn grouped_convolutions_match_the_interpreter() {
    assert_kernels_ran(&check_form(Form::Grouped, 120), 120);
}

#[test]
fn first_layers_match_the_interpreter() {
    assert_kernels_ran(&check_form(Form::FirstLayer, 120), 120);
}

#[test]
fn depthwise_convolutions_match_the_interpreter() {
    assert_kernels_ran(&check_form(Form::Depthwise, 120), 120);
}

#[test]
fn transposed_convolutions_match_the_interpreter() {
    let native = check_form(Form::Transposed, 120);
    assert_kernels_ran(&native, 120);
    // The AVX2 direct kernel takes the transposed convolutions of two input
    // channels a group or more (about half of these programs).
    for &(isa, n) in &native {
        if isa.is_avx2() && tools::isa(isa).is_some() {
            assert!(n > 30, "only {n} transposed stages ran on {isa:?} kernels");
        }
    }
}

#[test]
fn narrow_maps_with_many_channels_match_the_interpreter() {
    assert_kernels_ran(&check_form(Form::Narrow, 80), 80);
}

#[test]
fn channel_lane_blocks_match_the_interpreter() {
    assert_kernels_ran(&check_form(Form::Lanes, 100), 100);
}

#[test]
fn signed_channel_lane_blocks_match_the_interpreter() {
    assert_kernels_ran(&check_form(Form::LanesSigned, 60), 60);
}

#[test]
fn folded_channel_lane_blocks_match_the_interpreter() {
    assert_kernels_ran(&check_form(Form::LanesFolded, 80), 80);
}

#[test]
fn wide_outputs_match_the_interpreter_on_the_kernels() {
    let native = check_form(Form::WideOut, 80);
    // Every program but the few with signed or 4-bit inputs on AVX2 runs
    // on the kernels (a wide output once fell to scalar code wherever the
    // channel-lane kernel would have taken the shape).
    for &(isa, n) in &native {
        if isa != Isa::Scalar && tools::isa(isa).is_some() {
            assert!(n > 65, "only {n} wide-output stages ran on {isa:?} kernels");
        }
    }
}

/// The AMX kernel against the interpreter: random full convolutions of
/// 32 to 128 input channels on rows of 8 to 64 pixels, 1 and 2 threads
/// (cut into rows or channel slices), with tiles and without.
#[test]
fn amx_tiles_match_the_interpreter() {
    let count = 100;
    assert_kernels_ran(&check_form(Form::Tiles, count), count);
    if !convoy::jit::amx_supported() {
        eprintln!("no AMX-INT8 on this host (or the OS refused the tile state): tiles not run");
        return;
    }
    // The tiles take what the channel-lane kernel would (rows no multiple
    // of 16, byte outputs, enough idle lanes in pixel vectors): 40 of these
    // 100 when written.
    let mut amx = 0;
    for seed in 0..count {
        let src = program(seed, Form::Tiles);
        let Ok((checked, _)) = compile("conv.cnn", &src, &Files::default()) else {
            continue;
        };
        let options = JitOptions {
            isa: Isa::Avx512,
            ..JitOptions::default()
        };
        let jit = convoy::compile_jit(&checked.program, &options).expect("compiles");
        amx += jit
            .stages()
            .iter()
            .filter(|s| s.kernel == Some("direct amx"))
            .count();
    }
    assert!(
        amx > count as usize / 3,
        "only {amx} stages ran on AMX tiles"
    );
}

#[test]
fn tall_narrow_maps_match_the_interpreter() {
    assert_kernels_ran(&check_form(Form::Tall, 100), 100);
}
