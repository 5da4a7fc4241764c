//! The machines' vocabulary: what the glue is asked to do ([`Action`]), what it reports back
//! ([`Event`], [`TransportKind`]), what a call ends in ([`RunOutcome`], [`TaskOutcome`],
//! [`TaskStatus`]) and the [`Machine`] trait the glue drives. It is kept apart from any one
//! machine because [`crate::download::Download`] and the glue speak it too, and none of it
//! depends on how a call is scheduled or correlated.

use crate::prelude::*;

use serde_json::{Map, Value};

use crate::error::{ClientError, ErrorKind};
use crate::retry::Entropy;

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

/// Where a task stands: the WIT `task-status`.
pub use crate::wit::TaskStatus;

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
    /// Runware's `progress` (0 to 100) in the task's latest `processing` item, when it reported
    /// one.
    pub progress: Option<u8>,
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

/// A call's state machine, as the glue drives it: [`Call`](crate::machine::Call) and
/// [`crate::download::Download`].
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
