//! A small signed big integer for the table evaluator: sums, products,
//! shifts and floor division, nothing more. Values are a sign and a
//! magnitude of little-endian 64-bit limbs without leading zero limbs.

use std::cmp::Ordering;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Big {
    neg: bool,
    mag: Vec<u64>,
}

fn trim(mut v: Vec<u64>) -> Vec<u64> {
    while v.last() == Some(&0) {
        v.pop();
    }
    v
}

fn cmp_mag(a: &[u64], b: &[u64]) -> Ordering {
    if a.len() != b.len() {
        return a.len().cmp(&b.len());
    }
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x.cmp(y);
        }
    }
    Ordering::Equal
}

fn add_mag(a: &[u64], b: &[u64]) -> Vec<u64> {
    let mut out = Vec::with_capacity(a.len().max(b.len()) + 1);
    let mut carry = 0u128;
    for i in 0..a.len().max(b.len()) {
        let s = u128::from(*a.get(i).unwrap_or(&0)) + u128::from(*b.get(i).unwrap_or(&0)) + carry;
        out.push(s as u64);
        carry = s >> 64;
    }
    out.push(carry as u64);
    trim(out)
}

/// `a - b` for `a >= b`.
fn sub_mag(a: &[u64], b: &[u64]) -> Vec<u64> {
    let mut out = Vec::with_capacity(a.len());
    let mut borrow = 0i128;
    for (i, &x) in a.iter().enumerate() {
        let mut d = i128::from(x) - i128::from(*b.get(i).unwrap_or(&0)) - borrow;
        borrow = 0;
        if d < 0 {
            d += 1i128 << 64;
            borrow = 1;
        }
        out.push(d as u64);
    }
    trim(out)
}

fn mul_mag(a: &[u64], b: &[u64]) -> Vec<u64> {
    let mut out = vec![0u64; a.len() + b.len()];
    for (i, &x) in a.iter().enumerate() {
        let mut carry = 0u128;
        for (j, &y) in b.iter().enumerate() {
            let t = u128::from(x) * u128::from(y) + u128::from(out[i + j]) + carry;
            out[i + j] = t as u64;
            carry = t >> 64;
        }
        let mut k = i + b.len();
        while carry > 0 {
            let t = u128::from(out[k]) + carry;
            out[k] = t as u64;
            carry = t >> 64;
            k += 1;
        }
    }
    trim(out)
}

fn shl_mag(a: &[u64], n: u32) -> Vec<u64> {
    if a.is_empty() {
        return vec![];
    }
    let (limbs, bits) = ((n / 64) as usize, n % 64);
    let mut out = vec![0u64; limbs];
    let mut carry = 0u64;
    for &x in a {
        if bits == 0 {
            out.push(x);
        } else {
            out.push((x << bits) | carry);
            carry = x >> (64 - bits);
        }
    }
    out.push(carry);
    trim(out)
}

/// `floor(a / 2^n)` of a magnitude, and whether bits were dropped.
fn shr_mag(a: &[u64], n: u32) -> (Vec<u64>, bool) {
    let (limbs, bits) = ((n / 64) as usize, n % 64);
    if limbs >= a.len() {
        return (vec![], !a.is_empty());
    }
    let mut dropped = a[..limbs].iter().any(|&x| x != 0);
    let rest = &a[limbs..];
    let mut out = Vec::with_capacity(rest.len());
    for (i, &x) in rest.iter().enumerate() {
        if bits == 0 {
            out.push(x);
        } else {
            let hi = rest.get(i + 1).map_or(0, |&h| h << (64 - bits));
            out.push((x >> bits) | hi);
        }
    }
    if bits > 0 {
        dropped |= rest[0] & ((1u64 << bits) - 1) != 0;
    }
    (trim(out), dropped)
}

fn bit_len_mag(a: &[u64]) -> u32 {
    match a.last() {
        None => 0,
        Some(&top) => (a.len() as u32 - 1) * 64 + (64 - top.leading_zeros()),
    }
}

/// Quotient and remainder of magnitudes (`b` non-zero): one limb at a time
/// for a one-limb divisor, else bit by bit.
fn divmod_mag(a: &[u64], b: &[u64]) -> (Vec<u64>, Vec<u64>) {
    if cmp_mag(a, b) == Ordering::Less {
        return (vec![], a.to_vec());
    }
    if let [d] = b {
        let d = u128::from(*d);
        let mut quot = vec![0u64; a.len()];
        let mut rem = 0u128;
        for i in (0..a.len()).rev() {
            let cur = (rem << 64) | u128::from(a[i]);
            quot[i] = (cur / d) as u64;
            rem = cur % d;
        }
        return (trim(quot), trim(vec![rem as u64]));
    }
    let shift = bit_len_mag(a) - bit_len_mag(b);
    let mut rem = a.to_vec();
    let mut quot = vec![0u64; (shift / 64 + 1) as usize];
    let mut d = shl_mag(b, shift);
    for s in (0..=shift).rev() {
        if cmp_mag(&rem, &d) != Ordering::Less {
            rem = sub_mag(&rem, &d);
            quot[(s / 64) as usize] |= 1u64 << (s % 64);
        }
        d = shr_mag(&d, 1).0;
    }
    (trim(quot), rem)
}

impl Big {
    pub fn zero() -> Big {
        Big {
            neg: false,
            mag: vec![],
        }
    }

    pub fn from_i128(v: i128) -> Big {
        let m = v.unsigned_abs();
        Big {
            neg: v < 0,
            mag: trim(vec![m as u64, (m >> 64) as u64]),
        }
    }

    /// `2^n`.
    pub fn pow2(n: u32) -> Big {
        Big::from_i128(1).shl(n)
    }

    fn make(neg: bool, mag: Vec<u64>) -> Big {
        let mag = trim(mag);
        Big {
            neg: neg && !mag.is_empty(),
            mag,
        }
    }

    pub fn is_zero(&self) -> bool {
        self.mag.is_empty()
    }

    pub fn is_neg(&self) -> bool {
        self.neg
    }

    pub fn to_i128(&self) -> Option<i128> {
        if self.mag.len() > 2 {
            return None;
        }
        let m = u128::from(*self.mag.first().unwrap_or(&0))
            | (u128::from(*self.mag.get(1).unwrap_or(&0)) << 64);
        let v = i128::try_from(m).ok()?;
        Some(if self.neg { -v } else { v })
    }

    /// Bits of the magnitude.
    pub fn bit_len(&self) -> u32 {
        bit_len_mag(&self.mag)
    }

    /// An approximation (for choosing a range reduction, never for a result).
    pub fn approx_f64(&self) -> f64 {
        let mut v = 0.0;
        for &limb in self.mag.iter().rev() {
            v = v * 18446744073709551616.0 + limb as f64;
        }
        if self.neg {
            -v
        } else {
            v
        }
    }

    pub fn neg(&self) -> Big {
        Big::make(!self.neg, self.mag.clone())
    }

    pub fn abs(&self) -> Big {
        Big::make(false, self.mag.clone())
    }

    pub fn add(&self, o: &Big) -> Big {
        if self.neg == o.neg {
            return Big::make(self.neg, add_mag(&self.mag, &o.mag));
        }
        match cmp_mag(&self.mag, &o.mag) {
            Ordering::Less => Big::make(o.neg, sub_mag(&o.mag, &self.mag)),
            _ => Big::make(self.neg, sub_mag(&self.mag, &o.mag)),
        }
    }

    pub fn sub(&self, o: &Big) -> Big {
        self.add(&o.neg())
    }

    pub fn mul(&self, o: &Big) -> Big {
        Big::make(self.neg != o.neg, mul_mag(&self.mag, &o.mag))
    }

    pub fn mul_i(&self, k: i128) -> Big {
        self.mul(&Big::from_i128(k))
    }

    pub fn shl(&self, n: u32) -> Big {
        Big::make(self.neg, shl_mag(&self.mag, n))
    }

    /// `floor(self / 2^n)`.
    pub fn shr_floor(&self, n: u32) -> Big {
        let (q, dropped) = shr_mag(&self.mag, n);
        let q = Big::make(self.neg, q);
        if self.neg && dropped {
            q.sub(&Big::from_i128(1))
        } else {
            q
        }
    }

    /// `ceil(self / 2^n)`.
    pub fn shr_ceil(&self, n: u32) -> Big {
        self.neg().shr_floor(n).neg()
    }

    /// `floor(self / d)` for `d != 0`.
    pub fn div_floor(&self, d: &Big) -> Big {
        let (q, r) = divmod_mag(&self.mag, &d.mag);
        let q = Big::make(self.neg != d.neg, q);
        if self.neg != d.neg && !r.is_empty() {
            q.sub(&Big::from_i128(1))
        } else {
            q
        }
    }

    /// `ceil(self / d)` for `d != 0`.
    pub fn div_ceil(&self, d: &Big) -> Big {
        self.neg().div_floor(d).neg()
    }

    /// `floor(sqrt(self))` for `self >= 0` (Newton's iteration from above).
    pub fn isqrt(&self) -> Big {
        if self.is_zero() {
            return Big::zero();
        }
        let mut x = Big::pow2(self.bit_len().div_ceil(2));
        loop {
            let y = x.add(&self.div_floor(&x)).shr_floor(1);
            if y.cmp(&x) != Ordering::Less {
                return x;
            }
            x = y;
        }
    }

    pub fn cmp(&self, o: &Big) -> Ordering {
        match (self.neg, o.neg) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => cmp_mag(&self.mag, &o.mag),
            (true, true) => cmp_mag(&o.mag, &self.mag),
        }
    }

    pub fn min(self, o: Big) -> Big {
        if self.cmp(&o) == Ordering::Greater {
            o
        } else {
            self
        }
    }

    pub fn max(self, o: Big) -> Big {
        if self.cmp(&o) == Ordering::Less {
            o
        } else {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Big;

    #[test]
    fn arithmetic_matches_i128() {
        let vals = [
            0i128,
            1,
            -1,
            7,
            -7,
            1 << 63,
            -(1 << 64) + 3,
            123456789012345678901234567,
            -98765432109876543210,
        ];
        for &a in &vals {
            for &b in &vals {
                let (x, y) = (Big::from_i128(a), Big::from_i128(b));
                assert_eq!(x.add(&y).to_i128(), a.checked_add(b));
                assert_eq!(x.sub(&y).to_i128(), a.checked_sub(b));
                if let Some(p) = a.checked_mul(b) {
                    assert_eq!(x.mul(&y).to_i128(), Some(p));
                }
                if b != 0 {
                    let q = a / b - i128::from(a % b != 0 && ((a < 0) != (b < 0)));
                    assert_eq!(x.div_floor(&y).to_i128(), Some(q), "{a} / {b}");
                }
            }
            for n in [0u32, 1, 5, 63, 64, 65, 100] {
                assert_eq!(
                    Big::from_i128(a).shr_floor(n).to_i128(),
                    Some(a >> n.min(127))
                );
            }
        }
        for v in [0i128, 1, 2, 3, 4, 15, 16, 17, 1 << 100, (1 << 100) - 1] {
            let r = Big::from_i128(v).isqrt().to_i128().unwrap_or(-1);
            assert!(r * r <= v && (r + 1) * (r + 1) > v, "{v}");
        }
    }
}
