//! Correlation and retry: what an answer (or a failure to get one) means for each task of the
//! request. Items are matched to tasks by taskUUID (or, for items without one, by taskType);
//! task errors decide between resending under a new taskUUID, polling (`conflictTaskUUID` on a
//! resend) and failing; HTTP-level failures retry the round or follow the poll schedule. It
//! only sets each task's phase and next time; [`super::schedule`] turns those into requests.

use crate::prelude::*;

use alloc::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::{Call, Mode, Phase, Round, RoundKind, TransportKind};
use crate::error::{ClientError, ErrorKind, status_error, status_retryable};
use crate::parse::{
    Parsed, error_from_item, is_error_item, is_result_item, item_task_uuid, parse_response,
    result_key, str_field,
};
use crate::retry::{Entropy, backoff_delay_ms, next_poll_delay_ms, parse_retry_after};

impl Call {
    pub(super) fn on_transport(
        &mut self,
        round: &Round,
        kind: TransportKind,
        message: &str,
        now: u64,
        rng: &mut dyn Entropy,
    ) {
        let err = kind.error(message);
        self.round_failure(round, &err, None, &BTreeSet::new(), now, rng);
    }

    /// Retries or fails every task of `round` that is still pending after an HTTP-level failure
    /// (slots in `handled` were already dealt with by this response).
    fn round_failure(
        &mut self,
        round: &Round,
        err: &ClientError,
        retry_after: Option<u64>,
        handled: &BTreeSet<usize>,
        now: u64,
        rng: &mut dyn Entropy,
    ) {
        self.last_error = Some(err.clone());
        let pending: Vec<usize> = round
            .slots
            .iter()
            .copied()
            .filter(|i| !handled.contains(i))
            .filter(|i| {
                self.slots
                    .get(*i)
                    .is_some_and(|s| matches!(s.phase, Phase::Submit | Phase::Poll))
            })
            .collect();
        let n = pending
            .iter()
            .filter_map(|i| self.slots.get(*i))
            .map(|s| s.retries)
            .max()
            .unwrap_or(0);
        let delay = retry_after.unwrap_or_else(|| backoff_delay_ms(n, rng.next_u64()));
        let budgeted = round.kind == RoundKind::Submit || self.mode == Mode::PollOnce;
        let max = self.opts.max_retries;
        let interval = self.opts.poll_interval_ms;
        for i in pending {
            let Some(slot) = self.slots.get_mut(i) else {
                continue;
            };
            if !err.detail.retryable {
                self.fail_slot(i, err.clone(), None);
            } else if budgeted {
                if slot.retries < max {
                    slot.retries += 1;
                    slot.next_at = now.saturating_add(delay);
                } else {
                    self.fail_slot(i, err.clone(), None);
                }
            } else {
                // Poll failures follow the poll schedule, bounded by the poll deadline.
                let d = retry_after.unwrap_or(slot.poll_delay).max(slot.poll_delay);
                slot.next_at = now.saturating_add(d);
                slot.poll_delay = next_poll_delay_ms(slot.poll_delay, interval);
            }
        }
    }

    pub(super) fn on_response(
        &mut self,
        round: &Round,
        status: u16,
        headers: &[(String, String)],
        body: &[u8],
        now: u64,
        rng: &mut dyn Entropy,
    ) {
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let retry_after = header("retry-after").and_then(|v| parse_retry_after(v, header("date")));
        self.retry_after_now = retry_after;
        let none = BTreeSet::new();
        if u64::try_from(body.len()).unwrap_or(u64::MAX) > self.opts.max_response_bytes {
            let err = ClientError::new(
                ErrorKind::Server,
                "responseTooLarge",
                format!(
                    "the response is larger than max-response-bytes ({} bytes)",
                    self.opts.max_response_bytes
                ),
            )
            .with_status(Some(status));
            self.round_failure(round, &err, None, &none, now, rng);
            return;
        }
        let parsed = parse_response(body);
        if (200..300).contains(&status) {
            match parsed {
                Ok(p) => {
                    let mut handled = self.correlate(round, p, Some(status), now, rng);
                    self.settle(round, &mut handled, true, now);
                }
                Err(why) => {
                    let err = ClientError::new(
                        ErrorKind::Server,
                        "invalidResponse",
                        format!("Runware's answer could not be read: {why}"),
                    )
                    .retryable(true)
                    .with_status(Some(status));
                    self.round_failure(round, &err, retry_after, &none, now, rng);
                }
            }
            return;
        }
        if status_retryable(status) {
            // Keep any results it carries (never bill twice) and route error items that name a
            // task (a task's own failure, e.g. getResponse answering 504 with `timeoutProvider`);
            // the rest of the round is retried as is, with the same taskUUIDs.
            let mut err = status_error(status);
            let mut handled = BTreeSet::new();
            if let Ok(mut p) = parsed {
                let (named, unnamed): (Vec<_>, Vec<_>) = p
                    .errors
                    .into_iter()
                    .partition(|e| item_task_uuid(e).is_some());
                if let Some(first) = unnamed.first() {
                    let mut e = error_from_item(first, Some(status));
                    e.detail.retryable = true;
                    if e.kind == ErrorKind::Other || e.kind == ErrorKind::InvalidRequest {
                        e.kind = err.kind;
                    }
                    err = e;
                }
                p.errors = named;
                handled = self.correlate(round, p, Some(status), now, rng);
                self.settle(round, &mut handled, false, now);
            }
            self.round_failure(round, &err, retry_after, &handled, now, rng);
            return;
        }
        // A non-retryable status: route its error items; tasks without an item get the status error.
        let mut err = status_error(status);
        let mut handled = match parsed {
            Ok(p) => self.correlate(round, p, Some(status), now, rng),
            Err(why) => {
                err.detail.message = format!(
                    "HTTP status {status}, and the body could not be read as a Runware answer: {why}"
                );
                BTreeSet::new()
            }
        };
        self.settle(round, &mut handled, false, now);
        self.round_failure(round, &err, None, &handled, now, rng);
    }

    /// The taskUUID of the only task of `task_type` in `round` still short of results.
    fn sole_unfinished_of_type(&self, round: &Round, task_type: Option<&str>) -> Option<String> {
        let task_type = task_type?;
        let mut matching = round
            .slots
            .iter()
            .filter_map(|&i| self.slots.get(i))
            .filter(|s| {
                s.task_type == task_type
                    && u32::try_from(s.results.len()).unwrap_or(u32::MAX) < s.expected
            });
        let only = matching.next()?;
        matching.next().is_none().then(|| only.uuid.clone())
    }

    fn find_slot(&self, uuid: &str) -> Option<usize> {
        self.slots.iter().position(|s| s.uuid == uuid)
    }

    fn is_active(&self, i: usize) -> bool {
        self.slots
            .get(i)
            .is_some_and(|s| matches!(s.phase, Phase::Submit | Phase::Poll))
    }

    /// Routes every item of a response to its task by taskUUID. Returns the slots whose fate
    /// this response already decided (failed, or rescheduled by a task-level error).
    fn correlate(
        &mut self,
        round: &Round,
        parsed: Parsed,
        status: Option<u16>,
        now: u64,
        rng: &mut dyn Entropy,
    ) -> BTreeSet<usize> {
        let mut handled: BTreeSet<usize> = BTreeSet::new();
        // The taskUUIDs the round asked about: a task error may resend a task under a new one
        // while this answer is read, and Runware reports a failure of async work twice (a
        // `status:"error"` item and an `errors[]` entry), so the second report names a taskUUID
        // of this call that is no longer current, not an unknown one.
        let asked: Vec<String> = round
            .slots
            .iter()
            .filter_map(|&i| self.slots.get(i).map(|s| s.uuid.clone()))
            .collect();
        for &i in &round.slots {
            if let Some(s) = self.slots.get_mut(i) {
                s.pending_now = false;
            }
        }
        for mut item in parsed.data {
            let uuid = match item_task_uuid(&item) {
                Some(uuid) => uuid.to_string(),
                // Runware answers some tasks (`ping`) without a taskUUID: such an item belongs
                // to the one unfinished task of its taskType in this request, if there is one.
                None => match self.sole_unfinished_of_type(round, str_field(&item, "taskType")) {
                    Some(uuid) => {
                        item.insert("taskUUID".to_string(), Value::String(uuid.clone()));
                        uuid
                    }
                    None => {
                        self.push_merged(&item);
                        continue;
                    }
                },
            };
            let Some(i) = self.find_slot(&uuid) else {
                self.push_merged(&item);
                self.note_unknown(&uuid, &item);
                continue;
            };
            if is_error_item(&item) {
                let err = error_from_item(&item, status);
                self.task_error(i, err, item, true, now, rng);
                handled.insert(i);
                continue;
            }
            let Some(slot) = self.slots.get_mut(i) else {
                continue;
            };
            slot.answered = true;
            if (slot.task_type.is_empty() || slot.task_type == "getResponse")
                && let Some(tt) = str_field(&item, "taskType")
            {
                slot.task_type = tt.to_string();
            }
            if is_result_item(&item) {
                if slot.keys.insert(result_key(&item)) {
                    slot.results.push(item.clone());
                    self.push_merged(&item);
                }
            } else {
                slot.pending_now = true;
                slot.latest_other = Some(item);
            }
        }
        for item in parsed.errors {
            if let Some(uuid) = item_task_uuid(&item).map(str::to_string) {
                if let Some(i) = self.find_slot(&uuid) {
                    let err = error_from_item(&item, status);
                    self.task_error(i, err, item, true, now, rng);
                    handled.insert(i);
                } else if asked.contains(&uuid) {
                    // Already acted on through its `status:"error"` item in this answer (and
                    // resent, as a transient error is: the resend's outcome is what counts).
                } else {
                    self.note_unknown(&uuid, &item);
                    self.extra_errors.push(Value::Object(item));
                }
                continue;
            }
            // No taskUUID: it applies to the tasks of this request that are not complete yet
            // (and were not acknowledged or reported processing by this same response).
            let targets: Vec<usize> = round
                .slots
                .iter()
                .copied()
                .filter(|i| !handled.contains(i) && self.is_active(*i))
                .filter(|i| {
                    self.slots.get(*i).is_some_and(|s| {
                        !s.pending_now
                            && u32::try_from(s.results.len()).unwrap_or(u32::MAX) < s.expected
                    })
                })
                .collect();
            if targets.is_empty() {
                self.extra_errors.push(Value::Object(item));
                continue;
            }
            for i in targets {
                let mut err = error_from_item(&item, status);
                err.detail.task_type = None;
                self.task_error(i, err, item.clone(), false, now, rng);
                handled.insert(i);
            }
        }
        handled
    }

    fn note_unknown(&mut self, uuid: &str, item: &Map<String, Value>) {
        if self.unknown.is_none() {
            let mut e = ClientError::new(
                ErrorKind::Server,
                "unknownTaskUUID",
                format!("Runware answered for taskUUID {uuid}, which is not a task of this call"),
            );
            e.detail.task_uuid = Some(uuid.to_string());
            e.detail.task_type = str_field(item, "taskType").map(str::to_string);
            self.unknown = Some(e);
        }
    }

    /// A task-level error for slot `i`: `conflictTaskUUID` on a resent task → poll it; a
    /// transient error on a task without results → resend it with a new taskUUID; else it fails.
    /// `named`: the item named the task (else it is a request-wide error without taskUUID).
    fn task_error(
        &mut self,
        i: usize,
        err: ClientError,
        item: Map<String, Value>,
        named: bool,
        now: u64,
        rng: &mut dyn Entropy,
    ) {
        let retry_after = self.retry_after_now;
        let max = self.opts.max_retries;
        let poll_interval = self.opts.poll_interval_ms;
        let poll_deadline_ms = self.opts.poll_deadline_ms;
        let Some(slot) = self.slots.get_mut(i) else {
            return;
        };
        if !matches!(slot.phase, Phase::Submit | Phase::Poll) {
            return;
        }
        // Only an item naming the task counts as Runware's answer about it.
        slot.answered = slot.answered || named;
        if err.detail.code == "conflictTaskUUID" {
            if slot.sends_of_uuid >= 2 || slot.phase == Phase::Poll {
                // A resent task the server already has: fetch its result.
                slot.phase = Phase::Poll;
                slot.next_at = now;
                slot.poll_delay = poll_interval;
                self.poll_deadline_at
                    .get_or_insert(now.saturating_add(poll_deadline_ms));
                return;
            }
            let mut err = err;
            err.kind = ErrorKind::InvalidRequest;
            err.detail.retryable = false;
            self.fail_slot(i, err, Some(item));
            return;
        }
        self.last_error = Some(err.clone());
        if err.detail.retryable
            && slot.results.is_empty()
            && slot.retries < max
            && let Some(body) = slot.body.as_mut()
        {
            let n = slot.retries;
            slot.retries += 1;
            let uuid = rng.uuid_v4();
            body.insert("taskUUID".into(), json!(uuid));
            slot.uuid = uuid;
            slot.sends_of_uuid = 0;
            slot.phase = Phase::Submit;
            slot.latest_other = None;
            // Runware has not heard of the new taskUUID yet: an HTTP failure before it is
            // accepted must resend it, not poll for it (which would end in taskNotFound).
            slot.answered = false;
            let delay = retry_after.unwrap_or_else(|| backoff_delay_ms(n, rng.next_u64()));
            slot.next_at = now.saturating_add(delay);
            return;
        }
        self.fail_slot(i, err, Some(item));
    }

    /// After a response was correlated, for the tasks of the round not yet `handled`: a task
    /// with every expected result (and no `processing` item in this answer) succeeds; a task
    /// with some answer polls; a task of a 2xx submission without any item is `missingResult`.
    /// Tasks it decides are added to `handled`.
    fn settle(&mut self, round: &Round, handled: &mut BTreeSet<usize>, ok_status: bool, now: u64) {
        let poll_deadline_ms = self.opts.poll_deadline_ms;
        let interval = self.opts.poll_interval_ms;
        let once = self.mode == Mode::PollOnce;
        for &i in &round.slots {
            if handled.contains(&i) {
                continue;
            }
            let Some(slot) = self.slots.get_mut(i) else {
                continue;
            };
            if !matches!(slot.phase, Phase::Submit | Phase::Poll) {
                continue;
            }
            let got = u32::try_from(slot.results.len()).unwrap_or(u32::MAX);
            if got >= slot.expected && !slot.pending_now {
                slot.phase = Phase::Success;
                handled.insert(i);
                continue;
            }
            let heard = slot.answered || !slot.results.is_empty();
            match round.kind {
                RoundKind::Submit if heard => {
                    slot.phase = Phase::Poll;
                    slot.next_at = now.saturating_add(interval);
                    slot.poll_delay = next_poll_delay_ms(interval, interval);
                    self.poll_deadline_at
                        .get_or_insert(now.saturating_add(poll_deadline_ms));
                    handled.insert(i);
                }
                RoundKind::Submit if ok_status => {
                    let e = ClientError::new(
                        ErrorKind::Server,
                        "missingResult",
                        format!(
                            "Runware's answer holds no result for taskUUID {}",
                            slot.uuid
                        ),
                    );
                    slot.answered = true;
                    self.fail_slot(i, e, None);
                    handled.insert(i);
                }
                RoundKind::Submit => {}
                RoundKind::Poll if ok_status => {
                    slot.next_at = now.saturating_add(slot.poll_delay);
                    slot.poll_delay = next_poll_delay_ms(slot.poll_delay, interval);
                    handled.insert(i);
                }
                RoundKind::Poll => {}
            }
        }
        // One round is the whole call for a single poll; a submission is over once every task
        // was acknowledged or answered (a task being resent under a new taskUUID is not yet).
        if ok_status && once
            || self.mode == Mode::Submit && self.slots.iter().all(|s| s.phase != Phase::Submit)
        {
            self.done = true;
        }
    }
}
