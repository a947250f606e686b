//! The requantization tail of the row kernels (`rowwise`, `elementwise`):
//! one straight loop per rounding, on 64-bit lanes, or 32-bit lanes when
//! the checker's ranges allow; and the one-byte element types.

use super::requant::{Bias, Requant};

/// The requantization tail (see [`Requant`]) of one row of channel `c`,
/// stored as bytes (the low byte of each result).
#[inline(always)]
pub(super) fn requant_row(q: &Requant, c: usize, acc: &[i32], out: &mut [u8]) {
    let (pre, post) = (i64::from(q.pre[c]), i64::from(q.post[c]));
    let (lo1, hi1, lo2, hi2) = (
        i64::from(q.lo1),
        i64::from(q.hi1),
        i64::from(q.lo2),
        i64::from(q.hi2),
    );
    let Some(s) = &q.scale else {
        for (o, &a) in out.iter_mut().zip(acc) {
            let v = (i64::from(a) + pre).clamp(lo1, hi1);
            *o = (v + post).clamp(lo2, hi2) as u8;
        }
        return;
    };
    let mul = i64::from(s.mul[c]);
    let shift = s.shift;
    let half = if shift == 0 { 0 } else { 1i64 << (shift - 1) };
    let half_down = (half - 1).max(0);
    let low_bits = (2 * half - 1).max(0);
    let k = Consts {
        pre,
        lo1,
        hi1,
        mul,
        shift,
        post,
        lo2,
        hi2,
    };
    // One loop per rounding and per "is there a product", so that each is
    // a straight line the compiler vectorizes.
    // `Scale::narrow`: no product, and every value plus its bias within
    // 32 bits: twice the lanes per vector.
    let narrow = s.narrow && mul == 1;
    let (h32, hd32, lb32) = (half as i32, half_down as i32, low_bits as i32);
    macro_rules! with_bias {
        ($bias:expr, $bias32:expr) => {
            if narrow {
                requant_loop32(&k, acc, out, $bias32)
            } else if mul == 1 {
                requant_loop::<_, false>(&k, acc, out, $bias)
            } else {
                requant_loop::<_, true>(&k, acc, out, $bias)
            }
        };
    }
    match s.bias {
        Bias::None => with_bias!(|_| 0, |_| 0),
        Bias::TowardZero => with_bias!(
            |p: i64| if p < 0 { low_bits } else { 0 },
            |p: i32| if p < 0 { lb32 } else { 0 }
        ),
        Bias::Half => with_bias!(|_| half, |_| h32),
        Bias::HalfDown => with_bias!(|_| half_down, |_| hd32),
        Bias::HalfTowardZero => with_bias!(
            |p: i64| if p < 0 { half } else { half_down },
            |p: i32| if p < 0 { h32 } else { hd32 }
        ),
        Bias::HalfAway => {
            with_bias!(
                |p: i64| if p < 0 { half_down } else { half },
                |p: i32| if p < 0 { hd32 } else { h32 }
            )
        }
        Bias::HalfEven => with_bias!(|p: i64| half_down + ((p >> shift) & 1), |p: i32| hd32
            + ((p >> shift) & 1)),
    }
}

#[inline(always)]
fn requant_loop32<F: Fn(i32) -> i32>(k: &Consts, acc: &[i32], out: &mut [u8], bias: F) {
    // Narrow (see `Scale::narrow`): the clamp bounds, the pre-add and the
    // post-add all fit 32 bits as the checker's ranges prove.
    let c32 = |v: i64| v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
    let (pre, lo1, hi1, post, lo2, hi2) = (
        c32(k.pre),
        c32(k.lo1),
        c32(k.hi1),
        c32(k.post),
        c32(k.lo2),
        c32(k.hi2),
    );
    for (o, &a) in out.iter_mut().zip(acc) {
        let v = (a + pre).clamp(lo1, hi1);
        let r = (v + bias(v)) >> k.shift;
        *o = (r + post).clamp(lo2, hi2) as u8;
    }
}

/// The per-channel constants of a tail, widened.
struct Consts {
    pre: i64,
    lo1: i64,
    hi1: i64,
    mul: i64,
    shift: u32,
    post: i64,
    lo2: i64,
    hi2: i64,
}

#[inline(always)]
fn requant_loop<F: Fn(i64) -> i64, const MUL: bool>(
    k: &Consts,
    acc: &[i32],
    out: &mut [u8],
    bias: F,
) {
    for (o, &a) in out.iter_mut().zip(acc) {
        let v = (i64::from(a) + k.pre).clamp(k.lo1, k.hi1);
        let p = if MUL { v * k.mul } else { v };
        let r = (p + bias(p)) >> k.shift;
        *o = (r + k.post).clamp(k.lo2, k.hi2) as u8;
    }
}

/// A one-byte element, compared as the buffer's type.
pub(super) trait Byte: Copy + Ord {
    const MIN: Self;
    fn from_byte(b: u8) -> Self;
    fn to_byte(self) -> u8;
    fn to_i32(self) -> i32;
}

impl Byte for u8 {
    const MIN: u8 = 0;
    #[inline(always)]
    fn from_byte(b: u8) -> u8 {
        b
    }
    #[inline(always)]
    fn to_byte(self) -> u8 {
        self
    }
    #[inline(always)]
    fn to_i32(self) -> i32 {
        i32::from(self)
    }
}

impl Byte for i8 {
    const MIN: i8 = i8::MIN;
    #[inline(always)]
    fn from_byte(b: u8) -> i8 {
        b as i8
    }
    #[inline(always)]
    fn to_byte(self) -> u8 {
        self as u8
    }
    #[inline(always)]
    fn to_i32(self) -> i32 {
        i32::from(self)
    }
}
