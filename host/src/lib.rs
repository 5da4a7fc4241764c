//! Embeds the Runware client component (`runware:client@0.1.0`) with wasmtime.
//!
//! A [`Runtime`] loads the component once (compiled code cached on disk, `InstancePre` built
//! once); a [`Client`] runs each call in a fresh sandboxed instance whose only way out is
//! `wasi:http`, through the host's network policy: an egress allow-list,
//! host-side API key injection (the component never holds the key), clamped timeouts and a
//! response size cap.
//!
//! ```no_run
//! # async fn demo() -> Result<(), runware_host::Error> {
//! use runware_host::{ApiKey, Client, ClientConfig, ModelSearchRequest, Runtime};
//! let runtime = Runtime::embedded()?;
//! let client = Client::new(&runtime, ClientConfig::with_api_key(ApiKey::new("…")))?;
//! let found = client
//!     .model_search(&ModelSearchRequest { search: Some("flux".into()), ..Default::default() })
//!     .await?;
//! for model in &found.results {
//!     println!("{} {}", model.air, model.name);
//! }
//! # Ok(()) }
//! ```
// Tests may panic: a failing assertion is how they fail.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

#[doc(hidden)]
pub mod bindings;
mod client;
mod destination;
mod error;
pub mod input;
mod key;
mod policy;
mod pool;
#[doc(hidden)]
#[expect(
    unsafe_code,
    reason = "wasmtime's MemoryCreator and LinearMemory are unsafe traits: the probe allocates \
              the linear memory itself to scan it"
)]
pub mod probe;
mod runtime;
mod serve;
#[doc(hidden)]
pub mod steps;
mod types;

pub use client::{
    Client, ClientConfig, DEFAULT_BASE_URL, DEFAULT_MAX_IDLE_INSTANCES, MAX_CALLS_PER_INSTANCE,
    RUNWARE_IMAGE_HOST, millis,
};
pub use error::{BoxError, Error, ErrorDetail, ErrorKind, TrapCause};
pub use key::{API_KEY_ENV, ApiKey};
pub use runtime::{
    CACHE_DIR_ENV, EMBEDDED_COMPONENT, Runtime, RuntimeConfig, default_cache_dir,
    embedded_component_sha256,
};
#[doc(hidden)]
pub use runtime::{peak_instance_memory, reset_peak_instance_memory};
/// The documented defaults and ranges (the `runware-spec` crate), for help texts and checks.
pub use runware_spec as spec;
pub use serve::{BASE_URL_ENV, ServeConfig, Server};
pub use types::{
    Account, AudioFormat, AudioRequest, ClientOptions, CommonOptions, Delivery, FrameImage, Image,
    ImageRequest, ImageResult, Job, Lora, MediaToolRequest, Message, Model, ModelSearchRequest,
    ModelSearchResult, Output, OutputFormat, OutputKind, OutputType, PromptEnhanceRequest,
    RunResult, Speech, Task, TaskOutcome, TaskResult, TaskStatus, TextRequest, VideoFormat,
    VideoRequest,
};
