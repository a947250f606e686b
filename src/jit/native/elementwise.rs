//! Row kernels for concatenations and elementwise stages (see `rowwise`):
//! a stage whose values come from one buffer through a requantization tail
//! (`relu(x - 3) as u8`, shifts, casts, clamps), from two buffers of the
//! same shape added, subtracted or compared (a residual add), or from a
//! concatenation of buffers. Values go through 32-bit rows, which the
//! compiler vectorizes; the checker's ranges prove they fit.

use super::lanes16::Lanes16;
use super::requant::{match_tail, Requant};
use super::rowwise::{requant_row, Kind, RowStage, View};
use crate::ir::{Elementwise, NodeId, Op, Program, Shape};
use crate::jit::plan::{Plan, Stage};

pub(super) fn fits_i32(program: &Program, n: NodeId) -> bool {
    let r = program.nodes[n].range();
    r.lo >= i128::from(i32::MIN) && r.hi <= i128::from(i32::MAX)
}

/// `n`'s buffer, if it is a materialized map of `dims`.
fn map_view(program: &Program, plan: &Plan, n: NodeId, out: &View) -> Option<View> {
    let v = View::of(plan, plan.buffer_of[n]?);
    let same = v.c == out.c && v.h == out.h && v.w == out.w;
    (same && matches!(v.bytes, 1 | 2 | 4) && fits_i32(program, n) && v.buffer != out.buffer)
        .then_some(v)
}

/// An elementwise stage (no core): the chain from the root down to one
/// buffer, or to an add / sub / max / min of two buffers.
pub(super) fn plan_elementwise(program: &Program, plan: &Plan, stage: &Stage) -> Option<RowStage> {
    let root = stage.root;
    if !matches!(program.nodes[root].shape, Shape::Map { .. }) {
        return None;
    }
    let out = View::of(plan, plan.buffer_of[root]?);
    let is_map = |n: NodeId| matches!(program.nodes[n].shape, Shape::Map { .. });
    let mut n = root;
    let (kind, k, x, others) = loop {
        if n != root && plan.buffer_of[n].is_some() {
            break (Kind::Map, n, map_view(program, plan, n, &out)?, vec![]);
        }
        n = match &program.nodes[n].op {
            Op::Relu(a) | Op::Round(a, _) | Op::Shr(a, _) => *a,
            Op::Cast { x, .. } => *x,
            Op::Binary(op, a, b) => match (is_map(*a), is_map(*b)) {
                (true, true) => {
                    let frac = program.nodes[n].frac;
                    let aligned = program.nodes[*a].frac == frac && program.nodes[*b].frac == frac;
                    let op_ok = matches!(
                        op,
                        Elementwise::Add | Elementwise::Sub | Elementwise::Max | Elementwise::Min
                    );
                    if !aligned || !op_ok || !fits_i32(program, n) {
                        return None;
                    }
                    let (xa, xb) = (
                        map_view(program, plan, *a, &out)?,
                        map_view(program, plan, *b, &out)?,
                    );
                    break (Kind::Binary(*op), n, xa, vec![xb]);
                }
                (true, false) => *a,
                (false, true) => *b,
                _ => return None,
            },
            _ => return None,
        };
    };
    let tail = if k == root {
        None
    } else {
        Some(match_tail(program, root, k, out.c)?)
    };
    let store_ok = match &tail {
        Some(_) => out.bytes == 1,
        None => matches!(kind, Kind::Binary(_)) && matches!(out.bytes, 1 | 2 | 4),
    };
    if !store_ok {
        return None;
    }
    // Byte inputs: the tail on 16-bit lanes when the ranges allow.
    let bytes = std::iter::once(&x).chain(&others).all(|v| v.bytes == 1);
    let lanes16 = match &tail {
        Some(q) if bytes => {
            let r = program.nodes[k].range();
            Lanes16::of(q, (r.lo, r.hi))
        }
        _ => None,
    };
    let mut stage = RowStage::new(kind, x, others, out, tail);
    stage.lanes16 = lanes16;
    Some(stage)
}

/// A concatenation, with or without a tail.
pub(super) fn plan_concat(
    program: &Program,
    plan: &Plan,
    stage: &Stage,
    k: NodeId,
    xs: &[NodeId],
) -> Option<RowStage> {
    let out = View::of(plan, plan.buffer_of[stage.root]?);
    let frac = program.nodes[k].frac;
    let mut views = vec![];
    let mut shifts = vec![];
    for &x in xs {
        let v = View::of(plan, plan.buffer_of[x]?);
        let ok = v.h == out.h
            && v.w == out.w
            && v.buffer != out.buffer
            && matches!(v.bytes, 1 | 2 | 4)
            && fits_i32(program, x);
        let shift = frac.checked_sub(program.nodes[x].frac)?;
        if !ok || shift > 30 {
            return None;
        }
        views.push(v);
        shifts.push(shift);
    }
    if views.iter().map(|v| v.c).sum::<usize>() != out.c || !fits_i32(program, k) {
        return None;
    }
    let tail = if k == stage.root {
        None
    } else {
        Some(match_tail(program, stage.root, k, out.c)?)
    };
    let store_ok = match &tail {
        Some(_) => out.bytes == 1,
        None => matches!(out.bytes, 1 | 2 | 4),
    };
    let mut views = views.into_iter();
    let x = views.next()?;
    store_ok.then(|| RowStage::new(Kind::Concat { shifts }, x, views.collect(), out, tail))
}

/// Items `lo..hi` of a concatenation of `views` (the buffers `xs`).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) fn concat_rows(
    views: &[View],
    shifts: &[u32],
    out: &View,
    tail: Option<&Requant>,
    lo: usize,
    hi: usize,
    xs: &[&[u8]],
    dst: &mut [u8],
    base: usize,
) {
    let mut values = vec![0i32; out.w];
    let mut item = lo;
    while item < hi {
        let (mut c, y) = (item / out.h, item % out.h);
        let oc = c;
        let mut k = 0;
        while k + 1 < views.len() && c >= views[k].c {
            c -= views[k].c;
            k += 1;
        }
        let v = &views[k];
        if tail.is_none() && shifts[k] == 0 && v.bytes == out.bytes && v.signed == out.signed {
            // Without side halos, the rest of the plane is one block.
            let n = if v.stride == v.w && out.stride == out.w {
                (out.h - y).min(hi - item)
            } else {
                1
            };
            let (from, to) = (v.row(c, y).start, v.row(c, y + n - 1).end);
            let (at, end) = (out.row(oc, y).start, out.row(oc, y + n - 1).end);
            dst[at - base..end - base].copy_from_slice(&xs[k][from..to]);
            item += n;
            continue;
        }
        let src = &xs[k][v.row(c, y)];
        let o = out.row(oc, y);
        let o = &mut dst[o.start - base..o.end - base];
        read_row(v, src, &mut values);
        if shifts[k] > 0 {
            values.iter_mut().for_each(|x| *x <<= shifts[k]);
        }
        match tail {
            Some(q) => requant_row(q, oc, &values, o),
            None => store_row(out.bytes, &values, o),
        }
        item += 1;
    }
}

/// Items `lo..hi` of a tail on `x`, or on `x op second`.
///
/// Rows narrower than [`NARROW`] elements in a buffer with side halos
/// (7 x 7 and 14 x 14 maps) are copied, a plane's rows at a time, into
/// one contiguous row each for the operands and the result: the loops
/// below vectorize only over a row, and on rows of 7 or 14 elements ran
/// their scalar remainder for every element (1.5 ns an element).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) fn map_rows(
    x: &View,
    second: Option<(View, Elementwise)>,
    out: &View,
    (tail, lanes16): (Option<&Requant>, Option<&Lanes16>),
    lo: usize,
    hi: usize,
    xs: &[&[u8]],
    dst: &mut [u8],
    base: usize,
) {
    // Without side halos, the rest of a plane is one long row.
    let flat = |v: &View| v.stride == v.w;
    let whole = flat(x) && flat(out) && second.as_ref().is_none_or(|(v, _)| flat(v));
    let narrow = !whole && out.w < NARROW;
    let (mut a, mut b) = (vec![], vec![]);
    // The narrow rows' contiguous copies: operands and result.
    let (mut xa, mut xb, mut o_rows) = (vec![], vec![], vec![]);
    let mut item = lo;
    while item < hi {
        let (c, y) = (item / out.h, item % out.h);
        let n = if whole || narrow {
            (out.h - y).min(hi - item)
        } else {
            1
        };
        let xb_rows = (second.as_ref()).map(|(v, _)| gather_rows(v, xs[1], (c, y, n), &mut xb));
        let xa_rows = gather_rows(x, xs[0], (c, y, n), &mut xa);
        let o = if narrow {
            o_rows.resize(n * out.w * out.bytes, 0);
            o_rows.as_mut_slice()
        } else {
            let o = out.row(c, y).start..out.row(c, y + n - 1).end;
            &mut dst[o.start - base..o.end - base]
        };
        if let Some(t) = lanes16 {
            let second =
                (second.as_ref().zip(xb_rows)).map(|((v, op), rows)| (rows, v.signed, *op));
            super::lanes16::run_row(t, c, (xa_rows, x.signed), second, o);
        } else {
            a.resize(n * out.w, 0);
            read_row(x, xa_rows, &mut a);
            if let (Some((v, op)), Some(rows)) = (&second, xb_rows) {
                b.resize(n * out.w, 0);
                read_row(v, rows, &mut b);
                let pairs = a.iter_mut().zip(&b);
                match op {
                    Elementwise::Add => pairs.for_each(|(p, &q)| *p += q),
                    Elementwise::Sub => pairs.for_each(|(p, &q)| *p -= q),
                    Elementwise::Max => pairs.for_each(|(p, &q)| *p = (*p).max(q)),
                    Elementwise::Min => pairs.for_each(|(p, &q)| *p = (*p).min(q)),
                    Elementwise::Mul => pairs.for_each(|(p, &q)| *p *= q),
                }
            }
            match tail {
                Some(q) => requant_row(q, c, &a, o),
                None => store_row(out.bytes, &a, o),
            }
        }
        if narrow {
            let row = out.w * out.bytes;
            for (r, part) in o_rows.chunks_exact(row).enumerate() {
                let at = out.row(c, y + r);
                dst[at.start - base..at.end - base].copy_from_slice(part);
            }
        }
        item += n;
    }
}

/// Rows narrower than this many elements (with side halos) run through
/// contiguous copies in [`map_rows`].
const NARROW: usize = 64;

/// Rows `y..y + n` of channel `c` of `v` (in the buffer `src`), back to
/// back: in `src` itself for one row or without side halos, else copied
/// into `rows`.
#[inline(always)]
fn gather_rows<'a>(
    v: &View,
    src: &'a [u8],
    (c, y, n): (usize, usize, usize),
    rows: &'a mut Vec<u8>,
) -> &'a [u8] {
    if v.stride == v.w || n == 1 {
        return &src[v.row(c, y).start..v.row(c, y + n - 1).end];
    }
    rows.clear();
    for r in 0..n {
        rows.extend_from_slice(&src[v.row(c, y + r)]);
    }
    rows
}

/// A row of `v`'s elements as 32-bit values.
#[inline(always)]
pub(super) fn read_row(v: &View, src: &[u8], dst: &mut [i32]) {
    match (v.bytes, v.signed) {
        (1, false) => dst
            .iter_mut()
            .zip(src)
            .for_each(|(d, &s)| *d = i32::from(s)),
        (1, true) => dst
            .iter_mut()
            .zip(src)
            .for_each(|(d, &s)| *d = i32::from(s as i8)),
        (2, false) => {
            for (d, s) in dst.iter_mut().zip(src.chunks_exact(2)) {
                *d = i32::from(u16::from_le_bytes([s[0], s[1]]));
            }
        }
        (2, true) => {
            for (d, s) in dst.iter_mut().zip(src.chunks_exact(2)) {
                *d = i32::from(i16::from_le_bytes([s[0], s[1]]));
            }
        }
        _ => {
            // Four bytes: the range fits 32 bits, signed or not.
            for (d, s) in dst.iter_mut().zip(src.chunks_exact(4)) {
                *d = i32::from_le_bytes([s[0], s[1], s[2], s[3]]);
            }
        }
    }
}

/// 32-bit values stored as elements of `bytes` bytes (their low bytes).
#[inline(always)]
fn store_row(bytes: usize, values: &[i32], dst: &mut [u8]) {
    match bytes {
        1 => dst.iter_mut().zip(values).for_each(|(d, &v)| *d = v as u8),
        2 => {
            for (d, &v) in dst.chunks_exact_mut(2).zip(values) {
                d.copy_from_slice(&(v as i16).to_le_bytes());
            }
        }
        _ => {
            for (d, &v) in dst.chunks_exact_mut(4).zip(values) {
                d.copy_from_slice(&v.to_le_bytes());
            }
        }
    }
}
