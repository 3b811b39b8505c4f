//! Organization, domains, tenant sync settings and role reads (graph-api.md §6, §7, §8).

use reqwest::StatusCode;

use crate::common::*;

#[tokio::test]
async fn organization_lists_sync_state_and_verified_domains() {
    let emulator = emulator().await;
    let token = app_token(&emulator).await;
    let reply = get(&emulator, &token, "/organization").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let organization = &reply.json()["value"][0];
    // graph-api.md §6: id, displayName, onPremisesSyncEnabled, onPremisesLastSyncDateTime,
    // verifiedDomains[{name,isDefault,isInitial,type,capabilities}].
    assert_eq!(organization["id"], TENANT_ID);
    assert_eq!(organization["onPremisesSyncEnabled"], true);
    let domains = organization["verifiedDomains"].as_array().unwrap();
    assert_eq!(domains.len(), 3);
    let initial = domains
        .iter()
        .find(|domain| domain["isInitial"] == true)
        .unwrap();
    assert_eq!(initial["name"], "contoso.onmicrosoft.com");
    let selected = get(
        &emulator,
        &token,
        "/organization?$select=onPremisesSyncEnabled,onPremisesLastSyncDateTime",
    )
    .await
    .json();
    assert_eq!(selected["value"][0].as_object().unwrap().len(), 3);
    emulator.shutdown().await;
}

#[tokio::test]
async fn domains_tell_federated_ones() {
    let emulator = emulator().await;
    let token = app_token(&emulator).await;
    let body = get(&emulator, &token, "/domains").await.json();
    // graph-api.md §6: authenticationType tells federated domains.
    let fabrikam = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|domain| domain["id"] == "fabrikam.com")
        .unwrap();
    assert_eq!(fabrikam["authenticationType"], "Federated");
    let unverified = get(&emulator, &token, "/domains/corp.contoso.local")
        .await
        .json();
    assert_eq!(unverified["isVerified"], false);
    emulator.shutdown().await;
}

#[tokio::test]
async fn tenant_sync_settings_are_403_for_app_only_unless_switched() {
    let emulator = emulator().await;
    let token = app_token(&emulator).await;
    // graph-api.md §7 + §16 #8: app-only → 403.
    graph_error(
        &get(&emulator, &token, "/directory/onPremisesSynchronization").await,
        403,
        "Authorization_RequestDenied",
    );
    emulator.shutdown().await;
    let emulator = emulator_with(fixture_with(|fixture| {
        fixture.settings.sync_settings_app_only_allowed = true;
        fixture.apps[0]
            .application_permissions
            .push("OnPremDirectorySynchronization.Read.All".into());
    }))
    .await;
    let token = app_token(&emulator).await;
    let reply = get(&emulator, &token, "/directory/onPremisesSynchronization").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let settings = &reply.json()["value"][0];
    // graph-api.md §7: a collection; configuration.accidentalDeletionPrevention; features.
    assert_eq!(
        settings["configuration"]["accidentalDeletionPrevention"]["alertThreshold"],
        500
    );
    assert_eq!(settings["features"]["softMatchOnUpnEnabled"], true);
    assert_eq!(settings["features"].as_object().unwrap().len(), 20);
    emulator.shutdown().await;
}

#[tokio::test]
async fn role_assignments_and_pim_eligibilities_filter_by_principal() {
    let emulator = emulator().await;
    let token = app_token(&emulator).await;
    // graph-api.md §8.
    let active = get(
        &emulator,
        &token,
        &format!(
            "/roleManagement/directory/roleAssignments?$filter=principalId%20eq%20'{ALEX_ADMIN}'"
        ),
    )
    .await
    .json();
    assert_eq!(active["value"].as_array().unwrap().len(), 1);
    assert_eq!(
        active["value"][0]["roleDefinitionId"],
        "62e90394-69f5-4237-9190-012177145e10"
    );
    let none = get(
        &emulator,
        &token,
        &format!("/roleManagement/directory/roleAssignments?$filter=principalId%20eq%20'{ADELE}'"),
    )
    .await
    .json();
    assert!(none["value"].as_array().unwrap().is_empty());
    let instances = get(&emulator, &token, &format!("/roleManagement/directory/roleAssignmentScheduleInstances?$filter=principalId%20eq%20'{ALEX_ADMIN}'")).await.json();
    assert_eq!(instances["value"][0]["assignmentType"], "Assigned");
    let eligible = get(&emulator, &token, &format!("/roleManagement/directory/roleEligibilityScheduleInstances?$filter=principalId%20eq%20'{DIEGO}'")).await.json();
    assert_eq!(
        eligible["value"][0]["roleDefinitionId"],
        "29232cdf-9323-42fd-ade2-1d097af3e4de"
    );
    emulator.shutdown().await;
}
