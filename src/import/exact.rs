//! Exact numbers for the importer: every float32 (and float64) scale is a
//! dyadic rational `m * 2^e`, held here as such and written into the
//! script exactly (as a decimal literal, which for a dyadic value is finite,
//! or as a fixed-point type that holds it). Nothing here rounds.

/// `mant * 2^exp`, with `mant` odd (or the value zero: `mant = 0, exp = 0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dyadic {
    pub mant: i128,
    pub exp: i32,
}

impl Dyadic {
    pub const ZERO: Dyadic = Dyadic { mant: 0, exp: 0 };

    pub fn new(mant: i128, exp: i32) -> Dyadic {
        if mant == 0 {
            return Dyadic::ZERO;
        }
        let tz = mant.trailing_zeros() as i32;
        Dyadic {
            mant: mant >> tz,
            exp: exp + tz,
        }
    }

    /// The exact value of a finite float; `None` for NaN and infinities.
    pub fn from_f64(x: f64) -> Option<Dyadic> {
        if !x.is_finite() {
            return None;
        }
        if x == 0.0 {
            return Some(Dyadic::ZERO);
        }
        let bits = x.to_bits();
        let sign = if bits >> 63 == 1 { -1 } else { 1 };
        let biased = ((bits >> 52) & 0x7ff) as i32;
        let frac = (bits & ((1u64 << 52) - 1)) as i128;
        let (mant, exp) = if biased == 0 {
            (frac, -1074)
        } else {
            (frac | (1 << 52), biased - 1075)
        };
        Some(Dyadic::new(sign * mant, exp))
    }

    pub fn from_int(n: i64) -> Dyadic {
        Dyadic::new(n as i128, 0)
    }

    pub fn is_zero(&self) -> bool {
        self.mant == 0
    }

    pub fn mul(self, o: Dyadic) -> Option<Dyadic> {
        Some(Dyadic::new(
            self.mant.checked_mul(o.mant)?,
            self.exp.checked_add(o.exp)?,
        ))
    }

    /// Bits of the odd mantissa's magnitude.
    pub fn mant_bits(&self) -> u32 {
        128 - self.mant.unsigned_abs().leading_zeros()
    }

    /// Fraction bits needed to hold the value exactly.
    pub fn frac_bits(&self) -> i32 {
        -self.exp
    }

    /// Bits above the binary point (at least 0): `floor(log2|v|) + 1`.
    pub fn int_bits(&self) -> i32 {
        if self.is_zero() {
            return 0;
        }
        (self.mant_bits() as i32 + self.exp).max(0)
    }

    /// Exactly as a float64 when it fits 53 bits and the exponent range.
    pub fn to_f64(self) -> f64 {
        self.mant as f64 * 2f64.powi(self.exp)
    }

    /// The value as an exact decimal literal (`0.001953125`, `-3`, `40`).
    pub fn decimal(&self) -> String {
        let neg = self.mant < 0;
        let mag = self.mant.unsigned_abs();
        let digits = if self.exp >= 0 {
            let mut n = BigDec::from_u128(mag);
            for _ in 0..self.exp {
                n.mul_small(2);
            }
            n.to_string_scaled(0)
        } else {
            // m / 2^k = m * 5^k / 10^k.
            let k = (-self.exp) as usize;
            let mut n = BigDec::from_u128(mag);
            for _ in 0..k {
                n.mul_small(5);
            }
            n.to_string_scaled(k)
        };
        if neg {
            format!("-{digits}")
        } else {
            digits
        }
    }
}

/// A non-negative integer in base 10^9 limbs, least significant first:
/// just enough to print dyadic values exactly.
struct BigDec {
    limbs: Vec<u64>,
}

impl BigDec {
    fn from_u128(mut v: u128) -> BigDec {
        let mut limbs = vec![];
        while v > 0 {
            limbs.push((v % 1_000_000_000) as u64);
            v /= 1_000_000_000;
        }
        if limbs.is_empty() {
            limbs.push(0);
        }
        BigDec { limbs }
    }

    fn mul_small(&mut self, f: u64) {
        let mut carry = 0u64;
        for l in &mut self.limbs {
            let v = *l * f + carry;
            *l = v % 1_000_000_000;
            carry = v / 1_000_000_000;
        }
        while carry > 0 {
            self.limbs.push(carry % 1_000_000_000);
            carry /= 1_000_000_000;
        }
    }

    /// The digits, with a decimal point `scale` digits from the right and
    /// trailing fraction zeros removed.
    fn to_string_scaled(&self, scale: usize) -> String {
        let mut s = String::new();
        for (i, l) in self.limbs.iter().rev().enumerate() {
            if i == 0 {
                s.push_str(&l.to_string());
            } else {
                s.push_str(&format!("{l:09}"));
            }
        }
        if scale == 0 {
            return s;
        }
        if s.len() <= scale {
            s = format!("{}{s}", "0".repeat(scale + 1 - s.len()));
        }
        let (int, frac) = s.split_at(s.len() - scale);
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() {
            int.to_string()
        } else {
            format!("{int}.{frac}")
        }
    }
}

/// The unsigned fixed-point type `ufixed<W, I>` (or signed `fixed`) that
/// holds every value of `values` exactly, or `None` if that needs more than
/// 64 bits.
pub fn fixed_type_for(values: &[Dyadic]) -> Option<(String, u32)> {
    let signed = values.iter().any(|v| v.mant < 0);
    let frac = values
        .iter()
        .filter(|v| !v.is_zero())
        .map(Dyadic::frac_bits)
        .max()
        .unwrap_or(0)
        .max(0);
    let int = values.iter().map(Dyadic::int_bits).max().unwrap_or(0) + i32::from(signed);
    let int = int.max(1);
    let width = int + frac;
    if width > 64 {
        return None;
    }
    let name = if frac == 0 {
        if signed {
            format!("i{width}")
        } else {
            format!("u{width}")
        }
    } else if signed {
        format!("fixed<{width}, {int}>")
    } else {
        format!("ufixed<{width}, {int}>")
    };
    Some((name, width as u32))
}

/// The narrowest integer type (`u8`, `i9` ...) holding `[lo, hi]`.
pub fn int_type_for(lo: i128, hi: i128) -> String {
    if lo >= 0 {
        let bits = (128 - hi.max(1).leading_zeros()).max(1);
        format!("u{bits}")
    } else {
        let need = |v: i128| {
            if v < 0 {
                129 - (!v).leading_zeros()
            } else {
                129 - v.leading_zeros()
            }
        };
        format!("i{}", need(lo).max(need(hi)).max(2))
    }
}

/// How a requantization divides by the odd part `b` of the output scale:
/// `floor(n / b) = (n * mult) >> shift` for every `0 <= n <= n_max`
/// (Granlund and Montgomery's multiply-high division by an invariant
/// integer: with `mult = ceil(2^shift / b)`, the error `n * (mult * b -
/// 2^shift) / 2^shift` stays below 1 when `2^shift >= n_max * b`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Divider {
    pub mult: u128,
    pub shift: u32,
}

pub fn divider(b: u128, n_max: u128) -> Option<Divider> {
    let need = n_max.checked_mul(b)?.max(1);
    let shift = 128 - need.leading_zeros();
    if shift > 120 {
        return None;
    }
    let pow = 1u128 << shift;
    let mult = pow.div_ceil(b);
    Some(Divider { mult, shift })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_values_are_exact() {
        let d = Dyadic::from_f64(0.1f32 as f64).unwrap();
        assert_eq!(d.mant, 13421773);
        assert_eq!(d.exp, -27);
        assert_eq!(d.decimal(), "0.100000001490116119384765625");
        assert_eq!(Dyadic::from_f64(-3.0).unwrap().decimal(), "-3");
        assert_eq!(Dyadic::from_f64(40.0).unwrap().decimal(), "40");
        assert_eq!(Dyadic::from_f64(0.0).unwrap().decimal(), "0");
        assert_eq!(Dyadic::from_f64(2f64.powi(-70)).unwrap().exp, -70);
    }

    #[test]
    fn divider_is_exact_over_its_range() {
        for b in [3u128, 5, 7, 255, 1001, 16777215] {
            let n_max = 300_000u128;
            let d = divider(b, n_max).unwrap();
            for n in (0..=n_max).step_by(7).chain([n_max]) {
                assert_eq!((n * d.mult) >> d.shift, n / b, "b {b} n {n}");
            }
        }
    }

    #[test]
    fn types_hold_their_values() {
        let v = [Dyadic::new(3, -4), Dyadic::new(5, 1)];
        assert_eq!(fixed_type_for(&v).unwrap().0, "ufixed<8, 4>");
        assert_eq!(int_type_for(-3, 100), "i8");
        assert_eq!(int_type_for(0, 255), "u8");
        assert_eq!(int_type_for(-128, 127), "i8");
    }
}
