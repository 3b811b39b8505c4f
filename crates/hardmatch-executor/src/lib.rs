//! Executes reviewed hardmatch plans against a tenant and an AD forest.
//!
//! The executor is where accounts get deleted, so everything it does is recorded first:
//! [`journal`] is the write-ahead record of every action, [`workspace`] makes sure only one
//! run uses a journal at a time.

pub mod journal;
pub mod workspace;
