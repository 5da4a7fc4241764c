//! The job shared by the image tools that compute a new raster from their input image
//! (`imageMasking`'s mask, `controlNetPreprocess`'s guide image): decode the input off the async
//! threads, compute, encode, store, and answer `<prefix>UUID`, `inputImageUUID` and the output
//! fields, plus whatever extra fields the computation reports (`detections`).
//!
//! Unlike [`TransformJob`](super::transform::TransformJob) these ignore the placeholder image
//! mode: their answers describe the input (a mask of its size, boxes in its pixels), which a
//! fixed placeholder would contradict, and one pass over the input is cheap.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use image::{DynamicImage, ExtendedColorType};
use serde_json::Value;

use super::Job;
use super::input_image::Input;
use super::output::OutputOptions;
use super::transform::{ImageOut, image_item, processed};
use crate::render;
use crate::state::Shared;
use crate::validate::{ApiError, TaskCtx};

/// What a computation produced: pixels (8-bit grey or RGB) and the item's extra fields.
pub(super) struct Raster {
    /// The pixels, row-major.
    pub pixels: Vec<u8>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `L8` or `Rgb8`.
    pub colour: ExtendedColorType,
    /// Fields added to the item (an object; `json!({})` for none).
    pub extra: Value,
}

/// The computation: the decoded input image → the output raster.
pub(super) type Compute = Box<dyn FnOnce(&DynamicImage) -> Raster + Send>;

/// A validated raster tool task.
pub(super) struct RasterJob {
    /// The input image.
    pub input: Input,
    /// Where the result goes.
    pub output: OutputOptions,
    /// The item's cost.
    pub cost: f64,
    /// The output fields' prefix: `maskImage` gives `maskImageUUID`, `maskImageURL`, ….
    pub prefix: &'static str,
    /// What to compute.
    pub compute: Compute,
}

impl Job for RasterJob {
    fn run<'a>(
        self: Box<Self>,
        shared: &'a Arc<Shared>,
        ctx: &'a TaskCtx<'a>,
        include_cost: bool,
    ) -> BoxFuture<'a, Result<Vec<Value>, ApiError>> {
        async move {
            let RasterJob {
                input,
                output,
                cost,
                prefix,
                compute,
            } = *self;
            let (format, quality, bytes) = (output.format, output.quality, input.bytes);
            let res = tokio::task::spawn_blocking(move || {
                let img = render::decode(&bytes)?;
                let r = compute(&img);
                let encoded =
                    render::encode(&r.pixels, r.width, r.height, r.colour, format, quality)?;
                anyhow::Ok((encoded, r.extra))
            })
            .await;
            let (encoded, extra) = processed(ctx, res)?;
            Ok(vec![image_item(
                shared,
                ctx,
                ImageOut {
                    input_uuid: input.uuid,
                    bytes: Bytes::from(encoded),
                    output: &output,
                    prefix,
                    extra,
                },
                include_cost,
                cost,
            )])
        }
        .boxed()
    }
}

/// `f` rounded and clamped to `0..=255`.
pub(super) fn to_u8(f: f32) -> u8 {
    #[expect(
        clippy::cast_possible_truncation,
        reason = "rounded and clamped to 0..=255 first, so the cast is exact"
    )]
    let v = f.round().clamp(0.0, 255.0) as u8;
    v
}

/// The Rec. 601 luma of an RGB pixel, 0–255.
pub(super) fn luma(p: [u8; 3]) -> f32 {
    0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2])
}
