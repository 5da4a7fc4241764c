//! `getTaskDetails`: `{taskType, taskUUID, request: [the task as sent, apiKey redacted],
//! response: {data, errors?}}` for a task of the same key.

use serde_json::json;

use super::{Keyed, Kind, TaskType, not_found};
use crate::dispatch::Output;
use crate::state::Shared;
use crate::validate::TaskCtx;

/// The task type.
pub(super) const TASK: TaskType = TaskType {
    names: &["getTaskDetails"],
    doc: "https://runware.ai/docs/en/utilities/task-responses",
    kind: Kind::Keyed(Keyed::Query(answer)),
};

/// Read-only, so a dry run answers the same.
fn answer(shared: &Shared, owner: &str, ctx: &TaskCtx<'_>, _dry_run: bool) -> Output {
    match shared.task_view(owner, ctx.task_uuid) {
        None => Output::Error(not_found(ctx)),
        Some(view) => {
            let response = if view.errors.is_empty() {
                json!({"data": view.data})
            } else {
                json!({"data": view.data, "errors": view.errors})
            };
            Output::Data(vec![json!({
                "taskType": "getTaskDetails",
                "taskUUID": ctx.task_uuid,
                "request": [view.request],
                "response": response,
            })])
        }
    }
}
