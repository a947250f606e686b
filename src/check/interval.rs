//! Exact interval arithmetic on raw values (integers scaled by 2^frac).
//! Every result is checked against the widest intermediate Convoy allows, so
//! the interpreter's i128 arithmetic can never overflow.

use crate::ir::Interval;

/// Intermediate values must stay below 2^LIMIT_BITS in magnitude: one bit of
/// headroom under i128 so that aligned sums of two values cannot overflow.
pub const LIMIT_BITS: u32 = 126;

/// An intermediate result would need more bits than Convoy allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overflowed;

pub type Result<T> = std::result::Result<T, Overflowed>;

pub fn within_limit(v: i128) -> Result<i128> {
    let limit = 1i128 << LIMIT_BITS;
    if v > -limit && v < limit {
        Ok(v)
    } else {
        Err(Overflowed)
    }
}

fn interval(lo: i128, hi: i128) -> Result<Interval> {
    Ok(Interval::new(within_limit(lo)?, within_limit(hi)?))
}

/// An exact interval result (`None`: past i128) checked against the limit.
fn limited(exact: Option<Interval>) -> Result<Interval> {
    let i = exact.ok_or(Overflowed)?;
    interval(i.lo, i.hi)
}

pub fn shl_value(v: i128, n: u32) -> Result<i128> {
    if n >= LIMIT_BITS {
        return if v == 0 { Ok(0) } else { Err(Overflowed) };
    }
    within_limit(v.checked_mul(1i128 << n).ok_or(Overflowed)?)
}

/// The interval rescaled from `from` to `to >= from` fraction bits.
pub fn align(i: Interval, from: u32, to: u32) -> Result<Interval> {
    let n = to.saturating_sub(from);
    interval(shl_value(i.lo, n)?, shl_value(i.hi, n)?)
}

pub fn add(a: Interval, b: Interval) -> Result<Interval> {
    limited(a.checked_add(b))
}

pub fn sub(a: Interval, b: Interval) -> Result<Interval> {
    limited(a.checked_sub(b))
}

/// Every corner product lies between the two ends, so checking the ends
/// against the limit checks them all.
pub fn mul(a: Interval, b: Interval) -> Result<Interval> {
    limited(a.checked_mul(b))
}

pub fn max(a: Interval, b: Interval) -> Interval {
    Interval::new(a.lo.max(b.lo), a.hi.max(b.hi))
}

pub fn min(a: Interval, b: Interval) -> Interval {
    Interval::new(a.lo.min(b.lo), a.hi.min(b.hi))
}

pub fn neg(a: Interval) -> Interval {
    Interval::new(-a.hi, -a.lo)
}

pub fn relu(a: Interval) -> Interval {
    Interval::new(a.lo.max(0), a.hi.max(0))
}

/// Applies a monotone non-decreasing function to both ends.
pub fn monotone(a: Interval, f: impl Fn(i128) -> i128) -> Interval {
    Interval::new(f(a.lo), f(a.hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_take_every_corner() {
        let a = Interval::new(-3, 2);
        let b = Interval::new(-5, 7);
        assert_eq!(mul(a, b), Ok(Interval::new(-21, 15)));
        assert_eq!(sub(a, b), Ok(Interval::new(-10, 7)));
    }

    #[test]
    fn limits_are_enforced() {
        let big = Interval::new(0, 1i128 << 100);
        assert_eq!(mul(big, big), Err(Overflowed));
        assert_eq!(align(Interval::new(-1, 1), 0, 130), Err(Overflowed));
        assert_eq!(align(Interval::new(0, 0), 0, 130), Ok(Interval::new(0, 0)));
    }
}
