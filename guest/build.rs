//! Link options for the component (wasm32 only; native builds get nothing).
//!
//! `wasm-ld` leaves every function index in the code section as a 5-byte padded LEB128 so it
//! could relocate them; nothing relocates a final component, and `--compress-relocations`
//! writes them at their real width: about 8 % of the component's size, with no change to the
//! code (`wasm-opt` would do the same, but is not part of the toolchain). `wasm-ld` only allows it
//! without debug information, so it is used when the profile has none (`debug = false`, as in
//! the workspace's `[profile.component]`), together with `--strip-debug` for the standard
//! library's own debug sections.
//!
//! The stack is 64 KiB instead of Rust's default 1 MiB, which every instance otherwise carries as
//! linear memory. Measured (the stack sits below the data, so the lowest byte a call touched
//! shows its depth): a model search, an image and a video each use about 3.4 KiB; a request
//! nested 120 arrays deep (serde_json stops at 128) about 24.3 KiB. 64 KiB leaves 2.6 times
//! that. An overflow runs below address 0 and traps: it cannot corrupt memory.

/// The component's stack (see the module docs for the measurement behind it).
const STACK_BYTES: u32 = 64 << 10;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let wasm = std::env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|a| a == "wasm32");
    let no_debug = std::env::var("DEBUG").is_ok_and(|d| d == "false" || d == "0");
    if wasm {
        println!("cargo::rustc-link-arg-cdylib=-zstack-size={STACK_BYTES}");
        // The crate is `no_std` on wasm32, so nothing links wasi-libc, whose `memcpy`,
        // `memset`, `memmove` and `memcmp` the target's `core` calls (its compiler-builtins
        // leaves them to libc). From the archive only those objects are taken.
        println!("cargo::rustc-link-arg-cdylib=-lc");
    }
    if wasm && no_debug {
        println!("cargo::rustc-link-arg-cdylib=--strip-debug");
        println!("cargo::rustc-link-arg-cdylib=--compress-relocations");
    }
}
