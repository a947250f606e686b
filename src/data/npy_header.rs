//! The `.npy` header: the preamble (magic, version, header length) and the
//! Python dict literal that names the dtype, the memory order and the shape.
//!
//! Split from the payload so that a reader can learn an array's layout from
//! the first bytes of a file and then fetch only the part it needs
//! (`run` streams a batch this way), and a writer can emit the header
//! before the data exists.

use super::dtype::{parse_descr, ByteOrder, Dtype, UnsupportedKind};
use super::npy::element_count;
use super::npy_error::NpyError;
use super::pyliteral::{self, Encoding, PyValue, SyntaxProblem};

/// The magic string at the start of every `.npy` file.
pub const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// Bytes a reader needs to learn the header's length: magic, version and the
/// widest length field (4 bytes, versions 2.0 and 3.0).
pub const PREAMBLE_MAX: usize = 12;

/// What a `.npy` header says about its payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NpyHeader {
    pub dtype: Dtype,
    pub order: ByteOrder,
    /// Whether the first axis varies fastest (numpy's `fortran_order`).
    pub fortran_order: bool,
    pub shape: Vec<usize>,
    /// Where the payload starts: the length of the preamble and the header.
    pub data_offset: usize,
}

impl NpyHeader {
    /// The payload's length in bytes, or the overflow error.
    pub fn data_len(&self) -> Result<usize, NpyError> {
        let itemsize = self.dtype.itemsize();
        let overflow = || NpyError::ElementCountOverflow {
            shape: self.shape.clone(),
            itemsize,
        };
        element_count(&self.shape)
            .ok_or_else(overflow)?
            .checked_mul(itemsize)
            .ok_or_else(overflow)
    }
}

/// Where the header of a file starting with `prefix` ends (the payload's
/// offset), read from the preamble alone: `prefix` needs at most
/// [`PREAMBLE_MAX`] bytes.
pub fn npy_header_end(prefix: &[u8]) -> Result<usize, NpyError> {
    Ok(preamble(prefix)?.1)
}

/// `(encoding, header end)` from the preamble; errors as [`parse_npy_header`].
fn preamble(bytes: &[u8]) -> Result<(Encoding, usize), NpyError> {
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
    Ok((encoding, header_start.saturating_add(header_len)))
}

/// Parses the preamble and header at the start of `bytes` (the payload, if
/// present, is not looked at).
pub fn parse_npy_header(bytes: &[u8]) -> Result<NpyHeader, NpyError> {
    let (encoding, header_end) = preamble(bytes)?;
    let header_start = if bytes[6] == 1 { 10 } else { 12 };
    let Some(header) = bytes.get(header_start..header_end) else {
        return Err(truncated("header", header_end, bytes.len()));
    };
    let mut parsed = parse_header(header, header_start, encoding)?;
    parsed.data_offset = header_end;
    Ok(parsed)
}

fn truncated(part: &'static str, needed: usize, available: usize) -> NpyError {
    NpyError::Truncated {
        part,
        needed,
        available,
    }
}

fn parse_header(text: &[u8], start: usize, encoding: Encoding) -> Result<NpyHeader, NpyError> {
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
    Ok(NpyHeader {
        dtype,
        order,
        fortran_order,
        shape,
        data_offset: 0,
    })
}

/// The header `np.save` writes for a C-order little-endian array of `shape`
/// and `dtype`: format 1.0 (2.0 if the header exceeds 1.0's 64 KiB limit),
/// padded with spaces to a multiple of 64 bytes and ending in a newline. The
/// payload follows it directly.
pub fn write_npy_header(shape: &[usize], dtype: Dtype) -> Vec<u8> {
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

    let mut out = Vec::with_capacity(preamble + header_len);
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
