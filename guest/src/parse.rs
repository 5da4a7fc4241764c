//! Lenient parsing of Runware response bodies (runware-api.md §3.2) and of error items.
//!
//! Accepted shapes: `{"data":[…]}`, `{"errors":[…]}`, both, `data`/`errors` as one object,
//! `{"error":{…}}` / `{"error":[…]}` (with a top-level `taskUUID`/`taskType` copied into it), the
//! legacy `{"error":true,"errorMessage":…}`, and a top-level array of such objects. Anything else
//! is an error string (the caller turns it into `invalidResponse`).

use crate::prelude::*;

use core::fmt;

use serde_json::{Map, Value};

use crate::error::{ClientError, ErrorKind, classify_code, classify_status};

/// The items of a response: data items and error items, all JSON objects, in arrival order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    /// `data` items.
    pub data: Vec<Map<String, Value>>,
    /// `errors` items.
    pub errors: Vec<Map<String, Value>>,
}

/// Parses a response body. Never panics; returns why the body is unreadable otherwise.
pub fn parse_response(body: &[u8]) -> Result<Parsed, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON ({e})"))?;
    let mut parsed = Parsed::default();
    match value {
        Value::Object(obj) => parse_envelope(obj, &mut parsed)?,
        Value::Array(items) => {
            if items.is_empty() {
                return Err("the body is an empty array".to_string());
            }
            for item in items {
                match item {
                    Value::Object(obj) => parse_envelope(obj, &mut parsed)?,
                    _ => return Err("a top-level array element is not an object".to_string()),
                }
            }
        }
        _ => return Err("the body is neither an object nor an array".to_string()),
    }
    Ok(parsed)
}

fn objects(value: Value, what: &str) -> Result<Vec<Map<String, Value>>, String> {
    let items = match value {
        Value::Null => Vec::new(),
        Value::Object(obj) => vec![obj],
        Value::Array(items) => items
            .into_iter()
            .map(|i| match i {
                Value::Object(obj) => Ok(obj),
                _ => Err(format!("an item of `{what}` is not an object")),
            })
            .collect::<Result<Vec<_>, String>>()?,
        _ => return Err(format!("`{what}` is neither an array nor an object")),
    };
    // Correlation depends on these two fields: a wrong type there is an unreadable answer.
    for item in &items {
        for key in ["taskUUID", "taskType"] {
            if item
                .get(key)
                .is_some_and(|v| !v.is_string() && !v.is_null())
            {
                return Err(format!("`{key}` of an item of `{what}` is not a string"));
            }
        }
    }
    Ok(items)
}

fn parse_envelope(mut obj: Map<String, Value>, parsed: &mut Parsed) -> Result<(), String> {
    let data = obj.remove("data");
    let errors = obj.remove("errors");
    let error = obj.remove("error");
    if data.is_none() && errors.is_none() && error.is_none() {
        return Err("the object has none of `data`, `errors`, `error`".to_string());
    }
    if let Some(d) = data {
        parsed.data.extend(objects(d, "data")?);
    }
    if let Some(e) = errors {
        parsed.errors.extend(objects(e, "errors")?);
    }
    match error {
        None | Some(Value::Null) | Some(Value::Bool(false)) => {}
        Some(Value::Bool(true)) => {
            // Legacy WebSocket form: {"error":true,"errorId":19,"errorMessage":"Invalid api key"}.
            let mut item = Map::new();
            let code = match obj.get("errorId").and_then(Value::as_u64) {
                Some(19) => "invalidApiKey".to_string(),
                Some(id) => format!("legacyError{id}"),
                None => "unknownError".to_string(),
            };
            item.insert("code".into(), Value::String(code));
            if let Some(m) = obj.get("errorMessage") {
                item.insert("message".into(), m.clone());
            }
            parsed.errors.push(item);
        }
        Some(Value::String(message)) => {
            let mut item = Map::new();
            item.insert("message".into(), Value::String(message));
            copy_task_fields(&obj, &mut item);
            parsed.errors.push(item);
        }
        Some(other) => {
            for mut item in objects(other, "error")? {
                copy_task_fields(&obj, &mut item);
                parsed.errors.push(item);
            }
        }
    }
    Ok(())
}

fn copy_task_fields(from: &Map<String, Value>, to: &mut Map<String, Value>) {
    for key in ["taskUUID", "taskType"] {
        if !to.contains_key(key)
            && let Some(v) = from.get(key)
        {
            to.insert(key.to_string(), v.clone());
        }
    }
}

/// A number written as text (`"42.5"`, as some APIs send `cost` or `progress`), read leniently:
/// surrounding space, a leading `+`, leading zeros and a bare `.` at either end of the digits
/// (`+5`, `007`, `.5`, `5.`) are accepted, as Rust's `str::parse::<f64>` accepted them, and
/// the rest is JSON's number syntax. It is parsed by serde_json, which the component links
/// anyway, so core's own float parser (about 15 KB of code and tables) stays out of it.
pub fn number_text(text: &str) -> Option<f64> {
    let t = text.trim();
    let (sign, body) = match t.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", t.strip_prefix('+').unwrap_or(t)),
    };
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => body.split_at(at),
        None => (body, ""),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
        return None;
    }
    let int = int.trim_start_matches('0');
    let mut json = String::with_capacity(t.len() + 2);
    json.push_str(sign);
    json.push_str(if int.is_empty() { "0" } else { int });
    if !frac.is_empty() {
        json.push('.');
        json.push_str(frac);
    }
    json.push_str(exponent);
    value_from_text(&json).ok()?.as_f64()
}

/// The compact JSON text of a value, byte for byte what `serde_json::to_string` writes (a test
/// checks it against serde_json on generated values). Every value becomes text through this one
/// function. Written here rather than with serde_json's serializer because, measured under
/// callgrind at the component's `opt-level = "z"`, that serializer took about 55 instructions
/// per byte (each byte goes through its `Write` and `split_at` calls, none inlined), a quarter of
/// the component's instructions for an image call; this loop copies unescaped runs whole.
pub fn json_text(value: &Value) -> String {
    let mut out = String::with_capacity(256);
    write_json(&mut out, value);
    out
}

fn write_json(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => {
            // `Number`'s Display is its JSON text (itoa, and zmij for floats, as the serializer).
            let _ = fmt::Write::write_fmt(out, format_args!("{n}"));
        }
        Value::String(s) => write_json_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, key);
                out.push(':');
                write_json(out, item);
            }
            out.push('}');
        }
    }
}

/// A JSON string literal, escaped as serde_json escapes: `"` and `\`, the short forms `\b`
/// `\f` `\n` `\r` `\t`, other control characters as `\u00XX`; everything else (non-ASCII
/// included) as it is.
fn write_json_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut start = 0;
    for (i, &b) in s.as_bytes().iter().enumerate() {
        // Most bytes need no escape: three comparisons, before the full match.
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        // `i` is the index of an ASCII byte, so both slices end on character boundaries.
        out.push_str(s.get(start..i).unwrap_or_default());
        if short.is_empty() {
            out.push_str("\\u00");
            out.push(char::from(*HEX.get(usize::from(b >> 4)).unwrap_or(&b'0')));
            out.push(char::from(*HEX.get(usize::from(b & 0xf)).unwrap_or(&b'0')));
        } else {
            out.push_str(short);
        }
        start = i + 1;
    }
    out.push_str(s.get(start..).unwrap_or_default());
    out.push('"');
}

/// JSON text from `&str` input, parsed as bytes: `from_slice` and `from_str` are two
/// instantiations of serde_json's whole parser, and the component needs only one. The errors
/// are the same (a `&str` is valid UTF-8, so `from_slice`'s extra check never fails).
pub fn value_from_text(text: &str) -> serde_json::Result<Value> {
    serde_json::from_slice(text.as_bytes())
}

/// A string field of an item (only when it is a non-empty string).
pub fn str_field<'a>(item: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    item.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The taskUUID an item names, if any.
pub fn item_task_uuid(item: &Map<String, Value>) -> Option<&str> {
    str_field(item, "taskUUID")
}

/// Turns an error item into a `ClientError`: the kind from its `code` (or from `status` when
/// the code says nothing), `parameter` (the first one when it is a list), task and message.
/// A data item with `status:"error"` and a nested `error` object is accepted too.
pub fn error_from_item(item: &Map<String, Value>, http_status: Option<u16>) -> ClientError {
    let nested = item.get("error").and_then(Value::as_object);
    let field = |key: &str| -> Option<String> {
        str_field(item, key)
            .or_else(|| nested.and_then(|n| str_field(n, key)))
            .map(str::to_string)
    };
    let code = field("code");
    let (mut kind, mut retryable) = match &code {
        Some(c) => classify_code(c),
        None => (ErrorKind::Other, false),
    };
    if kind == ErrorKind::Other
        && let Some(status) = http_status.filter(|s| *s >= 400)
    {
        kind = classify_status(status);
        retryable = crate::error::status_retryable(status);
    }
    let message = field("message").unwrap_or_else(|| match &code {
        Some(c) => format!("Runware error {c}"),
        None => "Runware returned an error without a code".to_string(),
    });
    let parameter = item
        .get("parameter")
        .or_else(|| nested.and_then(|n| n.get("parameter")))
        .and_then(|p| match p {
            Value::String(s) => Some(s.clone()),
            Value::Array(list) => list.iter().find_map(Value::as_str).map(str::to_string),
            _ => None,
        });
    let mut err = ClientError::new(
        kind,
        code.unwrap_or_else(|| "unknownError".to_string()),
        message,
    )
    .retryable(retryable)
    .with_status(http_status);
    err.detail.parameter = parameter;
    err.detail.task_uuid = field("taskUUID");
    err.detail.task_type = field("taskType");
    err
}

/// Whether a data item reports a failure (`status:"error"`).
pub fn is_error_item(item: &Map<String, Value>) -> bool {
    str_field(item, "status")
        .is_some_and(|s| s.eq_ignore_ascii_case("error") || s.eq_ignore_ascii_case("failed"))
}

/// Whether a data item is a final result: `status` is `success` or absent, and (when absent)
/// the item carries more than the acknowledgement fields.
pub fn is_result_item(item: &Map<String, Value>) -> bool {
    match str_field(item, "status") {
        Some(s) => s.eq_ignore_ascii_case("success"),
        None => item.keys().any(|k| {
            !matches!(
                k.as_str(),
                "taskType" | "taskUUID" | "status" | "progress" | "deliveryMethod" | "cost"
            )
        }),
    }
}

/// The key used to deduplicate results of one task across cumulative answers: the values of every
/// `…UUID` field except `taskUUID` (plus `resultIndex`), or the whole item when it has none.
pub fn result_key(item: &Map<String, Value>) -> String {
    let mut parts: Vec<String> = item
        .iter()
        .filter(|(k, _)| {
            (k.ends_with("UUID") && k.as_str() != "taskUUID") || k.as_str() == "resultIndex"
        })
        .map(|(k, v)| format!("{k}={}", json_text(v)))
        .collect();
    if parts.is_empty() {
        let mut whole = item.clone();
        whole.remove("status");
        return json_text(&Value::Object(whole));
    }
    parts.sort();
    parts.join("&")
}
