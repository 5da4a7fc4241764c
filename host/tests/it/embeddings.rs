//! The same component embedded from other runtimes: each test starts an emulator in-process,
//! writes the component to a temporary file and runs one runtime's example
//! (`examples/node`: jco on Node; `examples/python`: wasmtime-py; the wasmtime CLI when it is
//! installed) through the shared scenario `examples/scenario.json`, or the edge function of
//! `examples/edge` (its JavaScript and Python apps, each composed with the component, served by
//! `jco serve`), then checks on the
//! emulator's side that every request carried the key from the host's environment.
//!
//! The children get `RUNWARE_COMPONENT`, `RUNWARE_BASE_URL` and `RUNWARE_API_KEY`; their output
//! is printed when they fail. Node, npm and Python 3 are required (CI has them): a missing one
//! fails its test with a message saying so. The wasmtime CLI is optional: absent, its test
//! prints that it skipped.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use runware_emulator::{AuthKind, EmulatorHandle};
use tokio::process::Command;

use crate::common::{component_bytes, emulator_builder, start};

/// How long one child (an install or a test run) may take before the test fails.
const CHILD_TIMEOUT: Duration = Duration::from_secs(600);

/// The workspace root.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

/// How many steps the shared scenario has (each runtime reports one test per step).
fn scenario_steps() -> usize {
    let path = workspace().join("examples/scenario.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let scenario: serde_json::Value = serde_json::from_str(&text).expect("scenario.json is JSON");
    scenario["steps"]
        .as_array()
        .map(Vec::len)
        .expect("scenario.json has a `steps` array")
}

/// An obviously fake key, fresh per test.
fn test_key() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    crate::common::test_key(&format!("embed-{nanos}"))
}

/// A running emulator, the component written to a file, and the environment for a child.
struct Fixture {
    emulator: EmulatorHandle,
    key: String,
    _dir: tempfile::TempDir,
    component: PathBuf,
}

impl Fixture {
    async fn start() -> Self {
        let key = test_key();
        // Async tasks stay `processing` for a while, so the async step really polls.
        let emulator =
            start(emulator_builder(&key).async_processing(Duration::from_millis(300))).await;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let component = dir.path().join("runware_guest.wasm");
        std::fs::write(&component, component_bytes()).expect("the component is written");
        Self {
            emulator,
            key,
            _dir: dir,
            component,
        }
    }

    /// `RUNWARE_COMPONENT`, `RUNWARE_BASE_URL` and `RUNWARE_API_KEY` for a child.
    fn env(&self, command: &mut Command) {
        command
            .env("RUNWARE_COMPONENT", &self.component)
            .env("RUNWARE_BASE_URL", self.emulator.base_url())
            .env("RUNWARE_API_KEY", &self.key);
    }

    /// The emulator saw requests, each task request authenticated by `Authorization: Bearer`
    /// with the key, and executed no task twice. Then it stops.
    async fn check_and_stop(self, runtime: &str) {
        let log = self.emulator.request_log();
        assert!(!log.is_empty(), "{runtime}: the emulator saw no request");
        for request in log.iter().filter(|r| r.method == "POST") {
            assert_eq!(
                (request.auth, request.key_valid),
                (AuthKind::Bearer, true),
                "{runtime}: a request without the host's key: {} {} -> {}",
                request.method,
                request.path,
                request.status
            );
            for uuid in &request.executed {
                assert_eq!(
                    self.emulator.executions(uuid),
                    1,
                    "{runtime}: task {uuid} ran more than once"
                );
            }
        }
        self.emulator.stop().await;
    }
}

/// Fails the test with a clear message when `tool` cannot be run.
async fn require(tool: &str, needed_for: &str) {
    let found = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "`{tool}` is not installed or not on PATH; the {needed_for} embedding test needs it"
    );
}

/// Runs a child to completion (bounded by [`CHILD_TIMEOUT`]) and fails the test, printing its
/// output, unless it succeeded.
async fn run(command: &mut Command, what: &str) -> Output {
    command.kill_on_drop(true).stdin(Stdio::null());
    let output = tokio::time::timeout(CHILD_TIMEOUT, command.output())
        .await
        .unwrap_or_else(|_| panic!("{what}: still running after {CHILD_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{what} failed ({}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        output.status
    );
    println!("{what}:\n{stdout}{stderr}");
    output
}

/// Whether `installed` is missing or older than `source` (compared by modification time).
fn stale(installed: &Path, source: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (modified(installed), modified(source)) {
        (Some(installed), Some(source)) => installed < source,
        _ => true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_jco_runs_the_scenario() {
    require("node", "Node (jco)").await;
    require("npm", "Node (jco)").await;
    let dir = workspace().join("examples/node");
    npm_ci(&dir, "examples/node").await;
    let fixture = Fixture::start().await;
    let mut test = Command::new("npm");
    test.arg("test").current_dir(&dir);
    fixture.env(&mut test);
    let output = run(&mut test, "npm test (examples/node)").await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let steps = scenario_steps();
    assert!(
        stdout.contains(&format!("# pass {steps}\n")) && stdout.contains("# fail 0\n"),
        "node did not pass the scenario's {steps} steps:\n{stdout}"
    );
    fixture.check_and_stop("node").await;
}

/// `npm ci` in `dir` unless node_modules already holds what package-lock.json pins (npm records
/// what it installed in node_modules/.package-lock.json).
async fn npm_ci(dir: &Path, what: &str) {
    if stale(
        &dir.join("node_modules/.package-lock.json"),
        &dir.join("package-lock.json"),
    ) {
        run(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(dir),
            &format!("npm ci ({what})"),
        )
        .await;
    }
}

/// The edge function (`examples/edge`): `npm test` builds the JS app with componentize-js and
/// the Python app with componentize-py (into a venv of its own), composes each with the
/// component (`runware-compose plug`), checks each composition's imports, serves each with
/// `jco serve` and checks its endpoints against this emulator; then serves the JS app under this host's
/// policy (`serve::edge_app_under_the_host_policy`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_function_composed_and_served_by_jco() {
    require("node", "edge function (jco serve)").await;
    require("npm", "edge function (jco serve)").await;
    require("python3", "edge function (componentize-py)").await;
    let dir = workspace().join("examples/edge");
    npm_ci(&dir, "examples/edge").await;
    let fixture = Fixture::start().await;
    let mut test = Command::new("npm");
    test.arg("test").current_dir(&dir);
    fixture.env(&mut test);
    let output = run(&mut test, "npm test (examples/edge)").await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    // Five checks for each of the two apps; the timing test is skipped unless EDGE_BENCH is set.
    assert!(
        stdout.contains("# pass 10\n") && stdout.contains("# fail 0\n"),
        "the edge function did not pass its 5 checks for each app (JavaScript, Python):\n{stdout}"
    );
    fixture.check_and_stop("edge (jco serve)").await;
    // The same app, built just now, with this host as its trusted runtime (here, not in a test
    // of its own, so it never reads build/ while another test rebuilds it).
    crate::serve::edge_app_under_the_host_policy(&dir.join("build/js/edge.wasm")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_wasmtime_py_runs_the_scenario() {
    require("python3", "Python (wasmtime-py)").await;
    let root = workspace();
    let example = root.join("examples/python");
    let venv = root.join("target/py-venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        run(
            Command::new("python3").arg("-m").arg("venv").arg(&venv),
            "python3 -m venv target/py-venv (Debian needs the python3-venv package)",
        )
        .await;
    }
    // Install the pinned requirements once; the marker holds what was installed.
    let requirements = std::fs::read_to_string(example.join("requirements.txt"))
        .expect("examples/python/requirements.txt");
    let marker = venv.join(".runware-requirements.txt");
    if std::fs::read_to_string(&marker).ok().as_deref() != Some(requirements.as_str()) {
        run(
            Command::new(&python)
                .args(["-m", "pip", "install", "--quiet", "-r", "requirements.txt"])
                .current_dir(&example),
            "pip install -r examples/python/requirements.txt",
        )
        .await;
        std::fs::write(&marker, &requirements).expect("the requirements marker is written");
    }
    let fixture = Fixture::start().await;
    let mut test = Command::new(&python);
    test.args(["-m", "unittest", "-v", "test_scenario"])
        .current_dir(&example);
    fixture.env(&mut test);
    let output = run(
        &mut test,
        "python -m unittest test_scenario (examples/python)",
    )
    .await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let steps = scenario_steps();
    assert!(
        stderr.contains(&format!("Ran {steps} tests")) && stderr.contains("\nOK"),
        "python did not pass the scenario's {steps} steps:\n{stderr}"
    );
    fixture.check_and_stop("python").await;
}

/// Runs `wasmtime` with `args` and the component, returning (success, stderr).
async fn wasmtime(args: &[&str], component: &Path) -> (bool, String) {
    let output = tokio::time::timeout(
        CHILD_TIMEOUT,
        Command::new("wasmtime")
            .arg("run")
            .args(args)
            .arg(component)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("wasmtime finishes")
    .expect("wasmtime starts");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    println!("wasmtime run {args:?}: {}\n{stderr}", output.status);
    (output.status.success(), stderr)
}

/// The wasmtime CLI (48.0.8) links the component with `-S http` alone, but `--invoke` cannot
/// reach its API: it calls one exported function by a plain name (`[pkg:ns/]name[.name]`), so
/// `[static]client.open` cannot be named, and a resource handle could not outlive the run anyway.
/// Should that change, this test fails and the README's CLI section needs updating.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasmtime_cli_links_the_component_but_cannot_invoke_its_resource() {
    let version = Command::new("wasmtime").arg("--version").output().await;
    let Some(version) = version.ok().filter(|o| o.status.success()) else {
        println!(
            "skipped: no `wasmtime` on PATH (`cargo install wasmtime-cli@48.0.8 --locked` takes \
             about 8 minutes, so CI does not install it)"
        );
        return;
    };
    println!("{}", String::from_utf8_lossy(&version.stdout).trim());
    let dir = tempfile::tempdir().expect("a temporary directory");
    let component = dir.path().join("runware_guest.wasm");
    std::fs::write(&component, component_bytes()).expect("the component is written");

    // Without -S http the import is unsatisfied.
    let (ok, stderr) = wasmtime(&[], &component).await;
    assert!(
        !ok && stderr.contains("wasi:http"),
        "expected a missing wasi:http"
    );
    // With it every import links; the run then fails only for want of a `wasi:cli/run` export.
    let (ok, stderr) = wasmtime(&["-S", "http"], &component).await;
    assert!(
        !ok && !stderr.contains("matching implementation was not found"),
        "expected the component to link with -S http alone"
    );
    // --invoke cannot name the resource's static function.
    let (ok, _) = wasmtime(&["-S", "http", "--invoke", "client.open({})"], &component).await;
    assert!(!ok, "`--invoke client.open(…)` unexpectedly worked");
}
