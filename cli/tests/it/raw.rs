//! The checks of `runware raw`'s task file ([`runware_cli::raw`]).

use runware_cli::exit;
use runware_cli::raw::check_tasks;
use runware_host::API_KEY_ENV;

#[test]
fn raw_checks_refuse_keys_without_echoing_them() {
    let secret = format!("test-{}", 41 + 1);
    let text = format!(r#"[{{"taskType":"modelSearch","search":"x","apiKey":"{secret}"}}]"#);
    let f = check_tasks("f.json", &text)
        .err()
        .map(|f| (f.code, f.message));
    let (code, message) = f.unwrap_or_default();
    assert_eq!(code, exit::USAGE);
    assert!(message.contains("apiKey"), "{message}");
    assert!(message.contains(API_KEY_ENV), "{message}");
    assert!(!message.contains(&secret), "{message}");

    let text = r#"{"taskType":"authentication","apiKey":"x"}"#;
    let message = check_tasks("f.json", text)
        .err()
        .map(|f| f.message)
        .unwrap_or_default();
    assert!(message.contains("authentication"), "{message}");
}

#[test]
fn raw_checks_report_line_and_column() {
    let message = check_tasks("f.json", "[\n  {\"taskType\": }\n]")
        .err()
        .map(|f| f.message)
        .unwrap_or_default();
    assert!(message.contains("line 2, column"), "{message}");
    assert!(check_tasks("f.json", r#"{"taskType":"modelSearch"}"#).is_ok());
    assert!(check_tasks("f.json", "[]").is_err());
    assert!(check_tasks("f.json", "[1]").is_err());
}
