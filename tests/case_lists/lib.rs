//! The case lists of Convoy's integration tests (`tests/it/`), written by
//! `build.rs` from the repository's folders: for each folder of cases, a
//! macro that declares one `#[test]` per case and a constant listing them.
//!
//! A crate of its own (a dev-dependency) so that adding or editing an
//! example or a fixture re-runs only this build script and rebuilds only the
//! tests, not the `convoy` library and binary.

include!(concat!(env!("OUT_DIR"), "/case_lists.rs"));
