//! Precompiled 512-bit kernels for the stage shapes that dominate
//! fixed-point CNNs, chosen at compile time when the CPU has AVX-512 (F, BW,
//! VBMI, VNNI):
//!
//! - pointwise (1x1) u8 x i8 convolutions, 64 pixels x 6 output channels per
//!   register block, one `vpdpbusd zmm` per 64 multiply-accumulates;
//! - depthwise u8 x i8 convolutions with stride 1 and rows of at most 4 taps,
//!   each kernel row one byte permutation (`vpermt2b`) and one `vpdpbusd`
//!   per 16 pixels;
//! - depthwise transposed convolutions whose column stride divides 16
//!   (`plan_deconv`);
//!
//! each followed by the requantization tail that almost every stage of a
//! fixed-point CNN ends with ([`Requant`], matched in `requant`).
//! Cranelift's x64 backend has only 128-bit vectors; these kernels do four times the work per
//! instruction (`convoy bench --no-kernels` shows the difference). This
//! module is the safe half: it recognizes a stage, proves that 32-bit lanes
//! (64-bit for the product) are exact for it from the checker's ranges, and
//! packs weights and constants. The kernels themselves are in
//! `machine::avx512` with the rest of the `unsafe` code. Every other stage,
//! and every stage on other CPUs, is compiled by Cranelift.

pub(crate) mod byte_pairs;
mod conv;
mod elementwise;
mod fits;
mod fuse;
mod in_place;
mod lanes16;
pub(crate) mod plane_windows;
mod requant;
mod row_tail;
mod rowwise;
mod tiles;
mod unpool;
mod wide16;

pub(crate) use super::machine::Words;
pub(crate) use conv::{
    avx512_channels, avx512_rows, avx512_vectors, blocked_weights, lanes_block, Direct, Lanes,
    Source, Step, LANES_BLOCKS,
};
pub(crate) use fuse::BandPair;
pub(crate) use in_place::unpad_inputs;
use requant::{match_tail, match_tail_split};
pub(crate) use requant::{Bias, DerivedBy, Requant, Scale};
pub(crate) use rowwise::{plan_rows, Grid, RowPart, RowStage, Special};
pub(crate) use tiles::AmxPlan;
pub(crate) use wide16::Window16;

use super::expr::{accumulators_fit_32_bits, u8_x_i8_weights};
use super::pattern::{classify, ConvKind, ConvPattern, Operands};
use super::plan::{self, weight_dims, Plan, Stage};
use super::Isa;
use crate::ir::{NodeId, Program};

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

/// Whether the host can run the AVX2 kernels (`vpdpbusd` on 256-bit
/// vectors with AVX-VNNI, else `vpmaddwd`), and whether `--isa avx2` may
/// be forced (Cranelift's vectors without EVEX encodings).
pub(crate) fn host_supports_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether the host has `vpdpbusd` on 256-bit vectors, in either encoding
/// (AVX-VNNI, or AVX-512 VNNI with VL): `--isa avx2-vnni`.
pub(crate) fn host_supports_vnni256() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avxvnni")
            || (std::is_x86_feature_detected!("avx512vnni")
                && std::is_x86_feature_detected!("avx512vl"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The convolution a native stage computes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// 1x1, one group, no padding. `groups` = input channels / 4, rounded
    /// up (missing channels read as zero). `stride`: (rows, columns), (1, 1)
    /// but for the AVX2 kernel, which also takes rows 1 to 4 and columns 1
    /// or 2 (output pixel `(y, x)` reads input pixel `(sh y, sw x)`).
    Pointwise {
        cin: usize,
        groups: usize,
        stride: (usize, usize),
    },
    /// One input channel per output channel, strides 1 to 4, column
    /// dilation 1 to 4, `kw <= 8`; `pad_top` / `pad_left` shift the window.
    /// The zero padding comes from the input's halo, or, when `borders`
    /// holds the input's `(H, W)` (a buffer without the halo: a pipeline
    /// input read in place from the caller's array), from the kernel
    /// itself: rows outside the input are skipped, columns outside it
    /// masked off the loads (`depthwise_windows`).
    Depthwise {
        kh: usize,
        pad_top: usize,
        pad_left: usize,
        /// Row and column strides (1 to 4), row dilation.
        stride: (usize, usize),
        dilation_h: usize,
        /// Weight quads per kernel row (`kw` up to 4 or 8) and the columns
        /// between them (4 column dilations): quad `q` of a row is a row
        /// of at most 4 taps `q * quads.1` columns to the right.
        quads: (usize, usize),
        /// Byte offset, from column `stride_w * x0`, of the 128 bytes
        /// each of the 4 pixel vectors gathers its windows from
        /// (`windows[64 p ..]` indexes them).
        bases: [usize; 4],
        /// The input's `(H, W)` when the kernel pads at the borders.
        borders: Option<(usize, usize)>,
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
    /// Any other u8 x i8 convolution (`conv::Direct`).
    Direct(Box<Direct>),
    /// A convolution of wider operands (`wide16`): `cin` input channels
    /// in `pairs` 16-bit pairs a tap of `window`, inputs of `in_bytes` (1
    /// or 2) bytes, signed or not; `x` counts elements.
    Wide16 {
        cin: usize,
        pairs: usize,
        in_bytes: usize,
        in_signed: bool,
        window: Box<Window16>,
    },
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

/// One stage handed to a precompiled kernel. Built only by [`plan_native`],
/// which checks with [`NativeStage::fits`] that every byte the kernel reads
/// or writes lies in the plan's buffers (the fields are private so that no
/// stage skips that check).
#[derive(Clone, Debug)]
pub(crate) struct NativeStage {
    kind: Kind,
    x: Rows,
    out: Rows,
    /// Output `[C, H, W]`.
    channels: usize,
    height: usize,
    width: usize,
    /// Packed little-endian weight quads: pointwise `[cout][groups]` (input
    /// channels `4g..4g+4`), depthwise `[c][kh]` (taps of one kernel row),
    /// transposed `[c][kh][16]` (each lane's taps).
    weights: Words,
    /// Transposed only: `[4][64]` byte indices of each lane's taps.
    windows: Vec<u8>,
    requant: Requant,
    /// The instruction set of the kernel: `Avx512`, or `Avx2` (direct,
    /// pointwise and depthwise convolutions).
    isa: Isa,
    /// Where the tail's residual map is (`Requant::residual`; direct
    /// convolutions only), and whether its bytes are signed.
    residual: Option<(Rows, bool)>,
    /// Bytes per output element: 1, or (direct convolutions,
    /// `conv::plan_direct`) 2 or 4, the tail's
    /// 32-bit results stored as their low 16 bits or whole. `out`'s
    /// offsets and strides count elements.
    out_bytes: usize,
    /// The weights split into byte pairs for the AVX2 kernels without
    /// VNNI ([`byte_pairs`]), planned on the stage's first run and kept
    /// (planning per job cost a 3x3 128-channel stage 20%).
    pairs: std::sync::OnceLock<Option<byte_pairs::BytePairs>>,
    /// The same for the depthwise kernel that multiplies adjacent bytes
    /// (stride 2 without VNNI).
    words: std::sync::OnceLock<byte_pairs::WordTerms>,
    /// The depthwise plane kernel's groups of taps and tables of a whole
    /// channel ([`plane_windows`]), made on the stage's first run.
    planes: std::sync::OnceLock<Option<(plane_windows::PlaneTaps, plane_windows::PlaneWindows)>>,
    /// The AVX2 direct kernel's weights in channel blocks of `.0`
    /// ([`conv::blocked_weights`]), made on the stage's first run (per run,
    /// they took 4% of a MobileNetV2 block).
    blocked_avx2: std::sync::OnceLock<(usize, Vec<i32>)>,
}

impl NativeStage {
    /// Work items (what the threads split): output rows, per channel for
    /// depthwise stages.
    pub fn items(&self) -> usize {
        match self.kind {
            Kind::Pointwise { .. } | Kind::Direct(_) | Kind::Wide16 { .. } => self.height,
            Kind::Depthwise { .. } | Kind::Deconv { .. } => self.channels * self.height,
        }
    }

    /// The kernel family's name (`StageInfo::kernel`).
    pub fn kernel_name(&self) -> &'static str {
        match &self.kind {
            Kind::Pointwise { .. } => "pointwise",
            Kind::Depthwise { .. } => "depthwise",
            Kind::Deconv { .. } => "depthwise deconv",
            Kind::Direct(d) if d.amx.is_some() => "direct amx",
            Kind::Direct(_) => "direct",
            Kind::Wide16 { .. } => "wide16",
        }
    }

    /// Runs the stage without AMX tiles (`JitOptions::amx` off).
    pub fn drop_amx(&mut self) {
        if let Kind::Direct(d) = &mut self.kind {
            d.amx = None;
        }
    }

    /// Whether a depthwise kernel runs the stage (one input channel a
    /// group, transposed or not).
    pub fn is_depthwise(&self) -> bool {
        matches!(self.kind, Kind::Depthwise { .. } | Kind::Deconv { .. })
    }

    pub fn kind(&self) -> &Kind {
        &self.kind
    }
    pub fn x(&self) -> Rows {
        self.x
    }
    pub fn out(&self) -> Rows {
        self.out
    }
    pub fn channels(&self) -> usize {
        self.channels
    }
    pub fn height(&self) -> usize {
        self.height
    }
    pub fn width(&self) -> usize {
        self.width
    }
    pub fn weights(&self) -> &[i32] {
        &self.weights
    }
    pub fn windows(&self) -> &[u8] {
        &self.windows
    }
    pub fn requant(&self) -> &Requant {
        &self.requant
    }
    pub fn isa(&self) -> Isa {
        self.isa
    }
    pub fn residual(&self) -> Option<(Rows, bool)> {
        self.residual
    }
    pub fn out_bytes(&self) -> usize {
        self.out_bytes
    }
    /// The stage's byte pairs, planned by `plan` on the first call.
    pub fn byte_pairs(
        &self,
        plan: impl FnOnce() -> Option<byte_pairs::BytePairs>,
    ) -> Option<&byte_pairs::BytePairs> {
        self.pairs.get_or_init(plan).as_ref()
    }
    /// The stage's word terms, planned by `plan` on the first call.
    pub fn word_terms(
        &self,
        plan: impl FnOnce() -> byte_pairs::WordTerms,
    ) -> &byte_pairs::WordTerms {
        self.words.get_or_init(plan)
    }
    /// The AVX2 direct kernel's blocked weights for channel blocks of
    /// `per`, made by `make` on the first call; None when an earlier call
    /// made them for another `per`.
    pub fn blocked_avx2(&self, per: usize, make: impl FnOnce() -> Vec<i32>) -> Option<&[i32]> {
        let (made_for, weights) = self.blocked_avx2.get_or_init(|| (per, make()));
        (*made_for == per).then_some(&weights[..])
    }
    /// The plane kernel's groups of taps and tables of a whole channel's
    /// rows, made on the first call (`None` unless `plane_windows::fits`).
    pub fn plane_windows(
        &self,
    ) -> Option<&(plane_windows::PlaneTaps, plane_windows::PlaneWindows)> {
        let make = || {
            if !plane_windows::fits(self) {
                return None;
            }
            let taps = plane_windows::PlaneTaps::new(self)?;
            let whole = plane_windows::PlaneWindows::new(self, &taps, 0, self.height)?;
            Some((taps, whole))
        };
        self.planes.get_or_init(make).as_ref()
    }
}

/// The native stage for `stage`, if a kernel computes it exactly: the
/// convolution's [`ConvPattern`] picks the kernel, the tail must match
/// [`Requant`].
pub(crate) fn plan_native(
    program: &Program,
    plan: &Plan,
    stage: &Stage,
    isa: Isa,
) -> Option<NativeStage> {
    let pattern = classify(program, stage.core?)?;
    // The AVX-512 tail also multiplies by a factor per sign (a PReLU).
    let tail = |k: NodeId| match isa {
        Isa::Avx512 => match_tail_split(program, stage.root, k, pattern.output.c),
        _ => match_tail(program, stage.root, k, pattern.output.c),
    };
    if pattern.operands == Operands::I8xI8 {
        // Only the direct kernels flip signed inputs.
        let requant = tail(pattern.core)?;
        return conv::plan_direct(program, plan, &pattern, stage.root, requant, isa);
    }
    if pattern.operands == Operands::Wide {
        let requant = tail(pattern.core)?;
        return wide16::plan_wide16(program, plan, stage, &pattern, requant, isa);
    }
    if pattern.operands != Operands::U8xI8 {
        return None;
    }
    if isa.is_avx2() {
        let requant = tail(pattern.core)?;
        // The pointwise and depthwise kernels have AVX2 forms (a residual
        // map only in the pointwise one; depthwise windows of 4 pixels
        // within 16 bytes, or rows of adjacent taps with column stride 1 or
        // 2); every AVX2 kernel runs with or without AVX-VNNI.
        // (`pointwise_stride` is `(1, 1)` for every `ConvKind::Pointwise`.)
        let small = pointwise_stride(&pattern).is_some()
            || (pattern.kind == ConvKind::Depthwise && requant.residual.is_none());
        return small
            .then(|| {
                plan_pointwise_or_depthwise(program, plan, stage, &pattern, requant.clone(), isa)
            })
            .flatten()
            .filter(crate::jit::machine::avx2_fits)
            .or_else(|| conv::plan_direct(program, plan, &pattern, stage.root, requant, isa));
    }
    let (k, x, w) = (pattern.core, pattern.x, pattern.w);
    let requant = tail(k)?;
    match pattern.kind {
        _ if requant.residual.is_some() => {
            // Only the direct kernel adds a residual map.
            conv::plan_direct(program, plan, &pattern, stage.root, requant, isa)
        }
        ConvKind::Transposed { depthwise } => {
            let depthwise = depthwise
                .then(|| plan_deconv(program, plan, stage, (k, x, w), &pattern.geom, &requant))
                .flatten();
            depthwise
                .or_else(|| conv::plan_direct(program, plan, &pattern, stage.root, requant, isa))
        }
        _ => plan_pointwise_or_depthwise(program, plan, stage, &pattern, requant.clone(), isa)
            .or_else(|| conv::plan_direct(program, plan, &pattern, stage.root, requant, isa)),
    }
}

/// The (row, column) stride of a 1x1 convolution of one group without
/// padding whose stride the AVX2 pointwise kernel takes (rows 1 to 4,
/// columns 1 or 2; `Kind::Pointwise::stride`), any dilation (a 1x1 window
/// has no gaps).
fn pointwise_stride(pattern: &ConvPattern) -> Option<(usize, usize)> {
    let (_, _, kh, kw) = pattern.weights;
    let g = pattern.geom;
    let plain = matches!(
        pattern.kind,
        ConvKind::Pointwise | ConvKind::Full | ConvKind::FirstLayer
    );
    let stride = (g.stride.h, g.stride.w);
    (plain && (kh, kw) == (1, 1) && g.groups.max(1) == 1 && g.pad == Default::default())
        .then_some(stride)
        .filter(|&(sh, sw)| (1..=4).contains(&sh) && (1..=2).contains(&sw))
}

/// The pointwise kernel (strided only for `isa` AVX2), or the depthwise
/// one (strides 1 to 4, rows of at most 8 taps), when the pattern is
/// theirs; planned for `isa`.
fn plan_pointwise_or_depthwise(
    program: &Program,
    plan: &Plan,
    stage: &Stage,
    pattern: &ConvPattern,
    requant: Requant,
    isa: Isa,
) -> Option<NativeStage> {
    let x = pattern.x;
    let (cout, cin_g, kh, kw) = pattern.weights;
    let weights = u8_x_i8_weights(program, x, pattern.w)?;
    let xbuf = &plan.buffers[plan.buffer_of[x]?];
    let out = &plan.buffers[plan.buffer_of[stage.root]?];
    if xbuf.elem.bytes != 1 || out.elem.bytes != 1 {
        return None;
    }
    let d = program.nodes[stage.root].shape.chw();
    let stride = pointwise_stride(pattern).filter(|&s| s == (1, 1) || isa.is_avx2());
    // A residual map: added by the AVX2 pointwise kernel only (`fits`).
    let residual = conv::residual_map(plan, &requant, d)?;
    let (kind, packed, windows) = if let Some(stride) = stride {
        let groups = cin_g.div_ceil(4);
        let mut packed = vec![0i32; cout * groups];
        for o in 0..cout {
            for i in 0..cin_g {
                let byte = (weights[o * cin_g + i] as i8 as u8 as u32) << (8 * (i % 4));
                packed[o * groups + i / 4] |= byte as i32;
            }
        }
        let kind = Kind::Pointwise {
            cin: cin_g,
            groups,
            stride,
        };
        (kind, packed, vec![])
    } else if pattern.kind == ConvKind::Depthwise && kw <= 8 {
        let input = matches!(program.nodes[x].op, crate::ir::Op::Input { .. });
        let (kind, windows) = depthwise_windows(pattern, xbuf, d, input)?;
        // `[c][kh][quads]`: taps `4 q .. 4 q + 4` of a row in quad `q`.
        let quads = kw.div_ceil(4);
        let mut packed = vec![0i32; cout * kh * quads];
        for c in 0..cout {
            for ky in 0..kh {
                for kx in 0..kw {
                    let v = weights[(c * kh + ky) * kw + kx] as i8 as u8 as u32;
                    packed[(c * kh + ky) * quads + kx / 4] |= (v << (8 * (kx % 4))) as i32;
                }
            }
        }
        (kind, packed, windows)
    } else {
        return None;
    };
    NativeStage {
        kind,
        x: rows(plan, plan.buffer_of[x]?),
        out: rows(plan, plan.buffer_of[stage.root]?),
        channels: d.c,
        height: d.h,
        width: d.w,
        weights: packed.into(),
        windows,
        requant,
        isa,
        residual,
        out_bytes: 1,
        pairs: Default::default(),
        words: Default::default(),
        planes: Default::default(),
        blocked_avx2: Default::default(),
    }
    .fits(plan)
}

/// The window gathers of a depthwise convolution with rows of at most 4
/// taps: lane `j` of pixel vector `p` takes columns `stride_w (16 p + j) +
/// t dilation_w` (`t < 4`) of the padded row, as byte indices into the 128
/// bytes loaded at `bases[p]` (from column `stride_w x0`). `None` when an
/// index reaches past 128 bytes, or the loads of the last pixel vector
/// would pass the buffer's spare bytes.
///
/// When the windows leave the input's halo (a pipeline input planned
/// without one, `in_place::unpad_inputs`), the input is a pipeline input
/// (`pipeline_input`: its buffer may be a caller's array, with no spare
/// bytes after it), or the loads of the last chunk would pass the
/// buffer's spare bytes (rows narrower than a chunk: a 14 x 14 map with a
/// halo, which otherwise ran on the direct kernel, 18x slower), the
/// kernel pads at the borders
/// (`Kind::Depthwise::borders`): it loads only the input's own bytes, with
/// masked loads, so it needs neither the halo nor the spare bytes.
fn depthwise_windows(
    pattern: &ConvPattern,
    xbuf: &plan::Buffer,
    d: crate::ir::Chw,
    pipeline_input: bool,
) -> Option<(Kind, Vec<u8>)> {
    let g = pattern.geom;
    let (_, _, kh, kw) = pattern.weights;
    let (sw, dw) = (g.stride.w, g.dilation.w);
    let quads = (kw.div_ceil(4), 4 * dw);
    if !(1..=4).contains(&sw) || !(1..=4).contains(&g.stride.h) {
        return None;
    }
    let mut borders = (pipeline_input || !conv::window_in_halo(pattern, xbuf, d))
        .then_some((xbuf.dims.h, xbuf.dims.w));
    let bases: [usize; 4] = std::array::from_fn(|p| (sw * 16 * p) & !63);
    let mut windows = vec![0u8; 4 * 64];
    for p in 0..4 {
        for i in 0..64 {
            let at = sw * (16 * p + i / 4) + (i % 4) * dw - bases[p];
            windows[64 * p + i] = u8::try_from(at).ok().filter(|&v| v < 128)?;
        }
    }
    if borders.is_none() {
        // The last chunk's loads, from the last row of the last channel
        // (the halo covers the padding: no term is negative).
        let last_row = (d.h - 1) * g.stride.h + (kh - 1) * g.dilation.h;
        let x0 = 64 * (d.w.div_ceil(64) - 1);
        let rows = xbuf.rows();
        let end = ((d.c.max(1) - 1) * rows + xbuf.halo.top + last_row - g.pad.top) * xbuf.stride()
            + xbuf.halo.left
            - g.pad.left
            + sw * x0
            + bases[3]
            + 128
            + (quads.0 - 1) * quads.1;
        if end > xbuf.bytes() + super::machine::Workspace::SPARE {
            // Narrow maps: the 64-pixel chunk's loads reach past the
            // buffer's spare bytes. The masked loads read only the input's
            // own bytes (the halo is zero padding, as the masks make it).
            borders = Some((xbuf.dims.h, xbuf.dims.w));
        }
    }
    let kind = Kind::Depthwise {
        kh,
        pad_top: g.pad.top,
        pad_left: g.pad.left,
        stride: (g.stride.h, sw),
        dilation_h: g.dilation.h,
        quads,
        bases,
        borders,
    };
    Some((kind, windows))
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
    requant: &Requant,
) -> Option<NativeStage> {
    let (cin, cout_g, kh, kw) = weight_dims(program, k, w).ok()?;
    let weights = u8_x_i8_weights(program, x, w)?;
    let xr = program.nodes[x].range();
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
    if !plain
        || xbuf.elem.bytes != 1
        || out.elem.bytes != 1
        || !accumulators_fit_32_bits(weights, kh * kw, xr)
    {
        return None;
    }
    let d = program.nodes[stage.root].shape.chw();
    let xd = program.nodes[x].shape.chw();
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
    let requant = requant.clone();
    NativeStage {
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
        weights: packed.into(),
        windows,
        requant,
        isa: Isa::Avx512,
        residual: None,
        out_bytes: 1,
        pairs: Default::default(),
        words: Default::default(),
        planes: Default::default(),
        blocked_avx2: Default::default(),
    }
    .fits(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::SourceMap;

    pub(super) fn program(src: &str) -> Program {
        let mut sources = SourceMap::new();
        let id = sources.add("native.cnn", src);
        let file = crate::parse(&sources, id).expect("parses");
        crate::check(&mut sources, &file, &Default::default(), &crate::NoFiles)
            .expect("checks")
            .program
    }

    /// The plan of `p` as `jit::compile` makes it (inputs without a halo
    /// their readers do not need) and its last stage on AVX-512.
    fn last_native(p: &Program) -> (Plan, NativeStage) {
        let plan = crate::jit::plan::plan(p).expect("plans");
        let plan = unpad_inputs(p, plan, Some(Isa::Avx512));
        let stage = plan.stages.last().expect("a stage");
        let ns = plan_native(p, &plan, stage, Isa::Avx512).expect("a native stage");
        (plan, ns)
    }

    /// Outputs of 16 and 32 bits: `out` counts elements, `fits` bounds
    /// them by the buffer's bytes, and only the direct kernels (AVX-512
    /// and AVX2, with or without a residual map) store them.
    #[test]
    fn wide_outputs_reaching_outside_their_buffers_are_refused() {
        for (y, bytes) in [
            ("conv(x, w3, pad: 1)", 4),
            ("(conv(x, w3, pad: 1) >> 2) as i16 sat", 2),
        ] {
            let p = program(&format!(
                "pipeline p {{
  input x: u8[8, 20, 70]
  param w3: i8[8, 8, 3, 3] = random(seed: 2)
  let y = {y}
  output y
}}"
            ));
            let (plan, ns) = last_native(&p);
            assert_eq!(ns.out_bytes, bytes, "{y}");
            assert!(ns.clone().fits(&plan).is_some(), "{y}");
            let stage = plan.stages.last().expect("a stage");
            let avx2 = plan_native(&p, &plan, stage, Isa::Avx2).expect("an AVX2 stage");
            assert_eq!(avx2.out_bytes, bytes, "{y}: AVX2");
            let elems = plan.buffers[ns.out.buffer].elems();
            let mut far = ns.clone();
            far.out.origin += elems / 2 + 1;
            assert!(far.fits(&plan).is_none(), "{y}: output past the end");
            let mut tall = ns.clone();
            tall.height += 1;
            assert!(tall.fits(&plan).is_none(), "{y}: one row too many");
            let mut narrow = ns.clone();
            narrow.out_bytes = 1;
            assert!(narrow.fits(&plan).is_some(), "{y}: bytes");
            let mut odd = ns.clone();
            odd.out_bytes = 8;
            assert!(odd.fits(&plan).is_none(), "{y}: 8 bytes");
            let mut residual = ns.clone();
            residual.residual = Some((ns.x, false));
            assert!(
                residual.clone().fits(&plan).is_some(),
                "{y}: a residual map"
            );
            residual.residual = Some((ns.out, false));
            assert!(
                residual.fits(&plan).is_none(),
                "{y}: the output its residual map"
            );
        }
    }

    /// The lanes kernel's block shapes (`conv::lanes_score`): 14 x 2 where a
    /// 7 x 3 block's weights would leave L1 (288 steps) or a row splits
    /// into 14 pixels, 12 x 2 on 56-wide rows, 7 x 3 on 7-wide rows whose
    /// weights leave L1 either way, one vector of up to 16 pixels for 16
    /// channels; a shape `fits` refuses past its dispatch.
    #[test]
    fn lanes_blocks_fit_the_rows_and_the_cache() {
        for (cin, cout, hw, shape) in [
            (128, 128, 28, (14, 2)),
            (128, 128, 14, (14, 2)),
            (64, 64, 56, (12, 2)),
            (256, 256, 7, (7, 3)),
            (48, 48, 28, (7, 3)),
            (64, 16, 30, (15, 1)),
        ] {
            let p = program(&format!(
                "pipeline p {{
  input x: u8[{cin}, {hw}, {hw}]
  param w: i8[{cout}, {cin}, 3, 3] = random(seed: 2)
  let y = (conv(x, w, pad: 1) >> 9) as u8 sat
  output y
}}"
            ));
            let (plan, ns) = last_native(&p);
            let Kind::Direct(d) = &ns.kind else {
                panic!("{cin} -> {cout} on {hw}: not a direct kernel");
            };
            let l = d.lanes.as_ref().expect("the lanes kernel");
            assert_eq!((l.n, l.m), shape, "{cin} -> {cout} on {hw}");
            assert!(ns.clone().fits(&plan).is_some(), "{cin} -> {cout} on {hw}");
            for (n, m) in [(9, 3), (15, 2), (17, 1), (4, 4), (0, 2)] {
                let mut wide = ns.clone();
                let Kind::Direct(d) = &mut wide.kind else {
                    unreachable!()
                };
                let l = d.lanes.as_mut().expect("lanes");
                (l.n, l.m) = (n, m);
                assert!(wide.fits(&plan).is_none(), "{n} x {m} blocks");
            }
        }
    }

    /// Every kernel shape, and what each moved offset does to `fits`: the
    /// depthwise kernel reading a pipeline input pads at the borders, the
    /// one reading a computed map takes the padding from its halo.
    #[test]
    fn stages_reaching_outside_their_buffers_are_refused() {
        for conv in [
            "conv(x, w1)",
            "dwconv(x, w3, pad: 1)",
            "dwconv(max(x, 3), w3, pad: 1)",
        ] {
            let p = program(&format!(
                "pipeline p {{
  input x: u8[8, 20, 70]
  param w1: i8[8, 8, 1, 1] = random(seed: 1)
  param w3: i8[8, 1, 3, 3] = random(seed: 2)
  let y = (relu({conv}) >> 6) as u8 sat
  output y
}}"
            ));
            let (plan, ns) = last_native(&p);
            assert!(ns.clone().fits(&plan).is_some(), "{conv}");
            let x_bytes = plan.buffers[ns.x.buffer].bytes();
            let out_bytes = plan.buffers[ns.out.buffer].bytes();
            let mut far = ns.clone();
            far.x.origin += x_bytes;
            assert!(far.fits(&plan).is_none(), "{conv}: input past the end");
            let mut far = ns.clone();
            far.out.origin += out_bytes / 2;
            assert!(far.fits(&plan).is_none(), "{conv}: output past the end");
            let mut tall = ns.clone();
            tall.height += 1;
            assert!(tall.fits(&plan).is_none(), "{conv}: one row too many");
            let mut short = ns.clone();
            short.weights = short.weights[..short.weights.len() - 1].to_vec().into();
            assert!(short.fits(&plan).is_none(), "{conv}: weights too short");
            let mut same = ns.clone();
            same.out.buffer = same.x.buffer;
            assert!(same.fits(&plan).is_none(), "{conv}: in place");
            // A residual map only where the kernel adds one: the AVX2
            // pointwise kernel, not the AVX-512 one nor a depthwise kernel.
            let mut residual = ns.clone();
            residual.residual = Some((ns.x, false));
            assert!(
                residual.clone().fits(&plan).is_none(),
                "{conv}: a residual map"
            );
            residual.isa = Isa::Avx2;
            let adds = matches!(ns.kind, Kind::Pointwise { .. });
            assert_eq!(
                residual.fits(&plan).is_some(),
                adds,
                "{conv}: AVX2, a residual map"
            );
            let from_input = conv.starts_with("dwconv(x");
            assert_eq!(ns.pads_at_borders(), from_input, "{conv}");
            if matches!(ns.kind, Kind::Depthwise { .. }) && !from_input {
                let mut before = ns.clone();
                before.x.origin = 0;
                assert!(before.fits(&plan).is_none(), "{conv}: before the start");
            }
            if from_input {
                // Masked loads: the input's last byte bounds them.
                let mut wide = ns.clone();
                if let Kind::Depthwise { borders, .. } = &mut wide.kind {
                    *borders = borders.map(|(h, w)| (h, w + 1));
                }
                assert!(wide.fits(&plan).is_none(), "{conv}: one column too many");
            }
        }
    }
}
