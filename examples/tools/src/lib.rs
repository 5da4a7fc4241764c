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

#[expect(
    unsafe_code,
    reason = "wit-bindgen's export! defines the component's exported functions, which are unsafe \
              extern \"C\" functions with export names"
)]
mod export {
    use super::{Tools, bindings};
    bindings::export!(Tools with_types_in bindings);
}
