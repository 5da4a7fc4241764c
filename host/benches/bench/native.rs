//! The native baseline: a hyper 1 client over one HTTP/1.1 connection sending the component's
//! own task JSON, so the difference to the component rows is the component and not the request.

use std::net::SocketAddr;

use anyhow::{Context as _, bail};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// The native client: hyper 1 over one keep-alive HTTP/1.1 connection.
pub struct Native {
    pub addr: SocketAddr,
    pub key: String,
    auth: String,
    sender: SendRequest<Full<Bytes>>,
}

impl Native {
    pub async fn connect(addr: SocketAddr, key: &str) -> anyhow::Result<Native> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        // As the host's connection pool does for the component: small requests must not wait
        // for Nagle.
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        Ok(Native {
            addr,
            key: key.to_string(),
            auth: format!("Bearer {key}"),
            sender,
        })
    }

    /// POSTs `tasks` (a JSON array) to `/v1` and returns how many tasks came back with data.
    pub async fn post(&mut self, tasks: &Value) -> anyhow::Result<usize> {
        let body = serde_json::to_vec(tasks)?;
        let req = http::Request::post("/v1")
            .header(http::header::HOST, self.addr.to_string())
            .header(http::header::AUTHORIZATION, &self.auth)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::ACCEPT, "application/json")
            .body(Full::new(Bytes::from(body)))?;
        self.sender.ready().await?;
        let resp = self.sender.send_request(req).await?;
        let status = resp.status();
        let bytes = resp.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            bail!("native: HTTP {status}: {}", String::from_utf8_lossy(&bytes));
        }
        // Parsed and checked, so the floor does the work a real client must do too.
        let answer: Value = serde_json::from_slice(&bytes)?;
        let data = answer
            .get("data")
            .and_then(Value::as_array)
            .context("native: no data")?;
        let with_url = data
            .iter()
            .filter(|d| d.get("imageURL").and_then(Value::as_str).is_some())
            .count();
        if with_url == 0 {
            bail!("native: no imageURL in {answer}");
        }
        Ok(with_url)
    }
}

/// `template` (the component's own JSON for the request) with fresh taskUUIDs, `count` times.
/// A new UUID per task, as the component gives every task, so both sides send the same.
pub fn tasks_with_fresh_uuids(template: &Value, count: usize) -> Value {
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let mut task = template.clone();
        // `get`/`insert` rather than indexing, which panics on a non-object (the workspace's
        // lint policy forbids code that can panic by indexing).
        if let Some(fields) = task.as_object_mut() {
            fields.insert(
                "taskUUID".to_string(),
                Value::String(uuid::Uuid::new_v4().to_string()),
            );
        }
        out.push(task);
    }
    Value::Array(out)
}
