//! Destinations: the origin of a URL (scheme, host, port with defaults normalised), entries of
//! the egress allow-list, and request timeouts.
//!
//! A module of its own because both the policy (what may be reached) and the connection pool
//! (which connection a request reuses) speak it; neither depends on the other through it.

use std::time::Duration;

use wasmtime_wasi_http::RequestOptions;

/// The URL scheme of an origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn parse(s: &str) -> Option<Scheme> {
        match s.to_ascii_lowercase().as_str() {
            "http" => Some(Scheme::Http),
            "https" => Some(Scheme::Https),
            _ => None,
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// A scheme, host and port: what the allow-list compares and the connection pool keys on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Origin {
    pub scheme: Scheme,
    pub host: String,
    pub port: u16,
}

impl Origin {
    /// The origin a request URI goes to; `None` for a URI without a known scheme or an
    /// authority, or with userinfo (`user@host`), which the allow-list never matches.
    pub(crate) fn from_uri(uri: &http::Uri) -> Option<Origin> {
        let scheme = uri.scheme_str().and_then(Scheme::parse)?;
        let authority = uri.authority()?;
        if authority.as_str().contains('@') {
            return None;
        }
        Some(Origin {
            scheme,
            host: normalise_host(authority.host()),
            port: authority.port_u16().unwrap_or(scheme.default_port()),
        })
    }

    /// The origin of an absolute `http`/`https` URL, such as the base URL.
    pub(crate) fn from_url(url: &str) -> Result<Origin, String> {
        let uri: http::Uri = url
            .parse()
            .map_err(|e| format!("`{url}` is not a valid URL: {e}"))?;
        let scheme = uri
            .scheme_str()
            .and_then(Scheme::parse)
            .ok_or_else(|| format!("`{url}` must start with http:// or https://"))?;
        let authority = uri
            .authority()
            .ok_or_else(|| format!("`{url}` has no host"))?;
        if authority.as_str().contains('@') {
            return Err(format!("`{url}` must not carry user info"));
        }
        let host = normalise_host(authority.host());
        if host.is_empty() {
            return Err(format!("`{url}` has no host"));
        }
        Ok(Origin {
            scheme,
            host,
            port: authority.port_u16().unwrap_or(scheme.default_port()),
        })
    }

    /// `host:port` as it would appear in the `Host` header with the port always written.
    pub(crate) fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

fn normalise_host(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// One entry of the allow-list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AllowEntry {
    /// `None`: any of http and https.
    scheme: Option<Scheme>,
    host: String,
    /// `None`: the scheme's default port.
    port: Option<u16>,
}

impl AllowEntry {
    /// Parses `host`, `host:port` or `scheme://host[:port][/…]`.
    pub(crate) fn parse(entry: &str) -> Result<AllowEntry, String> {
        let entry = entry.trim();
        if entry.contains("://") {
            let o = Origin::from_url(entry)?;
            let explicit_port = entry
                .parse::<http::Uri>()
                .ok()
                .and_then(|u| u.port_u16())
                .is_some();
            return Ok(AllowEntry {
                scheme: Some(o.scheme),
                host: o.host,
                port: explicit_port.then_some(o.port),
            });
        }
        let authority: http::uri::Authority = entry
            .parse()
            .map_err(|e| format!("allowed host `{entry}` is not a host or host:port: {e}"))?;
        if authority.as_str().contains('@') || authority.host().is_empty() {
            return Err(format!("allowed host `{entry}` is not a host or host:port"));
        }
        Ok(AllowEntry {
            scheme: None,
            host: normalise_host(authority.host()),
            port: authority.port_u16(),
        })
    }

    pub(crate) fn matches(&self, o: &Origin) -> bool {
        if self.host != o.host {
            return false;
        }
        if let Some(s) = self.scheme
            && s != o.scheme
        {
            return false;
        }
        o.port == self.port.unwrap_or(o.scheme.default_port())
    }
}

impl From<&Origin> for AllowEntry {
    fn from(o: &Origin) -> Self {
        AllowEntry {
            scheme: Some(o.scheme),
            host: o.host.clone(),
            port: Some(o.port),
        }
    }
}

/// The timeouts of outgoing requests: the client's upper bounds, or one request's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timeouts {
    pub connect: Duration,
    pub first_byte: Duration,
    pub between_bytes: Duration,
}

impl Timeouts {
    /// The timeouts of one request from its (already clamped) options; `wasmtime-wasi-http`'s
    /// 600 s for any unset.
    pub(crate) fn from_options(options: &RequestOptions) -> Timeouts {
        let or_default = |d: Option<Duration>| d.unwrap_or(Duration::from_secs(600));
        Timeouts {
            connect: or_default(options.connect_timeout),
            first_byte: or_default(options.first_byte_timeout),
            between_bytes: or_default(options.between_bytes_timeout),
        }
    }
}
