//! The upsampling row kernels of [`RowStage`]: nearest (rows doubled in
//! registers and stored twice, rows equal to the one above copied) and
//! bilinear (columns as contiguous phases of the edge-extended input row).

use super::pieces::{self, VECTOR};
use super::{requant_row, Byte, Phase, RowStage, Taps};

impl RowStage {
    #[inline(always)]
    pub(super) fn nearest(
        &self,
        (fh, fw): (usize, usize),
        lo: usize,
        hi: usize,
        x: &[u8],
        out: &mut [u8],
        base: usize,
    ) {
        let e = self.x.bytes;
        let mut requantized = vec![0u8; if self.tail.is_some() { self.x.w } else { 0 }];
        let mut ints = vec![0i32; requantized.len()];
        let h = self.out.h.max(1);
        let (mut c, mut oy) = (lo / h, lo % h);
        let mut item = lo;
        while item < hi {
            let o = self.out.row(c, oy);
            // Doubling both ways with both rows in this job: each block of
            // 64 input bytes doubled once in registers, stored to both.
            if (fh, fw, e) == (2, 2, 1) && oy % 2 == 0 && item + 1 < hi && self.tail.is_none() {
                let next = self.out.row(c, oy + 1);
                let (head, rest) = out.split_at_mut(next.start - base);
                let first = &mut head[o.start - base..o.end - base];
                let second = &mut rest[..next.end - next.start];
                double_twice(x, self.x.row(c, oy / 2), first, second);
                (item, oy) = (item + 2, oy + 2);
                if oy >= h {
                    (c, oy) = (c + 1, oy - h);
                }
                continue;
            }
            // A row equal to the one above, written by this job: copy it.
            if oy % fh != 0 && item > lo {
                let above = self.out.row(c, oy - 1);
                out.copy_within(above.start - base..above.end - base, o.start - base);
            } else {
                let scratch = (ints.as_mut_slice(), requantized.as_mut_slice());
                let dst = &mut out[o.start - base..o.end - base];
                self.nearest_row((fw, e), (c, oy / fh), scratch, x, dst);
            }
            (item, oy) = (item + 1, oy + 1);
            if oy == h {
                (c, oy) = (c + 1, 0);
            }
        }
    }

    /// Output row of input row `(c, iy)`, `fw` times as wide (`scratch`:
    /// the tail's row of values and of results).
    #[inline(always)]
    fn nearest_row(
        &self,
        (fw, e): (usize, usize),
        (c, iy): (usize, usize),
        scratch: (&mut [i32], &mut [u8]),
        x: &[u8],
        dst: &mut [u8],
    ) {
        let mut src = &x[self.x.row(c, iy)];
        if let Some(q) = &self.tail {
            let (ints, requantized) = scratch;
            for (d, &s) in ints.iter_mut().zip(src) {
                *d = if self.x.signed {
                    i32::from(s as i8)
                } else {
                    i32::from(s)
                };
            }
            requant_row(q, c, ints, requantized);
            src = requantized;
        }
        match (fw, e) {
            (1, _) => dst.copy_from_slice(src),
            (2, 1) => double(src, dst),
            (_, 1) => {
                for (d, &s) in dst.chunks_exact_mut(fw).zip(src) {
                    d.fill(s);
                }
            }
            _ => {
                for (d, s) in dst.chunks_exact_mut(fw * e).zip(src.chunks_exact(e)) {
                    for part in d.chunks_exact_mut(e) {
                        part.copy_from_slice(s);
                    }
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(super) fn bilinear<T: Byte>(
        &self,
        rows: &[[(usize, i32); 2]],
        cols: (&[Taps], Option<&[Phase]>),
        lo: usize,
        hi: usize,
        x: &[u8],
        out: &mut [u8],
        base: usize,
    ) {
        let ow = self.out.w;
        let (mut top, mut bottom, mut sum) = (vec![0i32; ow], vec![0i32; ow], vec![0i32; ow]);
        let (cols, phases) = cols;
        // The input row with its edge values repeated once on each side.
        let mut ext = vec![0i32; self.x.w + 2];
        let mut interpolate = |src: &[u8], dst: &mut [i32]| match phases {
            Some(phases) => {
                let w = self.x.w;
                for (e, &s) in ext[1..=w].iter_mut().zip(src) {
                    *e = T::from_byte(s).to_i32();
                }
                ext[0] = ext[1];
                ext[w + 1] = ext[w];
                let f = phases.len();
                if let [(d0, a0, b0), (d1, a1, b1)] = *phases {
                    let (e0, e1) = (&ext[d0..], &ext[d1..]);
                    for (j, o) in dst.chunks_exact_mut(2).enumerate() {
                        o[0] = e0[j] * a0 + e0[j + 1] * b0;
                        o[1] = e1[j] * a1 + e1[j + 1] * b1;
                    }
                } else {
                    for (r, &(d, a, b)) in phases.iter().enumerate() {
                        let e = &ext[d..];
                        for (j, o) in dst.iter_mut().skip(r).step_by(f).enumerate() {
                            *o = e[j] * a + e[j + 1] * b;
                        }
                    }
                }
            }
            None => {
                for (d, t) in dst.iter_mut().zip(cols) {
                    let a = T::from_byte(src[t[0].0]).to_i32();
                    let b = T::from_byte(src[t[1].0]).to_i32();
                    *d = a * t[0].1 + b * t[1].1;
                }
            }
        };
        // The input rows `(c, y)` that `top` and `bottom` hold now:
        // consecutive output rows share their input rows (an upsampling
        // by 2 reads each input row into four output rows), so each is
        // interpolated once per run of rows that read it.
        let (mut has_top, mut has_bottom) = (None, None);
        for item in lo..hi {
            let (c, oy) = (item / self.out.h, item % self.out.h);
            let [(y0, w0), (y1, w1)] = rows[oy];
            if has_top != Some((c, y0)) {
                if has_bottom == Some((c, y0)) {
                    std::mem::swap(&mut top, &mut bottom);
                    std::mem::swap(&mut has_top, &mut has_bottom);
                } else {
                    interpolate(&x[self.x.row(c, y0)], &mut top);
                    has_top = Some((c, y0));
                }
            }
            if w1 == 0 {
                for (s, &t) in sum.iter_mut().zip(&top) {
                    *s = t * w0;
                }
            } else {
                if has_bottom != Some((c, y1)) {
                    interpolate(&x[self.x.row(c, y1)], &mut bottom);
                    has_bottom = Some((c, y1));
                }
                for ((s, &t), &b) in sum.iter_mut().zip(&top).zip(&bottom) {
                    *s = t * w0 + b * w1;
                }
            }
            let o = self.out_row(out, base, c, oy);
            match (&self.tail, self.out.bytes) {
                (Some(q), _) => requant_row(q, c, &sum, o),
                (None, 1) => o.iter_mut().zip(&sum).for_each(|(d, &s)| *d = s as u8),
                (None, 2) => {
                    for (d, &s) in o.chunks_exact_mut(2).zip(&sum) {
                        d.copy_from_slice(&(s as i16).to_le_bytes());
                    }
                }
                (None, _) => {
                    for (d, &s) in o.chunks_exact_mut(4).zip(&sum) {
                        d.copy_from_slice(&s.to_le_bytes());
                    }
                }
            }
        }
    }
}

/// Each byte of `src` twice.
#[inline(always)]
fn double(src: &[u8], dst: &mut [u8]) {
    for (d, &s) in dst.chunks_exact_mut(2).zip(src) {
        d[0] = s;
        d[1] = s;
    }
}

/// Each byte of input row `x[src]` twice, into rows `a` and `b`: 64
/// bytes at a time, doubled in registers and stored to both rows as whole
/// vectors, each byte once; the last part the same from a vector read
/// whole ([`pieces::load_at`]: not assembled from moves, which stalled the
/// load), stored through [`pieces::store`].
#[inline(always)]
fn double_twice(x: &[u8], src: std::ops::Range<usize>, a: &mut [u8], b: &mut [u8]) {
    let n = src.len();
    let mut blocks = x[src.clone()].chunks_exact(VECTOR);
    let mut a_out = a.chunks_exact_mut(2 * VECTOR);
    let mut b_out = b.chunks_exact_mut(2 * VECTOR);
    for ((block, a), b) in blocks.by_ref().zip(a_out.by_ref()).zip(b_out.by_ref()) {
        let mut buf = [0u8; 2 * VECTOR];
        double(block, &mut buf);
        a.copy_from_slice(&buf);
        b.copy_from_slice(&buf);
    }
    let rest = blocks.remainder().len();
    if rest > 0 {
        let v = pieces::load_at(x, src.start + n - rest);
        let mut buf = [0u8; 2 * VECTOR];
        double(&v, &mut buf);
        let (a, b) = (a_out.into_remainder(), b_out.into_remainder());
        let (head, tail) = buf.split_at(VECTOR);
        let (head, tail): (&[u8; VECTOR], &[u8; VECTOR]) = (
            head.try_into().expect("a vector"),
            tail.try_into().expect("a vector"),
        );
        let first = a.len().min(VECTOR);
        put(&mut a[..first], head);
        put(&mut a[first..], tail);
        put(&mut b[..first], head);
        put(&mut b[first..], tail);
    }
}

/// The first `dst.len()` (at most 64) bytes of `v` into `dst`.
#[inline(always)]
fn put(dst: &mut [u8], v: &[u8; VECTOR]) {
    if dst.len() == VECTOR {
        dst.copy_from_slice(v);
    } else {
        pieces::store(dst, v);
    }
}

/// Output column `f j + r` of a bilinear row as phase `r`: `ext[j + d] a +
/// ext[j + d + 1] b`, where `ext` is the input row with its first and last
/// value repeated once before and after it (so `ext[e]` is input
/// `clamp(e - 1)`). Every phase is then a contiguous loop over `j`. The
/// phases are read off an interior column and kept only if every column's
/// taps, per input column, give the same weights as `taps` (the clamped
/// borders too); `None` otherwise.
pub(super) fn column_phases(
    taps: &[[(usize, i32); 2]],
    w: usize,
    f: usize,
) -> Option<Vec<(usize, i32, i32)>> {
    if w < 3 || f < 2 || taps.len() != w * f {
        return None;
    }
    let j = w / 2;
    let phases: Vec<(usize, i32, i32)> = (0..f)
        .map(|r| {
            let [(i0, a), (i1, b)] = taps[f * j + r];
            let ok = i1 == i0 + 1 || b == 0;
            // ext index of tap 0 is i0 + 1, at j: d = i0 + 1 - j.
            (i0 + 1).checked_sub(j).filter(|_| ok).map(|d| (d, a, b))
        })
        .collect::<Option<_>>()?;
    let input = |e: usize| e.saturating_sub(1).min(w - 1);
    for (ox, t) in taps.iter().enumerate() {
        let (j, r) = (ox / f, ox % f);
        let (d, a, b) = phases[r];
        let mut want = [(t[0].0, t[0].1), (t[1].0, t[1].1)];
        let mut got = [(input(j + d), a), (input(j + d + 1), b)];
        if j + d + 1 > w + 1 {
            return None;
        }
        for pairs in [&mut want, &mut got] {
            if pairs[0].0 == pairs[1].0 {
                pairs[0].1 += pairs[1].1;
                pairs[1].1 = 0;
            }
            pairs.sort_unstable();
        }
        let nonzero = |p: &[(usize, i32); 2]| -> Vec<(usize, i32)> {
            p.iter().copied().filter(|&(_, v)| v != 0).collect()
        };
        if nonzero(&want) != nonzero(&got) {
            return None;
        }
    }
    Some(phases)
}
