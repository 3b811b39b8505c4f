//! Data-driven scenarios: each file in `tests/scenarios/` holds both directories, the
//! tenant flags, the connector space and the plan request IN, and the expected statuses
//! and plan actions OUT. The format is documented in `tests/scenarios/README.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use hardmatch_core::ad::{AdUser, AnchorAttribute};
use hardmatch_core::anchor::{ImmutableId, ObjectGuid};
use hardmatch_core::diagnose::{DiagnoseOptions, Status, diagnose};
use hardmatch_core::plan::{
    ActionKind, MappingEntry, Plan, PlanInput, PlanPolicy, Selection, plan,
};
use hardmatch_core::sync::{ConnectorSpace, ConnectorSpaceJoin, SyncOptions, SyncScope};
use hardmatch_core::tenant::{
    AssignedLicense, CloudUser, Domain, OnPremisesProvisioningError, OnPremisesSynchronization,
    RoleAssignment, SignInActivity, SyncFeatures, TenantInfo, TenantSnapshot, TenantSnapshotSource,
};
use serde::Deserialize;

use crate::support::{Model, NOW};

const DEFAULT_OU: &str = "OU=Staff,DC=corp,DC=contoso,DC=com";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    description: String,
    #[serde(default)]
    reference: String,
    #[serde(default)]
    tenant: TenantSpec,
    ad: Vec<AdSpec>,
    #[serde(default)]
    cloud: Vec<CloudSpec>,
    /// AD name → cloud id. Absent: inferred from the tenant, as `status` does.
    #[serde(default)]
    joins: Option<BTreeMap<String, String>>,
    #[serde(default)]
    scope: Option<Vec<String>>,
    #[serde(default)]
    plan: Option<PlanSpec>,
    expect: Expect,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct TenantSpec {
    block_soft_match: bool,
    soft_match_on_upn: bool,
    block_takeover: bool,
    password_hash_sync: bool,
    upn_quarantine_off: bool,
    federated_domains: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdSpec {
    name: String,
    guid: u8,
    #[serde(default)]
    upn: Option<String>,
    #[serde(default)]
    mail: Option<String>,
    #[serde(default)]
    proxies: Vec<String>,
    #[serde(default)]
    ou: Option<String>,
    /// `mS-DS-ConsistencyGuid` mode with the attribute still empty.
    #[serde(default)]
    empty_consistency_guid: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CloudSpec {
    id: String,
    upn: String,
    #[serde(default)]
    mail: Option<String>,
    #[serde(default)]
    proxies: Vec<String>,
    #[serde(default)]
    licensed: bool,
    /// Holds this AD user's ImmutableID.
    #[serde(default)]
    anchor_of: Option<String>,
    /// Holds this literal ImmutableID.
    #[serde(default)]
    anchor: Option<String>,
    #[serde(default)]
    synced: Option<bool>,
    #[serde(default)]
    deleted: bool,
    /// `active` and/or `eligible`.
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    object_identifier: Option<String>,
    #[serde(default)]
    last_sign_in: Option<String>,
    /// `ProxyAddress smtp:x@y` or `UserPrincipalName x@y`.
    #[serde(default)]
    quarantined: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanSpec {
    selection: SelectionSpec,
    #[serde(default)]
    policy: PlanPolicy,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum SelectionSpec {
    Users(Vec<String>),
    Mapping(BTreeMap<String, String>),
    AllSafe,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Expect {
    /// AD name → `status[:reason]`.
    statuses: BTreeMap<String, String>,
    /// `kind target` in order; the target is a cloud id or an AD name.
    actions: Vec<String>,
    /// AD name → skip code.
    skipped: BTreeMap<String, String>,
    /// A refusal message fragment, instead of a plan.
    refusal: Option<String>,
    /// Executing the plan links every planned user without a new duplicate.
    linked_after_apply: bool,
}

fn distinguished_name(spec: &AdSpec) -> String {
    format!(
        "CN={},{}",
        spec.name,
        spec.ou.as_deref().unwrap_or(DEFAULT_OU)
    )
}

fn ad_user(spec: &AdSpec) -> AdUser {
    let guid = ObjectGuid::from_ad_bytes([spec.guid; 16]);
    let mut proxies = spec.proxies.clone();
    if proxies.is_empty()
        && let Some(mail) = &spec.mail
    {
        proxies.push(format!("SMTP:{mail}"));
    }
    AdUser {
        distinguished_name: distinguished_name(spec).into(),
        domain: Some("corp.contoso.com".into()),
        object_guid: guid,
        consistency_guid: None,
        anchor_attribute: if spec.empty_consistency_guid {
            AnchorAttribute::ConsistencyGuid
        } else {
            AnchorAttribute::ObjectGuid
        },
        immutable_id: guid.immutable_id(),
        user_principal_name: spec.upn.as_deref().map(Into::into),
        mail: spec.mail.as_deref().map(Into::into),
        proxy_addresses: proxies,
        sam_account_name: Some(spec.name.as_str().into()),
        display_name: Some(spec.name.as_str().into()),
        enabled: true,
        object_sid: None,
    }
}

fn cloud_user(spec: &CloudSpec, ad: &BTreeMap<String, AdUser>) -> CloudUser {
    let mut proxies = spec.proxies.clone();
    if proxies.is_empty()
        && let Some(mail) = &spec.mail
    {
        proxies.push(format!("SMTP:{mail}"));
    }
    let anchor = match (&spec.anchor_of, &spec.anchor) {
        (Some(name), _) => Some(
            ad.get(name)
                .expect("anchor_of names an AD user of the scenario")
                .immutable_id
                .clone(),
        ),
        (None, Some(literal)) => Some(ImmutableId::from_text(literal.clone())),
        (None, None) => None,
    };
    CloudUser {
        id: spec.id.as_str().into(),
        user_principal_name: spec.upn.as_str().into(),
        display_name: Some(format!("{} (cloud)", spec.id).into()),
        mail: spec.mail.as_deref().map(Into::into),
        proxy_addresses: proxies,
        account_enabled: Some(true),
        deleted_date_time: spec.deleted.then(|| "2026-11-01T00:00:00Z".into()),
        on_premises_immutable_id: anchor,
        on_premises_sync_enabled: spec.synced,
        on_premises_object_identifier: spec.object_identifier.as_deref().map(Into::into),
        on_premises_provisioning_errors: spec
            .quarantined
            .iter()
            .map(|text| {
                let (property, value) = text.split_once(' ').unwrap_or((text, ""));
                OnPremisesProvisioningError {
                    category: Some("PropertyConflict".into()),
                    occurred_date_time: None,
                    property_causing_error: Some(property.into()),
                    value: Some(value.into()),
                }
            })
            .collect(),
        assigned_licenses: if spec.licensed {
            vec![AssignedLicense {
                sku_id: "c7df2760-2c81-4ef7-b578-5b5392b571df".into(),
                disabled_plans: Vec::new(),
            }]
        } else {
            Vec::new()
        },
        sign_in_activity: spec.last_sign_in.as_ref().map(|last| {
            Box::new(SignInActivity {
                last_sign_in_date_time: Some(last.clone()),
                ..SignInActivity::default()
            })
        }),
        ..CloudUser::default()
    }
}

fn tenant(spec: &TenantSpec) -> TenantInfo {
    let mut domains = vec![
        Domain {
            id: "contoso.com".into(),
            authentication_type: "Managed".into(),
            is_default: true,
            is_initial: false,
            is_verified: true,
        },
        Domain {
            id: "contoso.onmicrosoft.com".into(),
            authentication_type: "Managed".into(),
            is_default: false,
            is_initial: true,
            is_verified: true,
        },
    ];
    for name in &spec.federated_domains {
        domains.push(Domain {
            id: name.clone(),
            authentication_type: "Federated".into(),
            is_default: false,
            is_initial: false,
            is_verified: true,
        });
    }
    TenantInfo {
        id: "00000000-0000-0000-0000-00000000c0de".into(),
        display_name: Some("Contoso".into()),
        initial_domain: "contoso.onmicrosoft.com".into(),
        domains,
        on_premises_sync_enabled: Some(true),
        on_premises_last_sync_date_time: None,
        on_premises_synchronization: Some(OnPremisesSynchronization {
            features: SyncFeatures {
                block_cloud_object_takeover_through_hard_match_enabled: spec.block_takeover,
                block_soft_match_enabled: spec.block_soft_match,
                soft_match_on_upn_enabled: spec.soft_match_on_upn,
                quarantine_upon_upn_conflict_enabled: !spec.upn_quarantine_off,
                quarantine_upon_proxy_addresses_conflict_enabled: true,
                password_sync_enabled: spec.password_hash_sync,
                other: serde_json::Map::new(),
            },
            ..OnPremisesSynchronization::default()
        }),
    }
}

fn status_text(status: &Status) -> String {
    let value = serde_json::to_value(status).expect("statuses serialize");
    let name = status.name();
    match status {
        Status::WillSoftMatch { .. } => {
            format!("{name}:{}", value["attribute"].as_str().unwrap_or("?"))
        }
        Status::Blocked { reason } => {
            match serde_json::to_value(reason).expect("reasons serialize") {
                serde_json::Value::String(reason) => format!("{name}:{reason}"),
                serde_json::Value::Object(map) => {
                    let (key, flag) = map.iter().next().expect("one variant");
                    format!("{name}:{key}:{}", flag.as_str().unwrap_or("?"))
                }
                other => format!("{name}:{other}"),
            }
        }
        Status::Conflicting { .. } => format!("{name}:{}", value["reason"].as_str().unwrap_or("?")),
        _ => name.to_owned(),
    }
}

/// Coverage collected over all scenarios.
#[derive(Default)]
struct Coverage {
    statuses: BTreeSet<String>,
    actions: BTreeSet<&'static str>,
}

fn run_scenario(path: &Path, coverage: &mut Coverage) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|error| error.to_string())?;
    let scenario: Scenario =
        serde_json::from_str(&text).map_err(|error| format!("parse: {error}"))?;
    assert!(
        !scenario.description.is_empty(),
        "every scenario says what it shows"
    );
    let _ = &scenario.reference;
    let ad_by_name: BTreeMap<String, AdUser> = scenario
        .ad
        .iter()
        .map(|spec| (spec.name.clone(), ad_user(spec)))
        .collect();
    let ad_users: Vec<AdUser> = scenario.ad.iter().map(ad_user).collect();
    let cloud_users: Vec<CloudUser> = scenario
        .cloud
        .iter()
        .map(|spec| cloud_user(spec, &ad_by_name))
        .collect();
    let role = |principal: &str| RoleAssignment {
        id: format!("role-{principal}"),
        principal_id: principal.to_owned(),
        role_definition_id: "62e90394-69f5-4237-9190-012177145e10".into(),
        directory_scope_id: "/".into(),
    };
    let with_role = |kind: &str| -> Vec<RoleAssignment> {
        scenario
            .cloud
            .iter()
            .filter(|spec| spec.roles.iter().any(|role| role == kind))
            .map(|spec| role(&spec.id))
            .collect()
    };
    let tenant_info = tenant(&scenario.tenant);
    let snapshot = TenantSnapshot {
        format_version: 1,
        source: TenantSnapshotSource {
            kind: "fixture".into(),
            location: path.display().to_string(),
        },
        taken_at: NOW.into(),
        tenant: tenant_info.clone(),
        users: cloud_users.clone(),
        role_definitions: Vec::new(),
        role_assignments: with_role("active"),
        role_eligibilities: with_role("eligible"),
    };
    let connector_space = scenario.joins.as_ref().map(|joins| ConnectorSpace {
        joins: joins
            .iter()
            .map(|(name, cloud)| ConnectorSpaceJoin {
                source_anchor: ad_by_name[name].immutable_id.clone(),
                cloud_user_id: cloud.clone(),
                distinguished_name: None,
            })
            .collect(),
    });
    let scope = match &scenario.scope {
        Some(include) => SyncScope::OrganizationalUnits {
            include: include.clone(),
            exclude: Vec::new(),
        },
        None => SyncScope::All,
    };
    let diagnosis = diagnose(
        &ad_users,
        &snapshot,
        &DiagnoseOptions {
            scope: scope.clone(),
            sync: SyncOptions::default(),
            connector_space: connector_space.clone(),
            ..DiagnoseOptions::default()
        },
    );
    let name_of = |distinguished: &str| -> String {
        scenario
            .ad
            .iter()
            .find(|spec| distinguished_name(spec) == distinguished)
            .map_or_else(|| distinguished.to_owned(), |spec| spec.name.clone())
    };
    for user in &diagnosis.users {
        coverage.statuses.insert(status_text(&user.status));
    }
    for (name, expected) in &scenario.expect.statuses {
        let user = diagnosis
            .users
            .iter()
            .find(|user| name_of(user.distinguished_name()) == *name)
            .ok_or_else(|| format!("no status for {name}"))?;
        let actual = status_text(&user.status);
        if &actual != expected {
            return Err(format!(
                "status of {name}: expected {expected}, got {actual}; evidence: {:#?}",
                user.evidence
            ));
        }
    }

    let Some(plan_spec) = &scenario.plan else {
        return Ok(());
    };
    let selection = match &plan_spec.selection {
        SelectionSpec::Users(names) => Selection::Users(names.clone()),
        SelectionSpec::Mapping(map) => Selection::Mapping(
            map.iter()
                .map(|(ad, cloud)| MappingEntry {
                    ad: ad.clone(),
                    cloud: cloud.clone(),
                })
                .collect(),
        ),
        SelectionSpec::AllSafe => Selection::AllSafe,
    };
    let result = plan(&PlanInput {
        ad_users: &ad_users,
        tenant: &snapshot,
        diagnosis: &diagnosis,
        connector_space: connector_space.as_ref(),
        selection: &selection,
        policy: &plan_spec.policy,
        generated_at: NOW,
    });
    let planned: Plan = match (result, &scenario.expect.refusal) {
        (Err(refusal), Some(expected)) if refusal.to_string().contains(expected.as_str()) => {
            return Ok(());
        }
        (Err(refusal), _) => return Err(format!("plan refused: {refusal}")),
        (Ok(_), Some(expected)) => return Err(format!("expected a refusal containing {expected}")),
        (Ok(planned), None) => planned,
    };
    let name_for_target = |action: &hardmatch_core::plan::PlanAction| -> String {
        match action.target.distinguished_name.as_deref() {
            Some(distinguished) => name_of(distinguished),
            None => action.target.id.clone().unwrap_or_default(),
        }
    };
    let actual: Vec<String> = planned
        .actions
        .iter()
        .map(|action| {
            coverage.actions.insert(action.kind.name());
            let target = name_for_target(action);
            if target.is_empty() {
                action.kind.name().to_owned()
            } else {
                format!("{} {target}", action.kind.name())
            }
        })
        .collect();
    if actual != scenario.expect.actions {
        return Err(format!(
            "actions: expected {:#?}\ngot {actual:#?}\nskipped {:#?}",
            scenario.expect.actions, planned.skipped
        ));
    }
    let skipped: BTreeMap<String, String> = planned
        .skipped
        .iter()
        .map(|skipped| (name_of(&skipped.user), skipped.code.clone()))
        .collect();
    if skipped != scenario.expect.skipped {
        return Err(format!(
            "skipped: expected {:?}, got {:#?}",
            scenario.expect.skipped, planned.skipped
        ));
    }
    // Every plan survives its own file format and renders.
    let reread = Plan::from_json(&planned.to_json().map_err(|error| error.to_string())?)
        .map_err(|error| error.to_string())?;
    assert_eq!(reread, planned);
    let shown = hardmatch_core::plan::render_show(&planned);
    let script = hardmatch_core::plan::render_powershell(&planned);
    if planned.actions.iter().any(|action| action.irreversible) {
        assert!(shown.contains("IRREVERSIBLE") && script.contains("IRREVERSIBLE"));
    }

    if scenario.expect.linked_after_apply {
        let mut model = Model {
            ad: ad_users.clone(),
            cloud: cloud_users,
            tenant: tenant_info,
            roles: snapshot.role_assignments.clone(),
            eligible: snapshot.role_eligibilities.clone(),
            connector_space: connector_space
                .unwrap_or_else(|| ConnectorSpace::infer(&ad_users, &snapshot.users)),
            scope,
            options: SyncOptions::default(),
            created: 0,
        };
        let outcomes = model.execute(&planned);
        model.check_linked(&planned, &outcomes)?;
        if planned.users.is_empty() {
            return Err("linked_after_apply with no planned user".to_owned());
        }
    }
    Ok(())
}

fn scenario_files() -> Vec<PathBuf> {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&directory)
        .expect("the scenarios directory exists")
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "json")
        })
        .collect();
    files.sort();
    files
}

#[test]
fn every_scenario_file_holds() {
    let mut coverage = Coverage::default();
    let mut failures = Vec::new();
    let files = scenario_files();
    assert!(!files.is_empty());
    for path in &files {
        if let Err(failure) = run_scenario(path, &mut coverage) {
            failures.push(format!("{}: {failure}", path.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));

    // The scenarios together cover every status, reason and action kind.
    let statuses = [
        "linked",
        "will_hard_match",
        "will_soft_match:primary_smtp",
        "will_soft_match:user_principal_name",
        "will_create",
        "blocked:admin_role",
        "blocked:pim_eligibility",
        "blocked:object_identifier",
        "blocked:tenant_flag:blockCloudObjectTakeoverThroughHardMatchEnabled",
        "blocked:tenant_flag:blockSoftMatchEnabled",
        "blocked:synced_from_other_anchor",
        "blocked:federated_domain",
        "conflicting:invalid_soft_match",
        "conflicting:upn_conflict",
        "conflicting:proxy_address_conflict",
        "conflicting:immutable_id_held_by_other",
        "conflicting:sync_created_duplicate",
        "conflicting:quarantined_attribute",
        "conflicting:duplicate_source_anchor",
        "out_of_scope",
    ];
    let missing: Vec<_> = statuses
        .iter()
        .filter(|status| !coverage.statuses.contains(**status))
        .collect();
    assert!(missing.is_empty(), "no scenario shows {missing:?}");
    let kinds = [
        ActionKind::SetImmutableId,
        ActionKind::ClearImmutableId,
        ActionKind::SoftDelete,
        ActionKind::PurgeDeleted,
        ActionKind::RestoreDeleted,
        ActionKind::AdSetUpn,
        ActionKind::AdAddProxyAddress,
        ActionKind::AdSetConsistencyGuid,
        ActionKind::AdMoveOutOfScope,
        ActionKind::AdMoveIntoScope,
        ActionKind::TriggerSync,
    ];
    let missing: Vec<_> = kinds
        .iter()
        .filter(|kind| !coverage.actions.contains(kind.name()))
        .collect();
    assert!(missing.is_empty(), "no scenario plans {missing:?}");
}
