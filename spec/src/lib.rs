//! The documented facts of the Runware API that the client relies on: defaults and ranges.
//!
//! Each fact has this one home. The component validates requests and fills in defaults with
//! these constants, the host library applies the option defaults with them, and the CLI's
//! `--help` prints them. `wit/types.wit` and the README state the same numbers in prose; the
//! tests at the bottom of this file fail when either says something else.
//!
//! The crate has no dependencies and no code that runs: the component links it, and its size
//! counts.
// Tests may panic: a failing assertion is how they fail.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]
#![no_std]

/// An inclusive range of accepted values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds<T> {
    /// The smallest accepted value.
    pub min: T,
    /// The largest accepted value.
    pub max: T,
}

// ---- the image request (`imageInference`) --------------------------------------------------

/// The model `text-to-image` sends when the request names none.
pub const DEFAULT_MODEL: &str = "runware:101@1";
/// The width and height `text-to-image` sends when the request sets none, in pixels.
pub const DEFAULT_SIZE: u32 = 1024;
/// Width and height, in pixels (and a multiple of [`SIZE_STEP`]).
pub const SIZE: Bounds<u32> = Bounds {
    min: 128,
    max: 2048,
};
/// Width and height must be multiples of this.
pub const SIZE_STEP: u32 = 64;
/// Length of `positivePrompt` and `negativePrompt`, in characters.
pub const PROMPT_CHARS: Bounds<usize> = Bounds { min: 2, max: 3000 };
/// Inference `steps`.
pub const STEPS: Bounds<u64> = Bounds { min: 1, max: 100 };
/// `CFGScale`.
pub const CFG_SCALE: Bounds<f32> = Bounds {
    min: 0.0,
    max: 50.0,
};
/// `seed` (a positive signed 64-bit integer on Runware's side).
pub const SEED: Bounds<u64> = Bounds {
    min: 1,
    max: 9_223_372_036_854_775_807,
};
/// `numberResults`.
pub const NUMBER_RESULTS: Bounds<u64> = Bounds { min: 1, max: 20 };
/// The `numberResults` `text-to-image` sends when the request sets none.
pub const DEFAULT_NUMBER_RESULTS: u32 = 1;
/// `outputQuality` (JPEG and WEBP).
pub const OUTPUT_QUALITY: Bounds<u64> = Bounds { min: 20, max: 99 };
/// `strength` (image-to-image).
pub const STRENGTH: Bounds<f32> = Bounds { min: 0.0, max: 1.0 };
/// `clipSkip`, CLIP layers to skip.
pub const CLIP_SKIP: Bounds<u64> = Bounds { min: 0, max: 2 };
/// A LoRA's `weight`.
pub const LORA_WEIGHT: Bounds<f32> = Bounds {
    min: -4.0,
    max: 4.0,
};

// ---- the model search (`modelSearch`) ------------------------------------------------------

/// `limit`, results per page.
pub const SEARCH_LIMIT: Bounds<u64> = Bounds { min: 1, max: 100 };
/// The `limit` Runware applies when the request sends none (the component sends none).
pub const SEARCH_DEFAULT_LIMIT: u32 = 20;

// ---- video (`videoInference`) --------------------------------------------------------------

/// The model a video request sends when it names none (in Runware's curated catalogue).
pub const DEFAULT_VIDEO_MODEL: &str = "klingai:kling-video@2.6-standard";
/// A video's `duration`, in seconds.
pub const VIDEO_DURATION: Bounds<f32> = Bounds {
    min: 1.0,
    max: 60.0,
};
/// A video's width and height, in pixels (and even).
pub const VIDEO_SIZE: Bounds<u64> = Bounds {
    min: 128,
    max: 4096,
};
/// A video's `fps`.
pub const VIDEO_FPS: Bounds<u64> = Bounds { min: 1, max: 60 };
/// A video request's `numberResults`.
pub const VIDEO_NUMBER_RESULTS: Bounds<u64> = Bounds { min: 1, max: 4 };

// ---- audio (`audioInference`) --------------------------------------------------------------

/// The model an audio request with a prompt sends when it names none.
pub const DEFAULT_AUDIO_MODEL: &str = "minimax:music@2.6";
/// The model an audio request with speech sends when it names none.
pub const DEFAULT_SPEECH_MODEL: &str = "minimax:speech@2.8";
/// An audio's `duration`, in seconds.
pub const AUDIO_DURATION: Bounds<f32> = Bounds {
    min: 10.0,
    max: 300.0,
};
/// Length of `speech.text`, in characters.
pub const SPEECH_CHARS: Bounds<usize> = Bounds { min: 1, max: 3000 };

// ---- the image and video tools (`upscale`, `removeBackground`, `caption`) ------------------

/// The upscale model for an image input.
pub const DEFAULT_UPSCALE_MODEL: &str = "runware:504@1";
/// The upscale model for a video input.
pub const DEFAULT_VIDEO_UPSCALE_MODEL: &str = "bytedance:50@1";
/// The background-removal model for an image input.
pub const DEFAULT_REMOVE_BACKGROUND_MODEL: &str = "runware:112@5";
/// The background-removal model for a video input.
pub const DEFAULT_VIDEO_REMOVE_BACKGROUND_MODEL: &str = "bria:51@1";
/// The caption model, for images and videos.
pub const DEFAULT_CAPTION_MODEL: &str = "runware:152@2";
/// `upscaleFactor`.
pub const UPSCALE_FACTOR: Bounds<u64> = Bounds { min: 2, max: 4 };

// ---- text (`promptEnhance`, `textInference`) -----------------------------------------------

/// Runware's prompt-enhancer model.
pub const PROMPT_ENHANCE_MODEL: &str = "runware:llama-3-1-8b@prompt-enhancer";
/// `promptVersions`.
pub const PROMPT_VERSIONS: Bounds<u64> = Bounds { min: 1, max: 5 };
/// The `promptVersions` sent when the request sets none.
pub const DEFAULT_PROMPT_VERSIONS: u32 = 1;
/// `promptMaxLength`.
pub const PROMPT_MAX_LENGTH: Bounds<u64> = Bounds { min: 12, max: 400 };
/// The `promptMaxLength` sent when the request sets none.
pub const DEFAULT_PROMPT_MAX_LENGTH: u32 = 380;
/// The text model a text request sends when it names none.
pub const DEFAULT_TEXT_MODEL: &str = "openai:gpt@5-mini";
/// `settings.temperature` of a text request.
pub const TEMPERATURE: Bounds<f32> = Bounds { min: 0.0, max: 2.0 };

// ---- every task ----------------------------------------------------------------------------

/// `ttl`, seconds an output URL lives.
pub const TTL_SECONDS: Bounds<u64> = Bounds {
    min: 60,
    max: 4_294_967_295,
};
/// A local input file at most this large is sent inline as a data URI; a larger one is
/// uploaded first and sent by its UUID (1 MiB, the WebSocket frame limit Runware's SDKs hit).
pub const INLINE_INPUT_MAX_BYTES: u64 = 1 << 20;

// ---- client options (`client-options`) -----------------------------------------------------

/// The REST endpoint.
pub const DEFAULT_BASE_URL: &str = "https://api.runware.ai/v1";
/// Retries after the first attempt of a request, for retryable failures only.
pub const DEFAULT_MAX_RETRIES: u32 = 3;
/// Total time a call may take, retries, backoff and polling included (5 min). A call that polls
/// and sets no deadline gets the poll deadline plus this.
pub const DEFAULT_DEADLINE_MS: u32 = 300_000;
/// Time allowed to open a connection.
pub const DEFAULT_CONNECT_TIMEOUT_MS: u32 = 10_000;
/// Time allowed between sending a request and the first byte of its answer.
pub const DEFAULT_FIRST_BYTE_TIMEOUT_MS: u32 = 120_000;
/// Time allowed between two chunks of a response body.
pub const DEFAULT_BETWEEN_BYTES_TIMEOUT_MS: u32 = 30_000;
/// First delay between two `getResponse` polls (it grows to about 10 s).
pub const DEFAULT_POLL_INTERVAL_MS: u32 = 1_000;
/// The longest delay between two `getResponse` polls: the delay grows ×1.5 from the poll
/// interval up to this.
pub const POLL_DELAY_CAP_MS: u32 = 10_000;
/// Time allowed for polling an async task, bounded by the call's deadline (20 min, for video).
pub const DEFAULT_POLL_DEADLINE_MS: u32 = 1_200_000;
/// Largest response body accepted, in bytes (64 MiB).
pub const DEFAULT_MAX_RESPONSE_BYTES: u32 = 64 << 20;

#[cfg(test)]
mod tests {
    //! The prose copies of these facts: the WIT's doc comments and the README. Each test formats
    //! the sentence from the constants and looks for it, so changing a constant without the
    //! docs (or the docs without the constant) fails here.
    extern crate std;
    use super::*;
    use std::format;
    use std::string::String;

    /// The file's words joined by single spaces, without WIT's `///` markers, so that a
    /// sentence wrapped over lines still matches.
    fn read(rel: &str) -> String {
        let path = format!("{}/../{rel}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let words: std::vec::Vec<&str> = text.split_whitespace().filter(|w| *w != "///").collect();
        words.join(" ")
    }

    fn assert_states(doc: &str, name: &str, phrase: &str) {
        assert!(
            doc.contains(phrase),
            "{name} does not say {phrase:?}: update it or the constant in spec/src/lib.rs"
        );
    }

    #[test]
    fn the_wit_states_the_same_defaults_and_ranges() {
        let wit = read("wit/types.wit");
        let phrases = [
            format!("{} to {} in multiples of {}", SIZE.min, SIZE.max, SIZE_STEP),
            format!("`none` sends {DEFAULT_SIZE}"),
            format!("`none` sends `{DEFAULT_MODEL}`"),
            format!("{} to {} characters", PROMPT_CHARS.min, PROMPT_CHARS.max),
            format!("Inference steps, {} to {}", STEPS.min, STEPS.max),
            format!("scale, {} to {}", CFG_SCALE.min, CFG_SCALE.max),
            format!("Seed, {} to {}", SEED.min, SEED.max),
            format!(
                "{} to {}. `none` sends {DEFAULT_NUMBER_RESULTS}",
                NUMBER_RESULTS.min, NUMBER_RESULTS.max
            ),
            format!("quality, {} to {}", OUTPUT_QUALITY.min, OUTPUT_QUALITY.max),
            format!("seed image, {} to {}", STRENGTH.min, STRENGTH.max),
            format!("weight, {} to {}", LORA_WEIGHT.min, LORA_WEIGHT.max),
            format!(
                "CLIP layers to skip, {} to {}",
                CLIP_SKIP.min, CLIP_SKIP.max
            ),
            format!(
                "Results per page, {} to {}. `none` means {SEARCH_DEFAULT_LIMIT}",
                SEARCH_LIMIT.min, SEARCH_LIMIT.max
            ),
            format!("Default `{DEFAULT_BASE_URL}`"),
            format!("request, for retryable failures only. Default {DEFAULT_MAX_RETRIES}."),
            format!("polling included. Default {DEFAULT_DEADLINE_MS} "),
            format!("sets none, the poll deadline plus {DEFAULT_DEADLINE_MS}"),
            format!("`none` sends `{DEFAULT_VIDEO_MODEL}`"),
            format!("`none` sends `{DEFAULT_AUDIO_MODEL}`, or `{DEFAULT_SPEECH_MODEL}` for speech"),
            format!(
                "`{DEFAULT_UPSCALE_MODEL}` (upscale), `{DEFAULT_REMOVE_BACKGROUND_MODEL}` (background removal) or `{DEFAULT_CAPTION_MODEL}` (caption)"
            ),
            format!(
                "`{DEFAULT_VIDEO_UPSCALE_MODEL}`, `{DEFAULT_VIDEO_REMOVE_BACKGROUND_MODEL}` or `{DEFAULT_CAPTION_MODEL}`"
            ),
            format!("`none` sends `{DEFAULT_TEXT_MODEL}`"),
            format!("always `{PROMPT_ENHANCE_MODEL}`"),
            format!(
                "Length in seconds, {} to {}.",
                VIDEO_DURATION.min, VIDEO_DURATION.max
            ),
            format!(
                "Length in seconds, {} to {}, with",
                AUDIO_DURATION.min, AUDIO_DURATION.max
            ),
            format!("in pixels, {} to {}, even", VIDEO_SIZE.min, VIDEO_SIZE.max),
            format!("Frames per second, {} to {}", VIDEO_FPS.min, VIDEO_FPS.max),
            format!(
                "Videos to generate, {} to {}",
                VIDEO_NUMBER_RESULTS.min, VIDEO_NUMBER_RESULTS.max
            ),
            format!(
                "What to say, {} to {} characters",
                SPEECH_CHARS.min, SPEECH_CHARS.max
            ),
            format!(
                "the factor, {} to {}",
                UPSCALE_FACTOR.min, UPSCALE_FACTOR.max
            ),
            format!(
                "versions to return, {} to {}. `none` sends {DEFAULT_PROMPT_VERSIONS}",
                PROMPT_VERSIONS.min, PROMPT_VERSIONS.max
            ),
            format!(
                "in characters, {} to {}. `none` sends {DEFAULT_PROMPT_MAX_LENGTH}",
                PROMPT_MAX_LENGTH.min, PROMPT_MAX_LENGTH.max
            ),
            format!("temperature, {} to {}", TEMPERATURE.min, TEMPERATURE.max),
            format!("(URL outputs only), {} or more", TTL_SECONDS.min),
            format!("open a connection. Default {DEFAULT_CONNECT_TIMEOUT_MS}."),
            format!("first byte of its answer. Default {DEFAULT_FIRST_BYTE_TIMEOUT_MS}."),
            format!("response body. Default {DEFAULT_BETWEEN_BYTES_TIMEOUT_MS}."),
            format!("about 10 s. Default {DEFAULT_POLL_INTERVAL_MS}."),
            format!("`deadline-ms`. Default {DEFAULT_POLL_DEADLINE_MS} "),
            format!("in bytes. Default {DEFAULT_MAX_RESPONSE_BYTES} "),
        ];
        for phrase in &phrases {
            assert_states(&wit, "wit/types.wit", phrase);
        }
    }

    #[test]
    fn the_readme_states_the_same_ranges() {
        let readme = read("README.md");
        let phrase = format!(
            "prompt {}–{} characters, width and height {}–{} in multiples of {}, steps {}–{}, \
             CFG scale {}–{}, {}–{} results, quality {}–{}, strength {}–{}, LoRA weight −{}–{}",
            PROMPT_CHARS.min,
            PROMPT_CHARS.max,
            SIZE.min,
            SIZE.max,
            SIZE_STEP,
            STEPS.min,
            STEPS.max,
            CFG_SCALE.min,
            CFG_SCALE.max,
            NUMBER_RESULTS.min,
            NUMBER_RESULTS.max,
            OUTPUT_QUALITY.min,
            OUTPUT_QUALITY.max,
            STRENGTH.min,
            STRENGTH.max,
            -LORA_WEIGHT.min,
            LORA_WEIGHT.max,
        );
        assert_states(&readme, "README.md", &phrase);
        let defaults = format!(
            "`--max-retries N` ({DEFAULT_MAX_RETRIES}), `--timeout SECS` ({}, the total deadline)",
            DEFAULT_DEADLINE_MS / 1000
        );
        assert_states(&readme, "README.md", &defaults);
    }
}
