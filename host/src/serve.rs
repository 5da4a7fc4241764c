//! [`Server`]: the host as the trusted runtime of an app component that exports
//! `wasi:http/incoming-handler@0.2.x` (an edge function), as `wasmtime serve` runs one, but
//! with the host's network policy around everything the app sends.
//!
//! The app arrives already composed with the Runware client component (the `runware serve`
//! CLI plugs the embedded one into the app's `runware:client/api` import with
//! `runware-compose`; this library does not link wac-graph). In a composition the app's own
//! `wasi:http/outgoing-handler` import and the client component's are one import, so every
//! request either of them sends passes through the same [`HostHooks`] a [`Client`]'s calls do:
//! the egress allow-list (the API's origin and the configured hosts), the key injected as
//! `Authorization: Bearer` only on requests to the API's origin, the clamped timeouts and the
//! response body cap. The app's WASI environment holds `RUNWARE_BASE_URL` (so apps written for
//! `jco serve` / `wasmtime serve` work unchanged) and never the key: the app can spend the key
//! through the API, but cannot read it.
//!
//! Each request gets a fresh store and instance (no state survives between requests), with the
//! client's memory cap, epoch deadline and watchdog.
//!
//! ```no_run
//! # async fn demo(composed: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
//! use runware_host::{ApiKey, ClientConfig, Runtime, ServeConfig, Server};
//! let runtime = Runtime::embedded()?;
//! let config = ServeConfig::new(ClientConfig {
//!     api_key: ApiKey::from_env(),
//!     ..ClientConfig::default()
//! });
//! let server = Server::new(&runtime, composed, config)?;
//! server.serve(tokio::net::TcpListener::bind("127.0.0.1:8080").await?).await?;
//! # Ok(()) }
//! ```

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use tokio::net::TcpListener;
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::{WasiBody, WasiHttpView};

use crate::client::{Client, ClientConfig, trap_cause};
use crate::error::Error;
use crate::key::API_KEY_ENV;
use crate::runtime::{HostState, Runtime, linker};

/// The variable of the app's environment that holds the API's base URL.
pub const BASE_URL_ENV: &str = "RUNWARE_BASE_URL";

/// How a [`Server`] runs its app.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The network policy and limits, exactly as a [`Client`]'s: the key the host injects, the
    /// base URL (the API's origin, the one destination that gets the key), the extra allowed
    /// hosts, timeouts and body cap (from `options`), the execution limit and keep-alive
    /// connections. `key_in_guest` must stay `false`; `max_idle_instances` is unused (every
    /// request gets a fresh instance).
    pub client: ClientConfig,
    /// More variables for the app's WASI environment, after `RUNWARE_BASE_URL` (which is the
    /// base URL unless given here). `RUNWARE_API_KEY` is refused: the key stays in the host.
    pub app_env: Vec<(String, String)>,
}

impl ServeConfig {
    /// This policy, and no environment for the app but `RUNWARE_BASE_URL`.
    pub fn new(client: ClientConfig) -> Self {
        ServeConfig {
            client,
            app_env: Vec::new(),
        }
    }
}

/// Serves an app component (composed with the client component) over HTTP/1, a fresh
/// instance per request. Cheap to clone (an `Arc`).
#[derive(Clone)]
pub struct Server {
    inner: Arc<ServerInner>,
}

struct ServerInner {
    /// The policy, the keep-alive connections and the limits every request's store gets.
    client: Client,
    pre: ProxyPre<HostState>,
    /// The app's environment, `RUNWARE_BASE_URL` first.
    env: Vec<(String, String)>,
    from_cache: bool,
    /// Instances alive (a request being answered, or its body still being written).
    in_flight: tokio::sync::watch::Sender<usize>,
}

/// Counts one instance in flight until it is dropped.
struct InFlight(tokio::sync::watch::Sender<usize>);

impl InFlight {
    fn start(counter: &tokio::sync::watch::Sender<usize>) -> InFlight {
        counter.send_modify(|n| *n = n.saturating_add(1));
        InFlight(counter.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("client", &self.inner.client)
            .field("from_cache", &self.inner.from_cache)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Checks the configuration (as [`Client::new`] does, and that the key stays out of the
    /// app), compiles `app` with the runtime's engine through its compiled-code cache, and links
    /// it: it must export `wasi:http/incoming-handler@0.2.x` and import nothing but WASI
    /// (wasi:cli, clocks, random, io, filesystem and sockets with no access granted, wasi:http).
    /// Blocking: compiling a 15 MB JavaScript app takes seconds when it is not cached.
    pub fn new(runtime: &Runtime, app: &[u8], config: ServeConfig) -> Result<Server, Error> {
        if config.client.key_in_guest {
            return Err(Error::host(
                "serve keeps the key in the host: key_in_guest must be false",
            ));
        }
        if config.app_env.iter().any(|(name, _)| name == API_KEY_ENV) {
            return Err(Error::host(format!(
                "serve keeps the key in the host: {API_KEY_ENV} cannot be in the app's environment"
            )));
        }
        let client = Client::new(runtime, config.client)?;
        let base_url = client.base_url().unwrap_or_default().to_string();
        let mut env = vec![(BASE_URL_ENV.to_string(), base_url)];
        for (name, value) in config.app_env {
            env.retain(|(n, _)| *n != name);
            env.push((name, value));
        }
        let (component, from_cache) = runtime.compile(app)?;
        let instance_pre = linker(&runtime.inner.engine)?
            .instantiate_pre(&component)
            .map_err(|e| Error::host_with("the app's imports cannot be met", e))?;
        let pre = ProxyPre::new(instance_pre).map_err(|e| {
            Error::host_with(
                "the app does not export wasi:http/incoming-handler@0.2.x",
                e,
            )
        })?;
        Ok(Server {
            inner: Arc::new(ServerInner {
                client,
                pre,
                env,
                from_cache,
                in_flight: tokio::sync::watch::Sender::new(0),
            }),
        })
    }

    /// Whether the app's compiled code came from the on-disk cache.
    pub fn loaded_from_cache(&self) -> bool {
        self.inner.from_cache
    }

    /// Test seam: waits until no instance is alive (every store of an answered request is
    /// dropped, which is when a memory probe scans it).
    #[doc(hidden)]
    pub async fn settled(&self) {
        let mut alive = self.inner.in_flight.subscribe();
        // The sender lives as long as `self`, so waiting cannot fail.
        let _ = alive.wait_for(|n| *n == 0).await;
    }

    /// Answers one request in a fresh instance of the app. The response's body streams from
    /// the instance, which the host's watchdog stops (and drops) at the execution limit.
    pub async fn handle<B>(
        &self,
        request: http::Request<B>,
    ) -> Result<http::Response<WasiBody>, Error>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        let inner = &self.inner;
        let mut wasi = WasiCtx::builder();
        // The app's console goes where the server's does, as under `wasmtime serve`; it has no
        // arguments, files or sockets, and its environment never holds the key.
        wasi.envs(&inner.env)
            .inherit_stdout()
            .inherit_stderr()
            .allow_tcp(false)
            .allow_udp(false);
        // Declared before the store, so it is dropped after it.
        let alive = InFlight::start(&inner.in_flight);
        let mut store = inner.client.store_with(wasi.build());
        let proxy = inner
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(app_trap)?;
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let mut http = store.data_mut().http();
        let request = http
            .new_incoming_request(Scheme::Http, request)
            .map_err(|e| Error::host_with("cannot hand the request to the app", e))?;
        let out = http
            .new_response_outparam(sender)
            .map_err(|e| Error::host_with("cannot hand the request to the app", e))?;
        let limit = inner.client.watchdog();
        // The instance keeps running after it set the response: it writes the body.
        let task = tokio::spawn(async move {
            let result = tokio::time::timeout(
                limit,
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, request, out),
            )
            .await;
            drop(store);
            drop(alive);
            result
        });
        match receiver.await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(code)) => Err(Error::host(format!(
                "the app answered with an error: {code:?}"
            ))),
            // The instance ended without setting a response: why is in the task's result.
            Err(_) => Err(match task.await {
                Ok(Ok(Ok(()))) => Error::host("the app returned without setting a response"),
                Ok(Ok(Err(e))) => app_trap(e),
                Ok(Err(_)) => Error::ExecutionLimit { limit },
                Err(e) => Error::host_with("the app's task failed", e),
            }),
        }
    }

    /// Accepts HTTP/1 connections on `listener` until it fails, answering each request with
    /// [`Server::handle`]; a request the app fails is a 500 whose reason goes to stderr.
    pub async fn serve(&self, listener: TcpListener) -> Result<(), Error> {
        loop {
            let (stream, _) = listener
                .accept()
                .await
                .map_err(|e| Error::host_with("cannot accept a connection", e))?;
            let server = self.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let server = server.clone();
                    async move { Ok::<_, Infallible>(server.answer(request).await) }
                });
                if let Err(e) = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    eprintln!("runware serve: connection: {e}");
                }
            });
        }
    }

    /// [`Server::handle`], with a failure answered as a plain 500.
    async fn answer(
        &self,
        request: http::Request<hyper::body::Incoming>,
    ) -> http::Response<WasiBody> {
        let request =
            request.map(|body| body.map_err(wasmtime_wasi_http::Error::from).boxed_unsync());
        match self.handle(request).await {
            Ok(response) => response,
            Err(e) => {
                eprintln!("runware serve: {}", e.report());
                let mut response = http::Response::new(
                    Full::new(Bytes::from_static(
                        b"the app failed to answer (see the server's log)\n",
                    ))
                    .map_err(|never| match never {})
                    .boxed_unsync(),
                );
                *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                response
            }
        }
    }
}

/// A trap of the app (or of the client component inside it). Its stderr went to the server's.
fn app_trap(e: wasmtime::Error) -> Error {
    Error::Trap {
        cause: trap_cause(&e),
        stderr: String::new(),
        source: e.into(),
    }
}
