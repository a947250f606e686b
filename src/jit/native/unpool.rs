//! The row kernel of `maxunpool` (see `rowwise`): a scatter, so one work
//! item is a whole output plane. Each job zeroes the interior of its
//! planes, then writes every input value at its index in C order (a later
//! write to the same position wins, as in the interpreter); an index
//! outside the plane stops the job with its flat position, the code the
//! stage reports (`jit::convert::unpool_error`).

use super::elementwise::{fits_i32, read_row};
use super::rowwise::{Kind, RowStage, View};
use crate::ir::{Op, Program};
use crate::jit::plan::{Plan, Stage};

pub(super) fn plan_unpool(program: &Program, plan: &Plan, stage: &Stage) -> Option<RowStage> {
    let Op::MaxUnpool { x, idx, .. } = &program.nodes[stage.root].op else {
        return None;
    };
    let out = View::of(plan, plan.buffer_of[stage.root]?);
    let xv = View::of(plan, plan.buffer_of[*x]?);
    let iv = View::of(plan, plan.buffer_of[*idx]?);
    let shift = program.nodes[stage.root]
        .frac
        .checked_sub(program.nodes[*x].frac)?;
    let ok = xv.c == out.c
        && (iv.c, iv.h, iv.w) == (xv.c, xv.h, xv.w)
        && xv.buffer != out.buffer
        && iv.buffer != out.buffer
        && matches!(xv.bytes, 1 | 2 | 4)
        && matches!(iv.bytes, 1 | 2 | 4)
        && matches!(out.bytes, 1 | 2 | 4 | 8)
        && fits_i32(program, *x)
        && fits_i32(program, *idx)
        && shift <= 30
        && out.h * out.w <= i32::MAX as usize;
    ok.then(|| RowStage::new(Kind::Unpool { shift }, xv, vec![iv], out, None))
}

/// Planes `lo..hi`; -1, or the flat position (in the index map) of the
/// first index outside its plane.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) fn unpool_planes(
    x: &View,
    idx: &View,
    out: &View,
    shift: u32,
    lo: usize,
    hi: usize,
    xs: &[&[u8]],
    dst: &mut [u8],
    base: usize,
) -> i64 {
    let limit = out.h * out.w;
    let (mut values, mut at) = (vec![0i32; x.w], vec![0i32; x.w]);
    for c in lo..hi {
        for y in 0..out.h {
            let r = out.row(c, y);
            dst[r.start - base..r.end - base].fill(0);
        }
        for y in 0..x.h {
            read_row(x, &xs[0][x.row(c, y)], &mut values);
            read_row(idx, &xs[1][idx.row(c, y)], &mut at);
            for (i, (&v, &t)) in values.iter().zip(&at).enumerate() {
                let Some(t) = usize::try_from(t).ok().filter(|&t| t < limit) else {
                    return ((c * x.h + y) * x.w + i) as i64;
                };
                let p = out.row(c, t / out.w).start + (t % out.w) * out.bytes - base;
                let v = i64::from(v) << shift;
                dst[p..p + out.bytes].copy_from_slice(&v.to_le_bytes()[..out.bytes]);
            }
        }
    }
    -1
}
