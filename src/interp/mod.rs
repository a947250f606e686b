//! The reference interpreter: the executable specification of Convoy.
//!
//! It evaluates a checked [`Program`] node by node, in order, with exact
//! integer arithmetic (`docs/semantics.md` is the prose version of this
//! module). Written for clarity, not speed: every stage is the textbook loop.
//!
//! Besides computing, it guards the checker: inputs must match their declared
//! shapes, fraction bits and ranges, and every computed value must lie inside
//! its node's proven per-channel range. Inconsistencies are reported as
//! [`RunError::Internal`], never as a panic.

mod conv;
mod elementwise;
mod error;
mod pool;
mod resample;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;

pub use error::{Fault, NodeRef, Param, RunError};

use crate::ir::{Chw, Node, NodeId, Op, Program, Shape};
use crate::tensor::{unravel, Tensor};

/// Runs `program` on one image: `inputs[i]` is the value of
/// `program.inputs[i]`. Returns one tensor per `program.outputs` entry, in order.
pub fn interpret(program: &Program, inputs: &[Tensor]) -> Result<Vec<Tensor>, RunError> {
    let values = interpret_all(program, inputs)?;
    program
        .outputs
        .iter()
        .map(|out| {
            values
                .get(out.node)
                .cloned()
                .ok_or_else(|| RunError::MissingNode {
                    name: out.name.clone(),
                    node: out.node,
                })
        })
        .collect()
}

/// Runs `program` on one image and returns the value of every node, indexed
/// by [`NodeId`].
pub fn interpret_all(program: &Program, inputs: &[Tensor]) -> Result<Vec<Tensor>, RunError> {
    check_inputs(program, inputs)?;
    let mut values: Vec<Tensor> = Vec::with_capacity(program.nodes.len());
    for (id, node) in program.nodes.iter().enumerate() {
        let at = |fault: Fault| RunError::Internal {
            node: node_ref(id, node),
            fault: Box::new(fault),
        };
        check_range_count(node).map_err(at)?;
        let data = evaluate(program, id, &values, inputs).map_err(|failure| match failure {
            Failure::Fault(fault) => at(fault),
            Failure::UnpoolIndex {
                channel,
                position,
                index,
                limit,
            } => RunError::UnpoolIndex {
                node: node_ref(id, node),
                channel,
                position,
                index,
                limit,
            },
        })?;
        let value = Tensor {
            shape: node.shape.dims(),
            frac: node.frac,
            data,
        };
        if let Some(fault) = range_violation(node, &value) {
            return Err(at(fault));
        }
        values.push(value);
    }
    Ok(values)
}

fn node_ref(id: NodeId, node: &Node) -> NodeRef {
    NodeRef {
        id,
        label: node.label.clone(),
        owner: node.owner.clone(),
        span: node.span,
    }
}

/// Inputs must match their declarations exactly (count, shape, length,
/// fraction bits) and lie in their channels' ranges. The JIT checks its
/// inputs with this too, so both reject the same inputs with the same error.
pub(crate) fn check_inputs(program: &Program, inputs: &[Tensor]) -> Result<(), RunError> {
    if inputs.len() != program.inputs.len() {
        return Err(RunError::InputCount {
            expected: program.inputs.len(),
            found: inputs.len(),
        });
    }
    for (i, (info, tensor)) in program.inputs.iter().zip(inputs).enumerate() {
        let input = || info.name.clone();
        let node = program
            .nodes
            .get(info.node)
            .ok_or_else(|| RunError::MissingNode {
                name: input(),
                node: info.node,
            })?;
        if node.op != (Op::Input { index: i }) {
            return Err(RunError::Internal {
                node: node_ref(info.node, node),
                fault: Box::new(Fault::InputIndex { index: i }),
            });
        }
        let expected = node.shape.dims();
        if tensor.shape != expected {
            return Err(RunError::InputShape {
                input: input(),
                expected,
                found: tensor.shape.clone(),
            });
        }
        if tensor.data.len() != node.shape.len() {
            return Err(RunError::InputLength {
                input: input(),
                expected: node.shape.len(),
                found: tensor.data.len(),
            });
        }
        if tensor.frac != node.frac {
            return Err(RunError::InputFrac {
                input: input(),
                expected: node.frac,
                found: tensor.frac,
            });
        }
        check_range_count(node).map_err(|fault| RunError::Internal {
            node: node_ref(info.node, node),
            fault: Box::new(fault),
        })?;
        if let Some(Fault::OutOfRange {
            index,
            channel,
            value,
            frac,
            range,
        }) = range_violation(node, tensor)
        {
            return Err(RunError::InputRange {
                input: input(),
                ty: node.ty,
                index,
                channel,
                value,
                frac,
                range,
            });
        }
    }
    Ok(())
}

fn check_range_count(node: &Node) -> Result<(), Fault> {
    let channels = node.shape.channels();
    if node.ranges.len() == channels {
        Ok(())
    } else {
        Err(Fault::RangeCount {
            declared: node.ranges.len(),
            channels,
        })
    }
}

/// The first value of `value` outside `node`'s proven range of its channel.
fn range_violation(node: &Node, value: &Tensor) -> Option<Fault> {
    let plane = node.shape.plane().max(1);
    value.data.iter().enumerate().find_map(|(k, &v)| {
        let channel = k / plane;
        let range = *node.ranges.get(channel)?;
        (!range.contains(v)).then(|| Fault::OutOfRange {
            index: unravel(k, &node.shape.dims()),
            channel,
            value: v,
            frac: node.frac,
            range,
        })
    })
}

/// Why a node could not be computed: a checker bug, or a bad unpool index
/// (which the data, not the checker, can cause).
enum Failure {
    Fault(Fault),
    UnpoolIndex {
        channel: usize,
        position: usize,
        index: i128,
        limit: usize,
    },
}

impl From<Fault> for Failure {
    fn from(fault: Fault) -> Self {
        Failure::Fault(fault)
    }
}

/// An operand of the node being computed: its id, node and value.
#[derive(Clone, Copy)]
struct Arg<'a> {
    id: NodeId,
    node: &'a Node,
    value: &'a Tensor,
}

impl<'a> Arg<'a> {
    fn frac(&self) -> u32 {
        self.node.frac
    }

    fn shape(&self) -> &'a Shape {
        &self.node.shape
    }

    fn bad_shape(&self) -> Fault {
        Fault::OperandShape {
            operand: self.id,
            shape: self.node.shape.dims(),
        }
    }

    /// `[C, H, W]` of a feature-map operand (other shapes are a fault).
    fn map_chw(&self) -> Result<Chw, Fault> {
        match self.shape() {
            Shape::Map { .. } => Ok(self.shape().chw()),
            _ => Err(self.bad_shape()),
        }
    }

    /// `[O, I, KH, KW]` of a weights operand.
    fn weight_dims(&self) -> Result<(usize, usize, usize, usize), Fault> {
        match *self.shape() {
            Shape::Weights { o, i, kh, kw } => Ok((o, i, kh, kw)),
            _ => Err(self.bad_shape()),
        }
    }
}

/// Computes node `id`'s raw values (C order, at `node.frac`) from the values of
/// the nodes before it.
fn evaluate(
    program: &Program,
    id: NodeId,
    values: &[Tensor],
    inputs: &[Tensor],
) -> Result<Vec<i128>, Failure> {
    let node = &program.nodes[id];
    let arg = |operand: NodeId| -> Result<Arg<'_>, Fault> {
        match (program.nodes.get(operand), values.get(operand)) {
            (Some(operand_node), Some(value)) if operand < id => Ok(Arg {
                id: operand,
                node: operand_node,
                value,
            }),
            _ => Err(Fault::OperandOrder { operand }),
        }
    };
    let data = match &node.op {
        Op::Input { index } => {
            let input = inputs
                .get(*index)
                .ok_or(Fault::InputIndex { index: *index })?;
            input.data.clone()
        }
        Op::Constant { data } => {
            if data.len() != node.shape.len() {
                return Err(Fault::ConstantLength {
                    expected: node.shape.len(),
                    found: data.len(),
                }
                .into());
            }
            data.clone()
        }
        Op::Neg(x) => elementwise::neg(node, arg(*x)?)?,
        Op::Relu(x) => elementwise::relu(node, arg(*x)?)?,
        Op::Round(x, rounding) => elementwise::round(node, arg(*x)?, *rounding)?,
        Op::Shr(x, n) => elementwise::shr(node, arg(*x)?, *n)?,
        Op::Shl(x, n) => elementwise::shl(node, arg(*x)?, *n)?,
        Op::Binary(op, a, b) => elementwise::binary(node, *op, arg(*a)?, arg(*b)?)?,
        Op::Cast {
            x,
            to,
            quant,
            overflow,
        } => elementwise::cast(node, arg(*x)?, to, *quant, *overflow)?,
        Op::Conv { x, w, geom } => conv::conv(node, arg(*x)?, arg(*w)?, geom)?,
        Op::Deconv { x, w, geom } => conv::deconv(node, arg(*x)?, arg(*w)?, geom)?,
        Op::Upsample { x, factor, mode } => resample::upsample(node, arg(*x)?, *factor, *mode)?,
        Op::MaxPool { x, geom } => pool::max_pool(node, arg(*x)?, geom)?,
        Op::MaxPoolIndices { x, geom } => pool::max_pool_indices(node, arg(*x)?, geom)?,
        Op::MaxUnpool { x, idx, out } => pool::max_unpool(node, arg(*x)?, arg(*idx)?, *out)?,
        Op::Concat(xs) => {
            let args = xs.iter().map(|x| arg(*x)).collect::<Result<Vec<_>, _>>()?;
            elementwise::concat(node, &args)?
        }
        Op::Lookup { x, table, offset } => {
            elementwise::lookup(node, arg(*x)?, arg(*table)?, *offset)?
        }
    };
    Ok(data)
}

// Small helpers shared by the stages.

/// Fails unless the node is declared with the shape its operation produces.
fn expect_shape(node: &Node, computed: Shape) -> Result<(), Fault> {
    if node.shape == computed {
        Ok(())
    } else {
        Err(Fault::ResultShape {
            declared: node.shape.dims(),
            computed: computed.dims(),
        })
    }
}

/// Fails unless the node is declared as the `[c, oh, ow]` map its stage
/// produces (an axis of `None`: no output at all); returns `(oh, ow)`.
fn expect_map(
    node: &Node,
    c: usize,
    oh: Option<usize>,
    ow: Option<usize>,
) -> Result<(usize, usize), Fault> {
    let (Some(h), Some(w)) = (oh, ow) else {
        return Err(Fault::EmptyOutput);
    };
    expect_shape(node, Shape::Map { c, h, w })?;
    Ok((h, w))
}

/// Fails unless the node is declared with the fraction bits its operation produces.
fn expect_frac(node: &Node, computed: u32) -> Result<(), Fault> {
    if node.frac == computed {
        Ok(())
    } else {
        Err(Fault::ResultFrac {
            declared: node.frac,
            computed,
        })
    }
}

/// `raw` at `from` fraction bits, re-expressed at `to >= from` (exact).
fn align(raw: i128, from: u32, to: u32) -> Result<i128, Fault> {
    if to < from {
        return Err(Fault::ResultFrac {
            declared: to,
            computed: from,
        });
    }
    crate::numeric::checked_shl(raw, u64::from(to - from)).ok_or(Fault::Overflow)
}

/// Exact `i128` arithmetic: overflow is a fault, never a wrap or a panic.
fn add(a: i128, b: i128) -> Result<i128, Fault> {
    a.checked_add(b).ok_or(Fault::Overflow)
}

fn mul(a: i128, b: i128) -> Result<i128, Fault> {
    a.checked_mul(b).ok_or(Fault::Overflow)
}

/// Fails if a stage parameter is zero.
fn nonzero(param: Param, values: &[usize]) -> Result<(), Fault> {
    match values.iter().find(|&&v| v == 0) {
        Some(&value) => Err(Fault::Parameter { param, value }),
        None => Ok(()),
    }
}

/// Read access to a `[C, H, W]` map in C order, zero-padded outside the plane.
struct MapView<'a> {
    data: &'a [i128],
    h: usize,
    w: usize,
}

impl<'a> MapView<'a> {
    fn new(arg: &Arg<'a>) -> Result<Self, Fault> {
        let Chw { h, w, .. } = arg.map_chw()?;
        Ok(MapView {
            data: &arg.value.data,
            h,
            w,
        })
    }

    /// The value at `(c, y, x)`, or `None` outside the plane (padding).
    fn get(&self, c: usize, y: isize, x: isize) -> Option<i128> {
        let y = usize::try_from(y).ok().filter(|&y| y < self.h)?;
        let x = usize::try_from(x).ok().filter(|&x| x < self.w)?;
        self.data.get((c * self.h + y) * self.w + x).copied()
    }
}
