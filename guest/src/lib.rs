//! Runware API client as a WebAssembly component (stub: exports link, bodies not implemented yet).

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

#[cfg(target_arch = "wasm32")]
mod glue {
    use crate::bindings::exports::runware::client::api::{Guest, GuestClient};
    use crate::bindings::runware::client::types::{
        ClientOptions, Error, ErrorDetail, ImageRequest, ImageResult, ModelSearchRequest,
        ModelSearchResult, RunResult,
    };

    fn not_yet() -> Error {
        Error::Other(ErrorDetail {
            code: "notImplemented".to_string(),
            message: "not implemented yet".to_string(),
            task_uuid: None,
            task_type: None,
            parameter: None,
            http_status: None,
            retryable: false,
            attempts: 0,
            response_json: None,
        })
    }

    /// The component.
    pub struct Component;

    /// The client resource.
    pub struct Client;

    impl Guest for Component {
        type Client = Client;
    }

    impl GuestClient for Client {
        fn open(
            _options: ClientOptions,
        ) -> Result<crate::bindings::exports::runware::client::api::Client, Error> {
            Err(not_yet())
        }
        fn text_to_image(&self, _request: ImageRequest) -> Result<ImageResult, Error> {
            Err(not_yet())
        }
        fn prepare_text_to_image(&self, _request: ImageRequest) -> Result<String, Error> {
            Err(not_yet())
        }
        fn model_search(&self, _request: ModelSearchRequest) -> Result<ModelSearchResult, Error> {
            Err(not_yet())
        }
        fn get_response(&self, _task_uuid: String) -> Result<RunResult, Error> {
            Err(not_yet())
        }
        fn wait(&self, _task_uuid: String, _expected: Option<u32>) -> Result<RunResult, Error> {
            Err(not_yet())
        }
        fn run_tasks(&self, _tasks_json: String) -> Result<RunResult, Error> {
            Err(not_yet())
        }
        fn download(&self, _url: String) -> Result<Vec<u8>, Error> {
            Err(not_yet())
        }
    }

    crate::bindings::export!(Component with_types_in crate::bindings);
}
