//! Generated wasmtime bindings for the `runware-client` world (hidden: the crate re-exports the
//! types it needs, and wraps the calls in [`Client`](crate::Client)).
//!
//! The world's WASI imports map onto the implementations in `wasmtime-wasi` and
//! `wasmtime-wasi-http`, so nothing is generated for them; only the `runware:client` types and
//! the exported `api` interface are.

wasmtime::component::bindgen!({
    world: "runware-client",
    path: "../wit",
    exports: { default: async },
    require_store_data_send: true,
    // `WitDefault`: `Default` for records and enums alike (see runware-macros), so requests can
    // be written with `..Default::default()`.
    additional_derives: [PartialEq, runware_macros::WitDefault],
    with: {
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
        "wasi:random": wasmtime_wasi::p2::bindings::random,
    },
});
