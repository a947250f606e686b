//! The checked pipeline as a Graphviz DOT graph, for `convoy graph`: one
//! node per stage, the nodes of one `let` in one box (a block's inner `let`s
//! in boxes inside it), and every edge labelled with the value it carries:
//! type, shape and storage halo in the language's notation
//! (`u8[16, 32, 64] pad 1`) and the exact range. Pure: returns text.

mod label;

use crate::ir::{Node, NodeId, Op, Program};
use label::{escape, node_label, value_label};
use std::collections::BTreeMap;
use std::fmt::Write;

/// The program as DOT text (deterministic: the same program gives the same text).
pub fn to_dot(program: &Program) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", escape(&program.name));
    out.push_str(
        "  graph [rankdir=TB, fontname=\"Helvetica\", fontsize=11, nodesep=0.35, ranksep=0.45];\n",
    );
    out.push_str("  node [fontname=\"Helvetica\", fontsize=10, shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\"];\n");
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=9, color=\"#555555\"];\n");
    let _ = writeln!(
        out,
        "  label=\"pipeline {}: {} MACs per image\"; labelloc=t;",
        escape(&program.name),
        program.total_macs()
    );

    let shown: Vec<bool> = program.nodes.iter().map(is_shown).collect();
    // Declarations outside any box; the nodes of each `let` grouped by owner.
    let mut tree = Cluster::default();
    for (id, node) in program.nodes.iter().enumerate() {
        if !shown[id] {
            continue;
        }
        if is_declaration(node) {
            let _ = writeln!(out, "  {}", node_line(id, node));
        } else {
            tree.insert(&node.owner, id);
        }
    }
    tree.write(program, &mut out, 1, "");

    for (id, node) in program.nodes.iter().enumerate() {
        if !shown[id] {
            continue;
        }
        for from in node.op.operands() {
            if !shown.get(from).copied().unwrap_or(false) {
                continue;
            }
            let src = &program.nodes[from];
            let style = if matches!(src.op, Op::Constant { .. }) {
                ", style=dashed"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "  n{from} -> n{id} [label=\"{}\"{style}];",
                escape(&value_label(src))
            );
        }
    }
    for (k, o) in program.outputs.iter().enumerate() {
        let _ = writeln!(
            out,
            "  out{k} [label=\"output {}\", shape=box, style=\"filled\", fillcolor=\"#d9ead3\"];",
            escape(&o.name)
        );
        if let Some(src) = program.nodes.get(o.node) {
            let _ = writeln!(
                out,
                "  n{} -> out{k} [label=\"{}\", penwidth=1.5];",
                o.node,
                escape(&value_label(src))
            );
        }
    }
    out.push_str("}\n");
    out
}

/// Literal constants (`>> 6`, `+ 1`) are part of their user's label.
fn is_shown(node: &Node) -> bool {
    !(matches!(node.op, Op::Constant { .. }) && node.name.is_none())
}

fn is_declaration(node: &Node) -> bool {
    node.op.is_leaf()
}

fn node_line(id: NodeId, node: &Node) -> String {
    let (shape, fill) = match node.op {
        Op::Input { .. } => ("box", "#cfe2f3"),
        Op::Constant { .. } => ("note", "#f3f3f3"),
        _ => ("box", "#ffffff"),
    };
    format!(
        "n{id} [label=\"{}\", shape={shape}, fillcolor=\"{fill}\"];",
        escape(&node_label(node))
    )
}

/// Nodes grouped by owner path: `up` holds `up.dw`'s box.
#[derive(Default)]
struct Cluster {
    nodes: Vec<NodeId>,
    children: BTreeMap<String, Cluster>,
    /// Order of first appearance, so boxes follow the program.
    order: Vec<String>,
}

impl Cluster {
    fn insert(&mut self, owner: &str, id: NodeId) {
        let mut c = self;
        for part in owner.split('.').filter(|p| !p.is_empty()) {
            if !c.children.contains_key(part) {
                c.order.push(part.to_string());
            }
            c = c.children.entry(part.to_string()).or_default();
        }
        c.nodes.push(id);
    }

    fn write(&self, program: &Program, out: &mut String, depth: usize, path: &str) {
        let pad = "  ".repeat(depth);
        for id in &self.nodes {
            let _ = writeln!(out, "{pad}{}", node_line(*id, &program.nodes[*id]));
        }
        for name in &self.order {
            let Some(child) = self.children.get(name) else {
                continue;
            };
            let full = if path.is_empty() {
                name.clone()
            } else {
                format!("{path}.{name}")
            };
            let _ = writeln!(out, "{pad}subgraph \"cluster_{}\" {{", escape(&full));
            let _ = writeln!(
                out,
                "{pad}  label=\"let {}\"; labeljust=l; style=\"rounded\"; color=\"#999999\";",
                escape(name)
            );
            child.write(program, out, depth + 1, &full);
            let _ = writeln!(out, "{pad}}}");
        }
    }
}
