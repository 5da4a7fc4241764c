//! Runs the `runware` binary for the CLI cold-run rows: `RUNWARE_BENCH_CLI`, or a release build
//! of the `runware-cli` crate made first.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use anyhow::{Context as _, bail};

use crate::setup::workspace_target_dir;
use crate::stats::Lat;

/// The `runware` CLI to time: `RUNWARE_BENCH_CLI` when set, else a release build of the
/// `runware-cli` crate, built now by the cargo running this benchmark (a bench can only name its
/// own package's binaries, and the CLI is its own crate). It lands in the same target directory.
pub fn cli_binary() -> anyhow::Result<PathBuf> {
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

/// Which compiled-code cache a CLI run starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CliCache {
    /// A new empty directory per run: every run compiles the component.
    Empty,
    /// One directory filled by an untimed run first: every run loads compiled code.
    Warm,
}

/// Wall time of `runs` runs of the `runware` CLI (`model-search` against the emulator).
pub fn cli_runs(
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

/// One `runware model-search` run; fails unless it succeeded and printed something.
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

/// `runware batch` on `jobs` image lines at concurrency `k` against the bench's emulator (no
/// faults): the whole run's wall time (line checks, journal and manifest fsyncs, saved files
/// included) as a throughput, and the jobs per second the runner itself reports once sending.
pub struct BatchRun {
    pub tput: crate::stats::Tput,
    /// The `… jobs/s` of the runner's summary line.
    pub runner_jobs_per_second: f64,
}

pub fn batch_run(
    exe: &Path,
    base_url: &str,
    key: &str,
    jobs: usize,
    k: usize,
) -> anyhow::Result<BatchRun> {
    use std::io::Write as _;
    let dir = tempfile::tempdir()?;
    let input = dir.path().join("jobs.jsonl");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&input)?);
    for i in 0..jobs {
        writeln!(
            file,
            r#"{{"textToImage": {{"prompt": "a lighthouse {i}", "width": 512, "height": 512, "outputType": "base64Data"}}}}"#
        )?;
    }
    file.flush()?;
    drop(file);
    let out_dir = dir.path().join("out");
    let t = Instant::now();
    let out = std::process::Command::new(exe)
        .args(["--base-url", base_url, "batch"])
        .arg(&input)
        .arg("--out")
        .arg(&out_dir)
        .args(["--concurrency", &k.to_string()])
        .env(runware_host::API_KEY_ENV, key)
        .env(runware_host::CACHE_DIR_ENV, dir.path().join("cache"))
        .stdin(Stdio::null())
        .output()?;
    let wall = t.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!("runware batch failed ({}): {stderr}", out.status);
    }
    let manifest = std::fs::read_to_string(out_dir.join("manifest.jsonl"))?;
    let done = manifest
        .lines()
        .filter(|l| l.contains(r#""status":"success""#))
        .count();
    if done != jobs {
        bail!("runware batch: {done} of {jobs} lines succeeded: {stderr}");
    }
    let runner_jobs_per_second = stderr
        .split_whitespace()
        .collect::<Vec<_>>()
        .windows(2)
        .find(|w| w.get(1).is_some_and(|u| u.starts_with("jobs/s")))
        .and_then(|w| w.first())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0);
    Ok(BatchRun {
        tput: crate::stats::Tput {
            tasks: jobs,
            wall,
            cpu: std::time::Duration::ZERO,
        },
        runner_jobs_per_second,
    })
}
