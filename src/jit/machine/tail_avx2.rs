//! The requantization tails of the AVX2 kernels: 32-bit accumulators of 8
//! lanes to output bytes, exactly as `jit::native::requant` and the
//! interpreter define them. [`Tail`] is the general form (any factor,
//! rounding and pack; AVX2 has no 64-bit arithmetic shift, so `sra64`
//! builds one from logical shifts); [`Fast`] the folded form of
//! `tail_avx512` (the result is the high half of `acc * mul' + c'`), on
//! 256-bit vectors, narrowed by saturating packs; a rounding whose bias
//! depends on the product's sign folds mirrored (`tail_avx512::Mirrored`:
//! magnitudes rounded down, signs restored by `vpsignw` after the first
//! pack: 8 operations a vector where adding a bias to the negative
//! products took 13), also after a pre-add, which `Folded` does not fold
//! with such a rounding (`Fast::pre`: the pre-add comes first).

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

#[cfg(target_arch = "x86_64")]
use super::tail_avx512::{Folded, Mirrored};
#[cfg(target_arch = "x86_64")]
use crate::jit::native::{Bias, DerivedBy, Requant, Scale};

/// The requantization tail (`native::Requant`) on 8 lanes; AVX2 has no
/// 64-bit arithmetic shift, so `sra64` builds one from logical shifts.
#[cfg(target_arch = "x86_64")]
pub(super) struct Tail<'a> {
    q: &'a Requant,
    pre: bool,
    clamp1: bool,
    clamp2: bool,
    lo1: __m256i,
    hi1: __m256i,
    lo2: __m256i,
    hi2: __m256i,
    shift: __m256i,
    shift_odd: __m256i,
    half: __m256i,
    half_down: __m256i,
    low_bits: __m256i,
    ones: __m256i,
    shift32: __m256i,
    half32: __m256i,
    half_down32: __m256i,
    low_bits32: __m256i,
    ones32: __m256i,
    /// Byte 0 of each dword, per 128-bit lane, into its low 4 bytes.
    low_bytes: __m256i,
    /// Byte 0 of each dword, per 128-bit lane, into bytes `4 p ..
    /// 4 p + 4` of the lane (the others zero): [`Self::packed4`] without
    /// packs.
    pick: [__m256i; 4],
    /// The second clamp and the narrowing as saturating packs, when the
    /// clamp lies within a byte type's range.
    packs: Option<Packs>,
    /// The folded form, when the stage has it.
    folded: Option<&'a Folded>,
    /// The mirrored constants, when the folded form needs a bias on
    /// negative products (`Folded::neg`) and the stage has them: the fold
    /// then rounds magnitudes and restores the signs ([`Fast`]).
    mirrored: Option<&'a Mirrored>,
    /// The high-half form of the scale step ([`High`]), when it applies.
    high: Option<High>,
}

/// The scale step `(v * mul + bias) >> shift` (low 32 bits) without a
/// 64-bit shift, for `shift >= 1` and any rounding but `HalfEven`: with
/// `up = 32 - shift` (or 0), `(v * mul + bias) << up` fits in 64 bits
/// when every `mul << up` fits in 32 (a 32 x 32-bit product plus a bias
/// below `2^32`), and its high dword is the result (arithmetically
/// shifted by `shift - 32` more when `shift > 32`). The bias is `pos`,
/// plus `neg` for a negative product.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct High {
    up: u32,
    /// `pos << up`, per 64-bit lane, when not 0.
    pos: Option<__m256i>,
    /// `neg << up`, per 64-bit lane, when not 0.
    neg: Option<__m256i>,
    /// `shift - 32`, per 32-bit lane, when `shift > 32`.
    rest: Option<__m256i>,
}

#[cfg(target_arch = "x86_64")]
impl High {
    #[target_feature(enable = "avx2")]
    fn of(q: &Requant) -> Option<High> {
        let s = q.scale.as_ref()?;
        if s.narrow || s.shift == 0 || s.neg.is_some() {
            return None;
        }
        // (bias of a product >= 0, extra bias of a negative one), as
        // `Tail::bias` adds them.
        let (pos, neg) = s.bias.sides(s.shift)?;
        let (pos, neg) = (i64::try_from(pos).ok()?, i64::try_from(neg).ok()?);
        let up = 32u32.saturating_sub(s.shift);
        if !s
            .mul
            .iter()
            .all(|&m| i32::try_from(i64::from(m) << up).is_ok())
        {
            return None;
        }
        Some(High {
            up,
            pos: (pos != 0).then(|| _mm256_set1_epi64x(pos << up)),
            neg: (neg != 0).then(|| _mm256_set1_epi64x(neg << up)),
            rest: (s.shift > 32).then(|| _mm256_set1_epi32(s.shift as i32 - 32)),
        })
    }

    /// The 64-bit products `p` (of `mul << up`) plus their bias.
    #[inline(always)]
    unsafe fn bias(&self, p: __m256i) -> __m256i {
        // SAFETY: only inlined into functions compiled with AVX2.
        unsafe {
            let biased = self.pos.map_or(p, |pos| _mm256_add_epi64(p, pos));
            match self.neg {
                Some(neg) => _mm256_add_epi64(biased, negative_extra(p, neg)),
                None => biased,
            }
        }
    }

    /// `(v * mul + bias) >> shift` from `mul << up` ([`Tail::channel`]).
    #[inline(always)]
    unsafe fn scale(&self, v: __m256i, mul: __m256i) -> __m256i {
        // SAFETY: only inlined into functions compiled with AVX2.
        unsafe {
            let even = self.bias(_mm256_mul_epi32(v, mul));
            let odd = self.bias(_mm256_mul_epi32(_mm256_srli_epi64::<32>(v), mul));
            let v = _mm256_blend_epi32::<0xAA>(_mm256_srli_epi64::<32>(even), odd);
            self.rest.map_or(v, |rest| _mm256_srav_epi32(v, rest))
        }
    }
}

/// The folded forms of a tail ([`Tail::folded`], [`Tail::mirrored`]),
/// made once per stage (`Requant::derived`): per channel, in every job,
/// they cost a pointwise 160 -> 960 on 7 x 7 10% of its time.
#[cfg(target_arch = "x86_64")]
struct Folds {
    folded: Option<Folded>,
    mirrored: Option<Mirrored>,
}

#[cfg(target_arch = "x86_64")]
impl Folds {
    /// The forms of `q`, made on the first call for `q`.
    fn of(q: &Requant) -> &Folds {
        // Only this function stores into this slot: always a `Folds`.
        match (q.derived).get_or_make(DerivedBy::Avx2Tail, || Folds::make(q)) {
            Some(f) => f,
            None => unreachable!("the AVX2 slot of Requant::derived holds only Folds"),
        }
    }

    fn make(q: &Requant) -> Folds {
        let packs = Packs::of(q).is_some();
        let folded = Folded::of(q, packs, true);
        // Where `Folded::neg` is set, or `Folded` does not apply (a
        // sign-dependent rounding after a pre-add, which `Fast::mirrored`
        // adds first).
        let mirrored = match &folded {
            Some(f) if f.neg == 0 => None,
            _ => Mirrored::of(q, packs),
        };
        Folds { folded, mirrored }
    }
}

/// `extra` in the 64-bit lanes where `p` is negative, 0 elsewhere: the
/// other side of a sign-dependent rounding's bias (`Bias::sides`).
///
/// # Safety
/// Only inlined into functions compiled with AVX2.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn negative_extra(p: __m256i, extra: __m256i) -> __m256i {
    // SAFETY: the caller's target features.
    unsafe { _mm256_and_si256(_mm256_cmpgt_epi64(_mm256_setzero_si256(), p), extra) }
}

#[cfg(target_arch = "x86_64")]
impl<'a> Tail<'a> {
    #[target_feature(enable = "avx2")]
    pub(super) fn new(q: &'a Requant) -> Tail<'a> {
        // The sign split of a PReLU is planned for the AVX-512 tail only
        // (`native::fits`).
        debug_assert!(q.scale.as_ref().is_none_or(|s| s.neg.is_none()));
        let shift = q.scale.as_ref().map_or(0, |s| s.shift);
        let half = if shift == 0 { 0 } else { 1i64 << (shift - 1) };
        let odd = if shift >= 32 { shift - 32 } else { shift };
        let low: [i8; 32] = std::array::from_fn(|i| {
            let i = i % 16;
            if i < 4 {
                (4 * i) as i8
            } else {
                -1
            }
        });
        let pick = |p: usize| {
            let idx: [i8; 32] = std::array::from_fn(|b| {
                let b = b % 16;
                if b / 4 == p {
                    (4 * (b % 4)) as i8
                } else {
                    -1
                }
            });
            // SAFETY: `idx` is 32 bytes.
            unsafe { _mm256_loadu_si256(idx.as_ptr().cast()) }
        };
        let packs = Packs::of(q);
        let folds = Folds::of(q);
        Tail {
            pick: [pick(0), pick(1), pick(2), pick(3)],
            packs,
            folded: folds.folded.as_ref(),
            mirrored: folds.mirrored.as_ref(),
            high: High::of(q),
            q,
            pre: q.pre.iter().any(|&v| v != 0),
            clamp1: q.lo1 > i32::MIN || q.hi1 < i32::MAX,
            clamp2: q.lo2 > i32::MIN || q.hi2 < i32::MAX,
            lo1: _mm256_set1_epi32(q.lo1),
            hi1: _mm256_set1_epi32(q.hi1),
            lo2: _mm256_set1_epi32(q.lo2),
            hi2: _mm256_set1_epi32(q.hi2),
            shift: _mm256_set1_epi64x(i64::from(shift)),
            shift_odd: _mm256_set1_epi64x(i64::from(odd)),
            half: _mm256_set1_epi64x(half),
            half_down: _mm256_set1_epi64x((half - 1).max(0)),
            low_bits: _mm256_set1_epi64x((2 * half - 1).max(0)),
            ones: _mm256_set1_epi64x(1),
            shift32: _mm256_set1_epi32(shift.min(31) as i32),
            half32: _mm256_set1_epi32(half.min(1 << 30) as i32),
            half_down32: _mm256_set1_epi32((half - 1).clamp(0, 1 << 30) as i32),
            low_bits32: _mm256_set1_epi32((2 * half - 1).clamp(0, i64::from(i32::MAX)) as i32),
            ones32: _mm256_set1_epi32(1),
            // SAFETY: `low` is 32 bytes.
            low_bytes: unsafe { _mm256_loadu_si256(low.as_ptr().cast()) },
        }
    }

    /// The per-channel constants of output channel `c`.
    ///
    /// # Safety
    /// Only inlined into functions compiled with AVX2 (these methods are
    /// always inlined: out of line, a call per 8 results cost the first
    /// layer's kernel 15%).
    #[inline(always)]
    pub(super) unsafe fn channel(&self, c: usize) -> [__m256i; 3] {
        let q = self.q;
        let mul = q.scale.as_ref().map_or(1, |s| s.mul[c]);
        // `High::scale` multiplies by `mul << up`.
        let up = self.high.map_or(0, |h| h.up);
        [
            _mm256_set1_epi32(q.pre[c]),
            _mm256_set1_epi64x(i64::from(mul) << up),
            _mm256_set1_epi32(q.post[c]),
        ]
    }

    /// 8 accumulators of one channel to 8 bytes (the low 8 of the result).
    ///
    /// # Safety
    /// As [`Self::channel`].
    #[inline(always)]
    pub(super) unsafe fn apply(&self, acc: __m256i, k: [__m256i; 3]) -> __m128i {
        // SAFETY: the caller's target features.
        unsafe { self.apply_residual(acc, k, None) }
    }

    /// [`Self::apply`] without the narrowing: the 8 32-bit results, for
    /// outputs of 16 or 32 bits.
    ///
    /// # Safety
    /// As [`Self::channel`].
    #[inline(always)]
    pub(super) unsafe fn result(&self, acc: __m256i, k: [__m256i; 3]) -> __m256i {
        // SAFETY: the caller's target features.
        unsafe {
            let v = self.scaled(acc, k);
            if self.clamp2 {
                _mm256_min_epi32(_mm256_max_epi32(v, self.lo2), self.hi2)
            } else {
                v
            }
        }
    }

    /// [`Self::apply`], with the residual values `res` (aligned) added after
    /// the second clamp, then the third clamp.
    ///
    /// # Safety
    /// As [`Self::channel`].
    #[inline(always)]
    pub(super) unsafe fn apply_residual(
        &self,
        acc: __m256i,
        k: [__m256i; 3],
        res: Option<__m256i>,
    ) -> __m128i {
        // SAFETY: the caller's target features.
        unsafe {
            let v = self.result_residual(acc, k, res);
            let b = _mm256_shuffle_epi8(v, self.low_bytes);
            let b = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 1, 1, 1, 1, 1));
            _mm256_castsi256_si128(b)
        }
    }

    /// [`Self::apply_residual`] without the narrowing: the 8 32-bit
    /// results, for outputs of 16 or 32 bits.
    ///
    /// # Safety
    /// As [`Self::channel`].
    #[inline(always)]
    pub(super) unsafe fn result_residual(
        &self,
        acc: __m256i,
        [pre, mul, post]: [__m256i; 3],
        res: Option<__m256i>,
    ) -> __m256i {
        // SAFETY: the caller's target features.
        unsafe {
            let v = self.scaled(acc, [pre, mul, post]);
            let v = if self.clamp2 {
                _mm256_min_epi32(_mm256_max_epi32(v, self.lo2), self.hi2)
            } else {
                v
            };
            match res {
                Some(r) => {
                    let lo3 = _mm256_set1_epi32(self.q.lo3);
                    let hi3 = _mm256_set1_epi32(self.q.hi3);
                    _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(v, r), lo3), hi3)
                }
                None => v,
            }
        }
    }

    /// The tail up to the post-add: 32-bit results before the second clamp.
    #[inline(always)]
    unsafe fn scaled(&self, acc: __m256i, [pre, mul, post]: [__m256i; 3]) -> __m256i {
        // SAFETY: only inlined into functions compiled with AVX2.
        unsafe {
            let mut v = acc;
            if self.pre {
                v = _mm256_add_epi32(v, pre);
            }
            if self.clamp1 {
                v = _mm256_min_epi32(_mm256_max_epi32(v, self.lo1), self.hi1);
            }
            if let Some(s) = &self.q.scale {
                v = self.scale(v, mul, s);
            }
            _mm256_add_epi32(v, post)
        }
    }

    /// 32 accumulators of one channel (four vectors) to bytes in pack
    /// order: byte `16 L + 4 p + i` is lane `4 L + i` of vector `p`
    /// (128-bit lane `L`), as `vpackssdw` then `vpackuswb` leave them.
    #[inline(always)]
    pub(super) unsafe fn packed4(&self, acc: &[__m256i; 4], k: [__m256i; 3]) -> __m256i {
        // SAFETY: only inlined into functions compiled with AVX2.
        unsafe {
            if let Some(p) = self.packs {
                let r = [
                    self.scaled(acc[0], k),
                    self.scaled(acc[1], k),
                    self.scaled(acc[2], k),
                    self.scaled(acc[3], k),
                ];
                return pack_bytes(p, r);
            }
            self.picked4(acc, k, None)
        }
    }

    /// [`Self::packed4`] with the residual values `res` (aligned, lane for
    /// lane as `acc`) added after the second clamp, then the third clamp.
    ///
    /// # Safety
    /// As [`Self::channel`].
    #[inline(always)]
    pub(super) unsafe fn packed4_residual(
        &self,
        acc: &[__m256i; 4],
        k: [__m256i; 3],
        res: &[__m256i; 4],
    ) -> __m256i {
        // SAFETY: the caller's target features.
        unsafe { self.picked4(acc, k, Some(res)) }
    }

    /// [`Self::packed4`] without packs: each vector's 32-bit results (with
    /// the residual values `res` added, when given), byte 0 of each dword
    /// picked into its place.
    #[inline(always)]
    unsafe fn picked4(
        &self,
        acc: &[__m256i; 4],
        k: [__m256i; 3],
        res: Option<&[__m256i; 4]>,
    ) -> __m256i {
        // SAFETY: only inlined into functions compiled with AVX2.
        unsafe {
            let mut bytes = _mm256_setzero_si256();
            for (p, (&a, &pick)) in acc.iter().zip(&self.pick).enumerate() {
                let v = self.result_residual(a, k, res.map(|r| r[p]));
                bytes = _mm256_or_si256(bytes, _mm256_shuffle_epi8(v, pick));
            }
            bytes
        }
    }

    /// The folded form of this tail ([`Folded`]), or the mirrored one
    /// ([`Mirrored`]), when the stage has it.
    pub(super) fn fast(&self) -> Option<Fast<'_>> {
        let packs = self.packs?;
        match (self.folded, self.mirrored) {
            (Some(f), _) if f.neg == 0 => Some(Fast {
                c: &f.c,
                mul: &f.mul,
                shr: f.shr,
                mirror: None,
                pre: None,
                packs,
            }),
            // A bias on negative products, or a sign-dependent rounding
            // after a pre-add (which `Folded` does not fold): mirrored.
            (_, Some(m)) => Some(Fast {
                c: &[],
                mul: &m.mul,
                shr: m.shr,
                mirror: Some((&m.post[..], m.rounding)),
                pre: self.pre.then_some(&self.q.pre[..]),
                packs,
            }),
            _ => None,
        }
    }

    #[inline(always)]
    unsafe fn scale(&self, v: __m256i, mul: __m256i, s: &Scale) -> __m256i {
        // SAFETY: only inlined into functions compiled with AVX2.
        unsafe {
            if s.narrow {
                return _mm256_srav_epi32(self.bias32(v, s), self.shift32);
            }
            if let Some(h) = &self.high {
                return h.scale(v, mul);
            }
            let even = _mm256_mul_epi32(v, mul);
            let odd = _mm256_mul_epi32(_mm256_shuffle_epi32::<0xF5>(v), mul);
            if s.shift == 0 {
                return _mm256_blend_epi32::<0xAA>(even, _mm256_slli_epi64::<32>(odd));
            }
            let even = sra64(self.bias(even, s), self.shift);
            let odd = sra64(self.bias(odd, s), self.shift_odd);
            let odd = if s.shift >= 32 {
                odd
            } else {
                _mm256_slli_epi64::<32>(odd)
            };
            _mm256_blend_epi32::<0xAA>(even, odd)
        }
    }

    #[inline(always)]
    unsafe fn bias32(&self, v: __m256i, s: &Scale) -> __m256i {
        // SAFETY: only inlined into functions compiled with AVX2.
        unsafe {
            let negative = || _mm256_cmpgt_epi32(_mm256_setzero_si256(), v);
            let add_if =
                |m: __m256i, x: __m256i, y: __m256i| _mm256_add_epi32(x, _mm256_and_si256(m, y));
            match s.bias {
                Bias::None => v,
                Bias::TowardZero => add_if(negative(), v, self.low_bits32),
                Bias::Half => _mm256_add_epi32(v, self.half32),
                Bias::HalfDown => _mm256_add_epi32(v, self.half_down32),
                Bias::HalfTowardZero => add_if(
                    negative(),
                    _mm256_add_epi32(v, self.half_down32),
                    self.ones32,
                ),
                Bias::HalfAway => {
                    let up = _mm256_add_epi32(v, self.half32);
                    _mm256_sub_epi32(up, _mm256_and_si256(negative(), self.ones32))
                }
                Bias::HalfEven => {
                    let odd = _mm256_and_si256(_mm256_srav_epi32(v, self.shift32), self.ones32);
                    _mm256_add_epi32(_mm256_add_epi32(v, self.half_down32), odd)
                }
            }
        }
    }

    #[inline(always)]
    unsafe fn bias(&self, p: __m256i, s: &Scale) -> __m256i {
        // SAFETY: only inlined into functions compiled with AVX2.
        unsafe {
            let negative = || _mm256_cmpgt_epi64(_mm256_setzero_si256(), p);
            let add_if =
                |m: __m256i, x: __m256i, y: __m256i| _mm256_add_epi64(x, _mm256_and_si256(m, y));
            match s.bias {
                Bias::None => p,
                Bias::TowardZero => add_if(negative(), p, self.low_bits),
                Bias::Half => _mm256_add_epi64(p, self.half),
                Bias::HalfDown => _mm256_add_epi64(p, self.half_down),
                Bias::HalfTowardZero => {
                    add_if(negative(), _mm256_add_epi64(p, self.half_down), self.ones)
                }
                Bias::HalfAway => {
                    let up = _mm256_add_epi64(p, self.half);
                    _mm256_sub_epi64(up, _mm256_and_si256(negative(), self.ones))
                }
                Bias::HalfEven => {
                    let odd = _mm256_and_si256(sra64(p, self.shift), self.ones);
                    _mm256_add_epi64(_mm256_add_epi64(p, self.half_down), odd)
                }
            }
        }
    }
}

/// Arithmetic shift right of 64-bit lanes: `!((!x) >> s)` for negative `x`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn sra64(x: __m256i, s: __m256i) -> __m256i {
    // SAFETY: only inlined into functions compiled with AVX2.
    unsafe {
        let sign = _mm256_cmpgt_epi64(_mm256_setzero_si256(), x);
        _mm256_xor_si256(_mm256_srlv_epi64(_mm256_xor_si256(x, sign), s), sign)
    }
}

/// Whether the tail `q` has a fast form ([`Tail::fast`]): folded
/// ([`Folded`]) or mirrored ([`Mirrored`]).
#[cfg(target_arch = "x86_64")]
pub(super) fn folds(q: &Requant) -> bool {
    let f = Folds::of(q);
    f.folded.as_ref().is_some_and(|f| f.neg == 0) || f.mirrored.is_some()
}

/// Saturating packs (`vpackssdw`, then `vpackuswb` or `vpacksswb`) clamp
/// 32-bit results to the byte type's range exactly; a narrower second clamp
/// follows on the bytes.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Packs {
    signed: bool,
    /// The second clamp on bytes, when narrower than the type's range.
    clamp: Option<(i8, i8)>,
}

#[cfg(target_arch = "x86_64")]
impl Packs {
    fn of(q: &Requant) -> Option<Packs> {
        let (lo, hi) = (q.lo2, q.hi2);
        // A residual adds after the second clamp: the 32-bit results stay.
        if q.residual.is_some() || lo > hi {
            return None;
        }
        let (signed, min, max) = if 0 <= lo && hi <= 255 {
            (false, 0, 255)
        } else if -128 <= lo && hi <= 127 {
            (true, -128, 127)
        } else {
            return None;
        };
        let clamp = (lo != min || hi != max).then_some((lo as u8 as i8, hi as u8 as i8));
        Some(Packs { signed, clamp })
    }
}

/// Four vectors of 32-bit results as bytes in pack order (see
/// [`Tail::packed4`]), the second clamp applied by the saturation of the
/// packs and the byte clamp.
///
/// # Safety
/// Only inlined into functions compiled with AVX2.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn pack_bytes(p: Packs, r: [__m256i; 4]) -> __m256i {
    // SAFETY: the caller's target features.
    unsafe {
        let w01 = _mm256_packs_epi32(r[0], r[1]);
        let w23 = _mm256_packs_epi32(r[2], r[3]);
        pack_words(p, w01, w23)
    }
}

/// The second pack of [`pack_bytes`] and its byte clamp, from the words of
/// the first.
///
/// # Safety
/// As [`pack_bytes`].
#[inline(always)]
unsafe fn pack_words(p: Packs, w01: __m256i, w23: __m256i) -> __m256i {
    // SAFETY: the caller's target features.
    unsafe {
        if p.signed {
            let b = _mm256_packs_epi16(w01, w23);
            match p.clamp {
                Some((lo, hi)) => _mm256_min_epi8(
                    _mm256_max_epi8(b, _mm256_set1_epi8(lo)),
                    _mm256_set1_epi8(hi),
                ),
                None => b,
            }
        } else {
            let b = _mm256_packus_epi16(w01, w23);
            match p.clamp {
                Some((lo, hi)) => _mm256_min_epu8(
                    _mm256_max_epu8(b, _mm256_set1_epi8(lo)),
                    _mm256_set1_epi8(hi),
                ),
                None => b,
            }
        }
    }
}

/// The folded tail of a stage ([`Folded`]); every method is always inlined
/// into the kernel (a call per 32 results would cost more than the tail).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(super) struct Fast<'a> {
    c: &'a [i64],
    mul: &'a [i32],
    /// The arithmetic shift of the high halves, `shift - 32` or 0.
    shr: u32,
    /// A rounding whose bias depends on the product's sign (`Folded::neg`)
    /// runs mirrored (`tail_avx512::Mirrored`): each channel's post-add on
    /// 16 bits and `b'`, the bias of the magnitude.
    mirror: Option<(&'a [i16], i64)>,
    /// The mirrored form's pre-add, when not all zero.
    pre: Option<&'a [i32]>,
    packs: Packs,
}

/// A channel's constants of [`Fast`]: (c', mul', 0), or when mirrored
/// (the post-add as words, mul', the pre-add).
#[cfg(target_arch = "x86_64")]
pub(super) type FastConsts = [__m256i; 3];

#[cfg(target_arch = "x86_64")]
impl Fast<'_> {
    /// The constants of output channel `c` ([`FastConsts`]).
    ///
    /// # Safety
    /// As [`pack_bytes`].
    #[inline(always)]
    pub(super) unsafe fn channel(&self, c: usize) -> FastConsts {
        // SAFETY: the caller's target features.
        unsafe {
            if self.mirror.is_some() {
                self.channel_with::<true>(c)
            } else {
                self.channel_with::<false>(c)
            }
        }
    }

    /// [`channel`](Self::channel), `NEG`: mirrored (the caller checked
    /// [`has_neg`](Self::has_neg)).
    ///
    /// # Safety
    /// As [`pack_bytes`].
    #[inline(always)]
    pub(super) unsafe fn channel_with<const NEG: bool>(&self, c: usize) -> FastConsts {
        // SAFETY: the caller's target features.
        unsafe {
            let (first, pre) = if NEG {
                (
                    _mm256_set1_epi16(self.mirror.map_or(0, |(post, _)| post[c])),
                    _mm256_set1_epi32(self.pre.map_or(0, |p| p[c])),
                )
            } else {
                (_mm256_set1_epi64x(self.c[c]), _mm256_setzero_si256())
            };
            [first, _mm256_set1_epi64x(i64::from(self.mul[c])), pre]
        }
    }

    /// 8 accumulators to 32-bit results (before the second clamp): the high
    /// halves of the even and the odd lanes' 64-bit sums, joined by a
    /// shuffle and a blend, shifted by `shr`.
    ///
    /// # Safety
    /// As [`pack_bytes`].
    #[inline(always)]
    unsafe fn scaled(&self, acc: __m256i, [c, mul, _]: FastConsts) -> __m256i {
        // SAFETY: the caller's target features.
        unsafe {
            let even = _mm256_add_epi64(_mm256_mul_epi32(acc, mul), c);
            let odd = _mm256_add_epi64(_mm256_mul_epi32(_mm256_shuffle_epi32::<0xF5>(acc), mul), c);
            // Even lane 2i takes dword 2i + 1 of `even`; odd lanes keep `odd`'s.
            let r = _mm256_blend_epi32::<0xAA>(_mm256_shuffle_epi32::<0xF5>(even), odd);
            if self.shr > 0 {
                _mm256_sra_epi32(r, _mm_cvtsi32_si128(self.shr as i32))
            } else {
                r
            }
        }
    }

    /// `t`, the rounded magnitudes of 8 accumulators in the mirrored form
    /// (`tail_avx512::Mirrored`): the high halves of `|v| mul' + b'` (even
    /// and odd lanes joined by a shuffle and a blend), shifted by `shr`.
    ///
    /// # Safety
    /// As [`pack_bytes`]; the tail is mirrored.
    #[inline(always)]
    unsafe fn magnitude(&self, v: __m256i, mul: __m256i, rounding: i64) -> __m256i {
        // SAFETY: the caller's target features.
        unsafe {
            let a = _mm256_abs_epi32(v);
            let mut even = _mm256_mul_epu32(a, mul);
            let mut odd = _mm256_mul_epu32(_mm256_shuffle_epi32::<0xF5>(a), mul);
            if rounding != 0 {
                let b = _mm256_set1_epi64x(rounding);
                even = _mm256_add_epi64(even, b);
                odd = _mm256_add_epi64(odd, b);
            }
            let t = _mm256_blend_epi32::<0xAA>(_mm256_shuffle_epi32::<0xF5>(even), odd);
            if self.shr > 0 {
                _mm256_srl_epi32(t, _mm_cvtsi32_si128(self.shr as i32))
            } else {
                t
            }
        }
    }

    /// Four vectors of accumulators to bytes in pack order (as
    /// [`pack_bytes`]) in the mirrored form: `clamp2(post + sign(v) t)`
    /// on 16-bit lanes after the first pack (exact: see
    /// `tail_avx512::Mirrored`; `vpsignw` takes the signs from `v` packed
    /// alike, zero where `v` is, whose `t` is zero too).
    ///
    /// # Safety
    /// As [`pack_bytes`]; the tail is mirrored.
    #[inline(always)]
    unsafe fn mirrored(&self, v: [__m256i; 4], [post, mul, pre]: FastConsts) -> __m256i {
        let rounding = self.mirror.map_or(0, |(_, r)| r);
        // SAFETY: the caller's target features.
        unsafe {
            // `v = acc + pre` (a 32-bit value: the plan proved it).
            // (No closure: see `depthwise_words_avx2::pair_words`.)
            let v = if self.pre.is_some() {
                [
                    _mm256_add_epi32(v[0], pre),
                    _mm256_add_epi32(v[1], pre),
                    _mm256_add_epi32(v[2], pre),
                    _mm256_add_epi32(v[3], pre),
                ]
            } else {
                v
            };
            let t01 = _mm256_packs_epi32(
                self.magnitude(v[0], mul, rounding),
                self.magnitude(v[1], mul, rounding),
            );
            let t23 = _mm256_packs_epi32(
                self.magnitude(v[2], mul, rounding),
                self.magnitude(v[3], mul, rounding),
            );
            let s01 = _mm256_packs_epi32(v[0], v[1]);
            let s23 = _mm256_packs_epi32(v[2], v[3]);
            let r01 = _mm256_adds_epi16(post, _mm256_sign_epi16(t01, s01));
            let r23 = _mm256_adds_epi16(post, _mm256_sign_epi16(t23, s23));
            pack_words(self.packs, r01, r23)
        }
    }

    /// Whether the tail's rounding depends on the product's sign (the
    /// mirrored form, `Folded::neg`): the kernels pass it as `NEG`.
    pub(super) fn has_neg(&self) -> bool {
        self.mirror.is_some()
    }

    /// Up to 16 accumulators of one channel (one or two vectors) to bytes
    /// in pixel order, the low `8 acc.len()` of the result; `NEG`: the
    /// mirrored form (the caller checked [`has_neg`](Self::has_neg)).
    ///
    /// # Safety
    /// As [`pack_bytes`]; `acc` holds one or two vectors.
    #[inline(always)]
    pub(super) unsafe fn bytes16_with<const NEG: bool>(
        &self,
        acc: &[__m256i],
        k: FastConsts,
    ) -> __m128i {
        // SAFETY: the caller's target features.
        unsafe {
            // Pack order: byte 16 L + 4 p + i is lane 4 L + i of vector p;
            // pixel 8 p + 4 L + i is dword 2 p + L of the result.
            let b = if NEG {
                let a1 = if acc.len() > 1 { acc[1] } else { acc[0] };
                self.mirrored([acc[0], a1, acc[0], a1], k)
            } else {
                let r0 = self.scaled(acc[0], k);
                let r1 = if acc.len() > 1 {
                    self.scaled(acc[1], k)
                } else {
                    r0
                };
                pack_bytes(self.packs, [r0, r1, r0, r1])
            };
            let order = _mm256_setr_epi32(0, 4, 1, 5, 0, 4, 1, 5);
            _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(b, order))
        }
    }

    /// 32 accumulators of one channel to bytes in pack order (see
    /// [`Tail::packed4`]).
    ///
    /// # Safety
    /// As [`pack_bytes`].
    #[inline(always)]
    pub(super) unsafe fn packed4(&self, acc: &[__m256i; 4], k: FastConsts) -> __m256i {
        // SAFETY: the caller's target features.
        unsafe {
            if self.mirror.is_some() {
                self.packed4_with::<true>(acc, k)
            } else {
                self.packed4_with::<false>(acc, k)
            }
        }
    }

    /// [`packed4`](Self::packed4), `NEG`: mirrored (the caller checked
    /// [`has_neg`](Self::has_neg)).
    ///
    /// # Safety
    /// As [`pack_bytes`].
    #[inline(always)]
    pub(super) unsafe fn packed4_with<const NEG: bool>(
        &self,
        acc: &[__m256i; 4],
        k: FastConsts,
    ) -> __m256i {
        // SAFETY: the caller's target features.
        unsafe {
            if NEG {
                return self.mirrored(*acc, k);
            }
            let r = [
                self.scaled(acc[0], k),
                self.scaled(acc[1], k),
                self.scaled(acc[2], k),
                self.scaled(acc[3], k),
            ];
            pack_bytes(self.packs, r)
        }
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    /// `(v * mul + bias) >> shift`, low 32 bits, as `native::requant`
    /// defines it.
    fn reference(v: i32, mul: i32, shift: u32, bias: Bias) -> i32 {
        let x = i128::from(v) * i128::from(mul);
        let half = if shift == 0 { 0 } else { 1i128 << (shift - 1) };
        let negative = x < 0;
        let b = match bias {
            Bias::None => 0,
            Bias::TowardZero if negative => 2 * half - 1,
            Bias::TowardZero => 0,
            Bias::Half => half,
            Bias::HalfDown => half - 1,
            Bias::HalfTowardZero if negative => half,
            Bias::HalfTowardZero => half - 1,
            Bias::HalfAway if negative => half - 1,
            Bias::HalfAway => half,
            Bias::HalfEven => unreachable!(),
        };
        ((x + b) >> shift) as i32
    }

    /// The tail of one channel: `clamp((v * mul + bias) >> shift + post,
    /// lo2, hi2)`, no pre-add, no first or third clamp.
    fn one_channel(
        (mul, shift, bias): (i32, u32, Bias),
        post: i32,
        (lo2, hi2): (i32, i32),
    ) -> Requant {
        Requant {
            pre: vec![0],
            lo1: i32::MIN,
            hi1: i32::MAX,
            scale: Some(Scale {
                mul: vec![mul],
                neg: None,
                shift,
                bias,
                narrow: false,
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

    /// The folded tail with a bias that depends on the product's sign
    /// (`Folded::neg`: `trunc`, `round` and ties toward zero with a
    /// positive `post` the second clamp does not cover), against the
    /// definition, on products around every rounding boundary of results
    /// from below the clamp to above it.
    #[test]
    fn the_folded_tail_rounds_negative_products_as_defined() {
        if !std::is_x86_feature_detected!("avx2") {
            eprintln!("NOT ON THIS CPU: the_folded_tail_rounds_negative_products_as_defined: AVX2");
            return;
        }
        let mut split = 0;
        for shift in [1u32, 5, 12, 20, 31, 33] {
            for mul in [1i32, 3, 77, -5, 1_000_003, -65_537] {
                for bias in [
                    Bias::TowardZero,
                    Bias::HalfAway,
                    Bias::HalfTowardZero,
                    Bias::Half,
                ] {
                    for (post, (lo, hi)) in [(7, (0, 255)), (40, (0, 255)), (9, (-128, 127))] {
                        let q = one_channel((mul, shift, bias), post, (lo, hi));
                        // The byte of a result: unsigned, or (`lo < 0`)
                        // signed.
                        let byte = |g: u8| {
                            if lo < 0 {
                                i32::from(g as i8)
                            } else {
                                i32::from(g)
                            }
                        };
                        // SAFETY: AVX2 (checked above).
                        let tail = unsafe { Tail::new(&q) };
                        let Some(fast) = tail.fast() else {
                            continue;
                        };
                        split += usize::from(fast.has_neg());
                        let unit = 1i64 << shift;
                        let mut values = vec![0i32, 1, -1];
                        // Extremes (each product's result within 32 bits,
                        // as the plan proves): the magnitudes saturate the
                        // first pack.
                        if shift >= 20 && mul.unsigned_abs() < 1 << 11 {
                            values.extend([i32::MAX, i32::MIN, i32::MIN + 1, 1 << 30, -(1 << 30)]);
                        }
                        for k in -60i64..=260 {
                            for d in [-1i64, 0, 1, unit / 2 - 1, unit / 2, unit / 2 + 1] {
                                let v = (k * unit + d) / i64::from(mul);
                                if let Ok(v) = i32::try_from(v) {
                                    values.extend([v, v.wrapping_add(1), v.wrapping_sub(1)]);
                                }
                            }
                        }
                        // Four vectors at once (`packed4_with`, pack
                        // order: byte 16 L + 4 p + i is lane 4 L + i of
                        // vector p).
                        for chunk in values.chunks(32) {
                            let mut lanes = [0i32; 32];
                            lanes[..chunk.len()].copy_from_slice(chunk);
                            // SAFETY: AVX2 (checked above).
                            let got: [u8; 32] = unsafe {
                                let v: [__m256i; 4] = std::array::from_fn(|p| {
                                    _mm256_loadu_si256(lanes[8 * p..].as_ptr().cast())
                                });
                                let k = fast.channel(0);
                                std::mem::transmute(if fast.has_neg() {
                                    fast.packed4_with::<true>(&v, k)
                                } else {
                                    fast.packed4_with::<false>(&v, k)
                                })
                            };
                            for (b, &g) in got.iter().enumerate() {
                                let (l, p, i) = (b / 16, b % 16 / 4, b % 4);
                                let v = lanes[8 * p + 4 * l + i];
                                let want = (reference(v, mul, shift, bias) + post).clamp(lo, hi);
                                assert_eq!(
                                    byte(g),
                                    want,
                                    "packed4: v {v} mul {mul} shift {shift} {bias:?} post {post}"
                                );
                            }
                        }
                        for chunk in values.chunks(8) {
                            let mut lanes = [0i32; 8];
                            lanes[..chunk.len()].copy_from_slice(chunk);
                            // SAFETY: AVX2 (checked above).
                            let got: [u8; 16] = unsafe {
                                let v = _mm256_loadu_si256(lanes.as_ptr().cast());
                                let k = fast.channel(0);
                                std::mem::transmute(if fast.has_neg() {
                                    fast.bytes16_with::<true>(&[v], k)
                                } else {
                                    fast.bytes16_with::<false>(&[v], k)
                                })
                            };
                            for (&v, &g) in lanes.iter().zip(&got) {
                                let want = (reference(v, mul, shift, bias) + post).clamp(lo, hi);
                                assert_eq!(
                                    byte(g),
                                    want,
                                    "v {v} mul {mul} shift {shift} {bias:?} post {post}"
                                );
                            }
                        }
                    }
                }
            }
        }
        // (Negative factors do not fold mirrored: 4 factors x 3 roundings x
        // 2 post-adds x 6 shifts would be 144.)
        assert!(split > 80, "the sign-dependent bias ran {split} times");
    }

    #[test]
    fn the_high_half_scale_rounds_as_the_tail_defines() {
        if !std::is_x86_feature_detected!("avx2") {
            eprintln!("NOT ON THIS CPU: the_high_half_scale_rounds_as_the_tail_defines: AVX2");
            return;
        }
        let biases = [
            Bias::None,
            Bias::TowardZero,
            Bias::Half,
            Bias::HalfDown,
            Bias::HalfTowardZero,
            Bias::HalfAway,
        ];
        let mut high = 0;
        for shift in [1u32, 3, 8, 16, 24, 31, 32, 33, 40] {
            for mul in [1i32, 3, 255, -7, 2_097_152, 7_158_278, -1_000_001] {
                for bias in biases {
                    let q = one_channel((mul, shift, bias), 0, (i32::MIN, i32::MAX));
                    // SAFETY: AVX2 (checked above).
                    let tail = unsafe { Tail::new(&q) };
                    high += usize::from(tail.high.is_some());
                    // Products at and around the multiples of 2^shift and
                    // their halves, of both signs.
                    let unit = 1i64 << shift.min(31);
                    let mut values = vec![0i32, 1, -1, i32::MAX, i32::MIN, i32::MIN + 1];
                    for k in [-3i64, -1, 0, 1, 2] {
                        for d in [-1i64, 0, 1] {
                            for base in [k * unit, k * unit + unit / 2] {
                                let target = base + d;
                                // v with v * mul near `target`.
                                let v = (target / i64::from(mul)).clamp(-(1 << 31), (1 << 31) - 1);
                                let v = v as i32;
                                values.extend([v, v.wrapping_add(1), v.wrapping_sub(1)]);
                            }
                        }
                    }
                    for chunk in values.chunks(8) {
                        let mut lanes = [0i32; 8];
                        lanes[..chunk.len()].copy_from_slice(chunk);
                        // SAFETY: AVX2 (checked above).
                        let got: [i32; 8] = unsafe {
                            let v = _mm256_loadu_si256(lanes.as_ptr().cast());
                            std::mem::transmute(tail.scaled(v, tail.channel(0)))
                        };
                        for (&v, &g) in lanes.iter().zip(&got) {
                            let want = reference(v, mul, shift, bias);
                            assert_eq!(g, want, "v {v} mul {mul} shift {shift} {bias:?}");
                        }
                    }
                }
            }
        }
        assert!(high > 200, "the high-half form ran {high} times");
    }
}
