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
            "nativeBatched": tput_json(&tp.native_batched, &tp.native_batched),
            "componentReusedBatched": tput_json(&tp.reused_batched, &tp.native_batched),
            "componentPoolingBatched": tput_json(&tp.pooling_batched, &tp.native_batched),
        },
        "targets": {
            "componentP50WithinOneTenOfNative": ratio(l.component_reused.p50.as_secs_f64(), floor) <= 1.10,
            "instantiationUnder50Us": b.instantiate_pooling.p50 < Duration::from_micros(50),
            "cachedCliUnder50Ms": cli.warm_cache.p50 < Duration::from_millis(50),
            "componentUnder300KB": size < 300_000,
            "throughputAtLeast09Native": ratio(tp.reused_1.per_second(), tp.native_1.per_second()) >= 0.9,
            "batchedThroughputAtLeast09Native": ratio(tp.reused_batched.per_second(), tp.native_batched.per_second()) >= 0.9,
        },
    });
    println!("BENCH_JSON {summary}");
}
