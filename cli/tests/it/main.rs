//! The `runware-cli` crate's one test binary (each test binary links wasmtime, so there is one):
//!
//! - `e2e`: the end-to-end suite, the real `runware` binary against the emulator on loopback;
//! - `tasks_e2e`: the same for the typed task commands (video, audio, tools, uploads, prompts,
//!   the account) and `poll --wait --out`, on `e2e`'s harness;
//! - `batch`: `runware batch` (validation, manifest, kill and resume, faults and the shared
//!   back-off, a permanent failure, 1,000 jobs), on `e2e`'s harness;
//! - `cli`: the binary's exit codes for input errors, a transport failure and a dry run;
//! - `args`, `raw`, `save`: the CLI's parts tested directly through the `runware_cli` library.

// A failing test panics: that is how it fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod args;
mod batch;
mod cli;
mod e2e;
mod raw;
mod save;
mod tasks_e2e;
