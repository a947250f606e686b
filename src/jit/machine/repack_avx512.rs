//! The AVX-512 repacking of a direct convolution's input rows into the
//! window's quad rows (`native::conv` explains the layout): one dword per
//! input column and quad of four (channel, column phase, shift) sources,
//! `Direct::cols` dwords a quad row, so that one `vpdpbusd` multiplies 16
//! pixels' quads by a broadcast dword of four weights.
//!
//! Plain convolutions whose quads are four consecutive channels at one
//! column phase (`quad_map`) take the fast paths: `repack_pairs` (column
//! strides 1 and 2) and `repack_quads` (3 and 4) read each channel quad's
//! row once for all its phases, through the row pointers and load masks of
//! [`QuadInput`], computed once per call; every other form splits each
//! channel's row into its column phases first (`repack`).
//!
//! Memory: input rows are read with masked loads that stop at the end of
//! the row's halo (`Direct::readable`), so no load leaves the buffer; the
//! window's slots are written whole (`Direct::cols` dwords, a multiple of
//! 16, per quad row). No software prefetch: the input rows are in L2 or
//! streamed by the hardware prefetchers; prefetching the next rows into L1
//! cost 1-3% on 3x3 convolutions and 20% on a 32 -> 4 one (Emerald Rapids,
//! inputs of 0.5-6 MB: the dot loop evicts the lines again).

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

#[cfg(target_arch = "x86_64")]
use super::avx512::lanes;
#[cfg(target_arch = "x86_64")]
use crate::jit::native::{Direct, NativeStage};
/// The window rows repacked for one call: `ring` slots of `quads * cols`
/// dwords, each tagged with the input row it holds.
#[cfg(target_arch = "x86_64")]
pub(super) struct Window {
    /// The slots, from a line boundary (every slot is whole lines: its
    /// 64-byte stores and the kernel's loads at shift 0 split none).
    data: Vec<super::Line>,
    pub tags: Vec<i64>,
    /// Bytes of one slot.
    pub slot: usize,
    /// Phase rows of the current input row (strides above 1).
    pub phases: Vec<u8>,
    /// The most input rows an output row reads.
    pub rows_max: usize,
}

#[cfg(target_arch = "x86_64")]
impl Window {
    /// The first byte of the slots.
    pub(super) fn bytes(&self) -> *const u8 {
        self.data.as_ptr().cast()
    }

    /// The first byte of the slots, to write.
    pub(super) fn bytes_mut(&mut self) -> *mut u8 {
        self.data.as_mut_ptr().cast()
    }

    /// Makes the window hold the input rows output row `oy` reads:
    /// `repack(iy, slot, window)` for each row `iy` it does not hold yet
    /// (into ring slot `slot`), then `rows` points at the slot of each (in
    /// `row_lists` order). Returns the row phase of `oy`.
    pub(super) fn fill(
        &mut self,
        d: &Direct,
        oy: usize,
        rows: &mut [*const u8],
        mut repack: impl FnMut(i64, usize, &mut Window),
    ) -> usize {
        let ring = self.tags.len() as i64;
        let (ry, base) = d.row_phase(oy);
        let list = &d.row_lists[ry];
        for &r in list {
            let iy = base + r;
            let slot = iy.rem_euclid(ring) as usize;
            if self.tags[slot] != iy {
                repack(iy, slot, self);
                self.tags[slot] = iy;
            }
        }
        for (row, &r) in rows.iter_mut().zip(list) {
            let slot = (base + r).rem_euclid(ring) as usize;
            *row = self.bytes().wrapping_add(slot * self.slot);
        }
        ry
    }

    /// The window of one output row, with phase rows for column strides
    /// above 1 (the AVX2 kernel's repacking).
    pub(super) fn new(d: &Direct) -> Window {
        Window::with_rows(d, 1, d.stride_w > 1)
    }

    /// A window for `rows` consecutive output rows at once (one row phase):
    /// the span of their input rows; `phases`: with phase rows for the
    /// current input row (strides above 1 split by [`repack`]).
    pub(super) fn with_rows(d: &Direct, rows: usize, phases: bool) -> Window {
        let ring = d.ring() + (rows - 1) * d.row_step;
        let quads = d.groups * d.quads.len();
        let slot = quads * d.cols * 4;
        let cin = d.groups * d.cin_g;
        let phases = if phases {
            vec![0u8; cin * d.stride_w * d.phase_len]
        } else {
            vec![]
        };
        Window {
            // 64 spare bytes: the last pixel vector of a row may start at
            // the last dword of a slot.
            data: vec![super::Line::ZERO; (ring * slot + 64).div_ceil(64)],
            tags: vec![i64::MIN; ring],
            slot,
            phases,
            rows_max: d.row_lists.iter().map(Vec::len).max().unwrap_or(0),
        }
    }
}

/// Repacks the input rows output row `oy` reads that the window does not
/// hold yet, and points `rows` at the slot of each (in `row_lists`
/// order); returns the row phase of `oy`.
///
/// # Safety
/// As `conv_avx512::direct`: `oy < st.height`, `x` is the stage's input,
/// `input` is `QuadInput::new(st, d, x)`, and `rows` has `win.rows_max`
/// entries.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
pub(super) unsafe fn window_rows(
    st: &NativeStage,
    d: &Direct,
    (x, input): (*const u8, &Option<QuadInput>),
    oy: usize,
    win: &mut Window,
    rows: &mut [*const u8],
) -> usize {
    win.fill(d, oy, rows, |iy, slot, win| {
        // SAFETY: row `iy` of every channel is inside the input's
        // halo-padded buffer (`plan_direct` checked the rows).
        unsafe {
            match (input, d.stride_w) {
                (Some(q), 1) => repack_pairs::<1>(d, q, iy, slot, win),
                (Some(q), 2) => repack_pairs::<2>(d, q, iy, slot, win),
                (Some(q), 3) => repack_quads::<3>(d, q, iy, slot, win),
                (Some(q), 4) => repack_quads::<4>(d, q, iy, slot, win),
                _ => repack(st, d, x, iy, slot, win),
            }
        }
    })
}

/// The input rows of a convolution whose quads are channel quads
/// ([`quad_map`]), resolved once per call: per input row, the fast
/// repackers only add the row's offset to each channel's pointer.
#[cfg(target_arch = "x86_64")]
pub(super) struct QuadInput {
    /// Per channel quad of a group and column phase, the quad row it fills.
    map: Vec<[Option<usize>; 4]>,
    /// Per quad row, the dwords the kernel reads of it
    /// (`Direct::quad_cols`): at stride 2 and 64-pixel rows, phase 1 needs
    /// 64 dwords where phase 0 needs 65 (80 repacked).
    cols: Vec<usize>,
    /// Per group and channel quad (`g * map.len() + g4`): each channel's
    /// byte `col0` of input row 0 (the pointer itself may lie outside the
    /// buffer) and its row stride; a channel past the group's reads
    /// `blank`, with stride 0.
    rows: Vec<[(*const u8, isize); 4]>,
    /// `Direct::readable.1` bytes that read as zero once flipped (owned
    /// here: `rows` points into it).
    _blank: Vec<u8>,
}

#[cfg(target_arch = "x86_64")]
impl QuadInput {
    /// None when the quads are not channel quads (see [`quad_map`]).
    pub(super) fn new(st: &NativeStage, d: &Direct, x: *const u8) -> Option<QuadInput> {
        let map = quad_map(d)?;
        let hi = d.readable.1;
        let blank = vec![if d.flip { 0x80 } else { 0 }; hi];
        let stride = st.x().stride as isize;
        let mut rows = Vec::with_capacity(d.groups * map.len());
        for g in 0..d.groups {
            for g4 in 0..map.len() {
                rows.push(std::array::from_fn(|j| {
                    let c = 4 * g4 + j;
                    if c < d.cin_g {
                        (input_row(st, d, x, 0, g * d.cin_g + c), stride)
                    } else {
                        (blank.as_ptr(), 0)
                    }
                }));
            }
        }
        Some(QuadInput {
            map,
            cols: d.quad_cols(),
            rows,
            _blank: blank,
        })
    }

    /// The four channels' rows of quad `i` (of [`QuadInput::rows`]) at
    /// input row `iy`, `Direct::readable.1` bytes readable from each.
    fn at(&self, i: usize, iy: i64) -> [*const u8; 4] {
        self.rows[i].map(|(p, stride)| p.wrapping_offset(stride * iy as isize))
    }
}

/// The 64 bytes at `at` of each of `rows`, of which only those before
/// `len` are read (zero after).
///
/// # Safety
/// Each row holds `len` readable bytes.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
unsafe fn load_rows(rows: [*const u8; 4], len: usize, at: usize) -> [__m512i; 4] {
    if at + 64 <= len {
        // SAFETY: 64 readable bytes from `r + at`.
        rows.map(|r| unsafe { _mm512_loadu_si512(r.add(at).cast()) })
    } else if at < len {
        let mask = lanes(len - at);
        // SAFETY: the mask keeps the loads within the readable bytes.
        rows.map(|r| unsafe { _mm512_maskz_loadu_epi8(mask, r.add(at).cast()) })
    } else {
        [_mm512_setzero_si512(); 4]
    }
}

/// Repacks input row `iy` (of every channel) into window slot `slot`.
///
/// # Safety
/// Row `iy` of every input channel lies in the input's buffer, from padded
/// column 0 for `d.row_bytes` bytes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
unsafe fn repack(
    st: &NativeStage,
    d: &Direct,
    x: *const u8,
    iy: i64,
    slot: usize,
    win: &mut Window,
) {
    let (sw, phase_len) = (d.stride_w, d.phase_len);
    let split = |row: *const u8, hi: usize, phases: &mut [u8]| {
        // SAFETY: `row` has `hi` readable bytes (`phase_rows`); `phases` is
        // `sw` runs of `phase_len` bytes.
        unsafe { split_phases(row, hi, sw, phase_len, phases) }
    };
    // SAFETY: the caller's guarantee on row `iy`.
    let phase_rows = unsafe { phase_rows(st, d, (x, iy), win, split) };
    // Signed inputs as `x + 128` (see `Direct::flip`).
    let flip = _mm512_set1_epi8(if d.flip { -128 } else { 0 });
    let base = slot * win.slot;
    for g in 0..d.groups {
        for (q, quad) in d.quads.iter().enumerate() {
            let src = quad_sources(d, &phase_rows, g, quad);
            let dst = base + ((g * d.quads.len() + q) * d.cols) * 4;
            let mut u0 = 0;
            while u0 < d.cols {
                // SAFETY: bytes `lo..hi` readable from `p`.
                let load = |(p, lo, hi): (*const u8, usize, usize)| unsafe {
                    _mm512_xor_si512(load_range(p, lo, hi, u0), flip)
                };
                let v = interleave(load(src[0]), load(src[1]), load(src[2]), load(src[3]));
                for (k, v) in v.iter().enumerate().take((d.cols - u0).div_ceil(16)) {
                    let at = dst + 4 * u0 + 64 * k;
                    // SAFETY: `at + 64 <= base + win.slot` (u0 + 16 k < cols,
                    // a multiple of 16).
                    unsafe { _mm512_storeu_si512(win.bytes_mut().add(at).cast(), *v) };
                }
                u0 += 64;
            }
        }
    }
}

/// The rows the generic repacking reads for input row `iy`, per input
/// channel and column phase `c * stride_w + p`: a pointer and the bytes
/// `lo..hi` readable from it. At column strides above 1, `split(row, hi,
/// phases)` first writes the `stride_w` phase rows (`phase_len` bytes each)
/// of a channel's row (`hi` readable bytes) into the window's phase rows.
///
/// # Safety
/// Row `iy` of every input channel lies in the input's buffer, bytes
/// `Direct::readable` from its byte `col0`.
#[cfg(target_arch = "x86_64")]
pub(super) unsafe fn phase_rows(
    st: &NativeStage,
    d: &Direct,
    (x, iy): (*const u8, i64),
    win: &mut Window,
    mut split: impl FnMut(*const u8, usize, &mut [u8]),
) -> Vec<(*const u8, usize, usize)> {
    let (cin, sw) = (d.groups * d.cin_g, d.stride_w);
    let (lo, hi) = d.readable;
    // Byte `col0` of row `iy` of channel `c`; bytes `lo..hi` from it are
    // readable (the pointer itself may lie before the buffer).
    let row = |c: usize| input_row(st, d, x, iy, c);
    if sw == 1 {
        return (0..cin).map(|c| (row(c), lo, hi)).collect();
    }
    let mut rows = Vec::with_capacity(cin * sw);
    for c in 0..cin {
        // (`lo` is 0 for strided convolutions.)
        let at = c * sw * d.phase_len;
        split(row(c), hi, &mut win.phases[at..at + sw * d.phase_len]);
        for p in 0..sw {
            let at = (c * sw + p) * d.phase_len;
            rows.push((win.phases[at..].as_ptr(), 0, d.phase_len));
        }
    }
    rows
}

/// The four sources of `quad` in group `g`, from [`phase_rows`]: each its
/// channel's phase row shifted by its offset, with the readable bytes
/// relative to the shifted pointer; `(null, 0, 0)` (nothing readable) for
/// an absent source.
#[cfg(target_arch = "x86_64")]
pub(super) fn quad_sources(
    d: &Direct,
    phase_rows: &[(*const u8, usize, usize)],
    g: usize,
    quad: &[Option<crate::jit::native::Source>; 4],
) -> [(*const u8, usize, usize); 4] {
    quad.map(|s| match s {
        Some(s) => {
            let (p, lo, hi) = phase_rows[(g * d.cin_g + s.channel) * d.stride_w + s.phase];
            (
                p.wrapping_add(s.offset),
                lo.saturating_sub(s.offset),
                hi.saturating_sub(s.offset),
            )
        }
        None => (std::ptr::null(), 0, 0),
    })
}

/// Byte `col0` of row `iy` of input channel `c` (the pointer itself may lie
/// before the buffer; bytes `Direct::readable` from it are readable).
#[cfg(target_arch = "x86_64")]
pub(super) fn input_row(
    st: &NativeStage,
    d: &Direct,
    x: *const u8,
    iy: i64,
    c: usize,
) -> *const u8 {
    let at = (st.x().origin + c * st.x().plane) as i64 + iy * st.x().stride as i64 + d.col0;
    x.wrapping_offset(at as isize)
}

/// Per channel quad `g4` of a group and column phase `p`, the index of the
/// quad holding channels `4 g4 .. 4 g4 + 3` at phase `p`, when every quad
/// is such a channel quad (groups of at least four channels, or 1-wide
/// kernels) and the rows are readable from their first byte (plain
/// convolutions): [`repack_quads`] then interleaves each channel quad once
/// for all its phases.
#[cfg(target_arch = "x86_64")]
pub(super) fn quad_map(d: &Direct) -> Option<Vec<[Option<usize>; 4]>> {
    if d.readable.0 != 0 || !(1..=4).contains(&d.stride_w) {
        return None;
    }
    let mut map = vec![[None; 4]; d.cin_g.div_ceil(4)];
    for (q, quad) in d.quads.iter().enumerate() {
        let first = quad[0]?;
        let (g4, p) = (first.channel / 4, first.phase);
        let expected = std::array::from_fn(|j| {
            let channel = 4 * g4 + j;
            (channel < d.cin_g).then_some(crate::jit::native::Source {
                channel,
                phase: p,
                offset: 0,
            })
        });
        if *quad != expected || first.channel % 4 != 0 || p >= d.stride_w {
            return None;
        }
        let spot = &mut map[g4][p];
        if spot.is_some() {
            return None;
        }
        *spot = Some(q);
    }
    Some(map)
}

/// [`repack`] for quads of four channels at column stride `S` (see
/// [`quad_map`]): per channel quad, 64 S input columns are interleaved
/// into dwords once, then each phase's dwords `S u + p` are picked out by
/// `vpermt2d` and stored in the phase's quad row.
///
/// # Safety
/// As [`repack`]; `input` is `QuadInput::new` of the stage, `d` and the
/// input, and `S` is `d.stride_w`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
unsafe fn repack_quads<const S: usize>(
    d: &Direct,
    input: &QuadInput,
    iy: i64,
    slot: usize,
    win: &mut Window,
) {
    let hi = d.readable.1;
    let flip = _mm512_set1_epi8(if d.flip { -128 } else { 0 });
    // Per phase: dword indices `(S i + p) mod 32` into a pair of vectors,
    // and the lanes taken from the second pair (`S i + p >= 32`).
    let index = |p: usize| {
        let idx: [i32; 16] = std::array::from_fn(|i| ((S * i + p) & 31) as i32);
        let high = (0..16).fold(0u16, |m, i| m | (u16::from(S * i + p >= 32) << i));
        // SAFETY: `idx` is 64 bytes.
        (unsafe { _mm512_loadu_si512(idx.as_ptr().cast()) }, high)
    };
    let mut picks = [(_mm512_setzero_si512(), 0u16); 4];
    for (p, pick) in picks.iter_mut().enumerate() {
        *pick = index(p);
    }
    let base = slot * win.slot;
    let data = win.bytes_mut();
    for g in 0..d.groups {
        for (g4, phases) in input.map.iter().enumerate() {
            let rows = input.at(g * input.map.len() + g4, iy);
            let mut u0 = 0;
            while u0 < d.cols {
                let vectors = (d.cols - u0).div_ceil(16).min(4);
                // Dwords of input columns `S u0 ..`, 16 a vector (zero past
                // the readable bytes and for absent channels); the last
                // block loads only what its `vectors` read.
                let needed = S * (vectors - 1) + if S > 2 { 4 } else { S };
                let mut v = [_mm512_setzero_si512(); 16];
                for m in (0..S).take_while(|m| 4 * m < needed) {
                    // SAFETY: `hi` readable bytes from each row (`lo` is 0).
                    let l = unsafe { load_rows(rows, hi, S * u0 + 64 * m) };
                    let l = l.map(|v| _mm512_xor_si512(v, flip));
                    let q = interleave(l[0], l[1], l[2], l[3]);
                    v[4 * m..4 * m + 4].copy_from_slice(&q);
                }
                for (p, quad) in phases.iter().enumerate().take(S) {
                    let Some(q) = quad.filter(|&q| u0 < input.cols[q]) else {
                        continue;
                    };
                    let (idx, high) = picks[p];
                    let dst = base + ((g * d.quads.len() + q) * d.cols + u0) * 4;
                    for k in 0..vectors {
                        let out = if S == 1 {
                            v[k]
                        } else {
                            let a = _mm512_permutex2var_epi32(v[S * k], idx, v[S * k + 1]);
                            if S > 2 {
                                let b = _mm512_permutex2var_epi32(v[S * k + 2], idx, v[S * k + 3]);
                                _mm512_mask_blend_epi32(high, a, b)
                            } else {
                                a
                            }
                        };
                        // SAFETY: `dst + 64 k + 64 <= base + win.slot`
                        // (u0 + 16 k < cols, a multiple of 16).
                        unsafe { _mm512_storeu_si512(data.add(dst + 64 * k).cast(), out) };
                    }
                }
                u0 += 64;
            }
        }
    }
}

/// The rows of channels `4 g4 .. 4 g4 + 3` of group `g` at input row `iy`
/// (`None` past the group's channels).
#[cfg(target_arch = "x86_64")]
pub(super) fn channel_rows(
    st: &NativeStage,
    d: &Direct,
    x: *const u8,
    iy: i64,
    g: usize,
    g4: usize,
) -> [Option<*const u8>; 4] {
    let mut rows = [None; 4];
    for (j, r) in rows.iter_mut().enumerate() {
        let c = 4 * g4 + j;
        if c < d.cin_g {
            *r = Some(input_row(st, d, x, iy, g * d.cin_g + c));
        }
    }
    rows
}

/// [`repack_quads`] for strides `S` of 1 and 2, in half the shuffles: one
/// `vpermb` of two channels' 64 loaded bytes picks the byte pairs of 32
/// pixels of a phase (pixel `i` is column `S i + p`, or `i + 32 h` at
/// stride 1), ordered so that `vpunpck{l,h}wd` of the two pairs' vectors
/// are the quads of pixels `0..16` and `16..32` in order.
///
/// # Safety
/// As [`repack_quads`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
unsafe fn repack_pairs<const S: usize>(
    d: &Direct,
    input: &QuadInput,
    iy: i64,
    slot: usize,
    win: &mut Window,
) {
    let hi = d.readable.1;
    let flip = _mm512_set1_epi8(if d.flip { -128 } else { 0 });
    // Per phase `p` and half `h` (pixels `32 h ..`): byte `t` of 128-bit
    // lane `l` is channel `t % 2` (second source from byte 64 on) of pixel
    // `4 l + w` (word `w < 4`) or `16 + 4 l + w - 4`.
    let mut picks = [[_mm512_setzero_si512(); 2]; 2];
    for (p, halves) in picks.iter_mut().enumerate().take(S) {
        for (h, pick) in halves.iter_mut().enumerate() {
            let mut idx = [0u8; 64];
            for (t, b) in idx.iter_mut().enumerate() {
                let (l, w, j) = (t / 16, t % 16 / 2, t % 2);
                let i = if w < 4 { 4 * l + w } else { 12 + 4 * l + w };
                let col = if S == 1 { 32 * h + i } else { S * i + p };
                *b = (col + 64 * j) as u8;
            }
            // SAFETY: `idx` is 64 bytes.
            *pick = unsafe { _mm512_loadu_si512(idx.as_ptr().cast()) };
        }
    }
    let base = slot * win.slot;
    let data = win.bytes_mut();
    for g in 0..d.groups {
        for (g4, phases) in input.map.iter().enumerate() {
            let rows = input.at(g * input.map.len() + g4, iy);
            let mut u0 = 0;
            while u0 < d.cols {
                let vectors = (d.cols - u0).div_ceil(16).min(4);
                let halves = vectors.div_ceil(2);
                // Per channel, the 64 bytes of half `h` (stride 2) or of
                // both halves (stride 1).
                let mut ld = [[_mm512_setzero_si512(); 2]; 4];
                for h in 0..if S == 1 { 1 } else { halves } {
                    // SAFETY: `hi` readable bytes from each row.
                    let l = unsafe { load_rows(rows, hi, S * u0 + 64 * h) };
                    for (ld, v) in ld.iter_mut().zip(l) {
                        ld[h] = _mm512_xor_si512(v, flip);
                    }
                }
                for (p, quad) in phases.iter().enumerate().take(S) {
                    let Some(q) = quad.filter(|&q| u0 < input.cols[q]) else {
                        continue;
                    };
                    let dst = base + ((g * d.quads.len() + q) * d.cols + u0) * 4;
                    for (h, &pick) in picks[p].iter().enumerate().take(halves) {
                        let src = if S == 1 { 0 } else { h };
                        let ab = _mm512_permutex2var_epi8(ld[0][src], pick, ld[1][src]);
                        let cd = _mm512_permutex2var_epi8(ld[2][src], pick, ld[3][src]);
                        let at = data.wrapping_add(dst + 128 * h);
                        // SAFETY: `dst + 64 k + 64 <= base + win.slot` for
                        // `k = 2 h (+ 1) < vectors` (u0 + 16 k < cols, a
                        // multiple of 16).
                        unsafe { _mm512_storeu_si512(at.cast(), _mm512_unpacklo_epi16(ab, cd)) };
                        if 2 * h + 1 < vectors {
                            let v = _mm512_unpackhi_epi16(ab, cd);
                            // SAFETY: as above.
                            unsafe { _mm512_storeu_si512(at.add(64).cast(), v) };
                        }
                    }
                }
                u0 += 64;
            }
        }
    }
}

/// The 64 bytes at `p + at`, of which only those in `p + lo .. p + hi` are
/// read (zero elsewhere).
///
/// # Safety
/// Bytes `lo..hi` from `p` are readable.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
unsafe fn load_range(p: *const u8, lo: usize, hi: usize, at: usize) -> __m512i {
    if lo <= at {
        // SAFETY: as `load_upto`, from `p` with `hi` readable bytes.
        return unsafe { load_upto(p, hi, at) };
    }
    if at + 64 <= lo || hi <= at {
        return _mm512_setzero_si512();
    }
    let mask = lanes(hi - at) & !lanes(lo - at);
    // SAFETY: the mask keeps the load within `lo..hi`.
    unsafe { _mm512_maskz_loadu_epi8(mask, p.wrapping_add(at).cast()) }
}

/// The 64 bytes at `p + at`, of which only those before `p + len` are
/// read (zero after): a plain load inside the row, a masked one at its end.
///
/// # Safety
/// `p` holds `len` readable bytes (`p + at` may lie past them).
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
unsafe fn load_upto(p: *const u8, len: usize, at: usize) -> __m512i {
    if at + 64 <= len {
        // SAFETY: 64 readable bytes from `p + at`.
        unsafe { _mm512_loadu_si512(p.add(at).cast()) }
    } else if at < len {
        // SAFETY: the mask keeps the load within the readable bytes.
        unsafe { _mm512_maskz_loadu_epi8(lanes(len - at), p.add(at).cast()) }
    } else {
        _mm512_setzero_si512()
    }
}

/// Four rows of 64 bytes as 64 dwords `[a_i b_i c_i d_i]`, in pixel order.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
fn interleave(a: __m512i, b: __m512i, c: __m512i, d: __m512i) -> [__m512i; 4] {
    let t0 = _mm512_unpacklo_epi8(a, b);
    let t1 = _mm512_unpackhi_epi8(a, b);
    let t2 = _mm512_unpacklo_epi8(c, d);
    let t3 = _mm512_unpackhi_epi8(c, d);
    // Lane q of r_k: pixels 16q + 4k .. 16q + 4k + 3.
    let r0 = _mm512_unpacklo_epi16(t0, t2);
    let r1 = _mm512_unpackhi_epi16(t0, t2);
    let r2 = _mm512_unpacklo_epi16(t1, t3);
    let r3 = _mm512_unpackhi_epi16(t1, t3);
    // A 4 x 4 transpose of 128-bit lanes.
    let u0 = _mm512_shuffle_i32x4::<0x44>(r0, r1);
    let u1 = _mm512_shuffle_i32x4::<0x44>(r2, r3);
    let u2 = _mm512_shuffle_i32x4::<0xEE>(r0, r1);
    let u3 = _mm512_shuffle_i32x4::<0xEE>(r2, r3);
    [
        _mm512_shuffle_i32x4::<0x88>(u0, u1),
        _mm512_shuffle_i32x4::<0xDD>(u0, u1),
        _mm512_shuffle_i32x4::<0x88>(u2, u3),
        _mm512_shuffle_i32x4::<0xDD>(u2, u3),
    ]
}

/// `dst[p * len + i] = src[i * s + p]` for every phase `p < s` (`s` in
/// 2..=4, `len` a multiple of 64) of the `have` readable bytes of `src`
/// (zero past them): each 64-byte block of the source is loaded once for
/// all its phases.
///
/// # Safety
/// `src` holds `have` readable bytes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
unsafe fn split_phases(src: *const u8, have: usize, s: usize, len: usize, dst: &mut [u8]) {
    // Per phase: indices into (v0, v1) and into (v2, v3), and which bytes
    // come from the second pair (source bytes 128 and on).
    let index = |p: usize| {
        let idx: [u8; 64] = std::array::from_fn(|i| ((s * i + p) & 127) as u8);
        let high: u64 = (0..64).fold(0, |m, i| m | (u64::from(s * i + p >= 128) << i));
        // SAFETY: `idx` is 64 bytes.
        (unsafe { _mm512_loadu_si512(idx.as_ptr().cast()) }, high)
    };
    let phases: [(__m512i, u64); 4] = std::array::from_fn(|p| index(p.min(s - 1)));
    // SAFETY: `have` readable bytes from `src`.
    let load = |at: usize| unsafe { load_upto(src, have, at) };
    let mut i0 = 0;
    while i0 + 64 <= len {
        let at = i0 * s;
        let (v0, v1) = (load(at), load(at + 64));
        let (v2, v3) = if s > 2 {
            (load(at + 128), load(at + 192))
        } else {
            (_mm512_setzero_si512(), _mm512_setzero_si512())
        };
        for (p, &(idx, high)) in phases.iter().enumerate().take(s) {
            let v = _mm512_permutex2var_epi8(v0, idx, v1);
            let v = if s > 2 {
                let w = _mm512_permutex2var_epi8(v2, idx, v3);
                _mm512_mask_blend_epi8(high, v, w)
            } else {
                v
            };
            // SAFETY: `p * len + i0 + 64 <= s * len = dst.len()`.
            unsafe { _mm512_storeu_si512(dst.as_mut_ptr().add(p * len + i0).cast(), v) };
        }
        i0 += 64;
    }
}
