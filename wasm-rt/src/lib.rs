//! What std would give a `no_std` `wasm32-wasip2` component of this workspace, written once for
//! the client component (`guest/`) and the tools adapter (`examples/tools/`):
//!
//! - on wasm32, the canonical ABI's `cabi_realloc` export over the global allocator (each
//!   component brings its own allocator and panic handler: they differ);
//! - natively, for the components' build scripts, [`link::cdylib_args`]: the link options
//!   both components are built with.
//!
//! A component links it with `use runware_wasm_rt as _;` (a dependency nothing names is not
//! linked, and its export would be missing) and calls [`link::cdylib_args`] from `build.rs`.

#![no_std]

#[cfg(target_arch = "wasm32")]
extern crate alloc;

/// The canonical ABI's allocation entry point, which the host (or, in a composition, the other
/// component) calls to place arguments and results in this linear memory. std exports it on
/// wasm32-wasip2, and wit-bindgen relies on that; the components are `no_std`, so it is defined
/// here, as std defines it, over the component's global allocator. A layout the allocator
/// cannot serve, or an exhausted heap, traps: the ABI has no way to report either.
///
/// # Safety
/// Called only by the canonical ABI, with a pointer, size and alignment it got from an earlier
/// call (or a null pointer and size 0).
#[cfg(target_arch = "wasm32")]
#[expect(
    unsafe_code,
    reason = "the canonical ABI's exported realloc is an unsafe extern \"C\" function over the \
              global allocator, unsafe by contract"
)]
#[unsafe(export_name = "cabi_realloc")]
unsafe extern "C" fn cabi_realloc(
    old_ptr: *mut u8,
    old_len: usize,
    align: usize,
    new_len: usize,
) -> *mut u8 {
    use alloc::alloc::{Layout, alloc, realloc};
    let Ok(layout) = Layout::from_size_align(if old_len == 0 { new_len } else { old_len }, align)
    else {
        core::arch::wasm32::unreachable()
    };
    let ptr = if old_len == 0 {
        if new_len == 0 {
            // A dangling, aligned pointer for an empty allocation (what std returns).
            return core::ptr::without_provenance_mut(align);
        }
        // SAFETY: the size is not zero and the layout is valid.
        unsafe { alloc(layout) }
    } else {
        // SAFETY: `old_ptr` came from this allocator with this layout (the ABI's contract).
        unsafe { realloc(old_ptr, layout, new_len) }
    };
    if ptr.is_null() {
        core::arch::wasm32::unreachable()
    }
    ptr
}

/// The link options of a component's cdylib, for its build script (native only: on wasm32 the
/// crate must not pull in std).
#[cfg(not(target_arch = "wasm32"))]
pub mod link {
    extern crate std;

    /// Prints the `cargo::rustc-link-arg-cdylib` lines for a component with a stack of
    /// `stack_bytes`, when the build targets wasm32 (native builds get nothing). Call it from
    /// `build.rs`; it reads cargo's `CARGO_CFG_TARGET_ARCH` and `DEBUG`.
    ///
    /// - `-zstack-size`: Rust's default is 1 MiB, which every instance carries as linear
    ///   memory; each component states (and measures) its own need.
    /// - `-lc`: the crates are `no_std` on wasm32, so nothing links wasi-libc, whose `memcpy`,
    ///   `memset`, `memmove` and `memcmp` the target's `core` calls (its compiler-builtins
    ///   leaves them to libc). From the archive only those objects are taken.
    /// - without debug information (`debug = false`, as in the workspace's
    ///   `[profile.component]`): `--strip-debug` for the standard library's own debug sections,
    ///   and `--compress-relocations`. `wasm-ld` leaves every function index in the code section
    ///   as a 5-byte padded LEB128 so it could relocate them; nothing relocates a final
    ///   component, and this writes them at their real width: about 8 % of the component's
    ///   size, with no change to the code (`wasm-opt` would do the same, but is not part of the
    ///   toolchain). `wasm-ld` allows it only without debug information.
    pub fn cdylib_args(stack_bytes: u32) {
        let var = |name: &str| std::env::var(name).unwrap_or_default();
        let wasm = var("CARGO_CFG_TARGET_ARCH") == "wasm32";
        let no_debug = matches!(var("DEBUG").as_str(), "false" | "0");
        let mut args = std::vec::Vec::new();
        if wasm {
            args.push(std::format!("-zstack-size={stack_bytes}"));
            args.push("-lc".into());
        }
        if wasm && no_debug {
            args.push("--strip-debug".into());
            args.push("--compress-relocations".into());
        }
        for arg in args {
            std::println!("cargo::rustc-link-arg-cdylib={arg}");
        }
    }
}
