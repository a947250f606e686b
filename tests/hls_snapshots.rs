//! The emitted C++ of every example, in both styles, pinned by insta
//! snapshots (SOURCE, then the design, the weights header omitted when
//! large). A change in the emitter shows up here as a reviewable diff.

mod common;

use common::{cnn_files, compile, root, source_and_output, Folder};
use convoy::hls::{self, HlsOptions, Style};
use convoy::SourceMap;

fn emitted(stem: &str, style: Style) -> (String, String) {
    let path = root().join("examples").join(format!("{stem}.cnn"));
    let src = std::fs::read_to_string(&path).expect("read example");
    let (checked, _) = compile(
        &format!("{stem}.cnn"),
        &src,
        &Folder(root().join("examples")),
    )
    .expect("example checks");
    let mut sources = SourceMap::new();
    sources.add(format!("{stem}.cnn"), src.clone());
    let options = HlsOptions {
        style,
        sources: Some(sources),
        ..HlsOptions::default()
    };
    let project = hls::emit(&checked.program, &options).expect("emits");
    let name = &checked.program.name;
    let mut out = String::new();
    for file in [format!("{name}.h"), format!("{name}.cpp")] {
        out.push_str(&format!(
            "==> {file}\n{}\n",
            project.file(&file).unwrap_or("(missing)")
        ));
    }
    let params = project
        .file(&format!("{name}_params.h"))
        .unwrap_or("(missing)");
    let short: String = params
        .lines()
        .map(|l| {
            if l.len() > 160 {
                format!("{}...\n", &l[..160])
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    out.push_str(&format!("==> {name}_params.h (long lines cut)\n{short}"));
    (src, out)
}

#[test]
fn examples_array_style() {
    for path in cnn_files(&root().join("examples")) {
        if is_bench(&path) {
            continue;
        }
        let stem = path
            .file_stem()
            .expect("stem")
            .to_string_lossy()
            .to_string();
        let (src, out) = emitted(&stem, Style::Array);
        insta::assert_snapshot!(format!("hls_array_{stem}"), source_and_output(&src, &out));
    }
}

#[test]
fn examples_stream_style() {
    for path in cnn_files(&root().join("examples")) {
        if is_bench(&path) {
            continue;
        }
        let stem = path
            .file_stem()
            .expect("stem")
            .to_string_lossy()
            .to_string();
        let (src, out) = emitted(&stem, Style::Stream);
        insta::assert_snapshot!(format!("hls_stream_{stem}"), source_and_output(&src, &out));
    }
}

/// The `bench_*` examples are benchmark-sized (64 x 128 x 256 maps): their
/// golden values (the interpreter, unoptimized in tests) and C simulation
/// would dominate the suite's time, so they are skipped by name.
fn is_bench(path: &std::path::Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("bench_"))
}
