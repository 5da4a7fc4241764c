//! Request building, local validation, options and `run-tasks` normalisation.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

use runware_guest::error::ErrorKind;
use runware_guest::options::{Options, RawOptions, Url};
use runware_guest::request::{
    ImageRequest, Lora, ModelSearchRequest, OutputFormat, OutputType, build_image_task,
    build_model_search_task, check_task_uuid, expected_results, is_air, normalize_tasks,
};
use serde_json::{Value, json};

fn req(prompt: &str) -> ImageRequest {
    ImageRequest {
        positive_prompt: prompt.to_string(),
        ..ImageRequest::default()
    }
}

#[test]
fn image_task_applies_defaults_and_leaves_output_to_the_server() {
    let task = build_image_task(&req("a small airship"), "u-1").unwrap();
    assert_eq!(
        task,
        json!({"taskType":"imageInference","taskUUID":"u-1","positivePrompt":"a small airship",
               "model":"runware:101@1","width":1024,"height":1024,"numberResults":1})
    );
}

#[test]
fn image_task_maps_every_field() {
    let r = ImageRequest {
        positive_prompt: "castle".into(),
        negative_prompt: Some("blurry".into()),
        model: Some("civitai:102438@133677".into()),
        width: Some(512),
        height: Some(768),
        steps: Some(30),
        cfg_scale: Some(7.5),
        seed: Some(42),
        scheduler: Some("Euler a".into()),
        number_results: Some(4),
        output_type: Some(OutputType::Base64Data),
        output_format: Some(OutputFormat::Webp),
        output_quality: Some(90),
        safety_check: Some(true),
        delivery: Some(runware_guest::request::Delivery::Async),
        loras: vec![Lora {
            model: "civitai:58390@62833".into(),
            weight: Some(0.1),
        }],
        seed_image: Some("https://example.invalid/a.png".into()),
        mask_image: Some("data:image/png;base64,AAAA".into()),
        strength: Some(0.8),
        clip_skip: Some(1),
        common: runware_guest::request::CommonOptions {
            include_cost: Some(true),
            webhook_url: Some("http://127.0.0.1:9/hook?token=t".into()),
            ttl: Some(3600),
            upload_endpoint: Some("https://storage.example/put".into()),
        },
        extra_json: Some(r#"{"clipSkip":2,"outputType":["URL"]}"#.into()),
    };
    let t = build_image_task(&r, "u").unwrap();
    assert_eq!(t["negativePrompt"], "blurry");
    assert_eq!(t["CFGScale"], json!(7.5));
    assert_eq!(t["seed"], 42);
    assert_eq!(t["scheduler"], "Euler a");
    assert_eq!(t["numberResults"], 4);
    assert_eq!(t["outputFormat"], "WEBP");
    assert_eq!(t["outputQuality"], 90);
    assert_eq!(t["includeCost"], true);
    assert_eq!(t["webhookURL"], "http://127.0.0.1:9/hook?token=t");
    assert_eq!(t["ttl"], 3600);
    assert_eq!(t["uploadEndpoint"], "https://storage.example/put");
    assert_eq!(t["safety"], json!({"checkContent": true}));
    assert_eq!(t["deliveryMethod"], "async");
    assert_eq!(
        t["lora"],
        json!([{"model":"civitai:58390@62833","weight":0.1}])
    );
    assert_eq!(t["strength"], json!(0.8));
    assert_eq!(t["clipSkip"], 2);
    // extra-json overrides a typed field.
    assert_eq!(t["outputType"], json!(["URL"]));
    assert_eq!(t["seedImage"], "https://example.invalid/a.png");
    assert_eq!(t["maskImage"], "data:image/png;base64,AAAA");
}

#[test]
fn output_type_names() {
    for (t, name) in [
        (OutputType::Url, "URL"),
        (OutputType::DataUri, "dataURI"),
        (OutputType::Base64Data, "base64Data"),
    ] {
        let r = ImageRequest {
            output_type: Some(t),
            ..req("ok")
        };
        assert_eq!(build_image_task(&r, "u").unwrap()["outputType"], name);
    }
}

/// Asserts a local validation error: code, parameter, and a message naming the field and value.
fn rejects(r: &ImageRequest, code: &str, parameter: &str, value_text: &str) {
    let e = build_image_task(r, "u").expect_err(code);
    assert_eq!(e.kind, ErrorKind::InvalidRequest, "{e}");
    assert_eq!(e.detail.code, code);
    assert_eq!(e.detail.parameter.as_deref(), Some(parameter));
    assert!(
        e.detail.message.contains(value_text),
        "{} lacks {value_text}",
        e.detail.message
    );
    assert_eq!(e.detail.attempts, 0);
    assert!(!e.detail.retryable);
}

#[test]
fn prompt_lengths() {
    rejects(
        &req("a"),
        "invalidPositivePrompt",
        "positivePrompt",
        "1 characters",
    );
    build_image_task(&req("ab"), "u").unwrap();
    build_image_task(&req(&"x".repeat(3000)), "u").unwrap();
    rejects(
        &req(&"x".repeat(3001)),
        "invalidPositivePrompt",
        "positivePrompt",
        "2 to 3000",
    );
    // Characters, not bytes.
    build_image_task(&req(&"é".repeat(3000)), "u").unwrap();
    let neg = ImageRequest {
        negative_prompt: Some("n".into()),
        ..req("ok")
    };
    rejects(
        &neg,
        "invalidNegativePrompt",
        "negativePrompt",
        "negativePrompt",
    );
}

#[test]
fn width_and_height_ranges() {
    for ok in [128, 192, 1024, 2048] {
        build_image_task(
            &ImageRequest {
                width: Some(ok),
                height: Some(ok),
                ..req("ok")
            },
            "u",
        )
        .unwrap();
    }
    for bad in [0, 64, 127, 130, 1000, 2112, 4096] {
        rejects(
            &ImageRequest {
                width: Some(bad),
                ..req("ok")
            },
            "invalidWidth",
            "width",
            &bad.to_string(),
        );
        rejects(
            &ImageRequest {
                height: Some(bad),
                ..req("ok")
            },
            "invalidHeight",
            "height",
            "multiples of 64",
        );
    }
}

#[test]
fn numeric_ranges() {
    rejects(
        &ImageRequest {
            steps: Some(0),
            ..req("ok")
        },
        "invalidSteps",
        "steps",
        "1 to 100",
    );
    rejects(
        &ImageRequest {
            steps: Some(101),
            ..req("ok")
        },
        "invalidSteps",
        "steps",
        "101",
    );
    build_image_task(
        &ImageRequest {
            steps: Some(1),
            ..req("ok")
        },
        "u",
    )
    .unwrap();
    build_image_task(
        &ImageRequest {
            steps: Some(100),
            ..req("ok")
        },
        "u",
    )
    .unwrap();
    rejects(
        &ImageRequest {
            cfg_scale: Some(-0.5),
            ..req("ok")
        },
        "invalidCFGScale",
        "CFGScale",
        "-0.5",
    );
    rejects(
        &ImageRequest {
            cfg_scale: Some(50.5),
            ..req("ok")
        },
        "invalidCFGScale",
        "CFGScale",
        "0 to 50",
    );
    rejects(
        &ImageRequest {
            cfg_scale: Some(f32::NAN),
            ..req("ok")
        },
        "invalidCFGScale",
        "CFGScale",
        "NaN",
    );
    build_image_task(
        &ImageRequest {
            cfg_scale: Some(0.0),
            ..req("ok")
        },
        "u",
    )
    .unwrap();
    build_image_task(
        &ImageRequest {
            cfg_scale: Some(50.0),
            ..req("ok")
        },
        "u",
    )
    .unwrap();
    rejects(
        &ImageRequest {
            number_results: Some(0),
            ..req("ok")
        },
        "invalidNumberResults",
        "numberResults",
        "1 to 20",
    );
    rejects(
        &ImageRequest {
            number_results: Some(21),
            ..req("ok")
        },
        "invalidNumberResults",
        "numberResults",
        "21",
    );
    build_image_task(
        &ImageRequest {
            number_results: Some(20),
            ..req("ok")
        },
        "u",
    )
    .unwrap();
    rejects(
        &ImageRequest {
            output_quality: Some(19),
            ..req("ok")
        },
        "invalidOutputQuality",
        "outputQuality",
        "20 to 99",
    );
    rejects(
        &ImageRequest {
            output_quality: Some(100),
            ..req("ok")
        },
        "invalidOutputQuality",
        "outputQuality",
        "100",
    );
    build_image_task(
        &ImageRequest {
            output_quality: Some(20),
            ..req("ok")
        },
        "u",
    )
    .unwrap();
    build_image_task(
        &ImageRequest {
            output_quality: Some(99),
            ..req("ok")
        },
        "u",
    )
    .unwrap();
    rejects(
        &ImageRequest {
            clip_skip: Some(3),
            ..req("ok")
        },
        "invalidClipSkip",
        "clipSkip",
        "0 to 2",
    );
    rejects(
        &ImageRequest {
            strength: Some(1.5),
            ..req("ok")
        },
        "invalidStrength",
        "strength",
        "0 to 1",
    );
    rejects(
        &ImageRequest {
            strength: Some(-0.1),
            ..req("ok")
        },
        "invalidStrength",
        "strength",
        "-0.1",
    );
    rejects(
        &ImageRequest {
            seed: Some(0),
            ..req("ok")
        },
        "invalidSeed",
        "seed",
        "0",
    );
    rejects(
        &ImageRequest {
            seed: Some(u64::MAX),
            ..req("ok")
        },
        "invalidSeed",
        "seed",
        "9223372036854775807",
    );
    build_image_task(
        &ImageRequest {
            seed: Some(9_223_372_036_854_775_807),
            ..req("ok")
        },
        "u",
    )
    .unwrap();
    rejects(
        &ImageRequest {
            scheduler: Some(" ".into()),
            ..req("ok")
        },
        "invalidScheduler",
        "scheduler",
        "empty",
    );
}

#[test]
fn loras_are_checked() {
    let bad_weight = ImageRequest {
        loras: vec![Lora {
            model: "civitai:1@2".into(),
            weight: Some(4.5),
        }],
        ..req("ok")
    };
    rejects(
        &bad_weight,
        "invalidLoraWeight",
        "lora",
        "lora[0].weight is 4.5",
    );
    let low = ImageRequest {
        loras: vec![Lora {
            model: "civitai:1@2".into(),
            weight: Some(-4.0),
        }],
        ..req("ok")
    };
    build_image_task(&low, "u").unwrap();
    let bad_model = ImageRequest {
        loras: vec![Lora {
            model: "nope".into(),
            weight: None,
        }],
        ..req("ok")
    };
    rejects(&bad_model, "invalidLora", "lora", "nope");
}

#[test]
fn model_air_syntax() {
    for ok in [
        "runware:101@1",
        "civitai:102438@133677",
        "my-org:abc_1@v2.1",
    ] {
        assert!(is_air(ok), "{ok}");
    }
    for bad in [
        "",
        "runware",
        "runware:101",
        "runware@1",
        ":1@1",
        "runware:@1",
        "runware:1@",
        "run ware:1@1",
        "a:b:c@1",
    ] {
        assert!(!is_air(bad), "{bad}");
    }
    rejects(
        &ImageRequest {
            model: Some("flux".into()),
            ..req("ok")
        },
        "invalidModel",
        "model",
        "\"flux\"",
    );
}

#[test]
fn extra_json_is_checked() {
    let e = |x: &str| {
        build_image_task(
            &ImageRequest {
                extra_json: Some(x.into()),
                ..req("ok")
            },
            "u",
        )
        .unwrap_err()
    };
    assert_eq!(e("[1]").detail.code, "invalidExtraJson");
    assert_eq!(e("{").detail.code, "invalidExtraJson");
    assert_eq!(
        e(r#"{"taskType":"x"}"#).detail.parameter.as_deref(),
        Some("taskType")
    );
    assert_eq!(
        e(r#"{"taskUUID":"x"}"#).detail.parameter.as_deref(),
        Some("taskUUID")
    );
    let secret = format!("test-{}", 12345);
    let key_err = e(&format!(r#"{{"nested":{{"apiKey":"{secret}"}}}}"#));
    assert_eq!(key_err.detail.parameter.as_deref(), Some("apiKey"));
    assert!(!key_err.detail.message.contains(&secret));
    assert!(key_err.detail.message.contains("RUNWARE_API_KEY"));
}

#[test]
fn model_search_task() {
    let r = ModelSearchRequest {
        search: Some("flux".into()),
        tags: vec!["a".into()],
        category: Some("checkpoint".into()),
        model_type: Some("base".into()),
        limit: Some(5),
        offset: Some(10),
        ..ModelSearchRequest::default()
    };
    let t = build_model_search_task(&r, "u").unwrap();
    assert_eq!(
        t,
        json!({"taskType":"modelSearch","taskUUID":"u","search":"flux","tags":["a"],"category":"checkpoint",
               "type":"base","limit":5,"offset":10})
    );
    let bare = build_model_search_task(&ModelSearchRequest::default(), "u").unwrap();
    assert_eq!(bare, json!({"taskType":"modelSearch","taskUUID":"u"}));
    for bad in [0, 101] {
        let e = build_model_search_task(
            &ModelSearchRequest {
                limit: Some(bad),
                ..ModelSearchRequest::default()
            },
            "u",
        )
        .unwrap_err();
        assert_eq!(e.detail.code, "invalidLimit");
        assert_eq!(e.detail.parameter.as_deref(), Some("limit"));
    }
}

fn counter() -> impl FnMut() -> String {
    let mut n = 0;
    move || {
        n += 1;
        format!("gen-{n}")
    }
}

#[test]
fn run_tasks_normalisation() {
    let mut g = counter();
    let one = normalize_tasks(r#"{"taskType":"modelSearch"}"#, &mut g).unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0]["taskUUID"], "gen-1");
    let many = normalize_tasks(
        r#"[{"taskType":"a","taskUUID":"keep"},{"taskType":"b"}]"#,
        &mut g,
    )
    .unwrap();
    assert_eq!(many[0]["taskUUID"], "keep");
    assert_eq!(many[1]["taskUUID"], "gen-2");
}

#[test]
fn run_tasks_refusals() {
    let mut g = counter();
    let secret = format!("test-{}", 987);
    let cases = [
        ("not json".to_string(), "invalidTasks"),
        ("[]".to_string(), "invalidTasks"),
        ("3".to_string(), "invalidTasks"),
        ("[1]".to_string(), "invalidTasks"),
        (r#"[{"x":1}]"#.to_string(), "missingTaskType"),
        (
            r#"[{"taskType":"a","taskUUID":5}]"#.to_string(),
            "invalidTaskUUID",
        ),
        (
            r#"[{"taskType":"a","taskUUID":"d"},{"taskType":"b","taskUUID":"d"}]"#.to_string(),
            "duplicateTaskUUID",
        ),
        (
            r#"[{"taskType":"authentication"}]"#.to_string(),
            "invalidTaskType",
        ),
        (
            format!(r#"[{{"taskType":"authentication","apiKey":"{secret}"}}]"#),
            "invalidApiKey",
        ),
        (
            format!(r#"[{{"taskType":"imageInference","settings":{{"apiKey":"{secret}"}}}}]"#),
            "invalidApiKey",
        ),
    ];
    for (input, code) in cases {
        let e = normalize_tasks(&input, &mut g).expect_err(&input);
        assert_eq!(e.kind, ErrorKind::InvalidRequest);
        assert_eq!(e.detail.code, code, "{input}");
        assert!(
            !e.detail.message.contains(&secret),
            "the key leaked: {}",
            e.detail.message
        );
        if input.contains("apiKey") || input.contains("authentication") {
            assert!(e.detail.message.contains("RUNWARE_API_KEY"));
        }
    }
}

#[test]
fn expected_result_counts() {
    let m = |v: Value| v.as_object().cloned().unwrap();
    assert_eq!(
        expected_results(&m(json!({"taskType":"imageInference","numberResults":4}))),
        4
    );
    assert_eq!(
        expected_results(&m(json!({"taskType":"imageInference"}))),
        1
    );
    assert_eq!(
        expected_results(&m(json!({"taskType":"promptEnhance","promptVersions":3}))),
        3
    );
    assert_eq!(
        expected_results(&m(json!({"taskType":"caption","numberResults":"x"}))),
        1
    );
}

#[test]
fn task_uuid_check() {
    check_task_uuid("0b4c6c34-52b5-4e0d-9bd5-3a1e2e7f3a10").unwrap();
    assert_eq!(
        check_task_uuid("").unwrap_err().detail.code,
        "invalidTaskUUID"
    );
    assert!(check_task_uuid("a b").is_err());
    assert!(check_task_uuid(&"a".repeat(129)).is_err());
}

#[test]
fn options_defaults_and_checks() {
    let o = Options::from_raw(RawOptions::default()).unwrap();
    assert_eq!(o, Options::default());
    assert_eq!(o.base_url, "https://api.runware.ai/v1");
    assert_eq!(o.max_retries, 3);
    assert_eq!(o.deadline_ms, 300_000);
    assert_eq!(o.poll_interval_ms, 1000);
    assert_eq!(o.poll_deadline_ms, 1_200_000);
    assert!(!o.deadline_set);
    assert_eq!(o.max_response_bytes, 64 * 1024 * 1024);
    let bad = Options::from_raw(RawOptions {
        base_url: Some("ftp://x/v1".into()),
        ..RawOptions::default()
    })
    .unwrap_err();
    assert_eq!(bad.detail.parameter.as_deref(), Some("base-url"));
    let zero = Options::from_raw(RawOptions {
        poll_interval_ms: Some(0),
        ..RawOptions::default()
    })
    .unwrap_err();
    assert_eq!(zero.detail.parameter.as_deref(), Some("poll-interval-ms"));
    let secret = format!("test-{}\n", 5);
    let key = Options::from_raw(RawOptions {
        api_key: Some(secret.clone()),
        ..RawOptions::default()
    })
    .unwrap_err();
    assert!(!key.detail.message.contains(secret.trim()));
    let ok = Options::from_raw(RawOptions {
        api_key: Some(format!("test-{}", 6)),
        ..RawOptions::default()
    })
    .unwrap();
    assert!(
        !format!("{ok:?}").contains("test-6"),
        "Debug must redact the key"
    );
}

#[test]
fn url_split() {
    let u = Url::parse("https://api.runware.ai/v1").unwrap();
    assert_eq!(
        (u.https, u.authority.as_str(), u.path_with_query.as_str()),
        (true, "api.runware.ai", "/v1")
    );
    let u = Url::parse("HTTP://127.0.0.1:8080").unwrap();
    assert_eq!(
        (u.https, u.authority.as_str(), u.path_with_query.as_str()),
        (false, "127.0.0.1:8080", "/")
    );
    let u = Url::parse("http://h:1/a/b?x=1#frag").unwrap();
    assert_eq!(u.path_with_query, "/a/b?x=1");
    let u = Url::parse("http://h?x=1").unwrap();
    assert_eq!(u.path_with_query, "/?x=1");
    for bad in [
        "",
        "h/v1",
        "ftp://h/",
        "http:///v1",
        "http://user@h/",
        "http://h h/",
    ] {
        assert_eq!(
            Url::parse(bad).unwrap_err().detail.code,
            "invalidUrl",
            "{bad}"
        );
    }
}

#[test]
fn floats_are_sent_in_their_shortest_form() {
    use runware_guest::request::f32_shortest;
    for (v, want) in [
        (0.1f32, 0.1f64),
        (7.5, 7.5),
        (0.8, 0.8),
        (-4.0, -4.0),
        (1e-3, 0.001),
        (33.333, 33.333),
        (0.0, 0.0),
    ] {
        assert_eq!(f32_shortest(v), want, "{v}");
    }
    for v in [0.123_456_7f32, 1.0e-7, 3.402_823e38, -2.5e-12, 49.999_99] {
        #[expect(clippy::cast_possible_truncation, reason = "round trip check")]
        let back = f32_shortest(v) as f32;
        assert_eq!(back, v);
    }
}
