//! The WebSocket protocol: authentication first, ping/pong, tasks on the same engine, async
//! tasks polled from a new socket.

use std::time::Duration;

use crate::common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(emu: &runware_emulator::EmulatorHandle, query: &str) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(format!("{}{query}", emu.ws_url()))
        .await
        .expect("ws connects");
    ws
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

async fn recv(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame")
            .expect("open")
            .unwrap();
        if let Message::Text(t) = msg {
            return serde_json::from_str(t.as_str()).unwrap();
        }
    }
}

async fn auth(ws: &mut Ws, key: &str) -> Value {
    send(ws, json!([{"taskType": "authentication", "apiKey": key}])).await;
    recv(ws).await
}

#[tokio::test]
async fn authentication_ping_and_bad_keys() {
    let key = test_key();
    let emu = start(&key).await;
    let mut ws = connect(&emu, "?sdk=js&version=1.3.2").await;
    // A task before authentication is refused, routed by its taskUUID.
    let early = tid();
    send(&mut ws, json!([image_task(&early)])).await;
    let v = recv(&mut ws).await;
    assert_eq!(v["errors"][0]["code"], "missingApiKey");
    assert_eq!(v["errors"][0]["taskUUID"], early.as_str());
    // A bad key: the errors form, no taskUUID, and the socket stays open.
    let v = auth(&mut ws, &test_key()).await;
    assert_eq!(
        v,
        json!({"errors":[{"code":"invalidApiKey","message":"Invalid API key. Get one at https://my.runware.ai/signup","parameter":"apiKey","taskType":"authentication"}]})
    );
    send(&mut ws, json!([{"taskType": "ping", "ping": true}])).await;
    assert_eq!(
        recv(&mut ws).await,
        json!({"data": [{"taskType": "ping", "pong": true}]})
    );
    // The right key: data[0] carries the session and no taskUUID.
    let v = auth(&mut ws, &key).await;
    let item = &v["data"][0];
    assert_eq!(item["taskType"], "authentication");
    assert!(uuid::Uuid::parse_str(item["connectionSessionUUID"].as_str().unwrap()).is_ok());
    assert!(item.get("taskUUID").is_none());
    // Resuming with a previous session echoes it.
    let session = item["connectionSessionUUID"].as_str().unwrap().to_string();
    send(
        &mut ws,
        json!([{"taskType": "authentication", "apiKey": key, "connectionSessionUUID": session}]),
    )
    .await;
    assert_eq!(
        recv(&mut ws).await["data"][0]["connectionSessionUUID"],
        session.as_str()
    );
    // Logged with the key redacted.
    let log = emu.request_log();
    assert!(log.iter().all(|r| r.method == "WS"));
    assert!(!serde_json::to_string(&log).unwrap().contains(&key));
    ws.close(None).await.ok();
    emu.stop().await;
}

#[tokio::test]
async fn tasks_run_on_the_same_engine_one_frame_each() {
    let key = test_key();
    let emu = start(&key).await;
    let mut ws = connect(&emu, "").await;
    auth(&mut ws, &key).await;
    let id = tid();
    send(
        &mut ws,
        json!([with(image_task(&id), json!({"numberResults": 2}))]),
    )
    .await;
    let v = recv(&mut ws).await;
    let items = v["data"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|i| i["taskUUID"] == id.as_str()
        && i["imageURL"].is_string()
        && i.get("status").is_none()));
    assert_eq!(emu.executions(&id), 1);
    let log = emu.request_log();
    let entry = log.last().unwrap();
    assert_eq!(
        (entry.method.as_str(), entry.auth, entry.key_valid),
        ("WS", runware_emulator::AuthKind::None, true)
    );
    assert_eq!(entry.executed, vec![id.clone()]);
    // Two tasks in one message: one frame per task, errors of one task per frame.
    let good = tid();
    let bad = tid();
    send(&mut ws, json!([with(image_task(&bad), json!({"height": 7})), {"taskType": "modelSearch", "taskUUID": good, "limit": 2}])).await;
    let mut frames = [recv(&mut ws).await, recv(&mut ws).await];
    frames.sort_by_key(|f| f.get("errors").is_some());
    assert_eq!(frames[0]["data"][0]["taskUUID"], good.as_str());
    assert!(frames[0]["data"][0]["results"].is_array());
    let errors = frames[1]["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(
        (errors[0]["code"].as_str(), errors[0]["taskUUID"].as_str()),
        (Some("invalidHeight"), Some(bad.as_str()))
    );
    // Conflict over WS too.
    send(&mut ws, json!([image_task(&id)])).await;
    assert_eq!(recv(&mut ws).await["errors"][0]["code"], "conflictTaskUUID");
    // Malformed frames get an error and the socket stays usable.
    ws.send(Message::Text("nope".into())).await.unwrap();
    assert_eq!(
        recv(&mut ws).await["errors"][0]["code"],
        "invalidRequestBody"
    );
    send(&mut ws, json!({"oops": true})).await;
    assert_eq!(
        recv(&mut ws).await["errors"][0]["code"],
        "invalidRequestBody"
    );
    send(&mut ws, json!([{"taskType": "ping"}])).await;
    assert_eq!(recv(&mut ws).await["data"][0]["pong"], true);
    emu.stop().await;
}

#[tokio::test]
async fn dry_run_in_the_url_validates_only() {
    let key = test_key();
    let emu = start(&key).await;
    let mut ws = connect(&emu, "?sdk=js&version=1.3.2&dryRun=1").await;
    auth(&mut ws, &key).await;
    let id = tid();
    send(&mut ws, json!([image_task(&id)])).await;
    assert_eq!(
        recv(&mut ws).await,
        json!({"data": [{"taskType": "imageInference", "taskUUID": id}]})
    );
    assert_eq!(emu.executions(&id), 0);
    assert_eq!(
        emu.request_log().last().unwrap().path,
        "/v1?sdk=js&version=1.3.2&dryRun=1"
    );
    emu.stop().await;
}

#[tokio::test]
async fn async_tasks_belong_to_the_key_and_can_be_polled_from_a_new_socket() {
    let key = test_key();
    let emu = builder(&key)
        .async_processing(Duration::from_secs(3600))
        .start()
        .await
        .unwrap();
    let id = tid();
    {
        let mut ws = connect(&emu, "").await;
        auth(&mut ws, &key).await;
        send(
            &mut ws,
            json!([with(image_task(&id), json!({"deliveryMethod": "async"}))]),
        )
        .await;
        assert_eq!(
            recv(&mut ws).await,
            json!({"data": [{"taskType": "imageInference", "taskUUID": id}]})
        );
        send(
            &mut ws,
            json!([{"taskType": "getResponse", "taskUUID": id}]),
        )
        .await;
        let v = recv(&mut ws).await;
        assert_eq!(v["data"][0]["status"], "processing");
        assert_eq!(v["data"][0]["taskType"], "imageInference");
        // The socket drops.
    }
    emu.set_async_processing(Duration::ZERO);
    let mut ws = connect(&emu, "").await;
    auth(&mut ws, &key).await;
    send(
        &mut ws,
        json!([{"taskType": "getResponse", "taskUUID": id}]),
    )
    .await;
    let v = recv(&mut ws).await;
    assert_eq!(v["data"][0]["status"], "success");
    assert!(v["data"][0]["imageUUID"].is_string());
    // And over REST as well.
    let v = post_task(
        &emu,
        &key,
        json!({"taskType": "getResponse", "taskUUID": id}),
    )
    .await
    .json();
    assert_eq!(v["data"][0]["status"], "success");
    // A different key cannot see it.
    let emu_any = runware_emulator::Emulator::builder()
        .image_mode(runware_emulator::ImageMode::Placeholder)
        .start()
        .await
        .unwrap();
    let mut other = connect(&emu_any, "").await;
    auth(&mut other, "key-one").await;
    let id2 = tid();
    send(&mut other, json!([image_task(&id2)])).await;
    recv(&mut other).await;
    let mut third = connect(&emu_any, "").await;
    auth(&mut third, "key-two").await;
    send(
        &mut third,
        json!([{"taskType": "getResponse", "taskUUID": id2}]),
    )
    .await;
    assert_eq!(recv(&mut third).await["errors"][0]["code"], "taskNotFound");
    emu_any.stop().await;
    emu.stop().await;
}

#[tokio::test]
async fn stop_closes_open_sockets() {
    let key = test_key();
    let emu = start(&key).await;
    let mut ws = connect(&emu, "").await;
    auth(&mut ws, &key).await;
    tokio::time::timeout(Duration::from_secs(5), emu.stop())
        .await
        .expect("stop returns");
    let next = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("the socket ends");
    assert!(
        matches!(next, None | Some(Err(_)) | Some(Ok(Message::Close(_)))),
        "{next:?}"
    );
}

#[tokio::test]
async fn a_ping_right_after_auth_is_answered_after_the_auth_reply() {
    // The Python SDK sends a ping right after the auth message, before any reply.
    let key = test_key();
    let emu = start(&key).await;
    let mut ws = connect(&emu, "").await;
    send(
        &mut ws,
        json!([{"taskType": "authentication", "apiKey": key}]),
    )
    .await;
    send(&mut ws, json!([{"taskType": "ping", "ping": true}])).await;
    assert_eq!(recv(&mut ws).await["data"][0]["taskType"], "authentication");
    assert_eq!(recv(&mut ws).await["data"][0]["pong"], true);
    emu.stop().await;
}
