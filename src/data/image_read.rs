//! Reading one image of a data file straight into a buffer layout
//! ([`ImageLayout`]): the JIT's input buffers in their own element width
//! (`u8` stays a byte, the halo skipped while copying) or the interpreter's
//! dense `i128`s.
//!
//! Exactly the rules of [`npy_to_raw`] (see `docs/semantics.md`, data files)
//! plus the input's per-channel ranges, checked row by row: an integer row
//! is validated by its minimum and maximum (a loop the compiler vectorizes)
//! and, when the file's element is the buffer's element, copied as it is. A
//! row that fails the fast test is redone element by element by the exact
//! per-value code, which names the first offending element.

use super::convert::{npy_to_raw, TypeInfo, ValueError};
use super::dtype::{ByteOrder, Dtype};
use super::float::f16_to_f64;
use super::layout::{
    all_within, copy_row, int_range, row_bounds, with_native, ElemType, ImageLayout, Native,
};
use super::npy::{decode, NpyArray};
use super::view::ArrayView;
use crate::tensor::unravel;
use crate::types::ScalarType;

/// Why an image was not read.
#[derive(Clone, Debug, PartialEq)]
pub enum ReadFault {
    /// A value the type cannot hold; its index is within the image.
    Value(ValueError),
    /// A value of the type outside the input's proven range for its channel
    /// (raw at the type's storage fraction; `flat` in C order within the image).
    Range {
        flat: usize,
        channel: usize,
        raw: i128,
    },
    /// The view's bytes end before its shape does.
    Payload,
}

/// How the elements of a file are read as one input's values.
#[derive(Clone, Debug)]
pub struct ImageReader {
    dtype: Dtype,
    ty: ScalarType,
    raw_mode: bool,
    info: TypeInfo,
    /// Per channel: the codes accepted (type range and proven range).
    codes: Vec<(i128, i128)>,
    /// 2^frac_bits, to turn a float into its code.
    scale: f64,
    /// Integer elements of the buffer's width read as raw values: copied.
    direct: bool,
    dims: Vec<usize>,
    layout: ImageLayout,
}

impl ImageReader {
    /// A reader of `dtype` elements as values of `ty` shaped `dims`, into
    /// `layout`; `channel_ranges` are the raw ranges (at the type's storage
    /// fraction) per channel of the layout, empty for the type's own range.
    /// The errors are [`npy_to_raw`]'s for a dtype that cannot be read as `ty`.
    pub fn new(
        dtype: Dtype,
        ty: &ScalarType,
        raw_mode: bool,
        channel_ranges: &[(i128, i128)],
        dims: &[usize],
        layout: ImageLayout,
    ) -> Result<ImageReader, ValueError> {
        let info = TypeInfo::new(ty)?;
        if ty.fixed && (raw_mode == dtype.is_float()) {
            return Err(ValueError::WrongDtype {
                dtype,
                ty: *ty,
                raw_mode,
            });
        }
        let up = info.up;
        let codes = (0..layout.channels)
            .map(|c| {
                let (lo, hi) = channel_ranges
                    .get(c)
                    .copied()
                    .unwrap_or((i128::MIN, i128::MAX));
                // Codes whose raw value `code << up` lies in lo..=hi.
                let lo = lo.saturating_add((1i128 << up) - 1) >> up;
                (lo.max(info.code_lo), (hi >> up).min(info.code_hi))
            })
            .collect();
        let scale = f64::from_bits(((1023 + info.frac_bits) as u64) << 52);
        let direct = !dtype.is_float()
            && dtype != Dtype::Bool
            && dtype.itemsize() == layout.elem.bytes
            && info.up == 0;
        Ok(ImageReader {
            dtype,
            ty: *ty,
            raw_mode,
            info,
            codes,
            scale,
            direct,
            dims: dims.to_vec(),
            layout,
        })
    }

    pub fn layout(&self) -> &ImageLayout {
        &self.layout
    }

    /// Reads `image` (shaped like the input) into `dst`, which holds the
    /// layout; only the image's elements are written. `scratch` receives the
    /// elements when they are not C-order little-endian already.
    pub fn read(
        &self,
        image: &ArrayView,
        dst: &mut [u8],
        scratch: &mut Vec<u8>,
    ) -> Result<(), ReadFault> {
        let l = self.layout;
        if dst.len() < l.span_bytes() || image.dtype != self.dtype {
            return Err(ReadFault::Payload);
        }
        let src = image.c_order_le(scratch).ok_or(ReadFault::Payload)?;
        let size = self.dtype.itemsize();
        let (w, eb) = (l.width, l.elem.bytes);
        let plane = l.height * w;
        for c in 0..l.channels {
            // The common case: the file's integers are the buffer's elements;
            // one bounds check over the channel's plane, then a copy per row.
            let (lo, hi) = self.codes[c];
            let values = &src[c * plane * size..(c + 1) * plane * size];
            // A dtype whose every value is accepted (u8 data for a u8 input
            // of full range) needs no bounds check at all.
            let (dtype_lo, dtype_hi) = int_range(size, self.dtype_signed());
            if self.direct
                && ((lo <= dtype_lo && dtype_hi <= hi)
                    || all_within(values, size, self.dtype_signed(), lo, hi) == Some(true))
            {
                copy_plane_in(&l, c, values, dst);
                continue;
            }
            for y in 0..l.height {
                let first = (c * l.height + y) * w;
                let row = &src[first * size..(first + w) * size];
                let start = l.row_start(c, y);
                let out = &mut dst[start..start + w * eb];
                let codes = self.codes[c];
                if !self.fast_row(row, out, codes) {
                    self.exact_row(row, out, first, c)?;
                }
            }
        }
        Ok(())
    }

    /// The image's own bytes when they already are `dst` as [`Self::read`]
    /// would write it, so that a backend can read them in place: integers
    /// of the buffer's width taken as raw values (no conversion), C order
    /// and little-endian, a layout without halo or gaps, elements aligned
    /// to their width, and every value within its channel's accepted codes
    /// (checked here by minimum and maximum, as `read` does). `None`: read
    /// the image with [`Self::read`], which also words any error.
    pub fn in_place<'v>(&self, image: &ArrayView<'v>) -> Option<&'v [u8]> {
        let l = self.layout;
        let dense =
            l.origin == 0 && l.row_stride == l.width && l.channel_stride == l.height * l.width;
        let size = self.dtype.itemsize();
        if !self.direct
            || !dense
            || image.dtype != self.dtype
            || image.len() != l.len()
            || !image.is_c_contiguous_le()
        {
            return None;
        }
        let bytes = image.bytes.get(..l.span_bytes())?;
        if !(bytes.as_ptr() as usize).is_multiple_of(size) {
            return None;
        }
        let plane = l.height * l.width * size;
        let signed = self.dtype_signed();
        let (dtype_lo, dtype_hi) = int_range(size, signed);
        let accepted = |(c, &(lo, hi)): (usize, &(i128, i128))| {
            (lo <= dtype_lo && dtype_hi <= hi)
                || all_within(&bytes[c * plane..(c + 1) * plane], size, signed, lo, hi)
                    == Some(true)
        };
        self.codes.iter().enumerate().all(accepted).then_some(bytes)
    }

    /// Whether the file's integer elements are signed.
    fn dtype_signed(&self) -> bool {
        self.dtype.is_signed() && !self.dtype.is_float()
    }

    /// The fast path: `false` when some element needs a closer look.
    fn fast_row(&self, row: &[u8], out: &mut [u8], (lo, hi): (i128, i128)) -> bool {
        let elem = self.layout.elem;
        let up = self.info.up;
        let d = self.dtype;
        if d.is_float() {
            return match d {
                Dtype::F64 => float_row(row, out, elem, self.scale, up, lo, hi, |b| {
                    f64::from_le_bytes(le8(b))
                }),
                Dtype::F32 => float_row(row, out, elem, self.scale, up, lo, hi, |b| {
                    f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                }),
                _ => float_row(row, out, elem, self.scale, up, lo, hi, |b| {
                    f16_to_f64(u16::from_le_bytes([b[0], b[1]]))
                }),
            };
        }
        if d == Dtype::Bool {
            // numpy's bool is one byte, any non-zero byte true.
            if row.iter().any(|&b| b > 1) {
                return false;
            }
        }
        let signed = d.is_signed() && d != Dtype::Bool;
        with_native!((d.itemsize(), signed), T => int_row::<T>(row, out, elem, up, lo, hi), else => false)
    }

    /// Element by element with the exact conversion of [`npy_to_raw`].
    fn exact_row(
        &self,
        row: &[u8],
        out: &mut [u8],
        first: usize,
        channel: usize,
    ) -> Result<(), ReadFault> {
        let size = self.dtype.itemsize();
        let eb = self.layout.elem.bytes;
        let (lo, hi) = self.codes[channel];
        for (x, element) in row.chunks_exact(size).enumerate() {
            let one = NpyArray {
                shape: vec![1],
                dtype: self.dtype,
                data: decode(element, self.dtype, ByteOrder::Little),
            };
            let raw = match npy_to_raw(&one, &self.ty, self.raw_mode) {
                Ok(v) => v[0],
                Err(ValueError::Element {
                    value, ty, problem, ..
                }) => {
                    return Err(ReadFault::Value(ValueError::Element {
                        index: unravel(first + x, &self.dims),
                        value,
                        ty,
                        problem,
                    }))
                }
                Err(e) => return Err(ReadFault::Value(e)),
            };
            let code = raw >> self.info.up;
            if code < lo || code > hi {
                return Err(ReadFault::Range {
                    flat: first + x,
                    channel,
                    raw,
                });
            }
            store_wide(&mut out[x * eb..(x + 1) * eb], raw);
        }
        Ok(())
    }
}

fn le8(b: &[u8]) -> [u8; 8] {
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    a
}

/// Stores the low `out.len()` bytes of `v`, little-endian.
#[inline(always)]
fn store_wide(out: &mut [u8], v: i128) {
    out.copy_from_slice(&v.to_le_bytes()[..out.len()]);
}

/// An integer row of `T`s: bounds in `T`'s width, then a copy when the
/// buffer's element is `T`'s width and codes are raw values (every value in
/// range has the same bytes as a `T` and as the element), else a store per
/// value into the element's width.
#[inline]
fn int_row<T: Native>(
    row: &[u8],
    out: &mut [u8],
    elem: ElemType,
    up: u32,
    lo: i128,
    hi: i128,
) -> bool {
    let Some((min, max)) = row_bounds::<T>(row) else {
        return true;
    };
    if min.wide() < lo || max.wide() > hi {
        return false;
    }
    if T::BYTES == elem.bytes && up == 0 {
        out.copy_from_slice(row);
        return true;
    }
    with_native!((elem.bytes, elem.signed), E => {
        for (slot, v) in out.chunks_exact_mut(E::BYTES).zip(row.chunks_exact(T::BYTES)) {
            E::store(E::from_wide(T::load(v).wide() << up), slot);
        }
        true
    }, else => false)
}

/// A float row: `x * 2^frac_bits` must be an integer code in `lo..=hi`. The
/// product is exact whenever it is an integer of magnitude at least 1 (a
/// normal float times a power of two), and 0 only comes from 0.
#[allow(clippy::too_many_arguments)]
#[inline]
fn float_row(
    row: &[u8],
    out: &mut [u8],
    elem: ElemType,
    scale: f64,
    up: u32,
    lo: i128,
    hi: i128,
    load: impl Fn(&[u8]) -> f64,
) -> bool {
    let size = row.len() / (out.len() / elem.bytes).max(1);
    for (slot, b) in out.chunks_exact_mut(elem.bytes).zip(row.chunks_exact(size)) {
        let x = load(b);
        let y = x * scale;
        if !(y.is_finite() && y == y.trunc() && (y != 0.0 || x == 0.0)) {
            return false;
        }
        let code = y as i128;
        if code < lo || code > hi {
            return false;
        }
        store_wide(slot, code << up);
    }
    true
}

/// Copies channel `c`'s plane, `values` (C order, the layout's element
/// width), into its rows of `dst`: one copy when the layout's rows follow
/// each other, else row by row around the halo.
fn copy_plane_in(l: &ImageLayout, c: usize, values: &[u8], dst: &mut [u8]) {
    let row = l.width * l.elem.bytes;
    let start = l.row_start(c, 0);
    if l.row_stride == l.width {
        copy_row(&mut dst[start..start + values.len()], values);
        return;
    }
    for (y, src) in values.chunks_exact(row.max(1)).enumerate() {
        let start = l.row_start(c, y);
        copy_row(&mut dst[start..start + row], src);
    }
}
