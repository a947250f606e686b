//! The last, short piece of a row moved as the binary digits of its
//! length (fixed-size moves: no `memcpy` call per row, no byte stored
//! twice). Overlapping stores, such as a row's last 64 bytes stored again
//! over the ones before, cost more than the same bytes stored once on the
//! Xeon these kernels were measured on (a C micro-benchmark of a 64 x 64 x
//! 64 pad by one: 20.7 us with a fill and an overlapping copy per row,
//! 7.8 us with one vector and one 2-byte store per row).

/// Bytes of a register: what a piece holds.
pub(super) const VECTOR: usize = 64;

/// The first `dst.len()` (at most 64) bytes of `v` into `dst`: one vector
/// store when the piece is whole, else the length's binary digits as
/// fixed-size moves (no `memcpy` call, no byte written twice).
#[inline(always)]
pub(super) fn store(dst: &mut [u8], v: &[u8; VECTOR]) {
    let n = dst.len();
    if n == VECTOR {
        dst.copy_from_slice(v);
        return;
    }
    let mut at = 0;
    macro_rules! part {
        ($size:expr) => {
            if n - at >= $size {
                dst[at..at + $size].copy_from_slice(&v[at..at + $size]);
                at += $size;
            }
        };
    }
    part!(32);
    part!(16);
    part!(8);
    part!(4);
    part!(2);
    part!(1);
    debug_assert_eq!(at, n);
}

/// `dst.copy_from_slice(src)` for a piece of at most 64 bytes, as the
/// length's binary digits in fixed-size moves, straight from `src` to
/// `dst` (no register in between to fill first).
#[inline(always)]
pub(super) fn copy(dst: &mut [u8], src: &[u8]) {
    let n = dst.len();
    debug_assert!(n <= VECTOR && src.len() == n);
    let mut at = 0;
    macro_rules! part {
        ($size:expr) => {
            if n - at >= $size {
                dst[at..at + $size].copy_from_slice(&src[at..at + $size]);
                at += $size;
            }
        };
    }
    part!(32);
    part!(16);
    part!(8);
    part!(4);
    part!(2);
    part!(1);
    debug_assert_eq!(at, n);
}

/// The first `src.len()` (at most 64) bytes of a piece from `src`, the
/// rest zero; moves as in [`store`].
#[inline(always)]
pub(super) fn load(src: &[u8]) -> [u8; VECTOR] {
    let mut v = [0u8; VECTOR];
    let n = src.len().min(VECTOR);
    if n == VECTOR {
        v.copy_from_slice(&src[..VECTOR]);
        return v;
    }
    let mut at = 0;
    macro_rules! part {
        ($size:expr) => {
            if n - at >= $size {
                v[at..at + $size].copy_from_slice(&src[at..at + $size]);
                at += $size;
            }
        };
    }
    part!(32);
    part!(16);
    part!(8);
    part!(4);
    part!(2);
    part!(1);
    debug_assert_eq!(at, n);
    v
}

/// The 64 bytes of `x` from byte `from`, as far as `x` has them (the rest
/// zero): one vector load where it has all 64, which the callers mask or
/// store in part (bytes past a row are another row's or a halo's).
#[inline(always)]
pub(super) fn load_at(x: &[u8], from: usize) -> [u8; VECTOR] {
    match x.get(from..from + VECTOR) {
        Some(v) => *<&[u8; VECTOR]>::try_from(v).expect("a vector"),
        None => load(x.get(from..).unwrap_or(&[])),
    }
}
