//! The integration tests, as one test binary: one module per subject, the
//! shared helpers in `tests/common/`, the C++ sources in `tests/cpp/`, the
//! fixtures in `tests/fixtures/` and the insta snapshots in
//! `tests/it/snapshots/` (named `it__<module>__<name>.snap`).
//!
//! Tests over a folder of cases (every example, every ONNX fixture, ...)
//! are one `#[test]` per case, declared by the macros of [`cases`]
//! (`tests/case_lists/`), so that a failure names its case and libtest
//! spreads the cases over the cores.
//!
//! A test that needs something from the machine (g++, the ap_types headers,
//! Graphviz, Python, a CPU feature) asks [`common::tools`] for it: in CI
//! (`CI=true`) a missing tool fails the test; elsewhere the test prints
//! `SKIPPED: <test>: <tool> not found` and returns.

#[path = "../common/mod.rs"]
mod common;

/// The case lists: `examples!`, `small_examples!`, `stdlib_modules!`,
/// `onnx_fixtures!` and their constants (`EXAMPLES`, ...).
#[macro_use]
extern crate convoy_case_lists as cases;

mod ap_fixed_modes;
mod builtins;
mod cli;
mod convoy_test_cli;
mod convoy_test_core;
mod convoy_test_examples;
mod convoy_test_syntax;
mod diagnostics;
mod examples;
mod fmt_check;
mod fmt_roundtrip;
mod fuzz_scripts;
mod gen_programs;
mod geometry_warnings;
mod graph_snapshots;
mod hls_array_ports;
mod hls_cli;
mod hls_csim;
mod hls_replay;
mod hls_snapshots;
mod import;
mod jit_avx2;
mod jit_cli;
mod jit_concat;
mod jit_conv;
mod jit_examples;
mod jit_fused;
mod jit_joins;
mod jit_machine_code;
mod jit_narrow;
mod jit_native;
mod jit_random;
mod jit_rows;
mod jit_shifts;
mod jit_signed;
mod jit_split;
mod jit_tails;
mod jit_wide;
mod jit_wide16;
mod jit_zero_point;
mod lsp_protocol;
mod lsp_server;
mod onnx_reference;
mod parse_snapshots;
mod ranges;
mod reference_hls;
mod repl_pty;
mod repl_session;
mod repl_transcripts;
mod run_arrays;
mod run_in_place;
mod run_stream;
mod shared_subexpressions;
mod snapshot_files;
mod tables;
mod workarounds;
