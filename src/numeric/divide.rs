//! Average pooling's division: `n / d` rounded to the nearest integer, ties
//! to even, exactly, and the invariant multiplier that computes its floor
//! with one multiply and one shift (Granlund and Montgomery, 1994).

/// `n / d` rounded to the nearest integer, ties to the even one (`d > 0`).
pub fn div_round_even(n: i128, d: i128) -> i128 {
    debug_assert!(d > 0);
    let q = n.div_euclid(d);
    let r = n.rem_euclid(d); // n = q d + r, 0 <= r < d
    match (2 * r).cmp(&d) {
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => q + (q & 1),
    }
}

/// `floor(n / d)` for every `0 <= n < 2^bits` as `(n * m) >> shift`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reciprocal {
    pub m: u128,
    pub shift: u32,
}

impl Reciprocal {
    /// With `shift = bits + ceil(log2 d)` and `m = ceil(2^shift / d)`:
    /// `m d = 2^shift + e` with `0 <= e < d`, so
    /// `n m / 2^shift = n / d + n e / (d 2^shift)`, and the error term is
    /// below `2^bits d / (d 2^shift) = 2^-ceil(log2 d) <= 1 / d`; `n / d`
    /// is at most `1 - 1/d` above its floor, so the sum stays below the
    /// next integer and the floor is unchanged. `None` when `m n` could
    /// need more than 127 bits.
    pub fn new(d: u64, bits: u32) -> Option<Reciprocal> {
        if d == 0 {
            return None;
        }
        let log = 64 - (d - 1).leading_zeros(); // ceil(log2 d)
        let shift = bits + log;
        if shift + 1 >= 127 || bits + shift + 1 >= 127 {
            return None;
        }
        let d = u128::from(d);
        let m = (1u128 << shift).div_ceil(d);
        Some(Reciprocal { m, shift })
    }

    pub fn floor(&self, n: u128) -> u128 {
        (n * self.m) >> self.shift
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_go_to_even() {
        assert_eq!(div_round_even(1, 2), 0);
        assert_eq!(div_round_even(3, 2), 2);
        assert_eq!(div_round_even(5, 2), 2);
        assert_eq!(div_round_even(-1, 2), 0);
        assert_eq!(div_round_even(-3, 2), -2);
        assert_eq!(div_round_even(-5, 2), -2);
        assert_eq!(div_round_even(7, 3), 2);
        assert_eq!(div_round_even(8, 3), 3);
        assert_eq!(div_round_even(-8, 3), -3);
        assert_eq!(div_round_even(9, 6), 2); // 1.5 -> 2
        assert_eq!(div_round_even(15, 6), 2); // 2.5 -> 2
    }

    #[test]
    fn against_an_exact_rational_model() {
        for d in 1..=60i128 {
            for n in -500..=500i128 {
                // Nearest by comparing distances in integers, ties to even.
                let lo = n.div_euclid(d);
                let (dl, dh) = (n - lo * d, (lo + 1) * d - n);
                let want = if dl < dh || (dl == dh && lo % 2 == 0) {
                    lo
                } else {
                    lo + 1
                };
                assert_eq!(div_round_even(n, d), want, "{n} / {d}");
            }
        }
    }

    #[test]
    fn the_reciprocal_is_exact_on_its_whole_domain() {
        for d in 1..=100u64 {
            let bits = 12;
            let r = Reciprocal::new(d, bits).unwrap();
            for n in 0..(1u128 << bits) {
                assert_eq!(r.floor(n), n / u128::from(d), "{n} / {d}");
            }
        }
        assert!(Reciprocal::new(3, 120).is_none());
    }
}
