//! `promptEnhance`: `promptVersions` (1–5) deterministic elaborations of `prompt`, each at most
//! `promptMaxLength` words, one item each.

use std::sync::Arc;

use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::{Job, Keyed, Kind, TaskType, add_cost, item};
use crate::state::Shared;
use crate::validate::{ApiError, Range, TaskCtx};

/// The task type.
pub(super) const TASK: TaskType = TaskType {
    names: &["promptEnhance"],
    doc: "https://runware.ai/docs/en/tools/prompt-enhancer",
    kind: Kind::Keyed(Keyed::Work(plan)),
};

/// The `cost` reported per version with `includeCost`.
const COST: f64 = 0.0002;

/// The phrases versions are built from.
const EXTRAS: &[&str] = &[
    "highly detailed",
    "soft cinematic lighting",
    "rich colour palette",
    "sharp focus",
    "volumetric light",
    "award-winning composition",
    "intricate textures",
    "golden hour",
    "8k resolution",
    "depth of field",
];

struct Enhance {
    prompt: String,
    max_len: usize,
    versions: usize,
}

fn plan(_shared: &Shared, ctx: &TaskCtx<'_>) -> Result<Box<dyn Job>, ApiError> {
    let prompt = ctx
        .string("prompt", "Prompt", 1, 300, true)?
        .unwrap_or_default()
        .to_string();
    let max_len = ctx
        .int_as(
            "promptMaxLength",
            "Prompt max length",
            Range {
                min: 12.0,
                max: 400.0,
                multiplier: None,
            },
            false,
        )?
        .unwrap_or(380);
    let versions = ctx
        .int_as(
            "promptVersions",
            "Prompt versions",
            Range {
                min: 1.0,
                max: 5.0,
                multiplier: None,
            },
            false,
        )?
        .unwrap_or(1);
    Ok(Box::new(Enhance {
        prompt,
        max_len,
        versions,
    }))
}

impl Job for Enhance {
    fn expected(&self) -> usize {
        self.versions
    }

    fn run<'a>(
        self: Box<Self>,
        _shared: &'a Arc<Shared>,
        ctx: &'a TaskCtx<'a>,
        include_cost: bool,
    ) -> BoxFuture<'a, Result<Vec<Value>, ApiError>> {
        async move {
            Ok((0..self.versions)
                .map(|v| {
                    // `resultIndex` tells the versions apart: they share the taskUUID and carry
                    // no UUID of their own, and Runware's SDK de-duplicates items by it first
                    // (without it, three versions came back as one).
                    let mut item = item(
                        ctx,
                        json!({"text": enhance(&self.prompt, v, self.max_len), "resultIndex": v}),
                    );
                    add_cost(&mut item, include_cost, COST);
                    item
                })
                .collect())
        }
        .boxed()
    }
}

/// Version `version` of the enhanced prompt: the prompt and four phrases chosen from a hash of
/// it, cut to `max_len` words.
fn enhance(prompt: &str, version: usize, max_len: usize) -> String {
    // FNV-1a: a stable hash, so the same prompt always gets the same versions.
    let mut h: u64 = 1469598103934665603;
    for b in prompt.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(1099511628211);
    }
    let mut text = prompt.trim().to_string();
    for k in 0..4u64 {
        // Small numbers: the conversions cannot fail.
        let offset = u64::try_from(version).unwrap_or(0) * 3 + k * 7;
        let len = u64::try_from(EXTRAS.len()).unwrap_or(1);
        let idx = usize::try_from(h.wrapping_add(offset) % len).unwrap_or(0);
        if let Some(extra) = EXTRAS.get(idx) {
            text.push_str(", ");
            text.push_str(extra);
        }
    }
    text.split_whitespace()
        .take(max_len)
        .collect::<Vec<_>>()
        .join(" ")
}
