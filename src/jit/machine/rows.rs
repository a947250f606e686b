//! Calls of the row kernels (`native::rowwise`): the one place that turns a
//! job's raw buffer pointers into slices for them, and the copies of the
//! kernels compiled for AVX-512 BW and AVX2 (the same safe code; the
//! compiler vectorizes it for the wider registers).

use crate::jit::native::{RowPart as Part, RowStage};

/// Which compiled copy of the kernels the host runs; detected once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    Avx512,
    Avx2,
    Baseline,
}

fn level() -> Level {
    #[cfg(target_arch = "x86_64")]
    {
        static LEVEL: std::sync::OnceLock<Level> = std::sync::OnceLock::new();
        *LEVEL.get_or_init(|| {
            if std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512bw")
                && std::is_x86_feature_detected!("avx512dq")
                && std::is_x86_feature_detected!("avx512vl")
            {
                Level::Avx512
            } else if std::is_x86_feature_detected!("avx2") {
                Level::Avx2
            } else {
                Level::Baseline
            }
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    Level::Baseline
}

/// A job's view of the workspace: the input buffer, and the output bytes
/// `base..base + len` that only this job writes.
pub(super) struct RowCall {
    /// Each input buffer: its start and length.
    pub inputs: Vec<(*const u8, usize)>,
    pub out: *mut u8,
    pub base: usize,
    pub len: usize,
}

/// Runs items `lo..hi` of `stage`.
///
/// # Safety
/// each of `call.inputs` points to that many initialized bytes that no
/// thread writes during the call; `call.out` points to `len` initialized bytes that no
/// other thread reads or writes during the call.
pub(super) unsafe fn run(stage: &RowStage, call: &RowCall, lo: usize, hi: usize) -> i64 {
    // SAFETY: the caller's guarantees: live, initialized, and the output
    // part exclusively ours.
    let (xs, out) = unsafe {
        let xs: Vec<&[u8]> = call
            .inputs
            .iter()
            .map(|&(p, len)| std::slice::from_raw_parts(p, len))
            .collect();
        (xs, std::slice::from_raw_parts_mut(call.out, call.len))
    };
    let x = xs.as_slice();
    // `--isa avx2` runs the AVX2 copy, as on a CPU without AVX-512.
    let level = match (level(), stage.isa()) {
        (Level::Avx512, isa) if isa.is_avx2() => Level::Avx2,
        (level, _) => level,
    };
    // The stages with kernels of their own (`native::Special`), unless
    // this host has none for it.
    #[cfg(target_arch = "x86_64")]
    if let (Some(special), Some(&x)) = (stage.special(), xs.first()) {
        let done = match level {
            // SAFETY: `level` found the features `rows_avx512::run` is
            // compiled for.
            Level::Avx512 => unsafe {
                super::rows_avx512::run(&special, lo, hi, x, out, call.base)
            },
            // SAFETY: as above, AVX2.
            Level::Avx2 => unsafe { super::rows_avx2::run(&special, lo, hi, x, out, call.base) },
            Level::Baseline => false,
        };
        if done {
            return -1;
        }
    }
    match level {
        // SAFETY: `level` found the features the copy is compiled for.
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 => unsafe { run_avx512(stage, lo, hi, x, out, call.base) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Level::Avx2 => unsafe { run_avx2(stage, lo, hi, x, out, call.base) },
        _ => stage.run_part(stage.part(), lo, hi, x, out, call.base),
    }
}

/// A part of the row kernels compiled as a function of its own for one
/// instruction set: in the one big function of all the others, LLVM ran
/// out of inlining budget for their short row loops (it called `memcpy`,
/// `Zip::new` and the like per row, and vectorized with 16-byte registers).
macro_rules! part {
    ($name:ident, $features:literal, $part:expr) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        #[inline(never)]
        fn $name(
            stage: &RowStage,
            lo: usize,
            hi: usize,
            x: &[&[u8]],
            out: &mut [u8],
            base: usize,
        ) -> i64 {
            stage.run_part($part, lo, hi, x, out, base)
        }
    };
}

part!(
    remap_avx512,
    "avx512f,avx512bw,avx512dq,avx512vl,avx2",
    Part::Remap
);
part!(
    max_pool_avx512,
    "avx512f,avx512bw,avx512dq,avx512vl,avx2",
    Part::MaxPool
);
part!(
    rest_avx512,
    "avx512f,avx512bw,avx512dq,avx512vl,avx2",
    Part::Rest
);
part!(
    avg_pool_avx512,
    "avx512f,avx512bw,avx512dq,avx512vl,avx2",
    Part::AvgPool
);
part!(
    nearest_avx512,
    "avx512f,avx512bw,avx512dq,avx512vl,avx2",
    Part::Nearest
);
part!(remap_avx2, "avx2", Part::Remap);
part!(avg_pool_avx2, "avx2", Part::AvgPool);
part!(nearest_avx2, "avx2", Part::Nearest);
part!(max_pool_avx2, "avx2", Part::MaxPool);
part!(rest_avx2, "avx2", Part::Rest);

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2")]
fn run_avx512(
    stage: &RowStage,
    lo: usize,
    hi: usize,
    x: &[&[u8]],
    out: &mut [u8],
    base: usize,
) -> i64 {
    match stage.part() {
        Part::Remap => remap_avx512(stage, lo, hi, x, out, base),
        Part::MaxPool => max_pool_avx512(stage, lo, hi, x, out, base),
        Part::AvgPool => avg_pool_avx512(stage, lo, hi, x, out, base),
        Part::Nearest => nearest_avx512(stage, lo, hi, x, out, base),
        Part::Rest => rest_avx512(stage, lo, hi, x, out, base),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn run_avx2(
    stage: &RowStage,
    lo: usize,
    hi: usize,
    x: &[&[u8]],
    out: &mut [u8],
    base: usize,
) -> i64 {
    match stage.part() {
        Part::Remap => remap_avx2(stage, lo, hi, x, out, base),
        Part::MaxPool => max_pool_avx2(stage, lo, hi, x, out, base),
        Part::AvgPool => avg_pool_avx2(stage, lo, hi, x, out, base),
        Part::Nearest => nearest_avx2(stage, lo, hi, x, out, base),
        Part::Rest => rest_avx2(stage, lo, hi, x, out, base),
    }
}
