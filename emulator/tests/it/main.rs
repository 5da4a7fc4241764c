//! The emulator's integration tests, in one binary so that the crate links once instead of once
//! per file. Each module is one area; `common` holds the shared client and start-up helpers.

// Tests fail by panicking; the crate's no-panic lints are for production code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

mod common;
mod listener;

mod abandoned;
mod admin;
mod audio;
mod faults;
mod rest;
mod robustness;
mod sdk_conformance;
mod video;
mod ws;
// The platform features: deliveries, storage, the account, text.
mod account;
mod storage;
mod text;
mod webhooks;
// The remaining tools: vectorize, imageMasking, controlNetPreprocess, 3dInference.
mod more_tools;
