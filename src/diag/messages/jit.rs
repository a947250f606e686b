//! The JIT's errors, compiling (`jit::JitError`) and running
//! (`jit::ExecError`): E6xx. Run-time faults it shares with the interpreter
//! keep the interpreter's codes.

use super::{error, BUG};
use crate::diag::codes::*;
use crate::diag::{Diagnostic, Report};
use crate::jit::{ExecError, JitError};

impl Report for JitError {
    fn diagnostic(&self) -> Diagnostic {
        match self {
            JitError::Unsupported {
                span,
                label,
                owner,
                reason,
                ..
            } => error(
                E600,
                format!("the JIT cannot compile `{label}` in `{owner}`: {reason}"),
            )
            .label(*span, "the JIT has no exact code for this")
            .help("run it with --backend interp"),
            JitError::Codegen { stage, message } => error(
                E601,
                format!("code generation failed for `{stage}`: {message}"),
            )
            .note(BUG),
            JitError::Host { message } => error(E602, format!("unsupported host: {message}"))
                .help("run it with --backend interp"),
            JitError::Program { reason } => {
                error(E603, format!("inconsistent program: {reason}")).note(BUG)
            }
        }
    }
}

impl Report for ExecError {
    fn diagnostic(&self) -> Diagnostic {
        match self {
            ExecError::Run(e) => e.diagnostic(),
            ExecError::ForeignWorkspace => {
                error(E610, "the workspace belongs to another compiled pipeline").note(BUG)
            }
            ExecError::Panicked { stage } => {
                let at = match stage {
                    Some(name) => format!(" computing `{name}`"),
                    None => String::new(),
                };
                error(
                    E640,
                    format!("the JIT's code panicked{at}; no output was written"),
                )
                .note(BUG)
                .help("run it with --backend interp")
            }
        }
    }
}
