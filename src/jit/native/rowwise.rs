//! Row kernels for the stages that move and compare values rather than
//! multiply them: max-pooling, nearest and bilinear upsampling, each with an
//! optional requantization tail ([`Requant`]), and rearrangements without
//! one (`remap.rs`).
//!
//! The kernels are safe Rust over byte slices, written so that the compiler
//! vectorizes their inner loops (contiguous rows, no bounds test per
//! element: the window rows inside the input are computed once per output
//! row, and the padding columns are filled once into a scratch row).
//! `machine::rows` compiles them three times, for AVX-512 BW, AVX2 and the
//! baseline, and picks one at run time; it also hands each job the slice of
//! output rows it alone writes. A kernel bug can only give wrong values or a
//! panic (caught by the pool, `ExecError::Panicked`), never touch memory
//! outside the workspace.
//!
//! One work item is one output row `(c, y)`, in channel-major order, so the
//! threads split rows of every channel.

use super::elementwise::{concat_rows, map_rows, plan_concat, plan_elementwise};
use super::requant::{match_tail, Requant};
pub(super) use super::row_tail::requant_row;
use super::row_tail::Byte;
use super::unpool::{plan_unpool, unpool_planes};

mod avgpool;
mod maxpool;
mod pieces;
mod remap;
mod resample;
use crate::ir::{Elementwise, Op, Program, Remap, Resample};
use crate::jit::plan::{Plan, Stage};
use crate::jit::Isa;
use crate::numeric::bilinear_taps;
use resample::column_phases;

/// Two taps of one output position: (input index, weight).
type Taps = [(usize, i32); 2];
/// A bilinear column phase: (offset in the extended row, two weights).
type Phase = (usize, i32, i32);

/// Where a buffer's rows are, in elements of `bytes` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct View {
    pub buffer: usize,
    pub(super) bytes: usize,
    pub(super) signed: bool,
    pub(super) origin: usize,
    pub(super) stride: usize,
    pub(super) plane: usize,
    /// Interior `[C, H, W]`.
    pub(super) c: usize,
    pub(super) h: usize,
    pub(super) w: usize,
}

impl View {
    pub(super) fn of(plan: &Plan, b: usize) -> View {
        let buf = &plan.buffers[b];
        View {
            buffer: b,
            bytes: buf.elem.bytes,
            signed: buf.elem.signed,
            origin: buf.offset(0, 0, 0),
            stride: buf.stride(),
            plane: buf.rows() * buf.stride(),
            c: buf.dims.c,
            h: buf.dims.h,
            w: buf.dims.w,
        }
    }

    /// Byte range of interior row `(c, y)`.
    pub(super) fn row(&self, c: usize, y: usize) -> std::ops::Range<usize> {
        let at = (self.origin + c * self.plane + y * self.stride) * self.bytes;
        at..at + self.w * self.bytes
    }
}

/// A one-byte buffer's interior rows, in bytes, for the kernels that
/// `machine::rows` writes with intrinsics ([`Special`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grid {
    pub origin: usize,
    pub stride: usize,
    pub plane: usize,
    pub h: usize,
    pub w: usize,
}

impl Grid {
    /// The first byte of interior row `(c, y)`.
    pub fn row(&self, c: usize, y: usize) -> usize {
        self.origin + c * self.plane + y * self.stride
    }

    /// Whether the rows of a plane are back to back (no side halo).
    pub fn dense(&self) -> bool {
        self.stride == self.w
    }
}

/// Row stages that `machine::rows` runs with kernels of its own (explicit
/// vectors: byte shuffles the compiler did not find), on one-byte values
/// without a tail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Special {
    /// Max pooling. The kernels take windows two columns apart, windows
    /// one column apart and at most 64 wide, and any windows on rows
    /// narrower than a vector (`machine::rows_narrow`); any vertical
    /// stride, any padding.
    MaxPool {
        signed: bool,
        kernel: (usize, usize),
        stride: (usize, usize),
        pad: (usize, usize),
        x: Grid,
        out: Grid,
    },
    /// Nearest upsampling by `(fh, fw)`. The kernels take `fw = 2`, and
    /// any factors on rows narrower than a vector.
    Nearest {
        factor: (usize, usize),
        x: Grid,
        out: Grid,
    },
    /// Constant padding (`top` rows above the input, `left` columns before
    /// it, the rest after) of a map whose rows are back to back into
    /// another such map: the kernel (AVX-512 VBMI2) writes each output
    /// plane as one run of bytes.
    Pad {
        top: usize,
        left: usize,
        value: u8,
        x: Grid,
        out: Grid,
    },
}

/// The parts of the row kernels that `machine::rows` compiles as functions
/// of their own (see [`RowStage::part`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowPart {
    Remap,
    MaxPool,
    AvgPool,
    Nearest,
    Rest,
}

/// What a row stage computes.
#[derive(Clone, Debug)]
pub(super) enum Kind {
    /// Window maxima; padding never wins (it is the type's minimum here).
    MaxPool {
        kernel: (usize, usize),
        stride: (usize, usize),
        pad: (usize, usize),
    },
    /// The flat position `iy * W + ix` of each window's first maximum.
    MaxPoolIndices {
        kernel: (usize, usize),
        stride: (usize, usize),
        pad: (usize, usize),
    },
    /// Channels of every input after each other, each aligned by `shifts`.
    Concat { shifts: Vec<u32> },
    /// `maxunpool`: values scattered to their indices (the second input),
    /// aligned by `shift`; one item is one plane.
    Unpool { shift: u32 },
    /// Only the tail, on the values of one buffer.
    Map,
    /// `x op other`, then the tail.
    Binary(Elementwise),
    /// `out[y][x] = in[y / fh][x / fw]`.
    Nearest { factor: (usize, usize) },
    /// A rearrangement (`ir::Remap`), no tail: rows copied.
    Remap { remap: Remap },
    /// Window sums, the counts' map and the exact rounded division
    /// (`avgpool.rs`).
    AvgPool(avgpool::AvgPool),
    /// Two taps per axis (`numeric::bilinear_taps`), weights as `i32`.
    Bilinear {
        rows: Vec<[(usize, i32); 2]>,
        cols: Vec<[(usize, i32); 2]>,
        /// The columns as `factor` phases (see [`column_phases`]), when
        /// they are exactly the taps of `cols`.
        phases: Option<Vec<(usize, i32, i32)>>,
    },
}

/// One stage run by the row kernels.
#[derive(Clone, Debug)]
pub(crate) struct RowStage {
    pub(super) kind: Kind,
    x: View,
    /// The other inputs: the rest of a concatenation, the second operand.
    others: Vec<View>,
    out: View,
    /// The elementwise chain above the core, if any (one-byte output).
    tail: Option<Requant>,
    /// The tail on 16-bit lanes, when byte inputs allow it (`Map` and
    /// `Binary` stages; see `lanes16`).
    pub(super) lanes16: Option<super::lanes16::Lanes16>,
    /// The widest vectors its compiled copy may use (`JitOptions::isa`:
    /// `Avx2` as on a CPU without AVX-512; `Auto` and `Avx512` the host's).
    isa: Isa,
}

/// The row stage for `stage`, if a row kernel computes it exactly, run with
/// the vectors `isa` allows.
pub(crate) fn plan_rows(
    program: &Program,
    plan: &Plan,
    stage: &Stage,
    isa: Isa,
) -> Option<RowStage> {
    let mut rs = plan_row_kernel(program, plan, stage)?;
    rs.isa = isa;
    Some(rs)
}

fn plan_row_kernel(program: &Program, plan: &Plan, stage: &Stage) -> Option<RowStage> {
    let Some(k) = stage.core else {
        if let Op::MaxUnpool { .. } = program.nodes[stage.root].op {
            return plan_unpool(program, plan, stage);
        }
        return plan_elementwise(program, plan, stage);
    };
    if let Op::Concat(xs) = &program.nodes[k].op {
        return plan_concat(program, plan, stage, k, xs);
    }
    if let Op::Remap { .. } = &program.nodes[k].op {
        return remap::plan_remap(program, plan, stage, k);
    }
    if let Op::Conv { .. } = &program.nodes[k].op {
        return avgpool::plan_avgpool(program, plan, stage, k);
    }
    let node = &program.nodes[k];
    let (x, kind) = match &node.op {
        Op::MaxPool { x, geom } => (
            *x,
            Kind::MaxPool {
                kernel: (geom.kernel.h, geom.kernel.w),
                stride: (geom.stride.h, geom.stride.w),
                pad: (geom.pad.top, geom.pad.left),
            },
        ),
        Op::MaxPoolIndices { x, geom } => (
            *x,
            Kind::MaxPoolIndices {
                kernel: (geom.kernel.h, geom.kernel.w),
                stride: (geom.stride.h, geom.stride.w),
                pad: (geom.pad.top, geom.pad.left),
            },
        ),
        Op::Upsample {
            x,
            factor,
            mode: Resample::Nearest,
        } => (
            *x,
            Kind::Nearest {
                factor: (factor.h, factor.w),
            },
        ),
        Op::Upsample {
            x,
            factor,
            mode: Resample::Bilinear,
        } => {
            let xd = program.nodes[*x].shape.chw();
            let taps = |size: usize, f: usize| -> Option<Vec<[(usize, i32); 2]>> {
                let (taps, _) = bilinear_taps(size, f)?;
                taps.into_iter()
                    .map(|t| {
                        Some([
                            (t[0].0, i32::try_from(t[0].1).ok()?),
                            (t[1].0, i32::try_from(t[1].1).ok()?),
                        ])
                    })
                    .collect()
            };
            (
                *x,
                Kind::Bilinear {
                    rows: taps(xd.h, factor.h)?,
                    phases: column_phases(&taps(xd.w, factor.w)?, xd.w, factor.w),
                    cols: taps(xd.w, factor.w)?,
                },
            )
        }
        _ => return None,
    };
    let x = View::of(plan, plan.buffer_of[x]?);
    let others = vec![];
    let out = View::of(plan, plan.buffer_of[stage.root]?);
    let d = program.nodes[stage.root].shape.chw();
    if out.c != d.c || out.h != d.h || out.w != d.w || x.c != d.c || x.buffer == out.buffer {
        return None;
    }
    let core_range = node.range();
    let tail = if stage.root == k {
        None
    } else {
        Some(match_tail(program, stage.root, k, d.c)?)
    };
    let fits_i32 = core_range.lo >= i128::from(i32::MIN) && core_range.hi <= i128::from(i32::MAX);
    let ok = match &kind {
        Kind::MaxPool {
            kernel,
            stride,
            pad,
        }
        | Kind::MaxPoolIndices {
            kernel,
            stride,
            pad,
        } => {
            // Every window holds an input pixel (the interpreter reports an
            // empty one as an error; such programs stay on Cranelift).
            let nonempty = |o: usize, n: usize, k: usize, s: usize, p: usize| {
                (0..o).all(|i| i * s + k > p && i * s < p + n)
            };
            x.bytes == 1
                && kernel.0 * kernel.1 > 0
                && stride.0 * stride.1 > 0
                && nonempty(d.h, x.h, kernel.0, stride.0, pad.0)
                && nonempty(d.w, x.w, kernel.1, stride.1, pad.1)
        }
        Kind::Nearest { factor } => {
            d.h == x.h * factor.0 && d.w == x.w * factor.1 && (tail.is_none() || x.bytes == 1)
        }
        Kind::Bilinear { rows, cols, .. } => x.bytes == 1 && rows.len() == d.h && cols.len() == d.w,
        _ => false,
    };
    let store_ok = match (&tail, &kind) {
        (Some(_), Kind::MaxPoolIndices { .. }) => false,
        (None, Kind::MaxPoolIndices { .. }) => {
            matches!(out.bytes, 1 | 2 | 4) && (x.h * x.w) as u64 <= i32::MAX as u64
        }
        (Some(_), _) => out.bytes == 1 && fits_i32,
        (None, Kind::Bilinear { .. }) => fits_i32 && matches!(out.bytes, 1 | 2 | 4),
        (None, _) => out.bytes == x.bytes && out.signed == x.signed,
    };
    (ok && store_ok).then(|| RowStage::new(kind, x, others, out, tail))
}

impl RowStage {
    pub(super) fn new(
        kind: Kind,
        x: View,
        others: Vec<View>,
        out: View,
        tail: Option<Requant>,
    ) -> RowStage {
        RowStage {
            kind,
            x,
            others,
            out,
            tail,
            lanes16: None,
            isa: Isa::Auto,
        }
    }

    /// The widest vectors the stage may use (see the field).
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Work items: output rows of every channel, or whole planes
    /// ([`Self::rows_per_item`]).
    pub fn items(&self) -> usize {
        self.out.c * self.out.h / self.rows_per_item()
    }

    /// Output rows per work item: 1, or a plane for a scatter.
    pub fn rows_per_item(&self) -> usize {
        match self.kind {
            Kind::Unpool { .. } => self.out.h.max(1),
            _ => 1,
        }
    }

    /// The buffers the stage reads, and the one it writes.
    pub fn buffers(&self) -> (Vec<usize>, usize) {
        let mut inputs = vec![self.x.buffer];
        inputs.extend(self.others.iter().map(|v| v.buffer));
        (inputs, self.out.buffer)
    }

    /// The kernel of its own `machine::rows` runs this stage with, if any
    /// (see [`Special`]).
    pub fn special(&self) -> Option<Special> {
        if self.tail.is_some() || self.x.bytes != 1 || self.out.bytes != 1 {
            return None;
        }
        let grid = |v: &View| Grid {
            origin: v.origin,
            stride: v.stride,
            plane: v.plane,
            h: v.h,
            w: v.w,
        };
        let (x, out) = (grid(&self.x), grid(&self.out));
        match self.kind {
            Kind::MaxPool {
                kernel,
                stride,
                pad,
            } => Some(Special::MaxPool {
                signed: self.x.signed,
                kernel,
                stride,
                pad,
                x,
                out,
            }),
            Kind::Nearest { factor } => Some(Special::Nearest { factor, x, out }),
            Kind::Remap {
                remap: Remap::Pad { pads, value },
            } if x.dense() && out.dense() => Some(Special::Pad {
                top: pads.top,
                left: pads.left,
                // The low byte: the value's two's complement in a byte.
                value: value.to_le_bytes()[0],
                x,
                out,
            }),
            _ => None,
        }
    }

    /// Which part of the row kernels runs this stage (`machine::rows`
    /// compiles each part as a function of its own).
    pub fn part(&self) -> RowPart {
        match self.kind {
            Kind::Remap { .. } => RowPart::Remap,
            Kind::MaxPool { .. } => RowPart::MaxPool,
            Kind::AvgPool(_) => RowPart::AvgPool,
            Kind::Nearest { .. } => RowPart::Nearest,
            _ => RowPart::Rest,
        }
    }

    /// Runs items `lo..hi` of a stage of `part` (nothing for another
    /// stage): reads `xs` (the whole input buffers, in the order of
    /// [`Self::buffers`]), writes the interior rows of the items into `out`,
    /// the part of the output buffer from byte `base` on. Returns -1 (the
    /// stage's codes: no failure).
    #[inline(always)]
    pub fn run_part(
        &self,
        part: RowPart,
        lo: usize,
        hi: usize,
        xs: &[&[u8]],
        out: &mut [u8],
        base: usize,
    ) -> i64 {
        match (part, &self.kind, xs.first()) {
            (RowPart::Remap, Kind::Remap { remap }, Some(x)) => {
                self.remap_rows(remap, lo, hi, x, out, base);
            }
            (RowPart::MaxPool, Kind::MaxPool { .. }, Some(x)) if self.x.signed => {
                self.max_pool::<i8>(lo, hi, x, out, base);
            }
            (RowPart::MaxPool, Kind::MaxPool { .. }, Some(x)) => {
                self.max_pool::<u8>(lo, hi, x, out, base);
            }
            (RowPart::AvgPool, Kind::AvgPool(p), Some(x)) if self.x.signed => {
                self.avg_pool::<i8>(p, lo, hi, x, out, base);
            }
            (RowPart::AvgPool, Kind::AvgPool(p), Some(x)) => {
                self.avg_pool::<u8>(p, lo, hi, x, out, base);
            }
            (RowPart::Nearest, Kind::Nearest { factor }, Some(x)) => {
                self.nearest(*factor, lo, hi, x, out, base);
            }
            (RowPart::Rest, ..) => return self.run_rest(lo, hi, xs, out, base),
            _ => {}
        }
        -1
    }

    /// [`Self::run_part`] for the stages of [`RowPart::Rest`].
    #[inline(always)]
    fn run_rest(&self, lo: usize, hi: usize, xs: &[&[u8]], out: &mut [u8], base: usize) -> i64 {
        let x = xs[0];
        match &self.kind {
            Kind::MaxPool { .. } | Kind::Remap { .. } | Kind::AvgPool(_) | Kind::Nearest { .. } => {
            }
            Kind::MaxPoolIndices { .. } if self.x.signed => {
                self.max_pool_indices::<i8>(lo, hi, x, out, base)
            }
            Kind::MaxPoolIndices { .. } => self.max_pool_indices::<u8>(lo, hi, x, out, base),
            Kind::Bilinear { rows, cols, phases } if self.x.signed => {
                let cols = (cols.as_slice(), phases.as_deref());
                self.bilinear::<i8>(rows, cols, lo, hi, x, out, base)
            }
            Kind::Bilinear { rows, cols, phases } => {
                let cols = (cols.as_slice(), phases.as_deref());
                self.bilinear::<u8>(rows, cols, lo, hi, x, out, base)
            }
            Kind::Concat { shifts } => {
                let views: Vec<View> = std::iter::once(self.x)
                    .chain(self.others.iter().copied())
                    .collect();
                concat_rows(
                    &views,
                    shifts,
                    &self.out,
                    self.tail.as_ref(),
                    lo,
                    hi,
                    xs,
                    out,
                    base,
                )
            }
            Kind::Unpool { shift } => {
                let idx = &self.others[0];
                return unpool_planes(&self.x, idx, &self.out, *shift, lo, hi, xs, out, base);
            }
            Kind::Map => map_rows(
                &self.x,
                None,
                &self.out,
                (self.tail.as_ref(), self.lanes16.as_ref()),
                lo,
                hi,
                xs,
                out,
                base,
            ),
            Kind::Binary(op) => {
                let second = self.others.first().map(|v| (*v, *op));
                map_rows(
                    &self.x,
                    second,
                    &self.out,
                    (self.tail.as_ref(), self.lanes16.as_ref()),
                    lo,
                    hi,
                    xs,
                    out,
                    base,
                )
            }
        }
        -1
    }

    fn out_row<'a>(&self, out: &'a mut [u8], base: usize, c: usize, y: usize) -> &'a mut [u8] {
        let r = self.out.row(c, y);
        &mut out[r.start - base..r.end - base]
    }

    /// Per window row and tap column, a compare and two selects per output
    /// (strictly greater: the first maximum in raster order wins; padding
    /// is `i32::MIN` in the scratch row and so never wins over a value).
    #[inline(always)]
    fn max_pool_indices<T: Byte>(
        &self,
        lo: usize,
        hi: usize,
        x: &[u8],
        out: &mut [u8],
        base: usize,
    ) {
        let Kind::MaxPoolIndices {
            kernel: (kh, kw),
            stride: (sh, sw),
            pad: (pt, pl),
        } = self.kind
        else {
            return;
        };
        let ow = self.out.w;
        let span = (ow - 1) * sw + kw;
        let mut row = vec![i32::MIN; span];
        let inside = pl.min(span)..(pl + self.x.w).min(span);
        let cols = inside.start - pl..inside.end - pl;
        let (mut best, mut at) = (vec![0i32; ow], vec![0i32; ow]);
        for item in lo..hi {
            let (c, oy) = (item / self.out.h, item % self.out.h);
            let y0 = (oy * sh).saturating_sub(pt);
            let y1 = (oy * sh + kh).saturating_sub(pt).min(self.x.h);
            best.fill(i32::MIN);
            at.fill(0);
            for iy in y0..y1 {
                let src = &x[self.x.row(c, iy)][cols.clone()];
                for (d, &s) in row[inside.clone()].iter_mut().zip(src) {
                    *d = T::from_byte(s).to_i32();
                }
                // Position of scratch column 0 in the input plane.
                let origin = (iy * self.x.w) as i32 - pl as i32;
                if (kw, sw) == (2, 2) {
                    // Both taps of a window in one pass, in raster order.
                    let pairs = row.chunks_exact(2);
                    for (ox, ((b, a), p)) in
                        best.iter_mut().zip(at.iter_mut()).zip(pairs).enumerate()
                    {
                        let here = origin + 2 * ox as i32;
                        let first = p[0] > *b;
                        let m = if first { p[0] } else { *b };
                        let i = if first { here } else { *a };
                        let second = p[1] > m;
                        *b = if second { p[1] } else { m };
                        *a = if second { here + 1 } else { i };
                    }
                    continue;
                }
                for kx in 0..kw {
                    let step = sw as i32;
                    let taps = row[kx..].iter().step_by(sw);
                    for (ox, ((b, a), &v)) in
                        best.iter_mut().zip(at.iter_mut()).zip(taps).enumerate()
                    {
                        let here = origin + kx as i32 + ox as i32 * step;
                        let wins = v > *b;
                        *b = if wins { v } else { *b };
                        *a = if wins { here } else { *a };
                    }
                }
            }
            let o = self.out_row(out, base, c, oy);
            match self.out.bytes {
                1 => o.iter_mut().zip(&at).for_each(|(d, &s)| *d = s as u8),
                2 => {
                    for (d, &s) in o.chunks_exact_mut(2).zip(&at) {
                        d.copy_from_slice(&(s as i16).to_le_bytes());
                    }
                }
                _ => {
                    for (d, &s) in o.chunks_exact_mut(4).zip(&at) {
                        d.copy_from_slice(&s.to_le_bytes());
                    }
                }
            }
        }
    }
}
