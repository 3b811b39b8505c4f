//! Progress and warnings from long AD reads, without printing.
//!
//! A forest of 500k users takes a while; the CLI renders [`Reporter`] calls as a progress
//! bar and warning lines, tests collect them, and the library stays free of output.

use std::time::Duration;

use hardmatch_core::anchor::ObjectGuid;

/// Something the admin should know about that does not stop the read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdWarning {
    /// The ConsistencyGuid is not the objectGUID: a migrated or re-created object whose
    /// cloud anchor is not what its objectGUID suggests.
    ConsistencyGuidDiffers {
        distinguished_name: String,
        object_guid: ObjectGuid,
        consistency_guid: ObjectGuid,
    },
    /// Certificate verification is off for this URL (`--insecure-skip-tls-verify`).
    TlsVerificationDisabled { url: String },
    /// The connection is not encrypted at all.
    Plaintext { url: String },
    /// An export row or entry that is not a user (a computer, a group) was left out.
    SkippedNonUser { distinguished_name: String },
}

impl std::fmt::Display for AdWarning {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ConsistencyGuidDiffers {
                distinguished_name,
                object_guid,
                consistency_guid,
            } => write!(
                formatter,
                "`{distinguished_name}`: mS-DS-ConsistencyGuid {consistency_guid} differs from \
                 objectGUID {object_guid} (migrated or re-created object); the anchor is the \
                 ConsistencyGuid"
            ),
            Self::TlsVerificationDisabled { url } => write!(
                formatter,
                "TLS certificate verification is OFF for `{url}`: anyone on the network path \
                 can read the bind password and the directory"
            ),
            Self::Plaintext { url } => write!(
                formatter,
                "`{url}` is read without TLS: the bind password and data travel in clear text"
            ),
            Self::SkippedNonUser { distinguished_name } => {
                write!(formatter, "`{distinguished_name}` is not a user; skipped")
            }
        }
    }
}

/// Receives progress and warnings. Methods have empty defaults so a caller implements only
/// what it shows.
pub trait Reporter: Send + Sync {
    /// Starting to read one directory.
    fn directory_started(&self, _url: &str, _base_dn: &str) {}
    /// `users` read so far from all directories, `elapsed` since the read began. Called
    /// after every page.
    fn progress(&self, _users: u64, _elapsed: Duration) {}
    fn warning(&self, _warning: &AdWarning) {}
}

/// A reporter that drops everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoReporter;

impl Reporter for NoReporter {}
