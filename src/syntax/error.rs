//! Parse errors: facts with spans; the text is written in `diag::messages`.

use crate::span::Span;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// pest could not continue; `expected` lists what would have fitted here.
    Unexpected {
        span: Span,
        expected: Vec<&'static str>,
        found: Option<String>,
    },
    /// `let y = x;`: Convoy statements end at the line, not at `;`.
    StraySemicolon { span: Span },
    /// `param w: i8[4] load("w.npy")`: the `=` between declaration and value.
    MissingEquals { span: Span, what: &'static str },
    /// `u 8`: a type name written with a space.
    SpacedIntType { span: Span, fixed: String },
    /// `fixed<8, 4, round>`: a mode name ap_fixed does not have.
    UnknownMode { span: Span, name: String },
    /// `fixed<8, 4, sat, rnd>` or two quantization modes.
    MisplacedMode { span: Span, name: String },
    /// `u0`, `i65`, `fixed<0, 1>`: widths outside 1..=MAX_TYPE_BITS.
    BadWidth { span: Span, width: String },
    /// A number too large to represent, `pad 99999999999999999999`.
    NumberTooLarge { span: Span },
    /// `as fixed<8, 4> sat`: a fixed target names its overflow mode inside the type.
    ModeOnFixedCast { span: Span },
    /// A line inside a `test { }` that is none of its statements.
    BadTestLine { span: Span },
    /// A `test` without its `run PIPELINE ...` line.
    TestWithoutRun { span: Span, name: String },
    /// A second `run` line in one test.
    SecondRun { span: Span, first: Span },
}

impl ParseError {
    pub fn span(&self) -> Span {
        match self {
            ParseError::Unexpected { span, .. }
            | ParseError::StraySemicolon { span }
            | ParseError::MissingEquals { span, .. }
            | ParseError::SpacedIntType { span, .. }
            | ParseError::UnknownMode { span, .. }
            | ParseError::MisplacedMode { span, .. }
            | ParseError::BadWidth { span, .. }
            | ParseError::NumberTooLarge { span }
            | ParseError::ModeOnFixedCast { span }
            | ParseError::BadTestLine { span }
            | ParseError::TestWithoutRun { span, .. }
            | ParseError::SecondRun { span, .. } => *span,
        }
    }
}
