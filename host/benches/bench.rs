//! The component against a native client, on loopback against the emulator (a benchmark, not a
//! test): `cargo bench -p runware-host --bench bench`.
//!
//! One run measures and prints a table and one JSON line (prefixed `BENCH_JSON `):
//!
//! * latency of the same `imageInference` request (sync, 512×512 JPG; the emulator in
//!   placeholder mode, so nothing is rendered), called one at a time:
//!   (a) a native Rust client (hyper 1, one keep-alive connection, the same JSON: the floor),
//!   (a′) the same native client opening a new connection per request (what wasi:http does),
//!   (b) the component pre-instantiated: an opened instance reused from call to call
//!   (`max_idle_instances`), pooling allocator, (b′) the component on a fresh instance per call
//!   (the default), pooling allocator, (c) the same with on-demand allocation; every component
//!   row sends on the client's keep-alive connections,
//!   (d) Runware's official Python SDK over REST when `target/sdk-venv` exists;
//! * where a component call's time goes: instantiation alone, instantiation plus `open`, the
//!   whole call without the network (`prepare-text-to-image`);
//! * the `runware` CLI's cold run (`model-search` against the emulator) with an empty and with a
//!   warm compiled-code cache; the component's size; the peak linear memory of one instance;
//! * throughput: `RUNWARE_BENCH_TASKS` tasks through K concurrent instances, one task per call
//!   and `RUNWARE_BENCH_BATCH` tasks per `run_tasks` call, against the native client doing the
//!   same over K keep-alive connections; with the CPU time per task (this process: clients and
//!   emulator together).
//!
//! Knobs (environment): `RUNWARE_BENCH_N` (latency calls per client, 2000),
//! `RUNWARE_BENCH_WARMUP` (200), `RUNWARE_BENCH_SDK_N` (300), `RUNWARE_BENCH_INSTANTIATIONS`
//! (5000), `RUNWARE_BENCH_CLI_RUNS` (10), `RUNWARE_BENCH_TASKS` (10000), `RUNWARE_BENCH_K` (4),
//! `RUNWARE_BENCH_BATCH` (20), `RUNWARE_BENCH_CLIENT_THREADS` (the clients' tokio workers, 2;
//! 0 = a current-thread runtime), `RUNWARE_BENCH_CLI` (the `runware` binary to time; by default
//! the bench builds `runware-cli` in release first). `RUNWARE_BENCH_QUICK=1` divides the counts
//! by ten.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use runware_emulator::{Emulator, ImageMode};
use runware_host::{
    ApiKey, Client, ClientConfig, ImageRequest, OutputFormat, Runtime, RuntimeConfig, TaskStatus,
};
use serde_json::{Value, json};

/// The benchmark's settings, from the environment.
#[derive(Debug, Clone)]
struct Settings {
    n: usize,
    warmup: usize,
    sdk_n: usize,
    instantiations: usize,
    cli_runs: usize,
    tasks: usize,
    k: usize,
    batch: usize,
}

impl Settings {
    fn from_env() -> Settings {
        let quick = std::env::var("RUNWARE_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
        let get = |name: &str, default: usize| {
            let default = if quick {
                (default / 10).max(1)
            } else {
                default
            };
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse::<usize>().ok())
                .filter(|&v| v > 0)
                .unwrap_or(default)
        };
        Settings {
            n: get("RUNWARE_BENCH_N", 2000),
            warmup: get("RUNWARE_BENCH_WARMUP", 200),
            sdk_n: get("RUNWARE_BENCH_SDK_N", 300),
            instantiations: get("RUNWARE_BENCH_INSTANTIATIONS", 5000),
            cli_runs: get("RUNWARE_BENCH_CLI_RUNS", 10),
            tasks: get("RUNWARE_BENCH_TASKS", 10_000),
            k: std::env::var("RUNWARE_BENCH_K")
                .ok()
                .and_then(|v| v.parse().ok())
                .filter(|&v| v > 0)
                .unwrap_or(4),
            batch: std::env::var("RUNWARE_BENCH_BATCH")
                .ok()
                .and_then(|v| v.parse().ok())
                .filter(|&v| v > 0)
                .unwrap_or(20),
        }
    }
}

/// Latency statistics of one scenario.
#[derive(Debug, Clone, Copy)]
struct Lat {
    n: usize,
    p50: Duration,
    p99: Duration,
    mean: Duration,
}

impl Lat {
    fn of(mut samples: Vec<Duration>) -> Lat {
        samples.sort();
        let pick = |q: f64| {
            samples
                .get(((samples.len() as f64 * q).ceil() as usize).saturating_sub(1))
                .copied()
                .unwrap_or_default()
        };
        let total: Duration = samples.iter().sum();
        Lat {
            n: samples.len(),
            p50: pick(0.50),
            p99: pick(0.99),
            mean: total / u32::try_from(samples.len().max(1)).unwrap_or(u32::MAX),
        }
    }
}

fn us(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e7).round() / 10.0
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e5).round() / 100.0
}

fn ratio(x: f64, floor: f64) -> f64 {
    if floor > 0.0 {
        (x / floor * 1000.0).round() / 1000.0
    } else {
        0.0
    }
}

/// Times `n` sequential runs of `f` after `warmup` untimed ones.
async fn time_seq<F, Fut>(warmup: usize, n: usize, mut f: F) -> anyhow::Result<Lat>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    for _ in 0..warmup {
        f().await?;
    }
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f().await?;
        samples.push(t.elapsed());
    }
    Ok(Lat::of(samples))
}

/// The native client: hyper 1 over one keep-alive HTTP/1.1 connection.
struct Native {
    addr: std::net::SocketAddr,
    key: String,
    auth: String,
    sender: SendRequest<Full<Bytes>>,
}

impl Native {
    async fn connect(addr: std::net::SocketAddr, key: &str) -> anyhow::Result<Native> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
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
    async fn post(&mut self, tasks: &Value) -> anyhow::Result<usize> {
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
        let answer: Value = serde_json::from_slice(&bytes)?;
        let data = answer["data"].as_array().context("native: no data")?;
        let with_url = data
            .iter()
            .filter(|d| d["imageURL"].as_str().is_some())
            .count();
        if with_url == 0 {
            bail!("native: no imageURL in {answer}");
        }
        Ok(with_url)
    }
}

/// `template` (the component's own JSON for the request) with fresh taskUUIDs, `count` times.
fn tasks_with_fresh_uuids(template: &Value, count: usize) -> Value {
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let mut task = template.clone();
        task["taskUUID"] = Value::String(uuid::Uuid::new_v4().to_string());
        out.push(task);
    }
    Value::Array(out)
}

fn image_request() -> ImageRequest {
    let mut r = ImageRequest::new("a lighthouse on a cliff at dusk");
    r.model = Some("runware:101@1".into());
    r.width = Some(512);
    r.height = Some(512);
    r.output_format = Some(OutputFormat::Jpg);
    r
}

/// The `runware` CLI to time: `RUNWARE_BENCH_CLI` when set, else a release build of the
/// `runware-cli` crate, built now by the cargo running this benchmark (a bench can only name its
/// own package's binaries, and the CLI is its own crate). It lands in the same target directory.
fn cli_binary() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("RUNWARE_BENCH_CLI").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let status = std::process::Command::new(cargo)
        .args([
            "build",
            "--release",
            "-p",
            "runware-cli",
            "--bin",
            "runware",
        ])
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .stdin(Stdio::null())
        .status()
        .context("running cargo to build the runware CLI")?;
    if !status.success() {
        bail!("cargo build --release -p runware-cli failed ({status})");
    }
    let exe = workspace_target_dir()
        .join("release")
        .join(format!("runware{}", std::env::consts::EXE_SUFFIX));
    if !exe.is_file() {
        bail!("the runware CLI was built but is not at {}", exe.display());
    }
    Ok(exe)
}

/// Median wall time of `runs` runs of the `runware` CLI (`model-search` against the emulator).
fn cli_runs(
    exe: &Path,
    base_url: &str,
    key: &str,
    runs: usize,
    cache: CliCache,
) -> anyhow::Result<Lat> {
    let warm = tempfile::tempdir()?;
    if cache == CliCache::Warm {
        run_cli(exe, base_url, key, warm.path())?;
    }
    let mut samples = Vec::new();
    for _ in 0..runs {
        let fresh;
        let dir = match cache {
            CliCache::Warm => warm.path(),
            CliCache::Empty => {
                fresh = tempfile::tempdir()?;
                fresh.path()
            }
        };
        let t = Instant::now();
        run_cli(exe, base_url, key, dir)?;
        samples.push(t.elapsed());
    }
    Ok(Lat::of(samples))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CliCache {
    Empty,
    Warm,
}

fn run_cli(exe: &Path, base_url: &str, key: &str, cache_dir: &Path) -> anyhow::Result<()> {
    let out = std::process::Command::new(exe)
        .args(["--base-url", base_url, "model-search", "--search", "flux"])
        .env(runware_host::API_KEY_ENV, key)
        .env(runware_host::CACHE_DIR_ENV, cache_dir)
        .stdin(Stdio::null())
        .output()?;
    if !out.status.success() || out.stdout.is_empty() {
        bail!(
            "runware model-search failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Throughput of one scenario: tasks completed, the wall time and the CPU time this process
/// (clients and emulator together) spent.
#[derive(Debug, Clone, Copy)]
struct Tput {
    tasks: usize,
    wall: Duration,
    cpu: Duration,
}

/// User plus system CPU time of this process so far, from `/proc/self/stat` (Linux; zero
/// elsewhere). Clock ticks are 10 ms, so only long phases are meaningful.
fn process_cpu() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // Fields after the command name (which is in parentheses): utime is the 12th, stime the 13th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

impl Tput {
    fn cpu_per_task(&self) -> Duration {
        self.cpu / u32::try_from(self.tasks.max(1)).unwrap_or(u32::MAX)
    }

    fn per_second(&self) -> f64 {
        (self.tasks as f64 / self.wall.as_secs_f64().max(1e-9)).round()
    }
}

/// `total` tasks in calls of `batch` tasks through `k` workers; `call(batch)` returns how many
/// tasks succeeded.
async fn throughput<F, Fut>(total: usize, batch: usize, k: usize, make: F) -> anyhow::Result<Tput>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Box<dyn Worker>>>,
{
    let calls = total.div_ceil(batch);
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..k {
        workers.push(make().await?);
    }
    let start = Instant::now();
    let cpu_start = process_cpu();
    let mut joins = Vec::new();
    for mut w in workers {
        let next = Arc::clone(&next);
        joins.push(tokio::spawn(async move {
            let mut done = 0usize;
            while next.fetch_add(1, Ordering::Relaxed) < calls {
                done += w.call(batch).await?;
            }
            anyhow::Ok(done)
        }));
    }
    let mut tasks = 0;
    for j in joins {
        tasks += j.await??;
    }
    let wall = start.elapsed();
    let cpu = process_cpu().saturating_sub(cpu_start);
    if tasks != calls * batch {
        bail!("throughput: {tasks} of {} tasks succeeded", calls * batch);
    }
    Ok(Tput { tasks, wall, cpu })
}

/// One throughput worker: a connection or a component client.
trait Worker: Send {
    fn call(
        &mut self,
        batch: usize,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<usize>> + Send + '_>>;
}

struct NativeWorker {
    native: Native,
    template: Arc<Value>,
    /// Open a new connection for every request (as wasi:http does), not keep-alive.
    fresh_connection: bool,
}

impl Worker for NativeWorker {
    fn call(
        &mut self,
        batch: usize,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<usize>> + Send + '_>>
    {
        Box::pin(async move {
            let tasks = tasks_with_fresh_uuids(&self.template, batch);
            if self.fresh_connection {
                self.native = Native::connect(self.native.addr, &self.native.key).await?;
            }
            self.native.post(&tasks).await
        })
    }
}

struct ComponentWorker {
    client: Client,
    request: Arc<ImageRequest>,
    /// The batch as `run_tasks` JSON, without taskUUIDs (the component adds them).
    batch_json: Arc<String>,
}

impl Worker for ComponentWorker {
    fn call(
        &mut self,
        batch: usize,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<usize>> + Send + '_>>
    {
        Box::pin(async move {
            if batch == 1 {
                let r = self.client.text_to_image(&self.request).await?;
                Ok(usize::from(!r.images.is_empty()))
            } else {
                let r = self.client.run_tasks(&self.batch_json).await?;
                Ok(r.tasks
                    .iter()
                    .filter(|t| t.status == TaskStatus::Success)
                    .count())
            }
        })
    }
}

/// Runs the official Python SDK script; `None` (with the reason) when the venv is missing.
async fn sdk_latency(
    venv: &Path,
    base_url: &str,
    key: &str,
    n: usize,
    warmup: usize,
) -> anyhow::Result<Result<(Lat, String), String>> {
    let python = venv.join("bin").join("python");
    if !python.exists() {
        return Ok(Err(format!(
            "skipped: {} does not exist (run `cargo test -p runware-emulator --test \
             sdk_conformance` once to create it)",
            venv.display()
        )));
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("benches")
        .join("sdk_bench.py");
    let out = tokio::process::Command::new(&python)
        .arg(&script)
        .env("RUNWARE_BENCH_URL", base_url)
        .env("RUNWARE_BENCH_KEY", key)
        .env("RUNWARE_BENCH_N", n.to_string())
        .env("RUNWARE_BENCH_WARMUP", warmup.to_string())
        .stdin(Stdio::null())
        .output()
        .await?;
    if !out.status.success() {
        return Ok(Err(format!(
            "failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
                .replace(key, "[REDACTED]")
                .lines()
                .last()
                .unwrap_or_default()
        )));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    let v: Value = serde_json::from_str(line).context("sdk_bench.py output")?;
    let mut samples: Vec<Duration> = v["samplesUs"]
        .as_array()
        .context("samplesUs")?
        .iter()
        .filter_map(Value::as_f64)
        .map(|x| Duration::from_secs_f64(x / 1e6))
        .collect();
    samples.sort();
    let version = v["sdkVersion"].as_str().unwrap_or("?").to_string();
    Ok(Ok((Lat::of(samples), version)))
}

fn workspace_target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir)
            }
        }
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("target"),
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// `RUNWARE_BENCH_CLIENT_THREADS`: the clients' tokio worker threads (default 2; 0 for a
/// current-thread runtime).
fn client_threads() -> usize {
    std::env::var("RUNWARE_BENCH_CLIENT_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
}

fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env();
    let load_before = load_average();
    // The emulator on its own runtime, the clients on another; both share the machine's cores.
    let emu_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("emulator")
        .enable_all()
        .build()?;
    let key = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let emu = emu_rt.block_on(
        Emulator::builder()
            .api_key(key.clone())
            .image_mode(ImageMode::Placeholder)
            .start(),
    )?;
    let rt = match client_threads() {
        0 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        n => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build()?,
    };
    let result = rt.block_on(run(&settings, &emu, &key, &load_before));
    drop(emu);
    result
}

async fn run(
    s: &Settings,
    emu: &runware_emulator::EmulatorHandle,
    key: &str,
    load_before: &str,
) -> anyhow::Result<()> {
    let base_url = emu.base_url();
    let addr = emu.addr();
    eprintln!(
        "bench: {s:?}; client threads {}; emulator at {base_url}; load average {load_before}",
        client_threads()
    );

    // Runtimes: pooling (b) and on-demand (c). Compiled code from a private cache directory.
    let cache = tempfile::tempdir()?;
    let runtime_config = |pooling: bool| RuntimeConfig {
        cache_dir: Some(cache.path().to_path_buf()),
        pooling,
        // Idle reused instances hold slots too: K of them, plus K calls in flight.
        pool_size: u32::try_from(s.k.max(4) * 3).unwrap_or(64),
        ..RuntimeConfig::default()
    };
    let t = Instant::now();
    let pooled_rt = Runtime::new(runtime_config(true))?;
    let first_load = t.elapsed();
    let t = Instant::now();
    let fresh_rt = Runtime::new(runtime_config(false))?;
    let second_load = t.elapsed();
    let client_config = || ClientConfig {
        api_key: Some(ApiKey::new(key)),
        base_url: Some(base_url.clone()),
        max_retries: Some(0),
        ..ClientConfig::default()
    };
    let reused = Client::new(
        &pooled_rt,
        ClientConfig {
            max_idle_instances: s.k.max(1),
            ..client_config()
        },
    )?;
    let pooled = Client::new(&pooled_rt, client_config())?;
    let fresh = Client::new(&fresh_rt, client_config())?;
    let request = image_request();

    // The exact JSON the component sends: the native client sends the same.
    let prepared = pooled.prepare_text_to_image(&request).await?;
    let prepared: Value = serde_json::from_str(&prepared)?;
    let template = prepared
        .as_array()
        .and_then(|a| a.first())
        .cloned()
        .context("prepare_text_to_image gave no task")?;
    let mut batch_template = template.clone();
    if let Some(o) = batch_template.as_object_mut() {
        o.remove("taskUUID");
    }
    let batch_json = Arc::new(Value::Array(vec![batch_template; s.batch]).to_string());

    // ---- latency, one call at a time
    eprintln!("bench: latency (a) native keep-alive");
    let mut native = Native::connect(addr, key).await?;
    for _ in 0..s.warmup {
        native.post(&tasks_with_fresh_uuids(&template, 1)).await?;
    }
    let mut samples = Vec::with_capacity(s.n);
    for _ in 0..s.n {
        let t = Instant::now();
        native.post(&tasks_with_fresh_uuids(&template, 1)).await?;
        samples.push(t.elapsed());
    }
    let lat_a = Lat::of(samples);
    drop(native);
    eprintln!("bench: latency (a') native, a new connection per request");
    let lat_a_new = time_seq(s.warmup, s.n, || {
        let tasks = tasks_with_fresh_uuids(&template, 1);
        async move {
            let mut native = Native::connect(addr, key).await?;
            native.post(&tasks).await.map(drop)
        }
    })
    .await?;
    eprintln!("bench: latency (b) component, reused instance");
    let lat_b = time_seq(s.warmup, s.n, || async {
        let r = reused.text_to_image(&request).await?;
        anyhow::ensure!(!r.images.is_empty(), "no image");
        Ok(())
    })
    .await?;
    eprintln!("bench: latency (b') component, fresh instance, pooling");
    runware_host::reset_peak_instance_memory();
    let lat_b_fresh = time_seq(s.warmup, s.n, || async {
        let r = pooled.text_to_image(&request).await?;
        anyhow::ensure!(!r.images.is_empty(), "no image");
        Ok(())
    })
    .await?;
    let peak_single = runware_host::peak_instance_memory();
    eprintln!("bench: latency (c) component, on-demand allocation");
    let lat_c = time_seq(s.warmup, s.n, || async {
        let r = fresh.text_to_image(&request).await?;
        anyhow::ensure!(!r.images.is_empty(), "no image");
        Ok(())
    })
    .await?;
    eprintln!("bench: latency (d) official Python SDK over REST");
    let venv = workspace_target_dir().join("sdk-venv");
    let sdk = sdk_latency(&venv, &base_url, key, s.sdk_n, s.warmup.min(50)).await?;

    // ---- where a component call's time goes
    eprintln!("bench: instantiation");
    let inst_pool = time_seq(s.warmup, s.instantiations, || async {
        pooled.instantiate_only().await.map_err(Into::into)
    })
    .await?;
    let inst_fresh = time_seq(s.warmup, s.instantiations, || async {
        fresh.instantiate_only().await.map_err(Into::into)
    })
    .await?;
    let open_pool = time_seq(s.warmup, s.instantiations, || async {
        pooled.warm_up().await.map_err(Into::into)
    })
    .await?;
    let prepare_pool = time_seq(s.warmup, s.n, || async {
        pooled
            .prepare_text_to_image(&request)
            .await
            .map(drop)
            .map_err(Into::into)
    })
    .await?;

    // ---- the CLI
    eprintln!("bench: CLI cold runs");
    let exe = cli_binary()?;
    let cli_empty = cli_runs(&exe, &base_url, key, s.cli_runs, CliCache::Empty)?;
    let cli_warm = cli_runs(&exe, &base_url, key, s.cli_runs, CliCache::Warm)?;

    // ---- throughput
    eprintln!("bench: throughput");
    let template = Arc::new(template);
    let native_make_with = |fresh_connection: bool| {
        let template = Arc::clone(&template);
        async move {
            Ok(Box::new(NativeWorker {
                native: Native::connect(addr, key).await?,
                template,
                fresh_connection,
            }) as Box<dyn Worker>)
        }
    };
    let native_make = || native_make_with(false);
    let request_arc = Arc::new(request.clone());
    let component_make = |client: &Client| {
        let w = ComponentWorker {
            client: client.clone(),
            request: Arc::clone(&request_arc),
            batch_json: Arc::clone(&batch_json),
        };
        async move { Ok(Box::new(w) as Box<dyn Worker>) }
    };
    let tp_native_1 = throughput(s.tasks, 1, s.k, native_make).await?;
    let tp_native_new = throughput(s.tasks, 1, s.k, || native_make_with(true)).await?;
    let tp_comp_1 = throughput(s.tasks, 1, s.k, || component_make(&reused)).await?;
    let tp_pooled_1 = throughput(s.tasks, 1, s.k, || component_make(&pooled)).await?;
    let tp_native_b = throughput(s.tasks, s.batch, s.k, native_make).await?;
    runware_host::reset_peak_instance_memory();
    let tp_comp_b = throughput(s.tasks, s.batch, s.k, || component_make(&pooled)).await?;
    let peak_batch = runware_host::peak_instance_memory();
    let tp_reused_b = throughput(s.tasks, s.batch, s.k, || component_make(&reused)).await?;
    let tp_fresh_1 = throughput(s.tasks, 1, s.k, || component_make(&fresh)).await?;

    // ---- report
    let size = runware_host::EMBEDDED_COMPONENT.len();
    let floor = lat_a.p50.as_secs_f64();
    let floor99 = lat_a.p99.as_secs_f64();
    let mut rows: Vec<(&str, &str, Lat)> = vec![
        ("a", "native hyper client, keep-alive (floor)", lat_a),
        (
            "a'",
            "native hyper client, new connection per request",
            lat_a_new,
        ),
        ("b", "component, reused instance, pooling allocator", lat_b),
        (
            "b'",
            "component, fresh instance, pooling allocator",
            lat_b_fresh,
        ),
        (
            "c",
            "component, fresh instance, on-demand allocation",
            lat_c,
        ),
    ];
    let sdk_note;
    match &sdk {
        Ok((lat, _)) => rows.push(("d", "official runware-sdk (Python) over REST", *lat)),
        Err(reason) => {
            sdk_note = format!("(d) official runware-sdk: {reason}");
            eprintln!("bench: {sdk_note}");
        }
    }
    println!();
    println!(
        "imageInference 512x512 JPG, sync, emulator placeholder mode, loopback; {} calls each",
        s.n
    );
    println!(
        "{:<3} {:<50} {:>7} {:>10} {:>10} {:>8} {:>8}",
        "", "client", "n", "p50 µs", "p99 µs", "p50 ×a", "p99 ×a"
    );
    for (id, name, l) in &rows {
        println!(
            "{:<3} {:<50} {:>7} {:>10.1} {:>10.1} {:>8.3} {:>8.3}",
            id,
            name,
            l.n,
            us(l.p50),
            us(l.p99),
            ratio(l.p50.as_secs_f64(), floor),
            ratio(l.p99.as_secs_f64(), floor99)
        );
    }
    println!();
    println!("where a fresh-instance component call goes (pooling), p50 / p99 µs:");
    let parts = [
        ("instantiate only (pooling)", inst_pool),
        ("instantiate only (on-demand)", inst_fresh),
        ("instantiate + open (warm_up, pooling)", open_pool),
        (
            "instantiate + open + build JSON (prepare, no network)",
            prepare_pool,
        ),
        ("whole call (b')", lat_b_fresh),
        ("whole call on a reused instance (b)", lat_b),
    ];
    for (name, l) in &parts {
        println!("    {:<56} {:>9.1} {:>9.1}", name, us(l.p50), us(l.p99));
    }
    println!();
    println!(
        "CLI cold run (`runware model-search`), median of {}: empty cache {:.1} ms, warm cache {:.1} ms",
        s.cli_runs,
        ms(cli_empty.p50),
        ms(cli_warm.p50)
    );
    println!(
        "Runtime::new in this process: first (compiles, writes the cache) {:.1} ms, second (cache) {:.1} ms",
        ms(first_load),
        ms(second_load)
    );
    println!(
        "component size: {size} bytes ({:.1} KiB)",
        size as f64 / 1024.0
    );
    println!(
        "peak linear memory per instance: {} KiB (single image), {} KiB ({}-task batch)",
        peak_single / 1024,
        peak_batch / 1024,
        s.batch
    );
    println!();
    println!("throughput: {} tasks, K = {} concurrent", s.tasks, s.k);
    let tput_rows = [
        ("native, 1 task/request", tp_native_1, tp_native_1),
        (
            "native, new connection per request",
            tp_native_new,
            tp_native_1,
        ),
        ("component (b), 1 task/call", tp_comp_1, tp_native_1),
        ("component (b'), 1 task/call", tp_pooled_1, tp_native_1),
        ("component (c), 1 task/call", tp_fresh_1, tp_native_1),
        ("native, batched", tp_native_b, tp_native_b),
        ("component (b), batched run_tasks", tp_reused_b, tp_native_b),
        ("component (b'), batched run_tasks", tp_comp_b, tp_native_b),
    ];
    for (name, t, base) in &tput_rows {
        println!(
            "    {:<40} {:>9} tasks/s  ×native {:.3}  CPU {:.0} µs/task",
            name,
            t.per_second(),
            ratio(t.per_second(), base.per_second()),
            us(t.cpu_per_task())
        );
    }
    let load_after = load_average();
    println!();
    println!("load average before {load_before}, after {load_after}");

    let lat_json = |l: &Lat| {
        json!({
            "n": l.n,
            "p50Us": us(l.p50),
            "p99Us": us(l.p99),
            "meanUs": us(l.mean),
            "p50Ratio": ratio(l.p50.as_secs_f64(), floor),
            "p99Ratio": ratio(l.p99.as_secs_f64(), floor99),
        })
    };
    let tput_json = |t: &Tput, base: &Tput| {
        json!({
            "tasks": t.tasks,
            "wallMs": ms(t.wall),
            "tasksPerSecond": t.per_second(),
            "cpuUsPerTask": us(t.cpu_per_task()),
            "ratioToNative": ratio(t.per_second(), base.per_second()),
        })
    };
    let summary = json!({
        "settings": {
            "clientThreads": client_threads(),
            "n": s.n, "warmup": s.warmup, "sdkN": s.sdk_n, "instantiations": s.instantiations,
            "cliRuns": s.cli_runs, "tasks": s.tasks, "k": s.k, "batch": s.batch,
        },
        "loadAverage": { "before": load_before, "after": load_after },
        "latency": {
            "nativeKeepAlive": lat_json(&lat_a),
            "nativeNewConnection": lat_json(&lat_a_new),
            "componentReused": lat_json(&lat_b),
            "componentPooling": lat_json(&lat_b_fresh),
            "componentOnDemand": lat_json(&lat_c),
            "officialSdkRest": match &sdk {
                Ok((l, version)) => {
                    let mut v = lat_json(l);
                    v["sdkVersion"] = json!(version);
                    v
                }
                Err(reason) => json!({ "skipped": reason }),
            },
        },
        "breakdown": {
            "instantiatePoolingUs": lat_json(&inst_pool),
            "instantiateOnDemandUs": lat_json(&inst_fresh),
            "instantiateOpenPoolingUs": lat_json(&open_pool),
            "prepareNoNetworkPoolingUs": lat_json(&prepare_pool),
        },
        "cli": {
            "emptyCacheMs": { "p50": ms(cli_empty.p50), "p99": ms(cli_empty.p99) },
            "warmCacheMs": { "p50": ms(cli_warm.p50), "p99": ms(cli_warm.p99) },
        },
        "runtimeNewMs": { "compile": ms(first_load), "fromCache": ms(second_load) },
        "componentBytes": size,
        "peakInstanceMemoryBytes": { "singleImage": peak_single, "batch": peak_batch },
        "throughput": {
            "native1": tput_json(&tp_native_1, &tp_native_1),
            "nativeNewConnection1": tput_json(&tp_native_new, &tp_native_1),
            "componentReused1": tput_json(&tp_comp_1, &tp_native_1),
            "componentPooling1": tput_json(&tp_pooled_1, &tp_native_1),
            "componentOnDemand1": tput_json(&tp_fresh_1, &tp_native_1),
            "nativeBatched": tput_json(&tp_native_b, &tp_native_b),
            "componentReusedBatched": tput_json(&tp_reused_b, &tp_native_b),
            "componentPoolingBatched": tput_json(&tp_comp_b, &tp_native_b),
        },
        "targets": {
            "componentP50WithinOneTenOfNative": ratio(lat_b.p50.as_secs_f64(), floor) <= 1.10,
            "instantiationUnder50Us": inst_pool.p50 < Duration::from_micros(50),
            "cachedCliUnder50Ms": cli_warm.p50 < Duration::from_millis(50),
            "componentUnder300KB": size < 300_000,
            "throughputAtLeast09Native": ratio(tp_comp_1.per_second(), tp_native_1.per_second()) >= 0.9,
            "batchedThroughputAtLeast09Native": ratio(tp_reused_b.per_second(), tp_native_b.per_second()) >= 0.9,
        },
    });
    println!("BENCH_JSON {summary}");
    Ok(())
}
