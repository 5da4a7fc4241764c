//! The guest's integration tests, as one test binary: each former `tests/*.rs` file is a module
//! here, because every separate test binary links the crate and its dependencies again (one
//! binary builds and links once).
//!
//! - [`common`]: the helpers several modules share;
//! - [`building`]: request building, local validation, options and `run-tasks` normalisation;
//! - [`conversation`]: whole conversations of the state machines with a scripted fake server;
//! - [`fuzz_smoke`]: a short run of the fuzz harness in `guest/examples/fuzz.rs`;
//! - [`never_panics`]: property tests that nothing panics and every call ends;
//! - [`parsing`]: lenient response parsing, error classification, retry and poll timing;
//! - [`regressions`]: scripted conversations for bugs found by the soak run and the fuzzer;
//! - [`typed_tasks`]: the JSON of the typed tasks (video, audio, tools, uploads, text) and their checks.

mod building;
mod common;
mod conversation;
mod fuzz_smoke;
mod never_panics;
mod parsing;
mod regressions;
mod typed_tasks;
