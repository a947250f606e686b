//! The NumPy `.npy` format, versions 1.0, 2.0 and 3.0, for the numeric dtypes
//! Convoy exchanges: `bool`, `int8..int64`, `uint8..uint64`, `float16..float64`.
//!
//! Layout (numpy's `numpy/lib/format.py`): the magic `\x93NUMPY`, a major and a
//! minor version byte, the header length (little-endian `u16` for 1.0, `u32`
//! for 2.0 and 3.0), then the header: a Python dict literal with the keys
//! `'descr'` (the dtype string, e.g. `'<i2'`), `'fortran_order'` and `'shape'`
//! (a tuple), latin-1 text (UTF-8 for 3.0) padded with spaces and a newline.
//! The array data follows, `product(shape) * itemsize` bytes.
//!
//! Parsing works on a byte slice, never panics, and checks every size before
//! allocating: a hostile header cannot make it allocate more than a small
//! multiple of the input's length.

use super::dtype::{ByteOrder, Dtype};
use super::float::{f16_to_f64, f64_to_f16};
use super::npy_error::NpyError;
pub use super::npy_header::{parse_npy_header, write_npy_header, NpyHeader, MAGIC};

/// Element values, in C (row-major) order.
#[derive(Clone, Debug, PartialEq)]
pub enum NpyData {
    /// `bool` (as 0 / 1) and every integer dtype, exactly.
    Int(Vec<i128>),
    /// `float16`, `float32`, `float64`, exactly (every such value is an `f64`).
    Float(Vec<f64>),
}

impl NpyData {
    pub fn len(&self) -> usize {
        match self {
            NpyData::Int(v) => v.len(),
            NpyData::Float(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A decoded `.npy` array: data in C order whatever the file's layout, native
/// values whatever its byte order.
#[derive(Clone, Debug, PartialEq)]
pub struct NpyArray {
    pub shape: Vec<usize>,
    pub dtype: Dtype,
    pub data: NpyData,
}

/// Parses a complete `.npy` file.
pub fn parse_npy(bytes: &[u8]) -> Result<NpyArray, NpyError> {
    let header = parse_npy_header(bytes)?;
    let data = &bytes[header.data_offset..];
    let expected = header.data_len()?;
    // Checked before decoding, so allocation is bounded by the input's size.
    if data.len() != expected {
        return Err(NpyError::DataLength {
            expected,
            found: data.len(),
        });
    }
    let mut values = decode(data, header.dtype, header.order);
    if header.fortran_order {
        values = match values {
            NpyData::Int(v) => NpyData::Int(fortran_to_c(&header.shape, &v)),
            NpyData::Float(v) => NpyData::Float(fortran_to_c(&header.shape, &v)),
        };
    }
    Ok(NpyArray {
        shape: header.shape,
        dtype: header.dtype,
        data: values,
    })
}

/// The number of elements of `shape`, `None` if it overflows `usize`.
pub fn element_count(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

/// Reads an unsigned integer of `chunk.len()` bytes (at most 8).
fn read_unsigned(chunk: &[u8], order: ByteOrder) -> u64 {
    let fold = |acc: u64, &b: &u8| (acc << 8) | u64::from(b);
    match order {
        ByteOrder::Little => chunk.iter().rev().fold(0, fold),
        ByteOrder::Big => chunk.iter().fold(0, fold),
    }
}

pub(crate) fn decode(data: &[u8], dtype: Dtype, order: ByteOrder) -> NpyData {
    let size = dtype.itemsize();
    let units = data.chunks_exact(size).map(|c| read_unsigned(c, order));
    let bits = 8 * size as u32;
    match dtype {
        Dtype::Bool => NpyData::Int(units.map(|u| i128::from(u != 0)).collect()),
        Dtype::U8 | Dtype::U16 | Dtype::U32 | Dtype::U64 => {
            NpyData::Int(units.map(i128::from).collect())
        }
        Dtype::I8 | Dtype::I16 | Dtype::I32 | Dtype::I64 => NpyData::Int(
            // Sign-extend by moving the sign bit to bit 63.
            units
                .map(|u| i128::from(((u << (64 - bits)) as i64) >> (64 - bits)))
                .collect(),
        ),
        Dtype::F16 => NpyData::Float(units.map(|u| f16_to_f64(u as u16)).collect()),
        Dtype::F32 => NpyData::Float(units.map(|u| f64::from(f32::from_bits(u as u32))).collect()),
        Dtype::F64 => NpyData::Float(units.map(f64::from_bits).collect()),
    }
}

/// Reorders Fortran-order (first axis fastest) values into C order.
fn fortran_to_c<T: Copy>(shape: &[usize], values: &[T]) -> Vec<T> {
    if shape.len() < 2 || values.is_empty() {
        return values.to_vec();
    }
    // Fortran strides: axis 0 is contiguous.
    let mut strides = Vec::with_capacity(shape.len());
    let mut stride = 1usize;
    for &d in shape {
        strides.push(stride);
        stride = stride.saturating_mul(d);
    }
    let mut out = Vec::with_capacity(values.len());
    let mut index = vec![0usize; shape.len()];
    let mut offset = 0usize;
    for _ in 0..values.len() {
        out.push(values.get(offset).copied().unwrap_or(values[0]));
        // Advance the C-order odometer, last axis fastest.
        for axis in (0..shape.len()).rev() {
            index[axis] += 1;
            offset += strides[axis];
            if index[axis] < shape[axis] {
                break;
            }
            offset -= strides[axis] * shape[axis];
            index[axis] = 0;
        }
    }
    out
}

/// Writes a `.npy` file as numpy's `np.save` does: format 1.0 (2.0 if the
/// header exceeds 1.0's 64 KiB limit), little-endian, C order, the header
/// padded with spaces to a multiple of 64 bytes and ending in a newline.
///
/// `data` must hold `product(shape)` values. Values are converted to `dtype`
/// as numpy's `astype` would: integers keep their low bits (two's complement),
/// floats round to nearest, floats become integers by truncation (saturating;
/// NaN becomes 0), and `bool` stores 1 for every non-zero value.
pub fn write_npy(shape: &[usize], data: &NpyData, dtype: Dtype) -> Vec<u8> {
    debug_assert_eq!(
        element_count(shape),
        Some(data.len()),
        "write_npy: data length does not match the shape"
    );
    let mut out = write_npy_header(shape, dtype);
    out.reserve(data.len().saturating_mul(dtype.itemsize()));
    match data {
        NpyData::Int(values) => {
            for &v in values {
                encode_int(&mut out, v, dtype);
            }
        }
        NpyData::Float(values) => {
            for &x in values {
                if dtype.is_float() {
                    encode_float(&mut out, x, dtype);
                } else if dtype == Dtype::Bool {
                    out.push(u8::from(x != 0.0));
                } else {
                    // Saturating, NaN to 0: Rust's float-to-int cast.
                    encode_int(&mut out, x as i128, dtype);
                }
            }
        }
    }
    out
}

fn encode_int(out: &mut Vec<u8>, v: i128, dtype: Dtype) {
    if dtype.is_float() {
        encode_float(out, v as f64, dtype);
    } else if dtype == Dtype::Bool {
        out.push(u8::from(v != 0));
    } else {
        out.extend_from_slice(&v.to_le_bytes()[..dtype.itemsize()]);
    }
}

fn encode_float(out: &mut Vec<u8>, x: f64, dtype: Dtype) {
    match dtype {
        Dtype::F16 => out.extend_from_slice(&f64_to_f16(x).to_le_bytes()),
        Dtype::F32 => out.extend_from_slice(&(x as f32).to_le_bytes()),
        _ => out.extend_from_slice(&x.to_le_bytes()),
    }
}

#[cfg(test)]
#[path = "npy_tests.rs"]
mod tests;
