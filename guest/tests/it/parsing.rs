//! Lenient response parsing, error items, classification and retry/poll timing.
#![expect(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

use runware_guest::error::{ErrorKind, classify_code, classify_status, status_retryable};
use runware_guest::parse::{
    error_from_item, is_result_item, number_text, parse_response, result_key,
};
use runware_guest::retry::{
    Entropy, SplitMix64, backoff_ceiling_ms, backoff_delay_ms, next_poll_delay_ms, parse_http_date,
    parse_retry_after,
};
use serde_json::json;

use crate::common::object;

#[test]
fn every_lenient_shape() {
    let p = parse_response(br#"{"data":[{"taskUUID":"a"}]}"#).unwrap();
    assert_eq!((p.data.len(), p.errors.len()), (1, 0));
    let p = parse_response(br#"{"errors":[{"code":"x","taskUUID":"a"}]}"#).unwrap();
    assert_eq!((p.data.len(), p.errors.len()), (0, 1));
    let p = parse_response(br#"{"data":[{"taskUUID":"a"}],"errors":[{"code":"x"}]}"#).unwrap();
    assert_eq!((p.data.len(), p.errors.len()), (1, 1));
    let p = parse_response(br#"{"data":{"taskUUID":"a"}}"#).unwrap();
    assert_eq!(p.data.len(), 1);
    let p = parse_response(
        br#"{"error":{"code":"invalidApiKey"},"taskUUID":"t","taskType":"imageInference"}"#,
    )
    .unwrap();
    assert_eq!(p.errors[0]["taskUUID"], "t");
    assert_eq!(p.errors[0]["taskType"], "imageInference");
    let p = parse_response(br#"{"error":[{"code":"a"},{"code":"b"}]}"#).unwrap();
    assert_eq!(p.errors.len(), 2);
    let p = parse_response(br#"[{"data":[{"taskUUID":"a"}]},{"errors":[{"code":"x"}]}]"#).unwrap();
    assert_eq!((p.data.len(), p.errors.len()), (1, 1));
    let p =
        parse_response(br#"{"error":true,"errorId":19,"errorMessage":"Invalid api key"}"#).unwrap();
    assert_eq!(p.errors[0]["code"], "invalidApiKey");
    let p = parse_response(br#"{"data":[],"errors":null}"#).unwrap();
    assert!(p.data.is_empty() && p.errors.is_empty());
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    let cases: [&[u8]; 14] = [
        br#"{"data":[{"taskUUID":5}]}"#,
        br#"{"errors":[{"taskType":true}]}"#,
        b"",
        b"<html>502</html>",
        br#"{"data":[{"taskUUID":"a"}"#,
        br#"{"data":"oops"}"#,
        br#"{"data":[1,2]}"#,
        br#"{"errors":5}"#,
        br#"{"foo":1}"#,
        b"42",
        b"[]",
        b"[1]",
        b"null",
        &[0xff, 0xfe, 0x00],
    ];
    for body in cases {
        assert!(
            parse_response(body).is_err(),
            "{:?}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn error_items() {
    let e = error_from_item(
        &object(
            json!({"code":"invalidWidth","message":"bad","parameter":["width","height"],"taskUUID":"t","taskType":"imageInference"}),
        ),
        Some(400),
    );
    assert_eq!(e.kind, ErrorKind::InvalidRequest);
    assert_eq!(e.detail.parameter.as_deref(), Some("width"));
    assert_eq!(e.detail.task_uuid.as_deref(), Some("t"));
    assert_eq!(e.detail.http_status, Some(400));
    assert!(!e.detail.retryable);
    // Nested form of a data item with status:error.
    let e = error_from_item(
        &object(
            json!({"taskUUID":"t","status":"error","error":{"code":"timeoutProvider","message":"slow"}}),
        ),
        Some(200),
    );
    assert_eq!(
        (e.kind, e.detail.code.as_str(), e.detail.retryable),
        (ErrorKind::Timeout, "timeoutProvider", true)
    );
    assert_eq!(e.detail.message, "slow");
    // No code: the status decides.
    let e = error_from_item(&object(json!({"message":"no"})), Some(402));
    assert_eq!(e.kind, ErrorKind::InsufficientCredits);
    let e = error_from_item(&object(json!({"code":123})), None);
    assert_eq!(
        (e.kind, e.detail.code.as_str()),
        (ErrorKind::Other, "unknownError")
    );
}

#[test]
fn result_items_and_dedupe_keys() {
    assert!(is_result_item(&object(
        json!({"taskUUID":"a","imageUUID":"i","status":"success"})
    )));
    assert!(is_result_item(&object(
        json!({"taskUUID":"a","imageUUID":"i"})
    )));
    assert!(!is_result_item(&object(
        json!({"taskUUID":"a","taskType":"imageInference"})
    )));
    assert!(!is_result_item(&object(
        json!({"taskUUID":"a","imageUUID":"i","status":"processing"})
    )));
    let a = result_key(&object(
        json!({"taskUUID":"a","imageUUID":"i1","status":"success","imageURL":"u"}),
    ));
    let b = result_key(&object(
        json!({"taskUUID":"a","imageUUID":"i1","imageURL":"u2"}),
    ));
    let c = result_key(&object(json!({"taskUUID":"a","imageUUID":"i2"})));
    assert_eq!(a, b);
    assert_ne!(a, c);
    let t1 = result_key(&object(
        json!({"taskUUID":"a","text":"x","status":"success"}),
    ));
    let t2 = result_key(&object(json!({"taskUUID":"a","text":"x"})));
    assert_eq!(t1, t2);
}

#[test]
fn code_classification() {
    let table = [
        ("invalidApiKey", ErrorKind::Authentication, false),
        ("missingApiKey", ErrorKind::Authentication, false),
        ("unauthorized", ErrorKind::Authentication, false),
        ("insufficientCredits", ErrorKind::InsufficientCredits, false),
        ("quotaExceeded", ErrorKind::InsufficientCredits, false),
        ("lowBalance", ErrorKind::InsufficientCredits, false),
        ("paymentRequired", ErrorKind::InsufficientCredits, false),
        ("rateLimitExceeded", ErrorKind::RateLimited, true),
        ("providerRateLimitExceeded", ErrorKind::RateLimited, true),
        ("timeoutProvider", ErrorKind::Timeout, true),
        ("requestTimeout", ErrorKind::Timeout, true),
        ("inferenceError", ErrorKind::Server, true),
        ("serviceUnavailable", ErrorKind::Server, true),
        ("internalServerError", ErrorKind::Server, true),
        ("providerError", ErrorKind::Server, true),
        ("contentPolicyViolation", ErrorKind::ContentPolicy, false),
        ("nsfwContentDetected", ErrorKind::ContentPolicy, false),
        ("invalidWidth", ErrorKind::InvalidRequest, false),
        ("missingPositivePrompt", ErrorKind::InvalidRequest, false),
        ("conflictTaskUUID", ErrorKind::InvalidRequest, false),
        ("unknownParameter", ErrorKind::InvalidRequest, false),
        ("taskFailedOrNotFound", ErrorKind::Other, false),
        ("somethingNew", ErrorKind::Other, false),
        ("invalidResponse", ErrorKind::Server, true),
        ("responseTooLarge", ErrorKind::Server, false),
    ];
    for (code, kind, retry) in table {
        assert_eq!(classify_code(code), (kind, retry), "{code}");
    }
}

#[test]
fn status_classification() {
    assert_eq!(classify_status(400), ErrorKind::InvalidRequest);
    assert_eq!(classify_status(404), ErrorKind::InvalidRequest);
    assert_eq!(classify_status(401), ErrorKind::Authentication);
    assert_eq!(classify_status(403), ErrorKind::Authentication);
    assert_eq!(classify_status(402), ErrorKind::InsufficientCredits);
    assert_eq!(classify_status(408), ErrorKind::Timeout);
    assert_eq!(classify_status(429), ErrorKind::RateLimited);
    assert_eq!(classify_status(503), ErrorKind::Server);
    for s in [408, 429, 500, 502, 503, 504] {
        assert!(status_retryable(s), "{s}");
    }
    for s in [200, 400, 401, 402, 403, 404, 409, 501, 505] {
        assert!(!status_retryable(s), "{s}");
    }
}

#[test]
fn backoff_bounds() {
    assert_eq!(backoff_ceiling_ms(0), 500);
    assert_eq!(backoff_ceiling_ms(1), 1000);
    assert_eq!(backoff_ceiling_ms(3), 4000);
    assert_eq!(backoff_ceiling_ms(4), 8000);
    assert_eq!(backoff_ceiling_ms(40), 8000);
    let mut rng = SplitMix64(1);
    let mut max_seen = 0;
    for _ in 0..2000 {
        let d = backoff_delay_ms(2, rng.next_u64());
        assert!(d <= 2000);
        max_seen = max_seen.max(d);
    }
    assert!(max_seen > 1500, "full jitter spans the range");
    assert_eq!(backoff_delay_ms(0, u64::MAX), u64::MAX % 501);
}

#[test]
fn retry_after_forms() {
    assert_eq!(parse_retry_after("2", None), Some(2000));
    assert_eq!(parse_retry_after(" 0 ", None), Some(0));
    assert_eq!(parse_retry_after("1.5", None), Some(1500));
    assert_eq!(parse_retry_after("3600", None), Some(60_000));
    assert_eq!(parse_retry_after("-1", None), None);
    assert_eq!(parse_retry_after("soon", None), None);
    let date = "Sun, 06 Nov 1994 08:49:37 GMT";
    assert_eq!(
        parse_retry_after("Sun, 06 Nov 1994 08:49:40 GMT", Some(date)),
        Some(3000)
    );
    assert_eq!(
        parse_retry_after("Sun, 06 Nov 1994 08:49:30 GMT", Some(date)),
        Some(0)
    );
    assert_eq!(
        parse_retry_after("Sun, 06 Nov 1994 09:49:40 GMT", Some(date)),
        Some(60_000)
    );
    assert_eq!(
        parse_retry_after("Sun, 06 Nov 1994 08:49:40 GMT", None),
        None
    );
}

#[test]
fn http_dates() {
    assert_eq!(
        parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
        Some(784_111_777)
    );
    assert_eq!(
        parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"),
        Some(784_111_777)
    );
    assert_eq!(
        parse_http_date("Sun Nov  6 08:49:37 1994"),
        Some(784_111_777)
    );
    assert_eq!(
        parse_http_date("Sat, 28 Nov 2026 22:00:00 GMT"),
        Some(1_795_903_200)
    );
    assert_eq!(parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT"), None);
    assert_eq!(parse_http_date("Sun, 06 Nov 1994 25:49:37 GMT"), None);
}

#[test]
fn poll_schedule_grows_to_ten_seconds() {
    let mut d = 1000;
    let mut seen = vec![d];
    for _ in 0..8 {
        d = next_poll_delay_ms(d, 1000);
        seen.push(d);
    }
    assert_eq!(
        seen,
        vec![1000, 1500, 2250, 3375, 5062, 7593, 10_000, 10_000, 10_000]
    );
    assert_eq!(next_poll_delay_ms(20_000, 20_000), 20_000);
}

#[test]
fn uuids_are_v4() {
    let mut rng = SplitMix64(9);
    let a = rng.uuid_v4();
    let b = rng.uuid_v4();
    assert_ne!(a, b);
    let parsed = uuid::Uuid::parse_str(&a).unwrap();
    assert_eq!(parsed.get_version_num(), 4);
}

/// Numbers sent as text are read as `str::parse::<f64>` read them (the component no longer
/// links core's float parser), and what is not a number stays `None`.
#[test]
fn numbers_as_text_read_like_str_parse() {
    for text in [
        "42.5",
        " 42.5 ",
        "+5",
        "-5",
        "007",
        ".5",
        "-.5",
        "5.",
        "1e3",
        "1E-3",
        "2.5e+2",
        "0",
        "-0",
        "0.000125",
        "123456789.125",
    ] {
        let expected: f64 = text.trim().parse().unwrap();
        assert_eq!(number_text(text), Some(expected), "{text:?}");
    }
    for text in [
        "", " ", ".", "-", "+", "abc", "1.2.3", "1e", "--5", "+-5", "5%", "0x10", "1 2",
    ] {
        assert_eq!(number_text(text), None, "{text:?}");
    }
    // Out of range: `None` here, infinity for `str::parse`; every caller drops both.
    assert_eq!(number_text("1e400"), None);
}
