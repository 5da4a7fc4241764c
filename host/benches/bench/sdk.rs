//! Runs Runware's official Python SDK (`../sdk_bench.py`, in the venv the emulator's SDK
//! conformance test creates) for row (d), and reads its samples back.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::Value;

use crate::stats::Lat;

/// Row (d): its latency and the SDK's version, or why it was skipped or failed (the row is
/// optional: the rest of the benchmark runs without Python).
pub type SdkOutcome = Result<(Lat, String), String>;

/// Runs the official Python SDK script; `Err` (with the reason) when the venv is missing or the
/// script fails.
pub async fn sdk_latency(
    venv: &Path,
    base_url: &str,
    key: &str,
    n: usize,
    warmup: usize,
) -> anyhow::Result<SdkOutcome> {
    let python = venv.join("bin").join("python");
    if !python.exists() {
        return Ok(Err(format!(
            "skipped: {} does not exist (run `cargo test -p runware-emulator --test it \
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
        // The key is throwaway, but a traceback that echoes it is still not printed as is.
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
    let mut samples: Vec<Duration> = v
        .get("samplesUs")
        .and_then(Value::as_array)
        .context("samplesUs")?
        .iter()
        .filter_map(Value::as_f64)
        .map(|x| Duration::from_secs_f64(x / 1e6))
        .collect();
    samples.sort();
    let version = v
        .get("sdkVersion")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string();
    Ok(Ok((Lat::of(samples), version)))
}
