use super::*;
use crate::data::dtype::{parse_descr, ByteOrder, UnsupportedKind};

/// A `.npy` file with an arbitrary header text, unpadded, for hand-built cases.
pub(crate) fn npy_file(major: u8, header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&[major, 0]);
    if major == 1 {
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

fn header(descr: &str, fortran: bool, shape: &str) -> String {
    let order = if fortran { "True" } else { "False" };
    format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape}, }}\n")
}

fn parse_ok(bytes: &[u8]) -> NpyArray {
    match parse_npy(bytes) {
        Ok(a) => a,
        Err(e) => panic!("parse failed: {e}"),
    }
}

fn parse_err(bytes: &[u8]) -> NpyError {
    match parse_npy(bytes) {
        Ok(a) => panic!("parsed unexpectedly: {a:?}"),
        Err(e) => e,
    }
}

/// Sample values covering each integer dtype's extremes.
fn int_samples(dtype: Dtype) -> Vec<i128> {
    match dtype {
        Dtype::Bool => vec![0, 1, 1, 0, 1, 0],
        Dtype::I8 => vec![-128, -1, 0, 1, 100, 127],
        Dtype::I16 => vec![-32768, -300, 0, 1, 255, 32767],
        Dtype::I32 => vec![
            i128::from(i32::MIN),
            -70000,
            0,
            1,
            65536,
            i128::from(i32::MAX),
        ],
        Dtype::I64 => vec![
            i128::from(i64::MIN),
            -1,
            0,
            1,
            1 << 40,
            i128::from(i64::MAX),
        ],
        Dtype::U8 => vec![0, 1, 2, 127, 128, 255],
        Dtype::U16 => vec![0, 1, 255, 256, 40000, 65535],
        Dtype::U32 => vec![0, 1, 65536, 1 << 31, 3_000_000_000, i128::from(u32::MAX)],
        Dtype::U64 => vec![
            0,
            1,
            1 << 32,
            1 << 63,
            (1 << 63) + 12345,
            i128::from(u64::MAX),
        ],
        _ => vec![],
    }
}

fn float_samples(dtype: Dtype) -> Vec<f64> {
    match dtype {
        Dtype::F16 => vec![
            0.0,
            -0.5,
            65504.0,
            2f64.powi(-24),
            f64::INFINITY,
            0.333251953125,
        ],
        Dtype::F32 => vec![
            0.0,
            -1.5,
            f64::from(f32::MAX),
            f64::from(0.1f32),
            f64::from(f32::from_bits(1)),
            -3.0,
        ],
        _ => vec![
            0.0,
            -0.0,
            0.1,
            f64::MAX,
            f64::from_bits(1),
            f64::NEG_INFINITY,
        ],
    }
}

#[test]
fn roundtrip_every_dtype() {
    for dtype in Dtype::ALL {
        let data = if dtype.is_float() {
            NpyData::Float(float_samples(dtype))
        } else {
            NpyData::Int(int_samples(dtype))
        };
        for shape in [vec![6], vec![2, 3], vec![3, 1, 2]] {
            let bytes = write_npy(&shape, &data, dtype);
            let arr = parse_ok(&bytes);
            assert_eq!(arr.shape, shape);
            assert_eq!(arr.dtype, dtype);
            assert_eq!(arr.data, data, "{dtype}");
        }
    }
}

#[test]
fn roundtrip_nan_and_scalars_and_empty() {
    let bytes = write_npy(&[1], &NpyData::Float(vec![f64::NAN]), Dtype::F64);
    match parse_ok(&bytes).data {
        NpyData::Float(v) => assert!(v[0].is_nan()),
        NpyData::Int(_) => panic!("float expected"),
    }
    let scalar = parse_ok(&write_npy(&[], &NpyData::Int(vec![-7]), Dtype::I32));
    assert_eq!(scalar.shape, Vec::<usize>::new());
    assert_eq!(scalar.data, NpyData::Int(vec![-7]));
    let empty = parse_ok(&write_npy(&[0, 5], &NpyData::Int(vec![]), Dtype::U16));
    assert_eq!(empty.shape, vec![0, 5]);
    assert!(empty.data.is_empty());
}

#[test]
fn written_header_matches_numpy_layout() {
    // np.save of np.arange(3, dtype='<i2'), byte for byte (numpy 2.x).
    let bytes = write_npy(&[3], &NpyData::Int(vec![0, 1, 2]), Dtype::I16);
    let mut expected = b"\x93NUMPY\x01\x00\x76\x00".to_vec();
    expected.extend_from_slice(b"{'descr': '<i2', 'fortran_order': False, 'shape': (3,), }");
    expected.resize(127, b' ');
    expected.push(b'\n');
    expected.extend_from_slice(&[0, 0, 1, 0, 2, 0]);
    assert_eq!(bytes, expected);
    for shape in [vec![], vec![7], vec![16, 32, 64], vec![123_456_789, 0, 3]] {
        let n = element_count(&shape).unwrap_or(0);
        let bytes = write_npy(&shape, &NpyData::Float(vec![1.0; n]), Dtype::F64);
        let header_len = usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
        assert_eq!((10 + header_len) % 64, 0, "{shape:?}");
        assert_eq!(bytes[10 + header_len - 1], b'\n');
        assert_eq!(bytes.len(), 10 + header_len + 8 * n);
    }
}

#[test]
fn write_converts_like_astype() {
    let bytes = write_npy(&[3], &NpyData::Int(vec![300, -1, 2]), Dtype::U8);
    assert_eq!(parse_ok(&bytes).data, NpyData::Int(vec![44, 255, 2]));
    let bytes = write_npy(&[2], &NpyData::Float(vec![2.9, -1.5]), Dtype::I8);
    assert_eq!(parse_ok(&bytes).data, NpyData::Int(vec![2, -1]));
    let bytes = write_npy(&[2], &NpyData::Int(vec![3, 0]), Dtype::F32);
    assert_eq!(parse_ok(&bytes).data, NpyData::Float(vec![3.0, 0.0]));
    let bytes = write_npy(&[2], &NpyData::Int(vec![5, 0]), Dtype::Bool);
    assert_eq!(parse_ok(&bytes).data, NpyData::Int(vec![1, 0]));
}

#[test]
fn big_endian_files() {
    let data = [0x01, 0x02, 0xff, 0xfe, 0x80, 0x00];
    let arr = parse_ok(&npy_file(1, &header(">i2", false, "(3,)"), &data));
    assert_eq!(arr.data, NpyData::Int(vec![0x0102, -2, -32768]));
    let arr = parse_ok(&npy_file(1, &header(">u2", false, "(3,)"), &data));
    assert_eq!(arr.data, NpyData::Int(vec![0x0102, 0xfffe, 0x8000]));
    let arr = parse_ok(&npy_file(1, &header("<i2", false, "(3,)"), &data));
    assert_eq!(arr.data, NpyData::Int(vec![0x0201, -257, 128]));

    let mut f8 = Vec::new();
    for x in [1.5f64, -0.1] {
        f8.extend_from_slice(&x.to_be_bytes());
    }
    let arr = parse_ok(&npy_file(1, &header(">f8", false, "(2,)"), &f8));
    assert_eq!(arr.data, NpyData::Float(vec![1.5, -0.1]));

    let f4: Vec<u8> = 0.1f32.to_be_bytes().to_vec();
    let arr = parse_ok(&npy_file(1, &header(">f4", false, "(1,)"), &f4));
    assert_eq!(arr.data, NpyData::Float(vec![f64::from(0.1f32)]));

    let arr = parse_ok(&npy_file(
        1,
        &header(">f2", false, "(2,)"),
        &[0x3c, 0x00, 0xc0, 0x00],
    ));
    assert_eq!(arr.data, NpyData::Float(vec![1.0, -2.0]));

    let u8s = [0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01];
    let arr = parse_ok(&npy_file(1, &header(">u8", false, "(1,)"), &u8s));
    assert_eq!(arr.data, NpyData::Int(vec![(1 << 63) + 1]));
    let arr = parse_ok(&npy_file(1, &header(">i8", false, "(1,)"), &u8s));
    assert_eq!(arr.data, NpyData::Int(vec![i128::from(i64::MIN) + 1]));
    let arr = parse_ok(&npy_file(
        1,
        &header(">i4", false, "()"),
        &[0xff, 0xff, 0xff, 0xfe],
    ));
    assert_eq!(arr.data, NpyData::Int(vec![-2]));
    assert_eq!(arr.shape, Vec::<usize>::new());
}

#[test]
fn byte_order_markers() {
    for descr in ["|u1", "<u1", ">u1", "=u1", "u1"] {
        let arr = parse_ok(&npy_file(1, &header(descr, false, "(2,)"), &[7, 250]));
        assert_eq!(arr.dtype, Dtype::U8);
        assert_eq!(arr.data, NpyData::Int(vec![7, 250]));
    }
    let arr = parse_ok(&npy_file(1, &header("=i2", false, "(1,)"), &[0x01, 0x02]));
    assert_eq!(arr.data, NpyData::Int(vec![0x0201]));
    let arr = parse_ok(&npy_file(1, &header("|b1", false, "(3,)"), &[0, 1, 2]));
    assert_eq!(arr.dtype, Dtype::Bool);
    assert_eq!(arr.data, NpyData::Int(vec![0, 1, 1]));
    let arr = parse_ok(&npy_file(1, &header("|i1", false, "(1,)"), &[0xff]));
    assert_eq!(arr.data, NpyData::Int(vec![-1]));
}

#[test]
fn fortran_order_becomes_c_order() {
    // C-order array [[0, 1, 2], [3, 4, 5]] stored column by column.
    let arr = parse_ok(&npy_file(
        1,
        &header("|u1", true, "(2, 3)"),
        &[0, 3, 1, 4, 2, 5],
    ));
    assert_eq!(arr.shape, vec![2, 3]);
    assert_eq!(arr.data, NpyData::Int(vec![0, 1, 2, 3, 4, 5]));

    // Shape (2, 3, 4), element (i, j, k) = 100i + 10j + k; Fortran: i fastest.
    let mut fortran = Vec::new();
    for k in 0..4 {
        for j in 0..3 {
            for i in 0..2 {
                fortran.extend_from_slice(&(100 * i + 10 * j + k as i16).to_be_bytes());
            }
        }
    }
    let arr = parse_ok(&npy_file(1, &header(">i2", true, "(2, 3, 4)"), &fortran));
    let mut c_order = Vec::new();
    for i in 0..2 {
        for j in 0..3 {
            for k in 0..4 {
                c_order.push(100 * i + 10 * j + k);
            }
        }
    }
    assert_eq!(arr.data, NpyData::Int(c_order));

    // Floats, 1-D and 0-D Fortran arrays are unaffected by the flag.
    let mut f = Vec::new();
    for x in [1.0f64, 3.0, 2.0, 4.0] {
        f.extend_from_slice(&x.to_le_bytes());
    }
    let arr = parse_ok(&npy_file(1, &header("<f8", true, "(2, 2)"), &f));
    assert_eq!(arr.data, NpyData::Float(vec![1.0, 2.0, 3.0, 4.0]));
    let arr = parse_ok(&npy_file(1, &header("|u1", true, "(3,)"), &[1, 2, 3]));
    assert_eq!(arr.data, NpyData::Int(vec![1, 2, 3]));
    let arr = parse_ok(&npy_file(1, &header("|u1", true, "(0, 3)"), &[]));
    assert!(arr.data.is_empty());
}

#[test]
fn versions_two_and_three() {
    let text = header("<u2", false, "(2,)");
    let arr = parse_ok(&npy_file(2, &text, &[1, 0, 2, 0]));
    assert_eq!(arr.data, NpyData::Int(vec![1, 2]));
    let arr = parse_ok(&npy_file(3, &text, &[1, 0, 2, 0]));
    assert_eq!(arr.data, NpyData::Int(vec![1, 2]));
    // 3.0 headers are UTF-8: an unknown key is reported as text.
    let utf8 = "{'descr': '<u2', 'fortran_order': False, 'shape': (2,), 'é': 1}";
    assert_eq!(
        parse_err(&npy_file(3, utf8, &[1, 0, 2, 0])),
        NpyError::UnknownKey {
            key: "é".to_string()
        }
    );
    assert_eq!(
        parse_err(&npy_file(4, &text, &[])),
        NpyError::UnsupportedVersion { major: 4, minor: 0 }
    );
    let mut bytes = npy_file(1, &text, &[1, 0, 2, 0]);
    bytes[7] = 1;
    assert_eq!(
        parse_err(&bytes),
        NpyError::UnsupportedVersion { major: 1, minor: 1 }
    );
}

#[test]
fn header_spellings() {
    let spellings = [
        "{'descr': '<i2', 'fortran_order': False, 'shape': (2, 2), }",
        "{'descr':'<i2','fortran_order':False,'shape':(2,2)}",
        "{\"shape\": (2, 2), \"fortran_order\": False, \"descr\": \"<i2\"}",
        "  { 'descr' : '<i2' ,\n 'fortran_order' : False , 'shape' : ( 2 , 2 , ) , }  \n",
        "{'descr': u'<i2', 'fortran_order': False, 'shape': (2L, 2L), }",
        "{'descr': '<i2', 'fortran_order': False, 'shape': [2, 2]}\t\r\n",
    ];
    let data = [1, 0, 2, 0, 3, 0, 4, 0];
    for text in spellings {
        let arr = parse_ok(&npy_file(1, text, &data));
        assert_eq!(arr.shape, vec![2, 2], "{text}");
        assert_eq!(arr.data, NpyData::Int(vec![1, 2, 3, 4]), "{text}");
    }
    let arr = parse_ok(&npy_file(
        1,
        &header("<f4", false, "()"),
        &1.0f32.to_le_bytes(),
    ));
    assert_eq!(arr.shape, Vec::<usize>::new());
    assert_eq!(arr.data, NpyData::Float(vec![1.0]));
}

#[test]
fn unsupported_dtypes() {
    let cases = [
        ("<c16", UnsupportedKind::Complex),
        ("<c8", UnsupportedKind::Complex),
        ("|O", UnsupportedKind::Object),
        ("|S5", UnsupportedKind::Bytes),
        ("<U3", UnsupportedKind::Unicode),
        ("|V8", UnsupportedKind::Void),
        ("<M8[ns]", UnsupportedKind::Datetime),
        ("<m8[s]", UnsupportedKind::Timedelta),
        ("<f16", UnsupportedKind::Size),
        ("<i3", UnsupportedKind::Size),
        ("<i", UnsupportedKind::Size),
        ("", UnsupportedKind::Unknown),
        ("<", UnsupportedKind::Unknown),
        ("<x4", UnsupportedKind::Unknown),
    ];
    for (descr, kind) in cases {
        let err = parse_err(&npy_file(1, &header(descr, false, "(1,)"), &[0; 16]));
        assert_eq!(
            err,
            NpyError::UnsupportedDtype {
                descr: descr.to_string(),
                kind
            },
            "{descr}"
        );
    }
    let structured =
        "{'descr': [('a', '<i4'), ('b', '<f8')], 'fortran_order': False, 'shape': (1,), }";
    let err = parse_err(&npy_file(1, structured, &[0; 12]));
    assert!(matches!(
        err,
        NpyError::UnsupportedDtype {
            kind: UnsupportedKind::Structured,
            ..
        }
    ));
    assert!(err.to_string().contains("structured"), "{err}");
}

#[test]
fn header_errors() {
    let data = [0u8; 2];
    let cases: [(&str, NpyError); 9] = [
        (
            "{'descr': '<i2', 'shape': (1,)}",
            NpyError::MissingKey {
                key: "fortran_order",
            },
        ),
        (
            "{'descr': '<i2', 'fortran_order': False, 'shape': (1,), 'descr': '<i2'}",
            NpyError::DuplicateKey {
                key: "descr".to_string(),
            },
        ),
        (
            "{'descr': '<i2', 'fortran_order': False, 'shape': (1,), 'extra': 0}",
            NpyError::UnknownKey {
                key: "extra".to_string(),
            },
        ),
        (
            "{'descr': '<i2', 'fortran_order': 0, 'shape': (1,)}",
            NpyError::BadValue {
                key: "fortran_order",
                expected: "True or False",
                found: "an integer",
            },
        ),
        (
            "{'descr': '<i2', 'fortran_order': False, 'shape': (1)}",
            NpyError::BadValue {
                key: "shape",
                expected: "a tuple of integers",
                found: "an integer",
            },
        ),
        (
            "{'descr': '<i2', 'fortran_order': False, 'shape': ('1',)}",
            NpyError::BadValue {
                key: "shape",
                expected: "a tuple of integers",
                found: "a string",
            },
        ),
        (
            "{'descr': '<i2', 'fortran_order': False, 'shape': (-1,)}",
            NpyError::BadDimension { axis: 0, value: -1 },
        ),
        ("[1, 2]", NpyError::HeaderNotDict { found: "a list" }),
        (
            "{'descr': '<i2' 'fortran_order': False}",
            NpyError::HeaderSyntax {
                offset: 26,
                expected: "',' or '}'",
                found: Some(b'\''),
            },
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(parse_err(&npy_file(1, text, &data)), expected, "{text}");
    }
    let err = parse_err(&npy_file(
        1,
        "{'descr': '<i2', 'fortran_order': False, 'shape': (1,)",
        &data,
    ));
    assert!(
        matches!(err, NpyError::HeaderSyntax { found: None, .. }),
        "{err:?}"
    );
    let too_big = "{'descr': '<i2', 'fortran_order': False, 'shape': (99999999999999999999999999999999999999999,)}";
    assert!(matches!(
        parse_err(&npy_file(1, too_big, &data)),
        NpyError::HeaderIntegerTooLarge { .. }
    ));
    let beyond_usize =
        "{'descr': '<i2', 'fortran_order': False, 'shape': (1, 18446744073709551616)}";
    assert_eq!(
        parse_err(&npy_file(1, beyond_usize, &data)),
        NpyError::BadDimension {
            axis: 1,
            value: 1 << 64
        }
    );
}

#[test]
fn framing_errors() {
    assert_eq!(parse_err(b""), NpyError::BadMagic);
    assert_eq!(parse_err(b"PK\x03\x04 not npy"), NpyError::BadMagic);
    assert_eq!(parse_err(b"\x93NUMPZ\x01\x00"), NpyError::BadMagic);
    assert_eq!(
        parse_err(b"\x93NUM"),
        NpyError::Truncated {
            part: "preamble",
            needed: 10,
            available: 4
        }
    );
    assert_eq!(
        parse_err(b"\x93NUMPY\x01\x00\x10"),
        NpyError::Truncated {
            part: "preamble",
            needed: 10,
            available: 9
        }
    );
    assert_eq!(
        parse_err(b"\x93NUMPY\x02\x00\x10\x00\x00"),
        NpyError::Truncated {
            part: "preamble",
            needed: 12,
            available: 11
        }
    );
    let full = write_npy(&[4], &NpyData::Int(vec![1, 2, 3, 4]), Dtype::I32);
    assert_eq!(
        parse_err(&full[..50]),
        NpyError::Truncated {
            part: "header",
            needed: 128,
            available: 50
        }
    );
    assert_eq!(
        parse_err(&full[..full.len() - 1]),
        NpyError::DataLength {
            expected: 16,
            found: 15
        }
    );
    let mut long = full.clone();
    long.push(0);
    assert_eq!(
        parse_err(&long),
        NpyError::DataLength {
            expected: 16,
            found: 17
        }
    );
    // A 4 GiB header length in a tiny file.
    assert_eq!(
        parse_err(b"\x93NUMPY\x02\x00\xff\xff\xff\xff{}"),
        NpyError::Truncated {
            part: "header",
            needed: 12 + 0xffff_ffff,
            available: 14
        }
    );
}

#[test]
fn absurd_sizes_are_rejected_without_allocating() {
    let huge = header("<f8", false, "(4294967296, 4294967296, 4294967296)");
    assert!(matches!(
        parse_err(&npy_file(1, &huge, &[])),
        NpyError::ElementCountOverflow { .. }
    ));
    let bytes_overflow = header("<f8", false, "(18446744073709551615,)");
    assert!(matches!(
        parse_err(&npy_file(1, &bytes_overflow, &[])),
        NpyError::ElementCountOverflow { itemsize: 8, .. }
    ));
    // Plausible in count but not present in the file.
    let big = header("|u1", false, "(1000000000000,)");
    assert_eq!(
        parse_err(&npy_file(1, &big, &[1, 2, 3])),
        NpyError::DataLength {
            expected: 1_000_000_000_000,
            found: 3
        }
    );
    // A zero dimension makes the array empty whatever the others are.
    let empty = header("|u1", false, "(0, 1000000000000)");
    assert!(parse_ok(&npy_file(1, &empty, &[])).data.is_empty());
}

#[test]
fn dtype_names_and_descrs() {
    let names: Vec<String> = Dtype::ALL.iter().map(|d| d.to_string()).collect();
    assert_eq!(
        names,
        [
            "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
            "float16", "float32", "float64"
        ]
    );
    let descrs: Vec<&str> = Dtype::ALL.iter().map(|d| d.descr()).collect();
    assert_eq!(
        descrs,
        ["|b1", "|i1", "<i2", "<i4", "<i8", "|u1", "<u2", "<u4", "<u8", "<f2", "<f4", "<f8"]
    );
    for d in Dtype::ALL {
        assert_eq!(parse_descr(d.descr()), Ok((d, ByteOrder::Little)));
    }
    assert_eq!(Dtype::int_for_width(false, 1), Dtype::U8);
    assert_eq!(Dtype::int_for_width(false, 9), Dtype::U16);
    assert_eq!(Dtype::int_for_width(true, 12), Dtype::I16);
    assert_eq!(Dtype::int_for_width(true, 33), Dtype::I64);
    assert_eq!(Dtype::int_for_width(false, 64), Dtype::U64);
}

#[test]
fn error_messages() {
    let err = parse_err(&npy_file(1, &header("<c16", false, "(1,)"), &[0; 16]));
    assert_eq!(
        err.to_string(),
        "unsupported .npy dtype '<c16' (complex numbers); Convoy reads bool, int8..int64, uint8..uint64 and float16..float64"
    );
    assert_eq!(
        NpyError::DataLength {
            expected: 16,
            found: 15
        }
        .to_string(),
        ".npy data has 15 bytes, but the header's shape and dtype need 16"
    );
}
