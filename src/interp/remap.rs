//! Rearrangements: `depth_to_space`, `space_to_depth`, `flatten`, `reshape`,
//! `slice` and `pad`, all one [`Remap`]: each output element is the operand's
//! element at [`Remap::source`], or the pad value. The operand's shape
//! decides the result's (checked here against the node), except for
//! `reshape` and `slice`, whose sizes the node carries and which are checked
//! to fit the operand.

use super::{expect_frac, expect_shape, nonzero, Arg, Fault, MapView, Param};
use crate::ir::{Chw, Node, Remap, Shape, Source};

pub(super) fn remap(node: &Node, x: Arg<'_>, remap: &Remap) -> Result<Vec<i128>, Fault> {
    expect_frac(node, x.frac())?;
    let from = x.map_chw()?;
    let to = result_shape(node, from, remap)?;
    expect_shape(node, map(to))?;
    let input = MapView::new(&x)?;
    let mut out = Vec::with_capacity(to.c * to.h * to.w);
    for c in 0..to.c {
        for y in 0..to.h {
            for xx in 0..to.w {
                out.push(match remap.source(from, to, c, y, xx) {
                    Source::At(ci, iy, ix) => input
                        .get(ci, iy as isize, ix as isize)
                        .ok_or_else(|| x.bad_shape())?,
                    Source::Fill(v) => v,
                });
            }
        }
    }
    Ok(out)
}

fn map(d: Chw) -> Shape {
    Shape::Map {
        c: d.c,
        h: d.h,
        w: d.w,
    }
}

/// The result's `[C, H, W]`, or the fault that makes the remap impossible.
fn result_shape(node: &Node, from: Chw, remap: &Remap) -> Result<Chw, Fault> {
    let declared = node.shape.chw();
    let mismatch = || Fault::ResultShape {
        declared: node.shape.dims(),
        computed: vec![from.c, from.h, from.w],
    };
    match *remap {
        Remap::DepthToSpace { r, .. } => {
            nonzero(Param::Factor, &[r])?;
            if !from.c.is_multiple_of(r * r) {
                return Err(mismatch());
            }
            Ok(Chw {
                c: from.c / (r * r),
                h: from.h * r,
                w: from.w * r,
            })
        }
        Remap::SpaceToDepth { r } => {
            nonzero(Param::Factor, &[r])?;
            if !from.h.is_multiple_of(r) || !from.w.is_multiple_of(r) {
                return Err(mismatch());
            }
            Ok(Chw {
                c: from.c * r * r,
                h: from.h / r,
                w: from.w / r,
            })
        }
        Remap::Reshape => {
            let same = declared.c * declared.h * declared.w == from.c * from.h * from.w;
            same.then_some(declared).ok_or_else(mismatch)
        }
        Remap::Slice { start } => {
            let fits = start[0] + declared.c <= from.c
                && start[1] + declared.h <= from.h
                && start[2] + declared.w <= from.w;
            fits.then_some(declared).ok_or_else(mismatch)
        }
        Remap::Pad { pads, .. } => Ok(Chw {
            c: from.c,
            h: from.h + pads.top + pads.bottom,
            w: from.w + pads.left + pads.right,
        }),
    }
}
