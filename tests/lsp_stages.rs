//! The editor's table of built-in stages (`convoy::lsp::stages`, used for
//! hover, completion and signature help) against the checker's own, through
//! the public API: every name is a built-in, and takes exactly these
//! parameters in this order.

use convoy::diag::SourceMap;
use convoy::lsp::stages::STAGES;
use convoy::{CheckOptions, NoFiles};

fn diagnostics(text: &str) -> Vec<convoy::Diagnostic> {
    let mut sources = SourceMap::new();
    let id = sources.add("t.cnn", text);
    match convoy::compile(&mut sources, id, &CheckOptions::default(), &NoFiles) {
        Ok(c) => c.diagnostics,
        Err(d) => d,
    }
}

#[test]
fn every_stage_in_the_table_is_a_builtin() {
    for s in STAGES {
        let text = format!(
            "block {}(x) {{ return x }}\npipeline p {{\n  input x: u8[1, 4, 4]\n  output x\n}}\n",
            s.name
        );
        let d = diagnostics(&text);
        assert!(
            d.iter().any(|d| d.code == "E108"),
            "`{}` is not a built-in stage: {d:?}",
            s.name
        );
    }
}

#[test]
fn every_stage_takes_the_parameters_the_table_lists() {
    for s in STAGES.iter().filter(|s| !s.variadic) {
        let text = format!(
            "pipeline p {{\n  input x: u8[1, 4, 4]\n  let y = {}(x, no_such_argument: 1)\n  output y\n}}\n",
            s.name
        );
        let d = diagnostics(&text);
        let unknown = d
            .iter()
            .find(|d| d.code == "E115")
            .unwrap_or_else(|| panic!("`{}`: no unknown-argument error in {d:?}", s.name));
        let listed: Vec<String> = s.params.iter().map(|p| format!("`{}`", p.name)).collect();
        let expected = format!("`{}` takes {}", s.name, listed.join(", "));
        assert_eq!(unknown.notes, [expected], "`{}`", s.name);
    }
}
