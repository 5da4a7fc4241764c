//! REST behaviour of the emulator: authentication, the envelope, every imageInference
//! validation error, outputs, async delivery, the other task types and malformed requests.

use std::time::Duration;

use crate::common::*;
use base64::Engine as _;
use runware_emulator::{AuthKind, Emulator, ImageMode};
use serde_json::{Value, json};

#[tokio::test]
async fn bearer_and_auth_task_authenticate_and_bad_keys_are_rejected() {
    let key = test_key();
    let emu = start(&key).await;
    // Bearer.
    let a = post_task(&emu, &key, json!({"taskType":"ping","ping":true})).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json(), json!({"data":[{"taskType":"ping","pong":true}]}));
    // Leading authentication task, no header: produces no data item.
    let body = json!([{"taskType":"authentication","apiKey":key},{"taskType":"ping","ping":true}]);
    let a = request(&emu, "POST", "/v1", &[], body.to_string())
        .await
        .unwrap();
    assert_eq!(a.status, 200);
    assert_eq!(a.json(), json!({"data":[{"taskType":"ping","pong":true}]}));
    // No key.
    let a = request(
        &emu,
        "POST",
        "/v1",
        &[],
        json!([{"taskType":"ping"}]).to_string(),
    )
    .await
    .unwrap();
    assert_eq!(a.status, 401);
    let e = only_error(&a);
    assert_eq!(e["code"], "missingApiKey");
    assert_eq!(e["parameter"], "apiKey");
    assert_eq!(e["taskType"], "authentication");
    assert!(e.get("taskUUID").is_none());
    // Unknown key, both ways: exactly the documented shape.
    let expected = json!({"errors":[{"code":"invalidApiKey","message":"Invalid API key. Get one at https://my.runware.ai/signup","parameter":"apiKey","taskType":"authentication"}]});
    let wrong = test_key();
    let a = post_task(&emu, &wrong, json!({"taskType":"ping"})).await;
    assert_eq!((a.status, a.json()), (401, expected.clone()));
    let body = json!([{"taskType":"authentication","apiKey":wrong},{"taskType":"ping"}]);
    let a = request(&emu, "POST", "/v1", &[], body.to_string())
        .await
        .unwrap();
    assert_eq!((a.status, a.json()), (401, expected));
    // The log records the auth kind and validity, never the key.
    let log = emu.request_log();
    assert_eq!(log.len(), 5);
    assert_eq!(log[0].auth, AuthKind::Bearer);
    assert!(log[0].key_valid);
    assert_eq!(log[1].auth, AuthKind::Task);
    assert!(log[1].body.contains("[REDACTED]"));
    assert_eq!(log[2].auth, AuthKind::None);
    assert!(!log[3].key_valid);
    let dump = serde_json::to_string(&log).unwrap();
    assert!(
        !dump.contains(&key) && !dump.contains(&wrong),
        "a key leaked into the log"
    );
    emu.stop().await;
}

#[tokio::test]
async fn without_configured_keys_any_non_empty_key_is_accepted() {
    let emu = Emulator::builder()
        .image_mode(ImageMode::Placeholder)
        .start()
        .await
        .unwrap();
    let a = post_task(&emu, "whatever-the-user-has", json!({"taskType":"ping"})).await;
    assert_eq!(a.status, 200);
    let a = request(&emu, "POST", "/v1", &[("authorization", "Bearer ")], "[]")
        .await
        .unwrap();
    assert_eq!(a.status, 401);
    assert_eq!(only_error(&a)["code"], "missingApiKey");
    emu.stop().await;
}

#[tokio::test]
async fn image_inference_produces_n_distinct_items_with_outputs() {
    let key = test_key();
    let emu = start(&key).await;
    let id = tid();
    let task = with(
        image_task(&id),
        json!({"numberResults": 3, "seed": 42, "outputFormat": "png", "includeCost": true}),
    );
    let a = post_task(&emu, &key, task).await;
    assert_eq!(a.status, 200);
    let v = a.json();
    let items = v["data"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    let mut uuids = std::collections::HashSet::new();
    for (i, item) in items.iter().enumerate() {
        assert_eq!(item["taskType"], "imageInference");
        assert_eq!(item["taskUUID"], id.as_str());
        assert_eq!(item["seed"], 42 + i as u64);
        assert!(item.get("status").is_none(), "sync items carry no status");
        assert!(item.get("NSFWContent").is_none());
        assert!(item["cost"].as_f64().unwrap() > 0.0);
        let url = item["imageURL"].as_str().unwrap();
        assert!(
            url.starts_with(&format!("http://{}/images/", emu.addr())) && url.ends_with(".png"),
            "{url}"
        );
        assert!(uuids.insert(item["imageUUID"].as_str().unwrap().to_string()));
        let path = url.split_once(&emu.addr().to_string()).unwrap().1;
        let img = request(&emu, "GET", path, &[], "").await.unwrap();
        assert_eq!(img.status, 200);
        assert_eq!(img.headers["content-type"], "image/png");
    }
    assert_eq!(emu.executions(&id), 1);
    // No cost without includeCost, random 32-bit seeds without a seed, inline outputs.
    let task = with(
        image_task(&tid()),
        json!({"numberResults": 2, "outputType": "base64Data", "safety": {"checkContent": true}}),
    );
    let v = post_task(&emu, &key, task).await.json();
    let items = v["data"].as_array().unwrap();
    assert!(items[0].get("cost").is_none());
    assert_eq!(items[0]["NSFWContent"], false);
    assert!(items[0].get("imageURL").is_none());
    assert!(items[0]["imageBase64Data"].is_string());
    assert!(items[0]["seed"].as_u64().unwrap() <= u32::MAX as u64);
    assert_ne!(items[0]["imageUUID"], items[1]["imageUUID"]);
    let task = with(
        image_task(&tid()),
        json!({"outputType": "dataURI", "outputFormat": "WebP", "checkNSFW": true}),
    );
    let v = post_task(&emu, &key, task).await.json();
    assert!(
        v["data"][0]["imageDataURI"]
            .as_str()
            .unwrap()
            .starts_with("data:image/webp;base64,")
    );
    assert_eq!(v["data"][0]["NSFWContent"], false);
    let task = with(
        image_task(&tid()),
        json!({"safety": {"mode": "none", "checkContent": true}}),
    );
    let v = post_task(&emu, &key, task).await.json();
    assert!(
        v["data"][0].get("NSFWContent").is_none(),
        "mode none wins over checkContent"
    );
    emu.stop().await;
}

#[tokio::test]
async fn rendered_images_are_real_pictures_of_the_requested_size() {
    let key = test_key();
    let emu = Emulator::builder().api_key(&key).start().await.unwrap();
    let task = with(
        image_task(&tid()),
        json!({"width": 128, "height": 192, "outputType": "base64Data", "outputFormat": "PNG", "seed": 7}),
    );
    let v = post_task(&emu, &key, task).await.json();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(v["data"][0]["imageBase64Data"].as_str().unwrap())
        .unwrap();
    if bytes.is_empty() {
        eprintln!("render::render is still a stub; skipping the content check");
    } else {
        let img = image::load_from_memory(&bytes).expect("a decodable image");
        assert_eq!((img.width(), img.height()), (128, 192));
    }
    emu.stop().await;
}

/// Every imageInference validation error: (override, code, parameter, extra checks).
#[tokio::test]
async fn every_image_inference_validation_error() {
    let key = test_key();
    let emu = start(&key).await;
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"positivePrompt": null}),
            "missingPositivePrompt",
            "positivePrompt",
        ),
        (
            json!({"positivePrompt": "a"}),
            "invalidPositivePrompt",
            "positivePrompt",
        ),
        (
            json!({"positivePrompt": "x".repeat(3001)}),
            "invalidPositivePrompt",
            "positivePrompt",
        ),
        (
            json!({"positivePrompt": 12}),
            "invalidPositivePrompt",
            "positivePrompt",
        ),
        (
            json!({"negativePrompt": "n"}),
            "invalidNegativePrompt",
            "negativePrompt",
        ),
        (json!({"model": null}), "missingModel", "model"),
        (json!({"model": "flux-dev"}), "invalidModel", "model"),
        (json!({"model": 101}), "invalidModel", "model"),
        (json!({"width": null}), "missingWidth", "width"),
        (json!({"width": 500}), "invalidWidth", "width"),
        (json!({"width": 64}), "invalidWidth", "width"),
        (json!({"width": 4096}), "invalidWidth", "width"),
        (json!({"width": "512"}), "invalidWidth", "width"),
        (json!({"height": null}), "missingHeight", "height"),
        (json!({"height": 100}), "invalidHeight", "height"),
        (json!({"steps": 0}), "invalidSteps", "steps"),
        (json!({"steps": 101}), "invalidSteps", "steps"),
        (json!({"CFGScale": 51}), "invalidCFGScale", "CFGScale"),
        (json!({"CFGScale": "7"}), "invalidCFGScale", "CFGScale"),
        (
            json!({"numberResults": 0}),
            "invalidNumberResults",
            "numberResults",
        ),
        (
            json!({"numberResults": 21}),
            "invalidNumberResults",
            "numberResults",
        ),
        (
            json!({"outputQuality": 19}),
            "invalidOutputQuality",
            "outputQuality",
        ),
        (
            json!({"outputQuality": 100}),
            "invalidOutputQuality",
            "outputQuality",
        ),
        (
            json!({"outputType": "file"}),
            "invalidOutputType",
            "outputType",
        ),
        (json!({"outputType": 3}), "invalidOutputType", "outputType"),
        (
            json!({"outputFormat": "gif"}),
            "invalidOutputFormat",
            "outputFormat",
        ),
        (json!({"seed": 0}), "invalidSeed", "seed"),
        (json!({"seed": "42"}), "invalidSeed", "seed"),
        (json!({"clipSkip": 3}), "invalidClipSkip", "clipSkip"),
        (json!({"strength": 1.5}), "invalidStrength", "strength"),
        (json!({"scheduler": 5}), "invalidScheduler", "scheduler"),
        (json!({"vae": "not an air"}), "invalidVae", "vae"),
        (
            json!({"includeCost": "yes"}),
            "invalidIncludeCost",
            "includeCost",
        ),
        (
            json!({"deliveryMethod": "later"}),
            "invalidDeliveryMethod",
            "deliveryMethod",
        ),
        (json!({"checkNSFW": 1}), "invalidCheckNSFW", "checkNSFW"),
        (json!({"safety": "on"}), "invalidSafety", "safety"),
        (
            json!({"safety": {"mode": "paranoid"}}),
            "invalidMode",
            "mode",
        ),
    ];
    for (over, code, param) in cases {
        let id = tid();
        let a = post_task(&emu, &key, with(image_task(&id), over.clone())).await;
        assert_eq!(
            a.status,
            400,
            "{over}: {}",
            String::from_utf8_lossy(&a.bytes)
        );
        let e = only_error(&a);
        assert_eq!(e["code"], code, "{over}: {e}");
        assert_eq!(e["parameter"], param, "{over}: {e}");
        assert_eq!(e["taskUUID"], id.as_str(), "{over}");
        assert_eq!(e["taskType"], "imageInference", "{over}");
        assert!(
            e["message"].as_str().unwrap().contains(param),
            "{over}: {e}"
        );
        assert!(e["type"].is_string(), "{over}: {e}");
        assert!(
            e["documentation"]
                .as_str()
                .unwrap()
                .starts_with("https://runware.ai/docs/"),
            "{e}"
        );
        // Rejected tasks are not registered: the same taskUUID works once fixed.
        assert_eq!(emu.executions(&id), 0);
    }
    // The width error in full, in Runware's words.
    let id = tid();
    let e = only_error(&post_task(&emu, &key, with(image_task(&id), json!({"width": 500}))).await);
    assert_eq!(
        e,
        json!({
            "code": "invalidWidth",
            "message": "Invalid value for 'width' parameter. Image width must be an integer value between 128 and 2048, in multiples of '64'.",
            "parameter": "width", "type": "integer", "min": 128, "max": 2048, "multiplier": 64,
            "documentation": "https://runware.ai/docs/en/image-inference/api-reference#request-width",
            "taskUUID": id, "taskType": "imageInference",
        })
    );
    let a = post_task(&emu, &key, image_task(&id)).await;
    assert_eq!(a.status, 200, "a fixed task can reuse its taskUUID");
    // Lenient: unknown extra parameters and unknown (well-formed) models are accepted;
    // outputFormat is case-insensitive; a list of output types is accepted.
    let task = with(
        image_task(&tid()),
        json!({"model": "civitai:999999@1", "fancyNewParam": {"x": 1}, "outputFormat": "jPeG", "outputType": ["URL", "dataURI"]}),
    );
    let v = post_task(&emu, &key, task).await.json();
    assert!(v["data"][0]["imageURL"].as_str().unwrap().ends_with(".jpg"));
    assert!(v["data"][0]["imageDataURI"].is_string());
    emu.stop().await;
}

#[tokio::test]
async fn task_uuid_rules_and_independent_tasks() {
    let key = test_key();
    let emu = start(&key).await;
    // Missing and invalid taskUUID, unsupported and missing taskType.
    let mut t = image_task("x");
    t.as_object_mut().unwrap().remove("taskUUID");
    let e = only_error(&post_task(&emu, &key, t).await);
    assert_eq!(
        (e["code"].as_str(), e["parameter"].as_str()),
        (Some("missingTaskUUID"), Some("taskUUID"))
    );
    let e = only_error(&post_task(&emu, &key, image_task("not-a-uuid")).await);
    assert_eq!(e["code"], "invalidTaskUUID");
    // Any UUID version (v7 here) is accepted.
    let a = post_task(
        &emu,
        &key,
        image_task("019c42a0-c3ff-7138-8e2d-3c1f2a4b5c6d"),
    )
    .await;
    assert_eq!(a.status, 200);
    let id = tid();
    let e = only_error(
        &post_task(
            &emu,
            &key,
            json!({"taskType": "videoMagic", "taskUUID": id}),
        )
        .await,
    );
    assert_eq!(e["code"], "unsupportedTaskType");
    assert_eq!(e["taskUUID"], id.as_str());
    let e = only_error(&post_task(&emu, &key, json!({"taskUUID": id})).await);
    assert_eq!(e["code"], "missingTaskType");
    // Conflict: a reused taskUUID fails for that task only; the others in the batch succeed.
    let used = tid();
    assert_eq!(post_task(&emu, &key, image_task(&used)).await.status, 200);
    let fresh = tid();
    let a = post(
        &emu,
        &key,
        &json!([
            image_task(&used),
            image_task(&fresh),
            with(image_task(&tid()), json!({"width": 1}))
        ]),
    )
    .await;
    assert_eq!(a.status, 200, "mixed success and failure is 200");
    let v = a.json();
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    assert_eq!(v["data"][0]["taskUUID"], fresh.as_str());
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors[0]["code"], "conflictTaskUUID");
    assert_eq!(errors[0]["taskUUID"], used.as_str());
    assert_eq!(errors[1]["code"], "invalidWidth");
    assert_eq!(emu.executions(&used), 1);
    // A duplicate inside one request conflicts too.
    let dup = tid();
    let v = post(&emu, &key, &json!([image_task(&dup), image_task(&dup)]))
        .await
        .json();
    assert_eq!(v["errors"][0]["code"], "conflictTaskUUID");
    let log = emu.request_log();
    assert_eq!(log.last().unwrap().executed, vec![dup.clone()]);
    // Every task failed: the first error's class decides the status.
    let a = post_task(&emu, &key, image_task(&used)).await;
    assert_eq!(a.status, 400);
    let a = post_task(
        &emu,
        &key,
        json!({"taskType": "getResponse", "taskUUID": tid()}),
    )
    .await;
    assert_eq!(a.status, 404);
    assert_eq!(only_error(&a)["code"], "taskNotFound");
    // Tasks belong to the key: another key does not conflict.
    let emu2 = Emulator::builder()
        .image_mode(ImageMode::Placeholder)
        .start()
        .await
        .unwrap();
    let shared = tid();
    assert_eq!(
        post_task(&emu2, "key-a", image_task(&shared)).await.status,
        200
    );
    assert_eq!(
        post_task(&emu2, "key-b", image_task(&shared)).await.status,
        200
    );
    emu2.stop().await;
    emu.stop().await;
}

#[tokio::test]
async fn async_delivery_get_response_and_task_details() {
    let key = test_key();
    let emu = builder(&key)
        .async_processing(Duration::from_secs(3600))
        .start()
        .await
        .unwrap();
    let id = tid();
    let task = with(
        image_task(&id),
        json!({"deliveryMethod": "async", "numberResults": 2, "apiKey": "nested-secret"}),
    );
    let a = post_task(&emu, &key, task).await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.json(),
        json!({"data": [{"taskType": "imageInference", "taskUUID": id}]})
    );
    assert_eq!(emu.executions(&id), 1);
    let poll = json!({"taskType": "getResponse", "taskUUID": id});
    let v = post_task(&emu, &key, poll.clone()).await.json();
    let items = v["data"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    for item in items {
        assert_eq!(item["status"], "processing");
        assert_eq!(item["taskType"], "imageInference");
        assert!(item.get("imageUUID").is_none());
    }
    // Resending the async task conflicts (the client should poll instead).
    assert_eq!(
        only_error(
            &post_task(
                &emu,
                &key,
                with(image_task(&id), json!({"deliveryMethod": "async"}))
            )
            .await
        )["code"],
        "conflictTaskUUID"
    );
    // Once the processing time has passed: success items with outputs.
    emu.set_async_processing(Duration::ZERO);
    let id2 = tid();
    post_task(
        &emu,
        &key,
        with(
            image_task(&id2),
            json!({"deliveryMethod": "async", "numberResults": 2}),
        ),
    )
    .await;
    let v = post_task(
        &emu,
        &key,
        json!({"taskType": "getResponse", "taskUUID": id2}),
    )
    .await
    .json();
    let items = v["data"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    for item in items {
        assert_eq!(item["status"], "success");
        assert!(item["imageUUID"].is_string() && item["imageURL"].is_string());
    }
    // getResponse works for sync tasks too.
    let id3 = tid();
    post_task(&emu, &key, image_task(&id3)).await;
    let v = post_task(
        &emu,
        &key,
        json!({"taskType": "getResponse", "taskUUID": id3}),
    )
    .await
    .json();
    assert_eq!(v["data"][0]["status"], "success");
    // getTaskDetails: the original request (key redacted) and the response.
    let v = post_task(
        &emu,
        &key,
        json!({"taskType": "getTaskDetails", "taskUUID": id}),
    )
    .await
    .json();
    let d = &v["data"][0];
    assert_eq!(d["taskType"], "getTaskDetails");
    assert_eq!(d["taskUUID"], id.as_str());
    assert_eq!(d["request"][0]["taskUUID"], id.as_str());
    assert_eq!(d["request"][0]["apiKey"], "[REDACTED]");
    // Lowering the processing time also finished the first task.
    assert_eq!(d["response"]["data"][0]["status"], "success");
    assert_eq!(d["response"]["data"].as_array().unwrap().len(), 2);
    // Polling never counts as an execution.
    assert_eq!(emu.executions(&id), 1);
    emu.stop().await;
}

#[tokio::test]
async fn dry_run_validates_without_running() {
    let key = test_key();
    let emu = start(&key).await;
    let id = tid();
    let auth = format!("Bearer {key}");
    let body = json!([image_task(&id)]).to_string();
    let a = request(
        &emu,
        "POST",
        "/v1?sdk=js&version=1.3.2&dryRun=1",
        &[("authorization", &auth)],
        body.clone(),
    )
    .await
    .unwrap();
    assert_eq!(a.status, 200);
    assert_eq!(
        a.json(),
        json!({"data": [{"taskType": "imageInference", "taskUUID": id}]})
    );
    assert_eq!(emu.executions(&id), 0);
    let bad = json!([with(image_task(&tid()), json!({"steps": 1000}))]).to_string();
    let a = request(
        &emu,
        "POST",
        "/v1/?dryRun=true",
        &[("authorization", &auth)],
        bad,
    )
    .await
    .unwrap();
    assert_eq!(only_error(&a)["code"], "invalidSteps");
    // Trailing slash and unknown query parameters are fine.
    let a = request(
        &emu,
        "POST",
        "/v1/?sdk=js",
        &[("authorization", &auth)],
        body,
    )
    .await
    .unwrap();
    assert_eq!(a.status, 200);
    assert_eq!(emu.executions(&id), 1);
    emu.stop().await;
}

#[tokio::test]
async fn model_search_parses_and_validates() {
    let key = test_key();
    let emu = start(&key).await;
    let id = tid();
    let a = post_task(&emu, &key, json!({"taskType": "modelSearch", "taskUUID": id, "search": "flux", "limit": 5, "offset": 0, "tags": ["photorealistic"]})).await;
    assert_eq!(a.status, 200);
    let v = a.json();
    let d = &v["data"][0];
    assert_eq!(d["taskType"], "modelSearch");
    assert_eq!(d["taskUUID"], id.as_str());
    assert!(d["totalResults"].is_u64());
    assert!(d["results"].as_array().unwrap().len() <= 5);
    // Read-only tasks may be resent with the same taskUUID.
    assert_eq!(
        post_task(
            &emu,
            &key,
            json!({"taskType": "modelSearch", "taskUUID": id})
        )
        .await
        .status,
        200
    );
    for (over, code) in [
        (json!({"limit": 0}), "invalidLimit"),
        (json!({"limit": 101}), "invalidLimit"),
        (json!({"offset": -1}), "invalidOffset"),
        (json!({"category": "spaceship"}), "invalidCategory"),
        (json!({"architecture": "sd99"}), "invalidArchitecture"),
        (json!({"type": "weird"}), "invalidType"),
        (json!({"conditioning": "telepathy"}), "invalidConditioning"),
        (json!({"visibility": "secret"}), "invalidVisibility"),
        (json!({"tags": 5}), "invalidTags"),
        (json!({"search": 5}), "invalidSearch"),
    ] {
        let task = with(
            json!({"taskType": "modelSearch", "taskUUID": tid()}),
            over.clone(),
        );
        let e = only_error(&post_task(&emu, &key, task).await);
        assert_eq!(e["code"], code, "{over}");
        assert_eq!(e["taskType"], "modelSearch");
    }
    emu.stop().await;
}

#[tokio::test]
async fn image_tools_work_on_images_the_emulator_holds() {
    let key = test_key();
    let emu = start(&key).await;
    let png = png_bytes(64, 48);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&png);
    // Upload as a data URI, then as raw base64.
    let up = tid();
    let v = post_task(&emu, &key, json!({"taskType": "imageUpload", "taskUUID": up, "image": format!("data:image/png;base64,{b64}")})).await.json();
    let uploaded = v["data"][0]["imageUUID"].as_str().unwrap().to_string();
    let url = v["data"][0]["imageURL"].as_str().unwrap().to_string();
    let path = url
        .split_once(&emu.addr().to_string())
        .unwrap()
        .1
        .to_string();
    let got = request(&emu, "GET", &path, &[], "").await.unwrap();
    assert_eq!(
        got.bytes.as_ref(),
        png.as_slice(),
        "the uploaded image is served back"
    );
    let v = post_task(
        &emu,
        &key,
        json!({"taskType": "imageUpload", "taskUUID": tid(), "image": b64}),
    )
    .await
    .json();
    assert!(v["data"][0]["imageUUID"].is_string());
    let e = only_error(&post_task(&emu, &key, json!({"taskType": "imageUpload", "taskUUID": tid(), "image": "https://example.com/cat.png"})).await);
    assert_eq!(e["code"], "invalidImage");
    let e = only_error(
        &post_task(
            &emu,
            &key,
            json!({"taskType": "imageUpload", "taskUUID": tid()}),
        )
        .await,
    );
    assert_eq!(e["code"], "missingImage");
    // Old and new names of the tools, on a UUID, the emulator's own URL and a data URI.
    for (tt, input) in [
        ("upscale", uploaded.clone()),
        ("imageUpscale", url.clone()),
        ("removeBackground", format!("data:image/png;base64,{b64}")),
        ("imageBackgroundRemoval", uploaded.clone()),
    ] {
        let id = tid();
        let a = post_task(&emu, &key, json!({"taskType": tt, "taskUUID": id, "inputImage": input, "upscaleFactor": 2, "includeCost": true})).await;
        assert_eq!(a.status, 200, "{tt}: {}", String::from_utf8_lossy(&a.bytes));
        let d = &a.json()["data"][0];
        assert_eq!(d["taskType"], tt);
        assert_eq!(d["taskUUID"], id.as_str());
        assert!(
            d["imageUUID"].is_string()
                && d["inputImageUUID"].is_string()
                && d["imageURL"].is_string()
        );
        assert!(d["cost"].as_f64().unwrap() > 0.0);
    }
    let v = post_task(
        &emu,
        &key,
        json!({"taskType": "removeBackground", "taskUUID": tid(), "inputImage": uploaded}),
    )
    .await
    .json();
    assert!(
        v["data"][0]["imageURL"].as_str().unwrap().ends_with(".png"),
        "removeBackground defaults to PNG"
    );
    for tt in ["caption", "imageCaption"] {
        let v = post_task(
            &emu,
            &key,
            json!({"taskType": tt, "taskUUID": tid(), "inputImage": uploaded}),
        )
        .await
        .json();
        assert!(!v["data"][0]["text"].as_str().unwrap().is_empty());
    }
    let v = post_task(
        &emu,
        &key,
        json!({"taskType": "caption", "taskUUID": tid(), "inputs": {"image": uploaded}}),
    )
    .await
    .json();
    assert!(v["data"][0]["text"].is_string());
    let e = only_error(&post_task(&emu, &key, json!({"taskType": "upscale", "taskUUID": tid(), "inputImage": uuid::Uuid::new_v4().to_string()})).await);
    assert_eq!(e["code"], "invalidInputImage");
    let e = only_error(
        &post_task(
            &emu,
            &key,
            json!({"taskType": "upscale", "taskUUID": tid()}),
        )
        .await,
    );
    assert_eq!(e["code"], "missingInputImage");
    let e = only_error(&post_task(&emu, &key, json!({"taskType": "upscale", "taskUUID": tid(), "inputImage": uploaded, "upscaleFactor": 8})).await);
    assert_eq!(e["code"], "invalidUpscaleFactor");
    // promptEnhance: one item per version.
    let id = tid();
    let v = post_task(&emu, &key, json!({"taskType": "promptEnhance", "taskUUID": id, "prompt": "a cat", "promptVersions": 3, "promptMaxLength": 64})).await.json();
    let items = v["data"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert!(
        items
            .iter()
            .all(|i| i["taskUUID"] == id.as_str()
                && i["text"].as_str().unwrap().starts_with("a cat"))
    );
    for (over, code) in [
        (json!({"prompt": null}), "missingPrompt"),
        (json!({"prompt": "x".repeat(301)}), "invalidPrompt"),
        (json!({"promptVersions": 6}), "invalidPromptVersions"),
        (json!({"promptMaxLength": 5}), "invalidPromptMaxLength"),
    ] {
        let task = with(
            json!({"taskType": "promptEnhance", "taskUUID": tid(), "prompt": "a cat"}),
            over.clone(),
        );
        assert_eq!(
            only_error(&post_task(&emu, &key, task).await)["code"],
            code,
            "{over}"
        );
    }
    emu.stop().await;
}

#[tokio::test]
async fn malformed_requests_get_runware_shaped_errors() {
    let key = test_key();
    let emu = builder(&key).body_limit(64 * 1024).start().await.unwrap();
    let auth = format!("Bearer {key}");
    let h = [("authorization", auth.as_str())];
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (b"not json".to_vec(), 400, "invalidRequestBody"),
        (b"".to_vec(), 400, "invalidRequestBody"),
        (
            b"{\"taskType\":\"ping\"}".to_vec(),
            400,
            "invalidRequestBody",
        ),
        (b"[1, \"two\"]".to_vec(), 400, "invalidRequestBody"),
        (
            b"[{\"taskType\": 5, \"taskUUID\": \"x\"}]".to_vec(),
            400,
            "invalidTaskType",
        ),
        (vec![0xff, 0xfe, 0x00], 400, "invalidRequestBody"),
        (
            format!(
                "[{{\"taskType\":\"ping\",\"pad\":\"{}\"}}]",
                "x".repeat(100 * 1024)
            )
            .into_bytes(),
            413,
            "maxPayloadSizeExceeded",
        ),
    ];
    for (body, status, code) in cases {
        let a = request(&emu, "POST", "/v1", &h, body.clone())
            .await
            .expect("answered, not dropped");
        assert_eq!(
            a.status,
            status,
            "{}",
            String::from_utf8_lossy(&body[..body.len().min(40)])
        );
        let e = &a.json()["errors"][0];
        assert_eq!(e["code"], code);
        assert!(e["message"].as_str().unwrap().len() > 10);
    }
    // An empty array is fine.
    assert_eq!(
        request(&emu, "POST", "/v1", &h, "[]").await.unwrap().json(),
        json!({"data": []})
    );
    // Unknown routes and a plain GET /v1.
    let a = request(&emu, "GET", "/v2", &[], "").await.unwrap();
    assert_eq!(a.status, 404);
    assert!(a.json()["errors"][0]["code"].is_string());
    let a = request(&emu, "GET", "/v1", &[], "").await.unwrap();
    assert_eq!(a.status, 400);
    let a = request(&emu, "GET", "/images/nope.png", &[], "")
        .await
        .unwrap();
    assert_eq!(a.status, 404);
    // The server is still healthy.
    assert_eq!(
        request(&emu, "GET", "/__emulator/health", &[], "")
            .await
            .unwrap()
            .status,
        200
    );
    assert!(emu.request_log().iter().all(|r| r.status != 500));
    emu.stop().await;
}

#[tokio::test]
async fn the_default_body_limit_is_32_mib() {
    let key = test_key();
    let emu = start(&key).await;
    let auth = format!("Bearer {key}");
    let body = format!(
        "[{{\"taskType\":\"ping\",\"pad\":\"{}\"}}]",
        "x".repeat(33 * 1024 * 1024)
    );
    let a = request(&emu, "POST", "/v1", &[("authorization", &auth)], body)
        .await
        .expect("answered");
    assert_eq!(a.status, 413);
    assert_eq!(only_error(&a)["max"], 32 * 1024 * 1024);
    emu.stop().await;
}
