//! `--out DIR`: saving the generated images as `<DIR>/<imageUUID>.<ext>`, whatever the output
//! type (base64, data URI, or a URL downloaded through the component).
//!
//! The file name comes from the server, so it is checked before use: a hostile server cannot
//! write outside `--out`. The extension follows the bytes' actual format when it is known.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use runware_host::{Client, Image, OutputFormat};

use crate::exit::{self, Fail};
use crate::progress::Spinner;

/// Creates `dir` and saves every image into it, saying each path on stderr.
pub async fn save_images(
    client: &Client,
    dir: &Path,
    images: &[Image],
    format: Option<OutputFormat>,
    spinner: &Spinner,
) -> Result<(), Fail> {
    std::fs::create_dir_all(dir).map_err(|e| {
        Fail::with_code(
            exit::RESPONSE_ERRORS,
            format!("--out {}: cannot create the directory: {e}", dir.display()),
        )
    })?;
    for image in images {
        let path = save_image(client, dir, image, format).await?;
        spinner.println(&format!("runware: saved {}", path.display()));
    }
    Ok(())
}

/// Writes one image as `<dir>/<imageUUID>.<ext>`.
async fn save_image(
    client: &Client,
    dir: &Path,
    image: &Image,
    format: Option<OutputFormat>,
) -> Result<PathBuf, Fail> {
    let who = format!("image {} (taskUUID {})", image.image_uuid, image.task_uuid);
    let bad = |m: String| Fail::with_code(exit::RESPONSE_ERRORS, format!("{who}: {m}"));
    let (bytes, hinted_ext) = if let Some(b64) = &image.image_base64_data {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|e| bad(format!("imageBase64Data is not base64: {e}")))?;
        (bytes, None)
    } else if let Some(uri) = &image.image_data_uri {
        let (mime, data) = parse_data_uri(uri)
            .ok_or_else(|| bad("imageDataURI is not a base64 data: URI".to_string()))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|e| bad(format!("imageDataURI is not base64: {e}")))?;
        (bytes, ext_from_mime(mime))
    } else if let Some(url) = &image.image_url {
        let bytes = client.download(url).await.map_err(|e| {
            let code = exit::exit_code(&e);
            Fail::with_code(code, format!("{who}: download: {e}"))
        })?;
        (bytes, ext_from_url(url))
    } else {
        return Err(bad("the response carries no image data".to_string()));
    };
    let ext = sniff_ext(&bytes)
        .or(hinted_ext)
        .or(format.map(OutputFormat::extension))
        .unwrap_or("jpg");
    let name = safe_file_stem(&image.image_uuid)
        .ok_or_else(|| bad("imageUUID is not usable as a file name".to_string()))?;
    let path = dir.join(format!("{name}.{ext}"));
    std::fs::write(&path, &bytes)
        .map_err(|e| bad(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}

/// `data:<mime>;base64,<data>` → (mime, data).
pub fn parse_data_uri(uri: &str) -> Option<(&str, &str)> {
    let rest = uri.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let mime = meta.strip_suffix(";base64")?;
    Some((mime, data))
}

/// The extension for an image MIME type, for the formats Runware returns.
fn ext_from_mime(mime: &str) -> Option<&'static str> {
    match mime.to_ascii_lowercase().as_str() {
        "image/png" => Some("png"),
        "image/jpeg" | "image/jpg" => Some("jpg"),
        "image/webp" => Some("webp"),
        _ => None,
    }
}

/// The extension of a URL's path (query and fragment ignored), for the formats Runware
/// returns.
pub fn ext_from_url(url: &str) -> Option<&'static str> {
    let path = url.split(['?', '#']).next()?;
    let ext = path.rsplit_once('.')?.1.to_ascii_lowercase();
    match ext.as_str() {
        "png" => Some("png"),
        "jpg" | "jpeg" => Some("jpg"),
        "webp" => Some("webp"),
        _ => None,
    }
}

/// The format the bytes actually are, from their magic number.
pub fn sniff_ext(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("jpg")
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        Some("webp")
    } else {
        None
    }
}

/// An imageUUID as a file name: letters, digits, `-` and `_` only (a hostile server cannot
/// write outside `--out`).
pub fn safe_file_stem(uuid: &str) -> Option<&str> {
    let ok = !uuid.is_empty()
        && uuid.len() <= 128
        && uuid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ok.then_some(uuid)
}
