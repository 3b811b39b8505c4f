//! What is wrong with each user, and what the next sync will do about it.
//!
//! `hardmatch status` is a view of [`diagnose`]. The prediction is not a second copy of the
//! rules: it runs [`crate::sync::run_sync_cycle`] on the current state (with the connector
//! space inferred from the tenant when Connect's own is not available) and explains each
//! user's decision with evidence from both directories. On top of that it adds what the
//! sync does not report: duplicates the sync already created, orphaned ImmutableIDs,
//! addresses a takeover would drop, and IdFix-like problems in AD.
//!
//! Joins are hash lookups in both directions (anchor exact; UPN and SMTP addresses without
//! regard to ASCII case), so a run is O(N + M).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ad::AdUser;
use crate::index::{Field, FieldIndex, Folded, HashSet, MultiIndex, domain_of, smtp_value};
use crate::parallel;
use crate::sync::{
    CloudIndex, ConflictProperty, ConnectorSpace, JoinSource, Operations, SoftMatchAttribute,
    SyncCycleInput, SyncErrorKind, SyncOptions, SyncReport, SyncReportDetail, SyncScope,
    UserDecision, UserSyncResult, cloud_smtp_addresses, effective_features, is_placeholder_upn,
    run_sync_cycle_beside,
};
use crate::tenant::{CloudUser, TenantInfo, TenantSnapshot};

/// Settings of a diagnosis.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DiagnoseOptions {
    pub scope: SyncScope,
    pub sync: SyncOptions,
    /// Connect's real joins when known (the emulator's state); else inferred from the tenant.
    pub connector_space: Option<ConnectorSpace>,
    /// How much of the predicted sync report [`Diagnosis::predicted_sync`] keeps: a
    /// choice of the output, not of the prediction, so never read from a file.
    #[serde(skip)]
    pub sync_report: SyncReportDetail,
}

/// Why a user cannot be matched until something outside the data changes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockReason {
    /// The cloud account has an active directory role (§4, §8).
    AdminRole,
    /// The cloud account is PIM-eligible for a directory role (§8).
    PimEligibility,
    /// The cloud account's `onPremisesObjectIdentifier` names another AD object (§8).
    ObjectIdentifier,
    /// A tenant flag: `blockCloudObjectTakeoverThroughHardMatchEnabled` or `blockSoftMatchEnabled` (§7).
    TenantFlag(String),
    /// The cloud account is synced from another anchor (§5 InvalidSoftMatch causes).
    SyncedFromOtherAnchor,
    /// The cloud account's UPN is in a federated domain (§9).
    FederatedDomain,
}

/// Why a user's data conflicts with another object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictReason {
    /// The soft-match candidate holds another ImmutableID (§5).
    InvalidSoftMatch,
    /// The UPN is also on another object (§6).
    UpnConflict,
    /// An SMTP proxy address is also on another object (§6).
    ProxyAddressConflict,
    /// Another active or recycle-bin object holds the same ImmutableID (§12, §15 C10).
    ImmutableIdHeldByOther,
    /// The AD user is joined to a duplicate the sync created, next to its real account.
    SyncCreatedDuplicate,
    /// The joined cloud user carries quarantined values (§6).
    QuarantinedAttribute,
    /// Another AD object exports the same anchor.
    DuplicateSourceAnchor,
}

/// A user's status; see the list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    Linked,
    WillHardMatch,
    WillSoftMatch {
        attribute: SoftMatchAttribute,
    },
    /// The next sync creates a new cloud user: a future duplicate if the person has an account.
    WillCreate,
    Blocked {
        reason: BlockReason,
    },
    Conflicting {
        reason: ConflictReason,
    },
    OutOfScope,
}

impl Status {
    /// The status name used in summaries and filters.
    pub const fn name(&self) -> &'static str {
        Self::NAMES[self.position()]
    }

    /// Where the status comes in [`Status::NAMES`].
    const fn position(&self) -> usize {
        match self {
            Self::Linked => 0,
            Self::WillHardMatch => 1,
            Self::WillSoftMatch { .. } => 2,
            Self::WillCreate => 3,
            Self::Blocked { .. } => 4,
            Self::Conflicting { .. } => 5,
            Self::OutOfScope => 6,
        }
    }

    /// Every status name, in display order.
    pub const NAMES: [&'static str; 7] = [
        "linked",
        "will_hard_match",
        "will_soft_match",
        "will_create",
        "blocked",
        "conflicting",
        "out_of_scope",
    ];
}

/// One fact behind a status. It borrows what it names from the directories: a million
/// statuses would otherwise copy a million sets of names and ids.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Evidence<'a> {
    /// A stable key, e.g. `holder`, `candidate`, `duplicate`, `real_account`, `sync_error`.
    pub code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud_user_id: Option<&'a str>,
    pub detail: EvidenceDetail<'a>,
}

/// What an evidence item says. Most evidence describes a cloud user, and few of a million
/// users' descriptions are ever printed: those are written when printed, from the user
/// they describe, rather than held as text by every status. Both read as the same text
/// (`Display`) and serialize as that string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EvidenceDetail<'a> {
    Text(String),
    CloudUser {
        lead: Lead,
        user: &'a CloudUser,
        admin_role: bool,
        pim_eligible: bool,
    },
}

/// The words around a cloud user's description.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lead {
    /// The description alone.
    Bare,
    /// `same <attribute>: …`, the soft-match candidate.
    Same(SoftMatchAttribute),
    /// `<error>: same <attribute>: …`, a candidate the sync refuses.
    Refused(SyncErrorKind, SoftMatchAttribute),
    /// `shares the <attribute>: …`, the person's own account.
    Shares(&'static str),
    /// `the next sync restores … from the recycle bin`.
    Restores,
}

impl EvidenceDetail<'_> {
    /// The text, borrowed when it is held.
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Self::Text(text) => std::borrow::Cow::Borrowed(text),
            Self::CloudUser { .. } => std::borrow::Cow::Owned(self.to_string()),
        }
    }
}

impl std::fmt::Display for EvidenceDetail<'_> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Text(text) => formatter.write_str(text),
            Self::CloudUser {
                lead,
                user,
                admin_role,
                pim_eligible,
            } => {
                match lead {
                    Lead::Bare => {}
                    Lead::Same(attribute) => write!(formatter, "same {}: ", attribute.name())?,
                    Lead::Refused(error, attribute) => {
                        write!(formatter, "{}: same {}: ", error.code(), attribute.name())?;
                    }
                    Lead::Shares(attribute) => write!(formatter, "shares the {attribute}: ")?,
                    Lead::Restores => formatter.write_str("the next sync restores ")?,
                }
                formatter.write_str(&user.user_principal_name)?;
                if user.is_deleted() {
                    formatter.write_str(", in the recycle bin")?;
                }
                formatter.write_str(match user.on_premises_sync_enabled {
                    Some(true) => ", synced",
                    Some(false) => ", formerly synced",
                    None => ", cloud-only",
                })?;
                if let Some(anchor) = &user.on_premises_immutable_id {
                    write!(formatter, ", ImmutableID {anchor}")?;
                }
                if user.is_licensed() {
                    write!(formatter, ", {} licence(s)", user.assigned_licenses.len())?;
                }
                if has_mailbox(user) {
                    formatter.write_str(", mailbox")?;
                }
                if *admin_role {
                    formatter.write_str(", admin role")?;
                }
                if *pim_eligible {
                    formatter.write_str(", PIM-eligible")?;
                }
                if *lead == Lead::Restores {
                    formatter.write_str(" from the recycle bin")?;
                }
                Ok(())
            }
        }
    }
}

impl Serialize for EvidenceDetail<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The status of one AD user. It refers to the AD user and the cloud user rather than
/// copying or borrowing their names one by one: a million statuses are held at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserStatus<'a> {
    pub ad_user: &'a AdUser,
    pub status: Status,
    /// The cloud user the status is about: joined, matched, candidate or real account.
    pub cloud_user: Option<&'a CloudUser>,
    pub evidence: Vec<Evidence<'a>>,
    /// Index into the AD users given to [`diagnose`].
    pub ad_index: usize,
    /// Index into the tenant snapshot's users, for `cloud_user`.
    pub cloud_index: Option<usize>,
}

impl<'a> UserStatus<'a> {
    pub fn distinguished_name(&self) -> &'a str {
        &self.ad_user.distinguished_name
    }

    pub fn user_principal_name(&self) -> Option<&'a str> {
        self.ad_user.user_principal_name.as_deref()
    }

    pub fn sam_account_name(&self) -> Option<&'a str> {
        self.ad_user.sam_account_name.as_deref()
    }

    pub fn immutable_id(&self) -> &'a str {
        self.ad_user.immutable_id.as_str()
    }

    pub fn cloud_user_id(&self) -> Option<&'a str> {
        self.cloud_user.map(|user| user.id.as_str())
    }

    pub fn cloud_user_principal_name(&self) -> Option<&'a str> {
        self.cloud_user
            .map(|user| user.user_principal_name.as_str())
    }
}

/// A status as `status --json` writes it: the names read from the users it refers to.
impl Serialize for UserStatus<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Written<'s, 'a> {
            distinguished_name: &'a str,
            user_principal_name: Option<&'a str>,
            sam_account_name: Option<&'a str>,
            immutable_id: &'a str,
            #[serde(flatten)]
            status: &'s Status,
            #[serde(skip_serializing_if = "Option::is_none")]
            cloud_user_id: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            cloud_user_principal_name: Option<&'a str>,
            #[serde(skip_serializing_if = "<[_]>::is_empty")]
            evidence: &'s [Evidence<'a>],
        }
        Written {
            distinguished_name: self.distinguished_name(),
            user_principal_name: self.user_principal_name(),
            sam_account_name: self.sam_account_name(),
            immutable_id: self.immutable_id(),
            status: &self.status,
            cloud_user_id: self.cloud_user_id(),
            cloud_user_principal_name: self.cloud_user_principal_name(),
            evidence: &self.evidence,
        }
        .serialize(serializer)
    }
}

/// A tenant-side finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantFindingKind {
    /// A cloud user holds an ImmutableID that no AD object has.
    Orphan,
    /// An initial-domain cloud user holding an AD user's anchor next to that user's real account.
    SyncCreatedDuplicate,
    /// A licensed or mailbox account whose addresses a takeover would drop (§11).
    TakeoverAddressLoss,
}

/// A tenant-side finding. Like a status, it refers to the users it is about: at a million
/// users there are hundreds of thousands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TenantFinding<'a> {
    pub kind: TenantFindingKind,
    pub cloud_user_id: &'a str,
    pub user_principal_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub related_cloud_user_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<&'a str>,
    pub detail: FindingDetail<'a>,
}

/// What a tenant finding says, written when it is shown (`Display`, and `Serialize` as that
/// string).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FindingDetail<'a> {
    /// A sync-created duplicate: the AD user's DN, and its real account's description.
    CreatedFor {
        distinguished_name: &'a str,
        real_account: EvidenceDetail<'a>,
    },
    /// Addresses a takeover by this AD user (DN) would drop.
    TakeoverBy { distinguished_name: &'a str },
    /// An ImmutableID no AD object has.
    NoAdObject { anchor: &'a str, deleted: bool },
}

impl std::fmt::Display for FindingDetail<'_> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::CreatedFor {
                distinguished_name,
                real_account,
            } => write!(
                formatter,
                "created by the sync for {distinguished_name}; the real account is {real_account}"
            ),
            Self::TakeoverBy { distinguished_name } => write!(
                formatter,
                "a takeover by {distinguished_name} replaces mail and proxyAddresses with AD's values; copy these addresses to AD first"
            ),
            Self::NoAdObject { anchor, deleted } => write!(
                formatter,
                "holds ImmutableID {anchor} that no AD object has{}",
                if *deleted {
                    " (in the recycle bin)"
                } else {
                    ""
                }
            ),
        }
    }
}

impl Serialize for FindingDetail<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// An on-premises data problem, as IdFix reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HygieneKind {
    DuplicateUserPrincipalName,
    DuplicateSmtpAddress,
    DuplicateSourceAnchor,
    InvalidCharacters,
    UnverifiedUpnSuffix,
    MissingUserPrincipalName,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HygieneFinding {
    pub kind: HygieneKind,
    /// The AD attribute: `userPrincipalName`, `mail`, `proxyAddresses`, the anchor attribute.
    pub attribute: String,
    pub value: String,
    pub distinguished_names: Vec<String>,
    pub detail: String,
}

/// Everything `hardmatch status` shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnosis<'a> {
    /// When the tenant snapshot was taken; the prediction runs "now" at that time.
    pub taken_at: String,
    /// Users per status name.
    pub summary: BTreeMap<String, u64>,
    pub users: Vec<UserStatus<'a>>,
    pub tenant_findings: Vec<TenantFinding<'a>>,
    pub hygiene: Vec<HygieneFinding>,
    /// The report the next sync cycle would produce, with or without its records
    /// ([`DiagnoseOptions::sync_report`]).
    pub predicted_sync: SyncReport,
}

/// Diagnoses every AD user against the tenant. Never fails.
pub fn diagnose<'a>(
    ad_users: &'a [AdUser],
    tenant: &'a TenantSnapshot,
    options: &DiagnoseOptions,
) -> Diagnosis<'a> {
    diagnose_with(ad_users, tenant, &CloudIndex::of(tenant), options)
}

/// [`diagnose`] on an index the caller built with [`CloudIndex::of`] and passes on to
/// [`crate::plan::plan_with`], so that a run indexes the tenant once. An index of other
/// users than `tenant`'s is not used: the tenant is then indexed again.
pub fn diagnose_with<'a>(
    ad_users: &'a [AdUser],
    tenant: &'a TenantSnapshot,
    index: &CloudIndex<'_>,
    options: &DiagnoseOptions,
) -> Diagnosis<'a> {
    if !index.indexes(&tenant.users) {
        return diagnose(ad_users, tenant, options);
    }
    // One index serves the prediction and the explanations; an inferred connector space
    // borrows from the tenant instead of copying a million joins.
    let empty = ConnectorSpace::default();
    let (connector_space, join_source) = match &options.connector_space {
        Some(space) => (space, JoinSource::ConnectorSpace),
        None => (&empty, JoinSource::Inferred),
    };
    // The hygiene checks and the orphan search need neither the prediction nor each other's
    // results: they run on the other core while this one decides the users in order.
    let (outcome, (orphans, hygiene)) = run_sync_cycle_beside(
        &SyncCycleInput {
            ad_users,
            scope: &options.scope,
            tenant: &tenant.tenant,
            cloud_users: &tenant.users,
            role_assignments: &tenant.role_assignments,
            role_eligibilities: &tenant.role_eligibilities,
            connector_space,
            options: &options.sync,
            now: &tenant.taken_at,
        },
        index,
        join_source,
        Operations::Skip,
        options.sync_report,
        // Both look AD users up by anchor, in the cycle's own index.
        |ad_by_anchor| {
            (
                orphans(ad_by_anchor, &tenant.users),
                hygiene_with(ad_users, ad_by_anchor, &tenant.tenant),
            )
        },
    );
    let context = Context {
        tenant: &tenant.tenant,
        cloud: &tenant.users,
        index,
        block_soft_match: effective_features(&tenant.tenant).block_soft_match_enabled,
    };
    let statuses = context.statuses_in_blocks(ad_users, &outcome.decisions, STATUS_BLOCK);
    let Statuses {
        users,
        counts,
        mut tenant_findings,
    } = statuses;
    tenant_findings.extend(orphans);
    sort_findings(&mut tenant_findings);
    Diagnosis {
        taken_at: tenant.taken_at.clone(),
        summary: Status::NAMES
            .iter()
            .zip(counts)
            .map(|(name, count)| ((*name).to_owned(), count))
            .collect(),
        users,
        tenant_findings,
        hygiene,
        predicted_sync: outcome.report,
    }
}

/// Sorts tenant findings by kind, then cloud user id, keeping the order of equal ones. A
/// million users have hundreds of thousands, whose ids compare slowly: a long list's halves
/// are sorted on two cores, and the sort of the whole then merges the two sorted runs it
/// finds.
fn sort_findings(findings: &mut [TenantFinding<'_>]) {
    let order = |left: &TenantFinding<'_>, right: &TenantFinding<'_>| {
        (left.kind, &left.cloud_user_id).cmp(&(right.kind, &right.cloud_user_id))
    };
    if findings.len() >= parallel::ITEMS_WORTH_A_THREAD {
        let (first, second) = findings.split_at_mut(findings.len() / 2);
        parallel::both(|| first.sort_by(order), || second.sort_by(order));
    }
    findings.sort_by(order);
}

/// Users whose statuses one core makes at a time: a few megabytes of statuses.
const STATUS_BLOCK: usize = 1 << 16;

/// The per-user half of a diagnosis, in AD order.
struct Statuses<'a> {
    users: Vec<UserStatus<'a>>,
    /// Users per status, in the order of [`Status::NAMES`].
    counts: [u64; Status::NAMES.len()],
    tenant_findings: Vec<TenantFinding<'a>>,
}

/// `'a` is the directories', which statuses borrow from; `'i` the index's, which they don't.
struct Context<'a, 'i> {
    tenant: &'a TenantInfo,
    cloud: &'a [CloudUser],
    index: &'i CloudIndex<'i>,
    block_soft_match: bool,
}

/// The UPNs an AD user would have if its unverified suffix were replaced by a verified
/// domain, the default domain first. Empty when the suffix is already verified.
pub fn aligned_user_principal_names(ad: &AdUser, tenant: &TenantInfo) -> Vec<String> {
    let Some((local_part, suffix)) = ad
        .user_principal_name
        .as_deref()
        .and_then(|upn| upn.rsplit_once('@'))
    else {
        return Vec::new();
    };
    if tenant.verified_domain(suffix).is_some() {
        return Vec::new();
    }
    let mut domains: Vec<&crate::tenant::Domain> = tenant
        .domains
        .iter()
        .filter(|domain| domain.is_verified && !domain.is_initial)
        .collect();
    domains.sort_by_key(|domain| !domain.is_default);
    domains
        .into_iter()
        .map(|domain| format!("{local_part}@{}", domain.id))
        .collect()
}

/// Whether a cloud user's UPN is on the tenant's initial `onmicrosoft.com` domain, where the
/// sync puts users whose suffix is unverified or whose UPN is quarantined.
pub fn is_on_initial_domain(user: &CloudUser, tenant: &TenantInfo) -> bool {
    domain_of(&user.user_principal_name)
        .is_some_and(|domain| domain.eq_ignore_ascii_case(&tenant.initial_domain))
        || is_placeholder_upn(&user.user_principal_name, Some(&tenant.initial_domain))
}

/// Whether a cloud user has (or may have) a mailbox: a mail address and a licence. Service
/// plans are not always readable (licenseDetails needs delegated rights), so any licence
/// counts: erring towards "mailbox" only ever prevents a deletion.
pub fn has_mailbox(user: &CloudUser) -> bool {
    user.mail.is_some() && user.is_licensed()
}

impl<'a> Context<'a, '_> {
    fn evidence(
        &self,
        code: &'static str,
        cloud: usize,
        detail: EvidenceDetail<'a>,
    ) -> Evidence<'a> {
        Evidence {
            code,
            cloud_user_id: self.cloud.get(cloud).map(|user| user.id.as_str()),
            detail,
        }
    }

    /// `cloud`'s description after `lead`, written when it is printed.
    fn describe_as(&self, cloud: usize, lead: Lead) -> EvidenceDetail<'a> {
        let Some(user) = self.cloud.get(cloud) else {
            return EvidenceDetail::Text(String::new());
        };
        EvidenceDetail::CloudUser {
            lead,
            user,
            admin_role: self.index.assigned_roles.contains(user.id.as_str()),
            pim_eligible: self.index.eligible_roles.contains(user.id.as_str()),
        }
    }

    fn describe(&self, cloud: usize) -> EvidenceDetail<'a> {
        self.describe_as(cloud, Lead::Bare)
    }

    /// Every cloud user (active or deleted) holding `ad`'s anchor, except `except`.
    fn other_holders(&self, ad: &AdUser, except: Option<usize>) -> Vec<usize> {
        let anchor = ad.immutable_id.as_str();
        self.index
            .active_by_anchor
            .get(&anchor)
            .iter()
            .chain(self.index.deleted_by_anchor.get(&anchor))
            .map(|&position| position as usize)
            .filter(|&position| Some(position) != except)
            .collect()
    }

    /// The active cloud account that is most likely this person's own: one that shares the
    /// AD UPN, primary SMTP address or mail, and is not a sync-created object holding this
    /// anchor.
    pub(crate) fn real_account(
        &self,
        ad: &AdUser,
        except: Option<usize>,
    ) -> Option<(usize, &'static str)> {
        let mut candidates: Vec<(u32, &'static str)> = Vec::new();
        if let Some(upn) = ad.user_principal_name.as_deref() {
            candidates.extend(
                self.index
                    .active_by_upn
                    .get(&Folded(upn))
                    .iter()
                    .map(|&position| (position, "userPrincipalName")),
            );
        }
        // An unverified UPN suffix (corp.local) is the classic reason the sync did not
        // soft-match: the person's account has the same name on a verified domain, which is
        // what aligning the suffix (the procedure's first step) will make the UPN.
        let aligned_upns = aligned_user_principal_names(ad, self.tenant);
        for aligned in &aligned_upns {
            candidates.extend(
                self.index
                    .active_by_upn
                    .get(&Folded(aligned.as_str()))
                    .iter()
                    .map(|&position| (position, "userPrincipalName once its suffix is aligned")),
            );
        }
        // Only the primary address and `mail` identify the person: a secondary address is
        // often shared (a team alias) and would point at the wrong account.
        let addresses = ad
            .primary_smtp_address()
            .into_iter()
            .chain(ad.mail.as_deref());
        for address in addresses {
            candidates.extend(
                self.index
                    .active_by_smtp
                    .get(&Folded(address))
                    .iter()
                    .map(|&position| (position, "SMTP address")),
            );
        }
        candidates
            .into_iter()
            .map(|(position, attribute)| (position as usize, attribute))
            .find(|&(position, _)| {
                let user = &self.cloud[position];
                Some(position) != except
                    && !(user.on_premises_immutable_id.as_ref() == Some(&ad.immutable_id)
                        && is_on_initial_domain(user, self.tenant))
            })
    }

    /// Every user's status, two blocks of `block` users at a time, one per core (each
    /// status depends only on its own user and the shared, read-only indexes). Each block is
    /// joined into the one list as soon as both are done: the list is made once with room
    /// for all, and only two blocks are ever held beside it (two halves joined at the end
    /// held half of a million statuses twice, at the run's peak).
    fn statuses_in_blocks(
        &self,
        ad_users: &'a [AdUser],
        decisions: &[UserSyncResult],
        block: usize,
    ) -> Statuses<'a> {
        let block = block.max(1);
        let mut all = Statuses {
            users: Vec::with_capacity(ad_users.len()),
            counts: [0; Status::NAMES.len()],
            tenant_findings: Vec::new(),
        };
        let mut start = 0;
        while start < ad_users.len() {
            let middle = (start + block).min(ad_users.len());
            let end = (middle + block).min(ad_users.len());
            let (first, second) = parallel::both(
                || self.statuses(start, &ad_users[start..middle], &decisions[start..middle]),
                || self.statuses(middle, &ad_users[middle..end], &decisions[middle..end]),
            );
            for done in [first, second] {
                all.users.extend(done.users);
                for (count, more) in all.counts.iter_mut().zip(done.counts) {
                    *count += more;
                }
                all.tenant_findings.extend(done.tenant_findings);
            }
            start = end;
        }
        all
    }

    /// The statuses of `ad_users`, the first of which is AD user `offset`.
    fn statuses(
        &self,
        offset: usize,
        ad_users: &'a [AdUser],
        decisions: &[UserSyncResult],
    ) -> Statuses<'a> {
        let mut statuses = Statuses {
            users: Vec::with_capacity(ad_users.len()),
            counts: [0; Status::NAMES.len()],
            tenant_findings: Vec::new(),
        };
        for (position, (ad, result)) in ad_users.iter().zip(decisions).enumerate() {
            let status = self.status_of(offset + position, ad, &result.decision);
            statuses.counts[status.status.position()] += 1;
            self.findings_for(ad, &status, &mut statuses.tenant_findings);
            statuses.users.push(status);
        }
        statuses
    }

    fn status_of(
        &self,
        ad_index: usize,
        ad: &'a AdUser,
        decision: &UserDecision,
    ) -> UserStatus<'a> {
        let mut evidence = Vec::new();
        let mut cloud_index = None;
        let status = match decision {
            UserDecision::OutOfScope => Status::OutOfScope,
            UserDecision::Joined {
                cloud_index: joined,
                ..
            } => {
                cloud_index = Some(*joined);
                self.joined_status(ad, *joined, &mut evidence, &mut cloud_index)
            }
            UserDecision::HardMatched {
                cloud_index: target,
                restored,
            } => {
                cloud_index = Some(*target);
                let holders = self.other_holders(ad, Some(*target));
                if *restored {
                    evidence.push(self.evidence(
                        "restores",
                        *target,
                        self.describe_as(*target, Lead::Restores),
                    ));
                }
                let duplicate_restored = *restored
                    && is_on_initial_domain(&self.cloud[*target], self.tenant)
                    && self.real_account(ad, Some(*target)).is_some();
                if duplicate_restored || !holders.is_empty() {
                    for holder in holders {
                        evidence.push(self.evidence("holder", holder, self.describe(holder)));
                    }
                    if let Some((real, attribute)) = self.real_account(ad, Some(*target)) {
                        evidence.push(self.evidence(
                            "real_account",
                            real,
                            self.describe_as(real, Lead::Shares(attribute)),
                        ));
                    }
                    Status::Conflicting {
                        reason: ConflictReason::ImmutableIdHeldByOther,
                    }
                } else {
                    evidence.push(self.evidence("target", *target, self.describe(*target)));
                    Status::WillHardMatch
                }
            }
            UserDecision::SoftMatched {
                cloud_index: target,
                attribute,
            } => {
                cloud_index = Some(*target);
                evidence.push(self.evidence(
                    "candidate",
                    *target,
                    self.describe_as(*target, Lead::Same(*attribute)),
                ));
                Status::WillSoftMatch {
                    attribute: *attribute,
                }
            }
            UserDecision::Created {
                quarantined,
                refused,
            } => {
                for value in quarantined {
                    evidence.push(Evidence {
                        code: "quarantined",
                        cloud_user_id: None,
                        detail: EvidenceDetail::Text(format!(
                            "the new user's {} {} would be quarantined",
                            value.property.name(),
                            value.value
                        )),
                    });
                }
                if let Some(refusal) = refused {
                    cloud_index = Some(refusal.cloud_index);
                    evidence.push(self.evidence(
                        "candidate",
                        refusal.cloud_index,
                        self.describe_as(
                            refusal.cloud_index,
                            Lead::Refused(refusal.error, refusal.attribute),
                        ),
                    ));
                    self.refusal_status(refusal.error, refusal.cloud_index)
                } else {
                    let real = self.real_account(ad, None);
                    if let Some((real, attribute)) = &real {
                        cloud_index = Some(*real);
                        evidence.push(self.evidence(
                            "real_account",
                            *real,
                            self.describe_as(*real, Lead::Shares(attribute)),
                        ));
                    }
                    if self.block_soft_match && real.is_some() {
                        Status::Blocked {
                            reason: BlockReason::TenantFlag("blockSoftMatchEnabled".to_owned()),
                        }
                    } else if let Some(first) = quarantined.first() {
                        Status::Conflicting {
                            reason: conflict_for(first.property),
                        }
                    } else {
                        Status::WillCreate
                    }
                }
            }
            UserDecision::Failed {
                error,
                property,
                cloud_index: failed,
            } => {
                cloud_index = *failed;
                evidence.push(Evidence {
                    code: "sync_error",
                    cloud_user_id: failed
                        .and_then(|position| self.cloud.get(position))
                        .map(|user| user.id.as_str()),
                    detail: EvidenceDetail::Text(format!(
                        "{}{}",
                        error.code(),
                        property
                            .map(|property| format!(" ({})", property.name()))
                            .unwrap_or_default()
                    )),
                });
                if let Some(position) = failed {
                    evidence.push(self.evidence("target", *position, self.describe(*position)));
                }
                match (error, property, failed) {
                    (
                        SyncErrorKind::AttributeValueMustBeUnique,
                        Some(ConflictProperty::SourceAnchor),
                        Some(_),
                    ) => Status::Blocked {
                        reason: BlockReason::SyncedFromOtherAnchor,
                    },
                    (SyncErrorKind::AttributeValueMustBeUnique, Some(property), _) => {
                        Status::Conflicting {
                            reason: conflict_for(*property),
                        }
                    }
                    (error, _, Some(position)) => self.refusal_status(*error, *position),
                    (error, _, None) => self.refusal_status(*error, usize::MAX),
                }
            }
        };
        let cloud = cloud_index.and_then(|position| self.cloud.get(position));
        // A user has one or two items of evidence, and a vector grows to room for four:
        // held for a million users, the spare room came to tens of megabytes.
        evidence.shrink_to_fit();
        UserStatus {
            ad_user: ad,
            status,
            cloud_user: cloud,
            evidence,
            ad_index,
            cloud_index,
        }
    }

    fn joined_status(
        &self,
        ad: &AdUser,
        joined: usize,
        evidence: &mut Vec<Evidence<'a>>,
        cloud_index: &mut Option<usize>,
    ) -> Status {
        let user = &self.cloud[joined];
        if is_on_initial_domain(user, self.tenant)
            && let Some((real, attribute)) = self.real_account(ad, Some(joined))
        {
            evidence.push(self.evidence("duplicate", joined, self.describe(joined)));
            evidence.push(self.evidence(
                "real_account",
                real,
                self.describe_as(real, Lead::Shares(attribute)),
            ));
            *cloud_index = Some(real);
            return Status::Conflicting {
                reason: ConflictReason::SyncCreatedDuplicate,
            };
        }
        let holders = self.other_holders(ad, Some(joined));
        if !holders.is_empty() {
            for holder in holders {
                evidence.push(self.evidence("holder", holder, self.describe(holder)));
            }
            return Status::Conflicting {
                reason: ConflictReason::ImmutableIdHeldByOther,
            };
        }
        if !user.on_premises_provisioning_errors.is_empty() {
            for error in &user.on_premises_provisioning_errors {
                evidence.push(self.evidence(
                    "quarantined",
                    joined,
                    EvidenceDetail::Text(format!(
                        "{} {}",
                        error.property_causing_error.as_deref().unwrap_or("?"),
                        error.value.as_deref().unwrap_or("?")
                    )),
                ));
            }
            return Status::Conflicting {
                reason: ConflictReason::QuarantinedAttribute,
            };
        }
        Status::Linked
    }

    fn refusal_status(&self, error: SyncErrorKind, cloud: usize) -> Status {
        let blocked = |reason| Status::Blocked { reason };
        match error {
            SyncErrorKind::InvalidSoftMatch => {
                if self.cloud.get(cloud).is_some_and(CloudUser::is_synced) {
                    blocked(BlockReason::SyncedFromOtherAnchor)
                } else {
                    Status::Conflicting {
                        reason: ConflictReason::InvalidSoftMatch,
                    }
                }
            }
            SyncErrorKind::InvalidHardMatch => blocked(BlockReason::TenantFlag(
                "blockCloudObjectTakeoverThroughHardMatchEnabled".to_owned(),
            )),
            SyncErrorKind::HardeningObjectIdentifier => blocked(BlockReason::ObjectIdentifier),
            SyncErrorKind::HardeningAssignedRole | SyncErrorKind::ExistingAdminRoleConflict => {
                blocked(BlockReason::AdminRole)
            }
            SyncErrorKind::HardeningEligibleRole => blocked(BlockReason::PimEligibility),
            SyncErrorKind::FederatedDomainConflict => blocked(BlockReason::FederatedDomain),
            SyncErrorKind::AttributeValueMustBeUnique => Status::Conflicting {
                reason: ConflictReason::DuplicateSourceAnchor,
            },
        }
    }

    fn findings_for(
        &self,
        ad: &'a AdUser,
        status: &UserStatus<'_>,
        findings: &mut Vec<TenantFinding<'a>>,
    ) {
        let Some(target) = status.cloud_index else {
            return;
        };
        if matches!(
            status.status,
            Status::Conflicting {
                reason: ConflictReason::SyncCreatedDuplicate
            }
        ) {
            for duplicate in status
                .evidence
                .iter()
                .filter(|evidence| evidence.code == "duplicate")
            {
                if let Some(id) = duplicate.cloud_user_id
                    && let Some(position) = self.index.position_of(id)
                {
                    let user = &self.cloud[position as usize];
                    findings.push(TenantFinding {
                        kind: TenantFindingKind::SyncCreatedDuplicate,
                        cloud_user_id: &user.id,
                        user_principal_name: &user.user_principal_name,
                        related_cloud_user_id: self.cloud.get(target).map(|real| real.id.as_str()),
                        addresses: Vec::new(),
                        detail: FindingDetail::CreatedFor {
                            distinguished_name: &ad.distinguished_name,
                            real_account: self.describe(target),
                        },
                    });
                }
            }
        }
        let takes_over = matches!(
            status.status,
            Status::WillHardMatch
                | Status::WillSoftMatch { .. }
                | Status::Conflicting {
                    reason: ConflictReason::SyncCreatedDuplicate
                        | ConflictReason::ImmutableIdHeldByOther
                }
                | Status::Blocked { .. }
        );
        let Some(user) = self.cloud.get(target) else {
            return;
        };
        if !takes_over || !(user.is_licensed() || user.mail.is_some()) || user.is_synced() {
            return;
        }
        let lost = addresses_lost_in_takeover(ad, user);
        if !lost.is_empty() {
            findings.push(TenantFinding {
                kind: TenantFindingKind::TakeoverAddressLoss,
                cloud_user_id: &user.id,
                user_principal_name: &user.user_principal_name,
                related_cloud_user_id: None,
                detail: FindingDetail::TakeoverBy {
                    distinguished_name: &ad.distinguished_name,
                },
                addresses: lost,
            });
        }
    }
}

fn conflict_for(property: ConflictProperty) -> ConflictReason {
    match property {
        ConflictProperty::UserPrincipalName => ConflictReason::UpnConflict,
        ConflictProperty::ProxyAddress => ConflictReason::ProxyAddressConflict,
        ConflictProperty::SourceAnchor => ConflictReason::DuplicateSourceAnchor,
    }
}

/// The cloud user's SMTP addresses that AD does not have: a takeover drops them (§11).
pub fn addresses_lost_in_takeover<'cloud>(
    ad: &AdUser,
    cloud: &'cloud CloudUser,
) -> Vec<&'cloud str> {
    let on_premises: HashSet<Folded<'_>> = ad
        .smtp_addresses()
        .chain(ad.mail.as_deref())
        .map(Folded)
        .collect();
    let mut lost: Vec<&str> = Vec::new();
    for address in cloud_smtp_addresses(cloud) {
        if !on_premises.contains(&Folded(address))
            && !lost.iter().any(|seen| seen.eq_ignore_ascii_case(address))
        {
            lost.push(address);
        }
    }
    lost
}

fn orphans<'a>(
    ad_by_anchor: &FieldIndex<'_, AdUser, AdAnchor>,
    cloud: &'a [CloudUser],
) -> Vec<TenantFinding<'a>> {
    cloud
        .iter()
        .filter_map(|user| {
            let anchor = user.on_premises_immutable_id.as_ref()?;
            if anchor.as_str().is_empty() || ad_by_anchor.contains(&anchor.as_str()) {
                return None;
            }
            Some(TenantFinding {
                kind: TenantFindingKind::Orphan,
                cloud_user_id: &user.id,
                user_principal_name: &user.user_principal_name,
                related_cloud_user_id: None,
                addresses: Vec::new(),
                detail: FindingDetail::NoAdObject {
                    anchor: anchor.as_str(),
                    deleted: user.is_deleted(),
                },
            })
        })
        .collect()
}

/// Characters IdFix rejects in UPNs and SMTP addresses.
fn invalid_character(value: &str) -> Option<char> {
    value.chars().find(|character| {
        character.is_whitespace()
            || character.is_control()
            || !character.is_ascii()
            || matches!(
                character,
                '\\' | '"' | '(' | ')' | ',' | ':' | ';' | '<' | '>' | '[' | ']' | '{' | '}' | '|'
            )
    })
}

fn malformed_address(value: &str) -> bool {
    let Some((local, domain)) = value.rsplit_once('@') else {
        return true;
    };
    local.is_empty()
        || domain.is_empty()
        || local.contains('@')
        || local.starts_with('.')
        || local.ends_with('.')
        || local.contains("..")
}

/// IdFix-like checks of the AD data, before any sync sees it.
pub fn hygiene(ad_users: &[AdUser], tenant: &TenantInfo) -> Vec<HygieneFinding> {
    hygiene_with(ad_users, &FieldIndex::of_all(ad_users), tenant)
}

/// [`hygiene`] with an index of `ad_users` by anchor the caller built.
fn hygiene_with(
    ad_users: &[AdUser],
    by_anchor: &FieldIndex<'_, AdUser, AdAnchor>,
    tenant: &TenantInfo,
) -> Vec<HygieneFinding> {
    let mut findings = Vec::new();
    let mut by_upn: FieldIndex<'_, AdUser, AdUpn> =
        FieldIndex::with_capacity(ad_users, ad_users.len());
    let mut by_smtp: MultiIndex<Folded<'_>> = MultiIndex::with_capacity(ad_users.len() * 2);
    let mut unverified: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (position, user) in ad_users.iter().enumerate() {
        let Ok(position) = u32::try_from(position) else {
            break;
        };
        match user.user_principal_name.as_deref() {
            None => findings.push(HygieneFinding {
                kind: HygieneKind::MissingUserPrincipalName,
                attribute: "userPrincipalName".to_owned(),
                value: String::new(),
                distinguished_names: vec![user.distinguished_name.to_string()],
                detail: "no UPN: the sync invents one on the initial domain".to_owned(),
            }),
            Some(upn) => {
                by_upn.insert(position);
                check_characters(user, "userPrincipalName", upn, &mut findings);
                if let Some(suffix) = domain_of(upn)
                    && tenant.verified_domain(suffix).is_none()
                {
                    unverified
                        .entry(suffix.to_ascii_lowercase())
                        .or_default()
                        .push(user.distinguished_name.to_string());
                }
            }
        }
        let mut seen: Vec<&str> = Vec::new();
        for address in user.smtp_addresses().chain(user.mail.as_deref()) {
            if seen.iter().any(|other| other.eq_ignore_ascii_case(address)) {
                continue;
            }
            seen.push(address);
            by_smtp.insert(Folded(address), position);
        }
        if let Some(mail) = user.mail.as_deref() {
            check_characters(user, "mail", mail, &mut findings);
        }
        for proxy in &user.proxy_addresses {
            if let Some(address) = smtp_value(proxy) {
                check_characters(user, "proxyAddresses", address, &mut findings);
            }
        }
    }
    let names = |positions: &[u32]| -> Vec<String> {
        positions
            .iter()
            .map(|&position| ad_users[position as usize].distinguished_name.to_string())
            .collect()
    };
    let mut duplicates: Vec<HygieneFinding> = Vec::new();
    for (key, positions) in by_upn.duplicates() {
        duplicates.push(HygieneFinding {
            kind: HygieneKind::DuplicateUserPrincipalName,
            attribute: "userPrincipalName".to_owned(),
            value: key.0.to_owned(),
            distinguished_names: names(positions),
            detail: "the sync quarantines all but one (§6)".to_owned(),
        });
    }
    for (key, positions) in by_smtp.duplicates() {
        duplicates.push(HygieneFinding {
            kind: HygieneKind::DuplicateSmtpAddress,
            attribute: "proxyAddresses".to_owned(),
            value: key.0.to_owned(),
            distinguished_names: names(positions),
            detail: "the sync quarantines the address on all but one (§6)".to_owned(),
        });
    }
    for (key, positions) in by_anchor.duplicates() {
        duplicates.push(HygieneFinding {
            kind: HygieneKind::DuplicateSourceAnchor,
            attribute: ad_users[positions[0] as usize]
                .anchor_attribute
                .ldap_name()
                .to_owned(),
            value: key.to_owned(),
            distinguished_names: names(positions),
            detail: "only one of these objects can be exported".to_owned(),
        });
    }
    for (suffix, distinguished_names) in unverified {
        findings.push(HygieneFinding {
            kind: HygieneKind::UnverifiedUpnSuffix,
            attribute: "userPrincipalName".to_owned(),
            detail: format!(
                "{suffix} is not a verified tenant domain: these users sync as …@{}",
                tenant.initial_domain
            ),
            value: suffix,
            distinguished_names,
        });
    }
    duplicates.sort_by(|left, right| (left.kind, &left.value).cmp(&(right.kind, &right.value)));
    findings.extend(duplicates);
    findings
}

/// An AD user's UPN, compared without regard to ASCII case.
struct AdUpn;

impl Field<AdUser> for AdUpn {
    type Key<'a> = Folded<'a>;

    fn key(user: &AdUser) -> Option<Folded<'_>> {
        user.user_principal_name.as_deref().map(Folded)
    }
}

/// An AD user's source anchor, as Entra Connect exports it.
pub(crate) struct AdAnchor;

impl Field<AdUser> for AdAnchor {
    type Key<'a> = &'a str;

    fn key(user: &AdUser) -> Option<&str> {
        Some(user.immutable_id.as_str())
    }
}

fn check_characters(
    user: &AdUser,
    attribute: &str,
    value: &str,
    findings: &mut Vec<HygieneFinding>,
) {
    let detail = match invalid_character(value) {
        Some(character) => format!("contains the character {character:?}"),
        None if malformed_address(value) => "is not of the form local@domain".to_owned(),
        None => return,
    };
    findings.push(HygieneFinding {
        kind: HygieneKind::InvalidCharacters,
        attribute: attribute.to_owned(),
        value: value.to_owned(),
        distinguished_names: vec![user.distinguished_name.to_string()],
        detail,
    });
}

#[cfg(test)]
#[path = "diagnose_tests.rs"]
mod tests;

#[cfg(test)]
mod aligned_upn_tests {
    use super::*;
    use crate::tenant::Domain;

    fn domain(id: &str, is_default: bool, is_initial: bool) -> Domain {
        Domain {
            id: id.to_owned(),
            authentication_type: "Managed".to_owned(),
            is_default,
            is_initial,
            is_verified: true,
        }
    }

    #[test]
    fn an_unverified_suffix_is_replaced_by_verified_domains_default_first() {
        let tenant = TenantInfo {
            initial_domain: "contoso.onmicrosoft.com".to_owned(),
            domains: vec![
                domain("fabrikam.com", false, false),
                domain("contoso.onmicrosoft.com", false, true),
                domain("contoso.com", true, false),
            ],
            ..TenantInfo::default()
        };
        let mut ad = crate::testing::ad_user(1, "adele.vance@contoso.local");
        assert_eq!(
            aligned_user_principal_names(&ad, &tenant),
            ["adele.vance@contoso.com", "adele.vance@fabrikam.com"]
        );
        ad.user_principal_name = Some("adele.vance@Contoso.com".into());
        assert!(aligned_user_principal_names(&ad, &tenant).is_empty());
    }
}
