//! Max pooling without indices on the row kernels (compiled as a function
//! of its own: `machine::rows`). One output row is the window rows' maxima
//! in a scratch row of the type's values (padding columns hold the type's
//! minimum), then the window columns' maxima; the common 2x2 / stride 2
//! window inside the plane in one pass.

use super::{requant_row, Byte, Kind, RowStage};

impl RowStage {
    #[inline(always)]
    pub(super) fn max_pool<T: Byte>(
        &self,
        lo: usize,
        hi: usize,
        x: &[u8],
        out: &mut [u8],
        base: usize,
    ) {
        let Kind::MaxPool {
            kernel: (kh, kw),
            stride: (sh, sw),
            pad: (pt, pl),
        } = self.kind
        else {
            return;
        };
        let ow = self.out.w;
        // Scratch row: input column `j - pl` at `j`, the type's minimum
        // where that is padding.
        let span = (ow - 1) * sw + kw;
        let mut row = vec![T::MIN; span];
        let inside = pl.min(span)..(pl + self.x.w).min(span);
        let mut values = vec![T::MIN; ow];
        let mut ints = vec![0i32; if self.tail.is_some() { ow } else { 0 }];
        // The common 2x2 / stride 2 window inside the plane: one pass,
        // no scratch row.
        let pairs = kh == 2 && kw == 2 && sh == 2 && sw == 2 && pl == 0 && 2 * ow <= self.x.w;
        for item in lo..hi {
            let (c, oy) = (item / self.out.h, item % self.out.h);
            let y0 = (oy * sh).saturating_sub(pt);
            let y1 = (oy * sh + kh).saturating_sub(pt).min(self.x.h);
            if pairs && y1 == y0 + 2 && self.tail.is_none() {
                let (r0, r1) = (&x[self.x.row(c, y0)], &x[self.x.row(c, y0 + 1)]);
                let o = self.out_row(out, base, c, oy);
                for ((d, a), b) in o.iter_mut().zip(r0.chunks_exact(2)).zip(r1.chunks_exact(2)) {
                    let m0 = T::from_byte(a[0]).max(T::from_byte(b[0]));
                    let m1 = T::from_byte(a[1]).max(T::from_byte(b[1]));
                    *d = m0.max(m1).to_byte();
                }
                continue;
            }
            let cols = inside.start - pl..inside.end - pl;
            let dst = &mut row[inside.clone()];
            let first = &x[self.x.row(c, y0)][cols.clone()];
            for (d, &s) in dst.iter_mut().zip(first) {
                *d = T::from_byte(s);
            }
            for iy in y0 + 1..y1 {
                max_into(dst, &x[self.x.row(c, iy)][cols.clone()]);
            }
            window_max(&row, &mut values, kw, sw);
            match &self.tail {
                None => {
                    let o = self.out_row(out, base, c, oy);
                    for (d, v) in o.iter_mut().zip(&values) {
                        *d = v.to_byte();
                    }
                }
                Some(q) => {
                    for (d, v) in ints.iter_mut().zip(&values) {
                        *d = v.to_i32();
                    }
                    requant_row(q, c, &ints, self.out_row(out, base, c, oy));
                }
            }
        }
    }
}

/// `out[x] = max(row[x * stride + kx] for kx < k)`.
#[inline(always)]
fn window_max<T: Byte>(row: &[T], out: &mut [T], k: usize, stride: usize) {
    match (k, stride) {
        (2, 2) => {
            for (o, pair) in out.iter_mut().zip(row.chunks_exact(2)) {
                *o = pair[0].max(pair[1]);
            }
        }
        (3, 2) => {
            // Window `ox` is pair `ox` and the first of pair `ox + 1`: a
            // zip of pairs (vectorized as the 2x2 case), then the last
            // window on its own (`row` holds `2 n + 1` values).
            let n = out.len();
            let (head, last) = out.split_at_mut(n - 1);
            let pairs = row.chunks_exact(2).zip(row[2..].chunks_exact(2));
            for (o, (a, b)) in head.iter_mut().zip(pairs) {
                *o = a[0].max(a[1]).max(b[0]);
            }
            last[0] = row[2 * n - 2].max(row[2 * n - 1]).max(row[2 * n]);
        }
        (_, 1) => {
            let n = out.len();
            out.copy_from_slice(&row[..n]);
            for kx in 1..k {
                for (o, &v) in out.iter_mut().zip(&row[kx..kx + n]) {
                    *o = (*o).max(v);
                }
            }
        }
        _ => {
            for (ox, o) in out.iter_mut().enumerate() {
                let w = &row[ox * stride..ox * stride + k];
                *o = w.iter().copied().fold(T::MIN, T::max);
            }
        }
    }
}

/// `dst[j] = max(dst[j], src[j])`: 64 values at a time (whole vectors; a
/// loop over the row's length ran on 16-byte ones), then the rest.
#[inline(always)]
fn max_into<T: Byte>(dst: &mut [T], src: &[u8]) {
    let mut d = dst.chunks_exact_mut(64);
    let mut s = src.chunks_exact(64);
    for (d, s) in d.by_ref().zip(s.by_ref()) {
        for j in 0..64 {
            d[j] = d[j].max(T::from_byte(s[j]));
        }
    }
    for (d, &s) in d.into_remainder().iter_mut().zip(s.remainder()) {
        *d = (*d).max(T::from_byte(s));
    }
}
