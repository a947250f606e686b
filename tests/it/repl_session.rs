//! The REPL session as a library: lines in, text out, files only through
//! the `ReplIo` it is given (here, memory).

use convoy::repl::{ReplIo, Session};
use std::cell::RefCell;
use std::collections::HashMap;

#[derive(Default)]
struct Memory(RefCell<HashMap<String, Vec<u8>>>);

impl ReplIo for Memory {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        self.0
            .borrow()
            .get(path)
            .cloned()
            .ok_or_else(|| format!("{path}: no such file"))
    }
    fn write(&self, path: &str, bytes: &[u8]) -> Result<(), String> {
        self.0.borrow_mut().insert(path.into(), bytes.to_vec());
        Ok(())
    }
}

#[test]
fn redeclaring_replaces_in_place_and_save_writes_through_the_io() {
    let io = Memory::default();
    let mut s = Session::new(&io);
    let r = s.lines("input x: u8[1, 2, 2]\nconst k: u4 = 3\nlet y = x * k\n");
    assert!(
        r.text.contains("y: u10[1, 2, 2]   range 0 .. 765"),
        "{}",
        r.text
    );
    // A new `k` changes `y`, which stays after it.
    let r = s.line("const k: u4 = 1");
    assert!(r.text.contains("k: u4"), "{}", r.text);
    let r = s.line(":type y");
    assert!(r.text.contains("range 0 .. 255"), "{}", r.text);
    // An input that does not check is dropped; the session is unchanged.
    let r = s.line("const k: u4 = 99");
    assert!(r.text.contains("Error"), "{}", r.text);
    assert!(s.line(":type y").text.contains("range 0 .. 255"));
    s.line(":save out.cnn");
    let saved = String::from_utf8(io.read("out.cnn").unwrap()).unwrap();
    assert_eq!(
        saved,
        "pipeline session {\n  input x: u8[1, 2, 2]\n\n  const k: u4 = 1\n\n  let y = x * k\n}\n"
    );
}

#[test]
fn braces_keep_the_input_open_and_quit_is_reported() {
    let io = Memory::default();
    let mut s = Session::new(&io);
    assert!(s.line("block double(a) {").text.is_empty());
    assert!(s.pending());
    s.line("  return a + a");
    s.line("}");
    assert!(!s.pending());
    s.line("input x: u8[1, 1, 2]");
    let r = s.line("double(x)");
    assert!(
        r.text.contains("u9[1, 1, 2]   range 0 .. 510"),
        "{}",
        r.text
    );
    assert!(s.line(":quit").quit);
}
