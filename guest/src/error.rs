//! The component's error model (the WIT `error`: a kind and its detail) and the
//! classification of Runware codes and HTTP statuses into kinds.

use crate::prelude::*;

use core::fmt;

pub use crate::wit::{ErrorDetail, ErrorKind};

/// An error of a call: its kind and its detail (the WIT `error`, with the detail boxed).
#[derive(Debug, Clone, PartialEq)]
pub struct ClientError {
    /// Which kind of failure.
    pub kind: ErrorKind,
    /// The record it carries (boxed: it is large and errors travel in `Result`s).
    pub detail: Box<ErrorDetail>,
}

impl ClientError {
    /// A new error with only `kind`, `code` and `message` set (`retryable` false).
    pub fn new(kind: ErrorKind, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind,
            detail: Box::new(ErrorDetail {
                code: code.into(),
                message: message.into(),
                ..ErrorDetail::default()
            }),
        }
    }

    /// A local validation error (`invalid-request`, nothing sent).
    pub fn invalid(code: impl Into<String>, parameter: &str, message: impl Into<String>) -> Self {
        let mut e = Self::new(ErrorKind::InvalidRequest, code, message);
        e.detail.parameter = Some(parameter.to_string());
        e
    }

    /// Sets `retryable`.
    #[must_use]
    pub fn retryable(mut self, retryable: bool) -> Self {
        self.detail.retryable = retryable;
        self
    }

    /// Sets the task the error belongs to.
    #[must_use]
    pub fn for_task(mut self, task_uuid: &str, task_type: Option<&str>) -> Self {
        self.detail.task_uuid = Some(task_uuid.to_string());
        if self.detail.task_type.is_none() {
            self.detail.task_type = task_type.map(str::to_string);
        }
        self
    }

    /// Sets the HTTP status.
    #[must_use]
    pub fn with_status(mut self, status: Option<u16>) -> Self {
        self.detail.http_status = status;
        self
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} {}: {}",
            self.kind, self.detail.code, self.detail.message
        )
    }
}

impl core::error::Error for ClientError {}

impl From<ClientError> for crate::wit::Error {
    fn from(e: ClientError) -> Self {
        crate::wit::Error {
            kind: e.kind,
            detail: *e.detail,
        }
    }
}

const AUTH_CODES: &[&str] = &[
    "unauthorized",
    "forbidden",
    "permissionDenied",
    "insufficientPermissions",
    "authenticationFailed",
    "authFailed",
    "authTimeout",
    "invalidAuthentication",
    "invalidCredentials",
    "missingAuthentication",
    "tokenExpired",
    "tokenInvalid",
    "tokenMissing",
    "tokenRevoked",
    "accountSuspended",
    "accountDisabled",
    "organizationSuspended",
    "organizationDisabled",
    "workspaceSuspended",
    "workspaceDisabled",
];
const SAFETY_CODES: &[&str] = &[
    "contentPolicyViolation",
    "providerContentPolicyViolation",
    "sensitiveContentDetected",
    "unsafeContentDetected",
    "nsfwContentDetected",
    "promptBlocked",
    "imageBlocked",
    "moderationFailed",
    "invalidProviderContent",
    "safety",
];
const SERVER_CODES: &[&str] = &[
    "internalServerError",
    "serviceUnavailable",
    "serverUnavailable",
    "standardError",
    "unknownError",
    "undefinedError",
    "defaultError",
    "unrecognizedResponse",
    "errorRetrievingAccountManagement",
];
const PROVIDER_CODES: &[&str] = &[
    "inferenceError",
    "processingFailed",
    "taskFailed",
    "downloadFailed",
    "uploadFailed",
    "noAvailableServer",
    "modelUnavailable",
    "modelDisabled",
    "modelNotReady",
    "mediaStorageFileCouldNotBeMoved",
];
const VALIDATION_PREFIXES: &[&str] = &[
    "invalid",
    "missing",
    "conflict",
    "duplicate",
    "unsupported",
    "value",
    "array",
    "max",
];
const VALIDATION_CODES: &[&str] = &[
    "unknownParameter",
    "incompatibleParameters",
    "mismatchProviderSettingsProvider",
    "unknownProviderSettingsProvider",
    "transparentModelMismatch",
    "modelOwnershipValidationError",
    "modelAlreadyExists",
    "validationFailed",
];

/// Classifies a Runware error code (runware-api.md §4.2, the PYSDK classes) and says whether
/// retrying can help. Unknown codes are `Other`, not retryable.
pub fn classify_code(code: &str) -> (ErrorKind, bool) {
    let lower = code.to_ascii_lowercase();
    // The component's own codes first.
    match code {
        "invalidResponse" => return (ErrorKind::Server, true),
        "transportError" => return (ErrorKind::Transport, true),
        "deadlineExceeded" => return (ErrorKind::Timeout, true),
        "missingResult" | "unknownTaskUUID" | "responseTooLarge" => {
            return (ErrorKind::Server, false);
        }
        _ => {}
    }
    if code.contains("ApiKey") || lower == "apikey" || AUTH_CODES.contains(&code) {
        return (ErrorKind::Authentication, false);
    }
    if lower.contains("credit")
        || lower.contains("quota")
        || lower.contains("balance")
        || code == "paymentRequired"
        || code == "environmentPaused"
    {
        return (ErrorKind::InsufficientCredits, false);
    }
    if lower.contains("ratelimit") {
        return (ErrorKind::RateLimited, true);
    }
    if SAFETY_CODES.contains(&code) {
        return (ErrorKind::ContentPolicy, false);
    }
    if lower.contains("timeout") {
        return (ErrorKind::Timeout, true);
    }
    if SERVER_CODES.contains(&code)
        || PROVIDER_CODES.contains(&code)
        || code.starts_with("provider")
    {
        return (ErrorKind::Server, true);
    }
    if VALIDATION_CODES.contains(&code) || VALIDATION_PREFIXES.iter().any(|p| code.starts_with(p)) {
        return (ErrorKind::InvalidRequest, false);
    }
    (ErrorKind::Other, false)
}

/// Whether an HTTP status is worth retrying: 408, 429, 500, 502, 503, 504.
pub fn status_retryable(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// Classifies a non-2xx HTTP status whose body carried no usable error code.
pub fn classify_status(status: u16) -> ErrorKind {
    match status {
        400 | 404 | 413 | 422 => ErrorKind::InvalidRequest,
        401 | 403 => ErrorKind::Authentication,
        402 => ErrorKind::InsufficientCredits,
        408 => ErrorKind::Timeout,
        429 => ErrorKind::RateLimited,
        500..=599 => ErrorKind::Server,
        _ => ErrorKind::Other,
    }
}

/// An error for a non-2xx HTTP status with no usable body.
pub fn status_error(status: u16) -> ClientError {
    ClientError::new(
        classify_status(status),
        "httpError",
        format!("HTTP status {status}"),
    )
    .with_status(Some(status))
    .retryable(status_retryable(status))
}
