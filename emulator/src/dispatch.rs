//! Running one task, for REST and WebSocket alike: the task envelope (an object with a string
//! `taskType` and, for all but `authentication` and `ping`, a UUID `taskUUID`), the lookup of
//! its [`TaskType`](crate::tasks::TaskType), and the life of a work task: validate, reserve the
//! taskUUID (a conflict otherwise), run it or fail it with an injected task error, bill it, then
//! record the outcome (sync answered at once, async through `getResponse`) and start its
//! deliveries (webhooks, `uploadEndpoint`).
//!
//! Billing happens here and only here: a job puts each item's `cost` on it, and the dispatcher
//! charges their sum to the account (refusing the task with `insufficientCredits` when the
//! balance cannot cover it), then removes `cost` from the items unless `includeCost` is set.
//! Dry runs, failed tasks and `getResponse` re-deliveries are never charged.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::delivery;
use crate::faults;
use crate::state::{Outcome, Pace, Shared};
use crate::tasks::{self, Keyed, Kind};
use crate::validate::{self, ApiError, TaskCtx};

/// What one task produced.
pub(crate) enum Output {
    /// Data items (possibly several: numberResults, promptVersions).
    Data(Vec<Value>),
    /// One error.
    Error(ApiError),
    /// Data items and an error of the same task (a failed long-running task as `getResponse`
    /// reports it: a `status: "error"` item and the top-level error).
    DataAndError(Vec<Value>, ApiError),
    /// Nothing (an authentication task over REST).
    Nothing,
}

/// Per-request options.
#[derive(Default, Clone)]
pub(crate) struct TaskOpts {
    /// `?dryRun=1`: validate only.
    pub dry_run: bool,
    /// An injected task error code for the work tasks of this request.
    pub task_error: Option<String>,
    /// Only tasks of this type get the injected task error or never finish (None: every work
    /// task).
    pub task_error_type: Option<String>,
    /// The `neverFinish` fault: async work tasks of this request stay `processing` forever.
    pub never_finish: bool,
}

/// The result of running one task.
pub(crate) struct TaskRun {
    /// What to answer.
    pub output: Output,
    /// The taskUUID if the task was executed (accepted and processed).
    pub executed: Option<String>,
}

impl TaskRun {
    fn out(output: Output) -> Self {
        Self {
            output,
            executed: None,
        }
    }
    fn err(e: ApiError) -> Self {
        Self::out(Output::Error(e))
    }
    fn executed(output: Output, task_uuid: &str) -> Self {
        Self {
            output,
            executed: Some(task_uuid.to_string()),
        }
    }
}

/// Runs one task for `owner` (the authenticated key).
pub(crate) async fn run_task(
    shared: &Arc<Shared>,
    owner: &str,
    task: &Value,
    opts: &TaskOpts,
) -> TaskRun {
    let Some(obj) = task.as_object() else {
        return TaskRun::err(validate::error(
            "invalidRequestBody",
            "Each element of the request array must be a task object.",
        ));
    };
    let task_type = match task_type(obj) {
        Ok(t) => t,
        Err(e) => return TaskRun::err(e),
    };
    let keyed = match tasks::lookup(task_type).map(|t| t.kind) {
        Some(Kind::Bare(answer)) => return TaskRun::out(answer()),
        Some(Kind::Keyed(keyed)) => Some(keyed),
        None => None,
    };
    // Every other task needs a taskUUID (any UUID version is accepted), unknown types too.
    let task_uuid = match task_uuid(obj, task_type) {
        Ok(u) => u,
        Err(e) => return TaskRun::err(e),
    };
    let ctx = TaskCtx {
        task: obj,
        task_type,
        task_uuid,
    };
    match keyed {
        None => TaskRun::err(tasks::unsupported(&ctx)),
        Some(Keyed::Query(answer)) => TaskRun::out(answer(shared, owner, &ctx, opts.dry_run)),
        Some(Keyed::Work(plan)) => run_work(shared, owner, task, &ctx, plan, opts).await,
    }
}

/// The `taskType` of a task object.
fn task_type(obj: &Map<String, Value>) -> Result<&str, ApiError> {
    match obj.get("taskType") {
        Some(Value::String(t)) => Ok(t.as_str()),
        None | Some(Value::Null) => {
            let mut e =
                validate::error("missingTaskType", "Missing required parameter 'taskType'.");
            copy_uuid(&mut e, obj);
            validate::set_field(&mut e, "parameter", json!("taskType"));
            Err(e)
        }
        Some(_) => {
            let mut e = validate::error(
                "invalidTaskType",
                "Invalid value for 'taskType' parameter. It must be a string.",
            );
            copy_uuid(&mut e, obj);
            validate::set_field(&mut e, "parameter", json!("taskType"));
            validate::set_field(&mut e, "type", json!("string"));
            Err(e)
        }
    }
}

/// The `taskUUID` of a task object: present and a UUID.
fn task_uuid<'a>(obj: &'a Map<String, Value>, task_type: &str) -> Result<&'a str, ApiError> {
    let (mut e, sent) = match obj.get("taskUUID") {
        Some(Value::String(s)) if uuid::Uuid::parse_str(s).is_ok() => return Ok(s.as_str()),
        None | Some(Value::Null) => (
            validate::error(
                "missingTaskUUID",
                "Missing required parameter 'taskUUID'. Every task needs a unique UUID (v4 recommended).",
            ),
            None,
        ),
        Some(other) => (
            validate::error(
                "invalidTaskUUID",
                "Invalid value for 'taskUUID' parameter. It must be a UUID string (v4 recommended).",
            ),
            other.as_str(),
        ),
    };
    validate::set_field(&mut e, "parameter", json!("taskUUID"));
    validate::set_field(&mut e, "type", json!("string"));
    validate::set_field(&mut e, "taskType", json!(task_type));
    if let Some(s) = sent {
        validate::set_field(&mut e, "taskUUID", json!(s));
    }
    Err(e)
}

/// Copies a string `taskUUID` of the task into its error.
fn copy_uuid(e: &mut Value, obj: &Map<String, Value>) {
    if let Some(Value::String(s)) = obj.get("taskUUID") {
        validate::set_field(e, "taskUUID", json!(s));
    }
}

/// A work task: validate into a job, then reserve the taskUUID, then run and record it.
async fn run_work(
    shared: &Arc<Shared>,
    owner: &str,
    task: &Value,
    ctx: &TaskCtx<'_>,
    plan: tasks::PlanFn,
    opts: &TaskOpts,
) -> TaskRun {
    let job = match plan(shared, ctx) {
        Ok(job) => job,
        Err(e) => return TaskRun::err(e),
    };
    let delivery = match ctx.one_of(
        "deliveryMethod",
        "Delivery method",
        &["sync", "async"],
        false,
        false,
    ) {
        Ok(d) => d.unwrap_or("sync"),
        Err(e) => return TaskRun::err(e),
    };
    let include_cost = match ctx.boolean("includeCost") {
        Ok(b) => b.unwrap_or(false),
        Err(e) => return TaskRun::err(e),
    };
    // Where results go besides the answer: checked here for every work task type.
    for (param, what) in [
        ("webhookURL", "Webhook URL"),
        ("uploadEndpoint", "Upload endpoint"),
    ] {
        if let Err(e) = ctx.string(param, what, 1, 2048, false) {
            return TaskRun::err(e);
        }
    }
    let (task_type, task_uuid) = (ctx.task_type, ctx.task_uuid);
    if opts.dry_run {
        if shared.exists(owner, task_uuid) {
            return TaskRun::err(tasks::conflict(ctx));
        }
        return TaskRun::out(Output::Data(vec![tasks::ack(ctx)]));
    }
    if !shared.reserve(owner, task_uuid, task_type, task, job.expected()) {
        return TaskRun::err(tasks::conflict(ctx));
    }
    let is_async = delivery == "async";
    let targeted = opts
        .task_error_type
        .as_deref()
        .is_none_or(|t| t == task_type);
    let pace = match (job.long(), opts.never_finish && targeted && is_async) {
        (_, true) => Pace::Never,
        (true, false) => Pace::Long,
        (false, false) => Pace::Standard,
    };
    let delay = match (is_async, pace) {
        (false, _) => Duration::ZERO,
        (true, Pace::Standard) => shared.async_delay(),
        (true, Pace::Long | Pace::Never) => shared.video_delay(),
    };
    let injected = opts.task_error.as_ref().filter(|_| targeted);
    let result = match injected {
        Some(code) => Err(ctx.err(code, faults::task_error_message(code))),
        None => job.run(shared, ctx, include_cost).await,
    };
    let result = match result {
        Ok(items) => match bill(shared, ctx, items, include_cost) {
            Ok(items) => Ok(items),
            Err(e) => {
                // Refused for want of credits: not accepted, so answered at once (sync or async),
                // nothing delivered, and the taskUUID may be used again after a top-up.
                delivery::discard_uploads(shared, task_uuid);
                shared.release(owner, task_uuid);
                return TaskRun::err(e);
            }
        },
        Err(e) => {
            delivery::discard_uploads(shared, task_uuid);
            Err(e)
        }
    };
    delivery::flush_uploads(shared, task_uuid);
    let run = match (&result, is_async) {
        (Ok(items), false) => {
            shared.finish(owner, task_uuid, Outcome::Items(items.clone()), delay, pace);
            TaskRun::executed(Output::Data(items.clone()), task_uuid)
        }
        (Err(e), false) => {
            // A failed sync task is not billed and its taskUUID may be reused.
            shared.release(owner, task_uuid);
            TaskRun::err(e.clone())
        }
        (Ok(items), true) => {
            shared.finish(owner, task_uuid, Outcome::Items(items.clone()), delay, pace);
            TaskRun::executed(Output::Data(vec![tasks::ack(ctx)]), task_uuid)
        }
        (Err(e), true) => {
            shared.finish(owner, task_uuid, Outcome::Error(e.clone()), delay, pace);
            TaskRun::executed(Output::Data(vec![tasks::ack(ctx)]), task_uuid)
        }
    };
    // After the outcome is recorded, so that a webhook's receiver can already poll it.
    delivery::webhooks(shared, ctx, &result, delay);
    run
}

/// Charges the items' summed `cost` to the account and removes `cost` from them unless the task
/// asked for it; `insufficientCredits` when the balance cannot cover it.
fn bill(
    shared: &Shared,
    ctx: &TaskCtx<'_>,
    mut items: Vec<Value>,
    include_cost: bool,
) -> Result<Vec<Value>, ApiError> {
    let cost: f64 = items
        .iter()
        .filter_map(|i| i.get("cost").and_then(Value::as_f64))
        .sum();
    if let Err(balance) = shared.charge(cost) {
        return Err(insufficient_credits(ctx, cost, balance));
    }
    if !include_cost {
        for item in &mut items {
            if let Some(o) = item.as_object_mut() {
                o.remove("cost");
            }
        }
    }
    Ok(items)
}

/// `insufficientCredits` (HTTP 402, "Payment Required"). Runware's own code name is not
/// documented; this one carries `Credits`, which the SDKs classify as a quota error.
fn insufficient_credits(ctx: &TaskCtx<'_>, cost: f64, balance: f64) -> ApiError {
    ctx.err(
        "insufficientCredits",
        format!(
            "Insufficient credits: this task costs {cost} USD and the account balance is {balance} USD. Add credits at https://my.runware.ai/wallet and retry."
        ),
    )
}
