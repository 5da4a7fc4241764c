//! CI size of the soak run (`host/examples/soak.rs`): 1,000 tasks through 4 concurrent clients
//! against an emulator faulting 10 % of the requests at random. Every task ends exactly once,
//! none is lost, duplicated, executed twice or billed twice. The full run (10,000 tasks) is
//! `cargo run --release -p runware-host --example soak -- --tasks 10000 --instances 8`.

#[path = "../examples/soak.rs"]
#[allow(dead_code)]
mod soak;

use std::path::PathBuf;

use runware_host::{Runtime, RuntimeConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_tasks_under_random_faults_each_end_exactly_once() {
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("runware-host-tests-cache"),
        ),
        ..RuntimeConfig::default()
    })
    .unwrap_or_else(|e| panic!("the runtime must load: {e}"));
    let options = soak::SoakOptions {
        tasks: 1_000,
        instances: 4,
        ..soak::SoakOptions::default()
    };
    let counts = soak::soak(&runtime, options)
        .await
        .unwrap_or_else(|e| panic!("the soak could not run: {e}"));
    println!("soak (1,000 tasks): {counts}");
    assert_eq!(counts.sent, 1_000);
    assert!(
        counts.faulted_requests > 0,
        "faults were injected: {counts}"
    );
    assert_eq!(counts.lost, 0, "{counts}");
    assert_eq!(counts.duplicated, 0, "{counts}");
    assert_eq!(counts.executed_twice, 0, "{counts}");
    assert_eq!(counts.billed_twice, 0, "{counts}");
    assert_eq!(
        counts.succeeded + counts.failed_typed,
        counts.sent,
        "{counts}"
    );
}
