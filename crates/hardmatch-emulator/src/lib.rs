//! A local Entra ID for hardmatch: Microsoft Graph v1.0 (and the few beta calls hardmatch
//! needs), the identity platform's token service, and Entra Connect's sync cycle.
//!
//! No Entra ID tenant is reachable from hardmatch's test machines and no usable Graph
//! emulator exists, so every cloud-side behaviour is tested against this one. It follows
//! Microsoft's documented behaviour (`graph-api.md`, `entra-matching.md` in the project's
//! shared reference); where that behaviour is uncertain it is a switch in
//! [`settings::Settings`] with the likeliest default.
//!
//! # Using it from Rust
//!
//! ```no_run
//! # async fn example() -> Result<(), hardmatch_emulator::EmulatorError> {
//! use hardmatch_emulator::{EmulatorOptions, Fixture, start};
//! let emulator = start(EmulatorOptions::new(Fixture::example())).await?;
//! let graph = emulator.graph_url(); // http://127.0.0.1:PORT/v1.0
//! let authority = emulator.authority_url(); // token endpoint: {authority}/{tenant}/oauth2/v2.0/token
//! # let _ = (graph, authority);
//! emulator.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Code map
//!
//! - [`fixture`]: the tenant document (format in `FIXTURE.md`); [`settings`]: the switches.
//! - `server`: accept loop, TLS ([`TlsMode`]), latency, chaos ([`Chaos`]), request log.
//! - `token`: token, device-code and discovery endpoints; JWTs.
//! - `graph`: Graph routing, auth, throttling and the handlers per resource; `odata`: the
//!   `$filter` parser and query-option rules; `throttle`: the resource-unit buckets.
//! - `sync`: applies `hardmatch_core::sync` to the state; `control`: `/_emulator/…`.
//!
//! **Architecture invariant:** the emulator prints nothing. The CLI prints
//! `listening on URL` and `ca-cert PATH` from [`RunningEmulator`].

mod chaos;
pub mod clock;
mod control;
mod error;
pub mod fixture;
#[doc(hidden)]
pub mod fuzzing;
mod graph;
mod odata;
mod server;
pub mod settings;
mod state;
mod sync;
mod throttle;
mod tls;
mod token;
mod wire;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use chaos::Chaos;
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::EmulatorError;
pub use fixture::{AppRegistration, ConnectorSpaceEntry, Fixture, FixtureError};
pub use settings::Settings;
pub use sync::SyncRequest;
pub use tls::TlsMode;

/// How to start an emulator. Build with [`EmulatorOptions::new`] and set fields.
#[derive(Clone, Debug)]
pub struct EmulatorOptions {
    pub fixture: Fixture,
    /// Loopback only; port 0 picks a free port. Default `127.0.0.1:0`.
    pub bind: SocketAddr,
    /// Added before every Graph and identity-platform response.
    pub latency: Duration,
    pub chaos: Option<Chaos>,
    pub tls: TlsMode,
    /// The clock for token lifetimes, device codes and throttling windows.
    pub clock: Arc<dyn Clock>,
    /// The AD side a `POST /_emulator/sync` without users in its body reads.
    pub ad_snapshot: Option<hardmatch_core::ad::AdSnapshot>,
}

impl EmulatorOptions {
    pub fn new(fixture: Fixture) -> Self {
        Self {
            fixture,
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            latency: Duration::ZERO,
            chaos: None,
            tls: TlsMode::Off,
            clock: Arc::new(SystemClock),
            ad_snapshot: None,
        }
    }
}

impl Default for EmulatorOptions {
    fn default() -> Self {
        Self::new(Fixture::example())
    }
}

/// A started emulator. Dropping it without [`RunningEmulator::shutdown`] leaves the
/// server task running until the runtime stops.
#[derive(Debug)]
pub struct RunningEmulator {
    emulator: Arc<state::Emulator>,
    ca_certificate_pem: Option<String>,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Starts an emulator and returns once it accepts connections. Prints nothing.
pub async fn start(options: EmulatorOptions) -> Result<RunningEmulator, EmulatorError> {
    if !options.bind.ip().is_loopback() {
        return Err(EmulatorError::NotLoopback(options.bind));
    }
    let tls = tls::setup(&options.tls)?;
    let listener = tokio::net::TcpListener::bind(options.bind)
        .await
        .map_err(|source| EmulatorError::Bind {
            address: options.bind,
            source,
        })?;
    let local = listener
        .local_addr()
        .map_err(|source| EmulatorError::Bind {
            address: options.bind,
            source,
        })?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let host = match local {
        SocketAddr::V4(address) => address.ip().to_string(),
        SocketAddr::V6(address) => format!("[{}]", address.ip()),
    };
    let base_url = format!("{scheme}://{host}:{}", local.port());
    let emulator = Arc::new(state::Emulator {
        tenant: Mutex::new(state::Tenant::new(options.fixture)),
        clock: options.clock,
        signer: token::jwt::TokenSigner::generate()?,
        base_url,
        requests: Mutex::new(Vec::new()),
        throttle: Mutex::new(throttle::Throttle::default()),
        chaos: options
            .chaos
            .map(|chaos| Mutex::new(chaos::ChaosEngine::new(chaos))),
        device_codes: Mutex::new(token::device_code::DeviceCodes::default()),
        latency: options.latency,
        ad_snapshot: options.ad_snapshot,
    });
    let (shutdown, receiver) = watch::channel(false);
    let ca_certificate_pem = tls
        .as_ref()
        .and_then(|setup| setup.ca_certificate_pem.clone());
    let acceptor = tls.map(|setup| setup.acceptor);
    let task = tokio::spawn(server::serve(
        listener,
        Arc::clone(&emulator),
        acceptor,
        receiver,
    ));
    tracing::info!(url = %emulator.base_url, "emulator listening");
    Ok(RunningEmulator {
        emulator,
        ca_certificate_pem,
        shutdown,
        task,
    })
}

impl RunningEmulator {
    /// `http://127.0.0.1:PORT` (or `https://…`), no trailing slash.
    pub fn base_url(&self) -> &str {
        &self.emulator.base_url
    }

    /// `{base}/v1.0`.
    pub fn graph_url(&self) -> String {
        self.emulator.graph_base()
    }

    /// The authority host URL: the token endpoint is `{authority}/{tenant}/oauth2/v2.0/token`.
    pub fn authority_url(&self) -> String {
        self.emulator.base_url.clone()
    }

    /// The token endpoint for the fixture's tenant id.
    pub fn token_url(&self) -> String {
        format!(
            "{}/{}/oauth2/v2.0/token",
            self.emulator.base_url,
            self.tenant_id()
        )
    }

    pub fn tenant_id(&self) -> String {
        self.emulator.tenant().tenant.id.clone()
    }

    /// The CA certificate (PEM) clients must trust, with [`TlsMode::SelfSigned`].
    pub fn ca_certificate_pem(&self) -> Option<&str> {
        self.ca_certificate_pem.as_deref()
    }

    /// Writes the CA certificate (PEM) to `path`, for clients that take a file
    /// (`SSL_CERT_FILE`, `REQUESTS_CA_BUNDLE`). `Ok(false)` when serving without a generated CA.
    pub fn write_ca_certificate(&self, path: &std::path::Path) -> Result<bool, EmulatorError> {
        let Some(pem) = &self.ca_certificate_pem else {
            return Ok(false);
        };
        std::fs::write(path, pem).map_err(|source| EmulatorError::WriteFile {
            path: path.to_owned(),
            source,
        })?;
        Ok(true)
    }

    /// The whole state in fixture format (it loads again with [`Fixture::from_json`]).
    pub fn state_json(&self) -> serde_json::Value {
        control::state_json(&self.emulator)
    }

    /// The requests served so far: method, path, query, status.
    pub fn requests_json(&self) -> serde_json::Value {
        serde_json::to_value(&*state::lock(&self.emulator.requests)).unwrap_or_default()
    }

    /// Runs one Entra Connect sync cycle; returns its JSON report.
    pub fn run_sync(&self, request: SyncRequest) -> Result<serde_json::Value, EmulatorError> {
        control::run_sync(&self.emulator, request)
    }

    /// Stops accepting, lets open connections finish their request, and waits.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        if let Err(error) = self.task.await {
            tracing::warn!(%error, "emulator task ended abnormally");
        }
    }
}
