//! `wit-package` writes a binary WIT package that wit-parser (what wit-bindgen, componentize-py
//! and wasm-tools read WIT with) decodes back into the same contract.

use std::path::Path;
use std::process::Command;

use wit_parser::decoding::{DecodedWasm, decode};

#[test]
fn the_wit_package_decodes_to_the_contract() {
    let wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runware-client.wasm");
    let status = Command::new(env!("CARGO_BIN_EXE_runware-compose"))
        .arg("wit-package")
        .arg(&wit)
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success(), "runware-compose wit-package failed");

    let DecodedWasm::WitPackage(resolve, package) = decode(&std::fs::read(&out).unwrap()).unwrap()
    else {
        panic!("not a WIT package");
    };
    let package = &resolve.packages[package];
    assert_eq!(package.name.to_string(), "runware:client@0.1.0");
    let mut interfaces: Vec<_> = package.interfaces.keys().cloned().collect();
    interfaces.sort();
    assert_eq!(interfaces, ["api", "types"]);
    assert!(package.worlds.contains_key("runware-client"));
    // The resource and its calls made it through.
    let api = &resolve.interfaces[package.interfaces["api"]];
    for call in [
        "[static]client.open",
        "[method]client.text-to-image",
        "[method]client.model-search",
    ] {
        assert!(api.functions.contains_key(call), "api lacks {call}");
    }
}
