//! Seeded random tasks (wrong types, odd values, random task types) never get a 500, a panic or
//! a dropped connection: every answer is Runware-shaped JSON.

use crate::common::*;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

const TASK_TYPES: &[&str] = &[
    "imageInference",
    "modelSearch",
    "imageUpload",
    "upscale",
    "imageUpscale",
    "removeBackground",
    "imageBackgroundRemoval",
    "caption",
    "imageCaption",
    "promptEnhance",
    "getResponse",
    "getTaskDetails",
    "ping",
    "authentication",
    "videoInference",
    "",
];
const FIELDS: &[&str] = &[
    "positivePrompt",
    "negativePrompt",
    "model",
    "width",
    "height",
    "steps",
    "CFGScale",
    "numberResults",
    "seed",
    "outputType",
    "outputFormat",
    "outputQuality",
    "deliveryMethod",
    "includeCost",
    "safety",
    "checkNSFW",
    "image",
    "inputImage",
    "inputs",
    "upscaleFactor",
    "prompt",
    "promptVersions",
    "promptMaxLength",
    "limit",
    "offset",
    "tags",
    "category",
    "architecture",
    "search",
    "visibility",
    "lora",
    "apiKey",
];

fn random_value(rng: &mut SmallRng, depth: u32) -> Value {
    match rng.random_range(0..if depth > 1 { 7 } else { 9 }) {
        0 => Value::Null,
        1 => json!(rng.random::<bool>()),
        2 => json!(rng.random_range(-5i64..5000)),
        3 => json!(rng.random::<f64>() * 100.0 - 10.0),
        4 => json!(
            [
                "URL",
                "png",
                "WEBP",
                "async",
                "runware:101@1",
                "x",
                "",
                "data:image/png;base64,AAAA"
            ][rng.random_range(0..8)]
        ),
        5 => json!(i64::MAX),
        6 => json!(uuid::Uuid::new_v4().to_string()),
        7 => Value::Array(
            (0..rng.random_range(0..3))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        _ => {
            let mut o = serde_json::Map::new();
            for _ in 0..rng.random_range(0..3) {
                o.insert(
                    FIELDS[rng.random_range(0..FIELDS.len())].into(),
                    random_value(rng, depth + 1),
                );
            }
            Value::Object(o)
        }
    }
}

fn random_task(rng: &mut SmallRng) -> Value {
    let tt = TASK_TYPES[rng.random_range(0..TASK_TYPES.len())];
    let mut task = if tt == "imageInference" && rng.random_bool(0.5) {
        image_task(&tid())
    } else {
        json!({"taskType": tt, "taskUUID": tid()})
    };
    for _ in 0..rng.random_range(0..4) {
        let field = FIELDS[rng.random_range(0..FIELDS.len())];
        task[field] = random_value(rng, 0);
    }
    if rng.random_bool(0.05) {
        task = random_value(rng, 0);
    }
    task
}

#[tokio::test]
async fn random_tasks_always_get_runware_shaped_answers() {
    let key = test_key();
    let emu = start(&key).await;
    let mut rng = SmallRng::seed_from_u64(0x5eed);
    for round in 0..150 {
        let tasks: Vec<Value> = (0..rng.random_range(1..4))
            .map(|_| random_task(&mut rng))
            .collect();
        let body = Value::Array(tasks);
        let a = request(
            &emu,
            "POST",
            "/v1",
            &[("authorization", &format!("Bearer {key}"))],
            body.to_string(),
        )
        .await
        .unwrap_or_else(|e| panic!("round {round}: dropped ({e}) for {body}"));
        assert!(a.status < 500, "round {round}: {} for {body}", a.status);
        let v = a.json();
        assert!(
            v.get("data").is_some() || v.get("errors").is_some(),
            "round {round}: {v}"
        );
        for e in v
            .get("errors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            assert!(
                e["code"].is_string() && e["message"].is_string(),
                "round {round}: {e}"
            );
        }
    }
    // Still healthy.
    assert_eq!(
        post_task(&emu, &key, json!({"taskType": "ping"}))
            .await
            .status,
        200
    );
    emu.stop().await;
}
