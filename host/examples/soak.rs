//! Soak run (issue 4): N image tasks through K concurrent clients (every call in its own
//! component instance) against one in-process emulator that injects seeded random transient
//! faults into 10 % of the requests (HTTP 429/5xx, transient task errors, resets after accept,
//! truncated bodies). Afterwards the emulator's request log is checked: every task ended exactly
//! once (a result or a typed error), none was lost or duplicated, no taskUUID was executed twice
//! and no task was billed twice under two taskUUIDs.
//!
//! ```text
//! cargo run --release -p runware-host --example soak -- --tasks 10000 --instances 8
//! ```
//!
//! Options: `--tasks N` (10000), `--instances K` (8), `--rate R` (0.1), `--seed S` (42).
//! CI runs the same code with 1,000 tasks (`host/tests/it/soak.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use runware_emulator::{Emulator, Fault, FaultRule, ImageMode};
use runware_host::{
    ApiKey, Client, ClientConfig, ClientOptions, Error, ImageRequest, Runtime, millis,
};

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct SoakOptions {
    /// Tasks (calls) to send.
    pub tasks: usize,
    /// Concurrent clients.
    pub instances: usize,
    /// Fraction of the requests that get a random transient fault.
    pub fault_rate: f64,
    /// Seed of the emulator's fault generator.
    pub seed: u64,
}

impl Default for SoakOptions {
    fn default() -> Self {
        Self {
            tasks: 10_000,
            instances: 8,
            fault_rate: 0.10,
            seed: 42,
        }
    }
}

/// The soak's figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Tasks sent (calls made).
    pub sent: usize,
    /// Calls that returned a result.
    pub succeeded: usize,
    /// Calls that returned a typed error naming their taskUUID.
    pub failed_typed: usize,
    /// Calls that ended without an outcome, in a trap or host error, with an error naming no
    /// task, or with a result the emulator never produced.
    pub lost: usize,
    /// Outcomes reported twice: a taskUUID or an image returned by two calls, a call with
    /// more images than asked, a call that ended twice.
    pub duplicated: usize,
    /// taskUUIDs the emulator executed more than once.
    pub executed_twice: usize,
    /// Tasks billed under two or more taskUUIDs (a successful task sent again as new).
    pub billed_twice: usize,
    /// Calls that failed although the emulator executed (billed) their task.
    pub billed_but_failed: usize,
    /// HTTP requests the emulator saw.
    pub requests: usize,
    /// Requests that got an injected fault.
    pub faulted_requests: usize,
    /// The typed errors by code, e.g. `rateLimitExceeded: 3`.
    pub failure_codes: BTreeMap<String, usize>,
    /// For the first few failed tasks: the requests the emulator saw for them (fault, status).
    pub failure_histories: Vec<String>,
    /// For the first few calls that ended in a trap or host error: the whole error (a trap's message
    /// ends with what the component wrote to stderr).
    pub untyped_errors: Vec<String>,
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "sent {} succeeded {} failed-typed {} lost {} duplicated {} executed-twice {} \
             billed-twice {} billed-but-failed {} (requests {}, faulted {})",
            self.sent,
            self.succeeded,
            self.failed_typed,
            self.lost,
            self.duplicated,
            self.executed_twice,
            self.billed_twice,
            self.billed_but_failed,
            self.requests,
            self.faulted_requests
        )?;
        if !self.failure_codes.is_empty() {
            write!(f, "; typed errors: {:?}", self.failure_codes)?;
        }
        for error in &self.untyped_errors {
            write!(f, "\n  untyped error: {error}")?;
        }
        Ok(())
    }
}

/// How one call ended.
#[derive(Debug, Clone)]
enum Outcome {
    Result {
        task_uuid: String,
        images: Vec<String>,
    },
    Typed {
        task_uuid: Option<String>,
        code: String,
    },
    /// A trap or host error, with its whole message.
    Untyped(String),
}

fn prompt(index: usize) -> String {
    format!("soak task {index}: a lighthouse on a cliff")
}

/// The task index a prompt names.
fn index_of(prompt: &str) -> Option<usize> {
    prompt
        .strip_prefix("soak task ")?
        .split(':')
        .next()?
        .parse()
        .ok()
}

/// Runs the soak against a fresh emulator and returns its figures.
pub async fn soak(runtime: &Runtime, options: SoakOptions) -> Result<Counts, String> {
    let key = format!("test-soak-{}", std::process::id());
    let emu = Emulator::builder()
        .api_key(&key)
        .image_mode(ImageMode::Placeholder)
        .fault(FaultRule::new(Fault::RandomTransient).rate(options.fault_rate, options.seed))
        .start()
        .await
        .map_err(|e| format!("the emulator did not start: {e}"))?;
    let config = ClientConfig {
        api_key: Some(ApiKey::new(key.clone())),
        options: ClientOptions {
            base_url: Some(emu.base_url()),
            max_retries: Some(3),
            deadline_ms: Some(millis(Duration::from_secs(120))),
            first_byte_timeout_ms: Some(millis(Duration::from_secs(30))),
            between_bytes_timeout_ms: Some(millis(Duration::from_secs(10))),
            poll_interval_ms: Some(millis(Duration::from_millis(20))),
            poll_deadline_ms: Some(millis(Duration::from_secs(60))),
            ..ClientOptions::default()
        },
        ..ClientConfig::default()
    };
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..options.instances.max(1) {
        let client = Client::new(runtime, config.clone()).map_err(|e| e.to_string())?;
        let next = Arc::clone(&next);
        let total = options.tasks;
        workers.push(tokio::spawn(async move {
            let mut ended = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= total {
                    break;
                }
                let request = ImageRequest {
                    width: Some(512),
                    height: Some(512),
                    ..ImageRequest::new(prompt(index))
                };
                let outcome = match client.text_to_image(&request).await {
                    Ok(r) => Outcome::Result {
                        images: r.images.iter().map(|i| i.image_uuid.clone()).collect(),
                        task_uuid: r.task_uuid,
                    },
                    Err(Error::Api { detail, .. }) => Outcome::Typed {
                        task_uuid: detail.task_uuid,
                        code: detail.code,
                    },
                    Err(e) => Outcome::Untyped(e.to_string()),
                };
                ended.push((index, outcome));
            }
            ended
        }));
    }
    let mut outcomes: Vec<Vec<Outcome>> = vec![Vec::new(); options.tasks];
    for worker in workers {
        let ended = worker.await.map_err(|e| format!("a worker failed: {e}"))?;
        for (index, outcome) in ended {
            if let Some(slot) = outcomes.get_mut(index) {
                slot.push(outcome);
            }
        }
    }
    let log = emu.request_log();
    // Per task index: every taskUUID sent for it, and those the emulator executed.
    let mut sent_uuids: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    let mut executed_uuids: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    let mut all_uuids = BTreeSet::new();
    let mut counts = Counts {
        sent: options.tasks,
        requests: log.iter().filter(|r| r.method == "POST").count(),
        faulted_requests: log.iter().filter(|r| r.fault.is_some()).count(),
        ..Counts::default()
    };
    for request in &log {
        let Ok(serde_json::Value::Array(tasks)) = serde_json::from_str(&request.body) else {
            continue;
        };
        for task in &tasks {
            let uuid = task.get("taskUUID").and_then(|v| v.as_str());
            let index = task
                .get("positivePrompt")
                .and_then(|v| v.as_str())
                .and_then(index_of);
            if let (Some(uuid), Some(index)) = (uuid, index) {
                all_uuids.insert(uuid.to_string());
                sent_uuids
                    .entry(index)
                    .or_default()
                    .insert(uuid.to_string());
                if request.executed.iter().any(|e| e == uuid) {
                    executed_uuids
                        .entry(index)
                        .or_default()
                        .insert(uuid.to_string());
                }
            }
        }
    }
    counts.executed_twice = all_uuids.iter().filter(|u| emu.executions(u) > 1).count();
    counts.billed_twice = executed_uuids.values().filter(|s| s.len() > 1).count();
    let mut reported_uuids: BTreeMap<String, usize> = BTreeMap::new();
    let mut reported_images: BTreeMap<String, usize> = BTreeMap::new();
    for (index, ended) in outcomes.iter().enumerate() {
        match ended.as_slice() {
            [] => counts.lost += 1,
            [_, _, ..] => counts.duplicated += 1,
            [_] => {}
        }
        let Some(outcome) = ended.first() else {
            continue;
        };
        let billed = executed_uuids.get(&index).is_some_and(|s| !s.is_empty());
        match outcome {
            Outcome::Result { task_uuid, images } => {
                counts.succeeded += 1;
                if emu.executions(task_uuid) == 0
                    || !sent_uuids
                        .get(&index)
                        .is_some_and(|s| s.contains(task_uuid))
                {
                    counts.lost += 1;
                }
                if images.len() != 1 {
                    counts.duplicated += 1;
                }
                *reported_uuids.entry(task_uuid.clone()).or_default() += 1;
                for image in images {
                    *reported_images.entry(image.clone()).or_default() += 1;
                }
            }
            Outcome::Typed { task_uuid, code } => {
                counts.failed_typed += 1;
                *counts.failure_codes.entry(code.clone()).or_default() += 1;
                if counts.failure_histories.len() < 5 {
                    let uuids = sent_uuids.get(&index).cloned().unwrap_or_default();
                    let history: Vec<String> = log
                        .iter()
                        .filter(|r| r.task_uuids.iter().any(|u| uuids.contains(u)))
                        .map(|r| {
                            let kind = if r.body.contains("getResponse") {
                                "poll"
                            } else {
                                "submit"
                            };
                            let uuid = r.task_uuids.first().map_or("", |u| u.get(..8).unwrap_or(u));
                            format!("{kind} {uuid} -> {} {:?}", r.status, r.fault)
                        })
                        .collect();
                    counts
                        .failure_histories
                        .push(format!("task {index} ({code}): {}", history.join(", ")));
                }
                if billed {
                    counts.billed_but_failed += 1;
                }
                match task_uuid {
                    Some(u) if sent_uuids.get(&index).is_some_and(|s| s.contains(u)) => {
                        *reported_uuids.entry(u.clone()).or_default() += 1;
                    }
                    _ => counts.lost += 1,
                }
            }
            Outcome::Untyped(error) => {
                counts.lost += 1;
                if counts.untyped_errors.len() < 5 {
                    counts.untyped_errors.push(format!("task {index}: {error}"));
                }
            }
        }
    }
    counts.duplicated += reported_uuids.values().filter(|n| **n > 1).count();
    counts.duplicated += reported_images.values().filter(|n| **n > 1).count();
    emu.stop().await;
    Ok(counts)
}

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> Result<T, String> {
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{name} needs a value")),
    }
}

fn options(args: &[String]) -> Result<SoakOptions, String> {
    let d = SoakOptions::default();
    Ok(SoakOptions {
        tasks: arg(args, "--tasks", d.tasks)?,
        instances: arg(args, "--instances", d.instances)?,
        fault_rate: arg(args, "--rate", d.fault_rate)?,
        seed: arg(args, "--seed", d.seed)?,
    })
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("usage: soak [--tasks N] [--instances K] [--rate R] [--seed S]");
        return std::process::ExitCode::SUCCESS;
    }
    let options = match options(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("soak: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let runtime = match Runtime::embedded() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("soak: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    match soak(&runtime, options).await {
        Ok(counts) => {
            println!(
                "soak: {} tasks, {} instances, {:.0} % faults (seed {}), {:.1} s: {counts}",
                options.tasks,
                options.instances,
                options.fault_rate * 100.0,
                options.seed,
                started.elapsed().as_secs_f64()
            );
            for history in &counts.failure_histories {
                println!("  {history}");
            }
            let clean = counts.lost == 0
                && counts.duplicated == 0
                && counts.executed_twice == 0
                && counts.billed_twice == 0
                && counts.succeeded + counts.failed_typed == counts.sent;
            if clean {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("soak: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
