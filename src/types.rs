//! Scalar types of the language: `u<N>`, `i<N>`, `fixed<W, I, Q, O>`, `ufixed<...>`,
//! with the meaning of Vivado's `ap_uint` / `ap_int` / `ap_fixed` / `ap_ufixed`.

use std::fmt;

/// Widest declared scalar type, in bits (the ap types allow more, but Convoy's
/// data files and exact host arithmetic are built around 64-bit values).
pub const MAX_TYPE_BITS: u32 = 64;

/// ap_fixed quantization modes (`AP_TRN`, ...), used when fraction bits are dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Quant {
    /// Floor (toward minus infinity): `AP_TRN`, the default.
    #[default]
    Trn,
    /// Toward zero: `AP_TRN_ZERO`.
    TrnZero,
    /// Nearest, ties toward plus infinity: `AP_RND`.
    Rnd,
    /// Nearest, ties toward zero: `AP_RND_ZERO`.
    RndZero,
    /// Nearest, ties away from zero: `AP_RND_INF`.
    RndInf,
    /// Nearest, ties toward minus infinity: `AP_RND_MIN_INF`.
    RndMinInf,
    /// Nearest, ties to even: `AP_RND_CONV`.
    RndConv,
}

/// ap_fixed overflow modes, used when a value does not fit the target's range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Overflow {
    /// Keep the low bits (two's complement): `AP_WRAP`, the default.
    #[default]
    Wrap,
    /// Clamp to the nearest representable bound: `AP_SAT`.
    Sat,
    /// Replace an out-of-range value with zero: `AP_SAT_ZERO`.
    SatZero,
    /// Clamp to a symmetric range `[-max, max]`: `AP_SAT_SYM`.
    SatSym,
}

impl Quant {
    pub const ALL: [(&'static str, Quant); 7] = [
        ("trn", Quant::Trn),
        ("trn_zero", Quant::TrnZero),
        ("rnd", Quant::Rnd),
        ("rnd_zero", Quant::RndZero),
        ("rnd_inf", Quant::RndInf),
        ("rnd_min_inf", Quant::RndMinInf),
        ("rnd_conv", Quant::RndConv),
    ];

    pub fn from_name(name: &str) -> Option<Quant> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, q)| *q)
    }

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, q)| *q == self)
            .map_or("trn", |(n, _)| n)
    }

    /// The ap_fixed.h spelling, for the HLS emitter.
    pub fn ap_name(self) -> String {
        format!("AP_{}", self.name().to_ascii_uppercase())
    }
}

impl Overflow {
    pub const ALL: [(&'static str, Overflow); 4] = [
        ("wrap", Overflow::Wrap),
        ("sat", Overflow::Sat),
        ("sat_zero", Overflow::SatZero),
        ("sat_sym", Overflow::SatSym),
    ];

    pub fn from_name(name: &str) -> Option<Overflow> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, o)| *o)
    }

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, o)| *o == self)
            .map_or("wrap", |(n, _)| n)
    }

    pub fn ap_name(self) -> String {
        format!("AP_{}", self.name().to_ascii_uppercase())
    }
}

/// A scalar type. Integers are the special case `int_bits == width` with no modes
/// of their own (an integer conversion names its overflow mode at the `as`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ScalarType {
    pub signed: bool,
    /// Total bits `W`, 1..=MAX_TYPE_BITS.
    pub width: u32,
    /// Integer bits `I` (sign included when signed); may be below 0 or above `W`.
    pub int_bits: i32,
    pub fixed: bool,
    pub quant: Quant,
    pub overflow: Overflow,
}

impl ScalarType {
    pub fn int(signed: bool, width: u32) -> Self {
        ScalarType {
            signed,
            width,
            int_bits: width as i32,
            fixed: false,
            quant: Quant::Trn,
            overflow: Overflow::Wrap,
        }
    }

    pub fn fixed(signed: bool, width: u32, int_bits: i32) -> Self {
        ScalarType {
            signed,
            width,
            int_bits,
            fixed: true,
            quant: Quant::Trn,
            overflow: Overflow::Wrap,
        }
    }

    /// Fraction bits `W - I`: the weight of the least significant bit is 2^-frac.
    pub fn frac_bits(&self) -> i32 {
        self.width as i32 - self.int_bits
    }

    /// Fraction bits of Convoy's exact storage: values are held as integers scaled
    /// by 2^storage_frac, never with a negative scale.
    pub fn storage_frac(&self) -> u32 {
        self.frac_bits().max(0) as u32
    }

    /// Smallest and largest raw code (two's complement for signed types).
    pub fn code_bounds(&self) -> (i128, i128) {
        if self.signed {
            (
                -(1i128 << (self.width - 1)),
                (1i128 << (self.width - 1)) - 1,
            )
        } else {
            (0, (1i128 << self.width) - 1)
        }
    }

    /// Smallest and largest value, as integers scaled by 2^storage_frac.
    pub fn value_bounds(&self) -> (i128, i128) {
        let (lo, hi) = self.code_bounds();
        let up = self.storage_frac() as i32 - self.frac_bits();
        (lo << up, hi << up)
    }
}

impl fmt::Display for ScalarType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.fixed {
            return write!(f, "{}{}", if self.signed { "i" } else { "u" }, self.width);
        }
        write!(
            f,
            "{}fixed<{}, {}",
            if self.signed { "" } else { "u" },
            self.width,
            self.int_bits
        )?;
        if self.quant != Quant::Trn || self.overflow != Overflow::Wrap {
            write!(f, ", {}", self.quant.name())?;
        }
        if self.overflow != Overflow::Wrap {
            write!(f, ", {}", self.overflow.name())?;
        }
        write!(f, ">")
    }
}

/// Bits needed to write `v >= 0` in binary (0 needs 0 bits).
pub fn bit_length(v: i128) -> u32 {
    128 - v.leading_zeros()
}

/// The narrowest type holding every value in `lo..=hi` (integers scaled by 2^frac).
/// Integers become `u<N>` / `i<N>`; fractional values `ufixed` / `fixed`.
/// Returns the width in bits even when it exceeds MAX_TYPE_BITS; callers decide.
pub fn narrowest(lo: i128, hi: i128, frac: u32) -> ScalarType {
    let (signed, width) = if lo >= 0 {
        (false, bit_length(hi).max(1))
    } else {
        let neg = bit_length(-(lo + 1)) + 1;
        let pos = bit_length(hi.max(0)) + 1;
        (true, neg.max(pos))
    };
    if frac == 0 {
        ScalarType::int(signed, width)
    } else {
        ScalarType::fixed(signed, width, width as i32 - frac as i32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrowest_types() {
        assert_eq!(narrowest(0, 255, 0).to_string(), "u8");
        assert_eq!(narrowest(0, 256, 0).to_string(), "u9");
        assert_eq!(narrowest(-128, 127, 0).to_string(), "i8");
        assert_eq!(narrowest(-129, 127, 0).to_string(), "i9");
        assert_eq!(narrowest(-1, 128, 0).to_string(), "i9");
        assert_eq!(narrowest(0, 0, 0).to_string(), "u1");
        assert_eq!(narrowest(-3, 5, 4).to_string(), "fixed<4, 0>");
    }

    #[test]
    fn display_modes() {
        let mut t = ScalarType::fixed(true, 16, 6);
        t.quant = Quant::Rnd;
        t.overflow = Overflow::Sat;
        assert_eq!(t.to_string(), "fixed<16, 6, rnd, sat>");
        assert_eq!(t.value_bounds(), (-32768, 32767));
        let negative_frac = ScalarType::fixed(false, 4, 6);
        assert_eq!(negative_frac.value_bounds(), (0, 60));
    }
}
