//! Where an image task's output goes: `outputType` (`URL`, `dataURI`, `base64Data`; one or a
//! list), `outputFormat` and `outputQuality`, and the `<prefix>URL`/`…DataURI`/`…Base64Data`
//! fields they add to a data item.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use crate::render::Format;
use crate::state::Shared;
use crate::validate::{self, ApiError, Range, TaskCtx};

/// The accepted `outputType` values, in their canonical spelling.
const TYPES: &[&str] = &["URL", "dataURI", "base64Data"];

/// The accepted `outputFormat` values (compared case-insensitively).
const FORMATS: &[&str] = &["JPG", "JPEG", "PNG", "WEBP"];

/// The JPG quality when `outputQuality` is absent.
const DEFAULT_QUALITY: u8 = 95;

/// The validated output options of a task.
pub(super) struct OutputOptions {
    /// The output types, canonical spelling, in request order.
    pub types: Vec<&'static str>,
    /// The image format.
    pub format: Format,
    /// The JPG quality (20–99).
    pub quality: u8,
}

/// Reads `outputType`, `outputFormat` and `outputQuality` (`default_format` when no format
/// is asked for).
pub(super) fn options(
    ctx: &TaskCtx<'_>,
    default_format: Format,
) -> Result<OutputOptions, ApiError> {
    let types = types(ctx)?;
    let format = ctx
        .one_of("outputFormat", "Output format", FORMATS, true, false)?
        .and_then(Format::parse)
        .unwrap_or(default_format);
    let quality = ctx
        .int_as(
            "outputQuality",
            "Output quality",
            Range {
                min: 20.0,
                max: 99.0,
                multiplier: None,
            },
            false,
        )?
        .unwrap_or(DEFAULT_QUALITY);
    Ok(OutputOptions {
        types,
        format,
        quality,
    })
}

/// Reads `outputType` alone (one value or a list; `URL` when absent), for tasks whose outputs
/// are not raster images (`vectorize`'s SVG) and so read their own `outputFormat`.
pub(super) fn types(ctx: &TaskCtx<'_>) -> Result<Vec<&'static str>, ApiError> {
    let types = match ctx.task.get("outputType") {
        None | Some(Value::Null) => vec!["URL"],
        Some(Value::Array(list)) if !list.is_empty() => {
            let mut out = Vec::new();
            for v in list {
                let found = v
                    .as_str()
                    .and_then(|s| TYPES.iter().copied().find(|t| t.eq_ignore_ascii_case(s)));
                match found {
                    Some(t) => out.push(t),
                    None => return Err(invalid_type(ctx)),
                }
            }
            out
        }
        Some(Value::String(_)) => vec![
            ctx.one_of("outputType", "Output type", TYPES, true, true)?
                .unwrap_or("URL"),
        ],
        Some(_) => return Err(invalid_type(ctx)),
    };
    Ok(types)
}

/// The error for an `outputType` that is not one of [`TYPES`] (or a list holding one).
fn invalid_type(ctx: &TaskCtx<'_>) -> ApiError {
    ctx.one_of("outputType", "Output type", TYPES, true, true)
        .err()
        .unwrap_or_else(|| ctx.wrong_type("outputType", "string"))
}

/// Adds the output fields of a stored image (`imageUUID` `uuid`, encoded `bytes`) to `item`.
pub(super) fn add(
    shared: &Shared,
    item: &mut Value,
    prefix: &str,
    uuid: &str,
    bytes: &[u8],
    out: &OutputOptions,
) {
    let url = shared.image_url(uuid, out.format);
    add_fields(item, prefix, &out.types, &url, out.format.mime(), bytes);
}

/// Adds `<prefix>URL`, `<prefix>Base64Data` and `<prefix>DataURI` (those `types` ask for) for an
/// output served at `url` with MIME type `mime`: the raster images and `vectorize`'s SVG alike.
pub(super) fn add_fields(
    item: &mut Value,
    prefix: &str,
    types: &[&str],
    url: &str,
    mime: &str,
    bytes: &[u8],
) {
    for t in types {
        let (field, value) = match *t {
            "URL" => ("URL", json!(url)),
            "base64Data" => ("Base64Data", json!(B64.encode(bytes))),
            _ => (
                "DataURI",
                json!(format!("data:{mime};base64,{}", B64.encode(bytes))),
            ),
        };
        validate::set_field(item, &format!("{prefix}{field}"), value);
    }
}
