//! The typed tasks through the real component against the emulator: what `prepare` sends,
//! local checks that cost no request, `submit` and the job it returns, and local inputs turned
//! into inline data or uploads.

use runware_host::input::{MediaKind, Resolved, resolve_input};
use runware_host::{
    Client, CommonOptions, Error, ErrorKind, Job, MediaToolRequest, PromptEnhanceRequest, Task,
    TaskStatus, VideoRequest,
};
use serde_json::Value;

use crate::common::{config, emulator, ok, ok_with, runtime, test_key};

fn api_error(r: Result<impl std::fmt::Debug, Error>) -> (ErrorKind, runware_host::ErrorDetail) {
    match r {
        Err(Error::Api { kind, detail }) => (kind, *detail),
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// A small valid PNG (1×1), from the `image` crate's encoder so it decodes anywhere.
fn tiny_png() -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image::RgbaImage::from_pixel(8, 8, image::Rgba([200, 40, 40, 255]))
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

#[tokio::test(flavor = "multi_thread")]
async fn prepare_shows_a_video_sent_async_and_local_checks_cost_no_request() {
    let key = test_key("tasks-prepare");
    let emu = emulator(&key).await;
    let client = ok(Client::new(&runtime(), config(&emu, Some(&key))));
    let json = ok(client
        .prepare(&Task::Video(VideoRequest {
            positive_prompt: Some("a paper boat on a stream".into()),
            common: CommonOptions {
                include_cost: Some(true),
                ..CommonOptions::default()
            },
            ..VideoRequest::default()
        }))
        .await);
    let tasks: Value = serde_json::from_str(&json).unwrap();
    let task = &tasks[0];
    assert_eq!(task["taskType"], "videoInference");
    assert_eq!(task["deliveryMethod"], "async");
    assert_eq!(task["model"], runware_host::spec::DEFAULT_VIDEO_MODEL);
    assert_eq!(task["includeCost"], true);

    let (kind, detail) = api_error(
        client
            .run(&Task::Video(VideoRequest {
                duration: Some(600.0),
                ..VideoRequest::default()
            }))
            .await,
    );
    assert_eq!(kind, ErrorKind::InvalidRequest);
    assert_eq!(
        (
            detail.code.as_str(),
            detail.parameter.as_deref(),
            detail.attempts
        ),
        ("invalidDuration", Some("duration"), 0)
    );
    let (kind, detail) = api_error(client.submit(&Task::ImageUpload("AAAA".into())).await);
    assert_eq!(kind, ErrorKind::InvalidRequest);
    assert_eq!(detail.parameter.as_deref(), Some("deliveryMethod"));
    assert!(emu.request_log().is_empty(), "nothing was sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_async_tool_is_submitted_then_polled_and_waited_for() {
    let key = test_key("tasks-submit");
    let emu = emulator(&key).await;
    let client = ok(Client::new(&runtime(), config(&emu, Some(&key))));
    let upload = ok(client
        .run(&Task::ImageUpload(format!(
            "data:image/png;base64,{}",
            base64_encode(&tiny_png())
        )))
        .await);
    let uuid = upload.outputs[0].uuid.clone().expect("an imageUUID");
    let job = ok(client
        .submit(&Task::Upscale(MediaToolRequest {
            image: Some(uuid),
            upscale_factor: Some(2),
            ..MediaToolRequest::default()
        }))
        .await);
    assert_eq!(job.task_type.as_deref(), Some("upscale"));
    // A job stored as text and read back (after a restart) is all `wait_for` needs.
    let stored = Job::from_task_uuid(job.task_uuid.clone());
    let done = ok_with(client.wait_for(&stored).await, "wait_for");
    assert_eq!(done.status, TaskStatus::Success);
    assert_eq!(done.task_uuid, job.task_uuid);
    assert_eq!(done.outputs.len(), 1);
    assert!(done.outputs[0].url.is_some() || done.outputs[0].base64_data.is_some());
    let again = ok(client.poll(&job).await);
    assert_eq!(
        again.status,
        TaskStatus::Success,
        "polling a finished job is safe"
    );
    assert_eq!(
        emu.executions(&job.task_uuid),
        1,
        "the task ran (was billed) once"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_prompt_enhancement_returns_one_text_per_version() {
    let key = test_key("tasks-enhance");
    let emu = emulator(&key).await;
    let client = ok(Client::new(&runtime(), config(&emu, Some(&key))));
    let o = ok(client
        .run(&Task::PromptEnhance(PromptEnhanceRequest {
            prompt: "a cat on a windowsill".into(),
            versions: Some(3),
            ..PromptEnhanceRequest::default()
        }))
        .await);
    assert_eq!(o.outputs.len(), 3);
    assert!(
        o.outputs
            .iter()
            .all(|x| x.text.as_deref().is_some_and(|t| !t.is_empty()))
    );
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test(flavor = "multi_thread")]
async fn local_inputs_are_inlined_or_uploaded_and_a_missing_path_is_refused() {
    let key = test_key("tasks-inputs");
    let emu = emulator(&key).await;
    let client = ok(Client::new(&runtime(), config(&emu, Some(&key))));
    let dir = tempfile::tempdir().unwrap();

    let missing = dir.path().join("no-such.png");
    let (kind, detail) = api_error(
        resolve_input(
            &client,
            missing.to_str().unwrap(),
            MediaKind::Image,
            "inputs.image",
        )
        .await,
    );
    assert_eq!(kind, ErrorKind::InvalidRequest);
    assert_eq!(detail.parameter.as_deref(), Some("inputs.image"));
    assert!(detail.message.contains("no-such.png"), "{}", detail.message);
    assert!(matches!(
        resolve_input(&client, "boat.png", MediaKind::Image, "image").await,
        Err(Error::Api { .. })
    ));

    let small = dir.path().join("small.png");
    std::fs::write(&small, tiny_png()).unwrap();
    let r = ok(resolve_input(&client, small.to_str().unwrap(), MediaKind::Image, "image").await);
    assert!(matches!(&r, Resolved::Inlined { .. }), "{r:?}");
    assert!(r.value().starts_with("data:image/png;base64,"));

    // Over the inline threshold: uploaded first, then sent by UUID.
    let big = dir.path().join("big.png");
    let mut bytes = tiny_png();
    let pad = usize::try_from(runware_host::spec::INLINE_INPUT_MAX_BYTES).unwrap() + 1;
    bytes.resize(bytes.len() + pad, 0);
    std::fs::write(&big, &bytes).unwrap();
    let before = emu.request_log().len();
    let r = ok(resolve_input(&client, big.to_str().unwrap(), MediaKind::Image, "image").await);
    let Resolved::Uploaded { uuid, .. } = &r else {
        panic!("expected an upload, got {r:?}");
    };
    assert!(runware_host::input::is_uuid(uuid), "{uuid}");
    assert_eq!(emu.request_log().len(), before + 1, "one upload request");

    for given in [
        "https://im.runware.ai/image/x.png",
        "data:image/png;base64,AAAA",
        "3f0d3d3c-7c56-4f0e-9b0e-2c5f1f1b8f11",
    ] {
        let r = ok(resolve_input(&client, given, MediaKind::Image, "image").await);
        assert_eq!(r, Resolved::AsGiven(given.to_string()));
    }
    let b64 = base64_encode(&tiny_png());
    let r = ok(resolve_input(&client, &b64, MediaKind::Image, "image").await);
    assert_eq!(
        r,
        Resolved::AsGiven(b64),
        "base64 is not mistaken for a path"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_account_balance_falls_with_each_billed_task_and_zero_is_a_typed_error() {
    let key = test_key("tasks-account");
    let emu = crate::common::start(crate::common::emulator_builder(&key).balance(1.0)).await;
    let client = ok(Client::new(&runtime(), config(&emu, Some(&key))));
    let before = ok(client.account().await);
    assert_eq!(before.balance, Some(1.0));
    assert_eq!(before.currency.as_deref(), Some("USD"));
    let text = runware_host::TextRequest {
        messages: vec![runware_host::Message {
            role: "user".into(),
            content: "Name a colour.".into(),
        }],
        common: CommonOptions {
            include_cost: Some(true),
            ..CommonOptions::default()
        },
        ..runware_host::TextRequest::default()
    };
    let answer = ok(client.run(&Task::Text(text.clone())).await);
    assert_eq!(answer.outputs.len(), 1);
    assert!(answer.outputs[0].text.is_some());
    let cost = answer.cost.expect("a cost, with include-cost");
    let after = ok(client.account().await);
    let spent = before.balance.unwrap() - after.balance.unwrap();
    assert!(
        (spent - cost).abs() < 1e-9,
        "charged {spent}, reported {cost}"
    );

    emu.set_balance(0.0);
    let (kind, detail) = api_error(client.run(&Task::Text(text)).await);
    assert_eq!(kind, ErrorKind::InsufficientCredits, "{detail:?}");
    assert!(!detail.retryable);
}

#[tokio::test(flavor = "multi_thread")]
async fn stored_media_is_uploaded_used_and_deleted() {
    let key = test_key("tasks-media");
    let emu = emulator(&key).await;
    let client = ok(Client::new(&runtime(), config(&emu, Some(&key))));
    let data = format!("data:image/png;base64,{}", base64_encode(&tiny_png()));
    let stored = ok(client.run(&Task::MediaUpload(data)).await);
    let uuid = stored.outputs[0].uuid.clone().expect("a mediaUUID");
    assert!(stored.outputs[0].url.is_some());
    let caption = ok(client
        .run(&Task::Caption(MediaToolRequest {
            image: Some(uuid.clone()),
            ..MediaToolRequest::default()
        }))
        .await);
    assert!(
        caption.outputs[0]
            .text
            .as_deref()
            .is_some_and(|t| !t.is_empty())
    );
    let deleted = ok(client.run(&Task::MediaDelete(uuid.clone())).await);
    assert_eq!(deleted.status, TaskStatus::Success);
    let (kind, detail) = api_error(client.run(&Task::MediaDelete(uuid)).await);
    assert_eq!(kind, ErrorKind::InvalidRequest, "{detail:?}");
    assert_eq!(detail.code, "mediaNotFound");
}

#[tokio::test(flavor = "multi_thread")]
async fn input_nested_to_the_parsers_limit_fits_the_64_kib_stack() {
    // The component's stack is 64 KiB (guest/build.rs). The deepest input a call can bring is
    // JSON at serde_json's nesting limit: it must end in a typed error, never a trap.
    let key = test_key("tasks-deep");
    let emu = emulator(&key).await;
    let client = ok(Client::new(&runtime(), config(&emu, Some(&key))));
    for depth in [100, 126, 127, 200] {
        let deep = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        let tasks = format!(r#"[{{"taskType":"ping","ping":true,"x":{deep}}}]"#);
        match client.run_tasks(&tasks).await {
            Ok(_) => {}
            Err(Error::Api { kind, .. }) => {
                assert_eq!(kind, ErrorKind::InvalidRequest, "depth {depth}")
            }
            Err(e) => panic!("depth {depth}: {}", e.report()),
        }
    }
    let ok_call = ok(client.prepare(&Task::Video(VideoRequest::default())).await);
    assert!(ok_call.contains("videoInference"), "the client still works");
}
