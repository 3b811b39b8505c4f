//! Executes reviewed hardmatch plans against a tenant and an AD forest.
//!
//! The executor is where accounts get deleted, so everything it does is recorded first:
//! [`journal`] is the write-ahead record of every action, [`workspace`] makes sure only one
//! run uses a journal at a time, [`engine`] runs, resumes, undoes and verifies plans
//! through the [`ports`], whose real implementations are in [`adapters`].

pub mod adapters;
pub mod engine;
pub mod journal;
pub mod ports;
pub mod workspace;

pub use engine::{
    ExecutorError, Observer, Ports, RunOptions, RunSummary, Silent, Verdict, apply, resume, undo,
    verify, wait_for_sync,
};
