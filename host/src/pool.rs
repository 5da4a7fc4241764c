//! Keep-alive connections for the component's outgoing requests.
//!
//! `wasmtime-wasi-http`'s default sender opens a new TCP (and TLS) connection for every
//! request, and a store cannot keep one between calls because every call gets a fresh store.
//! [`ConnectionPool`] lives in the [`Client`](crate::Client) instead, shared by all its stores:
//! a request to an origin takes an idle HTTP/1.1 connection to it when one is alive, and the
//! connection goes back to the pool once the response body has been read to its end. A
//! connection whose body was not read to the end (an error, a cap, a dropped store) is closed.
//!
//! A request is retried on another connection only when hyper hands it back unsent (the idle
//! connection had been closed by the server): a request that may have reached the server is
//! never sent twice by the host, whatever its method.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::client::conn::http1::{self, SendRequest};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error as HttpError, WasiBody};

use crate::destination::{Origin, Scheme, Timeouts};

/// Idle connections kept per origin, unless the client says otherwise.
pub(crate) const DEFAULT_MAX_IDLE_PER_ORIGIN: usize = 16;
/// How long an idle connection is kept. Shorter than the idle timeouts of common load
/// balancers (60 s), so the server rarely closes a connection just as it is reused.
pub(crate) const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Idle HTTP/1.1 connections, keyed by origin.
pub(crate) struct ConnectionPool {
    idle: Mutex<HashMap<Origin, Vec<IdleConnection>>>,
    max_idle_per_origin: usize,
    idle_timeout: Duration,
    /// Built on the first `https` connection: parsing the root store once, not per request.
    tls: OnceLock<tokio_rustls::TlsConnector>,
}

struct IdleConnection {
    sender: SendRequest<WasiBody>,
    since: Instant,
}

impl std::fmt::Debug for ConnectionPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionPool")
            .field("max_idle_per_origin", &self.max_idle_per_origin)
            .field("idle_timeout", &self.idle_timeout)
            .finish_non_exhaustive()
    }
}

impl ConnectionPool {
    /// A pool keeping up to `max_idle_per_origin` idle connections per origin (0: none, every
    /// request gets a new connection) for at most `idle_timeout` each.
    pub(crate) fn new(max_idle_per_origin: usize, idle_timeout: Duration) -> ConnectionPool {
        ConnectionPool {
            idle: Mutex::new(HashMap::new()),
            max_idle_per_origin,
            idle_timeout,
            tls: OnceLock::new(),
        }
    }

    fn idle(&self) -> MutexGuard<'_, HashMap<Origin, Vec<IdleConnection>>> {
        // The map stays consistent whatever panicked while it was held.
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The most recently used idle connection to `origin` that is still open.
    fn take_idle(&self, origin: &Origin) -> Option<SendRequest<WasiBody>> {
        let mut idle = self.idle();
        let list = idle.get_mut(origin)?;
        let now = Instant::now();
        // Expired and closed connections are dropped (which closes them) on the way.
        list.retain(|c| !c.sender.is_closed() && now.duration_since(c.since) < self.idle_timeout);
        let found = list.pop().map(|c| c.sender);
        if list.is_empty() {
            idle.remove(origin);
        }
        found
    }

    /// Gives a connection whose last response was read to its end back to the pool.
    fn put_back(&self, origin: Origin, sender: SendRequest<WasiBody>) {
        if self.max_idle_per_origin == 0 || sender.is_closed() {
            return;
        }
        let mut idle = self.idle();
        let list = idle.entry(origin).or_default();
        if list.len() >= self.max_idle_per_origin {
            // The oldest goes: it is the likeliest to have been closed by the server.
            list.remove(0);
        }
        list.push(IdleConnection {
            sender,
            since: Instant::now(),
        });
    }

    /// Number of idle connections to `origin` (for tests).
    #[cfg(test)]
    fn idle_count(&self, origin: &Origin) -> usize {
        self.idle().get(origin).map_or(0, Vec::len)
    }

    /// Sends `request` (absolute URI) to `origin`, on an idle connection when one is alive, and
    /// returns the response with a body that enforces the between-bytes timeout.
    pub(crate) async fn send(
        self: Arc<Self>,
        origin: Origin,
        mut request: http::Request<WasiBody>,
        timeouts: Timeouts,
    ) -> Result<http::Response<WasiBody>, HttpError> {
        // On the wire, HTTP/1.1 to an origin server carries only the path and query (the
        // `Host` header carries the authority); hyper does not strip them itself.
        let path = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .parse::<http::Uri>()
            .map_err(|_| HttpError::HttpRequestUriInvalid)?;
        *request.uri_mut() = path;

        while let Some(mut sender) = self.take_idle(&origin) {
            // Normally ready at once; an error means the server closed it meanwhile.
            match tokio::time::timeout(timeouts.connect, sender.ready()).await {
                Ok(Ok(())) => {}
                _ => continue,
            }
            match self.exchange(&origin, sender, request, &timeouts).await {
                Exchange::Done(result) => return result,
                // Never written: safe to send on another connection.
                Exchange::Unsent(back) => request = back,
            }
        }
        let sender = self.connect(&origin, timeouts.connect).await?;
        match self.exchange(&origin, sender, request, &timeouts).await {
            Exchange::Done(result) => result,
            Exchange::Unsent(_) => Err(HttpError::ConnectionTerminated),
        }
    }

    /// One request on one connection.
    async fn exchange(
        self: &Arc<Self>,
        origin: &Origin,
        mut sender: SendRequest<WasiBody>,
        request: http::Request<WasiBody>,
        timeouts: &Timeouts,
    ) -> Exchange {
        let sent = sender.try_send_request(request);
        let response = match tokio::time::timeout(timeouts.first_byte, sent).await {
            Err(_) => return Exchange::Done(Err(HttpError::ConnectionReadTimeout)),
            Ok(Ok(response)) => {
                crate::steps::mark(crate::steps::Step::ResponseHead);
                response
            }
            Ok(Err(mut e)) => {
                return match e.take_message() {
                    Some(request) => Exchange::Unsent(request),
                    None => Exchange::Done(Err(HttpError::from(e.into_error()))),
                };
            }
        };
        let pool = Arc::clone(self);
        let origin = origin.clone();
        let between_bytes = if timeouts.between_bytes.is_zero() {
            // tokio's interval panics on zero.
            Duration::from_nanos(1)
        } else {
            timeouts.between_bytes
        };
        Exchange::Done(Ok(response.map(move |incoming| {
            let mut timeout = tokio::time::interval(between_bytes);
            timeout.reset();
            let mut body = PooledBody {
                incoming,
                timeout,
                give_back: Some(GiveBack {
                    pool,
                    origin,
                    sender,
                }),
            };
            body.maybe_give_back();
            body.boxed_unsync()
        })))
    }

    /// Opens a new connection (TCP, then TLS for `https`) and starts driving it.
    async fn connect(
        &self,
        origin: &Origin,
        connect_timeout: Duration,
    ) -> Result<SendRequest<WasiBody>, HttpError> {
        let opened = async {
            let tcp = TcpStream::connect(origin.authority())
                .await
                .map_err(HttpError::Connect)?;
            // Requests are written in one go; don't let Nagle hold the last segment back.
            let _ = tcp.set_nodelay(true);
            let stream: Box<dyn Stream> = match origin.scheme {
                Scheme::Http => Box::new(tcp),
                Scheme::Https => {
                    let name = server_name(origin)?;
                    let tls = self.tls.get_or_init(tls_connector);
                    Box::new(tls.connect(name, tcp).await.map_err(HttpError::Tls)?)
                }
            };
            let (sender, connection) = http1::Builder::new()
                .handshake(TokioIo::new(stream))
                .await
                .map_err(HttpError::from)?;
            // The connection runs on its own until both ends are dropped or it fails.
            // Its error, if any, is the one the request using it already reports.
            tokio::spawn(async move {
                let _ = connection.await;
            });
            Ok(sender)
        };
        match tokio::time::timeout(connect_timeout, opened).await {
            Ok(result) => result,
            Err(_) => Err(HttpError::ConnectionTimeout),
        }
    }
}

/// The outcome of one request on one connection.
enum Exchange {
    Done(Result<http::Response<WasiBody>, HttpError>),
    /// The connection was closed before the request was written: here it is back.
    Unsent(http::Request<WasiBody>),
}

trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// The TLS settings of `wasmtime-wasi-http`'s default sender: the Mozilla roots, no client auth.
fn tls_connector() -> tokio_rustls::TlsConnector {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.into(),
    };
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

fn server_name(origin: &Origin) -> Result<rustls::pki_types::ServerName<'static>, HttpError> {
    let host = origin.host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(rustls::pki_types::ServerName::from(ip));
    }
    rustls::pki_types::ServerName::try_from(host.to_string()).map_err(HttpError::from)
}

/// What a body hands back to the pool when it has been read to its end.
struct GiveBack {
    pool: Arc<ConnectionPool>,
    origin: Origin,
    sender: SendRequest<WasiBody>,
}

/// A response body: the between-bytes timeout of `wasmtime-wasi-http`'s default sender, and
/// the connection back to the pool at the end of the body. Dropped early, it closes the
/// connection (dropping the sender), since hyper cannot reuse a half-read one.
struct PooledBody {
    incoming: hyper::body::Incoming,
    timeout: tokio::time::Interval,
    give_back: Option<GiveBack>,
}

impl PooledBody {
    fn maybe_give_back(&mut self) {
        if self.incoming.is_end_stream()
            && let Some(g) = self.give_back.take()
        {
            crate::steps::mark(crate::steps::Step::BodyEnd);
            g.pool.put_back(g.origin, g.sender);
        }
    }
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.incoming).poll_frame(cx) {
            Poll::Ready(None) => {
                this.maybe_give_back();
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                // The connection is unusable now; drop it rather than give it back.
                this.give_back = None;
                let e = if e.is_timeout() {
                    HttpError::HttpResponseTimeout
                } else {
                    HttpError::from(e)
                };
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(Some(Ok(frame))) => {
                this.timeout.reset();
                this.maybe_give_back();
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                ready!(this.timeout.poll_tick(cx));
                this.give_back = None;
                Poll::Ready(Some(Err(HttpError::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Empty;
    use runware_emulator::Emulator;

    /// A GET of `url` through `pool`, with 5 s timeouts.
    async fn get(
        pool: &Arc<ConnectionPool>,
        url: &str,
    ) -> Result<http::Response<WasiBody>, HttpError> {
        let origin = Origin::from_url(url).unwrap_or_else(|e| panic!("{e}"));
        let request = http::Request::get(url)
            .header(http::header::HOST, "127.0.0.1")
            .body(Empty::new().map_err(|never| match never {}).boxed_unsync())
            .unwrap_or_else(|e| panic!("{e}"));
        let timeouts = Timeouts {
            connect: Duration::from_secs(5),
            first_byte: Duration::from_secs(5),
            between_bytes: Duration::from_secs(5),
        };
        Arc::clone(pool).send(origin, request, timeouts).await
    }

    async fn emulator() -> runware_emulator::EmulatorHandle {
        Emulator::builder()
            .start()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[tokio::test]
    async fn a_connection_read_to_the_end_is_reused_and_a_half_read_one_is_not() {
        let emu = emulator().await;
        let url = format!("http://{}/", emu.addr());
        let origin = Origin::from_url(&url).unwrap_or_else(|e| panic!("{e}"));
        let pool = Arc::new(ConnectionPool::new(4, DEFAULT_IDLE_TIMEOUT));

        for _ in 0..3 {
            let response = get(&pool, &url).await.unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(response.status(), 200);
            let body = response.into_body().collect().await;
            assert!(body.is_ok_and(|b| !b.to_bytes().is_empty()));
            assert_eq!(pool.idle_count(&origin), 1);
        }
        assert_eq!(emu.connections(), 1, "three requests, one connection");

        // Dropped before its end: the connection is closed, not given back.
        let response = get(&pool, &url).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pool.idle_count(&origin), 0, "in use");
        drop(response);
        assert_eq!(pool.idle_count(&origin), 0, "half-read: not reusable");
        emu.stop().await;
    }

    #[tokio::test]
    async fn a_pool_of_size_zero_keeps_nothing() {
        let emu = emulator().await;
        let url = format!("http://{}/", emu.addr());
        let origin = Origin::from_url(&url).unwrap_or_else(|e| panic!("{e}"));
        let pool = Arc::new(ConnectionPool::new(0, DEFAULT_IDLE_TIMEOUT));
        for _ in 0..2 {
            let response = get(&pool, &url).await.unwrap_or_else(|e| panic!("{e}"));
            let _ = response.into_body().collect().await;
            assert_eq!(pool.idle_count(&origin), 0);
        }
        assert_eq!(emu.connections(), 2);
        emu.stop().await;
    }

    #[tokio::test]
    async fn https_goes_through_tls_and_a_plain_http_server_fails_the_handshake() {
        let emu = emulator().await;
        let pool = Arc::new(ConnectionPool::new(4, DEFAULT_IDLE_TIMEOUT));
        for url in [
            format!("https://{}/", emu.addr()),
            format!("https://localhost:{}/", emu.addr().port()),
        ] {
            let err = get(&pool, &url).await.err();
            assert!(matches!(err, Some(HttpError::Tls(_))), "{url}: {err:?}");
        }
        emu.stop().await;
    }

    #[tokio::test]
    async fn an_unreachable_origin_is_a_connect_error() {
        // Bind and drop a listener: nothing listens on that port any more.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("{e}"));
        let pool = Arc::new(ConnectionPool::new(4, DEFAULT_IDLE_TIMEOUT));
        let err = get(&pool, &format!("http://127.0.0.1:{port}/")).await.err();
        assert!(matches!(err, Some(HttpError::Connect(_))), "{err:?}");
    }
}
