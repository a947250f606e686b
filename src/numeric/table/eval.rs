//! Rigorous enclosures of the table functions at a working precision.
//!
//! A value is an *open* interval `(lo / 2^q, hi / 2^q)` of big integers that
//! contains the exact real result strictly. Every step rounds outward
//! (floors the lower end, ceils the upper one) and adds a bound on the
//! truncation errors of the series it sums, so the enclosure is a proof,
//! not an estimate. The error bounds are generous (each series step is
//! charged several units in the last place); a wider enclosure only costs a
//! retry at a higher precision (`super::entry`), never a wrong entry.
//!
//! The series: `exp` by `e^x = 2^k e^r`, `|r| <= ln 2 / 2 + 2^-60`, and the
//! Taylor series of `e^r`; `ln` by `ln x = j ln 2 + 2 atanh((m - 1) / (m + 1))`
//! with `m` in `[1, 2)`; `erf` by its Taylor series with enough guard bits for
//! the cancellation (`e^(z^2)`), and `1 - e^-64 < erf(z) < 1` beyond `z = 8`;
//! `ln 2 = sum 1 / (n 2^n)`, `pi` by Machin's formula.

use super::bigint::Big;
use std::cmp::Ordering;

/// An open interval `(lo, hi)` at the context's scale `2^q`.
#[derive(Clone, Debug)]
pub struct Iv {
    pub lo: Big,
    pub hi: Big,
}

impl Iv {
    fn new(lo: Big, hi: Big) -> Iv {
        Iv { lo, hi }
    }
    /// `self + k` for an exact `k` (at the same scale).
    fn add_exact(&self, k: &Big) -> Iv {
        Iv::new(self.lo.add(k), self.hi.add(k))
    }
    /// Brings an enclosure at scale `2^from` to scale `2^to` (`to <= from`).
    fn rescale(&self, from: u32, to: u32) -> Iv {
        Iv::new(self.lo.shr_floor(from - to), self.hi.shr_ceil(from - to))
    }
    fn neg(&self) -> Iv {
        Iv::new(self.hi.neg(), self.lo.neg())
    }
}

/// `floor(a * b / 2^q)` / `ceil(a * b / 2^q)`.
fn mul_floor(a: &Big, b: &Big, q: u32) -> Big {
    a.mul(b).shr_floor(q)
}
fn mul_ceil(a: &Big, b: &Big, q: u32) -> Big {
    a.mul(b).shr_ceil(q)
}

/// The product of an exact `x` and an enclosure, outward.
fn scale_exact(x: &Big, v: &Iv, q: u32) -> Iv {
    if x.is_neg() {
        Iv::new(mul_floor(x, &v.hi, q), mul_ceil(x, &v.lo, q))
    } else {
        Iv::new(mul_floor(x, &v.lo, q), mul_ceil(x, &v.hi, q))
    }
}

thread_local! {
    /// Constants already computed, by (which, scale).
    static CONSTANTS: std::cell::RefCell<std::collections::HashMap<(u8, u32), Iv>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

fn cached(which: u8, w: u32, compute: fn(u32) -> Iv) -> Iv {
    if let Some(v) = CONSTANTS.with(|c| c.borrow().get(&(which, w)).cloned()) {
        return v;
    }
    let v = compute(w);
    CONSTANTS.with(|c| c.borrow_mut().insert((which, w), v.clone()));
    v
}

fn ln2(w: u32) -> Iv {
    cached(0, w, ln2_series)
}

/// `ln 2` at scale `2^w`: the floored terms of `sum 1 / (n 2^n)` sum to at
/// most the true value, and miss at most one unit per term plus a tail
/// below one unit.
fn ln2_series(w: u32) -> Iv {
    let mut s = Big::zero();
    for n in 1..=w {
        s = s.add(&Big::pow2(w - n).div_floor(&Big::from_i128(i128::from(n))));
    }
    Iv::new(
        s.sub(&Big::from_i128(1)),
        s.add(&Big::from_i128(i128::from(w) + 4)),
    )
}

/// `atan(1 / k)` at scale `2^w` (alternating series, floored terms).
fn atan_inv(k: i128, w: u32) -> Iv {
    let mut s = Big::zero();
    let mut n = 0i128;
    let k2 = Big::from_i128(k * k);
    let mut pow = Big::from_i128(k); // k^(2n+1)
    let one = Big::pow2(w);
    loop {
        let t = one.div_floor(&pow.mul_i(2 * n + 1));
        if t.is_zero() {
            break;
        }
        s = if n % 2 == 0 { s.add(&t) } else { s.sub(&t) };
        pow = pow.mul(&k2);
        n += 1;
    }
    let e = Big::from_i128(n + 2);
    Iv::new(s.sub(&e), s.add(&e))
}

fn two_over_sqrt_pi(w: u32) -> Iv {
    cached(1, w, two_over_sqrt_pi_machin)
}

/// `2 / sqrt(pi)` at scale `2^w`.
fn two_over_sqrt_pi_machin(w: u32) -> Iv {
    let a = atan_inv(5, w);
    let b = atan_inv(239, w);
    // pi = 16 atan(1/5) - 4 atan(1/239)
    let pi = Iv::new(
        a.lo.mul_i(16).sub(&b.hi.mul_i(4)),
        a.hi.mul_i(16).sub(&b.lo.mul_i(4)),
    );
    // sqrt(pi) at scale 2^w: sqrt(pi * 2^w * 2^w).
    let s_lo = pi.lo.shl(w).isqrt();
    let s_hi = pi.hi.shl(w).isqrt().add(&Big::from_i128(1));
    let num = Big::pow2(2 * w + 1);
    Iv::new(num.div_floor(&s_hi), num.div_ceil(&s_lo))
}

fn inv_sqrt2(w: u32) -> Iv {
    cached(2, w, inv_sqrt2_isqrt)
}

/// `1 / sqrt(2)` at scale `2^w`: `floor(sqrt(2^(2w-1)))` and one more.
fn inv_sqrt2_isqrt(w: u32) -> Iv {
    let s = Big::pow2(2 * w - 1).isqrt();
    Iv::new(s.sub(&Big::from_i128(1)), s.add(&Big::from_i128(2)))
}

/// `e^r` for `|r| <= 1/2` at scale `2^w`, exact `r`: the Taylor sum and a
/// bound on its error (each term within 4 units: its error shrinks by
/// `|r| / n <= 1/2` per step and two truncations add at most 2; the tail
/// after the first zero term is below twice that term's bound).
fn exp_small(r: &Big, w: u32) -> (Big, Big) {
    let mut t = Big::pow2(w);
    let mut sum = t.clone();
    let mut n = 1i128;
    while !t.is_zero() {
        t = mul_floor(&t, r, w).div_floor(&Big::from_i128(n));
        sum = sum.add(&t);
        n += 1;
    }
    (sum, Big::from_i128(8 * n + 16))
}

/// Beyond this `k` (`e^x > 2^4096`) `exp` reports the value as too large.
const MAX_EXP_SHIFT: i64 = 4096;

/// `e^x` for an exact `x` (at scale `2^q`); `None` when `e^x > 2^4000`.
pub fn exp_pt(x: &Big, q: u32) -> Option<Iv> {
    if x.is_zero() {
        let one = Big::pow2(q);
        return Some(Iv::new(
            one.sub(&Big::from_i128(1)),
            one.add(&Big::from_i128(1)),
        ));
    }
    let approx = x.approx_f64() / 2f64.powi(q as i32);
    let k = (approx / std::f64::consts::LN_2).round();
    if k > MAX_EXP_SHIFT as f64 {
        return None;
    }
    let k = k as i64;
    if k < -(MAX_EXP_SHIFT * 4) {
        // e^x < 2^-16000: (0, 1 unit).
        return Some(Iv::new(Big::zero(), Big::from_i128(1)));
    }
    // Rounded up to 256 bits so that ln 2 is computed once per size.
    let w = (q + 72 + k.max(0) as u32 + 64 - (k.unsigned_abs().leading_zeros()).min(64))
        .next_multiple_of(256);
    let xs = x.shl(w - q);
    let l2 = ln2(w);
    let kb = Big::from_i128(i128::from(k));
    // r = x - k ln 2, an enclosure from ln 2's.
    let (r_lo, r_hi) = if k >= 0 {
        (xs.sub(&kb.mul(&l2.hi)), xs.sub(&kb.mul(&l2.lo)))
    } else {
        (xs.sub(&kb.mul(&l2.lo)), xs.sub(&kb.mul(&l2.hi)))
    };
    let (s_lo, e_lo) = exp_small(&r_lo, w);
    let (s_hi, e_hi) = exp_small(&r_hi, w);
    let lo = s_lo.sub(&e_lo).max(Big::zero());
    let hi = s_hi.add(&e_hi);
    let at_w = if k >= 0 {
        Iv::new(lo.shl(k as u32), hi.shl(k as u32))
    } else {
        let s = k.unsigned_abs() as u32;
        Iv::new(lo.shr_floor(s), hi.shr_ceil(s))
    };
    let r = at_w.rescale(w, q);
    // e^x > 0.
    Some(Iv::new(r.lo.max(Big::zero()), r.hi))
}

/// `2 atanh(s)` for exact `0 <= s <= 1/3` at scale `2^w`, with its error bound.
fn two_atanh(s: &Big, w: u32) -> (Big, Big) {
    let s2 = mul_floor(s, s, w);
    let mut p = s.clone();
    let mut sum = Big::zero();
    let mut n = 0i128;
    while !p.is_zero() {
        sum = sum.add(&p.div_floor(&Big::from_i128(2 * n + 1)));
        p = mul_floor(&p, &s2, w);
        n += 1;
    }
    (sum.mul_i(2), Big::from_i128(16 * n + 32))
}

/// `ln m` at scale `2^w` for `m` in `[1, 2]` given exactly at scale `2^w`.
fn ln_mantissa(m: &Big, w: u32) -> Iv {
    let one = Big::pow2(w);
    // s = (m - 1) / (m + 1), floored: the true s is in [s, s + 1 unit).
    let s = m.sub(&one).shl(w).div_floor(&m.add(&one));
    let (lo, e_lo) = two_atanh(&s, w);
    let (hi, e_hi) = two_atanh(&s.add(&Big::from_i128(1)), w);
    Iv::new(lo.sub(&e_lo), hi.add(&e_hi))
}

/// `ln x` for an exact `x > 0` at scale `2^q`.
pub fn ln_pt(x: &Big, q: u32) -> Iv {
    // x in [2^j, 2^(j+1)).
    let j = i64::from(x.bit_len()) - 1 - i64::from(q);
    let w = q + 80;
    // m = x / 2^j at scale 2^w: x * 2^(w - q - j), exact or enclosed.
    let shift = i64::from(w) - i64::from(q) - j;
    let (m_lo, m_hi) = if shift >= 0 {
        let m = x.shl(shift as u32);
        (m.clone(), m)
    } else {
        let s = shift.unsigned_abs() as u32;
        (x.shr_floor(s), x.shr_ceil(s))
    };
    let lm = Iv::new(ln_mantissa(&m_lo, w).lo, ln_mantissa(&m_hi, w).hi);
    let l2 = ln2(w);
    let jb = Big::from_i128(i128::from(j));
    let jl = if j >= 0 {
        Iv::new(jb.mul(&l2.lo), jb.mul(&l2.hi))
    } else {
        Iv::new(jb.mul(&l2.hi), jb.mul(&l2.lo))
    };
    Iv::new(lm.lo.add(&jl.lo), lm.hi.add(&jl.hi)).rescale(w, q)
}

/// `ln` over an enclosure: increasing, so the ends' enclosures bound it.
fn ln_iv(v: &Iv, q: u32) -> Option<Iv> {
    if v.lo.cmp(&Big::zero()) != Ordering::Greater {
        return None;
    }
    Some(Iv::new(ln_pt(&v.lo, q).lo, ln_pt(&v.hi, q).hi))
}

/// `erf(z)` for an exact `z >= 0` at scale `2^q`.
fn erf_pt(z: &Big, q: u32) -> Iv {
    let one = Big::pow2(q);
    let zf = z.approx_f64() / 2f64.powi(q as i32);
    if zf > 8.0 {
        // erfc(z) < e^(-z^2) / (z sqrt(pi)) < e^-64 < 2^-92.
        let gap = Big::pow2(q).shr_ceil(92).add(&Big::from_i128(1));
        return Iv::new(one.sub(&gap), one);
    }
    // Terms grow to e^(z^2) before they shrink: guard bits for the
    // cancellation, and for the error bound below.
    let growth = (2.9 * zf * zf).ceil() as u32 + 8;
    let w = q + 72 + 2 * growth;
    let zw = z.shl(w - q);
    let z2 = mul_floor(&zw, &zw, w);
    let mut a = zw.clone(); // z^(2n+1) / n!
    let mut sum = Big::zero();
    let mut n = 0i128;
    loop {
        let t = a.div_floor(&Big::from_i128(2 * n + 1));
        sum = if n % 2 == 0 { sum.add(&t) } else { sum.sub(&t) };
        n += 1;
        a = mul_floor(&a, &z2, w).div_floor(&Big::from_i128(n));
        if a.is_zero() && (n as f64) > 2.0 * zf * zf + 2.0 {
            break;
        }
    }
    // Each a_n is within (e^(z^2) + 2) e^(z^2) (n + 1) units; the sum of n
    // terms within n times that; 2^growth exceeds e^(2.9 z^2 / 1.45)... with
    // room: charge 2^(growth + bits(n) + 8) units.
    let bits_n = 128 - (n as u128).leading_zeros();
    let e = Big::pow2(growth + bits_n + 8);
    let c = two_over_sqrt_pi(w);
    let s = Iv::new(sum.sub(&e), sum.add(&e));
    let lo = mul_floor(&c.lo, &s.lo, w).min(mul_floor(&c.hi, &s.lo, w));
    let hi = mul_ceil(&c.lo, &s.hi, w).max(mul_ceil(&c.hi, &s.hi, w));
    let r = Iv::new(lo, hi).rescale(w, q);
    // 0 < erf(z) < 1 for z > 0.
    Iv::new(r.lo.max(Big::zero()), r.hi.min(one))
}

/// `erf` over an enclosure (increasing, odd).
fn erf_iv(z: &Iv, q: u32) -> Iv {
    let at = |v: &Big| {
        if v.is_neg() {
            erf_pt(&v.neg(), q).neg()
        } else {
            erf_pt(v, q)
        }
    };
    Iv::new(at(&z.lo).lo, at(&z.hi).hi)
}

/// `e^(-|x|)`: never too large.
fn exp_neg_abs(x: &Big, q: u32) -> Iv {
    exp_pt(&x.abs().neg(), q).unwrap_or_else(|| Iv::new(Big::zero(), Big::from_i128(1)))
}

/// `1 / (1 + t)` for `t` enclosed in `(lo, hi)`, `lo >= 0`: decreasing in t.
fn inv_one_plus(t: &Iv, q: u32) -> Iv {
    let one = Big::pow2(q);
    let num = Big::pow2(2 * q);
    Iv::new(
        num.div_floor(&one.add(&t.hi)),
        num.div_ceil(&one.add(&t.lo)),
    )
}

/// The logistic function at an exact `x`.
pub fn sigmoid_pt(x: &Big, q: u32) -> Iv {
    let t = exp_neg_abs(x, q);
    let s = inv_one_plus(&t, q); // sigmoid(|x|)
    if x.is_neg() {
        // 1 - sigmoid(|x|)
        s.neg().add_exact(&Big::pow2(q))
    } else {
        s
    }
}

pub fn tanh_pt(x: &Big, q: u32) -> Iv {
    // tanh(|x|) = 2 sigmoid(2|x|) - 1.
    let s = sigmoid_pt(&x.abs().mul_i(2), q);
    let t = Iv::new(s.lo.mul_i(2), s.hi.mul_i(2)).add_exact(&Big::pow2(q).neg());
    let t = Iv::new(t.lo.max(Big::zero()), t.hi);
    if x.is_neg() {
        t.neg()
    } else {
        t
    }
}

/// `ln(1 + e^x) = max(x, 0) + ln(1 + e^-|x|)`.
pub fn softplus_pt(x: &Big, q: u32) -> Option<Iv> {
    let t = exp_neg_abs(x, q).add_exact(&Big::pow2(q));
    let l = ln_iv(&t, q)?;
    Some(if x.is_neg() { l } else { l.add_exact(x) })
}

pub fn silu_pt(x: &Big, q: u32) -> Iv {
    scale_exact(x, &sigmoid_pt(x, q), q)
}

/// `x Phi(x) = x (1 + erf(x / sqrt 2)) / 2`.
pub fn gelu_pt(x: &Big, q: u32) -> Iv {
    let c = inv_sqrt2(q);
    let z = scale_exact(x, &c, q);
    let e = erf_iv(&z, q).add_exact(&Big::pow2(q));
    let phi = Iv::new(e.lo.shr_floor(1), e.hi.shr_ceil(1));
    scale_exact(x, &phi, q)
}
