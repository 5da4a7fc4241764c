//! The crate's public vocabulary: the records and enums of `wit/types.wit`, exactly as wasmtime's
//! `bindgen!` generates them, re-exported.
//!
//! They are not mirrored by hand: the WIT is their one definition, so a field added there is a
//! field here, and the host hands them to the component without converting anything. Every
//! type has `Debug`, `Clone`, `PartialEq` and `Default` (records default every field; enums
//! default to their first case, which the WIT documents as the default).
//!
//! Every `Option` field that is `None` is left out of the task JSON, so Runware's own default
//! applies; the WIT documents the few the component always sends. JSON travels as text
//! (`response_json`, `json`, `data`, `extra_json`) exactly as the component produced it; parse
//! it with `serde_json` when you need fields this API does not lift out.

pub use crate::bindings::runware::client::types::{
    ClientOptions, Delivery, ErrorDetail, ErrorKind, Image, ImageRequest, ImageResult, Lora, Model,
    ModelSearchRequest, ModelSearchResult, OutputFormat, OutputType, RunResult, TaskResult,
    TaskStatus,
};

impl ImageRequest {
    /// A request with this prompt and every other field left to the defaults.
    pub fn new(positive_prompt: impl Into<String>) -> Self {
        Self {
            positive_prompt: positive_prompt.into(),
            ..Self::default()
        }
    }
}

impl OutputFormat {
    /// The usual file extension: `jpg`, `png` or `webp`.
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Jpg => "jpg",
            OutputFormat::Png => "png",
            OutputFormat::Webp => "webp",
        }
    }
}

impl RunResult {
    /// Whether any task failed (a partial success counts as failed).
    pub fn has_errors(&self) -> bool {
        self.tasks.iter().any(|t| t.status == TaskStatus::Failed)
    }
}
