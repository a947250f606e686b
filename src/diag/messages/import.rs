//! `convoy import`'s errors (`import::ImportError`): E700-E749. Every one
//! names the model file; a refusal of nodes lists every offending node.

use super::{error, BUG};
use crate::diag::codes::*;
use crate::diag::{Diagnostic, Report};
use crate::import::{ImportError, NodeProblem};

fn node_lines(nodes: &[NodeProblem]) -> Vec<String> {
    nodes
        .iter()
        .map(|p| {
            let name = if p.node.is_empty() {
                "(unnamed)"
            } else {
                &p.node
            };
            if p.what.is_empty() {
                format!("node `{name}` ({})", p.op)
            } else {
                format!("node `{name}` ({}): {}", p.op, p.what)
            }
        })
        .collect()
}

impl Report for ImportError {
    fn diagnostic(&self) -> Diagnostic {
        use ImportError as E;
        match self {
            E::Malformed {
                file,
                offset,
                context,
            } => error(
                E700,
                format!("{file}: not a readable ONNX model: {context} at byte {offset}"),
            )
            .help("the file may be truncated or not an .onnx model; re-export it"),
            E::ExternalData { file, tensor } => error(
                E701,
                format!("{file}: tensor `{tensor}` keeps its data in an external file"),
            )
            .help("save the model with its data inside (onnx.save(model, path, save_as_external_data=False))"),
            E::Unsupported { file, problems } => {
                let mut d = error(
                    E702,
                    format!(
                        "{file}: {} node{} cannot be imported",
                        problems.len(),
                        if problems.len() == 1 { "" } else { "s" }
                    ),
                );
                for line in node_lines(problems) {
                    d = d.note(line);
                }
                d.help("docs/import.md lists the supported operators and attributes")
            }
            E::DynamicShape { file, input, dims } => error(
                E703,
                format!("{file}: input `{input}` has a dynamic shape: {dims}"),
            )
            .help(
                "Convoy needs fixed channels, height and width (only the batch may be symbolic); \
                 export the model with a fixed input size",
            ),
            E::FloatRegion { file, nodes } => {
                let mut d = error(
                    E704,
                    format!(
                        "{file}: {} node{} in float without a quantizer",
                        nodes.len(),
                        if nodes.len() == 1 { " computes" } else { "s compute" }
                    ),
                );
                for line in node_lines(nodes) {
                    d = d.note(line);
                }
                d.help("quantize these nodes (QuantizeLinear / DequantizeLinear or QONNX Quant around them)")
            }
            E::ScaleShape { file, node, what } => error(
                E705,
                format!("{file}: node `{node}`: {what}"),
            )
            .note("activations take one scale and zero point; weights one per tensor or one per output channel"),
            E::Layout { file, what } => error(E706, format!("{file}: {what}")),
            E::TooWide { file, node, what } => error(
                E707,
                format!("{file}: node `{node}`: {what}"),
            )
            .note("Convoy's constants hold at most 64 bits and its exact intermediates 126"),
            E::OutputExists { path } => error(E708, format!("{path} exists"))
                .help("pass --force to replace it, or choose another -o folder or --name"),
            E::ScriptRejected { file, diagnostics } => error(
                E709,
                format!("{file}: the imported script does not check:\n{diagnostics}"),
            )
            .note(BUG),
        }
    }
}
