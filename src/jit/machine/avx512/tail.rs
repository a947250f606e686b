//! The requantization tail of the AVX-512 kernels (see `native::Requant`),
//! and small helpers shared by the kernels.

use std::arch::x86_64::*;

use crate::jit::native::{Bias, Requant, Scale};

/// The byte mask of the first `n` (at most 64) lanes.
pub(super) fn lanes(n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// Per-stage constants of the tail, broadcast once per call, and which of
/// its steps are not the identity.
pub(super) struct Tail<'a> {
    q: &'a Requant,
    pre: bool,
    clamp1: bool,
    clamp2: bool,
    lo1: __m512i,
    hi1: __m512i,
    lo2: __m512i,
    hi2: __m512i,
    /// `shift` for the even lanes; for the odd lanes `shift - 32` when
    /// `shift >= 32` (the result lands in the high half directly).
    shift: __m512i,
    shift_odd: __m512i,
    /// `2^(shift-1)`, `2^(shift-1) - 1`, `2^shift - 1`, 1.
    half: __m512i,
    half_down: __m512i,
    low_bits: __m512i,
    ones: __m512i,
    /// The same constants on 32-bit lanes, for `Scale::narrow`.
    shift32: __m512i,
    half32: __m512i,
    half_down32: __m512i,
    low_bits32: __m512i,
    ones32: __m512i,
}

impl<'a> Tail<'a> {
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
    pub(super) fn new(q: &'a Requant) -> Tail<'a> {
        let shift = q.scale.as_ref().map_or(0, |s| s.shift);
        let half = if shift == 0 { 0 } else { 1i64 << (shift - 1) };
        let odd = if shift >= 32 { shift - 32 } else { shift };
        Tail {
            q,
            pre: q.pre.iter().any(|&v| v != 0),
            clamp1: q.lo1 > i32::MIN || q.hi1 < i32::MAX,
            clamp2: q.lo2 > i32::MIN || q.hi2 < i32::MAX,
            lo1: _mm512_set1_epi32(q.lo1),
            hi1: _mm512_set1_epi32(q.hi1),
            lo2: _mm512_set1_epi32(q.lo2),
            hi2: _mm512_set1_epi32(q.hi2),
            shift: _mm512_set1_epi64(i64::from(shift)),
            shift_odd: _mm512_set1_epi64(i64::from(odd)),
            half: _mm512_set1_epi64(half),
            half_down: _mm512_set1_epi64((half - 1).max(0)),
            low_bits: _mm512_set1_epi64((2 * half - 1).max(0)),
            ones: _mm512_set1_epi64(1),
            shift32: _mm512_set1_epi32(shift.min(31) as i32),
            half32: _mm512_set1_epi32(half.min(1 << 30) as i32),
            half_down32: _mm512_set1_epi32((half - 1).clamp(0, 1 << 30) as i32),
            low_bits32: _mm512_set1_epi32((2 * half - 1).clamp(0, i64::from(i32::MAX)) as i32),
            ones32: _mm512_set1_epi32(1),
        }
    }

    /// The constants of output channel `c`: (pre, mul, post).
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
    pub(super) fn channel(&self, c: usize) -> [__m512i; 3] {
        let q = self.q;
        let mul = q.scale.as_ref().map_or(1, |s| s.mul[c]);
        [
            _mm512_set1_epi32(q.pre[c]),
            _mm512_set1_epi64(i64::from(mul)),
            _mm512_set1_epi32(q.post[c]),
        ]
    }

    /// Requantizes 16 accumulators of one channel to 16 bytes (the low byte
    /// of each 32-bit result).
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
    fn apply(&self, acc: __m512i, [pre, mul, post]: [__m512i; 3]) -> __m128i {
        let mut v = acc;
        if self.pre {
            v = _mm512_add_epi32(v, pre);
        }
        if self.clamp1 {
            v = _mm512_min_epi32(_mm512_max_epi32(v, self.lo1), self.hi1);
        }
        if let Some(s) = &self.q.scale {
            v = self.scale(v, mul, s);
        }
        let v = _mm512_add_epi32(v, post);
        let v = if self.clamp2 {
            _mm512_min_epi32(_mm512_max_epi32(v, self.lo2), self.hi2)
        } else {
            v
        };
        _mm512_cvtepi32_epi8(v)
    }

    /// [`Self::apply`] on 64 accumulators, joined in order. (A loop, not a
    /// closure: closures do not inherit the target features, and a call per
    /// 16 lanes would cost more than the tail itself.)
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
    pub(super) fn apply4(&self, acc: &[__m512i; 4], k: [__m512i; 3]) -> __m512i {
        let mut q = [_mm_setzero_si128(); 4];
        for (q, &a) in q.iter_mut().zip(acc) {
            *q = self.apply(a, k);
        }
        join(q)
    }

    /// `(v * mul + bias) >> shift` per 32-bit lane: signed 32 x 32 -> 64-bit
    /// products of the even lanes and (moved down) of the odd lanes, rounded
    /// on 64 bits, the 32-bit results blended back into place.
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
    fn scale(&self, v: __m512i, mul: __m512i, s: &Scale) -> __m512i {
        if s.narrow {
            return _mm512_srav_epi32(self.bias32(v, s), self.shift32);
        }
        let even = _mm512_mul_epi32(v, mul);
        let odd = _mm512_mul_epi32(_mm512_shuffle_epi32::<0xF5>(v), mul);
        if s.shift == 0 {
            return _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64::<32>(odd));
        }
        let even = _mm512_srav_epi64(self.bias(even, s), self.shift);
        let odd = _mm512_srav_epi64(self.bias(odd, s), self.shift_odd);
        let odd = if s.shift >= 32 {
            odd
        } else {
            _mm512_slli_epi64::<32>(odd)
        };
        _mm512_mask_blend_epi32(0xAAAA, even, odd)
    }

    /// `v + bias` on 32-bit lanes (see `native::Bias`).
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
    fn bias32(&self, v: __m512i, s: &Scale) -> __m512i {
        let negative = || _mm512_cmplt_epi32_mask(v, _mm512_setzero_si512());
        match s.bias {
            Bias::None => v,
            Bias::TowardZero => _mm512_mask_add_epi32(v, negative(), v, self.low_bits32),
            Bias::Half => _mm512_add_epi32(v, self.half32),
            Bias::HalfDown => _mm512_add_epi32(v, self.half_down32),
            Bias::HalfTowardZero => {
                let down = _mm512_add_epi32(v, self.half_down32);
                _mm512_mask_add_epi32(down, negative(), down, self.ones32)
            }
            Bias::HalfAway => {
                let up = _mm512_add_epi32(v, self.half32);
                _mm512_mask_sub_epi32(up, negative(), up, self.ones32)
            }
            Bias::HalfEven => {
                let odd = _mm512_and_si512(_mm512_srav_epi32(v, self.shift32), self.ones32);
                _mm512_add_epi32(_mm512_add_epi32(v, self.half_down32), odd)
            }
        }
    }

    /// `p + bias` on 64-bit lanes (see `native::Bias`).
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
    fn bias(&self, p: __m512i, s: &Scale) -> __m512i {
        let negative = || _mm512_cmplt_epi64_mask(p, _mm512_setzero_si512());
        match s.bias {
            Bias::None => p,
            Bias::TowardZero => _mm512_mask_add_epi64(p, negative(), p, self.low_bits),
            Bias::Half => _mm512_add_epi64(p, self.half),
            Bias::HalfDown => _mm512_add_epi64(p, self.half_down),
            Bias::HalfTowardZero => {
                let down = _mm512_add_epi64(p, self.half_down);
                _mm512_mask_add_epi64(down, negative(), down, self.ones)
            }
            Bias::HalfAway => {
                let up = _mm512_add_epi64(p, self.half);
                _mm512_mask_sub_epi64(up, negative(), up, self.ones)
            }
            Bias::HalfEven => {
                let odd = _mm512_and_si512(_mm512_srav_epi64(p, self.shift), self.ones);
                _mm512_add_epi64(_mm512_add_epi64(p, self.half_down), odd)
            }
        }
    }
}

/// Four 16-byte quarters as one 64-byte vector, in order.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
pub(super) fn join(q: [__m128i; 4]) -> __m512i {
    let v = _mm512_castsi128_si512(q[0]);
    let v = _mm512_inserti32x4::<1>(v, q[1]);
    let v = _mm512_inserti32x4::<2>(v, q[2]);
    _mm512_inserti32x4::<3>(v, q[3])
}
