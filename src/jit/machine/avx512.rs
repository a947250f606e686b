//! The AVX-512 kernels of native stages (`jit::native` plans them and
//! explains the choice). Everything here is `unsafe` for two reasons that
//! the callers discharge:
//!
//! - CPU features: the functions are compiled for AVX-512 F, BW, VBMI and
//!   VNNI, and a native stage exists only when `native::host_supported()`
//!   found all four at compile time of the pipeline;
//! - memory: loads and stores go through raw pointers computed from the
//!   stage's [`Rows`]. `native::plan_native` proves that every window it
//!   reads lies in the input's halo-padded buffer and every store in the
//!   output's interior; vector loads may run up to 127 bytes past the last
//!   pixel they need, which the workspace's spare bytes after each buffer
//!   cover (`Workspace::SPARE`). Stores are masked to the row's width.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

#[cfg(target_arch = "x86_64")]
use super::tail_avx512::{folds, mirrored_plain, mirrors, Tail};
#[cfg(target_arch = "x86_64")]
use crate::jit::native::{Kind, NativeStage};

/// Runs items `lo..hi` of `stage` with the buffers at `ptrs`: of pointwise
/// and direct stages, only output channels `c0..c1` (`c1` past the last
/// channel: up to it), the others all.
///
/// # Safety
/// `ptrs` holds one pointer per planned buffer, each to a live allocation of
/// its planned size plus `Workspace::SPARE` bytes; `lo <= hi <= stage.items()`;
/// the host has the features of `native::host_supported`; `c0` is a
/// multiple of the kernel's channel block (`machine::channel_blocks`; 0 on
/// direct convolutions of several groups); no other thread writes the
/// rows `lo..hi` of channels `c0..c1` of the output.
#[cfg(target_arch = "x86_64")]
pub(super) unsafe fn run(
    stage: &NativeStage,
    ptrs: *const *mut u8,
    (lo, hi): (usize, usize),
    (c0, c1): (usize, usize),
) {
    let ch = (c0, c1.min(stage.channels()));
    // SAFETY: the caller guarantees `ptrs` has an entry for every buffer.
    let (x, out) = unsafe {
        (
            (*ptrs.add(stage.x().buffer)).cast_const(),
            *ptrs.add(stage.out().buffer),
        )
    };
    match stage.kind() {
        // SAFETY: the caller's guarantees are the kernels' preconditions.
        // Kernels with and without the folded tail are separate copies:
        // with both paths in one, LLVM stopped inlining the general tail and
        // the unfolded stages ran 10-15% slower.
        // (Strided only on AVX2: `NativeStage::fits`.)
        Kind::Pointwise { cin, groups, .. } => unsafe {
            super::pointwise_avx512::pointwise(stage, (*cin, *groups), x, out, (lo, hi), ch)
        },
        Kind::Depthwise { borders, .. } => unsafe {
            let q = stage.requant();
            let tail = if folds(q) {
                Form::Folded
            } else {
                match mirrored_plain(q) {
                    Some(true) => Form::MirroredPlain,
                    Some(false) => Form::Mirrored,
                    None => Form::General,
                }
            };
            let masked = borders.is_some();
            let f = (stage, x, out, lo, hi);
            // (The plane kernel declines stages without plane tables,
            // `NativeStage::plane_windows`; it stores what the packed one
            // would, so if it stops, the packed kernel runs the items again.)
            if planes(f, tail as u8) {
                return;
            }
            if let Some(p) = super::depthwise_packed::row_lanes(stage) {
                return match (tail as u8, masked) {
                    (0, false) => packed::<0, false>(f, p),
                    (0, true) => packed::<0, true>(f, p),
                    (1, false) => packed::<1, false>(f, p),
                    (1, true) => packed::<1, true>(f, p),
                    (2, false) => packed::<2, false>(f, p),
                    (2, true) => packed::<2, true>(f, p),
                    (_, false) => packed::<3, false>(f, p),
                    (_, true) => packed::<3, true>(f, p),
                };
            }
            match (tail as u8, masked, adjacent(stage)) {
                (0, false, None) => gathered::<0, false>(f),
                (0, true, None) => gathered::<0, true>(f),
                (1, false, None) => gathered::<1, false>(f),
                (1, true, None) => gathered::<1, true>(f),
                (_, false, None) => gathered::<2, false>(f),
                (_, true, None) => gathered::<2, true>(f),
                (0, false, Some(sw)) => loaded::<0, false>(f, sw),
                (0, true, Some(sw)) => loaded::<0, true>(f, sw),
                (1, false, Some(sw)) => loaded::<1, false>(f, sw),
                (1, true, Some(sw)) => loaded::<1, true>(f, sw),
                (2, false, Some(sw)) => loaded::<2, false>(f, sw),
                (2, true, Some(sw)) => loaded::<2, true>(f, sw),
                (_, false, Some(sw)) => loaded::<3, false>(f, sw),
                (_, true, Some(sw)) => loaded::<3, true>(f, sw),
            }
        },
        Kind::Deconv { .. } if folds(stage.requant()) => unsafe {
            deconv::<true, false>(stage, x, out, lo, hi)
        },
        Kind::Deconv { .. } if mirrors(stage.requant()) => unsafe {
            deconv::<false, true>(stage, x, out, lo, hi)
        },
        Kind::Deconv { .. } => unsafe { deconv::<false, false>(stage, x, out, lo, hi) },
        Kind::Wide16 { .. } => unsafe { super::pointwise16::pointwise16(stage, x, out, lo, hi) },
        Kind::Direct(direct) => unsafe {
            // SAFETY: as above, the residual buffer has an entry too.
            let res = stage.residual().map_or(std::ptr::null(), |(r, _)| {
                (*ptrs.add(r.buffer)).cast_const()
            });
            super::conv_avx512::direct(stage, direct, (x, res), out, (lo, hi), ch)
        },
    }
}

/// The general depthwise kernel (`depthwise_gather`) for the stage's
/// column stride.
///
/// # Safety
/// See [`run`]; `FORM` and `MASKED` are the stage's.
#[cfg(target_arch = "x86_64")]
unsafe fn gathered<const FORM: u8, const MASKED: bool>(
    f: (&NativeStage, *const u8, *mut u8, usize, usize),
) {
    use super::depthwise_gather::gathered;
    let Kind::Depthwise { stride, quads, .. } = f.0.kind() else {
        return;
    };
    // SAFETY: the caller's guarantees; `SW` is the stage's column stride
    // (1 to 4, `native::depthwise_windows`), `Q` its quads a kernel row
    // (1 or 2, `NativeStage::fits`).
    unsafe {
        match (stride.1, quads.0) {
            (1, 1) => gathered::<FORM, MASKED, 1, 1>(f),
            (2, 1) => gathered::<FORM, MASKED, 2, 1>(f),
            (3, 1) => gathered::<FORM, MASKED, 3, 1>(f),
            (_, 1) => gathered::<FORM, MASKED, 4, 1>(f),
            (1, _) => gathered::<FORM, MASKED, 1, 2>(f),
            (2, _) => gathered::<FORM, MASKED, 2, 2>(f),
            (3, _) => gathered::<FORM, MASKED, 3, 2>(f),
            (_, _) => gathered::<FORM, MASKED, 4, 2>(f),
        }
    }
}

/// The depthwise kernel by plain loads (`depthwise_avx512::loaded`) for
/// the column stride `sw` (1, 2 or 4).
///
/// # Safety
/// See [`run`]; `FORM` and `MASKED` are the stage's, `sw` is its column
/// stride and its taps are adjacent ([`adjacent`]).
#[cfg(target_arch = "x86_64")]
unsafe fn loaded<const FORM: u8, const MASKED: bool>(
    f: (&NativeStage, *const u8, *mut u8, usize, usize),
    sw: usize,
) {
    use super::depthwise_avx512::loaded;
    let Kind::Depthwise { quads, .. } = f.0.kind() else {
        return;
    };
    // SAFETY: the caller's guarantees; `Q` is the stage's quads a kernel
    // row (1 or 2, `NativeStage::fits`).
    unsafe {
        match (sw, quads.0) {
            (1, 1) => loaded::<FORM, MASKED, 1, 1>(f),
            (2, 1) => loaded::<FORM, MASKED, 2, 1>(f),
            (_, 1) => loaded::<FORM, MASKED, 4, 1>(f),
            (1, _) => loaded::<FORM, MASKED, 1, 2>(f),
            (2, _) => loaded::<FORM, MASKED, 2, 2>(f),
            (_, _) => loaded::<FORM, MASKED, 4, 2>(f),
        }
    }
}

/// The depthwise kernel of maps of one register block
/// (`depthwise_planes::planes`) for the tail's form `form`; false, storing
/// nothing, for a stage it does not take.
///
/// # Safety
/// See [`run`]; `form` is the stage's.
#[cfg(target_arch = "x86_64")]
unsafe fn planes(f: (&NativeStage, *const u8, *mut u8, usize, usize), form: u8) -> bool {
    use super::depthwise_planes::planes;
    // SAFETY: the caller's guarantees.
    unsafe {
        match form {
            0 => planes::<0>(f),
            1 => planes::<1>(f),
            2 => planes::<2>(f),
            _ => planes::<3>(f),
        }
    }
}

/// The depthwise kernel of narrow maps (`depthwise_packed::packed`), `p`
/// lanes a row.
///
/// # Safety
/// See [`run`]; `FORM` and `MASKED` are the stage's, `p` is
/// `depthwise_packed::row_lanes` of it.
#[cfg(target_arch = "x86_64")]
unsafe fn packed<const FORM: u8, const MASKED: bool>(
    f: (&NativeStage, *const u8, *mut u8, usize, usize),
    p: usize,
) {
    use super::depthwise_packed::packed;
    let Kind::Depthwise { quads, .. } = f.0.kind() else {
        return;
    };
    // SAFETY: the caller's guarantees; `Q` is the stage's quads a kernel
    // row (1 or 2, `NativeStage::fits`), `P` its lanes a row.
    unsafe {
        match (p, quads.0) {
            (8, 1) => packed::<FORM, MASKED, 8, 1>(f),
            (16, 1) => packed::<FORM, MASKED, 16, 1>(f),
            (_, 1) => packed::<FORM, MASKED, 32, 1>(f),
            (8, _) => packed::<FORM, MASKED, 8, 2>(f),
            (16, _) => packed::<FORM, MASKED, 16, 2>(f),
            (_, _) => packed::<FORM, MASKED, 32, 2>(f),
        }
    }
}

/// The form of a stage's tail a kernel is compiled for (its `FORM`).
#[derive(Clone, Copy)]
pub(super) enum Form {
    General = 0,
    Folded = 1,
    Mirrored = 2,
    /// Mirrored without a rounding constant or shift (`Mirror::plain`).
    MirroredPlain = 3,
}

/// The column stride of the depthwise stage `st` when it is 1, 2 or 4 and
/// its taps are adjacent (column dilation 1): then lane `j` of the vector
/// loaded from column `o` (from `stride_w x0`) is the window of pixel
/// `x0 + (o + 4 j) / stride_w` for `o` a multiple of the stride
/// (`depthwise_avx512::loaded`).
fn adjacent(st: &NativeStage) -> Option<usize> {
    let Kind::Depthwise { stride, bases, .. } = st.kind() else {
        return None;
    };
    let sw = stride.1;
    // Lane `k` of vector `p` takes bytes `sw (16 p + k) .. + 4` from
    // column `stride_w x0` (indices from `bases[p]`).
    let w = st.windows();
    let taps = (0..256).all(|i| {
        let (p, k, t) = (i / 64, i % 64 / 4, i % 4);
        usize::from(w[i]) + bases[p] == sw * (16 * p + k) + t
    });
    (matches!(sw, 1 | 2 | 4) && taps).then_some(sw)
}

/// Stores the bytes of `v` that `mask` selects at `dst`: a plain store
/// when it selects all 64 (a masked store to memory is much slower on Zen
/// 4).
///
/// # Safety
/// The selected bytes are writable; only inlined into functions compiled
/// with AVX-512 F and BW (always inlined: `#[target_feature]` functions
/// cannot be).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(super) unsafe fn store(dst: *mut u8, mask: u64, v: __m512i) {
    // SAFETY: the caller's guarantees; with every byte selected the plain
    // store writes the same bytes.
    unsafe {
        if mask == u64::MAX {
            _mm512_storeu_si512(dst.cast(), v);
        } else {
            _mm512_mask_storeu_epi8(dst.cast(), mask, v);
        }
    }
}

/// The byte mask of the first `n` (at most 64) lanes.
pub(super) fn lanes(n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// The masks of two 64-byte loads of a row from column `first` (negative:
/// before the row) that keep columns `0..width`.
pub(super) fn column_masks(first: i64, width: i64) -> (u64, u64) {
    let from = (-first).clamp(0, 128) as u32;
    let to = (width - first).clamp(0, 128) as u32;
    if to <= from {
        return (0, 0);
    }
    let below = |n: u32| {
        if n >= 128 {
            u128::MAX
        } else {
            (1u128 << n) - 1
        }
    };
    let keep = below(to) & !below(from);
    (keep as u64, (keep >> 64) as u64)
}

/// Depthwise transposed convolution (see `native::plan_deconv`): for each
/// output row, the input rows of its kernel-row phase are copied into
/// zero-padded scratch rows, so every lane's taps are a byte gather from 128
/// loaded bytes whatever the borders.
///
/// # Safety
/// See [`run`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
unsafe fn deconv<const FAST: bool, const MIRROR: bool>(
    st: &NativeStage,
    x: *const u8,
    out: *mut u8,
    lo: usize,
    hi: usize,
) {
    let &Kind::Deconv {
        kh,
        stride: (sh, sw),
        pad_top,
        in_h,
        in_w,
        first,
    } = st.kind()
    else {
        return;
    };
    let tail = Tail::new(st.requant());
    let windows: [__m512i; 4] = std::array::from_fn(|p| {
        let idx = &st.windows()[64 * p..64 * (p + 1)];
        // SAFETY: `idx` is 64 bytes.
        unsafe { _mm512_loadu_si512(idx.as_ptr().cast()) }
    });
    let chunks = st.width().div_ceil(64);
    // Scratch row: input column `ix` at `ix - first`; zeros around it.
    let lead = (-first).max(0) as usize;
    let skip = first.max(0) as usize;
    let len = lead + in_w + 64 * chunks / sw + 128;
    let mut scratch = vec![0u8; kh * len];
    let fast = if FAST { tail.fast() } else { None };
    let mirror = if MIRROR { tail.mirror() } else { None };
    for item in lo..hi {
        let (c, oy) = (item / st.height(), item % st.height());
        let k = tail.channel(c);
        let mut rows = [0usize; 16];
        let mut n = 0;
        for ky in 0..kh {
            let t = oy + pad_top;
            if t < ky || (t - ky) % sh != 0 || (t - ky) / sh >= in_h {
                continue;
            }
            let iy = (t - ky) / sh;
            let slot = &mut scratch[ky * len..(ky + 1) * len];
            if skip < in_w {
                let at = st.x().origin + c * st.x().plane + iy * st.x().stride + skip;
                // SAFETY: input row (c, iy) holds `in_w` bytes from column 0.
                let src = unsafe { std::slice::from_raw_parts(x.add(at), in_w - skip) };
                slot[lead..lead + in_w - skip].copy_from_slice(src);
            }
            rows[n] = ky;
            n += 1;
        }
        for chunk in 0..chunks {
            let x0 = 64 * chunk;
            let mut acc = [_mm512_setzero_si512(); 4];
            for &ky in &rows[..n] {
                let at = ky * len + x0 / sw;
                let bytes = &scratch[at..at + 128];
                // SAFETY: `bytes` is 128 bytes.
                let (a, b) = unsafe {
                    (
                        _mm512_loadu_si512(bytes.as_ptr().cast()),
                        _mm512_loadu_si512(bytes.as_ptr().add(64).cast()),
                    )
                };
                let w = &st.weights()[(c * kh + ky) * 16..(c * kh + ky + 1) * 16];
                // SAFETY: `w` is 16 lanes of 4 bytes.
                let wv = unsafe { _mm512_loadu_si512(w.as_ptr().cast()) };
                for (p, acc_p) in acc.iter_mut().enumerate() {
                    let win = _mm512_permutex2var_epi8(a, windows[p], b);
                    *acc_p = _mm512_dpbusd_epi32(*acc_p, win, wv);
                }
            }
            // A copy for the tails (see `depthwise_avx512::loaded`).
            let sums = acc;
            let bytes = match (&fast, &mirror) {
                // SAFETY: this function's target features; `c` is a channel.
                // (The channel's constants made here, not hoisted: held
                // across the loop LLVM loses that `mul` is a sign-extended
                // dword and multiplies on 64 bits, three products a vector.)
                (Some(f), _) => unsafe { f.ordered4(&sums, f.channel(c)) },
                (None, Some(m)) => unsafe { m.ordered4(&sums, c) },
                (None, None) => tail.apply4(&sums, k),
            };
            let at = st.out().origin + c * st.out().plane + oy * st.out().stride + x0;
            // SAFETY: pixel (c, oy, x0) is inside the output; the mask keeps
            // the store within the row's width.
            unsafe { store(out.add(at), lanes(st.width() - x0), bytes) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::column_masks;

    /// Bit `i` of the two masks (128 bits) keeps column `first + i`.
    #[test]
    fn border_masks_keep_the_rows_columns() {
        for first in -130..200i64 {
            for width in [1i64, 5, 63, 64, 65, 127, 128, 129, 190] {
                let (a, b) = column_masks(first, width);
                let keep = u128::from(a) | (u128::from(b) << 64);
                for i in 0..128 {
                    let col = first + i as i64;
                    let inside = (0..width).contains(&col);
                    assert_eq!(
                        keep >> i & 1 == 1,
                        inside,
                        "first {first} width {width} bit {i}"
                    );
                }
            }
        }
    }
}
