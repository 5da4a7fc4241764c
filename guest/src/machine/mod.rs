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

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::error::{ClientError, ErrorKind, status_error, status_retryable};
use crate::options::Options;
use crate::parse::{
    Parsed, error_from_item, is_error_item, is_result_item, item_task_uuid, parse_response,
    result_key, str_field,
};
use crate::request::{expected_results, get_response_task};
use crate::retry::{Entropy, backoff_delay_ms, next_poll_delay_ms, parse_retry_after};

/// HTTP method of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// POST (tasks).
    Post,
    /// GET (downloads).
    Get,
}

/// Timeouts of one request, each already bounded by the call's remaining time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Connect timeout, ms.
    pub connect_ms: u64,
    /// First-byte timeout, ms.
    pub first_byte_ms: u64,
    /// Between-bytes timeout, ms.
    pub between_bytes_ms: u64,
}

/// What the glue must do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Action<T> {
    /// Make one HTTP request (JSON body for POST), then report an [`Event::Response`] or
    /// [`Event::TransportError`]. Read at most `max_response_bytes + 1` bytes of the answer.
    Send {
        /// Method.
        method: Method,
        /// Full URL.
        url: String,
        /// Body bytes (empty for GET).
        body: Vec<u8>,
        /// The taskUUIDs in the body (for traces).
        task_uuids: Vec<String>,
        /// Timeouts to put on the request.
        timeouts: Timeouts,
        /// Stop reading the body after this many bytes plus one.
        max_response_bytes: u64,
    },
    /// Wait this many ms (on the monotonic clock), then report [`Event::Slept`].
    Sleep(u64),
    /// The call is over.
    Done(Result<T, ClientError>),
}

/// Why a request failed below HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// The host refused the destination (`HTTP-request-denied`): not retryable.
    Denied,
    /// A connect, first-byte or between-bytes timeout.
    Timeout,
    /// The connection failed, was refused or reset, or the body broke off.
    Connection,
    /// The host refused a response body over its size cap: not retryable.
    TooLarge,
    /// Anything else from the HTTP stack.
    Other,
}

impl TransportKind {
    /// The error a request that failed this way ends in.
    pub fn error(self, message: &str) -> ClientError {
        let what = match self {
            TransportKind::Denied => "the host refused the request",
            TransportKind::Timeout => "the request timed out",
            TransportKind::Connection => "the connection failed",
            TransportKind::TooLarge => {
                return ClientError::new(
                    ErrorKind::Server,
                    "responseTooLarge",
                    format!("the host refused a response body over its size cap: {message}"),
                )
                .retryable(false);
            }
            TransportKind::Other => "the request failed",
        };
        ClientError::new(
            ErrorKind::Transport,
            "transportError",
            format!("{what}: {message}"),
        )
        .retryable(self != TransportKind::Denied)
    }
}

/// What happened since the last action.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// An answer arrived: status, headers (names in any case) and the body read so far
    /// (longer than `max_response_bytes` means over the cap).
    Response {
        /// HTTP status.
        status: u16,
        /// Response headers.
        headers: Vec<(String, String)>,
        /// Body bytes.
        body: Vec<u8>,
    },
    /// The request failed below HTTP.
    TransportError {
        /// The failure's kind.
        kind: TransportKind,
        /// A one-line description (no headers, no key).
        message: String,
    },
    /// The wait asked by [`Action::Sleep`] is over.
    Slept,
}

/// Where a task stands (the WIT `task-status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    /// Not every expected result has arrived yet.
    Processing,
    /// Every expected result arrived.
    Success,
    /// The task ended with an error.
    Failed,
}

/// The outcome of one task (the WIT `task-result`, with the error's case kept).
#[derive(Debug, Clone, PartialEq)]
pub struct TaskOutcome {
    /// The task's (last) taskUUID.
    pub task_uuid: String,
    /// The task's type.
    pub task_type: String,
    /// Where it stands.
    pub status: TaskStatus,
    /// Its result items, in arrival order, without duplicates.
    pub data: Vec<Map<String, Value>>,
    /// Its error when failed.
    pub error: Option<ClientError>,
}

/// The outcome of a call (the WIT `run-result`).
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    /// One entry per task, in input order.
    pub tasks: Vec<TaskOutcome>,
    /// The merged response `{"data":[…],"errors":[…]}`.
    pub response_json: String,
    /// HTTP requests made.
    pub attempts: u32,
}

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

/// A call's state machine, as the glue drives it: [`Call`] and [`crate::download::Download`].
pub trait Machine {
    /// What the call returns.
    type Output;
    /// The first action.
    fn start(&mut self, now_ms: u64) -> Action<Self::Output>;
    /// Consumes an event and returns the next action.
    fn handle(&mut self, event: Event, now_ms: u64, rng: &mut dyn Entropy) -> Action<Self::Output>;
    /// Takes the trace lines produced so far.
    fn drain_trace(&mut self) -> Vec<String>;
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

/// What kind of call this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Submit tasks (and poll async ones) until done.
    Run,
    /// One `getResponse` round.
    PollOnce,
    /// Poll until done; a deadline is a call error.
    Wait,
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
    merged_data_seen: BTreeSet<String>,
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
    fn new(opts: &Options, mode: Mode, slots: Vec<Slot>, now_ms: u64) -> Self {
        Self {
            opts: opts.clone(),
            mode,
            slots,
            deadline_at: now_ms.saturating_add(opts.deadline_ms),
            poll_deadline_at: None,
            attempts: 0,
            in_flight: None,
            merged_data: Vec::new(),
            merged_data_seen: BTreeSet::new(),
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
        Self::new(opts, Mode::Run, slots, now_ms)
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
        Self::new(opts, Mode::PollOnce, vec![slot], now_ms)
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
        let mut call = Self::new(opts, Mode::Wait, vec![slot], now_ms);
        call.poll_deadline_at = Some(now_ms.saturating_add(opts.poll_deadline_ms));
        call
    }

    /// HTTP requests made so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Takes the trace lines produced so far (only when the `trace` option is on).
    pub fn drain_trace(&mut self) -> Vec<String> {
        std::mem::take(&mut self.trace)
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
                "no answer".to_string()
            }
            Event::TransportError { kind, message } => {
                let message = first_line(&message);
                self.on_transport(&round, kind, &message, now_ms, rng);
                format!("transport error: {message}")
            }
            Event::Response {
                status,
                headers,
                body,
            } => {
                self.on_response(&round, status, &headers, &body, now_ms, rng);
                status.to_string()
            }
        };
        let mut line = format!("{} -> {outcome}", round.trace);
        let action = self.next_action(now_ms);
        if let Action::Sleep(ms) = &action {
            let what = if self.slots.iter().any(|s| s.phase == Phase::Submit) {
                "retry"
            } else {
                "poll"
            };
            line.push_str(&format!(" [{what} in {ms} ms]"));
        }
        if self.opts.trace {
            self.trace.push(line);
        }
        action
    }

    fn active(&self) -> impl Iterator<Item = (usize, &Slot)> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s.phase, Phase::Submit | Phase::Poll))
    }

    fn deadline_error(&self, what: &str, uuid: &str, task_type: &str) -> ClientError {
        let mut e = ClientError::new(ErrorKind::Timeout, "deadlineExceeded", what.to_string())
            .retryable(true);
        if let Some(last) = &self.last_error {
            e.detail.message = format!(
                "{what}; last error: {} ({})",
                last.detail.code, last.detail.message
            );
            e.detail.http_status = last.detail.http_status;
            e.detail.parameter.clone_from(&last.detail.parameter);
        }
        let tt = if task_type.is_empty() {
            None
        } else {
            Some(task_type)
        };
        e.for_task(uuid, tt)
    }

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

    fn next_action(&mut self, now: u64) -> Action<RunOutcome> {
        for _ in 0..(self.slots.len() * 3 + 4) {
            if self.done || self.active().next().is_none() {
                return Action::Done(self.finish());
            }
            // The poll deadline fails the tasks still polling.
            if let Some(pd) = self.poll_deadline_at {
                let polling: Vec<usize> = self
                    .active()
                    .filter(|(_, s)| s.phase == Phase::Poll)
                    .map(|(i, _)| i)
                    .collect();
                let earliest = polling
                    .iter()
                    .filter_map(|i| self.slots.get(*i))
                    .map(|s| s.next_at)
                    .min();
                if earliest.is_some_and(|t| now >= pd || t > pd) {
                    for i in polling {
                        let (uuid, tt) = self
                            .slots
                            .get(i)
                            .map(|s| (s.uuid.clone(), s.task_type.clone()))
                            .unwrap_or_default();
                        let e = self.deadline_error(
                            &format!(
                                "the poll deadline of {} ms passed before the task finished",
                                self.opts.poll_deadline_ms
                            ),
                            &uuid,
                            &tt,
                        );
                        self.fail_slot(i, e, None);
                    }
                    continue;
                }
            }
            let Some(earliest) = self.active().map(|(_, s)| s.next_at).min() else {
                continue;
            };
            if earliest > now || now >= self.deadline_at {
                if earliest >= self.deadline_at || now >= self.deadline_at {
                    let active: Vec<usize> = self.active().map(|(i, _)| i).collect();
                    for i in active {
                        let (uuid, tt) = self
                            .slots
                            .get(i)
                            .map(|s| (s.uuid.clone(), s.task_type.clone()))
                            .unwrap_or_default();
                        let e = self.deadline_error(
                            &format!("the call's deadline of {} ms passed", self.opts.deadline_ms),
                            &uuid,
                            &tt,
                        );
                        self.fail_slot(i, e, None);
                    }
                    continue;
                }
                return Action::Sleep(earliest - now);
            }
            // Send: due submissions first, then due polls.
            let due_submit: Vec<usize> = self
                .active()
                .filter(|(_, s)| s.phase == Phase::Submit && s.next_at <= now)
                .map(|(i, _)| i)
                .collect();
            let (kind, indices) = if due_submit.is_empty() {
                let due_poll: Vec<usize> = self
                    .active()
                    .filter(|(_, s)| s.phase == Phase::Poll && s.next_at <= now)
                    .map(|(i, _)| i)
                    .collect();
                (RoundKind::Poll, due_poll)
            } else {
                (RoundKind::Submit, due_submit)
            };
            let mut tasks = Vec::with_capacity(indices.len());
            let mut uuids = Vec::with_capacity(indices.len());
            for i in &indices {
                if let Some(slot) = self.slots.get_mut(*i) {
                    match (kind, &slot.body) {
                        (RoundKind::Submit, Some(body)) => {
                            tasks.push(Value::Object(body.clone()));
                            slot.sends_of_uuid += 1;
                        }
                        _ => tasks.push(get_response_task(&slot.uuid)),
                    }
                    uuids.push(slot.uuid.clone());
                }
            }
            let body = Value::Array(tasks).to_string().into_bytes();
            self.attempts += 1;
            let remaining = self.deadline_at.saturating_sub(now).max(1);
            let trace = format!(
                "runware: attempt {} POST {} tasks={}",
                self.attempts,
                self.opts.base_url,
                uuids.join(",")
            );
            self.in_flight = Some(Round {
                kind,
                slots: indices,
                trace,
            });
            return Action::Send {
                method: Method::Post,
                url: self.opts.base_url.clone(),
                body,
                task_uuids: uuids,
                timeouts: Timeouts {
                    connect_ms: self.opts.connect_timeout_ms.min(remaining),
                    first_byte_ms: self.opts.first_byte_timeout_ms.min(remaining),
                    between_bytes_ms: self.opts.between_bytes_timeout_ms.min(remaining),
                },
                max_response_bytes: self.opts.max_response_bytes,
            };
        }
        // Unreachable in practice; end cleanly rather than loop.
        Action::Done(self.finish())
    }

    fn on_transport(
        &mut self,
        round: &Round,
        kind: TransportKind,
        message: &str,
        now: u64,
        rng: &mut dyn Entropy,
    ) {
        let err = kind.error(message);
        self.round_failure(round, &err, None, &BTreeSet::new(), now, rng);
    }

    /// Retries or fails every task of `round` that is still pending after an HTTP-level failure
    /// (slots in `handled` were already dealt with by this response).
    fn round_failure(
        &mut self,
        round: &Round,
        err: &ClientError,
        retry_after: Option<u64>,
        handled: &BTreeSet<usize>,
        now: u64,
        rng: &mut dyn Entropy,
    ) {
        self.last_error = Some(err.clone());
        let pending: Vec<usize> = round
            .slots
            .iter()
            .copied()
            .filter(|i| !handled.contains(i))
            .filter(|i| {
                self.slots
                    .get(*i)
                    .is_some_and(|s| matches!(s.phase, Phase::Submit | Phase::Poll))
            })
            .collect();
        let n = pending
            .iter()
            .filter_map(|i| self.slots.get(*i))
            .map(|s| s.retries)
            .max()
            .unwrap_or(0);
        let delay = retry_after.unwrap_or_else(|| backoff_delay_ms(n, rng.next_u64()));
        let budgeted = round.kind == RoundKind::Submit || self.mode == Mode::PollOnce;
        let max = self.opts.max_retries;
        let interval = self.opts.poll_interval_ms;
        for i in pending {
            let Some(slot) = self.slots.get_mut(i) else {
                continue;
            };
            if !err.detail.retryable {
                self.fail_slot(i, err.clone(), None);
            } else if budgeted {
                if slot.retries < max {
                    slot.retries += 1;
                    slot.next_at = now.saturating_add(delay);
                } else {
                    self.fail_slot(i, err.clone(), None);
                }
            } else {
                // Poll failures follow the poll schedule, bounded by the poll deadline.
                let d = retry_after.unwrap_or(slot.poll_delay).max(slot.poll_delay);
                slot.next_at = now.saturating_add(d);
                slot.poll_delay = next_poll_delay_ms(slot.poll_delay, interval);
            }
        }
    }

    fn on_response(
        &mut self,
        round: &Round,
        status: u16,
        headers: &[(String, String)],
        body: &[u8],
        now: u64,
        rng: &mut dyn Entropy,
    ) {
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let retry_after = header("retry-after").and_then(|v| parse_retry_after(v, header("date")));
        self.retry_after_now = retry_after;
        let none = BTreeSet::new();
        if u64::try_from(body.len()).unwrap_or(u64::MAX) > self.opts.max_response_bytes {
            let err = ClientError::new(
                ErrorKind::Server,
                "responseTooLarge",
                format!(
                    "the response is larger than max-response-bytes ({} bytes)",
                    self.opts.max_response_bytes
                ),
            )
            .with_status(Some(status));
            self.round_failure(round, &err, None, &none, now, rng);
            return;
        }
        let parsed = parse_response(body);
        if (200..300).contains(&status) {
            match parsed {
                Ok(p) => {
                    let mut handled = self.correlate(round, p, Some(status), now, rng);
                    self.settle(round, &mut handled, true, now);
                }
                Err(why) => {
                    let err = ClientError::new(
                        ErrorKind::Server,
                        "invalidResponse",
                        format!("Runware's answer could not be read: {why}"),
                    )
                    .retryable(true)
                    .with_status(Some(status));
                    self.round_failure(round, &err, retry_after, &none, now, rng);
                }
            }
            return;
        }
        if status_retryable(status) {
            // Keep any results it carries (never bill twice) and route error items that name a
            // task (a task's own failure, e.g. getResponse answering 504 with `timeoutProvider`);
            // the rest of the round is retried as is, with the same taskUUIDs.
            let mut err = status_error(status);
            let mut handled = BTreeSet::new();
            if let Ok(mut p) = parsed {
                let (named, unnamed): (Vec<_>, Vec<_>) = p
                    .errors
                    .into_iter()
                    .partition(|e| item_task_uuid(e).is_some());
                if let Some(first) = unnamed.first() {
                    let mut e = error_from_item(first, Some(status));
                    e.detail.retryable = true;
                    if e.kind == ErrorKind::Other || e.kind == ErrorKind::InvalidRequest {
                        e.kind = err.kind;
                    }
                    err = e;
                }
                p.errors = named;
                handled = self.correlate(round, p, Some(status), now, rng);
                self.settle(round, &mut handled, false, now);
            }
            self.round_failure(round, &err, retry_after, &handled, now, rng);
            return;
        }
        // A non-retryable status: route its error items; tasks without an item get the status error.
        let mut err = status_error(status);
        let mut handled = match parsed {
            Ok(p) => self.correlate(round, p, Some(status), now, rng),
            Err(why) => {
                err.detail.message = format!(
                    "HTTP status {status}, and the body could not be read as a Runware answer: {why}"
                );
                BTreeSet::new()
            }
        };
        self.settle(round, &mut handled, false, now);
        self.round_failure(round, &err, None, &handled, now, rng);
    }

    /// The taskUUID of the only task of `task_type` in `round` still short of results.
    fn sole_unfinished_of_type(&self, round: &Round, task_type: Option<&str>) -> Option<String> {
        let task_type = task_type?;
        let mut matching = round
            .slots
            .iter()
            .filter_map(|&i| self.slots.get(i))
            .filter(|s| {
                s.task_type == task_type
                    && u32::try_from(s.results.len()).unwrap_or(u32::MAX) < s.expected
            });
        let only = matching.next()?;
        matching.next().is_none().then(|| only.uuid.clone())
    }

    fn find_slot(&self, uuid: &str) -> Option<usize> {
        self.slots.iter().position(|s| s.uuid == uuid)
    }

    fn push_merged(&mut self, item: &Map<String, Value>) {
        let v = Value::Object(item.clone());
        if self.merged_data_seen.insert(v.to_string()) {
            self.merged_data.push(v);
        }
    }

    fn is_active(&self, i: usize) -> bool {
        self.slots
            .get(i)
            .is_some_and(|s| matches!(s.phase, Phase::Submit | Phase::Poll))
    }

    /// Routes every item of a response to its task by taskUUID. Returns the slots whose fate
    /// this response already decided (failed, or rescheduled by a task-level error).
    fn correlate(
        &mut self,
        round: &Round,
        parsed: Parsed,
        status: Option<u16>,
        now: u64,
        rng: &mut dyn Entropy,
    ) -> BTreeSet<usize> {
        let mut handled: BTreeSet<usize> = BTreeSet::new();
        for &i in &round.slots {
            if let Some(s) = self.slots.get_mut(i) {
                s.pending_now = false;
            }
        }
        for mut item in parsed.data {
            let uuid = match item_task_uuid(&item) {
                Some(uuid) => uuid.to_string(),
                // Runware answers some tasks (`ping`) without a taskUUID: such an item belongs
                // to the one unfinished task of its taskType in this request, if there is one.
                None => match self.sole_unfinished_of_type(round, str_field(&item, "taskType")) {
                    Some(uuid) => {
                        item.insert("taskUUID".to_string(), Value::String(uuid.clone()));
                        uuid
                    }
                    None => {
                        self.push_merged(&item);
                        continue;
                    }
                },
            };
            let Some(i) = self.find_slot(&uuid) else {
                self.push_merged(&item);
                self.note_unknown(&uuid, &item);
                continue;
            };
            if is_error_item(&item) {
                let err = error_from_item(&item, status);
                self.task_error(i, err, item, true, now, rng);
                handled.insert(i);
                continue;
            }
            let Some(slot) = self.slots.get_mut(i) else {
                continue;
            };
            slot.answered = true;
            if (slot.task_type.is_empty() || slot.task_type == "getResponse")
                && let Some(tt) = str_field(&item, "taskType")
            {
                slot.task_type = tt.to_string();
            }
            if is_result_item(&item) {
                if slot.keys.insert(result_key(&item)) {
                    slot.results.push(item.clone());
                    self.push_merged(&item);
                }
            } else {
                slot.pending_now = true;
                slot.latest_other = Some(item);
            }
        }
        for item in parsed.errors {
            if let Some(uuid) = item_task_uuid(&item).map(str::to_string) {
                if let Some(i) = self.find_slot(&uuid) {
                    let err = error_from_item(&item, status);
                    self.task_error(i, err, item, true, now, rng);
                    handled.insert(i);
                } else {
                    self.note_unknown(&uuid, &item);
                    self.extra_errors.push(Value::Object(item));
                }
                continue;
            }
            // No taskUUID: it applies to the tasks of this request that are not complete yet
            // (and were not acknowledged or reported processing by this same response).
            let targets: Vec<usize> = round
                .slots
                .iter()
                .copied()
                .filter(|i| !handled.contains(i) && self.is_active(*i))
                .filter(|i| {
                    self.slots.get(*i).is_some_and(|s| {
                        !s.pending_now
                            && u32::try_from(s.results.len()).unwrap_or(u32::MAX) < s.expected
                    })
                })
                .collect();
            if targets.is_empty() {
                self.extra_errors.push(Value::Object(item));
                continue;
            }
            for i in targets {
                let mut err = error_from_item(&item, status);
                err.detail.task_type = None;
                self.task_error(i, err, item.clone(), false, now, rng);
                handled.insert(i);
            }
        }
        handled
    }

    fn note_unknown(&mut self, uuid: &str, item: &Map<String, Value>) {
        if self.unknown.is_none() {
            let mut e = ClientError::new(
                ErrorKind::Server,
                "unknownTaskUUID",
                format!("Runware answered for taskUUID {uuid}, which is not a task of this call"),
            );
            e.detail.task_uuid = Some(uuid.to_string());
            e.detail.task_type = str_field(item, "taskType").map(str::to_string);
            self.unknown = Some(e);
        }
    }

    /// A task-level error for slot `i`: `conflictTaskUUID` on a resent task → poll it; a
    /// transient error on a task without results → resend it with a new taskUUID; else it fails.
    /// `named`: the item named the task (else it is a request-wide error without taskUUID).
    fn task_error(
        &mut self,
        i: usize,
        err: ClientError,
        item: Map<String, Value>,
        named: bool,
        now: u64,
        rng: &mut dyn Entropy,
    ) {
        let retry_after = self.retry_after_now;
        let max = self.opts.max_retries;
        let poll_interval = self.opts.poll_interval_ms;
        let poll_deadline_ms = self.opts.poll_deadline_ms;
        let Some(slot) = self.slots.get_mut(i) else {
            return;
        };
        if !matches!(slot.phase, Phase::Submit | Phase::Poll) {
            return;
        }
        // Only an item naming the task counts as Runware's answer about it.
        slot.answered = slot.answered || named;
        if err.detail.code == "conflictTaskUUID" {
            if slot.sends_of_uuid >= 2 || slot.phase == Phase::Poll {
                // A resent task the server already has: fetch its result.
                slot.phase = Phase::Poll;
                slot.next_at = now;
                slot.poll_delay = poll_interval;
                self.poll_deadline_at
                    .get_or_insert(now.saturating_add(poll_deadline_ms));
                return;
            }
            let mut err = err;
            err.kind = ErrorKind::InvalidRequest;
            err.detail.retryable = false;
            self.fail_slot(i, err, Some(item));
            return;
        }
        self.last_error = Some(err.clone());
        if err.detail.retryable
            && slot.results.is_empty()
            && slot.retries < max
            && let Some(body) = slot.body.as_mut()
        {
            let n = slot.retries;
            slot.retries += 1;
            let uuid = rng.uuid_v4();
            body.insert("taskUUID".into(), json!(uuid));
            slot.uuid = uuid;
            slot.sends_of_uuid = 0;
            slot.phase = Phase::Submit;
            slot.latest_other = None;
            // Runware has not heard of the new taskUUID yet: an HTTP failure before it is
            // accepted must resend it, not poll for it (which would end in taskNotFound).
            slot.answered = false;
            let delay = retry_after.unwrap_or_else(|| backoff_delay_ms(n, rng.next_u64()));
            slot.next_at = now.saturating_add(delay);
            return;
        }
        self.fail_slot(i, err, Some(item));
    }

    /// After a response was correlated, for the tasks of the round not yet `handled`: a task
    /// with every expected result (and no `processing` item in this answer) succeeds; a task
    /// with some answer polls; a task of a 2xx submission without any item is `missingResult`.
    /// Tasks it decides are added to `handled`.
    fn settle(&mut self, round: &Round, handled: &mut BTreeSet<usize>, ok_status: bool, now: u64) {
        let poll_deadline_ms = self.opts.poll_deadline_ms;
        let interval = self.opts.poll_interval_ms;
        let once = self.mode == Mode::PollOnce;
        for &i in &round.slots {
            if handled.contains(&i) {
                continue;
            }
            let Some(slot) = self.slots.get_mut(i) else {
                continue;
            };
            if !matches!(slot.phase, Phase::Submit | Phase::Poll) {
                continue;
            }
            let got = u32::try_from(slot.results.len()).unwrap_or(u32::MAX);
            if got >= slot.expected && !slot.pending_now {
                slot.phase = Phase::Success;
                handled.insert(i);
                continue;
            }
            let heard = slot.answered || !slot.results.is_empty();
            match round.kind {
                RoundKind::Submit if heard => {
                    slot.phase = Phase::Poll;
                    slot.next_at = now.saturating_add(interval);
                    slot.poll_delay = next_poll_delay_ms(interval, interval);
                    self.poll_deadline_at
                        .get_or_insert(now.saturating_add(poll_deadline_ms));
                    handled.insert(i);
                }
                RoundKind::Submit if ok_status => {
                    let e = ClientError::new(
                        ErrorKind::Server,
                        "missingResult",
                        format!(
                            "Runware's answer holds no result for taskUUID {}",
                            slot.uuid
                        ),
                    );
                    slot.answered = true;
                    self.fail_slot(i, e, None);
                    handled.insert(i);
                }
                RoundKind::Submit => {}
                RoundKind::Poll if ok_status => {
                    slot.next_at = now.saturating_add(slot.poll_delay);
                    slot.poll_delay = next_poll_delay_ms(slot.poll_delay, interval);
                    handled.insert(i);
                }
                RoundKind::Poll => {}
            }
        }
        if ok_status && once {
            self.done = true;
        }
    }

    fn finish(&mut self) -> Result<RunOutcome, ClientError> {
        self.done = true;
        let attempts = self.attempts;
        // The merged response: results, then the last non-result item of tasks without results.
        let mut data = self.merged_data.clone();
        for slot in &self.slots {
            if slot.results.is_empty()
                && let Some(other) = &slot.latest_other
            {
                data.push(Value::Object(other.clone()));
            }
        }
        let mut errors: Vec<Value> = Vec::new();
        let mut seen = BTreeSet::new();
        let mut push_error = |v: Value, errors: &mut Vec<Value>| {
            if seen.insert(v.to_string()) {
                errors.push(v);
            }
        };
        for slot in &self.slots {
            if slot.phase != Phase::Failed {
                continue;
            }
            let item = match (&slot.error_item, &slot.error) {
                (Some(item), _) => Value::Object(item.clone()),
                (None, Some(e)) => {
                    let mut m = Map::new();
                    m.insert("taskUUID".into(), json!(slot.uuid));
                    if !slot.task_type.is_empty() {
                        m.insert("taskType".into(), json!(slot.task_type));
                    }
                    m.insert("status".into(), json!("error"));
                    m.insert("code".into(), json!(e.detail.code));
                    m.insert("message".into(), json!(e.detail.message));
                    if let Some(p) = &e.detail.parameter {
                        m.insert("parameter".into(), json!(p));
                    }
                    Value::Object(m)
                }
                (None, None) => continue,
            };
            push_error(item, &mut errors);
        }
        for e in &self.extra_errors {
            push_error(e.clone(), &mut errors);
        }
        let response_json = json!({ "data": data, "errors": errors }).to_string();
        let mut tasks = Vec::with_capacity(self.slots.len());
        for slot in &self.slots {
            let status = match slot.phase {
                Phase::Success => TaskStatus::Success,
                Phase::Failed => TaskStatus::Failed,
                Phase::Submit | Phase::Poll => TaskStatus::Processing,
            };
            let error = slot.error.clone().map(|mut e| {
                e.detail.attempts = attempts;
                e.detail.response_json = Some(response_json.clone());
                e
            });
            let task_type = if slot.task_type.is_empty() {
                "getResponse".to_string()
            } else {
                slot.task_type.clone()
            };
            tasks.push(TaskOutcome {
                task_uuid: slot.uuid.clone(),
                task_type,
                status,
                data: slot.results.clone(),
                error,
            });
        }
        let with_context = |mut e: ClientError| {
            e.detail.attempts = attempts;
            e.detail.response_json = Some(response_json.clone());
            e
        };
        if let Some(unknown) = self.unknown.clone() {
            return Err(with_context(unknown));
        }
        let any_answer = self
            .slots
            .iter()
            .any(|s| s.answered || !s.results.is_empty());
        if !any_answer || self.mode == Mode::Wait {
            let failed = tasks.iter().find_map(|t| {
                t.error
                    .clone()
                    .filter(|e| !any_answer || e.detail.code == "deadlineExceeded")
            });
            if let Some(e) = failed {
                return Err(with_context(e));
            }
        }
        Ok(RunOutcome {
            tasks,
            response_json,
            attempts,
        })
    }
}
