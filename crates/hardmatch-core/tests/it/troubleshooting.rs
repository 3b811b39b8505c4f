//! docs/TROUBLESHOOTING.md is where `hardmatch status` sends people: every status and
//! reason the diagnosis can report must have its entry there, under its serialized name.

use hardmatch_core::diagnose::{
    BlockReason, ConflictReason, HygieneKind, Status, TenantFindingKind,
};
use hardmatch_core::sync::SoftMatchAttribute;
use serde::Serialize;

const TROUBLESHOOTING: &str = include_str!("../../../../docs/TROUBLESHOOTING.md");

/// Every value of each enum. The matches have no wildcard arm, so a new variant does not
/// compile until it is listed here, and then this test asks for its entry in the page.
fn every_block_reason() -> Vec<BlockReason> {
    let all = vec![
        BlockReason::AdminRole,
        BlockReason::PimEligibility,
        BlockReason::ObjectIdentifier,
        BlockReason::TenantFlag(String::new()),
        BlockReason::SyncedFromOtherAnchor,
        BlockReason::FederatedDomain,
    ];
    for reason in &all {
        match reason {
            BlockReason::AdminRole
            | BlockReason::PimEligibility
            | BlockReason::ObjectIdentifier
            | BlockReason::TenantFlag(_)
            | BlockReason::SyncedFromOtherAnchor
            | BlockReason::FederatedDomain => {}
        }
    }
    all
}

fn every_conflict_reason() -> Vec<ConflictReason> {
    let all = vec![
        ConflictReason::InvalidSoftMatch,
        ConflictReason::UpnConflict,
        ConflictReason::ProxyAddressConflict,
        ConflictReason::ImmutableIdHeldByOther,
        ConflictReason::SyncCreatedDuplicate,
        ConflictReason::QuarantinedAttribute,
        ConflictReason::DuplicateSourceAnchor,
    ];
    for reason in &all {
        match reason {
            ConflictReason::InvalidSoftMatch
            | ConflictReason::UpnConflict
            | ConflictReason::ProxyAddressConflict
            | ConflictReason::ImmutableIdHeldByOther
            | ConflictReason::SyncCreatedDuplicate
            | ConflictReason::QuarantinedAttribute
            | ConflictReason::DuplicateSourceAnchor => {}
        }
    }
    all
}

fn every_soft_match_attribute() -> Vec<SoftMatchAttribute> {
    let all = vec![
        SoftMatchAttribute::PrimarySmtp,
        SoftMatchAttribute::UserPrincipalName,
    ];
    for attribute in &all {
        match attribute {
            SoftMatchAttribute::PrimarySmtp | SoftMatchAttribute::UserPrincipalName => {}
        }
    }
    all
}

fn every_tenant_finding() -> Vec<TenantFindingKind> {
    let all = vec![
        TenantFindingKind::Orphan,
        TenantFindingKind::SyncCreatedDuplicate,
        TenantFindingKind::TakeoverAddressLoss,
    ];
    for kind in &all {
        match kind {
            TenantFindingKind::Orphan
            | TenantFindingKind::SyncCreatedDuplicate
            | TenantFindingKind::TakeoverAddressLoss => {}
        }
    }
    all
}

fn every_hygiene_kind() -> Vec<HygieneKind> {
    let all = vec![
        HygieneKind::DuplicateUserPrincipalName,
        HygieneKind::DuplicateSmtpAddress,
        HygieneKind::DuplicateSourceAnchor,
        HygieneKind::InvalidCharacters,
        HygieneKind::UnverifiedUpnSuffix,
        HygieneKind::MissingUserPrincipalName,
    ];
    for kind in &all {
        match kind {
            HygieneKind::DuplicateUserPrincipalName
            | HygieneKind::DuplicateSmtpAddress
            | HygieneKind::DuplicateSourceAnchor
            | HygieneKind::InvalidCharacters
            | HygieneKind::UnverifiedUpnSuffix
            | HygieneKind::MissingUserPrincipalName => {}
        }
    }
    all
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
    let mut names: Vec<(&str, Option<String>)> = Status::NAMES
        .iter()
        .map(|name| ("status", Some((*name).to_owned())))
        .collect();
    names.extend(
        every_block_reason()
            .iter()
            .map(|reason| ("block reason", serialized_name(reason))),
    );
    names.extend(
        every_conflict_reason()
            .iter()
            .map(|reason| ("conflict reason", serialized_name(reason))),
    );
    names.extend(
        every_soft_match_attribute()
            .iter()
            .map(|attribute| ("soft-match attribute", serialized_name(attribute))),
    );
    names.extend(
        every_tenant_finding()
            .iter()
            .map(|kind| ("tenant finding", serialized_name(kind))),
    );
    names.extend(
        every_hygiene_kind()
            .iter()
            .map(|kind| ("hygiene finding", serialized_name(kind))),
    );
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
