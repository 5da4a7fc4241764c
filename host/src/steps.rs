//! A benchmark seam: wall-clock marks of the steps of a call, so the benchmark can say where a
//! call's time goes between the host and the component (`RUNWARE_BENCH_PROFILE=steps`). Off
//! unless [`start_recording`] was called; off, a mark is one relaxed atomic load.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

/// A point in a call, in the order a call passes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// `Client` method entered (before an instance is taken).
    CallStart,
    /// The component's request reached the host's `send_request` hook.
    RequestAtHost,
    /// The response head arrived from the server.
    ResponseHead,
    /// The response body was read to its end (by the component, through wasi:http).
    BodyEnd,
    /// The `Client` method is about to return.
    CallEnd,
}

static ENABLED: AtomicBool = AtomicBool::new(false);
static MARKS: Mutex<Vec<(Step, Instant)>> = Mutex::new(Vec::new());

/// Starts recording marks (and forgets earlier ones).
pub fn start_recording() {
    MARKS.lock().unwrap_or_else(PoisonError::into_inner).clear();
    ENABLED.store(true, Ordering::Relaxed);
}

/// Stops recording and returns the marks, in the order they were made.
pub fn stop_recording() -> Vec<(Step, Instant)> {
    ENABLED.store(false, Ordering::Relaxed);
    std::mem::take(&mut *MARKS.lock().unwrap_or_else(PoisonError::into_inner))
}

/// Records `step` now, when recording.
pub(crate) fn mark(step: Step) {
    if ENABLED.load(Ordering::Relaxed) {
        let now = Instant::now();
        MARKS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((step, now));
    }
}
