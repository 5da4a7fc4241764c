//! End-to-end tests of the typed task commands (`video`, `audio`, `upscale`, `remove-background`,
//! `caption`, `upload`, `enhance-prompt`, `account`) and of `poll --wait --out`: the real CLI
//! against the emulator on loopback, through [`crate::e2e::Harness`] (which also checks that the
//! key never leaks).

use std::path::Path;
use std::time::Duration;

use runware_emulator::{Fault, FaultRule};
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::mpsc;

use crate::e2e::{Harness, Run};

/// How long a test waits for something the emulator does in the background (a webhook).
const WAIT: Duration = Duration::from_secs(30);

/// A harness whose videos finish quickly (the emulator's default is 2 s of `processing`).
async fn quick() -> Harness {
    Harness::start_with(|b| b.video_processing(Duration::from_millis(300))).await
}

fn dir_arg(dir: &tempfile::TempDir) -> String {
    dir.path().to_string_lossy().into_owned()
}

/// The files in `dir`, by name.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The string field `field` of every data item.
fn strings(run: &Run, field: &str) -> Vec<String> {
    run.data()
        .iter()
        .filter_map(|d| d[field].as_str().map(str::to_owned))
        .collect()
}

/// An MP4 or MOV file: `ftyp` at offset 4.
fn is_iso_media(bytes: &[u8]) -> bool {
    bytes.get(4..8) == Some(b"ftyp")
}

/// Generates a small PNG through the CLI, so that tests have a real local image to give.
async fn local_png(h: &Harness, dir: &tempfile::TempDir) -> String {
    let run = h
        .run(&[
            "text-to-image",
            "--prompt",
            "a small red kite",
            "--width",
            "256",
            "--height",
            "256",
            "--output-format",
            "png",
            "--out",
            &dir_arg(dir),
        ])
        .await;
    run.assert_code(0);
    let uuid = strings(&run, "imageUUID").pop().expect("an imageUUID");
    dir.path()
        .join(format!("{uuid}.png"))
        .to_string_lossy()
        .into_owned()
}

// ---------------------------------------------------------------------------------------------
// video

#[tokio::test(flavor = "multi_thread")]
async fn video_defaults_are_runnable_and_the_file_is_saved() {
    let h = quick().await;
    let out = tempfile::tempdir().expect("tempdir");
    let run = h
        .run(&[
            "video",
            "--prompt",
            "a paper boat on a stream",
            "--out",
            &dir_arg(&out),
        ])
        .await;
    run.assert_code(0);
    let uuids = strings(&run, "videoUUID");
    assert_eq!(uuids.len(), 1, "{}", run.stdout);
    let path = out.path().join(format!("{}.mp4", uuids[0]));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path:?}: {e}: {run:?}"));
    assert!(is_iso_media(&bytes), "an MP4 file");
    let sent = h.posts_with("videoInference");
    assert_eq!(sent.len(), 1, "the video is sent once");
    assert!(sent[0].body.contains("\"async\""), "{}", sent[0].body);
    assert!(
        sent[0].body.contains("klingai:kling-video@2.6-standard"),
        "the spec's default model: {}",
        sent[0].body
    );
    assert!(!h.posts_with("getResponse").is_empty(), "polled");
}

#[tokio::test(flavor = "multi_thread")]
async fn video_format_picks_the_extension() {
    let h = quick().await;
    let out = tempfile::tempdir().expect("tempdir");
    let run = h
        .run(&[
            "video",
            "--prompt",
            "a lantern drifting",
            "--format",
            "mov",
            "--width",
            "320",
            "--height",
            "240",
            "--duration",
            "1",
            "--out",
            &dir_arg(&out),
        ])
        .await;
    run.assert_code(0);
    let names = files(out.path());
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].ends_with(".mov"), "{names:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_wait_then_poll_wait_out_picks_the_job_up() {
    let h = quick().await;
    let ack = h
        .run(&["video", "--prompt", "a heron taking off", "--no-wait"])
        .await;
    ack.assert_code(0);
    let job = ack.json();
    let task_uuid = job["taskUUID"].as_str().expect("taskUUID").to_owned();
    assert_eq!(job["taskType"], "videoInference");
    assert_eq!(job["expectedResults"], 1);
    assert!(ack.stderr.contains("runware poll"), "{}", ack.stderr);

    let out = tempfile::tempdir().expect("tempdir");
    let poll = h
        .run(&["poll", &task_uuid, "--wait", "--out", &dir_arg(&out)])
        .await;
    poll.assert_code(0);
    let uuids = strings(&poll, "videoUUID");
    assert_eq!(uuids.len(), 1, "{}", poll.stdout);
    let bytes = std::fs::read(out.path().join(format!("{}.mp4", uuids[0]))).expect("saved");
    assert!(is_iso_media(&bytes));
    assert_eq!(
        h.posts_with("videoInference").len(),
        1,
        "resuming sends nothing again"
    );
    assert_eq!(h.emulator.executions(&task_uuid), 1, "run once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_video_error_item_exits_1_with_the_code_on_stdout() {
    let h = Harness::start_with(|b| {
        b.video_processing(Duration::ZERO).fault(
            FaultRule::new(Fault::TaskError {
                code: "timeoutProvider".into(),
            })
            .task_type("videoInference")
            .first_requests(1),
        )
    })
    .await;
    let run = h.run(&["video", "--prompt", "a storm at sea"]).await;
    run.assert_code(1);
    assert!(run.stdout.contains("timeoutProvider"), "{}", run.stdout);
    assert!(run.stderr.contains("timeoutProvider"), "{}", run.stderr);
    assert_eq!(h.posts_with("videoInference").len(), 1, "not resent");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_video_that_never_finishes_exits_3_within_the_timeout() {
    let h = Harness::start_with(|b| {
        b.video_processing(Duration::ZERO)
            .fault(FaultRule::new(Fault::NeverFinish).task_type("videoInference"))
    })
    .await;
    // A first run fills the compiled-code cache, so the timed run measures the waiting.
    h.run(&["account"]).await.assert_code(0);
    let run = h
        .run(&["--timeout", "3", "video", "--prompt", "an endless river"])
        .await;
    run.assert_code(3);
    // Start-up and the submission come on top of the 3 s of waiting.
    assert!(
        run.elapsed < Duration::from_secs(10),
        "took {:?}",
        run.elapsed
    );
    let json = run.json();
    assert!(json["data"].is_array(), "what arrived is printed: {json}");
    assert!(run.stderr.contains("runware poll"), "{}", run.stderr);
    assert!(
        h.posts_with("getResponse").len() >= 2,
        "polled on the schedule"
    );
}

/// A loopback HTTP listener that answers 200 to everything and hands each request's body over.
async fn hook_listener() -> (String, mpsc::UnboundedReceiver<(String, String)>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                // Headers, then as much body as Content-Length says.
                let (head_end, length) = loop {
                    let n = conn.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
                        let length = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        break (i + 4, length);
                    }
                };
                while buf.len() < head_end + length {
                    let n = conn.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let request_line = String::from_utf8_lossy(&buf[..head_end])
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                let body = String::from_utf8_lossy(&buf[head_end..]).into_owned();
                let _ = conn
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
                let _ = tx.send((request_line, body));
            });
        }
    });
    (url, rx)
}

#[tokio::test(flavor = "multi_thread")]
async fn webhooks_get_a_post_per_result() {
    let h = quick().await;
    let (url, mut hooks) = hook_listener().await;
    let run = h
        .run(&[
            "video",
            "--prompt",
            "two kites",
            "--width",
            "320",
            "--height",
            "240",
            "--duration",
            "1",
            "--number-results",
            "2",
            "--webhook",
            &url,
        ])
        .await;
    run.assert_code(0);
    let videos = strings(&run, "videoUUID");
    assert_eq!(videos.len(), 2, "{}", run.stdout);
    let mut delivered = Vec::new();
    while delivered.len() < videos.len() {
        let (line, body) = tokio::time::timeout(WAIT, hooks.recv())
            .await
            .expect("a webhook POST within the wait")
            .expect("the listener runs");
        assert!(line.starts_with("POST /hook"), "{line}");
        let json: Value = serde_json::from_str(&body).expect("a JSON body");
        let text = json.to_string();
        if let Some(v) = videos.iter().find(|v| text.contains(v.as_str()))
            && !delivered.contains(v)
        {
            delivered.push(v.clone());
        }
    }
    assert!(
        h.posts_with("videoInference")[0]
            .body
            .contains(&format!("\"webhookURL\":\"{url}\"")),
        "the task carried webhookURL"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_local_image_is_inlined_as_a_frame_image() {
    let h = quick().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let png = local_png(&h, &tmp).await;
    let run = h
        .run(&[
            "video",
            "--prompt",
            "the kite flies away",
            "--image",
            &png,
            "--width",
            "320",
            "--height",
            "240",
            "--duration",
            "1",
        ])
        .await;
    run.assert_code(0);
    let sent = &h.posts_with("videoInference")[0].body;
    assert!(sent.contains("data:image/png;base64,"), "inlined: {sent}");
    assert!(sent.contains("\"first\""), "the first frame: {sent}");
    assert!(!sent.contains(&png), "the path is never sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn insufficient_credits_exit_1_with_the_code() {
    let h = Harness::start_with(|b| b.balance(0.0)).await;
    let run = h.run(&["video", "--prompt", "an expensive sunset"]).await;
    run.assert_code(1);
    assert!(run.stdout.contains("insufficientCredits"), "{}", run.stdout);
    let account = h.run(&["account"]).await;
    account.assert_code(0);
    assert_eq!(account.data()[0]["balance"]["amount"], 0.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_input_file_exits_2_naming_flag_and_path_before_sending() {
    let h = Harness::start().await;
    let missing = "/nonexistent/dir/frame.png";
    for args in [
        &["video", "--prompt", "x y", "--image", missing][..],
        &["video", "--prompt", "x y", "--reference", missing][..],
        &["upscale", "--image", missing][..],
        &["caption", "--video", missing][..],
        &["upload", missing][..],
    ] {
        let run = h.run(args).await;
        run.assert_code(2);
        let flag = args[args.len() - 2];
        let flag = if flag.starts_with("--") {
            flag
        } else {
            "upload"
        };
        assert!(run.stderr.contains(flag), "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(missing), "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
    }
    assert!(h.posts().is_empty(), "nothing was sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_prints_the_video_task_and_sends_nothing() {
    let h = Harness::start().await;
    let run = h
        .run(&[
            "video",
            "--prompt",
            "a quiet pond",
            "--fps",
            "24",
            "--include-cost",
            "--ttl",
            "120",
            "--extra-json",
            r#"{"providerSettings":{"x":1}}"#,
            "--dry-run",
        ])
        .await;
    run.assert_code(0);
    let task = &run.json()[0];
    assert_eq!(task["taskType"], "videoInference");
    assert_eq!(task["deliveryMethod"], "async");
    assert_eq!(task["fps"], 24);
    assert_eq!(task["includeCost"], true);
    assert_eq!(task["ttl"], 120);
    assert_eq!(task["providerSettings"]["x"], 1);
    assert!(h.posts().is_empty());
    let bad = h
        .run(&["video", "--prompt", "x y", "--extra-json", "[1]"])
        .await;
    bad.assert_code(2);
    assert!(bad.stderr.contains("--extra-json"), "{}", bad.stderr);
}

// ---------------------------------------------------------------------------------------------
// audio

#[tokio::test(flavor = "multi_thread")]
async fn audio_from_a_prompt_and_speech_are_saved() {
    let h = Harness::start().await;
    let out = tempfile::tempdir().expect("tempdir");
    let music = h
        .run(&[
            "audio",
            "--prompt",
            "a calm piano",
            "--duration",
            "10",
            "--format",
            "wav",
            "--out",
            &dir_arg(&out),
        ])
        .await;
    music.assert_code(0);
    let uuid = strings(&music, "audioUUID").pop().expect("audioUUID");
    let bytes = std::fs::read(out.path().join(format!("{uuid}.wav"))).expect("saved as .wav");
    assert!(bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WAVE"));

    let speech = h
        .run(&[
            "audio",
            "--speech",
            "hello from the emulator",
            "--voice",
            "Aria",
            "--async",
            "--out",
            &dir_arg(&out),
        ])
        .await;
    speech.assert_code(0);
    assert_eq!(strings(&speech, "audioUUID").len(), 1, "{}", speech.stdout);
    assert_eq!(files(out.path()).len(), 2);
    let sent = &h.posts_with("audioInference")[1].body;
    assert!(sent.contains("minimax:speech@2.8"), "{sent}");

    let usage = h.run(&["audio", "--duration", "10"]).await;
    usage.assert_code(2);
}

// ---------------------------------------------------------------------------------------------
// the tools

#[tokio::test(flavor = "multi_thread")]
async fn the_image_tools_work_on_a_local_file() {
    let h = Harness::start().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let png = local_png(&h, &tmp).await;
    let out = tempfile::tempdir().expect("tempdir");

    let up = h
        .run(&[
            "upscale",
            "--image",
            &png,
            "--factor",
            "2",
            "--out",
            &dir_arg(&out),
        ])
        .await;
    up.assert_code(0);
    assert_eq!(up.data()[0]["taskType"], "upscale");

    let rb = h
        .run(&[
            "remove-background",
            "--image",
            &png,
            "--format",
            "png",
            "--out",
            &dir_arg(&out),
        ])
        .await;
    rb.assert_code(0);
    let rb_uuid = strings(&rb, "imageUUID").pop().expect("imageUUID");
    let bytes = std::fs::read(out.path().join(format!("{rb_uuid}.png"))).expect("saved as png");
    assert!(bytes.starts_with(b"\x89PNG"));

    let cap = h
        .run(&[
            "caption",
            "--image",
            &png,
            "--prompt",
            "what is it",
            "--out",
            &dir_arg(&out),
        ])
        .await;
    cap.assert_code(0);
    assert!(
        !strings(&cap, "text").is_empty(),
        "the caption is in the JSON"
    );
    assert_eq!(files(out.path()).len(), 2, "a caption is not a file");
    for t in ["upscale", "removeBackground", "caption"] {
        let sent = &h.posts_with(t)[0].body;
        assert!(sent.contains("data:image/png;base64,"), "{t}: inlined");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tool_on_a_video_runs_async() {
    let h = quick().await;
    let video = h
        .run(&[
            "video",
            "--prompt",
            "a short clip",
            "--width",
            "320",
            "--height",
            "240",
            "--duration",
            "1",
        ])
        .await;
    video.assert_code(0);
    let video_uuid = strings(&video, "videoUUID").pop().expect("videoUUID");
    let out = tempfile::tempdir().expect("tempdir");
    let run = h
        .run(&["upscale", "--video", &video_uuid, "--out", &dir_arg(&out)])
        .await;
    run.assert_code(0);
    let sent = &h.posts_with("upscale")[0].body;
    assert!(sent.contains("\"async\""), "{sent}");
    assert!(sent.contains("bytedance:50@1"), "{sent}");
    assert!(!files(out.path()).is_empty(), "{run:?}");
}

// ---------------------------------------------------------------------------------------------
// uploads, prompts, the account

#[tokio::test(flavor = "multi_thread")]
async fn upload_prints_the_uuid_and_picks_the_task_by_kind() {
    let h = Harness::start().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let png = local_png(&h, &tmp).await;
    let image = h.run(&["upload", &png]).await;
    image.assert_code(0);
    let uuid = strings(&image, "imageUUID").pop().expect("imageUUID");
    assert!(image.stderr.contains(&uuid), "{}", image.stderr);
    assert_eq!(h.posts_with("imageUpload").len(), 1);

    let wav = tmp.path().join("note.wav");
    let audio = h
        .run(&[
            "audio",
            "--prompt",
            "one note",
            "--duration",
            "10",
            "--format",
            "wav",
            "--out",
            &dir_arg(&tmp),
        ])
        .await;
    audio.assert_code(0);
    let saved = strings(&audio, "audioUUID").pop().expect("audioUUID");
    std::fs::rename(tmp.path().join(format!("{saved}.wav")), &wav).expect("rename");
    let media = h.run(&["upload", &wav.to_string_lossy()]).await;
    media.assert_code(0);
    assert_eq!(h.posts_with("mediaStorage").len(), 1, "{}", media.stdout);
    let uuid = strings(&media, "mediaUUID").pop().expect("mediaUUID");
    assert!(media.stderr.contains(&uuid), "{}", media.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn enhance_prompt_returns_the_versions() {
    let h = Harness::start().await;
    let run = h
        .run(&[
            "enhance-prompt",
            "--prompt",
            "a cat on a roof",
            "--versions",
            "2",
        ])
        .await;
    run.assert_code(0);
    assert_eq!(strings(&run, "text").len(), 2, "{}", run.stdout);
    let out_of_range = h
        .run(&["enhance-prompt", "--prompt", "a cat", "--versions", "9"])
        .await;
    out_of_range.assert_code(2);
}

#[tokio::test(flavor = "multi_thread")]
async fn account_shows_the_balance_a_task_lowered() {
    let h = Harness::start_with(|b| b.balance(50.0)).await;
    let before = h.run(&["account"]).await;
    before.assert_code(0);
    assert_eq!(before.data()[0]["balance"]["amount"], 50.0);
    assert!(before.stderr.contains("balance 50.00"), "{}", before.stderr);
    h.run(&["enhance-prompt", "--prompt", "a billed prompt"])
        .await
        .assert_code(0);
    let after = h.run(&["account"]).await;
    let amount = after.data()[0]["balance"]["amount"]
        .as_f64()
        .expect("amount");
    assert!(amount < 50.0, "billed: {}", after.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_large_local_video_is_uploaded_first_and_sent_by_uuid() {
    let h = quick().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let video = h
        .run(&[
            "video",
            "--prompt",
            "a long pan over hills",
            "--out",
            &dir_arg(&tmp),
        ])
        .await;
    video.assert_code(0);
    let uuid = strings(&video, "videoUUID").pop().expect("videoUUID");
    let path = tmp.path().join(format!("{uuid}.mp4"));
    let size = std::fs::metadata(&path).expect("saved").len();
    assert!(
        size > runware_host::spec::INLINE_INPUT_MAX_BYTES,
        "the default video ({size} bytes) must be over the inline limit for this test"
    );
    let out = tempfile::tempdir().expect("tempdir");
    let run = h
        .run(&[
            "upscale",
            "--video",
            &path.to_string_lossy(),
            "--out",
            &dir_arg(&out),
        ])
        .await;
    run.assert_code(0);
    let uploads = h.posts_with("mediaStorage");
    assert_eq!(uploads.len(), 1, "uploaded once");
    let upload_uuid = run.data()[0]["inputVideoUUID"]
        .as_str()
        .map(str::to_owned)
        .expect("inputVideoUUID");
    assert!(
        run.stderr.contains(&upload_uuid),
        "the upload is reported: {}",
        run.stderr
    );
    let sent = &h.posts_with("upscale")[0].body;
    assert!(sent.contains(&upload_uuid), "sent by its UUID: {sent}");
    assert!(!sent.contains("base64"), "not inlined");
    assert_eq!(files(out.path()).len(), 1, "the upscaled video is saved");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_poll_keeps_the_videos_earlier_polls_brought() {
    // Three videos, due at 1, 2 and 3 s; the CLI polls at about 1, 2.5 and 4.75 s. Once the
    // second poll is in (two videos received), every later getResponse fails with HTTP 503.
    let h = Harness::start_with(|b| b.video_processing(Duration::from_secs(3))).await;
    h.run(&["account"]).await.assert_code(0);
    let out = tempfile::tempdir().expect("tempdir");
    let out_arg = dir_arg(&out);
    let args = [
        "--max-retries",
        "0",
        "video",
        "--prompt",
        "three paper boats",
        "--number-results",
        "3",
        "--width",
        "160",
        "--height",
        "128",
        "--duration",
        "1",
        "--out",
        &out_arg,
    ];
    let run = h.run(&args);
    let break_polls = async {
        let deadline = tokio::time::Instant::now() + WAIT;
        while h.posts_with("getResponse").len() < 2 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the CLI never polled twice"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        h.emulator.add_fault(
            FaultRule::new(Fault::HttpStatus {
                status: 503,
                retry_after: None,
            })
            .task_type("getResponse"),
        );
    };
    let (run, ()) = tokio::join!(run, break_polls);
    run.assert_code(3);
    let videos = strings(&run, "videoUUID");
    assert!(
        !videos.is_empty(),
        "the videos received are printed: {}",
        run.stdout
    );
    let saved = files(out.path());
    assert_eq!(saved.len(), videos.len(), "and saved: {saved:?}");
    assert!(
        run.stderr.contains("503") || run.stderr.contains("serviceUnavailable"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_is_named_by_what_its_bytes_are_not_by_what_was_asked() {
    // The emulator answers an MP3 request with WAV bytes (it has no MP3 encoder).
    let h = quick().await;
    let out = tempfile::tempdir().expect("tempdir");
    let out_arg = dir_arg(&out);
    let run = h
        .run(&[
            "audio",
            "--prompt",
            "a calm piano melody",
            "--duration",
            "10",
            "--format",
            "mp3",
            "--out",
            &out_arg,
        ])
        .await;
    run.assert_code(0);
    let saved = files(out.path());
    assert_eq!(saved.len(), 1, "{saved:?}");
    assert!(
        saved[0].ends_with(".wav"),
        "WAV bytes are saved as .wav: {saved:?}"
    );
}
