//! The image readers and writers against the exact whole-array conversions
//! (`npy_to_raw`, `raw_to_npy`), on haloed layouts of every element width.

use super::image_read::{ImageReader, ReadFault};
use super::image_write::ImageWriter;
use super::layout::{ElemType, ImageLayout};
use super::npy::{decode, write_npy};
use super::random::random_raw;
use super::view::{c_strides, ArrayView};
use super::{npy_dtype_for, npy_to_raw, raw_to_npy, ByteOrder, Dtype, NpyArray, ValueError};
use crate::types::ScalarType;

const DIMS: [usize; 3] = [3, 4, 5];

/// A layout of `DIMS` inside a buffer with a halo of 1 and 2 spare columns.
fn haloed(elem: ElemType) -> ImageLayout {
    ImageLayout {
        channels: 3,
        height: 4,
        width: 5,
        row_stride: 8,
        channel_stride: 6 * 8,
        origin: 8 + 1,
        elem,
    }
}

fn elems() -> Vec<ElemType> {
    let mut out = vec![ElemType::WIDE];
    for bytes in [1, 2, 4, 8] {
        for signed in [false, true] {
            out.push(ElemType { bytes, signed });
        }
    }
    out
}

/// Whether every value of `lo..=hi` fits `e`.
fn holds(e: ElemType, lo: i128, hi: i128) -> bool {
    let bits = 8 * e.bytes as u32;
    if e.bytes == 16 {
        return true;
    }
    if e.signed {
        lo >= -(1i128 << (bits - 1)) && hi < (1i128 << (bits - 1))
    } else {
        lo >= 0 && hi < (1i128 << bits)
    }
}

fn load(bytes: &[u8], at: usize, e: ElemType) -> i128 {
    let mut raw = [0u8; 16];
    raw[..e.bytes].copy_from_slice(&bytes[at..at + e.bytes]);
    let v = i128::from_le_bytes(raw);
    let shift = 128 - 8 * e.bytes as u32;
    if e.signed && shift > 0 {
        (v << shift) >> shift
    } else {
        v
    }
}

fn types() -> Vec<ScalarType> {
    vec![
        ScalarType::int(false, 8),
        ScalarType::int(true, 8),
        ScalarType::int(true, 12),
        ScalarType::int(false, 1),
        ScalarType::int(true, 32),
        ScalarType::int(false, 40),
        ScalarType::fixed(true, 16, 6),
        ScalarType::fixed(false, 8, 3),
        ScalarType::fixed(true, 8, 10),
        ScalarType::fixed(true, 60, 4),
    ]
}

#[test]
fn reads_what_npy_to_raw_reads_into_every_layout() {
    for ty in types() {
        let (lo, hi) = ty.code_bounds();
        let up = ty.storage_frac() as i32 - ty.frac_bits();
        let raw = random_raw(7, &ty, 60);
        for raw_mode in [false, true] {
            let dtype = npy_dtype_for(&ty, raw_mode);
            // fixed<60, 4> has more bits than float64: raw codes only.
            let Ok(file) = raw_to_npy(&DIMS, &raw, &ty, raw_mode) else {
                assert!(!raw_mode && ty.width > 53, "{ty}");
                continue;
            };
            let header = super::parse_npy_header(&file).expect("header");
            let view = ArrayView::of_npy(&header, &file[header.data_offset..]);
            let expected = npy_to_raw(&super::parse_npy(&file).expect("npy"), &ty, raw_mode)
                .expect("readable");
            for elem in elems() {
                if !holds(elem, lo << up, hi << up) {
                    continue;
                }
                let layout = haloed(elem);
                let reader =
                    ImageReader::new(dtype, &ty, raw_mode, &[], &DIMS, layout).expect("a reader");
                let mut buf = vec![0xAAu8; layout.span_bytes() + 16];
                reader.read(&view, &mut buf, &mut vec![]).expect("reads");
                let mut k = 0;
                for c in 0..3 {
                    for y in 0..4 {
                        for x in 0..5 {
                            let at = layout.row_start(c, y) + x * elem.bytes;
                            assert_eq!(load(&buf, at, elem), expected[k], "{ty} {elem:?}");
                            k += 1;
                        }
                    }
                }
                // The halo is not touched.
                assert_eq!(buf[0], 0xAA);
                // And writing it back gives the file's bytes.
                let writer = ImageWriter::new(&ty, raw_mode, &DIMS, layout).expect("a writer");
                let mut out = vec![0u8; writer.image_bytes()];
                writer.write(&buf, &mut out).expect("writes");
                assert_eq!(out, &file[header.data_offset..], "{ty} {elem:?} {raw_mode}");
            }
        }
    }
}

#[test]
fn the_first_bad_value_is_named_by_its_index() {
    let ty = ScalarType::int(false, 8);
    let mut values = vec![5i128; 60];
    values[37] = -1;
    values[50] = 300;
    let file = write_npy(&DIMS, &super::NpyData::Int(values.clone()), Dtype::I16);
    let header = super::parse_npy_header(&file).expect("header");
    let view = ArrayView::of_npy(&header, &file[header.data_offset..]);
    let layout = haloed(ElemType {
        bytes: 1,
        signed: false,
    });
    let reader = ImageReader::new(Dtype::I16, &ty, false, &[], &DIMS, layout).expect("reader");
    let mut buf = vec![0u8; layout.span_bytes()];
    let e = reader
        .read(&view, &mut buf, &mut vec![])
        .expect_err("refused");
    let whole = npy_to_raw(&super::parse_npy(&file).expect("npy"), &ty, false).expect_err("bad");
    assert_eq!(e, ReadFault::Value(whole));
    // A proven range narrower than the type is checked too.
    let values = vec![9i128; 60];
    let file = write_npy(&DIMS, &super::NpyData::Int(values), Dtype::U8);
    let view = ArrayView::of_npy(&header_of(&file), &file[header_of(&file).data_offset..]);
    let ranges = [(0, 255), (0, 8), (0, 255)];
    let reader = ImageReader::new(Dtype::U8, &ty, false, &ranges, &DIMS, layout).expect("reader");
    let e = reader
        .read(&view, &mut buf, &mut vec![])
        .expect_err("refused");
    assert_eq!(
        e,
        ReadFault::Range {
            flat: 20,
            channel: 1,
            raw: 9
        }
    );
}

fn header_of(file: &[u8]) -> super::NpyHeader {
    super::parse_npy_header(file).expect("header")
}

#[test]
fn dtypes_that_cannot_be_the_type_are_refused_up_front() {
    let fixed = ScalarType::fixed(true, 16, 6);
    let layout = haloed(ElemType::WIDE);
    let e = ImageReader::new(Dtype::I16, &fixed, false, &[], &DIMS, layout).expect_err("ints");
    assert!(matches!(e, ValueError::WrongDtype { .. }));
    let e = ImageReader::new(Dtype::F32, &fixed, true, &[], &DIMS, layout).expect_err("raw");
    assert!(matches!(e, ValueError::WrongDtype { .. }));
    assert!(ImageReader::new(
        Dtype::F32,
        &ScalarType::int(true, 8),
        false,
        &[],
        &DIMS,
        layout
    )
    .is_ok());
}

#[test]
fn float_inputs_exact_or_refused_like_npy_to_raw() {
    let ty = ScalarType::fixed(true, 12, 4);
    let step = 2f64.powi(-8);
    let candidates = [
        0.0,
        -0.0,
        step,
        -8.0,
        8.0 - step,
        8.0,
        step / 2.0,
        1e-300,
        f64::MIN_POSITIVE / 4.0,
        f64::NAN,
        f64::INFINITY,
        -1e300,
        3.25,
    ];
    let layout = ImageLayout::dense(1, 1, 1, ElemType::WIDE);
    for dtype in [Dtype::F64, Dtype::F32, Dtype::F16] {
        for &x in &candidates {
            let file = write_npy(&[1, 1, 1], &super::NpyData::Float(vec![x]), dtype);
            let header = header_of(&file);
            let payload = &file[header.data_offset..];
            let one = NpyArray {
                shape: vec![1, 1, 1],
                dtype,
                data: decode(payload, dtype, ByteOrder::Little),
            };
            let expected = npy_to_raw(&one, &ty, false);
            let view = ArrayView {
                dtype,
                order: ByteOrder::Little,
                shape: vec![1, 1, 1],
                strides: c_strides(&[1, 1, 1]),
                bytes: payload,
            };
            let reader = ImageReader::new(dtype, &ty, false, &[], &[1, 1, 1], layout).expect("r");
            let mut buf = vec![0u8; 16];
            let got = reader.read(&view, &mut buf, &mut vec![]);
            match expected {
                Ok(v) => {
                    assert_eq!(got, Ok(()), "{x} as {dtype}");
                    assert_eq!(load(&buf, 0, ElemType::WIDE), v[0], "{x} as {dtype}");
                }
                // Debug, so that NaN equals NaN.
                Err(e) => assert_eq!(
                    format!("{got:?}"),
                    format!("{:?}", Err::<(), _>(ReadFault::Value(e))),
                    "{x} as {dtype}"
                ),
            }
        }
    }
}
