//! The completion items themselves: keywords and statement snippets, types
//! and modes, the words stage arguments take.

use super::completion::ItemKind;
use crate::ast::BlockDecl;
use crate::builtins::Word;
use crate::types::{Overflow, Quant};
use lsp_types::{
    CompletionItem, CompletionItemKind, Documentation, InsertTextFormat, MarkupContent, MarkupKind,
};

pub const INT_TYPES: &[&str] = &[
    "u1", "u2", "u4", "u8", "u16", "u32", "i2", "i4", "i8", "i12", "i16", "i32",
];

pub fn markdown(text: String) -> Documentation {
    Documentation::MarkupContent(MarkupContent {
        kind: MarkupKind::Markdown,
        value: text,
    })
}

pub fn item(label: &str, kind: CompletionItemKind, detail: &str) -> CompletionItem {
    CompletionItem {
        label: label.to_string(),
        kind: Some(kind),
        detail: (!detail.is_empty()).then(|| detail.to_string()),
        ..Default::default()
    }
}

pub fn snippet(label: &str, kind: CompletionItemKind, detail: &str, body: &str) -> CompletionItem {
    CompletionItem {
        insert_text: Some(body.to_string()),
        insert_text_format: Some(InsertTextFormat::SNIPPET),
        ..item(label, kind, detail)
    }
}

pub fn types() -> Vec<CompletionItem> {
    let mut out: Vec<CompletionItem> = INT_TYPES
        .iter()
        .map(|t| {
            let ap = if t.starts_with('u') {
                "ap_uint"
            } else {
                "ap_int"
            };
            item(
                t,
                CompletionItemKind::TYPE_PARAMETER,
                &format!("{ap}<{}>", &t[1..]),
            )
        })
        .collect();
    out.push(snippet(
        "fixed",
        CompletionItemKind::TYPE_PARAMETER,
        "ap_fixed<W, I>",
        "fixed<${1:16}, ${2:6}>",
    ));
    out.push(snippet(
        "ufixed",
        CompletionItemKind::TYPE_PARAMETER,
        "ap_ufixed<W, I>",
        "ufixed<${1:8}, ${2:2}>",
    ));
    out
}

pub fn overflow_modes() -> Vec<CompletionItem> {
    Overflow::ALL
        .iter()
        .map(|(n, o)| {
            item(
                n,
                CompletionItemKind::ENUM_MEMBER,
                &format!("overflow {}", o.ap_name()),
            )
        })
        .collect()
}

pub fn fixed_modes() -> Vec<CompletionItem> {
    Quant::ALL
        .iter()
        .map(|(n, q)| {
            item(
                n,
                CompletionItemKind::ENUM_MEMBER,
                &format!("quantization {}", q.ap_name()),
            )
        })
        .chain(overflow_modes())
        .collect()
}

pub fn keyword(k: &str, detail: &str) -> CompletionItem {
    item(k, CompletionItemKind::KEYWORD, detail)
}

pub fn statement_keywords(kind: ItemKind) -> Vec<CompletionItem> {
    match kind {
        ItemKind::Top => vec![
            snippet(
                "pipeline",
                CompletionItemKind::KEYWORD,
                "pipeline NAME { ... }",
                "pipeline ${1:name} {\n\tinput ${2:x}: ${3:u8}[${4:16, 32, 64}]\n\t$0\n\toutput ${5:y}\n}",
            ),
            snippet(
                "block",
                CompletionItemKind::KEYWORD,
                "block NAME(params) { ... return expr }",
                "block ${1:name}(${2:x}) {\n\t$0\n\treturn ${3:x}\n}",
            ),
            snippet(
                "use",
                CompletionItemKind::KEYWORD,
                "use std::blocks::NAME",
                "use std::${1:blocks}::${2:dsconv}",
            ),
        ],
        ItemKind::Pipeline => vec![
            snippet(
                "input",
                CompletionItemKind::KEYWORD,
                "input x: u8[C, H, W] pad P",
                "input ${1:x}: ${2:u8}[${3:16}, ${4:32}, ${5:64}]",
            ),
            snippet(
                "param",
                CompletionItemKind::KEYWORD,
                "param w: i8[O, I, KH, KW] = ...",
                "param ${1:w}: ${2:i8}[${3:16}, ${4:16}, ${5:3}, ${6:3}] = ${7|random(seed: 1),load(\"w.npy\")|}",
            ),
            snippet(
                "const",
                CompletionItemKind::KEYWORD,
                "const k: fixed<32, 1> = 0.0123",
                "const ${1:k}: ${2:fixed<32, 1>} = ${3:0.5}",
            ),
            snippet("let", CompletionItemKind::KEYWORD, "let y = expr", "let ${1:y} = $0"),
            snippet("output", CompletionItemKind::KEYWORD, "output y, z", "output ${1:y}"),
        ],
        ItemKind::Block => vec![
            snippet("let", CompletionItemKind::KEYWORD, "let y = expr", "let ${1:y} = $0"),
            snippet(
                "const",
                CompletionItemKind::KEYWORD,
                "const k: fixed<32, 1> = 0.0123",
                "const ${1:k}: ${2:fixed<32, 1>} = ${3:0.5}",
            ),
            snippet("return", CompletionItemKind::KEYWORD, "return expr", "return $0"),
        ],
    }
}

pub fn block_snippet(b: &BlockDecl, piped: bool) -> String {
    let required: Vec<String> = b
        .params
        .iter()
        .filter(|p| p.default.is_none())
        .skip(usize::from(piped))
        .enumerate()
        .map(|(i, p)| format!("${{{}:{}}}", i + 1, p.name.node))
        .collect();
    format!("{}({})", b.name.node, required.join(", "))
}

/// The words a stage argument may be, with what each means there.
pub fn words(words: &[Word]) -> Vec<CompletionItem> {
    words
        .iter()
        .map(|w| item(w.word, CompletionItemKind::ENUM_MEMBER, w.doc))
        .collect()
}
