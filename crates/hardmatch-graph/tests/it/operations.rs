//! Every typed operation against the example tenant.

use hardmatch_core::anchor::ImmutableId;
use hardmatch_emulator::settings::ConflictShape;
use hardmatch_graph::{
    CredentialSettings, GraphClient, GraphError, HolderLookup, Operation, RestoreOptions, Secret,
    SyncSettingsRead,
};

use crate::support::{self, READ_ONLY_CLIENT_ID, READ_ONLY_CLIENT_SECRET, client, fixture, start};

const LYNNE: &str = "1a2b3c4d-0001-4e5f-8a9b-0c1d2e3f4a01";
const ADELE: &str = "2c3d4e5f-0002-4e5f-8a9b-0c1d2e3f4a02";
const SYNCED_ADELE: &str = "5c6d7e8f-0005-4e5f-8a9b-0c1d2e3f4a05";
const LEE_SYNCED: &str = "6e7f8a9b-0006-4e5f-8a9b-0c1d2e3f4a06";
const DELETED_MEGAN: &str = "7a8b9c0d-0007-4e5f-8a9b-0c1d2e3f4a07";
const ALEX_GLOBAL_ADMIN: &str = "4a5b6c7d-0004-4e5f-8a9b-0c1d2e3f4a04";
const DIEGO_ELIGIBLE: &str = "8c9d0e1f-0008-4e5f-8a9b-0c1d2e3f4a08";

#[tokio::test]
async fn lists_and_gets_users_active_and_deleted() {
    let emulator = start(fixture()).await;
    let client = client(&emulator).await;
    let users = client.list_users().await.expect("lists");
    assert_eq!(users.len(), 8);
    assert!(users.iter().all(|user| !user.is_deleted()));
    let synced = users
        .iter()
        .find(|user| user.id == LEE_SYNCED)
        .expect("present");
    assert!(synced.is_synced());
    assert!(
        synced.on_premises_immutable_id.is_some(),
        "selected properties arrive"
    );
    let deleted = client.list_deleted_users().await.expect("lists deleted");
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].id, DELETED_MEGAN);
    assert!(deleted[0].is_deleted());

    let by_upn = client
        .get_user("adele.vance@contoso.com")
        .await
        .expect("by upn");
    assert_eq!(by_upn.id, ADELE);
    assert!(by_upn.is_licensed());
    let by_id = client.get_user(LYNNE).await.expect("by id");
    assert_eq!(by_id.user_principal_name, "lynne.robbins@contoso.com");
    let in_bin = client
        .get_deleted_user(DELETED_MEGAN)
        .await
        .expect("deleted by id");
    assert!(in_bin.is_deleted());

    let missing = client
        .get_user("nobody@contoso.com")
        .await
        .expect_err("missing");
    assert!(missing.is_not_found(), "{missing:?}");
    assert!(
        missing
            .request_ids()
            .and_then(|ids| ids.request_id.clone())
            .is_some()
    );

    let many = client
        .get_users(&[
            LYNNE.to_owned(),
            "nobody@contoso.com".to_owned(),
            ADELE.to_owned(),
        ])
        .await
        .expect("batch");
    assert_eq!(many.len(), 3);
    assert_eq!(many[0].as_ref().expect("found").id, LYNNE);
    assert!(many[1].as_ref().expect_err("missing").is_not_found());
    assert_eq!(many[2].as_ref().expect("found").id, ADELE);
    emulator.shutdown().await;
}

#[tokio::test]
async fn holders_of_an_immutable_id_are_found_active_and_deleted_by_filter_and_by_scan() {
    let emulator = start(fixture()).await;
    let client = client(&emulator).await;
    let values = vec![
        ImmutableId::from_text("iGhmiAEBERG7uxI0VniQqw=="),
        ImmutableId::from_text("TlNJ14afp0S1cmvntTssqQ=="),
        ImmutableId::from_text("6SNZnFLe6jOI3n68hjO5zA=="),
        ImmutableId::from_text("AAAAAAAAAAAAAAAAAAAAAA=="),
    ];
    let filtered = client
        .find_immutable_id_holders(&values, HolderLookup::Automatic)
        .await
        .expect("filter");
    assert_eq!(filtered.strategy, HolderLookup::ServerFilter);
    let scanned = client
        .find_immutable_id_holders(&values, HolderLookup::FullScan)
        .await
        .expect("scan");
    assert_eq!(scanned.strategy, HolderLookup::FullScan);
    assert_eq!(filtered.holders, scanned.holders);
    assert_eq!(filtered.holders[&values[0]][0].id, LEE_SYNCED);
    let deleted_holder = &filtered.holders[&values[1]];
    assert_eq!(deleted_holder.len(), 1);
    assert!(deleted_holder[0].is_deleted());
    assert!(filtered.holders[&values[3]].is_empty());

    // A tenant refusing the filter on deleted items falls back to scanning the recycle bin,
    // and one that treats it as an advanced query gets it again as one.
    let mut refusing = fixture();
    refusing.settings.deleted_items_immutable_id_filter = false;
    refusing
        .settings
        .immutable_id_filter_requires_advanced_query = true;
    let refusing = start(refusing).await;
    let other = support::client(&refusing).await;
    let found = other
        .find_immutable_id_holders(&values, HolderLookup::ServerFilter)
        .await
        .expect("fallback");
    assert_eq!(found.holders, scanned.holders);
    refusing.shutdown().await;
    emulator.shutdown().await;
}

#[tokio::test]
async fn set_conflict_synced_rejection_clear_and_batch_set() {
    let emulator = start(fixture()).await;
    let client = client(&emulator).await;
    let fresh = ImmutableId::from_text("q83vASNFZ4mrze8BI0VniQ==");
    let user = client.set_immutable_id(LYNNE, &fresh).await.expect("set");
    assert_eq!(user.on_premises_immutable_id.as_ref(), Some(&fresh));

    // The deleted user still reserves its value: the conflict names it.
    let reserved = ImmutableId::from_text("TlNJ14afp0S1cmvntTssqQ==");
    match client
        .set_immutable_id(ADELE, &reserved)
        .await
        .expect_err("conflict")
    {
        GraphError::Conflict {
            holder_object_id, ..
        } => {
            assert_eq!(holder_object_id.as_deref(), Some(DELETED_MEGAN));
        }
        other => panic!("{other:?}"),
    }

    let synced = client
        .set_immutable_id(
            LEE_SYNCED,
            &ImmutableId::from_text("bm90LWFsbG93ZWQtaGVyZQ=="),
        )
        .await
        .expect_err("synced");
    assert!(
        matches!(synced, GraphError::SyncedObject { .. }),
        "{synced:?}"
    );
    assert!(synced.hint().contains("Active Directory"));

    let cleared = client.clear_immutable_id(LYNNE).await.expect("clear");
    assert!(cleared.on_premises_immutable_id.is_none());

    let results = client
        .set_immutable_ids(&[
            (
                LYNNE.to_owned(),
                ImmutableId::from_text("AQIDBAUGBwgJCgsMDQ4PEA=="),
            ),
            (ADELE.to_owned(), reserved.clone()),
            (ADELE.to_owned(), ImmutableId::from_text("bad$value")),
        ])
        .await
        .expect("batch");
    assert!(results[0].is_ok(), "{:?}", results[0]);
    assert!(
        matches!(results[1], Err(GraphError::Conflict { .. })),
        "{:?}",
        results[1]
    );
    assert!(
        matches!(results[2], Err(GraphError::Configuration { .. })),
        "{:?}",
        results[2]
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn the_2024_conflict_shape_still_names_the_holder() {
    let mut tenant = fixture();
    tenant.settings.conflict_shape = ConflictShape::ImmutableIdWithoutDetails;
    let emulator = start(tenant).await;
    let client = client(&emulator).await;
    match client
        .set_immutable_id(ADELE, &ImmutableId::from_text("iGhmiAEBERG7uxI0VniQqw=="))
        .await
        .expect_err("conflict")
    {
        GraphError::Conflict {
            property,
            holder_object_id,
            ..
        } => {
            assert_eq!(property, "immutableId");
            assert_eq!(holder_object_id.as_deref(), Some(LEE_SYNCED));
        }
        other => panic!("{other:?}"),
    }
    emulator.shutdown().await;
}

#[tokio::test]
async fn delete_restore_purge() {
    let emulator = start(fixture()).await;
    let client = client(&emulator).await;
    client.delete_user(LYNNE).await.expect("soft delete");
    assert!(
        client
            .get_user(LYNNE)
            .await
            .expect_err("gone")
            .is_not_found()
    );
    assert!(
        client
            .get_deleted_user(LYNNE)
            .await
            .expect("in the bin")
            .is_deleted()
    );
    let restored = client
        .restore_deleted_user(LYNNE, &RestoreOptions::default())
        .await
        .expect("restore");
    assert!(!restored.is_deleted());
    client
        .purge_deleted_user(DELETED_MEGAN)
        .await
        .expect("purge");
    assert!(
        client
            .get_deleted_user(DELETED_MEGAN)
            .await
            .expect_err("purged")
            .is_not_found()
    );
    let again = client
        .purge_deleted_user(DELETED_MEGAN)
        .await
        .expect_err("already purged");
    assert!(again.is_not_found());
    emulator.shutdown().await;
}

#[tokio::test]
async fn licences_roles_tenant_and_provisioning_errors() {
    let emulator = start(fixture()).await;
    let client = client(&emulator).await;
    let licences = client.license_details(ADELE).await.expect("licences");
    assert_eq!(licences.len(), 1);
    assert_eq!(licences[0].sku_part_number.as_deref(), Some("SPE_E3"));
    assert!(!licences[0].service_plans.is_empty());

    let definitions = client.role_definitions().await.expect("definitions");
    assert!(
        definitions
            .iter()
            .any(|role| role.display_name == "Global Administrator")
    );
    let all = client.role_assignments(None).await.expect("assignments");
    assert!(
        all.iter()
            .any(|assignment| assignment.principal_id == ALEX_GLOBAL_ADMIN)
    );
    let of_alex = client
        .role_assignments(Some(ALEX_GLOBAL_ADMIN))
        .await
        .expect("filtered");
    assert_eq!(of_alex.len(), 1);
    assert!(
        client
            .role_assignments(Some(LYNNE))
            .await
            .expect("none")
            .is_empty()
    );
    let eligible = client
        .role_eligibilities(Some(DIEGO_ELIGIBLE))
        .await
        .expect("eligible");
    assert_eq!(eligible.len(), 1);

    let tenant = client.tenant_info().await.expect("tenant");
    assert_eq!(tenant.id, emulator.tenant_id());
    assert_eq!(tenant.initial_domain, "contoso.onmicrosoft.com");
    assert_eq!(tenant.on_premises_sync_enabled, Some(true));
    assert!(tenant.domains.iter().any(|domain| domain.is_federated()));
    // An app-only token cannot read the sync flags: "unknown", not an error.
    assert!(tenant.on_premises_synchronization.is_none());
    assert!(matches!(
        client.sync_settings().await.expect("reads"),
        SyncSettingsRead::Unknown { .. }
    ));

    let quarantined = client.provisioning_errors().await.expect("errors");
    assert_eq!(quarantined.len(), 1);
    assert_eq!(quarantined[0].id, SYNCED_ADELE);
    emulator.shutdown().await;
}

#[tokio::test]
async fn permission_denied_names_the_missing_permission() {
    let emulator = start(fixture()).await;
    let mut settings = support::settings(
        &emulator,
        CredentialSettings::ClientSecret(Secret::new(READ_ONLY_CLIENT_SECRET)),
    );
    settings.client_id = Some(READ_ONLY_CLIENT_ID.to_owned());
    let client = GraphClient::connect(settings).await.expect("connects");
    client.list_users().await.expect("may read users");
    let error = client
        .set_immutable_id(LYNNE, &ImmutableId::from_text("q83vASNFZ4mrze8BI0VniQ=="))
        .await
        .expect_err("may not write");
    match &error {
        GraphError::PermissionDenied { operation, .. } => {
            assert_eq!(*operation, Operation::SetImmutableId)
        }
        other => panic!("{other:?}"),
    }
    assert!(error.to_string().contains("User.ReadWrite.All"), "{error}");
    assert!(error.hint().contains("User.ReadWrite.All"));
    let error = client.delete_user(LYNNE).await.expect_err("may not delete");
    assert!(
        error.to_string().contains("User.DeleteRestore.All"),
        "{error}"
    );
    let mut change = serde_json::Map::new();
    change.insert(
        "blockSoftMatchEnabled".to_owned(),
        serde_json::Value::Bool(true),
    );
    let error = client
        .update_sync_features("12cce4b4-4ab8-40b7-be4d-f5d7742ec185", &change)
        .await
        .expect_err("app-only may not change sync flags");
    assert!(
        error
            .to_string()
            .contains("OnPremDirectorySynchronization.ReadWrite.All"),
        "{error}"
    );
    assert!(
        error.hint().contains("Global Administrator"),
        "{}",
        error.hint()
    );
    let error = client
        .role_definitions()
        .await
        .expect_err("may not read roles");
    assert!(
        error.to_string().contains("RoleManagement.Read.Directory"),
        "{error}"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn advanced_queries_send_consistency_level_on_every_page() {
    let mut tenant = fixture();
    for index in 0..2_100 {
        let user = serde_json::json!({
            "id": format!("{index:08x}-1111-4000-8000-000000000000"),
            "userPrincipalName": format!("bulk{index}@fabrikam.com"),
        });
        tenant
            .users
            .push(user.as_object().cloned().expect("object"));
    }
    let emulator = start(tenant).await;
    let client = client(&emulator).await;
    assert_eq!(client.count_users().await.expect("count"), 2_108);
    // Three pages; the emulator refuses an endsWith page without the header.
    let in_domain = client
        .users_in_domain("fabrikam.com")
        .await
        .expect("advanced query");
    assert_eq!(in_domain.len(), 2_101);
    let pages = support::served(&emulator)
        .iter()
        .filter(|(_, path, query, _)| path == "/v1.0/users" && query.contains("endswith"))
        .count();
    assert_eq!(pages, 3);
    emulator.shutdown().await;
}

#[tokio::test]
async fn sign_in_activity_is_read_by_id_and_refused_without_audit_log_or_premium() {
    let mut tenant = fixture();
    let adele = tenant
        .users
        .iter_mut()
        .find(|user| user["id"] == ADELE)
        .expect("Adele is in the example tenant");
    adele.insert(
        "signInActivity".to_owned(),
        serde_json::json!({ "lastSignInDateTime": "2026-11-21T08:30:00Z" }),
    );
    let emulator = start(tenant.clone()).await;
    let reader = client(&emulator).await;
    let unknown = "0f0f0f0f-0000-4e5f-8a9b-0c1d2e3f4a99";
    let mut reported = Vec::new();
    let found = reader
        .sign_in_activity_with_progress(
            &[ADELE.to_owned(), LYNNE.to_owned(), unknown.to_owned()],
            &mut |asked| reported.push(asked),
        )
        .await
        .expect("the main app may read sign-ins in a tenant with P1");
    assert_eq!(reported, [3], "one request for the three ids");
    let adele = found[ADELE].as_ref().expect("Adele has signed in");
    assert_eq!(
        adele.last_sign_in_date_time.as_deref(),
        Some("2026-11-21T08:30:00Z")
    );
    // Found without data (never signed in) is `None`; an id that is not there is absent.
    assert_eq!(found.get(LYNNE), Some(&None));
    assert!(!found.contains_key(unknown));
    let reads: Vec<_> = support::served(&emulator)
        .into_iter()
        .filter(|(_, _, query, _)| query.contains("signInActivity"))
        .collect();
    assert_eq!(reads.len(), 1, "three ids in one request: {reads:?}");

    // Without AuditLog.Read.All.
    let mut settings = support::settings(
        &emulator,
        CredentialSettings::ClientSecret(Secret::new(READ_ONLY_CLIENT_SECRET)),
    );
    settings.client_id = Some(READ_ONLY_CLIENT_ID.to_owned());
    let read_only = GraphClient::connect(settings).await.expect("connects");
    match read_only.sign_in_activity(&[ADELE.to_owned()]).await {
        Err(GraphError::PermissionDenied { operation, .. }) => {
            assert_eq!(operation, Operation::ReadSignInActivity)
        }
        other => panic!("{other:?}"),
    }

    // A tenant without Entra ID P1 or P2.
    tenant.license_skus.clear();
    let emulator = start(tenant).await;
    let error = client(&emulator)
        .await
        .sign_in_activity(&[ADELE.to_owned()])
        .await
        .expect_err("no premium licence");
    assert!(
        error
            .to_string()
            .contains("needs AuditLog.Read.All, in a tenant with Microsoft Entra ID P1 or P2"),
        "{error}"
    );
    match error {
        GraphError::PermissionDenied { message, .. } => {
            assert_eq!(
                message,
                "Neither tenant is B2C or tenant doesn't have premium license"
            )
        }
        other => panic!("{other:?}"),
    }
}
