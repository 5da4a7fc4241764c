//! Builds the Runware client component (`guest/`) for `wasm32-wasip2` and embeds it.
//!
//! The component is built by a nested `cargo build -p runware-guest --target wasm32-wasip2
//! --profile component` into its own target directory (`<target>/component`): the outer cargo
//! holds the lock on the outer target directory, so sharing it would deadlock. The environment
//! that would leak the outer build's settings (rustflags, target, profile overrides, clippy's
//! wrapper) is scrubbed; the jobserver variables are kept, so the nested build shares the outer
//! build's job slots.
//!
//! `RUNWARE_COMPONENT=/path/to/x.wasm` at build time embeds that file instead and builds nothing.
//!
//! Output: `$OUT_DIR/runware_client.wasm`, embedded with `include_bytes!`.
//!
//! The script has no build-dependencies on purpose: cargo compiles and runs it in the first
//! seconds of a build, so a missing `wasm32-wasip2` target is added (or reported) before minutes
//! go into compiling wasmtime. That is also why the component's name, version and description are
//! written here by hand (a few custom sections) rather than with `wasm-metadata`, whose parser
//! would otherwise have to compile first.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const TARGET: &str = "wasm32-wasip2";
const PROFILE: &str = "component";
const MISSING_TARGET: &str =
    "the wasm32-wasip2 target is missing: run `rustup target add wasm32-wasip2`";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            println!(
                "cargo::warning=runware-host build script: {}",
                first_line(&message)
            );
            ExitCode::FAILURE
        }
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}

fn run() -> Result<(), String> {
    let manifest_dir = PathBuf::from(env_var("CARGO_MANIFEST_DIR")?);
    let workspace = manifest_dir
        .parent()
        .ok_or("host/ has no parent directory")?
        .to_path_buf();
    let out_dir = PathBuf::from(env_var("OUT_DIR")?);

    println!("cargo::rerun-if-env-changed=RUNWARE_COMPONENT");
    println!("cargo::rerun-if-changed=build.rs");

    let wasm = match env::var_os("RUNWARE_COMPONENT").filter(|v| !v.is_empty()) {
        Some(path) => {
            let path = PathBuf::from(path);
            println!("cargo::rerun-if-changed={}", path.display());
            std::fs::read(&path).map_err(|e| {
                format!(
                    "RUNWARE_COMPONENT={}: cannot read the component: {e}",
                    path.display()
                )
            })?
        }
        None => {
            ensure_target_installed()?;
            for rel in [
                "guest/src",
                "guest/build.rs",
                "guest/Cargo.toml",
                // The guest's path dependencies: a change to a default in spec/ must rebuild
                // the component too.
                "spec",
                "macros",
                "wasm-rt",
                "wit",
                "Cargo.lock",
                "Cargo.toml",
            ] {
                println!("cargo::rerun-if-changed={}", workspace.join(rel).display());
            }
            build_guest(&workspace)?
        }
    };

    let wasm = add_metadata(&wasm)?;
    let dest = out_dir.join("runware_client.wasm");
    // Rewrite only on change, so an unchanged component does not recompile the host.
    if std::fs::read(&dest).ok().as_deref() != Some(wasm.as_slice()) {
        std::fs::write(&dest, &wasm)
            .map_err(|e| format!("cannot write {}: {e}", dest.display()))?;
    }
    Ok(())
}

/// Names the component and gives it the package's version and description: the custom sections
/// `wasm-tools metadata add` writes (a `component-name` subsection 0 with the name, and
/// `version` and `description` sections with UTF-8 text), so a registry or runtime can tell what
/// it is. Sections of those names the component already has are replaced; the other subsections
/// of `component-name` (the names of its inner items) are kept.
fn add_metadata(wasm: &[u8]) -> Result<Vec<u8>, String> {
    const HEADER: usize = 8;
    const CUSTOM: u8 = 0;
    let header = wasm
        .get(..HEADER)
        .ok_or("the component is shorter than a wasm header")?;
    let mut out = header.to_vec();
    let mut rest = wasm.get(HEADER..).unwrap_or_default();
    let mut named = false;
    while let Some((&id, after_id)) = rest.split_first() {
        let (size, after_size) = read_leb(after_id)?;
        let payload = after_size
            .get(..size)
            .ok_or("a section of the component runs past its end")?;
        rest = after_size.get(size..).unwrap_or_default();
        if id != CUSTOM {
            push_section(&mut out, id, payload);
            continue;
        }
        let (name_len, after_len) = read_leb(payload)?;
        let name = after_len
            .get(..name_len)
            .ok_or("a custom section name runs past its section")?;
        let body = after_len.get(name_len..).unwrap_or_default();
        match name {
            b"component-name" => {
                let mut names = subsection(0, &name_entry("runware-client"));
                names.extend(without_subsection(body, 0)?);
                push_custom(&mut out, "component-name", &names);
                named = true;
            }
            b"version" | b"description" => {}
            _ => push_section(&mut out, id, payload),
        }
    }
    if !named {
        push_custom(
            &mut out,
            "component-name",
            &subsection(0, &name_entry("runware-client")),
        );
    }
    push_custom(
        &mut out,
        "description",
        b"Runware API client as a WebAssembly component (wasi:http)",
    );
    push_custom(
        &mut out,
        "version",
        env_var("CARGO_PKG_VERSION")?.as_bytes(),
    );
    Ok(out)
}

/// An unsigned LEB128 number and the bytes after it.
fn read_leb(bytes: &[u8]) -> Result<(usize, &[u8]), String> {
    let mut value: u64 = 0;
    for (i, &byte) in bytes.iter().enumerate().take(5) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            let value = usize::try_from(value).map_err(|_| "a section size overflows")?;
            return Ok((value, bytes.get(i + 1..).unwrap_or_default()));
        }
    }
    Err("a malformed LEB128 number in the component".to_string())
}

fn write_leb(out: &mut Vec<u8>, mut value: usize) {
    loop {
        let byte = u8::try_from(value & 0x7f).unwrap_or_default();
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn push_section(out: &mut Vec<u8>, id: u8, payload: &[u8]) {
    out.push(id);
    write_leb(out, payload.len());
    out.extend_from_slice(payload);
}

fn push_custom(out: &mut Vec<u8>, name: &str, body: &[u8]) {
    let mut payload = Vec::new();
    write_leb(&mut payload, name.len());
    payload.extend_from_slice(name.as_bytes());
    payload.extend_from_slice(body);
    push_section(out, 0, &payload);
}

/// A name as the name section encodes it: its length, then its bytes.
fn name_entry(name: &str) -> Vec<u8> {
    let mut entry = Vec::new();
    write_leb(&mut entry, name.len());
    entry.extend_from_slice(name.as_bytes());
    entry
}

fn subsection(id: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![id];
    write_leb(&mut out, body.len());
    out.extend_from_slice(body);
    out
}

/// The subsections of a name section except those with `id`.
fn without_subsection(mut body: &[u8], id: u8) -> Result<Vec<u8>, String> {
    let mut kept = Vec::new();
    while let Some((&sub, after_id)) = body.split_first() {
        let (size, after_size) = read_leb(after_id)?;
        let content = after_size
            .get(..size)
            .ok_or("a component-name subsection runs past its section")?;
        if sub != id {
            kept.extend(subsection(sub, content));
        }
        body = after_size.get(size..).unwrap_or_default();
    }
    Ok(kept)
}

fn env_var(name: &str) -> Result<String, String> {
    env::var(name).map_err(|_| format!("cargo did not set {name}"))
}

/// The directory the nested build uses: `<outer target dir>/component`.
fn component_target_dir(workspace: &Path) -> PathBuf {
    match env::var_os("CARGO_TARGET_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir.join("component")
            } else {
                workspace.join(dir).join("component")
            }
        }
        None => workspace.join("target").join("component"),
    }
}

/// Whether an environment variable would leak the outer build's settings into the nested one.
fn leaks_outer_settings(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "RUSTFLAGS",
        "RUSTDOCFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_ENCODED_RUSTDOCFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_TARGET_DIR",
        "CARGO_BUILD_BUILD_DIR",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_BUILD_RUSTDOCFLAGS",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_INCREMENTAL",
        "CARGO_LLVM_COV",
        "RUSTC_WORKSPACE_WRAPPER",
        "CLIPPY_ARGS",
        "CLIPPY_CONF_DIR",
        "RUSTDOC",
        "RUSTC_LINKER",
        "TARGET",
        "HOST",
        "PROFILE",
        "OPT_LEVEL",
        "DEBUG",
        "OUT_DIR",
    ];
    const PREFIXES: &[&str] = &[
        "CARGO_PROFILE_",
        "CARGO_TARGET_",
        "CARGO_CFG_",
        "CARGO_FEATURE_",
        "CARGO_PKG_",
        "CARGO_MANIFEST_",
        "DEP_",
        "__CARGO_",
    ];
    EXACT.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The `cargo` to run: the one running this build (`CARGO`), else from `PATH`.
fn cargo() -> PathBuf {
    env::var_os("CARGO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("cargo"))
}

/// The `rustc` the outer build uses, for the target check.
fn rustc() -> PathBuf {
    env::var_os("RUSTC")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("rustc"))
}

/// Whether the standard library for the target is installed for the `rustc` of this build.
fn target_installed() -> Result<bool, String> {
    let out = Command::new(rustc())
        .args(["--print", "target-libdir", "--target", TARGET])
        .output()
        .map_err(|e| format!("cannot run rustc to check for the {TARGET} target: {e}"))?;
    if !out.status.success() {
        return Ok(false);
    }
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Ok(!dir.is_empty() && Path::new(&dir).is_dir())
}

/// Makes sure the component target is installed, adding it with rustup when rustup manages
/// this toolchain.
///
/// `rust-toolchain.toml` lists the target, but rustup only honours that list when it installs
/// a toolchain, not for one already installed, so a fresh clone on a machine with Rust would
/// otherwise build wasmtime for minutes and then stop here. Adding a target is what the user
/// would be told to do anyway; it downloads only the target's standard library.
fn ensure_target_installed() -> Result<(), String> {
    if target_installed()? {
        return Ok(());
    }
    // Set by rustup's proxies (cargo, rustc) for the toolchain this build runs on.
    let toolchain = env::var("RUSTUP_TOOLCHAIN").ok().filter(|t| !t.is_empty());
    let Some(toolchain) = toolchain else {
        return Err(format!(
            "{MISSING_TARGET}\n(this toolchain is not managed by rustup: install the \
             {TARGET} standard library for it, or set RUNWARE_COMPONENT=/path/to/component.wasm)"
        ));
    };
    let note = format!(
        "the {TARGET} target is missing: running `rustup target add {TARGET} --toolchain {toolchain}`"
    );
    eprintln!("runware-host: {note}");
    println!("cargo::warning={note}");
    let status = Command::new(rustup())
        .args(["target", "add", TARGET, "--toolchain", &toolchain])
        .status()
        .map_err(|e| format!("{MISSING_TARGET}\n(cannot run rustup: {e})"))?;
    if !status.success() || !target_installed()? {
        return Err(format!(
            "{MISSING_TARGET}\n(`rustup target add` failed: {status})"
        ));
    }
    Ok(())
}

/// The `rustup` to run: the one in `$CARGO_HOME/bin` (where rustup installs itself), else from
/// `PATH`.
fn rustup() -> PathBuf {
    env::var_os("CARGO_HOME")
        .map(|home| PathBuf::from(home).join("bin").join("rustup"))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("rustup"))
}

fn build_guest(workspace: &Path) -> Result<Vec<u8>, String> {
    let target_dir = component_target_dir(workspace);
    let mut cmd = Command::new(cargo());
    cmd.current_dir(workspace)
        .args(["build", "-p", "runware-guest", "--target", TARGET])
        .args(["--profile", PROFILE])
        .arg("--target-dir")
        .arg(&target_dir)
        // The outer cargo resolved the whole workspace before running this script, so the
        // lock file is complete: `--locked` makes CI's `--locked` runs hold here too.
        .arg("--locked");
    for (name, _) in env::vars_os() {
        if let Some(name) = name.to_str()
            && leaks_outer_settings(name)
        {
            cmd.env_remove(name);
        }
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run cargo to build the component: {e}"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("can't find crate for `core`")
            || stderr.contains("can't find crate for `std`")
            || stderr.contains("target may not be installed")
        {
            return Err(format!("{MISSING_TARGET}\n\n{stderr}"));
        }
        return Err(format!(
            "building the component (cargo build -p runware-guest --target {TARGET} --profile \
             {PROFILE}) failed:\n{stderr}"
        ));
    }
    let wasm = target_dir
        .join(TARGET)
        .join(PROFILE)
        .join("runware_guest.wasm");
    std::fs::read(&wasm).map_err(|e| {
        format!(
            "the component build succeeded but {} is unreadable: {e}",
            wasm.display()
        )
    })
}
