//! The tests prepared for the examples (`tests/fixtures/convoy_test/for_examples/`:
//! the text to append to each example, its golden files and accepted
//! snapshots) pass on a copy of `examples/`, on both backends. Once they are
//! moved into `examples/`, the copy already holds them and this still runs them.

use crate::common::{copy_dir, root, scratch};
use std::process::Command;

#[test]
fn prepared_example_tests_pass() {
    let prepared = root().join("tests/fixtures/convoy_test/for_examples");
    let dir = scratch("convoy_test_examples");
    copy_dir(&root().join("examples"), &dir);
    let mut scripts = vec![];
    for e in std::fs::read_dir(&prepared).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if let Some(example) = name.strip_suffix(".tests.cnn") {
            let script = dir.join(format!("{example}.cnn"));
            let text = std::fs::read_to_string(&script).unwrap();
            if !text.contains("\ntest ") {
                let tests = std::fs::read_to_string(&path).unwrap();
                std::fs::write(&script, format!("{text}{tests}")).unwrap();
            }
            scripts.push(format!("{example}.cnn"));
        } else if path.is_dir() {
            copy_dir(&path, &dir.join(&name));
        }
    }
    scripts.sort();
    assert!(scripts.len() >= 8, "{scripts:?}");
    for backend in ["jit", "interp"] {
        let o = Command::new(env!("CARGO_BIN_EXE_convoy"))
            .args(["test", "--backend", backend])
            .args(&scripts)
            .current_dir(&dir)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{out}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            out.contains("test result: ok. ") && out.contains(" passed; 0 failed;"),
            "{out}"
        );
        // Nothing new was written: every snapshot was found and equal.
        assert!(!std::fs::read_dir(dir.join("snapshots")).unwrap().any(|e| e
            .unwrap()
            .path()
            .extension()
            .is_some_and(|x| x == "new")));
    }
}
