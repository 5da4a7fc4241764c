//! Fuzzing of the component's sans-IO response handling, driven by proptest (native only: an
//! example is never part of the wasm component).
//!
//! Every case feeds one input into [`parse_response`] and the item helpers, then drives a state
//! machine ([`Call::run`], [`Call::get_response`], [`Call::wait`] or [`Download`]) to the end
//! with a scripted server: answers with random statuses, `Retry-After`/`Date` headers and bodies
//! that are arbitrary bytes, arbitrary JSON, or Runware-shaped envelopes whose items name the
//! taskUUIDs the machine just sent (resent ones included), unknown ones, or none, with every
//! status and error code; truncated and bit-flipped envelopes; transport failures of every kind.
//! A case fails when anything panics or a machine does not end within its step budget.
//!
//! ```text
//! cargo run --release -p runware-guest --example fuzz -- --cases 1000000 --seed 1
//! ```
//!
//! Prints the count, the time and `0 panics`; exits 1 with the smallest failing case otherwise.
//! CI runs a short smoke of the same code (`guest/tests/it/fuzz_smoke.rs`).

use std::time::Instant;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use runware_guest::download::Download;
use runware_guest::machine::{Action, Call, Event, Machine, TransportKind};
use runware_guest::options::Options;
use runware_guest::parse::{
    error_from_item, is_error_item, is_result_item, parse_response, result_key,
};
use runware_guest::retry::SplitMix64;
use serde_json::{Map, Value, json};

/// Actions one machine may take before the case counts as a hang.
const STEP_BUDGET: usize = 5_000;

/// A value in a scripted body: `"@0"`, `"@1"`… stand for the taskUUIDs of the request being
/// answered (so resent tasks, with fresh taskUUIDs, are answered too).
fn uuid_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => (0u8..3).prop_map(|i| Value::String(format!("@{i}"))),
        1 => Just(json!("00000000-0000-4000-8000-00000000dead")),
        1 => Just(Value::Null),
        1 => any::<i64>().prop_map(|n| json!(n)),
        1 => ".{0,12}".prop_map(Value::String),
    ]
}

fn code_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(vec![
            "conflictTaskUUID",
            "timeoutProvider",
            "providerRateLimitExceeded",
            "inferenceError",
            "invalidApiKey",
            "insufficientCredits",
            "taskNotFound",
            "unknownError",
            "invalidWidth",
            "rateLimitExceeded",
            "serviceUnavailable",
            "contentModerated",
        ])
        .prop_map(|s| json!(s)),
        ".{0,10}".prop_map(Value::String),
        any::<u32>().prop_map(|n| json!(n)),
    ]
}

/// A JSON scalar, or a taskUUID placeholder.
fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<i32>().prop_map(|n| json!(f64::from(n) / 7.0)),
        ".{0,10}".prop_map(Value::String),
        uuid_value(),
    ]
}

/// Arbitrary JSON, biased towards Runware's keys.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = leaf();
    leaf.prop_recursive(3, 24, 5, |inner| {
        let keys = prop_oneof![
            prop::sample::select(vec![
                "data",
                "errors",
                "error",
                "taskUUID",
                "taskType",
                "status",
                "code",
                "message",
                "imageUUID",
                "imageURL",
                "parameter",
                "results",
                "errorId",
            ])
            .prop_map(str::to_string),
            "[a-zA-Z]{1,8}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(keys, inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A data or error item shaped like Runware's.
fn item() -> impl Strategy<Value = Value> {
    (
        prop::option::weighted(0.9, uuid_value()),
        prop::option::weighted(
            0.8,
            prop_oneof![
                prop::sample::select(vec![
                    "imageInference",
                    "modelSearch",
                    "getResponse",
                    "ping",
                    "imageUpload",
                ])
                .prop_map(|s| json!(s)),
                leaf(),
            ],
        ),
        prop::option::weighted(
            0.6,
            prop_oneof![
                prop::sample::select(vec!["success", "processing", "error", "failed", "pending"])
                    .prop_map(|s| json!(s)),
                leaf(),
            ],
        ),
        prop::option::weighted(0.5, (0u8..4).prop_map(|i| json!(format!("image-{i}")))),
        prop::option::weighted(0.3, code_value()),
        prop::option::weighted(
            0.3,
            prop_oneof![
                leaf(),
                prop::collection::vec(leaf(), 0..3).prop_map(Value::Array)
            ],
        ),
        prop::collection::btree_map("[a-zA-Z]{1,8}", leaf(), 0..3),
    )
        .prop_map(|(uuid, task_type, status, image, code, extra, rest)| {
            let mut m: Map<String, Value> = rest.into_iter().collect();
            let mut put = |k: &str, v: Option<Value>| {
                if let Some(v) = v {
                    m.insert(k.to_string(), v);
                }
            };
            put("taskUUID", uuid);
            put("taskType", task_type);
            put("status", status);
            put("imageUUID", image);
            put("code", code);
            put("parameter", extra);
            Value::Object(m)
        })
}

/// A Runware-shaped response body.
fn envelope() -> impl Strategy<Value = Value> {
    let items = || prop::collection::vec(item(), 0..4);
    prop_oneof![
        3 => items().prop_map(|d| json!({"data": d})),
        2 => items().prop_map(|e| json!({"errors": e})),
        3 => (items(), items()).prop_map(|(d, e)| json!({"data": d, "errors": e})),
        1 => item().prop_map(|i| json!({"data": i})),
        1 => (item(), uuid_value()).prop_map(|(e, u)| json!({"error": e, "taskUUID": u})),
        1 => (any::<u8>(), ".{0,10}")
            .prop_map(|(id, m)| json!({"error": true, "errorId": id, "errorMessage": m})),
        1 => prop::collection::vec((items(), items()), 0..3).prop_map(|parts| {
            Value::Array(
                parts
                    .into_iter()
                    .map(|(d, e)| json!({"data": d, "errors": e}))
                    .collect(),
            )
        }),
        1 => any_json(),
    ]
}

/// A body as scripted: bytes, or a JSON template (optionally damaged after rendering).
#[derive(Debug, Clone)]
enum Body {
    Bytes(Vec<u8>),
    Template(Value),
    /// Rendered, then cut to this fraction (per mille) of its length.
    Truncated(Value, u16),
    /// Rendered, then the byte at this fraction (per mille) XOR-ed with the mask.
    Flipped(Value, u16, u8),
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        2 => prop::collection::vec(any::<u8>(), 0..256).prop_map(Body::Bytes),
        8 => envelope().prop_map(Body::Template),
        1 => (envelope(), 0u16..1000).prop_map(|(v, at)| Body::Truncated(v, at)),
        1 => (envelope(), 0u16..1000, 1u8..=255).prop_map(|(v, at, m)| Body::Flipped(v, at, m)),
    ]
}

/// One scripted server step.
#[derive(Debug, Clone)]
enum Step {
    Answer {
        status: u16,
        headers: Vec<(String, String)>,
        body: Body,
    },
    Fail(TransportKind),
    /// An event the machine does not expect while a request is in flight.
    Slept,
}

fn header() -> impl Strategy<Value = (String, String)> {
    let retry_after = prop_oneof![
        (0u64..5).prop_map(|s| s.to_string()),
        any::<u64>().prop_map(|s| s.to_string()),
        Just("0.5".to_string()),
        Just("-1".to_string()),
        Just("1e308".to_string()),
        Just("NaN".to_string()),
        Just("Wed, 21 Oct 2015 07:28:00 GMT".to_string()),
        Just("Sunday, 06-Nov-94 08:49:37 GMT".to_string()),
        Just("Sun Nov  6 08:49:37 1994".to_string()),
        ".{0,30}",
    ];
    prop_oneof![
        retry_after.prop_map(|v| ("Retry-After".to_string(), v)),
        prop_oneof![Just("Wed, 21 Oct 2015 07:27:00 GMT".to_string()), ".{0,30}"]
            .prop_map(|v| ("date".to_string(), v)),
        ("[a-zA-Z-]{1,12}", ".{0,12}"),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let status = prop_oneof![
        6 => Just(200u16),
        4 => prop::sample::select(vec![
            201u16, 202, 204, 400, 401, 402, 403, 404, 408, 409, 413, 422, 429, 500, 502, 503, 504,
        ]),
        1 => any::<u16>(),
    ];
    prop_oneof![
        10 => (status, prop::collection::vec(header(), 0..3), body())
            .prop_map(|(status, headers, body)| Step::Answer { status, headers, body }),
        2 => prop::sample::select(vec![
            TransportKind::Denied,
            TransportKind::Timeout,
            TransportKind::Connection,
            TransportKind::TooLarge,
            TransportKind::Other,
        ])
        .prop_map(Step::Fail),
        1 => Just(Step::Slept),
    ]
}

/// Which machine a case drives.
#[derive(Debug, Clone)]
enum Kind {
    /// `run` with these tasks: (taskType, async, numberResults).
    Run(Vec<(&'static str, bool, u8)>),
    GetResponse,
    Wait(u8),
    Download,
}

fn kind() -> impl Strategy<Value = Kind> {
    let task = (
        prop::sample::select(vec!["imageInference", "modelSearch", "imageUpload", "ping"]),
        any::<bool>(),
        0u8..4,
    );
    prop_oneof![
        6 => prop::collection::vec(task, 1..4).prop_map(Kind::Run),
        1 => Just(Kind::GetResponse),
        1 => (0u8..4).prop_map(Kind::Wait),
        1 => Just(Kind::Download),
    ]
}

/// One fuzz case.
#[derive(Debug, Clone)]
struct Case {
    /// Raw input for the parser on its own.
    raw: Body,
    kind: Kind,
    max_retries: u32,
    max_response_bytes: u64,
    poll_interval_ms: u64,
    script: Vec<Step>,
    seed: u64,
}

fn case() -> impl Strategy<Value = Case> {
    (
        body(),
        kind(),
        0u32..5,
        prop_oneof![Just(64u64), Just(1024), Just(1 << 20)],
        prop_oneof![Just(1u64), Just(50), Just(1000)],
        prop::collection::vec(step(), 0..8),
        any::<u64>(),
    )
        .prop_map(
            |(raw, kind, max_retries, max_response_bytes, poll_interval_ms, script, seed)| Case {
                raw,
                kind,
                max_retries,
                max_response_bytes,
                poll_interval_ms,
                script,
                seed,
            },
        )
}

/// Replaces `"@i"` strings with the i-th taskUUID of the request being answered.
fn fill(value: &Value, uuids: &[String]) -> Value {
    match value {
        Value::String(s) => match s.strip_prefix('@').and_then(|i| i.parse::<usize>().ok()) {
            Some(i) => uuids
                .get(i)
                .map_or_else(|| Value::String(s.clone()), |u| Value::String(u.clone())),
            None => value.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(|v| fill(v, uuids)).collect()),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), fill(v, uuids))).collect())
        }
        other => other.clone(),
    }
}

fn render(body: &Body, uuids: &[String]) -> Vec<u8> {
    let at = |len: usize, per_mille: u16| len.saturating_mul(usize::from(per_mille)) / 1000;
    match body {
        Body::Bytes(b) => b.clone(),
        Body::Template(v) => fill(v, uuids).to_string().into_bytes(),
        Body::Truncated(v, cut) => {
            let mut b = fill(v, uuids).to_string().into_bytes();
            b.truncate(at(b.len(), *cut));
            b
        }
        Body::Flipped(v, pos, mask) => {
            let mut b = fill(v, uuids).to_string().into_bytes();
            let i = at(b.len(), *pos);
            if let Some(byte) = b.get_mut(i) {
                *byte ^= mask;
            }
            b
        }
    }
}

/// The parser and the item helpers on one body.
fn parse_all(body: &[u8]) {
    if let Ok(parsed) = parse_response(body) {
        for item in parsed.data.iter().chain(parsed.errors.iter()) {
            let _ = is_error_item(item);
            let _ = is_result_item(item);
            let _ = result_key(item);
            let _ = error_from_item(item, Some(500));
            let _ = error_from_item(item, None);
        }
    }
}

/// Drives `machine` with the script; the machine must end within the step budget.
fn drive<M: Machine>(machine: &mut M, script: &[Step], seed: u64) -> Result<(), String> {
    let mut rng = SplitMix64(seed);
    let mut now = 0u64;
    let mut steps = script.iter();
    let mut action = machine.start(now);
    for _ in 0..STEP_BUDGET {
        action = match action {
            Action::Done(_) => return Ok(()),
            Action::Sleep(ms) => {
                now = now.saturating_add(ms);
                machine.handle(Event::Slept, now, &mut rng)
            }
            Action::Send { task_uuids, .. } => {
                now = now.saturating_add(3);
                let event = match steps.next() {
                    Some(Step::Answer {
                        status,
                        headers,
                        body,
                    }) => {
                        let body = render(body, &task_uuids);
                        parse_all(&body);
                        Event::Response {
                            status: *status,
                            headers: headers.clone(),
                            body,
                        }
                    }
                    Some(Step::Fail(kind)) => Event::TransportError {
                        kind: *kind,
                        message: "scripted failure".into(),
                    },
                    Some(Step::Slept) => Event::Slept,
                    // Past the script the server is gone: the machine must give up in time.
                    None => Event::TransportError {
                        kind: TransportKind::Connection,
                        message: "connection refused".into(),
                    },
                };
                machine.handle(event, now, &mut rng)
            }
        };
        let _ = machine.drain_trace();
    }
    Err(format!(
        "the machine did not end within {STEP_BUDGET} actions"
    ))
}

/// Runs one case: the parser on the raw body, then the machine to the end.
fn run_case(case: &Case) -> Result<(), String> {
    parse_all(&render(&case.raw, &["@0".to_string()]));
    let opts = Options {
        max_retries: case.max_retries,
        deadline_ms: 120_000,
        poll_interval_ms: case.poll_interval_ms,
        poll_deadline_ms: 60_000,
        max_response_bytes: case.max_response_bytes,
        trace: case.seed.is_multiple_of(2),
        ..Options::default()
    };
    match &case.kind {
        Kind::Run(tasks) => {
            let tasks: Vec<Map<String, Value>> = tasks
                .iter()
                .enumerate()
                .map(|(i, (task_type, is_async, n))| {
                    let mut m = Map::new();
                    m.insert("taskType".into(), json!(task_type));
                    m.insert(
                        "taskUUID".into(),
                        json!(format!("00000000-0000-4000-8000-{i:012}")),
                    );
                    if *is_async {
                        m.insert("deliveryMethod".into(), json!("async"));
                    }
                    if *n > 0 {
                        m.insert("numberResults".into(), json!(n));
                    }
                    m
                })
                .collect();
            let expected = tasks.len();
            let mut call = Call::run(&opts, tasks, 0);
            drive(&mut call, &case.script, case.seed)?;
            // A finished call reports every task it was given, in order.
            match call.handle(Event::Slept, 0, &mut SplitMix64(0)) {
                Action::Done(Ok(outcome)) if outcome.tasks.len() != expected => Err(format!(
                    "{} tasks in, {} out",
                    expected,
                    outcome.tasks.len()
                )),
                Action::Done(_) => Ok(()),
                _ => Err("a finished call asked for more work".into()),
            }
        }
        Kind::GetResponse => drive(
            &mut Call::get_response(&opts, "00000000-0000-4000-8000-000000000000", 0),
            &case.script,
            case.seed,
        ),
        Kind::Wait(n) => drive(
            &mut Call::wait(
                &opts,
                "00000000-0000-4000-8000-000000000000",
                u32::from(*n),
                0,
            ),
            &case.script,
            case.seed,
        ),
        Kind::Download => match Download::new(&opts, "https://im.runware.ai/image/x.png", 0) {
            Ok(mut d) => drive(&mut d, &case.script, case.seed),
            Err(e) => Err(format!("a valid URL was refused: {}", e.detail.message)),
        },
    }
}

/// What a fuzz run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// Cases run.
    pub cases: u64,
    /// Cases that panicked or hung (0, or the run stopped at the first).
    pub failures: u64,
}

/// Runs `cases` cases from `seed`. On a failure returns the smallest failing case, printed.
/// Runs on its own thread: the nested strategies need a deeper stack than a test thread has in
/// debug builds.
pub fn run(cases: u32, seed: u64) -> Result<Report, String> {
    std::thread::Builder::new()
        .name("fuzz".into())
        .stack_size(256 << 20)
        .spawn(move || run_here(cases, seed))
        .map_err(|e| format!("cannot start the fuzz thread: {e}"))?
        .join()
        .map_err(|_| "the fuzz thread panicked outside a case".to_string())?
}

fn run_here(cases: u32, seed: u64) -> Result<Report, String> {
    let mut seed_bytes = [0u8; 32];
    for (i, chunk) in seed_bytes.chunks_mut(8).enumerate() {
        let word = SplitMix64(seed.wrapping_add(i as u64))
            .0
            .wrapping_mul(0x9E37_79B9);
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2_000,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    );
    let count = std::cell::Cell::new(0u64);
    let outcome = runner.run(&case(), |c| {
        count.set(count.get() + 1);
        run_case(&c).map_err(TestCaseError::fail)
    });
    match outcome {
        Ok(()) => Ok(Report {
            cases: count.get(),
            failures: 0,
        }),
        Err(e) => Err(format!("{e}")),
    }
}

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> Result<T, String> {
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{name} needs a number")),
    }
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("usage: fuzz [--cases N (default 1000000)] [--seed S (default 1)]");
        return std::process::ExitCode::SUCCESS;
    }
    let parsed =
        arg(&args, "--cases", 1_000_000u32).and_then(|c| Ok((c, arg(&args, "--seed", 1u64)?)));
    let (cases, seed) = match parsed {
        Ok(v) => v,
        Err(e) => {
            eprintln!("fuzz: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    // Panics are caught and shrunk by proptest; their messages would only flood the output.
    std::panic::set_hook(Box::new(|_| {}));
    let started = Instant::now();
    match run(cases, seed) {
        Ok(report) => {
            println!(
                "fuzz: {} cases (seed {seed}) in {:.1} s, 0 panics, 0 hangs",
                report.cases,
                started.elapsed().as_secs_f64()
            );
            std::process::ExitCode::SUCCESS
        }
        Err(failure) => {
            println!(
                "fuzz: FAILED after {:.1} s: {failure}",
                started.elapsed().as_secs_f64()
            );
            std::process::ExitCode::FAILURE
        }
    }
}
