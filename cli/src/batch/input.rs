//! The input of `runware batch`: every line parsed and checked before anything is sent.
//!
//! A line is one job: a typed call, `{"textToImage": {"prompt": "a cat", "width": 512}}`, or a
//! raw task object (or an array of exactly one), `{"taskType": "imageInference", …}`. Blank
//! lines and lines starting with `#` are skipped. A typed call's keys are the flags of the
//! command of the same name (`textToImage` is `runware text-to-image`), camelCase or
//! kebab-case: the line becomes that command's argv and is parsed by the same clap structs, so
//! `runware text-to-image --help` documents the fields and a bad one is named the same way.
//! The task is then built as the command builds it and checked by the component (`prepare`),
//! which also chooses its taskUUID. A raw task is checked for the key (no `apiKey`, no
//! `authentication` task) and gets a taskUUID when it has none; the rest of it is Runware's to
//! judge (a refusal is that line's permanent failure).

use std::collections::HashMap;
use std::sync::Arc;

use clap::Parser as _;
use clap::error::{ContextKind, ContextValue};
use runware_host::{Client, Error};
use serde_json::{Map, Value};

use crate::args::{Cli, Command};
use crate::exit::Fail;
use crate::progress::Spinner;
use crate::tasks::{self, InputMode};

/// The typed calls a line may make: its key, and the command it means.
const TYPED_CALLS: [(&str, &str); 8] = [
    ("textToImage", "text-to-image"),
    ("video", "video"),
    ("audio", "audio"),
    ("upscale", "upscale"),
    ("removeBackground", "remove-background"),
    ("caption", "caption"),
    ("upload", "upload"),
    ("enhancePrompt", "enhance-prompt"),
];

/// Flags a line may not set: the batch decides them for every line (where outputs go, that it
/// waits), or they belong to the whole process.
const BATCH_OWNED: [&str; 13] = [
    "out",
    "no-wait",
    "dry-run",
    "help",
    "version",
    "base-url",
    "emulator",
    "max-retries",
    "timeout",
    "verbose",
    "component",
    "allow-host",
    "h",
];

/// One job, checked and ready to send.
#[derive(Debug, Clone)]
pub struct Job {
    /// Its line number in the input (1-based).
    pub line: usize,
    /// The task object to send, with its taskUUID.
    pub task: Map<String, Value>,
    /// The taskUUID.
    pub task_uuid: String,
    /// How many results mean done (`numberResults`, default 1).
    pub expected: u32,
    /// The extension of the output format the line asked for, if it named one.
    pub format_ext: Option<&'static str>,
}

/// What is wrong with one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// The line number (1-based).
    pub line: usize,
    /// The field at fault, as the line names it, when there is one.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl LineError {
    fn new(line: usize, field: Option<String>, message: impl Into<String>) -> Self {
        LineError {
            line,
            field,
            message: message.into(),
        }
    }

    /// `FILE:LINE: field: message` (the field left out when there is none).
    pub fn render(&self, file: &str) -> String {
        match &self.field {
            Some(f) => format!("{file}:{}: {f}: {}", self.line, self.message),
            None => format!("{file}:{}: {}", self.line, self.message),
        }
    }
}

/// A line after parsing, before the component checked it.
#[derive(Debug)]
pub enum Parsed {
    /// A typed call: the command it parsed to, and how its fields map back to the line's keys.
    Typed {
        /// The command.
        command: Box<Command>,
        /// Flag name (kebab-case) → the key as the line wrote it.
        keys: HashMap<String, String>,
    },
    /// A raw task object.
    Raw(Map<String, Value>),
}

/// Parses every line of `text`; the lines to prepare, with their numbers, and every error.
pub fn parse(text: &str) -> (Vec<(usize, Parsed)>, Vec<LineError>) {
    let mut lines = Vec::new();
    let mut errors = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i.saturating_add(1);
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        match parse_line(n, t) {
            Ok(p) => lines.push((n, p)),
            Err(e) => errors.push(e),
        }
    }
    (lines, errors)
}

fn parse_line(n: usize, text: &str) -> Result<Parsed, LineError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| LineError::new(n, None, format!("not JSON (column {}): {e}", e.column())))?;
    let object = match value {
        Value::Object(m) => m,
        Value::Array(items) => match <[Value; 1]>::try_from(items) {
            Ok([Value::Object(m)]) if m.contains_key("taskType") => m,
            _ => {
                return Err(LineError::new(
                    n,
                    None,
                    "an array line must hold exactly one task object (one job a line)",
                ));
            }
        },
        _ => {
            return Err(LineError::new(
                n,
                None,
                "expected a JSON object: a typed call such as {\"textToImage\":{…}} or a raw task",
            ));
        }
    };
    if object.contains_key("taskType") {
        return check_raw(n, object).map(Parsed::Raw);
    }
    let mut entries = object.into_iter();
    let (Some((call, fields)), None) = (entries.next(), entries.next()) else {
        return Err(LineError::new(
            n,
            None,
            "a typed line has exactly one key, the call (such as textToImage); a raw task has \
             a taskType",
        ));
    };
    let Some((_, sub)) = TYPED_CALLS.iter().find(|(k, _)| *k == call) else {
        let known: Vec<&str> = TYPED_CALLS.iter().map(|(k, _)| *k).collect();
        return Err(LineError::new(
            n,
            Some(call),
            format!(
                "unknown typed call; expected one of {} (or a raw task with a taskType)",
                known.join(", ")
            ),
        ));
    };
    let Value::Object(fields) = fields else {
        return Err(LineError::new(
            n,
            Some(call),
            "the call's value must be an object of its fields",
        ));
    };
    typed(n, sub, fields)
}

/// A typed call's fields as the command's argv, parsed by clap.
fn typed(n: usize, sub: &str, fields: Map<String, Value>) -> Result<Parsed, LineError> {
    let mut argv = vec!["runware".to_string(), sub.to_string()];
    let mut keys = HashMap::new();
    for (key, value) in fields {
        let flag = kebab(&key);
        if flag == "api-key" {
            return Err(LineError::new(
                n,
                Some(key),
                "refused: the key is read from RUNWARE_API_KEY and sent by the host",
            ));
        }
        if BATCH_OWNED.contains(&flag.as_str()) {
            return Err(LineError::new(
                n,
                Some(key),
                "set for the whole batch, not per line (outputs go to --out DIR, and every \
                 job is waited for)",
            ));
        }
        // `upload FILE` takes its file as a positional argument.
        if sub == "upload" && flag == "file" {
            match value {
                Value::String(s) => argv.push(s),
                _ => return Err(LineError::new(n, Some(key), "must be a string")),
            }
            keys.insert(flag, key);
            continue;
        }
        push_flag(&mut argv, &flag, &value).map_err(|m| LineError::new(n, Some(key.clone()), m))?;
        keys.insert(flag, key);
    }
    match Cli::try_parse_from(&argv) {
        Ok(cli) => Ok(Parsed::Typed {
            command: Box::new(cli.command),
            keys,
        }),
        Err(e) => Err(clap_error(n, &e, &keys)),
    }
}

/// One field as flags: a string or number as `--flag=value`, `true` as the bare flag (`false`
/// and `null` leave it out), an array as the flag repeated, an object as its JSON text (for
/// `extraJson`).
fn push_flag(argv: &mut Vec<String>, flag: &str, value: &Value) -> Result<(), String> {
    match value {
        Value::Null | Value::Bool(false) => {}
        Value::Bool(true) => argv.push(format!("--{flag}")),
        Value::String(s) => argv.push(format!("--{flag}={s}")),
        Value::Number(x) => argv.push(format!("--{flag}={x}")),
        Value::Object(_) => argv.push(format!("--{flag}={value}")),
        Value::Array(items) => {
            for item in items {
                if item.is_array() {
                    return Err("an array of arrays is not a field value".to_string());
                }
                push_flag(argv, flag, item)?;
            }
        }
    }
    Ok(())
}

/// `negativePrompt` → `negative-prompt`; kebab-case stays as it is.
fn kebab(key: &str) -> String {
    let mut out = String::with_capacity(key.len().saturating_add(4));
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            if !out.is_empty() {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else if c == '_' {
            out.push('-');
        } else {
            out.push(c);
        }
    }
    out
}

/// A clap error as a line error naming the field as the line wrote it.
fn clap_error(n: usize, e: &clap::Error, keys: &HashMap<String, String>) -> LineError {
    let rendered = e.render().to_string();
    // The first paragraph: the error and, for a bad value, the possible values.
    let message = rendered
        .lines()
        .map(str::trim)
        .take_while(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .trim_start_matches("error: ")
        .to_string();
    let arg = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) => v.first().cloned(),
        _ => None,
    };
    let field = arg.map(|a| {
        let flag = a
            .trim_start_matches('-')
            .split([' ', '='])
            .next()
            .unwrap_or_default()
            .to_string();
        keys.get(&flag).cloned().unwrap_or(flag)
    });
    LineError::new(n, field, message)
}

/// A raw task: no key inside, and a string taskType.
fn check_raw(n: usize, task: Map<String, Value>) -> Result<Map<String, Value>, LineError> {
    match task.get("taskType") {
        Some(Value::String(t)) if t == "authentication" => {
            return Err(LineError::new(
                n,
                Some("taskType".into()),
                "an `authentication` task is refused: the key is read from RUNWARE_API_KEY and \
                 sent by the host",
            ));
        }
        Some(Value::String(_)) => {}
        _ => {
            return Err(LineError::new(
                n,
                Some("taskType".into()),
                "must be a string",
            ));
        }
    }
    if crate::raw::contains_api_key(&Value::Object(task.clone())) {
        return Err(LineError::new(
            n,
            Some("apiKey".into()),
            "refused: the key is read from RUNWARE_API_KEY and sent by the host",
        ));
    }
    match task.get("taskUUID") {
        None => {}
        Some(Value::String(u)) if uuid::Uuid::parse_str(u).is_ok() => {}
        Some(_) => {
            return Err(LineError::new(
                n,
                Some("taskUUID".into()),
                "must be a UUID v4 string (or left out: the batch chooses one)",
            ));
        }
    }
    Ok(task)
}

/// Turns parsed lines into jobs: typed calls built as their commands build them and checked
/// by the component (which sends nothing), raw tasks given a taskUUID when they have none;
/// `concurrency` lines at a time (each check is a component call). Every error is collected;
/// taskUUIDs must differ between lines.
pub async fn prepare(
    client: &Client,
    lines: Vec<(usize, Parsed)>,
    concurrency: usize,
) -> (Vec<Job>, Vec<LineError>) {
    let permits = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for (n, parsed) in lines {
        let client = client.clone();
        let permits = Arc::clone(&permits);
        set.spawn(async move {
            let _permit = permits.acquire_owned().await;
            (n, prepare_one(&client, n, parsed).await)
        });
    }
    let mut results = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(r) => results.push(r),
            Err(e) => results.push((
                0,
                Err(LineError::new(0, None, format!("check failed: {e}"))),
            )),
        }
    }
    results.sort_by_key(|(n, _)| *n);
    let mut jobs: Vec<Job> = Vec::with_capacity(results.len());
    let mut errors = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (n, job) in results {
        match job {
            Ok(job) => {
                if let Some(first) = seen.insert(job.task_uuid.clone(), n) {
                    errors.push(LineError::new(
                        n,
                        Some("taskUUID".into()),
                        format!("the same as line {first}'s: every job needs its own"),
                    ));
                } else {
                    jobs.push(job);
                }
            }
            Err(e) => errors.push(e),
        }
    }
    (jobs, errors)
}

async fn prepare_one(client: &Client, n: usize, parsed: Parsed) -> Result<Job, LineError> {
    match parsed {
        Parsed::Raw(mut task) => {
            let uuid = match task.get("taskUUID").and_then(Value::as_str) {
                Some(u) => u.to_string(),
                None => {
                    let u = uuid::Uuid::new_v4().to_string();
                    task.insert("taskUUID".into(), Value::String(u.clone()));
                    u
                }
            };
            Ok(Job {
                line: n,
                expected: expected_results(&task),
                task,
                task_uuid: uuid,
                format_ext: None,
            })
        }
        Parsed::Typed { command, keys } => prepare_typed(client, n, *command, &keys).await,
    }
}

async fn prepare_typed(
    client: &Client,
    n: usize,
    command: Command,
    keys: &HashMap<String, String>,
) -> Result<Job, LineError> {
    let fail = |f: Fail| fail_error(n, &f, keys);
    let (json, format_ext) = match command {
        Command::TextToImage(a) => {
            let request = crate::commands::image_request(&a).map_err(fail)?;
            let json = client
                .prepare_text_to_image(&request)
                .await
                .map_err(|e| api_error(n, &e, keys))?;
            (
                json,
                request
                    .output_format
                    .map(runware_host::OutputFormat::extension),
            )
        }
        other => {
            tasks::precheck(&other).map_err(fail)?;
            let spinner = Spinner::start(false);
            let deadline = crate::job::default_deadline(None);
            let built = tasks::build(client, other, &spinner, deadline, Some(InputMode::NoUpload))
                .await
                .map_err(fail)?
                .ok_or_else(|| LineError::new(n, None, "not a task command"))?;
            let json = client
                .prepare(&built.task)
                .await
                .map_err(|e| api_error(n, &e, keys))?;
            (json, built.plan.format_ext)
        }
    };
    let task = match serde_json::from_str::<Value>(&json) {
        Ok(Value::Array(items)) => items.into_iter().find_map(|t| match t {
            Value::Object(m) => Some(m),
            _ => None,
        }),
        _ => None,
    }
    .ok_or_else(|| LineError::new(n, None, "the component built no task for this line"))?;
    let task_uuid = task
        .get("taskUUID")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| LineError::new(n, None, "the component's task has no taskUUID"))?;
    Ok(Job {
        line: n,
        expected: expected_results(&task),
        task,
        task_uuid,
        format_ext,
    })
}

/// How many results a task asks for (`numberResults`, default 1).
pub fn expected_results(task: &Map<String, Value>) -> u32 {
    task.get("numberResults")
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n > 0)
        .unwrap_or(1)
}

/// The component's refusal as a line error naming the field (its `parameter`, as the line
/// wrote it when the line named it).
fn api_error(n: usize, e: &Error, keys: &HashMap<String, String>) -> LineError {
    match e.detail() {
        Some(d) => {
            let field = d.parameter.as_ref().map(|p| {
                keys.get(&kebab(p))
                    .cloned()
                    .or_else(|| {
                        // `positivePrompt` is the `prompt` flag.
                        let short = kebab(p).replace("positive-", "");
                        keys.get(&short).cloned()
                    })
                    .unwrap_or_else(|| p.clone())
            });
            LineError::new(n, field, format!("{}: {}", d.code, d.message))
        }
        None => LineError::new(n, None, e.report()),
    }
}

/// A command's own check (`--extra-json`, an input path) as a line error: its message starts
/// with the flag it is about (`upload FILE` for the upload's file).
fn fail_error(n: usize, f: &Fail, keys: &HashMap<String, String>) -> LineError {
    let m = f.message.as_str();
    let (flag, rest) = if let Some(r) = m.strip_prefix("upload") {
        ("file", r)
    } else if let Some(r) = m.strip_prefix("--") {
        let end = r.find([' ', ':']).unwrap_or(r.len());
        (
            r.get(..end).unwrap_or_default(),
            r.get(end..).unwrap_or_default(),
        )
    } else {
        return LineError::new(n, None, m);
    };
    let rest = rest
        .trim_start_matches(" FILE")
        .trim_start_matches(':')
        .trim();
    let field = keys.get(flag).cloned().unwrap_or_else(|| flag.to_string());
    LineError::new(n, Some(field), rest)
}
