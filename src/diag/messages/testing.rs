//! `convoy test`'s errors (`testing::TestError`): E5xx.

use super::{dims, error, list};
use crate::diag::codes::*;
use crate::diag::{Diagnostic, Report};
use crate::types::ScalarType;

impl Report for crate::testing::TestError {
    fn diagnostic(&self) -> Diagnostic {
        use crate::testing::TestError as E;
        let kind = |ty: &ScalarType| if ty.fixed { "fixed-point" } else { "integer" };
        match self {
            E::UnknownPipeline {
                span,
                name,
                available,
            } => {
                let d = error(E500, format!("no pipeline `{name}` in this file"))
                    .label(*span, "the test runs this");
                let d = match crate::check::suggest(name, available.iter().map(String::as_str)) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d,
                };
                if available.is_empty() {
                    d.note("the file declares no pipeline")
                } else {
                    d.note(format!("its pipelines are {}", list(available)))
                }
            }
            E::UnknownInput {
                span,
                name,
                pipeline,
                available,
            } => error(E501, format!("pipeline `{pipeline}` has no input `{name}`"))
                .label(*span, "not an input")
                .note(format!("its inputs are {}", list(available))),
            E::MissingInput {
                span,
                name,
                pipeline,
            } => error(E502, format!("no data for input `{name}` of `{pipeline}`"))
                .label(*span, format!("`{name}` is missing here"))
                .help(format!(
                    "add `with {name} = load(\"{name}.npy\")` or `with {name} = random(seed: 1)`"
                )),
            E::DuplicateInput { span, first, name } => {
                error(E503, format!("input `{name}` is given twice"))
                    .label(*span, "again here")
                    .label(*first, "first here")
            }
            E::UnknownValue {
                span,
                name,
                pipeline,
                suggestion,
                available,
            } => {
                let d = error(
                    E504,
                    format!("pipeline `{pipeline}` has no output or `let` `{name}`"),
                )
                .label(*span, "not a value of the pipeline");
                let d = match suggestion {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d,
                };
                d.note(format!("its values are {}", list(available)))
            }
            E::UnknownStage {
                span,
                name,
                pipeline,
            } => error(E505, format!("pipeline `{pipeline}` has no `let` `{name}`"))
                .label(*span, "`in` names the `let` whose casts are checked"),
            E::DataFile { span, path, reason } => error(E506, format!("cannot read `{path}`"))
                .label(*span, reason.clone())
                .note("paths are relative to the .cnn file"),
            E::BadNpy { span, path, reason } => {
                error(E507, format!("`{path}` is not a valid .npy file"))
                    .label(*span, reason.clone())
            }
            E::Shape {
                span,
                path,
                name,
                expected,
                found,
            } => error(
                E508,
                format!(
                    "`{path}` has shape {}, but `{name}` is {}",
                    dims(found),
                    dims(expected)
                ),
            )
            .label(*span, format!("shape {}", dims(found)))
            .note("a test's data files hold exactly one image, without a batch axis"),
            E::Dtype {
                span,
                path,
                name,
                ty,
                found,
                expected,
            } => error(
                E509,
                format!(
                    "`{path}` holds {} values, but `{name}` is {} ({ty})",
                    found.name(),
                    kind(ty)
                ),
            )
            .label(*span, format!("dtype {}", found.name()))
            .help(format!(
                "write it as {} (what `convoy run` writes for {ty})",
                expected.name()
            )),
            E::Value {
                span,
                path,
                name,
                ty,
                reason,
            } => error(
                E510,
                format!("`{path}` holds a value that `{name}` ({ty}) cannot"),
            )
            .label(*span, reason.clone()),
            E::DuplicateTest { span, first, name } => {
                error(E511, format!("two tests are named `{name}`"))
                    .label(*span, "again here")
                    .label(*first, "first here")
                    .note("their snapshots would share files")
            }
            E::PipelineFails { span, name } => error(
                E512,
                format!("pipeline `{name}` does not check, so this test cannot run"),
            )
            .label(*span, "run here")
            .note("the pipeline's own errors are shown above"),
        }
    }
}
