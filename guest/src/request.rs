//! Request building and local validation: the typed image request and model search become task
//! JSON; raw `run-tasks` input is normalised (taskUUIDs added, keys refused).

use crate::prelude::*;

use serde_json::{Map, Value, json};

use crate::error::ClientError;

pub use crate::wit::{
    CommonOptions, Delivery, ImageRequest, Lora, ModelSearchRequest, OutputFormat, OutputType,
};
use runware_spec::{Bounds, LORA_WEIGHT, PROMPT_CHARS, SIZE, SIZE_STEP};
pub use runware_spec::{DEFAULT_MODEL, DEFAULT_SIZE};

/// Whether `air` has the AIR syntax `provider:id@version` (provider: letters, digits, `_`, `-`;
/// id and version: letters, digits, `_`, `-`, `.`).
pub fn is_air(air: &str) -> bool {
    let Some((provider, rest)) = air.split_once(':') else {
        return false;
    };
    let Some((id, version)) = rest.split_once('@') else {
        return false;
    };
    let word = |s: &str, dot: bool| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || (dot && c == '.'))
    };
    word(provider, false) && word(id, true) && word(version, true)
}

/// The `f64` nearest to the shortest decimal that reads back as `v` (so `0.1f32` becomes
/// `0.1`, not `0.10000000149011612`). Plain arithmetic, so core's float formatting and parsing
/// (large tables) stay out of the component; serde_json prints the result.
pub fn f32_shortest(v: f32) -> f64 {
    let d = f64::from(v);
    if d == 0.0 || !d.is_finite() {
        return d;
    }
    #[expect(
        clippy::cast_possible_truncation,
        reason = "|log10| of an f32 is below 50"
    )]
    let magnitude = libm::floor(libm::log10(d.abs())) as i32;
    for digits in 1..=9 {
        let k = digits - 1 - magnitude;
        let r = if k >= 0 {
            let scale = powi10(k);
            libm::round(d * scale) / scale
        } else {
            let scale = powi10(-k);
            libm::round(d / scale) * scale
        };
        #[expect(
            clippy::cast_possible_truncation,
            reason = "comparing in f32 on purpose"
        )]
        let back = r as f32;
        if back == v {
            return r;
        }
    }
    d
}

/// `10f64.powi(k)` for `k >= 0`, computed as std's `powi` is (compiler-rt's `__powidf2`:
/// square and multiply), so the results are the same bits; `powi` is std-only, and the crate
/// is `no_std` on wasm32.
fn powi10(k: i32) -> f64 {
    let mut base = 10.0_f64;
    let mut e = k.unsigned_abs();
    let mut r = 1.0_f64;
    loop {
        if e & 1 == 1 {
            r *= base;
        }
        e >>= 1;
        if e == 0 {
            break;
        }
        base *= base;
    }
    r
}

/// `x.fract()` as std defines it (`x - x.trunc()`); std-only, see [`powi10`].
pub(crate) fn fract(x: f64) -> f64 {
    x - libm::trunc(x)
}

/// A float as JSON (see [`f32_shortest`]).
pub(crate) fn f32_json(v: f32) -> Value {
    serde_json::Number::from_f64(f32_shortest(v)).map_or(Value::Null, Value::Number)
}

/// A float as text for messages: integers without a fraction, `NaN` and infinities by name.
fn f32_text(v: f32) -> String {
    let d = f32_shortest(v);
    if d.is_nan() {
        "NaN".to_string()
    } else if d.is_infinite() {
        if d > 0.0 { "inf" } else { "-inf" }.to_string()
    } else if fract(d) == 0.0 && d.abs() < 1e15 {
        #[expect(clippy::cast_possible_truncation, reason = "an integer below 1e15")]
        let i = d as i64;
        i.to_string()
    } else {
        crate::parse::json_text(&f32_json(v))
    }
}

pub(crate) fn check_prompt(text: &str, field: &str, code: &str) -> Result<(), ClientError> {
    let n = text.chars().count();
    let Bounds { min, max } = PROMPT_CHARS;
    if (min..=max).contains(&n) {
        Ok(())
    } else {
        Err(ClientError::invalid(
            code,
            field,
            format!("{field} has {n} characters; it must have {min} to {max}"),
        ))
    }
}

pub(crate) fn check_range_u<T: Into<u64> + Copy + core::fmt::Display>(
    value: Option<T>,
    field: &str,
    code: &str,
    Bounds { min, max }: Bounds<u64>,
) -> Result<(), ClientError> {
    match value {
        Some(v) if !(min..=max).contains(&v.into()) => Err(ClientError::invalid(
            code,
            field,
            format!("{field} is {v}; it must be {min} to {max}"),
        )),
        _ => Ok(()),
    }
}

pub(crate) fn check_range_f(
    value: Option<f32>,
    field: &str,
    code: &str,
    Bounds { min, max }: Bounds<f32>,
) -> Result<(), ClientError> {
    match value {
        Some(v) if !(v.is_finite() && v >= min && v <= max) => Err(ClientError::invalid(
            code,
            field,
            format!(
                "{field} is {}; it must be {} to {}",
                f32_text(v),
                f32_text(min),
                f32_text(max)
            ),
        )),
        _ => Ok(()),
    }
}

fn check_size(value: u32, field: &str, code: &str) -> Result<(), ClientError> {
    let Bounds { min, max } = SIZE;
    if (min..=max).contains(&value) && value.is_multiple_of(SIZE_STEP) {
        Ok(())
    } else {
        Err(ClientError::invalid(
            code,
            field,
            format!("{field} is {value}; it must be {min} to {max} in multiples of {SIZE_STEP}"),
        ))
    }
}

pub(crate) fn check_nonempty(
    value: Option<&String>,
    field: &str,
    code: &str,
) -> Result<(), ClientError> {
    match value {
        Some(v) if v.trim().is_empty() => Err(ClientError::invalid(
            code,
            field,
            format!("{field} is empty"),
        )),
        _ => Ok(()),
    }
}

/// Finds an `apiKey` field at any depth of `value`.
pub fn contains_api_key(value: &Value) -> bool {
    match value {
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("apiKey") || contains_api_key(v)),
        Value::Array(items) => items.iter().any(contains_api_key),
        _ => false,
    }
}

/// The message used when a key shows up in a task: never the key's value.
pub const KEY_IN_TASK_MESSAGE: &str = "an API key must not be sent in a task: set it through the host \
     (the RUNWARE_API_KEY environment variable) and remove the authentication task or apiKey field";

/// Validates `request` and builds its `imageInference` task with `task_uuid`.
/// Every violation is an `invalid-request` naming the JSON field, the value and the range.
pub fn build_image_task(request: &ImageRequest, task_uuid: &str) -> Result<Value, ClientError> {
    check_prompt(
        &request.positive_prompt,
        "positivePrompt",
        "invalidPositivePrompt",
    )?;
    if let Some(neg) = &request.negative_prompt {
        check_prompt(neg, "negativePrompt", "invalidNegativePrompt")?;
    }
    let model = request
        .model
        .clone()
        .unwrap_or_else(|| DEFAULT_MODEL.to_string());
    if !is_air(&model) {
        return Err(ClientError::invalid(
            "invalidModel",
            "model",
            format!(
                "model is {model:?}; it must be an AIR like provider:id@version (e.g. runware:101@1)"
            ),
        ));
    }
    let width = request.width.unwrap_or(DEFAULT_SIZE);
    let height = request.height.unwrap_or(DEFAULT_SIZE);
    check_size(width, "width", "invalidWidth")?;
    check_size(height, "height", "invalidHeight")?;
    check_range_u(request.steps, "steps", "invalidSteps", runware_spec::STEPS)?;
    check_range_f(
        request.cfg_scale,
        "CFGScale",
        "invalidCFGScale",
        runware_spec::CFG_SCALE,
    )?;
    check_range_u(request.seed, "seed", "invalidSeed", runware_spec::SEED)?;
    check_nonempty(request.scheduler.as_ref(), "scheduler", "invalidScheduler")?;
    let number_results = request
        .number_results
        .unwrap_or(runware_spec::DEFAULT_NUMBER_RESULTS);
    check_range_u(
        Some(number_results),
        "numberResults",
        "invalidNumberResults",
        runware_spec::NUMBER_RESULTS,
    )?;
    check_range_u(
        request.output_quality,
        "outputQuality",
        "invalidOutputQuality",
        runware_spec::OUTPUT_QUALITY,
    )?;
    check_nonempty(request.seed_image.as_ref(), "seedImage", "invalidSeedImage")?;
    check_nonempty(request.mask_image.as_ref(), "maskImage", "invalidMaskImage")?;
    check_range_f(
        request.strength,
        "strength",
        "invalidStrength",
        runware_spec::STRENGTH,
    )?;
    check_range_u(
        request.clip_skip,
        "clipSkip",
        "invalidClipSkip",
        runware_spec::CLIP_SKIP,
    )?;
    for (i, lora) in request.loras.iter().enumerate() {
        if !is_air(&lora.model) {
            return Err(ClientError::invalid(
                "invalidLora",
                "lora",
                format!(
                    "lora[{i}].model is {:?}; it must be an AIR like provider:id@version",
                    lora.model
                ),
            ));
        }
        let Bounds { min, max } = LORA_WEIGHT;
        if let Some(w) = lora.weight
            && !(w.is_finite() && (min..=max).contains(&w))
        {
            return Err(ClientError::invalid(
                "invalidLoraWeight",
                "lora",
                format!(
                    "lora[{i}].weight is {}; it must be {} to {}",
                    f32_text(w),
                    f32_text(min),
                    f32_text(max)
                ),
            ));
        }
    }

    let mut task = Map::new();
    task.insert("taskType".into(), json!("imageInference"));
    task.insert("taskUUID".into(), json!(task_uuid));
    task.insert("positivePrompt".into(), json!(request.positive_prompt));
    if let Some(v) = &request.negative_prompt {
        task.insert("negativePrompt".into(), json!(v));
    }
    task.insert("model".into(), json!(model));
    task.insert("width".into(), json!(width));
    task.insert("height".into(), json!(height));
    task.insert("numberResults".into(), json!(number_results));
    if let Some(v) = request.steps {
        task.insert("steps".into(), json!(v));
    }
    if let Some(v) = request.cfg_scale {
        task.insert("CFGScale".into(), f32_json(v));
    }
    if let Some(v) = request.seed {
        task.insert("seed".into(), json!(v));
    }
    if let Some(v) = &request.scheduler {
        task.insert("scheduler".into(), json!(v));
    }
    if let Some(v) = request.output_type {
        task.insert("outputType".into(), json!(output_type_name(v)));
    }
    if let Some(v) = request.output_format {
        task.insert("outputFormat".into(), json!(output_format_name(v)));
    }
    if let Some(v) = request.output_quality {
        task.insert("outputQuality".into(), json!(v));
    }
    if let Some(v) = request.safety_check {
        task.insert("safety".into(), json!({ "checkContent": v }));
    }
    if let Some(v) = request.delivery {
        task.insert("deliveryMethod".into(), json!(delivery_name(v)));
    }
    if !request.loras.is_empty() {
        let loras: Vec<Value> = request
            .loras
            .iter()
            .map(|l| {
                let mut m = Map::new();
                m.insert("model".into(), json!(l.model));
                if let Some(w) = l.weight {
                    m.insert("weight".into(), f32_json(w));
                }
                Value::Object(m)
            })
            .collect();
        task.insert("lora".into(), Value::Array(loras));
    }
    if let Some(v) = &request.seed_image {
        task.insert("seedImage".into(), json!(v));
    }
    if let Some(v) = &request.mask_image {
        task.insert("maskImage".into(), json!(v));
    }
    if let Some(v) = request.strength {
        task.insert("strength".into(), f32_json(v));
    }
    if let Some(v) = request.clip_skip {
        task.insert("clipSkip".into(), json!(v));
    }
    insert_common(&mut task, &request.common)?;
    if let Some(extra) = &request.extra_json {
        merge_extra(&mut task, extra)?;
    }
    Ok(Value::Object(task))
}

/// The wire name of an output type.
pub(crate) fn output_type_name(v: OutputType) -> &'static str {
    match v {
        OutputType::Url => "URL",
        OutputType::DataUri => "dataURI",
        OutputType::Base64Data => "base64Data",
    }
}

/// The wire name of an image format.
pub(crate) fn output_format_name(v: OutputFormat) -> &'static str {
    match v {
        OutputFormat::Jpg => "JPG",
        OutputFormat::Png => "PNG",
        OutputFormat::Webp => "WEBP",
    }
}

/// The wire name of a delivery method.
pub(crate) fn delivery_name(v: Delivery) -> &'static str {
    match v {
        Delivery::Sync => "sync",
        Delivery::Async => "async",
    }
}

/// Checks and adds the parameters every task can carry (`includeCost`, `webhookURL`, `ttl`,
/// `uploadEndpoint`). The URLs must be http or https: a typo is caught before anything is paid.
pub(crate) fn insert_common(
    task: &mut Map<String, Value>,
    common: &CommonOptions,
) -> Result<(), ClientError> {
    if let Some(v) = common.include_cost {
        task.insert("includeCost".into(), json!(v));
    }
    for (field, value) in [
        ("webhookURL", &common.webhook_url),
        ("uploadEndpoint", &common.upload_endpoint),
    ] {
        if let Some(url) = value {
            let lower = url.trim().to_ascii_lowercase();
            if !(lower.starts_with("http://") || lower.starts_with("https://")) {
                return Err(ClientError::invalid(
                    "invalidUrl",
                    field,
                    format!("{field} is {url:?}; it must be an http or https URL"),
                ));
            }
            task.insert(field.into(), json!(url));
        }
    }
    check_range_u(common.ttl, "ttl", "invalidTtl", runware_spec::TTL_SECONDS)?;
    if let Some(v) = common.ttl {
        task.insert("ttl".into(), json!(v));
    }
    Ok(())
}

/// Merges the `extra-json` object into `task`; its fields override the typed ones.
pub(crate) fn merge_extra(task: &mut Map<String, Value>, extra: &str) -> Result<(), ClientError> {
    let parsed: Value = crate::parse::value_from_text(extra).map_err(|e| {
        ClientError::invalid(
            "invalidExtraJson",
            "extraJson",
            format!("extra-json is not valid JSON: {e}"),
        )
    })?;
    let Value::Object(map) = parsed else {
        return Err(ClientError::invalid(
            "invalidExtraJson",
            "extraJson",
            "extra-json must be a JSON object",
        ));
    };
    if contains_api_key(&Value::Object(map.clone())) {
        return Err(ClientError::invalid(
            "invalidExtraJson",
            "apiKey",
            KEY_IN_TASK_MESSAGE,
        ));
    }
    for key in ["taskType", "taskUUID"] {
        if map.contains_key(key) {
            return Err(ClientError::invalid(
                "invalidExtraJson",
                key,
                format!("extra-json may not set {key}; the component sets it"),
            ));
        }
    }
    for (k, v) in map {
        task.insert(k, v);
    }
    Ok(())
}

/// Validates `request` and builds its `modelSearch` task with `task_uuid`.
pub fn build_model_search_task(
    request: &ModelSearchRequest,
    task_uuid: &str,
) -> Result<Value, ClientError> {
    check_range_u(
        request.limit,
        "limit",
        "invalidLimit",
        runware_spec::SEARCH_LIMIT,
    )?;
    let mut task = Map::new();
    task.insert("taskType".into(), json!("modelSearch"));
    task.insert("taskUUID".into(), json!(task_uuid));
    let strings = [
        ("search", &request.search),
        ("category", &request.category),
        ("type", &request.model_type),
        ("architecture", &request.architecture),
        ("conditioning", &request.conditioning),
        ("visibility", &request.visibility),
    ];
    for (field, value) in strings {
        if let Some(v) = value {
            task.insert(field.into(), json!(v));
        }
    }
    if !request.tags.is_empty() {
        task.insert("tags".into(), json!(request.tags));
    }
    if let Some(v) = request.limit {
        task.insert("limit".into(), json!(v));
    }
    if let Some(v) = request.offset {
        task.insert("offset".into(), json!(v));
    }
    Ok(Value::Object(task))
}

/// Builds a `getResponse` task for `task_uuid`.
pub fn get_response_task(task_uuid: &str) -> Value {
    json!({ "taskType": "getResponse", "taskUUID": task_uuid })
}

/// Normalises raw `run-tasks` input: a JSON array of task objects, or one task object. Tasks
/// without a `taskUUID` get one from `new_uuid`. Refuses (with `invalid-request`): text that is
/// not JSON, an empty array, an element that is not an object or lacks a string `taskType`, a
/// `taskUUID` that is not a non-empty string, a taskUUID used twice, an `authentication` task, and
/// an `apiKey` field at any depth (the message points to `RUNWARE_API_KEY`, never the value).
pub fn normalize_tasks(
    tasks_json: &str,
    new_uuid: &mut dyn FnMut() -> String,
) -> Result<Vec<Map<String, Value>>, ClientError> {
    let parsed: Value = crate::parse::value_from_text(tasks_json).map_err(|e| {
        ClientError::invalid(
            "invalidTasks",
            "tasks-json",
            format!("tasks-json is not valid JSON: {e}"),
        )
    })?;
    let items = match parsed {
        Value::Array(items) => items,
        obj @ Value::Object(_) => vec![obj],
        _ => {
            return Err(ClientError::invalid(
                "invalidTasks",
                "tasks-json",
                "tasks-json must be a JSON array of task objects or one task object",
            ));
        }
    };
    if items.is_empty() {
        return Err(ClientError::invalid(
            "invalidTasks",
            "tasks-json",
            "tasks-json holds no task",
        ));
    }
    let mut out = Vec::with_capacity(items.len());
    let mut seen = alloc::collections::BTreeSet::new();
    for (i, item) in items.into_iter().enumerate() {
        let Value::Object(mut task) = item else {
            return Err(ClientError::invalid(
                "invalidTasks",
                "tasks-json",
                format!("task {i} is not a JSON object"),
            ));
        };
        if contains_api_key(&Value::Object(task.clone())) {
            return Err(ClientError::invalid(
                "invalidApiKey",
                "apiKey",
                KEY_IN_TASK_MESSAGE,
            ));
        }
        let task_type = match task.get("taskType") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => {
                return Err(ClientError::invalid(
                    "missingTaskType",
                    "taskType",
                    format!("task {i} has no taskType string"),
                ));
            }
        };
        if task_type.eq_ignore_ascii_case("authentication") {
            return Err(ClientError::invalid(
                "invalidTaskType",
                "taskType",
                KEY_IN_TASK_MESSAGE,
            ));
        }
        let uuid = match task.get("taskUUID") {
            None | Some(Value::Null) => {
                let u = new_uuid();
                task.insert("taskUUID".into(), json!(u));
                u
            }
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            Some(_) => {
                return Err(ClientError::invalid(
                    "invalidTaskUUID",
                    "taskUUID",
                    format!("task {i} has a taskUUID that is not a non-empty string"),
                ));
            }
        };
        if !seen.insert(uuid.clone()) {
            return Err(ClientError::invalid(
                "duplicateTaskUUID",
                "taskUUID",
                format!("taskUUID {uuid} is used by more than one task"),
            ));
        }
        out.push(task);
    }
    Ok(out)
}

/// How many data items mean a task is done: `numberResults` for images (and any task with that
/// field), `promptVersions` for `promptEnhance`, else 1.
pub fn expected_results(task: &Map<String, Value>) -> u32 {
    let field = |name: &str| {
        task.get(name)
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n >= 1)
    };
    let task_type = task
        .get("taskType")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if task_type == "promptEnhance" {
        return field("promptVersions").unwrap_or(1);
    }
    field("numberResults").unwrap_or(1)
}

/// Whether a task asks for async delivery.
pub fn is_async(task: &Map<String, Value>) -> bool {
    task.get("deliveryMethod")
        .and_then(Value::as_str)
        .is_some_and(|s| s.eq_ignore_ascii_case("async"))
}

/// Checks a taskUUID given to `get-response` or `wait`: non-empty, at most 128 characters,
/// letters, digits and `-` only.
pub fn check_task_uuid(task_uuid: &str) -> Result<(), ClientError> {
    let ok = !task_uuid.is_empty()
        && task_uuid.len() <= 128
        && task_uuid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(ClientError::invalid(
            "invalidTaskUUID",
            "taskUUID",
            format!(
                "taskUUID {task_uuid:?} is not a UUID (letters, digits and '-', 1 to 128 characters)"
            ),
        ))
    }
}
