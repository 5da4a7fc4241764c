//! The image-to-image job shared by `upscale` and `removeBackground`: transform the input
//! image off the async threads, store the result, answer `imageUUID`, `inputImageUUID` and the
//! output fields.

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
                match res {
                    Ok(Ok(v)) => Bytes::from(v),
                    Ok(Err(e)) => {
                        return Err(ctx.err(
                            "invalidInputImage",
                            format!("The input image could not be processed: {e}"),
                        ));
                    }
                    Err(_) => {
                        return Err(ctx.err("inferenceError", "The image could not be processed."));
                    }
                }
            };
            let image_uuid = shared.store_image(out.clone(), output.format);
            delivery::queue_upload(shared, ctx, out.clone(), output.format.mime());
            // Items always carry an inputImageUUID: an inline input gets a fresh one (holding no bytes).
            let input_uuid = input
                .uuid
                .unwrap_or_else(|| shared.store_image(Bytes::new(), output.format));
            let mut item = item(
                ctx,
                json!({"imageUUID": image_uuid, "inputImageUUID": input_uuid}),
            );
            output::add(shared, &mut item, "image", &image_uuid, &out, &output);
            add_cost(&mut item, include_cost, cost);
            Ok(vec![item])
        }
        .boxed()
    }
}
