//! Writing one image of an output from a buffer layout ([`ImageLayout`])
//! into a data file's payload, in the dtype [`npy_dtype_for`] chooses:
//! exactly the bytes [`raw_to_npy`] writes, without widening every value.
//!
//! An integer row whose buffer element has the dtype's width is checked by
//! its bounds and copied; a fixed-point row becomes `float64` by one exact
//! multiplication per value while the code has at most 53 bits. Anything
//! else (and every row that fails its fast test) goes through the exact
//! per-value code of [`raw_to_npy`], which also names a bad value.

use super::convert::{npy_dtype_for, raw_to_npy, TypeInfo, ValueError};
use super::dtype::Dtype;
use super::layout::{
    all_within, copy_row, int_range, row_bounds, with_native, ElemType, ImageLayout, Native,
};
use crate::tensor::unravel;
use crate::types::ScalarType;

/// How an output's values are written to its file.
#[derive(Clone, Debug)]
pub struct ImageWriter {
    dtype: Dtype,
    ty: ScalarType,
    raw_mode: bool,
    info: TypeInfo,
    /// 2^-frac_bits: a code's value as a float.
    scale: f64,
    dims: Vec<usize>,
    layout: ImageLayout,
}

impl ImageWriter {
    /// A writer of values of `ty` shaped `dims`, held in `layout`.
    pub fn new(
        ty: &ScalarType,
        raw_mode: bool,
        dims: &[usize],
        layout: ImageLayout,
    ) -> Result<ImageWriter, ValueError> {
        let info = TypeInfo::new(ty)?;
        let scale = f64::from_bits(((1023 - info.frac_bits) as u64) << 52);
        Ok(ImageWriter {
            dtype: npy_dtype_for(ty, raw_mode),
            ty: *ty,
            raw_mode,
            info,
            scale,
            dims: dims.to_vec(),
            layout,
        })
    }

    /// The file's dtype.
    pub fn dtype(&self) -> Dtype {
        self.dtype
    }

    pub fn layout(&self) -> &ImageLayout {
        &self.layout
    }

    /// Bytes of one image in the file.
    pub fn image_bytes(&self) -> usize {
        self.layout.len() * self.dtype.itemsize()
    }

    /// Whether the encoded image is the layout's bytes as they are: a dense
    /// layout whose element is the dtype's (no float, no scaling) and holds
    /// only values of the type, so [`Self::write`] would copy without a
    /// check. A backend may then store the image straight into the file's
    /// bytes.
    pub fn is_plain_copy(&self) -> bool {
        let l = &self.layout;
        let e = l.elem;
        let (elem_lo, elem_hi) = int_range(e.bytes, e.signed);
        l.origin == 0
            && l.row_stride == l.width
            && l.channel_stride == l.height * l.width
            && self.dtype != Dtype::F64
            && self.dtype.itemsize() == e.bytes
            && self.dtype.is_signed() == e.signed
            && self.info.up == 0
            && self.info.code_lo <= elem_lo
            && elem_hi <= self.info.code_hi
    }

    /// Encodes the image held in `src` (the layout) into `dst`
    /// ([`Self::image_bytes`] long). A value that cannot be written is
    /// [`raw_to_npy`]'s error, its index within the image.
    pub fn write(&self, src: &[u8], dst: &mut [u8]) -> Result<(), ValueError> {
        let l = self.layout;
        if src.len() < l.span_bytes() || dst.len() != self.image_bytes() {
            return Err(ValueError::LengthMismatch {
                shape: self.dims.clone(),
                len: dst.len() / self.dtype.itemsize(),
            });
        }
        let size = self.dtype.itemsize();
        let (w, eb) = (l.width, l.elem.bytes);
        let plane = l.height * w;
        let direct = self.dtype != Dtype::F64 && size == eb && self.info.up == 0;
        for c in 0..l.channels {
            // The common case: elements of the dtype's width; copy the rows,
            // then one bounds check over the written plane.
            if direct {
                let plane_bytes = plane * size;
                copy_plane_out(&l, c, src, &mut dst[c * plane_bytes..(c + 1) * plane_bytes]);
                let written = &dst[c * plane * size..(c + 1) * plane * size];
                let (lo, hi) = (self.info.code_lo, self.info.code_hi);
                // Elements whose every value the type holds need no check.
                let (elem_lo, elem_hi) = int_range(eb, l.elem.signed);
                if (lo <= elem_lo && elem_hi <= hi)
                    || all_within(written, eb, l.elem.signed, lo, hi) == Some(true)
                {
                    continue;
                }
            }
            for y in 0..l.height {
                let first = (c * l.height + y) * w;
                let start = l.row_start(c, y);
                let row = &src[start..start + w * eb];
                let out = &mut dst[first * size..(first + w) * size];
                if !self.fast_row(row, out) {
                    self.exact_row(row, out, first)?;
                }
            }
        }
        Ok(())
    }

    fn fast_row(&self, row: &[u8], out: &mut [u8]) -> bool {
        let e = self.layout.elem;
        let i = &self.info;
        if self.dtype == Dtype::F64 {
            return with_native!((e.bytes, e.signed), E => float_row::<E>(row, out, i, self.scale), else => false);
        }
        let signed = self.dtype.is_signed();
        with_native!((e.bytes, e.signed), E => {
            with_native!((self.dtype.itemsize(), signed), D => int_row::<E, D>(row, out, e, i), else => false)
        }, else => false)
    }

    /// Value by value through [`raw_to_npy`].
    fn exact_row(&self, row: &[u8], out: &mut [u8], first: usize) -> Result<(), ValueError> {
        let size = self.dtype.itemsize();
        let elem = self.layout.elem;
        for (x, slot) in out.chunks_exact_mut(size).enumerate() {
            let raw = load_wide(&row[x * elem.bytes..(x + 1) * elem.bytes], elem);
            match raw_to_npy(&[1], &[raw], &self.ty, self.raw_mode) {
                Ok(file) => slot.copy_from_slice(&file[file.len() - size..]),
                Err(ValueError::Element {
                    value, ty, problem, ..
                }) => {
                    return Err(ValueError::Element {
                        index: unravel(first + x, &self.dims),
                        value,
                        ty,
                        problem,
                    })
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// An element of a buffer as an exact integer (for the rare exact path).
fn load_wide(bytes: &[u8], elem: ElemType) -> i128 {
    let mut raw = [0u8; 16];
    raw[..bytes.len()].copy_from_slice(bytes);
    let v = i128::from_le_bytes(raw);
    if elem.signed && bytes.len() < 16 {
        let shift = 128 - 8 * bytes.len() as u32;
        (v << shift) >> shift
    } else {
        v
    }
}

/// Integer codes: a raw value is its code shifted left by `up`, written in
/// the dtype's width `D`. Same widths and no shift: bounds, then a copy
/// (a value in the type's range has the same bytes as an `E` and as a `D`).
#[inline]
fn int_row<E: Native, D: Native>(row: &[u8], out: &mut [u8], e: ElemType, i: &TypeInfo) -> bool {
    if i.up == 0 && E::BYTES == D::BYTES && e.bytes == E::BYTES {
        let Some((min, max)) = row_bounds::<E>(row) else {
            return true;
        };
        if min.wide() < i.code_lo || max.wide() > i.code_hi {
            return false;
        }
        out.copy_from_slice(row);
        return true;
    }
    let mask = (1i128 << i.up) - 1;
    for (slot, v) in out
        .chunks_exact_mut(D::BYTES)
        .zip(row.chunks_exact(E::BYTES))
    {
        let raw = E::load(v).wide();
        let code = raw >> i.up;
        if raw & mask != 0 || code < i.code_lo || code > i.code_hi {
            return false;
        }
        D::store(D::from_wide(code), slot);
    }
    true
}

/// Fixed-point codes as `float64`: exact while the code has at most 53
/// bits (`code as f64` is then exact, and so is the product by a power of
/// two in the normal range that `TypeInfo` guarantees).
#[inline]
fn float_row<E: Native>(row: &[u8], out: &mut [u8], i: &TypeInfo, scale: f64) -> bool {
    const EXACT: i64 = 1 << 53;
    let (lo, hi) = (i.code_lo, i.code_hi);
    let mask = (1i64 << i.up) - 1;
    for (slot, v) in out.chunks_exact_mut(8).zip(row.chunks_exact(E::BYTES)) {
        let Some(raw) = E::load(v).to_i64() else {
            return false;
        };
        let code = raw >> i.up;
        if raw & mask != 0 || !(-EXACT..=EXACT).contains(&code) {
            return false;
        }
        if i128::from(code) < lo || i128::from(code) > hi {
            return false;
        }
        slot.copy_from_slice(&((code as f64) * scale).to_le_bytes());
    }
    true
}

/// Copies channel `c`'s rows of `src` (the layout) into `out`, its plane in
/// C order: one copy when the layout's rows follow each other, else row by row.
fn copy_plane_out(l: &ImageLayout, c: usize, src: &[u8], out: &mut [u8]) {
    let row = l.width * l.elem.bytes;
    let start = l.row_start(c, 0);
    if l.row_stride == l.width {
        copy_row(out, &src[start..start + out.len()]);
        return;
    }
    for (y, dst) in out.chunks_exact_mut(row.max(1)).enumerate() {
        let start = l.row_start(c, y);
        copy_row(dst, &src[start..start + row]);
    }
}
