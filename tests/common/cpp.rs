//! Shared by the tests that compare Convoy with C++ compiled against the real
//! ap_types headers (`reference_hls`, `ap_fixed_modes`): compiling with g++,
//! running a program, and a minimal .npy reader / writer and random
//! generator that do not depend on Convoy's own code (the point is an
//! independent check). The compiler and the headers come from
//! [`super::tools::cpp`].

use super::tools::Cpp;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A scratch folder for one test, emptied first.
pub fn scratch(name: &str) -> PathBuf {
    super::scratch(&format!("ap_types_tests/{name}"))
}

/// Compiles `tests/cpp/<source>` with `<cxx> -std=c++14 -I <ap_types>` and
/// `flags` (the optimization level among them) into `<dir>/<name>-<hash>`,
/// returning that path. The hash covers the compiler, the flags, the source
/// and the headers, so an unchanged program is not rebuilt on the next run.
/// Panics with the compiler's output on failure.
pub fn compile_cpp(cpp: &Cpp, source: &str, name: &str, dir: &Path, flags: &[&str]) -> PathBuf {
    use std::hash::{Hash, Hasher};
    let headers = cpp.ap_types.clone();
    let src = super::root().join("tests").join("cpp").join(source);
    let compiler = &cpp.cxx;

    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (compiler, flags).hash(&mut hasher);
    let mut inputs = vec![src.clone()];
    let mut stack = vec![headers.clone()];
    while let Some(d) = stack.pop() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&d)
            .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        entries.sort();
        for e in entries {
            if e.is_dir() {
                stack.push(e);
            } else {
                inputs.push(e);
            }
        }
    }
    for f in &inputs {
        f.hash(&mut hasher);
        std::fs::read(f)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", f.display()))
            .hash(&mut hasher);
    }
    let exe = dir.join(format!("{name}-{:016x}", hasher.finish()));
    if exe.is_file() {
        return exe;
    }

    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let partial = dir.join(format!("{name}.partial-{}", std::process::id()));
    let out = Command::new(compiler)
        .args(["-std=c++14", "-w"])
        .args(flags)
        .arg("-I")
        .arg(&headers)
        .arg(&src)
        .arg("-o")
        .arg(&partial)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {compiler} (is it installed?): {e}"));
    assert!(
        out.status.success(),
        "{compiler} failed on {}:\n{}{}",
        src.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::rename(&partial, &exe)
        .unwrap_or_else(|e| panic!("cannot move {}: {e}", partial.display()));
    exe
}

/// Where compiled test programs are kept between runs.
pub fn bin_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("ap_types_tests")
        .join("bin")
}

/// Runs `cmd`, panicking with its output unless it succeeds; returns stdout.
pub fn run_ok(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap_or_else(|e| panic!("{what}: stdout is not UTF-8: {e}"))
}

/// `name value` lines of a program's stdout.
pub fn counter(stdout: &str, name: &str) -> i64 {
    stdout
        .lines()
        .find_map(|l| {
            let mut it = l.split_whitespace();
            (it.next() == Some(name)).then(|| it.next().and_then(|v| v.parse().ok()))?
        })
        .unwrap_or_else(|| panic!("no `{name} N` line in the program's output:\n{stdout}"))
}

/// SplitMix64: a small deterministic generator for test data.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the tiny modulo bias does not matter here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// An integer .npy array: its shape and its values in C order.
#[derive(Debug)]
pub struct Npy {
    pub descr: String,
    pub shape: Vec<usize>,
    pub values: Vec<i64>,
}

/// Reads a little-endian (or byte-sized) integer .npy file, version 1-3.
pub fn read_npy(path: &Path) -> Npy {
    let bytes =
        std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let bad = |why: &str| -> ! { panic!("{}: {why}", path.display()) };
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        bad("not a .npy file");
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                bad("truncated header");
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        v => bad(&format!("unsupported .npy version {v}")),
    };
    let header = std::str::from_utf8(
        bytes
            .get(start..start + header_len)
            .unwrap_or_else(|| bad("truncated header")),
    )
    .unwrap_or_else(|_| bad("header is not text"));
    let field = |key: &str| -> &str {
        let at = header
            .find(&format!("'{key}'"))
            .unwrap_or_else(|| bad(&format!("no {key} in header")));
        header[at + key.len() + 2..]
            .trim_start()
            .trim_start_matches(':')
            .trim_start()
    };
    let descr = field("descr");
    let descr = descr[1..descr[1..].find('\'').unwrap_or_else(|| bad("bad descr")) + 1].to_string();
    if field("fortran_order").starts_with("True") {
        bad("Fortran order is not supported");
    }
    let shape_text = field("shape");
    let shape_text = &shape_text[1..shape_text.find(')').unwrap_or_else(|| bad("bad shape"))];
    let shape: Vec<usize> = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap_or_else(|_| bad("bad shape")))
        .collect();
    let count: usize = shape.iter().product();
    let data = &bytes[start + header_len..];
    let (size, signed) = match descr.as_str() {
        "|u1" | "<u1" => (1, false),
        "|i1" | "<i1" => (1, true),
        "<u2" => (2, false),
        "<i2" => (2, true),
        "<u4" => (4, false),
        "<i4" => (4, true),
        "<i8" => (8, true),
        other => bad(&format!("unsupported dtype {other}")),
    };
    if data.len() != count * size {
        bad(&format!(
            "{} data bytes, expected {}",
            data.len(),
            count * size
        ));
    }
    let values = data
        .chunks_exact(size)
        .map(|c| {
            let mut buf = [0u8; 8];
            buf[..size].copy_from_slice(c);
            let raw = u64::from_le_bytes(buf);
            if signed {
                let shift = 64 - 8 * size as u32;
                ((raw << shift) as i64) >> shift
            } else {
                raw as i64
            }
        })
        .collect();
    Npy {
        descr,
        shape,
        values,
    }
}

/// Writes a uint8 .npy file (version 1.0).
pub fn write_npy_u8(path: &Path, shape: &[usize], values: &[u8]) {
    assert_eq!(shape.iter().product::<usize>(), values.len());
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_text = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '|u1', 'fortran_order': False, 'shape': {shape_text}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(values);
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// Whitespace-separated integers of a text file.
pub fn read_ints(path: &Path) -> Vec<i64> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
        .split_whitespace()
        .map(|t| {
            t.parse()
                .unwrap_or_else(|_| panic!("{}: not an integer: {t:?}", path.display()))
        })
        .collect()
}

/// Writes integers as text, `per_line` to a line.
pub fn write_ints<T: std::fmt::Display>(path: &Path, values: &[T], per_line: usize) {
    let mut text = String::new();
    for (i, v) in values.iter().enumerate() {
        text.push_str(&v.to_string());
        text.push(if (i + 1) % per_line.max(1) == 0 {
            '\n'
        } else {
            ' '
        });
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}
