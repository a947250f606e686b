//! The HLS emitter's errors (`hls::HlsError`): E4xx.

use super::{dims, error, list};
use crate::diag::codes::*;
use crate::diag::{Diagnostic, Report};

impl Report for crate::hls::HlsError {
    fn diagnostic(&self) -> Diagnostic {
        use crate::hls::HlsError as E;
        match self {
            E::TooWide { span, stage, width, limit } => error(
                E400,
                format!("`{stage}` needs a {width}-bit value; the HLS emitter supports up to {limit} bits"),
            )
            .label(*span, format!("{width} bits wide"))
            .help("narrow the value with `as` before this point"),
            E::WideConstant { span, name, width } => error(
                E401,
                format!("constant `{name}` ({width} bits) cannot be written exactly as a C++ literal"),
            )
            .label(*span, "this constant")
            .note("the emitter writes integers up to 64 bits and fixed-point codes up to 53 bits"),
            E::Unsupported { span, what } => {
                error(E402, format!("the HLS backend does not support {what}")).label(*span, "here")
            }
            E::UnknownStage { stage, available } => error(
                E403,
                format!("--parallel names `{stage}`, which is not a stage of the pipeline"),
            )
            .note(format!("its stages are {}", list(available))),
            E::BadParallel { text } => error(E404, format!("cannot read the parallelism `{text}`"))
                .help("write STAGE=pe:N or STAGE=pe:N,simd:M with N, M >= 1"),
            E::FactorNotDividing { span, stage, knob, factor, extent } => error(
                E405,
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
                E406,
                format!("`{}` does not apply to `{stage}`: it has no conv or deconv reduction", knob.name()),
            )
            .label(*span, "this stage"),
            E::Golden(run) => {
                let mut d = run.diagnostic();
                d.message = format!("computing the testbench's golden values failed: {}", d.message);
                d
            }
            E::TestbenchInput { name, expected, found } => error(
                E407,
                format!("testbench input `{name}` has shape {}, expected {}", dims(found), dims(expected)),
            ),
        }
    }
}
