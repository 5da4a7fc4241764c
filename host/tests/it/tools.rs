//! The flat tools face (`examples/tools`): the adapter component is built for `wasm32-wasip2`,
//! composed with the client component the host embeds (with `wac-graph`, what `wac plug` does),
//! and the composed component is run with plain wasmtime and WASI, as `wasmtime run --invoke` or
//! an MCP component host would: no `runware-host` policy in between, the key travels in
//! `client-options`. Its plain functions are called against the in-process emulator.
//!
//! The adapter is built by a nested `cargo build -p runware-tools --target wasm32-wasip2
//! --profile component` into `<target>/component`, the directory the host's build script builds
//! the client component in, so the wasm32 dependencies (wit-bindgen) are already compiled. The
//! composed component is left at `<target>/tools/runware-tools-composed.wasm` for `wasmtime run`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine as _;
use runware_emulator::{AuthKind, EmulatorHandle};
use runware_host::{
    ClientOptions, ErrorKind, ImageRequest, ModelSearchRequest, OutputFormat, OutputKind,
    OutputType, TaskStatus, VideoRequest,
};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::common::{component_bytes, emulator, emulator_builder, start, test_key};

/// Bindings for the adapter's world. The composed component exports the same `tools` interface
/// and no longer imports `runware:client/api` (the client component supplies it inside), so only
/// the exports are used; the client's records are the host's own types.
mod bindings {
    wasmtime::component::bindgen!({
        world: "runware:tools/runware-tools",
        path: ["../wit", "../examples/tools/wit"],
        exports: { default: async },
        with: {
            "runware:client/types": runware_host::bindings::runware::client::types,
        },
    });
}

use bindings::RunwareTools;

/// The workspace root.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

/// The cargo target directory this test binary was built in.
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target tmp dir has a parent")
        .to_path_buf()
}

/// Whether an environment variable of this test process would leak the outer build's settings
/// into the nested wasm32 build (the same idea as host/build.rs, for a test's environment).
fn leaks_outer_settings(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "RUSTFLAGS",
        "RUSTDOCFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_INCREMENTAL",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
    ];
    const PREFIXES: &[&str] = &[
        "CARGO_BUILD_",
        "CARGO_PROFILE_",
        "CARGO_TARGET_",
        "CARGO_LLVM_COV",
        "__CARGO_",
    ];
    EXACT.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Builds the adapter component and returns its bytes.
fn build_adapter() -> Vec<u8> {
    let target = target_dir().join("component");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace())
        .args(["build", "-p", "runware-tools", "--target", "wasm32-wasip2"])
        .args(["--profile", "component", "--locked", "--target-dir"])
        .arg(&target);
    for (name, _) in std::env::vars_os() {
        if let Some(name) = name.to_str().filter(|n| leaks_outer_settings(n)) {
            command.env_remove(name);
        }
    }
    let started = Instant::now();
    let output = command.output().expect("cargo starts");
    assert!(
        output.status.success(),
        "building examples/tools failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let wasm = target.join("wasm32-wasip2/component/runware_tools.wasm");
    let bytes = std::fs::read(&wasm).unwrap_or_else(|e| panic!("{}: {e}", wasm.display()));
    println!(
        "adapter built in {:.1?}: {} bytes",
        started.elapsed(),
        bytes.len()
    );
    bytes
}

/// Plugs the client component into the adapter's `runware:client/api` import: one component
/// exporting `runware:tools/tools`, whose imports are the two components' WASI imports.
fn compose(adapter: &[u8], client: &[u8]) -> Vec<u8> {
    runware_compose::plug_into(client, adapter)
        .unwrap_or_else(|e| panic!("the client plugs into the adapter: {e:#}"))
}

/// The composed component, built and composed once per test binary and written to
/// `<target>/tools/runware-tools-composed.wasm`.
fn composed() -> &'static [u8] {
    static COMPOSED: OnceLock<Vec<u8>> = OnceLock::new();
    COMPOSED.get_or_init(|| {
        let adapter = build_adapter();
        let started = Instant::now();
        let bytes = compose(&adapter, component_bytes());
        let dir = target_dir().join("tools");
        std::fs::create_dir_all(&dir).expect("the tools dir is created");
        let path = dir.join("runware-tools-composed.wasm");
        std::fs::write(&path, &bytes).expect("the composed component is written");
        println!(
            "composed in {:.1?}: {} bytes (adapter {} + client {}) -> {}",
            started.elapsed(),
            bytes.len(),
            adapter.len(),
            component_bytes().len(),
            path.display()
        );
        bytes
    })
}

/// One engine and the compiled composed component for the whole binary.
fn compiled() -> &'static (Engine, Component) {
    static COMPILED: OnceLock<(Engine, Component)> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let bytes = composed();
        let engine = Engine::new(&Config::new()).expect("an engine");
        let started = Instant::now();
        let component = Component::new(&engine, bytes).expect("the composed component compiles");
        println!("compiled in {:.1?}", started.elapsed());
        (engine, component)
    })
}

/// A plain WASI host's store data: WASI p2 and wasi:http with wasmtime's defaults (no key
/// injection, no allow-list), as `wasmtime run -S http` gives.
struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: wasmtime_wasi_http::default_hooks(),
        }
    }
}

/// A fresh instance of the composed component, as a tool host makes one.
async fn instantiate() -> (Store<State>, RunwareTools) {
    let (engine, component) = compiled();
    let mut linker = Linker::<State>::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).expect("WASI links");
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).expect("wasi:http links");
    let state = State {
        wasi: WasiCtx::builder().inherit_stderr().build(),
        http: WasiHttpCtx::new(),
        table: ResourceTable::new(),
    };
    let mut store = Store::new(engine, state);
    let tools = RunwareTools::instantiate_async(&mut store, component, &linker)
        .await
        .expect("the composed component instantiates with WASI alone");
    (store, tools)
}

/// The options a tool host passes: the emulator's URL and the key (the plain runtime has no
/// hook that could add it outside the component).
fn options(emu: &EmulatorHandle, key: &str) -> ClientOptions {
    ClientOptions {
        api_key: Some(key.to_string()),
        base_url: Some(emu.base_url()),
        max_retries: Some(1),
        deadline_ms: Some(30_000),
        ..ClientOptions::default()
    }
}

/// Every task request reached the emulator with the key as `Authorization: Bearer`.
fn assert_authenticated(emu: &EmulatorHandle) {
    let log = emu.request_log();
    let posts: Vec<_> = log.iter().filter(|r| r.method == "POST").collect();
    assert!(!posts.is_empty(), "the emulator saw no task request");
    for request in posts {
        assert_eq!(
            (request.auth, request.key_valid),
            (AuthKind::Bearer, true),
            "a request without the key: {} {} -> {}",
            request.method,
            request.path,
            request.status
        );
    }
}

#[test]
fn composed_component_imports_only_wasi() {
    let (engine, component) = compiled();
    let ty = component.component_type();
    let imports: Vec<String> = ty
        .imports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let exports: Vec<String> = ty
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    println!(
        "imports:\n  {}\nexports:\n  {}",
        imports.join("\n  "),
        exports.join("\n  ")
    );
    assert!(
        exports.iter().any(|e| e == "runware:tools/tools@0.1.0"),
        "the composed component does not export the tools: {exports:?}"
    );
    // The client's types-only interface may stay: no runtime has to supply it (it has no
    // functions and no resources).
    let foreign: Vec<&String> = imports
        .iter()
        .filter(|i| !i.starts_with("wasi:") && !i.starts_with("runware:client/types@"))
        .collect();
    assert!(foreign.is_empty(), "imports beyond WASI: {foreign:?}");
    assert!(
        !imports.iter().any(|i| i.starts_with("runware:client/api")),
        "the client's api is still imported: the plug did not happen"
    );
    assert!(
        imports
            .iter()
            .any(|i| i.starts_with("wasi:http/outgoing-handler")),
        "the client's wasi:http import is missing: {imports:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_models_and_generate_image_through_the_tools_face() {
    let key = test_key("tools");
    let emu = emulator(&key).await;
    let (mut store, tools) = instantiate().await;
    let api = tools.runware_tools_tools();

    // search-models answers what the host's own client answers for the same request.
    let request = ModelSearchRequest {
        search: Some("flux".into()),
        limit: Some(3),
        ..ModelSearchRequest::default()
    };
    let found = api
        .call_search_models(&mut store, &request, &options(&emu, &key))
        .await
        .expect("no trap")
        .expect("search-models succeeds");
    assert!(!found.results.is_empty(), "no model for `flux`");
    assert!(
        found.results.len() <= 3,
        "limit 3 returned {}",
        found.results.len()
    );
    assert!(found.total_results >= found.results.len() as u64);
    for model in &found.results {
        assert!(
            model.air.contains(':') && model.air.contains('@'),
            "not an AIR: {}",
            model.air
        );
        let json: serde_json::Value = serde_json::from_str(&model.json).expect("model JSON");
        assert_eq!(json["air"], model.air.as_str());
    }
    let native = runware_host::Client::new(
        &crate::common::runtime(),
        crate::common::config(&emu, Some(&key)),
    )
    .expect("a host client");
    let direct = native
        .model_search(&request)
        .await
        .expect("the host's search");
    let airs = |r: &runware_host::ModelSearchResult| {
        r.results.iter().map(|m| m.air.clone()).collect::<Vec<_>>()
    };
    assert_eq!(
        airs(&found),
        airs(&direct),
        "the tools face and the host disagree"
    );

    // generate-image returns a real PNG of the asked size.
    let request = ImageRequest {
        width: Some(256),
        height: Some(256),
        output_type: Some(OutputType::Base64Data),
        output_format: Some(OutputFormat::Png),
        ..ImageRequest::new("a red fox in the snow")
    };
    let result = api
        .call_generate_image(&mut store, &request, &options(&emu, &key))
        .await
        .expect("no trap")
        .expect("generate-image succeeds");
    assert_eq!(result.images.len(), 1);
    let image = &result.images[0];
    assert_eq!(image.task_uuid, result.task_uuid);
    let data = image
        .image_base64_data
        .as_deref()
        .expect("base64 data was asked for");
    let png = base64::engine::general_purpose::STANDARD
        .decode(data)
        .expect("valid base64");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let decoded = image::load_from_memory(&png).expect("the PNG decodes");
    assert_eq!((decoded.width(), decoded.height()), (256, 256));
    assert_eq!(
        emu.executions(&result.task_uuid),
        1,
        "the image task ran once"
    );

    assert_authenticated(&emu);
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_request_is_the_clients_typed_error_and_costs_no_request() {
    let key = test_key("tools-bad");
    let emu = emulator(&key).await;
    let (mut store, tools) = instantiate().await;
    let request = ImageRequest {
        width: Some(100),
        ..ImageRequest::new("a red fox")
    };
    let error = tools
        .runware_tools_tools()
        .call_generate_image(&mut store, &request, &options(&emu, &key))
        .await
        .expect("no trap")
        .expect_err("width 100 is refused");
    assert_eq!(error.kind, ErrorKind::InvalidRequest);
    assert_eq!(error.detail.parameter.as_deref(), Some("width"));
    assert_eq!(error.detail.attempts, 0, "nothing was sent");
    assert!(
        emu.request_log().is_empty(),
        "a refused request reached the emulator"
    );

    // A wrong key is Runware's `authentication` error, passed through unchanged.
    let error = tools
        .runware_tools_tools()
        .call_search_models(
            &mut store,
            &ModelSearchRequest::default(),
            &options(&emu, "test-not-the-key"),
        )
        .await
        .expect("no trap")
        .expect_err("a wrong key is refused");
    assert_eq!(error.kind, ErrorKind::Authentication);
    assert_eq!(error.detail.http_status, Some(401));
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_video_returns_a_job_that_poll_picks_up() {
    let key = test_key("tools-video");
    // Video stays `processing` for the emulator's default time: the first poll sees that.
    let emu = start(emulator_builder(&key)).await;
    let (mut store, tools) = instantiate().await;
    let api = tools.runware_tools_tools();
    let request = VideoRequest {
        positive_prompt: Some("a red fox running through snow".into()),
        duration: Some(5.0),
        width: Some(640),
        height: Some(360),
        ..VideoRequest::default()
    };
    let job = api
        .call_start_video(&mut store, &request, &options(&emu, &key))
        .await
        .expect("no trap")
        .expect("start-video succeeds");
    assert_eq!(job.task_type.as_deref(), Some("videoInference"));
    assert_eq!(emu.executions(&job.task_uuid), 1, "the video was sent once");
    let outcome = api
        .call_poll(&mut store, &job, &options(&emu, &key))
        .await
        .expect("no trap")
        .expect("poll succeeds");
    assert_eq!(outcome.task_uuid, job.task_uuid);
    assert_eq!(outcome.status, TaskStatus::Processing);
    assert!(outcome.outputs.is_empty());

    // A video that is ready at once: one poll returns it.
    emu.set_video_processing(Duration::ZERO);
    let job = api
        .call_start_video(&mut store, &request, &options(&emu, &key))
        .await
        .expect("no trap")
        .expect("start-video succeeds");
    let outcome = api
        .call_poll(&mut store, &job, &options(&emu, &key))
        .await
        .expect("no trap")
        .expect("poll succeeds");
    assert_eq!(
        outcome.status,
        TaskStatus::Success,
        "{}",
        outcome.response_json
    );
    assert_eq!(outcome.outputs.len(), 1);
    let video = &outcome.outputs[0];
    assert_eq!(video.kind, OutputKind::Video);
    assert!(video.url.as_deref().is_some_and(|u| u.starts_with("http")));
    assert_eq!(
        emu.executions(&job.task_uuid),
        1,
        "polling did not resend the task"
    );

    assert_authenticated(&emu);
    emu.stop().await;
}

/// `wasmtime run --invoke` (the wasmtime CLI, 48.0.8) calls the composed component's plain
/// functions by name with WAVE arguments: `-S http` is all it needs. Runs only when a `wasmtime`
/// binary is on PATH (CI has none: it takes 8-13 minutes to install), and says so otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasmtime_cli_invokes_the_tools() {
    let version = tokio::process::Command::new("wasmtime")
        .arg("--version")
        .output()
        .await;
    let Some(version) = version.ok().filter(|o| o.status.success()) else {
        println!(
            "skipped: no `wasmtime` on PATH (`cargo install wasmtime-cli@48.0.8 --locked` takes \
             8-13 minutes, so CI does not install it)"
        );
        return;
    };
    println!("{}", String::from_utf8_lossy(&version.stdout).trim());
    composed();
    let path = target_dir().join("tools/runware-tools-composed.wasm");
    let key = test_key("tools-cli");
    let emu = emulator(&key).await;
    let options = format!(
        "{{api-key: some(\"{key}\"), base-url: some(\"{}\")}}",
        emu.base_url()
    );
    let invoke = |call: String| {
        let path = path.clone();
        async move {
            let output = tokio::time::timeout(
                Duration::from_secs(120),
                tokio::process::Command::new("wasmtime")
                    .args(["run", "-S", "http", "--invoke", &call])
                    .arg(&path)
                    .stdin(std::process::Stdio::null())
                    .kill_on_drop(true)
                    .output(),
            )
            .await
            .expect("wasmtime finishes")
            .expect("wasmtime starts");
            let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
            println!(
                "wasmtime run --invoke '{call}': {}\n{}{}",
                output.status,
                stdout.chars().take(300).collect::<String>(),
                String::from_utf8_lossy(&output.stderr)
            );
            assert!(output.status.success(), "wasmtime run --invoke failed");
            stdout
        }
    };
    let found = invoke(format!(
        "search-models({{search: some(\"flux\"), tags: [], limit: some(2)}}, {options})"
    ))
    .await;
    assert!(
        found.starts_with("ok({") && found.contains("air: \""),
        "no models: {found}"
    );
    let refused = invoke(format!(
        "generate-image({{positive-prompt: \"a red fox\", width: some(100), loras: [], common: {{:}}}}, {options})"
    ))
    .await;
    assert!(
        refused.starts_with("err({kind: invalid-request")
            && refused.contains("parameter: some(\"width\")"),
        "not the typed error: {refused}"
    );
    assert_authenticated(&emu);
    emu.stop().await;
}
