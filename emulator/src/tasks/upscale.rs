//! `upscale` (alias `imageUpscale`): the input image scaled by `upscaleFactor` (1–4, default 2),
//! JPG unless another `outputFormat` is asked for. With `inputs.video` (async only): a video at
//! the upscaled size (see `video_tools`).

use super::transform::TransformJob;
use super::video_tools::{self, VideoOp};
use super::{Job, Keyed, Kind, TaskType, input_image, output};
use crate::render::{Format, Transform};
use crate::state::Shared;
use crate::validate::{ApiError, Range, TaskCtx};

/// The task type.
pub(super) const TASK: TaskType = TaskType {
    names: &["upscale", "imageUpscale"],
    doc: "https://runware.ai/docs/en/tools/upscale",
    kind: Kind::Keyed(Keyed::Work(plan)),
};

/// The `cost` reported with `includeCost`.
const COST: f64 = 0.002;

/// The `cost` of a video upscale reported with `includeCost`.
const VIDEO_COST: f64 = 0.02;

fn plan(shared: &Shared, ctx: &TaskCtx<'_>) -> Result<Box<dyn Job>, ApiError> {
    // A video input, else the (required) image input.
    let source = match video_tools::find(shared, ctx)? {
        Some(video) => Err(video),
        None => Ok(input_image::required(shared, ctx)?),
    };
    ctx.air("model", false)?;
    let factor = ctx
        .int_as(
            "upscaleFactor",
            "Upscale factor",
            Range {
                min: 1.0,
                max: 4.0,
                multiplier: None,
            },
            false,
        )?
        .unwrap_or(2);
    let input = match source {
        Ok(image) => image,
        Err(video) => {
            return Ok(video_tools::job(
                video,
                VideoOp::Upscale(factor),
                VIDEO_COST,
            ));
        }
    };
    let output = output::options(ctx, Format::Jpg)?;
    Ok(Box::new(TransformJob {
        input,
        op: Transform::Upscale(factor),
        output,
        cost: COST,
    }))
}
