//! The embedder's error type: the component's typed API errors, kept apart from host failures
//! and traps.
//!
//! [`Error::Api`] is an error the component meant to return (Runware refused a task, the
//! network failed after the retries, a request was invalid); match on its [`ErrorKind`].
//! [`Error::Trap`] means the component itself failed (a bug, or a resource limit that stopped
//! it) and [`Error::Host`] that the embedding failed before or around the call.

use std::fmt;

use crate::bindings::runware::client::types as wit;

pub use crate::types::{ErrorDetail, ErrorKind};

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

/// Why a component trapped, as far as the host can tell from the trap's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TrapCause {
    /// It tried to grow its linear memory past the cap
    /// ([`RuntimeConfig::max_memory_bytes`](crate::RuntimeConfig)).
    MemoryCap,
    /// It was still running when the execution limit passed, and the epoch interrupt stopped
    /// it ([`ClientConfig::execution_limit`](crate::ClientConfig)).
    ExecutionLimit,
    /// Anything else: a bug in the component (a panic aborts as `unreachable`), or a host
    /// function it called failed.
    Other,
}

impl fmt::Display for TrapCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrapCause::MemoryCap => "the instance hit its memory cap",
            TrapCause::ExecutionLimit => {
                "execution limit exceeded: the host interrupted the component (epoch deadline)"
            }
            TrapCause::Other => "the component failed",
        })
    }
}

/// A boxed error kept as the [`source`](std::error::Error::source) of an [`Error`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything a [`Client`](crate::Client) call or [`Runtime`](crate::Runtime) set-up can fail with.
///
/// `Display` says what failed in one line; [`Error::report`] adds the chain of causes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A typed error returned by the component: Runware refused, the network failed after the
    /// retries, or the request was invalid.
    #[error("{kind} error: {detail}")]
    Api {
        /// Which kind of failure (the WIT `error-kind`).
        kind: ErrorKind,
        /// Its detail (boxed: it is large, and errors should be cheap to move).
        detail: Box<ErrorDetail>,
    },
    /// The component trapped: a bug, or a resource limit that stopped it while it ran. Not an
    /// answer from Runware.
    #[error("the component trapped: {cause}{}", stderr_note(stderr))]
    Trap {
        /// What stopped it, recognised by the trap's type.
        cause: TrapCause,
        /// The end of what the component wrote to stderr (a panic message, for example).
        stderr: String,
        /// The trap as wasmtime reported it.
        #[source]
        source: BoxError,
    },
    /// The host's watchdog dropped the call: the component was waiting (on the network or a
    /// timer) when the execution limit passed, so it was stopped from outside. Not a trap.
    #[error(
        "execution limit exceeded: the host dropped the waiting component after {} ms",
        limit.as_millis()
    )]
    ExecutionLimit {
        /// The limit that passed (the execution limit plus the watchdog's slack).
        limit: std::time::Duration,
    },
    /// The host failed: bad configuration, the component could not be loaded, an I/O error.
    #[error("host error: {message}")]
    Host {
        /// What the host was doing.
        message: String,
        /// The underlying failure, when there is one.
        #[source]
        source: Option<BoxError>,
    },
}

fn stderr_note(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!("; component stderr: {stderr}")
    }
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

    /// The error and every cause under it, joined by `: ` (for logs and messages).
    pub fn report(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }

    pub(crate) fn host(msg: impl fmt::Display) -> Self {
        Error::Host {
            message: msg.to_string(),
            source: None,
        }
    }

    pub(crate) fn host_with(msg: impl fmt::Display, source: impl Into<BoxError>) -> Self {
        Error::Host {
            message: msg.to_string(),
            source: Some(source.into()),
        }
    }
}

impl From<wit::Error> for Error {
    fn from(e: wit::Error) -> Self {
        Error::Api {
            kind: e.kind,
            detail: Box::new(e.detail),
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
        let detail = wit::ErrorDetail {
            code: "transportError".into(),
            message: "denied".into(),
            retryable: true,
            attempts: 4,
            ..wit::ErrorDetail::default()
        };
        let e: Error = wit::Error {
            kind: ErrorKind::Transport,
            detail,
        }
        .into();
        assert_eq!(e.kind(), Some(ErrorKind::Transport));
        assert!(e.is_retryable());
        assert_eq!(e.detail().map(|d| d.attempts), Some(4));
    }
}
