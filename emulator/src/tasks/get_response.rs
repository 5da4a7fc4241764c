//! `getResponse`: the current state of a task of the same key, one item per generation
//! (`status: "processing"` until ready, then `"success"`), or its error (`status: "error"`).
//! Never registered, so its own taskUUID (the polled task's) may be sent again and again.

use super::{Keyed, Kind, TaskType, not_found};
use crate::dispatch::Output;
use crate::state::Shared;
use crate::validate::TaskCtx;

/// The task type.
pub(super) const TASK: TaskType = TaskType {
    names: &["getResponse"],
    doc: "https://runware.ai/docs/en/utilities/task-responses",
    kind: Kind::Keyed(Keyed::Query(answer)),
};

/// Polling is read-only, so a dry run answers the same.
fn answer(shared: &Shared, owner: &str, ctx: &TaskCtx<'_>, _dry_run: bool) -> Output {
    match shared.task_view(owner, ctx.task_uuid) {
        None => Output::Error(not_found(ctx)),
        Some(view) => match view.errors.into_iter().next() {
            // Long work's error comes in both shapes (see `state::Pace::Long`).
            Some(error) if !view.data.is_empty() => Output::DataAndError(view.data, error),
            Some(error) => Output::Error(error),
            None => Output::Data(view.data),
        },
    }
}
