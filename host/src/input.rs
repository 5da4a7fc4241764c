//! Inputs given as text: a Runware UUID, a URL, a data URI, base64, or a local file, which only
//! the host can read (the component has no filesystem).
//!
//! The rule, in order (the order matters: Runware's own SDKs mistook base64 for a missing path
//! and a path for base64):
//! 1. `http://` / `https://` URLs, `data:` URIs and Runware UUIDs (`8-4-4-4-12` hex) are sent as
//!    they are;
//! 2. an existing local file is read: at most [`spec::INLINE_INPUT_MAX_BYTES`] (1 MiB) is sent
//!    inline as a data URI, a larger one is uploaded first (`imageUpload` for images,
//!    `mediaStorage` for any other media) and sent by its UUID;
//! 3. text of at least 64 characters that is valid base64 is sent as it is;
//! 4. anything else is an `invalid-request` error naming the path: a path that does not exist is
//!    never sent as text.

use std::path::Path;

use base64::Engine as _;

use crate::client::Client;
use crate::error::{Error, ErrorDetail, ErrorKind};
use crate::types::Task;
use runware_spec as spec;

/// What an input is, which picks the upload task for a large local file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    /// An image: uploaded with `imageUpload`.
    Image,
    /// A video, an audio or anything else: uploaded with `mediaStorage`.
    Media,
}

/// How [`resolve_input`] sent a local file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// Sent as given (a URL, data URI, UUID or base64).
    AsGiven(String),
    /// A local file of this many bytes, inlined as a data URI.
    Inlined {
        /// The data URI.
        data_uri: String,
        /// The file's size.
        bytes: u64,
    },
    /// A local file of this many bytes, uploaded first; the value is its Runware UUID.
    Uploaded {
        /// The UUID Runware gave the upload.
        uuid: String,
        /// The file's size.
        bytes: u64,
    },
}

impl Resolved {
    /// The value to put in the task.
    pub fn value(&self) -> &str {
        match self {
            Resolved::AsGiven(v) => v,
            Resolved::Inlined { data_uri, .. } => data_uri,
            Resolved::Uploaded { uuid, .. } => uuid,
        }
    }
}

/// Whether `s` is a Runware UUID (`8-4-4-4-12` hexadecimal digits).
pub fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

fn is_base64(s: &str) -> bool {
    s.len() >= 64
        && base64::engine::general_purpose::STANDARD
            .decode(s.trim_end_matches('\n'))
            .is_ok()
}

/// The MIME type the first bytes show (their magic number), for the formats Runware takes and
/// returns; `None` when they show none of them.
pub fn sniff_mime(bytes: &[u8]) -> Option<&'static str> {
    let at = |offset: usize, sig: &[u8]| bytes.get(offset..offset + sig.len()) == Some(sig);
    let mime = if at(0, b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if at(0, &[0xff, 0xd8, 0xff]) {
        "image/jpeg"
    } else if at(0, b"GIF8") {
        "image/gif"
    } else if at(0, b"RIFF") && at(8, b"WEBP") {
        "image/webp"
    } else if at(0, b"RIFF") && at(8, b"WAVE") {
        "audio/wav"
    } else if at(4, b"ftypqt") {
        "video/quicktime"
    } else if at(4, b"ftyp") {
        "video/mp4"
    } else if at(0, &[0x1a, 0x45, 0xdf, 0xa3]) {
        "video/webm"
    } else if at(0, b"ID3") || at(0, &[0xff, 0xfb]) || at(0, &[0xff, 0xf3]) || at(0, &[0xff, 0xf2])
    {
        "audio/mpeg"
    } else if at(0, b"fLaC") {
        "audio/flac"
    } else if at(0, b"OggS") {
        "audio/ogg"
    } else if at(0, b"glTF") {
        "model/gltf-binary"
    } else if is_svg(bytes) {
        "image/svg+xml"
    } else {
        return None;
    };
    Some(mime)
}

/// Whether the bytes start like an SVG document (`<svg`, or an XML prolog followed by one).
fn is_svg(bytes: &[u8]) -> bool {
    let head = bytes.get(..bytes.len().min(512)).unwrap_or(bytes);
    let text = String::from_utf8_lossy(head);
    let t = text.trim_start();
    t.starts_with("<svg") || (t.starts_with("<?xml") && t.contains("<svg"))
}

/// The MIME type of a file, from its first bytes ([`sniff_mime`]), else its extension.
pub fn mime_type(path: &Path, head: &[u8]) -> &'static str {
    if let Some(mime) = sniff_mime(head) {
        return mime;
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "mp4" => "video/mp4",
        "mov" => "video/quicktime",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "flac" => "audio/flac",
        "ogg" => "audio/ogg",
        "svg" => "image/svg+xml",
        "glb" => "model/gltf-binary",
        _ => "application/octet-stream",
    }
}

fn invalid(parameter: &str, message: String) -> Error {
    Error::Api {
        kind: ErrorKind::InvalidRequest,
        detail: Box::new(ErrorDetail {
            code: "invalidInputFile".into(),
            message,
            parameter: Some(parameter.into()),
            ..ErrorDetail::default()
        }),
    }
}

/// Where an input comes from, decided without reading it (the rule in the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A URL, a data URI, a Runware UUID or base64: sent as given.
    AsGiven,
    /// An existing local file of this many bytes.
    File {
        /// Its size.
        bytes: u64,
    },
}

/// Classifies `value` (steps 1 to 4 of the module docs) without reading a file, so a caller
/// can check its inputs before anything starts. `Err` says why it is none of them, naming it.
pub fn classify(value: &str) -> Result<Source, String> {
    let v = value.trim();
    if v.is_empty() {
        return Err("the value is empty".to_string());
    }
    let lower = v.to_ascii_lowercase();
    if lower.starts_with("http://")
        || lower.starts_with("https://")
        || lower.starts_with("data:")
        || is_uuid(v)
    {
        return Ok(Source::AsGiven);
    }
    match std::fs::metadata(v) {
        Ok(meta) if meta.is_file() => Ok(Source::File { bytes: meta.len() }),
        Ok(_) => Err(format!("{v} is not a file")),
        Err(_) if is_base64(v) => Ok(Source::AsGiven),
        Err(e) => Err(format!(
            "{v:?} is no readable file ({e}), and not a URL, data URI, base64 or Runware UUID \
             either"
        )),
    }
}

/// Reads the local file at `path` (off the async threads: it may be large or on a slow disk)
/// as a `data:` URI; also returns its MIME type and size.
pub async fn read_data_uri(path: &str) -> Result<(String, &'static str, u64), String> {
    let owned = path.to_string();
    let bytes = tokio::task::spawn_blocking(move || std::fs::read(owned))
        .await
        .map_err(|e| format!("cannot read {path}: {e}"))?
        .map_err(|e| format!("cannot read {path}: {e}"))?;
    let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    let head = bytes.get(..512).unwrap_or(&bytes);
    let mime = mime_type(Path::new(path), head);
    let uri = format!(
        "data:{mime};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&bytes)
    );
    Ok((uri, mime, size))
}

/// Turns `value` into what a task can carry, reading and (when large) uploading a local file
/// through `client`. `parameter` names the task field in errors (`inputs.image`, for example).
pub async fn resolve_input(
    client: &Client,
    value: &str,
    kind: MediaKind,
    parameter: &str,
) -> Result<Resolved, Error> {
    let v = value.trim();
    let fail = |m: String| invalid(parameter, format!("{parameter}: {m}"));
    if classify(v).map_err(fail)? == Source::AsGiven {
        return Ok(Resolved::AsGiven(v.to_string()));
    }
    let (data_uri, _, size) = read_data_uri(v).await.map_err(fail)?;
    if size <= spec::INLINE_INPUT_MAX_BYTES {
        return Ok(Resolved::Inlined {
            data_uri,
            bytes: size,
        });
    }
    let task = match kind {
        MediaKind::Image => Task::ImageUpload(data_uri),
        MediaKind::Media => Task::MediaUpload(data_uri),
    };
    let outcome = client.run(&task).await?;
    let uuid = outcome
        .outputs
        .iter()
        .find_map(|o| o.uuid.clone())
        .ok_or_else(|| {
            invalid(
                parameter,
                format!(
                    "{parameter}: the upload of {v} was answered without a UUID (taskUUID {})",
                    outcome.task_uuid
                ),
            )
        })?;
    Ok(Resolved::Uploaded { uuid, bytes: size })
}
