//! Fuzz target: any bytes, as a script, go through parse + check + rendering.
//! Run: `cargo fuzz run parse_check` (cargo-fuzz; nightly, or RUSTC_BOOTSTRAP=1).
#![no_main]

use convoy::diag::{render, SourceMap};
use convoy::{CheckOptions, NoFiles};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut sources = SourceMap::new();
    let id = sources.add("fuzz.cnn", text);
    let diagnostics = match convoy::compile(&mut sources, id, &CheckOptions::default(), &NoFiles) {
        Ok(checked) => checked.diagnostics,
        Err(d) => d,
    };
    let _ = render(&sources, &diagnostics, false);
});
