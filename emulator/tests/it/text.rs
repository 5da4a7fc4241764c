//! `textInference` (sync and async, no streaming), the SDK 1.8.0 forms of the image tools with
//! their default models, and faults on the new task types.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use runware_emulator::{Emulator, Fault, FaultRule};
use serde_json::{Value, json};

use crate::common::*;

fn text_task(id: &str) -> Value {
    json!({
        "taskType": "textInference",
        "taskUUID": id,
        "model": "openai:gpt@5-mini",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Name a colour of the sea"},
        ],
        "settings": {"maxTokens": 200, "temperature": 0.7},
        "includeCost": true,
    })
}

#[tokio::test]
async fn sync_reply_is_deterministic_with_usage_and_cost() {
    let key = test_key();
    let emu = start(&key).await;
    let id = tid();
    let a = post_task(&emu, &key, text_task(&id)).await;
    assert_eq!(a.status, 200, "{}", a.json());
    let item = a.json()["data"][0].clone();
    assert_eq!(item["taskType"], "textInference");
    assert_eq!(item["taskUUID"], id.as_str());
    let text = item["text"].as_str().unwrap();
    assert!(text.contains("Name a colour of the sea"), "{text}");
    assert_eq!(item["finishReason"], "stop");
    let u = &item["usage"];
    let (p, c, t) = (
        u["promptTokens"].as_u64().unwrap(),
        u["completionTokens"].as_u64().unwrap(),
        u["totalTokens"].as_u64().unwrap(),
    );
    assert_eq!(p, 9, "words of every message");
    assert_eq!(c, text.split_whitespace().count() as u64);
    assert_eq!(t, p + c);
    assert!(item["cost"].as_f64().unwrap() > 0.0);
    // The same messages get the same reply.
    let b = post_task(&emu, &key, text_task(&tid())).await;
    assert_eq!(b.json()["data"][0]["text"], text);
    // Content as a list of parts, and a cut at maxTokens.
    let c = post_task(
        &emu,
        &key,
        with(
            text_task(&tid()),
            json!({"messages": [{"role": "user", "content": [{"type": "text", "text": "Name a colour of the sea"}]}], "settings": {"maxTokens": 5}}),
        ),
    )
    .await;
    let item = &c.json()["data"][0];
    assert_eq!(item["finishReason"], "length");
    assert_eq!(item["usage"]["completionTokens"], 5);
    assert_eq!(item["text"].as_str().unwrap().split_whitespace().count(), 5);
}

#[tokio::test]
async fn async_then_get_response() {
    let key = test_key();
    let emu = start(&key).await;
    let id = tid();
    let a = post_task(
        &emu,
        &key,
        with(text_task(&id), json!({"deliveryMethod": "async"})),
    )
    .await;
    assert_eq!(
        a.json()["data"][0],
        json!({"taskType": "textInference", "taskUUID": id})
    );
    let p = post_task(
        &emu,
        &key,
        json!({"taskType": "getResponse", "taskUUID": id}),
    )
    .await;
    let item = &p.json()["data"][0];
    assert_eq!(item["status"], "success");
    assert_eq!(item["taskType"], "textInference");
    assert!(item["text"].as_str().unwrap().contains("colour"));
    assert_eq!(emu.executions(&id), 1);
}

#[tokio::test]
async fn stream_and_bad_requests_are_refused() {
    let key = test_key();
    let emu = start(&key).await;
    for (extra, code, param) in [
        (
            json!({"deliveryMethod": "stream"}),
            "unsupportedDeliveryMethod",
            "deliveryMethod",
        ),
        (json!({"model": null}), "missingModel", "model"),
        (json!({"messages": null}), "missingMessages", "messages"),
        (json!({"messages": []}), "invalidMessages", "messages"),
        (
            json!({"messages": [{"role": "robot", "content": "hi"}]}),
            "invalidMessages",
            "messages",
        ),
        (
            json!({"messages": [{"role": "user", "content": 3}]}),
            "invalidMessages",
            "messages",
        ),
        (
            json!({"settings": {"temperature": 9}}),
            "invalidTemperature",
            "temperature",
        ),
        (
            json!({"settings": {"maxTokens": 0}}),
            "invalidMaxTokens",
            "maxTokens",
        ),
    ] {
        let a = post_task(&emu, &key, with(text_task(&tid()), extra.clone())).await;
        assert_eq!(a.status, 400, "{extra}");
        let e = only_error(&a);
        assert_eq!(e["code"], code, "{extra}: {e}");
        assert_eq!(e["parameter"], param, "{extra}");
    }
}

#[tokio::test]
async fn faults_reach_the_new_task_types_sync_and_async() {
    let key = test_key();
    let emu = start(&key).await;
    emu.add_fault(
        FaultRule::new(Fault::TaskError {
            code: "inferenceError".into(),
        })
        .task_type("textInference"),
    );
    let a = post_task(&emu, &key, text_task(&tid())).await;
    assert_eq!(a.status, 500);
    assert_eq!(only_error(&a)["code"], "inferenceError");
    let id = tid();
    let a = post_task(
        &emu,
        &key,
        with(text_task(&id), json!({"deliveryMethod": "async"})),
    )
    .await;
    assert_eq!(a.status, 200);
    let p = post_task(
        &emu,
        &key,
        json!({"taskType": "getResponse", "taskUUID": id}),
    )
    .await;
    assert_eq!(p.json()["errors"][0]["code"], "inferenceError");
    assert_eq!(p.json()["errors"][0]["status"], "error");
    let before = emu.balance();
    assert!(before > 0.0);
    emu.clear_faults();

    // An HTTP fault aimed at mediaStorage, and one aimed at accountManagement.
    for task_type in ["mediaStorage", "accountManagement"] {
        emu.add_fault(
            FaultRule::new(Fault::HttpStatus {
                status: 503,
                retry_after: None,
            })
            .task_type(task_type)
            .first_requests(1),
        );
        let task = match task_type {
            "mediaStorage" => {
                json!({"taskType": task_type, "taskUUID": tid(), "operation": "upload", "media": B64.encode(png_bytes(4, 4))})
            }
            _ => json!({"taskType": task_type, "taskUUID": tid(), "operation": "getDetails"}),
        };
        assert_eq!(
            post_task(&emu, &key, task.clone()).await.status,
            503,
            "{task_type}"
        );
        assert_eq!(post_task(&emu, &key, task).await.status, 200, "{task_type}");
        emu.clear_faults();
    }
    // Failed tasks are not billed.
    assert!((emu.balance() - runware_emulator::DEFAULT_BALANCE).abs() < 1e-9);
}

/// The forms runware-sdk 1.8.0 sends for the image tools, with the curated default models.
#[tokio::test]
async fn sdk_forms_of_the_image_tools() {
    let key = test_key();
    // Rendered (not placeholder) images, so that the outputs are real transforms.
    let emu = Emulator::builder().api_key(&key).start().await.unwrap();
    let input = format!("data:image/png;base64,{}", B64.encode(png_bytes(64, 48)));
    let run = |task: Value| {
        let emu = &emu;
        let key = &key;
        async move {
            let a = post_task(emu, key, task).await;
            assert_eq!(a.status, 200, "{}", a.json());
            a.json()["data"].as_array().unwrap().clone()
        }
    };
    let fetch = |url: String| {
        let emu = &emu;
        async move {
            let path = url
                .split_once(&emu.addr().to_string())
                .unwrap()
                .1
                .to_string();
            request(emu, "GET", &path, &[], "").await.unwrap().bytes
        }
    };

    let up = run(json!({"taskType": "upscale", "taskUUID": tid(), "model": "runware:504@1", "inputs": {"image": input}, "upscaleFactor": 4, "outputFormat": "PNG", "includeCost": true, "ttl": 3600, "routing": {}})).await;
    let bytes = fetch(up[0]["imageURL"].as_str().unwrap().to_string()).await;
    let img = image::load_from_memory(&bytes).unwrap();
    assert_eq!((img.width(), img.height()), (256, 192));
    assert!(up[0]["cost"].as_f64().unwrap() > 0.0);

    for format in ["PNG", "WEBP"] {
        let rb = run(json!({"taskType": "removeBackground", "taskUUID": tid(), "model": "runware:112@5", "inputs": {"image": input}, "outputFormat": format})).await;
        let bytes = fetch(rb[0]["imageURL"].as_str().unwrap().to_string()).await;
        let img = image::load_from_memory(&bytes).unwrap();
        assert!(img.color().has_alpha(), "{format} keeps an alpha channel");
    }
    let rb = run(json!({"taskType": "removeBackground", "taskUUID": tid(), "model": "runware:112@5", "inputs": {"image": input}})).await;
    assert!(
        rb[0]["imageURL"].as_str().unwrap().ends_with(".png"),
        "PNG by default"
    );

    let cap = run(json!({"taskType": "caption", "taskUUID": tid(), "model": "runware:152@2", "inputs": {"image": input}, "prompt": "Describe it"})).await;
    assert!(cap[0]["text"].as_str().unwrap().len() > 3);

    let pe = run(json!({"taskType": "promptEnhance", "taskUUID": tid(), "model": "runware:llama-3-1-8b@prompt-enhancer", "prompt": "a paper boat", "promptVersions": 3, "promptMaxLength": 64})).await;
    assert_eq!(pe.len(), 3);

    // The defaults are in the catalogue, by category.
    for (category, air) in [
        ("upscale", "runware:504@1"),
        ("removeBackground", "runware:112@5"),
        ("caption", "runware:152@2"),
        ("promptEnhance", "runware:llama-3-1-8b@prompt-enhancer"),
        ("textInference", "openai:gpt@5-mini"),
    ] {
        let a = post_task(&emu, &key, json!({"taskType": "modelSearch", "taskUUID": tid(), "category": category, "limit": 100})).await;
        assert_eq!(a.status, 200, "{}", a.json());
        let results = a.json()["data"][0]["results"].as_array().unwrap().clone();
        assert!(results.iter().any(|m| m["air"] == air), "{category}: {air}");
        assert!(results.iter().all(|m| m["category"] == category));
    }
}
