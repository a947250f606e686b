//! Signature help: the stage or block being called, with the argument
//! under the cursor.

use super::completion::{call_context, context, find_block, Env};
use crate::builtins;
use lsp_types::{
    Documentation, MarkupContent, MarkupKind, ParameterInformation, ParameterLabel, SignatureHelp,
    SignatureInformation,
};

fn markdown(text: String) -> Documentation {
    Documentation::MarkupContent(MarkupContent {
        kind: MarkupKind::Markdown,
        value: text,
    })
}

pub fn signature_help(src: &str, offset: usize, env: &Env) -> Option<SignatureHelp> {
    let cx = context(src, offset.min(src.len())).ok()?;
    let call = call_context(&cx)?;
    let (label, params, doc): (String, Vec<String>, String) =
        if let Some(s) = builtins::find(&call.func) {
            (
                s.signature(),
                s.params.iter().map(|p| p.name.to_string()).collect(),
                s.doc.to_string(),
            )
        } else {
            let b = find_block(&cx, env, &call.func)?;
            let names: Vec<String> = b.params.iter().map(|p| p.name.node.clone()).collect();
            (
                format!("{}({})", b.name.node, names.join(", ")),
                names,
                b.doc.join("\n"),
            )
        };
    // Parameter labels as offsets into the signature label (UTF-16; all ASCII).
    let open = label.find('(').unwrap_or(0) + 1;
    let mut cursor = open;
    let mut infos = vec![];
    for p in &params {
        let at = label[cursor..]
            .find(p.as_str())
            .map_or(cursor, |i| cursor + i);
        infos.push(ParameterInformation {
            label: ParameterLabel::LabelOffsets([at as u32, (at + p.len()) as u32]),
            documentation: None,
        });
        cursor = at + p.len();
    }
    let active = match &call.value_of {
        Some(name) => params.iter().position(|p| p == name),
        None => (call.named.is_empty()).then_some(call.position),
    };
    Some(SignatureHelp {
        signatures: vec![SignatureInformation {
            label,
            documentation: (!doc.is_empty()).then(|| markdown(doc)),
            parameters: Some(infos),
            active_parameter: active.map(|a| a as u32),
        }],
        active_signature: Some(0),
        active_parameter: active.map(|a| a as u32),
    })
}
