//! The emitted C++ of every example, in both styles, pinned by insta
//! snapshots (SOURCE, then the design, the weights header omitted when
//! large). A change in the emitter shows up here as a reviewable diff. One
//! test per example and style; the `bench_*` examples are left out (see
//! `build.rs`).

use crate::common::{compile, root, source_and_output, Folder};
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

mod array {
    small_examples!(super::array_style);
}

mod stream {
    small_examples!(super::stream_style);
}

fn array_style(stem: &str) {
    let (src, out) = emitted(stem, Style::Array);
    insta::assert_snapshot!(format!("hls_array_{stem}"), source_and_output(&src, &out));
}

fn stream_style(stem: &str) {
    let (src, out) = emitted(stem, Style::Stream);
    insta::assert_snapshot!(format!("hls_stream_{stem}"), source_and_output(&src, &out));
}
