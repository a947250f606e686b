//! W004 (pixels never read) names real pixels only: the zero padding after
//! the last window may stay unread without a warning.

use crate::common::compile;
use convoy::NoFiles;

fn warnings(body: &str) -> String {
    let src = format!(
        "pipeline p {{\n  input x: u8[4, 16, 16]\n  param w: i8[4, 1, 3, 3] = random(seed: 1)\n{body}\n}}\n"
    );
    compile("w.cnn", &src, &NoFiles)
        .unwrap_or_else(|e| panic!("{e}"))
        .1
}

#[test]
fn stride_two_pad_one_on_an_even_map_reads_every_pixel() {
    // Padded 18, windows at 0, 2, ..., 14 cover 0..17: only the bottom pad row is left.
    let w = warnings("  let y = dwconv(x, w, stride: 2, pad: 1)\n  output y");
    assert!(!w.contains("W004"), "{w}");
}

#[test]
fn real_pixels_left_unread_still_warn() {
    // No padding: windows at 0, 2, ..., 12 cover 0..14; pixel 15 is never read.
    let w = warnings("  let y = dwconv(x, w, stride: 2)\n  output y");
    assert!(w.contains("W004") && w.contains("last 1 pixel"), "{w}");
    // Stride 3, pad (0, 1): padded 17, windows cover 0..14; 15 is real, 16 is padding.
    let w = warnings("  let y = dwconv(x, w, stride: 3, pad: (0, 1, 0, 1))\n  output y");
    assert!(w.contains("last 1 pixel"), "{w}");
}
