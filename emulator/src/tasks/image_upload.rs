//! `imageUpload`: stores an image (data URI, base64, or an emulator URL/UUID) under a new
//! `imageUUID` and answers it with its `imageURL`.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::{Job, Keyed, Kind, TaskType, input_image, item};
use crate::render::Format;
use crate::state::Shared;
use crate::validate::{ApiError, TaskCtx};

/// The task type.
pub(super) const TASK: TaskType = TaskType {
    names: &["imageUpload"],
    doc: "https://runware.ai/docs/en/utilities/image-upload",
    kind: Kind::Keyed(Keyed::Work(plan)),
};

struct Upload {
    bytes: Bytes,
    format: Format,
}

fn plan(shared: &Shared, ctx: &TaskCtx<'_>) -> Result<Box<dyn Job>, ApiError> {
    let Some(v) = ctx.task.get("image").filter(|v| !v.is_null()) else {
        return Err(ctx.param_err(
            "missingImage",
            "image",
            "Missing required parameter 'image'. Send a data URI, base64 data, or the URL or UUID of an image.".into(),
            "string",
            None,
        ));
    };
    let s = v
        .as_str()
        .ok_or_else(|| ctx.wrong_type("image", "string"))?;
    let input =
        input_image::resolve(shared, s).ok_or_else(|| input_image::invalid(ctx, "image"))?;
    let format = input_image::detect_format(&input.bytes)
        .ok_or_else(|| input_image::invalid(ctx, "image"))?;
    Ok(Box::new(Upload {
        bytes: input.bytes,
        format,
    }))
}

impl Job for Upload {
    fn run<'a>(
        self: Box<Self>,
        shared: &'a Arc<Shared>,
        ctx: &'a TaskCtx<'a>,
        _include_cost: bool,
    ) -> BoxFuture<'a, Result<Vec<Value>, ApiError>> {
        async move {
            let image_uuid = shared.store_image(self.bytes, self.format);
            let url = shared.image_url(&image_uuid, self.format);
            Ok(vec![item(
                ctx,
                json!({"imageUUID": image_uuid, "imageURL": url}),
            )])
        }
        .boxed()
    }
}
