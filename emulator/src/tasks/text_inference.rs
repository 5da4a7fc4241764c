//! `textInference`: `model` (AIR), `messages` (at least one `{role, content}`, roles `system`,
//! `user`, `assistant`; `content` a string or a list of `{type: "text", text}` parts), optional
//! `settings {maxTokens, temperature, topP}` and `numberResults`. Answers a deterministic reply
//! built from the last user message:
//!
//! ```json
//! {"taskType":"textInference","taskUUID":"…","text":"…","finishReason":"stop",
//!  "usage":{"promptTokens":9,"completionTokens":21,"totalTokens":30},"cost":0.00013}
//! ```
//!
//! Tokens are whitespace-separated words (an approximation no client can tell from a real
//! tokenizer). A reply longer than `settings.maxTokens` is cut there with `finishReason:
//! "length"`. Sync and async; `deliveryMethod: "stream"` (server-sent events) is refused with
//! `unsupportedDeliveryMethod`, because the emulator does not stream.

use crate::validate::range;
use std::sync::Arc;

use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::{Job, Keyed, Kind, TaskType, add_cost, item};
use crate::state::Shared;
use crate::validate::{ApiError, TaskCtx};

/// The task type.
pub(super) const TASK: TaskType = TaskType {
    names: &["textInference"],
    doc: "https://runware.ai/docs/en/text-inference/api-reference",
    kind: Kind::Keyed(Keyed::Work(plan)),
};

/// The roles a message may have.
const ROLES: &[&str] = &["system", "user", "assistant"];

/// The largest `maxTokens` accepted.
const MAX_TOKENS: i64 = 131_072;

/// A validated textInference.
struct Text {
    model: String,
    /// The last user message (the last message when none is from the user).
    prompt: String,
    /// Words in every message.
    prompt_tokens: usize,
    max_tokens: Option<usize>,
    number_results: usize,
}

fn plan(_shared: &Shared, ctx: &TaskCtx<'_>) -> Result<Box<dyn Job>, ApiError> {
    if ctx.task.get("deliveryMethod").and_then(Value::as_str) == Some("stream") {
        return Err(ctx.param_err(
            "unsupportedDeliveryMethod",
            "deliveryMethod",
            "Unsupported value for 'deliveryMethod' parameter: the emulator does not stream (no server-sent events). Use 'sync' or 'async'.".into(),
            "string",
            None,
        ));
    }
    let model = ctx.air("model", true)?.unwrap_or_default().to_string();
    let messages = match ctx.task.get("messages") {
        None | Some(Value::Null) => {
            return Err(ctx.param_err(
                "missingMessages",
                "messages",
                "Missing required parameter 'messages'. Send at least one {\"role\":\"user\",\"content\":\"…\"}.".into(),
                "array",
                None,
            ));
        }
        Some(Value::Array(list)) if !list.is_empty() => list,
        Some(_) => {
            return Err(invalid_messages(
                ctx,
                "It must be a non-empty array of {role, content} objects.",
            ));
        }
    };
    let mut prompt = None;
    let mut last = String::new();
    let mut prompt_tokens = 0;
    for (i, m) in messages.iter().enumerate() {
        let role = m
            .get("role")
            .and_then(Value::as_str)
            .filter(|r| ROLES.contains(r))
            .ok_or_else(|| {
                invalid_messages(
                    ctx,
                    &format!("messages[{i}].role must be one of: {}.", ROLES.join(", ")),
                )
            })?;
        let content = content_text(m.get("content")).ok_or_else(|| {
            invalid_messages(
                ctx,
                &format!("messages[{i}].content must be a string or a list of {{\"type\":\"text\",\"text\":…}} parts."),
            )
        })?;
        prompt_tokens += content.split_whitespace().count();
        if role == "user" {
            prompt = Some(content.clone());
        }
        last = content;
    }
    let mut max_tokens = None;
    if let Some(settings) = ctx.object("settings")? {
        let sctx = TaskCtx {
            task: settings,
            task_type: ctx.task_type,
            task_uuid: ctx.task_uuid,
        };
        max_tokens = sctx.int_as(
            "maxTokens",
            "Max tokens",
            range(1.0, MAX_TOKENS as f64),
            false,
        )?;
        sctx.float("temperature", "Temperature", range(0.0, 2.0), false)?;
        sctx.float("topP", "Top P", range(0.0, 1.0), false)?;
    }
    let number_results = super::number_results(ctx, 20.0)?;
    ctx.boolean("includeUsage")?;
    Ok(Box::new(Text {
        model,
        prompt: prompt.unwrap_or(last),
        prompt_tokens,
        max_tokens,
        number_results,
    }))
}

fn invalid_messages(ctx: &TaskCtx<'_>, rule: &str) -> ApiError {
    ctx.param_err(
        "invalidMessages",
        "messages",
        format!("Invalid value for 'messages' parameter. {rule}"),
        "array",
        None,
    )
}

/// The text of a message's content: a string, or the `text` of its parts joined by spaces.
fn content_text(content: Option<&Value>) -> Option<String> {
    match content? {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => {
            let texts: Vec<&str> = parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect();
            (!texts.is_empty() || parts.is_empty()).then(|| texts.join(" "))
        }
        _ => None,
    }
}

/// The deterministic reply to `prompt`.
fn reply(model: &str, prompt: &str, version: usize) -> String {
    let words: Vec<&str> = prompt.split_whitespace().collect();
    let quoted = words.iter().take(40).copied().collect::<Vec<_>>().join(" ");
    let more = if words.len() > 40 { " …" } else { "" };
    let variant = if version == 0 {
        String::new()
    } else {
        format!(" (variant {})", version + 1)
    };
    format!(
        "This is the Runware emulator answering as {model}{variant}. You wrote: \"{quoted}{more}\" ({} words). A real model would reply here; this text is the same every time for the same messages.",
        words.len()
    )
}

/// The cost: 0.0001 USD per task plus 0.000001 per token, rounded to 6 decimals.
fn text_cost(tokens: usize) -> f64 {
    let tokens = u32::try_from(tokens).unwrap_or(u32::MAX);
    ((0.0001 + f64::from(tokens) * 1e-6) * 1e6).round() / 1e6
}

impl Job for Text {
    fn expected(&self) -> usize {
        self.number_results
    }

    fn run<'a>(
        self: Box<Self>,
        _shared: &'a Arc<Shared>,
        ctx: &'a TaskCtx<'a>,
        include_cost: bool,
    ) -> BoxFuture<'a, Result<Vec<Value>, ApiError>> {
        async move {
            Ok((0..self.number_results)
                .map(|v| {
                    let full = reply(&self.model, &self.prompt, v);
                    let words: Vec<&str> = full.split_whitespace().collect();
                    let (text, finish) = match self.max_tokens {
                        Some(max) if words.len() > max => (
                            words
                                .iter()
                                .take(max)
                                .copied()
                                .collect::<Vec<_>>()
                                .join(" "),
                            "length",
                        ),
                        _ => (full.clone(), "stop"),
                    };
                    let completion = text.split_whitespace().count();
                    let total = self.prompt_tokens + completion;
                    let mut item = item(
                        ctx,
                        json!({
                            "text": text,
                            // Tells the answers apart, as for promptEnhance's versions.
                            "resultIndex": v,
                            "finishReason": finish,
                            "usage": {
                                "promptTokens": self.prompt_tokens,
                                "completionTokens": completion,
                                "totalTokens": total,
                            },
                        }),
                    );
                    add_cost(&mut item, include_cost, text_cost(total));
                    item
                })
                .collect())
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_forms() {
        assert_eq!(
            content_text(Some(&json!("hi there"))).as_deref(),
            Some("hi there")
        );
        assert_eq!(
            content_text(Some(
                &json!([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}])
            ))
            .as_deref(),
            Some("a b")
        );
        assert!(content_text(Some(&json!(5))).is_none());
        assert!(content_text(None).is_none());
    }

    #[test]
    fn reply_is_deterministic() {
        assert_eq!(reply("m:1@1", "hello", 0), reply("m:1@1", "hello", 0));
        assert_ne!(reply("m:1@1", "hello", 0), reply("m:1@1", "hello", 1));
        assert!(text_cost(30) > 0.0);
    }
}
