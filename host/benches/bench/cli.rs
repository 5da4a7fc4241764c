//! Runs the `runware` binary (the one cargo built with this bench) for the CLI cold-run rows.

use std::path::Path;
use std::process::Stdio;
use std::time::Instant;

use anyhow::bail;

use crate::stats::Lat;

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
