//! A faithful local Runware API server (REST and WebSocket on `/v1`) with fault injection.
//!
//! Start it on `127.0.0.1:0` from a test, point a client at [`EmulatorHandle::base_url`], inject
//! faults, then read the request log and the per-taskUUID execution counts:
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
//!
//! Module map: `server` (accept loop, routing, REST and admin endpoints), `ws` (the WebSocket
//! protocol), `dispatch` (running one task for either: envelope, lookup, registration, async
//! delivery), `tasks` (one module per task type and what they share), `state` (registry, async
//! results, images, execution counts, log, settings, balance), `delivery` (webhooks and
//! `uploadEndpoint` PUTs), `validate` (parameter checks and
//! Runware-shaped errors), `faults` (rule matching), [`catalog`] and [`render`] (model catalog
//! and procedural images), `media` (procedural video and audio).
// Unit tests may panic (that is how they fail); production code may not (see Cargo.toml).
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::cast_possible_truncation
    )
)]

pub mod catalog;
mod delivery;
mod dispatch;
mod faults;
pub mod media;
pub mod render;
mod server;
mod state;
mod tasks;
mod validate;
mod ws;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::state::Shared;

pub use crate::delivery::{Delivery, DeliveryKind, DeliveryOutcome, DeliveryRetry};

/// The account balance (USD) an emulator starts with unless told otherwise.
pub const DEFAULT_BALANCE: f64 = 1000.0;

/// The default request body limit (32 MiB); larger bodies get a 413 with a Runware-shaped error.
pub const DEFAULT_BODY_LIMIT: usize = 32 * 1024 * 1024;

/// How images are produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ImageMode {
    /// Procedural art of the requested size and format (the default).
    #[default]
    Render,
    /// A tiny fixed image per format, for client benchmarks: no rendering cost.
    Placeholder,
}

/// A fault the emulator can inject.
///
/// JSON form (serde, camelCase, tagged by `kind`), e.g. `{"kind":"httpStatus","status":503,
/// "retryAfter":1}`, `{"kind":"taskError","code":"timeoutProvider"}`, `{"kind":"latency","ms":200}`,
/// `{"kind":"resetAfterAccept"}`, `{"kind":"oversizedBody","bytes":1048576}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Fault {
    /// Answer the whole request with this HTTP status (429/500/502/503/504) and a Runware-shaped
    /// error body, without processing its tasks; `retry_after` adds a `Retry-After` header (seconds).
    HttpStatus {
        /// The HTTP status code.
        status: u16,
        /// Seconds for a `Retry-After` header, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after: Option<u64>,
    },
    /// Fail the matching tasks with this Runware code (`timeoutProvider`,
    /// `providerRateLimitExceeded`, `inferenceError`): sync in `errors`, async via getResponse.
    TaskError {
        /// The Runware error code.
        code: String,
    },
    /// Delay the response by this many milliseconds.
    Latency {
        /// Milliseconds.
        ms: u64,
    },
    /// Process the tasks (they are accepted and recorded), then drop the connection unanswered.
    ResetAfterAccept,
    /// Process the tasks, send the headers and part of the body, then stall (never finish).
    StalledBody,
    /// Process the tasks, declare the full Content-Length, send half of the body and close.
    TruncatedBody,
    /// Process the tasks and answer 200 with a body that is not JSON.
    NonJsonBody,
    /// Process the tasks and answer JSON with wrong types: in data items numbers and booleans become
    /// strings and strings become numbers (so `taskUUID` is a number); `"data": "oops"` when empty.
    WrongTypes,
    /// Process the tasks and answer with a valid-looking body of this many bytes (padding).
    OversizedBody {
        /// The total body size in bytes.
        bytes: u64,
    },
    /// Process the tasks and return the data items in reverse order.
    ReverseOrder,
    /// Add an error item without `taskUUID` to the response.
    ErrorWithoutTaskUuid,
    /// Accept the matching async work tasks normally, but keep them `processing` forever (with
    /// a `progress` that stops at 99 for long-running work): for a client's poll-deadline tests.
    /// Sync tasks are unaffected. Target a task type with the rule's `taskType`.
    NeverFinish,
    /// Pick one of the transient faults above at random (HTTP 429/500/502/503/504, a transient
    /// task error, reset after accept, truncated body), from the rule's seeded generator.
    RandomTransient,
}

/// When a fault applies. Conditions combine: a request matches when it contains a task of
/// `task_type` (if set), is among the first `first_requests` matching requests (if set) and wins
/// the seeded coin flip at `rate` (if set). Only `POST /v1` requests count. The first matching
/// rule (in the order added) applies; one fault per request.
///
/// JSON form: `{"fault":{"kind":"httpStatus","status":503,"retryAfter":1},"firstRequests":2,
/// "taskType":"imageInference","rate":0.1,"seed":42}` (every field but `fault` optional).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultRule {
    /// The fault to inject.
    pub fault: Fault,
    /// Only requests containing a task of this type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_type: Option<String>,
    /// Only the first N matching requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_requests: Option<u32>,
    /// Only this fraction (0.0–1.0) of the matching requests, drawn from a generator seeded with `seed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// The seed of the rule's generator (default 0); it also drives `RandomTransient`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

impl FaultRule {
    /// A rule that applies to every request.
    pub fn new(fault: Fault) -> Self {
        Self {
            fault,
            task_type: None,
            first_requests: None,
            rate: None,
            seed: None,
        }
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
    /// Parses a rule from JSON; a bare [`Fault`] (`{"kind":…}`) is accepted as a rule that
    /// applies to every request. Used by the `--fault` flag and the admin endpoint.
    pub fn from_json(text: &str) -> Result<Self, String> {
        match serde_json::from_str::<FaultRule>(text) {
            Ok(rule) => Ok(rule),
            Err(rule_err) => match serde_json::from_str::<Fault>(text) {
                Ok(fault) => Ok(FaultRule::new(fault)),
                Err(_) => Err(format!("invalid fault rule: {rule_err}")),
            },
        }
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
    /// `POST`, `GET`, … (`WS` for a WebSocket text frame).
    pub method: String,
    /// The request path (query included).
    pub path: String,
    /// How the request authenticated.
    pub auth: AuthKind,
    /// Whether the key (if any) was accepted.
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
    /// For an outbound delivery (a webhook POST or an `uploadEndpoint` PUT, logged with method
    /// `WEBHOOK` or `UPLOAD` and the destination URL as `path`): what happened to this attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
}

/// Builds and starts an emulator.
#[derive(Debug, Clone)]
pub struct EmulatorBuilder {
    keys: Vec<String>,
    bind: SocketAddr,
    image_mode: ImageMode,
    async_delay: Duration,
    video_delay: Duration,
    latency: Duration,
    faults: Vec<FaultRule>,
    body_limit: usize,
    balance: f64,
    delivery_retry: DeliveryRetry,
}

/// How long long-running work (video) stays `processing` by default: long enough to see
/// `progress` rise, short enough for tests.
pub const DEFAULT_VIDEO_PROCESSING: Duration = Duration::from_secs(2);

impl Default for EmulatorBuilder {
    fn default() -> Self {
        Self {
            keys: Vec::new(),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            image_mode: ImageMode::Render,
            async_delay: Duration::ZERO,
            video_delay: DEFAULT_VIDEO_PROCESSING,
            latency: Duration::ZERO,
            faults: Vec::new(),
            body_limit: DEFAULT_BODY_LIMIT,
            balance: DEFAULT_BALANCE,
            delivery_retry: DeliveryRetry::default(),
        }
    }
}

/// The emulator's entry point.
pub struct Emulator;

impl Emulator {
    /// A builder with the defaults: `127.0.0.1:0`, no accepted key, rendered images, async
    /// processing time 0, video processing time [`DEFAULT_VIDEO_PROCESSING`], no latency, no
    /// faults.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }
}

impl EmulatorBuilder {
    /// Accept this API key (call several times for several keys). With no key configured at
    /// all, any non-empty key is accepted.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.keys.push(key.into());
        self
    }
    /// Listen on this address (default `127.0.0.1:0`).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }
    /// How images are produced.
    pub fn image_mode(mut self, mode: ImageMode) -> Self {
        self.image_mode = mode;
        self
    }
    /// How long an async task stays `processing` before its results are ready.
    pub fn async_processing(mut self, delay: Duration) -> Self {
        self.async_delay = delay;
        self
    }
    /// How long long-running async work (`videoInference`, the tools on a video input) stays
    /// `processing`, its `progress` rising meanwhile (default [`DEFAULT_VIDEO_PROCESSING`]).
    pub fn video_processing(mut self, delay: Duration) -> Self {
        self.video_delay = delay;
        self
    }
    /// Service latency added to every `POST /v1` response.
    pub fn latency(mut self, delay: Duration) -> Self {
        self.latency = delay;
        self
    }
    /// A fault rule active from the start.
    pub fn fault(mut self, rule: FaultRule) -> Self {
        self.faults.push(rule);
        self
    }
    /// The request body limit in bytes (default [`DEFAULT_BODY_LIMIT`]).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }
    /// The account balance in USD at start (default [`DEFAULT_BALANCE`]); every billed task
    /// lowers it by its cost, and a task costing more than what is left fails with
    /// `insufficientCredits` (HTTP 402).
    pub fn balance(mut self, usd: f64) -> Self {
        self.balance = usd;
        self
    }
    /// How webhook and `uploadEndpoint` deliveries are retried (default [`DeliveryRetry::default`]).
    pub fn delivery_retry(mut self, retry: DeliveryRetry) -> Self {
        self.delivery_retry = retry;
        self
    }
    /// Starts serving; returns once the socket is bound.
    pub async fn start(self) -> anyhow::Result<EmulatorHandle> {
        let listener = tokio::net::TcpListener::bind(self.bind).await?;
        let addr = listener.local_addr()?;
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let shared = Arc::new(Shared::new(
            state::Config {
                keys: self.keys,
                image_mode: self.image_mode,
                body_limit: self.body_limit,
                addr,
                initial_balance: self.balance,
                delivery_retry: self.delivery_retry,
            },
            self.async_delay,
            self.video_delay,
            self.latency,
            self.faults,
            shutdown_rx.clone(),
        ));
        let task = tokio::spawn(server::accept_loop(listener, shared.clone(), shutdown_rx));
        tracing::info!(%addr, "runware emulator listening");
        Ok(EmulatorHandle {
            addr,
            shared,
            shutdown: shutdown_tx,
            task: Some(task),
        })
    }
}

/// A running emulator. Dropping it stops the server too.
pub struct EmulatorHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl EmulatorHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// `http://ADDR/v1`, the REST endpoint (and `ws://ADDR/v1` for WebSocket).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }
    /// `ws://ADDR/v1`, the WebSocket endpoint.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/v1", self.addr)
    }
    /// `http://ADDR/__emulator`, the admin endpoints' prefix.
    pub fn admin_url(&self) -> String {
        format!("http://{}/__emulator", self.addr)
    }
    /// Adds a fault rule at run time.
    pub fn add_fault(&self, rule: FaultRule) {
        self.shared.add_fault(rule);
    }
    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.shared.clear_faults();
    }
    /// Sets the service latency at run time.
    pub fn set_latency(&self, delay: Duration) {
        self.shared.set_latency(delay);
    }
    /// Sets the async processing time at run time.
    pub fn set_async_processing(&self, delay: Duration) {
        self.shared.set_async_delay(delay);
    }
    /// Sets the video (long-running work) processing time at run time; lowering it also
    /// shortens the tasks already accepted.
    pub fn set_video_processing(&self, delay: Duration) {
        self.shared.set_video_delay(delay);
    }
    /// The request log, oldest first.
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        self.shared.request_log()
    }
    /// How many times each taskUUID was executed (billed); a correct client never makes this exceed 1.
    pub fn executions(&self, task_uuid: &str) -> u32 {
        self.shared.executions(task_uuid)
    }
    /// The account balance in USD now.
    pub fn balance(&self) -> f64 {
        self.shared.balance()
    }
    /// Sets the account balance in USD (0 makes every billed task fail with `insufficientCredits`).
    pub fn set_balance(&self, usd: f64) {
        self.shared.set_balance(usd);
    }
    /// TCP connections accepted since the start or the last [`reset`](Self::reset).
    pub fn connections(&self) -> u64 {
        self.shared.connections()
    }
    /// Forgets tasks, images, stored media, the log, the faults and the connection count, and
    /// restores the starting balance (keys and settings stay).
    pub fn reset(&self) {
        self.shared.reset();
    }
    /// Stops the server and waits for it to finish (open, stalled and WebSocket connections
    /// are dropped).
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// Command-line options of `runware-emulator` and `runware emulate` (flatten with
/// `#[command(flatten)]`).
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// TCP port to listen on.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Accepted API key (repeatable). With none, any non-empty key is accepted.
    #[arg(
        long = "api-key",
        value_name = "KEY",
        env = "RUNWARE_EMULATOR_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub api_keys: Vec<String>,
    /// How images are produced: `render` (procedural art) or `placeholder` (a tiny fixed image).
    #[arg(long, value_enum, default_value = "render")]
    pub image_mode: ImageMode,
    /// How long async tasks stay `processing`, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub async_delay_ms: u64,
    /// How long video tasks (long-running work) stay `processing`, in milliseconds.
    #[arg(
        long,
        value_name = "MS",
        env = "RUNWARE_EMULATOR_VIDEO_DELAY_MS",
        default_value_t = 2000
    )]
    pub video_delay_ms: u64,
    /// Service latency added to every REST response, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub latency_ms: u64,
    /// A fault rule as JSON (repeatable), e.g. `{"fault":{"kind":"httpStatus","status":503},"firstRequests":2}`.
    #[arg(long = "fault", value_name = "JSON", value_parser = FaultRule::from_json)]
    pub faults: Vec<FaultRule>,
    /// The account balance at start, in USD; billed tasks lower it, and at 0 they fail with
    /// `insufficientCredits` (HTTP 402).
    #[arg(long, value_name = "USD", env = "RUNWARE_EMULATOR_BALANCE", default_value_t = DEFAULT_BALANCE)]
    pub balance: f64,
    /// Delivery attempts per webhook item or upload (the first included).
    #[arg(long, value_name = "N", default_value_t = DeliveryRetry::default().attempts)]
    pub webhook_attempts: u32,
    /// The wait before the first webhook/upload retry, in milliseconds (doubled per retry).
    #[arg(long, value_name = "MS", default_value_t = 250)]
    pub webhook_backoff_ms: u64,
    /// The longest wait between webhook/upload retries, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub webhook_backoff_max_ms: u64,
}

/// Runs the emulator until Ctrl-C, printing the base URL and the admin URL on stderr.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    let mut builder = Emulator::builder()
        .bind(SocketAddr::new(args.host, args.port))
        .image_mode(args.image_mode)
        .async_processing(Duration::from_millis(args.async_delay_ms))
        .video_processing(Duration::from_millis(args.video_delay_ms))
        .latency(Duration::from_millis(args.latency_ms))
        .balance(args.balance)
        .delivery_retry(DeliveryRetry {
            attempts: args.webhook_attempts,
            initial_backoff: Duration::from_millis(args.webhook_backoff_ms),
            max_backoff: Duration::from_millis(args.webhook_backoff_max_ms),
            ..DeliveryRetry::default()
        });
    for key in args.api_keys.into_iter().filter(|k| !k.trim().is_empty()) {
        builder = builder.api_key(key.trim().to_string());
    }
    for rule in args.faults {
        builder = builder.fault(rule);
    }
    let handle = builder.start().await?;
    eprintln!("Runware emulator listening on {}", handle.base_url());
    eprintln!("  WebSocket: {}", handle.ws_url());
    eprintln!(
        "  admin:     {}/health (log, faults, latency, balance, reset, stats)",
        handle.admin_url()
    );
    tokio::signal::ctrl_c().await?;
    eprintln!("stopping");
    handle.stop().await;
    Ok(())
}
