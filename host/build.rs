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
//! Outputs: `$OUT_DIR/runware_client.wasm` (embedded with `include_bytes!`) and the
//! `RUNWARE_COMPONENT_SHA256` compile-time variable (hex SHA-256 of those bytes).

use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use sha2::{Digest, Sha256};

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
    let digest = Sha256::digest(&wasm);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        let _ = write!(hex, "{byte:02x}");
    }
    println!("cargo::rustc-env=RUNWARE_COMPONENT_SHA256={hex}");
    Ok(())
}

/// Names the component and gives it the package's version and description (the custom sections
/// `wasm-tools metadata add` writes), so a registry or runtime can tell what it is.
fn add_metadata(wasm: &[u8]) -> Result<Vec<u8>, String> {
    use wasm_metadata::{AddMetadata, AddMetadataField, Description, Version};
    let mut metadata = AddMetadata::default();
    metadata.name = AddMetadataField::Set("runware-client".to_owned());
    metadata.version = AddMetadataField::Set(Version::new(env_var("CARGO_PKG_VERSION")?));
    metadata.description = AddMetadataField::Set(Description::new(
        "Runware API client as a WebAssembly component (wasi:http)",
    ));
    metadata
        .to_wasm(wasm)
        .map_err(|e| format!("cannot add metadata to the component: {e}"))
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
