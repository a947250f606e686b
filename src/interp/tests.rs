//! Driver tests: input validation, range guards, malformed programs, and a
//! small end-to-end pipeline.

use super::testing::{map, run_err, run_fault, tensor, vector, weights, ProgramBuilder};
use super::*;
use crate::ir::{CastOverflow, ConvGeom, Elementwise, Interval, Pads, Pair, Rounding};
use crate::types::{Overflow, Quant, ScalarType};

fn u8_input() -> (ProgramBuilder, NodeId) {
    let mut p = ProgramBuilder::new();
    let x = p.input("x", map(2, 1, 2), ScalarType::int(false, 8));
    (p, x)
}

#[test]
fn outputs_come_in_declared_order() {
    let (mut p, x) = u8_input();
    let n = p.add(Op::Neg(x), map(2, 1, 2), 0);
    p.output("n", n);
    p.output("x", x);
    let input = tensor(&[2, 1, 2], 0, &[1, 2, 3, 4]);
    let outputs = interpret(&p.program, std::slice::from_ref(&input)).expect("runs");
    assert_eq!(outputs.len(), 2);
    assert_eq!(outputs[0].data, [-1, -2, -3, -4]);
    assert_eq!(outputs[0].shape, [2, 1, 2]);
    assert_eq!(outputs[1], input);
}

#[test]
fn inputs_are_validated() {
    let (p, _) = u8_input();
    let good = tensor(&[2, 1, 2], 0, &[1, 2, 3, 255]);
    assert!(interpret_all(&p.program, std::slice::from_ref(&good)).is_ok());
    assert_eq!(
        run_err(&p.program, &[]),
        RunError::InputCount {
            expected: 1,
            found: 0
        }
    );
    let err = run_err(&p.program, &[tensor(&[2, 2, 1], 0, &[1, 2, 3, 4])]);
    assert_eq!(
        err.to_string(),
        "input `x` has shape [2, 2, 1], expected [2, 1, 2]"
    );
    let err = run_err(&p.program, &[tensor(&[2, 1, 2], 0, &[1, 2, 3])]);
    assert!(matches!(
        err,
        RunError::InputLength {
            expected: 4,
            found: 3,
            ..
        }
    ));
    let err = run_err(&p.program, &[tensor(&[2, 1, 2], 1, &[1, 2, 3, 4])]);
    assert!(matches!(
        err,
        RunError::InputFrac {
            expected: 0,
            found: 1,
            ..
        }
    ));
    let err = run_err(&p.program, &[tensor(&[2, 1, 2], 0, &[1, 2, 256, 4])]);
    assert_eq!(
        err,
        RunError::InputRange {
            input: "x".to_string(),
            ty: ScalarType::int(false, 8),
            index: vec![1, 0, 0],
            channel: 1,
            value: 256,
            frac: 0,
            range: Interval::new(0, 255),
        }
    );
    assert_eq!(
        err.to_string(),
        "input `x` element [1, 0, 0] is 256, outside the range 0 ..= 255 of its type u8 (channel 1)"
    );
}

#[test]
fn values_outside_proven_ranges_are_internal_errors() {
    let (mut p, x) = u8_input();
    let r = p.add(Op::Shl(x, 1), map(2, 1, 2), 0);
    p.range(r, 0, 300);
    p.program.nodes[r].ranges[1] = Interval::new(0, 7);
    assert!(interpret_all(&p.program, &[tensor(&[2, 1, 2], 0, &[150, 0, 3, 3])]).is_ok());
    let fault = run_fault(&p.program, &[tensor(&[2, 1, 2], 0, &[0, 0, 3, 4])]);
    assert_eq!(
        fault,
        Fault::OutOfRange {
            index: vec![1, 0, 1],
            channel: 1,
            value: 8,
            frac: 0,
            range: Interval::new(0, 7),
        }
    );
    let fault = run_fault(&p.program, &[tensor(&[2, 1, 2], 0, &[151, 0, 0, 0])]);
    assert!(matches!(fault, Fault::OutOfRange { value: 302, .. }));
}

#[test]
fn malformed_programs_are_faults_not_panics() {
    let (mut p, x) = u8_input();
    let r = p.add(Op::Relu(x), map(2, 1, 2), 0);
    p.program.nodes[r].ranges.pop();
    let input = tensor(&[2, 1, 2], 0, &[1, 2, 3, 4]);
    assert_eq!(
        run_fault(&p.program, std::slice::from_ref(&input)),
        Fault::RangeCount {
            declared: 1,
            channels: 2
        }
    );
    let (mut p, _) = u8_input();
    p.constant(vector(3), 0, &[1, 2]);
    assert_eq!(
        run_fault(&p.program, std::slice::from_ref(&input)),
        Fault::ConstantLength {
            expected: 3,
            found: 2
        }
    );
    let (mut p, _) = u8_input();
    p.add(Op::Input { index: 5 }, map(2, 1, 2), 0);
    assert_eq!(
        run_fault(&p.program, std::slice::from_ref(&input)),
        Fault::InputIndex { index: 5 }
    );
    let (mut p, x) = u8_input();
    p.output("nowhere", 9);
    p.output("x", x);
    assert_eq!(
        interpret(&p.program, std::slice::from_ref(&input)),
        Err(RunError::MissingNode {
            name: "nowhere".to_string(),
            node: 9
        })
    );
    // Arithmetic beyond 128 bits.
    let mut p = ProgramBuilder::new();
    let big = p.constant(vector(1), 0, &[1 << 100]);
    p.add(Op::Binary(Elementwise::Mul, big, big), vector(1), 0);
    assert_eq!(run_fault(&p.program, &[]), Fault::Overflow);
}

/// A miniature `seed.cnn`: a depthwise 3x3 with pad 1, then the
/// requantization `relu(b + trunc(acc * factor)) as u8 wrap`.
#[test]
fn seed_pipeline_in_miniature() {
    let mut p = ProgramBuilder::new();
    let x = p.input("x", map(1, 2, 2), ScalarType::int(false, 8));
    let w = p.constant(weights(1, 1, 3, 3), 0, &[1, 1, 1, 1, 100, 1, 1, 1, 1]);
    let geom = ConvGeom {
        stride: Pair { h: 1, w: 1 },
        pad: Pads {
            top: 1,
            bottom: 1,
            left: 1,
            right: 1,
        },
        dilation: Pair { h: 1, w: 1 },
        groups: 1,
        output_pad: Pair { h: 0, w: 0 },
    };
    let acc = p.add(Op::Conv { x, w, geom }, map(1, 2, 2), 0);
    let factor = p.constant(crate::ir::Shape::Scalar, 31, &[7158278]); // 1/300
    let prod = p.add(Op::Binary(Elementwise::Mul, acc, factor), map(1, 2, 2), 31);
    let t = p.add(Op::Round(prod, Rounding::Trunc), map(1, 2, 2), 0);
    let b = p.constant(vector(1), 0, &[200]);
    let sum = p.add(Op::Binary(Elementwise::Add, b, t), map(1, 2, 2), 0);
    let r = p.add(Op::Relu(sum), map(1, 2, 2), 0);
    let cast = Op::Cast {
        x: r,
        to: ScalarType::int(false, 8),
        quant: Quant::TrnZero,
        overflow: CastOverflow::Mode(Overflow::Wrap),
    };
    let y = p.add(cast, map(1, 2, 2), 0);
    p.output("y", y);
    // Every 3x3 window covers the whole 2x2 input: acc = 100 * centre + others.
    let input = tensor(&[1, 2, 2], 0, &[255, 0, 3, 255]);
    let outputs = interpret(&p.program, &[input]).expect("runs");
    // acc: [25500 + 258, 513, 300 + 510, 25500 + 258] = [25758, 513, 810, 25758]
    // trunc(acc / 300 floored factor): [85, 1, 2, 85]; + 200 gives
    // [285, 201, 202, 285], and 285 keeps its low 8 bits: 29.
    assert_eq!(outputs[0].data, [29, 201, 202, 29]);
}
