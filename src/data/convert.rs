//! Between `.npy` arrays and Convoy's exact values of a declared scalar type.
//!
//! Reading is exact or an error: an integer type reads integer (or bool)
//! arrays whose values all fit it, and float arrays only when every value is
//! an integer that fits; a fixed-point type reads float values it represents
//! exactly (a multiple of its step 2^-frac_bits, within its range). With
//! `raw_mode` (the CLI's `--raw`), a fixed-point type reads and writes integer
//! arrays of raw two's-complement codes instead (value = code / 2^frac_bits).
//!
//! Writing: an integer type writes the narrowest numpy integer dtype that
//! holds it, a fixed-point type writes `float64` (an error for values with
//! more than 53 significant bits), or with `raw_mode` its codes in the
//! narrowest integer dtype of its width and signedness.
//!
//! Values are returned and taken as raw integers at the type's
//! `storage_frac()`, as [`crate::Tensor`] holds them.

use std::fmt;

use super::dtype::Dtype;
use super::float::{compose, decompose, dyadic_to_string, float_to_string};
use super::npy::{element_count, write_npy, NpyArray, NpyData};
use crate::tensor::unravel;
use crate::types::ScalarType;

/// An element as it was written in the file or held by Convoy.
#[derive(Clone, Debug, PartialEq)]
pub enum ElementValue {
    /// An integer (or bool) element, or a raw code.
    Int(i128),
    /// A float element, printed in its dtype's precision.
    Float { value: f64, dtype: Dtype },
    /// A Convoy value `raw / 2^frac`, printed as an exact decimal.
    Exact { raw: i128, frac: u32 },
}

impl fmt::Display for ElementValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElementValue::Int(v) => write!(f, "{v}"),
            ElementValue::Float { value, dtype } => {
                let bits = 8 * dtype.itemsize() as u32;
                f.write_str(&float_to_string(*value, bits))
            }
            ElementValue::Exact { raw, frac } => f.write_str(&dyadic_to_string(*raw, *frac)),
        }
    }
}

/// What is wrong with one element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueProblem {
    /// Outside the type's range of values.
    OutOfRange,
    /// A raw code outside the type's code range (`raw_mode`).
    CodeOutOfRange,
    /// A float with a fractional part, for a type whose step is 1.
    NotInteger,
    /// Not a multiple of the fixed-point type's step 2^-frac_bits.
    NotMultipleOfStep,
    /// NaN or an infinity.
    NotFinite,
    /// More significant bits than float64's 53: not writable exactly.
    InexactInFloat64 { significant_bits: u32 },
}

/// A value that cannot be read or written exactly as the declared type.
#[derive(Clone, Debug, PartialEq)]
pub enum ValueError {
    /// The array's dtype kind does not match how `ty` is read
    /// (an integer array for a fixed type without `raw_mode`, a float array with it).
    WrongDtype {
        dtype: Dtype,
        ty: ScalarType,
        raw_mode: bool,
    },
    /// The first offending element, by its multi-dimensional index.
    Element {
        index: Vec<usize>,
        value: ElementValue,
        ty: ScalarType,
        problem: ValueProblem,
    },
    /// `raw_to_npy` got a number of values that does not match the shape.
    LengthMismatch { shape: Vec<usize>, len: usize },
    /// A type whose width or scale is beyond Convoy's exact data exchange
    /// (width outside 1..=64, an LSB above 2^62 or below 2^-960).
    UnsupportedType { ty: ScalarType },
}

/// The words are in `diag` (one catalogue for every message).
impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::diag::value_reason(self))
    }
}

impl std::error::Error for ValueError {}

/// Finest step supported: keeps every value of a 64-bit type a normal `f64`.
const MAX_FRAC_BITS: i32 = 960;

/// `ty`'s lowest and highest raw code and the left shift from a code to a
/// raw value at `storage_frac()`, for messages; `None` for a type beyond
/// data exchange.
pub(crate) fn code_range(ty: &ScalarType) -> Option<(i128, i128, u32)> {
    TypeInfo::new(ty).ok().map(|i| (i.code_lo, i.code_hi, i.up))
}

/// The facts about a type that conversions need, checked once.
#[derive(Clone, Debug)]
pub(crate) struct TypeInfo {
    pub frac_bits: i32,
    /// Left shift from a code to a raw value at storage_frac: max(0, -frac_bits).
    pub up: u32,
    pub code_lo: i128,
    pub code_hi: i128,
}

impl TypeInfo {
    pub(crate) fn new(ty: &ScalarType) -> Result<TypeInfo, ValueError> {
        let frac_bits = ty.frac_bits();
        let up = (i64::from(ty.storage_frac()) - i64::from(frac_bits)).max(0);
        if !(1..=64).contains(&ty.width) || up > 62 || frac_bits > MAX_FRAC_BITS {
            return Err(ValueError::UnsupportedType { ty: *ty });
        }
        let (code_lo, code_hi) = if ty.signed {
            (-(1i128 << (ty.width - 1)), (1i128 << (ty.width - 1)) - 1)
        } else {
            (0, (1i128 << ty.width) - 1)
        };
        Ok(TypeInfo {
            frac_bits,
            up: up as u32,
            code_lo,
            code_hi,
        })
    }

    fn has_code(&self, code: i128) -> bool {
        (self.code_lo..=self.code_hi).contains(&code)
    }

    /// The code of the float `x`, exactly, or what is wrong with it.
    fn code_of_float(&self, x: f64) -> Result<i128, ValueProblem> {
        let (mantissa, exponent) = decompose(x).ok_or(ValueProblem::NotFinite)?;
        if mantissa == 0 {
            return Ok(0);
        }
        let m = i128::from(mantissa);
        // x in units of the step: m * 2^shift.
        let shift = i64::from(exponent) + i64::from(self.frac_bits);
        if shift >= 0 {
            // |m| >= 1, so beyond 2^64 steps is out of every type's range.
            if shift > 64 {
                return Err(ValueProblem::OutOfRange);
            }
            let code = m << shift;
            return if self.has_code(code) {
                Ok(code)
            } else {
                Err(ValueProblem::OutOfRange)
            };
        }
        // Between two steps: out of range unless the step below and the step
        // above are both codes; otherwise merely off the grid.
        let floor = if -shift >= 127 {
            if m < 0 {
                -1
            } else {
                0
            }
        } else {
            m >> -shift
        };
        if floor < self.code_lo || floor >= self.code_hi {
            Err(ValueProblem::OutOfRange)
        } else if self.frac_bits == 0 {
            Err(ValueProblem::NotInteger)
        } else {
            Err(ValueProblem::NotMultipleOfStep)
        }
    }
}

/// Reads `arr` as values of `ty`, returning raw integers at `ty.storage_frac()`
/// in C order. The caller checks the shape.
pub fn npy_to_raw(
    arr: &NpyArray,
    ty: &ScalarType,
    raw_mode: bool,
) -> Result<Vec<i128>, ValueError> {
    let info = TypeInfo::new(ty)?;
    let element = |flat: usize, value: ElementValue, problem| ValueError::Element {
        index: unravel(flat, &arr.shape),
        value,
        ty: *ty,
        problem,
    };
    match &arr.data {
        NpyData::Int(values) => {
            if ty.fixed && !raw_mode {
                return Err(ValueError::WrongDtype {
                    dtype: arr.dtype,
                    ty: *ty,
                    raw_mode,
                });
            }
            let problem = if ty.fixed {
                ValueProblem::CodeOutOfRange
            } else {
                ValueProblem::OutOfRange
            };
            values
                .iter()
                .enumerate()
                .map(|(i, &code)| {
                    if info.has_code(code) {
                        Ok(code << info.up)
                    } else {
                        Err(element(i, ElementValue::Int(code), problem))
                    }
                })
                .collect()
        }
        NpyData::Float(values) => {
            if ty.fixed && raw_mode {
                return Err(ValueError::WrongDtype {
                    dtype: arr.dtype,
                    ty: *ty,
                    raw_mode,
                });
            }
            values
                .iter()
                .enumerate()
                .map(|(i, &x)| {
                    info.code_of_float(x)
                        .map(|code| code << info.up)
                        .map_err(|problem| {
                            let value = ElementValue::Float {
                                value: x,
                                dtype: arr.dtype,
                            };
                            element(i, value, problem)
                        })
                })
                .collect()
        }
    }
}

/// The dtype [`raw_to_npy`] writes for `ty`: the narrowest integer dtype of the
/// type's width and signedness (`u8` -> `uint8`, `i12` -> `int16`), or
/// `float64` for a fixed-point type unless `raw_mode`.
pub fn npy_dtype_for(ty: &ScalarType, raw_mode: bool) -> Dtype {
    if ty.fixed && !raw_mode {
        Dtype::F64
    } else {
        Dtype::int_for_width(ty.signed, ty.width)
    }
}

/// Writes raw values of `ty` (integers at `ty.storage_frac()`, C order) as a
/// `.npy` file of [`npy_dtype_for`]`(ty, raw_mode)`.
pub fn raw_to_npy(
    shape: &[usize],
    raw: &[i128],
    ty: &ScalarType,
    raw_mode: bool,
) -> Result<Vec<u8>, ValueError> {
    let info = TypeInfo::new(ty)?;
    if element_count(shape) != Some(raw.len()) {
        return Err(ValueError::LengthMismatch {
            shape: shape.to_vec(),
            len: raw.len(),
        });
    }
    let sf = ty.storage_frac();
    let element = |flat: usize, v: i128, problem| ValueError::Element {
        index: unravel(flat, shape),
        value: ElementValue::Exact { raw: v, frac: sf },
        ty: *ty,
        problem,
    };
    let step_mask = (1i128 << info.up) - 1;
    let mut codes = Vec::with_capacity(raw.len());
    for (i, &v) in raw.iter().enumerate() {
        if v & step_mask != 0 {
            return Err(element(i, v, ValueProblem::NotMultipleOfStep));
        }
        let code = v >> info.up;
        if !info.has_code(code) {
            return Err(element(i, v, ValueProblem::OutOfRange));
        }
        codes.push(code);
    }
    let dtype = npy_dtype_for(ty, raw_mode);
    if dtype != Dtype::F64 {
        return Ok(write_npy(shape, &NpyData::Int(codes), dtype));
    }
    let mut floats = Vec::with_capacity(codes.len());
    for (i, &code) in codes.iter().enumerate() {
        let x = exact_f64(code, info.frac_bits).map_err(|significant_bits| {
            element(
                i,
                raw[i],
                ValueProblem::InexactInFloat64 { significant_bits },
            )
        })?;
        floats.push(x);
    }
    Ok(write_npy(shape, &NpyData::Float(floats), dtype))
}

/// `code * 2^-frac_bits` as an exact `f64`, or the number of significant bits
/// that make it impossible.
fn exact_f64(code: i128, frac_bits: i32) -> Result<f64, u32> {
    if code == 0 {
        return Ok(0.0);
    }
    let zeros = code.trailing_zeros();
    let odd = code >> zeros;
    let significant_bits = 128 - odd.unsigned_abs().leading_zeros();
    let exponent = i64::from(zeros) - i64::from(frac_bits);
    let Ok(mantissa) = i64::try_from(odd) else {
        return Err(significant_bits);
    };
    let Ok(exponent) = i32::try_from(exponent) else {
        return Err(significant_bits);
    };
    if significant_bits > 53 {
        return Err(significant_bits);
    }
    let x = compose(mantissa, exponent);
    // Far outside the normal range the scaling would round; verify.
    if decompose(x) == Some((mantissa, exponent)) {
        Ok(x)
    } else {
        Err(significant_bits)
    }
}

#[cfg(test)]
#[path = "convert_tests.rs"]
mod tests;
