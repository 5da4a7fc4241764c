//! `accountManagement` and billing: the balance every billed task lowers by its cost, and
//! `insufficientCredits` (HTTP 402) once it cannot cover a task.

use serde_json::{Value, json};

use crate::common::*;

async fn details(emu: &runware_emulator::EmulatorHandle, key: &str) -> Value {
    let a = post_task(
        emu,
        key,
        json!({"taskType": "accountManagement", "taskUUID": tid(), "operation": "getDetails"}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.json());
    a.json()["data"][0].clone()
}

fn amount(d: &Value) -> f64 {
    d["balance"]["amount"].as_f64().unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[tokio::test]
async fn get_details_reports_the_account() {
    let key = test_key();
    let emu = start(&key).await;
    let d = details(&emu, &key).await;
    assert_eq!(d["taskType"], "accountManagement");
    assert_eq!(d["operation"], "getDetails");
    assert!(d["organizationName"].as_str().unwrap().len() > 3);
    assert!(uuid::Uuid::parse_str(d["organizationUUID"].as_str().unwrap()).is_ok());
    assert_eq!(d["balance"]["currency"], "USD");
    assert!(close(amount(&d), runware_emulator::DEFAULT_BALANCE));
    assert!(d["balance"]["freeBalance"].is_number());
    assert!(d["team"].is_array() && d["apiKeys"].is_array());
    assert!(!d.to_string().contains(&key), "the key is never echoed");

    // The usage operations answer a minimal item; an unknown one is invalid.
    let a = post_task(
        &emu,
        &key,
        json!({"taskType": "accountManagement", "taskUUID": tid(), "operation": "getUsageActivity", "startDate": "2026-01-01"}),
    )
    .await;
    let item = &a.json()["data"][0];
    assert_eq!(item["operation"], "getUsageActivity");
    assert_eq!(item["usage"], json!({}));
    assert_eq!(item["startDate"], "2026-01-01");
    for (op, code) in [
        (json!("transfer"), "invalidOperation"),
        (Value::Null, "missingOperation"),
    ] {
        let a = post_task(
            &emu,
            &key,
            json!({"taskType": "accountManagement", "taskUUID": tid(), "operation": op}),
        )
        .await;
        assert_eq!(a.status, 400);
        let e = only_error(&a);
        assert_eq!(
            (e["code"].as_str(), e["parameter"].as_str()),
            (Some(code), Some("operation"))
        );
    }
}

#[tokio::test]
async fn billed_tasks_lower_the_balance_by_their_cost() {
    let key = test_key();
    let emu = builder(&key).balance(10.0).start().await.unwrap();
    assert!(close(amount(&details(&emu, &key).await), 10.0));

    // Reported and charged: the same number.
    let a = post_task(
        &emu,
        &key,
        with(image_task(&tid()), json!({"includeCost": true})),
    )
    .await;
    let cost = a.json()["data"][0]["cost"].as_f64().unwrap();
    assert!(cost > 0.0);
    let after_one = amount(&details(&emu, &key).await);
    assert!(close(after_one, 10.0 - cost), "{after_one} after {cost}");
    assert!(close(emu.balance(), after_one));

    // Without includeCost the cost is not shown, but it is charged all the same.
    let a = post_task(&emu, &key, image_task(&tid())).await;
    assert!(a.json()["data"][0].get("cost").is_none());
    assert!(close(emu.balance(), 10.0 - 2.0 * cost));

    // Not billed: a dry run, a validation error, an account lookup, an upload, a re-delivery.
    let before = emu.balance();
    let auth = format!("Bearer {key}");
    let dry = request(
        &emu,
        "POST",
        "/v1?dryRun=1",
        &[("authorization", &auth)],
        json!([image_task(&tid())]).to_string(),
    )
    .await
    .unwrap();
    assert_eq!(dry.status, 200);
    let bad = post_task(&emu, &key, with(image_task(&tid()), json!({"width": 1}))).await;
    assert_eq!(bad.status, 400);
    let png = png_bytes(8, 8);
    let up = post_task(
        &emu,
        &key,
        json!({"taskType": "imageUpload", "taskUUID": tid(), "image": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &png)}),
    )
    .await;
    assert_eq!(up.status, 200);
    assert!(close(emu.balance(), before));
    let id = tid();
    post_task(
        &emu,
        &key,
        with(image_task(&id), json!({"deliveryMethod": "async"})),
    )
    .await;
    let charged = emu.balance();
    assert!(
        close(charged, before - cost),
        "an async task is charged once, on acceptance"
    );
    for _ in 0..3 {
        let p = post_task(
            &emu,
            &key,
            json!({"taskType": "getResponse", "taskUUID": id}),
        )
        .await;
        assert_eq!(p.json()["data"][0]["status"], "success");
    }
    assert!(close(emu.balance(), charged), "polling is free");
    // A resent taskUUID is a conflict, not a second charge.
    let again = post_task(
        &emu,
        &key,
        with(image_task(&id), json!({"deliveryMethod": "async"})),
    )
    .await;
    assert_eq!(only_error(&again)["code"], "conflictTaskUUID");
    assert!(close(emu.balance(), charged));
}

#[tokio::test]
async fn insufficient_credits_at_zero_and_when_the_cost_is_higher() {
    let key = test_key();
    let emu = builder(&key).balance(0.0).start().await.unwrap();
    let id = tid();
    for delivery in ["sync", "async"] {
        let a = post_task(
            &emu,
            &key,
            with(image_task(&id), json!({"deliveryMethod": delivery})),
        )
        .await;
        assert_eq!(a.status, 402, "{delivery}: {}", a.json());
        let e = only_error(&a);
        assert_eq!(e["code"], "insufficientCredits");
        assert_eq!(e["taskUUID"], id.as_str());
        assert_eq!(e["taskType"], "imageInference");
        assert!(e["message"].as_str().unwrap().contains("balance"));
    }
    assert_eq!(emu.executions(&id), 0, "a refused task did not run");
    // The account can still be looked up, and free tasks still work.
    assert!(close(amount(&details(&emu, &key).await), 0.0));
    let up = post_task(
        &emu,
        &key,
        json!({"taskType": "mediaStorage", "taskUUID": tid(), "operation": "upload", "media": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, png_bytes(4, 4))}),
    )
    .await;
    assert_eq!(up.status, 200, "{}", up.json());

    // A balance below the task's cost: refused, and left as it was.
    let admin = request(
        &emu,
        "PUT",
        "/__emulator/balance",
        &[],
        r#"{"amount":0.00001}"#,
    )
    .await
    .unwrap();
    assert_eq!(
        (admin.status, admin.json()),
        (200, json!({"balance": 0.00001}))
    );
    let a = post_task(&emu, &key, image_task(&id)).await;
    assert_eq!(only_error(&a)["code"], "insufficientCredits");
    assert!(close(emu.balance(), 0.00001));

    // Topped up at run time, the same taskUUID now runs.
    let admin = request(&emu, "PUT", "/__emulator/balance", &[], r#"{"amount":5}"#)
        .await
        .unwrap();
    assert_eq!(admin.status, 200);
    let got = request(&emu, "GET", "/__emulator/balance", &[], "")
        .await
        .unwrap();
    assert_eq!(got.json(), json!({"balance": 5.0}));
    let a = post_task(&emu, &key, image_task(&id)).await;
    assert_eq!(a.status, 200, "{}", a.json());
    assert!(emu.balance() < 5.0);
    let bad = request(&emu, "PUT", "/__emulator/balance", &[], r#"{"usd":1}"#)
        .await
        .unwrap();
    assert_eq!(bad.status, 400);

    // A reset restores the starting balance.
    emu.reset();
    assert!(close(emu.balance(), 0.0));
}

#[derive(clap::Parser)]
struct Cli {
    #[command(flatten)]
    serve: runware_emulator::ServeArgs,
}

#[test]
fn balance_and_delivery_flags_parse() {
    use clap::Parser as _;
    let cli = Cli::try_parse_from(["x"]).unwrap().serve;
    if std::env::var_os("RUNWARE_EMULATOR_BALANCE").is_none() {
        assert!(close(cli.balance, runware_emulator::DEFAULT_BALANCE));
    }
    assert_eq!(
        (
            cli.webhook_attempts,
            cli.webhook_backoff_ms,
            cli.webhook_backoff_max_ms
        ),
        (4, 250, 2000)
    );
    let cli = Cli::try_parse_from([
        "x",
        "--balance",
        "0",
        "--webhook-attempts",
        "2",
        "--webhook-backoff-ms",
        "5",
        "--webhook-backoff-max-ms",
        "9",
    ])
    .unwrap()
    .serve;
    assert!(close(cli.balance, 0.0));
    assert_eq!(
        (
            cli.webhook_attempts,
            cli.webhook_backoff_ms,
            cli.webhook_backoff_max_ms
        ),
        (2, 5, 9)
    );
    assert!(Cli::try_parse_from(["x", "--balance", "lots"]).is_err());
}
