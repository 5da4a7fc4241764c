//! The image tools on a video input (`inputs.video`): `upscale` returns a video at the upscaled
//! size, `removeBackground` a video of the foreground on black (H.264 has no alpha channel),
//! `caption` a `text` of 6-second segments `[i] (start-end): …`. Async only, like Runware
//! (a sync request is refused with `invalidDeliveryMethod`), and long-running ([`Job::long`]).
//!
//! The input is a video this emulator holds: its videoUUID, or the URL it serves it at. Other
//! URLs are never fetched (the emulator stays offline).

use std::io::Cursor;
use std::sync::Arc;

use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::video_inference::{render_and_store, require_async};
use super::{Job, add_cost, item};
use crate::media::mix;
use crate::media::video::{Container, VideoSpec};
use crate::state::Shared;
use crate::validate::{ApiError, TaskCtx};

/// Seconds of video per caption segment.
const SEGMENT_S: f64 = 6.0;
/// The largest side of an upscaled video.
const MAX_SIDE: u32 = 4096;

/// A video input found and parsed.
pub(super) struct InputVideo {
    uuid: String,
    width: u32,
    height: u32,
    fps: u32,
    frames: u32,
    container: Container,
}

/// What to do to the video.
pub(super) enum VideoOp {
    /// Scale both sides by the factor.
    Upscale(u32),
    /// Remove the background.
    RemoveBackground,
    /// Describe it in segments.
    Caption,
}

/// The `inputs.video` of a tool task, if it has one (then the task is async only).
pub(super) fn find(shared: &Shared, ctx: &TaskCtx<'_>) -> Result<Option<InputVideo>, ApiError> {
    let Some(Value::Object(inputs)) = ctx.task.get("inputs") else {
        return Ok(None);
    };
    let Some(v) = inputs.get("video").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    require_async(ctx, &format!("'{}' with a video input", ctx.task_type))?;
    let invalid = || {
        ctx.param_err(
            "invalidVideo",
            "inputs.video",
            "Invalid value for 'inputs.video' parameter. The video must be the UUID of a video this server holds or the URL it serves it at.".into(),
            "string",
            None,
        )
    };
    let s = v.as_str().ok_or_else(invalid)?.trim();
    let stem = match s.rsplit_once("/media/") {
        Some((_, file)) => file.split(['.', '?', '#']).next().unwrap_or(""),
        None => s,
    };
    let uuid = uuid::Uuid::parse_str(stem)
        .map_err(|_| invalid())?
        .to_string();
    let media = shared
        .media(&uuid)
        .filter(|m| m.content_type.starts_with("video/"))
        .ok_or_else(invalid)?;
    let container = if media.content_type == Container::Mov.mime() {
        Container::Mov
    } else {
        Container::Mp4
    };
    let size = u64::try_from(media.bytes.len()).unwrap_or(u64::MAX);
    let reader = mp4::Mp4Reader::read_header(Cursor::new(media.bytes.to_vec()), size)
        .map_err(|_| invalid())?;
    let track = reader.tracks().values().next().ok_or_else(invalid)?;
    let frames = track.sample_count().max(1);
    let secs = track.duration().as_secs_f64();
    let fps = if secs > 0.0 {
        (f64::from(frames) / secs).round().clamp(1.0, 60.0)
    } else {
        24.0
    };
    // Clamped to 1..=60 first, so the cast is exact.
    #[expect(clippy::cast_possible_truncation, reason = "clamped to 1..=60")]
    let fps = fps as u32;
    Ok(Some(InputVideo {
        uuid,
        width: u32::from(track.width()),
        height: u32::from(track.height()),
        fps,
        frames,
        container,
    }))
}

/// A tool job on a video.
pub(super) struct VideoToolJob {
    /// The input.
    pub input: InputVideo,
    /// What to do.
    pub op: VideoOp,
    /// The `cost` reported with `includeCost`.
    pub cost: f64,
}

/// The job for a tool whose task has a video input.
pub(super) fn job(input: InputVideo, op: VideoOp, cost: f64) -> Box<dyn Job> {
    Box::new(VideoToolJob { input, op, cost })
}

impl Job for VideoToolJob {
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
            let VideoToolJob { input, op, cost } = *self;
            let spec = |width: u32, height: u32, matte: bool| VideoSpec {
                prompt: input.uuid.clone(),
                seed: mix(0, &input.uuid),
                width,
                height,
                fps: input.fps,
                frames: input.frames,
                container: input.container,
                matte,
            };
            let mut item = match op {
                VideoOp::Upscale(f) => {
                    let side = |s: u32| (s.saturating_mul(f)).min(MAX_SIDE) & !1;
                    let s = spec(side(input.width), side(input.height), false);
                    let (uuid, url) = render_and_store(shared, ctx, s).await?;
                    item(
                        ctx,
                        json!({"videoUUID": uuid, "videoURL": url, "inputVideoUUID": input.uuid}),
                    )
                }
                VideoOp::RemoveBackground => {
                    let s = spec(input.width, input.height, true);
                    let (uuid, url) = render_and_store(shared, ctx, s).await?;
                    item(
                        ctx,
                        json!({"videoUUID": uuid, "videoURL": url, "inputVideoUUID": input.uuid}),
                    )
                }
                VideoOp::Caption => {
                    let secs = f64::from(input.frames) / f64::from(input.fps.max(1));
                    item(ctx, json!({"text": caption(secs, mix(0, &input.uuid))}))
                }
            };
            add_cost(&mut item, include_cost, cost);
            Ok(vec![item])
        }
        .boxed()
    }
}

/// The segments of a caption: `[i] (start-end): …`, one per started 6 seconds.
fn caption(secs: f64, seed: u64) -> String {
    const SCENES: [&str; 4] = [
        "soft glowing discs drift over a smooth colour gradient",
        "the camera pans slowly across a calm abstract scene",
        "bright circles slide past a darkening background",
        "a gentle gradient shifts as round shapes move by",
    ];
    let mut out = Vec::new();
    let mut start = 0.0f64;
    let mut i = 0u64;
    while start < secs || i == 0 {
        let end = (start + SEGMENT_S).min(secs);
        let pick = usize::try_from((seed.wrapping_add(i)) % 4).unwrap_or(0);
        let scene = SCENES.get(pick).copied().unwrap_or("an abstract animation");
        out.push(format!("[{i}] ({}-{}): {scene}.", fmt_s(start), fmt_s(end)));
        start += SEGMENT_S;
        i += 1;
    }
    out.join("\n")
}

/// Seconds without a needless `.0` (`6`, `8.5`).
fn fmt_s(s: f64) -> String {
    let r = (s * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caption_segments() {
        let c = caption(14.0, 0);
        let lines: Vec<&str> = c.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("[0] (0-6): "), "{c}");
        assert!(lines[1].starts_with("[1] (6-12): "), "{c}");
        assert!(lines[2].starts_with("[2] (12-14): "), "{c}");
    }
}
