//! `runware serve APP.wasm`: the app composed with the client component, served by the host
//! library's [`Server`] (the serving logic and the policy live there; this is the shell).

use std::path::Path;

use runware_host::{ClientConfig, EMBEDDED_COMPONENT, Runtime, ServeConfig, Server};

use crate::args::ServeArgs;
use crate::exit::{self, Fail};

/// The app at `app` with the client component (`component`, else the embedded one) plugged
/// into its `runware:client/api` import: checked before anything starts.
pub fn compose(app: &Path, component: Option<&Path>) -> Result<Vec<u8>, Fail> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|e| Fail::usage(format!("cannot read {}: {e}", path.display())))
    };
    let app_bytes = read(app)?;
    let client = match component {
        Some(path) => std::borrow::Cow::Owned(read(path)?),
        None => std::borrow::Cow::Borrowed(EMBEDDED_COMPONENT),
    };
    runware_compose::plug_into(&client, &app_bytes).map_err(|e| {
        Fail::usage(format!(
            "cannot plug the Runware client component into {} (an app component that imports \
             runware:client/api@0.1.0): {e:#}",
            app.display()
        ))
    })
}

/// Serves `composed` on `args.listen` under `config`'s policy until Ctrl-C.
pub async fn run(
    runtime: &Runtime,
    config: ClientConfig,
    composed: Vec<u8>,
    args: &ServeArgs,
) -> Result<u8, Fail> {
    let runtime = runtime.clone();
    let server = tokio::task::spawn_blocking(move || {
        Server::new(&runtime, &composed, ServeConfig::new(config))
    })
    .await
    .map_err(|e| Fail::with_code(exit::TRANSPORT, format!("loading the app: {e}")))?
    .map_err(|e| Fail::usage(e.report()))?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| {
            Fail::with_code(
                exit::TRANSPORT,
                format!("cannot listen on {}: {e}", args.listen),
            )
        })?;
    let addr = listener.local_addr().unwrap_or(args.listen);
    eprintln!(
        "runware serve: {} on http://{addr}/ ({}); the API key stays in this process",
        args.app.display(),
        if server.loaded_from_cache() {
            "compiled code from the cache"
        } else {
            "compiled now"
        },
    );
    tokio::select! {
        result = server.serve(listener) => result
            .map(|()| exit::OK)
            .map_err(|e| Fail::with_code(exit::TRANSPORT, e.report())),
        _ = tokio::signal::ctrl_c() => Ok(exit::OK),
    }
}
