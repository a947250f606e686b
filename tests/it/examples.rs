//! Every file in `examples/` and `stdlib/` is checked (its stage table pinned
//! by a snapshot) and run by the reference interpreter on random inputs: one
//! test per example.

use crate::cases::EXAMPLES;
use crate::common::{cnn_files, compile, random_inputs, root, source_and_output, Folder};
use convoy::check::table;

mod check_and_run {
    examples!(super::check_and_run);
}

#[test]
fn no_example_went_missing() {
    assert!(EXAMPLES.len() >= 8, "examples went missing: {EXAMPLES:?}");
}

/// `examples/<name>.cnn` checks without warnings (its stage table pinned by
/// a snapshot) and runs.
fn check_and_run(name: &str) {
    let path = root().join("examples").join(format!("{name}.cnn"));
    let src = std::fs::read_to_string(&path).unwrap();
    let folder = Folder(path.parent().unwrap().to_path_buf());
    let (checked, warnings) = compile(&format!("{name}.cnn"), &src, &folder)
        .unwrap_or_else(|e| panic!("{name} does not check:\n{e}"));
    assert!(
        !warnings.contains("Warning"),
        "{name} has warnings:\n{warnings}"
    );
    let program = &checked.program;
    insta::assert_snapshot!(
        format!("table_{name}"),
        source_and_output(&src, &table::render_text(program))
    );
    if program.total_macs() > 50_000_000 {
        return; // the large benchmark maps are run by the backend tests
    }
    let inputs = random_inputs(program, |i| 100 + i as u64);
    let outputs =
        convoy::interpret(program, &inputs).unwrap_or_else(|e| panic!("{name} failed to run: {e}"));
    assert_eq!(outputs.len(), program.outputs.len());
    for (out, info) in outputs.iter().zip(&program.outputs) {
        assert_eq!(
            out.shape,
            program.nodes[info.node].shape.dims(),
            "{name}: {}",
            info.name
        );
    }
}

#[test]
fn every_stdlib_block_is_used_by_an_example() {
    let examples: String = cnn_files(&root().join("examples"))
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    for path in cnn_files(&root().join("stdlib")) {
        let src = std::fs::read_to_string(&path).unwrap();
        let mut sources = convoy::SourceMap::new();
        let id = sources.add("std", src.as_str());
        let file = convoy::parse(&sources, id).expect("the stdlib parses");
        for item in &file.items {
            if let convoy::ast::Item::Block(b) = item {
                assert!(
                    !b.doc.is_empty(),
                    "block {} has no doc comment",
                    b.name.node
                );
                let module = path.file_stem().unwrap().to_string_lossy();
                let used = format!("use std::{module}::{}", b.name.node);
                assert!(examples.contains(&used), "no example says `{used}`");
            }
        }
    }
}

/// `@hls(pe, simd)` changes no value: `seed_pe16.cnn` (the seed with the
/// attribute on both stages) checks to the same nodes, ranges and types as
/// `seed.cnn`, and the interpreter and the JIT compute the same outputs for
/// both; only `Program::hints` differs.
#[test]
fn an_hls_attribute_changes_no_value() {
    let load = |name: &str| {
        let path = root().join("examples").join(format!("{name}.cnn"));
        let src = std::fs::read_to_string(&path).unwrap();
        let folder = Folder(path.parent().unwrap().to_path_buf());
        compile(&format!("{name}.cnn"), &src, &folder)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .0
            .program
    };
    let (plain, annotated) = (load("seed"), load("seed_pe16"));
    assert!(plain.hints.is_empty());
    assert_eq!(annotated.hints.len(), 2);
    assert_eq!(plain.nodes.len(), annotated.nodes.len());
    for (a, b) in plain.nodes.iter().zip(&annotated.nodes) {
        assert_eq!(
            (&a.op, &a.shape, a.frac, &a.ranges, a.ty, a.halo, a.macs, &a.owner),
            (&b.op, &b.shape, b.frac, &b.ranges, b.ty, b.halo, b.macs, &b.owner)
        );
    }
    let inputs = random_inputs(&plain, |i| 7 + i as u64);
    let expected = convoy::interpret(&plain, &inputs).expect("seed runs");
    assert_eq!(
        convoy::interpret(&annotated, &inputs).expect("seed_pe16 runs"),
        expected
    );
    let jit = convoy::compile_jit(&annotated, &convoy::JitOptions::default()).expect("JIT");
    assert_eq!(jit.run(&inputs).expect("JIT runs"), expected);
}
