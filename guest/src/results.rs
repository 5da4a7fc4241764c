//! Typed results: images and models read leniently from data items, and the rules that turn a
//! call's outcome into the typed calls' results or errors.

use crate::prelude::*;

use serde_json::{Map, Value};

use crate::error::{ClientError, ErrorKind};
use crate::machine::{RunOutcome, TaskStatus};
use crate::parse::str_field;

pub use crate::wit::{
    Account, Image, ImageResult, Job, Model, ModelSearchResult, Output, OutputKind, TaskOutcome,
};

/// A number that may arrive as a JSON number or as a numeric string.
fn lenient_u64(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| {
                    f.is_finite() && *f >= 0.0 && crate::request::fract(*f) == 0.0 && *f < 1.8e19
                })
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
        Value::String(s) => crate::parse::number_text(s).filter(|f| f.is_finite()),
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
        json: crate::parse::json_text(value),
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
        cost: cost_sum(&task.data),
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
                .map(|m| crate::parse::json_text(&Value::Object(m)))
                .collect(),
            error: t.error.map(|e| *e.detail),
        })
        .collect();
    crate::wit::RunResult {
        tasks,
        response_json: outcome.response_json,
    }
}

/// The sum of the items' `cost`, when any reported one.
pub fn cost_sum<'a>(items: impl IntoIterator<Item = &'a Map<String, Value>>) -> Option<f64> {
    items
        .into_iter()
        .filter_map(|item| lenient_f64(item.get("cost")))
        .fold(None, |sum, c| Some(sum.unwrap_or(0.0) + c))
}

/// Reads one output from a data item: its kind from the task type, else from its fields.
pub fn output_from_item(item: &Map<String, Value>, task_uuid: &str, task_type: &str) -> Output {
    let s = |k: &str| str_field(item, k).map(str::to_string);
    // The field prefix of each kind, in the order they are looked for.
    let prefixes = [
        ("video", OutputKind::Video),
        ("audio", OutputKind::Audio),
        ("image", OutputKind::Image),
        ("guideImage", OutputKind::Image),
        ("maskImage", OutputKind::Image),
        ("media", OutputKind::Other),
    ];
    let found = prefixes.iter().find(|(p, _)| {
        item.contains_key(&format!("{p}UUID")) || item.contains_key(&format!("{p}URL"))
    });
    let text = s("text");
    let (prefix, kind) = match found {
        Some((p, k)) => (Some(*p), *k),
        None if text.is_some() => (None, OutputKind::Text),
        None => (None, OutputKind::Other),
    };
    let field = |suffix: &str| prefix.and_then(|p| s(&format!("{p}{suffix}")));
    Output {
        task_uuid: s("taskUUID").unwrap_or_else(|| task_uuid.to_string()),
        task_type: s("taskType").unwrap_or_else(|| task_type.to_string()),
        kind,
        uuid: field("UUID"),
        url: field("URL"),
        data_uri: field("DataURI"),
        base64_data: field("Base64Data"),
        text,
        seed: lenient_u64(item.get("seed")),
        cost: lenient_f64(item.get("cost")),
        json: crate::parse::json_text(&Value::Object(item.clone())),
    }
}

/// `run`, `poll` and `wait-for`: the one task's outcome with its outputs, progress and cost.
/// A `run` that failed or ran out of time is an error carrying what arrived; a `poll` reports
/// any state.
pub fn task_outcome(outcome: RunOutcome, must_finish: bool) -> Result<TaskOutcome, ClientError> {
    if must_finish && let Some(e) = single_task_error(&outcome) {
        return Err(e);
    }
    let RunOutcome {
        tasks,
        response_json,
        attempts,
    } = outcome;
    let Some(task) = tasks.into_iter().next() else {
        let mut e = ClientError::new(ErrorKind::Other, "missingResult", "the call had no task");
        e.detail.attempts = attempts;
        return Err(e);
    };
    let outputs = task
        .data
        .iter()
        .map(|item| output_from_item(item, &task.task_uuid, &task.task_type))
        .collect();
    Ok(TaskOutcome {
        cost: cost_sum(&task.data),
        task_uuid: task.task_uuid,
        task_type: task.task_type,
        status: task.status,
        progress: task.progress,
        outputs,
        error: task.error.map(|e| *e.detail),
        response_json,
    })
}

/// `submit`: the job to store, once Runware acknowledged the task (or already failed it).
pub fn job(outcome: RunOutcome, expected_results: u32) -> Result<Job, ClientError> {
    let task = outcome.tasks.first().ok_or_else(|| no_task(&outcome))?;
    if let Some(e) = &task.error {
        return Err(e.clone());
    }
    Ok(Job {
        task_uuid: task.task_uuid.clone(),
        task_type: Some(task.task_type.clone()),
        expected_results: Some(expected_results),
    })
}

/// `account`: the balance and currency of the `getDetails` item.
pub fn account(outcome: RunOutcome) -> Result<Account, ClientError> {
    if let Some(e) = single_task_error(&outcome) {
        return Err(e);
    }
    let task = outcome.tasks.first().ok_or_else(|| no_task(&outcome))?;
    let empty = Map::new();
    let item = task.data.first().unwrap_or(&empty);
    let balance = item.get("balance");
    // `balance` is an object `{amount, currency}` in the current schema, a number in older ones.
    let (amount, currency) = match balance {
        Some(Value::Object(b)) => (
            lenient_f64(b.get("amount")),
            str_field(b, "currency").map(str::to_string),
        ),
        other => (lenient_f64(other), None),
    };
    Ok(Account {
        organization_name: str_field(item, "organizationName").map(str::to_string),
        balance: amount,
        currency: currency.or_else(|| str_field(item, "currency").map(str::to_string)),
        json: crate::parse::json_text(&Value::Object(item.clone())),
    })
}

/// `task-details`: the item, as JSON text.
pub fn task_details(outcome: RunOutcome) -> Result<String, ClientError> {
    if let Some(e) = single_task_error(&outcome) {
        return Err(e);
    }
    let task = outcome.tasks.first().ok_or_else(|| no_task(&outcome))?;
    Ok(task.data.first().map_or_else(
        || "{}".to_string(),
        |item| crate::parse::json_text(&Value::Object(item.clone())),
    ))
}
