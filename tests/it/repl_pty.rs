//! `convoy repl` once through a real pseudo-terminal (Python's `pty`
//! module drives it like a user: it waits for each prompt before typing).
//! Checks the line editor path: the banner, tab completion of a keyword,
//! multi-line input with the continuation prompt, and the history file.
//! Without `python3` or a pseudo-terminal: a failure in CI, a skip
//! elsewhere.

use crate::common::tools;
use std::process::Command;

const DRIVER: &str = r#"
import os, pty, sys, time, re, select
exe, history = sys.argv[1], sys.argv[2]
lines = sys.argv[3:]
os.environ["CONVOY_HISTORY"] = history
os.environ["TERM"] = "xterm"
pid, fd = pty.fork()
if pid == 0:
    os.execv(exe, [exe, "repl"])
out = b""
def wait_for(token, start):
    global out
    deadline = time.time() + 60
    while token not in out[start:]:
        left = deadline - time.time()
        if left <= 0:
            sys.stdout.write(out.decode("utf-8", "replace"))
            sys.exit("timed out waiting for %r" % token)
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            return
        if not chunk:
            return
        out += chunk
def wait_for_prompt(start):
    # The line is accepted (a newline), the answer printed, then a new prompt.
    wait_for(b"\n", start)
    wait_for(b"> ", out.index(b"\n", start))
mark = 0
for line in lines:
    wait_for_prompt(mark)
    mark = len(out)
    os.write(fd, line.encode() + b"\r")
wait_for(b"\xff", mark)
os.waitpid(pid, 0)
text = out.decode("utf-8", "replace")
text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text).replace("\r", "")
sys.stdout.write(text)
"#;

#[test]
fn through_a_pseudo_terminal() {
    if tools::python_pty().is_none() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("convoy_pty_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let history = dir.join("history");
    let _ = std::fs::remove_file(&history);
    let out = Command::new("python3")
        .arg("-c")
        .arg(DRIVER)
        .arg(env!("CARGO_BIN_EXE_convoy"))
        .arg(&history)
        // `inp<TAB>` completes to `input`.
        .args([
            "inp\t x: u8[1, 2, 2]",
            "let y = relu(",
            "  x) * 2",
            "y",
            ":quit",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("Convoy REPL"), "{text}");
    assert!(text.contains("x: u8[1, 2, 2]   range 0 .. 255"), "{text}");
    assert!(text.contains("   ...> "), "no continuation prompt:\n{text}");
    assert!(text.contains("y: u9[1, 2, 2]   range 0 .. 510"), "{text}");
    assert!(text.contains("channel 0:"), "{text}");
    let saved = std::fs::read_to_string(&history).unwrap();
    assert!(saved.contains("input x: u8[1, 2, 2]"), "history:\n{saved}");
    assert!(saved.contains(":quit"), "history:\n{saved}");
}
