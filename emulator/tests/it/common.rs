//! Helpers shared by the emulator's integration tests: a tiny HTTP client (one connection per
//! request) and emulator start-up.
#![allow(dead_code)]

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use runware_emulator::{Emulator, EmulatorBuilder, EmulatorHandle, ImageMode};
use serde_json::{Value, json};

/// An obviously fake key generated per test.
pub fn test_key() -> String {
    format!("test-{}", uuid::Uuid::new_v4().simple())
}

/// A fresh taskUUID.
pub fn tid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A builder with one key and placeholder images.
pub fn builder(key: &str) -> EmulatorBuilder {
    Emulator::builder()
        .api_key(key)
        .image_mode(ImageMode::Placeholder)
}

/// Starts an emulator with one key and placeholder images.
pub async fn start(key: &str) -> EmulatorHandle {
    builder(key).start().await.expect("emulator starts")
}

/// An HTTP answer.
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub bytes: Bytes,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.bytes)))
    }
}

/// Sends one request on a new connection.
pub async fn request(
    emu: &EmulatorHandle,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Result<Answer, String> {
    let stream = tokio::net::TcpStream::connect(emu.addr())
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", emu.addr().to_string())
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(Full::new(body.into()))
        .map_err(|e| e.to_string())?;
    let resp = tokio::time::timeout(Duration::from_secs(20), sender.send_request(req))
        .await
        .map_err(|_| "timed out waiting for the response head".to_string())?
        .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = tokio::time::timeout(Duration::from_secs(20), resp.into_body().collect())
        .await
        .map_err(|_| "timed out reading the body".to_string())?
        .map_err(|e| format!("body error: {e}"))?
        .to_bytes();
    Ok(Answer {
        status,
        headers,
        bytes,
    })
}

/// `POST /v1` with a Bearer key.
pub async fn post(emu: &EmulatorHandle, key: &str, body: &Value) -> Answer {
    let auth = format!("Bearer {key}");
    request(
        emu,
        "POST",
        "/v1",
        &[("authorization", &auth)],
        body.to_string(),
    )
    .await
    .expect("request succeeds")
}

/// `POST /v1` with one task.
pub async fn post_task(emu: &EmulatorHandle, key: &str, task: Value) -> Answer {
    post(emu, key, &json!([task])).await
}

/// A valid imageInference task.
pub fn image_task(uuid: &str) -> Value {
    json!({
        "taskType": "imageInference",
        "taskUUID": uuid,
        "positivePrompt": "a lighthouse on a cliff at dusk",
        "model": "runware:101@1",
        "width": 512,
        "height": 512,
    })
}

/// Merges `extra` into `task`.
pub fn with(mut task: Value, extra: Value) -> Value {
    if let (Some(t), Value::Object(e)) = (task.as_object_mut(), extra) {
        for (k, v) in e {
            if v.is_null() {
                t.remove(&k);
            } else {
                t.insert(k, v);
            }
        }
    }
    task
}

/// A small valid PNG.
pub fn png_bytes(w: u32, h: u32) -> Vec<u8> {
    let img =
        image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 7) as u8, (y * 5) as u8, 128]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("png encodes");
    out.into_inner()
}

/// The single error of an answer.
pub fn only_error(a: &Answer) -> Value {
    let v = a.json();
    let errors = v["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {v}"));
    assert_eq!(errors.len(), 1, "{v}");
    errors[0].clone()
}
