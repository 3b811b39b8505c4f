//! The planner's routes, safety policy, file format and renderers.

use super::*;
use crate::diagnose::{DiagnoseOptions, diagnose};
use crate::sync::UserDecision;
use crate::tenant::{SignInActivity, TenantSnapshot, TenantSnapshotSource};
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

fn make_plan(
    world: &World,
    selection: Selection,
    policy: &PlanPolicy,
) -> Result<Plan, PlanRefusal> {
    let tenant = snapshot(world);
    let diagnosis = diagnose(
        &world.ad,
        &tenant,
        &DiagnoseOptions {
            scope: world.scope.clone(),
            sync: world.options.clone(),
            connector_space: Some(world.connector_space.clone()),
            // As `hardmatch plan` diagnoses: the planner needs none of the report's records.
            sync_report: crate::sync::SyncReportDetail::Summary,
        },
    );
    plan(&PlanInput {
        ad_users: &world.ad,
        tenant: &tenant,
        diagnosis: &diagnosis,
        connector_space: Some(&world.connector_space),
        selection: &selection,
        policy,
        generated_at: NOW,
    })
}

fn kinds(plan: &Plan) -> Vec<&'static str> {
    plan.actions
        .iter()
        .map(|action| action.kind.name())
        .collect()
}

/// The field story: an AD user with an unverified suffix synced into a duplicate next to
/// its licensed cloud account.
fn field_story() -> World {
    let ad = with_mail(ad_user(1, "adele@corp.local"), "adele@contoso.com");
    let mut real = licensed(cloud_with_mail(
        cloud_user("real", "adele@contoso.com"),
        "adele@contoso.com",
    ));
    real.proxy_addresses
        .push("smtp:adele.vance@contoso.com".into());
    let mut world = World::new(vec![ad], vec![real]);
    world.features().block_soft_match_enabled = true;
    world.sync();
    world.features().block_soft_match_enabled = false;
    world
}

#[test]
fn field_story_plans_purge_then_set_and_links_after_one_sync() {
    // entra-matching.md §15 C 9 and D 13-14; issue 6 "Done when": purge, then set.
    let mut world = field_story();
    let duplicate_id = world.cloud[1].id.clone();
    let plan = make_plan(
        &world,
        Selection::Users(vec!["adele@corp.local".into()]),
        &PlanPolicy::default(),
    )
    .unwrap();
    assert_eq!(
        kinds(&plan),
        [
            "ad_set_upn",
            "ad_add_proxy_address",
            "soft_delete",
            "purge_deleted",
            "set_immutable_id",
            "trigger_sync"
        ]
    );
    let by_kind = |kind: ActionKind| {
        plan.actions
            .iter()
            .find(|action| action.kind == kind)
            .unwrap()
    };
    assert_eq!(
        by_kind(ActionKind::AdSetUpn).value.as_deref(),
        Some("adele@contoso.com")
    );
    assert_eq!(
        by_kind(ActionKind::AdAddProxyAddress).value.as_deref(),
        Some("smtp:adele.vance@contoso.com")
    );
    let purge = by_kind(ActionKind::PurgeDeleted);
    assert!(purge.irreversible);
    assert_eq!(purge.target.id.as_deref(), Some(duplicate_id.as_str()));
    assert_eq!(
        purge.depends_on,
        [by_kind(ActionKind::SoftDelete).id.clone()]
    );
    let set = by_kind(ActionKind::SetImmutableId);
    assert_eq!(set.target.id.as_deref(), Some("real"));
    assert!(set.depends_on.contains(&purge.id), "purge before set");
    assert_eq!(plan.users[0].route, Route::DeleteAndPurge);
    // The preparation copies the addresses and aligns the UPN: the takeover keeps them.
    let overwritten: Vec<&str> = plan.users[0]
        .overwrites
        .iter()
        .map(|overwrite| overwrite.property.as_str())
        .collect();
    assert_eq!(overwritten, ["displayName"]);

    // Apply: the AD preparation, then the cloud actions, then one cycle.
    world.ad[0].user_principal_name = Some("adele@contoso.com".into());
    world.ad[0]
        .proxy_addresses
        .push("smtp:adele.vance@contoso.com".into());
    apply_cloud_actions(&plan, &mut world.cloud, NOW);
    let before = world.cloud.len();
    let outcome = world.sync();
    assert!(matches!(
        outcome.decisions[0].decision,
        UserDecision::HardMatched { .. }
    ));
    assert_eq!(world.cloud.len(), before, "no new duplicate");
    let real = world.cloud_by_id("real").unwrap();
    assert!(real.is_synced());
    assert_eq!(real.proxy_addresses.len(), 2, "no address lost");
}

#[test]
fn a_licensed_duplicate_is_never_planned_for_deletion() {
    // Issue 6 safety policy; entra-matching.md §15 C 10 (decide on evidence).
    let mut world = field_story();
    world.cloud[1] = licensed(world.cloud[1].clone());
    let plan = make_plan(
        &world,
        Selection::Users(vec!["adele@corp.local".into()]),
        &PlanPolicy::default(),
    )
    .unwrap();
    assert!(plan.actions.is_empty());
    assert_eq!(plan.skipped[0].code, "unsafe_deletion");
    assert!(plan.skipped[0].reason.contains("allow_delete_licensed"));
    let policy = PlanPolicy {
        allow_delete_licensed: true,
        ..PlanPolicy::default()
    };
    let plan = make_plan(
        &world,
        Selection::Users(vec!["adele@corp.local".into()]),
        &policy,
    )
    .unwrap();
    assert!(kinds(&plan).contains(&"purge_deleted"));
}

#[test]
fn a_recent_sign_in_on_the_duplicate_blocks_its_deletion() {
    // graph-api.md §9 (signInActivity; unknown is not unused).
    let mut world = field_story();
    world.cloud[1].sign_in_activity = Some(Box::new(SignInActivity {
        last_sign_in_date_time: Some("2026-11-20T08:00:00Z".into()),
        ..SignInActivity::default()
    }));
    let plan = make_plan(
        &world,
        Selection::Users(vec!["adele@corp.local".into()]),
        &PlanPolicy::default(),
    )
    .unwrap();
    assert!(plan.skipped[0].reason.contains("signed in 2 day(s) ago"));
    world.cloud[1].sign_in_activity = None;
    let plan = make_plan(
        &world,
        Selection::Users(vec!["adele@corp.local".into()]),
        &PlanPolicy::default(),
    )
    .unwrap();
    assert!(plan.actions[2].evidence[0].contains("sign-in activity unknown"));
    // Read, with nothing on record: the deletion goes ahead, and the evidence says so
    // rather than calling the account unused.
    world.cloud[1].sign_in_activity = Some(Box::default());
    world.cloud[1].created_date_time = Some("2026-11-19T10:00:00Z".into());
    let plan = make_plan(
        &world,
        Selection::Users(vec!["adele@corp.local".into()]),
        &PlanPolicy::default(),
    )
    .unwrap();
    assert_eq!(plan.actions[2].kind, ActionKind::SoftDelete);
    let evidence = &plan.actions[2].evidence[0];
    assert!(evidence.contains("no sign-in on record (never, or before April 2020)"));
    assert!(evidence.contains(", created 2026-11-19): "), "{evidence}");
}

#[test]
fn a_soft_delete_relies_on_the_sign_in_activity_the_plan_read() {
    let mut world = field_story();
    let selection = || Selection::Users(vec!["adele@corp.local".into()]);
    let soft_delete = |plan: &Plan| {
        plan.actions
            .iter()
            .find(|action| action.kind == ActionKind::SoftDelete)
            .and_then(|action| action.precondition.clone())
            .expect("the duplicate is deleted")
    };
    // Never read: nothing to rely on.
    let plan = make_plan(&world, selection(), &PlanPolicy::default()).unwrap();
    assert_eq!(soft_delete(&plan).expected(SIGN_IN_ACTIVITY), None);

    // Read, an old sign-in: the delete goes ahead only while that is still the last one.
    world.cloud[1].sign_in_activity = Some(Box::new(SignInActivity {
        last_sign_in_date_time: Some("2025-01-10T08:00:00Z".into()),
        ..SignInActivity::default()
    }));
    let plan = make_plan(&world, selection(), &PlanPolicy::default()).unwrap();
    let precondition = soft_delete(&plan);
    assert_eq!(
        precondition.expected(SIGN_IN_ACTIVITY),
        Some(&serde_json::json!({
            "lastSignInDateTime": "2025-01-10T08:00:00Z",
            "lastNonInteractiveSignInDateTime": null,
            "lastSuccessfulSignInDateTime": null
        }))
    );
    let mut state = cloud_state(&world.cloud[1], 0, 0);
    precondition
        .evaluate(&state)
        .expect("unchanged since the plan");
    state[SIGN_IN_ACTIVITY]["lastNonInteractiveSignInDateTime"] = "2026-11-21T07:00:00Z".into();
    let stale = precondition.evaluate(&state).unwrap_err();
    assert_eq!(stale.property, SIGN_IN_ACTIVITY);
    // Not read at apply time is not "unchanged".
    state.as_object_mut().unwrap().remove(SIGN_IN_ACTIVITY);
    assert_eq!(precondition.evaluate(&state).unwrap_err().actual, "null");
    // The purge that follows relies on the delete, not on sign-ins.
    let purge = plan
        .actions
        .iter()
        .find(|action| action.kind == ActionKind::PurgeDeleted)
        .unwrap();
    assert_eq!(
        purge
            .precondition
            .as_ref()
            .unwrap()
            .expected(SIGN_IN_ACTIVITY),
        None
    );
}

#[test]
fn the_out_of_scope_route_syncs_between_phases() {
    // entra-matching.md §15 C 9 (move out of scope, delta sync, purge), D 14 (back in scope).
    let mut world = field_story();
    let policy = PlanPolicy {
        route: RoutePreference::OutOfScope,
        out_of_scope_container: Some("OU=Unsynced,DC=corp,DC=contoso,DC=com".into()),
        ..PlanPolicy::default()
    };
    let plan = make_plan(&world, Selection::Users(vec!["adele".into()]), &policy).unwrap();
    assert_eq!(
        kinds(&plan),
        [
            "ad_set_upn",
            "ad_add_proxy_address",
            "ad_move_out_of_scope",
            "trigger_sync",
            "purge_deleted",
            "set_immutable_id",
            "ad_move_into_scope",
            "trigger_sync"
        ]
    );
    let first_sync = &plan.actions[3];
    assert_eq!(
        plan.actions[4].depends_on,
        std::slice::from_ref(&first_sync.id)
    );
    assert_eq!(
        plan.actions[6].value.as_deref(),
        Some("OU=Staff,DC=corp,DC=contoso,DC=com")
    );

    // Play it: out of scope, sync, purge, set, back in scope, sync.
    world.scope = crate::sync::SyncScope::OrganizationalUnits {
        include: vec!["OU=Staff,DC=corp,DC=contoso,DC=com".into()],
        exclude: vec![],
    };
    let original = world.ad[0].distinguished_name.clone();
    world.ad[0].distinguished_name = "CN=adele,OU=Unsynced,DC=corp,DC=contoso,DC=com".into();
    world.sync();
    assert!(world.cloud[1].is_deleted());
    apply_cloud_actions(&plan, &mut world.cloud, NOW);
    world.ad[0].distinguished_name = original;
    let outcome = world.sync();
    assert!(matches!(
        outcome.decisions[0].decision,
        UserDecision::HardMatched { cloud_index: 0, .. }
    ));
    assert_eq!(world.cloud.len(), 1);
    // Without a container the route cannot be planned.
    let plan = make_plan(
        &field_story(),
        Selection::Users(vec!["adele".into()]),
        &PlanPolicy {
            graph_can_delete_synced: false,
            ..PlanPolicy::default()
        },
    )
    .unwrap();
    assert_eq!(plan.skipped[0].code, "no_out_of_scope_container");
}

#[test]
fn holders_are_purged_restored_or_cleared_on_evidence() {
    // entra-matching.md §12 (recycle bin reserves the ID), §15 C 10 (purge, or restore and clear).
    let ad = ad_user(1, "adele@contoso.com");
    let target = cloud_user("real", "adele.v@contoso.com");
    let mut deleted = cloud_user("deleted", "old@contoso.com");
    deleted.on_premises_immutable_id = Some(ad.immutable_id.clone());
    deleted.deleted_date_time = Some("2026-11-01T00:00:00Z".into());
    let mapping = Selection::Mapping(vec![MappingEntry {
        ad: "adele".into(),
        cloud: "adele.v@contoso.com".into(),
    }]);
    let world = World::new(vec![ad.clone()], vec![target.clone(), deleted.clone()]);
    let plan = make_plan(&world, mapping.clone(), &PlanPolicy::default()).unwrap();
    assert_eq!(
        kinds(&plan),
        ["purge_deleted", "set_immutable_id", "trigger_sync"]
    );

    let world = World::new(vec![ad.clone()], vec![target.clone(), licensed(deleted)]);
    let plan = make_plan(&world, mapping.clone(), &PlanPolicy::default()).unwrap();
    assert_eq!(
        kinds(&plan),
        [
            "restore_deleted",
            "clear_immutable_id",
            "set_immutable_id",
            "trigger_sync"
        ]
    );
    assert_eq!(plan.actions[1].depends_on, ["a1"]);
    assert!(plan.actions[2].depends_on.contains(&"a2".to_owned()));

    let mut active = licensed(cloud_user("other", "other@contoso.com"));
    active.on_premises_immutable_id = Some(ad.immutable_id.clone());
    let world = World::new(vec![ad], vec![target, active]);
    let plan = make_plan(&world, mapping, &PlanPolicy::default()).unwrap();
    assert_eq!(
        kinds(&plan),
        ["clear_immutable_id", "set_immutable_id", "trigger_sync"]
    );
}

#[test]
fn blocked_targets_are_skipped_with_the_reason() {
    // entra-matching.md §8, §15 C 11-12.
    let ad = ad_user(1, "adele@contoso.com");
    let mapping = Selection::Mapping(vec![MappingEntry {
        ad: ad.object_guid.to_string(),
        cloud: "t".into(),
    }]);
    let mut world = World::new(vec![ad], vec![cloud_user("t", "x@contoso.com")]);
    world.eligible.push(role("t"));
    let plan = make_plan(&world, mapping.clone(), &PlanPolicy::default()).unwrap();
    assert_eq!(plan.skipped[0].code, "target_blocked");
    assert!(plan.skipped[0].reason.contains("PIM"));
    world.eligible.clear();
    world
        .features()
        .block_cloud_object_takeover_through_hard_match_enabled = true;
    let plan = make_plan(&world, mapping, &PlanPolicy::default()).unwrap();
    assert!(
        plan.skipped[0]
            .reason
            .contains("blockCloudObjectTakeoverThroughHardMatchEnabled")
    );
}

#[test]
fn selection_errors_refuse_the_plan() {
    let world = field_story();
    assert_eq!(
        make_plan(
            &world,
            Selection::Users(vec!["nobody".into()]),
            &PlanPolicy::default()
        ),
        Err(PlanRefusal::UnknownAdUser("nobody".into()))
    );
    let mapping = Selection::Mapping(vec![MappingEntry {
        ad: "adele".into(),
        cloud: "ghost@contoso.com".into(),
    }]);
    assert_eq!(
        make_plan(&world, mapping, &PlanPolicy::default()),
        Err(PlanRefusal::UnknownCloudUser("ghost@contoso.com".into()))
    );
    let policy = PlanPolicy {
        deletion_threshold: 0,
        ..PlanPolicy::default()
    };
    assert_eq!(
        make_plan(&world, Selection::AllSafe, &policy),
        Err(PlanRefusal::DeletionThresholdExceeded {
            deletions: 1,
            threshold: 0
        })
    );
}

#[test]
fn an_empty_consistency_guid_is_written_explicitly() {
    // entra-matching.md §3 (Connect writes objectGUID into an empty ConsistencyGuid).
    let mut ad = ad_user(1, "adele@contoso.com");
    ad.anchor_attribute = crate::ad::AnchorAttribute::ConsistencyGuid;
    let mut target = cloud_user("t", "adele@contoso.com");
    target.on_premises_immutable_id = Some(ad.immutable_id.clone());
    let world = World::new(vec![ad.clone()], vec![target]);
    let plan = make_plan(&world, Selection::AllSafe, &PlanPolicy::default()).unwrap();
    assert_eq!(kinds(&plan), ["ad_set_consistency_guid", "trigger_sync"]);
    assert_eq!(plan.actions[0].value, Some(ad.object_guid.to_string()));
}

#[test]
fn linked_users_need_no_plan() {
    let ad = ad_user(1, "adele@contoso.com");
    let mut world = World::new(vec![ad], vec![]);
    world.sync();
    let plan = make_plan(
        &world,
        Selection::Users(vec!["adele@contoso.com".into()]),
        &PlanPolicy::default(),
    )
    .unwrap();
    assert!(!plan.has_changes());
    assert_eq!(plan.skipped[0].code, "already_linked");
    let plan = make_plan(&world, Selection::AllSafe, &PlanPolicy::default()).unwrap();
    assert!(plan.skipped.is_empty() && plan.actions.is_empty());
}

/// The plan file text as serde_json's pretty printer writes it, which plan files are.
fn serde_json_text(plan: &Plan) -> String {
    serde_json::to_string_pretty(plan).unwrap() + "\n"
}

#[test]
fn the_plan_file_round_trips_and_refuses_edits_and_newer_versions() {
    let plan = make_plan(&field_story(), Selection::AllSafe, &PlanPolicy::default()).unwrap();
    let text = plan.to_json().unwrap();
    assert_eq!(Plan::from_json(&text).unwrap(), plan);
    // The text is serde_json's pretty printing, written by another serializer.
    assert_eq!(text, serde_json_text(&plan));
    let edited = text.replacen("\"soft_delete\"", "\"purge_deleted\"", 1);
    assert!(matches!(
        Plan::from_json(&edited),
        Err(PlanFileError::HandEdited { .. })
    ));
    let newer = text.replacen("\"format_version\": 1", "\"format_version\": 2", 1);
    assert!(matches!(
        Plan::from_json(&newer),
        Err(PlanFileError::NewerFormat { found: 2, .. })
    ));
    assert!(matches!(
        Plan::from_json("{}"),
        Err(PlanFileError::MissingVersion)
    ));
    // A newer plan whose fields this version cannot read is named as newer, not as broken;
    // a plan of this version with such a field, or text that is not JSON, is the parser's.
    let reshaped = newer.replacen("\"actions\": [", "\"actions\": \"moved\", \"old\": [", 1);
    assert!(matches!(
        Plan::from_json(&reshaped),
        Err(PlanFileError::NewerFormat { found: 2, .. })
    ));
    let wrong_type = text.replacen("\"actions\": [", "\"actions\": \"moved\", \"old\": [", 1);
    match Plan::from_json(&wrong_type) {
        Err(PlanFileError::Json(error)) => {
            assert!(error.to_string().contains("expected a sequence"))
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        Plan::from_json(&text[..text.len() / 2]),
        Err(PlanFileError::Json(_))
    ));
    // The inputs fingerprint is stable and sensitive.
    let again = make_plan(&field_story(), Selection::AllSafe, &PlanPolicy::default()).unwrap();
    assert_eq!(again.fingerprint, plan.fingerprint);
    let mut changed = field_story();
    changed.cloud[0].assigned_licenses.clear();
    let other = make_plan(&changed, Selection::AllSafe, &PlanPolicy::default()).unwrap();
    assert_ne!(other.fingerprint, plan.fingerprint);
}

#[test]
fn preconditions_refuse_stale_state() {
    let plan = make_plan(&field_story(), Selection::AllSafe, &PlanPolicy::default()).unwrap();
    let world = field_story();
    let set = plan
        .actions
        .iter()
        .find(|action| action.kind == ActionKind::SetImmutableId)
        .unwrap();
    let precondition = set.precondition.as_ref().unwrap();
    let real = world.cloud_by_id("real").unwrap();
    assert_eq!(precondition.evaluate(&cloud_state(real, 0, 0)), Ok(()));
    let mut stale = real.clone();
    stale.assigned_licenses.clear();
    let error = precondition
        .evaluate(&cloud_state(&stale, 0, 0))
        .unwrap_err();
    assert_eq!(error.property, "assignedLicenseSkuIds");
    assert!(precondition.evaluate(&cloud_state(real, 1, 0)).is_err());
}

#[test]
fn show_names_changes_irreversible_steps_and_overwrites() {
    let mut world = field_story();
    world.features().password_sync_enabled = true;
    let plan = make_plan(&world, Selection::AllSafe, &PlanPolicy::default()).unwrap();
    let text = render_show(&plan);
    assert!(text.contains("[IRREVERSIBLE]"), "{text}");
    assert!(
        text.contains("displayName: real (cloud) -> adele (AD)"),
        "{text}"
    );
    assert!(text.contains("password: replaced by the AD password (password hash sync is on)"));
    assert!(text.contains("(1 irreversible)"));
}

#[test]
fn a_shortened_rendering_counts_what_it_leaves_out() {
    let world = field_story();
    let plan = make_plan(&world, Selection::AllSafe, &PlanPolicy::default()).unwrap();
    assert!(
        plan.actions.len() > 1,
        "the field story plans several actions"
    );
    assert_eq!(
        render_show_up_to(&plan, plan.actions.len()),
        render_show(&plan)
    );
    let short = render_show_up_to(&plan, 1);
    let first = &plan.actions[0];
    let second = &plan.actions[1];
    assert!(
        short.contains(&format!("  {:<4} {}", first.id, first.kind.name())),
        "{short}"
    );
    assert!(
        !short.contains(&format!("  {:<4} {}", second.id, second.kind.name())),
        "{short}"
    );
    assert!(
        short.contains(&format!(
            "... and {} more actions: `hardmatch show` on the plan file lists every one",
            plan.actions.len() - 1
        )),
        "{short}"
    );
    // The field story's six actions, one of each kind, counted in the header.
    assert!(
        short.contains(
            "  by kind:      ad_add_proxy_address 1, ad_set_upn 1, purge_deleted 1, \
             set_immutable_id 1, soft_delete 1, trigger_sync 1\n"
        ),
        "{short}"
    );
    // The header's totals are the whole plan's.
    assert!(
        short.contains(&format!("  actions:      {} (", plan.actions.len())),
        "{short}"
    );
}

#[test]
fn powershell_uses_the_graph_and_ad_cmdlets() {
    let plan = make_plan(&field_story(), Selection::AllSafe, &PlanPolicy::default()).unwrap();
    let script = render_powershell(&plan);
    for expected in [
        "Set-ADUser -Identity '",
        "-UserPrincipalName 'adele@contoso.com'",
        "-Add @{proxyAddresses = 'smtp:adele.vance@contoso.com'}",
        "Remove-MgUser -UserId '",
        "Remove-MgDirectoryDeletedItem -DirectoryObjectId '",
        "Update-MgUser -UserId 'real' -OnPremisesImmutableId '",
        "Start-ADSyncSyncCycle -PolicyType Delta",
    ] {
        assert!(script.contains(expected), "missing {expected} in\n{script}");
    }
    let clear = PlanAction {
        id: "a1".into(),
        kind: ActionKind::ClearImmutableId,
        target: ActionTarget {
            directory: Directory::Cloud,
            id: Some("o'id".into()),
            user_principal_name: None,
            distinguished_name: None,
        },
        value: None,
        reason: "r".into(),
        evidence: Vec::new(),
        depends_on: Vec::new(),
        irreversible: false,
        precondition: None,
        for_user: None,
    };
    let plan = Plan {
        actions: vec![clear],
        ..plan
    };
    let script = render_powershell(&plan);
    assert!(script.contains(
        "Invoke-MgGraphRequest -Method PATCH -Uri 'https://graph.microsoft.com/beta/users/o''id' -Body '{\"onPremisesImmutableId\": null}'"
    ));
}

#[test]
fn days_since_epoch_follows_the_calendar() {
    assert_eq!(days_since_epoch("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(days_since_epoch("2000-03-01"), Some(11_017));
    assert_eq!(days_since_epoch("2026-11-22T03:00:00Z"), Some(20_779));
    assert_eq!(days_since_epoch("soon"), None);
}

#[test]
fn field_story_renders_for_review() {
    // What a change-approval reader sees (issue 6 "Snapshot tests (insta) cover ... show").
    let mut world = field_story();
    world.features().password_sync_enabled = true;
    let plan = make_plan(
        &world,
        Selection::Users(vec!["adele@corp.local".into()]),
        &PlanPolicy::default(),
    )
    .unwrap();
    insta::assert_snapshot!("field_story_show", render_show(&plan));
    insta::assert_snapshot!("field_story_powershell", render_powershell(&plan));
}

#[test]
fn adding_addresses_keeps_a_primary_derived_from_mail() {
    // entra-matching.md §11: AD's proxyAddresses replace the cloud's; an AD user with only
    // `mail` would lose it as primary once proxyAddresses holds another address.
    let mut ad = ad_user(1, "mia@contoso.com");
    ad.mail = Some("mia@contoso.com".into());
    let mut target = licensed(cloud_with_mail(
        cloud_user("t", "mia@contoso.com"),
        "mia@contoso.com",
    ));
    target.proxy_addresses.push("smtp:sales@contoso.com".into());
    let mut world = World::new(vec![ad], vec![target]);
    let plan = make_plan(
        &world,
        Selection::Users(vec!["mia".into()]),
        &PlanPolicy::default(),
    )
    .unwrap();
    let values: Vec<_> = plan
        .actions
        .iter()
        .filter(|action| action.kind == ActionKind::AdAddProxyAddress)
        .filter_map(|action| action.value.as_deref())
        .collect();
    assert_eq!(values, ["SMTP:mia@contoso.com", "smtp:sales@contoso.com"]);
    apply_ad_actions(&plan, &mut world.ad);
    apply_cloud_actions(&plan, &mut world.cloud, NOW);
    world.sync();
    assert_eq!(
        world.cloud[0].proxy_addresses,
        ["SMTP:mia@contoso.com", "smtp:sales@contoso.com"]
    );
}

#[test]
fn the_streamed_plan_file_escapes_text_as_the_plan_text_does() {
    // Written by another serializer than serde_json: every escape must come out the same.
    let mut plan = make_plan(&field_story(), Selection::AllSafe, &PlanPolicy::default()).unwrap();
    plan.actions[0].reason =
        "Zoë \"Z\" O'Brien \\ tab\t line\n nul\u{0} bell\u{7} del\u{7f} ✓ 😀 \u{2028}".to_owned();
    plan.skipped.clear();
    let mut streamed = Vec::new();
    plan.write_json(&mut streamed).unwrap();
    assert_eq!(String::from_utf8(streamed).unwrap(), serde_json_text(&plan));
}

#[test]
fn plans_fingerprinted_from_their_json_before_are_still_checked_that_way() {
    // FNV-1a, then XXH3, of the actions' compact JSON as serde_json writes it.
    let compact = |plan: &Plan| serde_json::to_string(&plan.actions).unwrap();
    let fnv = |plan: &Plan| {
        let mut fnv = Fnv1a::new();
        fnv.write(compact(plan).as_bytes());
        format!("fnv1a64:{:016x}", fnv.finish())
    };
    let xxh3 = |plan: &Plan| {
        format!(
            "xxh3:{:016x}",
            xxhash_rust::xxh3::xxh3_64(compact(plan).as_bytes())
        )
    };
    for (prefix, fingerprint) in [
        ("fnv1a64:", &fnv as &dyn Fn(&Plan) -> String),
        ("xxh3:", &xxh3),
    ] {
        let mut plan =
            make_plan(&field_story(), Selection::AllSafe, &PlanPolicy::default()).unwrap();
        plan.actions_fingerprint = fingerprint(&plan);
        let text = plan.to_json().unwrap();
        assert_eq!(Plan::from_json(&text).unwrap(), plan);
        let edited = text.replacen("\"soft_delete\"", "\"purge_deleted\"", 1);
        match Plan::from_json(&edited) {
            Err(PlanFileError::HandEdited { expected, found }) => {
                assert_eq!(expected, plan.actions_fingerprint);
                assert!(found.starts_with(prefix) && found != expected, "{found}");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn every_field_of_every_action_is_in_its_fingerprint() {
    let plan = make_plan(&field_story(), Selection::AllSafe, &PlanPolicy::default()).unwrap();
    let original = actions_fingerprint(&plan.actions);
    assert!(original.starts_with("xxh3-fields:"), "{original}");
    let with_check = plan
        .actions
        .iter()
        .position(|action| action.precondition.is_some())
        .expect("an action with a precondition");
    type Edit = fn(&mut PlanAction);
    let edits: [(&str, Edit); 17] = [
        ("id", |action| action.id.push('0')),
        ("kind", |action| action.kind = ActionKind::RestoreDeleted),
        ("directory", |action| {
            action.target.directory = Directory::SyncServer
        }),
        ("target id", |action| {
            action.target.id = Some("other".into())
        }),
        ("target UPN", |action| {
            action.target.user_principal_name = None
        }),
        ("target DN", |action| {
            action.target.distinguished_name = Some(String::new())
        }),
        ("value", |action| action.value = Some("other".into())),
        ("reason", |action| action.reason.push('.')),
        ("evidence", |action| action.evidence.push(String::new())),
        ("depends on", |action| action.depends_on.push("a1".into())),
        ("irreversible", |action| {
            action.irreversible = !action.irreversible
        }),
        ("for user", |action| {
            action.for_user = Some("CN=Other".into())
        }),
        ("check value", |action| {
            let checks = &mut action.precondition.as_mut().unwrap().checks;
            checks[0] = match &checks[0] {
                Check::Equals { property, .. } => Check::Equals {
                    property: property.clone(),
                    value: serde_json::json!([1, true, null, {"a": "b"}]),
                },
                Check::Present { property } => Check::Equals {
                    property: property.clone(),
                    value: serde_json::Value::Null,
                },
            };
        }),
        ("check property", |action| {
            let check = &mut action.precondition.as_mut().unwrap().checks[0];
            let (Check::Equals { property, .. } | Check::Present { property }) = check;
            *property = "other".into();
        }),
        ("check added", |action| {
            let checks = &mut action.precondition.as_mut().unwrap().checks;
            checks.push(Check::Present {
                property: "deletedDateTime".into(),
            });
        }),
        ("precondition fingerprint", |action| {
            action.precondition.as_mut().unwrap().fingerprint.push('0');
        }),
        ("precondition removed", |action| action.precondition = None),
    ];
    let mut seen = std::collections::HashSet::from([original.clone()]);
    for (field, edit) in edits {
        let mut actions = plan.actions.clone();
        edit(&mut actions[with_check]);
        assert_ne!(actions, plan.actions, "{field}: the edit changes nothing");
        let edited = actions_fingerprint(&actions);
        assert!(
            seen.insert(edited),
            "{field}: same fingerprint as before or as another edit"
        );
    }
    // Text moved from one field to the next is a different plan too.
    let mut moved = plan.actions.clone();
    let action = &mut moved[with_check];
    let last = action.reason.pop().unwrap();
    action.evidence.insert(0, last.to_string());
    let mut inserted = plan.actions.clone();
    inserted[with_check].evidence.insert(0, last.to_string());
    assert_ne!(actions_fingerprint(&moved), actions_fingerprint(&inserted));
    assert_ne!(actions_fingerprint(&moved), original);
}

#[test]
fn the_plan_file_written_in_pieces_is_the_plan_text_for_any_piece_size() {
    let mut world = field_story();
    world
        .ad
        .push(with_mail(ad_user(2, "bo@corp.local"), "bo@contoso.com"));
    world
        .cloud
        .push(licensed(cloud_user("bo-real", "bo@contoso.com")));
    let both = Selection::Users(vec!["adele@corp.local".into(), "bo@corp.local".into()]);
    let plan = make_plan(&world, both, &PlanPolicy::default()).unwrap();
    assert!(
        plan.actions.len() > 3 && plan.users.len() + plan.skipped.len() > 1,
        "{plan:#?}"
    );
    let text = serde_json_text(&plan);
    for per_piece in [0, 1, 2, 3, 1000] {
        let mut pieces = Vec::new();
        plan.write_json_in_pieces(per_piece, |piece| {
            pieces.push(piece);
            Ok(())
        })
        .unwrap();
        assert!(pieces.len() >= 4, "{per_piece}: {}", pieces.len());
        assert_eq!(
            String::from_utf8(pieces.concat()).unwrap(),
            text,
            "{per_piece}"
        );
    }
    // A writer's error stops the encoding and is the error.
    let mut handed = 0;
    let stopped = plan.write_json_in_pieces(1, |_| {
        handed += 1;
        Err(std::io::Error::other("disk full"))
    });
    assert!(matches!(stopped, Err(PlanFileError::Write(_))));
    assert_eq!(handed, 1);
}

#[test]
fn a_drafted_plan_shows_and_writes_what_the_plan_made_whole_does_once_its_fingerprint_is_in() {
    // Enough users for the actions to be made and encoded on two threads.
    let users: u32 = 900;
    let ad = (1..=users)
        .map(|number| {
            let name = format!("user{number}");
            let mut user = with_mail(
                ad_user(0, &format!("{name}@corp.local")),
                &format!("{name}@contoso.com"),
            );
            let guid = crate::anchor::ObjectGuid::from_ad_bytes(u128::from(number).to_le_bytes());
            user.object_guid = guid;
            user.immutable_id = guid.immutable_id();
            user
        })
        .collect();
    let cloud = (1..=users)
        .map(|number| {
            let address = format!("user{number}@contoso.com");
            let mut real = licensed(cloud_with_mail(
                cloud_user(&format!("real-{number}"), &address),
                &address,
            ));
            real.proxy_addresses
                .push(format!("smtp:user{number}.alias@contoso.com"));
            real
        })
        .collect();
    let mut world = World::new(ad, cloud);
    world.features().block_soft_match_enabled = true;
    world.sync();
    world.features().block_soft_match_enabled = false;
    let tenant = snapshot(&world);
    let index = CloudIndex::of(&tenant);
    let options = DiagnoseOptions {
        scope: world.scope.clone(),
        sync: world.options.clone(),
        connector_space: Some(world.connector_space.clone()),
        sync_report: crate::sync::SyncReportDetail::Summary,
    };
    let diagnosis = crate::diagnose::diagnose_with(&world.ad, &tenant, &index, &options);
    let policy = PlanPolicy {
        deletion_threshold: u32::MAX,
        ..PlanPolicy::default()
    };
    let input = PlanInput {
        ad_users: &world.ad,
        tenant: &tenant,
        diagnosis: &diagnosis,
        connector_space: Some(&world.connector_space),
        selection: &Selection::AllSafe,
        policy: &policy,
        generated_at: NOW,
    };
    let drafted = draft_plan(&input, &index).unwrap();
    let whole = plan_with(&input, &index).unwrap();
    assert!(whole.actions.len() > 4096, "{}", whole.actions.len());
    assert_eq!(whole.users.len(), users as usize);
    assert_eq!(drafted.action_count(), whole.actions.len());
    assert_eq!(drafted.user_count(), whole.users.len());
    assert_eq!(drafted.made_users(0..drafted.user_count()), whole.users);
    assert_eq!(drafted.skipped(), whole.skipped);
    let soft_deletes: Vec<PlanAction> = whole
        .actions
        .iter()
        .filter(|action| action.kind == ActionKind::SoftDelete)
        .cloned()
        .collect();
    assert_eq!(soft_deletes.len(), users as usize);
    assert!(
        drafted
            .actions_of_kind(ActionKind::SoftDelete)
            .eq(soft_deletes)
    );
    for limit in [0, 50, usize::MAX] {
        assert_eq!(
            drafted.render_show_up_to(limit),
            render_show_up_to(&whole, limit),
            "{limit}"
        );
    }
    let mut written = Vec::new();
    let late = drafted
        .write_json_in_pieces(Plan::ITEMS_PER_PIECE, |piece| {
            written.extend_from_slice(&piece);
            Ok(())
        })
        .unwrap();
    assert_eq!(late.text, whole.actions_fingerprint);
    // Left with the zeros, the file is refused as edited.
    let unfinished = String::from_utf8(written.clone()).unwrap();
    assert!(matches!(
        Plan::from_json(&unfinished),
        Err(PlanFileError::HandEdited { .. })
    ));
    let offset = late.offset as usize;
    written[offset..offset + late.text.len()].copy_from_slice(late.text.as_bytes());
    // Compared whole, but not printed whole: the text is megabytes.
    let text = String::from_utf8(written).unwrap();
    assert!(text == serde_json_text(&whole), "{}", &text[..400]);
    assert_eq!(drafted.into_plan(), whole);
    // Rendered a block at a time, whole entries each, it reads as rendered whole; an error
    // of the reader stops it.
    let mut blocks: Vec<String> = Vec::new();
    render_show_in_blocks(&whole, |block| {
        blocks.push(block.to_owned());
        Ok::<(), ()>(())
    })
    .unwrap();
    assert!(blocks.len() > 1, "{}", blocks.len());
    assert!(blocks.iter().all(|block| block.ends_with('\n')));
    assert!(blocks.concat() == render_show(&whole));
    let mut emitted = 0;
    let stopped = render_show_in_blocks(&whole, |_| {
        emitted += 1;
        Err("reader gone")
    });
    assert_eq!((stopped, emitted), (Err("reader gone"), 1));
    // Another tenant's index is refused rather than read against the wrong users.
    let other = snapshot(&world);
    let other_index = CloudIndex::of(&other);
    assert_eq!(
        draft_plan(&input, &other_index).err(),
        Some(PlanRefusal::IndexOfOtherUsers)
    );
}

#[test]
fn an_address_another_ad_user_holds_is_not_copied_to_ad() {
    let copies = |world: &World| -> Vec<String> {
        let adele = Selection::Users(vec!["adele@corp.local".into()]);
        let plan = make_plan(world, adele, &PlanPolicy::default()).unwrap();
        plan.actions
            .iter()
            .filter(|action| action.kind == ActionKind::AdAddProxyAddress)
            .filter_map(|action| action.value.clone())
            .collect()
    };
    let world = field_story();
    assert_eq!(copies(&world), ["smtp:adele.vance@contoso.com"]);
    // Held as a proxy address or as mail, in any case, by another AD user.
    let as_proxy = with_mail(ad_user(2, "bo@corp.local"), "Adele.Vance@Contoso.com");
    let mut as_mail = ad_user(2, "bo@corp.local");
    as_mail.mail = Some("ADELE.VANCE@contoso.com".into());
    for other in [as_proxy, as_mail] {
        let mut world = field_story();
        world.ad.push(other);
        assert_eq!(copies(&world), Vec::<String>::new());
    }
}
