//! Changing the number of fraction bits of an exact value: an exact left shift
//! when bits are added, one of the ap_fixed quantization modes when they are
//! dropped.

use std::cmp::Ordering;

use crate::ir::Rounding;
use crate::types::Quant;

/// `floor(raw / 2^n)`: an arithmetic right shift. Any `n` is allowed; from
/// `n = 127` on, every value becomes 0 (non-negative) or -1 (negative).
pub fn floor_shr(raw: i128, n: u32) -> i128 {
    raw >> n.min(127)
}

/// `raw * 2^n`, or `None` when the product does not fit in `i128`.
pub fn checked_shl(raw: i128, n: u64) -> Option<i128> {
    if raw == 0 {
        return Some(0);
    }
    if n >= 128 {
        return None;
    }
    let shifted = raw << n;
    (shifted >> n == raw).then_some(shifted)
}

/// The value `raw / 2^from_frac` requantized to a multiple of `2^-to_frac`,
/// returned as its integer code at `to_frac`, or `None` when an exact left
/// shift (`to_frac > from_frac`) does not fit in `i128`.
///
/// Dropped bits are handled as ap_fixed does: `Trn` floors, `TrnZero`
/// truncates toward zero, and the `Rnd*` modes round to the nearest code,
/// breaking ties toward +inf (`Rnd`), zero (`RndZero`), away from zero
/// (`RndInf`), -inf (`RndMinInf`) or to the even code (`RndConv`).
/// Dropping bits never fails, however many.
pub fn checked_quantize(raw: i128, from_frac: i32, to_frac: i32, q: Quant) -> Option<i128> {
    let shift = i64::from(to_frac) - i64::from(from_frac);
    if shift >= 0 {
        checked_shl(raw, shift.unsigned_abs())
    } else {
        Some(shr_round(raw, shift.unsigned_abs(), q))
    }
}

/// [`checked_quantize`], saturating to `i128::MIN` / `i128::MAX` when an exact
/// left shift does not fit in `i128` (callers that keep values within 126 bits
/// and shift within range never see that).
pub fn quantize(raw: i128, from_frac: i32, to_frac: i32, q: Quant) -> i128 {
    checked_quantize(raw, from_frac, to_frac, q).unwrap_or(if raw < 0 {
        i128::MIN
    } else {
        i128::MAX
    })
}

/// The exact fraction `num / den` quantized to a multiple of `2^-to_frac` with
/// mode `q`, returned as the integer code at `to_frac`. `None` when `den` is
/// zero or when `num * 2^to_frac` (or `den * 2^-to_frac`) does not fit in
/// `i128`. Used for decimal `const` literals: `0.0123` is `123 / 10000`.
pub fn quantize_rational(num: i128, den: i128, to_frac: i32, q: Quant) -> Option<i128> {
    if den == 0 {
        return None;
    }
    let (num, den) = if den < 0 {
        (num.checked_neg()?, den.checked_neg()?)
    } else {
        (num, den)
    };
    let to_frac = i64::from(to_frac);
    let (num, den) = if to_frac >= 0 {
        (checked_shl(num, to_frac.unsigned_abs())?, den)
    } else {
        (num, checked_shl(den, to_frac.unsigned_abs())?)
    };
    let floor = num.div_euclid(den);
    let rem = num.rem_euclid(den);
    // rem < den, so `den - rem` cannot overflow; comparing rem with den - rem
    // is comparing rem with den / 2 without halving.
    Some(round_quotient(floor, rem != 0, rem.cmp(&(den - rem)), q))
}

/// `floor`, `round` (half away from zero) or `trunc` (toward zero) of
/// `raw / 2^frac`, as an integer.
pub fn round_to_int(raw: i128, frac: u32, rounding: Rounding) -> i128 {
    let q = match rounding {
        Rounding::Floor => Quant::Trn,
        Rounding::Round => Quant::RndInf,
        Rounding::Trunc => Quant::TrnZero,
    };
    shr_round(raw, u64::from(frac), q)
}

/// `raw / 2^n` quantized to an integer with mode `q`.
fn shr_round(raw: i128, n: u64, q: Quant) -> i128 {
    if n == 0 {
        return raw;
    }
    if n >= 128 {
        // |raw| <= 2^127 <= 2^(n-1): the value lies in [-1/2, 1/2), and is
        // exactly -1/2 only for i128::MIN shifted by 128.
        let floor = if raw < 0 { -1 } else { 0 };
        let half = if raw >= 0 {
            Ordering::Less
        } else if n == 128 && raw == i128::MIN {
            Ordering::Equal
        } else {
            Ordering::Greater
        };
        return round_quotient(floor, raw != 0, half, q);
    }
    let n = n as u32; // 1..=127
    let floor = raw >> n;
    let rem = raw & (i128::MAX >> (127 - n)); // the low n bits: raw - floor * 2^n
    let half = 1i128 << (n - 1);
    round_quotient(floor, rem != 0, rem.cmp(&half), q)
}

/// Chooses between `floor` and `floor + 1` for an exact value
/// `floor + rem / den` with `0 <= rem < den`: `inexact` is `rem != 0` and
/// `half` compares `rem` with `den / 2`. The value is negative exactly when
/// `floor < 0`. Callers have `den >= 2` whenever `inexact`, so `floor + 1`
/// cannot overflow.
pub(crate) fn round_quotient(floor: i128, inexact: bool, half: Ordering, q: Quant) -> i128 {
    if !inexact {
        return floor;
    }
    let up = match (q, half) {
        (Quant::Trn, _) => false,
        (Quant::TrnZero, _) => floor < 0,
        (_, Ordering::Less) => false,
        (_, Ordering::Greater) => true,
        (Quant::Rnd, Ordering::Equal) => true,
        (Quant::RndZero, Ordering::Equal) => floor < 0,
        (Quant::RndInf, Ordering::Equal) => floor >= 0,
        (Quant::RndMinInf, Ordering::Equal) => false,
        (Quant::RndConv, Ordering::Equal) => floor & 1 != 0,
    };
    if up {
        floor + 1
    } else {
        floor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Quantizes `raw / 2^from` to `to` fraction bits.
    fn q(raw: i128, from: i32, to: i32, mode: Quant) -> i128 {
        checked_quantize(raw, from, to, mode).expect("right shifts never fail")
    }

    // 2.53125 = 81/32; ap_fixed<8,4,Q> has LSB 1/16, so 2.53125 is the tie
    // between 2.5 (40/16) and 2.5625 (41/16).
    const TIE: i128 = 81;

    #[test]
    fn measured_ap_fixed_rounding_facts() {
        assert_eq!(q(TIE, 5, 4, Quant::Rnd), 41); // 2.5625
        assert_eq!(q(-TIE, 5, 4, Quant::Rnd), -40); // -2.5
        assert_eq!(q(TIE, 5, 4, Quant::RndZero), 40);
        assert_eq!(q(-TIE, 5, 4, Quant::RndZero), -40);
        assert_eq!(q(TIE, 5, 4, Quant::RndMinInf), 40);
        assert_eq!(q(-TIE, 5, 4, Quant::RndMinInf), -41);
        assert_eq!(q(TIE, 5, 4, Quant::RndInf), 41);
        assert_eq!(q(-TIE, 5, 4, Quant::RndInf), -41);
        // 40 is even: ties to it from both 2.53125 and, from above, 83/32 -> 42.
        assert_eq!(q(TIE, 5, 4, Quant::RndConv), 40);
        assert_eq!(q(-TIE, 5, 4, Quant::RndConv), -40);
        assert_eq!(q(83, 5, 4, Quant::RndConv), 42);
        assert_eq!(q(-83, 5, 4, Quant::RndConv), -42);
        assert_eq!(q(TIE, 5, 4, Quant::Trn), 40);
        assert_eq!(q(-TIE, 5, 4, Quant::Trn), -41);
        assert_eq!(q(TIE, 5, 4, Quant::TrnZero), 40);
        assert_eq!(q(-TIE, 5, 4, Quant::TrnZero), -40);
    }

    #[test]
    fn assignment_floors_and_integer_conversion_truncates() {
        // -2.75 = -11/4: AP_TRN floors to -3, to_int() truncates to -2.
        assert_eq!(q(-11, 2, 0, Quant::Trn), -3);
        assert_eq!(q(-11, 2, 0, Quant::TrnZero), -2);
        assert_eq!(round_to_int(-11, 2, Rounding::Floor), -3);
        assert_eq!(round_to_int(-11, 2, Rounding::Trunc), -2);
        assert_eq!(round_to_int(-11, 2, Rounding::Round), -3);
        assert_eq!(round_to_int(11, 2, Rounding::Round), 3);
    }

    #[test]
    fn round_half_away_from_zero() {
        assert_eq!(round_to_int(5, 1, Rounding::Round), 3); // 2.5
        assert_eq!(round_to_int(-5, 1, Rounding::Round), -3);
        assert_eq!(round_to_int(-3, 1, Rounding::Round), -2); // -1.5
        assert_eq!(round_to_int(-1, 2, Rounding::Round), 0); // -0.25
        assert_eq!(round_to_int(7, 0, Rounding::Trunc), 7);
        assert_eq!(round_to_int(-1, 3, Rounding::Floor), -1);
        assert_eq!(round_to_int(-1, 3, Rounding::Trunc), 0);
    }

    #[test]
    fn every_mode_away_from_ties() {
        // 2.5625 + 1/64 = 165/64 at 4 bits: nearest is 41/16 in every Rnd mode.
        for mode in [
            Quant::Rnd,
            Quant::RndZero,
            Quant::RndInf,
            Quant::RndMinInf,
            Quant::RndConv,
        ] {
            assert_eq!(q(165, 6, 4, mode), 41, "{mode:?}");
            assert_eq!(q(-165, 6, 4, mode), -41, "{mode:?}");
            assert_eq!(q(163, 6, 4, mode), 41, "{mode:?}"); // 40.75 -> 41
            assert_eq!(q(-163, 6, 4, mode), -41, "{mode:?}");
            assert_eq!(q(160, 6, 4, mode), 40, "{mode:?}"); // exact
        }
        assert_eq!(q(165, 6, 4, Quant::Trn), 41);
        assert_eq!(q(-165, 6, 4, Quant::Trn), -42);
        assert_eq!(q(-165, 6, 4, Quant::TrnZero), -41);
    }

    #[test]
    fn adding_bits_is_an_exact_shift() {
        assert_eq!(q(-3, 2, 6, Quant::Rnd), -48);
        assert_eq!(checked_quantize(1, 0, 126, Quant::Trn), Some(1 << 126));
        assert_eq!(checked_quantize(1, 0, 127, Quant::Trn), None);
        assert_eq!(checked_quantize(-1, 0, 127, Quant::Trn), Some(i128::MIN));
        assert_eq!(checked_quantize(0, 0, 1000, Quant::Trn), Some(0));
        assert_eq!(quantize(3, 0, 200, Quant::Trn), i128::MAX);
        assert_eq!(quantize(-3, 0, 200, Quant::Trn), i128::MIN);
        // Negative fraction bits: ap_fixed<8,10> has LSB 4.
        assert_eq!(q(13, 0, -2, Quant::Trn), 3);
        assert_eq!(q(3, -2, 0, Quant::Trn), 12);
    }

    #[test]
    fn huge_right_shifts() {
        assert_eq!(q(i128::MAX, 0, -127, Quant::Trn), 0);
        assert_eq!(q(i128::MAX, 0, -127, Quant::Rnd), 1); // just below 1
        assert_eq!(q(i128::MIN, 0, -127, Quant::Trn), -1);
        // i128::MIN / 2^128 is exactly -1/2.
        assert_eq!(q(i128::MIN, 0, -128, Quant::Rnd), 0);
        assert_eq!(q(i128::MIN, 0, -128, Quant::RndMinInf), -1);
        assert_eq!(q(i128::MIN, 0, -128, Quant::RndConv), 0);
        assert_eq!(q(i128::MIN, 0, -129, Quant::RndMinInf), 0);
        assert_eq!(q(-1, 0, -500, Quant::Trn), -1);
        assert_eq!(q(-1, 0, -500, Quant::TrnZero), 0);
        assert_eq!(q(-1, 0, -500, Quant::RndInf), 0);
        assert_eq!(q(1, 0, -500, Quant::Trn), 0);
        assert_eq!(q(i128::MAX, i32::MAX, i32::MIN, Quant::Trn), 0);
        assert_eq!(floor_shr(-5, 1), -3);
        assert_eq!(floor_shr(5, 1), 2);
        assert_eq!(floor_shr(-5, 400), -1);
        assert_eq!(floor_shr(5, 400), 0);
    }

    #[test]
    fn rational_constants() {
        // ap_fixed<32,1> of 1/300 stores raw 7158278 (floored at 2^-31).
        assert_eq!(quantize_rational(1, 300, 31, Quant::Trn), Some(7158278));
        // 0.0123 * 2^31 = 26414048.8704
        assert_eq!(
            quantize_rational(123, 10000, 31, Quant::Trn),
            Some(26414048)
        );
        assert_eq!(
            quantize_rational(123, 10000, 31, Quant::Rnd),
            Some(26414049)
        );
        assert_eq!(
            quantize_rational(-123, 10000, 31, Quant::Trn),
            Some(-26414049)
        );
        assert_eq!(
            quantize_rational(123, -10000, 31, Quant::TrnZero),
            Some(-26414048)
        );
        // Ties: 5/2 at frac 0.
        assert_eq!(quantize_rational(5, 2, 0, Quant::Rnd), Some(3));
        assert_eq!(quantize_rational(-5, 2, 0, Quant::Rnd), Some(-2));
        assert_eq!(quantize_rational(-5, 2, 0, Quant::RndInf), Some(-3));
        assert_eq!(quantize_rational(5, 2, 0, Quant::RndConv), Some(2));
        assert_eq!(quantize_rational(7, 2, 0, Quant::RndConv), Some(4));
        assert_eq!(quantize_rational(5, 2, 0, Quant::RndZero), Some(2));
        assert_eq!(quantize_rational(5, 2, 0, Quant::RndMinInf), Some(2));
        // 2.53125 at LSB 1/16, as a fraction.
        assert_eq!(quantize_rational(-81, 32, 4, Quant::Rnd), Some(-40));
        // Negative fraction bits: 13 at LSB 4.
        assert_eq!(quantize_rational(13, 1, -2, Quant::Trn), Some(3));
        assert_eq!(quantize_rational(1, 0, 4, Quant::Trn), None);
        assert_eq!(quantize_rational(1, 3, 200, Quant::Trn), None);
        // Odd denominators near the top of the range do not overflow.
        assert_eq!(
            quantize_rational(i128::MAX, i128::MAX, 0, Quant::Rnd),
            Some(1)
        );
        assert_eq!(
            quantize_rational(i128::MAX / 2, i128::MAX, 0, Quant::Rnd),
            Some(0)
        );
        assert_eq!(
            quantize_rational(i128::MAX / 2 + 1, i128::MAX, 0, Quant::Rnd),
            Some(1)
        );
    }

    #[test]
    fn rational_agrees_with_shifts() {
        for raw in -70i128..=70 {
            for mode in Quant::ALL.map(|(_, m)| m) {
                for drop in 1..5 {
                    assert_eq!(
                        quantize_rational(raw, 1 << drop, 0, mode),
                        Some(q(raw, drop, 0, mode)),
                        "{raw} >> {drop} {mode:?}"
                    );
                }
            }
        }
    }

    /// An independent statement of each mode: pick among the two neighbouring
    /// codes by distance, then by the tie rule.
    fn reference(raw: i128, drop: u32, mode: Quant) -> i128 {
        let unit = 1i128 << drop;
        let below = raw.div_euclid(unit);
        let above = below + 1;
        if raw == below * unit {
            return below;
        }
        let toward_zero = if raw < 0 { above } else { below };
        let away = if raw < 0 { below } else { above };
        let (d_below, d_above) = (raw - below * unit, above * unit - raw);
        let tie = match mode {
            Quant::Trn => return below,
            Quant::TrnZero => return toward_zero,
            Quant::Rnd => above,
            Quant::RndZero => toward_zero,
            Quant::RndInf => away,
            Quant::RndMinInf => below,
            Quant::RndConv => {
                if below % 2 == 0 {
                    below
                } else {
                    above
                }
            }
        };
        match d_below.cmp(&d_above) {
            Ordering::Less => below,
            Ordering::Greater => above,
            Ordering::Equal => tie,
        }
    }

    #[test]
    fn every_mode_matches_its_definition() {
        for raw in -300i128..=300 {
            for drop in 1..7 {
                for mode in Quant::ALL.map(|(_, m)| m) {
                    assert_eq!(
                        q(raw, drop, 0, mode),
                        reference(raw, drop as u32, mode),
                        "{raw} / 2^{drop} {mode:?}"
                    );
                }
            }
        }
    }
}
