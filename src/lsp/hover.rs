//! Hover: what the checker knows about the name or expression under the
//! cursor. For a value: its shape and storage in the language's notation
//! (`u8[16, 32, 64] pad 1`), the exact range, the narrowest type that holds
//! it and the MACs of stages; for a stage or block: its signature and
//! documentation too; for a written type: what it means as an ap type.

use super::analysis::Analysis;
use super::stages;
use super::stdlib::StdLib;
use super::symbols::{Def, DefKind, RefKind, Target};
use crate::ast::{BlockDecl, ExprKind};
use crate::builtins;
use crate::check::decimal;
use crate::ir::{Node, Op, Program, Shape};
use crate::span::Span;
use crate::types::{narrowest, Overflow, Quant, ScalarType};

/// Markdown and the span it describes.
pub struct HoverText {
    pub markdown: String,
    pub span: Span,
}

/// At most this many instances of a block's value are listed.
const MAX_INSTANCES: usize = 4;

pub fn hover(a: &Analysis, std: &StdLib, offset: usize) -> Option<HoverText> {
    if let Some(h) = attribute_hover(a, offset) {
        return Some(h);
    }
    let syms = &a.symbols;
    if let Some(target) = syms.at(offset) {
        let (span, markdown) = match target {
            Target::Def(d) => (d.span, def_hover(a, d)),
            Target::Ref(r) => (
                r.span,
                match &r.kind {
                    RefKind::Name | RefKind::Pipeline => match r.def.map(|i| &syms.defs[i]) {
                        Some(d) => def_hover(a, d),
                        None => format!("`{}`: not declared here", r.name),
                    },
                    RefKind::Call => call_hover(a, std, &r.name, r.span),
                    RefKind::NamedArg { func } => named_arg_hover(a, std, func, &r.name),
                    RefKind::UsePath { path, index } => use_hover(std, path, *index),
                },
            ),
        };
        return Some(HoverText { markdown, span });
    }
    if let Some(t) = syms.type_at(offset) {
        return Some(HoverText {
            markdown: type_markdown(t.ty),
            span: t.span,
        });
    }
    // An operator, a literal, a parenthesis: the innermost value around it.
    let nodes = innermost(a, offset);
    let first = nodes.first()?;
    Some(HoverText {
        markdown: instances(&nodes),
        span: first.span,
    })
}

/// The programs a span of an item can have values in: the pipeline's own, or
/// every program for a block (inlined once per call).
fn programs_of(a: &Analysis, item: usize) -> Vec<&Program> {
    match a.symbols.item_def(item) {
        Some(d) if d.kind == DefKind::Pipeline => a.program(&d.name).into_iter().collect(),
        _ => a.programs.iter().collect(),
    }
}

/// Nodes of the document whose span is the smallest holding `offset`; the
/// last one per owner (a cast after its value, clip's `min` after its `max`).
fn innermost(a: &Analysis, offset: usize) -> Vec<&Node> {
    let Some(item) = a.symbols.item_at(offset) else {
        return vec![];
    };
    let mut best: Vec<&Node> = vec![];
    let mut best_len = usize::MAX;
    for p in programs_of(a, item) {
        for n in &p.nodes {
            let s = n.span;
            if s.source != a.id || (s.start as usize) > offset || offset > (s.end as usize) {
                continue;
            }
            let len = (s.end - s.start) as usize;
            if len < best_len {
                best_len = len;
                best.clear();
            }
            if len == best_len {
                best.push(n);
            }
        }
    }
    last_per_owner(best)
}

fn last_per_owner(nodes: Vec<&Node>) -> Vec<&Node> {
    let mut out: Vec<&Node> = vec![];
    for n in nodes {
        match out.iter_mut().find(|m| m.owner == n.owner) {
            Some(slot) => *slot = n,
            None => out.push(n),
        }
    }
    out
}

/// The nodes holding a declaration's value (several for a block's `let`: one
/// per call).
fn def_nodes<'a>(a: &'a Analysis, d: &Def, depth: usize) -> Vec<&'a Node> {
    if depth > 8 {
        return vec![];
    }
    let in_pipeline = a
        .symbols
        .item_def(d.item)
        .is_some_and(|i| i.kind == DefKind::Pipeline);
    let item_span = a.symbols.items.get(d.item).copied();
    let mut found: Vec<&Node> = vec![];
    for p in programs_of(a, d.item) {
        for n in &p.nodes {
            let Some(name) = &n.name else { continue };
            let hit = if in_pipeline {
                *name == d.name
            } else {
                name.ends_with(&format!(".{}", d.name))
                    && n.span.source == a.id
                    && item_span.is_some_and(|s| s.start <= n.span.start && n.span.end <= s.end)
            };
            if hit {
                found.push(n);
            }
        }
    }
    if found.is_empty() {
        // `let z = y`: the same value as `y`.
        if let Some(ExprKind::Name(_)) = d.value.as_ref().map(|v| &v.kind) {
            let span = d.value.as_ref().map(|v| v.span);
            let target = a
                .symbols
                .refs
                .iter()
                .find(|r| Some(r.span) == span)
                .and_then(|r| r.def)
                .map(|i| &a.symbols.defs[i]);
            if let Some(t) = target {
                return def_nodes(a, t, depth + 1);
            }
        }
    }
    last_per_owner(found)
}

fn def_hover(a: &Analysis, d: &Def) -> String {
    match d.kind {
        DefKind::Pipeline => {
            let mut out = format!("```convoy\npipeline {}\n```", d.name);
            if let Some(p) = a.program(&d.name) {
                let inputs: Vec<String> =
                    p.inputs.iter().map(|i| format!("`{}`", i.name)).collect();
                let outputs: Vec<String> = p
                    .outputs
                    .iter()
                    .map(|o| format!("`{}: {}`", o.name, shape_text(&p.nodes[o.node])))
                    .collect();
                out.push_str(&format!(
                    "\n- inputs: {}\n- outputs: {}\n- MACs per image: {}",
                    inputs.join(", "),
                    outputs.join(", "),
                    thousands(p.total_macs())
                ));
            }
            out
        }
        DefKind::Block => match local_block(a, &d.name) {
            Some(b) => block_markdown(b, a.sources.text(a.id), None),
            None => format!("block `{}`", d.name),
        },
        DefKind::BlockParam => {
            let text = a.sources.text(a.id);
            let default = d
                .value
                .as_ref()
                .and_then(|v| text.get(v.span.range()))
                .map(|t| format!(" = {t}"))
                .unwrap_or_default();
            format!(
                "```convoy\n{}{default}\n```\nparameter of block `{}`: its value is the caller's argument",
                d.name,
                a.symbols.item_def(d.item).map_or("?", |b| b.name.as_str())
            )
        }
        _ => {
            let nodes = def_nodes(a, d, 0);
            let declared =
                d.ty.as_ref()
                    .and_then(|t| a.sources.text(a.id).get(t.span.range()))
                    .map(|t| format!(": {t}"))
                    .unwrap_or_default();
            if nodes.is_empty() {
                let why = if a.diagnostics.iter().any(|d| d.is_error()) {
                    "no value while this statement, or one it uses, has an error"
                } else {
                    "no value: not used by a checked pipeline"
                };
                return format!(
                    "```convoy\n{} {}{declared}\n```\n{why}",
                    d.kind.keyword(),
                    d.name
                );
            }
            let hls = (d.kind == DefKind::Let)
                .then(|| hls_of_let(a, d))
                .flatten()
                .map(|h| format!("\n\n---\n\n{h}"))
                .unwrap_or_default();
            format!("{}{hls}", instances(&nodes))
        }
    }
}

/// The pipeline a pipeline-level `let` belongs to, and its program.
fn pipeline_of<'a>(a: &'a Analysis, d: &Def) -> Option<&'a Program> {
    let item = a.symbols.item_def(d.item)?;
    (item.kind == DefKind::Pipeline)
        .then(|| a.program(&item.name))
        .flatten()
}

/// `@hls(...)` of a pipeline-level `let`: the parallelism the HLS design
/// gives the stage and the estimated II of its loops.
fn hls_of_let(a: &Analysis, d: &Def) -> Option<String> {
    let program = pipeline_of(a, d)?;
    program.hints.iter().find(|h| h.stage == d.name)?;
    Some(hls_markdown(program, &d.name))
}

/// The stage's pe / simd (from its `@hls`) and, per loop, the II and cycles
/// of `convoy estimate --style stream`.
fn hls_markdown(program: &Program, stage: &str) -> String {
    let hint = program.hints.iter().find(|h| h.stage == stage);
    let factor = |v: Option<usize>, default: &str| v.map_or(default.to_string(), |v| v.to_string());
    let mut out = format!(
        "HLS: pe {}, simd {}",
        factor(hint.and_then(|h| h.pe), "1"),
        factor(hint.and_then(|h| h.simd), "all")
    );
    let options = crate::hls::HlsOptions {
        style: crate::hls::Style::Stream,
        ..crate::hls::HlsOptions::default()
    };
    match crate::hls::estimate(program, &options) {
        Ok(e) => {
            let loops: Vec<String> = e
                .stages
                .iter()
                .filter(|s| s.stage == stage)
                .map(|s| {
                    format!(
                        "\n- `{}`: estimated II {} ({}), {} cycles per frame",
                        s.kernel,
                        s.ii,
                        s.limiting,
                        thousands(s.cycles)
                    )
                })
                .collect();
            if loops.is_empty() {
                out.push_str("\n- no loop of its own in the HLS design");
            } else {
                out.push_str(&loops.concat());
                out.push_str(&format!(
                    "\n- pipeline interval {} cycles (stream style)",
                    thousands(e.interval)
                ));
            }
        }
        Err(_) => out.push_str("\n- no HLS estimate: the HLS backend does not take this pipeline"),
    }
    out
}

/// Hover over `@hls(pe: 16)`: what the attribute and its keys mean, and
/// what they give the stage.
fn attribute_hover(a: &Analysis, offset: usize) -> Option<HoverText> {
    let file = a.file.as_ref()?;
    for item in &file.items {
        let (body, pipeline) = match item {
            crate::ast::Item::Pipeline(p) => (&p.body, Some(p.name.node.as_str())),
            crate::ast::Item::Block(b) => (&b.body, None),
            crate::ast::Item::Use(_) => continue,
        };
        for stmt in body {
            let crate::ast::Stmt::Let(l) = stmt else {
                continue;
            };
            let Some(attr) = l.attributes.iter().find(|at| {
                at.span.source == a.id
                    && (at.span.start as usize) <= offset
                    && offset <= at.span.end as usize
            }) else {
                continue;
            };
            let mut out = match builtins::attribute(&attr.name.node) {
                Some(known) => {
                    let keys: Vec<String> = known
                        .keys
                        .iter()
                        .map(|k| format!("- `{}`: {}", k.name, k.doc))
                        .collect();
                    format!(
                        "```convoy\n{}\n```\n{}\n\n{}",
                        attr.text(),
                        known.doc,
                        keys.join("\n")
                    )
                }
                None => format!("`@{}`: not an attribute", attr.name.node),
            };
            let stage = match &l.target {
                crate::ast::LetTarget::Name(n) => n.node.clone(),
                crate::ast::LetTarget::Tuple(ns) => ns
                    .iter()
                    .map(|n| n.node.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            let program = pipeline.and_then(|p| a.program(p));
            if let Some(p) = program.filter(|p| p.hints.iter().any(|h| h.stage == stage)) {
                out.push_str(&format!(
                    "\n\n---\n\n`{stage}`: {}",
                    hls_markdown(p, &stage)
                ));
            }
            return Some(HoverText {
                markdown: out,
                span: attr.span,
            });
        }
    }
    None
}

fn call_hover(a: &Analysis, std: &StdLib, name: &str, func_span: Span) -> String {
    let call = a.symbols.calls.iter().find(|c| c.func_span == func_span);
    let mut nodes: Vec<&Node> = vec![];
    if let Some(c) = call {
        for p in programs_of(a, c.item) {
            for n in &p.nodes {
                if n.span == c.span {
                    nodes.push(n);
                }
            }
        }
        // A block's value is made inside the block: it is the `let`'s value
        // when the call is the whole of a pipeline-level `let`.
        if nodes.is_empty() && c.is_let_value {
            if let Some(owner) = &c.owner {
                if let Some(d) = a
                    .symbols
                    .defs
                    .iter()
                    .find(|d| d.item == c.item && d.kind == DefKind::Let && &d.name == owner)
                {
                    nodes = def_nodes(a, d, 0);
                }
            }
        }
    }
    let nodes = last_per_owner(nodes);
    let doc = if let Some(s) = builtins::find(name) {
        stages::markdown(s)
    } else if let Some(b) = local_block(a, name) {
        block_markdown(b, a.sources.text(a.id), None)
    } else if let Some((m, b)) = imported_block(a, std, name) {
        block_markdown(b, m.text, Some(m.name))
    } else {
        format!("`{name}`: no such stage or block")
    };
    if nodes.is_empty() {
        doc
    } else {
        format!("{}\n\n---\n\n{doc}", instances(&nodes))
    }
}

fn local_block<'a>(a: &'a Analysis, name: &str) -> Option<&'a BlockDecl> {
    a.file.as_ref()?.items.iter().find_map(|i| match i {
        crate::ast::Item::Block(b) if b.name.node == name => Some(b),
        _ => None,
    })
}

fn imported_block<'a>(
    a: &Analysis,
    std: &'a StdLib,
    name: &str,
) -> Option<(&'a super::stdlib::StdModule, &'a BlockDecl)> {
    std.imported(&a.symbols.uses)
        .into_iter()
        .find(|(_, b)| b.name.node == name)
}

fn named_arg_hover(a: &Analysis, std: &StdLib, func: &str, arg: &str) -> String {
    if let Some(s) = builtins::find(func) {
        return match s.param(arg) {
            Some(p) if p.required() => format!("`{arg}`: parameter of `{}`", s.signature()),
            Some(p) => format!(
                "`{arg}`: parameter of `{}`\n\ndefault: {}",
                s.signature(),
                p.describe()
            ),
            None => format!("`{func}` has no parameter `{arg}`: {}", s.signature()),
        };
    }
    let (block, text) = match local_block(a, func) {
        Some(b) => (b, a.sources.text(a.id)),
        None => match imported_block(a, std, func) {
            Some((m, b)) => (b, m.text),
            None => return format!("`{arg}`: argument of `{func}`"),
        },
    };
    match block.params.iter().find(|p| p.name.node == arg) {
        Some(p) => {
            let default = p
                .default
                .as_ref()
                .and_then(|d| text.get(d.span.range()))
                .map(|t| format!(" (default {t})"))
                .unwrap_or_default();
            format!(
                "`{arg}`: parameter of block `{}`{default}",
                signature(block, text)
            )
        }
        None => format!("block `{func}` has no parameter `{arg}`"),
    }
}

fn use_hover(std: &StdLib, path: &[String], index: usize) -> String {
    match index {
        0 => "`std`: the standard library, built into convoy".to_string(),
        1 => match std.module(&path[1]) {
            Some(m) => {
                let names: Vec<String> = m.blocks().map(|b| format!("`{}`", b.name.node)).collect();
                format!("module `std::{}`: blocks {}", m.name, names.join(", "))
            }
            None => format!("no module `std::{}`", path[1]),
        },
        _ => match std
            .module(&path[1])
            .and_then(|m| Some((m, m.block(&path[index])?)))
        {
            Some((m, b)) => block_markdown(b, m.text, Some(m.name)),
            None => format!("no block `{}` in `std::{}`", path[index], path[1]),
        },
    }
}

fn signature(b: &BlockDecl, text: &str) -> String {
    let params: Vec<String> = b
        .params
        .iter()
        .map(
            |p| match p.default.as_ref().and_then(|d| text.get(d.span.range())) {
                Some(d) => format!("{} = {d}", p.name.node),
                None => p.name.node.clone(),
            },
        )
        .collect();
    format!("block {}({})", b.name.node, params.join(", "))
}

pub fn block_markdown(b: &BlockDecl, text: &str, module: Option<&str>) -> String {
    let mut out = format!("```convoy\n{}\n```", signature(b, text));
    if !b.doc.is_empty() {
        out.push('\n');
        out.push_str(&b.doc.join("\n"));
    }
    if let Some(m) = module {
        out.push_str(&format!("\n\nfrom `std::{m}`"));
    }
    out
}

/// `u8[16, 32, 64] pad 1`
pub fn shape_text(n: &Node) -> String {
    crate::notation::node_type(n)
}

fn storage_text(n: &Node) -> String {
    let mut dims = n.shape.dims();
    if let Shape::Map { .. } = n.shape {
        dims[1] += 2 * n.halo;
        dims[2] += 2 * n.halo;
    }
    if dims.is_empty() {
        return "one value".into();
    }
    crate::notation::array_dims(&dims)
}

fn thousands(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn node_markdown(n: &Node) -> String {
    let range = n.range();
    let head = match &n.name {
        Some(name) => format!("{name}: {}", shape_text(n)),
        None => shape_text(n),
    };
    let what = match n.op {
        Op::Input { .. } => "input".to_string(),
        Op::Constant { .. } => n.label.clone(),
        _ => format!("`{}` in `{}`", n.label, n.owner),
    };
    let fit = narrowest(range.lo, range.hi, n.frac);
    let ty = if fit == n.ty {
        format!("`{}` (the narrowest)", n.ty)
    } else {
        format!("`{}`, narrowest `{fit}`", n.ty)
    };
    let mut out = format!(
        "```convoy\n{head}\n```\n- {what}\n- storage `{}`\n- range `[{}, {}]`\n- type {ty}",
        storage_text(n),
        decimal(range.lo, n.frac),
        decimal(range.hi, n.frac),
    );
    if n.ranges.len() > 1 && n.ranges.iter().any(|r| *r != n.ranges[0]) {
        let shown: Vec<String> = n
            .ranges
            .iter()
            .take(4)
            .map(|r| format!("`[{}, {}]`", decimal(r.lo, n.frac), decimal(r.hi, n.frac)))
            .collect();
        let more = if n.ranges.len() > 4 { ", ..." } else { "" };
        out.push_str(&format!(
            "\n- per channel ({}): {}{more}",
            n.ranges.len(),
            shown.join(", ")
        ));
    }
    if n.macs > 0 {
        out.push_str(&format!("\n- MACs per image: {}", thousands(n.macs)));
    }
    out
}

/// One node, or the instances of a value inside a block called several times.
fn instances(nodes: &[&Node]) -> String {
    match nodes {
        [] => String::new(),
        [n] => node_markdown(n),
        _ => {
            let mut parts: Vec<String> = nodes
                .iter()
                .take(MAX_INSTANCES)
                .map(|n| format!("**in `{}`**\n{}", n.owner, node_markdown(n)))
                .collect();
            if nodes.len() > MAX_INSTANCES {
                parts.push(format!("and {} more", nodes.len() - MAX_INSTANCES));
            }
            parts.join("\n\n")
        }
    }
}

fn quant_doc(q: Quant) -> &'static str {
    match q {
        Quant::Trn => "floor (toward minus infinity)",
        Quant::TrnZero => "toward zero",
        Quant::Rnd => "nearest, ties toward plus infinity",
        Quant::RndZero => "nearest, ties toward zero",
        Quant::RndInf => "nearest, ties away from zero",
        Quant::RndMinInf => "nearest, ties toward minus infinity",
        Quant::RndConv => "nearest, ties to even",
    }
}

fn overflow_doc(o: Overflow) -> &'static str {
    match o {
        Overflow::Wrap => "keep the low bits (two's complement)",
        Overflow::Sat => "clamp to the nearest bound",
        Overflow::SatZero => "zero when out of range",
        Overflow::SatSym => "clamp to a symmetric range",
    }
}

/// What a written scalar type means, as the ap type it stands for.
pub fn type_markdown(t: ScalarType) -> String {
    let (lo, hi) = t.value_bounds();
    let frac = t.storage_frac();
    let range = format!("`[{}, {}]`", decimal(lo, frac), decimal(hi, frac));
    if !t.fixed {
        let ap = if t.signed { "ap_int" } else { "ap_uint" };
        return format!(
            "```convoy\n{t}\n```\n`{ap}<{}>`: {} integers in {range}",
            t.width,
            if t.signed { "signed" } else { "unsigned" }
        );
    }
    let ap = if t.signed { "ap_fixed" } else { "ap_ufixed" };
    let modes = if t.quant != Quant::Trn || t.overflow != Overflow::Wrap {
        format!(", {}, {}", t.quant.ap_name(), t.overflow.ap_name())
    } else {
        String::new()
    };
    format!(
        "```convoy\n{t}\n```\n`{ap}<{}, {}{modes}>`: {} bits, {} integer bits{}, {} fraction bits\n\
         - values {range} in steps of 2^-{}\n- quantization `{}`: {}\n- overflow `{}`: {}",
        t.width,
        t.int_bits,
        t.width,
        t.int_bits,
        if t.signed { " (sign included)" } else { "" },
        t.frac_bits(),
        t.frac_bits(),
        t.quant.name(),
        quant_doc(t.quant),
        t.overflow.name(),
        overflow_doc(t.overflow),
    )
}
