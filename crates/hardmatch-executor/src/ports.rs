//! The executor's ports: what it needs from the cloud, from AD and from the sync engine.
//!
//! The engine only decides (order, preconditions, journal, reconciliation); the ports do
//! the talking. Keeping them behind traits lets the same engine run against Graph or the
//! emulator, a live domain controller or an AD snapshot, and Entra Connect, Cloud Sync or
//! the emulator's cycle, and lets tests drive it against the real emulator and real AD.

use std::collections::BTreeMap;
use std::future::Future;

use hardmatch_core::plan::ActionTarget;
use hardmatch_core::tenant::SignInActivity;

/// A failure of a port, with what to do about it.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct PortError {
    pub message: String,
    pub hint: Option<String>,
    /// The service's request id, when the failure came with one.
    pub request_id: Option<String>,
    /// Nothing reached the service: the write certainly did not happen.
    pub not_sent: bool,
}

impl PortError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
            request_id: None,
            not_sent: false,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }
}

impl From<hardmatch_graph::GraphError> for PortError {
    fn from(error: hardmatch_graph::GraphError) -> Self {
        let request_id = error
            .request_ids()
            .and_then(|ids| ids.request_id.clone().or(ids.client_request_id.clone()));
        let hint = error.hint();
        Self {
            message: error.to_string(),
            hint: (!hint.is_empty()).then_some(hint),
            request_id,
            not_sent: false,
        }
    }
}

impl From<hardmatch_ad::AdError> for PortError {
    fn from(error: hardmatch_ad::AdError) -> Self {
        Self {
            hint: error.hint(),
            message: error.to_string(),
            request_id: None,
            not_sent: false,
        }
    }
}

/// A cloud user as it stands now.
#[derive(Clone, Debug, PartialEq)]
pub enum CloudRead {
    /// Active; the state is [`hardmatch_core::plan::cloud_state`]'s JSON.
    Active(serde_json::Value),
    /// In the recycle bin; same shape, with `deletedDateTime` set.
    Deleted(serde_json::Value),
    /// Neither: purged, or never there.
    Absent,
}

impl CloudRead {
    /// The state a precondition is evaluated on; an absent user reads as `null`.
    pub fn state(&self) -> serde_json::Value {
        match self {
            Self::Active(state) | Self::Deleted(state) => state.clone(),
            Self::Absent => serde_json::Value::Null,
        }
    }
}

/// Where a cloud user most likely is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LikelyPlace {
    Active,
    RecycleBin,
}

/// One cloud write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloudWrite {
    SetImmutableId { user_id: String, value: String },
    ClearImmutableId { user_id: String },
    SoftDelete { user_id: String },
    Purge { user_id: String },
    Restore { user_id: String },
}

impl CloudWrite {
    /// The request as the journal records it: method, URL below the Graph root, body.
    /// Never headers: they carry the token.
    pub fn request(&self) -> serde_json::Value {
        let (method, url, body) = match self {
            Self::SetImmutableId { user_id, value } => (
                "PATCH",
                format!("/v1.0/users/{user_id}"),
                serde_json::json!({ "onPremisesImmutableId": value }),
            ),
            Self::ClearImmutableId { user_id } => (
                "PATCH",
                format!("/beta/users/{user_id}"),
                serde_json::json!({ "onPremisesImmutableId": null }),
            ),
            Self::SoftDelete { user_id } => (
                "DELETE",
                format!("/v1.0/users/{user_id}"),
                serde_json::Value::Null,
            ),
            Self::Purge { user_id } => (
                "DELETE",
                format!("/v1.0/directory/deletedItems/{user_id}"),
                serde_json::Value::Null,
            ),
            Self::Restore { user_id } => (
                "POST",
                format!("/v1.0/directory/deletedItems/{user_id}/restore"),
                serde_json::Value::Null,
            ),
        };
        serde_json::json!({ "method": method, "url": url, "body": body })
    }
}

/// One AD write, carrying the value the directory must still hold for it to go ahead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdWrite {
    SetUserPrincipalName {
        distinguished_name: String,
        expected: Option<String>,
        value: String,
    },
    AddProxyAddress {
        distinguished_name: String,
        expected: Vec<String>,
        value: String,
    },
    /// Sets mS-DS-ConsistencyGuid to `value` (an objectGUID in its text form), or clears it.
    SetConsistencyGuid {
        distinguished_name: String,
        expected: Option<String>,
        value: Option<String>,
    },
}

impl AdWrite {
    /// The request as the journal records it.
    pub fn request(&self) -> serde_json::Value {
        match self {
            Self::SetUserPrincipalName {
                distinguished_name,
                expected,
                value,
            } => serde_json::json!({
                "method": "LDAP modify", "url": distinguished_name,
                "body": { "attribute": "userPrincipalName", "expected": expected, "value": value }
            }),
            Self::AddProxyAddress {
                distinguished_name,
                expected,
                value,
            } => serde_json::json!({
                "method": "LDAP modify", "url": distinguished_name,
                "body": { "attribute": "proxyAddresses", "expected": expected, "add": value }
            }),
            Self::SetConsistencyGuid {
                distinguished_name,
                expected,
                value,
            } => serde_json::json!({
                "method": "LDAP modify", "url": distinguished_name,
                "body": { "attribute": "mS-DS-ConsistencyGuid", "expected": expected, "value": value }
            }),
        }
    }
}

/// What a successful write reports back.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sent {
    pub request_id: Option<String>,
    pub response: Option<serde_json::Value>,
}

// The engine drives one port call at a time from one task, so the futures need not be
// `Send`; plain `async fn` keeps the implementations readable.
#[allow(async_fn_in_trait)]
/// Microsoft Graph, or anything that behaves like it.
pub trait CloudPort {
    /// Reads a user wherever it is: active, in the recycle bin, or gone.
    async fn read(&self, user_id: &str) -> Result<CloudRead, PortError>;
    async fn write(&self, write: &CloudWrite) -> Result<Sent, PortError>;
    /// Reads several users; one answer per id, in order. Adapters that can read in bulk
    /// override it, so that re-reading a group of targets costs one request, not one each,
    /// and look where the targets `likely` are first (a purge's target is in the recycle
    /// bin), so that a second request is only for those found elsewhere.
    async fn read_many(
        &self,
        user_ids: &[String],
        _likely: LikelyPlace,
    ) -> Vec<Result<CloudRead, PortError>> {
        let mut reads = Vec::with_capacity(user_ids.len());
        for user_id in user_ids {
            reads.push(self.read(user_id).await);
        }
        reads
    }
    /// Sends independent writes together; one result per write, in order. Adapters that
    /// can send them in one request (Graph's `$batch`) override it; a whole request that
    /// got no answer makes each of its writes an error that is not `not_sent`, so the
    /// engine re-reads each target.
    async fn write_many(&self, writes: &[CloudWrite]) -> Vec<Result<Sent, PortError>> {
        join_all(writes.iter().map(|write| self.write(write)).collect()).await
    }
    /// `organization.onPremisesLastSyncDateTime`.
    async fn last_sync(&self) -> Result<Option<String>, PortError>;
    /// The sign-in activity of active users, for the preconditions that rely on it: one
    /// entry per user found, `None` for a user with none on record. A cloud that cannot
    /// report it refuses, and those preconditions then fail rather than pass unchecked.
    async fn sign_in_activity(
        &self,
        _user_ids: &[String],
    ) -> Result<BTreeMap<String, Option<SignInActivity>>, PortError> {
        Err(PortError::new("this cloud cannot report sign-in activity"))
    }
}

#[allow(async_fn_in_trait)]
/// Active Directory: re-reads for preconditions and guarded writes.
pub trait DirectoryPort {
    /// The AD user as the AD snapshot serializes it, or `None` when it is not there.
    async fn read(&self, target: &ActionTarget) -> Result<Option<serde_json::Value>, PortError>;
    async fn write(&self, write: &AdWrite) -> Result<Sent, PortError>;
}

#[allow(async_fn_in_trait)]
/// The sync engine: starts a cycle.
pub trait SyncPort {
    /// Starts (or, for the emulator, runs) a cycle of `policy` (`Delta` or `Initial`).
    async fn trigger(&self, policy: &str) -> Result<Sent, PortError>;
}

/// For runs that must not touch a directory (e.g. a plan without AD actions): every call
/// fails, saying why.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoDirectory;

impl DirectoryPort for NoDirectory {
    async fn read(&self, _target: &ActionTarget) -> Result<Option<serde_json::Value>, PortError> {
        Err(PortError::new("this run has no AD connection").with_hint(
            "pass the AD source flags (--ldap-url, --base-dn, --bind-dn, …) to apply AD actions",
        ))
    }

    fn write(&self, _write: &AdWrite) -> impl Future<Output = Result<Sent, PortError>> {
        std::future::ready(Err(PortError::new("this run has no AD connection")))
    }
}

/// For runs without a sync engine: a `trigger_sync` action fails, saying why.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoSync;

impl SyncPort for NoSync {
    async fn trigger(&self, _policy: &str) -> Result<Sent, PortError> {
        Err(PortError::new("no sync engine is configured").with_hint(
            "pass --sync-engine connect|cloud-sync|emulator, or run `hardmatch sync` yourself",
        ))
    }
}

/// Polls every future until all are done; outputs in input order. (The engine borrows its
/// ports, so the writes cannot be spawned as tasks.)
pub(crate) async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|context| {
        let mut waiting = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(context) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => waiting = true,
                }
            }
        }
        if waiting {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}
