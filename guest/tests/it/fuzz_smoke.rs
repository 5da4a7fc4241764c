//! CI smoke of the fuzz harness (`guest/examples/fuzz.rs`): a couple of thousand cases of
//! arbitrary and Runware-shaped answers through the parser and every state machine, no panic,
//! no hang. The full run is `cargo run --release -p runware-guest --example fuzz`.
#![expect(clippy::panic, reason = "tests")]

// Relative to this file (tests/it/), as `#[path]` in a non-mod.rs module file is.
#[path = "../../examples/fuzz.rs"]
#[allow(dead_code)]
mod fuzz;

#[test]
fn two_thousand_fuzz_cases_neither_panic_nor_hang() {
    match fuzz::run(2_000, 7) {
        Ok(report) => assert_eq!(report.cases, 2_000, "{report:?}"),
        Err(failure) => panic!("a fuzz case failed: {failure}"),
    }
}
