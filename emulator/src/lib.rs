//! A faithful local Runware API server (REST and WebSocket on `/v1`) with fault injection.
//!
//! CONTRACT STUB written by the integrator: the public API below is what the host crate, the CLI
//! and the end-to-end tests code against. Keep these names and signatures (add to them freely).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use runware_emulator::{Emulator, Fault, FaultRule};
//! let emu = Emulator::builder().api_key("test-key").start().await?;
//! emu.add_fault(FaultRule::new(Fault::HttpStatus { status: 503, retry_after: Some(1) }).first_requests(2));
//! println!("{}", emu.base_url()); // http://127.0.0.1:PORT/v1
//! emu.stop().await;
//! # Ok(()) }
//! ```
#![allow(dead_code, unused_variables)]

pub mod catalog;
pub mod render;

use std::net::SocketAddr;
use std::time::Duration;

/// How images are produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImageMode {
    /// Procedural art of the requested size and format (the default).
    #[default]
    Render,
    /// A tiny fixed image per format, for client benchmarks: no rendering cost.
    Placeholder,
}

/// A fault the emulator can inject.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Fault {
    /// Answer the whole request with this HTTP status (429/500/502/503/504) and a Runware-shaped
    /// error body, without processing its tasks; `retry_after` adds a `Retry-After` header (seconds).
    HttpStatus { status: u16, retry_after: Option<u64> },
    /// Fail the matching tasks with this Runware code (`timeoutProvider`,
    /// `providerRateLimitExceeded`, `inferenceError`): sync in `errors`, async via getResponse.
    TaskError { code: String },
    /// Delay the response by this many milliseconds.
    Latency { ms: u64 },
    /// Process the tasks (they are accepted and recorded), then drop the connection unanswered.
    ResetAfterAccept,
    /// Process the tasks, send the headers and part of the body, then stall (never finish).
    StalledBody,
    /// Process the tasks, declare the full Content-Length, send half of the body and close.
    TruncatedBody,
    /// Process the tasks and answer 200 with a body that is not JSON.
    NonJsonBody,
    /// Process the tasks and answer JSON with wrong types (e.g. `"data": "oops"`, numbers as strings).
    WrongTypes,
    /// Process the tasks and answer with a valid-looking body of this many bytes (padding).
    OversizedBody { bytes: u64 },
    /// Process the tasks and return the data items in reverse order.
    ReverseOrder,
    /// Add an error item without `taskUUID` to the response.
    ErrorWithoutTaskUuid,
    /// Pick one of the transient faults above at random (HTTP 429/500/502/503/504, a transient
    /// task error, reset after accept, truncated body), from the rule's seeded generator.
    RandomTransient,
}

/// When a fault applies. Conditions combine: a request matches when it contains a task of
/// `task_type` (if set), is among the first `first_requests` matching requests (if set) and wins
/// the seeded coin flip at `rate` (if set). Only `POST /v1` requests count.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultRule {
    pub fault: Fault,
    pub task_type: Option<String>,
    pub first_requests: Option<u32>,
    pub rate: Option<f64>,
    pub seed: Option<u64>,
}

impl FaultRule {
    /// A rule that applies to every request.
    pub fn new(fault: Fault) -> Self {
        Self { fault, task_type: None, first_requests: None, rate: None, seed: None }
    }
    /// Only requests containing a task of this type.
    pub fn task_type(mut self, task_type: impl Into<String>) -> Self {
        self.task_type = Some(task_type.into());
        self
    }
    /// Only the first `n` matching requests.
    pub fn first_requests(mut self, n: u32) -> Self {
        self.first_requests = Some(n);
        self
    }
    /// Only a seeded random fraction of the matching requests.
    pub fn rate(mut self, rate: f64, seed: u64) -> Self {
        self.rate = Some(rate);
        self.seed = Some(seed);
        self
    }
}

/// How a request authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AuthKind {
    /// `Authorization: Bearer …`
    Bearer,
    /// A leading `authentication` task.
    Task,
    /// No key at all.
    None,
}

/// One entry of the request log.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    pub auth: AuthKind,
    pub key_valid: bool,
    /// The request body with every API key replaced by `[REDACTED]`.
    pub body: String,
    /// taskUUIDs of the tasks in the request.
    pub task_uuids: Vec<String>,
    /// taskUUIDs whose task this request executed (accepted and processed: billed).
    pub executed: Vec<String>,
    /// The HTTP status answered (0 when the connection was dropped).
    pub status: u16,
    /// The name of the fault injected, if any.
    pub fault: Option<String>,
}

/// Builds and starts an emulator.
#[derive(Debug, Clone, Default)]
pub struct EmulatorBuilder {}

/// The emulator's entry point.
pub struct Emulator;

impl Emulator {
    /// A builder with the defaults: `127.0.0.1:0`, no accepted key, rendered images, async
    /// processing time 0, no latency, no faults.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }
}

impl EmulatorBuilder {
    /// Accept this API key (call several times for several keys).
    pub fn api_key(self, key: impl Into<String>) -> Self { unimplemented!() }
    /// Listen on this address (default `127.0.0.1:0`).
    pub fn bind(self, addr: SocketAddr) -> Self { unimplemented!() }
    /// How images are produced.
    pub fn image_mode(self, mode: ImageMode) -> Self { unimplemented!() }
    /// How long an async task stays `processing` before its results are ready.
    pub fn async_processing(self, delay: Duration) -> Self { unimplemented!() }
    /// Service latency added to every `POST /v1` response.
    pub fn latency(self, delay: Duration) -> Self { unimplemented!() }
    /// A fault rule active from the start.
    pub fn fault(self, rule: FaultRule) -> Self { unimplemented!() }
    /// Starts serving; returns once the socket is bound.
    pub async fn start(self) -> anyhow::Result<EmulatorHandle> { unimplemented!() }
}

/// A running emulator. Dropping it stops the server too.
pub struct EmulatorHandle {}

impl EmulatorHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr { unimplemented!() }
    /// `http://ADDR/v1`, the REST endpoint (and `ws://ADDR/v1` for WebSocket).
    pub fn base_url(&self) -> String { unimplemented!() }
    /// Adds a fault rule at run time.
    pub fn add_fault(&self, rule: FaultRule) { unimplemented!() }
    /// Removes every fault rule.
    pub fn clear_faults(&self) { unimplemented!() }
    /// Sets the service latency at run time.
    pub fn set_latency(&self, delay: Duration) { unimplemented!() }
    /// The request log, oldest first.
    pub fn request_log(&self) -> Vec<LoggedRequest> { unimplemented!() }
    /// How many times each taskUUID was executed (billed); a correct client never makes this exceed 1.
    pub fn executions(&self, task_uuid: &str) -> u32 { unimplemented!() }
    /// Forgets tasks, images, the log and the faults (keys and settings stay).
    pub fn reset(&self) { unimplemented!() }
    /// Stops the server and waits for it to finish.
    pub async fn stop(self) { unimplemented!() }
}
