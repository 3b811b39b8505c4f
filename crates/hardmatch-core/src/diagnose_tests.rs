//! Statuses, findings and hygiene checks, each citing the reference section behind it.

use super::*;
use crate::anchor::ImmutableId;
use crate::sync::run_sync_cycle_with;
use crate::tenant::{TenantSnapshot, TenantSnapshotSource};
use crate::testing::*;

fn snapshot(world: &World) -> TenantSnapshot {
    TenantSnapshot {
        format_version: 1,
        source: TenantSnapshotSource {
            kind: "fixture".into(),
            location: "test".into(),
        },
        taken_at: NOW.into(),
        tenant: world.tenant.clone(),
        users: world.cloud.clone(),
        role_definitions: Vec::new(),
        role_assignments: world.roles.clone(),
        role_eligibilities: world.eligible.clone(),
    }
}

fn diagnosed<'a>(world: &'a World, tenant: &'a TenantSnapshot) -> Diagnosis<'a> {
    diagnose(
        &world.ad,
        tenant,
        &DiagnoseOptions {
            scope: world.scope.clone(),
            sync: world.options.clone(),
            connector_space: None,
            ..DiagnoseOptions::default()
        },
    )
}

fn status(world: &World) -> Status {
    diagnosed(world, &snapshot(world)).users[0].status.clone()
}

#[test]
fn linked_will_hard_match_will_soft_match_and_will_create() {
    // entra-matching.md §1 (synced), §4.1, §4.2, §4.3.
    let ad = with_mail(ad_user(1, "adele@contoso.com"), "adele@contoso.com");
    let linked = World::new(
        vec![ad.clone()],
        vec![synced_from("c1", "adele@contoso.com", &ad)],
    );
    assert_eq!(status(&linked), Status::Linked);

    let mut target = cloud_user("c1", "a@contoso.com");
    target.on_premises_immutable_id = Some(ad.immutable_id.clone());
    assert_eq!(
        status(&World::new(vec![ad.clone()], vec![target])),
        Status::WillHardMatch
    );

    let soft = World::new(
        vec![ad.clone()],
        vec![cloud_with_mail(
            cloud_user("c1", "x@contoso.com"),
            "adele@contoso.com",
        )],
    );
    assert_eq!(
        status(&soft),
        Status::WillSoftMatch {
            attribute: SoftMatchAttribute::PrimarySmtp
        }
    );
    assert_eq!(status(&World::new(vec![ad], vec![])), Status::WillCreate);
}

#[test]
fn blocked_statuses_name_their_reason() {
    // entra-matching.md §4 (admin role), §7 (flags), §8 (hardening), §9 (federated).
    let ad = with_mail(ad_user(1, "adele@contoso.com"), "adele@contoso.com");
    let mut holder = cloud_user("c1", "a@contoso.com");
    holder.on_premises_immutable_id = Some(ad.immutable_id.clone());
    let hard = World::new(vec![ad.clone()], vec![holder]);

    let mut world = hard.clone();
    world.roles.push(role("c1"));
    assert_eq!(
        status(&world),
        Status::Blocked {
            reason: BlockReason::AdminRole
        }
    );
    let mut world = hard.clone();
    world.eligible.push(role("c1"));
    assert_eq!(
        status(&world),
        Status::Blocked {
            reason: BlockReason::PimEligibility
        }
    );
    let mut world = hard.clone();
    world.cloud[0].on_premises_object_identifier = Some("other".into());
    assert_eq!(
        status(&world),
        Status::Blocked {
            reason: BlockReason::ObjectIdentifier
        }
    );
    let mut world = hard;
    world
        .features()
        .block_cloud_object_takeover_through_hard_match_enabled = true;
    assert_eq!(
        status(&world),
        Status::Blocked {
            reason: BlockReason::TenantFlag(
                "blockCloudObjectTakeoverThroughHardMatchEnabled".into()
            )
        }
    );

    let soft = World::new(
        vec![ad.clone()],
        vec![cloud_with_mail(
            cloud_user("c1", "x@contoso.com"),
            "adele@contoso.com",
        )],
    );
    let mut world = soft.clone();
    world.features().block_soft_match_enabled = true;
    assert_eq!(
        status(&world),
        Status::Blocked {
            reason: BlockReason::TenantFlag("blockSoftMatchEnabled".into())
        }
    );
    let mut world = soft.clone();
    world.cloud[0].on_premises_immutable_id =
        Some(ImmutableId::from_text("b3RoZXIgdmFsdWUgaGVyZSE="));
    world.cloud[0].on_premises_sync_enabled = Some(true);
    assert_eq!(
        status(&world),
        Status::Blocked {
            reason: BlockReason::SyncedFromOtherAnchor
        }
    );
    let mut world = soft;
    world.cloud[0].user_principal_name = "x@fabrikam.com".into();
    world.tenant.domains.push(crate::tenant::Domain {
        id: "fabrikam.com".into(),
        authentication_type: "Federated".into(),
        is_default: false,
        is_initial: false,
        is_verified: true,
    });
    assert_eq!(
        status(&world),
        Status::Blocked {
            reason: BlockReason::FederatedDomain
        }
    );
}

#[test]
fn conflicting_statuses_name_their_reason() {
    // entra-matching.md §5 (InvalidSoftMatch), §6 (quarantine), §12 (holders in the recycle bin).
    let ad = with_mail(ad_user(1, "adele@contoso.com"), "adele@contoso.com");
    let mut other = cloud_with_mail(cloud_user("c1", "x@contoso.com"), "adele@contoso.com");
    other.on_premises_immutable_id = Some(ImmutableId::from_text("b3RoZXIgdmFsdWUgaGVyZSE="));
    assert_eq!(
        status(&World::new(vec![ad.clone()], vec![other])),
        Status::Conflicting {
            reason: ConflictReason::InvalidSoftMatch
        }
    );

    let world = World::new(
        vec![ad_user(1, "adele@contoso.com")],
        vec![cloud_user("c1", "adele@contoso.com")],
    );
    assert_eq!(
        status(&world),
        Status::Conflicting {
            reason: ConflictReason::UpnConflict
        }
    );
    let mut world = World::new(
        vec![with_mail(ad_user(1, "adele@contoso.com"), "x@contoso.com")],
        vec![cloud_with_mail(
            cloud_user("c1", "y@contoso.com"),
            "x@contoso.com",
        )],
    );
    world.features().block_soft_match_enabled = true;
    world.cloud[0].display_name = None;
    let tenant = snapshot(&world);
    let diagnosis = diagnosed(&world, &tenant);
    assert!(matches!(diagnosis.users[0].status, Status::Blocked { .. }));
    world.features().block_soft_match_enabled = false;
    world.cloud[0].user_principal_name = "z@contoso.com".into();
    world.ad[0].mail = Some("other@contoso.com".into());
    world.ad[0].proxy_addresses =
        vec!["SMTP:other@contoso.com".into(), "smtp:x@contoso.com".into()];
    assert_eq!(
        status(&world),
        Status::Conflicting {
            reason: ConflictReason::ProxyAddressConflict
        }
    );

    // Linked, but the real account was stamped too: setting it does nothing (§4).
    let mut stamped = licensed(cloud_user("real", "adele@contoso.com"));
    stamped.on_premises_immutable_id = Some(ad.immutable_id.clone());
    stamped.deleted_date_time = Some(NOW.into());
    let world = World::new(
        vec![ad.clone()],
        vec![synced_from("c1", "adele.v@contoso.com", &ad), stamped],
    );
    assert_eq!(
        status(&world),
        Status::Conflicting {
            reason: ConflictReason::ImmutableIdHeldByOther
        }
    );

    let mut quarantined = synced_from("c1", "adele@contoso.com", &ad);
    quarantined
        .on_premises_provisioning_errors
        .push(crate::tenant::OnPremisesProvisioningError {
            category: Some("PropertyConflict".into()),
            occurred_date_time: None,
            property_causing_error: Some("ProxyAddress".into()),
            value: Some("smtp:x@contoso.com".into()),
        });
    assert_eq!(
        status(&World::new(vec![ad.clone()], vec![quarantined])),
        Status::Conflicting {
            reason: ConflictReason::QuarantinedAttribute
        }
    );

    let mut world = World::new(vec![ad.clone(), ad.clone()], vec![]);
    world.ad[1].distinguished_name = "CN=copy,OU=Staff,DC=corp,DC=contoso,DC=com".into();
    let tenant = snapshot(&world);
    let diagnosis = diagnosed(&world, &tenant);
    assert_eq!(
        diagnosis.users[1].status,
        Status::Conflicting {
            reason: ConflictReason::DuplicateSourceAnchor
        }
    );
    assert!(
        diagnosis
            .hygiene
            .iter()
            .any(|finding| finding.kind == HygieneKind::DuplicateSourceAnchor)
    );
}

#[test]
fn field_story_duplicate_is_found_with_the_real_account() {
    // entra-matching.md §6 (quarantined duplicates), §15 A 4 and 6, §11 (address loss).
    let ad = with_mail(ad_user(1, "adele@corp.local"), "adele@contoso.com");
    let mut real = licensed(cloud_with_mail(
        cloud_user("real", "adele@contoso.com"),
        "adele@contoso.com",
    ));
    real.proxy_addresses
        .push("smtp:adele.vance@contoso.com".into());
    let duplicate = synced_from("dup", "adele@contoso.onmicrosoft.com", &ad);
    let world = World::new(vec![ad], vec![real, duplicate]);
    let tenant = snapshot(&world);
    let diagnosis = diagnosed(&world, &tenant);
    let user = &diagnosis.users[0];
    assert_eq!(
        user.status,
        Status::Conflicting {
            reason: ConflictReason::SyncCreatedDuplicate
        }
    );
    assert_eq!(user.cloud_user_id(), Some("real"));
    let kinds: Vec<_> = diagnosis
        .tenant_findings
        .iter()
        .map(|finding| finding.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            TenantFindingKind::SyncCreatedDuplicate,
            TenantFindingKind::TakeoverAddressLoss
        ]
    );
    assert_eq!(
        diagnosis.tenant_findings[1].addresses,
        ["adele.vance@contoso.com"]
    );
    assert_eq!(diagnosis.summary["conflicting"], 1);
    // The AD suffix is the root cause: hygiene says so (§15 A, "align UPN suffixes").
    assert!(
        diagnosis
            .hygiene
            .iter()
            .any(|finding| finding.kind == HygieneKind::UnverifiedUpnSuffix
                && finding.value == "corp.local")
    );
}

#[test]
fn out_of_scope_users_and_orphans() {
    // entra-matching.md §12 (removed from scope), §15 A 4 (all other holders).
    let ad = ad_user(1, "adele@contoso.com");
    let mut world = World::new(
        vec![ad],
        vec![synced_from(
            "gone",
            "gone@contoso.com",
            &ad_user(7, "gone@contoso.com"),
        )],
    );
    world.scope = SyncScope::OrganizationalUnits {
        include: vec!["OU=Other,DC=corp,DC=contoso,DC=com".into()],
        exclude: vec![],
    };
    let tenant = snapshot(&world);
    let diagnosis = diagnosed(&world, &tenant);
    assert_eq!(diagnosis.users[0].status, Status::OutOfScope);
    assert_eq!(diagnosis.tenant_findings[0].kind, TenantFindingKind::Orphan);
    assert_eq!(diagnosis.tenant_findings[0].cloud_user_id, "gone");
}

#[test]
fn hygiene_finds_duplicates_and_bad_characters_in_ad() {
    // IdFix checks (anchors.md §1): duplicates of UPN, mail, proxyAddresses; characters.
    let first = with_mail(ad_user(1, "a b@contoso.com"), "shared@contoso.com");
    let mut second = with_mail(ad_user(2, "A B@contoso.com"), "shared@contoso.com");
    second.distinguished_name = "CN=second,OU=Staff,DC=corp,DC=contoso,DC=com".into();
    let findings = hygiene(&[first, second], &tenant());
    let kinds: Vec<_> = findings.iter().map(|finding| finding.kind).collect();
    assert!(kinds.contains(&HygieneKind::InvalidCharacters));
    assert!(kinds.contains(&HygieneKind::DuplicateUserPrincipalName));
    assert!(kinds.contains(&HygieneKind::DuplicateSmtpAddress));
}

#[test]
fn diagnosis_serializes_status_inline() {
    let world = World::new(vec![ad_user(1, "adele@contoso.com")], vec![]);
    let json = serde_json::to_value(diagnosed(&world, &snapshot(&world))).unwrap();
    assert_eq!(json["users"][0]["status"], "will_create");
    assert_eq!(json["summary"]["will_create"], 1);
    assert_eq!(
        json["predicted_sync"]["creations"][0]["user_principal_name"],
        "adele@contoso.com"
    );
}

#[test]
fn field_story_diagnosis_as_json() {
    // The `status --json` shape (issue 6 "Snapshot tests (insta) cover status").
    let ad = with_mail(ad_user(1, "adele@corp.local"), "adele@contoso.com");
    let real = licensed(cloud_with_mail(
        cloud_user("real", "adele@contoso.com"),
        "adele@contoso.com",
    ));
    let duplicate = synced_from("dup", "adele@contoso.onmicrosoft.com", &ad);
    let world = World::new(vec![ad], vec![real, duplicate]);
    insta::assert_json_snapshot!(
        "field_story_diagnosis",
        diagnosed(&world, &snapshot(&world))
    );
}

#[test]
fn a_shared_index_gives_the_diagnosis_a_fresh_one_gives_and_a_foreign_one_is_not_used() {
    let ad = with_mail(ad_user(1, "adele@contoso.com"), "adele@contoso.com");
    let world = World::new(
        vec![ad.clone(), ad_user(2, "bob@contoso.com")],
        vec![
            cloud_with_mail(cloud_user("c1", "x@contoso.com"), "adele@contoso.com"),
            cloud_user("c2", "bob@contoso.com"),
        ],
    );
    let tenant = snapshot(&world);
    let options = DiagnoseOptions::default();
    let fresh = diagnose(&world.ad, &tenant, &options);
    assert!(matches!(
        fresh.users[0].status,
        Status::WillSoftMatch { .. }
    ));
    let shared = CloudIndex::of(&tenant);
    assert_eq!(diagnose_with(&world.ad, &tenant, &shared, &options), fresh);
    // An index of another tenant (here: empty) would find no candidate at all.
    let mut other = snapshot(&world);
    other.users.clear();
    let foreign = CloudIndex::of(&other);
    assert_eq!(diagnose_with(&world.ad, &tenant, &foreign, &options), fresh);
}

#[test]
fn a_cloud_user_described_in_evidence_reads_and_serializes_as_one_text() {
    let mut user = licensed(cloud_with_mail(
        cloud_user("real", "adele@contoso.com"),
        "adele@contoso.com",
    ));
    user.on_premises_sync_enabled = Some(false);
    user.on_premises_immutable_id = Some(ImmutableId::from_text("AQEBAQEBAQEBAQEBAQEBAQ=="));
    let detail = |lead| EvidenceDetail::CloudUser {
        lead,
        user: &user,
        admin_role: true,
        pim_eligible: true,
    };
    let description = "adele@contoso.com, formerly synced, ImmutableID AQEBAQEBAQEBAQEBAQEBAQ==, \
                       1 licence(s), mailbox, admin role, PIM-eligible";
    for (lead, expected) in [
        (Lead::Bare, description.to_owned()),
        (
            Lead::Same(SoftMatchAttribute::PrimarySmtp),
            format!("same primary SMTP address: {description}"),
        ),
        (
            Lead::Refused(
                SyncErrorKind::InvalidSoftMatch,
                SoftMatchAttribute::PrimarySmtp,
            ),
            format!("InvalidSoftMatch: same primary SMTP address: {description}"),
        ),
        (
            Lead::Shares("mail"),
            format!("shares the mail: {description}"),
        ),
        (
            Lead::Restores,
            format!("the next sync restores {description} from the recycle bin"),
        ),
    ] {
        let detail = detail(lead);
        assert_eq!(detail.to_string(), expected);
        assert_eq!(detail.text(), expected);
        assert_eq!(serde_json::to_value(&detail).unwrap(), expected.as_str());
    }
    let held = EvidenceDetail::Text("a phrase".to_owned());
    assert!(matches!(
        held.text(),
        std::borrow::Cow::Borrowed("a phrase")
    ));
}

#[test]
fn a_tenant_finding_reads_and_serializes_its_detail_as_one_text() {
    let real = licensed(cloud_user("real", "adele@contoso.com"));
    let dn = "CN=Adele,OU=Staff,DC=corp,DC=contoso,DC=com";
    for (detail, expected) in [
        (
            FindingDetail::CreatedFor {
                distinguished_name: dn,
                real_account: EvidenceDetail::CloudUser {
                    lead: Lead::Bare,
                    user: &real,
                    admin_role: false,
                    pim_eligible: false,
                },
            },
            format!(
                "created by the sync for {dn}; the real account is adele@contoso.com, cloud-only, 1 licence(s)"
            ),
        ),
        (
            FindingDetail::TakeoverBy {
                distinguished_name: dn,
            },
            format!(
                "a takeover by {dn} replaces mail and proxyAddresses with AD's values; copy these addresses to AD first"
            ),
        ),
        (
            FindingDetail::NoAdObject {
                anchor: "AQEBAQEBAQEBAQEBAQEBAQ==",
                deleted: true,
            },
            "holds ImmutableID AQEBAQEBAQEBAQEBAQEBAQ== that no AD object has (in the recycle bin)"
                .to_owned(),
        ),
    ] {
        assert_eq!(detail.to_string(), expected);
        assert_eq!(serde_json::to_value(&detail).unwrap(), expected.as_str());
    }
}

#[test]
fn statuses_made_a_few_users_at_a_time_are_those_made_all_at_once() {
    let mut ad = Vec::new();
    let mut cloud = Vec::new();
    for seed in 1..=7u8 {
        let upn = format!("user{seed}@contoso.com");
        ad.push(with_mail(ad_user(seed, &upn), &upn));
        if seed % 2 == 0 {
            cloud.push(licensed(cloud_user(&format!("c{seed}"), &upn)));
        }
    }
    let world = World::new(ad, cloud);
    let tenant = snapshot(&world);
    let index = CloudIndex::of(&tenant);
    let input = SyncCycleInput {
        ad_users: &world.ad,
        scope: &world.scope,
        tenant: &tenant.tenant,
        cloud_users: &tenant.users,
        role_assignments: &tenant.role_assignments,
        role_eligibilities: &tenant.role_eligibilities,
        connector_space: &world.connector_space,
        options: &world.options,
        now: NOW,
    };
    let outcome = run_sync_cycle_with(
        &input,
        &index,
        JoinSource::Inferred,
        Operations::Skip,
        SyncReportDetail::Summary,
    );
    let context = Context {
        tenant: &tenant.tenant,
        cloud: &tenant.users,
        index: &index,
        block_soft_match: false,
    };
    let whole = context.statuses_in_blocks(&world.ad, &outcome.decisions, world.ad.len());
    // More than one status among them, so that a block boundary can move a difference.
    let kinds: std::collections::BTreeSet<usize> = whole
        .users
        .iter()
        .map(|user| user.status.position())
        .collect();
    assert!(whole.users.len() == 7 && kinds.len() > 1, "{kinds:?}");
    for block in [0, 1, 2, 3] {
        let blocks = context.statuses_in_blocks(&world.ad, &outcome.decisions, block);
        assert!(blocks.users == whole.users, "{block}");
        assert_eq!(blocks.counts, whole.counts, "{block}");
        assert!(blocks.tenant_findings == whole.tenant_findings, "{block}");
    }
}

#[test]
fn findings_sort_by_kind_and_id_keeping_the_order_of_equal_ones() {
    let kinds = [
        TenantFindingKind::TakeoverAddressLoss,
        TenantFindingKind::Orphan,
        TenantFindingKind::SyncCreatedDuplicate,
    ];
    let ids: Vec<String> = (0..97).map(|number| format!("id-{number:02}")).collect();
    let names: Vec<String> = (0..40_000).map(|number| format!("DN {number}")).collect();
    // Enough findings for the halves to be sorted on two cores, with many equal keys, each
    // told apart by the DN it names.
    let findings: Vec<TenantFinding<'_>> = names
        .iter()
        .enumerate()
        .map(|(number, name)| TenantFinding {
            kind: kinds[number * 7 % 3],
            cloud_user_id: &ids[number * 31 % ids.len()],
            user_principal_name: "",
            related_cloud_user_id: None,
            addresses: Vec::new(),
            detail: FindingDetail::TakeoverBy {
                distinguished_name: name,
            },
        })
        .collect();
    let mut expected = findings.clone();
    expected.sort_by(|left, right| {
        (left.kind, &left.cloud_user_id).cmp(&(right.kind, &right.cloud_user_id))
    });
    let mut sorted = findings;
    sort_findings(&mut sorted);
    assert!(sorted == expected);
    assert_eq!(sorted[0].kind, TenantFindingKind::Orphan);
}
