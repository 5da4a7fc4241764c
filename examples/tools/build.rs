//! Link options for the adapter component (wasm32 only; native builds get nothing), as for the
//! client component (`guest/build.rs` explains each):
//! - `-lc`: the crate is `no_std` on wasm32, so nothing links wasi-libc, whose `memcpy`,
//!   `memset`, `memmove` and `memcmp` the target's `core` calls; only those objects are taken.
//! - a 64 KiB stack instead of 1 MiB: the adapter only copies records between its two sides,
//!   and every instance carries its stack as linear memory.
//! - without debug information, `--strip-debug` and `--compress-relocations` (smaller code
//!   section, same code).

/// The adapter's stack.
const STACK_BYTES: u32 = 64 << 10;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let wasm = std::env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|a| a == "wasm32");
    let no_debug = std::env::var("DEBUG").is_ok_and(|d| d == "false" || d == "0");
    if wasm {
        println!("cargo::rustc-link-arg-cdylib=-zstack-size={STACK_BYTES}");
        println!("cargo::rustc-link-arg-cdylib=-lc");
    }
    if wasm && no_debug {
        println!("cargo::rustc-link-arg-cdylib=--strip-debug");
        println!("cargo::rustc-link-arg-cdylib=--compress-relocations");
    }
}
