//! One Entra Connect sync cycle, as a pure function.
//!
//! The emulator's `POST /_emulator/sync` and hardmatch's "what will the next sync do" both
//! call [`run_sync_cycle`]; keeping one implementation means a prediction can never drift
//! from what the emulator then does. The rules are those of `entra-matching.md`; every rule
//! below names its section, and so does its test.
//!
//! # Using it
//!
//! Build a [`SyncCycleInput`] from borrowed state (nothing is copied), call
//! [`run_sync_cycle`], then:
//!
//! * apply [`SyncCycleOutcome::operations`] to the tenant, in order. [`apply_operations`]
//!   does exactly that on a `Vec<CloudUser>` and a [`ConnectorSpace`]; the emulator can use
//!   it or mirror it. New users carry a deterministic provisional key (`new:<anchor>`); the
//!   caller assigns real object ids.
//! * serialize [`SyncCycleOutcome::report`]: the run's JSON report (joins, creations,
//!   updates, deletions, errors with Entra's own error names).
//! * read [`SyncCycleOutcome::decisions`], one per AD user in input order, to explain what
//!   happened to each user (hardmatch's `status` is built on it).
//!
//! # The rules, in the order they apply
//!
//! 1. **Scope.** Only AD users selected by [`SyncScope`] take part.
//! 2. **Deletions** (§10, §12). A connector-space join whose AD object left scope
//!    soft-deletes its cloud user. More deletions than the threshold stop the whole export:
//!    nothing at all is written, and the report says `stopped-deletion-threshold-exceeded`.
//! 3. **Joined objects** (§4 "only new objects"). An AD user already joined to an active cloud
//!    user is only updated; no match is evaluated for it. If its cloud user was deleted in
//!    the cloud (recycle bin, or purged), the join is dropped and the AD user is provisioned
//!    as new in this same cycle: this is why deleting and purging a sync-created duplicate
//!    lets the AD user hard-match the account an admin then stamps with its ImmutableID.
//! 4. **Hard match** (§4.1) on the ImmutableID, exact and case-sensitive, against active
//!    users, else a recycle-bin user, which is restored (§12). Blocked by
//!    `blockCloudObjectTakeoverThroughHardMatchEnabled` (InvalidHardMatch, §5, §7) and by
//!    the 2026 hardening (§8): a target with another `onPremisesObjectIdentifier`, or with
//!    an assigned or PIM-eligible role. A blocked hard match exports nothing: the anchor is
//!    a unique attribute that resiliency does not cover (§6).
//! 5. **Soft match** (§4.2), unless `blockSoftMatchEnabled`: primary SMTP first, then UPN
//!    when `softMatchOnUpnEnabled` (Cloud Sync: primary SMTP only). The first candidate
//!    decides. It is refused when it holds another ImmutableID (InvalidSoftMatch, §5), has
//!    an active admin role (Existing Admin Role Conflict, §4, §5), or has a federated UPN
//!    (reported, §9). A refused soft match falls through to creation, where duplicate
//!    attribute resiliency quarantines the conflicting value (§5 "hidden while resiliency
//!    quarantines the value").
//! 6. **Creation** (§4.3). The UPN suffix must be a verified domain, else the initial
//!    domain is used. A UPN held by another object becomes
//!    `<prefix><NNNN>@<initial domain>` (§6), NNNN derived from the anchor; a conflicting
//!    SMTP proxy address is dropped. Both are recorded as `onPremisesProvisioningErrors`.
//!    With the matching resiliency flag off, the object is not exported and the report
//!    shows AttributeValueMustBeUnique.
//! 7. **Takeover** (§11): a matched cloud user gets the on-prem values (UPN, display name,
//!    mail, proxyAddresses, enabled state, on-prem attributes) and becomes synced.
//!
//! Every written user gets `onPremisesSyncEnabled = true` and `onPremisesLastSyncDateTime`
//! = the caller's `now`.

use std::borrow::Cow;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use crate::ad::AdUser;
use crate::anchor::ImmutableId;
use crate::diagnose::AdAnchor;
use crate::index::{
    Field, FieldIndex, Fnv1a, Folded, FoldedText, HashMap, HashSet, MultiIndex, domain_of,
    positions, smtp_value,
};
use crate::parallel;
use crate::tenant::{
    CloudUser, OnPremisesProvisioningError, RoleAssignment, SyncFeatures, TenantInfo,
    TenantSnapshot,
};

/// Which AD users the sync reads: the OU filter, or an explicit list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SyncScope {
    /// Every AD user given to the cycle.
    #[default]
    All,
    /// Users under one of `include` and under none of `exclude` (DN suffixes, compared
    /// without regard to ASCII case, at an RDN boundary), as Connect's OU filtering does.
    OrganizationalUnits {
        include: Vec<String>,
        #[serde(default)]
        exclude: Vec<String>,
    },
    /// Exactly these distinguished names (case-insensitive).
    Explicit { distinguished_names: Vec<String> },
}

/// Whether `distinguished_name` is `container` or lies under it.
pub fn is_under(distinguished_name: &str, container: &str) -> bool {
    let container = container.trim();
    if distinguished_name.len() < container.len() {
        return false;
    }
    let split = distinguished_name.len() - container.len();
    let Some(tail) = distinguished_name.get(split..) else {
        return false;
    };
    tail.eq_ignore_ascii_case(container)
        && (split == 0 || distinguished_name.as_bytes().get(split - 1) == Some(&b','))
}

/// Decides scope for many users with the explicit list indexed once.
struct ScopeMatcher<'a> {
    scope: &'a SyncScope,
    explicit: HashSet<Folded<'a>>,
}

impl<'a> ScopeMatcher<'a> {
    fn new(scope: &'a SyncScope) -> Self {
        let explicit = match scope {
            SyncScope::Explicit {
                distinguished_names,
            } => distinguished_names
                .iter()
                .map(|name| Folded(name.as_str()))
                .collect(),
            _ => HashSet::default(),
        };
        Self { scope, explicit }
    }

    fn contains(&self, user: &AdUser) -> bool {
        let name = user.distinguished_name.as_str();
        match self.scope {
            SyncScope::All => true,
            SyncScope::OrganizationalUnits { include, exclude } => {
                include.iter().any(|container| is_under(name, container))
                    && !exclude.iter().any(|container| is_under(name, container))
            }
            SyncScope::Explicit { .. } => self.explicit.contains(&Folded(name)),
        }
    }
}

/// Entra Connect's record of which AD object is joined to which cloud user.
///
/// hardmatch cannot read Connect's database; [`ConnectorSpace::infer`] rebuilds it from the
/// tenant for predictions. The emulator keeps the real one in its state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorSpace {
    #[serde(default)]
    pub joins: Vec<ConnectorSpaceJoin>,
}

/// One exported AD object and the cloud user it is joined to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorSpaceJoin {
    pub source_anchor: ImmutableId,
    pub cloud_user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distinguished_name: Option<String>,
}

impl ConnectorSpace {
    /// The joins Connect most likely holds: every active synced cloud user whose
    /// ImmutableID belongs to one of `ad_users`.
    ///
    /// Synced users whose anchor no given AD user has are left out on purpose: the AD
    /// input may be a part of the forest, and predicting their deletion would be a guess.
    pub fn infer(ad_users: &[AdUser], cloud_users: &[CloudUser]) -> Self {
        let anchors: HashMap<&str, &AdUser> = ad_users
            .iter()
            .map(|user| (user.immutable_id.as_str(), user))
            .collect();
        let joins = cloud_users
            .iter()
            .filter(|user| !user.is_deleted() && user.is_synced())
            .filter_map(|user| {
                let anchor = user.on_premises_immutable_id.as_ref()?;
                let ad_user = anchors.get(anchor.as_str())?;
                Some(ConnectorSpaceJoin {
                    source_anchor: anchor.clone(),
                    cloud_user_id: user.id.to_string(),
                    distinguished_name: Some(ad_user.distinguished_name.to_string()),
                })
            })
            .collect();
        Self { joins }
    }
}

/// The synchronisation engine in use; they differ in how they soft-match (§4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncEngine {
    #[default]
    Connect,
    /// Entra Cloud Sync: matches on primary SMTP only (reported, §4).
    CloudSync,
}

/// The 2026 hard-match hardening checks (§8), each switchable (graph-api.md §16 #18).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HardeningOptions {
    /// A target whose `onPremisesObjectIdentifier` names another AD object is refused.
    pub object_identifier_check: bool,
    /// A target with an active directory role is refused.
    pub block_assigned_roles: bool,
    /// A target PIM-eligible for a directory role is refused.
    pub block_eligible_roles: bool,
}

impl Default for HardeningOptions {
    fn default() -> Self {
        Self {
            object_identifier_check: true,
            block_assigned_roles: true,
            block_eligible_roles: true,
        }
    }
}

impl HardeningOptions {
    /// The behaviour before the 2026 hardening.
    pub const fn off() -> Self {
        Self {
            object_identifier_check: false,
            block_assigned_roles: false,
            block_eligible_roles: false,
        }
    }
}

/// Defaultable settings of a cycle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SyncOptions {
    pub engine: SyncEngine,
    /// Export stops when pending deletions exceed this; `None` disables the guard (§10).
    pub deletion_threshold: Option<u32>,
    pub hardening: HardeningOptions,
    /// A staging server computes everything and exports nothing (§10).
    pub staging_mode: bool,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            engine: SyncEngine::Connect,
            deletion_threshold: Some(DEFAULT_DELETION_THRESHOLD),
            hardening: HardeningOptions::default(),
            staging_mode: false,
        }
    }
}

/// Entra Connect's default accidental-delete threshold (§10).
pub const DEFAULT_DELETION_THRESHOLD: u32 = 500;

/// The deletion threshold a tenant's sync configuration sets, when it was readable.
pub fn deletion_threshold_of(tenant: &TenantInfo) -> Option<u32> {
    match &tenant.on_premises_synchronization {
        None => Some(DEFAULT_DELETION_THRESHOLD),
        Some(synchronization) => {
            let prevention = &synchronization.configuration.accidental_deletion_prevention;
            if prevention
                .synchronization_prevention_type
                .eq_ignore_ascii_case("disabled")
            {
                None
            } else {
                Some(prevention.alert_threshold)
            }
        }
    }
}

/// The tenant's matching switches; when they could not be read, Microsoft's defaults
/// (resiliency on, blocks off; §6, §7).
pub fn effective_features(tenant: &TenantInfo) -> SyncFeatures {
    match &tenant.on_premises_synchronization {
        Some(synchronization) => synchronization.features.clone(),
        None => SyncFeatures {
            quarantine_upon_upn_conflict_enabled: true,
            quarantine_upon_proxy_addresses_conflict_enabled: true,
            ..SyncFeatures::default()
        },
    }
}

/// Everything one cycle reads, borrowed from the caller's state.
#[derive(Clone, Copy, Debug)]
pub struct SyncCycleInput<'a> {
    /// The AD users the connector imports; [`SyncScope`] narrows them.
    pub ad_users: &'a [AdUser],
    pub scope: &'a SyncScope,
    pub tenant: &'a TenantInfo,
    /// Active users and recycle-bin users (`deletedDateTime` set).
    pub cloud_users: &'a [CloudUser],
    pub role_assignments: &'a [RoleAssignment],
    /// PIM eligibilities.
    pub role_eligibilities: &'a [RoleAssignment],
    pub connector_space: &'a ConnectorSpace,
    pub options: &'a SyncOptions,
    /// RFC 3339 time of the run, supplied by the caller (the core has no clock).
    pub now: &'a str,
}

/// How a new AD object found its cloud user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    HardMatch,
    SoftMatchPrimarySmtp,
    SoftMatchUserPrincipalName,
}

/// The attribute a soft match compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SoftMatchAttribute {
    PrimarySmtp,
    UserPrincipalName,
}

impl SoftMatchAttribute {
    fn match_kind(self) -> MatchKind {
        match self {
            Self::PrimarySmtp => MatchKind::SoftMatchPrimarySmtp,
            Self::UserPrincipalName => MatchKind::SoftMatchUserPrincipalName,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Self::PrimarySmtp => "primary SMTP address",
            Self::UserPrincipalName => "userPrincipalName",
        }
    }
}

/// A property duplicate attribute resiliency quarantines (§6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ConflictProperty {
    UserPrincipalName,
    ProxyAddress,
    /// The source anchor itself; resiliency does not cover it.
    SourceAnchor,
}

impl ConflictProperty {
    pub const fn name(self) -> &'static str {
        match self {
            Self::UserPrincipalName => "UserPrincipalName",
            Self::ProxyAddress => "ProxyAddress",
            Self::SourceAnchor => "SourceAnchor",
        }
    }
}

/// Why an export failed or a match was refused, with Entra's own error names (§5, §8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncErrorKind {
    /// The soft-match candidate holds another ImmutableID.
    InvalidSoftMatch,
    /// Hard match while `blockCloudObjectTakeoverThroughHardMatchEnabled` is on.
    InvalidHardMatch,
    /// The 2026 hardening: the target's `onPremisesObjectIdentifier` names another object.
    HardeningObjectIdentifier,
    /// The 2026 hardening: the target has an active directory role.
    HardeningAssignedRole,
    /// The 2026 hardening: the target is PIM-eligible for a directory role.
    HardeningEligibleRole,
    /// Soft match onto a cloud user with an active admin role.
    ExistingAdminRoleConflict,
    /// Soft match onto a cloud user with a federated UPN suffix (reported, §9).
    FederatedDomainConflict,
    /// A unique value is held by another object and resiliency does not apply.
    AttributeValueMustBeUnique,
}

impl SyncErrorKind {
    /// The error name Entra and Connect report.
    pub const fn code(self) -> &'static str {
        match self {
            Self::InvalidSoftMatch => "InvalidSoftMatch",
            Self::InvalidHardMatch
            | Self::HardeningObjectIdentifier
            | Self::HardeningAssignedRole
            | Self::HardeningEligibleRole => "InvalidHardMatch",
            Self::ExistingAdminRoleConflict => "Existing Admin Role Conflict",
            Self::FederatedDomainConflict => "FederatedDomainConflict",
            Self::AttributeValueMustBeUnique => "AttributeValueMustBeUnique",
        }
    }

    /// The message text, as documented where Microsoft documents one.
    pub const fn message(self, engine: SyncEngine) -> &'static str {
        match (self, engine) {
            (Self::InvalidSoftMatch, _) => {
                "The soft-match candidate already has a different immutableId; for the soft match to work, the object to be soft-matched with shouldn't have any value for the immutableId attribute."
            }
            (Self::InvalidHardMatch, _) => {
                "Another cloud created object with the same source anchor already exists in Azure Active Directory."
            }
            (
                Self::HardeningObjectIdentifier
                | Self::HardeningAssignedRole
                | Self::HardeningEligibleRole,
                _,
            ) => {
                "Hard match operation blocked due to security hardening. Review OnPremisesObjectIdentifier mapping."
            }
            (Self::ExistingAdminRoleConflict, SyncEngine::Connect) => {
                "Microsoft Entra Connect isn't allowed to soft match a user object from on-premises AD with a user object in Microsoft Entra ID that has an administrative role assigned to it."
            }
            (Self::ExistingAdminRoleConflict, SyncEngine::CloudSync) => {
                "An attribute value violates a uniqueness constraint. ProxyAddresses"
            }
            (Self::FederatedDomainConflict, _) => {
                "No soft match for a cloud account with a federated UPN suffix (reported behaviour)."
            }
            (Self::AttributeValueMustBeUnique, _) => {
                "Unable to update this object because the following attributes associated with this object have values that may already be associated with another object in your local directory services."
            }
        }
    }

    /// Whether the error is a block that a tenant or role change removes, rather than a
    /// data conflict.
    pub const fn is_block(self) -> bool {
        matches!(
            self,
            Self::InvalidHardMatch
                | Self::HardeningObjectIdentifier
                | Self::HardeningAssignedRole
                | Self::HardeningEligibleRole
                | Self::ExistingAdminRoleConflict
                | Self::FederatedDomainConflict
        )
    }
}

/// A value resiliency dropped or replaced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantinedValue {
    pub property: ConflictProperty,
    pub value: String,
}

/// A soft-match candidate that was found and refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SoftMatchRefusal {
    pub error: SyncErrorKind,
    /// Index into [`SyncCycleInput::cloud_users`].
    pub cloud_index: usize,
    pub attribute: SoftMatchAttribute,
}

/// What the cycle did (or, when export stopped, would have done) with one AD user.
///
/// Cloud users are referred to by their index in [`SyncCycleInput::cloud_users`], so that a
/// million decisions cost no strings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserDecision {
    OutOfScope,
    /// Joined to an active cloud user; `changed` when attributes flowed.
    Joined {
        cloud_index: usize,
        changed: bool,
    },
    HardMatched {
        cloud_index: usize,
        restored: bool,
    },
    SoftMatched {
        cloud_index: usize,
        attribute: SoftMatchAttribute,
    },
    Created {
        quarantined: Vec<QuarantinedValue>,
        refused: Option<SoftMatchRefusal>,
    },
    Failed {
        error: SyncErrorKind,
        property: Option<ConflictProperty>,
        cloud_index: Option<usize>,
    },
}

/// One AD user's decision, and whether the user was re-provisioned because its joined
/// cloud user had been deleted in the cloud.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserSyncResult {
    pub decision: UserDecision,
    pub reprovisioned: bool,
}

/// The values a sync writes to a cloud user it creates, joins or updates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncedAttributes {
    pub user_principal_name: CompactString,
    /// `None`: AD has no value and the cloud value stays.
    #[serde(default)]
    pub display_name: Option<CompactString>,
    /// Replaces the cloud value, including with nothing (§11: addresses are lost).
    #[serde(default)]
    pub mail: Option<CompactString>,
    /// Replaces the cloud value (§11).
    #[serde(default)]
    pub proxy_addresses: Vec<String>,
    pub account_enabled: bool,
    pub on_premises_immutable_id: ImmutableId,
    pub on_premises_last_sync_date_time: CompactString,
    pub on_premises_distinguished_name: CompactString,
    #[serde(default)]
    pub on_premises_sam_account_name: Option<CompactString>,
    #[serde(default)]
    pub on_premises_user_principal_name: Option<CompactString>,
    #[serde(default)]
    pub on_premises_domain_name: Option<CompactString>,
    #[serde(default)]
    pub on_premises_security_identifier: Option<CompactString>,
    /// The AD objectGUID in canonical form; the 2026 hardening checks it (§8).
    pub on_premises_object_identifier: CompactString,
}

impl SyncedAttributes {
    /// Writes these values onto a cloud user and marks it synced.
    pub fn apply_to(&self, user: &mut CloudUser) {
        user.user_principal_name
            .clone_from(&self.user_principal_name);
        if let Some(display_name) = &self.display_name {
            user.display_name = Some(display_name.clone());
        }
        user.mail.clone_from(&self.mail);
        user.proxy_addresses.clone_from(&self.proxy_addresses);
        user.account_enabled = Some(self.account_enabled);
        user.on_premises_immutable_id = Some(self.on_premises_immutable_id.clone());
        user.on_premises_sync_enabled = Some(true);
        user.on_premises_last_sync_date_time = Some(self.on_premises_last_sync_date_time.clone());
        user.on_premises_distinguished_name = Some(self.on_premises_distinguished_name.clone());
        user.on_premises_sam_account_name
            .clone_from(&self.on_premises_sam_account_name);
        user.on_premises_user_principal_name
            .clone_from(&self.on_premises_user_principal_name);
        user.on_premises_domain_name
            .clone_from(&self.on_premises_domain_name);
        user.on_premises_security_identifier
            .clone_from(&self.on_premises_security_identifier);
        user.on_premises_object_identifier = Some(self.on_premises_object_identifier.clone());
    }

    /// The Graph names of the properties this write would change on `user`; the sync
    /// time does not count, so an unchanged user is not touched.
    pub fn changes(&self, user: &CloudUser) -> Vec<&'static str> {
        AttributeValues {
            user_principal_name: Cow::Borrowed(&self.user_principal_name),
            display_name: self.display_name.as_deref(),
            mail: self.mail.as_deref(),
            proxy_addresses: self
                .proxy_addresses
                .iter()
                .map(|address| Cow::Borrowed(address.as_str()))
                .collect(),
            account_enabled: self.account_enabled,
            on_premises_immutable_id: &self.on_premises_immutable_id,
            on_premises_last_sync_date_time: &self.on_premises_last_sync_date_time,
            on_premises_distinguished_name: &self.on_premises_distinguished_name,
            on_premises_sam_account_name: self.on_premises_sam_account_name.as_deref(),
            on_premises_user_principal_name: self.on_premises_user_principal_name.as_deref(),
            on_premises_domain_name: self.on_premises_domain_name.as_deref(),
            on_premises_security_identifier: self.on_premises_security_identifier.as_deref(),
            on_premises_object_identifier: self.on_premises_object_identifier.to_string(),
        }
        .changes(user)
    }
}

/// [`SyncedAttributes`] borrowing every value the sync copies unchanged from AD. A cycle
/// builds these for each user it exports, a million in a large prediction, and makes an
/// owned copy only for the operations it records.
struct AttributeValues<'a> {
    user_principal_name: Cow<'a, str>,
    display_name: Option<&'a str>,
    mail: Option<&'a str>,
    proxy_addresses: Vec<Cow<'a, str>>,
    account_enabled: bool,
    on_premises_immutable_id: &'a ImmutableId,
    on_premises_last_sync_date_time: &'a str,
    on_premises_distinguished_name: &'a str,
    on_premises_sam_account_name: Option<&'a str>,
    on_premises_user_principal_name: Option<&'a str>,
    on_premises_domain_name: Option<&'a str>,
    on_premises_security_identifier: Option<&'a str>,
    on_premises_object_identifier: String,
}

impl AttributeValues<'_> {
    fn to_owned_attributes(&self) -> SyncedAttributes {
        SyncedAttributes {
            user_principal_name: CompactString::from(&*self.user_principal_name),
            display_name: self.display_name.map(CompactString::from),
            mail: self.mail.map(CompactString::from),
            proxy_addresses: self
                .proxy_addresses
                .iter()
                .map(|address| address.clone().into_owned())
                .collect(),
            account_enabled: self.account_enabled,
            on_premises_immutable_id: self.on_premises_immutable_id.clone(),
            on_premises_last_sync_date_time: self.on_premises_last_sync_date_time.into(),
            on_premises_distinguished_name: self.on_premises_distinguished_name.into(),
            on_premises_sam_account_name: self
                .on_premises_sam_account_name
                .map(CompactString::from),
            on_premises_user_principal_name: self
                .on_premises_user_principal_name
                .map(CompactString::from),
            on_premises_domain_name: self.on_premises_domain_name.map(CompactString::from),
            on_premises_security_identifier: self
                .on_premises_security_identifier
                .map(CompactString::from),
            on_premises_object_identifier: self.on_premises_object_identifier.as_str().into(),
        }
    }

    /// See [`SyncedAttributes::changes`].
    fn changes(&self, user: &CloudUser) -> Vec<&'static str> {
        let mut changed = Vec::new();
        let mut check = |name: &'static str, same: bool| {
            if !same {
                changed.push(name);
            }
        };
        check(
            "userPrincipalName",
            user.user_principal_name == self.user_principal_name,
        );
        check(
            "displayName",
            self.display_name.is_none() || user.display_name.as_deref() == self.display_name,
        );
        check("mail", user.mail.as_deref() == self.mail);
        check(
            "proxyAddresses",
            user.proxy_addresses
                .iter()
                .map(String::as_str)
                .eq(self.proxy_addresses.iter().map(|address| &**address)),
        );
        check(
            "accountEnabled",
            user.account_enabled == Some(self.account_enabled),
        );
        check(
            "onPremisesImmutableId",
            user.on_premises_immutable_id.as_ref() == Some(self.on_premises_immutable_id),
        );
        check("onPremisesSyncEnabled", user.is_synced());
        check(
            "onPremisesDistinguishedName",
            user.on_premises_distinguished_name.as_deref()
                == Some(self.on_premises_distinguished_name),
        );
        check(
            "onPremisesSamAccountName",
            user.on_premises_sam_account_name.as_deref() == self.on_premises_sam_account_name,
        );
        check(
            "onPremisesUserPrincipalName",
            user.on_premises_user_principal_name.as_deref() == self.on_premises_user_principal_name,
        );
        check(
            "onPremisesDomainName",
            user.on_premises_domain_name.as_deref() == self.on_premises_domain_name,
        );
        check(
            "onPremisesSecurityIdentifier",
            user.on_premises_security_identifier.as_deref() == self.on_premises_security_identifier,
        );
        check(
            "onPremisesObjectIdentifier",
            user.on_premises_object_identifier.as_deref()
                == Some(self.on_premises_object_identifier.as_str()),
        );
        changed
    }
}

/// A cloud user an operation addresses: an existing one, or one this cycle creates.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectRef {
    CloudUserId(String),
    ProvisionalKey(String),
}

/// A change the cycle makes; the emulator applies them in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "operation", rename_all = "snake_case")]
pub enum SyncOperation {
    /// Drop a connector-space join whose cloud user is gone or in the recycle bin.
    Disconnect {
        source_anchor: ImmutableId,
        cloud_user_id: String,
    },
    /// Join a new AD object to an existing cloud user and take it over (§4, §11); restore it
    /// from the recycle bin first when `restore` (§12).
    Join {
        cloud_user_id: String,
        source_anchor: ImmutableId,
        match_kind: MatchKind,
        restore: bool,
        attributes: SyncedAttributes,
    },
    /// Provision a new cloud user and join it.
    Create {
        provisional_key: String,
        source_anchor: ImmutableId,
        attributes: SyncedAttributes,
    },
    /// Flow changed AD values to a joined cloud user.
    Update {
        cloud_user_id: String,
        source_anchor: ImmutableId,
        attributes: SyncedAttributes,
    },
    /// Move a joined cloud user whose AD object left scope to the recycle bin and drop
    /// the join (§12).
    SoftDelete {
        cloud_user_id: String,
        source_anchor: ImmutableId,
    },
    /// Record a quarantined value on a user (§6); appended unless already present.
    Quarantine {
        target: ObjectRef,
        error: OnPremisesProvisioningError,
    },
}

/// The run status Connect would show (§10).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SyncRunStatus {
    Success,
    CompletedExportErrors,
    StoppedDeletionThresholdExceeded,
    /// A staging server exports nothing.
    StagingModeNoExport,
}

/// A join of a new AD object to an existing cloud user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRecord {
    pub source_anchor: ImmutableId,
    pub distinguished_name: String,
    pub cloud_user_id: String,
    pub user_principal_name: String,
    pub match_kind: MatchKind,
    pub restored: bool,
}

/// A cloud user the cycle creates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreationRecord {
    pub provisional_key: String,
    pub source_anchor: ImmutableId,
    pub distinguished_name: String,
    pub user_principal_name: String,
    pub quarantined: Vec<QuarantinedValue>,
}

/// Attribute flow to an already joined user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateRecord {
    pub cloud_user_id: String,
    pub source_anchor: ImmutableId,
    /// Graph property names: the cycle's own constants, borrowed (a prediction over a
    /// million users holds hundreds of thousands of these records); read back, owned.
    pub changed: Vec<Cow<'static, str>>,
}

/// A soft deletion (or, with `performed: false`, one the threshold held back).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletionRecord {
    pub cloud_user_id: String,
    pub user_principal_name: String,
    pub source_anchor: ImmutableId,
    pub performed: bool,
}

/// One export error or refused match, as the sync errors report shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncErrorRecord {
    /// Entra's error name: InvalidSoftMatch, InvalidHardMatch, AttributeValueMustBeUnique,
    /// Existing Admin Role Conflict, … or `stopped-deletion-threshold-exceeded`.
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_anchor: Option<ImmutableId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distinguished_name: Option<String>,
    /// The conflicting cloud object (Connect names it `User_<objectId>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
    /// `not-exported`, `created-with-quarantine` or `export-stopped`.
    pub outcome: String,
}

/// The JSON report of one cycle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReport {
    pub status: SyncRunStatus,
    pub run_at: String,
    pub engine: SyncEngine,
    pub users_in_scope: u64,
    pub joins: Vec<JoinRecord>,
    pub creations: Vec<CreationRecord>,
    pub updates: Vec<UpdateRecord>,
    pub deletions: Vec<DeletionRecord>,
    pub errors: Vec<SyncErrorRecord>,
}

/// Everything one cycle decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncCycleOutcome {
    /// Empty when export stopped (threshold or staging mode).
    pub operations: Vec<SyncOperation>,
    pub report: SyncReport,
    /// One per [`SyncCycleInput::ad_users`] entry, in order.
    pub decisions: Vec<UserSyncResult>,
}

/// The deterministic key of a user the cycle creates, until the caller assigns an id.
pub fn provisional_key(anchor: &ImmutableId) -> String {
    format!("new:{anchor}")
}

/// The four digits of a quarantined UPN's placeholder, derived from the anchor so that a
/// prediction and the emulator agree (§6).
pub fn placeholder_number(anchor: &ImmutableId) -> u16 {
    let mut hash = Fnv1a::new();
    hash.write(anchor.as_str().as_bytes());
    // The remainder is below 10,000, so the conversion cannot fail.
    u16::try_from(hash.finish() % 10_000).unwrap_or(0)
}

/// Whether a UPN looks like a resiliency placeholder: four digits before `@` in an
/// `onmicrosoft.com` domain (§6; the domain varies, so any tenant domain is accepted when
/// `initial_domain` is `None`).
pub fn is_placeholder_upn(user_principal_name: &str, initial_domain: Option<&str>) -> bool {
    let Some((local, domain)) = user_principal_name.rsplit_once('@') else {
        return false;
    };
    let digits = local.bytes().rev().take_while(u8::is_ascii_digit).count();
    let domain_fits = match initial_domain {
        Some(initial) => domain.eq_ignore_ascii_case(initial),
        None => true,
    };
    digits >= 4 && local.len() > digits && domain_fits
}

/// Runs one sync cycle. Never fails: every problem is an error record in the report.
pub fn run_sync_cycle(input: &SyncCycleInput<'_>) -> SyncCycleOutcome {
    let index = CloudIndex::new(input);
    run_sync_cycle_with(
        input,
        &index,
        JoinSource::ConnectorSpace,
        Operations::Record,
        SyncReportDetail::Records,
    )
}

/// Whether a cycle keeps the operations it decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operations {
    /// For a caller that applies them (the emulator, the property tests).
    Record,
    /// For a prediction, which reads only the decisions and the report: at a million users
    /// the operations it would throw away (every created, joined or updated user's values,
    /// copied) cost about a third of the cycle's time and hundreds of megabytes.
    Skip,
}

/// How much of its report a cycle keeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SyncReportDetail {
    /// A record of every join, creation, update and deletion, as Connect's report lists
    /// them.
    #[default]
    Records,
    /// The run's status, the users in scope and the errors, without the other records:
    /// for a diagnosis whose output shows none of them (at a million users, a million
    /// records and about 0.2 GB).
    Summary,
}

/// Where a cycle reads its joins from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JoinSource {
    /// [`SyncCycleInput::connector_space`].
    ConnectorSpace,
    /// As [`ConnectorSpace::infer`], without copying a string.
    Inferred,
}

/// [`run_sync_cycle`] with an index the caller built (and keeps using), a choice of join
/// source and of keeping the operations: the diagnosis predicts on one index and an
/// inferred connector space, and applies nothing. With [`Operations::Skip`] the outcome's
/// `operations` are empty; decisions and report are the same as with `Record`. With
/// [`SyncReportDetail::Summary`] the report has no records; the decisions are the same.
pub(crate) fn run_sync_cycle_with(
    input: &SyncCycleInput<'_>,
    index: &CloudIndex<'_>,
    joins: JoinSource,
    operations: Operations,
    detail: SyncReportDetail,
) -> SyncCycleOutcome {
    run_sync_cycle_beside(input, index, joins, operations, detail, |_| ()).0
}

/// [`run_sync_cycle_with`], running `beside` on the other core while the users are decided
/// one after the other, the part of a cycle that keeps only one core busy; returns what
/// `beside` returns too. `beside` is given the cycle's index of the AD users by anchor.
pub(crate) fn run_sync_cycle_beside<Beside: Send>(
    input: &SyncCycleInput<'_>,
    index: &CloudIndex<'_>,
    joins: JoinSource,
    operations: Operations,
    detail: SyncReportDetail,
    beside: impl FnOnce(&FieldIndex<'_, AdUser, AdAnchor>) -> Beside + Send,
) -> (SyncCycleOutcome, Beside) {
    Cycle::new(input, index, operations, detail).run(joins, beside)
}

/// The join indexes over a tenant's users and roles, borrowed from the tenant. Built once
/// per run with [`CloudIndex::of`] and shared by the prediction, the diagnosis and the
/// planner ([`crate::diagnose::diagnose_with`], [`crate::plan::plan_with`]): at a million
/// cloud users one build takes seconds and hundreds of megabytes.
pub struct CloudIndex<'a> {
    /// The users indexed, to tell whether the index belongs to the tenant it is given with.
    users: &'a [CloudUser],
    by_id: FieldIndex<'a, CloudUser, CloudId>,
    pub(crate) active_by_anchor: FieldIndex<'a, CloudUser, CloudAnchor>,
    pub(crate) deleted_by_anchor: FieldIndex<'a, CloudUser, CloudAnchor>,
    pub(crate) active_by_upn: FieldIndex<'a, CloudUser, CloudUpn>,
    pub(crate) active_by_smtp: MultiIndex<Folded<'a>>,
    pub(crate) assigned_roles: HashSet<&'a str>,
    pub(crate) eligible_roles: HashSet<&'a str>,
}

impl<'a> CloudIndex<'a> {
    /// Indexes a tenant snapshot's users and role holders.
    pub fn of(tenant: &'a TenantSnapshot) -> Self {
        Self::build(
            &tenant.users,
            &tenant.role_assignments,
            &tenant.role_eligibilities,
        )
    }

    /// The position of the user with this id; the last one, should a snapshot repeat an id.
    pub(crate) fn position_of(&self, id: &str) -> Option<u32> {
        self.by_id.get(&id).last().copied()
    }

    /// Whether this index was built over exactly these users (the same slice, not an
    /// equal copy): an index of another tenant would join against the wrong users.
    pub(crate) fn indexes(&self, users: &[CloudUser]) -> bool {
        std::ptr::eq(self.users, users)
    }

    fn new(input: &SyncCycleInput<'a>) -> Self {
        Self::build(
            input.cloud_users,
            input.role_assignments,
            input.role_eligibilities,
        )
    }

    pub(crate) fn build(
        cloud_users: &'a [CloudUser],
        role_assignments: &'a [RoleAssignment],
        role_eligibilities: &'a [RoleAssignment],
    ) -> Self {
        // Two halves of the indexes, one per core: ids and anchors, names and addresses.
        let ((by_id, active_by_anchor, deleted_by_anchor), (active_by_upn, active_by_smtp)) =
            parallel::both(
                || Self::index_keys(cloud_users),
                || Self::index_names(cloud_users),
            );
        Self {
            users: cloud_users,
            by_id,
            active_by_anchor,
            deleted_by_anchor,
            active_by_upn,
            active_by_smtp,
            assigned_roles: role_assignments
                .iter()
                .map(|assignment| assignment.principal_id.as_str())
                .collect(),
            eligible_roles: role_eligibilities
                .iter()
                .map(|assignment| assignment.principal_id.as_str())
                .collect(),
        }
    }

    /// Users by id, and active and deleted users by ImmutableID.
    #[allow(
        clippy::type_complexity,
        reason = "a private triple, built and taken apart once"
    )]
    fn index_keys(
        cloud_users: &'a [CloudUser],
    ) -> (
        FieldIndex<'a, CloudUser, CloudId>,
        FieldIndex<'a, CloudUser, CloudAnchor>,
        FieldIndex<'a, CloudUser, CloudAnchor>,
    ) {
        let count = cloud_users.len();
        let mut by_id = FieldIndex::with_capacity(cloud_users, count);
        let mut active_by_anchor = FieldIndex::with_capacity(cloud_users, count);
        let mut deleted_by_anchor = FieldIndex::with_capacity(cloud_users, count / 8);
        for (position, user) in positions(cloud_users) {
            by_id.insert(position);
            if user.is_deleted() {
                deleted_by_anchor.insert(position);
            } else {
                active_by_anchor.insert(position);
            }
        }
        (by_id, active_by_anchor, deleted_by_anchor)
    }

    /// Active users by UPN and by SMTP address; users in the recycle bin hold neither.
    fn index_names(
        cloud_users: &'a [CloudUser],
    ) -> (FieldIndex<'a, CloudUser, CloudUpn>, MultiIndex<Folded<'a>>) {
        let count = cloud_users.len();
        let mut active_by_upn = FieldIndex::with_capacity(cloud_users, count);
        let mut active_by_smtp = MultiIndex::with_capacity(count * 2);
        for (position, user) in positions(cloud_users) {
            if user.is_deleted() {
                continue;
            }
            active_by_upn.insert(position);
            for address in cloud_smtp_addresses(user) {
                active_by_smtp.insert(Folded(address), position);
            }
        }
        (active_by_upn, active_by_smtp)
    }
}

/// A cloud user's object id, as [`CloudIndex`] finds users by it.
pub(crate) struct CloudId;

impl Field<CloudUser> for CloudId {
    type Key<'a> = &'a str;

    fn key(user: &CloudUser) -> Option<&str> {
        Some(user.id.as_str())
    }
}

/// A cloud user's ImmutableID, when it has one.
pub(crate) struct CloudAnchor;

impl Field<CloudUser> for CloudAnchor {
    type Key<'a> = &'a str;

    fn key(user: &CloudUser) -> Option<&str> {
        user.on_premises_immutable_id
            .as_ref()
            .map(ImmutableId::as_str)
            .filter(|anchor| !anchor.is_empty())
    }
}

/// A cloud user's UPN, compared without regard to ASCII case.
pub(crate) struct CloudUpn;

impl Field<CloudUser> for CloudUpn {
    type Key<'a> = Folded<'a>;

    fn key(user: &CloudUser) -> Option<Folded<'_>> {
        Some(Folded(user.user_principal_name.as_str()))
    }
}

/// A cloud user's SMTP addresses for uniqueness: every smtp proxy address and `mail`.
pub(crate) fn cloud_smtp_addresses(user: &CloudUser) -> impl Iterator<Item = &str> {
    let mail = user.mail.as_deref().filter(|mail| {
        !user
            .proxy_addresses
            .iter()
            .filter_map(|address| smtp_value(address))
            .any(|address| address.eq_ignore_ascii_case(mail))
    });
    user.proxy_addresses
        .iter()
        .filter_map(|address| smtp_value(address))
        .chain(mail)
}

/// Per-run mutable state.
struct Cycle<'a, 'input> {
    input: &'input SyncCycleInput<'a>,
    features: SyncFeatures,
    index: &'input CloudIndex<'a>,
    /// Cloud users joined to some AD object (before or during this cycle).
    claimed: Vec<bool>,
    /// Cloud users whose values this cycle replaced: their old values no longer count.
    rewritten: Vec<bool>,
    /// Cloud users soft-deleted by this cycle.
    deleting: Vec<bool>,
    /// UPNs and SMTP addresses written in this cycle, compared without regard to ASCII
    /// case, each with the AD user that wrote it last: borrowed from AD where the value is
    /// AD's own, owned where the cycle made it up (initial-domain and placeholder UPNs,
    /// `SMTP:` from `mail`).
    written_values: HashMap<FoldedText<'a>, u32>,
    operations_wanted: Operations,
    operations: Vec<SyncOperation>,
    report_detail: SyncReportDetail,
    report: SyncReport,
}

/// How a value conflict is resolved.
enum Resolution {
    Quarantine,
    Fail,
}

impl<'a, 'input> Cycle<'a, 'input> {
    fn new(
        input: &'input SyncCycleInput<'a>,
        index: &'input CloudIndex<'a>,
        operations_wanted: Operations,
        report_detail: SyncReportDetail,
    ) -> Self {
        let count = input.cloud_users.len();
        Self {
            input,
            features: effective_features(input.tenant),
            index,
            claimed: vec![false; count],
            rewritten: vec![false; count],
            deleting: vec![false; count],
            // Each exported user writes a UPN and an address or two: sized once rather than
            // rehashed over and over in a large cycle.
            written_values: HashMap::with_capacity_and_hasher(
                input.ad_users.len() * 2,
                Default::default(),
            ),
            operations_wanted,
            operations: Vec::new(),
            report_detail,
            report: SyncReport {
                status: SyncRunStatus::Success,
                run_at: input.now.to_owned(),
                engine: input.options.engine,
                users_in_scope: 0,
                joins: Vec::new(),
                creations: Vec::new(),
                updates: Vec::new(),
                deletions: Vec::new(),
                errors: Vec::new(),
            },
        }
    }

    fn run<Beside: Send>(
        mut self,
        join_source: JoinSource,
        beside: impl FnOnce(&FieldIndex<'_, AdUser, AdAnchor>) -> Beside + Send,
    ) -> (SyncCycleOutcome, Beside) {
        let input = self.input;
        // Everything a user's decision looks up that the cycle itself never changes (scope,
        // which AD object exports an anchor, where joined cloud users are, whether their
        // values are free) is looked up first, on both cores: at a million users these
        // lookups, each at a random place in gigabytes, were most of the cycle's time. The
        // users are then decided one after the other, in AD order, as Connect exports them.
        let matcher = ScopeMatcher::new(input.scope);
        let in_scope: Vec<bool> =
            parallel::map_in_halves(input.ad_users, |_, user| matcher.contains(user));
        self.report.users_in_scope = in_scope.iter().filter(|inside| **inside).count() as u64;

        // The AD users per anchor, in AD order, keeping no keys (a million anchors); the
        // first in-scope one exports it, a second one is a duplicate anchor.
        let ad_by_anchor = FieldIndex::<AdUser, AdAnchor>::of_all(input.ad_users);
        let exporter_of = |anchor: &str| {
            ad_by_anchor
                .get(&anchor)
                .iter()
                .copied()
                .find(|&position| in_scope[position as usize])
        };
        let exports: Vec<bool> = parallel::map_in_halves(input.ad_users, |position, user| {
            in_scope[position]
                && exporter_of(user.immutable_id.as_str())
                    .is_some_and(|exporter| exporter as usize == position)
        });

        // Joins (anchor → cloud id, borrowed), and the deletions of joined objects that left
        // scope (§12).
        let joins: Vec<(&'a str, &'a str)> = match join_source {
            JoinSource::ConnectorSpace => input
                .connector_space
                .joins
                .iter()
                .map(|join| (join.source_anchor.as_str(), join.cloud_user_id.as_str()))
                .collect(),
            JoinSource::Inferred => parallel::filter_map_in_halves(input.cloud_users, |_, user| {
                if user.is_deleted() || !user.is_synced() {
                    return None;
                }
                let anchor = user.on_premises_immutable_id.as_ref()?.as_str();
                ad_by_anchor
                    .contains(&anchor)
                    .then_some((anchor, user.id.as_str()))
            }),
        };
        // Each join's exporting AD user, and its cloud user when that is active.
        let resolved: Vec<(Option<u32>, Option<u32>)> =
            parallel::map_in_halves(&joins, |_, &(anchor, cloud_id)| {
                let active = self
                    .index
                    .position_of(cloud_id)
                    .filter(|&position| !input.cloud_users[position as usize].is_deleted());
                (exporter_of(anchor), active)
            });
        // Each exporting AD user's join, by AD position (the last join of its anchor wins):
        // a position into `joins`, or `NOT_JOINED`.
        const NOT_JOINED: u32 = u32::MAX;
        let mut join_of = vec![NOT_JOINED; input.ad_users.len()];
        let mut pending_deletions: Vec<(&'a str, u32)> = Vec::new();
        for ((join, &(anchor, cloud_id)), &(exporter, active)) in positions(&joins).zip(&resolved) {
            if let Some(position) = active {
                self.claimed[position as usize] = true;
            }
            if let Some(exporter) = exporter {
                join_of[exporter as usize] = join;
                continue;
            }
            match active {
                Some(position) => pending_deletions.push((anchor, position)),
                None => self.record(|| SyncOperation::Disconnect {
                    source_anchor: ImmutableId::from_text(anchor),
                    cloud_user_id: cloud_id.to_owned(),
                }),
            }
        }
        let threshold_exceeded = input
            .options
            .deletion_threshold
            .is_some_and(|threshold| pending_deletions.len() as u64 > u64::from(threshold));
        for &(anchor, position) in &pending_deletions {
            let user = &input.cloud_users[position as usize];
            if !threshold_exceeded {
                self.deleting[position as usize] = true;
                self.record(|| SyncOperation::SoftDelete {
                    cloud_user_id: user.id.to_string(),
                    source_anchor: ImmutableId::from_text(anchor),
                });
            }
            if self.report_detail == SyncReportDetail::Records {
                self.report.deletions.push(DeletionRecord {
                    cloud_user_id: user.id.to_string(),
                    user_principal_name: user.user_principal_name.to_string(),
                    source_anchor: ImmutableId::from_text(anchor),
                    performed: !threshold_exceeded,
                });
            }
        }
        // What the joined users' updates look up in the tenant, for those whose joined
        // cloud user is active.
        let joined_lookups: Vec<JoinedLookups> = {
            let cycle = &self;
            parallel::map_in_halves(input.ad_users, |position, user| {
                let Some(&(_, Some(cloud))) = resolved.get(join_of[position] as usize) else {
                    return JoinedLookups::default();
                };
                let cloud_user = cycle.cloud(cloud);
                JoinedLookups {
                    unchanged: cycle.unchanged(user, cloud_user),
                    free_in_cloud: cycle.free_in_cloud(user, cloud),
                }
            })
        };

        let standing = |position: usize| {
            if !in_scope[position] {
                return Standing::OutOfScope;
            }
            if !exports[position] {
                return Standing::DuplicateAnchor;
            }
            let join = join_of[position] as usize;
            match (joins.get(join), resolved.get(join)) {
                (Some(_), Some(&(_, Some(cloud)))) => Standing::Joined {
                    cloud,
                    lookups: joined_lookups[position],
                },
                (Some(&(_, cloud_id)), _) => Standing::JoinedToDeleted { cloud_id },
                _ => Standing::New,
            }
        };
        let (decisions, beside) = parallel::both(
            || {
                let mut decisions = Vec::with_capacity(input.ad_users.len());
                decisions.extend(positions(input.ad_users).map(|(ad_index, user)| {
                    self.decide(ad_index, user, standing(ad_index as usize))
                }));
                decisions
            },
            || beside(&ad_by_anchor),
        );

        if threshold_exceeded {
            self.operations.clear();
            self.report.status = SyncRunStatus::StoppedDeletionThresholdExceeded;
            let threshold = input.options.deletion_threshold.unwrap_or_default();
            self.report.errors.push(SyncErrorRecord {
                code: "stopped-deletion-threshold-exceeded".to_owned(),
                message: format!(
                    "Prevent Accidental Deletes: The number of deletions for this sync cycle ({} pending deletes) has exceeded the current threshold of {} objects.",
                    pending_deletions.len(),
                    threshold
                ),
                source_anchor: None,
                distinguished_name: None,
                cloud_user_id: None,
                property: None,
                outcome: "export-stopped".to_owned(),
            });
        } else if input.options.staging_mode {
            self.operations.clear();
            self.report.status = SyncRunStatus::StagingModeNoExport;
        } else if !self.report.errors.is_empty() {
            self.report.status = SyncRunStatus::CompletedExportErrors;
        }
        let outcome = SyncCycleOutcome {
            operations: self.operations,
            report: self.report,
            decisions,
        };
        (outcome, beside)
    }

    /// One user's decision, from where the lookups found it.
    fn decide(
        &mut self,
        ad_index: u32,
        user: &'a AdUser,
        standing: Standing<'a>,
    ) -> UserSyncResult {
        let decision = match standing {
            Standing::OutOfScope => UserDecision::OutOfScope,
            Standing::DuplicateAnchor => {
                // Two AD objects export the same anchor; the first one wins.
                let (error, property) = (
                    SyncErrorKind::AttributeValueMustBeUnique,
                    Some(ConflictProperty::SourceAnchor),
                );
                self.error(user, error, None, property, "not-exported");
                UserDecision::Failed {
                    error,
                    property,
                    cloud_index: None,
                }
            }
            Standing::Joined { cloud, lookups } => {
                self.update_joined(ad_index, user, cloud, lookups)
            }
            Standing::JoinedToDeleted { cloud_id } => {
                // Deleted in the cloud: the join goes and the object is new again (§4, §12).
                self.record(|| SyncOperation::Disconnect {
                    source_anchor: user.immutable_id.clone(),
                    cloud_user_id: cloud_id.to_owned(),
                });
                return UserSyncResult {
                    decision: self.provision(ad_index, user),
                    reprovisioned: true,
                };
            }
            Standing::New => self.provision(ad_index, user),
        };
        UserSyncResult {
            decision,
            reprovisioned: false,
        }
    }

    fn cloud(&self, position: u32) -> &'a CloudUser {
        &self.input.cloud_users[position as usize]
    }

    /// Attribute flow for an AD user joined to an active cloud user.
    fn update_joined(
        &mut self,
        ad_index: u32,
        user: &'a AdUser,
        cloud: u32,
        lookups: JoinedLookups,
    ) -> UserDecision {
        let cloud_user = self.cloud(cloud);
        // Most joined users have nothing to flow: say so without building their values.
        // Entra checks uniqueness only on what is exported, so an unchanged user raises no
        // conflict either.
        if lookups.unchanged {
            return UserDecision::Joined {
                cloud_index: cloud as usize,
                changed: false,
            };
        }
        let built = match self.build_attributes(ad_index, user, Some(cloud), lookups.free_in_cloud)
        {
            Ok(built) => built,
            Err(property) => {
                self.error(
                    user,
                    SyncErrorKind::AttributeValueMustBeUnique,
                    None,
                    Some(property),
                    "not-exported",
                );
                return UserDecision::Failed {
                    error: SyncErrorKind::AttributeValueMustBeUnique,
                    property: Some(property),
                    cloud_index: None,
                };
            }
        };
        let changed = built.attributes.changes(cloud_user);
        let new_quarantines: Vec<&QuarantinedValue> = built
            .quarantined
            .iter()
            .filter(|value| !has_provisioning_error(cloud_user, value))
            .collect();
        let touched = !changed.is_empty() || !new_quarantines.is_empty();
        if touched {
            self.rewritten[cloud as usize] = true;
            self.claim_values(ad_index, &built.attributes);
            if self.report_detail == SyncReportDetail::Records {
                self.report.updates.push(UpdateRecord {
                    cloud_user_id: cloud_user.id.to_string(),
                    source_anchor: user.immutable_id.clone(),
                    changed: changed.into_iter().map(Cow::Borrowed).collect(),
                });
            }
            if self.operations_wanted == Operations::Record {
                let quarantines: Vec<SyncOperation> = new_quarantines
                    .iter()
                    .map(|value| {
                        self.quarantine_operation(
                            ObjectRef::CloudUserId(cloud_user.id.to_string()),
                            value,
                        )
                    })
                    .collect();
                self.operations.push(SyncOperation::Update {
                    cloud_user_id: cloud_user.id.to_string(),
                    source_anchor: user.immutable_id.clone(),
                    attributes: built.attributes.to_owned_attributes(),
                });
                self.operations.extend(quarantines);
            }
        }
        UserDecision::Joined {
            cloud_index: cloud as usize,
            changed: touched,
        }
    }

    /// Whether a joined cloud user already holds exactly the values a sync would write,
    /// decided without allocating (the same rules as [`Self::build_attributes`]).
    fn unchanged(&self, user: &AdUser, cloud: &CloudUser) -> bool {
        let tenant = self.input.tenant;
        let upn_same = match user
            .user_principal_name
            .as_deref()
            .and_then(|upn| upn.rsplit_once('@').map(|parts| (upn, parts)))
        {
            Some((upn, (_, suffix))) if tenant.verified_domain(suffix).is_some() => {
                cloud.user_principal_name == upn
            }
            Some((_, (local, _))) => {
                cloud
                    .user_principal_name
                    .strip_suffix(tenant.initial_domain.as_str())
                    .and_then(|rest| rest.strip_suffix('@'))
                    == Some(local)
            }
            None => false,
        };
        let has_smtp = user
            .proxy_addresses
            .iter()
            .any(|address| smtp_value(address).is_some());
        let proxies_same = match (&user.mail, has_smtp) {
            (Some(mail), false) => {
                cloud.proxy_addresses.len() == user.proxy_addresses.len() + 1
                    && cloud.proxy_addresses[..user.proxy_addresses.len()]
                        == user.proxy_addresses[..]
                    && cloud
                        .proxy_addresses
                        .last()
                        .and_then(|last| last.strip_prefix("SMTP:"))
                        == Some(mail.as_str())
            }
            _ => cloud.proxy_addresses == user.proxy_addresses,
        };
        let identifier_same = cloud
            .on_premises_object_identifier
            .as_deref()
            .and_then(|identifier| crate::anchor::ObjectGuid::parse_canonical(identifier).ok())
            == Some(user.object_guid);
        upn_same
            && proxies_same
            && identifier_same
            && (user.display_name.is_none() || cloud.display_name == user.display_name)
            && cloud.mail == user.mail
            && cloud.account_enabled == Some(user.enabled)
            && cloud.on_premises_immutable_id.as_ref() == Some(&user.immutable_id)
            && cloud.is_synced()
            && cloud.on_premises_distinguished_name.as_deref()
                == Some(user.distinguished_name.as_str())
            && cloud.on_premises_sam_account_name == user.sam_account_name
            && cloud.on_premises_user_principal_name == user.user_principal_name
            && cloud.on_premises_domain_name == user.domain
            && cloud.on_premises_security_identifier == user.object_sid
    }

    /// Hard match, soft match or creation for an object new to the connector space.
    fn provision(&mut self, ad_index: u32, user: &'a AdUser) -> UserDecision {
        match self.hard_match(user) {
            HardMatch::Target { cloud, restore } => {
                return self.join(ad_index, user, cloud, MatchKind::HardMatch, restore);
            }
            HardMatch::Blocked { cloud, error } => {
                let property = (error == SyncErrorKind::AttributeValueMustBeUnique)
                    .then_some(ConflictProperty::SourceAnchor);
                self.error(user, error, Some(cloud), property, "not-exported");
                return UserDecision::Failed {
                    error,
                    property,
                    cloud_index: Some(cloud as usize),
                };
            }
            HardMatch::None => {}
        }
        let mut refused = None;
        match self.soft_match(user) {
            SoftMatch::Target { cloud, attribute } => {
                return self.join(ad_index, user, cloud, attribute.match_kind(), false);
            }
            SoftMatch::Refused(refusal) => refused = Some(refusal),
            SoftMatch::None => {}
        }
        self.create(ad_index, user, refused)
    }

    fn hard_match(&self, user: &AdUser) -> HardMatch {
        let anchor = user.immutable_id.as_str();
        let active = self
            .index
            .active_by_anchor
            .get(&anchor)
            .iter()
            .copied()
            .find(|&cloud| !self.deleting[cloud as usize]);
        let (cloud, restore) = match active {
            Some(cloud) => (cloud, false),
            None => match self.index.deleted_by_anchor.get(&anchor).first() {
                Some(&cloud) => (cloud, true),
                None => return HardMatch::None,
            },
        };
        if self.claimed[cloud as usize] {
            return HardMatch::Blocked {
                cloud,
                error: SyncErrorKind::AttributeValueMustBeUnique,
            };
        }
        let target = self.cloud(cloud);
        if let Some(error) = self.hard_match_block(user, target) {
            return HardMatch::Blocked { cloud, error };
        }
        HardMatch::Target { cloud, restore }
    }

    /// The block, if any, on hard-matching `target` (§5, §7, §8).
    fn hard_match_block(&self, user: &AdUser, target: &CloudUser) -> Option<SyncErrorKind> {
        let hardening = self.input.options.hardening;
        // A synced target is a Connect reinstall, not a cloud object takeover.
        if self
            .features
            .block_cloud_object_takeover_through_hard_match_enabled
            && !target.is_synced()
        {
            return Some(SyncErrorKind::InvalidHardMatch);
        }
        if hardening.object_identifier_check
            && let Some(identifier) = target.on_premises_object_identifier.as_deref()
            && !identifier.is_empty()
            && !identifier.eq_ignore_ascii_case(&user.object_guid.to_string())
        {
            return Some(SyncErrorKind::HardeningObjectIdentifier);
        }
        if hardening.block_assigned_roles && self.index.assigned_roles.contains(target.id.as_str())
        {
            return Some(SyncErrorKind::HardeningAssignedRole);
        }
        if hardening.block_eligible_roles && self.index.eligible_roles.contains(target.id.as_str())
        {
            return Some(SyncErrorKind::HardeningEligibleRole);
        }
        None
    }

    fn soft_match(&self, user: &AdUser) -> SoftMatch {
        if self.features.block_soft_match_enabled {
            return SoftMatch::None;
        }
        let mut attempts: Vec<(SoftMatchAttribute, String)> = Vec::with_capacity(2);
        if let Some(address) = user.primary_smtp_address() {
            attempts.push((SoftMatchAttribute::PrimarySmtp, address.to_owned()));
        }
        if self.features.soft_match_on_upn_enabled
            && self.input.options.engine == SyncEngine::Connect
        {
            attempts.push((
                SoftMatchAttribute::UserPrincipalName,
                self.effective_upn(user).into_owned(),
            ));
        }
        for (attribute, value) in attempts {
            let holders = match attribute {
                SoftMatchAttribute::PrimarySmtp => self.index.active_by_smtp.get(&Folded(&value)),
                SoftMatchAttribute::UserPrincipalName => {
                    self.index.active_by_upn.get(&Folded(&value))
                }
            };
            let candidate = holders
                .iter()
                .copied()
                .find(|&cloud| !self.deleting[cloud as usize] && !self.rewritten[cloud as usize]);
            // A value written earlier in this cycle by another AD user is no candidate: that
            // object was exported in this same run, and creation will find the conflict.
            let Some(cloud) = candidate else {
                continue;
            };
            let target = self.cloud(cloud);
            let error = self.soft_match_block(user, target, cloud);
            return match error {
                Some(error) => SoftMatch::Refused(SoftMatchRefusal {
                    error,
                    cloud_index: cloud as usize,
                    attribute,
                }),
                None => SoftMatch::Target { cloud, attribute },
            };
        }
        SoftMatch::None
    }

    /// The block, if any, on soft-matching `target` (§4, §5, §9).
    fn soft_match_block(
        &self,
        user: &AdUser,
        target: &CloudUser,
        cloud: u32,
    ) -> Option<SyncErrorKind> {
        let holds_other_anchor = target
            .on_premises_immutable_id
            .as_ref()
            .is_some_and(|anchor| !anchor.as_str().is_empty() && anchor != &user.immutable_id);
        if holds_other_anchor || self.claimed[cloud as usize] {
            return Some(SyncErrorKind::InvalidSoftMatch);
        }
        if self.index.assigned_roles.contains(target.id.as_str()) {
            return Some(SyncErrorKind::ExistingAdminRoleConflict);
        }
        let federated = domain_of(&target.user_principal_name).is_some_and(|domain| {
            self.input.tenant.domains.iter().any(|candidate| {
                candidate.is_federated() && candidate.id.eq_ignore_ascii_case(domain)
            })
        });
        if federated {
            return Some(SyncErrorKind::FederatedDomainConflict);
        }
        None
    }

    fn join(
        &mut self,
        ad_index: u32,
        user: &'a AdUser,
        cloud: u32,
        match_kind: MatchKind,
        restore: bool,
    ) -> UserDecision {
        let target = self.cloud(cloud);
        let built = match self.build_attributes(ad_index, user, Some(cloud), false) {
            Ok(built) => built,
            Err(property) => {
                self.error(
                    user,
                    SyncErrorKind::AttributeValueMustBeUnique,
                    Some(cloud),
                    Some(property),
                    "not-exported",
                );
                return UserDecision::Failed {
                    error: SyncErrorKind::AttributeValueMustBeUnique,
                    property: Some(property),
                    cloud_index: Some(cloud as usize),
                };
            }
        };
        self.claimed[cloud as usize] = true;
        self.rewritten[cloud as usize] = true;
        self.claim_values(ad_index, &built.attributes);
        if self.report_detail == SyncReportDetail::Records {
            self.report.joins.push(JoinRecord {
                source_anchor: user.immutable_id.clone(),
                distinguished_name: user.distinguished_name.to_string(),
                cloud_user_id: target.id.to_string(),
                user_principal_name: built.attributes.user_principal_name.to_string(),
                match_kind,
                restored: restore,
            });
        }
        if self.operations_wanted == Operations::Record {
            let quarantines: Vec<SyncOperation> = built
                .quarantined
                .iter()
                .filter(|value| !has_provisioning_error(target, value))
                .map(|value| {
                    self.quarantine_operation(ObjectRef::CloudUserId(target.id.to_string()), value)
                })
                .collect();
            self.operations.push(SyncOperation::Join {
                cloud_user_id: target.id.to_string(),
                source_anchor: user.immutable_id.clone(),
                match_kind,
                restore,
                attributes: built.attributes.to_owned_attributes(),
            });
            self.operations.extend(quarantines);
        }
        match match_kind {
            MatchKind::HardMatch => UserDecision::HardMatched {
                cloud_index: cloud as usize,
                restored: restore,
            },
            MatchKind::SoftMatchPrimarySmtp => UserDecision::SoftMatched {
                cloud_index: cloud as usize,
                attribute: SoftMatchAttribute::PrimarySmtp,
            },
            MatchKind::SoftMatchUserPrincipalName => UserDecision::SoftMatched {
                cloud_index: cloud as usize,
                attribute: SoftMatchAttribute::UserPrincipalName,
            },
        }
    }

    fn create(
        &mut self,
        ad_index: u32,
        user: &'a AdUser,
        refused: Option<SoftMatchRefusal>,
    ) -> UserDecision {
        let refused_cloud = refused.and_then(|refusal| u32::try_from(refusal.cloud_index).ok());
        let built = match self.build_attributes(ad_index, user, None, false) {
            Ok(built) => built,
            Err(property) => {
                // Without resiliency the refusal itself is the error the admin sees.
                let error = refused.map_or(SyncErrorKind::AttributeValueMustBeUnique, |refusal| {
                    refusal.error
                });
                self.error(user, error, refused_cloud, Some(property), "not-exported");
                return UserDecision::Failed {
                    error,
                    property: Some(property),
                    cloud_index: refused.map(|refusal| refusal.cloud_index),
                };
            }
        };
        if let Some(refusal) = refused {
            self.error(
                user,
                refusal.error,
                refused_cloud,
                None,
                "created-with-quarantine",
            );
        }
        let key = provisional_key(&user.immutable_id);
        self.claim_values(ad_index, &built.attributes);
        if self.report_detail == SyncReportDetail::Records {
            self.report.creations.push(CreationRecord {
                provisional_key: key.clone(),
                source_anchor: user.immutable_id.clone(),
                distinguished_name: user.distinguished_name.to_string(),
                user_principal_name: built.attributes.user_principal_name.to_string(),
                quarantined: built.quarantined.clone(),
            });
        }
        if self.operations_wanted == Operations::Record {
            let quarantines: Vec<SyncOperation> = built
                .quarantined
                .iter()
                .map(|value| {
                    self.quarantine_operation(ObjectRef::ProvisionalKey(key.clone()), value)
                })
                .collect();
            self.operations.push(SyncOperation::Create {
                provisional_key: key,
                source_anchor: user.immutable_id.clone(),
                attributes: built.attributes.to_owned_attributes(),
            });
            self.operations.extend(quarantines);
        }
        UserDecision::Created {
            quarantined: built.quarantined,
            refused,
        }
    }

    /// The UPN the sync exports: the AD value with an unverified suffix replaced by the
    /// initial domain (§15 A, issue 4 "a UPN suffix that is not a verified domain").
    fn effective_upn(&self, user: &'a AdUser) -> Cow<'a, str> {
        let tenant = self.input.tenant;
        match user.user_principal_name.as_deref() {
            Some(upn) => match upn.rsplit_once('@') {
                Some((_, suffix)) if tenant.verified_domain(suffix).is_some() => Cow::Borrowed(upn),
                Some((prefix, _)) => Cow::Owned(format!("{prefix}@{}", tenant.initial_domain)),
                None => Cow::Owned(format!("{upn}@{}", tenant.initial_domain)),
            },
            None => Cow::Owned(match user.sam_account_name.as_deref() {
                Some(sam) => format!("{sam}@{}", tenant.initial_domain),
                None => format!(
                    "user{:04}@{}",
                    placeholder_number(&user.immutable_id),
                    tenant.initial_domain
                ),
            }),
        }
    }

    /// Whether `value` (UPN or SMTP address) is held by an object other than the AD user
    /// at `ad_index` and its own cloud user.
    /// `free_in_cloud`: no cloud user but `own_cloud` holds it (see [`Self::free_in_cloud`]).
    fn value_taken(
        &self,
        value: &str,
        upn: bool,
        ad_index: u32,
        own_cloud: Option<u32>,
        free_in_cloud: bool,
    ) -> bool {
        let held_in_cloud = !free_in_cloud
            && self.holders(value, upn).iter().any(|&cloud| {
                Some(cloud) != own_cloud
                    && !self.deleting[cloud as usize]
                    && !self.rewritten[cloud as usize]
            });
        held_in_cloud
            || self
                .written_by(value)
                .is_some_and(|writer| writer != ad_index)
    }

    /// The active cloud users holding `value` as their UPN, or else as an SMTP address.
    fn holders<'s>(&'s self, value: &'s str, upn: bool) -> &'s [u32] {
        if upn {
            self.index.active_by_upn.get(&Folded(value))
        } else {
            self.index.active_by_smtp.get(&Folded(value))
        }
    }

    /// Whether no active cloud user but `own_cloud` holds any value that
    /// [`Self::build_attributes`] checks for `user`: the part of [`Self::value_taken`] that
    /// nothing in the cycle changes, so it can be looked up before the users are decided.
    fn free_in_cloud(&self, user: &AdUser, own_cloud: u32) -> bool {
        let only_own = |holders: &[u32]| holders.iter().all(|&cloud| cloud == own_cloud);
        let mut addresses = user.smtp_addresses().peekable();
        let mail_as_primary = match addresses.peek() {
            Some(_) => None,
            None => user.mail.as_deref(),
        };
        only_own(self.holders(&self.effective_upn(user), true))
            && addresses
                .chain(mail_as_primary)
                .all(|address| only_own(self.holders(address, false)))
    }

    /// The AD user whose export in this cycle wrote `value` (any ASCII case) last, if any.
    fn written_by(&self, value: &str) -> Option<u32> {
        self.written_values
            .get(&FoldedText(Cow::Borrowed(value)))
            .copied()
    }

    fn resolution(&self, upn: bool) -> Resolution {
        let quarantine = if upn {
            self.features.quarantine_upon_upn_conflict_enabled
        } else {
            self.features
                .quarantine_upon_proxy_addresses_conflict_enabled
        };
        if quarantine {
            Resolution::Quarantine
        } else {
            Resolution::Fail
        }
    }

    /// The values to write for `user`, with conflicts resolved by resiliency (§6).
    /// `Err` names the property whose conflict resiliency does not cover.
    fn build_attributes(
        &self,
        ad_index: u32,
        user: &'a AdUser,
        own_cloud: Option<u32>,
        free_in_cloud: bool,
    ) -> Result<Built<'a>, ConflictProperty> {
        let mut quarantined = Vec::new();
        let wanted_upn = self.effective_upn(user);
        let mut upn = wanted_upn.clone();
        if self.value_taken(&wanted_upn, true, ad_index, own_cloud, free_in_cloud) {
            match self.resolution(true) {
                Resolution::Fail => return Err(ConflictProperty::UserPrincipalName),
                Resolution::Quarantine => {
                    upn = match own_cloud {
                        // An existing object keeps its current UPN.
                        Some(cloud) => {
                            Cow::Borrowed(self.cloud(cloud).user_principal_name.as_str())
                        }
                        None => Cow::Owned(self.placeholder_upn(ad_index, user, &wanted_upn)),
                    };
                    quarantined.push(QuarantinedValue {
                        property: ConflictProperty::UserPrincipalName,
                        value: wanted_upn.into_owned(),
                    });
                }
            }
        }

        // Connect exports `mail` as the primary address when AD has no SMTP proxy.
        let mut proxies: Vec<Cow<'a, str>> = user
            .proxy_addresses
            .iter()
            .map(|address| Cow::Borrowed(address.as_str()))
            .collect();
        if !proxies.iter().any(|address| smtp_value(address).is_some())
            && let Some(mail) = &user.mail
        {
            proxies.push(Cow::Owned(format!("SMTP:{mail}")));
        }
        let mut kept = Vec::with_capacity(proxies.len());
        let mut dropped_addresses: Vec<String> = Vec::new();
        for proxy in proxies {
            let taken = smtp_value(&proxy).is_some_and(|address| {
                self.value_taken(address, false, ad_index, own_cloud, free_in_cloud)
            });
            if !taken {
                kept.push(proxy);
                continue;
            }
            match self.resolution(false) {
                Resolution::Fail => return Err(ConflictProperty::ProxyAddress),
                Resolution::Quarantine => {
                    if let Some(address) = smtp_value(&proxy) {
                        dropped_addresses.push(address.to_owned());
                    }
                    quarantined.push(QuarantinedValue {
                        property: ConflictProperty::ProxyAddress,
                        value: proxy.into_owned(),
                    });
                }
            }
        }
        // A quarantined address does not stay behind as `mail` either.
        let mail = user.mail.as_deref().filter(|mail| {
            !dropped_addresses
                .iter()
                .any(|address| address.eq_ignore_ascii_case(mail))
        });
        Ok(Built {
            attributes: AttributeValues {
                user_principal_name: upn,
                display_name: user.display_name.as_deref(),
                mail,
                proxy_addresses: kept,
                account_enabled: user.enabled,
                on_premises_immutable_id: &user.immutable_id,
                on_premises_last_sync_date_time: self.input.now,
                on_premises_distinguished_name: &user.distinguished_name,
                on_premises_sam_account_name: user.sam_account_name.as_deref(),
                on_premises_user_principal_name: user.user_principal_name.as_deref(),
                on_premises_domain_name: user.domain.as_deref(),
                on_premises_security_identifier: user.object_sid.as_deref(),
                on_premises_object_identifier: user.object_guid.to_string(),
            },
            quarantined,
        })
    }

    /// `<prefix><NNNN>@<initial domain>`, the first free number from the anchor's own.
    fn placeholder_upn(&self, ad_index: u32, user: &AdUser, wanted: &str) -> String {
        let prefix = wanted.rsplit_once('@').map_or(wanted, |(prefix, _)| prefix);
        let start = u32::from(placeholder_number(&user.immutable_id));
        let domain = &self.input.tenant.initial_domain;
        let mut candidate = format!("{prefix}{start:04}@{domain}");
        for step in 1..10_000 {
            if !self.value_taken(&candidate, true, ad_index, None, false) {
                break;
            }
            candidate = format!("{prefix}{:04}@{domain}", (start + step) % 10_000);
        }
        candidate
    }

    fn claim_values(&mut self, ad_index: u32, attributes: &AttributeValues<'a>) {
        self.claim(attributes.user_principal_name.clone(), ad_index);
        // `mail` is most often also the primary address: claimed once, the same claim.
        let mut mail_claimed = false;
        for proxy in &attributes.proxy_addresses {
            let address = match proxy {
                Cow::Borrowed(proxy) => smtp_value(proxy).map(Cow::Borrowed),
                // Connect's `SMTP:` address made of `mail`, for a user without one in AD.
                Cow::Owned(proxy) => smtp_value(proxy).map(|address| Cow::Owned(address.into())),
            };
            if let Some(address) = address {
                mail_claimed |= attributes
                    .mail
                    .is_some_and(|mail| mail.eq_ignore_ascii_case(&address));
                self.claim(address, ad_index);
            }
        }
        if let Some(mail) = attributes.mail
            && !mail_claimed
        {
            self.claim(Cow::Borrowed(mail), ad_index);
        }
    }

    /// Records that AD user `ad_index` writes `value`; the last writer wins.
    fn claim(&mut self, value: Cow<'a, str>, ad_index: u32) {
        self.written_values.insert(FoldedText(value), ad_index);
    }

    /// Keeps an operation when the caller applies them (see [`Operations`]).
    fn record(&mut self, operation: impl FnOnce() -> SyncOperation) {
        if self.operations_wanted == Operations::Record {
            self.operations.push(operation());
        }
    }

    fn quarantine_operation(&self, target: ObjectRef, value: &QuarantinedValue) -> SyncOperation {
        SyncOperation::Quarantine {
            target,
            error: OnPremisesProvisioningError {
                category: Some("PropertyConflict".to_owned()),
                occurred_date_time: Some(self.input.now.to_owned()),
                property_causing_error: Some(value.property.name().to_owned()),
                value: Some(value.value.clone()),
            },
        }
    }

    fn error(
        &mut self,
        user: &AdUser,
        error: SyncErrorKind,
        cloud: Option<u32>,
        property: Option<ConflictProperty>,
        outcome: &str,
    ) {
        self.report.errors.push(SyncErrorRecord {
            code: error.code().to_owned(),
            message: error.message(self.input.options.engine).to_owned(),
            source_anchor: Some(user.immutable_id.clone()),
            distinguished_name: Some(user.distinguished_name.to_string()),
            cloud_user_id: cloud.map(|cloud| self.cloud(cloud).id.to_string()),
            property: property.map(|property| property.name().to_owned()),
            outcome: outcome.to_owned(),
        });
    }
}

/// Where an AD user stands when the cycle comes to decide it, from what it looked up first.
enum Standing<'a> {
    OutOfScope,
    /// Another AD object, earlier in AD order, exports the same anchor.
    DuplicateAnchor,
    /// Joined to an active cloud user.
    Joined {
        cloud: u32,
        lookups: JoinedLookups,
    },
    /// Joined to a cloud user that is deleted or gone.
    JoinedToDeleted {
        cloud_id: &'a str,
    },
    /// New to the connector space: hard match, soft match or creation.
    New,
}

/// What a joined user's update looks up that the cycle never changes (see `Cycle::run`).
#[derive(Clone, Copy, Default)]
struct JoinedLookups {
    /// The cloud user already holds exactly the values a sync would write.
    unchanged: bool,
    /// See `Cycle::free_in_cloud`.
    free_in_cloud: bool,
}

struct Built<'a> {
    attributes: AttributeValues<'a>,
    quarantined: Vec<QuarantinedValue>,
}

enum HardMatch {
    None,
    Target { cloud: u32, restore: bool },
    Blocked { cloud: u32, error: SyncErrorKind },
}

enum SoftMatch {
    None,
    Target {
        cloud: u32,
        attribute: SoftMatchAttribute,
    },
    Refused(SoftMatchRefusal),
}

fn has_provisioning_error(user: &CloudUser, value: &QuarantinedValue) -> bool {
    user.on_premises_provisioning_errors.iter().any(|error| {
        error.property_causing_error.as_deref() == Some(value.property.name())
            && error.value.as_deref() == Some(value.value.as_str())
    })
}

/// Applies a cycle's operations to a tenant's users and connector space, as the emulator
/// does: the reference semantics of each [`SyncOperation`].
///
/// `assign_id` turns a provisional key into the new user's object id. `now` stamps
/// soft deletions. Operations naming an unknown user are skipped: they cannot occur for
/// an outcome computed from the same state.
pub fn apply_operations(
    cloud_users: &mut Vec<CloudUser>,
    connector_space: &mut ConnectorSpace,
    operations: &[SyncOperation],
    now: &str,
    mut assign_id: impl FnMut(&str) -> String,
) {
    let mut positions: HashMap<String, usize> = cloud_users
        .iter()
        .enumerate()
        .map(|(position, user)| (user.id.to_string(), position))
        .collect();
    let mut provisional: HashMap<String, String> = HashMap::default();
    let drop_join = |connector_space: &mut ConnectorSpace, anchor: &ImmutableId| {
        connector_space
            .joins
            .retain(|join| &join.source_anchor != anchor);
    };
    for operation in operations {
        match operation {
            SyncOperation::Disconnect { source_anchor, .. } => {
                drop_join(connector_space, source_anchor);
            }
            SyncOperation::Join {
                cloud_user_id,
                source_anchor,
                restore,
                attributes,
                ..
            } => {
                let Some(&position) = positions.get(cloud_user_id) else {
                    continue;
                };
                let user = &mut cloud_users[position];
                if *restore {
                    user.deleted_date_time = None;
                }
                attributes.apply_to(user);
                drop_join(connector_space, source_anchor);
                connector_space.joins.push(ConnectorSpaceJoin {
                    source_anchor: source_anchor.clone(),
                    cloud_user_id: cloud_user_id.clone(),
                    distinguished_name: Some(attributes.on_premises_distinguished_name.to_string()),
                });
            }
            SyncOperation::Create {
                provisional_key,
                source_anchor,
                attributes,
            } => {
                let id = assign_id(provisional_key);
                let mut user = CloudUser {
                    id: id.as_str().into(),
                    created_date_time: Some(now.into()),
                    ..CloudUser::default()
                };
                attributes.apply_to(&mut user);
                positions.insert(id.clone(), cloud_users.len());
                cloud_users.push(user);
                provisional.insert(provisional_key.clone(), id.clone());
                drop_join(connector_space, source_anchor);
                connector_space.joins.push(ConnectorSpaceJoin {
                    source_anchor: source_anchor.clone(),
                    cloud_user_id: id,
                    distinguished_name: Some(attributes.on_premises_distinguished_name.to_string()),
                });
            }
            SyncOperation::Update {
                cloud_user_id,
                attributes,
                ..
            } => {
                if let Some(&position) = positions.get(cloud_user_id) {
                    attributes.apply_to(&mut cloud_users[position]);
                }
            }
            SyncOperation::SoftDelete {
                cloud_user_id,
                source_anchor,
            } => {
                if let Some(&position) = positions.get(cloud_user_id) {
                    let user = &mut cloud_users[position];
                    user.deleted_date_time = Some(now.into());
                    // §12: a user removed from scope is soft-deleted with DirSyncEnabled false.
                    user.on_premises_sync_enabled = Some(false);
                }
                drop_join(connector_space, source_anchor);
            }
            SyncOperation::Quarantine { target, error } => {
                let id = match target {
                    ObjectRef::CloudUserId(id) => Some(id),
                    ObjectRef::ProvisionalKey(key) => provisional.get(key),
                };
                let Some(&position) = id.and_then(|id| positions.get(id)) else {
                    continue;
                };
                let errors = &mut cloud_users[position].on_premises_provisioning_errors;
                let present = errors.iter().any(|existing| {
                    existing.property_causing_error == error.property_causing_error
                        && existing.value == error.value
                });
                if !present {
                    errors.push(error.clone());
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "sync_tests.rs"]
mod tests;
