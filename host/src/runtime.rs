//! [`Runtime`]: the wasmtime engine, the compiled component and its `InstancePre`, made once.
//!
//! Compiling the component takes tens of milliseconds in a release build (about a second in a
//! debug build), so the machine code is cached on disk: `Component::serialize()` output goes to
//! `<cache dir>/<key>.cwasm` where `key` is the SHA-256 of the component bytes, the wasmtime
//! version and the engine's compatibility fingerprint. The file ends with a SHA-256 of its own
//! contents; a file that is corrupt, truncated or from an incompatible engine is compiled again
//! and replaced. Writes are atomic (temporary file, then rename).
//!
//! ```no_run
//! # fn demo() -> Result<(), runware_host::Error> {
//! let runtime = runware_host::Runtime::embedded()?;
//! println!("compiled code from cache: {}", runtime.loaded_from_cache());
//! # Ok(()) }
//! ```

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ResourceLimiter,
    StoreLimits,
};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::bindings::RunwareClientPre;
use crate::error::Error;
use crate::policy::HostHooks;

/// The wasmtime version the compiled-code cache is keyed on (the workspace pins it).
const WASMTIME_VERSION: &str = "48.0.8";

/// How often the engine's epoch advances; the execution deadline counts in these ticks.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(20);

/// Linear memory (and table) bytes a pooled slot keeps resident between instances: an
/// instance's stack and heap for one call fit (1,088 KiB peak for one image).
const KEEP_RESIDENT_BYTES: usize = 2 << 20;

/// The environment variable that picks the compiled-code cache directory.
pub const CACHE_DIR_ENV: &str = "RUNWARE_CACHE_DIR";

/// The component built from `guest/` and embedded by the build script.
pub const EMBEDDED_COMPONENT: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/runware_client.wasm"));

/// The SHA-256 of [`EMBEDDED_COMPONENT`], in lower-case hex (computed once, on first use:
/// about a millisecond).
pub fn embedded_component_sha256() -> &'static str {
    static SHA256: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SHA256.get_or_init(|| hex(&Sha256::digest(EMBEDDED_COMPONENT)))
}

/// How a [`Runtime`] is set up. `Default` gives the embedded component, the default cache
/// directory, on-demand allocation and a 512 MiB memory cap per instance.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// A component file to load instead of the embedded one.
    pub component: Option<PathBuf>,
    /// Where compiled code is cached. `None`: `RUNWARE_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/runware`, else `~/.cache/runware`.
    pub cache_dir: Option<PathBuf>,
    /// Turns the compiled-code cache off.
    pub disable_cache: bool,
    /// Use wasmtime's pooling allocator (pre-reserved instance slots: faster instantiation,
    /// more virtual memory reserved up front).
    pub pooling: bool,
    /// With `pooling`: how many instances may be alive at once.
    pub pool_size: u32,
    /// The largest linear memory one instance may grow to, in bytes.
    pub max_memory_bytes: usize,
    /// Test seam: allocate linear memories on the host heap and scan them for secrets when
    /// each instance is dropped (implies no pooling; slower).
    #[doc(hidden)]
    pub memory_probe: Option<Arc<crate::probe::MemoryProbe>>,
    /// Profiling seam: wasmtime writes `/tmp/perf-PID.map`, naming the compiled component's
    /// functions for `perf` or the benchmark's callgrind scripts (`host/benches/callgrind/`).
    #[doc(hidden)]
    pub perf_map: bool,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            component: None,
            cache_dir: None,
            disable_cache: false,
            pooling: false,
            pool_size: 64,
            max_memory_bytes: 512 << 20,
            memory_probe: None,
            perf_map: false,
        }
    }
}

/// The store data of one call: WASI and wasi:http state, the network policy, the limits.
pub(crate) struct HostState {
    pub wasi: WasiCtx,
    pub http: WasiHttpCtx,
    pub table: ResourceTable,
    pub hooks: HostHooks,
    pub limits: Limits,
}

/// The store's resource limiter: [`StoreLimits`] (the memory cap) plus a count of the linear
/// memory the instance holds, whose process-wide high-water mark [`peak_instance_memory`] reports.
pub(crate) struct Limits {
    inner: StoreLimits,
    linear_bytes: usize,
}

impl Limits {
    pub(crate) fn new(inner: StoreLimits) -> Limits {
        Limits {
            inner,
            linear_bytes: 0,
        }
    }
}

/// The error a store's limiter fails a memory growth past the cap with; the trap it becomes
/// is reported as [`TrapCause::MemoryCap`](crate::TrapCause).
#[derive(Debug, thiserror::Error)]
#[error("forcing trap when growing memory to {desired} bytes: past the instance's memory cap")]
pub(crate) struct MemoryCapExceeded {
    /// The size the instance asked for.
    pub(crate) desired: usize,
}

/// The largest linear memory (all memories of one instance, in bytes) any instance of this
/// process has held.
static PEAK_INSTANCE_MEMORY: AtomicUsize = AtomicUsize::new(0);

/// Benchmark statistic: the most linear memory one instance has held so far in this process
/// (bytes, all its memories together; initial sizes included), since the last
/// [`reset_peak_instance_memory`].
#[doc(hidden)]
pub fn peak_instance_memory() -> usize {
    PEAK_INSTANCE_MEMORY.load(Ordering::Relaxed)
}

/// Benchmark statistic: starts [`peak_instance_memory`] again from zero.
#[doc(hidden)]
pub fn reset_peak_instance_memory() {
    PEAK_INSTANCE_MEMORY.store(0, Ordering::Relaxed);
}

impl ResourceLimiter for Limits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // `StoreLimits` refuses a growth past the cap with an untyped error; replace it with
        // `MemoryCapExceeded`, so the trap it becomes is recognised by type, not by its text.
        let allowed = self
            .inner
            .memory_growing(current, desired, maximum)
            .map_err(|_| wasmtime::Error::new(MemoryCapExceeded { desired }))?;
        if allowed {
            self.linear_bytes = self
                .linear_bytes
                .saturating_add(desired.saturating_sub(current));
            PEAK_INSTANCE_MEMORY.fetch_max(self.linear_bytes, Ordering::Relaxed);
        }
        Ok(allowed)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.inner.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.inner.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// The loaded component: an engine, the compiled component and its pre-instantiation. Cheap
/// to clone (an `Arc`); share one per process.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) inner: Arc<RuntimeInner>,
}

pub(crate) struct RuntimeInner {
    pub engine: Engine,
    pub pre: RunwareClientPre<HostState>,
    pub max_memory_bytes: usize,
    from_cache: bool,
    cache_file: Option<PathBuf>,
    /// Where compiled code is cached (`None`: the cache is off); other components compiled
    /// with this engine ([`Runtime::compile`]) are cached there too.
    cache_dir: Option<PathBuf>,
    component_sha256: String,
    _ticker: EpochTicker,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("component_sha256", &self.inner.component_sha256)
            .field("from_cache", &self.inner.from_cache)
            .field("cache_file", &self.inner.cache_file)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// The embedded component with the default configuration.
    pub fn embedded() -> Result<Runtime, Error> {
        Runtime::new(RuntimeConfig::default())
    }

    /// Loads the component once: engine, compiled code (from the cache when present), linker
    /// with WASI and wasi:http, and the `InstancePre` every call instantiates from. Blocking:
    /// compiling can take a second in a debug build.
    pub fn new(config: RuntimeConfig) -> Result<Runtime, Error> {
        // 1. The component bytes and their hash.
        let (bytes, sha256) = match &config.component {
            Some(path) => {
                let bytes = std::fs::read(path).map_err(|e| {
                    Error::host_with(format!("cannot read component {}", path.display()), e)
                })?;
                let sha = hex(&Sha256::digest(&bytes));
                (std::borrow::Cow::Owned(bytes), sha)
            }
            None => (
                std::borrow::Cow::Borrowed(EMBEDDED_COMPONENT),
                embedded_component_sha256().to_string(),
            ),
        };

        // 2. The engine.
        let mut wasm_config = Config::new();
        wasm_config.epoch_interruption(true);
        if config.perf_map {
            wasm_config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        if let Some(probe) = &config.memory_probe {
            wasm_config
                .memory_reservation(0)
                .memory_guard_size(0)
                .memory_reservation_for_growth(0)
                .guard_before_linear_memory(false)
                .memory_init_cow(false)
                .with_host_memory(Arc::new(crate::probe::ProbeCreator(Arc::clone(probe))));
        } else if config.pooling {
            let n = config.pool_size.max(1);
            let mut pool = PoolingAllocationConfig::default();
            pool.total_component_instances(n)
                .total_core_instances(n.saturating_mul(16))
                .total_memories(n.saturating_mul(4))
                .total_tables(n.saturating_mul(8))
                .total_stacks(n)
                .max_memory_size(config.max_memory_bytes)
                // Zero the first pages of a freed slot in place instead of handing them back
                // to the kernel, so the next instance does not page-fault them in again.
                .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
                .table_keep_resident(KEEP_RESIDENT_BYTES);
            wasm_config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        } else {
            // The component's initial memory (about 26 KiB of data) is copied in rather than
            // mapped copy-on-write from an image: a copy that small costs little, and the
            // mapping is one more memory area per instance. Linux allows 65,530 areas per process
            // by default; with the mapping, about 9,500 instances could be alive at once, and
            // the benchmark's 10,000 calls in flight failed with ENOMEM.
            wasm_config.memory_init_cow(false);
        }
        let engine = Engine::new(&wasm_config)
            .map_err(|e| Error::host_with("cannot create the wasmtime engine", e))?;

        // 3. The compiled component, through the cache.
        let cache_dir = if config.disable_cache {
            None
        } else {
            config.cache_dir.clone().or_else(default_cache_dir)
        };
        let key = cache_key(&engine, &sha256);
        let (component, from_cache, cache_file) =
            load_component(&engine, &bytes, cache_dir.clone(), &key)?;

        // 4. The linker, then the InstancePre, once.
        let linker = linker(&engine)?;
        let instance_pre = linker
            .instantiate_pre(&component)
            .map_err(|e| Error::host_with("the component's imports cannot be met", e))?;
        let pre = RunwareClientPre::new(instance_pre)
            .map_err(|e| Error::host_with("the component does not export runware:client/api", e))?;

        let ticker = EpochTicker::start(&engine);
        Ok(Runtime {
            inner: Arc::new(RuntimeInner {
                engine,
                pre,
                max_memory_bytes: config.max_memory_bytes,
                from_cache,
                cache_file,
                cache_dir,
                component_sha256: sha256,
                _ticker: ticker,
            }),
        })
    }

    /// Whether the compiled code came from the on-disk cache (no compilation happened).
    pub fn loaded_from_cache(&self) -> bool {
        self.inner.from_cache
    }

    /// The cache file used (read or written), when the cache is on and writable.
    pub fn cache_file(&self) -> Option<&Path> {
        self.inner.cache_file.as_deref()
    }

    /// The SHA-256 of the loaded component bytes, in lower-case hex.
    pub fn component_sha256(&self) -> &str {
        &self.inner.component_sha256
    }

    /// Compiles another component (an app `serve` runs) with this runtime's engine, through
    /// the same compiled-code cache; whether it came from the cache. Blocking.
    pub(crate) fn compile(&self, wasm: &[u8]) -> Result<(Component, bool), Error> {
        let key = cache_key(&self.inner.engine, &hex(&Sha256::digest(wasm)));
        let (component, from_cache, _) =
            load_component(&self.inner.engine, wasm, self.inner.cache_dir.clone(), &key)?;
        Ok((component, from_cache))
    }
}

/// The linker every component of a runtime is instantiated with: all of WASI p2 (the
/// component writes trace lines to wasi:cli/stderr; an app reads its environment) and
/// wasi:http, whose outgoing requests go through the store's [`HostHooks`].
pub(crate) fn linker(engine: &Engine) -> Result<Linker<HostState>, Error> {
    let mut linker = Linker::<HostState>::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)
        .map_err(|e| Error::host_with("cannot link WASI", e))?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
        .map_err(|e| Error::host_with("cannot link wasi:http", e))?;
    Ok(linker)
}

/// The default cache directory: `RUNWARE_CACHE_DIR`, else `$XDG_CACHE_HOME/runware`, else
/// `~/.cache/runware`. `None` when none of them is set.
pub fn default_cache_dir() -> Option<PathBuf> {
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = non_empty(CACHE_DIR_ENV) {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = non_empty("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("runware"));
    }
    non_empty("HOME").map(|h| PathBuf::from(h).join(".cache").join("runware"))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// SHA-256 of the component's hash, the wasmtime version and the engine fingerprint.
fn cache_key(engine: &Engine, component_sha256: &str) -> String {
    let mut fingerprint = std::collections::hash_map::DefaultHasher::new();
    engine
        .precompile_compatibility_hash()
        .hash(&mut fingerprint);
    let mut h = Sha256::new();
    h.update(component_sha256.as_bytes());
    h.update(b"\0wasmtime-");
    h.update(WASMTIME_VERSION.as_bytes());
    h.update(b"\0");
    h.update(fingerprint.finish().to_le_bytes());
    hex(&h.finalize())
}

/// Length of the SHA-256 trailer that ends every cache file.
const TRAILER: usize = 32;

fn load_component(
    engine: &Engine,
    wasm: &[u8],
    cache_dir: Option<PathBuf>,
    key: &str,
) -> Result<(Component, bool, Option<PathBuf>), Error> {
    let file = cache_dir.map(|d| d.join(format!("{key}.cwasm")));
    if let Some(file) = &file
        && let Some(component) = read_cached(engine, file)
    {
        return Ok((component, true, Some(file.clone())));
    }
    let component = Component::new(engine, wasm)
        .map_err(|e| Error::host_with("cannot compile the component", e))?;
    let written = match &file {
        Some(file) => component
            .serialize()
            .ok()
            .and_then(|code| write_cached(file, &code).ok())
            .map(|()| file.clone()),
        None => None,
    };
    Ok((component, false, written))
}

/// The cached component, or `None` when the file is missing, corrupt or incompatible.
#[expect(
    unsafe_code,
    reason = "wasmtime's Component::deserialize is unsafe: it trusts the bytes to be its own output"
)]
fn read_cached(engine: &Engine, file: &Path) -> Option<Component> {
    let data = std::fs::read(file).ok()?;
    let split = data.len().checked_sub(TRAILER)?;
    let (code, trailer) = data.split_at(split);
    if Sha256::digest(code).as_slice() != trailer {
        return None;
    }
    // SAFETY: `Component::deserialize` requires bytes produced by `Component::serialize` of a
    // compatible engine. The file is named by the SHA-256 of the component, the wasmtime
    // version and this engine's compatibility fingerprint, and its trailer proves that the
    // bytes are exactly what this host wrote; wasmtime also checks the version and config
    // recorded in the header and fails (we then recompile) on a mismatch.
    unsafe { Component::deserialize(engine, code) }.ok()
}

/// Writes `code` plus its SHA-256 trailer to `file` atomically.
fn write_cached(file: &Path, code: &[u8]) -> std::io::Result<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tmp = dir.join(format!(
        ".{}.{}.{nanos}.tmp",
        key_of(file),
        std::process::id()
    ));
    let result = (|| {
        use std::io::Write as _;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(code)?;
        f.write_all(&Sha256::digest(code))?;
        f.sync_all()?;
        std::fs::rename(&tmp, file)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn key_of(file: &Path) -> String {
    file.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Advances the engine's epoch every [`EPOCH_TICK`] so store deadlines can fire. Stops when
/// the runtime is dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    fn start(engine: &Engine) -> EpochTicker {
        let stop = Arc::new(AtomicBool::new(false));
        let weak = engine.weak();
        let flag = Arc::clone(&stop);
        let spawned = std::thread::Builder::new()
            .name("runware-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            });
        // Without the thread, deadlines never fire; the host-side timeout still bounds calls.
        drop(spawned);
        EpochTicker { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_files_round_trip_and_detect_corruption() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("k.cwasm");
        write_cached(&file, b"code bytes").unwrap_or_else(|e| panic!("{e}"));
        let data = std::fs::read(&file).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(data.len(), 10 + TRAILER);
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap_or_else(|e| panic!("{e}"))
            .filter_map(|e| e.ok())
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        // A flipped byte makes the file unusable, not a crash.
        let engine = Engine::default();
        let mut bad = data.clone();
        bad[0] ^= 0xff;
        std::fs::write(&file, &bad).unwrap_or_else(|e| panic!("{e}"));
        assert!(read_cached(&engine, &file).is_none());
        // A file whose trailer matches but whose contents are not a component is refused too.
        assert!(read_cached(&engine, &dir.path().join("missing.cwasm")).is_none());
        std::fs::write(&file, &data).unwrap_or_else(|e| panic!("{e}"));
        assert!(read_cached(&engine, &file).is_none());
    }

    #[test]
    fn key_depends_on_component_and_engine() {
        let plain = Engine::default();
        let mut c = Config::new();
        c.epoch_interruption(true);
        let epoch = Engine::new(&c).unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(cache_key(&plain, "aa"), cache_key(&plain, "ab"));
        assert_ne!(cache_key(&plain, "aa"), cache_key(&epoch, "aa"));
        assert_eq!(cache_key(&epoch, "aa"), cache_key(&epoch, "aa"));
    }
}
