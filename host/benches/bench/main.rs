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
//!   (`max_idle_instances`), pooling allocator, (b′) the component on a fresh instance per call,
//!   pooling allocator, (c) the same with on-demand allocation, (e) `ClientConfig::default()` on
//!   `RuntimeConfig::default()` (instances reused within the client, on-demand allocation: what
//!   an embedder gets without choosing); every component row sends on the client's keep-alive
//!   connections,
//!   (d) Runware's official Python SDK over REST when `target/sdk-venv` exists;
//! * where a component call's time goes: instantiation alone, instantiation plus `open`, the
//!   whole call without the network (`prepare-text-to-image`);
//! * the `runware` CLI's cold run (`model-search` against the emulator) with an empty and with a
//!   warm compiled-code cache; the component's size; the peak linear memory of one instance;
//! * throughput: `RUNWARE_BENCH_TASKS` tasks through K concurrent instances, one task per call
//!   and `RUNWARE_BENCH_BATCH` tasks per `run_tasks` call, against the native client doing the
//!   same over K keep-alive connections; with the CPU time per task (this process: clients and
//!   emulator together);
//! * `runware batch` on `RUNWARE_BENCH_TASKS` image lines at concurrency K, against the native
//!   client's throughput;
//! * the scale row: `RUNWARE_BENCH_IN_FLIGHT` calls in flight at once against a `runware emulate`
//!   child that holds every answer `RUNWARE_BENCH_IN_FLIGHT_LATENCY_MS`, with this process's peak
//!   RSS (see [`in_flight`]);
//! * issue 10's targets, each with its measured figure and whether it is met.
//!
//! Knobs (environment): `RUNWARE_BENCH_N` (latency calls per client, 2000),
//! `RUNWARE_BENCH_WARMUP` (200), `RUNWARE_BENCH_SDK_N` (300), `RUNWARE_BENCH_INSTANTIATIONS`
//! (5000), `RUNWARE_BENCH_CLI_RUNS` (10), `RUNWARE_BENCH_TASKS` (10000), `RUNWARE_BENCH_K` (4),
//! `RUNWARE_BENCH_BATCH` (20), `RUNWARE_BENCH_IN_FLIGHT` (10000),
//! `RUNWARE_BENCH_IN_FLIGHT_LATENCY_MS` (3000), `RUNWARE_BENCH_CLIENT_THREADS` (the clients' tokio workers, 2;
//! 0 = a current-thread runtime), `RUNWARE_BENCH_CLI` (the `runware` binary to time; by default
//! the bench builds `runware-cli` in release first). `RUNWARE_BENCH_QUICK=1` divides the counts
//! by ten. `RUNWARE_BENCH_PROFILE=native|reused|fresh|in-flight` runs only that row's calls, for
//! `valgrind --tool=callgrind` (see [`profile`]).
//!
//! The files, one concern each: [`settings`] (the knobs), [`setup`] (emulator, runtimes,
//! clients), [`in_flight`] (the scale row), [`native`] (the hyper baseline client), [`sdk`] (the Python SDK runner), [`cli`]
//! (the `runware` binary runner), [`stats`] (timing and throughput drivers, statistics),
//! [`profile`] (one row alone, for callgrind), [`rows`] (every measured row, in the order they run) and [`report`] (the table and the JSON
//! line).

mod cli;
mod in_flight;
mod native;
mod profile;
mod report;
mod rows;
mod sdk;
mod settings;
mod setup;
mod stats;

use settings::Settings;
use setup::{Emulated, Setup};

fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env();
    let load_before = stats::load_average();
    let emulator = Emulated::start()?;
    let rt = setup::client_runtime()?;
    let result = match profile::Profiled::from_env()? {
        Some(row) => rt.block_on(profile::run(row, &settings, &emulator)),
        None => rt.block_on(run(&settings, &emulator, &load_before)),
    };
    drop(emulator);
    result
}

/// Sets up, measures every row, then prints: nothing is printed to stdout until every row is
/// measured, so printing never disturbs a measurement.
async fn run(s: &Settings, emu: &Emulated, load_before: &str) -> anyhow::Result<()> {
    eprintln!(
        "bench: {s:?}; client threads {}; emulator at {}; load average {load_before}",
        settings::client_threads(),
        emu.handle.base_url()
    );
    let setup = Setup::new(s, emu).await?;
    let rows = rows::measure(s, &setup).await?;
    report::print(s, &setup, &rows, load_before);
    Ok(())
}
