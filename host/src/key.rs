//! [`ApiKey`]: the Runware API key, in a type that cannot be printed by accident.

use std::fmt;

/// A Runware API key. Its `Debug` and `Display` print `[REDACTED]`, so a key inside any
/// config, error or log line never shows; [`ApiKey::expose`] is the one way to read it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

/// The environment variable the CLI reads the key from.
pub const API_KEY_ENV: &str = "RUNWARE_API_KEY";

impl ApiKey {
    /// Wraps a key. Surrounding whitespace (a trailing newline from a file) is dropped.
    pub fn new(key: impl Into<String>) -> Self {
        let key = key.into();
        let trimmed = key.trim();
        if trimmed.len() == key.len() {
            ApiKey(key)
        } else {
            ApiKey(trimmed.to_string())
        }
    }

    /// The key from `RUNWARE_API_KEY`, or `None` when it is unset or blank.
    pub fn from_env() -> Option<Self> {
        std::env::var(API_KEY_ENV)
            .ok()
            .map(ApiKey::new)
            .filter(|k| !k.0.is_empty())
    }

    /// The key itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([REDACTED])")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl From<String> for ApiKey {
    fn from(s: String) -> Self {
        ApiKey::new(s)
    }
}

impl From<&str> for ApiKey {
    fn from(s: &str) -> Self {
        ApiKey::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let secret = format!("test-{}", 0x5eed_u32);
        let key = ApiKey::new(secret.clone());
        assert_eq!(key.to_string(), "[REDACTED]");
        assert!(!format!("{key:?}").contains(&secret));
        assert!(!format!("{:?}", Some(&key)).contains(&secret));
        assert_eq!(key.expose(), secret);
    }

    #[test]
    fn trims_whitespace() {
        assert_eq!(ApiKey::new(" test-k\n").expose(), "test-k");
    }
}
