//! Link options for the component (wasm32 only; native builds get nothing).
//!
//! The options themselves, and why, are `runware_wasm_rt::link::cdylib_args`'s (shared with the
//! tools adapter).
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
    runware_wasm_rt::link::cdylib_args(STACK_BYTES);
}
