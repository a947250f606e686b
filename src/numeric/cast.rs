//! `x as T`: the conversion that `ir::Op::Cast` performs, shared by the
//! interpreter and the backends.

use std::fmt;

use super::overflow::{apply_overflow, fits};
use super::quantize::{checked_quantize, checked_shl};
use crate::ir::CastOverflow;
use crate::types::{Overflow, Quant, ScalarType};

/// Why [`checked_cast_raw`] has no result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CastError {
    /// The overflow mode is [`CastOverflow::Proven`] but the value does not fit
    /// the target type: the checker's proof was wrong.
    Unproven,
    /// The result, scaled to the target's storage fraction, does not fit in
    /// `i128` (only for types far outside Convoy's limits).
    TooLarge,
}

/// The words are in `diag` (one catalogue for every message).
impl fmt::Display for CastError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(crate::diag::cast_reason(self))
    }
}

/// Converts `raw / 2^from_frac` to type `to`, returning the result as a raw
/// value at `to.storage_frac()`:
///
/// 1. quantize to `to.frac_bits()` fraction bits (negative for types whose
///    LSB is above 1, like `fixed<8, 10>`) with `quant`, giving the code;
/// 2. bring the code into the `to.width`-bit register: `Mode(o)` applies
///    overflow mode `o`, `Proven` requires that it fits already;
/// 3. scale the code to `to.storage_frac()` (a left shift by
///    `storage_frac - frac_bits`, non-zero only for a negative `frac_bits`).
///
/// The checker passes `Quant::TrnZero` for integer targets, as assigning an
/// `ap_fixed` to an `ap_int` truncates toward zero, and the fixed type's own
/// mode for fixed targets. Step 1 never loses exactness to `i128` limits: a
/// left shift too large for `i128` is certainly out of range, and the overflow
/// mode is applied to it exactly.
pub fn checked_cast_raw(
    raw: i128,
    from_frac: u32,
    to: &ScalarType,
    quant: Quant,
    overflow: CastOverflow,
) -> Result<i128, CastError> {
    let code = cast_code(raw, from_frac, to, quant, overflow)?;
    checked_shl(code, storage_shift(to)).ok_or(CastError::TooLarge)
}

/// [`checked_cast_raw`] for backends that have already validated the
/// program: a `Proven` cast that does not fit keeps the low bits, as the plain
/// assignment that generated code performs would, and a result too large for
/// `i128` saturates to `i128::MIN` / `i128::MAX`.
pub fn cast_raw(
    raw: i128,
    from_frac: u32,
    to: &ScalarType,
    quant: Quant,
    overflow: CastOverflow,
) -> i128 {
    let code = match cast_code(raw, from_frac, to, quant, overflow) {
        Ok(code) => code,
        Err(_) => cast_code(
            raw,
            from_frac,
            to,
            quant,
            CastOverflow::Mode(Overflow::Wrap),
        )
        .unwrap_or_default(),
    };
    checked_shl(code, storage_shift(to)).unwrap_or(if code < 0 { i128::MIN } else { i128::MAX })
}

/// Steps 1 and 2 of a cast: the code in the target's register.
fn cast_code(
    raw: i128,
    from_frac: u32,
    to: &ScalarType,
    quant: Quant,
    overflow: CastOverflow,
) -> Result<i128, CastError> {
    let from_frac = i32::try_from(from_frac).map_err(|_| CastError::TooLarge)?;
    let to_frac = to.frac_bits();
    let (signed, width) = (to.signed, to.width);
    match checked_quantize(raw, from_frac, to_frac, quant) {
        Some(code) => match overflow {
            CastOverflow::Proven if fits(code, signed, width) => Ok(code),
            CastOverflow::Proven => Err(CastError::Unproven),
            CastOverflow::Mode(o) => Ok(apply_overflow(code, signed, width, o)),
        },
        None => {
            // |raw * 2^shift| >= 2^127: beyond every register of up to 127 bits.
            let shift = (i64::from(to_frac) - i64::from(from_frac)).unsigned_abs();
            match overflow {
                CastOverflow::Proven => Err(CastError::Unproven),
                CastOverflow::Mode(Overflow::Wrap) => Ok(wrap_shifted(raw, shift, signed, width)),
                CastOverflow::Mode(o) => {
                    let beyond = if raw < 0 { i128::MIN } else { i128::MAX };
                    Ok(apply_overflow(beyond, signed, width, o))
                }
            }
        }
    }
}

/// Step 3 of a cast: from the code's fraction bits to the storage fraction.
fn storage_shift(to: &ScalarType) -> u64 {
    (i64::from(to.storage_frac()) - i64::from(to.frac_bits())).unsigned_abs()
}

/// The low `width` bits of `raw * 2^shift` (sign-extended when `signed`),
/// without forming the product: only the low `width - shift` bits of `raw`
/// reach the register.
fn wrap_shifted(raw: i128, shift: u64, signed: bool, width: u32) -> i128 {
    let width = width.clamp(1, 127);
    if shift >= u64::from(width) {
        return 0;
    }
    let shift = shift as u32; // < width <= 127
    let kept = raw & (i128::MAX >> (127 - (width - shift)));
    apply_overflow(kept << shift, signed, width, Overflow::Wrap)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_modes(mut t: ScalarType, q: Quant, o: Overflow) -> ScalarType {
        t.quant = q;
        t.overflow = o;
        t
    }

    /// Casts to a fixed type with its own modes, as the checker lowers it.
    fn to_fixed(raw: i128, from_frac: u32, t: ScalarType) -> i128 {
        checked_cast_raw(raw, from_frac, &t, t.quant, CastOverflow::Mode(t.overflow)).expect("cast")
    }

    /// `x as uN/iN <mode>`: truncation toward zero, then the mode.
    fn to_int(raw: i128, from_frac: u32, signed: bool, width: u32, o: Overflow) -> i128 {
        let t = ScalarType::int(signed, width);
        checked_cast_raw(raw, from_frac, &t, Quant::TrnZero, CastOverflow::Mode(o)).expect("cast")
    }

    #[test]
    fn integer_targets_truncate_then_wrap_or_saturate() {
        assert_eq!(to_int(256, 0, false, 8, Overflow::Wrap), 0);
        assert_eq!(to_int(300, 0, false, 8, Overflow::Wrap), 44);
        assert_eq!(to_int(-1, 0, false, 8, Overflow::Wrap), 255);
        assert_eq!(to_int(300, 0, false, 8, Overflow::Sat), 255);
        assert_eq!(to_int(-1, 0, false, 8, Overflow::Sat), 0);
        // -2.75 -> -2 (toward zero), then into u8: 254 wrapped, 0 saturated.
        assert_eq!(to_int(-11, 2, false, 8, Overflow::Wrap), 254);
        assert_eq!(to_int(-11, 2, false, 8, Overflow::Sat), 0);
        assert_eq!(to_int(-11, 2, true, 8, Overflow::Sat), -2);
        // 255.75 truncates to 255: fits u8.
        assert_eq!(to_int(1023, 2, false, 8, Overflow::Sat), 255);
    }

    #[test]
    fn fixed_targets_quantize_then_overflow() {
        let t = ScalarType::fixed(true, 8, 4);
        #[rustfmt::skip]
        let cases = [
            // 2.53125 (frac 5) with each rounding mode, into ap_fixed<8,4> codes.
            (81, 5, Quant::Rnd, Overflow::Wrap, 41),
            (-81, 5, Quant::Rnd, Overflow::Wrap, -40),
            (-81, 5, Quant::Trn, Overflow::Wrap, -41),
            // Overflow on [-8, 7.9375]: 9 wraps to -7, saturates to 7.9375, ...
            (9, 0, Quant::Trn, Overflow::Wrap, -7 * 16),
            (9, 0, Quant::Trn, Overflow::Sat, 127),
            (9, 0, Quant::Trn, Overflow::SatZero, 0),
            (-9, 0, Quant::Trn, Overflow::SatSym, -127),
            (-8, 0, Quant::Trn, Overflow::SatSym, -127),
            // Rounding up past the top overflows: 7.99 = 2046/256 -> 8 -> saturates.
            (2046, 8, Quant::Rnd, Overflow::Sat, 127),
            (2046, 8, Quant::Rnd, Overflow::Wrap, -128),
        ];
        for (raw, frac, q, o, code) in cases {
            let to = with_modes(t, q, o);
            assert_eq!(
                to_fixed(raw, frac, to),
                code,
                "{raw} at frac {frac} as {to}"
            );
        }
    }

    #[test]
    fn one_three_hundredth_into_fixed_32_1() {
        // 1/300 held at frac 40 (floored there), then assigned: still 7158278.
        let raw = (1i128 << 40) / 300;
        let t = ScalarType::fixed(true, 32, 1);
        assert_eq!(to_fixed(raw, 40, t), 7158278);
    }

    #[test]
    fn negative_fraction_bits_scale_to_storage() {
        // ufixed<4, 6>: LSB 4, codes 0..=15, values 0..=60 at storage frac 0.
        let t = ScalarType::fixed(false, 4, 6);
        assert_eq!(t.storage_frac(), 0);
        assert_eq!(to_fixed(13, 0, t), 12);
        assert_eq!(to_fixed(61, 0, t), 60);
        assert_eq!(to_fixed(64, 0, t), 0); // code 16 wraps to 0
        assert_eq!(
            to_fixed(64, 0, with_modes(t, Quant::Trn, Overflow::Sat)),
            60
        );
        assert_eq!(to_fixed(-1, 0, with_modes(t, Quant::Rnd, Overflow::Sat)), 0);
        // fixed<8, 10>: codes -128..=127, LSB 4.
        let t = ScalarType::fixed(true, 8, 10);
        assert_eq!(
            to_fixed(-6, 1, with_modes(t, Quant::Trn, Overflow::Wrap)),
            -4
        );
        assert_eq!(
            to_fixed(-6, 1, with_modes(t, Quant::TrnZero, Overflow::Wrap)),
            0
        );
    }

    #[test]
    fn shifts_beyond_i128_stay_exact() {
        // fixed<8, -120>: 128 fraction bits. Any integer >= 1 overflows it.
        let t = ScalarType::fixed(true, 8, -120);
        assert_eq!(to_fixed(3, 0, t), 0); // low 8 bits of 3 * 2^128
        assert_eq!(
            to_fixed(3, 0, with_modes(t, Quant::Trn, Overflow::Sat)),
            127
        );
        assert_eq!(
            to_fixed(-3, 0, with_modes(t, Quant::Trn, Overflow::Sat)),
            -128
        );
        assert_eq!(
            to_fixed(-3, 0, with_modes(t, Quant::Trn, Overflow::SatSym)),
            -127
        );
        assert_eq!(
            to_fixed(-3, 0, with_modes(t, Quant::Trn, Overflow::SatZero)),
            0
        );
        // fixed<64, -60>: 124 fraction bits, so every integer's code is a
        // multiple of 2^124, whose low 64 bits are zero.
        let t = ScalarType::fixed(true, 64, -60);
        assert_eq!(to_fixed(1025, 0, t), 0);
        // 3 at frac 60 shifted by 64 fits in i128; wraps in the same way.
        assert_eq!(to_fixed(3, 60, t), 0);
        // A left shift that partly survives the wrap: 5 * 2^125 needs 128
        // bits; in fixed<127, 2> (125 fraction bits) its low 127 bits are
        // 1 * 2^125 (5 = 0b101, the top 1 is dropped): 2^125 is positive.
        let t = ScalarType::fixed(true, 127, 2);
        assert_eq!(to_fixed(5, 0, t), 1 << 125);
    }

    #[test]
    fn proven_casts() {
        let u8t = ScalarType::int(false, 8);
        let proven = CastOverflow::Proven;
        assert_eq!(
            checked_cast_raw(255, 0, &u8t, Quant::TrnZero, proven),
            Ok(255)
        );
        assert_eq!(
            checked_cast_raw(1023, 2, &u8t, Quant::TrnZero, proven),
            Ok(255)
        );
        assert_eq!(
            checked_cast_raw(256, 0, &u8t, Quant::TrnZero, proven),
            Err(CastError::Unproven)
        );
        assert_eq!(
            checked_cast_raw(-1, 0, &u8t, Quant::TrnZero, proven),
            Err(CastError::Unproven)
        );
        // Backends keep the low bits, as the emitted assignment does.
        assert_eq!(cast_raw(300, 0, &u8t, Quant::TrnZero, proven), 44);
        let t = ScalarType::fixed(true, 8, -120);
        assert_eq!(
            checked_cast_raw(3, 0, &t, Quant::Trn, proven),
            Err(CastError::Unproven)
        );
        assert_eq!(cast_raw(3, 0, &t, Quant::Trn, proven), 0);
    }

    #[test]
    fn results_too_large_for_storage() {
        // ufixed<8, 200>: LSB 2^192, storage frac 0.
        let t = ScalarType::fixed(false, 8, 200);
        // -1 floors to code -1, which wraps to 255: 255 * 2^192.
        assert_eq!(
            checked_cast_raw(-1, 0, &t, Quant::Trn, CastOverflow::Mode(Overflow::Wrap)),
            Err(CastError::TooLarge)
        );
        assert_eq!(
            cast_raw(-1, 0, &t, Quant::Trn, CastOverflow::Mode(Overflow::Wrap)),
            i128::MAX
        );
        assert_eq!(to_fixed(5, 0, t), 0);
    }
}
