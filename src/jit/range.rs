//! Choosing machine integer types from proven ranges: a value lives in the
//! narrowest of i8/i16/i32/i64/i128 that holds it as a signed number, and an
//! operation runs in the narrowest type holding its operands, its result and
//! every intermediate it forms. All interval arithmetic here is exact i128.

use cranelift_codegen::ir::types::{I128, I16, I32, I64, I8};
use cranelift_codegen::ir::Type;

/// An exact interval; `None` when a bound does not fit in i128.
pub(crate) type Span128 = (i128, i128);

/// Bits of the narrowest two's-complement register holding `lo..=hi`.
pub(crate) fn signed_bits(lo: i128, hi: i128) -> u32 {
    let need = |v: i128| {
        if v < 0 {
            129 - (!v).leading_zeros()
        } else {
            129 - v.leading_zeros()
        }
    };
    need(lo).max(need(hi)).min(128)
}

/// The narrowest machine type holding every interval as signed values.
pub(crate) fn ty_for(ranges: &[Span128]) -> Type {
    let bits = ranges
        .iter()
        .map(|&(lo, hi)| signed_bits(lo, hi))
        .max()
        .unwrap_or(1);
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

pub(crate) fn shl_range(r: Span128, n: u32) -> Option<Span128> {
    let s = |v: i128| crate::numeric::checked_shl(v, u64::from(n));
    Some((s(r.0)?, s(r.1)?))
}

pub(crate) fn mul_range(a: Span128, b: Span128) -> Option<Span128> {
    let p = [
        a.0.checked_mul(b.0)?,
        a.0.checked_mul(b.1)?,
        a.1.checked_mul(b.0)?,
        a.1.checked_mul(b.1)?,
    ];
    Some((*p.iter().min()?, *p.iter().max()?))
}

pub(crate) fn hull(a: Span128, b: Span128) -> Span128 {
    (a.0.min(b.0), a.1.max(b.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrowest_signed_registers() {
        assert_eq!(signed_bits(0, 127), 8);
        assert_eq!(signed_bits(0, 128), 9);
        assert_eq!(signed_bits(-128, 0), 8);
        assert_eq!(signed_bits(-129, 0), 9);
        assert_eq!(signed_bits(0, 0), 1);
        assert_eq!(signed_bits(i128::MIN, i128::MAX), 128);
        assert_eq!(ty_for(&[(0, 255)]), I16);
        assert_eq!(ty_for(&[(-1, 1), (0, 1 << 40)]), I64);
        assert_eq!(ty_for(&[(i64::MIN as i128, i64::MAX as i128)]), I64);
        assert_eq!(ty_for(&[(0, u64::MAX as i128)]), I128);
        assert_eq!(ty_of_bits(32), I32);
    }
}
