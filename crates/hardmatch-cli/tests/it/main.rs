//! hardmatch's one integration-test binary: every test that runs the real `hardmatch`
//! executable lives in a module here, so the suite links once.

// A failed unwrap in a test is a failed test, with the value in the message.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

mod ad_lab;
mod apply;
mod bad_inputs;
mod convert;
mod demo;
mod field_story_lab;
mod graph_sdk;
mod plan;
mod reference;
mod rehearse;
mod report;
mod safe_defaults;
mod secrets;
mod snapshot_ad_lab;
mod status;
mod support;
