//! Conformance with Runware's official Python SDK (`runware-sdk` 1.8.x, PyPI).
//!
//! The test creates a virtualenv at `target/sdk-venv` once (reused by later runs; delete it to
//! force a reinstall), starts the emulator in-process with a throwaway key, and runs
//! `tests/it/sdk_conformance/conformance.py`, which drives the SDK over REST and over WebSocket:
//! a model search, a sync (URL and base64) and an async image generation with the images
//! downloaded and decoded, an async task that stays `processing` (the SDK must keep polling), the
//! typed errors for a bad width, a bad key and a bad video duration, the utilities (imageUpload,
//! caption, upscale, removeBackground, promptEnhance, getTaskDetails, in the old and the current
//! schema, with the cut-out's alpha checked), a video to success (downloaded, its MP4 boxes read
//! back), two videos whose `progress` the SDK reports while it polls, a failed video (an injected
//! provider error) and one that never finishes (the SDK's own timeout must end the wait), a WAV
//! audio (its duration read back), an account lookup and, over REST, a retried HTTP 503. The script prints
//! one JSON line per check; this test asserts every expected check passed, and that the SDK
//! executed each image task exactly once.
//!
//! It fails (never skips) when the SDK misbehaves, and fails with a clear message when python3,
//! venv or pip (and PyPI, for the first install) are unavailable.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use runware_emulator::{Emulator, ImageMode};
use serde_json::Value;

const SDK_REQUIREMENT: &str = "runware-sdk==1.8.*";
const SDK_VERSION_PREFIX: &str = "1.8.";
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(600);

/// The checks `conformance.py` must report, per transport.
const CHECKS: &[&str] = &[
    "modelSearch",
    "imageInference.sync",
    "imageInference.sync.base64",
    "imageInference.async",
    "error.invalidWidth",
    "error.invalidApiKey",
    "utilities",
    "imageInference.async.processing",
    "videoInference.async",
    "videoInference.progress",
    "error.invalidDuration",
    "audioInference",
    "tools.image",
    "promptEnhance",
    "accountManagement",
];
/// Checks that only apply to REST (the emulator's fault rules count REST requests only).
const REST_CHECKS: &[&str] = &[
    "retry.http503",
    "error.videoTask",
    "videoInference.neverFinish",
];
const TRANSPORTS: &[&str] = &["rest", "websocket"];

/// Cargo's target directory (the parent of this test's `CARGO_TARGET_TMPDIR`).
fn target_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).to_path_buf()
}

fn run(cmd: &mut std::process::Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn venv_python(venv: &Path) -> PathBuf {
    venv.join("bin").join("python")
}

/// The installed SDK version, if the venv is complete.
fn sdk_version(venv: &Path) -> Option<String> {
    let out = std::process::Command::new(venv_python(venv))
        .args([
            "-c",
            "import importlib.metadata as m, runware; print(m.version('runware-sdk'))",
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Returns the path of a venv with the SDK, creating it on first use. The venv is built under a
/// temporary name and renamed into place, so an interrupted install is never reused.
fn ensure_venv() -> PathBuf {
    let venv = target_dir().join("sdk-venv");
    if venv.exists() {
        let version = sdk_version(&venv).unwrap_or_else(|| {
            panic!(
                "{} exists but cannot import the SDK; delete it to reinstall",
                venv.display()
            )
        });
        assert!(
            version.starts_with(SDK_VERSION_PREFIX),
            "{} holds runware-sdk {version}, expected {SDK_REQUIREMENT}; delete it to reinstall",
            venv.display()
        );
        return venv;
    }
    let staging = target_dir().join(format!("sdk-venv.tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    run(
        std::process::Command::new("python3")
            .args(["-m", "venv"])
            .arg(&staging),
        "creating the virtualenv (python3 with the venv module is required)",
    );
    run(
        std::process::Command::new(venv_python(&staging))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                SDK_REQUIREMENT,
            ])
            .env("PIP_NO_INPUT", "1"),
        "installing runware-sdk from PyPI (pip and network access to PyPI are required once)",
    );
    if std::fs::rename(&staging, &venv).is_err() {
        // Another test process won the race: use its venv.
        let _ = std::fs::remove_dir_all(&staging);
    }
    let version = sdk_version(&venv).expect("the new virtualenv imports the SDK");
    assert!(
        version.starts_with(SDK_VERSION_PREFIX),
        "installed {version}"
    );
    venv
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_sdk_works_against_the_emulator() {
    let venv = tokio::task::spawn_blocking(ensure_venv)
        .await
        .expect("venv setup");
    let key = format!("test-{}", uuid::Uuid::new_v4().simple());
    let emu = Emulator::builder()
        .api_key(&key)
        .image_mode(ImageMode::Render)
        .start()
        .await
        .expect("emulator starts");

    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/sdk_conformance/conformance.py");
    let child = tokio::process::Command::new(venv_python(&venv))
        .arg(&script)
        .env("RUNWARE_EMULATOR_HTTP", emu.base_url())
        .env("RUNWARE_EMULATOR_WS", emu.ws_url())
        .env("RUNWARE_EMULATOR_KEY", &key)
        .env("RUNWARE_CONFORMANCE_TRANSPORTS", TRANSPORTS.join(","))
        .env_remove("RUNWARE_API_KEY")
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python starts");
    let out = tokio::time::timeout(SCRIPT_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("conformance.py did not finish within {SCRIPT_TIMEOUT:?}"))
        .expect("conformance.py runs");
    let stdout = String::from_utf8_lossy(&out.stdout).replace(&key, "[REDACTED]");
    let stderr = String::from_utf8_lossy(&out.stderr).replace(&key, "[REDACTED]");
    let report = format!("--- stdout\n{stdout}\n--- stderr\n{stderr}");

    let lines: Vec<Value> = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l:?}: {e}\n{report}"))
        })
        .collect();
    let header = lines
        .first()
        .unwrap_or_else(|| panic!("no output\n{report}"));
    assert!(
        header["version"]
            .as_str()
            .is_some_and(|v| v.starts_with(SDK_VERSION_PREFIX)),
        "SDK version line: {header}\n{report}"
    );

    let mut failures = Vec::new();
    let mut image_tasks = Vec::new();
    for transport in TRANSPORTS {
        let rest_only = if *transport == "rest" {
            REST_CHECKS
        } else {
            &[]
        };
        for check in CHECKS.iter().chain(rest_only) {
            match lines
                .iter()
                .find(|l| l["check"] == *check && l["transport"] == *transport)
            {
                None => failures.push(format!("{check} over {transport}: not reported")),
                Some(l) if l["ok"] != true => {
                    failures.push(format!("{check} over {transport}: {}", l["detail"]))
                }
                Some(l) => {
                    if (check.starts_with("imageInference") || *check == "utilities")
                        && let Some(t) = l["detail"]["taskUUID"].as_str()
                    {
                        image_tasks.push(t.to_string());
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "the SDK failed against the emulator:\n  {}\n{report}",
        failures.join("\n  ")
    );
    assert!(
        out.status.success(),
        "conformance.py exited with {}\n{report}",
        out.status
    );

    // The SDK submitted each generation exactly once (no double billing from its retries).
    assert_eq!(image_tasks.len(), 5 * TRANSPORTS.len(), "{report}");
    for task in &image_tasks {
        assert_eq!(emu.executions(task), 1, "task {task} executions\n{report}");
    }
    // Both transports reached the emulator, and the wrong keys were seen and refused.
    let log = emu.request_log();
    assert!(
        log.iter().any(|r| r.key_valid),
        "no authenticated request logged"
    );
    assert!(
        log.iter().any(|r| !r.key_valid),
        "the bad-key attempts were not logged"
    );
    assert!(
        log.iter().all(|r| !r.body.contains(&key)),
        "the request log holds an unredacted key"
    );
    // Shown with `--nocapture`: what was checked, over which transport, and how long it took.
    eprintln!("{stdout}");
    emu.stop().await;
}
