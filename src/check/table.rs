//! The stage table printed by `convoy check`: one row per node, with its
//! shape, storage, exact range, type and MAC count. Pure: returns text.

use super::literal::decimal;
use crate::ir::{Node, Op, Program, Shape};
use crate::notation::{array_dims, dims};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// The declaration the node belongs to (`dw`, `y.up` inside a block).
    pub stage: String,
    pub op: String,
    pub shape: Vec<usize>,
    /// Stored dimensions, halo included: `[16][34][66]`.
    pub storage: Vec<usize>,
    pub halo: usize,
    /// Exact bounds as decimals.
    pub min: String,
    pub max: String,
    pub ty: String,
    pub macs: u64,
}

/// One row per node, in program order (constants that are only literals skipped).
pub fn rows(program: &Program) -> Vec<Row> {
    program
        .nodes
        .iter()
        .filter(|n| !(matches!(n.op, Op::Constant { .. }) && n.name.is_none()))
        .map(row)
        .collect()
}

fn row(n: &Node) -> Row {
    let range = n.range();
    let mut storage = n.shape.dims();
    if let Shape::Map { .. } = n.shape {
        storage[1] += 2 * n.halo;
        storage[2] += 2 * n.halo;
    }
    Row {
        stage: n.name.clone().unwrap_or_else(|| n.owner.clone()),
        op: n.label.clone(),
        shape: n.shape.dims(),
        storage,
        halo: n.halo,
        min: decimal(range.lo, n.frac),
        max: decimal(range.hi, n.frac),
        ty: n.ty.to_string(),
        macs: n.macs,
    }
}

fn shape(d: &[usize]) -> String {
    if d.is_empty() {
        return "scalar".into();
    }
    dims(d)
}

fn storage(d: &[usize]) -> String {
    if d.is_empty() {
        return "-".into();
    }
    array_dims(d)
}

/// A plain-text table with aligned columns.
pub fn render_text(program: &Program) -> String {
    let header = ["stage", "op", "shape", "storage", "range", "type", "MACs"];
    let mut lines: Vec<[String; 7]> = vec![header.map(str::to_string)];
    for r in rows(program) {
        lines.push([
            r.stage,
            r.op,
            shape(&r.shape),
            storage(&r.storage),
            format!("{} .. {}", r.min, r.max),
            r.ty,
            if r.macs == 0 {
                "-".into()
            } else {
                r.macs.to_string()
            },
        ]);
    }
    let widths: Vec<usize> = (0..7)
        .map(|c| {
            lines
                .iter()
                .map(|l| l[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = format!("pipeline {}\n", program.name);
    for l in &lines {
        let cells: Vec<String> = l
            .iter()
            .enumerate()
            .map(|(c, s)| {
                if c == 6 {
                    format!("{s:>w$}", w = widths[c])
                } else {
                    format!("{s:<w$}", w = widths[c])
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out.push_str(&format!("total MACs per image: {}\n", program.total_macs()));
    out
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The same table as JSON (exact bounds as decimal strings).
pub fn render_json(program: &Program) -> String {
    let stages: Vec<String> = rows(program)
        .into_iter()
        .map(|r| {
            format!(
                "    {{\"stage\": {}, \"op\": {}, \"shape\": {}, \"storage\": {}, \"halo\": {}, \"min\": {}, \"max\": {}, \"type\": {}, \"macs\": {}}}",
                json_str(&r.stage),
                json_str(&r.op),
                dims(&r.shape),
                dims(&r.storage),
                r.halo,
                json_str(&r.min),
                json_str(&r.max),
                json_str(&r.ty),
                r.macs
            )
        })
        .collect();
    let outputs: Vec<String> = program
        .outputs
        .iter()
        .map(|o| {
            let n = &program.nodes[o.node];
            format!(
                "{{\"name\": {}, \"shape\": {}, \"type\": {}}}",
                json_str(&o.name),
                dims(&n.shape.dims()),
                json_str(&n.ty.to_string())
            )
        })
        .collect();
    format!(
        "{{\n  \"pipeline\": {},\n  \"total_macs\": {},\n  \"outputs\": [{}],\n  \"stages\": [\n{}\n  ]\n}}\n",
        json_str(&program.name),
        program.total_macs(),
        outputs.join(", "),
        stages.join(",\n")
    )
}
