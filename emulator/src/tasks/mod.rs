//! The task types the emulator serves, one module each, and what they share.
//!
//! A task type is a [`TaskType`]: its names (the canonical one and aliases), its documentation
//! page and its [`Kind`], which says how [`dispatch`](crate::dispatch) runs it:
//!
//! * [`Kind::Bare`]: answered at once, with no taskUUID needed (`authentication`, `ping`);
//! * [`Keyed::Query`]: needs a taskUUID but is never registered, so the taskUUID may be reused
//!   (`modelSearch`, `getResponse`, `getTaskDetails`);
//! * [`Keyed::Work`]: validated into a [`Job`], registered under its taskUUID (so a second use
//!   is a conflict), executed (billed) and, with `deliveryMethod: "async"`, collected later with
//!   `getResponse`. Registration, async delivery, dry runs and injected task errors are the
//!   dispatcher's; a work module only validates and produces its data items.
//!
//! Adding a task type is one new module exporting a `TASK` constant, listed in [`TASK_TYPES`].

use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use crate::dispatch::Output;
use crate::state::Shared;
use crate::validate::{self, ApiError, TaskCtx};

mod audio_inference;
mod authentication;
mod caption;
mod controlnet_preprocess;
mod get_response;
mod get_task_details;
mod image_inference;
mod image_masking;
mod image_upload;
mod input_image;
mod model_search;
mod output;
mod ping;
mod prompt_enhance;
mod raster;
mod remove_background;
mod three_d_inference;
mod transform;
mod upscale;
mod vectorize;
mod video_inference;
mod video_tools;
// The platform tasks: storage, the account and text.
mod account_management;
mod media_storage;
mod text_inference;

/// Every task type, in the order the `unsupportedTaskType` message lists them.
const TASK_TYPES: &[TaskType] = &[
    image_inference::TASK,
    video_inference::TASK,
    audio_inference::TASK,
    image_upload::TASK,
    upscale::TASK,
    remove_background::TASK,
    caption::TASK,
    vectorize::TASK,
    image_masking::TASK,
    controlnet_preprocess::TASK,
    three_d_inference::TASK,
    prompt_enhance::TASK,
    model_search::TASK,
    get_response::TASK,
    get_task_details::TASK,
    authentication::TASK,
    ping::TASK,
    media_storage::TASK,
    account_management::TASK,
    text_inference::TASK,
];

/// The documentation page used for task types the emulator does not know.
const INTRODUCTION: &str = "https://runware.ai/docs/en/getting-started/introduction";

/// One task type.
pub(crate) struct TaskType {
    /// The `taskType` values it answers to: the canonical name first, then aliases.
    pub names: &'static [&'static str],
    /// Its documentation page (errors link to `<page>#request-<param>`).
    pub doc: &'static str,
    /// How it runs.
    pub kind: Kind,
}

/// How a task type runs.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    /// Answered without a taskUUID and never registered.
    Bare(fn() -> Output),
    /// Needs a valid taskUUID.
    Keyed(Keyed),
}

/// How a task type that needs a taskUUID runs.
#[derive(Clone, Copy)]
pub(crate) enum Keyed {
    /// Read-only: answered from the catalog or the registry, never registered. The flag is
    /// `?dryRun=1`.
    Query(QueryFn),
    /// Validates the task into a [`Job`] (or the first parameter error).
    Work(PlanFn),
}

/// Answers a read-only task: (state, owner, task, dry run) → output.
pub(crate) type QueryFn = fn(&Shared, &str, &TaskCtx<'_>, bool) -> Output;

/// Validates a work task into a [`Job`]: (state, task) → job or the first parameter error.
pub(crate) type PlanFn = fn(&Shared, &TaskCtx<'_>) -> Result<Box<dyn Job>, ApiError>;

/// A validated work task, ready to produce its data items.
pub(crate) trait Job: Send {
    /// How many data items it will produce (what `getResponse` shows as `processing` meanwhile).
    fn expected(&self) -> usize {
        1
    }

    /// Whether it is long-running work (video): paced by the video delay, reporting
    /// `progress`, and failing in both error shapes (see [`crate::state::Pace::Long`]).
    fn long(&self) -> bool {
        false
    }

    /// Produces the final data items (or a task error). Nothing here registers or bills: the
    /// dispatcher does that around it.
    fn run<'a>(
        self: Box<Self>,
        shared: &'a Arc<Shared>,
        ctx: &'a TaskCtx<'a>,
        include_cost: bool,
    ) -> BoxFuture<'a, Result<Vec<Value>, ApiError>>;
}

/// The task type answering to `name` (exact, case-sensitive, as Runware matches).
pub(crate) fn lookup(name: &str) -> Option<&'static TaskType> {
    TASK_TYPES.iter().find(|t| t.names.contains(&name))
}

/// The documentation page of a task type (the introduction for unknown ones).
pub(crate) fn doc_page(name: &str) -> &'static str {
    lookup(name).map_or(INTRODUCTION, |t| t.doc)
}

/// `unsupportedTaskType`, listing what the emulator supports.
pub(crate) fn unsupported(ctx: &TaskCtx<'_>) -> ApiError {
    let supported: Vec<String> = TASK_TYPES.iter().map(|t| t.names.join("/")).collect();
    ctx.param_err(
        "unsupportedTaskType",
        "taskType",
        format!(
            "Unsupported task type '{}'. The emulator supports: {}.",
            ctx.task_type,
            supported.join(", ")
        ),
        "string",
        None,
    )
}

/// The acknowledgement of an async or dry-run task: `{taskType, taskUUID}`, no `status`.
pub(crate) fn ack(ctx: &TaskCtx<'_>) -> Value {
    json!({"taskType": ctx.task_type, "taskUUID": ctx.task_uuid})
}

/// `conflictTaskUUID`: the owner already has a task with this taskUUID.
pub(crate) fn conflict(ctx: &TaskCtx<'_>) -> ApiError {
    let mut e = ctx.err(
        "conflictTaskUUID",
        format!("A task with taskUUID '{}' was already accepted. Use a new taskUUID, or poll it with getResponse.", ctx.task_uuid),
    );
    validate::set_field(&mut e, "parameter", json!("taskUUID"));
    e
}

/// `taskNotFound`: the owner has no task with this taskUUID.
fn not_found(ctx: &TaskCtx<'_>) -> ApiError {
    let mut e = ctx.err(
        "taskNotFound",
        format!(
            "No task with taskUUID '{}' was found for this API key.",
            ctx.task_uuid
        ),
    );
    validate::set_field(&mut e, "parameter", json!("taskUUID"));
    validate::set_field(&mut e, "documentation", json!(doc_page("getResponse")));
    e
}

/// A data item of this task: `{taskType, taskUUID}` plus the fields of `extra`.
fn item(ctx: &TaskCtx<'_>, extra: Value) -> Value {
    let mut item = ack(ctx);
    if let (Some(o), Value::Object(e)) = (item.as_object_mut(), extra) {
        o.extend(e);
    }
    item
}

/// `seed`, optional: a positive signed 64-bit integer, as Runware's schema has it.
fn seed(ctx: &TaskCtx<'_>) -> Result<Option<u64>, ApiError> {
    ctx.int_as(
        "seed",
        "Seed",
        validate::range(1.0, 9_223_372_036_854_775_807.0),
        false,
    )
}

/// `numberResults`, optional: 1 to `max`, 1 when absent.
fn number_results(ctx: &TaskCtx<'_>, max: f64) -> Result<usize, ApiError> {
    Ok(ctx
        .int_as(
            "numberResults",
            "Number of results",
            validate::range(1.0, max),
            false,
        )?
        .unwrap_or(1))
}

/// Puts the item's `cost` on it. Always: the dispatcher charges the items' costs to the account
/// and then removes `cost` unless the task asked for it (`includeCost: true`), so that what is
/// reported and what is billed are one number. (The flag is kept for the jobs' call sites.)
fn add_cost(item: &mut Value, _include_cost: bool, cost: f64) {
    validate::set_field(item, "cost", json!(cost));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_documented() {
        let mut seen = std::collections::HashSet::new();
        for t in TASK_TYPES {
            for name in t.names {
                assert!(seen.insert(*name), "{name} listed twice");
                assert_eq!(doc_page(name), t.doc);
            }
            assert!(t.doc.starts_with("https://runware.ai/docs/"), "{}", t.doc);
        }
        assert_eq!(doc_page("training"), INTRODUCTION);
    }

    #[test]
    fn unsupported_lists_every_task_type() {
        let task = serde_json::Map::new();
        let ctx = TaskCtx {
            task: &task,
            task_type: "training",
            task_uuid: "00000000-0000-4000-8000-000000000000",
        };
        let e = unsupported(&ctx);
        assert_eq!(
            e.get("message").and_then(Value::as_str),
            Some(
                "Unsupported task type 'training'. The emulator supports: imageInference, videoInference, audioInference, imageUpload, upscale/imageUpscale, removeBackground/imageBackgroundRemoval, caption/imageCaption, vectorize, imageMasking, controlNetPreprocess/imageControlNetPreProcess, 3dInference, promptEnhance, modelSearch, getResponse, getTaskDetails, authentication, ping, mediaStorage, accountManagement, textInference."
            )
        );
        assert_eq!(
            e.get("code").and_then(Value::as_str),
            Some("unsupportedTaskType")
        );
    }
}
