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
pub mod interned;
pub mod parallel;
pub mod plan;
pub mod snapshot_text;
pub mod sync;
pub mod tenant;

/// The directory models' text: a string of up to 24 bytes is held inline, without an
/// allocation of its own. Most of a user's values are that short (dates, ImmutableIDs,
/// account and display names), and a million-user directory holds about nine of them per
/// user. Re-exported so that adapters name the same type.
pub use compact_str::{CompactString, format_compact};
#[cfg(test)]
mod testing;
