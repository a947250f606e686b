//! Writes the case lists of the integration tests (`tests/it/`): for each
//! folder of cases named below, a macro that declares one `#[test]` per case,
//! so that `cargo test` runs every example, fixture, ... as its own test and
//! a failure names its case.
//!
//! `$OUT_DIR/case_lists.rs` holds, for a case set `examples`:
//!
//! ```text
//! #[macro_export]
//! macro_rules! examples {
//!     ($check:path) => {
//!         #[test]
//!         fn seed() { $check("seed") }
//!         ...
//!     };
//! }
//! pub const EXAMPLES: &[&str] = &["seed", ...];
//! ```
//!
//! A test module calls `examples!(check)` inside a module of its own (the
//! test names are then `<module>::<its module>::seed`). Cargo re-runs this
//! script only when one of the folders changes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A folder of test cases: a case is a file with extension `ext`, or
/// a sub-folder holding a file named `holding`.
struct CaseSet {
    /// The macro's name (the constant is its upper case).
    name: &'static str,
    /// Relative to the repository root.
    dir: &'static str,
    kind: Kind,
    /// Cases whose name starts with this are left out.
    skip_prefix: Option<&'static str>,
}

enum Kind {
    Files { ext: &'static str },
    Folders { holding: &'static str },
}

impl CaseSet {
    /// The files `<dir>/*.<ext>`, named by their stem.
    const fn files(name: &'static str, dir: &'static str, ext: &'static str) -> CaseSet {
        CaseSet {
            name,
            dir,
            kind: Kind::Files { ext },
            skip_prefix: None,
        }
    }

    /// The folders `<dir>/*/` holding a file `holding`, named by the folder.
    const fn folders(name: &'static str, dir: &'static str, holding: &'static str) -> CaseSet {
        CaseSet {
            name,
            dir,
            kind: Kind::Folders { holding },
            skip_prefix: None,
        }
    }

    const fn without_prefix(self, prefix: &'static str) -> CaseSet {
        CaseSet {
            skip_prefix: Some(prefix),
            ..self
        }
    }
}

/// One line per folder of cases.
const CASE_SETS: &[CaseSet] = &[
    CaseSet::files("examples", "examples", "cnn"),
    // The `bench_*` examples are benchmark-sized (64 x 128 x 256 maps): C
    // simulation and emitted-code snapshots of them would dominate the time.
    CaseSet::files("small_examples", "examples", "cnn").without_prefix("bench_"),
    CaseSet::files("stdlib_modules", "stdlib", "cnn"),
    CaseSet::folders("onnx_fixtures", "tests/fixtures/onnx", "case.cnn"),
    CaseSet::files("diagnostic_cases", "tests/cases/diagnostics", "cnn"),
];

fn main() {
    // This crate lives in `tests/case_lists/`.
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let root = manifest
        .join("../..")
        .canonicalize()
        .expect("the repository root");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it"));
    println!("cargo:rerun-if-changed=build.rs");
    let mut text = String::from("// Written by build.rs from the folders it names. Do not edit.\n");
    for set in CASE_SETS {
        let dir = root.join(set.dir);
        println!("cargo:rerun-if-changed={}", dir.display());
        let cases = cases(&dir, set);
        text.push_str(&case_macro(set, &cases));
    }
    let path = out.join("case_lists.rs");
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// The case names of `set`, sorted.
fn cases(dir: &Path, set: &CaseSet) -> Vec<String> {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    let mut names = vec![];
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
            .path();
        let name = match set.kind {
            Kind::Files { ext } if path.extension().is_some_and(|x| x == ext) => path.file_stem(),
            Kind::Folders { holding } if path.join(holding).is_file() => path.file_name(),
            _ => None,
        };
        let Some(name) = name.and_then(|n| n.to_str()) else {
            continue;
        };
        if set.skip_prefix.is_some_and(|p| name.starts_with(p)) {
            continue;
        }
        names.push(name.to_string());
    }
    names.sort();
    names
}

/// The macro and the constant of one case set.
fn case_macro(set: &CaseSet, cases: &[String]) -> String {
    let mut tests = String::new();
    let mut idents: Vec<String> = vec![];
    for case in cases {
        let ident = test_ident(case);
        if let Some(twin) = idents.iter().position(|i| *i == ident) {
            panic!(
                "{}: cases `{}` and `{case}` would both be the test `{ident}`; rename one",
                set.dir, cases[twin]
            );
        }
        let _ = writeln!(
            tests,
            "        #[test]\n        fn {ident}() {{ $check({case:?}) }}"
        );
        idents.push(ident);
    }
    let list: Vec<String> = cases.iter().map(|c| format!("{c:?}")).collect();
    format!(
        "\n/// One `#[test]` per case of {dir}, calling `check(\"<case>\")`.\n\
         #[macro_export]\n\
         macro_rules! {name} {{\n    ($check:path) => {{\n{tests}    }};\n}}\n\
         /// The cases of {dir}.\n\
         pub const {upper}: &[&str] = &[{list}];\n",
        dir = match set.skip_prefix {
            Some(prefix) => format!("`{}/` but `{prefix}*`", set.dir),
            None => format!("`{}/`", set.dir),
        },
        name = set.name,
        upper = set.name.to_ascii_uppercase(),
        list = list.join(", ")
    )
}

/// A Rust identifier for a case name: letters and digits lower-cased, other
/// characters `_`; `case_` before a name that is not a word on its own, `_`
/// after a keyword.
fn test_ident(case: &str) -> String {
    const KEYWORDS: &[&str] = &[
        "as", "async", "await", "box", "break", "const", "continue", "crate", "do", "dyn", "else",
        "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let", "loop",
        "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return", "self",
        "static", "struct", "super", "trait", "true", "try", "type", "typeof", "union", "unsafe",
        "unsized", "use", "virtual", "where", "while", "yield", "abstract", "become",
    ];
    let mut ident: String = case
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if !ident.starts_with(|c: char| c.is_ascii_lowercase()) {
        ident.insert_str(0, "case_");
    }
    if KEYWORDS.contains(&ident.as_str()) {
        ident.push('_');
    }
    ident
}
