//! Every `unsafe` of the JIT lives here: turning finalized code into function
//! pointers, calling them and the precompiled AVX-512 kernels (`avx512`),
//! sending calls to worker threads, and freeing the code memory.
//!
//! Invariants that make the calls sound:
//! - a stage function only touches the buffers of the [`Plan`] it was
//!   generated from, at offsets inside each buffer's planned size (halos
//!   included), and only rows / channels `lo..hi` of its own output;
//! - [`Machine::call`] runs a stage only on a [`Workspace`] made for the same
//!   pipeline (same plan id), whose buffers all have their planned sizes, and
//!   only with `lo <= hi <= items`;
//! - the code memory lives as long as the `Machine`, which is dropped only
//!   after every call returned (calls borrow it).

mod avx512;
mod conv_amx;
mod conv_avx2;
mod conv_avx512;
mod conv_lanes;
mod depthwise_avx2;
mod depthwise_avx512;
mod depthwise_gather;
mod depthwise_packed;
mod depthwise_planes;
mod depthwise_words_avx2;
mod dot256;
mod fused;
mod peak;
mod phase_scatter;
mod pointwise16;
mod pointwise16_avx2;
mod pointwise_avx2;
mod pointwise_avx512;
mod repack_avx2;
mod repack_avx512;
#[cfg(target_arch = "x86_64")]
mod row_copy;
mod rows;
#[cfg(target_arch = "x86_64")]
mod rows_avx2;
#[cfg(target_arch = "x86_64")]
mod rows_avx512;
#[cfg(target_arch = "x86_64")]
mod rows_narrow;
#[cfg(target_arch = "x86_64")]
mod rows_narrow_avx2;
#[cfg(target_arch = "x86_64")]
mod rows_pad;
mod tail_avx2;
mod tail_avx512;
mod words;

pub(crate) use conv_amx::available as amx_available;
pub(crate) use peak::vpdpbusd_peak;
pub(crate) use words::Words;

/// Whether the AVX2 kernels compute native stage `stage` (planned for
/// AVX-512): every pointwise stage, the depthwise ones whose windows fit
/// their lanes or take adjacent byte pairs.
pub(crate) fn avx2_fits(stage: &NativeStage) -> bool {
    match stage.kind() {
        super::native::Kind::Pointwise { .. } => true,
        super::native::Kind::Depthwise { .. } => depthwise_avx2::fits(stage),
        _ => false,
    }
}

use cranelift_jit::JITModule;
use cranelift_module::FuncId;

use super::native::{BandPair, NativeStage, RowStage};
use super::plan::Plan;
use super::JitError;

/// `extern "C" fn(buffers, lo, hi) -> -1 or a bad unpool position`.
/// `unsafe`: the code trusts its arguments (see the module invariants).
type StageFn = unsafe extern "C" fn(*const *mut u8, i64, i64) -> i64;

/// What runs a stage: Cranelift code, or a precompiled kernel.
pub(crate) enum StageCode {
    Jit(FuncId),
    Native(Box<NativeStage>),
    Rows(Box<RowStage>),
}

/// A stage ready to call.
enum Callable {
    Jit(StageFn),
    Native(Box<NativeStage>),
    Rows(Box<RowStage>),
    #[cfg(test)]
    Test(fn() -> i64),
}

/// Owns the JIT code of one pipeline.
pub(crate) struct Machine {
    /// Behind a mutex only to make the pipeline `Sync`; never locked while
    /// code runs.
    module: std::sync::Mutex<Option<JITModule>>,
    funcs: Vec<Callable>,
    items: Vec<usize>,
    id: u64,
    /// Per stage: the depthwise -> pointwise pair it runs band by band
    /// with the stage before it (a pointwise stage), if fused
    /// ([`Machine::fuse`]); that stage then runs nothing itself.
    pairs: Vec<Option<Box<BandPair>>>,
}

/// 64 bytes aligned to 64: a buffer made of them starts on a cache line, so
/// the kernels' 64-byte loads and stores of rows without side halos do not
/// split lines (the allocator's large blocks start 16 bytes into a page).
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub(crate) struct Line([u8; Line::BYTES]);

impl Line {
    const BYTES: usize = 64;
    const ZERO: Line = Line([0; Line::BYTES]);
}

/// Buffers of one image: one zeroed allocation per planned buffer, but for
/// views (`Buffer::view`), which are bytes of another buffer's allocation.
pub struct Workspace {
    pub(crate) id: u64,
    /// Storage in whole cache lines: every element naturally aligned, and
    /// each buffer starts on a line (see [`Line`]). Empty for views.
    pub(crate) data: Vec<Vec<Line>>,
    pub(crate) sizes: Vec<usize>,
    /// Per buffer: `(owner, byte offset)` when it is a view of `owner`
    /// (never itself a view), from the plan.
    pub(crate) views: Vec<Option<(usize, usize)>>,
    ptrs: Vec<*mut u8>,
}

// SAFETY: the raw pointers in `ptrs` point into `data`, which the workspace
// owns; moving the workspace to another thread moves that ownership along.
unsafe impl Send for Workspace {}

impl Workspace {
    /// Spare bytes after each buffer, so vector loads may run past the end.
    pub(crate) const SPARE: usize = 128;

    pub(crate) fn new(id: u64, plan: &Plan) -> Workspace {
        let sizes: Vec<usize> = plan.buffers.iter().map(|b| b.bytes()).collect();
        let views: Vec<Option<(usize, usize)>> = plan.buffers.iter().map(|b| b.view).collect();
        let data: Vec<Vec<Line>> = sizes
            .iter()
            .zip(&views)
            .map(|(&s, v)| match v {
                Some(_) => vec![],
                None => vec![Line([0; Line::BYTES]); (s + Self::SPARE).div_ceil(Line::BYTES)],
            })
            .collect();
        let mut ws = Workspace {
            id,
            data,
            sizes,
            views,
            ptrs: vec![],
        };
        ws.point_at_storage();
        ws
    }

    /// Whether the views are inside their owners' storage (with the spare
    /// bytes after them) and owners are no views: checked before a
    /// pointer is made from them.
    pub(crate) fn views_fit(&self) -> bool {
        (self.views.iter().zip(&self.sizes)).all(|(v, &s)| match *v {
            None => true,
            Some((o, off)) => {
                self.views.get(o) == Some(&None)
                    && off + s <= self.sizes[o]
                    && self.data[o].len() * Line::BYTES >= self.sizes[o] + Self::SPARE
            }
        })
    }

    /// Every buffer's pointer at the workspace's own storage.
    fn point_at_storage(&mut self) {
        self.ptrs = self
            .data
            .iter_mut()
            .map(|d| d.as_mut_ptr().cast::<u8>())
            .collect();
        self.point_views();
    }

    /// Every view's pointer at its bytes of its owner's current pointer.
    fn point_views(&mut self) {
        if !self.views_fit() {
            return;
        }
        for b in 0..self.views.len() {
            if let Some((o, off)) = self.views[b] {
                // Inside the owner's bytes (`views_fit`); `wrapping_add`
                // makes no claim beyond that.
                self.ptrs[b] = self.ptrs[o].wrapping_add(off);
            }
        }
    }

    /// The storage of buffer `b` and the byte offset of its bytes there.
    fn storage(&self, b: usize) -> (usize, usize) {
        match self.views[b] {
            Some((o, off)) if self.views_fit() => (o, off),
            _ => (b, 0),
        }
    }

    /// The bytes of buffer `b` (planned size, halo included).
    pub(crate) fn bytes(&self, b: usize) -> &[u8] {
        let (o, off) = self.storage(b);
        let d = &self.data[o];
        let len = (self.sizes[b] + off).min(d.len() * Line::BYTES);
        let off = off.min(len);
        // SAFETY: `d` holds `d.len() * Line::BYTES` initialized bytes (a
        // `Line` is a byte array, no padding), `off <= len` does not exceed
        // them, and u8 has alignment 1.
        unsafe { std::slice::from_raw_parts(d.as_ptr().cast::<u8>().add(off), len - off) }
    }

    pub(crate) fn bytes_mut(&mut self, b: usize) -> &mut [u8] {
        let (o, off) = self.storage(b);
        let d = &mut self.data[o];
        let len = (self.sizes[b] + off).min(d.len() * Line::BYTES);
        let off = off.min(len);
        // SAFETY: as in `bytes`, and the borrow of `self` is exclusive.
        unsafe { std::slice::from_raw_parts_mut(d.as_mut_ptr().cast::<u8>().add(off), len - off) }
    }

    /// Runs `run` with each buffer `b` of `outputs` stored in the caller's
    /// `bytes`, and each of `inputs` read from the caller's bytes (each at
    /// least the buffer's planned size), instead of the workspace's own
    /// storage, which the stages use again afterwards (also when `run`
    /// panics). `None`, and nothing run, when a buffer does not exist, is
    /// given twice, or its bytes are too short. The caller chooses only
    /// output buffers no stage reads, and input buffers no stage writes
    /// whose readers never load past their planned size (the stages'
    /// vector loads may run past the end of the buffers they read, stores
    /// never leave the planned size): see `CompiledPipeline::output_direct`
    /// and `CompiledPipeline::input_direct`.
    pub(crate) fn with_buffers_at<R>(
        &mut self,
        inputs: &[(usize, &[u8])],
        outputs: &mut [(usize, &mut [u8])],
        run: impl FnOnce(&mut Workspace) -> R,
    ) -> Option<R> {
        let given: Vec<(usize, usize)> = (inputs.iter().map(|(b, bytes)| (*b, bytes.len())))
            .chain(outputs.iter().map(|(b, bytes)| (*b, bytes.len())))
            .collect();
        let twice = |k: usize| given[..k].iter().any(|(b, _)| *b == given[k].0);
        let view = |b: usize| self.views.get(b).is_some_and(|v| v.is_some());
        if (0..given.len()).any(|k| {
            twice(k)
                || view(given[k].0)
                || self.sizes.get(given[k].0).is_none_or(|&s| given[k].1 < s)
        }) {
            return None;
        }
        /// Points every buffer back at the workspace's own storage.
        struct Restore<'w>(&'w mut Workspace);
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                self.0.point_at_storage();
            }
        }
        for (b, bytes) in outputs.iter_mut() {
            self.ptrs[*b] = bytes.as_mut_ptr();
        }
        for (b, bytes) in inputs {
            // Only read: no stage writes an input buffer (the caller's
            // promise above), so the shared bytes are never written.
            self.ptrs[*b] = bytes.as_ptr().cast_mut();
        }
        // Views of a buffer given here are the caller's bytes too.
        self.point_views();
        let guard = Restore(self);
        let result = run(&mut *guard.0);
        drop(guard);
        Some(result)
    }
}

/// What a job calls.
enum Target {
    Jit(StageFn),
    /// Points into the `Machine`, which outlives every job.
    Native(*const NativeStage),
    /// Points into the `Machine`; the slices the job may touch.
    Rows(*const RowStage, rows::RowCall),
    /// Points into the `Machine`; the workspace's buffers.
    Fused(*const BandPair, usize),
    /// A plain function, for the pool's tests (e.g. one that panics).
    #[cfg(test)]
    Test(fn() -> i64),
}

/// One call of a stage on rows `lo..hi`, ready to run on any thread.
pub(crate) struct Job {
    f: Target,
    ptrs: *const *mut u8,
    lo: i64,
    hi: i64,
    /// Output channels `c0..c1` of the rows (native pointwise and direct
    /// AVX-512 stages, [`channel_blocks`]; every channel otherwise).
    ch: (usize, usize),
}

// SAFETY: a Job is created only by `Machine::jobs`, after the checks listed in
// the module documentation; `Pool::run` blocks until every job has returned,
// so the workspace it points into outlives the job, and the jobs of one stage
// write disjoint rows.
unsafe impl Send for Job {}

// SAFETY: `Pool::run` shares a stage's jobs between threads only so that
// each can claim some from a counter: every job is run by exactly one
// thread, and `run` takes `&self` and mutates nothing of the job.
unsafe impl Sync for Job {}

impl Job {
    pub(crate) fn run(&self) -> i64 {
        match self.f {
            // SAFETY: see the module invariants; `ptrs` points at one pointer
            // per planned buffer, each to a live allocation of the planned
            // size, and `lo..hi` lies within the stage's items.
            Target::Jit(f) => unsafe { f(self.ptrs, self.lo, self.hi) },
            Target::Native(stage) => {
                // SAFETY: as above, plus: `stage` points into the Machine,
                // alive while jobs run; native stages exist only on hosts
                // with the kernels' features (`native::host_supported`);
                // the allocations carry `Workspace::SPARE` bytes (except a
                // buffer `Workspace::with_buffers_at` redirected: an output
                // no stage reads, or an input read only by kernels whose
                // loads stay within its planned bytes,
                // `NativeStage::reads_within_buffers`).
                // AVX2 stages run on hosts with AVX2 (`isa_supported`);
                // the kernels check for AVX-VNNI themselves. `ch` is every
                // channel, or (`channel_blocks`) a range of the stage's
                // channels starting on a register block of its kernel.
                #[cfg(target_arch = "x86_64")]
                unsafe {
                    let (lo, hi) = (self.lo as usize, self.hi as usize);
                    match (*stage).isa() {
                        super::Isa::Avx2 | super::Isa::Avx2Vnni => {
                            conv_avx2::run(&*stage, self.ptrs, lo, hi)
                        }
                        _ => avx512::run(&*stage, self.ptrs, (lo, hi), self.ch),
                    }
                };
                #[cfg(not(target_arch = "x86_64"))]
                let _ = stage;
                -1
            }
            // SAFETY: `stage` points into the Machine, alive while jobs run;
            // `Machine::jobs` made `call` from the workspace's buffers: the
            // input is not the output (no job of the stage writes it), and
            // the output bytes are this job's rows alone.
            Target::Rows(stage, ref call) => unsafe {
                rows::run(&*stage, call, self.lo as usize, self.hi as usize)
            },
            // SAFETY: as for `Native` (both stages were native stages of
            // this Machine, the pair made by `BandPair::new`); `buffers` is
            // the number of pointers at `ptrs`; the jobs of the pair's
            // stage take disjoint rows of the pointwise stage's output,
            // whose buffer the depthwise stage does not read (`BandPair`).
            Target::Fused(pair, buffers) => {
                #[cfg(target_arch = "x86_64")]
                unsafe {
                    fused::run(
                        &*pair,
                        self.ptrs,
                        buffers,
                        self.lo as usize,
                        self.hi as usize,
                    )
                };
                #[cfg(not(target_arch = "x86_64"))]
                let _ = (pair, buffers);
                -1
            }
            #[cfg(test)]
            Target::Test(f) => f(),
        }
    }

    /// A job that calls `f` (the pool's tests).
    #[cfg(test)]
    pub(crate) fn test(f: fn() -> i64) -> Job {
        Job {
            f: Target::Test(f),
            ptrs: std::ptr::null(),
            lo: 0,
            hi: 0,
            ch: (0, 0),
        }
    }
}

impl Machine {
    pub(crate) fn new(
        module: JITModule,
        code: Vec<StageCode>,
        items: Vec<usize>,
        id: u64,
    ) -> Result<Machine, JitError> {
        let mut module = module;
        module
            .finalize_definitions()
            .map_err(|e| JitError::Codegen {
                stage: String::from("(linking)"),
                message: e.to_string(),
            })?;
        let funcs: Vec<Callable> = code
            .into_iter()
            .map(|c| match c {
                StageCode::Jit(fid) => {
                    let code = module.get_finalized_function(fid);
                    // SAFETY: `fid` was defined with the signature
                    // (i64, i64, i64) -> i64 in the platform's C calling
                    // convention, which is `StageFn`'s ABI; the code is finalized.
                    Callable::Jit(unsafe { std::mem::transmute::<*const u8, StageFn>(code) })
                }
                StageCode::Native(stage) => Callable::Native(stage),
                StageCode::Rows(stage) => Callable::Rows(stage),
            })
            .collect();
        let pairs = funcs.iter().map(|_| None).collect();
        Ok(Machine {
            module: std::sync::Mutex::new(Some(module)),
            funcs,
            items,
            id,
            pairs,
        })
    }

    /// Stage `stage`'s native stage, if a precompiled kernel runs it.
    pub(crate) fn native(&self, stage: usize) -> Option<&NativeStage> {
        match self.funcs.get(stage) {
            Some(Callable::Native(ns)) => Some(ns),
            _ => None,
        }
    }

    /// Runs stage `stage - 1` (a native depthwise stage) and `stage` (a
    /// native pointwise one) band by band as `pair` (`None`: each alone
    /// again). The caller made `pair` from those two stages, and checked
    /// that no other stage, input or output uses the depthwise output.
    pub(crate) fn fuse(&mut self, stage: usize, pair: Option<BandPair>) {
        // The pair's stages are these two: the same input, intermediate
        // and output buffers.
        let ours = |p: &BandPair| {
            stage > 0
                && p.bands.first().is_some_and(|(dw, pw)| {
                    (self.native(stage - 1))
                        .is_some_and(|d| d.x() == dw.x() && d.out().buffer == dw.out().buffer)
                        && (self.native(stage)).is_some_and(|q| q.out() == pw.out())
                })
                && fused::banded_kernels(p)
        };
        let pair = pair.filter(ours).map(Box::new);
        if let Some(slot) = self.pairs.get_mut(stage) {
            *slot = pair;
        }
    }

    /// The stages that run band by band with the stage before them.
    pub(crate) fn fused(&self) -> impl Iterator<Item = usize> + '_ {
        (self.pairs.iter().enumerate()).filter_map(|(k, p)| p.as_ref().map(|_| k))
    }

    /// Whether stage `stage` runs within the next one's jobs (nothing
    /// of its own).
    fn folded(&self, stage: usize) -> bool {
        self.pairs.get(stage + 1).is_some_and(Option::is_some)
    }

    /// Whether stage `stage` reads only inside its buffers' planned bytes
    /// (never the spare bytes after them), so that a buffer it reads may be
    /// a caller's bytes ([`Workspace::with_buffers_at`]): row kernels (safe
    /// slices of the planned sizes) and the native kernels that say so.
    pub(crate) fn reads_within_buffers(&self, stage: usize) -> bool {
        match self.funcs.get(stage) {
            Some(Callable::Rows(_)) => true,
            Some(Callable::Native(ns)) => ns.reads_within_buffers(),
            _ => false,
        }
    }

    /// The row ranges and channel slices [`Machine::jobs`] cuts stage
    /// `stage` into for `parts` (0s for a stage that does not exist).
    pub(crate) fn cut_counts(&self, stage: usize, parts: usize) -> (usize, usize) {
        if self.folded(stage) {
            return (0, 0);
        }
        if let Some(Some(pair)) = self.pairs.get(stage) {
            return (split(self.items[stage], pair.band, parts).len(), 1);
        }
        match (self.funcs.get(stage), self.items.get(stage)) {
            (Some(code), Some(&items)) => {
                let (ranges, slices) = cut(code, items, parts);
                (ranges.len(), slices.len())
            }
            _ => (0, 0),
        }
    }

    /// Splits stage `stage` into at most `parts` jobs on `ws`.
    pub(crate) fn jobs(
        &self,
        stage: usize,
        ws: &mut Workspace,
        plan: &Plan,
        parts: usize,
    ) -> Result<Vec<Job>, JitError> {
        let ok = ws.id == self.id
            && ws.sizes.len() == plan.buffers.len()
            && ws.views_fit()
            && plan
                .buffers
                .iter()
                .zip(ws.data.iter().zip(ws.sizes.iter().zip(&ws.views)))
                .all(|(b, (d, (&s, &v)))| {
                    s == b.bytes()
                        && v == b.view
                        && (v.is_some() || d.len() * Line::BYTES >= s + Workspace::SPARE)
                });
        let (Some(code), Some(&items)) = (self.funcs.get(stage), self.items.get(stage)) else {
            return Err(JitError::Program {
                reason: format!("no stage {stage}"),
            });
        };
        if !ok {
            return Err(JitError::Program {
                reason: String::from("the workspace was not made for this pipeline"),
            });
        }
        let ptrs = ws.ptrs.as_ptr();
        if self.folded(stage) {
            return Ok(vec![]);
        }
        if let Some(Some(pair)) = self.pairs.get(stage) {
            // Whole bands: a job's last band is short only at the map's end.
            let ranges = split(items, pair.band, parts);
            let f = |(lo, hi): Range| Job {
                f: Target::Fused(&**pair, ws.ptrs.len()),
                ptrs,
                lo: lo as i64,
                hi: hi as i64,
                ch: (0, usize::MAX),
            };
            return Ok(ranges.into_iter().map(f).collect());
        }
        let (ranges, slices) = cut(code, items, parts);
        let mut jobs = Vec::with_capacity(ranges.len() * slices.len());
        // Row-major: a thread's share of the jobs is whole rows, each row's
        // input read by the same thread for all of its channels.
        for (lo, hi) in ranges {
            for &ch in &slices {
                let f = match code {
                    Callable::Jit(f) => Target::Jit(*f),
                    Callable::Native(stage) => Target::Native(&**stage),
                    Callable::Rows(stage) => {
                        Target::Rows(&**stage, row_call(stage, ws, plan, lo, hi)?)
                    }
                    #[cfg(test)]
                    Callable::Test(f) => Target::Test(*f),
                };
                jobs.push(Job {
                    f,
                    ptrs,
                    lo: lo as i64,
                    hi: hi as i64,
                    ch,
                });
            }
        }
        Ok(jobs)
    }
}

/// Items or channels `lo..hi`.
type Range = (usize, usize);

/// Stage `code`'s items cut into at most `parts` row ranges (whole
/// granules) times channel slices: rows first; when the rows give at most
/// half of `parts` ranges (small maps: too few jobs for the threads to
/// share evenly), the output channels of the stages whose kernels take a
/// channel range ([`channel_blocks`]) make up the rest. (Not more jobs
/// than that: on a busy machine every job a late worker claims may keep
/// the caller waiting.)
fn cut(code: &Callable, items: usize, parts: usize) -> (Vec<Range>, Vec<Range>) {
    if let Some((channels, block)) = lanes_slices(code) {
        return (
            vec![(0, items)],
            split(channels, block, parts.div_ceil(crate::jit::JOBS_PER_THREAD)),
        );
    }
    let ranges = split(items, granule(code), parts);
    let (channels, block) = channel_blocks(code).unwrap_or((usize::MAX, usize::MAX));
    let slices = if 2 * ranges.len() <= parts && channels < usize::MAX {
        split(channels, block, parts.div_ceil(ranges.len()))
    } else {
        vec![(0, channels)]
    };
    (ranges, slices)
}

/// The output channels of stage `code` and the channels of its kernel's
/// register block, if its jobs may take a range of channels starting on
/// a block: the AVX-512 pointwise kernel (blocks of 4) and direct
/// convolutions of one group (`avx512_channels`).
fn channel_blocks(code: &Callable) -> Option<(usize, usize)> {
    let Callable::Native(stage) = code else {
        return None;
    };
    if stage.isa().is_avx2() {
        return None;
    }
    match stage.kind() {
        super::native::Kind::Pointwise { .. } => Some((stage.channels(), 4)),
        // The channel-lane kernel (`Direct::lanes`) runs every channel.
        super::native::Kind::Direct(d) if d.groups == 1 && d.lanes.is_none() => {
            Some((stage.channels(), super::native::avx512_channels(d)))
        }
        _ => None,
    }
}

/// The output channels of a channel-lane convolution (`Direct::lanes`, one
/// group) of a small map and the channels of its register block: such a
/// stage is cut into channel slices only, one a thread (not the
/// [`JOBS_PER_THREAD`](crate::jit::JOBS_PER_THREAD) of other stages), each running
/// every row. Cut into rows, two threads wrote the lines where one's rows
/// of a channel plane end and the other's begin, in every plane (3x3 128
/// -> 128 on 14 x 14: a job of a quarter of the rows took 34 us on two
/// threads, 28 us on one); more slices repack the whole input once each.
fn lanes_slices(code: &Callable) -> Option<(usize, usize)> {
    let Callable::Native(stage) = code else {
        return None;
    };
    match stage.kind() {
        super::native::Kind::Direct(d) if d.groups == 1 && !stage.isa().is_avx2() => {
            let l = d.lanes.as_ref()?;
            let small = stage.height() * stage.width() < SMALL_PLANE;
            small.then_some((stage.channels(), 16 * l.m))
        }
        _ => None,
    }
}

/// Output pixels a plane below which [`lanes_slices`] cuts channels.
const SMALL_PLANE: usize = 1024;

/// Items that a job should take together: a pointwise kernel over rows
/// stored back to back runs the job's pixels in vectors of 64, so a job
/// whose pixels are not a multiple of 64 ends on a partly empty vector
/// (56 x 56 in 8 parts of 7 rows: 56 vectors instead of 49). Rows in
/// multiples of `64 / gcd(W, 64)` keep every vector but the map's last full.
/// A direct convolution of narrow rows runs 2 or 4 rows a register block.
fn granule(code: &Callable) -> usize {
    let Callable::Native(stage) = code else {
        return 1;
    };
    let w = stage.width();
    let strided =
        matches!(stage.kind(), super::native::Kind::Pointwise { stride, .. } if *stride != (1, 1));
    let back_to_back = stage.x().stride == w && stage.out().stride == w && !strided;
    match stage.kind() {
        super::native::Kind::Pointwise { .. } if back_to_back && w > 0 => 64 / gcd(w, 64),
        // Narrow depthwise maps: whole channels (blocks of several rows
        // that a cut would leave partly empty), or with few channels
        // whole blocks.
        super::native::Kind::Depthwise { .. } if !stage.isa().is_avx2() => {
            match depthwise_packed::row_lanes(stage) {
                Some(_) if stage.channels() >= 8 => stage.height(),
                Some(p) => 64 / p,
                None => 1,
            }
        }
        // Narrow maps: the rows of one register block.
        super::native::Kind::Direct(d) if !stage.isa().is_avx2() => super::native::avx512_rows(d),
        _ => 1,
    }
}

/// `0..items` in at most `parts` ranges (at least one) of whole granules,
/// as even as granules allow; the last one also takes what is left.
fn split(items: usize, granule: usize, parts: usize) -> Vec<(usize, usize)> {
    let granule = granule.max(1);
    let units = items.div_ceil(granule);
    let parts = parts.clamp(1, units.max(1));
    let edge = |p: usize| (units * p / parts * granule).min(items);
    (0..parts).map(|p| (edge(p), edge(p + 1))).collect()
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The slices a job of row stage `stage` on items `lo..hi` may touch: the
/// whole input buffer, and the output bytes from the first item's row to
/// the last one's, computed here from the plan's layout (rows of one
/// buffer in channel-major order), so that the jobs of a stage own disjoint
/// bytes whatever the stage says. Checked against the workspace's sizes.
fn row_call(
    stage: &RowStage,
    ws: &Workspace,
    plan: &Plan,
    lo: usize,
    hi: usize,
) -> Result<rows::RowCall, JitError> {
    let bad = |why: &str| JitError::Program {
        reason: format!("row stage: {why}"),
    };
    let (xbs, ob) = stage.buffers();
    let (Some(&out_size), Some(buf)) = (ws.sizes.get(ob), plan.buffers.get(ob)) else {
        return Err(bad("no such buffer"));
    };
    let mut inputs = Vec::with_capacity(xbs.len());
    for &xb in &xbs {
        match ws.sizes.get(xb) {
            Some(&len) if xb != ob => inputs.push((ws.ptrs[xb].cast_const(), len)),
            _ => return Err(bad("an input is the output, or missing")),
        }
    }
    // Items are runs of `per` rows, in channel-major order.
    let per = stage.rows_per_item().max(1);
    let (lo, hi) = (lo * per, hi * per);
    if stage.items() * per != buf.dims.c * buf.dims.h {
        return Err(bad("inconsistent buffers"));
    }
    let e = buf.elem.bytes;
    let h = buf.dims.h.max(1);
    let (base, end) = if lo < hi {
        let last = hi - 1;
        (
            buf.offset(lo / h, lo % h, 0) * e,
            (buf.offset(last / h, last % h, 0) + buf.dims.w) * e,
        )
    } else {
        (0, 0)
    };
    if end > out_size || base > end {
        return Err(bad("rows outside the output"));
    }
    Ok(rows::RowCall {
        inputs,
        out: ws.ptrs[ob].wrapping_add(base),
        base,
        len: end - base,
    })
}

#[cfg(test)]
impl Machine {
    /// Makes stage `stage` call `f` instead (tests of failing stages).
    pub(crate) fn replace_stage(&mut self, stage: usize, f: fn() -> i64) {
        self.funcs[stage] = Callable::Test(f);
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        self.funcs.clear();
        let slot = match self.module.get_mut() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(module) = slot.take() {
            // SAFETY: the function pointers were just dropped, and calls
            // borrow the Machine, so no code of this module can run anymore.
            unsafe { module.free_memory() };
        }
    }
}

#[cfg(test)]
mod split_tests {
    use super::split;

    #[test]
    fn parts_are_whole_granules_covering_every_item() {
        for items in 0..70 {
            for granule in 1..10 {
                for parts in 1..10 {
                    let r = split(items, granule, parts);
                    assert!(!r.is_empty() && r.len() <= parts);
                    assert_eq!(r[0].0, 0);
                    assert_eq!(r[r.len() - 1].1, items);
                    for w in r.windows(2) {
                        assert_eq!(w[0].1, w[1].0);
                        assert_eq!(w[0].1 % granule, 0, "{items} {granule} {parts}: {r:?}");
                    }
                    // As many parts as there are granules to give, up to `parts`.
                    assert_eq!(r.len(), parts.min(items.div_ceil(granule).max(1)));
                }
            }
        }
        // 56 rows of 56 pixels, granule 8: seven jobs of 448 pixels.
        assert_eq!(split(56, 8, 8).len(), 7);
        assert!(split(56, 8, 8).iter().all(|&(lo, hi)| hi - lo == 8));
    }
}
