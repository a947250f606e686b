//! `convoy test [PATH...]`: finds the `test` declarations of `.cnn` files,
//! runs them and prints cargo's test-runner format. Snapshots live next to
//! each script in `snapshots/`; new and changed ones are written as pending
//! (`.npy.new`, `.txt.new`) until accepted with `--accept` or `--review`.

use super::files::{io_reason, print_diagnostics};
use super::Backend;
use convoy::ast::TestDecl;
use convoy::diag::{self, Diagnostic, Report, SourceMap};
use convoy::ir::Program;
use convoy::span::Span;
use convoy::testing::snapshot::{self, Comparison, Encoded};
use convoy::testing::{self, png, Engine, Prepared};
use convoy::{CheckOptions, CompiledPipeline, DataSource};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

pub struct Options {
    pub paths: Vec<PathBuf>,
    pub backend: Backend,
    pub accept: bool,
    pub review: bool,
    pub pictures: Option<usize>,
    pub hls_csim: bool,
    pub filter: Option<String>,
}

/// Reads `load("...")` files relative to the script; errors name no folder,
/// so that messages are the same wherever the project is.
struct Folder<'a>(&'a Path);

impl DataSource for Folder<'_> {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        std::fs::read(self.0.join(path)).map_err(|e| io_reason(&e))
    }
}

/// One line of the run: a test ready to run, or one that cannot run.
struct Entry {
    name: String,
    test: String,
    dir: PathBuf,
    kind: Kind,
}

enum Kind {
    Ready {
        program: usize,
        prepared: Box<Prepared>,
    },
    /// Its diagnostics were printed; the text says what happened.
    Broken(String),
}

pub fn run(options: &Options) -> i32 {
    let start = Instant::now();
    if options.hls_csim {
        if let Err(reason) = csim::available() {
            eprintln!("error: --hls-csim is not available: {reason}");
            return 2;
        }
    }
    let paths = if options.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        options.paths.clone()
    };
    let mut scripts = vec![];
    for p in &paths {
        if p.is_dir() {
            find_scripts(p, &mut scripts);
        } else if p.is_file() {
            scripts.push(p.clone());
        } else {
            eprintln!("error: {}: no such file or folder", p.display());
            return 2;
        }
    }
    let mut sources = SourceMap::new();
    let mut programs: Vec<Program> = vec![];
    let mut entries: Vec<Entry> = vec![];
    let mut filtered = 0;
    let mut seen = vec![];
    for script in &scripts {
        collect(
            script,
            options,
            &mut sources,
            &mut programs,
            &mut entries,
            &mut filtered,
            &mut seen,
        );
    }

    println!();
    println!(
        "running {} test{}",
        entries.len(),
        if entries.len() == 1 { "" } else { "s" }
    );
    let mut jits: Vec<Option<Result<CompiledPipeline, Diagnostic>>> =
        programs.iter().map(|_| None).collect();
    let mut failures: Vec<(String, String)> = vec![];
    let mut passed = 0;
    for entry in &entries {
        let text = match &entry.kind {
            Kind::Broken(reason) => Some(reason.clone()),
            Kind::Ready { program, prepared } => {
                let program_ref = &programs[*program];
                let engine = match options.backend {
                    Backend::Interp => Ok(Engine::Interp),
                    Backend::Jit => {
                        let slot = jits[*program].get_or_insert_with(|| {
                            convoy::compile_jit(program_ref, &convoy::JitOptions::default())
                                .map_err(|e| e.diagnostic())
                        });
                        slot.as_ref().map(Engine::Jit).map_err(Clone::clone)
                    }
                };
                match engine {
                    Ok(engine) => run_one(entry, program_ref, prepared, &engine, options, &sources),
                    Err(d) => {
                        print_diagnostics(&sources, std::slice::from_ref(&d));
                        Some(format!(
                            "the JIT cannot compile `{}`: [{}] {}\n",
                            program_ref.name, d.code, d.message
                        ))
                    }
                }
            }
        };
        match text {
            None => {
                println!("test {} ... ok", entry.name);
                passed += 1;
            }
            Some(t) => {
                println!("test {} ... FAILED", entry.name);
                failures.push((entry.name.clone(), t));
            }
        }
    }
    if !failures.is_empty() {
        println!();
        println!("failures:");
        for (name, text) in &failures {
            println!();
            println!("---- {name} ----");
            print!("{text}");
        }
        println!();
        println!("failures:");
        for (name, _) in &failures {
            println!("    {name}");
        }
    }
    println!();
    println!(
        "test result: {}. {passed} passed; {} failed; 0 ignored; 0 measured; {filtered} filtered out; finished in {:.2}s",
        if failures.is_empty() { "ok" } else { "FAILED" },
        failures.len(),
        start.elapsed().as_secs_f64()
    );
    println!();
    i32::from(!failures.is_empty())
}

/// `*.cnn` files under `dir`, recursively, in name order (hidden folders,
/// `target` and `snapshots` skipped).
fn find_scripts(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(read) = std::fs::read_dir(dir) else {
        return;
    };
    let mut items: Vec<PathBuf> = read.filter_map(|e| e.ok().map(|e| e.path())).collect();
    items.sort();
    for p in items {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if p.is_dir() {
            if !name.starts_with('.') && name != "target" && name != "snapshots" {
                find_scripts(&p, out);
            }
        } else if p.extension().is_some_and(|e| e == "cnn") {
            out.push(p);
        }
    }
}

fn display(path: &Path) -> String {
    let s = path.display().to_string();
    s.strip_prefix("./").map(str::to_string).unwrap_or(s)
}

/// Parses `script`, checks the pipelines its tests run and prepares each test.
fn collect(
    script: &Path,
    options: &Options,
    sources: &mut SourceMap,
    programs: &mut Vec<Program>,
    entries: &mut Vec<Entry>,
    filtered: &mut usize,
    seen: &mut Vec<(PathBuf, String, Span)>,
) {
    let shown = display(script);
    let dir = script.parent().map(Path::to_path_buf).unwrap_or_default();
    let broken = |reason: String| Entry {
        name: shown.clone(),
        test: String::new(),
        dir: dir.clone(),
        kind: Kind::Broken(reason),
    };
    let text = match std::fs::read(script).map(String::from_utf8) {
        Ok(Ok(t)) => t,
        Ok(Err(_)) => {
            print_diagnostics(sources, &[diag::file_error(&shown, "not UTF-8 text")]);
            entries.push(broken("the file is not UTF-8 text\n".into()));
            return;
        }
        Err(e) => {
            print_diagnostics(sources, &[diag::file_error(&shown, &io_reason(&e))]);
            entries.push(broken("the file cannot be read\n".into()));
            return;
        }
    };
    let id = sources.add(shown.clone(), text);
    let file = match convoy::parse(sources, id) {
        Ok(f) => f,
        Err(d) => {
            print_diagnostics(sources, &d);
            entries.push(broken("the file does not parse (errors above)\n".into()));
            return;
        }
    };
    let folder = Folder(&dir);
    // Pipeline name -> index in `programs`, or None when it does not check.
    let mut checked: Vec<(String, Option<usize>)> = vec![];
    for (test, errors) in testing::discover(&file) {
        let name = format!("{shown}::{}", test.name.node);
        if options
            .filter
            .as_ref()
            .is_some_and(|f| !name.contains(f.as_str()))
        {
            *filtered += 1;
            continue;
        }
        let entry = |kind| Entry {
            name: name.clone(),
            test: test.name.node.clone(),
            dir: dir.clone(),
            kind,
        };
        // Scripts of one folder share `snapshots/`: test names must differ across them too.
        let mut errors = errors;
        let same = |(d, n, _): &&(PathBuf, String, Span)| *d == dir && *n == test.name.node;
        if let Some((_, _, first)) = seen.iter().find(same) {
            if first.source != test.name.span.source {
                errors.push(convoy::testing::TestError::DuplicateTest {
                    span: test.name.span,
                    first: *first,
                    name: test.name.node.clone(),
                });
            }
        }
        seen.push((dir.clone(), test.name.node.clone(), test.name.span));
        if !errors.is_empty() {
            let d: Vec<Diagnostic> = errors.iter().map(|e| e.diagnostic()).collect();
            print_diagnostics(sources, &d);
            entries.push(entry(Kind::Broken(cannot_run(&d))));
            continue;
        }
        let program = program_for(test, &file, sources, &folder, programs, &mut checked);
        let Some(program) = program else {
            let d = [convoy::testing::TestError::PipelineFails {
                span: test.run.span,
                name: test.run.pipeline.node.clone(),
            }
            .diagnostic()];
            print_diagnostics(sources, &d);
            entries.push(entry(Kind::Broken(cannot_run(&d))));
            continue;
        };
        match testing::prepare(test, &programs[program], &folder) {
            Ok(prepared) => entries.push(entry(Kind::Ready {
                program,
                prepared: Box::new(prepared),
            })),
            Err(errors) => {
                let d: Vec<Diagnostic> = errors.iter().map(|e| e.diagnostic()).collect();
                print_diagnostics(sources, &d);
                entries.push(entry(Kind::Broken(cannot_run(&d))));
            }
        }
    }
}

fn cannot_run(d: &[Diagnostic]) -> String {
    let mut s = String::from("the test cannot run (errors above):\n");
    for d in d {
        s.push_str(&format!("  [{}] {}\n", d.code, d.message));
    }
    s
}

/// The checked program a test runs, checked once per pipeline and file.
fn program_for(
    test: &TestDecl,
    file: &convoy::ast::File,
    sources: &mut SourceMap,
    folder: &Folder<'_>,
    programs: &mut Vec<Program>,
    checked: &mut Vec<(String, Option<usize>)>,
) -> Option<usize> {
    let name = &test.run.pipeline.node;
    if let Some((_, k)) = checked.iter().find(|(n, _)| n == name) {
        return *k;
    }
    let options = CheckOptions {
        pipeline: Some(name.clone()),
    };
    let k = match convoy::check(sources, file, &options, folder) {
        Ok(c) => {
            programs.push(c.program);
            Some(programs.len() - 1)
        }
        Err(d) => {
            print_diagnostics(sources, &d);
            None
        }
    };
    checked.push((name.clone(), k));
    k
}

/// Runs one test; `None` when it passes, else the failure text.
fn run_one(
    entry: &Entry,
    program: &Program,
    prepared: &Prepared,
    engine: &Engine<'_>,
    options: &Options,
    sources: &SourceMap,
) -> Option<String> {
    let outcome = testing::run(program, prepared, engine);
    let mut text = String::new();
    for f in &outcome.failures {
        text.push_str(&testing::report::render(f, sources));
    }
    for value in &outcome.snapshots {
        if let Some(t) = snapshot_check(entry, value, options) {
            text.push_str(&t);
        }
    }
    if options.hls_csim && outcome.failures.is_empty() {
        if let Err(t) = csim::run(program, prepared, &entry.dir, &entry.test) {
            text.push_str(&t);
        }
    }
    (!text.is_empty()).then_some(text)
}

struct Paths {
    npy: PathBuf,
    txt: PathBuf,
    npy_new: PathBuf,
    txt_new: PathBuf,
    shown: String,
}

fn snapshot_paths(dir: &Path, base: &str) -> Paths {
    let folder = dir.join("snapshots");
    Paths {
        npy: folder.join(format!("{base}.npy")),
        txt: folder.join(format!("{base}.txt")),
        npy_new: folder.join(format!("{base}.npy.new")),
        txt_new: folder.join(format!("{base}.txt.new")),
        shown: format!("snapshots/{base}.npy"),
    }
}

fn read_stored(p: &Paths) -> Option<Encoded> {
    let npy = std::fs::read(&p.npy).ok()?;
    let txt = std::fs::read_to_string(&p.txt).unwrap_or_default();
    Some(Encoded { npy, txt })
}

fn write_files(files: &[(&Path, &[u8])]) -> Result<(), String> {
    for (path, bytes) in files {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("{}: {}", parent.display(), io_reason(&e)))?;
        }
        let temp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&temp, bytes)
            .and_then(|_| std::fs::rename(&temp, path))
            .map_err(|e| format!("{}: {}", path.display(), io_reason(&e)))?;
    }
    Ok(())
}

/// Deletes a snapshot's pending files and pictures (`BASE.cN.png`).
fn remove_pending(p: &Paths) {
    let _ = std::fs::remove_file(&p.npy_new);
    let _ = std::fs::remove_file(&p.txt_new);
    let Some(folder) = p.npy.parent() else {
        return;
    };
    let base = p.npy.file_stem().and_then(|b| b.to_str()).unwrap_or("");
    let pictures = std::fs::read_dir(folder).into_iter().flatten().flatten();
    for e in pictures {
        let name = e.file_name().to_string_lossy().into_owned();
        let picture = name
            .strip_prefix(base)
            .and_then(|r| r.strip_prefix(".c"))
            .and_then(|r| r.strip_suffix(".png"))
            .is_some_and(|c| !c.is_empty() && c.chars().all(|x| x.is_ascii_digit()));
        if picture {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// What to do with a new or changed snapshot.
enum Decision {
    Accept,
    Reject,
    Keep,
}

fn ask(header: &str, body: &str) -> Decision {
    println!();
    println!("{header}");
    print!("{body}");
    loop {
        print!("accept this snapshot? [a]ccept, [r]eject, [s]kip: ");
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        match std::io::stdin().lock().read_line(&mut line) {
            Ok(0) | Err(_) => {
                println!();
                return Decision::Keep;
            }
            Ok(_) => {}
        }
        if !std::io::stdin().is_terminal() {
            // The answer was not echoed: end the prompt's line.
            println!();
        }
        match line.trim() {
            "a" | "accept" => return Decision::Accept,
            "r" | "reject" => return Decision::Reject,
            "s" | "skip" | "" => return Decision::Keep,
            _ => println!("answer a, r or s"),
        }
    }
}

/// Compares one snapshot with its files; `None` when it passes (or was accepted).
fn snapshot_check(
    entry: &Entry,
    value: &testing::SnapshotValue,
    options: &Options,
) -> Option<String> {
    let base = snapshot::base_name(&entry.test, &value.name);
    let p = snapshot_paths(&entry.dir, &base);
    let new = match snapshot::encode(&entry.test, value) {
        Ok(e) => e,
        Err(reason) => {
            return Some(format!(
                "snapshot `{}` cannot be encoded: {reason}\n",
                value.name
            ))
        }
    };
    let stored = read_stored(&p);
    let comparison = snapshot::compare(stored.as_ref(), &new, value);
    let (what, body, old) = match comparison {
        Comparison::Same => {
            remove_pending(&p);
            return None;
        }
        Comparison::New => (
            format!("new snapshot `{}`", value.name),
            indent(&new.txt, "  "),
            None,
        ),
        Comparison::Changed(c) => (
            format!("snapshot `{}` changed ({} -> new)", value.name, p.shown),
            c.render("  "),
            c.old,
        ),
    };
    let accept_now = |p: &Paths| -> Option<String> {
        remove_pending(p);
        let failed = write_files(&[(&p.npy, &new.npy), (&p.txt, new.txt.as_bytes())]).err();
        if failed.is_none() {
            println!("accepted {what}: {}", p.shown);
        }
        failed
    };
    if options.accept {
        return accept_now(&p).map(|e| format!("cannot write the snapshot: {e}\n"));
    }
    if let Err(e) = write_files(&[(&p.npy_new, &new.npy), (&p.txt_new, new.txt.as_bytes())]) {
        return Some(format!("cannot write the pending snapshot: {e}\n"));
    }
    let mut picture = String::new();
    if let (Some(channel), Some(old)) = (options.pictures, &old) {
        picture = match png::heat_map(old, &value.value, channel) {
            Ok(img) => {
                let path = entry
                    .dir
                    .join("snapshots")
                    .join(format!("{base}.c{channel}.png"));
                match write_files(&[(&path, &png::encode(&img))]) {
                    Ok(()) => format!(
                        "  picture of channel {channel} (old | new | difference): snapshots/{base}.c{channel}.png\n"
                    ),
                    Err(e) => format!("  cannot write the picture: {e}\n"),
                }
            }
            Err(png::HeatMapError::ShapesDiffer) => "  no picture: the shapes differ\n".into(),
            Err(png::HeatMapError::NoChannel { channel, channels }) => {
                format!("  no picture: channel {channel} does not exist ({channels} channels)\n")
            }
        };
    }
    if options.review {
        match ask(
            &format!("{what} in {}", entry.name),
            &format!("{body}{picture}"),
        ) {
            Decision::Accept => {
                return accept_now(&p).map(|e| format!("cannot write the snapshot: {e}\n"));
            }
            Decision::Reject => {
                remove_pending(&p);
                return Some(format!("{what}: rejected\n{body}"));
            }
            Decision::Keep => {}
        }
    }
    Some(format!(
        "{what}, pending in {}.new:\n{body}{picture}  accept it with `convoy test --accept` or `convoy test --review`\n",
        p.shown
    ))
}

fn indent(text: &str, by: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with("//"))
        .map(|l| format!("{by}{l}\n"))
        .collect()
}

/// `--hls-csim`: the test's inputs through the emitted HLS C++, compiled with
/// g++ against the ap_types headers (`$AP_TYPES`, else `build/ap_types`).
mod csim {
    use convoy::hls::HlsOptions;
    use convoy::ir::Program;
    use convoy::testing::Prepared;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    fn headers() -> Option<PathBuf> {
        let dir = match std::env::var_os("AP_TYPES") {
            Some(d) if !d.is_empty() => PathBuf::from(d),
            _ => PathBuf::from("build").join("ap_types"),
        };
        dir.join("ap_fixed.h").is_file().then_some(dir)
    }

    fn compiler() -> String {
        std::env::var("CXX").unwrap_or_else(|_| "g++".into())
    }

    pub fn available() -> Result<(), String> {
        if headers().is_none() {
            return Err("the ap_types headers were not found (set AP_TYPES to the folder holding ap_fixed.h)".into());
        }
        match Command::new(compiler()).arg("--version").output() {
            Ok(o) if o.status.success() => Ok(()),
            _ => Err(format!(
                "the C++ compiler `{}` does not run (set CXX)",
                compiler()
            )),
        }
    }

    /// Emits, compiles and runs the testbench on the test's inputs; the
    /// testbench compares every output code with the interpreter's.
    pub fn run(
        program: &Program,
        prepared: &Prepared,
        _dir: &Path,
        test: &str,
    ) -> Result<(), String> {
        let fail = |why: String| Err(format!("HLS C simulation: {why}\n"));
        let Some(headers) = headers() else {
            return fail("the ap_types headers are gone".into());
        };
        let options = HlsOptions {
            inputs: Some(prepared.inputs.clone()),
            ..HlsOptions::default()
        };
        let project = match convoy::emit_hls(program, &options) {
            Ok(p) => p,
            Err(d) => return fail(format!("[{}] {}", d.code, d.message)),
        };
        let work =
            std::env::temp_dir().join(format!("convoy-test-csim-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&work);
        for (path, text) in &project.files {
            let full = work.join(path);
            let written = full
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|_| std::fs::write(&full, text));
            if let Err(e) = written {
                return fail(format!("{}: {e}", full.display()));
            }
        }
        let name = &program.name;
        let exe = work.join(format!("{name}_tb"));
        let built = Command::new(compiler())
            .args(["-O1", "-std=c++14", "-w", "-isystem"])
            .arg(&headers)
            .arg(work.join(format!("{name}.cpp")))
            .arg(work.join(format!("{name}_tb.cpp")))
            .arg("-o")
            .arg(&exe)
            .output();
        let result = match built {
            Ok(o) if o.status.success() => match Command::new(&exe).current_dir(&work).output() {
                Ok(r) if r.status.success() => compare_files(program, &work),
                Ok(r) => Err(format!(
                    "the testbench reports a mismatch:\n{}",
                    String::from_utf8_lossy(&r.stdout)
                        .lines()
                        .chain(String::from_utf8_lossy(&r.stderr).lines())
                        .take(20)
                        .map(|l| format!("  {l}\n"))
                        .collect::<String>()
                )),
                Err(e) => Err(format!("the testbench does not run: {e}")),
            },
            Ok(o) => Err(format!(
                "g++ failed:\n{}",
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .take(20)
                    .map(|l| format!("  {l}\n"))
                    .collect::<String>()
            )),
            Err(e) => Err(format!("g++ does not run: {e}")),
        };
        let _ = std::fs::remove_dir_all(&work);
        result.or_else(fail)
    }

    /// Every output's `tb_data/NAME.csim.txt` must equal its golden file, so
    /// that a testbench that compares nothing cannot pass.
    fn compare_files(program: &Program, work: &Path) -> Result<(), String> {
        let data = work.join("tb_data");
        for out in &program.outputs {
            let name = if data.join(format!("{}.golden.txt", out.name)).is_file() {
                out.name.clone()
            } else {
                format!("{}_", out.name)
            };
            let golden = std::fs::read_to_string(data.join(format!("{name}.golden.txt")));
            let csim = std::fs::read_to_string(data.join(format!("{name}.csim.txt")));
            match (golden, csim) {
                (Ok(g), Ok(c)) if g == c && !g.is_empty() => {}
                (Ok(_), Ok(_)) => {
                    return Err(format!(
                        "output `{}` differs from the interpreter",
                        out.name
                    ))
                }
                _ => {
                    return Err(format!(
                        "output `{}`: the testbench wrote no values",
                        out.name
                    ))
                }
            }
        }
        Ok(())
    }
}
