//! The HTTP side: a hand-rolled accept loop (each connection is served by hyper's HTTP/1
//! connection inside a `select!` with a per-connection kill signal and the shutdown signal, so
//! faults can drop, stall or truncate a response), routing, the REST endpoint `POST /v1`, the
//! image files `GET /images/<uuid>.<ext>`, stored media `GET /media/<uuid>.<ext>` and the admin
//! endpoints under `/__emulator/`.
//!
//! Admin endpoints (no key needed; the emulator is a loopback development tool):
//!
//! | Method and path | Body | Answer |
//! |---|---|---|
//! | `GET /__emulator/health` | | `{"status":"ok"}` |
//! | `GET /__emulator/log` | | the request log, a JSON array of `LoggedRequest` |
//! | `GET /__emulator/faults` | | the active rules, a JSON array of `FaultRule` |
//! | `POST /__emulator/faults` | a `FaultRule`, a bare `Fault`, or an array of rules | `{"faults":N}` (rules now active) |
//! | `DELETE /__emulator/faults` | | `{"faults":0}` |
//! | `PUT /__emulator/latency` | `{"ms":N}` | `{"latencyMs":N}` |
//! | `PUT /__emulator/async-delay` | `{"ms":N}` | `{"asyncDelayMs":N}` |
//! | `PUT /__emulator/video-delay` | `{"ms":N}` | `{"videoDelayMs":N}` (long-running work: video) |
//! | `GET /__emulator/balance` | | `{"balance":USD}` |
//! | `PUT /__emulator/balance` | `{"amount":USD}` | `{"balance":USD}` |
//! | `POST /__emulator/reset` | | `{"reset":true}` (forgets tasks, images, media, log, faults; restores the starting balance) |
//! | `GET /__emulator/stats` | | counts, and executions per taskUUID |

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::extract::ws::WebSocketUpgrade;
use bytes::{Bytes, BytesMut};
use http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::dispatch::{self, Output, TaskOpts};
use crate::state::Shared;
use crate::validate::{self, redact};
use crate::{AuthKind, Fault, FaultRule, LoggedRequest};

/// Accepts connections until shutdown, then drops every open connection.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    shared.connection_accepted();
                    conns.spawn(serve_connection(stream, shared.clone(), shutdown.clone()));
                }
                Err(e) => tracing::warn!(error = %e, "accept failed"),
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns.abort_all();
    while conns.join_next().await.is_some() {}
}

async fn serve_connection(
    stream: TcpStream,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let kill = Arc::new(Notify::new());
    let svc = {
        let kill = kill.clone();
        service_fn(move |req| handle(shared.clone(), kill.clone(), req))
    };
    let conn = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), svc)
        .with_upgrades();
    tokio::select! {
        res = conn => if let Err(e) = res { tracing::debug!(error = %e, "connection ended with an error") },
        _ = kill.notified() => tracing::debug!("connection dropped by a fault"),
        _ = shutdown.changed() => {}
    }
}

async fn handle(
    shared: Arc<Shared>,
    kill: Arc<Notify>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let resp = match (&method, path.as_str()) {
        (&Method::POST, "/v1" | "/v1/") => rest(shared, kill, req).await,
        (&Method::GET, "/v1" | "/v1/") => websocket(shared, req).await,
        (&Method::GET, p) if p.starts_with("/images/") => image(&shared, p),
        (&Method::GET, p) if p.starts_with("/media/") => media(&shared, p),
        (_, p) if p.starts_with("/__emulator/") || p == "/__emulator" => admin(&shared, req).await,
        (&Method::GET, "/") => json_response(
            StatusCode::OK,
            &json!({"service": "runware-emulator", "rest": "POST /v1", "websocket": "GET /v1 (Upgrade)", "admin": "/__emulator/health"}),
        ),
        _ => error_response(
            StatusCode::NOT_FOUND,
            validate::error(
                "notFound",
                format!("No route for {method} {path}. The Runware API is POST /v1."),
            ),
        ),
    };
    Ok(resp)
}

fn json_response(status: StatusCode, body: &Value) -> Response<Body> {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

fn error_response(status: StatusCode, error: Value) -> Response<Body> {
    json_response(status, &json!({ "errors": [error] }))
}

/// The HTTP status of a response whose every task failed, from the first error's class.
fn status_for(error: &Value) -> StatusCode {
    let code = error.get("code").and_then(Value::as_str).unwrap_or("");
    if code.contains("ApiKey") {
        StatusCode::UNAUTHORIZED
    } else if code.contains("Credits") || code.contains("Balance") {
        StatusCode::PAYMENT_REQUIRED
    } else if code.ends_with("NotFound") {
        StatusCode::NOT_FOUND
    } else if code.contains("RateLimit") {
        StatusCode::TOO_MANY_REQUESTS
    } else if code.contains("Timeout") || code.contains("timeout") {
        StatusCode::GATEWAY_TIMEOUT
    } else if code == "inferenceError"
        || code.starts_with("provider")
        || code.starts_with("internal")
    {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::BAD_REQUEST
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, key) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| key.trim().to_string())
        .filter(|k| !k.is_empty())
}

fn query_flag(query: Option<&str>, name: &str) -> bool {
    query.unwrap_or("").split('&').any(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, "1"));
        k == name && matches!(v, "1" | "true" | "")
    })
}

enum BodyError {
    TooLarge(usize),
    Io,
}

/// Reads a body up to `limit` bytes; a larger body is drained (up to a hard cap) so that the
/// client can read the 413 answer.
async fn read_body(mut body: Incoming, limit: usize) -> Result<Bytes, BodyError> {
    let hard_cap = limit.saturating_mul(4).max(256 * 1024 * 1024);
    let mut buf = BytesMut::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| BodyError::Io)?;
        if let Ok(data) = frame.into_data() {
            total += data.len();
            if total > limit {
                buf.clear();
                if total > hard_cap {
                    break;
                }
                continue;
            }
            buf.extend_from_slice(&data);
        }
    }
    if total > limit {
        Err(BodyError::TooLarge(total))
    } else {
        Ok(buf.freeze())
    }
}

fn http_fault_error(status: u16) -> Value {
    let (code, message) = match status {
        429 => (
            "rateLimitExceeded",
            "Too Many Requests - Queue capacity exceeded, implement retry with exponential backoff.",
        ),
        500 => (
            "internalServerError",
            "Internal server error. Please retry.",
        ),
        502 => (
            "serverUnavailable",
            "Bad gateway. The upstream server is unavailable; retry recommended.",
        ),
        503 => (
            "serviceUnavailable",
            "Temporary capacity constraint, retry recommended.",
        ),
        504 => (
            "gatewayTimeout",
            "Request exceeded maximum queue wait time.",
        ),
        _ => (
            "httpError",
            "The request failed (fault injected by the emulator).",
        ),
    };
    validate::error(code, message)
}

/// `POST /v1`.
async fn rest(shared: Arc<Shared>, kill: Arc<Notify>, req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_else(|| "/v1".into());
    let dry_run = query_flag(parts.uri.query(), "dryRun");
    let bearer_key = bearer(&parts.headers);
    let mut log = LoggedRequest {
        method: "POST".into(),
        path,
        auth: if bearer_key.is_some() {
            AuthKind::Bearer
        } else {
            AuthKind::None
        },
        key_valid: false,
        body: String::new(),
        task_uuids: Vec::new(),
        executed: Vec::new(),
        status: 0,
        fault: None,
        delivery: None,
    };
    let finish = |mut log: LoggedRequest, resp: Response<Body>| {
        log.status = resp.status().as_u16();
        shared.log(log);
        resp
    };

    // 1. The body, within the size limit.
    let limit = shared.config.body_limit;
    let bytes = match read_body(body, limit).await {
        Ok(b) => b,
        Err(BodyError::TooLarge(n)) => {
            log.body = format!("<body over the size limit: {n} bytes>");
            let mut e = validate::error(
                "maxPayloadSizeExceeded",
                format!("The request body is {n} bytes; the limit is {limit} bytes."),
            );
            validate::set_field(&mut e, "max", json!(limit));
            return finish(log, error_response(StatusCode::PAYLOAD_TOO_LARGE, e));
        }
        Err(BodyError::Io) => {
            log.body = "<body could not be read>".into();
            let e = validate::error("invalidRequestBody", "The request body could not be read.");
            return finish(log, error_response(StatusCode::BAD_REQUEST, e));
        }
    };
    let parsed = serde_json::from_slice::<Value>(&bytes);
    log.body = match &parsed {
        Ok(v) => {
            let mut v = v.clone();
            redact(&mut v);
            v.to_string()
        }
        Err(_) => format!("<non-JSON body, {} bytes>", bytes.len()),
    };
    let empty = Vec::new();
    let task_list = parsed
        .as_ref()
        .ok()
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let task_types: Vec<String> = task_list
        .iter()
        .filter_map(|t| t.get("taskType")?.as_str().map(str::to_string))
        .collect();
    log.task_uuids = task_list
        .iter()
        .filter_map(|t| t.get("taskUUID")?.as_str().map(str::to_string))
        .collect();

    // The key (checked below, after the envelope), so that the log is right even for faulted requests.
    let key = match bearer_key {
        Some(k) => Some(k),
        None => task_list
            .first()
            .filter(|t| t.get("taskType").and_then(Value::as_str) == Some("authentication"))
            .map(|t| {
                log.auth = AuthKind::Task;
                t.get("apiKey")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            }),
    };
    log.key_valid = key.as_deref().is_some_and(|k| shared.key_valid(k));

    // 2. Faults that reject the request before processing.
    let fault = shared.pick_fault(&task_types);
    log.fault = fault.as_ref().map(|f| f.1.clone());
    if let Some((
        Fault::HttpStatus {
            status,
            retry_after,
        },
        _,
        _,
    )) = &fault
    {
        let code = StatusCode::from_u16(*status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let mut resp = error_response(code, http_fault_error(*status));
        if let Some(secs) = retry_after {
            resp.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(*secs));
        }
        return finish(log, resp);
    }

    // 3. The envelope: a JSON array of tasks.
    let tasks = match parsed {
        Ok(Value::Array(tasks)) => tasks,
        Ok(_) => {
            let e = validate::error(
                "invalidRequestBody",
                "The request body must be a JSON array of task objects, e.g. [{\"taskType\":\"imageInference\",\"taskUUID\":\"…\",…}].",
            );
            return finish(log, error_response(StatusCode::BAD_REQUEST, e));
        }
        Err(err) => {
            let e = validate::error(
                "invalidRequestBody",
                format!(
                    "The request body is not valid JSON ({err}). Send a JSON array of task objects."
                ),
            );
            return finish(log, error_response(StatusCode::BAD_REQUEST, e));
        }
    };

    // 4. Authentication: the Bearer header, else a leading authentication task.
    let key = match key {
        None => {
            return finish(
                log,
                error_response(StatusCode::UNAUTHORIZED, validate::missing_api_key()),
            );
        }
        Some(k) if k.trim().is_empty() => {
            return finish(
                log,
                error_response(StatusCode::UNAUTHORIZED, validate::missing_api_key()),
            );
        }
        Some(k) if !shared.key_valid(&k) => {
            return finish(
                log,
                error_response(StatusCode::UNAUTHORIZED, validate::invalid_api_key()),
            );
        }
        Some(k) => k,
    };

    // 5. The tasks, independently.
    let (task_error, task_error_type, never_finish) = match &fault {
        Some((Fault::TaskError { code }, _, tt)) => (Some(code.clone()), tt.clone(), false),
        Some((Fault::NeverFinish, _, tt)) => (None, tt.clone(), true),
        _ => (None, None, false),
    };
    let opts = TaskOpts {
        dry_run,
        task_error,
        task_error_type,
        never_finish,
    };
    // From here on tasks execute: a client that gives up (a timeout) drops this future, and the
    // guard still logs the request with what it executed (status 0, as for a dropped connection).
    let mut pending = LogOnDrop::new(shared.clone(), log);
    let log = pending.log_mut();
    let mut data = Vec::new();
    let mut errors = Vec::new();
    let mut succeeded = 0usize;
    for task in &tasks {
        let run = dispatch::run_task(&shared, &key, task, &opts).await;
        match run.output {
            Output::Data(items) => {
                succeeded += 1;
                data.extend(items);
            }
            Output::Nothing => succeeded += 1,
            Output::Error(e) => errors.push(e),
            Output::DataAndError(items, e) => {
                data.extend(items);
                errors.push(e);
            }
        }
        log.executed.extend(run.executed);
    }
    let status = match errors.first() {
        Some(first) if succeeded == 0 => status_for(first),
        _ => StatusCode::OK,
    };

    // 6. Latency, then the faults that mangle the answer.
    let latency = shared.latency()
        + match &fault {
            Some((Fault::Latency { ms }, _, _)) => Duration::from_millis(*ms),
            _ => Duration::ZERO,
        };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut log = pending.disarm();
    let fault = fault.map(|f| f.0);
    if matches!(fault, Some(Fault::ReverseOrder)) {
        data.reverse();
    }
    if matches!(fault, Some(Fault::ErrorWithoutTaskUuid)) {
        errors.push(validate::error(
            "unknownError",
            "An unexpected error occurred while processing the request.",
        ));
    }
    let mut body = serde_json::Map::new();
    if !data.is_empty() || errors.is_empty() {
        body.insert("data".into(), Value::Array(data));
    }
    if !errors.is_empty() {
        body.insert("errors".into(), Value::Array(errors));
    }
    let mut body = Value::Object(body);
    match fault {
        Some(Fault::ResetAfterAccept) => {
            log.status = 0;
            shared.log(log);
            kill.notify_one();
            // The connection task drops this future once it sees the kill signal.
            match std::future::pending::<Infallible>().await {}
        }
        Some(Fault::StalledBody) => {
            let text = Bytes::from(body.to_string());
            let resp = partial_response(status, text, None);
            finish(log, resp)
        }
        Some(Fault::TruncatedBody) => {
            let text = Bytes::from(body.to_string());
            let resp = partial_response(status, text, Some(kill));
            finish(log, resp)
        }
        Some(Fault::NonJsonBody) => {
            let mut resp = Response::new(Body::from(
                "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>\n",
            ));
            resp.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
            finish(log, resp)
        }
        Some(Fault::WrongTypes) => {
            match body.get_mut("data") {
                Some(Value::Array(items)) if !items.is_empty() => {
                    items.iter_mut().for_each(swap_scalar_types)
                }
                _ => validate::set_field(&mut body, "data", json!("oops")),
            }
            finish(log, json_response(status, &body))
        }
        Some(Fault::OversizedBody { bytes }) => {
            let text = body.to_string();
            let target = bytes.min(1 << 31) as usize;
            let overhead = text.len() + r#","padding":""}"#.len() - 1;
            validate::set_field(
                &mut body,
                "padding",
                json!("x".repeat(target.saturating_sub(overhead))),
            );
            finish(log, json_response(status, &body))
        }
        _ => finish(log, json_response(status, &body)),
    }
}

/// Holds a request's log entry while the request may be abandoned by its client (the handler's
/// future dropped mid-way); dropped armed, it logs the entry with status 0.
struct LogOnDrop {
    shared: Arc<Shared>,
    log: LoggedRequest,
    armed: bool,
}

impl LogOnDrop {
    fn new(shared: Arc<Shared>, log: LoggedRequest) -> Self {
        Self {
            shared,
            log,
            armed: true,
        }
    }

    fn log_mut(&mut self) -> &mut LoggedRequest {
        &mut self.log
    }

    /// The entry back, for the normal path (which logs it with the status it answers).
    fn disarm(mut self) -> LoggedRequest {
        self.armed = false;
        std::mem::replace(&mut self.log, abandoned_entry())
    }
}

impl Drop for LogOnDrop {
    fn drop(&mut self) {
        if self.armed {
            let mut log = std::mem::replace(&mut self.log, abandoned_entry());
            log.status = 0;
            self.shared.log(log);
        }
    }
}

fn abandoned_entry() -> LoggedRequest {
    LoggedRequest {
        method: String::new(),
        path: String::new(),
        auth: AuthKind::None,
        key_valid: false,
        body: String::new(),
        task_uuids: Vec::new(),
        executed: Vec::new(),
        status: 0,
        fault: None,
        delivery: None,
    }
}

/// Numbers and booleans become strings and strings become numbers (their length), recursively
/// (the `wrongTypes` fault): `"seed":"5"` is the lenient kind a client may accept, while a numeric
/// `taskUUID` cannot be routed by any client.
fn swap_scalar_types(v: &mut Value) {
    match v {
        Value::Number(n) => *v = json!(n.to_string()),
        Value::Bool(b) => *v = json!(b.to_string()),
        Value::String(s) => *v = json!(s.len()),
        Value::Array(a) => a.iter_mut().for_each(swap_scalar_types),
        Value::Object(o) => o.values_mut().for_each(swap_scalar_types),
        Value::Null => {}
    }
}

/// A response declaring the full Content-Length that sends only the first half of `text`, then
/// either stalls forever (`kill` None) or closes the connection (`kill` Some).
fn partial_response(status: StatusCode, text: Bytes, kill: Option<Arc<Notify>>) -> Response<Body> {
    let full = text.len();
    let half = text.slice(..full / 2);
    let stream = futures_util::stream::unfold(0u8, move |state| {
        let half = half.clone();
        let kill = kill.clone();
        async move {
            if state == 0 {
                return Some((Ok::<Bytes, std::io::Error>(half), 1));
            }
            // Give hyper a moment to flush the half body before the connection goes away.
            tokio::time::sleep(Duration::from_millis(50)).await;
            if let Some(kill) = kill {
                kill.notify_one();
            }
            std::future::pending::<()>().await;
            None
        }
    });
    let mut resp = Response::new(Body::from_stream(stream));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(full));
    resp
}

/// `GET /v1`: the WebSocket endpoint.
async fn websocket(shared: Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let (mut parts, _body) = req.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_else(|| "/v1".into());
    // The JS SDK appends `?sdk=js&version=…` and `&dryRun=1` to the URL.
    let dry_run = query_flag(parts.uri.query(), "dryRun");
    match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(ws) => ws
            .max_message_size(shared.config.body_limit)
            .on_upgrade(move |socket| crate::ws::run(socket, shared, path, dry_run)),
        Err(_) => error_response(
            StatusCode::BAD_REQUEST,
            validate::error(
                "invalidRequest",
                "GET /v1 is the WebSocket endpoint (send an Upgrade: websocket handshake); REST clients POST a JSON array of tasks to /v1.",
            ),
        ),
    }
}

/// `GET /images/<uuid>.<ext>`.
fn image(shared: &Shared, path: &str) -> Response<Body> {
    let file = path.trim_start_matches("/images/");
    let stem = file.split('.').next().unwrap_or("");
    match shared.image(stem) {
        Some(img) => {
            let mut resp = Response::new(Body::from(img.bytes));
            resp.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(img.format.mime()));
            resp
        }
        None => error_response(
            StatusCode::NOT_FOUND,
            validate::error(
                "imageNotFound",
                format!("No image '{file}' on this emulator."),
            ),
        ),
    }
}

/// `GET /media/<uuid>.<ext>`: media stored with `mediaStorage`, and the videos and audio the
/// emulator generated.
fn media(shared: &Shared, path: &str) -> Response<Body> {
    let file = path.trim_start_matches("/media/");
    let stem = file.split('.').next().unwrap_or("");
    match shared.media(stem) {
        Some(m) => {
            let mut resp = Response::new(Body::from(m.bytes));
            if let Ok(v) = HeaderValue::from_str(&m.content_type) {
                resp.headers_mut().insert(CONTENT_TYPE, v);
            }
            resp
        }
        None => error_response(
            StatusCode::NOT_FOUND,
            validate::error(
                "mediaNotFound",
                format!("No media '{file}' on this emulator (it may have been deleted)."),
            ),
        ),
    }
}

/// `/__emulator/…`.
async fn admin(shared: &Shared, req: Request<Incoming>) -> Response<Body> {
    let method = req.method().clone();
    let path = req
        .uri()
        .path()
        .trim_start_matches("/__emulator")
        .trim_matches('/')
        .to_string();
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let bad = |msg: String| {
        error_response(
            StatusCode::BAD_REQUEST,
            validate::error("invalidRequestBody", msg),
        )
    };
    let ms_of = |body: &Bytes| -> Result<u64, String> {
        let v: Value =
            serde_json::from_slice(body).map_err(|e| format!("expected {{\"ms\":N}}: {e}"))?;
        v.get("ms")
            .and_then(Value::as_u64)
            .ok_or_else(|| "expected {\"ms\":N}".to_string())
    };
    match (method, path.as_str()) {
        (Method::GET, "health") => json_response(StatusCode::OK, &json!({"status": "ok"})),
        (Method::GET, "log") => json_response(StatusCode::OK, &json!(shared.request_log())),
        (Method::GET, "stats") => json_response(StatusCode::OK, &shared.stats()),
        (Method::GET, "faults") => json_response(StatusCode::OK, &json!(shared.fault_rules())),
        (Method::POST, "faults") => {
            let text = String::from_utf8_lossy(&body);
            let rules = match serde_json::from_str::<Vec<FaultRule>>(&text) {
                Ok(rules) => rules,
                Err(_) => match FaultRule::from_json(&text) {
                    Ok(rule) => vec![rule],
                    Err(e) => return bad(e),
                },
            };
            rules.into_iter().for_each(|r| shared.add_fault(r));
            json_response(
                StatusCode::CREATED,
                &json!({"faults": shared.fault_rules().len()}),
            )
        }
        (Method::DELETE, "faults") => {
            shared.clear_faults();
            json_response(StatusCode::OK, &json!({"faults": 0}))
        }
        (Method::PUT, "latency") => match ms_of(&body) {
            Ok(ms) => {
                shared.set_latency(Duration::from_millis(ms));
                json_response(StatusCode::OK, &json!({"latencyMs": ms}))
            }
            Err(e) => bad(e),
        },
        (Method::PUT, "async-delay") => match ms_of(&body) {
            Ok(ms) => {
                shared.set_async_delay(Duration::from_millis(ms));
                json_response(StatusCode::OK, &json!({"asyncDelayMs": ms}))
            }
            Err(e) => bad(e),
        },
        (Method::GET, "balance") => {
            json_response(StatusCode::OK, &json!({"balance": shared.balance()}))
        }
        (Method::PUT, "balance") => {
            let amount = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v.get("amount").and_then(Value::as_f64))
                .filter(|a| a.is_finite());
            match amount {
                Some(a) => {
                    shared.set_balance(a);
                    json_response(StatusCode::OK, &json!({"balance": a}))
                }
                None => bad("expected {\"amount\":USD}".into()),
            }
        }
        (Method::PUT, "video-delay") => match ms_of(&body) {
            Ok(ms) => {
                shared.set_video_delay(Duration::from_millis(ms));
                json_response(StatusCode::OK, &json!({"videoDelayMs": ms}))
            }
            Err(e) => bad(e),
        },
        (Method::POST, "reset") => {
            shared.reset();
            json_response(StatusCode::OK, &json!({"reset": true}))
        }
        (m, p) => error_response(
            StatusCode::NOT_FOUND,
            validate::error(
                "notFound",
                format!(
                    "No admin endpoint {m} /__emulator/{p}. See GET health, log, faults, stats, balance; POST/DELETE faults; PUT latency, async-delay, video-delay, balance; POST reset."
                ),
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes() {
        assert_eq!(
            status_for(&json!({"code":"invalidWidth"})),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status_for(&json!({"code":"invalidApiKey"})),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            status_for(&json!({"code":"taskNotFound"})),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            status_for(&json!({"code":"timeoutProvider"})),
            StatusCode::GATEWAY_TIMEOUT
        );
        assert_eq!(
            status_for(&json!({"code":"providerRateLimitExceeded"})),
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(
            status_for(&json!({"code":"inferenceError"})),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            status_for(&json!({"code":"insufficientCredits"})),
            StatusCode::PAYMENT_REQUIRED
        );
    }

    #[test]
    fn dry_run_flag() {
        assert!(query_flag(Some("sdk=js&dryRun=1"), "dryRun"));
        assert!(query_flag(Some("dryRun=true"), "dryRun"));
        assert!(!query_flag(Some("dryRun=0"), "dryRun"));
        assert!(!query_flag(None, "dryRun"));
    }
}
