//! `convoy repl` driven through standard input (not a terminal): whole
//! transcripts are pinned by snapshots. The first one is the story of the
//! issue: paste the seed pipeline, see its ranges, run it on random data,
//! change `factor` until values wrap, switch to `sat`, save the session.

use crate::common::{root, run_with_stdin};
use std::path::Path;
use std::process::Command;

/// Runs `convoy repl` in `dir` with `input` on its standard input.
fn transcript(dir: &Path, input: &str) -> String {
    let out = run_with_stdin(
        Command::new(env!("CARGO_BIN_EXE_convoy"))
            .arg("repl")
            .current_dir(dir)
            .env("NO_COLOR", "1"),
        input,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("convoy_repl_{name}_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const SEED: &str = include_str!("../../examples/seed.cnn");

#[test]
fn the_seed_story() {
    let out_dir = temp_dir("story");
    let saved = out_dir.join("mine.cnn");
    let input = format!(
        ":help\n{SEED}:ranges\n:run\n\
         // a larger factor: more values leave 0 .. 255 and wrap\n\
         const factor: fixed<32, 1> = 0.05\n:run\n\
         // saturate instead of wrapping\n\
         let dw: u8[16, 32, 64] = relu(b_dw + trunc(dwconv(x, w_dw, pad: 1) * factor)) as u8 sat\n\
         let pw = relu(b_pw + trunc(conv(dw, w_pw) * factor)) as u8 sat\n\
         :run\n:save {}\n:quit\n",
        saved.display()
    );
    let text = transcript(&root().join("examples"), &input);
    let text = text.replace(&out_dir.display().to_string(), "OUT");
    insta::assert_snapshot!("story", text);

    // The wraps were counted, then gone once `sat` was used.
    let after_factor = text.split("convoy> :run\n").nth(2).unwrap();
    assert!(
        after_factor.contains("`as u8 wrap` wrapped"),
        "{after_factor}"
    );
    let after_sat = text.split("convoy> :run\n").nth(3).unwrap();
    assert!(!after_sat.contains("wrapped"), "{after_sat}");
    assert!(after_sat.contains("`as u8 sat` saturated"), "{after_sat}");

    // The saved session is a formatted script that checks, with the changes.
    let saved_text = std::fs::read_to_string(&saved).unwrap();
    insta::assert_snapshot!("story_saved", saved_text);
    let mut sources = convoy::SourceMap::new();
    let id = sources.add("mine.cnn", saved_text.as_str());
    assert_eq!(convoy::format(&sources, id).unwrap(), saved_text);
    let folder = crate::common::Folder(root().join("examples"));
    crate::common::compile("mine.cnn", &saved_text, &folder).expect("the saved session checks");
    assert!(saved_text.contains("= 0.05") && saved_text.contains("as u8 sat"));
}

#[test]
fn exploring_line_by_line() {
    let input = "\
input x: u8[2, 4, 4]
param w: i8[2, 1, 3, 3] = random(seed: 5)
w
let y = (relu(dwconv(x, w, pad: 1)) >> 4) as u8 sat
:type y * 3 - 1000
y
let (p, i) = maxpool(y, 2, indices: true)
i
output p
// an error in what was typed; the session goes on
let z = y + nope
let q = x as u4
let bad = (y
  + 1
:ranges
maxunpool(p, i, 2) |> upsample(2, nearest)
use std::blocks::dsconv
block twice(a) {
  return a + a
}
twice(p)
let y = relu(dwconv(x, w, pad: 1)) >> 4
:show
:emit hls y
:seed 3
:run
:frobnicate
:clear
:show
:quit
";
    let text = transcript(&root().join("examples"), input);
    insta::assert_snapshot!("exploring", text);
}

#[test]
fn files_load_reload_and_inputs() {
    let dir = temp_dir("files");
    let script = "// a tiny pipeline\npipeline tiny {\n  input x: u8[1, 2, 3]\n  let y = x * 2 + 1\n  output y\n}\n";
    std::fs::write(dir.join("tiny.cnn"), script).unwrap();
    let npy = convoy::data::write_npy(
        &[1, 2, 3],
        &convoy::data::NpyData::Int(vec![0, 1, 2, 3, 4, 255]),
        convoy::data::Dtype::U8,
    );
    std::fs::write(dir.join("x.npy"), npy).unwrap();
    let input = "\
:load tiny.cnn
:run
:input x=x.npy
:run
let y = x * 3
:reload
y
:input x=random
:load missing.cnn
:input x=nothing.npy
:run
:quit
";
    let text = transcript(&dir, input);
    insta::assert_snapshot!("files", text);
}

#[test]
fn unfinished_input_at_the_end_is_reported() {
    let text = transcript(&root(), "input x: u8[1, 2, 2]\nlet y = relu(x\n");
    assert!(
        text.contains(
            "unfinished input dropped (1 brace or parenthesis left open): let y = relu(x"
        ),
        "{text}"
    );
}

#[test]
fn bench_uses_the_jit() {
    let text = transcript(&root(), "input x: u8[4, 8, 8]\nlet y = relu(x)\n:bench\n");
    assert!(text.contains("JIT (Cranelift): compiled in"), "{text}");
    assert!(text.contains("GMAC/s"), "{text}");
}
