//! The stream design as a network: one process per kernel (plus a splitter
//! per input read by several kernels), FIFOs between them, every process's
//! iteration sequence from its [`schedule`], and FIFO depths found by
//! replaying the network cycle by cycle ([`replay`]): the smallest depth of
//! each FIFO that neither deadlocks nor lengthens the frame interval.

use super::replay::{replay, smallest_safe_depth, ReplayFifo, ReplayProcess, ReplayResult};
use super::schedule::{schedule, StageSchedule};
use super::Ctx;
use crate::ir::{Chw, NodeId};
use std::collections::BTreeMap;

/// Where a materialized map goes: a kernel (by index) or the top's output port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Sink {
    Kernel(usize),
    Output,
    /// The splitter of an input read by several kernels.
    Splitter,
}

/// One stream: the map it carries, its reader, its name and depth.
#[derive(Clone, Debug)]
pub struct Fifo {
    pub node: NodeId,
    pub sink: Sink,
    pub name: String,
    pub depth: usize,
    /// A port of the top function (an input or an output), not a FIFO.
    pub port: bool,
}

pub struct Network {
    pub fifos: Vec<Fifo>,
    pub stages: Vec<StageSchedule>,
    /// Inputs read by several kernels: the input and the FIFOs it is copied to.
    pub splitters: Vec<(NodeId, Vec<usize>)>,
    pub processes: Vec<ReplayProcess>,
    pub replay: ReplayResult,
}

/// Frames replayed to size the FIFOs (later frames see the earlier ones' tails).
const FRAMES: usize = 3;

/// `pe` of kernel `n` in the stream style: as given, except that a kernel
/// without weights handles a whole pixel per step unless its stage says otherwise.
pub fn stream_pe(ctx: &Ctx<'_>, n: usize) -> usize {
    let k = &ctx.plan.kernels[n];
    let weighted = k.core.is_some_and(|c| {
        matches!(
            ctx.node(c).op,
            crate::ir::Op::Conv { .. } | crate::ir::Op::Deconv { .. }
        )
    });
    if weighted || ctx.options.parallel.contains_key(&k.stage) {
        ctx.parallel[n].pe
    } else {
        ctx.node(k.out).shape.chw().c
    }
}

pub fn network(ctx: &Ctx<'_>) -> Network {
    let p = ctx.program;
    let stages: Vec<StageSchedule> = ctx
        .plan
        .kernels
        .iter()
        .enumerate()
        .map(|(n, k)| schedule(ctx, k, stream_pe(ctx, n), ctx.parallel[n].simd))
        .collect();
    // Who reads each map.
    let mut sinks: BTreeMap<NodeId, Vec<Sink>> = BTreeMap::new();
    for (n, s) in stages.iter().enumerate() {
        for node in s
            .windows
            .iter()
            .map(|w| w.node)
            .chain(s.direct.iter().copied())
        {
            let list = sinks.entry(node).or_default();
            if !list.contains(&Sink::Kernel(n)) {
                list.push(Sink::Kernel(n));
            }
        }
    }
    for out in &p.outputs {
        sinks.entry(out.node).or_default().push(Sink::Output);
    }
    let inputs: Vec<NodeId> = p.inputs.iter().map(|i| i.node).collect();
    let mut fifos = vec![];
    let mut splitters = vec![];
    for (&node, list) in &sinks {
        let name = ctx.name(node);
        let input = inputs.contains(&node);
        if input && list.len() > 1 {
            fifos.push(Fifo {
                node,
                sink: Sink::Splitter,
                name: name.to_string(),
                depth: 2,
                port: true,
            });
        }
        let first = fifos.len();
        for &sink in list {
            let fifo_name = match sink {
                Sink::Kernel(n) if list.len() > 1 => {
                    format!("{name}_to_{}", ctx.name(ctx.plan.kernels[n].out))
                }
                _ => name.to_string(),
            };
            let port = sink == Sink::Output || (input && list.len() == 1);
            fifos.push(Fifo {
                node,
                sink,
                name: fifo_name,
                depth: 2,
                port,
            });
        }
        if input && list.len() > 1 {
            splitters.push((node, (first..fifos.len()).collect()));
        }
    }
    let mut net = Network {
        fifos,
        stages,
        splitters,
        processes: vec![],
        replay: ReplayResult {
            deadlock: None,
            frame_end: vec![],
            interval: 0,
            max_occupancy: vec![],
        },
    };
    net.processes = processes(ctx, &net);
    size_fifos(ctx, &mut net);
    net
}

/// Beats of one frame of `node` (one pixel per beat).
fn beats(ctx: &Ctx<'_>, node: NodeId) -> usize {
    let Chw { h, w, .. } = ctx.node(node).shape.chw();
    h * w
}

/// The FIFO kernel `n` reads `node` from.
pub fn fifo_into(net: &Network, node: NodeId, n: usize) -> Option<usize> {
    net.fifos
        .iter()
        .position(|f| f.node == node && f.sink == Sink::Kernel(n))
}

/// The streams kernel `n` writes: every reader of its output and indices.
pub fn fifos_out_of(ctx: &Ctx<'_>, net: &Network, n: usize) -> Vec<usize> {
    let k = &ctx.plan.kernels[n];
    std::iter::once(k.out)
        .chain(k.indices)
        .flat_map(|node| {
            net.fifos
                .iter()
                .enumerate()
                .filter(move |(_, f)| f.node == node && f.sink != Sink::Splitter)
                .map(|(i, _)| i)
        })
        .collect()
}

fn processes(ctx: &Ctx<'_>, net: &Network) -> Vec<ReplayProcess> {
    let mut list = vec![];
    for (node, outs) in &net.splitters {
        let Some(port) = net
            .fifos
            .iter()
            .position(|f| f.node == *node && f.sink == Sink::Splitter)
        else {
            continue;
        };
        let mut ports = vec![port];
        ports.extend(outs.iter().copied());
        let writes = ((1u64 << ports.len()) - 1) & !1;
        list.push(ReplayProcess {
            name: format!("split_{}", ctx.name(*node)),
            ii: 1,
            ports,
            iterations: vec![(1, writes); beats(ctx, *node)],
        });
    }
    for (n, s) in net.stages.iter().enumerate() {
        let mut ports: Vec<usize> = vec![];
        for w in &s.windows {
            ports.extend(fifo_into(net, w.node, n));
        }
        let window_ports = ports.len();
        for &d in &s.direct {
            ports.extend(fifo_into(net, d, n));
        }
        let direct_mask = ((1u64 << ports.len()) - 1) & !((1u64 << window_ports) - 1);
        let first_out = ports.len();
        ports.extend(fifos_out_of(ctx, net, n));
        let out_mask = ((1u64 << ports.len()) - 1) & !((1u64 << first_out) - 1);
        let iterations = s
            .steps
            .iter()
            .map(|st| {
                let reads = u64::from(st.loads) | if st.first { direct_mask } else { 0 };
                (reads, if st.last { out_mask } else { 0 })
            })
            .collect();
        list.push(ReplayProcess {
            name: format!("stage_{}", ctx.name(ctx.plan.kernels[n].out)),
            ii: s.ii as u32,
            ports,
            iterations,
        });
    }
    list
}

/// The replay's view of the FIFOs: ports at full AXI4-Stream rate.
pub fn replay_fifos(ctx: &Ctx<'_>, net: &Network) -> Vec<ReplayFifo> {
    net.fifos
        .iter()
        .map(|f| {
            let source = (f.port && f.sink != Sink::Output).then(|| beats(ctx, f.node));
            let sink = (f.sink == Sink::Output).then(|| beats(ctx, f.node));
            ReplayFifo {
                name: f.name.clone(),
                depth: f.depth,
                source,
                sink,
            }
        })
        .collect()
}

fn size_fifos(ctx: &Ctx<'_>, net: &mut Network) {
    let internal: Vec<usize> = (0..net.fifos.len())
        .filter(|&f| !net.fifos[f].port)
        .collect();
    for &f in &internal {
        net.fifos[f].depth = beats(ctx, net.fifos[f].node) * FRAMES + 2;
    }
    let mut fifos = replay_fifos(ctx, net);
    let free = replay(&net.processes, &fifos, FRAMES);
    if free.deadlock.is_none() {
        for &f in &internal {
            fifos[f].depth = free.max_occupancy[f].max(2);
        }
        // Twice over: the second pass sees every other FIFO at its final size.
        for _ in 0..2 {
            for &f in &internal {
                // Within 1% of the interval with unbounded FIFOs.
                let limit = free.interval + free.interval / 100;
                let d = smallest_safe_depth(&net.processes, &fifos, f, FRAMES, limit);
                fifos[f].depth = d.max(2);
            }
        }
    }
    for &f in &internal {
        net.fifos[f].depth = fifos[f].depth;
    }
    net.replay = replay(&net.processes, &fifos, FRAMES);
}
