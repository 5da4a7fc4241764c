//! `runware-emulator`: runs the local Runware API emulator until Ctrl-C.

use clap::Parser;

/// A faithful local Runware API server (REST and WebSocket) with fault injection.
#[derive(Debug, Parser)]
#[command(name = "runware-emulator", version)]
struct Cli {
    #[command(flatten)]
    serve: runware_emulator::ServeArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    runware_emulator::serve(Cli::parse().serve).await
}
