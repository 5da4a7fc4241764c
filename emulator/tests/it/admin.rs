//! The admin endpoints under `/__emulator/`, the command-line options and the binary.

use std::time::Duration;

use crate::common::*;
use clap::Parser;
use runware_emulator::{Fault, FaultRule, ImageMode, ServeArgs};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;

async fn admin(
    emu: &runware_emulator::EmulatorHandle,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, Value) {
    let a = request(
        emu,
        method,
        &format!("/__emulator/{path}"),
        &[],
        body.to_string(),
    )
    .await
    .unwrap();
    (a.status, a.json())
}

#[tokio::test]
async fn admin_endpoints() {
    let key = test_key();
    let emu = start(&key).await;
    assert_eq!(
        admin(&emu, "GET", "health", "").await,
        (200, json!({"status": "ok"}))
    );
    // Faults: add one rule, a bare fault and a list; read them back; they apply; clear them.
    let (s, v) = admin(
        &emu,
        "POST",
        "faults",
        r#"{"fault":{"kind":"httpStatus","status":503,"retryAfter":1},"firstRequests":1}"#,
    )
    .await;
    assert_eq!((s, v), (201, json!({"faults": 1})));
    let (_, v) = admin(&emu, "POST", "faults", r#"{"kind":"reverseOrder"}"#).await;
    assert_eq!(v, json!({"faults": 2}));
    let (_, v) = admin(&emu, "POST", "faults", r#"[{"fault":{"kind":"latency","ms":1}},{"fault":{"kind":"nonJsonBody"},"taskType":"caption"}]"#).await;
    assert_eq!(v, json!({"faults": 4}));
    let (s, v) = admin(&emu, "POST", "faults", r#"{"kind":"meteorStrike"}"#).await;
    assert_eq!(s, 400);
    assert_eq!(v["errors"][0]["code"], "invalidRequestBody");
    let (_, v) = admin(&emu, "GET", "faults", "").await;
    assert_eq!(
        v[0],
        json!({"fault":{"kind":"httpStatus","status":503,"retryAfter":1},"firstRequests":1})
    );
    assert_eq!(v.as_array().unwrap().len(), 4);
    let id = tid();
    let a = post_task(&emu, &key, image_task(&id)).await;
    assert_eq!(
        (a.status, &a.headers["retry-after"]),
        (503, &"1".parse::<http::HeaderValue>().unwrap())
    );
    assert_eq!(
        admin(&emu, "DELETE", "faults", "").await,
        (200, json!({"faults": 0}))
    );
    assert_eq!(admin(&emu, "GET", "faults", "").await.1, json!([]));
    // Latency and async delay.
    assert_eq!(
        admin(&emu, "PUT", "latency", r#"{"ms":5}"#).await,
        (200, json!({"latencyMs": 5}))
    );
    assert_eq!(admin(&emu, "PUT", "latency", r#"{"ms":0}"#).await.0, 200);
    assert_eq!(
        admin(&emu, "PUT", "latency", r#"{"seconds":1}"#).await.0,
        400
    );
    assert_eq!(
        admin(&emu, "PUT", "async-delay", r#"{"ms":0}"#).await,
        (200, json!({"asyncDelayMs": 0}))
    );
    // Log and stats.
    assert_eq!(post_task(&emu, &key, image_task(&id)).await.status, 200);
    let (_, log) = admin(&emu, "GET", "log", "").await;
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0]["status"], 503);
    assert_eq!(log[0]["fault"], "httpStatus:503");
    assert_eq!(
        log[0]["keyValid"], true,
        "the key is checked for the log even when faulted"
    );
    assert_eq!(log[1]["method"], "POST");
    assert_eq!(log[1]["path"], "/v1");
    assert_eq!(log[1]["auth"], "bearer");
    assert_eq!(log[1]["keyValid"], true);
    assert_eq!(log[1]["taskUuids"], json!([id]));
    assert_eq!(log[1]["executed"], json!([id]));
    assert!(!serde_json::to_string(&log).unwrap().contains(&key));
    let (_, stats) = admin(&emu, "GET", "stats", "").await;
    assert_eq!(stats["executions"][&id], 1);
    assert_eq!(stats["tasks"], 1);
    assert_eq!(stats["restRequests"], 2);
    // Reset forgets tasks, images, log and faults; the key stays valid.
    emu.add_fault(FaultRule::new(Fault::ReverseOrder));
    assert_eq!(
        admin(&emu, "POST", "reset", "").await,
        (200, json!({"reset": true}))
    );
    assert_eq!(emu.executions(&id), 0);
    assert!(emu.request_log().is_empty());
    assert_eq!(admin(&emu, "GET", "faults", "").await.1, json!([]));
    assert_eq!(
        post_task(&emu, &key, image_task(&id)).await.status,
        200,
        "the taskUUID is free again"
    );
    assert_eq!(admin(&emu, "GET", "nothing-here", "").await.0, 404);
    // The library's reset does the same.
    emu.reset();
    assert!(emu.request_log().is_empty());
    emu.stop().await;
}

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

#[test]
fn serve_args_parse() {
    let cli = Cli::try_parse_from(["x"]).unwrap().serve;
    assert_eq!(cli.port, 8080);
    assert_eq!(cli.host.to_string(), "127.0.0.1");
    assert_eq!(cli.image_mode, ImageMode::Render);
    assert_eq!((cli.async_delay_ms, cli.latency_ms), (0, 0));
    assert!(cli.faults.is_empty());
    let cli = Cli::try_parse_from([
        "x",
        "--port",
        "9000",
        "--host",
        "0.0.0.0",
        "--api-key",
        "a",
        "--api-key",
        "b",
        "--image-mode",
        "placeholder",
        "--async-delay-ms",
        "1500",
        "--latency-ms",
        "20",
        "--fault",
        r#"{"fault":{"kind":"httpStatus","status":503},"firstRequests":2}"#,
        "--fault",
        r#"{"kind":"reverseOrder"}"#,
    ])
    .unwrap()
    .serve;
    assert_eq!(cli.port, 9000);
    assert_eq!(cli.api_keys, vec!["a", "b"]);
    assert_eq!(cli.image_mode, ImageMode::Placeholder);
    assert_eq!((cli.async_delay_ms, cli.latency_ms), (1500, 20));
    assert_eq!(
        cli.faults[0],
        FaultRule::new(Fault::HttpStatus {
            status: 503,
            retry_after: None
        })
        .first_requests(2)
    );
    assert_eq!(cli.faults[1], FaultRule::new(Fault::ReverseOrder));
    assert!(Cli::try_parse_from(["x", "--fault", "{"]).is_err());
    assert!(Cli::try_parse_from(["x", "--image-mode", "ascii"]).is_err());
}

#[tokio::test]
async fn the_binary_serves_with_keys_from_the_environment_and_fault_flags() {
    let k1 = test_key();
    let k2 = test_key();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_runware-emulator"))
        .args([
            "--port",
            "0",
            "--image-mode",
            "placeholder",
            "--fault",
            r#"{"fault":{"kind":"httpStatus","status":503},"firstRequests":1}"#,
        ])
        .env("RUNWARE_EMULATOR_KEYS", format!("{k1},{k2}"))
        .env("RUST_LOG", "warn")
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let url = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(url) = line
                .split_whitespace()
                .find(|w| w.starts_with("http://") && w.ends_with("/v1"))
            {
                return url.to_string();
            }
        }
        panic!("no URL printed")
    })
    .await
    .expect("the URL is printed");
    let addr: std::net::SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches("/v1")
        .parse()
        .unwrap();
    let raw = |key: String| async move {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(conn);
        let req = http::Request::post("/v1")
            .header("host", addr.to_string())
            .header("authorization", format!("Bearer {key}"))
            .body(http_body_util::Full::new(hyper::body::Bytes::from(
                r#"[{"taskType":"ping"}]"#,
            )))
            .unwrap();
        sender.send_request(req).await.unwrap().status().as_u16()
    };
    assert_eq!(
        raw(k2.clone()).await,
        503,
        "the --fault flag applies to the first request"
    );
    assert_eq!(
        raw(k2).await,
        200,
        "a key from RUNWARE_EMULATOR_KEYS is accepted"
    );
    assert_eq!(raw(k1).await, 200);
    assert_eq!(
        raw(test_key()).await,
        401,
        "with keys configured, others are rejected"
    );
    child.kill().await.ok();
}
