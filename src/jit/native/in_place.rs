//! Pipeline inputs planned without a halo, so that a caller's array can be
//! the input buffer itself (`CompiledPipeline::input_direct`): no copy of
//! each image into a zero-padded buffer.
//!
//! A halo exists for the stages that read their zero padding from memory.
//! An input keeps it unless every stage reading it with padding is a kernel
//! that pads at the borders itself (today the AVX-512 depthwise kernel,
//! `Kind::Depthwise::borders`); readers without padding (pointwise,
//! elementwise) need no halo. So the choice is per input and follows from
//! its readers: one Cranelift or direct-convolution reader with padding
//! keeps the halo (and the copy).

use super::{plan_native, Kind, NativeStage};
use crate::ir::{Pads, Program};
use crate::jit::plan::{read_halo, spread_planes, Plan, Stage};
use crate::jit::Isa;

/// `plan` with the halo of every input whose padded readers all pad at the
/// borders under `isa` (the native kernels' instruction set) removed.
pub(crate) fn unpad_inputs(program: &Program, plan: Plan, isa: Option<Isa>) -> Plan {
    let Some(isa) = isa else {
        return plan;
    };
    let mut plan = plan;
    for info in &program.inputs {
        let Some(b) = plan.buffer_of[info.node] else {
            continue;
        };
        if plan.buffers[b].halo == Pads::default() {
            continue;
        }
        let mut candidate = plan.clone();
        candidate.buffers[b].halo = Pads::default();
        spread_planes(&mut candidate.buffers[b]);
        let pads_itself = |stage: &Stage| match stage.core.map(|k| read_halo(program, k)) {
            Some(Ok(Some((x, halo)))) if x == info.node && halo != Pads::default() => {
                plan_native(program, &candidate, stage, isa).is_some_and(|ns| ns.pads_at_borders())
            }
            // No core, or a core that reads no padding of this input.
            Some(Ok(_)) | None => true,
            Some(Err(_)) => false,
        };
        if candidate.stages.iter().all(pads_itself) {
            plan = candidate;
        }
    }
    plan
}

impl NativeStage {
    /// Whether the kernel takes its zero padding from the borders of its
    /// input rather than from a halo.
    pub fn pads_at_borders(&self) -> bool {
        matches!(
            self.kind,
            Kind::Depthwise {
                borders: Some(_),
                ..
            } | Kind::Wide16 { .. }
        )
    }

    /// Whether every load of the kernel stays inside its buffers' planned
    /// bytes (no spare bytes read past the end), so that its input may be
    /// a caller's array: the depthwise and wide-operand kernels that pad
    /// at the borders (masked loads), and the transposed one (it copies
    /// exact rows).
    pub fn reads_within_buffers(&self) -> bool {
        self.residual.is_none()
            && (self.pads_at_borders() || matches!(self.kind, Kind::Deconv { .. }))
    }
}
