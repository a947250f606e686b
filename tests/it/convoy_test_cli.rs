//! `convoy test` end to end: the binary runs on copies of the fixture
//! folders in `tests/fixtures/convoy_test/` (golden, snapshot and range
//! tests that pass; a changed weight; pending snapshots; pictures; tests
//! that must fail; tests with mistakes).

use crate::common::{copy_dir, root, run_with_stdin, stderr, stdout, tools};
use convoy::data::{parse_npy, write_npy, NpyData};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/convoy_test").join(name)
}

/// A fresh copy of fixture `name`, unique to `test`.
fn scratch(name: &str, test: &str) -> PathBuf {
    let dir = crate::common::scratch(&format!("convoy_test_cli/{test}"));
    copy_dir(&fixture(name), &dir);
    dir
}

fn convoy_in(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    run_with_stdin(
        Command::new(env!("CARGO_BIN_EXE_convoy"))
            .arg("test")
            .args(args)
            .current_dir(dir)
            .env("NO_COLOR", "1"),
        stdin.unwrap_or(""),
    )
}

fn convoy(dir: &Path, args: &[&str]) -> Output {
    convoy_in(dir, args, None)
}

/// The summary line, checked against cargo's exact form; returns its counts.
fn summary(o: &Output) -> (bool, usize, usize, usize) {
    let out = stdout(o);
    let line = out
        .lines()
        .find(|l| l.starts_with("test result: "))
        .unwrap_or_else(|| panic!("no summary line in\n{out}"));
    let rest = line.strip_prefix("test result: ").unwrap();
    let (status, rest) = rest.split_once(". ").unwrap();
    let parts: Vec<&str> = rest.split("; ").collect();
    assert_eq!(parts.len(), 6, "{line}");
    let count = |k: usize, word: &str| -> usize {
        let (n, w) = parts[k].split_once(' ').unwrap();
        assert_eq!(w, word, "{line}");
        n.parse().unwrap()
    };
    let passed = count(0, "passed");
    let failed = count(1, "failed");
    assert_eq!(parts[2], "0 ignored", "{line}");
    assert_eq!(parts[3], "0 measured", "{line}");
    let filtered = count(4, "filtered out");
    let time = parts[5]
        .strip_prefix("finished in ")
        .and_then(|t| t.strip_suffix('s'))
        .unwrap_or_else(|| panic!("{line}"));
    let (secs, hundredths) = time.split_once('.').unwrap();
    assert!(
        secs.parse::<u64>().is_ok() && hundredths.len() == 2,
        "{line}"
    );
    assert!(hundredths.chars().all(|c| c.is_ascii_digit()), "{line}");
    assert_eq!(status == "ok", failed == 0, "{line}");
    assert!(status == "ok" || status == "FAILED", "{line}");
    assert_eq!(
        o.status.code(),
        Some(if failed == 0 { 0 } else { 1 }),
        "{out}"
    );
    let tests = out
        .lines()
        .filter(|l| l.starts_with("test ") && !l.starts_with("test result"))
        .count();
    assert_eq!(tests, passed + failed, "{out}");
    assert!(
        out.contains(&format!("running {} test", passed + failed)),
        "{out}"
    );
    (status == "ok", passed, failed, filtered)
}

/// Halves one weight of the depthwise stage's channel 1.
fn change_weight(dir: &Path) {
    let path = dir.join("small/w_dw.npy");
    let arr = parse_npy(&std::fs::read(&path).unwrap()).unwrap();
    let NpyData::Int(mut w) = arr.data else {
        panic!("integer weights")
    };
    w[9 + 4] /= 2;
    std::fs::write(&path, write_npy(&arr.shape, &NpyData::Int(w), arr.dtype)).unwrap();
}

#[test]
fn passing_tests_pass_on_both_backends() {
    let dir = scratch("basic", "passing");
    for backend in ["jit", "interp"] {
        let o = convoy(&dir, &["--backend", backend]);
        assert_eq!(summary(&o), (true, 3, 0, 0), "{}{}", stdout(&o), stderr(&o));
        let out = stdout(&o);
        for name in ["small_golden", "small_snapshot", "small_ranges"] {
            assert!(
                out.contains(&format!("test small.cnn::{name} ... ok")),
                "{out}"
            );
        }
    }
    // Nothing pending was written.
    let pending = std::fs::read_dir(dir.join("snapshots"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "new")
        })
        .count();
    assert_eq!(pending, 0);
}

#[test]
fn summary_line_has_cargos_exact_form() {
    let dir = scratch("basic", "summary");
    let o = convoy(&dir, &["--filter", "golden"]);
    let out = stdout(&o);
    let line = out.lines().find(|l| l.starts_with("test result")).unwrap();
    let prefix =
        "test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 2 filtered out; finished in ";
    assert!(line.starts_with(prefix), "{line}");
    assert_eq!(summary(&o), (true, 1, 0, 2));
    assert!(out.contains("\nrunning 1 test\n"), "{out}");
    let o = convoy(&scratch("failing", "summary_failing"), &[]);
    let out = stdout(&o);
    assert!(
        out.contains("\ntest result: FAILED. 0 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in "),
        "{out}"
    );
    assert_eq!(summary(&o), (false, 0, 2, 0));
}

#[test]
fn a_changed_weight_fails_the_golden_and_the_snapshot_with_a_diff() {
    let dir = scratch("basic", "changed");
    change_weight(&dir);
    let o = convoy(&dir, &[]);
    assert_eq!(summary(&o), (false, 1, 2, 0), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(
        out.contains("test small.cnn::small_snapshot ... FAILED"),
        "{out}"
    );
    assert!(
        out.contains("test small.cnn::small_golden ... FAILED"),
        "{out}"
    );
    assert!(
        out.contains("`pw` differs from golden/pw.npy (golden -> computed):"),
        "{out}"
    );
    assert!(
        out.contains("snapshot `pw` changed (snapshots/small_snapshot.pw.npy -> new)"),
        "{out}"
    );
    // The depthwise stage changes in channel 1 only; the pointwise mixes it everywhere.
    assert!(
        out.contains("per channel (1 of 4 channels changed):\n    channel 1: "),
        "{out}"
    );
    for needle in [
        "values changed (",
        "largest difference: ",
        "first differences (old -> new):",
        "    [1, 0, ",
    ] {
        assert!(out.contains(needle), "{needle} in {out}");
    }
    // Pending files were written next to the stored ones, which are untouched.
    let snaps = dir.join("snapshots");
    assert!(snaps.join("small_snapshot.pw.npy.new").is_file());
    assert!(snaps.join("small_snapshot.pw.txt.new").is_file());
    assert_eq!(
        std::fs::read(snaps.join("small_snapshot.pw.npy")).unwrap(),
        std::fs::read(fixture("basic/snapshots/small_snapshot.pw.npy")).unwrap()
    );
    assert!(!snaps.join("small_snapshot.pw.c1.png").exists());
}

#[test]
fn new_snapshots_are_pending_until_accepted() {
    let dir = scratch("basic", "pending");
    std::fs::remove_dir_all(dir.join("snapshots")).unwrap();
    let snaps = dir.join("snapshots");
    for _ in 0..2 {
        let o = convoy(&dir, &["--filter", "snapshot"]);
        assert_eq!(summary(&o), (false, 0, 1, 2), "{}", stdout(&o));
        let out = stdout(&o);
        assert!(
            out.contains("new snapshot `pw`, pending in snapshots/small_snapshot.pw.npy.new:"),
            "{out}"
        );
        assert!(out.contains("  shape: [4, 8, 8]\n  type: u8\n"), "{out}");
        assert!(snaps.join("small_snapshot.pw.npy.new").is_file());
        assert!(!snaps.join("small_snapshot.pw.npy").exists());
    }
    let o = convoy(&dir, &["--accept"]);
    assert_eq!(summary(&o), (true, 3, 0, 0), "{}", stdout(&o));
    assert!(snaps.join("small_snapshot.pw.npy").is_file());
    assert!(!snaps.join("small_snapshot.pw.npy.new").exists());
    assert!(!snaps.join("small_snapshot.dw.txt.new").exists());
    // What was accepted is what the fixture holds (the same values, bit for bit).
    for f in [
        "small_snapshot.pw.npy",
        "small_snapshot.pw.txt",
        "small_snapshot.dw.npy",
    ] {
        assert_eq!(
            std::fs::read(snaps.join(f)).unwrap(),
            std::fs::read(fixture("basic/snapshots").join(f)).unwrap(),
            "{f}"
        );
    }
    let o = convoy(&dir, &[]);
    assert_eq!(summary(&o), (true, 3, 0, 0), "{}", stdout(&o));
}

#[test]
fn review_accepts_or_rejects_each_snapshot() {
    let dir = scratch("basic", "review");
    change_weight(&dir);
    let snaps = dir.join("snapshots");
    // `pw` is asked first: accept it; reject `dw`.
    let o = convoy_in(&dir, &["--review", "--filter", "snapshot"], Some("a\nr\n"));
    let out = stdout(&o);
    assert!(out.contains("snapshot `pw` changed (snapshots/small_snapshot.pw.npy -> new) in small.cnn::small_snapshot"), "{out}");
    assert!(
        out.contains("accept this snapshot? [a]ccept, [r]eject, [s]kip: "),
        "{out}"
    );
    assert!(
        out.contains("snapshot `dw` changed (snapshots/small_snapshot.dw.npy -> new): rejected"),
        "{out}"
    );
    assert_eq!(summary(&o), (false, 0, 1, 2));
    assert!(!snaps.join("small_snapshot.pw.npy.new").exists());
    assert!(!snaps.join("small_snapshot.dw.npy.new").exists());
    assert_ne!(
        std::fs::read(snaps.join("small_snapshot.pw.npy")).unwrap(),
        std::fs::read(fixture("basic/snapshots/small_snapshot.pw.npy")).unwrap()
    );
    // Accept the other one too: everything passes.
    let o = convoy_in(&dir, &["--review", "--filter", "snapshot"], Some("a\n"));
    assert_eq!(summary(&o), (true, 1, 0, 2), "{}", stdout(&o));
    let o = convoy(&dir, &["--filter", "snapshot"]);
    assert_eq!(summary(&o), (true, 1, 0, 2));
    // No answer (end of input) keeps the snapshot pending.
    change_weight(&dir);
    let o = convoy_in(&dir, &["--review", "--filter", "snapshot"], None);
    assert_eq!(summary(&o), (false, 0, 1, 2));
    assert!(snaps.join("small_snapshot.pw.npy.new").is_file());
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// CRC-32 written independently of the encoder (table-driven).
fn crc32(bytes: &[u8]) -> u32 {
    let table: Vec<u32> = (0..256u32)
        .map(|n| {
            (0..8).fold(n, |c, _| {
                if c & 1 == 1 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                }
            })
        })
        .collect();
    !bytes.iter().fold(!0u32, |c, &b| {
        table[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8)
    })
}

/// Decodes a PNG whose IDAT is a zlib stream of stored blocks; returns
/// (width, height, filtered scanlines).
fn decode_png(png: &[u8]) -> (u32, u32, Vec<u8>) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let mut pos = 8;
    let (mut width, mut height) = (0, 0);
    let mut idat = vec![];
    let mut kinds = vec![];
    while pos < png.len() {
        let len = be32(&png[pos..]) as usize;
        let kind = &png[pos + 4..pos + 8];
        let body = &png[pos + 8..pos + 8 + len];
        assert_eq!(
            be32(&png[pos + 8 + len..]),
            crc32(&png[pos + 4..pos + 8 + len]),
            "chunk CRC"
        );
        match kind {
            b"IHDR" => {
                width = be32(body);
                height = be32(&body[4..]);
                assert_eq!(&body[8..], &[8, 2, 0, 0, 0], "8-bit RGB, no interlace");
            }
            b"IDAT" => idat.extend_from_slice(body),
            _ => {}
        }
        kinds.push(String::from_utf8_lossy(kind).into_owned());
        pos += 12 + len;
    }
    assert_eq!(kinds.first().map(String::as_str), Some("IHDR"));
    assert_eq!(kinds.last().map(String::as_str), Some("IEND"));
    // zlib: CMF/FLG, stored blocks, Adler-32.
    assert_eq!((u16::from(idat[0]) << 8 | u16::from(idat[1])) % 31, 0);
    assert_eq!(idat[0] & 0x0F, 8, "deflate");
    let mut p = 2;
    let mut raw = vec![];
    loop {
        let header = idat[p];
        assert_eq!(header & 0b110, 0, "stored block");
        let len = u16::from_le_bytes([idat[p + 1], idat[p + 2]]);
        let nlen = u16::from_le_bytes([idat[p + 3], idat[p + 4]]);
        assert_eq!(len, !nlen);
        raw.extend_from_slice(&idat[p + 5..p + 5 + len as usize]);
        p += 5 + len as usize;
        if header & 1 == 1 {
            break;
        }
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &x in &raw {
        a = (a + u32::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    assert_eq!(be32(&idat[p..]), (b << 16) | a, "Adler-32");
    assert_eq!(p + 4, idat.len());
    (width, height, raw)
}

#[test]
fn pictures_write_a_valid_png_heat_map() {
    let dir = scratch("basic", "pictures");
    change_weight(&dir);
    let o = convoy(&dir, &["--pictures", "1", "--filter", "snapshot"]);
    let out = stdout(&o);
    assert!(
        out.contains(
            "picture of channel 1 (old | new | difference): snapshots/small_snapshot.pw.c1.png"
        ),
        "{out}"
    );
    let png = std::fs::read(dir.join("snapshots/small_snapshot.pw.c1.png")).unwrap();
    let (w, h, raw) = decode_png(&png);
    // Three 8x8 panels enlarged 8 times, two 2-pixel separators.
    assert_eq!((w, h), (3 * 64 + 4, 64));
    let row = 1 + 3 * w as usize;
    assert_eq!(raw.len(), row * h as usize);
    assert!(raw.chunks(row).all(|r| r[0] == 0), "filter type 0");
    // The difference panel is not all black: channel 1 changed.
    let diff_lit = raw
        .chunks(row)
        .any(|r| r[1 + 3 * (2 * 64 + 4)..].iter().any(|&v| v > 0));
    assert!(diff_lit);
    // A channel that does not exist is said so.
    let o = convoy(&dir, &["--pictures", "9", "--filter", "snapshot"]);
    assert!(
        stdout(&o).contains("no picture: channel 9 does not exist (4 channels)"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn expect_no_sat_fails_on_an_input_that_saturates() {
    let dir = scratch("failing", "sat");
    let o = convoy(&dir, &["--backend", "interp"]);
    assert_eq!(summary(&o), (false, 0, 2, 0));
    let out = stdout(&o);
    assert!(
        out.contains("---- sat.cnn::saturates ----\nexpected no saturating cast to change a value (sat.cnn:15:3), but one did:\n  `as u8 sat` in `dw` at sat.cnn:9:12: "),
        "{out}"
    );
    assert!(out.contains("became 255"), "{out}");
    assert!(out.contains("`dw` does not fit u4: it lies outside the type's range\n  proven range [0, 255], type u8"), "{out}");
    // The JIT gives the same verdicts (checking casts uses the interpreter's values).
    let o = convoy(&dir, &["--backend", "jit"]);
    assert_eq!(summary(&o), (false, 0, 2, 0));
}

#[test]
fn mistakes_in_tests_are_diagnostics_with_spans() {
    let dir = scratch("bad", "bad");
    let o = convoy(&dir, &[]);
    assert_eq!(summary(&o), (false, 0, 8, 0));
    assert!(!dir.join("snapshots").exists(), "nothing written");
    insta::assert_snapshot!("bad_tests_stderr", stderr(&o));
    insta::assert_snapshot!(
        "bad_tests_stdout",
        stdout(&o).split("finished in").next().unwrap()
    );
}

#[test]
fn syntax_errors_in_tests_are_reported() {
    let dir = scratch("syntax", "syntax");
    let o = convoy(&dir, &[]);
    assert_eq!(summary(&o), (false, 0, 1, 0));
    insta::assert_snapshot!("syntax_stderr", stderr(&o));
}

#[test]
fn paths_are_files_or_folders_and_missing_ones_are_usage_errors() {
    let dir = scratch("basic", "paths");
    let o = convoy(&dir, &["small.cnn"]);
    assert_eq!(summary(&o), (true, 3, 0, 0));
    let root = dir.parent().unwrap().to_path_buf();
    let _ = std::fs::remove_dir_all(root.join("two"));
    copy_dir(&fixture("basic"), &root.join("two/a"));
    copy_dir(&fixture("failing"), &root.join("two/b"));
    let o = convoy(&root.join("two"), &[]);
    assert_eq!(summary(&o), (false, 3, 2, 0));
    assert!(
        stdout(&o).contains("test a/small.cnn::small_golden ... ok"),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains("test b/sat.cnn::saturates ... FAILED"),
        "{}",
        stdout(&o)
    );
    // Two scripts of one folder share `snapshots/`: one test name twice is an error.
    std::fs::copy(dir.join("small.cnn"), dir.join("small2.cnn")).unwrap();
    let o = convoy(&dir, &[]);
    assert_eq!(summary(&o), (false, 3, 3, 0), "{}", stdout(&o));
    assert!(stdout(&o).contains("test small2.cnn::small_golden ... FAILED"));
    assert!(
        stderr(&o).contains("[E511] Error: two tests are named `small_golden`"),
        "{}",
        stderr(&o)
    );
    std::fs::remove_file(dir.join("small2.cnn")).unwrap();
    let o = convoy(&dir, &["nowhere.cnn"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nowhere.cnn: no such file or folder"));
}

#[test]
fn hls_csim_runs_or_says_it_is_unavailable() {
    let dir = scratch("basic", "csim");
    let o = Command::new(env!("CARGO_BIN_EXE_convoy"))
        .args(["test", "--hls-csim"])
        .current_dir(&dir)
        .env("AP_TYPES", dir.join("no_headers_here"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(stderr(&o).contains("--hls-csim is not available: the ap_types headers were not found"));
    // The rest needs g++ and the headers (`bash tools/fetch_ap_types.sh`).
    let Some(cpp) = tools::cpp() else {
        return;
    };
    let headers = cpp.ap_types;
    let o = Command::new(env!("CARGO_BIN_EXE_convoy"))
        .args(["test", "--hls-csim", "--filter", "golden"])
        .current_dir(&dir)
        .env("AP_TYPES", &headers)
        .output()
        .unwrap();
    assert_eq!(summary(&o), (true, 1, 0, 2), "{}{}", stdout(&o), stderr(&o));
    // A testbench whose outputs are tampered with after it ran must fail the test.
    let cxx = dir.join("tampering_cxx.sh");
    std::fs::write(
        &cxx,
        "#!/bin/sh\nset -e\ng++ \"$@\"\nfor a in \"$@\"; do out=\"$a\"; done\n\
         mv \"$out\" \"$out.real\"\n\
         printf '#!/bin/sh\\n\"%s.real\" && for f in tb_data/*.csim.txt; do echo 1 >> \"$f\"; done\\n' \"$out\" > \"$out\"\n\
         chmod +x \"$out\"\n",
    )
    .unwrap();
    Command::new("chmod").arg("+x").arg(&cxx).status().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_convoy"))
        .args(["test", "--hls-csim", "--filter", "golden"])
        .current_dir(&dir)
        .env("AP_TYPES", &headers)
        .env("CXX", &cxx)
        .output()
        .unwrap();
    assert_eq!(
        summary(&o),
        (false, 0, 1, 2),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
    assert!(
        stdout(&o).contains("HLS C simulation: output `pw` differs from the interpreter"),
        "{}",
        stdout(&o)
    );
}
