//! The batch's progress: a live line on stderr (only when stderr is a terminal) with the
//! done, failed and in-flight counts, the rate, the ETA and the cost so far; and the summary
//! line at the end, always printed.

use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::backoff::GateStats;

/// The counts of a run, shared by every job.
#[derive(Debug)]
pub struct Progress {
    total: u64,
    done_before: u64,
    failed_before: u64,
    resumed: u64,
    done: AtomicU64,
    failed: AtomicU64,
    incomplete: AtomicU64,
    in_flight: AtomicU64,
    cost: Mutex<f64>,
    started: Instant,
    bar: Option<indicatif::ProgressBar>,
}

/// The end of a run, as the summary states it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Lines in the input.
    pub total: u64,
    /// Lines an earlier run had done (skipped).
    pub done_before: u64,
    /// Lines an earlier run had failed for good (skipped).
    pub failed_before: u64,
    /// Lines an earlier run had sent but not finished, resumed under their journalled
    /// taskUUIDs.
    pub resumed: u64,
    /// Lines that succeeded in this run.
    pub done: u64,
    /// Lines that failed for good in this run.
    pub failed: u64,
    /// Lines left with transient failures.
    pub incomplete: u64,
    /// Jobs finished per second in this run.
    pub jobs_per_sec: f64,
    /// Cost reported in this run, USD.
    pub cost: f64,
    /// How long the run took.
    pub elapsed: Duration,
}

impl Progress {
    /// Counts for `total` lines of which earlier runs finished some (done or failed for
    /// good); shows a bar when stderr is a terminal.
    pub fn new(total: u64, done_before: u64, failed_before: u64, resumed: u64) -> Self {
        let skipped = done_before.saturating_add(failed_before);
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(total);
            if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:24} {pos}/{len} {msg}")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_position(skipped);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress {
            total,
            done_before,
            failed_before,
            resumed,
            done: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            incomplete: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            cost: Mutex::new(0.0),
            started: Instant::now(),
            bar,
        }
    }

    /// A job started.
    pub fn start_job(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.refresh();
    }

    /// A job ended: `ok` or failed for good or left incomplete, with its cost.
    pub fn end_job(&self, status: super::store::Status, cost: Option<f64>) {
        use super::store::Status;
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        let counter = match status {
            Status::Success => &self.done,
            Status::Failed => &self.failed,
            Status::Incomplete => &self.incomplete,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if let Some(c) = cost {
            *self.cost.lock().unwrap_or_else(PoisonError::into_inner) += c;
        }
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        self.refresh();
    }

    /// Prints a line without garbling the bar.
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    /// The counts now.
    pub fn summary(&self) -> Summary {
        let done = self.done.load(Ordering::Relaxed);
        let failed = self.failed.load(Ordering::Relaxed);
        let incomplete = self.incomplete.load(Ordering::Relaxed);
        let elapsed = self.started.elapsed();
        let finished = done.saturating_add(failed);
        let secs = elapsed.as_secs_f64();
        Summary {
            total: self.total,
            done_before: self.done_before,
            failed_before: self.failed_before,
            resumed: self.resumed,
            done,
            failed,
            incomplete,
            jobs_per_sec: if secs > 0.0 {
                to_f64(finished) / secs
            } else {
                0.0
            },
            cost: *self.cost.lock().unwrap_or_else(PoisonError::into_inner),
            elapsed,
        }
    }

    fn refresh(&self) {
        let Some(bar) = &self.bar else {
            return;
        };
        let s = self.summary();
        let left = s
            .total
            .saturating_sub(s.done_before)
            .saturating_sub(s.failed_before)
            .saturating_sub(s.done)
            .saturating_sub(s.failed)
            .saturating_sub(s.incomplete);
        let eta = if s.jobs_per_sec > 0.0 {
            format!("{:.0} s", to_f64(left) / s.jobs_per_sec)
        } else {
            "?".to_string()
        };
        bar.set_message(format!(
            "done {} failed {} in flight {} | {:.1} jobs/s, ETA {eta} | ${:.4}",
            s.done.saturating_add(s.done_before),
            s.failed.saturating_add(s.failed_before),
            self.in_flight.load(Ordering::Relaxed),
            s.jobs_per_sec,
            s.cost
        ));
    }

    /// Clears the bar and prints the summary line.
    pub fn finish(&self, gate: GateStats, dir: &std::path::Path) -> Summary {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        let s = self.summary();
        eprintln!("{}", summary_line(&s, &gate, dir));
        s
    }
}

/// The summary: counts, retries and pauses, the rate, the cost and where the manifest is.
pub fn summary_line(s: &Summary, gate: &GateStats, dir: &std::path::Path) -> String {
    format!(
        "runware: batch: {} lines: {} done ({} before), {} failed ({} before), {} incomplete, \
         {} resumed; {} retries, {} shared pauses ({:.1} s); {:.1} jobs/s in {:.1} s; cost ${:.4}; manifest {}",
        s.total,
        s.done.saturating_add(s.done_before),
        s.done_before,
        s.failed.saturating_add(s.failed_before),
        s.failed_before,
        s.incomplete,
        s.resumed,
        gate.failures,
        gate.pauses,
        gate.paused.as_secs_f64(),
        s.jobs_per_sec,
        s.elapsed.as_secs_f64(),
        s.cost,
        dir.join(super::store::MANIFEST).display()
    )
}

/// A count as a float, for rates (exact below 2^53, far above any batch).
fn to_f64(n: u64) -> f64 {
    n as f64
}
