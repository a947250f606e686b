//! Elementwise stages on bytes in one pass of 16-bit lanes: a tail on one
//! byte map, or on two byte maps added, subtracted or compared (a residual
//! add `((x + z) >> 1) as u8`). The general row kernel (`elementwise`)
//! widens every value to 32 bits in a row of its own, combines the rows,
//! then runs the tail over them; here each value is read, combined, shifted
//! and stored in one loop of twice as many lanes per vector. Only when the
//! checker's ranges prove every intermediate value fits 16 bits.

use super::requant::{Bias, Requant};
use crate::ir::Elementwise;

/// A tail whose every step fits 16-bit lanes (see [`Lanes16::of`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Lanes16 {
    pre: Vec<i16>,
    post: Vec<i16>,
    lo1: i16,
    hi1: i16,
    lo2: i16,
    hi2: i16,
    shift: u32,
    bias: Bias,
}

impl Lanes16 {
    /// `q` on values in `lo..=hi` (the range of the node the tail reads),
    /// if no step leaves 16 bits: no product (`mul` 1), a shift below 16,
    /// and every sum within `i16` (the clamps bound the rest).
    pub(super) fn of(q: &Requant, (lo, hi): (i128, i128)) -> Option<Lanes16> {
        let (shift, bias) = match &q.scale {
            None => (0, Bias::None),
            Some(s) if s.mul.iter().all(|&m| m == 1) && s.shift < 15 => (s.shift, s.bias),
            Some(_) => return None,
        };
        if q.residual.is_some() || q.pre.is_empty() || q.post.is_empty() {
            return None;
        }
        let fits = |v: i128| (i128::from(i16::MIN)..=i128::from(i16::MAX)).contains(&v);
        let (pre_lo, pre_hi) = min_max(&q.pre);
        let (post_lo, post_hi) = min_max(&q.post);
        // v = clamp(x + pre, lo1, hi1): the sum in 16 bits.
        if !fits(lo + pre_lo) || !fits(hi + pre_hi) {
            return None;
        }
        let (lo1, hi1) = (i128::from(q.lo1), i128::from(q.hi1));
        let v_lo = (lo + pre_lo).clamp(lo1, hi1.max(lo1));
        let v_hi = (hi + pre_hi).clamp(lo1, hi1.max(lo1));
        // v + bias, with a bias below 2^shift.
        let round = (1i128 << shift) - 1;
        if !fits(v_lo) || !fits(v_hi + round) {
            return None;
        }
        // r = (v + bias) >> shift, then r + post.
        let (r_lo, r_hi) = (v_lo >> shift, (v_hi + round) >> shift);
        if !fits(r_lo + post_lo) || !fits(r_hi + post_hi) {
            return None;
        }
        // The clamps' bounds, saturated to 16 bits: a bound beyond them
        // clamps no 16-bit value, unless it lies on the wrong side of all.
        let (lo2, hi2) = (i128::from(q.lo2), i128::from(q.hi2));
        if lo2 > i128::from(i16::MAX) || hi2 < i128::from(i16::MIN) {
            return None;
        }
        let sat = |v: i128| v.clamp(i128::from(i16::MIN), i128::from(i16::MAX)) as i16;
        Some(Lanes16 {
            pre: q.pre.iter().map(|&v| v as i16).collect(),
            post: q.post.iter().map(|&v| v as i16).collect(),
            lo1: sat(lo1),
            hi1: sat(hi1),
            lo2: sat(lo2),
            hi2: sat(hi2),
            shift,
            bias,
        })
    }
}

fn min_max(v: &[i32]) -> (i128, i128) {
    let lo = v.iter().copied().min().unwrap_or(0);
    let hi = v.iter().copied().max().unwrap_or(0);
    (i128::from(lo), i128::from(hi))
}

/// How a byte is read: as `u8` or as `i8`.
#[inline(always)]
fn byte(signed: bool) -> impl Fn(u8) -> i16 {
    move |b| {
        if signed {
            i16::from(b as i8)
        } else {
            i16::from(b)
        }
    }
}

/// The tail `t` of channel `c` on `a` (or `a op b`), stored as bytes.
#[inline(always)]
pub(super) fn run_row(
    t: &Lanes16,
    c: usize,
    (a, a_signed): (&[u8], bool),
    b: Option<(&[u8], bool, Elementwise)>,
    out: &mut [u8],
) {
    // One loop per (signedness, op, rounding): straight lines the compiler
    // vectorizes.
    match b {
        None => with_bias(t, c, out, |i| byte(a_signed)(a[i])),
        Some((b, b_signed, op)) => {
            let n = out.len();
            let (a, b) = (&a[..n], &b[..n]);
            macro_rules! pair {
                ($sa:expr, $sb:expr) => {{
                    let (fa, fb) = (byte($sa), byte($sb));
                    match op {
                        Elementwise::Add => with_bias(t, c, out, |i| fa(a[i]) + fb(b[i])),
                        Elementwise::Sub => with_bias(t, c, out, |i| fa(a[i]) - fb(b[i])),
                        Elementwise::Max => with_bias(t, c, out, |i| fa(a[i]).max(fb(b[i]))),
                        Elementwise::Min => with_bias(t, c, out, |i| fa(a[i]).min(fb(b[i]))),
                        Elementwise::Mul => {
                            with_bias(t, c, out, |i| fa(a[i]).wrapping_mul(fb(b[i])))
                        }
                    }
                }};
            }
            match (a_signed, b_signed) {
                (false, false) => pair!(false, false),
                (false, true) => pair!(false, true),
                (true, false) => pair!(true, false),
                (true, true) => pair!(true, true),
            }
        }
    }
}

#[inline(always)]
fn with_bias(t: &Lanes16, c: usize, out: &mut [u8], value: impl Fn(usize) -> i16) {
    let shift = t.shift;
    let half = if shift == 0 { 0 } else { 1i16 << (shift - 1) };
    let half_down = (half - 1).max(0);
    let low_bits = ((1i32 << shift) - 1) as i16;
    match t.bias {
        Bias::None => tail_loop(t, c, out, value, |_| 0),
        Bias::TowardZero => tail_loop(t, c, out, value, |v| if v < 0 { low_bits } else { 0 }),
        Bias::Half => tail_loop(t, c, out, value, |_| half),
        Bias::HalfDown => tail_loop(t, c, out, value, |_| half_down),
        Bias::HalfTowardZero => {
            tail_loop(t, c, out, value, |v| if v < 0 { half } else { half_down })
        }
        Bias::HalfAway => tail_loop(t, c, out, value, |v| if v < 0 { half_down } else { half }),
        Bias::HalfEven => tail_loop(t, c, out, value, |v| half_down + ((v >> shift) & 1)),
    }
}

#[inline(always)]
fn tail_loop(
    t: &Lanes16,
    c: usize,
    out: &mut [u8],
    value: impl Fn(usize) -> i16,
    bias: impl Fn(i16) -> i16,
) {
    let (pre, post) = (t.pre[c], t.post[c]);
    let (lo1, hi1, lo2, hi2, shift) = (t.lo1, t.hi1, t.lo2, t.hi2, t.shift);
    for (i, o) in out.iter_mut().enumerate() {
        let v = (value(i) + pre).clamp(lo1, hi1);
        let r = (v + bias(v)) >> shift;
        *o = (r + post).clamp(lo2, hi2) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jit::native::requant::Scale;

    fn requant(pre: i32, shift: u32, bias: Bias, post: i32, (lo2, hi2): (i32, i32)) -> Requant {
        Requant {
            pre: vec![pre],
            lo1: i32::MIN,
            hi1: i32::MAX,
            scale: Some(Scale {
                mul: vec![1],
                neg: None,
                shift,
                bias,
                narrow: true,
            }),
            post: vec![post],
            lo2,
            hi2,
            residual: None,
            lo3: i32::MIN,
            hi3: i32::MAX,
            derived: Default::default(),
        }
    }

    /// The exact tail of `Requant`'s documentation, on 64 bits.
    fn exact(q: &Requant, x: i64) -> u8 {
        let s = q
            .scale
            .as_ref()
            .map_or((0, Bias::None), |s| (s.shift, s.bias));
        let v = (x + i64::from(q.pre[0])).clamp(i64::from(q.lo1), i64::from(q.hi1));
        let half = if s.0 == 0 { 0 } else { 1i64 << (s.0 - 1) };
        let b = match s.1 {
            Bias::None => 0,
            Bias::TowardZero => {
                if v < 0 {
                    (1 << s.0) - 1
                } else {
                    0
                }
            }
            Bias::Half => half,
            Bias::HalfDown => (half - 1).max(0),
            Bias::HalfTowardZero => {
                if v < 0 {
                    half
                } else {
                    (half - 1).max(0)
                }
            }
            Bias::HalfAway => {
                if v < 0 {
                    (half - 1).max(0)
                } else {
                    half
                }
            }
            Bias::HalfEven => (half - 1).max(0) + ((v >> s.0) & 1),
        };
        let r = (v + b) >> s.0;
        (r + i64::from(q.post[0])).clamp(i64::from(q.lo2), i64::from(q.hi2)) as u8
    }

    #[test]
    fn every_byte_pair_every_rounding_equals_the_exact_tail() {
        let biases = [
            Bias::None,
            Bias::TowardZero,
            Bias::Half,
            Bias::HalfDown,
            Bias::HalfTowardZero,
            Bias::HalfAway,
            Bias::HalfEven,
        ];
        let a: Vec<u8> = (0..=255).collect();
        for bias in biases {
            for shift in [0, 1, 3] {
                for (pre, post, clamp) in [
                    (0, 0, (0, 255)),
                    (-300, 7, (-128, 127)),
                    (5, -3, (i32::MIN, i32::MAX)),
                ] {
                    let q = requant(pre, shift, bias, post, clamp);
                    for signed in [false, true] {
                        let t = Lanes16::of(&q, (-256, 255)).expect("fits 16 bits");
                        for z in 0..=255u8 {
                            let b = vec![z; 256];
                            let mut out = vec![0u8; 256];
                            run_row(
                                &t,
                                0,
                                (&a, signed),
                                Some((&b, signed, Elementwise::Sub)),
                                &mut out,
                            );
                            for (i, &o) in out.iter().enumerate() {
                                let f = |v: u8| {
                                    if signed {
                                        i64::from(v as i8)
                                    } else {
                                        i64::from(v)
                                    }
                                };
                                assert_eq!(
                                    o,
                                    exact(&q, f(a[i]) - f(z)),
                                    "{bias:?} {shift} {pre} {i} {z}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn refuses_what_leaves_16_bits() {
        let q = requant(0, 1, Bias::None, 0, (0, 255));
        assert!(Lanes16::of(&q, (0, 32767)).is_none());
        assert!(Lanes16::of(&q, (0, 510)).is_some());
        let mut wide = q.clone();
        if let Some(s) = wide.scale.as_mut() {
            s.mul[0] = 3;
        }
        assert!(Lanes16::of(&wide, (0, 510)).is_none());
        let mut post = q;
        post.post[0] = 40000;
        assert!(Lanes16::of(&post, (0, 510)).is_none());
    }
}
