//! Rendered diagnostics (colour off) for the mistakes users make, one snapshot
//! each: every case must fail to compile, or (for warnings) compile with
//! the warning shown.

mod common;

use common::{compile, source_and_output, Files};
use convoy::data::{write_npy, Dtype, NpyData};

fn files() -> Files {
    let mut f = Files::default();
    let w: Vec<i128> = (0..16 * 9).map(|i| (i % 7) - 3).collect();
    f.0.insert(
        "w.npy".into(),
        write_npy(&[16, 1, 3, 3], &NpyData::Int(w.clone()), Dtype::I8),
    );
    f.0.insert(
        "w_bad_shape.npy".into(),
        write_npy(&[16, 9], &NpyData::Int(w), Dtype::I8),
    );
    let big: Vec<i128> = (0..16).map(|i| i * 20).collect();
    f.0.insert(
        "b_big.npy".into(),
        write_npy(&[16], &NpyData::Int(big), Dtype::I16),
    );
    let fl: Vec<f64> = (0..16).map(|i| i as f64 * 0.1).collect();
    f.0.insert(
        "b_float.npy".into(),
        write_npy(&[16], &NpyData::Float(fl), Dtype::F64),
    );
    f.0.insert("corrupt.npy".into(), b"\x93NUMPY garbage".to_vec());
    f
}

const HEAD: &str = "  input x: u8[16, 32, 64]\n  param w: i8[16, 1, 3, 3] = random(seed: 1)\n";

fn pipeline(body: &str) -> String {
    format!("pipeline p {{\n{HEAD}{body}\n}}\n")
}

/// Scripts that must be rejected.
fn error_cases() -> Vec<(&'static str, String)> {
    vec![
        // Syntax.
        ("missing_equals_let", pipeline("  let y relu(x)\n  output y")),
        ("missing_equals_param", "pipeline p {\n  param w: i8[4] load(\"w.npy\")\n}\n".into()),
        ("spaced_type", "pipeline p {\n  input x: u 8[4, 4, 4]\n  output x\n}\n".into()),
        ("unknown_mode", "pipeline p {\n  const k: fixed<16, 4, round, sat> = 0.5\n}\n".into()),
        ("stray_semicolons", pipeline("  let y = relu(x);\n  output y;")),
        ("unclosed_brace", "pipeline p {\n  input x: u8[1, 2, 2]\n  output x\n".into()),
        ("bad_token", pipeline("  let y = x ? 2\n  output y")),
        ("width_zero", "pipeline p {\n  input x: u0[1, 2, 2]\n  output x\n}\n".into()),
        ("width_too_large", "pipeline p {\n  input x: i65[1, 2, 2]\n  output x\n}\n".into()),
        ("mode_order", "pipeline p {\n  const k: fixed<8, 4, sat, rnd> = 0.5\n}\n".into()),
        ("mode_after_fixed_cast", pipeline("  let y = x as fixed<8, 4> sat\n  output y")),
        // Names and calls.
        ("unknown_name", pipeline("  let y = relu(xx)\n  output y")),
        ("unknown_stage", pipeline("  let y = rellu(x)\n  output y")),
        ("redefined", pipeline("  let y = relu(x)\n  let y = relu(x)\n  output y")),
        ("unknown_argument", pipeline("  let y = dwconv(x, w, padding: 1)\n  output y")),
        ("missing_argument", pipeline("  let y = conv(x)\n  output y")),
        ("too_many_arguments", pipeline("  let y = relu(x, 2)\n  output y")),
        ("duplicate_argument", pipeline("  let y = dwconv(x, w, pad: 1, pad: 2)\n  output y")),
        ("no_outputs", pipeline("  let y = relu(x)")),
        ("several_pipelines", "pipeline a {\n  input x: u8[1, 2, 2]\n  output x\n}\npipeline b {\n  input x: u8[1, 2, 2]\n  output x\n}\n".into()),
        ("unknown_std_block", "use std::blocks::dsconvv\npipeline p {\n  input x: u8[1, 2, 2]\n  output x\n}\n".into()),
        ("recursive_block", "block f(x) {\n  return f(x)\n}\npipeline p {\n  input x: u8[1, 2, 2]\n  let y = f(x)\n  output y\n}\n".into()),
        ("input_in_block", "block f(x) {\n  input z: u8[1, 2, 2]\n  return x\n}\npipeline p {\n  input x: u8[1, 2, 2]\n  let y = f(x)\n  output y\n}\n".into()),
        ("block_shadows_stage", "block relu(x) {\n  return x\n}\npipeline p {\n  input x: u8[1, 2, 2]\n  output x\n}\n".into()),
        ("tuple_arity", pipeline("  let (a, b) = maxpool(x, 2)\n  output a")),
        // Geometry.
        ("groups_do_not_divide", pipeline("  param w3: i8[6, 5, 3, 3] = random(seed: 2)\n  let y = conv(x, w3, groups: 3)\n  output y")),
        ("weight_shape", pipeline("  param w2: i8[8, 8, 3, 3] = random(seed: 2)\n  let y = conv(x, w2)\n  output y")),
        ("kernel_too_large", "pipeline p {\n  input x: u8[1, 4, 4]\n  param w: i8[1, 1, 3, 3] = random(seed: 1)\n  let y = conv(x, w, dilation: 2)\n  output y\n}\n".into()),
        ("zero_stride", pipeline("  let y = dwconv(x, w, stride: 0)\n  output y")),
        ("zero_upsample", pipeline("  let y = upsample(x, 0, nearest)\n  output y")),
        ("bilinear_factor_three", pipeline("  let y = upsample(x, 3, bilinear)\n  output y")),
        ("output_pad_too_large", pipeline("  let y = dwdeconv(x, w, stride: 2, output_pad: 2)\n  output y")),
        ("deconv_empty_output", "pipeline p {\n  input x: u8[1, 1, 1]\n  param w: i8[1, 1, 2, 2] = random(seed: 1)\n  let y = deconv(x, w, pad: 1)\n  output y\n}\n".into()),
        ("pool_pad_too_large", pipeline("  let y = maxpool(x, 2, pad: 2)\n  output y")),
        ("unpool_not_indices", pipeline("  let p = maxpool(x, 2)\n  let u = maxunpool(p, p, 2)\n  output u")),
        ("unpool_plane_mismatch", "pipeline p {\n  input x: u8[2, 5, 5]\n  let (v, i) = maxpool(x, 2, indices: true)\n  let u = maxunpool(v, i, 2)\n  output u\n}\n".into()),
        ("broadcast_mismatch", pipeline("  param b: i16[8] = random(seed: 3)\n  let y = x + b\n  output y")),
        ("concat_mismatch", pipeline("  let p = maxpool(x, 2)\n  let y = concat(x, p)\n  output y")),
        ("huge_tensor", "pipeline p {\n  input x: u8[100000, 100000, 100000]\n  output x\n}\n".into()),
        ("weights_in_arithmetic", pipeline("  let y = w + 1\n  output y")),
        ("pad_tuple_of_three", pipeline("  let y = dwconv(x, w, pad: (1, 1, 1))\n  output y")),
        ("bad_upsample_mode", pipeline("  let y = upsample(x, 2, cubic)\n  output y")),
        // Values and types.
        ("cast_not_proven", pipeline("  let y = dwconv(x, w, pad: 1) as u8\n  output y")),
        ("cast_fixed_not_proven", pipeline("  let y = x * 3 as i8\n  output y")),
        ("annotation_out_of_range", pipeline("  let y: u8[16, 32, 64] = x + 1\n  output y")),
        ("annotation_shape", pipeline("  let y: u8[16, 32, 32] = x\n  output y")),
        ("annotation_fraction", pipeline("  let y: u8[16, 32, 64] = x * 0.5\n  output y")),
        ("inexact_literal", pipeline("  let y = x * 0.1\n  output y")),
        ("const_out_of_range", "pipeline p {\n  input x: u8[1, 2, 2]\n  const k: u8 = 300\n  let y = x * k\n  output y\n}\n".into()),
        ("const_not_scalar", "pipeline p {\n  input x: u8[1, 2, 2]\n  const k: u8[2] = 3\n  output x\n}\n".into()),
        ("shift_too_far", pipeline("  let y = x >> 200\n  output y")),
        ("too_wide", "pipeline p {\n  input x: i64[1, 2, 2]\n  let y = x * x * x\n  output y\n}\n".into()),
        ("output_too_wide", "pipeline p {\n  input x: u40[1, 2, 2]\n  let y = x * x\n  output y\n}\n".into()),
        ("not_a_tensor_output", "pipeline p {\n  input x: u8[1, 2, 2]\n  let k = 3 + 4\n  let (v, i) = maxpool(x, 2, indices: true)\n  output v, i, zz\n}\n".into()),
        // Data.
        ("load_missing_file", pipeline("  param b: i16[16] = load(\"nope.npy\")\n  let y = x + b\n  output y")),
        ("load_wrong_shape", pipeline("  param w2: i8[16, 1, 3, 3] = load(\"w_bad_shape.npy\")\n  let y = dwconv(x, w2)\n  output y")),
        ("load_value_out_of_range", pipeline("  param b: i4[16] = load(\"b_big.npy\")\n  let y = x + b\n  output y")),
        ("load_float_into_int", pipeline("  param b: i16[16] = load(\"b_float.npy\")\n  let y = x + b\n  output y")),
        ("load_corrupt", pipeline("  param b: i16[16] = load(\"corrupt.npy\")\n  let y = x + b\n  output y")),
        ("several_errors_at_once", pipeline("  let a = relu(nope)\n  let b = dwconv(x, w, stride: 0)\n  let c = x as u4\n  output a, b, c")),
    ]
}

/// Scripts that compile, with warnings or notes worth pinning.
fn warning_cases() -> Vec<(&'static str, String)> {
    vec![
        ("unused_declarations", pipeline("  param b: i16[16] = random(seed: 2)\n  let y = relu(x)\n  output x")),
        ("sat_never_triggers", pipeline("  let y = x >> 1 as u8 sat\n  output y")),
        ("wrap_can_trigger", pipeline("  let y = x * 3 as fixed<8, 8>\n  output y")),
        ("rows_never_read", pipeline("  let y = dwconv(x, w, stride: 2)\n  output y")),
        ("const_inexact", "pipeline p {\n  input x: u8[1, 2, 2]\n  const k: fixed<32, 1> = 0.0123\n  let y = trunc(x * k)\n  output y\n}\n".into()),
    ]
}

#[test]
fn errors_are_rendered() {
    let cases = error_cases();
    assert!(cases.len() >= 50);
    let data = files();
    for (name, src) in cases {
        match compile(&format!("{name}.cnn"), &src, &data) {
            Ok(_) => panic!("case {name} should not compile:\n{src}"),
            Err(text) => {
                assert!(
                    text.contains("Error"),
                    "case {name} rendered no error:\n{text}"
                );
                insta::assert_snapshot!(format!("error_{name}"), source_and_output(&src, &text));
            }
        }
    }
}

#[test]
fn warnings_are_rendered() {
    let data = files();
    for (name, src) in warning_cases() {
        match compile(&format!("{name}.cnn"), &src, &data) {
            Ok((_, text)) => {
                assert!(!text.is_empty(), "case {name} produced no warning");
                insta::assert_snapshot!(format!("warning_{name}"), source_and_output(&src, &text));
            }
            Err(text) => panic!("case {name} should compile:\n{text}"),
        }
    }
}

#[test]
fn several_errors_are_reported_in_one_run() {
    let src = pipeline("  let a = relu(nope)\n  let b = dwconv(x, w, stride: 0)\n  let c = x * 3 as u4\n  output a, b, c");
    let text = compile("many.cnn", &src, &files()).unwrap_err();
    assert_eq!(text.matches("Error").count(), 3, "{text}");
}
