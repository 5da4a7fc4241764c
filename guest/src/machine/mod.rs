//! The per-call state machine: it decides every request, wait and result of a call, and the
//! wasi glue only executes its actions.
//!
//! Drive it like this (time and randomness are passed in, so a test can script a whole
//! conversation with a fake server):
//!
//! ```
//! use runware_guest::machine::{Action, Call, Event};
//! use runware_guest::options::Options;
//! use runware_guest::retry::SplitMix64;
//! use serde_json::json;
//!
//! let task = json!({"taskType": "modelSearch", "taskUUID": "u1"});
//! let task = task.as_object().cloned().unwrap_or_default();
//! let mut rng = SplitMix64(7);
//! let mut call = Call::run(&Options::default(), vec![task], 0);
//! let mut action = call.start(0);
//! if let Action::Send { .. } = action {
//!     let body = br#"{"data":[{"taskType":"modelSearch","taskUUID":"u1","results":[]}]}"#.to_vec();
//!     action = call.handle(Event::Response { status: 200, headers: vec![], body }, 5, &mut rng);
//! }
//! assert!(matches!(action, Action::Done(Ok(_))));
//! ```
//!
//! This module holds [`Call`]'s public face (constructors, `start`, `handle`) and the per-task
//! state every part shares; the rest is split by concern, each part an `impl Call` block:
//! - `vocabulary`: the types the glue and every machine speak ([`Action`], [`Event`],
//!   [`RunOutcome`], [`Machine`], …), re-exported here;
//! - `schedule`: what is due, deadlines, sleeping, and the next request;
//! - `correlate`: matching an answer's items to tasks, and the resend/poll/fail decisions;
//! - `outcome`: the merged response and the [`RunOutcome`] a call ends in.

use crate::prelude::*;

mod correlate;
mod outcome;
mod schedule;
mod vocabulary;

use alloc::collections::BTreeSet;

use serde_json::{Map, Value};

pub use self::vocabulary::{
    Action, Event, Machine, Method, RunOutcome, TaskOutcome, TaskStatus, Timeouts, TransportKind,
};
use crate::error::ClientError;
use crate::options::Options;
use crate::parse::str_field;
use crate::request::{expected_results, is_async};
use crate::retry::Entropy;

// The state below is shared by every part of the machine (the child modules see these private
// fields), so it lives here rather than in any one of them.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Submit,
    Poll,
    Success,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RoundKind {
    Submit,
    Poll,
}

#[derive(Debug, Clone)]
struct Slot {
    body: Option<Map<String, Value>>,
    uuid: String,
    task_type: String,
    expected: u32,
    phase: Phase,
    sends_of_uuid: u32,
    retries: u32,
    next_at: u64,
    poll_delay: u64,
    results: Vec<Map<String, Value>>,
    keys: BTreeSet<String>,
    latest_other: Option<Map<String, Value>>,
    error: Option<ClientError>,
    error_item: Option<Map<String, Value>>,
    answered: bool,
    pending_now: bool,
}

#[derive(Debug, Clone)]
struct Round {
    kind: RoundKind,
    slots: Vec<usize>,
    trace: String,
}

/// How an attempt ended, for its trace line (formatted only when the call is traced).
enum Outcome {
    Text(alloc::borrow::Cow<'static, str>),
    Status(u16),
}

impl From<&'static str> for Outcome {
    fn from(s: &'static str) -> Self {
        Outcome::Text(s.into())
    }
}

impl From<String> for Outcome {
    fn from(s: String) -> Self {
        Outcome::Text(s.into())
    }
}

impl core::fmt::Display for Outcome {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Outcome::Text(t) => f.write_str(t),
            Outcome::Status(s) => write!(f, "{s}"),
        }
    }
}

/// What kind of call this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Submit tasks (and poll async ones) until done.
    Run,
    /// One `getResponse` round.
    PollOnce,
    /// Poll until done; a deadline is a call error.
    Wait,
    /// Submit the tasks and stop once Runware acknowledged them (async jobs to poll later).
    Submit,
}

/// The state machine of one call. See the module docs.
#[derive(Debug, Clone)]
pub struct Call {
    opts: Options,
    mode: Mode,
    slots: Vec<Slot>,
    deadline_at: u64,
    poll_deadline_at: Option<u64>,
    attempts: u32,
    in_flight: Option<Round>,
    merged_data: Vec<Value>,
    extra_errors: Vec<Value>,
    unknown: Option<ClientError>,
    last_error: Option<ClientError>,
    retry_after_now: Option<u64>,
    trace: Vec<String>,
    done: bool,
}

fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or_default();
    line.chars().take(300).collect()
}

impl Call {
    /// `polls`: whether the call may poll (async tasks, `wait`). Such a call without a deadline
    /// of the caller's gets the poll deadline on top of the default one, so a video's wait is
    /// bounded by the poll deadline, not cut at the default five minutes.
    fn new(opts: &Options, mode: Mode, slots: Vec<Slot>, polls: bool, now_ms: u64) -> Self {
        let deadline_ms = if polls && !opts.deadline_set {
            opts.deadline_ms.saturating_add(opts.poll_deadline_ms)
        } else {
            opts.deadline_ms
        };
        Self {
            opts: opts.clone(),
            mode,
            slots,
            deadline_at: now_ms.saturating_add(deadline_ms),
            poll_deadline_at: None,
            attempts: 0,
            in_flight: None,
            merged_data: Vec::new(),
            extra_errors: Vec::new(),
            unknown: None,
            last_error: None,
            retry_after_now: None,
            trace: Vec::new(),
            done: false,
        }
    }

    fn slot(
        body: Option<Map<String, Value>>,
        uuid: String,
        task_type: String,
        expected: u32,
        phase: Phase,
        now: u64,
        poll: u64,
    ) -> Slot {
        Slot {
            body,
            uuid,
            task_type,
            expected,
            phase,
            sends_of_uuid: 0,
            retries: 0,
            next_at: now,
            poll_delay: poll,
            results: Vec::new(),
            keys: BTreeSet::new(),
            latest_other: None,
            error: None,
            error_item: None,
            answered: false,
            pending_now: false,
        }
    }

    /// A call that submits `tasks` (each a task object holding a string `taskUUID` and
    /// `taskType`, as [`crate::request`] builds them) and polls the async ones to completion.
    pub fn run(opts: &Options, tasks: Vec<Map<String, Value>>, now_ms: u64) -> Self {
        Self::submission(opts, Mode::Run, tasks, now_ms)
    }

    /// A call that submits `tasks` and ends as soon as Runware acknowledged them (or answered
    /// them): their taskUUIDs are the jobs to poll later. Retries before the acknowledgement
    /// are made as in [`Call::run`].
    pub fn submit(opts: &Options, tasks: Vec<Map<String, Value>>, now_ms: u64) -> Self {
        Self::submission(opts, Mode::Submit, tasks, now_ms)
    }

    fn submission(opts: &Options, mode: Mode, tasks: Vec<Map<String, Value>>, now_ms: u64) -> Self {
        let polls = mode == Mode::Run && tasks.iter().any(is_async);
        let slots = tasks
            .into_iter()
            .map(|t| {
                let uuid = str_field(&t, "taskUUID").unwrap_or_default().to_string();
                let task_type = str_field(&t, "taskType").unwrap_or_default().to_string();
                let expected = expected_results(&t);
                Self::slot(
                    Some(t),
                    uuid,
                    task_type,
                    expected,
                    Phase::Submit,
                    now_ms,
                    opts.poll_interval_ms,
                )
            })
            .collect();
        Self::new(opts, mode, slots, polls, now_ms)
    }

    /// A call that asks `getResponse` once for `task_uuid` (HTTP-level failures are retried).
    pub fn get_response(opts: &Options, task_uuid: &str, now_ms: u64) -> Self {
        let slot = Self::slot(
            None,
            task_uuid.to_string(),
            String::new(),
            1,
            Phase::Poll,
            now_ms,
            opts.poll_interval_ms,
        );
        Self::new(opts, Mode::PollOnce, vec![slot], false, now_ms)
    }

    /// A call that polls `getResponse` for `task_uuid` until `expected` results succeeded, the
    /// task failed, or the poll deadline passed (a `timeout` error with the partial results).
    pub fn wait(opts: &Options, task_uuid: &str, expected: u32, now_ms: u64) -> Self {
        let slot = Self::slot(
            None,
            task_uuid.to_string(),
            String::new(),
            expected.max(1),
            Phase::Poll,
            now_ms,
            opts.poll_interval_ms,
        );
        let mut call = Self::new(opts, Mode::Wait, vec![slot], true, now_ms);
        call.poll_deadline_at = Some(now_ms.saturating_add(opts.poll_deadline_ms));
        call
    }

    /// HTTP requests made so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Takes the trace lines produced so far (only when the `trace` option is on).
    pub fn drain_trace(&mut self) -> Vec<String> {
        core::mem::take(&mut self.trace)
    }

    /// The first action.
    pub fn start(&mut self, now_ms: u64) -> Action<RunOutcome> {
        self.next_action(now_ms)
    }

    /// Consumes an event and returns the next action. After `Done`, it returns `Done` again.
    pub fn handle(
        &mut self,
        event: Event,
        now_ms: u64,
        rng: &mut dyn Entropy,
    ) -> Action<RunOutcome> {
        let Some(round) = self.in_flight.take() else {
            return self.next_action(now_ms);
        };
        let outcome = match event {
            Event::Slept => {
                // Not expected while a request is in flight: treat as a lost answer.
                self.on_transport(
                    &round,
                    TransportKind::Other,
                    "no answer was reported",
                    now_ms,
                    rng,
                );
                "no answer".into()
            }
            Event::TransportError { kind, message } => {
                let message = first_line(&message);
                self.on_transport(&round, kind, &message, now_ms, rng);
                format!("transport error: {message}").into()
            }
            Event::Response {
                status,
                headers,
                body,
            } => {
                self.on_response(&round, status, &headers, &body, now_ms, rng);
                Outcome::Status(status)
            }
        };
        let action = self.next_action(now_ms);
        // Formatted only when traced: a call that is not traced formats nothing per attempt.
        if self.opts.trace {
            let mut line = format!("{} -> {outcome}", round.trace);
            if let Action::Sleep(ms) = &action {
                let what = if self.slots.iter().any(|s| s.phase == Phase::Submit) {
                    "retry"
                } else {
                    "poll"
                };
                line.push_str(&format!(" [{what} in {ms} ms]"));
            }
            self.trace.push(line);
        }
        action
    }

    // Here rather than in one part: scheduling fails tasks at a deadline, correlation on errors.
    fn fail_slot(&mut self, i: usize, err: ClientError, item: Option<Map<String, Value>>) {
        if let Some(slot) = self.slots.get_mut(i) {
            let tt = if slot.task_type.is_empty() {
                None
            } else {
                Some(slot.task_type.as_str())
            };
            let err = if err.detail.task_uuid.is_none() {
                err.for_task(&slot.uuid, tt)
            } else {
                err
            };
            slot.phase = Phase::Failed;
            slot.error = Some(err);
            slot.error_item = item;
        }
    }
}

impl Machine for Call {
    type Output = RunOutcome;
    fn start(&mut self, now_ms: u64) -> Action<RunOutcome> {
        Call::start(self, now_ms)
    }
    fn handle(&mut self, event: Event, now_ms: u64, rng: &mut dyn Entropy) -> Action<RunOutcome> {
        Call::handle(self, event, now_ms, rng)
    }
    fn drain_trace(&mut self) -> Vec<String> {
        Call::drain_trace(self)
    }
}
