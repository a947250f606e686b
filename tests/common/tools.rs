//! What tests need from the machine (g++, the ap_types headers, Graphviz,
//! Python with a pseudo-terminal, CPU features), and the one policy when it
//! is missing: in CI (`CI` set, as CI services do, to anything but `false`
//! or `0`) the test fails, saying what is missing and how to get it;
//! elsewhere it prints `SKIPPED: <test>: <tool> not found (<why>)` on the
//! terminal and returns, or skips the part that needs it. Never a silent
//! pass.
//!
//! CPU features are the exception: no install step can add AVX-512 to a
//! Zen 3, and CI's machines of one kind differ in their CPUs. A test that
//! needs a feature this CPU lacks checks the paths the CPU has (the JIT
//! falls back to AVX2 or scalar code, and every test still compares them
//! with the interpreter), prints `NOT ON THIS CPU: <test>: <feature>` and
//! lists it with the skips at the end of `make test`, in CI too.
//!
//! ```ignore
//! let Some(cpp) = tools::cpp() else { return }; // g++ and the headers
//! ```

use std::io::Write as _;
use std::path::PathBuf;
use std::process::Command;

/// Whether this run is CI's, where every tool must be present.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// `found`, or the policy for a missing `tool` (`why` says what was
/// looked for and how to get it).
#[track_caller]
pub fn require<T>(tool: &str, found: Result<T, String>) -> Option<T> {
    let why = match found {
        Ok(t) => return Some(t),
        Err(why) => why,
    };
    let current = std::thread::current();
    let test = current.name().unwrap_or("a test");
    if in_ci() {
        panic!("{test}: {tool} not found ({why}); in CI (CI is set) a missing tool fails the test");
    }
    record(&format!("SKIPPED: {test}: {tool} not found ({why})\n"));
    None
}

/// `line` straight to the terminal (libtest captures `eprintln!` of
/// passing tests, and a skip must show in every run) and to
/// [`skipped_list`], which `make test` prints again at the end.
fn record(line: &str) {
    let _ = std::io::stderr().write_all(line.as_bytes());
    let _ = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(skipped_list())
        .and_then(|mut f| f.write_all(line.as_bytes()));
}

/// Where [`require`] appends its `SKIPPED` lines: `skipped-tests.txt` in
/// cargo's scratch folder for tests (`<target>/tmp/`).
pub fn skipped_list() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("skipped-tests.txt")
}

/// The C++ compiler (`$CXX`, else `g++`) and the ap_types headers: what
/// compiling Convoy's C++ or the reference designs takes.
#[derive(Clone)]
pub struct Cpp {
    pub cxx: String,
    pub ap_types: PathBuf,
}

/// [`Cpp`], or the policy when either is missing.
#[track_caller]
pub fn cpp() -> Option<Cpp> {
    let cxx = require("a C++ compiler", compiler());
    let ap_types = require(
        "the ap_types headers",
        find_ap_types(std::env::var_os("AP_TYPES")),
    );
    Some(Cpp {
        cxx: cxx?,
        ap_types: ap_types?,
    })
}

/// `$CXX` or `g++`, if it runs.
fn compiler() -> Result<String, String> {
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "g++".into());
    runs(&cxx, &["--version"]).map(|()| cxx)
}

/// The ap_types headers: `$AP_TYPES`, or `<repo>/build/ap_types` (filled by
/// `tools/fetch_ap_types.sh`); Err says where they were looked for and how
/// to get them.
pub fn find_ap_types(env: Option<std::ffi::OsString>) -> Result<PathBuf, String> {
    let (dir, origin) = match env {
        Some(d) if !d.is_empty() => (PathBuf::from(d), "set by the AP_TYPES environment variable"),
        _ => (
            super::root().join("build").join("ap_types"),
            "the default location; AP_TYPES is unset",
        ),
    };
    if ["ap_fixed.h", "ap_int.h", "hls_stream.h"]
        .iter()
        .all(|h| dir.join(h).is_file())
    {
        return Ok(dir);
    }
    Err(format!(
        "ap_fixed.h, ap_int.h or hls_stream.h is missing from {} ({origin}); run \
         `bash tools/fetch_ap_types.sh` at the repository root to download them into \
         build/ap_types/, or point AP_TYPES at a folder that holds them",
        dir.display()
    ))
}

/// `make`, which runs an emitted project's testbench.
#[track_caller]
pub fn make() -> Option<()> {
    require("make", runs("make", &["--version"]))
}

/// Graphviz's `dot`.
#[track_caller]
pub fn graphviz() -> Option<()> {
    require(
        "Graphviz `dot`",
        runs("dot", &["-V"]).map_err(|e| format!("{e}; install the graphviz package")),
    )
}

/// `python3` able to open a pseudo-terminal (its `pty` module drives the
/// REPL like a user).
#[track_caller]
pub fn python_pty() -> Option<()> {
    require(
        "python3 with a pseudo-terminal",
        runs("python3", &["-c", "import os, pty; os.openpty()"]),
    )
}

/// VNNI (`vpdpbusd`) for Cranelift's vector code: AVX-VNNI, or AVX512-VNNI
/// with AVX512-VL.
#[track_caller]
pub fn vnni() -> Option<()> {
    let found = std::is_x86_feature_detected!("avxvnni")
        || (std::is_x86_feature_detected!("avx512vnni")
            && std::is_x86_feature_detected!("avx512vl"));
    cpu("VNNI (AVX-VNNI, or AVX512-VNNI with VL)", found)
}

/// SSSE3 and SSE4.1, which Cranelift's vector kernels need without VNNI.
#[track_caller]
pub fn sse41() -> Option<()> {
    let found = std::is_x86_feature_detected!("ssse3") && std::is_x86_feature_detected!("sse4.1");
    cpu("SSSE3 and SSE4.1", found)
}

/// AVX-512 F, BW, VBMI and VNNI: what the precompiled kernels run on.
#[track_caller]
pub fn avx512_kernels() -> Option<()> {
    let found = std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512bw")
        && std::is_x86_feature_detected!("avx512vbmi")
        && std::is_x86_feature_detected!("avx512vnni");
    cpu("AVX-512 F/BW/VBMI/VNNI", found)
}

/// `Some` when this CPU runs `isa`'s kernels; otherwise the
/// `NOT ON THIS CPU` record of [`cpu`].
#[track_caller]
pub fn isa(isa: convoy::Isa) -> Option<()> {
    let feature = format!("the {isa:?} kernels");
    cpu(&feature, convoy::jit::isa_supported(isa))
}

/// The kernels `Isa::Auto` runs on this CPU: AVX-512 where it has
/// F/BW/VBMI/VNNI, else AVX2, else none (Cranelift code alone).
pub fn host_kernels() -> Option<convoy::Isa> {
    [convoy::Isa::Avx512, convoy::Isa::Avx2]
        .into_iter()
        .find(|&isa| convoy::jit::isa_supported(isa))
}

/// `Some` when the CPU has `feature`; otherwise records
/// `NOT ON THIS CPU: <test>: <feature>` (terminal and skip list) and
/// returns `None`, in CI as elsewhere (see the module's note).
#[track_caller]
fn cpu(feature: &str, found: bool) -> Option<()> {
    if found {
        return Some(());
    }
    let current = std::thread::current();
    let test = current.name().unwrap_or("a test");
    record(&format!(
        "NOT ON THIS CPU: {test}: {feature} (the paths this CPU has were checked instead)\n"
    ));
    None
}

/// Ok when `program args` starts and exits successfully.
fn runs(program: &str, args: &[&str]) -> Result<(), String> {
    match Command::new(program).args(args).output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!("cannot run `{program}`: {e}")),
    }
}

/// `build/venv/bin/python` with numpy, onnx and onnxruntime (what
/// `.ci/run` installs): the `convoy import` corpus scripts need them.
pub fn python_onnxruntime() -> Option<PathBuf> {
    let python = super::root().join("build/venv/bin/python");
    let found = Command::new(&python)
        .args(["-c", "import numpy, onnx, onnxruntime"])
        .output()
        .map_err(|e| format!("{}: {e}; run .ci/run or create the venv", python.display()))
        .and_then(|o| {
            if o.status.success() {
                Ok(python.clone())
            } else {
                Err(format!(
                    "{} cannot import numpy, onnx and onnxruntime; `build/venv/bin/python -m pip install numpy onnx onnxruntime`",
                    python.display()
                ))
            }
        });
    require("python3 with numpy, onnx and onnxruntime", found)
}
