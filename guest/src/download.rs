//! The state machine of `download(url)`: one GET with the client's timeouts, retries, deadline
//! and size cap.

use crate::prelude::*;

use crate::error::{ClientError, ErrorKind, status_error, status_retryable};
use crate::machine::{Action, Event, Method, Timeouts};
use crate::options::{Options, Url};
use crate::retry::{Entropy, backoff_delay_ms, parse_retry_after};

/// The download of one URL. Drive it like [`crate::machine::Call`].
#[derive(Debug, Clone)]
pub struct Download {
    opts: Options,
    url: String,
    deadline_at: u64,
    attempts: u32,
    retries: u32,
    in_flight: bool,
    next_at: u64,
    last_error: Option<ClientError>,
    trace: Vec<String>,
    done: bool,
}

impl Download {
    /// A download of `url`; fails with `invalid-request` when it is not an http(s) URL.
    pub fn new(opts: &Options, url: &str, now_ms: u64) -> Result<Self, ClientError> {
        Url::parse(url)?;
        Ok(Self {
            opts: opts.clone(),
            url: url.to_string(),
            deadline_at: now_ms.saturating_add(opts.deadline_ms),
            attempts: 0,
            retries: 0,
            in_flight: false,
            next_at: now_ms,
            last_error: None,
            trace: Vec::new(),
            done: false,
        })
    }

    /// Takes the trace lines produced so far.
    pub fn drain_trace(&mut self) -> Vec<String> {
        core::mem::take(&mut self.trace)
    }

    /// The first action.
    pub fn start(&mut self, now_ms: u64) -> Action<Vec<u8>> {
        self.next_action(now_ms)
    }

    fn fail(&mut self, mut e: ClientError) -> Action<Vec<u8>> {
        self.done = true;
        e.detail.attempts = self.attempts;
        Action::Done(Err(e))
    }

    fn next_action(&mut self, now: u64) -> Action<Vec<u8>> {
        if self.done {
            return self.fail(ClientError::new(
                ErrorKind::Other,
                "callFinished",
                "the download is over",
            ));
        }
        if self.next_at >= self.deadline_at || now >= self.deadline_at {
            let mut e = ClientError::new(
                ErrorKind::Timeout,
                "deadlineExceeded",
                format!("the call's deadline of {} ms passed", self.opts.deadline_ms),
            )
            .retryable(true);
            if let Some(last) = &self.last_error {
                e.detail.message = format!(
                    "{}; last error: {} ({})",
                    e.detail.message, last.detail.code, last.detail.message
                );
                e.detail.http_status = last.detail.http_status;
            }
            return self.fail(e);
        }
        if self.next_at > now {
            return Action::Sleep(self.next_at - now);
        }
        self.attempts += 1;
        self.in_flight = true;
        let remaining = self.deadline_at.saturating_sub(now).max(1);
        Action::Send {
            method: Method::Get,
            url: self.url.clone(),
            body: Vec::new(),
            task_uuids: Vec::new(),
            timeouts: Timeouts {
                connect_ms: self.opts.connect_timeout_ms.min(remaining),
                first_byte_ms: self.opts.first_byte_timeout_ms.min(remaining),
                between_bytes_ms: self.opts.between_bytes_timeout_ms.min(remaining),
            },
            max_response_bytes: self.opts.max_response_bytes,
        }
    }

    fn retry_or_fail(
        &mut self,
        err: ClientError,
        retry_after: Option<u64>,
        now: u64,
        rng: &mut dyn Entropy,
    ) -> Action<Vec<u8>> {
        self.last_error = Some(err.clone());
        if err.detail.retryable && self.retries < self.opts.max_retries {
            let delay =
                retry_after.unwrap_or_else(|| backoff_delay_ms(self.retries, rng.next_u64()));
            self.retries += 1;
            self.next_at = now.saturating_add(delay);
            return self.next_action(now);
        }
        self.fail(err)
    }

    /// Consumes an event and returns the next action.
    pub fn handle(&mut self, event: Event, now_ms: u64, rng: &mut dyn Entropy) -> Action<Vec<u8>> {
        if !core::mem::replace(&mut self.in_flight, false) {
            return self.next_action(now_ms);
        }
        let prefix = format!("runware: attempt {} GET {}", self.attempts, self.url);
        let (action, outcome) = match event {
            Event::Slept => (self.next_action(now_ms), "no answer".to_string()),
            Event::TransportError { kind, message } => {
                let message = message.lines().next().unwrap_or_default().to_string();
                let err = kind.error(&message);
                (
                    self.retry_or_fail(err, None, now_ms, rng),
                    format!("transport error: {message}"),
                )
            }
            Event::Response {
                status,
                headers,
                body,
            } => {
                let header = |name: &str| {
                    headers
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(name))
                        .map(|(_, v)| v.as_str())
                };
                let retry_after =
                    header("retry-after").and_then(|v| parse_retry_after(v, header("date")));
                let action = if u64::try_from(body.len()).unwrap_or(u64::MAX)
                    > self.opts.max_response_bytes
                {
                    let e = ClientError::new(
                        ErrorKind::Server,
                        "responseTooLarge",
                        format!(
                            "the download is larger than max-response-bytes ({} bytes)",
                            self.opts.max_response_bytes
                        ),
                    )
                    .with_status(Some(status));
                    self.fail(e)
                } else if (200..300).contains(&status) {
                    self.done = true;
                    Action::Done(Ok(body))
                } else {
                    let e = status_error(status);
                    if status_retryable(status) {
                        self.retry_or_fail(e, retry_after, now_ms, rng)
                    } else {
                        self.fail(e)
                    }
                };
                (action, status.to_string())
            }
        };
        if self.opts.trace {
            let mut line = format!("{prefix} -> {outcome}");
            if let Action::Sleep(ms) = &action {
                line.push_str(&format!(" [retry in {ms} ms]"));
            }
            self.trace.push(line);
        }
        action
    }
}

impl crate::machine::Machine for Download {
    type Output = Vec<u8>;
    fn start(&mut self, now_ms: u64) -> Action<Vec<u8>> {
        Download::start(self, now_ms)
    }
    fn handle(&mut self, event: Event, now_ms: u64, rng: &mut dyn Entropy) -> Action<Vec<u8>> {
        Download::handle(self, event, now_ms, rng)
    }
    fn drain_trace(&mut self) -> Vec<String> {
        Download::drain_trace(self)
    }
}
