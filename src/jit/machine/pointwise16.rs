//! The AVX-512 convolution of operands wider than u8 x i8 (`native::wide16`
//! plans it: 1x1, or KxK with column stride 1): each input row a job
//! reads is widened once into a slot, every pair of input channels as
//! 16-bit pairs (channel `2p` in the low half of each dword, `2p + 1` in
//! the high half; zero outside the input), and read from there by every
//! tap and output row (a 3x3 window reads each row 9 times). Per output
//! row, 64 pixels at a time: register blocks of up to six output
//! channels x `PV` pixel vectors, one `vpdpwssd` per tap, pair, vector
//! and channel (the pair's weights broadcast), then the stage's tail and
//! masked stores of 8-, 16- or 32-bit results.
//!
//! Memory: loads of the input are masked to its own rows and columns (no
//! halo, no spare bytes), stores to the output row's pixels.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

#[cfg(target_arch = "x86_64")]
use super::tail_avx512::Tail;
#[cfg(target_arch = "x86_64")]
use crate::jit::native::{Kind, NativeStage};

/// Output channels per register block.
const BLOCK: usize = 6;

/// Rows `lo..hi` of the wide-operand stage `st`.
///
/// # Safety
/// As `avx512::run`: `x` and `out` are the stage's buffers with their
/// planned sizes, `lo <= hi <= st.height()`, the host has AVX-512 F, BW,
/// VBMI and VNNI, and `NativeStage::fits` accepted the stage (the input's
/// rows of `in_w` elements of every input channel inside `x`, rows of
/// `width` elements of every output channel inside `out`).
#[cfg(target_arch = "x86_64")]
#[inline(never)]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
pub(super) unsafe fn pointwise16(
    st: &NativeStage,
    x: *const u8,
    out: *mut u8,
    lo: usize,
    hi: usize,
) {
    let Kind::Wide16 { pairs, window, .. } = st.kind() else {
        return;
    };
    let pairs = *pairs;
    let tail = Tail::new(st.requant());
    let (w, c) = (st.width(), st.channels());
    let or = st.out();
    let weights = st.weights();
    // Per tap and pair (`items` in all), the 4 vectors of widened pairs.
    let items = window.taps.len() * pairs;
    let mut pix: Vec<*const i32> = vec![std::ptr::null(); items.max(1)];
    // Each input row read is widened once into a slot (its `pairs` rows of
    // `cols` dwords from input column `first`), for every tap and output
    // row that reads it.
    let dxs = window.taps.iter().map(|t| t.1);
    let first = dxs.clone().min().unwrap_or(0);
    let reach = (dxs.max().unwrap_or(0) - first) as usize;
    let cols = (w.div_ceil(16) * 16 + reach).next_multiple_of(16);
    let mut slots = RowSlots::new(&window.taps, pairs * cols);
    let Some(source) = Source::of(st, x) else {
        return;
    };
    for oy in lo..hi {
        slots.load((oy * window.stride_h) as i64, &mut |iy, row| {
            // SAFETY: the caller's guarantees on `x`; this function's
            // features.
            unsafe { widen_row(&source, iy, (first, cols), row) }
        });
        let mut x0 = 0;
        while x0 < w {
            let pv = (w - x0).div_ceil(16).min(4);
            for (t, &(_, dx)) in window.taps.iter().enumerate() {
                let row = slots.row(t);
                for p in 0..pairs {
                    // Columns `x0 + dx ..` of pair `p`: `16 pv` dwords
                    // inside the slot (`cols` covers the last vector's
                    // columns at the widest tap).
                    let at = p * cols + (x0 as i64 + dx - first) as usize;
                    pix[t * pairs + p] = row[at..at + 16 * pv].as_ptr();
                }
            }
            let mut o = 0;
            while o < c {
                let nb = (c - o).min(BLOCK);
                let dst = Dst {
                    out,
                    at: or.origin + o * or.plane + oy * or.stride + x0,
                    plane: or.plane,
                    mask: if w - x0 >= 64 {
                        u64::MAX
                    } else {
                        (1u64 << (w - x0)) - 1
                    },
                    bytes: st.out_bytes(),
                };
                let wt = &weights[o * items..(o + nb) * items];
                // SAFETY: the caller's guarantees; `dst` addresses output
                // channels `o..o + nb`, pixels `x0..` of row `oy`.
                unsafe { dispatch(pv, nb, &tail, &pix, wt, items, &dst, o) };
                o += nb;
            }
            x0 += 64;
        }
    }
}

/// The widened input rows one job keeps: a slot per distinct tap row
/// (`dys`), each holding the input row its tag names. An output row's rows
/// are found by tag; a missing one is widened into a slot no row of this
/// output row holds (there is one: as many slots as distinct tap rows).
/// Shared with `pointwise16_avx2`.
pub(super) struct RowSlots {
    /// The distinct tap rows, and per tap its index among them.
    dys: Vec<i64>,
    tap_row: Vec<usize>,
    tags: Vec<i64>,
    rows: Vec<Vec<i32>>,
    /// Per distinct tap row, the slot holding it for the current output
    /// row.
    slot_of: Vec<usize>,
}

impl RowSlots {
    /// Slots of `len` dwords for a window of `taps` (`(dy, dx)`).
    pub(super) fn new(taps: &[(i64, i64)], len: usize) -> RowSlots {
        let mut dys: Vec<i64> = taps.iter().map(|t| t.0).collect();
        dys.sort_unstable();
        dys.dedup();
        let tap_row = taps
            .iter()
            .map(|t| dys.binary_search(&t.0).unwrap_or(0))
            .collect();
        let n = dys.len();
        assert!(n <= 128, "more tap rows than slots can be tracked");
        RowSlots {
            dys,
            tap_row,
            tags: vec![i64::MIN; n],
            rows: vec![vec![0; len]; n],
            slot_of: vec![0; n],
        }
    }

    /// Makes input rows `top + dy` (every tap row `dy`) present, widening
    /// each missing one with `widen(row, slot)`.
    pub(super) fn load(&mut self, top: i64, widen: &mut dyn FnMut(i64, &mut [i32])) {
        let n = self.dys.len();
        // Slots holding a row of this output row (at most 121 tap rows).
        let mut held = 0u128;
        for k in 0..n {
            let want = top + self.dys[k];
            self.slot_of[k] = usize::MAX;
            if let Some(s) = self.tags.iter().position(|&t| t == want) {
                self.slot_of[k] = s;
                held |= 1 << s;
            }
        }
        for k in 0..n {
            if self.slot_of[k] != usize::MAX {
                continue;
            }
            let want = top + self.dys[k];
            let s = (!held).trailing_zeros() as usize;
            widen(want, &mut self.rows[s]);
            self.tags[s] = want;
            self.slot_of[k] = s;
            held |= 1 << s;
        }
    }

    /// The widened row tap `t` reads for the current output row.
    pub(super) fn row(&self, t: usize) -> &[i32] {
        &self.rows[self.slot_of[self.tap_row[t]]]
    }
}

/// The input of a [`Kind::Wide16`] stage, as the `widen_row` of both
/// kernels reads it.
#[cfg(target_arch = "x86_64")]
pub(super) struct Source {
    pub x: *const u8,
    pub origin: usize,
    pub plane: usize,
    pub stride: usize,
    pub cin: usize,
    pub in_bytes: usize,
    pub in_signed: bool,
    pub in_h: i64,
    pub in_w: i64,
}

#[cfg(target_arch = "x86_64")]
impl Source {
    /// The input of stage `st` (none for another kind) at `x`.
    pub(super) fn of(st: &NativeStage, x: *const u8) -> Option<Source> {
        let Kind::Wide16 {
            cin,
            in_bytes,
            in_signed,
            window,
            ..
        } = st.kind()
        else {
            return None;
        };
        let xr = st.x();
        Some(Source {
            x,
            origin: xr.origin,
            plane: xr.plane,
            stride: xr.stride,
            cin: *cin,
            in_bytes: *in_bytes,
            in_signed: *in_signed,
            in_h: window.in_h as i64,
            in_w: window.in_w as i64,
        })
    }
}

/// Input row `iy` of every pair of channels widened into `dst`: pair `p`'s
/// `cols` dwords from input column `first`, channel `2 p` in the low half
/// of each dword and `2 p + 1` in the high half, zero outside the input
/// (rows and columns) and past `cin`.
///
/// # Safety
/// The input's rows `0..in_h` of `in_w` elements of every channel are
/// inside the buffer at `src.x` (`fits`); the host has AVX-512 F and BW.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
unsafe fn widen_row(src: &Source, iy: i64, (first, cols): (i64, usize), dst: &mut [i32]) {
    for (p, pair) in dst.chunks_exact_mut(cols).enumerate() {
        for (k, lanes) in pair.chunks_exact_mut(16).enumerate() {
            // Lanes `lo_i..hi_i` read input columns `c0 + i` inside the
            // row; the others (and rows outside the input) are zero.
            let c0 = first + 16 * k as i64;
            let (lo_i, hi_i) = ((-c0).clamp(0, 16), (src.in_w - c0).clamp(0, 16));
            let m = if (0..src.in_h).contains(&iy) && hi_i > lo_i {
                ((1u64 << hi_i) - 1) & !((1u64 << lo_i) - 1)
            } else {
                0
            };
            let load = |ch: usize| -> __m512i {
                if ch >= src.cin || m == 0 {
                    return _mm512_setzero_si512();
                }
                let at = (src.origin + ch * src.plane) as i64 + iy * src.stride as i64 + c0;
                let ptr = src.x.wrapping_offset((src.in_bytes as i64 * at) as isize);
                // SAFETY: the lanes of `m` read columns `0..in_w` of row
                // `iy` (`0..in_h`) of channel `ch`, inside the buffer (the
                // caller's guarantee); masked-off lanes are not read.
                unsafe {
                    if src.in_bytes == 2 {
                        let v = _mm512_maskz_loadu_epi16(m as u32, ptr.cast());
                        _mm512_cvtepu16_epi32(_mm512_castsi512_si256(v))
                    } else {
                        let v = _mm512_maskz_loadu_epi8(m, ptr.cast());
                        let b = _mm512_castsi512_si128(v);
                        if src.in_signed {
                            _mm512_cvtepi8_epi32(b)
                        } else {
                            _mm512_cvtepu8_epi32(b)
                        }
                    }
                }
            };
            let low = _mm512_and_si512(load(2 * p), _mm512_set1_epi32(0xFFFF));
            let high = _mm512_slli_epi32::<16>(load(2 * p + 1));
            // SAFETY: a store of the 16 dwords of `lanes`.
            unsafe { _mm512_storeu_si512(lanes.as_mut_ptr().cast(), _mm512_or_si512(low, high)) };
        }
    }
}

/// Where a block stores: element `at` of channel `o` (then `plane`
/// elements a channel), the pixels of `mask`, `bytes` bytes an element.
#[cfg(target_arch = "x86_64")]
struct Dst {
    out: *mut u8,
    at: usize,
    plane: usize,
    mask: u64,
    bytes: usize,
}

/// [`block`] for the runtime `pv` (pixel vectors) and `n` (channels).
///
/// # Safety
/// See [`block`].
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
unsafe fn dispatch(
    pv: usize,
    n: usize,
    tail: &Tail,
    pix: &[*const i32],
    w: &[i32],
    pairs: usize,
    dst: &Dst,
    o: usize,
) {
    macro_rules! pick {
        ($p:literal; $($n:literal)*) => {
            match n {
                // SAFETY: the caller's guarantees.
                $($n => unsafe { block::<$p, $n>(tail, pix, w, pairs, dst, o) },)*
                _ => {}
            }
        };
    }
    match pv {
        1 => pick!(1; 1 2 3 4 5 6),
        2 => pick!(2; 1 2 3 4 5 6),
        3 => pick!(3; 1 2 3 4 5 6),
        _ => pick!(4; 1 2 3 4 5 6),
    }
}

/// `acc + a b` in 16-bit pairs: one `vpdpwssd`. The intrinsic is not
/// that: on a target CPU it does not know to be fast at it (any built
/// without `-C target-cpu`), LLVM splits it into `vpmaddwd` + `vpaddd`,
/// twice the instructions on the ports the products run on (measured: a
/// 3x3 convolution of 16-bit inputs at 85 GMAC/s with the split).
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f,avx512vnni")]
fn dpwssd(acc: __m512i, a: __m512i, b: __m512i) -> __m512i {
    let mut acc = acc;
    // SAFETY: one instruction on registers only (no memory, no stack, no
    // flags); this function is compiled with AVX-512 VNNI.
    unsafe {
        std::arch::asm!(
            "vpdpwssd {acc}, {a}, {b}",
            acc = inout(zmm_reg) acc,
            a = in(zmm_reg) a,
            b = in(zmm_reg) b,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    acc
}

/// Output channels `o..o + N` of `16 PV` pixels: one `vpdpwssd` per pair,
/// vector and channel, then the tail and a masked store per channel.
///
/// # Safety
/// Each of `pix` points to `16 PV` dwords (the widened pairs of a tap
/// and pair of channels), `w` holds `N * pairs` weights; `dst` may
/// take the masked stores of channels `o..o + N`.
#[cfg(target_arch = "x86_64")]
#[inline(never)]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
unsafe fn block<const PV: usize, const N: usize>(
    tail: &Tail,
    pix: &[*const i32],
    w: &[i32],
    pairs: usize,
    dst: &Dst,
    o: usize,
) {
    let mut acc = [[_mm512_setzero_si512(); PV]; N];
    let wp = w.as_ptr();
    for (p, &from) in pix.iter().enumerate().take(pairs.min(w.len() / N.max(1))) {
        // SAFETY: `from` points to `16 PV` dwords (the caller's
        // guarantee), `j pairs + p < w.len()`.
        let a: [__m512i; PV] =
            std::array::from_fn(|v| unsafe { _mm512_loadu_si512(from.add(16 * v).cast()) });
        for (j, acc_j) in acc.iter_mut().enumerate() {
            let wv = _mm512_set1_epi32(unsafe { *wp.add(j * pairs + p) });
            for (acc_v, &a_v) in acc_j.iter_mut().zip(&a) {
                *acc_v = dpwssd(*acc_v, a_v, wv);
            }
        }
    }
    // SAFETY: the caller's guarantee on `dst`.
    unsafe { finish::<PV, N>(&acc, tail, dst, o) }
}

/// The tail and the stores of a block's accumulators (out of line: see
/// `conv_avx512::finish`).
///
/// # Safety
/// As [`block`].
#[cfg(target_arch = "x86_64")]
#[inline(never)]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
unsafe fn finish<const PV: usize, const N: usize>(
    acc: &[[__m512i; PV]; N],
    tail: &Tail,
    dst: &Dst,
    o: usize,
) {
    let eb = dst.bytes;
    for (j, acc_j) in acc.iter().enumerate() {
        let k = tail.channel(o + j);
        let at = dst.out.wrapping_add(eb * (dst.at + j * dst.plane));
        if eb == 1 {
            let mut q = [_mm_setzero_si128(); 4];
            for (q, &a) in q.iter_mut().zip(acc_j) {
                *q = tail.apply(a, k);
            }
            let v = _mm512_castsi128_si512(q[0]);
            let v = _mm512_inserti32x4::<1>(v, q[1]);
            let v = _mm512_inserti32x4::<2>(v, q[2]);
            let v = _mm512_inserti32x4::<3>(v, q[3]);
            // SAFETY: the caller's guarantee (pixels of the mask).
            unsafe { _mm512_mask_storeu_epi8(at.cast(), dst.mask, v) };
            continue;
        }
        for (v, &a) in acc_j.iter().enumerate() {
            let r = tail.result(a, k);
            let m = (dst.mask >> (16 * v)) as u16;
            let at = at.wrapping_add(16 * v * eb);
            // SAFETY: the caller's guarantee (pixels `16 v ..` of the mask).
            if eb == 2 {
                unsafe { _mm512_mask_cvtepi32_storeu_epi16(at.cast(), m, r) };
            } else {
                unsafe { _mm512_mask_storeu_epi32(at.cast(), m, r) };
            }
        }
    }
}
