//! A progress bar for long batches: drawn on standard error, only on a
//! terminal, and only once the work has taken more than a second.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

pub struct Progress {
    total: usize,
    start: Instant,
    enabled: bool,
    drawn: bool,
}

impl Progress {
    pub fn new(total: usize) -> Progress {
        Progress {
            total,
            start: Instant::now(),
            enabled: std::io::stderr().is_terminal() && total > 1,
            drawn: false,
        }
    }

    /// Records that `done` of the images are finished.
    pub fn update(&mut self, done: usize) {
        let elapsed = self.start.elapsed();
        if !self.enabled || elapsed < Duration::from_secs(1) {
            return;
        }
        let line = bar(done, self.total, elapsed);
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{line}\x1b[K");
        let _ = err.flush();
        self.drawn = true;
    }

    /// Ends the bar's line, if one was drawn.
    pub fn finish(&mut self) {
        if self.drawn {
            eprintln!();
            self.drawn = false;
        }
    }
}

/// `[=========>          ] 12/40 images  3.1 images/s  9 s left`
pub fn bar(done: usize, total: usize, elapsed: Duration) -> String {
    const WIDTH: usize = 30;
    let total = total.max(1);
    let done = done.min(total);
    let filled = WIDTH * done / total;
    let mut cells = "=".repeat(filled);
    if filled < WIDTH {
        cells.push('>');
        cells.push_str(&" ".repeat(WIDTH - filled - 1));
    }
    let secs = elapsed.as_secs_f64().max(1e-9);
    let rate = done as f64 / secs;
    let left = if done == 0 {
        String::new()
    } else {
        format!("  {:.0} s left", (total - done) as f64 / rate)
    };
    format!("[{cells}] {done}/{total} images  {rate:.1} images/s{left}")
}

#[cfg(test)]
mod tests {
    use super::bar;
    use std::time::Duration;

    #[test]
    fn bar_fills_with_the_work_done() {
        assert_eq!(
            bar(0, 4, Duration::from_secs(2)),
            "[>                             ] 0/4 images  0.0 images/s"
        );
        assert_eq!(
            bar(2, 4, Duration::from_secs(2)),
            "[===============>              ] 2/4 images  1.0 images/s  2 s left"
        );
        assert_eq!(
            bar(4, 4, Duration::from_secs(2)),
            "[==============================] 4/4 images  2.0 images/s  0 s left"
        );
    }
}
