//! Thousands of random and mutated scripts go through parse + check: every one
//! must end in a program or in diagnostics, never in a panic.

use crate::common::gen::{random_program, Rng};
use crate::common::{cnn_files, root, Files};
use convoy::diag::{render, SourceMap};
use convoy::CheckOptions;

/// Pieces a mutation may splice in: tokens of the language and troublemakers.
const TOKENS: &[&str] = &[
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "=",
    ";",
    "|>",
    ">>",
    "<<",
    "as",
    "let",
    "pipeline",
    "block",
    "return",
    "use std::blocks::dsconv",
    "input",
    "param",
    "const",
    "output",
    "u8",
    "i65",
    "u0",
    "fixed<",
    "fixed<8, 4, rnd, sat>",
    "ufixed<1, 99>",
    "pad",
    "99999999999999999999999",
    "0.1",
    "-",
    "*",
    "+",
    "conv(",
    "deconv(",
    "maxpool(",
    "maxunpool(",
    "upsample(",
    "concat(",
    "relu(",
    "stride: 0",
    "groups: 7",
    "dilation: 65537",
    "indices: true",
    "bilinear",
    "nearest",
    "random(seed: 1)",
    "load(\"w.npy\")",
    "x",
    "w",
    "\"",
    "//",
    "\n",
    "é",
    "\u{0}",
    "2",
    "0",
];

fn mutate(src: &str, rng: &mut Rng) -> String {
    let mut s: Vec<char> = src.chars().collect();
    for _ in 0..rng.range(1, 4) {
        let at = if s.is_empty() {
            0
        } else {
            rng.range(0, s.len() as i64 - 1) as usize
        };
        match rng.range(0, 3) {
            0 => {
                let len = rng.range(1, 12) as usize;
                let end = (at + len).min(s.len());
                s.drain(at..end);
            }
            1 => {
                let t = rng.pick(TOKENS);
                for (k, c) in t.chars().enumerate() {
                    s.insert(at + k, c);
                }
            }
            2 => {
                // Duplicate a slice somewhere else.
                let len = rng.range(1, 30) as usize;
                let end = (at + len).min(s.len());
                let piece: Vec<char> = s[at..end].to_vec();
                let to = rng.range(0, s.len() as i64) as usize;
                for (k, c) in piece.into_iter().enumerate() {
                    s.insert((to + k).min(s.len()), c);
                }
            }
            _ => {
                if at < s.len() && s[at].is_ascii_digit() {
                    s[at] = *rng.pick(&['0', '9', '5']);
                    s.insert(at, '9');
                }
            }
        }
    }
    s.into_iter().collect()
}

fn parse_and_check(src: &str) -> Result<(), String> {
    let text = src.to_string();
    std::panic::catch_unwind(move || {
        let mut sources = SourceMap::new();
        let id = sources.add("fuzz.cnn", text);
        let result = convoy::compile(
            &mut sources,
            id,
            &CheckOptions::default(),
            &Files::default(),
        );
        // Rendering must not panic either, whatever the spans.
        let diags = match result {
            Ok(c) => c.diagnostics,
            Err(d) => d,
        };
        let _ = render(&sources, &diags, false);
    })
    .map_err(|_| src.to_string())
}

#[test]
fn random_and_mutated_scripts_never_panic() {
    let mut corpus: Vec<String> = cnn_files(&root().join("examples"))
        .iter()
        .chain(cnn_files(&root().join("stdlib")).iter())
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    corpus.extend((0..50).map(random_program));
    let mut rng = Rng::new(2024);
    let mut runs = 0;
    let mut panics = vec![];
    for i in 0..4000 {
        let base = &corpus[i % corpus.len()];
        let src = mutate(base, &mut rng);
        if let Err(s) = parse_and_check(&src) {
            panics.push(s);
        }
        runs += 1;
    }
    // Pure noise, too.
    for _ in 0..500 {
        let len = rng.range(0, 80) as usize;
        let src: String = (0..len)
            .map(|_| *rng.pick(TOKENS))
            .collect::<Vec<_>>()
            .join(" ");
        if let Err(s) = parse_and_check(&src) {
            panics.push(s);
        }
        runs += 1;
    }
    assert_eq!(runs, 4500);
    assert!(
        panics.is_empty(),
        "{} scripts panicked; first:\n{}",
        panics.len(),
        panics[0]
    );
}
