//! The row kernels (`jit::native::rowwise`: max-pooling, nearest and
//! bilinear upsampling) against the interpreter: random kernels, strides,
//! paddings (asymmetric, padding that never wins on signed values),
//! factors, widths not a multiple of any vector width, element types of one
//! to four bytes, halos, requantization tails in every rounding and
//! overflow mode, maps large enough to be split across two threads. The
//! kernels are safe code on every host, so the checks that they ran hold
//! everywhere.

use crate::common::gen::{Rng, QUANT};
use crate::common::{self, compile, Files};
use convoy::jit::JitOptions;
use convoy::Isa;

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

/// One pooling or upsampling stage, alone or with a tail.
fn program(seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let kind = rng.range(0, 3);
    let big = rng.chance(25);
    let (c, h, w) = if big {
        (rng.range(4, 12), rng.range(40, 70), rng.range(60, 130))
    } else {
        (rng.range(1, 9), rng.range(1, 20), rng.range(1, 150))
    };
    let types: &[&str] = if kind == 2 {
        &["u8", "i8", "u5", "i16", "u12", "i32", "fixed<8, 2>"]
    } else {
        &["u8", "u8", "i8", "u5", "ufixed<8, 3>", "fixed<8, 2>"]
    };
    let in_ty = *rng.pick(types);
    let halo = rng.range(0, 2);
    let core = match kind {
        0 | 1 => {
            let (kh, kw) = (rng.range(1, 4), rng.range(1, 4));
            let (sh, sw) = (rng.range(1, 3), rng.range(1, 3));
            let pads: Vec<i64> = [kh, kh, kw, kw]
                .iter()
                .map(|&k| rng.range(0, k - 1))
                .collect();
            let args = format!(
                "({kh}, {kw}), stride: ({sh}, {sw}), pad: ({}, {}, {}, {})",
                pads[0], pads[1], pads[2], pads[3]
            );
            if kind == 1 {
                // Values and indices: two stages of one window scan.
                return format!(
                    "pipeline p {{
  input x: {in_ty}[{c}, {h}, {w}] pad {halo}
  let (v, i) = maxpool(x, {args}, indices: true)
  output v, i
}}
"
                );
            }
            format!("maxpool(x, {args})")
        }
        2 => format!(
            "upsample(x, ({}, {}), nearest)",
            rng.range(1, 4),
            rng.range(1, 4)
        ),
        _ => format!(
            "upsample(x, ({}, {}), bilinear)",
            rng.pick(&[1, 2, 4]),
            rng.pick(&[1, 2, 4])
        ),
    };
    let t = target(&mut rng);
    let sh = rng.range(0, 6);
    let expr = match rng.range(0, 6) {
        0 | 1 => core,
        2 => format!("round(({core} + b) * f) as {t}"),
        3 => format!("(relu({core} - b) >> {sh}) as {t}"),
        4 => format!("max({core} * m, {}) as {t}", rng.range(-20, 20)),
        5 => format!("floor({core} * f) as {t}"),
        _ => format!("{core} as {t}"),
    };
    format!(
        "pipeline p {{
  input x: {in_ty}[{c}, {h}, {w}] pad {halo}
  param b: i8[{c}] = random(seed: {})
  param m: i6[{c}] = random(seed: {})
  const f: fixed<16, 1> = 0.{:04}
  let y = {expr}
  output y
}}
",
        seed * 2 + 1,
        seed * 2 + 2,
        rng.range(1, 9999)
    )
}

/// A concatenation, a tail on one buffer, or two buffers added,
/// subtracted or compared, with or without a tail.
fn mixed_program(seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let (h, w) = if rng.chance(25) {
        (rng.range(40, 70), rng.range(60, 130))
    } else {
        (rng.range(1, 20), rng.range(1, 150))
    };
    let (c1, c2) = (rng.range(1, 9), rng.range(1, 9));
    let types = [
        "u8",
        "i8",
        "u5",
        "ufixed<8, 3>",
        "i16",
        "u12",
        "fixed<8, 2>",
    ];
    let (t1, t2) = (*rng.pick(&types), *rng.pick(&types));
    let kind = rng.range(0, 2);
    let c = if kind == 0 { c1 + c2 + c1 } else { c1 };
    let t2 = if kind == 2 && rng.chance(70) { t1 } else { t2 };
    let c2 = if kind == 0 { c2 } else { c1 };
    let core = match kind {
        0 => "concat(x, y, x)".to_string(),
        1 => "x".to_string(),
        _ => rng
            .pick(&["x + y", "x - y", "max(x, y)", "min(x, y)"])
            .to_string(),
    };
    let t = target(&mut rng);
    let sh = rng.range(0, 6);
    let expr = match rng.range(if kind == 1 { 2 } else { 0 }, 7) {
        0 | 1 => core,
        2 => format!("round(({core} + b) * f) as {t}"),
        3 => format!("(relu({core} - b) >> {sh}) as {t}"),
        4 => format!("max({core} * m, {}) as {t}", rng.range(-20, 20)),
        5 => format!("floor({core} * f) as {t}"),
        _ => format!("relu({core}) as {t}"),
    };
    format!(
        "pipeline p {{
  input x: {t1}[{c1}, {h}, {w}] pad {}
  input y: {t2}[{c2}, {h}, {w}]
  param b: i8[{c}] = random(seed: {})
  param m: i6[{c}] = random(seed: {})
  const f: fixed<16, 1> = 0.{:04}
  let z = {expr}
  output z
}}
",
        rng.range(0, 1),
        seed * 2 + 1,
        seed * 2 + 2,
        rng.range(1, 9999)
    )
}

#[test]
fn concat_and_elementwise_row_kernels_match_the_interpreter() {
    let mut failures = vec![];
    let (mut checked_ok, mut split) = (0, 0);
    let mut kinds = [0; 3];
    for seed in 0..600 {
        let src = mixed_program(seed);
        let Ok((checked, _)) = compile("mixed.cnn", &src, &Files::default()) else {
            continue;
        };
        checked_ok += 1;
        let program = &checked.program;
        let threads = 1 + (seed % 2) as usize;
        let options = JitOptions {
            threads,
            min_job: 1,
            ..JitOptions::default()
        };
        let inputs = common::random_inputs(program, |k| seed * 7 + k as u64);
        match common::jit_agrees(program, &inputs, &options) {
            Ok(stages) => {
                for s in stages.iter().filter(|s| s.row_kernel) {
                    let out = program.outputs[0].node;
                    if threads == 2 && program.nodes[out].shape.len() >= 40_000 {
                        split += 1;
                    }
                    let k = if s.label.contains("concat") {
                        0
                    } else if ["x + y", "x - y", "max", "min"]
                        .iter()
                        .any(|o| src.contains(o))
                    {
                        2
                    } else {
                        1
                    };
                    kinds[k] += 1;
                }
            }
            Err(e) => failures.push(format!("seed {seed}: {e}\n{src}")),
        }
    }
    common::assert_no_failures(&failures);
    assert!(checked_ok > 300, "only {checked_ok} programs checked");
    assert!(
        kinds.iter().all(|&n| n > 40),
        "row kernels per kind (concat, one buffer, two buffers): {kinds:?}"
    );
    assert!(
        split > 8,
        "only {split} row stages split across two threads"
    );
}

#[test]
fn row_kernels_match_the_interpreter() {
    let mut failures = vec![];
    let (mut checked_ok, mut rows, mut split) = (0, 0, 0);
    let mut kinds = [0; 4];
    for seed in 0..700 {
        let src = program(seed);
        let checked = match compile("rows.cnn", &src, &Files::default()) {
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
        let threads = 1 + (seed % 2) as usize;
        // Every other pair of seeds on the kernels' AVX2 copy.
        let isa = if seed % 4 >= 2 { Isa::Avx2 } else { Isa::Auto };
        let options = JitOptions {
            threads,
            min_job: 1,
            isa,
            ..JitOptions::default()
        };
        let inputs = common::random_inputs(program, |_| seed);
        match common::jit_agrees(program, &inputs, &options) {
            Ok(stages) => {
                for s in stages.iter().filter(|s| s.row_kernel) {
                    rows += 1;
                    let out = &program.outputs[0].node;
                    if threads == 2 && program.nodes[*out].shape.len() >= 40_000 {
                        split += 1;
                    }
                    let k = ["indices", "maxpool", "nearest", "bilinear"]
                        .iter()
                        .position(|k| s.label.contains(k))
                        .unwrap_or(0);
                    kinds[k] += 1;
                }
            }
            Err(e) => failures.push(format!("seed {seed}: {e}\n{src}")),
        }
    }
    common::assert_no_failures(&failures);
    assert!(checked_ok > 500, "only {checked_ok} programs checked");
    assert!(rows > 450, "only {rows} stages ran on the row kernels");
    assert!(
        kinds.iter().all(|&n| n > 60),
        "row kernels per kind (indices, maxpool, nearest, bilinear): {kinds:?}"
    );
    assert!(
        split > 20,
        "only {split} row stages split across two threads"
    );
}

/// The stages of the examples that the row kernels exist for run on them.
#[test]
fn example_pooling_and_upsampling_run_on_the_row_kernels() {
    let mut seen = 0;
    for name in [
        "unet",
        "segnet",
        "bilinear",
        "encoder_decoder",
        "unpool",
        "resize_conv",
    ] {
        let path = common::root().join(format!("examples/{name}.cnn"));
        let src = std::fs::read_to_string(&path).expect("read the example");
        let dir = path.parent().expect("folder").to_path_buf();
        let (checked, _) =
            compile(&format!("{name}.cnn"), &src, &common::Folder(dir)).expect("checks");
        let jit = convoy::compile_jit(&checked.program, &JitOptions::default()).expect("compiles");
        for s in jit.stages() {
            if s.label.starts_with("maxpool") || s.label.starts_with("upsample") {
                assert!(
                    s.row_kernel,
                    "{name}: `{}` ({}) is not on a row kernel",
                    s.name, s.label
                );
                seen += 1;
            }
        }
    }
    assert!(
        seen >= 9,
        "only {seen} pooling and upsampling stages in the examples"
    );
}

/// Pooling with indices then unpooling (the scatter kernel), random
/// kernels, types and map sizes, 1 and 2 threads.
#[test]
fn unpool_row_kernel_matches_the_interpreter() {
    let mut failures = vec![];
    let mut unpools = 0;
    for seed in 0..200u64 {
        let mut rng = Rng::new(seed ^ 0x5eed);
        let k = rng.range(1, 3);
        let s = rng.range(1, k);
        let (c, oh, ow) = if rng.chance(25) {
            (rng.range(4, 10), rng.range(20, 40), rng.range(30, 70))
        } else {
            (rng.range(1, 6), rng.range(1, 12), rng.range(1, 40))
        };
        let (h, w) = ((oh - 1) * s + k, (ow - 1) * s + k);
        let ty = *rng.pick(&["u8", "i8", "i12", "ufixed<8, 3>", "u16"]);
        let src = format!(
            "pipeline p {{
  input x: {ty}[{c}, {h}, {w}] pad {}
  let (v, i) = maxpool(x, {k}, stride: {s}, indices: true)
  let u = maxunpool(v, i, {k}, stride: {s})
  output u
}}
",
            rng.range(0, 1)
        );
        let Ok((checked, _)) = compile("unpool.cnn", &src, &Files::default()) else {
            failures.push(format!("seed {seed}: does not check\n{src}"));
            continue;
        };
        let program = &checked.program;
        let options = JitOptions {
            threads: 1 + (seed % 2) as usize,
            min_job: 1,
            ..JitOptions::default()
        };
        let inputs = common::random_inputs(program, |_| seed);
        match common::jit_agrees(program, &inputs, &options) {
            Ok(stages) => {
                unpools += stages
                    .iter()
                    .filter(|s| s.row_kernel && s.label.contains("maxunpool"))
                    .count()
            }
            Err(e) => failures.push(format!("seed {seed}: {e}\n{src}")),
        }
    }
    common::assert_no_failures(&failures);
    assert!(
        unpools > 150,
        "only {unpools} unpools ran on the row kernel"
    );
}

/// An index outside the plane (only a program the checker would refuse
/// has one): the JIT reports what the interpreter reports, on 1 and 2
/// threads, on the row kernel and on Cranelift's code.
#[test]
fn unpool_index_outside_the_plane_is_the_interpreters_error() {
    let src = "pipeline p {
  input x: u8[6, 40, 64]
  input z: u16[6, 20, 32]
  let (v, i) = maxpool(x, 2, indices: true)
  let u = maxunpool(v, i, 2)
  output u
}
";
    let (checked, _) = compile("bad_unpool.cnn", src, &Files::default()).expect("checks");
    let mut program = checked.program.clone();
    let z = program.inputs[1].node;
    for node in &mut program.nodes {
        if let convoy::ir::Op::MaxUnpool { idx, .. } = &mut node.op {
            *idx = z;
        }
    }
    let mut inputs = common::random_inputs(&program, |k| k as u64 + 3);
    // Indices inside the 40 x 64 plane, except three: the first of them
    // (in C order) is the one reported.
    let plane = 20 * 32;
    for (k, v) in inputs[1].data.iter_mut().enumerate() {
        *v = (k * 7 % 2560) as i128;
    }
    for k in [2 * plane + 300, 2 * plane + 7, 5 * plane] {
        inputs[1].data[k] = 3000;
    }
    let expected = convoy::interpret(&program, &inputs);
    for (threads, native) in [(1, true), (2, true), (1, false), (2, false)] {
        let options = JitOptions {
            threads,
            min_job: 1,
            native,
            ..JitOptions::default()
        };
        let jit = convoy::compile_jit(&program, &options).expect("compiles");
        if native {
            assert!(jit
                .stages()
                .iter()
                .any(|s| s.row_kernel && s.label.contains("maxunpool")));
        }
        let got = jit.run(&inputs).map_err(|e| e.to_string());
        assert_eq!(
            got,
            expected.clone().map_err(|e| e.to_string()),
            "{threads} threads, native {native}"
        );
    }
}

/// A rearrangement alone on a random input, as an output (no tail): the
/// row kernel of `jit::native::rowwise::remap`.
fn remap_program(seed: u64) -> String {
    let mut rng = Rng::new(seed ^ 0x5EED);
    let ty = *rng.pick(&[
        "u8",
        "i8",
        "i12",
        "u16",
        "i32",
        "fixed<8, 3>",
        "fixed<40, 12>",
    ]);
    let r = *rng.pick(&[1, 2, 2, 3]);
    let (c, h, w) = (
        rng.range(1, 4) * r * r,
        rng.range(1, 20) * r,
        rng.range(1, 40) * r,
    );
    let halo = if rng.chance(30) { " pad 1" } else { "" };
    let call = match rng.range(0, 6) {
        0 => format!(
            "depth_to_space(x, {r}, mode: {})",
            rng.pick(&["dcr", "crd"])
        ),
        1 => format!("space_to_depth(x, {r})"),
        2 => "flatten(x)".to_string(),
        3 => format!("reshape(x, [{}, {}, {}])", c * h, 1, w),
        4 => {
            let (y0, x0) = (rng.range(0, h - 1), rng.range(0, w - 1));
            format!(
                "slice(x, channels: {}.., rows: {y0}.., cols: {x0}..{w})",
                c - 1
            )
        }
        _ => format!(
            "pad(x, ({}, {}, {}, {}), value: {})",
            rng.range(0, 3),
            rng.range(0, 3),
            rng.range(0, 3),
            rng.range(0, 3),
            if ty.starts_with('u') { 1 } else { -1 }
        ),
    };
    format!(
        "pipeline g {{\n  input x: {ty}[{c}, {h}, {w}]{halo}\n  let y = {call}\n  output y\n}}\n"
    )
}

#[test]
fn rearrangement_row_kernels_match_the_interpreter() {
    let mut failures = vec![];
    let mut kinds = std::collections::BTreeMap::new();
    for seed in 0..300 {
        let src = remap_program(seed);
        let (checked, _) =
            compile("remap.cnn", &src, &Files::default()).unwrap_or_else(|e| panic!("{src}\n{e}"));
        let program = &checked.program;
        let options = JitOptions {
            threads: 1 + (seed % 2) as usize,
            min_job: 1,
            ..JitOptions::default()
        };
        let inputs = common::random_inputs(program, |_| seed);
        match common::jit_agrees(program, &inputs, &options) {
            Ok(stages) => {
                for s in &stages {
                    if !s.row_kernel {
                        failures.push(format!(
                            "seed {seed}: `{}` not on a row kernel\n{src}",
                            s.label
                        ));
                    }
                    let kind = s.label.split(' ').next().unwrap_or("").to_string();
                    *kinds.entry(kind).or_insert(0) += 1;
                }
            }
            Err(e) => failures.push(format!("seed {seed}: {e}\n{src}")),
        }
    }
    common::assert_no_failures(&failures);
    assert_eq!(kinds.len(), 6, "{kinds:?}");
    assert!(kinds.values().all(|&n| n > 25), "{kinds:?}");
}

/// One average pooling (`avgpool` with any window, stride, padding and
/// count mode, or `global_avgpool`), alone or with a tail.
fn avgpool_program(seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let big = rng.chance(25);
    let (c, h, w) = if big {
        (rng.range(4, 12), rng.range(40, 70), rng.range(60, 130))
    } else {
        (rng.range(1, 9), rng.range(1, 20), rng.range(1, 150))
    };
    let in_ty = *rng.pick(&["u8", "u8", "i8", "u5", "ufixed<8, 3>", "fixed<8, 2>"]);
    let halo = rng.range(0, 2);
    // Many tiny planes: `global_avgpool` sums 64 channels per batch.
    let (c, h, w) = if rng.chance(10) {
        (rng.range(65, 140), rng.range(1, 8), rng.range(1, 12))
    } else {
        (c, h, w)
    };
    let core = if rng.chance(20) {
        String::from("global_avgpool(x)")
    } else {
        let (kh, kw) = (rng.range(1, 4).min(h), rng.range(1, 4).min(w));
        let (sh, sw) = (rng.range(1, 3), rng.range(1, 3));
        let pads: Vec<i64> = [kh, kh, kw, kw]
            .iter()
            .map(|&k| rng.range(0, k - 1))
            .collect();
        let include = *rng.pick(&["true", "false"]);
        format!(
            "avgpool(x, ({kh}, {kw}), stride: ({sh}, {sw}), pad: ({}, {}, {}, {}), \
             count_include_pad: {include})",
            pads[0], pads[1], pads[2], pads[3]
        )
    };
    let t = target(&mut rng);
    let expr = match rng.range(0, 4) {
        0 | 1 => core,
        2 => format!("round(({core} + b) * f) as {t}"),
        _ => format!("({core} - b) as {t}"),
    };
    format!(
        "pipeline p {{
  input x: {in_ty}[{c}, {h}, {w}] pad {halo}
  param b: i8[{c}] = random(seed: {})
  const f: fixed<16, 1> = 0.{:04}
  let y = {expr}
  output y
}}
",
        seed * 2 + 1,
        rng.range(1, 9999)
    )
}

/// Average pooling on the row kernels, bit-exact with the interpreter: the
/// window sums, the counts' map of `count_include_pad: false` and the
/// rounded division (ties to even), 1 and 2 threads, AVX-512 and AVX2.
#[test]
fn avgpool_row_kernel_matches_the_interpreter() {
    let mut failures = vec![];
    let (mut checked_ok, mut rows, mut split) = (0, 0, 0);
    for seed in 0..400 {
        let src = avgpool_program(seed);
        let checked = match compile("avgpool.cnn", &src, &Files::default()) {
            Ok((c, _)) => c,
            // Some random tails are rightly rejected (an unproven `as`).
            Err(_) => continue,
        };
        checked_ok += 1;
        let program = &checked.program;
        let threads = 1 + (seed % 2) as usize;
        let isa = if seed % 4 >= 2 { Isa::Avx2 } else { Isa::Auto };
        let options = JitOptions {
            threads,
            min_job: 1,
            isa,
            ..JitOptions::default()
        };
        let inputs = common::random_inputs(program, |_| seed);
        match common::jit_agrees(program, &inputs, &options) {
            Ok(stages) => {
                let pooled = stages
                    .iter()
                    .filter(|s| s.row_kernel && s.label.contains("avgpool"))
                    .count();
                rows += pooled;
                let out = &program.outputs[0].node;
                if pooled > 0 && threads == 2 && program.nodes[*out].shape.len() >= 4_000 {
                    split += 1;
                }
            }
            Err(e) => failures.push(format!("seed {seed}: {e}\n{src}")),
        }
    }
    common::assert_no_failures(&failures);
    assert!(checked_ok > 250, "only {checked_ok} programs checked");
    assert!(
        rows > 200,
        "only {rows} average poolings ran on the row kernels"
    );
    assert!(
        split > 10,
        "only {split} row stages split across two threads"
    );
}

/// `pad` alone, on the row kernel's AVX-512 and AVX2 copies: pads from
/// none to wider than a 64-byte chunk on each side, widths around and past
/// 64 bytes, any fill value; byte maps stored back to back in and out run
/// on `rows_pad` (planes of several 64-byte blocks, jobs cutting them).
#[test]
fn pad_row_kernel_matches_the_interpreter() {
    let mut failures = vec![];
    for seed in 0..240 {
        let mut rng = Rng::new(seed ^ 0xBAD);
        let (ty, fill) = *rng.pick(&[
            ("u8", (0, 255)),
            ("i8", (-128, 127)),
            ("u16", (0, 65535)),
            ("i32", (-100_000, 100_000)),
            ("fixed<40, 12>", (-1000, 1000)),
        ]);
        let mut pad = || match rng.range(0, 3) {
            0 => 0,
            1 => rng.range(1, 3),
            _ => rng.range(60, 70),
        };
        let pads = [pad(), pad(), pad(), pad()];
        let (c, h, w) = if rng.chance(30) {
            (rng.range(1, 40), rng.range(1, 40), rng.range(1, 70))
        } else {
            (rng.range(1, 3), rng.range(1, 6), rng.range(1, 140))
        };
        let value = rng.range(fill.0, fill.1);
        let halo = if rng.chance(30) { " pad 1" } else { "" };
        // A padded max pooling after it gives the pad's rows a halo: rows
        // not back to back, filled one by one.
        let tail = if rng.chance(30) {
            "let z = maxpool(y, 3, stride: 1, pad: 1)\n  output z"
        } else {
            "output y"
        };
        let src = format!(
            "pipeline g {{\n  input x: {ty}[{c}, {h}, {w}]{halo}\n  \
             let y = pad(x, ({}, {}, {}, {}), value: {value})\n  {tail}\n}}\n",
            pads[0], pads[1], pads[2], pads[3]
        );
        let (checked, _) =
            compile("pad.cnn", &src, &Files::default()).unwrap_or_else(|e| panic!("{src}\n{e}"));
        let program = &checked.program;
        let isa = if seed % 4 >= 2 { Isa::Avx2 } else { Isa::Auto };
        let options = JitOptions {
            threads: 1 + (seed % 2) as usize,
            min_job: 1,
            isa,
            ..JitOptions::default()
        };
        let inputs = common::random_inputs(program, |_| seed);
        match common::jit_agrees(program, &inputs, &options) {
            Ok(stages) => {
                // The pad (the pooling after it may run elsewhere).
                let pad = stages.iter().find(|s| s.label.starts_with("pad"));
                if !pad.is_some_and(|s| s.row_kernel) {
                    failures.push(format!("seed {seed}: not on a row kernel\n{src}"));
                }
            }
            Err(e) => failures.push(format!("seed {seed}: {e}\n{src}")),
        }
    }
    common::assert_no_failures(&failures);
}

/// Max pooling and nearest upsampling without a tail: the kernels of their
/// own in `machine::rows` (AVX-512, with and without VBMI, and AVX2
/// copies; several narrow rows per vector in `rows_narrow`). Windows up
/// to 7 columns (or 13) and 4 rows, strides up to 3, any padding, factors
/// up to 3, widths from 1 to past two 64-output chunks, tiny planes and
/// many channels, halos, 1 and 2 threads.
#[test]
fn strided_max_pool_and_doubling_kernels_match_the_interpreter() {
    let mut failures = vec![];
    let (mut pools, mut doublings) = (0, 0);
    for seed in 0..500 {
        let mut rng = Rng::new(seed ^ 0x5712);
        let ty = *rng.pick(&["u8", "i8", "u5", "fixed<8, 2>", "ufixed<8, 3>"]);
        let (c, h, w) = match rng.range(0, 3) {
            0 => (rng.range(1, 3), rng.range(1, 4), rng.range(1, 9)),
            1 => (rng.range(30, 70), rng.range(1, 9), rng.range(1, 40)),
            _ => (rng.range(1, 6), rng.range(1, 30), rng.range(1, 300)),
        };
        let halo = rng.range(0, 2);
        let core = if rng.chance(70) {
            let kw = if rng.chance(10) { 13 } else { rng.range(1, 7) };
            let (kh, sh, sw) = (rng.range(1, 4), rng.range(1, 3), rng.range(1, 3));
            let pads: Vec<i64> = [kh, kh, kw, kw]
                .iter()
                .map(|&k| rng.range(0, k - 1))
                .collect();
            format!(
                "maxpool(x, ({kh}, {kw}), stride: ({sh}, {sw}), pad: ({}, {}, {}, {}))",
                pads[0], pads[1], pads[2], pads[3]
            )
        } else {
            let fw = if rng.chance(60) { 2 } else { rng.range(1, 3) };
            format!("upsample(x, ({}, {fw}), nearest)", rng.range(1, 3))
        };
        let src = format!(
            "pipeline p {{\n  input x: {ty}[{c}, {h}, {w}] pad {halo}\n  let y = {core}\n  output y\n}}\n"
        );
        // Some windows are wider than the padded input: rightly rejected.
        let Ok((checked, _)) = compile("s2.cnn", &src, &Files::default()) else {
            continue;
        };
        let program = &checked.program;
        let isa = if seed % 4 >= 2 { Isa::Avx2 } else { Isa::Auto };
        let options = JitOptions {
            threads: 1 + (seed % 2) as usize,
            min_job: 1,
            isa,
            ..JitOptions::default()
        };
        let inputs = common::random_inputs(program, |_| seed);
        match common::jit_agrees(program, &inputs, &options) {
            Ok(stages) => match stages.iter().find(|s| s.row_kernel) {
                Some(s) if s.label.contains("maxpool") => pools += 1,
                Some(_) => doublings += 1,
                None => failures.push(format!("seed {seed}: not on a row kernel\n{src}")),
            },
            Err(e) => failures.push(format!("seed {seed}: {e}\n{src}")),
        }
    }
    common::assert_no_failures(&failures);
    assert!(
        pools > 150 && doublings > 80,
        "{pools} poolings, {doublings} upsamplings checked"
    );
}
