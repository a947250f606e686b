//! The standard library as the editor sees it. Its modules are built into the
//! binary, so there is no file to jump to: `convoy lsp` writes a read-only
//! copy of each module into a cache folder named after the module texts'
//! hash (so a new stdlib never reuses a stale copy), and definitions point
//! there. Every editor opens a `file:` URI; no client extension is needed.

use super::position::LineIndex;
use super::symbols::{self, DefKind, Symbols};
use crate::ast;
use crate::span::{SourceId, Span};
use lsp_types::{Location, Uri};
use std::path::{Path, PathBuf};

/// The SourceId stdlib spans get when a module is parsed for the editor
/// (checker spans use the SourceMap's own ids; only offsets are compared).
const STD_SOURCE: SourceId = SourceId(u32::MAX);

pub struct StdModule {
    pub name: &'static str,
    pub text: &'static str,
    pub index: LineIndex,
    pub file: Option<ast::File>,
    pub symbols: Symbols,
    /// Where the cache copy lives, when there is one.
    pub uri: Option<Uri>,
}

pub struct StdLib {
    pub root: Option<PathBuf>,
    pub modules: Vec<StdModule>,
}

/// The folder the copies go in, below a cache `base` (`~/.cache`): one
/// folder per stdlib text, so that copies of another version never mix.
pub fn folder(base: &Path) -> PathBuf {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for name in crate::stdlib::modules() {
        let text = crate::stdlib::module_source(name).unwrap_or("");
        for b in name.bytes().chain(text.bytes()) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    base.join("convoy")
        .join(format!("std-{}-{hash:016x}", env!("CARGO_PKG_VERSION")))
}

/// The files to write into [`folder`]: `(file name, text)`.
pub fn files() -> Vec<(String, &'static str)> {
    crate::stdlib::modules()
        .filter_map(|m| Some((format!("{m}.cnn"), crate::stdlib::module_source(m)?)))
        .collect()
}

impl StdLib {
    /// `root`: the folder holding the copies (see [`folder`]), if written.
    pub fn new(root: Option<PathBuf>) -> Self {
        let modules = crate::stdlib::modules()
            .filter_map(|name| {
                let text = crate::stdlib::module_source(name)?;
                let file = crate::syntax::parse(text, STD_SOURCE).ok();
                let symbols = file.as_ref().map(symbols::index).unwrap_or_default();
                let uri = root
                    .as_ref()
                    .and_then(|r| super::uri::from_path(&r.join(format!("{name}.cnn"))));
                Some(StdModule {
                    name,
                    text,
                    index: LineIndex::new(text),
                    file,
                    symbols,
                    uri,
                })
            })
            .collect();
        StdLib { root, modules }
    }

    pub fn module(&self, name: &str) -> Option<&StdModule> {
        self.modules.iter().find(|m| m.name == name)
    }

    /// The module a checker SourceMap name (`<std>/blocks.cnn`) refers to.
    pub fn by_source_name(&self, source_name: &str) -> Option<&StdModule> {
        let name = source_name.strip_prefix("<std>/")?.strip_suffix(".cnn")?;
        self.module(name)
    }

    /// Whether a document is one of the cache copies.
    pub fn is_copy(&self, path: Option<&Path>) -> bool {
        match (path, &self.root) {
            (Some(p), Some(root)) => p.starts_with(root),
            _ => false,
        }
    }

    /// The blocks that `use` declarations bring in: `(module, block)`.
    pub fn imported<'a>(
        &'a self,
        uses: &[(Vec<String>, Span)],
    ) -> Vec<(&'a StdModule, &'a ast::BlockDecl)> {
        let mut out = vec![];
        for (path, _) in uses {
            let [std, module, rest @ ..] = path.as_slice() else {
                continue;
            };
            let Some(m) = self.module(module).filter(|_| std == "std") else {
                continue;
            };
            for b in m.blocks() {
                if rest.is_empty() || rest.first() == Some(&b.name.node) {
                    out.push((m, b));
                }
            }
        }
        out
    }
}

impl StdModule {
    pub fn blocks(&self) -> impl Iterator<Item = &ast::BlockDecl> {
        self.file.iter().flat_map(|f| {
            f.items.iter().filter_map(|i| match i {
                ast::Item::Block(b) => Some(b),
                _ => None,
            })
        })
    }

    pub fn block(&self, name: &str) -> Option<&ast::BlockDecl> {
        self.blocks().find(|b| b.name.node == name)
    }

    /// The location of a span of this module's text, in its cache copy.
    pub fn location(&self, span: Span) -> Option<Location> {
        Some(Location::new(
            self.uri.clone()?,
            self.index.range(span.range()),
        ))
    }

    /// The block parameter `param` of `block`, for named arguments.
    pub fn block_param(&self, block: &str, param: &str) -> Option<Span> {
        let b = self
            .symbols
            .defs
            .iter()
            .find(|d| d.kind == DefKind::Block && d.name == block)?;
        self.symbols
            .defs
            .iter()
            .find(|d| d.item == b.item && d.kind == DefKind::BlockParam && d.name == param)
            .map(|d| d.span)
    }
}
