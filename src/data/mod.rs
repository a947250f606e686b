//! Data files: the `.npy` codec, exact conversion between arrays and values
//! of a declared scalar type, and the reproducible `random(seed:)` generator.
//!
//! Everything here works on byte slices and returns byte vectors; the CLI
//! reads and writes the files and adds their names to errors.

mod float;
mod pyliteral;

pub mod convert;
pub mod dtype;
pub mod image_read;
pub mod image_write;
pub mod layout;
pub mod npy;
pub mod npy_error;
pub mod npy_header;
pub mod random;
pub mod view;

pub use convert::{npy_dtype_for, npy_to_raw, raw_to_npy, ElementValue, ValueError, ValueProblem};
pub use dtype::{ByteOrder, Dtype, UnsupportedKind};
pub use image_read::{ImageReader, ReadFault};
pub use image_write::ImageWriter;
pub use layout::{ElemType, ImageLayout};
pub use npy::{element_count, parse_npy, write_npy, NpyArray, NpyData};
pub use npy_error::NpyError;
pub use npy_header::{npy_header_end, parse_npy_header, write_npy_header, NpyHeader};
pub use random::{code_from_draw, random_raw, SplitMix64};
pub use view::ArrayView;

#[cfg(test)]
mod fuzz_tests;

#[cfg(test)]
mod image_tests;
