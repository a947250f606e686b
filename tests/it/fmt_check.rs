//! CI's formatting check: every file in `examples/` and `stdlib/` is already
//! in the canonical layout (`convoy fmt --check examples stdlib` passes), and
//! the command itself reports files that are not.

use crate::common::{cnn_files, root};
use std::process::Command;

#[test]
fn examples_and_stdlib_are_formatted() {
    let mut files = cnn_files(&root().join("examples"));
    files.extend(cnn_files(&root().join("stdlib")));
    let mut unformatted = vec![];
    for path in files {
        let src = std::fs::read_to_string(&path).unwrap();
        let mut sources = convoy::SourceMap::new();
        let id = sources.add(path.display().to_string(), src.as_str());
        let formatted = convoy::format(&sources, id).unwrap();
        if formatted != src {
            unformatted.push(path.display().to_string());
        }
    }
    assert!(
        unformatted.is_empty(),
        "not in the canonical layout (run `convoy fmt examples stdlib`): {unformatted:?}"
    );
}

#[test]
fn check_names_files_that_would_change_and_exits_1() {
    let dir = std::env::temp_dir().join(format!("convoy_fmt_check_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let messy = dir.join("messy.cnn");
    let tidy = dir.join("tidy.cnn");
    std::fs::write(
        &messy,
        "pipeline p {\ninput x: u8[1, 2, 2]\nlet y=relu( x )\noutput y }\n",
    )
    .unwrap();
    std::fs::write(
        &tidy,
        "pipeline p {\n  input x: u8[1, 2, 2]\n  let y = relu(x)\n  output y\n}\n",
    )
    .unwrap();
    let exe = env!("CARGO_BIN_EXE_convoy");

    let out = Command::new(exe)
        .args(["fmt", "--check"])
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("would reformat") && stdout.contains("messy.cnn"),
        "{stdout}"
    );
    assert!(!stdout.contains("tidy.cnn"), "{stdout}");
    assert!(stdout.contains("+   let y = relu(x)"), "{stdout}");

    // Without --check the file is rewritten; then the check passes.
    let out = Command::new(exe).arg("fmt").arg(&messy).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(&messy).unwrap(),
        std::fs::read_to_string(&tidy).unwrap()
    );
    let out = Command::new(exe)
        .args(["fmt", "--check"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // A file that does not parse is reported, left alone, and fails the run.
    let broken = dir.join("broken.cnn");
    std::fs::write(&broken, "pipeline p { let = }\n").unwrap();
    let out = Command::new(exe).arg("fmt").arg(&broken).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(&broken).unwrap(),
        "pipeline p { let = }\n"
    );
}
