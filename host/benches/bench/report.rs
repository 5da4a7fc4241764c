//! Prints what the rows measured: the latency table with its ratios to the native floor (a),
//! the breakdown, the CLI, runtime and size lines, the throughput table, and one `BENCH_JSON `
//! line with every number (for scripts comparing runs).

use std::time::Duration;

use serde_json::json;

use crate::rows::Rows;
use crate::settings::{Settings, client_threads};
use crate::setup::Setup;
use crate::stats::{Lat, Tput, load_average};

/// Microseconds, one decimal.
fn us(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e7).round() / 10.0
}

/// Milliseconds, two decimals.
fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e5).round() / 100.0
}

/// `x / floor` to three decimals; 0 when there is no floor (an empty row).
fn ratio(x: f64, floor: f64) -> f64 {
    if floor > 0.0 {
        (x / floor * 1000.0).round() / 1000.0
    } else {
        0.0
    }
}

pub fn print(s: &Settings, setup: &Setup, rows: &Rows, load_before: &str) {
    let Rows {
        latency: l,
        breakdown: b,
        cli,
        throughput: tp,
        in_flight,
        batch,
    } = rows;
    let (first_load, second_load) = (setup.first_load, setup.second_load);
    let size = runware_host::EMBEDDED_COMPONENT.len();
    let floor = l.native_keep_alive.p50.as_secs_f64();
    let floor99 = l.native_keep_alive.p99.as_secs_f64();
    let mut table: Vec<(&str, &str, Lat)> = vec![
        (
            "a",
            "native hyper client, keep-alive (floor)",
            l.native_keep_alive,
        ),
        (
            "a'",
            "native hyper client, new connection per request",
            l.native_new_connection,
        ),
        (
            "b",
            "component, reused instance, pooling allocator",
            l.component_reused,
        ),
        (
            "b'",
            "component, fresh instance, pooling allocator",
            l.component_pooling,
        ),
        (
            "c",
            "component, fresh instance, on-demand allocation",
            l.component_on_demand,
        ),
        (
            "e",
            "component, the default (reuse, on-demand alloc.)",
            l.component_default,
        ),
    ];
    match &l.sdk {
        Ok((lat, _)) => table.push(("d", "official runware-sdk (Python) over REST", *lat)),
        Err(reason) => eprintln!("bench: (d) official runware-sdk: {reason}"),
    }
    println!();
    println!(
        "imageInference 512x512 JPG, sync, emulator placeholder mode, loopback; {} calls each",
        s.n
    );
    println!(
        "{:<3} {:<50} {:>7} {:>10} {:>10} {:>8} {:>8}",
        "", "client", "n", "p50 µs", "p99 µs", "p50 ×a", "p99 ×a"
    );
    for (id, name, lat) in &table {
        println!(
            "{:<3} {:<50} {:>7} {:>10.1} {:>10.1} {:>8.3} {:>8.3}",
            id,
            name,
            lat.n,
            us(lat.p50),
            us(lat.p99),
            ratio(lat.p50.as_secs_f64(), floor),
            ratio(lat.p99.as_secs_f64(), floor99)
        );
    }
    println!();
    println!("where a fresh-instance component call goes (pooling), p50 / p99 µs:");
    let parts = [
        ("instantiate only (pooling)", b.instantiate_pooling),
        ("instantiate only (on-demand)", b.instantiate_on_demand),
        ("instantiate + open (warm_up, pooling)", b.open_pooling),
        (
            "instantiate + open + build JSON (prepare, no network)",
            b.prepare_pooling,
        ),
        ("whole call (b')", l.component_pooling),
        ("whole call on a reused instance (b)", l.component_reused),
    ];
    for (name, lat) in &parts {
        println!("    {:<56} {:>9.1} {:>9.1}", name, us(lat.p50), us(lat.p99));
    }
    println!();
    println!(
        "CLI cold run (`runware model-search`), median of {}: empty cache {:.1} ms, warm cache {:.1} ms",
        s.cli_runs,
        ms(cli.empty_cache.p50),
        ms(cli.warm_cache.p50)
    );
    println!(
        "Runtime::new in this process: first (compiles, writes the cache) {:.1} ms, second (cache) {:.1} ms",
        ms(first_load),
        ms(second_load)
    );
    println!(
        "component size: {size} bytes ({:.1} KiB)",
        size as f64 / 1024.0
    );
    println!(
        "peak linear memory per instance: {} KiB (single image), {} KiB ({}-task batch)",
        l.peak_single / 1024,
        tp.peak_batch / 1024,
        s.batch
    );
    println!();
    println!("throughput: {} tasks, K = {} concurrent", s.tasks, s.k);
    // Each row against the native row of the same shape (one task per call, or batched).
    let tput_rows = [
        ("native, 1 task/request", tp.native_1, tp.native_1),
        (
            "native, new connection per request",
            tp.native_new_connection_1,
            tp.native_1,
        ),
        ("component (b), 1 task/call", tp.reused_1, tp.native_1),
        ("component (b'), 1 task/call", tp.pooling_1, tp.native_1),
        ("component (c), 1 task/call", tp.on_demand_1, tp.native_1),
        (
            "component (e) default, 1 task/call",
            tp.default_1,
            tp.native_1,
        ),
        ("native, batched", tp.native_batched, tp.native_batched),
        (
            "component (b), batched run_tasks",
            tp.reused_batched,
            tp.native_batched,
        ),
        (
            "component (b'), batched run_tasks",
            tp.pooling_batched,
            tp.native_batched,
        ),
    ];
    for (name, t, base) in &tput_rows {
        println!(
            "    {:<40} {:>9} tasks/s  ×native {:.3}  CPU {:.0} µs/task",
            name,
            t.per_second(),
            ratio(t.per_second(), base.per_second()),
            us(t.cpu_per_task())
        );
    }
    println!(
        "    {:<40} {:>9} tasks/s  ×native {:.3}  (the runner's own rate once sending: {:.0} jobs/s, ×native {:.3})",
        "runware batch, whole run",
        batch.tput.per_second(),
        ratio(batch.tput.per_second(), tp.native_1.per_second()),
        batch.runner_jobs_per_second,
        ratio(batch.runner_jobs_per_second, tp.native_1.per_second())
    );
    println!();
    match &in_flight.skipped {
        Some(why) => println!("calls in flight at once: skipped: {why}"),
        None => println!(
            "calls in flight at once: {} of {} succeeded (emulator latency {} ms), {:.1} s wall; \
             process RSS {} MiB before, peak {} MiB ({:.1} KiB per call in flight)",
            in_flight.succeeded,
            in_flight.calls,
            in_flight.latency.as_millis(),
            in_flight.wall.as_secs_f64(),
            in_flight.rss_before_bytes >> 20,
            in_flight.rss_peak_bytes >> 20,
            in_flight
                .rss_peak_bytes
                .saturating_sub(in_flight.rss_before_bytes) as f64
                / 1024.0
                / in_flight.calls.max(1) as f64
        ),
    }

    // Issue 10's targets, each measured in this run.
    let default_x = ratio(l.component_default.p50.as_secs_f64(), floor);
    let sdk_speedup = match &l.sdk {
        Ok((lat, _)) => ratio(lat.p50.as_secs_f64(), l.component_default.p50.as_secs_f64()),
        Err(_) => 0.0,
    };
    let reused_x = ratio(l.component_reused.p50.as_secs_f64(), floor);
    let cpu_x = ratio(
        tp.reused_1.cpu_per_task().as_secs_f64(),
        tp.native_1.cpu_per_task().as_secs_f64(),
    );
    let tput_x = ratio(tp.default_1.per_second(), tp.native_1.per_second());
    let all_in_flight = in_flight.skipped.is_none() && in_flight.succeeded == in_flight.calls;
    let yes = |b: bool| if b { "yes" } else { "no" };
    println!();
    println!("targets (this run):");
    let targets = [
        (
            "default call (e) p50 <= 1.5x native, >= 2x the SDK's speed".to_string(),
            format!("{default_x:.2}x native; {sdk_speedup:.2}x the SDK's speed"),
            default_x <= 1.5 && sdk_speedup >= 2.0,
        ),
        (
            "reused-instance (b) p50 <= 1.25x native".to_string(),
            format!("{reused_x:.2}x"),
            reused_x <= 1.25,
        ),
        (
            "CPU per task, reused (b) <= 1.5x native".to_string(),
            format!(
                "{cpu_x:.2}x ({:.0} vs {:.0} µs)",
                us(tp.reused_1.cpu_per_task()),
                us(tp.native_1.cpu_per_task())
            ),
            cpu_x <= 1.5,
        ),
        (
            format!(
                "throughput, K = {}, 1 task per call (e) >= 0.8x native",
                s.k
            ),
            format!("{tput_x:.2}x"),
            tput_x >= 0.8,
        ),
        (
            "peak linear memory per instance <= 256 KiB".to_string(),
            format!("{} KiB", l.peak_single / 1024),
            l.peak_single <= 256 * 1024,
        ),
        (
            format!(
                "{} calls in flight in one process, all succeed",
                in_flight.calls
            ),
            format!(
                "{} succeeded; peak RSS {} MiB",
                in_flight.succeeded,
                in_flight.rss_peak_bytes >> 20
            ),
            all_in_flight,
        ),
        (
            "component size < 300 KB".to_string(),
            format!("{size} bytes"),
            size < 300_000,
        ),
    ];
    for (target, measured, met) in &targets {
        println!("    {target:<62} {measured:<36} met: {}", yes(*met));
    }

    let load_after = load_average();
    println!();
    println!("load average before {load_before}, after {load_after}");

    let lat_json = |l: &Lat| {
        json!({
            "n": l.n,
            "p50Us": us(l.p50),
            "p99Us": us(l.p99),
            "meanUs": us(l.mean),
            "p50Ratio": ratio(l.p50.as_secs_f64(), floor),
            "p99Ratio": ratio(l.p99.as_secs_f64(), floor99),
        })
    };
    let tput_json = |t: &Tput, base: &Tput| {
        json!({
            "tasks": t.tasks,
            "wallMs": ms(t.wall),
            "tasksPerSecond": t.per_second(),
            "cpuUsPerTask": us(t.cpu_per_task()),
            "ratioToNative": ratio(t.per_second(), base.per_second()),
        })
    };
    let summary = json!({
        "settings": {
            "clientThreads": client_threads(),
            "n": s.n, "warmup": s.warmup, "sdkN": s.sdk_n, "instantiations": s.instantiations,
            "cliRuns": s.cli_runs, "tasks": s.tasks, "k": s.k, "batch": s.batch,
        },
        "loadAverage": { "before": load_before, "after": load_after },
        "latency": {
            "nativeKeepAlive": lat_json(&l.native_keep_alive),
            "nativeNewConnection": lat_json(&l.native_new_connection),
            "componentReused": lat_json(&l.component_reused),
            "componentPooling": lat_json(&l.component_pooling),
            "componentOnDemand": lat_json(&l.component_on_demand),
            "componentDefault": lat_json(&l.component_default),
            "officialSdkRest": match &l.sdk {
                Ok((lat, version)) => {
                    let mut v = lat_json(lat);
                    if let Some(fields) = v.as_object_mut() {
                        fields.insert("sdkVersion".to_string(), json!(version));
                    }
                    v
                }
                Err(reason) => json!({ "skipped": reason }),
            },
        },
        "breakdown": {
            "instantiatePoolingUs": lat_json(&b.instantiate_pooling),
            "instantiateOnDemandUs": lat_json(&b.instantiate_on_demand),
            "instantiateOpenPoolingUs": lat_json(&b.open_pooling),
            "prepareNoNetworkPoolingUs": lat_json(&b.prepare_pooling),
        },
        "cli": {
            "emptyCacheMs": { "p50": ms(cli.empty_cache.p50), "p99": ms(cli.empty_cache.p99) },
            "warmCacheMs": { "p50": ms(cli.warm_cache.p50), "p99": ms(cli.warm_cache.p99) },
        },
        "runtimeNewMs": { "compile": ms(first_load), "fromCache": ms(second_load) },
        "componentBytes": size,
        "peakInstanceMemoryBytes": { "singleImage": l.peak_single, "batch": tp.peak_batch },
        "throughput": {
            "native1": tput_json(&tp.native_1, &tp.native_1),
            "nativeNewConnection1": tput_json(&tp.native_new_connection_1, &tp.native_1),
            "componentReused1": tput_json(&tp.reused_1, &tp.native_1),
            "componentPooling1": tput_json(&tp.pooling_1, &tp.native_1),
            "componentOnDemand1": tput_json(&tp.on_demand_1, &tp.native_1),
            "componentDefault1": tput_json(&tp.default_1, &tp.native_1),
            "nativeBatched": tput_json(&tp.native_batched, &tp.native_batched),
            "componentReusedBatched": tput_json(&tp.reused_batched, &tp.native_batched),
            "componentPoolingBatched": tput_json(&tp.pooling_batched, &tp.native_batched),
        },
        "batchRunner": {
            "jobs": batch.tput.tasks,
            "wallMs": ms(batch.tput.wall),
            "jobsPerSecond": batch.tput.per_second(),
            "runnerJobsPerSecond": batch.runner_jobs_per_second,
            "ratioToNative": ratio(batch.tput.per_second(), tp.native_1.per_second()),
        },
        "inFlight": {
            "calls": in_flight.calls,
            "succeeded": in_flight.succeeded,
            "latencyMs": in_flight.latency.as_millis(),
            "wallMs": ms(in_flight.wall),
            "rssBeforeBytes": in_flight.rss_before_bytes,
            "rssPeakBytes": in_flight.rss_peak_bytes,
            "skipped": in_flight.skipped,
        },
        "targets": {
            "defaultP50Ratio": default_x,
            "defaultSpeedOverSdk": sdk_speedup,
            "reusedP50Ratio": reused_x,
            "reusedCpuRatio": cpu_x,
            "defaultThroughputRatio": tput_x,
            "met": targets.iter().map(|(t, _, met)| json!({ "target": t, "met": met })).collect::<Vec<_>>(),
            "instantiationUnder50Us": b.instantiate_pooling.p50 < Duration::from_micros(50),
            "cachedCliUnder50Ms": cli.warm_cache.p50 < Duration::from_millis(50),
        },
    });
    println!("BENCH_JSON {summary}");
}
