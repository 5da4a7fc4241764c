//! `DIR/journal.jsonl` and `DIR/manifest.jsonl`: what makes a batch resumable without paying
//! twice.
//!
//! - The journal gets `{"line":N,"taskUUID":…,"task":{…}}` before that exact task is sent, and
//!   is flushed and fsynced first: every taskUUID Runware may ever have seen is on disk. A
//!   line's last entry is its task in flight; an earlier one was failed by Runware (a transient
//!   task error, nothing billed) and replaced under a new taskUUID.
//! - The manifest gets one entry per line once it ends (`success`, `failed` for good, or
//!   `incomplete`: transient failures left, resumed by a rerun), appended and fsynced too. At
//!   the end of a run it is rewritten (to a temporary file, fsynced, then renamed) to hold one
//!   entry per line, the last, in line order.
//!
//! Both are read back on a rerun. A line that does not parse (the last one, torn by a crash
//! while it was written) is skipped: a journal entry is complete before its task is sent, so a
//! torn one was never sent. `DIR/.lock` is held (an advisory lock, released by the OS even on
//! `kill -9`) so that two runs never share a directory.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The journal's file name in DIR.
pub const JOURNAL: &str = "journal.jsonl";
/// The manifest's file name in DIR.
pub const MANIFEST: &str = "manifest.jsonl";

/// One journal entry: a task about to be sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// The input line.
    pub line: usize,
    /// The task's taskUUID.
    #[serde(rename = "taskUUID")]
    pub task_uuid: String,
    /// The exact task object sent.
    pub task: Map<String, Value>,
}

/// How a line ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every result arrived and its files are saved.
    Success,
    /// Failed for good (retrying cannot fix it); a rerun skips it.
    Failed,
    /// Transient failures still left after the attempts; a rerun resumes it.
    Incomplete,
}

impl Status {
    /// Whether a rerun leaves the line alone.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Success | Status::Failed)
    }
}

/// The error a line ended with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorRecord {
    /// The error kind, as the WIT names it (`invalid-request`, `server`…).
    pub kind: String,
    /// Runware's (or the component's) code, such as `invalidModel`.
    pub code: String,
    /// The field at fault, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
    /// What went wrong.
    pub message: String,
    /// Whether trying again later could succeed.
    pub retryable: bool,
}

/// One manifest entry: how a line ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// The input line.
    pub line: usize,
    /// The taskUUID of its last task.
    #[serde(rename = "taskUUID")]
    pub task_uuid: String,
    /// How it ended.
    pub status: Status,
    /// Its output files, relative to DIR.
    pub files: Vec<String>,
    /// Text outputs (captions, enhanced prompts), which are not files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub text: Vec<String>,
    /// The summed cost in USD, when Runware reported one (`includeCost`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
    /// Requests this run made for the line.
    pub attempts: u32,
    /// The error, for `failed` and `incomplete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorRecord>,
}

/// What an earlier run left in DIR.
#[derive(Debug, Default)]
pub struct Resume {
    /// Each line's last journal entry.
    pub journal: BTreeMap<usize, JournalEntry>,
    /// Each line's last manifest entry.
    pub manifest: BTreeMap<usize, ManifestEntry>,
    /// Lines of either file that did not parse (skipped).
    pub torn: usize,
}

/// The open journal and manifest of one run.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    journal: Mutex<File>,
    manifest: Mutex<File>,
    /// Held for the run: the advisory lock on `DIR/.lock`.
    _lock: File,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read_lines<T: for<'de> Deserialize<'de>>(
    path: &Path,
    torn: &mut usize,
) -> std::io::Result<Vec<T>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for line in BufReader::new(file).split(b'\n') {
        let line = line?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice(&line) {
            Ok(v) => out.push(v),
            Err(_) => *torn = torn.saturating_add(1),
        }
    }
    Ok(out)
}

fn append(file: &Mutex<File>, value: &impl Serialize) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    let mut f = lock(file);
    f.write_all(&bytes)?;
    f.flush()?;
    f.sync_data()
}

impl Store {
    /// Creates DIR if needed, takes its lock, reads back what an earlier run left, and opens
    /// both files for appending.
    pub fn open(dir: &Path) -> Result<(Arc<Store>, Resume), String> {
        let what = |e: std::io::Error| format!("--out {}: {e}", dir.display());
        std::fs::create_dir_all(dir).map_err(what)?;
        let lock_file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(".lock"))
            .map_err(what)?;
        match lock_file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(format!(
                    "--out {}: another `runware batch` is using this directory",
                    dir.display()
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(what(e)),
        }
        let mut resume = Resume::default();
        for e in read_lines::<JournalEntry>(&dir.join(JOURNAL), &mut resume.torn).map_err(what)? {
            resume.journal.insert(e.line, e);
        }
        for e in read_lines::<ManifestEntry>(&dir.join(MANIFEST), &mut resume.torn).map_err(what)? {
            resume.manifest.insert(e.line, e);
        }
        let open = |name: &str| -> std::io::Result<File> {
            let path = dir.join(name);
            let mut f = OpenOptions::new().create(true).append(true).open(&path)?;
            // After a crash the file may end in a torn line: end it, so the next entry parses.
            let len = f.metadata()?.len();
            if len > 0 && !ends_with_newline(&path)? {
                f.write_all(b"\n")?;
            }
            Ok(f)
        };
        let store = Store {
            dir: dir.to_path_buf(),
            journal: Mutex::new(open(JOURNAL).map_err(what)?),
            manifest: Mutex::new(open(MANIFEST).map_err(what)?),
            _lock: lock_file,
        };
        // The new files' directory entries must survive a crash too.
        sync_dir(dir).map_err(what)?;
        Ok((Arc::new(store), resume))
    }

    /// DIR.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends a journal entry and fsyncs it; the task may be sent once this returns.
    pub async fn journal(self: &Arc<Self>, entry: JournalEntry) -> std::io::Result<()> {
        let store = Arc::clone(self);
        tokio::task::spawn_blocking(move || append(&store.journal, &entry))
            .await
            .map_err(std::io::Error::other)?
    }

    /// Appends a manifest entry and fsyncs it.
    pub async fn record(self: &Arc<Self>, entry: ManifestEntry) -> std::io::Result<()> {
        let store = Arc::clone(self);
        tokio::task::spawn_blocking(move || append(&store.manifest, &entry))
            .await
            .map_err(std::io::Error::other)?
    }

    /// Rewrites the manifest with one entry per line (the last), in line order: written to a
    /// temporary file, fsynced, renamed over the manifest, the directory fsynced.
    pub fn compact(&self) -> std::io::Result<usize> {
        let mut torn = 0;
        let path = self.dir.join(MANIFEST);
        let mut last: BTreeMap<usize, ManifestEntry> = BTreeMap::new();
        for e in read_lines::<ManifestEntry>(&path, &mut torn)? {
            last.insert(e.line, e);
        }
        let tmp = self.dir.join(".manifest.jsonl.tmp");
        let mut f = File::create(&tmp)?;
        for e in last.values() {
            let mut bytes = serde_json::to_vec(e).map_err(std::io::Error::other)?;
            bytes.push(b'\n');
            f.write_all(&bytes)?;
        }
        f.sync_all()?;
        // Hold the append handle's lock so that no entry is written to the replaced file.
        let mut manifest = lock(&self.manifest);
        std::fs::rename(&tmp, &path)?;
        sync_dir(&self.dir)?;
        *manifest = OpenOptions::new().append(true).open(&path)?;
        Ok(last.len())
    }
}

fn ends_with_newline(path: &Path) -> std::io::Result<bool> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let mut f = File::open(path)?;
    f.seek(SeekFrom::End(-1))?;
    let mut b = [0u8; 1];
    f.read_exact(&mut b)?;
    Ok(b == [b'\n'])
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}
