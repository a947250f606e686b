//! Exact fixed-point arithmetic shared by the checker, the interpreter and the
//! backends. Every function here is pure integer arithmetic on `i128` (no
//! floats): a value is a pair `(raw, frac)` meaning `raw / 2^frac`.
//!
//! - [`quantize`]: ap_fixed quantization modes (`trn`, `rnd`, ...) when
//!   fraction bits are dropped, exact shifts when they are added;
//!   [`quantize_rational`] does the same for an exact fraction `num / den`.
//! - [`apply_overflow`]: ap_fixed overflow modes (`wrap`, `sat`, ...) on
//!   two's-complement codes.
//! - [`round_to_int`]: `floor`, `round`, `trunc`.
//! - [`cast_raw`]: the whole `x as T` conversion (`ir::Op::Cast`).
//! - [`to_decimal`]: exact decimal text of a value, for messages and files.
//! - [`bilinear_taps`]: the exact weights of bilinear upsampling.
//!
//! `docs/semantics.md` is the normative description; the unit tests pin the
//! behaviour measured with the real ap_types headers.

mod bilinear;
mod cast;
mod decimal;
mod overflow;
mod quantize;
pub mod table;

pub use bilinear::{bilinear_taps, Taps};
pub use cast::{cast_raw, checked_cast_raw, CastError};
pub use decimal::to_decimal;
pub use overflow::{apply_overflow, code_bounds, fits};
pub use quantize::{
    checked_quantize, checked_shl, floor_shr, quantize, quantize_rational, round_to_int,
};
