//! The last step of a transposed convolution on the direct kernels: a
//! register block computes `chunk` block columns of each of the
//! `out_phases` column phases into a staging buffer (per channel `j`,
//! phase `rx`, block column `i`: byte `64 (phases j + rx) + i`), and these
//! copy them to their interleaved output columns (`z = (q0 + i) phases +
//! rx`, output column `z - out_shift`, kept when inside the row).
//!
//! [`scatter`] is the portable byte loop (the AVX2 kernel's); [`Interleave`]
//! does it with AVX-512: per 64 output bytes, one `vpermt2b` per pair of
//! phases (a `vpermb` for the last of an odd count) and a masked blend,
//! then one masked store (a byte loop took 68% of a 4x4 stride-2
//! transposed convolution's time).
//!
//! Memory: stores stay within output row `oy` of the block's channels,
//! masked to its `width` columns; a store that starts before the row
//! (`out_shift` past the row's first output) accesses none of the
//! masked-off bytes (AVX-512 masked stores suppress faults).

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

#[cfg(target_arch = "x86_64")]
use crate::jit::native::{Direct, NativeStage};

/// Copies the staged phases of channels `c..c + n` (`chunk` block columns
/// from `q0`) to their interleaved output columns in row `oy`, byte by
/// byte.
#[cfg(target_arch = "x86_64")]
pub(super) fn scatter(
    st: &NativeStage,
    d: &Direct,
    staging: &[u8],
    (c, n): (usize, usize),
    (oy, q0, chunk): (usize, usize, usize),
    out: *mut u8,
) {
    let phases = d.out_phases;
    for j in 0..n {
        let row = st.out().origin + (c + j) * st.out().plane + oy * st.out().stride;
        let src = &staging[64 * phases * j..64 * phases * (j + 1)];
        for i in 0..chunk {
            for rx in 0..phases {
                let z = (q0 + i) * phases + rx;
                if z < d.out_shift || z - d.out_shift >= st.width() {
                    continue;
                }
                // SAFETY: column `z - out_shift` of row `oy` of channel
                // `c + j` is inside the output.
                unsafe { *out.add(row + z - d.out_shift) = src[64 * rx + i] };
            }
        }
    }
}

/// The AVX-512 form of [`scatter`] for one stage's phase count: per
/// output chunk `k` (64 bytes, `k < phases`) and pair of phases `m`, the
/// `vpermt2b` indices (output byte `b`, `z = 64 k + b`: phase `z %
/// phases`, column `z / phases`; the pair's first phase in the first
/// table) and the mask of the bytes whose phase the pair holds.
#[cfg(target_arch = "x86_64")]
pub(super) struct Interleave {
    phases: usize,
    /// `[k][m]`, `pairs` a chunk.
    picks: Vec<[u8; 64]>,
    takes: Vec<u64>,
    pairs: usize,
}

#[cfg(target_arch = "x86_64")]
impl Interleave {
    pub(super) fn new(phases: usize) -> Interleave {
        let pairs = phases.div_ceil(2);
        let mut picks = vec![[0u8; 64]; phases * pairs];
        let mut takes = vec![0u64; phases * pairs];
        for z in 0..64 * phases {
            // Output byte `b` of chunk `k`: phase `rx`, column `i < 64`.
            let (k, b) = (z / 64, z % 64);
            let (rx, i) = (z % phases, z / phases);
            let t = k * pairs + rx / 2;
            picks[t][b] = (64 * (rx % 2) + i) as u8;
            takes[t] |= 1 << b;
        }
        Interleave {
            phases,
            picks,
            takes,
            pairs,
        }
    }

    /// [`scatter`] with AVX-512 (`self` built for `d.out_phases`).
    ///
    /// # Safety
    /// The host has AVX-512 F, BW and VBMI; `staging` holds `n` channels'
    /// `64 phases` bytes; row `oy` of channels `c..c + n` lies in the
    /// output `out`; `chunk <= 64`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    pub(super) unsafe fn scatter(
        &self,
        st: &NativeStage,
        d: &Direct,
        staging: &[u8],
        (c, n): (usize, usize),
        (oy, q0, chunk): (usize, usize, usize),
        out: *mut u8,
    ) {
        let phases = self.phases;
        debug_assert!(phases == d.out_phases && chunk <= 64);
        assert!(staging.len() >= 64 * phases * n);
        let (width, shift) = (st.width() as i64, d.out_shift as i64);
        // Output bytes `z` from `q0 phases` on, `chunk phases` of them.
        let first = (q0 * phases) as i64;
        let total = (chunk * phases) as i64;
        for j in 0..n {
            let row = st.out().origin + (c + j) * st.out().plane + oy * st.out().stride;
            let src = staging[64 * phases * j..].as_ptr();
            let mut k = 0;
            while (64 * k as i64) < total {
                let z0 = first + 64 * k as i64;
                // Bytes `b` with `z0 + b - shift` in `0..width`, `64 k + b`
                // below `total`.
                let lo = (shift - z0).clamp(0, 64);
                let hi = (width + shift - z0).min(total - 64 * k as i64).clamp(0, 64);
                if lo < hi {
                    let mask = (u64::MAX >> (64 - (hi - lo))) << lo;
                    let mut v = _mm512_setzero_si512();
                    for m in 0..self.pairs {
                        let t = k * self.pairs + m;
                        // SAFETY: the index tables are 64 bytes; rows `2 m`
                        // and `2 m + 1` (or `2 m` alone) of channel `j` lie
                        // in `staging`.
                        unsafe {
                            let idx = _mm512_loadu_si512(self.picks[t].as_ptr().cast());
                            let a = _mm512_loadu_si512(src.add(128 * m).cast());
                            let pair = if 2 * m + 1 < phases {
                                let b = _mm512_loadu_si512(src.add(128 * m + 64).cast());
                                _mm512_permutex2var_epi8(a, idx, b)
                            } else {
                                _mm512_permutexvar_epi8(idx, a)
                            };
                            v = _mm512_mask_mov_epi8(v, self.takes[t], pair);
                        }
                    }
                    // Output column `z0 - shift` (before the row when `lo >
                    // 0`: those bytes are masked off).
                    let at = out.wrapping_add(row).wrapping_offset((z0 - shift) as isize);
                    // SAFETY: the masked bytes are output columns `0..width`
                    // of the row (module note).
                    unsafe { _mm512_mask_storeu_epi8(at.cast(), mask, v) };
                }
                k += 1;
            }
        }
    }
}

/// [`scatter`] with AVX2 for the AVX2 kernel's blocks (8 or 16 block
/// columns) of one or two phases: interleaved by `vpunpcklbw` /
/// `vpunpckhbw` (or copied) and stored whole when the chunk lies inside the
/// row, else through a 32-byte array whose bytes inside the row are
/// copied (AVX2 has no byte-masked store). Other phase counts take the
/// byte loop.
///
/// # Safety
/// The host has AVX2; as [`scatter`]: `staging` holds `n` channels'
/// `64 phases` bytes, row `oy` of channels `c..c + n` lies in the output.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub(super) unsafe fn scatter_avx2(
    st: &NativeStage,
    d: &Direct,
    staging: &[u8],
    (c, n): (usize, usize),
    (oy, q0, chunk): (usize, usize, usize),
    out: *mut u8,
) {
    let phases = d.out_phases;
    if !(phases <= 2 && (chunk == 8 || chunk == 16)) {
        return scatter(st, d, staging, (c, n), (oy, q0, chunk), out);
    }
    assert!(staging.len() >= 64 * phases * n);
    let (z0, total) = (q0 * phases, chunk * phases);
    // Bytes `lo..hi` of the chunk's `total` are output columns `z0 + b -
    // out_shift` inside the row.
    let lo = d.out_shift.saturating_sub(z0).min(total);
    let hi = (st.width() + d.out_shift).saturating_sub(z0).min(total);
    if lo >= hi {
        return;
    }
    let whole = (lo, hi) == (0, total);
    let mut spill = [0u8; 32];
    for j in 0..n {
        let row = st.out().origin + (c + j) * st.out().plane + oy * st.out().stride;
        let src = staging[64 * phases * j..].as_ptr();
        // Output column `z0 - out_shift` (before the row when `lo > 0`).
        let at = out.wrapping_add(row + z0).wrapping_sub(d.out_shift);
        let to = if whole { at } else { spill.as_mut_ptr() };
        // SAFETY: the staging rows of channel `j` hold 64 bytes each
        // (checked above); `to` takes `total <= 32` bytes: the output
        // columns of the chunk, all inside the row (`whole`), or `spill`.
        unsafe {
            let a = _mm_loadu_si128(src.cast());
            match (phases, chunk) {
                (2, 16) => {
                    let b = _mm_loadu_si128(src.add(64).cast());
                    _mm_storeu_si128(to.cast(), _mm_unpacklo_epi8(a, b));
                    _mm_storeu_si128(to.add(16).cast(), _mm_unpackhi_epi8(a, b));
                }
                (2, _) => {
                    let b = _mm_loadu_si128(src.add(64).cast());
                    _mm_storeu_si128(to.cast(), _mm_unpacklo_epi8(a, b));
                }
                (_, 16) => _mm_storeu_si128(to.cast(), a),
                _ => _mm_storel_epi64(to.cast(), a),
            }
        }
        if !whole {
            // SAFETY: columns `z0 + lo - out_shift .. z0 + hi - out_shift`
            // are inside the row.
            unsafe {
                std::ptr::copy_nonoverlapping(spill[lo..hi].as_ptr(), at.wrapping_add(lo), hi - lo)
            };
        }
    }
}
