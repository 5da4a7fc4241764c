//! `caption` (alias `imageCaption`): a deterministic one-sentence description of the input image
//! in `text`. With `inputs.video` (async only): 6-second segments `[i] (start-end): …` (see
//! `video_tools`).

use std::sync::Arc;

use bytes::Bytes;
use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::video_tools::{self, VideoOp};
use super::{Job, Keyed, Kind, TaskType, add_cost, input_image, item};
use crate::render;
use crate::state::Shared;
use crate::validate::{ApiError, TaskCtx};

/// The task type.
pub(super) const TASK: TaskType = TaskType {
    names: &["caption", "imageCaption"],
    doc: "https://runware.ai/docs/en/tools/caption",
    kind: Kind::Keyed(Keyed::Work(plan)),
};

/// The `cost` reported with `includeCost`.
const COST: f64 = 0.0003;

struct Caption {
    bytes: Bytes,
}

/// The `cost` of a video caption reported with `includeCost`.
const VIDEO_COST: f64 = 0.005;

fn plan(shared: &Shared, ctx: &TaskCtx<'_>) -> Result<Box<dyn Job>, ApiError> {
    if let Some(video) = video_tools::find(shared, ctx)? {
        ctx.air("model", false)?;
        ctx.string("prompt", "Prompt", 1, 3000, false)?;
        return Ok(video_tools::job(video, VideoOp::Caption, VIDEO_COST));
    }
    let input = input_image::required(shared, ctx)?;
    ctx.air("model", false)?;
    // Accepted for compatibility; the caption does not depend on it.
    ctx.string("prompt", "Prompt", 1, 3000, false)?;
    Ok(Box::new(Caption { bytes: input.bytes }))
}

impl Job for Caption {
    fn run<'a>(
        self: Box<Self>,
        _shared: &'a Arc<Shared>,
        ctx: &'a TaskCtx<'a>,
        include_cost: bool,
    ) -> BoxFuture<'a, Result<Vec<Value>, ApiError>> {
        async move {
            let text = render::caption(&self.bytes);
            let text = if text.is_empty() {
                "an image".to_string()
            } else {
                text
            };
            let mut item = item(ctx, json!({"text": text}));
            add_cost(&mut item, include_cost, COST);
            Ok(vec![item])
        }
        .boxed()
    }
}
