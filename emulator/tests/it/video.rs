//! videoInference over REST: async only, validation, progress rising to success, injected
//! errors in both shapes, a video that never finishes, and the video file itself.

use std::io::Cursor;
use std::time::{Duration, Instant};

use runware_emulator::{EmulatorHandle, Fault, FaultRule};
use serde_json::{Value, json};

use crate::common::*;

fn video_task(uuid: &str) -> Value {
    json!({
        "taskType": "videoInference",
        "taskUUID": uuid,
        "deliveryMethod": "async",
        "model": "klingai:kling-video@2.6-standard",
        "positivePrompt": "a paper boat on a stream",
        "width": 320,
        "height": 240,
        "duration": 1,
        "fps": 12,
        "seed": 42,
        "includeCost": true,
    })
}

async fn poll(emu: &EmulatorHandle, key: &str, id: &str) -> Value {
    post_task(emu, key, json!({"taskType": "getResponse", "taskUUID": id}))
        .await
        .json()
}

/// Polls until `done` holds for the answer (or panics after `limit`), returning every answer.
async fn poll_until(
    emu: &EmulatorHandle,
    key: &str,
    id: &str,
    limit: Duration,
    done: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    let start = Instant::now();
    let mut seen = Vec::new();
    loop {
        let v = poll(emu, key, id).await;
        let finished = done(&v);
        seen.push(v);
        if finished {
            return seen;
        }
        assert!(
            start.elapsed() < limit,
            "not done after {limit:?}: {seen:?}"
        );
        // A poll interval, not a synchronisation: the condition is re-checked each time.
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

async fn get(emu: &EmulatorHandle, url: &str) -> Answer {
    let path = url.split_once(&emu.addr().to_string()).unwrap().1;
    request(emu, "GET", path, &[], "").await.unwrap()
}

#[tokio::test]
async fn sync_video_is_refused_naming_delivery_method() {
    let key = test_key();
    let emu = start(&key).await;
    for delivery in [json!(null), json!("sync")] {
        let id = tid();
        let a = post_task(
            &emu,
            &key,
            with(video_task(&id), json!({"deliveryMethod": delivery})),
        )
        .await;
        assert_eq!(a.status, 400);
        let e = only_error(&a);
        assert_eq!(e["code"], "invalidDeliveryMethod", "{e}");
        assert_eq!(e["parameter"], "deliveryMethod");
        assert_eq!(e["taskUUID"], id.as_str());
        assert_eq!(emu.executions(&id), 0);
    }
}

#[tokio::test]
async fn invalid_duration_carries_parameter_min_and_max() {
    let key = test_key();
    let emu = start(&key).await;
    for bad in [json!(0), json!(61), json!("long")] {
        let a = post_task(
            &emu,
            &key,
            with(video_task(&tid()), json!({"duration": bad})),
        )
        .await;
        let e = only_error(&a);
        assert_eq!(e["code"], "invalidDuration", "{e}");
        assert_eq!(e["parameter"], "duration");
        assert_eq!((e["min"].clone(), e["max"].clone()), (json!(1), json!(60)));
    }
    let cases = [
        (json!({"width": 321}), "invalidWidth"),
        (json!({"height": 100}), "invalidHeight"),
        (json!({"fps": 61}), "invalidFps"),
        (json!({"numberResults": 5}), "invalidNumberResults"),
        (json!({"model": "kling"}), "invalidModel"),
        (json!({"model": null}), "missingModel"),
        (json!({"outputFormat": "AVI"}), "invalidOutputFormat"),
        (json!({"outputFormat": "WEBM"}), "unsupportedOutputFormat"),
        (json!({"outputType": "base64Data"}), "invalidOutputType"),
        (
            json!({"inputs": {"frameImages": [{"inputImage": "nope", "frame": "first"}]}}),
            "invalidFrameImages",
        ),
    ];
    for (extra, code) in cases {
        let a = post_task(&emu, &key, with(video_task(&tid()), extra.clone())).await;
        assert_eq!(only_error(&a)["code"], code, "{extra}");
    }
}

#[tokio::test]
async fn progress_rises_then_success_with_a_real_video() {
    let key = test_key();
    let emu = builder(&key)
        .video_processing(Duration::from_millis(800))
        .start()
        .await
        .unwrap();
    let id = tid();
    let ack = post_task(
        &emu,
        &key,
        with(video_task(&id), json!({"numberResults": 2})),
    )
    .await;
    assert_eq!(ack.status, 200);
    assert_eq!(
        ack.json(),
        json!({"data": [{"taskType": "videoInference", "taskUUID": id}]})
    );
    let seen = poll_until(&emu, &key, &id, Duration::from_secs(10), |v| {
        v["data"]
            .as_array()
            .is_some_and(|d| d.len() == 2 && d.iter().all(|i| i["status"] == "success"))
    })
    .await;
    let progress: Vec<u64> = seen
        .iter()
        .flat_map(|v| v["data"].as_array().cloned().unwrap_or_default())
        .filter(|i| i["status"] == "processing")
        .map(|i| {
            i["progress"]
                .as_u64()
                .expect("processing items carry progress")
        })
        .collect();
    assert!(!progress.is_empty(), "never saw processing: {seen:?}");
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    assert!(progress.iter().all(|p| *p <= 99));
    assert!(
        progress.first() < progress.last(),
        "progress did not rise: {progress:?}"
    );
    let last = seen.last().unwrap();
    for item in last["data"].as_array().unwrap() {
        assert_eq!(item["taskType"], "videoInference");
        assert_eq!(item["taskUUID"], id.as_str());
        assert!(item["videoUUID"].is_string());
        assert!(item["cost"].as_f64().unwrap() > 0.0);
        assert!(item.get("progress").is_none(), "{item}");
        let url = item["videoURL"].as_str().unwrap();
        assert!(url.ends_with(".mp4"), "{url}");
        let file = get(&emu, url).await;
        assert_eq!(file.status, 200);
        assert_eq!(file.headers["content-type"], "video/mp4");
        check_video(&file.bytes, 320, 240, 12, 12);
    }
    assert_eq!(emu.executions(&id), 1);
}

/// Parses the video in-process (the `mp4` crate), and with ffprobe when it is installed.
fn check_video(bytes: &[u8], w: u16, h: u16, fps: u32, frames: u32) {
    let size = bytes.len() as u64;
    let mp4 = mp4::Mp4Reader::read_header(Cursor::new(bytes.to_vec()), size).unwrap();
    let track = mp4.tracks().values().next().unwrap();
    assert_eq!(track.media_type().unwrap(), mp4::MediaType::H264);
    assert_eq!((track.width(), track.height()), (w, h));
    assert_eq!(track.sample_count(), frames);
    assert_eq!(
        track.duration().as_millis(),
        u128::from(frames) * 1000 / u128::from(fps)
    );
    let probe = std::process::Command::new("ffprobe")
        .arg("-version")
        .output();
    if probe.is_err() {
        println!("note: ffprobe is not on PATH; the video was checked in-process only");
        return;
    }
    let path = std::env::temp_dir().join(format!("emu-video-{}.mp4", uuid::Uuid::new_v4()));
    std::fs::write(&path, bytes).unwrap();
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=codec_name,width,height,nb_read_frames,r_frame_rate",
            "-of",
            "json",
        ])
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "decoder complained: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &v["streams"][0];
    assert_eq!(s["codec_name"], "h264");
    assert_eq!(
        (s["width"].as_u64(), s["height"].as_u64()),
        (Some(u64::from(w)), Some(u64::from(h)))
    );
    assert_eq!(s["nb_read_frames"], frames.to_string());
    assert_eq!(s["r_frame_rate"], format!("{fps}/1"));
}

#[tokio::test]
async fn same_seed_and_prompt_give_the_same_bytes_and_mov_is_served_as_quicktime() {
    let key = test_key();
    let emu = builder(&key)
        .video_processing(Duration::ZERO)
        .start()
        .await
        .unwrap();
    let mut files = Vec::new();
    for extra in [
        json!({}),
        json!({}),
        json!({"seed": 43}),
        json!({"outputFormat": "mov"}),
    ] {
        let id = tid();
        post_task(&emu, &key, with(video_task(&id), extra)).await;
        let v = poll(&emu, &key, &id).await;
        let item = &v["data"][0];
        assert_eq!(item["status"], "success", "{v}");
        let file = get(&emu, item["videoURL"].as_str().unwrap()).await;
        files.push((file.headers["content-type"].clone(), file.bytes));
    }
    assert_eq!(files[0].1, files[1].1);
    assert_ne!(files[0].1, files[2].1);
    assert_eq!(files[3].0, "video/quicktime");
    check_video(&files[3].1, 320, 240, 12, 12);
}

#[tokio::test]
async fn injected_error_arrives_in_both_shapes() {
    let key = test_key();
    let emu = builder(&key)
        .video_processing(Duration::ZERO)
        .fault(
            FaultRule::new(Fault::TaskError {
                code: "timeoutProvider".into(),
            })
            .task_type("videoInference"),
        )
        .start()
        .await
        .unwrap();
    let id = tid();
    let ack = post_task(&emu, &key, video_task(&id)).await;
    assert_eq!(ack.json()["data"][0]["taskUUID"], id.as_str());
    emu.clear_faults();
    let v = poll(&emu, &key, &id).await;
    let top = &v["errors"][0];
    assert_eq!(top["code"], "timeoutProvider", "{v}");
    assert_eq!(top["taskUUID"], id.as_str());
    assert_eq!(top["status"], "error");
    let item = &v["data"][0];
    assert_eq!(item["status"], "error", "{v}");
    assert_eq!(item["taskUUID"], id.as_str());
    assert_eq!(item["taskType"], "videoInference");
    assert_eq!(item["error"]["code"], "timeoutProvider");
    assert!(item["error"]["message"].is_string());
    assert_eq!(emu.executions(&id), 1);
}

#[tokio::test]
async fn a_never_finishing_video_stays_processing() {
    let key = test_key();
    let emu = builder(&key)
        .video_processing(Duration::ZERO)
        .fault(FaultRule::new(Fault::NeverFinish).task_type("videoInference"))
        .start()
        .await
        .unwrap();
    // The fault targets video only: an image in the same emulator finishes.
    let img = tid();
    let a = post_task(
        &emu,
        &key,
        with(image_task(&img), json!({"deliveryMethod": "async"})),
    )
    .await;
    assert_eq!(a.status, 200);
    let id = tid();
    post_task(&emu, &key, video_task(&id)).await;
    for _ in 0..3 {
        let v = poll(&emu, &key, &id).await;
        assert_eq!(v["data"][0]["status"], "processing", "{v}");
        assert_eq!(v["data"][0]["progress"], 99, "{v}");
    }
    let v = poll(&emu, &key, &img).await;
    assert_eq!(v["data"][0]["status"], "success", "{v}");
    let log = emu.request_log();
    assert!(
        log.iter()
            .any(|e| e.fault.as_deref() == Some("neverFinish"))
    );
}

#[tokio::test]
async fn the_video_delay_is_an_admin_setting() {
    let key = test_key();
    let emu = builder(&key)
        .video_processing(Duration::from_secs(3600))
        .start()
        .await
        .unwrap();
    let id = tid();
    post_task(&emu, &key, video_task(&id)).await;
    let v = poll(&emu, &key, &id).await;
    assert_eq!(v["data"][0]["status"], "processing");
    assert_eq!(v["data"][0]["progress"], 0);
    let a = request(&emu, "PUT", "/__emulator/video-delay", &[], r#"{"ms":0}"#)
        .await
        .unwrap();
    assert_eq!(a.json(), json!({"videoDelayMs": 0}));
    let v = poll(&emu, &key, &id).await;
    assert_eq!(v["data"][0]["status"], "success", "{v}");
}

#[tokio::test]
async fn the_image_tools_take_a_video_input_async_only() {
    let key = test_key();
    let emu = builder(&key)
        .video_processing(Duration::ZERO)
        .start()
        .await
        .unwrap();
    let id = tid();
    post_task(&emu, &key, with(video_task(&id), json!({"duration": 7}))).await;
    let v = poll(&emu, &key, &id).await;
    let video_uuid = v["data"][0]["videoUUID"].as_str().unwrap().to_string();
    let video_url = v["data"][0]["videoURL"].as_str().unwrap().to_string();

    // Sync is refused.
    let a = post_task(
        &emu,
        &key,
        json!({"taskType": "upscale", "taskUUID": tid(), "model": "bytedance:50@1", "inputs": {"video": video_uuid}}),
    )
    .await;
    assert_eq!(only_error(&a)["code"], "invalidDeliveryMethod");

    let run = |task: Value| {
        let emu = &emu;
        let key = &key;
        async move {
            let id = task["taskUUID"].as_str().unwrap().to_string();
            let ack = post_task(emu, key, task).await;
            assert_eq!(ack.status, 200, "{}", ack.json());
            let v = poll(emu, key, &id).await;
            assert_eq!(v["data"][0]["status"], "success", "{v}");
            v["data"][0].clone()
        }
    };
    let up = run(json!({"taskType": "upscale", "taskUUID": tid(), "deliveryMethod": "async", "model": "bytedance:50@1", "upscaleFactor": 2, "inputs": {"video": video_url}})).await;
    assert_eq!(up["inputVideoUUID"], video_uuid.as_str());
    let file = get(&emu, up["videoURL"].as_str().unwrap()).await;
    check_video(&file.bytes, 640, 480, 12, 84);

    let bg = run(json!({"taskType": "removeBackground", "taskUUID": tid(), "deliveryMethod": "async", "model": "bria:51@1", "inputs": {"video": video_uuid}})).await;
    let file = get(&emu, bg["videoURL"].as_str().unwrap()).await;
    check_video(&file.bytes, 320, 240, 12, 84);

    let cap = run(json!({"taskType": "caption", "taskUUID": tid(), "deliveryMethod": "async", "inputs": {"video": video_uuid}})).await;
    let text = cap["text"].as_str().unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with("[0] (0-6): "), "{text}");
    assert!(lines[1].starts_with("[1] (6-7): "), "{text}");

    let a = post_task(
        &emu,
        &key,
        json!({"taskType": "caption", "taskUUID": tid(), "deliveryMethod": "async", "inputs": {"video": tid()}}),
    )
    .await;
    assert_eq!(only_error(&a)["code"], "invalidVideo");
}
