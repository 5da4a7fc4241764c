//! spike
#[cfg(target_arch = "wasm32")]
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
