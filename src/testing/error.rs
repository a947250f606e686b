//! Why a test cannot run: facts with spans; the words are in `diag::messages`.

use crate::data::Dtype;
use crate::span::Span;
use crate::types::ScalarType;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TestError {
    /// `run NAME`: no pipeline of that name in the file.
    UnknownPipeline {
        span: Span,
        name: String,
        available: Vec<String>,
    },
    /// `with x = ...`: the pipeline has no input `x`.
    UnknownInput {
        span: Span,
        name: String,
        pipeline: String,
        available: Vec<String>,
    },
    /// An input of the pipeline that the `run` line does not give.
    MissingInput {
        span: Span,
        name: String,
        pipeline: String,
    },
    /// The same input given twice in one `run` line.
    DuplicateInput {
        span: Span,
        first: Span,
        name: String,
    },
    /// An expectation names neither an output nor a `let` of the pipeline.
    UnknownValue {
        span: Span,
        name: String,
        pipeline: String,
        suggestion: Option<String>,
        available: Vec<String>,
    },
    /// `expect no sat in NAME`: NAME is not a `let` of the pipeline.
    UnknownStage {
        span: Span,
        name: String,
        pipeline: String,
    },
    /// A `load("...")` file that cannot be read (`reason` from the caller).
    DataFile {
        span: Span,
        path: String,
        reason: String,
    },
    /// A file that is not a valid `.npy`.
    BadNpy {
        span: Span,
        path: String,
        reason: String,
    },
    /// A data file whose shape is not the value's.
    Shape {
        span: Span,
        path: String,
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    /// A data file whose dtype cannot hold the value's type (a float file for
    /// an integer value, an integer file for a fixed-point value).
    Dtype {
        span: Span,
        path: String,
        name: String,
        ty: ScalarType,
        found: Dtype,
        expected: Dtype,
    },
    /// A data file holding a value the type cannot represent.
    Value {
        span: Span,
        path: String,
        name: String,
        ty: ScalarType,
        reason: String,
    },
    /// Two tests of one file with the same name (their snapshots would collide).
    DuplicateTest {
        span: Span,
        first: Span,
        name: String,
    },
    /// The pipeline a test runs does not check; its own diagnostics say why.
    PipelineFails { span: Span, name: String },
}

impl TestError {
    pub fn span(&self) -> Span {
        match self {
            TestError::UnknownPipeline { span, .. }
            | TestError::UnknownInput { span, .. }
            | TestError::MissingInput { span, .. }
            | TestError::DuplicateInput { span, .. }
            | TestError::UnknownValue { span, .. }
            | TestError::UnknownStage { span, .. }
            | TestError::DataFile { span, .. }
            | TestError::BadNpy { span, .. }
            | TestError::Shape { span, .. }
            | TestError::Dtype { span, .. }
            | TestError::Value { span, .. }
            | TestError::DuplicateTest { span, .. }
            | TestError::PipelineFails { span, .. } => *span,
        }
    }
}
