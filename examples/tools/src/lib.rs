//! A flat "tools" face for the Runware client component: `runware:tools/tools@0.1.0`, plain
//! exported functions over the imported `runware:client/api@0.1.0`.
//!
//! Hosts that call exported functions by name (`wasmtime run --invoke`, MCP component hosts that
//! turn each function into a tool) cannot open a resource and keep its handle between calls, so
//! each function here opens a client with the given options, makes the one call and drops it.
//! That costs nothing the resource would have saved: a client holds no network state between
//! calls (see `wit/client.wit`).
//!
//! Built for `wasm32-wasip2` and composed with the client component (`wac plug`), it is one
//! component whose imports are WASI only. Natively the crate only type-checks: the imports are
//! wit-bindgen's stubs and nothing calls the exports.
//!
//! On wasm32 the crate is `no_std` (with `alloc`), as the client component is: std's runtime
//! would add wasi:cli (environment, exit, stdio, terminals) to the composed component's imports
//! and about 60 KB to its size, for nothing the adapter uses. So the composed component imports
//! exactly what the client imports, and `wasmtime run -S http` is all it needs.

#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

/// The bindings wit-bindgen generates for the `runware-tools` world: the imported client, the
/// client's records, and the `tools` interface to implement.
#[allow(missing_docs, unsafe_code, clippy::all, clippy::pedantic)]
mod bindings {
    wit_bindgen::generate!({
        world: "runware:tools/runware-tools",
        // The client's package (with its vendored WASI deps) first: the tools package uses it.
        path: ["../../wit", "wit"],
        // The client's records are generated here too (no other crate of this component has them).
        generate_all,
    });
}

use bindings::exports::runware::tools::tools::Guest;
use bindings::runware::client::api::Client;
use bindings::runware::client::types::{
    ClientOptions, Error, ImageRequest, ImageResult, Job, ModelSearchRequest, ModelSearchResult,
    Task, TaskOutcome, VideoRequest,
};

/// The exported `tools` interface.
struct Tools;

impl Guest for Tools {
    fn generate_image(request: ImageRequest, options: ClientOptions) -> Result<ImageResult, Error> {
        Client::open(&options)?.text_to_image(&request)
    }

    fn search_models(
        request: ModelSearchRequest,
        options: ClientOptions,
    ) -> Result<ModelSearchResult, Error> {
        Client::open(&options)?.model_search(&request)
    }

    fn start_video(request: VideoRequest, options: ClientOptions) -> Result<Job, Error> {
        Client::open(&options)?.submit(&Task::Video(request))
    }

    fn poll(job: Job, options: ClientOptions) -> Result<TaskOutcome, Error> {
        Client::open(&options)?.poll(&job)
    }
}

/// The exports exist on wasm32 only: natively, a cdylib exporting `cabi_post_runware:tools/…`
/// symbols does not link (lld rejects the `:` in a version script), and nothing native calls them.
#[cfg(target_arch = "wasm32")]
#[expect(
    unsafe_code,
    reason = "wit-bindgen's export! defines the component's exported functions, which are unsafe \
              extern \"C\" functions with export names"
)]
mod export {
    use super::{Tools, bindings};
    bindings::export!(Tools with_types_in bindings);
}

/// What std would provide on wasm32: the global allocator, `cabi_realloc` (from
/// `runware_wasm_rt`) and the panic handler.
#[cfg(target_arch = "wasm32")]
mod runtime {
    /// talc over linear memory, grown as needed. Instances are single-threaded.
    #[global_allocator]
    static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

    // `cabi_realloc`, which the client component calls to return results into this linear
    // memory, is `runware_wasm_rt`'s, over this allocator.
    use runware_wasm_rt as _;

    /// A panic is a bug (the lints deny the panicking calls; only generated lifting code could
    /// reach one, on a malformed value): it traps, as `panic = "abort"` would, and the host sees
    /// the trap.
    #[panic_handler]
    fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
        core::arch::wasm32::unreachable()
    }
}
