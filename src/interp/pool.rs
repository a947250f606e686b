//! `maxpool` (ONNX `MaxPool`), its indices (PyTorch `max_pool2d` with
//! `return_indices=True`) and `maxunpool` (PyTorch `max_unpool2d`).

use super::{
    align, expect_frac, expect_map, expect_shape, nonzero, Arg, Failure, Fault, MapView, Param,
};
use crate::ir::{Chw, Node, Pair, PoolGeom, Shape};

/// Output size of a pooling along one axis: `(size + pads - k) / stride + 1`.
fn pool_out(size: usize, pads: usize, k: usize, stride: usize) -> Option<usize> {
    Some((size + pads).checked_sub(k)? / stride + 1)
}

/// For every output position, in C order: the window's maximum and its flat
/// position `iy * W + ix` in the unpadded input plane. Only positions inside
/// the input take part (padding never wins); the first maximum in raster
/// order (`ky` outer, `kx` inner) wins ties.
fn window_maxima(node: &Node, x: &Arg<'_>, g: &PoolGeom) -> Result<Vec<(i128, usize)>, Fault> {
    nonzero(Param::Kernel, &[g.kernel.h, g.kernel.w])?;
    nonzero(Param::Stride, &[g.stride.h, g.stride.w])?;
    let Chw { c, h, w } = x.map_chw()?;
    let oh = pool_out(h, g.pad.top + g.pad.bottom, g.kernel.h, g.stride.h);
    let ow = pool_out(w, g.pad.left + g.pad.right, g.kernel.w, g.stride.w);
    let (oh, ow) = expect_map(node, c, oh, ow)?;

    let input = MapView::new(x)?;
    let mut maxima = Vec::with_capacity(c * oh * ow);
    for ch in 0..c {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut best: Option<(i128, usize)> = None;
                for ky in 0..g.kernel.h {
                    for kx in 0..g.kernel.w {
                        let iy = (oy * g.stride.h + ky) as isize - g.pad.top as isize;
                        let ix = (ox * g.stride.w + kx) as isize - g.pad.left as isize;
                        let Some(v) = input.get(ch, iy, ix) else {
                            continue;
                        };
                        if best.is_none_or(|(max, _)| v > max) {
                            // Inside the plane, so iy and ix are non-negative.
                            best = Some((v, iy as usize * w + ix as usize));
                        }
                    }
                }
                let found = best.ok_or(Fault::EmptyWindow {
                    channel: ch,
                    y: oy,
                    x: ox,
                })?;
                maxima.push(found);
            }
        }
    }
    Ok(maxima)
}

/// `maxpool(x, k, stride:, pad:)`: window maxima, same frac.
pub(super) fn max_pool(node: &Node, x: Arg<'_>, g: &PoolGeom) -> Result<Vec<i128>, Fault> {
    expect_frac(node, x.frac())?;
    let maxima = window_maxima(node, &x, g)?;
    Ok(maxima.into_iter().map(|(v, _)| v).collect())
}

/// The indices of `maxpool(x, k, indices: true)`: integers, frac 0.
pub(super) fn max_pool_indices(node: &Node, x: Arg<'_>, g: &PoolGeom) -> Result<Vec<i128>, Fault> {
    expect_frac(node, 0)?;
    let maxima = window_maxima(node, &x, g)?;
    Ok(maxima.into_iter().map(|(_, at)| at as i128).collect())
}

/// `maxunpool(x, idx, ...)`: a zero map of `out` planes where, for each
/// element of `x` in C order, `out[c][idx[c][i]] = x[c][i]` (a later write to
/// the same position wins). An index outside the plane is an error.
pub(super) fn max_unpool(
    node: &Node,
    x: Arg<'_>,
    idx: Arg<'_>,
    out: Pair,
) -> Result<Vec<i128>, Failure> {
    let Chw { c, h, w } = x.map_chw()?;
    if idx.shape() != x.shape() {
        return Err(idx.bad_shape().into());
    }
    if idx.frac() != 0 {
        return Err(Fault::OperandFrac {
            operand: idx.id,
            frac: idx.frac(),
        }
        .into());
    }
    expect_shape(
        node,
        Shape::Map {
            c,
            h: out.h,
            w: out.w,
        },
    )?;
    let limit = out.h * out.w;
    let mut result = vec![0; c * limit];
    for ch in 0..c {
        for position in 0..h * w {
            let k = ch * h * w + position;
            let index = idx.value.data[k];
            let target = usize::try_from(index).ok().filter(|&t| t < limit);
            let Some(target) = target else {
                return Err(Failure::UnpoolIndex {
                    channel: ch,
                    position,
                    index,
                    limit,
                });
            };
            result[ch * limit + target] = align(x.value.data[k], x.frac(), node.frac)?;
        }
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{map, run, run_err, tensor, ProgramBuilder};
    use crate::interp::RunError;
    use crate::ir::{Op, Pads, Pair, PoolGeom};
    use crate::types::ScalarType;

    fn pool(k: usize, s: usize, pad: Pads) -> PoolGeom {
        PoolGeom {
            kernel: Pair { h: k, w: k },
            stride: Pair { h: s, w: s },
            pad,
        }
    }

    #[test]
    fn maxpool_2x2_values_and_indices() {
        let mut p = ProgramBuilder::new();
        #[rustfmt::skip]
        let x = p.constant(map(1, 4, 4), 0, &[
            1, 5, 2, 2,
            3, 5, 2, 2,   // top-right window: all equal, the first wins
            0, 0, -1, 9,
            7, 0, 9, 3,   // bottom-right: 9 twice, (2, 3) comes first
        ]);
        let g = pool(2, 2, Pads::default());
        p.add(Op::MaxPool { x, geom: g }, map(1, 2, 2), 0);
        p.add(Op::MaxPoolIndices { x, geom: g }, map(1, 2, 2), 0);
        let values = run(&p.program, &[]);
        assert_eq!(values[1].data, [5, 2, 7, 9]);
        assert_eq!(values[2].data, [1, 2, 12, 11]);
    }

    #[test]
    fn padding_never_wins() {
        // All-negative input, 3x3 windows with pad 1, stride 2: every window's
        // maximum is a real (negative) element, not the zero padding.
        let mut p = ProgramBuilder::new();
        #[rustfmt::skip]
        let x = p.constant(map(1, 3, 3), 2, &[
            -9, -8, -7,
            -6, -1, -5,
            -4, -3, -2,
        ]);
        let pads = Pads {
            top: 1,
            bottom: 1,
            left: 1,
            right: 1,
        };
        let g = pool(3, 2, pads);
        p.add(Op::MaxPool { x, geom: g }, map(1, 2, 2), 2);
        p.add(Op::MaxPoolIndices { x, geom: g }, map(1, 2, 2), 0);
        let values = run(&p.program, &[]);
        assert_eq!(values[1].data, [-1, -1, -1, -1]);
        assert_eq!(values[2].data, [4, 4, 4, 4]);
    }

    #[test]
    fn asymmetric_pool_padding() {
        // 1x3 row, kernel 2, stride 2, pad left 1: windows {-1, 0} and {1, 2}.
        let mut p = ProgramBuilder::new();
        let x = p.constant(map(1, 1, 3), 0, &[4, -3, 6]);
        let g = PoolGeom {
            kernel: Pair { h: 1, w: 2 },
            stride: Pair { h: 1, w: 2 },
            pad: Pads {
                top: 0,
                bottom: 0,
                left: 1,
                right: 0,
            },
        };
        p.add(Op::MaxPool { x, geom: g }, map(1, 1, 2), 0);
        p.add(Op::MaxPoolIndices { x, geom: g }, map(1, 1, 2), 0);
        let values = run(&p.program, &[]);
        assert_eq!(values[1].data, [4, 6]);
        assert_eq!(values[2].data, [0, 2]);
    }

    #[test]
    fn pool_then_unpool_round_trip() {
        let mut p = ProgramBuilder::new();
        let x = p.input("x", map(2, 2, 4), ScalarType::int(false, 8));
        let g = pool(2, 2, Pads::default());
        let v = p.add(Op::MaxPool { x, geom: g }, map(2, 1, 2), 0);
        let i = p.add(Op::MaxPoolIndices { x, geom: g }, map(2, 1, 2), 0);
        let out = Pair { h: 2, w: 4 };
        let u = p.add(Op::MaxUnpool { x: v, idx: i, out }, map(2, 2, 4), 0);
        p.output("u", u);
        #[rustfmt::skip]
        let input = tensor(&[2, 2, 4], 0, &[
            1, 2, 3, 4,
            5, 6, 8, 7,
            9, 0, 0, 0,
            0, 0, 0, 1,
        ]);
        let outputs = crate::interp::interpret(&p.program, &[input]).expect("runs");
        #[rustfmt::skip]
        let expected = [
            0, 0, 0, 0,
            0, 6, 8, 0,
            9, 0, 0, 0,
            0, 0, 0, 1,
        ];
        assert_eq!(outputs[0].data, expected);
    }

    #[test]
    fn unpool_duplicates_last_write_wins_and_aligns() {
        let mut p = ProgramBuilder::new();
        let x = p.constant(map(1, 1, 3), 0, &[1, 2, 3]);
        let idx = p.constant(map(1, 1, 3), 0, &[3, 0, 3]);
        let out = Pair { h: 2, w: 2 };
        p.add(Op::MaxUnpool { x, idx, out }, map(1, 2, 2), 1);
        let values = run(&p.program, &[]);
        assert_eq!(values[2].data, [4, 0, 0, 6]);
    }

    #[test]
    fn unpool_index_out_of_range() {
        let mut p = ProgramBuilder::new();
        let x = p.constant(map(2, 1, 2), 0, &[1, 2, 3, 4]);
        let idx = p.constant(map(2, 1, 2), 0, &[0, 1, 3, 4]);
        let out = Pair { h: 2, w: 2 };
        p.add(Op::MaxUnpool { x, idx, out }, map(2, 2, 2), 0);
        match run_err(&p.program, &[]) {
            RunError::UnpoolIndex {
                node,
                channel,
                position,
                index,
                limit,
            } => {
                assert_eq!((node.id, channel, position, index, limit), (2, 1, 1, 4, 4));
            }
            other => panic!("unexpected {other:?}"),
        }
        let mut p = ProgramBuilder::new();
        let x = p.constant(map(1, 1, 1), 0, &[1]);
        let idx = p.constant(map(1, 1, 1), 0, &[-1]);
        let out = Pair { h: 1, w: 1 };
        p.add(Op::MaxUnpool { x, idx, out }, map(1, 1, 1), 0);
        let err = run_err(&p.program, &[]);
        assert!(matches!(err, RunError::UnpoolIndex { index: -1, .. }));
        assert_eq!(
            err.to_string(),
            "`test` in `t`: index -1 at position 0 of channel 0 is outside the output plane 0..1"
        );
    }
}
