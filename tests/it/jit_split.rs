//! How the threads share a stage (`JitOptions::min_job`,
//! `CompiledPipeline::stage_jobs`): random pointwise and direct
//! convolutions of small maps (1 to 9 output rows) with up to 130 output
//! channels, which the AVX-512 kernels cut into row ranges times channel
//! slices (register blocks of 4, 6, 12 or 16 channels; channel counts no
//! multiple of them; strides, paddings, halos, residual maps), on 1 and 2
//! threads, forced AVX-512 and AVX2, against the interpreter; and the cut
//! itself: large maps by rows only, small maps by channels too, small
//! stages not at all.

use crate::common::gen::Rng;
use crate::common::{self, compile, tools, Files};
use convoy::jit::{Isa, JitOptions};

/// A pointwise or direct convolution (one group) of a small map, its tail
/// requantizing to bytes, sometimes with a residual map.
fn program(seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let pointwise = rng.chance(50);
    let (k, s) = if pointwise {
        (1, 1)
    } else {
        (rng.range(2, 5), rng.range(1, 2))
    };
    let pad = if pointwise { 0 } else { rng.range(0, k - 1) };
    let (cin, cout) = (rng.range(1, 40), rng.range(5, 130));
    // Output rows 1 to 9 and 1 to ~70 columns.
    let h = ((rng.range(1, 9) - 1) * s + k - 2 * pad).max(1);
    let oh = (h + 2 * pad - k) / s + 1;
    let w = rng.range((k - 2 * pad).max(1), 70);
    let halo = if pointwise { 0 } else { rng.range(0, 1) };
    let in_ty = *rng.pick(&["u8", "u8", "u6", "i8"]);
    let conv = format!("conv(x, w, stride: {s}, pad: {pad})");
    let expr = match rng.range(0, 3) {
        0 => format!("round(({conv} + b) * f) as u8 sat"),
        1 => format!("(relu({conv} + b) >> {}) as u8 sat", rng.range(4, 10)),
        _ => format!("floor({conv} * f) as i8 sat"),
    };
    let (residual, expr) = if !pointwise && rng.chance(30) {
        let ow = (w + 2 * pad - k) / s + 1;
        (
            format!("  input r: u8[{cout}, {oh}, {ow}]\n"),
            format!("(r + (({conv} + b) >> 6) as i8 sat) as u8 sat"),
        )
    } else {
        (String::new(), expr)
    };
    format!(
        "pipeline p {{
  input x: {in_ty}[{cin}, {h}, {w}] pad {halo}
{residual}  param w: i8[{cout}, {cin}, {k}, {k}] = random(seed: {})
  param b: i16[{cout}] = random(seed: {})
  const f: fixed<24, 1> = 0.00{:03}
  let y = {expr}
  output y
}}
",
        seed * 2 + 1,
        seed * 2 + 2,
        rng.range(100, 999)
    )
}

/// Every random program on 1 and 2 threads under each forced instruction
/// set agrees with the interpreter; on AVX-512 most two-thread stages are
/// cut into channel slices.
#[test]
fn channel_slices_of_small_maps_match_the_interpreter() {
    let mut failures = vec![];
    let (mut checked, mut sliced) = (0, 0);
    let isas: Vec<Isa> = [Isa::Avx512, Isa::Avx2]
        .into_iter()
        .filter(|&isa| convoy::jit::isa_supported(isa))
        .collect();
    for seed in 0..120 {
        let src = program(seed);
        let (c, _) = match compile("split.cnn", &src, &Files::default()) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("seed {seed}: does not check: {e}\n{src}"));
                continue;
            }
        };
        let program = &c.program;
        let inputs = common::random_inputs(program, |k| seed * 7 + k as u64);
        let expected = convoy::interpret(program, &inputs).expect("interprets");
        for &isa in &isas {
            for threads in [1, 2] {
                let options = JitOptions {
                    threads,
                    min_job: 1,
                    isa,
                    ..JitOptions::default()
                };
                let jit = convoy::compile_jit(program, &options).expect("compiles");
                match jit.run(&inputs) {
                    Ok(got) if got == expected => checked += 1,
                    other => {
                        let why = other
                            .err()
                            .map_or("outputs differ".into(), |e| e.to_string());
                        failures.push(format!(
                            "seed {seed}, {isa:?}, {threads} threads: {why}\n{src}"
                        ));
                    }
                }
                for (k, stage) in jit.stages().iter().enumerate() {
                    let (_, slices) = jit.stage_jobs(k);
                    if stage.native && isa == Isa::Avx512 && threads == 2 && slices > 1 {
                        sliced += 1;
                    }
                    // (Debug builds with `min_job` 1 cut one thread's
                    // stages too: `CompiledPipeline::parts`.)
                    let one = threads == 1 && !cfg!(debug_assertions);
                    if one || isa == Isa::Avx2 || !stage.native {
                        assert_eq!(slices, 1, "seed {seed}: channel slices off AVX-512 kernels");
                    }
                }
            }
        }
    }
    eprintln!("{checked} runs checked, {sliced} stages in channel slices");
    common::assert_no_failures(&failures);
    assert!(checked >= 240, "only {checked} runs checked");
    if tools::avx512_kernels().is_some() {
        assert!(sliced > 50, "only {sliced} stages cut into channel slices");
    }
}

/// Compiles `src` for 2 threads with the default `min_job`; the cut of its
/// only stage.
fn cut_of(src: &str) -> (usize, usize) {
    let (c, _) = compile("cut.cnn", src, &Files::default()).expect("checks");
    let options = JitOptions {
        threads: 2,
        isa: Isa::Avx512,
        ..JitOptions::default()
    };
    let jit = convoy::compile_jit(&c.program, &options).expect("compiles");
    assert_eq!(jit.stages().len(), 1);
    jit.stage_jobs(0)
}

fn pointwise(cin: usize, cout: usize, h: usize, w: usize) -> String {
    format!(
        "pipeline p {{
  input x: u8[{cin}, {h}, {w}]
  param w: i8[{cout}, {cin}, 1, 1] = random(seed: 1)
  let y = (relu(conv(x, w)) >> 8) as u8 sat
  output y
}}
"
    )
}

/// Large maps are cut by rows (two jobs a thread), small maps with many
/// channels by channels too, and stages of little work not at all.
#[test]
fn stages_are_cut_by_their_work() {
    if tools::avx512_kernels().is_none() {
        return;
    }
    // 64 rows: four row ranges (8.4 M of work, jobs of at least 1 M).
    assert_eq!(cut_of(&pointwise(32, 32, 64, 64)), (4, 1));
    // 56 x 56: rows in granules of 8 (whole pixel vectors), four ranges:
    // enough to share, no channel slices.
    assert_eq!(cut_of(&pointwise(32, 192, 56, 56)), (4, 1));
    // 14 x 14 (one granule of rows), 256 channels: four slices of 64.
    assert_eq!(cut_of(&pointwise(128, 256, 14, 14)), (1, 4));
    // 7 x 7, 3.6 M of work: three slices.
    assert_eq!(cut_of(&pointwise(256, 256, 7, 7)), (1, 3));
    // 1.2 M of work: one job.
    assert_eq!(cut_of(&pointwise(96, 192, 7, 7)), (1, 1));
    // 3x3 convolutions of narrow rows run on the channel-lane kernel
    // (`Direct::lanes`): on maps under 1024 pixels one channel slice a
    // thread and no row cut (row cuts share the output lines where the
    // threads' rows of a plane meet); larger maps by rows only.
    assert_eq!(cut_of(&conv3x3(256, 256, 7, 7)), (1, 2));
    assert_eq!(cut_of(&conv3x3(128, 128, 14, 14)), (1, 2));
    assert_eq!(cut_of(&conv3x3(64, 128, 28, 28)), (1, 2));
    assert_eq!(cut_of(&conv3x3(64, 64, 56, 56)), (4, 1));
}

fn conv3x3(cin: usize, cout: usize, h: usize, w: usize) -> String {
    format!(
        "pipeline p {{
  input x: u8[{cin}, {h}, {w}] pad 1
  param w: i8[{cout}, {cin}, 3, 3] = random(seed: 1)
  let y = (relu(conv(x, w, pad: 1)) >> 10) as u8 sat
  output y
}}
"
    )
}
