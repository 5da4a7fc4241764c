//! Helpers more than one test module needs, so each is written once.
#![expect(clippy::unwrap_used, reason = "tests")]

use runware_guest::machine::Event;
use serde_json::{Map, Value};

/// `v` as a JSON object; the tests only pass object literals.
pub fn object(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

/// A response with `status`, no headers and `body` as its JSON text.
pub fn response(status: u16, body: Value) -> Event {
    Event::Response {
        status,
        headers: vec![],
        body: body.to_string().into_bytes(),
    }
}
