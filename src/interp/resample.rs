//! `upsample`: ONNX `Resize` with integer factors, `nearest` (asymmetric,
//! floor) or `linear` (half_pixel, i.e. PyTorch `align_corners=False`),
//! exact with the weights of [`bilinear_taps`]: each output is a weighted
//! sum of two neighbours per axis, with `log2(2f)` more fraction bits per
//! interpolated axis.

use super::{add, expect_frac, expect_shape, mul, nonzero, Arg, Fault, MapView, Param};
use crate::ir::{Chw, Node, Pair, Resample, Shape};
use crate::numeric::bilinear_taps;

/// `upsample(x, f, nearest | bilinear)`.
pub(super) fn upsample(
    node: &Node,
    x: Arg<'_>,
    factor: Pair,
    mode: Resample,
) -> Result<Vec<i128>, Fault> {
    nonzero(Param::Factor, &[factor.h, factor.w])?;
    let Chw { c, h, w } = x.map_chw()?;
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
            let (rows, row_bits) = taps(h, factor.h)?;
            let (cols, col_bits) = taps(w, factor.w)?;
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

/// [`bilinear_taps`] along one axis; a factor that is not a power of two
/// has none (the checker rejects it).
fn taps(size: usize, f: usize) -> Result<(Vec<crate::numeric::Taps>, u32), Fault> {
    bilinear_taps(size, f).ok_or(Fault::Parameter {
        param: Param::Factor,
        value: f,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::{map, run, run_fault, ProgramBuilder};
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
