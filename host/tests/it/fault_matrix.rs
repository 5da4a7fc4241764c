//! The fault matrix of issue 4: every fault the emulator can inject, crossed with sync and async
//! delivery, through the library [`Client`] (the real component in the real host).
//!
//! Each row states its expected outcome: success after exactly N HTTP requests (counted in the
//! emulator's log), or a typed error of a given kind and code that carries a taskUUID the
//! emulator saw. Every row also checks that the call ended within the client's deadline (a
//! "no hang" bound, not a speed check), that no trap occurred, and that no taskUUID was executed
//! (billed) twice. Rows run a few at a time, each against its own emulator; the test prints a
//! one-line summary (`fault matrix: F faults + a fault-free baseline, x 2 modes …, and V video
//! rows (async) = R rows, R held`). The video rows run a typed `videoInference` through `run`.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use runware_emulator::{EmulatorHandle, Fault, FaultRule, ImageMode};
use runware_host::{
    Client, ClientConfig, ClientOptions, Delivery, Error, ErrorKind, ImageRequest, Task,
    TaskStatus, VideoRequest, millis,
};

use crate::common::{describe, emulator_builder, runtime, test_key, trap_message};

/// The client's total deadline in every row.
const DEADLINE: Duration = Duration::from_secs(20);
/// Slack past the deadline before a row counts as a hang (the host's own grace is 5 s).
const HANG_BOUND: Duration = Duration::from_secs(30);
/// Retries after the first attempt.
const MAX_RETRIES: u32 = 2;
/// The client's response cap; the oversized-body row sends four times this.
const MAX_RESPONSE: u32 = 256 << 10;
/// Rows running at once.
const PARALLEL_ROWS: usize = 6;

/// Which requests a row's fault hits.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Hits {
    /// Only the first request of the call (the submission).
    First,
    /// Every request of the call (the retries and the polls too).
    Every,
}

/// What a row's call does.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scenario {
    /// `text_to_image` with one image.
    Image,
    /// `run_tasks` with two `imageInference` tasks (so an order can be reversed).
    Pair,
    /// `run_tasks` twice with the same caller-chosen taskUUID: the second is the row's call.
    ReusedUuid,
    /// A typed `videoInference` through `run` (always async).
    Video,
}

/// A row's expected outcome.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// The call succeeds after exactly this many HTTP requests.
    Success { requests: usize },
    /// The call fails as a whole with this kind and code after exactly this many requests.
    CallError {
        requests: usize,
        kind: ErrorKind,
        code: &'static str,
    },
    /// The call returns, with its task failed, not retryable, with this code (`run_tasks`).
    TaskFailed { requests: usize, code: &'static str },
    /// The call fails with this kind and code after at least this many requests: a poll
    /// deadline, where the number of polls follows the clock.
    CallErrorAfterPolls {
        min_requests: usize,
        kind: ErrorKind,
        code: &'static str,
    },
}

#[derive(Debug, Clone)]
struct Row {
    name: String,
    fault: Option<Fault>,
    /// A second fault, on the first resubmission of the task (the second request carrying an
    /// `imageInference` task).
    then: Option<Fault>,
    hits: Hits,
    scenario: Scenario,
    delivery: Delivery,
    expect: Expect,
}

fn http(status: u16, retry_after: Option<u64>) -> Fault {
    Fault::HttpStatus {
        status,
        retry_after,
    }
}

fn task_error(code: &str) -> Fault {
    Fault::TaskError { code: code.into() }
}

/// The matrix. Request counts, by what the client does (max_retries 2, async results ready at
/// once, so an async task is one submission plus one poll):
/// - an HTTP error before processing: the same taskUUID is sent again (sync 2, async 3);
/// - a transient task error: the task is sent again under a new taskUUID (sync 2; async 4, as
///   the error arrives through the poll);
/// - a lost or unreadable answer after the task was accepted: the same taskUUID is sent again,
///   Runware answers `conflictTaskUUID`, and the client fetches the result with getResponse (3);
/// - an oversized body is refused, not retried (1).
fn rows() -> Vec<Row> {
    use Expect::*;
    let mut rows = Vec::new();
    let mut add = |name: &str, fault: Option<Fault>, hits, scenario, expect: [Expect; 2]| {
        for (delivery, expect) in [Delivery::Sync, Delivery::Async].into_iter().zip(expect) {
            rows.push(Row {
                name: name.to_string(),
                fault: fault.clone(),
                then: None,
                hits,
                scenario,
                delivery,
                expect,
            });
        }
    };
    add(
        "no fault",
        None,
        Hits::First,
        Scenario::Image,
        [Success { requests: 1 }, Success { requests: 2 }],
    );
    for status in [429u16, 500, 502, 503, 504] {
        for retry_after in [None, Some(1)] {
            let name = match retry_after {
                None => format!("http {status}"),
                Some(s) => format!("http {status} + Retry-After {s}"),
            };
            add(
                &name,
                Some(http(status, retry_after)),
                Hits::First,
                Scenario::Image,
                [Success { requests: 2 }, Success { requests: 3 }],
            );
        }
    }
    for code in [
        "timeoutProvider",
        "providerRateLimitExceeded",
        "inferenceError",
    ] {
        add(
            code,
            Some(task_error(code)),
            Hits::First,
            Scenario::Image,
            [Success { requests: 2 }, Success { requests: 4 }],
        );
    }
    for (name, fault) in [
        ("reset after accept", Fault::ResetAfterAccept),
        ("stalled body", Fault::StalledBody),
        ("truncated body", Fault::TruncatedBody),
        ("non-JSON body", Fault::NonJsonBody),
        ("wrong types", Fault::WrongTypes),
        (
            "latency past first-byte timeout",
            Fault::Latency { ms: 6_000 },
        ),
    ] {
        add(
            name,
            Some(fault),
            Hits::First,
            Scenario::Image,
            [Success { requests: 3 }, Success { requests: 3 }],
        );
    }
    let too_large = CallError {
        requests: 1,
        kind: ErrorKind::Server,
        code: "responseTooLarge",
    };
    add(
        "oversized body",
        Some(Fault::OversizedBody {
            bytes: u64::from(MAX_RESPONSE) * 4,
        }),
        Hits::First,
        Scenario::Image,
        [too_large, too_large],
    );
    let conflict = TaskFailed {
        requests: 1,
        code: "conflictTaskUUID",
    };
    add(
        "conflictTaskUUID (taskUUID reused by the caller)",
        None,
        Hits::First,
        Scenario::ReusedUuid,
        [conflict, conflict],
    );
    add(
        "reversed order",
        Some(Fault::ReverseOrder),
        Hits::Every,
        Scenario::Pair,
        [Success { requests: 1 }, Success { requests: 2 }],
    );
    add(
        "error without taskUUID",
        Some(Fault::ErrorWithoutTaskUuid),
        Hits::Every,
        Scenario::Image,
        [Success { requests: 1 }, Success { requests: 2 }],
    );
    // Two faults in a row (found by the soak run): a task error makes the client resend the task
    // under a new taskUUID, and that resend meets an HTTP 502, so it must be resent again, not
    // polled (sync: 3 submissions; async: submit, poll (error), resubmit (502), resubmit, poll).
    add(
        THEN_502,
        Some(task_error("inferenceError")),
        Hits::First,
        Scenario::Image,
        [Success { requests: 3 }, Success { requests: 5 }],
    );
    // Faults that never stop: the retries run out and the error is typed.
    add(
        "http 503 on every request",
        Some(http(503, None)),
        Hits::Every,
        Scenario::Image,
        [
            CallError {
                requests: 3,
                kind: ErrorKind::Server,
                code: "serviceUnavailable",
            },
            CallError {
                requests: 3,
                kind: ErrorKind::Server,
                code: "serviceUnavailable",
            },
        ],
    );
    add(
        "http 429 + Retry-After 1 on every request",
        Some(http(429, Some(1))),
        Hits::Every,
        Scenario::Image,
        [
            CallError {
                requests: 3,
                kind: ErrorKind::RateLimited,
                code: "rateLimitExceeded",
            },
            CallError {
                requests: 3,
                kind: ErrorKind::RateLimited,
                code: "rateLimitExceeded",
            },
        ],
    );
    add(
        "timeoutProvider on every task",
        Some(task_error("timeoutProvider")),
        Hits::Every,
        Scenario::Image,
        [
            CallError {
                requests: 3,
                kind: ErrorKind::Timeout,
                code: "timeoutProvider",
            },
            CallError {
                requests: 6,
                kind: ErrorKind::Timeout,
                code: "timeoutProvider",
            },
        ],
    );
    for row in rows.iter_mut().filter(|r| r.name == THEN_502) {
        row.then = Some(http(502, None));
    }
    rows.extend(video_rows());
    rows
}

/// The video rows: `videoInference` is async only, so each fault has one row (the emulator
/// finishes a video at once here, so a clean video is one submission and one poll, as an async
/// image is). The provider's error reaches the client through the poll, as a top-level error
/// and as a `status:"error"` item with a nested `error`, and the client resends the task under a
/// new taskUUID (4 requests); a video that never finishes ends at the poll deadline with a
/// typed timeout.
fn video_rows() -> Vec<Row> {
    use Expect::*;
    let row = |name: &str, fault: Option<Fault>, hits, expect| Row {
        name: format!("video: {name}"),
        fault,
        then: None,
        hits,
        scenario: Scenario::Video,
        delivery: Delivery::Async,
        expect,
    };
    vec![
        row("no fault", None, Hits::First, Success { requests: 2 }),
        row(
            "http 503",
            Some(http(503, None)),
            Hits::First,
            Success { requests: 3 },
        ),
        row(
            "http 429 + Retry-After 1",
            Some(http(429, Some(1))),
            Hits::First,
            Success { requests: 3 },
        ),
        row(
            "timeoutProvider",
            Some(task_error("timeoutProvider")),
            Hits::First,
            Success { requests: 4 },
        ),
        row(
            "reset after accept",
            Some(Fault::ResetAfterAccept),
            Hits::First,
            Success { requests: 3 },
        ),
        row(
            "truncated body",
            Some(Fault::TruncatedBody),
            Hits::First,
            Success { requests: 3 },
        ),
        row(
            "inferenceError on every task",
            Some(task_error("inferenceError")),
            Hits::Every,
            CallError {
                requests: 6,
                kind: ErrorKind::Server,
                code: "inferenceError",
            },
        ),
        row(
            "never finishes",
            Some(Fault::NeverFinish),
            Hits::Every,
            CallErrorAfterPolls {
                min_requests: 3,
                kind: ErrorKind::Timeout,
                code: "deadlineExceeded",
            },
        ),
    ]
}

/// The row with a second fault.
const THEN_502: &str = "task error, then http 502 on the resend";

/// The shared emulator configuration with the matrix's retries, deadline, timeouts, polling
/// and response cap.
fn config(emu: &EmulatorHandle, key: &str) -> ClientConfig {
    ClientConfig {
        options: ClientOptions {
            max_retries: Some(MAX_RETRIES),
            deadline_ms: Some(millis(DEADLINE)),
            connect_timeout_ms: Some(millis(Duration::from_secs(5))),
            first_byte_timeout_ms: Some(millis(Duration::from_secs(3))),
            between_bytes_timeout_ms: Some(millis(Duration::from_secs(1))),
            poll_interval_ms: Some(millis(Duration::from_millis(50))),
            poll_deadline_ms: Some(millis(Duration::from_secs(15))),
            max_response_bytes: Some(MAX_RESPONSE),
            ..crate::common::options(emu)
        },
        ..crate::common::config(emu, Some(key))
    }
}

fn image_request(delivery: Delivery) -> ImageRequest {
    ImageRequest {
        width: Some(512),
        height: Some(512),
        delivery: Some(delivery),
        ..ImageRequest::new("a lighthouse on a cliff at dusk")
    }
}

/// A UUID-shaped taskUUID unique to this row and slot.
fn uuid(row: usize, slot: u32) -> String {
    format!(
        "{:08x}-{:04x}-4000-8000-{:012x}",
        std::process::id(),
        slot,
        row
    )
}

fn task_json(uuid: &str, delivery: Delivery) -> String {
    let delivery = match delivery {
        Delivery::Sync => "sync",
        Delivery::Async => "async",
    };
    format!(
        r#"{{"taskType":"imageInference","taskUUID":"{uuid}","positivePrompt":"a lighthouse on a cliff at dusk","model":"runware:101@1","width":512,"height":512,"deliveryMethod":"{delivery}"}}"#
    )
}

/// What a row's call came back with, reduced to what the checks need.
enum Got {
    Ok {
        /// taskUUID of each task and the taskUUIDs its data items name.
        tasks: Vec<(String, TaskStatus, Vec<String>)>,
    },
    TaskFailed {
        retryable: bool,
        code: String,
        task_uuid: Option<String>,
    },
    Err(Error),
}

fn data_uuids(items: &[String]) -> Vec<String> {
    items
        .iter()
        .map(|s| {
            serde_json::from_str::<serde_json::Value>(s)
                .ok()
                .and_then(|v| v.get("taskUUID")?.as_str().map(str::to_string))
                .unwrap_or_default()
        })
        .collect()
}

fn video_task() -> Task {
    Task::Video(VideoRequest {
        positive_prompt: Some("a paper boat on a stream".into()),
        duration: Some(1.0),
        width: Some(160),
        height: Some(128),
        fps: Some(4),
        ..VideoRequest::default()
    })
}

async fn call(row: &Row, index: usize, client: &Client) -> Got {
    match row.scenario {
        Scenario::Video => match client.run(&video_task()).await {
            Ok(r) => Got::Ok {
                tasks: vec![(
                    r.task_uuid.clone(),
                    r.status,
                    r.outputs.iter().map(|o| o.task_uuid.clone()).collect(),
                )],
            },
            Err(e) => Got::Err(e),
        },
        Scenario::Image => match client.text_to_image(&image_request(row.delivery)).await {
            Ok(r) => Got::Ok {
                tasks: vec![(
                    r.task_uuid.clone(),
                    TaskStatus::Success,
                    r.images.iter().map(|i| i.task_uuid.clone()).collect(),
                )],
            },
            Err(e) => Got::Err(e),
        },
        Scenario::Pair | Scenario::ReusedUuid => {
            let tasks = if row.scenario == Scenario::Pair {
                format!(
                    "[{},{}]",
                    task_json(&uuid(index, 1), row.delivery),
                    task_json(&uuid(index, 2), row.delivery)
                )
            } else {
                format!("[{}]", task_json(&uuid(index, 1), row.delivery))
            };
            match client.run_tasks(&tasks).await {
                Ok(r) => match r.tasks.iter().find(|t| t.status == TaskStatus::Failed) {
                    Some(failed) => Got::TaskFailed {
                        retryable: failed.error.as_ref().is_some_and(|e| e.retryable),
                        code: failed
                            .error
                            .as_ref()
                            .map(|e| e.code.clone())
                            .unwrap_or_default(),
                        task_uuid: failed.error.as_ref().and_then(|e| e.task_uuid.clone()),
                    },
                    None => Got::Ok {
                        tasks: r
                            .tasks
                            .iter()
                            .map(|t| (t.task_uuid.clone(), t.status, data_uuids(&t.data)))
                            .collect(),
                    },
                },
                Err(e) => Got::Err(e),
            }
        }
    }
}

/// Runs one row against its own emulator; `Err` says what did not hold.
async fn run_row(row: Row, index: usize) -> Result<String, String> {
    let key = test_key(&format!("matrix-{index}"));
    let emu = emulator_builder(&key)
        .image_mode(ImageMode::Placeholder)
        .video_processing(Duration::ZERO)
        .start()
        .await
        .map_err(|e| format!("the emulator did not start: {e}"))?;
    let client = Client::new(&runtime(), config(&emu, &key)).map_err(|e| describe(&e))?;
    let mut before = 0;
    if row.scenario == Scenario::ReusedUuid {
        // The first use of the taskUUID succeeds; the row's call reuses it.
        match call(&row, index, &client).await {
            Got::Ok { .. } => {}
            Got::Err(e) => {
                return Err(format!(
                    "the first use of the taskUUID failed: {}",
                    describe(&e)
                ));
            }
            Got::TaskFailed { code, .. } => {
                return Err(format!(
                    "the first use of the taskUUID failed: its task failed with {code}"
                ));
            }
        }
        before = emu.request_log().len();
    }
    if let Some(fault) = &row.fault {
        let rule = FaultRule::new(fault.clone());
        let rule = match row.hits {
            Hits::First => rule.first_requests(1),
            Hits::Every => rule,
        };
        // A video row's fault hits the video only, not the polls' `getResponse` alone.
        emu.add_fault(if row.scenario == Scenario::Video {
            rule.task_type("videoInference")
        } else {
            rule
        });
    }
    if let Some(then) = &row.then {
        // Rules are tried in order and the first one matching applies: this one first matches
        // the first submission the rule above let through.
        emu.add_fault(
            FaultRule::new(then.clone())
                .task_type("imageInference")
                .first_requests(1),
        );
    }
    let started = Instant::now();
    let got = call(&row, index, &client).await;
    let elapsed = started.elapsed();
    let log = emu.request_log();
    let executions: Vec<(String, u32)> = log
        .iter()
        .flat_map(|r| r.task_uuids.iter())
        .map(|u| (u.clone(), emu.executions(u)))
        .collect();
    emu.stop().await;

    let posts: Vec<_> = log
        .iter()
        .skip(before)
        .filter(|r| r.method == "POST")
        .collect();
    let requests = posts.len();
    let seen: std::collections::BTreeSet<&str> = log
        .iter()
        .flat_map(|r| r.task_uuids.iter().map(String::as_str))
        .collect();
    let mut problems = Vec::new();
    if elapsed > HANG_BOUND {
        problems.push(format!(
            "took {} ms, past the {} ms bound",
            elapsed.as_millis(),
            HANG_BOUND.as_millis()
        ));
    }
    // Both views of billing: the emulator's counters and the request log's `executed` lists.
    let twice: Vec<_> = executions
        .iter()
        .map(|(u, n)| (u.as_str(), *n as usize))
        .chain(seen.iter().map(|u| (*u, logged_executions(&log, u))))
        .filter(|(_, n)| *n > 1)
        .collect();
    if !twice.is_empty() {
        problems.push(format!("executed more than once: {twice:?}"));
    }
    let summary = match &got {
        Got::Ok { tasks } => format!("success after {requests} requests ({tasks:?})"),
        Got::TaskFailed {
            code, task_uuid, ..
        } => format!("task failed with {code} for {task_uuid:?} after {requests} requests"),
        Got::Err(e) => format!("error after {requests} requests: {e}"),
    };
    if let Got::Err(e) = &got
        && let Some(t) = trap_message(e)
    {
        problems.push(format!("trapped: {t}"));
    }
    match (row.expect, &got) {
        (Expect::Success { requests: n }, Got::Ok { tasks }) => {
            if requests != n {
                problems.push(format!("expected {n} requests, saw {requests}"));
            }
            for (uuid, status, items) in tasks {
                if *status != TaskStatus::Success || items.is_empty() {
                    problems.push(format!("task {uuid} is {status:?} with {items:?}"));
                }
                if items.iter().any(|i| i != uuid) {
                    problems.push(format!(
                        "task {uuid} holds another task's result: {items:?}"
                    ));
                }
                if !seen.contains(uuid.as_str()) {
                    problems.push(format!("the emulator never saw task {uuid}"));
                }
            }
        }
        (
            Expect::CallError {
                requests: n,
                kind,
                code,
            },
            Got::Err(e),
        ) => {
            if requests != n {
                problems.push(format!("expected {n} requests, saw {requests}"));
            }
            if e.kind() != Some(kind) || e.detail().map(|d| d.code.as_str()) != Some(code) {
                problems.push(format!("expected {kind} {code}, got {e}"));
            }
            match e.detail().and_then(|d| d.task_uuid.as_deref()) {
                Some(u) if seen.contains(u) => {}
                other => problems.push(format!(
                    "the error names no taskUUID the emulator saw: {other:?}"
                )),
            }
        }
        (
            Expect::TaskFailed { requests: n, code },
            Got::TaskFailed {
                retryable,
                code: c,
                task_uuid,
            },
        ) => {
            if requests != n {
                problems.push(format!("expected {n} requests, saw {requests}"));
            }
            if *retryable || c != code {
                problems.push(format!(
                    "expected a final {code}, got {c} (retryable {retryable})"
                ));
            }
            if task_uuid.as_deref() != Some(uuid(index, 1).as_str()) {
                problems.push(format!(
                    "the error names {task_uuid:?}, not the reused taskUUID"
                ));
            }
        }
        (
            Expect::CallErrorAfterPolls {
                min_requests,
                kind,
                code,
            },
            Got::Err(e),
        ) => {
            if requests < min_requests {
                problems.push(format!("expected {min_requests}+ requests, saw {requests}"));
            }
            if e.kind() != Some(kind) || e.detail().map(|d| d.code.as_str()) != Some(code) {
                problems.push(format!("expected {kind} {code}, got {e}"));
            }
        }
        (expect, _) => problems.push(format!("expected {expect:?}")),
    }
    if problems.is_empty() {
        Ok(summary)
    } else {
        Err(format!("{}; got {summary}", problems.join("; ")))
    }
}

/// Executions of a taskUUID according to the request log.
fn logged_executions(log: &[runware_emulator::LoggedRequest], uuid: &str) -> usize {
    log.iter()
        .flat_map(|r| r.executed.iter())
        .filter(|u| u.as_str() == uuid)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fault_matrix() {
    let rows = rows();
    let faults: std::collections::BTreeSet<&str> = rows
        .iter()
        .filter(|r| r.scenario != Scenario::Video)
        .filter(|r| r.fault.is_some() || r.scenario == Scenario::ReusedUuid)
        .map(|r| r.name.as_str())
        .collect();
    let fault_count = faults.len();
    let video_rows = rows
        .iter()
        .filter(|r| r.scenario == Scenario::Video)
        .count();
    let total = rows.len();
    let started = Instant::now();
    let limit = Arc::new(tokio::sync::Semaphore::new(PARALLEL_ROWS));
    let mut running = Vec::new();
    for (index, row) in rows.iter().cloned().enumerate() {
        let limit = Arc::clone(&limit);
        running.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await;
            run_row(row, index).await
        }));
    }
    let mut held = 0;
    let mut report = String::new();
    for (row, task) in rows.iter().zip(running) {
        let result = task
            .await
            .unwrap_or_else(|e| Err(format!("the row panicked: {e}")));
        let mode = match row.delivery {
            Delivery::Sync => "sync",
            Delivery::Async => "async",
        };
        match result {
            Ok(summary) => {
                held += 1;
                let _ = writeln!(report, "  ok    {:<45} {mode:<5} {summary}", row.name);
            }
            Err(why) => {
                let _ = writeln!(report, "  FAIL  {:<45} {mode:<5} {why}", row.name);
            }
        }
    }
    eprint!("{report}");
    let line = format!(
        "fault matrix: {fault_count} faults + a fault-free baseline, x 2 modes (sync, async), and {video_rows} video rows (async) = {total} rows, {held} held ({} ms)",
        started.elapsed().as_millis()
    );
    println!("{line}");
    assert_eq!(held, total, "rows that did not hold:\n{report}");
}
