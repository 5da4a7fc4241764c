//! `RUNWARE_BENCH_PROFILE=native|reused|fresh`: only `RUNWARE_BENCH_N` calls of one row, after
//! `RUNWARE_BENCH_WARMUP` untimed ones, then exit. Made to run under
//! `valgrind --tool=callgrind`: two runs with different N, subtracted, give the instructions of
//! one call by function, with set-up, compilation and warm-up cancelled out. The compiled
//! component is cached in `<target>/bench-profile-cache`, so only the first run compiles.
//! `RUNWARE_BENCH_COMPONENT=x.wasm` profiles that component instead of the embedded one.

use std::time::Instant;

use runware_host::{ApiKey, Client, ClientConfig, Runtime, RuntimeConfig};

use crate::native::{Native, tasks_with_fresh_uuids};
use crate::settings::Settings;
use crate::setup::{Emulated, image_request, workspace_target_dir};

/// The row to profile.
#[derive(Debug, Clone, Copy)]
pub enum Profiled {
    Native,
    Reused,
    Fresh,
    /// The scale row alone (`RUNWARE_BENCH_IN_FLIGHT` calls in flight at once).
    InFlight,
    /// Reused-instance calls with the host's step marks: where a call's wall time goes.
    Steps,
}

impl Profiled {
    /// `RUNWARE_BENCH_PROFILE`, if set.
    pub fn from_env() -> anyhow::Result<Option<Profiled>> {
        Ok(
            match std::env::var("RUNWARE_BENCH_PROFILE").ok().as_deref() {
                None | Some("") => None,
                Some("native") => Some(Profiled::Native),
                Some("reused") => Some(Profiled::Reused),
                Some("fresh") => Some(Profiled::Fresh),
                Some("in-flight") => Some(Profiled::InFlight),
                Some("steps") => Some(Profiled::Steps),
                Some(other) => {
                    anyhow::bail!(
                        "RUNWARE_BENCH_PROFILE={other}: expected native, reused, fresh, in-flight or steps"
                    )
                }
            },
        )
    }
}

/// Runs the warm-up and the N calls of `row`, printing the mean wall time per call to stderr.
pub async fn run(row: Profiled, s: &Settings, emu: &Emulated) -> anyhow::Result<()> {
    let request = image_request();
    let runtime = Runtime::new(RuntimeConfig {
        // A variant of the component to profile (say, one built with other settings).
        component: std::env::var_os("RUNWARE_BENCH_COMPONENT").map(Into::into),
        cache_dir: Some(workspace_target_dir().join("bench-profile-cache")),
        // `RUNWARE_BENCH_PERF_MAP=1`: name the component's functions for callgrind.
        perf_map: std::env::var_os("RUNWARE_BENCH_PERF_MAP").is_some_and(|v| v == "1"),
        ..RuntimeConfig::default()
    })?;
    let config = ClientConfig {
        max_idle_instances: usize::from(matches!(row, Profiled::Reused | Profiled::Steps)),
        ..ClientConfig::with_api_key(ApiKey::new(emu.key.as_str()))
            .base_url(emu.handle.base_url())
            .max_retries(0)
    };
    let client = Client::new(&runtime, config)?;
    let elapsed = match row {
        Profiled::Steps => {
            for _ in 0..s.warmup {
                client.text_to_image(&request).await?;
            }
            runware_host::steps::start_recording();
            let t = Instant::now();
            for _ in 0..s.n {
                client.text_to_image(&request).await?;
            }
            let elapsed = t.elapsed();
            print_steps(&runware_host::steps::stop_recording());
            elapsed
        }
        Profiled::InFlight => {
            let r = crate::in_flight::measure(
                &crate::cli::cli_binary()?,
                &runtime,
                s.in_flight,
                std::time::Duration::from_millis(s.in_flight_latency_ms),
            )
            .await?;
            eprintln!(
                "bench: in flight: {} of {} succeeded in {:.1} s; RSS {} MiB before, peak {} MiB{}",
                r.succeeded,
                r.calls,
                r.wall.as_secs_f64(),
                r.rss_before_bytes >> 20,
                r.rss_peak_bytes >> 20,
                r.skipped
                    .map(|w| format!(" (skipped: {w})"))
                    .unwrap_or_default()
            );
            return Ok(());
        }
        Profiled::Native => {
            let prepared: serde_json::Value =
                serde_json::from_str(&client.prepare_text_to_image(&request).await?)?;
            let template = prepared
                .as_array()
                .and_then(|a| a.first())
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("prepare_text_to_image gave no task"))?;
            let mut native = Native::connect(emu.handle.addr(), &emu.key).await?;
            for _ in 0..s.warmup {
                native.post(&tasks_with_fresh_uuids(&template, 1)).await?;
            }
            let t = Instant::now();
            for _ in 0..s.n {
                native.post(&tasks_with_fresh_uuids(&template, 1)).await?;
            }
            t.elapsed()
        }
        Profiled::Reused | Profiled::Fresh => {
            for _ in 0..s.warmup {
                client.text_to_image(&request).await?;
            }
            let t = Instant::now();
            for _ in 0..s.n {
                let r = client.text_to_image(&request).await?;
                anyhow::ensure!(!r.images.is_empty(), "no image");
            }
            t.elapsed()
        }
    };
    eprintln!(
        "bench: profile {row:?}: {} calls, {:.1} µs per call (wall)",
        s.n,
        elapsed.as_secs_f64() * 1e6 / s.n.max(1) as f64
    );
    Ok(())
}

/// The median of each step-to-step segment over the recorded calls (one call at a time, so the
/// marks of one call are contiguous, each call starting at `CallStart`).
fn print_steps(marks: &[(runware_host::steps::Step, Instant)]) {
    use runware_host::steps::Step;
    const SEGMENTS: [(Step, Step, &str); 4] = [
        (
            Step::CallStart,
            Step::RequestAtHost,
            "call start -> request at the host hook (instance, lowering, JSON, request resources)",
        ),
        (
            Step::RequestAtHost,
            Step::ResponseHead,
            "hook -> response head (body written through wasi:http, wire, emulator, wire)",
        ),
        (
            Step::ResponseHead,
            Step::BodyEnd,
            "response head -> body read to its end by the component",
        ),
        (
            Step::BodyEnd,
            Step::CallEnd,
            "body end -> call returns (parse, results, lifting, return to the caller)",
        ),
    ];
    let calls: Vec<&[(Step, Instant)]> = marks
        .split_inclusive(|(step, _)| *step == Step::CallEnd)
        .collect();
    for (from, to, what) in SEGMENTS {
        let mut d: Vec<f64> = calls
            .iter()
            .filter_map(|c| {
                let a = c.iter().find(|(s, _)| *s == from)?.1;
                let b = c.iter().rev().find(|(s, _)| *s == to)?.1;
                Some(b.saturating_duration_since(a).as_secs_f64() * 1e6)
            })
            .collect();
        d.sort_by(f64::total_cmp);
        let p50 = d.get(d.len() / 2).copied().unwrap_or(0.0);
        eprintln!(
            "bench: steps: {p50:>8.1} µs p50  {what} ({} calls)",
            d.len()
        );
    }
}
