//! The CLI's exit codes for input errors, a transport failure and a dry run, and one command
//! against the in-process emulator (moved from the host's integration tests with the binary).

use std::path::PathBuf;
use std::process::Output;

/// The compiled-code cache of the end-to-end suite (`e2e.rs`), shared so that the component is
/// compiled once for the whole test binary.
fn shared_cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e-component-cache")
}

/// A key that is obviously fake and unique to this test run.
fn test_key(tag: &str) -> String {
    format!("test-{tag}-{}", std::process::id())
}

/// Runs `runware ARGS` without a key or base URL from the environment, feeding `stdin` if any.
fn cli(args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write as _;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_runware"));
    cmd.args(args)
        .env_remove("RUNWARE_API_KEY")
        .env_remove("RUNWARE_BASE_URL")
        .env("RUNWARE_CACHE_DIR", shared_cache_dir())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run the CLI: {e}"));
    // Dropping stdin closes it, so a command reading `-` sees the end of input.
    if let (Some(mut input), Some(text)) = (child.stdin.take(), stdin) {
        input
            .write_all(text.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
    }
    child.wait_with_output().unwrap_or_else(|e| panic!("{e}"))
}

/// Output bytes as text, for messages and `contains` checks.
fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn cli_missing_key_exits_2_naming_the_variable() {
    let out = cli(&["model-search", "--search", "flux"], None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("RUNWARE_API_KEY"));
    assert!(out.stdout.is_empty());
}

#[test]
fn cli_usage_errors_exit_2() {
    for args in [
        &["--no-such-flag", "model-search", "--search", "x"][..],
        &["model-search"][..],
        &["text-to-image", "--prompt", "a cat", "--width", "wide"][..],
        &["--timeout", "0", "model-search", "--search", "x"][..],
        &["--timeout", "-1", "model-search", "--search", "x"][..],
    ] {
        let out = cli(args, None);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    let out = cli(&["--help"], None);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    for needle in [
        "Exit codes",
        "RUNWARE_API_KEY",
        "RUNWARE_BASE_URL",
        "--emulator",
    ] {
        assert!(help.contains(needle), "--help mentions {needle}");
    }
}

#[test]
fn cli_raw_refuses_malformed_json_with_its_position() {
    let out = cli(
        &["--emulator", "raw", "-"],
        Some("[\n  {\"taskType\": }\n]"),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("line 2"), "{err}");
    assert!(err.contains("column"), "{err}");
}

#[test]
fn cli_raw_refuses_a_key_in_the_file_without_echoing_it() {
    let secret = test_key("file");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = dir.path().join("tasks.json");
    std::fs::write(
        &file,
        format!(r#"[{{"taskType":"authentication","apiKey":"{secret}"}}]"#),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let path = file.to_string_lossy().into_owned();
    let out = cli(&["--emulator", "raw", &path], None);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("RUNWARE_API_KEY"), "{err}");
    assert!(!err.contains(&secret) && !text(&out.stdout).contains(&secret));
}

#[test]
fn cli_invalid_request_is_an_input_error_and_sends_nothing() {
    let out = cli(
        &[
            "--emulator",
            "text-to-image",
            "--prompt",
            "a cat",
            "--width",
            "100",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("width"), "{}", text(&out.stderr));
}

#[test]
fn cli_model_search_against_the_emulator() {
    let out = cli(
        &[
            "--emulator",
            "model-search",
            "--search",
            "flux",
            "--limit",
            "2",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("stdout is JSON: {e}"));
    assert!(json.get("data").is_some_and(|d| d.is_array()), "{json}");
}

/// A loopback port with nothing listening (bound, then released).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn cli_transport_failure_exits_3() {
    let base = format!("http://127.0.0.1:{}/v1", closed_port());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_runware"))
        .args(["--base-url", &base, "--max-retries", "0", "--timeout", "20"])
        .args(["model-search", "--search", "flux"])
        .env("RUNWARE_API_KEY", test_key("transport"))
        .env("RUNWARE_CACHE_DIR", shared_cache_dir())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("stdout is JSON: {e}"));
    assert_eq!(
        json["errors"][0]["code"], "transportError",
        "the error is on stdout too: {json}"
    );
}

#[test]
fn cli_dry_run_needs_no_key_and_sends_nothing() {
    let base = format!("http://127.0.0.1:{}/v1", closed_port());
    let out = cli(
        &[
            "--base-url",
            &base,
            "text-to-image",
            "--prompt",
            "a lighthouse",
            "--dry-run",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("stdout is JSON: {e}"));
    assert_eq!(json[0]["taskType"], "imageInference", "{json}");
    assert_eq!(json[0]["positivePrompt"], "a lighthouse", "{json}");
}

/// `runware serve` checks its app before anything starts: a file that is not an app component
/// importing `runware:client/api` (here, a missing one and a non-component) is a usage error
/// naming the file; `--help` states the security model.
#[test]
fn cli_serve_refuses_what_is_not_an_app_and_explains_the_key() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let not_wasm = dir.path().join("app.wasm");
    std::fs::write(&not_wasm, b"not a component").unwrap_or_else(|e| panic!("{e}"));
    let missing = dir.path().join("missing.wasm");
    for app in [&not_wasm, &missing] {
        let path = app.to_string_lossy().into_owned();
        let out = cli(
            &["--emulator", "serve", &path, "--listen", "127.0.0.1:0"],
            None,
        );
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(&path), "{stderr}");
    }
    let help = text(&cli(&["serve", "--help"], None).stdout);
    for claim in [
        "stays in this process",
        "never the key",
        "API's origin",
        "spend the key",
    ] {
        assert!(
            help.contains(claim),
            "`serve --help` lacks {claim:?}:\n{help}"
        );
    }
}
