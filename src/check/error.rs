//! What the checker can find wrong or suspicious: facts and spans only; the
//! words are in `diag::messages`.

use crate::ir::Interval;
use crate::span::Span;
use crate::types::ScalarType;

/// A range as found by the checker, with the fraction bits its ends are scaled by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RangeFact {
    pub range: Interval,
    pub frac: u32,
}

/// Why a `let` has no parallel form for `@hls`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoParallelForm {
    /// The value is another statement's (`let y = x`, a block returning an
    /// inner `let`): annotate that one.
    NotComputedHere,
    /// Computed from params and consts only: folded into constant data.
    Static,
    /// `simd` on a stage with no conv or deconv reduction.
    NoReduction,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckError {
    // `@hls(...)` attributes.
    /// An attribute the language does not know (`@inline`).
    UnknownAttribute {
        span: Span,
        name: String,
        available: Vec<String>,
    },
    /// A key the attribute does not take, or one given twice (`previous`).
    BadAttributeKey {
        span: Span,
        attribute: &'static str,
        key: String,
        available: Vec<String>,
        previous: Option<Span>,
    },
    /// `pe: 0`, `simd: -2`.
    FactorNotPositive {
        span: Span,
        key: &'static str,
        value: i64,
    },
    /// `pe` that does not divide the output channels of a loop of the stage
    /// (`at`), or `simd` that does not divide its input channels per group.
    FactorNotDividing {
        span: Span,
        key: &'static str,
        factor: usize,
        extent: usize,
        at: Span,
    },
    /// A factor on a `let` with no loop it could unroll.
    NoParallelForm {
        span: Span,
        stage: String,
        value: Span,
        why: NoParallelForm,
    },
    // Programs and names.
    NoPipeline,
    PipelineNotFound {
        name: String,
        available: Vec<String>,
    },
    SeveralPipelines {
        names: Vec<String>,
    },
    UnknownName {
        span: Span,
        name: String,
        suggestion: Option<String>,
    },
    Redefined {
        span: Span,
        name: String,
        previous: Span,
    },
    UnknownFunction {
        span: Span,
        name: String,
        suggestion: Option<String>,
    },
    UnknownStdModule {
        span: Span,
        path: String,
        available: Vec<String>,
    },
    UnknownStdBlock {
        span: Span,
        module: String,
        name: String,
        available: Vec<String>,
    },
    BlockShadowsStage {
        span: Span,
        name: String,
    },
    RecursiveBlock {
        span: Span,
        name: String,
        chain: Vec<String>,
    },
    NotAllowedInBlock {
        span: Span,
        what: &'static str,
    },
    NoOutputs {
        span: Span,
    },
    NotATensor {
        span: Span,
        what: String,
    },
    NotAnInteger {
        span: Span,
        what: String,
    },
    TupleArity {
        span: Span,
        expected: usize,
        found: usize,
    },
    // Calls and arguments.
    UnknownArgument {
        span: Span,
        func: String,
        name: String,
        allowed: Vec<String>,
    },
    MissingArgument {
        span: Span,
        func: String,
        name: String,
    },
    TooManyArguments {
        span: Span,
        func: String,
        max: usize,
    },
    DuplicateArgument {
        span: Span,
        name: String,
    },
    BadPair {
        span: Span,
        what: &'static str,
        allowed: &'static str,
    },
    BadMode {
        span: Span,
        found: String,
        allowed: Vec<&'static str>,
    },
    ZeroParameter {
        span: Span,
        what: &'static str,
    },
    ParameterTooLarge {
        span: Span,
        what: &'static str,
        value: i128,
    },
    // Shapes and geometry.
    WrongRank {
        span: Span,
        what: &'static str,
        expected: &'static str,
        found: Vec<usize>,
    },
    WeightShape {
        span: Span,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    GroupsDoNotDivide {
        span: Span,
        groups: usize,
        channels_in: usize,
        channels_out: usize,
    },
    KernelTooLarge {
        span: Span,
        axis: &'static str,
        kernel: usize,
        padded: usize,
    },
    EmptyOutput {
        span: Span,
        axis: &'static str,
        size: i128,
    },
    OutputPadTooLarge {
        span: Span,
        output_pad: usize,
        stride: usize,
        dilation: usize,
    },
    PoolPadTooLarge {
        span: Span,
        pad: usize,
        kernel: usize,
    },
    BroadcastMismatch {
        span: Span,
        left: Vec<usize>,
        right: Vec<usize>,
    },
    ConcatMismatch {
        span: Span,
        first: Vec<usize>,
        other: Vec<usize>,
    },
    BilinearFactor {
        span: Span,
        factor: usize,
    },
    UnpoolIndices {
        span: Span,
        reason: UnpoolMismatch,
    },
    TensorTooLarge {
        span: Span,
        elements: u128,
    },
    DimsMismatch {
        span: Span,
        declared: Vec<usize>,
        found: Vec<usize>,
    },
    BadHalo {
        span: Span,
    },
    // Rearrangements (issue 14 item 3).
    /// `depth_to_space` / `space_to_depth`: `r` (or `r^2`) does not divide an axis.
    BlockNotDividing {
        span: Span,
        r: usize,
        /// `r` or `r * r`.
        divisor: usize,
        axis: &'static str,
        size: usize,
    },
    /// `reshape` to a shape with another element count.
    ReshapeCount {
        span: Span,
        from: Vec<usize>,
        to: Vec<usize>,
    },
    /// `reshape`'s sizes are not `[C, H, W]`.
    BadReshapeShape {
        span: Span,
    },
    /// A `slice` argument that is not a range `a..b`.
    NotARange {
        span: Span,
        axis: &'static str,
    },
    /// A `slice` range reaching past the axis.
    SliceOutOfBounds {
        span: Span,
        axis: &'static str,
        end: i128,
        size: usize,
    },
    /// A `slice` range holding no index.
    EmptySlice {
        span: Span,
        axis: &'static str,
        start: i128,
        end: i128,
    },
    /// A `pad` value the operand's type cannot hold.
    PadValue {
        span: Span,
        value: String,
        ty: ScalarType,
    },
    // Values and types.
    CastOutOfRange {
        span: Span,
        range: RangeFact,
        target: ScalarType,
        type_span: Span,
    },
    AnnotationOutOfRange {
        span: Span,
        range: RangeFact,
        declared: ScalarType,
    },
    AnnotationFraction {
        span: Span,
        frac: u32,
        declared: ScalarType,
    },
    TooWide {
        span: Span,
        bits: u32,
    },
    OutputTooWide {
        span: Span,
        name: String,
        bits: u32,
    },
    InexactLiteral {
        span: Span,
        text: String,
    },
    ConstNotScalar {
        span: Span,
    },
    ShiftAmount {
        span: Span,
        amount: i128,
    },
    // Lookup tables.
    TableInputTooWide {
        span: Span,
        ty: ScalarType,
    },
    TableLength {
        span: Span,
        expected: u128,
        found: Vec<usize>,
        input: ScalarType,
    },
    TableEntry {
        span: Span,
        func: &'static str,
        input: String,
        reason: crate::numeric::table::TableError,
    },
    /// A function without an output type (`user: false`), or a user table
    /// with one (`user: true`).
    TableType {
        span: Span,
        user: bool,
    },
    // Issue 14, items 2 and 4.
    /// `dense` weights that are neither `[O, C*H*W]` nor `[O, C, H, W]`.
    DenseWeights {
        span: Span,
        input: Vec<usize>,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    // Data.
    LoadFailed {
        span: Span,
        path: String,
        reason: String,
    },
    BadNpy {
        span: Span,
        path: String,
        reason: String,
    },
    NpyShape {
        span: Span,
        path: String,
        declared: Vec<usize>,
        found: Vec<usize>,
    },
    NpyValue {
        span: Span,
        path: String,
        reason: String,
    },
}

/// Why an index tensor does not fit the `maxunpool` it is given to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnpoolMismatch {
    /// The argument was not produced by `maxpool(..., indices: true)`.
    NotIndices,
    /// Values and indices have different shapes.
    Shape {
        values: Vec<usize>,
        indices: Vec<usize>,
    },
    /// The indices address an `ih x iw` plane, the unpool produces `oh x ow`.
    Plane {
        ih: usize,
        iw: usize,
        oh: usize,
        ow: usize,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckWarning {
    Unused {
        span: Span,
        name: String,
    },
    SatNeverTriggers {
        span: Span,
        range: RangeFact,
        target: ScalarType,
    },
    WrapCanTrigger {
        span: Span,
        range: RangeFact,
        target: ScalarType,
    },
    RowsNeverRead {
        span: Span,
        axis: &'static str,
        count: usize,
    },
    ConstInexact {
        span: Span,
        written: String,
        stored: String,
        error: String,
    },
}
