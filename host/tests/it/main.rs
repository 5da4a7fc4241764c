//! The host's integration tests, in one binary: the real embedded component in the real host,
//! against the emulator on loopback (and, in `embeddings`, in other runtimes).
//!
//! One module per area; the set-up they share (the runtime, keys, emulators, the client
//! configuration, and the helpers that print a failed call's whole error) is in `common`.
//! Run one area with `cargo test -p runware-host --test it <module>::`, e.g.
//! `cargo test -p runware-host --test it fault_matrix -- --nocapture` for the matrix summary.

// Tests may panic, unwrap and index: a failed assertion is their way of reporting.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

mod common;

mod component_imports;
mod connect_timeout;
mod embeddings;
mod fault_matrix;
mod host;
mod isolation;
mod serve;
mod soak;
mod tasks;
mod tools;
