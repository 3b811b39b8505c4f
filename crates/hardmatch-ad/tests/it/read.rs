//! Live reads from the lab DC: anchors, precedence, multi-valued and non-ASCII attributes,
//! paging, both TLS transports, and the errors admins meet first.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hardmatch_ad::{
    AdError, AdUser, AdWarning, AnchorAttribute, AnchorChoice, Bind, Directory, NoReporter,
    Password, Reporter, SearchScope, TlsOptions, Transport, read_users_blocking,
};

use crate::lab::lab;

fn by_account(users: &[AdUser]) -> HashMap<String, &AdUser> {
    users
        .iter()
        .map(|user| {
            (
                user.sam_account_name
                    .as_deref()
                    .unwrap_or_default()
                    .to_owned(),
                user,
            )
        })
        .collect()
}

/// objectGUID and mS-DS-ConsistencyGuid per DN, as OpenLDAP's ldapsearch prints them.
fn anchors_from_ldapsearch(ldif: &str) -> HashMap<String, (Vec<u8>, Option<Vec<u8>>)> {
    let unfolded = ldif.replace("\n ", "");
    let mut anchors = HashMap::new();
    for record in unfolded.split("\n\n") {
        let mut dn = None;
        let mut guid = None;
        let mut consistency = None;
        for line in record.lines() {
            let decode = |value: &str| {
                BASE64
                    .decode(value.trim())
                    .expect("ldapsearch writes Base64")
            };
            if let Some(value) = line.strip_prefix("dn:: ") {
                dn = Some(String::from_utf8(decode(value)).expect("DNs are UTF-8"));
            } else if let Some(value) = line.strip_prefix("dn: ") {
                dn = Some(value.to_owned());
            } else if let Some(value) = line.strip_prefix("objectGUID:: ") {
                guid = Some(decode(value));
            } else if let Some(value) = line.strip_prefix("mS-DS-ConsistencyGuid:: ") {
                consistency = Some(decode(value));
            } else if let Some(value) = line.strip_prefix("mS-DS-ConsistencyGuid: ") {
                consistency = Some(value.as_bytes().to_vec());
            }
        }
        if let (Some(dn), Some(guid)) = (dn, guid) {
            anchors.insert(dn, (guid, consistency));
        }
    }
    anchors
}

#[test]
fn seeded_users_have_the_anchors_ldapsearch_sees() {
    let Some(lab) = lab() else { return };
    let snapshot = lab.read_corp();
    assert_eq!(snapshot.format_version, 1);
    assert_eq!(snapshot.source.kind, "ldap");
    let ldif = lab.ldapsearch(
        &lab.corp(),
        "(objectClass=user)",
        &["objectGUID", "mS-DS-ConsistencyGuid"],
    );
    let anchors = anchors_from_ldapsearch(&ldif);
    assert!(snapshot.users.len() >= 11, "{} users", snapshot.users.len());
    for user in &snapshot.users {
        let (guid, consistency) = &anchors[user.distinguished_name.as_str()];
        assert_eq!(user.object_guid.ad_bytes().as_slice(), guid.as_slice());
        let expected = BASE64.encode(consistency.as_ref().unwrap_or(guid));
        assert_eq!(
            user.immutable_id.as_str(),
            expected,
            "{}",
            user.distinguished_name
        );
        assert_eq!(user.immutable_id.as_str().len(), 24);
        assert_eq!(user.domain.as_deref(), Some("hardmatch.test"));
        assert!(
            user.object_sid.as_deref().unwrap().starts_with("S-1-5-21-"),
            "{:?}",
            user.object_sid
        );
    }
}

#[derive(Default)]
struct Collecting {
    warnings: Mutex<Vec<AdWarning>>,
    progress: Mutex<Vec<u64>>,
}

impl Reporter for Collecting {
    fn progress(&self, users: u64, _elapsed: Duration) {
        self.progress.lock().expect("not poisoned").push(users);
    }
    fn warning(&self, warning: &AdWarning) {
        self.warnings
            .lock()
            .expect("not poisoned")
            .push(warning.clone());
    }
}

#[test]
fn consistency_guid_takes_precedence_and_a_difference_is_reported() {
    let Some(lab) = lab() else { return };
    let reporter = Collecting::default();
    let source = lab.source(&lab.ldaps_url, &lab.corp());
    let snapshot = read_users_blocking(&source, &reporter).unwrap();
    let users = by_account(&snapshot.users);
    let megan = users["megan.bowen"];
    assert_eq!(megan.anchor_attribute, AnchorAttribute::ConsistencyGuid);
    // The MS-ADTS example GUID seeded as Megan's ConsistencyGuid.
    assert_eq!(megan.immutable_id.as_str(), "5gyLLTKqMU+m6Ig0PmJEpQ==");
    assert_eq!(
        megan.consistency_guid.unwrap().to_string(),
        "2d8b0ce6-aa32-4f31-a6e8-88343e6244a5"
    );
    // A ConsistencyGuid whose bytes are valid UTF-8 arrives in ldap3's text map.
    let nestor = users["nestor.wilke"];
    assert_eq!(nestor.immutable_id.as_str(), "MDEyMzQ1Njc4OWFiY2RlZg==");
    assert_eq!(
        nestor.consistency_guid.unwrap().to_string(),
        "33323130-3534-3736-3839-616263646566"
    );
    let adele = users["adele.vance"];
    assert_eq!(adele.anchor_attribute, AnchorAttribute::ObjectGuid);
    assert_eq!(adele.consistency_guid, None);
    assert_eq!(adele.immutable_id, adele.object_guid.immutable_id());

    let warnings = reporter.warnings.lock().unwrap();
    let differing: Vec<&str> = warnings
        .iter()
        .filter_map(|warning| match warning {
            AdWarning::ConsistencyGuidDiffers {
                distinguished_name, ..
            } => Some(distinguished_name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(differing.len(), 2, "{warnings:?}");
    assert!(differing.iter().any(|dn| dn.starts_with("CN=Megan Bowen,")));
    assert!(!reporter.progress.lock().unwrap().is_empty());

    let mut source = source;
    source.anchor = AnchorChoice::ObjectGuid;
    let snapshot = read_users_blocking(&source, &NoReporter).unwrap();
    let megan = by_account(&snapshot.users)["megan.bowen"].clone();
    assert_eq!(megan.anchor_attribute, AnchorAttribute::ObjectGuid);
    assert_eq!(megan.immutable_id, megan.object_guid.immutable_id());

    source.anchor = AnchorChoice::parse("sAMAccountName");
    let snapshot = read_users_blocking(&source, &NoReporter).unwrap();
    let megan = by_account(&snapshot.users)["megan.bowen"].clone();
    assert_eq!(megan.immutable_id.as_str(), "megan.bowen");
}

#[test]
fn multi_valued_proxy_addresses_non_ascii_names_and_disabled_accounts() {
    let Some(lab) = lab() else { return };
    let snapshot = lab.read_corp();
    let users = by_account(&snapshot.users);
    let mut addresses = users["adele.vance"].proxy_addresses.clone();
    addresses.sort();
    assert_eq!(
        addresses,
        [
            "SMTP:adele.vance@contoso.com",
            "X500:/o=Contoso/ou=Exchange Administrative Group/cn=Recipients/cn=adele",
            "smtp:a.vance@contoso.mail.onmicrosoft.com",
            "smtp:adele@contoso.com",
        ]
    );
    assert_eq!(
        users["adele.vance"].primary_smtp_address(),
        Some("adele.vance@contoso.com")
    );
    assert_eq!(users["grady.archie"].proxy_addresses, Vec::<String>::new());
    assert_eq!(users["grady.archie"].mail, None);

    let jose = users["jose.mueller"];
    assert_eq!(
        jose.distinguished_name,
        "CN=José Müller,OU=Staff,OU=Corp,DC=hardmatch,DC=test"
    );
    assert_eq!(jose.display_name.as_deref(), Some("José Müller"));
    assert_eq!(
        users["zoe.angstrom"].display_name.as_deref(),
        Some("Zoë Ångström")
    );
    assert_eq!(users["wang.wei"].display_name.as_deref(), Some("王伟"));

    assert!(!users["debra.berger"].enabled);
    assert!(users["adele.vance"].enabled);
    assert_eq!(
        users["lee.gu"].user_principal_name.as_deref(),
        Some("lee.gu@hardmatch.local")
    );
}

#[test]
fn more_than_one_page_of_users_is_read_completely() {
    let Some(lab) = lab() else { return };
    // `scripts/ad-lab` seeds paged1..paged1200 there: more than Samba's 1000 per page.
    let paging = format!("OU=Paging,{}", lab.base_dn);
    let reporter = Collecting::default();
    let snapshot = read_users_blocking(&lab.source(&lab.ldaps_url, &paging), &reporter).unwrap();
    assert_eq!(snapshot.users.len(), 1200);
    let accounts: std::collections::HashSet<&str> = snapshot
        .users
        .iter()
        .filter_map(|user| user.sam_account_name.as_deref())
        .collect();
    for number in [1, 999, 1000, 1001, 1200] {
        assert!(
            accounts.contains(format!("paged{number}").as_str()),
            "paged{number} missing"
        );
    }
    assert_eq!(accounts.len(), snapshot.users.len());
    // One progress report per full page, plus the final count.
    let progress = reporter.progress.lock().unwrap();
    assert!(progress.len() >= 2, "{progress:?}");
    assert_eq!(progress.last().copied(), Some(snapshot.users.len() as u64));
}

#[test]
fn starttls_reads_the_same_users_as_ldaps() {
    let Some(lab) = lab() else { return };
    let over_ldaps = lab.read_corp();
    let source = lab.source(&lab.ldap_url, &lab.corp());
    let over_starttls = read_users_blocking(&source, &NoReporter).unwrap();
    assert_eq!(over_starttls.users, over_ldaps.users);
}

#[test]
fn a_upn_bind_and_several_directories_merge_into_one_set() {
    let Some(lab) = lab() else { return };
    let mut source = lab.source(&lab.ldaps_url, &format!("OU=Staff,{}", lab.corp()));
    source.bind = Bind::Simple {
        name: lab.bind_upn.clone(),
        password: Password::new(lab.password.clone()),
    };
    source.directories.push(Directory {
        url: lab.ldap_url.clone(),
        base_dn: format!("OU=Leavers,{}", lab.corp()),
    });
    // Overlapping with the first directory: its users must not appear twice.
    source.directories.push(Directory {
        url: lab.ldaps_url.clone(),
        base_dn: format!("OU=Sales,OU=Staff,{}", lab.corp()),
    });
    let merged = read_users_blocking(&source, &NoReporter).unwrap();
    assert_eq!(merged.users, lab.read_corp().users);
    assert_eq!(merged.source.locations.len(), 3);

    source.scope = SearchScope::OneLevel;
    source.directories.truncate(1);
    let one_level = read_users_blocking(&source, &NoReporter).unwrap();
    assert!(
        one_level
            .users
            .iter()
            .all(|user| !user.distinguished_name.contains("OU=Sales"))
    );
    assert!(!one_level.users.is_empty());
}

#[test]
fn a_wrong_password_names_the_account_and_never_the_password() {
    let Some(lab) = lab() else { return };
    let mut source = lab.source(&lab.ldaps_url, &lab.corp());
    source.bind = Bind::Simple {
        name: lab.bind_upn.clone(),
        password: Password::new("not-the-lab-password"),
    };
    let error = read_users_blocking(&source, &NoReporter).unwrap_err();
    assert!(
        matches!(error, AdError::InvalidCredentials { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains(&lab.bind_upn), "{message}");
    assert!(!message.contains("not-the-lab-password"));
    assert!(!format!("{error:?}").contains("not-the-lab-password"));
    assert!(error.hint().unwrap().contains("bind DN/UPN and password"));
}

#[test]
fn an_untrusted_certificate_is_refused_with_a_ca_cert_hint() {
    let Some(lab) = lab() else { return };
    for url in [&lab.ldaps_url, &lab.ldap_url] {
        let mut source = lab.source(url, &lab.corp());
        source.tls = TlsOptions::default();
        let error = read_users_blocking(&source, &NoReporter).unwrap_err();
        assert!(
            matches!(error, AdError::TlsUntrusted { .. }),
            "{url}: {error:?}"
        );
        assert!(error.hint().unwrap().contains("--ca-cert"));
    }
}

#[test]
fn a_simple_bind_without_tls_is_strong_auth_required() {
    let Some(lab) = lab() else { return };
    let mut source = lab.source(&lab.ldap_url, &lab.corp());
    source.tls.transport = Transport::Plaintext;
    let reporter = Collecting::default();
    let error = read_users_blocking(&source, &reporter).unwrap_err();
    assert!(
        matches!(error, AdError::StrongAuthRequired { .. }),
        "{error:?}"
    );
    assert!(error.hint().unwrap().contains("ldaps://"));
    assert!(matches!(
        reporter.warnings.lock().unwrap().as_slice(),
        [AdWarning::Plaintext { .. }]
    ));
}

#[test]
fn an_unreachable_server_and_a_bad_url_say_so() {
    let Some(lab) = lab() else { return };
    // Nothing listens on port 1 of the loopback address.
    let source = lab.source("ldaps://127.0.0.1:1", &lab.corp());
    let error = read_users_blocking(&source, &NoReporter).unwrap_err();
    assert!(matches!(error, AdError::Unreachable { .. }), "{error:?}");
    assert!(error.hint().unwrap().contains("port"));
    let source = lab.source("https://127.0.0.1", &lab.corp());
    let error = read_users_blocking(&source, &NoReporter).unwrap_err();
    assert!(matches!(error, AdError::InvalidUrl { .. }), "{error:?}");
}

#[test]
fn skipping_verification_works_but_warns_on_every_read() {
    let Some(lab) = lab() else { return };
    let mut source = lab.source(&lab.ldaps_url, &lab.corp());
    source.tls = TlsOptions {
        insecure_skip_verify: true,
        ..TlsOptions::default()
    };
    let reporter = Collecting::default();
    let snapshot = read_users_blocking(&source, &reporter).unwrap();
    assert_eq!(snapshot.users, lab.read_corp().users);
    assert!(matches!(
        reporter.warnings.lock().expect("not poisoned").first(),
        Some(AdWarning::TlsVerificationDisabled { .. })
    ));
}

#[test]
fn an_empty_password_is_refused_before_it_becomes_an_anonymous_bind() {
    let Some(lab) = lab() else { return };
    let mut source = lab.source(&lab.ldaps_url, &lab.corp());
    source.bind = Bind::Simple {
        name: lab.bind_dn.clone(),
        password: Password::new(""),
    };
    let error = read_users_blocking(&source, &NoReporter).unwrap_err();
    assert!(matches!(error, AdError::EmptyPassword { .. }), "{error:?}");
}
