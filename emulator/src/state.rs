//! The emulator's state, shared by REST and WebSocket: settings, accepted keys, the per-key task
//! registry (conflicts, async results and what `getResponse` sees), the image and media stores,
//! execution counts, the request log, the fault rules, the account balance and the uploads
//! waiting for their task to be billed. Nothing here knows a task type.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::delivery::DeliveryRetry;
use crate::faults::{self, RuleState};
use crate::render::Format;
use crate::validate::{self, ApiError};
use crate::{Fault, FaultRule, ImageMode, LoggedRequest};

/// The request log keeps at most this many entries (the oldest tenth is dropped when full), so
/// that soak tests do not grow memory without bound.
const MAX_LOG: usize = 100_000;

/// Settings fixed at start-up.
pub(crate) struct Config {
    /// Accepted keys (empty: any non-empty key).
    pub keys: Vec<String>,
    /// How images are produced.
    pub image_mode: ImageMode,
    /// The request body limit in bytes.
    pub body_limit: usize,
    /// The bound address (image URLs point at it).
    pub addr: SocketAddr,
    /// The account balance in USD at start (and after a reset).
    pub initial_balance: f64,
    /// How webhook and upload deliveries are retried.
    pub delivery_retry: DeliveryRetry,
}

/// Media other than images the emulator holds, served at `/media/<uuid>.<ext>`: stored with
/// `mediaStorage` (any bytes) or generated (videos, audio).
#[derive(Clone)]
pub(crate) struct StoredMedia {
    /// The bytes.
    pub bytes: Bytes,
    /// Their MIME type.
    pub content_type: String,
    /// The file extension its URL ends with.
    pub extension: String,
}

/// An output waiting for its task to be billed before it is PUT to `uploadEndpoint`.
pub(crate) struct PendingUpload {
    /// The destination.
    pub url: String,
    /// The output's bytes.
    pub bytes: Bytes,
    /// Their MIME type.
    pub content_type: String,
}

/// An image the emulator holds (generated, uploaded or transformed).
#[derive(Clone)]
pub(crate) struct StoredImage {
    /// The encoded bytes.
    pub bytes: Bytes,
    /// Their format.
    pub format: Format,
}

/// How an accepted async task is paced while `getResponse` polls it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pace {
    /// Ready after the async delay; `processing` items carry no `progress`.
    Standard,
    /// Long-running work (video): ready after the video delay, `processing` items carry a
    /// `progress` (0-99) computed from the elapsed time, and a task error is reported in both
    /// shapes (a top-level error and a `status: "error"` item with a nested `error`).
    Long,
    /// Like [`Pace::Long`] but never ready (the `neverFinish` fault): `progress` stops at 99.
    Never,
}

/// What a finished task produced.
#[derive(Clone)]
pub(crate) enum Outcome {
    /// Reserved, still being processed (sync in flight).
    Pending,
    /// Final data items (without `status`).
    Items(Vec<Value>),
    /// A task error (without `status`).
    Error(ApiError),
}

/// A registered (accepted) task.
struct TaskRecord {
    task_type: String,
    /// The task as sent, with its API key redacted (for `getTaskDetails`).
    request: Value,
    accepted: Instant,
    delay: Duration,
    pace: Pace,
    /// How many items it will produce (shown as `processing` until it finished).
    expected: usize,
    outcome: Outcome,
}

/// What `getResponse` and `getTaskDetails` see of a registered task right now.
pub(crate) struct TaskView {
    /// The task as sent, API key redacted.
    pub request: Value,
    /// Its data items, each with a `status`.
    pub data: Vec<Value>,
    /// Its errors, each with `status: "error"`.
    pub errors: Vec<Value>,
}

/// Mutable state.
#[derive(Default)]
pub(crate) struct Inner {
    /// owner (the API key) → taskUUID → record. Tasks belong to the key, not the connection.
    tasks: HashMap<String, HashMap<String, TaskRecord>>,
    executions: HashMap<String, u32>,
    images: HashMap<String, StoredImage>,
    media: HashMap<String, StoredMedia>,
    /// taskUUID → outputs to PUT once the task is billed.
    uploads: HashMap<String, Vec<PendingUpload>>,
    log: Vec<LoggedRequest>,
    faults: Vec<RuleState>,
    rest_requests: u64,
    /// TCP connections accepted: how well clients keep connections alive.
    connections: u64,
}

/// Everything a connection needs.
pub(crate) struct Shared {
    /// Settings fixed at start-up.
    pub config: Config,
    async_delay: Mutex<Duration>,
    video_delay: Mutex<Duration>,
    latency: Mutex<Duration>,
    /// The account balance in USD (one account for every key).
    balance: Mutex<f64>,
    inner: Mutex<Inner>,
    /// Set to true when the emulator stops.
    pub shutdown: watch::Receiver<bool>,
}

/// Locks a mutex; a poisoned one is used anyway (every update is a single assignment or insert,
/// so a panicking holder cannot leave it half-changed).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    /// The state at start-up.
    pub fn new(
        config: Config,
        async_delay: Duration,
        video_delay: Duration,
        latency: Duration,
        faults: Vec<FaultRule>,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let inner = Inner {
            faults: faults.into_iter().map(RuleState::new).collect(),
            ..Default::default()
        };
        Self {
            balance: Mutex::new(config.initial_balance),
            config,
            async_delay: Mutex::new(async_delay),
            video_delay: Mutex::new(video_delay),
            latency: Mutex::new(latency),
            inner: Mutex::new(inner),
            shutdown,
        }
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        lock(&self.inner)
    }

    /// Whether `key` is accepted: any configured key, or any non-empty key when none is configured.
    pub fn key_valid(&self, key: &str) -> bool {
        if self.config.keys.is_empty() {
            !key.trim().is_empty()
        } else {
            self.config.keys.iter().any(|k| k == key)
        }
    }

    /// Adds a fault rule after the existing ones.
    pub fn add_fault(&self, rule: FaultRule) {
        self.inner().faults.push(RuleState::new(rule));
    }
    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.inner().faults.clear();
    }
    /// The active fault rules, in order.
    pub fn fault_rules(&self) -> Vec<FaultRule> {
        self.inner().faults.iter().map(|r| r.rule.clone()).collect()
    }
    /// Picks the fault for a REST request: the fault, its log name and the rule's task type.
    pub fn pick_fault(&self, task_types: &[String]) -> Option<(Fault, String, Option<String>)> {
        let mut inner = self.inner();
        inner.rest_requests += 1;
        faults::pick(&mut inner.faults, task_types)
    }
    /// Sets the service latency.
    pub fn set_latency(&self, d: Duration) {
        *lock(&self.latency) = d;
    }
    /// The service latency.
    pub fn latency(&self) -> Duration {
        *lock(&self.latency)
    }
    /// Sets how long async tasks stay `processing`.
    pub fn set_async_delay(&self, d: Duration) {
        *lock(&self.async_delay) = d;
    }
    /// How long async tasks stay `processing`.
    pub fn async_delay(&self) -> Duration {
        *lock(&self.async_delay)
    }
    /// Sets how long long-running (video) tasks stay `processing`.
    pub fn set_video_delay(&self, d: Duration) {
        *lock(&self.video_delay) = d;
    }
    /// How long long-running (video) tasks stay `processing`.
    pub fn video_delay(&self) -> Duration {
        *lock(&self.video_delay)
    }
    /// Appends a request log entry.
    pub fn log(&self, entry: LoggedRequest) {
        tracing::debug!(method = %entry.method, path = %entry.path, status = entry.status, fault = ?entry.fault, "request");
        let mut inner = self.inner();
        if inner.log.len() >= MAX_LOG {
            inner.log.drain(..MAX_LOG / 10);
        }
        inner.log.push(entry);
    }
    /// The request log, oldest first.
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        self.inner().log.clone()
    }
    /// How many times a taskUUID was executed.
    pub fn executions(&self, uuid: &str) -> u32 {
        self.inner().executions.get(uuid).copied().unwrap_or(0)
    }
    /// Forgets tasks, images, media, the log, the faults and the counters, and restores the
    /// starting balance.
    pub fn reset(&self) {
        *lock(&self.balance) = self.config.initial_balance;
        let mut inner = self.inner();
        inner.tasks.clear();
        inner.executions.clear();
        inner.images.clear();
        inner.media.clear();
        inner.uploads.clear();
        inner.log.clear();
        inner.faults.clear();
        inner.rest_requests = 0;
        inner.connections = 0;
    }
    /// Counters for `GET /__emulator/stats`.
    pub fn stats(&self) -> Value {
        let inner = self.inner();
        let tasks: usize = inner.tasks.values().map(|m| m.len()).sum();
        json!({
            "requests": inner.log.len(),
            "restRequests": inner.rest_requests,
            "connections": inner.connections,
            "tasks": tasks,
            "images": inner.images.len(),
            "media": inner.media.len(),
            "balance": self.balance(),
            "faultRules": inner.faults.len(),
            "executions": inner.executions,
            "totalExecutions": inner.executions.values().map(|v| u64::from(*v)).sum::<u64>(),
        })
    }

    /// Counts one accepted TCP connection.
    pub fn connection_accepted(&self) {
        self.inner().connections += 1;
    }
    /// TCP connections accepted since the start (or the last reset).
    pub fn connections(&self) -> u64 {
        self.inner().connections
    }

    /// The account balance in USD.
    pub fn balance(&self) -> f64 {
        *lock(&self.balance)
    }
    /// Sets the account balance in USD.
    pub fn set_balance(&self, usd: f64) {
        *lock(&self.balance) = usd;
    }
    /// Charges `cost` USD: lowers the balance and returns what is left, or, when the cost is
    /// more than the balance (or the balance is not positive), leaves it alone and returns
    /// `Err(balance)`. A cost of 0 is never refused. Rounded to micro-dollars so that many small
    /// charges do not drift.
    pub fn charge(&self, cost: f64) -> Result<f64, f64> {
        let mut balance = lock(&self.balance);
        if cost <= 0.0 {
            return Ok(*balance);
        }
        if *balance <= 0.0 || cost > *balance + 1e-9 {
            return Err(*balance);
        }
        *balance = ((*balance - cost) * 1e6).round() / 1e6;
        Ok(*balance)
    }

    /// Queues an output for the task's `uploadEndpoint`.
    pub fn queue_upload(&self, task_uuid: &str, upload: PendingUpload) {
        self.inner()
            .uploads
            .entry(task_uuid.to_string())
            .or_default()
            .push(upload);
    }
    /// Takes the queued uploads of a task.
    pub fn take_uploads(&self, task_uuid: &str) -> Vec<PendingUpload> {
        self.inner().uploads.remove(task_uuid).unwrap_or_default()
    }

    /// Stores media under a fresh mediaUUID and returns it.
    pub fn store_media(&self, media: StoredMedia) -> String {
        let uuid = uuid::Uuid::new_v4().to_string();
        self.inner().media.insert(uuid.clone(), media);
        uuid
    }
    /// The media stored under `uuid`.
    pub fn media(&self, uuid: &str) -> Option<StoredMedia> {
        self.inner().media.get(uuid).cloned()
    }
    /// Deletes the media (or image) stored under `uuid`; false when there was none.
    pub fn delete_media(&self, uuid: &str) -> bool {
        let mut inner = self.inner();
        let media = inner.media.remove(uuid).is_some();
        let image = inner.images.remove(uuid).is_some();
        media || image
    }
    /// The URL this emulator serves stored media at.
    pub fn media_url(&self, uuid: &str, extension: &str) -> String {
        format!("http://{}/media/{uuid}.{extension}", self.config.addr)
    }

    /// The image stored under `uuid`.
    pub fn image(&self, uuid: &str) -> Option<StoredImage> {
        self.inner().images.get(uuid).cloned()
    }

    /// Stores an image under a fresh imageUUID and returns it.
    pub fn store_image(&self, bytes: Bytes, format: Format) -> String {
        let uuid = uuid::Uuid::new_v4().to_string();
        self.inner()
            .images
            .insert(uuid.clone(), StoredImage { bytes, format });
        uuid
    }

    /// The URL this emulator serves a stored image at.
    pub fn image_url(&self, uuid: &str, format: Format) -> String {
        format!(
            "http://{}/images/{uuid}.{}",
            self.config.addr,
            format.extension()
        )
    }

    /// Registers a task as accepted and in progress; false when the owner already has that
    /// taskUUID (a conflict).
    pub fn reserve(
        &self,
        owner: &str,
        uuid: &str,
        task_type: &str,
        request: &Value,
        expected: usize,
    ) -> bool {
        let mut inner = self.inner();
        let tasks = inner.tasks.entry(owner.to_string()).or_default();
        if tasks.contains_key(uuid) {
            return false;
        }
        let mut request = request.clone();
        validate::redact(&mut request);
        tasks.insert(
            uuid.to_string(),
            TaskRecord {
                task_type: task_type.to_string(),
                request,
                accepted: Instant::now(),
                delay: Duration::ZERO,
                pace: Pace::Standard,
                expected,
                outcome: Outcome::Pending,
            },
        );
        true
    }

    /// Forgets a reserved task (a failed sync task: not billed, its taskUUID reusable).
    pub fn release(&self, owner: &str, uuid: &str) {
        if let Some(tasks) = self.inner().tasks.get_mut(owner) {
            tasks.remove(uuid);
        }
    }

    /// Records a reserved task's outcome, ready `delay` after now (async) or at once, paced by
    /// `pace`, and counts the execution.
    pub fn finish(&self, owner: &str, uuid: &str, outcome: Outcome, delay: Duration, pace: Pace) {
        let mut inner = self.inner();
        if let Some(rec) = inner.tasks.get_mut(owner).and_then(|t| t.get_mut(uuid)) {
            rec.outcome = outcome;
            rec.delay = delay;
            rec.pace = pace;
            if delay.is_zero() {
                rec.accepted = Instant::now();
            }
        }
        *inner.executions.entry(uuid.to_string()).or_default() += 1;
    }

    /// Whether the owner has a task with this taskUUID.
    pub fn exists(&self, owner: &str, uuid: &str) -> bool {
        self.inner()
            .tasks
            .get(owner)
            .is_some_and(|t| t.contains_key(uuid))
    }

    /// The current (cumulative) getResponse view of a task: with N items and an async delay D,
    /// item i is ready D·(i+1)/N after acceptance, so a poller sees results arrive one by one.
    pub fn task_view(&self, owner: &str, uuid: &str) -> Option<TaskView> {
        // Lowering the async delay at run time also shortens tasks already accepted, so a test
        // can observe `processing`, set the delay to 0, and observe `success` without sleeping.
        let (async_delay, video_delay) = (self.async_delay(), self.video_delay());
        let inner = self.inner();
        let rec = inner.tasks.get(owner)?.get(uuid)?;
        let now = Instant::now();
        let delay = match rec.pace {
            Pace::Standard => rec.delay.min(async_delay),
            Pace::Long => rec.delay.min(video_delay),
            // Far enough to never be reached, near enough not to overflow `Instant`.
            Pace::Never => Duration::from_secs(100 * 365 * 24 * 3600),
        };
        // Long work reports how far it got: the elapsed share of the delay (of the video delay
        // for a task that never finishes), below 100 until it is done.
        let progress = match rec.pace {
            Pace::Standard => None,
            Pace::Long | Pace::Never => {
                let span = if rec.pace == Pace::Never {
                    video_delay
                } else {
                    delay
                };
                let elapsed = now.saturating_duration_since(rec.accepted).as_secs_f64();
                let share = if span.is_zero() {
                    1.0
                } else {
                    elapsed / span.as_secs_f64()
                };
                // Clamped to 0..=99 first, so the cast is exact.
                #[expect(clippy::cast_possible_truncation, reason = "clamped to 0..=99")]
                let pct = (share * 100.0).clamp(0.0, 99.0) as u8;
                Some(pct)
            }
        };
        let processing_item = || {
            let mut item =
                json!({"taskType": rec.task_type, "taskUUID": uuid, "status": "processing"});
            if let Some(p) = progress {
                validate::set_field(&mut item, "progress", json!(p));
            }
            item
        };
        let processing =
            |n: usize| -> Vec<Value> { (0..n.max(1)).map(|_| processing_item()).collect() };
        let (data, errors) = match &rec.outcome {
            Outcome::Pending => (processing(rec.expected), vec![]),
            Outcome::Items(items) => {
                // More than u32::MAX items cannot exist (numberResults is at most 20).
                let n = u32::try_from(items.len().max(1)).unwrap_or(u32::MAX);
                let data = (1..=n)
                    .zip(items)
                    .map(|(i, item)| {
                        let ready = rec.accepted + delay * i / n;
                        if now >= ready {
                            validate::with_field(item.clone(), "status", json!("success"))
                        } else {
                            processing_item()
                        }
                    })
                    .collect();
                (data, vec![])
            }
            Outcome::Error(e) => {
                if now >= rec.accepted + delay {
                    let error = validate::with_field(e.clone(), "status", json!("error"));
                    // Long work also reports the error as an item of its own, with the error
                    // nested, as Runware does for video.
                    let items = match rec.pace {
                        Pace::Standard => vec![],
                        Pace::Long | Pace::Never => vec![json!({
                            "taskType": rec.task_type,
                            "taskUUID": uuid,
                            "status": "error",
                            "error": {
                                "code": e.get("code").cloned().unwrap_or(Value::Null),
                                "message": e.get("message").cloned().unwrap_or(Value::Null),
                            },
                        })],
                    };
                    (items, vec![error])
                } else {
                    (processing(rec.expected), vec![])
                }
            }
        };
        Some(TaskView {
            request: rec.request.clone(),
            data,
            errors,
        })
    }
}
