//! The checker's ranges are sound (no value ever leaves its proven range) and,
//! for convolutions with all-positive weights, exact (the bound is reached).

use crate::common::gen::{random_program, Rng};
use crate::common::{compile, inputs, Files};
use convoy::data::{random_raw, write_npy, Dtype, NpyData};
use convoy::ir::Op;

/// `interpret_all` checks every value against its node's proven per-channel
/// range and fails if one leaves it; run it on random and extreme inputs.
#[test]
fn no_value_leaves_its_range() {
    let mut checked_values = 0usize;
    for seed in 0..400u64 {
        let src = random_program(seed);
        let (checked, _) =
            compile("gen.cnn", &src, &Files::default()).expect("generated programs check");
        let program = &checked.program;
        let mut rng = Rng::new(seed);
        for trial in 0..4 {
            let ins = inputs(program, |i, node| {
                let (lo, hi) = node.ty.value_bounds();
                let n = node.shape.len();
                match trial {
                    0 => vec![lo; n],
                    1 => vec![hi; n],
                    2 => (0..n)
                        .map(|_| if rng.chance(50) { lo } else { hi })
                        .collect(),
                    _ => random_raw(seed * 31 + i as u64, &node.ty, n),
                }
            });
            let values = convoy::interpret_all(program, &ins)
                .unwrap_or_else(|e| panic!("seed {seed} trial {trial}: {e}\n{src}"));
            checked_values += values.iter().map(|t| t.data.len()).sum::<usize>();
        }
    }
    assert!(checked_values > 100_000);
}

fn npy_i8(dims: &[usize], values: Vec<i128>) -> Vec<u8> {
    write_npy(dims, &NpyData::Int(values), Dtype::I8)
}

/// With positive weights the extreme inputs reach the proven bounds exactly.
#[test]
fn positive_weights_reach_the_bound() {
    let cases = [
        ("conv(x, w, pad: 1)", [6usize, 3, 3, 3], "u8", 3usize),
        (
            "conv(x, w, stride: 2, pad: (0, 1, 2, 0), dilation: (2, 1))",
            [4, 3, 3, 2],
            "u8",
            3,
        ),
        ("conv(x, w, groups: 3)", [6, 1, 2, 2], "i8", 3),
        ("dwconv(x, w, pad: 2, dilation: 2)", [3, 1, 3, 3], "u4", 3),
        ("deconv(x, w, stride: 2, pad: 1)", [3, 4, 4, 4], "u8", 3),
        (
            "dwdeconv(x, w, stride: 3, output_pad: 1)",
            [3, 1, 2, 2],
            "i8",
            3,
        ),
    ];
    let mut rng = Rng::new(7);
    for (stage, wdims, ty, channels) in cases {
        let count: usize = wdims.iter().product();
        let weights: Vec<i128> = (0..count).map(|_| rng.range(1, 9) as i128).collect();
        let mut files = Files::default();
        files.0.insert("w.npy".into(), npy_i8(&wdims, weights));
        let src = format!(
            "pipeline p {{\n  input x: {ty}[{channels}, 9, 8]\n  param w: i8[{}, {}, {}, {}] = load(\"w.npy\")\n  let y = {stage}\n  output y\n}}\n",
            wdims[0], wdims[1], wdims[2], wdims[3]
        );
        let (checked, _) = compile("bound.cnn", &src, &files).unwrap_or_else(|e| panic!("{e}"));
        let program = &checked.program;
        let y = program.outputs[0].node;
        assert!(matches!(
            program.nodes[y].op,
            Op::Conv { .. } | Op::Deconv { .. }
        ));
        for extreme in [false, true] {
            let ins = inputs(program, |_, node| {
                let (lo, hi) = node.ty.value_bounds();
                vec![if extreme { hi } else { lo }; node.shape.len()]
            });
            let out = convoy::interpret(program, &ins).unwrap();
            for (c, range) in program.nodes[y].ranges.iter().enumerate() {
                let plane = out[0].data.len() / program.nodes[y].ranges.len();
                let chan = &out[0].data[c * plane..(c + 1) * plane];
                let reached = if extreme {
                    *chan.iter().max().unwrap()
                } else {
                    *chan.iter().min().unwrap()
                };
                let bound = if extreme { range.hi } else { range.lo };
                assert_eq!(
                    reached,
                    bound,
                    "{stage}, channel {c}, {}",
                    if extreme { "max" } else { "min" }
                );
            }
        }
    }
}
