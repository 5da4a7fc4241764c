//! `runware raw FILE`: reading a task file (or stdin) and checking it before anything is sent.
//!
//! The checks are the CLI's part of keeping the key out of files: a file holding an
//! `authentication` task or an `apiKey` field anywhere is refused (exit 2), and the refusal
//! never echoes the key it found.

use std::io::Read as _;

use runware_host::API_KEY_ENV;

use crate::exit::Fail;

/// Reads an input file, `-` for stdin: its name for messages and its text (exit 2 when it
/// cannot be read). Shared by `raw` and `batch`.
pub fn read_input(file: &str) -> Result<(String, String), Fail> {
    Ok(if file == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| Fail::usage(format!("stdin: cannot read: {e}")))?;
        ("stdin".to_string(), s)
    } else {
        let s = std::fs::read_to_string(file)
            .map_err(|e| Fail::usage(format!("{file}: cannot read: {e}")))?;
        (file.to_string(), s)
    })
}

/// Reads and checks a `raw` file (`-` reads stdin): JSON, tasks are objects, no key inside.
/// Returns the text as read, to be sent as it is.
pub fn read_tasks(file: &str) -> Result<String, Fail> {
    let (name, text) = read_input(file)?;
    check_tasks(&name, &text)?;
    Ok(text)
}

/// Checks the text of a task file named `name` (for messages): a JSON array of task objects
/// (or one task object), not empty, with no `authentication` task and no `apiKey` field.
pub fn check_tasks(name: &str, text: &str) -> Result<(), Fail> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        Fail::usage(format!(
            "{name}: not valid JSON at line {}, column {}: {e}",
            e.line(),
            e.column()
        ))
    })?;
    let tasks: Vec<&serde_json::Value> = match &value {
        serde_json::Value::Array(items) => items.iter().collect(),
        serde_json::Value::Object(_) => vec![&value],
        _ => {
            return Err(Fail::usage(format!(
                "{name}: expected a JSON array of tasks or one task object"
            )));
        }
    };
    if tasks.is_empty() {
        return Err(Fail::usage(format!("{name}: the task array is empty")));
    }
    for (i, task) in tasks.iter().enumerate() {
        let Some(obj) = task.as_object() else {
            return Err(Fail::usage(format!(
                "{name}: task {i} is not a JSON object"
            )));
        };
        let label = match obj.get("taskUUID").and_then(|u| u.as_str()) {
            Some(u) => format!("{name}: task {i} (taskUUID {u})"),
            None => format!("{name}: task {i}"),
        };
        if obj.get("taskType").and_then(|t| t.as_str()) == Some("authentication") {
            return Err(Fail::usage(format!(
                "{label} is an `authentication` task: remove it; the key is read from \
                 {API_KEY_ENV} and sent by the host"
            )));
        }
        if contains_api_key(task) {
            return Err(Fail::usage(format!(
                "{label} has an `apiKey` field: remove it; the key is read from {API_KEY_ENV} \
                 and sent by the host (the file's key is never sent)"
            )));
        }
    }
    Ok(())
}

/// Whether any object at any depth has an `apiKey` field (any letter case).
pub fn contains_api_key(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Object(m) => m
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("apiKey") || contains_api_key(v)),
        serde_json::Value::Array(items) => items.iter().any(contains_api_key),
        _ => false,
    }
}
