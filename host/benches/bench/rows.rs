//! Every measured row, in the order they run: latency one call at a time (a, a′, b, b′, c, d),
//! where a component call's time goes, the CLI's cold runs, then throughput. Each section
//! returns its numbers; nothing here prints to stdout.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use runware_host::{Client, ImageRequest, TaskStatus};
use serde_json::Value;

use crate::cli::{CliCache, cli_runs};
use crate::native::{Native, tasks_with_fresh_uuids};
use crate::sdk::{SdkOutcome, sdk_latency};
use crate::settings::Settings;
use crate::setup::{Setup, workspace_target_dir};
use crate::stats::{Lat, Tput, Worker, throughput, time_seq};

/// Everything measured, for the report.
pub struct Rows {
    pub latency: Latency,
    pub breakdown: Breakdown,
    pub cli: Cli,
    pub throughput: Throughput,
    pub in_flight: crate::in_flight::InFlight,
    /// `runware batch` on `tasks` image lines at concurrency K.
    pub batch: crate::cli::BatchRun,
}

/// Latency of the same request, one call at a time.
pub struct Latency {
    /// (a) native, one keep-alive connection: the floor.
    pub native_keep_alive: Lat,
    /// (a′) native, a new connection per request.
    pub native_new_connection: Lat,
    /// (b) component, reused instance, pooling allocator.
    pub component_reused: Lat,
    /// (b′) component, fresh instance, pooling allocator.
    pub component_pooling: Lat,
    /// (c) component, fresh instance, on-demand allocation.
    pub component_on_demand: Lat,
    /// (e) component, `ClientConfig::default()` on `RuntimeConfig::default()`.
    pub component_default: Lat,
    /// (d) the official Python SDK, if its venv exists.
    pub sdk: SdkOutcome,
    /// Peak linear memory of one instance during (b′) (one image per call).
    pub peak_single: usize,
}

/// Where a fresh-instance component call's time goes.
pub struct Breakdown {
    pub instantiate_pooling: Lat,
    pub instantiate_on_demand: Lat,
    /// Instantiation plus `open` (`warm_up`), pooling.
    pub open_pooling: Lat,
    /// Instantiation, `open` and building the JSON (`prepare_text_to_image`), no network.
    pub prepare_pooling: Lat,
}

/// The `runware` CLI's cold run (`model-search`).
pub struct Cli {
    pub empty_cache: Lat,
    pub warm_cache: Lat,
}

/// `tasks` tasks through K concurrent workers.
pub struct Throughput {
    pub native_1: Tput,
    pub native_new_connection_1: Tput,
    pub reused_1: Tput,
    pub pooling_1: Tput,
    pub on_demand_1: Tput,
    pub default_1: Tput,
    pub native_batched: Tput,
    pub reused_batched: Tput,
    pub pooling_batched: Tput,
    /// Peak linear memory of one instance during the pooling batched row.
    pub peak_batch: usize,
}

/// Measures every row.
pub async fn measure(s: &Settings, setup: &Setup) -> anyhow::Result<Rows> {
    let latency = latency(s, setup).await?;
    let breakdown = breakdown(s, setup).await?;
    let cli = cli(s, setup)?;
    let throughput = throughput_rows(s, setup).await?;
    eprintln!(
        "bench: runware batch, {} lines, concurrency {}",
        s.tasks, s.k
    );
    let batch = crate::cli::batch_run(
        &crate::cli::cli_binary()?,
        &setup.base_url,
        &setup.key,
        s.tasks,
        s.k,
    )?;
    eprintln!(
        "bench: {} calls in flight at once (emulator latency {} ms)",
        s.in_flight, s.in_flight_latency_ms
    );
    let in_flight = crate::in_flight::measure(
        &crate::cli::cli_binary()?,
        &setup.on_demand_runtime,
        s.in_flight,
        std::time::Duration::from_millis(s.in_flight_latency_ms),
    )
    .await?;
    Ok(Rows {
        latency,
        breakdown,
        cli,
        throughput,
        in_flight,
        batch,
    })
}

/// A component row's call: one image, which must come back.
async fn one_image(client: &Client, request: &ImageRequest) -> anyhow::Result<()> {
    let r = client.text_to_image(request).await?;
    anyhow::ensure!(!r.images.is_empty(), "no image");
    Ok(())
}

async fn latency(s: &Settings, setup: &Setup) -> anyhow::Result<Latency> {
    let (addr, key, template, request) = (setup.addr, &setup.key, &setup.template, &setup.request);

    eprintln!("bench: latency (a) native keep-alive");
    // By hand rather than with `time_seq`: every call borrows the one connection mutably.
    let mut native = Native::connect(addr, key).await?;
    for _ in 0..s.warmup {
        native.post(&tasks_with_fresh_uuids(template, 1)).await?;
    }
    let mut samples = Vec::with_capacity(s.n);
    for _ in 0..s.n {
        let t = Instant::now();
        native.post(&tasks_with_fresh_uuids(template, 1)).await?;
        samples.push(t.elapsed());
    }
    let native_keep_alive = Lat::of(samples);
    drop(native);

    eprintln!("bench: latency (a') native, a new connection per request");
    let native_new_connection = time_seq(s.warmup, s.n, || {
        let tasks = tasks_with_fresh_uuids(template, 1);
        async move {
            let mut native = Native::connect(addr, key).await?;
            native.post(&tasks).await.map(drop)
        }
    })
    .await?;

    eprintln!("bench: latency (b) component, reused instance");
    let component_reused = time_seq(s.warmup, s.n, || one_image(&setup.reused, request)).await?;

    eprintln!("bench: latency (b') component, fresh instance, pooling");
    runware_host::reset_peak_instance_memory();
    let component_pooling = time_seq(s.warmup, s.n, || one_image(&setup.pooled, request)).await?;
    let peak_single = runware_host::peak_instance_memory();

    eprintln!("bench: latency (c) component, on-demand allocation");
    let component_on_demand = time_seq(s.warmup, s.n, || one_image(&setup.fresh, request)).await?;

    eprintln!("bench: latency (e) component, the default configuration");
    let component_default = time_seq(s.warmup, s.n, || one_image(&setup.default, request)).await?;

    eprintln!("bench: latency (d) official Python SDK over REST");
    let venv = workspace_target_dir().join("sdk-venv");
    // At most 50 untimed calls: each SDK call is slow, and they only warm it up.
    let sdk = sdk_latency(&venv, &setup.base_url, key, s.sdk_n, s.warmup.min(50)).await?;

    Ok(Latency {
        native_keep_alive,
        native_new_connection,
        component_reused,
        component_pooling,
        component_on_demand,
        component_default,
        sdk,
        peak_single,
    })
}

async fn breakdown(s: &Settings, setup: &Setup) -> anyhow::Result<Breakdown> {
    let (pooled, fresh) = (&setup.pooled, &setup.fresh);
    eprintln!("bench: instantiation");
    let instantiate_pooling = time_seq(s.warmup, s.instantiations, || async {
        pooled.instantiate_only().await.map_err(Into::into)
    })
    .await?;
    let instantiate_on_demand = time_seq(s.warmup, s.instantiations, || async {
        fresh.instantiate_only().await.map_err(Into::into)
    })
    .await?;
    let open_pooling = time_seq(s.warmup, s.instantiations, || async {
        pooled.warm_up().await.map_err(Into::into)
    })
    .await?;
    let prepare_pooling = time_seq(s.warmup, s.n, || async {
        pooled
            .prepare_text_to_image(&setup.request)
            .await
            .map(drop)
            .map_err(Into::into)
    })
    .await?;
    Ok(Breakdown {
        instantiate_pooling,
        instantiate_on_demand,
        open_pooling,
        prepare_pooling,
    })
}

fn cli(s: &Settings, setup: &Setup) -> anyhow::Result<Cli> {
    eprintln!("bench: CLI cold runs");
    let exe = crate::cli::cli_binary()?;
    let (base_url, key) = (&setup.base_url, &setup.key);
    Ok(Cli {
        empty_cache: cli_runs(&exe, base_url, key, s.cli_runs, CliCache::Empty)?,
        warm_cache: cli_runs(&exe, base_url, key, s.cli_runs, CliCache::Warm)?,
    })
}

async fn throughput_rows(s: &Settings, setup: &Setup) -> anyhow::Result<Throughput> {
    eprintln!("bench: throughput");
    let (addr, key) = (setup.addr, setup.key.as_str());
    let template = Arc::new(setup.template.clone());
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
    let request = Arc::new(setup.request.clone());
    let component_make = |client: &Client| {
        let w = ComponentWorker {
            client: client.clone(),
            request: Arc::clone(&request),
            batch_json: Arc::clone(&setup.batch_json),
        };
        async move { Ok(Box::new(w) as Box<dyn Worker>) }
    };
    let (reused, pooled, fresh) = (&setup.reused, &setup.pooled, &setup.fresh);
    let native_1 = throughput(s.tasks, 1, s.k, native_make).await?;
    let native_new_connection_1 = throughput(s.tasks, 1, s.k, || native_make_with(true)).await?;
    let reused_1 = throughput(s.tasks, 1, s.k, || component_make(reused)).await?;
    let pooling_1 = throughput(s.tasks, 1, s.k, || component_make(pooled)).await?;
    let native_batched = throughput(s.tasks, s.batch, s.k, native_make).await?;
    runware_host::reset_peak_instance_memory();
    let pooling_batched = throughput(s.tasks, s.batch, s.k, || component_make(pooled)).await?;
    let peak_batch = runware_host::peak_instance_memory();
    let reused_batched = throughput(s.tasks, s.batch, s.k, || component_make(reused)).await?;
    let on_demand_1 = throughput(s.tasks, 1, s.k, || component_make(fresh)).await?;
    let default_1 = throughput(s.tasks, 1, s.k, || component_make(&setup.default)).await?;
    Ok(Throughput {
        native_1,
        native_new_connection_1,
        reused_1,
        pooling_1,
        on_demand_1,
        default_1,
        native_batched,
        reused_batched,
        pooling_batched,
        peak_batch,
    })
}

/// A throughput worker on the native client.
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
    ) -> Pin<Box<dyn Future<Output = anyhow::Result<usize>> + Send + '_>> {
        Box::pin(async move {
            let tasks = tasks_with_fresh_uuids(&self.template, batch);
            if self.fresh_connection {
                self.native = Native::connect(self.native.addr, &self.native.key).await?;
            }
            self.native.post(&tasks).await
        })
    }
}

/// A throughput worker on a component client: `text_to_image` for one task, `run_tasks` for a
/// batch.
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
    ) -> Pin<Box<dyn Future<Output = anyhow::Result<usize>> + Send + '_>> {
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
