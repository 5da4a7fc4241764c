//! `videoInference`: async only (a request without `deliveryMethod: "async"` is refused with
//! `invalidDeliveryMethod`), `outputType` `URL` only. Validates the documented parameters and
//! renders `numberResults` real H.264 videos ([`crate::media::video`]) of the requested size,
//! duration, frame rate and container, each with its own seed, `videoUUID` and `videoURL`.
//!
//! Defaults when absent: `duration` 5 s, `fps` 24, 640x360 (or the size of `resolution`:
//! `480p`, `540p`, `720p`, `1080p`, `1440p`, `2160p`/`4k`). `model` must be a valid AIR (any:
//! the emulator does not insist on one of its catalogue's video models). `outputFormat` is MP4
//! (default) or MOV; WEBM is refused with `unsupportedOutputFormat` (no cheap pure-Rust VP8/VP9
//! encoder). The work is long-running ([`Job::long`]): `getResponse` shows `processing` with a
//! rising `progress` for the emulator's video delay, and a task error in both shapes.

use crate::validate::range;
use std::sync::Arc;

use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::{Job, Keyed, Kind, TaskType, add_cost, input_image, item};
use crate::media::video::{self, Container, VideoSpec};
use crate::state::Shared;
use crate::validate::{ApiError, Range, TaskCtx};

/// The task type.
pub(super) const TASK: TaskType = TaskType {
    names: &["videoInference"],
    doc: "https://runware.ai/docs/en/video-inference/api-reference",
    kind: Kind::Keyed(Keyed::Work(plan)),
};

/// The default duration in seconds.
pub(crate) const DEFAULT_DURATION: f64 = 5.0;
/// The default frame rate.
pub(crate) const DEFAULT_FPS: u32 = 24;
/// The default size.
pub(crate) const DEFAULT_SIZE: (u32, u32) = (640, 360);
/// The `cost` per second of video reported with `includeCost`.
const COST_PER_SECOND: f64 = 0.05;

/// Refuses anything but `deliveryMethod: "async"` (shared with the tools' video inputs).
pub(super) fn require_async(ctx: &TaskCtx<'_>, what: &str) -> Result<(), ApiError> {
    match ctx.task.get("deliveryMethod").and_then(Value::as_str) {
        Some("async") => Ok(()),
        _ => Err(ctx.param_err(
            "invalidDeliveryMethod",
            "deliveryMethod",
            format!(
                "Invalid value for 'deliveryMethod' parameter. {what} is processed asynchronously only: send 'deliveryMethod': 'async' and poll the result with getResponse."
            ),
            "string",
            None,
        )),
    }
}

/// `outputType`: `URL` only (a string or a one-element list).
pub(super) fn require_url_output(ctx: &TaskCtx<'_>) -> Result<(), ApiError> {
    let ok = match ctx.task.get("outputType") {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("URL"),
        Some(Value::Array(a)) => {
            !a.is_empty()
                && a.iter()
                    .all(|v| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("URL")))
        }
        Some(_) => false,
    };
    if ok {
        Ok(())
    } else {
        Err(ctx.param_err(
            "invalidOutputType",
            "outputType",
            "Invalid value for 'outputType' parameter. Video is delivered as a URL only: 'URL'."
                .into(),
            "string",
            None,
        ))
    }
}

/// `outputFormat`: MP4 (default) or MOV; WEBM is refused.
pub(super) fn container(ctx: &TaskCtx<'_>) -> Result<Container, ApiError> {
    match ctx.one_of(
        "outputFormat",
        "Output format",
        &["MP4", "WEBM", "MOV"],
        true,
        false,
    )? {
        None | Some("MP4") => Ok(Container::Mp4),
        Some("MOV") => Ok(Container::Mov),
        Some(_) => Err(ctx.param_err(
            "unsupportedOutputFormat",
            "outputFormat",
            "The emulator cannot encode WEBM video (it has no VP8/VP9 encoder). Use 'MP4' or 'MOV'."
                .into(),
            "string",
            None,
        )),
    }
}

/// A validated videoInference.
struct VideoPlan {
    prompt: String,
    seed: Option<u64>,
    width: u32,
    height: u32,
    fps: u32,
    duration: f64,
    number_results: usize,
    container: Container,
}

fn resolution(ctx: &TaskCtx<'_>) -> Result<Option<(u32, u32)>, ApiError> {
    let Some(v) = ctx.task.get("resolution").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let size = match v.as_str().map(str::to_ascii_lowercase).as_deref() {
        Some("480p") => (854, 480),
        Some("540p") => (960, 540),
        Some("720p") => (1280, 720),
        Some("1080p") => (1920, 1080),
        Some("1440p") => (2560, 1440),
        Some("2160p" | "4k") => (3840, 2160),
        _ => {
            return Err(ctx.param_err(
                "invalidResolution",
                "resolution",
                "Invalid value for 'resolution' parameter. Resolution must be one of: 480p, 540p, 720p, 1080p, 1440p, 2160p, 4k.".into(),
                "string",
                None,
            ));
        }
    };
    Ok(Some(size))
}

/// `inputs`: `frameImages[{inputImage|image, frame}]` and `referenceImages[]`, each image
/// resolved like the image tools' inputs.
fn inputs(shared: &Shared, ctx: &TaskCtx<'_>) -> Result<(), ApiError> {
    let Some(inputs) = ctx.object("inputs")? else {
        return Ok(());
    };
    let bad = |param: &str| input_image::invalid(ctx, param);
    if let Some(frames) = inputs.get("frameImages").filter(|v| !v.is_null()) {
        let list = frames.as_array().ok_or_else(|| bad("inputs.frameImages"))?;
        for f in list {
            let image = match f {
                Value::String(s) => Some(s.as_str()),
                Value::Object(o) => o
                    .get("inputImage")
                    .or_else(|| o.get("image"))
                    .and_then(Value::as_str),
                _ => None,
            };
            let found = image.and_then(|s| input_image::resolve(shared, s));
            if found.is_none() {
                return Err(bad("inputs.frameImages"));
            }
            if let Some(frame) = f.get("frame").filter(|v| !v.is_null()) {
                let ok = frame.as_u64().is_some()
                    || frame.as_str().is_some_and(|s| s == "first" || s == "last");
                if !ok {
                    return Err(bad("inputs.frameImages"));
                }
            }
        }
    }
    if let Some(refs) = inputs.get("referenceImages").filter(|v| !v.is_null()) {
        let list = refs
            .as_array()
            .ok_or_else(|| bad("inputs.referenceImages"))?;
        for r in list {
            let image = match r {
                Value::String(s) => Some(s.as_str()),
                Value::Object(o) => o
                    .get("image")
                    .or_else(|| o.get("inputImage"))
                    .and_then(Value::as_str),
                _ => None,
            };
            if image
                .and_then(|s| input_image::resolve(shared, s))
                .is_none()
            {
                return Err(bad("inputs.referenceImages"));
            }
        }
    }
    Ok(())
}

fn plan(shared: &Shared, ctx: &TaskCtx<'_>) -> Result<Box<dyn Job>, ApiError> {
    require_async(ctx, "Video inference")?;
    require_url_output(ctx)?;
    ctx.air("model", true)?;
    let prompt = ctx
        .string("positivePrompt", "Positive prompt", 1, 3000, false)?
        .unwrap_or_default()
        .to_string();
    ctx.string("negativePrompt", "Negative prompt", 1, 3000, false)?;
    let duration = ctx
        .float("duration", "Duration", range(1.0, 60.0), false)?
        .unwrap_or(DEFAULT_DURATION);
    let dim = |p: &str, what: &str| {
        ctx.int_as::<u32>(
            p,
            what,
            Range {
                min: 128.0,
                max: 4096.0,
                multiplier: Some(2),
            },
            false,
        )
    };
    let (w, h) = (dim("width", "Video width")?, dim("height", "Video height")?);
    let (dw, dh) = resolution(ctx)?.unwrap_or(DEFAULT_SIZE);
    let fps = ctx
        .int_as("fps", "Frames per second", range(1.0, 60.0), false)?
        .unwrap_or(DEFAULT_FPS);
    let seed = super::seed(ctx)?;
    let number_results = super::number_results(ctx, 4.0)?;
    ctx.int("steps", "Steps", range(1.0, 100.0), false)?;
    ctx.float("CFGScale", "CFG scale", range(0.0, 50.0), false)?;
    let container = container(ctx)?;
    inputs(shared, ctx)?;
    Ok(Box::new(VideoPlan {
        prompt,
        seed,
        width: w.unwrap_or(dw),
        height: h.unwrap_or(dh),
        fps,
        duration,
        number_results,
        container,
    }))
}

/// The number of frames of a clip: duration × fps, at least one.
pub(super) fn frame_count(duration: f64, fps: u32) -> u32 {
    let n = (duration * f64::from(fps)).round().clamp(1.0, 3600.0);
    // Clamped to 1..=3600 (60 s at 60 fps) first, so the cast is exact.
    #[expect(clippy::cast_possible_truncation, reason = "clamped to 1..=3600")]
    let n = n as u32;
    n
}

/// Renders a clip off the async threads, stores it and returns its UUID and URL.
pub(super) async fn render_and_store(
    shared: &Shared,
    ctx: &TaskCtx<'_>,
    spec: VideoSpec,
) -> Result<(String, String), ApiError> {
    let container = spec.container;
    let res = tokio::task::spawn_blocking(move || video::render(&spec)).await;
    let bytes = match res {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => {
            return Err(ctx.err(
                "inferenceError",
                format!("The video could not be rendered: {e}"),
            ));
        }
        Err(_) => return Err(ctx.err("inferenceError", "The video could not be rendered.")),
    };
    crate::delivery::queue_upload(shared, ctx, bytes.clone(), container.mime());
    let uuid = shared.store_media(crate::state::StoredMedia {
        bytes,
        content_type: container.mime().into(),
        extension: container.extension().into(),
    });
    let url = shared.media_url(&uuid, container.extension());
    Ok((uuid, url))
}

impl Job for VideoPlan {
    fn expected(&self) -> usize {
        self.number_results
    }

    fn long(&self) -> bool {
        true
    }

    fn run<'a>(
        self: Box<Self>,
        shared: &'a Arc<Shared>,
        ctx: &'a TaskCtx<'a>,
        include_cost: bool,
    ) -> BoxFuture<'a, Result<Vec<Value>, ApiError>> {
        async move {
            let p = *self;
            let frames = frame_count(p.duration, p.fps);
            let mut items = Vec::with_capacity(p.number_results);
            for i in 0..p.number_results {
                let seed = match p.seed {
                    Some(s) => s
                        .saturating_add(u64::try_from(i).unwrap_or(0))
                        .min(i64::MAX.unsigned_abs()),
                    None => u64::from(rand::random::<u32>().max(1)),
                };
                let spec = VideoSpec {
                    prompt: p.prompt.clone(),
                    seed,
                    width: p.width,
                    height: p.height,
                    fps: p.fps,
                    frames,
                    container: p.container,
                    matte: false,
                };
                let (uuid, url) = render_and_store(shared, ctx, spec).await?;
                let mut item = item(
                    ctx,
                    json!({"videoUUID": uuid, "videoURL": url, "seed": seed}),
                );
                add_cost(&mut item, include_cost, video_cost(p.duration));
                items.push(item);
            }
            Ok(items)
        }
        .boxed()
    }
}

/// The deterministic cost of one clip, rounded to 4 decimals.
fn video_cost(duration: f64) -> f64 {
    (COST_PER_SECOND * duration * 1e4).round() / 1e4
}
