//! The AVX-512 BW writer of one constant-padded row (`pad` on the row
//! kernels, `native::rowwise::remap`): each 64-byte chunk of the output row
//! is one masked load of the input bytes it holds over the fill pattern
//! (lanes outside the input are neither read nor able to fault) and one
//! store, masked at the row's end. Rows wholly in the pad are fill stores.
//! One pass over the output, against a fill then an overlapping copy.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Proof that the host has AVX-512 BW and VBMI and the stage may use it: the only
/// way to call [`PadRows::write`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct PadRows(());

impl PadRows {
    /// The writer, when the row kernels run their AVX-512 copy for `isa`
    /// (the choice of `rows::run`).
    pub(crate) fn new(isa: crate::jit::Isa) -> Option<PadRows> {
        #[cfg(target_arch = "x86_64")]
        let vbmi = std::is_x86_feature_detected!("avx512vbmi");
        #[cfg(not(target_arch = "x86_64"))]
        let vbmi = false;
        (vbmi && super::rows::runs_avx512(isa)).then_some(PadRows(()))
    }

    /// `dst` filled with the 64-byte pattern `block` (the fill element
    /// repeated; `dst` holds whole elements), with `src` at byte `at`.
    /// `src` must fit: `at + src.len() <= dst.len()` (else nothing is
    /// written and it returns `false`).
    #[inline(always)]
    pub(crate) fn write(self, dst: &mut [u8], src: &[u8], at: usize, block: &[u8; 64]) -> bool {
        if at.checked_add(src.len()).is_none_or(|end| end > dst.len()) {
            return false;
        }
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `PadRows` exists only when AVX-512 BW and VBMI were detected; `src`
        // lies inside `dst`'s row as checked above, the lengths are those of
        // live slices, and `dst` is borrowed exclusively.
        unsafe {
            write_avx512(
                dst.as_mut_ptr(),
                dst.len(),
                src.as_ptr(),
                src.len(),
                at,
                block,
            )
        };
        #[cfg(not(target_arch = "x86_64"))]
        fill_then_copy(dst, src, at, block);
        true
    }
}

/// Never called (no `PadRows` without x86-64); the same result.
#[cfg(not(target_arch = "x86_64"))]
fn fill_then_copy(dst: &mut [u8], src: &[u8], at: usize, block: &[u8; 64]) {
    for (k, byte) in dst.iter_mut().enumerate() {
        *byte = block[k % 64];
    }
    dst[at..at + src.len()].copy_from_slice(src);
}

/// Lanes `j` of a 64-byte chunk at row offset `o` with `lo <= o + j < hi`.
#[inline(always)]
fn lanes_between(o: usize, lo: usize, hi: usize) -> u64 {
    let below = |bound: usize| -> u64 {
        // Lanes with `o + j < bound`.
        match bound.saturating_sub(o) {
            0 => 0,
            n if n >= 64 => !0,
            n => (1u64 << n) - 1,
        }
    };
    below(hi) & !below(lo)
}

/// # Safety
/// AVX-512 BW and VBMI present; `dst` is `n` writable bytes, `src` is `len` readable
/// bytes, `at + len <= n`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
unsafe fn write_avx512(
    dst: *mut u8,
    n: usize,
    src: *const u8,
    len: usize,
    at: usize,
    block: &[u8; 64],
) {
    // SAFETY: `block` is 64 readable bytes.
    let fill = unsafe { _mm512_loadu_si512(block.as_ptr().cast()) };
    let end = at + len;
    let iota: [u8; 64] = std::array::from_fn(|j| j as u8);
    // SAFETY: `iota` is 64 readable bytes.
    let iota = unsafe { _mm512_loadu_si512(iota.as_ptr().cast()) };
    let fill_lanes = _mm512_add_epi8(iota, _mm512_set1_epi8(64));
    // The chunk at `o` with its input lanes over the fill.
    let chunk = |o: usize| {
        let input = lanes_between(o, at, end);
        if len >= 64 {
            // An unmasked load of the 64 input bytes around the chunk's
            // (a masked load split across cache lines is slow), its bytes
            // moved into place: lane `j` takes `src[o + j - at]`, at
            // `o + j - at - s` in the load.
            let s = o.saturating_sub(at).min(len - 64);
            // SAFETY: `src[s..s + 64]` is inside `src` (`s <= len - 64`).
            let v = unsafe { _mm512_loadu_si512(src.add(s).cast()) };
            // The index wraps mod 256; for input lanes it is in 0..64
            // (the load's bytes), and the fill lanes are 64 + j.
            let shift = o.wrapping_sub(at + s) as u8 as i8;
            let idx = _mm512_mask_mov_epi8(
                fill_lanes,
                input,
                _mm512_add_epi8(iota, _mm512_set1_epi8(shift)),
            );
            return _mm512_permutex2var_epi8(v, idx, fill);
        }
        // Lane `j` reads `src[o + j - at]`, only for the lanes in `input`
        // (inside `src`); the pointer itself may lie outside it, hence the
        // wrapping arithmetic.
        let from = src.wrapping_add(o).wrapping_sub(at);
        // SAFETY: masked-off lanes are not read (AVX-512 masked loads
        // suppress their faults); the read lanes are `src[0..len]`.
        unsafe { _mm512_mask_loadu_epi8(fill, input, from.cast()) }
    };
    if n < 64 {
        // SAFETY: the stored lanes are `dst[0..n]`.
        unsafe { _mm512_mask_storeu_epi8(dst.cast(), lanes_between(0, 0, n), chunk(0)) };
        return;
    }
    // Whole stores (a masked store split across cache lines is slow): the
    // last chunk again at `n - 64`, overlapping, for the rest.
    let mut o = 0;
    while o + 64 <= n {
        // SAFETY: `dst[o..o + 64]` is inside the row.
        unsafe { _mm512_storeu_si512(dst.add(o).cast(), chunk(o)) };
        o += 64;
    }
    if o < n {
        // SAFETY: `dst[n - 64..n]` is inside the row (`n >= 64`).
        unsafe { _mm512_storeu_si512(dst.add(n - 64).cast(), chunk(n - 64)) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every placement of a short and a long input in rows around 64 and
    /// 128 bytes against the fill-then-copy definition.
    #[test]
    fn writes_fill_and_input() {
        let Some(writer) = PadRows::new(crate::jit::Isa::Auto) else {
            return;
        };
        let input: Vec<u8> = (0..200).map(|k| k as u8).collect();
        // Elements of one and of four bytes: rows of whole elements.
        for (period, n) in [1, 4].into_iter().flat_map(|p| {
            [0, 1, 2, 4, 60, 63, 64, 65, 68, 127, 128, 130, 132, 190]
                .into_iter()
                .filter(move |n| n % p == 0)
                .map(move |n| (p, n))
        }) {
            let block: [u8; 64] = std::array::from_fn(|k| 200 + (k % period) as u8);
            for len in [0, 1, 5, 63, 64, 65, 129] {
                for at in [0, 1, 2, 62, 63, 64, 66, 128] {
                    if at + len > n {
                        continue;
                    }
                    let mut row = vec![7u8; n + 64];
                    assert!(writer.write(&mut row[..n], &input[..len], at, &block));
                    let mut want = vec![7u8; n + 64];
                    for k in 0..n {
                        want[k] = block[k % 64];
                    }
                    want[at..at + len].copy_from_slice(&input[..len]);
                    assert_eq!(row, want, "n {n} len {len} at {at}");
                }
            }
        }
        assert!(!writer.write(&mut [0u8; 4], &[1, 2], 3, &[0; 64]));
    }
}
