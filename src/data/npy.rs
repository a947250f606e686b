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

use super::dtype::{parse_descr, ByteOrder, Dtype, UnsupportedKind};
use super::float::{f16_to_f64, f64_to_f16};
use super::npy_error::NpyError;
use super::pyliteral::{self, Encoding, PyValue, SyntaxProblem};

/// The magic string at the start of every `.npy` file.
pub const MAGIC: &[u8; 6] = b"\x93NUMPY";

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
    if bytes.len() < MAGIC.len() {
        // A prefix of the magic is a truncated file; anything else is not .npy.
        return Err(if MAGIC.starts_with(bytes) && !bytes.is_empty() {
            truncated("preamble", 10, bytes.len())
        } else {
            NpyError::BadMagic
        });
    }
    if &bytes[..MAGIC.len()] != MAGIC {
        return Err(NpyError::BadMagic);
    }
    if bytes.len() < 8 {
        return Err(truncated("preamble", 10, bytes.len()));
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (len_size, encoding) = match (major, minor) {
        (1, 0) => (2, Encoding::Latin1),
        (2, 0) => (4, Encoding::Latin1),
        (3, 0) => (4, Encoding::Utf8),
        _ => return Err(NpyError::UnsupportedVersion { major, minor }),
    };
    let header_start = 8 + len_size;
    let Some(len_bytes) = bytes.get(8..header_start) else {
        return Err(truncated("preamble", header_start, bytes.len()));
    };
    let header_len = len_bytes
        .iter()
        .rev()
        .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
    let header_end = header_start.saturating_add(header_len);
    let Some(header) = bytes.get(header_start..header_end) else {
        return Err(truncated("header", header_end, bytes.len()));
    };
    let header = parse_header(header, header_start, encoding)?;
    let data = &bytes[header_end..];

    let itemsize = header.dtype.itemsize();
    let overflow = || NpyError::ElementCountOverflow {
        shape: header.shape.clone(),
        itemsize,
    };
    let count = element_count(&header.shape).ok_or_else(overflow)?;
    let expected = count.checked_mul(itemsize).ok_or_else(overflow)?;
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

fn truncated(part: &'static str, needed: usize, available: usize) -> NpyError {
    NpyError::Truncated {
        part,
        needed,
        available,
    }
}

/// The number of elements of `shape`, `None` if it overflows `usize`.
pub fn element_count(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

struct Header {
    dtype: Dtype,
    order: ByteOrder,
    fortran_order: bool,
    shape: Vec<usize>,
}

fn parse_header(text: &[u8], start: usize, encoding: Encoding) -> Result<Header, NpyError> {
    let literal = pyliteral::parse_literal(text, encoding).map_err(|e| {
        let offset = start + e.offset;
        match e.problem {
            SyntaxProblem::Expected { expected, found } => NpyError::HeaderSyntax {
                offset,
                expected,
                found,
            },
            SyntaxProblem::IntegerTooLarge => NpyError::HeaderIntegerTooLarge { offset },
            SyntaxProblem::TooDeep => NpyError::HeaderTooDeep { offset },
            SyntaxProblem::BadStringEncoding => NpyError::HeaderEncoding { offset },
        }
    })?;
    let PyValue::Dict(entries) = literal else {
        return Err(NpyError::HeaderNotDict {
            found: literal.kind(),
        });
    };
    let mut descr = None;
    let mut fortran = None;
    let mut shape = None;
    for (key, value) in entries {
        let slot = match &key {
            PyValue::Str(k) if k == "descr" => &mut descr,
            PyValue::Str(k) if k == "fortran_order" => &mut fortran,
            PyValue::Str(k) if k == "shape" => &mut shape,
            PyValue::Str(k) => return Err(NpyError::UnknownKey { key: k.clone() }),
            other => {
                return Err(NpyError::UnknownKey {
                    key: format!("<{}>", other.kind()),
                })
            }
        };
        if slot.replace(value).is_some() {
            let key = match key {
                PyValue::Str(k) => k,
                _ => String::new(),
            };
            return Err(NpyError::DuplicateKey { key });
        }
    }
    let descr = descr.ok_or(NpyError::MissingKey { key: "descr" })?;
    let fortran = fortran.ok_or(NpyError::MissingKey {
        key: "fortran_order",
    })?;
    let shape = shape.ok_or(NpyError::MissingKey { key: "shape" })?;

    let (dtype, order) = match descr {
        PyValue::Str(s) => {
            parse_descr(&s).map_err(|kind| NpyError::UnsupportedDtype { descr: s, kind })?
        }
        PyValue::List(_) => {
            return Err(NpyError::UnsupportedDtype {
                descr: "[...]".to_string(),
                kind: UnsupportedKind::Structured,
            })
        }
        other => {
            return Err(NpyError::BadValue {
                key: "descr",
                expected: "a dtype string such as '<i2'",
                found: other.kind(),
            })
        }
    };
    let fortran_order = match fortran {
        PyValue::Bool(b) => b,
        other => {
            return Err(NpyError::BadValue {
                key: "fortran_order",
                expected: "True or False",
                found: other.kind(),
            })
        }
    };
    let dims = match shape {
        PyValue::Tuple(items) | PyValue::List(items) => items,
        other => {
            return Err(NpyError::BadValue {
                key: "shape",
                expected: "a tuple of integers",
                found: other.kind(),
            })
        }
    };
    let mut shape = Vec::with_capacity(dims.len());
    for (axis, dim) in dims.into_iter().enumerate() {
        let PyValue::Int(value) = dim else {
            return Err(NpyError::BadValue {
                key: "shape",
                expected: "a tuple of integers",
                found: dim.kind(),
            });
        };
        let d = usize::try_from(value).map_err(|_| NpyError::BadDimension { axis, value })?;
        shape.push(d);
    }
    Ok(Header {
        dtype,
        order,
        fortran_order,
        shape,
    })
}

/// Reads an unsigned integer of `chunk.len()` bytes (at most 8).
fn read_unsigned(chunk: &[u8], order: ByteOrder) -> u64 {
    let fold = |acc: u64, &b: &u8| (acc << 8) | u64::from(b);
    match order {
        ByteOrder::Little => chunk.iter().rev().fold(0, fold),
        ByteOrder::Big => chunk.iter().fold(0, fold),
    }
}

fn decode(data: &[u8], dtype: Dtype, order: ByteOrder) -> NpyData {
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
    let mut dict = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
        dtype.descr(),
        shape_repr(shape)
    );
    // Like numpy >= 1.23: room to grow the first axis in place.
    if let Some(first) = shape.first() {
        let digits = first.to_string().len();
        dict.push_str(&" ".repeat(21usize.saturating_sub(digits)));
    }
    // The padding makes magic, version, length field and header a multiple of
    // 64 bytes; numpy pads a full 64 when already aligned.
    let layout = |len_size: usize| {
        let preamble = MAGIC.len() + 2 + len_size;
        let padding = 64 - (preamble + dict.len() + 1) % 64;
        (preamble, padding, dict.len() + padding + 1)
    };
    let (version, len_size) = if layout(2).2 <= usize::from(u16::MAX) {
        (1u8, 2)
    } else {
        (2u8, 4)
    };
    let (preamble, padding, header_len) = layout(len_size);

    let mut out = Vec::with_capacity(
        (preamble + header_len).saturating_add(data.len().saturating_mul(dtype.itemsize())),
    );
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[version, 0]);
    if len_size == 2 {
        out.extend_from_slice(&(header_len as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(header_len as u32).to_le_bytes());
    }
    out.extend_from_slice(dict.as_bytes());
    out.resize(out.len() + padding, b' ');
    out.push(b'\n');
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

/// Python's `repr` of a shape tuple: `()`, `(3,)`, `(2, 3)`.
fn shape_repr(shape: &[usize]) -> String {
    match shape {
        [] => "()".to_string(),
        [d] => format!("({d},)"),
        _ => {
            let parts: Vec<String> = shape.iter().map(usize::to_string).collect();
            format!("({})", parts.join(", "))
        }
    }
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
