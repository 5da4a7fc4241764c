//! A test seam: linear memories the host allocates itself and scans for secrets when the
//! instance is dropped. Hidden from the docs; used by the sandbox tests to show that after a
//! run the component's memory never held the API key.
//!
//! With a probe in [`RuntimeConfig`](crate::RuntimeConfig), the engine uses no virtual
//! reservation and no guard pages (explicit bounds checks instead), so this is slower than
//! the normal set-up and only meant for tests.

use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::sync::{Arc, Mutex};

use wasmtime::{LinearMemory, MemoryCreator, MemoryType};

/// Alignment of the probe's allocations: one wasm page.
const ALIGN: usize = 65536;

/// Scans every linear memory when it is freed for any of the given byte strings.
pub struct MemoryProbe {
    needles: Vec<Vec<u8>>,
    state: Mutex<ProbeState>,
}

/// What a [`MemoryProbe`] saw so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProbeReport {
    /// Linear memories scanned (one per core memory of each dropped instance).
    pub memories_scanned: usize,
    /// Bytes scanned in all.
    pub bytes_scanned: usize,
    /// Occurrences of any needle found.
    pub hits: usize,
}

#[derive(Debug, Default)]
struct ProbeState {
    report: ProbeReport,
}

impl std::fmt::Debug for MemoryProbe {
    // The needles are secrets: never print them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryProbe")
            .field("needles", &self.needles.len())
            .field("report", &self.report())
            .finish()
    }
}

impl MemoryProbe {
    /// A probe looking for these byte strings (empty needles are ignored).
    pub fn new(needles: impl IntoIterator<Item = Vec<u8>>) -> Arc<MemoryProbe> {
        Arc::new(MemoryProbe {
            needles: needles.into_iter().filter(|n| !n.is_empty()).collect(),
            state: Mutex::new(ProbeState::default()),
        })
    }

    /// What was seen so far.
    pub fn report(&self) -> ProbeReport {
        self.state.lock().map(|s| s.report).unwrap_or_default()
    }

    fn scan(&self, bytes: &[u8]) {
        let hits = self
            .needles
            .iter()
            .map(|n| bytes.windows(n.len()).filter(|w| w == n).count())
            .sum::<usize>();
        if let Ok(mut s) = self.state.lock() {
            s.report.memories_scanned += 1;
            s.report.bytes_scanned += bytes.len();
            s.report.hits += hits;
        }
    }
}

/// The [`MemoryCreator`] that hands out [`ProbedMemory`]s.
pub(crate) struct ProbeCreator(pub Arc<MemoryProbe>);

// SAFETY: the memories are zero-filled, page-aligned heap allocations that stay valid until
// dropped; the engine using this creator has no reservation and no guard pages (see
// `Runtime::new`), so bounds are checked explicitly and moving on growth is allowed.
unsafe impl MemoryCreator for ProbeCreator {
    fn new_memory(
        &self,
        _ty: MemoryType,
        minimum: usize,
        maximum: Option<usize>,
        reserved_size_in_bytes: Option<usize>,
        guard_size_in_bytes: usize,
    ) -> Result<Box<dyn LinearMemory>, String> {
        if reserved_size_in_bytes.is_some_and(|r| r > 0) || guard_size_in_bytes > 0 {
            return Err("the memory probe needs an engine without reservation or guard".into());
        }
        let mut memory = ProbedMemory {
            ptr: std::ptr::null_mut(),
            size: 0,
            capacity: 0,
            maximum,
            probe: Arc::clone(&self.0),
        };
        memory.reallocate(minimum.max(ALIGN))?;
        memory.size = minimum;
        Ok(Box::new(memory))
    }
}

/// A linear memory on the host heap, scanned by its probe when dropped.
struct ProbedMemory {
    ptr: *mut u8,
    size: usize,
    capacity: usize,
    maximum: Option<usize>,
    probe: Arc<MemoryProbe>,
}

// SAFETY: the allocation is owned by this value and only accessed through wasmtime, which
// synchronises access to a store's memories.
unsafe impl Send for ProbedMemory {}
// SAFETY: as above; `&self` methods only read the pointer and sizes.
unsafe impl Sync for ProbedMemory {}

impl ProbedMemory {
    /// Moves the memory to a zeroed allocation of `capacity` bytes, keeping its contents.
    fn reallocate(&mut self, capacity: usize) -> Result<(), String> {
        let layout = Layout::from_size_align(capacity, ALIGN).map_err(|e| e.to_string())?;
        // SAFETY: `capacity` is at least ALIGN, so the layout is not zero-sized.
        let new = unsafe { alloc_zeroed(layout) };
        if new.is_null() {
            return Err(format!("cannot allocate {capacity} bytes of linear memory"));
        }
        if !self.ptr.is_null() {
            // SAFETY: both regions are live allocations of at least `self.size` bytes and
            // distinct; the old layout is the one it was allocated with.
            unsafe {
                std::ptr::copy_nonoverlapping(self.ptr, new, self.size);
                dealloc(
                    self.ptr,
                    Layout::from_size_align_unchecked(self.capacity, ALIGN),
                );
            }
        }
        self.ptr = new;
        self.capacity = capacity;
        Ok(())
    }
}

// SAFETY: see `ProbeCreator`.
unsafe impl LinearMemory for ProbedMemory {
    fn byte_size(&self) -> usize {
        self.size
    }

    fn byte_capacity(&self) -> usize {
        self.capacity
    }

    fn grow_to(&mut self, new_size: usize) -> wasmtime::Result<()> {
        if self.maximum.is_some_and(|m| new_size > m) {
            wasmtime::bail!("memory maximum exceeded");
        }
        if new_size > self.capacity {
            let capacity = new_size.max(self.capacity.saturating_mul(2));
            let capacity = capacity.div_ceil(ALIGN) * ALIGN;
            self.reallocate(capacity).map_err(wasmtime::Error::msg)?;
        }
        self.size = new_size;
        Ok(())
    }

    fn as_ptr(&self) -> *mut u8 {
        self.ptr
    }
}

impl Drop for ProbedMemory {
    fn drop(&mut self) {
        if self.ptr.is_null() {
            return;
        }
        // SAFETY: `ptr` is a live allocation of `capacity >= size` bytes; the instance that
        // used it is gone.
        let bytes = unsafe { std::slice::from_raw_parts(self.ptr, self.size) };
        self.probe.scan(bytes);
        // SAFETY: allocated in `reallocate` with this layout.
        unsafe {
            dealloc(
                self.ptr,
                Layout::from_size_align_unchecked(self.capacity, ALIGN),
            )
        };
    }
}
