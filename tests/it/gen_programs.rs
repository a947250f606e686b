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
