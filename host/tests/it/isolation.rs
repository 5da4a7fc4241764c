//! Many client instances in one host process at once: one instance's failure does not disturb
//! the others. While healthy clients make calls, other instances in the same process trap on
//! their memory cap, are interrupted by their execution limit (same engine, same epoch counter
//! as the healthy ones), are refused a destination outside the allow-list, and talk to
//! emulators that stall their bodies or answer 503 to everything. Every healthy call succeeds,
//! and every disturber fails the way it should.

use std::sync::Arc;
use std::time::Duration;

use runware_emulator::{EmulatorHandle, Fault, FaultRule, ImageMode};
use runware_host::{Client, ClientConfig, ClientOptions, Error, ErrorKind, Runtime, RuntimeConfig};
use tokio::sync::Barrier;

use crate::common::{
    emulator_builder, new_runtime, ok, ok_with, options, runtime, runtime_config, search, start,
    test_key, trap_message,
};

async fn emulator(key: &str, fault: Option<Fault>, latency: Duration) -> EmulatorHandle {
    let mut builder = emulator_builder(key)
        .image_mode(ImageMode::Placeholder)
        .latency(latency);
    if let Some(fault) = fault {
        builder = builder.fault(FaultRule::new(fault));
    }
    start(builder).await
}

/// The shared emulator configuration with a 500 ms between-bytes timeout (for the stalled body).
fn config(emu: &EmulatorHandle, key: &str) -> ClientConfig {
    ClientConfig {
        options: ClientOptions {
            between_bytes_timeout_ms: Some(500),
            ..options(emu)
        },
        ..crate::common::config(emu, Some(key))
    }
}

/// How a disturber is expected to fail.
#[derive(Debug, Clone, Copy)]
enum Fails {
    Trap(&'static str),
    Kind(ErrorKind),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_instance_failing_does_not_disturb_the_others() {
    const HEALTHY: usize = 6;
    const CALLS_EACH: usize = 3;
    let key = test_key("isolation");
    let healthy_emu = emulator(&key, None, Duration::ZERO).await;
    let slow_emu = emulator(&key, None, Duration::from_millis(600)).await;
    let stalled_emu = emulator(&key, Some(Fault::StalledBody), Duration::ZERO).await;
    let failing_emu = emulator(
        &key,
        Some(Fault::HttpStatus {
            status: 503,
            retry_after: None,
        }),
        Duration::ZERO,
    )
    .await;

    let capped = new_runtime(RuntimeConfig {
        max_memory_bytes: 64 << 10,
        ..runtime_config()
    });
    let new = |rt: &Runtime, c: ClientConfig| ok(Client::new(rt, c));
    let disturbers: Vec<(&str, Client, Fails)> = vec![
        (
            "memory cap",
            new(&capped, config(&healthy_emu, &key)),
            Fails::Trap("memory"),
        ),
        (
            "execution limit",
            new(
                &runtime(),
                ClientConfig {
                    execution_limit: Some(Duration::from_millis(100)),
                    ..config(&slow_emu, &key)
                },
            ),
            Fails::Trap("execution limit exceeded"),
        ),
        (
            "stalled body",
            new(&runtime(), config(&stalled_emu, &key)),
            Fails::Kind(ErrorKind::Transport),
        ),
        (
            "HTTP 503 on every request",
            new(&runtime(), config(&failing_emu, &key)),
            Fails::Kind(ErrorKind::Server),
        ),
    ];
    // The allow-list refusal is a download from another authority.
    let denied = new(&runtime(), config(&healthy_emu, &key));
    let elsewhere = format!("http://127.0.0.1:{}/images/x.png", slow_emu.addr().port());

    let start = Arc::new(Barrier::new(HEALTHY + disturbers.len() + 1));
    let mut healthy = Vec::new();
    for _ in 0..HEALTHY {
        let client = new(&runtime(), config(&healthy_emu, &key));
        let start = Arc::clone(&start);
        healthy.push(tokio::spawn(async move {
            start.wait().await;
            let mut results = Vec::new();
            for _ in 0..CALLS_EACH {
                results.push(client.model_search(&search()).await);
            }
            results
        }));
    }
    let mut disturbed = Vec::new();
    for (name, client, fails) in disturbers {
        let start = Arc::clone(&start);
        disturbed.push(tokio::spawn(async move {
            start.wait().await;
            (name, fails, client.model_search(&search()).await.err())
        }));
    }
    let refusal = {
        let start = Arc::clone(&start);
        tokio::spawn(async move {
            start.wait().await;
            denied.download(&elsewhere).await.err()
        })
    };

    for (name, fails, err) in futures_join(disturbed).await {
        eprintln!("{name}: {err:?}");
        let trapped = err.as_ref().and_then(trap_message);
        match (fails, &err, trapped) {
            (Fails::Trap(needle), _, Some(message)) => {
                assert!(message.contains(needle), "{name}: {message}")
            }
            (Fails::Kind(kind), Some(e), _) => assert_eq!(e.kind(), Some(kind), "{name}: {e}"),
            _ => panic!("{name}: expected {fails:?}, got {err:?}"),
        }
    }
    let refused = refusal.await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        refused.as_ref().and_then(Error::kind),
        Some(ErrorKind::Transport),
        "the allow-list refusal is a typed transport error: {refused:?}"
    );
    let mut succeeded = 0;
    for results in futures_join(healthy).await {
        for r in results {
            let found = ok_with(r, "a healthy call was disturbed");
            assert!(!found.results.is_empty());
            succeeded += 1;
        }
    }
    assert_eq!(succeeded, HEALTHY * CALLS_EACH);
    // The healthy emulator answered every request it got (the memory-capped instance may
    // not have got as far as sending), and nothing reached it from the refused download.
    let log = healthy_emu.request_log();
    assert!(
        log.iter().all(|r| r.status == 200 && r.fault.is_none()),
        "{log:?}"
    );
    assert!(log.iter().all(|r| r.method == "POST"), "{log:?}");
    for emu in [healthy_emu, slow_emu, stalled_emu, failing_emu] {
        emu.stop().await;
    }
}

/// Awaits every task in order.
async fn futures_join<T>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.unwrap_or_else(|e| panic!("a task failed: {e}")));
    }
    out
}
