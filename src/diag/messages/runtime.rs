//! Run-time errors of the interpreter (`interp::RunError`, with its
//! `Fault`s), which the JIT reports too: E3xx. Messages are one line, as
//! `convoy test` and the REPL quote them.

use super::{dims, error, BUG};
use crate::diag::codes::*;
use crate::diag::{Diagnostic, Report};
use crate::interp::{Fault, Param, RunError};
use crate::ir::Interval;
use crate::numeric::{to_decimal, CastError};

impl Report for RunError {
    fn diagnostic(&self) -> Diagnostic {
        match self {
            RunError::InputCount { expected, found } => error(
                E301,
                format!("the pipeline takes {expected} inputs, {found} given"),
            ),
            RunError::InputShape {
                input,
                expected,
                found,
            } => error(
                E302,
                format!(
                    "input `{input}` has shape {}, expected {}",
                    dims(found),
                    dims(expected)
                ),
            ),
            RunError::InputLength {
                input,
                expected,
                found,
            } => error(
                E303,
                format!("input `{input}` holds {found} values, its shape needs {expected}"),
            ),
            RunError::InputFrac {
                input,
                expected,
                found,
            } => error(
                E304,
                format!("input `{input}` has {found} fraction bits, its type has {expected}"),
            ),
            RunError::InputRange {
                input,
                ty,
                index,
                channel,
                value,
                frac,
                range: r,
            } => error(
                E305,
                format!(
                    "input `{input}` element {} is {}, outside the range {} of its type {ty} (channel {channel})",
                    dims(index),
                    to_decimal(*value, *frac),
                    range(*r, *frac)
                ),
            ),
            RunError::UnpoolIndex {
                node,
                channel,
                position,
                index,
                limit,
            } => error(
                E300,
                format!(
                    "`{}` in `{}`: index {index} at position {position} of channel {channel} is outside the output plane 0..{limit}",
                    node.label, node.owner
                ),
            )
            .label(node.span, "in this maxunpool"),
            RunError::MissingNode { name, node } => error(
                E306,
                format!("internal error: `{name}` refers to node {node}, which does not exist"),
            ),
            RunError::Internal { node, fault } => error(
                E307,
                format!(
                    "internal error in `{}` (node {}, `{}`): {}",
                    node.owner,
                    node.id,
                    node.label,
                    fault_reason(fault)
                ),
            )
            .label(node.span, "while computing this")
            .note(BUG),
        }
    }
}

fn range(r: Interval, frac: u32) -> String {
    format!("{} ..= {}", to_decimal(r.lo, frac), to_decimal(r.hi, frac))
}

/// What went wrong in one node: the end of an E307 message.
pub fn fault_reason(fault: &Fault) -> String {
    match fault {
        Fault::OperandOrder { operand } => {
            format!("operand node {operand} is not computed before it")
        }
        Fault::OperandShape { operand, shape } => {
            format!(
                "operand node {operand} has unsuitable shape {}",
                dims(shape)
            )
        }
        Fault::OperandFrac { operand, frac } => {
            format!("operand node {operand} has unsuitable fraction bits {frac}")
        }
        Fault::ResultShape { declared, computed } => format!(
            "declared shape {} but the operation produces {}",
            dims(declared),
            dims(computed)
        ),
        Fault::ResultFrac { declared, computed } => {
            format!("declared {declared} fraction bits but the operation produces {computed}")
        }
        Fault::RangeCount { declared, channels } => {
            format!("{declared} proven ranges for {channels} channels")
        }
        Fault::ConstantLength { expected, found } => {
            format!("constant holds {found} values, its shape needs {expected}")
        }
        Fault::InputIndex { index } => format!("no input number {index}"),
        Fault::Parameter { param, value } => format!("unusable {} {value}", param_name(*param)),
        Fault::EmptyOutput => "the geometry leaves no output".to_string(),
        Fault::EmptyWindow { channel, y, x } => {
            format!("pooling window at [{channel}, {y}, {x}] covers only padding")
        }
        Fault::Cast { error, value, frac } => {
            format!(
                "cast of {}: {}",
                to_decimal(*value, *frac),
                cast_reason(error)
            )
        }
        Fault::Overflow => "an intermediate value exceeds 128 bits".to_string(),
        Fault::TableIndex { value } => format!("the table has no entry for the raw input {value}"),
        Fault::OutOfRange {
            index,
            channel,
            value,
            frac,
            range: r,
        } => format!(
            "value {} at {} is outside the proven range {} of channel {channel}",
            to_decimal(*value, *frac),
            dims(index),
            range(*r, *frac)
        ),
    }
}

fn param_name(param: Param) -> &'static str {
    match param {
        Param::Stride => "stride",
        Param::Dilation => "dilation",
        Param::Groups => "groups",
        Param::Kernel => "kernel size",
        Param::Factor => "upsampling factor",
    }
}

/// Why `x as T` had no result (`numeric::CastError`).
pub fn cast_reason(error: &CastError) -> &'static str {
    match error {
        CastError::Unproven => "the value does not fit the target type",
        CastError::TooLarge => "the scaled value does not fit in 128 bits",
    }
}
