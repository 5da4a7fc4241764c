//! The host library: the compiled-code cache round trip, the egress allow-list (a refused
//! destination is a typed transport error, not a trap), host-side key injection (the emulator
//! saw a valid Bearer key that the component never held), key redaction in every printable form,
//! the memory cap, the execution limit, the host-side body cap, the timeouts from the options,
//! keep-alive connections and instance reuse. The CLI's exit codes and the broad end-to-end suite
//! are `runware-cli`'s tests (`cli/tests/it`).

use std::time::Duration;

use runware_emulator::AuthKind;
use runware_host::{
    ApiKey, Client, ClientConfig, ClientOptions, Error, ErrorKind, Runtime, RuntimeConfig,
};

use crate::common::{
    config, emulator, emulator_builder, host_message, new_runtime, ok, ok_with, options, runtime,
    runtime_config, search, start, test_key, trap_message,
};

#[test]
fn compiled_code_cache_round_trip() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = RuntimeConfig {
        cache_dir: Some(dir.path().to_path_buf()),
        ..RuntimeConfig::default()
    };
    let first = ok(Runtime::new(config.clone()));
    assert!(!first.loaded_from_cache(), "an empty cache cannot serve");
    let file = first
        .cache_file()
        .unwrap_or_else(|| panic!("the compiled code must be written to the cache"))
        .to_path_buf();
    assert!(file.starts_with(dir.path()));
    assert_eq!(file.extension().and_then(|e| e.to_str()), Some("cwasm"));

    let second = ok(Runtime::new(config.clone()));
    assert!(
        second.loaded_from_cache(),
        "the second load must not compile"
    );
    assert_eq!(second.cache_file(), Some(file.as_path()));

    // A corrupt file is compiled again and replaced, not trusted.
    let mut bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{e}"));
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&file, &bytes).unwrap_or_else(|e| panic!("{e}"));
    let third = ok(Runtime::new(config.clone()));
    assert!(!third.loaded_from_cache());
    let fourth = ok(Runtime::new(config));
    assert!(fourth.loaded_from_cache(), "the replaced file serves again");

    // With the cache off nothing is read or written.
    let off = ok(Runtime::new(RuntimeConfig {
        cache_dir: Some(dir.path().to_path_buf()),
        disable_cache: true,
        ..RuntimeConfig::default()
    }));
    assert!(!off.loaded_from_cache());
    assert_eq!(off.cache_file(), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn host_injects_the_key_the_component_never_holds() {
    let key = test_key("inject");
    let emu = emulator(&key).await;
    let client = ok(Client::new(&runtime(), config(&emu, Some(&key))));
    let found = ok_with(
        client.model_search(&search()).await,
        "model search must succeed with the injected key",
    );
    assert!(!found.results.is_empty());

    let log = emu.request_log();
    let posts: Vec<_> = log.iter().filter(|r| r.method == "POST").collect();
    assert!(!posts.is_empty(), "the emulator saw the request");
    for r in &posts {
        assert_eq!(r.auth, AuthKind::Bearer, "{r:?}");
        assert!(r.key_valid, "the emulator accepted the injected key: {r:?}");
        assert!(!r.body.contains(&key), "the key never goes into a body");
    }
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_key_the_component_cannot_authenticate() {
    // The component is given no key (the default), so with none on the host side either the
    // server sees no credentials: the component has no key of its own to fall back on.
    let key = test_key("nokey");
    let emu = emulator(&key).await;
    let client = ok(Client::new(&runtime(), config(&emu, None)));
    let err = client.model_search(&search()).await.err();
    assert!(
        matches!(
            err.as_ref().and_then(Error::kind),
            Some(ErrorKind::Authentication)
        ),
        "{err:?}"
    );
    assert!(
        emu.request_log()
            .iter()
            .filter(|r| r.method == "POST")
            .all(|r| r.auth == AuthKind::None)
    );
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_destination_outside_the_allow_list_is_a_typed_transport_error() {
    let key = test_key("egress");
    let emu = emulator(&key).await;
    let client = ok(Client::new(&runtime(), config(&emu, Some(&key))));
    // Another port on the same host is another authority.
    let port = emu.addr().port().wrapping_add(1).max(1);
    let url = format!("http://127.0.0.1:{port}/images/x.png");
    let err = client.download(&url).await.err();
    eprintln!("refused: {err:?}");
    match &err {
        Some(Error::Api { kind, detail }) => {
            assert_eq!(*kind, ErrorKind::Transport, "{detail:?}");
        }
        other => panic!("expected a typed transport error, got {other:?}"),
    }
    // With the base URL elsewhere, the emulator's own image URL is outside the list too.
    let other = ok(Client::new(
        &runtime(),
        ClientConfig {
            options: ClientOptions {
                base_url: Some(format!("http://127.0.0.1:{port}/v1")),
                ..options(&emu)
            },
            ..config(&emu, Some(&key))
        },
    ));
    let image = format!("http://{}/images/x.png", emu.addr());
    let refused = other.download(&image).await.err();
    assert!(
        matches!(
            refused.as_ref().and_then(Error::kind),
            Some(ErrorKind::Transport)
        ),
        "{refused:?}"
    );
    assert!(
        emu.request_log().is_empty(),
        "nothing reached the emulator: {:?}",
        emu.request_log()
    );
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_key_is_redacted_everywhere_it_could_be_printed() {
    let key = test_key("redact");
    let wrong = test_key("wrong");
    let emu = emulator(&key).await;
    let config = config(&emu, Some(&wrong));
    let client = ok(Client::new(&runtime(), config.clone()));
    let err = client.model_search(&search()).await.err();
    let printed = [
        format!("{config:?}"),
        format!("{client:?}"),
        format!("{err:?}"),
        err.as_ref().map(|e| e.to_string()).unwrap_or_default(),
        format!("{:?}", ApiKey::new(wrong.clone())),
        ApiKey::new(wrong.clone()).to_string(),
    ];
    assert!(
        matches!(
            err.as_ref().and_then(Error::kind),
            Some(ErrorKind::Authentication)
        ),
        "a wrong key is an authentication error: {err:?}"
    );
    for text in printed {
        assert!(!text.contains(&wrong), "the key leaked into: {text}");
    }
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_memory_cap_stops_an_instance_with_a_clear_error() {
    let runtime = new_runtime(RuntimeConfig {
        max_memory_bytes: 64 << 10,
        ..runtime_config()
    });
    let key = test_key("mem");
    let emu = emulator(&key).await;
    let client = ok(Client::new(&runtime, config(&emu, Some(&key))));
    let err = client.model_search(&search()).await.err();
    eprintln!("memory cap: {err:?}");
    match err.as_ref().and_then(trap_message) {
        Some(message) => assert!(
            message.contains("memory") || message.contains("limit"),
            "the message says what tripped: {message}"
        ),
        None => panic!("expected a trap from the memory cap, got {err:?}"),
    }
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_response_size_cap_gives_a_typed_error() {
    let key = test_key("cap");
    let emu = emulator(&key).await;
    let client = ok(Client::new(
        &runtime(),
        ClientConfig {
            options: ClientOptions {
                max_response_bytes: Some(256),
                max_retries: Some(0),
                ..options(&emu)
            },
            ..config(&emu, Some(&key))
        },
    ));
    let err = client.model_search(&search()).await.err();
    eprintln!("body cap: {err:?}");
    match &err {
        Some(Error::Api { kind, detail }) => assert!(
            matches!(
                kind,
                ErrorKind::Server | ErrorKind::Transport | ErrorKind::Other
            ),
            "{kind}: {detail:?}"
        ),
        other => panic!("expected a typed error for an oversized body, got {other:?}"),
    }
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn clients_run_concurrently_in_one_process() {
    let key = test_key("many");
    let emu = emulator(&key).await;
    let client = ok(Client::new(&runtime(), config(&emu, Some(&key))));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move { c.model_search(&search()).await }));
    }
    let mut uuids = std::collections::HashSet::new();
    for t in tasks {
        let r = ok(t.await.unwrap_or_else(|e| panic!("{e}")));
        uuids.insert(r.task_uuid);
    }
    assert_eq!(uuids.len(), 8, "every call got its own taskUUID");
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pooling_allocator_runs_calls() {
    let runtime = new_runtime(RuntimeConfig {
        pooling: true,
        pool_size: 4,
        max_memory_bytes: 64 << 20,
        ..runtime_config()
    });
    let key = test_key("pool");
    let emu = emulator(&key).await;
    let client = ok(Client::new(&runtime, config(&emu, Some(&key))));
    // More calls than slots, one after another: slots are reused.
    for _ in 0..6 {
        ok(client.model_search(&search()).await);
    }
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn key_in_guest_lets_the_component_send_it() {
    let key = test_key("guest");
    let emu = emulator(&key).await;
    let client = ok(Client::new(
        &runtime(),
        ClientConfig {
            key_in_guest: true,
            ..config(&emu, Some(&key))
        },
    ));
    ok(client.model_search(&search()).await);
    let log = emu.request_log();
    assert!(
        log.iter()
            .filter(|r| r.method == "POST")
            .all(|r| r.auth == AuthKind::Bearer && r.key_valid && !r.body.contains(&key)),
        "{log:?}"
    );
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_component_memory_never_holds_the_injected_key() {
    let key = test_key("memscan");
    let emu = emulator(&key).await;
    let run = |key_in_guest: bool| {
        let probe = runware_host::probe::MemoryProbe::new([key.as_bytes().to_vec()]);
        let runtime = new_runtime(RuntimeConfig {
            memory_probe: Some(probe.clone()),
            ..runtime_config()
        });
        let client = ok(Client::new(
            &runtime,
            ClientConfig {
                key_in_guest,
                ..config(&emu, Some(&key))
            },
        ));
        (probe, client)
    };
    // Default: the host injects the key; the component's memory never sees it.
    // Memories are scanned when their instance is dropped: the client keeps its instance for
    // reuse, so the scan happens when the client goes.
    let (probe, client) = run(false);
    ok(client.model_search(&search()).await);
    drop(client);
    let report = probe.report();
    assert!(
        report.memories_scanned > 0 && report.bytes_scanned > 0,
        "{report:?}"
    );
    assert_eq!(
        report.hits, 0,
        "the key was in the component's memory: {report:?}"
    );
    // Control: handing the key to the component puts it in its memory, so the scan works.
    let (probe, client) = run(true);
    ok(client.model_search(&search()).await);
    drop(client);
    assert!(probe.report().hits > 0, "{:?}", probe.report());
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_execution_limit_interrupts_the_component() {
    let key = test_key("epoch");
    let emu = start(emulator_builder(&key).latency(Duration::from_millis(600))).await;
    let client = ok(Client::new(
        &runtime(),
        ClientConfig {
            execution_limit: Some(Duration::from_millis(100)),
            ..config(&emu, Some(&key))
        },
    ));
    let started = std::time::Instant::now();
    let err = client.model_search(&search()).await.err();
    eprintln!("execution limit: {err:?}");
    match err.as_ref().and_then(trap_message) {
        Some(message) => assert!(message.contains("execution limit exceeded"), "{message}"),
        None => panic!("expected the execution limit to stop the call, got {err:?}"),
    }
    // It stopped once the response arrived and the component ran again, not at the deadline.
    assert!(started.elapsed() < Duration::from_secs(30));
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_first_byte_timeout_from_the_options_trips() {
    let key = test_key("firstbyte");
    let emu = start(emulator_builder(&key).latency(Duration::from_millis(3000))).await;
    let client = ok(Client::new(
        &runtime(),
        ClientConfig {
            options: ClientOptions {
                first_byte_timeout_ms: Some(300),
                max_retries: Some(0),
                ..options(&emu)
            },
            ..config(&emu, Some(&key))
        },
    ));
    let err = client.model_search(&search()).await.err();
    eprintln!("first byte: {err:?}");
    assert!(
        matches!(
            err.as_ref().and_then(Error::kind),
            Some(ErrorKind::Transport | ErrorKind::Timeout)
        ),
        "{err:?}"
    );
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn warm_up_instantiates_without_sending() {
    let key = test_key("warm");
    let emu = emulator(&key).await;
    let client = ok(Client::new(&runtime(), config(&emu, Some(&key))));
    ok(client.warm_up().await);
    assert!(emu.request_log().is_empty());
    // A configuration the host refuses never reaches the component.
    let bad = Client::new(
        &runtime(),
        ClientConfig {
            options: ClientOptions {
                base_url: Some("ftp://example.invalid/v1".into()),
                ..ClientOptions::default()
            },
            ..ClientConfig::default()
        },
    );
    match bad.as_ref().err().and_then(host_message) {
        Some(message) => assert!(message.contains("base_url"), "{message}"),
        None => panic!("expected a host error naming base_url, got {bad:?}"),
    }
    emu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_between_bytes_timeout_from_the_options_trips_on_a_stalled_body() {
    let key = test_key("stall");
    let emu = start(
        emulator_builder(&key).fault(runware_emulator::FaultRule::new(
            runware_emulator::Fault::StalledBody,
        )),
    )
    .await;
    let client = ok(Client::new(
        &runtime(),
        ClientConfig {
            options: ClientOptions {
                between_bytes_timeout_ms: Some(300),
                max_retries: Some(0),
                ..options(&emu)
            },
            ..config(&emu, Some(&key))
        },
    ));
    let err = client.model_search(&search()).await.err();
    eprintln!("stalled body: {err:?}");
    assert!(
        matches!(
            err.as_ref().and_then(Error::kind),
            Some(ErrorKind::Transport | ErrorKind::Timeout)
        ),
        "{err:?}"
    );
    emu.stop().await;
}

/// Sequential calls of one client share one keep-alive connection: each call is a fresh
/// instance, but the connection pool lives in the client.
#[tokio::test(flavor = "multi_thread")]
async fn calls_of_one_client_reuse_a_keep_alive_connection() {
    let key = test_key("keepalive");
    let emu = emulator(&key).await;
    let client = ok(Client::new(&runtime(), config(&emu, Some(&key))));
    for i in 0..6 {
        ok_with(client.model_search(&search()).await, format!("call {i}"));
    }
    assert_eq!(emu.request_log().len(), 6);
    assert_eq!(emu.connections(), 1, "six calls, one connection");
    emu.stop().await;
}

/// `max_idle_connections: Some(0)` turns keep-alive off: one connection per request.
#[tokio::test(flavor = "multi_thread")]
async fn keep_alive_can_be_turned_off() {
    let key = test_key("nokeepalive");
    let emu = emulator(&key).await;
    let client = ok(Client::new(
        &runtime(),
        ClientConfig {
            max_idle_connections: Some(0),
            ..config(&emu, Some(&key))
        },
    ));
    for i in 0..3 {
        ok_with(client.model_search(&search()).await, format!("call {i}"));
    }
    assert_eq!(emu.connections(), 3);
    emu.stop().await;
}

/// A pooled connection that the server drops mid-request is not given back: the component's
/// retry goes out on a new connection and succeeds, and the task is billed once.
#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_pooled_connection_is_replaced() {
    let key = test_key("dropped");
    let emu = emulator(&key).await;
    let client = ok(Client::new(&runtime(), config(&emu, Some(&key))));
    ok_with(client.model_search(&search()).await, "first call");
    assert_eq!(emu.connections(), 1);
    emu.add_fault(
        runware_emulator::FaultRule::new(runware_emulator::Fault::ResetAfterAccept)
            .first_requests(1),
    );
    let image = ok_with(
        client
            .text_to_image(&runware_host::ImageRequest {
                positive_prompt: "a lighthouse at dusk".into(),
                width: Some(512),
                height: Some(512),
                ..runware_host::ImageRequest::default()
            })
            .await,
        "the retry on a new connection must succeed",
    );
    assert_eq!(image.images.len(), 1);
    assert_eq!(
        emu.connections(),
        2,
        "the dropped connection was replaced once"
    );
    let posts: Vec<_> = emu
        .request_log()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    let statuses: Vec<u16> = posts.iter().map(|r| r.status).collect();
    // The search; the dropped attempt (status 0: no answer); its retry, which the emulator
    // refuses as a duplicate taskUUID (the first attempt was accepted); the getResponse that
    // fetches the accepted task's result.
    assert_eq!(statuses, [200, 0, 400, 200], "{posts:#?}");
    assert!(posts[3].body.contains("getResponse"), "{posts:#?}");
    for uuid in posts.iter().flat_map(|r| r.executed.iter()) {
        assert_eq!(emu.executions(uuid), 1, "{uuid} billed once");
    }
    emu.stop().await;
}

/// With `max_idle_instances`, an instance whose call succeeded serves the next call, with a
/// fresh execution limit each time; one whose call failed is dropped.
#[tokio::test(flavor = "multi_thread")]
async fn reused_instances_are_re_armed_and_dropped_after_a_failure() {
    let key = test_key("reuse");
    let emu = emulator(&key).await;
    // Each call takes 400 ms at the emulator: three calls take longer than one execution
    // limit, so the third traps unless each call re-arms the limit.
    emu.set_latency(Duration::from_millis(400));
    let client = ok(Client::new(
        &runtime(),
        ClientConfig {
            max_idle_instances: 1,
            execution_limit: Some(Duration::from_secs(1)),
            options: ClientOptions {
                deadline_ms: Some(900),
                ..options(&emu)
            },
            ..config(&emu, Some(&key))
        },
    ));
    assert_eq!(client.idle_instance_count(), 0);
    for i in 0..3 {
        ok_with(
            client.model_search(&search()).await,
            format!("call {i} on the reused instance"),
        );
        assert_eq!(client.idle_instance_count(), 1, "after call {i}");
    }
    emu.set_latency(Duration::ZERO);
    let err = client
        .text_to_image(&runware_host::ImageRequest {
            positive_prompt: "x".into(),
            width: Some(13),
            ..runware_host::ImageRequest::default()
        })
        .await
        .err();
    assert_eq!(
        err.as_ref().and_then(Error::kind),
        Some(ErrorKind::InvalidRequest),
        "{err:?}"
    );
    assert_eq!(
        client.idle_instance_count(),
        0,
        "a failed call's instance is dropped"
    );
    ok_with(
        client.model_search(&search()).await,
        "a fresh instance after the failure",
    );
    assert_eq!(client.idle_instance_count(), 1);
    emu.stop().await;
}
