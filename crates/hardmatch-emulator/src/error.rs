//! Errors the emulator's public API returns. Errors of emulated calls are HTTP responses,
//! not these: they are what the client under test is meant to see.

use std::path::PathBuf;

/// Why the emulator could not start or do what its owner asked.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("the emulator only listens on loopback addresses, not {0}")]
    NotLoopback(std::net::SocketAddr),
    #[error("cannot read `{path}`: {source}")]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write `{path}`: {source}")]
    WriteFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("TLS setup failed: {0}")]
    Tls(String),
    #[error("cryptography failed: {0}")]
    Crypto(String),
    #[error(transparent)]
    Fixture(#[from] crate::fixture::FixtureError),
    #[error("the sync cycle input is not usable: {0}")]
    SyncInput(String),
}
