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
    Account, AudioFormat, AudioRequest, ClientOptions, CommonOptions, Delivery, ErrorDetail,
    ErrorKind, FrameImage, Image, ImageRequest, ImageResult, Job, Lora, MediaToolRequest, Message,
    Model, ModelSearchRequest, ModelSearchResult, Output, OutputFormat, OutputKind, OutputType,
    PromptEnhanceRequest, RunResult, Speech, Task, TaskOutcome, TaskResult, TaskStatus,
    TextRequest, VideoFormat, VideoRequest,
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

impl VideoFormat {
    /// The file extension: `mp4`, `webm` or `mov`.
    pub fn extension(self) -> &'static str {
        match self {
            VideoFormat::Mp4 => "mp4",
            VideoFormat::Webm => "webm",
            VideoFormat::Mov => "mov",
        }
    }
}

impl AudioFormat {
    /// The file extension: `mp3`, `wav`, `flac` or `ogg`.
    pub fn extension(self) -> &'static str {
        match self {
            AudioFormat::Mp3 => "mp3",
            AudioFormat::Wav => "wav",
            AudioFormat::Flac => "flac",
            AudioFormat::Ogg => "ogg",
        }
    }
}

impl Job {
    /// A job known only by its taskUUID (for example one stored by an earlier run): one
    /// output means done, and the task type is learned from the answers.
    pub fn from_task_uuid(task_uuid: impl Into<String>) -> Self {
        Self {
            task_uuid: task_uuid.into(),
            ..Self::default()
        }
    }
}
