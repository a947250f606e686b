//! Elementwise stages: negation, relu, rounding, shifts, broadcasting binary
//! operations, casts, and channel concatenation.

use super::{add, align, expect_frac, expect_shape, mul, Arg, Fault};
use crate::ir::{CastOverflow, Chw, Elementwise, Node, Rounding, Shape};
use crate::numeric::{checked_cast_raw, checked_shl, floor_shr, round_to_int};
use crate::types::{Quant, ScalarType};

/// Applies `f` to every value of `x`; the node has `x`'s shape and `frac`.
fn map_values(
    node: &Node,
    x: Arg<'_>,
    frac: u32,
    f: impl Fn(i128) -> Result<i128, Fault>,
) -> Result<Vec<i128>, Fault> {
    expect_shape(node, x.shape().clone())?;
    expect_frac(node, frac)?;
    x.value.data.iter().map(|&v| f(v)).collect()
}

/// `-x`.
pub(super) fn neg(node: &Node, x: Arg<'_>) -> Result<Vec<i128>, Fault> {
    map_values(node, x, x.frac(), |v| {
        v.checked_neg().ok_or(Fault::Overflow)
    })
}

/// `table(x, ...)`: the entry `raw_x - offset` of the table, at its frac.
pub(super) fn lookup(
    node: &Node,
    x: Arg<'_>,
    table: Arg<'_>,
    offset: i128,
) -> Result<Vec<i128>, Fault> {
    let entries = &table.value.data;
    map_values(node, x, table.frac(), |v| {
        v.checked_sub(offset)
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| entries.get(i).copied())
            .ok_or(Fault::TableIndex { value: v })
    })
}

/// `relu(x) = max(x, 0)`.
pub(super) fn relu(node: &Node, x: Arg<'_>) -> Result<Vec<i128>, Fault> {
    map_values(node, x, x.frac(), |v| Ok(v.max(0)))
}

/// `floor(x)`, `round(x)` (half away from zero), `trunc(x)`: integers, frac 0.
pub(super) fn round(node: &Node, x: Arg<'_>, rounding: Rounding) -> Result<Vec<i128>, Fault> {
    map_values(node, x, 0, |v| Ok(round_to_int(v, x.frac(), rounding)))
}

/// `x >> n`: floor division by 2^n, same frac.
pub(super) fn shr(node: &Node, x: Arg<'_>, n: u32) -> Result<Vec<i128>, Fault> {
    map_values(node, x, x.frac(), |v| Ok(floor_shr(v, n)))
}

/// `x << n`: exact multiplication by 2^n, same frac.
pub(super) fn shl(node: &Node, x: Arg<'_>, n: u32) -> Result<Vec<i128>, Fault> {
    map_values(node, x, x.frac(), |v| {
        checked_shl(v, u64::from(n)).ok_or(Fault::Overflow)
    })
}

/// `x as T`: see [`checked_cast_raw`].
pub(super) fn cast(
    node: &Node,
    x: Arg<'_>,
    to: &ScalarType,
    quant: Quant,
    overflow: CastOverflow,
) -> Result<Vec<i128>, Fault> {
    map_values(node, x, to.storage_frac(), |v| {
        checked_cast_raw(v, x.frac(), to, quant, overflow).map_err(|error| Fault::Cast {
            error,
            value: v,
            frac: x.frac(),
        })
    })
}

/// How an operand's elements line up with the result's.
enum Broadcast {
    /// One element per result element.
    Same,
    /// A scalar, repeated everywhere.
    Scalar,
    /// A `[C]` vector over a `[C, H, W]` map: element `c` for channel `c`.
    PerChannel { plane: usize },
}

impl Broadcast {
    fn of(operand: &Arg<'_>, result: &Shape) -> Result<Broadcast, Fault> {
        match (operand.shape(), result) {
            (shape, result) if shape == result => Ok(Broadcast::Same),
            (Shape::Scalar, _) => Ok(Broadcast::Scalar),
            (Shape::Vector(n), Shape::Map { c, h, w }) if n == c => {
                Ok(Broadcast::PerChannel { plane: h * w })
            }
            _ => Err(operand.bad_shape()),
        }
    }

    /// The operand's element for result element `k`.
    fn index(&self, k: usize) -> usize {
        match *self {
            Broadcast::Same => k,
            Broadcast::Scalar => 0,
            Broadcast::PerChannel { plane } => k / plane,
        }
    }
}

/// The shape of `a op b` under the broadcasting rules, or the operand that
/// does not fit.
fn broadcast_shape(a: &Arg<'_>, b: &Arg<'_>) -> Result<Shape, Fault> {
    match (a.shape(), b.shape()) {
        (x, y) if x == y => Ok(x.clone()),
        (Shape::Scalar, other) | (other, Shape::Scalar) => Ok(other.clone()),
        (Shape::Vector(n), map @ Shape::Map { c, .. })
        | (map @ Shape::Map { c, .. }, Shape::Vector(n))
            if n == c =>
        {
            Ok(map.clone())
        }
        _ => Err(b.bad_shape()),
    }
}

/// `a + b`, `a - b`, `a * b`, `max(a, b)`, `min(a, b)` with broadcasting.
/// Except for `*` (whose fracs add), both operands are first aligned to the
/// node's frac.
pub(super) fn binary(
    node: &Node,
    op: Elementwise,
    a: Arg<'_>,
    b: Arg<'_>,
) -> Result<Vec<i128>, Fault> {
    expect_shape(node, broadcast_shape(&a, &b)?)?;
    if op == Elementwise::Mul {
        expect_frac(node, a.frac() + b.frac())?;
    }
    let (from_a, from_b) = (
        Broadcast::of(&a, &node.shape)?,
        Broadcast::of(&b, &node.shape)?,
    );
    (0..node.shape.len())
        .map(|k| {
            let x = a.value.data[from_a.index(k)];
            let y = b.value.data[from_b.index(k)];
            if op == Elementwise::Mul {
                return mul(x, y);
            }
            let x = align(x, a.frac(), node.frac)?;
            let y = align(y, b.frac(), node.frac)?;
            match op {
                Elementwise::Add => add(x, y),
                Elementwise::Sub => x.checked_sub(y).ok_or(Fault::Overflow),
                Elementwise::Max => Ok(x.max(y)),
                Elementwise::Min => Ok(x.min(y)),
                Elementwise::Mul => mul(x, y),
            }
        })
        .collect()
}

/// `concat(a, b, ...)` along channels, every operand aligned to the node's frac.
pub(super) fn concat(node: &Node, xs: &[Arg<'_>]) -> Result<Vec<i128>, Fault> {
    let Shape::Map { h, w, .. } = node.shape else {
        return Err(Fault::ResultShape {
            declared: node.shape.dims(),
            computed: vec![],
        });
    };
    let mut channels = 0;
    for x in xs {
        let Chw { c, h: xh, w: xw } = x.map_chw()?;
        if (xh, xw) != (h, w) {
            return Err(x.bad_shape());
        }
        channels += c;
    }
    expect_shape(node, Shape::Map { c: channels, h, w })?;
    let mut out = Vec::with_capacity(node.shape.len());
    for x in xs {
        for &v in &x.value.data {
            out.push(align(v, x.frac(), node.frac)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{map, run, run_err, run_fault, scalar, vector, ProgramBuilder};
    use crate::interp::{Fault, RunError};
    use crate::ir::{CastOverflow, Elementwise, Op, Rounding, Shape};
    use crate::types::{Overflow, Quant, ScalarType};

    #[test]
    fn unary_operations() {
        let mut p = ProgramBuilder::new();
        let x = p.constant(vector(4), 2, &[-11, -2, 5, 10]); // -2.75 -0.5 1.25 2.5
        p.add(Op::Neg(x), vector(4), 2);
        p.add(Op::Relu(x), vector(4), 2);
        p.add(Op::Round(x, Rounding::Floor), vector(4), 0);
        p.add(Op::Round(x, Rounding::Round), vector(4), 0);
        p.add(Op::Round(x, Rounding::Trunc), vector(4), 0);
        p.add(Op::Shr(x, 2), vector(4), 2);
        p.add(Op::Shl(x, 3), vector(4), 2);
        let values = run(&p.program, &[]);
        assert_eq!(values[1].data, [11, 2, -5, -10]);
        assert_eq!(values[2].data, [0, 0, 5, 10]);
        assert_eq!(values[3].data, [-3, -1, 1, 2]);
        assert_eq!(values[4].data, [-3, -1, 1, 3]);
        assert_eq!(values[5].data, [-2, 0, 1, 2]);
        assert_eq!(values[6].data, [-3, -1, 1, 2]);
        assert_eq!(values[7].data, [-88, -16, 40, 80]);
    }

    #[test]
    fn add_aligns_fractions_and_broadcasts_vectors_over_channels() {
        let mut p = ProgramBuilder::new();
        let m = p.constant(map(2, 1, 2), 0, &[1, 2, 3, 4]);
        let bias = p.constant(vector(2), 1, &[1, -3]); // 0.5, -1.5
        p.add(Op::Binary(Elementwise::Add, bias, m), map(2, 1, 2), 1);
        p.add(Op::Binary(Elementwise::Sub, m, bias), map(2, 1, 2), 1);
        p.add(Op::Binary(Elementwise::Max, m, bias), map(2, 1, 2), 3);
        let values = run(&p.program, &[]);
        assert_eq!(values[2].data, [3, 5, 3, 5]); // 1.5 2.5 1.5 2.5
        assert_eq!(values[3].data, [1, 3, 9, 11]);
        assert_eq!(values[4].data, [8, 16, 24, 32]);
    }

    #[test]
    fn mul_adds_fractions_and_broadcasts_scalars() {
        let mut p = ProgramBuilder::new();
        let m = p.constant(map(1, 2, 2), 0, &[1, -2, 3, 100]);
        let k = p.constant(scalar(), 31, &[7158278]);
        p.add(Op::Binary(Elementwise::Mul, m, k), map(1, 2, 2), 31);
        let v = p.constant(vector(3), 1, &[1, 2, 3]);
        p.add(Op::Binary(Elementwise::Min, v, v), vector(3), 1);
        let values = run(&p.program, &[]);
        assert_eq!(values[2].data, [7158278, -14316556, 21474834, 715827800]);
        assert_eq!(values[4].data, [1, 2, 3]);
    }

    #[test]
    fn seed_requantization_wraps_into_u8() {
        // relu(b + trunc(acc * factor)) as u8 wrap, with 1/300 as the factor.
        let mut p = ProgramBuilder::new();
        let acc = p.constant(map(1, 1, 3), 0, &[90000, -900, 3000]);
        let factor = p.constant(scalar(), 31, &[7158278]);
        let prod = p.add(Op::Binary(Elementwise::Mul, acc, factor), map(1, 1, 3), 31);
        let t = p.add(Op::Round(prod, Rounding::Trunc), map(1, 1, 3), 0);
        let b = p.constant(scalar(), 0, &[-1]);
        let sum = p.add(Op::Binary(Elementwise::Add, b, t), map(1, 1, 3), 0);
        let r = p.add(Op::Relu(sum), map(1, 1, 3), 0);
        p.add(
            Op::Cast {
                x: r,
                to: ScalarType::int(false, 8),
                quant: Quant::TrnZero,
                overflow: CastOverflow::Mode(Overflow::Wrap),
            },
            map(1, 1, 3),
            0,
        );
        let values = run(&p.program, &[]);
        // 90000/300 is just below 300 with the floored factor: trunc 299.
        assert_eq!(values[t].data, [299, -2, 9]);
        assert_eq!(values[r].data, [298, 0, 8]);
        assert_eq!(values[r + 1].data, [42, 0, 8]);
    }

    #[test]
    fn casts_to_fixed_types_use_their_modes() {
        let mut p = ProgramBuilder::new();
        let x = p.constant(vector(3), 5, &[81, -81, -256]); // 2.53125 -2.53125 -8
        let mut t = ScalarType::fixed(true, 8, 4);
        t.quant = Quant::Rnd;
        t.overflow = Overflow::SatSym;
        let cast = Op::Cast {
            x,
            to: t,
            quant: t.quant,
            overflow: CastOverflow::Mode(t.overflow),
        };
        p.add(cast, vector(3), 4);
        let values = run(&p.program, &[]);
        assert_eq!(values[1].data, [41, -40, -127]);
    }

    #[test]
    fn unproven_cast_is_an_internal_error() {
        let mut p = ProgramBuilder::new();
        let x = p.constant(vector(2), 0, &[255, 256]);
        let cast = Op::Cast {
            x,
            to: ScalarType::int(false, 8),
            quant: Quant::TrnZero,
            overflow: CastOverflow::Proven,
        };
        p.add(cast, vector(2), 0);
        let err = run_err(&p.program, &[]);
        assert_eq!(
            err.to_string(),
            "internal error in `t` (node 1, `test`): cast of 256: the value does not fit the target type"
        );
        match err {
            RunError::Internal { node, fault } => {
                assert_eq!(node.id, 1);
                assert!(matches!(*fault, Fault::Cast { value: 256, .. }));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn concat_aligns_operands() {
        let mut p = ProgramBuilder::new();
        let a = p.constant(map(1, 1, 2), 0, &[1, 2]);
        let b = p.constant(map(2, 1, 2), 2, &[1, 2, 3, 4]);
        p.add(Op::Concat(vec![a, b, a]), map(4, 1, 2), 2);
        let values = run(&p.program, &[]);
        assert_eq!(values[2].data, [4, 8, 1, 2, 3, 4, 4, 8]);
    }

    #[test]
    fn mismatched_shapes_and_fracs_are_faults() {
        let mut p = ProgramBuilder::new();
        let a = p.constant(vector(2), 0, &[1, 2]);
        let b = p.constant(vector(3), 0, &[1, 2, 3]);
        p.add(Op::Binary(Elementwise::Add, a, b), vector(3), 0);
        assert!(matches!(
            run_fault(&p.program, &[]),
            Fault::OperandShape { operand: 1, .. }
        ));
        let mut p = ProgramBuilder::new();
        let a = p.constant(vector(2), 3, &[1, 2]);
        p.add(Op::Binary(Elementwise::Add, a, a), vector(2), 2);
        assert!(matches!(
            run_fault(&p.program, &[]),
            Fault::ResultFrac { .. }
        ));
        let mut p = ProgramBuilder::new();
        let a = p.constant(vector(2), 3, &[1, 2]);
        p.add(Op::Binary(Elementwise::Mul, a, a), vector(2), 3);
        assert!(matches!(
            run_fault(&p.program, &[]),
            Fault::ResultFrac {
                declared: 3,
                computed: 6
            }
        ));
        // Operands must come before the node.
        let mut p = ProgramBuilder::new();
        p.add(Op::Relu(1), Shape::Scalar, 0);
        p.constant(scalar(), 0, &[1]);
        assert!(matches!(
            run_fault(&p.program, &[]),
            Fault::OperandOrder { operand: 1 }
        ));
    }
}
