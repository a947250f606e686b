//! Errors of the `.npy` reader, as facts; `Display` renders them.

use std::fmt;

use super::dtype::UnsupportedKind;

/// Problems with a `.npy` file. Offsets are byte offsets into the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NpyError {
    /// The file does not start with `\x93NUMPY`.
    BadMagic,
    /// The file ends inside the fixed preamble or the header.
    Truncated {
        part: &'static str,
        needed: usize,
        available: usize,
    },
    UnsupportedVersion {
        major: u8,
        minor: u8,
    },
    /// The header is not a valid Python literal.
    HeaderSyntax {
        offset: usize,
        expected: &'static str,
        found: Option<u8>,
    },
    /// An integer in the header beyond 128 bits.
    HeaderIntegerTooLarge {
        offset: usize,
    },
    /// The header nests containers absurdly deep.
    HeaderTooDeep {
        offset: usize,
    },
    /// A string in a 3.0 header that is not UTF-8.
    HeaderEncoding {
        offset: usize,
    },
    /// The header literal is not a dict.
    HeaderNotDict {
        found: &'static str,
    },
    MissingKey {
        key: &'static str,
    },
    DuplicateKey {
        key: String,
    },
    /// numpy accepts exactly `descr`, `fortran_order` and `shape`.
    UnknownKey {
        key: String,
    },
    /// A key whose value has the wrong Python type.
    BadValue {
        key: &'static str,
        expected: &'static str,
        found: &'static str,
    },
    /// A shape entry that is negative or beyond the address space.
    BadDimension {
        axis: usize,
        value: i128,
    },
    UnsupportedDtype {
        descr: String,
        kind: UnsupportedKind,
    },
    /// The shape's element count, or its size in bytes, overflows.
    ElementCountOverflow {
        shape: Vec<usize>,
        itemsize: usize,
    },
    /// The data after the header is not `product(shape) * itemsize` bytes.
    DataLength {
        expected: usize,
        found: usize,
    },
}

impl fmt::Display for NpyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NpyError::BadMagic => write!(f, "not a .npy file (it does not start with \\x93NUMPY)"),
            NpyError::Truncated {
                part,
                needed,
                available,
            } => write!(
                f,
                "truncated .npy file: the {part} needs {needed} bytes, the file has {available}"
            ),
            NpyError::UnsupportedVersion { major, minor } => write!(
                f,
                ".npy format version {major}.{minor} is not supported (1.0, 2.0 and 3.0 are)"
            ),
            NpyError::HeaderSyntax {
                offset,
                expected,
                found,
            } => {
                write!(f, "bad .npy header at byte {offset}: expected {expected}, found ")?;
                match found {
                    None => write!(f, "the end of the header"),
                    Some(c) if c.is_ascii_graphic() => write!(f, "'{}'", char::from(*c)),
                    Some(c) => write!(f, "byte {c:#04x}"),
                }
            }
            NpyError::HeaderIntegerTooLarge { offset } => {
                write!(f, "bad .npy header at byte {offset}: integer too large")
            }
            NpyError::HeaderTooDeep { offset } => {
                write!(f, "bad .npy header at byte {offset}: nested too deeply")
            }
            NpyError::HeaderEncoding { offset } => write!(
                f,
                "bad .npy header at byte {offset}: string is not valid UTF-8"
            ),
            NpyError::HeaderNotDict { found } => {
                write!(f, "bad .npy header: expected a dict, found {found}")
            }
            NpyError::MissingKey { key } => write!(f, "bad .npy header: no '{key}' key"),
            NpyError::DuplicateKey { key } => {
                write!(f, "bad .npy header: key '{key}' appears twice")
            }
            NpyError::UnknownKey { key } => write!(
                f,
                "bad .npy header: unexpected key '{key}' (expected 'descr', 'fortran_order', 'shape')"
            ),
            NpyError::BadValue {
                key,
                expected,
                found,
            } => write!(
                f,
                "bad .npy header: '{key}' should be {expected}, found {found}"
            ),
            NpyError::BadDimension { axis, value } => write!(
                f,
                "bad .npy header: shape entry {axis} is {value}, not a valid dimension"
            ),
            NpyError::UnsupportedDtype { descr, kind } => write!(
                f,
                "unsupported .npy dtype '{descr}' ({}); Convoy reads bool, int8..int64, uint8..uint64 and float16..float64",
                kind.describe()
            ),
            NpyError::ElementCountOverflow { shape, itemsize } => write!(
                f,
                "absurd .npy shape {shape:?}: the size of {itemsize}-byte elements overflows"
            ),
            NpyError::DataLength { expected, found } => write!(
                f,
                ".npy data has {found} bytes, but the header's shape and dtype need {expected}"
            ),
        }
    }
}

impl std::error::Error for NpyError {}
