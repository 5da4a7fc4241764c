//! Each fault, its targeting (first N requests, task type, seeded rate) and the ways to set it
//! (builder, run time, admin endpoint, JSON form).

use std::time::Duration;

use crate::common::*;
use runware_emulator::{Fault, FaultRule};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends a raw HTTP/1.1 POST /v1 and returns the socket after the request was written.
async fn raw_post(
    emu: &runware_emulator::EmulatorHandle,
    key: &str,
    body: &str,
) -> tokio::net::TcpStream {
    let mut s = tokio::net::TcpStream::connect(emu.addr()).await.unwrap();
    let req = format!(
        "POST /v1 HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {key}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        emu.addr(),
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    s
}

/// Splits a raw response into (head, body).
fn split_head(raw: &[u8]) -> (String, Vec<u8>) {
    let pos = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head");
    (
        String::from_utf8_lossy(&raw[..pos]).to_string(),
        raw[pos + 4..].to_vec(),
    )
}

fn content_length(head: &str) -> usize {
    head.lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .expect("content-length")
}

#[tokio::test]
async fn http_status_faults_reject_before_processing() {
    for (status, code) in [
        (429, "rateLimitExceeded"),
        (500, "internalServerError"),
        (502, "serverUnavailable"),
        (503, "serviceUnavailable"),
        (504, "gatewayTimeout"),
    ] {
        let key = test_key();
        let emu = builder(&key)
            .fault(
                FaultRule::new(Fault::HttpStatus {
                    status,
                    retry_after: Some(2),
                })
                .first_requests(2),
            )
            .start()
            .await
            .unwrap();
        let id = tid();
        for _ in 0..2 {
            let a = post_task(&emu, &key, image_task(&id)).await;
            assert_eq!(a.status, status);
            assert_eq!(a.headers["retry-after"], "2");
            let e = only_error(&a);
            assert_eq!(e["code"], code);
            assert!(e["message"].is_string());
            assert_eq!(emu.executions(&id), 0, "nothing registered");
        }
        // The third request is not faulted, and the same taskUUID is accepted.
        let a = post_task(&emu, &key, image_task(&id)).await;
        assert_eq!(a.status, 200);
        assert_eq!(emu.executions(&id), 1);
        let log = emu.request_log();
        assert_eq!(
            log[0].fault.as_deref(),
            Some(format!("httpStatus:{status}").as_str())
        );
        assert_eq!(log[0].status, status);
        assert_eq!(log[2].fault, None);
        emu.stop().await;
    }
    // Without retryAfter there is no header.
    let key = test_key();
    let emu = builder(&key)
        .fault(FaultRule::new(Fault::HttpStatus {
            status: 503,
            retry_after: None,
        }))
        .start()
        .await
        .unwrap();
    let a = post_task(&emu, &key, json!({"taskType": "ping"})).await;
    assert_eq!(a.status, 503);
    assert!(a.headers.get("retry-after").is_none());
    emu.stop().await;
}

#[tokio::test]
async fn task_error_faults_sync_and_async() {
    for (code, status) in [
        ("timeoutProvider", 504),
        ("providerRateLimitExceeded", 429),
        ("inferenceError", 500),
    ] {
        let key = test_key();
        let emu = start(&key).await;
        emu.add_fault(FaultRule::new(Fault::TaskError { code: code.into() }).first_requests(2));
        // Sync: in errors, with the taskUUID; the task is not billed and may be retried.
        let id = tid();
        let a = post_task(&emu, &key, image_task(&id)).await;
        assert_eq!(a.status, status);
        let e = only_error(&a);
        assert_eq!(
            (e["code"].as_str(), e["taskUUID"].as_str()),
            (Some(code), Some(id.as_str()))
        );
        assert_eq!(e["taskType"], "imageInference");
        assert_eq!(emu.executions(&id), 0);
        // Async: acknowledged, then the error through getResponse with status "error".
        let id2 = tid();
        let a = post_task(
            &emu,
            &key,
            with(image_task(&id2), json!({"deliveryMethod": "async"})),
        )
        .await;
        assert_eq!(
            a.json(),
            json!({"data": [{"taskType": "imageInference", "taskUUID": id2}]})
        );
        let a = post_task(
            &emu,
            &key,
            json!({"taskType": "getResponse", "taskUUID": id2}),
        )
        .await;
        let e = only_error(&a);
        assert_eq!(
            (e["code"].as_str(), e["status"].as_str()),
            (Some(code), Some("error"))
        );
        assert_eq!(e["taskUUID"], id2.as_str());
        // The rule is spent: the retry succeeds.
        assert_eq!(post_task(&emu, &key, image_task(&id)).await.status, 200);
        emu.stop().await;
    }
}

#[tokio::test]
async fn faults_can_target_a_task_type() {
    let key = test_key();
    let emu = start(&key).await;
    emu.add_fault(
        FaultRule::new(Fault::TaskError {
            code: "inferenceError".into(),
        })
        .task_type("imageInference"),
    );
    let ms = post_task(
        &emu,
        &key,
        json!({"taskType": "modelSearch", "taskUUID": tid()}),
    )
    .await;
    assert_eq!(ms.status, 200);
    assert!(emu.request_log()[0].fault.is_none());
    // In a mixed batch only the targeted task type fails.
    let v = post(&emu, &key, &json!([image_task(&tid()), {"taskType": "promptEnhance", "taskUUID": tid(), "prompt": "a cat"}])).await.json();
    assert_eq!(v["errors"].as_array().unwrap().len(), 1);
    assert_eq!(v["errors"][0]["code"], "inferenceError");
    assert_eq!(v["data"][0]["taskType"], "promptEnhance");
    emu.clear_faults();
    assert_eq!(post_task(&emu, &key, image_task(&tid())).await.status, 200);
    emu.stop().await;
}

#[tokio::test]
async fn latency_faults_and_service_latency_delay_but_answer() {
    let key = test_key();
    let emu = builder(&key)
        .latency(Duration::from_millis(20))
        .fault(FaultRule::new(Fault::Latency { ms: 30 }).first_requests(1))
        .start()
        .await
        .unwrap();
    assert_eq!(post_task(&emu, &key, image_task(&tid())).await.status, 200);
    emu.set_latency(Duration::ZERO);
    assert_eq!(post_task(&emu, &key, image_task(&tid())).await.status, 200);
    let log = emu.request_log();
    assert_eq!(log[0].fault.as_deref(), Some("latency:30ms"));
    assert_eq!(log[1].fault, None);
    emu.stop().await;
}

#[tokio::test]
async fn reset_after_accept_drops_the_connection_but_the_task_ran() {
    let key = test_key();
    let emu = start(&key).await;
    emu.add_fault(FaultRule::new(Fault::ResetAfterAccept).first_requests(1));
    let id = tid();
    let err = request(
        &emu,
        "POST",
        "/v1",
        &[("authorization", &format!("Bearer {key}"))],
        json!([image_task(&id)]).to_string(),
    )
    .await
    .err()
    .expect("the connection is dropped without an answer");
    assert!(!err.is_empty());
    assert_eq!(
        emu.executions(&id),
        1,
        "the task was accepted and processed"
    );
    let log = emu.request_log();
    assert_eq!(
        (log[0].status, log[0].fault.as_deref()),
        (0, Some("resetAfterAccept"))
    );
    assert_eq!(log[0].executed, vec![id.clone()]);
    // A blind retry conflicts; getResponse has the result.
    assert_eq!(
        only_error(&post_task(&emu, &key, image_task(&id)).await)["code"],
        "conflictTaskUUID"
    );
    let v = post_task(
        &emu,
        &key,
        json!({"taskType": "getResponse", "taskUUID": id}),
    )
    .await
    .json();
    assert_eq!(v["data"][0]["status"], "success");
    emu.stop().await;
}

#[tokio::test]
async fn truncated_body_declares_the_full_length_and_closes() {
    let key = test_key();
    let emu = start(&key).await;
    emu.add_fault(FaultRule::new(Fault::TruncatedBody));
    let id = tid();
    let mut s = raw_post(&emu, &key, &json!([image_task(&id)]).to_string()).await;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut raw))
        .await
        .expect("closed")
        .expect("read");
    let (head, body) = split_head(&raw);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let declared = content_length(&head);
    assert!(
        !body.is_empty() && body.len() < declared,
        "got {} of {declared}",
        body.len()
    );
    assert_eq!(body.len(), declared / 2);
    assert_eq!(emu.executions(&id), 1);
    // A client sees an error.
    assert!(
        request(
            &emu,
            "POST",
            "/v1",
            &[("authorization", &format!("Bearer {key}"))],
            json!([image_task(&tid())]).to_string()
        )
        .await
        .is_err()
    );
    emu.stop().await;
}

#[tokio::test]
async fn stalled_body_never_finishes_and_stop_still_returns() {
    let key = test_key();
    let emu = start(&key).await;
    emu.add_fault(FaultRule::new(Fault::StalledBody));
    let mut s = raw_post(&emu, &key, &json!([image_task(&tid())]).to_string()).await;
    // Read until the head and part of the body arrived.
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .expect("data arrives")
            .unwrap();
        assert!(n > 0, "closed early");
        raw.extend_from_slice(&buf[..n]);
        if let Some(pos) = raw.windows(4).position(|w| w == b"\r\n\r\n")
            && raw.len() > pos + 4
        {
            break;
        }
    }
    let (head, body) = split_head(&raw);
    assert!(body.len() < content_length(&head));
    // Nothing more comes (the read is still pending after a grace period).
    assert!(
        tokio::time::timeout(Duration::from_millis(300), s.read(&mut buf))
            .await
            .is_err()
    );
    // stop() returns promptly with the stalled connection open, and the socket closes.
    tokio::time::timeout(Duration::from_secs(5), emu.stop())
        .await
        .expect("stop returns");
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("socket closed")
        .unwrap_or(0);
    assert_eq!(n, 0);
}

#[tokio::test]
async fn body_mangling_faults() {
    let key = test_key();
    let emu = start(&key).await;
    // Non-JSON body: 200 and HTML; the task ran.
    emu.add_fault(FaultRule::new(Fault::NonJsonBody).first_requests(1));
    let id = tid();
    let a = post_task(&emu, &key, image_task(&id)).await;
    assert_eq!(a.status, 200);
    assert!(serde_json::from_slice::<Value>(&a.bytes).is_err());
    assert_eq!(emu.executions(&id), 1);
    emu.clear_faults();
    // Wrong types: numbers and booleans as strings, strings as numbers.
    emu.add_fault(FaultRule::new(Fault::WrongTypes).first_requests(1));
    let v = post_task(&emu, &key, with(image_task(&tid()), json!({"seed": 5})))
        .await
        .json();
    assert_eq!(v["data"][0]["seed"], "5");
    assert_eq!(
        v["data"][0]["taskUUID"], 36,
        "a taskUUID no client can route"
    );
    emu.clear_faults();
    emu.add_fault(FaultRule::new(Fault::WrongTypes).first_requests(1));
    let v = post_task(&emu, &key, with(image_task(&tid()), json!({"width": 3})))
        .await
        .json();
    assert_eq!(v["data"], "oops");
    emu.clear_faults();
    // Oversized: exactly the requested size, still valid JSON.
    emu.add_fault(
        FaultRule::new(Fault::OversizedBody {
            bytes: 2 * 1024 * 1024,
        })
        .first_requests(1),
    );
    let a = post_task(&emu, &key, image_task(&tid())).await;
    assert_eq!(a.bytes.len(), 2 * 1024 * 1024);
    assert_eq!(a.json()["data"][0]["taskType"], "imageInference");
    emu.clear_faults();
    // Reverse order.
    emu.add_fault(FaultRule::new(Fault::ReverseOrder).first_requests(1));
    let v = post_task(
        &emu,
        &key,
        with(image_task(&tid()), json!({"seed": 10, "numberResults": 3})),
    )
    .await
    .json();
    let seeds: Vec<u64> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["seed"].as_u64().unwrap())
        .collect();
    assert_eq!(seeds, vec![12, 11, 10]);
    emu.clear_faults();
    // An error without taskUUID next to the data.
    emu.add_fault(FaultRule::new(Fault::ErrorWithoutTaskUuid).first_requests(1));
    let a = post_task(&emu, &key, image_task(&tid())).await;
    assert_eq!(a.status, 200);
    let v = a.json();
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    let e = &v["errors"][0];
    assert!(e["code"].is_string() && e.get("taskUUID").is_none());
    let names: Vec<Option<String>> = emu.request_log().into_iter().map(|r| r.fault).collect();
    assert_eq!(
        names,
        vec![
            Some("nonJsonBody".into()),
            Some("wrongTypes".into()),
            Some("wrongTypes".into()),
            Some(format!("oversizedBody:{}", 2 * 1024 * 1024)),
            Some("reverseOrder".into()),
            Some("errorWithoutTaskUuid".into())
        ]
    );
    emu.stop().await;
}

/// The outcome of one request for the soak comparison.
async fn outcome(emu: &runware_emulator::EmulatorHandle, key: &str) -> String {
    match request(
        emu,
        "POST",
        "/v1",
        &[("authorization", &format!("Bearer {key}"))],
        json!([image_task(&tid())]).to_string(),
    )
    .await
    {
        Ok(a) => format!(
            "{} {}",
            a.status,
            a.json()
                .get("errors")
                .map(|e| e[0]["code"].to_string())
                .unwrap_or_default()
        ),
        Err(_) => "dropped".into(),
    }
}

#[tokio::test]
async fn seeded_random_transient_faults_are_deterministic() {
    let run = || async {
        let key = test_key();
        let emu = builder(&key)
            .fault(FaultRule::new(Fault::RandomTransient).rate(0.5, 1234))
            .start()
            .await
            .unwrap();
        let mut outcomes = Vec::new();
        for _ in 0..24 {
            outcomes.push(outcome(&emu, &key).await);
        }
        let faults: Vec<Option<String>> = emu.request_log().into_iter().map(|r| r.fault).collect();
        emu.stop().await;
        (outcomes, faults)
    };
    let (a, fa) = run().await;
    let (b, fb) = run().await;
    assert_eq!(fa, fb);
    assert_eq!(a, b);
    let hit = fa.iter().flatten().count();
    assert!(hit > 3 && hit < 21, "{hit} of 24 at rate 0.5");
    assert!(
        fa.iter()
            .flatten()
            .all(|n| n.starts_with("randomTransient/"))
    );
    assert!(a.iter().any(|o| o.starts_with("200")));
}

#[test]
fn fault_rules_have_a_stable_json_form() {
    let rule = FaultRule::new(Fault::HttpStatus {
        status: 503,
        retry_after: Some(1),
    })
    .first_requests(2);
    let text = serde_json::to_string(&rule).unwrap();
    assert_eq!(
        text,
        r#"{"fault":{"kind":"httpStatus","status":503,"retryAfter":1},"firstRequests":2}"#
    );
    assert_eq!(FaultRule::from_json(&text).unwrap(), rule);
    let all = [
        (
            r#"{"kind":"taskError","code":"timeoutProvider"}"#,
            Fault::TaskError {
                code: "timeoutProvider".into(),
            },
        ),
        (r#"{"kind":"latency","ms":250}"#, Fault::Latency { ms: 250 }),
        (r#"{"kind":"resetAfterAccept"}"#, Fault::ResetAfterAccept),
        (r#"{"kind":"stalledBody"}"#, Fault::StalledBody),
        (r#"{"kind":"truncatedBody"}"#, Fault::TruncatedBody),
        (r#"{"kind":"nonJsonBody"}"#, Fault::NonJsonBody),
        (r#"{"kind":"wrongTypes"}"#, Fault::WrongTypes),
        (
            r#"{"kind":"oversizedBody","bytes":100}"#,
            Fault::OversizedBody { bytes: 100 },
        ),
        (r#"{"kind":"reverseOrder"}"#, Fault::ReverseOrder),
        (
            r#"{"kind":"errorWithoutTaskUuid"}"#,
            Fault::ErrorWithoutTaskUuid,
        ),
        (r#"{"kind":"randomTransient"}"#, Fault::RandomTransient),
    ];
    for (json, fault) in all {
        assert_eq!(serde_json::to_string(&fault).unwrap(), json);
        assert_eq!(FaultRule::from_json(json).unwrap(), FaultRule::new(fault));
    }
    let r = FaultRule::from_json(
        r#"{"fault":{"kind":"randomTransient"},"taskType":"imageInference","rate":0.1,"seed":9}"#,
    )
    .unwrap();
    assert_eq!(
        r,
        FaultRule::new(Fault::RandomTransient)
            .task_type("imageInference")
            .rate(0.1, 9)
    );
    assert!(FaultRule::from_json(r#"{"kind":"meteorStrike"}"#).is_err());
}
