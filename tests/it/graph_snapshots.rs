//! `convoy graph`: the DOT text of the examples is pinned by snapshots, and
//! Graphviz accepts every one (without Graphviz: a failure in CI, a skip
//! elsewhere).

use crate::common::{compile, root, run_with_stdin, source_and_output, tools, Folder};

pub(crate) const EXAMPLES: &[&str] = &[
    "seed",
    "ds_deconv",
    "unpool",
    "block",
    "unet",
    "resize_conv",
    "mobilenet_v2",
    "segnet",
    "encoder_decoder",
];

fn dot_of(name: &str) -> (String, String) {
    let path = root().join("examples").join(format!("{name}.cnn"));
    let src = std::fs::read_to_string(&path).unwrap();
    let folder = Folder(path.parent().unwrap().to_path_buf());
    let (checked, _) = compile(&format!("{name}.cnn"), &src, &folder)
        .unwrap_or_else(|e| panic!("{name} does not check:\n{e}"));
    (src, convoy::graph::to_dot(&checked.program))
}

#[test]
fn dot_of_the_examples() {
    for name in EXAMPLES {
        let (src, dot) = dot_of(name);
        insta::assert_snapshot!(format!("dot_{name}"), source_and_output(&src, &dot));
    }
}

#[test]
fn every_stage_is_a_node_and_every_let_a_box() {
    let (_, dot) = dot_of("unet");
    // The block call `skip = dsconv(...)` is a box holding its inner `let dw`.
    let outer = dot
        .find("subgraph \"cluster_skip\"")
        .expect("a box for skip");
    let inner = dot
        .find("subgraph \"cluster_skip.dw\"")
        .expect("a box for skip.dw");
    assert!(outer < inner);
    // The halo of the input shows on its edges, as the language writes it.
    assert!(
        dot.contains("label=\"u8[8, 32, 32] pad 1\\n0 .. 255\""),
        "{dot}"
    );
    assert!(dot.contains("-> out0"));
}

#[test]
fn graphviz_accepts_the_dot() {
    if tools::graphviz().is_none() {
        return;
    }
    for name in EXAMPLES {
        let (_, dot) = dot_of(name);
        let out = run_with_stdin(std::process::Command::new("dot").arg("-Tsvg"), &dot);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("<svg"));
    }
}
