//! Rearrangements in both styles: where an output element comes from, as
//! C++ expressions of the output counters (`oc`, `oy`, `ox`), the same
//! arithmetic as `ir::Remap::source`; and, for the stream style, the taps
//! each output row and column reads through the line buffer.

use std::collections::BTreeSet;

use super::cpp::value_literal;
use super::pixel::affine;
use super::Ctx;
use crate::ir::{Chw, NodeId, Op, Remap, ShuffleMode};

/// The source of output element `(oc, oy, ox)` of a remap node.
pub struct RemapSource {
    /// Lines to emit first (`const unsigned flat = ...;`).
    pub prelude: Vec<String>,
    pub ch: String,
    pub iy: String,
    pub ix: String,
    /// `pad`: the condition under which the element is the operand's (else `fill`).
    pub inside: Option<String>,
    pub fill: String,
    /// The output pixel reads one input pixel (its only tap in the stream style).
    pub single_tap: bool,
}

/// `var % k` and `var / k` on a non-negative counter, unsigned.
fn rem(var: &str, k: usize) -> String {
    if k == 1 {
        "0".into()
    } else {
        format!("unsigned({var}) % {k}")
    }
}

fn quot(var: &str, k: usize) -> String {
    if k == 1 {
        var.into()
    } else {
        format!("unsigned({var}) / {k}")
    }
}

pub fn source(ctx: &Ctx<'_>, core: NodeId) -> Option<RemapSource> {
    let node = ctx.node(core);
    let Op::Remap { x, remap } = &node.op else {
        return None;
    };
    let from = ctx.node(*x).shape.chw();
    let to = node.shape.chw();
    let (oc, oy, ox) = ("oc", "oy", "ox");
    let mut s = RemapSource {
        prelude: vec![],
        ch: oc.into(),
        iy: oy.into(),
        ix: ox.into(),
        inside: None,
        fill: "0".into(),
        single_tap: true,
    };
    match *remap {
        Remap::DepthToSpace { r, mode } => {
            let (i, j) = (rem(oy, r), rem(ox, r));
            if r > 1 {
                s.ch = match mode {
                    ShuffleMode::Dcr => format!("({i} * {r} + {j}) * {} + {oc}", to.c),
                    ShuffleMode::Crd => format!("{oc} * {} + {i} * {r} + {j}", r * r),
                };
            }
            s.iy = quot(oy, r);
            s.ix = quot(ox, r);
        }
        Remap::SpaceToDepth { r } => {
            s.single_tap = r == 1;
            if r > 1 {
                s.ch = rem(oc, from.c);
                s.iy = format!("{} + {}", affine(&[(oy, r)], 0), quot(oc, from.c * r));
                s.ix = format!("{} + {} % {r}", affine(&[(ox, r)], 0), quot(oc, from.c));
            }
        }
        Remap::Reshape => {
            s.single_tap = false;
            let plane = from.h * from.w;
            s.prelude.push(format!(
                "const unsigned flat = (unsigned({oc}) * {} + {oy}) * {} + {ox};",
                to.h, to.w
            ));
            s.ch = quot("flat", plane);
            s.iy = format!("flat % {plane} / {}", from.w);
            s.ix = format!("flat % {}", from.w);
        }
        Remap::Slice { start } => {
            s.ch = affine(&[(oc, 1)], start[0] as isize);
            s.iy = affine(&[(oy, 1)], start[1] as isize);
            s.ix = affine(&[(ox, 1)], start[2] as isize);
        }
        Remap::Pad { pads, value } => {
            let mut cond = vec![];
            for (var, lead, n, total) in
                [(oy, pads.top, from.h, to.h), (ox, pads.left, from.w, to.w)]
            {
                if lead > 0 {
                    cond.push(format!("{var} >= {lead}"));
                }
                if lead + n < total {
                    cond.push(format!("{var} < {}", lead + n));
                }
            }
            s.iy = affine(&[(oy, 1)], -(pads.top as isize));
            s.ix = affine(&[(ox, 1)], -(pads.left as isize));
            s.fill = value_literal(value, node.frac, &node.ty)?;
            if !cond.is_empty() {
                s.inside = Some(cond.join(" && "));
            }
        }
    }
    Some(s)
}

/// The stream style's taps of a remap along rows (`vertical`) or columns:
/// for every output coordinate, the input coordinates any of its elements
/// reads, in increasing order, numbered as kernel indices.
pub fn axis_taps(ctx: &Ctx<'_>, core: NodeId, vertical: bool) -> Vec<Vec<(usize, usize)>> {
    let node = ctx.node(core);
    let Op::Remap { x, remap } = &node.op else {
        return vec![];
    };
    let from = ctx.node(*x).shape.chw();
    let to = node.shape.chw();
    let pick = |d: Chw| if vertical { d.h } else { d.w };
    let (n_out, n_in) = (pick(to), pick(from));
    let numbered = |set: BTreeSet<usize>| set.into_iter().enumerate().collect::<Vec<_>>();
    (0..n_out)
        .map(|o| match *remap {
            Remap::DepthToSpace { r, .. } => vec![(0, o / r)],
            Remap::SpaceToDepth { r } => (0..r).map(|t| (t, o * r + t)).collect(),
            Remap::Slice { start } => vec![(0, o + start[if vertical { 1 } else { 2 }])],
            Remap::Pad { pads, .. } => {
                let lead = if vertical { pads.top } else { pads.left };
                match o.checked_sub(lead).filter(|&i| i < n_in) {
                    Some(i) => vec![(0, i)],
                    None => vec![],
                }
            }
            Remap::Reshape => {
                // Every input coordinate some element of this output row
                // (column) reads, over the other output axes.
                let plane = from.h * from.w;
                let mut set = BTreeSet::new();
                let (other, count) = if vertical { (to.w, to.c) } else { (to.h, to.c) };
                for c in 0..count {
                    for t in 0..other {
                        let (y, xx) = if vertical { (o, t) } else { (t, o) };
                        let flat = (c * to.h + y) * to.w + xx;
                        set.insert(if vertical {
                            flat % plane / from.w
                        } else {
                            flat % from.w
                        });
                    }
                }
                numbered(set)
            }
        })
        .collect()
}
