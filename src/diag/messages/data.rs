//! Why a data file cannot be read or written: a `.npy` file's problem
//! (`data::NpyError`) or a value that does not convert exactly
//! (`data::ValueError`). They are not diagnostics themselves: the diagnostic
//! that loads the file (E161, E203, E205, E207, E507, E510 ...) quotes them.

use crate::data::convert::code_range;
use crate::data::{ElementValue, NpyError, UnsupportedKind, ValueError, ValueProblem};
use crate::types::ScalarType;

/// One line on what is wrong with a `.npy` file.
pub fn npy_reason(e: &NpyError) -> String {
    match e {
        NpyError::BadMagic => "not a .npy file (it does not start with \\x93NUMPY)".to_string(),
        NpyError::Truncated {
            part,
            needed,
            available,
        } => format!(
            "truncated .npy file: the {part} needs {needed} bytes, the file has {available}"
        ),
        NpyError::UnsupportedVersion { major, minor } => format!(
            ".npy format version {major}.{minor} is not supported (1.0, 2.0 and 3.0 are)"
        ),
        NpyError::HeaderSyntax {
            offset,
            expected,
            found,
        } => {
            let found = match found {
                None => "the end of the header".to_string(),
                Some(c) if c.is_ascii_graphic() => format!("'{}'", char::from(*c)),
                Some(c) => format!("byte {c:#04x}"),
            };
            format!("bad .npy header at byte {offset}: expected {expected}, found {found}")
        }
        NpyError::HeaderIntegerTooLarge { offset } => {
            format!("bad .npy header at byte {offset}: integer too large")
        }
        NpyError::HeaderTooDeep { offset } => {
            format!("bad .npy header at byte {offset}: nested too deeply")
        }
        NpyError::HeaderEncoding { offset } => {
            format!("bad .npy header at byte {offset}: string is not valid UTF-8")
        }
        NpyError::HeaderNotDict { found } => {
            format!("bad .npy header: expected a dict, found {found}")
        }
        NpyError::MissingKey { key } => format!("bad .npy header: no '{key}' key"),
        NpyError::DuplicateKey { key } => format!("bad .npy header: key '{key}' appears twice"),
        NpyError::UnknownKey { key } => format!(
            "bad .npy header: unexpected key '{key}' (expected 'descr', 'fortran_order', 'shape')"
        ),
        NpyError::BadValue {
            key,
            expected,
            found,
        } => format!("bad .npy header: '{key}' should be {expected}, found {found}"),
        NpyError::BadDimension { axis, value } => {
            format!("bad .npy header: shape entry {axis} is {value}, not a valid dimension")
        }
        NpyError::UnsupportedDtype { descr, kind } => format!(
            "unsupported .npy dtype '{descr}' ({}); Convoy reads bool, int8..int64, uint8..uint64 and float16..float64",
            unsupported_kind(*kind)
        ),
        NpyError::ElementCountOverflow { shape, itemsize } => format!(
            "absurd .npy shape {shape:?}: the size of {itemsize}-byte elements overflows"
        ),
        NpyError::DataLength { expected, found } => format!(
            ".npy data has {found} bytes, but the header's shape and dtype need {expected}"
        ),
    }
}

fn unsupported_kind(kind: UnsupportedKind) -> &'static str {
    match kind {
        UnsupportedKind::Complex => "complex numbers",
        UnsupportedKind::Object => "Python objects",
        UnsupportedKind::Structured => "a structured (record) dtype",
        UnsupportedKind::Bytes => "byte strings",
        UnsupportedKind::Unicode => "unicode strings",
        UnsupportedKind::Void => "raw void records",
        UnsupportedKind::Datetime => "datetimes",
        UnsupportedKind::Timedelta => "timedeltas",
        UnsupportedKind::Size => "an unsupported element size",
        UnsupportedKind::Unknown => "an unknown dtype",
    }
}

/// One line on a value that cannot be read or written exactly as its type.
pub fn value_reason(e: &ValueError) -> String {
    match e {
        ValueError::WrongDtype {
            dtype,
            ty,
            raw_mode: false,
        } => format!(
            "{ty} reads float values, but the array holds {dtype}; \
             to read {dtype} as raw two's-complement codes of {ty}, use --raw"
        ),
        ValueError::WrongDtype {
            dtype,
            ty,
            raw_mode: true,
        } => format!("with --raw, {ty} reads integer codes, but the array holds {dtype}"),
        ValueError::Element {
            index,
            value,
            ty,
            problem,
        } => format!(
            "element {index:?} is {value}: {}",
            problem_words(*problem, ty)
        ),
        ValueError::LengthMismatch { shape, len } => {
            format!("{len} values do not fill shape {shape:?}")
        }
        ValueError::UnsupportedType { ty } => {
            format!("{ty} cannot be exchanged through .npy files")
        }
    }
}

fn problem_words(problem: ValueProblem, ty: &ScalarType) -> String {
    let Some((code_lo, code_hi, up)) = code_range(ty) else {
        return format!("unsupported type {ty}");
    };
    let exact = |code: i128| {
        ElementValue::Exact {
            raw: code << up,
            frac: ty.storage_frac(),
        }
        .to_string()
    };
    match problem {
        ValueProblem::OutOfRange => format!(
            "out of range for {ty} ({} to {})",
            exact(code_lo),
            exact(code_hi)
        ),
        ValueProblem::CodeOutOfRange => {
            format!("out of range for the raw codes of {ty} ({code_lo} to {code_hi})")
        }
        ValueProblem::NotInteger => format!("not an integer, as {ty} requires"),
        ValueProblem::NotMultipleOfStep => {
            format!("not a multiple of 2^{}, the step of {ty}", -ty.frac_bits())
        }
        ValueProblem::NotFinite => format!("{ty} holds only finite numbers"),
        ValueProblem::InexactInFloat64 { significant_bits } => format!(
            "it has {significant_bits} significant bits and float64 holds only 53; \
             write raw codes with --raw"
        ),
    }
}
