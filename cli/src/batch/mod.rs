//! `runware batch FILE.jsonl --out DIR`: many jobs, resumably, without paying for one twice.
//!
//! 1. The whole file is parsed and checked first ([`input`]); any bad line is reported as
//!    `FILE:LINE: field: message`, every one of them, and the command exits 2 with nothing sent.
//! 2. What an earlier run left in DIR is read back ([`store`]): lines with a final manifest
//!    entry are skipped; a line with a journal entry but no final manifest entry is resumed
//!    under its journalled taskUUID (asked for with `getResponse`, waited for, or resent under
//!    the same taskUUID when Runware does not know it); every other line starts fresh.
//! 3. `--concurrency` workers run the lines. The runner owns the retries (the client's own are
//!    off, so that every taskUUID ever sent is journalled first): an HTTP or transport failure
//!    resends the same task under the same taskUUID (a `conflictTaskUUID` answer means Runware
//!    has it, so it is waited for); a transient task error (Runware failed the task, nothing
//!    billed) gets a new taskUUID, journalled before it is sent. Every request passes the
//!    shared back-off ([`backoff`]); a line that failed transiently `--max-attempts` times is
//!    left `incomplete`.
//! 4. Outputs are saved as `DIR/<line>-<index>.<ext>` (six-digit line numbers), each finished
//!    line is appended to the manifest, and the summary line is printed ([`progress`]). The exit
//!    code is the worst outcome: 3 when lines are incomplete, else 1 when a line failed for
//!    good (in this run or an earlier one), else 0.

pub mod backoff;
pub mod input;
pub mod progress;
pub mod store;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use runware_host::{Client, Error, ErrorDetail, ErrorKind, RunResult, TaskStatus};
use serde_json::{Map, Value};

use crate::args::BatchArgs;
use crate::exit::{self, Fail};
use backoff::{Gate, GateConfig};
use input::{Job, LineError, Parsed};
use progress::Progress;
use store::{ErrorRecord, JournalEntry, ManifestEntry, Status, Store};

/// The end of `runware batch --help`: the line format and the files.
pub fn after_help() -> String {
    "\
Lines (blank lines and lines starting with # are skipped):
  {\"textToImage\": {\"prompt\": \"a cat\", \"width\": 512, \"includeCost\": true}}
      a typed call: textToImage, video, audio, upscale, removeBackground, caption, upload or
      enhancePrompt; its keys are that command's flags (camelCase or kebab-case; true for a
      bare flag, an array for a repeated one; see e.g. `runware text-to-image --help`)
  {\"taskType\": \"imageInference\", \"positivePrompt\": \"a cat\", \"model\": \"runware:101@1\", …}
      a raw task (or an array of exactly one), sent as it is; a taskUUID is added if missing

The whole file is checked first: every bad line is reported as FILE:LINE: field: message and
nothing is sent (exit 2).

DIR gets <line>-<index>.<ext> for every output, journal.jsonl (each task before it is sent) and
manifest.jsonl (one line per finished job: line, taskUUID, status, files, cost, error). Rerun the
same command to resume after a crash or with transient failures left: finished lines are
skipped, and a task in flight is recovered under its taskUUID, never sent under a new one.

Exit codes: 0 every line succeeded; 1 some failed for good; 2 bad input (nothing sent); 3
transient failures left (rerun to resume)."
        .to_string()
}

/// A batch file, read and parsed (not yet checked by the component).
#[derive(Debug)]
pub struct Input {
    /// The file's name for messages (`stdin` for `-`).
    pub name: String,
    /// Its job lines.
    pub lines: Vec<(usize, Parsed)>,
    /// Its bad lines so far (reported with the component's findings, all at once).
    pub errors: Vec<LineError>,
}

/// Reads and parses the batch file (exit 2 when it cannot be read or holds no line).
pub fn read(file: &str) -> Result<Input, Fail> {
    let (name, text) = crate::raw::read_input(file)?;
    let (lines, errors) = input::parse(&text);
    if lines.is_empty() && errors.is_empty() {
        return Err(Fail::usage(format!("{name}: no jobs in the file")));
    }
    Ok(Input {
        name,
        lines,
        errors,
    })
}

/// Prints every bad line; the exit-2 failure that says nothing was sent.
fn bad_lines(name: &str, errors: &[LineError]) -> Fail {
    for e in errors {
        eprintln!("{}", e.render(name));
    }
    let s = if errors.len() == 1 { "" } else { "s" };
    Fail::usage(format!(
        "{name}: {} bad line{s}; nothing was sent",
        errors.len()
    ))
}

/// How a line's run starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    /// Never sent: journal it, then send it.
    Fresh,
    /// Journalled by an earlier run: Runware may have it.
    Recover,
}

/// What the next request of a line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Send the task (its taskUUID is journalled).
    Send,
    /// Ask once with `getResponse`.
    Recover,
    /// Wait for it with `getResponse` polls.
    Wait,
}

/// What one request's answer means for the line.
#[derive(Debug)]
enum Answer {
    /// Every result arrived: the data items.
    Done(Vec<String>),
    /// Runware is still working on it.
    Processing,
    /// Runware does not know the taskUUID.
    NotFound,
    /// Runware already has this taskUUID.
    Conflict,
    /// Runware failed the task transiently (nothing billed): a new taskUUID may be used.
    TaskTransient(ErrorRecord),
    /// The request failed transiently (HTTP 429/5xx, transport, a deadline): the task may or
    /// may not have arrived, so only its own taskUUID may be used.
    Transient(ErrorRecord, bool),
    /// It failed for good.
    Permanent(ErrorRecord),
}

fn record(kind: &str, d: &ErrorDetail) -> ErrorRecord {
    ErrorRecord {
        kind: kind.to_string(),
        code: d.code.clone(),
        parameter: d.parameter.clone(),
        message: d.message.clone(),
        retryable: d.retryable,
    }
}

/// A task error's kind, from its HTTP status (a task error carries no kind of its own).
fn kind_of_status(status: Option<u16>) -> ErrorKind {
    match status {
        Some(400 | 404 | 409 | 413 | 422) => ErrorKind::InvalidRequest,
        Some(401 | 403) => ErrorKind::Authentication,
        Some(402) => ErrorKind::InsufficientCredits,
        Some(429) => ErrorKind::RateLimited,
        Some(408 | 504) => ErrorKind::Timeout,
        Some(s) if s >= 500 => ErrorKind::Server,
        _ => ErrorKind::Other,
    }
}

/// A failed call (no answer named the task).
fn from_error(e: &Error) -> Answer {
    match e {
        Error::Api { kind, detail } => match detail.code.as_str() {
            "conflictTaskUUID" => Answer::Conflict,
            "taskNotFound" => Answer::NotFound,
            _ if detail.retryable => {
                Answer::Transient(record(kind.as_str(), detail), *kind == ErrorKind::Timeout)
            }
            _ => Answer::Permanent(record(kind.as_str(), detail)),
        },
        Error::ExecutionLimit { .. } => Answer::Transient(other_record("timeout", e), true),
        // A trap or a host failure: bounded by the attempts, then left for a rerun (exit 3,
        // as the CLI treats a failure of the component).
        _ => Answer::Transient(other_record("other", e), false),
    }
}

fn other_record(kind: &str, e: &Error) -> ErrorRecord {
    ErrorRecord {
        kind: kind.to_string(),
        code: "hostError".to_string(),
        parameter: None,
        message: e.report(),
        retryable: true,
    }
}

/// A call's result for the task `uuid`.
fn from_result(r: Result<RunResult, Error>, uuid: &str) -> Answer {
    let rr = match r {
        Ok(rr) => rr,
        Err(e) => return from_error(&e),
    };
    let mut tasks = rr.tasks.into_iter();
    let first = tasks.next();
    let task = match first {
        Some(t) if t.task_uuid == uuid => Some(t),
        other => other.into_iter().chain(tasks).find(|t| t.task_uuid == uuid),
    };
    let Some(task) = task else {
        return Answer::Transient(
            ErrorRecord {
                kind: "server".into(),
                code: "missingResult".into(),
                parameter: None,
                message: format!("the answer has nothing for taskUUID {uuid}"),
                retryable: true,
            },
            false,
        );
    };
    match (task.status, task.error) {
        (TaskStatus::Success, _) => Answer::Done(task.data),
        (TaskStatus::Processing, _) => Answer::Processing,
        (TaskStatus::Failed, Some(d)) => {
            let kind = kind_of_status(d.http_status);
            match d.code.as_str() {
                "conflictTaskUUID" => Answer::Conflict,
                "taskNotFound" => Answer::NotFound,
                _ if d.retryable => Answer::TaskTransient(record(kind.as_str(), &d)),
                _ => Answer::Permanent(record(kind.as_str(), &d)),
            }
        }
        (TaskStatus::Failed, None) => Answer::Permanent(ErrorRecord {
            kind: "other".into(),
            code: "failed".into(),
            parameter: None,
            message: "the task failed without an error".into(),
            retryable: false,
        }),
    }
}

/// Everything the workers share.
struct Ctx {
    client: Client,
    store: Arc<Store>,
    gate: Gate,
    progress: Progress,
    max_attempts: u32,
}

/// One line to run, and how it starts.
struct Work {
    job: Job,
    start: Start,
}

/// What saving a line's outputs gave.
struct Saved {
    files: Vec<String>,
    text: Vec<String>,
    cost: Option<f64>,
}

impl Ctx {
    fn entry(
        &self,
        line: usize,
        task_uuid: &str,
        status: Status,
        attempts: u32,
        error: Option<ErrorRecord>,
    ) -> ManifestEntry {
        ManifestEntry {
            line,
            task_uuid: task_uuid.to_string(),
            status,
            files: Vec::new(),
            text: Vec::new(),
            cost: None,
            attempts,
            error,
        }
    }

    /// Runs one line to its end.
    async fn run_line(&self, work: Work) -> ManifestEntry {
        let Job {
            line,
            mut task,
            mut task_uuid,
            expected,
            format_ext,
        } = work.job;
        let mut journal_first = work.start == Start::Fresh;
        let mut phase = match work.start {
            Start::Fresh => Phase::Send,
            Start::Recover => Phase::Recover,
        };
        // Requests made (the manifest's `attempts`) and transient failures (bounded by
        // --max-attempts). Neutral steps (recover → send, send → recover → wait) are requests
        // but not failures; the request cap makes sure a line always ends.
        let mut attempts: u32 = 0;
        let mut failures: u32 = 0;
        let request_cap = self.max_attempts.saturating_mul(3).saturating_add(3);
        loop {
            if journal_first {
                let entry = JournalEntry {
                    line,
                    task_uuid: task_uuid.clone(),
                    task: task.clone(),
                };
                if let Err(e) = self.store.journal(entry).await {
                    let error = ErrorRecord {
                        kind: "other".into(),
                        code: "journalWrite".into(),
                        parameter: None,
                        message: format!("cannot write the journal, so nothing was sent: {e}"),
                        retryable: true,
                    };
                    return self.entry(line, &task_uuid, Status::Incomplete, attempts, Some(error));
                }
                journal_first = false;
            }
            self.gate.wait_turn().await;
            attempts = attempts.saturating_add(1);
            let answer = match phase {
                Phase::Send => {
                    let body = Value::Array(vec![Value::Object(task.clone())]).to_string();
                    from_result(self.client.run_tasks(&body).await, &task_uuid)
                }
                Phase::Recover => {
                    from_result(self.client.get_response(&task_uuid).await, &task_uuid)
                }
                Phase::Wait => from_result(
                    self.client.wait(&task_uuid, Some(expected)).await,
                    &task_uuid,
                ),
            };
            // A neutral step: the next phase. A failure: the error, whether it was a timeout,
            // and whether the next try is a new task.
            let (error, timeout, renew) = match (answer, phase) {
                (Answer::Done(items), _) => {
                    self.gate.on_success(failures > 0);
                    return self
                        .finish_success(line, &task_uuid, &task, &items, format_ext, attempts)
                        .await;
                }
                (Answer::Permanent(error), _) => {
                    return self.entry(line, &task_uuid, Status::Failed, attempts, Some(error));
                }
                // Runware has it (an earlier answer was lost): ask for it at once.
                (Answer::Conflict, Phase::Send) if attempts < request_cap => {
                    phase = Phase::Recover;
                    continue;
                }
                // Still running: wait for it.
                (Answer::Processing | Answer::Conflict, Phase::Send | Phase::Recover)
                    if attempts < request_cap =>
                {
                    phase = Phase::Wait;
                    continue;
                }
                // Runware never got it: send it, under the same taskUUID.
                (Answer::NotFound, Phase::Recover) if attempts < request_cap => {
                    phase = Phase::Send;
                    continue;
                }
                (Answer::NotFound, _) => {
                    phase = Phase::Send;
                    let e = neutral_error("taskNotFound", "Runware does not know the task");
                    (e, false, false)
                }
                (Answer::Processing | Answer::Conflict, _) => {
                    let e = neutral_error("processing", "still processing after the wait");
                    (e, true, false)
                }
                (Answer::TaskTransient(error), _) => (error, false, true),
                (Answer::Transient(error, timeout), _) => (error, timeout, false),
            };
            failures = failures.saturating_add(1);
            if failures >= self.max_attempts || attempts >= request_cap {
                return self.entry(line, &task_uuid, Status::Incomplete, attempts, Some(error));
            }
            if renew {
                // Runware failed this taskUUID and billed nothing: the retry is a new task,
                // journalled before it is sent.
                task_uuid = uuid::Uuid::new_v4().to_string();
                task.insert("taskUUID".into(), Value::String(task_uuid.clone()));
                journal_first = true;
                phase = Phase::Send;
            }
            let own = self.gate.on_transient(failures, timeout, Instant::now());
            tokio::time::sleep(own).await;
        }
    }

    /// Saves a finished task's outputs (downloads retried within the line's attempts: the
    /// task is paid, so it is never sent again for a failed download); the manifest entry.
    async fn finish_success(
        &self,
        line: usize,
        task_uuid: &str,
        task: &Map<String, Value>,
        items: &[String],
        format_ext: Option<&'static str>,
        mut attempts: u32,
    ) -> ManifestEntry {
        let mut save_failures: u32 = 0;
        loop {
            match self.save(line, task_uuid, task, items, format_ext).await {
                Ok(saved) => {
                    return ManifestEntry {
                        files: saved.files,
                        text: saved.text,
                        cost: saved.cost,
                        ..self.entry(line, task_uuid, Status::Success, attempts, None)
                    };
                }
                Err(f) => {
                    let error = ErrorRecord {
                        kind: if f.code == exit::TRANSPORT {
                            "transport".into()
                        } else {
                            "other".into()
                        },
                        code: "saveFailed".into(),
                        parameter: None,
                        message: f.message,
                        retryable: true,
                    };
                    save_failures = save_failures.saturating_add(1);
                    if save_failures >= self.max_attempts {
                        // Left for a rerun, which fetches the results again with getResponse.
                        return self.entry(
                            line,
                            task_uuid,
                            Status::Incomplete,
                            attempts,
                            Some(error),
                        );
                    }
                    let own = self.gate.on_transient(save_failures, false, Instant::now());
                    tokio::time::sleep(own).await;
                    self.gate.wait_turn().await;
                    attempts = attempts.saturating_add(1);
                }
            }
        }
    }

    async fn save(
        &self,
        line: usize,
        task_uuid: &str,
        task: &Map<String, Value>,
        items: &[String],
        format_ext: Option<&'static str>,
    ) -> Result<Saved, Fail> {
        let task_type = task.get("taskType").and_then(Value::as_str).unwrap_or("");
        let mut saved = Saved {
            files: Vec::new(),
            text: Vec::new(),
            cost: None,
        };
        let mut index = 0usize;
        for item in items {
            let parsed: Option<Map<String, Value>> = serde_json::from_str(item).ok();
            if let Some(m) = &parsed {
                if let Some(c) = m.get("cost").and_then(Value::as_f64) {
                    saved.cost = Some(saved.cost.unwrap_or(0.0) + c);
                }
                if let Some(t) = m.get("text").and_then(Value::as_str) {
                    saved.text.push(t.to_string());
                }
            }
            for output in crate::save::outputs_of_item(item, task_uuid, task_type)
                .iter()
                .filter(|o| crate::save::has_media(o))
            {
                let stem = format!("{line:06}-{index}");
                let path = crate::save::save_output_as(
                    &self.client,
                    self.store.dir(),
                    output,
                    &stem,
                    format_ext,
                )
                .await?;
                index = index.saturating_add(1);
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or(stem);
                saved.files.push(name);
            }
        }
        Ok(saved)
    }
}

fn neutral_error(code: &str, message: &str) -> ErrorRecord {
    ErrorRecord {
        kind: "timeout".into(),
        code: code.into(),
        parameter: None,
        message: message.into(),
        retryable: true,
    }
}

/// Runs a checked batch file with `client` (whose own retries are off): the exit code.
pub async fn run(client: &Client, args: &BatchArgs, input: Input) -> Result<u8, Fail> {
    // 1. The component checks every typed line (sending nothing).
    let (jobs, mut errors) = input::prepare(
        client,
        input.lines,
        usize::try_from(args.concurrency).unwrap_or(1),
    )
    .await;
    errors.extend(input.errors);
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.line);
        return Err(bad_lines(&input.name, &errors));
    }

    // 2. What an earlier run left.
    let (store, resume) = Store::open(&args.out).map_err(Fail::usage)?;
    if resume.torn > 0 {
        eprintln!(
            "runware: batch: {} torn line(s) in {} skipped (a crash while writing; such a \
             journal entry was never sent)",
            resume.torn,
            args.out.display()
        );
    }
    let total = u64::try_from(jobs.len()).unwrap_or(u64::MAX);
    let (mut done_before, mut failed_before) = (0u64, 0u64);
    let mut queue = VecDeque::with_capacity(jobs.len());
    for job in jobs {
        match resume.manifest.get(&job.line).map(|m| m.status) {
            Some(Status::Success) => {
                done_before = done_before.saturating_add(1);
                continue;
            }
            Some(Status::Failed) => {
                failed_before = failed_before.saturating_add(1);
                continue;
            }
            _ => {}
        }
        let work = match resume.journal.get(&job.line) {
            Some(j) => Work {
                job: Job {
                    expected: input::expected_results(&j.task),
                    task: j.task.clone(),
                    task_uuid: j.task_uuid.clone(),
                    ..job
                },
                start: Start::Recover,
            },
            None => Work {
                job,
                start: Start::Fresh,
            },
        };
        queue.push_back(work);
    }

    let resumed = u64::try_from(queue.iter().filter(|w| w.start == Start::Recover).count())
        .unwrap_or(u64::MAX);

    // 3. The workers.
    // The jitter's seed: runs (and processes) must not pause in step.
    let seed = rand::random::<u64>();
    let ctx = Arc::new(Ctx {
        client: client.clone(),
        store: Arc::clone(&store),
        gate: Gate::new(GateConfig::for_concurrency(args.concurrency), seed),
        progress: Progress::new(total, done_before, failed_before, resumed),
        max_attempts: args.max_attempts,
    });
    let queue = Arc::new(Mutex::new(queue));
    let workers = usize::try_from(args.concurrency).unwrap_or(1);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let ctx = Arc::clone(&ctx);
        let queue = Arc::clone(&queue);
        set.spawn(async move {
            loop {
                let next = queue
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .pop_front();
                let Some(work) = next else {
                    break;
                };
                ctx.progress.start_job();
                let entry = ctx.run_line(work).await;
                if let Some(e) = &entry.error {
                    ctx.progress.println(&format!(
                        "runware: batch: line {} {}: {}: {}",
                        entry.line,
                        if entry.status == Status::Failed {
                            "failed"
                        } else {
                            "incomplete"
                        },
                        e.code,
                        e.message
                    ));
                }
                let (line, status, cost) = (entry.line, entry.status, entry.cost);
                let status = match ctx.store.record(entry).await {
                    Ok(()) => status,
                    Err(e) => {
                        ctx.progress.println(&format!(
                            "runware: batch: line {line}: cannot write the manifest ({e}); a \
                             rerun recovers the line from the journal"
                        ));
                        Status::Incomplete
                    }
                };
                ctx.progress.end_job(status, cost);
            }
        });
    }
    while let Some(joined) = set.join_next().await {
        if let Err(e) = joined {
            eprintln!("runware: batch: a worker stopped: {e}");
        }
    }

    // 4. The manifest in line order, the summary, the exit code.
    if let Err(e) = store.compact() {
        eprintln!("runware: batch: could not compact the manifest: {e}");
    }
    let summary = ctx.progress.finish(ctx.gate.stats(), store.dir());
    Ok(if summary.incomplete > 0 {
        exit::TRANSPORT
    } else if summary.failed.saturating_add(summary.failed_before) > 0 {
        exit::RESPONSE_ERRORS
    } else {
        exit::OK
    })
}
