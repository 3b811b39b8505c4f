//! The generator's promises: reproducible bytes, exact counts, files that parse as the core
//! types and as the emulator's fixture format, correct anchors, Microsoft-shaped
//! placeholders, and LDIF that an LDIF reader accepts.

use std::collections::{HashMap, HashSet};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hardmatch_bench::generate::{self, INITIAL_DOMAIN, Options, UNVERIFIED_SUFFIX};
use hardmatch_bench::rates::{Category, Rates, count_of};
use hardmatch_core::ad::{AdSnapshot, AnchorAttribute};
use hardmatch_core::tenant::{CloudUser, TenantSnapshot};

struct Output {
    ad: Vec<u8>,
    tenant: Vec<u8>,
    ldif: Vec<u8>,
}

fn generate_with(options: &Options) -> Output {
    let (mut ad, mut tenant, mut ldif) = (Vec::new(), Vec::new(), Vec::new());
    generate::generate(options, &mut ad, &mut tenant, &mut ldif).expect("generation succeeds");
    Output { ad, tenant, ldif }
}

fn generate_default(seed: u64, users: usize) -> Output {
    generate_with(&Options::new(seed, users))
}

#[test]
fn the_same_seed_gives_identical_bytes_and_another_seed_does_not() {
    let first = generate_default(42, 2_000);
    let again = generate_default(42, 2_000);
    assert!(first.ad == again.ad, "ad.json differs between runs");
    assert!(
        first.tenant == again.tenant,
        "tenant.json differs between runs"
    );
    assert!(first.ldif == again.ldif, "ad.ldif differs between runs");

    let other = generate_default(43, 2_000);
    assert!(first.ad != other.ad);
    assert!(first.tenant != other.tenant);
    assert!(first.ldif != other.ldif);
}

#[test]
fn files_written_to_disk_are_identical_across_runs() {
    let directory = tempfile::tempdir().unwrap();
    let options = Options::new(7, 500);
    generate::generate_files(&options, &directory.path().join("one")).unwrap();
    generate::generate_files(&options, &directory.path().join("two")).unwrap();
    for name in ["ad.json", "tenant.json", "ad.ldif"] {
        let one = std::fs::read(directory.path().join("one").join(name)).unwrap();
        let two = std::fs::read(directory.path().join("two").join(name)).unwrap();
        assert!(one == two, "{name} differs");
        assert!(!one.is_empty());
    }
}

struct Parsed {
    ad: AdSnapshot,
    tenant: TenantSnapshot,
    raw_tenant: serde_json::Value,
}

fn parse(output: &Output) -> Parsed {
    Parsed {
        ad: serde_json::from_slice(&output.ad).expect("ad.json is an AdSnapshot"),
        tenant: serde_json::from_slice(&output.tenant).expect("tenant.json is a TenantSnapshot"),
        raw_tenant: serde_json::from_slice(&output.tenant).expect("tenant.json is JSON"),
    }
}

fn is_placeholder_upn(upn: &str) -> bool {
    // <prefix><4 digits>@<initial domain> (entra-matching.md §6).
    let Some((local, domain)) = upn.split_once('@') else {
        return false;
    };
    let digits = local.len().saturating_sub(4);
    domain == INITIAL_DOMAIN
        && digits > 0
        && local[digits..].bytes().all(|byte| byte.is_ascii_digit())
}

/// Counts every situation from the files alone, the way a reader of the data would.
#[derive(Debug, Default, PartialEq, Eq)]
struct Observed {
    linked: usize,
    duplicates: usize,
    recycle_bin: usize,
    licensed_holders: usize,
    orphans: usize,
    proxy_conflicts: usize,
    admins: usize,
    cloud_only_targets: usize,
}

fn observe(parsed: &Parsed) -> Observed {
    let anchors: HashSet<&str> = parsed
        .ad
        .users
        .iter()
        .map(|user| user.immutable_id.as_str())
        .collect();
    let primaries: HashSet<&str> = parsed
        .ad
        .users
        .iter()
        .filter_map(|user| user.primary_smtp_address())
        .collect();
    let mut observed = Observed::default();
    for user in &parsed.tenant.users {
        let anchor = user.on_premises_immutable_id.as_ref().map(|id| id.as_str());
        let held_by_ad = anchor.is_some_and(|anchor| anchors.contains(anchor));
        match (anchor, held_by_ad) {
            (Some(_), false) => observed.orphans += 1,
            (Some(_), true) if user.is_deleted() => observed.recycle_bin += 1,
            (Some(_), true) if is_placeholder_upn(&user.user_principal_name) => {
                assert!(user.is_synced() && !user.is_licensed());
                observed.duplicates += 1;
            }
            (Some(_), true) if user.is_synced() => observed.linked += 1,
            (Some(_), true) => {
                assert!(user.is_licensed() && user.on_premises_sync_enabled == Some(false));
                observed.licensed_holders += 1;
            }
            (None, _) => {
                if primaries.contains(user.user_principal_name.as_str()) {
                    observed.cloud_only_targets += 1;
                } else if user
                    .smtp_addresses()
                    .any(|address| primaries.contains(address))
                {
                    observed.proxy_conflicts += 1;
                }
            }
        }
    }
    observed.admins = parsed.tenant.role_assignments.len() + parsed.tenant.role_eligibilities.len();
    observed
}

#[test]
fn requested_rates_give_exact_counts() {
    let rates = Rates {
        linked: 0.5,
        soft_match: 0.1,
        duplicate: 0.07,
        recycle_bin: 0.03,
        licensed_holder: 0.04,
        proxy_conflict: 0.05,
        admin: 0.01,
        orphan: 0.06,
        cloud_only: 0.02,
        unverified_suffix: 0.08,
        disabled: 0.09,
        consistency_guid: 0.25,
    };
    let users = 3_000;
    let options = Options {
        rates: rates.clone(),
        ..Options::new(11, users)
    };
    let parsed = parse(&generate_with(&options));
    let observed = observe(&parsed);
    let counts = rates.counts(users).unwrap();
    assert_eq!(counts.category(Category::Linked), 1_500);
    assert_eq!(
        observed,
        Observed {
            linked: count_of(0.5, users),
            duplicates: count_of(0.07, users),
            recycle_bin: count_of(0.03, users),
            licensed_holders: count_of(0.04, users),
            orphans: count_of(0.06, users),
            proxy_conflicts: count_of(0.05, users),
            admins: count_of(0.01, users),
            // Every category but linked has a cloud-only target with the same UPN.
            cloud_only_targets: [0.1, 0.07, 0.03, 0.04, 0.05, 0.01]
                .iter()
                .map(|&rate| count_of(rate, users))
                .sum(),
        }
    );
    assert_eq!(parsed.tenant.users.len(), counts.cloud_users());

    let ad = &parsed.ad.users;
    assert_eq!(ad.len(), users);
    let suffix_count = |suffix: &str| {
        ad.iter()
            .filter(|user| user.upn_suffix().as_deref() == Some(suffix))
            .count()
    };
    assert_eq!(suffix_count(UNVERIFIED_SUFFIX), count_of(0.08, users));
    assert_eq!(suffix_count("contoso.com"), users - count_of(0.08, users));
    assert_eq!(
        ad.iter().filter(|user| !user.enabled).count(),
        count_of(0.09, users)
    );
    assert_eq!(
        ad.iter()
            .filter(|user| user.consistency_guid.is_some())
            .count(),
        count_of(0.25, users)
    );
}

#[test]
fn default_rates_are_also_exact_and_sized_like_the_ad() {
    let users = 10_000;
    let parsed = parse(&generate_default(3, users));
    let observed = observe(&parsed);
    let defaults = Rates::default();
    assert_eq!(observed.linked, count_of(defaults.linked, users));
    assert_eq!(observed.duplicates, count_of(defaults.duplicate, users));
    // About one cloud user per AD user, as the benchmarks assume for "1M × 1M".
    let ratio = parsed.tenant.users.len() as f64 / users as f64;
    assert!((0.95..=1.05).contains(&ratio), "{ratio}");
}

#[test]
fn every_immutable_id_is_base64_of_the_anchor_bytes() {
    let parsed = parse(&generate_default(5, 2_000));
    let mut by_attribute = HashMap::new();
    for user in &parsed.ad.users {
        let anchor = match user.anchor_attribute {
            AnchorAttribute::ConsistencyGuid => user.consistency_guid.unwrap(),
            AnchorAttribute::ObjectGuid => {
                assert!(user.consistency_guid.is_none());
                user.object_guid
            }
            AnchorAttribute::Custom(_) => panic!("no custom anchors are generated"),
        };
        assert_eq!(user.immutable_id.as_str(), BASE64.encode(anchor.ad_bytes()));
        assert_eq!(user.immutable_id.guid(), Some(anchor));
        *by_attribute
            .entry(user.anchor_attribute.ldap_name().to_owned())
            .or_insert(0) += 1;
        // One SMTP primary, and the mail attribute agrees with it.
        let primaries = user
            .proxy_addresses
            .iter()
            .filter(|address| address.starts_with("SMTP:"))
            .count();
        assert_eq!(primaries, 1);
        assert_eq!(user.primary_smtp_address(), user.mail.as_deref());
        assert!(user.smtp_addresses().count() >= 2);
        assert!(
            user.distinguished_name
                .contains(",OU=Synthetic,DC=hardmatch,DC=test")
        );
    }
    assert_eq!(by_attribute.len(), 2);
    // Some consistency GUIDs equal the objectGUID (stamped by Connect), some differ.
    let stamped = parsed
        .ad
        .users
        .iter()
        .filter(|user| user.consistency_guid == Some(user.object_guid))
        .count();
    let migrated = parsed
        .ad
        .users
        .iter()
        .filter(|user| {
            user.consistency_guid
                .is_some_and(|guid| guid != user.object_guid)
        })
        .count();
    assert!(stamped > 0 && migrated > 0);
    // Realistic names include non-ASCII ones.
    assert!(parsed.ad.users.iter().any(|user| {
        user.display_name
            .as_deref()
            .is_some_and(|name| !name.is_ascii())
    }));
}

#[test]
fn duplicates_have_microsofts_placeholder_shape_and_sit_next_to_the_real_account() {
    let parsed = parse(&generate_default(9, 5_000));
    let by_anchor: HashMap<&str, &hardmatch_core::ad::AdUser> = parsed
        .ad
        .users
        .iter()
        .map(|user| (user.immutable_id.as_str(), user))
        .collect();
    let upns: HashSet<&str> = parsed
        .tenant
        .users
        .iter()
        .filter(|user| !user.is_deleted())
        .map(|user| user.user_principal_name.as_str())
        .collect();
    let duplicates: Vec<&CloudUser> = parsed
        .tenant
        .users
        .iter()
        .filter(|user| {
            user.on_premises_provisioning_errors
                .iter()
                .any(|error| error.property_causing_error.as_deref() == Some("UserPrincipalName"))
        })
        .collect();
    assert_eq!(
        duplicates.len(),
        count_of(Rates::default().duplicate, 5_000)
    );
    for duplicate in duplicates {
        assert!(
            is_placeholder_upn(&duplicate.user_principal_name),
            "{}",
            duplicate.user_principal_name
        );
        let anchor = duplicate.on_premises_immutable_id.as_ref().unwrap();
        let ad = by_anchor[anchor.as_str()];
        let prefix = ad
            .user_principal_name
            .as_deref()
            .unwrap()
            .split('@')
            .next()
            .unwrap();
        let local = duplicate.user_principal_name.split('@').next().unwrap();
        assert_eq!(&local[..local.len() - 4], prefix);
        // The licensed real account holds the AD user's primary address as its UPN.
        assert!(upns.contains(ad.primary_smtp_address().unwrap()));
    }
    // Nothing in the tenant shares a UPN (deleted users carry their id as a prefix).
    let all: Vec<&str> = parsed
        .tenant
        .users
        .iter()
        .map(|user| user.user_principal_name.as_str())
        .collect();
    let unique: HashSet<&str> = all.iter().copied().collect();
    assert_eq!(unique.len(), all.len());
}

#[test]
fn the_tenant_loads_as_an_emulator_fixture() {
    // The emulator's Fixture is a superset of the tenant snapshot with `apps`,
    // `connector_space` and `license_skus` (crates/hardmatch-emulator/src/fixture.rs).
    let parsed = parse(&generate_default(13, 2_000));
    let raw = &parsed.raw_tenant;
    let ids: HashSet<&str> = parsed
        .tenant
        .users
        .iter()
        .map(|user| user.id.as_str())
        .collect();
    assert_eq!(ids.len(), parsed.tenant.users.len());

    let apps = raw["apps"].as_array().unwrap();
    assert_eq!(apps.len(), 1);
    let app = apps[0].as_object().unwrap();
    assert!(app["client_id"].as_str().unwrap().len() == 36);
    assert!(!app["client_secret"].as_str().unwrap().is_empty());
    let permissions: Vec<&str> = app["application_permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|value| value.as_str().unwrap())
        .collect();
    assert!(permissions.contains(&"User.ReadWrite.All"));
    let known = [
        "client_id",
        "display_name",
        "client_secret",
        "certificate_pem",
        "application_permissions",
        "delegated_permissions",
        "directory_roles",
    ];
    assert!(app.keys().all(|key| known.contains(&key.as_str())));

    let joins = raw["connector_space"].as_array().unwrap();
    let defaults = Rates::default();
    assert_eq!(
        joins.len(),
        count_of(defaults.linked, 2_000) + count_of(defaults.duplicate, 2_000)
    );
    let anchors: HashSet<&str> = parsed
        .ad
        .users
        .iter()
        .map(|user| user.immutable_id.as_str())
        .collect();
    for join in joins {
        let join = join.as_object().unwrap();
        assert_eq!(join.len(), 2);
        assert!(ids.contains(join["cloud_user_id"].as_str().unwrap()));
        assert!(anchors.contains(join["source_anchor"].as_str().unwrap()));
    }
    assert!(
        raw["license_skus"]
            .as_array()
            .is_some_and(|skus| !skus.is_empty())
    );

    let tenant = &parsed.tenant.tenant;
    assert!(tenant.verified_domain("contoso.com").is_some());
    assert!(tenant.verified_domain(UNVERIFIED_SUFFIX).is_none());
    assert!(
        tenant
            .domains
            .iter()
            .any(|domain| domain.is_initial && domain.id == INITIAL_DOMAIN)
    );
    assert!(tenant.on_premises_synchronization.is_some());
    let global_administrator = "62e90394-69f5-4237-9190-012177145e10";
    assert!(
        parsed
            .tenant
            .role_definitions
            .iter()
            .any(|role| role.id == global_administrator)
    );
    for assignment in parsed
        .tenant
        .role_assignments
        .iter()
        .chain(&parsed.tenant.role_eligibilities)
    {
        assert!(ids.contains(assignment.principal_id.as_str()));
    }
}

/// A minimal RFC 2849 reader: enough to check that the file is well-formed and that its
/// entries carry what the AD snapshot says.
fn read_ldif(text: &str) -> Vec<Vec<(String, Vec<u8>)>> {
    let mut entries = Vec::new();
    let mut current = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        if line.is_empty() {
            if !current.is_empty() {
                entries.push(std::mem::take(&mut current));
            }
            continue;
        }
        assert!(!line.starts_with(' '), "no folded lines are written");
        let (name, rest) = line.split_once(':').expect("attribute: value");
        let value = match rest.strip_prefix(':') {
            Some(encoded) => BASE64.decode(encoded.trim_start()).expect("valid base64"),
            None => {
                let value = rest.strip_prefix(' ').unwrap_or(rest);
                assert!(value.is_ascii(), "plain values are ASCII: {line}");
                value.as_bytes().to_vec()
            }
        };
        current.push((name.to_owned(), value));
    }
    if !current.is_empty() {
        entries.push(current);
    }
    entries
}

#[test]
fn ldif_holds_the_same_users_with_organizational_units_first() {
    let output = generate_default(17, 1_500);
    let parsed = parse(&output);
    let entries = read_ldif(std::str::from_utf8(&output.ldif).unwrap());
    let value = |entry: &[(String, Vec<u8>)], name: &str| -> Option<String> {
        entry
            .iter()
            .find(|(attribute, _)| attribute == name)
            .map(|(_, value)| String::from_utf8(value.clone()).unwrap())
    };
    let (units, users): (Vec<_>, Vec<_>) = entries
        .iter()
        .partition(|entry| value(entry, "objectClass").as_deref() == Some("organizationalUnit"));
    assert!(!units.is_empty());
    let first_user = entries
        .iter()
        .position(|entry| value(entry, "objectClass").as_deref() == Some("user"))
        .unwrap();
    assert_eq!(first_user, units.len(), "every OU comes before the users");
    assert_eq!(users.len(), parsed.ad.users.len());

    for (entry, user) in users.iter().zip(&parsed.ad.users) {
        assert_eq!(value(entry, "dn").unwrap(), user.distinguished_name);
        assert_eq!(
            value(entry, "userPrincipalName"),
            user.user_principal_name.as_deref().map(str::to_owned)
        );
        assert_eq!(
            value(entry, "sAMAccountName"),
            user.sam_account_name.as_deref().map(str::to_owned)
        );
        assert_eq!(
            value(entry, "displayName"),
            user.display_name.as_deref().map(str::to_owned)
        );
        assert!(
            entry
                .iter()
                .all(|(name, _)| name != "objectGUID" && name != "objectSid")
        );
        let proxies: Vec<String> = entry
            .iter()
            .filter(|(name, _)| name == "proxyAddresses")
            .map(|(_, value)| String::from_utf8(value.clone()).unwrap())
            .collect();
        assert_eq!(proxies, user.proxy_addresses);
        let consistency = entry
            .iter()
            .find(|(name, _)| name == "mS-DS-ConsistencyGuid")
            .map(|(_, value)| value.clone());
        assert_eq!(
            consistency,
            user.consistency_guid.map(|guid| guid.ad_bytes().to_vec())
        );
        let control: u32 = value(entry, "userAccountControl").unwrap().parse().unwrap();
        assert_eq!(control & 2 != 0, !user.enabled);
    }
    // Non-ASCII values travel as base64.
    let text = std::str::from_utf8(&output.ldif).unwrap();
    assert!(text.lines().any(|line| line.starts_with("displayName:: ")));
    assert!(text.is_ascii());
}
