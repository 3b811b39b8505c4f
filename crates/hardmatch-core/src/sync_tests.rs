//! Every rule of the cycle, each test citing the `entra-matching.md` section it checks.

use super::*;
use crate::anchor::ImmutableId;
use crate::testing::*;

fn decision(outcome: &SyncCycleOutcome, position: usize) -> &UserDecision {
    &outcome.decisions[position].decision
}

fn codes(outcome: &SyncCycleOutcome) -> Vec<&str> {
    outcome
        .report
        .errors
        .iter()
        .map(|error| error.code.as_str())
        .collect()
}

#[test]
fn hard_match_on_the_immutable_id_takes_the_cloud_user_over() {
    // entra-matching.md §4.1 (hard match), §11 (takeover overwrites mail, proxyAddresses, name).
    let ad = with_mail(ad_user(1, "adele@contoso.com"), "adele@contoso.com");
    let mut target = cloud_with_mail(cloud_user("c1", "adele.v@contoso.com"), "av@contoso.com");
    target.on_premises_immutable_id = Some(ad.immutable_id.clone());
    let mut world = World::new(vec![ad], vec![target]);
    let outcome = world.sync();
    assert_eq!(
        decision(&outcome, 0),
        &UserDecision::HardMatched {
            cloud_index: 0,
            restored: false
        }
    );
    assert_eq!(outcome.report.joins[0].match_kind, MatchKind::HardMatch);
    let user = world.cloud_by_id("c1").unwrap();
    assert_eq!(user.user_principal_name, "adele@contoso.com");
    assert_eq!(user.mail.as_deref(), Some("adele@contoso.com"));
    assert_eq!(user.proxy_addresses, ["SMTP:adele@contoso.com"]);
    assert_eq!(user.display_name.as_deref(), Some("adele (AD)"));
    // §15 E: the linked user is synced, with a fresh last-sync time.
    assert_eq!(user.on_premises_sync_enabled, Some(true));
    assert_eq!(user.on_premises_last_sync_date_time.as_deref(), Some(NOW));
    assert_eq!(world.connector_space.joins.len(), 1);
}

#[test]
fn hard_match_compares_the_immutable_id_case_sensitively() {
    // entra-matching.md §1 ("Case-sensitive"), §2 ("Compare byte-exactly").
    let ad = ad_user(1, "adele@contoso.com");
    let mut target = cloud_user("c1", "someone@contoso.com");
    target.on_premises_immutable_id = Some(ImmutableId::from_text(
        ad.immutable_id.as_str().to_ascii_lowercase(),
    ));
    let outcome = World::new(vec![ad], vec![target]).run();
    assert!(matches!(
        decision(&outcome, 0),
        UserDecision::Created { .. }
    ));
}

#[test]
fn soft_match_on_primary_smtp_stamps_the_anchor() {
    // entra-matching.md §4.2 (primary SMTP), §4 ("After a soft match the anchor is stamped").
    let ad = with_mail(ad_user(1, "adele@contoso.com"), "adele@contoso.com");
    let target = cloud_with_mail(cloud_user("c1", "other@contoso.com"), "adele@contoso.com");
    let mut world = World::new(vec![ad.clone()], vec![target]);
    let outcome = world.sync();
    assert_eq!(
        decision(&outcome, 0),
        &UserDecision::SoftMatched {
            cloud_index: 0,
            attribute: SoftMatchAttribute::PrimarySmtp
        }
    );
    assert_eq!(
        world.cloud_by_id("c1").unwrap().on_premises_immutable_id,
        Some(ad.immutable_id)
    );
}

#[test]
fn soft_match_on_upn_needs_the_tenant_flag() {
    // entra-matching.md §4.2 and §7 (softMatchOnUpnEnabled).
    let ad = ad_user(1, "adele@contoso.com");
    let target = cloud_user("c1", "Adele@Contoso.com");
    let mut world = World::new(vec![ad], vec![target]);
    let outcome = world.run();
    // Without the flag the UPN collides and resiliency gives the new user a placeholder.
    assert!(matches!(
        decision(&outcome, 0),
        UserDecision::Created { .. }
    ));
    world.features().soft_match_on_upn_enabled = true;
    let outcome = world.run();
    assert_eq!(
        decision(&outcome, 0),
        &UserDecision::SoftMatched {
            cloud_index: 0,
            attribute: SoftMatchAttribute::UserPrincipalName
        }
    );
}

#[test]
fn soft_match_tries_primary_smtp_before_upn() {
    // entra-matching.md §4.2 ("soft match tries primary SMTP first, then UPN").
    let ad = with_mail(ad_user(1, "adele@contoso.com"), "av@contoso.com");
    let by_upn = cloud_user("c-upn", "adele@contoso.com");
    let by_smtp = cloud_with_mail(cloud_user("c-smtp", "x@contoso.com"), "av@contoso.com");
    let mut world = World::new(vec![ad], vec![by_upn, by_smtp]);
    world.features().soft_match_on_upn_enabled = true;
    let outcome = world.run();
    assert_eq!(
        decision(&outcome, 0),
        &UserDecision::SoftMatched {
            cloud_index: 1,
            attribute: SoftMatchAttribute::PrimarySmtp
        }
    );
}

#[test]
fn block_soft_match_enabled_creates_a_new_user_instead() {
    // entra-matching.md §7 (blockSoftMatchEnabled), §4.3 (otherwise a new object).
    let ad = with_mail(ad_user(1, "adele@contoso.com"), "adele@contoso.com");
    let target = cloud_with_mail(cloud_user("c1", "other@contoso.com"), "adele@contoso.com");
    let mut world = World::new(vec![ad], vec![target]);
    world.features().block_soft_match_enabled = true;
    let outcome = world.run();
    let UserDecision::Created {
        quarantined,
        refused,
    } = decision(&outcome, 0)
    else {
        panic!("expected a creation, got {:?}", decision(&outcome, 0));
    };
    assert!(refused.is_none());
    assert_eq!(quarantined[0].property, ConflictProperty::ProxyAddress);
}

#[test]
fn invalid_soft_match_is_hidden_by_resiliency_and_creates_a_duplicate() {
    // entra-matching.md §5 (InvalidSoftMatch, "hidden while resiliency quarantines"), §6.
    let ad = with_mail(ad_user(1, "adele@contoso.com"), "adele@contoso.com");
    let mut target = cloud_with_mail(cloud_user("c1", "other@contoso.com"), "adele@contoso.com");
    target.on_premises_immutable_id = Some(ImmutableId::from_text("c29tZXRoaW5nIGVsc2UhIQ=="));
    let mut world = World::new(vec![ad], vec![target]);
    let outcome = world.sync();
    let UserDecision::Created { refused, .. } = decision(&outcome, 0) else {
        panic!("expected a creation");
    };
    assert_eq!(refused.unwrap().error, SyncErrorKind::InvalidSoftMatch);
    assert_eq!(codes(&outcome), ["InvalidSoftMatch"]);
    assert_eq!(outcome.report.errors[0].outcome, "created-with-quarantine");
    let created = world.cloud.last().unwrap();
    assert!(created.proxy_addresses.is_empty());
    assert_eq!(
        created.on_premises_provisioning_errors[0]
            .property_causing_error
            .as_deref(),
        Some("ProxyAddress")
    );
}

#[test]
fn invalid_soft_match_without_resiliency_exports_nothing() {
    // entra-matching.md §5 (InvalidSoftMatch), §7 (quarantineUponProxyAddressesConflictEnabled).
    let ad = with_mail(ad_user(1, "adele@contoso.com"), "adele@contoso.com");
    let mut target = cloud_with_mail(cloud_user("c1", "other@contoso.com"), "adele@contoso.com");
    target.on_premises_immutable_id = Some(ImmutableId::from_text("c29tZXRoaW5nIGVsc2UhIQ=="));
    let mut world = World::new(vec![ad], vec![target]);
    world
        .features()
        .quarantine_upon_proxy_addresses_conflict_enabled = false;
    let outcome = world.run();
    assert!(matches!(
        decision(&outcome, 0),
        UserDecision::Failed {
            error: SyncErrorKind::InvalidSoftMatch,
            ..
        }
    ));
    assert!(outcome.operations.is_empty());
    assert_eq!(outcome.report.status, SyncRunStatus::CompletedExportErrors);
}

#[test]
fn soft_match_onto_an_admin_is_an_existing_admin_role_conflict() {
    // entra-matching.md §4 ("won't match ... cloud users that have an admin role"), §5.
    let ad = with_mail(ad_user(1, "adele@contoso.com"), "adele@contoso.com");
    let target = cloud_with_mail(cloud_user("c1", "other@contoso.com"), "adele@contoso.com");
    let mut world = World::new(vec![ad], vec![target]);
    world.roles.push(role("c1"));
    let outcome = world.run();
    assert_eq!(codes(&outcome), ["Existing Admin Role Conflict"]);
    // Cloud Sync reports the misleading uniqueness message instead (§4).
    world.options.engine = SyncEngine::CloudSync;
    let outcome = world.run();
    assert!(outcome.report.errors[0].message.contains("uniqueness"));
}

#[test]
fn soft_match_onto_a_federated_upn_is_refused() {
    // entra-matching.md §9 (reported: no soft match for federated cloud accounts).
    let ad = with_mail(ad_user(1, "adele@fabrikam.com"), "adele@contoso.com");
    let target = cloud_with_mail(cloud_user("c1", "adele@fabrikam.com"), "adele@contoso.com");
    let mut world = World::new(vec![ad], vec![target]);
    world.tenant.domains.push(crate::tenant::Domain {
        id: "fabrikam.com".into(),
        authentication_type: "Federated".into(),
        is_default: false,
        is_initial: false,
        is_verified: true,
    });
    let outcome = world.run();
    assert_eq!(codes(&outcome), ["FederatedDomainConflict"]);
}

#[test]
fn takeover_block_turns_a_hard_match_into_invalid_hard_match() {
    // entra-matching.md §5 (InvalidHardMatch), §7 (blockCloudObjectTakeoverThroughHardMatchEnabled).
    let ad = ad_user(1, "adele@contoso.com");
    let mut target = cloud_user("c1", "adele@contoso.com");
    target.on_premises_immutable_id = Some(ad.immutable_id.clone());
    let mut world = World::new(vec![ad.clone()], vec![target]);
    world
        .features()
        .block_cloud_object_takeover_through_hard_match_enabled = true;
    let outcome = world.run();
    assert_eq!(codes(&outcome), ["InvalidHardMatch"]);
    assert!(outcome.operations.is_empty());
    assert_eq!(
        outcome.report.errors[0].cloud_user_id.as_deref(),
        Some("c1")
    );
    // A synced target (a Connect reinstall) is no cloud object takeover.
    world.cloud[0].on_premises_sync_enabled = Some(true);
    let outcome = world.run();
    assert!(matches!(
        decision(&outcome, 0),
        UserDecision::HardMatched { .. }
    ));
}

#[test]
fn hardening_blocks_privileged_and_remapped_targets() {
    // entra-matching.md §8 (2026 hardening: identifier, assigned and PIM-eligible roles).
    let ad = ad_user(1, "adele@contoso.com");
    let mut target = cloud_user("c1", "adele@contoso.com");
    target.on_premises_immutable_id = Some(ad.immutable_id.clone());
    let base = World::new(vec![ad.clone()], vec![target]);

    let mut world = base.clone();
    world.roles.push(role("c1"));
    let outcome = world.run();
    assert!(
        outcome.report.errors[0]
            .message
            .starts_with("Hard match operation blocked due to security hardening.")
    );
    assert!(matches!(
        decision(&outcome, 0),
        UserDecision::Failed {
            error: SyncErrorKind::HardeningAssignedRole,
            ..
        }
    ));

    let mut world = base.clone();
    world.eligible.push(role("c1"));
    assert!(matches!(
        decision(&world.run(), 0),
        UserDecision::Failed {
            error: SyncErrorKind::HardeningEligibleRole,
            ..
        }
    ));

    let mut world = base.clone();
    world.cloud[0].on_premises_object_identifier =
        Some("11111111-2222-3333-4444-555555555555".into());
    assert!(matches!(
        decision(&world.run(), 0),
        UserDecision::Failed {
            error: SyncErrorKind::HardeningObjectIdentifier,
            ..
        }
    ));
    // The identifier of this very AD object is no remapping.
    world.cloud[0].on_premises_object_identifier =
        Some(ad.object_guid.to_string().to_uppercase().into());
    assert!(matches!(
        decision(&world.run(), 0),
        UserDecision::HardMatched { .. }
    ));

    // Switched off, the roles no longer block the hard match.
    let mut world = base;
    world.roles.push(role("c1"));
    world.options.hardening = HardeningOptions::off();
    assert!(matches!(
        decision(&world.run(), 0),
        UserDecision::HardMatched { .. }
    ));
}

#[test]
fn upn_conflict_gets_a_deterministic_placeholder() {
    // entra-matching.md §6 (`<prefix>+<4 digits>@<initial domain>`, onPremisesProvisioningErrors).
    let ad = ad_user(1, "adele@contoso.com");
    let holder = cloud_user("c1", "adele@contoso.com");
    let mut world = World::new(vec![ad.clone()], vec![holder]);
    let outcome = world.sync();
    let number = placeholder_number(&ad.immutable_id);
    let expected = format!("adele{number:04}@contoso.onmicrosoft.com");
    assert_eq!(outcome.report.creations[0].user_principal_name, expected);
    assert!(is_placeholder_upn(
        &expected,
        Some("contoso.onmicrosoft.com")
    ));
    let created = world.cloud.last().unwrap();
    assert_eq!(created.user_principal_name, expected);
    let error = &created.on_premises_provisioning_errors[0];
    assert_eq!(error.category.as_deref(), Some("PropertyConflict"));
    assert_eq!(
        error.property_causing_error.as_deref(),
        Some("UserPrincipalName")
    );
    assert_eq!(error.value.as_deref(), Some("adele@contoso.com"));
    assert_eq!(error.occurred_date_time.as_deref(), Some(NOW));
    // The same input yields the same placeholder: a prediction and the emulator agree.
    assert_eq!(
        World::new(vec![ad], vec![cloud_user("c1", "adele@contoso.com")]).run(),
        {
            let mut again = World::new(vec![], vec![]);
            again.ad = world.ad.clone();
            again.cloud = vec![cloud_user("c1", "adele@contoso.com")];
            again.run()
        }
    );
}

#[test]
fn upn_conflict_without_resiliency_is_attribute_value_must_be_unique() {
    // entra-matching.md §5 (AttributeValueMustBeUnique), §7 (quarantineUponUpnConflictEnabled).
    let mut world = World::new(
        vec![ad_user(1, "adele@contoso.com")],
        vec![cloud_user("c1", "adele@contoso.com")],
    );
    world.features().quarantine_upon_upn_conflict_enabled = false;
    let outcome = world.run();
    assert_eq!(codes(&outcome), ["AttributeValueMustBeUnique"]);
    assert_eq!(
        outcome.report.errors[0].property.as_deref(),
        Some("UserPrincipalName")
    );
}

#[test]
fn a_secondary_proxy_address_conflict_is_quarantined() {
    // entra-matching.md §6 (ProxyAddress "dropped into quarantine, object created without it").
    let mut ad = with_mail(ad_user(1, "adele@contoso.com"), "adele@contoso.com");
    ad.proxy_addresses.push("smtp:sales@contoso.com".into());
    let holder = cloud_with_mail(
        cloud_user("c1", "sales-box@contoso.com"),
        "sales@contoso.com",
    );
    let mut world = World::new(vec![ad], vec![holder]);
    world.sync();
    let created = world.cloud.last().unwrap();
    assert_eq!(created.proxy_addresses, ["SMTP:adele@contoso.com"]);
    assert_eq!(
        created.on_premises_provisioning_errors[0].value.as_deref(),
        Some("smtp:sales@contoso.com")
    );
}

#[test]
fn an_unverified_upn_suffix_becomes_the_initial_domain() {
    // entra-matching.md §15 A (align UPN suffixes), issue 4 ("a UPN suffix that is not a verified domain").
    let mut world = World::new(vec![ad_user(1, "adele@corp.local")], vec![]);
    let outcome = world.sync();
    assert_eq!(
        outcome.report.creations[0].user_principal_name,
        "adele@contoso.onmicrosoft.com"
    );
    let created = world.cloud.last().unwrap();
    assert_eq!(
        created.on_premises_user_principal_name.as_deref(),
        Some("adele@corp.local")
    );
    assert_eq!(created.id, "synced-1");
}

#[test]
fn a_made_up_upn_and_the_same_upn_from_ad_conflict_in_either_order() {
    // The initial-domain UPN made up for an unverified suffix is written like AD's own:
    // whichever of the two users exports second finds the value taken (in any ASCII case).
    for made_up_first in [true, false] {
        let made_up = ad_user(1, "adele@corp.local");
        let own = ad_user(2, "Adele@Contoso.onmicrosoft.com");
        let users = if made_up_first {
            vec![made_up, own]
        } else {
            vec![own, made_up]
        };
        let mut world = World::new(users, vec![]);
        let outcome = world.sync();
        let upns: Vec<&str> = outcome
            .report
            .creations
            .iter()
            .map(|creation| creation.user_principal_name.as_str())
            .collect();
        let second = &world.ad[1];
        let number = placeholder_number(&second.immutable_id);
        let (first_upn, second_prefix) = if made_up_first {
            ("adele@contoso.onmicrosoft.com", "Adele")
        } else {
            ("Adele@Contoso.onmicrosoft.com", "adele")
        };
        let placeholder = format!("{second_prefix}{number:04}@contoso.onmicrosoft.com");
        assert_eq!(upns, [first_upn, placeholder.as_str()], "{made_up_first}");
    }
}

#[test]
fn joined_objects_are_never_matched_again() {
    // entra-matching.md §4 ("The match is only evaluated for new objects").
    let ad = with_mail(ad_user(1, "adele@contoso.com"), "adele@contoso.com");
    let duplicate = synced_from("dup", "adele1234@contoso.onmicrosoft.com", &ad);
    // The real account now holds the anchor too, but the AD object stays joined to the duplicate.
    let mut real = licensed(cloud_user("real", "adele.real@contoso.com"));
    real.on_premises_immutable_id = Some(ImmutableId::from_text("b3RoZXIgdmFsdWUgaGVyZSE="));
    let world = World::new(vec![ad], vec![duplicate, real]).join(0, "dup");
    let outcome = world.run();
    assert!(matches!(
        decision(&outcome, 0),
        UserDecision::Joined { cloud_index: 0, .. }
    ));
    assert!(outcome.report.joins.is_empty());
}

#[test]
fn an_update_to_a_value_another_object_holds_is_quarantined() {
    // entra-matching.md §5 (AttributeValueMustBeUnique on update), §6 (resiliency on update).
    let mut ad = with_mail(ad_user(1, "adele@contoso.com"), "adele@contoso.com");
    let joined = CloudUser {
        proxy_addresses: ad.proxy_addresses.clone(),
        mail: ad.mail.clone(),
        ..synced_from("c1", "adele@contoso.com", &ad)
    };
    let other = cloud_with_mail(cloud_user("c2", "bob@contoso.com"), "bob@contoso.com");
    ad.proxy_addresses.push("smtp:bob@contoso.com".into());
    let mut world = World::new(vec![ad], vec![joined, other]).join(0, "c1");
    let outcome = world.sync();
    assert!(matches!(
        decision(&outcome, 0),
        UserDecision::Joined { changed: true, .. }
    ));
    let user = world.cloud_by_id("c1").unwrap();
    assert_eq!(user.proxy_addresses, ["SMTP:adele@contoso.com"]);
    assert_eq!(user.on_premises_provisioning_errors.len(), 1);
    // The next cycle changes nothing: the quarantine is recorded once.
    let outcome = world.sync();
    assert!(outcome.operations.is_empty(), "{:?}", outcome.operations);
}

#[test]
fn an_address_two_joined_users_add_goes_to_the_first_and_is_quarantined_for_the_second() {
    // entra-matching.md §6: no cloud user holds the address before the cycle, so only the
    // cycle's own writes can make it taken; the first user in AD order writes it.
    let shared = "smtp:team@contoso.com";
    let mut ad_users = Vec::new();
    let mut cloud_users = Vec::new();
    for (number, name) in [(1, "adele"), (2, "bob")] {
        let ad = with_mail(
            ad_user(number, &format!("{name}@contoso.com")),
            &format!("{name}@contoso.com"),
        );
        cloud_users.push(CloudUser {
            proxy_addresses: ad.proxy_addresses.clone(),
            mail: ad.mail.clone(),
            ..synced_from(&format!("c{number}"), &format!("{name}@contoso.com"), &ad)
        });
        let mut ad = ad;
        ad.proxy_addresses.push(shared.into());
        ad_users.push(ad);
    }
    let mut world = World::new(ad_users, cloud_users)
        .join(0, "c1")
        .join(1, "c2");
    world.sync();
    let first = world.cloud_by_id("c1").unwrap();
    assert_eq!(
        first.proxy_addresses,
        ["SMTP:adele@contoso.com", "smtp:team@contoso.com"]
    );
    assert!(first.on_premises_provisioning_errors.is_empty());
    let second = world.cloud_by_id("c2").unwrap();
    assert_eq!(second.proxy_addresses, ["SMTP:bob@contoso.com"]);
    assert_eq!(
        second.on_premises_provisioning_errors[0].value.as_deref(),
        Some(shared)
    );
}

#[test]
fn a_user_leaving_scope_is_soft_deleted() {
    // entra-matching.md §12 ("A synced user removed from scope is soft-deleted").
    let ad = ad_user(1, "adele@contoso.com");
    let joined = synced_from("c1", "adele@contoso.com", &ad);
    let mut world = World::new(vec![ad], vec![joined]).join(0, "c1");
    world.scope = SyncScope::OrganizationalUnits {
        include: vec!["OU=Synced,DC=corp,DC=contoso,DC=com".into()],
        exclude: vec![],
    };
    let outcome = world.sync();
    assert_eq!(decision(&outcome, 0), &UserDecision::OutOfScope);
    assert_eq!(outcome.report.deletions.len(), 1);
    let user = world.cloud_by_id("c1").unwrap();
    assert_eq!(user.deleted_date_time.as_deref(), Some(NOW));
    assert!(world.connector_space.joins.is_empty());
    // Back in scope within 30 days: hard-matched and restored (§12).
    world.scope = SyncScope::All;
    let outcome = world.sync();
    assert_eq!(
        decision(&outcome, 0),
        &UserDecision::HardMatched {
            cloud_index: 0,
            restored: true
        }
    );
    assert!(world.cloud_by_id("c1").unwrap().deleted_date_time.is_none());
}

#[test]
fn too_many_deletions_stop_the_whole_export() {
    // entra-matching.md §10 (more than the threshold: the export stops before deleting anything).
    let ads: Vec<_> = (1..=4)
        .map(|seed| ad_user(seed, &format!("u{seed}@contoso.com")))
        .collect();
    let clouds: Vec<_> = ads
        .iter()
        .enumerate()
        .map(|(position, ad)| {
            synced_from(
                &format!("c{position}"),
                &format!("u{position}@contoso.com"),
                ad,
            )
        })
        .collect();
    let mut world = World::new(ads, clouds);
    for position in 0..4 {
        world = world.join(position, &format!("c{position}"));
    }
    world.ad.push(ad_user(9, "new@contoso.com"));
    world.scope = SyncScope::Explicit {
        distinguished_names: vec![world.ad[4].distinguished_name.to_uppercase().to_string()],
    };
    world.options.deletion_threshold = Some(3);
    let outcome = world.run();
    assert_eq!(
        outcome.report.status,
        SyncRunStatus::StoppedDeletionThresholdExceeded
    );
    assert!(outcome.operations.is_empty());
    assert_eq!(codes(&outcome), ["stopped-deletion-threshold-exceeded"]);
    assert!(
        outcome
            .report
            .deletions
            .iter()
            .all(|deletion| !deletion.performed)
    );
    let json = serde_json::to_value(&outcome.report).unwrap();
    assert_eq!(json["status"], "stopped-deletion-threshold-exceeded");
    // At the threshold itself the deletions go ahead.
    world.options.deletion_threshold = Some(4);
    assert_eq!(world.run().report.status, SyncRunStatus::Success);
}

#[test]
fn field_story_purge_the_duplicate_then_set_the_id_links_the_licensed_account() {
    // entra-matching.md §15 C 9-10 and D 13-14; §4 (only new objects), §12 (recycle bin).
    let ad = with_mail(ad_user(1, "adele@corp.local"), "adele@contoso.com");
    let real = licensed(cloud_with_mail(
        cloud_user("real", "adele@contoso.com"),
        "adele@contoso.com",
    ));
    let mut world = World::new(vec![ad.clone()], vec![real]);
    world.features().block_soft_match_enabled = true;
    // 1. The first sync creates a duplicate on the initial domain.
    world.sync();
    let duplicate = world.cloud.last().unwrap().clone();
    assert!(
        duplicate
            .user_principal_name
            .ends_with("@contoso.onmicrosoft.com")
    );
    assert_eq!(
        duplicate.on_premises_immutable_id.as_ref(),
        Some(&ad.immutable_id)
    );

    // 2. Only soft-deleting it: the next cycle restores it (§12).
    let mut soft_deleted_only = world.clone();
    soft_deleted_only
        .cloud
        .last_mut()
        .unwrap()
        .deleted_date_time = Some(NOW.into());
    let outcome = soft_deleted_only.sync();
    assert!(matches!(
        decision(&outcome, 0),
        UserDecision::HardMatched { restored: true, .. }
    ));
    assert!(outcome.decisions[0].reprovisioned);

    // 3. Purge it, set the ImmutableID on the real account, sync: linked, no duplicate.
    world.cloud.retain(|user| user.id != duplicate.id);
    world.cloud[0].on_premises_immutable_id = Some(ad.immutable_id.clone());
    let outcome = world.sync();
    assert_eq!(
        decision(&outcome, 0),
        &UserDecision::HardMatched {
            cloud_index: 0,
            restored: false
        }
    );
    assert_eq!(world.cloud.len(), 1);
    assert!(world.cloud[0].is_synced());
    assert_eq!(world.connector_space.joins[0].cloud_user_id, "real");
}

#[test]
fn cloud_sync_never_soft_matches_on_upn() {
    // entra-matching.md §4 (Cloud Sync matched on mail/primary SMTP only).
    let mut world = World::new(
        vec![ad_user(1, "adele@contoso.com")],
        vec![cloud_user("c1", "adele@contoso.com")],
    );
    world.features().soft_match_on_upn_enabled = true;
    world.options.engine = SyncEngine::CloudSync;
    assert!(matches!(
        decision(&world.run(), 0),
        UserDecision::Created { .. }
    ));
}

#[test]
fn a_staging_server_exports_nothing() {
    // entra-matching.md §10 ("staging servers never export").
    let mut world = World::new(vec![ad_user(1, "adele@contoso.com")], vec![]);
    world.options.staging_mode = true;
    let outcome = world.run();
    assert!(outcome.operations.is_empty());
    assert_eq!(outcome.report.status, SyncRunStatus::StagingModeNoExport);
    assert_eq!(outcome.report.creations.len(), 1);
}

#[test]
fn two_ad_objects_with_one_anchor_export_only_the_first() {
    // entra-matching.md §5 (immutableId is a unique attribute).
    let first = ad_user(1, "adele@contoso.com");
    let mut second = ad_user(1, "adele2@contoso.com");
    second.distinguished_name = "CN=adele2,OU=Staff,DC=corp,DC=contoso,DC=com".into();
    let outcome = World::new(vec![first, second], vec![]).run();
    assert!(matches!(
        decision(&outcome, 0),
        UserDecision::Created { .. }
    ));
    assert!(matches!(
        decision(&outcome, 1),
        UserDecision::Failed {
            property: Some(ConflictProperty::SourceAnchor),
            ..
        }
    ));
}

#[test]
fn two_new_users_with_one_upn_get_one_placeholder() {
    // entra-matching.md §6 (resiliency also covers conflicts created within one run).
    let outcome = World::new(
        vec![
            ad_user(1, "adele@contoso.com"),
            ad_user(2, "Adele@contoso.com"),
        ],
        vec![],
    )
    .run();
    assert_eq!(
        outcome.report.creations[0].user_principal_name,
        "adele@contoso.com"
    );
    assert!(is_placeholder_upn(
        &outcome.report.creations[1].user_principal_name,
        Some("contoso.onmicrosoft.com")
    ));
}

#[test]
fn a_second_cycle_after_applying_changes_nothing() {
    // entra-matching.md §4 (joined objects only flow changes): the cycle is idempotent.
    let mut world = World::new(
        vec![
            with_mail(ad_user(1, "adele@contoso.com"), "adele@contoso.com"),
            ad_user(2, "bob@corp.local"),
        ],
        vec![cloud_with_mail(
            cloud_user("c1", "x@contoso.com"),
            "adele@contoso.com",
        )],
    );
    world.sync();
    let outcome = world.sync();
    assert!(outcome.operations.is_empty(), "{:?}", outcome.operations);
    assert!(
        outcome
            .decisions
            .iter()
            .all(|result| matches!(result.decision, UserDecision::Joined { changed: false, .. }))
    );
}

#[test]
fn inferred_connector_space_joins_synced_users_with_known_anchors() {
    // entra-matching.md §1 (onPremisesSyncEnabled true = synced now).
    let ad = ad_user(1, "adele@contoso.com");
    let other = ad_user(2, "bob@contoso.com");
    let synced = synced_from("c1", "adele@contoso.com", &ad);
    let unknown = synced_from("c2", "zed@contoso.com", &ad_user(3, "zed@contoso.com"));
    let space = ConnectorSpace::infer(&[ad, other], &[synced, unknown]);
    assert_eq!(space.joins.len(), 1);
    assert_eq!(space.joins[0].cloud_user_id, "c1");
}

#[test]
fn scope_filters_compare_distinguished_names_at_rdn_boundaries() {
    assert!(is_under("CN=a,OU=Staff,DC=x", "ou=staff,dc=x"));
    assert!(is_under("OU=Staff,DC=x", "OU=Staff,DC=x"));
    assert!(!is_under("CN=a,OU=OldStaff,DC=x", "Staff,DC=x"));
}

#[test]
fn report_and_operations_serialize_with_entra_names() {
    let outcome = World::new(vec![ad_user(1, "adele@contoso.com")], vec![]).run();
    let operations = serde_json::to_value(&outcome.operations).unwrap();
    assert_eq!(operations[0]["operation"], "create");
    assert_eq!(
        operations[0]["attributes"]["onPremisesSyncEnabled"],
        serde_json::Value::Null
    );
    assert_eq!(
        operations[0]["attributes"]["userPrincipalName"],
        "adele@contoso.com"
    );
    let round_trip: Vec<SyncOperation> = serde_json::from_value(operations).unwrap();
    assert_eq!(round_trip, outcome.operations);
}

#[test]
fn a_prediction_without_operations_decides_and_reports_exactly_as_a_recorded_cycle() {
    // Every kind of decision and operation at once: hard match, soft match, a creation with
    // a quarantined UPN, an update of a joined user, a deletion and a disconnect.
    let hard = ad_user(1, "hard@contoso.com");
    let soft = with_mail(ad_user(2, "soft@contoso.com"), "soft@contoso.com");
    let quarantined = ad_user(3, "taken@contoso.com");
    let mut updated = ad_user(4, "updated@contoso.com");
    let left = ad_user(5, "left@contoso.com");
    let mut hard_target = cloud_user("c-hard", "hard.old@contoso.com");
    hard_target.on_premises_immutable_id = Some(hard.immutable_id.clone());
    let joined = synced_from("c-joined", "updated@contoso.com", &updated);
    updated.display_name = Some("A new name".into());
    let world = World::new(
        vec![hard, soft, quarantined, updated, left],
        vec![
            hard_target,
            cloud_with_mail(cloud_user("c-soft", "s@contoso.com"), "soft@contoso.com"),
            cloud_user("c-taken", "taken@contoso.com"),
            joined,
            synced_from(
                "c-left",
                "left@contoso.com",
                &ad_user(5, "left@contoso.com"),
            ),
        ],
    )
    .join(3, "c-joined")
    .join(4, "c-left");
    let mut world = world;
    world.ad.pop();
    // A second AD user exporting the first one's anchor: an error record.
    world.ad.push(ad_user(1, "hard.twin@contoso.com"));
    world.connector_space.joins.push(ConnectorSpaceJoin {
        source_anchor: ImmutableId::from_text("gone-anchor"),
        cloud_user_id: "c-vanished".into(),
        distinguished_name: None,
    });
    let input = SyncCycleInput {
        ad_users: &world.ad,
        scope: &world.scope,
        tenant: &world.tenant,
        cloud_users: &world.cloud,
        role_assignments: &world.roles,
        role_eligibilities: &world.eligible,
        connector_space: &world.connector_space,
        options: &world.options,
        now: NOW,
    };
    let index = CloudIndex::new(&input);
    let recorded = run_sync_cycle_with(
        &input,
        &index,
        JoinSource::ConnectorSpace,
        Operations::Record,
        SyncReportDetail::Records,
    );
    let predicted = run_sync_cycle_with(
        &input,
        &index,
        JoinSource::ConnectorSpace,
        Operations::Skip,
        SyncReportDetail::Records,
    );
    let kinds: Vec<&str> = recorded
        .operations
        .iter()
        .map(|operation| match operation {
            SyncOperation::Disconnect { .. } => "disconnect",
            SyncOperation::Join { .. } => "join",
            SyncOperation::Create { .. } => "create",
            SyncOperation::Update { .. } => "update",
            SyncOperation::SoftDelete { .. } => "soft_delete",
            SyncOperation::Quarantine { .. } => "quarantine",
        })
        .collect();
    for kind in [
        "disconnect",
        "join",
        "create",
        "update",
        "soft_delete",
        "quarantine",
    ] {
        assert!(kinds.contains(&kind), "no {kind} in {kinds:?}");
    }
    assert!(predicted.operations.is_empty());
    assert_eq!(predicted.decisions, recorded.decisions);
    assert_eq!(predicted.report, recorded.report);
    assert_eq!(run_sync_cycle(&input), recorded);
    // A summary decides the same and keeps the report's status, count and errors only.
    let summary = run_sync_cycle_with(
        &input,
        &index,
        JoinSource::ConnectorSpace,
        Operations::Skip,
        SyncReportDetail::Summary,
    );
    assert_eq!(summary.decisions, recorded.decisions);
    let full = &recorded.report;
    assert!(!full.joins.is_empty() && !full.creations.is_empty() && !full.updates.is_empty());
    assert!(
        !full.deletions.is_empty() && !full.errors.is_empty(),
        "{full:#?}"
    );
    assert_eq!(
        summary.report,
        SyncReport {
            joins: Vec::new(),
            creations: Vec::new(),
            updates: Vec::new(),
            deletions: Vec::new(),
            ..full.clone()
        }
    );
}

#[test]
fn an_index_of_other_users_is_not_trusted() {
    let users = vec![cloud_user("c1", "adele@contoso.com")];
    let copy = users.clone();
    let index = CloudIndex::build(&users, &[], &[]);
    assert!(index.indexes(&users));
    assert!(!index.indexes(&copy));
}

#[test]
fn a_value_written_earlier_in_the_cycle_conflicts_in_any_case_and_at_any_length() {
    // entra-matching.md §6: the second object exporting a UPN gets a placeholder. The
    // lookup lowercases short values on the stack and long ones on the heap: both count.
    for local in ["adele".to_owned(), "a".repeat(200)] {
        let first = ad_user(1, &format!("{local}@contoso.com"));
        let second = ad_user(2, &format!("{}@Contoso.COM", local.to_ascii_uppercase()));
        let outcome = World::new(vec![first, second], Vec::new()).run();
        assert!(outcome.report.creations[0].quarantined.is_empty());
        assert_eq!(
            outcome.report.creations[1].quarantined[0].property,
            ConflictProperty::UserPrincipalName,
            "{local}"
        );
    }
}
