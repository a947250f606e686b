//! `conv` (ONNX `Conv`, PyTorch `conv2d`) and `deconv` (ONNX
//! `ConvTranspose`, PyTorch `conv_transpose2d`), as plain loops over exact
//! integers.

use super::{add, expect_frac, expect_map, mul, nonzero, Arg, Fault, MapView, Param};
use crate::ir::{Chw, ConvGeom, Node};

/// Weights `[O, I, KH, KW]` in C order.
struct WeightView<'a> {
    data: &'a [i128],
    i: usize,
    kh: usize,
    kw: usize,
}

impl WeightView<'_> {
    fn get(&self, o: usize, i: usize, ky: usize, kx: usize) -> i128 {
        self.data[((o * self.i + i) * self.kh + ky) * self.kw + kx]
    }
}

fn check_geom(g: &ConvGeom) -> Result<(), Fault> {
    nonzero(Param::Stride, &[g.stride.h, g.stride.w])?;
    nonzero(Param::Dilation, &[g.dilation.h, g.dilation.w])?;
    nonzero(Param::Groups, &[g.groups])
}

/// Output size of a convolution along one axis:
/// `(size + pads - dilation * (k - 1) - 1) / stride + 1`, if at least 1.
fn conv_out(size: usize, pads: usize, k: usize, dilation: usize, stride: usize) -> Option<usize> {
    let span = dilation * (k.checked_sub(1)?) + 1;
    Some((size + pads).checked_sub(span)? / stride + 1)
}

/// Output size of a transposed convolution along one axis:
/// `(size - 1) * stride - pads + dilation * (k - 1) + output_pad + 1`, if at least 1.
fn deconv_out(
    size: usize,
    pads: usize,
    k: usize,
    dilation: usize,
    stride: usize,
    output_pad: usize,
) -> Option<usize> {
    let full = (size.checked_sub(1)?) * stride + dilation * (k.checked_sub(1)?) + output_pad + 1;
    full.checked_sub(pads).filter(|&n| n >= 1)
}

/// `out[o][oy][ox] = sum over ci < I, ky, kx of
/// w[o][ci][ky][kx] * x[grp * I + ci][oy * sh - top + ky * dh][ox * sw - left + kx * dw]`
/// with `grp = o / (O / groups)` and zeros outside the input.
pub(super) fn conv(node: &Node, x: Arg<'_>, w: Arg<'_>, g: &ConvGeom) -> Result<Vec<i128>, Fault> {
    check_geom(g)?;
    let Chw { c: cin, h, w: wd } = x.map_chw()?;
    let (cout, cin_g, kh, kw) = w.weight_dims()?;
    if cin_g * g.groups != cin || cout % g.groups != 0 {
        return Err(w.bad_shape());
    }
    let oh = conv_out(h, g.pad.top + g.pad.bottom, kh, g.dilation.h, g.stride.h);
    let ow = conv_out(wd, g.pad.left + g.pad.right, kw, g.dilation.w, g.stride.w);
    let (oh, ow) = expect_map(node, cout, oh, ow)?;
    expect_frac(node, x.frac() + w.frac())?;

    let input = MapView::new(&x)?;
    let weights = WeightView {
        data: &w.value.data,
        i: cin_g,
        kh,
        kw,
    };
    let cout_g = cout / g.groups;
    let mut out = Vec::with_capacity(cout * oh * ow);
    for o in 0..cout {
        let grp = o / cout_g;
        for oy in 0..oh {
            for ox in 0..ow {
                let mut acc = 0;
                for ci in 0..cin_g {
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let iy =
                                (oy * g.stride.h + ky * g.dilation.h) as isize - g.pad.top as isize;
                            let ix = (ox * g.stride.w + kx * g.dilation.w) as isize
                                - g.pad.left as isize;
                            if let Some(v) = input.get(grp * cin_g + ci, iy, ix) {
                                acc = add(acc, mul(weights.get(o, ci, ky, kx), v)?)?;
                            }
                        }
                    }
                }
                out.push(acc);
            }
        }
    }
    Ok(out)
}

/// Scatter form: every input pixel `x[ci][iy][ix]` adds
/// `x[ci][iy][ix] * w[ci][o][ky][kx]` to
/// `out[grp * O + o][iy * sh - top + ky * dh][ix * sw - left + kx * dw]`
/// (when inside the output), with `grp = ci / (C / groups)` and `O` the
/// weights' second dimension (output channels per group).
pub(super) fn deconv(
    node: &Node,
    x: Arg<'_>,
    w: Arg<'_>,
    g: &ConvGeom,
) -> Result<Vec<i128>, Fault> {
    check_geom(g)?;
    let Chw { c: cin, h, w: wd } = x.map_chw()?;
    let (w_in, cout_g, kh, kw) = w.weight_dims()?;
    if w_in != cin || cin % g.groups != 0 {
        return Err(w.bad_shape());
    }
    let (sh, sw, dh, dw) = (g.stride.h, g.stride.w, g.dilation.h, g.dilation.w);
    let oh = deconv_out(h, g.pad.top + g.pad.bottom, kh, dh, sh, g.output_pad.h);
    let ow = deconv_out(wd, g.pad.left + g.pad.right, kw, dw, sw, g.output_pad.w);
    let cout = cout_g * g.groups;
    let (oh, ow) = expect_map(node, cout, oh, ow)?;
    expect_frac(node, x.frac() + w.frac())?;

    let weights = WeightView {
        data: &w.value.data,
        i: cout_g,
        kh,
        kw,
    };
    let cin_g = cin / g.groups;
    let mut out = vec![0; cout * oh * ow];
    for ci in 0..cin {
        let grp = ci / cin_g;
        for iy in 0..h {
            for ix in 0..wd {
                let v = x.value.data[(ci * h + iy) * wd + ix];
                for o in 0..cout_g {
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let oy = (iy * sh + ky * dh).checked_sub(g.pad.top);
                            let ox = (ix * sw + kx * dw).checked_sub(g.pad.left);
                            let (Some(oy), Some(ox)) = (oy, ox) else {
                                continue;
                            };
                            if oy >= oh || ox >= ow {
                                continue;
                            }
                            let slot = &mut out[((grp * cout_g + o) * oh + oy) * ow + ox];
                            *slot = add(*slot, mul(v, weights.get(ci, o, ky, kx))?)?;
                        }
                    }
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{map, run, run_fault, tensor, weights, ProgramBuilder};
    use crate::interp::Fault;
    use crate::ir::{ConvGeom, Op, Pads, Pair};
    use crate::types::ScalarType;

    fn geom(
        stride: (usize, usize),
        pad: Pads,
        dilation: (usize, usize),
        groups: usize,
    ) -> ConvGeom {
        ConvGeom {
            stride: Pair {
                h: stride.0,
                w: stride.1,
            },
            pad,
            dilation: Pair {
                h: dilation.0,
                w: dilation.1,
            },
            groups,
            output_pad: Pair { h: 0, w: 0 },
        }
    }

    fn pads(top: usize, bottom: usize, left: usize, right: usize) -> Pads {
        Pads {
            top,
            bottom,
            left,
            right,
        }
    }

    #[test]
    fn conv_3x3_same_padding() {
        // x = 1..9 on 3x3, an all-ones 3x3 kernel with pad 1: neighbourhood sums.
        let mut p = ProgramBuilder::new();
        let x = p.input("x", map(1, 3, 3), ScalarType::int(false, 8));
        let w = p.constant(weights(1, 1, 3, 3), 0, &[1; 9]);
        let g = geom((1, 1), pads(1, 1, 1, 1), (1, 1), 1);
        p.add(Op::Conv { x, w, geom: g }, map(1, 3, 3), 0);
        let values = run(
            &p.program,
            &[tensor(&[1, 3, 3], 0, &[1, 2, 3, 4, 5, 6, 7, 8, 9])],
        );
        assert_eq!(values[2].data, [12, 21, 16, 27, 45, 33, 24, 39, 28]);
    }

    #[test]
    fn conv_asymmetric_pads_and_stride() {
        // x: 1 x 3 x 4 = 0..12; kernel 2x2 [[1, 2], [3, 4]]; pads top 1,
        // bottom 0, left 0, right 1; stride (2, 1).
        // Padded rows: -1 (zeros), 0, 1, 2; H_out = (3 + 1 - 2) / 2 + 1 = 2,
        // W_out = (4 + 1 - 2) / 1 + 1 = 4.
        let mut p = ProgramBuilder::new();
        let x = p.constant(map(1, 3, 4), 0, &(0..12).collect::<Vec<_>>());
        let w = p.constant(weights(1, 1, 2, 2), 0, &[1, 2, 3, 4]);
        let g = geom((2, 1), pads(1, 0, 0, 1), (1, 1), 1);
        p.add(Op::Conv { x, w, geom: g }, map(1, 2, 4), 0);
        let values = run(&p.program, &[]);
        // oy = 0 reads rows -1 (zero) and 0: 3 * x[0][ox] + 4 * x[0][ox + 1].
        // oy = 1 reads rows 1 and 2.
        // x rows: [0 1 2 3] [4 5 6 7] [8 9 10 11]
        let expected = [
            4,
            3 + 8,
            6 + 12,
            9, // column 4 is right padding
            4 + 10 + 3 * 8 + 4 * 9,
            5 + 12 + 27 + 40,
            6 + 14 + 30 + 44,
            7 + 33,
        ];
        assert_eq!(values[2].data, expected);
    }

    #[test]
    fn conv_dilation_and_groups() {
        // Two groups of one input channel each, two output channels per group;
        // 2x2 kernel with dilation 2 on a 3x3 map: one output pixel that
        // reads the four corners.
        let mut p = ProgramBuilder::new();
        let x = p.constant(
            map(2, 3, 3),
            1,
            &[1, 0, 2, 0, 0, 0, 3, 0, 4, 10, 0, 20, 0, 0, 0, 30, 0, 40],
        );
        #[rustfmt::skip]
        let w = p.constant(weights(4, 1, 2, 2), 2, &[
            1, 0, 0, 0,   // group 0: top-left corner
            0, 0, 0, 1,   // group 0: bottom-right
            1, 1, 1, 1,   // group 1: sum of corners
            0, -1, 0, 0,  // group 1: minus top-right
        ]);
        let g = geom((1, 1), pads(0, 0, 0, 0), (2, 2), 2);
        p.add(Op::Conv { x, w, geom: g }, map(4, 1, 1), 3);
        let values = run(&p.program, &[]);
        assert_eq!(values[2].data, [1, 4, 100, -20]);
    }

    #[test]
    fn conv_rejects_wrong_declared_shape() {
        let mut p = ProgramBuilder::new();
        let x = p.constant(map(1, 3, 3), 0, &[0; 9]);
        let w = p.constant(weights(1, 1, 3, 3), 0, &[0; 9]);
        let g = geom((1, 1), pads(0, 0, 0, 0), (1, 1), 1);
        p.add(Op::Conv { x, w, geom: g }, map(1, 3, 3), 0);
        assert!(matches!(
            run_fault(&p.program, &[]),
            Fault::ResultShape { .. }
        ));
    }

    #[test]
    fn deconv_stride_2_pad_1_output_pad_1() {
        // PyTorch: conv_transpose2d(x, w, stride=2, padding=1, output_padding=1)
        // with x = [[1, 2], [3, 4]] and w = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]:
        // full output (before cropping) is 5x5; crop 1 at the top/left and
        // (1 - 1) = 0 at the bottom/right: 4x4.
        let mut p = ProgramBuilder::new();
        let x = p.constant(map(1, 2, 2), 0, &[1, 2, 3, 4]);
        let w = p.constant(weights(1, 1, 3, 3), 0, &[1, 2, 3, 4, 5, 6, 7, 8, 9]);
        let mut g = geom((2, 2), pads(1, 1, 1, 1), (1, 1), 1);
        g.output_pad = Pair { h: 1, w: 1 };
        p.add(Op::Deconv { x, w, geom: g }, map(1, 4, 4), 0);
        let values = run(&p.program, &[]);
        // Full 5x5 scatter (x[iy][ix] * w lands at rows 2iy.., columns 2ix..):
        //   1  2  5  4  6
        //   4  5 14 10 12
        //  10 14 36 24 30
        //  12 15 34 20 24
        //  21 24 55 32 36
        // Crop row and column 0 (pad 1), keep 4 (output_pad 1 restores the
        // bottom / right row that pad 1 removed).
        #[rustfmt::skip]
        let expected = [
            5, 14, 10, 12,
            14, 36, 24, 30,
            15, 34, 20, 24,
            24, 55, 32, 36,
        ];
        assert_eq!(values[2].data, expected);
    }

    #[test]
    fn deconv_groups_and_dilation() {
        // Depthwise (groups 2), 1x2 kernel with dilation 2, stride 1, no pads:
        // each channel's row [a, b] becomes [k0 a, k0 b, k1 a, k1 b].
        let mut p = ProgramBuilder::new();
        let x = p.constant(map(2, 1, 2), 0, &[1, 2, 3, 4]);
        let w = p.constant(weights(2, 1, 1, 2), 0, &[10, 100, -1, 1]);
        let g = geom((1, 1), pads(0, 0, 0, 0), (1, 2), 2);
        p.add(Op::Deconv { x, w, geom: g }, map(2, 1, 4), 0);
        let values = run(&p.program, &[]);
        assert_eq!(values[2].data, [10, 20, 100, 200, -3, -4, 3, 4]);
    }

    #[test]
    fn deconv_mixes_input_channels_into_each_group() {
        // Two input channels, one group, two outputs: out[o] = sum_ci x[ci] * w[ci][o].
        let mut p = ProgramBuilder::new();
        let x = p.constant(map(2, 1, 1), 1, &[3, 5]);
        let w = p.constant(weights(2, 2, 1, 1), 0, &[1, 2, 10, 20]);
        let g = geom((1, 1), pads(0, 0, 0, 0), (1, 1), 1);
        p.add(Op::Deconv { x, w, geom: g }, map(2, 1, 1), 1);
        let values = run(&p.program, &[]);
        assert_eq!(values[2].data, [53, 106]);
    }
}
