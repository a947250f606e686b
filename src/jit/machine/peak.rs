//! The core's `vpdpbusd` peak: a loop of independent 512-bit `vpdpbusd`
//! instructions (enough accumulators to cover the latency), timed, so that
//! `convoy bench` can say how far a stage's GMAC/s is from what one core
//! can do at all.

/// Independent accumulators: latency 5 cycles x 2 ports on current cores.
#[cfg(target_arch = "x86_64")]
const CHAINS: usize = 12;

/// Multiply-accumulates per second of one thread running only `vpdpbusd
/// zmm` (64 u8 x i8 products each), in GMAC/s: the best of five runs of
/// `rounds` x 12 instructions each. `None` without AVX-512 VNNI.
pub(crate) fn vpdpbusd_peak(rounds: u64) -> Option<f64> {
    #[cfg(target_arch = "x86_64")]
    {
        if !(std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512vnni"))
        {
            return None;
        }
        let mut best = f64::MAX;
        let mut sink = 0;
        for _ in 0..5 {
            let start = std::time::Instant::now();
            // SAFETY: the features the function is compiled for were
            // detected just above; it touches no memory.
            sink ^= unsafe { dot_loop(rounds.max(1)) };
            best = best.min(start.elapsed().as_secs_f64());
        }
        std::hint::black_box(sink);
        let macs = rounds.max(1) as f64 * (CHAINS * 64) as f64;
        Some(macs / best.max(1e-9) / 1e9)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = rounds;
        None
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vnni")]
fn dot_loop(rounds: u64) -> i32 {
    use std::arch::x86_64::*;
    let a = _mm512_set1_epi8(std::hint::black_box(3));
    let b = _mm512_set1_epi8(std::hint::black_box(-5));
    let mut acc = [_mm512_setzero_si512(); CHAINS];
    for _ in 0..rounds {
        for v in acc.iter_mut() {
            *v = _mm512_dpbusd_epi32(*v, a, b);
        }
    }
    let mut sum = _mm512_setzero_si512();
    for v in acc {
        sum = _mm512_add_epi32(sum, v);
    }
    _mm512_reduce_add_epi32(sum)
}
