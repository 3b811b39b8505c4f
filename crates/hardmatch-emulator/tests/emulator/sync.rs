//! The sync cycle through `POST /_emulator/sync`, and the field story of the issue: a
//! duplicate created by sync, its removal, and the hard match that follows
//! (entra-matching.md §4, §6, §12; graph-api.md §10).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

/// Adele in AD: anchor 6SNZnFLe6jOI3n68hjO5zA== (GUID 9c5923e9-…), UPN in an unverified
/// suffix, the way her sync-created duplicate came to be.
fn adele_in_ad() -> Value {
    json!({
        "distinguished_name": "CN=Adele Vance,OU=Staff,DC=corp,DC=contoso,DC=local",
        "domain": "corp.contoso.local",
        "object_guid": "9c5923e9-de52-33ea-88de-7ebc8633b9cc",
        "anchor_attribute": "objectGUID",
        "immutable_id": ADELE_ANCHOR,
        "user_principal_name": "adele.vance@corp.contoso.local",
        "mail": "adele.vance@contoso.com",
        "proxy_addresses": ["SMTP:adele.vance@contoso.com"],
        "sam_account_name": "adelev",
        "display_name": "Adele Vance",
        "given_name": "Adele",
        "surname": "Vance",
        "enabled": true,
    })
}

fn lee_in_ad() -> Value {
    json!({
        "distinguished_name": "CN=Lee Gu,OU=Staff,DC=corp,DC=contoso,DC=local",
        "object_guid": "88666888-0101-1111-bbbb-1234567890ab",
        "anchor_attribute": "objectGUID",
        "immutable_id": "iGhmiAEBERG7uxI0VniQqw==",
        "user_principal_name": "lee.gu@contoso.com",
        "mail": "lee.gu@contoso.com",
        "proxy_addresses": ["SMTP:lee.gu@contoso.com"],
        "display_name": "Lee Gu",
        "enabled": true,
    })
}

fn new_user_in_ad() -> Value {
    json!({
        "distinguished_name": "CN=Nestor Wilke,OU=Staff,DC=corp,DC=contoso,DC=local",
        "object_guid": "d749534e-9f86-44a7-b572-6be7b53b2ca9",
        "anchor_attribute": "objectGUID",
        "immutable_id": "TlNJ14afp0S1cmvntTssqQ==",
        "user_principal_name": "nestor.wilke@corp.contoso.local",
        "display_name": "Nestor Wilke",
        "enabled": true,
    })
}

async fn sync(emulator: &hardmatch_emulator::RunningEmulator, users: Vec<Value>) -> Value {
    let response = client()
        .post(format!("{}/_emulator/sync", emulator.base_url()))
        .body(json!({"ad_users": users}).to_string())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn the_field_story_duplicate_purge_stamp_and_hard_match() {
    let emulator = emulator().await;
    let token = app_token(&emulator).await;
    // Step 1: the AD user is joined to the sync-created duplicate next to the licensed
    // cloud-only account that is really hers; a cycle changes nothing about that.
    let report = sync(&emulator, vec![adele_in_ad(), lee_in_ad()]).await;
    assert!(report["joins"].as_array().unwrap().is_empty(), "{report}");
    // Step 3 (first, while the duplicate sits in the recycle bin): stamping fails with the
    // conflict error (graph-api.md §10, §16 #1).
    assert_eq!(
        delete(&emulator, &token, &format!("/users/{ADELE_DUPLICATE}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let reply = patch(
        &emulator,
        &token,
        &format!("/users/{ADELE}"),
        json!({"onPremisesImmutableId": ADELE_ANCHOR}),
    )
    .await;
    let error = graph_error(&reply, 400, "Request_BadRequest");
    assert_eq!(
        error["details"][1]["target"],
        format!("User_{ADELE_DUPLICATE}")
    );
    // Step 2: purge the duplicate, stamp the real account, run a cycle: linked, synced,
    // no duplicate (entra-matching.md §4 hard match, §12).
    assert_eq!(
        delete(
            &emulator,
            &token,
            &format!("/directory/deletedItems/{ADELE_DUPLICATE}")
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    let reply = patch(
        &emulator,
        &token,
        &format!("/users/{ADELE}"),
        json!({"onPremisesImmutableId": ADELE_ANCHOR}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);
    let report = sync(&emulator, vec![adele_in_ad(), lee_in_ad()]).await;
    let joins = report["joins"].as_array().unwrap();
    assert_eq!(joins.len(), 1, "{report}");
    assert_eq!(joins[0]["cloud_user_id"], ADELE);
    assert!(
        report["creations"].as_array().unwrap().is_empty(),
        "{report}"
    );
    let adele = get(&emulator, &token, &format!("/users/{ADELE}?$select=id,onPremisesSyncEnabled,onPremisesLastSyncDateTime,onPremisesImmutableId")).await.json();
    assert_eq!(adele["onPremisesSyncEnabled"], true);
    assert!(adele["onPremisesLastSyncDateTime"].is_string());
    let holders = get(
        &emulator,
        &token,
        "/users?$filter=onPremisesImmutableId%20eq%20'6SNZnFLe6jOI3n68hjO5zA%3D%3D'&$select=id",
    )
    .await
    .json();
    assert_eq!(holders["value"].as_array().unwrap().len(), 1);
    // Now synced: Graph refuses writes (graph-api.md §10).
    let reply = patch(
        &emulator,
        &token,
        &format!("/users/{ADELE}"),
        json!({"onPremisesImmutableId": null}),
    )
    .await;
    graph_error(&reply, 400, "Request_BadRequest");
    let state = emulator.state_json();
    assert!(
        state["connector_space"]
            .as_array()
            .unwrap()
            .iter()
            .any(|join| join["cloud_user_id"] == ADELE)
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn an_unmatched_user_with_an_unverified_suffix_is_created_in_the_initial_domain() {
    let emulator = emulator().await;
    let token = app_token(&emulator).await;
    // The recycle-bin holder of this anchor would be restored by a hard match; purge it
    // first so the user is new.
    assert_eq!(
        delete(
            &emulator,
            &token,
            &format!("/directory/deletedItems/{MEGAN_DELETED}")
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    let report = sync(
        &emulator,
        vec![adele_in_ad(), lee_in_ad(), new_user_in_ad()],
    )
    .await;
    let creations = report["creations"].as_array().unwrap();
    assert_eq!(creations.len(), 1, "{report}");
    // entra-matching.md §4.3 + the unverified-suffix rule.
    assert_eq!(
        creations[0]["user_principal_name"],
        "nestor.wilke@contoso.onmicrosoft.com"
    );
    let created = get(&emulator, &token, "/users/nestor.wilke@contoso.onmicrosoft.com?$select=id,onPremisesImmutableId,onPremisesSyncEnabled").await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    let created = created.json();
    assert_eq!(created["onPremisesImmutableId"], "TlNJ14afp0S1cmvntTssqQ==");
    assert_eq!(created["onPremisesSyncEnabled"], true);
    assert_eq!(created["id"].as_str().unwrap().len(), 36);
    // Leaving scope soft-deletes (entra-matching.md §12).
    let report = sync(&emulator, vec![adele_in_ad(), lee_in_ad()]).await;
    assert_eq!(report["deletions"].as_array().unwrap().len(), 1, "{report}");
    let deleted = get(&emulator, &token, "/directory/deletedItems/microsoft.graph.user?$filter=onPremisesImmutableId%20eq%20'TlNJ14afp0S1cmvntTssqQ%3D%3D'&$select=id,onPremisesSyncEnabled").await.json();
    assert_eq!(deleted["value"][0]["onPremisesSyncEnabled"], false);
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_sync_without_ad_users_is_a_400() {
    let emulator = emulator().await;
    let response = client()
        .post(format!("{}/_emulator/sync", emulator.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    emulator.shutdown().await;
}

#[tokio::test]
async fn the_configured_ad_snapshot_feeds_a_cycle_and_the_rust_api_runs_it() {
    let snapshot: hardmatch_core::ad::AdSnapshot = serde_json::from_value(json!({
        "format_version": 1,
        "source": {"kind": "snapshot", "locations": ["lab.json"]},
        "taken_at": "2026-11-22T00:00:00Z",
        "users": [adele_in_ad(), lee_in_ad()],
    }))
    .unwrap();
    let mut options =
        hardmatch_emulator::EmulatorOptions::new(hardmatch_emulator::Fixture::example());
    options.ad_snapshot = Some(snapshot);
    let emulator = hardmatch_emulator::start(options).await.unwrap();
    // An empty body reads the snapshot given at start.
    let response = client()
        .post(format!("{}/_emulator/sync", emulator.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let report = json_of(response).await;
    assert_eq!(report["status"], "success", "{report}");
    assert_eq!(report["users_in_scope"], 2);
    // The same through the Rust API; a scope that excludes everyone soft-deletes the
    // joined users (entra-matching.md §12).
    let request: hardmatch_emulator::SyncRequest = serde_json::from_value(json!({
        "scope": {"kind": "organizational_units", "include": ["OU=Elsewhere,DC=corp,DC=contoso,DC=local"]}
    }))
    .unwrap();
    let report = emulator.run_sync(request).unwrap();
    assert_eq!(report["deletions"].as_array().unwrap().len(), 2, "{report}");
    let state = emulator.state_json();
    assert!(state["connector_space"].as_array().unwrap().is_empty());
    emulator.shutdown().await;
}

#[tokio::test]
async fn more_deletions_than_the_threshold_stop_the_export() {
    // entra-matching.md §10: above the threshold nothing is deleted.
    let emulator = emulator_with(fixture_with(|fixture| {
        if let Some(settings) = fixture.tenant.on_premises_synchronization.as_mut() {
            settings
                .configuration
                .accidental_deletion_prevention
                .alert_threshold = 1;
        }
    }))
    .await;
    let report = sync(&emulator, vec![]).await;
    assert_eq!(
        report["status"], "stopped-deletion-threshold-exceeded",
        "{report}"
    );
    let token = app_token(&emulator).await;
    assert_eq!(
        get(&emulator, &token, &format!("/users/{LEE_SYNCED}"))
            .await
            .status,
        StatusCode::OK
    );
    emulator.shutdown().await;
}
