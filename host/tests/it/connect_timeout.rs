//! The client's connect timeout (`ClientOptions::connect_timeout_ms`, handed to wasi-http by the
//! host's hooks) trips against a loopback destination whose connects hang, and the call ends
//! in a typed transport error: not a hang until the deadline, and not a trap.
//!
//! The "blackhole" is a loopback listener that never accepts, with its accept queue filled by
//! connections held open for the whole test. Linux then drops further SYNs (with
//! `tcp_abort_on_overflow` off, the default), so a new connect neither succeeds nor is
//! refused: the client keeps retransmitting its SYN until its own timeout.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use runware_host::{ApiKey, Client, ClientConfig, ClientOptions, Error, ErrorKind, millis};

use crate::common::{ok, runtime, search, test_key, trap_message};

/// The most filler connections opened (std's listener backlog is 128; Linux queues one more).
const MAX_FILLERS: usize = 300;
/// A loopback connect that completes does so in microseconds; one still pending after this
/// long had its SYN dropped, so the accept queue is full.
const STALL: Duration = Duration::from_secs(1);

/// A listener that never accepts, and the connections that fill its accept queue. Both must
/// live as long as the blackhole is needed.
struct Blackhole {
    listener: TcpListener,
    _fillers: Vec<TcpStream>,
}

impl Blackhole {
    /// Binds a loopback listener and connects to it until a connect stalls.
    fn new() -> Blackhole {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let mut fillers = Vec::new();
        loop {
            assert!(
                fillers.len() < MAX_FILLERS,
                "{MAX_FILLERS} connects to a listener that never accepts all completed: \
                 this system does not drop SYNs when the accept queue is full"
            );
            match TcpStream::connect_timeout(&addr, STALL) {
                Ok(stream) => fillers.push(stream),
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => break,
                Err(e) => panic!(
                    "connect {} to the blackhole failed instead of stalling: {e}",
                    fillers.len() + 1
                ),
            }
        }
        eprintln!("blackhole {addr}: {} filler connections", fillers.len());
        Blackhole {
            listener,
            _fillers: fillers,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_connect_timeout_from_the_options_trips_on_a_blackhole() {
    let blackhole = Blackhole::new();
    let deadline = Duration::from_secs(20);
    let client = ok(Client::new(
        &runtime(),
        ClientConfig {
            api_key: Some(ApiKey::new(test_key("connect"))),
            options: ClientOptions {
                base_url: Some(format!("http://{}/v1", blackhole.addr())),
                max_retries: Some(0),
                deadline_ms: Some(millis(deadline)),
                connect_timeout_ms: Some(300),
                ..ClientOptions::default()
            },
            ..ClientConfig::default()
        },
    ));
    let request = search();

    let started = Instant::now();
    let result = client.model_search(&request).await;
    let elapsed = started.elapsed();
    eprintln!("connect timeout after {elapsed:?}: {result:?}");

    if let Some(message) = result.as_ref().err().and_then(trap_message) {
        panic!("the connect timeout trapped: {message}");
    }
    match &result {
        Err(Error::Api { kind, detail }) => {
            assert_eq!(*kind, ErrorKind::Transport, "{detail:?}");
            assert_eq!(detail.code, "transportError", "{detail:?}");
            // wasi-http's `connection-timeout`, as the component reports it: the connect
            // timed out, not the first byte (`HttpResponseTimeout`) or the call's deadline.
            assert!(
                detail.message.contains("timed out")
                    && detail.message.contains("ConnectionTimeout"),
                "{detail:?}"
            );
            assert_eq!(detail.http_status, None, "no answer arrived: {detail:?}");
            assert_eq!(detail.attempts, 1, "max_retries 0: {detail:?}");
            assert!(
                detail.retryable,
                "a connect timeout is retryable: {detail:?}"
            );
        }
        other => panic!("expected a typed transport error, got {other:?}"),
    }
    // No hang: the call ended well before its deadline, and before the host's default 10 s
    // connect timeout could have tripped, so it was the configured one. Not a speed check.
    assert!(
        elapsed < Duration::from_secs(10),
        "the call took {elapsed:?} (deadline {deadline:?})"
    );
    drop(blackhole);
}
