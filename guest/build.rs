//! Link options for the component (wasm32 only; native builds get nothing).
//!
//! `wasm-ld` leaves every function index in the code section as a 5-byte padded LEB128 so it
//! could relocate them; nothing relocates a final component, and `--compress-relocations`
//! writes them at their real width: about 8 % of the component's size, with no change to the
//! code (`wasm-opt` would do the same, but is not part of the toolchain). `wasm-ld` only allows it
//! without debug information, so it is used when the profile has none (`debug = false`, as in
//! the workspace's `[profile.component]`), together with `--strip-debug` for the standard
//! library's own debug sections.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let wasm = std::env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|a| a == "wasm32");
    let no_debug = std::env::var("DEBUG").is_ok_and(|d| d == "false" || d == "0");
    if wasm && no_debug {
        println!("cargo::rustc-link-arg-cdylib=--strip-debug");
        println!("cargo::rustc-link-arg-cdylib=--compress-relocations");
    }
}
