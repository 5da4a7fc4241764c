//! [`Client`]: async calls into the component, one fresh sandboxed instance per call.
//!
//! Each call makes a new `Store` (its own WASI context with no files, environment or sockets,
//! its own wasi:http context with the host's network policy, a memory cap and an
//! execution deadline), instantiates the component from the runtime's `InstancePre`, opens a
//! `client` resource with the options and runs the method. The store is dropped afterwards, so
//! calls share no state, and many can run at once.
//!
//! ```no_run
//! # async fn demo() -> Result<(), runware_host::Error> {
//! use runware_host::{ApiKey, Client, ClientConfig, ImageRequest, Runtime};
//! let runtime = Runtime::embedded()?;
//! let client = Client::new(&runtime, ClientConfig {
//!     api_key: ApiKey::from_env(),
//!     ..ClientConfig::default()
//! })?;
//! let result = client.text_to_image(&ImageRequest::new("a small airship over a forest")).await?;
//! println!("{:?}", result.images.first().and_then(|i| i.image_url.as_deref()));
//! # Ok(()) }
//! ```

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use wasmtime::component::{ResourceAny, ResourceTable};
use wasmtime::{Store, StoreLimitsBuilder};
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi_http::WasiHttpCtx;

use crate::bindings::RunwareClient;
use crate::bindings::runware::client::types as wit;
use crate::destination::{AllowEntry, Origin, Timeouts};
use crate::error::{Error, TrapCause};
use crate::key::ApiKey;
use crate::policy::{EgressPolicy, HostHooks};
use crate::pool::{ConnectionPool, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_IDLE_PER_ORIGIN};
use crate::runtime::{EPOCH_TICK, HostState, Limits, MemoryCapExceeded, Runtime};
use crate::types::{
    Account, ClientOptions, ImageRequest, ImageResult, Job, ModelSearchRequest, ModelSearchResult,
    RunResult, Task, TaskOutcome,
};

/// The Runware REST endpoint used when no base URL is given.
pub const DEFAULT_BASE_URL: &str = runware_spec::DEFAULT_BASE_URL;
/// The image host the real API serves `imageURL`s from; allowed automatically with the
/// default base URL.
pub const RUNWARE_IMAGE_HOST: &str = "https://im.runware.ai";

/// Time the host gives the component past its own deadline to report a typed `timeout`
/// before the host stops it.
const DEADLINE_GRACE: Duration = Duration::from_secs(5);
/// Time the host's async watchdog waits past the execution limit, so a component that is
/// running when the limit passes is stopped by the epoch interrupt (a trap) first.
const WATCHDOG_SLACK: Duration = Duration::from_secs(2);
/// Captured guest stderr kept per call (panic messages and the like).
const STDERR_CAPTURE: usize = 1 << 20;

/// How a [`Client`] talks to Runware: the component's own options, and the host's policy
/// around it.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The API key. `None`: no key is sent (fine for a server that needs none).
    pub api_key: Option<ApiKey>,
    /// The options handed to the component's `open`: base URL, retries, deadline, timeouts,
    /// polling, size cap, trace (the WIT `client-options`, whose docs give every default). The
    /// host enforces the timeouts and the size cap itself too. Leave `api_key` in it `None`:
    /// [`ClientConfig::api_key`] and [`ClientConfig::key_in_guest`] decide whether the
    /// component sees the key.
    pub options: ClientOptions,
    /// Destinations the component may reach besides the base URL's origin: `host`,
    /// `host:port` or `scheme://host[:port]`. With the default base URL, `im.runware.ai` is
    /// added automatically.
    pub allowed_hosts: Vec<String>,
    /// Give the key to the component (it then sets `Authorization` itself). Default `false`:
    /// the host injects the header and the component never holds the key.
    pub key_in_guest: bool,
    /// The hard limit the host enforces on one call, whatever the component does: past it the
    /// component is interrupted (epoch deadline) as soon as it runs, and dropped if it is
    /// waiting. Default: the deadline plus 5 s, so the component can report its own typed
    /// `timeout` first.
    pub execution_limit: Option<Duration>,
    /// Idle keep-alive connections kept per destination, shared by every call of the client.
    /// Default 16; `Some(0)` opens a new connection for every request.
    pub max_idle_connections: Option<usize>,
    /// Opened instances kept between calls of this client and reused, up to this many (default
    /// [`DEFAULT_MAX_IDLE_INSTANCES`]; 0: every call gets a fresh instance). Reuse saves
    /// instantiation and `open`: measured, a fresh instance costs a call about 235,000 more
    /// instructions (`cargo bench`, README "Performance"). An instance is kept only after a call
    /// that succeeded, for at most [`MAX_CALLS_PER_INSTANCE`] calls, and never leaves the client
    /// that opened it; it keeps what earlier calls of the same client left in its memory (never
    /// the key, which stays in the host), so share one client only between callers that may see
    /// each other's requests, and set 0 where they may not (`SECURITY.md`). With
    /// [`RuntimeConfig::pooling`](crate::RuntimeConfig), idle instances hold pool slots.
    pub max_idle_instances: usize,
}

/// Opened instances a client keeps for reuse unless told otherwise: enough for a few calls in
/// flight at once; each idle one holds about 200 KiB of linear memory.
pub const DEFAULT_MAX_IDLE_INSTANCES: usize = 4;

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            api_key: None,
            options: ClientOptions::default(),
            allowed_hosts: Vec::new(),
            key_in_guest: false,
            execution_limit: None,
            max_idle_connections: None,
            max_idle_instances: DEFAULT_MAX_IDLE_INSTANCES,
        }
    }
}

impl ClientConfig {
    /// The default configuration with this key.
    pub fn with_api_key(api_key: ApiKey) -> Self {
        ClientConfig {
            api_key: Some(api_key),
            ..ClientConfig::default()
        }
    }

    /// Sets the base URL.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.options.base_url = Some(url.into());
        self
    }

    /// Sets the total deadline of a call (whole milliseconds, saturating).
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.options.deadline_ms = Some(millis(deadline));
        self
    }

    /// Sets the retry budget.
    pub fn max_retries(mut self, n: u32) -> Self {
        self.options.max_retries = Some(n);
        self
    }

    /// Allows one more destination (`host`, `host:port` or `scheme://host[:port]`).
    pub fn allow_host(mut self, authority: impl Into<String>) -> Self {
        self.allowed_hosts.push(authority.into());
        self
    }
}

/// A duration in the whole milliseconds the WIT options take, saturating at `u32::MAX`.
pub fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

/// A WIT option in milliseconds, or the `runware-spec` default, as a `Duration`.
fn ms_or(value: Option<u32>, default: u32) -> Duration {
    Duration::from_millis(u64::from(value.unwrap_or(default)))
}

/// A Runware client backed by the component. Cheap to clone, `Send + Sync`; a call runs in an
/// instance this client opened earlier when one is idle ([`ClientConfig::max_idle_instances`]),
/// else in a fresh one. Its clones share keep-alive connections and idle instances; two clients
/// share neither.
#[derive(Clone)]
pub struct Client {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    runtime: Runtime,
    /// The options handed to the component's `open` (hold the key only with `key_in_guest`).
    options: wit::ClientOptions,
    policy: Arc<EgressPolicy>,
    /// Keep-alive connections, shared by every store of this client.
    pool: Arc<ConnectionPool>,
    /// Opened instances waiting for their next call (see `max_idle_instances`).
    idle_instances: Mutex<Vec<Call>>,
    max_idle_instances: usize,
    trace: bool,
    /// The epoch deadline of a call.
    execution_limit: Duration,
    /// The async watchdog of a call (the execution limit plus some slack).
    watchdog: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.options.base_url)
            .field("api", &self.inner.policy.api)
            .field("trace", &self.inner.trace)
            .finish_non_exhaustive()
    }
}

/// Calls one reused instance may serve before it is dropped (see
/// [`ClientConfig::max_idle_instances`]).
pub const MAX_CALLS_PER_INSTANCE: u32 = 1000;

/// One instantiated component with an opened `client` resource.
struct Call {
    store: Store<HostState>,
    bindings: RunwareClient,
    client: ResourceAny,
    /// What the component wrote to stderr (shown with a trap).
    stderr: MemoryOutputPipe,
    /// Calls this instance has served.
    served: u32,
}

type CallResult<R> = wasmtime::Result<Result<R, wit::Error>>;

/// Runs one method of the component's `client` resource through [`Client::call`]:
/// `call_export!(self, call_x(args…))` calls `call_x(store, client, args…)` on the instance.
macro_rules! call_export {
    ($self:ident, $method:ident($($arg:expr),*)) => {
        $self
            .call(|mut c| async move {
                let r = c
                    .bindings
                    .runware_client_api()
                    .client()
                    .$method(&mut c.store, c.client, $($arg),*)
                    .await;
                (c, r)
            })
            .await
    };
}

impl Client {
    /// Checks the configuration (the base URL and every allowed host must parse) and makes a
    /// client. Nothing is sent.
    pub fn new(runtime: &Runtime, config: ClientConfig) -> Result<Client, Error> {
        if config.options.api_key.is_some() {
            return Err(Error::host(
                "options.api_key must be None: set ClientConfig::api_key (and key_in_guest to \
                 give it to the component)",
            ));
        }
        let base_url = config
            .options
            .base_url
            .clone()
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        let api = Origin::from_url(&base_url).map_err(|e| Error::host(format!("base_url: {e}")))?;
        let mut allowed = vec![AllowEntry::from(&api)];
        if api.host == "api.runware.ai" {
            allowed.push(AllowEntry::parse(RUNWARE_IMAGE_HOST).map_err(Error::host)?);
        }
        for entry in &config.allowed_hosts {
            allowed.push(
                AllowEntry::parse(entry).map_err(|e| Error::host(format!("allowed_hosts: {e}")))?,
            );
        }
        let o = &config.options;
        // The host enforces the component's own timeouts and size cap too, with the same
        // defaults, so a component that ignores them is still bounded.
        let timeouts = Timeouts {
            connect: ms_or(
                o.connect_timeout_ms,
                runware_spec::DEFAULT_CONNECT_TIMEOUT_MS,
            ),
            first_byte: ms_or(
                o.first_byte_timeout_ms,
                runware_spec::DEFAULT_FIRST_BYTE_TIMEOUT_MS,
            ),
            between_bytes: ms_or(
                o.between_bytes_timeout_ms,
                runware_spec::DEFAULT_BETWEEN_BYTES_TIMEOUT_MS,
            ),
        };
        let deadline = ms_or(o.deadline_ms, runware_spec::DEFAULT_DEADLINE_MS);
        let execution_limit = config
            .execution_limit
            .unwrap_or(deadline.saturating_add(DEADLINE_GRACE));
        let max_response_bytes = o
            .max_response_bytes
            .unwrap_or(runware_spec::DEFAULT_MAX_RESPONSE_BYTES);
        let trace = o.trace.unwrap_or(false);
        let policy = EgressPolicy {
            api,
            allowed,
            inject_key: if config.key_in_guest {
                None
            } else {
                config.api_key.clone()
            },
            guest_may_authorize: config.key_in_guest,
            timeouts,
            max_response_bytes: u64::from(max_response_bytes),
        };
        let options = ClientOptions {
            api_key: if config.key_in_guest {
                config.api_key.as_ref().map(|k| k.expose().to_string())
            } else {
                None
            },
            base_url: Some(base_url),
            ..config.options
        };
        Ok(Client {
            inner: Arc::new(ClientInner {
                runtime: runtime.clone(),
                options,
                policy: Arc::new(policy),
                pool: Arc::new(ConnectionPool::new(
                    config
                        .max_idle_connections
                        .unwrap_or(DEFAULT_MAX_IDLE_PER_ORIGIN),
                    DEFAULT_IDLE_TIMEOUT,
                )),
                idle_instances: Mutex::new(Vec::new()),
                max_idle_instances: config.max_idle_instances,
                trace,
                execution_limit,
                watchdog: execution_limit.saturating_add(WATCHDOG_SLACK),
            }),
        })
    }

    /// The base URL's origin as `host:port`.
    pub fn api_authority(&self) -> String {
        self.inner.policy.api.authority()
    }

    /// Runs an `imageInference` task and returns its images (polling with async delivery).
    pub async fn text_to_image(&self, request: &ImageRequest) -> Result<ImageResult, Error> {
        call_export!(self, call_text_to_image(request))
    }

    /// The exact JSON array `text_to_image` would send, after validation; sends nothing.
    pub async fn prepare_text_to_image(&self, request: &ImageRequest) -> Result<String, Error> {
        call_export!(self, call_prepare_text_to_image(request))
    }

    /// Runs a `modelSearch` task.
    pub async fn model_search(
        &self,
        request: &ModelSearchRequest,
    ) -> Result<ModelSearchResult, Error> {
        call_export!(self, call_model_search(request))
    }

    /// Asks once for the state of an earlier task with `getResponse`.
    pub async fn get_response(&self, task_uuid: &str) -> Result<RunResult, Error> {
        let uuid = task_uuid.to_string();
        call_export!(self, call_get_response(&uuid))
    }

    /// Polls `getResponse` until the task succeeded or failed, or the poll deadline passed.
    /// `expected_results` is how many data items mean done (default 1).
    pub async fn wait(
        &self,
        task_uuid: &str,
        expected_results: Option<u32>,
    ) -> Result<RunResult, Error> {
        let uuid = task_uuid.to_string();
        call_export!(self, call_wait(&uuid, expected_results))
    }

    /// The raw path: a JSON array of tasks (or one task object); tasks without a `taskUUID`
    /// get one. Per-task failures are in [`RunResult::tasks`]; `Err` means the whole call failed.
    pub async fn run_tasks(&self, tasks_json: &str) -> Result<RunResult, Error> {
        let tasks = tasks_json.to_string();
        call_export!(self, call_run_tasks(&tasks))
    }

    /// Runs one typed task (video, audio, a tool, an upload, a prompt, text) to its end: with
    /// async delivery (always for video) it polls until every output arrived, the task failed,
    /// or the poll deadline passed (an error carrying the outputs received so far).
    pub async fn run(&self, task: &Task) -> Result<TaskOutcome, Error> {
        call_export!(self, call_run(task))
    }

    /// Sends one typed task with async delivery and returns as soon as Runware acknowledged
    /// it: store the [`Job`] and [`poll`](Self::poll) or [`wait_for`](Self::wait_for) it later,
    /// after a restart too, without sending (and paying for) the task again.
    pub async fn submit(&self, task: &Task) -> Result<Job, Error> {
        call_export!(self, call_submit(task))
    }

    /// The exact JSON array `run` would send for this task, after validation; sends nothing.
    pub async fn prepare(&self, task: &Task) -> Result<String, Error> {
        call_export!(self, call_prepare(task))
    }

    /// Asks once where a job stands: its status, Runware's `progress` when reported, and the
    /// outputs so far.
    pub async fn poll(&self, job: &Job) -> Result<TaskOutcome, Error> {
        call_export!(self, call_poll(job))
    }

    /// Polls a job until it succeeded or failed, or the poll deadline passed.
    pub async fn wait_for(&self, job: &Job) -> Result<TaskOutcome, Error> {
        call_export!(self, call_wait_for(job))
    }

    /// The account's balance and currency (`accountManagement` `getDetails`).
    pub async fn account(&self) -> Result<Account, Error> {
        call_export!(self, call_account())
    }

    /// What Runware recorded of an earlier task (`getTaskDetails`), as a JSON object.
    pub async fn task_details(&self, task_uuid: &str) -> Result<String, Error> {
        let uuid = task_uuid.to_string();
        call_export!(self, call_task_details(&uuid))
    }

    /// Downloads the bytes at `url` (an `imageURL`) with the client's timeouts, retries and
    /// size cap. The URL's origin must be allowed.
    pub async fn download(&self, url: &str) -> Result<Vec<u8>, Error> {
        let url = url.to_string();
        call_export!(self, call_download(&url))
    }

    /// Instantiates the component and opens a `client` with this configuration, then drops
    /// it, sending nothing: checks the options the component validates (a base URL it
    /// refuses fails here with `invalid-request`) and measures instantiation on its own.
    pub async fn warm_up(&self) -> Result<(), Error> {
        self.open().await.map(drop)
    }

    /// Test seam: opened instances waiting for reuse.
    #[doc(hidden)]
    pub fn idle_instance_count(&self) -> usize {
        self.idle_instances().len()
    }

    /// Benchmark seam: makes a fresh store and instance as every call does, then drops them
    /// without opening a `client` (nothing runs in the component but its start-up).
    #[doc(hidden)]
    pub async fn instantiate_only(&self) -> Result<(), Error> {
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE);
        let mut store = self.new_store(&stderr);
        self.inner
            .runtime
            .inner
            .pre
            .instantiate_async(&mut store)
            .await
            .map(drop)
            .map_err(|e| trap(e, &stderr))
    }

    /// The execution limit in epoch ticks.
    fn epoch_ticks(&self) -> u64 {
        let ticks = self.inner.execution_limit.as_millis() / EPOCH_TICK.as_millis().max(1) + 1;
        u64::try_from(ticks).unwrap_or(u64::MAX)
    }

    /// A fresh store: its own WASI context, network policy, memory cap and epoch deadline.
    fn new_store(&self, stderr: &MemoryOutputPipe) -> Store<HostState> {
        let mut wasi = WasiCtx::builder();
        if self.inner.trace {
            wasi.inherit_stderr();
        } else {
            wasi.stderr(stderr.clone());
        }
        self.store_with(wasi.build())
    }

    /// A fresh store around `wasi`, under this client's network policy (shared keep-alive
    /// connections), memory cap and epoch deadline: what every call runs in, and every request
    /// `serve` hands an app.
    pub(crate) fn store_with(&self, wasi: WasiCtx) -> Store<HostState> {
        let inner = &self.inner;
        let rt = &inner.runtime.inner;
        let state = HostState {
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks: HostHooks {
                policy: Arc::clone(&inner.policy),
                pool: Arc::clone(&inner.pool),
            },
            limits: Limits::new(
                StoreLimitsBuilder::new()
                    .memory_size(rt.max_memory_bytes)
                    .trap_on_grow_failure(true)
                    .build(),
            ),
        };
        let mut store = Store::new(&rt.engine, state);
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(self.epoch_ticks());
        store.epoch_deadline_trap();
        store
    }

    /// How long the host's watchdog lets one call (or one served request) run.
    pub(crate) fn watchdog(&self) -> Duration {
        self.inner.watchdog
    }

    /// The base URL the policy's API origin comes from (always set by [`Client::new`]).
    pub(crate) fn base_url(&self) -> Option<&str> {
        self.inner.options.base_url.as_deref()
    }

    /// A fresh store and instance with the `client` resource opened.
    async fn open(&self) -> Result<Call, Error> {
        let inner = &self.inner;
        let rt = &inner.runtime.inner;
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE);
        let mut store = self.new_store(&stderr);
        let bindings = rt
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| trap(e, &stderr))?;
        let client = bindings
            .runware_client_api()
            .client()
            .call_open(&mut store, &inner.options)
            .await
            .map_err(|e| trap(e, &stderr))??;
        Ok(Call {
            store,
            bindings,
            client,
            stderr,
            served: 0,
        })
    }

    fn idle_instances(&self) -> MutexGuard<'_, Vec<Call>> {
        // A list of idle instances stays valid whatever panicked while it was held.
        self.inner
            .idle_instances
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// An idle opened instance, re-armed with a full execution limit, or a fresh one.
    async fn checkout(&self) -> Result<Call, Error> {
        let idle = self.idle_instances().pop();
        match idle {
            Some(mut call) => {
                call.store.set_epoch_deadline(self.epoch_ticks());
                Ok(call)
            }
            None => self.open().await,
        }
    }

    /// Keeps an instance whose call succeeded for the next call, if reuse is on.
    fn check_in(&self, mut call: Call) {
        call.served += 1;
        if call.served >= MAX_CALLS_PER_INSTANCE {
            return;
        }
        let mut idle = self.idle_instances();
        if idle.len() < self.inner.max_idle_instances {
            idle.push(call);
        }
    }

    /// Runs `f` on an instance (fresh, or reused when `max_idle_instances` allows) under the
    /// host's watchdog. An instance that failed, trapped or was cancelled is never reused.
    async fn call<R, F, Fut>(&self, f: F) -> Result<R, Error>
    where
        F: FnOnce(Call) -> Fut,
        Fut: Future<Output = (Call, CallResult<R>)>,
    {
        crate::steps::mark(crate::steps::Step::CallStart);
        let work = async {
            let call = self.checkout().await?;
            let (call, result) = f(call).await;
            match result {
                Ok(Ok(v)) => {
                    self.check_in(call);
                    Ok(v)
                }
                Ok(Err(e)) => Err(Error::from(e)),
                Err(t) => Err(trap(t, &call.stderr)),
            }
        };
        let result = match tokio::time::timeout(self.inner.watchdog, work).await {
            Ok(r) => r,
            Err(_) => Err(Error::ExecutionLimit {
                limit: self.inner.watchdog,
            }),
        };
        crate::steps::mark(crate::steps::Step::CallEnd);
        result
    }
}

/// What stopped an instance, recognised by the trap's type.
pub(crate) fn trap_cause(e: &wasmtime::Error) -> TrapCause {
    if e.downcast_ref::<MemoryCapExceeded>().is_some() {
        TrapCause::MemoryCap
    } else if matches!(
        e.downcast_ref::<wasmtime::Trap>(),
        Some(wasmtime::Trap::Interrupt)
    ) {
        TrapCause::ExecutionLimit
    } else {
        TrapCause::Other
    }
}

/// A trap or host failure during a call, with the end of what the component wrote to stderr.
fn trap(e: wasmtime::Error, stderr: &MemoryOutputPipe) -> Error {
    let cause = trap_cause(&e);
    let captured = stderr.contents();
    let captured = String::from_utf8_lossy(&captured);
    let captured = captured.trim();
    // The last 2000 characters: where a panic message is.
    let skip = captured.chars().count().saturating_sub(2000);
    Error::Trap {
        cause,
        stderr: captured.chars().skip(skip).collect(),
        source: e.into(),
    }
}
