//! A persistent pool of worker threads: the calling thread runs the first job
//! of a stage itself and waits for the workers to finish the others.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Mutex;
use std::thread::JoinHandle;

use super::machine::Job;

pub(crate) struct Pool {
    workers: Vec<(Sender<Job>, JoinHandle<()>)>,
    /// Locked for a whole `run`: one stage at a time per pool.
    done: Mutex<Receiver<i64>>,
}

impl Pool {
    /// A pool where `threads - 1` workers help the calling thread.
    pub(crate) fn new(threads: usize) -> Pool {
        let (done_tx, done) = channel::<i64>();
        let workers = (1..threads.max(1))
            .filter_map(|i| {
                let (tx, rx) = channel::<Job>();
                let done_tx = done_tx.clone();
                std::thread::Builder::new()
                    .name(format!("convoy-jit-{i}"))
                    .spawn(move || {
                        while let Some(job) = wait(&rx) {
                            if done_tx.send(job.run()).is_err() {
                                break;
                            }
                        }
                    })
                    .ok()
                    .map(|h| (tx, h))
            })
            .collect();
        Pool {
            workers,
            done: Mutex::new(done),
        }
    }

    pub(crate) fn threads(&self) -> usize {
        self.workers.len() + 1
    }

    /// Runs every job (the first on this thread); returns the first failure
    /// code (`>= 0`), or -1. Returns only when all jobs have finished.
    pub(crate) fn run(&self, mut jobs: Vec<Job>) -> i64 {
        if jobs.is_empty() {
            return -1;
        }
        let done = match self.done.lock() {
            Ok(d) => d,
            Err(poisoned) => poisoned.into_inner(),
        };
        let first = jobs.remove(0);
        let mut sent = 0;
        let mut status = -1;
        for (job, (tx, _)) in jobs.into_iter().zip(self.workers.iter().cycle()) {
            match tx.send(job) {
                Ok(()) => sent += 1,
                // A dead worker hands the job back: run it here.
                Err(back) => status = merge(status, back.0.run()),
            }
        }
        status = merge(status, first.run());
        for _ in 0..sent {
            // Workers never drop `done_tx` while they hold a job.
            let r = wait(&done).unwrap_or(-1);
            status = merge(status, r);
        }
        status
    }
}

/// Stages follow each other within microseconds: spin briefly before
/// sleeping, so that a parked thread's wake-up latency (tens of
/// microseconds) is not paid on every stage of a small map.
fn wait<T>(rx: &Receiver<T>) -> Option<T> {
    let start = std::time::Instant::now();
    while start.elapsed() < SPIN {
        match rx.try_recv() {
            Ok(v) => return Some(v),
            Err(std::sync::mpsc::TryRecvError::Empty) => std::hint::spin_loop(),
            Err(std::sync::mpsc::TryRecvError::Disconnected) => return None,
        }
    }
    rx.recv().ok()
}

const SPIN: std::time::Duration = std::time::Duration::from_micros(200);

fn merge(a: i64, b: i64) -> i64 {
    match (a, b) {
        (-1, b) => b,
        (a, -1) => a,
        (a, b) => a.min(b),
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        for (tx, handle) in self.workers.drain(..) {
            drop(tx);
            let _ = handle.join();
        }
    }
}
