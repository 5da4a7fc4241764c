//! Webhooks (`webhookURL`) and `uploadEndpoint`: one POST per result item, retried on a non-2xx
//! answer, every attempt in the request log, loopback destinations only; output bytes PUT.

use std::time::Duration;

use runware_emulator::{DeliveryKind, DeliveryOutcome, DeliveryRetry, Fault, FaultRule};
use serde_json::{Value, json};

use crate::common::*;
use crate::listener::*;

/// A fast retry schedule for tests.
fn fast(attempts: u32) -> DeliveryRetry {
    DeliveryRetry {
        attempts,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        timeout: Duration::from_secs(5),
    }
}

fn outcome(r: &runware_emulator::LoggedRequest) -> DeliveryOutcome {
    r.delivery.as_ref().unwrap().outcome
}

#[tokio::test]
async fn one_post_per_item_with_the_item_as_json() {
    let key = test_key();
    let emu = start(&key).await;
    let mut hook = Listener::start(&[]).await;
    let id = tid();
    let url = hook.url("/hook?token=abc");
    let a = post_task(
        &emu,
        &key,
        with(
            image_task(&id),
            json!({"numberResults": 2, "webhookURL": url, "includeCost": true}),
        ),
    )
    .await;
    assert_eq!(a.status, 200);
    let answered: Vec<String> = a.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["imageUUID"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(answered.len(), 2);
    let mut posted = Vec::new();
    for _ in 0..2 {
        let r = hook.next().await;
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/hook?token=abc");
        assert_eq!(r.content_type.as_deref(), Some("application/json"));
        let body = r.json();
        let data = body["data"].as_array().unwrap();
        assert_eq!(data.len(), 1, "{body}");
        assert!(body.get("errors").is_none());
        let item = &data[0];
        assert_eq!(item["taskUUID"], id.as_str());
        assert_eq!(item["taskType"], "imageInference");
        assert_eq!(item["status"], "success");
        assert!(item["cost"].as_f64().unwrap() > 0.0);
        posted.push(item["imageUUID"].as_str().unwrap().to_string());
    }
    posted.sort();
    let mut answered = answered;
    answered.sort();
    assert_eq!(posted, answered, "one POST per item, each item once");
    let log = wait_deliveries(&emu, |d| d.len() == 2).await;
    for r in &log {
        assert_eq!(r.method, "WEBHOOK");
        assert_eq!(r.path, url);
        assert_eq!(r.status, 200);
        assert_eq!(r.task_uuids, vec![id.clone()]);
        let d = r.delivery.as_ref().unwrap();
        assert_eq!(
            (d.kind, d.attempt, d.outcome),
            (DeliveryKind::Webhook, 1, DeliveryOutcome::Delivered)
        );
        assert_eq!(d.url, url);
    }
}

#[tokio::test]
async fn async_results_and_task_errors_are_posted() {
    let key = test_key();
    let emu = start(&key).await;
    let mut hook = Listener::start(&[]).await;
    // An async success: acknowledged at once, the item posted when ready.
    let id = tid();
    let a = post_task(
        &emu,
        &key,
        with(
            image_task(&id),
            json!({"deliveryMethod": "async", "webhookURL": hook.url("/a")}),
        ),
    )
    .await;
    assert_eq!(
        a.json()["data"][0],
        json!({"taskType": "imageInference", "taskUUID": id})
    );
    let body = hook.next().await.json();
    assert_eq!(body["data"][0]["taskUUID"], id.as_str());
    assert_eq!(body["data"][0]["status"], "success");
    assert!(body["data"][0]["imageURL"].is_string());
    assert!(body["data"][0].get("cost").is_none(), "no includeCost");

    // A task error (injected), async and sync: posted as {"errors":[…]}.
    emu.add_fault(FaultRule::new(Fault::TaskError {
        code: "timeoutProvider".into(),
    }));
    for delivery in ["async", "sync"] {
        let id = tid();
        post_task(
            &emu,
            &key,
            with(
                image_task(&id),
                json!({"deliveryMethod": delivery, "webhookURL": hook.url("/e")}),
            ),
        )
        .await;
        let r = hook.next().await;
        assert_eq!(r.path, "/e");
        let body = r.json();
        assert!(body.get("data").is_none(), "{body}");
        let e = &body["errors"][0];
        assert_eq!(e["code"], "timeoutProvider", "{delivery}");
        assert_eq!(e["status"], "error");
        assert_eq!(e["taskUUID"], id.as_str());
    }
}

#[tokio::test]
async fn a_failed_delivery_is_retried_then_logged_per_attempt() {
    let key = test_key();
    let emu = builder(&key).delivery_retry(fast(3)).start().await.unwrap();
    let mut hook = Listener::start(&[500]).await;
    let id = tid();
    let a = post_task(
        &emu,
        &key,
        with(image_task(&id), json!({"webhookURL": hook.url("/retry")})),
    )
    .await;
    assert_eq!(a.status, 200, "a failing webhook never fails the task");
    let first = hook.next().await;
    let second = hook.next().await;
    assert_eq!(first.body, second.body, "the same body is delivered again");
    let log = wait_deliveries(&emu, |d| {
        d.iter().any(|r| outcome(r) == DeliveryOutcome::Delivered)
    })
    .await;
    let attempts: Vec<(u32, u16, DeliveryOutcome)> = log
        .iter()
        .map(|r| {
            let d = r.delivery.as_ref().unwrap();
            (d.attempt, r.status, d.outcome)
        })
        .collect();
    assert_eq!(
        attempts,
        vec![
            (1, 500, DeliveryOutcome::Retrying),
            (2, 200, DeliveryOutcome::Delivered)
        ]
    );
    assert!(
        log[0]
            .delivery
            .as_ref()
            .unwrap()
            .error
            .as_deref()
            .unwrap()
            .contains("500")
    );
}

#[tokio::test]
async fn delivery_gives_up_after_the_last_attempt() {
    let key = test_key();
    let emu = builder(&key).delivery_retry(fast(2)).start().await.unwrap();
    // Nothing listens on this port any more: every attempt is a connection error.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/gone");
    let a = post_task(
        &emu,
        &key,
        with(image_task(&tid()), json!({"webhookURL": url})),
    )
    .await;
    assert_eq!(a.status, 200);
    let log = wait_deliveries(&emu, |d| {
        d.iter().any(|r| outcome(r) == DeliveryOutcome::Failed)
    })
    .await;
    assert_eq!(log.len(), 2, "{log:#?}");
    assert_eq!(outcome(&log[0]), DeliveryOutcome::Retrying);
    assert_eq!(log[1].delivery.as_ref().unwrap().attempt, 2);
    assert_eq!(log[1].status, 0);
    assert!(log[1].delivery.as_ref().unwrap().error.is_some());
}

#[tokio::test]
async fn non_loopback_destinations_are_refused_and_logged() {
    let key = test_key();
    let emu = start(&key).await;
    let id = tid();
    let a = post_task(
        &emu,
        &key,
        with(
            image_task(&id),
            json!({"webhookURL": "http://example.com/hook", "uploadEndpoint": "https://127.0.0.1/up"}),
        ),
    )
    .await;
    assert_eq!(a.status, 200, "the task is accepted: {}", a.json());
    assert!(a.json()["data"][0]["imageURL"].is_string());
    let log = wait_deliveries(&emu, |d| d.len() == 2).await;
    for r in &log {
        let d = r.delivery.as_ref().unwrap();
        assert_eq!(d.outcome, DeliveryOutcome::Refused, "{r:?}");
        assert_eq!((d.attempt, r.status), (0, 0));
        assert!(d.error.as_deref().unwrap().len() > 10);
    }
    let kinds: Vec<_> = log
        .iter()
        .map(|r| r.delivery.as_ref().unwrap().kind)
        .collect();
    assert!(kinds.contains(&DeliveryKind::Webhook) && kinds.contains(&DeliveryKind::Upload));
    let webhook = log.iter().find(|r| r.method == "WEBHOOK").unwrap();
    assert_eq!(webhook.path, "http://example.com/hook");
    assert!(
        webhook
            .delivery
            .as_ref()
            .unwrap()
            .error
            .as_deref()
            .unwrap()
            .contains("loopback")
    );
}

#[tokio::test]
async fn destinations_must_be_strings() {
    let key = test_key();
    let emu = start(&key).await;
    for (param, code) in [
        ("webhookURL", "invalidWebhookURL"),
        ("uploadEndpoint", "invalidUploadEndpoint"),
    ] {
        let a = post_task(&emu, &key, with(image_task(&tid()), json!({param: 5}))).await;
        assert_eq!(a.status, 400);
        let e = only_error(&a);
        assert_eq!(e["code"], code);
        assert_eq!(e["parameter"], param);
    }
}

#[tokio::test]
async fn upload_endpoint_receives_each_output() {
    let key = test_key();
    let emu = start(&key).await;
    let mut up = Listener::start(&[]).await;
    let id = tid();
    let url = up.url("/bucket/out.png?sig=1");
    let a = post_task(
        &emu,
        &key,
        with(
            image_task(&id),
            json!({"outputFormat": "PNG", "uploadEndpoint": url}),
        ),
    )
    .await;
    assert_eq!(a.status, 200);
    let item = a.json()["data"][0].clone();
    let image_url = item["imageURL"]
        .as_str()
        .expect("the item still carries its URL");
    let r = up.next().await;
    assert_eq!(r.method, "PUT");
    assert_eq!(r.path, "/bucket/out.png?sig=1");
    assert_eq!(r.content_type.as_deref(), Some("image/png"));
    let path = image_url.split_once(&emu.addr().to_string()).unwrap().1;
    let served = request(&emu, "GET", path, &[], "").await.unwrap();
    assert_eq!(r.body, served.bytes, "the PUT carries the output's bytes");
    let log = wait_deliveries(&emu, |d| d.len() == 1).await;
    assert_eq!(log[0].method, "UPLOAD");
    assert_eq!(log[0].status, 200);
    assert_eq!(log[0].delivery.as_ref().unwrap().kind, DeliveryKind::Upload);

    // The image tools too (removeBackground: a PNG).
    let png = png_bytes(32, 32);
    let input = format!(
        "data:image/png;base64,{}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &png)
    );
    let a = post_task(
        &emu,
        &key,
        json!({"taskType": "removeBackground", "taskUUID": tid(), "inputs": {"image": input}, "uploadEndpoint": up.url("/rb")}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.json());
    let r = up.next().await;
    assert_eq!((r.method.as_str(), r.path.as_str()), ("PUT", "/rb"));
    assert_eq!(r.content_type.as_deref(), Some("image/png"));
    assert!(r.body.starts_with(b"\x89PNG"));
}

#[tokio::test]
async fn a_task_that_is_not_billed_uploads_nothing() {
    let key = test_key();
    let emu = builder(&key).balance(0.0).start().await.unwrap();
    let mut up = Listener::start(&[]).await;
    let a = post_task(
        &emu,
        &key,
        with(
            image_task(&tid()),
            json!({"uploadEndpoint": up.url("/first"), "webhookURL": up.url("/hook")}),
        ),
    )
    .await;
    assert_eq!(a.status, 402);
    // Topped up, a second task uploads; the refused one's output never arrives before it.
    emu.set_balance(1.0);
    let a = post_task(
        &emu,
        &key,
        with(
            image_task(&tid()),
            json!({"uploadEndpoint": up.url("/second")}),
        ),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(up.next().await.path, "/second");
    let log = wait_deliveries(&emu, |d| d.len() == 1).await;
    assert_eq!(log[0].path, up.url("/second"));
    assert!(up.try_next().is_none());
}

/// The webhook body of an item is what getResponse shows for it.
#[tokio::test]
async fn webhook_item_matches_get_response() {
    let key = test_key();
    let emu = start(&key).await;
    let mut hook = Listener::start(&[]).await;
    let id = tid();
    post_task(
        &emu,
        &key,
        json!({"taskType": "promptEnhance", "taskUUID": id, "prompt": "a red fox", "promptVersions": 2, "deliveryMethod": "async", "webhookURL": hook.url("/pe")}),
    )
    .await;
    let mut posted: Vec<Value> = vec![
        hook.next().await.json()["data"][0].clone(),
        hook.next().await.json()["data"][0].clone(),
    ];
    let polled = post_task(
        &emu,
        &key,
        json!({"taskType": "getResponse", "taskUUID": id}),
    )
    .await;
    let mut polled: Vec<Value> = polled.json()["data"].as_array().unwrap().clone();
    let key_of = |v: &Value| v["text"].as_str().unwrap().to_string();
    posted.sort_by_key(key_of);
    polled.sort_by_key(key_of);
    assert_eq!(posted, polled);
}
