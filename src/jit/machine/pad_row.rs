//! The AVX-512 BW writer of one constant-padded row (`pad` on the row
//! kernels, `native::rowwise::remap`): each 64-byte chunk of the output row
//! is one masked load of the input bytes it holds over the fill pattern
//! (lanes outside the input are neither read nor able to fault) and one
//! store, masked at the row's end. Rows wholly in the pad are fill stores.
//! One pass over the output, against a fill then an overlapping copy.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Proof that the host has AVX-512 BW and the stage may use it: the only
/// way to call [`PadRows::write`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct PadRows(());

impl PadRows {
    /// The writer, when the row kernels run their AVX-512 copy for `isa`
    /// (the choice of `rows::run`).
    pub(crate) fn new(isa: crate::jit::Isa) -> Option<PadRows> {
        (super::rows::runs_avx512(isa)).then_some(PadRows(()))
    }

    /// `dst` filled with the 64-byte pattern `block` (the fill element
    /// repeated; `dst` starts on an element), with `src` at byte `at`.
    /// `src` must fit: `at + src.len() <= dst.len()` (else nothing is
    /// written and it returns `false`).
    #[inline(always)]
    pub(crate) fn write(self, dst: &mut [u8], src: &[u8], at: usize, block: &[u8; 64]) -> bool {
        if at.checked_add(src.len()).is_none_or(|end| end > dst.len()) {
            return false;
        }
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `PadRows` exists only when AVX-512 BW was detected; `src`
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
/// AVX-512 BW present; `dst` is `n` writable bytes, `src` is `len` readable
/// bytes, `at + len <= n`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
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
    let mut o = 0;
    while o < n {
        let keep = lanes_between(o, 0, n);
        let input = lanes_between(o, at, end);
        // Lane `j` reads `src[o + j - at]`, only for the lanes in `input`
        // (inside `src`); the pointer itself may lie outside it, hence the
        // wrapping arithmetic.
        let from = src.wrapping_add(o).wrapping_sub(at);
        // SAFETY: masked-off lanes are not read (AVX-512 masked loads
        // suppress their faults); the read lanes are `src[0..len]`.
        let v = unsafe { _mm512_mask_loadu_epi8(fill, input, from.cast()) };
        // SAFETY: the stored lanes are `dst[o..min(o + 64, n)]`.
        unsafe { _mm512_mask_storeu_epi8(dst.add(o).cast(), keep, v) };
        o += 64;
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
        let block: [u8; 64] = std::array::from_fn(|k| 200 + (k % 2) as u8);
        let input: Vec<u8> = (0..200).map(|k| k as u8).collect();
        for n in [0, 1, 2, 63, 64, 65, 127, 128, 130, 190] {
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
        assert!(!writer.write(&mut [0u8; 4], &[1, 2], 3, &block));
    }
}
