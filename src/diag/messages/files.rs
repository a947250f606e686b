//! `convoy run`'s input and output files (`run::InputError`) and the CLI's
//! own file access: E2xx.

use super::{dims, error, list};
use crate::diag::codes::*;
use crate::diag::{Diagnostic, Report};

impl Report for crate::run::InputError {
    fn diagnostic(&self) -> Diagnostic {
        use crate::run::InputError as E;
        match self {
            E::Missing { name } => error(E200, format!("no data for input `{name}`"))
                .help(format!("pass it with --input {name}=PATH.npy")),
            E::Unknown { name, available } => {
                error(E201, format!("the pipeline has no input `{name}`"))
                    .note(format!("its inputs are {}", list(available)))
            }
            E::Duplicate { name } => error(E202, format!("input `{name}` is given twice")),
            E::BadNpy { path, reason } => {
                error(E203, format!("{path}: not a valid .npy file: {reason}"))
            }
            E::Shape {
                path,
                name,
                declared,
                found,
            } => error(
                E204,
                format!(
                    "{path}: shape {} does not match input `{name}`",
                    dims(found)
                ),
            )
            .note(format!(
                "`{name}` is declared {}; a leading batch axis [N, ...] is allowed",
                dims(declared)
            )),
            E::Value { path, name, reason } => error(
                E205,
                format!("{path}: a value does not fit input `{name}`: {reason}"),
            ),
            E::BatchMismatch { first, other } => error(
                E206,
                format!(
                    "batch sizes differ: `{}` has {} images, `{}` has {}",
                    first.0, first.1, other.0, other.1
                ),
            ),
            E::Output { name, reason } => {
                error(E207, format!("cannot write output `{name}`: {reason}"))
            }
        }
    }
}

/// A failure of the CLI around the core: a file that cannot be read or written.
pub fn file_error(path: &str, reason: &str) -> Diagnostic {
    error(E210, format!("{path}: {reason}"))
}

impl crate::run::StreamError {
    /// Every problem of a streamed run, in the order found.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        use crate::run::StreamError as E;
        match self {
            E::Input(errors) => errors.iter().map(Report::diagnostic).collect(),
            E::Run(e) => vec![e.diagnostic()],
            E::Io { path, reason } => vec![file_error(path, reason)],
        }
    }
}
