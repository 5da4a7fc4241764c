//! Many client instances in one host process at once: one instance's failure does not disturb
//! the others. While healthy clients make calls, other instances in the same process trap on
//! their memory cap, are interrupted by their execution limit (same engine, same epoch counter
//! as the healthy ones), are refused a destination outside the allow-list, and talk to
//! emulators that stall their bodies or answer 503 to everything. Every healthy call succeeds,
//! and every disturber fails the way it should.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use runware_emulator::{Emulator, EmulatorHandle, Fault, FaultRule, ImageMode};
use runware_host::{
    ApiKey, Client, ClientConfig, Error, ErrorKind, ModelSearchRequest, Runtime, RuntimeConfig,
};
use tokio::sync::Barrier;

fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("runware-host-tests-cache")
}

fn runtime() -> Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            Runtime::new(RuntimeConfig {
                cache_dir: Some(cache_dir()),
                ..RuntimeConfig::default()
            })
            .unwrap_or_else(|e| panic!("the runtime must load: {e}"))
        })
        .clone()
}

async fn emulator(key: &str, fault: Option<Fault>, latency: Duration) -> EmulatorHandle {
    let mut builder = Emulator::builder()
        .api_key(key)
        .image_mode(ImageMode::Placeholder)
        .latency(latency);
    if let Some(fault) = fault {
        builder = builder.fault(FaultRule::new(fault));
    }
    builder
        .start()
        .await
        .unwrap_or_else(|e| panic!("the emulator must start: {e}"))
}

fn config(emu: &EmulatorHandle, key: &str) -> ClientConfig {
    ClientConfig {
        api_key: Some(ApiKey::new(key)),
        base_url: Some(emu.base_url()),
        max_retries: Some(1),
        deadline: Some(Duration::from_secs(30)),
        between_bytes_timeout: Some(Duration::from_millis(500)),
        ..ClientConfig::default()
    }
}

fn search() -> ModelSearchRequest {
    ModelSearchRequest {
        search: Some("flux".into()),
        limit: Some(2),
        ..ModelSearchRequest::default()
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
    let key = format!("test-isolation-{}", std::process::id());
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

    let capped = Runtime::new(RuntimeConfig {
        cache_dir: Some(cache_dir()),
        max_memory_bytes: 64 << 10,
        ..RuntimeConfig::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let new = |rt: &Runtime, c: ClientConfig| Client::new(rt, c).unwrap_or_else(|e| panic!("{e}"));
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
        match (fails, &err) {
            (Fails::Trap(needle), Some(Error::Trap(message))) => {
                assert!(message.contains(needle), "{name}: {message}")
            }
            (Fails::Kind(kind), Some(e)) => assert_eq!(e.kind(), Some(kind), "{name}: {e}"),
            _ => panic!("{name}: expected {fails:?}, got {err:?}"),
        }
    }
    let refused = refusal.await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        refused.as_ref().and_then(Error::kind),
        Some(ErrorKind::Transport),
        "the allow-list refusal is a typed transport error: {refused:?}"
    );
    let mut ok = 0;
    for results in futures_join(healthy).await {
        for r in results {
            let found = r.unwrap_or_else(|e| panic!("a healthy call was disturbed: {e}"));
            assert!(!found.results.is_empty());
            ok += 1;
        }
    }
    assert_eq!(ok, HEALTHY * CALLS_EACH);
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
