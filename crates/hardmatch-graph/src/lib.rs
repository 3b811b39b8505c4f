//! Microsoft Graph client for hardmatch: authentication, paging, batching, throttling,
//! typed errors, typed operations and tenant snapshots.
//!
//! Entry point: [`GraphClient::connect`] with [`GraphSettings`] that the CLI fills from its
//! flags (`--tenant-id --client-id --client-secret-env VAR --certificate FILE --device-code
//! --azure-cli --cloud --authority-url --graph-url`) and from azure-identity's environment
//! variables ([`EnvironmentCredentials`]). Then:
//!
//! - users: [`GraphClient::list_users`], [`GraphClient::list_deleted_users`],
//!   [`GraphClient::get_user`], [`GraphClient::get_users`] (`$batch`),
//!   [`GraphClient::find_immutable_id_holders`], [`GraphClient::set_immutable_id`],
//!   [`GraphClient::set_immutable_ids`] (`$batch`), [`GraphClient::clear_immutable_id`],
//!   [`GraphClient::delete_user`], [`GraphClient::purge_deleted_user`],
//!   [`GraphClient::restore_deleted_user`], [`GraphClient::license_details`],
//!   [`GraphClient::provisioning_errors`];
//! - tenant: [`GraphClient::organization`], [`GraphClient::domains`],
//!   [`GraphClient::sync_settings`], [`GraphClient::update_sync_features`],
//!   [`GraphClient::tenant_info`], [`GraphClient::count_users`], [`GraphClient::users_in_domain`],
//!   [`GraphClient::role_definitions`], [`GraphClient::role_assignments`],
//!   [`GraphClient::role_eligibilities`], [`GraphClient::start_synchronization_job`];
//! - [`snapshot_tenant`] with a [`Reporter`].
//!
//! ```no_run
//! # async fn example() -> Result<(), hardmatch_graph::GraphError> {
//! use hardmatch_graph::{CredentialSettings, GraphClient, GraphSettings, NoProgress, Secret};
//!
//! // `--tenant-id … --client-id … --client-secret-env HARDMATCH_SECRET`: the CLI reads the
//! // variable and hands the value over as a `Secret`.
//! let mut settings = GraphSettings::new(CredentialSettings::ClientSecret(Secret::new("value")));
//! settings.tenant_id = Some("contoso.onmicrosoft.com".to_owned());
//! settings.client_id = Some("8a9f2c1e-4b3d-4e5f-9a6b-7c8d9e0f1a2b".to_owned());
//! // `--cloud usgov` → `settings.cloud = "usgov".parse()?`; `--authority-url` and
//! // `--graph-url` (the emulator) → `authority_url` / `graph_url`, plus its CA in
//! // `extra_ca_pem`.
//! let client = GraphClient::connect(settings).await?;
//! let snapshot = hardmatch_graph::snapshot_tenant(&client, &NoProgress).await?;
//! # let _ = snapshot;
//! # Ok(()) }
//! ```
//!
//! Layers, bottom up: `http` (TLS, ids, pacing, retries), [`auth`] (tokens), `client`
//! (signed requests, paging, `$batch`), the typed operations, [`snapshot`]. Errors are
//! [`GraphError`] values with [`GraphError::hint`].
//!
//! **Architecture invariant:** no secret (client secret, certificate key or password,
//! access or refresh token, client assertion) is ever formatted: they are [`Secret`]s,
//! which print `****`, and request logs never include headers.

// `GraphError` carries request ids and AADSTS details by value so that callers can match on
// them; errors are the cold path, and a boxed error would make every match clumsier.
#![allow(clippy::result_large_err)]

pub mod auth;
pub mod directory;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod pacer;
pub mod retry;
pub mod secret;
pub mod settings;
pub mod snapshot;
pub mod users;

mod client;
mod http;

pub use http::RequestStatistics;

pub use auth::certificate::{AssertionAlgorithm, ClientCertificate};
pub use client::{BATCH_SIZE, GraphClient, PAGE_SIZE};
pub use directory::{Organization, SyncSettingsRead, VerifiedDomain};
pub use error::{DeviceCodeFailure, GraphError, Operation, RequestIds};
pub use pacer::{
    Clock, MonotonicClock, PacingSettings, SlidingWindow, resource_unit_quota_for_tenant_size,
};
pub use retry::{RetryPolicy, parse_retry_after};
pub use secret::Secret;
pub use settings::{
    Cloud, CredentialSettings, DeviceCodeMessage, DeviceCodePrompt, EnvironmentCredentials,
    GraphSettings, HttpSettings, RECOMMENDED_DELEGATED_SCOPES,
};
pub use snapshot::{CountingReporter, NoProgress, Reporter, SnapshotPhase, snapshot_tenant};
pub use users::{
    HolderLookup, ImmutableIdHolders, LicenseDetails, RestoreOptions, ServicePlan, UserWrite,
    WriteReceipt,
};
