//! `authentication`: over REST a leading authentication task carries the key (the server reads
//! it before any task runs) and yields no data item; over WebSocket `ws` answers it itself.

use super::{INTRODUCTION, Kind, TaskType};
use crate::dispatch::Output;

/// The task type.
pub(super) const TASK: TaskType = TaskType {
    names: &["authentication"],
    doc: INTRODUCTION,
    kind: Kind::Bare(answer),
};

fn answer() -> Output {
    Output::Nothing
}
