//! Outbound deliveries: webhooks (`webhookURL`: one POST per result item, body `{"data":[item]}`
//! or `{"errors":[error]}`) and `uploadEndpoint` (one PUT of each output's bytes).
//!
//! Both run in background tasks, so they never delay or fail the task that asked for them. A
//! non-2xx answer, a connection error or a timeout is retried on a capped exponential schedule
//! ([`DeliveryRetry`]); every attempt is written to the request log with method `WEBHOOK` or
//! `UPLOAD`, the URL as its path, the HTTP status (0 when none) and a [`Delivery`] record.
//!
//! Only loopback destinations are contacted (`http://` to 127.0.0.0/8, `::1` or `localhost`):
//! the emulator is a development tool and must not become a way to reach other hosts. Any other
//! destination is refused without being contacted and the refusal is logged; the task itself is
//! accepted and succeeds (Runware accepts any URL, so a client sees the same answer either way).
//!
//! Uploads are deferred: a job [`queue_upload`]s its outputs and the dispatcher [`flush_uploads`]
//! once the task is billed, or [`discard_uploads`] when it is not (a failed task uploads nothing).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST, USER_AGENT};
use http::{Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpStream;

use crate::state::{PendingUpload, Shared};
use crate::validate::{self, TaskCtx};
use crate::{AuthKind, LoggedRequest};

/// How webhook and upload deliveries are retried: `attempts` in all, waiting `initial_backoff`
/// before the first retry and doubling up to `max_backoff`; each attempt gives up after
/// `timeout`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeliveryRetry {
    /// Attempts in all, the first included (at least 1 is made).
    pub attempts: u32,
    /// The wait before the first retry.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts.
    pub max_backoff: Duration,
    /// How long one attempt may take (connect, send, answer).
    pub timeout: Duration,
}

impl Default for DeliveryRetry {
    /// 4 attempts, 250 ms doubling to at most 2 s, 10 s per attempt: short, so that a test
    /// sees a retried delivery within a second.
    fn default() -> Self {
        Self {
            attempts: 4,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(2),
            timeout: Duration::from_secs(10),
        }
    }
}

/// What kind of delivery a log entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DeliveryKind {
    /// A `webhookURL` POST of one result item.
    Webhook,
    /// An `uploadEndpoint` PUT of one output's bytes.
    Upload,
}

/// What became of one delivery attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DeliveryOutcome {
    /// Answered 2xx: done.
    Delivered,
    /// Failed; another attempt follows.
    Retrying,
    /// Failed, and it was the last attempt.
    Failed,
    /// Not contacted: the destination is not loopback (or not an `http://` URL).
    Refused,
}

/// One delivery attempt, as the request log records it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// Webhook or upload.
    pub kind: DeliveryKind,
    /// The destination URL.
    pub url: String,
    /// The attempt number, from 1 (0 for a refusal).
    pub attempt: u32,
    /// What happened.
    pub outcome: DeliveryOutcome,
    /// Why it failed or was refused, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One outbound request to make.
struct Outbound {
    kind: DeliveryKind,
    url: String,
    task_uuid: String,
    content_type: String,
    body: Bytes,
    /// How long to wait before the first attempt (an async item is delivered when it is ready).
    wait: Duration,
}

/// Checks a destination: an `http://` URL whose host is `localhost` or a loopback address.
fn check_destination(url: &str) -> Result<Uri, String> {
    let uri: Uri = url
        .trim()
        .parse()
        .map_err(|_| "not a valid URL".to_string())?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(
                "https destinations are not supported: the emulator delivers to loopback http:// URLs only"
                    .into(),
            );
        }
        _ => return Err("not an http:// URL".into()),
    }
    let host = uri
        .host()
        .ok_or_else(|| "the URL has no host".to_string())?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = bare.eq_ignore_ascii_case("localhost")
        || match bare.parse::<IpAddr>() {
            Ok(IpAddr::V4(v4)) => v4.is_loopback(),
            Ok(IpAddr::V6(v6)) => {
                v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
            }
            Err(_) => false,
        };
    if loopback {
        Ok(uri)
    } else {
        Err(format!(
            "refused: '{host}' is not a loopback destination (the emulator only delivers to 127.0.0.0/8, ::1 and localhost)"
        ))
    }
}

/// A string destination parameter of a task, if present (its type was checked by the dispatcher).
fn destination(ctx: &TaskCtx<'_>, param: &str) -> Option<String> {
    ctx.task
        .get(param)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Queues one output's bytes for the task's `uploadEndpoint`, if it has one: the PUT is made once
/// the task is billed ([`flush_uploads`]). Every output kind calls this with its bytes and MIME
/// type (`image/png`, `video/mp4`, `audio/wav`, …).
pub(crate) fn queue_upload(shared: &Shared, ctx: &TaskCtx<'_>, bytes: Bytes, content_type: &str) {
    if let Some(url) = destination(ctx, "uploadEndpoint") {
        shared.queue_upload(
            ctx.task_uuid,
            PendingUpload {
                url,
                bytes,
                content_type: content_type.to_string(),
            },
        );
    }
}

/// Starts the queued uploads of a billed task.
pub(crate) fn flush_uploads(shared: &Arc<Shared>, task_uuid: &str) {
    for up in shared.take_uploads(task_uuid) {
        spawn(
            shared,
            Outbound {
                kind: DeliveryKind::Upload,
                url: up.url,
                task_uuid: task_uuid.to_string(),
                content_type: up.content_type,
                body: up.bytes,
                wait: Duration::ZERO,
            },
        );
    }
}

/// Drops the queued uploads of a task that failed or was not billed.
pub(crate) fn discard_uploads(shared: &Shared, task_uuid: &str) {
    drop(shared.take_uploads(task_uuid));
}

/// Starts the webhook deliveries of an executed task: one POST per item, item `i` of `n` sent
/// when `getResponse` would show it (`delay·(i+1)/n` after now), or one POST of the error.
pub(crate) fn webhooks(
    shared: &Arc<Shared>,
    ctx: &TaskCtx<'_>,
    result: &Result<Vec<Value>, Value>,
    delay: Duration,
) {
    let Some(url) = destination(ctx, "webhookURL") else {
        return;
    };
    let bodies: Vec<(Value, Duration)> = match result {
        Ok(items) => {
            // At most 20 items (numberResults): the conversion cannot fail.
            let n = u32::try_from(items.len().max(1)).unwrap_or(u32::MAX);
            (1..=n)
                .zip(items)
                .map(|(i, item)| {
                    let item = validate::with_field(item.clone(), "status", json!("success"));
                    (json!({"data": [item]}), delay * i / n)
                })
                .collect()
        }
        Err(e) => {
            let e = validate::with_field(e.clone(), "status", json!("error"));
            vec![(json!({"errors": [e]}), delay)]
        }
    };
    for (body, wait) in bodies {
        spawn(
            shared,
            Outbound {
                kind: DeliveryKind::Webhook,
                url: url.clone(),
                task_uuid: ctx.task_uuid.to_string(),
                content_type: "application/json".into(),
                body: Bytes::from(body.to_string()),
                wait,
            },
        );
    }
}

fn spawn(shared: &Arc<Shared>, out: Outbound) {
    tokio::spawn(deliver(shared.clone(), out));
}

/// Logs one attempt.
fn log(
    shared: &Shared,
    out: &Outbound,
    attempt: u32,
    status: u16,
    outcome: DeliveryOutcome,
    error: Option<String>,
) {
    let body = match out.kind {
        DeliveryKind::Webhook => String::from_utf8_lossy(&out.body).into_owned(),
        DeliveryKind::Upload => format!("<{} bytes of {}>", out.body.len(), out.content_type),
    };
    shared.log(LoggedRequest {
        method: match out.kind {
            DeliveryKind::Webhook => "WEBHOOK".into(),
            DeliveryKind::Upload => "UPLOAD".into(),
        },
        path: out.url.clone(),
        auth: AuthKind::None,
        key_valid: false,
        body,
        task_uuids: vec![out.task_uuid.clone()],
        executed: Vec::new(),
        status,
        fault: None,
        delivery: Some(Delivery {
            kind: out.kind,
            url: out.url.clone(),
            attempt,
            outcome,
            error,
        }),
    });
}

/// Delivers one request with retries, unless the emulator stops first.
async fn deliver(shared: Arc<Shared>, out: Outbound) {
    let mut shutdown = shared.shutdown.clone();
    if !out.wait.is_zero() {
        tokio::select! {
            _ = tokio::time::sleep(out.wait) => {}
            _ = shutdown.changed() => return,
        }
    }
    let uri = match check_destination(&out.url) {
        Ok(uri) => uri,
        Err(reason) => {
            tracing::info!(url = %out.url, %reason, "delivery refused");
            log(&shared, &out, 0, 0, DeliveryOutcome::Refused, Some(reason));
            return;
        }
    };
    let retry = shared.config.delivery_retry;
    let attempts = retry.attempts.max(1);
    let mut backoff = retry.initial_backoff;
    for attempt in 1..=attempts {
        let res = tokio::select! {
            r = tokio::time::timeout(retry.timeout, send(&uri, &out)) => r.unwrap_or_else(|_| Err("timed out".into())),
            _ = shutdown.changed() => return,
        };
        let (status, error) = match res {
            Ok(s) if (200..300).contains(&s) => {
                log(&shared, &out, attempt, s, DeliveryOutcome::Delivered, None);
                return;
            }
            Ok(s) => (s, format!("answered HTTP {s}")),
            Err(e) => (0, e),
        };
        let outcome = if attempt == attempts {
            DeliveryOutcome::Failed
        } else {
            DeliveryOutcome::Retrying
        };
        tracing::debug!(url = %out.url, attempt, %error, "delivery failed");
        log(&shared, &out, attempt, status, outcome, Some(error));
        if attempt == attempts {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shutdown.changed() => return,
        }
        backoff = backoff.saturating_mul(2).min(retry.max_backoff);
    }
}

/// One attempt on a fresh connection: the answer's status.
async fn send(uri: &Uri, out: &Outbound) -> Result<u16, String> {
    let host = uri
        .host()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
        .unwrap_or("localhost");
    let port = uri.port_u16().unwrap_or(80);
    let stream = TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let method = match out.kind {
        DeliveryKind::Webhook => Method::POST,
        DeliveryKind::Upload => Method::PUT,
    };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let authority = uri.authority().map_or(host, |a| a.as_str());
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, authority)
        .header(CONTENT_TYPE, out.content_type.as_str())
        .header(CONTENT_LENGTH, out.body.len())
        .header(USER_AGENT, "runware-emulator")
        .body(Full::new(out.body.clone()))
        .map_err(|e| format!("request: {e}"))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("send: {e}"))?;
    let status = resp.status().as_u16();
    // Read the answer so that the destination sees a clean exchange.
    let _ = resp.into_body().collect().await;
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_http_is_allowed() {
        for ok in [
            "http://127.0.0.1:8080/hook",
            "http://127.9.9.9/x?token=1",
            "http://localhost:1/",
            "http://LOCALHOST/",
            "http://[::1]:9000/h",
            "http://[::ffff:127.0.0.1]:9000/h",
        ] {
            assert!(check_destination(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://example.com/hook",
            "http://10.0.0.1/",
            "http://192.168.1.1/",
            "http://[2001:db8::1]/",
            "https://127.0.0.1/",
            "ftp://127.0.0.1/",
            "not a url",
            "/relative",
            "http://localhost.example.com/",
        ] {
            assert!(check_destination(bad).is_err(), "{bad}");
        }
    }
}
