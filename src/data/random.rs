//! Reproducible random tensors: `param w: i8[...] = random(seed: 7)` and
//! random inputs.
//!
//! # Definition (normative)
//!
//! A random tensor of scalar type `T` (width `W`, `F = T.frac_bits()`) with
//! `n` elements and seed `s` (an unsigned 64-bit integer) is:
//!
//! 1. **Draws.** SplitMix64 seeded with `s`, all arithmetic modulo 2^64:
//!    ```text
//!    state = s
//!    next():
//!        state = state + 0x9E3779B97F4A7C15
//!        z = state
//!        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
//!        z = (z ^ (z >> 27)) * 0x94D049BB133111EB
//!        return z ^ (z >> 31)
//!    ```
//!    Element `k` (in C order, last axis fastest, `k = 0 .. n-1`) takes the
//!    `k`-th draw, one draw per element. For seed 0 the first draws are
//!    `0xE220A8397B1DCDAF`, `0x6E789E6AA1B965F4`, `0x06C45D188009454F`.
//! 2. **Code.** The element's code is the top `W` bits of its draw,
//!    `draw >> (64 - W)`, read as a `W`-bit two's-complement number when `T`
//!    is signed (codes `-2^(W-1) .. 2^(W-1)-1`) and as unsigned otherwise
//!    (`0 .. 2^W-1`). Every code of the type is equally likely.
//! 3. **Value.** The element's value is `code * 2^-F`, the value the ap type
//!    with those bits has; for integer types (`F = 0`) it is the code.
//!    Convoy holds it as the raw integer `code << (storage_frac - F)` at
//!    `storage_frac = max(F, 0)`.
//!
//! So a tensor depends only on its seed, type and element count: the same
//! seed gives the same leading draws for tensors of different shapes.

use crate::types::ScalarType;

/// The SplitMix64 generator (Steele, Lea, Flood 2014), as defined above.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(Self::GOLDEN_GAMMA);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The code of type `ty` that a 64-bit draw selects: its top `ty.width` bits,
/// two's complement when signed. `ty.width` must be 1..=64.
pub fn code_from_draw(draw: u64, ty: &ScalarType) -> i128 {
    let width = ty.width.clamp(1, 64);
    let bits = draw >> (64 - width);
    if ty.signed && bits >> (width - 1) == 1 {
        i128::from(bits) - (1i128 << width)
    } else {
        i128::from(bits)
    }
}

/// `count` random raw values of `ty` (integers at `ty.storage_frac()`, C
/// order) for `seed`, as defined in the module documentation.
///
/// `ty` must be a type that Convoy's data files support (width 1..=64, LSB at
/// most 2^62); the checker rejects others before this is called.
pub fn random_raw(seed: u64, ty: &ScalarType, count: usize) -> Vec<i128> {
    let up = (i64::from(ty.storage_frac()) - i64::from(ty.frac_bits())).clamp(0, 63) as u32;
    let mut rng = SplitMix64::new(seed);
    (0..count)
        .map(|_| code_from_draw(rng.next_u64(), ty).wrapping_shl(up))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_reference_values() {
        let mut rng = SplitMix64::new(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(rng.next_u64(), 0x06C4_5D18_8009_454F);
        // Seed 1234567, from the reference implementation's test vectors.
        let mut rng = SplitMix64::new(1_234_567);
        let expected: [u64; 5] = [
            6_457_827_717_110_365_317,
            3_203_168_211_198_807_973,
            9_817_491_932_198_370_423,
            4_593_380_528_125_082_431,
            16_408_922_859_458_223_821,
        ];
        for e in expected {
            assert_eq!(rng.next_u64(), e);
        }
    }

    #[test]
    fn codes_are_top_bits() {
        let u8t = ScalarType::int(false, 8);
        let i8t = ScalarType::int(true, 8);
        assert_eq!(code_from_draw(0xE220_A839_7B1D_CDAF, &u8t), 0xE2);
        assert_eq!(code_from_draw(0xE220_A839_7B1D_CDAF, &i8t), 0xE2 - 256);
        assert_eq!(
            code_from_draw(u64::MAX, &ScalarType::int(false, 64)),
            i128::from(u64::MAX)
        );
        assert_eq!(code_from_draw(u64::MAX, &ScalarType::int(true, 64)), -1);
        assert_eq!(
            code_from_draw(1 << 63, &ScalarType::int(true, 64)),
            i128::from(i64::MIN)
        );
        assert_eq!(code_from_draw(1 << 63, &ScalarType::int(false, 1)), 1);
        assert_eq!(code_from_draw(1 << 63, &ScalarType::int(true, 1)), -1);
    }

    #[test]
    fn known_tensor() {
        let raw = random_raw(0, &ScalarType::int(true, 8), 3);
        assert_eq!(raw, vec![0xE2 - 256, 0x6E, 0x06]);
        // Prefix property: more elements extend the same sequence.
        let longer = random_raw(0, &ScalarType::int(true, 8), 10);
        assert_eq!(&longer[..3], &raw[..]);
    }

    #[test]
    fn fixed_point_scaling() {
        // fixed<8, 4>: the code is the raw value at storage_frac 4.
        let fx = ScalarType::fixed(true, 8, 4);
        assert_eq!(random_raw(0, &fx, 1), vec![0xE2 - 256]);
        // ufixed<4, 6>: LSB 4, stored at frac 0 as code * 4.
        let coarse = ScalarType::fixed(false, 4, 6);
        assert_eq!(random_raw(0, &coarse, 1), vec![0xE * 4]);
        let (lo, hi) = coarse.value_bounds();
        for v in random_raw(3, &coarse, 200) {
            assert!(v % 4 == 0 && (lo..=hi).contains(&v));
        }
    }

    #[test]
    fn full_range_coverage() {
        for ty in [ScalarType::int(false, 4), ScalarType::int(true, 4)] {
            let (lo, hi) = ty.code_bounds();
            let mut counts = [0usize; 16];
            for v in random_raw(7, &ty, 16_000) {
                assert!((lo..=hi).contains(&v), "{v} outside {ty}");
                counts[(v - lo) as usize] += 1;
            }
            // Each of the 16 codes is expected 1000 times; allow generous noise.
            for (i, &c) in counts.iter().enumerate() {
                assert!(
                    (850..=1150).contains(&c),
                    "{ty}: code {} drawn {c} times",
                    lo + i as i128
                );
            }
        }
    }

    #[test]
    fn wide_types_stay_in_range() {
        for width in 1..=64 {
            for signed in [false, true] {
                let ty = ScalarType::int(signed, width);
                let (lo, hi) = ty.code_bounds();
                for v in random_raw(u64::from(width), &ty, 100) {
                    assert!((lo..=hi).contains(&v), "{v} outside {ty}");
                }
            }
        }
    }
}
