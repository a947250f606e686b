//! How the editor shows a built-in stage (the table is `crate::builtins`).

use crate::builtins::Builtin;

/// Markdown: the signature, the doc and the optional parameters' defaults.
pub fn markdown(b: &Builtin) -> String {
    let mut out = format!("```convoy\n{}\n```\n{}", b.signature(), b.doc);
    let optional: Vec<String> = b
        .params
        .iter()
        .filter(|p| !p.required())
        .map(|p| format!("- `{}`: {}", p.name, p.describe()))
        .collect();
    if !optional.is_empty() {
        out.push_str("\n\n");
        out.push_str(&optional.join("\n"));
    }
    out
}
