//! `--out DIR`: saving what a task produced as `<DIR>/<UUID>.<ext>`, whatever it is (an image,
//! a video, an audio, stored media) and however it came (base64, a data URI, or a URL downloaded
//! through the component). Text outputs (captions, enhanced prompts) are not files: they stay in
//! the JSON on stdout.
//!
//! One function, [`save_outputs`], does it for every kind; `text-to-image`'s images go through it
//! too. The file name comes from the server, so it is checked before use: a hostile server cannot
//! write outside `--out`. The extension is the bytes' own (their magic number), else the
//! requested format's, else the URL's (or the data URI's type), else the kind's usual one.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use runware_host::{Client, Image, Output, OutputFormat, OutputKind};

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
    let outputs: Vec<Output> = images.iter().map(image_output).collect();
    save_outputs(
        client,
        dir,
        &outputs,
        format.map(OutputFormat::extension),
        spinner,
    )
    .await
    .map(drop)
}

/// An `imageInference` image as the generic output record.
fn image_output(image: &Image) -> Output {
    Output {
        task_uuid: image.task_uuid.clone(),
        task_type: "imageInference".into(),
        kind: OutputKind::Image,
        uuid: Some(image.image_uuid.clone()),
        url: image.image_url.clone(),
        data_uri: image.image_data_uri.clone(),
        base64_data: image.image_base64_data.clone(),
        text: None,
        seed: image.seed,
        cost: image.cost,
        json: String::new(),
    }
}

/// Creates `dir` and saves every output that carries media into it as `<UUID>.<ext>`, saying
/// each path on stderr; returns the paths. `format` is the extension of the requested format,
/// when one was requested. Text outputs, and outputs without media (a deletion), are skipped.
pub async fn save_outputs(
    client: &Client,
    dir: &Path,
    outputs: &[Output],
    format: Option<&'static str>,
    spinner: &Spinner,
) -> Result<Vec<PathBuf>, Fail> {
    std::fs::create_dir_all(dir).map_err(|e| {
        Fail::with_code(
            exit::RESPONSE_ERRORS,
            format!("--out {}: cannot create the directory: {e}", dir.display()),
        )
    })?;
    let mut paths = Vec::new();
    for output in outputs.iter().filter(|o| has_media(o)) {
        let path = save_output(client, dir, output, format).await?;
        spinner.println(&format!("runware: saved {}", path.display()));
        paths.push(path);
    }
    Ok(paths)
}

/// The files a raw task's data item names, as outputs to save: every `<x>URL`, `<x>DataURI`
/// and `<x>Base64Data` field with its `<x>UUID`, and the `outputs.files[] {uuid, url}` of tasks
/// such as `3dInference`. `webhookURL` and `uploadEndpoint` are destinations, not outputs.
pub fn outputs_of_item(item_json: &str, task_uuid: &str, task_type: &str) -> Vec<Output> {
    let Ok(serde_json::Value::Object(item)) = serde_json::from_str::<serde_json::Value>(item_json)
    else {
        return Vec::new();
    };
    let text = |k: &str| item.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let output = |uuid: Option<String>| Output {
        task_uuid: task_uuid.to_string(),
        task_type: task_type.to_string(),
        kind: OutputKind::Other,
        uuid,
        json: item_json.to_string(),
        ..Output::default()
    };
    let mut outputs = Vec::new();
    for (key, value) in &item {
        let Some(value) = value.as_str() else {
            continue;
        };
        let (prefix, mut o) = if let Some(p) = key.strip_suffix("URL") {
            if key == "webhookURL" {
                continue;
            }
            let mut o = output(text(&format!("{p}UUID")));
            o.url = Some(value.to_string());
            (p, o)
        } else if let Some(p) = key.strip_suffix("DataURI") {
            let mut o = output(text(&format!("{p}UUID")));
            o.data_uri = Some(value.to_string());
            (p, o)
        } else if let Some(p) = key.strip_suffix("Base64Data") {
            let mut o = output(text(&format!("{p}UUID")));
            o.base64_data = Some(value.to_string());
            (p, o)
        } else {
            continue;
        };
        if o.uuid.is_none() {
            o.uuid = Some(format!("{task_uuid}-{prefix}"));
        }
        outputs.push(o);
    }
    if let Some(files) = item
        .get("outputs")
        .and_then(|o| o.get("files"))
        .and_then(|f| f.as_array())
    {
        for file in files {
            let mut o = output(
                file.get("uuid")
                    .and_then(|v| v.as_str())
                    .map(str::to_string),
            );
            o.url = file.get("url").and_then(|v| v.as_str()).map(str::to_string);
            if o.url.is_some() && o.uuid.is_some() {
                outputs.push(o);
            }
        }
    }
    outputs
}

/// Whether an output is a file to save (not text, and carrying a URL or the bytes).
pub fn has_media(o: &Output) -> bool {
    o.kind != OutputKind::Text
        && (o.url.is_some() || o.data_uri.is_some() || o.base64_data.is_some())
}

/// The usual extension of a kind, the last resort.
fn kind_ext(kind: OutputKind) -> &'static str {
    match kind {
        OutputKind::Image => "jpg",
        OutputKind::Video => "mp4",
        OutputKind::Audio => "mp3",
        OutputKind::Text => "txt",
        OutputKind::Other => "bin",
    }
}

/// Writes one output as `<dir>/<UUID>.<ext>`.
async fn save_output(
    client: &Client,
    dir: &Path,
    output: &Output,
    format: Option<&'static str>,
) -> Result<PathBuf, Fail> {
    let uuid = output.uuid.as_deref().unwrap_or_default();
    let name = safe_file_stem(uuid).ok_or_else(|| {
        Fail::with_code(
            exit::RESPONSE_ERRORS,
            format!(
                "output {uuid} (taskUUID {}): its UUID is not usable as a file name",
                output.task_uuid
            ),
        )
    })?;
    save_output_as(client, dir, output, name, format).await
}

/// Writes one output as `<dir>/<stem>.<ext>` (`runware batch` names them by line and index);
/// `stem` is the caller's, not the server's.
pub async fn save_output_as(
    client: &Client,
    dir: &Path,
    output: &Output,
    name: &str,
    format: Option<&'static str>,
) -> Result<PathBuf, Fail> {
    let uuid = output.uuid.as_deref().unwrap_or_default();
    let who = format!("output {uuid} (taskUUID {})", output.task_uuid);
    let bad = |m: String| Fail::with_code(exit::RESPONSE_ERRORS, format!("{who}: {m}"));
    let (bytes, hinted_ext) = if let Some(b64) = &output.base64_data {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|e| bad(format!("its base64 data is not base64: {e}")))?;
        (bytes, None)
    } else if let Some(uri) = &output.data_uri {
        let (mime, data) = parse_data_uri(uri)
            .ok_or_else(|| bad("its data URI is not a base64 data: URI".to_string()))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|e| bad(format!("its data URI is not base64: {e}")))?;
        (bytes, ext_from_mime(mime))
    } else if let Some(url) = &output.url {
        let bytes = client.download(url).await.map_err(|e| {
            let code = exit::exit_code(&e);
            Fail::with_code(code, format!("{who}: download: {e}"))
        })?;
        (bytes, ext_from_url(url))
    } else {
        return Err(bad("the response carries no data".to_string()));
    };
    // What the bytes are wins: a server that answered another format than the one asked for
    // (the emulator answers MP3 with WAV) must not get a misnamed file.
    let ext = sniff_ext(&bytes)
        .or(format)
        .or(hinted_ext)
        .unwrap_or(kind_ext(output.kind));
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

/// The extension for a MIME type, for the formats Runware returns.
pub fn ext_from_mime(mime: &str) -> Option<&'static str> {
    match mime.to_ascii_lowercase().as_str() {
        "image/png" => Some("png"),
        "image/jpeg" | "image/jpg" => Some("jpg"),
        "image/webp" => Some("webp"),
        "image/svg+xml" => Some("svg"),
        "video/mp4" => Some("mp4"),
        "video/webm" => Some("webm"),
        "video/quicktime" => Some("mov"),
        "audio/mpeg" | "audio/mp3" => Some("mp3"),
        "audio/wav" | "audio/x-wav" | "audio/wave" => Some("wav"),
        "audio/flac" | "audio/x-flac" => Some("flac"),
        "audio/ogg" => Some("ogg"),
        "model/gltf-binary" => Some("glb"),
        _ => None,
    }
}

/// The extension of a URL's path (query and fragment ignored), for the formats Runware
/// returns.
pub fn ext_from_url(url: &str) -> Option<&'static str> {
    let path = url.split(['?', '#']).next()?;
    let last = path.rsplit('/').next()?;
    let ext = last.rsplit_once('.')?.1.to_ascii_lowercase();
    const KNOWN: [&str; 12] = [
        "png", "jpg", "webp", "svg", "glb", "mp4", "webm", "mov", "mp3", "wav", "flac", "ogg",
    ];
    match ext.as_str() {
        "jpeg" => Some("jpg"),
        e => KNOWN.into_iter().find(|k| *k == e),
    }
}

/// The format the bytes actually are, from their magic number.
pub fn sniff_ext(bytes: &[u8]) -> Option<&'static str> {
    runware_host::input::sniff_mime(bytes).and_then(ext_from_mime)
}

/// A UUID as a file name: letters, digits, `-` and `_` only (a hostile server cannot write
/// outside `--out`).
pub fn safe_file_stem(uuid: &str) -> Option<&str> {
    let ok = !uuid.is_empty()
        && uuid.len() <= 128
        && uuid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ok.then_some(uuid)
}
