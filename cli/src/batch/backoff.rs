//! The shared back-off of a batch: one [`Gate`] every job passes before each request.
//!
//! It follows the AWS SDK's standard retry mode (`../shared/STYLE.md`): a retry budget (a
//! token bucket) that a transient failure spends and a success refills. On top of it, the
//! whole batch pauses (one shared delay, exponential, capped, with jitter) when the budget is
//! empty or when many requests in a row failed transiently (429/5xx, transport, a transient
//! task error): a service in trouble then sees the batch slow down as one, instead of every job
//! retrying at full rate. Each retry also waits its own small full-jitter delay, so retries do
//! not arrive in lockstep. The state is behind one mutex and the decisions take `now` as an
//! argument, so they are tested without sleeping.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng as _, SeedableRng as _};

/// The budget and the delays.
#[derive(Debug, Clone)]
pub struct GateConfig {
    /// Tokens in a full bucket (AWS: 500).
    pub capacity: u32,
    /// What a transient failure costs (AWS: 5).
    pub retry_cost: u32,
    /// What a timeout costs (AWS: 10).
    pub timeout_cost: u32,
    /// What a first-try success refunds (AWS: 1); a success after retries refunds the retry
    /// cost.
    pub success_refund: u32,
    /// Transient failures in a row (across the batch) that pause it.
    pub storm: u32,
    /// The first shared pause; each following one doubles, up to `pause_cap`.
    pub pause_base: Duration,
    /// The longest shared pause (AWS's backoff cap: 20 s).
    pub pause_cap: Duration,
    /// The ceiling of a job's own first retry delay; doubled per attempt, up to `retry_cap`.
    pub retry_base: Duration,
    /// The longest own retry delay.
    pub retry_cap: Duration,
}

impl GateConfig {
    /// The defaults for `concurrency` jobs in flight: a storm is half of them failing in a
    /// row (at least 4), so that a few random faults never pause the batch.
    pub fn for_concurrency(concurrency: u32) -> Self {
        GateConfig {
            capacity: 500,
            retry_cost: 5,
            timeout_cost: 10,
            success_refund: 1,
            storm: (concurrency / 2).max(4),
            pause_base: Duration::from_millis(250),
            pause_cap: Duration::from_secs(20),
            retry_base: Duration::from_millis(200),
            retry_cap: Duration::from_secs(5),
        }
    }
}

/// What the gate did, for the summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GateStats {
    /// Transient failures seen (each one a retry or a line left incomplete).
    pub failures: u64,
    /// Shared pauses of the whole batch.
    pub pauses: u64,
    /// Their summed length.
    pub paused: Duration,
    /// Tokens left in the bucket.
    pub tokens: u32,
}

#[derive(Debug)]
struct State {
    tokens: u32,
    in_a_row: u32,
    level: u32,
    paused_until: Option<Instant>,
    stats: GateStats,
    rng: SmallRng,
}

/// The shared back-off.
#[derive(Debug)]
pub struct Gate {
    config: GateConfig,
    state: Mutex<State>,
}

impl Gate {
    /// A gate with a full bucket; `seed` drives the jitter.
    pub fn new(config: GateConfig, seed: u64) -> Self {
        let state = State {
            tokens: config.capacity,
            in_a_row: 0,
            level: 0,
            paused_until: None,
            stats: GateStats::default(),
            rng: SmallRng::seed_from_u64(seed),
        };
        Gate {
            config,
            state: Mutex::new(state),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How long a request must wait at `now` before it may go (zero: go).
    pub fn delay(&self, now: Instant) -> Duration {
        self.state()
            .paused_until
            .map_or(Duration::ZERO, |t| t.saturating_duration_since(now))
    }

    /// Waits until the batch is not paused.
    pub async fn wait_turn(&self) {
        loop {
            let d = self.delay(Instant::now());
            if d.is_zero() {
                return;
            }
            tokio::time::sleep(d).await;
        }
    }

    /// A request succeeded: the bucket is refilled (by the retry cost when it was a retry),
    /// the run of failures ends, and the pause level steps down.
    pub fn on_success(&self, was_retry: bool) {
        let c = &self.config;
        let mut s = self.state();
        let refund = if was_retry {
            c.retry_cost
        } else {
            c.success_refund
        };
        s.tokens = s.tokens.saturating_add(refund).min(c.capacity);
        s.in_a_row = 0;
        s.level = s.level.saturating_sub(1);
    }

    /// A request failed transiently at `now`, on a job's attempt number `attempt` (1 for its
    /// first request): spends the budget, pauses the whole batch when the budget is empty or
    /// the failures form a storm (unless it is paused already), and returns the job's own
    /// delay before its retry.
    pub fn on_transient(&self, attempt: u32, timeout: bool, now: Instant) -> Duration {
        let c = &self.config;
        let mut s = self.state();
        s.stats.failures = s.stats.failures.saturating_add(1);
        let cost = if timeout {
            c.timeout_cost
        } else {
            c.retry_cost
        };
        let empty = s.tokens < cost;
        s.tokens = s.tokens.saturating_sub(cost);
        s.in_a_row = s.in_a_row.saturating_add(1);
        let paused = s.paused_until.is_some_and(|t| t > now);
        if (empty || s.in_a_row >= c.storm) && !paused {
            let ceiling = doubled(c.pause_base, s.level, c.pause_cap);
            // Equal jitter: at least half the ceiling, so a pause is never nothing.
            let half = ceiling / 2;
            let extra = jitter(&mut s.rng, ceiling.saturating_sub(half));
            let pause = half.saturating_add(extra);
            s.paused_until = Some(now + pause);
            s.level = s.level.saturating_add(1).min(16);
            s.in_a_row = 0;
            s.stats.pauses = s.stats.pauses.saturating_add(1);
            s.stats.paused = s.stats.paused.saturating_add(pause);
        }
        let ceiling = doubled(c.retry_base, attempt.saturating_sub(1), c.retry_cap);
        jitter(&mut s.rng, ceiling)
    }

    /// What the gate did so far.
    pub fn stats(&self) -> GateStats {
        let s = self.state();
        GateStats {
            tokens: s.tokens,
            ..s.stats
        }
    }
}

/// `base` × 2^`n`, at most `cap`.
fn doubled(base: Duration, n: u32, cap: Duration) -> Duration {
    base.saturating_mul(1u32.checked_shl(n.min(20)).unwrap_or(u32::MAX))
        .min(cap)
}

/// Uniform in [0, `ceiling`] (full jitter).
fn jitter(rng: &mut SmallRng, ceiling: Duration) -> Duration {
    let ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rng.random_range(0..=ms))
}
