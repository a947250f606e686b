//! `upsample`: ONNX `Resize` with integer factors, `nearest` (asymmetric,
//! floor) or `linear` (half_pixel, i.e. PyTorch `align_corners=False`).
//!
//! Bilinear interpolation is exact because factors are powers of two: along
//! an axis with factor `f > 1`, the source coordinate of output `o` is
//! `(o + 1/2) / f - 1/2 = (2o + 1 - f) / (2f)`, a multiple of `1 / S` with
//! `S = 2f`. Each output is a weighted sum of two neighbours with integer
//! weights `S - lambda` and `lambda`, so the result carries `log2 S` more
//! fraction bits per interpolated axis.

use super::{add, expect_frac, expect_shape, mul, nonzero, Arg, Fault, MapView, Param};
use crate::ir::{Node, Pair, Resample, Shape};

/// `upsample(x, f, nearest | bilinear)`.
pub(super) fn upsample(
    node: &Node,
    x: Arg<'_>,
    factor: Pair,
    mode: Resample,
) -> Result<Vec<i128>, Fault> {
    nonzero(Param::Factor, &[factor.h, factor.w])?;
    let (c, h, w) = x.map_dims()?;
    let (oh, ow) = (h * factor.h, w * factor.w);
    expect_shape(node, Shape::Map { c, h: oh, w: ow })?;
    let input = MapView::new(&x)?;
    let at = |ch: usize, y: usize, x: usize| input.get(ch, y as isize, x as isize).unwrap_or(0);
    let mut out = Vec::with_capacity(c * oh * ow);
    match mode {
        Resample::Nearest => {
            expect_frac(node, x.frac())?;
            for ch in 0..c {
                for oy in 0..oh {
                    for ox in 0..ow {
                        out.push(at(ch, oy / factor.h, ox / factor.w));
                    }
                }
            }
        }
        Resample::Bilinear => {
            let (rows, row_bits) = linear_taps(h, factor.h)?;
            let (cols, col_bits) = linear_taps(w, factor.w)?;
            expect_frac(node, x.frac() + row_bits + col_bits)?;
            for ch in 0..c {
                for row in &rows {
                    for col in &cols {
                        let mut acc = 0;
                        for &(y, wy) in row {
                            for &(x, wx) in col {
                                acc = add(acc, mul(wy * wx, at(ch, y, x))?)?;
                            }
                        }
                        out.push(acc);
                    }
                }
            }
        }
    }
    Ok(out)
}

/// One output position's two source taps `(index, weight)` along an axis.
type Taps = [(usize, i128); 2];

/// The taps of every output position along an axis of `size` inputs
/// upsampled by `f`, and the number of fraction bits the weights add
/// (their sum is `2^bits`).
///
/// With `f == 1` the axis is the identity (weight 1, no extra bits).
/// Otherwise `S = 2f`, the scaled source coordinate is
/// `t = max(2o + 1 - f, 0)`, `i0 = t / S`, `i1 = min(i0 + 1, size - 1)`,
/// `lambda = t - i0 * S`, and the taps are `(i0, S - lambda)`, `(i1, lambda)`.
fn linear_taps(size: usize, f: usize) -> Result<(Vec<Taps>, u32), Fault> {
    if f == 1 {
        return Ok(((0..size).map(|o| [(o, 1), (o, 0)]).collect(), 0));
    }
    if !f.is_power_of_two() {
        return Err(Fault::Parameter {
            param: Param::Factor,
            value: f,
        });
    }
    let s = 2 * f;
    let taps = (0..size * f)
        .map(|o| {
            let t = (2 * o + 1).saturating_sub(f);
            let i0 = t / s;
            let i1 = (i0 + 1).min(size - 1);
            let lambda = (t - i0 * s) as i128;
            [(i0, s as i128 - lambda), (i1, lambda)]
        })
        .collect();
    Ok((taps, s.trailing_zeros()))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{map, run, run_fault, ProgramBuilder};
    use super::linear_taps;
    use crate::interp::{Fault, Param};
    use crate::ir::{Op, Pair, Resample};

    #[test]
    fn nearest_repeats_pixels() {
        let mut p = ProgramBuilder::new();
        let x = p.constant(map(1, 2, 2), 3, &[1, 2, 3, 4]);
        let factor = Pair { h: 2, w: 3 };
        p.add(
            Op::Upsample {
                x,
                factor,
                mode: Resample::Nearest,
            },
            map(1, 4, 6),
            3,
        );
        let values = run(&p.program, &[]);
        #[rustfmt::skip]
        let expected = [
            1, 1, 1, 2, 2, 2,
            1, 1, 1, 2, 2, 2,
            3, 3, 3, 4, 4, 4,
            3, 3, 3, 4, 4, 4,
        ];
        assert_eq!(values[1].data, expected);
    }

    #[test]
    fn axis_taps() {
        // Factor 2: source coordinates -1/4 (clamped to 0), 1/4, 3/4, 5/4
        // (i0 = 1, clamped neighbour) in units of 1/4.
        let (taps, bits) = linear_taps(2, 2).expect("power of two");
        assert_eq!(bits, 2);
        assert_eq!(
            taps,
            vec![
                [(0, 4), (1, 0)],
                [(0, 3), (1, 1)],
                [(0, 1), (1, 3)],
                [(1, 3), (1, 1)],
            ]
        );
        // Factor 4 on 2 inputs: (2o - 3) / 8 for o = 0..8.
        let (taps, bits) = linear_taps(2, 4).expect("power of two");
        assert_eq!(bits, 3);
        let lambdas: Vec<i128> = taps.iter().map(|t| t[1].1).collect();
        assert_eq!(lambdas, [0, 0, 1, 3, 5, 7, 1, 3]);
        let firsts: Vec<usize> = taps.iter().map(|t| t[0].0).collect();
        assert_eq!(firsts, [0, 0, 0, 0, 0, 0, 1, 1]);
        assert!(linear_taps(2, 3).is_err());
    }

    #[test]
    fn bilinear_2x_on_2x2() {
        // PyTorch interpolate(scale_factor=2, mode="bilinear",
        // align_corners=False) of [[0, 4], [8, 16]] is
        //  0  1  3  4
        //  2  3.25 5.75 7
        //  6  7.75 11.25 13
        //  8  10 14 16
        // and the result here carries 4 more fraction bits (x 16).
        let mut p = ProgramBuilder::new();
        let x = p.constant(map(1, 2, 2), 0, &[0, 4, 8, 16]);
        let factor = Pair { h: 2, w: 2 };
        let mode = Resample::Bilinear;
        p.add(Op::Upsample { x, factor, mode }, map(1, 4, 4), 4);
        let values = run(&p.program, &[]);
        #[rustfmt::skip]
        let expected = [
            0, 16, 48, 64,
            32, 52, 92, 112,
            96, 124, 180, 208,
            128, 160, 224, 256,
        ];
        assert_eq!(values[1].data, expected);
    }

    #[test]
    fn bilinear_one_axis_only() {
        // Factor (1, 2): rows untouched, columns interpolated (2 more bits).
        let mut p = ProgramBuilder::new();
        let x = p.constant(map(1, 2, 2), 1, &[0, 4, 8, 16]);
        let factor = Pair { h: 1, w: 2 };
        let mode = Resample::Bilinear;
        p.add(Op::Upsample { x, factor, mode }, map(1, 2, 4), 3);
        let values = run(&p.program, &[]);
        assert_eq!(values[1].data, [0, 4, 12, 16, 32, 40, 56, 64]);
    }

    #[test]
    fn bilinear_rejects_other_factors() {
        let mut p = ProgramBuilder::new();
        let x = p.constant(map(1, 1, 1), 0, &[1]);
        let factor = Pair { h: 3, w: 1 };
        let mode = Resample::Bilinear;
        p.add(Op::Upsample { x, factor, mode }, map(1, 3, 1), 2);
        assert!(matches!(
            run_fault(&p.program, &[]),
            Fault::Parameter {
                param: Param::Factor,
                value: 3
            }
        ));
    }
}
