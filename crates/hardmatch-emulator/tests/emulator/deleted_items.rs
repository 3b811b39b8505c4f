//! The recycle bin: `/directory/deletedItems` (graph-api.md §4, §16 #4).

use reqwest::StatusCode;
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn listing_needs_the_user_cast_and_supports_filter_select_and_paging() {
    let emulator = emulator().await;
    let token = app_token(&emulator).await;
    // graph-api.md §4: bare /directory/deletedItems unsupported.
    assert_eq!(
        get(&emulator, &token, "/directory/deletedItems")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let reply = get(&emulator, &token, "/directory/deletedItems/microsoft.graph.user?$select=id,userPrincipalName,onPremisesImmutableId,deletedDateTime&$top=999").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let body = reply.json();
    // "Context names directoryObjects(...)".
    assert_eq!(
        body["@odata.context"],
        format!(
            "{}/$metadata#directoryObjects(id,userPrincipalName,onPremisesImmutableId,deletedDateTime)",
            emulator.graph_url()
        )
    );
    assert_eq!(body["value"].as_array().unwrap().len(), 1);
    assert_eq!(
        body["value"][0]["onPremisesImmutableId"],
        MEGAN_DELETED_ANCHOR
    );
    // §16 #4: $filter on the ImmutableID works on deleted items by default.
    let reply = get(&emulator, &token, "/directory/deletedItems/microsoft.graph.user?$filter=onPremisesImmutableId%20eq%20'TlNJ14afp0S1cmvntTssqQ%3D%3D'").await;
    assert_eq!(reply.json()["value"][0]["id"], MEGAN_DELETED);
    // Default listing carries deletedDateTime.
    let reply = get(
        &emulator,
        &token,
        "/directory/deletedItems/microsoft.graph.user",
    )
    .await;
    assert!(reply.json()["value"][0]["deletedDateTime"].is_string());
    // Kiota-generated SDKs write the cast with the `graph` alias.
    let reply = get(&emulator, &token, "/directory/deletedItems/graph.user").await;
    assert_eq!(reply.status, StatusCode::OK);
    emulator.shutdown().await;
    let emulator = emulator_with(fixture_with(|fixture| {
        fixture.settings.deleted_items_immutable_id_filter = false
    }))
    .await;
    let token = app_token(&emulator).await;
    // §16 #4 alternative: 400.
    let reply = get(
        &emulator,
        &token,
        "/directory/deletedItems/microsoft.graph.user?$filter=onPremisesImmutableId%20eq%20'x'",
    )
    .await;
    graph_error(&reply, 400, "Request_UnsupportedQuery");
    emulator.shutdown().await;
}

#[tokio::test]
async fn get_purge_and_restore() {
    let emulator = emulator().await;
    let token = app_token(&emulator).await;
    let item = get(
        &emulator,
        &token,
        &format!("/directory/deletedItems/{MEGAN_DELETED}"),
    )
    .await
    .json();
    assert_eq!(item["@odata.type"], "#microsoft.graph.user");
    // Restore: 200, body is the object with `#directoryObjects/$entity` (graph-api.md §4).
    assert_eq!(
        delete(&emulator, &token, &format!("/users/{DIEGO}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let reply = post(
        &emulator,
        &token,
        &format!("/directory/deletedItems/{DIEGO}/restore"),
        json!({}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let restored = reply.json();
    assert_eq!(
        restored["@odata.context"],
        format!(
            "{}/$metadata#directoryObjects/$entity",
            emulator.graph_url()
        )
    );
    assert_eq!(restored["@odata.type"], "#microsoft.graph.user");
    assert_eq!(restored["userPrincipalName"], "diego.siciliani@contoso.com");
    assert_eq!(
        get(&emulator, &token, &format!("/users/{DIEGO}"))
            .await
            .status,
        StatusCode::OK
    );
    // Purge: 204, permanent; then 404 Request_ResourceNotFound.
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
    graph_error(
        &delete(
            &emulator,
            &token,
            &format!("/directory/deletedItems/{MEGAN_DELETED}"),
        )
        .await,
        404,
        "Request_ResourceNotFound",
    );
    graph_error(
        &post(
            &emulator,
            &token,
            &format!("/directory/deletedItems/{MEGAN_DELETED}/restore"),
            json!({}),
        )
        .await,
        404,
        "Request_ResourceNotFound",
    );
    // After the purge the ImmutableID is free again (entra-matching.md §12).
    let reply = patch(
        &emulator,
        &token,
        &format!("/users/{MEGAN}"),
        json!({"onPremisesImmutableId": MEGAN_DELETED_ANCHOR}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);
    emulator.shutdown().await;
}

#[tokio::test]
async fn restore_refuses_a_taken_upn_unless_given_a_new_one() {
    let emulator = emulator().await;
    let token = app_token(&emulator).await;
    // The deleted Megan's original UPN is free, but restoring the active Megan's twin under
    // the active user's UPN would collide.
    let reply = post(
        &emulator,
        &token,
        &format!("/directory/deletedItems/{MEGAN_DELETED}/restore"),
        json!({"newUserPrincipalName": "megan.bowen@contoso.com"}),
    )
    .await;
    graph_error(&reply, 400, "Request_BadRequest");
    let reply = post(
        &emulator,
        &token,
        &format!("/directory/deletedItems/{MEGAN_DELETED}/restore"),
        json!({"newUserPrincipalName": "megan.bowen.old@contoso.com"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    emulator.shutdown().await;
}

#[tokio::test]
async fn restore_refuses_a_conflicting_proxy_address_unless_reconciled() {
    let emulator = emulator().await;
    let token = app_token(&emulator).await;
    // Delete Adele, give her address to Lynne, then restore: the proxy address conflicts
    // (graph-api.md §4: autoReconcileProxyConflict drops it; default false).
    assert_eq!(
        delete(&emulator, &token, &format!("/users/{ADELE}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let mut fixture =
        hardmatch_emulator::Fixture::from_json(&emulator.state_json().to_string()).unwrap();
    let lynne = fixture
        .users
        .iter_mut()
        .find(|user| user["id"] == LYNNE)
        .unwrap();
    lynne.insert(
        "proxyAddresses".into(),
        json!([
            "SMTP:lynne.robbins@contoso.com",
            "smtp:adele.vance@contoso.com"
        ]),
    );
    emulator.shutdown().await;
    let emulator = emulator_with(fixture).await;
    let token = app_token(&emulator).await;
    let reply = post(
        &emulator,
        &token,
        &format!("/directory/deletedItems/{ADELE}/restore"),
        json!({}),
    )
    .await;
    graph_error(&reply, 400, "Request_BadRequest");
    let reply = post(
        &emulator,
        &token,
        &format!("/directory/deletedItems/{ADELE}/restore"),
        json!({"autoReconcileProxyConflict": true}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let adele = get(
        &emulator,
        &token,
        &format!("/users/{ADELE}?$select=proxyAddresses,userPrincipalName"),
    )
    .await
    .json();
    assert_eq!(
        adele["proxyAddresses"],
        json!(["smtp:adele@contoso.onmicrosoft.com"])
    );
    assert_eq!(adele["userPrincipalName"], "adele.vance@contoso.com");
    emulator.shutdown().await;
}
