//! The arithmetic of one output pixel, shared by both styles: reading
//! static data, the elementwise epilogue, conversions with the script's
//! modes, and the spatial cores written against a window-read function.
//!
//! Every local `v<id>` has exactly the ap type of node `id`'s proven type;
//! ap arithmetic on them is exact (it widens), so the only places where
//! information can be lost are the explicit conversions of [`convert`],
//! which reproduce `numeric::cast_raw`.

use super::cpp::{ap_type, fixed_type, value_literal};
use super::plan::Kernel;
use super::writer::Code;
use super::{Ctx, Parallel};
use crate::ir::{CastOverflow, Chw, Elementwise, NodeId, Op, Resample, Rounding, Shape};
use crate::notation::array_dims;
use crate::numeric::bilinear_taps;
use crate::types::{Overflow, Quant, ScalarType};

/// The loop counters of an output pixel.
pub const OC: &str = "oc";
pub const OY: &str = "oy";
pub const OX: &str = "ox";

/// The type an accumulator of node `id` is declared with: the node's width
/// and fraction, wrap-around overflow (partial sums may leave the final
/// range; two's-complement wrap-around makes the final sum exact).
pub fn acc_type(ty: &ScalarType) -> String {
    let mut t = *ty;
    t.quant = Quant::Trn;
    t.overflow = Overflow::Wrap;
    ap_type(&t)
}

/// `a * k + b` as short C++ text (`oy * 2 - 1`, `ky`, `ox + 1`).
pub fn affine(terms: &[(&str, usize)], offset: isize) -> String {
    let mut parts: Vec<String> = vec![];
    for &(var, k) in terms {
        match k {
            0 => {}
            1 => parts.push(var.to_string()),
            k => parts.push(format!("{var} * {k}")),
        }
    }
    let mut text = parts.join(" + ");
    if text.is_empty() {
        return offset.to_string();
    }
    if offset > 0 {
        text.push_str(&format!(" + {offset}"));
    } else if offset < 0 {
        text.push_str(&format!(" - {}", -offset));
    }
    text
}

/// A static node read at the output pixel: scalars by name, vectors by
/// channel, maps by position.
pub fn static_read(ctx: &Ctx<'_>, id: NodeId) -> String {
    let name = ctx.name(id);
    match ctx.node(id).shape {
        Shape::Scalar => name.to_string(),
        Shape::Vector(_) => format!("{name}[{OC}]"),
        _ => format!("{name}[{OC}][{OY}][{OX}]"),
    }
}

/// `src` (of type `from`) converted as `x as T` is: quantized to `to`'s
/// fraction bits with `q`, then brought into range with `o` (`None`: the
/// checker proved it fits, a plain assignment). Integer targets go through
/// `ap_fixed<W, W, Q, O>` when the modes are not what assigning to an
/// `ap_int` does anyway (truncation toward zero, wrap-around).
pub fn convert(
    src: &str,
    from: &ScalarType,
    to: &ScalarType,
    q: Quant,
    o: Option<Overflow>,
) -> String {
    let o = o.unwrap_or(Overflow::Wrap);
    // ap_fixed's assignment reads the bit below the new LSB even when it lies
    // above the source's MSB (an assertion in the open-source headers): give
    // such a source enough (sign-extended, exact) integer bits first.
    let target_frac = if to.fixed { to.frac_bits() } else { 0 };
    let dropped = from.frac_bits() - target_frac;
    let widened_src;
    let src = if dropped >= from.width as i32 {
        let w = dropped as u32 + 2;
        widened_src = format!(
            "{}({src})",
            widened(from, w, from.int_bits + (w - from.width) as i32)
        );
        widened_src.as_str()
    } else {
        src
    };
    if !to.fixed {
        let exact_int = from.frac_bits() <= 0;
        let trunc_zero = q == Quant::TrnZero || exact_int;
        if trunc_zero && o == Overflow::Wrap {
            return format!("{}({src})", ap_type(to));
        }
        let via = fixed_type(to.signed, to.width, to.width as i32, q, o);
        return format!("{}({via}({src}))", ap_type(to));
    }
    fixed_type(to.signed, to.width, to.int_bits, q, o) + &format!("({src})")
}

/// The right-hand side computing elementwise node `id`, given how to refer
/// to its operands.
pub fn elementwise(ctx: &Ctx<'_>, id: NodeId, arg: &dyn Fn(NodeId) -> String) -> String {
    let node = ctx.node(id);
    let t = ap_type(&node.ty);
    let ty_of = |o: NodeId| ctx.node(o).ty;
    match &node.op {
        Op::Neg(a) => format!("-{}", arg(*a)),
        Op::Relu(a) => {
            if !ty_of(*a).signed {
                arg(*a)
            } else {
                let a = arg(*a);
                format!("{a} < 0 ? {t}(0) : {t}({a})")
            }
        }
        Op::Round(a, r) => {
            let q = match r {
                Rounding::Floor => Quant::Trn,
                Rounding::Round => Quant::RndInf,
                Rounding::Trunc => Quant::TrnZero,
            };
            convert(&arg(*a), &ty_of(*a), &node.ty, q, None)
        }
        Op::Shr(a, n) => {
            let at = ty_of(*a);
            let (w, i) = (at.width as i64, at.int_bits as i64);
            // Shift the raw value at the node's fraction: a type whose LSB is
            // above 1 (`fixed<8, 10>`) first gets its missing fraction bits,
            // and the register is widened so that the shift stays below its width.
            let f = (w - i).max(0);
            let mut ww = i + f;
            let mut wi = i;
            if ww <= *n as i64 {
                let grow = *n as i64 + 1 - ww;
                ww += grow;
                wi += grow;
            }
            if ww == w && wi == i {
                format!("{} >> {n}", arg(*a))
            } else {
                format!("{}({}) >> {n}", widened(&at, ww as u32, wi as i32), arg(*a))
            }
        }
        Op::Shl(a, n) => {
            let at = ty_of(*a);
            let wide = widened(&at, at.width + n, at.int_bits + *n as i32);
            format!("{wide}({}) << {n}", arg(*a))
        }
        Op::Binary(op, a, b) => {
            let (at, bt) = (ty_of(*a), ty_of(*b));
            let (a, b) = (arg(*a), arg(*b));
            match op {
                Elementwise::Add => format!("{a} + {b}"),
                Elementwise::Sub => format!("{a} - {b}"),
                Elementwise::Mul => format!("{a} * {b}"),
                Elementwise::Max => {
                    let (ca, cb) = (comparable(&a, &at, &bt), comparable(&b, &bt, &at));
                    format!("{ca} > {cb} ? {t}({a}) : {t}({b})")
                }
                Elementwise::Min => {
                    let (ca, cb) = (comparable(&a, &at, &bt), comparable(&b, &bt, &at));
                    format!("{ca} < {cb} ? {t}({a}) : {t}({b})")
                }
            }
        }
        Op::Cast {
            x,
            to,
            quant,
            overflow,
        } => {
            let o = match overflow {
                CastOverflow::Proven => None,
                CastOverflow::Mode(o) => Some(*o),
            };
            convert(&arg(*x), &ty_of(*x), to, *quant, o)
        }
        Op::Lookup { x, table, offset } => {
            // The raw value of x is the table index plus `offset`.
            let frac = ctx.node(*x).frac;
            let raw = if frac == 0 {
                format!("{}.to_int()", arg(*x))
            } else {
                format!("({} * {}).to_int()", arg(*x), 1u64 << frac.min(62))
            };
            let index = match offset.cmp(&0) {
                std::cmp::Ordering::Equal => raw,
                std::cmp::Ordering::Greater => format!("{raw} - {offset}"),
                std::cmp::Ordering::Less => format!("{raw} + {}", -offset),
            };
            format!("{}[{index}]", ctx.name(*table))
        }
        Op::DivRound { x, divisor } => div_round(ctx, id, *x, *divisor, &arg(*x)),
        other => format!("/* unexpected {other:?} */ 0"),
    }
}

/// `raw / d` to the nearest integer, ties to even, as one expression of
/// exact ap arithmetic (`numeric::div_round_even`): `u = raw + K >= 0` with
/// `K` a multiple of `2 d`, `q = (u * m) >> s` by the invariant reciprocal
/// (`numeric::Reciprocal`: one multiplier, no divider), `r = u - q d`, and
/// `q + (2 r + q[0] > d) - K / d`.
fn div_round(ctx: &Ctx<'_>, id: NodeId, x: NodeId, d: u64, a: &str) -> String {
    let xt = ctx.node(x).ty;
    let r = ctx.node(x).range();
    let raw = if xt.fixed {
        let w = xt.width;
        let kind = if xt.signed { "ap_int" } else { "ap_uint" };
        format!("{kind}<{w}>(({a}).range({}, 0))", w - 1)
    } else {
        format!("({a})")
    };
    let two_d = 2 * i128::from(d);
    let k = if r.lo < 0 {
        (-r.lo + two_d - 1) / two_d * two_d
    } else {
        0
    };
    let top = (r.hi + k).max(1) as u128;
    let b = 128 - top.leading_zeros();
    let u = if k == 0 {
        format!("ap_uint<{b}>({raw})")
    } else {
        format!("ap_uint<{b}>(ap_int<{}>({raw}) + {k})", b + 1)
    };
    let q = match crate::numeric::Reciprocal::new(d, b) {
        Some(rc) => {
            let mb = 128 - rc.m.leading_zeros();
            format!(
                "ap_uint<{b}>((ap_uint<{}>({u}) * ap_uint<{mb}>(\"{}\", 10)) >> {})",
                b + mb,
                rc.m,
                rc.shift
            )
        }
        None => format!("ap_uint<{b}>({u} / {d})"),
    };
    let rem = format!(
        "ap_uint<{}>(ap_uint<{}>({u}) - ap_uint<{}>({q}) * {d})",
        b + 2,
        b + 1,
        b + 1
    );
    let up = format!("((({rem}) << 1) + {q}[0] > {d})");
    let wide = b + 3;
    let mut result = format!("ap_int<{wide}>({q}) + ap_int<{wide}>({up})");
    if k > 0 {
        result = format!("{result} - {}", k / i128::from(d));
    }
    let t = &ctx.node(id).ty;
    let f = ctx.node(id).frac;
    if f == 0 {
        format!("{}({result})", ap_type(t))
    } else {
        format!(
            "{}(ap_fixed<{}, {wide}>(ap_int<{wide}>({result})) >> {f})",
            ap_type(t),
            wide + f
        )
    }
}

/// The lookup tables a kernel reads.
pub fn kernel_tables(ctx: &Ctx<'_>, k: &Kernel) -> Vec<NodeId> {
    k.body
        .iter()
        .filter_map(|&b| match ctx.node(b).op {
            Op::Lookup { table, .. } => Some(table),
            _ => None,
        })
        .collect()
}

/// Each lookup table the kernel reads, once, with its reads per iteration of
/// the kernel's pipelined loop when `lanes` output channels are computed in
/// it: one per lane and lookup (the lanes look up different values).
pub fn table_reads(ctx: &Ctx<'_>, k: &Kernel, lanes: usize) -> Vec<(NodeId, usize)> {
    let mut out: Vec<(NodeId, usize)> = vec![];
    for t in kernel_tables(ctx, k) {
        match out.iter_mut().find(|(u, _)| *u == t) {
            Some((_, n)) => *n += lanes.max(1),
            None => out.push((t, lanes.max(1))),
        }
    }
    out
}

/// Where each lookup table of the kernel lives: a ROM, in LUTRAM up to
/// 4 Kbit (a few LUTs per entry, no block RAM for a 256-entry 8-bit table),
/// else in block RAM; one port when an iteration reads it once, else two
/// (the schedules set the II to the reads per two ports).
pub fn table_storage(ctx: &Ctx<'_>, k: &Kernel, lanes: usize, code: &mut Code) {
    for (t, reads) in table_reads(ctx, k, lanes) {
        let node = ctx.node(t);
        let bits = node.shape.len() as u64 * u64::from(node.ty.width);
        let impl_ = if bits <= 4096 { "lutram" } else { "bram" };
        let ports = if reads > 1 { "rom_2p" } else { "rom_1p" };
        code.pragma(format!(
            "BIND_STORAGE variable={} type={ports} impl={impl_}",
            ctx.name(t)
        ));
    }
}

/// A register of `width` bits with `int_bits` integer bits, signedness and
/// kind of `like`, default modes.
/// `src` (of type `ty`) as an operand of a comparison with a value of type
/// `other`. The ap headers compare an unsigned operand of 32 bits or more
/// with a signed one as C does unsigned integers: `ap_uint<43>(0) >
/// ap_int<8>(-100)` is false. An unsigned operand facing a signed one is
/// therefore first widened, exactly, to a signed type one bit wider.
fn comparable(src: &str, ty: &ScalarType, other: &ScalarType) -> String {
    if ty.signed || !other.signed {
        return src.to_string();
    }
    let signed = ScalarType {
        signed: true,
        ..*ty
    };
    format!("{}({src})", widened(&signed, ty.width + 1, ty.int_bits + 1))
}

fn widened(like: &ScalarType, width: u32, int_bits: i32) -> String {
    if like.fixed || int_bits != width as i32 {
        fixed_type(like.signed, width, int_bits, Quant::Trn, Overflow::Wrap)
    } else {
        format!("ap_{}int<{width}>", if like.signed { "" } else { "u" })
    }
}

/// How a core reads a materialized (or static) map: `(node, channel, row, column)`
/// in the map's own unpadded coordinates, plus whether the position is known
/// to be inside the plane or inside the zero halo.
pub trait WindowRead {
    fn at(&self, ctx: &Ctx<'_>, node: NodeId, c: &str, y: &str, x: &str) -> String;
    /// The halo the reads may rely on (0: test every position).
    fn halo(&self, ctx: &Ctx<'_>, node: NodeId) -> usize;
    /// A read in storage coordinates (the halo included).
    fn at_storage(&self, ctx: &Ctx<'_>, node: NodeId, c: &str, y: &str, x: &str) -> String {
        self.at(ctx, node, c, y, x)
    }
}

/// Opens the loop over output channels: `oc` itself, or `oc0` in steps of
/// `pe` when `pe` channels are computed side by side (see [`open_pixel`]).
pub fn open_channel_loop(code: &mut Code, c: usize, pe: usize) {
    if pe > 1 {
        code.open(format!("for (int oc0 = 0; oc0 < {c}; oc0 += {pe})"));
    } else {
        code.open(format!("for (int {OC} = 0; {OC} < {c}; {OC}++)"));
    }
}

/// How a conv or deconv's reduction runs in the pipelined loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduction {
    /// Every input channel in one iteration of the pixel loop.
    Whole,
    /// `simd` input channels per iteration of an `ic0` loop, the pipelined
    /// one, inside the pixel loops: the `pe` accumulators `acc_v<core>[p]`
    /// carry across its iterations, and the last one runs the epilogue (FINN's
    /// MVAU folding). The `pe x simd` products of an iteration are unrolled.
    Folded { simd: usize, pe: usize },
}

impl Reduction {
    /// The reduction of kernel `k` at parallelism `par`.
    pub fn of(ctx: &Ctx<'_>, k: &Kernel, par: Parallel) -> Reduction {
        let cig = k
            .core
            .and_then(|core| super::reduction_channels(ctx.program, core));
        match (cig, par.simd) {
            (Some(cig), Some(simd)) if simd < cig => Reduction::Folded { simd, pe: par.pe },
            _ => Reduction::Whole,
        }
    }

    /// The accumulator lane of the current output channel.
    fn lane(pe: usize) -> &'static str {
        if pe > 1 {
            "p"
        } else {
            "0"
        }
    }
}

/// Inside the loops of an output pixel: the pipelined loop (the pixel loop
/// itself, or the `ic0` loop of a folded reduction) at `ii`, then, with
/// `pe > 1`, the unrolled loop over the `pe` channels (the caller closes
/// both).
pub fn open_pixel(ctx: &Ctx<'_>, k: &Kernel, par: Parallel, ii: usize, code: &mut Code) {
    if let Reduction::Folded { simd, .. } = Reduction::of(ctx, k, par) {
        let cig = k
            .core
            .and_then(|core| super::reduction_channels(ctx.program, core))
            .unwrap_or(simd);
        code.open(format!("for (int ic0 = 0; ic0 < {cig}; ic0 += {simd})"));
    }
    code.pragma(format!("PIPELINE II={ii}"));
    let pe = par.pe;
    if pe > 1 {
        code.open(format!("for (int p = 0; p < {pe}; p++)"));
        code.pragma("UNROLL");
        code.line(format!("const int {OC} = oc0 + p;"));
    }
}

/// One output pixel of kernel `k` with its whole reduction: its pixel reads
/// (`pixel` gives the expression reading each, `None` to skip it), the core
/// through `read`, then the epilogue.
pub fn emit_pixel(
    ctx: &Ctx<'_>,
    k: &Kernel,
    code: &mut Code,
    read: &dyn WindowRead,
    pixel: &dyn Fn(NodeId) -> Option<String>,
) {
    for &r in &k.pixel_reads {
        if let Some(value) = pixel(r) {
            code.line(format!("const {} v{r} = {value};", ctx.type_name(r)));
        }
    }
    emit_core(ctx, k, code, read, Reduction::Whole);
    emit_epilogue(ctx, k, code, &|o| operand(ctx, o));
}

/// One iteration of a folded reduction ([`Reduction::Folded`]): `simd`
/// channels into the carried accumulator; on the last iteration the pixel
/// reads and the epilogue, left open in `if (ic0 == last)` for the caller's
/// writes (the caller closes it).
pub fn emit_folded_step(
    ctx: &Ctx<'_>,
    k: &Kernel,
    code: &mut Code,
    read: &dyn WindowRead,
    pixel: &dyn Fn(NodeId) -> Option<String>,
    reduction: Reduction,
) {
    let (Reduction::Folded { simd, pe }, Some(core)) = (reduction, k.core) else {
        return emit_pixel(ctx, k, code, read, pixel);
    };
    let cig = super::reduction_channels(ctx.program, core).unwrap_or(simd);
    emit_core(ctx, k, code, read, reduction);
    code.open(format!("if (ic0 == {})", cig - simd));
    code.line(format!(
        "const {} v{core} = acc_v{core}[{}];",
        acc_type(&ctx.node(core).ty),
        Reduction::lane(pe)
    ));
    for &r in &k.pixel_reads {
        if let Some(value) = pixel(r) {
            code.line(format!("const {} v{r} = {value};", ctx.type_name(r)));
        }
    }
    emit_epilogue(ctx, k, code, &|o| operand(ctx, o));
}

/// Emits the computation of kernel `k`'s core into `v<core>` (and `at`, the
/// max-pool index, when the kernel has indices).
pub fn emit_core(
    ctx: &Ctx<'_>,
    k: &Kernel,
    code: &mut Code,
    read: &dyn WindowRead,
    reduction: Reduction,
) {
    let Some(core) = k.core else { return };
    let node = ctx.node(core);
    // The accumulator: a local, or the carried lane of a folded reduction.
    let v = match reduction {
        Reduction::Whole => format!("v{core}"),
        Reduction::Folded { pe, .. } => format!("acc_v{core}[{}]", Reduction::lane(pe)),
    };
    let start_acc = |code: &mut Code| match reduction {
        Reduction::Whole => {
            code.line(format!(
                "{} {v} = 0;  // {}",
                acc_type(&node.ty),
                node.label
            ));
        }
        Reduction::Folded { .. } => {
            code.line(format!("if (ic0 == 0) {v} = 0;  // {}", node.label));
        }
    };
    match &node.op {
        Op::Conv { x, w, geom } => {
            let Chw { h, w: wd, .. } = ctx.node(*x).shape.chw();
            let Shape::Weights {
                o: cout,
                i: cig,
                kh,
                kw,
            } = ctx.node(*w).shape
            else {
                return;
            };
            let cog = cout / geom.groups;
            start_acc(code);
            // Loops of extent 1 are left out: their counter is the constant 0.
            let counter = |name: &'static str, extent: usize| if extent == 1 { "0" } else { name };
            let (ic, ky, kx) = (counter("ic", cig), counter("ky", kh), counter("kx", kw));
            let ch = group_channel(geom.groups, cig, cog, ic);
            let halo = read.halo(ctx, *x);
            let covered = [geom.pad.top, geom.pad.bottom, geom.pad.left, geom.pad.right]
                .iter()
                .all(|&p| p <= halo);
            let dy = if kh == 1 { 0 } else { geom.dilation.h };
            let dx = if kw == 1 { 0 } else { geom.dilation.w };
            let mut opened = 0;
            if cig > 1 {
                opened += reduction_loops(code, cig, reduction);
            }
            if kh > 1 {
                code.open(format!("for (int ky = 0; ky < {kh}; ky++)"));
                opened += 1;
            }
            if kw > 1 {
                code.open(format!("for (int kx = 0; kx < {kw}; kx++)"));
                opened += 1;
            }
            // A kernel of ones (avgpool, sum) only adds: no weight read, no multiplier.
            let ones =
                matches!(&ctx.node(*w).op, Op::Constant { data } if data.iter().all(|&v| v == 1));
            let wread = if ones {
                String::new()
            } else {
                format!("{}[{OC}][{ic}][{ky}][{kx}] * ", ctx.name(*w))
            };
            if covered {
                // The input's zero halo covers the padding: read it, no bounds test.
                let iy = affine(
                    &[(OY, geom.stride.h), ("ky", dy)],
                    halo as isize - geom.pad.top as isize,
                );
                let ix = affine(
                    &[(OX, geom.stride.w), ("kx", dx)],
                    halo as isize - geom.pad.left as isize,
                );
                code.line(format!(
                    "{v} += {wread}{};",
                    read.at_storage(ctx, *x, &ch, &iy, &ix)
                ));
            } else {
                let iy = affine(&[(OY, geom.stride.h), ("ky", dy)], -(geom.pad.top as isize));
                let ix = affine(
                    &[(OX, geom.stride.w), ("kx", dx)],
                    -(geom.pad.left as isize),
                );
                code.line(format!("const int iy = {iy};"));
                code.line(format!("const int ix = {ix};"));
                code.open(format!("if (iy >= 0 && iy < {h} && ix >= 0 && ix < {wd})"));
                code.line(format!(
                    "{v} += {wread}{};",
                    read.at(ctx, *x, &ch, "iy", "ix")
                ));
                code.close();
            }
            for _ in 0..opened {
                code.close();
            }
        }
        Op::Deconv { x, w, geom } => {
            let Chw { c: cin, h, w: wd } = ctx.node(*x).shape.chw();
            let Shape::Weights { i: cog, kh, kw, .. } = ctx.node(*w).shape else {
                return;
            };
            let cig = cin / geom.groups;
            start_acc(code);
            let ic = if cig == 1 { "0" } else { "ic" };
            let ch = group_channel(geom.groups, cig, cog, ic);
            let mut opened = 0;
            if cig > 1 {
                opened += reduction_loops(code, cig, reduction);
            }
            let (sh, sw) = (geom.stride.h, geom.stride.w);
            // Stride phases: without dilation, only taps congruent to the
            // output's phase meet a real input pixel; loop over those alone.
            let phases_h = geom.dilation.h == 1 && sh > 1;
            let phases_w = geom.dilation.w == 1 && sw > 1;
            if phases_h || phases_w {
                code.line("// Stride phases: only the taps that meet a real (not inserted-zero) input pixel.");
            }
            if phases_h {
                code.open(format!("for (int jy = 0; jy < {}; jy++)", kh.div_ceil(sh)));
                code.line(format!(
                    "const int ky = unsigned({}) % {sh} + jy * {sh};",
                    affine(&[(OY, 1)], geom.pad.top as isize)
                ));
            } else {
                code.open(format!("for (int ky = 0; ky < {kh}; ky++)"));
            }
            if phases_w {
                code.open(format!("for (int jx = 0; jx < {}; jx++)", kw.div_ceil(sw)));
                code.line(format!(
                    "const int kx = unsigned({}) % {sw} + jx * {sw};",
                    affine(&[(OX, 1)], geom.pad.left as isize)
                ));
            } else {
                code.open(format!("for (int kx = 0; kx < {kw}; kx++)"));
            }
            code.line(format!(
                "const int ty = {};",
                affine(&[(OY, 1)], geom.pad.top as isize) + &minus("ky", geom.dilation.h)
            ));
            code.line(format!(
                "const int tx = {};",
                affine(&[(OX, 1)], geom.pad.left as isize) + &minus("kx", geom.dilation.w)
            ));
            let mut cond = vec![];
            if phases_h {
                cond.push(format!("ky < {kh}"));
            }
            if phases_w {
                cond.push(format!("kx < {kw}"));
            }
            cond.push("ty >= 0".to_string());
            cond.push("tx >= 0".to_string());
            if sh > 1 && !phases_h {
                cond.push(format!("unsigned(ty) % {sh} == 0"));
            }
            if sw > 1 && !phases_w {
                cond.push(format!("unsigned(tx) % {sw} == 0"));
            }
            cond.push(format!("{} < {h}", div("ty", sh)));
            cond.push(format!("{} < {wd}", div("tx", sw)));
            code.open(format!("if ({})", cond.join(" && ")));
            let oc_in_group = if geom.groups == 1 {
                OC.to_string()
            } else if cog == 1 {
                "0".to_string()
            } else {
                format!("unsigned({OC}) % {cog}")
            };
            let wread = format!("{}[{ch}][{oc_in_group}][ky][kx]", ctx.name(*w));
            code.line(format!(
                "{v} += {} * {wread};",
                read.at(ctx, *x, &ch, &div("ty", sh), &div("tx", sw))
            ));
            code.close().close().close();
            for _ in 0..opened {
                code.close();
            }
        }
        Op::Upsample { x, factor, mode } => {
            let Chw { h, w: wd, .. } = ctx.node(*x).shape.chw();
            match mode {
                Resample::Nearest => {
                    code.line(format!(
                        "const {} {v} = {};  // {}",
                        ap_type(&node.ty),
                        read.at(ctx, *x, OC, &div(OY, factor.h), &div(OX, factor.w)),
                        node.label
                    ));
                }
                Resample::Bilinear => {
                    let (Some((rows, rb)), Some((cols, cb))) =
                        (bilinear_taps(h, factor.h), bilinear_taps(wd, factor.w))
                    else {
                        // Factors are powers of two: the interpreter, run
                        // first for the golden values, rejects the others.
                        return;
                    };
                    for (axis, taps, bits) in [("row", &rows, rb), ("col", &cols, cb)] {
                        for k in 0..2 {
                            let index: Vec<String> =
                                taps.iter().map(|t| t[k].0.to_string()).collect();
                            table(code, &format!("{axis}{k}"), "int", &index);
                        }
                        let wt = format!("ap_ufixed<{}, 1>", bits + 1);
                        for k in 0..2 {
                            let weights: Vec<String> =
                                taps.iter().map(|t| weight(t[k].1, bits)).collect();
                            table(code, &format!("w{axis}{k}"), &wt, &weights);
                        }
                    }
                    let term = |r: usize, c: usize| {
                        format!(
                            "wrow{r}[{OY}] * wcol{c}[{OX}] * {}",
                            read.at(
                                ctx,
                                *x,
                                OC,
                                &format!("row{r}[{OY}]"),
                                &format!("col{c}[{OX}]")
                            )
                        )
                    };
                    code.line(format!(
                        "// {}: exact, {} + {} fraction bits",
                        node.label, rb, cb
                    ));
                    code.line(format!(
                        "const {} {v} = {} + {} + {} + {};",
                        ap_type(&node.ty),
                        term(0, 0),
                        term(0, 1),
                        term(1, 0),
                        term(1, 1)
                    ));
                }
            }
        }
        Op::MaxPool { x, geom } | Op::MaxPoolIndices { x, geom } => {
            let Chw { h, w: wd, .. } = ctx.node(*x).shape.chw();
            let xt = ap_type(&ctx.node(*x).ty);
            code.line(format!(
                "{xt} best = 0;  // maxpool: padding never wins, the first maximum does"
            ));
            let track = k.indices.is_some() || matches!(node.op, Op::MaxPoolIndices { .. });
            if track {
                code.line("int at = 0;");
            }
            code.line("bool found = false;");
            code.open(format!("for (int ky = 0; ky < {}; ky++)", geom.kernel.h));
            code.open(format!("for (int kx = 0; kx < {}; kx++)", geom.kernel.w));
            code.line(format!(
                "const int iy = {};",
                affine(&[(OY, geom.stride.h), ("ky", 1)], -(geom.pad.top as isize))
            ));
            code.line(format!(
                "const int ix = {};",
                affine(&[(OX, geom.stride.w), ("kx", 1)], -(geom.pad.left as isize))
            ));
            code.open(format!("if (iy >= 0 && iy < {h} && ix >= 0 && ix < {wd})"));
            code.line(format!(
                "const {xt} cand = {};",
                read.at(ctx, *x, OC, "iy", "ix")
            ));
            code.open("if (!found || cand > best)");
            code.line("best = cand;");
            if track {
                code.line(format!("at = iy * {wd} + ix;"));
            }
            code.line("found = true;");
            code.close().close().close().close();
            if matches!(node.op, Op::MaxPool { .. }) {
                code.line(format!("const {} {v} = best;", ap_type(&node.ty)));
            } else {
                code.line(format!("const {} {v} = at;", ap_type(&node.ty)));
            }
        }
        Op::MaxUnpool { x, idx, out } => {
            let Op::MaxPoolIndices { geom, .. } = ctx.node(*idx).op else {
                return;
            };
            let Chw { h: ph, w: pw, .. } = ctx.node(*x).shape.chw();
            code.line(format!("{} {v} = 0;  // maxunpool: the last window (C order) whose index hits this pixel wins", ap_type(&node.ty)));
            code.open(format!(
                "for (int ky = {}; ky >= 0; ky--)",
                geom.kernel.h - 1
            ));
            code.line(format!(
                "const int ty = {} - ky;",
                affine(&[(OY, 1)], geom.pad.top as isize)
            ));
            code.open(format!(
                "for (int kx = {}; kx >= 0; kx--)",
                geom.kernel.w - 1
            ));
            code.line(format!(
                "const int tx = {} - kx;",
                affine(&[(OX, 1)], geom.pad.left as isize)
            ));
            let mut cond = vec!["ty >= 0".to_string(), "tx >= 0".to_string()];
            if geom.stride.h > 1 {
                cond.push(format!("unsigned(ty) % {} == 0", geom.stride.h));
            }
            if geom.stride.w > 1 {
                cond.push(format!("unsigned(tx) % {} == 0", geom.stride.w));
            }
            let (py, px) = (div("ty", geom.stride.h), div("tx", geom.stride.w));
            cond.push(format!("{py} < {ph}"));
            cond.push(format!("{px} < {pw}"));
            code.open(format!("if ({})", cond.join(" && ")));
            code.open(format!(
                "if ({} == {OY} * {} + {OX})",
                read.at(ctx, *idx, OC, &py, &px),
                out.w
            ));
            code.line(format!("{v} = {};", read.at(ctx, *x, OC, &py, &px)));
            code.close().close().close().close();
        }
        Op::Reduce { x, op } => {
            let c = ctx.node(*x).shape.chw().c;
            let xt = ap_type(&ctx.node(*x).ty);
            code.line(format!(
                "{xt} best = {};  // {}: the first maximum over the channels",
                read.at(ctx, *x, "0", OY, OX),
                node.label
            ));
            let argmax = *op == crate::ir::ChannelReduce::ArgMax;
            if argmax {
                code.line("int at = 0;");
            }
            code.open(format!("for (int ic = 1; ic < {c}; ic++)"));
            code.line(format!(
                "const {xt} cand = {};",
                read.at(ctx, *x, "ic", OY, OX)
            ));
            code.open("if (cand > best)");
            code.line("best = cand;");
            if argmax {
                code.line("at = ic;");
            }
            code.close().close();
            let result = match op {
                crate::ir::ChannelReduce::Max => "best",
                crate::ir::ChannelReduce::ArgMax => "at",
            };
            code.line(format!("const {} {v} = {result};", ap_type(&node.ty)));
        }
        Op::Remap { x, .. } => {
            let Some(src) = super::remap::source(ctx, core) else {
                return;
            };
            let t = ap_type(&node.ty);
            for line in &src.prelude {
                code.line(line.clone());
            }
            let read = read.at(ctx, *x, &src.ch, &src.iy, &src.ix);
            match &src.inside {
                None => {
                    code.line(format!("const {t} {v} = {read};  // {}", node.label));
                }
                Some(cond) => {
                    code.line(format!("{t} {v} = {};  // {}", src.fill, node.label));
                    code.open(format!("if ({cond})"));
                    code.line(format!("{v} = {read};"));
                    code.close();
                }
            }
        }
        Op::Concat(parts) => {
            code.line(format!("{} {v};  // concat", ap_type(&node.ty)));
            let mut start = 0;
            for (n, &p) in parts.iter().enumerate() {
                let c = ctx.node(p).shape.chw().c;
                let ch = if start == 0 {
                    OC.to_string()
                } else {
                    format!("{OC} - {start}")
                };
                let head = if n + 1 == parts.len() {
                    "else".to_string()
                } else {
                    format!(
                        "{}if ({OC} < {})",
                        if n == 0 { "" } else { "else " },
                        start + c
                    )
                };
                if n == 0 && parts.len() == 1 {
                    code.line(format!("{v} = {};", read.at(ctx, p, &ch, OY, OX)));
                } else {
                    if n == 0 {
                        code.open(head);
                    } else {
                        code.reopen(&format!("}} {head} {{"));
                    }
                    code.line(format!("{v} = {};", read.at(ctx, p, &ch, OY, OX)));
                }
                start += c;
            }
            if parts.len() > 1 {
                code.close();
            }
        }
        _ => {}
    }
}

fn minus(var: &str, k: usize) -> String {
    if k == 1 {
        format!(" - {var}")
    } else {
        format!(" - {var} * {k}")
    }
}

/// `var / k` for a non-negative `var` (the callers test it first), unsigned:
/// no signed division in the emitted code.
fn div(var: &str, k: usize) -> String {
    if k == 1 {
        var.to_string()
    } else {
        format!("unsigned({var}) / {k}")
    }
}

/// The input channel of reduction index `ic` for output channel `oc`.
pub(crate) fn group_channel(groups: usize, cig: usize, cog: usize, ic: &str) -> String {
    if groups == 1 {
        ic.to_string()
    } else if cig == 1 && cog == 1 {
        OC.to_string()
    } else if cig == 1 {
        format!("unsigned({OC}) / {cog}")
    } else {
        format!("unsigned({OC}) / {cog} * {cig} + {ic}")
    }
}

/// Opens the loops over input channels; returns how many were opened. A
/// folded reduction covers `simd` channels of the enclosing `ic0` loop.
fn reduction_loops(code: &mut Code, cig: usize, reduction: Reduction) -> usize {
    match reduction {
        Reduction::Folded { simd: 1, .. } => {
            code.line("const int ic = ic0;");
            0
        }
        Reduction::Folded { simd, .. } => {
            code.open(format!("for (int s = 0; s < {simd}; s++)"));
            code.pragma("UNROLL");
            code.line("const int ic = ic0 + s;");
            1
        }
        Reduction::Whole => {
            code.open(format!("for (int ic = 0; ic < {cig}; ic++)"));
            1
        }
    }
}

fn table(code: &mut Code, name: &str, ty: &str, values: &[String]) {
    code.line(format!(
        "static const {ty} {name}[{}] = {{{}}};",
        values.len(),
        values.join(", ")
    ));
}

pub(crate) fn weight(k: i128, bits: u32) -> String {
    value_literal(k, bits, &ScalarType::fixed(false, bits + 1, 1)).unwrap_or_else(|| k.to_string())
}

/// Declarations of the epilogue: every body node after the core, in order.
pub fn emit_epilogue(ctx: &Ctx<'_>, k: &Kernel, code: &mut Code, arg: &dyn Fn(NodeId) -> String) {
    for &id in &k.body {
        if Some(id) == k.core {
            continue;
        }
        let node = ctx.node(id);
        code.line(format!(
            "const {} v{id} = {};  // {}",
            ap_type(&node.ty),
            elementwise(ctx, id, arg),
            node.label
        ));
    }
}

/// The expression for operand `o` inside kernel `k`: a local for body nodes
/// and pixel reads, a static read otherwise.
pub fn operand(ctx: &Ctx<'_>, o: NodeId) -> String {
    if ctx.plan.is_static[o] {
        static_read(ctx, o)
    } else {
        format!("v{o}")
    }
}

/// `const T name[..] = {...};` for a static node, nested braces, exact literals.
pub fn static_array(ctx: &Ctx<'_>, id: NodeId) -> Result<String, super::HlsError> {
    let node = ctx.node(id);
    let name = ctx.name(id);
    let values = &ctx.values[id].data;
    let mut literals = Vec::with_capacity(values.len());
    for &raw in values {
        match value_literal(raw, node.frac, &node.ty) {
            Some(l) => literals.push(l),
            None => {
                return Err(super::HlsError::WideConstant {
                    span: node.span,
                    name: node.name.clone().unwrap_or_else(|| node.owner.clone()),
                    width: node.ty.width,
                })
            }
        }
    }
    let shape = node.shape.dims();
    let t = ctx.type_name(id);
    if shape.is_empty() {
        return Ok(format!(
            "static const {t} {name} = {};",
            literals.first().cloned().unwrap_or_else(|| "0".into())
        ));
    }
    Ok(format!(
        "static const {t} {name}{} = {};",
        array_dims(&shape),
        nest(&literals, &shape)
    ))
}

fn nest(values: &[String], shape: &[usize]) -> String {
    if shape.len() <= 1 {
        return format!("{{{}}}", values.join(", "));
    }
    let inner: usize = shape[1..].iter().product();
    let parts: Vec<String> = values
        .chunks(inner.max(1))
        .map(|c| nest(c, &shape[1..]))
        .collect();
    format!("{{{}}}", parts.join(", "))
}
