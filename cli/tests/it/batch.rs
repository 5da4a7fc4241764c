//! `runware batch`: the real binary against the emulator (validation before sending, the
//! manifest, kill -9 and resume with exact execution counts, faults with the shared back-off,
//! a permanent failure, the 1,000-job scale figure), and the shared back-off's decisions
//! tested directly.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use runware_cli::batch::backoff::{Gate, GateConfig};
use runware_emulator::{Fault, FaultRule, ImageMode};
use serde_json::{Value, json};

use crate::e2e::{Harness, Run};

fn write_lines(dir: &Path, lines: &[Value]) -> String {
    let path = dir.join("jobs.jsonl");
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

fn read_jsonl(path: &Path) -> Vec<Value> {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn image_line(i: usize) -> Value {
    json!({"textToImage": {"prompt": format!("a lighthouse, variant {i}"), "width": 512,
        "height": 512, "outputType": "base64Data", "includeCost": true}})
}

/// The emulator's executions per taskUUID.
fn executions(h: &Harness) -> HashMap<String, u64> {
    let mut out = HashMap::new();
    for entry in h.emulator.request_log() {
        for u in entry.executed {
            *out.entry(u).or_insert(0) += 1;
        }
    }
    out
}

/// Asserts every input line has exactly one final `success` entry whose taskUUID Runware
/// executed exactly once, no other taskUUID was executed, and the files exist.
#[track_caller]
fn assert_exactly_once(h: &Harness, out: &Path, lines: usize) {
    let manifest = read_jsonl(&out.join("manifest.jsonl"));
    assert_eq!(manifest.len(), lines, "one manifest entry per line");
    let lines_seen: HashSet<u64> = manifest
        .iter()
        .map(|m| m["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines_seen.len(), lines, "no line twice in the manifest");
    let exec = executions(h);
    let mut manifest_uuids = HashSet::new();
    for m in &manifest {
        assert_eq!(m["status"], "success", "{m}");
        let uuid = m["taskUUID"].as_str().unwrap().to_string();
        assert_eq!(
            exec.get(&uuid).copied(),
            Some(1),
            "line {} executed once: {m}",
            m["line"]
        );
        for f in m["files"].as_array().unwrap() {
            assert!(out.join(f.as_str().unwrap()).is_file(), "{f} saved");
        }
        manifest_uuids.insert(uuid);
    }
    let duplicated: Vec<_> = exec.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicated.is_empty(), "executed twice: {duplicated:?}");
    let strays: Vec<_> = exec
        .keys()
        .filter(|u| !manifest_uuids.contains(*u))
        .collect();
    assert!(
        strays.is_empty(),
        "executed but not in the manifest: {strays:?}"
    );
}

/// The summary line's `N retries, M shared pauses`.
fn summary_counts(run: &Run) -> (u64, u64) {
    let line = run
        .stderr
        .lines()
        .find(|l| l.starts_with("runware: batch:") && l.contains("jobs/s"))
        .unwrap_or_else(|| panic!("no summary line:\n{}", run.stderr));
    let number_before = |word: &str| -> u64 {
        let i = line.find(word).unwrap();
        line[..i]
            .trim_end()
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    (number_before(" retries"), number_before(" shared pauses"))
}

#[tokio::test]
async fn every_bad_line_is_named_and_nothing_is_sent() {
    let h = Harness::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jobs.jsonl");
    std::fs::write(
        &file,
        [
            r#"{"textToImage": {"prompt": "fine", "width": 512}}"#,
            "# a comment, then a blank line",
            "",
            "not json",
            r#"{"paint": {"prompt": "a cat"}}"#,
            r#"{"textToImage": {"prompt": "a cat", "width": 5000}}"#,
            r#"{"textToImage": {"prompt": "a cat", "colour": "red"}}"#,
            r#"{"taskType": "imageInference", "positivePrompt": "a cat", "apiKey": "k"}"#,
        ]
        .join("\n"),
    )
    .unwrap();
    let f = file.to_string_lossy().into_owned();
    let out = dir.path().join("out");
    let run = h.run(&["batch", &f, "--out", out.to_str().unwrap()]).await;
    run.assert_code(2);
    for expected in [
        format!("{f}:4: not JSON"),
        format!("{f}:5: paint: unknown typed call"),
        format!("{f}:6: width: "),
        format!("{f}:7: colour: "),
        format!("{f}:8: apiKey: "),
    ] {
        assert!(
            run.stderr.contains(&expected),
            "{expected:?} in:\n{}",
            run.stderr
        );
    }
    assert!(!run.stderr.contains(&format!("{f}:1:")), "line 1 is fine");
    assert!(run.stderr.contains("5 bad lines; nothing was sent"));
    assert!(h.posts().is_empty(), "nothing sent: {:?}", h.posts());
    assert!(!out.join("journal.jsonl").exists(), "no journal");
}

#[tokio::test]
async fn the_manifest_names_every_line_its_task_files_and_cost() {
    let h = Harness::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_lines(
        dir.path(),
        &[
            json!({"textToImage": {"prompt": "two boats", "numberResults": 2, "includeCost": true}}),
            json!({"taskType": "imageInference", "positivePrompt": "a raw task",
                   "model": "runware:101@1", "width": 512, "height": 512, "includeCost": true}),
            json!({"enhancePrompt": {"prompt": "a cat on a mat", "versions": 1}}),
        ],
    );
    let out = dir.path().join("out");
    let run = h
        .run(&["batch", &file, "--out", out.to_str().unwrap()])
        .await;
    run.assert_code(0);
    assert!(run.stdout.is_empty(), "stdout stays empty: {}", run.stdout);
    let manifest = read_jsonl(&out.join("manifest.jsonl"));
    assert_eq!(manifest.len(), 3, "{manifest:?}");
    let lines: Vec<u64> = manifest
        .iter()
        .map(|m| m["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [1, 2, 3], "in line order");
    let first = &manifest[0];
    assert_eq!(first["status"], "success");
    assert_eq!(first["files"], json!(["000001-0.jpg", "000001-1.jpg"]));
    assert!(first["cost"].as_f64().unwrap() > 0.0, "{first}");
    assert_eq!(manifest[1]["files"].as_array().unwrap().len(), 1);
    assert!(manifest[1]["cost"].as_f64().unwrap() > 0.0);
    assert!(manifest[2]["files"].as_array().unwrap().is_empty());
    assert_eq!(
        manifest[2]["text"].as_array().map(Vec::len),
        Some(1),
        "{}",
        manifest[2]
    );
    for m in &manifest {
        assert!(m.get("error").is_none(), "{m}");
        for f in m["files"].as_array().unwrap() {
            let bytes = std::fs::read(out.join(f.as_str().unwrap())).unwrap();
            assert_eq!(&bytes[..2], &[0xFF, 0xD8], "a JPEG");
        }
    }
    // The journal has each task as sent, under the manifest's taskUUID.
    let journal = read_jsonl(&out.join("journal.jsonl"));
    assert_eq!(journal.len(), 3);
    let journalled: HashSet<&str> = journal
        .iter()
        .map(|j| j["taskUUID"].as_str().unwrap())
        .collect();
    for m in &manifest {
        assert!(journalled.contains(m["taskUUID"].as_str().unwrap()));
    }
    assert_exactly_once_lines(&h, &manifest);
    assert!(
        run.stderr.contains("3 done (0 before), 0 failed"),
        "{}",
        run.stderr
    );
}

#[track_caller]
fn assert_exactly_once_lines(h: &Harness, manifest: &[Value]) {
    let exec = executions(h);
    for m in manifest {
        assert_eq!(
            exec.get(m["taskUUID"].as_str().unwrap()).copied(),
            Some(1),
            "{m}"
        );
    }
}

#[tokio::test]
async fn a_killed_batch_resumes_and_every_line_runs_exactly_once() {
    let h = Harness::start_with(|b| {
        b.image_mode(ImageMode::Placeholder)
            .latency(Duration::from_millis(120))
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    const LINES: usize = 30;
    let file = write_lines(dir.path(), &(0..LINES).map(image_line).collect::<Vec<_>>());
    let out = dir.path().join("out");
    let journal = out.join("journal.jsonl");
    let args = [
        "batch",
        &file,
        "--out",
        out.to_str().unwrap(),
        "--concurrency",
        "4",
    ];

    // Two runs killed with SIGKILL once the journal grew, before every line was done.
    for grow_to in [6, 16] {
        let mut child = h.spawn(&args);
        let deadline = Instant::now() + Duration::from_secs(60);
        while read_jsonl_tolerant(&journal) < grow_to {
            assert!(Instant::now() < deadline, "the journal grows to {grow_to}");
            assert!(child.try_wait().unwrap().is_none(), "still running");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        child.start_kill().unwrap();
        let status = child.wait().await.unwrap();
        assert!(!status.success(), "killed");
        let finished = read_jsonl_tolerant(&out.join("manifest.jsonl"));
        assert!(finished < LINES, "killed before the end ({finished} done)");
    }
    // The third run finishes.
    let run = h.run(&args).await;
    run.assert_code(0);
    assert_exactly_once(&h, &out, LINES);
    // The killed run left lines in flight, which this run resumed under their taskUUIDs.
    let count_before = |word: &str| -> u64 {
        let i = run.stderr.find(word).unwrap();
        run.stderr[..i]
            .rsplit([' ', '('])
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(count_before(" resumed") >= 1, "{}", run.stderr);
    assert!(count_before(" before), ") < LINES as u64, "{}", run.stderr);
}

/// Lines of a JSONL file that parse (a torn last line does not).
fn read_jsonl_tolerant(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| {
            t.lines()
                .filter(|l| serde_json::from_str::<Value>(l).is_ok())
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn faults_slow_the_whole_batch_and_nothing_runs_twice() {
    // A storm (every request fails with 503 until 12 have) and then 10 % random transient
    // faults of every kind (HTTP 429/5xx, transient task errors, lost and truncated answers).
    let h = Harness::start_with(|b| {
        b.image_mode(ImageMode::Placeholder)
            .fault(
                FaultRule::new(Fault::HttpStatus {
                    status: 503,
                    retry_after: None,
                })
                .first_requests(12),
            )
            .fault(FaultRule::new(Fault::RandomTransient).rate(0.1, 7))
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    const LINES: usize = 60;
    let file = write_lines(dir.path(), &(0..LINES).map(image_line).collect::<Vec<_>>());
    let out = dir.path().join("out");
    let run = h
        .run(&[
            "batch",
            &file,
            "--out",
            out.to_str().unwrap(),
            "--concurrency",
            "8",
            "--max-attempts",
            "10",
        ])
        .await;
    run.assert_code(0);
    assert_exactly_once(&h, &out, LINES);
    let (retries, pauses) = summary_counts(&run);
    let faults = h.posts().iter().filter(|r| r.fault.is_some()).count() as u64;
    assert!(faults >= 12, "the storm happened ({faults} faults)");
    // Every retry answered a fault (a fault logged on a getResponse may have had no effect:
    // a task error only fails work tasks), and the storm alone made 12.
    assert!(
        (12..=faults).contains(&retries),
        "{retries} retries for {faults} faults: {}",
        run.stderr
    );
    // The storm paused the whole batch (8 in flight, 4 failures in a row make a storm).
    assert!(pauses >= 1, "the batch paused: {}", run.stderr);
}

#[tokio::test]
async fn a_line_that_fails_for_good_is_recorded_and_the_others_succeed() {
    let h = Harness::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_lines(
        dir.path(),
        &[
            image_line(1),
            json!({"taskType": "imageInference", "positivePrompt": "a cat",
                   "model": "no such model", "width": 512, "height": 512}),
            image_line(3),
        ],
    );
    let out = dir.path().join("out");
    let args = ["batch", &file, "--out", out.to_str().unwrap()];
    let run = h.run(&args).await;
    run.assert_code(1);
    let manifest = read_jsonl(&out.join("manifest.jsonl"));
    let status: Vec<&str> = manifest
        .iter()
        .map(|m| m["status"].as_str().unwrap())
        .collect();
    assert_eq!(status, ["success", "failed", "success"], "{manifest:?}");
    let err = &manifest[1]["error"];
    assert_eq!(err["retryable"], false, "{err}");
    assert!(
        err["code"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("model"),
        "{err}"
    );
    assert_eq!(err["kind"], "invalid-request", "{err}");
    assert!(run.stderr.contains("line 2 failed"), "{}", run.stderr);
    // Sent once: a permanent failure is not retried.
    assert_eq!(h.posts_with("no such model").len(), 1);

    // A rerun skips every line and sends nothing; the exit code still says a line failed.
    let posts = h.posts().len();
    let again = h.run(&args).await;
    again.assert_code(1);
    assert_eq!(h.posts().len(), posts, "nothing sent again");
    assert!(
        again
            .stderr
            .contains("2 done (2 before), 1 failed (1 before)"),
        "{}",
        again.stderr
    );
}

#[tokio::test]
async fn lines_left_incomplete_exit_3_and_a_rerun_finishes_them() {
    let h = Harness::start_with(|b| {
        b.fault(FaultRule::new(Fault::HttpStatus {
            status: 503,
            retry_after: None,
        }))
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_lines(dir.path(), &(0..3).map(image_line).collect::<Vec<_>>());
    let out = dir.path().join("out");
    let args = [
        "batch",
        &file,
        "--out",
        out.to_str().unwrap(),
        "--max-attempts",
        "2",
    ];
    let run = h.run(&args).await;
    run.assert_code(3);
    let manifest = read_jsonl(&out.join("manifest.jsonl"));
    assert_eq!(manifest.len(), 3);
    for m in &manifest {
        assert_eq!(m["status"], "incomplete", "{m}");
        assert_eq!(m["attempts"], 2, "{m}");
        assert_eq!(m["error"]["retryable"], true, "{m}");
    }
    // Each line was sent twice under its one journalled taskUUID (an HTTP failure keeps it).
    let journal = read_jsonl(&out.join("journal.jsonl"));
    assert_eq!(journal.len(), 3, "{journal:?}");
    for j in &journal {
        let uuid = j["taskUUID"].as_str().unwrap();
        let sends = h
            .posts()
            .iter()
            .filter(|r| r.task_uuids.iter().any(|u| u == uuid))
            .count();
        assert_eq!(sends, 2, "{uuid}");
    }

    h.emulator.clear_faults();
    let again = h.run(&args).await;
    again.assert_code(0);
    assert_exactly_once(&h, &out, 3);
    assert!(again.stderr.contains("3 resumed"), "{}", again.stderr);
    // Resumed under the journalled taskUUIDs: no new task was journalled.
    assert_eq!(read_jsonl(&out.join("journal.jsonl")).len(), 3);
}

#[tokio::test]
async fn a_thousand_jobs_through_random_faults_none_lost_none_twice() {
    let h = Harness::start_with(|b| {
        b.image_mode(ImageMode::Placeholder)
            .fault(FaultRule::new(Fault::RandomTransient).rate(0.1, 42))
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    const LINES: usize = 1000;
    let file = write_lines(dir.path(), &(0..LINES).map(image_line).collect::<Vec<_>>());
    let out = dir.path().join("out");
    let balance = h.emulator.balance();
    let run = h
        .run(&[
            "batch",
            &file,
            "--out",
            out.to_str().unwrap(),
            "--concurrency",
            "16",
            "--max-attempts",
            "10",
        ])
        .await;
    run.assert_code(0);
    assert_exactly_once(&h, &out, LINES);
    // Billed once each: what the account lost is what the manifest says was spent.
    let manifest = read_jsonl(&out.join("manifest.jsonl"));
    let spent: f64 = manifest.iter().map(|m| m["cost"].as_f64().unwrap()).sum();
    let billed = balance - h.emulator.balance();
    assert!(
        (spent - billed).abs() < 1e-6,
        "spent {spent}, billed {billed}"
    );
    let summary = run.stderr.lines().find(|l| l.contains("jobs/s")).unwrap();
    eprintln!("{summary}");
}

// ---------------------------------------------------------------------------------------------
// The shared back-off, decided at given instants.

fn gate(concurrency: u32) -> Gate {
    Gate::new(GateConfig::for_concurrency(concurrency), 1)
}

#[test]
fn a_few_random_failures_do_not_pause_the_batch() {
    let g = gate(8);
    let now = Instant::now();
    for _ in 0..3 {
        g.on_transient(1, false, now);
        g.on_success(false);
    }
    assert_eq!(g.delay(now), Duration::ZERO);
    assert_eq!(g.stats().pauses, 0);
}

#[test]
fn a_storm_pauses_everyone_and_pauses_grow_to_the_cap() {
    let cfg = GateConfig::for_concurrency(8);
    let g = Gate::new(cfg.clone(), 3);
    let mut now = Instant::now();
    let mut pauses = Vec::new();
    for _ in 0..12 {
        for _ in 0..cfg.storm {
            g.on_transient(1, false, now);
        }
        let d = g.delay(now);
        assert!(d > Duration::ZERO, "paused after a storm");
        pauses.push(d);
        // While paused, more failures do not stack pauses.
        g.on_transient(1, false, now);
        assert_eq!(g.delay(now), d);
        now += d;
        assert_eq!(g.delay(now), Duration::ZERO, "the pause ends");
    }
    // Equal jitter: each pause is at least half of its doubling ceiling, capped.
    assert!(pauses[0] >= cfg.pause_base / 2 && pauses[0] <= cfg.pause_base);
    assert!(pauses[3] >= cfg.pause_base * 4, "{pauses:?}");
    assert!(pauses.iter().all(|p| *p <= cfg.pause_cap), "{pauses:?}");
    assert!(pauses[11] >= cfg.pause_cap / 2, "{pauses:?}");
}

#[test]
fn an_empty_budget_pauses_and_successes_refill_it() {
    let cfg = GateConfig {
        capacity: 20,
        storm: u32::MAX,
        ..GateConfig::for_concurrency(4)
    };
    let g = Gate::new(cfg, 5);
    let now = Instant::now();
    // 20 tokens, 5 a failure: the fifth failure finds it empty.
    for i in 0..4 {
        g.on_transient(1, false, now);
        assert_eq!(g.delay(now), Duration::ZERO, "failure {i}");
    }
    assert_eq!(g.stats().tokens, 0);
    g.on_transient(1, false, now);
    assert!(g.delay(now) > Duration::ZERO, "empty budget: paused");
    let later = now + Duration::from_secs(60);
    g.on_success(true);
    assert_eq!(g.stats().tokens, 5, "a retry's success refunds its cost");
    g.on_success(false);
    assert_eq!(g.stats().tokens, 6);
    assert_eq!(g.delay(later), Duration::ZERO);
}

#[test]
fn a_jobs_own_retry_delay_grows_with_its_attempts() {
    let cfg = GateConfig::for_concurrency(4);
    let g = Gate::new(cfg.clone(), 9);
    let now = Instant::now();
    for attempt in 1..=10u32 {
        let d = g.on_transient(attempt, false, now);
        let ceiling = (cfg.retry_base * 2u32.pow(attempt - 1)).min(cfg.retry_cap);
        assert!(d <= ceiling, "attempt {attempt}: {d:?} > {ceiling:?}");
        g.on_success(false);
    }
}

// ---------------------------------------------------------------------------------------------
// The line format, parsed directly (no client: the component's checks come after).

#[test]
fn typed_lines_are_the_commands_flags() {
    use runware_cli::args::Command;
    use runware_cli::batch::input::{Parsed, parse};
    let text = [
        "# comment",
        r#"{"video": {"prompt": "a boat", "image": ["a.png", "b.png"], "includeCost": true, "seed": 7, "async": false}}"#,
        "",
        r#"{"upload": {"file": "clip.mp4"}}"#,
        r#"[{"taskType": "imageInference", "positivePrompt": "a cat"}]"#,
    ]
    .join("\n");
    let (lines, errors) = parse(&text);
    assert!(errors.is_empty(), "{errors:?}");
    let numbers: Vec<usize> = lines.iter().map(|(n, _)| *n).collect();
    assert_eq!(numbers, [2, 4, 5]);
    match &lines[0].1 {
        Parsed::Typed { command, .. } => match command.as_ref() {
            Command::Video(a) => {
                assert_eq!(a.prompt.as_deref(), Some("a boat"));
                assert_eq!(a.images, ["a.png", "b.png"]);
                assert!(a.task.include_cost);
                assert_eq!(a.seed, Some(7));
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    assert!(matches!(&lines[1].1, Parsed::Typed { command, .. }
        if matches!(command.as_ref(), Command::Upload(a) if a.file == "clip.mp4")));
    assert!(matches!(&lines[2].1, Parsed::Raw(t) if t["positivePrompt"] == "a cat"));
}

#[test]
fn bad_lines_name_the_field_as_written() {
    use runware_cli::batch::input::parse;
    let text = [
        r#"{"textToImage": {"prompt": "a cat", "dryRun": true}}"#,
        r#"{"textToImage": {"prompt": "a cat", "outputType": "gif"}}"#,
        r#"{"textToImage": {"prompt": "a cat", "width": "wide"}}"#,
        r#"{"textToImage": {"width": 512}}"#,
        r#"[{"taskType": "imageInference"}, {"taskType": "imageInference"}]"#,
        r#"{"taskType": "authentication"}"#,
        r#"{"taskType": "imageInference", "taskUUID": "not-a-uuid"}"#,
        r#"{"textToImage": {"prompt": "a cat"}, "video": {}}"#,
        r#"{"textToImage": {"prompt": "a cat", "apiKey": "k"}}"#,
    ]
    .join("\n");
    let (lines, errors) = parse(&text);
    assert!(lines.is_empty(), "{lines:?}");
    let rendered: Vec<String> = errors.iter().map(|e| e.render("f")).collect();
    let expect = [
        "f:1: dryRun: set for the whole batch",
        "f:2: outputType: invalid value 'gif'",
        "f:3: width: invalid value 'wide'",
        "f:4: prompt: the following required arguments were not provided",
        "f:5: an array line must hold exactly one task",
        "f:6: taskType: an `authentication` task is refused",
        "f:7: taskUUID: must be a UUID",
        "f:8: a typed line has exactly one key",
        "f:9: apiKey: refused",
    ];
    assert_eq!(rendered.len(), expect.len(), "{rendered:#?}");
    for (got, want) in rendered.iter().zip(expect) {
        assert!(got.starts_with(want), "{got:?} should start with {want:?}");
    }
    assert!(rendered[1].contains("possible values"), "{}", rendered[1]);
}
