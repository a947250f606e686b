//! Completion, from the tokens before the cursor (the
//! line being typed rarely parses): `use` paths, types after `:` and `as`,
//! overflow and quantization modes, named arguments of the stage or block
//! being called, `load` paths, keywords, and otherwise names in scope,
//! stages and blocks. Standard-library blocks not yet imported come with
//! the `use` line that imports them.

use super::items::{
    block_snippet, fixed_modes, item, keyword, markdown, overflow_modes, snippet,
    statement_keywords, types, words,
};
use super::lexer::{tokens, Kind, Token};
use super::stages;
use super::stdlib::StdLib;
use crate::ast::BlockDecl;
use crate::builtins::{self, BUILTINS};
use lsp_types::{
    CompletionItem, CompletionItemKind, CompletionTextEdit, Position, Range, TextEdit,
};

/// What completion needs to know beyond the text.
pub struct Env<'a> {
    pub std: &'a StdLib,
    /// Type of a name, from the latest analysis that checked (`u8[16, 32, 64] pad 1`).
    pub name_detail: &'a dyn Fn(&str) -> Option<String>,
    /// Entries `(name, is_dir)` of a folder relative to the document's folder.
    pub list_dir: &'a dyn Fn(&str) -> Vec<(String, bool)>,
    /// The document's lines, for ranges of edits.
    pub index: &'a super::position::LineIndex,
}

const DECL_KEYWORDS: &[&str] = &["input", "param", "const", "let"];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ItemKind {
    Top,
    Pipeline,
    Block,
}

pub struct Cx<'a> {
    src: &'a str,
    offset: usize,
    /// Tokens ending before the word under the cursor.
    before: Vec<Token>,
    /// Of those, the ones on the cursor's line.
    line: Vec<Token>,
}

impl<'a> Cx<'a> {
    fn text(&self, t: &Token) -> &'a str {
        t.text(self.src)
    }

    fn last_text(&self, back: usize) -> Option<&'a str> {
        let n = self.before.len();
        (n > back).then(|| self.text(&self.before[n - 1 - back]))
    }
}

/// The call whose argument list holds the cursor.
pub struct CallCx {
    pub func: String,
    /// Index of the argument being written, counting a piped first argument.
    pub position: usize,
    /// Names of the named arguments already written.
    pub named: Vec<String>,
    /// The named argument whose value is being written (`mode: |`).
    pub value_of: Option<String>,
}

pub fn call_context(cx: &Cx) -> Option<CallCx> {
    let mut depth = 0i32;
    let toks = &cx.before;
    let mut open = None;
    for i in (0..toks.len()).rev() {
        match cx.text(&toks[i]) {
            ")" | "]" => depth += 1,
            "(" | "[" if depth > 0 => depth -= 1,
            "(" => {
                open = Some(i);
                break;
            }
            "[" | "{" | "}" => return None,
            _ => {}
        }
    }
    let open = open?;
    let func_token = open.checked_sub(1)?;
    if toks[func_token].kind != Kind::Ident {
        return None;
    }
    let func = cx.text(&toks[func_token]).to_string();
    let piped = func_token
        .checked_sub(1)
        .is_some_and(|i| cx.text(&toks[i]) == "|>");
    let mut position = usize::from(piped);
    let mut named = vec![];
    let mut depth = 0;
    for (j, t) in toks.iter().enumerate().skip(open + 1) {
        match cx.text(t) {
            "(" | "[" => depth += 1,
            ")" | "]" => depth -= 1,
            "," if depth == 0 => position += 1,
            ":" if depth == 0 && j > open + 1 => named.push(cx.text(&toks[j - 1]).to_string()),
            _ => {}
        }
    }
    let value_of = match (cx.last_text(0), cx.before.len()) {
        (Some(":"), n) if n >= 2 && n - 2 > open => cx.last_text(1).map(str::to_string),
        _ => None,
    };
    Some(CallCx {
        func,
        position,
        named,
        value_of,
    })
}

fn enclosing_item(cx: &Cx) -> (ItemKind, usize) {
    let mut depth = 0;
    let mut pending = ItemKind::Top;
    let mut current = (ItemKind::Top, 0);
    for (i, t) in cx.before.iter().enumerate() {
        match cx.text(t) {
            "pipeline" if depth == 0 => pending = ItemKind::Pipeline,
            "block" if depth == 0 => pending = ItemKind::Block,
            "{" => {
                if depth == 0 {
                    current = (pending, i);
                }
                depth += 1;
            }
            "}" => {
                depth -= 1;
                if depth <= 0 {
                    depth = 0;
                    current = (ItemKind::Top, i);
                }
            }
            _ => {}
        }
    }
    current
}

/// The item's start: the `pipeline` / `block` keyword before its `{`.
fn item_start(cx: &Cx, brace: usize) -> usize {
    (0..brace)
        .rev()
        .find(|&i| matches!(cx.text(&cx.before[i]), "pipeline" | "block"))
        .unwrap_or(brace)
}

/// Names declared in the enclosing item before the cursor's line (block
/// parameters included), in order.
fn names_in_scope(cx: &Cx) -> Vec<(String, &'static str)> {
    let (kind, brace) = enclosing_item(cx);
    if kind == ItemKind::Top {
        return vec![];
    }
    let start = item_start(cx, brace);
    let line_start = cx.line.first().map_or(cx.offset, |t| t.start);
    let toks: Vec<&Token> = cx.before[start..]
        .iter()
        .filter(|t| t.kind != Kind::Comment && t.end <= line_start)
        .collect();
    let text = |i: usize| toks.get(i).map_or("", |t| cx.text(t));
    let mut out: Vec<(String, &'static str)> = vec![];
    let mut push = |name: &str, what: &'static str| {
        if !name.is_empty() && !out.iter().any(|(n, _)| n == name) {
            out.push((name.to_string(), what));
        }
    };
    if kind == ItemKind::Block {
        // block NAME ( a , b = 8 , ... ) {
        let mut depth = 0;
        for (i, tok) in toks.iter().enumerate().skip(2) {
            match text(i) {
                "(" => depth += 1,
                ")" => depth -= 1,
                "{" if depth == 0 => break,
                _ => {}
            }
            if depth == 1 && tok.kind == Kind::Ident && matches!(text(i - 1), "(" | ",") {
                push(text(i), "block parameter");
            }
        }
    }
    for i in 0..toks.len() {
        match text(i) {
            "input" => push(text(i + 1), "input"),
            "param" => push(text(i + 1), "param"),
            "const" => push(text(i + 1), "const"),
            "let" if text(i + 1) == "(" => {
                let mut j = i + 2;
                while toks.get(j).is_some_and(|t| t.kind == Kind::Ident) {
                    push(text(j), "let");
                    if text(j + 1) != "," {
                        break;
                    }
                    j += 2;
                }
            }
            "let" => push(text(i + 1), "let"),
            _ => {}
        }
    }
    out.retain(|(n, _)| {
        n.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
    });
    out
}

fn local_blocks(cx: &Cx) -> Vec<String> {
    let all = tokens(cx.src);
    all.windows(2)
        .filter(|w| w[0].text(cx.src) == "block" && w[1].kind == Kind::Ident)
        .map(|w| w[1].text(cx.src).to_string())
        .collect()
}

/// `use std::MODULE(::BLOCK)?` lines of the whole document.
fn use_paths(src: &str) -> Vec<(Vec<String>, usize)> {
    let toks = tokens(src);
    let mut out = vec![];
    for (i, t) in toks.iter().enumerate() {
        if t.text(src) != "use" {
            continue;
        }
        let mut path = vec![];
        let mut end = t.end;
        let mut j = i + 1;
        while let Some(seg) = toks.get(j).filter(|s| s.kind == Kind::Ident) {
            path.push(seg.text(src).to_string());
            end = seg.end;
            if toks.get(j + 1).map(|s| s.text(src)) != Some("::") {
                break;
            }
            j += 2;
        }
        out.push((path, end));
    }
    out
}

fn expression_items(cx: &Cx, env: &Env, piped: bool) -> Vec<CompletionItem> {
    let mut out = vec![];
    for (name, what) in names_in_scope(cx) {
        let detail = (env.name_detail)(&name)
            .map(|t| format!("{what} {t}"))
            .unwrap_or_else(|| what.to_string());
        out.push(item(&name, CompletionItemKind::VARIABLE, &detail));
    }
    for s in BUILTINS {
        let body = if piped {
            let rest: Vec<String> = s
                .params
                .iter()
                .filter(|p| p.required())
                .skip(1)
                .enumerate()
                .map(|(i, p)| format!("${{{}:{}}}", i + 1, p.name))
                .collect();
            format!("{}({})", s.name, rest.join(", "))
        } else {
            s.snippet.to_string()
        };
        out.push(CompletionItem {
            documentation: Some(markdown(stages::markdown(s))),
            ..snippet(s.name, CompletionItemKind::FUNCTION, &s.signature(), &body)
        });
    }
    let locals = local_blocks(cx);
    let uses = use_paths(cx.src);
    for name in &locals {
        out.push(snippet(
            name,
            CompletionItemKind::FUNCTION,
            "block in this file",
            &format!("{name}($1)"),
        ));
    }
    let imported: Vec<(&super::stdlib::StdModule, &BlockDecl)> = env.std.imported(
        &uses
            .iter()
            .map(|(p, _)| (p.clone(), crate::span::Span::default()))
            .collect::<Vec<_>>(),
    );
    // Where a new `use` line goes: after the last one, else at the top.
    let use_at = uses.last().map_or(Position::new(0, 0), |(_, end)| {
        let p = env.index.position(*end);
        Position::new(p.line + 1, 0)
    });
    for m in &env.std.modules {
        for b in m.blocks() {
            if locals.contains(&b.name.node) {
                continue;
            }
            let is_imported = imported
                .iter()
                .any(|(im, ib)| im.name == m.name && ib.name.node == b.name.node);
            let doc = super::hover::block_markdown(b, m.text, Some(m.name));
            let mut it = CompletionItem {
                documentation: Some(markdown(doc)),
                ..snippet(
                    &b.name.node,
                    CompletionItemKind::FUNCTION,
                    &format!("std::{}::{}", m.name, b.name.node),
                    &block_snippet(b, piped),
                )
            };
            if !is_imported {
                it.detail = Some(format!("std::{}::{} (adds the `use`)", m.name, b.name.node));
                it.additional_text_edits = Some(vec![TextEdit::new(
                    Range::new(use_at, use_at),
                    format!("use std::{}::{}\n", m.name, b.name.node),
                )]);
            }
            out.push(it);
        }
    }
    out
}

fn named_arg_items(call: &CallCx, cx: &Cx, env: &Env) -> Vec<CompletionItem> {
    let params: Vec<(String, String)> = if let Some(s) = builtins::find(&call.func) {
        s.params
            .iter()
            .enumerate()
            .filter(|(i, p)| *i >= call.position || !p.required())
            .map(|(_, p)| (p.name.to_string(), p.describe()))
            .collect()
    } else if let Some(b) = find_block(cx, env, &call.func) {
        b.params
            .iter()
            .map(|p| {
                let note = if p.default.is_some() {
                    "optional".to_string()
                } else {
                    String::new()
                };
                (p.name.node.clone(), note)
            })
            .collect()
    } else {
        vec![]
    };
    params
        .into_iter()
        .filter(|(n, _)| !call.named.contains(n))
        .map(|(n, note)| CompletionItem {
            // Sorted before names and stages.
            sort_text: Some(format!("0{n}")),
            ..snippet(
                &format!("{n}:"),
                CompletionItemKind::PROPERTY,
                &format!(
                    "argument of {}{}",
                    call.func,
                    if note.is_empty() {
                        String::new()
                    } else {
                        format!(": {note}")
                    }
                ),
                &format!("{n}: $0"),
            )
        })
        .collect()
}

/// A block declared in the document (parsed from its text) or in the stdlib.
pub fn find_block<'s>(cx: &Cx, env: &Env<'s>, name: &str) -> Option<BlockDecl> {
    if let Ok(file) = crate::syntax::parse(cx.src, crate::span::SourceId(0)) {
        for i in file.items {
            if let crate::ast::Item::Block(b) = i {
                if b.name.node == name {
                    return Some(b);
                }
            }
        }
    }
    env.std.modules.iter().find_map(|m| m.block(name)).cloned()
}

fn load_paths(cx: &Cx, string: &Token, env: &Env) -> Vec<CompletionItem> {
    let typed = &cx.src[string.start + 1..cx.offset];
    let (dir, file) = typed.rsplit_once('/').unwrap_or(("", typed));
    let file_start = cx.offset - file.len();
    let range = Range::new(
        env.index.position(file_start),
        env.index.position(cx.offset),
    );
    (env.list_dir)(dir)
        .into_iter()
        .filter(|(name, is_dir)| *is_dir || name.ends_with(".npy"))
        .map(|(name, is_dir)| {
            let text = if is_dir {
                format!("{name}/")
            } else {
                name.clone()
            };
            CompletionItem {
                text_edit: Some(CompletionTextEdit::Edit(TextEdit::new(range, text.clone()))),
                ..item(
                    &text,
                    if is_dir {
                        CompletionItemKind::FOLDER
                    } else {
                        CompletionItemKind::FILE
                    },
                    "",
                )
            }
        })
        .collect()
}

pub fn context<'a>(src: &'a str, offset: usize) -> Result<Cx<'a>, Option<Token>> {
    let all = tokens(src);
    // The token the cursor is in or just after.
    let current = all
        .iter()
        .find(|t| t.start < offset && offset <= t.end)
        .copied();
    let word_start = match current {
        Some(t) if t.kind == Kind::Comment => return Err(None),
        Some(t) if t.kind == Kind::Str => {
            let closed = t.end - t.start >= 2 && src[..t.end].ends_with('"');
            if !(closed && offset == t.end) {
                return Err(Some(t));
            }
            offset
        }
        Some(t) if t.kind == Kind::Ident || t.kind == Kind::Number => t.start,
        _ => offset,
    };
    let before: Vec<Token> = all
        .into_iter()
        .filter(|t| t.end <= word_start && t.kind != Kind::Comment)
        .collect();
    let line_start = src[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = before
        .iter()
        .filter(|t| t.start >= line_start)
        .copied()
        .collect();
    Ok(Cx {
        src,
        offset,
        before,
        line,
    })
}

pub fn complete(src: &str, offset: usize, env: &Env) -> Vec<CompletionItem> {
    let offset = offset.min(src.len());
    let cx = match context(src, offset) {
        Ok(cx) => cx,
        Err(Some(string)) => {
            // Inside a string: a path, when it is `load("...")`.
            let before: Vec<Token> = tokens(src)
                .into_iter()
                .filter(|t| t.end <= string.start && t.kind != Kind::Comment)
                .collect();
            let n = before.len();
            let is_load =
                n >= 2 && before[n - 1].text(src) == "(" && before[n - 2].text(src) == "load";
            if !is_load {
                return vec![];
            }
            let cx = Cx {
                src,
                offset,
                before: vec![],
                line: vec![],
            };
            return load_paths(&cx, &string, env);
        }
        Err(None) => return vec![],
    };
    let line: Vec<&str> = cx.line.iter().map(|t| cx.text(t)).collect();
    let last = line.last().copied();

    if line.first() == Some(&"use") {
        return use_items(&line[1..], env.std);
    }
    if last == Some("as") {
        return types();
    }
    if line.len() >= 2 && line[line.len() - 2] == "as" && is_int_type(line[line.len() - 1]) {
        return overflow_modes();
    }
    if let Some(commas) = inside_fixed(&cx) {
        return if commas >= 2 { fixed_modes() } else { vec![] };
    }
    if let Some(first) = line.first() {
        let declaring = DECL_KEYWORDS.contains(first) && !line.contains(&"=");
        if declaring && last == Some(":") {
            return types();
        }
        if declaring && last == Some("]") {
            return vec![keyword("pad", "storage halo: `pad 1` stores [C][H+2][W+2]")];
        }
        if *first == "param" && last == Some("=") {
            return vec![
                snippet(
                    "random",
                    CompletionItemKind::FUNCTION,
                    "random(seed: N): reproducible, the type's full range",
                    "random(seed: ${1:1})",
                ),
                snippet(
                    "load",
                    CompletionItemKind::FUNCTION,
                    "load(\"w.npy\"): a .npy file relative to this one",
                    "load(\"$1\")",
                ),
            ];
        }
        if *first == "output" {
            return names_in_scope(&cx)
                .into_iter()
                .map(|(n, what)| item(&n, CompletionItemKind::VARIABLE, what))
                .collect();
        }
    }
    if let Some(call) = call_context(&cx) {
        match call.func.as_str() {
            "random" => {
                return vec![snippet(
                    "seed:",
                    CompletionItemKind::PROPERTY,
                    "",
                    "seed: $0",
                )]
            }
            "load" => return vec![],
            _ => {}
        }
        let builtin = builtins::find(&call.func);
        if let Some(arg) = &call.value_of {
            return match builtin.and_then(|b| b.param(arg)) {
                Some(p) if !p.words.is_empty() => words(p.words),
                _ => expression_items(&cx, env, false),
            };
        }
        let mut out = named_arg_items(&call, &cx, env);
        if let Some(p) = builtin.and_then(|b| b.params.get(call.position)) {
            out.extend(words(p.words));
        }
        out.extend(expression_items(&cx, env, false));
        return out;
    }
    if line.is_empty() {
        let (kind, _) = enclosing_item(&cx);
        let mut out = statement_keywords(kind);
        if kind == ItemKind::Top {
            return out;
        }
        if kind == ItemKind::Block {
            out.extend(expression_items(&cx, env, false));
        }
        return out;
    }
    let piped = last == Some("|>");
    expression_items(&cx, env, piped)
}

fn is_int_type(word: &str) -> bool {
    let mut chars = word.chars();
    matches!(chars.next(), Some('u' | 'i'))
        && chars.clone().next().is_some()
        && chars.all(|c| c.is_ascii_digit())
}

/// Inside `fixed<...`: the number of commas written so far.
fn inside_fixed(cx: &Cx) -> Option<usize> {
    let mut commas = 0;
    for i in (0..cx.before.len()).rev() {
        match cx.text(&cx.before[i]) {
            "<" => {
                let kw = i.checked_sub(1).map(|j| cx.text(&cx.before[j]));
                return matches!(kw, Some("fixed" | "ufixed")).then_some(commas);
            }
            "," => commas += 1,
            ">" | "(" | ")" | "=" | "{" | "}" => return None,
            _ => {}
        }
    }
    None
}

fn use_items(after: &[&str], std: &StdLib) -> Vec<CompletionItem> {
    match after {
        [] => vec![item(
            "std",
            CompletionItemKind::MODULE,
            "the standard library",
        )],
        ["std", "::"] => std
            .modules
            .iter()
            .map(|m| {
                let blocks: Vec<String> = m.blocks().map(|b| b.name.node.clone()).collect();
                item(m.name, CompletionItemKind::MODULE, &blocks.join(", "))
            })
            .collect(),
        ["std", "::", module, "::"] => std
            .module(module)
            .map(|m| {
                m.blocks()
                    .map(|b| CompletionItem {
                        documentation: Some(markdown(super::hover::block_markdown(
                            b,
                            m.text,
                            Some(m.name),
                        ))),
                        ..item(&b.name.node, CompletionItemKind::FUNCTION, "block")
                    })
                    .collect()
            })
            .unwrap_or_default(),
        _ => vec![],
    }
}
