//! Errors of the `.npy` reader, as facts; the words are in `diag`.

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

/// The words are in `diag` (one catalogue for every message).
impl fmt::Display for NpyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::diag::npy_reason(self))
    }
}

impl std::error::Error for NpyError {}
