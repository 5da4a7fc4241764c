//! `imageInference`: validates the documented parameters (Runware's error shape and ranges) and
//! renders `numberResults` procedural landscapes, each with its own seed and `imageUUID`.

use crate::validate::range;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::output::{self, OutputOptions};
use super::{Job, Keyed, Kind, TaskType, add_cost, item};
use crate::ImageMode;
use crate::delivery;
use crate::render::{self, Format};
use crate::state::Shared;
use crate::validate::{self, ApiError, Range, TaskCtx};

/// The task type.
pub(super) const TASK: TaskType = TaskType {
    names: &["imageInference"],
    doc: "https://runware.ai/docs/en/image-inference/api-reference",
    kind: Kind::Keyed(Keyed::Work(plan)),
};

/// A validated imageInference.
struct ImagePlan {
    prompt: String,
    width: u32,
    height: u32,
    steps: u32,
    seed: Option<u64>,
    number_results: usize,
    check_nsfw: bool,
    output: OutputOptions,
}

fn plan(_shared: &Shared, ctx: &TaskCtx<'_>) -> Result<Box<dyn Job>, ApiError> {
    let prompt = ctx
        .string("positivePrompt", "Positive prompt", 2, 3000, true)?
        .unwrap_or_default()
        .to_string();
    ctx.string("negativePrompt", "Negative prompt", 2, 3000, false)?;
    ctx.air("model", true)?;
    let dim = |p: &str, what: &str| {
        ctx.int_as(
            p,
            what,
            Range {
                min: 128.0,
                max: 2048.0,
                multiplier: Some(64),
            },
            true,
        )
        .map(|v| v.unwrap_or(512))
    };
    let width = dim("width", "Image width")?;
    let height = dim("height", "Image height")?;
    let steps = ctx
        .int_as("steps", "Steps", range(1.0, 100.0), false)?
        .unwrap_or(20);
    ctx.float("CFGScale", "CFG scale", range(0.0, 50.0), false)?;
    let number_results = super::number_results(ctx, 20.0)?;
    let seed = super::seed(ctx)?;
    ctx.int("clipSkip", "CLIP skip", range(0.0, 2.0), false)?;
    ctx.float("strength", "Strength", range(0.0, 1.0), false)?;
    if let Some(s) = ctx.task.get("scheduler").filter(|v| !v.is_null())
        && !s.is_string()
    {
        return Err(ctx.wrong_type("scheduler", "string"));
    }
    ctx.air("vae", false)?;
    let mut check_nsfw = ctx.boolean("checkNSFW")?.unwrap_or(false);
    if let Some(safety) = ctx.object("safety")? {
        let sctx = TaskCtx {
            task: safety,
            task_type: ctx.task_type,
            task_uuid: ctx.task_uuid,
        };
        let check = sctx.boolean("checkContent")?.unwrap_or(false);
        match sctx.one_of(
            "mode",
            "Safety mode",
            &["none", "fast", "full"],
            false,
            false,
        )? {
            Some("none") => {}
            Some(_) => check_nsfw = true,
            None => check_nsfw |= check,
        }
    }
    let output = output::options(ctx, Format::Jpg)?;
    Ok(Box::new(ImagePlan {
        prompt,
        width,
        height,
        steps,
        seed,
        number_results,
        check_nsfw,
        output,
    }))
}

impl Job for ImagePlan {
    fn expected(&self) -> usize {
        self.number_results
    }

    fn run<'a>(
        self: Box<Self>,
        shared: &'a Arc<Shared>,
        ctx: &'a TaskCtx<'a>,
        include_cost: bool,
    ) -> BoxFuture<'a, Result<Vec<Value>, ApiError>> {
        async move {
            let p = *self;
            let placeholder = shared.config.image_mode == ImageMode::Placeholder;
            let seeds: Vec<u64> = (0..p.number_results)
                .map(|i| {
                    p.seed
                        .map(|s| next_seed(s, i))
                        .unwrap_or_else(|| u64::from(rand::random::<u32>().max(1)))
                })
                .collect();
            // Render the generations in parallel on the blocking pool.
            let renders: Vec<_> = seeds
                .iter()
                .map(|&seed| {
                    (!placeholder).then(|| {
                        let (prompt, w, h, f, q) = (
                            p.prompt.clone(),
                            p.width,
                            p.height,
                            p.output.format,
                            p.output.quality,
                        );
                        tokio::task::spawn_blocking(move || {
                            render::render(&prompt, seed, w, h, f, q)
                        })
                    })
                })
                .collect();
            let mut items = Vec::with_capacity(p.number_results);
            for (seed, render_job) in seeds.into_iter().zip(renders) {
                let bytes = match render_job {
                    None => Bytes::from_static(render::placeholder(p.output.format)),
                    Some(job) => Bytes::from(job.await.map_err(|_| {
                        ctx.err("inferenceError", "The image could not be rendered.")
                    })?),
                };
                let image_uuid = shared.store_image(bytes.clone(), p.output.format);
                delivery::queue_upload(shared, ctx, bytes.clone(), p.output.format.mime());
                let mut item = item(ctx, json!({"imageUUID": image_uuid, "seed": seed}));
                output::add(shared, &mut item, "image", &image_uuid, &bytes, &p.output);
                if p.check_nsfw {
                    validate::set_field(&mut item, "NSFWContent", json!(false));
                }
                add_cost(
                    &mut item,
                    include_cost,
                    image_cost(p.width, p.height, p.steps),
                );
                items.push(item);
            }
            Ok(items)
        }
        .boxed()
    }
}

/// The seed of generation `i`: `seed + i`, wrapping past `i64::MAX` (Runware's largest seed)
/// back to 1.
fn next_seed(seed: u64, i: usize) -> u64 {
    let max = i64::MAX.unsigned_abs();
    let s = seed.saturating_add(u64::try_from(i).unwrap_or(u64::MAX));
    if s > max { (s - max).max(1) } else { s }
}

/// The deterministic cost: 0.0013 per megapixel at 20 steps, rounded to 6 decimals.
fn image_cost(w: u32, h: u32, steps: u32) -> f64 {
    let c = 0.0013 * (f64::from(w) * f64::from(h)) / (1024.0 * 1024.0) * f64::from(steps) / 20.0;
    (c.max(0.0001) * 1e6).round() / 1e6
}
