//! Max pooling without indices on the row kernels (compiled as a function
//! of its own: `machine::rows`). One output row is the window rows' maxima
//! in a scratch row of the type's values (padding columns hold the type's
//! minimum; 64 columns at a time, `Self::column_max`), then the window
//! columns' maxima; the common 2x2 / stride 2 window inside the plane in
//! one pass.

use super::pieces::{self, VECTOR};
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
        let mut row = vec![T::MIN; span + VECTOR];
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
            self.column_max(x, (c, y0..y1), cols, &mut row, inside.start);
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

    /// `row[at + j]` = the largest value of input column `cols.start + j`
    /// in rows `ys` of channel `c`, for `j < cols.len()`; the rest of the
    /// last vector written is the type's minimum (`row` has a vector of
    /// slack after `at + cols.len()`). Each 64 columns' maxima are taken
    /// in a register and stored once: a scratch row written in shorter
    /// stores and read back as a vector stalled each load.
    #[inline(always)]
    fn column_max<T: Byte>(
        &self,
        x: &[u8],
        (c, ys): (usize, std::ops::Range<usize>),
        cols: std::ops::Range<usize>,
        row: &mut [T],
        at: usize,
    ) {
        let n = cols.len();
        let mut j = 0;
        while j < n {
            let m = (n - j).min(VECTOR);
            let mut acc = [T::MIN; VECTOR];
            for iy in ys.clone() {
                let src = pieces::load_at(x, self.x.row(c, iy).start + cols.start + j);
                for (a, &s) in acc.iter_mut().zip(&src) {
                    *a = (*a).max(T::from_byte(s));
                }
            }
            if m < VECTOR {
                for (a, &i) in acc.iter_mut().zip(&LANES) {
                    *a = if usize::from(i) < m { *a } else { T::MIN };
                }
            }
            row[at + j..at + j + VECTOR].copy_from_slice(&acc);
            j += VECTOR;
        }
    }
}

/// Byte `i` is `i`: lane numbers.
const LANES: [u8; VECTOR] = {
    let mut l = [0u8; VECTOR];
    let mut i = 0;
    while i < VECTOR {
        l[i] = i as u8;
        i += 1;
    }
    l
};

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
