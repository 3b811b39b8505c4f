//! The planner: the exact, safe, reviewable changes that link AD users to their cloud
//! accounts, and the plan file that carries them to review and to `apply`.
//!
//! A plan is a value: [`plan`] computes it from the same diagnosis `status` shows, the
//! renderers ([`render_show`], [`render_powershell`]) turn it into text, and
//! [`Plan::to_json`] / [`Plan::from_json`] are its file format. [`draft_plan`] computes the
//! same plan with its users and actions held as drafts that refer to the inputs
//! ([`DraftedPlan`]), each made into its text only as it is written: made whole, a
//! million-user plan's actions took 1.3 GB on top of the diagnosis. Nothing here touches a
//! directory; the executor applies the actions and checks each action's
//! [`Precondition`] against the live object first, so a stale plan is refused.
//!
//! # Routes to a link
//!
//! For an AD user `a` (anchor `X`) and its real cloud account `T`:
//!
//! * Every other holder of `X` must go first, because Graph refuses a second holder, the
//!   recycle bin included (entra-matching.md §12, graph-api.md §16 #1). A holder in the
//!   recycle bin is purged, or restored and cleared when it is not safe to purge. An active
//!   cloud-only holder keeps its account: its ImmutableID is cleared (§13).
//! * A duplicate the sync created and joined to `a` cannot simply be cleared (Graph refuses
//!   writes to synced users, §13), and as long as `a` stays joined to it no match is ever
//!   evaluated (§4). Two documented routes (§15 C 9):
//!   - **delete and purge** (default; the manual procedure): `soft_delete`, then
//!     `purge_deleted` the duplicate, `set_immutable_id` on `T`, `trigger_sync`. The next
//!     cycle sees the join's cloud object gone, re-provisions `a` as new and hard-matches `T`.
//!   - **out of scope** (when policy asks for it, or Graph may not delete synced users):
//!     `ad_move_out_of_scope`, `trigger_sync` (the sync soft-deletes the duplicate),
//!     `purge_deleted`, `set_immutable_id`, `ad_move_into_scope`, `trigger_sync`.
//! * AD is prepared first: a UPN suffix the tenant has not verified is aligned
//!   (`ad_set_upn`, §15 A), the cloud account's addresses are copied to AD so that the
//!   takeover keeps them (`ad_add_proxy_address`, §11), and an empty `mS-DS-ConsistencyGuid`
//!   is written explicitly (`ad_set_consistency_guid`, §3).
//!
//! # Safety policy
//!
//! Deleting is the last resort. A holder is never planned for deletion (soft delete or
//! purge) when it has licences, a mailbox, an active role or a PIM eligibility, a known
//! recent sign-in, or is synced. The one exception to "synced" is the duplicate route
//! above, which is the documented procedure: the duplicate is synced *because* the sync
//! created it for this very AD user, it holds nothing that AD does not give back at the
//! next cycle, and the other checks (licences, mailbox, roles, recent sign-ins) still
//! apply to it. Sign-in activity that is unknown is reported as unknown, never as unused;
//! it does not block the duplicate route (a sync-created account is expected to be used by
//! the same person) but it is shown as evidence. Each category has an explicit override in
//! [`PlanPolicy`]. A plan whose deletions (including those the sync performs for users
//! moved out of scope) exceed the deletion threshold is refused, as Connect would stop.
//! Purges are marked irreversible.
//!
//! # The plan file
//!
//! [`Plan::to_json`] writes, and [`Plan::from_json`] reads, one JSON object:
//! `format_version` ([`PLAN_FORMAT_VERSION`]; newer versions are refused), `generated_at`
//! (the caller's time), `fingerprint` (a stable FNV-1a hash of the AD users and tenant
//! state the plan was computed from), `actions_fingerprint` (XXH3 of every field of
//! `actions`, see [`actions_fingerprint`]: a mismatch means a hand edit, and the file is
//! refused), `tenant_id`,
//! `password_hash_sync`, the `policy` used, `users` (each planned link with its route and
//! the cloud values its takeover overwrites), `skipped` (selected users not planned, with a
//! `code` and the reason) and `actions`, in execution order. The hashes detect accidents and
//! stale inputs; they are not signatures.
//!
//! Each action has an `id` (`a1`, `a2`, …), a `kind`, a `target` (`directory`, `id`,
//! `userPrincipalName`, and for AD the `distinguished_name`), a `value`, a `reason`,
//! `evidence`, `depends_on` (ids that must have succeeded first), `irreversible` (purges)
//! and a `precondition`: a list of checks on the target's state when the action runs.
//! Cloud checks name Graph properties as [`cloud_state`] renders them (the user's Graph
//! JSON plus `activeRoleAssignments`, `roleEligibilities` and `assignedLicenseSkuIds`); AD
//! checks name the AD snapshot's fields. A step that follows an earlier step on the same
//! object expects the state that step leaves (a purge after the plan's own soft delete
//! expects `deletedDateTime` to be present). The executor evaluates
//! [`Precondition::evaluate`] on a fresh read and refuses the action when it fails.
//!
//! Give [`plan`] the unfiltered diagnosis of the same inputs: statuses are found by their
//! position.
//!
//! Targets are never routed out of scope or deleted; a target with roles, PIM
//! eligibility, an `onPremisesObjectIdentifier`, a federated UPN or another anchor, or a
//! tenant that blocks takeovers, is skipped with the reason (§15 C 11–12 are manual).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::ad::{AdUser, AnchorAttribute};
use crate::diagnose::{
    AdAnchor, BlockReason, ConflictReason, Diagnosis, Status, addresses_lost_in_takeover,
    has_mailbox, is_on_initial_domain,
};
use crate::index::{
    FieldIndex, Fnv1a, Folded, HashMap, HashSet, MultiIndex, domain_of, positions, smtp_value,
};
use crate::parallel;
use crate::sync::{CloudIndex, ConnectorSpace, effective_features};
use crate::tenant::{CloudUser, SignInActivity, TenantSnapshot};

/// The plan file format this build writes and reads.
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// Which users to plan for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Selection {
    /// AD users by UPN (sAMAccountName, DN and objectGUID are accepted too); the target is
    /// the cloud account the diagnosis found for each.
    Users(Vec<String>),
    /// Explicit pairs, for accounts whose names differ.
    Mapping(Vec<MappingEntry>),
    /// Every user with a clear target whose plan needs no override.
    AllSafe,
}

/// One line of a mapping file: AD sAMAccountName, UPN or objectGUID → cloud UPN or object id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappingEntry {
    pub ad: String,
    pub cloud: String,
}

/// Which route a duplicate joined to the AD user takes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoutePreference {
    /// Delete and purge the duplicate in the cloud; fall back to the scope route when
    /// Graph may not delete synced users.
    #[default]
    DeleteAndPurge,
    /// Move the AD user out of sync scope and back.
    OutOfScope,
}

/// The route a planned user takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// Nothing joined to a duplicate: clear or purge holders, set, sync.
    SetAndSync,
    DeleteAndPurge,
    OutOfScope,
}

/// Safety settings; every override is explicit and per category.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlanPolicy {
    pub allow_delete_licensed: bool,
    pub allow_delete_mailbox: bool,
    pub allow_delete_privileged: bool,
    pub allow_delete_recent_sign_in: bool,
    /// Allows deleting synced holders other than the sync-created duplicate.
    pub allow_delete_synced: bool,
    /// A sign-in this many days before `generated_at` or later is "recent".
    pub recent_sign_in_days: u32,
    /// Refuse plans with more deletions than this (Connect's default, §10).
    pub deletion_threshold: u32,
    pub route: RoutePreference,
    /// Whether Graph lets an app delete a synced user (an emulator switch; default allowed,
    /// as `Remove-MsolUser` did for sync-created objects).
    pub graph_can_delete_synced: bool,
    /// The OU (outside the sync scope) that the out-of-scope route moves users to.
    pub out_of_scope_container: Option<String>,
}

impl Default for PlanPolicy {
    fn default() -> Self {
        Self {
            allow_delete_licensed: false,
            allow_delete_mailbox: false,
            allow_delete_privileged: false,
            allow_delete_recent_sign_in: false,
            allow_delete_synced: false,
            recent_sign_in_days: 30,
            deletion_threshold: crate::sync::DEFAULT_DELETION_THRESHOLD,
            route: RoutePreference::DeleteAndPurge,
            graph_can_delete_synced: true,
            out_of_scope_container: None,
        }
    }
}

/// The kinds of planned action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    SetImmutableId,
    ClearImmutableId,
    SoftDelete,
    PurgeDeleted,
    RestoreDeleted,
    AdSetUpn,
    AdAddProxyAddress,
    AdSetConsistencyGuid,
    AdMoveOutOfScope,
    AdMoveIntoScope,
    TriggerSync,
}

impl ActionKind {
    pub const fn name(self) -> &'static str {
        match self {
            Self::SetImmutableId => "set_immutable_id",
            Self::ClearImmutableId => "clear_immutable_id",
            Self::SoftDelete => "soft_delete",
            Self::PurgeDeleted => "purge_deleted",
            Self::RestoreDeleted => "restore_deleted",
            Self::AdSetUpn => "ad_set_upn",
            Self::AdAddProxyAddress => "ad_add_proxy_address",
            Self::AdSetConsistencyGuid => "ad_set_consistency_guid",
            Self::AdMoveOutOfScope => "ad_move_out_of_scope",
            Self::AdMoveIntoScope => "ad_move_into_scope",
            Self::TriggerSync => "trigger_sync",
        }
    }

    /// Whether the action writes to the cloud (as opposed to AD or the sync server).
    pub const fn is_cloud(self) -> bool {
        matches!(
            self,
            Self::SetImmutableId
                | Self::ClearImmutableId
                | Self::SoftDelete
                | Self::PurgeDeleted
                | Self::RestoreDeleted
        )
    }

    /// Whether the action takes a user out of the tenant (soft delete or purge): what the
    /// separate purge confirmation and the post-apply checks count.
    pub const fn removes_a_user(self) -> bool {
        matches!(self, Self::SoftDelete | Self::PurgeDeleted)
    }
}

/// Where an action's target lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Directory {
    Cloud,
    ActiveDirectory,
    SyncServer,
}

/// The object an action changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionTarget {
    pub directory: Directory,
    /// Cloud object id, or the AD objectGUID.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default, rename = "userPrincipalName")]
    pub user_principal_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distinguished_name: Option<String>,
}

/// One condition on the object's state when the action runs.
///
/// Properties are Graph's camelCase names for cloud users (plus `activeRoleAssignments`
/// and `roleEligibilities`, counts the executor adds, see [`cloud_state`]) and the AD
/// snapshot's snake_case names for AD users. They are the planner's own constants, so they
/// are borrowed, not allocated (a million-user plan holds millions of checks); read back
/// from a file, they are owned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "test", rename_all = "snake_case")]
pub enum Check {
    Equals {
        property: Cow<'static, str>,
        value: serde_json::Value,
    },
    /// The property has a non-null value (e.g. `deletedDateTime`).
    Present { property: Cow<'static, str> },
}

/// The property of a soft delete's precondition that holds the target's sign-in activity
/// as the plan read it (Graph's `signInActivity`). Only a read made for the purpose has it:
/// the executor reads it for a soft delete's target and adds it to the re-read state.
pub const SIGN_IN_ACTIVITY: &str = "signInActivity";

/// The exact state an action relies on; apply refuses the action when it no longer holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Precondition {
    pub checks: Vec<Check>,
    /// A hash of the checked values, to compare at a glance.
    pub fingerprint: String,
}

/// Why a precondition does not hold.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("stale action: `{property}` is {actual}, the plan expected {expected}")]
pub struct StalePrecondition {
    pub property: String,
    pub expected: String,
    pub actual: String,
}

impl Precondition {
    fn new(checks: Vec<Check>) -> Self {
        let mut hash = Fnv1a::new();
        for check in &checks {
            match check {
                Check::Equals { property, value } => {
                    hash.write_field(property);
                    hash.write_field(&value.to_string());
                }
                Check::Present { property } => {
                    hash.write_field(property);
                    hash.write_field("present");
                }
            }
        }
        Self {
            checks,
            fingerprint: format!("{:016x}", hash.finish()),
        }
    }

    /// The value the precondition expects `property` to equal, when it checks one.
    pub fn expected(&self, property: &str) -> Option<&serde_json::Value> {
        self.checks.iter().find_map(|check| match check {
            Check::Equals {
                property: checked,
                value,
            } if checked == property => Some(value),
            _ => None,
        })
    }

    /// Checks the precondition against an object's current state as JSON (a Graph user
    /// from [`cloud_state`], or an AD user serialized as in the AD snapshot).
    pub fn evaluate(&self, state: &serde_json::Value) -> Result<(), StalePrecondition> {
        for check in &self.checks {
            match check {
                Check::Equals { property, value } => {
                    let actual = state.get(&**property).unwrap_or(&serde_json::Value::Null);
                    if !json_equal(actual, value) {
                        return Err(StalePrecondition {
                            property: property.to_string(),
                            expected: value.to_string(),
                            actual: actual.to_string(),
                        });
                    }
                }
                Check::Present { property } => {
                    if state
                        .get(&**property)
                        .is_none_or(serde_json::Value::is_null)
                    {
                        return Err(StalePrecondition {
                            property: property.to_string(),
                            expected: "a value".to_owned(),
                            actual: "null".to_owned(),
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

/// Compares JSON values, treating an absent list like an empty one (Graph omits them).
fn json_equal(actual: &serde_json::Value, expected: &serde_json::Value) -> bool {
    match (actual, expected) {
        (serde_json::Value::Null, serde_json::Value::Array(items))
        | (serde_json::Value::Array(items), serde_json::Value::Null) => items.is_empty(),
        _ => actual == expected,
    }
}

/// A cloud user's state as preconditions read it: the Graph JSON plus role counts.
pub fn cloud_state(
    user: &CloudUser,
    active_role_assignments: usize,
    role_eligibilities: usize,
) -> serde_json::Value {
    let mut state = serde_json::to_value(user).unwrap_or(serde_json::Value::Null);
    if let Some(object) = state.as_object_mut() {
        object.insert(
            "activeRoleAssignments".to_owned(),
            active_role_assignments.into(),
        );
        object.insert("roleEligibilities".to_owned(), role_eligibilities.into());
        let skus: Vec<serde_json::Value> = user
            .assigned_licenses
            .iter()
            .map(|licence| licence.sku_id.as_str().into())
            .collect();
        object.insert("assignedLicenseSkuIds".to_owned(), skus.into());
    }
    state
}

/// One planned change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanAction {
    /// `a1`, `a2`, … in execution order.
    pub id: String,
    pub kind: ActionKind,
    pub target: ActionTarget,
    /// The value written: ImmutableID, UPN, address, container, sync policy type.
    #[serde(default)]
    pub value: Option<String>,
    pub reason: String,
    #[serde(default)]
    pub evidence: Vec<String>,
    #[serde(default)]
    pub depends_on: Vec<String>,
    #[serde(default)]
    pub irreversible: bool,
    #[serde(default)]
    pub precondition: Option<Precondition>,
    /// The AD user (distinguished name) this action serves; none for shared sync runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_user: Option<String>,
}

/// A cloud value the takeover replaces with the on-prem one (§11).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overwrite {
    pub property: String,
    pub cloud_value: String,
    pub on_premises_value: String,
}

/// A user the plan links.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedUser {
    pub distinguished_name: String,
    #[serde(default)]
    pub user_principal_name: Option<String>,
    pub immutable_id: String,
    pub target_id: String,
    pub target_user_principal_name: String,
    pub route: Route,
    pub overwrites: Vec<Overwrite>,
}

/// A selected user the plan does not change, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedUser {
    /// The AD DN, or the selection text when no AD user matched.
    pub user: String,
    /// A stable key: `already_linked`, `no_target`, `target_blocked`, `unsafe_deletion`, …
    pub code: String,
    pub reason: String,
}

/// A plan, as written to `plan.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    /// Supplied by the caller (the core has no clock).
    pub generated_at: String,
    /// A stable hash of the inputs (AD users and tenant state) the plan was computed from.
    pub fingerprint: String,
    /// A stable hash of `actions`; a mismatch means the file was edited by hand.
    pub actions_fingerprint: String,
    pub tenant_id: String,
    /// `true` when the tenant syncs password hashes: a takeover replaces the cloud password.
    /// `None` when the tenant's sync features could not be read.
    pub password_hash_sync: Option<bool>,
    pub policy: PlanPolicy,
    pub users: Vec<PlannedUser>,
    pub skipped: Vec<SkippedUser>,
    pub actions: Vec<PlanAction>,
}

/// Why no plan could be made at all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanRefusal {
    #[error("no AD user matches `{0}`")]
    UnknownAdUser(String),
    #[error("`{0}` matches more than one AD user")]
    AmbiguousAdUser(String),
    #[error("no cloud user matches `{0}`")]
    UnknownCloudUser(String),
    #[error(
        "the plan deletes {deletions} objects, more than the deletion threshold of {threshold}; plan fewer users at a time"
    )]
    DeletionThresholdExceeded { deletions: usize, threshold: u32 },
    #[error(
        "the tenant index given to the planner is of other users than the plan's tenant; index the plan's tenant"
    )]
    IndexOfOtherUsers,
}

/// Why a plan file cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanFileError {
    #[error("the plan file is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot write the plan file: {0}")]
    Write(#[source] std::io::Error),
    #[error("the plan file has no `format_version`")]
    MissingVersion,
    #[error(
        "the plan file has format version {found}; this hardmatch reads up to {supported}: upgrade hardmatch"
    )]
    NewerFormat { found: u64, supported: u32 },
    #[error(
        "the plan's actions do not match its fingerprint (expected `{expected}`, found `{found}`): it was edited after it was generated; make a new plan"
    )]
    HandEdited { expected: String, found: String },
}

impl Plan {
    /// Whether the plan changes anything (`plan` exits 2 when it does, 0 when not).
    pub fn has_changes(&self) -> bool {
        !self.actions.is_empty()
    }

    /// The plan file text, as [`Plan::write_json`] writes it.
    pub fn to_json(&self) -> Result<String, PlanFileError> {
        let mut text = Vec::new();
        self.write_json(&mut text)?;
        // The encoder writes UTF-8 only.
        String::from_utf8(text).map_err(|error| PlanFileError::Write(std::io::Error::other(error)))
    }

    /// Writes the plan file text into `writer` as it is encoded: a million-user plan is
    /// over a gigabyte of JSON, better not held in memory whole. The text is serde_json's
    /// pretty printing (a test holds the two equal), written by sonic-rs's serializer.
    pub fn write_json(&self, mut writer: impl std::io::Write) -> Result<(), PlanFileError> {
        self.write_json_in_pieces(Self::ITEMS_PER_PIECE, |piece| writer.write_all(&piece))
    }

    /// About a megabyte of plan file text: a piece of [`Plan::write_json_in_pieces`].
    pub const ITEMS_PER_PIECE: usize = 512;

    /// The plan file text, handed to `piece` in order, a few hundred
    /// users, skipped users or actions at a time (`items_per_piece`, at least one). Each
    /// piece is encoded whole before it is handed on, so a caller can encode on one core
    /// while it writes the pieces before on another: writing a gigabyte takes the kernel
    /// about as long as encoding it. An error of `piece` stops the encoding.
    pub fn write_json_in_pieces(
        &self,
        items_per_piece: usize,
        piece: impl FnMut(Vec<u8>) -> std::io::Result<()>,
    ) -> Result<(), PlanFileError> {
        let actions = |range| Ok((encode_pretty(&&self.actions[range])?, ()));
        write_plan_text(
            self,
            &self.actions_fingerprint,
            (self.users.len(), |range| encode_pretty(&&self.users[range])),
            (self.actions.len(), actions),
            drop,
            items_per_piece,
            piece,
        )?;
        Ok(())
    }

    /// Reads a plan file, refusing newer formats and hand-edited actions.
    ///
    /// The text is read straight into the plan's types: read into a JSON tree first, a
    /// million-user plan took over 6 GB. Only a file that does not read is looked at again,
    /// for its version, which explains more than the type error would.
    pub fn from_json(text: &str) -> Result<Self, PlanFileError> {
        match serde_json::from_str::<Self>(text) {
            Ok(plan) => plan.checked(),
            Err(error) => Err(Self::why_unreadable(text, error)),
        }
    }

    /// A plan as parsed from its file, refused when its format is newer than this build
    /// reads or its actions were edited. [`Plan::from_json`] checks what it parses; a caller
    /// that parses the file otherwise (as it is read, say) checks the result with this.
    pub fn checked(self) -> Result<Self, PlanFileError> {
        if self.format_version > PLAN_FORMAT_VERSION {
            return Err(PlanFileError::NewerFormat {
                found: u64::from(self.format_version),
                supported: PLAN_FORMAT_VERSION,
            });
        }
        let found = actions_fingerprint_like(&self.actions_fingerprint, &self.actions);
        if found != self.actions_fingerprint {
            return Err(PlanFileError::HandEdited {
                expected: self.actions_fingerprint,
                found,
            });
        }
        Ok(self)
    }

    /// The error for a file that does not read as a plan: no version, a newer version, or
    /// the parser's own words (a JSON syntax error, or a field of the wrong type).
    fn why_unreadable(text: &str, error: serde_json::Error) -> PlanFileError {
        #[derive(Deserialize)]
        struct Version {
            #[serde(default)]
            format_version: Option<serde_json::Value>,
        }
        let Ok(Version { format_version }) = serde_json::from_str::<Version>(text) else {
            return PlanFileError::Json(error);
        };
        match format_version.as_ref().and_then(serde_json::Value::as_u64) {
            None => PlanFileError::MissingVersion,
            Some(found) if found > u64::from(PLAN_FORMAT_VERSION) => PlanFileError::NewerFormat {
                found,
                supported: PLAN_FORMAT_VERSION,
            },
            Some(_) => PlanFileError::Json(error),
        }
    }
}

/// `value` as serde_json's pretty printer writes it (a test holds the two equal).
fn encode_pretty(value: &impl Serialize) -> Result<Vec<u8>, PlanFileError> {
    sonic_rs::to_vec_pretty(value)
        .map_err(std::io::Error::from)
        .map_err(PlanFileError::Write)
}

/// The text of the plan `outline` with the fingerprint `actions_fingerprint`, its users and
/// its actions: how many, and a function that encodes a range of them as a pretty-printed
/// list (for the actions, beside what `actions_encoded` then receives, in order). The
/// outline's own users and actions are not read. Returns where the fingerprint's text
/// starts in the file.
fn write_plan_text<Beside: Send>(
    outline: &Plan,
    actions_fingerprint: &str,
    (users, encode_users): (usize, impl Fn(Range<usize>) -> EncodedList + Sync),
    (actions, encode_actions): (usize, impl Fn(Range<usize>) -> EncodedWith<Beside> + Sync),
    actions_encoded: impl FnMut(Beside),
    items_per_piece: usize,
    mut piece: impl FnMut(Vec<u8>) -> std::io::Result<()>,
) -> Result<u64, PlanFileError> {
    let per_piece = items_per_piece.max(1);
    // The plan without its lists, which are then written into its text where their empty
    // brackets are.
    let shell = Plan {
        format_version: outline.format_version,
        generated_at: outline.generated_at.clone(),
        fingerprint: outline.fingerprint.clone(),
        actions_fingerprint: actions_fingerprint.to_owned(),
        tenant_id: outline.tenant_id.clone(),
        password_hash_sync: outline.password_hash_sync,
        policy: outline.policy.clone(),
        users: Vec::new(),
        skipped: Vec::new(),
        actions: Vec::new(),
    };
    let mut shell = encode_pretty(&shell)?;
    shell.push(b'\n');
    // The header comes before the lists, so the fingerprint's place in the shell is its
    // place in the file.
    let before = "\n  \"actions_fingerprint\": \"";
    let key = format!("{before}{actions_fingerprint}\"");
    let fingerprint_at = memchr::memmem::find(&shell, key.as_bytes())
        .map(|found| (found + before.len()) as u64)
        .ok_or_else(|| {
            // Never reached: the shell is the plan's own encoding of the field.
            PlanFileError::Write(std::io::Error::other(
                "the plan's actions fingerprint is not where the encoder looked for it",
            ))
        })?;
    let alone = |encoded: EncodedList| encoded.map(|text| (text, ()));
    let encode_listed_users = |range| alone(encode_users(range));
    let skipped = |range| alone(encode_pretty(&&outline.skipped[range]));
    let list = List {
        per_piece,
        shell: &shell,
    };
    let at = list.write(0, "users", (users, encode_listed_users), drop, &mut piece)?;
    let skipped_count = outline.skipped.len();
    let at = list.write(at, "skipped", (skipped_count, skipped), drop, &mut piece)?;
    let at = list.write(
        at,
        "actions",
        (actions, encode_actions),
        actions_encoded,
        &mut piece,
    )?;
    piece(shell.split_off(at)).map_err(PlanFileError::Write)?;
    Ok(fingerprint_at)
}

/// Items of a list encoded as a list of their own, pretty-printed.
type EncodedList = Result<Vec<u8>, PlanFileError>;

/// An encoded list, and what its encoding leaves to be read beside it.
type EncodedWith<Beside> = Result<(Vec<u8>, Beside), PlanFileError>;

/// The plan file's text around its top-level lists (`shell`, where they are empty), and how
/// many of a list's items go in a piece.
struct List<'shell> {
    per_piece: usize,
    shell: &'shell [u8],
}

impl List<'_> {
    /// Writes the shell from `at` up to the `[` of its top-level list `key`, then that
    /// list's `count` items a few at a time, and returns where the rest of the shell (from
    /// the `]`) begins. `encode` encodes a range of the items as a list of their own,
    /// whose elements are then indented one level deeper, as they stand in the plan; what
    /// it leaves beside the text goes to `beside`, in order. Pieces of a long list are
    /// encoded two at a time, on two cores, and handed on in order.
    fn write<Beside: Send>(
        &self,
        at: usize,
        key: &str,
        (count, encode): (usize, impl Fn(Range<usize>) -> EncodedWith<Beside> + Sync),
        mut beside: impl FnMut(Beside),
        piece: &mut impl FnMut(Vec<u8>) -> std::io::Result<()>,
    ) -> Result<usize, PlanFileError> {
        let shell = self.shell;
        // A top-level key is indented by two spaces: nested ones are deeper, and a string
        // holds no raw line break.
        let marker = format!("\n  \"{key}\": [");
        let Some(found) = memchr::memmem::find(&shell[at..], marker.as_bytes()) else {
            // Never reached: every plan has the three lists. Were one not found, the file
            // would lack it; refuse rather than write that.
            return Err(PlanFileError::Write(std::io::Error::other(format!(
                "the plan's `{key}` list is not where the encoder looked for it"
            ))));
        };
        let open = at + found + marker.len();
        piece(shell[at..open].to_vec()).map_err(PlanFileError::Write)?;
        let per_piece = self.per_piece;
        let pieces = count.div_ceil(per_piece);
        let indented = |number: usize| -> EncodedWith<Beside> {
            let start = number * per_piece;
            let (pretty, left) = encode(start..count.min(start + per_piece))?;
            // `[\n  …\n]`: the elements, two spaces deep.
            let elements = pretty
                .get(2..pretty.len().saturating_sub(2))
                .unwrap_or_default();
            let mut text = Vec::with_capacity(elements.len() + elements.len() / 8 + 4);
            text.extend_from_slice(if number == 0 { b"\n  " } else { b",\n  " });
            // Line by line: a gigabyte of plan pushed a byte at a time took a second.
            let mut line_start = 0;
            for newline in memchr::memchr_iter(b'\n', elements) {
                text.extend_from_slice(&elements[line_start..=newline]);
                text.extend_from_slice(b"  ");
                line_start = newline + 1;
            }
            text.extend_from_slice(&elements[line_start..]);
            if number + 1 == pieces {
                text.extend_from_slice(b"\n  ");
            }
            Ok((text, left))
        };
        parallel::in_order_by_twos(pieces, count, indented, |encoded| {
            let (text, left) = encoded?;
            beside(left);
            piece(text).map_err(PlanFileError::Write)
        })?;
        Ok(open)
    }
}

/// The hash of a plan's actions as written in `actions_fingerprint`: XXH3 (64 bits) of
/// every field of every action, each text after its length and each optional value, list
/// and variant after a marker, so that no edit of the file's actions reads back to the same
/// input. Hashing the fields instead of the actions' JSON, as plans did before, spares
/// encoding a million-user plan's actions once more (about a second) for each fingerprint.
pub fn actions_fingerprint(actions: &[PlanAction]) -> String {
    let mut hash = FieldsHash::default();
    hash.add(actions);
    hash.fingerprint()
}

/// [`actions_fingerprint`] taken a few actions at a time, in order.
#[derive(Default)]
struct FieldsHash(Xxh3Writer);

impl FieldsHash {
    fn add(&mut self, actions: &[PlanAction]) {
        for action in actions {
            FieldWriter(&mut self.0).action(action);
        }
    }

    fn fingerprint(self) -> String {
        fields_fingerprint(self.0.digest())
    }
}

/// An `xxh3-fields:` fingerprint's text.
fn fields_fingerprint(digest: u64) -> String {
    format!("{FIELDS_PREFIX}{digest:016x}")
}

const FIELDS_PREFIX: &str = "xxh3-fields:";
/// The prefix of the fingerprints plans carried before: XXH3 of the actions' compact JSON.
/// Such plans, and those with FNV-1a of the same JSON before that, are still checked as
/// written.
const XXH3_JSON_PREFIX: &str = "xxh3:";
const FNV_PREFIX: &str = "fnv1a64:";

/// The fingerprint of `actions` by the algorithm `stored` names.
fn actions_fingerprint_like(stored: &str, actions: &[PlanAction]) -> String {
    if stored.starts_with(FNV_PREFIX) {
        let mut hash = Fnv1a::new();
        write_compact(&mut hash, actions);
        format!("{FNV_PREFIX}{:016x}", hash.finish())
    } else if stored.starts_with(XXH3_JSON_PREFIX) {
        let mut hash = Xxh3Writer::default();
        write_compact(&mut hash, actions);
        format!("{XXH3_JSON_PREFIX}{:016x}", hash.digest())
    } else {
        actions_fingerprint(actions)
    }
}

/// Writes an action's fields for [`actions_fingerprint`]. Every struct is taken apart
/// whole (no `..`): a field added later does not compile until it is hashed too.
struct FieldWriter<'hash>(&'hash mut Xxh3Writer);

impl FieldWriter<'_> {
    fn bytes(&mut self, bytes: &[u8]) {
        // Writing into the hash's buffer cannot fail.
        let _ = std::io::Write::write_all(self.0, bytes);
    }

    fn count(&mut self, count: usize) {
        self.bytes(&(count as u64).to_le_bytes());
    }

    fn text(&mut self, text: &str) {
        self.count(text.len());
        self.bytes(text.as_bytes());
    }

    fn marker(&mut self, marker: u8) {
        self.bytes(&[marker]);
    }

    fn optional(&mut self, text: Option<&str>) {
        match text {
            None => self.marker(0),
            Some(text) => {
                self.marker(1);
                self.text(text);
            }
        }
    }

    fn texts(&mut self, texts: &[String]) {
        self.count(texts.len());
        for text in texts {
            self.text(text);
        }
    }

    fn action(&mut self, action: &PlanAction) {
        let PlanAction {
            id,
            kind,
            target,
            value,
            reason,
            evidence,
            depends_on,
            irreversible,
            precondition,
            for_user,
        } = action;
        let ActionTarget {
            directory,
            id: target_id,
            user_principal_name,
            distinguished_name,
        } = target;
        self.text(id);
        self.text(kind.name());
        self.marker(match directory {
            Directory::Cloud => 0,
            Directory::ActiveDirectory => 1,
            Directory::SyncServer => 2,
        });
        self.optional(target_id.as_deref());
        self.optional(user_principal_name.as_deref());
        self.optional(distinguished_name.as_deref());
        self.optional(value.as_deref());
        self.text(reason);
        self.texts(evidence);
        self.texts(depends_on);
        self.marker(u8::from(*irreversible));
        match precondition {
            None => self.marker(0),
            Some(Precondition {
                checks,
                fingerprint,
            }) => {
                self.marker(1);
                self.count(checks.len());
                for check in checks {
                    match check {
                        Check::Equals { property, value } => {
                            self.marker(0);
                            self.text(property);
                            self.json(value);
                        }
                        Check::Present { property } => {
                            self.marker(1);
                            self.text(property);
                        }
                    }
                }
                self.text(fingerprint);
            }
        }
        self.optional(for_user.as_deref());
    }

    fn json(&mut self, value: &serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::Null => self.marker(0),
            Value::Bool(flag) => {
                self.marker(1);
                self.marker(u8::from(*flag));
            }
            Value::Number(number) => {
                self.marker(2);
                self.text(&number.to_string());
            }
            Value::String(text) => {
                self.marker(3);
                self.text(text);
            }
            Value::Array(items) => {
                self.marker(4);
                self.count(items.len());
                for item in items {
                    self.json(item);
                }
            }
            Value::Object(entries) => {
                self.marker(5);
                self.count(entries.len());
                for (key, item) in entries {
                    self.text(key);
                    self.json(item);
                }
            }
        }
    }
}

/// Writes the same bytes as `serde_json::to_string` (by the serializer that writes plan
/// files), hashed as they are produced rather than collected into one string first.
fn write_compact(hash: &mut impl std::io::Write, actions: &[PlanAction]) {
    // Serialising actions cannot fail: every map key is a string and no field has a
    // fallible serializer, and the hashing writers take every byte.
    let _ = sonic_rs::to_writer(sonic_rs::writer::BufferedWriter::new(hash), actions);
}

/// XXH3 over what is written, fed in blocks: the writers write a token or a field at a time.
#[derive(Default)]
struct Xxh3Writer {
    hash: xxhash_rust::xxh3::Xxh3Default,
    pending: Vec<u8>,
}

impl Xxh3Writer {
    const BLOCK: usize = 64 << 10;

    fn flush_into_hash(&mut self) {
        self.hash.update(&self.pending);
        self.pending.clear();
    }

    /// The hash of everything written.
    fn digest(mut self) -> u64 {
        self.flush_into_hash();
        self.hash.digest()
    }
}

impl std::io::Write for Xxh3Writer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(bytes);
        if self.pending.len() >= Self::BLOCK {
            self.flush_into_hash();
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A stable hash of everything the planner reads. Two runs on the same data agree; any
/// change to an AD user, a cloud user, a role or a tenant flag changes it.
pub fn inputs_fingerprint(ad_users: &[AdUser], tenant: &TenantSnapshot) -> String {
    let mut hash = Fnv1a::new();
    hash.write_field(&tenant.tenant.id);
    hash.write_field(&serde_json::to_string(&tenant.tenant).unwrap_or_default());
    for user in ad_users {
        hash.write_field(&user.distinguished_name);
        hash.write_field(user.immutable_id.as_str());
        hash.write_field(user.user_principal_name.as_deref().unwrap_or(""));
        hash.write_field(user.mail.as_deref().unwrap_or(""));
        for address in &user.proxy_addresses {
            hash.write_field(address);
        }
        hash.write_field(if user.consistency_guid.is_some() {
            "cg"
        } else {
            ""
        });
    }
    for user in &tenant.users {
        hash.write_field(&user.id);
        hash.write_field(&user.user_principal_name);
        hash.write_field(
            user.on_premises_immutable_id
                .as_ref()
                .map_or("", |anchor| anchor.as_str()),
        );
        hash.write_field(match user.on_premises_sync_enabled {
            Some(true) => "t",
            Some(false) => "f",
            None => "",
        });
        hash.write_field(user.deleted_date_time.as_deref().unwrap_or(""));
        hash.write_field(user.mail.as_deref().unwrap_or(""));
        for address in &user.proxy_addresses {
            hash.write_field(address);
        }
        for licence in &user.assigned_licenses {
            hash.write_field(&licence.sku_id);
        }
        hash.write_field(user.on_premises_object_identifier.as_deref().unwrap_or(""));
    }
    for assignment in tenant
        .role_assignments
        .iter()
        .chain(&tenant.role_eligibilities)
    {
        hash.write_field(&assignment.principal_id);
        hash.write_field(&assignment.role_definition_id);
    }
    format!("fnv1a64:{:016x}", hash.finish())
}

/// Everything the planner reads.
#[derive(Clone, Copy, Debug)]
pub struct PlanInput<'a> {
    pub ad_users: &'a [AdUser],
    pub tenant: &'a TenantSnapshot,
    /// The diagnosis of exactly these inputs, from [`crate::diagnose::diagnose`].
    pub diagnosis: &'a Diagnosis<'a>,
    /// Connect's joins when known; else inferred from the tenant, as the diagnosis does.
    pub connector_space: Option<&'a ConnectorSpace>,
    pub selection: &'a Selection,
    pub policy: &'a PlanPolicy,
    /// RFC 3339, supplied by the caller; also the reference for "recent" sign-ins.
    pub generated_at: &'a str,
}

/// Computes a plan. Users that cannot be linked safely are listed in [`Plan::skipped`]
/// with the reason; only problems with the request itself refuse the whole plan.
pub fn plan(input: &PlanInput<'_>) -> Result<Plan, PlanRefusal> {
    let index = CloudIndex::of(input.tenant);
    Ok(Planner::new(input, &index).run()?.into_plan())
}

/// [`plan`] on the index the diagnosis used ([`crate::diagnose::diagnose_with`]), so that
/// the tenant is indexed once per run. An index of other users than the input tenant's is
/// not used: the tenant is then indexed again.
pub fn plan_with(input: &PlanInput<'_>, index: &CloudIndex<'_>) -> Result<Plan, PlanRefusal> {
    if !index.indexes(&input.tenant.users) {
        return plan(input);
    }
    Ok(Planner::new(input, index).run()?.into_plan())
}

/// [`plan_with`], with the actions left as drafts until they are written
/// ([`DraftedPlan::write_json_in_pieces`]): the plan a million users need, made whole,
/// takes over a gigabyte more than its drafts. `index` must be the input tenant's.
pub fn draft_plan<'input>(
    input: &'input PlanInput<'input>,
    index: &'input CloudIndex<'input>,
) -> Result<DraftedPlan<'input>, PlanRefusal> {
    if !index.indexes(&input.tenant.users) {
        return Err(PlanRefusal::IndexOfOtherUsers);
    }
    Planner::new(input, index).run()
}

/// The actions' fingerprint of a plan file written by [`DraftedPlan::write_json_in_pieces`]:
/// its `text` goes over the zeros that stand `offset` bytes into the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LateFingerprint {
    pub offset: u64,
    pub text: String,
}

/// A plan whose actions are drafts that name their users: each action is made from the
/// inputs when it is read ([`DraftedPlan::actions_of_kind`]), shown
/// ([`DraftedPlan::render_show_up_to`]) or written ([`DraftedPlan::write_json_in_pieces`]),
/// and the text is the same as [`DraftedPlan::into_plan`] gives.
pub struct DraftedPlan<'input> {
    /// The plan without its users, its actions and their fingerprint.
    outline: Plan,
    texts: Texts<'input>,
    users: Vec<HeldUser>,
    actions: Vec<HeldAction>,
}

impl DraftedPlan<'_> {
    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    pub fn skipped(&self) -> &[SkippedUser] {
        &self.outline.skipped
    }

    pub fn action_count(&self) -> usize {
        self.actions.len()
    }

    /// Whether the plan changes anything, as [`Plan::has_changes`].
    pub fn has_changes(&self) -> bool {
        !self.actions.is_empty()
    }

    /// The actions of one kind, in order.
    pub fn actions_of_kind(&self, kind: ActionKind) -> impl Iterator<Item = PlanAction> + '_ {
        self.actions
            .iter()
            .enumerate()
            .filter(move |(_, held)| held.draft.kind == kind)
            .map(|(position, held)| self.texts.action(position, held))
    }

    /// The users from `range`, made.
    fn made_users(&self, range: Range<usize>) -> Vec<PlannedUser> {
        self.users[range]
            .iter()
            .map(|held| self.texts.user(held, &self.actions))
            .collect()
    }

    /// The actions from `range`, made.
    fn made_actions(&self, range: Range<usize>) -> Vec<PlanAction> {
        let start = range.start;
        self.actions[range]
            .iter()
            .enumerate()
            .map(|(offset, held)| self.texts.action(start + offset, held))
            .collect()
    }

    /// The plan with every action made.
    pub fn into_plan(self) -> Plan {
        let users = self.made_users(0..self.users.len());
        let actions = self.made_actions(0..self.actions.len());
        Plan {
            actions_fingerprint: actions_fingerprint(&actions),
            users,
            actions,
            ..self.outline
        }
    }

    /// The plan file text, as [`Plan::write_json_in_pieces`] writes the plan
    /// [`DraftedPlan::into_plan`] gives, but for the actions' fingerprint: the text names
    /// it before the actions, and it is known only once they are all made, so it is written
    /// as zeros, and the caller writes the [`LateFingerprint`] over them before the file is
    /// used. A file left with the zeros is refused as edited by [`Plan::from_json`].
    pub fn write_json_in_pieces(
        &self,
        items_per_piece: usize,
        piece: impl FnMut(Vec<u8>) -> std::io::Result<()>,
    ) -> Result<LateFingerprint, PlanFileError> {
        let zeros = fields_fingerprint(0);
        let mut hash = FieldsHash::default();
        let actions = |range| {
            let made = self.made_actions(range);
            Ok((encode_pretty(&made)?, made))
        };
        let hashed = |made: Vec<PlanAction>| hash.add(&made);
        let offset = write_plan_text(
            &self.outline,
            &zeros,
            (self.users.len(), |range| {
                encode_pretty(&self.made_users(range))
            }),
            (self.actions.len(), actions),
            hashed,
            items_per_piece,
            piece,
        )?;
        Ok(LateFingerprint {
            offset,
            text: hash.fingerprint(),
        })
    }

    /// [`render_show_up_to`] of the plan [`DraftedPlan::into_plan`] gives, making only the
    /// users and actions shown.
    pub fn render_show_up_to(&self, limit: usize) -> String {
        let users = self.made_users(0..self.users.len().min(limit));
        let shown = self.made_actions(0..self.actions.len().min(limit));
        let kinds = self.actions.iter().map(|held| {
            let kind = held.draft.kind;
            (kind, is_irreversible(kind))
        });
        let shown = Shown {
            outline: &self.outline,
            users: &users,
            user_count: self.users.len(),
            actions: &shown,
            totals: ActionTotals::of(kinds),
        };
        shown.render(limit)
    }
}

/// An AD user selected for the plan, by position; the target a mapping names, if it names
/// one; and the name it was selected by. An all-safe plan selects hundreds of thousands:
/// none of it is copied.
struct Selected<'a> {
    ad_index: usize,
    target: Option<usize>,
    name: &'a str,
}

/// A cloud user that holds the AD user's anchor and must stop holding it.
enum HolderFix {
    Clear,
    Purge,
    RestoreAndClear,
    /// The joined duplicate: delete-and-purge or out-of-scope route.
    Duplicate,
}

/// Actions for one user before ids are assigned.
#[derive(Default)]
struct UserActions {
    /// AD preparation (UPN, addresses, consistency GUID).
    ad_preparation: Vec<Draft>,
    /// Route B: moves out of scope (before the first sync).
    move_out: Vec<Draft>,
    /// Soft deletes (route A), restores, purges, clears; in order, each depending on the
    /// previous one for the same object.
    cloud_cleanup: Vec<Draft>,
    /// Cleanup that must wait for the first sync (route B purges).
    after_first_sync: Vec<Draft>,
    set: Option<Draft>,
    /// Route B: moves back into scope.
    move_in: Vec<Draft>,
}

impl UserActions {
    /// Gives back the spare room of each list. A list holds one or two drafts and a vector
    /// grows to room for four: held for hundreds of thousands of users until they are
    /// assembled, the spare room adds up.
    fn shrink_to_fit(&mut self) {
        for list in [
            &mut self.ad_preparation,
            &mut self.move_out,
            &mut self.cloud_cleanup,
            &mut self.after_first_sync,
            &mut self.move_in,
        ] {
            list.shrink_to_fit();
        }
    }

    fn len(&self) -> usize {
        self.ad_preparation.len()
            + self.move_out.len()
            + self.cloud_cleanup.len()
            + self.after_first_sync.len()
            + usize::from(self.set.is_some())
            + self.move_in.len()
    }
}

/// An action as the planner holds it until the plan is read or written: what it does, to
/// which object, for which user, and which of the planner's explanations it carries. Its
/// text (target, reason, evidence, precondition) is made from the inputs when it is needed:
/// made when planned, a million-user plan's actions took 1.3 GB on top of the diagnosis.
struct Draft {
    kind: ActionKind,
    /// The AD user the action serves, by position; none for the syncs.
    for_user: Option<u32>,
    object: Object,
    value: Option<String>,
    why: Why,
    evidence: DraftEvidence,
    expects: Expect,
    /// Depends on the previous draft in the same list (same object's earlier step).
    after_previous: bool,
}

/// What an action changes.
#[derive(Clone, Copy)]
enum Object {
    /// The AD user the action serves.
    AdUser,
    /// A cloud user, by position in the tenant.
    CloudUser(u32),
    SyncServer,
}

/// The state an action's precondition expects of its object.
#[derive(Clone, Copy)]
enum Expect {
    Nothing,
    /// The AD user as read.
    AdUser,
    /// The cloud user as read.
    CloudUser,
    /// As read, and with the sign-in activity the plan read: a soft delete's, so that an
    /// account someone signed in to since is not deleted.
    CloudUserWithSignIn,
    /// As read but out of the recycle bin, where the plan's own restore puts it.
    Restored,
    /// In the recycle bin, where the plan's own soft delete (or the sync) puts it.
    Deleted,
}

/// What an action shows as its evidence.
#[derive(Clone, Copy)]
enum DraftEvidence {
    None,
    /// The cloud user at this position, described.
    Account(u32),
    /// The link's target (the object), described, and the ImmutableID the link replaces,
    /// if it has one: `true` when an AD object has that value.
    Link {
        replaced_is_in_ad: bool,
    },
}

/// Why an action is planned: each of the planner's explanations, with the users it names
/// other than the object and the AD user served.
#[derive(Clone, Copy)]
enum Why {
    /// An active cloud-only holder of the anchor keeps its account, without the anchor.
    HolderKeepsAccount,
    /// A holder in the recycle bin is purged.
    HolderPurged,
    /// A holder in the recycle bin, unsafe to purge, is restored to be cleared.
    HolderRestored,
    /// The restored holder is cleared.
    RestoredHolderCleared,
    /// The AD user leaves the sync scope, so that the sync deletes its duplicate.
    MoveOut {
        duplicate: u32,
    },
    /// The AD user comes back into scope and hard-matches its target.
    MoveIn {
        target: u32,
    },
    /// The duplicate the sync created is deleted.
    Duplicate,
    /// The target is restored from the recycle bin.
    TargetInRecycleBin,
    /// The anchor is set on the target.
    Link,
    /// The AD user's UPN suffix is not a verified domain.
    UnverifiedSuffix,
    /// `mail` is written as the primary address before other addresses are added.
    KeepPrimary,
    /// An address of the target (`holder`) is copied to AD; the address is the value's.
    CopyAddress {
        holder: u32,
    },
    ConsistencyGuid,
    FirstSync,
    FinalSync,
}

/// A planned user as the planner holds it: the AD user and its target by position, and
/// where its AD preparation stands among the actions (the takeover's overwrites are of the
/// prepared AD user).
struct HeldUser {
    ad: u32,
    target: u32,
    route: Route,
    preparation: Range<u32>,
}

/// An action in the plan's order: its id is `a` and its position plus one.
struct HeldAction {
    draft: Draft,
    /// The positions of the actions it waits for.
    depends_on: Vec<u32>,
}

/// What an action's text is made from: the plan's inputs. The planner decides with it, and
/// a [`DraftedPlan`] makes each action's text with it when the action is read or written.
#[derive(Clone, Copy)]
struct Texts<'input> {
    ad_users: &'input [AdUser],
    tenant: &'input TenantSnapshot,
    index: &'input CloudIndex<'input>,
    /// The plan's time, in days since the epoch, for the age of sign-ins.
    now_days: Option<i64>,
}

impl<'input> Texts<'input> {
    fn cloud(&self, position: u32) -> &'input CloudUser {
        &self.tenant.users[position as usize]
    }

    fn roles_of(&self, user: &CloudUser) -> (usize, usize) {
        let count = |assignments: &[crate::tenant::RoleAssignment]| {
            assignments
                .iter()
                .filter(|assignment| assignment.principal_id == user.id)
                .count()
        };
        let active = if self.index.assigned_roles.contains(user.id.as_str()) {
            count(&self.tenant.role_assignments)
        } else {
            0
        };
        let eligible = if self.index.eligible_roles.contains(user.id.as_str()) {
            count(&self.tenant.role_eligibilities)
        } else {
            0
        };
        (active, eligible)
    }

    fn last_sign_in_days(&self, user: &CloudUser) -> Option<i64> {
        last_sign_in_days(user.sign_in_activity.as_deref()?, self.now_days?)
    }

    /// The action at `position` of the plan, made from its draft.
    fn action(&self, position: usize, held: &HeldAction) -> PlanAction {
        let draft = &held.draft;
        let ad = draft
            .for_user
            .map(|ad_index| &self.ad_users[ad_index as usize]);
        let object = match draft.object {
            Object::CloudUser(position) => Some(self.cloud(position)),
            Object::AdUser | Object::SyncServer => None,
        };
        let target = match (draft.object, ad, object) {
            (Object::CloudUser(_), _, Some(user)) => Self::cloud_target(user),
            (Object::AdUser, Some(ad), _) => Self::ad_target(ad),
            _ => ActionTarget {
                directory: Directory::SyncServer,
                id: None,
                user_principal_name: None,
                distinguished_name: None,
            },
        };
        let evidence = match (draft.evidence, object) {
            (DraftEvidence::Account(position), _) => vec![self.describe(self.cloud(position))],
            (DraftEvidence::Link { replaced_is_in_ad }, Some(target)) => {
                let mut evidence = vec![self.describe(target)];
                if let Some(old) = &target.on_premises_immutable_id {
                    evidence.push(format!(
                        "replaces ImmutableID {old}, which {}",
                        if replaced_is_in_ad {
                            "another AD object has"
                        } else {
                            "no AD object has (an orphan)"
                        }
                    ));
                }
                evidence
            }
            _ => Vec::new(),
        };
        let precondition = match (draft.expects, ad, object) {
            (Expect::AdUser, Some(ad), _) => Some(Self::ad_precondition(ad)),
            (Expect::Nothing, ..) | (Expect::AdUser, None, _) | (_, _, None) => None,
            (cloud, _, Some(user)) => Some(self.cloud_precondition(user, cloud)),
        };
        PlanAction {
            id: action_id(position),
            kind: draft.kind,
            target,
            value: draft.value.clone(),
            reason: self.reason(draft, ad, object),
            evidence,
            depends_on: held
                .depends_on
                .iter()
                .map(|&at| action_id(at as usize))
                .collect(),
            irreversible: is_irreversible(draft.kind),
            precondition,
            for_user: Some(ad.map_or(String::new(), |ad| ad.distinguished_name.to_string())),
        }
    }

    fn reason(&self, draft: &Draft, ad: Option<&AdUser>, object: Option<&CloudUser>) -> String {
        let name = ad.map_or("", |ad| ad.distinguished_name.as_str());
        let anchor = ad.map_or("", |ad| ad.immutable_id.as_str());
        let object = object.map_or("", |user| user.user_principal_name.as_str());
        // An address copied to AD is the proxy address's value.
        let address = draft
            .value
            .as_deref()
            .and_then(smtp_value)
            .unwrap_or_default();
        match draft.why {
            Why::HolderKeepsAccount => format!(
                "{object} holds {anchor}; it keeps its account but not the ImmutableID (§15 C 10)"
            ),
            Why::HolderPurged => format!(
                "{object} reserves the ImmutableID from the recycle bin; purge it so the target can take the value (§12, §15 C 9). Permanent: it cannot be restored"
            ),
            Why::HolderRestored => format!(
                "{object} in the recycle bin reserves {anchor} and is not safe to purge: restore it, then clear it (§12, §15 C 10)"
            ),
            Why::RestoredHolderCleared => format!(
                "keep {object} as a cloud account without the ImmutableID, or Connect deletes it again (§12)"
            ),
            Why::MoveOut { duplicate } => format!(
                "take {name} out of sync scope so that the sync soft-deletes its duplicate {} (§15 C 9)",
                self.cloud(duplicate).user_principal_name
            ),
            Why::MoveIn { target } => format!(
                "bring {name} back into scope: the next cycle provisions it as new and hard-matches {}",
                self.cloud(target).user_principal_name
            ),
            Why::Duplicate => format!(
                "{object} is the duplicate the sync created for {name}; while {name} is joined to it, no match is evaluated (§4, §15 C 9)"
            ),
            Why::TargetInRecycleBin => format!("the target {object} is in the recycle bin"),
            Why::Link => {
                format!("link {object} to {name}: the next sync hard-matches it (§4, §15 D 13)")
            }
            Why::UnverifiedSuffix => format!(
                "the UPN suffix of {} is not a verified tenant domain: the sync would export it on {} (§15 A, first step of the manual procedure)",
                ad.and_then(|ad| ad.user_principal_name.as_deref())
                    .unwrap_or("(none)"),
                self.tenant.tenant.initial_domain
            ),
            Why::KeepPrimary => format!(
                "keep {address} as the primary address once proxyAddresses holds other addresses (§11)"
            ),
            Why::CopyAddress { holder } => format!(
                "{} has {address}; the takeover replaces proxyAddresses with AD's, so copy it to AD first (§11, §15 B 8)",
                self.cloud(holder).user_principal_name
            ),
            Why::ConsistencyGuid => "the anchor attribute is mS-DS-ConsistencyGuid and it is empty: write the objectGUID into it so the exported anchor does not depend on Connect's write permission (§3)".to_owned(),
            Why::FirstSync => {
                "the sync soft-deletes the duplicates of the users moved out of scope (§12)"
                    .to_owned()
            }
            Why::FinalSync => "the next cycle re-provisions each AD user joined to a removed object as new, so it hard-matches its account (§4, §15 D 14)".to_owned(),
        }
    }

    /// The planned user `held`, whose AD preparation is among `actions`.
    fn user(&self, held: &HeldUser, actions: &[HeldAction]) -> PlannedUser {
        let ad = &self.ad_users[held.ad as usize];
        let target = self.cloud(held.target);
        let preparation = &actions[held.preparation.start as usize..held.preparation.end as usize];
        let prepared = prepared_ad(ad, preparation.iter().map(|held| &held.draft));
        PlannedUser {
            distinguished_name: ad.distinguished_name.to_string(),
            user_principal_name: ad.user_principal_name.as_deref().map(str::to_owned),
            immutable_id: ad.immutable_id.to_string(),
            target_id: target.id.to_string(),
            target_user_principal_name: target.user_principal_name.to_string(),
            route: held.route,
            overwrites: self.overwrites(&prepared, target),
        }
    }

    /// The cloud values a takeover replaces (§11).
    fn overwrites(&self, ad: &AdUser, target: &CloudUser) -> Vec<Overwrite> {
        let mut overwrites = Vec::new();
        let mut compare = |property: &str, cloud: String, on_premises: String| {
            if cloud != on_premises {
                overwrites.push(Overwrite {
                    property: property.to_owned(),
                    cloud_value: cloud,
                    on_premises_value: on_premises,
                });
            }
        };
        let tenant = &self.tenant.tenant;
        let upn = match ad.user_principal_name.as_deref() {
            Some(upn)
                if domain_of(upn)
                    .is_some_and(|suffix| tenant.verified_domain(suffix).is_some()) =>
            {
                upn.to_owned()
            }
            Some(upn) => format!(
                "{}@{} (unverified suffix)",
                upn.rsplit_once('@').map_or(upn, |(local, _)| local),
                tenant.initial_domain
            ),
            None => "(none)".to_owned(),
        };
        compare(
            "userPrincipalName",
            target.user_principal_name.to_string(),
            upn,
        );
        if let Some(display_name) = &ad.display_name {
            compare(
                "displayName",
                target
                    .display_name
                    .as_deref()
                    .unwrap_or_default()
                    .to_owned(),
                display_name.to_string(),
            );
        }
        compare(
            "mail",
            target.mail.as_deref().unwrap_or_default().to_owned(),
            ad.mail.as_deref().unwrap_or_default().to_owned(),
        );
        let mut ad_proxies = ad.proxy_addresses.clone();
        if !ad_proxies
            .iter()
            .any(|address| smtp_value(address).is_some())
            && let Some(mail) = &ad.mail
        {
            ad_proxies.push(format!("SMTP:{mail}"));
        }
        compare(
            "proxyAddresses",
            target.proxy_addresses.join(", "),
            ad_proxies.join(", "),
        );
        overwrites
    }

    /// The precondition of a cloud action: the user's state as `expects` has it.
    fn cloud_precondition(&self, user: &CloudUser, expects: Expect) -> Precondition {
        let (active, eligible) = self.roles_of(user);
        let mut checks = vec![
            Check::Equals {
                property: "id".into(),
                value: user.id.as_str().into(),
            },
            Check::Equals {
                property: "onPremisesImmutableId".into(),
                value: user
                    .on_premises_immutable_id
                    .as_ref()
                    .map_or(serde_json::Value::Null, |anchor| anchor.as_str().into()),
            },
        ];
        if let Expect::Deleted = expects {
            checks.push(Check::Present {
                property: "deletedDateTime".into(),
            });
        } else {
            checks.push(Check::Equals {
                property: "onPremisesSyncEnabled".into(),
                value: user
                    .on_premises_sync_enabled
                    .map_or(serde_json::Value::Null, Into::into),
            });
            let deleted = match expects {
                Expect::Restored => None,
                _ => user.deleted_date_time.as_deref(),
            };
            checks.push(Check::Equals {
                property: "deletedDateTime".into(),
                value: deleted.map_or(serde_json::Value::Null, Into::into),
            });
        }
        checks.push(Check::Equals {
            property: "assignedLicenseSkuIds".into(),
            value: user
                .assigned_licenses
                .iter()
                .map(|licence| serde_json::Value::from(licence.sku_id.as_str()))
                .collect::<Vec<_>>()
                .into(),
        });
        checks.push(Check::Equals {
            property: "activeRoleAssignments".into(),
            value: active.into(),
        });
        checks.push(Check::Equals {
            property: "roleEligibilities".into(),
            value: eligible.into(),
        });
        if let Expect::CloudUserWithSignIn = expects
            && let Some(activity) = &user.sign_in_activity
        {
            checks.push(Check::Equals {
                property: SIGN_IN_ACTIVITY.into(),
                value: serde_json::to_value(activity).unwrap_or(serde_json::Value::Null),
            });
        }
        Precondition::new(checks)
    }

    fn ad_precondition(ad: &AdUser) -> Precondition {
        Precondition::new(vec![
            Check::Equals {
                property: "distinguished_name".into(),
                value: ad.distinguished_name.as_str().into(),
            },
            Check::Equals {
                property: "immutable_id".into(),
                value: ad.immutable_id.as_str().into(),
            },
            Check::Equals {
                property: "user_principal_name".into(),
                value: ad
                    .user_principal_name
                    .as_deref()
                    .map_or(serde_json::Value::Null, Into::into),
            },
            Check::Equals {
                property: "proxy_addresses".into(),
                value: ad.proxy_addresses.clone().into(),
            },
        ])
    }

    fn cloud_target(user: &CloudUser) -> ActionTarget {
        ActionTarget {
            directory: Directory::Cloud,
            id: Some(user.id.to_string()),
            user_principal_name: Some(user.user_principal_name.to_string()),
            distinguished_name: None,
        }
    }

    fn ad_target(ad: &AdUser) -> ActionTarget {
        ActionTarget {
            directory: Directory::ActiveDirectory,
            id: Some(ad.object_guid.to_string()),
            user_principal_name: ad.user_principal_name.as_deref().map(str::to_owned),
            distinguished_name: Some(ad.distinguished_name.to_string()),
        }
    }

    fn describe(&self, user: &CloudUser) -> String {
        let (active, eligible) = self.roles_of(user);
        let sign_in = match (self.last_sign_in_days(user), &user.sign_in_activity) {
            (Some(days), _) => format!("last sign-in {days} day(s) ago"),
            // Graph keeps no sign-in from before April 2020: none on record is not "unused".
            (None, Some(_)) => "no sign-in on record (never, or before April 2020)".to_owned(),
            (None, None) => "sign-in activity unknown (not the same as unused)".to_owned(),
        };
        let created = user
            .created_date_time
            .as_deref()
            .and_then(|created| created.get(..10))
            .map_or(String::new(), |date| format!(", created {date}"));
        format!(
            "{} ({}{created}): ImmutableID {}, onPremisesSyncEnabled {}, {}, {} licence(s), mailbox {}, {} active role(s), {} PIM eligibilit(ies), {}",
            user.user_principal_name,
            user.id,
            user.on_premises_immutable_id
                .as_ref()
                .map_or("none", |anchor| anchor.as_str()),
            user.on_premises_sync_enabled
                .map_or("null".to_owned(), |value| value.to_string()),
            if user.is_deleted() {
                "in the recycle bin"
            } else {
                "active"
            },
            user.assigned_licenses.len(),
            if has_mailbox(user) { "likely" } else { "no" },
            active,
            eligible,
            sign_in
        )
    }
}

/// Whether the planner marks actions of `kind` irreversible: purges are permanent.
fn is_irreversible(kind: ActionKind) -> bool {
    kind == ActionKind::PurgeDeleted
}

/// The id of the action at `position`: `a1` for the first.
fn action_id(position: usize) -> String {
    format!("a{}", position + 1)
}

struct Planner<'a, 'input> {
    input: &'input PlanInput<'a>,
    index: &'input CloudIndex<'a>,
    /// Connect's joins by anchor, when the caller knows them; else they are inferred
    /// ([`Planner::joined_to`]).
    joined: HashMap<&'a str, &'a str>,
    ad_by_name: MultiIndex<Folded<'a>>,
    ad_anchors: FieldIndex<'a, AdUser, AdAnchor>,
    texts: Texts<'input>,
}

impl<'a, 'input> Planner<'a, 'input> {
    fn new(input: &'input PlanInput<'a>, index: &'input CloudIndex<'a>) -> Self {
        // Names resolve `--user` and mapping entries; an all-safe plan looks none up, and at a
        // million users this index alone takes seconds and hundreds of megabytes.
        let by_name = !matches!(input.selection, Selection::AllSafe);
        // Anchors on this core, names on the other.
        let (ad_anchors, ad_by_name) = parallel::both(
            || FieldIndex::of_all(input.ad_users),
            || {
                let mut ad_by_name =
                    MultiIndex::with_capacity(if by_name { input.ad_users.len() * 3 } else { 0 });
                if by_name {
                    for (position, user) in positions(input.ad_users) {
                        ad_by_name.insert(Folded(user.distinguished_name.as_str()), position);
                        if let Some(upn) = &user.user_principal_name {
                            ad_by_name.insert(Folded(upn.as_str()), position);
                        }
                        if let Some(sam) = &user.sam_account_name {
                            ad_by_name.insert(Folded(sam.as_str()), position);
                        }
                    }
                }
                ad_by_name
            },
        );
        Self {
            input,
            index,
            joined: HashMap::default(),
            ad_by_name,
            ad_anchors,
            texts: Texts {
                ad_users: input.ad_users,
                tenant: input.tenant,
                index,
                now_days: days_since_epoch(input.generated_at),
            },
        }
    }

    fn cloud(&self, position: usize) -> &'a CloudUser {
        &self.input.tenant.users[position]
    }

    /// The id of the cloud user the AD user with `anchor` is joined to. Without Connect's
    /// joins, as [`ConnectorSpace::infer`] has them: the active synced user holding the
    /// anchor, the last one should several.
    fn joined_to(&self, anchor: &'a str) -> Option<&'a str> {
        if self.input.connector_space.is_some() {
            return self.joined.get(anchor).copied();
        }
        let holders = self.index.active_by_anchor.get(&anchor);
        holders
            .iter()
            .rev()
            .map(|&position| self.cloud(position as usize))
            .find(|user| user.is_synced())
            .map(|user| user.id.as_str())
    }

    /// The diagnosis of one AD user. Diagnoses are in AD order, but a caller may have
    /// filtered one for display: then the user is looked up by its `ad_index`.
    fn status_of(&self, ad_index: usize) -> Option<&'a crate::diagnose::UserStatus<'a>> {
        let users = &self.input.diagnosis.users;
        match users.get(ad_index) {
            Some(status) if status.ad_index == ad_index => Some(status),
            _ => users.iter().find(|status| status.ad_index == ad_index),
        }
    }

    fn run(mut self) -> Result<DraftedPlan<'input>, PlanRefusal> {
        let input = self.input;
        if let Some(space) = input.connector_space {
            for join in &space.joins {
                self.joined
                    .insert(join.source_anchor.as_str(), join.cloud_user_id.as_str());
            }
        }

        let selected = self.selected()?;
        // Targets are resolved in order (a target goes to the first user who names it); each
        // user's actions then depend only on the inputs, so the two halves are planned on the
        // two cores and put back in order.
        let mut claimed_targets: HashMap<usize, usize> = HashMap::default();
        let steps: Vec<Result<(usize, usize), SkippedUser>> = selected
            .into_iter()
            .map(
                |Selected {
                     ad_index,
                     target,
                     name,
                 }| {
                    let ad = &input.ad_users[ad_index];
                    let target = match target {
                        Some(target) => Some(Ok(target)),
                        None => self.target_from_diagnosis(ad_index),
                    };
                    match target {
                        Some(Ok(target)) => {
                            if let Some(&other) = claimed_targets.get(&target) {
                                Err(skip(
                                    &ad.distinguished_name,
                                    "target_taken",
                                    format!(
                                        "{} is already the target of {}",
                                        self.cloud(target).user_principal_name,
                                        input.ad_users[other].distinguished_name
                                    ),
                                ))
                            } else {
                                claimed_targets.insert(target, ad_index);
                                Ok((ad_index, target))
                            }
                        }
                        Some(Err(skipped_user)) => Err(skipped_user),
                        None => Err(skip(
                            &ad.distinguished_name,
                            "no_target",
                            format!(
                                "no cloud account found for {}; name it with a mapping",
                                name
                            ),
                        )),
                    }
                },
            )
            .collect();
        drop(claimed_targets);
        let plan_steps = |steps: Vec<Result<(usize, usize), SkippedUser>>| {
            steps
                .into_iter()
                .map(|step| step.and_then(|(ad_index, target)| self.plan_user(ad_index, target)))
                .collect::<Vec<_>>()
        };
        let mut first_half = steps;
        let second_half = first_half.split_off(first_half.len() / 2);
        let (first_half, second_half) =
            parallel::both(|| plan_steps(first_half), || plan_steps(second_half));
        let planned_at_most = first_half.len() + second_half.len();
        let mut users = Vec::with_capacity(planned_at_most);
        let mut skipped = Vec::new();
        let mut per_user: Vec<UserActions> = Vec::with_capacity(planned_at_most);
        for outcome in first_half.into_iter().chain(second_half) {
            match outcome {
                Ok((planned, actions)) => {
                    users.push(planned);
                    per_user.push(actions);
                }
                Err(skipped_user) => skipped.push(skipped_user),
            }
        }
        if matches!(input.selection, Selection::AllSafe) {
            // All-safe plans only what needs no judgement: drop skips of linked users.
            skipped.retain(|skipped_user| skipped_user.code != "already_linked");
        }
        leave_out_addresses_held_in_ad(input.ad_users, &users, &mut per_user);
        // The planner's indexes of AD users are given back before the actions are assembled.
        drop((self.ad_by_name, self.ad_anchors, self.joined));

        let deletions = per_user
            .iter()
            .flat_map(|actions| actions.cloud_cleanup.iter().chain(&actions.move_out))
            .filter(|draft| {
                matches!(
                    draft.kind,
                    ActionKind::SoftDelete | ActionKind::AdMoveOutOfScope
                )
            })
            .count();
        if deletions > input.policy.deletion_threshold as usize {
            return Err(PlanRefusal::DeletionThresholdExceeded {
                deletions,
                threshold: input.policy.deletion_threshold,
            });
        }
        // The inputs' hash needs no action: it is taken on the other core meanwhile.
        let (actions, fingerprint) = parallel::both(
            || assemble(per_user, &mut users),
            || inputs_fingerprint(input.ad_users, input.tenant),
        );
        let features_known = input.tenant.tenant.on_premises_synchronization.is_some();
        Ok(DraftedPlan {
            outline: Plan {
                format_version: PLAN_FORMAT_VERSION,
                generated_at: input.generated_at.to_owned(),
                fingerprint,
                // Known once the actions are made.
                actions_fingerprint: String::new(),
                tenant_id: input.tenant.tenant.id.clone(),
                password_hash_sync: features_known
                    .then(|| effective_features(&input.tenant.tenant).password_sync_enabled),
                policy: input.policy.clone(),
                users: Vec::new(),
                skipped,
                actions: Vec::new(),
            },
            texts: self.texts,
            users,
            actions,
        })
    }

    /// The selected AD users.
    fn selected(&self) -> Result<Vec<Selected<'a>>, PlanRefusal> {
        let input = self.input;
        match input.selection {
            Selection::Users(names) => names
                .iter()
                .map(|name| {
                    Ok(Selected {
                        ad_index: self.find_ad(name)?,
                        target: None,
                        name,
                    })
                })
                .collect(),
            Selection::Mapping(entries) => entries
                .iter()
                .map(|entry| {
                    let ad = self.find_ad(&entry.ad)?;
                    let cloud = self.find_cloud(&entry.cloud)?;
                    Ok(Selected {
                        ad_index: ad,
                        target: Some(cloud),
                        name: &entry.ad,
                    })
                })
                .collect(),
            Selection::AllSafe => Ok(input
                .diagnosis
                .users
                .iter()
                .filter(|status| all_safe_candidate(&status.status))
                .map(|status| Selected {
                    ad_index: status.ad_index,
                    target: None,
                    name: status.distinguished_name(),
                })
                .collect()),
        }
    }

    fn find_ad(&self, name: &str) -> Result<usize, PlanRefusal> {
        let mut found: Vec<u32> = self.ad_by_name.get(&Folded(name)).to_vec();
        if found.is_empty()
            && let Ok(parsed) = crate::anchor::parse_anchor(name)
            && let Some(&position) = self.ad_anchors.get(&parsed.immutable_id.as_str()).last()
        {
            found.push(position);
        }
        found.dedup();
        match found.as_slice() {
            [] => Err(PlanRefusal::UnknownAdUser(name.to_owned())),
            [one] => Ok(*one as usize),
            _ => Err(PlanRefusal::AmbiguousAdUser(name.to_owned())),
        }
    }

    fn find_cloud(&self, name: &str) -> Result<usize, PlanRefusal> {
        if let Some(position) = self.index.position_of(name) {
            return Ok(position as usize);
        }
        // Active users first: a UPN of a deleted user may be rewritten (graph-api.md §16 #17).
        let active = self.index.active_by_upn.get(&Folded(name));
        if let Some(&position) = active.first() {
            return Ok(position as usize);
        }
        self.input
            .tenant
            .users
            .iter()
            .position(|user| user.user_principal_name.eq_ignore_ascii_case(name))
            .ok_or_else(|| PlanRefusal::UnknownCloudUser(name.to_owned()))
    }

    /// The cloud account the diagnosis points at, if it is a plausible link target.
    fn target_from_diagnosis(&self, ad_index: usize) -> Option<Result<usize, SkippedUser>> {
        let status = self.status_of(ad_index)?;
        let name = status.distinguished_name();
        match &status.status {
            Status::Linked => Some(Err(skip(
                name,
                "already_linked",
                "already linked".to_owned(),
            ))),
            Status::OutOfScope => Some(Err(skip(
                name,
                "out_of_scope",
                "outside the sync scope; move it into scope first".to_owned(),
            ))),
            Status::Conflicting {
                reason: ConflictReason::DuplicateSourceAnchor,
            } => Some(Err(skip(
                name,
                "duplicate_source_anchor",
                "another AD object exports the same anchor; fix AD first".to_owned(),
            ))),
            Status::Conflicting {
                reason: ConflictReason::ImmutableIdHeldByOther,
            } => {
                // An admin-stamped cloud-only holder is the intended target.
                let ad = &self.input.ad_users[ad_index];
                let anchor = ad.immutable_id.as_str();
                let stamped = self
                    .index
                    .active_by_anchor
                    .get(&anchor)
                    .iter()
                    .map(|&position| position as usize)
                    .find(|&position| !self.cloud(position).is_synced());
                stamped.or(status.cloud_index).map(Ok)
            }
            _ => {
                let candidate = status.cloud_index?;
                if self.cloud(candidate).is_deleted()
                    && let Some(active) = self.active_account_named_by(ad_index)
                {
                    return Some(Ok(active));
                }
                Some(Ok(candidate))
            }
        }
    }

    /// The active cloud-only account that the AD user's UPN or mail names. When the
    /// diagnosis points at a recycle-bin holder, the next cycle would restore that old
    /// object (§12), but the person works in the active account, which is the one to link;
    /// the holder is then handled like any other (purged when safe).
    fn active_account_named_by(&self, ad_index: usize) -> Option<usize> {
        let ad = &self.input.ad_users[ad_index];
        let anchor = ad.immutable_id.as_str();
        [ad.user_principal_name.as_deref(), ad.mail.as_deref()]
            .into_iter()
            .flatten()
            .flat_map(|name| self.index.active_by_upn.get(&Folded(name)).iter().copied())
            .map(|position| position as usize)
            .find(|&position| {
                let user = self.cloud(position);
                !user.is_synced()
                    && user
                        .on_premises_immutable_id
                        .as_ref()
                        .is_none_or(|held| held.as_str() == anchor)
            })
    }

    /// Why deleting `user` is refused by policy, if it is. `duplicate`: the sync-created
    /// duplicate route, where "synced" is expected.
    fn deletion_refusal(&self, user: &CloudUser, duplicate: bool) -> Option<String> {
        let policy = self.input.policy;
        let (active, eligible) = self.texts.roles_of(user);
        if has_mailbox(user) && !policy.allow_delete_mailbox {
            return Some(
                "it has a mailbox (mail and a licence); override: allow_delete_mailbox".to_owned(),
            );
        }
        if user.is_licensed() && !policy.allow_delete_licensed {
            return Some("it has licences; override: allow_delete_licensed".to_owned());
        }
        if active + eligible > 0 && !policy.allow_delete_privileged {
            return Some(
                "it has an admin role or PIM eligibility; override: allow_delete_privileged"
                    .to_owned(),
            );
        }
        if let Some(days) = self.texts.last_sign_in_days(user)
            && days <= i64::from(policy.recent_sign_in_days)
            && !policy.allow_delete_recent_sign_in
        {
            return Some(format!(
                "it signed in {days} day(s) ago; override: allow_delete_recent_sign_in"
            ));
        }
        if user.is_synced() && !duplicate && !policy.allow_delete_synced {
            return Some("it is synced from AD; override: allow_delete_synced".to_owned());
        }
        None
    }

    /// Why `target` cannot receive the anchor, if it cannot.
    fn target_refusal(&self, ad: &AdUser, target: &CloudUser) -> Option<(String, String)> {
        let tenant = &self.input.tenant.tenant;
        let anchor = &ad.immutable_id;
        if target.is_synced() && target.on_premises_immutable_id.as_ref() != Some(anchor) {
            return Some((
                "target_synced".to_owned(),
                "the target is synced from another anchor; it is never routed out of scope (§15 C 9)"
                    .to_owned(),
            ));
        }
        let (active, eligible) = self.texts.roles_of(target);
        if active > 0 {
            return Some((
                "target_blocked".to_owned(),
                format!(
                    "the target has {active} active admin role(s): remove them for the matching window and re-add them after (§15 C 11)"
                ),
            ));
        }
        if eligible > 0 {
            return Some((
                "target_blocked".to_owned(),
                format!(
                    "the target has {eligible} PIM eligibilit(ies): remove them for the matching window (§8, §15 C 11)"
                ),
            ));
        }
        if let Some(identifier) = target.on_premises_object_identifier.as_deref()
            && !identifier.is_empty()
            && !identifier.eq_ignore_ascii_case(&ad.object_guid.to_string())
        {
            return Some((
                "target_blocked".to_owned(),
                "the target's onPremisesObjectIdentifier names another object: clear it with PATCH /beta/users/{id} {\"onPremisesObjectIdentifier\": null} first (§8)".to_owned(),
            ));
        }
        let features = effective_features(tenant);
        if features.block_cloud_object_takeover_through_hard_match_enabled && !target.is_synced() {
            return Some((
                "target_blocked".to_owned(),
                "the tenant blocks hard-match takeovers (blockCloudObjectTakeoverThroughHardMatchEnabled): turn it off for the matching window (§15 C 12)".to_owned(),
            ));
        }
        let federated = domain_of(&target.user_principal_name).is_some_and(|domain| {
            tenant.domains.iter().any(|candidate| {
                candidate.is_federated() && candidate.id.eq_ignore_ascii_case(domain)
            })
        });
        if federated {
            return Some((
                "target_blocked".to_owned(),
                "the target's UPN is in a federated domain: its ImmutableID cannot be set; move it to an onmicrosoft.com UPN first (§9)".to_owned(),
            ));
        }
        None
    }

    /// Plans one user: returns the user's record and its actions, or why it is skipped.
    fn plan_user(
        &self,
        ad_index: usize,
        target_index: usize,
    ) -> Result<(HeldUser, UserActions), SkippedUser> {
        let input = self.input;
        let ad = &input.ad_users[ad_index];
        let name = ad.distinguished_name.as_str();
        let target = self.cloud(target_index);
        let anchor = ad.immutable_id.as_str();
        let joined_to = self.joined_to(anchor);
        let status = self.status_of(ad_index);
        if status.is_some_and(|status| status.status == Status::OutOfScope) {
            return Err(skip(
                name,
                "out_of_scope",
                "outside the sync scope; move it into scope first".to_owned(),
            ));
        }
        if joined_to == Some(target.id.as_str()) && !target.is_deleted() {
            let others = self
                .holders(anchor)
                .filter(|&position| position != target_index)
                .count();
            if others == 0 {
                return Err(skip(
                    name,
                    "already_linked",
                    format!("already linked to {}", target.user_principal_name),
                ));
            }
        }
        if let Some((code, reason)) = self.target_refusal(ad, target) {
            return Err(skip(name, &code, reason));
        }

        let mut actions = UserActions::default();
        let mut route = Route::SetAndSync;
        let for_user = ad_index as u32;
        let draft = |kind, object, value, why, evidence, expects| Draft {
            kind,
            for_user: Some(for_user),
            object,
            value,
            why,
            evidence,
            expects,
            after_previous: false,
        };
        // Other holders of the anchor.
        let holders: Vec<usize> = self
            .holders(anchor)
            .filter(|&position| position != target_index)
            .collect();
        for holder_index in holders {
            let holder = self.cloud(holder_index);
            let is_joined_duplicate =
                joined_to == Some(holder.id.as_str()) && !holder.is_deleted() && holder.is_synced();
            let fix = if is_joined_duplicate {
                if let Some(refusal) = self.deletion_refusal(holder, true) {
                    return Err(skip(
                        name,
                        "unsafe_deletion",
                        format!(
                            "{name} is joined to {}, which would have to be deleted, but {refusal}",
                            holder.user_principal_name
                        ),
                    ));
                }
                HolderFix::Duplicate
            } else if holder.is_deleted() {
                let was_joined = joined_to == Some(holder.id.as_str());
                match self.deletion_refusal(holder, holder.on_premises_sync_enabled.is_some()) {
                    None => HolderFix::Purge,
                    // Restored, a joined object is linked again, and a synced one refuses
                    // a clear (§12, §13): neither can be kept and emptied.
                    Some(refusal) if was_joined || holder.is_synced() => {
                        return Err(skip(
                            name,
                            "unsafe_deletion",
                            format!(
                                "{} in the recycle bin holds {anchor} and {}; it cannot be purged because {refusal}, and restored it cannot be cleared: restore it as the account of {name}, or override",
                                holder.user_principal_name,
                                if was_joined {
                                    "was joined to this AD user"
                                } else {
                                    "was synced"
                                },
                            ),
                        ));
                    }
                    Some(_) => HolderFix::RestoreAndClear,
                }
            } else if holder.is_synced() {
                return Err(skip(
                    name,
                    "holder_synced",
                    format!(
                        "{} holds the same ImmutableID and is synced from another AD object; fix AD first",
                        holder.user_principal_name
                    ),
                ));
            } else {
                HolderFix::Clear
            };
            let position = holder_index as u32;
            let holder_object = Object::CloudUser(position);
            let evidence = DraftEvidence::Account(position);
            let purge = |expects, after_previous| Draft {
                after_previous,
                ..draft(
                    ActionKind::PurgeDeleted,
                    holder_object,
                    None,
                    Why::HolderPurged,
                    evidence,
                    expects,
                )
            };
            match fix {
                HolderFix::Clear => actions.cloud_cleanup.push(draft(
                    ActionKind::ClearImmutableId,
                    holder_object,
                    None,
                    Why::HolderKeepsAccount,
                    evidence,
                    Expect::CloudUser,
                )),
                HolderFix::Purge => actions.cloud_cleanup.push(purge(Expect::CloudUser, false)),
                HolderFix::RestoreAndClear => {
                    actions.cloud_cleanup.push(draft(
                        ActionKind::RestoreDeleted,
                        holder_object,
                        None,
                        Why::HolderRestored,
                        evidence,
                        Expect::CloudUser,
                    ));
                    actions.cloud_cleanup.push(Draft {
                        after_previous: true,
                        ..draft(
                            ActionKind::ClearImmutableId,
                            holder_object,
                            None,
                            Why::RestoredHolderCleared,
                            evidence,
                            Expect::Restored,
                        )
                    });
                }
                HolderFix::Duplicate => {
                    let scope_route = input.policy.route == RoutePreference::OutOfScope
                        || !input.policy.graph_can_delete_synced;
                    if scope_route {
                        let Some(container) = input.policy.out_of_scope_container.clone() else {
                            return Err(skip(
                                name,
                                "no_out_of_scope_container",
                                "the out-of-scope route needs an OU outside the sync scope (out_of_scope_container)".to_owned(),
                            ));
                        };
                        route = Route::OutOfScope;
                        actions.move_out.push(draft(
                            ActionKind::AdMoveOutOfScope,
                            Object::AdUser,
                            Some(container),
                            Why::MoveOut {
                                duplicate: position,
                            },
                            evidence,
                            Expect::AdUser,
                        ));
                        // The sync deletes it, not an earlier step of the plan.
                        actions.after_first_sync.push(purge(Expect::Deleted, false));
                        actions.move_in.push(draft(
                            ActionKind::AdMoveIntoScope,
                            Object::AdUser,
                            Some(parent_container(&ad.distinguished_name).to_owned()),
                            Why::MoveIn {
                                target: target_index as u32,
                            },
                            DraftEvidence::None,
                            Expect::Nothing,
                        ));
                    } else {
                        route = Route::DeleteAndPurge;
                        actions.cloud_cleanup.push(draft(
                            ActionKind::SoftDelete,
                            holder_object,
                            None,
                            Why::Duplicate,
                            evidence,
                            Expect::CloudUserWithSignIn,
                        ));
                        actions.cloud_cleanup.push(purge(Expect::Deleted, true));
                    }
                }
            }
        }

        // The target itself.
        let target_object = Object::CloudUser(target_index as u32);
        if target.is_deleted() {
            actions.cloud_cleanup.push(draft(
                ActionKind::RestoreDeleted,
                target_object,
                None,
                Why::TargetInRecycleBin,
                DraftEvidence::Account(target_index as u32),
                Expect::CloudUser,
            ));
        }
        // Even where a soft match is predicted, the anchor is set: a hard match does not
        // depend on which objects hold an address after the plan's other changes (a
        // restored user can become the first soft-match candidate).
        if target.on_premises_immutable_id.as_ref() != Some(&ad.immutable_id) {
            let replaced_is_in_ad = target
                .on_premises_immutable_id
                .as_ref()
                .is_some_and(|old| self.ad_anchors.contains(&old.as_str()));
            actions.set = Some(draft(
                ActionKind::SetImmutableId,
                target_object,
                Some(anchor.to_owned()),
                Why::Link,
                DraftEvidence::Link { replaced_is_in_ad },
                if target.is_deleted() {
                    Expect::Restored
                } else {
                    Expect::CloudUser
                },
            ));
        }

        // AD preparation.
        let tenant = &input.tenant.tenant;
        let upn_unverified = ad
            .user_principal_name
            .as_deref()
            .and_then(domain_of)
            .is_none_or(|suffix| tenant.verified_domain(suffix).is_none());
        let prepare = |kind, value, why| {
            draft(
                kind,
                Object::AdUser,
                Some(value),
                why,
                DraftEvidence::None,
                Expect::AdUser,
            )
        };
        if upn_unverified {
            let value = if domain_of(&target.user_principal_name)
                .is_some_and(|domain| tenant.verified_domain(domain).is_some())
                && !is_on_initial_domain(target, tenant)
            {
                target.user_principal_name.to_string()
            } else {
                let local = ad
                    .user_principal_name
                    .as_deref()
                    .and_then(|upn| upn.rsplit_once('@'))
                    .map_or(
                        ad.sam_account_name.as_deref().unwrap_or("user"),
                        |(local, _)| local,
                    );
                let default = tenant
                    .domains
                    .iter()
                    .find(|domain| domain.is_default && domain.is_verified)
                    .map_or(tenant.initial_domain.as_str(), |domain| domain.id.as_str());
                format!("{local}@{default}")
            };
            actions.ad_preparation.push(prepare(
                ActionKind::AdSetUpn,
                value,
                Why::UnverifiedSuffix,
            ));
        }
        let ad_has_primary = ad
            .proxy_addresses
            .iter()
            .any(|address| address.starts_with("SMTP:"));
        let target_primary = target.primary_smtp_address();
        let lost = addresses_lost_in_takeover(ad, target);
        let ad_has_smtp = ad
            .proxy_addresses
            .iter()
            .any(|address| smtp_value(address).is_some());
        if !lost.is_empty()
            && !ad_has_smtp
            && let Some(mail) = &ad.mail
        {
            // Connect derives the primary from `mail` only while proxyAddresses holds no
            // SMTP address; adding one would drop it, so it is written explicitly first.
            actions.ad_preparation.push(prepare(
                ActionKind::AdAddProxyAddress,
                format!("SMTP:{mail}"),
                Why::KeepPrimary,
            ));
        }
        // Addresses another AD user holds are left out once every user is planned
        // (`leave_out_addresses_held_in_ad`).
        for address in lost {
            let primary = !ad_has_primary
                && target_primary.is_some_and(|primary| primary.eq_ignore_ascii_case(address));
            let value = if primary {
                format!("SMTP:{address}")
            } else {
                format!("smtp:{address}")
            };
            actions.ad_preparation.push(prepare(
                ActionKind::AdAddProxyAddress,
                value,
                Why::CopyAddress {
                    holder: target_index as u32,
                },
            ));
        }
        if ad.anchor_attribute == AnchorAttribute::ConsistencyGuid && ad.consistency_guid.is_none()
        {
            actions.ad_preparation.push(prepare(
                ActionKind::AdSetConsistencyGuid,
                ad.object_guid.to_string(),
                Why::ConsistencyGuid,
            ));
        }

        let planned = HeldUser {
            ad: for_user,
            target: target_index as u32,
            route,
            // Known once the actions are in order.
            preparation: 0..0,
        };
        actions.shrink_to_fit();
        Ok((planned, actions))
    }

    fn holders(&self, anchor: &'a str) -> impl Iterator<Item = usize> + '_ {
        let anchor_key = anchor;
        self.index
            .active_by_anchor
            .get(&anchor_key)
            .iter()
            .chain(self.index.deleted_by_anchor.get(&anchor_key))
            .map(|&position| position as usize)
            .collect::<Vec<_>>()
            .into_iter()
    }
}

/// The address an AD preparation draft copies from the cloud account, if it copies one.
fn copied_address(draft: &Draft) -> Option<&str> {
    match draft.why {
        Why::CopyAddress { .. } => draft.value.as_deref().and_then(smtp_value),
        _ => None,
    }
}

/// Leaves out the copies of cloud addresses (`per_user`, for `users`) that another AD
/// user holds already: copied, the address would be on two AD objects, and Connect
/// quarantines it. Only the copied addresses are looked for among the AD users' (a few per
/// planned user), rather than every AD address indexed (about 0.1 GB at a million users).
fn leave_out_addresses_held_in_ad(
    ad_users: &[AdUser],
    users: &[HeldUser],
    per_user: &mut [UserActions],
) {
    // The AD users holding a copied address; the set of copied addresses borrows from the
    // drafts, which are then edited.
    let holders: MultiIndex<Folded<'_>> = {
        let copied: HashSet<Folded<'_>> = per_user
            .iter()
            .flat_map(|actions| actions.ad_preparation.iter().filter_map(copied_address))
            .map(Folded)
            .collect();
        if copied.is_empty() {
            return;
        }
        let found = parallel::filter_map_in_halves(ad_users, |position, user| {
            let held: Vec<&str> = user
                .smtp_addresses()
                .chain(user.mail.as_deref())
                .filter(|address| copied.contains(&Folded(address)))
                .collect();
            (!held.is_empty()).then_some((position as u32, held))
        });
        let mut holders = MultiIndex::with_capacity(found.len());
        for (position, held) in found {
            for address in held {
                holders.insert(Folded(address), position);
            }
        }
        holders
    };
    for (user, actions) in users.iter().zip(per_user) {
        let name = &ad_users[user.ad as usize].distinguished_name;
        actions.ad_preparation.retain(|draft| {
            copied_address(draft).is_none_or(|address| {
                let holders = holders.get(&Folded(address));
                holders
                    .iter()
                    .all(|&position| ad_users[position as usize].distinguished_name == *name)
            })
        });
    }
}

/// The AD user as the plan's AD preparation leaves it: the takeover reads these values.
fn prepared_ad<'draft>(ad: &AdUser, preparation: impl Iterator<Item = &'draft Draft>) -> AdUser {
    let mut prepared = ad.clone();
    for draft in preparation {
        let Some(value) = &draft.value else {
            continue;
        };
        match draft.kind {
            ActionKind::AdSetUpn => prepared.user_principal_name = Some(value.as_str().into()),
            ActionKind::AdAddProxyAddress => prepared.proxy_addresses.push(value.clone()),
            _ => {}
        }
    }
    prepared
}

fn skip(user: &str, code: &str, reason: String) -> SkippedUser {
    SkippedUser {
        user: user.to_owned(),
        code: code.to_owned(),
        reason,
    }
}

/// Whether `--all-safe` considers a status at all.
fn all_safe_candidate(status: &Status) -> bool {
    matches!(
        status,
        Status::WillHardMatch
            | Status::WillSoftMatch { .. }
            | Status::Conflicting {
                reason: ConflictReason::SyncCreatedDuplicate
                    | ConflictReason::ImmutableIdHeldByOther
                    | ConflictReason::UpnConflict
                    | ConflictReason::ProxyAddressConflict
            }
            | Status::Blocked {
                reason: BlockReason::TenantFlag(_)
            }
    )
}

/// The container of a DN: everything after the first unescaped comma.
fn parent_container(distinguished_name: &str) -> &str {
    let bytes = distinguished_name.as_bytes();
    let mut escaped = false;
    for (position, byte) in bytes.iter().enumerate() {
        match byte {
            b'\\' if !escaped => escaped = true,
            b',' if !escaped => return distinguished_name.get(position + 1..).unwrap_or(""),
            _ => escaped = false,
        }
    }
    ""
}

/// Orders the drafts and links each to the actions it waits for:
/// AD preparation and moves out of scope; a first sync if any user moved out; cloud
/// cleanup (soft delete → purge, restore → clear); purges after the first sync; sets
/// (each after its own user's cleanup); moves back into scope; the final sync.
fn assemble(per_user: Vec<UserActions>, users: &mut [HeldUser]) -> Vec<HeldAction> {
    let drafts: usize = per_user.iter().map(UserActions::len).sum();
    // Every draft, and at most two syncs.
    let mut actions: Vec<HeldAction> = Vec::with_capacity(drafts + 2);
    let push = |actions: &mut Vec<HeldAction>, draft: Draft, depends_on: Vec<u32>| -> u32 {
        let position = actions.len() as u32;
        actions.push(HeldAction { draft, depends_on });
        position
    };
    let sync_draft = |why| Draft {
        kind: ActionKind::TriggerSync,
        for_user: None,
        object: Object::SyncServer,
        value: Some("Delta".to_owned()),
        why,
        evidence: DraftEvidence::None,
        expects: Expect::Nothing,
        after_previous: false,
    };

    let mut per_user_ids: Vec<Vec<u32>> = vec![Vec::new(); per_user.len()];
    let mut ad_ids: Vec<u32> = Vec::new();
    let mut move_out_ids: Vec<u32> = Vec::new();
    let mut moved: Vec<bool> = vec![false; per_user.len()];
    let mut per_user: Vec<UserActions> = per_user;
    for (position, (user, held)) in per_user.iter_mut().zip(users.iter_mut()).enumerate() {
        let start = actions.len() as u32;
        for draft in std::mem::take(&mut user.ad_preparation) {
            let id = push(&mut actions, draft, Vec::new());
            ad_ids.push(id);
        }
        held.preparation = start..actions.len() as u32;
        for draft in std::mem::take(&mut user.move_out) {
            // Not among the user's own ids: its set and move back wait for the first sync,
            // which waits for every move out.
            move_out_ids.push(push(&mut actions, draft, Vec::new()));
            moved[position] = true;
        }
    }
    let first_sync = if move_out_ids.is_empty() {
        None
    } else {
        let depends = move_out_ids.clone();
        Some(push(&mut actions, sync_draft(Why::FirstSync), depends))
    };
    for (position, user) in per_user.iter_mut().enumerate() {
        let mut previous: Option<u32> = None;
        for draft in std::mem::take(&mut user.cloud_cleanup) {
            let depends = match (previous, draft.after_previous) {
                (Some(previous), true) => vec![previous],
                _ => Vec::new(),
            };
            let id = push(&mut actions, draft, depends);
            previous = Some(id);
            per_user_ids[position].push(id);
        }
        for draft in std::mem::take(&mut user.after_first_sync) {
            let depends = first_sync.into_iter().collect();
            let id = push(&mut actions, draft, depends);
            per_user_ids[position].push(id);
        }
    }
    let mut set_ids: Vec<u32> = Vec::new();
    for (position, user) in per_user.iter_mut().enumerate() {
        if let Some(draft) = user.set.take() {
            let mut depends = per_user_ids[position].clone();
            if moved[position]
                && let Some(first_sync) = first_sync
                && !depends.contains(&first_sync)
            {
                depends.push(first_sync);
            }
            let id = push(&mut actions, draft, depends);
            per_user_ids[position].push(id);
            set_ids.push(id);
        }
    }
    let mut move_in_ids: Vec<u32> = Vec::new();
    for (position, user) in per_user.iter_mut().enumerate() {
        for draft in std::mem::take(&mut user.move_in) {
            let depends = per_user_ids[position].clone();
            let id = push(&mut actions, draft, depends);
            move_in_ids.push(id);
        }
    }
    if !actions.is_empty() || !per_user.is_empty() {
        let mut depends: Vec<u32> = ad_ids;
        depends.extend(set_ids);
        depends.extend(move_in_ids);
        if depends.is_empty() {
            depends = (0..actions.len() as u32)
                .filter(|&position| {
                    actions[position as usize].draft.kind != ActionKind::TriggerSync
                })
                .collect();
        }
        push(&mut actions, sync_draft(Why::FinalSync), depends);
    }
    // A plan whose only action is the sync changes nothing in the directories, but users who
    // will match at the next sync still need it; drop it only when there is no user at all.
    actions
}

/// Whole days from the latest sign-in of any kind to `now_days` (days since the epoch);
/// `None` when none is on record.
pub fn last_sign_in_days(activity: &SignInActivity, now_days: i64) -> Option<i64> {
    [
        activity.last_sign_in_date_time.as_deref(),
        activity.last_non_interactive_sign_in_date_time.as_deref(),
        activity.last_successful_sign_in_date_time.as_deref(),
    ]
    .into_iter()
    .flatten()
    .filter_map(days_since_epoch)
    .max()
    .map(|last| now_days - last)
}

/// Days since 1970-01-01 of an RFC 3339 timestamp's date part (the proleptic Gregorian
/// calendar); `None` when the text does not start with `YYYY-MM-DD`.
pub fn days_since_epoch(timestamp: &str) -> Option<i64> {
    let year: i64 = timestamp.get(0..4)?.parse().ok()?;
    let month: i64 = timestamp.get(5..7)?.parse().ok()?;
    let day: i64 = timestamp.get(8..10)?.parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let year = if month <= 2 { year - 1 } else { year };
    let era = if year >= 0 { year } else { year - 399 } / 400;
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some(era * 146_097 + day_of_era - 719_468)
}

/// Applies a plan's cloud actions to a tenant's users, as Graph would: the model the
/// property tests (and a rehearsal) run the next sync cycle on.
///
/// `set_immutable_id` and `clear_immutable_id` write the value; `soft_delete` sets
/// `deletedDateTime` to `now`; `purge_deleted` removes the user; `restore_deleted`
/// clears `deletedDateTime`. AD and sync actions are ignored here.
pub fn apply_cloud_actions(plan: &Plan, cloud_users: &mut Vec<CloudUser>, now: &str) {
    for action in &plan.actions {
        let Some(id) = action.target.id.as_deref() else {
            continue;
        };
        let position = cloud_users.iter().position(|user| user.id == id);
        match (action.kind, position) {
            (ActionKind::SetImmutableId, Some(position)) => {
                cloud_users[position].on_premises_immutable_id = action
                    .value
                    .as_ref()
                    .map(|value| crate::anchor::ImmutableId::from_text(value.clone()));
            }
            (ActionKind::ClearImmutableId, Some(position)) => {
                cloud_users[position].on_premises_immutable_id = None;
            }
            (ActionKind::SoftDelete, Some(position)) => {
                cloud_users[position].deleted_date_time = Some(now.into());
            }
            (ActionKind::PurgeDeleted, Some(position)) => {
                cloud_users.remove(position);
            }
            (ActionKind::RestoreDeleted, Some(position)) => {
                cloud_users[position].deleted_date_time = None;
            }
            _ => {}
        }
    }
}

/// Applies a plan's AD actions to AD users, as the AD adapter would: the on-prem half of
/// the model that property tests and rehearsals run the next sync cycle on.
///
/// `ad_set_upn` replaces the UPN, `ad_add_proxy_address` adds the address (a new `SMTP:`
/// primary demotes the old one), `ad_set_consistency_guid` writes the objectGUID, and the
/// moves change the DN's container. Users are found by objectGUID.
pub fn apply_ad_actions(plan: &Plan, ad_users: &mut [AdUser]) {
    for action in &plan.actions {
        let Some(id) = action.target.id.as_deref() else {
            continue;
        };
        if action.target.directory != Directory::ActiveDirectory {
            continue;
        }
        let Some(user) = ad_users
            .iter_mut()
            .find(|user| user.object_guid.to_string().eq_ignore_ascii_case(id))
        else {
            continue;
        };
        let value = action.value.clone().unwrap_or_default();
        match action.kind {
            ActionKind::AdSetUpn => user.user_principal_name = Some(value.into()),
            ActionKind::AdAddProxyAddress => {
                if value.starts_with("SMTP:") {
                    for address in &mut user.proxy_addresses {
                        if let Some(rest) = address.strip_prefix("SMTP:") {
                            *address = format!("smtp:{rest}");
                        }
                    }
                }
                if !user
                    .proxy_addresses
                    .iter()
                    .any(|address| address.eq_ignore_ascii_case(&value))
                {
                    user.proxy_addresses.push(value);
                }
            }
            ActionKind::AdSetConsistencyGuid => user.consistency_guid = Some(user.object_guid),
            ActionKind::AdMoveOutOfScope | ActionKind::AdMoveIntoScope => {
                let relative = user
                    .distinguished_name
                    .len()
                    .saturating_sub(parent_container(&user.distinguished_name).len());
                let name = user
                    .distinguished_name
                    .get(..relative)
                    .unwrap_or_default()
                    .trim_end_matches(',')
                    .to_owned();
                user.distinguished_name = compact_str::format_compact!("{name},{value}");
            }
            _ => {}
        }
    }
}

/// Counts of actions per kind, for summaries.
pub fn action_counts(plan: &Plan) -> BTreeMap<&'static str, usize> {
    totals_of(plan).by_kind
}

/// The plan for a change-approval reader: what changes, what is irreversible, and which
/// cloud values the takeovers overwrite.
pub fn render_show(plan: &Plan) -> String {
    render_show_up_to(plan, usize::MAX)
}

/// [`render_show`], handed to `emit` about a megabyte at a time: the rendering of a
/// million-user plan is over a gigabyte, better not held beside the plan.
pub fn render_show_in_blocks<Error>(
    plan: &Plan,
    emit: impl FnMut(&str) -> Result<(), Error>,
) -> Result<(), Error> {
    shown_whole(plan).render_in_blocks(usize::MAX, emit)
}

/// [`render_show`] with at most `limit` users, actions and users not planned, each list
/// followed by how many it leaves out, and the actions counted per kind when some are left
/// out: `hardmatch plan` prints this, so that a plan for a million users prints a page, not
/// half a gigabyte. The plan file, and `hardmatch show` on it, keep everything.
pub fn render_show_up_to(plan: &Plan, limit: usize) -> String {
    shown_whole(plan).render(limit)
}

/// What the renderings read of a plan made whole.
fn shown_whole(plan: &Plan) -> Shown<'_> {
    Shown {
        outline: plan,
        users: &plan.users,
        user_count: plan.users.len(),
        actions: &plan.actions,
        totals: totals_of(plan),
    }
}

fn totals_of(plan: &Plan) -> ActionTotals {
    let kinds = plan
        .actions
        .iter()
        .map(|action| (action.kind, action.irreversible));
    ActionTotals::of(kinds)
}

/// What [`render_show_up_to`] reads of a plan: its outline (whose users and actions are not
/// read), how many users and actions it has, and the first of them.
struct Shown<'plan> {
    outline: &'plan Plan,
    users: &'plan [PlannedUser],
    user_count: usize,
    actions: &'plan [PlanAction],
    totals: ActionTotals,
}

/// How many actions a plan has, of each kind, and how many are irreversible.
struct ActionTotals {
    count: usize,
    irreversible: usize,
    by_kind: BTreeMap<&'static str, usize>,
}

impl ActionTotals {
    /// The totals of actions of these kinds, each marked irreversible or not.
    fn of(kinds: impl Iterator<Item = (ActionKind, bool)>) -> Self {
        let mut totals = Self {
            count: 0,
            irreversible: 0,
            by_kind: BTreeMap::new(),
        };
        for (kind, irreversible) in kinds {
            totals.count += 1;
            totals.irreversible += usize::from(irreversible);
            *totals.by_kind.entry(kind.name()).or_default() += 1;
        }
        totals
    }
}

impl Shown<'_> {
    fn render(&self, limit: usize) -> String {
        let mut whole = String::new();
        let rendered: Result<(), std::convert::Infallible> = self.render_in_blocks(limit, |text| {
            whole.push_str(text);
            Ok(())
        });
        let Ok(()) = rendered;
        whole
    }

    /// The rendering, handed to `emit` about a megabyte at a time, always after a whole
    /// entry: the rendering of a million-user plan is over a gigabyte.
    fn render_in_blocks<Error>(
        &self,
        limit: usize,
        mut emit: impl FnMut(&str) -> Result<(), Error>,
    ) -> Result<(), Error> {
        const BLOCK: usize = 1 << 20;
        let Self {
            outline: plan,
            users,
            user_count,
            actions: shown,
            totals,
        } = self;
        let mut text = String::new();
        let mut entry_done = |text: &mut String| {
            if text.len() < BLOCK {
                return Ok(());
            }
            let emitted = emit(text);
            text.clear();
            emitted
        };
        let _ = writeln!(text, "hardmatch plan (format {})", plan.format_version);
        let _ = writeln!(text, "  tenant:       {}", plan.tenant_id);
        let _ = writeln!(text, "  generated at: {}", plan.generated_at);
        let _ = writeln!(text, "  inputs:       {}", plan.fingerprint);
        let _ = writeln!(
            text,
            "  actions:      {} ({} irreversible)",
            totals.count, totals.irreversible
        );
        if totals.count > limit {
            let counts: Vec<String> = totals
                .by_kind
                .iter()
                .map(|(kind, count)| format!("{kind} {count}"))
                .collect();
            let _ = writeln!(text, "  by kind:      {}", counts.join(", "));
        }
        let _ = writeln!(text);
        if totals.count == 0 {
            let _ = writeln!(text, "No changes.");
        }
        if *user_count > 0 {
            let _ = writeln!(text, "Users to link ({user_count}):");
            for user in users.iter().take(limit) {
                let _ = writeln!(
                    text,
                    "  {} ({}) -> {} ({}), route: {}",
                    user.user_principal_name.as_deref().unwrap_or("no UPN"),
                    user.distinguished_name,
                    user.target_user_principal_name,
                    user.target_id,
                    match user.route {
                        Route::SetAndSync => "set and sync",
                        Route::DeleteAndPurge => "delete and purge the duplicate",
                        Route::OutOfScope => "out of sync scope and back",
                    }
                );
                let _ = writeln!(text, "    ImmutableID: {}", user.immutable_id);
                let _ = writeln!(
                    text,
                    "    The takeover overwrites these cloud values with the on-premises ones:"
                );
                if user.overwrites.is_empty() {
                    let _ = writeln!(text, "      (no attribute differs)");
                }
                for overwrite in &user.overwrites {
                    let _ = writeln!(
                        text,
                        "      {}: {} -> {}",
                        overwrite.property,
                        empty_as_none(&overwrite.cloud_value),
                        empty_as_none(&overwrite.on_premises_value)
                    );
                }
                let _ = writeln!(
                    text,
                    "      password: {}",
                    match plan.password_hash_sync {
                        Some(true) => "replaced by the AD password (password hash sync is on)",
                        Some(false) => "kept (password hash sync is off)",
                        None =>
                            "replaced by the AD password if password hash sync is on (unknown: tenant sync settings were not readable)",
                    }
                );
                entry_done(&mut text)?;
            }
            left_out(&mut text, *user_count, limit, "users to link");
            let _ = writeln!(text);
        }
        if totals.count > 0 {
            let _ = writeln!(text, "Actions, in order:");
            for action in shown.iter().take(limit) {
                let target = match (&action.target.user_principal_name, &action.target.id) {
                    (Some(upn), Some(id)) => format!("{upn} ({id})"),
                    (Some(upn), None) => upn.clone(),
                    (None, Some(id)) => id.clone(),
                    (None, None) => "the Entra Connect server".to_owned(),
                };
                let _ = writeln!(
                    text,
                    "  {:<4} {:<24} {}{}",
                    action.id,
                    action.kind.name(),
                    target,
                    if action.irreversible {
                        "  [IRREVERSIBLE]"
                    } else {
                        ""
                    }
                );
                if let Some(value) = &action.value {
                    let _ = writeln!(text, "       value:      {value}");
                }
                let _ = writeln!(text, "       why:        {}", action.reason);
                for evidence in &action.evidence {
                    let _ = writeln!(text, "       evidence:   {evidence}");
                }
                if !action.depends_on.is_empty() {
                    let _ = writeln!(text, "       after:      {}", action.depends_on.join(", "));
                }
                entry_done(&mut text)?;
            }
            left_out(&mut text, totals.count, limit, "actions");
            let _ = writeln!(text);
        }
        if !plan.skipped.is_empty() {
            let _ = writeln!(text, "Not planned ({}):", plan.skipped.len());
            for skipped in plan.skipped.iter().take(limit) {
                let _ = writeln!(
                    text,
                    "  {} [{}]: {}",
                    skipped.user, skipped.code, skipped.reason
                );
                entry_done(&mut text)?;
            }
            left_out(&mut text, plan.skipped.len(), limit, "users not planned");
        }
        if text.is_empty() { Ok(()) } else { emit(&text) }
    }
}

/// The line after a list shortened to `limit` entries of `total`.
fn left_out(text: &mut String, total: usize, limit: usize, what: &str) {
    if total > limit {
        let _ = writeln!(
            text,
            "  ... and {} more {what}: `hardmatch show` on the plan file lists every one",
            total - limit
        );
    }
}

fn empty_as_none(value: &str) -> &str {
    if value.is_empty() { "(none)" } else { value }
}

/// Quotes a PowerShell single-quoted string.
fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// The equivalent Microsoft Graph PowerShell and ActiveDirectory module commands.
pub fn render_powershell(plan: &Plan) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "# hardmatch plan {} for tenant {}",
        plan.actions_fingerprint, plan.tenant_id
    );
    let _ = writeln!(
        text,
        "# Generated at {}. Review every command; purges cannot be undone.",
        plan.generated_at
    );
    let _ = writeln!(
        text,
        "# Cloud: Microsoft.Graph PowerShell. AD: the ActiveDirectory module. Sync: on the Entra Connect server."
    );
    let _ = writeln!(
        text,
        "Connect-MgGraph -Scopes 'User.ReadWrite.All','User.DeleteRestore.All'"
    );
    let _ = writeln!(text, "$ErrorActionPreference = 'Stop'");
    for action in &plan.actions {
        let _ = writeln!(text);
        let _ = writeln!(
            text,
            "# {} {}{}: {}",
            action.id,
            action.kind.name(),
            if action.irreversible {
                " (IRREVERSIBLE)"
            } else {
                ""
            },
            action.reason
        );
        let id = action.target.id.as_deref().map(quote).unwrap_or_default();
        let value = action.value.as_deref().map(quote).unwrap_or_default();
        let command = match action.kind {
            ActionKind::SetImmutableId => {
                format!("Update-MgUser -UserId {id} -OnPremisesImmutableId {value}")
            }
            ActionKind::ClearImmutableId => format!(
                "Invoke-MgGraphRequest -Method PATCH -Uri {} -Body '{{\"onPremisesImmutableId\": null}}' -ContentType 'application/json'",
                quote(&format!(
                    "https://graph.microsoft.com/beta/users/{}",
                    action.target.id.as_deref().unwrap_or_default()
                ))
            ),
            ActionKind::SoftDelete => format!("Remove-MgUser -UserId {id}"),
            ActionKind::PurgeDeleted => {
                format!("Remove-MgDirectoryDeletedItem -DirectoryObjectId {id}")
            }
            ActionKind::RestoreDeleted => {
                format!("Restore-MgDirectoryDeletedItem -DirectoryObjectId {id}")
            }
            ActionKind::AdSetUpn => format!("Set-ADUser -Identity {id} -UserPrincipalName {value}"),
            ActionKind::AdAddProxyAddress => {
                format!("Set-ADUser -Identity {id} -Add @{{proxyAddresses = {value}}}")
            }
            ActionKind::AdSetConsistencyGuid => format!(
                "Set-ADUser -Identity {id} -Replace @{{'mS-DS-ConsistencyGuid' = ([guid]{value}).ToByteArray()}}"
            ),
            ActionKind::AdMoveOutOfScope | ActionKind::AdMoveIntoScope => {
                format!("Move-ADObject -Identity {id} -TargetPath {value}")
            }
            ActionKind::TriggerSync => format!(
                "Start-ADSyncSyncCycle -PolicyType {}",
                action.value.as_deref().unwrap_or("Delta")
            ),
        };
        let _ = writeln!(text, "{command}");
        if action.kind == ActionKind::SetImmutableId || action.kind == ActionKind::ClearImmutableId
        {
            let _ = writeln!(
                text,
                "(Get-MgUser -UserId {id} -Property onPremisesImmutableId).OnPremisesImmutableId  # re-read and compare (§13)"
            );
        }
    }
    text
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
