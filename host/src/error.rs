//! The embedder's error type: the component's typed API errors, kept apart from host failures
//! and traps.
//!
//! [`Error::Api`] is an error the component meant to return (Runware refused a task, the
//! network failed after the retries, a request was invalid); match on its [`ErrorKind`].
//! [`Error::Trap`] means the component itself failed (a bug, or a resource limit that stopped
//! it) and [`Error::Host`] that the embedding failed before or around the call.

use std::fmt;

use crate::bindings::runware::client::types as wit;

/// What went wrong, in detail. Every field that is known is set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorDetail {
    /// Runware's error code, such as `invalidWidth` or `timeoutProvider`, or one of the
    /// component's own (`invalidRequest`, `transportError`, `deadlineExceeded`,
    /// `invalidResponse`, `missingResult`, `unknownTaskUUID`, `responseTooLarge`).
    pub code: String,
    /// A human-readable explanation, for logs, not for matching.
    pub message: String,
    /// The task the error belongs to, when there is one.
    pub task_uuid: Option<String>,
    /// That task's type.
    pub task_type: Option<String>,
    /// The request field at fault, such as `width`.
    pub parameter: Option<String>,
    /// The HTTP status of the last response, when one arrived.
    pub http_status: Option<u16>,
    /// Whether trying again later could succeed.
    pub retryable: bool,
    /// How many HTTP requests this call made in all (0 when nothing was sent).
    pub attempts: u32,
    /// Everything received before the failure, as `{"data":[…],"errors":[…]}`.
    pub response_json: Option<String>,
}

impl fmt::Display for ErrorDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(uuid) = &self.task_uuid {
            write!(f, " (taskUUID {uuid}")?;
            if let Some(tt) = &self.task_type {
                write!(f, ", {tt}")?;
            }
            write!(f, ")")?;
        }
        if let Some(p) = &self.parameter {
            write!(f, " [parameter {p}]")?;
        }
        if let Some(s) = &self.http_status {
            write!(f, " [HTTP {s}]")?;
        }
        write!(f, ": {}", self.message)?;
        if self.attempts > 0 {
            let s = if self.attempts == 1 { "" } else { "s" };
            write!(f, " (after {} attempt{s})", self.attempts)?;
        }
        Ok(())
    }
}

/// Which case of the WIT `error` variant the component returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request is invalid, found locally (nothing was sent) or by Runware.
    InvalidRequest,
    /// The API key is missing, invalid or lacks permission.
    Authentication,
    /// The account's balance is too low.
    InsufficientCredits,
    /// Too many requests or a provider's rate limit, still failing after the retries.
    RateLimited,
    /// A deadline passed: the call's own, a poll deadline, or Runware's provider timeout.
    Timeout,
    /// The request or its response was lost on the way, or the host refused the destination.
    Transport,
    /// Runware failed (HTTP 5xx, an inference error) or answered with something unreadable.
    Server,
    /// The prompt or an image was refused by a content policy.
    ContentPolicy,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// Whether errors of this kind can succeed when tried again later. The detail's own
    /// [`ErrorDetail::retryable`] is the component's decision for one error and wins.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::RateLimited | ErrorKind::Timeout | ErrorKind::Transport | ErrorKind::Server
        )
    }

    /// The WIT case name, such as `invalid-request`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest => "invalid-request",
            ErrorKind::Authentication => "authentication",
            ErrorKind::InsufficientCredits => "insufficient-credits",
            ErrorKind::RateLimited => "rate-limited",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Transport => "transport",
            ErrorKind::Server => "server",
            ErrorKind::ContentPolicy => "content-policy",
            ErrorKind::Other => "other",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything a [`Client`](crate::Client) call or [`Runtime`](crate::Runtime) set-up can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A typed error returned by the component: Runware refused, the network failed after the
    /// retries, or the request was invalid.
    #[error("{kind} error: {detail}")]
    Api {
        /// Which case of the WIT `error` variant.
        kind: ErrorKind,
        /// Its detail (boxed: it is large, and errors should be cheap to move).
        detail: Box<ErrorDetail>,
    },
    /// The component trapped or was stopped by a resource limit (memory cap, execution
    /// deadline). A bug or an exhausted limit, not an answer from Runware.
    #[error("the component trapped: {0}")]
    Trap(String),
    /// The host failed: bad configuration, the component could not be loaded, an I/O error.
    #[error("host error: {0}")]
    Host(String),
}

impl Error {
    /// The error's kind when it is a typed API error.
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            Error::Api { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// The error's detail when it is a typed API error.
    pub fn detail(&self) -> Option<&ErrorDetail> {
        match self {
            Error::Api { detail, .. } => Some(detail),
            _ => None,
        }
    }

    /// Whether trying again later could succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api { detail, .. } => detail.retryable,
            _ => false,
        }
    }

    pub(crate) fn host(msg: impl fmt::Display) -> Self {
        Error::Host(msg.to_string())
    }
}

impl From<wit::ErrorDetail> for ErrorDetail {
    fn from(d: wit::ErrorDetail) -> Self {
        ErrorDetail {
            code: d.code,
            message: d.message,
            task_uuid: d.task_uuid,
            task_type: d.task_type,
            parameter: d.parameter,
            http_status: d.http_status,
            retryable: d.retryable,
            attempts: d.attempts,
            response_json: d.response_json,
        }
    }
}

impl From<wit::Error> for Error {
    fn from(e: wit::Error) -> Self {
        let (kind, detail) = match e {
            wit::Error::InvalidRequest(d) => (ErrorKind::InvalidRequest, d),
            wit::Error::Authentication(d) => (ErrorKind::Authentication, d),
            wit::Error::InsufficientCredits(d) => (ErrorKind::InsufficientCredits, d),
            wit::Error::RateLimited(d) => (ErrorKind::RateLimited, d),
            wit::Error::Timeout(d) => (ErrorKind::Timeout, d),
            wit::Error::Transport(d) => (ErrorKind::Transport, d),
            wit::Error::Server(d) => (ErrorKind::Server, d),
            wit::Error::ContentPolicy(d) => (ErrorKind::ContentPolicy, d),
            wit::Error::Other(d) => (ErrorKind::Other, d),
        };
        Error::Api {
            kind,
            detail: Box::new(detail.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_code_task_and_message() {
        let e = Error::Api {
            kind: ErrorKind::InvalidRequest,
            detail: Box::new(ErrorDetail {
                code: "invalidWidth".into(),
                message: "width must be 128 to 2048".into(),
                task_uuid: Some("1b1c3d2e-0000-4000-8000-000000000001".into()),
                task_type: Some("imageInference".into()),
                parameter: Some("width".into()),
                attempts: 0,
                ..ErrorDetail::default()
            }),
        };
        let s = e.to_string();
        assert!(s.starts_with("invalid-request error: invalidWidth"), "{s}");
        assert!(
            s.contains("taskUUID 1b1c3d2e-0000-4000-8000-000000000001"),
            "{s}"
        );
        assert!(s.contains("width must be 128 to 2048"), "{s}");
        assert!(s.contains("parameter width"), "{s}");
    }

    #[test]
    fn kind_retryability() {
        assert!(ErrorKind::Transport.is_retryable());
        assert!(ErrorKind::RateLimited.is_retryable());
        assert!(!ErrorKind::InvalidRequest.is_retryable());
        assert!(!ErrorKind::Authentication.is_retryable());
        assert!(!ErrorKind::InsufficientCredits.is_retryable());
        assert!(!ErrorKind::ContentPolicy.is_retryable());
    }

    #[test]
    fn wit_error_maps_to_kind() {
        let d = wit::ErrorDetail {
            code: "transportError".into(),
            message: "denied".into(),
            task_uuid: None,
            task_type: None,
            parameter: None,
            http_status: None,
            retryable: true,
            attempts: 4,
            response_json: None,
        };
        let e: Error = wit::Error::Transport(d).into();
        assert_eq!(e.kind(), Some(ErrorKind::Transport));
        assert!(e.is_retryable());
        assert_eq!(e.detail().map(|d| d.attempts), Some(4));
    }
}
