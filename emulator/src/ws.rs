//! The WebSocket protocol on `GET /v1`: text frames carrying JSON arrays of tasks.
//!
//! The first task must be `authentication` (the reply is `data[0]` =
//! `{"taskType":"authentication","connectionSessionUUID":…}` with no taskUUID; a bad key gets the
//! `invalidApiKey` error form and the socket stays open). `ping` gets `pong`. Every other task
//! runs on the same engine as REST and is answered in its own frame (`{"data":[…]}` or one
//! task's `{"errors":[…]}`). Tasks belong to the key, so a task started on one socket can be
//! polled from another. The socket closes after 120 s without a message.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::dispatch::{self, Output, TaskOpts};
use crate::state::Shared;
use crate::validate::{self, redact};
use crate::{AuthKind, LoggedRequest};

/// The server closes a socket after this long without a message (as Runware does).
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// Serves one WebSocket until the client closes it, it idles out, or the emulator stops.
pub(crate) async fn run(socket: WebSocket, shared: Arc<Shared>, path: String, dry_run: bool) {
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        while let Some(text) = rx.recv().await {
            if sink.send(Message::text(text)).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let mut shutdown = shared.shutdown.clone();
    let mut owner: Option<String> = None;
    loop {
        let msg = tokio::select! {
            _ = shutdown.changed() => break,
            msg = tokio::time::timeout(IDLE_TIMEOUT, stream.next()) => msg,
        };
        let text = match msg {
            Err(_) | Ok(None) | Ok(Some(Err(_))) => break,
            Ok(Some(Ok(Message::Text(t)))) => t.to_string(),
            Ok(Some(Ok(Message::Binary(b)))) => String::from_utf8_lossy(&b).into_owned(),
            Ok(Some(Ok(Message::Close(_)))) => break,
            Ok(Some(Ok(_))) => continue,
        };
        handle_frame(&shared, &tx, &mut owner, &text, &path, dry_run);
    }
    drop(tx);
    if *shared.shutdown.borrow() {
        writer.abort();
    } else {
        let _ = writer.await;
    }
}

fn send(tx: &mpsc::UnboundedSender<String>, v: Value) {
    let _ = tx.send(v.to_string());
}

fn handle_frame(
    shared: &Arc<Shared>,
    tx: &mpsc::UnboundedSender<String>,
    owner: &mut Option<String>,
    text: &str,
    path: &str,
    dry_run: bool,
) {
    let parsed = serde_json::from_str::<Value>(text);
    let mut log = LoggedRequest {
        method: "WS".into(),
        path: path.to_string(),
        auth: AuthKind::None,
        key_valid: owner.is_some(),
        body: match &parsed {
            Ok(v) => {
                let mut v = v.clone();
                redact(&mut v);
                v.to_string()
            }
            Err(_) => format!("<non-JSON frame, {} bytes>", text.len()),
        },
        task_uuids: Vec::new(),
        executed: Vec::new(),
        status: 200,
        fault: None,
        delivery: None,
    };
    let tasks = match parsed {
        Ok(Value::Array(tasks)) => tasks,
        Ok(Value::Object(o)) if o.contains_key("taskType") => vec![Value::Object(o)],
        Ok(_) => {
            log.status = 400;
            shared.log(log);
            send(
                tx,
                json!({"errors": [validate::error("invalidRequestBody", "Each WebSocket message must be a JSON array of task objects.")]}),
            );
            return;
        }
        Err(e) => {
            log.status = 400;
            shared.log(log);
            send(
                tx,
                json!({"errors": [validate::error("invalidRequestBody", format!("The message is not valid JSON ({e}). Send a JSON array of task objects."))]}),
            );
            return;
        }
    };
    log.task_uuids = tasks
        .iter()
        .filter_map(|t| t.get("taskUUID")?.as_str().map(str::to_string))
        .collect();
    let mut work = Vec::new();
    for task in tasks {
        match task.get("taskType").and_then(Value::as_str) {
            Some("authentication") => {
                log.auth = AuthKind::Task;
                let key = task.get("apiKey").and_then(Value::as_str).unwrap_or("");
                if key.trim().is_empty() {
                    send(tx, json!({"errors": [validate::missing_api_key()]}));
                    log.status = 401;
                } else if shared.key_valid(key) {
                    *owner = Some(key.to_string());
                    log.key_valid = true;
                    let session = task
                        .get("connectionSessionUUID")
                        .and_then(Value::as_str)
                        .filter(|s| uuid::Uuid::parse_str(s).is_ok())
                        .map(str::to_string)
                        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
                    send(
                        tx,
                        json!({"data": [{"taskType": "authentication", "connectionSessionUUID": session}]}),
                    );
                } else {
                    log.key_valid = false;
                    log.status = 401;
                    send(tx, json!({"errors": [validate::invalid_api_key()]}));
                }
            }
            Some("ping") => send(tx, json!({"data": [{"taskType": "ping", "pong": true}]})),
            _ => match owner.clone() {
                Some(key) => work.push((key, task)),
                None => {
                    let mut e = validate::missing_api_key();
                    validate::set_field(
                        &mut e,
                        "message",
                        json!(
                            "Authenticate first: send [{\"taskType\":\"authentication\",\"apiKey\":\"<key>\"}] before any task."
                        ),
                    );
                    if let Some(u) = task.get("taskUUID").and_then(Value::as_str) {
                        validate::set_field(&mut e, "taskUUID", json!(u));
                    }
                    log.status = 401;
                    send(tx, json!({"errors": [e]}));
                }
            },
        }
    }
    if work.is_empty() {
        shared.log(log);
        return;
    }
    // Sync work can take a while (rendering): run it off the reader loop, one frame per task,
    // and log the frame once its tasks ran (with the executed taskUUIDs).
    let shared = shared.clone();
    let tx = tx.clone();
    let opts = TaskOpts {
        dry_run,
        ..TaskOpts::default()
    };
    tokio::spawn(async move {
        let last = work.len().saturating_sub(1);
        for (i, (key, task)) in work.into_iter().enumerate() {
            let run = dispatch::run_task(&shared, &key, &task, &opts).await;
            log.executed.extend(run.executed);
            if i == last {
                // Logged before the last answer goes out, so a client that got it sees the log.
                shared.log(std::mem::replace(&mut log, empty_log()));
            }
            match run.output {
                Output::Data(items) => send(&tx, json!({"data": items})),
                Output::Error(e) => send(&tx, json!({"errors": [e]})),
                Output::DataAndError(items, e) => send(&tx, json!({"data": items, "errors": [e]})),
                Output::Nothing => {}
            }
        }
    });
}

fn empty_log() -> LoggedRequest {
    LoggedRequest {
        method: String::new(),
        path: String::new(),
        auth: AuthKind::None,
        key_valid: false,
        body: String::new(),
        task_uuids: Vec::new(),
        executed: Vec::new(),
        status: 0,
        fault: None,
        delivery: None,
    }
}
