//! What every row measures against: the emulator on its own tokio runtime, the clients'
//! runtime, the two component runtimes (pooling and on-demand) and their three clients, the
//! request, and the exact task JSON the component sends (which the native client replays).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use runware_emulator::{Emulator, EmulatorHandle, ImageMode};
use runware_host::{
    ApiKey, Client, ClientConfig, ImageRequest, OutputFormat, Runtime, RuntimeConfig,
};
use serde_json::Value;

use crate::settings::{Settings, client_threads};

/// The emulator, serving on a runtime of its own so its work is not scheduled behind the
/// clients' (both still share the machine's cores).
pub struct Emulated {
    // Declared before `_runtime`: the server is dropped while its runtime still runs.
    pub handle: EmulatorHandle,
    _runtime: tokio::runtime::Runtime,
    /// A throwaway key the emulator accepts (never printed).
    pub key: String,
}

impl Emulated {
    /// Starts the emulator in placeholder mode (nothing is rendered: the rows measure the
    /// clients, not image encoding).
    pub fn start() -> anyhow::Result<Emulated> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("emulator")
            .enable_all()
            .build()?;
        let key = format!("bench-{}", uuid::Uuid::new_v4().simple());
        let handle = runtime.block_on(
            Emulator::builder()
                .api_key(key.clone())
                .image_mode(ImageMode::Placeholder)
                .start(),
        )?;
        Ok(Emulated {
            handle,
            _runtime: runtime,
            key,
        })
    }
}

/// The runtime the clients (native and component) run on: `RUNWARE_BENCH_CLIENT_THREADS`
/// workers, or a current-thread runtime for 0.
pub fn client_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(match client_threads() {
        0 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        n => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build()?,
    })
}

/// The clients and inputs shared by the rows.
pub struct Setup {
    pub base_url: String,
    pub addr: SocketAddr,
    pub key: String,
    /// The private compiled-code cache the runtimes load from; kept for the whole run.
    _cache: tempfile::TempDir,
    /// `Runtime::new` with an empty cache (compiles, writes the cache): reported as is.
    pub first_load: Duration,
    /// `Runtime::new` reading that cache.
    pub second_load: Duration,
    /// (b): pooling allocator, opened instances kept and reused.
    pub reused: Client,
    /// (b′): pooling allocator, a fresh instance per call.
    pub pooled: Client,
    /// (c): on-demand allocation, a fresh instance per call.
    pub fresh: Client,
    /// (e): `ClientConfig::default()` on `RuntimeConfig::default()` (on-demand allocation,
    /// instances reused within the client): what an embedder gets without choosing.
    pub default: Client,
    /// The on-demand runtime, for the scale row's own client.
    pub on_demand_runtime: Runtime,
    pub request: ImageRequest,
    /// One task of the component's own JSON for `request`, taskUUID included.
    pub template: Value,
    /// `batch` such tasks as `run_tasks` JSON, without taskUUIDs (the component adds them).
    pub batch_json: Arc<String>,
}

impl Setup {
    pub async fn new(s: &Settings, emu: &Emulated) -> anyhow::Result<Setup> {
        let base_url = emu.handle.base_url();
        let addr = emu.handle.addr();
        let key = emu.key.clone();

        // Runtimes: pooling (b) and on-demand (c). Compiled code from a private cache directory,
        // so the first load really compiles.
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
        // The second load reads what the first wrote (the same engine settings, so the same
        // cache key; on-demand allocation compiles differently, so it has its own entry).
        let t = Instant::now();
        drop(Runtime::new(runtime_config(true))?);
        let second_load = t.elapsed();
        let fresh_rt = Runtime::new(runtime_config(false))?;
        // No retries: a failed call must fail the benchmark, not hide in its latency.
        let client_config = || {
            ClientConfig::with_api_key(ApiKey::new(key.as_str()))
                .base_url(base_url.clone())
                .max_retries(0)
        };
        let reused = Client::new(
            &pooled_rt,
            ClientConfig {
                max_idle_instances: s.k.max(1),
                ..client_config()
            },
        )?;
        let fresh_config = || ClientConfig {
            max_idle_instances: 0,
            ..client_config()
        };
        let pooled = Client::new(&pooled_rt, fresh_config())?;
        let fresh = Client::new(&fresh_rt, fresh_config())?;
        let default = Client::new(&fresh_rt, client_config())?;
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

        Ok(Setup {
            base_url,
            addr,
            key,
            _cache: cache,
            first_load,
            second_load,
            reused,
            pooled,
            fresh,
            default,
            on_demand_runtime: fresh_rt,
            request,
            template,
            batch_json,
        })
    }
}

/// The request every latency and throughput row sends (the Python SDK script sends the same).
pub fn image_request() -> ImageRequest {
    let mut r = ImageRequest::new("a lighthouse on a cliff at dusk");
    r.model = Some("runware:101@1".into());
    r.width = Some(512);
    r.height = Some(512);
    r.output_format = Some(OutputFormat::Jpg);
    r
}

/// The workspace's target directory as cargo resolves it (`CARGO_TARGET_DIR`, relative to the
/// workspace root, or `target/`): where the SDK conformance test leaves `sdk-venv`.
pub fn workspace_target_dir() -> PathBuf {
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
