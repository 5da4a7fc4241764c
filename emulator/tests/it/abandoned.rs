//! A request whose client hangs up while the emulator is still answering (a client-side
//! timeout during the service latency) is still in the request log, with what it executed.

use std::time::{Duration, Instant};

use crate::common::*;
use tokio::io::AsyncWriteExt;

/// Waits for `ready` to hold, checking every few ms, for at most 10 s.
async fn wait_for(what: &str, ready: impl Fn() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_request_abandoned_during_the_latency_is_logged_with_its_execution() {
    let key = test_key();
    let emu = builder(&key)
        .latency(Duration::from_secs(30))
        .start()
        .await
        .expect("emulator starts");
    let uuid = tid();
    let body = serde_json::json!([image_task(&uuid)]).to_string();
    let mut socket = tokio::net::TcpStream::connect(emu.addr()).await.unwrap();
    let request = format!(
        "POST /v1 HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {key}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        emu.addr(),
        body.len()
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    // The task executes, then the answer waits out the latency; the client gives up.
    wait_for("the task to execute", || emu.executions(&uuid) == 1).await;
    drop(socket);
    wait_for("the abandoned request to be logged", || {
        !emu.request_log().is_empty()
    })
    .await;
    let log = emu.request_log();
    assert_eq!(log.len(), 1, "{log:?}");
    let entry = &log[0];
    assert_eq!(entry.method, "POST");
    assert_eq!(entry.status, 0, "no answer was sent: {entry:?}");
    assert_eq!(entry.task_uuids, vec![uuid.clone()]);
    assert_eq!(entry.executed, vec![uuid.clone()], "it was billed");
    assert!(entry.key_valid);
    emu.stop().await;
}
