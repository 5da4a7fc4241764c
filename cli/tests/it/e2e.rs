//! End-to-end tests: the real `runware` CLI (the real component in the real wasmtime host) against
//! the emulator on loopback.
//!
//! Every test starts its own emulator with its own key, runs the CLI as a child process and asserts
//! on the exit code, stdout (the JSON response), stderr and the emulator's request log. Every run is
//! also checked for the key: it must never appear in the CLI's output or in a logged request body.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use runware_emulator::{
    Emulator, EmulatorBuilder, EmulatorHandle, Fault, FaultRule, LoggedRequest,
};
use serde_json::{Value, json};

/// A running emulator, its key, and a way to run the CLI against it.
pub(crate) struct Harness {
    pub(crate) emulator: EmulatorHandle,
    pub(crate) key: String,
}

/// One finished CLI run.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    pub(crate) elapsed: Duration,
}

impl Run {
    /// stdout parsed as JSON.
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// The `data` items of the JSON response.
    pub(crate) fn data(&self) -> Vec<Value> {
        self.json()["data"].as_array().cloned().unwrap_or_default()
    }

    /// The `errors` items of the JSON response.
    pub(crate) fn errors(&self) -> Vec<Value> {
        self.json()["errors"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    #[track_caller]
    pub(crate) fn assert_code(&self, code: i32) {
        assert_eq!(
            self.code, code,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
    }
}

/// The compiled-code cache shared by every CLI run of the suite, so the component is compiled once.
fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e-component-cache")
}

fn fresh_key() -> String {
    format!("e2e-key-{}", uuid_like())
}

/// A random-enough suffix without pulling a UUID crate into the test.
fn uuid_like() -> String {
    use std::hash::{BuildHasher, RandomState};
    format!(
        "{:016x}{:016x}",
        RandomState::new().hash_one(1u8),
        RandomState::new().hash_one(2u8)
    )
}

impl Harness {
    pub(crate) async fn start() -> Self {
        Self::start_with(|b| b).await
    }

    pub(crate) async fn start_with(
        configure: impl FnOnce(EmulatorBuilder) -> EmulatorBuilder,
    ) -> Self {
        let key = fresh_key();
        let builder = configure(Emulator::builder().api_key(key.clone()));
        let emulator = builder.start().await.expect("emulator starts");
        Self { emulator, key }
    }

    /// Runs `runware --base-url <emulator> ARGS` with the harness key in `RUNWARE_API_KEY`.
    pub(crate) async fn run(&self, args: &[&str]) -> Run {
        self.run_with_key(args, Some(&self.key)).await
    }

    pub(crate) async fn run_with_key(&self, args: &[&str], key: Option<&str>) -> Run {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_runware"));
        command
            .arg("--base-url")
            .arg(self.emulator.base_url())
            .args(args)
            .env("RUNWARE_CACHE_DIR", cache_dir())
            .env_remove("RUNWARE_BASE_URL")
            .env_remove("RUNWARE_API_KEY")
            .stdin(std::process::Stdio::null());
        if let Some(key) = key {
            command.env("RUNWARE_API_KEY", key);
        }
        let started = Instant::now();
        let output = tokio::time::timeout(Duration::from_secs(120), command.output())
            .await
            .expect("the CLI finishes within 120 s")
            .expect("the CLI runs");
        let run = Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            elapsed: started.elapsed(),
        };
        self.assert_key_hidden(&run);
        run
    }

    /// Starts `runware --base-url <emulator> ARGS` with the harness key, not waiting for it
    /// (stdout and stderr discarded), so that a test can kill it.
    pub(crate) fn spawn(&self, args: &[&str]) -> tokio::process::Child {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_runware"))
            .arg("--base-url")
            .arg(self.emulator.base_url())
            .args(args)
            .env("RUNWARE_CACHE_DIR", cache_dir())
            .env_remove("RUNWARE_BASE_URL")
            .env("RUNWARE_API_KEY", &self.key)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("the CLI starts")
    }

    /// The key never appears in the CLI's output nor in any request body the emulator saw.
    #[track_caller]
    fn assert_key_hidden(&self, run: &Run) {
        assert!(!run.stdout.contains(&self.key), "key printed on stdout");
        assert!(!run.stderr.contains(&self.key), "key printed on stderr");
        for entry in self.emulator.request_log() {
            assert!(
                !entry.body.contains(&self.key),
                "key in a request body: {entry:?}"
            );
        }
    }

    /// `POST /v1` requests the emulator received.
    pub(crate) fn posts(&self) -> Vec<LoggedRequest> {
        self.emulator
            .request_log()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path.starts_with("/v1"))
            .collect()
    }

    /// `POST /v1` requests whose body holds a task of this type.
    pub(crate) fn posts_with(&self, task_type: &str) -> Vec<LoggedRequest> {
        let needle = format!("\"{task_type}\"");
        self.posts()
            .into_iter()
            .filter(|r| r.body.contains(&needle))
            .collect()
    }
}

fn write_json(dir: &tempfile::TempDir, name: &str, value: &Value) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(value).expect("json")).expect("write file");
    path.to_string_lossy().into_owned()
}

fn image_task(extra: Value) -> Value {
    let mut task = json!({
        "taskType": "imageInference",
        "positivePrompt": "a lighthouse at dusk",
        "model": "runware:101@1",
        "width": 512,
        "height": 512,
    });
    if let (Some(task), Some(extra)) = (task.as_object_mut(), extra.as_object()) {
        task.extend(extra.clone());
    }
    task
}

// ---------------------------------------------------------------------------------------------
// The four commands' happy paths.

#[tokio::test(flavor = "multi_thread")]
async fn model_search_returns_a_page_of_the_catalog() {
    let h = Harness::start().await;
    let run = h
        .run(&["model-search", "--search", "flux", "--limit", "3"])
        .await;
    run.assert_code(0);
    let data = run.data();
    assert_eq!(data.len(), 1, "one modelSearch item: {}", run.stdout);
    let item = &data[0];
    assert_eq!(item["taskType"], "modelSearch");
    let results = item["results"].as_array().expect("results list");
    assert!(!results.is_empty() && results.len() <= 3, "{results:?}");
    assert!(item["totalResults"].as_u64().expect("totalResults") >= results.len() as u64);
    assert_eq!(h.posts().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn text_to_image_saves_every_image_under_its_uuid() {
    let h = Harness::start().await;
    let out = tempfile::tempdir().expect("tempdir");
    let out_dir = out.path().to_string_lossy().into_owned();
    let run = h
        .run(&[
            "text-to-image",
            "--prompt",
            "a small airship over a forest",
            "--width",
            "256",
            "--height",
            "256",
            "--number-results",
            "2",
            "--output-format",
            "png",
            "--out",
            &out_dir,
        ])
        .await;
    run.assert_code(0);
    let data = run.data();
    assert_eq!(data.len(), 2, "{}", run.stdout);
    assert_eq!(
        data[0]["taskUUID"], data[1]["taskUUID"],
        "one task, two results"
    );
    assert_ne!(data[0]["imageUUID"], data[1]["imageUUID"]);
    for item in &data {
        let uuid = item["imageUUID"].as_str().expect("imageUUID");
        let bytes = std::fs::read(out.path().join(format!("{uuid}.png")))
            .expect("image saved as <imageUUID>.png");
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG file");
    }
    assert_eq!(h.posts().len(), 1, "one request for one task");
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_prints_the_task_and_sends_nothing() {
    let h = Harness::start().await;
    let run = h
        .run(&[
            "text-to-image",
            "--prompt",
            "a red kite",
            "--seed",
            "42",
            "--steps",
            "12",
            "--clip-skip",
            "1",
            "--dry-run",
        ])
        .await;
    run.assert_code(0);
    let tasks = run.json();
    let task = &tasks.as_array().expect("a JSON array of tasks")[0];
    assert_eq!(task["taskType"], "imageInference");
    assert_eq!(task["positivePrompt"], "a red kite");
    assert_eq!(task["seed"], 42);
    assert_eq!(task["steps"], 12);
    assert_eq!(task["clipSkip"], 1);
    let uuid = task["taskUUID"].as_str().expect("taskUUID");
    assert_eq!(uuid.len(), 36);
    assert_eq!(&uuid[14..15], "4", "a UUID v4");
    assert!(task.get("apiKey").is_none());
    assert!(h.emulator.request_log().is_empty(), "nothing sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_runs_a_mixed_batch_and_fills_missing_task_uuids() {
    let h = Harness::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_json(
        &dir,
        "tasks.json",
        &json!([
            image_task(json!({"numberResults": 2})),
            {"taskType": "modelSearch", "search": "sdxl", "limit": 2},
        ]),
    );
    let run = h.run(&["raw", &file]).await;
    run.assert_code(0);
    let data = run.data();
    let images: Vec<_> = data
        .iter()
        .filter(|d| d["taskType"] == "imageInference")
        .collect();
    let searches: Vec<_> = data
        .iter()
        .filter(|d| d["taskType"] == "modelSearch")
        .collect();
    assert_eq!(images.len(), 2, "{}", run.stdout);
    assert_eq!(searches.len(), 1, "{}", run.stdout);
    assert_ne!(images[0]["taskUUID"], searches[0]["taskUUID"]);
    assert_eq!(h.posts().len(), 1, "one request for the batch");
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_out_saves_every_file_the_tasks_produced() {
    let h = Harness::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let file = write_json(
        &dir,
        "tasks.json",
        &json!([
            image_task(json!({"numberResults": 2, "outputFormat": "PNG"})),
            {"taskType": "audioInference", "model": "minimax:music@2.6",
             "positivePrompt": "a calm piano melody", "duration": 10, "outputFormat": "WAV"},
        ]),
    );
    let run = h
        .run(&["raw", &file, "--out", out.to_str().expect("utf-8")])
        .await;
    run.assert_code(0);
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .expect("the directory was made")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 3, "two images and an audio: {names:?}");
    assert_eq!(
        names.iter().filter(|n| n.ends_with(".png")).count(),
        2,
        "{names:?}"
    );
    assert_eq!(
        names.iter().filter(|n| n.ends_with(".wav")).count(),
        1,
        "{names:?}"
    );
    for name in &names {
        let uuid = name.split('.').next().unwrap_or_default();
        assert!(
            run.stdout.contains(uuid),
            "{name} is named after an output UUID"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_reads_one_task_from_stdin() {
    let h = Harness::start().await;
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_runware"));
    command
        .args(["--base-url", &h.emulator.base_url(), "raw", "-"])
        .env("RUNWARE_API_KEY", &h.key)
        .env("RUNWARE_CACHE_DIR", cache_dir())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    tokio::io::AsyncWriteExt::write_all(&mut stdin, br#"{"taskType":"ping","ping":true}"#)
        .await
        .expect("write stdin");
    drop(stdin);
    let output = child.wait_with_output().await.expect("wait");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let value: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(value["data"][0]["taskType"], "ping");
}

#[tokio::test(flavor = "multi_thread")]
async fn poll_reports_an_earlier_task() {
    let h = Harness::start().await;
    let first = h
        .run(&[
            "text-to-image",
            "--prompt",
            "a quiet harbour",
            "--width",
            "256",
            "--height",
            "256",
        ])
        .await;
    first.assert_code(0);
    let task_uuid = first.data()[0]["taskUUID"]
        .as_str()
        .expect("taskUUID")
        .to_owned();

    let poll = h.run(&["poll", &task_uuid]).await;
    poll.assert_code(0);
    let data = poll.data();
    assert!(
        data.iter()
            .any(|d| d["taskUUID"] == task_uuid.as_str() && d["imageUUID"].is_string()),
        "{}",
        poll.stdout
    );

    let wait = h.run(&["poll", &task_uuid, "--wait"]).await;
    wait.assert_code(0);
    assert!(
        wait.data()
            .iter()
            .any(|d| d["taskUUID"] == task_uuid.as_str())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn embedded_emulator_generates_an_image_without_a_key() {
    let out = tempfile::tempdir().expect("tempdir");
    let out_dir = out.path().to_string_lossy().into_owned();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_runware"))
        .args([
            "--emulator",
            "text-to-image",
            "--prompt",
            "a small airship over a forest",
            "--out",
            &out_dir,
        ])
        .env("RUNWARE_CACHE_DIR", cache_dir())
        .env_remove("RUNWARE_API_KEY")
        .env_remove("RUNWARE_BASE_URL")
        .output()
        .await
        .expect("run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let saved = std::fs::read_dir(out.path()).expect("out dir").count();
    assert_eq!(saved, 1, "one image saved");
}

// ---------------------------------------------------------------------------------------------
// Correlation.

#[tokio::test(flavor = "multi_thread")]
async fn results_in_reverse_order_are_matched_by_task_uuid() {
    let h = Harness::start_with(|b| b.fault(FaultRule::new(Fault::ReverseOrder))).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_json(
        &dir,
        "tasks.json",
        &json!([
            image_task(json!({"numberResults": 3, "positivePrompt": "first task"})),
            image_task(json!({"numberResults": 2, "positivePrompt": "second task"})),
        ]),
    );
    let run = h.run(&["raw", &file]).await;
    run.assert_code(0);
    let data = run.data();
    assert_eq!(data.len(), 5, "{}", run.stdout);
    let mut per_task = std::collections::HashMap::<String, usize>::new();
    for item in &data {
        *per_task
            .entry(item["taskUUID"].as_str().expect("uuid").to_owned())
            .or_default() += 1;
    }
    let mut counts: Vec<_> = per_task.values().copied().collect();
    counts.sort_unstable();
    assert_eq!(counts, vec![2, 3]);
}

// ---------------------------------------------------------------------------------------------
// Retries: each retryable fault is retried, each non-retryable error is not.

/// Faults that reject a request before its tasks run: the same tasks are simply sent again.
/// Faults that lose the answer after the tasks ran: the resend is answered `conflictTaskUUID`
/// ("already accepted") and the result is fetched with `getResponse`, so the task runs once.
#[tokio::test(flavor = "multi_thread")]
async fn every_retryable_fault_is_retried_then_succeeds() {
    let rejected_before_running = 2;
    let lost_after_running = 3;
    let faults = [
        (
            Fault::HttpStatus {
                status: 429,
                retry_after: None,
            },
            rejected_before_running,
        ),
        (
            Fault::HttpStatus {
                status: 500,
                retry_after: None,
            },
            rejected_before_running,
        ),
        (
            Fault::HttpStatus {
                status: 502,
                retry_after: None,
            },
            rejected_before_running,
        ),
        (
            Fault::HttpStatus {
                status: 503,
                retry_after: None,
            },
            rejected_before_running,
        ),
        (
            Fault::HttpStatus {
                status: 504,
                retry_after: None,
            },
            rejected_before_running,
        ),
        (
            Fault::TaskError {
                code: "timeoutProvider".into(),
            },
            rejected_before_running,
        ),
        (
            Fault::TaskError {
                code: "providerRateLimitExceeded".into(),
            },
            rejected_before_running,
        ),
        (
            Fault::TaskError {
                code: "inferenceError".into(),
            },
            rejected_before_running,
        ),
        (Fault::ResetAfterAccept, lost_after_running),
        (Fault::TruncatedBody, lost_after_running),
        (Fault::NonJsonBody, lost_after_running),
        (Fault::WrongTypes, lost_after_running),
    ];
    for (fault, expected_posts) in faults {
        let h =
            Harness::start_with(|b| b.fault(FaultRule::new(fault.clone()).first_requests(1))).await;
        let run = h
            .run(&[
                "--verbose",
                "text-to-image",
                "--prompt",
                "a retry",
                "--width",
                "256",
                "--height",
                "256",
            ])
            .await;
        assert_eq!(
            run.code, 0,
            "{fault:?}\nstdout:\n{}\nstderr:\n{}",
            run.stdout, run.stderr
        );
        let images = run.data();
        assert_eq!(images.len(), 1, "{fault:?}: {}", run.stdout);
        assert_eq!(h.posts().len(), expected_posts, "{fault:?}\n{}", run.stderr);
        assert!(
            run.stderr.contains("attempt 2"),
            "{fault:?}: the retry is traced\n{}",
            run.stderr
        );
        let task_uuid = images[0]["taskUUID"].as_str().expect("taskUUID");
        assert_eq!(
            h.emulator.executions(task_uuid),
            1,
            "{fault:?}: the image was made (and billed) once"
        );
        h.emulator.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn non_retryable_errors_are_not_retried() {
    // A server-side validation error (raw bypasses the component's own range checks).
    let h = Harness::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_json(
        &dir,
        "bad.json",
        &json!([image_task(json!({"width": 1000}))]),
    );
    let run = h.run(&["raw", &file]).await;
    run.assert_code(1);
    let errors = run.errors();
    assert_eq!(errors[0]["code"], "invalidWidth", "{}", run.stdout);
    assert_eq!(h.posts().len(), 1, "validation errors are not retried");

    // An unknown key.
    let run = h
        .run_with_key(
            &[
                "text-to-image",
                "--prompt",
                "no entry",
                "--width",
                "256",
                "--height",
                "256",
            ],
            Some("wrong-key-123"),
        )
        .await;
    run.assert_code(1);
    assert!(
        run.stdout.contains("invalidApiKey") || run.stderr.contains("invalidApiKey"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    assert_eq!(h.posts().len(), 2, "auth errors are not retried");

    // Insufficient credits (HTTP 402).
    h.emulator.add_fault(FaultRule::new(Fault::HttpStatus {
        status: 402,
        retry_after: None,
    }));
    let run = h
        .run(&[
            "text-to-image",
            "--prompt",
            "no credit",
            "--width",
            "256",
            "--height",
            "256",
        ])
        .await;
    run.assert_code(1);
    assert_eq!(h.posts().len(), 3, "credit errors are not retried");
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_after_is_honoured() {
    let h = Harness::start_with(|b| {
        b.fault(
            FaultRule::new(Fault::HttpStatus {
                status: 503,
                retry_after: Some(1),
            })
            .first_requests(1),
        )
    })
    .await;
    let run = h
        .run(&[
            "--verbose",
            "text-to-image",
            "--prompt",
            "patience",
            "--width",
            "256",
            "--height",
            "256",
        ])
        .await;
    run.assert_code(0);
    assert!(
        run.stderr.contains("retry in 1000 ms"),
        "the wait is the server's Retry-After:\n{}",
        run.stderr
    );
    assert_eq!(h.posts().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn exhausted_retries_exit_3_within_the_deadline() {
    let h = Harness::start_with(|b| {
        b.fault(FaultRule::new(Fault::HttpStatus {
            status: 503,
            retry_after: None,
        }))
    })
    .await;
    let run = h
        .run(&[
            "--max-retries",
            "2",
            "--timeout",
            "20",
            "text-to-image",
            "--prompt",
            "never",
            "--width",
            "256",
            "--height",
            "256",
        ])
        .await;
    run.assert_code(3);
    assert_eq!(h.posts().len(), 3, "the first attempt and two retries");
    assert!(
        run.elapsed < Duration::from_secs(20),
        "ended within the deadline: {:?}",
        run.elapsed
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_server_ends_in_exit_3_at_the_deadline() {
    let h = Harness::start_with(|b| b.latency(Duration::from_secs(30))).await;
    let run = h
        .run(&[
            "--timeout",
            "2",
            "text-to-image",
            "--prompt",
            "too slow",
            "--width",
            "256",
            "--height",
            "256",
        ])
        .await;
    run.assert_code(3);
    assert!(
        run.elapsed < Duration::from_secs(15),
        "bounded by the deadline: {:?}",
        run.elapsed
    );
}

// ---------------------------------------------------------------------------------------------
// Partial success, async, lost responses, garbage.

#[tokio::test(flavor = "multi_thread")]
async fn partial_success_prints_data_and_errors_and_exits_1() {
    let h = Harness::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_json(
        &dir,
        "tasks.json",
        &json!([image_task(json!({})), image_task(json!({"height": 100}))]),
    );
    let run = h.run(&["raw", &file]).await;
    run.assert_code(1);
    assert_eq!(
        run.data().len(),
        1,
        "the good task's image is kept: {}",
        run.stdout
    );
    let errors = run.errors();
    assert_eq!(errors.len(), 1, "{}", run.stdout);
    assert_eq!(errors[0]["code"], "invalidHeight");
    assert!(errors[0]["taskUUID"].is_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn async_delivery_polls_until_the_images_are_ready() {
    let h = Harness::start_with(|b| b.async_processing(Duration::from_millis(300))).await;
    let run = h
        .run(&[
            "text-to-image",
            "--prompt",
            "an async lighthouse",
            "--width",
            "256",
            "--height",
            "256",
            "--number-results",
            "2",
            "--async",
        ])
        .await;
    run.assert_code(0);
    let images: Vec<_> = run
        .data()
        .into_iter()
        .filter(|d| d["imageUUID"].is_string())
        .collect();
    assert_eq!(images.len(), 2, "{}", run.stdout);
    assert!(
        !h.posts_with("getResponse").is_empty(),
        "results came through getResponse"
    );
    let first = &h.posts()[0];
    assert!(
        first.body.contains("\"async\""),
        "sent with deliveryMethod async: {}",
        first.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_response_is_recovered_through_conflict_and_get_response() {
    let h = Harness::start_with(|b| {
        b.fault(
            FaultRule::new(Fault::ResetAfterAccept)
                .task_type("imageInference")
                .first_requests(1),
        )
    })
    .await;
    let run = h
        .run(&[
            "--verbose",
            "text-to-image",
            "--prompt",
            "lost and found",
            "--width",
            "256",
            "--height",
            "256",
        ])
        .await;
    run.assert_code(0);
    let data = run.data();
    let task_uuid = data[0]["taskUUID"].as_str().expect("taskUUID").to_owned();
    assert!(data[0]["imageUUID"].is_string(), "{}", run.stdout);
    assert_eq!(
        h.emulator.executions(&task_uuid),
        1,
        "the task ran (and was billed) once"
    );
    let sends: Vec<_> = h
        .posts()
        .into_iter()
        .filter(|r| r.task_uuids.contains(&task_uuid))
        .collect();
    assert!(
        sends.len() >= 3,
        "sent, resent (conflict), then fetched with getResponse: {sends:?}"
    );
    assert!(!h.posts_with("getResponse").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_responses_give_a_clear_error_and_no_trap() {
    for fault in [Fault::NonJsonBody, Fault::WrongTypes, Fault::TruncatedBody] {
        let h = Harness::start_with(|b| b.fault(FaultRule::new(fault.clone()))).await;
        let run = h
            .run(&[
                "--max-retries",
                "1",
                "text-to-image",
                "--prompt",
                "garbage",
                "--width",
                "256",
                "--height",
                "256",
            ])
            .await;
        // 3 when the client gave up retrying an unreadable answer; 1 when the server's last answer
        // was an error status whose body could not be read.
        assert!(
            matches!(run.code, 1 | 3),
            "{fault:?}: a clear failure\n{}\n{}",
            run.stdout,
            run.stderr
        );
        assert!(
            run.stderr.contains("could not be read") || run.stderr.contains("transport"),
            "{fault:?}: says why\n{}",
            run.stderr
        );
        let lower = run.stderr.to_lowercase();
        assert!(
            !lower.contains("panic") && !lower.contains("wasm trap"),
            "{fault:?}: no trap\n{}",
            run.stderr
        );
        assert!(!run.stderr.trim().is_empty(), "{fault:?}: says what failed");
        h.emulator.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_retries_only_its_failed_task() {
    let h = Harness::start_with(|b| {
        b.fault(
            FaultRule::new(Fault::TaskError {
                code: "timeoutProvider".into(),
            })
            .task_type("imageInference")
            .first_requests(1),
        )
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_json(
        &dir,
        "tasks.json",
        &json!([
            image_task(json!({})),
            {"taskType": "promptEnhance", "prompt": "a cat in a hat", "promptMaxLength": 64, "promptVersions": 1},
        ]),
    );
    let run = h.run(&["raw", &file]).await;
    run.assert_code(0);
    let data = run.data();
    let enhance = data
        .iter()
        .find(|d| d["taskType"] == "promptEnhance")
        .expect("promptEnhance result");
    let enhance_uuid = enhance["taskUUID"].as_str().expect("uuid").to_owned();
    assert!(
        data.iter().any(|d| d["taskType"] == "imageInference"),
        "{}",
        run.stdout
    );
    let carrying: Vec<_> = h
        .posts()
        .into_iter()
        .filter(|r| r.task_uuids.contains(&enhance_uuid))
        .collect();
    assert_eq!(
        carrying.len(),
        1,
        "the task that succeeded was never sent again"
    );
    assert_eq!(h.emulator.executions(&enhance_uuid), 1);
    assert_eq!(h.posts().len(), 2, "one retry, for the image task only");
}

// ---------------------------------------------------------------------------------------------
// Input errors: exit 2, nothing sent, nothing echoed.

#[tokio::test(flavor = "multi_thread")]
async fn invalid_typed_requests_cost_no_request() {
    let h = Harness::start().await;
    let run = h
        .run(&["text-to-image", "--prompt", "wide", "--width", "1000"])
        .await;
    run.assert_code(2);
    assert!(
        run.stderr.contains("width") && run.stderr.contains("1000"),
        "names the field and value:\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("2048"),
        "names the allowed range:\n{}",
        run.stderr
    );
    assert!(h.emulator.request_log().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_in_a_raw_file_is_refused_and_never_echoed() {
    let h = Harness::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let planted = format!("planted-{}", uuid_like());
    for tasks in [
        json!([{"taskType": "authentication", "apiKey": planted}, image_task(json!({}))]),
        json!([image_task(json!({"apiKey": planted}))]),
    ] {
        let file = write_json(&dir, "keyed.json", &tasks);
        let run = h.run(&["raw", &file]).await;
        run.assert_code(2);
        assert!(
            run.stderr.contains("RUNWARE_API_KEY"),
            "points to the variable:\n{}",
            run.stderr
        );
        assert!(
            !run.stderr.contains(&planted) && !run.stdout.contains(&planted),
            "never echoed"
        );
    }
    assert!(h.emulator.request_log().is_empty(), "nothing sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_input_and_missing_key_exit_2() {
    let h = Harness::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("broken.json");
    std::fs::write(&path, "[{\"taskType\": \"imageInference\",").expect("write");
    let run = h.run(&["raw", &path.to_string_lossy()]).await;
    run.assert_code(2);
    assert!(
        run.stderr.contains("line"),
        "says where the file is broken:\n{}",
        run.stderr
    );

    let run = h
        .run_with_key(&["model-search", "--search", "flux"], None)
        .await;
    run.assert_code(2);
    assert!(run.stderr.contains("RUNWARE_API_KEY"), "{}", run.stderr);

    let run = h.run(&["text-to-image", "--no-such-flag"]).await;
    run.assert_code(2);
    assert!(h.emulator.request_log().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_key_stays_out_of_verbose_traces_of_a_failing_run() {
    let h = Harness::start_with(|b| {
        b.fault(FaultRule::new(Fault::HttpStatus {
            status: 500,
            retry_after: None,
        }))
    })
    .await;
    let run = h
        .run(&[
            "--verbose",
            "--max-retries",
            "2",
            "text-to-image",
            "--prompt",
            "leak?",
            "--width",
            "256",
            "--height",
            "256",
        ])
        .await;
    run.assert_code(3);
    assert!(
        run.stderr.contains("attempt 3"),
        "every attempt traced:\n{}",
        run.stderr
    );
    // `run` already asserted that the key is absent from stdout, stderr and every logged body;
    // the key did reach the emulator, as a header only.
    assert!(
        h.posts().iter().all(|r| r.key_valid),
        "the host injected a valid key"
    );
}
