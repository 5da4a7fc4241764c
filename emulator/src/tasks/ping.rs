//! `ping`: `{taskType:"ping", pong:true}`, no taskUUID needed.

use serde_json::json;

use super::{INTRODUCTION, Kind, TaskType};
use crate::dispatch::Output;

/// The task type.
pub(super) const TASK: TaskType = TaskType {
    names: &["ping"],
    doc: INTRODUCTION,
    kind: Kind::Bare(answer),
};

fn answer() -> Output {
    Output::Data(vec![json!({"taskType": "ping", "pong": true})])
}
