//! `serve`: the host as the trusted runtime of an app component. The edge example's JavaScript
//! app (built by `embeddings::edge_function_composed_and_served_by_jco`, which then calls
//! [`edge_app_under_the_host_policy`]) is composed with the component and served over HTTP by
//! [`Server`]: the key lives only in the host, which adds it to the API's requests; the app's
//! memory never holds it; and a request the app aims elsewhere is refused.

use std::path::Path;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use runware_emulator::AuthKind;
use runware_host::{
    API_KEY_ENV, ApiKey, BASE_URL_ENV, ClientConfig, Error, RuntimeConfig, ServeConfig, Server,
};
use wasmtime_wasi_http::io::TokioIo;

use crate::common::{
    component_bytes, emulator, new_runtime, options, runtime, runtime_config, test_key,
};

/// A server for `app` (already composed) under `config`, listening on a loopback port; its
/// base URL.
async fn serve(server: Server) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("the port");
    tokio::spawn(async move { server.serve(listener).await });
    format!("http://{addr}")
}

/// `GET url` on a connection of its own: the status, the content type and the body.
async fn get(url: &str) -> (u16, String, Vec<u8>) {
    let uri: http::Uri = url.parse().expect("a URL");
    let authority = uri.authority().expect("an authority").to_string();
    let stream = tokio::net::TcpStream::connect(&authority)
        .await
        .expect("the server accepts");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("an HTTP/1 connection");
    tokio::spawn(connection);
    let request = http::Request::get(uri.path_and_query().map_or("/", |p| p.as_str()))
        .header(http::header::HOST, authority)
        .body(Empty::<Bytes>::new())
        .expect("a request");
    let response = sender.send_request(request).await.expect("a response");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("the whole body")
        .to_bytes()
        .to_vec();
    (status, content_type, body)
}

/// The composition `runware serve` makes: the component plugged into the app's import.
fn compose(app: &Path) -> Vec<u8> {
    let app = std::fs::read(app).unwrap_or_else(|e| panic!("{}: {e}", app.display()));
    runware_compose::plug_into(component_bytes(), &app)
        .unwrap_or_else(|e| panic!("the component plugs into the app: {e:#}"))
}

/// The edge app under the host's policy: `GET /image` is a real PNG, made with the key the host
/// injected (the app's environment has none, and a scan of every linear memory of every
/// instance finds no trace of it), and `GET /models` with the app's `RUNWARE_BASE_URL` aimed at
/// another loopback server is refused by the host (the app's typed `transport` error, a 502),
/// with nothing reaching that server.
pub async fn edge_app_under_the_host_policy(edge_wasm: &Path) {
    let key = test_key("serve");
    let emu = emulator(&key).await;
    let elsewhere = emulator(&key).await;
    let composed = compose(edge_wasm);
    let probe = runware_host::probe::MemoryProbe::new([key.as_bytes().to_vec()]);
    // The probe allocates the memories itself so it can scan them; the app's compiled code is
    // cached with the other tests' (the probe does not change the engine's code).
    let probed = new_runtime(RuntimeConfig {
        memory_probe: Some(probe.clone()),
        ..runtime_config()
    });
    let policy = ClientConfig {
        api_key: Some(ApiKey::new(&key)),
        options: options(&emu),
        ..ClientConfig::default()
    };
    let started = Instant::now();
    let (app, config, runtime) = (
        composed.clone(),
        ServeConfig::new(policy.clone()),
        probed.clone(),
    );
    let server = tokio::task::spawn_blocking(move || Server::new(&runtime, &app, config))
        .await
        .expect("the compile task")
        .unwrap_or_else(|e| panic!("the app must load: {}", e.report()));
    println!(
        "serve: the {} B composition loaded in {:.1?} (compiled code from cache: {})",
        composed.len(),
        started.elapsed(),
        server.loaded_from_cache()
    );
    let base = serve(server.clone()).await;

    let started = Instant::now();
    let (status, content_type, body) =
        get(&format!("{base}/image?prompt=a%20red%20fox&size=256")).await;
    println!("serve: GET /image {status} in {:.1?}", started.elapsed());
    assert_eq!(
        (status, content_type.as_str()),
        (200, "image/png"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    let image = image::load_from_memory(&body).expect("a PNG the image crate decodes");
    assert_eq!((image.width(), image.height()), (256, 256));
    let (status, _, body) = get(&format!("{base}/models?search=flux&limit=2")).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));

    // The emulator saw the key on every task request, put there by the host.
    let log = emu.request_log();
    let posts: Vec<_> = log.iter().filter(|r| r.method == "POST").collect();
    assert!(posts.len() >= 2, "{log:?}");
    for r in &posts {
        assert_eq!((r.auth, r.key_valid), (AuthKind::Bearer, true), "{r:?}");
    }
    // Every instance is dropped after its request; none held the key in any memory (the app's
    // environment has only RUNWARE_BASE_URL).
    server.settled().await;
    let report = probe.report();
    assert!(report.memories_scanned >= 2, "{report:?}");
    assert_eq!(
        report.hits, 0,
        "the key was in the app's memory: {report:?}"
    );

    // The app's RUNWARE_BASE_URL aimed at another loopback port: the host refuses the request.
    let mut config = ServeConfig::new(policy);
    config.app_env = vec![(BASE_URL_ENV.to_string(), elsewhere.base_url())];
    // The same runtime, so the compiled code comes from the cache.
    let server = tokio::task::spawn_blocking(move || Server::new(&probed, &composed, config))
        .await
        .expect("the compile task")
        .unwrap_or_else(|e| panic!("the app must load: {}", e.report()));
    let base = serve(server).await;
    let (status, content_type, body) = get(&format!("{base}/models?search=flux")).await;
    let answer: serde_json::Value = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&body)));
    assert_eq!(
        (status, content_type.as_str()),
        (502, "application/json"),
        "{answer}"
    );
    assert_eq!(answer["error"]["kind"], "transport", "{answer}");
    assert!(
        elsewhere.request_log().is_empty(),
        "a denied request reached the other server: {:?}",
        elsewhere.request_log()
    );
    emu.stop().await;
    elsewhere.stop().await;
}

/// The key cannot be put in the app's environment, nor handed to the components.
#[test]
fn the_key_stays_out_of_the_app() {
    let key = test_key("serve-env");
    let mut config = ServeConfig::new(ClientConfig::with_api_key(ApiKey::new(&key)));
    config.app_env = vec![(API_KEY_ENV.to_string(), key.clone())];
    let refused = Server::new(&runtime(), component_bytes(), config).err();
    assert!(
        matches!(&refused, Some(Error::Host { message, .. }) if message.contains(API_KEY_ENV) && !message.contains(&key)),
        "{refused:?}"
    );
    let config = ServeConfig::new(ClientConfig {
        key_in_guest: true,
        ..ClientConfig::with_api_key(ApiKey::new(&key))
    });
    let refused = Server::new(&runtime(), component_bytes(), config).err();
    assert!(matches!(refused, Some(Error::Host { .. })), "{refused:?}");
}

/// A component that exports no `wasi:http/incoming-handler` (the client component itself) is
/// refused with a reason.
#[test]
fn an_app_must_export_the_incoming_handler() {
    let refused = Server::new(
        &runtime(),
        component_bytes(),
        ServeConfig::new(ClientConfig::default()),
    )
    .err();
    assert!(
        matches!(&refused, Some(Error::Host { message, .. }) if message.contains("incoming-handler")),
        "{refused:?}"
    );
}
