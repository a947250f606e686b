//! A cycle-level replay of a stream design: every process runs its
//! pipelined loop one iteration per `ii` cycles, an iteration starts only
//! when every FIFO it reads holds a beat and every FIFO it writes has room
//! (blocking `hls::stream` semantics), top-level inputs deliver one beat per
//! cycle and outputs accept one beat per cycle (AXI4-Stream at full rate).
//!
//! The same replay sizes the FIFOs at emission (on the schedule Convoy
//! derives) and checks the emitted C++ in the tests (on the iteration traces
//! of its C simulation), so both sides answer the same questions: does it
//! deadlock at these depths, and what is the interval between frames.
//! Pure; no IO.

/// One FIFO of the design.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayFifo {
    pub name: String,
    pub depth: usize,
    /// Beats of one frame when a top-level input feeds it (1 per cycle).
    pub source: Option<usize>,
    /// Beats of one frame when it is a top-level output (drained 1 per cycle).
    pub sink: Option<usize>,
}

/// One process: its pipelined loop's iterations, each as the FIFOs it reads
/// and writes (indices into [`ReplayProcess::ports`], as bit masks).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayProcess {
    pub name: String,
    /// Cycles between two iterations.
    pub ii: u32,
    /// The FIFOs (indices into the FIFO list) the masks' bits stand for.
    pub ports: Vec<usize>,
    /// Per iteration of one frame: (ports read, ports written).
    pub iterations: Vec<(u64, u64)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayResult {
    /// The cycle at which nothing could move any more, if it came to that.
    pub deadlock: Option<u64>,
    /// The cycle at which the last output beat of each frame left.
    pub frame_end: Vec<u64>,
    /// Cycles between the ends of the last two frames (or the one frame's end).
    pub interval: u64,
    /// Most beats each FIFO held at once.
    pub max_occupancy: Vec<usize>,
}

/// Replays `frames` frames back to back.
pub fn replay(processes: &[ReplayProcess], fifos: &[ReplayFifo], frames: usize) -> ReplayResult {
    let n = fifos.len();
    let mut count = vec![0usize; n];
    let mut max_occupancy = vec![0usize; n];
    let mut sourced = vec![0usize; n];
    let mut sunk = vec![0usize; n];
    let mut next = vec![0usize; processes.len()];
    let mut ready_at = vec![0u64; processes.len()];
    let totals: Vec<usize> = processes
        .iter()
        .map(|p| p.iterations.len() * frames)
        .collect();
    let sink_total: Vec<usize> = fifos.iter().map(|f| f.sink.unwrap_or(0) * frames).collect();
    let sinks: Vec<usize> = (0..n).filter(|&f| fifos[f].sink.is_some()).collect();
    let mut frame_end = vec![0u64; frames];
    let mut delta: Vec<isize> = vec![0; n];
    // Runs of iterations that touch no FIFO run back to back: replay them in one go.
    let runs: Vec<Vec<u32>> = processes
        .iter()
        .map(|p| {
            let mut run = vec![0u32; p.iterations.len()];
            for i in (0..p.iterations.len()).rev() {
                if p.iterations[i] == (0, 0) {
                    run[i] = 1 + run.get(i + 1).copied().unwrap_or(0);
                }
            }
            run
        })
        .collect();
    let mut cycle: u64 = 0;
    let mut deadlock = None;
    loop {
        let done_processes = (0..processes.len()).all(|p| next[p] >= totals[p]);
        let done_sinks = sinks.iter().all(|&f| sunk[f] >= sink_total[f]);
        if done_processes && done_sinks {
            break;
        }
        let mut moved = false;
        let mut waiting = false;
        for (f, fifo) in fifos.iter().enumerate() {
            if let Some(beats) = fifo.source {
                if sourced[f] < beats * frames && count[f] < fifo.depth {
                    sourced[f] += 1;
                    delta[f] += 1;
                    moved = true;
                }
            }
            if fifo.sink.is_some() && count[f] > 0 && sunk[f] < sink_total[f] {
                sunk[f] += 1;
                delta[f] -= 1;
                moved = true;
                // A frame ends when every output has delivered its last beat of it.
                if let Some(beats) = fifo.sink.filter(|&b| b > 0 && sunk[f].is_multiple_of(b)) {
                    let frame = sunk[f] / beats - 1;
                    if frame < frames {
                        frame_end[frame] = frame_end[frame].max(cycle + 1);
                    }
                }
            }
        }
        for (p, proc_) in processes.iter().enumerate() {
            if next[p] >= totals[p] {
                continue;
            }
            if cycle < ready_at[p] {
                waiting = true;
                continue;
            }
            let at = next[p] % proc_.iterations.len();
            let silent = runs[p][at] as usize;
            if silent > 0 {
                let r = silent.min(totals[p] - next[p]);
                next[p] += r;
                ready_at[p] = cycle + r as u64 * u64::from(proc_.ii.max(1));
                moved = true;
                continue;
            }
            let (reads, writes) = proc_.iterations[at];
            let can_read = bits(reads).all(|b| count[proc_.ports[b]] > 0);
            let can_write =
                bits(writes).all(|b| count[proc_.ports[b]] < fifos[proc_.ports[b]].depth);
            if !(can_read && can_write) {
                continue;
            }
            for b in bits(reads) {
                delta[proc_.ports[b]] -= 1;
            }
            for b in bits(writes) {
                delta[proc_.ports[b]] += 1;
            }
            next[p] += 1;
            ready_at[p] = cycle + u64::from(proc_.ii.max(1));
            moved = true;
        }
        for f in 0..n {
            count[f] = (count[f] as isize + delta[f]) as usize;
            delta[f] = 0;
            max_occupancy[f] = max_occupancy[f].max(count[f]);
        }
        cycle += 1;
        if !moved {
            if !waiting {
                deadlock = Some(cycle);
                break;
            }
            // Nothing changes until the next process is ready again.
            let wake = (0..processes.len())
                .filter(|&p| next[p] < totals[p] && ready_at[p] > cycle)
                .map(|p| ready_at[p])
                .min();
            if let Some(wake) = wake {
                cycle = cycle.max(wake);
            }
        }
    }
    let interval = match frames {
        0 => 0,
        1 => frame_end[0],
        k => frame_end[k - 1].saturating_sub(frame_end[k - 2]),
    };
    ReplayResult {
        deadlock,
        frame_end,
        interval,
        max_occupancy,
    }
}

fn bits(mut mask: u64) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        if mask == 0 {
            return None;
        }
        let b = mask.trailing_zeros() as usize;
        mask &= mask - 1;
        Some(b)
    })
}

/// The smallest depth of FIFO `f` (the others as given) at which the
/// replay neither deadlocks nor lengthens the interval beyond `limit`,
/// searched between 1 and `fifos[f].depth`.
pub fn smallest_safe_depth(
    processes: &[ReplayProcess],
    fifos: &[ReplayFifo],
    f: usize,
    frames: usize,
    limit: u64,
) -> usize {
    let mut trial = fifos.to_vec();
    let ok = |trial: &mut Vec<ReplayFifo>, d: usize| {
        trial[f].depth = d;
        let r = replay(processes, trial, frames);
        r.deadlock.is_none() && r.interval <= limit
    };
    let (mut lo, mut hi) = (1usize, fifos[f].depth.max(1));
    if !ok(&mut trial, hi) {
        return hi;
    }
    while lo < hi {
        let mid = (lo + hi) / 2;
        if ok(&mut trial, mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    hi
}
