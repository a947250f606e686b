//! Precompiled 512-bit kernels for the two hottest stage shapes, chosen at
//! compile time when the CPU has AVX-512 (F, BW, VBMI, VNNI):
//!
//! - pointwise (1x1) u8 x i8 convolutions, 64 pixels x 6 output channels per
//!   register block, one `vpdpbusd zmm` per 64 multiply-accumulates;
//! - depthwise u8 x i8 convolutions with stride 1 and rows of at most 4 taps,
//!   each kernel row one byte permutation (`vpermt2b`) and one `vpdpbusd`
//!   per 16 pixels;
//!
//! each followed by the requantization tail that almost every stage of a
//! fixed-point CNN ends with ([`Requant`]). Cranelift's x64 backend has only
//! 128-bit vectors; these kernels do four times the work per instruction
//! (`convoy bench` shows the difference). This module is the safe half: it
//! recognizes a stage, proves that 32-bit lanes (64-bit for the product) are
//! exact for it from the checker's ranges, and packs weights and constants.
//! The kernels themselves are in `machine::avx512` with the rest of the
//! `unsafe` code. Every other stage, and every stage on other CPUs, is
//! compiled by Cranelift.

use super::expr::dot_bound;
use super::plan::{dims, weight_dims, Plan, Stage};
use super::range::{hull, signed_bits, Span128};
use crate::ir::{CastOverflow, Elementwise, NodeId, Op, Program, Rounding, Shape};
use crate::numeric::code_bounds;
use crate::types::{Overflow, Quant};

/// Whether the host can run the kernels of this module.
pub(crate) fn host_supported() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vbmi")
            && std::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The convolution a native stage computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// 1x1, one group, stride 1, no padding. `groups` = input channels / 4,
    /// rounded up (missing channels read as zero).
    Pointwise { cin: usize, groups: usize },
    /// One input channel per output channel, stride 1, dilation 1,
    /// `kw <= 4`; `pad_top` / `pad_left` shift the window, the halo holds
    /// the zeros.
    Depthwise {
        kh: usize,
        pad_top: usize,
        pad_left: usize,
    },
    /// Depthwise transposed convolution (see `plan_deconv`): `first` is the
    /// input column, relative to `x0 / stride`, of byte 0 of the 128 bytes
    /// each 64 output columns starting at `x0` read.
    Deconv {
        kh: usize,
        stride: (usize, usize),
        pad_top: usize,
        in_h: usize,
        in_w: usize,
        first: i64,
    },
}

/// How `trunc`, `floor`, `round`, `>>` and `as` drop bits: the bias added
/// before an arithmetic shift right by `shift` (see `docs/semantics.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bias {
    /// Floor (`AP_TRN`, `floor`, `>>`).
    None,
    /// `2^shift - 1` on negative values: toward zero (`AP_TRN_ZERO`, `trunc`).
    TowardZero,
    /// `2^(shift-1)`: ties toward +inf (`AP_RND`).
    Half,
    /// `2^(shift-1) - 1`: ties toward -inf (`AP_RND_MIN_INF`).
    HalfDown,
    /// Ties toward zero (`AP_RND_ZERO`): `Half` on negative values, `HalfDown` otherwise.
    HalfTowardZero,
    /// Ties away from zero (`AP_RND_INF`, `round`): `HalfDown` on negative values.
    HalfAway,
    /// Ties to the even result (`AP_RND_CONV`): `HalfDown` plus bit `shift`.
    HalfEven,
}

impl Bias {
    fn of(q: Quant) -> Bias {
        match q {
            Quant::Trn => Bias::None,
            Quant::TrnZero => Bias::TowardZero,
            Quant::Rnd => Bias::Half,
            Quant::RndZero => Bias::HalfTowardZero,
            Quant::RndInf => Bias::HalfAway,
            Quant::RndMinInf => Bias::HalfDown,
            Quant::RndConv => Bias::HalfEven,
        }
    }

    fn of_rounding(r: Rounding) -> Bias {
        match r {
            Rounding::Floor => Bias::None,
            Rounding::Round => Bias::HalfAway,
            Rounding::Trunc => Bias::TowardZero,
        }
    }
}

/// The tail every native stage computes from the 32-bit accumulator `acc` of
/// output channel `c`, exactly as the IR chain it replaces:
///
/// ```text
/// v = clamp(acc + pre[c], lo1, hi1)                       32-bit lanes
/// q = (v * mul[c] + bias) >> shift                        64-bit lanes
/// out = low bits of clamp(q + post[c], lo2, hi2)          32-bit lanes, then the store width
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Requant {
    pub pre: Vec<i32>,
    pub lo1: i32,
    pub hi1: i32,
    /// `None`: no product and no shift (`q = v`).
    pub scale: Option<Scale>,
    pub post: Vec<i32>,
    pub lo2: i32,
    pub hi2: i32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Scale {
    pub mul: Vec<i32>,
    pub shift: u32,
    pub bias: Bias,
    /// No product (`mul` all 1) and `v + bias` within 32 bits: the shift
    /// runs on 32-bit lanes.
    pub narrow: bool,
}

/// Where one buffer's rows are: byte offsets and strides (elements are bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rows {
    pub buffer: usize,
    /// Offset of interior pixel (0, 0) of channel 0.
    pub origin: usize,
    pub stride: usize,
    pub plane: usize,
}

/// One stage handed to a precompiled kernel.
#[derive(Clone, Debug)]
pub(crate) struct NativeStage {
    pub kind: Kind,
    pub x: Rows,
    pub out: Rows,
    /// Output `[C, H, W]`.
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    /// Packed little-endian weight quads: pointwise `[cout][groups]` (input
    /// channels `4g..4g+4`), depthwise `[c][kh]` (taps of one kernel row),
    /// transposed `[c][kh][16]` (each lane's taps).
    pub weights: Vec<i32>,
    /// Transposed only: `[4][64]` byte indices of each lane's taps.
    pub windows: Vec<u8>,
    pub requant: Requant,
}

impl NativeStage {
    /// Work items (what the threads split): output rows, per channel for
    /// depthwise stages.
    pub fn items(&self) -> usize {
        match self.kind {
            Kind::Pointwise { .. } => self.height,
            Kind::Depthwise { .. } | Kind::Deconv { .. } => self.channels * self.height,
        }
    }
}

/// Positions of the tail's steps, in the order they apply.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Slot {
    Start,
    Pre,
    Clamp1,
    Mul,
    Shift,
    Post,
    Clamp2,
}

/// The native stage for `stage`, if a kernel computes it exactly.
pub(crate) fn plan_native(program: &Program, plan: &Plan, stage: &Stage) -> Option<NativeStage> {
    let k = stage.core?;
    if let Op::Deconv { x, w, geom } = &program.nodes[k].op {
        return plan_deconv(program, plan, stage, (k, *x, *w), geom);
    }
    let Op::Conv { x, w, geom } = &program.nodes[k].op else {
        return None;
    };
    let (cout, cin_g, kh, kw) = weight_dims(program, k, *w).ok()?;
    let weights = match &program.nodes[*w].op {
        Op::Constant { data } => data,
        _ => return None,
    };
    let xr = program.nodes[*x].range();
    let unit = geom.stride.h == 1 && geom.stride.w == 1;
    let narrow = xr.lo >= 0 && xr.hi <= 255 && weights.iter().all(|&v| (-128..=127).contains(&v));
    let xbuf = &plan.buffers[plan.buffer_of[*x]?];
    let out = &plan.buffers[plan.buffer_of[stage.root]?];
    if !unit || !narrow || xbuf.elem.bytes != 1 || out.elem.bytes != 1 {
        return None;
    }
    let d = dims(&program.nodes[stage.root].shape);
    let xd = dims(&program.nodes[*x].shape);
    let taps = cin_g * kh * kw;
    let (kind, packed) = if kh == 1 && kw == 1 && geom.groups == 1 && geom.pad == Default::default()
    {
        let groups = cin_g.div_ceil(4);
        let mut packed = vec![0i32; cout * groups];
        for o in 0..cout {
            for i in 0..cin_g {
                let byte = (weights[o * cin_g + i] as i8 as u8 as u32) << (8 * (i % 4));
                packed[o * groups + i / 4] |= byte as i32;
            }
        }
        (Kind::Pointwise { cin: cin_g, groups }, packed)
    } else if cin_g == 1
        && geom.groups == cout
        && xd.c == cout
        && kw <= 4
        && geom.dilation.h == 1
        && geom.dilation.w == 1
        // The halo must hold the padding (the plan makes it so; checked
        // here because the kernel reads it without bounds tests).
        && geom.pad.top <= xbuf.halo.top
        && geom.pad.left <= xbuf.halo.left
        && d.h + kh <= xd.h + xbuf.halo.bottom + geom.pad.top + 1
        && d.w + kw <= xd.w + xbuf.halo.right + geom.pad.left + 1
    {
        let mut packed = vec![0i32; cout * kh];
        for c in 0..cout {
            for ky in 0..kh {
                for kx in 0..kw {
                    let v = weights[(c * kh + ky) * kw + kx] as i8 as u8 as u32;
                    packed[c * kh + ky] |= (v << (8 * kx)) as i32;
                }
            }
        }
        let kind = Kind::Depthwise {
            kh,
            pad_top: geom.pad.top,
            pad_left: geom.pad.left,
        };
        (kind, packed)
    } else {
        return None;
    };
    // Every accumulator within 32 bits.
    accumulators_fit_32_bits(weights, taps, (xr.lo, xr.hi))?;
    let requant = match_tail(program, stage.root, k, cout)?;
    Some(NativeStage {
        kind,
        x: rows(plan, plan.buffer_of[*x]?),
        out: rows(plan, plan.buffer_of[stage.root]?),
        channels: d.c,
        height: d.h,
        width: d.w,
        weights: packed,
        windows: vec![],
        requant,
    })
}

fn rows(plan: &Plan, b: usize) -> Rows {
    let buf = &plan.buffers[b];
    Rows {
        buffer: b,
        origin: buf.offset(0, 0, 0),
        stride: buf.stride(),
        plane: buf.rows() * buf.stride(),
    }
}

/// A depthwise transposed convolution (one input channel per output
/// channel, dilation 1) whose column stride divides 16: output column `ox`
/// reads input columns `(ox + pad_left - kx) / stride` for the taps `kx`
/// of its phase, at most 4. Every 16 output columns repeat the same phase
/// pattern, so one table of byte indices (`windows`) gathers each lane's
/// taps from a zero-padded copy of the input row, and one weight vector per
/// kernel row (`weights`, 16 lanes) holds each lane's taps.
fn plan_deconv(
    program: &Program,
    plan: &Plan,
    stage: &Stage,
    (k, x, w): (NodeId, NodeId, NodeId),
    geom: &crate::ir::ConvGeom,
) -> Option<NativeStage> {
    let (cin, cout_g, kh, kw) = weight_dims(program, k, w).ok()?;
    let weights = match &program.nodes[w].op {
        Op::Constant { data } => data,
        _ => return None,
    };
    let xr = program.nodes[x].range();
    let narrow = xr.lo >= 0 && xr.hi <= 255 && weights.iter().all(|&v| (-128..=127).contains(&v));
    let xbuf = &plan.buffers[plan.buffer_of[x]?];
    let out = &plan.buffers[plan.buffer_of[stage.root]?];
    let (sh, sw) = (geom.stride.h, geom.stride.w);
    let plain = cout_g == 1
        && geom.groups == cin
        && geom.dilation.h == 1
        && geom.dilation.w == 1
        && sh >= 1
        && sw >= 1
        && 16 % sw == 0
        && kh <= 16
        && kw.div_ceil(sw) <= 4;
    if !plain || !narrow || xbuf.elem.bytes != 1 || out.elem.bytes != 1 {
        return None;
    }
    let d = dims(&program.nodes[stage.root].shape);
    let xd = dims(&program.nodes[x].shape);
    let taps = kh * kw;
    accumulators_fit_32_bits(weights, taps, (xr.lo, xr.hi))?;
    let pl = geom.pad.left as i64;
    let sw_i = sw as i64;
    // Taps of output column `col` (relative to a multiple of 16): (kx, input
    // column relative to col_base / stride).
    let lane_taps = |col: i64| -> Vec<(usize, i64)> {
        (0..kw)
            .filter(|&kx| (col + pl - kx as i64).rem_euclid(sw_i) == 0)
            .map(|kx| (kx, (col + pl - kx as i64).div_euclid(sw_i)))
            .collect()
    };
    let first = (pl - (kw as i64 - 1)).div_euclid(sw_i);
    let mut windows = vec![0u8; 4 * 64];
    for p in 0..4 {
        for i in 0..16 {
            for (t, &(_, ix)) in lane_taps((16 * p + i) as i64).iter().enumerate() {
                let at = u8::try_from(ix - first).ok().filter(|&v| v < 128)?;
                windows[p * 64 + 4 * i + t] = at;
            }
        }
    }
    let mut packed = vec![0i32; cin * kh * 16];
    for c in 0..cin {
        for ky in 0..kh {
            for i in 0..16 {
                let mut word = 0u32;
                for (t, &(kx, _)) in lane_taps(i as i64).iter().enumerate() {
                    let v = weights[(c * kh + ky) * kw + kx] as i8 as u8 as u32;
                    word |= v << (8 * t);
                }
                packed[(c * kh + ky) * 16 + i] = word as i32;
            }
        }
    }
    let requant = match_tail(program, stage.root, k, cin)?;
    Some(NativeStage {
        kind: Kind::Deconv {
            kh,
            stride: (sh, sw),
            pad_top: geom.pad.top,
            in_h: xd.h,
            in_w: xd.w,
            first,
        },
        x: rows(plan, plan.buffer_of[x]?),
        out: rows(plan, plan.buffer_of[stage.root]?),
        channels: d.c,
        height: d.h,
        width: d.w,
        weights: packed,
        windows,
        requant,
    })
}

/// `Some` when every dot product of `taps` weights (one group per output
/// channel) with inputs in `x` fits 32 bits.
fn accumulators_fit_32_bits(weights: &[i128], taps: usize, x: Span128) -> Option<()> {
    let mut bound: Span128 = (0, 0);
    for channel in weights.chunks(taps.max(1)) {
        bound = hull(bound, dot_bound(channel, x)?);
    }
    (signed_bits(bound.0, bound.1) <= 32).then_some(())
}

fn fits_i32(lo: i128, hi: i128) -> bool {
    lo >= i128::from(i32::MIN) && hi <= i128::from(i32::MAX)
}

/// The constant operand of a binary node whose other operand is `chain`,
/// one raw value per output channel, shifted left by `align` bits.
fn per_channel(program: &Program, other: NodeId, channels: usize, align: u32) -> Option<Vec<i128>> {
    let Op::Constant { data } = &program.nodes[other].op else {
        return None;
    };
    let values: Vec<i128> = match program.nodes[other].shape {
        Shape::Scalar => vec![*data.first()?; channels],
        Shape::Vector(n) if n == channels && data.len() == n => data.clone(),
        _ => return None,
    };
    if align > 32 {
        return None;
    }
    values
        .into_iter()
        .map(|v| v.checked_mul(1i128 << align))
        .collect()
}

fn to_i32(values: &[i128]) -> Option<Vec<i32>> {
    values.iter().map(|&v| i32::try_from(v).ok()).collect()
}

/// Matches the elementwise chain from the core `k` up to `root` against
/// [`Requant`]; `None` when a step does not fit its slots or a value could
/// leave its lane width.
fn match_tail(program: &Program, root: NodeId, k: NodeId, channels: usize) -> Option<Requant> {
    // The chain, bottom-up: each node's operand on the chain is the one below.
    let mut chain = vec![root];
    while *chain.last()? != k {
        let n = *chain.last()?;
        let below = match &program.nodes[n].op {
            Op::Relu(a) | Op::Round(a, _) | Op::Shr(a, _) => *a,
            Op::Cast { x, .. } => *x,
            Op::Binary(_, a, b) => {
                let on = |m: NodeId| m == k || chain_reaches(program, m, k);
                match (on(*a), on(*b)) {
                    (true, false) => *a,
                    (false, true) => *b,
                    _ => return None,
                }
            }
            _ => return None,
        };
        chain.push(below);
    }
    chain.reverse();
    let mut slot = Slot::Start;
    let mut pre = vec![0i128; channels];
    let mut post = vec![0i128; channels];
    let (mut lo1, mut hi1) = (i128::from(i32::MIN), i128::from(i32::MAX));
    let (mut lo2, mut hi2) = (lo1, hi1);
    let mut mul: Option<Vec<i128>> = None;
    let mut shift: Option<(u32, Bias)> = None;
    let mut mul_range = (0, 0);
    let mut shift_input = crate::ir::Interval::point(0);
    let mut frac = program.nodes[k].frac;
    for pair in chain.windows(2) {
        let (below, n) = (pair[0], pair[1]);
        let node = &program.nodes[n];
        let r = node.range();
        match &node.op {
            Op::Relu(_) => clamp_at(
                &mut slot,
                (0, i128::MAX),
                &mut lo1,
                &mut hi1,
                &mut lo2,
                &mut hi2,
            )?,
            Op::Binary(op, a, b) => {
                let other = if *a == below { *b } else { *a };
                if frac != node.frac && *op != Elementwise::Mul {
                    return None;
                }
                let other_frac = program.nodes[other].frac;
                match op {
                    Elementwise::Add | Elementwise::Sub => {
                        if *op == Elementwise::Sub && *a != below {
                            return None;
                        }
                        let mut v = per_channel(
                            program,
                            other,
                            channels,
                            node.frac.checked_sub(other_frac)?,
                        )?;
                        if *op == Elementwise::Sub {
                            v.iter_mut().for_each(|x| *x = -*x);
                        }
                        let target = if slot <= Slot::Pre {
                            slot = Slot::Pre;
                            &mut pre
                        } else if slot <= Slot::Post {
                            slot = Slot::Post;
                            &mut post
                        } else {
                            return None;
                        };
                        for (t, x) in target.iter_mut().zip(v) {
                            *t += x;
                        }
                    }
                    Elementwise::Max | Elementwise::Min => {
                        let v = per_channel(
                            program,
                            other,
                            channels,
                            node.frac.checked_sub(other_frac)?,
                        )?;
                        if v.iter().any(|&x| x != v[0]) {
                            return None;
                        }
                        let bound = if *op == Elementwise::Max {
                            (v[0], i128::MAX)
                        } else {
                            (i128::MIN, v[0])
                        };
                        clamp_at(&mut slot, bound, &mut lo1, &mut hi1, &mut lo2, &mut hi2)?;
                    }
                    Elementwise::Mul => {
                        if slot > Slot::Mul || mul.is_some() {
                            return None;
                        }
                        slot = Slot::Mul;
                        mul = Some(per_channel(program, other, channels, 0)?);
                        mul_range = (r.lo, r.hi);
                        frac = node.frac;
                    }
                }
            }
            Op::Round(_, rounding) => {
                shift_input = program.nodes[below].range();
                set_shift(&mut slot, &mut shift, frac, Bias::of_rounding(*rounding))?;
                frac = 0;
            }
            Op::Shr(_, s) => {
                shift_input = program.nodes[below].range();
                set_shift(&mut slot, &mut shift, *s, Bias::None)?
            }
            Op::Cast {
                to,
                quant,
                overflow,
                ..
            } => {
                if n != root || to.frac_bits() < 0 {
                    return None;
                }
                let s = frac.checked_sub(to.frac_bits() as u32)?;
                if s > 0 {
                    shift_input = program.nodes[below].range();
                    set_shift(&mut slot, &mut shift, s, Bias::of(*quant))?;
                    // The rounded value before the overflow step, within 32 bits.
                    let below_range = program.nodes[below].range();
                    let (qa, qb) = ((below_range.lo >> s) - 1, (below_range.hi >> s) + 1);
                    if !fits_i32(qa, qb) {
                        return None;
                    }
                }
                let (cl, ch) = code_bounds(to.signed, to.width);
                match overflow {
                    CastOverflow::Proven => {}
                    CastOverflow::Mode(Overflow::Sat) => {
                        clamp_at(&mut slot, (cl, ch), &mut lo1, &mut hi1, &mut lo2, &mut hi2)?
                    }
                    CastOverflow::Mode(Overflow::SatSym) => {
                        let low = if to.signed { cl + 1 } else { cl };
                        clamp_at(&mut slot, (low, ch), &mut lo1, &mut hi1, &mut lo2, &mut hi2)?
                    }
                    // The store keeps the low 8 bits, which is the wrap to an 8-bit type.
                    CastOverflow::Mode(Overflow::Wrap) if to.width == 8 => {}
                    CastOverflow::Mode(_) => return None,
                }
                frac = to.frac_bits() as u32;
                continue;
            }
            _ => return None,
        }
        if node.frac != frac && !matches!(node.op, Op::Round(..)) {
            return None;
        }
        // Every value outside the 64-bit product stays within 32 bits.
        let in_product = matches!(node.op, Op::Binary(Elementwise::Mul, ..));
        if !in_product && !fits_i32(r.lo, r.hi) {
            return None;
        }
    }
    let clamp32 = |v: i128| v.clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32;
    let scale = match (mul, shift) {
        (None, None) => None,
        (m, s) => {
            let (shift, bias) = s.unwrap_or((0, Bias::None));
            // Without a shift the product itself goes back to 32-bit lanes.
            if shift == 0 && !fits_i32(mul_range.0, mul_range.1) {
                return None;
            }
            let bias = if shift == 0 { Bias::None } else { bias };
            let narrow = m.is_none()
                && (1..31).contains(&shift)
                && fits_i32(shift_input.lo - (1 << shift), shift_input.hi + (1 << shift));
            let m = m.unwrap_or_else(|| vec![1; channels]);
            if shift > 62 {
                return None;
            }
            Some(Scale {
                mul: to_i32(&m)?,
                shift,
                bias,
                narrow,
            })
        }
    };
    // Clamps commute only while their bounds do not cross.
    if lo1 > hi1 || lo2 > hi2 || pre.iter().chain(&post).any(|&v| !fits_i32(v, v)) {
        return None;
    }
    Some(Requant {
        pre: to_i32(&pre)?,
        lo1: clamp32(lo1),
        hi1: clamp32(hi1),
        scale,
        post: to_i32(&post)?,
        lo2: clamp32(lo2),
        hi2: clamp32(hi2),
    })
}

/// Whether `n` reads (transitively, through elementwise nodes) node `k`.
fn chain_reaches(program: &Program, n: NodeId, k: NodeId) -> bool {
    if n == k {
        return true;
    }
    match &program.nodes[n].op {
        Op::Relu(a) | Op::Round(a, _) | Op::Shr(a, _) | Op::Neg(a) | Op::Shl(a, _) => {
            chain_reaches(program, *a, k)
        }
        Op::Cast { x, .. } => chain_reaches(program, *x, k),
        Op::Binary(_, a, b) => chain_reaches(program, *a, k) || chain_reaches(program, *b, k),
        _ => false,
    }
}

fn set_shift(slot: &mut Slot, shift: &mut Option<(u32, Bias)>, s: u32, bias: Bias) -> Option<()> {
    if *slot > Slot::Shift || shift.is_some() {
        return None;
    }
    *slot = Slot::Shift;
    *shift = Some((s, bias));
    Some(())
}

/// Narrows the first clamp (before the product) or the second (after the
/// post-add), whichever the chain has reached.
fn clamp_at(
    slot: &mut Slot,
    (lo, hi): (i128, i128),
    lo1: &mut i128,
    hi1: &mut i128,
    lo2: &mut i128,
    hi2: &mut i128,
) -> Option<()> {
    let (l, h) = if *slot <= Slot::Clamp1 {
        *slot = Slot::Clamp1;
        (lo1, hi1)
    } else {
        *slot = Slot::Clamp2;
        (lo2, hi2)
    };
    *l = (*l).max(lo);
    *h = (*h).min(hi);
    Some(())
}
