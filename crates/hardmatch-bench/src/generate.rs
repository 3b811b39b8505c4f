//! The synthetic directory generator: an AD snapshot, the matching tenant (a
//! `TenantSnapshot` that also loads as an emulator fixture) and LDIF for the Samba lab,
//! all from one seed.
//!
//! Everything is written in one streaming pass over the AD users, so memory stays at the
//! connector-space joins (32 bytes per link) plus a few thousand name stems, even for a
//! million users on each side. Each concern draws from its own seeded stream, so that
//! changing how, say, cloud ids are drawn does not reshuffle the AD side.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hardmatch_core::ad::{AD_SNAPSHOT_FORMAT_VERSION, AdSnapshotSource, AdUser, AnchorAttribute};
use hardmatch_core::anchor::{ImmutableId, ObjectGuid};
use hardmatch_core::format_compact;
use hardmatch_core::tenant::{
    AccidentalDeletionPrevention, AssignedLicense, CloudUser, Domain, OnPremisesProvisioningError,
    OnPremisesSynchronization, RoleAssignment, RoleDefinition, SyncConfiguration, SyncFeatures,
    TENANT_SNAPSHOT_FORMAT_VERSION, TenantInfo, TenantSnapshotSource,
};
use serde::Serialize;

use crate::calendar::{Instant, SECONDS_PER_DAY};
use crate::ldif;
use crate::names::{People, Person};
use crate::rates::{Category, Counts, ExactDraw, Rates};

/// The tenant's verified custom domain; AD UPNs and mail use it.
pub const VERIFIED_DOMAIN: &str = "contoso.com";
/// The tenant's initial domain, where quarantined placeholder UPNs land.
pub const INITIAL_DOMAIN: &str = "contoso.onmicrosoft.com";
/// Exchange Online's routing domain, a typical secondary proxy address.
pub const ROUTING_DOMAIN: &str = "contoso.mail.onmicrosoft.com";
/// A non-routable UPN suffix the tenant cannot verify.
pub const UNVERIFIED_SUFFIX: &str = "corp.local";
/// Microsoft 365 E3, the licence generated accounts carry.
pub const LICENSE_SKU_ID: &str = "05e9a617-0261-4cee-bb44-138d3ef5d965";
/// The lab's base DN (scripts/ad-lab).
pub const DEFAULT_BASE_DN: &str = "DC=hardmatch,DC=test";
pub const DEFAULT_TAKEN_AT: &str = "2026-11-22T00:00:00Z";
/// Generated users live under this OU so they never mix with the lab's seed users.
pub const ROOT_OU: &str = "Synthetic";

/// Departments, as OU paths below [`ROOT_OU`], parents before children.
const DEPARTMENT_OUS: &[&str] = &[
    "OU=Sales",
    "OU=EMEA,OU=Sales",
    "OU=Americas,OU=Sales",
    "OU=Engineering",
    "OU=Platform,OU=Engineering",
    "OU=Finance",
    "OU=Marketing",
    "OU=Support",
    "OU=Operations",
    "OU=Human Resources",
];
/// Where disabled users are parked.
const LEAVERS_OU: &str = "OU=Leavers";
/// Where orphans' AD objects were before they left sync scope (not in the AD snapshot).
const DEPARTED_OU: &str = "OU=Departed";

/// Admin roles held by generated admins: (role template id, display name). These are the
/// well-known built-in template ids, the same in every tenant.
pub const ADMIN_ROLES: &[(&str, &str)] = &[
    (
        "62e90394-69f5-4237-9190-012177145e10",
        "Global Administrator",
    ),
    ("fe930be7-5e62-47db-91af-98c3a49a38b1", "User Administrator"),
    (
        "29232cdf-9323-42fd-ade2-1d097af3e4de",
        "Exchange Administrator",
    ),
    (
        "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
        "Privileged Authentication Administrator",
    ),
    (
        "729827e3-9c14-49f7-bb1b-9608f156bbb8",
        "Helpdesk Administrator",
    ),
    (
        "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2",
        "Hybrid Identity Administrator",
    ),
];
/// Every this-many-th admin is PIM-eligible rather than assigned.
const ELIGIBLE_ONE_IN: usize = 4;

/// What to generate.
#[derive(Clone, Debug)]
pub struct Options {
    pub seed: u64,
    pub users: usize,
    pub rates: Rates,
    /// The AD domain's base DN; the lab's by default.
    pub base_dn: String,
    /// The snapshot time; every other timestamp is derived from it.
    pub taken_at: String,
}

impl Options {
    pub fn new(seed: u64, users: usize) -> Self {
        Self {
            seed,
            users,
            rates: Rates::default(),
            base_dn: DEFAULT_BASE_DN.to_owned(),
            taken_at: DEFAULT_TAKEN_AT.to_owned(),
        }
    }

    /// How the output describes its own origin (no paths, no clock).
    fn origin(&self) -> String {
        format!(
            "hardmatch-bench gen --seed {} --users {}",
            self.seed, self.users
        )
    }
}

/// The three files, by their fixed names inside the output directory.
#[derive(Clone, Debug)]
pub struct OutputFiles {
    pub ad_snapshot: PathBuf,
    pub tenant: PathBuf,
    pub ldif: PathBuf,
}

impl OutputFiles {
    pub fn in_directory(directory: &Path) -> Self {
        Self {
            ad_snapshot: directory.join("ad.json"),
            tenant: directory.join("tenant.json"),
            ldif: directory.join("ad.ldif"),
        }
    }
}

/// What was generated, for the summary on stdout.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub seed: u64,
    pub ad_users: usize,
    pub cloud_users: usize,
    pub categories: Vec<(&'static str, usize)>,
    pub ad_only: usize,
    pub orphans: usize,
    pub cloud_only: usize,
    pub unverified_suffix: usize,
    pub disabled: usize,
    pub consistency_guid: usize,
    pub connector_space_entries: usize,
    pub role_assignments: usize,
    pub role_eligibilities: usize,
}

/// Generates the three files into `directory`, creating it if needed.
pub fn generate_files(options: &Options, directory: &Path) -> anyhow::Result<Summary> {
    std::fs::create_dir_all(directory)
        .with_context(|| format!("creating {}", directory.display()))?;
    let files = OutputFiles::in_directory(directory);
    let create = |path: &Path| -> anyhow::Result<BufWriter<File>> {
        let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        Ok(BufWriter::with_capacity(1 << 20, file))
    };
    let mut ad = create(&files.ad_snapshot)?;
    let mut tenant = create(&files.tenant)?;
    let mut ldif = create(&files.ldif)?;
    let summary = generate(options, &mut ad, &mut tenant, &mut ldif)?;
    for (writer, path) in [
        (ad, &files.ad_snapshot),
        (tenant, &files.tenant),
        (ldif, &files.ldif),
    ] {
        // Flushed but not fsynced: the data is scratch, and the benchmark compares the
        // generator with `cp`, which does not fsync either.
        writer
            .into_inner()
            .map_err(io::IntoInnerError::into_error)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(summary)
}

/// Generates into any three writers (tests use memory).
pub fn generate(
    options: &Options,
    ad_out: &mut impl Write,
    tenant_out: &mut impl Write,
    ldif_out: &mut impl Write,
) -> anyhow::Result<Summary> {
    let counts = options.rates.counts(options.users)?;
    let taken_at = Instant::parse_rfc3339_utc(&options.taken_at)?;
    let mut generator = Generator::new(options, &counts, taken_at)?;

    generator
        .write_headers(ad_out, tenant_out, ldif_out)
        .context("writing headers")?;
    for index in 0..options.users {
        generator
            .add_ad_user(index, ad_out, tenant_out, ldif_out)
            .context("writing users")?;
    }
    for index in 0..counts.orphans {
        generator
            .add_orphan(index, tenant_out)
            .context("writing orphans")?;
    }
    for _ in 0..counts.cloud_only {
        generator
            .add_cloud_only(tenant_out)
            .context("writing cloud-only users")?;
    }
    generator
        .write_trailers(ad_out, tenant_out)
        .context("writing the rest of the tenant")?;
    ad_out.flush()?;
    tenant_out.flush()?;
    ldif_out.flush()?;
    Ok(generator.summary(&counts))
}

/// Separate random streams, one per concern.
struct Streams {
    categories: fastrand::Rng,
    flags: fastrand::Rng,
    people: fastrand::Rng,
    ad: fastrand::Rng,
    cloud: fastrand::Rng,
}

impl Streams {
    fn new(seed: u64) -> Self {
        let stream = |number: u64| fastrand::Rng::with_seed(split_mix(seed ^ split_mix(number)));
        Self {
            categories: stream(1),
            flags: stream(2),
            people: stream(3),
            ad: stream(4),
            cloud: stream(5),
        }
    }
}

/// SplitMix64's finaliser: spreads nearby seeds (1, 2, 3 …) into unrelated streams.
fn split_mix(value: u64) -> u64 {
    let mut mixed = value.wrapping_add(0x9e37_79b9_7f4a_7c15);
    mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    mixed ^ (mixed >> 31)
}

/// The AD side of one generated user, kept while its cloud side is written.
struct Generated {
    person: Person,
    user: AdUser,
}

struct Generator<'options> {
    options: &'options Options,
    taken_at: Instant,
    last_sync: String,
    dns_domain: String,
    domain_sid: String,
    streams: Streams,
    people: People,
    category_draw: ExactDraw,
    disabled_draw: ExactDraw,
    unverified_draw: ExactDraw,
    consistency_draw: ExactDraw,
    /// (anchor bytes, cloud user id bytes); formatted when the tenant's tail is written.
    connector_space: Vec<([u8; 16], [u8; 16])>,
    role_assignments: Vec<RoleAssignment>,
    role_eligibilities: Vec<RoleAssignment>,
    admins: usize,
    cloud_users: usize,
    ad_users_written: usize,
}

impl<'options> Generator<'options> {
    fn new(options: &'options Options, counts: &Counts, taken_at: Instant) -> anyhow::Result<Self> {
        let mut streams = Streams::new(options.seed);
        let domain_sid = format!(
            "S-1-5-21-{}-{}-{}",
            streams.ad.u32(1_000_000_000..=u32::MAX),
            streams.ad.u32(1_000_000_000..=u32::MAX),
            streams.ad.u32(1_000_000_000..=u32::MAX)
        );
        let users = options.users;
        Ok(Self {
            options,
            taken_at,
            // Entra Connect's 30-minute cycle ran shortly before the snapshot.
            last_sync: taken_at.minus_seconds(20 * 60).rfc3339(),
            dns_domain: dns_domain_of(&options.base_dn),
            domain_sid,
            streams,
            people: People::default(),
            category_draw: ExactDraw::new(&counts.category_counts(), users)?,
            disabled_draw: ExactDraw::new(&[counts.disabled], users)?,
            unverified_draw: ExactDraw::new(&[counts.unverified_suffix], users)?,
            consistency_draw: ExactDraw::new(&[counts.consistency_guid], users)?,
            connector_space: Vec::with_capacity(
                counts.category(Category::Linked) + counts.category(Category::Duplicate),
            ),
            role_assignments: Vec::new(),
            role_eligibilities: Vec::new(),
            admins: 0,
            cloud_users: 0,
            ad_users_written: 0,
        })
    }

    fn ou_dn(&self, relative: &str) -> String {
        format!("{relative},OU={ROOT_OU},{}", self.options.base_dn)
    }

    fn write_headers(
        &mut self,
        ad_out: &mut impl Write,
        tenant_out: &mut impl Write,
        ldif_out: &mut impl Write,
    ) -> anyhow::Result<()> {
        // AD snapshot envelope; users follow one per line.
        let source = AdSnapshotSource {
            kind: "snapshot".to_owned(),
            locations: vec![self.options.origin()],
        };
        write!(
            ad_out,
            "{{\"format_version\":{AD_SNAPSHOT_FORMAT_VERSION},\"source\":"
        )?;
        serde_json::to_writer(&mut *ad_out, &source)?;
        write!(ad_out, ",\"taken_at\":")?;
        serde_json::to_writer(&mut *ad_out, &self.options.taken_at)?;
        write!(ad_out, ",\"users\":[")?;

        // Tenant envelope.
        let source = TenantSnapshotSource {
            kind: "fixture".to_owned(),
            location: self.options.origin(),
        };
        write!(
            tenant_out,
            "{{\"format_version\":{TENANT_SNAPSHOT_FORMAT_VERSION},\"source\":"
        )?;
        serde_json::to_writer(&mut *tenant_out, &source)?;
        write!(tenant_out, ",\"taken_at\":")?;
        serde_json::to_writer(&mut *tenant_out, &self.options.taken_at)?;
        write!(tenant_out, ",\"tenant\":")?;
        let tenant = self.tenant_info();
        serde_json::to_writer(&mut *tenant_out, &tenant)?;
        write!(tenant_out, ",\"users\":[")?;

        // LDIF: the OUs, parents first.
        writeln!(
            ldif_out,
            "# Generated by {}; load with ldapadd -c.\n",
            self.options.origin()
        )?;
        let root = format!("OU={ROOT_OU},{}", self.options.base_dn);
        ldif::write_organizational_unit(ldif_out, &root, ROOT_OU)?;
        for relative in DEPARTMENT_OUS.iter().chain([&LEAVERS_OU]) {
            let name = relative
                .split(',')
                .next()
                .and_then(|rdn| rdn.strip_prefix("OU="))
                .unwrap_or(relative);
            ldif::write_organizational_unit(ldif_out, &self.ou_dn(relative), name)?;
        }
        Ok(())
    }

    fn tenant_info(&mut self) -> TenantInfo {
        let domain = |id: &str, is_default: bool, is_initial: bool, is_verified: bool| Domain {
            id: id.to_owned(),
            authentication_type: "Managed".to_owned(),
            is_default,
            is_initial,
            is_verified,
        };
        TenantInfo {
            id: random_guid_text(&mut self.streams.cloud),
            display_name: Some("Contoso".to_owned()),
            initial_domain: INITIAL_DOMAIN.to_owned(),
            domains: vec![
                domain(VERIFIED_DOMAIN, true, false, true),
                domain(INITIAL_DOMAIN, false, true, true),
                domain(UNVERIFIED_SUFFIX, false, false, false),
            ],
            on_premises_sync_enabled: Some(true),
            on_premises_last_sync_date_time: Some(self.last_sync.clone()),
            on_premises_synchronization: Some(OnPremisesSynchronization {
                id: random_guid_text(&mut self.streams.cloud),
                configuration: SyncConfiguration {
                    accidental_deletion_prevention: AccidentalDeletionPrevention::default(),
                },
                features: SyncFeatures {
                    block_cloud_object_takeover_through_hard_match_enabled: false,
                    block_soft_match_enabled: false,
                    soft_match_on_upn_enabled: true,
                    quarantine_upon_upn_conflict_enabled: true,
                    quarantine_upon_proxy_addresses_conflict_enabled: true,
                    password_sync_enabled: true,
                    other: serde_json::Map::new(),
                },
            }),
        }
    }

    fn add_ad_user(
        &mut self,
        index: usize,
        ad_out: &mut impl Write,
        tenant_out: &mut impl Write,
        ldif_out: &mut impl Write,
    ) -> anyhow::Result<()> {
        let category = self
            .category_draw
            .next(&mut self.streams.categories)
            .map(|group| Category::ALL[group]);
        let disabled = self.disabled_draw.next_is_member(&mut self.streams.flags);
        let unverified = self.unverified_draw.next_is_member(&mut self.streams.flags);
        let has_consistency_guid = self
            .consistency_draw
            .next_is_member(&mut self.streams.flags);
        let generated = self.ad_user(index, disabled, unverified, has_consistency_guid);

        if self.ad_users_written > 0 {
            ad_out.write_all(b",")?;
        }
        ad_out.write_all(b"\n")?;
        serde_json::to_writer(&mut *ad_out, &generated.user)?;
        self.ad_users_written += 1;
        write_ldif_user(ldif_out, &generated)?;

        match category {
            None => {}
            Some(Category::Linked) => {
                let cloud = self.linked_cloud_user(&generated);
                self.join(&generated.user, &cloud.id)?;
                self.write_cloud_user(tenant_out, &cloud, &generated.person)?;
            }
            Some(Category::SoftMatch) => {
                let target = self.cloud_only_target(&generated.person, true);
                self.write_cloud_user(tenant_out, &target, &generated.person)?;
            }
            Some(Category::Duplicate) => {
                let target = self.cloud_only_target(&generated.person, true);
                self.write_cloud_user(tenant_out, &target, &generated.person)?;
                let duplicate = self.sync_created_duplicate(&generated);
                self.join(&generated.user, &duplicate.id)?;
                self.write_cloud_user(tenant_out, &duplicate, &generated.person)?;
            }
            Some(Category::RecycleBin) => {
                let target = self.cloud_only_target(&generated.person, true);
                self.write_cloud_user(tenant_out, &target, &generated.person)?;
                let holder = self.recycle_bin_holder(&generated);
                self.write_cloud_user(tenant_out, &holder, &generated.person)?;
            }
            Some(Category::LicensedHolder) => {
                let target = self.cloud_only_target(&generated.person, true);
                self.write_cloud_user(tenant_out, &target, &generated.person)?;
                let holder = self.licensed_holder(&generated);
                self.write_cloud_user(tenant_out, &holder, &generated.person)?;
            }
            Some(Category::ProxyConflict) => {
                let target = self.cloud_only_target(&generated.person, false);
                self.write_cloud_user(tenant_out, &target, &generated.person)?;
                let conflict = self.proxy_conflict_holder(&generated);
                self.write_cloud_user(tenant_out, &conflict, &generated.person)?;
            }
            Some(Category::Admin) => {
                let target = self.cloud_only_target(&generated.person, true);
                self.grant_admin_role(&target.id);
                self.write_cloud_user(tenant_out, &target, &generated.person)?;
            }
        }
        Ok(())
    }

    fn ad_user(
        &mut self,
        index: usize,
        disabled: bool,
        unverified: bool,
        has_consistency_guid: bool,
    ) -> Generated {
        let person = self.people.next(&mut self.streams.people);
        let random = &mut self.streams.ad;
        let object_guid = random_object_guid(random);
        // Half the consistency GUIDs were stamped by Entra Connect from the objectGUID;
        // the other half came along from another forest.
        let consistency_guid = has_consistency_guid.then(|| {
            if random.bool() {
                object_guid
            } else {
                random_object_guid(random)
            }
        });
        let (anchor_attribute, anchor) = match consistency_guid {
            Some(guid) => (AnchorAttribute::ConsistencyGuid, guid),
            None => (AnchorAttribute::ObjectGuid, object_guid),
        };
        let ou = if disabled {
            LEAVERS_OU
        } else {
            DEPARTMENT_OUS[random.usize(..DEPARTMENT_OUS.len())]
        };
        let primary = format!("{}@{VERIFIED_DOMAIN}", person.nickname);
        let upn_suffix = if unverified {
            UNVERIFIED_SUFFIX
        } else {
            VERIFIED_DOMAIN
        };
        let mut proxy_addresses = vec![
            format!("SMTP:{primary}"),
            format!("smtp:{}@{ROUTING_DOMAIN}", person.nickname),
        ];
        // Mailboxes migrated from Exchange on-premises keep their legacy X500 address.
        if random.usize(..5) == 0 {
            proxy_addresses.push(format!(
                "X500:/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn={}",
                person.sam_account_name
            ));
        }
        let user = AdUser {
            distinguished_name: format!("CN={},{}", person.common_name, self.ou_dn(ou)).into(),
            domain: Some(self.dns_domain.as_str().into()),
            object_guid,
            consistency_guid,
            anchor_attribute,
            immutable_id: anchor.immutable_id(),
            user_principal_name: Some(format!("{}@{upn_suffix}", person.nickname).into()),
            mail: Some(primary.into()),
            proxy_addresses,
            sam_account_name: Some(person.sam_account_name.as_str().into()),
            display_name: Some(person.display_name.as_str().into()),
            enabled: !disabled,
            // RIDs of ordinary accounts start above the built-in range.
            object_sid: Some(format!("{}-{}", self.domain_sid, 1105 + index).into()),
        };
        Generated { person, user }
    }

    fn created(&mut self, within_days: i64) -> String {
        self.taken_at
            .minus_seconds(
                self.streams
                    .cloud
                    .i64(SECONDS_PER_DAY..within_days * SECONDS_PER_DAY),
            )
            .rfc3339()
    }

    fn license() -> Vec<AssignedLicense> {
        vec![AssignedLicense {
            sku_id: LICENSE_SKU_ID.into(),
            disabled_plans: Vec::new(),
        }]
    }

    /// The cloud user Entra Connect keeps for a synced AD user.
    fn linked_cloud_user(&mut self, generated: &Generated) -> CloudUser {
        let ad = &generated.user;
        let nickname = &generated.person.nickname;
        // Entra substitutes the initial domain for a suffix it has not verified.
        let upn = match ad.upn_suffix().as_deref() {
            Some(VERIFIED_DOMAIN) => format!("{nickname}@{VERIFIED_DOMAIN}"),
            _ => format!("{nickname}@{INITIAL_DOMAIN}"),
        };
        let mut user = self.synced_from(ad, upn);
        user.account_enabled = Some(ad.enabled);
        user.assigned_licenses = if ad.enabled {
            Self::license()
        } else {
            Vec::new()
        };
        user
    }

    /// A cloud user carrying the on-premises attributes sync writes.
    fn synced_from(&mut self, ad: &AdUser, upn: String) -> CloudUser {
        CloudUser {
            id: random_guid_text(&mut self.streams.cloud).into(),
            user_principal_name: upn.into(),
            display_name: ad.display_name.clone(),
            mail: ad.mail.clone(),
            proxy_addresses: ad.proxy_addresses.clone(),
            account_enabled: Some(true),
            created_date_time: Some(self.created(6 * 365).into()),
            deleted_date_time: None,
            on_premises_immutable_id: Some(ad.immutable_id.clone()),
            on_premises_sync_enabled: Some(true),
            on_premises_last_sync_date_time: Some(self.last_sync.as_str().into()),
            on_premises_distinguished_name: Some(ad.distinguished_name.clone()),
            on_premises_sam_account_name: ad.sam_account_name.clone(),
            on_premises_user_principal_name: ad.user_principal_name.clone(),
            on_premises_domain_name: ad.domain.clone(),
            on_premises_security_identifier: ad.object_sid.clone(),
            on_premises_object_identifier: None,
            on_premises_provisioning_errors: Vec::new(),
            assigned_licenses: Vec::new(),
            sign_in_activity: None,
        }
    }

    /// The licensed cloud-only account an admin created for this person: same UPN prefix
    /// on the verified domain. With `owns_primary_smtp` false, another user holds the
    /// AD user's primary SMTP address, so this one has only its onmicrosoft address.
    fn cloud_only_target(&mut self, person: &Person, owns_primary_smtp: bool) -> CloudUser {
        let nickname = &person.nickname;
        let upn = format!("{nickname}@{VERIFIED_DOMAIN}");
        let onmicrosoft = format!("{nickname}@{INITIAL_DOMAIN}");
        let (mail, proxy_addresses) = if owns_primary_smtp {
            (
                upn.clone(),
                vec![format!("SMTP:{upn}"), format!("smtp:{onmicrosoft}")],
            )
        } else {
            (onmicrosoft.clone(), vec![format!("SMTP:{onmicrosoft}")])
        };
        CloudUser {
            id: random_guid_text(&mut self.streams.cloud).into(),
            user_principal_name: upn.into(),
            display_name: Some(person.display_name.as_str().into()),
            mail: Some(mail.into()),
            proxy_addresses,
            account_enabled: Some(true),
            created_date_time: Some(self.created(6 * 365).into()),
            assigned_licenses: Self::license(),
            ..CloudUser::default()
        }
    }

    /// What duplicate-attribute resiliency leaves when sync provisions an AD user whose UPN
    /// and primary SMTP a cloud-only account already has: a new synced object holding the
    /// anchor under `<prefix><4 digits>@<initial domain>` (entra-matching.md §6).
    fn sync_created_duplicate(&mut self, generated: &Generated) -> CloudUser {
        let ad = &generated.user;
        let digits = self.streams.cloud.u32(..10_000);
        let placeholder = format!("{}{digits:04}@{INITIAL_DOMAIN}", generated.person.nickname);
        let occurred = self.created(90);
        let mut user = self.synced_from(ad, placeholder.clone());
        user.created_date_time = Some(occurred.as_str().into());
        user.account_enabled = Some(ad.enabled);
        user.proxy_addresses = vec![format!("SMTP:{placeholder}")];
        let conflict = |property: &str, value: String| OnPremisesProvisioningError {
            category: Some("PropertyConflict".to_owned()),
            occurred_date_time: Some(occurred.clone()),
            property_causing_error: Some(property.to_owned()),
            value: Some(value),
        };
        let mut errors = Vec::new();
        if let Some(upn) = &ad.user_principal_name {
            errors.push(conflict("UserPrincipalName", upn.to_string()));
        }
        if let Some(primary) = ad.primary_smtp_address() {
            errors.push(conflict("ProxyAddress", format!("SMTP:{primary}")));
        }
        user.on_premises_provisioning_errors = errors;
        user
    }

    /// A formerly synced user in the recycle bin that still reserves the anchor (§12).
    /// Entra prefixes a deleted user's UPN with its object id (without dashes).
    fn recycle_bin_holder(&mut self, generated: &Generated) -> CloudUser {
        let ad = &generated.user;
        let mut user = self.synced_from(ad, String::new());
        user.user_principal_name = format_compact!(
            "{}{}@{VERIFIED_DOMAIN}",
            user.id.replace('-', ""),
            generated.person.nickname
        );
        user.on_premises_sync_enabled = Some(false);
        user.deleted_date_time = Some(self.created(29).into());
        user.assigned_licenses = Self::license();
        user
    }

    /// An active, licensed, formerly synced account under an old UPN that still holds the
    /// anchor; clearing it costs a licensed user its link.
    fn licensed_holder(&mut self, generated: &Generated) -> CloudUser {
        let ad = &generated.user;
        let upn = format!("{}.old@{VERIFIED_DOMAIN}", generated.person.nickname);
        let mut user = self.synced_from(ad, upn.clone());
        user.on_premises_sync_enabled = Some(false);
        user.display_name = Some(format_compact!("{} (old)", generated.person.display_name));
        user.mail = Some(upn.as_str().into());
        user.proxy_addresses = vec![format!("SMTP:{upn}")];
        user.assigned_licenses = Self::license();
        user
    }

    /// A cloud-only shared account that holds the AD user's primary SMTP address as a
    /// secondary proxy address.
    fn proxy_conflict_holder(&mut self, generated: &Generated) -> CloudUser {
        let nickname = &generated.person.nickname;
        let upn = format!("{nickname}.shared@{VERIFIED_DOMAIN}");
        CloudUser {
            id: random_guid_text(&mut self.streams.cloud).into(),
            user_principal_name: upn.as_str().into(),
            display_name: Some(format!("{} (shared)", generated.person.display_name).into()),
            mail: Some(upn.as_str().into()),
            proxy_addresses: vec![
                format!("SMTP:{upn}"),
                format!("smtp:{nickname}@{VERIFIED_DOMAIN}"),
            ],
            account_enabled: Some(true),
            created_date_time: Some(self.created(3 * 365).into()),
            ..CloudUser::default()
        }
    }

    fn grant_admin_role(&mut self, principal_id: &str) {
        let (role_id, _) = ADMIN_ROLES[self.admins % ADMIN_ROLES.len()];
        let assignment = RoleAssignment {
            id: role_assignment_id(role_id, principal_id),
            principal_id: principal_id.to_owned(),
            role_definition_id: role_id.to_owned(),
            directory_scope_id: "/".to_owned(),
        };
        if self.admins % ELIGIBLE_ONE_IN == ELIGIBLE_ONE_IN - 1 {
            self.role_eligibilities.push(assignment);
        } else {
            self.role_assignments.push(assignment);
        }
        self.admins += 1;
    }

    /// A synced cloud user whose AD object is gone from the snapshot's scope.
    fn add_orphan(&mut self, index: usize, tenant_out: &mut impl Write) -> anyhow::Result<()> {
        let person = self.people.next(&mut self.streams.people);
        let anchor = random_object_guid(&mut self.streams.ad);
        let upn = format!("{}@{VERIFIED_DOMAIN}", person.nickname);
        let still_synced = index.is_multiple_of(2);
        let user = CloudUser {
            id: random_guid_text(&mut self.streams.cloud).into(),
            user_principal_name: upn.as_str().into(),
            display_name: Some(person.display_name.as_str().into()),
            mail: Some(upn.as_str().into()),
            proxy_addresses: vec![format!("SMTP:{upn}")],
            account_enabled: Some(true),
            created_date_time: Some(self.created(6 * 365).into()),
            on_premises_immutable_id: Some(anchor.immutable_id()),
            on_premises_sync_enabled: Some(still_synced),
            on_premises_last_sync_date_time: Some(self.created(400).into()),
            on_premises_distinguished_name: Some(format_compact!(
                "CN={},{}",
                person.common_name,
                self.ou_dn(DEPARTED_OU)
            )),
            on_premises_sam_account_name: Some(person.sam_account_name.as_str().into()),
            on_premises_user_principal_name: Some(upn.into()),
            on_premises_domain_name: Some(self.dns_domain.as_str().into()),
            assigned_licenses: Self::license(),
            ..CloudUser::default()
        };
        self.write_cloud_user(tenant_out, &user, &person)
    }

    /// A cloud-only user no AD user corresponds to.
    fn add_cloud_only(&mut self, tenant_out: &mut impl Write) -> anyhow::Result<()> {
        let person = self.people.next(&mut self.streams.people);
        let user = self.cloud_only_target(&person, true);
        self.write_cloud_user(tenant_out, &user, &person)
    }

    fn join(&mut self, ad: &AdUser, cloud_user_id: &str) -> anyhow::Result<()> {
        let anchor = ad
            .immutable_id
            .guid()
            .context("generated anchors are always GUIDs")?;
        let id = parse_guid_text(cloud_user_id).context("generated ids are always GUIDs")?;
        self.connector_space.push((anchor.ad_bytes(), id));
        Ok(())
    }

    fn write_cloud_user(
        &mut self,
        tenant_out: &mut impl Write,
        user: &CloudUser,
        person: &Person,
    ) -> anyhow::Result<()> {
        if self.cloud_users > 0 {
            tenant_out.write_all(b",")?;
        }
        tenant_out.write_all(b"\n")?;
        let graph_user = GraphUser {
            user,
            mail_nickname: mail_nickname(user),
            given_name: person.given_name,
            surname: person.surname,
            usage_location: "US",
        };
        serde_json::to_writer(&mut *tenant_out, &graph_user)?;
        self.cloud_users += 1;
        Ok(())
    }

    fn write_trailers(
        &mut self,
        ad_out: &mut impl Write,
        tenant_out: &mut impl Write,
    ) -> anyhow::Result<()> {
        ad_out.write_all(b"\n]}\n")?;

        tenant_out.write_all(b"\n],\"role_definitions\":")?;
        let definitions: Vec<RoleDefinition> = ADMIN_ROLES
            .iter()
            .map(|(id, name)| RoleDefinition {
                id: (*id).to_owned(),
                display_name: (*name).to_owned(),
                is_privileged: Some(true),
            })
            .collect();
        serde_json::to_writer(&mut *tenant_out, &definitions)?;
        tenant_out.write_all(b",\"role_assignments\":")?;
        serde_json::to_writer(&mut *tenant_out, &self.role_assignments)?;
        tenant_out.write_all(b",\"role_eligibilities\":")?;
        serde_json::to_writer(&mut *tenant_out, &self.role_eligibilities)?;
        tenant_out.write_all(b",\"apps\":")?;
        let apps = [self.app_registration()];
        serde_json::to_writer(&mut *tenant_out, &apps)?;
        tenant_out.write_all(b",\"license_skus\":")?;
        serde_json::to_writer(&mut *tenant_out, &license_skus())?;
        tenant_out.write_all(b",\"connector_space\":[")?;
        for (position, (anchor, id)) in self.connector_space.iter().enumerate() {
            if position > 0 {
                tenant_out.write_all(b",")?;
            }
            let entry = ConnectorSpaceEntry {
                source_anchor: ObjectGuid::from_ad_bytes(*anchor).immutable_id(),
                cloud_user_id: guid_text(id),
            };
            tenant_out.write_all(b"\n")?;
            serde_json::to_writer(&mut *tenant_out, &entry)?;
        }
        tenant_out.write_all(b"\n]}\n")?;
        Ok(())
    }

    /// The app the benchmarks sign in as; the secret is per seed and lab-only.
    fn app_registration(&mut self) -> AppRegistration {
        let secret: String = (0..32).map(|_| self.streams.cloud.alphanumeric()).collect();
        AppRegistration {
            client_id: random_guid_text(&mut self.streams.cloud),
            display_name: "hardmatch-bench".to_owned(),
            client_secret: format!("bench-{secret}"),
            application_permissions: [
                "User.ReadWrite.All",
                "User.DeleteRestore.All",
                "Organization.Read.All",
                "Domain.Read.All",
                "RoleManagement.Read.Directory",
            ]
            .map(str::to_owned)
            .to_vec(),
        }
    }

    fn summary(&self, counts: &Counts) -> Summary {
        Summary {
            seed: self.options.seed,
            ad_users: self.ad_users_written,
            cloud_users: self.cloud_users,
            categories: counts.named().collect(),
            ad_only: counts.ad_only(),
            orphans: counts.orphans,
            cloud_only: counts.cloud_only,
            unverified_suffix: counts.unverified_suffix,
            disabled: counts.disabled,
            consistency_guid: counts.consistency_guid,
            connector_space_entries: self.connector_space.len(),
            role_assignments: self.role_assignments.len(),
            role_eligibilities: self.role_eligibilities.len(),
        }
    }
}

/// The alias Exchange gives a mailbox: its address's local part (the UPN's without one).
fn mail_nickname(user: &CloudUser) -> &str {
    let address = user.mail.as_deref().unwrap_or(&user.user_principal_name);
    address.split_once('@').map_or(address, |(local, _)| local)
}

/// A Graph user as the emulator serves it: the modelled properties plus a few it passes
/// through untouched.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GraphUser<'user> {
    #[serde(flatten)]
    user: &'user CloudUser,
    mail_nickname: &'user str,
    given_name: &'static str,
    surname: &'static str,
    usage_location: &'static str,
}

/// The emulator fixture's `apps` entry (crates/hardmatch-emulator/src/fixture.rs), which
/// refuses unknown fields: only fields it defines are written.
#[derive(Serialize)]
struct AppRegistration {
    client_id: String,
    display_name: String,
    client_secret: String,
    application_permissions: Vec<String>,
}

/// The emulator fixture's `connector_space` entry.
#[derive(Serialize)]
struct ConnectorSpaceEntry {
    source_anchor: ImmutableId,
    cloud_user_id: String,
}

fn license_skus() -> serde_json::Value {
    serde_json::json!([{
        "skuId": LICENSE_SKU_ID,
        "skuPartNumber": "SPE_E3",
        "servicePlans": [
            {
                "servicePlanId": "efb87545-963c-4e0d-99df-69c6916d9eb0",
                "servicePlanName": "EXCHANGE_S_ENTERPRISE",
                "provisioningStatus": "Success",
                "appliesTo": "User"
            }
        ]
    }])
}

fn write_ldif_user(out: &mut impl Write, generated: &Generated) -> io::Result<()> {
    let user = &generated.user;
    ldif::write_text(out, "dn", &user.distinguished_name)?;
    writeln!(out, "objectClass: user")?;
    let optional = [
        ("sAMAccountName", &user.sam_account_name),
        ("userPrincipalName", &user.user_principal_name),
        ("displayName", &user.display_name),
        ("mail", &user.mail),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            ldif::write_text(out, name, value)?;
        }
    }
    // Names no rule reads, so not in the snapshot, but in any real directory.
    ldif::write_text(out, "givenName", generated.person.given_name)?;
    ldif::write_text(out, "sn", generated.person.surname)?;
    for address in &user.proxy_addresses {
        ldif::write_text(out, "proxyAddresses", address)?;
    }
    if let Some(guid) = user.consistency_guid {
        ldif::write_binary(out, "mS-DS-ConsistencyGuid", &guid.ad_bytes())?;
    }
    let control = if user.enabled {
        ldif::ENABLED_ACCOUNT_CONTROL
    } else {
        ldif::DISABLED_ACCOUNT_CONTROL
    };
    writeln!(out, "userAccountControl: {control}")?;
    writeln!(out)
}

/// `DC=hardmatch,DC=test` → `hardmatch.test`.
pub fn dns_domain_of(base_dn: &str) -> String {
    base_dn
        .split(',')
        .filter_map(|rdn| {
            let (attribute, value) = rdn.trim().split_once('=')?;
            attribute.eq_ignore_ascii_case("DC").then_some(value)
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// A random version-4 GUID in AD byte order (the order objectGUID arrives in).
fn random_object_guid(random: &mut fastrand::Rng) -> ObjectGuid {
    let mut bytes = [0u8; 16];
    random.fill(&mut bytes);
    // The version nibble lives in canonical byte 6, which AD order stores at index 7.
    bytes[7] = (bytes[7] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    ObjectGuid::from_ad_bytes(bytes)
}

/// A random version-4 GUID as Graph writes object ids.
fn random_guid_text(random: &mut fastrand::Rng) -> String {
    let mut bytes = [0u8; 16];
    random.fill(&mut bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    guid_text(&bytes)
}

/// Lowercase canonical text of 16 bytes taken in written (big-endian) order.
fn guid_text(bytes: &[u8; 16]) -> String {
    let mut text = String::with_capacity(36);
    for (position, byte) in bytes.iter().enumerate() {
        if matches!(position, 4 | 6 | 8 | 10) {
            text.push('-');
        }
        const HEX: &[u8; 16] = b"0123456789abcdef";
        text.push(char::from(HEX[usize::from(byte >> 4)]));
        text.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    text
}

fn parse_guid_text(text: &str) -> Option<[u8; 16]> {
    let digits: Vec<u8> = text.bytes().filter(|&byte| byte != b'-').collect();
    if digits.len() != 32 {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (slot, pair) in bytes.iter_mut().zip(digits.chunks(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        *slot = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(bytes)
}

/// Graph's role assignment ids: unpadded URL-safe Base64 of the role definition's GUID
/// bytes followed by the principal's, then `-1`.
fn role_assignment_id(role_definition_id: &str, principal_id: &str) -> String {
    let mut bytes = Vec::with_capacity(32);
    for guid in [role_definition_id, principal_id] {
        match ObjectGuid::parse_canonical(guid) {
            Ok(guid) => bytes.extend_from_slice(&guid.ad_bytes()),
            Err(_) => bytes.extend_from_slice(guid.as_bytes()),
        }
    }
    format!("{}-1", URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_assignment_ids_match_graphs_shape() {
        // The example tenant's Global Administrator assignment starts with the role's part.
        let id = role_assignment_id(
            "62e90394-69f5-4237-9190-012177145e10",
            "4a5b6c7d-0004-4e5f-8a9b-0c1d2e3f4a04",
        );
        assert_eq!(id, "lAPpYvVpN0KRkAEhdxReEH1sW0oEAF9OipsMHS4_SgQ-1");
        assert!(id.ends_with("-1"));
    }

    #[test]
    fn guid_text_round_trips_and_dns_domain_follows_the_base_dn() {
        let mut random = fastrand::Rng::with_seed(3);
        let text = random_guid_text(&mut random);
        assert_eq!(guid_text(&parse_guid_text(&text).unwrap()), text);
        assert_eq!(text.as_bytes()[14], b'4');
        assert_eq!(dns_domain_of("DC=hardmatch,DC=test"), "hardmatch.test");
        assert_eq!(
            dns_domain_of("OU=x, dc=corp,dc=contoso,dc=com"),
            "corp.contoso.com"
        );
    }
}
