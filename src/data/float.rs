//! Exact helpers for floating-point data: decomposing an `f64` into
//! `mantissa * 2^exponent`, IEEE half precision encoding and decoding, and
//! exact decimal text for dyadic values. All integer arithmetic, no rounding
//! except where a function says so.

/// A finite `f64` as `mantissa * 2^exponent` with an odd mantissa (or zero,
/// with exponent 0). `None` for NaN and infinities.
pub(crate) fn decompose(x: f64) -> Option<(i64, i32)> {
    if !x.is_finite() {
        return None;
    }
    let bits = x.to_bits();
    let negative = bits >> 63 == 1;
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1u64 << 52) - 1);
    let (mut mantissa, mut exponent) = if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1u64 << 52), biased - 1075)
    };
    if mantissa == 0 {
        return Some((0, 0));
    }
    let zeros = mantissa.trailing_zeros();
    mantissa >>= zeros;
    exponent += zeros as i32;
    // At most 53 significant bits, so the cast is lossless.
    let m = mantissa as i64;
    Some((if negative { -m } else { m }, exponent))
}

/// `2^exponent` as an `f64`, exactly, for `-1074 <= exponent <= 1023`.
fn pow2(exponent: i32) -> f64 {
    if exponent > 1023 {
        f64::INFINITY
    } else if exponent >= -1022 {
        f64::from_bits(((exponent + 1023) as u64) << 52)
    } else if exponent >= -1074 {
        f64::from_bits(1u64 << (exponent + 1074))
    } else {
        0.0
    }
}

/// `mantissa * 2^exponent`, exact when `|mantissa| < 2^53` and the result is
/// a normal `f64` (the only way this module calls it).
pub(crate) fn compose(mantissa: i64, exponent: i32) -> f64 {
    // Split the scaling so that neither factor overflows or underflows early.
    let half = exponent / 2;
    mantissa as f64 * pow2(half) * pow2(exponent - half)
}

/// Decodes IEEE 754 binary16 bits; every half value is exact in `f64`.
pub(crate) fn f16_to_f64(bits: u16) -> f64 {
    let negative = bits >> 15 == 1;
    let exponent = i32::from((bits >> 10) & 0x1f);
    let fraction = i64::from(bits & 0x3ff);
    let magnitude = match exponent {
        0 => compose(fraction, -24),
        0x1f if fraction == 0 => f64::INFINITY,
        0x1f => f64::NAN,
        _ => compose(fraction | 0x400, exponent - 25),
    };
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

/// Encodes an `f64` as IEEE 754 binary16 bits, rounding to nearest, ties to
/// even (as numpy's `astype(float16)` does); overflow gives infinity.
pub(crate) fn f64_to_f16(x: f64) -> u16 {
    let sign: u16 = if x.is_sign_negative() { 0x8000 } else { 0 };
    if x.is_nan() {
        return sign | 0x7e00;
    }
    if x.is_infinite() {
        return sign | 0x7c00;
    }
    let Some((mantissa, exponent)) = decompose(x) else {
        return sign | 0x7e00;
    };
    if mantissa == 0 {
        return sign;
    }
    let m = mantissa.unsigned_abs();
    // The value is m * 2^exponent with m odd; its leading bit has weight 2^top.
    let top = exponent + (63 - m.leading_zeros() as i32);
    // Weight of the last kept bit: 11 significant bits, but never finer than
    // the subnormal step 2^-24.
    let mut quantum = (top - 10).max(-24);
    let shift = quantum - exponent;
    let mut n = if shift <= 0 {
        // Fewer than 11 significant bits: exact. (top <= 15 here unless the
        // value overflows, which is caught below.)
        if -shift >= 12 {
            return sign | 0x7c00;
        }
        m << -shift
    } else if shift >= 64 {
        0
    } else {
        let kept = m >> shift;
        let rest = m & ((1u64 << shift) - 1);
        let halfway = 1u64 << (shift - 1);
        if rest > halfway || (rest == halfway && kept & 1 == 1) {
            kept + 1
        } else {
            kept
        }
    };
    if n >= 2048 {
        n >>= 1;
        quantum += 1;
    }
    if n < 1024 {
        // Subnormal (quantum is -24); n == 1024 would be the smallest normal,
        // whose encoding is also simply n.
        return sign | n as u16;
    }
    let biased = quantum + 25;
    if biased >= 31 {
        return sign | 0x7c00;
    }
    sign | ((biased as u16) << 10) | (n as u16 - 1024)
}

/// Exact decimal text of `raw / 2^frac` (every such value has a finite
/// decimal expansion): `-0.09375`, `300`, `7.9375`.
pub(crate) fn dyadic_to_string(raw: i128, frac: u32) -> String {
    let negative = raw < 0;
    let mut magnitude = raw.unsigned_abs();
    let mut frac = frac;
    let zeros = magnitude.trailing_zeros().min(frac);
    magnitude >>= zeros;
    frac -= zeros;
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if frac == 0 {
        out.push_str(&magnitude.to_string());
        return out;
    }
    if frac > 124 {
        // Too fine for the digit loop below (it multiplies the fraction by 10).
        out.push_str(&format!("{magnitude}*2^-{frac}"));
        return out;
    }
    let mask = (1u128 << frac) - 1;
    out.push_str(&(magnitude >> frac).to_string());
    out.push('.');
    let mut rest = magnitude & mask;
    while rest != 0 {
        rest *= 10;
        let digit = (rest >> frac) as u8;
        out.push(char::from(b'0' + digit));
        rest &= mask;
    }
    out
}

/// Python-like text for a float: `0.1`, `300.0`, `1e+300`, `nan`, `-inf`.
/// Uses the shortest digits that read back as the same value in the given
/// precision (`bits` = 16, 32 or 64), as numpy prints array elements.
pub(crate) fn float_to_string(x: f64, bits: u32) -> String {
    if x.is_nan() {
        return "nan".to_string();
    }
    if x.is_infinite() {
        return if x < 0.0 { "-inf" } else { "inf" }.to_string();
    }
    match bits {
        16 => {
            let target = f64_to_f16(x);
            for digits in 0..17 {
                let text = format!("{x:.digits$e}");
                if let Ok(y) = text.parse::<f64>() {
                    if f64_to_f16(y) == target {
                        return format!("{y:?}");
                    }
                }
            }
            format!("{x:?}")
        }
        32 => format!("{:?}", x as f32),
        _ => format!("{x:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decompose_values() {
        assert_eq!(decompose(0.0), Some((0, 0)));
        assert_eq!(decompose(-0.0), Some((0, 0)));
        assert_eq!(decompose(1.0), Some((1, 0)));
        assert_eq!(decompose(-6.0), Some((-3, 1)));
        assert_eq!(decompose(0.375), Some((3, -3)));
        assert_eq!(decompose(f64::from_bits(1)), Some((1, -1074)));
        assert_eq!(decompose(f64::MAX), Some(((1i64 << 53) - 1, 971)));
        assert_eq!(decompose(0.1), Some((3602879701896397, -55)));
        assert_eq!(decompose(f64::NAN), None);
        assert_eq!(decompose(f64::NEG_INFINITY), None);
    }

    #[test]
    fn compose_roundtrip() {
        for x in [1.0, -6.0, 0.375, 0.1, 1e300, -1e-300, 123456.789, f64::MAX] {
            let (m, e) = decompose(x).expect("finite");
            assert_eq!(compose(m, e), x);
        }
    }

    #[test]
    fn half_decode() {
        assert_eq!(f16_to_f64(0x0000), 0.0);
        assert_eq!(f16_to_f64(0x3c00), 1.0);
        assert_eq!(f16_to_f64(0xc000), -2.0);
        assert_eq!(f16_to_f64(0x7bff), 65504.0);
        assert_eq!(f16_to_f64(0x0001), 2f64.powi(-24));
        assert_eq!(f16_to_f64(0x03ff), 1023.0 * 2f64.powi(-24));
        assert_eq!(f16_to_f64(0x0400), 2f64.powi(-14));
        assert_eq!(f16_to_f64(0x3555), 0.333251953125);
        assert_eq!(f16_to_f64(0x7c00), f64::INFINITY);
        assert_eq!(f16_to_f64(0xfc00), f64::NEG_INFINITY);
        assert!(f16_to_f64(0x7e00).is_nan());
    }

    #[test]
    fn half_roundtrip_all() {
        for bits in 0..=u16::MAX {
            let x = f16_to_f64(bits);
            if x.is_nan() {
                assert_eq!(f64_to_f16(x) & 0x7c00, 0x7c00);
                continue;
            }
            assert_eq!(f64_to_f16(x), bits, "bits {bits:#06x}");
        }
    }

    #[test]
    fn half_rounding() {
        // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even.
        assert_eq!(f64_to_f16(1.0 + 2f64.powi(-11)), 0x3c00);
        assert_eq!(f64_to_f16(1.0 + 3.0 * 2f64.powi(-11)), 0x3c02);
        assert_eq!(f64_to_f16(1.0 + 2f64.powi(-11) + 2f64.powi(-30)), 0x3c01);
        assert_eq!(f64_to_f16(0.1), 0x2e66);
        assert_eq!(f64_to_f16(65519.0), 0x7bff);
        assert_eq!(f64_to_f16(65520.0), 0x7c00);
        assert_eq!(f64_to_f16(1e10), 0x7c00);
        assert_eq!(f64_to_f16(2f64.powi(-25)), 0x0000);
        assert_eq!(f64_to_f16(2f64.powi(-25) * 1.5), 0x0001);
        assert_eq!(f64_to_f16(1e-300), 0x0000);
        assert_eq!(f64_to_f16(-1e-300), 0x8000);
        assert_eq!(f64_to_f16(2f64.powi(-14) - 2f64.powi(-25)), 0x0400);
    }

    #[test]
    fn dyadic_text() {
        assert_eq!(dyadic_to_string(300, 0), "300");
        assert_eq!(dyadic_to_string(-3, 5), "-0.09375");
        assert_eq!(dyadic_to_string(127, 4), "7.9375");
        assert_eq!(dyadic_to_string(256, 8), "1");
        assert_eq!(dyadic_to_string(0, 8), "0");
        assert_eq!(dyadic_to_string(i128::MIN, 0), i128::MIN.to_string());
        assert_eq!(dyadic_to_string(1, 3), "0.125");
        assert_eq!(dyadic_to_string(3, 130), "3*2^-130");
    }

    #[test]
    fn float_text() {
        assert_eq!(float_to_string(0.1, 64), "0.1");
        assert_eq!(float_to_string(300.0, 64), "300.0");
        assert_eq!(float_to_string(f64::NAN, 64), "nan");
        assert_eq!(float_to_string(f64::NEG_INFINITY, 32), "-inf");
        assert_eq!(float_to_string(f64::from(0.1f32), 32), "0.1");
        assert_eq!(float_to_string(f16_to_f64(0x2e66), 16), "0.1");
        assert_eq!(float_to_string(f16_to_f64(0x3555), 16), "0.3333");
    }
}
