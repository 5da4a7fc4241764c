//! Runware API client as a WebAssembly component (`runware:client@0.1.0`).
//!
//! Module map:
//! - sans-IO core (plain Rust, unit-tested natively): [`options`] (defaults, URL split),
//!   [`request`] (task building, validation, `run-tasks` normalisation), [`parse`] (lenient
//!   response parsing), [`error`] (error model, classification), [`retry`] (backoff,
//!   `Retry-After`, poll schedule, entropy), [`machine`] (the per-call state machine:
//!   correlation, retries, polling, deadlines), [`download`] (the GET state machine) and
//!   [`results`] (typed results).
//! - `glue` (wasm32 only): the wit-bindgen exports, conversions, and the `wasi:http` /
//!   `wasi:clocks` driver that executes the machines' actions.
#![deny(missing_docs)]
#![cfg_attr(not(target_arch = "wasm32"), deny(unsafe_code))]

pub mod download;
pub mod error;
pub mod machine;
pub mod options;
pub mod parse;
pub mod request;
pub mod results;
pub mod retry;

#[cfg(target_arch = "wasm32")]
#[allow(missing_docs, unsafe_code, clippy::all, clippy::pedantic)]
mod bindings {
    wit_bindgen::generate!({
        world: "runware-client",
        path: "../wit",
        with: {
            "wasi:http/outgoing-handler@0.2.12": wasip2::http::outgoing_handler,
            "wasi:http/types@0.2.12": wasip2::http::types,
            "wasi:io/streams@0.2.12": wasip2::io::streams,
            "wasi:io/error@0.2.12": wasip2::io::error,
            "wasi:io/poll@0.2.12": wasip2::io::poll,
            "wasi:clocks/monotonic-clock@0.2.12": wasip2::clocks::monotonic_clock,
            "wasi:random/random@0.2.12": wasip2::random::random,
        },
    });
}

#[cfg(target_arch = "wasm32")]
mod glue;
