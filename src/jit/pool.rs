//! A persistent pool of worker threads that runs the jobs of one stage.
//!
//! The jobs of a stage go into a [`Batch`]; each thread (the caller and
//! every worker) first claims the jobs of its own share, so that a thread
//! keeps working on the same rows from run to run (and finds them in its
//! cache), then any job still unclaimed: a slow or descheduled worker never
//! holds up a job another thread could run. A job that panics is caught
//! where it runs and reported as [`Panicked`]: no thread dies, every job
//! still finishes or is never started, and `run` returns only once no
//! thread runs any job of the batch any more (also when it unwinds, through
//! [`WaitForWorkers`]), so the workspace the jobs write into is never freed
//! under a worker. No wait depends on a thread that could be gone: the
//! caller runs every job no worker has claimed itself, and a claimed job is
//! always finished by the thread that claimed it. Waits spin for a few
//! microseconds, then yield the core between checks, then sleep: on a
//! machine with fewer free cores than threads, the thread waited for may
//! be queued behind the waiting one. A thread is woken (a system call) only
//! when it sleeps: stages that follow each other within microseconds cost
//! no system call at all, and a stage of one job (or a pool of one thread)
//! runs on the calling thread without a batch ([`run_here`]).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::machine::Job;

/// A job panicked (a bug in a kernel); the stage's output is not usable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Panicked;

/// The jobs of one stage and what became of them.
struct Batch {
    jobs: Vec<Job>,
    /// Whether a thread has taken job `k`.
    claimed: Vec<AtomicBool>,
    /// Threads that may take part: thread `t` owns the `t`-th share.
    threads: usize,
    /// Jobs claimed or not, that have not returned yet.
    unfinished: AtomicUsize,
    /// The smallest failure code (`>= 0`) any job returned, or -1.
    status: AtomicI64,
    panicked: AtomicBool,
    /// Whether the caller sleeps on `finished`: only then does the job
    /// that finishes the batch take the lock and wake it (a wake is a
    /// system call, paid per stage otherwise).
    sleeping: AtomicBool,
    /// Signalled when `unfinished` reaches zero and `sleeping` is set.
    finished: (Mutex<()>, Condvar),
}

impl Batch {
    fn new(jobs: Vec<Job>, threads: usize) -> Batch {
        Batch {
            unfinished: AtomicUsize::new(jobs.len()),
            claimed: jobs.iter().map(|_| AtomicBool::new(false)).collect(),
            threads: threads.max(1),
            jobs,
            status: AtomicI64::new(-1),
            panicked: AtomicBool::new(false),
            sleeping: AtomicBool::new(false),
            finished: (Mutex::new(()), Condvar::new()),
        }
    }

    /// Claims and runs jobs until none is left: thread `me`'s share first,
    /// then the others' from the last job back (the far end of a slow
    /// thread's share, away from where it works).
    fn work(&self, me: usize) {
        let len = self.jobs.len();
        let t = me % self.threads;
        let (start, end) = (t * len / self.threads, (t + 1) * len / self.threads);
        let others = (end..len).chain(0..start).rev();
        for k in (start..end).chain(others) {
            if self.claimed[k].swap(true, Ordering::AcqRel) {
                continue;
            }
            match run_caught(&self.jobs[k]) {
                Ok(code) if code >= 0 => {
                    let _ = self
                        .status
                        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                            Some(if s < 0 { code } else { s.min(code) })
                        });
                }
                Ok(_) => {}
                Err(Panicked) => self.panicked.store(true, Ordering::Release),
            }
            // SeqCst here and on `sleeping`: either the caller sees the
            // batch finished before it sleeps, or this sees it sleeping.
            if self.unfinished.fetch_sub(1, Ordering::SeqCst) == 1
                && self.sleeping.load(Ordering::SeqCst)
            {
                let _lock = lock(&self.finished.0);
                self.finished.1.notify_all();
            }
        }
    }

    fn is_finished(&self) -> bool {
        self.unfinished.load(Ordering::SeqCst) == 0
    }

    /// Returns when every job has returned: spins briefly, then sleeps.
    fn wait(&self) {
        if spin_until(|| self.is_finished()) {
            return;
        }
        let mut guard = lock(&self.finished.0);
        // Set under the lock: a job that finishes the batch after the check
        // below sees it, and its wake waits for this thread's `wait`.
        self.sleeping.store(true, Ordering::SeqCst);
        while !self.is_finished() {
            guard = match self.finished.1.wait(guard) {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            };
        }
    }
}

/// Waits for the batch's jobs when dropped, so that even if `run` unwinds
/// no worker still writes into a workspace its caller is about to free.
struct WaitForWorkers<'a>(&'a Batch);

impl Drop for WaitForWorkers<'_> {
    fn drop(&mut self) {
        // Nobody may claim a job from now on; the claimed ones finish.
        let never_started = self
            .0
            .claimed
            .iter()
            .filter(|c| !c.swap(true, Ordering::AcqRel))
            .count();
        if never_started > 0
            && self.0.unfinished.fetch_sub(never_started, Ordering::AcqRel) == never_started
        {
            return;
        }
        self.0.wait();
    }
}

/// What the workers watch: the current batch, by generation.
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    /// `state.generation`, readable without the lock (for spinning).
    generation: AtomicU64,
    /// Workers asleep on `wake` (changed under `state`'s lock): a new
    /// batch wakes them only if there are any (a wake is a system call).
    sleepers: AtomicUsize,
}

struct State {
    generation: u64,
    batch: Option<Arc<Batch>>,
    shutdown: bool,
}

pub(crate) struct Pool {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    /// Held for a whole `run`: one stage at a time per pool.
    running: Mutex<()>,
}

impl Pool {
    /// A pool where `threads - 1` workers help the calling thread.
    pub(crate) fn new(threads: usize) -> Pool {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                generation: 0,
                batch: None,
                shutdown: false,
            }),
            wake: Condvar::new(),
            generation: AtomicU64::new(0),
            sleepers: AtomicUsize::new(0),
        });
        let workers = (1..threads.max(1))
            .filter_map(|i| {
                let shared = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name(format!("convoy-jit-{i}"))
                    .spawn(move || worker(&shared, i))
                    .ok()
            })
            .collect();
        Pool {
            shared,
            workers,
            running: Mutex::new(()),
        }
    }

    pub(crate) fn threads(&self) -> usize {
        self.workers.len() + 1
    }

    /// Runs every job, on this thread and the workers; returns the smallest
    /// failure code (`>= 0`) or -1, or [`Panicked`] if any job panicked.
    /// Returns only when no job runs any more.
    pub(crate) fn run(&self, jobs: Vec<Job>) -> Result<i64, Panicked> {
        if jobs.len() <= 1 || self.workers.is_empty() {
            return run_here(&jobs);
        }
        let batch = Arc::new(Batch::new(jobs, self.threads()));
        {
            let _one_stage_at_a_time = lock(&self.running);
            self.publish(Some(Arc::clone(&batch)));
            let guard = WaitForWorkers(&batch);
            batch.work(0);
            drop(guard);
            self.publish(None);
        }
        if batch.panicked.load(Ordering::Acquire) {
            return Err(Panicked);
        }
        Ok(batch.status.load(Ordering::Acquire))
    }

    fn publish(&self, batch: Option<Arc<Batch>>) {
        let mut state = lock(&self.shared.state);
        let wake = batch.is_some();
        state.batch = batch;
        if wake {
            state.generation += 1;
            self.shared
                .generation
                .store(state.generation, Ordering::Release);
            // A worker counts itself under the lock before it sleeps, and
            // checks the generation under it first: none sleeps through
            // this batch uncounted.
            if self.shared.sleepers.load(Ordering::Relaxed) > 0 {
                self.shared.wake.notify_all();
            }
        }
    }
}

/// Runs `jobs` on this thread, one after the other (no batch, no lock, no
/// worker woken): the smallest failure code (`>= 0`) or -1, or
/// [`Panicked`] if any job panicked (the others still run).
pub(crate) fn run_here(jobs: &[Job]) -> Result<i64, Panicked> {
    let mut status = -1;
    let mut panicked = false;
    // Debug builds run the odd jobs first, then the even ones: a stage's
    // jobs must not depend on their order (threads run them in any
    // order), and a job that writes outside its own items is caught by
    // the tests as wrong output, not hidden by the neighbour owning those
    // bytes writing them later: past its end at boundaries `2 i | 2 i +
    // 1` (the odd job ran first), before its start at `2 i + 1 | 2 i + 2`.
    let n = jobs.len();
    for k in 0..n {
        let k = if cfg!(debug_assertions) {
            debug_order(k, n)
        } else {
            k
        };
        match run_caught(&jobs[k]) {
            Ok(code) if code >= 0 => status = if status < 0 { code } else { status.min(code) },
            Ok(_) => {}
            Err(Panicked) => panicked = true,
        }
    }
    if panicked {
        Err(Panicked)
    } else {
        Ok(status)
    }
}

/// The `k`-th job debug builds run of `n`: `1, 3, 5, .., 0, 2, 4, ..`.
fn debug_order(k: usize, n: usize) -> usize {
    let odd = n / 2;
    if k < odd {
        2 * k + 1
    } else {
        2 * (k - odd)
    }
}

/// Runs `job`, its panic caught.
fn run_caught(job: &Job) -> Result<i64, Panicked> {
    catch_unwind(AssertUnwindSafe(|| job.run())).map_err(|_| Panicked)
}

/// A worker: waits for a new batch, helps with it, and so on until shutdown.
fn worker(shared: &Shared, me: usize) {
    let mut seen = 0;
    loop {
        // Stages follow each other within microseconds: spin briefly before
        // sleeping, so that a parked thread's wake-up latency (tens of
        // microseconds) is not paid on every stage of a small map.
        spin_until(|| shared.generation.load(Ordering::Acquire) != seen);
        let batch = {
            let mut state = lock(&shared.state);
            while state.generation == seen && !state.shutdown {
                shared.sleepers.fetch_add(1, Ordering::Relaxed);
                state = match shared.wake.wait(state) {
                    Ok(s) => s,
                    Err(poisoned) => poisoned.into_inner(),
                };
                shared.sleepers.fetch_sub(1, Ordering::Relaxed);
            }
            if state.shutdown {
                return;
            }
            seen = state.generation;
            state.batch.clone()
        };
        if let Some(batch) = batch {
            batch.work(me);
        }
    }
}

/// How long a thread waits for the other threads before it sleeps.
const SPIN: Duration = Duration::from_micros(200);
/// How long of that it only spins; then it yields the core between checks.
const PURE_SPIN: Duration = Duration::from_micros(10);

/// Whether `done` became true within [`SPIN`]. After [`PURE_SPIN`] the
/// thread yields between checks: when the pool has more threads than it
/// gets cores (a shared machine, other processes), the thread it waits for
/// may be queued behind it on the same core, and spinning on would keep it
/// from running for a whole time slice.
fn spin_until(done: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    loop {
        for _ in 0..64 {
            if done() {
                return true;
            }
            std::hint::spin_loop();
        }
        let waited = start.elapsed();
        if waited >= SPIN {
            return done();
        }
        if waited >= PURE_SPIN {
            std::thread::yield_now();
        }
    }
}

/// Jobs catch their panics, so a poisoned lock only means a panic elsewhere
/// while it was held; the data behind these locks stays consistent.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        lock(&self.shared.state).shutdown = true;
        self.shared.wake.notify_all();
        for handle in self.workers.drain(..) {
            let _ = handle.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn debug_order_runs_every_job_once_odd_first() {
        for n in 0..9 {
            let order: Vec<usize> = (0..n).map(|k| debug_order(k, n)).collect();
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..n).collect::<Vec<_>>(), "{order:?}");
            let odd = order.iter().take_while(|&&k| k % 2 == 1).count();
            assert_eq!(odd, n / 2, "{order:?}");
        }
        assert_eq!(
            (0..5).map(|k| debug_order(k, 5)).collect::<Vec<_>>(),
            [1, 3, 0, 2, 4]
        );
    }

    static RAN: AtomicUsize = AtomicUsize::new(0);

    fn count() -> i64 {
        RAN.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_micros(300));
        -1
    }

    fn fails_at_7() -> i64 {
        7
    }

    fn fails_at_3() -> i64 {
        3
    }

    fn panics() -> i64 {
        panic!("injected panic in a JIT job")
    }

    #[test]
    fn every_job_runs_and_the_smallest_failure_wins() {
        let pool = Pool::new(3);
        let before = RAN.load(Ordering::SeqCst);
        let mut jobs: Vec<Job> = (0..20).map(|_| Job::test(count)).collect();
        jobs.push(Job::test(fails_at_7));
        jobs.push(Job::test(fails_at_3));
        assert_eq!(pool.run(jobs), Ok(3));
        assert!(RAN.load(Ordering::SeqCst) - before >= 20);
        assert_eq!(pool.run((0..4).map(|_| Job::test(count)).collect()), Ok(-1));
    }

    static ONCE_EACH: AtomicUsize = AtomicUsize::new(0);

    /// Counts its runs; busy for a few microseconds, so that the workers
    /// take part.
    fn tick() -> i64 {
        ONCE_EACH.fetch_add(1, Ordering::SeqCst);
        let start = Instant::now();
        while start.elapsed() < Duration::from_micros(20) {
            std::hint::spin_loop();
        }
        -1
    }

    /// More threads than cores (the waits yield): every job of every stage
    /// runs exactly once, and every `run` returns.
    #[test]
    fn an_oversubscribed_pool_runs_each_job_once() {
        let pool = Pool::new(8);
        for _ in 0..300 {
            assert_eq!(pool.run((0..16).map(|_| Job::test(tick)).collect()), Ok(-1));
        }
        assert_eq!(ONCE_EACH.load(Ordering::SeqCst), 300 * 16);
    }

    static WORKER_RAN: AtomicUsize = AtomicUsize::new(0);

    /// Busy for 2 ms; counts its runs on a worker thread.
    fn slow() -> i64 {
        let on_worker =
            (std::thread::current().name()).is_some_and(|n| n.starts_with("convoy-jit-"));
        WORKER_RAN.fetch_add(usize::from(on_worker), Ordering::SeqCst);
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(2) {
            std::hint::spin_loop();
        }
        -1
    }

    /// A worker that fell asleep between stages (the pause is longer than
    /// its spin) is woken for the next one: it runs some of its jobs.
    #[test]
    fn a_sleeping_worker_wakes_for_the_next_stage() {
        let pool = Pool::new(2);
        for _ in 0..10 {
            // Until the worker sleeps (it may not have started yet).
            let start = Instant::now();
            while pool.shared.sleepers.load(Ordering::SeqCst) == 0
                && start.elapsed() < Duration::from_secs(10)
            {
                std::thread::sleep(SPIN);
            }
            assert_eq!(pool.run((0..8).map(|_| Job::test(slow)).collect()), Ok(-1));
        }
        assert!(WORKER_RAN.load(Ordering::SeqCst) > 0);
    }

    #[test]
    fn a_panicking_job_is_an_error_and_the_pool_survives() {
        for threads in [1, 2, 4] {
            let pool = Pool::new(threads);
            let mut jobs: Vec<Job> = (0..8).map(|_| Job::test(count)).collect();
            jobs.insert(3, Job::test(panics));
            assert_eq!(pool.run(jobs), Err(Panicked), "{threads} threads");
            assert_eq!(pool.run(vec![Job::test(panics)]), Err(Panicked));
            // The workers are still there and take the next stage.
            assert_eq!(pool.run((0..6).map(|_| Job::test(count)).collect()), Ok(-1));
            assert_eq!(pool.threads(), threads);
        }
    }
}
