//! The merged outcome of a call: the deduplicated `data` items collected while correlating, and
//! at the end the [`RunOutcome`] with one [`TaskOutcome`] per task, the merged response
//! JSON `{"data":[…],"errors":[…]}`, and whether the call as a whole is an error. Kept apart so
//! the shape the caller sees is decided in one place, whatever path a task took.

use crate::prelude::*;

use serde_json::{Map, Value, json};

use super::{Call, Mode, Phase, RunOutcome, TaskOutcome, TaskStatus};
use crate::error::ClientError;
use crate::parse::json_text;

impl Call {
    /// Adds `item` to the merged `data` unless an identical item is there (cumulative answers
    /// repeat items). Compared as values, not as serialized text: a call holds a few items (one
    /// per result), and serializing each one to compare was a tenth of a call's instructions.
    pub(super) fn push_merged(&mut self, item: &Map<String, Value>) {
        let seen = self
            .merged_data
            .iter()
            .any(|d| matches!(d, Value::Object(m) if m == item));
        if !seen {
            self.merged_data.push(Value::Object(item.clone()));
        }
    }

    pub(super) fn finish(&mut self) -> Result<RunOutcome, ClientError> {
        self.done = true;
        let attempts = self.attempts;
        // The merged response: results, then the last non-result item of tasks without results.
        let mut data = self.merged_data.clone();
        for slot in &self.slots {
            if slot.results.is_empty()
                && let Some(other) = &slot.latest_other
            {
                data.push(Value::Object(other.clone()));
            }
        }
        let mut errors: Vec<Value> = Vec::new();
        let push_error = |v: Value, errors: &mut Vec<Value>| {
            if !errors.contains(&v) {
                errors.push(v);
            }
        };
        for slot in &self.slots {
            if slot.phase != Phase::Failed {
                continue;
            }
            let item = match (&slot.error_item, &slot.error) {
                (Some(item), _) => Value::Object(item.clone()),
                (None, Some(e)) => {
                    let mut m = Map::new();
                    m.insert("taskUUID".into(), json!(slot.uuid));
                    if !slot.task_type.is_empty() {
                        m.insert("taskType".into(), json!(slot.task_type));
                    }
                    m.insert("status".into(), json!("error"));
                    m.insert("code".into(), json!(e.detail.code));
                    m.insert("message".into(), json!(e.detail.message));
                    if let Some(p) = &e.detail.parameter {
                        m.insert("parameter".into(), json!(p));
                    }
                    Value::Object(m)
                }
                (None, None) => continue,
            };
            push_error(item, &mut errors);
        }
        for e in &self.extra_errors {
            push_error(e.clone(), &mut errors);
        }
        // Moved into the value, not copied (as `json!` would serialize them into a new one).
        let mut merged = Map::new();
        merged.insert("data".into(), Value::Array(data));
        merged.insert("errors".into(), Value::Array(errors));
        let response_json = json_text(&Value::Object(merged));
        let mut tasks = Vec::with_capacity(self.slots.len());
        for slot in &self.slots {
            let status = match slot.phase {
                Phase::Success => TaskStatus::Success,
                Phase::Failed => TaskStatus::Failed,
                Phase::Submit | Phase::Poll => TaskStatus::Processing,
            };
            let error = slot.error.clone().map(|mut e| {
                e.detail.attempts = attempts;
                e.detail.response_json = Some(response_json.clone());
                e
            });
            let task_type = if slot.task_type.is_empty() {
                "getResponse".to_string()
            } else {
                slot.task_type.clone()
            };
            let progress = slot
                .latest_other
                .as_ref()
                .and_then(|item| item.get("progress"))
                .and_then(progress_value)
                // A finished task is at 100 %, whatever its last `processing` item said.
                .map(|p| {
                    if status == TaskStatus::Success {
                        100
                    } else {
                        p
                    }
                });
            tasks.push(TaskOutcome {
                task_uuid: slot.uuid.clone(),
                task_type,
                status,
                data: slot.results.clone(),
                error,
                progress,
            });
        }
        let with_context = |mut e: ClientError| {
            e.detail.attempts = attempts;
            e.detail.response_json = Some(response_json.clone());
            e
        };
        if let Some(unknown) = self.unknown.clone() {
            return Err(with_context(unknown));
        }
        let any_answer = self
            .slots
            .iter()
            .any(|s| s.answered || !s.results.is_empty());
        if !any_answer || self.mode == Mode::Wait {
            let failed = tasks.iter().find_map(|t| {
                t.error
                    .clone()
                    .filter(|e| !any_answer || e.detail.code == "deadlineExceeded")
            });
            if let Some(e) = failed {
                return Err(with_context(e));
            }
        }
        Ok(RunOutcome {
            tasks,
            response_json,
            attempts,
        })
    }
}

/// A `progress` value as a percentage: a number (or numeric string) clamped to 0..=100.
fn progress_value(v: &Value) -> Option<u8> {
    let f = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => crate::parse::number_text(s)?,
        _ => return None,
    };
    if !f.is_finite() {
        return None;
    }
    let clamped = libm::round(f.clamp(0.0, 100.0));
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "clamped to 0..=100 above"
    )]
    let p = clamped as u8;
    Some(p)
}
