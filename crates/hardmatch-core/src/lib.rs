//! The pure core of hardmatch.
//!
//! Everything here is a function of its arguments: no network, no files, no clock, no
//! randomness. Adapters (LDAP, Graph, the emulator) turn the world into these values, and
//! the executor turns plans back into calls. Keeping the rules here means the planner's
//! "what will the next sync do" and the emulator's sync cycle are one implementation.

pub mod ad;
pub mod anchor;
pub mod diagnose;
mod index;
mod parallel;
pub mod plan;
pub mod snapshot_text;
pub mod sync;
pub mod tenant;
#[cfg(test)]
mod testing;
