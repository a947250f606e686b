//! The language server's logic, free of IO: a [`Server`] holds the open
//! documents and turns each incoming LSP message into the messages to send
//! back (a response, published diagnostics). `convoy lsp`
//! (`src/cli/lsp_cmd.rs`) only moves messages between stdio and
//! [`Server::handle`], and gives it a [`Files`] for `load("...")` data and
//! the folder of the stdlib copies (see [`stdlib`]).
//!
//! Every document is parsed and checked again on each change (full text
//! sync); checking a pipeline takes milliseconds. Positions are UTF-16, as
//! LSP requires by default.

mod analysis;
mod completion;
mod definition;
mod diagnostics;
mod hover;
mod items;
mod lexer;
mod position;
mod signature;
mod stages;
pub mod stdlib;
mod symbols;
pub mod uri;

pub use position::LineIndex;

use analysis::Analysis;
use diagnostics::Locator;
use lsp_server::{ErrorCode, Message, Notification, Request, Response};
use lsp_types::{
    CompletionOptions, DocumentSymbol, DocumentSymbolResponse, Hover, HoverContents,
    HoverProviderCapability, MarkupContent, MarkupKind, OneOf, Position, PublishDiagnosticsParams,
    ServerCapabilities, ServerInfo, SignatureHelpOptions, SymbolKind, TextDocumentSyncCapability,
    TextDocumentSyncKind, Uri,
};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use stdlib::StdLib;
use symbols::DefKind;

/// The files a document may name: `load("...")` data, paths to complete.
pub trait Files {
    fn read(&self, path: &Path) -> Result<Vec<u8>, String>;
    /// Entries of a folder: `(name, is_dir)`.
    fn list(&self, dir: &Path) -> Vec<(String, bool)>;
    fn exists(&self, path: &Path) -> bool;
}

/// No files at all: every `load` fails, as for an unsaved buffer.
pub struct NoFiles;

impl Files for NoFiles {
    fn read(&self, path: &Path) -> Result<Vec<u8>, String> {
        Err(format!("{}: no such file", path.display()))
    }
    fn list(&self, _: &Path) -> Vec<(String, bool)> {
        vec![]
    }
    fn exists(&self, _: &Path) -> bool {
        false
    }
}

/// `load("...")` relative to the document's folder.
struct DocData<'a> {
    files: &'a dyn Files,
    dir: Option<&'a Path>,
}

impl crate::DataSource for DocData<'_> {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        match self.dir {
            Some(dir) => self.files.read(&dir.join(path)),
            None => Err(format!(
                "{path}: the document is not saved, and `load` paths are relative to its file"
            )),
        }
    }
}

struct Document {
    uri: Uri,
    text: String,
    path: Option<PathBuf>,
    index: LineIndex,
    analysis: Analysis,
    /// The latest analysis that checked, for completion details while typing.
    last_good: Option<Analysis>,
    /// A copy of a stdlib module: no diagnostics (it has no pipeline).
    stdlib_copy: bool,
}

impl Document {
    fn dir(&self) -> Option<&Path> {
        self.path.as_deref().and_then(Path::parent)
    }
}

pub struct Server {
    docs: HashMap<String, Document>,
    files: Box<dyn Files>,
    std: StdLib,
}

/// Any LSP type as JSON (serialising these types cannot fail).
macro_rules! json {
    ($value:expr) => {
        serde_json::to_value($value).unwrap_or(Value::Null)
    };
}

impl Server {
    /// `stdlib_root`: the folder where `convoy lsp` wrote the stdlib copies
    /// (see [`stdlib::folder`]); without it, stdlib blocks have no definition.
    pub fn new(files: Box<dyn Files>, stdlib_root: Option<PathBuf>) -> Self {
        Server {
            docs: HashMap::new(),
            files,
            std: StdLib::new(stdlib_root),
        }
    }

    pub fn capabilities(&self) -> ServerCapabilities {
        ServerCapabilities {
            text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
            hover_provider: Some(HoverProviderCapability::Simple(true)),
            definition_provider: Some(OneOf::Left(true)),
            completion_provider: Some(CompletionOptions {
                trigger_characters: Some(
                    // `:` for `use std::` and types, `(` `,` for arguments, `"` `/` for `load` paths.
                    [":", "(", ",", "\"", "/"]
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                ),
                ..Default::default()
            }),
            signature_help_provider: Some(SignatureHelpOptions {
                trigger_characters: Some(vec!["(".into(), ",".into()]),
                retrigger_characters: None,
                work_done_progress_options: Default::default(),
            }),
            document_symbol_provider: Some(OneOf::Left(true)),
            document_formatting_provider: Some(OneOf::Left(true)),
            ..Default::default()
        }
    }

    /// The `initialize` result (capabilities and server name).
    pub fn initialize_result(&self) -> Value {
        json!(lsp_types::InitializeResult {
            capabilities: self.capabilities(),
            server_info: Some(ServerInfo {
                name: "convoy".into(),
                version: Some(env!("CARGO_PKG_VERSION").into()),
            }),
        })
    }

    /// One incoming message -> the messages to send back.
    pub fn handle(&mut self, message: Message) -> Vec<Message> {
        match message {
            Message::Request(r) => vec![Message::Response(self.request(r))],
            Message::Notification(n) => self.notification(n),
            Message::Response(_) => vec![],
        }
    }

    fn request(&mut self, r: Request) -> Response {
        let id = r.id.clone();
        let result = match r.method.as_str() {
            "textDocument/hover" => self.hover(r.params),
            "textDocument/definition" => self.definition(r.params),
            "textDocument/completion" => self.completion(r.params),
            "textDocument/signatureHelp" => self.signature_help(r.params),
            "textDocument/documentSymbol" => self.document_symbols(r.params),
            "textDocument/formatting" => self.format(r.params),
            "shutdown" => Ok(Value::Null),
            other => Err((
                ErrorCode::MethodNotFound,
                format!("convoy lsp does not handle {other}"),
            )),
        };
        match result {
            Ok(v) => Response::new_ok(id, v),
            Err((code, message)) => Response::new_err(id, code as i32, message),
        }
    }

    fn notification(&mut self, n: Notification) -> Vec<Message> {
        let p = &n.params;
        let uri = p
            .pointer("/textDocument/uri")
            .and_then(|u| serde_json::from_value::<Uri>(u.clone()).ok());
        let Some(uri) = uri else {
            return vec![];
        };
        match n.method.as_str() {
            "textDocument/didOpen" => {
                let text = p.pointer("/textDocument/text").and_then(Value::as_str);
                self.set_text(&uri, text.unwrap_or("").to_string());
                self.publish(&uri)
            }
            "textDocument/didChange" => {
                // Full sync: the last change holds the whole text.
                let text = p
                    .get("contentChanges")
                    .and_then(Value::as_array)
                    .and_then(|c| c.last())
                    .and_then(|c| c.get("text"))
                    .and_then(Value::as_str);
                match text {
                    Some(t) => {
                        self.set_text(&uri, t.to_string());
                        self.publish(&uri)
                    }
                    None => vec![],
                }
            }
            "textDocument/didSave" => {
                // Data files next to it may have changed: check again.
                let text = self.docs.get(uri.as_str()).map(|d| d.text.clone());
                match text {
                    Some(t) => {
                        self.set_text(&uri, t);
                        self.publish(&uri)
                    }
                    None => vec![],
                }
            }
            "textDocument/didClose" => {
                self.docs.remove(uri.as_str());
                vec![publish(uri, vec![])]
            }
            _ => vec![],
        }
    }

    fn set_text(&mut self, uri: &Uri, text: String) {
        let path = uri::to_path(uri);
        let stdlib_copy = self.std.is_copy(path.as_deref());
        let name = path
            .as_ref()
            .map_or_else(|| uri.as_str().to_string(), |p| p.display().to_string());
        let data = DocData {
            files: self.files.as_ref(),
            dir: path.as_deref().and_then(Path::parent),
        };
        let analysis = analysis::analyze(&name, &text, &data);
        let last_good = match self.docs.remove(uri.as_str()) {
            _ if !analysis.programs.is_empty() => None,
            Some(old) if !old.analysis.programs.is_empty() => Some(old.analysis),
            Some(old) => old.last_good,
            None => None,
        };
        self.docs.insert(
            uri.as_str().to_string(),
            Document {
                uri: uri.clone(),
                index: LineIndex::new(&text),
                text,
                path,
                analysis,
                last_good,
                stdlib_copy,
            },
        );
    }

    fn publish(&self, uri: &Uri) -> Vec<Message> {
        let Some(doc) = self.docs.get(uri.as_str()) else {
            return vec![];
        };
        let diagnostics = if doc.stdlib_copy {
            vec![]
        } else {
            self.locator(doc).all()
        };
        vec![publish(uri.clone(), diagnostics)]
    }

    fn locator<'a>(&'a self, doc: &'a Document) -> Locator<'a> {
        Locator {
            analysis: &doc.analysis,
            uri: &doc.uri,
            index: &doc.index,
            std: &self.std,
        }
    }

    /// The open document and byte offset a position request is about.
    fn at(&self, params: &Value) -> Result<(&Document, usize), (ErrorCode, String)> {
        let uri = params
            .pointer("/textDocument/uri")
            .and_then(Value::as_str)
            .ok_or((ErrorCode::InvalidParams, "no textDocument.uri".to_string()))?;
        let doc = self
            .docs
            .get(uri)
            .ok_or((ErrorCode::InvalidParams, format!("{uri} is not open")))?;
        let position: Position = params
            .get("position")
            .and_then(|p| serde_json::from_value(p.clone()).ok())
            .ok_or((ErrorCode::InvalidParams, "no position".to_string()))?;
        Ok((doc, doc.index.offset(position)))
    }

    fn doc(&self, params: &Value) -> Result<&Document, (ErrorCode, String)> {
        let uri = params
            .pointer("/textDocument/uri")
            .and_then(Value::as_str)
            .ok_or((ErrorCode::InvalidParams, "no textDocument.uri".to_string()))?;
        self.docs
            .get(uri)
            .ok_or((ErrorCode::InvalidParams, format!("{uri} is not open")))
    }

    fn hover(&self, params: Value) -> Result<Value, (ErrorCode, String)> {
        let (doc, offset) = self.at(&params)?;
        let Some(h) = hover::hover(&doc.analysis, &self.std, offset) else {
            return Ok(Value::Null);
        };
        Ok(json!(Hover {
            contents: HoverContents::Markup(MarkupContent {
                kind: MarkupKind::Markdown,
                value: h.markdown,
            }),
            range: Some(doc.index.range(h.span.range())),
        }))
    }

    fn definition(&self, params: Value) -> Result<Value, (ErrorCode, String)> {
        let (doc, offset) = self.at(&params)?;
        let found =
            definition::definition(&self.locator(doc), offset, doc.dir(), self.files.as_ref());
        Ok(found.map_or(Value::Null, |f| json!(f)))
    }

    fn completion(&self, params: Value) -> Result<Value, (ErrorCode, String)> {
        let (doc, offset) = self.at(&params)?;
        let checked = if doc.analysis.programs.is_empty() {
            doc.last_good.as_ref()
        } else {
            Some(&doc.analysis)
        };
        let details = |name: &str| {
            checked?.programs.iter().find_map(|p| {
                p.nodes
                    .iter()
                    .find(|n| n.name.as_deref() == Some(name))
                    .map(hover::shape_text)
            })
        };
        let list = |rel: &str| match doc.dir() {
            Some(dir) => self.files.list(&dir.join(rel)),
            None => vec![],
        };
        let env = completion::Env {
            std: &self.std,
            index: &doc.index,
            name_detail: &details,
            list_dir: &list,
        };
        let items = completion::complete(&doc.text, offset, &env);
        Ok(json!(lsp_types::CompletionResponse::Array(items)))
    }

    fn signature_help(&self, params: Value) -> Result<Value, (ErrorCode, String)> {
        let (doc, offset) = self.at(&params)?;
        let env = completion::Env {
            std: &self.std,
            index: &doc.index,
            name_detail: &|_| None,
            list_dir: &|_| vec![],
        };
        let help = signature::signature_help(&doc.text, offset, &env);
        Ok(help.map_or(Value::Null, |h| json!(h)))
    }

    fn document_symbols(&self, params: Value) -> Result<Value, (ErrorCode, String)> {
        let doc = self.doc(&params)?;
        let syms = &doc.analysis.symbols;
        let range = |s: crate::span::Span| doc.index.range(s.range());
        let mut out = vec![];
        for d in syms
            .defs
            .iter()
            .filter(|d| matches!(d.kind, DefKind::Pipeline | DefKind::Block))
        {
            let children: Vec<DocumentSymbol> = syms
                .defs
                .iter()
                .filter(|c| {
                    c.item == d.item && !matches!(c.kind, DefKind::Pipeline | DefKind::Block)
                })
                .map(|c| {
                    symbol(
                        &c.name,
                        c.kind.keyword(),
                        kind_of(c.kind),
                        range(c.decl),
                        range(c.span),
                        None,
                    )
                })
                .collect();
            out.push(symbol(
                &d.name,
                d.kind.keyword(),
                kind_of(d.kind),
                range(d.decl),
                range(d.span),
                Some(children),
            ));
        }
        Ok(json!(DocumentSymbolResponse::Nested(out)))
    }

    /// `convoy fmt` on the whole document; a file that does not parse is
    /// left as it is (its errors are already published).
    fn format(&self, params: Value) -> Result<Value, (ErrorCode, String)> {
        let doc = self.doc(&params)?;
        let mut sources = crate::diag::SourceMap::new();
        let id = sources.add(doc.uri.as_str(), doc.text.as_str());
        let Ok(text) = crate::format(&sources, id) else {
            return Ok(Value::Null);
        };
        if text == doc.text {
            return Ok(json!(Vec::<lsp_types::TextEdit>::new()));
        }
        let end = doc.index.position(doc.text.len());
        Ok(json!(vec![lsp_types::TextEdit::new(
            lsp_types::Range::new(Position::new(0, 0), end),
            text,
        )]))
    }
}

fn kind_of(k: DefKind) -> SymbolKind {
    match k {
        DefKind::Pipeline => SymbolKind::MODULE,
        DefKind::Block => SymbolKind::FUNCTION,
        DefKind::BlockParam => SymbolKind::TYPE_PARAMETER,
        DefKind::Input => SymbolKind::FIELD,
        DefKind::Param | DefKind::Const => SymbolKind::CONSTANT,
        DefKind::Let => SymbolKind::VARIABLE,
    }
}

#[allow(deprecated)] // `deprecated` is a required field of the struct.
fn symbol(
    name: &str,
    detail: &str,
    kind: SymbolKind,
    range: lsp_types::Range,
    selection: lsp_types::Range,
    children: Option<Vec<DocumentSymbol>>,
) -> DocumentSymbol {
    DocumentSymbol {
        name: name.to_string(),
        detail: Some(detail.to_string()),
        kind,
        tags: None,
        deprecated: None,
        range,
        selection_range: selection,
        children,
    }
}

fn publish(uri: Uri, diagnostics: Vec<lsp_types::Diagnostic>) -> Message {
    Message::Notification(Notification::new(
        "textDocument/publishDiagnostics".into(),
        PublishDiagnosticsParams {
            uri,
            diagnostics,
            version: None,
        },
    ))
}
