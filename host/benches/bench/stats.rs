//! How rows are measured and summarised: sequential timing ([`time_seq`]) into latency
//! percentiles ([`Lat`]), the concurrent throughput driver ([`throughput`], over [`Worker`]s)
//! into [`Tput`], and the process's CPU time and the machine's load average.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;

/// Latency statistics of one scenario.
#[derive(Debug, Clone, Copy)]
pub struct Lat {
    pub n: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub mean: Duration,
}

impl Lat {
    pub fn of(mut samples: Vec<Duration>) -> Lat {
        samples.sort();
        // Nearest-rank percentile: the smallest sample with at least `pct`% of them at or below
        // it (integer arithmetic: no float rounding at the boundary).
        let pick = |pct: usize| {
            samples
                .get((samples.len() * pct).div_ceil(100).saturating_sub(1))
                .copied()
                .unwrap_or_default()
        };
        let total: Duration = samples.iter().sum();
        Lat {
            n: samples.len(),
            p50: pick(50),
            p99: pick(99),
            mean: total / u32::try_from(samples.len().max(1)).unwrap_or(u32::MAX),
        }
    }
}

/// Times `n` sequential runs of `f` after `warmup` untimed ones.
pub async fn time_seq<F, Fut>(warmup: usize, n: usize, mut f: F) -> anyhow::Result<Lat>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
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

/// Throughput of one scenario: tasks completed, the wall time and the CPU time this process
/// (clients and emulator together) spent.
#[derive(Debug, Clone, Copy)]
pub struct Tput {
    pub tasks: usize,
    pub wall: Duration,
    pub cpu: Duration,
}

impl Tput {
    pub fn cpu_per_task(&self) -> Duration {
        self.cpu / u32::try_from(self.tasks.max(1)).unwrap_or(u32::MAX)
    }

    pub fn per_second(&self) -> f64 {
        (self.tasks as f64 / self.wall.as_secs_f64().max(1e-9)).round()
    }
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

/// The 1, 5 and 15 minute load averages (`/proc/loadavg`), printed with the results: a loaded
/// machine makes every row slower, the ratios less so.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// One throughput worker: a connection or a component client.
pub trait Worker: Send {
    /// Sends one call of `batch` tasks; returns how many succeeded.
    fn call(
        &mut self,
        batch: usize,
    ) -> Pin<Box<dyn Future<Output = anyhow::Result<usize>> + Send + '_>>;
}

/// `total` tasks in calls of `batch` tasks through `k` workers made by `make`; fails unless
/// every task succeeded.
pub async fn throughput<F, Fut>(
    total: usize,
    batch: usize,
    k: usize,
    make: F,
) -> anyhow::Result<Tput>
where
    F: Fn() -> Fut,
    Fut: Future<Output = anyhow::Result<Box<dyn Worker>>>,
{
    let calls = total.div_ceil(batch);
    let next = Arc::new(AtomicUsize::new(0));
    // Workers (and their connections) are made before the clock starts.
    let mut workers = Vec::new();
    for _ in 0..k {
        workers.push(make().await?);
    }
    let start = Instant::now();
    let cpu_start = process_cpu();
    let mut joins = Vec::new();
    for mut w in workers {
        let next = Arc::clone(&next);
        // Workers take calls from one shared counter, so a slow one does not hold back the end.
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
