//! Property tests: random bytes and random JSON into the parser, the correlator and the state
//! machine never panic, and a call always ends.
#![expect(clippy::unwrap_used, clippy::panic, reason = "tests")]

use proptest::prelude::*;
use runware_guest::machine::{Action, Call, Event, TransportKind};
use runware_guest::options::Options;
use runware_guest::parse::parse_response;
use runware_guest::retry::SplitMix64;
use serde_json::{Value, json};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        prop_oneof![
            Just("a".to_string()),
            Just("b".to_string()),
            Just("success".to_string()),
            Just("processing".to_string()),
            Just("error".to_string()),
            Just("conflictTaskUUID".to_string()),
            Just("timeoutProvider".to_string()),
            ".{0,8}",
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let keys = prop_oneof![
            Just("data".to_string()),
            Just("errors".to_string()),
            Just("error".to_string()),
            Just("taskUUID".to_string()),
            Just("taskType".to_string()),
            Just("status".to_string()),
            Just("code".to_string()),
            Just("imageUUID".to_string()),
            Just("parameter".to_string()),
            "[a-z]{1,6}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(keys, inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Answers each request with the next scripted event; the call must end within the script.
fn run_script(script: Vec<Event>) {
    let opts = Options {
        max_retries: 2,
        deadline_ms: 60_000,
        poll_deadline_ms: 30_000,
        ..Options::default()
    };
    let tasks = vec![
        json!({"taskType":"imageInference","taskUUID":"a","numberResults":2,"deliveryMethod":"async"}),
        json!({"taskType":"modelSearch","taskUUID":"b"}),
    ];
    let tasks = tasks
        .into_iter()
        .map(|t| t.as_object().cloned().unwrap())
        .collect();
    let mut call = Call::run(&opts, tasks, 0);
    let mut rng = SplitMix64(3);
    let mut now = 0;
    let mut action = call.start(now);
    let mut script = script.into_iter();
    for _ in 0..500 {
        action = match action {
            Action::Send { .. } => {
                now += 7;
                let ev = script.next().unwrap_or(Event::TransportError {
                    kind: TransportKind::Other,
                    message: "x".into(),
                });
                call.handle(ev, now, &mut rng)
            }
            Action::Sleep(ms) => {
                now += ms;
                call.handle(Event::Slept, now, &mut rng)
            }
            Action::Done(_) => return,
        };
    }
    panic!("the call did not end");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// The component's own JSON writer (`parse::json_text`) writes what serde_json writes.
    #[test]
    fn json_text_writes_what_serde_json_writes(
        v in arb_json(),
        escapes in "[\\x00-\\x1f\"\\\\/a-z\u{7f}\u{e9}\u{1f600}]{0,16}",
        big in any::<u64>(),
        f in any::<f64>().prop_filter("finite", |f| f.is_finite()),
    ) {
        let all = json!([v, escapes, {"k\u{1}": escapes}, big, f, -0.0, 1e300, 5e-324]);
        prop_assert_eq!(
            runware_guest::parse::json_text(&all),
            serde_json::to_string(&all).unwrap()
        );
    }

    #[test]
    fn random_bytes_never_panic_the_parser(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_response(&bytes);
    }

    #[test]
    fn random_json_never_panics_the_parser(v in arb_json()) {
        let _ = parse_response(v.to_string().as_bytes());
    }

    #[test]
    fn random_answers_never_panic_the_machine(
        answers in prop::collection::vec((arb_json(), prop::sample::select(vec![200u16, 400, 401, 429, 500, 503])), 0..12),
        wrap in any::<bool>(),
    ) {
        let script = answers
            .into_iter()
            .map(|(v, status)| {
                let body = if wrap { json!({"data": [v.clone()], "errors": [v]}) } else { v };
                Event::Response { status, headers: vec![("retry-after".into(), "1".into())], body: body.to_string().into_bytes() }
            })
            .collect();
        run_script(script);
    }

    #[test]
    fn random_bytes_never_panic_the_machine(bodies in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..8)) {
        let script = bodies.into_iter().map(|body| Event::Response { status: 200, headers: vec![], body }).collect();
        run_script(script);
    }
}
