//! The direct convolution on AMX-INT8 tiles (Sapphire and Emerald Rapids):
//! plain convolutions of one group with byte outputs whose output rows
//! have 8 to 64 pixels (`native::AmxPlan`), in place of the channel- or
//! pixel-lane `vpdpbusd` kernels.
//!
//! `tdpbsud` multiplies a tile of signed bytes (16 rows of up to 64) by a
//! tile of unsigned bytes whose rows are dword quads (`K / 4` rows of 16
//! dwords) into 16 x 16 dword sums: `C[m][n] += sum_k A[m][k] B[k][n]`.
//! Here `A` is 16 output channels' weights over `kq` steps (one step: a
//! kernel tap of a channel quad, one dword per channel), and `B` is the
//! repacked window (`repack_avx512`) as it is: a quad row holds one dword
//! per pixel, and the steps of one tap over consecutive channel quads lie
//! in quad rows `Direct::cols` dwords apart, so `kq` of them are one tile
//! load of that stride. `C` is then 16 channels x 16 pixels, channel-major
//! as the output planes are: stored into the lanes kernel's scratch rows,
//! the tail of `conv_lanes::finish` requantizes and stores each channel's
//! row. A register block is 32 channels x 32 pixels (four `C` tiles, two
//! `A`, two `B`), or on rows of at most 16 pixels 64 channels x 16 pixels
//! (one `B` against four `A`); one `tdpbsud` is 16 x 16 x 4 kq
//! multiply-accumulates.
//!
//! Memory: a `B` load reads `kq` quad rows of the window from the step's
//! pixel `x0` (a multiple of 16, below the row's width), 64 bytes each:
//! at most `max_shift` dwords past the pixels the quad row holds
//! (`Direct::cols` covers the width rounded up to 16), into the next quad
//! row or the window's 64 spare bytes (`AmxPlan::new` keeps the shift
//! under 16). `A` loads read the packed weights ([`AmxPlan::weights`]);
//! stores go to the scratch, 16 rows of 64 bytes at `ROW` dwords apart.
//!
//! The tiles are the thread's: each call loads its configuration and
//! releases the tiles before it returns. The process asks Linux once for
//! the tile state (`arch_prctl(ARCH_REQ_XCOMP_PERM, XTILEDATA)`); without
//! it, or on CPUs without AMX-TILE and AMX-INT8, [`available`] is false
//! and the lanes kernel runs.

#[cfg(target_arch = "x86_64")]
use super::conv_avx512::{live_steps, RowSteps};
#[cfg(target_arch = "x86_64")]
use super::conv_lanes::{finish, ROW};
#[cfg(target_arch = "x86_64")]
use super::tail_avx512::Tail;
#[cfg(target_arch = "x86_64")]
use crate::jit::native::{AmxPlan, Direct, NativeStage};

/// Whether this CPU has AMX-TILE and AMX-INT8 and the OS let the process
/// use the tile data (asked once, on the first call).
pub(crate) fn available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
        {
            cpu_has_amx() && crate::jit::native::host_supported() && request_tile_data()
        }
        #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
        {
            false
        }
    })
}

/// CPUID leaf 7: AMX-TILE (EDX bit 24) and AMX-INT8 (bit 25).
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn cpu_has_amx() -> bool {
    use std::arch::x86_64::{__cpuid, __cpuid_count};
    // (Leaf 7 only when leaf 0 says it exists.)
    if __cpuid(0).eax < 7 {
        return false;
    }
    let edx = __cpuid_count(7, 0).edx;
    edx & (1 << 24) != 0 && edx & (1 << 25) != 0
}

/// `arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)`: whether Linux
/// lets this process's threads use the tile data (it refuses on kernels
/// before 5.16 or when the hypervisor hides the state).
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn request_tile_data() -> bool {
    const SYS_ARCH_PRCTL: i64 = 158;
    const ARCH_REQ_XCOMP_PERM: u64 = 0x1023;
    const XFEATURE_XTILEDATA: u64 = 18;
    let ret: i64;
    // SAFETY: a system call that only changes the process's permitted
    // state components; it reads and writes no memory of ours, and the
    // registers the `syscall` instruction overwrites are declared.
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") SYS_ARCH_PRCTL => ret,
            in("rdi") ARCH_REQ_XCOMP_PERM,
            in("rsi") XFEATURE_XTILEDATA,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret == 0
}

/// The tile configuration (palette 1): tiles 0 to 3 the sums (16 rows of
/// 64 bytes), 4 and 5 the weights (16 rows of `4 kq` bytes), 6 and 7 the
/// window (`kq` rows of 64 bytes; rows of at most 16 pixels use tile 6
/// only).
#[cfg(target_arch = "x86_64")]
#[repr(C, align(64))]
struct TileConfig {
    palette: u8,
    start_row: u8,
    reserved: [u8; 14],
    colsb: [u16; 16],
    rows: [u8; 16],
}

#[cfg(target_arch = "x86_64")]
impl TileConfig {
    fn new(kq: usize) -> TileConfig {
        let mut c = TileConfig {
            palette: 1,
            start_row: 0,
            reserved: [0; 14],
            colsb: [0; 16],
            rows: [0; 16],
        };
        for t in 0..8 {
            let (rows, colsb) = match t {
                0..=3 => (16, 64),
                4 | 5 => (16, 4 * kq),
                _ => (kq, 64),
            };
            c.rows[t] = rows as u8;
            c.colsb[t] = colsb as u16;
        }
        c
    }
}

/// Runs output rows `lo..hi` of a direct convolution planned with
/// `d.amx == Some(a)`, in the blocks of `a.channels` channels that start
/// in `c0..c1`.
///
/// # Safety
/// As `conv_lanes::rows`; [`available`] returned true; `AmxPlan::new`
/// made `a` for `d` (a plain convolution of one group, `kq` steps of one
/// tap over consecutive quads from every multiple of `kq`, shifts under
/// 16, rows of 8 to 64 pixels).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
pub(super) unsafe fn rows(
    st: &NativeStage,
    d: &Direct,
    a: &AmxPlan,
    (x, res): (*const u8, *const u8),
    out: *mut u8,
    (lo, hi): (usize, usize),
    (c0, c1): (usize, usize),
) {
    let tail = Tail::new(st.requant());
    let mut window = RowSteps::new(st, d, x);
    let steps = &d.steps[0];
    let kq = a.kq;
    let width = st.width();
    let cout = d.cout_g;
    // A block: 32 channels x 32 pixels, or on rows of at most 16 pixels 64
    // channels x 16 pixels (one window tile against four weight tiles).
    let block = a.channels;
    let narrow = block == 64;
    // Sums of a block's channels' rows of up to 64 pixels (`ROW` dwords a
    // row).
    let mut scratch = vec![0i32; block * ROW];
    let b_stride = 4 * d.cols;
    let config = TileConfig::new(kq);
    // SAFETY: `available()` (the caller's guarantee): the CPU has the
    // tiles and the OS gave this process their state; the configuration
    // is 64 valid bytes (palette 1, eight tiles within the palette's
    // limits: at most 16 rows of at most 64 bytes).
    unsafe { std::arch::asm!("ldtilecfg [{}]", in(reg) &config, options(nostack, readonly)) };
    for oy in lo..hi {
        // SAFETY: the caller's guarantees (`plan_direct` checked the rows).
        unsafe { window.row(st, d, x, oy) };
        window.group(d, 0);
        let step_at = &window.at;
        // The steps reading image rows (`live_steps`), widened to whole
        // runs of `kq`: the steps of a kernel row are whole runs, and those
        // past the live ones read padding rows of zeros.
        let (s0, s1) = live_steps(d, steps, oy);
        let (s0, s1) = (s0 / kq * kq, s1.div_ceil(kq) * kq);
        let mut o = c0.next_multiple_of(block);
        while o < c1.min(cout) {
            let ch = (cout - o).min(block);
            if narrow {
                // SAFETY: as below, with one window tile from pixel 0 and
                // the weight runs of blocks `o / 16 .. o / 16 + 4`.
                unsafe { narrow_block(a, (step_at, s0, s1, b_stride), o / 16, &mut scratch) };
                // SAFETY: as below.
                unsafe { finish(&tail, st, (o, ch), oy, &scratch, (out, res)) };
                o += block;
                continue;
            }
            let mut x0 = 0;
            while x0 < width {
                // SAFETY: the tiles are configured; the weight runs of
                // channel blocks `o / 16` and `o / 16 + 1` (the plan pads
                // to an even count) lie in `a.weights`; each window load
                // reads `kq` quad rows from pixel `x0 (+ 16)` of the run's
                // first step (see the module's memory note); the stores
                // land in rows `< 32` of the scratch, columns `x0 .. x0 +
                // 32 <= ROW`.
                unsafe {
                    zero_sums();
                    let mut s = s0;
                    while s < s1 {
                        let w0 = a.weights.as_ptr().add(a.offset(o / 16, s));
                        let w1 = a.weights.as_ptr().add(a.offset(o / 16 + 1, s));
                        let b0 = step_at[s].add(4 * x0);
                        let b1 = b0.add(64);
                        std::arch::asm!(
                            "tileloadd tmm4, [{w0} + {ws} * 1]",
                            "tileloadd tmm5, [{w1} + {ws} * 1]",
                            "tileloadd tmm6, [{b0} + {bs} * 1]",
                            "tileloadd tmm7, [{b1} + {bs} * 1]",
                            "tdpbsud tmm0, tmm4, tmm6",
                            "tdpbsud tmm1, tmm4, tmm7",
                            "tdpbsud tmm2, tmm5, tmm6",
                            "tdpbsud tmm3, tmm5, tmm7",
                            w0 = in(reg) w0,
                            w1 = in(reg) w1,
                            ws = in(reg) 4 * kq,
                            b0 = in(reg) b0,
                            b1 = in(reg) b1,
                            bs = in(reg) b_stride,
                            options(nostack, readonly),
                        );
                        s += kq;
                    }
                    let at = scratch.as_mut_ptr().add(x0);
                    store_sums([at, at.add(16), at.add(16 * ROW), at.add(16 * ROW + 16)]);
                }
                x0 += 32;
            }
            // SAFETY: the output (and residual) rows `oy` of channels `o ..
            // o + ch` lie in their buffers; the scratch holds their sums.
            unsafe { finish(&tail, st, (o, ch), oy, &scratch, (out, res)) };
            o += block;
        }
    }
    // SAFETY: the tiles are this thread's; releasing them returns the tile
    // state to its initial form.
    unsafe { std::arch::asm!("tilerelease", options(nostack, nomem)) };
}

/// The sums of 64 channels (weight blocks `b .. b + 4`) x 16 pixels from
/// pixel 0 of one output row, over steps `s0..s1` (whole runs): per run
/// one window tile against four weight tiles, into scratch rows `0..64`.
///
/// # Safety
/// The tiles are configured ([`TileConfig::new`] of `a.kq`); `step_at`
/// holds the row's step pointers, each run's first readable for `a.kq`
/// quad rows of 64 bytes at `b_stride` (see the module's memory note);
/// `a.weights` holds blocks `b .. b + 4` (the plan pads the blocks to a
/// multiple of 4 for rows of at most 16 pixels); `scratch` holds 64 rows
/// of `ROW`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
unsafe fn narrow_block(
    a: &AmxPlan,
    (step_at, s0, s1, b_stride): (&[*const u8], usize, usize, usize),
    b: usize,
    scratch: &mut [i32],
) {
    // SAFETY (the whole body): the caller's guarantees.
    unsafe {
        zero_sums();
        let mut s = s0;
        while s < s1 {
            let w = |k: usize| a.weights.as_ptr().add(a.offset(b + k, s));
            std::arch::asm!(
                "tileloadd tmm6, [{b0} + {bs} * 1]",
                "tileloadd tmm4, [{w0} + {ws} * 1]",
                "tileloadd tmm5, [{w1} + {ws} * 1]",
                "tdpbsud tmm0, tmm4, tmm6",
                "tdpbsud tmm1, tmm5, tmm6",
                "tileloadd tmm4, [{w2} + {ws} * 1]",
                "tileloadd tmm5, [{w3} + {ws} * 1]",
                "tdpbsud tmm2, tmm4, tmm6",
                "tdpbsud tmm3, tmm5, tmm6",
                w0 = in(reg) w(0),
                w1 = in(reg) w(1),
                w2 = in(reg) w(2),
                w3 = in(reg) w(3),
                ws = in(reg) 4 * a.kq,
                b0 = in(reg) step_at[s],
                bs = in(reg) b_stride,
                options(nostack, readonly),
            );
            s += a.kq;
        }
        let at = scratch.as_mut_ptr();
        store_sums([at, at.add(16 * ROW), at.add(32 * ROW), at.add(48 * ROW)]);
    }
}

/// Zeroes the four sum tiles.
///
/// # Safety
/// The tiles are configured ([`TileConfig::new`]).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn zero_sums() {
    // SAFETY: the caller's guarantee; no memory is touched.
    unsafe {
        std::arch::asm!(
            "tilezero tmm0",
            "tilezero tmm1",
            "tilezero tmm2",
            "tilezero tmm3",
            options(nostack, nomem),
        )
    };
}

/// Stores sum tile `k` (16 rows of 16 dwords) at `at[k]`, its rows `ROW`
/// dwords apart.
///
/// # Safety
/// The tiles are configured; each `at[k]` holds 16 rows of `ROW` dwords,
/// of which each row's first 16 are written.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn store_sums(at: [*mut i32; 4]) {
    // SAFETY: the caller's guarantees.
    unsafe {
        std::arch::asm!(
            "tilestored [{c0} + {cs} * 1], tmm0",
            "tilestored [{c1} + {cs} * 1], tmm1",
            "tilestored [{c2} + {cs} * 1], tmm2",
            "tilestored [{c3} + {cs} * 1], tmm3",
            c0 = in(reg) at[0],
            c1 = in(reg) at[1],
            c2 = in(reg) at[2],
            c3 = in(reg) at[3],
            cs = in(reg) 4 * ROW,
            options(nostack),
        )
    };
}
