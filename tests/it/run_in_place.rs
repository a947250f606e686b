//! Inputs read in place: a pipeline input whose padded readers all pad at
//! the borders themselves (the AVX-512 depthwise kernel) is planned without
//! a halo, and `run::run_arrays` (the Python package's path) hands the
//! caller's bytes to the JIT instead of copying each image
//! (`CompiledPipeline::input_direct`). Random programs whose first stage is
//! a padded depthwise or another convolution, under every forced
//! instruction set, on 1 and 2 threads: read in place (`run_arrays`) and
//! copied (`CompiledPipeline::run`), the outputs are the interpreter's.

use crate::common::gen::Rng;
use crate::common::{self, compile, tools};
use crate::run_arrays::{in_memory, random_files};
use convoy::jit::{Isa, JitOptions};
use convoy::run::{InterpRunner, JitRunner};

/// Every instruction set the host can run, forced in turn.
fn isas() -> Vec<Isa> {
    [Isa::Avx512, Isa::Avx2, Isa::Scalar]
        .into_iter()
        .filter(|&isa| convoy::jit::isa_supported(isa))
        .collect()
}

/// A random program whose first stage convolves the input `x` (declared
/// with or without a halo): mostly a padded depthwise convolution (random
/// kernel up to 5 x 4, strides, dilations, asymmetric padding, widths
/// across one to three 64-pixel chunks), else a full convolution (which
/// needs the halo); sometimes a pointwise stage after it, as in the seed,
/// or a second, pointwise reader of `x`.
fn program(seed: u64) -> (String, bool) {
    let mut rng = Rng::new(seed);
    let depthwise = !rng.chance(20);
    let c = rng.range(1, 20);
    let (kh, kw) = (rng.range(1, 5), rng.range(1, 4));
    let (sh, sw) = (rng.range(1, 3), rng.range(1, 3));
    let (dh, dw) = if rng.chance(25) {
        (rng.range(1, 2), rng.range(1, 2))
    } else {
        (1, 1)
    };
    let (eh, ew) = ((kh - 1) * dh + 1, (kw - 1) * dw + 1);
    let pads: Vec<i64> = (0..4)
        .map(|i| rng.range(0, if i < 2 { kh - 1 } else { kw - 1 }))
        .collect();
    let h = rng.range(eh, eh + 12);
    let w = rng.range(ew, ew + 150);
    let halo = rng.range(0, 1);
    let in_ty = *rng.pick(&["u8", "u8", "u8", "u5", "u5", "ufixed<8, 3>"]);
    let (cout, cin_g, groups) = if depthwise {
        (c, 1, c)
    } else {
        (rng.range(1, 12), c, 1)
    };
    let conv = format!(
        "conv(x, w, stride: ({sh}, {sw}), pad: ({}, {}, {}, {}), dilation: ({dh}, {dw}), groups: {groups})",
        pads[0], pads[1], pads[2], pads[3]
    );
    // Mostly tails the kernels take (`native::requant`), sometimes one
    // they do not (Cranelift code, which needs the halo).
    let tail = match rng.range(0, 9) {
        0..=3 => format!("relu(b + trunc({conv} * f)) as u8 wrap"),
        4..=6 => format!("(relu({conv} + b) >> {}) as u8 sat", rng.range(0, 10)),
        7 => format!("round({conv} * f) as i8 sat"),
        _ => format!("floor(({conv} + b) * f) as fixed<8, 4, rnd, sat>"),
    };
    let second_reader = rng.chance(15);
    let mut lets = format!("  let y = {tail}\n");
    let mut outs = vec!["y"];
    if rng.chance(40) {
        lets += &format!(
            "  param v: i8[4, {cout}, 1, 1] = random(seed: {})\n",
            seed * 5 + 4
        );
        lets += "  let z = (relu(conv(y, v)) >> 5) as u8 sat\n";
        outs = vec!["z"];
    }
    if second_reader {
        lets += &format!(
            "  param u: i8[3, {c}, 1, 1] = random(seed: {})\n",
            seed * 5 + 5
        );
        lets += "  let p = (relu(conv(x, u)) >> 4) as u8 sat\n";
        outs.push("p");
    }
    let src = format!(
        "pipeline p {{
  input x: {in_ty}[{c}, {h}, {w}] pad {halo}
  param w: i8[{cout}, {cin_g}, {kh}, {kw}] = random(seed: {})
  param b: i16[{cout}] = random(seed: {})
  const f: fixed<20, 1> = 0.{:04}
{lets}  output {}
}}
",
        seed * 5 + 1,
        seed * 5 + 2,
        rng.range(1, 9999),
        outs.join(", ")
    );
    (src, depthwise && !second_reader)
}

#[test]
fn inputs_read_in_place_give_the_interpreters_bytes() {
    let count = 80;
    let mut failures = vec![];
    let mut in_place = vec![];
    let mut checked_ok = 0;
    for isa in isas() {
        let mut n = 0;
        for seed in 0..count {
            let (src, first_depthwise_alone) = program(seed);
            let Ok((checked, _)) = compile("in_place.cnn", &src, &convoy::NoFiles) else {
                continue;
            };
            checked_ok += 1;
            let program = &checked.program;
            let files = random_files(program, 3, seed);
            let interp = InterpRunner {
                program,
                threads: 1,
            };
            let expected = in_memory(&interp, &files).expect("the interpreter runs");
            let inputs = common::random_inputs(program, |_| seed);
            for threads in [1, 2] {
                let options = JitOptions {
                    threads,
                    isa,
                    ..JitOptions::default()
                };
                let fail =
                    |what: &str| format!("{isa:?} {threads} thread(s) seed {seed}: {what}\n{src}");
                let jit = convoy::compile_jit(program, &options).expect("compiles");
                let direct = jit.input_direct(0);
                // The AVX-512 and AVX2 depthwise kernels pad at the
                // borders (masked loads; zero-padded scratch rows): no
                // other reader may take the input without its halo.
                let pads_itself = matches!(isa, Isa::Avx512 | Isa::Avx2) && first_depthwise_alone;
                if direct && !pads_itself {
                    failures.push(fail("read in place, but a reader needs the halo"));
                }
                n += usize::from(direct && threads == 1);

                match in_memory(&JitRunner { compiled: &jit }, &files) {
                    Ok(got) if got == expected => {}
                    Ok(_) => failures.push(fail("run_arrays differs from the interpreter")),
                    Err(e) => failures.push(fail(&e)),
                }
                // The copy into the workspace's (now unpadded) input buffer.
                if let Err(e) = common::jit_agrees(program, &inputs, &options) {
                    failures.push(fail(&e));
                }
            }
        }
        in_place.push((isa, n));
    }
    eprintln!("{checked_ok} programs; read in place per isa: {in_place:?}");
    common::assert_no_failures(&failures);
    assert!(
        checked_ok > count as usize / 2,
        "only {checked_ok} programs checked"
    );
    if tools::avx512_kernels().is_some() {
        let n = in_place
            .iter()
            .find(|(isa, _)| *isa == Isa::Avx512)
            .map_or(0, |p| p.1);
        assert!(
            n as u64 > count / 2,
            "only {n} programs read their input in place"
        );
    }
}

fn pipeline(body: &str) -> convoy::CompiledPipeline {
    let src = format!("pipeline p {{\n{body}\n}}");
    let (checked, _) = compile("in_place.cnn", &src, &convoy::NoFiles).expect("compiles");
    convoy::compile_jit(&checked.program, &JitOptions::default()).expect("compiles")
}

/// Which inputs are read in place follows from their readers: a padded
/// depthwise convolution pads at the borders, a row kernel reads within
/// the buffer; a padded full convolution needs the halo, a pointwise
/// kernel's loads run past the last pixel, an input that is also an
/// output is read back from the workspace, and a 4 KiB plane gets a spare
/// row (its layout is then not the caller's).
#[test]
fn which_inputs_are_read_in_place() {
    if tools::avx512_kernels().is_none() {
        return;
    }
    let dw = "param w: i8[8, 1, 3, 3] = random(seed: 1)
  let y = relu(dwconv(x, w, pad: 1) >> 4) as u8 wrap";
    let cases = [
        (
            format!("input x: u8[8, 32, 64] pad 1\n  {dw}\n  output y"),
            true,
        ),
        (format!("input x: u8[8, 32, 70]\n  {dw}\n  output y"), true),
        (
            "input x: u8[8, 32, 64]\n  let y = relu(x - 3)\n  output y".into(),
            true,
        ),
        (
            format!("input x: u8[8, 32, 64] pad 1\n  {dw}\n  output y, x"),
            false,
        ),
        (
            format!("input x: u8[8, 64, 64] pad 1\n  {dw}\n  output y"),
            false,
        ),
        (
            format!(
                "input x: u8[8, 32, 64] pad 1\n  {dw}
  param v: i8[8, 8, 3, 3] = random(seed: 2)
  let z = relu(conv(x, v, pad: 1) >> 6) as u8 wrap\n  output y, z"
            ),
            false,
        ),
        (
            "input x: u8[8, 32, 64]
  param v: i8[8, 8, 1, 1] = random(seed: 2)
  let z = relu(conv(x, v) >> 6) as u8 wrap\n  output z"
                .into(),
            false,
        ),
    ];
    for (body, direct) in cases {
        assert_eq!(pipeline(&body).input_direct(0), direct, "{body}");
    }
    // The seed: its first stage pads at the borders.
    let seed = crate::run_arrays::example("seed");
    let jit = convoy::compile_jit(&seed, &JitOptions::default()).expect("compiles");
    assert!(jit.input_direct(0));
}

/// A value outside the input's range is reported as from the copy path:
/// the check before reading in place falls back to it.
#[test]
fn values_out_of_range_are_errors_when_read_in_place_too() {
    let jit = pipeline(
        "input x: u5[4, 8, 64] pad 1
  param w: i8[4, 1, 3, 3] = random(seed: 1)
  let y = relu(dwconv(x, w, pad: 1) >> 4) as u8 wrap
  output y",
    );
    let runner = JitRunner { compiled: &jit };
    let mut files = random_files(jit.program(), 2, 1);
    let ok = in_memory(&runner, &files);
    assert!(ok.is_ok(), "{ok:?}");
    let last = files[0].1.len() - 1;
    files[0].1[last] = 40;
    let err = in_memory(&runner, &files).expect_err("40 is not a u5");
    assert!(err.contains("40"), "{err}");
}
