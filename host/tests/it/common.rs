//! The set-up every test module shares, written once: the component under test, the runtime
//! (one per binary, its compiled code cached under the target dir), test keys, emulators
//! started with a key, the client configuration for an emulator, and the helpers that unwrap a
//! call expected to succeed and print the whole error (with what the component wrote to
//! stderr) when it did not.

use std::fmt::{Display, Write as _};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use runware_emulator::{Emulator, EmulatorBuilder, EmulatorHandle};
use runware_host::{
    ApiKey, ClientConfig, ClientOptions, Error, ModelSearchRequest, Runtime, RuntimeConfig, millis,
};

/// The component under test: the one runware-host embeds (its build script builds `guest/`, or
/// embeds the file named by `RUNWARE_COMPONENT` at build time).
pub fn component_bytes() -> &'static [u8] {
    runware_host::EMBEDDED_COMPONENT
}

/// The compiled-code cache shared by every test and the CLI runs (so only the first compiles).
pub fn shared_cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("runware-host-tests-cache")
}

/// The default runtime configuration, with the shared compiled-code cache.
pub fn runtime_config() -> RuntimeConfig {
    RuntimeConfig {
        cache_dir: Some(shared_cache_dir()),
        ..RuntimeConfig::default()
    }
}

/// One runtime for the whole test binary, as an embedder would hold it.
pub fn runtime() -> Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| ok_with(Runtime::new(runtime_config()), "the runtime must load"))
        .clone()
}

/// A runtime of its own (a memory cap, pooling, a memory probe); build `config` on
/// [`runtime_config`] to share the cache.
pub fn new_runtime(config: RuntimeConfig) -> Runtime {
    ok_with(Runtime::new(config), "the runtime must load")
}

/// A key that is obviously fake and unique to this test process.
pub fn test_key(tag: &str) -> String {
    format!("test-{tag}-{}", std::process::id())
}

/// An emulator builder that accepts `key`; add faults, latency and so on, then [`start`] it.
pub fn emulator_builder(key: &str) -> EmulatorBuilder {
    Emulator::builder().api_key(key)
}

/// Starts an emulator (the test fails if it cannot).
pub async fn start(builder: EmulatorBuilder) -> EmulatorHandle {
    builder
        .start()
        .await
        .unwrap_or_else(|e| panic!("the emulator must start: {e:#}"))
}

/// A plain emulator that accepts `key`.
pub async fn emulator(key: &str) -> EmulatorHandle {
    start(emulator_builder(key)).await
}

/// The component options for talking to `emu`: its base URL, one retry, a 30 s deadline.
pub fn options(emu: &EmulatorHandle) -> ClientOptions {
    ClientOptions {
        base_url: Some(emu.base_url()),
        max_retries: Some(1),
        deadline_ms: Some(millis(Duration::from_secs(30))),
        ..ClientOptions::default()
    }
}

/// A client configuration for `emu` with [`options`] and this key (or none).
pub fn config(emu: &EmulatorHandle, key: Option<&str>) -> ClientConfig {
    ClientConfig {
        api_key: key.map(ApiKey::new),
        options: options(emu),
        ..ClientConfig::default()
    }
}

/// A small model search every emulator answers.
pub fn search() -> ModelSearchRequest {
    ModelSearchRequest {
        search: Some("flux".into()),
        limit: Some(2),
        ..ModelSearchRequest::default()
    }
}

/// The message of a call the host stopped: a trap (a resource limit or a bug stopped the
/// component while it ran) or the watchdog's execution limit (it was stopped while waiting).
/// It names the cause, then the chain of errors under it and what the component wrote to
/// stderr; `None` for any other error.
pub fn trap_message(e: &Error) -> Option<String> {
    match e {
        Error::Trap { .. } | Error::ExecutionLimit { .. } => Some(e.report()),
        _ => None,
    }
}

/// The message of a host error (the embedding refused or failed); `None` for any other error.
pub fn host_message(e: &Error) -> Option<&str> {
    match e {
        Error::Host { message, .. } => Some(message),
        _ => None,
    }
}

/// The whole error for a failure message: its display and the chain of causes under it, the
/// full detail of an API error, and the stderr a trapped component left, on lines of its own.
pub fn describe(e: &Error) -> String {
    match e {
        Error::Api { detail, .. } => format!("{e}\n  detail: {detail:?}"),
        Error::Trap {
            cause,
            stderr,
            source,
        } => {
            let mut text = format!("the component trapped: {cause}");
            let mut next: Option<&(dyn std::error::Error + 'static)> = Some(source.as_ref());
            while let Some(err) = next {
                let _ = write!(text, ": {err}");
                next = err.source();
            }
            if stderr.is_empty() {
                text.push_str(" (the component wrote nothing to stderr)");
            } else {
                let _ = write!(text, "\n--- component stderr ---\n{stderr}\n---");
            }
            text
        }
        _ => e.report(),
    }
}

/// The value of a call that must succeed; otherwise the test fails with the whole error.
#[track_caller]
pub fn ok<T>(result: Result<T, Error>) -> T {
    match result {
        Ok(value) => value,
        Err(e) => panic!("the call failed: {}", describe(&e)),
    }
}

/// [`ok`] with what the call was for in the failure message.
#[track_caller]
pub fn ok_with<T>(result: Result<T, Error>, what: impl Display) -> T {
    match result {
        Ok(value) => value,
        Err(e) => panic!("{what}: {}", describe(&e)),
    }
}

/// A trap's stderr and cause chain reach the failure message; an API error's detail does too.
#[test]
fn describe_shows_a_traps_stderr_and_an_api_errors_detail() {
    let trap = Error::Trap {
        cause: runware_host::TrapCause::Other,
        stderr: "thread 'main' panicked at src/lib.rs:1:1".into(),
        source: "wasm trap: wasm `unreachable` instruction executed".into(),
    };
    let text = describe(&trap);
    assert!(
        text.contains("\n--- component stderr ---\nthread 'main' panicked at src/lib.rs:1:1\n"),
        "{text}"
    );
    assert!(text.contains("unreachable"), "{text}");
    let api = Error::Api {
        kind: runware_host::ErrorKind::Server,
        detail: Box::new(runware_host::ErrorDetail {
            code: "serviceUnavailable".into(),
            response_json: Some("{\"errors\":[]}".into()),
            ..runware_host::ErrorDetail::default()
        }),
    };
    let text = describe(&api);
    assert!(
        text.starts_with("server error: serviceUnavailable"),
        "{text}"
    );
    assert!(text.contains(r#"{\"errors\":[]}"#), "{text}");
}
