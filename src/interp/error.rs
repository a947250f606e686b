//! What can go wrong while running a checked program. Errors are data (node
//! ids, spans, indices, raw values); the words are in `diag::messages`, and
//! `Display` gives the diagnostic's one-line message.

use std::fmt;

use crate::diag::Report;
use crate::ir::{Interval, NodeId};
use crate::numeric::CastError;
use crate::span::Span;
use crate::types::ScalarType;

/// The node an error is about, with what a message needs to name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeRef {
    pub id: NodeId,
    /// The node's short description (`dwconv`, `as u8 wrap`).
    pub label: String,
    /// The `let` or declaration that produced the node.
    pub owner: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunError {
    /// The number of input tensors differs from the program's inputs.
    InputCount { expected: usize, found: usize },
    /// An input tensor's shape differs from the declared one.
    InputShape {
        input: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    /// An input tensor holds a different number of values than its shape says.
    InputLength {
        input: String,
        expected: usize,
        found: usize,
    },
    /// An input tensor's fraction bits differ from its type's.
    InputFrac {
        input: String,
        expected: u32,
        found: u32,
    },
    /// An input value lies outside its type's range (raw values at `frac`).
    InputRange {
        input: String,
        ty: ScalarType,
        index: Vec<usize>,
        channel: usize,
        value: i128,
        frac: u32,
        range: Interval,
    },
    /// A `maxunpool` index points outside the output plane (`0..limit`).
    UnpoolIndex {
        node: NodeRef,
        channel: usize,
        /// Flat position of the offending index within its channel's plane.
        position: usize,
        index: i128,
        limit: usize,
    },
    /// `program.inputs` or `program.outputs` names a node that does not exist.
    MissingNode { name: String, node: NodeId },
    /// The program is inconsistent, or a value escaped its proven range: a
    /// bug in the checker (or whatever built the program), never in the data.
    Internal { node: NodeRef, fault: Box<Fault> },
}

/// Which geometric parameter of a stage is unusable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Param {
    Stride,
    Dilation,
    Groups,
    Kernel,
    Factor,
}

/// A checker bug found while running one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// An operand is not an earlier node.
    OperandOrder { operand: NodeId },
    /// An operand's shape does not suit the operation.
    OperandShape { operand: NodeId, shape: Vec<usize> },
    /// An operand's fraction bits do not suit the operation (indices need 0).
    OperandFrac { operand: NodeId, frac: u32 },
    /// The node's declared shape is not the one its operation produces.
    ResultShape {
        declared: Vec<usize>,
        computed: Vec<usize>,
    },
    /// The node's declared fraction bits are not the ones its operation
    /// produces (`computed` is the least admissible, for aligning operations).
    ResultFrac { declared: u32, computed: u32 },
    /// The node has not one proven range per channel.
    RangeCount { declared: usize, channels: usize },
    /// A constant holds a different number of values than its shape says.
    ConstantLength { expected: usize, found: usize },
    /// An `Input` node's index has no matching input.
    InputIndex { index: usize },
    /// A stage parameter is zero (or, for bilinear factors, not a power of two).
    Parameter { param: Param, value: usize },
    /// The geometry leaves no output rows or columns.
    EmptyOutput,
    /// A pooling window covers only padding.
    EmptyWindow { channel: usize, y: usize, x: usize },
    /// A cast failed (`Proven` but out of range, or beyond 128 bits).
    Cast {
        error: CastError,
        value: i128,
        frac: u32,
    },
    /// An intermediate value does not fit in `i128`.
    Overflow,
    /// A `table` input with no entry (the checker proved there is one).
    TableIndex { value: i128 },
    /// A value lies outside the node's proven range.
    OutOfRange {
        index: Vec<usize>,
        channel: usize,
        value: i128,
        frac: u32,
        range: Interval,
    },
}

/// The words are in `diag` (one catalogue for every message): the
/// diagnostic's message.
impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic().message)
    }
}

/// The words are in `diag`.
impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::diag::fault_reason(self))
    }
}

impl std::error::Error for RunError {}
