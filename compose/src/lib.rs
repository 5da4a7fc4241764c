//! Plugs a component's exports into the matching imports of another, the way `wac plug` does
//! (the same `wac-graph` code, without building wac-cli).
//!
//! Written once for its three users: the `runware-compose plug` tool (the edge example's build),
//! `runware serve` (which plugs the embedded client component into the app it serves), and the
//! host's tools test (`examples/tools` plugged with the client).

use anyhow::Result;
use wac_graph::{CompositionGraph, EncodeOptions, types::Package};

/// The composition of `socket` with `plug` instantiated for every import of `socket` that
/// `plug` exports (for the client component: `runware:client/api`), validated by wasmparser.
/// The composition's imports are the two components' remaining imports, merged: one
/// `wasi:http/outgoing-handler` import serves both.
pub fn plug_into(plug: &[u8], socket: &[u8]) -> Result<Vec<u8>> {
    let mut graph = CompositionGraph::new();
    let socket = Package::from_bytes("socket", None, socket, graph.types_mut())?;
    let socket = graph.register_package(socket)?;
    let plug = Package::from_bytes("plug", None, plug, graph.types_mut())?;
    let plug = graph.register_package(plug)?;
    wac_graph::plug(&mut graph, vec![plug], socket)?;
    Ok(graph.encode(EncodeOptions {
        validate: true,
        ..EncodeOptions::default()
    })?)
}
