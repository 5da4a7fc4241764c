//! The emulator's integration tests, in one binary so that the crate links once instead of once
//! per file. Each module is one area; `common` holds the shared client and start-up helpers.

mod common;

mod abandoned;
mod admin;
mod faults;
mod rest;
mod robustness;
mod sdk_conformance;
mod ws;
