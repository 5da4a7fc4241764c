//! `emulator-bench`: the emulator's own throughput on this machine (a benchmark, not a test).
//!
//! Starts the emulator in-process on `127.0.0.1:0` and drives it with K keep-alive HTTP/1.1
//! connections (hyper) until N requests per scenario are done:
//!
//! * `modelSearch` (`search:"flux"`, `limit:20`);
//! * `imageInference` 512×512 JPG with rendered images (`--image-mode render`, the default);
//! * `imageInference` 512×512 JPG with `--image-mode placeholder` (what client benchmarks use);
//!
//! then times [`render`](runware_emulator::render::render) alone for 512×512 in each format.
//! Prints a table and one JSON line (prefixed `BENCH_JSON `).
//!
//! ```text
//! cargo run --release -p runware-emulator --bin emulator-bench -- --requests 2000 --concurrency 4
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Parser;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use runware_emulator::render::{self, Format};
use runware_emulator::{Emulator, EmulatorHandle, ImageMode};
use serde_json::{Value, json};

/// Measures the emulator's own throughput and latency.
#[derive(Debug, Parser)]
#[command(name = "emulator-bench")]
struct Args {
    /// Requests per scenario for modelSearch and placeholder images.
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Requests for the rendered-image scenario (rendering costs more).
    #[arg(long, default_value_t = 200)]
    render_requests: usize,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Iterations of `render()` per format.
    #[arg(long, default_value_t = 30)]
    render_iterations: usize,
}

/// Latency statistics of one scenario.
struct Stats {
    name: String,
    requests: usize,
    per_second: f64,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

impl Stats {
    fn from(name: &str, mut samples: Vec<Duration>, wall: Duration) -> Stats {
        samples.sort();
        // The nearest-rank percentile, in integers: the ceil(n·pct/100)-th smallest sample.
        let pick = |pct: usize| {
            samples
                .get((samples.len() * pct).div_ceil(100).saturating_sub(1))
                .copied()
                .unwrap_or_default()
        };
        Stats {
            name: name.to_string(),
            requests: samples.len(),
            per_second: samples.len() as f64 / wall.as_secs_f64().max(1e-9),
            p50: pick(50),
            p99: pick(99),
            max: samples.last().copied().unwrap_or_default(),
        }
    }

    fn json(&self) -> Value {
        json!({
            "name": self.name,
            "requests": self.requests,
            "perSecond": round(self.per_second),
            "p50Ms": ms(self.p50),
            "p99Ms": ms(self.p99),
            "maxMs": ms(self.max),
        })
    }
}

fn ms(d: Duration) -> f64 {
    round(d.as_secs_f64() * 1000.0)
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The body of one request: a JSON array with one fresh task.
type MakeTask = fn() -> Value;

fn model_search() -> Value {
    json!({
        "taskType": "modelSearch",
        "taskUUID": uuid::Uuid::new_v4().to_string(),
        "search": "flux",
        "limit": 20,
    })
}

fn image_512() -> Value {
    json!({
        "taskType": "imageInference",
        "taskUUID": uuid::Uuid::new_v4().to_string(),
        "model": "runware:101@1",
        "positivePrompt": "a lighthouse on a cliff at dusk",
        "width": 512,
        "height": 512,
        "outputFormat": "JPG",
        "deliveryMethod": "sync",
    })
}

/// Sends `total` requests over `concurrency` keep-alive connections; returns per-request latencies
/// and the wall time.
async fn drive(
    emu: &EmulatorHandle,
    key: &str,
    concurrency: usize,
    total: usize,
    make_task: MakeTask,
) -> anyhow::Result<(Vec<Duration>, Duration)> {
    let next = Arc::new(AtomicUsize::new(0));
    let addr = emu.addr();
    let auth = format!("Bearer {key}");
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let next = next.clone();
        let auth = auth.clone();
        workers.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(conn);
            let mut latencies = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let body = json!([make_task()]).to_string();
                let req = http::Request::post("/v1")
                    .header(http::header::HOST, addr.to_string())
                    .header(http::header::AUTHORIZATION, &auth)
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(Full::new(Bytes::from(body)))?;
                let sent = Instant::now();
                sender.ready().await?;
                let resp = sender.send_request(req).await?;
                let status = resp.status();
                let bytes = resp.into_body().collect().await?.to_bytes();
                latencies.push(sent.elapsed());
                if status != 200 {
                    bail!("HTTP {status}: {}", String::from_utf8_lossy(&bytes));
                }
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut all = Vec::with_capacity(total);
    for w in workers {
        all.extend(w.await.context("worker panicked")??);
    }
    Ok((all, start.elapsed()))
}

async fn scenario(
    name: &str,
    emu: &EmulatorHandle,
    key: &str,
    args: &Args,
    total: usize,
    make_task: MakeTask,
) -> anyhow::Result<Stats> {
    // Warm up: connections, the catalog, allocator pools.
    drive(emu, key, args.concurrency, args.concurrency * 2, make_task).await?;
    let (samples, wall) = drive(emu, key, args.concurrency, total, make_task).await?;
    Ok(Stats::from(name, samples, wall))
}

fn render_timings(iterations: usize) -> Vec<Stats> {
    [Format::Png, Format::Jpg, Format::Webp]
        .into_iter()
        .map(|format| {
            let start = Instant::now();
            let samples: Vec<Duration> = (0..iterations.max(1))
                .map(|i| {
                    let t = Instant::now();
                    let bytes =
                        render::render("benchmark landscape", i as u64, 512, 512, format, 95);
                    std::hint::black_box(bytes);
                    t.elapsed()
                })
                .collect();
            Stats::from(
                &format!("render() 512x512 {}", format.extension().to_uppercase()),
                samples,
                start.elapsed(),
            )
        })
        .collect()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let key = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let rendered = Emulator::builder()
        .api_key(&key)
        .image_mode(ImageMode::Render)
        .start()
        .await?;
    let placeholder = Emulator::builder()
        .api_key(&key)
        .image_mode(ImageMode::Placeholder)
        .start()
        .await?;

    let mut results = vec![
        scenario(
            "modelSearch",
            &placeholder,
            &key,
            &args,
            args.requests,
            model_search,
        )
        .await?,
        scenario(
            "imageInference 512x512 JPG (render)",
            &rendered,
            &key,
            &args,
            args.render_requests,
            image_512,
        )
        .await?,
        scenario(
            "imageInference 512x512 JPG (placeholder)",
            &placeholder,
            &key,
            &args,
            args.requests,
            image_512,
        )
        .await?,
    ];
    rendered.stop().await;
    placeholder.stop().await;
    let renders = tokio::task::spawn_blocking(move || render_timings(args.render_iterations))
        .await
        .context("render timing")?;

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "runware-emulator benchmark: {} keep-alive connections, {cores} cores, {} build",
        args.concurrency,
        if cfg!(debug_assertions) {
            "DEBUG (use --release)"
        } else {
            "release"
        }
    );
    println!(
        "{:<44} {:>8} {:>11} {:>9} {:>9} {:>9}",
        "scenario", "requests", "req/s", "p50 ms", "p99 ms", "max ms"
    );
    for s in results.iter().chain(renders.iter()) {
        println!(
            "{:<44} {:>8} {:>11.1} {:>9.3} {:>9.3} {:>9.3}",
            s.name,
            s.requests,
            s.per_second,
            ms(s.p50),
            ms(s.p99),
            ms(s.max)
        );
    }
    results.extend(renders);
    let line = json!({
        "bench": "runware-emulator",
        "concurrency": args.concurrency,
        "cores": cores,
        "release": !cfg!(debug_assertions),
        "results": results.iter().map(Stats::json).collect::<Vec<_>>(),
    });
    println!("BENCH_JSON {line}");
    Ok(())
}
