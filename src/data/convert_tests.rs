use super::*;
use crate::data::npy::parse_npy;
use crate::data::random::random_raw;

fn u(width: u32) -> ScalarType {
    ScalarType::int(false, width)
}

fn i(width: u32) -> ScalarType {
    ScalarType::int(true, width)
}

fn fx(width: u32, int_bits: i32) -> ScalarType {
    ScalarType::fixed(true, width, int_bits)
}

fn ufx(width: u32, int_bits: i32) -> ScalarType {
    ScalarType::fixed(false, width, int_bits)
}

fn ints(shape: &[usize], dtype: Dtype, values: Vec<i128>) -> NpyArray {
    NpyArray {
        shape: shape.to_vec(),
        dtype,
        data: NpyData::Int(values),
    }
}

fn floats(shape: &[usize], dtype: Dtype, values: Vec<f64>) -> NpyArray {
    NpyArray {
        shape: shape.to_vec(),
        dtype,
        data: NpyData::Float(values),
    }
}

fn message(result: Result<Vec<i128>, ValueError>) -> String {
    match result {
        Ok(v) => panic!("converted unexpectedly: {v:?}"),
        Err(e) => e.to_string(),
    }
}

fn problem(result: Result<Vec<i128>, ValueError>) -> ValueProblem {
    match result {
        Err(ValueError::Element { problem, .. }) => problem,
        other => panic!("expected an element error, got {other:?}"),
    }
}

#[test]
fn integer_types_read_integer_dtypes_that_fit() {
    let arr = ints(&[4], Dtype::I64, vec![0, 1, 200, 255]);
    assert_eq!(npy_to_raw(&arr, &u(8), false), Ok(vec![0, 1, 200, 255]));
    assert_eq!(npy_to_raw(&arr, &u(8), true), Ok(vec![0, 1, 200, 255]));
    assert_eq!(npy_to_raw(&arr, &i(9), false), Ok(vec![0, 1, 200, 255]));
    let arr = ints(&[2], Dtype::U64, vec![0, i128::from(u64::MAX)]);
    assert_eq!(
        npy_to_raw(&arr, &u(64), false),
        Ok(vec![0, i128::from(u64::MAX)])
    );
    assert_eq!(
        problem(npy_to_raw(&arr, &i(64), false)),
        ValueProblem::OutOfRange
    );
    let bools = ints(&[3], Dtype::Bool, vec![1, 0, 1]);
    assert_eq!(npy_to_raw(&bools, &u(1), false), Ok(vec![1, 0, 1]));
    assert_eq!(npy_to_raw(&bools, &i(8), false), Ok(vec![1, 0, 1]));
    assert_eq!(
        problem(npy_to_raw(&bools, &i(1), false)),
        ValueProblem::OutOfRange
    );
}

#[test]
fn out_of_range_names_the_index() {
    let mut values = vec![0i128; 80];
    values[3 * 20 + 17] = 300;
    values[79] = 400;
    let arr = ints(&[1, 4, 20], Dtype::I16, values);
    let err = npy_to_raw(&arr, &u(8), false);
    assert_eq!(
        err,
        Err(ValueError::Element {
            index: vec![0, 3, 17],
            value: ElementValue::Int(300),
            ty: u(8),
            problem: ValueProblem::OutOfRange
        })
    );
    assert_eq!(
        message(err),
        "element [0, 3, 17] is 300: out of range for u8 (0 to 255)"
    );
    let arr = ints(&[2], Dtype::I8, vec![5, -1]);
    assert_eq!(
        message(npy_to_raw(&arr, &u(4), false)),
        "element [1] is -1: out of range for u4 (0 to 15)"
    );
    let scalar = ints(&[], Dtype::I32, vec![-129]);
    assert_eq!(
        message(npy_to_raw(&scalar, &i(8), false)),
        "element [] is -129: out of range for i8 (-128 to 127)"
    );
}

#[test]
fn integer_types_read_integral_floats() {
    let arr = floats(&[3], Dtype::F64, vec![3.0, -0.0, -128.0]);
    assert_eq!(npy_to_raw(&arr, &i(8), false), Ok(vec![3, 0, -128]));
    let arr = floats(&[2, 2], Dtype::F32, vec![1.0, 2.0, 2.5, 1e30]);
    assert_eq!(
        message(npy_to_raw(&arr, &i(8), false)),
        "element [1, 0] is 2.5: not an integer, as i8 requires"
    );
    let arr = floats(&[2], Dtype::F64, vec![1.0, 1e300]);
    assert_eq!(
        problem(npy_to_raw(&arr, &i(64), false)),
        ValueProblem::OutOfRange
    );
    let arr = floats(&[2], Dtype::F64, vec![255.5, 0.0]);
    assert_eq!(
        problem(npy_to_raw(&arr, &u(8), false)),
        ValueProblem::OutOfRange
    );
    let arr = floats(&[2], Dtype::F64, vec![254.5, 0.0]);
    assert_eq!(
        problem(npy_to_raw(&arr, &u(8), false)),
        ValueProblem::NotInteger
    );
    let arr = floats(&[2], Dtype::F64, vec![-0.5, 0.0]);
    assert_eq!(
        problem(npy_to_raw(&arr, &u(8), false)),
        ValueProblem::OutOfRange
    );
    let arr = floats(&[1], Dtype::F64, vec![f64::NAN]);
    assert_eq!(
        message(npy_to_raw(&arr, &u(8), false)),
        "element [0] is nan: u8 holds only finite numbers"
    );
    let arr = floats(&[1], Dtype::F16, vec![f64::NEG_INFINITY]);
    assert_eq!(
        problem(npy_to_raw(&arr, &u(8), false)),
        ValueProblem::NotFinite
    );
    let big = floats(&[1], Dtype::F64, vec![2f64.powi(63)]);
    assert_eq!(npy_to_raw(&big, &u(64), false), Ok(vec![1 << 63]));
    assert_eq!(
        problem(npy_to_raw(&big, &i(64), false)),
        ValueProblem::OutOfRange
    );
    let min = floats(&[1], Dtype::F64, vec![-(2f64.powi(63))]);
    assert_eq!(
        npy_to_raw(&min, &i(64), false),
        Ok(vec![i128::from(i64::MIN)])
    );
}

#[test]
fn fixed_types_read_exact_floats() {
    let t = fx(16, 8);
    let arr = floats(&[4], Dtype::F64, vec![0.5, -1.25, 127.99609375, -128.0]);
    assert_eq!(
        npy_to_raw(&arr, &t, false),
        Ok(vec![128, -320, 32767, -32768])
    );
    let arr = floats(&[2], Dtype::F64, vec![0.5, 0.1]);
    assert_eq!(
        message(npy_to_raw(&arr, &t, false)),
        "element [1] is 0.1: not a multiple of 2^-8, the step of fixed<16, 8>"
    );
    let arr = floats(&[1], Dtype::F32, vec![f64::from(0.1f32)]);
    assert_eq!(
        message(npy_to_raw(&arr, &t, false)),
        "element [0] is 0.1: not a multiple of 2^-8, the step of fixed<16, 8>"
    );
    let arr = floats(&[1], Dtype::F64, vec![128.0]);
    assert_eq!(
        message(npy_to_raw(&arr, &t, false)),
        "element [0] is 128.0: out of range for fixed<16, 8> (-128 to 127.99609375)"
    );
    // Just above the top, between steps: out of range rather than off-grid.
    let arr = floats(&[1], Dtype::F64, vec![127.998]);
    assert_eq!(
        problem(npy_to_raw(&arr, &t, false)),
        ValueProblem::OutOfRange
    );
    let arr = floats(&[1], Dtype::F64, vec![-128.001]);
    assert_eq!(
        problem(npy_to_raw(&arr, &t, false)),
        ValueProblem::OutOfRange
    );
    // A half value read into a type with enough fraction bits.
    let third = floats(&[1], Dtype::F16, vec![0.333251953125]);
    assert_eq!(npy_to_raw(&third, &fx(16, 2), false), Ok(vec![1365 << 2]));
    assert_eq!(
        message(npy_to_raw(&third, &fx(16, 6), false)),
        "element [0] is 0.3333: not a multiple of 2^-10, the step of fixed<16, 6>"
    );
    // Tiny values are off-grid, never silently zero.
    let tiny = floats(&[1], Dtype::F64, vec![f64::from_bits(1)]);
    assert_eq!(
        problem(npy_to_raw(&tiny, &t, false)),
        ValueProblem::NotMultipleOfStep
    );
}

#[test]
fn fixed_types_with_unusual_scales() {
    // ufixed<4, 6>: step 4, values 0..60, stored at frac 0.
    let coarse = ufx(4, 6);
    let arr = floats(&[3], Dtype::F64, vec![0.0, 4.0, 60.0]);
    assert_eq!(npy_to_raw(&arr, &coarse, false), Ok(vec![0, 4, 60]));
    let arr = floats(&[1], Dtype::F64, vec![2.0]);
    assert_eq!(
        message(npy_to_raw(&arr, &coarse, false)),
        "element [0] is 2.0: not a multiple of 2^2, the step of ufixed<4, 6>"
    );
    let arr = floats(&[1], Dtype::F64, vec![64.0]);
    assert_eq!(
        message(npy_to_raw(&arr, &coarse, false)),
        "element [0] is 64.0: out of range for ufixed<4, 6> (0 to 60)"
    );
    let codes = ints(&[2], Dtype::U8, vec![15, 1]);
    assert_eq!(npy_to_raw(&codes, &coarse, true), Ok(vec![60, 4]));

    // fixed<4, -2>: step 2^-6, values -8/64 .. 7/64.
    let fine = fx(4, -2);
    let arr = floats(&[2], Dtype::F64, vec![-0.125, 7.0 / 64.0]);
    assert_eq!(npy_to_raw(&arr, &fine, false), Ok(vec![-8, 7]));
    let arr = floats(&[1], Dtype::F64, vec![0.125]);
    assert_eq!(
        message(npy_to_raw(&arr, &fine, false)),
        "element [0] is 0.125: out of range for fixed<4, -2> (-0.125 to 0.109375)"
    );

    // fixed<8, 8>: step 1, so a fraction is "not an integer".
    let arr = floats(&[1], Dtype::F64, vec![0.5]);
    assert_eq!(
        problem(npy_to_raw(&arr, &fx(8, 8), false)),
        ValueProblem::NotInteger
    );
}

#[test]
fn raw_mode_reads_codes() {
    let t = fx(8, 4);
    let arr = ints(&[3], Dtype::I8, vec![-128, 0, 127]);
    assert_eq!(npy_to_raw(&arr, &t, true), Ok(vec![-128, 0, 127]));
    let arr = ints(&[2], Dtype::I16, vec![1, 128]);
    assert_eq!(
        message(npy_to_raw(&arr, &t, true)),
        "element [1] is 128: out of range for the raw codes of fixed<8, 4> (-128 to 127)"
    );
    let arr = ints(&[1], Dtype::I16, vec![3]);
    assert_eq!(
        npy_to_raw(&arr, &t, false),
        Err(ValueError::WrongDtype {
            dtype: Dtype::I16,
            ty: t,
            raw_mode: false
        })
    );
    assert!(message(npy_to_raw(&arr, &t, false)).contains("--raw"));
    let arr = floats(&[1], Dtype::F64, vec![0.5]);
    assert_eq!(
        message(npy_to_raw(&arr, &t, true)),
        "with --raw, fixed<8, 4> reads integer codes, but the array holds float64"
    );
}

#[test]
fn dtype_choice() {
    let cases = [
        (u(1), Dtype::U8),
        (u(8), Dtype::U8),
        (u(9), Dtype::U16),
        (u(16), Dtype::U16),
        (u(17), Dtype::U32),
        (u(33), Dtype::U64),
        (u(64), Dtype::U64),
        (i(1), Dtype::I8),
        (i(8), Dtype::I8),
        (i(12), Dtype::I16),
        (i(32), Dtype::I32),
        (i(64), Dtype::I64),
    ];
    for (ty, dtype) in cases {
        assert_eq!(npy_dtype_for(&ty, false), dtype, "{ty}");
        assert_eq!(npy_dtype_for(&ty, true), dtype, "{ty}");
    }
    assert_eq!(npy_dtype_for(&fx(16, 8), false), Dtype::F64);
    assert_eq!(npy_dtype_for(&fx(16, 8), true), Dtype::I16);
    assert_eq!(npy_dtype_for(&ufx(12, 2), true), Dtype::U16);
    assert_eq!(npy_dtype_for(&fx(32, 1), true), Dtype::I32);
}

fn sample_types() -> Vec<ScalarType> {
    let mut types = Vec::new();
    for width in 1..=64 {
        types.push(u(width));
        types.push(i(width));
    }
    for (width, int_bits) in [
        (1, 1),
        (1, 0),
        (2, 1),
        (8, 4),
        (8, 0),
        (8, -3),
        (8, 12),
        (12, 2),
        (16, 6),
        (16, 8),
        (18, 2),
        (24, 10),
        (32, 1),
        (32, 16),
        (40, 20),
        (53, 1),
        (54, 3),
        (64, 32),
        (64, 64),
        (64, -10),
    ] {
        types.push(fx(width, int_bits));
        types.push(ufx(width, int_bits));
    }
    types
}

#[test]
fn roundtrip_many_types() {
    for (k, ty) in sample_types().into_iter().enumerate() {
        let shape = [2, 3, 5];
        let mut raw = random_raw(k as u64, &ty, 30);
        // Include both extremes of the type.
        let (lo, hi) = ty.value_bounds();
        raw[0] = lo;
        raw[29] = hi;
        for raw_mode in [false, true] {
            let written = raw_to_npy(&shape, &raw, &ty, raw_mode);
            let float_file = ty.fixed && !raw_mode;
            let bytes = match written {
                Ok(bytes) => bytes,
                Err(ValueError::Element {
                    problem: ValueProblem::InexactInFloat64 { significant_bits },
                    ..
                }) if float_file && ty.width > 53 => {
                    assert!(significant_bits > 53);
                    continue;
                }
                Err(e) => panic!("{ty} raw_mode={raw_mode}: {e}"),
            };
            let arr = match parse_npy(&bytes) {
                Ok(arr) => arr,
                Err(e) => panic!("{ty}: {e}"),
            };
            assert_eq!(arr.shape, shape);
            assert_eq!(arr.dtype, npy_dtype_for(&ty, raw_mode));
            assert_eq!(
                npy_to_raw(&arr, &ty, raw_mode),
                Ok(raw.clone()),
                "{ty} raw_mode={raw_mode}"
            );
        }
    }
}

#[test]
fn fixed_values_are_written_exactly() {
    let t = fx(16, 8);
    let bytes = raw_to_npy(&[3], &[128, -320, 1], &t, false).expect("exact");
    let arr = parse_npy(&bytes).expect("valid");
    assert_eq!(arr.data, NpyData::Float(vec![0.5, -1.25, 1.0 / 256.0]));
    let bytes = raw_to_npy(&[3], &[128, -320, 1], &t, true).expect("codes");
    let arr = parse_npy(&bytes).expect("valid");
    assert_eq!(arr.dtype, Dtype::I16);
    assert_eq!(arr.data, NpyData::Int(vec![128, -320, 1]));
    // ufixed<4, 6> codes are raw / 4.
    let bytes = raw_to_npy(&[2], &[60, 8], &ufx(4, 6), true).expect("codes");
    assert_eq!(
        parse_npy(&bytes).expect("valid").data,
        NpyData::Int(vec![15, 2])
    );
}

#[test]
fn inexact_float64_suggests_raw() {
    let t = fx(64, 1);
    let raw = [1, (1i128 << 60) + 1];
    let err = raw_to_npy(&[2], &raw, &t, false).expect_err("61 significant bits");
    assert_eq!(
        err,
        ValueError::Element {
            index: vec![1],
            value: ElementValue::Exact {
                raw: (1 << 60) + 1,
                frac: 63
            },
            ty: t,
            problem: ValueProblem::InexactInFloat64 {
                significant_bits: 61
            }
        }
    );
    assert_eq!(
        err.to_string(),
        "element [1] is 0.125000000000000000108420217248550443400745280086994171142578125: \
         it has 61 significant bits and float64 holds only 53; write raw codes with --raw"
    );
    assert!(raw_to_npy(&[2], &raw, &t, true).is_ok());
    // 53 significant bits are fine, whatever the scale.
    let ok = [(1i128 << 53) - 1, -((1i128 << 53) - 1) << 10];
    assert!(raw_to_npy(&[2], &ok, &t, false).is_ok());
}

#[test]
fn raw_to_npy_checks_its_input() {
    assert_eq!(
        raw_to_npy(&[2, 2], &[1, 2, 3], &u(8), false),
        Err(ValueError::LengthMismatch {
            shape: vec![2, 2],
            len: 3
        })
    );
    let err = raw_to_npy(&[2], &[1, 256], &u(8), false).expect_err("256 > u8");
    assert_eq!(
        err.to_string(),
        "element [1] is 256: out of range for u8 (0 to 255)"
    );
    let err = raw_to_npy(&[1], &[6], &ufx(4, 6), false).expect_err("off grid");
    assert_eq!(
        err.to_string(),
        "element [0] is 6: not a multiple of 2^2, the step of ufixed<4, 6>"
    );
    let err = raw_to_npy(&[1], &[-1], &fx(8, 4), true).map(|_| ());
    assert_eq!(err, Ok(()));
}

#[test]
fn unsupported_types() {
    let mut wide = u(8);
    wide.width = 65;
    let arr = ints(&[1], Dtype::U8, vec![1]);
    assert_eq!(
        npy_to_raw(&arr, &wide, false),
        Err(ValueError::UnsupportedType { ty: wide })
    );
    let zero = ScalarType::int(false, 0);
    assert!(matches!(
        raw_to_npy(&[1], &[0], &zero, false),
        Err(ValueError::UnsupportedType { .. })
    ));
    let steep = ufx(8, 80);
    assert!(matches!(
        npy_to_raw(&arr, &steep, true),
        Err(ValueError::UnsupportedType { .. })
    ));
}
