//! The ports' real implementations: Microsoft Graph, a live domain controller, an AD
//! snapshot held in memory (rehearsals), and the sync engines.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hardmatch_ad::{AdSource, Bind, DirectoryWriter, NoReporter, SearchScope, TlsOptions};
use hardmatch_core::ad::AdUser;
use hardmatch_core::anchor::ObjectGuid;
use hardmatch_core::plan::{ActionTarget, cloud_state};
use hardmatch_core::tenant::SignInActivity;
use hardmatch_graph::{GraphClient, RestoreOptions, UserWrite, WriteReceipt};
use tokio::sync::Mutex as AsyncMutex;

use crate::ports::{
    AdWrite, CloudPort, CloudRead, CloudWrite, DirectoryPort, LikelyPlace, PortError, Sent,
    SyncPort,
};

/// The cloud port over Microsoft Graph (or the emulator, which speaks Graph).
///
/// Targets are re-read in bulk (`$batch`) and directory roles once per port, not per
/// action: reads share the tenant's quota with the writes, so every read saved is time
/// the pacer gives to writes.
#[derive(Debug)]
pub struct GraphCloud {
    client: GraphClient,
    roles: AsyncMutex<Option<Arc<RoleCounts>>>,
    sized: tokio::sync::OnceCell<()>,
    /// Graph's refusal of sign-in reads, once it refused one: the app's permission and the
    /// tenant's licence do not change within a run, and asking again would only cost requests.
    sign_ins_refused: Mutex<Option<PortError>>,
}

/// Active role assignments and PIM eligibilities per principal id.
#[derive(Debug, Default)]
struct RoleCounts {
    active: HashMap<String, usize>,
    eligible: HashMap<String, usize>,
}

impl RoleCounts {
    fn of(&self, user_id: &str) -> (usize, usize) {
        (
            self.active.get(user_id).copied().unwrap_or(0),
            self.eligible.get(user_id).copied().unwrap_or(0),
        )
    }
}

impl GraphCloud {
    pub fn new(client: GraphClient) -> Self {
        Self {
            client,
            roles: AsyncMutex::new(None),
            sized: tokio::sync::OnceCell::new(),
            sign_ins_refused: Mutex::new(None),
        }
    }

    pub fn client(&self) -> &GraphClient {
        &self.client
    }

    /// Sizes the pacer's resource-unit quota to the tenant once per port (one request): a
    /// tenant above 500 users has 8,000 RU per 10 s, not the smallest tier's 3,500 the
    /// client assumes, and a run's re-reads and read-backs cost twice its writes in RU.
    /// Unknown, the smallest tier stays: slower, never over the quota.
    async fn size_the_pacer(&self) {
        self.sized
            .get_or_init(|| async {
                if let Ok(users) = self.client.count_users().await {
                    self.client.adopt_tenant_size(users);
                }
            })
            .await;
    }

    /// The tenant's role holders, read on first use and kept for the port's life (one run).
    async fn roles(&self) -> Result<Arc<RoleCounts>, PortError> {
        let mut cached = self.roles.lock().await;
        if let Some(roles) = cached.as_ref() {
            return Ok(Arc::clone(roles));
        }
        let count = |assignments: Vec<hardmatch_core::tenant::RoleAssignment>| {
            let mut counts: HashMap<String, usize> = HashMap::new();
            for assignment in assignments {
                *counts.entry(assignment.principal_id).or_default() += 1;
            }
            counts
        };
        let roles = Arc::new(RoleCounts {
            active: count(self.client.role_assignments(None).await?),
            eligible: count(self.client.role_eligibilities(None).await?),
        });
        *cached = Some(Arc::clone(&roles));
        Ok(roles)
    }

    /// Users by id among the active ones or in the recycle bin, in `$batch`es.
    async fn read_in(
        &self,
        place: LikelyPlace,
        user_ids: &[String],
    ) -> Result<
        Vec<Result<hardmatch_core::tenant::CloudUser, hardmatch_graph::GraphError>>,
        hardmatch_graph::GraphError,
    > {
        match place {
            LikelyPlace::Active => self.client.get_users(user_ids).await,
            LikelyPlace::RecycleBin => self.client.get_deleted_users(user_ids).await,
        }
    }

    /// Checks written ImmutableIDs by one bulk re-read, byte for byte; the successful
    /// answers carry the user as read back.
    async fn read_back(&self, writes: &[CloudWrite], results: &mut [Result<Sent, PortError>]) {
        let checked: Vec<(usize, &String, Option<&str>)> = writes
            .iter()
            .enumerate()
            .filter(|(index, _)| results[*index].is_ok())
            .filter_map(|(index, write)| match write {
                CloudWrite::SetImmutableId { user_id, value } => {
                    Some((index, user_id, Some(value.as_str())))
                }
                CloudWrite::ClearImmutableId { user_id } => Some((index, user_id, None)),
                _ => None,
            })
            .collect();
        if checked.is_empty() {
            return;
        }
        let ids: Vec<String> = checked.iter().map(|(_, id, _)| (*id).clone()).collect();
        let users = match self.client.get_users(&ids).await {
            Ok(users) => users,
            Err(error) => {
                let error = PortError::from(error);
                for (index, _, _) in &checked {
                    results[*index] = Err(error.clone());
                }
                return;
            }
        };
        for ((index, user_id, expected), user) in checked.into_iter().zip(users) {
            let result = &mut results[index];
            let user = match user {
                Ok(user) => user,
                Err(error) => {
                    *result = Err(error.into());
                    continue;
                }
            };
            let found = user.on_premises_immutable_id.as_ref().map(|id| id.as_str());
            if found != expected {
                *result = Err(PortError::new(format!(
                    "Graph accepted the write, but {user_id} holds ImmutableID {} instead of {}",
                    found.unwrap_or("none"),
                    expected.unwrap_or("none")
                ))
                .with_hint("re-read the user in a minute (replication), then `hardmatch verify`"));
                continue;
            }
            if let Ok(sent) = result {
                sent.response = serde_json::to_value(&user).ok();
            }
        }
    }
}

fn user_write(write: &CloudWrite) -> UserWrite {
    match write {
        CloudWrite::SetImmutableId { user_id, value } => UserWrite::SetImmutableId {
            user_id: user_id.clone(),
            value: hardmatch_core::anchor::ImmutableId::from_text(value.clone()),
        },
        CloudWrite::ClearImmutableId { user_id } => UserWrite::ClearImmutableId {
            user_id: user_id.clone(),
        },
        CloudWrite::SoftDelete { user_id } => UserWrite::Delete {
            user_id: user_id.clone(),
        },
        CloudWrite::Purge { user_id } => UserWrite::Purge {
            user_id: user_id.clone(),
        },
        CloudWrite::Restore { user_id } => UserWrite::Restore {
            user_id: user_id.clone(),
            options: RestoreOptions::default(),
        },
    }
}

impl CloudPort for GraphCloud {
    async fn read(&self, user_id: &str) -> Result<CloudRead, PortError> {
        self.read_many(&[user_id.to_owned()], LikelyPlace::Active)
            .await
            .into_iter()
            .next()
            .unwrap_or_else(|| Err(PortError::new("no answer for the user read")))
    }

    /// One `$batch` where the targets likely are, one more for those not found there.
    async fn read_many(
        &self,
        user_ids: &[String],
        likely: LikelyPlace,
    ) -> Vec<Result<CloudRead, PortError>> {
        let failed = |error: PortError| user_ids.iter().map(|_| Err(error.clone())).collect();
        self.size_the_pacer().await;
        let roles = match self.roles().await {
            Ok(roles) => roles,
            Err(error) => return failed(error),
        };
        let other = match likely {
            LikelyPlace::Active => LikelyPlace::RecycleBin,
            LikelyPlace::RecycleBin => LikelyPlace::Active,
        };
        let first = match self.read_in(likely, user_ids).await {
            Ok(first) => first,
            Err(error) => return failed(error.into()),
        };
        let missing: Vec<String> = user_ids
            .iter()
            .zip(&first)
            .filter(|(_, read)| matches!(read, Err(error) if error.is_not_found()))
            .map(|(id, _)| id.clone())
            .collect();
        let mut second = if missing.is_empty() {
            Vec::new()
        } else {
            match self.read_in(other, &missing).await {
                Ok(second) => second,
                Err(error) => return failed(error.into()),
            }
        }
        .into_iter();
        let found = |place: LikelyPlace, user: &hardmatch_core::tenant::CloudUser, id: &str| {
            let (active_roles, eligible_roles) = roles.of(id);
            let state = cloud_state(user, active_roles, eligible_roles);
            match place {
                LikelyPlace::Active => CloudRead::Active(state),
                LikelyPlace::RecycleBin => CloudRead::Deleted(state),
            }
        };
        user_ids
            .iter()
            .zip(first)
            .map(|(user_id, read)| match read {
                Ok(user) => Ok(found(likely, &user, user_id)),
                Err(error) if error.is_not_found() => match second.next() {
                    Some(Ok(user)) => Ok(found(other, &user, user_id)),
                    Some(Err(error)) if error.is_not_found() => Ok(CloudRead::Absent),
                    Some(Err(error)) => Err(error.into()),
                    None => Err(PortError::new(format!("no second answer for {user_id}"))),
                },
                Err(error) => Err(error.into()),
            })
            .collect()
    }

    /// A lone write goes as itself: a `$batch` of one would cost the same request.
    async fn write(&self, write: &CloudWrite) -> Result<Sent, PortError> {
        let mut results = vec![
            self.client
                .write_user(&user_write(write))
                .await
                .map(sent)
                .map_err(PortError::from),
        ];
        self.read_back(std::slice::from_ref(write), &mut results)
            .await;
        results
            .pop()
            .unwrap_or_else(|| Err(PortError::new("no answer for the write")))
    }

    /// One `$batch` for the group (Graph's 20 are the group's limit): each item's outcome
    /// is its own, with its own request id; a batch that got no answer leaves every write
    /// of it unknown, which the engine settles by re-reading, as for a single write.
    async fn write_many(&self, writes: &[CloudWrite]) -> Vec<Result<Sent, PortError>> {
        let user_writes: Vec<UserWrite> = writes.iter().map(user_write).collect();
        let mut results: Vec<Result<Sent, PortError>> =
            match self.client.write_users(&user_writes).await {
                Ok(receipts) => receipts
                    .into_iter()
                    .map(|receipt| receipt.map(sent).map_err(PortError::from))
                    .collect(),
                Err(error) => {
                    let error = PortError::from(error);
                    writes.iter().map(|_| Err(error.clone())).collect()
                }
            };
        self.read_back(writes, &mut results).await;
        results
    }

    async fn last_sync(&self) -> Result<Option<String>, PortError> {
        Ok(self
            .client
            .organization()
            .await?
            .on_premises_last_sync_date_time)
    }

    async fn sign_in_activity(
        &self,
        user_ids: &[String],
    ) -> Result<BTreeMap<String, Option<SignInActivity>>, PortError> {
        let refused = self
            .sign_ins_refused
            .lock()
            .map(|refused| refused.clone())
            .unwrap_or_default();
        if let Some(refusal) = refused {
            return Err(refusal);
        }
        match self.client.sign_in_activity(user_ids).await {
            Ok(found) => Ok(found),
            Err(error @ hardmatch_graph::GraphError::PermissionDenied { .. }) => {
                let refusal = PortError::from(error);
                if let Ok(mut refused) = self.sign_ins_refused.lock() {
                    *refused = Some(refusal.clone());
                }
                Err(refusal)
            }
            Err(error) => Err(error.into()),
        }
    }
}

/// What the journal keeps of a receipt: Graph's request id (else ours), and the body.
fn sent(receipt: WriteReceipt) -> Sent {
    Sent {
        request_id: receipt
            .request
            .request_id
            .or(receipt.request.client_request_id),
        response: receipt.body,
    }
}

/// The AD port over a live domain controller: guarded LDAP writes, re-reads by DN.
pub struct LdapDirectory {
    source: AdSource,
    writer: AsyncMutex<Option<DirectoryWriter>>,
}

impl std::fmt::Debug for LdapDirectory {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("LdapDirectory")
            .field("directories", &self.source.directories)
            .finish_non_exhaustive()
    }
}

impl LdapDirectory {
    /// Reads and writes through `source`'s first directory, with its bind and TLS options.
    pub fn new(source: AdSource) -> Self {
        Self {
            source,
            writer: AsyncMutex::new(None),
        }
    }

    fn url(&self) -> Result<&str, PortError> {
        self.source
            .directories
            .first()
            .map(|directory| directory.url.as_str())
            .ok_or_else(|| PortError::new("no domain controller was given"))
    }

    fn bind(&self) -> &Bind {
        &self.source.bind
    }

    fn tls(&self) -> &TlsOptions {
        &self.source.tls
    }
}

impl DirectoryPort for LdapDirectory {
    async fn read(&self, target: &ActionTarget) -> Result<Option<serde_json::Value>, PortError> {
        let Some(distinguished_name) = target.distinguished_name.as_deref() else {
            return Err(PortError::new("the AD action names no distinguished name"));
        };
        let mut source = self.source.clone();
        // The target alone: one base-scoped search, whatever the source's own scope.
        source.directories.truncate(1);
        if let Some(directory) = source.directories.first_mut() {
            directory.base_dn = distinguished_name.to_owned();
        }
        source.scope = SearchScope::Base;
        match hardmatch_ad::read_users(&source, &NoReporter).await {
            Ok(snapshot) => Ok(snapshot
                .users
                .into_iter()
                .next()
                .and_then(|user| serde_json::to_value(user).ok())),
            // LDAP result 32, noSuchObject: the user is gone (moved or deleted).
            Err(hardmatch_ad::AdError::Ldap { code: 32, .. }) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    async fn write(&self, write: &AdWrite) -> Result<Sent, PortError> {
        let mut guard = self.writer.lock().await;
        if guard.is_none() {
            *guard = Some(
                DirectoryWriter::connect(
                    self.url()?,
                    self.bind(),
                    self.tls(),
                    self.source.timeout,
                    &NoReporter,
                )
                .await?,
            );
        }
        let Some(writer) = guard.as_mut() else {
            return Err(PortError::new("no AD connection"));
        };
        let result = match write {
            AdWrite::SetUserPrincipalName {
                distinguished_name,
                expected,
                value,
            } => {
                writer
                    .set_user_principal_name(distinguished_name, expected.as_deref(), value)
                    .await
            }
            AdWrite::AddProxyAddress {
                distinguished_name,
                expected,
                value,
            } => {
                writer
                    .add_proxy_addresses(distinguished_name, expected, std::slice::from_ref(value))
                    .await
            }
            AdWrite::SetConsistencyGuid {
                distinguished_name,
                expected,
                value,
            } => {
                let expected = parse_guid(expected.as_deref())?;
                match (parse_guid(value.as_deref())?, expected) {
                    (Some(new), expected) => {
                        writer
                            .set_consistency_guid(distinguished_name, expected, new)
                            .await
                    }
                    (None, Some(expected)) => {
                        writer
                            .clear_consistency_guid(distinguished_name, expected)
                            .await
                    }
                    (None, None) => Ok(()),
                }
            }
        };
        if result.is_err() {
            // A failed modify may have left the connection in doubt; the next write binds anew.
            *guard = None;
        }
        result?;
        Ok(Sent::default())
    }
}

fn parse_guid(text: Option<&str>) -> Result<Option<ObjectGuid>, PortError> {
    text.map(|text| {
        ObjectGuid::parse_canonical(text)
            .map_err(|error| PortError::new(format!("`{text}` is not a GUID: {error}")))
    })
    .transpose()
}

/// An AD held in memory, from a snapshot: the AD side of a rehearsal against the emulator.
/// Writes are guarded exactly like the LDAP writer's (refused when the current value is not
/// the expected one), and the users can be handed to the emulator's sync cycle. Users are
/// found through maps by DN and objectGUID (neither changes by the writes it takes), so a
/// plan of N AD actions costs O(N), not a scan of the directory per action.
#[derive(Debug, Default)]
pub struct SnapshotDirectory {
    users: Mutex<Vec<AdUser>>,
    /// Lowercased DN and objectGUID text → position in `users`; the first of duplicates.
    by_distinguished_name: HashMap<String, usize>,
    by_object_guid: HashMap<String, usize>,
}

impl SnapshotDirectory {
    pub fn new(users: Vec<AdUser>) -> Self {
        let mut by_distinguished_name = HashMap::with_capacity(users.len());
        let mut by_object_guid = HashMap::with_capacity(users.len());
        for (position, user) in users.iter().enumerate() {
            by_distinguished_name
                .entry(user.distinguished_name.as_str().to_ascii_lowercase())
                .or_insert(position);
            by_object_guid
                .entry(user.object_guid.to_string().to_ascii_lowercase())
                .or_insert(position);
        }
        Self {
            users: Mutex::new(users),
            by_distinguished_name,
            by_object_guid,
        }
    }

    /// The users as they stand now.
    pub fn users(&self) -> Vec<AdUser> {
        self.users
            .lock()
            .map(|users| users.clone())
            .unwrap_or_default()
    }

    fn with_user<T>(
        &self,
        distinguished_name: &str,
        change: impl FnOnce(&mut AdUser) -> Result<T, PortError>,
    ) -> Result<T, PortError> {
        let mut users = self
            .users
            .lock()
            .map_err(|_| PortError::new("the in-memory directory is poisoned"))?;
        let user = self
            .by_distinguished_name
            .get(&distinguished_name.to_ascii_lowercase())
            .and_then(|position| users.get_mut(*position))
            .ok_or_else(|| PortError::new(format!("no AD object `{distinguished_name}`")))?;
        change(user)
    }
}

fn refused(attribute: &str, expected: &str, found: &str) -> PortError {
    PortError::new(format!(
        "{attribute} changed since the plan: it holds {found}, the plan expected {expected}"
    ))
    .with_hint("make a new plan from the directory as it is now")
}

impl DirectoryPort for SnapshotDirectory {
    async fn read(&self, target: &ActionTarget) -> Result<Option<serde_json::Value>, PortError> {
        let users = self
            .users
            .lock()
            .map_err(|_| PortError::new("the in-memory directory is poisoned"))?;
        let position = target
            .id
            .as_deref()
            .and_then(|id| self.by_object_guid.get(&id.to_ascii_lowercase()))
            .or_else(|| {
                target
                    .distinguished_name
                    .as_deref()
                    .and_then(|name| self.by_distinguished_name.get(&name.to_ascii_lowercase()))
            });
        let found = position.and_then(|position| users.get(*position));
        Ok(found.and_then(|user| serde_json::to_value(user).ok()))
    }

    async fn write(&self, write: &AdWrite) -> Result<Sent, PortError> {
        match write {
            AdWrite::SetUserPrincipalName {
                distinguished_name,
                expected,
                value,
            } => self.with_user(distinguished_name, |user| {
                if user.user_principal_name.as_deref() != expected.as_deref() {
                    return Err(refused(
                        "userPrincipalName",
                        &format!("{expected:?}"),
                        &format!("{:?}", user.user_principal_name),
                    ));
                }
                user.user_principal_name = Some(value.as_str().into());
                Ok(())
            })?,
            AdWrite::AddProxyAddress {
                distinguished_name,
                expected,
                value,
            } => self.with_user(distinguished_name, |user| {
                let mut current = user.proxy_addresses.clone();
                let mut wanted = expected.clone();
                current.sort();
                wanted.sort();
                if current != wanted {
                    return Err(refused(
                        "proxyAddresses",
                        &wanted.join(", "),
                        &current.join(", "),
                    ));
                }
                user.proxy_addresses.push(value.clone());
                Ok(())
            })?,
            AdWrite::SetConsistencyGuid {
                distinguished_name,
                expected,
                value,
            } => self.with_user(distinguished_name, |user| {
                let current = user.consistency_guid.map(|guid| guid.to_string());
                if current.as_deref().map(str::to_ascii_lowercase)
                    != expected.as_deref().map(str::to_ascii_lowercase)
                {
                    return Err(refused(
                        "mS-DS-ConsistencyGuid",
                        &format!("{expected:?}"),
                        &format!("{current:?}"),
                    ));
                }
                user.consistency_guid = parse_guid(value.as_deref())?;
                Ok(())
            })?,
        }
        Ok(Sent::default())
    }
}

/// Entra Connect Sync through a command: on the sync server itself
/// `powershell -NoProfile -Command "Start-ADSyncSyncCycle -PolicyType Delta"`, elsewhere a
/// remote command (ssh, WinRM) the admin configures. `{policy}` in an argument becomes
/// `Delta` or `Initial`.
#[derive(Clone, Debug)]
pub struct CommandSync {
    pub program: String,
    pub arguments: Vec<String>,
    pub timeout: Duration,
}

impl CommandSync {
    /// The command on the Connect server itself, where there is one.
    pub fn local_default() -> Option<Self> {
        cfg!(windows).then(|| Self {
            program: "powershell".to_owned(),
            arguments: vec![
                "-NoProfile".to_owned(),
                "-Command".to_owned(),
                "Start-ADSyncSyncCycle -PolicyType {policy}".to_owned(),
            ],
            timeout: Duration::from_secs(120),
        })
    }
}

impl SyncPort for CommandSync {
    async fn trigger(&self, policy: &str) -> Result<Sent, PortError> {
        let arguments: Vec<String> = self
            .arguments
            .iter()
            .map(|argument| argument.replace("{policy}", policy))
            .collect();
        let mut command = tokio::process::Command::new(&self.program);
        command.args(&arguments).kill_on_drop(true);
        let output = tokio::time::timeout(self.timeout, command.output())
            .await
            .map_err(|_| {
                PortError::new(format!(
                    "`{}` did not finish within {} s",
                    self.program,
                    self.timeout.as_secs()
                ))
            })?
            .map_err(|error| {
                let mut failure = PortError::new(format!("cannot run `{}`: {error}", self.program))
                    .with_hint("check the configured sync command (sync_command in the profile)");
                failure.not_sent = true;
                failure
            })?;
        let stdout = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        if !output.status.success() {
            return Err(PortError::new(format!(
                "`{}` failed ({}): {stderr}",
                self.program, output.status
            ))
            .with_hint(
                "on the Connect server, `Get-ADSyncScheduler` shows whether a cycle is already \
                 running (Start-ADSyncSyncCycle refuses to start a second one)",
            ));
        }
        Ok(Sent {
            request_id: None,
            response: Some(serde_json::json!({ "stdout": stdout })),
        })
    }
}

/// Entra Cloud Sync: starts the provisioning job through Graph.
#[derive(Debug)]
pub struct CloudSyncJob<'a> {
    pub client: &'a GraphClient,
    pub service_principal_id: String,
    pub job_id: String,
}

impl SyncPort for CloudSyncJob<'_> {
    async fn trigger(&self, _policy: &str) -> Result<Sent, PortError> {
        self.client
            .start_synchronization_job(&self.service_principal_id, &self.job_id)
            .await?;
        Ok(Sent::default())
    }
}
