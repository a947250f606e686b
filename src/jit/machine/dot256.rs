//! How the AVX2 kernels form their u8 x i8 dot products of four bytes.
//!
//! `vpdpbusd ymm` exists in two encodings with the same result: VEX (AVX-VNNI:
//! Alder Lake and later, Zen 5) and EVEX (AVX-512 VNNI with VL: Ice Lake and
//! later, Zen 4). A CPU without either runs `vpmaddwd` on the quads' 16-bit
//! halves. `--isa avx2-vnni` runs the AVX2 kernels with `vpdpbusd` even on a
//! CPU that has only the EVEX form, so that the AVX-VNNI kernels' code is
//! tested (and measured) on AVX-512 machines too.

use crate::jit::Isa;

/// The dot-product form of an AVX2 kernel, as a const parameter.
pub(super) type Dot = u8;
/// `vpmaddwd` on the 16-bit halves of the quads (AVX2 alone).
pub(super) const MADD: Dot = 0;
/// AVX-VNNI `vpdpbusd ymm` (VEX).
pub(super) const VEX: Dot = 1;
/// AVX-512 VNNI + VL `vpdpbusd ymm` (EVEX).
pub(super) const EVEX: Dot = 2;
/// `vpmaddubsw` + `vpmaddwd` by ones (AVX2 alone) on weight quads split
/// by `native::byte_pairs` so that no pair saturates, their rests after.
pub(super) const BYTES: Dot = 3;
/// `BYTES` on quads partnered in twos (`BytePairs::plan_summed_by`): the
/// two quads' `vpmaddubsw` words added (`vpaddw`) before one `vpmaddwd`
/// by ones, three multiplies for eight products where `BYTES` takes four.
pub(super) const SUMS: Dot = 4;

/// The form for a stage compiled for `isa` on this host: `Avx2` uses
/// AVX-VNNI where the CPU has it, `Avx2Vnni` also the EVEX form.
/// `isa_supported` refused `Avx2Vnni` on hosts with neither.
pub(super) fn form(isa: Isa) -> Dot {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avxvnni") {
            return VEX;
        }
        if isa == Isa::Avx2Vnni
            && std::is_x86_feature_detected!("avx512vnni")
            && std::is_x86_feature_detected!("avx512vl")
        {
            return EVEX;
        }
    }
    let _ = isa;
    MADD
}

/// `acc + dot4(a, w)` per 32-bit lane (`a` unsigned bytes, `w` signed),
/// in the encoding `DOT` (`VEX` or `EVEX`).
///
/// # Safety
/// Only inlined into functions compiled with AVX2 and AVX-VNNI (`VEX`) or
/// AVX-512 VNNI + VL (`EVEX`).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(super) unsafe fn dpbusd<const DOT: Dot>(
    acc: std::arch::x86_64::__m256i,
    a: std::arch::x86_64::__m256i,
    w: std::arch::x86_64::__m256i,
) -> std::arch::x86_64::__m256i {
    use std::arch::x86_64::{_mm256_dpbusd_avx_epi32, _mm256_dpbusd_epi32};
    // SAFETY: the caller's target features.
    unsafe {
        if DOT == EVEX {
            _mm256_dpbusd_epi32(acc, a, w)
        } else {
            _mm256_dpbusd_avx_epi32(acc, a, w)
        }
    }
}

/// `acc + dot4(a, w)` per 32-bit lane by `vpmaddubsw` and `vpmaddwd` with
/// `ones` (16-bit ones): exact when no pair of `w` saturates for bytes of
/// `a` (`native::byte_pairs::split` made them so).
///
/// # Safety
/// Only inlined into functions compiled with AVX2.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(super) unsafe fn maddubs(
    acc: std::arch::x86_64::__m256i,
    a: std::arch::x86_64::__m256i,
    w: std::arch::x86_64::__m256i,
    ones: std::arch::x86_64::__m256i,
) -> std::arch::x86_64::__m256i {
    use std::arch::x86_64::{_mm256_add_epi32, _mm256_madd_epi16, _mm256_maddubs_epi16};
    // SAFETY: the caller's target features.
    unsafe { _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(a, w), ones)) }
}

/// `acc + dot4(a, wa) + dot4(b, wb)` per 32-bit lane by two `vpmaddubsw`,
/// one `vpaddw` and one `vpmaddwd` with `ones`: exact when each 16-bit
/// lane's four weights of one sign add up to at most 128 in magnitude
/// (`native::byte_pairs::BytePairs::plan_summed_by` made them so).
///
/// # Safety
/// Only inlined into functions compiled with AVX2.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(super) unsafe fn maddubs2(
    acc: std::arch::x86_64::__m256i,
    (a, wa): (std::arch::x86_64::__m256i, std::arch::x86_64::__m256i),
    (b, wb): (std::arch::x86_64::__m256i, std::arch::x86_64::__m256i),
    ones: std::arch::x86_64::__m256i,
) -> std::arch::x86_64::__m256i {
    use std::arch::x86_64::{
        _mm256_add_epi16, _mm256_add_epi32, _mm256_madd_epi16, _mm256_maddubs_epi16,
    };
    // SAFETY: the caller's target features.
    unsafe {
        let words = _mm256_add_epi16(_mm256_maddubs_epi16(a, wa), _mm256_maddubs_epi16(b, wb));
        _mm256_add_epi32(acc, _mm256_madd_epi16(words, ones))
    }
}
