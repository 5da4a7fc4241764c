//! Scheduling of a call: which tasks are due, whether the call or poll deadline has passed,
//! how long to sleep, and the next request's body and timeouts. It only reads the times the
//! other parts set on each task (`next_at`); deciding those times after an answer is
//! [`super::correlate`]'s job, so a change to the retry rules does not touch the clock logic.

use crate::prelude::*;

use serde_json::Value;

use super::{Action, Call, Method, Phase, Round, RoundKind, RunOutcome, Slot, Timeouts};
use crate::error::{ClientError, ErrorKind};
use crate::request::get_response_task;

impl Call {
    fn active(&self) -> impl Iterator<Item = (usize, &Slot)> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s.phase, Phase::Submit | Phase::Poll))
    }

    fn deadline_error(&self, what: &str, uuid: &str, task_type: &str) -> ClientError {
        let mut e = ClientError::new(ErrorKind::Timeout, "deadlineExceeded", what.to_string())
            .retryable(true);
        if let Some(last) = &self.last_error {
            e.detail.message = format!(
                "{what}; last error: {} ({})",
                last.detail.code, last.detail.message
            );
            e.detail.http_status = last.detail.http_status;
            e.detail.parameter.clone_from(&last.detail.parameter);
        }
        let tt = if task_type.is_empty() {
            None
        } else {
            Some(task_type)
        };
        e.for_task(uuid, tt)
    }

    pub(super) fn next_action(&mut self, now: u64) -> Action<RunOutcome> {
        for _ in 0..(self.slots.len() * 3 + 4) {
            if self.done || self.active().next().is_none() {
                return Action::Done(self.finish());
            }
            // The poll deadline fails the tasks still polling.
            if let Some(pd) = self.poll_deadline_at {
                let polling: Vec<usize> = self
                    .active()
                    .filter(|(_, s)| s.phase == Phase::Poll)
                    .map(|(i, _)| i)
                    .collect();
                let earliest = polling
                    .iter()
                    .filter_map(|i| self.slots.get(*i))
                    .map(|s| s.next_at)
                    .min();
                if earliest.is_some_and(|t| now >= pd || t > pd) {
                    for i in polling {
                        let (uuid, tt) = self
                            .slots
                            .get(i)
                            .map(|s| (s.uuid.clone(), s.task_type.clone()))
                            .unwrap_or_default();
                        let e = self.deadline_error(
                            &format!(
                                "the poll deadline of {} ms passed before the task finished",
                                self.opts.poll_deadline_ms
                            ),
                            &uuid,
                            &tt,
                        );
                        self.fail_slot(i, e, None);
                    }
                    continue;
                }
            }
            let Some(earliest) = self.active().map(|(_, s)| s.next_at).min() else {
                continue;
            };
            if earliest > now || now >= self.deadline_at {
                if earliest >= self.deadline_at || now >= self.deadline_at {
                    let active: Vec<usize> = self.active().map(|(i, _)| i).collect();
                    for i in active {
                        let (uuid, tt) = self
                            .slots
                            .get(i)
                            .map(|s| (s.uuid.clone(), s.task_type.clone()))
                            .unwrap_or_default();
                        let e = self.deadline_error(
                            &format!("the call's deadline of {} ms passed", self.opts.deadline_ms),
                            &uuid,
                            &tt,
                        );
                        self.fail_slot(i, e, None);
                    }
                    continue;
                }
                return Action::Sleep(earliest - now);
            }
            // Send: due submissions first, then due polls.
            let due_submit: Vec<usize> = self
                .active()
                .filter(|(_, s)| s.phase == Phase::Submit && s.next_at <= now)
                .map(|(i, _)| i)
                .collect();
            let (kind, indices) = if due_submit.is_empty() {
                let due_poll: Vec<usize> = self
                    .active()
                    .filter(|(_, s)| s.phase == Phase::Poll && s.next_at <= now)
                    .map(|(i, _)| i)
                    .collect();
                (RoundKind::Poll, due_poll)
            } else {
                (RoundKind::Submit, due_submit)
            };
            let mut tasks = Vec::with_capacity(indices.len());
            let mut uuids = Vec::with_capacity(indices.len());
            for i in &indices {
                if let Some(slot) = self.slots.get_mut(*i) {
                    match (kind, &slot.body) {
                        (RoundKind::Submit, Some(body)) => {
                            tasks.push(Value::Object(body.clone()));
                            slot.sends_of_uuid += 1;
                        }
                        _ => tasks.push(get_response_task(&slot.uuid)),
                    }
                    uuids.push(slot.uuid.clone());
                }
            }
            let body = crate::parse::json_text(&Value::Array(tasks)).into_bytes();
            self.attempts += 1;
            let remaining = self.deadline_at.saturating_sub(now).max(1);
            let trace = if self.opts.trace {
                format!(
                    "runware: attempt {} POST {} tasks={}",
                    self.attempts,
                    self.opts.base_url,
                    uuids.join(",")
                )
            } else {
                String::new()
            };
            self.in_flight = Some(Round {
                kind,
                slots: indices,
                trace,
            });
            return Action::Send {
                method: Method::Post,
                url: self.opts.base_url.clone(),
                body,
                task_uuids: uuids,
                timeouts: Timeouts {
                    connect_ms: self.opts.connect_timeout_ms.min(remaining),
                    first_byte_ms: self.opts.first_byte_timeout_ms.min(remaining),
                    between_bytes_ms: self.opts.between_bytes_timeout_ms.min(remaining),
                },
                max_response_bytes: self.opts.max_response_bytes,
            };
        }
        // Unreachable in practice; end cleanly rather than loop.
        Action::Done(self.finish())
    }
}
