//! Depthwise -> pointwise pairs run band by band (`native::BandPair`,
//! `CompiledPipeline::set_fusion`) against the interpreter: random channel
//! counts and maps, depthwise strides 1 and 2, kernels of 1 to 5 rows,
//! paddings from the input's halo or at the borders of a pipeline input,
//! bands of any number of rows (the last one short), 1 and 2 threads,
//! AVX-512 and forced AVX2; and the intermediate also read elsewhere (an
//! output, another stage's operand), where the pair must not be fused.

use crate::common::gen::Rng;
use crate::common::{self, compile, tools, Files};
use convoy::jit::{Fusion, Isa, JitOptions};

/// A random tail of `conv` ending in `as {ty}`.
fn tail(rng: &mut Rng, conv: &str, ty: &str) -> String {
    match rng.range(0, 4) {
        0 => format!("round(({conv} + b{{}}) * s{{}}) as {ty}"),
        1 => format!("relu(b{{}} + trunc({conv} * s{{}})) as {ty}"),
        2 => format!("(relu({conv} + b{{}}) >> {}) as {ty}", rng.range(0, 10)),
        _ => format!("floor(({conv} + b{{}}) * s{{}}) as {ty}"),
    }
}

/// A depthwise convolution and a pointwise one reading it; with `shared`,
/// the depthwise map is also an output or read by another stage.
fn program(seed: u64, shared: bool) -> String {
    let mut rng = Rng::new(seed);
    let c = rng.range(1, 40);
    let cout = rng.range(1, 40);
    let (kh, kw) = (rng.range(1, 6), rng.range(1, 4));
    let (sh, sw) = (rng.range(1, 3), rng.range(1, 3));
    let pads: Vec<i64> = (0..4)
        .map(|i| rng.range(0, if i < 2 { kh - 1 } else { kw - 1 }))
        .collect();
    let h = rng.range(kh + 2 * sh, kh + 40);
    let w = rng.range(kw + 33, kw + 200);
    let halo = rng.range(0, 2);
    let (let_x, x) = if rng.chance(50) {
        (format!("  let x1 = max(x, {})\n", rng.range(0, 9)), "x1")
    } else {
        (String::new(), "x")
    };
    let dwc = format!(
        "dwconv({x}, wd, stride: ({sh}, {sw}), pad: ({}, {}, {}, {}))",
        pads[0], pads[1], pads[2], pads[3]
    );
    let dw_ty = *rng.pick(&["u8 sat", "u8 wrap", "u8 sat", "u7 sat"]);
    let dw = tail(&mut rng, &dwc, dw_ty)
        .replacen("{}", "d", 1)
        .replacen("{}", "d", 1);
    let pw_ty = *rng.pick(&["u8 sat", "i8 sat", "u8 wrap"]);
    let pw = tail(&mut rng, "conv(dw, wp)", pw_ty)
        .replacen("{}", "p", 1)
        .replacen("{}", "p", 1);
    let elsewhere = match (shared, rng.range(0, 2)) {
        (false, _) => "",
        (true, 0) => "  output dw\n",
        (true, _) => "  let z = max(dw, 7)\n  output z\n",
    };
    format!(
        "pipeline p {{
  input x: u8[{c}, {h}, {w}] pad {halo}
  param wd: i8[{c}, 1, {kh}, {kw}] = random(seed: {})
  param bd: i16[{c}] = random(seed: {})
  param wp: i8[{cout}, {c}, 1, 1] = random(seed: {})
  param bp: i16[{cout}] = random(seed: {})
  const sd: fixed<32, 1> = 0.00{:03}
  const sp: fixed<32, 1> = 0.00{:03}
{let_x}  let dw = {dw}
  let y = {pw}
  output y
{elsewhere}}}
",
        seed * 4 + 1,
        seed * 4 + 2,
        seed * 4 + 3,
        seed * 4 + 4,
        rng.range(100, 999),
        rng.range(100, 999),
    )
}

/// Checks `count` random pairs under `isa` with bands of random rows;
/// returns how many programs ran fused. Shared intermediates must not be.
fn check(isa: Isa, shared: bool, count: u64) -> usize {
    if !convoy::jit::isa_supported(isa) || isa == Isa::Auto {
        return 0;
    }
    let mut failures = vec![];
    let mut fused = 0;
    for seed in 0..count {
        let src = program(seed, shared);
        let (checked, _) = match compile("fused.cnn", &src, &Files::default()) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("seed {seed}: {e}\n{src}"));
                continue;
            }
        };
        let program = &checked.program;
        let options = JitOptions {
            threads: 1 + (seed % 2) as usize,
            min_job: 1,
            isa,
            ..JitOptions::default()
        };
        let mut jit = convoy::compile_jit(program, &options).expect("compiles");
        let h = program.nodes[program.outputs[0].node].shape.dims()[1];
        let band = Rng::new(seed + 1000).range(1, h as i64 + 1) as usize;
        let stages = jit.set_fusion(Fusion::Rows(band));
        if shared && !stages.is_empty() {
            failures.push(format!("seed {seed}: fused a shared map\n{src}"));
        }
        fused += usize::from(!stages.is_empty());
        let inputs = common::random_inputs(program, |_| seed);
        let expected = convoy::interpret(program, &inputs).expect("interprets");
        match jit.run(&inputs) {
            Ok(got) if got == expected => {}
            Ok(_) => failures.push(format!("seed {seed} band {band}: outputs differ\n{src}")),
            Err(e) => failures.push(format!("seed {seed}: run: {e}\n{src}")),
        }
    }
    common::assert_no_failures(&failures);
    eprintln!("{isa:?}: {count} programs, {fused} fused");
    fused
}

#[test]
fn fused_pairs_match_the_interpreter() {
    if tools::isa(Isa::Avx512).is_none() {
        return;
    }
    let n = check(Isa::Avx512, false, 60);
    assert!(n > 40, "only {n} programs fused");
}

#[test]
fn fused_avx2_pairs_match_the_interpreter() {
    if tools::isa(Isa::Avx2).is_none() {
        return;
    }
    let n = check(Isa::Avx2, false, 50);
    assert!(n > 10, "only {n} programs fused");
}

#[test]
fn a_depthwise_map_read_elsewhere_is_not_fused() {
    if tools::isa(Isa::Avx512).is_none() {
        return;
    }
    check(Isa::Avx512, true, 30);
}

/// `compile` fuses large pairs on two threads and nothing on one;
/// [`Fusion::Auto`] fuses a map of several bands, not a small one, and
/// [`Fusion::Off`] none; every choice computes the same.
#[test]
fn automatic_bands_on_large_maps_only() {
    if tools::isa(Isa::Avx512).is_none() {
        return;
    }
    for (h, w, fuses) in [(80, 200, true), (12, 40, false)] {
        let src = format!(
            "pipeline p {{
  input x: u8[24, {h}, {w}] pad 1
  param wd: i8[24, 1, 3, 3] = random(seed: 1)
  param wp: i8[16, 24, 1, 1] = random(seed: 2)
  let dw = (relu(dwconv(x, wd, pad: 1)) >> 4) as u8 sat
  let y = (relu(conv(dw, wp)) >> 7) as u8 sat
  output y
}}
"
        );
        let (checked, _) = compile("auto.cnn", &src, &Files::default()).expect("checks");
        let program = &checked.program;
        let inputs = common::random_inputs(program, |_| 5);
        let expected = convoy::interpret(program, &inputs).expect("interprets");
        for threads in [1, 2] {
            let options = JitOptions {
                threads,
                min_job: 1,
                isa: Isa::Avx512,
                ..JitOptions::default()
            };
            let mut jit = convoy::compile_jit(program, &options).expect("compiles");
            // `compile` bands large pairs on two threads, nothing on one.
            let default = !jit.fused_stages().is_empty();
            assert_eq!(
                default,
                threads >= 2 && fuses,
                "{h}x{w} default, {threads} threads"
            );
            assert_eq!(jit.set_fusion(Fusion::Auto) == vec![1], fuses, "{h}x{w}");
            assert_eq!(jit.fused_stages() == vec![1], fuses, "{h}x{w}");
            assert_eq!(jit.run(&inputs).as_ref(), Ok(&expected), "{h}x{w} auto");
            assert!(jit.set_fusion(Fusion::Off).is_empty());
            assert_eq!(jit.run(&inputs).as_ref(), Ok(&expected), "{h}x{w} off");
        }
    }
}
