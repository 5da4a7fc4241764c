//! A loopback HTTP listener for the delivery tests: it records every request it gets (webhook
//! POSTs, upload PUTs) on a channel and answers from a list of statuses (then 200), and a helper
//! that waits for a condition on the emulator's request log.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use runware_emulator::{EmulatorHandle, LoggedRequest};
use tokio::sync::mpsc;

/// One request the listener got.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// Path and query.
    pub path: String,
    pub content_type: Option<String>,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// A running listener.
pub struct Listener {
    pub addr: SocketAddr,
    rx: mpsc::UnboundedReceiver<Received>,
}

#[derive(Clone)]
struct Ctx {
    tx: mpsc::UnboundedSender<Received>,
    statuses: Arc<Mutex<std::collections::VecDeque<u16>>>,
}

async fn record(State(ctx): State<Ctx>, req: Request) -> StatusCode {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 64 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let _ = ctx.tx.send(Received {
        method: parts.method.to_string(),
        path: parts
            .uri
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        content_type: parts
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body,
    });
    let status = ctx.statuses.lock().unwrap().pop_front().unwrap_or(200);
    StatusCode::from_u16(status).unwrap()
}

impl Listener {
    /// Starts a listener on 127.0.0.1 that answers `statuses` in order, then 200.
    pub async fn start(statuses: &[u16]) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let ctx = Ctx {
            tx,
            statuses: Arc::new(Mutex::new(statuses.iter().copied().collect())),
        };
        let app = axum::Router::new().fallback(record).with_state(ctx);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, rx }
    }

    /// `http://127.0.0.1:PORT<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The next request, waiting at most 10 s.
    pub async fn next(&mut self) -> Received {
        tokio::time::timeout(Duration::from_secs(10), self.rx.recv())
            .await
            .expect("a delivery within 10 s")
            .expect("the listener runs")
    }

    /// A request already received, if any (no waiting).
    pub fn try_next(&mut self) -> Option<Received> {
        self.rx.try_recv().ok()
    }
}

/// The delivery entries (webhooks and uploads) of the request log.
pub fn deliveries(emu: &EmulatorHandle) -> Vec<LoggedRequest> {
    emu.request_log()
        .into_iter()
        .filter(|r| r.delivery.is_some())
        .collect()
}

/// Waits (at most 10 s, checking every 10 ms) until `cond` holds for the delivery log entries,
/// and returns them.
pub async fn wait_deliveries(
    emu: &EmulatorHandle,
    cond: impl Fn(&[LoggedRequest]) -> bool,
) -> Vec<LoggedRequest> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let d = deliveries(emu);
        if cond(&d) {
            return d;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the delivery log never met the condition: {d:#?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
