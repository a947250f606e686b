//! [`Program::verify`]: the invariants of the module doc, checked one by one.
//! The checker establishes them and the backends rely on them without
//! looking; `convoy::check` runs this in debug builds (and so in every test)
//! so that a checker bug shows where it happens, not as a wrong value later.

use super::{Node, NodeId, Op, Program, Resample, Shape};

/// One invariant of the module doc.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Invariant {
    /// Operands come before their users (and name nodes that exist).
    TopologicalOrder,
    /// `program.inputs[i].node` is an `Op::Input { index: i }` node.
    InputNode,
    /// `program.outputs[i].node` names a node.
    OutputNode,
    /// `ranges.len() == shape.channels()`.
    RangePerChannel,
    /// Every range is non-empty and within 127 signed bits.
    RangeWidth,
    /// A constant has one value per element, each inside its channel's range.
    ConstantValues,
    /// The node's `frac` is the one its operation gives.
    Frac,
    /// Conv and deconv weights are `Op::Constant` nodes of weights shape.
    ConstantWeights,
    /// `node.ty` holds every value of the range, at `storage_frac() == frac`.
    Type,
}

/// The first invariant `verify` found broken, and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Broken {
    /// The node breaking it (for inputs and outputs, the node they name).
    pub node: NodeId,
    pub invariant: Invariant,
}

/// Node ranges stay within 127 signed bits: `-2^126 ..= 2^126 - 1`.
const RANGE_BITS: u32 = 127;

impl Program {
    /// Checks every invariant of the module doc; the first broken one is
    /// returned with the node breaking it.
    pub fn verify(&self) -> Result<(), Broken> {
        for (id, node) in self.nodes.iter().enumerate() {
            let broken = |invariant| Broken {
                node: id,
                invariant,
            };
            if node.op.operands().iter().any(|&x| x >= id) {
                return Err(broken(Invariant::TopologicalOrder));
            }
            if node.ranges.len() != node.shape.channels() {
                return Err(broken(Invariant::RangePerChannel));
            }
            let limit = 1i128 << (RANGE_BITS - 1);
            if node
                .ranges
                .iter()
                .any(|r| r.lo > r.hi || r.lo < -limit || r.hi >= limit)
            {
                return Err(broken(Invariant::RangeWidth));
            }
            if !constant_in_range(node) {
                return Err(broken(Invariant::ConstantValues));
            }
            if !weights_constant(self, node) {
                return Err(broken(Invariant::ConstantWeights));
            }
            if expected_frac(self, node) != Some(node.frac) {
                return Err(broken(Invariant::Frac));
            }
            if !type_holds(node) {
                return Err(broken(Invariant::Type));
            }
        }
        for (i, info) in self.inputs.iter().enumerate() {
            let ok = self
                .nodes
                .get(info.node)
                .is_some_and(|n| n.op == Op::Input { index: i });
            if !ok {
                return Err(Broken {
                    node: info.node,
                    invariant: Invariant::InputNode,
                });
            }
        }
        match self.outputs.iter().find(|o| o.node >= self.nodes.len()) {
            Some(o) => Err(Broken {
                node: o.node,
                invariant: Invariant::OutputNode,
            }),
            None => Ok(()),
        }
    }
}

/// A constant's data: one value per element, inside its channel's range.
fn constant_in_range(node: &Node) -> bool {
    let Op::Constant { data } = &node.op else {
        return true;
    };
    let plane = node.shape.plane().max(1);
    data.len() == node.shape.len()
        && data.iter().enumerate().all(|(k, &v)| {
            node.ranges
                .get(k / plane)
                .is_some_and(|range| range.contains(v))
        })
}

fn weights_constant(program: &Program, node: &Node) -> bool {
    let (Op::Conv { w, .. } | Op::Deconv { w, .. }) = node.op else {
        return true;
    };
    program.nodes.get(w).is_some_and(|w| {
        matches!(w.op, Op::Constant { .. }) && matches!(w.shape, Shape::Weights { .. })
    })
}

/// The fraction bits `node`'s operation gives its result (`None`: none can
/// be right, e.g. a bilinear factor that is not a power of two).
fn expected_frac(program: &Program, node: &Node) -> Option<u32> {
    let frac = |x: NodeId| program.nodes.get(x).map(|n| n.frac);
    let largest = |xs: &[NodeId]| -> Option<u32> {
        xs.iter()
            .map(|&x| frac(x))
            .collect::<Option<Vec<u32>>>()
            .map(|f| f.into_iter().max().unwrap_or(0))
    };
    match &node.op {
        Op::Input { .. } | Op::Constant { .. } => Some(node.frac),
        Op::Neg(x)
        | Op::Relu(x)
        | Op::Shr(x, _)
        | Op::Shl(x, _)
        | Op::MaxPool { x, .. }
        | Op::MaxUnpool { x, .. }
        | Op::Upsample {
            x,
            mode: Resample::Nearest,
            ..
        } => frac(*x),
        Op::Binary(crate::ir::Elementwise::Mul, a, b) => Some(frac(*a)? + frac(*b)?),
        Op::Binary(_, a, b) => largest(&[*a, *b]),
        Op::Concat(xs) => largest(xs),
        Op::Conv { x, w, .. } | Op::Deconv { x, w, .. } => Some(frac(*x)? + frac(*w)?),
        Op::Round(..) | Op::MaxPoolIndices { .. } => Some(0),
        Op::Lookup { table, .. } => frac(*table),
        Op::Cast { to, .. } => Some(to.storage_frac()),
        Op::Upsample {
            x,
            factor,
            mode: Resample::Bilinear,
        } => {
            let bits = |f: usize| match f {
                1 => Some(0),
                f if f.is_power_of_two() => Some((2 * f).trailing_zeros()),
                _ => None,
            };
            Some(frac(*x)? + bits(factor.h)? + bits(factor.w)?)
        }
    }
}

/// Whether `node.ty` stores the node's values exactly: the same fraction
/// bits, and every value of the range among its codes.
fn type_holds(node: &Node) -> bool {
    let ty = &node.ty;
    if ty.storage_frac() != node.frac {
        return false;
    }
    if ty.width == 0 {
        return false;
    }
    if ty.width >= RANGE_BITS {
        // Wider than any range can be.
        return true;
    }
    let (code_lo, code_hi) = crate::numeric::code_bounds(ty.signed, ty.width);
    // Codes weigh 2^-frac_bits; values are held at 2^-storage_frac, `up`
    // more bits (types with negative fraction bits).
    let up = u64::from(ty.storage_frac()).saturating_add_signed(-i64::from(ty.frac_bits()));
    let scaled = |code: i128| crate::numeric::checked_shl(code, up);
    let range = node.range();
    scaled(code_lo).is_none_or(|lo| lo <= range.lo)
        && scaled(code_hi).is_none_or(|hi| range.hi <= hi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::SourceMap;
    use crate::ir::{Interval, Pair};
    use crate::types::ScalarType;
    use crate::{CheckOptions, NoFiles};

    /// A program with every kind of operation, as the checker builds it.
    const SOURCE: &str = "
pipeline p {
  input x: u8[2, 8, 8]
  param w: i8[2, 1, 3, 3] = random(seed: 1)
  param b: i16[2] = random(seed: 2)
  const k: fixed<16, 1> = 0.25
  let c = relu(b + trunc(dwconv(x, w, pad: 1) * k)) as u8 wrap
  let (m, idx) = maxpool(c, 2, indices: true)
  let u = maxunpool(m, idx, 2)
  let up = upsample(m, 2, bilinear)
  let y = concat(u, round(up) as u8) >> 1
  output y
}
";

    fn program() -> Program {
        let mut sources = SourceMap::new();
        let id = sources.add("verify.cnn", SOURCE);
        match crate::compile(&mut sources, id, &CheckOptions::default(), &NoFiles) {
            Ok(checked) => checked.program,
            Err(d) => panic!("{d:?}"),
        }
    }

    fn find(p: &Program, f: impl Fn(&Op) -> bool) -> NodeId {
        p.nodes.iter().position(|n| f(&n.op)).expect("such a node")
    }

    /// `corrupt` applied to the checked program breaks `invariant` at the
    /// node it returns.
    fn caught(invariant: Invariant, corrupt: impl Fn(&mut Program) -> NodeId) {
        let mut p = program();
        assert_eq!(p.verify(), Ok(()), "the checked program is sound");
        let node = corrupt(&mut p);
        assert_eq!(p.verify(), Err(Broken { node, invariant }));
    }

    #[test]
    fn checked_programs_verify() {
        assert_eq!(program().verify(), Ok(()));
    }

    #[test]
    fn operands_after_their_user() {
        caught(Invariant::TopologicalOrder, |p| {
            let r = find(p, |op| matches!(op, Op::Relu(_)));
            p.nodes[r].op = Op::Relu(r);
            r
        });
    }

    #[test]
    fn input_names_another_node() {
        caught(Invariant::InputNode, |p| {
            let conv = find(p, |op| matches!(op, Op::Conv { .. }));
            p.inputs[0].node = conv;
            conv
        });
        caught(Invariant::InputNode, |p| {
            let x = p.inputs[0].node;
            p.nodes[x].op = Op::Input { index: 1 };
            x
        });
    }

    #[test]
    fn output_names_no_node() {
        caught(Invariant::OutputNode, |p| {
            p.outputs[0].node = p.nodes.len();
            p.nodes.len()
        });
    }

    #[test]
    fn ranges_not_per_channel() {
        caught(Invariant::RangePerChannel, |p| {
            let conv = find(p, |op| matches!(op, Op::Conv { .. }));
            p.nodes[conv].ranges.pop();
            conv
        });
    }

    #[test]
    fn range_beyond_127_bits_or_empty() {
        caught(Invariant::RangeWidth, |p| {
            let conv = find(p, |op| matches!(op, Op::Conv { .. }));
            p.nodes[conv].ranges[0] = Interval::new(0, 1i128 << 126);
            conv
        });
        caught(Invariant::RangeWidth, |p| {
            let conv = find(p, |op| matches!(op, Op::Conv { .. }));
            p.nodes[conv].ranges[1] = Interval::new(1, 0);
            conv
        });
    }

    #[test]
    fn constant_outside_its_range_or_of_the_wrong_length() {
        caught(Invariant::ConstantValues, |p| {
            let b = find(
                p,
                |op| matches!(op, Op::Constant { data } if data.len() == 2),
            );
            let hi = p.nodes[b].ranges[1].hi;
            if let Op::Constant { data } = &mut p.nodes[b].op {
                data[1] = hi + 1;
            }
            b
        });
        caught(Invariant::ConstantValues, |p| {
            let b = find(
                p,
                |op| matches!(op, Op::Constant { data } if data.len() == 2),
            );
            if let Op::Constant { data } = &mut p.nodes[b].op {
                data.pop();
            }
            b
        });
    }

    #[test]
    fn weights_that_are_not_constant() {
        caught(Invariant::ConstantWeights, |p| {
            let conv = find(p, |op| matches!(op, Op::Conv { .. }));
            let b = find(
                p,
                |op| matches!(op, Op::Constant { data } if data.len() == 2),
            );
            if let Op::Conv { w, .. } = &mut p.nodes[conv].op {
                *w = b;
            }
            conv
        });
    }

    #[test]
    fn fraction_bits_not_from_the_operation() {
        for wrong in [
            (|op: &Op| matches!(op, Op::Conv { .. })) as fn(&Op) -> bool,
            |op| matches!(op, Op::Binary(crate::ir::Elementwise::Mul, ..)),
            |op| matches!(op, Op::Binary(crate::ir::Elementwise::Add, ..)),
            |op| matches!(op, Op::Relu(_)),
            |op| matches!(op, Op::Round(..)),
            |op| matches!(op, Op::MaxPoolIndices { .. }),
            |op| matches!(op, Op::Concat(_)),
            |op| matches!(op, Op::Shr(..)),
        ] {
            caught(Invariant::Frac, |p| {
                let n = find(p, wrong);
                p.nodes[n].frac += 1;
                p.nodes[n].ty.int_bits -= 1;
                n
            });
        }
        caught(Invariant::Frac, |p| {
            let up = find(p, |op| matches!(op, Op::Upsample { .. }));
            if let Op::Upsample { factor, .. } = &mut p.nodes[up].op {
                *factor = Pair { h: 3, w: 2 };
            }
            up
        });
    }

    #[test]
    fn type_too_narrow_or_at_other_fraction_bits() {
        caught(Invariant::Type, |p| {
            let conv = find(p, |op| matches!(op, Op::Conv { .. }));
            p.nodes[conv].ty.width -= 1;
            p.nodes[conv].ty.int_bits -= 1;
            conv
        });
        caught(Invariant::Type, |p| {
            let scaled = find(p, |op| {
                matches!(op, Op::Binary(crate::ir::Elementwise::Mul, ..))
            });
            p.nodes[scaled].ty.int_bits += 1;
            scaled
        });
        caught(Invariant::Type, |p| {
            let x = p.inputs[0].node;
            p.nodes[x].ty = ScalarType::int(true, 8);
            x
        });
    }
}
