//! Choosing machine integer types from proven ranges: a value lives in the
//! narrowest of i8/i16/i32/i64/i128 that holds it as a signed number, and an
//! operation runs in the narrowest type holding its operands, its result and
//! every intermediate it forms (exact [`Interval`] arithmetic on i128).

use cranelift_codegen::ir::types::{I128, I16, I32, I64, I8};
use cranelift_codegen::ir::Type;

use crate::ir::Interval;

/// Bits of the narrowest two's-complement register holding `r`.
pub(crate) fn signed_bits(r: Interval) -> u32 {
    let need = |v: i128| {
        if v < 0 {
            129 - (!v).leading_zeros()
        } else {
            129 - v.leading_zeros()
        }
    };
    need(r.lo).max(need(r.hi)).min(128)
}

/// The narrowest machine type holding every interval as signed values.
pub(crate) fn ty_for(ranges: &[Interval]) -> Type {
    let bits = ranges.iter().map(|&r| signed_bits(r)).max().unwrap_or(1);
    ty_of_bits(bits)
}

pub(crate) fn ty_of_bits(bits: u32) -> Type {
    match bits {
        0..=8 => I8,
        9..=16 => I16,
        17..=32 => I32,
        33..=64 => I64,
        _ => I128,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrowest_signed_registers() {
        let bits = |lo, hi| signed_bits(Interval::new(lo, hi));
        assert_eq!(bits(0, 127), 8);
        assert_eq!(bits(0, 128), 9);
        assert_eq!(bits(-128, 0), 8);
        assert_eq!(bits(-129, 0), 9);
        assert_eq!(bits(0, 0), 1);
        assert_eq!(bits(i128::MIN, i128::MAX), 128);
        let ty = |spans: &[(i128, i128)]| {
            let ranges: Vec<Interval> = spans
                .iter()
                .map(|&(lo, hi)| Interval::new(lo, hi))
                .collect();
            ty_for(&ranges)
        };
        assert_eq!(ty(&[(0, 255)]), I16);
        assert_eq!(ty(&[(-1, 1), (0, 1 << 40)]), I64);
        assert_eq!(ty(&[(i64::MIN as i128, i64::MAX as i128)]), I64);
        assert_eq!(ty(&[(0, u64::MAX as i128)]), I128);
        assert_eq!(ty_of_bits(32), I32);
    }
}
