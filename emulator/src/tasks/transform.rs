//! The image-to-image job shared by `upscale` and `removeBackground`: transform the input
//! image off the async threads, store the result, answer `imageUUID`, `inputImageUUID` and the
//! output fields. Its last two steps, [`processed`] and [`image_item`], are the raster tools'
//! too.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::input_image::Input;
use super::output::{self, OutputOptions};
use super::{Job, add_cost, item};
use crate::ImageMode;
use crate::delivery;
use crate::render::{self, Transform};
use crate::state::Shared;
use crate::validate::{ApiError, TaskCtx};

/// A validated transform.
pub(super) struct TransformJob {
    /// The input image.
    pub input: Input,
    /// What to do to it.
    pub op: Transform,
    /// Where the result goes.
    pub output: OutputOptions,
    /// The `cost` reported with `includeCost`.
    pub cost: f64,
}

impl Job for TransformJob {
    fn run<'a>(
        self: Box<Self>,
        shared: &'a Arc<Shared>,
        ctx: &'a TaskCtx<'a>,
        include_cost: bool,
    ) -> BoxFuture<'a, Result<Vec<Value>, ApiError>> {
        async move {
            let TransformJob {
                input,
                op,
                output,
                cost,
            } = *self;
            let out = if shared.config.image_mode == ImageMode::Placeholder {
                Bytes::from_static(render::placeholder(output.format))
            } else {
                let (f, q, bytes) = (output.format, output.quality, input.bytes);
                let res =
                    tokio::task::spawn_blocking(move || render::transform(&bytes, op, f, q)).await;
                Bytes::from(processed(ctx, res)?)
            };
            Ok(vec![image_item(
                shared,
                ctx,
                ImageOut {
                    input_uuid: input.uuid,
                    bytes: out,
                    output: &output,
                    prefix: "image",
                    extra: Value::Null,
                },
                include_cost,
                cost,
            )])
        }
        .boxed()
    }
}

/// The result of image work done off the async threads, or the Runware-shaped error: an input
/// that could not be decoded is `invalidInputImage`, a failed worker `inferenceError`.
pub(super) fn processed<T>(
    ctx: &TaskCtx<'_>,
    res: Result<anyhow::Result<T>, tokio::task::JoinError>,
) -> Result<T, ApiError> {
    match res {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(ctx.err(
            "invalidInputImage",
            format!("The input image could not be processed: {e}"),
        )),
        Err(_) => Err(ctx.err("inferenceError", "The image could not be processed.")),
    }
}

/// An image a tool produced, ready to answer.
pub(super) struct ImageOut<'a> {
    /// The input's UUID, when the emulator holds it.
    pub input_uuid: Option<String>,
    /// The encoded output.
    pub bytes: Bytes,
    /// Where it goes.
    pub output: &'a OutputOptions,
    /// The output fields' prefix (`image` gives `imageUUID`, `imageURL`, …).
    pub prefix: &'a str,
    /// Extra fields for the item (an object), or `Null`.
    pub extra: Value,
}

/// Stores the output, queues its `uploadEndpoint` PUT and builds the item: `<prefix>UUID`,
/// `inputImageUUID`, the extra fields, the output fields and the cost.
pub(super) fn image_item(
    shared: &Shared,
    ctx: &TaskCtx<'_>,
    out: ImageOut<'_>,
    include_cost: bool,
    cost: f64,
) -> Value {
    let format = out.output.format;
    let uuid = shared.store_image(out.bytes.clone(), format);
    delivery::queue_upload(shared, ctx, out.bytes.clone(), format.mime());
    // Items always carry an inputImageUUID: an inline input gets a fresh one (holding no bytes).
    let input_uuid = out
        .input_uuid
        .unwrap_or_else(|| shared.store_image(Bytes::new(), format));
    let mut item = item(
        ctx,
        json!({format!("{}UUID", out.prefix): uuid, "inputImageUUID": input_uuid}),
    );
    if let (Some(o), Value::Object(e)) = (item.as_object_mut(), out.extra) {
        o.extend(e);
    }
    output::add(shared, &mut item, out.prefix, &uuid, &out.bytes, out.output);
    add_cost(&mut item, include_cost, cost);
    item
}
