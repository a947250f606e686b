//! The `stream` style: one DATAFLOW process per kernel, `hls::stream`
//! FIFOs between them. Every stream carries its map in raster order with the
//! channels innermost (row, column, channel), as hls4ml and FINN do.
//!
//! A process that reads a map through a window keeps only the rows it still
//! needs in a circular line buffer of `R` rows: for each output row it first
//! reads input rows up to `need[oy]` (the last row that output row touches),
//! then computes the row. `R` and `need` come from the stage's geometry
//! (conv taps with dilation, the stride phases of a transposed conv, pooling
//! windows, upsampling taps), enumerated at emission time; FIFO depths come
//! from a row-level timing model of the whole pipeline (docs/hls.md).

use super::array::{check_io, header, Sources};
use super::cpp::identifier;
use super::pixel::{emit_pixel, open_channel_loop, open_pixel, WindowRead, OC, OX, OY};
use super::plan::Kernel;
use super::writer::Code;
use super::{Ctx, HlsError};
use crate::ir::{Chw, NodeId, Op, Resample};
use crate::numeric::bilinear_taps;
use std::collections::BTreeMap;

/// Where a materialized map goes: a kernel (by index) or the top's output port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Sink {
    Kernel(usize),
    Output,
}

/// One FIFO: the map it carries, its reader, its name and depth.
#[derive(Clone, Debug)]
pub struct Fifo {
    pub node: NodeId,
    sink: Sink,
    pub name: String,
    pub depth: usize,
}

/// A map a kernel reads through its line buffer.
#[derive(Clone, Debug)]
pub struct LineBuffer {
    pub node: NodeId,
    /// Rows kept.
    pub rows: usize,
    /// For every output row, the last input row it reads (-1: none yet).
    pub need: Vec<isize>,
}

/// The stream structure of a design, shared with the estimator.
pub struct Network {
    pub fifos: Vec<Fifo>,
    /// Per kernel, its line buffers.
    pub buffers: Vec<Vec<LineBuffer>>,
    /// Row-level schedule: the cycle at which each row of each map is complete.
    pub done: BTreeMap<NodeId, Vec<u64>>,
}

/// The input rows kernel `k` reads from `input` for each output row.
fn rows_read(ctx: &Ctx<'_>, k: &Kernel, input: NodeId) -> Vec<Vec<usize>> {
    let oh = ctx.node(k.out).shape.chw().h;
    let h = ctx.node(input).shape.chw().h;
    let mut rows: Vec<Vec<usize>> = vec![vec![]; oh];
    let valid = |r: isize| (r >= 0 && (r as usize) < h).then_some(r as usize);
    for (oy, list) in rows.iter_mut().enumerate() {
        let oyi = oy as isize;
        if k.pixel_reads.contains(&input) {
            list.push(oy);
        }
        let Some(core) = k.core else { continue };
        if !k.window_reads.contains(&input) {
            continue;
        }
        match &ctx.node(core).op {
            Op::Conv { geom, w, .. } => {
                let kh = ctx.node(*w).shape.dims()[2];
                for ky in 0..kh {
                    list.extend(valid(
                        oyi * geom.stride.h as isize + (ky * geom.dilation.h) as isize
                            - geom.pad.top as isize,
                    ));
                }
            }
            Op::Deconv { geom, w, .. } => {
                let kh = ctx.node(*w).shape.dims()[2];
                for ky in 0..kh {
                    let t = oyi + geom.pad.top as isize - (ky * geom.dilation.h) as isize;
                    if t >= 0 && t % geom.stride.h as isize == 0 {
                        list.extend(valid(t / geom.stride.h as isize));
                    }
                }
            }
            Op::Upsample { factor, mode, .. } => match mode {
                Resample::Nearest => list.push(oy / factor.h),
                Resample::Bilinear => {
                    if let Some((taps, _)) = bilinear_taps(h, factor.h) {
                        list.push(taps[oy][0].0);
                        list.push(taps[oy][1].0);
                    }
                }
            },
            Op::MaxPool { geom, .. } | Op::MaxPoolIndices { geom, .. } => {
                for ky in 0..geom.kernel.h {
                    list.extend(valid(
                        oyi * geom.stride.h as isize + ky as isize - geom.pad.top as isize,
                    ));
                }
            }
            Op::MaxUnpool { idx, .. } => {
                let Op::MaxPoolIndices { geom, .. } = ctx.node(*idx).op else {
                    continue;
                };
                for ky in 0..geom.kernel.h {
                    let t = oyi + geom.pad.top as isize - ky as isize;
                    if t >= 0 && t % geom.stride.h as isize == 0 {
                        list.extend(valid(t / geom.stride.h as isize));
                    }
                }
            }
            Op::Concat(_) => list.push(oy),
            _ => {}
        }
    }
    rows
}

/// Line buffer of `input` in kernel `k`: `need` is the running maximum of
/// the rows read, and `R` the most rows one output row spans back from it.
fn line_buffer(ctx: &Ctx<'_>, k: &Kernel, input: NodeId) -> LineBuffer {
    let rows = rows_read(ctx, k, input);
    let mut need = Vec::with_capacity(rows.len());
    let mut last: isize = -1;
    let mut span = 1;
    for list in &rows {
        if let Some(&hi) = list.iter().max() {
            last = last.max(hi as isize);
        }
        if let Some(&lo) = list.iter().min() {
            span = span.max((last - lo as isize + 1) as usize);
        }
        need.push(last);
    }
    LineBuffer {
        node: input,
        rows: span,
        need,
    }
}

/// Whether kernel `k` reads `input` straight from its stream (same pixel,
/// no window), without a line buffer.
fn direct(k: &Kernel, input: NodeId) -> bool {
    k.pixel_reads.contains(&input) && !k.window_reads.contains(&input)
}

/// The FIFOs, line buffers and depths of a design.
pub fn network(ctx: &Ctx<'_>) -> Network {
    let p = ctx.program;
    let mut sinks: BTreeMap<NodeId, Vec<Sink>> = BTreeMap::new();
    for (n, k) in ctx.plan.kernels.iter().enumerate() {
        for &r in k.window_reads.iter().chain(&k.pixel_reads) {
            if ctx.plan.is_static[r] {
                continue;
            }
            let list = sinks.entry(r).or_default();
            if !list.contains(&Sink::Kernel(n)) {
                list.push(Sink::Kernel(n));
            }
        }
    }
    for out in &p.outputs {
        sinks.entry(out.node).or_default().push(Sink::Output);
    }
    let buffers: Vec<Vec<LineBuffer>> = ctx
        .plan
        .kernels
        .iter()
        .map(|k| {
            let mut inputs: Vec<NodeId> = vec![];
            for &r in k.window_reads.iter().chain(&k.pixel_reads) {
                if !ctx.plan.is_static[r] && !direct(k, r) && !inputs.contains(&r) {
                    inputs.push(r);
                }
            }
            inputs.into_iter().map(|r| line_buffer(ctx, k, r)).collect()
        })
        .collect();
    // Row-level timing: when each row of each map is complete (cycles).
    let mut done: BTreeMap<NodeId, Vec<u64>> = BTreeMap::new();
    for info in &p.inputs {
        let Chw { c, h, w } = ctx.node(info.node).shape.chw();
        done.insert(
            info.node,
            (1..=h as u64).map(|r| r * (w * c) as u64).collect(),
        );
    }
    // For each (map, kernel): the time each row of the map is read.
    let mut read_at: BTreeMap<(NodeId, usize), Vec<u64>> = BTreeMap::new();
    for (n, k) in ctx.plan.kernels.iter().enumerate() {
        let Chw { c, h: oh, w: ow } = ctx.node(k.out).shape.chw();
        let par = ctx.parallel[n];
        let fold = k
            .core
            .and_then(|core| super::reduction_channels(p, core))
            .zip(par.simd)
            .map_or(1, |(cig, s)| (cig / s).max(1));
        let row_cost = ((ow * c / par.pe) * fold).max(1) as u64;
        let mut needs: Vec<(NodeId, Vec<isize>)> = vec![];
        for lb in &buffers[n] {
            needs.push((lb.node, lb.need.clone()));
        }
        for &r in &k.pixel_reads {
            if !ctx.plan.is_static[r] && direct(k, r) {
                needs.push((r, (0..oh as isize).collect()));
            }
        }
        let mut t = 0u64;
        let mut rows_done = Vec::with_capacity(oh);
        let mut reads: Vec<Vec<u64>> = needs
            .iter()
            .map(|(r, _)| vec![0; ctx.node(*r).shape.chw().h])
            .collect();
        let mut next: Vec<usize> = vec![0; needs.len()];
        for oy in 0..oh {
            let mut start = t;
            for (r, need) in &needs {
                if need[oy] >= 0 {
                    let ready = done
                        .get(r)
                        .and_then(|d| d.get(need[oy] as usize))
                        .copied()
                        .unwrap_or(0);
                    start = start.max(ready);
                }
            }
            for (j, (_, need)) in needs.iter().enumerate() {
                while (next[j] as isize) <= need[oy] {
                    reads[j][next[j]] = start;
                    next[j] += 1;
                }
            }
            t = start + row_cost;
            rows_done.push(t);
        }
        for (j, (r, _)) in needs.iter().enumerate() {
            for row in next[j]..reads[j].len() {
                reads[j][row] = t;
            }
            read_at.insert((*r, n), std::mem::take(&mut reads[j]));
        }
        done.insert(k.out, rows_done.clone());
        if let Some(i) = k.indices {
            done.insert(i, rows_done);
        }
    }
    let mut fifos = vec![];
    for (&node, list) in &sinks {
        let Chw { c, h, w } = ctx.node(node).shape.chw();
        let single = list.len() == 1;
        for &sink in list {
            let name = match sink {
                Sink::Output => ctx.name(node).to_string(),
                Sink::Kernel(_) if single => ctx.name(node).to_string(),
                Sink::Kernel(n) => format!(
                    "{}_to_{}",
                    ctx.name(node),
                    ctx.name(ctx.plan.kernels[n].out)
                ),
            };
            let depth = match sink {
                Sink::Output => 2,
                Sink::Kernel(n) => {
                    let produced = done.get(&node).cloned().unwrap_or_default();
                    let reads = read_at.get(&(node, n)).cloned().unwrap_or_default();
                    let mut rows_in_flight = 0;
                    for (r, &t) in reads.iter().enumerate() {
                        let ready = produced.iter().skip(r).filter(|&&d| d <= t).count();
                        rows_in_flight = rows_in_flight.max(ready);
                    }
                    // A row is read as a whole before the output row that needs it.
                    (rows_in_flight * w * c).max(2).min(h * w * c).max(2)
                }
            };
            fifos.push(Fifo {
                node,
                sink,
                name,
                depth,
            });
        }
    }
    Network {
        fifos,
        buffers,
        done,
    }
}

struct StreamRead<'b> {
    buffers: &'b [LineBuffer],
}

impl WindowRead for StreamRead<'_> {
    fn at(&self, ctx: &Ctx<'_>, node: NodeId, c: &str, y: &str, x: &str) -> String {
        if ctx.plan.is_static[node] {
            return format!("{}[{c}][{y}][{x}]", ctx.name(node));
        }
        let rows = self
            .buffers
            .iter()
            .find(|b| b.node == node)
            .map_or(1, |b| b.rows);
        if rows == 1 {
            format!("{}_rows[{x}][{c}]", ctx.name(node))
        } else {
            let y = if y.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
                y.to_string()
            } else {
                format!("({y})")
            };
            format!("{}_rows[{y} % {rows}][{x}][{c}]", ctx.name(node))
        }
    }
    fn halo(&self, _ctx: &Ctx<'_>, _node: NodeId) -> usize {
        0
    }
}

fn stream_param(ctx: &Ctx<'_>, node: NodeId, name: &str) -> String {
    format!("hls::stream<{}>& {name}", ctx.type_name(node))
}

pub fn top_prototype(ctx: &Ctx<'_>, code: &mut Code) {
    code.line(format!("{};", top_signature(ctx)));
}

fn top_signature(ctx: &Ctx<'_>) -> String {
    let p = ctx.program;
    let mut args: Vec<String> = p
        .inputs
        .iter()
        .map(|i| stream_param(ctx, i.node, ctx.name(i.node)))
        .collect();
    args.extend(
        p.outputs
            .iter()
            .map(|o| stream_param(ctx, o.node, ctx.name(o.node))),
    );
    format!("void {}({})", identifier(&p.name), args.join(", "))
}

pub fn emit(ctx: &Ctx<'_>) -> Result<Sources, HlsError> {
    let p = ctx.program;
    check_io(ctx)?;
    let net = network(ctx);
    let mut code = Code::new();
    code.line(format!(
        "// {}.cpp: pipeline `{}`, stream style. Generated by convoy; do not edit.",
        p.name, p.name
    ));
    code.line("//");
    code.line("// One DATAFLOW process per stage; streams carry maps row by row, channels");
    code.line("// innermost. Every value has the ap type of the range Convoy proved for it.");
    code.line(format!("#include \"{}.h\"", p.name));
    code.line(format!("#include \"{}_params.h\"", p.name));
    // Splitters for inputs read by several processes.
    for info in &p.inputs {
        let outs: Vec<&Fifo> = net.fifos.iter().filter(|f| f.node == info.node).collect();
        if outs.len() > 1 {
            code.blank();
            splitter(ctx, info.node, &outs, &mut code);
        }
    }
    for (n, k) in ctx.plan.kernels.iter().enumerate() {
        code.blank();
        process(ctx, n, k, &net, &mut code);
    }
    code.blank();
    code.line("// The pipeline: all processes run concurrently, connected by FIFOs sized by");
    code.line("// Convoy's row-level schedule (docs/hls.md).");
    code.open(top_signature(ctx));
    for info in &p.inputs {
        code.pragma(format!("INTERFACE axis port={}", ctx.name(info.node)));
    }
    for out in &p.outputs {
        code.pragma(format!("INTERFACE axis port={}", ctx.name(out.node)));
    }
    code.pragma("DATAFLOW");
    let inputs: Vec<NodeId> = p.inputs.iter().map(|i| i.node).collect();
    for f in &net.fifos {
        let port =
            f.sink == Sink::Output || (inputs.contains(&f.node) && f.name == ctx.name(f.node));
        if port {
            continue;
        }
        code.line(format!(
            "hls::stream<{}> {}(\"{}\");",
            ctx.type_name(f.node),
            f.name,
            f.name
        ));
        code.pragma(format!("STREAM variable={} depth={}", f.name, f.depth));
    }
    for info in &p.inputs {
        let outs: Vec<&Fifo> = net.fifos.iter().filter(|f| f.node == info.node).collect();
        if outs.len() > 1 {
            let args: Vec<&str> = std::iter::once(ctx.name(info.node))
                .chain(outs.iter().map(|f| f.name.as_str()))
                .collect();
            code.line(format!(
                "split_{}({});",
                ctx.name(info.node),
                args.join(", ")
            ));
        }
    }
    for (n, k) in ctx.plan.kernels.iter().enumerate() {
        let (ins, outs) = ports(ctx, n, k, &net);
        let args: Vec<String> = ins.iter().chain(&outs).map(|(_, s)| s.clone()).collect();
        code.line(format!("stage_{}({});", ctx.name(k.out), args.join(", ")));
    }
    code.close();
    Ok(Sources {
        header: header(ctx, true),
        cpp: code.finish(),
    })
}

fn splitter(ctx: &Ctx<'_>, node: NodeId, outs: &[&Fifo], code: &mut Code) {
    let name = ctx.name(node);
    let mut args = vec![stream_param(ctx, node, name)];
    args.extend(outs.iter().map(|f| stream_param(ctx, node, &f.name)));
    code.line(format!(
        "// Input `{name}` feeds {} processes: one copy each.",
        outs.len()
    ));
    code.open(format!("static void split_{name}({})", args.join(", ")));
    let n = ctx.node(node).shape.len();
    code.open(format!("for (int i = 0; i < {n}; i++)"));
    code.pragma("PIPELINE II=1");
    code.line(format!("const {} v0 = {name}.read();", ctx.type_name(node)));
    for f in outs {
        code.line(format!("{}.write(v0);", f.name));
    }
    code.close().close();
}

/// `(map, stream name)` pairs of a process.
type Ports = Vec<(NodeId, String)>;

/// The streams a kernel reads (per node) and writes (stream names).
fn ports(ctx: &Ctx<'_>, n: usize, k: &Kernel, net: &Network) -> (Ports, Ports) {
    let mut ins: Vec<(NodeId, String)> = vec![];
    for &r in k.window_reads.iter().chain(&k.pixel_reads) {
        if ctx.plan.is_static[r] || ins.iter().any(|(x, _)| *x == r) {
            continue;
        }
        if let Some(f) = net
            .fifos
            .iter()
            .find(|f| f.node == r && f.sink == Sink::Kernel(n))
        {
            ins.push((r, f.name.clone()));
        }
    }
    let mut outs = vec![];
    for node in std::iter::once(k.out).chain(k.indices) {
        for f in net.fifos.iter().filter(|f| f.node == node) {
            outs.push((node, f.name.clone()));
        }
    }
    (ins, outs)
}

fn process(ctx: &Ctx<'_>, n: usize, k: &Kernel, net: &Network, code: &mut Code) {
    let par = ctx.parallel[n];
    let out = ctx.node(k.out);
    let name = ctx.name(k.out);
    let (ins, outs) = ports(ctx, n, k, net);
    let mut args: Vec<String> = ins
        .iter()
        .map(|(node, s)| stream_param(ctx, *node, s))
        .collect();
    args.extend(outs.iter().map(|(node, s)| stream_param(ctx, *node, s)));
    code.line(ctx.source_comment(k.out));
    code.open(format!("static void stage_{name}({})", args.join(", ")));
    let buffers = &net.buffers[n];
    let stream_of = |node: NodeId| {
        ins.iter()
            .find(|(x, _)| *x == node)
            .map(|(_, s)| s.clone())
            .unwrap_or_default()
    };
    for lb in buffers {
        let Chw { c, w, .. } = ctx.node(lb.node).shape.chw();
        let bn = ctx.name(lb.node);
        code.line(format!("// `{bn}`: the last {} row(s) of the map; output row oy needs rows up to {bn}_need[oy].", lb.rows));
        let need: Vec<String> = lb.need.iter().map(|v| v.to_string()).collect();
        code.line(format!(
            "static const int {bn}_need[{}] = {{{}}};",
            need.len(),
            need.join(", ")
        ));
        if lb.rows == 1 {
            code.line(format!("{} {bn}_rows[{w}][{c}];", ctx.type_name(lb.node)));
        } else {
            code.line(format!(
                "{} {bn}_rows[{}][{w}][{c}];",
                ctx.type_name(lb.node),
                lb.rows
            ));
            code.pragma(format!("ARRAY_PARTITION variable={bn}_rows complete dim=1"));
        }
        code.line(format!("int {bn}_next = 0;"));
    }
    let Chw { c, h: oh, w: ow } = out.shape.chw();
    code.open(format!("for (int {OY} = 0; {OY} < {oh}; {OY}++)"));
    for lb in buffers {
        let bn = ctx.name(lb.node);
        let Chw { c: ic_n, w, .. } = ctx.node(lb.node).shape.chw();
        let slot = if lb.rows == 1 {
            String::new()
        } else {
            format!("[{bn}_next % {}]", lb.rows)
        };
        code.open(format!("while ({bn}_next <= {bn}_need[{OY}])"));
        code.open(format!("for (int ix = 0; ix < {w}; ix++)"));
        code.open(format!("for (int ic = 0; ic < {ic_n}; ic++)"));
        code.pragma("PIPELINE II=1");
        code.line(format!(
            "{bn}_rows{slot}[ix][ic] = {}.read();",
            stream_of(lb.node)
        ));
        code.close().close();
        code.line(format!("{bn}_next++;"));
        code.close();
    }
    code.open(format!("for (int {OX} = 0; {OX} < {ow}; {OX}++)"));
    open_channel_loop(code, c, par.pe);
    open_pixel(ctx, k, par, code);
    let read = StreamRead { buffers };
    // A map read only here comes straight from its FIFO; one the core also
    // windows is read from the line buffer.
    let pixel = |r: NodeId| match (ctx.plan.is_static[r], direct(k, r)) {
        (true, _) => None,
        (false, true) => Some(format!("{}.read()", stream_of(r))),
        (false, false) => Some(read.at(ctx, r, OC, OY, OX)),
    };
    emit_pixel(ctx, k, code, &read, &pixel, par.simd);
    for (node, s) in &outs {
        if *node == k.out {
            code.line(format!("{s}.write(v{});", k.out));
        } else {
            code.line(format!("{s}.write({}(at));", ctx.type_name(*node)));
        }
    }
    if par.pe > 1 {
        code.close();
    }
    code.close().close().close();
    // Rows no output row needed are still in the FIFO: drain them.
    for lb in buffers {
        let bn = ctx.name(lb.node);
        let Chw { c: ic_n, h, w } = ctx.node(lb.node).shape.chw();
        if lb.need.last().copied().unwrap_or(-1) + 1 < h as isize {
            code.open(format!("for (; {bn}_next < {h}; {bn}_next++)"));
            code.open(format!("for (int i = 0; i < {}; i++)", w * ic_n));
            code.pragma("PIPELINE II=1");
            code.line(format!("{}.read();", stream_of(lb.node)));
            code.close().close();
        }
    }
    code.close();
}
