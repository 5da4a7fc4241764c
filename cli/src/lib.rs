//! The parts of the `runware` CLI (the binary is `src/main.rs`), one concern a module.
//!
//! The CLI is a thin shell around [`runware_host`]: it parses flags, checks input before
//! anything is sent, runs one call through the sandboxed component, prints the JSON response on
//! stdout and maps the outcome to an exit code. It is a library only so that the crate's one
//! integration test binary (`tests/it`) can test these parts directly; it is not an API.

pub mod args;
pub mod batch;
pub mod commands;
pub mod emulator;
pub mod exit;
pub mod job;
pub mod progress;
pub mod raw;
pub mod save;
pub mod serve;
pub mod tasks;
