//! Runs a depthwise -> pointwise pair band by band (`native::BandPair`
//! explains the band buffer): each thread keeps one band buffer, and a
//! job of rows `lo..hi` runs, band after band, the depthwise kernel on
//! the band's rows of every channel into it, then the pointwise kernel on
//! the band's rows from it. The kernels are called through their usual
//! entry points (`avx512::run`, `conv_avx2::run`), with the intermediate
//! buffer's pointer replaced by the band buffer's.

use std::cell::RefCell;

use super::{Line, Workspace};
use crate::jit::native::{BandPair, NativeStage};

thread_local! {
    /// This thread's band buffer (grown to the largest pair it ran).
    static BAND: RefCell<Vec<Line>> = const { RefCell::new(Vec::new()) };
}

/// Whether the pair's depthwise kernel works through rows one at a time
/// (not the packed kernel of narrow maps, whose blocks of rows a band
/// would cut): only those pairs are run banded.
pub(crate) fn banded_kernels(pair: &BandPair) -> bool {
    (pair.bands.iter())
        .all(|(dw, _)| dw.isa().is_avx2() || super::depthwise_packed::row_lanes(dw).is_none())
}

/// Runs the bands of `pair` that start in rows `lo..hi`.
///
/// # Safety
/// As `avx512::run` for every stage of the pair (the features of the
/// stages' instruction set; `ptrs` holds `buffers` pointers, one per
/// planned buffer, to live allocations with their spare bytes), no other
/// thread writes or reads the pointwise stage's output rows of those
/// bands while the job runs, and `pair` was made by `BandPair::new` (its
/// stages fit the band buffer of `pair.bytes` bytes).
#[cfg(target_arch = "x86_64")]
pub(super) unsafe fn run(
    pair: &BandPair,
    ptrs: *const *mut u8,
    buffers: usize,
    lo: usize,
    hi: usize,
) {
    let Some((first, _)) = pair.bands.first() else {
        return;
    };
    let lines = (pair.bytes + Workspace::SPARE).div_ceil(Line::BYTES);
    let mid = first.out().buffer;
    // SAFETY: the caller's `ptrs` holds `buffers` pointers.
    let mut local: Vec<*mut u8> = unsafe { std::slice::from_raw_parts(ptrs, buffers) }.to_vec();
    let bands = (lo.div_ceil(pair.band)..hi.div_ceil(pair.band)).filter_map(|b| pair.bands.get(b));
    let go = |buffer: &mut Vec<Line>| {
        if buffer.len() < lines {
            buffer.resize(lines, Line([0; Line::BYTES]));
        }
        local[mid] = buffer.as_mut_ptr().cast::<u8>();
        let p = local.as_ptr();
        for (dw, pw) in bands {
            // SAFETY (both): the caller's guarantees; `p` is `ptrs` with
            // the intermediate's entry pointing at the band buffer of
            // `pair.bytes` bytes plus the spare bytes, which
            // `BandPair::new` checked the band's stages against. The
            // depthwise stage writes the band, the pointwise stage then
            // reads it.
            unsafe {
                kernel(dw, p, dw.items());
                kernel(pw, p, pw.items());
            }
        }
    };
    BAND.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buffer) => go(&mut buffer),
        // Not reentered in practice (a job runs no other job); a buffer of
        // its own then.
        Err(_) => go(&mut Vec::new()),
    });
}

/// One call of a native stage's kernel on items `0..items`, every channel.
///
/// # Safety
/// As `avx512::run` (`conv_avx2::run` for AVX2 stages).
#[cfg(target_arch = "x86_64")]
unsafe fn kernel(st: &NativeStage, ptrs: *const *mut u8, items: usize) {
    // SAFETY: the caller's guarantees.
    unsafe {
        if st.isa().is_avx2() {
            super::conv_avx2::run(st, ptrs, 0, items)
        } else {
            super::avx512::run(st, ptrs, (0, items), (0, usize::MAX))
        }
    }
}
