//! `runware-compose`'s integration tests, in one binary: the tool run as users run it.
//! (`plug` is checked end to end by `examples/edge`'s `npm test`, which needs the JS app.)

// Tests may panic, unwrap and index: a failed assertion is their way of reporting.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod wit_package;
