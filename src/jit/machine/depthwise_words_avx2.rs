//! The AVX2 depthwise convolution with column stride 1 or 2 and adjacent
//! taps (most depthwise layers), on CPUs without VNNI
//! (`depthwise_avx2::depthwise` picks it there), and with column stride 2
//! in every form.
//!
//! With VNNI and column stride 2 the weight quads multiply the loads as
//! they are ([`chunk_quads`]): dword `j` of the 32 bytes from input
//! column `2 x0` holds taps 0 to 3 of pixel `x0 + 2 j`'s window, the 32
//! bytes from two columns on those of pixel `x0 + 2 j + 1`, and from four
//! columns on taps 4 to 7. So a kernel row is two loads and two
//! `vpdpbusd` per 16 pixels and quad, where gathering windows by
//! `vpshufb` took a shuffle per vector too (3x3 stride 2 on 96 x 112 x
//! 112: 215 -> 147 us). A row of 5 or 6 taps moves its second quad two
//! bytes up, `(0, 0, w4, w5)`: it then multiplies the loads from two and
//! four columns on, and the first quad's odd pixels load the former: three
//! loads a row, not four (5x5 stride 2 on 672 x 14 x 14: 1.05x).
//!
//! With stride 2, output pixel `i` of a kernel row reads input bytes
//! `2 i + t`: taps 0 and 1 are the two bytes of input word `i`, taps 2
//! and 3 those of word `i + 1`. So one 32-byte load and one `vpmaddubsw`
//! by a broadcast pair of weights give 16 pixels' `x0 w0 + x1 w1` as
//! words, with no shuffle. With stride 1 the even output pixels are such
//! a stride-2 convolution, and the odd ones another from one byte to the
//! right. The planner (`byte_pairs::WordTerms`) splits a pair that could
//! saturate into two that cannot; the kernel widens two terms' words at a
//! time by interleaving them (`vpunpck[lh]wd`) and adding each pixel's
//! two words with `vpmaddwd` by ones. After the tail one `vpermd` (stride
//! 2) or `vpshufb` (stride 1) puts the pixels in order.
//!
//! A job runs channel by channel: each term's address is planned once per
//! channel, an output row only adds its offset (planning per row cost
//! this kernel 40% on 56-pixel rows).
//!
//! Rows of 5 to 8 taps (two weight quads a row: 5x5 and 7x7 depthwise
//! layers) take pairs at byte offsets 4 and 6 as well; the AVX2 kernels
//! that gather windows by `vpshufb` (`depthwise_avx2::kernel`) stop at 4.
//!
//! Memory: the loads of the 32 pixels from column `sw x0` end at byte
//! `2 x0 + 70` (stride 2) or `x0 + 39` (pairs at offsets up to 6), before
//! the end of the 128 bytes from `sw x0' + bases[3]` (`x0'` is `x0`
//! rounded down to 64, so `x0 <= x0' + 32`) that
//! `native::depthwise_windows` checked against the buffer and its spare
//! bytes. With `Kind::Depthwise::borders` (an input without halo) the
//! input rows a channel's output rows read are first copied into a
//! zero-padded scratch plane.
//!
//! Narrow rows with stride 1 (`flat`: a row's pitch shorter than the
//! chunks it takes) run a job's rows as one run of positions, the halo
//! columns between rows computed and dropped: a 14 x 14 map fills 14 of
//! every 16 lanes where row by row it filled 14 of 32. A chunk starts
//! before the last row's last pixel, so its loads end by column `width +
//! 38` of that row, as the row-by-row chunks' do, or (with a scratch
//! pitch of at least `width`) in the 64 bytes after the scratch's last
//! row.
//!
//! Rows of at most 8 pixels with column stride 2 run two to a vector: a
//! chunk's first 16 pixels take row `y + 1`'s 8 in the loads' upper lanes
//! (`vinserti128`): a 7 x 7 output fills 14 of 16 pixels instead of 7.
//! With VNNI its second 16 take rows `y + 2` and `y + 3` the same way, so
//! a 7 x 7 channel is two chunks, not four (3x3 stride 2 on 576 x 14 x 14:
//! 1.09x).
//!
//! A dense output (rows and planes back to back) is one run of bytes per
//! job, written in order: a row ends in one whole store when the bytes
//! after it, up to `job_end`, are the job's own and written later (the
//! stores of 8, 4, 2 and 1 bytes of 7-pixel rows took 14% of a small
//! stride-2 layer). Debug builds run a stage's odd jobs before its even
//! ones, so a store past `job_end` fails the tests.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

#[cfg(target_arch = "x86_64")]
use super::dot256::{dpbusd, Dot, EVEX, MADD, VEX};
#[cfg(target_arch = "x86_64")]
use super::pointwise_avx2::store;
#[cfg(target_arch = "x86_64")]
use super::row_copy::{copy_rows, After};
#[cfg(target_arch = "x86_64")]
use super::tail_avx2::{Fast, FastConsts, Tail};
#[cfg(target_arch = "x86_64")]
use crate::jit::native::byte_pairs::WordTerms;
#[cfg(target_arch = "x86_64")]
use crate::jit::native::{Kind, NativeStage};

/// Whether this kernel computes the depthwise stage `st`: column stride
/// 1 or 2, adjacent taps (column dilation 1), rows of at most 8 taps (two
/// quads).
pub(super) fn fits(st: &NativeStage) -> bool {
    matches!(
        st.kind(),
        Kind::Depthwise {
            stride: (_, 1 | 2),
            quads: (1 | 2, 4),
            ..
        }
    )
}

/// Runs items `lo..hi` (channel-major output rows) of the depthwise stage
/// `st` ([`fits`]), `FAST` with the folded tail, `BORDERS` for an input
/// without halo.
///
/// # Safety
/// As `depthwise_avx2::depthwise`; the host has AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub(super) unsafe fn words<const FAST: bool, const BORDERS: bool>(
    st: &NativeStage,
    x: *const u8,
    out: *mut u8,
    lo: usize,
    hi: usize,
) {
    // SAFETY: the caller's guarantees.
    unsafe { body::<FAST, BORDERS, MADD>(st, x, out, lo, hi) }
}

/// [`words`] with `vpdpbusd` (AVX-VNNI) on the weight quads where the
/// column stride is 2.
///
/// # Safety
/// As [`words`]; the host has AVX-VNNI.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avxvnni")]
pub(super) unsafe fn words_vnni<const FAST: bool, const BORDERS: bool>(
    st: &NativeStage,
    x: *const u8,
    out: *mut u8,
    lo: usize,
    hi: usize,
) {
    // SAFETY: the caller's guarantees.
    unsafe { body::<FAST, BORDERS, VEX>(st, x, out, lo, hi) }
}

/// [`words_vnni`] with the EVEX `vpdpbusd` (`--isa avx2-vnni`).
///
/// # Safety
/// As [`words`]; the host has AVX-512 VNNI and VL.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avx512vnni,avx512vl")]
pub(super) unsafe fn words_evex<const FAST: bool, const BORDERS: bool>(
    st: &NativeStage,
    x: *const u8,
    out: *mut u8,
    lo: usize,
    hi: usize,
) {
    // SAFETY: the caller's guarantees.
    unsafe { body::<FAST, BORDERS, EVEX>(st, x, out, lo, hi) }
}

/// The kernel: byte pairs (`DOT` `MADD`), or with column stride 2 and
/// `DOT` `VEX` or `EVEX` the weight quads ([`chunk_quads`]).
///
/// # Safety
/// As [`words`]; only inlined into functions compiled with AVX2 and the
/// features of `DOT`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn body<const FAST: bool, const BORDERS: bool, const DOT: Dot>(
    st: &NativeStage,
    x: *const u8,
    out: *mut u8,
    lo: usize,
    hi: usize,
) {
    let &Kind::Depthwise {
        kh,
        pad_top,
        pad_left,
        stride: (sh, sw),
        dilation_h,
        quads: (per_row, _),
        borders,
        ..
    } = st.kind()
    else {
        return;
    };
    let plan = st.word_terms(|| WordTerms::plan(st.weights(), st.channels(), kh, per_row));
    let tail = Tail::new(st.requant());
    let fast = if FAST { tail.fast() } else { None };
    let (height, width) = (st.height(), st.width());
    let chunks = width.div_ceil(32);
    // Stride 1 on rows shorter than the chunks they take (a 14-pixel row
    // fills 14 of 32 lanes): the rows of a job run as one, the columns
    // between them (the halo, or the scratch rows' padding) computed and
    // dropped (14 of every 16 lanes). `pitch`: the shortest scratch row
    // that holds an input row and whose last pixel's window (`reach`
    // columns from its first: a pair's second byte only when its weight
    // is not zero) ends before the next row's `pad_left` zero columns end.
    let reach = plan.reach;
    let (in_h, in_w) = borders.unwrap_or((0, 0));
    let pitch = if BORDERS {
        // At least `width`: with a wide right padding a shorter pitch would
        // overlap the rows and run the last row's loads past the scratch.
        (pad_left + in_w)
            .max((width + reach - 1).saturating_sub(pad_left))
            .max(width)
    } else {
        st.x().stride
    };
    let flat = (sh, sw) == (1, 1) && pitch < 32 * chunks;
    // With `BORDERS`: a zero-padded copy of the input rows a channel's
    // output rows `y0..y1` read: input row `iy` in scratch row `iy +
    // pad_top`, at column `pad_left`; the rows above and below the input
    // are never written. Each row is as long as the last chunk's loads
    // (`flat`: `pitch`, with 64 bytes after the last row for its loads).
    let len = if flat {
        pitch
    } else {
        (pad_left + in_w).max(sw * 32 * chunks + 16) + 16
    };
    let span = (kh - 1) * dilation_h + 1;
    let padded_rows = sh * (height - 1) + span;
    let mut scratch = vec![0u8; if BORDERS { padded_rows * len + 64 } else { 0 }];
    // Consecutive input rows (of the channel's rows from `x`, or of the
    // scratch rows) lie `step` bytes apart; output row `y`'s kernel row 0
    // is input row `sh y - pad_top`.
    let (step, plane) = if BORDERS {
        (len as isize, 0)
    } else {
        (st.x().stride as isize, st.x().plane as isize)
    };
    // Column stride 2 with `vpdpbusd`: dword `j` of the 32 bytes from
    // input column `2 x0` holds pixel `x0 + 2 j`'s window of four taps,
    // from `2 x0 + 2` pixel `x0 + 2 j + 1`'s: the weight quads multiply
    // the loads as they are (`chunk_quads`).
    let quads = DOT != MADD && sw == 2;
    let mut terms = vec![(std::ptr::null::<u8>(), 0i32); plan.most.max(kh * per_row)];
    // `quads`: a channel's rows of 5 or 6 taps as (address, first quad,
    // second quad moved two bytes up): three loads a row, not four.
    let mut shared: Vec<SharedRow> = vec![(std::ptr::null::<u8>(), 0, 0); kh];
    // Stride 2: vector `p`, lane `L`, dword `i` holds pixel `16 (p / 2) +
    // 4 (p % 2) + 8 L + i`, packed to byte `16 L + 4 p + i`; dword `j` of
    // the result comes from dword `order[j]` of the packed bytes. Stride 1:
    // vectors 0 and 1 the even pixels, 2 and 3 the odd ones, so byte `m`
    // of a lane comes from byte `4 p + i` with `p = 2 (m % 2) + m / 8`,
    // `i = m % 8 / 2`.
    let order = _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7);
    let interleave: [i8; 32] = std::array::from_fn(|k| {
        let m = k % 16;
        (4 * (2 * (m % 2) + m / 8) + m % 8 / 2) as i8
    });
    // SAFETY: `interleave` is 32 bytes.
    let interleave = unsafe { _mm256_loadu_si256(interleave.as_ptr().cast()) };
    // `quads`: after `order`, byte `m` of a lane holds pixel `8 L + 2 i +
    // b` (`L = m / 8`, `b = m / 4 % 2`, `i = m % 4`); pixel `m` comes from
    // byte `8 (m / 8) + 4 (m % 2) + m % 8 / 2`.
    let evens_odds: [i8; 32] =
        std::array::from_fn(|k| (8 * (k % 16 / 8) + 4 * (k % 2) + k % 8 / 2) as i8);
    // SAFETY: `evens_odds` is 32 bytes.
    let evens_odds = unsafe { _mm256_loadu_si256(evens_odds.as_ptr().cast()) };
    // `flat`: a job's run of positions, in 32-byte chunks, in two lines
    // that take turns: a channel's rows are copied out of its line after
    // the next channel's chunks were stored (a load from a store just made
    // waits for it to retire: copying at once cost a 14 x 14 map 10%, and
    // storing each chunk's pieces of rows from a 64-byte line 30%).
    let mut lines = if flat {
        let len = ((height - 1) * pitch + width).next_multiple_of(32) + 32;
        [vec![0u8; len], vec![0u8; len]]
    } else {
        [Vec::new(), Vec::new()]
    };
    // The rows waiting in a line: (line, output address of the first row,
    // rows).
    let mut waiting: Option<(usize, usize, usize)> = None;
    // Output rows back to back take whole pieces of the line's rows.
    let out_after = if st.out().stride == width {
        After::Source
    } else {
        After::Nothing
    };
    // (Macros, not closures: a closure in this function, which has no
    // target features of its own, would call each intrinsic.)
    macro_rules! copy_out {
        ($line:expr, $first:expr, $rows:expr) => {
            // SAFETY: `line` holds positions `r pitch .. r pitch + width`
            // of the run, and 32 bytes after its last row's; the output
            // rows from `first` have `width` pixels (and are back to back
            // with `After::Source`).
            unsafe {
                copy_rows(
                    ($line.as_ptr(), pitch),
                    (out.add($first), st.out().stride),
                    width,
                    $rows,
                    out_after,
                )
            }
        };
    }
    // A dense output: a store may run past its row into bytes the job
    // writes later, one whole store, not pieces of 16, 8, 4, 2 and 1
    // bytes (`job_end` 0: never).
    let dense_end = dense_job_end(st, hi);
    let dense = dense_end.is_some();
    let job_end = dense_end.unwrap_or(0);
    // Two rows of at most 8 pixels (stride 2) packed back to back: byte
    // `k` from byte `k` of row `y`, or `k - width + 8` of row `y + 1`.
    let pack_two: [i8; 32] = std::array::from_fn(|k| match k {
        k if k < width => k as i8,
        k if k < 2 * width && k < 16 => (k - width + 8) as i8,
        _ => -128,
    });
    // SAFETY: `pack_two` is 32 bytes.
    let pack_two = unsafe { _mm256_loadu_si256(pack_two.as_ptr().cast()) };
    // Item `item` is output row `y0` of channel `c` (one division a job).
    let (mut item, mut next) = (lo, (lo / height, lo % height));
    while item < hi {
        let (c, y0) = next;
        let y1 = height.min(y0 + hi - item);
        item += y1 - y0;
        next = (c + 1, 0);
        // Address of output row 0's kernel row 0 at column `-pad_left`.
        let origin = if BORDERS {
            // The input rows of output rows `y0..y1`, clipped to the input.
            let top = (sh * y0).saturating_sub(pad_top);
            let bottom = in_h.min((sh * (y1 - 1) + span).saturating_sub(pad_top));
            if top < bottom {
                let at = st.x().origin + c * st.x().plane + top * st.x().stride;
                // SAFETY: rows `top..bottom` of channel `c` are the input's,
                // their `in_w` bytes inside the buffer (`fits`), each but
                // the last followed by the next row (so `in_w` bytes and the
                // stride after each are readable); scratch rows `top +
                // pad_top .. bottom + pad_top <= padded_rows` have `in_w`
                // bytes from column `pad_left`, the zeros after them land in
                // their padding or in the next rows, copied after them.
                unsafe {
                    copy_rows(
                        (x.add(at), st.x().stride),
                        (
                            scratch.as_mut_ptr().add((top + pad_top) * len + pad_left),
                            len,
                        ),
                        in_w,
                        bottom - top,
                        After::Zeros,
                    )
                };
            }
            scratch.as_ptr()
        } else {
            x.wrapping_offset(
                st.x().origin as isize + c as isize * plane
                    - pad_top as isize * step
                    - pad_left as isize,
            )
        };
        // The channel's terms as (address for output row 0, weights): its
        // pairs, or (`quads`) its nonzero weight quads.
        let mut rows_shared = 0;
        let count = if quads {
            let mut n = 0;
            for ky in 0..kh {
                let row = (ky * dilation_h) as isize * step;
                let at = (c * kh + ky) * per_row;
                let quads = &st.weights()[at..at + per_row];
                // Taps 4 and 5 only in the second quad (5- and 6-tap rows):
                // moved two bytes up, they multiply the loads from two
                // columns on, which the first quad's odd pixels load.
                if let [first, second] = *quads {
                    if second != 0 && (second as u32) >> 16 == 0 {
                        shared[rows_shared] = (origin.wrapping_offset(row), first, second << 16);
                        rows_shared += 1;
                        continue;
                    }
                }
                for (q, &w) in quads.iter().enumerate() {
                    if w != 0 {
                        terms[n] = (origin.wrapping_offset(row + 4 * q as isize), w);
                        n += 1;
                    }
                }
            }
            n
        } else {
            let channel = &plan.channels[c];
            for (slot, t) in terms.iter_mut().zip(channel) {
                let at = (t.row * dilation_h) as isize * step + t.offset as isize;
                *slot = (origin.wrapping_offset(at), t.pair);
            }
            channel.len()
        };
        let terms = &terms[..count];
        let shared = &shared[..rows_shared];
        let k = fast.as_ref().map(|f| f.channel(c));
        let kt = tail.channel(c);
        let tails = (&tail, fast.as_ref().zip(k), kt);
        let reorder = if sw == 2 { order } else { interleave };
        // SAFETY (each use): the loads as `chunk` needs them (see the
        // module's memory note); the target features of `DOT`.
        macro_rules! chunk {
            ($col:expr, $both:expr, $upper:expr) => {
                unsafe {
                    if quads {
                        chunk_quads::<DOT, false>(
                            (terms, shared),
                            ($col, [$upper, 16], 32),
                            $both,
                            tails,
                            (order, evens_odds),
                        )
                    } else {
                        chunk(terms, $col, $upper, sw, $both, tails, reorder)
                    }
                }
            };
        }
        let at_out = |y: usize| st.out().origin + c * st.out().plane + y * st.out().stride;
        if flat {
            // Rows `y0..y1` as one run of positions `(y - y0) pitch + x`:
            // 32 positions a chunk, stored whole into a line, whose rows'
            // first `width` bytes are the output rows.
            let rows = y1 - y0;
            let run = (rows - 1) * pitch + width;
            // The last chunk's loads (a term's pair from offset `reach - 1`
            // at most, its odd pixels one byte on) end in the scratch.
            debug_assert!(
                !BORDERS
                    || ((kh - 1) * dilation_h + y0) * pitch + (run - 1) / 32 * 32 + reach + 32
                        <= scratch.len(),
                "flat depthwise loads past the scratch"
            );
            let turn = waiting.map_or(0, |(line, ..)| 1 - line);
            for q in (0..run).step_by(32) {
                let bytes = chunk!((y0 * pitch + q) as isize, true, 16);
                // SAFETY: `q + 32 <= run.next_multiple_of(32)`, and `run <=
                // (height - 1) pitch + width` is within the line's length.
                unsafe { _mm256_storeu_si256(lines[turn].as_mut_ptr().add(q).cast(), bytes) };
            }
            if let Some((line, first, rows)) = waiting {
                copy_out!(&lines[line], first, rows);
            }
            waiting = Some((turn, at_out(y0), rows));
            continue;
        }
        if quads && sw == 2 && width <= 8 && y1 - y0 > 2 {
            // Four rows a chunk (`both`): rows `y + 1` and `y + 3` in the
            // upper lanes of rows `y`'s and `y + 2`'s loads. A fourth row
            // past the job's reads row `y + 2`'s input again and is not
            // stored. 7 x 7 maps: two chunks a channel, not four.
            let pair = sh as isize * step;
            for y in (y0..y1).step_by(4) {
                let rows = (y1 - y).min(4);
                let row = (sh * y) as isize * step;
                let upper = |r: usize| if r < rows { pair } else { 16 };
                // SAFETY: as `chunk!`: the rows read are those of output
                // rows `y .. y + rows`, each load within their windows.
                let bytes = unsafe {
                    chunk_quads::<DOT, true>(
                        (terms, shared),
                        (row, [upper(1), if rows > 3 { pair } else { 0 }], 2 * pair),
                        rows > 2,
                        tails,
                        (order, evens_odds),
                    )
                };
                // Each half (rows `r` and `r + 1`, 8 bytes each) stored as
                // the two-row chunks' are.
                for (half, r) in [(0, y), (1, y + 2)] {
                    let count = (y + rows).saturating_sub(r).min(2);
                    if count == 0 {
                        continue;
                    }
                    let v = if half == 0 {
                        bytes
                    } else {
                        _mm256_permute2x128_si256::<0x01>(bytes, bytes)
                    };
                    if dense {
                        let v = _mm256_shuffle_epi8(v, pack_two);
                        // SAFETY: pixels (c, r, 0 .. width) and, when
                        // `count` is 2, the next row's follow them in the
                        // output; any bytes after them up to `job_end` are
                        // this job's, written later.
                        unsafe { store_run(out, at_out(r), v, count * width, job_end) };
                        continue;
                    }
                    // SAFETY: pixels (c, r, 0 .. width) and, when `count`
                    // is 2, (c, r + 1, 0 .. width) are inside the output.
                    unsafe {
                        store(out.add(at_out(r)), v, width);
                        if count == 2 {
                            store(out.add(at_out(r + 1)), _mm256_srli_si256::<8>(v), width);
                        }
                    }
                }
            }
            continue;
        }
        if sw == 2 && width <= 8 {
            // Two rows a vector: row `y + 1`'s pixels in the loads' upper
            // lanes (pixels 8 to 15).
            for y in (y0..y1).step_by(2) {
                let row = (sh * y) as isize * step;
                let two = y + 1 < y1;
                let bytes = chunk!(row, false, if two { sh as isize * step } else { 16 });
                if dense {
                    let rows = _mm256_shuffle_epi8(bytes, pack_two);
                    let count = if two { 2 * width } else { width };
                    // SAFETY: pixels (c, y, 0 .. width) and, when `two`,
                    // the next row's follow them in the output; any bytes
                    // after them up to `job_end` are this job's, written
                    // later.
                    unsafe { store_run(out, at_out(y), rows, count, job_end) };
                    continue;
                }
                // SAFETY: pixels (c, y, 0 .. width) and, when `two`, (c,
                // y + 1, 0 .. width) are inside the output.
                unsafe {
                    store(out.add(at_out(y)), bytes, width);
                    if two {
                        let next = _mm256_srli_si256::<8>(bytes);
                        store(out.add(at_out(y + 1)), next, width);
                    }
                }
            }
            continue;
        }
        for y in y0..y1 {
            let row = (sh * y) as isize * step;
            for chunk_at in 0..chunks {
                let x0 = 32 * chunk_at;
                let bytes = chunk!(row + (sw * x0) as isize, width - x0 > 16, 16);
                // SAFETY: pixels (c, y, x0 .. x0 + count) are inside the
                // output, any bytes after them up to `job_end` this job's,
                // written later.
                unsafe { store_run(out, at_out(y) + x0, bytes, (width - x0).min(32), job_end) };
            }
        }
    }
    if let Some((line, first, rows)) = waiting {
        copy_out!(&lines[line], first, rows);
    }
}

/// Where the output bytes of a job ending at item `hi` (a channel-major
/// output row) of depthwise stage `st` end, when the output is dense
/// (rows and planes back to back): the job's items are then one run of
/// bytes, which the kernels write in order, so a store may run past its
/// row into bytes the job writes later, up to this end.
pub(super) fn dense_job_end(st: &NativeStage, hi: usize) -> Option<usize> {
    let (height, width) = (st.height(), st.width());
    let dense = st.out().stride == width && st.out().plane == height * width;
    dense.then(|| st.out().origin + hi * width)
}

/// The first `count` bytes of `v` to `out + at`; all 32 (or 16) when
/// they end by `job_end`.
///
/// # Safety
/// `count` bytes from `out + at` are writable, and so are those up to
/// `out + job_end`, which the caller writes later; AVX2.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn store_run(out: *mut u8, at: usize, v: __m256i, count: usize, job_end: usize) {
    // SAFETY (all three): the caller's guarantees.
    unsafe {
        if at + 32 <= job_end {
            _mm256_storeu_si256(out.add(at).cast(), v);
        } else if count <= 16 && at + 16 <= job_end {
            _mm_storeu_si128(out.add(at).cast(), _mm256_castsi256_si128(v));
        } else {
            store(out.add(at), v, count);
        }
    }
}

/// A channel's tails for [`chunk`]: the general tail, the folded one with
/// the channel's constants, the general one's constants.
#[cfg(target_arch = "x86_64")]
type Tails<'a> = (
    &'a Tail<'a>,
    Option<(&'a Fast<'a>, FastConsts)>,
    [__m256i; 3],
);

/// The 32 output bytes, in pixel order, whose first pixel's kernel row 0
/// starts at `col` past each term's address, of a channel with `terms`
/// and `tails` (the general tail, the folded one with its constants, the
/// general one's constants); with stride 2, only the first 16 unless
/// `both`, and then pixels 8 to 15 from `col + upper` (another row)
/// unless `upper` is 16. `reorder`: the stride's permutation from pack
/// order.
///
/// # Safety
/// Every term's 32 bytes from `col` (and `col + 32` or `col + 1`, or the
/// 16 from `col + upper`) are readable; only inlined into functions
/// compiled with AVX2.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn chunk(
    terms: &[(*const u8, i32)],
    col: isize,
    upper: isize,
    sw: usize,
    both: bool,
    (tail, fast, kt): Tails,
    reorder: __m256i,
) -> __m256i {
    let ones = _mm256_set1_epi16(1);
    let mut acc = [_mm256_setzero_si256(); 4];
    // Stride 2: pixels `16 half ..`; stride 1: pixels `half + 2 i`.
    let second = if sw == 2 { 32 } else { 1 };
    // Stride 2: the second 16 pixels only when `both` (rows of up to 16
    // pixels, a row's last 16: half the work; their accumulators stay zero
    // and are not stored). Two loops, so that neither tests it per term.
    if sw != 2 || both {
        for two in terms.chunks_exact(2) {
            let (wa, wb) = (_mm256_set1_epi32(two[0].1), _mm256_set1_epi32(two[1].1));
            // SAFETY (both calls): the caller's guarantees.
            let (lo, hi) = unsafe { pair_words(two, (col, 16), (wa, wb), ones) };
            let (lo2, hi2) = unsafe { pair_words(two, (col + second, 16), (wa, wb), ones) };
            acc[0] = _mm256_add_epi32(acc[0], lo);
            acc[1] = _mm256_add_epi32(acc[1], hi);
            acc[2] = _mm256_add_epi32(acc[2], lo2);
            acc[3] = _mm256_add_epi32(acc[3], hi2);
        }
    } else {
        for two in terms.chunks_exact(2) {
            let (wa, wb) = (_mm256_set1_epi32(two[0].1), _mm256_set1_epi32(two[1].1));
            // SAFETY: the caller's guarantees.
            let (lo, hi) = unsafe { pair_words(two, (col, upper), (wa, wb), ones) };
            acc[0] = _mm256_add_epi32(acc[0], lo);
            acc[1] = _mm256_add_epi32(acc[1], hi);
        }
        // The second 16 pixels are not stored: as copies of the first,
        // the tail's work on them folds away (half the tail).
        acc[2] = acc[0];
        acc[3] = acc[1];
        // SAFETY: the caller's target features.
        let bytes = unsafe { tail_bytes(&acc, (tail, fast, kt)) };
        return _mm256_permutevar8x32_epi32(bytes, reorder);
    }
    // SAFETY: the caller's target features.
    let bytes = unsafe { tail_bytes(&acc, (tail, fast, kt)) };
    if sw == 2 {
        _mm256_permutevar8x32_epi32(bytes, reorder)
    } else {
        _mm256_shuffle_epi8(bytes, reorder)
    }
}

/// [`chunk`] with column stride 2 on the weight quads of `terms`
/// (`vpdpbusd` in the encoding `DOT`): vector 0 the even pixels (dword `j`
/// of the 32 bytes from `col` is pixel `2 j`'s window), vector 1 the odd
/// ones (from `col + 2`), vectors 2 and 3 the next 16 pixels (from `col +
/// second`: 32 along the row, or the rows two on) when `both`; with
/// `upper[h]` other than 16, pixels 8 to 15 of half `h` from 16 bytes at
/// `upper[h]` past the half's (another row). `order` then `evens_odds`
/// put the bytes in pixel order.
///
/// # Safety
/// Every term's 32 bytes from `col`, `col + 2` (and from `col + second`,
/// `col + second + 2`; of a half with `upper[h]` other than 16 the 16 from
/// each and the 16 at `upper[h]` past each) are readable: the loads of
/// [`chunk`] with stride 2 end no later. Only inlined into functions
/// compiled with AVX2 and the features of `DOT`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn chunk_quads<const DOT: Dot, const ROWS: bool>(
    (terms, shared): (&[(*const u8, i32)], &[SharedRow]),
    (col, upper, second): (isize, [isize; 2], isize),
    both: bool,
    tails: Tails,
    (order, evens_odds): (__m256i, __m256i),
) -> __m256i {
    let mut acc = [_mm256_setzero_si256(); 4];
    // The 32 bytes from `from`, or (when `$rows`) with `$upper` other than
    // 16 the 16 from `from` and the 16 from `from + $upper` (`both` without
    // `ROWS`: 32 bytes along the row, no test in the loop).
    macro_rules! load {
        ($from:expr, $upper:expr, $rows:expr) => {
            if !$rows || $upper == 16 {
                _mm256_loadu_si256($from.cast())
            } else {
                _mm256_loadu2_m128i($from.wrapping_offset($upper).cast(), $from.cast())
            }
        };
    }
    // SAFETY (every load and product): the caller's guarantees.
    unsafe {
        if both {
            for &(at, quad) in terms {
                let (w, at) = (_mm256_set1_epi32(quad), at.wrapping_offset(col));
                for (k, acc_k) in acc.iter_mut().enumerate() {
                    let half = if ROWS { second } else { 32 };
                    let from = at.wrapping_offset(half * (k / 2) as isize + 2 * (k % 2) as isize);
                    *acc_k = dpbusd::<DOT>(*acc_k, load!(from, upper[k / 2], ROWS), w);
                }
            }
            for &(at, first, next) in shared {
                let at = at.wrapping_offset(col);
                let (wa, wb) = (_mm256_set1_epi32(first), _mm256_set1_epi32(next));
                for (h, &up) in upper.iter().enumerate() {
                    let from = at.wrapping_offset(if ROWS { second } else { 32 } * h as isize);
                    // (No closure: see `pair_words`.)
                    let l0 = load!(from, up, ROWS);
                    let l2 = load!(from.add(2), up, ROWS);
                    let l4 = load!(from.add(4), up, ROWS);
                    acc[2 * h] = dpbusd::<DOT>(dpbusd::<DOT>(acc[2 * h], l0, wa), l2, wb);
                    acc[2 * h + 1] = dpbusd::<DOT>(dpbusd::<DOT>(acc[2 * h + 1], l2, wa), l4, wb);
                }
            }
        } else {
            // (The two-row loads test `upper` whatever `ROWS` says.)
            let upper = upper[0];
            for &(at, quad) in terms {
                let (w, at) = (_mm256_set1_epi32(quad), at.wrapping_offset(col));
                for (k, acc_k) in acc.iter_mut().take(2).enumerate() {
                    *acc_k = dpbusd::<DOT>(*acc_k, load!(at.wrapping_add(2 * k), upper, true), w);
                }
            }
            for &(at, first, second) in shared {
                let at = at.wrapping_offset(col);
                let (wa, wb) = (_mm256_set1_epi32(first), _mm256_set1_epi32(second));
                let (l0, l2, l4) = (
                    load!(at, upper, true),
                    load!(at.wrapping_add(2), upper, true),
                    load!(at.wrapping_add(4), upper, true),
                );
                acc[0] = dpbusd::<DOT>(dpbusd::<DOT>(acc[0], l0, wa), l2, wb);
                acc[1] = dpbusd::<DOT>(dpbusd::<DOT>(acc[1], l2, wa), l4, wb);
            }
            // Not stored: the tail's work on copies folds away.
            acc[2] = acc[0];
            acc[3] = acc[1];
        }
        let bytes = tail_bytes(&acc, tails);
        _mm256_shuffle_epi8(_mm256_permutevar8x32_epi32(bytes, order), evens_odds)
    }
}

/// A kernel row of 5 or 6 taps for [`chunk_quads`]: its address for
/// output row 0, its first weight quad, and its second moved two bytes up
/// (`(0, 0, w4, w5)`).
#[cfg(target_arch = "x86_64")]
type SharedRow = (*const u8, i32, i32);

/// The tail of [`chunk`]'s four accumulators, bytes in pack order.
///
/// # Safety
/// As [`chunk`].
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn tail_bytes(acc: &[__m256i; 4], (tail, fast, kt): Tails) -> __m256i {
    // SAFETY (both): the caller's target features.
    match fast {
        Some((f, k)) => unsafe { f.packed4(acc, k) },
        None => unsafe { tail.packed4(acc, kt) },
    }
}

/// Both terms' words at `col` (the upper lanes at `col + upper` unless
/// `upper` is 16; times their pairs `wa`, `wb`), widened to
/// dwords and added: the pixels of vectors 0 and 1 (or 2 and 3) of
/// [`chunk`].
///
/// # Safety
/// As [`chunk`] (no closure here: a closure in a function without target
/// features is compiled without AVX2, each intrinsic a call).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn pair_words(
    two: &[(*const u8, i32)],
    (col, upper): (isize, isize),
    (wa, wb): (__m256i, __m256i),
    ones: __m256i,
) -> (__m256i, __m256i) {
    // The 32 bytes from `col`, or with `upper` other than 16 the 16 from
    // `col` and the 16 from `col + upper` (no closure: see above).
    let (a, b) = (two[0].0.wrapping_offset(col), two[1].0.wrapping_offset(col));
    // SAFETY (all four): the caller's guarantee.
    let (a, b) = if upper == 16 {
        unsafe { (_mm256_loadu_si256(a.cast()), _mm256_loadu_si256(b.cast())) }
    } else {
        let (a_up, b_up) = (a.wrapping_offset(upper), b.wrapping_offset(upper));
        unsafe {
            (
                _mm256_loadu2_m128i(a_up.cast(), a.cast()),
                _mm256_loadu2_m128i(b_up.cast(), b.cast()),
            )
        }
    };
    let (a, b) = (_mm256_maddubs_epi16(a, wa), _mm256_maddubs_epi16(b, wb));
    let lo = _mm256_madd_epi16(_mm256_unpacklo_epi16(a, b), ones);
    let hi = _mm256_madd_epi16(_mm256_unpackhi_epi16(a, b), ones);
    (lo, hi)
}
