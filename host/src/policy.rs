//! The sandbox's network policy: `wasi:http` hooks that decide what the component may reach.
//!
//! Every outgoing request of the component passes through [`HostHooks::send_request`]:
//! - the egress allow-list: only the API's origin (scheme, host and port, default ports
//!   normalised) and the configured extra authorities are reachable; anything else fails with
//!   `ErrorCode::HttpRequestDenied`, which the component reports as a typed `transport` error;
//! - host-side key injection: for requests to the API's origin the host adds
//!   `Authorization: Bearer <key>`; the component never holds the key, and `authorization` is a
//!   forbidden header for it, so it cannot set one of its own either;
//! - timeouts: the component's connect / first-byte / between-bytes timeouts are clamped to the
//!   client's (and set when it gave none: `wasmtime-wasi-http` would otherwise wait 600 s);
//! - a response body cap, enforced by the host as well as the component;
//! - keep-alive: requests go out on the client's [`ConnectionPool`].

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_LENGTH};
use http::{HeaderName, HeaderValue};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use wasmtime_wasi_http::{
    DEFAULT_FORBIDDEN_HEADERS, Error as HttpError, ForbiddenHeaderFilter, RequestOptions, WasiBody,
    WasiHttpHooks,
};

use crate::destination::{AllowEntry, Origin, Timeouts};
use crate::key::ApiKey;
use crate::pool::ConnectionPool;

/// The policy shared by every store of one client.
#[derive(Debug)]
pub(crate) struct EgressPolicy {
    /// The API's origin: the one destination that gets the key.
    pub api: Origin,
    /// Every destination the component may reach (the API's origin first).
    pub allowed: Vec<AllowEntry>,
    /// The key the host injects (`None`: the host injects nothing).
    pub inject_key: Option<ApiKey>,
    /// Whether the component may set `authorization` itself (`key_in_guest`).
    pub guest_may_authorize: bool,
    /// Upper bounds for the component's timeouts.
    pub timeouts: Timeouts,
    /// The largest response body the host passes on.
    pub max_response_bytes: u64,
}

impl EgressPolicy {
    /// Whether the component may send a request to this origin.
    pub(crate) fn allows(&self, o: &Origin) -> bool {
        self.allowed.iter().any(|a| a.matches(o))
    }

    fn clamp(&self, options: Option<RequestOptions>) -> RequestOptions {
        let o = options.unwrap_or_default();
        let clamp =
            |guest: Option<Duration>, max: Duration| Some(guest.map_or(max, |g| g.min(max)));
        RequestOptions {
            connect_timeout: clamp(o.connect_timeout, self.timeouts.connect),
            first_byte_timeout: clamp(o.first_byte_timeout, self.timeouts.first_byte),
            between_bytes_timeout: clamp(o.between_bytes_timeout, self.timeouts.between_bytes),
        }
    }
}

/// The `wasi:http` hooks of one store.
pub(crate) struct HostHooks {
    pub policy: Arc<EgressPolicy>,
    /// The client's keep-alive connections, shared by all its stores.
    pub pool: Arc<ConnectionPool>,
}

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                ),
                HttpError,
            >,
        > + Send,
>;

impl WasiHttpHooks for HostHooks {
    fn forbidden_header_filter(&mut self) -> ForbiddenHeaderFilter {
        let guest_may_authorize = self.policy.guest_may_authorize;
        Arc::new(move |name: &HeaderName| {
            (!guest_may_authorize && name == AUTHORIZATION)
                || DEFAULT_FORBIDDEN_HEADERS.contains(name)
        })
    }

    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> SendFuture {
        _ = fut;
        crate::steps::mark(crate::steps::Step::RequestAtHost);
        let policy = Arc::clone(&self.policy);
        // 1. The allow-list.
        let Some(origin) = Origin::from_uri(request.uri()).filter(|o| policy.allows(o)) else {
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        };
        // 2. The key: only the API's origin gets it, and only from the host.
        if !policy.guest_may_authorize {
            request.headers_mut().remove(AUTHORIZATION);
            if origin == policy.api
                && let Some(key) = &policy.inject_key
            {
                match HeaderValue::from_str(&format!("Bearer {}", key.expose())) {
                    Ok(mut v) => {
                        v.set_sensitive(true);
                        request.headers_mut().insert(AUTHORIZATION, v);
                    }
                    // A key with characters a header cannot carry; never echo it.
                    Err(_) => {
                        return Box::new(async {
                            Err(HttpError::InternalError(Some(
                                "the API key contains characters not allowed in a header".into(),
                            )))
                        });
                    }
                }
            }
        }
        // 3. Timeouts clamped to the client's.
        let timeouts = Timeouts::from_options(&policy.clamp(options));
        let limit = policy.max_response_bytes;
        let pool = Arc::clone(&self.pool);
        Box::new(async move {
            let response = pool.send(origin, request, timeouts).await?;
            // 4. The body cap: refuse a declared oversize at once, count the rest.
            let declared = response
                .headers()
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if declared.is_some_and(|n| n > limit) {
                return Err(HttpError::HttpResponseBodySize(declared));
            }
            let response = response.map(|body| {
                CappedBody {
                    inner: body.boxed_unsync(),
                    remaining: limit,
                    limit,
                }
                .boxed_unsync()
            });
            // The connection is driven by its own task (it outlives the store when it goes back
            // to the pool), so there is nothing left for the caller to drive.
            Ok((
                response,
                Box::new(async { Ok(()) })
                    as Box<dyn Future<Output = Result<(), HttpError>> + Send>,
            ))
        })
    }
}

/// A response body that fails once more than `limit` bytes went through.
struct CappedBody {
    inner: WasiBody,
    remaining: u64,
    limit: u64,
}

impl Body for CappedBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let n = data.len() as u64;
                    if n > this.remaining {
                        this.remaining = 0;
                        return Poll::Ready(Some(Err(HttpError::HttpResponseBodySize(Some(
                            this.limit,
                        )))));
                    }
                    this.remaining -= n;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(url: &str) -> Origin {
        Origin::from_url(url).unwrap_or_else(|e| panic!("{e}"))
    }

    fn policy(base: &str, extra: &[&str]) -> EgressPolicy {
        let api = origin(base);
        let mut allowed = vec![AllowEntry::from(&api)];
        for e in extra {
            allowed.push(AllowEntry::parse(e).unwrap_or_else(|e| panic!("{e}")));
        }
        EgressPolicy {
            api,
            allowed,
            inject_key: None,
            guest_may_authorize: false,
            timeouts: Timeouts {
                connect: Duration::from_secs(1),
                first_byte: Duration::from_secs(2),
                between_bytes: Duration::from_secs(3),
            },
            max_response_bytes: 10,
        }
    }

    #[test]
    fn default_ports_are_normalised() {
        let p = policy("https://api.runware.ai/v1", &[]);
        assert!(p.allows(&origin("https://api.runware.ai:443/v1")));
        assert!(p.allows(&origin("https://API.runware.ai/other")));
        assert!(
            !p.allows(&origin("http://api.runware.ai/v1")),
            "scheme is checked"
        );
        assert!(!p.allows(&origin("https://api.runware.ai:8443/v1")));
        assert!(!p.allows(&origin("https://evil.example/v1")));
    }

    #[test]
    fn extra_authorities() {
        let p = policy(
            "http://127.0.0.1:4000/v1",
            &[
                "im.runware.ai",
                "127.0.0.1:5000",
                "https://cdn.example:8443",
            ],
        );
        assert!(p.allows(&origin("https://im.runware.ai/image/x.jpg")));
        assert!(p.allows(&origin("http://im.runware.ai/image/x.jpg")));
        assert!(!p.allows(&origin("https://im.runware.ai:444/x")));
        assert!(p.allows(&origin("http://127.0.0.1:5000/x")));
        assert!(!p.allows(&origin("http://127.0.0.1:5001/x")));
        assert!(p.allows(&origin("https://cdn.example:8443/x")));
        assert!(!p.allows(&origin("http://cdn.example:8443/x")));
    }

    #[test]
    fn bad_urls_are_refused_with_a_reason() {
        assert!(Origin::from_url("ftp://x.example").is_err());
        assert!(Origin::from_url("not a url").is_err());
        assert!(Origin::from_url("https://user:pw@x.example/").is_err());
        assert!(AllowEntry::parse("a b").is_err());
    }

    #[test]
    fn timeouts_are_clamped_and_defaulted() {
        let p = policy("https://api.runware.ai/v1", &[]);
        let o = p.clamp(None);
        assert_eq!(o.connect_timeout, Some(Duration::from_secs(1)));
        let o = p.clamp(Some(RequestOptions {
            connect_timeout: Some(Duration::from_millis(10)),
            first_byte_timeout: Some(Duration::from_secs(600)),
            between_bytes_timeout: None,
        }));
        assert_eq!(o.connect_timeout, Some(Duration::from_millis(10)));
        assert_eq!(o.first_byte_timeout, Some(Duration::from_secs(2)));
        assert_eq!(o.between_bytes_timeout, Some(Duration::from_secs(3)));
    }

    #[test]
    fn authorization_is_forbidden_unless_the_guest_holds_the_key() {
        let pool = Arc::new(ConnectionPool::new(0, Duration::ZERO));
        let mut hooks = HostHooks {
            policy: Arc::new(policy("https://api.runware.ai/v1", &[])),
            pool: Arc::clone(&pool),
        };
        assert!(hooks.is_forbidden_header(&AUTHORIZATION));
        assert!(hooks.is_forbidden_header(&http::header::HOST));
        assert!(!hooks.is_forbidden_header(&http::header::CONTENT_TYPE));
        let mut p = policy("https://api.runware.ai/v1", &[]);
        p.guest_may_authorize = true;
        let mut hooks = HostHooks {
            policy: Arc::new(p),
            pool,
        };
        assert!(!hooks.is_forbidden_header(&AUTHORIZATION));
    }

    #[tokio::test]
    async fn capped_body_fails_past_the_limit() {
        use http_body_util::Full;
        let body = Full::new(Bytes::from_static(b"0123456789abc"))
            .map_err(|never| match never {})
            .boxed_unsync();
        let capped = CappedBody {
            inner: body,
            remaining: 10,
            limit: 10,
        };
        let err = capped.collect().await.err();
        assert!(matches!(
            err,
            Some(HttpError::HttpResponseBodySize(Some(10)))
        ));
        let body = Full::new(Bytes::from_static(b"0123456789"))
            .map_err(|never| match never {})
            .boxed_unsync();
        let capped = CappedBody {
            inner: body,
            remaining: 10,
            limit: 10,
        };
        assert!(capped.collect().await.is_ok());
    }
}
