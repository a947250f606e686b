//! The `stream` style: one DATAFLOW process per kernel, `hls::stream`
//! FIFOs between them. A beat is a whole pixel (every channel, struct
//! `<name>_beat`); maps flow in raster order (row, then column).
//!
//! Every process is one flattened loop pipelined at the II its memories'
//! ports allow ([`schedule`](super::schedule)): in the same iteration it may
//! store the next input pixel into a line buffer (hls4ml's
//! `conv_2d_buffer_cl`, FINN's `ConvolutionInputGenerator`) and do one step
//! of an output pixel: one tap, `pe` output channels by `simd` input
//! channels, accumulators carried across steps (FINN's MVAU folding). Line
//! buffers hold one pixel word per address (channels reshaped into the
//! word), so each is written once and read once or twice per iteration;
//! weights are stored as PE x SIMD words in the order the steps read them.

use super::array::{check_io, header, Sources};
use super::cpp::{ap_type, identifier, value_literal};
use super::network::{fifo_into, fifos_out_of, network, Network, Sink};
use super::pixel::{acc_type, emit_epilogue, group_channel, operand, weight};
use super::plan::Kernel;
use super::schedule::{visited, weight_tiles, CoreKind, StageSchedule, Window};
use super::writer::Code;
use super::{Ctx, HlsError};
use crate::ir::{Chw, NodeId, Op};
use crate::numeric::bilinear_taps;

/// The beat type of a map: one pixel, all channels.
pub fn beat_type(ctx: &Ctx<'_>, node: NodeId) -> String {
    format!("{}_beat", ctx.name(node))
}

/// The beat structs of every streamed map (for the header).
pub fn beat_structs(ctx: &Ctx<'_>, code: &mut Code) {
    code.line("// One stream beat: a pixel, channel c in ch[c] (the AXI4-Stream TDATA packs");
    code.line("// ch[0] in the lowest bits).");
    for id in 0..ctx.program.nodes.len() {
        if ctx.plan.materialized[id] {
            let c = ctx.node(id).shape.chw().c;
            code.line(format!(
                "struct {} {{ {} ch[{c}]; }};",
                beat_type(ctx, id),
                ctx.type_name(id)
            ));
        }
    }
    code.blank();
    axis_types(ctx, code);
    code.blank();
    code.line("// Called at the start of every pipelined iteration; empty except in Convoy's");
    code.line("// cycle replay (tests), which records what each iteration reads and writes.");
    code.line("#ifndef CONVOY_ITERATION");
    code.line("#define CONVOY_ITERATION(process)");
    code.line("#endif");
}

fn stream_param(ctx: &Ctx<'_>, node: NodeId, name: &str) -> String {
    format!("hls::stream<{}>& {name}", beat_type(ctx, node))
}

/// The AXI4-Stream beat of a top-level port (`axis_cnv_x`): TDATA, TKEEP,
/// TSTRB, TLAST, as Vitis' `hls::axis<ap_uint<BITS>, 0, 0, 0>`.
pub fn axis_type(ctx: &Ctx<'_>, node: NodeId) -> String {
    format!("axis_{}", ctx.name(node))
}

/// TDATA bits of a port: the pixel's channels, rounded up to whole bytes.
pub fn axis_bits(ctx: &Ctx<'_>, node: NodeId) -> usize {
    let n = ctx.node(node);
    (n.shape.chw().c * n.ty.width as usize).div_ceil(8) * 8
}

fn port_param(ctx: &Ctx<'_>, node: NodeId, name: &str) -> String {
    format!("hls::stream<{}>& {name}", axis_type(ctx, node))
}

/// The parameter of FIFO `f`: a top-level port carries AXI beats.
fn fifo_param(ctx: &Ctx<'_>, net: &Network, f: usize) -> String {
    let fifo = &net.fifos[f];
    if fifo.port {
        port_param(ctx, fifo.node, &fifo.name)
    } else {
        stream_param(ctx, fifo.node, &fifo.name)
    }
}

/// The top-level ports' AXI4-Stream beats and the conversions between an
/// AXI beat and a pixel beat (the header's part). Under Vitis the beat is
/// `hls::axis` from `ap_axi_sdata.h`; elsewhere (C simulation with the open
/// ap_types, which lack that header) a struct with the same members.
fn axis_types(ctx: &Ctx<'_>, code: &mut Code) {
    let p = ctx.program;
    let mut ports: Vec<NodeId> = vec![];
    for id in p
        .inputs
        .iter()
        .map(|i| i.node)
        .chain(p.outputs.iter().map(|o| o.node))
    {
        if !ports.contains(&id) {
            ports.push(id);
        }
    }
    code.line("// Top-level AXI4-Stream beats: TDATA holds one pixel, channel c in bits");
    code.line("// [c * W, c * W + W) (W the width of its ap type, zero bits up to a whole byte),");
    code.line("// TKEEP and TSTRB all ones, TLAST set on the last pixel of each frame (the design");
    code.line("// ignores the TLAST it receives: a frame has a fixed number of beats).");
    code.line("#if defined(__SYNTHESIS__) || defined(CONVOY_VITIS)");
    code.line("#include <ap_axi_sdata.h>");
    for &id in &ports {
        code.line(format!(
            "typedef hls::axis<ap_uint<{}>, 0, 0, 0> {};",
            axis_bits(ctx, id),
            axis_type(ctx, id)
        ));
    }
    code.line("#else");
    code.line("template <int BITS>");
    code.open("struct convoy_axis");
    code.line("convoy_axis() : data(0), keep(0), strb(0), last(0) {}");
    code.line("ap_uint<BITS> data;");
    code.line("ap_uint<(BITS + 7) / 8> keep;");
    code.line("ap_uint<(BITS + 7) / 8> strb;");
    code.line("ap_uint<1> last;");
    code.close_with("};");
    for &id in &ports {
        code.line(format!(
            "typedef convoy_axis<{}> {};",
            axis_bits(ctx, id),
            axis_type(ctx, id)
        ));
    }
    code.line("#endif");
    for &id in &ports {
        let (axis, beat) = (axis_type(ctx, id), beat_type(ctx, id));
        let c = ctx.node(id).shape.chw().c;
        let w = ctx.node(id).ty.width;
        code.blank();
        code.open(format!("static inline {beat} from_{axis}(const {axis}& a)"));
        code.line(format!("{beat} b;"));
        code.open(format!("for (int c = 0; c < {c}; c++)"));
        code.pragma("UNROLL");
        code.line(format!(
            "b.ch[c].range({}, 0) = a.data.range(c * {w} + {}, c * {w});",
            w - 1,
            w - 1
        ));
        code.close();
        code.line("return b;");
        code.close();
        code.blank();
        code.open(format!(
            "static inline {axis} to_{axis}(const {beat}& b, bool last)"
        ));
        code.line(format!("{axis} a;"));
        code.line("a.data = 0;");
        code.open(format!("for (int c = 0; c < {c}; c++)"));
        code.pragma("UNROLL");
        code.line(format!(
            "a.data.range(c * {w} + {}, c * {w}) = ap_uint<{w}>(b.ch[c].range({}, 0));",
            w - 1,
            w - 1
        ));
        code.close();
        code.line("a.keep = -1;");
        code.line("a.strb = -1;");
        code.line("a.last = last;");
        code.line("return a;");
        code.close();
    }
}

pub fn top_prototype(ctx: &Ctx<'_>, code: &mut Code) {
    code.line(format!("{};", top_signature(ctx)));
}

fn top_signature(ctx: &Ctx<'_>) -> String {
    let p = ctx.program;
    let mut args: Vec<String> = p
        .inputs
        .iter()
        .map(|i| port_param(ctx, i.node, ctx.name(i.node)))
        .collect();
    args.extend(
        p.outputs
            .iter()
            .map(|o| port_param(ctx, o.node, ctx.name(o.node))),
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
    code.line("// One DATAFLOW process per stage, each a single loop pipelined at II=1 that");
    code.line("// stores input pixels into line buffers and computes output pixels in the same");
    code.line("// iterations. A stream beat is a whole pixel. Every value has the ap type of the");
    code.line("// range Convoy proved for it (docs/hls.md).");
    code.line(format!("#include \"{}.h\"", p.name));
    code.line(format!("#include \"{}_params.h\"", p.name));
    for (node, outs) in &net.splitters {
        code.blank();
        splitter(ctx, *node, outs, &net, &mut code);
    }
    for (n, k) in ctx.plan.kernels.iter().enumerate() {
        code.blank();
        process(ctx, n, k, &net, &mut code)?;
    }
    code.blank();
    code.line("// The pipeline: all processes run concurrently; FIFO depths are the smallest");
    code.line("// that keep Convoy's cycle replay free of deadlock at full rate (docs/hls.md).");
    code.open(top_signature(ctx));
    for info in &p.inputs {
        code.pragma(format!("INTERFACE axis port={}", ctx.name(info.node)));
    }
    for out in &p.outputs {
        code.pragma(format!("INTERFACE axis port={}", ctx.name(out.node)));
    }
    code.pragma("INTERFACE s_axilite port=return bundle=control");
    code.pragma("DATAFLOW");
    for f in net.fifos.iter().filter(|f| !f.port) {
        code.line(format!(
            "hls::stream<{}> {}(\"{}\");",
            beat_type(ctx, f.node),
            f.name,
            f.name
        ));
        code.pragma(format!("STREAM variable={} depth={}", f.name, f.depth));
    }
    for (node, outs) in &net.splitters {
        let args: Vec<&str> = std::iter::once(ctx.name(*node))
            .chain(outs.iter().map(|&f| net.fifos[f].name.as_str()))
            .collect();
        code.line(format!("split_{}({});", ctx.name(*node), args.join(", ")));
    }
    for (n, k) in ctx.plan.kernels.iter().enumerate() {
        let args: Vec<String> = ports(ctx, n, &net)
            .iter()
            .map(|&(_, f)| net.fifos[f].name.clone())
            .collect();
        code.line(format!("stage_{}({});", ctx.name(k.out), args.join(", ")));
    }
    code.close();
    Ok(Sources {
        header: header(ctx, true),
        cpp: code.finish(),
    })
}

fn splitter(ctx: &Ctx<'_>, node: NodeId, outs: &[usize], net: &Network, code: &mut Code) {
    let name = ctx.name(node);
    let mut args = vec![port_param(ctx, node, name)];
    args.extend(
        outs.iter()
            .map(|&f| stream_param(ctx, node, &net.fifos[f].name)),
    );
    code.line(format!(
        "// Input `{}` feeds {} processes: one copy each.",
        ctx.node(node).name.as_deref().unwrap_or(name),
        outs.len()
    ));
    code.open(format!("static void split_{name}({})", args.join(", ")));
    let Chw { h, w, .. } = ctx.node(node).shape.chw();
    code.open(format!("for (int t = 0; t < {}; t++)", h * w));
    code.pragma("PIPELINE II=1");
    code.line(format!("CONVOY_ITERATION(split_{name})"));
    code.line(format!(
        "const {} b = from_{}({name}.read());",
        beat_type(ctx, node),
        axis_type(ctx, node)
    ));
    for &f in outs {
        code.line(format!("{}.write(b);", net.fifos[f].name));
    }
    code.close().close();
}

/// The streams of kernel `n` in parameter order: windows, direct inputs, outputs.
fn ports(ctx: &Ctx<'_>, n: usize, net: &Network) -> Vec<(NodeId, usize)> {
    let s = &net.stages[n];
    let mut list = vec![];
    for node in s
        .windows
        .iter()
        .map(|w| w.node)
        .chain(s.direct.iter().copied())
    {
        if let Some(f) = fifo_into(net, node, n) {
            list.push((node, f));
        }
    }
    for f in fifos_out_of(ctx, net, n) {
        list.push((net.fifos[f].node, f));
    }
    list
}

fn ints(values: impl IntoIterator<Item = isize>) -> String {
    values
        .into_iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `static const int name[n][m] = {{..}, ..};` of a tap table.
fn tap_table(code: &mut Code, name: &str, rows: &[Vec<isize>]) {
    let m = rows.first().map_or(1, Vec::len);
    let body: Vec<String> = rows
        .iter()
        .map(|r| format!("{{{}}}", ints(r.iter().copied())))
        .collect();
    code.line(format!(
        "static const int {name}[{}][{m}] = {{{}}};",
        rows.len(),
        body.join(", ")
    ));
}

/// Kernel indices (-1: no tap) and input coordinates (0 when unused) per output coordinate.
fn tap_lists(taps: &super::schedule::Taps) -> (Vec<Vec<isize>>, Vec<Vec<isize>>) {
    let mut ks = vec![];
    let mut is = vec![];
    for list in &taps.per_out {
        let mut k: Vec<isize> = list.iter().map(|t| t.0 as isize).collect();
        let mut i: Vec<isize> = list.iter().map(|t| t.1 as isize).collect();
        k.resize(taps.count, -1);
        i.resize(taps.count, 0);
        ks.push(k);
        is.push(i);
    }
    (ks, is)
}

fn lb(ctx: &Ctx<'_>, w: &Window) -> String {
    format!("lb_{}", ctx.name(w.node))
}

/// The names of a line buffer's copies.
fn copies(ctx: &Ctx<'_>, w: &Window) -> Vec<String> {
    (0..w.copies)
        .map(|j| {
            if j == 0 {
                lb(ctx, w)
            } else {
                format!("lb{j}_{}", ctx.name(w.node))
            }
        })
        .collect()
}

fn process(
    ctx: &Ctx<'_>,
    n: usize,
    k: &Kernel,
    net: &Network,
    code: &mut Code,
) -> Result<(), HlsError> {
    let s = &net.stages[n];
    let out = ctx.node(k.out);
    let name = ctx.name(k.out);
    let ports = ports(ctx, n, net);
    let args: Vec<String> = ports
        .iter()
        .map(|&(_, f)| fifo_param(ctx, net, f))
        .collect();
    let Chw { c, h: oh, w: ow } = out.shape.chw();
    code.line(ctx.source_comment(k.out));
    code.line(format!(
        "// {} iterations at II={}: {} output pixels x {} channel groups x {} steps ({} x {} taps x {} chunks).",
        s.trip(),
        s.ii,
        oh * ow,
        s.groups,
        s.fold,
        s.rows.count,
        s.col_steps,
        s.chunks
    ));
    code.open(format!("static void stage_{name}({})", args.join(", ")));
    super::pixel::table_storage(ctx, k, s.pe, code);
    // `x.read()` of the FIFO bringing `node`, as a pixel beat.
    let read_of = |node: NodeId| {
        let fifo = ports
            .iter()
            .find(|(x, f)| *x == node && net.fifos[*f].sink == Sink::Kernel(n))
            .map(|&(_, f)| &net.fifos[f]);
        match fifo {
            Some(f) if f.port => format!("from_{}({}.read())", axis_type(ctx, node), f.name),
            Some(f) => format!("{}.read()", f.name),
            None => String::new(),
        }
    };
    // Weights as PE x SIMD words.
    let tiles = weight_tiles(ctx, k, s);
    if let Some((w, values, dims)) = &tiles {
        let wn = ctx.node(*w);
        let mut lits = Vec::with_capacity(values.len());
        for &v in values {
            lits.push(
                value_literal(v, wn.frac, &wn.ty).ok_or_else(|| HlsError::WideConstant {
                    span: wn.span,
                    name: wn.name.clone().unwrap_or_else(|| wn.owner.clone()),
                    width: wn.ty.width,
                })?,
            );
        }
        code.line("// Weights by channel group, kernel row, kernel column, chunk: one word of");
        code.line("// pe x simd weights per step.");
        let d: String = dims.iter().map(|d| format!("[{d}]")).collect();
        code.line(format!(
            "static const {} tiles{d} = {{{}}};",
            ctx.type_name(*w),
            lits.join(", ")
        ));
        code.pragma("ARRAY_RESHAPE variable=tiles complete dim=5");
        code.pragma("ARRAY_RESHAPE variable=tiles complete dim=6");
    }
    let tapped = !s.rows.per_out.is_empty();
    if tapped {
        code.line(
            "// Taps of each output row / column: kernel index (-1: none) and input coordinate.",
        );
        let (ky, iy) = tap_lists(&s.rows);
        let (kx, ix) = tap_lists(&s.cols);
        tap_table(code, "ky_of", &ky);
        tap_table(code, "iy_of", &iy);
        tap_table(code, "kx_of", &kx);
        tap_table(code, "ix_of", &ix);
        code.line(
            "// Tap slots each output row / column visits (fewer at edges and stride phases).",
        );
        code.line(format!(
            "static const int ny_of[{oh}] = {{{}}};",
            ints((0..oh).map(|o| visited(&s.rows, o) as isize))
        ));
        if s.col_steps != 1 {
            code.line(format!(
                "static const int nx_of[{ow}] = {{{}}};",
                ints((0..ow).map(|o| visited(&s.cols, o) as isize))
            ));
        }
    }
    if s.core == CoreKind::Bilinear {
        bilinear_tables(ctx, k, code);
    }
    for w in &s.windows {
        let Chw { c: wc, h, w: ww } = ctx.node(w.node).shape.chw();
        let wn = ctx.name(w.node);
        code.line(format!(
            "// Line buffer of `{}`: {} rows of {ww} pixels; row iy in slot iy & {}.",
            ctx.node(w.node).name.as_deref().unwrap_or(wn),
            w.slots,
            w.slots - 1
        ));
        for copy in copies(ctx, w) {
            code.line(format!(
                "{} {copy}[{}][{ww}][{wc}];",
                ctx.type_name(w.node),
                w.slots
            ));
            code.pragma(format!("ARRAY_RESHAPE variable={copy} complete dim=3"));
            code.pragma(format!("DEPENDENCE variable={copy} inter false"));
        }
        code.line(format!(
            "static const int free_{wn}[{h}] = {{{}}};",
            ints(w.free.iter().map(|&v| v as isize))
        ));
        code.line(format!(
            "static const int need_row_{wn}[{oh}] = {{{}}};",
            ints(w.need_row.iter().copied())
        ));
        code.line(format!(
            "static const int need_col_{wn}[{ow}] = {{{}}};",
            ints(w.need_col.iter().copied())
        ));
        code.line(format!("int ry_{wn} = 0, rx_{wn} = 0;"));
    }
    for &d in &s.direct {
        let dn = ctx.name(d);
        let dc = ctx.node(d).shape.chw().c;
        code.line(format!("{} in_{dn};", beat_type(ctx, d)));
        code.line(format!("for (int c = 0; c < {dc}; c++) in_{dn}.ch[c] = 0;"));
    }
    code.line(format!("{} pix;", beat_type(ctx, k.out)));
    if let Some(i) = k.indices {
        code.line(format!("{} pix_at;", beat_type(ctx, i)));
    }
    let pe = s.pe;
    let state = state_registers(ctx, k, s);
    for (ty, reg, init) in &state {
        code.line(format!("{ty} {reg}[{pe}];"));
        code.pragma(format!("ARRAY_PARTITION variable={reg} complete"));
        code.line(format!("for (int p = 0; p < {pe}; p++) {reg}[p] = {init};"));
    }
    let weighted = tiles.is_some();
    code.line("int oy = 0, ox = 0, oc0 = 0, ta = 0, tb = 0, tc = 0;");
    if weighted {
        code.line("int g = 0;  // oc0 / pe");
    }
    code.open(format!("for (int t = 0; t < {}; t++)", s.trip()));
    code.pragma(format!("PIPELINE II={}", s.ii));
    code.line(format!("CONVOY_ITERATION(stage_{name})"));
    let mut ready = vec![];
    for w in &s.windows {
        let wn = ctx.name(w.node);
        let h = ctx.node(w.node).shape.chw().h;
        code.line(format!(
            "const bool load_{wn} = ry_{wn} < {h} && oy >= free_{wn}[ry_{wn}];"
        ));
        ready.push(format!(
            "(ry_{wn} > need_row_{wn}[oy] || (ry_{wn} == need_row_{wn}[oy] && rx_{wn} > need_col_{wn}[ox]))"
        ));
    }
    let mut work = vec![format!("oy < {oh}")];
    work.extend(ready);
    code.line(format!("const bool work = {};", work.join(" && ")));
    for w in &s.windows {
        let wn = ctx.name(w.node);
        let Chw { c: wc, w: ww, .. } = ctx.node(w.node).shape.chw();
        code.open(format!("if (load_{wn})"));
        code.line(format!(
            "const {} b = {};",
            beat_type(ctx, w.node),
            read_of(w.node)
        ));
        code.open(format!("for (int c = 0; c < {wc}; c++)"));
        code.pragma("UNROLL");
        for copy in copies(ctx, w) {
            code.line(format!(
                "{copy}[ry_{wn} & {}][rx_{wn}][c] = b.ch[c];",
                w.slots - 1
            ));
        }
        code.close();
        code.open(format!("if (rx_{wn} == {})", ww - 1));
        code.line(format!("rx_{wn} = 0;"));
        code.line(format!("ry_{wn}++;"));
        code.reopen("} else {");
        code.line(format!("rx_{wn}++;"));
        code.close();
        code.close();
    }
    code.open("if (work)");
    let nc = s.chunks;
    // The last row / column tap slot of the current pixel.
    let (fy, fx) = if tapped {
        let fx = if s.col_steps == 1 {
            "0".to_string()
        } else {
            "nx_of[ox] - 1".to_string()
        };
        ("ny_of[oy] - 1".to_string(), fx)
    } else {
        ("0".to_string(), "0".to_string())
    };
    let first_step = "ta == 0 && tb == 0 && tc == 0";
    let last_step = format!("ta == {fy} && tb == {fx} && tc == {}", nc - 1);
    if !s.direct.is_empty() {
        code.open(format!("if (oc0 == 0 && {first_step})"));
        for &d in &s.direct {
            code.line(format!("in_{} = {};", ctx.name(d), read_of(d)));
        }
        code.close();
    }
    if tapped {
        code.line("const int ky = ky_of[oy][ta], iy = iy_of[oy][ta];");
        code.line("const int kx = kx_of[ox][tb], ix = ix_of[ox][tb];");
        code.line("const bool hit = ky >= 0 && kx >= 0;");
        code.line("(void)iy;");
        code.line("(void)ix;");
        code.line("(void)hit;");
    }
    for w in &s.windows {
        let wn = ctx.name(w.node);
        let wc = ctx.node(w.node).shape.chw().c;
        let t = ctx.type_name(w.node);
        if w.tap_read && w.copies > 1 {
            code.line("// Both column taps at once, one from each copy of the line buffer.");
            for (j, copy) in copies(ctx, w).iter().enumerate() {
                code.line(format!("{t} px{j}_{wn}[{wc}];"));
                code.open(format!("for (int c = 0; c < {wc}; c++)"));
                code.pragma("UNROLL");
                code.line(format!(
                    "px{j}_{wn}[c] = {copy}[iy & {}][ix_of[ox][{j}]][c];",
                    w.slots - 1
                ));
                code.close();
            }
        } else if w.tap_read {
            code.line(format!("{t} px_{wn}[{wc}];  // the tap's pixel, one word"));
            code.open(format!("for (int c = 0; c < {wc}; c++)"));
            code.pragma("UNROLL");
            code.line(format!(
                "px_{wn}[c] = {}[iy & {}][ix][c];",
                lb(ctx, w),
                w.slots - 1
            ));
            code.close();
        }
        if w.pixel_read {
            code.line(format!(
                "{t} at_{wn}[{wc}];  // the output pixel's position, one word"
            ));
            code.open(format!("for (int c = 0; c < {wc}; c++)"));
            code.pragma("UNROLL");
            code.line(format!(
                "at_{wn}[c] = {}[oy & {}][ox][c];",
                lb(ctx, w),
                w.slots - 1
            ));
            code.close();
        }
    }
    code.open(format!("for (int p = 0; p < {pe}; p++)"));
    code.pragma("UNROLL");
    code.line("const unsigned oc = oc0 + p;");
    core_step(ctx, k, s, code, first_step);
    code.open(format!("if ({last_step})"));
    core_final(ctx, k, s, code);
    for &r in &k.pixel_reads {
        if ctx.plan.is_static[r] {
            continue;
        }
        let src = if s.direct.contains(&r) {
            format!("in_{}.ch[oc]", ctx.name(r))
        } else {
            format!("at_{}[oc]", ctx.name(r))
        };
        code.line(format!("const {} v{r} = {src};", ctx.type_name(r)));
    }
    emit_epilogue(ctx, k, code, &|o| operand(ctx, o));
    code.line(format!("pix.ch[oc] = v{};", k.out));
    if let Some(i) = k.indices {
        code.line(format!("pix_at.ch[oc] = {}(at[p]);", ctx.type_name(i)));
    }
    code.close();
    code.close();
    code.open(format!("if ({last_step} && oc0 == {})", c - pe));
    for f in fifos_out_of(ctx, net, n) {
        let fifo = &net.fifos[f];
        let beat = if fifo.node == k.out { "pix" } else { "pix_at" };
        if fifo.port {
            // TLAST on the frame's last pixel.
            code.line(format!(
                "{}.write(to_{}({beat}, oy == {} && ox == {}));",
                fifo.name,
                axis_type(ctx, fifo.node),
                oh - 1,
                ow - 1
            ));
        } else {
            code.line(format!("{}.write({beat});", fifo.name));
        }
    }
    code.close();
    code.line("// Next step: chunk, column tap, row tap, channel group, then pixel.");
    code.open(format!("if (tc < {})", nc - 1));
    code.line("tc++;");
    code.reopen(&format!("}} else if (tb < {fx}) {{"));
    code.line("tc = 0;");
    code.line("tb++;");
    code.reopen(&format!("}} else if (ta < {fy}) {{"));
    code.line("tc = 0;");
    code.line("tb = 0;");
    code.line("ta++;");
    code.reopen(&format!("}} else if (oc0 < {}) {{", c - pe));
    code.line("tc = 0;");
    code.line("tb = 0;");
    code.line("ta = 0;");
    code.line(format!("oc0 += {pe};"));
    if weighted {
        code.line("g++;");
    }
    code.reopen("} else {");
    code.line("tc = 0;");
    code.line("tb = 0;");
    code.line("ta = 0;");
    code.line("oc0 = 0;");
    if weighted {
        code.line("g = 0;");
    }
    code.open(format!("if (ox < {})", ow - 1));
    code.line("ox++;");
    code.reopen("} else {");
    code.line("ox = 0;");
    code.line("oy++;");
    code.close();
    code.close();
    code.close(); // work
    code.close(); // loop
    code.close(); // function
    Ok(())
}

/// Registers carried from step to step, per lane: `(type, name, initial value)`.
fn state_registers(ctx: &Ctx<'_>, k: &Kernel, s: &StageSchedule) -> Vec<(String, String, String)> {
    let Some(core) = k.core else { return vec![] };
    let node = ctx.node(core);
    match (&node.op, s.core) {
        (_, CoreKind::Conv | CoreKind::Deconv | CoreKind::Bilinear) => {
            vec![(acc_type(&node.ty), "acc".into(), "0".into())]
        }
        (Op::MaxPool { x, .. } | Op::MaxPoolIndices { x, .. }, CoreKind::Pool) => {
            let xt = ap_type(&ctx.node(*x).ty);
            vec![
                (xt, "best".into(), "0".into()),
                ("bool".into(), "found".into(), "false".into()),
                ("int".into(), "at".into(), "0".into()),
            ]
        }
        (_, CoreKind::Unpool | CoreKind::Remap) => {
            vec![(ap_type(&node.ty), "val".into(), "0".into())]
        }
        _ => vec![],
    }
}

/// One step of the core for lane `p` (output channel `oc`).
fn core_step(ctx: &Ctx<'_>, k: &Kernel, s: &StageSchedule, code: &mut Code, first: &str) {
    let Some(core) = k.core else { return };
    let node = ctx.node(core);
    match &node.op {
        Op::Conv { x, w, geom } | Op::Deconv { x, w, geom } => {
            let at = acc_type(&node.ty);
            let cig = s.lanes * s.chunks;
            let cog = match (&node.op, ctx.node(*w).shape.dims().as_slice()) {
                (Op::Deconv { .. }, [_, i, ..]) => *i,
                _ => node.shape.chw().c / geom.groups.max(1),
            };
            let ch = group_channel(geom.groups, cig, cog, "ic");
            code.line(format!("{at} a = ({first}) ? {at}(0) : acc[p];"));
            code.open("if (hit)");
            code.open(format!("for (int s = 0; s < {}; s++)", s.lanes));
            code.pragma("UNROLL");
            code.line(format!("const unsigned ic = tc * {} + s;", s.lanes));
            code.line("(void)ic;");
            // A kernel of ones (avgpool, sum) only adds: no weight read, no multiplier.
            let ones =
                matches!(&ctx.node(*w).op, Op::Constant { data } if data.iter().all(|&v| v == 1));
            let weight = if ones {
                ""
            } else {
                "tiles[g][ky][kx][tc][p][s] * "
            };
            code.line(format!("a += {weight}px_{}[{ch}];", ctx.name(*x)));
            code.close().close();
            code.line("acc[p] = a;");
        }
        Op::MaxPool { x, .. } | Op::MaxPoolIndices { x, .. } => {
            let xt = ap_type(&ctx.node(*x).ty);
            let xw = ctx.node(*x).shape.chw().w;
            code.line("// Max-pool: padding never wins, the first maximum does.");
            code.line(format!("const bool fresh = {first};"));
            code.line(format!("{xt} b = fresh ? {xt}(0) : best[p];"));
            code.line("bool f = fresh ? false : found[p];");
            code.line("int a = fresh ? 0 : at[p];");
            code.open("if (hit)");
            code.line(format!("const {xt} cand = px_{}[oc];", ctx.name(*x)));
            code.open("if (!f || cand > b)");
            code.line("b = cand;");
            code.line(format!("a = iy * {xw} + ix;"));
            code.line("f = true;");
            code.close().close();
            code.line("best[p] = b;");
            code.line("found[p] = f;");
            code.line("at[p] = a;");
        }
        Op::MaxUnpool { x, idx, out } => {
            let t = ap_type(&node.ty);
            code.line("// Max-unpool: the last window (C order) whose index hits this pixel wins.");
            code.line(format!("{t} v = ({first}) ? {t}(0) : val[p];"));
            code.open(format!(
                "if (hit && px_{}[oc] == oy * {} + ox)",
                ctx.name(*idx),
                out.w
            ));
            code.line(format!("v = px_{}[oc];", ctx.name(*x)));
            code.close();
            code.line("val[p] = v;");
        }
        Op::Remap { x, .. } => {
            let Some(src) = super::remap::source(ctx, core) else {
                return;
            };
            let t = ap_type(&node.ty);
            code.line(format!(
                "// {}: the lane keeps the element of the tap it reads.",
                node.label
            ));
            code.line(format!("{t} v = ({first}) ? {t}({}) : val[p];", src.fill));
            for line in &src.prelude {
                code.line(line.clone());
            }
            let mut cond = vec!["hit".to_string()];
            if !src.single_tap {
                cond.push(format!("iy == int({})", src.iy));
                cond.push(format!("ix == int({})", src.ix));
            }
            code.open(format!("if ({})", cond.join(" && ")));
            code.line(format!("v = px_{}[{}];", ctx.name(*x), src.ch));
            code.close();
            code.line("val[p] = v;");
        }
        Op::Upsample { x, .. } if s.core == CoreKind::Bilinear => {
            let at = acc_type(&node.ty);
            code.line(format!("{at} a = ({first}) ? {at}(0) : acc[p];"));
            let xn = ctx.name(*x);
            code.line(format!(
                "a += wy_of[oy][ta] * (wx_of[ox][0] * px0_{xn}[oc] + wx_of[ox][1] * px1_{xn}[oc]);"
            ));
            code.line("acc[p] = a;");
        }
        _ => {}
    }
}

/// The core's value at the last step of lane `p`: `v<core>`.
fn core_final(ctx: &Ctx<'_>, k: &Kernel, s: &StageSchedule, code: &mut Code) {
    let Some(core) = k.core else { return };
    let node = ctx.node(core);
    let t = ap_type(&node.ty);
    let v = format!("v{core}");
    match &node.op {
        Op::Conv { .. } | Op::Deconv { .. } => {
            code.line(format!(
                "const {} {v} = acc[p];  // {}",
                acc_type(&node.ty),
                node.label
            ));
        }
        Op::MaxPool { .. } => {
            code.line(format!("const {t} {v} = best[p];"));
        }
        Op::MaxPoolIndices { .. } => {
            code.line(format!("const {t} {v} = at[p];"));
        }
        Op::MaxUnpool { .. } | Op::Remap { .. } => {
            code.line(format!("const {t} {v} = val[p];"));
        }
        Op::Upsample { x, .. } => {
            if s.core == CoreKind::Bilinear {
                code.line(format!("const {t} {v} = acc[p];  // {}", node.label));
            } else {
                code.line(format!("const {t} {v} = px_{}[oc];", ctx.name(*x)));
            }
        }
        Op::Reduce { x, op } => {
            let c = ctx.node(*x).shape.chw().c;
            let xt = ap_type(&ctx.node(*x).ty);
            let xn = ctx.name(*x);
            code.line(format!(
                "{xt} best = in_{xn}.ch[0];  // {}: the first maximum over the channels",
                node.label
            ));
            let argmax = *op == crate::ir::ChannelReduce::ArgMax;
            if argmax {
                code.line("int at = 0;");
            }
            code.open(format!("for (int ic = 1; ic < {c}; ic++)"));
            code.pragma("UNROLL");
            code.open(format!("if (in_{xn}.ch[ic] > best)"));
            code.line(format!("best = in_{xn}.ch[ic];"));
            if argmax {
                code.line("at = ic;");
            }
            code.close().close();
            let result = match op {
                crate::ir::ChannelReduce::Max => "best",
                crate::ir::ChannelReduce::ArgMax => "at",
            };
            code.line(format!("const {t} {v} = {result};"));
        }
        Op::Concat(parts) => {
            code.line(format!("{t} {v};  // concat"));
            let mut start = 0;
            for (i, &part) in parts.iter().enumerate() {
                let pc = ctx.node(part).shape.chw().c;
                let ch = if start == 0 {
                    "oc".to_string()
                } else {
                    format!("oc - {start}")
                };
                let read = format!("in_{}.ch[{ch}]", ctx.name(part));
                if parts.len() == 1 {
                    code.line(format!("{v} = {read};"));
                } else if i == 0 {
                    code.open(format!("if (oc < {})", start + pc));
                    code.line(format!("{v} = {read};"));
                } else if i + 1 == parts.len() {
                    code.reopen("} else {");
                    code.line(format!("{v} = {read};"));
                    code.close();
                } else {
                    code.reopen(&format!("}} else if (oc < {}) {{", start + pc));
                    code.line(format!("{v} = {read};"));
                }
                start += pc;
            }
        }
        _ => {}
    }
}

fn bilinear_tables(ctx: &Ctx<'_>, k: &Kernel, code: &mut Code) {
    let Some(core) = k.core else { return };
    let Op::Upsample { x, factor, .. } = ctx.node(core).op else {
        return;
    };
    let Chw { h, w, .. } = ctx.node(x).shape.chw();
    for (name, size, f) in [("wy_of", h, factor.h), ("wx_of", w, factor.w)] {
        let Some((taps, bits)) = bilinear_taps(size, f) else {
            continue;
        };
        let rows: Vec<String> = taps
            .iter()
            .map(|t| format!("{{{}, {}}}", weight(t[0].1, bits), weight(t[1].1, bits)))
            .collect();
        code.line(format!(
            "static const ap_ufixed<{}, 1> {name}[{}][2] = {{{}}};",
            bits + 1,
            taps.len(),
            rows.join(", ")
        ));
    }
}
