//! Randomised scenarios: whatever state the directories are in, an all-safe plan, executed
//! action by action on the pure model and followed by the sync cycle it triggers, links
//! every planned user to its target and creates no new duplicate; and it never deletes a
//! licensed holder (issue 6 "Done when").

use hardmatch_core::ad::{AdUser, AnchorAttribute};
use hardmatch_core::anchor::{ImmutableId, ObjectGuid};
use hardmatch_core::diagnose::{DiagnoseOptions, diagnose};
use hardmatch_core::plan::{MappingEntry, PlanInput, PlanPolicy, Selection, plan};
use hardmatch_core::sync::{ConnectorSpace, SyncOptions, SyncReportDetail, SyncScope};
use hardmatch_core::tenant::{
    AssignedLicense, CloudUser, Domain, OnPremisesSynchronization, SyncFeatures, TenantInfo,
    TenantSnapshot, TenantSnapshotSource,
};
use proptest::prelude::*;

use crate::support::{Model, NOW};

const NAMES: [&str; 4] = ["adele", "bob", "cara", "dan"];

#[derive(Clone, Debug)]
struct AdChoice {
    name: usize,
    verified_suffix: bool,
    mail: Option<usize>,
}

#[derive(Clone, Debug)]
struct CloudChoice {
    name: usize,
    initial_domain: bool,
    mail: Option<usize>,
    licensed: bool,
    /// 0: none, 1..=4: the anchor of that AD user, 5: an orphan.
    anchor: usize,
    deleted: bool,
}

fn ad_choice() -> impl Strategy<Value = AdChoice> {
    (
        0..NAMES.len(),
        any::<bool>(),
        proptest::option::of(0..NAMES.len()),
    )
        .prop_map(|(name, verified_suffix, mail)| AdChoice {
            name,
            verified_suffix,
            mail,
        })
}

fn cloud_choice() -> impl Strategy<Value = CloudChoice> {
    (
        0..NAMES.len(),
        any::<bool>(),
        proptest::option::of(0..NAMES.len()),
        any::<bool>(),
        0..6usize,
        proptest::bool::weighted(0.2),
    )
        .prop_map(
            |(name, initial_domain, mail, licensed, anchor, deleted)| CloudChoice {
                name,
                initial_domain,
                mail,
                licensed,
                anchor,
                deleted,
            },
        )
}

fn build_ad(choices: &[AdChoice]) -> Vec<AdUser> {
    choices
        .iter()
        .enumerate()
        .map(|(position, choice)| {
            let guid = ObjectGuid::from_ad_bytes([u8::try_from(position + 1).unwrap_or(0); 16]);
            let local = format!("{}{position}", NAMES[choice.name]);
            let suffix = if choice.verified_suffix {
                "contoso.com"
            } else {
                "corp.local"
            };
            let mail = choice
                .mail
                .map(|mail| format!("{}@contoso.com", NAMES[mail]));
            AdUser {
                distinguished_name: format!("CN={local},OU=Staff,DC=corp,DC=contoso,DC=com").into(),
                domain: None,
                object_guid: guid,
                consistency_guid: None,
                anchor_attribute: AnchorAttribute::ObjectGuid,
                immutable_id: guid.immutable_id(),
                user_principal_name: Some(format!("{}@{suffix}", NAMES[choice.name]).into()),
                mail: mail.as_deref().map(Into::into),
                proxy_addresses: mail
                    .map(|mail| vec![format!("SMTP:{mail}")])
                    .unwrap_or_default(),
                sam_account_name: Some(local.into()),
                display_name: None,
                enabled: true,
                object_sid: None,
            }
        })
        .collect()
}

fn build_cloud(choices: &[CloudChoice], ad: &[AdUser]) -> Vec<CloudUser> {
    choices
        .iter()
        .enumerate()
        .map(|(position, choice)| {
            let domain = if choice.initial_domain {
                "contoso.onmicrosoft.com"
            } else {
                "contoso.com"
            };
            let mail = choice
                .mail
                .map(|mail| format!("{}@contoso.com", NAMES[mail]));
            let anchor = match choice.anchor {
                0 => None,
                5 => Some(ImmutableId::from_text("b3JwaGFuIGFuY2hvciEhIQ==")),
                holder => ad.get(holder - 1).map(|user| user.immutable_id.clone()),
            };
            CloudUser {
                id: format!("c{position}").into(),
                user_principal_name: format!("{}{position}@{domain}", NAMES[choice.name]).into(),
                mail: mail.as_deref().map(Into::into),
                proxy_addresses: mail
                    .map(|mail| vec![format!("SMTP:{mail}")])
                    .unwrap_or_default(),
                deleted_date_time: choice.deleted.then(|| "2026-11-01T00:00:00Z".into()),
                on_premises_immutable_id: anchor,
                assigned_licenses: if choice.licensed {
                    vec![AssignedLicense {
                        sku_id: "c7df2760-2c81-4ef7-b578-5b5392b571df".into(),
                        disabled_plans: Vec::new(),
                    }]
                } else {
                    Vec::new()
                },
                ..CloudUser::default()
            }
        })
        .collect()
}

fn tenant(block_soft_match: bool, soft_match_on_upn: bool) -> TenantInfo {
    let domain = |name: &str, initial: bool| Domain {
        id: name.into(),
        authentication_type: "Managed".into(),
        is_default: !initial,
        is_initial: initial,
        is_verified: true,
    };
    TenantInfo {
        id: "tenant".into(),
        display_name: None,
        initial_domain: "contoso.onmicrosoft.com".into(),
        domains: vec![
            domain("contoso.com", false),
            domain("contoso.onmicrosoft.com", true),
        ],
        on_premises_sync_enabled: Some(true),
        on_premises_last_sync_date_time: None,
        on_premises_synchronization: Some(OnPremisesSynchronization {
            features: SyncFeatures {
                block_soft_match_enabled: block_soft_match,
                soft_match_on_upn_enabled: soft_match_on_upn,
                quarantine_upon_upn_conflict_enabled: true,
                quarantine_upon_proxy_addresses_conflict_enabled: true,
                ..SyncFeatures::default()
            },
            ..OnPremisesSynchronization::default()
        }),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn an_all_safe_plan_links_every_planned_user_without_new_duplicates(
        ad_choices in proptest::collection::vec(ad_choice(), 1..4),
        cloud_choices in proptest::collection::vec(cloud_choice(), 0..5),
        block_soft_match in any::<bool>(),
        soft_match_on_upn in any::<bool>(),
        first_sync in any::<bool>(),
        delete_after_sync in proptest::option::of(0..8usize),
    ) {
        check_plan(&ad_choices, &cloud_choices, (block_soft_match, soft_match_on_upn), first_sync, delete_after_sync, None)?;
    }

    #[test]
    fn a_mapped_plan_links_its_user_without_new_duplicates(
        ad_choices in proptest::collection::vec(ad_choice(), 1..4),
        cloud_choices in proptest::collection::vec(cloud_choice(), 1..5),
        block_soft_match in any::<bool>(),
        soft_match_on_upn in any::<bool>(),
        first_sync in any::<bool>(),
        delete_after_sync in proptest::option::of(0..8usize),
        pair in (0..4usize, 0..8usize),
    ) {
        check_plan(&ad_choices, &cloud_choices, (block_soft_match, soft_match_on_upn), first_sync, delete_after_sync, Some(pair))?;
    }
}

/// Builds the model, plans (all-safe, or a mapping of one AD user to one cloud user),
/// executes the plan and checks the promise.
fn check_plan(
    ad_choices: &[AdChoice],
    cloud_choices: &[CloudChoice],
    (block_soft_match, soft_match_on_upn): (bool, bool),
    first_sync: bool,
    delete_after_sync: Option<usize>,
    pair: Option<(usize, usize)>,
) -> Result<(), TestCaseError> {
    let ad = build_ad(ad_choices);
    let cloud = build_cloud(cloud_choices, &ad);
    let mut model = Model {
        ad,
        cloud,
        tenant: tenant(block_soft_match, soft_match_on_upn),
        roles: Vec::new(),
        eligible: Vec::new(),
        connector_space: ConnectorSpace::default(),
        scope: SyncScope::All,
        options: SyncOptions::default(),
        created: 0,
    };
    // A history: a first sync (creating duplicates and joins), then an admin's
    // soft deletion of some user.
    if first_sync {
        model.sync();
        if let Some(position) = delete_after_sync
            && let Some(user) = model.cloud.get_mut(position)
        {
            user.deleted_date_time = Some(NOW.into());
        }
    }
    let snapshot = TenantSnapshot {
        format_version: 1,
        source: TenantSnapshotSource {
            kind: "fixture".into(),
            location: "proptest".into(),
        },
        taken_at: NOW.into(),
        tenant: model.tenant.clone(),
        users: model.cloud.clone(),
        role_definitions: Vec::new(),
        role_assignments: Vec::new(),
        role_eligibilities: Vec::new(),
    };
    let diagnosis = diagnose(
        &model.ad,
        &snapshot,
        &DiagnoseOptions {
            scope: SyncScope::All,
            sync: SyncOptions::default(),
            connector_space: Some(model.connector_space.clone()),
            sync_report: SyncReportDetail::Summary,
        },
    );
    let policy = PlanPolicy::default();
    let selection = match pair {
        None => Selection::AllSafe,
        Some((ad_position, cloud_position)) => {
            let ad_user = &model.ad[ad_position % model.ad.len()];
            let cloud_user = &model.cloud[cloud_position % model.cloud.len()];
            Selection::Mapping(vec![MappingEntry {
                ad: ad_user.distinguished_name.to_string(),
                cloud: cloud_user.id.to_string(),
            }])
        }
    };
    let planned = plan(&PlanInput {
        ad_users: &model.ad,
        tenant: &snapshot,
        diagnosis: &diagnosis,
        connector_space: Some(&model.connector_space),
        selection: &selection,
        policy: &policy,
        generated_at: NOW,
    });
    let planned = match planned {
        Ok(planned) => planned,
        Err(refusal) => return Err(TestCaseError::fail(format!("refused: {refusal}"))),
    };
    for action in &planned.actions {
        if action.kind.removes_a_user() {
            let id = action.target.id.as_deref().unwrap_or_default();
            let holder = snapshot.users.iter().find(|user| user.id == id);
            prop_assert!(
                holder.is_some_and(|holder| !holder.is_licensed()),
                "deletes a licensed holder: {action:?}"
            );
        }
    }
    let outcomes = model.execute(&planned);
    if let Err(failure) = model.check_linked(&planned, &outcomes) {
        return Err(TestCaseError::fail(format!(
            "{failure}\nplan: {:#?}\nstate: {:#?}",
            planned.actions, model.cloud
        )));
    }
    // Running the sync again changes nothing for planned users: the link is stable.
    let again = model.run();
    for user in &planned.users {
        let position = model
            .ad
            .iter()
            .position(|ad| ad.immutable_id.as_str() == user.immutable_id);
        if let Some(position) = position {
            let decision = &again.decisions[position].decision;
            prop_assert!(
                matches!(decision, hardmatch_core::sync::UserDecision::Joined { .. }),
                "{} is not joined on the next cycle: {decision:?}",
                user.distinguished_name
            );
        }
    }
    Ok(())
}
