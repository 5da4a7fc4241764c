//! The exit-code policy, as documented in `--help`: 0 success; 1 the response holds errors
//! retrying cannot fix; 2 usage or input error, found before anything is sent; 3 transport
//! failure, deadline, or a transient failure still failing after the retries.
//!
//! Also where a failed call becomes its exit code and what stdout shows for it, so that every
//! command reports failures the same way.

use runware_host::{Error, ErrorDetail, ErrorKind, RunResult};

/// Success.
pub const OK: u8 = 0;
/// The response holds errors that retrying cannot fix (partial success included).
pub const RESPONSE_ERRORS: u8 = 1;
/// Usage or input error, detected before any request is sent.
pub const USAGE: u8 = 2;
/// Transport failure, deadline, or a transient failure still failing after the retries; also a
/// failure of the component itself.
pub const TRANSPORT: u8 = 3;

/// A failure that ends the command: the message for stderr and the exit code.
#[derive(Debug)]
pub struct Fail {
    /// The process's exit code (one of this module's constants).
    pub code: u8,
    /// What went wrong, for stderr (never holding the key); empty prints nothing.
    pub message: String,
}

impl Fail {
    /// A usage or input error (exit 2).
    pub fn usage(message: impl Into<String>) -> Fail {
        Fail {
            code: USAGE,
            message: message.into(),
        }
    }

    /// A failure with the given exit code.
    pub fn with_code(code: u8, message: impl Into<String>) -> Fail {
        Fail {
            code,
            message: message.into(),
        }
    }
}

/// Prints a run result; exit 1 when any task failed.
pub fn finish_run(r: Result<RunResult, Error>) -> Result<u8, Fail> {
    let r = r.map_err(api_failure)?;
    println!("{}", r.response_json);
    if r.has_errors() {
        for t in r.tasks.iter().filter_map(|t| t.error.as_ref()) {
            eprintln!("runware: {t}");
        }
        Ok(RESPONSE_ERRORS)
    } else {
        Ok(OK)
    }
}

/// The exit code of a failed call: 2 for a request found invalid before sending; 3 for
/// transport failures, deadlines, transient failures still failing after the retries (HTTP
/// 5xx, rate limits, unreadable answers) and component failures; 1 for the errors Runware
/// answered that retrying cannot fix.
pub fn exit_code(e: &Error) -> u8 {
    match e {
        Error::Api { kind, detail } => match kind {
            ErrorKind::InvalidRequest if detail.attempts == 0 => USAGE,
            ErrorKind::Transport | ErrorKind::Timeout => TRANSPORT,
            _ if detail.retryable => TRANSPORT,
            _ => RESPONSE_ERRORS,
        },
        _ => TRANSPORT,
    }
}

/// Maps a failed call to its exit code, printing what the response held to stdout (except
/// for input errors, where nothing was sent).
pub fn api_failure(e: Error) -> Fail {
    let code = exit_code(&e);
    if let Error::Api { detail, .. } = &e
        && code != USAGE
    {
        println!("{}", error_response_json(detail));
    }
    Fail::with_code(code, e.report())
}

/// The response received before the failure, or a Runware-shaped `errors` entry for it.
fn error_response_json(d: &ErrorDetail) -> String {
    if let Some(json) = d
        .response_json
        .as_deref()
        .filter(|j| serde_json::from_str::<serde_json::Value>(j).is_ok())
    {
        return json.to_string();
    }
    let mut item = serde_json::Map::new();
    item.insert("code".into(), d.code.clone().into());
    item.insert("message".into(), d.message.clone().into());
    if let Some(u) = &d.task_uuid {
        item.insert("taskUUID".into(), u.clone().into());
    }
    if let Some(t) = &d.task_type {
        item.insert("taskType".into(), t.clone().into());
    }
    if let Some(p) = &d.parameter {
        item.insert("parameter".into(), p.clone().into());
    }
    serde_json::json!({ "data": [], "errors": [item] }).to_string()
}
