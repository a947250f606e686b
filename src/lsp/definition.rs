//! Go to definition: a name to its declaration, a call to its block (in the
//! document or in the stdlib copy), a named argument of a block call to the
//! block's parameter, a `use` path to its module or block, and a `load`
//! path to the file.

use super::diagnostics::Locator;
use super::symbols::{RefKind, Target};
use super::Files;
use lsp_types::{Location, Range};
use std::path::Path;

pub fn definition(
    at: &Locator,
    offset: usize,
    dir: Option<&Path>,
    files: &dyn Files,
) -> Option<Location> {
    let a = at.analysis;
    let syms = &a.symbols;
    let doc_span = |s: crate::span::Span| at.location(s);
    if let Some((path, _)) = syms
        .loads
        .iter()
        .find(|(_, s)| s.start as usize <= offset && offset <= s.end as usize)
    {
        let full = dir?.join(path);
        if !files.exists(&full) {
            return None;
        }
        return Some(Location::new(
            super::uri::from_path(&full)?,
            Range::default(),
        ));
    }
    match syms.at(offset)? {
        Target::Def(d) => doc_span(d.span),
        Target::Ref(r) => {
            if let Some(i) = r.def {
                return doc_span(syms.defs[i].span);
            }
            let imported = at.std.imported(&syms.uses);
            match &r.kind {
                RefKind::Name | RefKind::Pipeline => None,
                RefKind::Call => imported
                    .iter()
                    .find(|(_, b)| b.name.node == r.name)
                    .and_then(|(m, b)| m.location(b.name.span)),
                RefKind::NamedArg { func } => imported
                    .iter()
                    .find(|(_, b)| b.name.node == *func)
                    .and_then(|(m, _)| m.location(m.block_param(func, &r.name)?)),
                RefKind::UsePath { path, index } => {
                    let m = at.std.module(path.get(1)?)?;
                    match index {
                        0 => None,
                        1 => Some(Location::new(m.uri.clone()?, Range::default())),
                        _ => m.location(m.block(&r.name)?.name.span),
                    }
                }
            }
        }
    }
}
