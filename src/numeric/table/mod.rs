//! The entries of `table(x, f, T)`: `f(x)` for every value of `x`, quantized
//! to `T` with `T`'s quantization and overflow modes, *correctly rounded*.
//!
//! Method (`docs/semantics.md`, "Lookup tables"): no floating point. For a
//! transcendental `f` the exact value `y = f(x) * 2^(F+1)` (`F` = `T`'s
//! fraction bits) is enclosed in an open interval by big-integer series with
//! proven error bounds (`eval`); when no integer lies inside the interval,
//! `floor(y)` is known, which decides every quantization mode (`floor(y)`
//! halved is `floor(f(x) * 2^F)`, its low bit says whether the dropped part is
//! above one half, and `y` is never an integer: the interval is open). When an
//! integer does lie inside, the enclosure is recomputed at twice the
//! precision, up to 8192 bits; past that the entry is refused (never seen:
//! the values of `exp`, `ln`, `tanh`, ... at rational points other than the
//! exact cases below are transcendental, so they are never on a rounding
//! boundary, and the precision only has to separate them from it).
//!
//! Exact cases use exact rational arithmetic: `reciprocal` always, `sqrt` by
//! an integer square root (exact when the radicand is a square), and the
//! points where a function is rational (`exp(0) = 1`, `sigmoid(0) = 1/2`,
//! `tanh(0) = silu(0) = gelu(0) = 0`, `ln(1) = 0`).

mod bigint;
mod eval;

use super::overflow::apply_overflow;
use super::quantize::{quantize_rational, round_quotient};
use crate::types::{Overflow, ScalarType};
use bigint::Big;
use std::cmp::Ordering;

/// The built-in functions of `table(x, f, T)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TableFn {
    Sigmoid,
    Tanh,
    Exp,
    Log,
    Sqrt,
    Reciprocal,
    Softplus,
    Gelu,
    Silu,
}

impl TableFn {
    pub const ALL: [TableFn; 9] = [
        TableFn::Sigmoid,
        TableFn::Tanh,
        TableFn::Exp,
        TableFn::Log,
        TableFn::Sqrt,
        TableFn::Reciprocal,
        TableFn::Softplus,
        TableFn::Gelu,
        TableFn::Silu,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TableFn::Sigmoid => "sigmoid",
            TableFn::Tanh => "tanh",
            TableFn::Exp => "exp",
            TableFn::Log => "log",
            TableFn::Sqrt => "sqrt",
            TableFn::Reciprocal => "reciprocal",
            TableFn::Softplus => "softplus",
            TableFn::Gelu => "gelu",
            TableFn::Silu => "silu",
        }
    }

    pub fn from_name(name: &str) -> Option<TableFn> {
        TableFn::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// Why an entry has no value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableError {
    /// Outside the function's domain: `log` of a value <= 0, `sqrt` of a
    /// negative value, `reciprocal` of 0.
    Domain,
    /// The exact result is too large to reduce modulo `2^W` (`wrap`), or
    /// beyond Convoy's integer limits.
    TooLarge,
    /// No enclosure up to 8192 bits decided the rounding.
    Undecided,
}

/// The entry for input `raw / 2^frac`: `f` of it as `to`, returned as a raw
/// value at `to.storage_frac()`.
pub fn entry(f: TableFn, raw: i128, frac: u32, to: &ScalarType) -> Result<i128, TableError> {
    let ff = to.frac_bits();
    let code = match exact_value(f, raw, frac)? {
        Some((num, den)) => {
            Code::Small(quantize_rational(num, den, ff, to.quant).ok_or(TableError::TooLarge)?)
        }
        None => Code::Big(decided_code(f, raw, frac, to)?),
    };
    let code = into_register(code, to)?;
    let shift = i64::from(to.storage_frac()) - i64::from(ff);
    super::checked_shl(code, shift.max(0) as u64).ok_or(TableError::TooLarge)
}

/// Every entry for the inputs `lo..=hi` (raw at `frac`), in order; on a
/// failure, the first failing input and why.
pub fn entries(
    f: TableFn,
    lo: i128,
    hi: i128,
    frac: u32,
    to: &ScalarType,
) -> Result<Vec<i128>, (i128, TableError)> {
    (lo..=hi)
        .map(|raw| entry(f, raw, frac, to).map_err(|e| (raw, e)))
        .collect()
}

enum Code {
    Small(i128),
    Big(Big),
}

/// A code (of any size) stored into `to`'s register with its overflow mode.
fn into_register(code: Code, to: &ScalarType) -> Result<i128, TableError> {
    let (lo, hi) = to.code_bounds();
    let code = match code {
        Code::Small(c) => c,
        Code::Big(c) => match c.to_i128() {
            Some(c) => c,
            None if to.overflow == Overflow::Wrap => {
                // The low W bits, exactly.
                let m = Big::pow2(to.width);
                let low = c.sub(&c.div_floor(&m).mul(&m));
                low.to_i128().ok_or(TableError::TooLarge)?
            }
            None if c.is_neg() => lo - 1,
            None => hi + 1,
        },
    };
    Ok(apply_overflow(code, to.signed, to.width, to.overflow))
}

/// `Some((num, den))` when `f(raw / 2^frac)` is the rational `num / den`.
fn exact_value(f: TableFn, raw: i128, frac: u32) -> Result<Option<(i128, i128)>, TableError> {
    let one = 1i128.checked_shl(frac).ok_or(TableError::TooLarge)?;
    Ok(match f {
        TableFn::Reciprocal if raw == 0 => return Err(TableError::Domain),
        TableFn::Reciprocal => Some((one, raw)),
        TableFn::Log if raw <= 0 => return Err(TableError::Domain),
        TableFn::Log if raw == one => Some((0, 1)),
        TableFn::Sqrt if raw < 0 => return Err(TableError::Domain),
        TableFn::Sqrt if raw == 0 => Some((0, 1)),
        TableFn::Exp if raw == 0 => Some((1, 1)),
        TableFn::Sigmoid if raw == 0 => Some((1, 2)),
        TableFn::Tanh | TableFn::Silu | TableFn::Gelu if raw == 0 => Some((0, 1)),
        _ => None,
    })
}

/// The quantized code of a value that is not exactly rational (or `sqrt`).
fn decided_code(f: TableFn, raw: i128, frac: u32, to: &ScalarType) -> Result<Big, TableError> {
    let ff = to.frac_bits();
    if f == TableFn::Sqrt {
        return sqrt_code(raw, frac, to);
    }
    let mut q = (frac as i64).max(i64::from(ff) + 1).max(0) as u32 + 96;
    while q <= 8192 {
        let x = Big::from_i128(raw).shl(q - frac);
        let enclosure = match f {
            TableFn::Sigmoid => Some(eval::sigmoid_pt(&x, q)),
            TableFn::Tanh => Some(eval::tanh_pt(&x, q)),
            TableFn::Exp => match eval::exp_pt(&x, q) {
                Some(v) => Some(v),
                // e^x > 2^4000: beyond every register unless wrapping.
                None if to.overflow == Overflow::Wrap => return Err(TableError::TooLarge),
                None => return Ok(Big::from_i128(to.code_bounds().1).add(&Big::from_i128(1))),
            },
            TableFn::Log => Some(eval::ln_pt(&x, q)),
            TableFn::Softplus => eval::softplus_pt(&x, q),
            TableFn::Gelu => Some(eval::gelu_pt(&x, q)),
            TableFn::Silu => Some(eval::silu_pt(&x, q)),
            TableFn::Sqrt | TableFn::Reciprocal => None,
        };
        if let Some(v) = enclosure {
            // floor(f * 2^(F+1)) over the open interval (lo, hi) / 2^q.
            let s = i64::from(ff) + 1 - i64::from(q);
            let scale = |b: &Big, up: bool| {
                if s >= 0 {
                    b.shl(s as u32)
                } else if up {
                    b.shr_ceil(s.unsigned_abs() as u32)
                } else {
                    b.shr_floor(s.unsigned_abs() as u32)
                }
            };
            let low = scale(&v.lo, false);
            let high = scale(&v.hi, true).sub(&Big::from_i128(1));
            if low.cmp(&high) == Ordering::Equal {
                return Ok(round_twice(&low, to));
            }
            // Beyond the register on one side: a saturating mode needs no
            // more (twice the code, plus 2 for the rounding, still outside).
            if to.overflow != Overflow::Wrap {
                let (min, max) = to.code_bounds();
                let above = Big::from_i128(max).mul_i(2).add(&Big::from_i128(4));
                let below = Big::from_i128(min).mul_i(2).sub(&Big::from_i128(4));
                if low.cmp(&above) == Ordering::Greater {
                    return Ok(Big::from_i128(max).add(&Big::from_i128(1)));
                }
                if high.cmp(&below) == Ordering::Less {
                    return Ok(Big::from_i128(min).sub(&Big::from_i128(1)));
                }
            }
        }
        q *= 2;
    }
    Err(TableError::Undecided)
}

/// `f(raw / 2^frac) / (b * 2^e)` rounded to the nearest integer, ties to
/// even, exactly (`b` odd and positive): the code a `QuantizeLinear` of
/// scale `b * 2^e` gives `f` of a dequantized value, before its zero point
/// (`convoy import`'s tables of `Sigmoid` and `Tanh`, `docs/import.md`).
/// Saturates at the `i128` range. Only for `Sigmoid` and `Tanh`.
pub fn quotient_code(
    f: TableFn,
    raw: i128,
    frac: u32,
    b: i128,
    e: i32,
) -> Result<i128, TableError> {
    if b <= 0 || !matches!(f, TableFn::Sigmoid | TableFn::Tanh) || e.unsigned_abs() > 4000 {
        return Err(TableError::TooLarge);
    }
    if let Some((num, den)) = exact_value(f, raw, frac)? {
        // num / (den * b * 2^e), rounded half to even.
        let (mut n, mut d) = (Big::from_i128(num), Big::from_i128(den).mul_i(b));
        if e >= 0 {
            d = d.shl(e as u32);
        } else {
            n = n.shl(e.unsigned_abs());
        }
        let fl = n.div_floor(&d);
        let twice = n.sub(&fl.mul(&d)).mul_i(2);
        let up = match twice.cmp(&d) {
            Ordering::Greater => true,
            Ordering::Equal => !fl.sub(&fl.shr_floor(1).shl(1)).is_zero(),
            Ordering::Less => false,
        };
        let q = if up { fl.add(&Big::from_i128(1)) } else { fl };
        return Ok(saturate_i128(&q));
    }
    let mut q = frac.max(e.unsigned_abs()) + 96;
    while q <= 8192 {
        let x = Big::from_i128(raw).shl(q - frac);
        let v = match f {
            TableFn::Sigmoid => eval::sigmoid_pt(&x, q),
            _ => eval::tanh_pt(&x, q),
        };
        // 2y = f * 2^(1 - e) / b lies in the open (lo, hi) * 2^s / b.
        let s = 1 - i64::from(e) - i64::from(q);
        let (low, high) = if s >= 0 {
            let d = Big::from_i128(b);
            (
                v.lo.shl(s as u32).div_floor(&d),
                v.hi.shl(s as u32).div_ceil(&d),
            )
        } else {
            let d = Big::from_i128(b).shl(s.unsigned_abs() as u32);
            (v.lo.div_floor(&d), v.hi.div_ceil(&d))
        };
        let high = high.sub(&Big::from_i128(1));
        if low.cmp(&high) == Ordering::Equal {
            // floor(2y) = low and 2y is not an integer (f is transcendental
            // here): y rounds to ceil(low / 2), never a tie.
            return Ok(saturate_i128(&low.add(&Big::from_i128(1)).shr_floor(1)));
        }
        q *= 2;
    }
    Err(TableError::Undecided)
}

fn saturate_i128(v: &Big) -> i128 {
    v.to_i128()
        .unwrap_or(if v.is_neg() { i128::MIN } else { i128::MAX })
}

/// The code for a value `y / 2` with `floor(y) = fl2` and `y` not an
/// integer: the floor of the value is `fl2 >> 1`, and the dropped part is
/// above one half exactly when `fl2` is odd.
fn round_twice(fl2: &Big, to: &ScalarType) -> Big {
    let floor = fl2.shr_floor(1);
    let odd = fl2.sub(&floor.shl(1)).is_zero().then_some(Ordering::Less);
    let half = odd.unwrap_or(Ordering::Greater);
    match floor.to_i128() {
        Some(fl) if fl > i128::MIN + 2 && fl < i128::MAX - 2 => {
            Big::from_i128(round_quotient(fl, true, half, to.quant))
        }
        // Beyond i128: rounding moves it by at most one, far outside any register.
        _ => floor,
    }
}

/// `sqrt(raw / 2^frac)` rounded to `to`: `floor(sqrt(N / D))` is
/// `isqrt(floor(N / D))`, and the root is exact when its square is `N / D`.
fn sqrt_code(raw: i128, frac: u32, to: &ScalarType) -> Result<Big, TableError> {
    // y = sqrt(x) * 2^(F+1), y^2 = raw * 2^(2F + 2 - frac).
    let e = 2 * i64::from(to.frac_bits()) + 2 - i64::from(frac);
    let (n, d) = if e >= 0 {
        (Big::from_i128(raw).shl(e as u32), Big::from_i128(1))
    } else {
        (Big::from_i128(raw), Big::pow2(e.unsigned_abs() as u32))
    };
    let fl2 = n.div_floor(&d).isqrt();
    if fl2.mul(&fl2).mul(&d).cmp(&n) == Ordering::Equal {
        // sqrt(x) * 2^F = fl2 / 2 exactly.
        let fl2 = fl2.to_i128().ok_or(TableError::TooLarge)?;
        let code = quantize_rational(fl2, 2, 0, to.quant).ok_or(TableError::TooLarge)?;
        return Ok(Big::from_i128(code));
    }
    Ok(round_twice(&fl2, to))
}

#[cfg(test)]
mod tests;
