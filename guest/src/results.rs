//! Typed results: images and models read leniently from data items, and the rules that turn a
//! call's outcome into the typed calls' results or errors.

use serde_json::{Map, Value};

use crate::error::{ClientError, ErrorKind};
use crate::machine::{RunOutcome, TaskStatus};
use crate::parse::str_field;

pub use crate::wit::{Image, ImageResult, Model, ModelSearchResult};

/// A number that may arrive as a JSON number or as a numeric string.
fn lenient_u64(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0 && f.fract() == 0.0 && *f < 1.8e19)
                .map(|f| {
                    #[expect(
                        clippy::cast_possible_truncation,
                        clippy::cast_sign_loss,
                        reason = "checked range"
                    )]
                    let u = f as u64;
                    u
                })
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn lenient_f64(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => serde_json::from_str::<f64>(s.trim())
            .ok()
            .filter(|f| f.is_finite()),
        _ => None,
    }
}

fn lenient_bool(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// Reads an image from a data item (missing or mistyped fields are left empty).
pub fn image_from_item(item: &Map<String, Value>, task_uuid: &str) -> Image {
    let s = |k: &str| str_field(item, k).map(str::to_string);
    Image {
        task_uuid: s("taskUUID").unwrap_or_else(|| task_uuid.to_string()),
        image_uuid: s("imageUUID").unwrap_or_default(),
        image_url: s("imageURL"),
        image_data_uri: s("imageDataURI"),
        image_base64_data: s("imageBase64Data"),
        seed: lenient_u64(item.get("seed")),
        nsfw_content: lenient_bool(item.get("NSFWContent")),
        cost: lenient_f64(item.get("cost")),
    }
}

/// Reads a model object.
pub fn model_from_value(value: &Value) -> Model {
    let empty = Map::new();
    let obj = value.as_object().unwrap_or(&empty);
    let s = |k: &str| str_field(obj, k).map(str::to_string);
    let tags = match obj.get("tags") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(Value::String(t)) => t
            .split(',')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect(),
        _ => Vec::new(),
    };
    Model {
        air: s("air").unwrap_or_default(),
        name: s("name").unwrap_or_default(),
        version: s("version"),
        category: s("category"),
        architecture: s("architecture"),
        tags,
        json: value.to_string(),
    }
}

/// The single task's error (or a `timeout` when it is still processing) with the call's context.
fn single_task_error(outcome: &RunOutcome) -> Option<ClientError> {
    let task = outcome.tasks.first()?;
    match task.status {
        TaskStatus::Success => None,
        TaskStatus::Failed => task.error.clone(),
        TaskStatus::Processing => {
            let mut e = ClientError::new(
                ErrorKind::Timeout,
                "deadlineExceeded",
                "the task did not finish in time",
            )
            .retryable(true)
            .for_task(&task.task_uuid, Some(&task.task_type));
            e.detail.attempts = outcome.attempts;
            e.detail.response_json = Some(outcome.response_json.clone());
            Some(e)
        }
    }
}

fn no_task(outcome: &RunOutcome) -> ClientError {
    let mut e = ClientError::new(ErrorKind::Other, "missingResult", "the call had no task");
    e.detail.attempts = outcome.attempts;
    e
}

/// `text-to-image`: the task must have succeeded; its images in arrival order.
pub fn image_result(outcome: RunOutcome) -> Result<ImageResult, ClientError> {
    if let Some(e) = single_task_error(&outcome) {
        return Err(e);
    }
    let task = outcome.tasks.first().ok_or_else(|| no_task(&outcome))?;
    let images = task
        .data
        .iter()
        .map(|item| image_from_item(item, &task.task_uuid))
        .collect();
    Ok(ImageResult {
        task_uuid: task.task_uuid.clone(),
        images,
        response_json: outcome.response_json.clone(),
    })
}

/// `model-search`: the task must have succeeded; `totalResults` and `results` of its first item.
pub fn model_search_result(outcome: RunOutcome) -> Result<ModelSearchResult, ClientError> {
    if let Some(e) = single_task_error(&outcome) {
        return Err(e);
    }
    let task = outcome.tasks.first().ok_or_else(|| no_task(&outcome))?;
    let mut results = Vec::new();
    let mut total = None;
    for item in &task.data {
        if let Some(Value::Array(models)) = item.get("results") {
            results.extend(models.iter().map(model_from_value));
        }
        total = total.or_else(|| lenient_u64(item.get("totalResults")));
    }
    let total_results = total.unwrap_or(u64::try_from(results.len()).unwrap_or(u64::MAX));
    Ok(ModelSearchResult {
        task_uuid: task.task_uuid.clone(),
        total_results,
        results,
        response_json: outcome.response_json.clone(),
    })
}

/// `run-tasks`, `get-response` and `wait`: every task's outcome as the WIT `run-result`, each
/// data item as JSON text.
pub fn run_result(outcome: RunOutcome) -> crate::wit::RunResult {
    let tasks = outcome
        .tasks
        .into_iter()
        .map(|t| crate::wit::TaskResult {
            task_uuid: t.task_uuid,
            task_type: t.task_type,
            status: t.status,
            data: t
                .data
                .into_iter()
                .map(|m| Value::Object(m).to_string())
                .collect(),
            error: t.error.map(|e| *e.detail),
        })
        .collect();
    crate::wit::RunResult {
        tasks,
        response_json: outcome.response_json,
    }
}
