//! `audioInference`: either `positivePrompt` + `duration` (10-300 s, `invalidDuration` with
//! `min`/`max`) for music and sound, or `speech {text, voice}` for speech, whose duration is
//! derived from the text (0.07 s a character, at least 1 s, at most 300 s). Sync and async.
//!
//! Real audio ([`crate::media::audio`]), 16 kHz mono, deterministic for a seed and prompt:
//! `outputFormat` WAV and FLAC are encoded as asked. MP3 (the default) and OGG have no cheap
//! pure-Rust encoder: those requests get WAV bytes served honestly as `audio/wav` under a
//! `.wav` URL (and the data URI says `audio/wav`), rather than a refusal, so clients work.
//! `outputType` is `URL` (default), `base64Data` or `dataURI` (one or a list): `audioURL`,
//! `audioBase64Data`, `audioDataURI`.

use crate::validate::range;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::{Job, Keyed, Kind, TaskType, add_cost, item};
use crate::media::audio::{self, Encoding, Voice};
use crate::state::Shared;
use crate::validate::{self, ApiError, TaskCtx};

/// The task type.
pub(super) const TASK: TaskType = TaskType {
    names: &["audioInference"],
    doc: "https://runware.ai/docs/en/audio-inference/api-reference",
    kind: Kind::Keyed(Keyed::Work(plan)),
};

/// Seconds of speech per character of text.
const SPEECH_SECONDS_PER_CHAR: f64 = 0.07;
/// The `cost` per second of audio reported with `includeCost`.
const COST_PER_SECOND: f64 = 0.001;

/// The accepted `outputType` values.
const TYPES: &[&str] = &["URL", "base64Data", "dataURI"];

struct AudioPlan {
    text: String,
    voice: Voice,
    seconds: f64,
    seed: Option<u64>,
    encoding: Encoding,
    types: Vec<&'static str>,
    number_results: usize,
}

fn output_types(ctx: &TaskCtx<'_>) -> Result<Vec<&'static str>, ApiError> {
    let find = |s: &str| TYPES.iter().copied().find(|t| t.eq_ignore_ascii_case(s));
    let invalid = || {
        ctx.one_of("outputType", "Output type", TYPES, true, true)
            .err()
            .unwrap_or_else(|| ctx.wrong_type("outputType", "string"))
    };
    match ctx.task.get("outputType") {
        None | Some(Value::Null) => Ok(vec!["URL"]),
        Some(Value::String(s)) => find(s).map(|t| vec![t]).ok_or_else(invalid),
        Some(Value::Array(list)) if !list.is_empty() => list
            .iter()
            .map(|v| v.as_str().and_then(find).ok_or_else(invalid))
            .collect(),
        Some(_) => Err(invalid()),
    }
}

fn plan(_shared: &Shared, ctx: &TaskCtx<'_>) -> Result<Box<dyn Job>, ApiError> {
    ctx.air("model", true)?;
    let speech = ctx.object("speech")?;
    let (text, voice, seconds) = match speech {
        Some(speech) => {
            let sctx = TaskCtx {
                task: speech,
                task_type: ctx.task_type,
                task_uuid: ctx.task_uuid,
            };
            let text = sctx
                .string("text", "Speech text", 1, 10_000, true)?
                .unwrap_or_default();
            let voice = sctx.string("voice", "Voice", 1, 200, false)?.unwrap_or("");
            let chars = text.chars().count() as f64;
            let secs = (chars * SPEECH_SECONDS_PER_CHAR).clamp(1.0, 300.0);
            (format!("{voice}\u{0}{text}"), Voice::Speech, secs)
        }
        None => {
            let prompt = ctx
                .string("positivePrompt", "Positive prompt", 1, 3000, true)?
                .unwrap_or_default();
            let secs = ctx
                .float("duration", "Duration", range(10.0, 300.0), true)?
                .unwrap_or(10.0);
            (prompt.to_string(), Voice::Music, secs)
        }
    };
    let seed = super::seed(ctx)?;
    let number_results = super::number_results(ctx, 4.0)?;
    let encoding = match ctx.one_of(
        "outputFormat",
        "Output format",
        &["MP3", "WAV", "FLAC", "OGG"],
        true,
        false,
    )? {
        Some("FLAC") => Encoding::Flac,
        // WAV, and MP3/OGG as WAV (see the module documentation).
        _ => Encoding::Wav,
    };
    if let Some(settings) = ctx.object("audioSettings")? {
        let sctx = TaskCtx {
            task: settings,
            task_type: ctx.task_type,
            task_uuid: ctx.task_uuid,
        };
        // Validated for the client's sake; the emulator always writes 16 kHz mono.
        sctx.int("sampleRate", "Sample rate", range(8000.0, 96000.0), false)?;
        sctx.int("bitrate", "Bitrate", range(32.0, 320.0), false)?;
        sctx.int("channels", "Channels", range(1.0, 2.0), false)?;
    }
    let types = output_types(ctx)?;
    Ok(Box::new(AudioPlan {
        text,
        voice,
        seconds,
        seed,
        encoding,
        types,
        number_results,
    }))
}

impl Job for AudioPlan {
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
            let mut items = Vec::with_capacity(p.number_results);
            for i in 0..p.number_results {
                let seed = match p.seed {
                    Some(s) => s
                        .saturating_add(u64::try_from(i).unwrap_or(0))
                        .min(i64::MAX.unsigned_abs()),
                    None => u64::from(rand::random::<u32>().max(1)),
                };
                let (text, voice, seconds, encoding) =
                    (p.text.clone(), p.voice, p.seconds, p.encoding);
                let res = tokio::task::spawn_blocking(move || {
                    audio::encode(&audio::samples(&text, seed, seconds, voice), encoding)
                })
                .await;
                let bytes = match res {
                    Ok(Ok(b)) => b,
                    _ => return Err(ctx.err("inferenceError", "The audio could not be rendered.")),
                };
                crate::delivery::queue_upload(shared, ctx, bytes.clone(), encoding.mime());
                let uuid = shared.store_media(crate::state::StoredMedia {
                    bytes: bytes.clone(),
                    content_type: encoding.mime().into(),
                    extension: encoding.extension().into(),
                });
                let mut item = item(ctx, json!({"audioUUID": uuid, "seed": seed}));
                for t in &p.types {
                    let (field, value) = match *t {
                        "URL" => ("audioURL", shared.media_url(&uuid, encoding.extension())),
                        "base64Data" => ("audioBase64Data", B64.encode(&bytes)),
                        _ => (
                            "audioDataURI",
                            format!("data:{};base64,{}", encoding.mime(), B64.encode(&bytes)),
                        ),
                    };
                    validate::set_field(&mut item, field, json!(value));
                }
                add_cost(
                    &mut item,
                    include_cost,
                    (COST_PER_SECOND * p.seconds * 1e4).round() / 1e4,
                );
                items.push(item);
            }
            Ok(items)
        }
        .boxed()
    }
}
