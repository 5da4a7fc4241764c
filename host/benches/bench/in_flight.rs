//! The scale row: `RUNWARE_BENCH_IN_FLIGHT` calls (10,000) in flight at once in this process,
//! against an emulator that holds every answer for `RUNWARE_BENCH_IN_FLIGHT_LATENCY_MS` (3,000),
//! so every call is alive at the same time: its instance, its fiber, its connection.
//!
//! The emulator runs as a child process (`runware emulate`), not in this process: 10,000
//! loopback connections are 20,000 file descriptors when both ends are in one process, more
//! than a common limit of 20,000 allows. This process raises its own soft limit to the hard one.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use runware_host::{ApiKey, Client, ClientConfig, Runtime};

use crate::setup::image_request;

/// What the row measured.
pub struct InFlight {
    pub calls: usize,
    pub succeeded: usize,
    pub latency: Duration,
    pub wall: Duration,
    /// This process's resident set before the row, and its peak during it.
    pub rss_before_bytes: u64,
    pub rss_peak_bytes: u64,
    /// Why the row did not run, if it did not.
    pub skipped: Option<String>,
}

/// The `runware emulate` child, killed on drop.
struct EmulatorProcess(Child);

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the row with the `runware` binary at `cli`.
pub async fn measure(
    cli: &Path,
    runtime: &Runtime,
    calls: usize,
    latency: Duration,
) -> anyhow::Result<InFlight> {
    let fd_limit = raise_fd_limit();
    if fd_limit < calls as u64 + 1024 {
        return Ok(InFlight::skipped(
            calls,
            latency,
            format!("the open-file limit is {fd_limit}, below {calls} connections plus 1024"),
        ));
    }
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let key = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let child = Command::new(cli)
        .args([
            "emulate",
            "--port",
            &port.to_string(),
            "--image-mode",
            "placeholder",
        ])
        .args(["--latency-ms", &latency.as_millis().to_string()])
        .args(["--api-key", &key])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting `runware emulate`")?;
    let _emulator = EmulatorProcess(child);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    wait_until_listening(addr, Duration::from_secs(30))?;

    // The default client: on-demand allocation, instance reuse as configured by default.
    let client = Client::new(
        runtime,
        ClientConfig::with_api_key(ApiKey::new(key.as_str())).base_url(format!("http://{addr}/v1")),
    )?;
    let request = Arc::new(image_request());
    let rss_before_bytes = status_kib("VmRSS:") * 1024;
    reset_peak_rss();
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..calls {
        let (client, request) = (client.clone(), Arc::clone(&request));
        tasks.spawn(async move { client.text_to_image(&request).await });
    }
    let mut succeeded = 0;
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(r)) if !r.images.is_empty() => succeeded += 1,
            Ok(Ok(_)) => first_error = first_error.or(Some("a call returned no image".to_string())),
            Ok(Err(e)) => first_error = first_error.or(Some(e.report())),
            Err(e) => first_error = first_error.or(Some(e.to_string())),
        }
    }
    let wall = start.elapsed();
    let rss_peak_bytes = status_kib("VmHWM:") * 1024;
    if let Some(e) = first_error {
        eprintln!("bench: in flight: first failure: {e}");
    }
    Ok(InFlight {
        calls,
        succeeded,
        latency,
        wall,
        rss_before_bytes,
        rss_peak_bytes,
        skipped: None,
    })
}

impl InFlight {
    fn skipped(calls: usize, latency: Duration, why: String) -> InFlight {
        InFlight {
            calls,
            succeeded: 0,
            latency,
            wall: Duration::ZERO,
            rss_before_bytes: 0,
            rss_peak_bytes: 0,
            skipped: Some(why),
        }
    }
}

/// Waits until something accepts connections at `addr` (the child has bound its port).
fn wait_until_listening(addr: SocketAddr, limit: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        // Polling a port: the child prints nothing we could wait on instead.
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("`runware emulate` did not listen on {addr} within {limit:?}")
}

/// Raises the soft open-file limit to the hard one; returns the limit now in force.
#[expect(
    unsafe_code,
    reason = "getrlimit/setrlimit are libc calls; they only read and write the struct given"
)]
fn raise_fd_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed to them.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    limit.rlim_cur
}

/// A `kB` line of `/proc/self/status` (0 where there is none, as off Linux).
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Resets `VmHWM` to the current RSS (Linux: writing 5 to `clear_refs`), so the peak read after
/// the row is the row's own.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
