//! Running a typed task to its end, or leaving it as a job to pick up later: the dry run, the
//! acknowledgement of `--no-wait`, the sync run, and the poll loop of async work.
//!
//! Waiting is `submit` then a loop of `poll` in the CLI (not the library's `wait_for`), so that
//! every answer can move the progress bar. The loop follows the library's schedule: the first
//! poll after [`spec::DEFAULT_POLL_INTERVAL_MS`], each delay 1.5 times the last, at most 10 s.
//! `--timeout` bounds the whole wait (default [`spec::DEFAULT_POLL_DEADLINE_MS`], 20 min, what
//! video needs): when it passes, the command prints what arrived and exits 3, naming the
//! `runware poll` command that resumes the job. One path serves a terminal and a pipe alike;
//! only the bar is left out when stderr is not a terminal.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use runware_host::{Client, Job, Output, Task, TaskOutcome, TaskStatus, spec};
use serde_json::{Value, json};

use crate::exit::{self, Fail, api_failure};
use crate::progress::Spinner;
use crate::save::save_outputs;

/// The longest delay between two polls (the library's cap).
const MAX_POLL_DELAY: Duration = Duration::from_millis(spec::POLL_DELAY_CAP_MS as u64);

/// How a task command ends: what it was asked to do beyond building the task.
#[derive(Debug, Default)]
pub struct RunPlan {
    /// Print `prepare`'s JSON and send nothing.
    pub dry_run: bool,
    /// Submit, print the job and exit.
    pub no_wait: bool,
    /// Submit, then poll with progress (async work); otherwise one synchronous `run`.
    pub poll: bool,
    /// Where to save the outputs.
    pub out: Option<PathBuf>,
    /// The extension of the requested output format, when one was requested.
    pub format_ext: Option<&'static str>,
    /// How long waiting may take in all.
    pub deadline: Duration,
}

/// The default total wait of a polled job when `--timeout` sets none.
pub fn default_deadline(timeout: Option<Duration>) -> Duration {
    timeout.unwrap_or(Duration::from_millis(u64::from(
        spec::DEFAULT_POLL_DEADLINE_MS,
    )))
}

/// Runs `task` as `plan` says, printing the JSON on stdout; the exit code.
pub async fn execute(
    client: &Client,
    task: &Task,
    plan: &RunPlan,
    spinner: &Spinner,
) -> Result<u8, Fail> {
    if plan.dry_run {
        let json = client.prepare(task).await.map_err(api_failure)?;
        println!("{json}");
        return Ok(exit::OK);
    }
    if plan.no_wait || plan.poll {
        spinner.message("submitting");
        let job = client.submit(task).await.map_err(api_failure)?;
        if plan.no_wait {
            println!("{}", job_json(&job));
            spinner.println(&format!(
                "runware: submitted; resume with `runware poll {} --wait{}`",
                job.task_uuid,
                match job.expected_results {
                    Some(n) if n > 1 => format!(" --expected-results {n}"),
                    _ => String::new(),
                }
            ));
            return Ok(exit::OK);
        }
        return wait(client, &job, plan, spinner).await;
    }
    spinner.message("running");
    let outcome = client.run(task).await.map_err(api_failure)?;
    println!("{}", outcome.response_json);
    save(client, plan, &outcome.outputs, spinner).await?;
    Ok(exit::OK)
}

/// The acknowledgement `--no-wait` prints: what `runware poll` needs to resume.
pub fn job_json(job: &Job) -> Value {
    json!({
        "taskUUID": job.task_uuid,
        "taskType": job.task_type,
        "expectedResults": job.expected_results.unwrap_or(1),
    })
}

/// `runware poll` without `--wait`: one `getResponse`, printed (and saved with `--out`); exit 1
/// when the task failed.
pub async fn poll_once(
    client: &Client,
    job: &Job,
    plan: &RunPlan,
    spinner: &Spinner,
) -> Result<u8, Fail> {
    let outcome = client.poll(job).await.map_err(api_failure)?;
    println!("{}", outcome.response_json);
    save(client, plan, &outcome.outputs, spinner).await?;
    if outcome.status == TaskStatus::Failed {
        report_error(&outcome, spinner);
        return Ok(exit::RESPONSE_ERRORS);
    }
    if outcome.status == TaskStatus::Processing {
        spinner.println(&format!(
            "runware: still processing{}",
            outcome
                .progress
                .map(|p| format!(" ({p}%)"))
                .unwrap_or_default()
        ));
    }
    Ok(exit::OK)
}

/// Polls `job` until every expected output arrived, it failed, or the deadline passed; prints
/// the response with every output received, saves them with `--out`; the exit code (0, 1 when
/// the task failed, 3 at the deadline).
pub async fn wait(
    client: &Client,
    job: &Job,
    plan: &RunPlan,
    spinner: &Spinner,
) -> Result<u8, Fail> {
    let started = Instant::now();
    let expected = usize::try_from(job.expected_results.unwrap_or(1)).unwrap_or(usize::MAX);
    let mut delay = Duration::from_millis(u64::from(spec::DEFAULT_POLL_INTERVAL_MS));
    let mut received: Vec<Output> = Vec::new();
    let mut last: Option<TaskOutcome> = None;
    // The taskUUID's first group is enough to tell jobs apart and keeps the bar on one line.
    spinner.message_owned(format!(
        "{} {}",
        job.task_type.as_deref().unwrap_or("task"),
        job.task_uuid.get(..8).unwrap_or(&job.task_uuid)
    ));
    spinner.job_progress(None);
    loop {
        let left = plan.deadline.saturating_sub(started.elapsed());
        if left.is_zero() {
            break;
        }
        tokio::time::sleep(delay.min(left)).await;
        let left = plan.deadline.saturating_sub(started.elapsed());
        if left.is_zero() {
            break;
        }
        // A poll that hangs must not outlive --timeout either.
        let Ok(polled) = tokio::time::timeout(left, client.poll(job)).await else {
            break;
        };
        let outcome = match polled {
            Ok(outcome) => outcome,
            // A poll that failed (after the library's own retries) must not lose the outputs
            // earlier polls brought: they are printed, and saved with --out, before the error.
            Err(e) if !received.is_empty() => {
                println!("{}", merged_response(last.as_ref(), &received));
                save(client, plan, &received, spinner).await?;
                return Err(Fail::with_code(exit::exit_code(&e), e.report()));
            }
            Err(e) => return Err(api_failure(e)),
        };
        for o in &outcome.outputs {
            if !received.iter().any(|r| same_output(r, o)) {
                received.push(o.clone());
            }
        }
        spinner.job_progress(outcome.progress);
        let status = outcome.status;
        last = Some(outcome);
        if status == TaskStatus::Failed || received.len() >= expected {
            break;
        }
        delay = delay.mul_f64(1.5).min(MAX_POLL_DELAY);
    }
    println!("{}", merged_response(last.as_ref(), &received));
    save(client, plan, &received, spinner).await?;
    match last {
        Some(outcome) if outcome.status == TaskStatus::Failed => {
            report_error(&outcome, spinner);
            Ok(exit::RESPONSE_ERRORS)
        }
        _ if received.len() >= expected => Ok(exit::OK),
        _ => Err(Fail::with_code(
            exit::TRANSPORT,
            format!(
                "the deadline of {:.1} s passed with {} of {expected} results; the task goes on: \
                 resume with `runware poll {} --wait` (a longer --timeout waits longer)",
                plan.deadline.as_secs_f64(),
                received.len(),
                job.task_uuid
            ),
        )),
    }
}

/// Whether two outputs are the same result (by UUID, else by their JSON).
fn same_output(a: &Output, b: &Output) -> bool {
    match (&a.uuid, &b.uuid) {
        (Some(x), Some(y)) => x == y,
        _ => a.json == b.json,
    }
}

/// The last answer as Runware sent it, with every output received before it kept in `data` (a
/// result is never dropped), and the task's error in `errors` when the answer lacked it.
fn merged_response(last: Option<&TaskOutcome>, received: &[Output]) -> String {
    let mut response = last
        .and_then(|o| serde_json::from_str::<Value>(&o.response_json).ok())
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({ "data": [], "errors": [] }));
    let text = response.to_string();
    let missing: Vec<Value> = received
        .iter()
        .filter(|o| !o.uuid.as_ref().is_some_and(|u| text.contains(u.as_str())))
        .filter_map(|o| serde_json::from_str(&o.json).ok())
        .collect();
    let error = last
        .and_then(|o| o.error.as_ref())
        .filter(|e| !text.contains(&format!("\"{}\"", e.code)));
    let error_item = error.map(|e| {
        json!({
            "code": e.code,
            "message": e.message,
            "taskUUID": e.task_uuid,
            "taskType": e.task_type,
        })
    });
    if let Some(obj) = response.as_object_mut() {
        if !missing.is_empty() {
            let data = obj.entry("data").or_insert_with(|| json!([]));
            if let Some(items) = data.as_array_mut() {
                let mut all = missing;
                all.append(items);
                *items = all;
            }
        }
        if let Some(item) = error_item {
            let errors = obj.entry("errors").or_insert_with(|| json!([]));
            if let Some(items) = errors.as_array_mut() {
                items.push(item);
            }
        }
    }
    response.to_string()
}

/// The task's error on stderr (the JSON on stdout has it in full).
fn report_error(outcome: &TaskOutcome, spinner: &Spinner) {
    match &outcome.error {
        Some(e) => spinner.println(&format!(
            "runware: task {} failed: {}: {}",
            outcome.task_uuid, e.code, e.message
        )),
        None => spinner.println(&format!("runware: task {} failed", outcome.task_uuid)),
    }
}

/// Saves the outputs when `--out` was given.
async fn save(
    client: &Client,
    plan: &RunPlan,
    outputs: &[Output],
    spinner: &Spinner,
) -> Result<(), Fail> {
    if let Some(dir) = &plan.out {
        spinner.message("saving");
        save_outputs(client, dir, outputs, plan.format_ext, spinner).await?;
    }
    Ok(())
}
