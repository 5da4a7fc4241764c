//! Link options for the adapter component: `runware_wasm_rt::link::cdylib_args`, as for the
//! client component, with a 64 KiB stack (the adapter only copies records between its two
//! sides, and every instance carries its stack as linear memory).

/// The adapter's stack.
const STACK_BYTES: u32 = 64 << 10;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    runware_wasm_rt::link::cdylib_args(STACK_BYTES);
}
