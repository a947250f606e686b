//! The checker's warnings and notes (`check::CheckWarning`): Wxxx, Nxxx.

use super::{note, range, warning};
use crate::check::CheckWarning;
use crate::diag::codes::*;
use crate::diag::{Diagnostic, Report};
use crate::types::narrowest;

impl Report for CheckWarning {
    fn diagnostic(&self) -> Diagnostic {
        use CheckWarning as W;
        match self {
            W::Unused { span, name } => {
                warning(W001, format!("`{name}` is never used")).label(*span, "declared here")
            }
            W::SatNeverTriggers {
                span,
                range: r,
                target,
            } => warning(W002, format!("this saturation to {target} never triggers"))
                .label(*span, format!("the value ranges over {}", range(r)))
                .help({
                    let fit = narrowest(r.range.lo, r.range.hi, r.frac);
                    format!("the checker proves it fits ({fit}): a plain `as {target}` says so")
                }),
            W::WrapCanTrigger {
                span,
                range: r,
                target,
            } => warning(W003, format!("{target} wraps around here"))
                .label(*span, format!("the value ranges over {}", range(r)))
                .help("name `sat` in the type to clamp instead"),
            W::RowsNeverRead { span, axis, count } => warning(
                W004,
                format!("the last {count} pixel(s) of the padded {axis} are never read"),
            )
            .label(*span, "the stride does not divide the padded size")
            .note("as ONNX and PyTorch, the output size is rounded down"),
            W::ConstInexact {
                span,
                written,
                stored,
                error,
            } => note(N001, format!("{written} is stored as {stored}"))
                .label(*span, format!("off by {error}")),
        }
    }
}
