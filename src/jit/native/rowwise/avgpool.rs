//! Average pooling on the row kernels (`avgpool`, `global_avgpool`; see
//! docs/semantics.md): the checker lowers it to a depthwise convolution by
//! ones (the windows' sums), optionally a product by a constant map `L /
//! count` (windows of different counts) and `Op::DivRound`. One output row
//! is: the window rows summed into a scratch row of `i32` (padding columns
//! zero), the window columns summed from it, the product, and the exact
//! division as the interpreter and Cranelift's code do it (made
//! non-negative by a multiple `K` of `2 d`, one multiply by the invariant
//! reciprocal and a shift, `numeric::Reciprocal`, then the remainder test
//! of the ties to even). Then the stage's tail, if any.

use super::pieces::{self, VECTOR};
use super::{requant_row, Byte, Kind, RowStage, View};
use crate::ir::{Elementwise, NodeId, Op, Program, Shape};
use crate::jit::native::requant::match_tail;
use crate::jit::plan::{Plan, Stage};
use crate::numeric::Reciprocal;

/// The geometry and the division of one average pooling.
#[derive(Clone, Debug)]
pub(in crate::jit::native) struct AvgPool {
    kernel: (usize, usize),
    stride: (usize, usize),
    /// Top and left padding.
    pad: (usize, usize),
    /// `L / count` per output pixel `oy * W + ox`, when the counts differ.
    weights: Option<Vec<i32>>,
    divisor: i64,
    /// The multiple of `2 d` added to every numerator (none is negative then).
    lift: i64,
    m: u64,
    shift: u32,
}

/// The row stage of an average pooling whose sum is core `k`.
pub(in crate::jit::native) fn plan_avgpool(
    program: &Program,
    plan: &Plan,
    stage: &Stage,
    k: NodeId,
) -> Option<RowStage> {
    let Op::Conv { x, w, geom } = &program.nodes[k].op else {
        return None;
    };
    let xd = program.nodes[*x].shape.chw();
    let (kh, kw) = match (&program.nodes[*w].shape, &program.nodes[*w].op) {
        (&Shape::Weights { o, i: 1, kh, kw }, Op::Constant { data })
            if o == xd.c && data.iter().all(|&v| v == 1) && program.nodes[*w].frac == 0 =>
        {
            (kh, kw)
        }
        _ => return None,
    };
    let plain = geom.groups == xd.c
        && (geom.dilation.h, geom.dilation.w) == (1, 1)
        && (geom.output_pad.h, geom.output_pad.w) == (0, 0)
        && geom.stride.h * geom.stride.w > 0;
    if !plain {
        return None;
    }
    let sum = program.nodes[k].shape.chw();
    // The division: the first `DivRound` below the root, down the chain
    // of operations with one operand that is not a constant.
    let mut div = stage.root;
    while !matches!(program.nodes[div].op, Op::DivRound { .. }) {
        let mut operands = program.nodes[div]
            .op
            .operands()
            .into_iter()
            .filter(|&i| !matches!(program.nodes[i].op, Op::Constant { .. }));
        div = match (operands.next(), operands.next()) {
            (Some(i), None) if i != k => i,
            _ => return None,
        };
    }
    let Op::DivRound { x: numerator, .. } = program.nodes[div].op else {
        return None;
    };
    // On the sum, or on its product by the counts' map.
    let weights = if numerator == k {
        None
    } else {
        let map = match program.nodes[numerator].op {
            Op::Binary(Elementwise::Mul, a, b) if a == k => b,
            Op::Binary(Elementwise::Mul, a, b) if b == k => a,
            _ => return None,
        };
        let Op::Constant { data } = &program.nodes[map].op else {
            return None;
        };
        let plane = sum.h * sum.w;
        let same_shape = program.nodes[map].shape.chw() == sum && program.nodes[map].frac == 0;
        if !same_shape || data.len() != sum.c * plane || plane == 0 {
            return None;
        }
        // One map for every channel, in i32.
        let first: Vec<i32> = data[..plane]
            .iter()
            .map(|&v| i32::try_from(v).ok())
            .collect::<Option<_>>()?;
        let same = |ch: &[i128]| ch.iter().zip(&first).all(|(&a, &b)| a == i128::from(b));
        if !data.chunks(plane).all(same) {
            return None;
        }
        Some(first)
    };
    let Op::DivRound { divisor, .. } = program.nodes[div].op else {
        return None;
    };
    let xv = View::of(plan, plan.buffer_of[*x]?);
    let out = View::of(plan, plan.buffer_of[stage.root]?);
    let d = program.nodes[stage.root].shape.chw();
    let fits = |n: NodeId| {
        let r = program.nodes[n].range();
        r.lo >= i128::from(i32::MIN) && r.hi <= i128::from(i32::MAX)
    };
    if xv.bytes != 1
        || d.w == 0
        || xv.buffer == out.buffer
        || d != sum
        || xv.c != d.c
        || out.c != d.c
        || out.h != d.h
        || out.w != d.w
        || !fits(k)
        || !fits(numerator)
        || !fits(div)
    {
        return None;
    }
    let tail = if stage.root == div {
        if !matches!(out.bytes, 1 | 2 | 4) {
            return None;
        }
        None
    } else {
        if out.bytes != 1 {
            return None;
        }
        Some(match_tail(program, stage.root, div, d.c)?)
    };
    // The division's constants, as `expr::div_round` computes them.
    let r = program.nodes[numerator].range();
    let two_d = 2 * i128::from(divisor);
    let lift = if r.lo < 0 {
        (-r.lo + two_d - 1) / two_d * two_d
    } else {
        0
    };
    let top = r.hi.checked_add(lift)?;
    let bits = 128 - (top.max(1) as u128).leading_zeros();
    let rc = Reciprocal::new(divisor, bits)?;
    if bits + 128 - rc.m.leading_zeros() > 64 || lift >= 1 << 40 {
        return None;
    }
    let pool = AvgPool {
        kernel: (kh, kw),
        stride: (geom.stride.h, geom.stride.w),
        pad: (geom.pad.top, geom.pad.left),
        weights,
        divisor: i64::try_from(divisor).ok()?,
        lift: lift as i64,
        m: u64::try_from(rc.m).ok()?,
        shift: rc.shift,
    };
    Some(RowStage::new(Kind::AvgPool(pool), xv, vec![], out, tail))
}

impl RowStage {
    /// Output rows `lo..hi` of an average pooling.
    #[inline(always)]
    pub(super) fn avg_pool<T: Byte>(
        &self,
        p: &AvgPool,
        lo: usize,
        hi: usize,
        x: &[u8],
        out: &mut [u8],
        base: usize,
    ) {
        let ((kh, kw), (sh, sw), (pt, pl)) = (p.kernel, p.stride, p.pad);
        let ow = self.out.w;
        // Scratch row: input column `j - pl` at `j`, zero where that is
        // padding (and past the input's right edge).
        let span = (ow - 1) * sw + kw;
        let mut row = vec![0i32; span];
        let inside = pl.min(span)..(pl + self.x.w).min(span);
        let cols = inside.start - pl..inside.end - pl;
        let mut sums = vec![0i32; ow];
        // One window over the whole plane (`global_avgpool`) of a small
        // plane: its sum at once (larger planes: the column sums below
        // measured faster, 64 x 64 planes 5 against 11 us per 64 channels).
        if (kh, kw) == (self.x.h, self.x.w)
            && (pt, pl) == (0, 0)
            && (self.out.h, ow) == (1, 1)
            && kh * kw <= SMALL_PLANE
        {
            return self.global_avg_pool(p, lo..hi, x, out, base);
        }
        for item in lo..hi {
            let (c, oy) = (item / self.out.h, item % self.out.h);
            let y0 = (oy * sh).saturating_sub(pt).min(self.x.h);
            let y1 = (oy * sh + kh).saturating_sub(pt).min(self.x.h);
            row.fill(0);
            self.column_sums::<T>(c, y0..y1, cols.clone(), x, &mut row[inside.clone()]);
            if sw == 1 {
                sums.copy_from_slice(&row[..ow]);
                for kx in 1..kw {
                    for (s, &v) in sums.iter_mut().zip(&row[kx..kx + ow]) {
                        *s += v;
                    }
                }
            } else if (kw, sw) == (2, 2) {
                for (s, pair) in sums.iter_mut().zip(row.chunks_exact(2)) {
                    *s = pair[0] + pair[1];
                }
            } else if kw >= 16 {
                // Wide windows: each a contiguous sum.
                for (ox, s) in sums.iter_mut().enumerate() {
                    *s = row[ox * sw..ox * sw + kw].iter().sum();
                }
            } else {
                sums.fill(0);
                for kx in 0..kw {
                    for (s, &v) in sums.iter_mut().zip(row[kx..].iter().step_by(sw)) {
                        *s += v;
                    }
                }
            }
            if let Some(w) = &p.weights {
                for (s, &f) in sums.iter_mut().zip(&w[oy * ow..(oy + 1) * ow]) {
                    *s *= f;
                }
            }
            divide(p, &mut sums);
            self.store_sums(c, oy, &sums, out, base);
        }
    }

    /// Items `items` of a global average pooling (one output per channel):
    /// the sums of up to 64 planes, then their divisions (one vectorized
    /// loop), then the stores; a plane's sum, division and store in a row
    /// made one chain of latencies per channel.
    #[inline(always)]
    fn global_avg_pool(
        &self,
        p: &AvgPool,
        items: std::ops::Range<usize>,
        x: &[u8],
        out: &mut [u8],
        base: usize,
    ) {
        let mut sums = [0i32; 64];
        let mut c = items.start;
        while c < items.end {
            let n = (items.end - c).min(sums.len());
            let sums = &mut sums[..n];
            for (i, s) in sums.iter_mut().enumerate() {
                *s = self.plane_sum(c + i, x);
            }
            if let Some(w) = &p.weights {
                for s in sums.iter_mut() {
                    *s *= w[0];
                }
            }
            divide(p, sums);
            for (i, s) in sums.iter().enumerate() {
                self.store_sums(c + i, 0, std::slice::from_ref(s), out, base);
            }
            c += n;
        }
    }

    /// Output row `(c, y)` from its values `sums`: through the tail, or
    /// stored in the output's element size.
    #[inline(always)]
    fn store_sums(&self, c: usize, y: usize, sums: &[i32], out: &mut [u8], base: usize) {
        let o = self.out_row(out, base, c, y);
        match (&self.tail, self.out.bytes) {
            (Some(q), _) => requant_row(q, c, sums, o),
            (None, 1) => o.iter_mut().zip(sums).for_each(|(d, &s)| *d = s as u8),
            (None, 2) => {
                for (d, &s) in o.chunks_exact_mut(2).zip(sums) {
                    d.copy_from_slice(&(s as i16).to_le_bytes());
                }
            }
            (None, _) => {
                for (d, &s) in o.chunks_exact_mut(4).zip(sums) {
                    d.copy_from_slice(&s.to_le_bytes());
                }
            }
        }
    }

    /// The sum of the values of plane `c`: as one run of bytes when its
    /// rows follow each other (no halo), else row by row; in 64-byte
    /// vectors, each summed as unsigned keys (the byte, or for signed
    /// values the byte `^ 0x80`, the value plus 128), so that short planes
    /// take whole vectors too (not a scalar remainder loop).
    #[inline(always)]
    fn plane_sum(&self, c: usize, x: &[u8]) -> i32 {
        let v = &self.x;
        let bias = if v.signed { 0x80 } else { 0 };
        let start = v.row(c, 0).start;
        let mut total = 0u64;
        if v.stride == v.w {
            total += run_sum(x, start, v.h * v.w, bias);
        } else {
            for y in 0..v.h {
                total += run_sum(x, start + y * v.stride, v.w, bias);
            }
        }
        let offset = u64::from(bias) * (v.h * v.w) as u64;
        (total as i64 - offset as i64) as i32
    }

    /// `acc[j] += sum of x[c][iy][cols.start + j]` over rows `ys`: blocks
    /// of 64 columns summed over up to 256 rows in 16-bit lanes held in
    /// registers (a byte times 256 rows fits: `[-32768, 32512]` signed,
    /// `[0, 65280]` unsigned, so the wrapping sums are exact), then added
    /// to the `i32` row. Full blocks have a fixed length, so that the
    /// lanes stay in registers (a block of variable length kept them on
    /// the stack: a store and a load per row); the last, shorter block
    /// takes the general loop.
    #[inline(always)]
    fn column_sums<T: Byte>(
        &self,
        c: usize,
        ys: std::ops::Range<usize>,
        cols: std::ops::Range<usize>,
        x: &[u8],
        acc: &mut [i32],
    ) {
        let signed = self.x.signed;
        let mut y = ys.start;
        while y < ys.end {
            let end = (y + 256).min(ys.end);
            let mut blocks = acc.chunks_exact_mut(BLOCK);
            let mut from = cols.start;
            for out in &mut blocks {
                let mut lanes = [0u16; BLOCK];
                for iy in y..end {
                    let row = &x[self.x.row(c, iy)][from..from + BLOCK];
                    let row: &[u8; BLOCK] = row.try_into().expect("a block of 64 bytes");
                    add_lanes::<T>(&mut lanes, row);
                }
                widen_into(signed, &lanes, out);
                from += BLOCK;
            }
            let out = blocks.into_remainder();
            if !out.is_empty() {
                let mut lanes = [0u16; BLOCK];
                for iy in y..end {
                    let row = &x[self.x.row(c, iy)][from..from + out.len()];
                    add_lanes::<T>(&mut lanes[..out.len()], row);
                }
                widen_into(signed, &lanes[..out.len()], out);
            }
            y = end;
        }
    }
}

/// Columns per block of 16-bit partial sums (two 512-bit registers).
const BLOCK: usize = VECTOR;

/// `lanes[j] += x[j]` as 16-bit wrapping sums of the bytes' values.
#[inline(always)]
fn add_lanes<T: Byte>(lanes: &mut [u16], row: &[u8]) {
    for (l, &v) in lanes.iter_mut().zip(row) {
        *l = l.wrapping_add(T::from_byte(v).to_i32() as u16);
    }
}

/// `out[j] += lanes[j]`, the 16-bit sums read as signed or unsigned.
#[inline(always)]
fn widen_into(signed: bool, lanes: &[u16], out: &mut [i32]) {
    for (o, &l) in out.iter_mut().zip(lanes) {
        *o += if signed {
            i32::from(l as i16)
        } else {
            i32::from(l)
        };
    }
}

/// `div_round_even(s, d)` of each sum, exactly (see `expr::div_round`).
#[inline(always)]
fn divide(p: &AvgPool, sums: &mut [i32]) {
    // `lift / d` once here: a division left in the loop would keep the
    // compiler from vectorizing it.
    let (d, lift, lifted) = (p.divisor, p.lift, p.lift / p.divisor.max(1));
    let (m, shift) = (p.m, p.shift);
    for s in sums.iter_mut() {
        let n = i64::from(*s) + lift;
        let q = ((n as u64).wrapping_mul(m) >> shift) as i64;
        let r = n - q * d;
        let up = i64::from(2 * r + (q & 1) > d);
        *s = (q + up - lifted) as i32;
    }
}

/// Byte `i` is `i`: lane numbers, to mask the lanes of a vector from one on.
const LANES: [u8; VECTOR] = {
    let mut l = [0u8; VECTOR];
    let mut i = 0;
    while i < VECTOR {
        l[i] = i as u8;
        i += 1;
    }
    l
};

/// The largest plane `global_avgpool` sums at once (`global_avg_pool`).
const SMALL_PLANE: usize = 1024;

/// The sum of the keys (`byte ^ bias`) of `x[from..from + n]`.
#[inline(always)]
fn run_sum(x: &[u8], from: usize, n: usize, bias: u8) -> u64 {
    let mut total = 0u64;
    let mut j = 0;
    while j + VECTOR <= n {
        let v: &[u8; VECTOR] = x[from + j..from + j + VECTOR].try_into().expect("a vector");
        total += u64::from(key_sum(v, bias, VECTOR));
        j += VECTOR;
    }
    if j < n {
        total += u64::from(key_sum(&pieces::load_at(x, from + j), bias, n - j));
    }
    total
}

/// The sum of the keys of the first `m` bytes of `v`.
#[inline(always)]
fn key_sum(v: &[u8; VECTOR], bias: u8, m: usize) -> u32 {
    let m = m as u8;
    // The keys first, then one sum of their zero extensions: the form
    // LLVM turns into `vpsadbw` (a select inside the sum it widened to
    // 32-bit lanes, 1.5x slower on 7x7 planes).
    let keys: [u8; VECTOR] = std::array::from_fn(|i| if LANES[i] < m { v[i] ^ bias } else { 0 });
    keys.iter().map(|&k| u32::from(k)).sum()
}
