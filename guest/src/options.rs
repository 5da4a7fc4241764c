//! Client options with their documented defaults, and the URL split the wasi glue needs.

use crate::prelude::*;

use crate::error::ClientError;

pub use runware_spec::DEFAULT_BASE_URL;
use runware_spec::{
    DEFAULT_BETWEEN_BYTES_TIMEOUT_MS, DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_DEADLINE_MS,
    DEFAULT_FIRST_BYTE_TIMEOUT_MS, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_MAX_RETRIES,
    DEFAULT_POLL_DEADLINE_MS, DEFAULT_POLL_INTERVAL_MS,
};

/// The `User-Agent` the component sends.
pub const USER_AGENT: &str = "runware-component/0.1.0";

/// The raw options as given (the WIT `client-options`); `None` picks the default.
pub type RawOptions = crate::wit::ClientOptions;

/// Checked options with every default applied.
#[derive(Clone, PartialEq)]
pub struct Options {
    /// API key, when the component holds it (never printed: `Debug` redacts it).
    pub api_key: Option<String>,
    /// REST endpoint.
    pub base_url: String,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Total deadline of a call, ms.
    pub deadline_ms: u64,
    /// Whether the caller set `deadline-ms`: when not, a call that polls gets the poll deadline
    /// plus `deadline_ms`, so the default suits video.
    pub deadline_set: bool,
    /// Connect timeout, ms.
    pub connect_timeout_ms: u64,
    /// First-byte timeout, ms.
    pub first_byte_timeout_ms: u64,
    /// Between-bytes timeout, ms.
    pub between_bytes_timeout_ms: u64,
    /// First poll delay, ms.
    pub poll_interval_ms: u64,
    /// Poll deadline, ms.
    pub poll_deadline_ms: u64,
    /// Response size cap, bytes.
    pub max_response_bytes: u64,
    /// Trace attempts on stderr.
    pub trace: bool,
}

impl core::fmt::Debug for Options {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Options")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("base_url", &self.base_url)
            .field("max_retries", &self.max_retries)
            .field("deadline_ms", &self.deadline_ms)
            .field("poll_interval_ms", &self.poll_interval_ms)
            .field("poll_deadline_ms", &self.poll_deadline_ms)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("trace", &self.trace)
            .finish_non_exhaustive()
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            api_key: None,
            base_url: DEFAULT_BASE_URL.to_string(),
            max_retries: DEFAULT_MAX_RETRIES,
            deadline_ms: u64::from(DEFAULT_DEADLINE_MS),
            deadline_set: false,
            connect_timeout_ms: u64::from(DEFAULT_CONNECT_TIMEOUT_MS),
            first_byte_timeout_ms: u64::from(DEFAULT_FIRST_BYTE_TIMEOUT_MS),
            between_bytes_timeout_ms: u64::from(DEFAULT_BETWEEN_BYTES_TIMEOUT_MS),
            poll_interval_ms: u64::from(DEFAULT_POLL_INTERVAL_MS),
            poll_deadline_ms: u64::from(DEFAULT_POLL_DEADLINE_MS),
            max_response_bytes: u64::from(DEFAULT_MAX_RESPONSE_BYTES),
            trace: false,
        }
    }
}

fn positive(value: Option<u32>, default: u32, name: &str) -> Result<u64, ClientError> {
    match value {
        None => Ok(u64::from(default)),
        Some(0) => Err(ClientError::invalid(
            "invalidOption",
            name,
            format!(
                "option {name} is 0; it must be at least 1 (leave it unset for the default {default})"
            ),
        )),
        Some(v) => Ok(u64::from(v)),
    }
}

impl Options {
    /// Checks raw options and applies the defaults. Fails with `invalid-request` naming the
    /// option: a base URL that is not `http`/`https`, a zero duration or size, an API key that is
    /// empty or not a valid header value (its value is never echoed).
    pub fn from_raw(raw: RawOptions) -> Result<Self, ClientError> {
        let base_url = raw.base_url.unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        Url::parse(&base_url).map_err(|mut e| {
            e.detail.parameter = Some("base-url".to_string());
            e
        })?;
        if let Some(key) = &raw.api_key {
            let bad = key.trim().is_empty() || key.bytes().any(|b| b < 0x20 || b == 0x7f);
            if bad {
                return Err(ClientError::invalid(
                    "invalidApiKey",
                    "api-key",
                    "option api-key is empty or holds control characters (its value is not shown)",
                ));
            }
        }
        Ok(Self {
            api_key: raw.api_key,
            base_url,
            max_retries: raw.max_retries.unwrap_or(DEFAULT_MAX_RETRIES),
            deadline_ms: positive(raw.deadline_ms, DEFAULT_DEADLINE_MS, "deadline-ms")?,
            deadline_set: raw.deadline_ms.is_some(),
            connect_timeout_ms: positive(
                raw.connect_timeout_ms,
                DEFAULT_CONNECT_TIMEOUT_MS,
                "connect-timeout-ms",
            )?,
            first_byte_timeout_ms: positive(
                raw.first_byte_timeout_ms,
                DEFAULT_FIRST_BYTE_TIMEOUT_MS,
                "first-byte-timeout-ms",
            )?,
            between_bytes_timeout_ms: positive(
                raw.between_bytes_timeout_ms,
                DEFAULT_BETWEEN_BYTES_TIMEOUT_MS,
                "between-bytes-timeout-ms",
            )?,
            poll_interval_ms: positive(
                raw.poll_interval_ms,
                DEFAULT_POLL_INTERVAL_MS,
                "poll-interval-ms",
            )?,
            poll_deadline_ms: positive(
                raw.poll_deadline_ms,
                DEFAULT_POLL_DEADLINE_MS,
                "poll-deadline-ms",
            )?,
            max_response_bytes: positive(
                raw.max_response_bytes,
                DEFAULT_MAX_RESPONSE_BYTES,
                "max-response-bytes",
            )?,
            trace: raw.trace.unwrap_or(false),
        })
    }
}

/// An `http`/`https` URL split the way `wasi:http` wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// True for `https`.
    pub https: bool,
    /// `host[:port]`.
    pub authority: String,
    /// Path and query, starting with `/`.
    pub path_with_query: String,
}

impl Url {
    /// Splits `http(s)://authority/path?query` (a fragment is dropped). Fails with
    /// `invalid-request` (code `invalidUrl`) on any other scheme, an empty host or user info.
    pub fn parse(url: &str) -> Result<Self, ClientError> {
        let bad = |why: &str| {
            ClientError::invalid(
                "invalidUrl",
                "url",
                format!("URL {url:?} is not usable: {why}"),
            )
        };
        let (https, rest) = if let Some(rest) = strip_prefix_ci(url, "https://") {
            (true, rest)
        } else if let Some(rest) = strip_prefix_ci(url, "http://") {
            (false, rest)
        } else {
            return Err(bad("the scheme must be http or https"));
        };
        let rest = rest.split('#').next().unwrap_or_default();
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (
                rest.get(..i).unwrap_or_default(),
                rest.get(i..).unwrap_or_default(),
            ),
            None => (rest, ""),
        };
        if authority.is_empty() || authority.starts_with(':') {
            return Err(bad("the host is empty"));
        }
        if authority.contains('@') {
            return Err(bad("user info is not allowed"));
        }
        if authority
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(bad("the host holds spaces or control characters"));
        }
        let path_with_query = if path.is_empty() {
            "/".to_string()
        } else if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_string()
        };
        Ok(Self {
            https,
            authority: authority.to_string(),
            path_with_query,
        })
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}
