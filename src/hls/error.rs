//! What can stop HLS emission. Facts and spans only; the words are in
//! `diag::messages`.

use crate::interp::RunError;
use crate::span::Span;

/// A parallelism knob of `--parallel STAGE=pe:N,simd:M`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Knob {
    /// Output channels computed in parallel (processing elements).
    Pe,
    /// Input channels of a convolution's reduction consumed in parallel.
    Simd,
}

impl Knob {
    pub fn name(self) -> &'static str {
        match self {
            Knob::Pe => "pe",
            Knob::Simd => "simd",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum HlsError {
    /// A value's type is wider than the emitter supports.
    TooWide {
        span: Span,
        stage: String,
        width: u32,
        limit: u32,
    },
    /// A constant whose exact value cannot be written as a C++ literal.
    WideConstant {
        span: Span,
        name: String,
        width: u32,
    },
    /// Something the HLS backend cannot express.
    Unsupported { span: Span, what: &'static str },
    /// `--parallel` names a stage the pipeline does not have.
    UnknownStage {
        stage: String,
        available: Vec<String>,
    },
    /// `--parallel` text that does not parse.
    BadParallel { text: String },
    /// A factor that does not divide the loop it unrolls.
    FactorNotDividing {
        span: Span,
        stage: String,
        knob: Knob,
        factor: usize,
        extent: usize,
    },
    /// A knob that has no meaning for the stage (`simd` without a reduction).
    KnobNotApplicable {
        span: Span,
        stage: String,
        knob: Knob,
    },
    /// Computing the testbench's golden values failed.
    Golden(Box<RunError>),
    /// Testbench inputs of the wrong number or shape.
    TestbenchInput {
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
}
