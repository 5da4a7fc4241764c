//! The remaining tools: `vectorize` (SVG), `imageMasking` (mask PNG and detections),
//! `controlNetPreprocess` (guide image) and `3dInference` (GLB). For each: a REST round trip sync
//! and async whose output is fetched and decoded, validation errors with their `parameter` (and
//! `min`/`max`), and billing exactly once.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use runware_emulator::EmulatorHandle;
use serde_json::{Value, json};

use crate::common::*;
use crate::listener::*;

/// A 96×64 grey image with a red square at x 24..56, y 16..48: one subject to find.
fn scene_png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(96, 64, |x, y| {
        if (24..56).contains(&x) && (16..48).contains(&y) {
            image::Rgb([220, 40, 40])
        } else {
            image::Rgb([120, 120, 120])
        }
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn data_uri(png: &[u8]) -> String {
    format!("data:image/png;base64,{}", B64.encode(png))
}

/// Uploads the scene and returns its imageUUID.
async fn upload(emu: &EmulatorHandle, key: &str) -> String {
    let a = post_task(
        emu,
        key,
        json!({"taskType": "imageUpload", "taskUUID": tid(), "image": data_uri(&scene_png())}),
    )
    .await;
    a.json()["data"][0]["imageUUID"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `GET` of a URL this emulator serves: (content type, body).
async fn fetch(emu: &EmulatorHandle, url: &str) -> (String, Vec<u8>) {
    let path = url
        .strip_prefix(&format!("http://{}", emu.addr()))
        .unwrap_or_else(|| panic!("{url} is served by the emulator"));
    let a = request(emu, "GET", path, &[], "").await.unwrap();
    assert_eq!(a.status, 200, "GET {url}");
    let ct = a.headers["content-type"].to_str().unwrap().to_string();
    (ct, a.bytes.to_vec())
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// Runs `task` sync then async (with fresh taskUUIDs, `includeCost`), checks each was executed
/// and billed once (a `getResponse` poll is free), and returns the two items: the sync answer's
/// and the async one as `getResponse` delivered it.
async fn round_trip(emu: &EmulatorHandle, key: &str, task: Value) -> (Value, Value) {
    let task = with(task, json!({"includeCost": true}));
    // Sync.
    let id = tid();
    let before = emu.balance();
    let a = post_task(emu, key, with(task.clone(), json!({"taskUUID": id}))).await;
    assert_eq!(a.status, 200, "{}", a.json());
    let sync = a.json()["data"][0].clone();
    assert_eq!(sync["taskUUID"], id.as_str());
    assert!(sync.get("status").is_none(), "sync items carry no status");
    let cost = sync["cost"].as_f64().unwrap();
    assert!(cost > 0.0, "{sync}");
    assert!(close(emu.balance(), before - cost), "billed its cost once");
    assert_eq!(emu.executions(&id), 1);
    // Async: acknowledged, then collected.
    let id = tid();
    let before = emu.balance();
    let a = post_task(
        emu,
        key,
        with(task, json!({"taskUUID": id, "deliveryMethod": "async"})),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.json());
    let tt = sync["taskType"].clone();
    assert_eq!(a.json()["data"][0], json!({"taskType": tt, "taskUUID": id}));
    let mut polled = Value::Null;
    for _ in 0..2 {
        let p = post_task(emu, key, json!({"taskType": "getResponse", "taskUUID": id})).await;
        polled = p.json()["data"][0].clone();
        assert_eq!(polled["status"], "success", "{polled}");
    }
    assert!(
        close(emu.balance(), before - polled["cost"].as_f64().unwrap()),
        "billed once, however often it is polled"
    );
    assert_eq!(emu.executions(&id), 1);
    (sync, polled)
}

/// The single error of `task`, asserted to be about `parameter` with `code`.
async fn refused(
    emu: &EmulatorHandle,
    key: &str,
    task: Value,
    code: &str,
    parameter: &str,
) -> Value {
    let before = emu.balance();
    let a = post_task(emu, key, task.clone()).await;
    assert_eq!(a.status, 400, "{task}: {}", a.json());
    let e = only_error(&a);
    assert_eq!(
        (e["code"].as_str(), e["parameter"].as_str()),
        (Some(code), Some(parameter)),
        "{e}"
    );
    assert!(close(emu.balance(), before), "a refused task is free");
    e
}

#[tokio::test]
async fn vectorize_answers_a_served_svg() {
    let key = test_key();
    let emu = start(&key).await;
    let uuid = upload(&emu, &key).await;
    let task = json!({"taskType": "vectorize", "model": "recraft:1@1", "inputs": {"image": uuid}, "outputFormat": "SVG"});
    let (sync, polled) = round_trip(&emu, &key, task.clone()).await;
    for item in [&sync, &polled] {
        assert!(uuid::Uuid::parse_str(item["imageUUID"].as_str().unwrap()).is_ok());
        let url = item["imageURL"].as_str().unwrap();
        assert!(url.ends_with(".svg"), "{url}");
        let (ct, body) = fetch(&emu, url).await;
        assert_eq!(ct, "image/svg+xml");
        let svg = String::from_utf8(body).unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("viewBox=\"0 0 96 64\""), "the input's size");
        assert!(svg.contains("fill=\"#ff0000\""), "the red square: {svg}");
        assert!(svg.matches("<path").count() >= 2);
        assert!(svg.trim_end().ends_with("</svg>"));
    }
    // Inline output, an inline input, the default format, and any valid AIR.
    let a = post_task(
        &emu,
        &key,
        json!({"taskType": "vectorize", "taskUUID": tid(), "model": "picsart:1@1", "inputs": {"image": data_uri(&scene_png())}, "outputType": ["base64Data", "dataURI"]}),
    )
    .await;
    let d = &a.json()["data"][0];
    let svg = B64.decode(d["imageBase64Data"].as_str().unwrap()).unwrap();
    assert!(svg.starts_with(b"<svg"));
    assert!(
        d["imageDataURI"]
            .as_str()
            .unwrap()
            .starts_with("data:image/svg+xml;base64,")
    );
    assert!(d.get("imageURL").is_none());
    let e = refused(
        &emu,
        &key,
        with(
            task.clone(),
            json!({"taskUUID": tid(), "outputFormat": "PNG"}),
        ),
        "invalidOutputFormat",
        "outputFormat",
    )
    .await;
    assert!(e["message"].as_str().unwrap().contains("SVG"), "{e}");
    refused(
        &emu,
        &key,
        with(task.clone(), json!({"taskUUID": tid(), "inputs": null})),
        "missingInputImage",
        "inputImage",
    )
    .await;
    refused(
        &emu,
        &key,
        with(task, json!({"taskUUID": tid(), "model": "recraft"})),
        "invalidModel",
        "model",
    )
    .await;
    emu.stop().await;
}

#[tokio::test]
async fn image_masking_answers_a_mask_of_the_input_size_and_its_detections() {
    let key = test_key();
    let emu = start(&key).await;
    let uuid = upload(&emu, &key).await;
    let task = json!({"taskType": "imageMasking", "model": "runware:35@1", "inputs": {"image": uuid}, "settings": {"confidence": 0.3, "maxDetections": 3, "maskPadding": 0, "maskBlur": 0}});
    let (sync, polled) = round_trip(&emu, &key, task.clone()).await;
    for item in [&sync, &polled] {
        assert_eq!(item["inputImageUUID"], uuid.as_str());
        assert!(uuid::Uuid::parse_str(item["maskImageUUID"].as_str().unwrap()).is_ok());
        let det = item["detections"].as_array().unwrap();
        assert_eq!(det.len(), 1, "{det:?}");
        let b = &det[0];
        assert_eq!(
            (&b["x_min"], &b["y_min"], &b["x_max"], &b["y_max"]),
            (&json!(24), &json!(16), &json!(55), &json!(47)),
            "{b}"
        );
        let (ct, body) = fetch(&emu, item["maskImageURL"].as_str().unwrap()).await;
        assert_eq!(ct, "image/png");
        let mask = image::load_from_memory(&body).unwrap().to_luma8();
        assert_eq!(mask.dimensions(), (96, 64), "the input's size");
        assert_eq!(mask.get_pixel(40, 32).0, [255], "white on the subject");
        assert_eq!(mask.get_pixel(5, 5).0, [0], "black elsewhere");
        assert_eq!(mask.get_pixel(23, 32).0, [0], "no padding asked for");
    }
    // The older form (inputImage, settings on the task), padding and the other output types.
    let a = post_task(
        &emu,
        &key,
        json!({"taskType": "imageMasking", "taskUUID": tid(), "inputImage": data_uri(&scene_png()), "maskPadding": 4, "maskBlur": 0, "outputType": "base64Data", "outputFormat": "WEBP"}),
    )
    .await;
    let d = &a.json()["data"][0];
    let webp = B64
        .decode(d["maskImageBase64Data"].as_str().unwrap())
        .unwrap();
    let mask = image::load_from_memory(&webp).unwrap().to_luma8();
    assert_eq!(mask.get_pixel(21, 32).0, [255], "padded by 4");
    assert!(d["inputImageUUID"].is_string());
    // Nothing reaches a confidence of 1.
    let a = post_task(
        &emu,
        &key,
        with(
            task.clone(),
            json!({"taskUUID": tid(), "settings": {"confidence": 1}}),
        ),
    )
    .await;
    assert_eq!(a.json()["data"][0]["detections"], json!([]));
    for (settings, code, param, min, max) in [
        (
            json!({"confidence": 1.5}),
            "invalidConfidence",
            "confidence",
            0,
            1,
        ),
        (
            json!({"maxDetections": 0}),
            "invalidMaxDetections",
            "maxDetections",
            1,
            20,
        ),
        (
            json!({"maskBlur": -1}),
            "invalidMaskBlur",
            "maskBlur",
            0,
            2048,
        ),
    ] {
        let e = refused(
            &emu,
            &key,
            with(
                task.clone(),
                json!({"taskUUID": tid(), "settings": settings}),
            ),
            code,
            param,
        )
        .await;
        assert_eq!(
            (e["min"].clone(), e["max"].clone()),
            (json!(min), json!(max)),
            "{e}"
        );
    }
    refused(
        &emu,
        &key,
        with(task, json!({"taskUUID": tid(), "inputs": {"image": tid()}})),
        "invalidImage",
        "inputs.image",
    )
    .await;
    emu.stop().await;
}

#[tokio::test]
async fn controlnet_preprocess_answers_a_guide_image() {
    let key = test_key();
    let emu = start(&key).await;
    let uuid = upload(&emu, &key).await;
    let task = json!({"taskType": "controlNetPreprocess", "model": "runware:controlnet-preprocess@lineart", "inputs": {"image": uuid}});
    let (sync, polled) = round_trip(&emu, &key, task.clone()).await;
    for item in [&sync, &polled] {
        assert_eq!(item["inputImageUUID"], uuid.as_str());
        let (ct, body) = fetch(&emu, item["guideImageURL"].as_str().unwrap()).await;
        assert_eq!(ct, "image/png");
        let guide = image::load_from_memory(&body).unwrap().to_luma8();
        assert_eq!(guide.dimensions(), (96, 64));
        assert_eq!(guide.get_pixel(24, 32).0, [255], "an edge of the square");
        assert_eq!(guide.get_pixel(40, 32).0, [0], "inside it");
        assert_eq!(guide.get_pixel(5, 5).0, [0], "the flat background");
    }
    // The older form: the alias, inputImage and preProcessorType.
    let a = post_task(
        &emu,
        &key,
        json!({"taskType": "imageControlNetPreProcess", "taskUUID": tid(), "inputImage": uuid, "preProcessorType": "depth", "outputType": "dataURI"}),
    )
    .await;
    let d = &a.json()["data"][0];
    let uri = d["guideImageDataURI"].as_str().unwrap();
    let png = B64
        .decode(uri.strip_prefix("data:image/png;base64,").unwrap())
        .unwrap();
    let depth = image::load_from_memory(&png).unwrap().to_luma8();
    assert_eq!(depth.dimensions(), (96, 64));
    assert_ne!(
        depth.get_pixel(40, 32),
        depth.get_pixel(5, 5),
        "the square stands out"
    );
    let e = refused(
        &emu,
        &key,
        with(
            task.clone(),
            json!({"taskUUID": tid(), "lowThresholdCanny": 300}),
        ),
        "invalidLowThresholdCanny",
        "lowThresholdCanny",
    )
    .await;
    assert_eq!((e["min"].clone(), e["max"].clone()), (json!(0), json!(255)));
    refused(
        &emu,
        &key,
        with(task.clone(), json!({"taskUUID": tid(), "inputs": null})),
        "missingInputImage",
        "inputImage",
    )
    .await;
    refused(
        &emu,
        &key,
        with(task, json!({"taskUUID": tid(), "outputFormat": "GIF"})),
        "invalidOutputFormat",
        "outputFormat",
    )
    .await;
    emu.stop().await;
}

/// Checks a binary glTF 2.0 file: header, chunk lengths, a JSON chunk naming one mesh whose
/// accessors lie inside the BIN chunk. Returns the JSON.
fn parse_glb(b: &[u8]) -> Value {
    let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap()) as usize;
    assert_eq!(&b[0..4], b"glTF", "magic");
    assert_eq!(u32_at(4), 2, "version");
    assert_eq!(u32_at(8), b.len(), "total length");
    let json_len = u32_at(12);
    assert_eq!(&b[16..20], b"JSON");
    assert_eq!(json_len % 4, 0);
    let gltf: Value = serde_json::from_slice(&b[20..20 + json_len]).expect("the JSON chunk parses");
    let bin_at = 20 + json_len;
    let bin_len = u32_at(bin_at);
    assert_eq!(&b[bin_at + 4..bin_at + 8], b"BIN\0");
    assert_eq!(bin_at + 8 + bin_len, b.len(), "the BIN chunk ends the file");
    assert_eq!(gltf["asset"]["version"], "2.0");
    assert_eq!(gltf["meshes"].as_array().unwrap().len(), 1, "one mesh");
    assert_eq!(gltf["buffers"][0]["byteLength"], bin_len);
    let prim = &gltf["meshes"][0]["primitives"][0];
    let position = &gltf["accessors"][prim["attributes"]["POSITION"].as_u64().unwrap() as usize];
    assert_eq!(position["type"], "VEC3");
    assert!(position["min"].is_array() && position["max"].is_array());
    for view in gltf["bufferViews"].as_array().unwrap() {
        let end = view["byteOffset"].as_u64().unwrap() + view["byteLength"].as_u64().unwrap();
        assert!(end as usize <= bin_len, "{view} inside the BIN chunk");
    }
    let indices = &gltf["accessors"][prim["indices"].as_u64().unwrap() as usize];
    assert_eq!(indices["count"], 36, "a box: 12 triangles");
    gltf
}

#[tokio::test]
async fn three_d_inference_answers_a_valid_glb() {
    let key = test_key();
    let emu = start(&key).await;
    let task = json!({"taskType": "3dInference", "model": "tencent:hunyuan-3d@3.1-pro", "positivePrompt": "a small wooden crate", "seed": 42, "outputFormat": "GLB"});
    let (sync, polled) = round_trip(&emu, &key, task.clone()).await;
    let mut bodies = Vec::new();
    for item in [&sync, &polled] {
        assert_eq!(item["seed"], 42);
        let files = item["outputs"]["files"].as_array().unwrap();
        assert_eq!(files.len(), 1);
        assert!(uuid::Uuid::parse_str(files[0]["uuid"].as_str().unwrap()).is_ok());
        let url = files[0]["url"].as_str().unwrap();
        assert!(url.ends_with(".glb"), "{url}");
        let (ct, body) = fetch(&emu, url).await;
        assert_eq!(ct, "model/gltf-binary");
        let gltf = parse_glb(&body);
        assert_eq!(gltf["meshes"][0]["name"], "a small wooden crate");
        bodies.push(body);
    }
    assert_eq!(bodies[0], bodies[1], "deterministic for a prompt and seed");

    // From an image alone, delivered to uploadEndpoint too; numberResults gives one item each.
    let mut listener = Listener::start(&[]).await;
    let a = post_task(
        &emu,
        &key,
        json!({"taskType": "3dInference", "taskUUID": tid(), "model": "microsoft:trellis-2@4b", "inputs": {"image": data_uri(&scene_png())}, "numberResults": 2, "uploadEndpoint": listener.url("/up")}),
    )
    .await;
    let items = a.json()["data"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2);
    assert_ne!(items[0]["seed"], items[1]["seed"]);
    for _ in 0..2 {
        let put = listener.next().await;
        assert_eq!(put.method, "PUT");
        assert_eq!(put.content_type.as_deref(), Some("model/gltf-binary"));
        parse_glb(&put.body);
    }

    let e = refused(
        &emu,
        &key,
        with(
            task.clone(),
            json!({"taskUUID": tid(), "outputFormat": "FBX"}),
        ),
        "invalidOutputFormat",
        "outputFormat",
    )
    .await;
    assert!(e["message"].as_str().unwrap().contains("GLB"), "{e}");
    refused(
        &emu,
        &key,
        with(
            task.clone(),
            json!({"taskUUID": tid(), "positivePrompt": null}),
        ),
        "missingPositivePrompt",
        "positivePrompt",
    )
    .await;
    refused(
        &emu,
        &key,
        with(
            task.clone(),
            json!({"taskUUID": tid(), "outputType": "base64Data"}),
        ),
        "invalidOutputType",
        "outputType",
    )
    .await;
    let e = refused(
        &emu,
        &key,
        with(task, json!({"taskUUID": tid(), "numberResults": 9})),
        "invalidNumberResults",
        "numberResults",
    )
    .await;
    assert_eq!((e["min"].clone(), e["max"].clone()), (json!(1), json!(4)));
    emu.stop().await;
}

#[tokio::test]
async fn the_catalogue_finds_the_models_of_each_new_task() {
    let key = test_key();
    let emu = start(&key).await;
    for (category, air) in [
        ("vectorize", "recraft:1@1"),
        ("imageMasking", "runware:35@1"),
        (
            "controlNetPreprocess",
            "runware:controlnet-preprocess@lineart",
        ),
        ("3dInference", "tencent:hunyuan-3d@3.1-pro"),
    ] {
        let a = post_task(
            &emu,
            &key,
            json!({"taskType": "modelSearch", "taskUUID": tid(), "category": category, "limit": 100}),
        )
        .await;
        let results = a.json()["data"][0]["results"].as_array().unwrap().clone();
        assert!(
            results.iter().any(|m| m["air"] == air),
            "{air} in {category}"
        );
        assert!(results.iter().all(|m| m["category"] == category));
    }
    emu.stop().await;
}

#[tokio::test]
async fn injected_task_errors_reach_the_new_tasks_sync_and_async_unbilled() {
    use runware_emulator::{Fault, FaultRule};
    let key = test_key();
    let emu = start(&key).await;
    let uuid = upload(&emu, &key).await;
    for task in [
        json!({"taskType": "vectorize", "inputs": {"image": uuid}}),
        json!({"taskType": "imageMasking", "inputs": {"image": uuid}}),
        json!({"taskType": "controlNetPreprocess", "inputs": {"image": uuid}}),
        json!({"taskType": "3dInference", "positivePrompt": "a cube"}),
    ] {
        let tt = task["taskType"].as_str().unwrap().to_string();
        emu.add_fault(
            FaultRule::new(Fault::TaskError {
                code: "timeoutProvider".into(),
            })
            .task_type(tt.clone()),
        );
        let before = emu.balance();
        let a = post_task(&emu, &key, with(task.clone(), json!({"taskUUID": tid()}))).await;
        assert_eq!(only_error(&a)["code"], "timeoutProvider", "{tt}");
        let id = tid();
        let a = post_task(
            &emu,
            &key,
            with(
                task.clone(),
                json!({"taskUUID": id, "deliveryMethod": "async"}),
            ),
        )
        .await;
        assert_eq!(a.status, 200, "{tt}: acknowledged");
        let p = post_task(
            &emu,
            &key,
            json!({"taskType": "getResponse", "taskUUID": id}),
        )
        .await
        .json();
        assert_eq!(p["errors"][0]["code"], "timeoutProvider", "{tt}: {p}");
        assert_eq!(p["errors"][0]["status"], "error");
        assert!(close(emu.balance(), before), "{tt}: a failed task is free");
        emu.clear_faults();
        // Without the fault, the same task runs and is billed.
        let a = post_task(&emu, &key, with(task, json!({"taskUUID": tid()}))).await;
        assert_eq!(a.status, 200, "{tt}: {}", a.json());
        assert!(emu.balance() < before, "{tt}: billed");
    }
    emu.stop().await;
}
