//! The random program generator itself: its programs must check, so that the
//! differential tests built on it really exercise the backends.

use crate::common::gen::random_program;
use crate::common::{compile, Files};

#[test]
fn generated_programs_check() {
    let mut failures = vec![];
    for seed in 0..2000 {
        let src = random_program(seed);
        if let Err(text) = compile("gen.cnn", &src, &Files::default()) {
            failures.push(format!("seed {seed}:\n{src}\n{text}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 2000 failed; first:\n{}",
        failures.len(),
        failures[0]
    );
}

/// The seeds the differential tests run draw every rearrangement (and both
/// `depth_to_space` orders): the JIT's first 1,500 and HLS csim's 240.
#[test]
fn generated_programs_draw_every_rearrangement() {
    let ops = [
        "depth_to_space(",
        "mode: crd",
        "space_to_depth(",
        "flatten(",
        "reshape(",
        "slice(",
        "pad(",
        "value: ",
    ];
    for (seeds, least) in [(0..1500u64, 20), (0..240, 3)] {
        let texts: Vec<String> = seeds.clone().map(random_program).collect();
        for op in ops {
            let n = texts.iter().filter(|t| t.contains(op)).count();
            assert!(
                n >= least,
                "`{op}` in {n} of seeds {seeds:?} (want {least})"
            );
        }
    }
}
