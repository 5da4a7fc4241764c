//! Whole conversations between the state machine and a scripted fake server: retries, partial
//! success, async polling, the conflict flow, deadlines.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests"
)]

use runware_guest::download::Download;
use runware_guest::error::ErrorKind;
use runware_guest::machine::{Action, Call, Event, Machine, RunOutcome, TaskStatus, TransportKind};
use runware_guest::options::Options;
use runware_guest::retry::SplitMix64;
use serde_json::{Map, Value, json};

use crate::common::{object, response};

/// One request as the fake server saw it.
#[derive(Debug, Clone)]
struct Seen {
    at: u64,
    tasks: Vec<Value>,
}

/// What the run looked like.
struct Run<T> {
    result: Result<T, runware_guest::error::ClientError>,
    requests: Vec<Seen>,
    sleeps: Vec<u64>,
    trace: Vec<String>,
}

/// Drives `machine` against `server` (given the request's tasks and its index); each request takes 10 ms.
fn drive<M: Machine>(
    mut machine: M,
    mut server: impl FnMut(&[Value], usize) -> Event,
) -> Run<M::Output> {
    let mut now = 1_000u64;
    let mut rng = SplitMix64(42);
    let mut requests = Vec::new();
    let mut sleeps = Vec::new();
    let mut trace = Vec::new();
    let mut action = machine.start(now);
    for _ in 0..1000 {
        trace.extend(machine.drain_trace());
        action = match action {
            Action::Send { body, timeouts, .. } => {
                assert!(timeouts.connect_ms >= 1);
                let tasks: Vec<Value> = if body.is_empty() {
                    vec![]
                } else {
                    serde_json::from_slice(&body).unwrap()
                };
                let event = server(&tasks, requests.len());
                requests.push(Seen { at: now, tasks });
                now += 10;
                machine.handle(event, now, &mut rng)
            }
            Action::Sleep(ms) => {
                sleeps.push(ms);
                now += ms;
                machine.handle(Event::Slept, now, &mut rng)
            }
            Action::Done(result) => {
                trace.extend(machine.drain_trace());
                return Run {
                    result,
                    requests,
                    sleeps,
                    trace,
                };
            }
        };
    }
    panic!("the machine did not finish");
}

fn ok(body: Value) -> Event {
    response(200, body)
}

fn status(code: u16, body: &str) -> Event {
    Event::Response {
        status: code,
        headers: vec![],
        body: body.as_bytes().to_vec(),
    }
}

fn image_task(uuid: &str, n: u32) -> Map<String, Value> {
    object(
        json!({"taskType":"imageInference","taskUUID":uuid,"positivePrompt":"p","model":"runware:101@1","width":512,"height":512,"numberResults":n}),
    )
}

fn image(uuid: &str, i: u32) -> Value {
    json!({"taskType":"imageInference","taskUUID":uuid,"imageUUID":format!("{uuid}-img{i}"),"imageURL":"https://im.example.invalid/x.jpg","seed":i})
}

fn uuid_of(t: &Value) -> String {
    t["taskUUID"].as_str().unwrap().to_string()
}

fn opts() -> Options {
    Options {
        trace: true,
        ..Options::default()
    }
}

fn outcome(run: Run<RunOutcome>) -> (RunOutcome, Vec<Seen>, Vec<u64>) {
    let r = run.result.expect("the call succeeds");
    (r, run.requests, run.sleeps)
}

fn merged(o: &RunOutcome) -> Value {
    serde_json::from_str(&o.response_json).unwrap()
}

#[test]
fn out_of_order_results_are_matched_by_task_uuid_and_grouped() {
    let call = Call::run(&opts(), vec![image_task("a", 2), image_task("b", 1)], 1000);
    let run = drive(call, |_, _| {
        ok(json!({"data":[image("b",0), image("a",1), image("a",0)]}))
    });
    let (o, reqs, _) = outcome(run);
    assert_eq!(reqs.len(), 1);
    assert_eq!(o.tasks[0].task_uuid, "a");
    assert_eq!(o.tasks[0].status, TaskStatus::Success);
    assert_eq!(o.tasks[0].data.len(), 2);
    assert_eq!(
        o.tasks[0].data[0]["imageUUID"], "a-img1",
        "arrival order kept"
    );
    assert_eq!(o.tasks[1].task_uuid, "b");
    assert_eq!(o.tasks[1].data.len(), 1);
    assert_eq!(merged(&o)["data"].as_array().unwrap().len(), 3);
    assert_eq!(merged(&o)["errors"], json!([]));
}

#[test]
fn a_result_for_an_unknown_task_uuid_is_an_error_that_keeps_the_results() {
    let call = Call::run(&opts(), vec![image_task("a", 1)], 1000);
    let run = drive(call, |_, _| {
        ok(json!({"data":[image("a",0), image("zzz",0)]}))
    });
    let e = run.result.unwrap_err();
    assert_eq!(
        (e.kind, e.detail.code.as_str()),
        (ErrorKind::Server, "unknownTaskUUID")
    );
    assert_eq!(e.detail.task_uuid.as_deref(), Some("zzz"));
    assert!(e.detail.message.contains("zzz"));
    let rj: Value = serde_json::from_str(e.detail.response_json.as_deref().unwrap()).unwrap();
    assert_eq!(rj["data"].as_array().unwrap().len(), 2);
    assert_eq!(e.detail.attempts, 1);
}

#[test]
fn a_task_without_result_is_missing_result() {
    let call = Call::run(&opts(), vec![image_task("a", 1), image_task("b", 1)], 1000);
    let (o, _, _) = outcome(drive(call, |_, _| ok(json!({"data":[image("a",0)]}))));
    assert_eq!(o.tasks[0].status, TaskStatus::Success);
    assert_eq!(o.tasks[1].status, TaskStatus::Failed);
    let e = o.tasks[1].error.clone().unwrap();
    assert_eq!(e.detail.code, "missingResult");
    assert!(e.detail.message.contains('b'));
    let m = merged(&o);
    assert_eq!(m["data"].as_array().unwrap().len(), 1);
    assert_eq!(m["errors"][0]["taskUUID"], "b");
}

#[test]
fn an_error_without_task_uuid_applies_to_incomplete_tasks_only() {
    let call = Call::run(&opts(), vec![image_task("a", 1), image_task("b", 1)], 1000);
    let body =
        json!({"data":[image("a",0)],"errors":[{"code":"contentPolicyViolation","message":"no"}]});
    let (o, reqs, _) = outcome(drive(call, move |_, _| ok(body.clone())));
    assert_eq!(reqs.len(), 1);
    assert_eq!(o.tasks[0].status, TaskStatus::Success);
    assert_eq!(o.tasks[1].status, TaskStatus::Failed);
    assert_eq!(
        o.tasks[1].error.clone().unwrap().kind,
        ErrorKind::ContentPolicy
    );
    assert_eq!(
        o.tasks[1]
            .error
            .clone()
            .unwrap()
            .detail
            .task_uuid
            .as_deref(),
        Some("b")
    );

    // When every task is complete, it is only kept in `errors`.
    let call = Call::run(&opts(), vec![image_task("a", 1)], 1000);
    let body = json!({"data":[image("a",0)],"errors":[{"code":"somethingOdd","message":"fyi"}]});
    let (o, _, _) = outcome(drive(call, move |_, _| ok(body.clone())));
    assert_eq!(o.tasks[0].status, TaskStatus::Success);
    assert_eq!(merged(&o)["errors"][0]["code"], "somethingOdd");
}

#[test]
fn retryable_statuses_resend_the_same_task_uuids_and_honour_retry_after() {
    let call = Call::run(&opts(), vec![image_task("a", 1)], 1000);
    let run = drive(call, |tasks, n| match n {
        0 => Event::Response {
            status: 503,
            headers: vec![("Retry-After".into(), "2".into())],
            body: b"{}".to_vec(),
        },
        1 => status(
            429,
            r#"{"errors":[{"code":"rateLimitExceeded","message":"slow down"}]}"#,
        ),
        _ => ok(json!({"data":[image(&uuid_of(&tasks[0]),0)]})),
    });
    let trace = run.trace.clone();
    let (o, reqs, sleeps) = outcome(run);
    assert_eq!(reqs.len(), 3);
    assert!(
        reqs.iter().all(|r| uuid_of(&r.tasks[0]) == "a"),
        "same taskUUID on HTTP-level retries"
    );
    assert_eq!(sleeps[0], 2000, "Retry-After honoured");
    assert!(
        sleeps[1] <= 1000,
        "second retry: full jitter up to 1 s, got {}",
        sleeps[1]
    );
    assert_eq!(o.tasks[0].status, TaskStatus::Success);
    assert_eq!(o.attempts, 3);
    assert_eq!(trace.len(), 3);
    assert_eq!(
        trace[0],
        format!(
            "runware: attempt 1 POST https://api.runware.ai/v1 tasks=a -> 503 [retry in 2000 ms]"
        )
    );
    assert!(trace[2].ends_with("-> 200"), "{}", trace[2]);
}

#[test]
fn retries_exhausted_return_the_last_error() {
    let call = Call::run(&opts(), vec![image_task("a", 1)], 1000);
    let run = drive(call, |_, _| status(502, "bad gateway"));
    assert_eq!(run.requests.len(), 4, "1 attempt + 3 retries");
    let e = run.result.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Server);
    assert_eq!(e.detail.http_status, Some(502));
    assert!(e.detail.retryable);
    assert_eq!(e.detail.attempts, 4);
    for (i, s) in run.sleeps.iter().enumerate() {
        assert!(*s <= 500 << i, "sleep {i} = {s}");
    }
}

#[test]
fn non_retryable_errors_are_not_retried() {
    // A Runware validation error.
    let call = Call::run(&opts(), vec![image_task("a", 1)], 1000);
    let run = drive(call, |_, _| {
        status(
            400,
            r#"{"errors":[{"code":"invalidWidth","message":"bad","parameter":"width","taskUUID":"a","taskType":"imageInference"}]}"#,
        )
    });
    assert_eq!(run.requests.len(), 1);
    let o = run.result.unwrap();
    let e = o.tasks[0].error.clone().unwrap();
    assert_eq!(
        (e.kind, e.detail.parameter.as_deref(), e.detail.http_status),
        (ErrorKind::InvalidRequest, Some("width"), Some(400))
    );

    // Authentication: the whole call fails.
    let call = Call::run(&opts(), vec![image_task("a", 1)], 1000);
    let run = drive(call, |_, _| {
        status(
            401,
            r#"{"errors":[{"code":"invalidApiKey","message":"Invalid API key","parameter":"apiKey","taskType":"authentication"}]}"#,
        )
    });
    assert_eq!(run.requests.len(), 1);
    let e = run.result.unwrap_err();
    assert_eq!(
        (e.kind, e.detail.code.as_str(), e.detail.retryable),
        (ErrorKind::Authentication, "invalidApiKey", false)
    );

    // A bodiless 402.
    let call = Call::run(&opts(), vec![image_task("a", 1)], 1000);
    let run = drive(call, |_, _| status(402, ""));
    assert_eq!(run.requests.len(), 1);
    assert_eq!(run.result.unwrap_err().kind, ErrorKind::InsufficientCredits);
}

#[test]
fn garbage_bodies_are_retried_then_reported_as_invalid_response() {
    let call = Call::run(&opts(), vec![image_task("a", 1)], 1000);
    let run = drive(call, |tasks, n| match n {
        0 => status(200, "<html>oops"),
        1 => status(200, r#"{"data":"oops"}"#),
        2 => status(200, r#"{"data":[{"taskUUID":"a""#),
        _ => ok(json!({"data":[image(&uuid_of(&tasks[0]),0)]})),
    });
    assert_eq!(run.requests.len(), 4);
    assert!(run.result.is_ok());

    let call = Call::run(
        &Options {
            max_retries: 1,
            ..opts()
        },
        vec![image_task("a", 1)],
        1000,
    );
    let run = drive(call, |_, _| status(200, "not json"));
    let e = run.result.unwrap_err();
    assert_eq!(
        (e.kind, e.detail.code.as_str(), e.detail.retryable),
        (ErrorKind::Server, "invalidResponse", true)
    );
    assert_eq!(e.detail.attempts, 2);
}

#[test]
fn an_oversized_response_is_not_retried() {
    let call = Call::run(
        &Options {
            max_response_bytes: 100,
            ..opts()
        },
        vec![image_task("a", 1)],
        1000,
    );
    let run = drive(call, |_, _| status(200, &"x".repeat(101)));
    assert_eq!(run.requests.len(), 1);
    let e = run.result.unwrap_err();
    assert_eq!(
        (e.kind, e.detail.code.as_str(), e.detail.retryable),
        (ErrorKind::Server, "responseTooLarge", false)
    );
}

#[test]
fn a_body_the_host_refused_as_too_large_is_not_retried() {
    let call = Call::run(&opts(), vec![image_task("a", 1)], 1000);
    let run = drive(call, |_, _| Event::TransportError {
        kind: TransportKind::TooLarge,
        message: "HttpResponseBodySize(Some(1000))".into(),
    });
    assert_eq!(run.requests.len(), 1);
    let e = run.result.unwrap_err();
    assert_eq!(
        (e.kind, e.detail.code.as_str(), e.detail.retryable),
        (ErrorKind::Server, "responseTooLarge", false)
    );
}

#[test]
fn an_item_without_task_uuid_belongs_to_the_only_task_of_its_type() {
    let ping = object(json!({"taskType":"ping","taskUUID":"p","ping":true}));
    let search = object(json!({"taskType":"modelSearch","taskUUID":"s"}));
    let call = Call::run(&opts(), vec![ping, search], 1000);
    let run = drive(call, |_, _| {
        ok(json!({"data":[
            {"taskType":"ping","pong":true},
            {"taskType":"modelSearch","taskUUID":"s","results":[],"totalResults":0}
        ]}))
    });
    let (o, requests, _) = outcome(run);
    assert_eq!(requests.len(), 1);
    assert!(o.tasks.iter().all(|t| t.status == TaskStatus::Success));
    assert_eq!(
        merged(&o)["data"][0]["taskUUID"],
        "p",
        "the item is tied to its task"
    );

    // Two unfinished tasks of that type: the item cannot be placed, so both lack a result.
    let pings = vec![
        object(json!({"taskType":"ping","taskUUID":"p1","ping":true})),
        object(json!({"taskType":"ping","taskUUID":"p2","ping":true})),
    ];
    let run = drive(Call::run(&opts(), pings, 1000), |_, _| {
        ok(json!({"data":[{"taskType":"ping","pong":true}]}))
    });
    let (o, _, _) = outcome(run);
    for t in &o.tasks {
        assert_eq!(t.status, TaskStatus::Failed);
        assert_eq!(
            t.error.as_ref().map(|e| e.detail.code.as_str()),
            Some("missingResult")
        );
    }
}

#[test]
fn a_denied_request_is_a_transport_error_without_retry() {
    let call = Call::run(&opts(), vec![image_task("a", 1)], 1000);
    let run = drive(call, |_, _| Event::TransportError {
        kind: TransportKind::Denied,
        message: "HttpRequestDenied\nbacktrace".into(),
    });
    assert_eq!(run.requests.len(), 1);
    let e = run.result.unwrap_err();
    assert_eq!((e.kind, e.detail.retryable), (ErrorKind::Transport, false));
    assert!(
        !e.detail.message.contains("backtrace"),
        "only the first line is kept"
    );
}

#[test]
fn lost_response_then_conflict_switches_to_polling() {
    let call = Call::run(&opts(), vec![image_task("a", 1)], 1000);
    let run = drive(call, |tasks, n| match n {
        0 => Event::TransportError {
            kind: TransportKind::Connection,
            message: "connection reset".into(),
        },
        1 => {
            assert_eq!(uuid_of(&tasks[0]), "a", "resent with the same taskUUID");
            assert_eq!(tasks[0]["taskType"], "imageInference");
            status(
                400,
                r#"{"errors":[{"code":"conflictTaskUUID","message":"exists","taskUUID":"a","taskType":"imageInference"}]}"#,
            )
        }
        _ => {
            assert_eq!(tasks[0], json!({"taskType":"getResponse","taskUUID":"a"}));
            let mut img = image("a", 0);
            img["status"] = json!("success");
            ok(json!({"data":[img]}))
        }
    });
    let (o, reqs, _) = outcome(run);
    assert_eq!(reqs.len(), 3);
    assert_eq!(o.tasks[0].status, TaskStatus::Success);
    assert_eq!(o.tasks[0].data.len(), 1);
    assert_eq!(
        merged(&o)["errors"],
        json!([]),
        "the conflict is not a final error"
    );
}

#[test]
fn conflict_on_the_first_send_is_invalid_request() {
    let call = Call::run(&opts(), vec![image_task("a", 1)], 1000);
    let run = drive(call, |_, _| {
        status(
            400,
            r#"{"errors":[{"code":"conflictTaskUUID","taskUUID":"a"}]}"#,
        )
    });
    assert_eq!(run.requests.len(), 1);
    let o = run.result.unwrap();
    assert_eq!(
        o.tasks[0].error.clone().unwrap().kind,
        ErrorKind::InvalidRequest
    );
}

#[test]
fn a_batch_retries_only_its_failed_task_with_a_new_task_uuid() {
    let call = Call::run(&opts(), vec![image_task("a", 1), image_task("b", 1)], 1000);
    let mut b_uuids = Vec::new();
    let run = drive(call, |tasks, n| {
        let uuids: Vec<String> = tasks.iter().map(uuid_of).collect();
        match n {
            0 => ok(
                json!({"data":[image("a",0)],"errors":[{"code":"timeoutProvider","status":"error","taskUUID":"b","message":"slow"}]}),
            ),
            _ => {
                assert_eq!(uuids.len(), 1, "only the failed task is resent");
                assert!(
                    !uuids.contains(&"a".to_string()),
                    "a succeeded: never sent again"
                );
                assert_ne!(
                    uuids[0], "b",
                    "a new taskUUID for a per-task transient error"
                );
                b_uuids.push(uuids[0].clone());
                ok(json!({"data":[image(&uuids[0],0)]}))
            }
        }
    });
    let (o, reqs, _) = outcome(run);
    assert_eq!(reqs.len(), 2);
    assert_eq!(o.tasks[0].status, TaskStatus::Success);
    assert_eq!(o.tasks[1].status, TaskStatus::Success);
    assert_eq!(o.tasks[1].task_uuid, b_uuids[0]);
    assert_eq!(
        merged(&o)["errors"],
        json!([]),
        "a retried-away error is not kept"
    );
}

#[test]
fn http_failure_after_partial_success_resends_only_the_missing_task() {
    let call = Call::run(&opts(), vec![image_task("a", 1), image_task("b", 1)], 1000);
    let run = drive(call, |tasks, n| match n {
        0 => Event::Response {
            status: 500,
            headers: vec![],
            body: json!({"data":[image("a",0)]}).to_string().into_bytes(),
        },
        _ => {
            assert_eq!(
                tasks.iter().map(uuid_of).collect::<Vec<_>>(),
                vec!["b".to_string()]
            );
            ok(json!({"data":[image("b",0)]}))
        }
    });
    let (o, reqs, _) = outcome(run);
    assert_eq!(reqs.len(), 2);
    assert!(o.tasks.iter().all(|t| t.status == TaskStatus::Success));
}

#[test]
fn non_transient_per_task_errors_give_partial_success() {
    let call = Call::run(&opts(), vec![image_task("a", 1), image_task("b", 1)], 1000);
    let run = drive(call, |_, _| {
        ok(
            json!({"data":[image("a",0)],"errors":[{"code":"invalidSteps","taskUUID":"b","message":"steps"}]}),
        )
    });
    let (o, reqs, _) = outcome(run);
    assert_eq!(reqs.len(), 1);
    assert_eq!(o.tasks[0].status, TaskStatus::Success);
    assert_eq!(o.tasks[1].status, TaskStatus::Failed);
    let m = merged(&o);
    assert_eq!(m["data"].as_array().unwrap().len(), 1);
    assert_eq!(m["errors"][0]["code"], "invalidSteps");
}

fn async_task(uuid: &str, n: u32) -> Map<String, Value> {
    let mut t = image_task(uuid, n);
    t.insert("deliveryMethod".into(), json!("async"));
    t
}

fn done(uuid: &str, i: u32) -> Value {
    let mut v = image(uuid, i);
    v["status"] = json!("success");
    v
}

fn processing(uuid: &str) -> Value {
    json!({"taskType":"imageInference","taskUUID":uuid,"status":"processing"})
}

#[test]
fn async_polling_with_cumulative_answers() {
    let call = Call::run(&opts(), vec![async_task("a", 3)], 1000);
    let run = drive(call, |tasks, n| match n {
        0 => ok(json!({"data":[{"taskType":"imageInference","taskUUID":"a"}]})),
        1 => {
            assert_eq!(tasks[0], json!({"taskType":"getResponse","taskUUID":"a"}));
            ok(json!({"data":[processing("a"), processing("a"), processing("a")]}))
        }
        2 => ok(json!({"data":[done("a",0), processing("a"), processing("a")]})),
        3 => ok(json!({"data":[done("a",0), done("a",1), processing("a")]})),
        _ => ok(json!({"data":[done("a",0), done("a",1), done("a",2)]})),
    });
    let (o, reqs, sleeps) = outcome(run);
    assert_eq!(reqs.len(), 5);
    assert_eq!(
        sleeps,
        vec![1000, 1500, 2250, 3375],
        "poll schedule ×1.5 from poll-interval-ms"
    );
    assert_eq!(o.tasks[0].status, TaskStatus::Success);
    assert_eq!(o.tasks[0].data.len(), 3, "duplicates removed");
    let m = merged(&o);
    assert_eq!(m["data"].as_array().unwrap().len(), 3);
    assert!(
        m["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["status"] == "success")
    );
}

#[test]
fn async_poll_deadline_returns_partial_results() {
    let o = Options {
        poll_deadline_ms: 5_000,
        ..opts()
    };
    let call = Call::run(&o, vec![async_task("a", 2)], 1000);
    let run = drive(call, |_, n| match n {
        0 => ok(json!({"data":[{"taskType":"imageInference","taskUUID":"a"}]})),
        _ => ok(json!({"data":[done("a",0), processing("a")]})),
    });
    let (o, reqs, _) = outcome(run);
    assert!(reqs.len() >= 3);
    let t = &o.tasks[0];
    assert_eq!(t.status, TaskStatus::Failed);
    assert_eq!(t.data.len(), 1, "partial results kept");
    let e = t.error.clone().unwrap();
    assert_eq!(
        (e.kind, e.detail.code.as_str()),
        (ErrorKind::Timeout, "deadlineExceeded")
    );
    assert!(reqs.last().unwrap().at <= 1000 + 5_000 + 20);
    assert_eq!(merged(&o)["data"].as_array().unwrap().len(), 1);
}

#[test]
fn async_task_failure_reported_by_get_response() {
    let call = Call::run(
        &Options {
            max_retries: 0,
            ..opts()
        },
        vec![async_task("a", 1)],
        1000,
    );
    let run = drive(call, |_, n| match n {
        0 => ok(json!({"data":[{"taskType":"imageInference","taskUUID":"a"}]})),
        _ => ok(
            json!({"data":[],"errors":[{"code":"timeoutProvider","status":"error","taskUUID":"a","message":"slow"}]}),
        ),
    });
    let (o, reqs, _) = outcome(run);
    assert_eq!(reqs.len(), 2);
    assert_eq!(o.tasks[0].status, TaskStatus::Failed);
    assert_eq!(o.tasks[0].error.clone().unwrap().kind, ErrorKind::Timeout);
}

#[test]
fn poll_transport_failures_follow_the_poll_schedule() {
    let call = Call::run(
        &Options {
            max_retries: 0,
            ..opts()
        },
        vec![async_task("a", 1)],
        1000,
    );
    let run = drive(call, |_, n| match n {
        0 => ok(json!({"data":[{"taskType":"imageInference","taskUUID":"a"}]})),
        1 | 2 => status(503, ""),
        _ => ok(json!({"data":[done("a",0)]})),
    });
    let (o, reqs, sleeps) = outcome(run);
    assert_eq!(reqs.len(), 4, "poll failures do not use the retry budget");
    assert_eq!(sleeps, vec![1000, 1500, 2250]);
    assert_eq!(o.tasks[0].status, TaskStatus::Success);
}

#[test]
fn wait_polls_until_done_and_fails_with_partial_results_at_the_deadline() {
    let call = Call::wait(&opts(), "t", 2, 1000);
    let (o, reqs, _) = outcome(drive(call, |_, n| match n {
        0 => ok(json!({"data":[processing("t")]})),
        _ => ok(json!({"data":[done("t",0), done("t",1)]})),
    }));
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        reqs[0].tasks[0],
        json!({"taskType":"getResponse","taskUUID":"t"})
    );
    assert_eq!(
        o.tasks[0].task_type, "imageInference",
        "learned from the items"
    );
    assert_eq!(o.tasks[0].data.len(), 2);

    let call = Call::wait(
        &Options {
            poll_deadline_ms: 3000,
            ..opts()
        },
        "t",
        2,
        1000,
    );
    let run = drive(call, |_, _| {
        ok(json!({"data":[done("t",0), processing("t")]}))
    });
    let e = run.result.unwrap_err();
    assert_eq!(
        (e.kind, e.detail.code.as_str()),
        (ErrorKind::Timeout, "deadlineExceeded")
    );
    let rj: Value = serde_json::from_str(e.detail.response_json.as_deref().unwrap()).unwrap();
    assert_eq!(
        rj["data"].as_array().unwrap().len(),
        1,
        "partial results with the error"
    );
}

#[test]
fn get_response_asks_once() {
    let call = Call::get_response(&opts(), "t", 1000);
    let (o, reqs, _) = outcome(drive(call, |_, _| ok(json!({"data":[processing("t")]}))));
    assert_eq!(reqs.len(), 1);
    assert_eq!(o.tasks[0].status, TaskStatus::Processing);
    assert_eq!(merged(&o)["data"][0]["status"], "processing");

    let call = Call::get_response(&opts(), "t", 1000);
    let (o, reqs, _) = outcome(drive(call, |_, n| {
        if n == 0 {
            status(503, "")
        } else {
            ok(json!({"data":[done("t",0)]}))
        }
    }));
    assert_eq!(reqs.len(), 2, "HTTP-level failures are retried");
    assert_eq!(o.tasks[0].status, TaskStatus::Success);
}

#[test]
fn the_total_deadline_bounds_retries() {
    let o = Options {
        deadline_ms: 1_500,
        max_retries: 10,
        ..opts()
    };
    let call = Call::run(&o, vec![image_task("a", 1)], 1000);
    let run = drive(call, |_, _| Event::Response {
        status: 503,
        headers: vec![("retry-after".into(), "1".into())],
        body: br#"{"errors":[{"code":"serviceUnavailable","message":"busy"}]}"#.to_vec(),
    });
    let e = run.result.unwrap_err();
    assert_eq!(
        (e.kind, e.detail.code.as_str()),
        (ErrorKind::Timeout, "deadlineExceeded")
    );
    assert!(
        e.detail.message.contains("serviceUnavailable"),
        "carries the last error: {}",
        e.detail.message
    );
    assert_eq!(e.detail.http_status, Some(503));
    assert_eq!(run.requests.len(), 2);
    assert!(run.requests.iter().all(|r| r.at < 1000 + 1_500));
    assert_eq!(e.detail.attempts, 2);
}

#[test]
fn request_timeouts_are_bounded_by_the_remaining_time() {
    let o = Options {
        deadline_ms: 5_000,
        ..Options::default()
    };
    let mut call = Call::run(&o, vec![image_task("a", 1)], 0);
    match call.start(0) {
        Action::Send {
            timeouts,
            max_response_bytes,
            ..
        } => {
            assert_eq!(timeouts.connect_ms, 5_000);
            assert_eq!(timeouts.first_byte_ms, 5_000);
            assert_eq!(timeouts.between_bytes_ms, 5_000);
            assert_eq!(max_response_bytes, 64 * 1024 * 1024);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn model_search_and_image_results() {
    let t = object(json!({"taskType":"modelSearch","taskUUID":"m"}));
    let call = Call::run(&opts(), vec![t], 1000);
    let (o, _, _) = outcome(drive(call, |_, _| {
        ok(
            json!({"data":[{"taskType":"modelSearch","taskUUID":"m","totalResults":"57","results":[
            {"air":"runware:101@1","name":"Flux","tags":["a","b"],"category":"checkpoint","private":false}, 7]}]}),
        )
    }));
    let r = runware_guest::results::model_search_result(o).unwrap();
    assert_eq!(r.total_results, 57);
    assert_eq!(r.results.len(), 2);
    assert_eq!(r.results[0].air, "runware:101@1");
    assert_eq!(r.results[0].tags, vec!["a", "b"]);
    assert!(r.results[0].json.contains("\"private\":false"));
    assert_eq!(r.results[1].air, "", "a malformed model is kept, empty");

    let call = Call::run(&opts(), vec![image_task("a", 2)], 1000);
    let (o, _, _) = outcome(drive(call, |_, _| {
        ok(
            json!({"data":[{"taskType":"imageInference","taskUUID":"a","imageUUID":"i1","seed":"12","cost":0.01,"NSFWContent":false},
                          {"taskType":"imageInference","taskUUID":"a","imageUUID":"i2","imageBase64Data":"QQ=="}]}),
        )
    }));
    let r = runware_guest::results::image_result(o).unwrap();
    assert_eq!(r.images.len(), 2);
    assert_eq!(
        (r.images[0].seed, r.images[0].cost, r.images[0].nsfw_content),
        (Some(12), Some(0.01), Some(false))
    );
    assert_eq!(r.images[1].image_base64_data.as_deref(), Some("QQ=="));

    // A failed task is the typed call's error, with the partial response attached.
    let call = Call::run(&opts(), vec![image_task("a", 2)], 1000);
    let run = drive(call, |_, _| {
        ok(json!({"data":[image("a",0)],"errors":[{"code":"nsfwContentDetected","taskUUID":"a"}]}))
    });
    let e = runware_guest::results::image_result(run.result.unwrap()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::ContentPolicy);
    assert!(e.detail.response_json.unwrap().contains("a-img0"));
}

#[test]
fn run_tasks_errs_only_when_nothing_could_be_done() {
    let call = Call::run(
        &Options {
            max_retries: 1,
            ..opts()
        },
        vec![image_task("a", 1), image_task("b", 1)],
        1000,
    );
    let run = drive(call, |_, _| Event::TransportError {
        kind: TransportKind::Timeout,
        message: "ConnectionReadTimeout".into(),
    });
    let e = run.result.unwrap_err();
    assert_eq!(
        (e.kind, e.detail.code.as_str(), e.detail.attempts),
        (ErrorKind::Transport, "transportError", 2)
    );
}

#[test]
fn downloads_retry_and_cap() {
    let d = Download::new(&opts(), "https://im.example.invalid/a.jpg", 1000).unwrap();
    let run = drive(d, |_, n| {
        if n == 0 {
            status(503, "")
        } else {
            status(200, "JPEGDATA")
        }
    });
    assert_eq!(run.result.unwrap(), b"JPEGDATA".to_vec());
    assert_eq!(run.requests.len(), 2);
    assert!(
        run.trace[0].starts_with(
            "runware: attempt 1 GET https://im.example.invalid/a.jpg -> 503 [retry in"
        )
    );

    let d = Download::new(&opts(), "https://im.example.invalid/a.jpg", 1000).unwrap();
    let run = drive(d, |_, _| status(404, ""));
    assert_eq!(run.requests.len(), 1);
    assert_eq!(run.result.unwrap_err().kind, ErrorKind::InvalidRequest);

    let d = Download::new(
        &Options {
            max_response_bytes: 4,
            ..opts()
        },
        "http://h/x",
        1000,
    )
    .unwrap();
    let run = drive(d, |_, _| status(200, "12345"));
    assert_eq!(run.result.unwrap_err().detail.code, "responseTooLarge");

    assert_eq!(
        Download::new(&opts(), "file:///etc/passwd", 0)
            .unwrap_err()
            .detail
            .code,
        "invalidUrl"
    );
}

#[test]
fn a_task_error_in_a_retryable_status_is_the_task_s_failure() {
    // The emulator answers getResponse for a failed task with HTTP 504 and the task's error.
    let call = Call::run(&opts(), vec![async_task("a", 1)], 1000);
    let mut uuids = Vec::new();
    let run = drive(call, |tasks, n| {
        uuids.push(uuid_of(&tasks[0]));
        match n {
            0 => ok(json!({"data":[{"taskType":"imageInference","taskUUID":"a"}]})),
            1 => status(
                504,
                r#"{"errors":[{"code":"timeoutProvider","status":"error","taskUUID":"a","message":"slow"}]}"#,
            ),
            2 => {
                assert_eq!(tasks[0]["taskType"], "imageInference", "resubmitted");
                ok(json!({"data":[{"taskType":"imageInference","taskUUID":uuid_of(&tasks[0])}]}))
            }
            _ => ok(json!({"data":[done(&uuid_of(&tasks[0]),0)]})),
        }
    });
    let (o, reqs, _) = outcome(run);
    assert_eq!(reqs.len(), 4);
    assert_ne!(
        uuids[2], "a",
        "a new taskUUID after the task's transient failure"
    );
    assert_eq!(o.tasks[0].status, TaskStatus::Success);
}

// ---- jobs: submit, poll with progress, wait with both error shapes, the video deadline ------

fn video_task(uuid: &str, n: u32) -> Map<String, Value> {
    object(
        json!({"taskType":"videoInference","taskUUID":uuid,"deliveryMethod":"async",
                  "model":"klingai:kling-video@2.6-standard","numberResults":n,"includeCost":true}),
    )
}

fn video(uuid: &str, i: u32, cost: f64) -> Value {
    json!({"taskType":"videoInference","taskUUID":uuid,"status":"success",
           "videoUUID":format!("{uuid}-v{i}"),"videoURL":"https://vm.example.invalid/v.mp4","cost":cost})
}

#[test]
fn submit_ends_at_the_acknowledgement_and_resends_the_same_uuid_before_it() {
    let call = Call::submit(&opts(), vec![video_task("v", 1)], 1000);
    let run = drive(call, |tasks, n| match n {
        0 => status(503, ""),
        _ => ok(json!({"data":[{"taskType":"videoInference","taskUUID":uuid_of(&tasks[0])}]})),
    });
    let (o, reqs, _) = outcome(run);
    assert_eq!(
        reqs.len(),
        2,
        "one retry, then the acknowledgement ends the call"
    );
    assert_eq!(uuid_of(&reqs[0].tasks[0]), "v");
    assert_eq!(
        uuid_of(&reqs[1].tasks[0]),
        "v",
        "an HTTP retry keeps the taskUUID"
    );
    assert_eq!(o.tasks[0].status, TaskStatus::Processing);
    assert_eq!(o.tasks[0].task_uuid, "v");
    let job = runware_guest::results::job(o, 1).unwrap();
    assert_eq!(job.task_uuid, "v");
    assert_eq!(job.task_type.as_deref(), Some("videoInference"));
    assert_eq!(job.expected_results, Some(1));
}

#[test]
fn submit_of_a_task_refused_at_once_is_its_error() {
    let call = Call::submit(&opts(), vec![video_task("v", 1)], 1000);
    let run = drive(call, |_, _| {
        status(
            400,
            r#"{"errors":[{"code":"invalidDuration","parameter":"duration","taskUUID":"v","message":"bad","min":1,"max":60}]}"#,
        )
    });
    let (o, reqs, _) = outcome(run);
    assert_eq!(reqs.len(), 1);
    let e = runware_guest::results::job(o, 1).unwrap_err();
    assert_eq!(
        (
            e.kind,
            e.detail.code.as_str(),
            e.detail.parameter.as_deref()
        ),
        (
            ErrorKind::InvalidRequest,
            "invalidDuration",
            Some("duration")
        )
    );
}

#[test]
fn one_poll_reports_progress_and_the_outputs_so_far() {
    let call = Call::get_response(&opts(), "v", 1000);
    let run = drive(call, |_, _| {
        ok(
            json!({"data":[{"taskType":"videoInference","taskUUID":"v","status":"processing","progress":42.4}]}),
        )
    });
    let o = runware_guest::results::task_outcome(run.result.unwrap(), false).unwrap();
    assert_eq!(o.status, TaskStatus::Processing);
    assert_eq!(o.progress, Some(42));
    assert!(o.outputs.is_empty());
    assert_eq!(o.task_type, "videoInference");
}

#[test]
fn wait_sums_costs_and_reads_video_outputs() {
    let call = Call::wait(&opts(), "v", 2, 1000);
    let run = drive(call, |_, n| match n {
        0 => ok(
            json!({"data":[{"taskType":"videoInference","taskUUID":"v","status":"processing","progress":10}]}),
        ),
        1 => ok(
            json!({"data":[video("v",0,1.25), {"taskType":"videoInference","taskUUID":"v","status":"processing","progress":60}]}),
        ),
        _ => ok(json!({"data":[video("v",0,1.25), video("v",1,2.5)]})),
    });
    let o = runware_guest::results::task_outcome(run.result.unwrap(), true).unwrap();
    assert_eq!(o.status, TaskStatus::Success);
    assert_eq!(
        o.outputs.len(),
        2,
        "cumulative answers are not counted twice"
    );
    assert_eq!(o.cost, Some(3.75));
    let first = &o.outputs[0];
    assert_eq!(first.kind, runware_guest::wit::OutputKind::Video);
    assert_eq!(first.uuid.as_deref(), Some("v-v0"));
    assert_eq!(
        first.url.as_deref(),
        Some("https://vm.example.invalid/v.mp4")
    );
}

#[test]
fn an_error_item_with_a_nested_error_fails_the_job_and_keeps_its_outputs() {
    let call = Call::run(&opts(), vec![video_task("v", 2)], 1000);
    let run = drive(call, |_, n| match n {
        0 => ok(json!({"data":[{"taskType":"videoInference","taskUUID":"v"}]})),
        _ => ok(json!({"data":[video("v",0,1.0),
            {"taskType":"videoInference","taskUUID":"v","status":"error",
             "error":{"code":"invalidValueUploadFailed","message":"frameImages could not be read","parameter":"frameImages"}}]})),
    });
    let (o, _, _) = outcome(run);
    assert_eq!(o.tasks[0].data.len(), 1, "the output that arrived is kept");
    let e = runware_guest::results::task_outcome(o, true).unwrap_err();
    assert_eq!(
        e.detail.code, "invalidValueUploadFailed",
        "the provider's code, not a generic one"
    );
    assert_eq!(e.detail.parameter.as_deref(), Some("frameImages"));
    assert_eq!(e.detail.task_uuid.as_deref(), Some("v"));
    let rj: Value = serde_json::from_str(e.detail.response_json.as_deref().unwrap()).unwrap();
    assert_eq!(rj["data"][0]["videoUUID"], "v-v0");
}

#[test]
fn a_video_without_a_deadline_of_its_own_polls_for_the_poll_deadline() {
    // Default options: a 5 min call deadline, a 20 min poll deadline. The video must be polled
    // for the 20 minutes, not cut at 5.
    let call = Call::run(&Options::default(), vec![video_task("v", 1)], 1000);
    let run = drive(call, |_, n| match n {
        0 => ok(json!({"data":[{"taskType":"videoInference","taskUUID":"v"}]})),
        _ => {
            ok(json!({"data":[{"taskType":"videoInference","taskUUID":"v","status":"processing"}]}))
        }
    });
    let (o, reqs, sleeps) = outcome(run);
    let last = reqs.last().unwrap().at;
    assert!(
        last > 1000 + 600_000,
        "polled past the 5 min default ({last})"
    );
    assert!(
        last <= 1000 + 1_200_000 + 20,
        "but not past the poll deadline ({last})"
    );
    assert!(
        sleeps.iter().all(|s| *s <= 10_000),
        "the delay is capped at 10 s"
    );
    assert_eq!(o.tasks[0].error.clone().unwrap().kind, ErrorKind::Timeout);

    // A deadline the caller set bounds the poll deadline.
    let set = Options {
        deadline_ms: 30_000,
        deadline_set: true,
        ..Options::default()
    };
    let call = Call::run(&set, vec![video_task("v", 1)], 1000);
    let run = drive(call, |_, n| match n {
        0 => ok(json!({"data":[{"taskType":"videoInference","taskUUID":"v"}]})),
        _ => {
            ok(json!({"data":[{"taskType":"videoInference","taskUUID":"v","status":"processing"}]}))
        }
    });
    let reqs = run.requests;
    assert!(reqs.last().unwrap().at <= 1000 + 30_000 + 20);
}

#[test]
fn a_transient_error_reported_in_both_shapes_resends_the_video_once() {
    // Runware reports a failed async task twice in one answer: a `status:"error"` item with a
    // nested error, and a top-level `errors[]` entry. The first resends the task under a new
    // taskUUID; the second names the old taskUUID and must not count as an unknown task.
    let call = Call::run(&opts(), vec![video_task("v", 1)], 1000);
    let run = drive(call, |tasks, n| {
        let uuid = uuid_of(&tasks[0]);
        match n {
            0 | 2 => ok(json!({"data":[{"taskType":"videoInference","taskUUID":uuid}]})),
            1 => ok(json!({
                "data":[{"taskType":"videoInference","taskUUID":uuid,"status":"error",
                         "error":{"code":"timeoutProvider","message":"slow"}}],
                "errors":[{"code":"timeoutProvider","message":"slow","taskUUID":uuid,
                           "taskType":"videoInference","status":"error"}]})),
            _ => ok(json!({"data":[video(&uuid, 0, 1.0)]})),
        }
    });
    let (o, reqs, _) = outcome(run);
    assert_eq!(reqs.len(), 4, "submit, poll (error), resubmit, poll");
    assert_eq!(o.tasks[0].status, TaskStatus::Success);
    assert_ne!(o.tasks[0].task_uuid, "v", "resent under a new taskUUID");
    let submissions: Vec<&Value> = reqs
        .iter()
        .map(|r| &r.tasks[0])
        .filter(|t| t["taskType"] == "videoInference")
        .collect();
    assert_eq!(
        submissions.len(),
        2,
        "sent twice in all: once, then once again"
    );
}
