//! The AVX-512 kernels of native stages (`jit::native` plans them and
//! explains the choice). Everything here is `unsafe` for two reasons that
//! the callers discharge:
//!
//! - CPU features: the functions are compiled for AVX-512 F, BW, VBMI and
//!   VNNI, and a native stage exists only when `native::host_supported()`
//!   found all four at compile time of the pipeline;
//! - memory: loads and stores go through raw pointers computed from a
//!   [`Plane`] (a base pointer and the stage's `Rows`). `native::plan_native`
//!   proves that every window a kernel reads lies in the input's
//!   halo-padded buffer and every store in the output's interior; vector
//!   loads may run up to 127 bytes past the last pixel they need, which the
//!   workspace's spare bytes after each buffer cover (`Workspace::SPARE`),
//!   as do the `MID_SPARE` bytes of the fused runner's row buffer. Stores
//!   are masked to the row's width.
//!
//! Each kernel is a context (constants broadcast once, scratch memory)
//! with a method that computes one output row; [`run`] calls it for a
//! stage's items, [`run_fused`] for a depthwise (or transposed) stage whose
//! rows feed a pointwise stage directly, through a row buffer that stays in
//! L1 instead of the intermediate's full buffer.

#[cfg(target_arch = "x86_64")]
mod tail;

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

#[cfg(target_arch = "x86_64")]
use crate::jit::native::{Kind, NativeStage, Rows};
#[cfg(target_arch = "x86_64")]
use tail::{lanes, Tail};

/// Bytes after the fused runner's row buffer, for loads past the row.
const MID_SPARE: usize = 128;

/// A buffer's rows at a base pointer.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Plane {
    base: *mut u8,
    rows: Rows,
}

#[cfg(target_arch = "x86_64")]
impl Plane {
    /// # Safety
    /// `ptrs` holds a pointer for buffer `rows.buffer`.
    unsafe fn of(ptrs: *const *mut u8, rows: Rows) -> Plane {
        // SAFETY: guaranteed by the caller.
        Plane {
            base: unsafe { *ptrs.add(rows.buffer) },
            rows,
        }
    }

    /// Byte offset of pixel `(c, y, x)`, `y` and `x` counted from the
    /// interior's corner.
    fn offset(&self, c: usize, y: usize, x: usize) -> usize {
        self.rows.origin + c * self.rows.plane + y * self.rows.stride + x
    }
}

/// Runs items `lo..hi` of `stage` with the buffers at `ptrs`.
///
/// # Safety
/// `ptrs` holds one pointer per planned buffer, each to a live allocation of
/// its planned size plus `Workspace::SPARE` bytes; `lo <= hi <= stage.items()`;
/// the host has the features of `native::host_supported`; no other thread
/// writes the rows `lo..hi` of the output.
#[cfg(target_arch = "x86_64")]
pub(super) unsafe fn run(stage: &NativeStage, ptrs: *const *mut u8, lo: usize, hi: usize) {
    // SAFETY (whole function): the caller's guarantees are the kernels'.
    let (x, out) = unsafe { (Plane::of(ptrs, stage.x), Plane::of(ptrs, stage.out)) };
    match stage.kind {
        Kind::Pointwise { .. } => {
            let mut k = unsafe { Pointwise::new(stage) };
            for y in lo..hi {
                unsafe { k.row(x, y, out, y) };
            }
        }
        _ => {
            let mut k = unsafe { RowKernel::new(stage) };
            for item in lo..hi {
                let (c, y) = (item / stage.height, item % stage.height);
                unsafe { k.row(x, c, y, out, y) };
            }
        }
    }
}

/// Rows `lo..hi` of `first` (a depthwise or transposed stage) and then of
/// `second` (pointwise, reading `first`'s output): each row of `first`, all
/// channels, goes to a row buffer that `second` reads at once. `first`'s
/// own output buffer is not written.
///
/// # Safety
/// As for [`run`], with `lo <= hi <= second.height`, both stages of the
/// same height and width, `second` reading `first`'s output, and nothing
/// else reading that output.
#[cfg(target_arch = "x86_64")]
pub(super) unsafe fn run_fused(
    first: &NativeStage,
    second: &NativeStage,
    ptrs: *const *mut u8,
    lo: usize,
    hi: usize,
) {
    let pitch = first.width.div_ceil(64) * 64;
    let mut mid_bytes = vec![0u8; first.channels * pitch + MID_SPARE];
    let rows = Rows {
        buffer: usize::MAX,
        origin: 0,
        stride: pitch,
        plane: pitch,
    };
    let mid = Plane {
        base: mid_bytes.as_mut_ptr(),
        rows,
    };
    // SAFETY (whole function): the caller's guarantees; `mid` holds every
    // channel's row of `pitch >= width` bytes and `MID_SPARE` more.
    let (x, out) = unsafe { (Plane::of(ptrs, first.x), Plane::of(ptrs, second.out)) };
    let mut a = unsafe { RowKernel::new(first) };
    let mut b = unsafe { Pointwise::new(second) };
    for y in lo..hi {
        for c in 0..first.channels {
            unsafe { a.row(x, c, y, mid, 0) };
        }
        unsafe { b.row(mid, 0, out, y) };
    }
}

/// A kernel computing one output row of one channel.
#[cfg(target_arch = "x86_64")]
enum RowKernel<'a> {
    Depthwise(Depthwise<'a>),
    Deconv(Deconv<'a>),
}

#[cfg(target_arch = "x86_64")]
impl<'a> RowKernel<'a> {
    /// # Safety
    /// The host has the kernels' features.
    unsafe fn new(st: &'a NativeStage) -> RowKernel<'a> {
        // SAFETY: guaranteed by the caller.
        unsafe {
            match st.kind {
                Kind::Deconv { .. } => RowKernel::Deconv(Deconv::new(st)),
                _ => RowKernel::Depthwise(Depthwise::new(st)),
            }
        }
    }

    /// # Safety
    /// See [`run`]: `x` and `out` are the stage's buffers (or a row buffer
    /// standing for `out`, written at row `y_out`).
    unsafe fn row(&mut self, x: Plane, c: usize, y: usize, out: Plane, y_out: usize) {
        // SAFETY: guaranteed by the caller.
        unsafe {
            match self {
                RowKernel::Depthwise(k) => k.row(x, c, y, out, y_out),
                RowKernel::Deconv(k) => k.row(x, c, y, out, y_out),
            }
        }
    }
}

/// Pointwise (1x1) convolution: a row of 64-pixel chunks; for each chunk the
/// input channels are interleaved four by four, then every block of output
/// channels runs its dot products.
#[cfg(target_arch = "x86_64")]
struct Pointwise<'a> {
    st: &'a NativeStage,
    cin: usize,
    tail: Tail<'a>,
    order: __m512i,
    acts: Vec<__m512i>,
}

#[cfg(target_arch = "x86_64")]
impl<'a> Pointwise<'a> {
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
    fn new(st: &'a NativeStage) -> Pointwise<'a> {
        let (cin, groups) = match st.kind {
            Kind::Pointwise { cin, groups } => (cin, groups),
            _ => (0, 0),
        };
        // Interleaving four channel rows with byte then word unpacks leaves
        // quarter q of vector k holding pixels 16q + 4k .. 16q + 4k + 3: the
        // accumulators come out in that order, and one byte permutation of
        // the joined results restores pixel order.
        let order: [u8; 64] =
            std::array::from_fn(|p| (16 * ((p % 16) / 4) + 4 * (p / 16) + p % 4) as u8);
        Pointwise {
            st,
            cin,
            tail: Tail::new(&st.requant),
            // SAFETY: `order` is 64 bytes.
            order: unsafe { _mm512_loadu_si512(order.as_ptr().cast()) },
            acts: vec![_mm512_setzero_si512(); 4 * groups],
        }
    }

    /// Output row `y_out` from input row `y`.
    ///
    /// # Safety
    /// See [`run`].
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
    unsafe fn row(&mut self, x: Plane, y: usize, out: Plane, y_out: usize) {
        let st = self.st;
        for chunk in 0..st.width.div_ceil(64) {
            let x0 = 64 * chunk;
            for (g, acts) in self.acts.chunks_exact_mut(4).enumerate() {
                let mut c = [_mm512_setzero_si512(); 4];
                for (i, c) in c.iter_mut().enumerate() {
                    let ch = 4 * g + i;
                    if ch < self.cin {
                        // SAFETY: pixel (ch, y, x0) is inside the input; the
                        // 64 bytes from it end at most 63 past the row's end.
                        *c = unsafe { _mm512_loadu_si512(x.base.add(x.offset(ch, y, x0)).cast()) };
                    }
                }
                let t0 = _mm512_unpacklo_epi8(c[0], c[1]);
                let t1 = _mm512_unpackhi_epi8(c[0], c[1]);
                let t2 = _mm512_unpacklo_epi8(c[2], c[3]);
                let t3 = _mm512_unpackhi_epi8(c[2], c[3]);
                acts[0] = _mm512_unpacklo_epi16(t0, t2);
                acts[1] = _mm512_unpackhi_epi16(t0, t2);
                acts[2] = _mm512_unpacklo_epi16(t1, t3);
                acts[3] = _mm512_unpackhi_epi16(t1, t3);
            }
            let spot = Spot {
                out,
                y: y_out,
                x0,
                mask: lanes(st.width - x0),
                order: self.order,
            };
            let mut o = 0;
            // SAFETY (each block): the caller's guarantees, and `o + N <= channels`.
            while o + 6 <= st.channels {
                unsafe { block::<6>(st, &self.tail, &self.acts, o, &spot) };
                o += 6;
            }
            match st.channels - o {
                1 => unsafe { block::<1>(st, &self.tail, &self.acts, o, &spot) },
                2 => unsafe { block::<2>(st, &self.tail, &self.acts, o, &spot) },
                3 => unsafe { block::<3>(st, &self.tail, &self.acts, o, &spot) },
                4 => unsafe { block::<4>(st, &self.tail, &self.acts, o, &spot) },
                5 => unsafe { block::<5>(st, &self.tail, &self.acts, o, &spot) },
                _ => {}
            }
        }
    }
}

/// Where a pointwise block stores: row `y` of `out`, pixels `x0..x0 + 64`
/// (masked).
#[cfg(target_arch = "x86_64")]
struct Spot {
    out: Plane,
    y: usize,
    x0: usize,
    mask: u64,
    order: __m512i,
}

/// Output channels `o..o + N` of 64 pixels: `4 N` accumulators, one
/// `vpdpbusd` per accumulator and group of four input channels.
///
/// # Safety
/// See [`run`]; `o + N <= st.channels`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
unsafe fn block<const N: usize>(
    st: &NativeStage,
    tail: &Tail,
    acts: &[__m512i],
    o: usize,
    spot: &Spot,
) {
    let groups = acts.len() / 4;
    let mut acc = [[_mm512_setzero_si512(); 4]; N];
    let w = &st.weights[o * groups..(o + N) * groups];
    for (g, a) in acts.chunks_exact(4).enumerate() {
        for (j, acc_j) in acc.iter_mut().enumerate() {
            let wv = _mm512_set1_epi32(w[j * groups + g]);
            for (p, acc_p) in acc_j.iter_mut().enumerate() {
                *acc_p = _mm512_dpbusd_epi32(*acc_p, a[p], wv);
            }
        }
    }
    for (j, acc_j) in acc.iter().enumerate() {
        let c = o + j;
        let k = tail.channel(c);
        let bytes = tail.apply4(acc_j, k);
        let v = _mm512_permutexvar_epi8(spot.order, bytes);
        let at = spot.out.offset(c, spot.y, spot.x0);
        // SAFETY: pixel (c, y, x0) is inside the output and the mask keeps
        // the store within the row's width.
        unsafe { _mm512_mask_storeu_epi8(spot.out.base.add(at).cast(), spot.mask, v) };
    }
}

/// Depthwise convolution, stride 1: each kernel row is one byte permutation
/// of 128 loaded bytes (every 32-bit lane gets its pixel's window) and one
/// `vpdpbusd` per 16 pixels.
#[cfg(target_arch = "x86_64")]
struct Depthwise<'a> {
    st: &'a NativeStage,
    kh: usize,
    pad: (usize, usize),
    tail: Tail<'a>,
    windows: [__m512i; 4],
}

#[cfg(target_arch = "x86_64")]
impl<'a> Depthwise<'a> {
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
    fn new(st: &'a NativeStage) -> Depthwise<'a> {
        let (kh, pad) = match st.kind {
            Kind::Depthwise {
                kh,
                pad_top,
                pad_left,
            } => (kh, (pad_top, pad_left)),
            _ => (0, (0, 0)),
        };
        // Window of pixel j in vector p: bytes 16p + j .. 16p + j + 3 of the
        // 128 bytes loaded from the row (two 64-byte halves).
        let mut windows = [_mm512_setzero_si512(); 4];
        for (p, w) in windows.iter_mut().enumerate() {
            let idx: [u8; 64] = std::array::from_fn(|i| (16 * p + i / 4 + i % 4) as u8);
            // SAFETY: `idx` is 64 bytes.
            *w = unsafe { _mm512_loadu_si512(idx.as_ptr().cast()) };
        }
        Depthwise {
            st,
            kh,
            pad,
            tail: Tail::new(&st.requant),
            windows,
        }
    }

    /// Output row `y` of channel `c`, stored at row `y_out` of `out`.
    ///
    /// # Safety
    /// See [`run`].
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
    unsafe fn row(&mut self, x: Plane, c: usize, y: usize, out: Plane, y_out: usize) {
        let (st, kh) = (self.st, self.kh);
        let k = self.tail.channel(c);
        let taps = &st.weights[c * kh..(c + 1) * kh];
        // Row `y - pad_top`, column `-pad_left`: inside the halo.
        let first = x.offset(c, y, 0) - self.pad.0 * x.rows.stride - self.pad.1;
        for chunk in 0..st.width.div_ceil(64) {
            let x0 = 64 * chunk;
            let mut acc = [_mm512_setzero_si512(); 4];
            for (ky, &tap) in taps.iter().enumerate() {
                let at = first + ky * x.rows.stride + x0;
                // SAFETY: the window's first byte is in the halo-padded row;
                // the 128 bytes read end at most 127 past the last byte used.
                let (a, b) = unsafe {
                    (
                        _mm512_loadu_si512(x.base.add(at).cast()),
                        _mm512_loadu_si512(x.base.add(at + 64).cast()),
                    )
                };
                let wv = _mm512_set1_epi32(tap);
                for (p, acc_p) in acc.iter_mut().enumerate() {
                    let win = _mm512_permutex2var_epi8(a, self.windows[p], b);
                    *acc_p = _mm512_dpbusd_epi32(*acc_p, win, wv);
                }
            }
            let bytes = self.tail.apply4(&acc, k);
            let at = out.offset(c, y_out, x0);
            // SAFETY: pixel (c, y_out, x0) is inside the output; the mask
            // keeps the store within the row's width.
            unsafe {
                _mm512_mask_storeu_epi8(out.base.add(at).cast(), lanes(st.width - x0), bytes)
            };
        }
    }
}

/// Depthwise transposed convolution (see `native::plan_deconv`): for each
/// output row, the input rows of its kernel-row phase are copied into
/// zero-padded scratch rows, so every lane's taps are a byte gather from 128
/// loaded bytes whatever the borders.
#[cfg(target_arch = "x86_64")]
struct Deconv<'a> {
    st: &'a NativeStage,
    tail: Tail<'a>,
    windows: [__m512i; 4],
    /// One zero-padded input row per kernel row, `len` bytes each.
    scratch: Vec<u8>,
    len: usize,
}

#[cfg(target_arch = "x86_64")]
impl<'a> Deconv<'a> {
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
    fn new(st: &'a NativeStage) -> Deconv<'a> {
        let (kh, sw, in_w, first) = match st.kind {
            Kind::Deconv {
                kh,
                stride: (_, sw),
                in_w,
                first,
                ..
            } => (kh, sw, in_w, first),
            _ => (0, 1, 0, 0),
        };
        let mut windows = [_mm512_setzero_si512(); 4];
        for (p, w) in windows.iter_mut().enumerate() {
            let idx = &st.windows[64 * p..64 * (p + 1)];
            // SAFETY: `idx` is 64 bytes.
            *w = unsafe { _mm512_loadu_si512(idx.as_ptr().cast()) };
        }
        // Scratch row: input column `ix` at `ix - first`; zeros around it.
        let len = (-first).max(0) as usize + in_w + 64 * st.width.div_ceil(64) / sw + 128;
        Deconv {
            st,
            tail: Tail::new(&st.requant),
            windows,
            scratch: vec![0u8; kh * len],
            len,
        }
    }

    /// Output row `oy` of channel `c`, stored at row `y_out` of `out`.
    ///
    /// # Safety
    /// See [`run`].
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
    unsafe fn row(&mut self, x: Plane, c: usize, oy: usize, out: Plane, y_out: usize) {
        let st = self.st;
        let Kind::Deconv {
            kh,
            stride: (sh, sw),
            pad_top,
            in_h,
            in_w,
            first,
        } = st.kind
        else {
            return;
        };
        let (lead, skip) = ((-first).max(0) as usize, first.max(0) as usize);
        let len = self.len;
        let k = self.tail.channel(c);
        let mut rows = [0usize; 16];
        let mut n = 0;
        for ky in 0..kh {
            let t = oy + pad_top;
            if t < ky || !(t - ky).is_multiple_of(sh) || (t - ky) / sh >= in_h {
                continue;
            }
            let iy = (t - ky) / sh;
            let slot = &mut self.scratch[ky * len..(ky + 1) * len];
            if skip < in_w {
                let at = x.offset(c, iy, skip);
                // SAFETY: input row (c, iy) holds `in_w` bytes from column 0.
                let src = unsafe { std::slice::from_raw_parts(x.base.add(at), in_w - skip) };
                slot[lead..lead + in_w - skip].copy_from_slice(src);
            }
            rows[n] = ky;
            n += 1;
        }
        for chunk in 0..st.width.div_ceil(64) {
            let x0 = 64 * chunk;
            let mut acc = [_mm512_setzero_si512(); 4];
            for &ky in &rows[..n] {
                let at = ky * len + x0 / sw;
                let bytes = &self.scratch[at..at + 128];
                let w = &st.weights[(c * kh + ky) * 16..(c * kh + ky + 1) * 16];
                // SAFETY: `bytes` is 128 bytes, `w` 16 lanes of 4 bytes.
                let (a, b, wv) = unsafe {
                    (
                        _mm512_loadu_si512(bytes.as_ptr().cast()),
                        _mm512_loadu_si512(bytes.as_ptr().add(64).cast()),
                        _mm512_loadu_si512(w.as_ptr().cast()),
                    )
                };
                for (p, acc_p) in acc.iter_mut().enumerate() {
                    let win = _mm512_permutex2var_epi8(a, self.windows[p], b);
                    *acc_p = _mm512_dpbusd_epi32(*acc_p, win, wv);
                }
            }
            let bytes = self.tail.apply4(&acc, k);
            let at = out.offset(c, y_out, x0);
            // SAFETY: pixel (c, y_out, x0) is inside the output; the mask
            // keeps the store within the row's width.
            unsafe {
                _mm512_mask_storeu_epi8(out.base.add(at).cast(), lanes(st.width - x0), bytes)
            };
        }
    }
}
