//! Shared subexpressions: a value is computed once however often it is
//! read. Identical subexpressions are one node after the check; a value read
//! twice by one stage (PReLU's accumulator, hard-swish's operand) stays in
//! that stage in the JIT and in both HLS styles, and the results are the
//! interpreter's bit for bit (`examples/activations.cnn` runs through C
//! simulation in `hls_csim` and the cycle replay in `hls_replay`).

use crate::common::{compile, jit_agrees, random_inputs};
use convoy::hls::{estimate, HlsOptions, Style};
use convoy::ir::{Op, Program};
use convoy::jit::JitOptions;
use convoy::NoFiles;

fn program(body: &str) -> Program {
    let src = format!(
        "pipeline p {{\n  input x: u8[4, 8, 8]\n  param w: i8[4, 4, 3, 3] = random(seed: 1)\n  \
         param b: i16[4] = random(seed: 2)\n  param a: i8[4] = random(seed: 3)\n{body}\n}}\n"
    );
    compile("shared.cnn", &src, &NoFiles)
        .unwrap_or_else(|e| panic!("{e}"))
        .0
        .program
}

fn convs(p: &Program) -> usize {
    p.nodes
        .iter()
        .filter(|n| matches!(n.op, Op::Conv { .. }))
        .count()
}

/// (kernels, multipliers) of the HLS estimate in `style`.
fn hls_cost(p: &Program, style: Style) -> (usize, usize) {
    let options = HlsOptions {
        style,
        ..HlsOptions::default()
    };
    let e = estimate(p, &options).expect("estimate");
    (e.stages.len(), e.stages.iter().map(|s| s.multipliers).sum())
}

fn jit_stages(p: &Program) -> usize {
    let inputs = random_inputs(p, |k| 5 + k as u64);
    let mut counts = vec![];
    for options in [
        JitOptions::default(),
        JitOptions {
            native: false,
            simd: false,
            ..JitOptions::default()
        },
    ] {
        let stages = jit_agrees(p, &inputs, &options).unwrap_or_else(|e| panic!("{e}"));
        counts.push(stages.len());
    }
    assert!(counts.windows(2).all(|w| w[0] == w[1]), "{counts:?}");
    counts[0]
}

const PRELU_INLINE: &str = "  let y = (max(conv(x, w, pad: 1) + b, 0) + min(conv(x, w, pad: 1) + b, 0) * a) >> 8\n  output y";
const PRELU_LET: &str = "  let acc = conv(x, w, pad: 1) + b\n  let y = (max(acc, 0) + min(acc, 0) * a) >> 8\n  output y";
const CONV_ONLY: &str = "  let y = (conv(x, w, pad: 1) + b) >> 8\n  output y";

#[test]
fn a_subexpression_written_twice_is_one_node() {
    let p = program(PRELU_INLINE);
    assert_eq!(convs(&p), 1);
    // Two of them, each read twice.
    let twice = program(
        "  let y = (conv(x, w, pad: 1) * conv(x, w, pad: 1)) >> 9\n  \
         let z = relu(conv(x, w, pad: 1)) + relu(conv(x, w, pad: 1))\n  output y, z",
    );
    assert_eq!(convs(&twice), 1);
    // Every node is distinct after the pass.
    for (i, a) in twice.nodes.iter().enumerate() {
        for b in &twice.nodes[i + 1..] {
            assert!(
                a.op != b.op || a.ty != b.ty || a.shape != b.shape,
                "{} and {} left apart",
                a.label,
                b.label
            );
        }
    }
    jit_stages(&twice);
}

#[test]
fn values_bound_to_two_names_stay_apart() {
    // A test or the REPL finds a value by its `let` name: both must exist.
    let p = program("  let u = conv(x, w, pad: 1)\n  let v = conv(x, w, pad: 1)\n  output u, v");
    assert_eq!(convs(&p), 2);
    let names: Vec<_> = p.nodes.iter().filter_map(|n| n.name.clone()).collect();
    assert!(names.contains(&"u".to_string()) && names.contains(&"v".to_string()));
}

#[test]
fn prelu_costs_one_convolution_and_one_stage_in_every_backend() {
    let inline = program(PRELU_INLINE);
    let named = program(PRELU_LET);
    let conv_only = program(CONV_ONLY);
    assert_eq!(jit_stages(&inline), 1);
    assert_eq!(jit_stages(&named), 1);
    assert_eq!(jit_stages(&conv_only), 1);
    for style in [Style::Array, Style::Stream] {
        let (k_conv, m_conv) = hls_cost(&conv_only, style);
        let (k_inline, m_inline) = hls_cost(&inline, style);
        let (k_named, m_named) = hls_cost(&named, style);
        assert_eq!(k_conv, 1, "{style:?}");
        // One kernel; the slope is the one multiplier more than the conv's.
        assert_eq!((k_inline, m_inline), (1, m_conv + 1), "{style:?}");
        // A named `let` is a stage of its own (it can be given parallelism):
        // two kernels, the convolution still computed once (in the stream
        // style the elementwise kernel takes a whole pixel per step, one
        // multiplier per channel).
        assert_eq!(k_named, 2, "{style:?}");
        assert!(m_named >= m_inline && m_named <= m_conv + 4, "{style:?}");
    }
}

#[test]
fn a_value_read_by_two_stages_is_stored_once() {
    // `c` is read by the kernel of `y` and by the one of `z`: one buffer (or a
    // stream fanned out), one convolution.
    let p = program(
        "  let y = relu(conv(x, w, pad: 1) + b) >> 8\n  let z = (conv(x, w, pad: 1) + b) >> 9\n  output y, z",
    );
    assert_eq!(convs(&p), 1);
    let (_, m_conv) = hls_cost(&program(CONV_ONLY), Style::Array);
    for style in [Style::Array, Style::Stream] {
        let (kernels, mults) = hls_cost(&p, style);
        assert_eq!(kernels, 3, "{style:?}");
        let (_, m_single) = hls_cost(&program(CONV_ONLY), style);
        assert_eq!(mults, m_single, "{style:?}");
    }
    assert!(m_conv > 0);
    assert_eq!(jit_stages(&p), 3);
}

/// A stage with `@hls` keeps its own conv: merged into an earlier stage's,
/// the `simd` the checker accepted would meet no reduction in the HLS
/// design (E406 after a clean check).
#[test]
fn a_stage_with_an_attribute_keeps_its_own_computation() {
    let p = program(
        "  let y = conv(x, w, pad: 1) >> 8 as u8 sat\n  @hls(pe: 2, simd: 2)\n  \
         let z = conv(x, w, pad: 1) >> 8 as u8 sat\n  output y, z",
    );
    assert_eq!(convs(&p), 2, "z keeps its conv");
    for style in [Style::Array, Style::Stream] {
        let options = HlsOptions {
            style,
            ..HlsOptions::default()
        };
        let e = estimate(&p, &options).unwrap_or_else(|e| panic!("{e:?}"));
        let z = e.stages.iter().find(|s| s.stage == "z").expect("stage z");
        assert_eq!((z.pe, z.simd), (2, Some(2)), "{}", style.name());
    }
    // Without the attribute the two convs are one.
    let plain = program(
        "  let y = conv(x, w, pad: 1) >> 8 as u8 sat\n  \
         let z = conv(x, w, pad: 1) >> 8 as u8 sat\n  output y, z",
    );
    assert_eq!(convs(&plain), 1);
}
