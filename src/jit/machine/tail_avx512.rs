//! The requantization tails of the AVX-512 kernels: 32-bit accumulators
//! of 16 lanes to output bytes, exactly as `jit::native::requant` and the
//! interpreter define them. [`Tail`] is the general form (any factor,
//! rounding and pack); [`Fast`] the folded form (`Tail::fast`): the result
//! is the high half of `acc * mul' + c'`, the shift split at bit 32, so no
//! 64-bit shift is needed. The kernels (`avx512.rs`, `pointwise_avx512.rs`,
//! `conv_avx512.rs`) call them on their accumulators; everything here works
//! on registers and reads no memory but its own constant tables.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

#[cfg(target_arch = "x86_64")]
use crate::jit::native::{Bias, DerivedBy, Requant, Scale};

/// Per-stage constants of the tail, broadcast once per call, and which of
/// its steps are not the identity.
#[cfg(target_arch = "x86_64")]
pub(super) struct Tail<'a> {
    q: &'a Requant,
    pre: bool,
    clamp1: bool,
    clamp2: bool,
    /// The third clamp, after a residual (`Requant::residual`).
    lo3: __m512i,
    hi3: __m512i,
    lo1: __m512i,
    hi1: __m512i,
    lo2: __m512i,
    hi2: __m512i,
    /// `shift` for the even lanes; for the odd lanes `shift - 32` when
    /// `shift >= 32` (the result lands in the high half directly).
    shift: __m512i,
    shift_odd: __m512i,
    /// `2^(shift-1)`, `2^(shift-1) - 1`, `2^shift - 1`, 1; times
    /// `2^(32 - shift)` in the high-half form (`high`).
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
    /// The second clamp and the narrowing to bytes as saturating packs
    /// (see [`Packs`]), when the clamp lies within a byte type's range.
    packs: Option<Packs>,
    /// The byte permutation between pack order and join order (it swaps
    /// the vector index and the 128-bit lane index; its own inverse).
    swap: __m512i,
    /// The tail in its fewest steps, when the stage allows it.
    folded: Option<&'a Folded>,
    /// Else the mirrored form of a rounding symmetric about zero.
    mirrored: Option<&'a Mirrored>,
    /// The product's shift split at bit 32, as in [`Folded`] (`mul' = mul
    /// << (32 - shift)` and the rounding constants likewise when `shift <=
    /// 32`; `vpsrad` by `shift - 32` after when above): the result is the
    /// high half of the rounded 64-bit product. Not for `HalfEven` (its bias
    /// reads bit `shift`) nor for factors that do not scale within 32 bits.
    high: bool,
    /// Byte permutations of [`Self::low_bytes`] into join order and pack
    /// order.
    join_bytes: __m512i,
    pack_bytes: __m512i,
    /// Each channel's factor, scaled as above when `high`.
    muls: &'a [i32],
    /// Each channel's factor of negative values (`Scale::neg`, a PReLU),
    /// scaled likewise; empty without a sign split.
    negs: &'a [i32],
    /// `shift - 32` when `high` and `shift > 32` (else 0), for `vpsrad`.
    shr: __m128i,
}

/// The wide-product tail of a stage without a first clamp or residual,
/// narrowed by saturating packs, with everything added folded into one
/// 64-bit constant per channel and the shift split at bit 32:
///
/// ```text
/// (acc * mul + c) >> shift,  c = pre * mul + bias + (post << shift)
///   = high32(acc * mul' + c') >> shr
/// mul' = mul << (32 - shift), c' = c << (32 - shift), shr = 0   (shift <= 32)
/// mul' = mul,                 c' = c,                 shr = shift - 32   (shift > 32)
/// ```
///
/// exact because `(v + pre) * mul + bias = v * mul + pre * mul + bias`,
/// `(p >> s) + post = (p + (post << s)) >> s`, `floor(p / 2^s) = floor(p
/// 2^(32-s) / 2^32)` and `floor(floor(p / 2^32) / 2^r) = floor(p /
/// 2^(32+r))` (no step wraps: the plan proved every 32-bit value, `mul'`
/// is checked to stay a 32-bit value and `c'` within 2^62, so `acc * mul' +
/// c'` stays within 2^63). The high half of the 64-bit sum is the result:
/// no 64-bit shift, and the even and odd lanes join with one masked
/// shuffle. A rounding whose bias depends on the sign of the product folds
/// only when the second clamp takes every product below zero to its lower
/// bound anyway (`post <= lo2`: every rounding of a negative product is at
/// most 0), where the bias of the non-negative side serves both; or, for
/// a kernel that asks (`signed`, the AVX2 tail) and a tail without `pre`,
/// with `neg` added to the sums of negative products (`acc * mul' < 0`
/// exactly when the product is: `mul'` has `mul`'s sign): the difference
/// of the two sides' biases at the same scale.
#[cfg(target_arch = "x86_64")]
pub(super) struct Folded {
    pub c: Vec<i64>,
    pub mul: Vec<i32>,
    /// The arithmetic shift of the high halves, `shift - 32` or 0.
    pub shr: u32,
    /// Added to `acc * mul'` where it is negative (only when `signed`).
    pub neg: i64,
}

#[cfg(target_arch = "x86_64")]
impl Folded {
    /// The folded constants of `q` (the AVX2 tails use them too), when it
    /// folds; `packs`: whether the kernel narrows by saturating packs.
    pub(super) fn of(q: &Requant, packs: bool, signed: bool) -> Option<Folded> {
        let s = q.scale.as_ref()?;
        if s.narrow || !packs || q.residual.is_some() || q.lo1 > i32::MIN || q.hi1 < i32::MAX {
            return None;
        }
        if s.neg.is_some() {
            return None;
        }
        let negatives_clamped = q.post.iter().all(|&p| p <= q.lo2);
        // A sign-dependent rounding: the non-negative side's bias serves
        // both when the clamp takes every negative product to its lower
        // bound anyway; else (`signed`, no pre-add) `neg` adds the
        // negative side's on top.
        let split = signed && s.shift > 0 && q.pre.iter().all(|&p| p == 0);
        let (bias, neg) = s.bias.sides(s.shift)?;
        let sign_dependent = !matches!(s.bias, Bias::None | Bias::Half | Bias::HalfDown);
        let neg = if !sign_dependent || negatives_clamped {
            0
        } else if split {
            neg
        } else {
            return None;
        };
        let up = 32u32.saturating_sub(s.shift);
        // `room` leaves space for `neg`: `acc * mul' + neg + c'` stays
        // within 2^63.
        let neg = neg << up;
        let room = (1i128 << 62) - neg.abs();
        let c = (q.pre.iter().zip(&s.mul).zip(&q.post))
            .map(|((&pre, &mul), &post)| {
                let c = i128::from(pre) * i128::from(mul) + bias + (i128::from(post) << s.shift);
                let c = c.checked_mul(1i128 << up)?;
                (-room < c && c < room).then_some(c as i64)
            })
            .collect::<Option<Vec<i64>>>()?;
        let mul = (s.mul.iter())
            .map(|&m| i32::try_from(i64::from(m) << up).ok())
            .collect::<Option<Vec<i32>>>()?;
        Some(Folded {
            c,
            mul,
            shr: s.shift.saturating_sub(32),
            neg: neg as i64,
        })
    }
}

/// Saturating packs (`vpackssdw`, then `vpackuswb` or `vpacksswb`) clamp
/// 32-bit results to the byte type's range exactly; a narrower second clamp
/// follows on the bytes.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Packs {
    signed: bool,
    /// The second clamp on bytes, when narrower than the type's range.
    clamp: Option<(__m512i, __m512i)>,
}

/// The hot methods are `#[inline(always)] unsafe fn`s, not `#[inline]`
/// target-feature functions: LLVM may call the latter out of line (seed.cnn's
/// depthwise stage ran 1.8x slower when it did), and target-feature functions
/// cannot be always inlined.
///
/// # Safety
/// Every `unsafe` method here is only called from functions compiled with
/// AVX-512 F, BW, VBMI and VNNI (the kernels), which it is inlined into.
#[cfg(target_arch = "x86_64")]
impl<'a> Tail<'a> {
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
    pub(super) fn new(q: &'a Requant) -> Tail<'a> {
        let shift = q.scale.as_ref().map_or(0, |s| s.shift);
        let half = if shift == 0 { 0 } else { 1i64 << (shift - 1) };
        let odd = if shift >= 32 { shift - 32 } else { shift };
        let packs = Packs::of(q);
        let up = 32u32.saturating_sub(shift);
        let parts = Parts::of(q);
        let high = parts.high;
        // The rounding constants at the product's scale.
        let at = |v: i64| if high { v << up } else { v };
        Tail {
            q,
            pre: q.pre.iter().any(|&v| v != 0),
            clamp1: q.lo1 > i32::MIN || q.hi1 < i32::MAX,
            clamp2: q.lo2 > i32::MIN || q.hi2 < i32::MAX,
            lo3: _mm512_set1_epi32(q.lo3),
            hi3: _mm512_set1_epi32(q.hi3),
            lo1: _mm512_set1_epi32(q.lo1),
            hi1: _mm512_set1_epi32(q.hi1),
            lo2: _mm512_set1_epi32(q.lo2),
            hi2: _mm512_set1_epi32(q.hi2),
            shift: _mm512_set1_epi64(i64::from(shift)),
            shift_odd: _mm512_set1_epi64(i64::from(odd)),
            half: _mm512_set1_epi64(at(half)),
            half_down: _mm512_set1_epi64(at((half - 1).max(0))),
            low_bits: _mm512_set1_epi64(at((2 * half - 1).max(0))),
            ones: _mm512_set1_epi64(at(1)),
            shift32: _mm512_set1_epi32(shift.min(31) as i32),
            half32: _mm512_set1_epi32(half.min(1 << 30) as i32),
            half_down32: _mm512_set1_epi32((half - 1).clamp(0, 1 << 30) as i32),
            low_bits32: _mm512_set1_epi32((2 * half - 1).clamp(0, i64::from(i32::MAX)) as i32),
            ones32: _mm512_set1_epi32(1),
            packs,
            swap: swap_quarters(),
            folded: parts.folded.as_ref(),
            mirrored: parts.mirrored.as_ref(),
            high,
            // Join order: byte `16 p + j` is lane `j` of vector `p`; pack
            // order: byte `16 L + 4 p + i` is lane `4 L + i` of vector `p`.
            join_bytes: byte_table(|b| (b / 16) % 2 * 64 + 4 * (b % 16)),
            pack_bytes: byte_table(|b| (b % 16) / 4 % 2 * 64 + 4 * (4 * (b / 16) + b % 4)),
            muls: &parts.muls,
            negs: &parts.negs,
            shr: _mm_cvtsi32_si128(if high {
                shift.saturating_sub(32) as i32
            } else {
                0
            }),
        }
    }

    /// The constants of output channel `c`: (pre, mul, post); with a sign
    /// split, `mul`'s 64-bit lanes hold the factor of negative values in
    /// their high halves (`vpmuldq` reads only the low ones).
    #[inline(always)]
    pub(super) unsafe fn channel(&self, c: usize) -> [__m512i; 3] {
        let q = self.q;
        let mul = if q.scale.is_some() { self.muls[c] } else { 1 };
        let mul = match self.negs.get(c) {
            Some(&n) => (i64::from(n) << 32) | i64::from(mul as u32),
            None => i64::from(mul),
        };
        [
            _mm512_set1_epi32(q.pre[c]),
            _mm512_set1_epi64(mul),
            _mm512_set1_epi32(q.post[c]),
        ]
    }

    /// Requantizes 16 accumulators of one channel to 16 bytes (the low byte
    /// of each 32-bit result).
    #[inline(always)]
    pub(super) unsafe fn apply(&self, acc: __m512i, k: [__m512i; 3]) -> __m128i {
        let v = self.scaled(acc, k);
        let v = if self.clamp2 {
            _mm512_min_epi32(_mm512_max_epi32(v, self.lo2), self.hi2)
        } else {
            v
        };
        _mm512_cvtepi32_epi8(v)
    }

    /// [`Self::apply`] without the narrowing: the 32-bit results, for
    /// outputs of 16 or 32 bits.
    #[inline(always)]
    pub(super) unsafe fn result(&self, acc: __m512i, k: [__m512i; 3]) -> __m512i {
        let v = self.scaled(acc, k);
        if self.clamp2 {
            _mm512_min_epi32(_mm512_max_epi32(v, self.lo2), self.hi2)
        } else {
            v
        }
    }

    /// The folded form of this tail ([`Folded`]), when the stage has it.
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
    pub(super) fn fast(&self) -> Option<Fast<'_>> {
        let f = self.folded?;
        Some(Fast {
            c: &f.c,
            mul: &f.mul,
            shifts: f.shr > 0,
            shr: _mm_cvtsi32_si128(f.shr as i32),
            packs: self.packs?,
            swap: self.swap,
        })
    }

    /// The folded and the mirrored forms a kernel compiled for the tail
    /// form `form` (`avx512::Form` as a byte) uses: the folded one for
    /// `Folded`, the mirrored one for either mirrored form.
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
    pub(super) fn forms(&self, form: u8) -> (Option<Fast<'_>>, Option<Mirror<'_>>) {
        use super::avx512::Form;
        let fast = (form == Form::Folded as u8).then(|| self.fast()).flatten();
        let mirrored = form == Form::Mirrored as u8 || form == Form::MirroredPlain as u8;
        (fast, mirrored.then(|| self.mirror()).flatten())
    }

    /// The mirrored form of this tail ([`Mirrored`]), when the stage has
    /// it and not the folded one.
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
    pub(super) fn mirror(&self) -> Option<Mirror<'_>> {
        if self.folded.is_some() {
            return None;
        }
        let m = self.mirrored?;
        Some(Mirror {
            mul: &m.mul,
            post: &m.post,
            pre: self.pre.then_some(&self.q.pre[..]),
            rounding: _mm512_set1_epi64(m.rounding),
            rounds: m.rounding != 0,
            shifts: m.shr > 0,
            shr: _mm_cvtsi32_si128(m.shr as i32),
            packs: self.packs?,
            swap: self.swap,
        })
    }

    /// [`Self::apply`] with the residual values `res` (32-bit lanes,
    /// aligned) added after the second clamp, then the third clamp.
    #[inline(always)]
    pub(super) unsafe fn apply_residual(
        &self,
        acc: __m512i,
        k: [__m512i; 3],
        res: __m512i,
    ) -> __m128i {
        _mm512_cvtepi32_epi8(self.result_residual(acc, k, res))
    }

    /// [`Self::apply_residual`] without the narrowing: the 32-bit results,
    /// for outputs of 16 or 32 bits.
    #[inline(always)]
    pub(super) unsafe fn result_residual(
        &self,
        acc: __m512i,
        [pre, mul, post]: [__m512i; 3],
        res: __m512i,
    ) -> __m512i {
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
        let v = _mm512_min_epi32(_mm512_max_epi32(v, self.lo2), self.hi2);
        let v = _mm512_add_epi32(v, res);
        _mm512_min_epi32(_mm512_max_epi32(v, self.lo3), self.hi3)
    }

    /// [`Self::apply`] on 64 accumulators, joined in order: byte `16 p +
    /// j` is lane `j` of vector `p`. (A loop, not a closure: closures do
    /// not inherit the target features, and a call per 16 lanes would cost
    /// more than the tail itself.)
    #[inline(always)]
    pub(super) unsafe fn apply4(&self, acc: &[__m512i; 4], k: [__m512i; 3]) -> __m512i {
        if self.packs.is_some() {
            return _mm512_permutexvar_epi8(self.swap, self.apply4_packed(acc, k));
        }
        self.low_bytes(acc, k, self.join_bytes, 0xFFFF_FFFF_0000_0000)
    }

    /// [`Self::apply`] on 64 accumulators in pack order: byte `16 L + 4 p
    /// + i` is lane `4 L + i` of vector `p` (128-bit lane `L`).
    #[inline(always)]
    pub(super) unsafe fn apply4_packed(&self, acc: &[__m512i; 4], k: [__m512i; 3]) -> __m512i {
        if self.packs.is_some() {
            let r: [__m512i; 4] = [
                self.scaled(acc[0], k),
                self.scaled(acc[1], k),
                self.scaled(acc[2], k),
                self.scaled(acc[3], k),
            ];
            return self.pack(r);
        }
        self.low_bytes(acc, k, self.pack_bytes, 0xFF00_FF00_FF00_FF00)
    }

    /// [`Self::apply`] on 64 accumulators without packs: the low bytes of
    /// the four vectors of results gathered by two two-source byte
    /// permutations `idx` (a byte's source lane in vector `p` or `p + 1`,
    /// `p` even) joined by the blend `upper` (the bytes of vectors 2 and 3).
    #[inline(always)]
    unsafe fn low_bytes(
        &self,
        acc: &[__m512i; 4],
        k: [__m512i; 3],
        idx: __m512i,
        upper: u64,
    ) -> __m512i {
        let mut r = [_mm512_setzero_si512(); 4];
        for (r, &a) in r.iter_mut().zip(acc) {
            let v = self.scaled(a, k);
            *r = if self.clamp2 {
                _mm512_min_epi32(_mm512_max_epi32(v, self.lo2), self.hi2)
            } else {
                v
            };
        }
        let low = _mm512_permutex2var_epi8(r[0], idx, r[1]);
        let high = _mm512_permutex2var_epi8(r[2], idx, r[3]);
        _mm512_mask_blend_epi8(upper, low, high)
    }

    /// The tail up to the post-add: 32-bit results before the second
    /// clamp.
    #[inline(always)]
    unsafe fn scaled(&self, acc: __m512i, [pre, mul, post]: [__m512i; 3]) -> __m512i {
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
        _mm512_add_epi32(v, post)
    }

    /// Four vectors of [`Self::scaled`] results, second clamp applied, as
    /// bytes in pack order (see [`Self::apply4_packed`]). Only when
    /// `packs` is set.
    #[inline(always)]
    unsafe fn pack(&self, r: [__m512i; 4]) -> __m512i {
        match self.packs {
            // SAFETY: this function's target features.
            Some(p) => unsafe { pack_bytes(p, r) },
            None => _mm512_setzero_si512(),
        }
    }

    /// `(v * mul + bias) >> shift` per 32-bit lane: signed 32 x 32 -> 64-bit
    /// products of the even lanes and (moved down) of the odd lanes, rounded
    /// on 64 bits, the 32-bit results blended back into place.
    #[inline(always)]
    unsafe fn scale(&self, v: __m512i, mul: __m512i, s: &Scale) -> __m512i {
        if s.narrow {
            return _mm512_srav_epi32(self.bias32(v, s), self.shift32);
        }
        let (mul, mul_odd) = if self.negs.is_empty() {
            (mul, mul)
        } else {
            // Each lane's factor by its sign: the low halves of `mul` where
            // `v >= 0`, the high halves below; then the odd lanes' moved down.
            let negative = _mm512_cmplt_epi32_mask(v, _mm512_setzero_si512());
            let pos = _mm512_shuffle_epi32::<0xA0>(mul);
            let m = _mm512_mask_shuffle_epi32::<0xF5>(pos, negative, mul);
            (m, _mm512_shuffle_epi32::<0xF5>(m))
        };
        let even = _mm512_mul_epi32(v, mul);
        let odd = _mm512_mul_epi32(_mm512_shuffle_epi32::<0xF5>(v), mul_odd);
        if self.high {
            // Even lane 2i takes dword 2i + 1 (the high half) of `even`.
            let r =
                _mm512_mask_shuffle_epi32::<0xF5>(self.bias(odd, s), 0x5555, self.bias(even, s));
            return if s.shift > 32 {
                _mm512_sra_epi32(r, self.shr)
            } else {
                r
            };
        }
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
    #[inline(always)]
    unsafe fn bias32(&self, v: __m512i, s: &Scale) -> __m512i {
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
    #[inline(always)]
    unsafe fn bias(&self, p: __m512i, s: &Scale) -> __m512i {
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

/// Four vectors of 32-bit results as bytes in pack order (see
/// [`Tail::apply4_packed`]), the second clamp applied by the saturation of
/// the packs and the byte clamp.
///
/// # Safety
/// Only inlined into functions compiled with AVX-512 F and BW (always
/// inlined: `#[target_feature]` functions cannot be).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn pack_bytes(p: Packs, r: [__m512i; 4]) -> __m512i {
    // SAFETY: the caller's target features.
    unsafe {
        let w01 = _mm512_packs_epi32(r[0], r[1]);
        let w23 = _mm512_packs_epi32(r[2], r[3]);
        if p.signed {
            let b = _mm512_packs_epi16(w01, w23);
            match p.clamp {
                Some((lo, hi)) => _mm512_min_epi8(_mm512_max_epi8(b, lo), hi),
                None => b,
            }
        } else {
            let b = _mm512_packus_epi16(w01, w23);
            match p.clamp {
                Some((lo, hi)) => _mm512_min_epu8(_mm512_max_epu8(b, lo), hi),
                None => b,
            }
        }
    }
}

/// The folded tail of a stage ([`Folded`]), its constants by value so that
/// a kernel keeps them in registers; every method is always inlined into
/// the kernel (a call per 64 results, with its arguments in memory, cost
/// more than the tail).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(super) struct Fast<'a> {
    c: &'a [i64],
    mul: &'a [i32],
    /// `Folded::shr > 0`, and the count for `vpsrad`.
    shifts: bool,
    shr: __m128i,
    packs: Packs,
    swap: __m512i,
}

#[cfg(target_arch = "x86_64")]
impl Fast<'_> {
    /// The constants of output channel `c`: (c', mul').
    ///
    /// # Safety
    /// As [`pack_bytes`].
    #[inline(always)]
    pub(super) unsafe fn channel(&self, c: usize) -> [__m512i; 2] {
        // SAFETY: the caller's target features.
        unsafe {
            [
                _mm512_set1_epi64(self.c[c]),
                _mm512_set1_epi64(i64::from(self.mul[c])),
            ]
        }
    }

    /// 16 accumulators to 32-bit results (before the second clamp): the
    /// high halves of the even and the odd lanes' 64-bit sums, joined by a
    /// masked shuffle, shifted by `shr` when `SHR`.
    ///
    /// # Safety
    /// As [`pack_bytes`].
    #[inline(always)]
    unsafe fn scaled<const SHR: bool>(&self, acc: __m512i, [c, mul]: [__m512i; 2]) -> __m512i {
        // SAFETY: the caller's target features.
        unsafe {
            let even = _mm512_add_epi64(_mm512_mul_epi32(acc, mul), c);
            // (A shuffle, not a shift right: with the high halves known to
            // be zero LLVM turns the signed product into three unsigned ones.)
            let odd = _mm512_mul_epi32(_mm512_shuffle_epi32::<0xF5>(acc), mul);
            let odd = _mm512_add_epi64(odd, c);
            // Even lane 2i takes dword 2i + 1 of `even`; odd lanes keep `odd`'s.
            let r = _mm512_mask_shuffle_epi32::<0xF5>(odd, 0x5555, even);
            if SHR {
                _mm512_sra_epi32(r, self.shr)
            } else {
                r
            }
        }
    }

    /// 64 accumulators of one channel to bytes in pack order (see
    /// [`Tail::apply4_packed`]).
    ///
    /// # Safety
    /// As [`pack_bytes`].
    #[inline(always)]
    pub(super) unsafe fn packed4(&self, acc: &[__m512i; 4], k: [__m512i; 2]) -> __m512i {
        // SAFETY: the caller's target features.
        // (No closure: closures do not inherit the caller's target features.)
        unsafe {
            let r = if self.shifts {
                [
                    self.scaled::<true>(acc[0], k),
                    self.scaled::<true>(acc[1], k),
                    self.scaled::<true>(acc[2], k),
                    self.scaled::<true>(acc[3], k),
                ]
            } else {
                [
                    self.scaled::<false>(acc[0], k),
                    self.scaled::<false>(acc[1], k),
                    self.scaled::<false>(acc[2], k),
                    self.scaled::<false>(acc[3], k),
                ]
            };
            pack_bytes(self.packs, r)
        }
    }

    /// Whether the pack saturates to signed bytes.
    pub(super) fn signed(&self) -> bool {
        self.packs.signed
    }

    /// Whether a byte clamp narrower than the pack's range follows it.
    pub(super) fn clamps(&self) -> bool {
        self.packs.clamp.is_some()
    }

    /// Whether the high halves shift right (`Folded::shr > 0`).
    pub(super) fn shifts(&self) -> bool {
        self.shifts
    }

    /// The second clamp on bytes: the pack's own range when it has none.
    ///
    /// # Safety
    /// As [`pack_bytes`].
    #[inline(always)]
    pub(super) unsafe fn byte_clamp(&self) -> (__m512i, __m512i) {
        // SAFETY: the caller's target features.
        unsafe { byte_clamp(self.packs) }
    }

    /// [`Self::packed4`] with its form fixed: `SIGNED` is [`Self::signed`],
    /// `SHR` is [`Self::shifts`], `CLAMP` is [`Self::clamps`], `bytes` is
    /// [`Self::byte_clamp`]: no test in the kernel's loop.
    ///
    /// # Safety
    /// As [`pack_bytes`]; the form is this tail's.
    #[inline(always)]
    pub(super) unsafe fn packed4_as<const SIGNED: bool, const SHR: bool, const CLAMP: bool>(
        &self,
        acc: &[__m512i; 4],
        k: [__m512i; 2],
        (lo, hi): (__m512i, __m512i),
    ) -> __m512i {
        // SAFETY: the caller's target features.
        unsafe {
            let w01 =
                _mm512_packs_epi32(self.scaled::<SHR>(acc[0], k), self.scaled::<SHR>(acc[1], k));
            let w23 =
                _mm512_packs_epi32(self.scaled::<SHR>(acc[2], k), self.scaled::<SHR>(acc[3], k));
            match (SIGNED, CLAMP) {
                (true, true) => {
                    _mm512_min_epi8(_mm512_max_epi8(_mm512_packs_epi16(w01, w23), lo), hi)
                }
                (true, false) => _mm512_packs_epi16(w01, w23),
                (false, true) => {
                    _mm512_min_epu8(_mm512_max_epu8(_mm512_packus_epi16(w01, w23), lo), hi)
                }
                (false, false) => _mm512_packus_epi16(w01, w23),
            }
        }
    }

    /// The constants of output channels `o .. o + n` (`n <= 16`) on the
    /// lanes of a channel-lane sum, lane `j` channel `o + j` (zero past
    /// `n`): (c', mul') of the even lanes in the 64-bit lanes, then of the
    /// odd lanes, for [`Self::lanes4`].
    pub(super) fn lane_channels(&self, o: usize, n: usize) -> [[__m512i; 2]; 2] {
        let pick = |odd: usize| -> [__m512i; 2] {
            let c: [i64; 8] = std::array::from_fn(|i| {
                let j = 2 * i + odd;
                if j < n {
                    self.c[o + j]
                } else {
                    0
                }
            });
            let mul: [i64; 8] = std::array::from_fn(|i| {
                let j = 2 * i + odd;
                if j < n {
                    i64::from(self.mul[o + j])
                } else {
                    0
                }
            });
            // SAFETY: 64 bytes each.
            unsafe {
                [
                    _mm512_loadu_si512(c.as_ptr().cast()),
                    _mm512_loadu_si512(mul.as_ptr().cast()),
                ]
            }
        };
        [pick(0), pick(1)]
    }

    /// [`Self::ordered4`] of four vectors of 16 channels' sums (one pixel
    /// each) with per-lane constants ([`Self::lane_channels`]): byte `16 p
    /// + j` is channel `j` of vector `p`.
    ///
    /// # Safety
    /// As [`pack_bytes`].
    #[inline(always)]
    pub(super) unsafe fn lanes4(&self, acc: &[__m512i; 4], k: &[[__m512i; 2]; 2]) -> __m512i {
        // SAFETY: the caller's target features.
        unsafe {
            let [[ce, me], [co, mo]] = *k;
            let mut r = [_mm512_setzero_si512(); 4];
            for (r, &a) in r.iter_mut().zip(acc) {
                let even = _mm512_add_epi64(_mm512_mul_epi32(a, me), ce);
                let odd = _mm512_mul_epi32(_mm512_shuffle_epi32::<0xF5>(a), mo);
                let odd = _mm512_add_epi64(odd, co);
                let v = _mm512_mask_shuffle_epi32::<0xF5>(odd, 0x5555, even);
                *r = if self.shifts {
                    _mm512_sra_epi32(v, self.shr)
                } else {
                    v
                };
            }
            _mm512_permutexvar_epi8(self.swap, pack_bytes(self.packs, r))
        }
    }

    /// 64 accumulators of one channel to bytes in pixel order: byte `16 p +
    /// j` is lane `j` of vector `p`.
    ///
    /// # Safety
    /// As [`pack_bytes`].
    #[inline(always)]
    pub(super) unsafe fn ordered4(&self, acc: &[__m512i; 4], k: [__m512i; 2]) -> __m512i {
        // SAFETY: the caller's target features.
        unsafe { _mm512_permutexvar_epi8(self.swap, self.packed4(acc, k)) }
    }
}

/// The tail of a stage whose rounding is symmetric about zero (`trunc`,
/// ties away from zero, ties toward zero) when [`Folded`] does not apply
/// (a positive post-add lifts rounded negative products above the lower
/// clamp): the magnitude rounds down, and the sign comes back on 16-bit
/// lanes after the first pack:
///
/// ```text
/// q = sign(v) floor((|v| mul + b) / 2^shift),   v = acc + pre
///   = sign(v) (high32(|v| mul' + b') >> shr)    (mul', b', shr as in Folded)
/// r = clamp2(post + q) = clamp2(sat16(post +- sat16(t)))
/// ```
///
/// exact because with `mul >= 0` the product has the sign of `v`, and each
/// of these roundings is the mirror image of rounding `|p|` down after
/// adding `b` (0; `2^(shift-1)`; `2^(shift-1) - 1`). `|v| <= 2^31` and
/// `mul' < 2^31` keep the unsigned product and `b' < 2^62` below `2^63`, so
/// `t < 2^31`. On 16 bits, with `|post| <= 2^14` and the second clamp
/// within a byte type's range, a saturated `t` or sum lies beyond the
/// clamp on the same side as the exact value, so the packs' saturation
/// and the byte clamp give the exact result.
#[cfg(target_arch = "x86_64")]
pub(super) struct Mirrored {
    pub mul: Vec<i32>,
    pub post: Vec<i16>,
    /// `b'`, the same for every channel.
    pub rounding: i64,
    pub shr: u32,
}

#[cfg(target_arch = "x86_64")]
impl Mirrored {
    /// The mirrored constants of `q` (the AVX2 folded tail uses them too),
    /// when it has the form; `packs` as for [`Folded::of`].
    pub(super) fn of(q: &Requant, packs: bool) -> Option<Mirrored> {
        let s = q.scale.as_ref()?;
        let clamp1 = q.lo1 > i32::MIN || q.hi1 < i32::MAX;
        if s.narrow || !packs || q.residual.is_some() || clamp1 || s.shift == 0 || s.neg.is_some() {
            return None;
        }
        let half = 1i64 << (s.shift - 1);
        let b = match s.bias {
            Bias::TowardZero => 0,
            Bias::HalfAway => half,
            Bias::HalfTowardZero => half - 1,
            _ => return None,
        };
        let up = 32u32.saturating_sub(s.shift);
        let mul = (s.mul.iter())
            .map(|&m| (m >= 0).then(|| i32::try_from(i64::from(m) << up).ok())?)
            .collect::<Option<Vec<i32>>>()?;
        let post = (q.post.iter())
            .map(|&p| (p.unsigned_abs() <= 1 << 14).then_some(p as i16))
            .collect::<Option<Vec<i16>>>()?;
        Some(Mirrored {
            mul,
            post,
            rounding: b << up,
            shr: s.shift.saturating_sub(32),
        })
    }
}

/// The mirrored tail of a stage ([`Mirrored`]), its constants by value;
/// every method is always inlined into the kernel, as [`Fast`]'s.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(super) struct Mirror<'a> {
    mul: &'a [i32],
    post: &'a [i16],
    /// The pre-add, when not all zero.
    pre: Option<&'a [i32]>,
    rounding: __m512i,
    rounds: bool,
    shifts: bool,
    shr: __m128i,
    packs: Packs,
    swap: __m512i,
}

#[cfg(target_arch = "x86_64")]
impl Mirror<'_> {
    /// `t` of 16 values `v`: the high halves of `|v| mul' + b'` (even and
    /// odd lanes, joined by a masked shuffle), shifted by `shr`. `PLAIN`:
    /// the tail has neither `b'` nor `shr` (tested here otherwise).
    ///
    /// # Safety
    /// As [`pack_bytes`].
    #[inline(always)]
    unsafe fn magnitude<const PLAIN: bool>(&self, v: __m512i, mul: __m512i) -> __m512i {
        // SAFETY: the caller's target features.
        unsafe {
            let a = _mm512_abs_epi32(v);
            let mut even = _mm512_mul_epu32(a, mul);
            let mut odd = _mm512_mul_epu32(_mm512_shuffle_epi32::<0xF5>(a), mul);
            if !PLAIN && self.rounds {
                even = _mm512_add_epi64(even, self.rounding);
                odd = _mm512_add_epi64(odd, self.rounding);
            }
            let t = _mm512_mask_shuffle_epi32::<0xF5>(odd, 0x5555, even);
            if !PLAIN && self.shifts {
                _mm512_srl_epi32(t, self.shr)
            } else {
                t
            }
        }
    }

    /// 64 accumulators of output channel `c` to bytes in pack order (see
    /// [`Tail::apply4_packed`]), `SIGNED` and `CLAMP` as
    /// [`Fast::packed4_as`], `PLAIN` as [`Self::plain`], `bytes` the byte
    /// clamp ([`Self::byte_clamp`]).
    ///
    /// # Safety
    /// As [`pack_bytes`]; `SIGNED`, `CLAMP` and `PLAIN` are this tail's
    /// form; `c` is one of the stage's channels.
    #[inline(always)]
    pub(super) unsafe fn packed4_as<const SIGNED: bool, const CLAMP: bool, const PLAIN: bool>(
        &self,
        acc: &[__m512i; 4],
        c: usize,
        (lo, hi): (__m512i, __m512i),
    ) -> __m512i {
        // SAFETY: the caller's target features and channel.
        unsafe {
            let mul = _mm512_set1_epi64(i64::from(*self.mul.get_unchecked(c)));
            let post = _mm512_set1_epi16(*self.post.get_unchecked(c));
            let v = match self.pre {
                Some(pre) => {
                    let p = _mm512_set1_epi32(*pre.get_unchecked(c));
                    // (No closure: closures do not inherit the target features.)
                    [
                        _mm512_add_epi32(acc[0], p),
                        _mm512_add_epi32(acc[1], p),
                        _mm512_add_epi32(acc[2], p),
                        _mm512_add_epi32(acc[3], p),
                    ]
                }
                None => *acc,
            };
            let t01 = _mm512_packs_epi32(
                self.magnitude::<PLAIN>(v[0], mul),
                self.magnitude::<PLAIN>(v[1], mul),
            );
            let t23 = _mm512_packs_epi32(
                self.magnitude::<PLAIN>(v[2], mul),
                self.magnitude::<PLAIN>(v[3], mul),
            );
            // The signs of `v` in the same word order (the pack keeps them).
            let n01 = _mm512_movepi16_mask(_mm512_packs_epi32(v[0], v[1]));
            let n23 = _mm512_movepi16_mask(_mm512_packs_epi32(v[2], v[3]));
            let r01 = _mm512_mask_subs_epi16(_mm512_adds_epi16(post, t01), n01, post, t01);
            let r23 = _mm512_mask_subs_epi16(_mm512_adds_epi16(post, t23), n23, post, t23);
            match (SIGNED, CLAMP) {
                (true, true) => {
                    _mm512_min_epi8(_mm512_max_epi8(_mm512_packs_epi16(r01, r23), lo), hi)
                }
                (true, false) => _mm512_packs_epi16(r01, r23),
                (false, true) => {
                    _mm512_min_epu8(_mm512_max_epu8(_mm512_packus_epi16(r01, r23), lo), hi)
                }
                (false, false) => _mm512_packus_epi16(r01, r23),
            }
        }
    }

    /// [`Self::packed4_as`] in pixel order (byte `16 p + j` is lane `j` of
    /// vector `p`), its form tested here.
    ///
    /// # Safety
    /// As [`Self::packed4_as`].
    #[inline(always)]
    pub(super) unsafe fn ordered4(&self, acc: &[__m512i; 4], c: usize) -> __m512i {
        // SAFETY: the caller's guarantees.
        unsafe { _mm512_permutexvar_epi8(self.swap, self.packed4::<false>(acc, c)) }
    }

    /// [`Self::packed4_as`], its pack's form tested here.
    ///
    /// # Safety
    /// As [`Self::packed4_as`] (`PLAIN` only when the tail is).
    #[inline(always)]
    pub(super) unsafe fn packed4<const PLAIN: bool>(
        &self,
        acc: &[__m512i; 4],
        c: usize,
    ) -> __m512i {
        // SAFETY: the caller's guarantees; the form is this tail's.
        unsafe {
            let bytes = self.byte_clamp();
            match (self.packs.signed, self.packs.clamp.is_some()) {
                (true, true) => self.packed4_as::<true, true, PLAIN>(acc, c, bytes),
                (true, false) => self.packed4_as::<true, false, PLAIN>(acc, c, bytes),
                (false, true) => self.packed4_as::<false, true, PLAIN>(acc, c, bytes),
                (false, false) => self.packed4_as::<false, false, PLAIN>(acc, c, bytes),
            }
        }
    }

    /// Whether the pack saturates to signed bytes.
    pub(super) fn signed(&self) -> bool {
        self.packs.signed
    }

    /// Whether a byte clamp narrower than the pack's range follows it.
    pub(super) fn clamps(&self) -> bool {
        self.packs.clamp.is_some()
    }

    /// Whether the tail neither adds a rounding constant to the products
    /// (`trunc`) nor shifts the high halves.
    pub(super) fn plain(&self) -> bool {
        !self.rounds && !self.shifts
    }

    /// The second clamp on bytes, as [`Fast::byte_clamp`].
    ///
    /// # Safety
    /// As [`pack_bytes`].
    #[inline(always)]
    pub(super) unsafe fn byte_clamp(&self) -> (__m512i, __m512i) {
        // SAFETY: the caller's target features.
        unsafe { byte_clamp(self.packs) }
    }
}

/// The second clamp on bytes: the pack's own range when it has none.
///
/// # Safety
/// As [`pack_bytes`].
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn byte_clamp(packs: Packs) -> (__m512i, __m512i) {
    // SAFETY: the caller's target features.
    unsafe {
        packs.clamp.unwrap_or(if packs.signed {
            (_mm512_set1_epi8(i8::MIN), _mm512_set1_epi8(i8::MAX))
        } else {
            (_mm512_setzero_si512(), _mm512_set1_epi8(-1))
        })
    }
}

#[cfg(target_arch = "x86_64")]
impl Packs {
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
    fn of(q: &Requant) -> Option<Packs> {
        let (lo, hi) = (q.lo2, q.hi2);
        let (signed, min, max) = pack_range(q)?;
        let clamp = (lo != min || hi != max).then(|| {
            (
                _mm512_set1_epi8(lo as u8 as i8),
                _mm512_set1_epi8(hi as u8 as i8),
            )
        });
        Some(Packs { signed, clamp })
    }
}

/// Whether saturating packs narrow the tail `q` (see [`Packs`]): the byte
/// type's signedness and range.
#[cfg(target_arch = "x86_64")]
fn pack_range(q: &Requant) -> Option<(bool, i32, i32)> {
    let (lo, hi) = (q.lo2, q.hi2);
    // A residual adds after the second clamp: the 32-bit results stay.
    if q.residual.is_some() || lo > hi {
        return None;
    }
    if 0 <= lo && hi <= 255 {
        Some((false, 0, 255))
    } else if -128 <= lo && hi <= 127 {
        Some((true, -128, 127))
    } else {
        None
    }
}

/// A vector of 64 byte indices, `f(b)` at byte `b`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
fn byte_table(f: impl Fn(usize) -> usize) -> __m512i {
    let idx: [u8; 64] = std::array::from_fn(|b| f(b) as u8);
    // SAFETY: `idx` is 64 bytes.
    unsafe { _mm512_loadu_si512(idx.as_ptr().cast()) }
}

/// The byte permutation that swaps `p` and `L` in `16 p + 4 L + i`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
fn swap_quarters() -> __m512i {
    let idx: [u8; 64] = std::array::from_fn(|x| (16 * ((x % 16) / 4) + 4 * (x / 16) + x % 4) as u8);
    // SAFETY: `idx` is 64 bytes.
    unsafe { _mm512_loadu_si512(idx.as_ptr().cast()) }
}

/// What [`Tail::new`] derives from a tail's per-channel constants, made
/// once per stage (`Requant::derived`).
#[cfg(target_arch = "x86_64")]
struct Parts {
    folded: Option<Folded>,
    mirrored: Option<Mirrored>,
    /// [`Tail::high`], and [`Tail::muls`] and [`Tail::negs`].
    high: bool,
    muls: Vec<i32>,
    negs: Vec<i32>,
}

#[cfg(target_arch = "x86_64")]
impl Parts {
    /// The parts of `q`, made on the first call for `q` (or for its stage's
    /// first job).
    fn of(q: &Requant) -> &Parts {
        // Only this function stores into this slot: always a `Parts`.
        match (q.derived).get_or_make(DerivedBy::Avx512Tail, || Parts::make(q)) {
            Some(p) => p,
            None => unreachable!("Requant::derived holds only Parts"),
        }
    }

    fn make(q: &Requant) -> Parts {
        let packs = pack_range(q).is_some();
        let shift = q.scale.as_ref().map_or(0, |s| s.shift);
        let up = 32u32.saturating_sub(shift);
        let scale_up = |m: &[i32]| {
            (m.iter().map(|&m| i32::try_from(i64::from(m) << up).ok()))
                .collect::<Option<Vec<i32>>>()
        };
        let neg = q.scale.as_ref().and_then(|s| s.neg.as_deref());
        let high = q.scale.as_ref().is_some_and(|s| {
            !s.narrow
                && s.shift > 0
                && s.bias != Bias::HalfEven
                && scale_up(&s.mul).is_some()
                && neg.is_none_or(|n| scale_up(n).is_some())
        });
        let (muls, negs) = match &q.scale {
            Some(s) if high => (
                scale_up(&s.mul).unwrap_or_default(),
                neg.and_then(scale_up).unwrap_or_default(),
            ),
            Some(s) => (s.mul.clone(), neg.map_or(vec![], <[i32]>::to_vec)),
            None => (vec![], vec![]),
        };
        Parts {
            folded: Folded::of(q, packs, false),
            mirrored: Mirrored::of(q, packs),
            high,
            muls,
            negs,
        }
    }
}

/// Whether the tail `q` has the folded form ([`Folded`]).
#[cfg(target_arch = "x86_64")]
pub(super) fn folds(q: &Requant) -> bool {
    Parts::of(q).folded.is_some()
}

/// Whether the tail `q` has the mirrored form ([`Mirrored`]) and not the
/// folded one.
#[cfg(target_arch = "x86_64")]
pub(super) fn mirrors(q: &Requant) -> bool {
    mirrored_plain(q).is_some()
}

/// Whether the mirrored form of the tail `q` (when it has that form and
/// not the folded one) is plain ([`Mirror::plain`]).
#[cfg(target_arch = "x86_64")]
pub(super) fn mirrored_plain(q: &Requant) -> Option<bool> {
    let parts = Parts::of(q);
    if parts.folded.is_some() {
        return None;
    }
    (parts.mirrored.as_ref()).map(|m| m.rounding == 0 && m.shr == 0)
}
