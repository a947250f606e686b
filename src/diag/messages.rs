//! The words of every diagnostic: each phase's error enum becomes a
//! [`Diagnostic`] here, and nowhere else.

use super::{Diagnostic, Label, Report, Severity};
use crate::check::{CheckError, CheckWarning, RangeFact, UnpoolMismatch};
use crate::span::Span;
use crate::syntax::ParseError;
use crate::types::{narrowest, ScalarType};

fn error(code: &'static str, message: impl Into<String>) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        code,
        message: message.into(),
        labels: vec![],
        help: None,
        notes: vec![],
    }
}

fn note(code: &'static str, message: impl Into<String>) -> Diagnostic {
    Diagnostic {
        severity: Severity::Note,
        ..error(code, message)
    }
}

fn warning(code: &'static str, message: impl Into<String>) -> Diagnostic {
    Diagnostic {
        severity: Severity::Warning,
        ..error(code, message)
    }
}

impl Diagnostic {
    fn label(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }
}

fn dims(d: &[usize]) -> String {
    format!(
        "[{}]",
        d.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn range(r: &RangeFact) -> String {
    format!(
        "[{}, {}]",
        crate::check::decimal(r.range.lo, r.frac),
        crate::check::decimal(r.range.hi, r.frac)
    )
}

fn list(items: &[impl AsRef<str>]) -> String {
    items
        .iter()
        .map(|s| format!("`{}`", s.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

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
                let d = error("E001", format!("unexpected {found}")).label(
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
            ParseError::StraySemicolon { span } => error("E002", "stray `;`")
                .label(*span, "Convoy statements end at the line")
                .help("remove the `;`"),
            ParseError::MissingEquals { span, what } => {
                error("E003", format!("missing `=` in this `{what}`"))
                    .label(*span, "expected `=` before this")
                    .help(match *what {
                        "param" => "write `param w: i8[8, 8, 3, 3] = load(\"w.npy\")`",
                        "const" => "write `const k: fixed<32, 1> = 0.0123`",
                        _ => "write `let y = expression`",
                    })
            }
            ParseError::SpacedIntType { span, fixed } => {
                error("E004", "a type name is written without spaces")
                    .label(*span, "this type")
                    .help(format!("write `{fixed}`"))
            }
            ParseError::UnknownMode { span, name } => {
                let all: Vec<&str> = crate::types::Quant::ALL
                    .iter()
                    .map(|(n, _)| *n)
                    .chain(crate::types::Overflow::ALL.iter().map(|(n, _)| *n))
                    .collect();
                let d = error("E005", format!("unknown fixed-point mode `{name}`"))
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
                "E006",
                format!("mode `{name}` is out of place"),
            )
            .label(*span, "a second mode of the same kind, or out of order")
            .help("write the quantization mode, then the overflow mode: `fixed<16, 6, rnd, sat>`"),
            ParseError::BadWidth { span, width } => {
                error("E007", format!("width {width} is not supported")).label(
                    *span,
                    format!("widths are 1 to {} bits", crate::types::MAX_TYPE_BITS),
                )
            }
            ParseError::NumberTooLarge { span } => {
                error("E008", "number too large").label(*span, "this number")
            }
            ParseError::ModeOnFixedCast { span } => error(
                "E009",
                "a fixed-point target names its overflow mode inside the type",
            )
            .label(*span, "not allowed after a fixed type")
            .help("write `x as fixed<16, 6, trn, sat>`"),
            ParseError::BadTestLine { span } => error("E010", "not a statement of a test")
                .label(*span, "not understood")
                .note(
                    "a test holds `run PIPELINE with x = load(\"x.npy\")` (or `random(seed: N)`), \
                     `expect NAME == load(\"golden.npy\")`, `expect NAME fits TYPE`, \
                     `expect no sat`, `expect no wrap` and `snapshot NAME, ...`",
                ),
            ParseError::TestWithoutRun { span, name } => {
                error("E011", format!("test `{name}` does not run a pipeline"))
                    .label(*span, "this test")
                    .help("start it with `run PIPELINE with INPUT = load(\"x.npy\")`")
            }
            ParseError::SecondRun { span, first } => error("E012", "a test runs one pipeline")
                .label(*span, "a second `run`")
                .label(*first, "the first `run`")
                .help("write a second test for another run"),
        }
    }
}

impl Report for CheckError {
    fn diagnostic(&self) -> Diagnostic {
        use CheckError as E;
        match self {
            E::NoPipeline => error("E100", "the file declares no pipeline")
                .help("add `pipeline NAME { ... }`"),
            E::PipelineNotFound { name, available } => {
                error("E101", format!("no pipeline named `{name}`"))
                    .note(format!("this file declares {}", list(available)))
            }
            E::SeveralPipelines { names } => {
                error("E102", "the file declares several pipelines")
                    .help(format!("choose one with --pipeline: {}", list(names)))
            }
            E::UnknownName {
                span,
                name,
                suggestion,
            } => {
                let d = error("E103", format!("unknown name `{name}`"))
                    .label(*span, "not declared before this point");
                match suggestion {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d,
                }
            }
            E::Redefined {
                span,
                name,
                previous,
            } => error("E104", format!("`{name}` is declared twice"))
                .label(*span, "declared again here")
                .label(*previous, "first declared here"),
            E::UnknownFunction {
                span,
                name,
                suggestion,
            } => {
                let d = error("E105", format!("unknown stage or block `{name}`"))
                    .label(*span, "not a stage, nor a block in scope");
                match suggestion {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d.help("blocks from the standard library need `use std::blocks::NAME`"),
                }
            }
            E::UnknownStdModule {
                span,
                path,
                available,
            } => error("E106", format!("no standard-library module `{path}`"))
                .label(*span, "not found")
                .note(format!("available: {}", list(available))),
            E::UnknownStdBlock {
                span,
                module,
                name,
                available,
            } => error("E107", format!("std::{module} has no block `{name}`"))
                .label(*span, "not found")
                .note(format!("std::{module} has {}", list(available))),
            E::BlockShadowsStage { span, name } => {
                error("E108", format!("a block cannot be named `{name}`"))
                    .label(*span, "this is a built-in stage")
            }
            E::RecursiveBlock { span, name, chain } => {
                error("E109", format!("block `{name}` calls itself"))
                    .label(*span, "recursive call")
                    .note(format!("call chain: {}", chain.join(" -> ")))
                    .help("blocks are inlined, so they cannot recurse")
            }
            E::NotAllowedInBlock { span, what } => {
                error("E110", format!("`{what}` is not allowed inside a block"))
                    .label(*span, "blocks take tensors as parameters and return one value")
            }
            E::NoOutputs { span } => error("E111", "the pipeline has no outputs")
                .label(*span, "this pipeline")
                .help("add `output NAME`"),
            E::NotATensor { span, what } => {
                error("E112", format!("expected a tensor, found {what}")).label(*span, "here")
            }
            E::NotAnInteger { span, what } => {
                error("E113", format!("{what} must be a constant integer"))
                    .label(*span, "not a compile-time integer")
            }
            E::TupleArity {
                span,
                expected,
                found,
            } => error(
                "E114",
                format!("expected {expected} values to unpack, found {found}"),
            )
            .label(*span, "here")
            .help("`let (v, i) = maxpool(x, 2, indices: true)` binds two values"),
            E::UnknownArgument {
                span,
                func,
                name,
                allowed,
            } => {
                let d = error("E115", format!("`{func}` has no argument `{name}`"))
                    .label(*span, "unknown argument");
                let d = match crate::check::suggest(name, allowed.iter().map(String::as_str)) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d,
                };
                if allowed.is_empty() {
                    d
                } else {
                    d.note(format!("`{func}` takes {}", list(allowed)))
                }
            }
            E::MissingArgument { span, func, name } => {
                error("E116", format!("`{func}` needs the argument `{name}`"))
                    .label(*span, format!("`{name}` is missing"))
            }
            E::TooManyArguments { span, func, max } => error(
                "E117",
                format!("too many arguments to `{func}`"),
            )
            .label(*span, format!("`{func}` takes at most {max}")),
            E::DuplicateArgument { span, name } => {
                error("E118", format!("argument `{name}` is given twice"))
                    .label(*span, "given again here")
            }
            E::BadPair {
                span,
                what,
                allowed,
            } => error("E119", format!("bad `{what}`"))
                .label(*span, format!("expected {allowed}")),
            E::BadMode {
                span,
                found,
                allowed,
            } => error("E120", format!("`{found}` is not allowed here"))
                .label(*span, format!("expected {}", list(allowed))),
            E::ZeroParameter { span, what } => {
                error("E121", format!("{what} cannot be zero")).label(*span, "zero here")
            }
            E::ParameterTooLarge { span, what, value } => {
                error("E122", format!("{what} {value} is out of the supported range"))
                    .label(*span, "here")
            }
            E::WrongRank {
                span,
                what,
                expected,
                found,
            } => error("E130", format!("the {what} has the wrong shape"))
                .label(*span, format!("expected {expected}, found {}", shape_words(found))),
            E::WeightShape {
                span,
                expected,
                found,
            } => error("E131", "the weights do not match the input")
                .label(*span, format!("expected {}, found {}", dims(expected), dims(found)))
                .note("conv weights are [O, I/groups, KH, KW]; deconv weights are [I, O/groups, KH, KW]"),
            E::GroupsDoNotDivide {
                span,
                groups,
                channels_in,
                channels_out,
            } => error(
                "E132",
                format!("groups = {groups} does not divide the channels"),
            )
            .label(
                *span,
                format!("{channels_in} input and {channels_out} output channels"),
            ),
            E::KernelTooLarge {
                span,
                axis,
                kernel,
                padded,
            } => error("E133", format!("the kernel is larger than the padded input ({axis})"))
                .label(
                    *span,
                    format!("kernel spans {kernel} pixels (dilation included), the padded {axis} is {padded}"),
                ),
            E::EmptyOutput { span, axis, size } => {
                error("E134", format!("the output {axis} would be {size}"))
                    .label(*span, "this stage produces nothing")
                    .help("reduce the padding or enlarge the input")
            }
            E::OutputPadTooLarge {
                span,
                output_pad,
                stride,
                dilation,
            } => error("E135", format!("output_pad {output_pad} is too large"))
                .label(
                    *span,
                    format!("must be smaller than the stride ({stride}) or the dilation ({dilation})"),
                ),
            E::PoolPadTooLarge { span, pad, kernel } => {
                error("E136", format!("pooling pad {pad} is not smaller than the kernel {kernel}"))
                    .label(*span, "a window could fall entirely in the padding")
            }
            E::BroadcastMismatch { span, left, right } => error(
                "E137",
                format!("shapes {} and {} do not broadcast", dims(left), dims(right)),
            )
            .label(*span, "in this operation")
            .note("scalars broadcast everywhere; a [C] vector broadcasts over a [C, H, W] map"),
            E::ConcatMismatch { span, first, other } => error(
                "E138",
                format!("cannot concatenate {} and {}", dims(first), dims(other)),
            )
            .label(*span, "maps must have the same height and width"),
            E::BilinearFactor { span, factor } => {
                error("E139", format!("bilinear upsampling by {factor} is not exact"))
                    .label(*span, "bilinear factors must be powers of two")
                    .note("half-pixel weights of other factors have no finite binary expansion")
            }
            E::UnpoolIndices { span, reason } => {
                let d = error("E140", "these indices do not fit this maxunpool");
                match reason {
                    UnpoolMismatch::NotIndices => d
                        .label(*span, "not produced by `maxpool(..., indices: true)`"),
                    UnpoolMismatch::Shape { values, indices } => d.label(
                        *span,
                        format!("indices are {}, values are {}", dims(indices), dims(values)),
                    ),
                    UnpoolMismatch::Plane { ih, iw, oh, ow } => d
                        .label(
                            *span,
                            format!("the indices address a {ih}x{iw} plane, the unpool makes {oh}x{ow}"),
                        )
                        .help("use the same kernel, stride and pad as the maxpool"),
                }
            }
            E::TensorTooLarge { span, elements } => {
                error("E141", format!("tensor of {elements} elements is too large"))
                    .label(*span, format!("at most {} elements", crate::check::MAX_ELEMENTS))
            }
            E::DimsMismatch {
                span,
                declared,
                found,
            } => error("E142", "the declared shape does not match")
                .label(*span, format!("declared {}, the value is {}", dims(declared), dims(found))),
            E::BadHalo { span } => error("E143", "a halo needs a map [C, H, W]")
                .label(*span, "`pad` here"),
            E::CastOutOfRange {
                span,
                range: r,
                target,
                type_span,
            } => {
                let d = error(
                    "E150",
                    format!("the value may not fit {target}"),
                )
                .label(*span, format!("ranges over {}", range(r)));
                let d = if type_span != span {
                    d.label(*type_span, format!("{target} holds {}", type_range(target)))
                } else {
                    d
                };
                if target.fixed {
                    d
                } else {
                    d.help(format!(
                        "say what should happen out of range: `as {target} sat` clamps, `as {target} wrap` keeps the low bits"
                    ))
                }
            }
            E::AnnotationOutOfRange {
                span,
                range: r,
                declared,
            } => error("E151", format!("the value does not fit the declared {declared}"))
                .label(*span, format!("ranges over {}", range(r)))
                .help("a `let` annotation asserts and never converts; convert with `as`"),
            E::AnnotationFraction {
                span,
                frac,
                declared,
            } => error("E152", format!("the value has {frac} fraction bits; {declared} cannot hold them"))
                .label(*span, "this value")
                .help("round it first: `floor`, `round`, `trunc` or `as`"),
            E::TooWide { span, bits } => error(
                "E153",
                format!("this needs more than {} bits", bits.saturating_sub(1)),
            )
            .label(*span, "too wide for exact arithmetic")
            .help("shift or convert with `as` earlier to keep values narrower"),
            E::OutputTooWide { span, name, bits } => {
                error("E154", format!("output `{name}` needs {bits} bits"))
                    .label(*span, format!("outputs are at most {} bits", crate::types::MAX_TYPE_BITS))
                    .help("convert it with `as` before the output")
            }
            E::InexactLiteral { span, text } => {
                error("E155", format!("{text} has no exact binary value"))
                    .label(*span, "inexact in fixed point")
                    .help(format!("declare it with a type: `const k: fixed<32, 1> = {text}`"))
            }
            E::ConstNotScalar { span } => {
                error("E156", "a `const` is a scalar").label(*span, "remove the dimensions")
            }
            E::ShiftAmount { span, amount } => {
                error("E157", format!("cannot shift by {amount}")).label(*span, "shift amounts are 0 to 126")
            }
            E::LoadFailed { span, path, reason } => {
                error("E160", format!("cannot read `{path}`")).label(*span, reason.clone())
            }
            E::BadNpy { span, path, reason } => {
                error("E161", format!("`{path}` is not a valid .npy file")).label(*span, reason.clone())
            }
            E::NpyShape {
                span,
                path,
                declared,
                found,
            } => error("E162", format!("`{path}` has shape {}", dims(found)))
                .label(*span, format!("declared {}", dims(declared))),
            E::NpyValue { span, path, reason } => {
                error("E163", format!("`{path}` holds a value the type cannot")).label(*span, reason.clone())
            }
        }
    }
}

fn shape_words(d: &[usize]) -> String {
    if d.is_empty() {
        "a scalar".into()
    } else {
        dims(d)
    }
}

fn type_range(t: &ScalarType) -> String {
    let (lo, hi) = t.value_bounds();
    format!(
        "[{}, {}]",
        crate::check::decimal(lo, t.storage_frac()),
        crate::check::decimal(hi, t.storage_frac())
    )
}

impl Report for CheckWarning {
    fn diagnostic(&self) -> Diagnostic {
        use CheckWarning as W;
        match self {
            W::Unused { span, name } => {
                warning("W001", format!("`{name}` is never used")).label(*span, "declared here")
            }
            W::SatNeverTriggers {
                span,
                range: r,
                target,
            } => warning(
                "W002",
                format!("this saturation to {target} never triggers"),
            )
            .label(*span, format!("the value ranges over {}", range(r)))
            .help({
                let fit = narrowest(r.range.lo, r.range.hi, r.frac);
                format!("the checker proves it fits ({fit}): a plain `as {target}` says so")
            }),
            W::WrapCanTrigger {
                span,
                range: r,
                target,
            } => warning("W003", format!("{target} wraps around here"))
                .label(*span, format!("the value ranges over {}", range(r)))
                .help("name `sat` in the type to clamp instead"),
            W::RowsNeverRead { span, axis, count } => warning(
                "W004",
                format!("the last {count} pixel(s) of the padded {axis} are never read"),
            )
            .label(*span, "the stride does not divide the padded size")
            .note("as ONNX and PyTorch, the output size is rounded down"),
            W::ConstInexact {
                span,
                written,
                stored,
                error,
            } => note("N001", format!("{written} is stored as {stored}"))
                .label(*span, format!("off by {error}")),
        }
    }
}

impl Report for crate::run::InputError {
    fn diagnostic(&self) -> Diagnostic {
        use crate::run::InputError as E;
        match self {
            E::Missing { name } => error("E200", format!("no data for input `{name}`"))
                .help(format!("pass it with --input {name}=PATH.npy")),
            E::Unknown { name, available } => {
                error("E201", format!("the pipeline has no input `{name}`"))
                    .note(format!("its inputs are {}", list(available)))
            }
            E::Duplicate { name } => error("E202", format!("input `{name}` is given twice")),
            E::BadNpy { path, reason } => {
                error("E203", format!("{path}: not a valid .npy file: {reason}"))
            }
            E::Shape {
                path,
                name,
                declared,
                found,
            } => error(
                "E204",
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
                "E205",
                format!("{path}: a value does not fit input `{name}`: {reason}"),
            ),
            E::BatchMismatch { first, other } => error(
                "E206",
                format!(
                    "batch sizes differ: `{}` has {} images, `{}` has {}",
                    first.0, first.1, other.0, other.1
                ),
            ),
            E::Output { name, reason } => {
                error("E207", format!("cannot write output `{name}`: {reason}"))
            }
        }
    }
}

/// A failure of the CLI around the core: a file that cannot be read or written.
pub fn file_error(path: &str, reason: &str) -> Diagnostic {
    error("E210", format!("{path}: {reason}"))
}

impl Report for crate::interp::RunError {
    fn diagnostic(&self) -> Diagnostic {
        use crate::interp::RunError as E;
        let d = error("E300", self.to_string());
        match self {
            E::UnpoolIndex { node, .. } => d.label(node.span, "in this maxunpool"),
            E::Internal { node, .. } => d
                .label(node.span, "while computing this")
                .note("this is a bug in Convoy, not in your script: please report it"),
            _ => d,
        }
    }
}

impl Report for crate::hls::HlsError {
    fn diagnostic(&self) -> Diagnostic {
        use crate::hls::HlsError as E;
        match self {
            E::TooWide { span, stage, width, limit } => error(
                "E400",
                format!("`{stage}` needs a {width}-bit value; the HLS emitter supports up to {limit} bits"),
            )
            .label(*span, format!("{width} bits wide"))
            .help("narrow the value with `as` before this point"),
            E::WideConstant { span, name, width } => error(
                "E401",
                format!("constant `{name}` ({width} bits) cannot be written exactly as a C++ literal"),
            )
            .label(*span, "this constant")
            .note("the emitter writes integers up to 64 bits and fixed-point codes up to 53 bits"),
            E::Unsupported { span, what } => {
                error("E402", format!("the HLS backend does not support {what}")).label(*span, "here")
            }
            E::UnknownStage { stage, available } => error(
                "E403",
                format!("--parallel names `{stage}`, which is not a stage of the pipeline"),
            )
            .note(format!("its stages are {}", list(available))),
            E::BadParallel { text } => error("E404", format!("cannot read the parallelism `{text}`"))
                .help("write STAGE=pe:N or STAGE=pe:N,simd:M with N, M >= 1"),
            E::FactorNotDividing { span, stage, knob, factor, extent } => error(
                "E405",
                format!(
                    "{} factor {factor} does not divide the {extent} {} of `{stage}`",
                    knob.name(),
                    match knob {
                        crate::hls::Knob::Pe => "output channels",
                        crate::hls::Knob::Simd => "input channels per group",
                    }
                ),
            )
            .label(*span, format!("{extent} channels"))
            .help(format!(
                "use a divisor of {extent}: {}",
                (1..=*extent)
                    .filter(|d| extent % d == 0)
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            E::KnobNotApplicable { span, stage, knob } => error(
                "E406",
                format!("`{}` does not apply to `{stage}`: it has no conv or deconv reduction", knob.name()),
            )
            .label(*span, "this stage"),
            E::Golden(run) => {
                let mut d = run.diagnostic();
                d.message = format!("computing the testbench's golden values failed: {}", d.message);
                d
            }
            E::TestbenchInput { name, expected, found } => error(
                "E407",
                format!("testbench input `{name}` has shape {}, expected {}", dims(found), dims(expected)),
            ),
        }
    }
}

impl Report for crate::jit::JitError {
    fn diagnostic(&self) -> Diagnostic {
        use crate::jit::JitError as E;
        let d = error("E400", self.to_string());
        match self {
            E::Unsupported { span, .. } => d
                .label(*span, "the JIT has no exact code for this")
                .help("run it with --backend interp"),
            E::Codegen { .. } | E::Program { .. } => {
                d.note("this is a bug in Convoy, not in your script: please report it")
            }
            E::Host { .. } => d.help("run it with --backend interp"),
        }
    }
}

impl Report for crate::jit::ExecError {
    fn diagnostic(&self) -> Diagnostic {
        match self {
            crate::jit::ExecError::Run(e) => e.diagnostic(),
            crate::jit::ExecError::ForeignWorkspace => error("E401", self.to_string())
                .note("this is a bug in Convoy, not in your script: please report it"),
        }
    }
}

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
                let d = error("E500", format!("no pipeline `{name}` in this file"))
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
            } => error(
                "E501",
                format!("pipeline `{pipeline}` has no input `{name}`"),
            )
            .label(*span, "not an input")
            .note(format!("its inputs are {}", list(available))),
            E::MissingInput {
                span,
                name,
                pipeline,
            } => error(
                "E502",
                format!("no data for input `{name}` of `{pipeline}`"),
            )
            .label(*span, format!("`{name}` is missing here"))
            .help(format!(
                "add `with {name} = load(\"{name}.npy\")` or `with {name} = random(seed: 1)`"
            )),
            E::DuplicateInput { span, first, name } => {
                error("E503", format!("input `{name}` is given twice"))
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
                    "E504",
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
            } => error(
                "E505",
                format!("pipeline `{pipeline}` has no `let` `{name}`"),
            )
            .label(*span, "`in` names the `let` whose casts are checked"),
            E::DataFile { span, path, reason } => error("E506", format!("cannot read `{path}`"))
                .label(*span, reason.clone())
                .note("paths are relative to the .cnn file"),
            E::BadNpy { span, path, reason } => {
                error("E507", format!("`{path}` is not a valid .npy file"))
                    .label(*span, reason.clone())
            }
            E::Shape {
                span,
                path,
                name,
                expected,
                found,
            } => error(
                "E508",
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
                "E509",
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
                "E510",
                format!("`{path}` holds a value that `{name}` ({ty}) cannot"),
            )
            .label(*span, reason.clone()),
            E::DuplicateTest { span, first, name } => {
                error("E511", format!("two tests are named `{name}`"))
                    .label(*span, "again here")
                    .label(*first, "first here")
                    .note("their snapshots would share files")
            }
            E::PipelineFails { span, name } => error(
                "E512",
                format!("pipeline `{name}` does not check, so this test cannot run"),
            )
            .label(*span, "run here")
            .note("the pipeline's own errors are shown above"),
        }
    }
}
