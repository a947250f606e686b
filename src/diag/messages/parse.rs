//! The parser's errors (`syntax::ParseError`): E0xx.

use super::{error, list};
use crate::diag::codes::*;
use crate::diag::{Diagnostic, Report};
use crate::syntax::ParseError;

impl Report for ParseError {
    fn diagnostic(&self) -> Diagnostic {
        match self {
            ParseError::Unexpected {
                span,
                expected,
                found,
            } => {
                let found = match found {
                    Some(f) => format!("`{f}`"),
                    None => "end of file".into(),
                };
                let d = error(E001, format!("unexpected {found}")).label(
                    *span,
                    if expected.is_empty() {
                        "not expected here".to_string()
                    } else {
                        format!("expected {}", expected.join(", "))
                    },
                );
                if found == "`;`" {
                    d.help("statements end at the line; remove the `;`")
                } else {
                    d
                }
            }
            ParseError::StraySemicolon { span } => error(E002, "stray `;`")
                .label(*span, "Convoy statements end at the line")
                .help("remove the `;`"),
            ParseError::MissingEquals { span, what } => {
                error(E003, format!("missing `=` in this `{what}`"))
                    .label(*span, "expected `=` before this")
                    .help(match *what {
                        "param" => "write `param w: i8[8, 8, 3, 3] = load(\"w.npy\")`",
                        "const" => "write `const k: fixed<32, 1> = 0.0123`",
                        _ => "write `let y = expression`",
                    })
            }
            ParseError::SpacedIntType { span, fixed } => {
                error(E004, "a type name is written without spaces")
                    .label(*span, "this type")
                    .help(format!("write `{fixed}`"))
            }
            ParseError::UnknownMode { span, name } => {
                let all: Vec<&str> = crate::types::Quant::ALL
                    .iter()
                    .map(|(n, _)| *n)
                    .chain(crate::types::Overflow::ALL.iter().map(|(n, _)| *n))
                    .collect();
                let d = error(E005, format!("unknown fixed-point mode `{name}`"))
                    .label(*span, "not an ap_fixed mode");
                let d = match crate::check::suggest(name, all.iter().copied()) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d,
                };
                d.note(format!(
                    "quantization: {}; overflow: {}",
                    list(&crate::types::Quant::ALL.map(|(n, _)| n)),
                    list(&crate::types::Overflow::ALL.map(|(n, _)| n))
                ))
            }
            ParseError::MisplacedMode { span, name } => error(
                E006,
                format!("mode `{name}` is out of place"),
            )
            .label(*span, "a second mode of the same kind, or out of order")
            .help("write the quantization mode, then the overflow mode: `fixed<16, 6, rnd, sat>`"),
            ParseError::BadWidth { span, width } => {
                error(E007, format!("width {width} is not supported")).label(
                    *span,
                    format!("widths are 1 to {} bits", crate::types::MAX_TYPE_BITS),
                )
            }
            ParseError::NumberTooLarge { span } => {
                error(E008, "number too large").label(*span, "this number")
            }
            ParseError::ModeOnFixedCast { span } => error(
                E009,
                "a fixed-point target names its overflow mode inside the type",
            )
            .label(*span, "not allowed after a fixed type")
            .help("write `x as fixed<16, 6, trn, sat>`"),
            ParseError::BadTestLine { span } => error(E010, "not a statement of a test")
                .label(*span, "not understood")
                .note(
                    "a test holds `run PIPELINE with x = load(\"x.npy\")` (or `random(seed: N)`), \
                     `expect NAME == load(\"golden.npy\")`, `expect NAME fits TYPE`, \
                     `expect no sat`, `expect no wrap` and `snapshot NAME, ...`",
                ),
            ParseError::TestWithoutRun { span, name } => {
                error(E011, format!("test `{name}` does not run a pipeline"))
                    .label(*span, "this test")
                    .help("start it with `run PIPELINE with INPUT = load(\"x.npy\")`")
            }
            ParseError::SecondRun { span, first } => error(E012, "a test runs one pipeline")
                .label(*span, "a second `run`")
                .label(*first, "the first `run`")
                .help("write a second test for another run"),
        }
    }
}
