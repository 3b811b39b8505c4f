//! Tenant snapshots, including the 100,000-user request count.

use std::time::Instant;

use hardmatch_emulator::Fixture;
use hardmatch_graph::{CountingReporter, NoProgress, SnapshotPhase, snapshot_tenant};
use serde_json::json;

use crate::support::{self, fixture, served};

#[tokio::test]
async fn the_example_tenant_snapshot_loads_back_as_a_fixture() {
    let emulator = support::start(fixture()).await;
    let client = support::client(&emulator).await;
    let snapshot = snapshot_tenant(&client, &NoProgress)
        .await
        .expect("snapshot");
    assert_eq!(
        snapshot.format_version,
        hardmatch_core::tenant::TENANT_SNAPSHOT_FORMAT_VERSION
    );
    assert_eq!(snapshot.source.kind, "emulator");
    assert_eq!(snapshot.users.len(), 9);
    assert_eq!(
        snapshot
            .users
            .iter()
            .filter(|user| user.is_deleted())
            .count(),
        1
    );
    assert_eq!(snapshot.role_assignments.len(), 1);
    assert_eq!(snapshot.role_eligibilities.len(), 1);
    assert!(!snapshot.role_definitions.is_empty());
    let text = serde_json::to_string(&snapshot).expect("json");
    let reloaded = Fixture::from_json(&text).expect("a snapshot loads as a fixture");
    assert_eq!(reloaded.users.len(), 9);
    emulator.shutdown().await;
}

/// The measure: ⌈100000/999⌉ = 101 user-list requests, one deleted-users request,
/// the tenant-info requests, and no 429 for the caller, under the real (throttled) quotas.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100k_user_tenant_is_read_in_101_user_list_requests() {
    const USERS: usize = 100_000;
    let mut tenant = Fixture::empty(
        "7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e0f",
        "contoso.onmicrosoft.com",
    );
    tenant.apps = fixture().apps;
    tenant.settings.throttling_enabled = true;
    for index in 0..USERS {
        let user = json!({
            "id": format!("{:08x}-0000-4000-8000-{:012x}", index, index),
            "userPrincipalName": format!("user{index}@contoso.onmicrosoft.com"),
            "displayName": format!("User {index}"),
            "accountEnabled": true,
            "onPremisesImmutableId": if index % 2 == 0 { json!(format!("{:022}==", index)) } else { json!(null) },
            "proxyAddresses": [format!("SMTP:user{index}@contoso.onmicrosoft.com")],
            "assignedLicenses": [],
        });
        tenant
            .users
            .push(user.as_object().cloned().expect("object"));
    }
    tenant.users.push(
        json!({
            "id": "ffffffff-0000-4000-8000-000000000001",
            "userPrincipalName": "ffffffff000040008000000000000001gone@contoso.onmicrosoft.com",
            "deletedDateTime": "2026-11-20T00:00:00Z",
        })
        .as_object()
        .cloned()
        .expect("object"),
    );
    let emulator = support::start(tenant).await;
    let client = support::client(&emulator).await;
    let reporter = CountingReporter::default();
    let started = Instant::now();
    let snapshot = snapshot_tenant(&client, &reporter)
        .await
        .expect("snapshot without a 429");
    let elapsed = started.elapsed();
    assert_eq!(
        snapshot
            .users
            .iter()
            .filter(|user| !user.is_deleted())
            .count(),
        USERS
    );
    assert_eq!(
        snapshot
            .users
            .iter()
            .filter(|user| user.is_deleted())
            .count(),
        1
    );

    // Counted from the emulator's own log over HTTP, as an operator would.
    let text = support::control_client()
        .get(format!("{}/_emulator/requests", emulator.base_url()))
        .send()
        .await
        .expect("request log")
        .text()
        .await
        .expect("body");
    let listed: serde_json::Value = serde_json::from_str(&text).expect("json");
    let log: Vec<(String, String, String, u64)> = listed["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .map(|entry| {
            (
                entry["method"].as_str().unwrap_or_default().to_owned(),
                entry["path"].as_str().unwrap_or_default().to_owned(),
                entry["query"].as_str().unwrap_or_default().to_owned(),
                entry["status"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(log, served(&emulator));
    let count = |path: &str| {
        log.iter()
            .filter(|(method, served_path, _, _)| method == "GET" && served_path == path)
            .count()
    };
    let expected_pages = USERS.div_ceil(999);
    assert_eq!(expected_pages, 101);
    assert_eq!(count("/v1.0/users"), expected_pages);
    assert_eq!(
        count("/v1.0/directory/deletedItems/microsoft.graph.user"),
        1
    );
    assert_eq!(count("/v1.0/organization"), 1);
    assert_eq!(count("/v1.0/domains"), 1);
    assert_eq!(log.iter().filter(|entry| entry.3 == 429).count(), 0);
    let graph_requests = log
        .iter()
        .filter(|entry| entry.1.starts_with("/v1.0/"))
        .count();
    let progress = reporter.calls();
    let user_pages: Vec<usize> = progress
        .iter()
        .filter(|(phase, _)| *phase == SnapshotPhase::ActiveUsers)
        .map(|(_, count)| *count)
        .collect();
    assert_eq!(user_pages.len(), expected_pages);
    assert_eq!(user_pages.last(), Some(&USERS));
    assert_eq!(
        reporter.totals(),
        vec![(SnapshotPhase::ActiveUsers, USERS as u64)]
    );
    eprintln!(
        "100k snapshot: {elapsed:.1?}, {graph_requests} Graph requests ({expected_pages} user pages), {} served in all",
        log.len()
    );
    emulator.shutdown().await;
}
