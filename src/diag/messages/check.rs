//! The checker's errors (`check::CheckError`): E1xx.

use super::{dims, error, list, range};
use crate::check::{CheckError, NoParallelForm, UnpoolMismatch};
use crate::diag::codes::*;
use crate::diag::{Diagnostic, Report};
use crate::types::ScalarType;

impl Report for CheckError {
    fn diagnostic(&self) -> Diagnostic {
        use CheckError as E;
        match self {
            E::UnknownAttribute {
                span,
                name,
                available,
            } => error(E175, format!("unknown attribute `@{name}`"))
                .label(*span, "not an attribute")
                .note(format!("the attributes are {}", list(available))),
            E::BadAttributeKey {
                span,
                attribute,
                key,
                available,
                previous,
            } => {
                let message = match previous {
                    Some(_) => format!("`{key}` is given twice in `@{attribute}`"),
                    None => format!("`@{attribute}` takes no key `{key}`"),
                };
                let d = error(E176, message);
                match previous {
                    Some(first) => d
                        .label(*span, "given again here")
                        .label(*first, "first given here"),
                    None => d
                        .label(*span, "unknown key")
                        .note(format!("`@{attribute}` takes {}", list(available))),
                }
            }
            E::FactorNotPositive { span, key, value } => {
                error(E177, format!("`{key}: {value}` is not a parallel factor"))
                    .label(*span, "must be a positive integer")
                    .help(format!("`{key}: 1` computes one at a time"))
            }
            E::FactorNotDividing {
                span,
                key,
                factor,
                extent,
                at,
            } => {
                let what = if *key == "pe" {
                    "output channels"
                } else {
                    "input channels per group"
                };
                let (below, above) = crate::check::nearest_divisors(*extent, *factor);
                let round = match above {
                    Some(a) => format!("`{key}: {below}` or `{key}: {a}`"),
                    None => format!("`{key}: {below}`"),
                };
                error(
                    E178,
                    format!("`{key}: {factor}` does not divide the {extent} {what}"),
                )
                .label(*span, format!("{factor} does not divide {extent}"))
                .label(*at, format!("{extent} {what} here"))
                .help(format!("the nearest factors that divide are {round}"))
            }
            E::NoParallelForm {
                span,
                stage,
                value,
                why,
            } => {
                let (label, help) = match why {
                    NoParallelForm::NotComputedHere => (
                        format!("`{stage}` computes nothing of its own"),
                        "put the attribute on the `let` that computes the value",
                    ),
                    NoParallelForm::Static => (
                        format!("`{stage}` reads no input: it is folded into constant data"),
                        "only stages computed from the inputs have loops to unroll",
                    ),
                    NoParallelForm::NoReduction => (
                        format!("`{stage}` has no conv or deconv reduction"),
                        "`simd` splits the input channels of a conv or deconv; `pe` applies to every stage",
                    ),
                };
                error(E179, format!("`{stage}` has no parallel form for this factor"))
                    .label(*span, "this factor")
                    .label(*value, label)
                    .help(help)
            }
            E::NoPipeline => error(E100, "the file declares no pipeline")
                .help("add `pipeline NAME { ... }`"),
            E::PipelineNotFound { name, available } => {
                error(E101, format!("no pipeline named `{name}`"))
                    .note(format!("this file declares {}", list(available)))
            }
            E::SeveralPipelines { names } => {
                error(E102, "the file declares several pipelines")
                    .help(format!("choose one with --pipeline: {}", list(names)))
            }
            E::UnknownName {
                span,
                name,
                suggestion,
            } => {
                let d = error(E103, format!("unknown name `{name}`"))
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
            } => error(E104, format!("`{name}` is declared twice"))
                .label(*span, "declared again here")
                .label(*previous, "first declared here"),
            E::UnknownFunction {
                span,
                name,
                suggestion,
            } => {
                let d = error(E105, format!("unknown stage or block `{name}`"))
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
            } => error(E106, format!("no standard-library module `{path}`"))
                .label(*span, "not found")
                .note(format!("available: {}", list(available))),
            E::UnknownStdBlock {
                span,
                module,
                name,
                available,
            } => error(E107, format!("std::{module} has no block `{name}`"))
                .label(*span, "not found")
                .note(format!("std::{module} has {}", list(available))),
            E::BlockShadowsStage { span, name } => {
                error(E108, format!("a block cannot be named `{name}`"))
                    .label(*span, "this is a built-in stage")
            }
            E::RecursiveBlock { span, name, chain } => {
                error(E109, format!("block `{name}` calls itself"))
                    .label(*span, "recursive call")
                    .note(format!("call chain: {}", chain.join(" -> ")))
                    .help("blocks are inlined, so they cannot recurse")
            }
            E::NotAllowedInBlock { span, what } => {
                error(E110, format!("`{what}` is not allowed inside a block"))
                    .label(*span, "blocks take tensors as parameters and return one value")
            }
            E::NoOutputs { span } => error(E111, "the pipeline has no outputs")
                .label(*span, "this pipeline")
                .help("add `output NAME`"),
            E::NotATensor { span, what } => {
                error(E112, format!("expected a tensor, found {what}")).label(*span, "here")
            }
            E::NotAnInteger { span, what } => {
                error(E113, format!("{what} must be a constant integer"))
                    .label(*span, "not a compile-time integer")
            }
            E::TupleArity {
                span,
                expected,
                found,
            } => error(
                E114,
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
                let d = error(E115, format!("`{func}` has no argument `{name}`"))
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
                error(E116, format!("`{func}` needs the argument `{name}`"))
                    .label(*span, format!("`{name}` is missing"))
            }
            E::TooManyArguments { span, func, max } => error(
                E117,
                format!("too many arguments to `{func}`"),
            )
            .label(*span, format!("`{func}` takes at most {max}")),
            E::DuplicateArgument { span, name } => {
                error(E118, format!("argument `{name}` is given twice"))
                    .label(*span, "given again here")
            }
            E::BadPair {
                span,
                what,
                allowed,
            } => error(E119, format!("bad `{what}`"))
                .label(*span, format!("expected {allowed}")),
            E::BadMode {
                span,
                found,
                allowed,
            } => error(E120, format!("`{found}` is not allowed here"))
                .label(*span, format!("expected {}", list(allowed))),
            E::ZeroParameter { span, what } => {
                error(E121, format!("{what} cannot be zero")).label(*span, "zero here")
            }
            E::ParameterTooLarge { span, what, value } => {
                error(E122, format!("{what} {value} is out of the supported range"))
                    .label(*span, "here")
            }
            E::WrongRank {
                span,
                what,
                expected,
                found,
            } => error(E130, format!("the {what} has the wrong shape"))
                .label(*span, format!("expected {expected}, found {}", shape_words(found))),
            E::WeightShape {
                span,
                expected,
                found,
            } => error(E131, "the weights do not match the input")
                .label(*span, format!("expected {}, found {}", dims(expected), dims(found)))
                .note("conv weights are [O, I/groups, KH, KW]; deconv weights are [I, O/groups, KH, KW]"),
            E::GroupsDoNotDivide {
                span,
                groups,
                channels_in,
                channels_out,
            } => error(
                E132,
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
            } => error(E133, format!("the kernel is larger than the padded input ({axis})"))
                .label(
                    *span,
                    format!("kernel spans {kernel} pixels (dilation included), the padded {axis} is {padded}"),
                ),
            E::EmptyOutput { span, axis, size } => {
                error(E134, format!("the output {axis} would be {size}"))
                    .label(*span, "this stage produces nothing")
                    .help("reduce the padding or enlarge the input")
            }
            E::OutputPadTooLarge {
                span,
                output_pad,
                stride,
                dilation,
            } => error(E135, format!("output_pad {output_pad} is too large"))
                .label(
                    *span,
                    format!("must be smaller than the stride ({stride}) or the dilation ({dilation})"),
                ),
            E::PoolPadTooLarge { span, pad, kernel } => {
                error(E136, format!("pooling pad {pad} is not smaller than the kernel {kernel}"))
                    .label(*span, "a window could fall entirely in the padding")
            }
            E::BroadcastMismatch { span, left, right } => error(
                E137,
                format!("shapes {} and {} do not broadcast", dims(left), dims(right)),
            )
            .label(*span, "in this operation")
            .note("scalars broadcast everywhere; a [C] vector broadcasts over a [C, H, W] map"),
            E::ConcatMismatch { span, first, other } => error(
                E138,
                format!("cannot concatenate {} and {}", dims(first), dims(other)),
            )
            .label(*span, "maps must have the same height and width"),
            E::BilinearFactor { span, factor } => {
                error(E139, format!("bilinear upsampling by {factor} is not exact"))
                    .label(*span, "bilinear factors must be powers of two")
                    .note("half-pixel weights of other factors have no finite binary expansion")
            }
            E::UnpoolIndices { span, reason } => {
                let d = error(E140, "these indices do not fit this maxunpool");
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
                error(E141, format!("tensor of {elements} elements is too large"))
                    .label(*span, format!("at most {} elements", crate::check::MAX_ELEMENTS))
            }
            E::DimsMismatch {
                span,
                declared,
                found,
            } => error(E142, "the declared shape does not match")
                .label(*span, format!("declared {}, the value is {}", dims(declared), dims(found))),
            E::BadHalo { span } => error(E143, "a halo needs a map [C, H, W]")
                .label(*span, "`pad` here"),
            // Rearrangements (issue 14 item 3).
            E::BlockNotDividing {
                span,
                r,
                divisor,
                axis,
                size,
            } => error(
                E164,
                format!("block size {r} does not fit {size} {axis}"),
            )
            .label(*span, format!("the {axis} must be a multiple of {divisor}")),
            E::ReshapeCount { span, from, to } => error(
                E165,
                format!("cannot reshape {} to {}", dims(from), dims(to)),
            )
            .label(
                *span,
                format!(
                    "{} elements here, {} there",
                    from.iter().product::<usize>(),
                    to.iter().product::<usize>()
                ),
            ),
            E::BadReshapeShape { span } => error(E166, "`reshape` takes the sizes [C, H, W]")
                .label(*span, "three positive integers in brackets, e.g. [64, 4, 4]"),
            E::NotARange { span, axis } => error(E167, format!("`{axis}` is not a range"))
                .label(*span, "a half-open range: `a..b`, `a..`, `..b` or `..`"),
            E::SliceOutOfBounds {
                span,
                axis,
                end,
                size,
            } => error(E168, format!("the `{axis}` range ends at {end}, past the axis"))
                .label(*span, format!("the `{axis}` indices are 0..{size}")),
            E::EmptySlice {
                span,
                axis,
                start,
                end,
            } => error(E169, format!("the `{axis}` range {start}..{end} is empty"))
                .label(*span, "the end must be greater than the start"),
            E::PadValue { span, value, ty } => {
                error(E170, format!("the pad value {value} is not a value of {ty}"))
                    .label(*span, format!("the padded map is {ty}"))
                    .help("convert the map first (`x as T`) to a type that holds it")
            }
            E::CastOutOfRange {
                span,
                range: r,
                target,
                type_span,
            } => {
                let d = error(
                    E150,
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
            } => error(E151, format!("the value does not fit the declared {declared}"))
                .label(*span, format!("ranges over {}", range(r)))
                .help("a `let` annotation asserts and never converts; convert with `as`"),
            E::AnnotationFraction {
                span,
                frac,
                declared,
            } => error(E152, format!("the value has {frac} fraction bits; {declared} cannot hold them"))
                .label(*span, "this value")
                .help("round it first: `floor`, `round`, `trunc` or `as`"),
            E::TooWide { span, bits } => error(
                E153,
                format!("this needs more than {} bits", bits.saturating_sub(1)),
            )
            .label(*span, "too wide for exact arithmetic")
            .help("shift or convert with `as` earlier to keep values narrower"),
            E::OutputTooWide { span, name, bits } => {
                error(E154, format!("output `{name}` needs {bits} bits"))
                    .label(*span, format!("outputs are at most {} bits", crate::types::MAX_TYPE_BITS))
                    .help("convert it with `as` before the output")
            }
            E::InexactLiteral { span, text } => {
                error(E155, format!("{text} has no exact binary value"))
                    .label(*span, "inexact in fixed point")
                    .help(format!("declare it with a type: `const k: fixed<32, 1> = {text}`"))
            }
            E::ConstNotScalar { span } => {
                error(E156, "a `const` is a scalar").label(*span, "remove the dimensions")
            }
            E::TableInputTooWide { span, ty } => {
                error(E180, format!("a table input is at most 16 bits; this one is {ty}"))
                    .label(*span, "too many values for a table")
                    .help("convert it first, e.g. `x as fixed<8, 4, rnd, sat>`")
            }
            E::TableLength {
                span,
                expected,
                found,
                input,
            } => error(
                E181,
                format!("a table for {input} inputs has {expected} entries"),
            )
            .label(*span, format!("expected [{expected}], found {}", shape_words(found)))
            .help("entry k is for the input's code min + k"),
            E::TableEntry {
                span,
                func,
                input,
                reason,
            } => {
                use crate::numeric::table::TableError as T;
                let why = match reason {
                    T::Domain => format!("{input} is outside the domain of `{func}`"),
                    T::TooLarge => format!("{func}({input}) is too large to wrap around"),
                    T::Undecided => format!("{func}({input}) could not be rounded correctly"),
                };
                let help = match reason {
                    T::Domain => "the input's proven range must lie in the domain: clip it first",
                    T::TooLarge => "give the output type a saturating mode (`sat`)",
                    T::Undecided => "use another output type",
                };
                error(E182, format!("no table entry for the input {input}"))
                    .label(*span, why)
                    .help(help)
            }
            E::TableType { span, user: false } => {
                error(E183, "a table of a function needs its output type")
                    .label(*span, "no output type")
                    .help("add it: `table(x, sigmoid, ufixed<8, 0, rnd, sat>)`")
            }
            E::TableType { span, user: true } => {
                error(E184, "a user table has its own type")
                    .label(*span, "not the table's type")
                    .help("the entries have the param's type: remove this one")
            }
            E::DenseWeights {
                span,
                input,
                expected,
                found,
            } => error(
                E185,
                format!("dense weights for a {} input are {}", dims(input), dims(expected)),
            )
            .label(*span, format!("found {}", shape_words(found)))
            .help("a param `[O, C*H*W]` (ONNX Flatten order: C, H, W), or `[O, C, H, W]`"),
            E::ShiftAmount { span, amount } => {
                error(E157, format!("cannot shift by {amount}")).label(*span, "shift amounts are 0 to 126")
            }
            E::LoadFailed { span, path, reason } => {
                error(E160, format!("cannot read `{path}`")).label(*span, reason.clone())
            }
            E::BadNpy { span, path, reason } => {
                error(E161, format!("`{path}` is not a valid .npy file")).label(*span, reason.clone())
            }
            E::NpyShape {
                span,
                path,
                declared,
                found,
            } => error(E162, format!("`{path}` has shape {}", dims(found)))
                .label(*span, format!("declared {}", dims(declared))),
            E::NpyValue { span, path, reason } => {
                error(E163, format!("`{path}` holds a value the type cannot")).label(*span, reason.clone())
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
