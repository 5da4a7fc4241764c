//! `runware-compose`: the build tools of the edge example, in Rust so that a fresh machine with
//! rustup needs nothing installed by hand.
//!
//! - `plug`: composes an app component that imports `runware:client/api` with the Runware
//!   client component that exports it, the way `wac plug` does (the library's [`plug_into`], the
//!   same `wac-graph` code, without building wac-cli: see the README's "Plugins and edge functions").
//! - `wit-package`: encodes a WIT directory (`wit/` and its `deps/`) as a binary WIT package, the
//!   one file componentize-js, componentize-py and wit-bindgen users bind against.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use runware_compose::plug_into;

/// The edge example's build tools.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Subcommand)]
enum Command {
    /// Plugs `--plug`'s exports into the matching imports of `socket` and writes the composition.
    Plug {
        /// The component whose exports satisfy the socket's imports (runware_guest.wasm).
        #[arg(long)]
        plug: PathBuf,
        /// The component to compose into (the app).
        socket: PathBuf,
        /// Where to write the composed component.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Encodes the WIT package in `dir` (with its `deps/`) as a binary WIT package.
    WitPackage {
        /// The WIT directory (the repository's `wit/`).
        dir: PathBuf,
        /// Where to write the package (`.wasm`).
        #[arg(short, long)]
        output: PathBuf,
    },
}

fn main() -> Result<()> {
    match Args::parse().command {
        Command::Plug {
            plug,
            socket,
            output,
        } => {
            let bytes = plug_into(&read(&plug)?, &read(&socket)?)?;
            write(&output, &bytes)
        }
        Command::WitPackage { dir, output } => {
            let mut resolve = wit_parser::Resolve::default();
            let (package, _) = resolve
                .push_dir(&dir)
                .with_context(|| format!("cannot parse the WIT in {}", dir.display()))?;
            // Canonical names (`runware:client/api@0.1.0`), as `wasm-tools component wit --wasm`.
            let bytes = wit_component::encode(&resolve, package, true)?;
            write(&output, &bytes)
        }
    }
}

/// The bytes of `path`, with the path in the error.
fn read(path: &PathBuf) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Writes `bytes` to `path`, with the path in the error.
fn write(path: &PathBuf, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}
