//! Snapshots of the AST of every example and stdlib module, and of syntax
//! features whose parse is easy to get wrong (precedence, pipes, tuples); one
//! test per file.

use crate::cases::{EXAMPLES, STDLIB_MODULES};
use crate::common::{root, source_and_output};
use convoy::diag::SourceMap;

fn ast_of(name: &str, src: &str) -> String {
    let mut sources = SourceMap::new();
    let id = sources.add(name, src);
    match convoy::parse(&sources, id) {
        Ok(file) => convoy::syntax::dump(&file),
        Err(d) => convoy::diag::render(&sources, &d, false),
    }
}

mod examples {
    examples!(super::example);
}

mod stdlib {
    stdlib_modules!(super::stdlib_module);
}

#[test]
fn no_file_went_missing() {
    assert!(
        EXAMPLES.len() + STDLIB_MODULES.len() >= 5,
        "expected the examples and the stdlib"
    );
}

fn example(name: &str) {
    ast_snapshot("examples", name);
}

fn stdlib_module(name: &str) {
    ast_snapshot("stdlib", name);
}

/// The AST of `<dir>/<name>.cnn`, pinned as `ast_<dir>_<name>`.
fn ast_snapshot(dir: &str, name: &str) {
    let src = std::fs::read_to_string(root().join(dir).join(format!("{name}.cnn"))).unwrap();
    insta::assert_snapshot!(
        format!("ast_{dir}_{name}"),
        source_and_output(&src, &ast_of(name, &src))
    );
}

/// Syntax whose parse is easy to get wrong, pinned as `syntax_<name>`.
pub(crate) const SYNTAX_FEATURES: &[(&str, &str)] = &[
    ("precedence", "pipeline p { let y = a + b >> 2 as u8 sat |> upsample(2, nearest) }"),
    ("mul_binds_tighter", "pipeline p { let y = -a * b + c * d - e << 1 }"),
    ("pipes_chain", "pipeline p { let y = x |> relu() |> maxpool(2, stride: (2, 1)) }"),
    ("tuple_let", "pipeline p { let (v, i) = maxpool(x, 2, indices: true) }"),
    ("fixed_types", "pipeline p {\n  input x: fixed<16, 6, rnd, sat>[4, 8, 8] pad 2\n  const k: ufixed<8, -2, rnd_conv> = -1.5e-3\n  let y: fixed<20, 10>[4, 8, 8] = x * k as fixed<12, 4, rnd_min_inf, sat_sym>\n}"),
    ("block_with_defaults", "/// Doubles.\n/// Twice.\nblock twice(x, shift = 1) {\n  let y = x << shift\n  return y\n}"),
    ("pads_four", "pipeline p { let y = conv(x, w, pad: (1, 0, 2, 1), stride: (2, 3), dilation: 2, groups: 4) }"),
    ("hls_attributes", "pipeline p {\n  @hls(pe: 16, simd: 4)\n  @hls(pe: -1,)\n  let y = conv(x, w)\n  @other() let (a, b) = maxpool(x, 2, indices: true)\n}"),
    ("comments_everywhere", "// head\npipeline p { // after brace\n  input x: u8[1, 2, 2] // trailing\n  // alone\n  output x\n}"),
];

#[test]
fn syntax_features() {
    for (name, src) in SYNTAX_FEATURES {
        insta::assert_snapshot!(
            format!("syntax_{name}"),
            source_and_output(src, &ast_of(name, src))
        );
    }
}
