//! `mediaStorage`: upload, use by UUID, delete, then not found.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use crate::common::*;

fn path_of(emu: &runware_emulator::EmulatorHandle, url: &str) -> String {
    url.split_once(&emu.addr().to_string())
        .unwrap()
        .1
        .to_string()
}

async fn storage(emu: &runware_emulator::EmulatorHandle, key: &str, task: Value) -> Answer {
    post_task(
        emu,
        key,
        with(json!({"taskType": "mediaStorage", "taskUUID": tid()}), task),
    )
    .await
}

#[tokio::test]
async fn upload_use_delete_then_not_found() {
    let key = test_key();
    let emu = start(&key).await;
    let png = png_bytes(40, 30);
    let a = storage(
        &emu,
        &key,
        json!({"operation": "upload", "media": format!("data:image/png;base64,{}", B64.encode(&png))}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.json());
    let item = a.json()["data"][0].clone();
    assert_eq!(item["taskType"], "mediaStorage");
    assert_eq!(item["operation"], "upload");
    let id = item["mediaUUID"].as_str().unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok());
    let url = item["mediaURL"].as_str().unwrap().to_string();
    assert!(url.ends_with(&format!("/media/{id}.png")), "{url}");

    // Served at mediaURL.
    let got = request(&emu, "GET", &path_of(&emu, &url), &[], "")
        .await
        .unwrap();
    assert_eq!(got.status, 200);
    assert_eq!(got.headers["content-type"], "image/png");
    assert_eq!(got.bytes.as_ref(), png.as_slice());

    // Usable as an input by its UUID and by its URL.
    for input in [id.clone(), url.clone()] {
        let up = post_task(
            &emu,
            &key,
            json!({"taskType": "upscale", "taskUUID": tid(), "inputs": {"image": input}, "upscaleFactor": 2}),
        )
        .await;
        assert_eq!(up.status, 200, "{}", up.json());
        assert!(up.json()["data"][0]["imageUUID"].is_string());
    }

    // Deleted: gone everywhere.
    let d = storage(&emu, &key, json!({"operation": "delete", "mediaUUID": id})).await;
    assert_eq!(d.status, 200, "{}", d.json());
    assert_eq!(
        d.json()["data"][0],
        json!({"taskType": "mediaStorage", "taskUUID": d.json()["data"][0]["taskUUID"], "operation": "delete", "mediaUUID": id})
    );
    let got = request(&emu, "GET", &path_of(&emu, &url), &[], "")
        .await
        .unwrap();
    assert_eq!(got.status, 404);
    assert_eq!(got.json()["errors"][0]["code"], "mediaNotFound");
    let again = storage(&emu, &key, json!({"operation": "delete", "mediaUUID": id})).await;
    assert_eq!(again.status, 404);
    let e = only_error(&again);
    assert_eq!(
        (e["code"].as_str(), e["parameter"].as_str()),
        (Some("mediaNotFound"), Some("mediaUUID"))
    );
    let use_it = post_task(
        &emu,
        &key,
        json!({"taskType": "upscale", "taskUUID": tid(), "inputs": {"image": id}}),
    )
    .await;
    assert_eq!(use_it.status, 400);
    assert_eq!(only_error(&use_it)["parameter"], "inputs.image");
}

#[tokio::test]
async fn any_media_kind_and_held_images() {
    let key = test_key();
    let emu = start(&key).await;
    // Base64 of a WAV header: stored as audio, served with its type.
    let mut wav = b"RIFF\x24\0\0\0WAVEfmt ".to_vec();
    wav.extend_from_slice(&[0; 24]);
    let a = storage(
        &emu,
        &key,
        json!({"operation": "upload", "media": B64.encode(&wav)}),
    )
    .await;
    let item = a.json()["data"][0].clone();
    let url = item["mediaURL"].as_str().unwrap();
    assert!(url.ends_with(".wav"), "{url}");
    let got = request(&emu, "GET", &path_of(&emu, url), &[], "")
        .await
        .unwrap();
    assert_eq!(got.headers["content-type"], "audio/wav");
    assert_eq!(got.bytes.as_ref(), wav.as_slice());

    // An image the emulator generated, by UUID: copied under a new mediaUUID.
    let generated = post_task(&emu, &key, image_task(&tid())).await;
    let image_uuid = generated.json()["data"][0]["imageUUID"]
        .as_str()
        .unwrap()
        .to_string();
    let a = storage(
        &emu,
        &key,
        json!({"operation": "upload", "media": image_uuid}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.json());
    assert_ne!(a.json()["data"][0]["mediaUUID"], image_uuid.as_str());
    // Delete takes the UUID as `media` too.
    let id = a.json()["data"][0]["mediaUUID"]
        .as_str()
        .unwrap()
        .to_string();
    let d = storage(&emu, &key, json!({"operation": "delete", "media": id})).await;
    assert_eq!(d.status, 200, "{}", d.json());
}

#[tokio::test]
async fn validation_errors_name_the_parameter() {
    let key = test_key();
    let emu = start(&key).await;
    for (task, code, param) in [
        (json!({"media": "x"}), "missingOperation", "operation"),
        (
            json!({"operation": "move", "media": "x"}),
            "invalidOperation",
            "operation",
        ),
        (json!({"operation": "upload"}), "missingMedia", "media"),
        (
            json!({"operation": "upload", "media": 7}),
            "invalidMedia",
            "media",
        ),
        (
            json!({"operation": "upload", "media": "https://example.com/cat.png"}),
            "invalidMedia",
            "media",
        ),
        (
            json!({"operation": "upload", "media": "%%% not base64"}),
            "invalidMedia",
            "media",
        ),
        (
            json!({"operation": "delete"}),
            "missingMediaUUID",
            "mediaUUID",
        ),
        (
            json!({"operation": "delete", "mediaUUID": "nope"}),
            "invalidMediaUUID",
            "mediaUUID",
        ),
        (
            json!({"operation": "delete", "mediaUUID": tid()}),
            "mediaNotFound",
            "mediaUUID",
        ),
    ] {
        let a = storage(&emu, &key, task.clone()).await;
        assert!(a.status == 400 || a.status == 404, "{task}: {}", a.status);
        let e = only_error(&a);
        assert_eq!(e["code"], code, "{task}: {e}");
        assert_eq!(e["parameter"], param, "{task}");
        assert_eq!(e["taskType"], "mediaStorage");
    }
}
