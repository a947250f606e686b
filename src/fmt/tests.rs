use super::format_file;
use crate::span::SourceId;

fn fmt(src: &str) -> String {
    let file = crate::syntax::parse(src, SourceId(0)).expect("parses");
    format_file(&file, src)
}

#[test]
fn aligns_declarations_and_trailing_comments() {
    let src = "pipeline p {\ninput x: u8[4, 8, 8]\nparam w: i8[4,4,1,1] = random(seed: 1)\nconst factor: fixed<32,1> = 0.0123\nlet a = conv(x,w) // one\nlet bb = a>>2 // two\noutput bb\n}\n";
    assert_eq!(
        fmt(src),
        "pipeline p {\n  input x: u8[4, 8, 8]\n  param w: i8[4, 4, 1, 1]    = random(seed: 1)\n  const factor: fixed<32, 1> = 0.0123\n  let a  = conv(x, w)   // one\n  let bb = a >> 2       // two\n  output bb\n}\n"
    );
}

#[test]
fn long_pipes_break_one_stage_per_line() {
    let src = "pipeline p { input x: u8[4, 8, 8]\n let y = x |> upsample(2, nearest) |> maxpool(2) |> upsample(2, nearest) |> maxpool(2) |> upsample(2, nearest)\n output y }";
    assert_eq!(
        fmt(src),
        "pipeline p {\n  input x: u8[4, 8, 8]\n  let y = x\n    |> upsample(2, nearest)\n    |> maxpool(2)\n    |> upsample(2, nearest)\n    |> maxpool(2)\n    |> upsample(2, nearest)\n  output y\n}\n"
    );
}

#[test]
fn comments_inside_a_pipe_stay_with_their_stage() {
    let src = "pipeline p {\n  input x: u8[4, 8, 8]\n  let y = x\n    // twice as large\n    |> upsample(2, nearest)   // nearest\n    |> maxpool(2)\n  output y\n}\n";
    assert_eq!(fmt(src), src);
}
