//! Copies of short rows for the AVX2 depthwise kernel: a pipeline input's
//! rows into a zero-padded scratch plane, and a flat run's rows out of
//! its line. On 7 x 7 and 14 x 14 maps these copies are a third of a
//! channel's work, so they avoid calls of `memcpy` and, where the caller
//! allows it, take one load and one store a row.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// What [`copy_rows`] may write after each row's `n` bytes but the last
/// row's.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum After {
    /// Nothing: each row exactly.
    Nothing,
    /// The source's bytes after the row (the next rows' copies rewrite
    /// them).
    Source,
    /// Zeros (a scratch row's padding; the next rows' copies rewrite
    /// their own bytes).
    Zeros,
}

/// Copies `rows` rows of `n` bytes from `src` (rows `src_pitch` bytes
/// apart) to `dst` (rows `dst_pitch` apart), in increasing order. Unless
/// `after` is [`After::Nothing`], every row but the last with `4 <= n <=
/// 32` is one load and one store of `piece` = 8, 16 or 32 bytes (`n <=
/// piece <= 2 n`), the bytes after the row written as `after` says.
///
/// # Safety
/// The rows are readable and writable and apart; with `after` other than
/// [`After::Nothing`], so are `piece` bytes from each row but the last
/// (`piece <= src_pitch + n` holds when the source's next row follows),
/// and the bytes written after a row are the padding or the next rows'
/// (with [`After::Source`]: `dst_pitch == n`); AVX2.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(super) unsafe fn copy_rows(
    (src, src_pitch): (*const u8, usize),
    (dst, dst_pitch): (*mut u8, usize),
    n: usize,
    rows: usize,
    after: After,
) {
    let zeros = after == After::Zeros;
    let whole = if after == After::Nothing || !(4..=32).contains(&n) {
        0
    } else {
        rows.saturating_sub(1)
    };
    // SAFETY (all three): the caller's guarantees for the rows before the
    // last, with `piece` bytes each.
    unsafe {
        match n {
            _ if whole == 0 => {}
            4..=8 => {
                let keep = if zeros {
                    u64::MAX >> (64 - 8 * n)
                } else {
                    u64::MAX
                };
                for r in 0..whole {
                    let v = src.add(r * src_pitch).cast::<u64>().read_unaligned();
                    dst.add(r * dst_pitch)
                        .cast::<u64>()
                        .write_unaligned(v & keep);
                }
            }
            9..=16 => {
                let keep = if zeros {
                    first_bytes(n)
                } else {
                    _mm_set1_epi8(-1)
                };
                for r in 0..whole {
                    let v = _mm_loadu_si128(src.add(r * src_pitch).cast());
                    _mm_storeu_si128(dst.add(r * dst_pitch).cast(), _mm_and_si128(v, keep));
                }
            }
            _ => {
                let keep = if zeros {
                    _mm256_setr_m128i(first_bytes(n), first_bytes(n.saturating_sub(16)))
                } else {
                    _mm256_set1_epi8(-1)
                };
                for r in 0..whole {
                    let v = _mm256_loadu_si256(src.add(r * src_pitch).cast());
                    _mm256_storeu_si256(dst.add(r * dst_pitch).cast(), _mm256_and_si256(v, keep));
                }
            }
        }
        for r in whole..rows {
            copy_row(src.add(r * src_pitch), dst.add(r * dst_pitch), n);
        }
    }
}

/// A mask of the first `n` bytes (`n <= 16`).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn first_bytes(n: usize) -> __m128i {
    let at: [i8; 16] = std::array::from_fn(|k| k as i8);
    // SAFETY: `at` is 16 bytes; SSE2 is part of x86_64.
    unsafe { _mm_cmpgt_epi8(_mm_set1_epi8(n as i8), _mm_loadu_si128(at.as_ptr().cast())) }
}

/// Copies `n` bytes from `src` to `dst`: pieces of 32 bytes, the last one
/// overlapping the one before it, or below 32 two overlapping pieces of
/// 16, 8 or 4 bytes (no call of `memcpy` per row).
///
/// # Safety
/// `src` holds `n` readable bytes, `dst` `n` writable ones, apart; AVX2.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn copy_row(src: *const u8, dst: *mut u8, n: usize) {
    // SAFETY: every load and store lies within the `n` bytes of each
    // (`two_pieces` of a `T` no wider than `n`).
    unsafe {
        match n {
            32.. => {
                let mut at = 0;
                while at + 32 <= n {
                    let v = _mm256_loadu_si256(src.add(at).cast());
                    _mm256_storeu_si256(dst.add(at).cast(), v);
                    at += 32;
                }
                if at < n {
                    let v = _mm256_loadu_si256(src.add(n - 32).cast());
                    _mm256_storeu_si256(dst.add(n - 32).cast(), v);
                }
            }
            16.. => two_pieces::<__m128i>(src, dst, n),
            8.. => two_pieces::<u64>(src, dst, n),
            4.. => two_pieces::<u32>(src, dst, n),
            _ => std::ptr::copy_nonoverlapping(src, dst, n),
        }
    }
}

/// Copies `n` bytes as two `T`s, at the start and at the end (overlapping
/// unless `n` is twice `T`'s size).
///
/// # Safety
/// As [`copy_row`], and `size_of::<T>() <= n`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn two_pieces<T>(src: *const u8, dst: *mut u8, n: usize) {
    let last = n - std::mem::size_of::<T>();
    // SAFETY: both pieces lie within the `n` bytes of each.
    unsafe {
        let (a, b) = (
            src.cast::<T>().read_unaligned(),
            src.add(last).cast::<T>().read_unaligned(),
        );
        dst.cast::<T>().write_unaligned(a);
        dst.add(last).cast::<T>().write_unaligned(b);
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    /// Every row's `n` bytes arrive; with `After::Nothing` no other byte
    /// changes, with `After::Zeros` the others are unchanged or zero, with
    /// `After::Source` (rows back to back) nothing after the last row
    /// changes.
    #[test]
    fn rows_arrive_and_only_the_bytes_allowed_change() {
        if !std::is_x86_feature_detected!("avx2") {
            return;
        }
        for n in 1..=40 {
            for rows in 1..=4 {
                for after in [After::Nothing, After::Zeros, After::Source] {
                    let src_pitch = n + n % 3;
                    let dst_pitch = if after == After::Source {
                        n
                    } else {
                        n + 1 + n % 2
                    };
                    let src: Vec<u8> = (0..src_pitch * rows + 64)
                        .map(|i| (i % 251 + 1) as u8)
                        .collect();
                    let mut dst = vec![0xEEu8; dst_pitch * rows + 64];
                    // SAFETY: the rows and 32 bytes after each lie in both
                    // vectors; AVX2 is present.
                    unsafe {
                        copy_rows(
                            (src.as_ptr(), src_pitch),
                            (dst.as_mut_ptr(), dst_pitch),
                            n,
                            rows,
                            after,
                        )
                    };
                    for (i, &b) in dst.iter().enumerate() {
                        let (r, col) = (i / dst_pitch, i % dst_pitch);
                        if r < rows && col < n {
                            assert_eq!(
                                b,
                                src[r * src_pitch + col],
                                "n {n} rows {rows} {after:?} at {i}"
                            );
                        } else if after == After::Nothing || i >= dst_pitch * (rows - 1) + n {
                            assert_eq!(b, 0xEE, "n {n} rows {rows} {after:?} at {i}");
                        } else if after == After::Zeros {
                            assert!(b == 0 || b == 0xEE, "n {n} rows {rows} at {i}");
                        }
                    }
                }
            }
        }
    }
}
