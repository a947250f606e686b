//! Concatenations laid out in place (`jit::layout`: the inputs stored into
//! the concatenation's buffer, no copy stage) against the interpreter:
//! random programs concatenating 2 to 4 maps produced by every kind of
//! stage (3x3 and pointwise convolutions, depthwise, max-pooling, nearest
//! upsampling, elementwise), mixed with inputs that keep the copy (a
//! pipeline input, another fraction or element type, a producer reading
//! another input of the same concatenation, an input given twice); inputs
//! also read by other stages, with and without padding (a halo), the
//! concatenation read with padding, concatenated again, with a tail, or an
//! output; odd channel counts and widths; 1 and 2 threads; the best ISA,
//! forced AVX2 and scalar code.

use crate::common::gen::Rng;
use crate::common::{self, compile, Files};
use convoy::jit::JitOptions;
use convoy::Isa;

/// One random program around one concatenation `cat`.
fn program(seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let (h, w) = if rng.chance(20) {
        (2 * rng.range(12, 30), 2 * rng.range(15, 40))
    } else {
        (2 * rng.range(1, 10), 2 * rng.range(1, 40))
    };
    let cx = rng.range(1, 9);
    let cs = rng.range(1, 9);
    let mut lets = vec![];
    let mut params = vec![];
    let mut outputs = vec![];
    // (name, channels)
    let mut members: Vec<(String, i64)> = vec![];
    let n = rng.range(2, 4);
    for i in 0..=n {
        let ci = rng.range(1, 9);
        let name = format!("p{i}");
        let (expr, c) = match rng.range(0, 11) {
            0 => {
                params.push(format!(
                    "param w{i}: i8[{ci}, {cx}, 3, 3] = random(seed: {})",
                    seed * 10 + i as u64
                ));
                (format!("(relu(conv(x, w{i}, pad: 1)) >> 7) as u8 sat"), ci)
            }
            1 => {
                params.push(format!(
                    "param w{i}: i8[{ci}, {cx}, 1, 1] = random(seed: {})",
                    seed * 10 + i as u64
                ));
                (format!("(relu(conv(x, w{i})) >> 6) as u8 sat"), ci)
            }
            2 => {
                params.push(format!(
                    "param w{i}: i8[{cx}, 1, 3, 3] = random(seed: {})",
                    seed * 10 + i as u64
                ));
                (
                    format!("(relu(dwconv(x, w{i}, pad: 1)) >> 5) as u8 sat"),
                    cx,
                )
            }
            3 => ("maxpool(x, 3, stride: 1, pad: 1)".to_string(), cx),
            4 => ("upsample(s, 2)".to_string(), cs),
            5 => {
                params.push(format!(
                    "param b{i}: i8[{cx}] = random(seed: {})",
                    seed * 10 + i as u64
                ));
                (format!("relu(x - b{i}) as u8 sat"), cx)
            }
            // A pipeline input: the copy stays.
            6 => {
                members.push(("x".to_string(), cx));
                continue;
            }
            // Another fraction: the copy aligns it.
            7 => {
                params.push(format!(
                    "param w{i}: i8[{ci}, {cx}, 1, 1] = random(seed: {})",
                    seed * 10 + i as u64
                ));
                (
                    format!("((relu(conv(x, w{i})) >> 6) as ufixed<8, 7, trn, sat>)"),
                    ci,
                )
            }
            // A producer reading an earlier input of the concatenation.
            8 if !members.is_empty() => {
                let (prev, pc) = rng.pick(&members).clone();
                params.push(format!(
                    "param w{i}: i8[{ci}, {pc}, 3, 3] = random(seed: {})",
                    seed * 10 + i as u64
                ));
                (
                    format!("(relu(conv({prev}, w{i}, pad: 1)) >> 7) as u8 sat"),
                    ci,
                )
            }
            // The same input twice.
            9 if !members.is_empty() => {
                let m = rng.pick(&members).clone();
                members.push(m);
                continue;
            }
            _ => ("upsample(s, (2, 2), nearest)".to_string(), cs),
        };
        lets.push(format!("  let {name} = {expr}"));
        members.push((name, c));
    }
    let total: i64 = members.iter().map(|m| m.1).sum();
    let names: Vec<&str> = members.iter().map(|m| m.0.as_str()).collect();
    lets.push(format!("  let cat = concat({})", names.join(", ")));
    // Other readers of an input: padded (a halo on it) or not.
    if let Some((first, fc)) = members.iter().find(|m| m.0.starts_with('p')).cloned() {
        if rng.chance(40) {
            lets.push(format!("  let r = maxpool({first}, 3, stride: 2, pad: 1)"));
            outputs.push("r".to_string());
        }
        if rng.chance(30) {
            params.push(format!(
                "param rw: i8[3, {fc}, 3, 3] = random(seed: {})",
                seed * 10 + 7
            ));
            lets.push(format!(
                "  let q = (relu(conv({first}, rw, pad: 1)) >> 6) as u8 sat"
            ));
            outputs.push("q".to_string());
        }
        if rng.chance(15) {
            outputs.push(first);
        }
    }
    match rng.range(0, 4) {
        0 => outputs.push("cat".to_string()),
        1 => {
            params.push(format!(
                "param hw: i8[5, {total}, 3, 3] = random(seed: {})",
                seed * 10 + 8
            ));
            lets.push("  let head = (relu(conv(cat, hw, pad: 1)) >> 8) as u8 sat".into());
            outputs.push("head".to_string());
            if rng.chance(30) {
                outputs.push("cat".to_string());
            }
        }
        2 => {
            // Concatenated again: with a fresh map (nested views), the
            // pipeline input or an input of `cat` (copies).
            lets.push("  let e = upsample(s, 2)".into());
            let extra = *rng.pick(&["e", "e", "x", "p0"]);
            let extra = if extra == "p0" && !names.contains(&"p0") {
                "e"
            } else {
                extra
            };
            if rng.chance(50) {
                lets.push(format!("  let cat2 = concat({extra}, cat)"));
            } else {
                lets.push(format!("  let cat2 = concat(cat, {extra})"));
            }
            outputs.push("cat2".to_string());
            if extra != "e" {
                outputs.push("e".to_string());
            }
        }
        _ => {
            params.push(format!(
                "param tb: i8[{total}] = random(seed: {})",
                seed * 10 + 9
            ));
            lets.push("  let t = relu(concat(cat, cat) - 3) as u8 sat".into());
            lets.push("  let u = relu(cat - tb) as u8 sat".into());
            outputs.push("t".to_string());
            outputs.push("u".to_string());
        }
    }
    outputs.dedup();
    format!(
        "pipeline p {{
  input x: u8[{cx}, {h}, {w}] pad {}
  input s: u8[{cs}, {}, {}]
{}
{}
  output {}
}}
",
        rng.range(0, 1),
        h / 2,
        w / 2,
        params
            .iter()
            .map(|p| format!("  {p}"))
            .collect::<Vec<_>>()
            .join("\n"),
        lets.join("\n"),
        outputs.join(", ")
    )
}

#[test]
fn laid_out_concatenations_match_the_interpreter() {
    let mut isas = vec![Isa::Scalar, Isa::Auto];
    if convoy::jit::isa_supported(Isa::Avx2) {
        isas.push(Isa::Avx2);
    }
    let mut failures = vec![];
    let (mut programs, mut laid_out, mut kept) = (0, 0, 0);
    for seed in 0..240 {
        let src = program(seed);
        let checked = match compile("concat.cnn", &src, &Files::default()) {
            Ok((c, _)) => c,
            Err(e) => {
                failures.push(format!("seed {seed}: {e}\n{src}"));
                continue;
            }
        };
        programs += 1;
        let program = &checked.program;
        let inputs = common::random_inputs(program, |k| seed * 3 + k as u64);
        for &isa in &isas {
            let options = JitOptions {
                threads: 1 + (seed % 2) as usize,
                min_job: 1,
                isa,
                ..JitOptions::default()
            };
            match convoy::compile_jit(program, &options) {
                Ok(jit) if isa == Isa::Auto => {
                    let n = jit.laid_out().len();
                    laid_out += n;
                    kept += (jit.stages().iter())
                        .filter(|s| s.label.contains("concat"))
                        .count();
                }
                Ok(_) => {}
                Err(e) => failures.push(format!("{isa:?} seed {seed}: compile: {e}\n{src}")),
            }
            if let Err(e) = common::jit_agrees(program, &inputs, &options) {
                failures.push(format!("{isa:?} seed {seed}: {e}\n{src}"));
            }
        }
    }
    common::assert_no_failures(&failures);
    eprintln!("{programs} programs: {laid_out} concatenations laid out, {kept} copied");
    assert!(programs >= 200);
    assert!(laid_out >= 40, "{laid_out} laid out");
    assert!(kept >= 60, "{kept} copied");
}
