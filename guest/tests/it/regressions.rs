//! Regressions found by the soak run and the fuzz harness, as scripted conversations.
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use runware_guest::machine::{Action, Call, Event};
use runware_guest::options::Options;
use runware_guest::retry::SplitMix64;
use serde_json::{Value, json};

use crate::common::response;

/// Found by the soak run: a task error made the client resend the task under a new taskUUID;
/// when that resend met an HTTP 5xx (the request was not processed), the client polled the new
/// taskUUID with getResponse, as if Runware had accepted it, and the call ended in
/// `taskNotFound`. It must resend the task instead.
#[test]
fn a_resent_task_that_meets_an_http_error_is_resent_again_not_polled() {
    let opts = Options {
        max_retries: 3,
        ..Options::default()
    };
    let task = json!({"taskType": "imageInference", "taskUUID": "00000000-0000-4000-8000-000000000001", "positivePrompt": "a lighthouse"});
    let mut call = Call::run(&opts, vec![task.as_object().cloned().unwrap()], 0);
    let mut rng = SplitMix64(5);
    let mut now = 0;
    let mut action = call.start(now);
    let mut sent: Vec<(String, String)> = Vec::new();
    for _ in 0..50 {
        action = match action {
            Action::Send { body, .. } => {
                let tasks: Vec<Value> = serde_json::from_slice(&body).unwrap();
                let first = tasks.first().cloned().unwrap_or_default();
                let task_type = first["taskType"].as_str().unwrap_or_default().to_string();
                let uuid = first["taskUUID"].as_str().unwrap_or_default().to_string();
                sent.push((task_type.clone(), uuid.clone()));
                now += 10;
                let event = match sent.len() {
                    // The task fails with a transient error naming it.
                    1 => response(
                        500,
                        json!({"errors": [{"code": "inferenceError", "message": "x", "taskUUID": uuid, "taskType": "imageInference"}]}),
                    ),
                    // The resend is refused before processing (no taskUUID in the error).
                    2 => response(
                        502,
                        json!({"errors": [{"code": "serverUnavailable", "message": "Bad gateway"}]}),
                    ),
                    _ if task_type == "getResponse" => response(
                        404,
                        json!({"errors": [{"code": "taskNotFound", "message": "x", "taskUUID": uuid, "taskType": "getResponse"}]}),
                    ),
                    _ => response(
                        200,
                        json!({"data": [{"taskType": "imageInference", "taskUUID": uuid, "imageUUID": "img-1", "imageURL": "https://im.runware.ai/x.jpg"}]}),
                    ),
                };
                call.handle(event, now, &mut rng)
            }
            Action::Sleep(ms) => {
                now += ms;
                call.handle(Event::Slept, now, &mut rng)
            }
            Action::Done(result) => {
                let outcome =
                    result.unwrap_or_else(|e| panic!("the call failed: {e:?}; sent {sent:?}"));
                assert_eq!(sent.len(), 3, "{sent:?}");
                assert!(
                    sent.iter().all(|(t, _)| t == "imageInference"),
                    "never polled: {sent:?}"
                );
                assert_ne!(
                    sent[0].1, sent[1].1,
                    "a task error resends under a new taskUUID"
                );
                assert_eq!(
                    sent[1].1, sent[2].1,
                    "an HTTP error resends the same taskUUID"
                );
                assert_eq!(outcome.tasks[0].task_uuid, sent[2].1);
                return;
            }
        };
    }
    panic!("the call did not end: {sent:?}");
}
