//! A first-order resource and latency model of the emitted design
//! (documented with its assumptions in docs/hls.md):
//!
//! - multipliers: per kernel, the products computed in one cycle (`pe` output
//!   channels x `simd` input channels (default: all) x kernel taps, plus
//!   epilogue products); a product goes to DSP48E2 slices (27 x 18 signed)
//!   when both operands are wider than 4 bits and to LUTs otherwise;
//! - BRAM_18K: each memory (weights, array buffers, line buffers, FIFOs) of
//!   more than 1 Kib takes the cheapest BRAM18 aspect ratio (16K x 1 ...
//!   512 x 36), per partition; smaller ones are LUTRAM / SRL;
//! - cycles: every kernel loop is pipelined at II = 1 per `pe` outputs
//!   (times `cig / simd` with `simd`); the array style runs kernels one
//!   after another, the stream style overlaps them (DATAFLOW), so its frame
//!   interval is the slowest process and its latency the row-level schedule.

use super::network::network;
use super::{prepare, Ctx, Golden, HlsError, HlsOptions, Style};
use crate::ir::{Chw, NodeId, Op, Shape};
use std::fmt;

#[derive(Clone, Debug, PartialEq)]
pub struct StageEstimate {
    pub stage: String,
    /// The node this kernel computes (C++ name).
    pub kernel: String,
    pub pe: usize,
    pub simd: Option<usize>,
    pub multipliers: usize,
    pub dsp: usize,
    pub bram18: usize,
    /// Initiation interval of the stage's pipelined loop.
    pub ii: usize,
    /// What sets the II (stream style: the memory with the most accesses per
    /// iteration), and those accesses per iteration.
    pub limiting: String,
    pub accesses: usize,
    /// Cycles to compute one frame.
    pub cycles: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    pub pipeline: String,
    pub style: Style,
    pub clock_ns: f64,
    pub stages: Vec<StageEstimate>,
    /// BRAM_18K of FIFOs (stream) or intermediate buffers (array), and of weights.
    pub bram18_buffers: usize,
    pub bram18_weights: usize,
    pub latency: u64,
    /// Cycles between frames.
    pub interval: u64,
}

impl Estimate {
    pub fn dsp(&self) -> usize {
        self.stages.iter().map(|s| s.dsp).sum()
    }
    pub fn bram18(&self) -> usize {
        self.stages.iter().map(|s| s.bram18).sum::<usize>()
            + self.bram18_buffers
            + self.bram18_weights
    }
    pub fn frames_per_second(&self) -> f64 {
        1e9 / (self.clock_ns * self.interval.max(1) as f64)
    }

    /// The estimate as one JSON object (`convoy estimate --format json`).
    pub fn to_json(&self) -> serde_json::Value {
        let stages: Vec<serde_json::Value> = self
            .stages
            .iter()
            .map(|s| {
                serde_json::json!({
                    "stage": s.stage,
                    "kernel": s.kernel,
                    "pe": s.pe,
                    "simd": s.simd,
                    "multipliers": s.multipliers,
                    "dsp": s.dsp,
                    "bram18k": s.bram18,
                    "ii": s.ii,
                    "ii_limited_by": s.limiting,
                    "accesses_per_iteration": s.accesses,
                    "cycles": s.cycles,
                })
            })
            .collect();
        serde_json::json!({
            "pipeline": self.pipeline,
            "style": self.style.name(),
            "clock_ns": self.clock_ns,
            "stages": stages,
            "bram18k_buffers": self.bram18_buffers,
            "bram18k_weights": self.bram18_weights,
            "multipliers": self.stages.iter().map(|s| s.multipliers).sum::<usize>(),
            "dsp": self.dsp(),
            "bram18k": self.bram18(),
            "latency_cycles": self.latency,
            "interval_cycles": self.interval,
            "frames_per_second": self.frames_per_second(),
        })
    }
}

/// BRAM18 blocks for `depth` words of `width` bits (0 for memories of at
/// most 1 Kib, which synthesis keeps in LUTs).
pub fn bram18(depth: usize, width: u32) -> usize {
    let width = width as usize;
    if depth * width <= 1024 {
        return 0;
    }
    [
        (16384, 1),
        (8192, 2),
        (4096, 4),
        (2048, 9),
        (1024, 18),
        (512, 36),
    ]
    .iter()
    .map(|&(d, w)| depth.div_ceil(d) * width.div_ceil(w))
    .min()
    .unwrap_or(0)
}

/// DSP48E2 slices for one `a x b`-bit product (0: LUTs).
pub fn dsp_per_product(a: u32, b: u32) -> usize {
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    if lo <= 4 {
        return 0;
    }
    (hi as usize).div_ceil(27) * (lo as usize).div_ceil(18)
}

pub fn estimate(program: &crate::ir::Program, options: &HlsOptions) -> Result<Estimate, HlsError> {
    // The model reads shapes, types and the plan, never values.
    let ctx = prepare(program, options, Golden::Skip)?;
    Ok(model(&ctx))
}

/// Constant weights that are all 1: a convolution by them only adds.
fn all_ones(ctx: &Ctx<'_>, w: NodeId) -> bool {
    matches!(&ctx.node(w).op, Op::Constant { data } if data.iter().all(|&v| v == 1))
}

/// The one product of an average's division: the operand (raised to be
/// non-negative) times the invariant reciprocal (`numeric::Reciprocal`).
fn reciprocal_product(ctx: &Ctx<'_>, x: NodeId, divisor: u64) -> (usize, u32, u32) {
    let r = ctx.node(x).range();
    let top = (r.hi.max(0) as u128 + r.lo.unsigned_abs() * 2).max(1);
    let bits = 128 - top.leading_zeros();
    let m_bits = crate::numeric::Reciprocal::new(divisor, bits)
        .map_or(bits, |rc| 128 - rc.m.leading_zeros());
    (1, bits, m_bits)
}

fn model(ctx: &Ctx<'_>) -> Estimate {
    if ctx.options.style == Style::Stream {
        return stream_model(ctx);
    }
    let p = ctx.program;
    let stream = false;
    let mut stages = vec![];
    for (n, k) in ctx.plan.kernels.iter().enumerate() {
        let par = ctx.parallel[n];
        let out = ctx.node(k.out);
        let Chw { c, h: oh, w: ow } = out.shape.chw();
        let mut multipliers = 0;
        let mut dsp = 0;
        let mut fold = 1;
        for &b in &k.body {
            let node = ctx.node(b);
            let (count, wa, wb) = match &node.op {
                Op::Conv { x, w, geom } | Op::Deconv { x, w, geom } => {
                    let Shape::Weights { mut kh, mut kw, .. } = ctx.node(*w).shape else {
                        continue;
                    };
                    if matches!(node.op, Op::Deconv { .. }) {
                        // Stride phases: only ceil(k / s) taps per axis multiply.
                        if geom.dilation.h == 1 {
                            kh = kh.div_ceil(geom.stride.h);
                        }
                        if geom.dilation.w == 1 {
                            kw = kw.div_ceil(geom.stride.w);
                        }
                    }
                    let cig = super::reduction_channels(p, b).unwrap_or(1);
                    let lanes = par.simd.unwrap_or(cig).min(cig);
                    fold = cig / lanes.max(1);
                    // A kernel of ones (avgpool, sum) adds: no multiplier.
                    let taps = if all_ones(ctx, *w) {
                        0
                    } else {
                        lanes * kh * kw
                    };
                    (taps, ctx.node(*x).ty.width, ctx.node(*w).ty.width)
                }
                Op::Binary(crate::ir::Elementwise::Mul, a, bb) => {
                    (1, ctx.node(*a).ty.width, ctx.node(*bb).ty.width)
                }
                Op::DivRound { x, divisor } => reciprocal_product(ctx, *x, *divisor),
                Op::Upsample {
                    mode: crate::ir::Resample::Bilinear,
                    x,
                    ..
                } => (4, ctx.node(*x).ty.width, 4),
                _ => continue,
            };
            multipliers += count * par.pe;
            dsp += count * par.pe * dsp_per_product(wa, wb);
        }
        let bram = 0;
        // The pipelined loop runs `fold` iterations per pixel and lane group,
        // each at the II its memories' ports allow.
        let budget = super::array_ports::kernel_budget(ctx, n);
        let cycles = ((c / par.pe) * oh * ow * fold * budget.ii) as u64;
        let mut limiting = if budget.accesses > 0 {
            format!("`{}` ({} accesses)", budget.memory, budget.accesses)
        } else {
            "-".to_string()
        };
        if fold > 1 {
            limiting.push_str(&format!("; simd folds the reduction {fold}x"));
        }
        stages.push(StageEstimate {
            stage: k.stage.clone(),
            kernel: ctx.name(k.out).to_string(),
            pe: par.pe,
            simd: par.simd,
            multipliers,
            dsp,
            bram18: bram,
            ii: budget.ii,
            limiting,
            accesses: budget.accesses,
            cycles,
        });
    }
    // Weights: one memory per partition (`pe` of the stage reading it).
    let mut bram18_weights = 0;
    let mut seen = vec![];
    for (n, k) in ctx.plan.kernels.iter().enumerate() {
        for &s in &k.statics {
            if seen.contains(&s) {
                continue;
            }
            seen.push(s);
            let node = ctx.node(s);
            let pe = ctx.parallel[n].pe;
            bram18_weights += pe * bram18(node.shape.len().div_ceil(pe), node.ty.width);
        }
    }
    let io: Vec<usize> = p
        .inputs
        .iter()
        .map(|i| i.node)
        .chain(p.outputs.iter().map(|o| o.node))
        .collect();
    let bram18_buffers = {
        (0..p.nodes.len())
            .filter(|&id| ctx.plan.materialized[id] && !io.contains(&id))
            .map(|id| {
                let node = ctx.node(id);
                let Chw { c, h, w } = node.shape.chw();
                let halo = node.halo;
                // One memory per bank of its partition (array_ports.rs).
                let banks: usize = super::array_ports::map_banks(ctx, id).iter().product();
                let words = c * (h + 2 * halo) * (w + 2 * halo);
                banks * bram18(words.div_ceil(banks), node.ty.width)
            })
            .sum()
    };
    // Pipeline fill: a few cycles per kernel for the multiply-add tree.
    let fill = |s: &StageEstimate| 8 + (usize::BITS - s.multipliers.max(1).leading_zeros()) as u64;
    let (latency, interval) = if stream {
        (0, 0)
    } else {
        let total: u64 = stages.iter().map(|s| s.cycles + fill(s)).sum();
        (total, total)
    };
    Estimate {
        pipeline: p.name.clone(),
        style: ctx.options.style,
        clock_ns: ctx.options.clock_ns,
        stages,
        bram18_buffers,
        bram18_weights,
        latency,
        interval,
    }
}

/// The stream style: each stage's loop as scheduled (trip count x II, the II
/// from the ports its memories need), multipliers as the products one
/// iteration issues, BRAM for the line buffers, weight words and FIFOs the
/// design declares, and the interval and latency of the cycle replay
/// (inputs and outputs at one beat per cycle, so both bound it).
fn stream_model(ctx: &Ctx<'_>) -> Estimate {
    let p = ctx.program;
    let net = network(ctx);
    let mut stages = vec![];
    let mut bram18_weights = 0;
    for (n, k) in ctx.plan.kernels.iter().enumerate() {
        let s = &net.stages[n];
        let mut multipliers = 0;
        let mut dsp = 0;
        for &b in &k.body {
            let node = ctx.node(b);
            let (count, wa, wb) = match &node.op {
                Op::Conv { x, w, .. } | Op::Deconv { x, w, .. } => {
                    let bits = ctx.node(*w).ty.width;
                    let words = s.groups * s.rows.count * s.cols.count * s.chunks;
                    let (kh, kw) = match ctx.node(*w).shape {
                        Shape::Weights { kh, kw, .. } => (kh, kw),
                        _ => (1, 1),
                    };
                    let words = words.max(s.groups * kh * kw * s.chunks);
                    // A kernel of ones (avgpool, sum) adds: no multiplier, no weights read.
                    let ones = all_ones(ctx, *w);
                    if !ones {
                        bram18_weights += bram18(words, bits * (s.pe * s.lanes) as u32);
                    }
                    let lanes = if ones { 0 } else { s.lanes };
                    (lanes, ctx.node(*x).ty.width, bits)
                }
                Op::Binary(crate::ir::Elementwise::Mul, a, bb) => {
                    (1, ctx.node(*a).ty.width, ctx.node(*bb).ty.width)
                }
                Op::DivRound { x, divisor } => reciprocal_product(ctx, *x, *divisor),
                Op::Upsample {
                    mode: crate::ir::Resample::Bilinear,
                    x,
                    ..
                } => (3, ctx.node(*x).ty.width, 8),
                _ => continue,
            };
            multipliers += count * s.pe;
            dsp += count * s.pe * dsp_per_product(wa, wb);
        }
        let bram: usize = s
            .windows
            .iter()
            .map(|w| {
                let node = ctx.node(w.node);
                let Chw { c, w: width, .. } = node.shape.chw();
                w.copies * bram18(w.slots * width, node.ty.width * c as u32)
            })
            .sum();
        stages.push(StageEstimate {
            stage: k.stage.clone(),
            kernel: ctx.name(k.out).to_string(),
            pe: s.pe,
            simd: ctx.parallel[n].simd,
            multipliers,
            dsp,
            bram18: bram,
            ii: s.ii,
            limiting: s.limiting.clone(),
            accesses: s.busiest,
            cycles: (s.trip() * s.ii) as u64,
        });
    }
    let bram18_buffers = net
        .fifos
        .iter()
        .filter(|f| !f.port)
        .map(|f| {
            let node = ctx.node(f.node);
            bram18(f.depth, node.ty.width * node.shape.chw().c as u32)
        })
        .sum();
    let latency = net.replay.frame_end.first().copied().unwrap_or(0);
    Estimate {
        pipeline: p.name.clone(),
        style: Style::Stream,
        clock_ns: ctx.options.clock_ns,
        stages,
        bram18_buffers,
        bram18_weights,
        latency,
        interval: net.replay.interval,
    }
}

impl fmt::Display for Estimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "pipeline {} ({} style, clock {} ns): first-order estimate, see docs/hls.md",
            self.pipeline,
            self.style.name(),
            self.clock_ns
        )?;
        writeln!(
            f,
            "{:<12} {:<14} {:>4} {:>5} {:>6} {:>5} {:>8} {:>4} {:>10}  II set by",
            "stage", "kernel", "pe", "simd", "mults", "DSP", "BRAM18K", "II", "cycles"
        )?;
        for s in &self.stages {
            writeln!(
                f,
                "{:<12} {:<14} {:>4} {:>5} {:>6} {:>5} {:>8} {:>4} {:>10}  {}",
                s.stage,
                s.kernel,
                s.pe,
                s.simd.map_or("all".to_string(), |v| v.to_string()),
                s.multipliers,
                s.dsp,
                s.bram18,
                s.ii,
                s.cycles,
                s.limiting
            )?;
        }
        let label = if self.style == Style::Stream {
            "FIFOs"
        } else {
            "buffers"
        };
        writeln!(
            f,
            "{label}: {} BRAM18K; weights: {} BRAM18K",
            self.bram18_buffers, self.bram18_weights
        )?;
        writeln!(
            f,
            "total: {} multipliers, {} DSP, {} BRAM18K; latency {} cycles ({:.1} us); interval {} cycles; {:.1} frames/s",
            self.stages.iter().map(|s| s.multipliers).sum::<usize>(),
            self.dsp(),
            self.bram18(),
            self.latency,
            self.latency as f64 * self.clock_ns / 1000.0,
            self.interval,
            self.frames_per_second()
        )
    }
}
