//! `tests/it/snapshots/` holds exactly the snapshots the tests assert: no
//! file left behind by a renamed or deleted test or example, and no pending
//! `.snap.new` of a name no test uses (a pending snapshot of a name in use
//! fails its own test). `cargo insta test --unreferenced=reject` checks the
//! same with cargo-insta; this needs only `cargo test`.
//!
//! The list below is every snapshot name, by module: a test that adds,
//! renames or removes a snapshot updates it.

use crate::cases::{EXAMPLES, SMALL_EXAMPLES, STDLIB_MODULES};
use crate::common::root;
use std::collections::BTreeSet;

/// The file stems (`it__<module>__<name>`) of every snapshot the tests
/// assert.
fn snapshots_in_use() -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    let mut add = |module: &str, name: String| {
        used.insert(format!("it__{module}__{name}"));
    };
    for name in EXAMPLES {
        add("examples", format!("table_{name}"));
        add("parse_snapshots", format!("ast_examples_{name}"));
    }
    for name in STDLIB_MODULES {
        add("parse_snapshots", format!("ast_stdlib_{name}"));
    }
    for (name, _) in crate::parse_snapshots::SYNTAX_FEATURES {
        add("parse_snapshots", format!("syntax_{name}"));
    }
    for name in SMALL_EXAMPLES {
        add("hls_snapshots", format!("hls_array_{name}"));
        add("hls_snapshots", format!("hls_stream_{name}"));
    }
    for name in crate::graph_snapshots::EXAMPLES {
        add("graph_snapshots", format!("dot_{name}"));
    }
    for name in ["bad_tests_stderr", "bad_tests_stdout", "syntax_stderr"] {
        add("convoy_test_cli", name.into());
    }
    for name in ["every_test_statement", "test_words_as_names"] {
        add("convoy_test_syntax", name.into());
    }
    for name in crate::import::SNAPSHOTS {
        add("import", name.to_string());
    }
    add("fmt_roundtrip", "fmt_attributes".into());
    for name in ["story", "story_saved", "exploring", "files"] {
        add("repl_transcripts", name.into());
    }
    used
}

#[test]
fn every_snapshot_file_belongs_to_a_test() {
    let used = snapshots_in_use();
    let dir = root().join("tests/it/snapshots");
    let mut present = BTreeSet::new();
    let mut stray = vec![];
    for entry in std::fs::read_dir(&dir).unwrap() {
        let file = entry.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(stem) = file.strip_suffix(".snap") {
            present.insert(stem.to_string());
            // `diagnostics::every_snapshot_has_a_case` accounts for its own.
            if !used.contains(stem) && !stem.starts_with("it__diagnostics__") {
                stray.push(file);
            }
        } else if !file
            .strip_suffix(".snap.new")
            .is_some_and(|stem| used.contains(stem))
        {
            stray.push(file);
        }
    }
    stray.sort();
    let missing: Vec<&String> = used.difference(&present).collect();
    assert!(
        stray.is_empty() && missing.is_empty(),
        "in {}:\nfiles no test uses (delete them, or list their test in snapshot_files.rs): \
         {stray:?}\nsnapshots listed in snapshot_files.rs without a file: {missing:?}",
        dir.display()
    );
}
