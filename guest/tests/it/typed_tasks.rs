//! The typed tasks of the `task` variant: the JSON each builds, its defaults, and the local
//! checks that cost no request.
#![expect(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

use runware_guest::error::ErrorKind;
use runware_guest::tasks::{
    AudioFormat, AudioRequest, MediaToolRequest, Message, PromptEnhanceRequest, Task, TextRequest,
    VideoFormat, VideoRequest, build_task,
};
use runware_guest::wit::{CommonOptions, FrameImage, Speech};
use serde_json::json;

fn invalid(task: &Task) -> (String, Option<String>) {
    let e = build_task(task, "u", false).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidRequest);
    (e.detail.code, e.detail.parameter)
}

#[test]
fn a_video_is_always_async_with_url_output_and_the_default_model() {
    let t = build_task(&Task::Video(VideoRequest::default()), "u", false).unwrap();
    assert_eq!(
        t,
        json!({"taskType":"videoInference","taskUUID":"u","deliveryMethod":"async",
               "outputType":"URL","model":runware_spec::DEFAULT_VIDEO_MODEL})
    );
}

#[test]
fn a_video_maps_every_field() {
    let r = VideoRequest {
        positive_prompt: Some("a paper boat on a stream".into()),
        duration: Some(5.5),
        width: Some(640),
        height: Some(360),
        fps: Some(24),
        seed: Some(7),
        number_results: Some(2),
        frame_images: vec![FrameImage {
            image: "https://example.invalid/first.png".into(),
            frame: Some("first".into()),
        }],
        reference_images: vec!["3f0d3d3c-7c56-4f0e-9b0e-2c5f1f1b8f11".into()],
        output_format: Some(VideoFormat::Webm),
        common: CommonOptions {
            include_cost: Some(true),
            webhook_url: Some("http://127.0.0.1:8/hook".into()),
            ..CommonOptions::default()
        },
        extra_json: Some(r#"{"CFGScale":5}"#.into()),
        ..VideoRequest::default()
    };
    let t = build_task(&Task::Video(r), "u", false).unwrap();
    assert_eq!(t["duration"], json!(5.5));
    assert_eq!(
        (t["width"].clone(), t["height"].clone()),
        (json!(640), json!(360))
    );
    assert_eq!(t["fps"], 24);
    assert_eq!(t["numberResults"], 2);
    assert_eq!(t["outputFormat"], "WEBM");
    assert_eq!(
        t["inputs"]["frameImages"],
        json!([{"inputImage":"https://example.invalid/first.png","frame":"first"}])
    );
    assert_eq!(
        t["inputs"]["referenceImages"][0],
        "3f0d3d3c-7c56-4f0e-9b0e-2c5f1f1b8f11"
    );
    assert_eq!(t["includeCost"], true);
    assert_eq!(t["webhookURL"], "http://127.0.0.1:8/hook");
    assert_eq!(t["CFGScale"], 5);
}

#[test]
fn video_ranges_are_checked_before_anything_is_sent() {
    let bad = |r: VideoRequest| invalid(&Task::Video(r));
    assert_eq!(
        bad(VideoRequest {
            duration: Some(0.5),
            ..VideoRequest::default()
        }),
        ("invalidDuration".into(), Some("duration".into()))
    );
    assert_eq!(
        bad(VideoRequest {
            width: Some(641),
            ..VideoRequest::default()
        }),
        ("invalidWidth".into(), Some("width".into()))
    );
    assert_eq!(
        bad(VideoRequest {
            fps: Some(0),
            ..VideoRequest::default()
        }),
        ("invalidFps".into(), Some("fps".into()))
    );
    assert_eq!(
        bad(VideoRequest {
            reference_images: vec!["./boat.png".into()],
            ..VideoRequest::default()
        }),
        (
            "invalidReferenceImages".into(),
            Some("referenceImages".into())
        ),
        "a local path is never sent as text"
    );
}

#[test]
fn an_audio_is_a_prompt_with_a_duration_or_speech() {
    let music = AudioRequest {
        positive_prompt: Some("calm piano".into()),
        duration: Some(30.0),
        output_format: Some(AudioFormat::Wav),
        ..AudioRequest::default()
    };
    let t = build_task(&Task::Audio(music), "u", false).unwrap();
    assert_eq!(t["model"], runware_spec::DEFAULT_AUDIO_MODEL);
    assert_eq!(t["outputFormat"], "WAV");
    assert_eq!(t["duration"], 30);
    let speech = AudioRequest {
        speech: Some(Speech {
            text: "Hello there".into(),
            voice: Some("Aria".into()),
        }),
        ..AudioRequest::default()
    };
    let t = build_task(&Task::Audio(speech), "u", true).unwrap();
    assert_eq!(t["model"], runware_spec::DEFAULT_SPEECH_MODEL);
    assert_eq!(t["speech"], json!({"text":"Hello there","voice":"Aria"}));
    assert_eq!(t["deliveryMethod"], "async", "a submission is async");
    assert_eq!(
        invalid(&Task::Audio(AudioRequest::default())).1.as_deref(),
        Some("positivePrompt")
    );
    assert_eq!(
        invalid(&Task::Audio(AudioRequest {
            positive_prompt: Some("calm piano".into()),
            duration: Some(5.0),
            ..AudioRequest::default()
        })),
        ("invalidDuration".into(), Some("duration".into()))
    );
}

#[test]
fn tools_take_an_image_or_a_video_and_a_video_is_async() {
    let image = MediaToolRequest {
        image: Some("data:image/png;base64,AAAA".into()),
        upscale_factor: Some(2),
        ..MediaToolRequest::default()
    };
    let t = build_task(&Task::Upscale(image.clone()), "u", false).unwrap();
    assert_eq!(
        t,
        json!({"taskType":"upscale","taskUUID":"u","model":runware_spec::DEFAULT_UPSCALE_MODEL,
               "inputs":{"image":"data:image/png;base64,AAAA"},"upscaleFactor":2})
    );
    let video = MediaToolRequest {
        video: Some("https://example.invalid/v.mp4".into()),
        ..MediaToolRequest::default()
    };
    let t = build_task(&Task::RemoveBackground(video.clone()), "u", false).unwrap();
    assert_eq!(t["deliveryMethod"], "async");
    assert_eq!(
        t["model"],
        runware_spec::DEFAULT_VIDEO_REMOVE_BACKGROUND_MODEL
    );
    assert_eq!(
        t["inputs"],
        json!({"video":"https://example.invalid/v.mp4"})
    );
    let t = build_task(&Task::Caption(video), "u", false).unwrap();
    assert_eq!(t["taskType"], "caption");
    assert_eq!(
        invalid(&Task::Caption(image)).1.as_deref(),
        Some("upscaleFactor")
    );
    assert_eq!(
        invalid(&Task::Upscale(MediaToolRequest::default()))
            .1
            .as_deref(),
        Some("inputs.image")
    );
}

#[test]
fn uploads_prompts_and_text() {
    let t = build_task(
        &Task::ImageUpload("data:image/png;base64,AAAA".into()),
        "u",
        false,
    )
    .unwrap();
    assert_eq!(
        t,
        json!({"taskType":"imageUpload","taskUUID":"u","image":"data:image/png;base64,AAAA"})
    );
    let t = build_task(&Task::MediaDelete("m-1".into()), "u", false).unwrap();
    assert_eq!(
        t,
        json!({"taskType":"mediaStorage","taskUUID":"u","operation":"delete","mediaUUID":"m-1"})
    );
    let t = build_task(&Task::MediaUpload("AAAA".into()), "u", true).unwrap();
    assert!(t.get("deliveryMethod").is_none(), "uploads are sync only");
    let t = build_task(
        &Task::PromptEnhance(PromptEnhanceRequest {
            prompt: "a cat".into(),
            versions: Some(3),
            ..PromptEnhanceRequest::default()
        }),
        "u",
        false,
    )
    .unwrap();
    assert_eq!(t["promptVersions"], 3);
    assert_eq!(
        t["promptMaxLength"],
        runware_spec::DEFAULT_PROMPT_MAX_LENGTH
    );
    assert_eq!(t["model"], runware_spec::PROMPT_ENHANCE_MODEL);
    let text = TextRequest {
        messages: vec![Message {
            role: "user".into(),
            content: "Hi".into(),
        }],
        max_tokens: Some(64),
        ..TextRequest::default()
    };
    let t = build_task(&Task::Text(text), "u", false).unwrap();
    assert_eq!(t["messages"], json!([{"role":"user","content":"Hi"}]));
    assert_eq!(t["settings"], json!({"maxTokens":64}));
    let bad_role = TextRequest {
        messages: vec![Message {
            role: "robot".into(),
            content: "Hi".into(),
        }],
        ..TextRequest::default()
    };
    assert_eq!(
        invalid(&Task::Text(bad_role)).1.as_deref(),
        Some("messages")
    );
    let bad_hook = PromptEnhanceRequest {
        prompt: "a cat".into(),
        common: CommonOptions {
            webhook_url: Some("127.0.0.1:9/hook".into()),
            ..CommonOptions::default()
        },
        ..PromptEnhanceRequest::default()
    };
    assert_eq!(
        invalid(&Task::PromptEnhance(bad_hook)).1.as_deref(),
        Some("webhookURL")
    );
}
