//! Integration tests of the Graph client against the in-process emulator
//! (`hardmatch-emulator`): real HTTP on loopback, real tokens, real throttling.

mod authentication;
mod operations;
mod resilience;
mod snapshot;
mod support;
