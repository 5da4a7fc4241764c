//! `mediaStorage`: `operation: "upload"` stores `media` (a data URI, base64, or the UUID or URL
//! of an image or media this emulator holds) under a new `mediaUUID`, served at `mediaURL`
//! (`GET /media/<uuid>.<ext>`) and usable as an input image by its UUID; `operation: "delete"`
//! forgets `mediaUUID` (also given as `media`), after which using it is a `mediaNotFound` (or,
//! as a task input, the tool's `invalid<Param>`) error.
//!
//! Answers: upload `{taskType, taskUUID, operation: "upload", mediaUUID, mediaURL}`, delete
//! `{taskType, taskUUID, operation: "delete", mediaUUID}`. Free: never billed.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::{Job, Keyed, Kind, TaskType, item};
use crate::state::{Shared, StoredMedia};
use crate::validate::{ApiError, TaskCtx};

/// The task type.
pub(super) const TASK: TaskType = TaskType {
    names: &["mediaStorage"],
    doc: "https://runware.ai/docs/en/utilities/media-storage",
    kind: Kind::Keyed(Keyed::Work(plan)),
};

/// A validated mediaStorage operation.
enum Storage {
    Upload(StoredMedia),
    Delete(String),
}

fn plan(shared: &Shared, ctx: &TaskCtx<'_>) -> Result<Box<dyn Job>, ApiError> {
    let op = ctx
        .one_of("operation", "Operation", &["upload", "delete"], false, true)?
        .unwrap_or("upload");
    if op == "delete" {
        let param = if ctx.task.get("mediaUUID").is_some_and(|v| !v.is_null()) {
            "mediaUUID"
        } else {
            "media"
        };
        let Some(v) = ctx.task.get(param).filter(|v| !v.is_null()) else {
            return Err(ctx.param_err(
                "missingMediaUUID",
                "mediaUUID",
                "Missing required parameter 'mediaUUID'. Send the UUID of the media to delete."
                    .into(),
                "string",
                None,
            ));
        };
        let s = v.as_str().ok_or_else(|| ctx.wrong_type(param, "string"))?;
        let id = uuid::Uuid::parse_str(s.trim())
            .map_err(|_| {
                ctx.param_err(
                    "invalidMediaUUID",
                    param,
                    format!("Invalid value for '{param}' parameter. It must be a UUID."),
                    "string",
                    None,
                )
            })?
            .to_string();
        if shared.media(&id).is_none() && shared.image(&id).is_none() {
            return Err(not_found(ctx, param, &id));
        }
        return Ok(Box::new(Storage::Delete(id)));
    }
    let Some(v) = ctx.task.get("media").filter(|v| !v.is_null()) else {
        return Err(ctx.param_err(
            "missingMedia",
            "media",
            "Missing required parameter 'media'. Send a data URI, base64 data, or the UUID or URL of media this server holds.".into(),
            "string",
            None,
        ));
    };
    let s = v
        .as_str()
        .ok_or_else(|| ctx.wrong_type("media", "string"))?;
    resolve(shared, s).map(|m| Box::new(Storage::Upload(m)) as Box<dyn Job>).ok_or_else(|| {
        ctx.param_err(
            "invalidMedia",
            "media",
            "Invalid value for 'media' parameter. The media must be a data URI, base64 data, or the UUID or URL of an image or media this emulator holds (other URLs are not fetched: the emulator stays offline).".into(),
            "string",
            None,
        )
    })
}

/// `mediaNotFound`: no media (or image) with this UUID.
pub(super) fn not_found(ctx: &TaskCtx<'_>, param: &str, id: &str) -> ApiError {
    ctx.param_err(
        "mediaNotFound",
        param,
        format!("No media with UUID '{id}' was found. It may have been deleted."),
        "string",
        None,
    )
}

/// Finds the media `s` names or holds.
fn resolve(shared: &Shared, s: &str) -> Option<StoredMedia> {
    let s = s.trim();
    let held = |id: &str| -> Option<StoredMedia> {
        let id = uuid::Uuid::parse_str(id).ok()?.to_string();
        shared.media(&id).or_else(|| {
            shared.image(&id).map(|img| StoredMedia {
                bytes: img.bytes,
                content_type: img.format.mime().to_string(),
                extension: img.format.extension().to_string(),
            })
        })
    };
    if uuid::Uuid::parse_str(s).is_ok() {
        return held(s);
    }
    if s.starts_with("http://") || s.starts_with("https://") {
        let file = s
            .rsplit_once("/images/")
            .or_else(|| s.rsplit_once("/media/"))?
            .1;
        return held(file.split(['.', '?', '#']).next()?);
    }
    let (declared, b64) = match s.strip_prefix("data:") {
        Some(rest) => {
            let (meta, data) = rest.split_once(',')?;
            let mime = meta.split(';').next().unwrap_or("").trim();
            (Some(mime).filter(|m| !m.is_empty()), data)
        }
        None => (None, s),
    };
    let bytes = B64.decode(b64.trim()).ok()?;
    if bytes.is_empty() {
        return None;
    }
    let (sniffed, extension) = sniff(&bytes);
    let content_type = declared.unwrap_or(sniffed).to_string();
    let extension = declared
        .and_then(extension_of)
        .unwrap_or(extension)
        .to_string();
    Some(StoredMedia {
        bytes: Bytes::from(bytes),
        content_type,
        extension,
    })
}

/// The MIME type and extension of bytes, from their magic number.
fn sniff(b: &[u8]) -> (&'static str, &'static str) {
    let at = |i: usize, magic: &[u8]| b.get(i..i + magic.len()) == Some(magic);
    if at(0, b"\x89PNG") {
        ("image/png", "png")
    } else if at(0, b"\xFF\xD8\xFF") {
        ("image/jpeg", "jpg")
    } else if at(0, b"RIFF") && at(8, b"WEBP") {
        ("image/webp", "webp")
    } else if at(0, b"RIFF") && at(8, b"WAVE") {
        ("audio/wav", "wav")
    } else if at(4, b"ftypqt") {
        ("video/quicktime", "mov")
    } else if at(4, b"ftyp") {
        ("video/mp4", "mp4")
    } else if at(0, b"\x1A\x45\xDF\xA3") {
        ("video/webm", "webm")
    } else if at(0, b"ID3") || at(0, b"\xFF\xFB") || at(0, b"\xFF\xF3") {
        ("audio/mpeg", "mp3")
    } else if at(0, b"OggS") {
        ("audio/ogg", "ogg")
    } else if at(0, b"fLaC") {
        ("audio/flac", "flac")
    } else if at(0, b"GIF8") {
        ("image/gif", "gif")
    } else if at(0, b"<svg") || at(0, b"<?xml") {
        ("image/svg+xml", "svg")
    } else if at(0, b"glTF") {
        ("model/gltf-binary", "glb")
    } else {
        ("application/octet-stream", "bin")
    }
}

/// The extension for a declared MIME type the emulator knows.
fn extension_of(mime: &str) -> Option<&'static str> {
    Some(match mime.to_ascii_lowercase().as_str() {
        "image/png" => "png",
        "image/jpeg" | "image/jpg" => "jpg",
        "image/webp" => "webp",
        "image/gif" => "gif",
        "image/svg+xml" => "svg",
        "video/mp4" => "mp4",
        "video/webm" => "webm",
        "video/quicktime" => "mov",
        "audio/wav" | "audio/x-wav" | "audio/wave" => "wav",
        "audio/mpeg" | "audio/mp3" => "mp3",
        "audio/ogg" => "ogg",
        "audio/flac" => "flac",
        "model/gltf-binary" => "glb",
        _ => return None,
    })
}

impl Job for Storage {
    fn run<'a>(
        self: Box<Self>,
        shared: &'a Arc<Shared>,
        ctx: &'a TaskCtx<'a>,
        _include_cost: bool,
    ) -> BoxFuture<'a, Result<Vec<Value>, ApiError>> {
        async move {
            match *self {
                Storage::Upload(media) => {
                    let ext = media.extension.clone();
                    let id = shared.store_media(media);
                    let url = shared.media_url(&id, &ext);
                    Ok(vec![item(
                        ctx,
                        json!({"operation": "upload", "mediaUUID": id, "mediaURL": url}),
                    )])
                }
                Storage::Delete(id) => {
                    if !shared.delete_media(&id) {
                        // Deleted by a concurrent task since validation.
                        return Err(not_found(ctx, "mediaUUID", &id));
                    }
                    Ok(vec![item(
                        ctx,
                        json!({"operation": "delete", "mediaUUID": id}),
                    )])
                }
            }
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_common_formats() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n....").1, "png");
        assert_eq!(sniff(b"\0\0\0\x20ftypisom").1, "mp4");
        assert_eq!(sniff(b"RIFF\0\0\0\0WAVEfmt ").1, "wav");
        assert_eq!(sniff(b"ID3\x04").1, "mp3");
        assert_eq!(sniff(b"x").1, "bin");
        assert_eq!(extension_of("audio/wav"), Some("wav"));
        assert_eq!(extension_of("text/plain"), None);
    }
}
