//! Hand-built programs for the interpreter's unit tests.

use super::{interpret_all, RunError};
use crate::ir::{InputInfo, Interval, Node, NodeId, Op, OutputInfo, Program, Shape};
use crate::span::Span;
use crate::tensor::Tensor;
use crate::types::ScalarType;

pub fn scalar() -> Shape {
    Shape::Scalar
}

pub fn vector(n: usize) -> Shape {
    Shape::Vector(n)
}

pub fn map(c: usize, h: usize, w: usize) -> Shape {
    Shape::Map { c, h, w }
}

pub fn weights(o: usize, i: usize, kh: usize, kw: usize) -> Shape {
    Shape::Weights { o, i, kh, kw }
}

/// A node with an unconstrained range (every `i128`) on each channel, so
/// that tests about values are not tests about ranges.
pub fn node(op: Op, shape: Shape, frac: u32) -> Node {
    let ranges = vec![Interval::new(i128::MIN, i128::MAX); shape.channels()];
    Node {
        op,
        shape,
        frac,
        ranges,
        ty: ScalarType::int(true, 64),
        halo: 0,
        name: None,
        label: "test".to_string(),
        owner: "t".to_string(),
        macs: 0,
        span: Span::default(),
    }
}

pub struct ProgramBuilder {
    pub program: Program,
}

impl ProgramBuilder {
    pub fn new() -> Self {
        ProgramBuilder {
            program: Program {
                name: "test".to_string(),
                nodes: vec![],
                inputs: vec![],
                outputs: vec![],
                hints: vec![],
            },
        }
    }

    pub fn add(&mut self, op: Op, shape: Shape, frac: u32) -> NodeId {
        self.program.nodes.push(node(op, shape, frac));
        self.program.nodes.len() - 1
    }

    pub fn constant(&mut self, shape: Shape, frac: u32, data: &[i128]) -> NodeId {
        self.add(
            Op::Constant {
                data: data.to_vec(),
            },
            shape,
            frac,
        )
    }

    /// An input of type `ty` (its range is the type's, on every channel).
    pub fn input(&mut self, name: &str, shape: Shape, ty: ScalarType) -> NodeId {
        let index = self.program.inputs.len();
        let id = self.add(Op::Input { index }, shape, ty.storage_frac());
        let (lo, hi) = ty.value_bounds();
        let node = &mut self.program.nodes[id];
        node.ranges = vec![Interval::new(lo, hi); node.shape.channels()];
        node.ty = ty;
        self.program.inputs.push(InputInfo {
            name: name.to_string(),
            node: id,
        });
        id
    }

    pub fn output(&mut self, name: &str, node: NodeId) {
        self.program.outputs.push(OutputInfo {
            name: name.to_string(),
            node,
        });
    }

    /// Sets one proven range for every channel of `id`.
    pub fn range(&mut self, id: NodeId, lo: i128, hi: i128) {
        let node = &mut self.program.nodes[id];
        node.ranges = vec![Interval::new(lo, hi); node.shape.channels()];
    }
}

pub fn tensor(shape: &[usize], frac: u32, data: &[i128]) -> Tensor {
    Tensor {
        shape: shape.to_vec(),
        frac,
        data: data.to_vec(),
    }
}

pub fn run(program: &Program, inputs: &[Tensor]) -> Vec<Tensor> {
    match interpret_all(program, inputs) {
        Ok(values) => values,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

pub fn run_err(program: &Program, inputs: &[Tensor]) -> RunError {
    match interpret_all(program, inputs) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

/// The fault of a run that must fail with an internal error.
pub fn run_fault(program: &Program, inputs: &[Tensor]) -> super::Fault {
    match run_err(program, inputs) {
        RunError::Internal { fault, .. } => *fault,
        other => panic!("expected an internal error, got {other}"),
    }
}
