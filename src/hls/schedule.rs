//! The schedule of one stream-style process: a single flattened loop, one
//! iteration per clock at its II, that may store one input pixel of each
//! line-buffered map and may do one step of the output computation.
//!
//! A step is one tap (one input pixel, all its channels, from the line
//! buffer) times `pe` output channels times `simd` input channels; an output
//! pixel takes `C / pe` channel groups of `fold` steps each (FINN's MVAU
//! folding), with the accumulators carried from step to step. Whether an
//! iteration stores and whether it computes depends only on counters
//! compared with small tables fixed at emission, so Convoy knows the whole
//! iteration sequence (and so the loop's trip count) in advance, and the
//! emitted C++ evaluates the very same conditions.

use super::plan::Kernel;
use super::Ctx;
use crate::ir::{Chw, NodeId, Op, Resample, Shape};
use crate::numeric::bilinear_taps;

/// The kind of spatial core, as the step emitter needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoreKind {
    /// Elementwise only.
    None,
    Conv,
    Deconv,
    Pool,
    Unpool,
    Nearest,
    Bilinear,
    Concat,
    /// A rearrangement: each lane keeps the element its taps select.
    Remap,
}

/// The taps of one axis: for every output coordinate, the (kernel index,
/// input coordinate) pairs that meet a real input pixel, in visiting order.
#[derive(Clone, Debug, Default)]
pub struct Taps {
    pub per_out: Vec<Vec<(usize, usize)>>,
    /// Tap slots per output coordinate (the longest list; at least 1).
    pub count: usize,
}

/// A map read through a line buffer.
#[derive(Clone, Debug)]
pub struct Window {
    pub node: NodeId,
    /// The core reads it at its taps.
    pub tap_read: bool,
    /// The epilogue reads it at the output pixel too.
    pub pixel_read: bool,
    /// Per output row: the last input row it needs (-1: none).
    pub need_row: Vec<isize>,
    /// Per output column: the last input column it needs in that row.
    pub need_col: Vec<isize>,
    /// Per input row: output rows that must be complete before it may be
    /// stored (it overwrites row `iy - slots`).
    pub free: Vec<usize>,
    /// Rows of the line buffer (a power of two: the slot is `iy & (slots - 1)`).
    pub slots: usize,
    /// Copies of the line buffer, each written with every pixel and read at
    /// one tap per step (bilinear upsampling reads its two columns at once).
    pub copies: usize,
}

/// One iteration of the loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// Bit `i`: window `i` stores a pixel from its FIFO.
    pub loads: u32,
    /// A step of the computation happens.
    pub work: bool,
    /// ... and it is the first of an output pixel: the direct inputs are read.
    pub first: bool,
    /// ... and it is the last of an output pixel: the output beat is written.
    pub last: bool,
}

#[derive(Clone, Debug)]
pub struct StageSchedule {
    pub core: CoreKind,
    pub rows: Taps,
    pub cols: Taps,
    pub windows: Vec<Window>,
    /// Maps read at the output pixel straight from their FIFO (one beat per pixel).
    pub direct: Vec<NodeId>,
    pub pe: usize,
    /// Channel groups of an output pixel (`C / pe`).
    pub groups: usize,
    /// Input channels per step (simd) and steps to cover them.
    pub lanes: usize,
    pub chunks: usize,
    /// Column taps visited one per step (1 when a step reads them all).
    pub col_steps: usize,
    /// Steps per channel group: row taps x column steps x chunks.
    pub fold: usize,
    /// Initiation interval the memories' ports allow, and the array that sets it.
    pub ii: usize,
    pub limiting: String,
    /// Accesses per iteration of the busiest memory (2 ports per bank).
    pub busiest: usize,
    pub steps: Vec<Step>,
}

impl StageSchedule {
    pub fn trip(&self) -> usize {
        self.steps.len()
    }
}

fn core_kind(op: Option<&Op>) -> CoreKind {
    match op {
        None => CoreKind::None,
        Some(Op::Conv { .. }) => CoreKind::Conv,
        Some(Op::Deconv { .. }) => CoreKind::Deconv,
        Some(Op::MaxPool { .. } | Op::MaxPoolIndices { .. }) => CoreKind::Pool,
        Some(Op::MaxUnpool { .. }) => CoreKind::Unpool,
        Some(Op::Upsample {
            mode: Resample::Nearest,
            ..
        }) => CoreKind::Nearest,
        Some(Op::Upsample {
            mode: Resample::Bilinear,
            ..
        }) => CoreKind::Bilinear,
        // A channel reduction reads its operand's beat at the same pixel,
        // as concatenation does.
        Some(Op::Concat(_) | Op::Reduce { .. }) => CoreKind::Concat,
        Some(Op::Remap { .. }) => CoreKind::Remap,
        Some(_) => CoreKind::None,
    }
}

/// The taps of the core along rows (`vertical`) or columns.
fn axis_taps(ctx: &Ctx<'_>, core: NodeId, vertical: bool) -> Taps {
    let node = ctx.node(core);
    let out_chw = node.shape.chw();
    let out_len = if vertical { out_chw.h } else { out_chw.w };
    let pick = |p: crate::ir::Pair| if vertical { p.h } else { p.w };
    let lead = |p: crate::ir::Pads| if vertical { p.top } else { p.left };
    let mut per_out: Vec<Vec<(usize, usize)>> = vec![vec![]; out_len];
    let in_len = |x: NodeId| {
        let c = ctx.node(x).shape.chw();
        if vertical {
            c.h
        } else {
            c.w
        }
    };
    match &node.op {
        Op::Remap { .. } => per_out = super::remap::axis_taps(ctx, core, vertical),
        Op::Conv { x, w, geom } => {
            let dims = ctx.node(*w).shape.dims();
            let k = if vertical { dims[2] } else { dims[3] };
            let n = in_len(*x) as isize;
            for (o, list) in per_out.iter_mut().enumerate() {
                for t in 0..k {
                    let i = (o * pick(geom.stride) + t * pick(geom.dilation)) as isize
                        - lead(geom.pad) as isize;
                    if (0..n).contains(&i) {
                        list.push((t, i as usize));
                    }
                }
            }
        }
        Op::Deconv { x, w, geom } => {
            let dims = ctx.node(*w).shape.dims();
            let k = if vertical { dims[2] } else { dims[3] };
            let n = in_len(*x) as isize;
            let s = pick(geom.stride) as isize;
            for (o, list) in per_out.iter_mut().enumerate() {
                for t in 0..k {
                    let u =
                        o as isize + lead(geom.pad) as isize - (t * pick(geom.dilation)) as isize;
                    if u >= 0 && u % s == 0 && u / s < n {
                        list.push((t, (u / s) as usize));
                    }
                }
            }
        }
        Op::MaxPool { x, geom } | Op::MaxPoolIndices { x, geom } => {
            let n = in_len(*x) as isize;
            for (o, list) in per_out.iter_mut().enumerate() {
                for t in 0..pick(geom.kernel) {
                    let i = (o * pick(geom.stride) + t) as isize - lead(geom.pad) as isize;
                    if (0..n).contains(&i) {
                        list.push((t, i as usize));
                    }
                }
            }
        }
        Op::MaxUnpool { x, idx, .. } => {
            if let Op::MaxPoolIndices { geom, .. } = ctx.node(*idx).op {
                let n = in_len(*x) as isize;
                let s = pick(geom.stride) as isize;
                for (o, list) in per_out.iter_mut().enumerate() {
                    // The last window in C order wins: visit the taps backwards.
                    for t in (0..pick(geom.kernel)).rev() {
                        let u = o as isize + lead(geom.pad) as isize - t as isize;
                        if u >= 0 && u % s == 0 && u / s < n {
                            list.push((t, (u / s) as usize));
                        }
                    }
                }
            }
        }
        Op::Upsample { x, factor, mode } => {
            let f = pick(*factor);
            match mode {
                Resample::Nearest => {
                    for (o, list) in per_out.iter_mut().enumerate() {
                        list.push((0, o / f));
                    }
                }
                Resample::Bilinear => {
                    if let Some((taps, _)) = bilinear_taps(in_len(*x), f) {
                        for (o, list) in per_out.iter_mut().enumerate() {
                            list.push((0, taps[o][0].0));
                            list.push((1, taps[o][1].0));
                        }
                    }
                }
            }
        }
        _ => {}
    }
    let count = per_out.iter().map(Vec::len).max().unwrap_or(0).max(1);
    Taps { per_out, count }
}

/// Tap slots visited for output coordinate `o` (at least one).
pub fn visited(taps: &Taps, o: usize) -> usize {
    taps.per_out.get(o).map_or(1, |l| l.len().max(1))
}

/// The schedule of kernel `k` with `pe` output channels and `simd` input
/// channels per step.
pub fn schedule(ctx: &Ctx<'_>, k: &Kernel, pe: usize, simd: Option<usize>) -> StageSchedule {
    let core_op = k.core.map(|c| &ctx.node(c).op);
    let core = core_kind(core_op);
    let Chw { c, h: oh, w: ow } = ctx.node(k.out).shape.chw();
    let dynamic = |r: &NodeId| !ctx.plan.is_static[*r];
    let (rows, cols) = match (k.core, core) {
        (Some(id), kind) if !matches!(kind, CoreKind::Concat | CoreKind::None) => {
            (axis_taps(ctx, id, true), axis_taps(ctx, id, false))
        }
        _ => {
            let none = Taps {
                per_out: vec![],
                count: 1,
            };
            (none.clone(), none)
        }
    };
    let windowed: Vec<NodeId> = if matches!(core, CoreKind::Concat | CoreKind::None) {
        vec![]
    } else {
        k.window_reads.iter().copied().filter(dynamic).collect()
    };
    let mut windows = vec![];
    for &node in &windowed {
        let pixel_read = k.pixel_reads.contains(&node);
        let mut w = window(ctx, node, &rows, &cols, pixel_read, oh, ow);
        if core == CoreKind::Bilinear {
            w.copies = cols.count;
        }
        windows.push(w);
    }
    let mut direct: Vec<NodeId> = vec![];
    let concat_parts: Vec<NodeId> = if core == CoreKind::Concat {
        k.window_reads.iter().copied().filter(dynamic).collect()
    } else {
        vec![]
    };
    for r in concat_parts
        .into_iter()
        .chain(k.pixel_reads.iter().copied())
    {
        if dynamic(&r) && !windowed.contains(&r) && !direct.contains(&r) {
            direct.push(r);
        }
    }
    let cig = k
        .core
        .and_then(|id| super::reduction_channels(ctx.program, id))
        .filter(|_| matches!(core, CoreKind::Conv | CoreKind::Deconv));
    let lanes = cig.map_or(1, |cig| simd.unwrap_or(cig).min(cig).max(1));
    let chunks = cig.map_or(1, |cig| cig / lanes);
    let col_steps = if core == CoreKind::Bilinear {
        1
    } else {
        cols.count.max(1)
    };
    let fold = rows.count.max(1) * col_steps * chunks;
    let groups = c / pe.max(1);
    // Ports: a line buffer is stored once per iteration (one port) and read
    // at one tap, plus once more when the epilogue reads the output pixel.
    let mut busiest = 0;
    let mut limiting = "no memory".to_string();
    if matches!(core, CoreKind::Conv | CoreKind::Deconv) {
        busiest = 1;
        limiting = "weight words (1 access)".to_string();
    }
    for w in &windows {
        // Per copy: one store, one tap; the first copy also serves the pixel read.
        let accesses = 1 + usize::from(w.tap_read) + usize::from(w.pixel_read);
        if accesses > busiest {
            busiest = accesses;
            limiting = format!(
                "line buffer of `{}` ({accesses} accesses)",
                ctx.name(w.node)
            );
        }
    }
    // A lookup table is a ROM of two ports read once per lookup and lane.
    for (t, accesses) in super::pixel::table_reads(ctx, k, pe) {
        if accesses > busiest {
            busiest = accesses;
            limiting = format!("table `{}` ({accesses} accesses)", ctx.name(t));
        }
    }
    let ii = busiest.div_ceil(2).max(1);
    // Steps per output pixel: the taps of its row x those of its column
    // (at least one slot each) x chunks; edges and stride phases visit fewer.
    let per_row: Vec<usize> = (0..oh).map(|o| visited(&rows, o)).collect();
    let per_col: Vec<usize> = (0..ow)
        .map(|o| if col_steps == 1 { 1 } else { visited(&cols, o) })
        .collect();
    let steps = simulate(&windows, ctx, (&per_row, &per_col, chunks), groups);
    StageSchedule {
        core,
        rows,
        cols,
        windows,
        direct,
        pe,
        groups,
        lanes,
        chunks,
        col_steps,
        fold,
        ii,
        limiting,
        busiest,
        steps,
    }
}

fn window(
    ctx: &Ctx<'_>,
    node: NodeId,
    rows: &Taps,
    cols: &Taps,
    pixel_read: bool,
    oh: usize,
    ow: usize,
) -> Window {
    let h = ctx.node(node).shape.chw().h;
    let span_of = |taps: &Taps, n: usize| -> (Vec<isize>, Vec<Option<usize>>) {
        let mut need = Vec::with_capacity(n);
        let mut lo = Vec::with_capacity(n);
        let mut last: isize = -1;
        for o in 0..n {
            let mut list: Vec<usize> = taps
                .per_out
                .get(o)
                .map(|l| l.iter().map(|t| t.1).collect())
                .unwrap_or_default();
            if pixel_read {
                list.push(o);
            }
            if let Some(&hi) = list.iter().max() {
                last = last.max(hi as isize);
            }
            need.push(last);
            lo.push(list.iter().min().copied());
        }
        (need, lo)
    };
    let (need_row, lo_row) = span_of(rows, oh);
    let (need_col, _) = span_of(cols, ow);
    let span = (0..oh)
        .filter_map(|o| lo_row[o].map(|lo| (need_row[o] - lo as isize + 1).max(1) as usize))
        .max()
        .unwrap_or(1);
    let slots = (span + 1).next_power_of_two();
    let free = (0..h)
        .map(|iy| {
            let Some(r) = iy.checked_sub(slots) else {
                return 0;
            };
            (0..oh)
                .filter(|&o| lo_row[o].is_some_and(|lo| lo <= r))
                .max()
                .map_or(0, |o| o + 1)
        })
        .collect();
    Window {
        node,
        tap_read: !rows.per_out.is_empty(),
        pixel_read,
        need_row,
        need_col,
        free,
        slots,
        copies: 1,
    }
}

/// The iteration sequence: the emitted loop's conditions, evaluated here.
fn simulate(
    windows: &[Window],
    ctx: &Ctx<'_>,
    (per_row, per_col, chunks): (&[usize], &[usize], usize),
    groups: usize,
) -> Vec<Step> {
    let (oh, ow) = (per_row.len(), per_col.len());
    let dims: Vec<(usize, usize)> = windows
        .iter()
        .map(|w| {
            let c = ctx.node(w.node).shape.chw();
            (c.h, c.w)
        })
        .collect();
    let mut ry = vec![0usize; windows.len()];
    let mut rx = vec![0usize; windows.len()];
    let (mut oy, mut ox, mut g) = (0usize, 0usize, 0usize);
    let (mut ta, mut tb, mut tc) = (0usize, 0usize, 0usize);
    let mut steps = vec![];
    loop {
        let mut loads = 0u32;
        for (i, w) in windows.iter().enumerate() {
            if ry[i] < dims[i].0 && oy >= w.free[ry[i]] {
                loads |= 1 << i;
            }
        }
        let work = oy < oh
            && windows.iter().enumerate().all(|(i, w)| {
                let (nr, nc) = (w.need_row[oy], w.need_col[ox]);
                (ry[i] as isize) > nr || (ry[i] as isize == nr && rx[i] as isize > nc)
            });
        if loads == 0 && !work {
            // Everything read and computed (the tables guarantee progress otherwise).
            break;
        }
        let last_step =
            oy < oh && ta + 1 == per_row[oy] && tb + 1 == per_col[ox] && tc + 1 == chunks;
        steps.push(Step {
            loads,
            work,
            first: work && g == 0 && ta == 0 && tb == 0 && tc == 0,
            last: work && g + 1 == groups && last_step,
        });
        for i in 0..windows.len() {
            if loads >> i & 1 == 1 {
                rx[i] += 1;
                if rx[i] == dims[i].1 {
                    rx[i] = 0;
                    ry[i] += 1;
                }
            }
        }
        if work {
            // The emitted counters: chunk, column tap, row tap, group, pixel.
            if tc + 1 < chunks {
                tc += 1;
            } else if tb + 1 < per_col[ox] {
                tc = 0;
                tb += 1;
            } else if ta + 1 < per_row[oy] {
                tc = 0;
                tb = 0;
                ta += 1;
            } else {
                (ta, tb, tc) = (0, 0, 0);
                g += 1;
                if g == groups {
                    g = 0;
                    ox += 1;
                    if ox == ow {
                        ox = 0;
                        oy += 1;
                    }
                }
            }
        }
    }
    steps
}

/// The reduction's weights laid out as the step reads them: per channel
/// group, kernel row, kernel column and chunk, one word of `pe x lanes`
/// weights (FINN's PE partitions of SIMD-wide words). `None` for cores
/// without weights.
pub fn weight_tiles(
    ctx: &Ctx<'_>,
    k: &Kernel,
    s: &StageSchedule,
) -> Option<(NodeId, Vec<i128>, [usize; 6])> {
    let core = k.core?;
    let (w, groups_conv) = match &ctx.node(core).op {
        Op::Conv { w, geom, .. } | Op::Deconv { w, geom, .. } => (*w, geom.groups.max(1)),
        _ => return None,
    };
    let Shape::Weights { i, kh, kw, .. } = ctx.node(w).shape else {
        return None;
    };
    let deconv = s.core == CoreKind::Deconv;
    let cig = s.lanes * s.chunks;
    let data = &ctx.values[w].data;
    let mut tiles = Vec::with_capacity(s.groups * kh * kw * s.chunks * s.pe * s.lanes);
    for g in 0..s.groups {
        for ky in 0..kh {
            for kx in 0..kw {
                for chunk in 0..s.chunks {
                    for p in 0..s.pe {
                        for lane in 0..s.lanes {
                            let oc = g * s.pe + p;
                            let ic = chunk * s.lanes + lane;
                            let index = if deconv {
                                // w[input channel][output channel in its group][ky][kx]
                                let ch = if groups_conv == 1 {
                                    ic
                                } else {
                                    oc / i * cig + ic
                                };
                                ((ch * i + oc % i) * kh + ky) * kw + kx
                            } else {
                                ((oc * i + ic) * kh + ky) * kw + kx
                            };
                            tiles.push(data[index]);
                        }
                    }
                }
            }
        }
    }
    Some((w, tiles, [s.groups, kh, kw, s.chunks, s.pe, s.lanes]))
}
