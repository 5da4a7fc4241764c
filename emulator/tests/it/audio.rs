//! audioInference over REST: prompt + duration or speech, WAV and FLAC, output types, sync and
//! async, validation.

use std::io::Cursor;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::common::*;

fn audio_task(uuid: &str) -> Value {
    json!({
        "taskType": "audioInference",
        "taskUUID": uuid,
        "model": "minimax:music@2.6",
        "positivePrompt": "rain on a tin roof",
        "duration": 10,
        "outputFormat": "WAV",
        "seed": 5,
        "includeCost": true,
    })
}

#[tokio::test]
async fn music_is_a_wav_of_the_requested_duration_and_deterministic() {
    let key = test_key();
    let emu = start(&key).await;
    let mut bodies = Vec::new();
    for _ in 0..2 {
        let id = tid();
        let a = post_task(&emu, &key, audio_task(&id)).await;
        assert_eq!(a.status, 200, "{}", a.json());
        let item = a.json()["data"][0].clone();
        assert_eq!(item["taskUUID"], id.as_str());
        assert!(item["audioUUID"].is_string());
        assert_eq!(item["seed"], 5);
        assert!(item["cost"].as_f64().unwrap() > 0.0);
        let url = item["audioURL"].as_str().unwrap();
        assert!(url.ends_with(".wav"), "{url}");
        let path = url.split_once(&emu.addr().to_string()).unwrap().1;
        let file = request(&emu, "GET", path, &[], "").await.unwrap();
        assert_eq!(file.headers["content-type"], "audio/wav");
        let wav = hound::WavReader::new(Cursor::new(file.bytes.to_vec())).unwrap();
        let secs = f64::from(wav.duration()) / f64::from(wav.spec().sample_rate);
        assert!((secs - 10.0).abs() < 1e-6, "{secs}");
        bodies.push(file.bytes);
    }
    assert_eq!(bodies[0], bodies[1]);
}

#[tokio::test]
async fn speech_flac_and_inline_outputs() {
    let key = test_key();
    let emu = start(&key).await;
    let id = tid();
    let task = json!({
        "taskType": "audioInference",
        "taskUUID": id,
        "model": "minimax:speech@2.8",
        "speech": {"text": "Hello from the emulator.", "voice": "narrator"},
        "outputFormat": "FLAC",
        "outputType": ["base64Data", "dataURI"],
    });
    let a = post_task(&emu, &key, task).await;
    let item = a.json()["data"][0].clone();
    let b64 = item["audioBase64Data"].as_str().expect("base64");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    assert_eq!(&bytes[..4], b"fLaC");
    assert!(
        item["audioDataURI"]
            .as_str()
            .unwrap()
            .starts_with("data:audio/flac;base64,")
    );
    assert!(item.get("audioURL").is_none());
}

#[tokio::test]
async fn mp3_is_served_as_honest_wav_and_async_works() {
    let key = test_key();
    let emu = start(&key).await;
    let id = tid();
    let a = post_task(
        &emu,
        &key,
        with(
            audio_task(&id),
            json!({"outputFormat": "MP3", "deliveryMethod": "async"}),
        ),
    )
    .await;
    assert_eq!(
        a.json()["data"][0],
        json!({"taskType": "audioInference", "taskUUID": id})
    );
    let v = post_task(
        &emu,
        &key,
        json!({"taskType": "getResponse", "taskUUID": id}),
    )
    .await
    .json();
    let item = &v["data"][0];
    assert_eq!(item["status"], "success", "{v}");
    assert!(item["audioURL"].as_str().unwrap().ends_with(".wav"));
}

#[tokio::test]
async fn invalid_duration_and_missing_prompt() {
    let key = test_key();
    let emu = start(&key).await;
    for bad in [json!(9), json!(301)] {
        let a = post_task(
            &emu,
            &key,
            with(audio_task(&tid()), json!({"duration": bad})),
        )
        .await;
        let e = only_error(&a);
        assert_eq!(e["code"], "invalidDuration", "{e}");
        assert_eq!(e["parameter"], "duration");
        assert_eq!(
            (e["min"].clone(), e["max"].clone()),
            (json!(10), json!(300))
        );
    }
    let a = post_task(
        &emu,
        &key,
        with(audio_task(&tid()), json!({"positivePrompt": null})),
    )
    .await;
    assert_eq!(only_error(&a)["code"], "missingPositivePrompt");
    let a = post_task(
        &emu,
        &key,
        with(audio_task(&tid()), json!({"outputFormat": "AAC"})),
    )
    .await;
    assert_eq!(only_error(&a)["code"], "invalidOutputFormat");
}
