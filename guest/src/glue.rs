//! The thin wasi layer: wit-bindgen exports (the core already speaks the generated types, so
//! nothing is converted here), one HTTP exchange over `wasi:http/outgoing-handler`, and waits
//! on `wasi:clocks`.

use crate::prelude::*;

use wasip2::clocks::monotonic_clock;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, IncomingBody, Method as HttpMethod, OutgoingBody, OutgoingRequest,
    RequestOptions, Scheme,
};
use wasip2::io::streams::StreamError;

use crate::bindings::exports::runware::client::api::{self, Guest, GuestClient};
use crate::error::ClientError;
use crate::machine::{Action, Call, Event, Machine, Method, Timeouts, TransportKind};
use crate::options::{Options, USER_AGENT, Url};
use crate::retry::Entropy;
use crate::{download, request, results, tasks, wit};

/// The component's heap: free lists of small blocks (`crate::heap`) over talc, which grows
/// linear memory as it needs (std's allocator is not linked: the crate is `no_std` on wasm32).
/// Instances are single-threaded.
#[global_allocator]
static ALLOCATOR: crate::heap::Heap<talc::wasm::WasmDynamicTalc> =
    crate::heap::Heap::new(talc::wasm::new_wasm_dynamic_allocator());

// `cabi_realloc`, the canonical ABI's allocation entry point over this allocator, is
// `runware_wasm_rt`'s (linked by `lib.rs`).
use runware_wasm_rt as _;

/// A panic is a bug (the lints deny the panicking calls): it names where it happened on
/// `wasi:cli/stderr` and traps, as std's `panic = "abort"` did. The message is not formatted,
/// which keeps every panic message's formatting code out of the component, and nothing is
/// allocated, so a failed allocation cannot recurse here.
#[cfg(not(test))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let stderr = wasip2::cli::stderr::get_stderr();
    let _ = stderr.blocking_write_and_flush(b"runware component panicked");
    if let Some(at) = info.location() {
        let mut digits = [0u8; 10];
        let mut n = at.line();
        let mut start = digits.len();
        loop {
            start -= 1;
            if let Some(d) = digits.get_mut(start) {
                *d = b'0' + u8::try_from(n % 10).unwrap_or_default();
            }
            n /= 10;
            if n == 0 || start == 0 {
                break;
            }
        }
        let _ = stderr.blocking_write_and_flush(b" at ");
        let _ = stderr.blocking_write_and_flush(at.file().as_bytes());
        let _ = stderr.blocking_write_and_flush(b":");
        let _ = stderr.blocking_write_and_flush(digits.get(start..).unwrap_or_default());
    }
    let _ = stderr.blocking_write_and_flush(b"\n");
    core::arch::wasm32::unreachable()
}

/// Writes the trace lines to `wasi:cli/stderr`, one per line, as `eprintln!` did. A failed
/// write drops the rest of the trace instead of trapping (`eprintln!` panicked).
fn write_trace(lines: Vec<String>) {
    if lines.is_empty() {
        return;
    }
    let stderr = wasip2::cli::stderr::get_stderr();
    for line in lines {
        let mut bytes = line.into_bytes();
        bytes.push(b'\n');
        for chunk in bytes.chunks(4096) {
            if stderr.blocking_write_and_flush(chunk).is_err() {
                return;
            }
        }
    }
}

/// Randomness from `wasi:random`.
struct WasiEntropy;

impl Entropy for WasiEntropy {
    fn next_u64(&mut self) -> u64 {
        wasip2::random::random::get_random_u64()
    }
}

fn now_ms() -> u64 {
    monotonic_clock::now() / 1_000_000
}

fn sleep_ms(ms: u64) {
    monotonic_clock::subscribe_duration(ms.saturating_mul(1_000_000)).block();
}

fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect()
}

fn code_event(code: &ErrorCode) -> Event {
    let kind = match code {
        ErrorCode::HttpRequestDenied => TransportKind::Denied,
        // The host's own cap on response bodies: retrying would only fetch the same body again.
        ErrorCode::HttpResponseBodySize(_) => TransportKind::TooLarge,
        ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::ConnectionWriteTimeout
        | ErrorCode::HttpResponseTimeout
        | ErrorCode::DnsTimeout => TransportKind::Timeout,
        ErrorCode::ConnectionRefused
        | ErrorCode::ConnectionTerminated
        | ErrorCode::ConnectionLimitReached
        | ErrorCode::DestinationNotFound
        | ErrorCode::DestinationUnavailable
        | ErrorCode::DestinationIpUnroutable
        | ErrorCode::DestinationIpProhibited
        | ErrorCode::DnsError(_)
        | ErrorCode::TlsProtocolError
        | ErrorCode::TlsCertificateError
        | ErrorCode::TlsAlertReceived(_)
        | ErrorCode::HttpProtocolError
        | ErrorCode::HttpResponseIncomplete => TransportKind::Connection,
        _ => TransportKind::Other,
    };
    Event::TransportError {
        kind,
        message: first_line(&format!("{code:?}")),
    }
}

fn stream_event(err: StreamError, what: &str) -> Event {
    match err {
        StreamError::Closed => Event::TransportError {
            kind: TransportKind::Connection,
            message: format!("{what}: the stream closed"),
        },
        StreamError::LastOperationFailed(e) => match wasip2::http::types::http_error_code(&e) {
            Some(code) => code_event(&code),
            None => Event::TransportError {
                kind: TransportKind::Connection,
                message: format!("{what}: {}", first_line(&e.to_debug_string())),
            },
        },
    }
}

fn other(message: &str) -> Event {
    Event::TransportError {
        kind: TransportKind::Other,
        message: message.to_string(),
    }
}

/// One HTTP exchange. The key goes only into the `Authorization` header.
#[inline(never)]
fn exchange(
    method: Method,
    url: &str,
    body: &[u8],
    timeouts: Timeouts,
    api_key: Option<&str>,
    cap: u64,
) -> Event {
    // 1. The request head.
    let Ok(target) = Url::parse(url) else {
        return other("the URL is not usable");
    };
    let mut headers: Vec<(String, Vec<u8>)> =
        vec![("user-agent".into(), USER_AGENT.as_bytes().to_vec())];
    if method == Method::Post {
        headers.push(("content-type".into(), b"application/json".to_vec()));
        headers.push(("content-length".into(), body.len().to_string().into_bytes()));
    }
    if let Some(key) = api_key {
        headers.push(("authorization".into(), format!("Bearer {key}").into_bytes()));
    }
    let Ok(fields) = Fields::from_list(&headers) else {
        // A host that forbids a header (e.g. `authorization`) will refuse it every time.
        return Event::TransportError {
            kind: TransportKind::Denied,
            message: "the host refused the request headers".to_string(),
        };
    };
    let req = OutgoingRequest::new(fields);
    let m = if method == Method::Post {
        HttpMethod::Post
    } else {
        HttpMethod::Get
    };
    let scheme = if target.https {
        Scheme::Https
    } else {
        Scheme::Http
    };
    if req.set_method(&m).is_err()
        || req.set_scheme(Some(&scheme)).is_err()
        || req.set_authority(Some(&target.authority)).is_err()
        || req
            .set_path_with_query(Some(&target.path_with_query))
            .is_err()
    {
        return other("the request line was refused by the host");
    }
    let opts = RequestOptions::new();
    let ns = |ms: u64| ms.saturating_mul(1_000_000);
    // A host that does not support a timeout refuses it; the total deadline still applies.
    let _ = opts.set_connect_timeout(Some(ns(timeouts.connect_ms)));
    let _ = opts.set_first_byte_timeout(Some(ns(timeouts.first_byte_ms)));
    let _ = opts.set_between_bytes_timeout(Some(ns(timeouts.between_bytes_ms)));
    let Ok(out_body) = req.body() else {
        return other("the request body could not be opened");
    };

    // 2. Send, then write the body in chunks of at most 4096 bytes.
    let future = match outgoing_handler::handle(req, Some(opts)) {
        Ok(f) => f,
        Err(code) => return code_event(&code),
    };
    let mut write_error = None;
    match out_body.write() {
        Ok(stream) => {
            for chunk in body.chunks(4096) {
                if let Err(e) = stream.blocking_write_and_flush(chunk) {
                    write_error = Some(stream_event(e, "writing the request body"));
                    break;
                }
            }
            drop(stream);
        }
        Err(()) => write_error = Some(other("the request body stream could not be opened")),
    }
    if write_error.is_none() {
        if let Err(code) = OutgoingBody::finish(out_body, None) {
            write_error = Some(code_event(&code));
        }
    } else {
        drop(out_body);
    }

    // 3. Await the response even after a write error: a denied request shows up there.
    let response = loop {
        match future.get() {
            Some(r) => break r,
            None => future.subscribe().block(),
        }
    };
    let response = match response {
        Ok(Ok(r)) => r,
        Ok(Err(code)) => return code_event(&code),
        Err(()) => return write_error.unwrap_or_else(|| other("the response was already taken")),
    };
    let status = response.status();
    let headers: Vec<(String, String)> = response
        .headers()
        .entries()
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
        .collect();

    // 4. Read the body up to the cap (plus one byte, so the core sees it is over).
    let Ok(incoming) = response.consume() else {
        return other("the response body could not be opened");
    };
    let Ok(stream) = incoming.stream() else {
        return other("the response body stream could not be opened");
    };
    let limit = usize::try_from(cap.saturating_add(1)).unwrap_or(usize::MAX);
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let want = u64::try_from(limit.saturating_sub(buf.len()).min(65_536)).unwrap_or(65_536);
        if want == 0 {
            break;
        }
        match stream.blocking_read(want) {
            Ok(chunk) => buf.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(e) => return stream_event(e, "reading the response body"),
        }
    }
    drop(stream);
    drop(IncomingBody::finish(incoming));
    Event::Response {
        status,
        headers,
        body: buf,
    }
}

/// Runs a machine to its end, executing its actions.
#[inline(never)]
fn drive<M: Machine>(machine: &mut M, api_key: Option<&str>) -> Result<M::Output, ClientError> {
    let mut rng = WasiEntropy;
    let mut action = machine.start(now_ms());
    loop {
        write_trace(machine.drain_trace());
        action = match action {
            Action::Send {
                method,
                url,
                body,
                timeouts,
                max_response_bytes,
                ..
            } => {
                let event = exchange(method, &url, &body, timeouts, api_key, max_response_bytes);
                machine.handle(event, now_ms(), &mut rng)
            }
            Action::Sleep(ms) => {
                sleep_ms(ms);
                machine.handle(Event::Slept, now_ms(), &mut rng)
            }
            Action::Done(result) => return result,
        };
    }
}

fn as_object(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match v {
        serde_json::Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

/// The component.
struct Component;

/// The `client` resource: checked options, no network state.
struct Client {
    opts: Options,
}

impl Guest for Component {
    type Client = Client;
}

impl Client {
    fn key(&self) -> Option<&str> {
        self.opts.api_key.as_deref()
    }
}

impl GuestClient for Client {
    fn open(options: wit::ClientOptions) -> Result<api::Client, wit::Error> {
        let opts = Options::from_raw(options)?;
        Ok(api::Client::new(Client { opts }))
    }

    fn text_to_image(&self, request: wit::ImageRequest) -> Result<wit::ImageResult, wit::Error> {
        let uuid = WasiEntropy.uuid_v4();
        let task = request::build_image_task(&request, &uuid)?;
        let mut call = Call::run(&self.opts, vec![as_object(task)], now_ms());
        let outcome = drive(&mut call, self.key())?;
        Ok(results::image_result(outcome)?)
    }

    fn prepare_text_to_image(&self, request: wit::ImageRequest) -> Result<String, wit::Error> {
        let uuid = WasiEntropy.uuid_v4();
        let task = request::build_image_task(&request, &uuid)?;
        Ok(crate::parse::json_text(&serde_json::Value::Array(vec![
            task,
        ])))
    }

    fn model_search(
        &self,
        request: wit::ModelSearchRequest,
    ) -> Result<wit::ModelSearchResult, wit::Error> {
        let uuid = WasiEntropy.uuid_v4();
        let task = request::build_model_search_task(&request, &uuid)?;
        let mut call = Call::run(&self.opts, vec![as_object(task)], now_ms());
        let outcome = drive(&mut call, self.key())?;
        Ok(results::model_search_result(outcome)?)
    }

    fn get_response(&self, task_uuid: String) -> Result<wit::RunResult, wit::Error> {
        request::check_task_uuid(&task_uuid)?;
        let mut call = Call::get_response(&self.opts, &task_uuid, now_ms());
        Ok(results::run_result(drive(&mut call, self.key())?))
    }

    fn wait(&self, task_uuid: String, expected: Option<u32>) -> Result<wit::RunResult, wit::Error> {
        request::check_task_uuid(&task_uuid)?;
        let mut call = Call::wait(&self.opts, &task_uuid, expected.unwrap_or(1), now_ms());
        Ok(results::run_result(drive(&mut call, self.key())?))
    }

    fn run_tasks(&self, tasks_json: String) -> Result<wit::RunResult, wit::Error> {
        let mut rng = WasiEntropy;
        let tasks = request::normalize_tasks(&tasks_json, &mut || rng.uuid_v4())?;
        let mut call = Call::run(&self.opts, tasks, now_ms());
        Ok(results::run_result(drive(&mut call, self.key())?))
    }

    fn run(&self, task: wit::Task) -> Result<wit::TaskOutcome, wit::Error> {
        let uuid = WasiEntropy.uuid_v4();
        let json = tasks::build_task(&task, &uuid, false)?;
        let mut call = Call::run(&self.opts, vec![as_object(json)], now_ms());
        Ok(results::task_outcome(drive(&mut call, self.key())?, true)?)
    }

    fn submit(&self, task: wit::Task) -> Result<wit::Job, wit::Error> {
        if tasks::is_sync_only(&task) {
            let kind = tasks::task_type(&task);
            return Err(ClientError::invalid(
                "invalidDeliveryMethod",
                "deliveryMethod",
                format!("{kind} runs only synchronously: use run, not submit"),
            )
            .into());
        }
        let uuid = WasiEntropy.uuid_v4();
        let json = as_object(tasks::build_task(&task, &uuid, true)?);
        let expected = request::expected_results(&json);
        let mut call = Call::submit(&self.opts, vec![json], now_ms());
        Ok(results::job(drive(&mut call, self.key())?, expected)?)
    }

    fn prepare(&self, task: wit::Task) -> Result<String, wit::Error> {
        let uuid = WasiEntropy.uuid_v4();
        let json = tasks::build_task(&task, &uuid, false)?;
        Ok(crate::parse::json_text(&serde_json::Value::Array(vec![
            json,
        ])))
    }

    fn poll(&self, job: wit::Job) -> Result<wit::TaskOutcome, wit::Error> {
        request::check_task_uuid(&job.task_uuid)?;
        let mut call = Call::get_response(&self.opts, &job.task_uuid, now_ms());
        Ok(results::task_outcome(drive(&mut call, self.key())?, false)?)
    }

    fn wait_for(&self, job: wit::Job) -> Result<wit::TaskOutcome, wit::Error> {
        request::check_task_uuid(&job.task_uuid)?;
        let expected = job.expected_results.unwrap_or(1);
        let mut call = Call::wait(&self.opts, &job.task_uuid, expected, now_ms());
        Ok(results::task_outcome(drive(&mut call, self.key())?, true)?)
    }

    fn account(&self) -> Result<wit::Account, wit::Error> {
        let uuid = WasiEntropy.uuid_v4();
        let task = tasks::account_task(&uuid);
        let mut call = Call::run(&self.opts, vec![as_object(task)], now_ms());
        Ok(results::account(drive(&mut call, self.key())?)?)
    }

    fn task_details(&self, task_uuid: String) -> Result<String, wit::Error> {
        request::check_task_uuid(&task_uuid)?;
        let task = tasks::task_details_task(&task_uuid);
        let mut call = Call::run(&self.opts, vec![as_object(task)], now_ms());
        Ok(results::task_details(drive(&mut call, self.key())?)?)
    }

    fn download(&self, url: String) -> Result<Vec<u8>, wit::Error> {
        let mut d = download::Download::new(&self.opts, &url, now_ms())?;
        // The key is for Runware only: never sent to an image host.
        Ok(drive(&mut d, None)?)
    }
}

crate::bindings::export!(Component with_types_in crate::bindings);
