//! CI size of the soak run (`host/examples/soak.rs`): 1,000 tasks through 4 concurrent clients
//! against an emulator faulting 10 % of the requests at random. Every task ends exactly once,
//! none is lost, duplicated, executed twice or billed twice. The full run (10,000 tasks) is
//! `cargo run --release -p runware-host --example soak -- --tasks 10000 --instances 8`.

/// The example's code, run here at CI size (its `main` is the example's own).
#[path = "../../examples/soak.rs"]
#[allow(dead_code)]
mod example;

use crate::common::runtime;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_tasks_under_random_faults_each_end_exactly_once() {
    let options = example::SoakOptions {
        tasks: 1_000,
        instances: 4,
        ..example::SoakOptions::default()
    };
    let counts = example::soak(&runtime(), options)
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
