//! `--emulator`: the Runware emulator started in-process on loopback, with a key only this
//! process knows, so that no real key is needed and no other local process can use it.

use runware_emulator::{Emulator, EmulatorHandle};
use runware_host::ApiKey;

use crate::exit::{self, Fail};

/// Starts the in-process emulator and returns it with the key it accepts; with `verbose`, says
/// where it listens (never the key).
pub async fn start(verbose: bool) -> Result<(EmulatorHandle, ApiKey), Fail> {
    let key = ApiKey::new(random_key());
    let handle = Emulator::builder()
        .api_key(key.expose())
        .start()
        .await
        .map_err(|e| {
            Fail::with_code(exit::TRANSPORT, format!("cannot start the emulator: {e:#}"))
        })?;
    if verbose {
        eprintln!("runware: emulator listening on {}", handle.base_url());
    }
    Ok((handle, key))
}

/// A key for the in-process emulator, known only to this process.
fn random_key() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::from("emu-");
    for i in 0..4u64 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        h.write_u32(std::process::id());
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}
