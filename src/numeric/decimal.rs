//! Exact decimal text of a fixed-point value: every `raw / 2^frac` has a
//! finite decimal expansion (at most `frac` digits after the point).

/// `raw / 2^frac` in decimal, exactly and without trailing zeros: `2.5`,
/// `-0.0625`, `300`. Fractions finer than 2^-120 are written `raw/2^frac`.
pub fn to_decimal(raw: i128, frac: u32) -> String {
    if frac > 120 {
        return format!("{raw}/2^{frac}");
    }
    let sign = if raw < 0 { "-" } else { "" };
    let magnitude = raw.unsigned_abs();
    let whole = magnitude >> frac;
    let mask = (1u128 << frac) - 1;
    let mut rest = magnitude & mask;
    let mut text = format!("{sign}{whole}");
    if rest != 0 {
        text.push('.');
        while rest != 0 {
            // rest < 2^120, so ten times it fits in u128.
            rest *= 10;
            let digit = (rest >> frac) as u8; // 0..=9
            text.push(char::from(b'0' + digit));
            rest &= mask;
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_decimals() {
        assert_eq!(to_decimal(0, 0), "0");
        assert_eq!(to_decimal(300, 0), "300");
        assert_eq!(to_decimal(-1, 0), "-1");
        assert_eq!(to_decimal(81, 5), "2.53125");
        assert_eq!(to_decimal(-81, 5), "-2.53125");
        assert_eq!(to_decimal(-1, 4), "-0.0625");
        assert_eq!(to_decimal(127, 4), "7.9375");
        assert_eq!(to_decimal(32, 4), "2");
        assert_eq!(
            to_decimal(7158278, 31),
            "0.0033333329483866691589355468750".trim_end_matches('0')
        );
        assert_eq!(
            to_decimal(i128::MIN, 0),
            "-170141183460469231731687303715884105728"
        );
        assert_eq!(to_decimal(1, 120).len(), 2 + 120);
        assert_eq!(to_decimal(1, 121), "1/2^121");
    }
}
