//! Convolutions whose operands are wider than u8 x i8 (`Operands::Wide`):
//! 16-bit inputs (a `fixed<16, 6>` activation, as hls4ml models store
//! them), or bytes times weights of 9 to 16 bits; 1x1, or KxK windows of
//! one group with column stride 1 (any row stride, dilation and padding).
//! The AVX-512 kernel (`machine::pointwise16`) widens the inputs of each
//! window tap to 16-bit pairs of channels (zero outside the input) and
//! sums them with `vpdpwssd` (two 16 x 16-bit products a 32-bit lane),
//! then runs the stage's tail; the AVX2 one (`machine::pointwise16_avx2`)
//! with `vpmaddwd` and `vpaddd`.

use super::{Kind, NativeStage, Requant};
use crate::ir::{Op, Program};
use crate::jit::pattern::{ConvKind, ConvPattern, Operands};
use crate::jit::plan::{Plan, Stage};
use crate::jit::Isa;

/// The window of a [`Kind::Wide16`] stage: output pixel `(oy, ox)` reads,
/// for tap `t`, input row `oy * stride_h + taps[t].0` and column `ox +
/// taps[t].1` (zero outside `in_h` x `in_w`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Window16 {
    pub taps: Vec<(i64, i64)>,
    pub stride_h: usize,
    pub in_h: usize,
    pub in_w: usize,
}

/// The 16-bit stage for `pattern`, when its operands fit 16-bit lanes and
/// its accumulators 32 bits.
pub(super) fn plan_wide16(
    program: &Program,
    plan: &Plan,
    stage: &Stage,
    pattern: &ConvPattern,
    requant: Requant,
    isa: Isa,
) -> Option<NativeStage> {
    let g = pattern.geom;
    let shape_ok = matches!(
        pattern.kind,
        ConvKind::Pointwise | ConvKind::Full | ConvKind::FirstLayer
    ) && g.groups.max(1) == 1
        && g.stride.w == 1
        && g.stride.h >= 1
        && g.dilation.h >= 1
        && g.dilation.w >= 1;
    if !shape_ok || pattern.operands != Operands::Wide || requant.residual.is_some() {
        return None;
    }
    let (cout, cin, kh, kw) = pattern.weights;
    let Op::Constant { data } = &program.nodes[pattern.w].op else {
        return None;
    };
    let xr = program.nodes[pattern.x].range();
    let i16_range = i128::from(i16::MIN)..=i128::from(i16::MAX);
    let taps = kh * kw;
    if data.len() != cout * cin * taps
        || taps == 0
        || taps > 121
        || !data.iter().all(|v| i16_range.contains(v))
        || !i16_range.contains(&xr.lo)
        || !i16_range.contains(&xr.hi)
        || !crate::jit::expr::accumulators_fit_32_bits(data, cin * taps, xr)
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
    let xd = pattern.input;
    if xbuf.dims != xd {
        return None;
    }
    let pairs = cin.div_ceil(2);
    // `[cout][tap][pair]`: channels `2p` (low half) and `2p + 1` (high
    // half) of the tap.
    let mut packed = vec![0i32; cout * taps * pairs];
    for o in 0..cout {
        for i in 0..cin {
            for t in 0..taps {
                let v = data[(o * cin + i) * taps + t];
                let half = (v as i16 as u16 as u32) << (16 * (i % 2));
                packed[(o * taps + t) * pairs + i / 2] |= half as i32;
            }
        }
    }
    let window = Window16 {
        taps: (0..kh)
            .flat_map(|ky| {
                (0..kw).map(move |kx| {
                    (
                        (ky * g.dilation.h) as i64 - g.pad.top as i64,
                        (kx * g.dilation.w) as i64 - g.pad.left as i64,
                    )
                })
            })
            .collect(),
        stride_h: g.stride.h,
        in_h: xd.h,
        in_w: xd.w,
    };
    NativeStage {
        kind: Kind::Wide16 {
            cin,
            pairs,
            in_bytes: xbuf.elem.bytes,
            in_signed: xbuf.elem.signed,
            window: Box::new(window),
        },
        x: super::rows(plan, xb),
        out: super::rows(plan, ob),
        channels: d.c,
        height: d.h,
        width: d.w,
        weights: packed.into(),
        windows: vec![],
        requant,
        isa,
        residual: None,
        out_bytes: out.elem.bytes,
        pairs: Default::default(),
        words: Default::default(),
        planes: Default::default(),
        blocked_avx2: Default::default(),
    }
    .fits(plan)
}
