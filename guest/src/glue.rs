//! The thin wasi layer: wit-bindgen exports, conversions between WIT records and core types,
//! one HTTP exchange over `wasi:http/outgoing-handler`, and waits on `wasi:clocks`.

use wasip2::clocks::monotonic_clock;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, IncomingBody, Method as HttpMethod, OutgoingBody, OutgoingRequest,
    RequestOptions, Scheme,
};
use wasip2::io::streams::StreamError;

use crate::bindings::exports::runware::client::api::{self, Guest, GuestClient};
use crate::bindings::runware::client::types as wit;
use crate::error::{ClientError, ErrorDetail, ErrorKind};
use crate::machine::{
    Action, Call, Event, Machine, Method, RunOutcome, TaskStatus, Timeouts, TransportKind,
};
use crate::options::{Options, RawOptions, USER_AGENT, Url};
use crate::retry::Entropy;
use crate::{download, request, results};

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
        for line in machine.drain_trace() {
            eprintln!("{line}");
        }
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

fn kind_to_wit(kind: ErrorKind, d: wit::ErrorDetail) -> wit::Error {
    match kind {
        ErrorKind::InvalidRequest => wit::Error::InvalidRequest(d),
        ErrorKind::Authentication => wit::Error::Authentication(d),
        ErrorKind::InsufficientCredits => wit::Error::InsufficientCredits(d),
        ErrorKind::RateLimited => wit::Error::RateLimited(d),
        ErrorKind::Timeout => wit::Error::Timeout(d),
        ErrorKind::Transport => wit::Error::Transport(d),
        ErrorKind::Server => wit::Error::Server(d),
        ErrorKind::ContentPolicy => wit::Error::ContentPolicy(d),
        ErrorKind::Other => wit::Error::Other(d),
    }
}

fn detail_to_wit(d: ErrorDetail) -> wit::ErrorDetail {
    wit::ErrorDetail {
        code: d.code,
        message: d.message,
        task_uuid: d.task_uuid,
        task_type: d.task_type,
        parameter: d.parameter,
        http_status: d.http_status,
        retryable: d.retryable,
        attempts: d.attempts,
        response_json: d.response_json,
    }
}

#[inline(never)]
fn err_to_wit(e: ClientError) -> wit::Error {
    kind_to_wit(e.kind, detail_to_wit(*e.detail))
}

#[inline(never)]
fn run_to_wit(outcome: RunOutcome) -> wit::RunResult {
    let tasks = outcome
        .tasks
        .into_iter()
        .map(|t| wit::TaskResult {
            task_uuid: t.task_uuid,
            task_type: t.task_type,
            status: match t.status {
                TaskStatus::Processing => wit::TaskStatus::Processing,
                TaskStatus::Success => wit::TaskStatus::Success,
                TaskStatus::Failed => wit::TaskStatus::Failed,
            },
            data: t
                .data
                .into_iter()
                .map(|m| serde_json::Value::Object(m).to_string())
                .collect(),
            error: t.error.map(|e| detail_to_wit(*e.detail)),
        })
        .collect();
    wit::RunResult {
        tasks,
        response_json: outcome.response_json,
    }
}

fn image_request(r: wit::ImageRequest) -> request::ImageRequest {
    request::ImageRequest {
        positive_prompt: r.positive_prompt,
        negative_prompt: r.negative_prompt,
        model: r.model,
        width: r.width,
        height: r.height,
        steps: r.steps,
        cfg_scale: r.cfg_scale,
        seed: r.seed,
        scheduler: r.scheduler,
        number_results: r.number_results,
        output_type: r.output_type.map(|t| match t {
            wit::OutputType::Url => request::OutputType::Url,
            wit::OutputType::DataUri => request::OutputType::DataUri,
            wit::OutputType::Base64Data => request::OutputType::Base64Data,
        }),
        output_format: r.output_format.map(|f| match f {
            wit::OutputFormat::Jpg => request::OutputFormat::Jpg,
            wit::OutputFormat::Png => request::OutputFormat::Png,
            wit::OutputFormat::Webp => request::OutputFormat::Webp,
        }),
        output_quality: r.output_quality,
        include_cost: r.include_cost,
        safety_check: r.safety_check,
        delivery: r.delivery.map(|d| match d {
            wit::Delivery::Sync => request::Delivery::Sync,
            wit::Delivery::Async => request::Delivery::Async,
        }),
        loras: r
            .loras
            .into_iter()
            .map(|l| request::Lora {
                model: l.model,
                weight: l.weight,
            })
            .collect(),
        seed_image: r.seed_image,
        mask_image: r.mask_image,
        strength: r.strength,
        extra_json: r.extra_json,
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
        let raw = RawOptions {
            api_key: options.api_key,
            base_url: options.base_url,
            max_retries: options.max_retries,
            deadline_ms: options.deadline_ms,
            connect_timeout_ms: options.connect_timeout_ms,
            first_byte_timeout_ms: options.first_byte_timeout_ms,
            between_bytes_timeout_ms: options.between_bytes_timeout_ms,
            poll_interval_ms: options.poll_interval_ms,
            poll_deadline_ms: options.poll_deadline_ms,
            max_response_bytes: options.max_response_bytes,
            trace: options.trace,
        };
        let opts = Options::from_raw(raw).map_err(err_to_wit)?;
        Ok(api::Client::new(Client { opts }))
    }

    fn text_to_image(&self, request: wit::ImageRequest) -> Result<wit::ImageResult, wit::Error> {
        let uuid = WasiEntropy.uuid_v4();
        let task = request::build_image_task(&image_request(request), &uuid).map_err(err_to_wit)?;
        let mut call = Call::run(&self.opts, vec![as_object(task)], now_ms());
        let outcome = drive(&mut call, self.key()).map_err(err_to_wit)?;
        let r = results::image_result(outcome).map_err(err_to_wit)?;
        Ok(wit::ImageResult {
            task_uuid: r.task_uuid,
            images: r
                .images
                .into_iter()
                .map(|i| wit::Image {
                    task_uuid: i.task_uuid,
                    image_uuid: i.image_uuid,
                    image_url: i.image_url,
                    image_data_uri: i.image_data_uri,
                    image_base64_data: i.image_base64_data,
                    seed: i.seed,
                    nsfw_content: i.nsfw_content,
                    cost: i.cost,
                })
                .collect(),
            response_json: r.response_json,
        })
    }

    fn prepare_text_to_image(&self, request: wit::ImageRequest) -> Result<String, wit::Error> {
        let uuid = WasiEntropy.uuid_v4();
        let task = request::build_image_task(&image_request(request), &uuid).map_err(err_to_wit)?;
        Ok(serde_json::Value::Array(vec![task]).to_string())
    }

    fn model_search(
        &self,
        r: wit::ModelSearchRequest,
    ) -> Result<wit::ModelSearchResult, wit::Error> {
        let req = request::ModelSearchRequest {
            search: r.search,
            tags: r.tags,
            category: r.category,
            model_type: r.model_type,
            architecture: r.architecture,
            conditioning: r.conditioning,
            visibility: r.visibility,
            limit: r.limit,
            offset: r.offset,
        };
        let uuid = WasiEntropy.uuid_v4();
        let task = request::build_model_search_task(&req, &uuid).map_err(err_to_wit)?;
        let mut call = Call::run(&self.opts, vec![as_object(task)], now_ms());
        let outcome = drive(&mut call, self.key()).map_err(err_to_wit)?;
        let r = results::model_search_result(outcome).map_err(err_to_wit)?;
        Ok(wit::ModelSearchResult {
            task_uuid: r.task_uuid,
            total_results: r.total_results,
            results: r
                .results
                .into_iter()
                .map(|m| wit::Model {
                    air: m.air,
                    name: m.name,
                    version: m.version,
                    category: m.category,
                    architecture: m.architecture,
                    tags: m.tags,
                    json: m.json,
                })
                .collect(),
            response_json: r.response_json,
        })
    }

    fn get_response(&self, task_uuid: String) -> Result<wit::RunResult, wit::Error> {
        check_uuid(&task_uuid).map_err(err_to_wit)?;
        let mut call = Call::get_response(&self.opts, &task_uuid, now_ms());
        drive(&mut call, self.key())
            .map(run_to_wit)
            .map_err(err_to_wit)
    }

    fn wait(&self, task_uuid: String, expected: Option<u32>) -> Result<wit::RunResult, wit::Error> {
        check_uuid(&task_uuid).map_err(err_to_wit)?;
        let mut call = Call::wait(&self.opts, &task_uuid, expected.unwrap_or(1), now_ms());
        drive(&mut call, self.key())
            .map(run_to_wit)
            .map_err(err_to_wit)
    }

    fn run_tasks(&self, tasks_json: String) -> Result<wit::RunResult, wit::Error> {
        let mut rng = WasiEntropy;
        let tasks =
            request::normalize_tasks(&tasks_json, &mut || rng.uuid_v4()).map_err(err_to_wit)?;
        let mut call = Call::run(&self.opts, tasks, now_ms());
        drive(&mut call, self.key())
            .map(run_to_wit)
            .map_err(err_to_wit)
    }

    fn download(&self, url: String) -> Result<Vec<u8>, wit::Error> {
        let mut d = download::Download::new(&self.opts, &url, now_ms()).map_err(err_to_wit)?;
        // The key is for Runware only: never sent to an image host.
        drive(&mut d, None).map_err(err_to_wit)
    }
}

fn check_uuid(task_uuid: &str) -> Result<(), ClientError> {
    request::check_task_uuid(task_uuid)
}

crate::bindings::export!(Component with_types_in crate::bindings);
