//! The benchmark's knobs, read from the environment (see the crate docs for the list).

/// The benchmark's settings, from the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub n: usize,
    pub warmup: usize,
    pub sdk_n: usize,
    pub instantiations: usize,
    pub cli_runs: usize,
    pub tasks: usize,
    pub k: usize,
    pub batch: usize,
    /// Calls in flight at once in the scale row.
    pub in_flight: usize,
    /// How long the emulator holds each answer in the scale row, in milliseconds.
    pub in_flight_latency_ms: u64,
}

impl Settings {
    pub fn from_env() -> Settings {
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
            in_flight: get("RUNWARE_BENCH_IN_FLIGHT", 10_000),
            in_flight_latency_ms: std::env::var("RUNWARE_BENCH_IN_FLIGHT_LATENCY_MS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(3000),
            // K and the batch size shape the scenario rather than its length, so QUICK leaves
            // them alone.
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

/// `RUNWARE_BENCH_CLIENT_THREADS`: the clients' tokio worker threads (default 2; 0 for a
/// current-thread runtime).
pub fn client_threads() -> usize {
    std::env::var("RUNWARE_BENCH_CLIENT_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
}
