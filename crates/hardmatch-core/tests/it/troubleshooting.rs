//! docs/TROUBLESHOOTING.md is where `hardmatch status` sends people: every status and
//! reason the diagnosis can report must have its entry there, under its serialized name.

use hardmatch_core::diagnose::{
    BlockReason, ConflictReason, HygieneKind, Status, TenantFindingKind,
};
use hardmatch_core::sync::SoftMatchAttribute;
use serde::Serialize;

const TROUBLESHOOTING: &str = include_str!("../../../../docs/TROUBLESHOOTING.md");

/// Every value of an enum with its serialized name, each variant listed once. The match
/// has no wildcard arm, so a new variant does not compile until it is listed here, and
/// then the test asks for its entry.
macro_rules! every {
    ($what:literal, $enum:ident { $($variant:ident $(($value:expr))?),* $(,)? }) => {{
        let all = [$($enum::$variant $(($value))?),*];
        all.iter()
            .map(|value| {
                match value {
                    $($enum::$variant { .. })|* => {}
                }
                ($what, serialized_name(value))
            })
            .collect::<Vec<_>>()
    }};
}

/// The name the JSON output, `--status` and the tables use: a unit variant serializes to
/// its name, a variant with data to an object keyed by it.
fn serialized_name(value: &impl Serialize) -> Option<String> {
    match serde_json::to_value(value).ok()? {
        serde_json::Value::String(name) => Some(name),
        serde_json::Value::Object(object) => object.keys().next().cloned(),
        _ => None,
    }
}

/// An entry is a heading that names the value in backticks, e.g. "### `admin_role`".
fn has_entry(name: &str) -> bool {
    let wanted = format!("`{name}`");
    TROUBLESHOOTING
        .lines()
        .any(|line| line.starts_with('#') && line.contains(&wanted))
}

#[test]
fn every_status_and_reason_has_an_entry_in_troubleshooting() {
    let statuses = Status::NAMES.map(|name| ("status", Some(name.to_owned())));
    let names = [
        statuses.to_vec(),
        every!("block reason", BlockReason { AdminRole, PimEligibility, ObjectIdentifier,
            TenantFlag(String::new()), SyncedFromOtherAnchor, FederatedDomain }),
        every!(
            "conflict reason",
            ConflictReason {
                InvalidSoftMatch,
                UpnConflict,
                ProxyAddressConflict,
                ImmutableIdHeldByOther,
                SyncCreatedDuplicate,
                QuarantinedAttribute,
                DuplicateSourceAnchor
            }
        ),
        every!(
            "soft-match attribute",
            SoftMatchAttribute {
                PrimarySmtp,
                UserPrincipalName
            }
        ),
        every!(
            "tenant finding",
            TenantFindingKind {
                Orphan,
                SyncCreatedDuplicate,
                TakeoverAddressLoss
            }
        ),
        every!(
            "hygiene finding",
            HygieneKind {
                DuplicateUserPrincipalName,
                DuplicateSmtpAddress,
                DuplicateSourceAnchor,
                InvalidCharacters,
                UnverifiedUpnSuffix,
                MissingUserPrincipalName
            }
        ),
    ]
    .concat();
    let mut missing = Vec::new();
    for (what, name) in &names {
        let name = name.as_deref().unwrap();
        if !has_entry(name) {
            missing.push(format!("{what} `{name}`"));
        }
    }
    assert!(
        missing.is_empty(),
        "docs/TROUBLESHOOTING.md has no heading for: {}",
        missing.join(", ")
    );
    // The check itself must see the page: a heading that is there is found.
    assert!(has_entry("linked"));
    assert!(!has_entry("not_a_status"));
}
