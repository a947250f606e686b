//! Rearrangements (`depth_to_space`, `space_to_depth`, `flatten`,
//! `reshape`, `slice`, `pad`): every output element is one element of the
//! operand, or the pad value, at a position fixed by the geometry alone. One
//! node kind for the whole family, so each backend implements it once.

use super::{Chw, Pads};

/// The channel order of `depth_to_space` (ONNX DepthToSpace `mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ShuffleMode {
    /// Depth, column, row: output channel `c` of block offset `(i, j)` is
    /// input channel `(i * r + j) * C' + c` (ONNX's default).
    Dcr,
    /// Column, row, depth: input channel `c * r * r + i * r + j` (PyTorch
    /// `pixel_shuffle`).
    Crd,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Remap {
    /// `[C, H, W]` -> `[C / r^2, H r, W r]`.
    DepthToSpace { r: usize, mode: ShuffleMode },
    /// `[C, H, W]` -> `[C r^2, H / r, W / r]`; output channel `(i * r + j) * C + c`
    /// holds input `(c, y r + i, x r + j)` (ONNX SpaceToDepth).
    SpaceToDepth { r: usize },
    /// `reshape` and `flatten`: the same elements in C order (C, then H, then W).
    Reshape,
    /// Crop: `out[c, y, x] = in[c0 + c, y0 + y, x0 + x]` (`start = [c0, y0, x0]`).
    Slice { start: [usize; 3] },
    /// Constant padding: `value` (raw, at the node's frac, which is the
    /// operand's) on the sides, the operand inside.
    Pad { pads: Pads, value: i128 },
}

/// Where an output element comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The operand's element `(c, y, x)`.
    At(usize, usize, usize),
    /// A constant (the pad value), raw at the node's frac.
    Fill(i128),
}

impl Remap {
    /// Where output element `(c, y, x)` of a `to`-shaped result comes from
    /// in a `from`-shaped operand. The checker guarantees the shapes agree
    /// with the remap, so every `At` is inside `from`.
    pub fn source(&self, from: Chw, to: Chw, c: usize, y: usize, x: usize) -> Source {
        match *self {
            Remap::DepthToSpace { r, mode } => {
                let (i, j) = (y % r, x % r);
                let ci = match mode {
                    ShuffleMode::Dcr => (i * r + j) * to.c + c,
                    ShuffleMode::Crd => (c * r + i) * r + j,
                };
                Source::At(ci, y / r, x / r)
            }
            Remap::SpaceToDepth { r } => {
                let (block, ci) = (c / from.c, c % from.c);
                Source::At(ci, y * r + block / r, x * r + block % r)
            }
            Remap::Reshape => {
                let flat = (c * to.h + y) * to.w + x;
                let plane = from.h * from.w;
                Source::At(flat / plane, flat % plane / from.w, flat % from.w)
            }
            Remap::Slice { start } => Source::At(start[0] + c, start[1] + y, start[2] + x),
            Remap::Pad { pads, value } => {
                let inside =
                    |o: usize, lead: usize, n: usize| o.checked_sub(lead).filter(|&i| i < n);
                match (inside(y, pads.top, from.h), inside(x, pads.left, from.w)) {
                    (Some(iy), Some(ix)) => Source::At(c, iy, ix),
                    _ => Source::Fill(value),
                }
            }
        }
    }

    /// Short description for tables and graphs.
    pub fn label(&self) -> String {
        match *self {
            Remap::DepthToSpace { r, mode } => {
                let m = match mode {
                    ShuffleMode::Dcr => "dcr",
                    ShuffleMode::Crd => "crd",
                };
                format!("depth_to_space {r} {m}")
            }
            Remap::SpaceToDepth { r } => format!("space_to_depth {r}"),
            Remap::Reshape => "reshape".into(),
            Remap::Slice { .. } => "slice".into(),
            Remap::Pad { .. } => "pad".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chw(c: usize, h: usize, w: usize) -> Chw {
        Chw { c, h, w }
    }

    #[test]
    fn depth_to_space_modes_follow_onnx() {
        // [8, 1, 1] -> [2, 2, 2]: DCR takes channel (i * 2 + j) * 2 + c,
        // CRD channel c * 4 + i * 2 + j.
        let (from, to) = (chw(8, 1, 1), chw(2, 2, 2));
        let dcr = Remap::DepthToSpace {
            r: 2,
            mode: ShuffleMode::Dcr,
        };
        let crd = Remap::DepthToSpace {
            r: 2,
            mode: ShuffleMode::Crd,
        };
        assert_eq!(dcr.source(from, to, 1, 1, 0), Source::At(5, 0, 0));
        assert_eq!(crd.source(from, to, 1, 1, 0), Source::At(6, 0, 0));
    }

    #[test]
    fn space_to_depth_inverts_depth_to_space_dcr() {
        let (small, big) = (chw(12, 2, 3), chw(3, 4, 6));
        let d2s = Remap::DepthToSpace {
            r: 2,
            mode: ShuffleMode::Dcr,
        };
        let s2d = Remap::SpaceToDepth { r: 2 };
        for c in 0..12 {
            for y in 0..2 {
                for x in 0..3 {
                    let Source::At(bc, by, bx) = s2d.source(big, small, c, y, x) else {
                        panic!("space_to_depth never fills")
                    };
                    assert_eq!(d2s.source(small, big, bc, by, bx), Source::At(c, y, x));
                }
            }
        }
    }

    #[test]
    fn reshape_keeps_c_order_and_pad_fills() {
        let r = Remap::Reshape;
        assert_eq!(
            r.source(chw(2, 2, 3), chw(12, 1, 1), 7, 0, 0),
            Source::At(1, 0, 1)
        );
        let p = Remap::Pad {
            pads: Pads {
                top: 1,
                bottom: 0,
                left: 2,
                right: 1,
            },
            value: -3,
        };
        let (from, to) = (chw(1, 2, 2), chw(1, 3, 5));
        assert_eq!(p.source(from, to, 0, 0, 2), Source::Fill(-3));
        assert_eq!(p.source(from, to, 0, 1, 2), Source::At(0, 0, 0));
        assert_eq!(p.source(from, to, 0, 2, 4), Source::Fill(-3));
    }
}
