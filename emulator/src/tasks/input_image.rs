//! Input images of the image tools: which parameter holds one, and finding its bytes. An input
//! may be an imageUUID the emulator holds, a data URI, raw base64 or the URL of an image this
//! emulator serves; other URLs are never fetched (the emulator stays offline).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use serde_json::Value;

use crate::render::Format;
use crate::state::Shared;
use crate::validate::{self, ApiError, TaskCtx};

/// An input image found: its bytes, and its imageUUID when the emulator already held it.
pub(super) struct Input {
    /// The encoded bytes.
    pub bytes: Bytes,
    /// The imageUUID it is stored under, if any.
    pub uuid: Option<String>,
}

/// The input image of an image tool, from `inputImage`, the first of `inputImages` or
/// `inputs.image` (the newer SDKs' spellings), resolved to its bytes.
pub(super) fn required(shared: &Shared, ctx: &TaskCtx<'_>) -> Result<Input, ApiError> {
    let (param, s) = param(ctx)?;
    resolve(shared, s).ok_or_else(|| invalid(ctx, param))
}

fn param<'a>(ctx: &TaskCtx<'a>) -> Result<(&'static str, &'a str), ApiError> {
    if let Some(v) = ctx.task.get("inputImage").filter(|v| !v.is_null()) {
        return v
            .as_str()
            .map(|s| ("inputImage", s))
            .ok_or_else(|| ctx.wrong_type("inputImage", "string"));
    }
    if let Some(Value::Array(list)) = ctx.task.get("inputImages")
        && let Some(Value::String(s)) = list.first()
    {
        return Ok(("inputImages", s.as_str()));
    }
    if let Some(Value::Object(inputs)) = ctx.task.get("inputs")
        && let Some(Value::String(s)) = inputs.get("image")
    {
        return Ok(("inputs.image", s.as_str()));
    }
    Err(ctx.param_err(
        "missingInputImage",
        "inputImage",
        "Missing required parameter 'inputImage'. Send the UUID of an image, a data URI, base64 data or the URL of an image this server holds.".into(),
        "string",
        None,
    ))
}

/// `invalid<Param>`: the image could not be found or is not PNG, JPG or WEBP.
pub(super) fn invalid(ctx: &TaskCtx<'_>, param: &str) -> ApiError {
    ctx.param_err(
        &format!("invalid{}", validate::upper_first(param.trim_start_matches("inputs."))),
        param,
        format!(
            "Invalid value for '{param}' parameter. The image must be specified in one of the following formats: the UUID of an image this server holds, a data URI, base64 data, or the URL of an image served by this emulator. Supported formats are: PNG, JPG, and WEBP."
        ),
        "string",
        None,
    )
}

/// Finds an image: an imageUUID (or mediaUUID) the emulator holds, a data URI, raw base64, or a
/// URL of an image this emulator serves (`…/images/<uuid>.<ext>`, `…/media/<uuid>.<ext>`).
pub(super) fn resolve(shared: &Shared, s: &str) -> Option<Input> {
    let s = s.trim();
    if let Ok(u) = uuid::Uuid::parse_str(s) {
        return stored(shared, u.to_string());
    }
    if s.starts_with("http://") || s.starts_with("https://") {
        let file = s
            .rsplit_once("/images/")
            .or_else(|| s.rsplit_once("/media/"))?
            .1;
        let stem = file.split(['.', '?', '#']).next()?;
        let id = uuid::Uuid::parse_str(stem).ok()?.to_string();
        return stored(shared, id);
    }
    let b64 = if s.starts_with("data:") {
        s.split_once(',')?.1
    } else {
        s
    };
    let bytes = B64.decode(b64.trim()).ok()?;
    detect_format(&bytes)?;
    Some(Input {
        bytes: Bytes::from(bytes),
        uuid: None,
    })
}

/// An image the emulator holds: generated or uploaded as an image, or stored with
/// `mediaStorage` (when those bytes are an image).
fn stored(shared: &Shared, id: String) -> Option<Input> {
    let bytes = match shared.image(&id) {
        Some(img) => img.bytes,
        None => shared
            .media(&id)
            .map(|m| m.bytes)
            .filter(|b| detect_format(b).is_some())?,
    };
    Some(Input {
        bytes,
        uuid: Some(id),
    })
}

/// The format of encoded image bytes, if it is one the emulator accepts (PNG, JPG, WEBP).
pub(super) fn detect_format(bytes: &[u8]) -> Option<Format> {
    match image::guess_format(bytes).ok()? {
        image::ImageFormat::Png => Some(Format::Png),
        image::ImageFormat::Jpeg => Some(Format::Jpg),
        image::ImageFormat::WebP => Some(Format::Webp),
        _ => None,
    }
}
