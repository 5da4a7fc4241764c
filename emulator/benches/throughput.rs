//! The emulator's own throughput (not a test): requests per second for `modelSearch`, for a
//! rendered 512×512 image, and for a 512×512 image in `--image-mode placeholder` (the mode for
//! client benchmarks, where the emulator must never be the bottleneck).
//!
//! Run: `cargo bench -p runware-emulator --bench throughput` (env `BENCH_SECS`, default 3, and
//! `BENCH_CLIENTS`, default 4).

use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use runware_emulator::{Emulator, EmulatorHandle, ImageMode};
use serde_json::{Value, json};

const KEY: &str = "bench-key-not-a-secret";

/// Runs `clients` keep-alive connections for `secs`, each sending `make_task()` in a loop.
async fn measure(
    emu: &EmulatorHandle,
    clients: usize,
    secs: u64,
    make_task: fn() -> Value,
) -> (u64, f64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let addr = emu.addr();
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..clients {
        workers.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .expect("handshake");
            tokio::spawn(conn);
            let mut done = 0u64;
            while Instant::now() < deadline {
                let body = json!([make_task()]).to_string();
                let req = http::Request::post("/v1")
                    .header("host", addr.to_string())
                    .header("authorization", format!("Bearer {KEY}"))
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(body)))
                    .expect("request");
                let resp = sender.send_request(req).await.expect("response");
                assert_eq!(resp.status(), 200);
                let _ = resp.into_body().collect().await.expect("body");
                done += 1;
            }
            done
        }));
    }
    let mut total = 0;
    for w in workers {
        total += w.await.expect("worker");
    }
    (total, total as f64 / start.elapsed().as_secs_f64())
}

fn model_search() -> Value {
    json!({"taskType": "modelSearch", "taskUUID": uuid::Uuid::new_v4().to_string(), "search": "flux", "limit": 20})
}

fn image_512() -> Value {
    json!({
        "taskType": "imageInference", "taskUUID": uuid::Uuid::new_v4().to_string(),
        "positivePrompt": "a lighthouse on a cliff at dusk", "model": "runware:101@1",
        "width": 512, "height": 512, "outputFormat": "JPG",
    })
}

fn main() {
    let secs: u64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let clients: usize = std::env::var("BENCH_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let render = Emulator::builder()
            .api_key(KEY)
            .start()
            .await
            .expect("start");
        let placeholder = Emulator::builder()
            .api_key(KEY)
            .image_mode(ImageMode::Placeholder)
            .start()
            .await
            .expect("start");
        println!(
            "runware-emulator throughput ({clients} keep-alive clients, {secs} s each, {} cores)",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        );
        for (name, emu, task) in [
            ("modelSearch", &placeholder, model_search as fn() -> Value),
            ("imageInference 512x512 JPG, rendered", &render, image_512),
            (
                "imageInference 512x512, --image-mode placeholder",
                &placeholder,
                image_512,
            ),
        ] {
            let (n, rate) = measure(emu, clients, secs, task).await;
            println!("  {name:<50} {rate:>10.1} req/s  ({n} requests)");
        }
        render.stop().await;
        placeholder.stop().await;
    });
}
