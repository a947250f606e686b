//! Where one image's values sit in memory: a `[C][H][W]` interior inside a
//! possibly larger buffer (the JIT's buffers carry a zero halo around each
//! plane), each element a little-endian integer of a given width.
//!
//! The readers and writers of `image_read` / `image_write` copy between a
//! file's payload and any such layout, so the same code fills the JIT's
//! input buffers (`u8` stays one byte, the halo skipped while copying), the
//! interpreter's dense `i128` tensors, and later a caller's own arrays.

/// One stored element: `bytes` wide (1, 2, 4, 8 or 16), little-endian, two's
/// complement when `signed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ElemType {
    pub bytes: usize,
    pub signed: bool,
}

impl ElemType {
    /// The exact `i128` the interpreter works on.
    pub const WIDE: ElemType = ElemType {
        bytes: 16,
        signed: true,
    };
}

/// An image of `channels x height x width` elements of `elem`, row `(c, y)`
/// starting at element `origin + c * channel_stride + y * row_stride`, its
/// `width` elements contiguous.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageLayout {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub row_stride: usize,
    pub channel_stride: usize,
    pub origin: usize,
    pub elem: ElemType,
}

impl ImageLayout {
    /// A C-order layout without gaps.
    pub fn dense(channels: usize, height: usize, width: usize, elem: ElemType) -> ImageLayout {
        ImageLayout {
            channels,
            height,
            width,
            row_stride: width,
            channel_stride: height * width,
            origin: 0,
            elem,
        }
    }

    /// Values in the image.
    pub fn len(&self) -> usize {
        self.channels * self.height * self.width
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Byte offset of the first element of row `(c, y)`.
    pub fn row_start(&self, c: usize, y: usize) -> usize {
        (self.origin + c * self.channel_stride + y * self.row_stride) * self.elem.bytes
    }

    /// Bytes a buffer needs to hold the image: up to the end of its last row.
    pub fn span_bytes(&self) -> usize {
        if self.is_empty() {
            return 0;
        }
        self.row_start(self.channels - 1, self.height - 1) + self.width * self.elem.bytes
    }
}

/// Calls `$body` with `$t` the native type of an integer element
/// (`ElemType` or an integer `Dtype` as `(bytes, signed)`).
macro_rules! with_native {
    (($bytes:expr, $signed:expr), $t:ident => $body:expr, else => $other:expr) => {
        match ($bytes, $signed) {
            (1, false) => {
                type $t = u8;
                $body
            }
            (1, true) => {
                type $t = i8;
                $body
            }
            (2, false) => {
                type $t = u16;
                $body
            }
            (2, true) => {
                type $t = i16;
                $body
            }
            (4, false) => {
                type $t = u32;
                $body
            }
            (4, true) => {
                type $t = i32;
                $body
            }
            (8, false) => {
                type $t = u64;
                $body
            }
            (8, true) => {
                type $t = i64;
                $body
            }
            (16, true) => {
                type $t = i128;
                $body
            }
            _ => $other,
        }
    };
}
pub(crate) use with_native;

/// Fixed-width little-endian integers the readers and writers handle
/// without widening: loads, bounds and stores stay in the element's own width.
pub(crate) trait Native: Copy + Ord {
    const BYTES: usize;
    /// From exactly `BYTES` little-endian bytes.
    fn load(bytes: &[u8]) -> Self;
    fn wide(self) -> i128;
    fn to_i64(self) -> Option<i64>;
    /// The low bits of `v` (a value known to fit).
    fn from_wide(v: i128) -> Self;
    fn store(self, out: &mut [u8]);
}

macro_rules! native {
    ($($t:ty),*) => {$(
        impl Native for $t {
            const BYTES: usize = std::mem::size_of::<$t>();
            #[inline(always)]
            fn load(bytes: &[u8]) -> Self {
                let mut a = [0u8; std::mem::size_of::<$t>()];
                a.copy_from_slice(bytes);
                <$t>::from_le_bytes(a)
            }
            #[inline(always)]
            fn wide(self) -> i128 {
                self as i128
            }
            #[inline(always)]
            fn to_i64(self) -> Option<i64> {
                i64::try_from(self).ok()
            }
            #[inline(always)]
            fn from_wide(v: i128) -> Self {
                v as $t
            }
            #[inline(always)]
            fn store(self, out: &mut [u8]) {
                out.copy_from_slice(&self.to_le_bytes());
            }
        }
    )*};
}

native!(u8, i8, u16, i16, u32, i32, u64, i64, i128);

/// The smallest and largest element of a row of `T`s (`None` when empty).
/// Sixteen running minima and maxima, one per lane of a block, so that the
/// compiler turns the loop into vector min / max; then the tail.
#[inline]
pub(crate) fn row_bounds<T: Native>(row: &[u8]) -> Option<(T, T)> {
    const LANES: usize = 16;
    let first = T::load(row.get(..T::BYTES)?);
    let mut lo = [first; LANES];
    let mut hi = [first; LANES];
    let blocks = row.chunks_exact(LANES * T::BYTES);
    let tail = blocks.remainder();
    for block in blocks {
        for (l, v) in block.chunks_exact(T::BYTES).enumerate() {
            let v = T::load(v);
            lo[l] = lo[l].min(v);
            hi[l] = hi[l].max(v);
        }
    }
    let mut min = lo.iter().copied().fold(first, T::min);
    let mut max = hi.iter().copied().fold(first, T::max);
    for v in tail.chunks_exact(T::BYTES).map(T::load) {
        min = min.min(v);
        max = max.max(v);
    }
    Some((min, max))
}

/// The smallest and largest integer `bytes_per` bytes hold (1..=8).
pub(crate) fn int_range(bytes_per: usize, signed: bool) -> (i128, i128) {
    let bits = 8 * bytes_per.clamp(1, 8) as u32;
    if signed {
        (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
    } else {
        (0, (1i128 << bits) - 1)
    }
}

/// Whether every integer element of `bytes` (`bytes_per` wide, `signed`)
/// lies in `lo..=hi`; `None` for a width without a native type.
pub(crate) fn all_within(
    bytes: &[u8],
    bytes_per: usize,
    signed: bool,
    lo: i128,
    hi: i128,
) -> Option<bool> {
    with_native!((bytes_per, signed), T => Some(match row_bounds::<T>(bytes) {
        Some((min, max)) => min.wide() >= lo && max.wide() <= hi,
        None => true,
    }), else => None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_of_a_haloed_buffer() {
        // [2][4][5] with a one-element halo: interior 2 x 2 x 3.
        let l = ImageLayout {
            channels: 2,
            height: 2,
            width: 3,
            row_stride: 5,
            channel_stride: 20,
            origin: 6,
            elem: ElemType {
                bytes: 2,
                signed: true,
            },
        };
        assert_eq!(l.row_start(0, 0), 12);
        assert_eq!(l.row_start(1, 1), (6 + 20 + 5) * 2);
        assert_eq!(l.span_bytes(), (6 + 20 + 5 + 3) * 2);
        assert_eq!(
            ImageLayout::dense(2, 3, 4, ElemType::WIDE).span_bytes(),
            24 * 16
        );
    }

    #[test]
    fn bounds_in_the_elements_own_width() {
        let row: Vec<u8> = [-3i16, 7, -300, 12]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(row_bounds::<i16>(&row), Some((-300, 12)));
        assert_eq!(row_bounds::<u8>(&[9, 2, 250]), Some((2, 250)));
        assert_eq!(row_bounds::<u32>(&[]), None);
    }
}
