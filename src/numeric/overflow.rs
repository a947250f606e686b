//! ap_fixed overflow modes on two's-complement integer codes.
//!
//! A code is the integer a `width`-bit register holds: the value divided by
//! the type's least significant bit. Widths are clamped to `1..=127` so that
//! every bound fits in `i128` (Convoy's types are at most 64 bits wide).

use crate::types::Overflow;

fn clamp_width(width: u32) -> u32 {
    width.clamp(1, 127)
}

/// Smallest and largest code of a `width`-bit register.
pub fn code_bounds(signed: bool, width: u32) -> (i128, i128) {
    let width = clamp_width(width);
    if signed {
        let max = i128::MAX >> (128 - width);
        (-max - 1, max)
    } else {
        (0, i128::MAX >> (127 - width))
    }
}

/// Whether `code` is representable in a `width`-bit register.
pub fn fits(code: i128, signed: bool, width: u32) -> bool {
    let (lo, hi) = code_bounds(signed, width);
    lo <= code && code <= hi
}

/// `code` stored into a `width`-bit register with overflow mode `o`:
///
/// - `Wrap` keeps the low `width` bits, sign-extended when `signed`
///   (`u8`: 256 -> 0, 300 -> 44, -1 -> 255);
/// - `Sat` clamps to `[min, max]`;
/// - `SatZero` gives 0 for any out-of-range code;
/// - `SatSym` clamps a signed code to `[-max, max]`, so even an in-range
///   `min` becomes `-max` (`ap_fixed<8,4,AP_TRN,AP_SAT_SYM>`: -8 -> -7.9375);
///   on an unsigned register, and on a 1-bit signed one (range {-1, 0}), it is
///   `Sat`, as the ap_types headers behave.
pub fn apply_overflow(code: i128, signed: bool, width: u32, o: Overflow) -> i128 {
    let width = clamp_width(width);
    let (lo, hi) = code_bounds(signed, width);
    match o {
        Overflow::Wrap => {
            let low = code & (i128::MAX >> (127 - width));
            if signed && low > hi {
                // low - 2^width, written so that width 127 does not overflow.
                low - (hi + 1) - (hi + 1)
            } else {
                low
            }
        }
        Overflow::Sat => code.clamp(lo, hi),
        Overflow::SatZero => {
            if fits(code, signed, width) {
                code
            } else {
                0
            }
        }
        // A 1-bit signed type has max = 0; ap_fixed then saturates to its
        // minimum code, as AP_SAT does (measured with the ap_types headers).
        Overflow::SatSym if signed && width > 1 => code.clamp(-hi, hi),
        Overflow::SatSym => code.clamp(lo, hi),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        assert_eq!(code_bounds(false, 8), (0, 255));
        assert_eq!(code_bounds(true, 8), (-128, 127));
        assert_eq!(code_bounds(true, 1), (-1, 0));
        assert_eq!(code_bounds(false, 1), (0, 1));
        assert_eq!(code_bounds(true, 127), (-(1 << 126), (1 << 126) - 1));
        assert_eq!(code_bounds(false, 127), (0, i128::MAX));
        assert_eq!(code_bounds(true, 64), (i64::MIN.into(), i64::MAX.into()));
        assert_eq!(code_bounds(false, 64), (0, u64::MAX.into()));
    }

    #[test]
    fn wrap_into_u8_keeps_low_bits() {
        assert_eq!(apply_overflow(256, false, 8, Overflow::Wrap), 0);
        assert_eq!(apply_overflow(300, false, 8, Overflow::Wrap), 44);
        assert_eq!(apply_overflow(-1, false, 8, Overflow::Wrap), 255);
        assert_eq!(apply_overflow(-256, false, 8, Overflow::Wrap), 0);
        assert_eq!(apply_overflow(255, false, 8, Overflow::Wrap), 255);
    }

    #[test]
    fn wrap_signed_sign_extends() {
        // ap_fixed<8,4>: 9 is code 144, wraps to -112 = -7.
        assert_eq!(apply_overflow(144, true, 8, Overflow::Wrap), -112);
        assert_eq!(apply_overflow(128, true, 8, Overflow::Wrap), -128);
        assert_eq!(apply_overflow(-129, true, 8, Overflow::Wrap), 127);
        assert_eq!(apply_overflow(-128, true, 8, Overflow::Wrap), -128);
        assert_eq!(apply_overflow(1, true, 1, Overflow::Wrap), -1);
        assert_eq!(apply_overflow(2, true, 1, Overflow::Wrap), 0);
        assert_eq!(apply_overflow(i128::MAX, true, 127, Overflow::Wrap), -1);
        assert_eq!(apply_overflow(i128::MIN, true, 127, Overflow::Wrap), 0);
        assert_eq!(apply_overflow(i128::MIN, false, 127, Overflow::Wrap), 0);
        assert_eq!(apply_overflow(-1, false, 127, Overflow::Wrap), i128::MAX);
    }

    #[test]
    fn saturating_modes() {
        // ap_fixed<8,4> (codes are sixteenths): range [-8, 7.9375].
        assert_eq!(apply_overflow(144, true, 8, Overflow::Sat), 127);
        assert_eq!(apply_overflow(-144, true, 8, Overflow::Sat), -128);
        assert_eq!(apply_overflow(144, true, 8, Overflow::SatZero), 0);
        assert_eq!(apply_overflow(-144, true, 8, Overflow::SatZero), 0);
        assert_eq!(apply_overflow(100, true, 8, Overflow::SatZero), 100);
        assert_eq!(apply_overflow(-144, true, 8, Overflow::SatSym), -127);
        assert_eq!(apply_overflow(144, true, 8, Overflow::SatSym), 127);
        // An exact -8 is in range, yet AP_SAT_SYM gives -7.9375.
        assert_eq!(apply_overflow(-128, true, 8, Overflow::SatSym), -127);
        assert_eq!(apply_overflow(-127, true, 8, Overflow::SatSym), -127);
        // Unsigned: SatSym is Sat.
        assert_eq!(apply_overflow(300, false, 8, Overflow::SatSym), 255);
        assert_eq!(apply_overflow(-3, false, 8, Overflow::SatSym), 0);
        // One signed bit: the range is {-1, 0}, and AP_SAT_SYM behaves as AP_SAT.
        assert_eq!(apply_overflow(-3, true, 1, Overflow::SatSym), -1);
        assert_eq!(apply_overflow(-1, true, 1, Overflow::SatSym), -1);
        assert_eq!(apply_overflow(2, true, 1, Overflow::SatSym), 0);
        assert_eq!(apply_overflow(-3, false, 8, Overflow::Sat), 0);
        assert_eq!(apply_overflow(300, false, 8, Overflow::Sat), 255);
        assert_eq!(apply_overflow(-3, false, 8, Overflow::SatZero), 0);
        assert_eq!(apply_overflow(i128::MIN, true, 16, Overflow::Sat), -32768);
        assert_eq!(apply_overflow(i128::MAX, false, 16, Overflow::Sat), 65535);
    }

    #[test]
    fn in_range_codes_are_untouched() {
        for o in Overflow::ALL.map(|(_, o)| o) {
            for code in -127..=127 {
                assert_eq!(apply_overflow(code, true, 8, o), code, "{o:?}");
            }
            for code in 0..=255 {
                assert_eq!(apply_overflow(code, false, 8, o), code, "{o:?}");
            }
        }
    }
}
