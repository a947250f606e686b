//! Data files: the `.npy` codec, exact conversion between arrays and values
//! of a declared scalar type, and the reproducible `random(seed:)` generator.
//!
//! Everything here works on byte slices and returns byte vectors; the CLI
//! reads and writes the files and adds their names to errors.

mod float;
mod pyliteral;

pub mod convert;
pub mod dtype;
pub mod npy;
pub mod npy_error;
pub mod random;

pub use convert::{npy_dtype_for, npy_to_raw, raw_to_npy, ElementValue, ValueError, ValueProblem};
pub use dtype::{Dtype, UnsupportedKind};
pub use npy::{element_count, parse_npy, write_npy, NpyArray, NpyData};
pub use npy_error::NpyError;
pub use random::{code_from_draw, random_raw, SplitMix64};

#[cfg(test)]
mod fuzz_tests;
