//! Number literals, kept exact: a literal is `±digits × 10^exp10`.

use super::error::{CheckError, CheckWarning, RangeFact};
use super::interval;
use super::Checker;
use crate::ast::Number;
use crate::ir::Interval;
use crate::numeric;
use crate::span::Spanned;
use crate::types::ScalarType;

/// The literal as a fraction `num / den` with `den = 10^k`, if it fits i128.
pub fn rational(n: &Number) -> Option<(i128, i128)> {
    let digits: i128 = n.digits.parse().ok()?;
    let (mut num, mut den) = (digits, 1i128);
    if n.exp10 >= 0 {
        num = num.checked_mul(10i128.checked_pow(n.exp10 as u32)?)?;
    } else {
        den = 10i128.checked_pow(n.exp10.unsigned_abs())?;
    }
    if n.negative {
        num = -num;
    }
    Some((num, den))
}

/// The literal as `raw / 2^frac` with the fewest fraction bits, when a binary
/// fixed-point value can hold it exactly (`0.5`, `3`, `-1.25`; not `0.1`).
pub fn exact_binary(n: &Number) -> Option<(i128, u32)> {
    let (mut num, mut den) = rational(n)?;
    // Cancel common factors of 5 and 2 until the denominator is a power of two.
    while den % 5 == 0 {
        if num % 5 != 0 {
            return None;
        }
        num /= 5;
        den /= 5;
    }
    let frac = den.trailing_zeros();
    let raw = interval::within_limit(num).ok()?;
    Some((raw, frac))
}

/// The literal as written, for messages.
pub fn written(n: &Number) -> String {
    let sign = if n.negative { "-" } else { "" };
    if n.exp10 >= 0 {
        return format!("{sign}{}{}", n.digits, "0".repeat(n.exp10 as usize));
    }
    let k = n.exp10.unsigned_abs() as usize;
    let padded = format!("{:0>width$}", n.digits, width = k + 1);
    let (int, frac) = padded.split_at(padded.len() - k);
    format!("{sign}{int}.{frac}")
}

/// The exact decimal expansion of `raw / 2^frac` (always finite).
pub fn decimal(raw: i128, frac: u32) -> String {
    crate::numeric::to_decimal(raw, frac)
}

impl Checker<'_> {
    /// The raw value a `const` of type `ty` stores for the literal, quantized as
    /// assigning to the ap type does; warns when that is not the value written.
    pub(super) fn const_value(&mut self, lit: &Spanned<Number>, ty: ScalarType) -> Option<i128> {
        let Some((num, den)) = rational(&lit.node) else {
            self.error(CheckError::TooWide {
                span: lit.span,
                bits: 128,
            });
            return None;
        };
        let Some(code) = numeric::quantize_rational(num, den, ty.frac_bits(), ty.quant) else {
            self.error(CheckError::TooWide {
                span: lit.span,
                bits: 128,
            });
            return None;
        };
        let (cmin, cmax) = ty.code_bounds();
        if code < cmin || code > cmax {
            let written_frac = exact_binary(&lit.node).map_or(0, |(_, f)| f);
            let raw = exact_binary(&lit.node).map_or(num / den, |(r, _)| r);
            self.error(CheckError::CastOutOfRange {
                span: lit.span,
                range: RangeFact {
                    range: Interval::point(raw),
                    frac: written_frac,
                },
                target: ty,
                type_span: lit.span,
            });
            return None;
        }
        let up = ty.storage_frac() as i32 - ty.frac_bits();
        let raw = code << up;
        let frac = ty.storage_frac();
        let exact = exact_binary(&lit.node)
            .is_some_and(|(r, f)| f <= frac && interval::shl_value(r, frac - f) == Ok(raw));
        if !exact {
            self.warnings.push(CheckWarning::ConstInexact {
                span: lit.span,
                written: written(&lit.node),
                stored: decimal(raw, frac),
                error: error_text(num, den, raw, frac),
            });
        }
        Some(raw)
    }
}

/// `stored - written`, exactly when it fits, in decimal.
fn error_text(num: i128, den: i128, raw: i128, frac: u32) -> String {
    // stored - written = (raw * den - num * 2^frac) / (den * 2^frac)
    let exact = (|| {
        let scale = 1i128.checked_shl(frac).filter(|_| frac < 126)?;
        let top = raw.checked_mul(den)?.checked_sub(num.checked_mul(scale)?)?;
        // top / 2^frac, then divided by den = 10^k.
        Some(shift_decimal(&decimal(top, frac), den.ilog10() as usize))
    })();
    exact.unwrap_or_else(|| "(too small to show)".into())
}

/// Divides a decimal string by 10^k.
fn shift_decimal(s: &str, k: usize) -> String {
    if k == 0 {
        return s.to_string();
    }
    let (sign, body) = s.strip_prefix('-').map_or(("", s), |b| ("-", b));
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let padded = format!("{:0>width$}", int, width = k + 1);
    let (new_int, moved) = padded.split_at(padded.len() - k);
    let digits = format!("{moved}{frac}");
    let digits = digits.trim_end_matches('0');
    if digits.is_empty() {
        format!("{sign}{new_int}")
    } else {
        format!("{sign}{new_int}.{digits}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(negative: bool, digits: &str, exp10: i32) -> Number {
        Number {
            negative,
            digits: digits.into(),
            exp10,
            is_integer: exp10 == 0,
        }
    }

    #[test]
    fn binary_fractions_are_exact() {
        assert_eq!(exact_binary(&num(false, "5", -1)), Some((1, 1)));
        assert_eq!(exact_binary(&num(true, "125", -2)), Some((-5, 2)));
        assert_eq!(exact_binary(&num(false, "1", -1)), None);
        assert_eq!(exact_binary(&num(false, "3", 2)), Some((300, 0)));
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(decimal(7158278, 31), "0.003333332948386669158935546875");
        assert_eq!(decimal(-44, 4), "-2.75");
        assert_eq!(written(&num(false, "123", -4)), "0.0123");
        assert_eq!(shift_decimal("-1234.5", 2), "-12.345");
        assert_eq!(shift_decimal("5", 3), "0.005");
    }
}
