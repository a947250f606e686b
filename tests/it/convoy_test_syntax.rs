//! The syntax of `test` declarations: their AST (with spans) and that files
//! without tests parse exactly as before.

use convoy::span::SourceId;
use convoy::syntax::{dump, parse};

fn ast(src: &str) -> String {
    match parse(src, SourceId(0)) {
        Ok(f) => format!("SOURCE\n{src}\nOUTPUT\n{}", dump(&f)),
        Err(e) => panic!("{src}\n{e:?}"),
    }
}

const PIPELINE: &str =
    "pipeline seed {\n  input x: u8[2, 4, 4]\n  let dw = relu(x)\n  output dw\n}\n";

#[test]
fn every_test_statement() {
    let src = format!(
        "{PIPELINE}\ntest all {{\n  run seed with x = load(\"golden/x.npy\"), y = random(seed: 3),\n  \
         expect dw == load(\"golden/dw.npy\")\n  expect dw fits u8   // static\n  \
         expect dw fits fixed<16, 6, rnd, sat>\n  expect no sat\n  expect no wrap in dw\n  \
         snapshot dw, pw\n}}\n\ntest bare {{ run seed }}\n"
    );
    insta::assert_snapshot!("every_test_statement", ast(&src));
}

#[test]
fn test_words_stay_usable_as_names() {
    // `run`, `expect`, `snapshot`, `no`, `fits`, `with` and `test` are words of tests only.
    let src = "pipeline test {\n  input run: u8[1, 2, 2]\n  let expect = relu(run)\n  let no = expect\n  \
               let snapshot = no\n  let fits = snapshot\n  let with = fits\n  output with\n}\n\n\
               test t {\n  run test with run = random(seed: 1)\n  expect no == load(\"no.npy\")\n  \
               expect no sat in no\n  snapshot expect, with\n}\n";
    insta::assert_snapshot!("test_words_as_names", ast(src));
}

#[test]
fn files_without_tests_dump_as_before() {
    let f = parse(PIPELINE, SourceId(0)).unwrap();
    assert!(f.tests.is_empty());
    assert!(!dump(&f).contains("test"));
}

#[test]
fn mistakes_are_parse_errors() {
    let cases = [
        (
            "test t {\n  run p with x = random(seed: 1)\n  expect x = load(\"x.npy\")\n}\n",
            "BadTestLine",
        ),
        ("test t {\n  snapshot x\n}\n", "TestWithoutRun"),
        ("test t {\n  run p\n  run q\n}\n", "SecondRun"),
        ("test t {\n  run p with x = load(x.npy)\n}\n", "BadTestLine"),
    ];
    for (src, variant) in cases {
        let errors = parse(src, SourceId(0)).expect_err(src);
        assert!(format!("{errors:?}").contains(variant), "{src}: {errors:?}");
    }
}
