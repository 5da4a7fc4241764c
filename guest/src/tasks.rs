//! The typed tasks of the WIT `task` variant (video, audio, the image and video tools, uploads,
//! prompts, text): local validation and their task JSON. One builder per record; what every task
//! shares (`includeCost`, `webhookURL`, `ttl`, `uploadEndpoint`, `extra-json`) is written once in
//! [`crate::request`].

use crate::prelude::*;

use serde_json::{Map, Value, json};

use crate::error::ClientError;
use crate::request::{
    check_nonempty, check_prompt, check_range_f, check_range_u, delivery_name, f32_json,
    insert_common, is_air, merge_extra, output_format_name, output_type_name,
};
pub use crate::wit::{
    AudioFormat, AudioRequest, CommonOptions, Delivery, MediaToolRequest, Message,
    PromptEnhanceRequest, Task, TextRequest, VideoFormat, VideoRequest,
};
use runware_spec::{Bounds, SPEECH_CHARS};

/// The `taskType` a task is sent as.
pub fn task_type(task: &Task) -> &'static str {
    match task {
        Task::Video(_) => "videoInference",
        Task::Audio(_) => "audioInference",
        Task::Upscale(_) => "upscale",
        Task::RemoveBackground(_) => "removeBackground",
        Task::Caption(_) => "caption",
        Task::ImageUpload(_) => "imageUpload",
        Task::MediaUpload(_) | Task::MediaDelete(_) => "mediaStorage",
        Task::PromptEnhance(_) => "promptEnhance",
        Task::Text(_) => "textInference",
    }
}

/// Whether Runware runs this task only synchronously (so it cannot be submitted as a job).
pub fn is_sync_only(task: &Task) -> bool {
    matches!(
        task,
        Task::ImageUpload(_) | Task::MediaUpload(_) | Task::MediaDelete(_)
    )
}

/// Validates `task` and builds its JSON with `task_uuid`. With `force_async` (a submission),
/// tasks that allow it are sent with `deliveryMethod: "async"`. Every violation is an
/// `invalid-request` naming the JSON field, the value and the range.
pub fn build_task(task: &Task, task_uuid: &str, force_async: bool) -> Result<Value, ClientError> {
    let mut json = Map::new();
    json.insert("taskType".into(), json!(task_type(task)));
    json.insert("taskUUID".into(), json!(task_uuid));
    let (common, extra, delivery) = match task {
        Task::Video(r) => {
            video(&mut json, r)?;
            (
                Some(&r.common),
                r.extra_json.as_ref(),
                Some(Delivery::Async),
            )
        }
        Task::Audio(r) => {
            audio(&mut json, r)?;
            (Some(&r.common), r.extra_json.as_ref(), r.delivery)
        }
        Task::Upscale(r) | Task::RemoveBackground(r) | Task::Caption(r) => {
            let video_input = media_tool(&mut json, task, r)?;
            // Runware runs tools on a video only asynchronously.
            let delivery = if video_input {
                Some(Delivery::Async)
            } else {
                r.delivery
            };
            (Some(&r.common), r.extra_json.as_ref(), delivery)
        }
        Task::ImageUpload(media) => {
            json.insert("image".into(), json!(media_input(media, "image")?));
            (None, None, None)
        }
        Task::MediaUpload(media) => {
            json.insert("operation".into(), json!("upload"));
            json.insert("media".into(), json!(media_input(media, "media")?));
            (None, None, None)
        }
        Task::MediaDelete(uuid) => {
            check_nonempty(Some(uuid), "mediaUUID", "invalidMediaUUID")?;
            json.insert("operation".into(), json!("delete"));
            json.insert("mediaUUID".into(), json!(uuid.trim()));
            (None, None, None)
        }
        Task::PromptEnhance(r) => {
            prompt_enhance(&mut json, r)?;
            (Some(&r.common), r.extra_json.as_ref(), None)
        }
        Task::Text(r) => {
            text(&mut json, r)?;
            (Some(&r.common), r.extra_json.as_ref(), r.delivery)
        }
    };
    let delivery = if force_async && !is_sync_only(task) {
        Some(Delivery::Async)
    } else {
        delivery
    };
    if let Some(d) = delivery {
        json.insert("deliveryMethod".into(), json!(delivery_name(d)));
    }
    if let Some(common) = common {
        insert_common(&mut json, common)?;
    }
    if let Some(extra) = extra {
        merge_extra(&mut json, extra)?;
    }
    Ok(Value::Object(json))
}

/// Seconds as JSON: a whole number as an integer (`10`, as Runware's examples send it), else
/// the shortest decimal.
fn seconds_json(v: f32) -> Value {
    let d = f64::from(v);
    if crate::request::fract(d) == 0.0 && d.is_finite() && d.abs() < 1e9 {
        #[expect(clippy::cast_possible_truncation, reason = "a whole number below 1e9")]
        let whole = d as i64;
        json!(whole)
    } else {
        f32_json(v)
    }
}

/// A model AIR, or the default when `none`.
fn model(value: Option<&String>, default: &str) -> Result<String, ClientError> {
    let model = value.cloned().unwrap_or_else(|| default.to_string());
    if is_air(&model) {
        Ok(model)
    } else {
        Err(ClientError::invalid(
            "invalidModel",
            "model",
            format!("model is {model:?}; it must be an AIR like provider:id@version"),
        ))
    }
}

/// An input given as a Runware UUID, a URL, a data URI or base64: it must not be empty, and it
/// must not look like a local path (a path is the host's to read, never sent as text).
fn media_input(value: &str, field: &str) -> Result<String, ClientError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ClientError::invalid(
            format!("invalid{}", capitalised(field)),
            field,
            format!("{field} is empty"),
        ));
    }
    let looks_like_path = v.starts_with('/')
        || v.starts_with("./")
        || v.starts_with("../")
        || v.starts_with("~/")
        || v.starts_with("file:");
    if looks_like_path {
        return Err(ClientError::invalid(
            format!("invalid{}", capitalised(field)),
            field,
            format!(
                "{field} is {v:?}, a local path: read the file on the host (the library and the \
                 CLI inline or upload it) and pass its data URI, base64 or Runware UUID"
            ),
        ));
    }
    Ok(v.to_string())
}

fn capitalised(field: &str) -> String {
    let mut chars = field.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

fn check_even_size(value: Option<u32>, field: &str, code: &str) -> Result<(), ClientError> {
    check_range_u(value, field, code, runware_spec::VIDEO_SIZE)?;
    match value {
        Some(v) if !v.is_multiple_of(2) => Err(ClientError::invalid(
            code,
            field,
            format!("{field} is {v}; it must be even"),
        )),
        _ => Ok(()),
    }
}

fn video(json: &mut Map<String, Value>, r: &VideoRequest) -> Result<(), ClientError> {
    if let Some(p) = &r.positive_prompt {
        check_prompt(p, "positivePrompt", "invalidPositivePrompt")?;
    }
    if let Some(p) = &r.negative_prompt {
        check_prompt(p, "negativePrompt", "invalidNegativePrompt")?;
    }
    let model = model(r.model.as_ref(), runware_spec::DEFAULT_VIDEO_MODEL)?;
    check_range_f(
        r.duration,
        "duration",
        "invalidDuration",
        runware_spec::VIDEO_DURATION,
    )?;
    check_even_size(r.width, "width", "invalidWidth")?;
    check_even_size(r.height, "height", "invalidHeight")?;
    check_range_u(r.fps, "fps", "invalidFps", runware_spec::VIDEO_FPS)?;
    check_range_u(r.seed, "seed", "invalidSeed", runware_spec::SEED)?;
    check_range_u(
        r.number_results,
        "numberResults",
        "invalidNumberResults",
        runware_spec::VIDEO_NUMBER_RESULTS,
    )?;
    check_nonempty(r.resolution.as_ref(), "resolution", "invalidResolution")?;
    json.insert("model".into(), json!(model));
    json.insert("outputType".into(), json!("URL"));
    if let Some(v) = &r.positive_prompt {
        json.insert("positivePrompt".into(), json!(v));
    }
    if let Some(v) = &r.negative_prompt {
        json.insert("negativePrompt".into(), json!(v));
    }
    if let Some(v) = r.duration {
        json.insert("duration".into(), seconds_json(v));
    }
    for (field, value) in [("width", r.width), ("height", r.height), ("fps", r.fps)] {
        if let Some(v) = value {
            json.insert(field.into(), json!(v));
        }
    }
    if let Some(v) = &r.resolution {
        json.insert("resolution".into(), json!(v));
    }
    if let Some(v) = r.seed {
        json.insert("seed".into(), json!(v));
    }
    if let Some(v) = r.number_results {
        json.insert("numberResults".into(), json!(v));
    }
    if let Some(v) = r.output_format {
        let name = match v {
            VideoFormat::Mp4 => "MP4",
            VideoFormat::Webm => "WEBM",
            VideoFormat::Mov => "MOV",
        };
        json.insert("outputFormat".into(), json!(name));
    }
    let mut inputs = Map::new();
    if !r.frame_images.is_empty() {
        let mut frames = Vec::with_capacity(r.frame_images.len());
        for f in &r.frame_images {
            let mut m = Map::new();
            m.insert(
                "inputImage".into(),
                json!(media_input(&f.image, "frameImages")?),
            );
            if let Some(frame) = &f.frame {
                // A frame number travels as a number, `first`/`last` as text.
                let value = frame
                    .trim()
                    .parse::<u64>()
                    .map_or_else(|_| json!(frame.trim()), |n| json!(n));
                m.insert("frame".into(), value);
            }
            frames.push(Value::Object(m));
        }
        inputs.insert("frameImages".into(), Value::Array(frames));
    }
    if !r.reference_images.is_empty() {
        let mut refs = Vec::with_capacity(r.reference_images.len());
        for image in &r.reference_images {
            refs.push(json!(media_input(image, "referenceImages")?));
        }
        inputs.insert("referenceImages".into(), Value::Array(refs));
    }
    if !inputs.is_empty() {
        json.insert("inputs".into(), Value::Object(inputs));
    }
    Ok(())
}

fn audio(json: &mut Map<String, Value>, r: &AudioRequest) -> Result<(), ClientError> {
    let default_model = match (&r.speech, &r.positive_prompt) {
        (Some(_), None) => runware_spec::DEFAULT_SPEECH_MODEL,
        (None, Some(_)) => runware_spec::DEFAULT_AUDIO_MODEL,
        (Some(_), Some(_)) => {
            return Err(ClientError::invalid(
                "invalidSpeech",
                "speech",
                "give either positivePrompt (with duration) or speech, not both",
            ));
        }
        (None, None) => {
            return Err(ClientError::invalid(
                "missingPositivePrompt",
                "positivePrompt",
                "an audio needs positivePrompt (with duration) or speech",
            ));
        }
    };
    let model = model(r.model.as_ref(), default_model)?;
    if let Some(p) = &r.positive_prompt {
        check_prompt(p, "positivePrompt", "invalidPositivePrompt")?;
    }
    check_range_f(
        r.duration,
        "duration",
        "invalidDuration",
        runware_spec::AUDIO_DURATION,
    )?;
    check_range_u(r.seed, "seed", "invalidSeed", runware_spec::SEED)?;
    json.insert("model".into(), json!(model));
    if let Some(v) = &r.positive_prompt {
        json.insert("positivePrompt".into(), json!(v));
    }
    if let Some(v) = r.duration {
        json.insert("duration".into(), seconds_json(v));
    }
    if let Some(speech) = &r.speech {
        let n = speech.text.chars().count();
        let Bounds { min, max } = SPEECH_CHARS;
        if !(min..=max).contains(&n) || speech.text.trim().is_empty() {
            return Err(ClientError::invalid(
                "invalidSpeechText",
                "speech.text",
                format!("speech.text has {n} characters; it must have {min} to {max}"),
            ));
        }
        check_nonempty(speech.voice.as_ref(), "speech.voice", "invalidVoice")?;
        let mut m = Map::new();
        m.insert("text".into(), json!(speech.text));
        if let Some(v) = &speech.voice {
            m.insert("voice".into(), json!(v));
        }
        json.insert("speech".into(), Value::Object(m));
    }
    if let Some(v) = r.seed {
        json.insert("seed".into(), json!(v));
    }
    if let Some(v) = r.output_format {
        let name = match v {
            AudioFormat::Mp3 => "MP3",
            AudioFormat::Wav => "WAV",
            AudioFormat::Flac => "FLAC",
            AudioFormat::Ogg => "OGG",
        };
        json.insert("outputFormat".into(), json!(name));
    }
    if let Some(v) = r.output_type {
        json.insert("outputType".into(), json!(output_type_name(v)));
    }
    Ok(())
}

/// Builds an upscale, background removal or caption; returns whether its input is a video.
fn media_tool(
    json: &mut Map<String, Value>,
    task: &Task,
    r: &MediaToolRequest,
) -> Result<bool, ClientError> {
    let (field, input, is_video) = match (&r.image, &r.video) {
        (Some(image), None) => ("image", image, false),
        (None, Some(video)) => ("video", video, true),
        (Some(_), Some(_)) => {
            return Err(ClientError::invalid(
                "invalidInputs",
                "inputs",
                "give either an image or a video input, not both",
            ));
        }
        (None, None) => {
            return Err(ClientError::invalid(
                "missingInputs",
                "inputs.image",
                "an input image (inputs.image) or video (inputs.video) is required",
            ));
        }
    };
    let input = media_input(input, &format!("inputs.{field}"))?;
    let default = match (task, is_video) {
        (Task::Upscale(_), false) => runware_spec::DEFAULT_UPSCALE_MODEL,
        (Task::Upscale(_), true) => runware_spec::DEFAULT_VIDEO_UPSCALE_MODEL,
        (Task::RemoveBackground(_), false) => runware_spec::DEFAULT_REMOVE_BACKGROUND_MODEL,
        (Task::RemoveBackground(_), true) => runware_spec::DEFAULT_VIDEO_REMOVE_BACKGROUND_MODEL,
        _ => runware_spec::DEFAULT_CAPTION_MODEL,
    };
    json.insert("model".into(), json!(model(r.model.as_ref(), default)?));
    json.insert("inputs".into(), json!({ field: input }));
    if let Some(f) = r.upscale_factor {
        if !matches!(task, Task::Upscale(_)) {
            return Err(ClientError::invalid(
                "invalidUpscaleFactor",
                "upscaleFactor",
                "upscaleFactor applies to upscale only",
            ));
        }
        check_range_u(
            Some(f),
            "upscaleFactor",
            "invalidUpscaleFactor",
            runware_spec::UPSCALE_FACTOR,
        )?;
        json.insert("upscaleFactor".into(), json!(f));
    }
    if let Some(p) = &r.prompt {
        if !matches!(task, Task::Caption(_)) {
            return Err(ClientError::invalid(
                "invalidPrompt",
                "prompt",
                "prompt applies to caption only",
            ));
        }
        check_prompt(p, "prompt", "invalidPrompt")?;
        json.insert("prompt".into(), json!(p));
    }
    if let Some(v) = r.output_type {
        json.insert("outputType".into(), json!(output_type_name(v)));
    }
    if let Some(v) = r.output_format {
        json.insert("outputFormat".into(), json!(output_format_name(v)));
    }
    Ok(is_video)
}

fn prompt_enhance(
    json: &mut Map<String, Value>,
    r: &PromptEnhanceRequest,
) -> Result<(), ClientError> {
    check_prompt(&r.prompt, "prompt", "invalidPrompt")?;
    let versions = r.versions.unwrap_or(runware_spec::DEFAULT_PROMPT_VERSIONS);
    check_range_u(
        Some(versions),
        "promptVersions",
        "invalidPromptVersions",
        runware_spec::PROMPT_VERSIONS,
    )?;
    let max_length = r
        .max_length
        .unwrap_or(runware_spec::DEFAULT_PROMPT_MAX_LENGTH);
    check_range_u(
        Some(max_length),
        "promptMaxLength",
        "invalidPromptMaxLength",
        runware_spec::PROMPT_MAX_LENGTH,
    )?;
    json.insert("model".into(), json!(runware_spec::PROMPT_ENHANCE_MODEL));
    json.insert("prompt".into(), json!(r.prompt));
    json.insert("promptVersions".into(), json!(versions));
    json.insert("promptMaxLength".into(), json!(max_length));
    Ok(())
}

fn text(json: &mut Map<String, Value>, r: &TextRequest) -> Result<(), ClientError> {
    if r.messages.is_empty() {
        return Err(ClientError::invalid(
            "missingMessages",
            "messages",
            "a text task needs at least one message",
        ));
    }
    let mut messages = Vec::with_capacity(r.messages.len());
    for (i, Message { role, content }) in r.messages.iter().enumerate() {
        if !matches!(role.as_str(), "system" | "user" | "assistant") {
            return Err(ClientError::invalid(
                "invalidMessages",
                "messages",
                format!("messages[{i}].role is {role:?}; it must be system, user or assistant"),
            ));
        }
        if content.trim().is_empty() {
            return Err(ClientError::invalid(
                "invalidMessages",
                "messages",
                format!("messages[{i}].content is empty"),
            ));
        }
        messages.push(json!({ "role": role, "content": content }));
    }
    check_range_f(
        r.temperature,
        "settings.temperature",
        "invalidTemperature",
        runware_spec::TEMPERATURE,
    )?;
    json.insert(
        "model".into(),
        json!(model(r.model.as_ref(), runware_spec::DEFAULT_TEXT_MODEL)?),
    );
    json.insert("messages".into(), Value::Array(messages));
    let mut settings = Map::new();
    if let Some(v) = r.max_tokens {
        settings.insert("maxTokens".into(), json!(v));
    }
    if let Some(v) = r.temperature {
        settings.insert("temperature".into(), f32_json(v));
    }
    if !settings.is_empty() {
        json.insert("settings".into(), Value::Object(settings));
    }
    Ok(())
}

/// The `accountManagement` `getDetails` task.
pub fn account_task(task_uuid: &str) -> Value {
    json!({ "taskType": "accountManagement", "taskUUID": task_uuid, "operation": "getDetails" })
}

/// The `getTaskDetails` task for an earlier task: it names that task's own taskUUID.
pub fn task_details_task(of: &str) -> Value {
    json!({ "taskType": "getTaskDetails", "taskUUID": of })
}
