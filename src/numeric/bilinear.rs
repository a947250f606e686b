//! Bilinear interpolation weights (ONNX Resize `linear`, `half_pixel`;
//! PyTorch `align_corners=False`), exact because factors are powers of two.
//!
//! Along an axis with factor `f > 1`, the source coordinate of output `o` is
//! `(o + 1/2) / f - 1/2 = (2o + 1 - f) / (2f)`, a multiple of `1 / S` with
//! `S = 2f`. Each output is a weighted sum of two neighbours with integer
//! weights `S - lambda` and `lambda`, so the result carries `log2 S` more
//! fraction bits per interpolated axis. The interpreter computes with these
//! taps and the HLS emitter writes them as tables; the JIT computes the same
//! formula in its generated code.

/// One output position's two source taps `(index, weight)` along an axis.
pub type Taps = [(usize, i128); 2];

/// The taps of every output position along an axis of `size` inputs
/// upsampled by `f`, and the number of fraction bits the weights add (their
/// sum is `2^bits`); `None` when `f` is not a power of two.
///
/// With `f == 1` the axis is the identity (weight 1, no extra bits).
/// Otherwise `S = 2f`, the scaled source coordinate is
/// `t = max(2o + 1 - f, 0)`, `i0 = t / S`, `i1 = min(i0 + 1, size - 1)`,
/// `lambda = t - i0 * S`, and the taps are `(i0, S - lambda)`, `(i1, lambda)`.
pub fn bilinear_taps(size: usize, f: usize) -> Option<(Vec<Taps>, u32)> {
    if f == 1 {
        return Some(((0..size).map(|o| [(o, 1), (o, 0)]).collect(), 0));
    }
    if !f.is_power_of_two() {
        return None;
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
    Some((taps, s.trailing_zeros()))
}

#[cfg(test)]
mod tests {
    use super::bilinear_taps;

    #[test]
    fn axis_taps() {
        // Factor 2: source coordinates -1/4 (clamped to 0), 1/4, 3/4, 5/4
        // (i0 = 1, clamped neighbour) in units of 1/4.
        let (taps, bits) = bilinear_taps(2, 2).expect("power of two");
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
        let (taps, bits) = bilinear_taps(2, 4).expect("power of two");
        assert_eq!(bits, 3);
        let lambdas: Vec<i128> = taps.iter().map(|t| t[1].1).collect();
        assert_eq!(lambdas, [0, 0, 1, 3, 5, 7, 1, 3]);
        let firsts: Vec<usize> = taps.iter().map(|t| t[0].0).collect();
        assert_eq!(firsts, [0, 0, 0, 0, 0, 0, 1, 1]);
        assert_eq!(bilinear_taps(2, 3), None);
    }

    #[test]
    fn factor_one_is_the_identity() {
        let (taps, bits) = bilinear_taps(3, 1).expect("identity");
        assert_eq!(bits, 0);
        assert_eq!(
            taps,
            vec![[(0, 1), (0, 0)], [(1, 1), (1, 0)], [(2, 1), (2, 0)]]
        );
    }
}
