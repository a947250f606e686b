//! The port budget of the array style: per kernel, the accesses one
//! iteration of its pipelined loop makes to each memory, per bank, and the
//! II they allow with two ports per bank. The emitter writes that II in the
//! `PIPELINE` pragma and the estimate reports it (with the memory that sets
//! it), so the two never disagree with the memories the design declares.
//!
//! Banks: weights are partitioned by `pe` on the output channel, by `simd`
//! (or completely) on the input channel and completely on the taps (one
//! bank per product of an iteration: FINN's PE x SIMD partitions, in
//! `array.rs`); every map is partitioned cyclically, per axis (channel,
//! row, column), into as many banks as the most distinct offsets one
//! iteration of any kernel touches on that axis ([`map_banks`]): a 3x3
//! window gives 3 row and 3 column banks, `pe` lanes `pe` channel banks.
//! An access counts once per distinct address: lanes that read the same
//! element (every `pe` lane of an ungrouped conv reads the same input pixel)
//! share the read. Windows whose taps fall into one bank (a dilation that
//! shares a factor with the kernel size) cost their collisions. A lookup
//! table is one ROM of two ports read once per lane and lookup
//! (`pixel::table_reads`, as in the stream schedule).

use super::pixel::Reduction;
use super::Ctx;
use crate::ir::{NodeId, Op, Shape};

/// Ports of one memory bank (true dual-port BRAM; the top-level arrays are
/// `INTERFACE bram ... storage_type=ram_2p`).
pub const PORTS: usize = 2;

/// The busiest memory of a kernel's pipelined loop and the II it allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoopBudget {
    pub ii: usize,
    /// C++ name of the memory that sets the II (`-` when none limits it).
    pub memory: String,
    /// Its accesses per bank per iteration.
    pub accesses: usize,
}

/// One kernel's accesses to one map in an iteration of its pipelined loop:
/// the offsets, from a base that moves with the loop, on each dimension
/// (channel, row, column). The accesses are every combination.
struct MapAccess {
    node: NodeId,
    offsets: [Vec<isize>; 3],
}

fn range(n: usize, step: usize) -> Vec<isize> {
    (0..n).map(|i| (i * step) as isize).collect()
}

/// The window of a spatial core on its input, per axis: taps and spacing
/// (a deconv visits only its stride phase's taps, consecutive input pixels).
fn window(ctx: &Ctx<'_>, core: NodeId) -> (Vec<isize>, Vec<isize>) {
    match &ctx.node(core).op {
        Op::Conv { w, geom, .. } => match ctx.node(*w).shape {
            Shape::Weights { kh, kw, .. } => {
                (range(kh, geom.dilation.h), range(kw, geom.dilation.w))
            }
            _ => (vec![0], vec![0]),
        },
        Op::Deconv { w, geom, .. } => match ctx.node(*w).shape {
            Shape::Weights { kh, kw, .. } => {
                let axis = |k: usize, s: usize, d: usize| {
                    if d == 1 {
                        range(k.div_ceil(s), 1)
                    } else {
                        range(k, d)
                    }
                };
                (
                    axis(kh, geom.stride.h, geom.dilation.h),
                    axis(kw, geom.stride.w, geom.dilation.w),
                )
            }
            _ => (vec![0], vec![0]),
        },
        Op::MaxPool { geom, .. } | Op::MaxPoolIndices { geom, .. } => {
            (range(geom.kernel.h, 1), range(geom.kernel.w, 1))
        }
        // Every window that could hold the pixel is tested: kernel-size reads
        // of the values and of the indices, over ceil(k / s) rows and columns
        // (counted as k consecutive ones: an upper bound).
        Op::MaxUnpool { idx, .. } => match &ctx.node(*idx).op {
            Op::MaxPoolIndices { geom, .. } => (range(geom.kernel.h, 1), range(geom.kernel.w, 1)),
            _ => (vec![0], vec![0]),
        },
        Op::Upsample {
            mode: crate::ir::Resample::Bilinear,
            ..
        } => (range(2, 1), range(2, 1)),
        _ => (vec![0], vec![0]),
    }
}

/// What kernel `n` reads and writes in one iteration of its pipelined loop.
fn kernel_accesses(ctx: &Ctx<'_>, n: usize) -> Vec<MapAccess> {
    let k = &ctx.plan.kernels[n];
    let par = ctx.parallel[n];
    let pe = par.pe;
    let lanes = range(pe, 1);
    let mut out = vec![];
    if let Some(core) = k.core {
        let node = ctx.node(core);
        let (rows, cols) = window(ctx, core);
        match &node.op {
            Op::Conv { x, geom, .. } | Op::Deconv { x, geom, .. } => {
                let cig = super::reduction_channels(ctx.program, core).unwrap_or(1);
                let lanes_ic = match Reduction::of(ctx, k, par) {
                    Reduction::Folded { simd, .. } => simd,
                    Reduction::Whole => cig,
                };
                let cog = (node.shape.chw().c / geom.groups.max(1)).max(1);
                let mut channels: Vec<isize> = vec![];
                for p in 0..pe {
                    let group = if geom.groups == 1 { 0 } else { p / cog };
                    for ic in 0..lanes_ic {
                        let ch = (group * cig + ic) as isize;
                        if !channels.contains(&ch) {
                            channels.push(ch);
                        }
                    }
                }
                out.push(MapAccess {
                    node: *x,
                    offsets: [channels, rows, cols],
                });
            }
            op => {
                let mut seen = vec![];
                for o in op.operands() {
                    if ctx.plan.is_static[o] || seen.contains(&o) {
                        continue;
                    }
                    seen.push(o);
                    let (r, c) = match op {
                        Op::Upsample { .. }
                        | Op::MaxPool { .. }
                        | Op::MaxPoolIndices { .. }
                        | Op::MaxUnpool { .. } => (rows.clone(), cols.clone()),
                        _ => (vec![0], vec![0]),
                    };
                    // A channel reduction reads every channel of its pixel in
                    // one iteration (its channel loop is unrolled).
                    let channels = match op {
                        Op::Reduce { .. } => range(ctx.node(o).shape.chw().c, 1),
                        _ => lanes.clone(),
                    };
                    out.push(MapAccess {
                        node: o,
                        offsets: [channels, r, c],
                    });
                }
            }
        }
    }
    for &r in &k.pixel_reads {
        if !ctx.plan.is_static[r] {
            out.push(MapAccess {
                node: r,
                offsets: [lanes.clone(), vec![0], vec![0]],
            });
        }
    }
    for w in std::iter::once(k.out).chain(k.indices) {
        out.push(MapAccess {
            node: w,
            offsets: [lanes.clone(), vec![0], vec![0]],
        });
    }
    out
}

/// The cyclic partition factors of a map (channel, row, column): on each
/// axis, the most distinct offsets any kernel touches in one iteration,
/// at most the axis' extent.
pub fn map_banks(ctx: &Ctx<'_>, id: NodeId) -> [usize; 3] {
    let dims = super::array::storage_dims(ctx, id);
    let mut banks = [1; 3];
    for n in 0..ctx.plan.kernels.len() {
        for a in kernel_accesses(ctx, n).iter().filter(|a| a.node == id) {
            for d in 0..3 {
                banks[d] = banks[d].max(a.offsets[d].len().min(dims[d]));
            }
        }
    }
    banks
}

/// The most offsets that fall into one bank of `banks` cyclic banks.
fn most_per_bank(offsets: &[isize], banks: usize) -> usize {
    let banks = banks.max(1) as isize;
    let mut count: Vec<usize> = vec![0; banks as usize];
    for &o in offsets {
        count[o.rem_euclid(banks) as usize] += 1;
    }
    count.into_iter().max().unwrap_or(0)
}

/// The budget of kernel `n`'s pipelined loop.
pub fn kernel_budget(ctx: &Ctx<'_>, n: usize) -> LoopBudget {
    // Accesses per bank per iteration, by memory.
    let mut by_memory: Vec<(NodeId, usize)> = vec![];
    for a in kernel_accesses(ctx, n) {
        let banks = map_banks(ctx, a.node);
        let per_bank: usize = (0..3)
            .map(|d| most_per_bank(&a.offsets[d], banks[d]))
            .product();
        match by_memory.iter_mut().find(|(m, _)| *m == a.node) {
            Some((_, total)) => *total += per_bank,
            None => by_memory.push((a.node, per_bank)),
        }
    }
    // Lookup tables: ROMs of two ports, one bank, one read per lane and lookup.
    for (t, reads) in super::pixel::table_reads(ctx, &ctx.plan.kernels[n], ctx.parallel[n].pe) {
        by_memory.push((t, reads));
    }
    let mut worst = LoopBudget {
        ii: 1,
        memory: "-".into(),
        accesses: 0,
    };
    for (memory, accesses) in by_memory {
        if accesses > worst.accesses {
            worst = LoopBudget {
                ii: accesses.div_ceil(PORTS).max(1),
                memory: ctx.name(memory).to_string(),
                accesses,
            };
        }
    }
    worst
}
