//! Pointwise (1x1) convolutions whose operands are wider than u8 x i8
//! (`Operands::Wide`): 16-bit inputs (a `fixed<16, 6>` activation, as
//! hls4ml models store them), or bytes times weights of 9 to 16 bits. The
//! AVX-512 kernel (`machine::pointwise16`) widens the inputs to 16-bit
//! pairs of channels and sums them with `vpdpwssd` (two 16 x 16-bit
//! products a 32-bit lane), then runs the stage's tail; the AVX2 one
//! (`machine::pointwise16_avx2`) with `vpmaddwd` and `vpaddd`.

use super::{Kind, NativeStage, Requant};
use crate::ir::{Op, Program};
use crate::jit::pattern::{ConvKind, ConvPattern, Operands};
use crate::jit::plan::{Plan, Stage};
use crate::jit::Isa;

/// The 16-bit pointwise stage for `pattern`, when its operands fit 16-bit
/// lanes and its accumulators 32 bits.
pub(super) fn plan_pointwise16(
    program: &Program,
    plan: &Plan,
    stage: &Stage,
    pattern: &ConvPattern,
    requant: Requant,
    isa: Isa,
) -> Option<NativeStage> {
    if pattern.kind != ConvKind::Pointwise
        || pattern.operands != Operands::Wide
        || requant.residual.is_some()
    {
        return None;
    }
    let (cout, cin, _, _) = pattern.weights;
    let Op::Constant { data } = &program.nodes[pattern.w].op else {
        return None;
    };
    let xr = program.nodes[pattern.x].range();
    let i16_range = i128::from(i16::MIN)..=i128::from(i16::MAX);
    if data.len() != cout * cin
        || !data.iter().all(|v| i16_range.contains(v))
        || !i16_range.contains(&xr.lo)
        || !i16_range.contains(&xr.hi)
        || !crate::jit::expr::accumulators_fit_32_bits(data, cin, xr)
    {
        return None;
    }
    let xb = plan.buffer_of[pattern.x]?;
    let ob = plan.buffer_of[stage.root]?;
    let (xbuf, out) = (&plan.buffers[xb], &plan.buffers[ob]);
    // Bytes or 16-bit elements in; 8-, 16- or 32-bit elements out.
    if !matches!(xbuf.elem.bytes, 1 | 2) || !matches!(out.elem.bytes, 1 | 2 | 4) {
        return None;
    }
    let d = program.nodes[stage.root].shape.chw();
    let pairs = cin.div_ceil(2);
    // `[cout][pairs]`: channels `2p` (low half) and `2p + 1` (high half).
    let mut packed = vec![0i32; cout * pairs];
    for o in 0..cout {
        for i in 0..cin {
            let half = (data[o * cin + i] as i16 as u16 as u32) << (16 * (i % 2));
            packed[o * pairs + i / 2] |= half as i32;
        }
    }
    NativeStage {
        kind: Kind::Pointwise16 {
            cin,
            pairs,
            in_bytes: xbuf.elem.bytes,
            in_signed: xbuf.elem.signed,
        },
        x: super::rows(plan, xb),
        out: super::rows(plan, ob),
        channels: d.c,
        height: d.h,
        width: d.w,
        weights: packed,
        windows: vec![],
        requant,
        isa,
        residual: None,
        out_bytes: out.elem.bytes,
    }
    .fits(plan)
}
