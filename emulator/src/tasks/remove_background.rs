//! `removeBackground` (alias `imageBackgroundRemoval`): the input image with its background
//! (the colour around the border) made transparent, PNG unless another `outputFormat` is asked
//! for (JPG, having no alpha, gets a white background). With `inputs.video` (async only): a
//! video of the foreground on black (see `video_tools`).

use super::transform::TransformJob;
use super::video_tools::{self, VideoOp};
use super::{Job, Keyed, Kind, TaskType, input_image, output};
use crate::render::{Format, Transform};
use crate::state::Shared;
use crate::validate::{ApiError, TaskCtx};

/// The task type.
pub(super) const TASK: TaskType = TaskType {
    names: &["removeBackground", "imageBackgroundRemoval"],
    doc: "https://runware.ai/docs/en/tools/remove-background",
    kind: Kind::Keyed(Keyed::Work(plan)),
};

/// The `cost` reported with `includeCost`.
const COST: f64 = 0.0006;

/// The `cost` of a video background removal reported with `includeCost`.
const VIDEO_COST: f64 = 0.02;

fn plan(shared: &Shared, ctx: &TaskCtx<'_>) -> Result<Box<dyn Job>, ApiError> {
    if let Some(video) = video_tools::find(shared, ctx)? {
        ctx.air("model", false)?;
        return Ok(video_tools::job(
            video,
            VideoOp::RemoveBackground,
            VIDEO_COST,
        ));
    }
    let input = input_image::required(shared, ctx)?;
    ctx.air("model", false)?;
    let output = output::options(ctx, Format::Png)?;
    Ok(Box::new(TransformJob {
        input,
        op: Transform::RemoveBackground,
        output,
        cost: COST,
    }))
}
