//! `/users`: default properties, $select, $filter, $top, $count, paging, PATCH and DELETE
//! (graph-api.md §3, §5, §9, §10, §16).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::*;

#[tokio::test]
async fn list_returns_the_default_property_set_in_order_with_its_context() {
    let emulator = emulator().await;
    let token = app_token(&emulator).await;
    let reply = get(&emulator, &token, "/users").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("application/json;odata.metadata=minimal")
    );
    // graph-api.md §1: request-id returned, client-request-id echoed.
    assert!(reply.header("request-id").is_some());
    let body = reply.json();
    // graph-api.md §3.1: "Without $select the context is …/$metadata#users".
    assert_eq!(
        body["@odata.context"],
        format!("{}/$metadata#users", emulator.graph_url())
    );
    let first = body["value"][0].as_object().unwrap();
    let keys: Vec<&str> = first.keys().map(String::as_str).collect();
    // serde_json sorts keys; the set is what matters here, the order is checked on the raw text.
    let mut expected = vec![
        "businessPhones",
        "displayName",
        "givenName",
        "id",
        "jobTitle",
        "mail",
        "mobilePhone",
        "officeLocation",
        "preferredLanguage",
        "surname",
        "userPrincipalName",
    ];
    expected.sort_unstable();
    assert_eq!(keys, expected);
    assert!(reply.text.find("\"@odata.context\"").unwrap() < reply.text.find("\"value\"").unwrap());
    assert!(reply.text.contains("{\"businessPhones\":"));
    // onPremises*, proxyAddresses, assignedLicenses only with $select.
    assert!(!reply.text.contains("onPremisesImmutableId"));
    assert!(!reply.text.contains("proxyAddresses"));
    // Deleted users are not listed.
    assert!(!reply.text.contains(MEGAN_DELETED));
    let echoed = get_with(
        &emulator,
        &token,
        "/users",
        &[("client-request-id", "5f3c8f2a-0000-4000-8000-000000000001")],
    )
    .await;
    assert_eq!(
        echoed.header("client-request-id"),
        Some("5f3c8f2a-0000-4000-8000-000000000001")
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn select_serves_select_only_properties_and_a_select_context() {
    let emulator = emulator().await;
    let token = app_token(&emulator).await;
    let reply = get(
        &emulator,
        &token,
        "/users?$select=id,userPrincipalName,onPremisesImmutableId,proxyAddresses",
    )
    .await;
    let body = reply.json();
    // graph-api.md §3.1: context `#users(id,userPrincipalName,onPremisesImmutableId)`.
    assert_eq!(
        body["@odata.context"],
        format!(
            "{}/$metadata#users(id,userPrincipalName,onPremisesImmutableId,proxyAddresses)",
            emulator.graph_url()
        )
    );
    let duplicate = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|user| user["id"] == ADELE_DUPLICATE)
        .unwrap();
    assert_eq!(duplicate["onPremisesImmutableId"], ADELE_ANCHOR);
    assert_eq!(duplicate.as_object().unwrap().len(), 4);
    // Properties are written in $select order.
    assert!(reply.text.contains("{\"id\":"));
    // graph-api.md §3.1: non-collection properties on /users → 501.
    assert_eq!(
        get(&emulator, &token, "/users?$select=aboutMe")
            .await
            .status
            .as_u16(),
        501
    );
    // graph-api.md §1: v1.0 user has no onPremisesObjectIdentifier; beta does.
    assert_eq!(
        get(
            &emulator,
            &token,
            "/users?$select=onPremisesObjectIdentifier"
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
    let beta = crate::common::call(
        Method::GET,
        &format!(
            "{}/beta/users?$select=id,onPremisesObjectIdentifier",
            emulator.base_url()
        ),
        &token,
        &[],
        None,
    )
    .await;
    assert_eq!(beta.status, StatusCode::OK);
    emulator.shutdown().await;
}

#[tokio::test]
async fn top_must_be_between_1_and_999() {
    let emulator = emulator().await;
    let token = app_token(&emulator).await;
    // graph-api.md §3.1: $top=1000 → 400 Request_UnsupportedQuery, exact text.
    let error = graph_error(
        &get(&emulator, &token, "/users?$top=1000").await,
        400,
        "Request_UnsupportedQuery",
    );
    assert_eq!(
        error["message"],
        "Invalid page size specified: '1000'. Must be between 1 and 999 inclusive."
    );
    graph_error(
        &get(&emulator, &token, "/users?$top=0").await,
        400,
        "Request_UnsupportedQuery",
    );
    assert_eq!(
        get(&emulator, &token, "/users?$top=999").await.status,
        StatusCode::OK
    );
    // graph-api.md §3.1: no $skip.
    assert_eq!(
        get(&emulator, &token, "/users?$skip=2").await.status,
        StatusCode::BAD_REQUEST
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn next_links_are_opaque_stable_and_cover_every_user_once() {
    let emulator = emulator().await;
    let token = app_token(&emulator).await;
    let first = get(&emulator, &token, "/users?$select=id&$top=3")
        .await
        .json();
    let again = get(&emulator, &token, "/users?$select=id&$top=3")
        .await
        .json();
    // graph-api.md §3.2: follow nextLink as an opaque full URL; stable for the same query.
    let next = first["@odata.nextLink"].as_str().unwrap().to_owned();
    assert_eq!(next, again["@odata.nextLink"].as_str().unwrap());
    assert!(next.starts_with(&emulator.graph_url()));
    assert!(next.contains("$skiptoken=X%27"));
    let mut ids: Vec<String> = first["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["id"].as_str().unwrap().to_owned())
        .collect();
    let mut link = Some(next);
    let mut pages = 1;
    while let Some(url) = link {
        let page = call(Method::GET, &url, &token, &[], None).await.json();
        ids.extend(
            page["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|user| user["id"].as_str().unwrap().to_owned()),
        );
        link = page["@odata.nextLink"].as_str().map(str::to_owned);
        pages += 1;
    }
    assert_eq!(pages, 3);
    let active = 8;
    assert_eq!(ids.len(), active);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), active);
    // A token from another query is refused.
    let other = get(&emulator, &token, "/users?$select=id,mail&$top=3")
        .await
        .json();
    let foreign = other["@odata.nextLink"]
        .as_str()
        .unwrap()
        .replace("id%2Cmail", "id")
        .replace("id,mail", "id");
    assert_eq!(
        call(Method::GET, &foreign, &token, &[], None).await.status,
        StatusCode::BAD_REQUEST
    );
    emulator.shutdown().await;
}

/// Follows nextLinks from `first` and returns the ids of every page after it.
async fn ids_after(token: &str, first: &Value) -> Vec<String> {
    let mut ids = Vec::new();
    let mut link = first["@odata.nextLink"].as_str().map(str::to_owned);
    while let Some(url) = link {
        let page = call(Method::GET, &url, token, &[], None).await.json();
        ids.extend(
            page["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|user| user["id"].as_str().unwrap().to_owned()),
        );
        link = page["@odata.nextLink"].as_str().map(str::to_owned);
    }
    ids
}

#[tokio::test]
async fn a_next_link_resumes_after_the_last_user_even_when_earlier_ones_go() {
    // The skip token carries the last id, not a position: a user deleted from a page
    // already read must not make the next page skip one.
    let emulator = emulator().await;
    let token = app_token(&emulator).await;
    let all: Vec<String> = get(&emulator, &token, "/users?$select=id&$top=999")
        .await
        .json()["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["id"].as_str().unwrap().to_owned())
        .collect();
    let first = get(&emulator, &token, "/users?$select=id&$top=3")
        .await
        .json();
    let first_ids: Vec<&str> = first["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["id"].as_str().unwrap())
        .collect();
    assert_eq!(first_ids, all[..3]);
    let deleted = call(
        Method::DELETE,
        &format!("{}/users/{ADELE}", emulator.graph_url()),
        &token,
        &[],
        None,
    )
    .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
    assert!(first_ids.contains(&ADELE));
    assert_eq!(ids_after(&token, &first).await, all[3..]);
    emulator.shutdown().await;
}

#[tokio::test]
async fn filtered_pages_hold_only_matches_and_end_without_a_next_link() {
    let emulator = emulator().await;
    let token = app_token(&emulator).await;
    let query = "/users?$select=id,accountEnabled&$filter=accountEnabled eq true&$top=2";
    let first = get(&emulator, &token, query).await.json();
    let mut ids: Vec<String> = first["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["id"].as_str().unwrap().to_owned())
        .collect();
    ids.extend(ids_after(&token, &first).await);
    let unpaged = get(
        &emulator,
        &token,
        "/users?$select=id,accountEnabled&$filter=accountEnabled eq true&$top=999",
    )
    .await
    .json();
    let expected: Vec<String> = unpaged["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(expected.len() > 2, "the fixture needs more than one page");
    assert!(unpaged.get("@odata.nextLink").is_none());
    assert_eq!(ids, expected);
    emulator.shutdown().await;
}

#[tokio::test]
async fn default_filters_work_without_advanced_parameters() {
    let emulator = emulator().await;
    let token = app_token(&emulator).await;
    let ids = |reply: &Reply| -> Vec<String> {
        reply.json()["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|user| user["id"].as_str().unwrap().to_owned())
            .collect()
    };
    // graph-api.md §3.3: onPremisesImmutableId eq is Default; URL-encode + / =.
    let reply = get(&emulator, &token, "/users?$filter=onPremisesImmutableId%20eq%20'6SNZnFLe6jOI3n68hjO5zA%3D%3D'&$select=id,onPremisesImmutableId").await;
    assert_eq!(ids(&reply), [ADELE_DUPLICATE]);
    let reply = get(&emulator, &token, "/users?$filter=onPremisesImmutableId%20in%20('6SNZnFLe6jOI3n68hjO5zA%3D%3D','iGhmiAEBERG7uxI0VniQqw%3D%3D')").await;
    assert_eq!(ids(&reply), [ADELE_DUPLICATE, LEE_SYNCED]);
    // proxyAddresses/any(p:p eq …), case-insensitive SMTP:/smtp: (§16 #5).
    let reply = get(
        &emulator,
        &token,
        "/users?$filter=proxyAddresses/any(p:p%20eq%20'smtp:adele.vance@contoso.com')",
    )
    .await;
    assert_eq!(ids(&reply), [ADELE]);
    let reply = get(
        &emulator,
        &token,
        "/users?$filter=startsWith(userPrincipalName,'adele')",
    )
    .await;
    assert_eq!(ids(&reply), [ADELE, ADELE_DUPLICATE]);
    let reply = get(&emulator, &token, "/users?$filter=assignedLicenses/any(a:a/skuId%20eq%2005e9a617-0261-4cee-bb44-138d3ef5d965)").await;
    assert_eq!(ids(&reply).len(), 5);
    let reply = get(
        &emulator,
        &token,
        "/users?$filter=onPremisesSyncEnabled%20eq%20true",
    )
    .await;
    assert_eq!(ids(&reply), [ADELE_DUPLICATE, LEE_SYNCED]);
    emulator.shutdown().await;
}

#[tokio::test]
async fn advanced_queries_need_consistency_level_and_count() {
    let emulator = emulator().await;
    let token = app_token(&emulator).await;
    // graph-api.md §3.3: endsWith is advanced; exact text.
    let error = graph_error(
        &get(
            &emulator,
            &token,
            "/users?$filter=endsWith(mail,'@contoso.com')",
        )
        .await,
        400,
        "Request_UnsupportedQuery",
    );
    assert_eq!(
        error["message"],
        "Operator 'endsWith' is not supported because the required parameters might be missing. Try adding $count=true query parameter and ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information"
    );
    let reply = get_with(
        &emulator,
        &token,
        "/users?$filter=endsWith(mail,'@contoso.com')&$count=true",
        &[("ConsistencyLevel", "eventual")],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    // graph-api.md §3.2: @odata.count on the first page with header + $count=true.
    assert_eq!(reply.json()["@odata.count"], 6);
    assert!(reply.text.find("@odata.count").unwrap() < reply.text.find("\"value\"").unwrap());
    // "?$count=true without header is silently ignored".
    let reply = get(&emulator, &token, "/users?$count=true").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.json().get("@odata.count").is_none());
    // $search needs only the header, exact text without it.
    let error = graph_error(
        &get(&emulator, &token, "/users?$search=%22displayName:adele%22").await,
        400,
        "Request_BadRequest",
    );
    assert_eq!(
        error["message"],
        "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'"
    );
    let reply = get_with(
        &emulator,
        &token,
        "/users?$search=%22displayName:adele%22",
        &[("ConsistencyLevel", "eventual")],
    )
    .await;
    assert_eq!(reply.json()["value"].as_array().unwrap().len(), 2);
    emulator.shutdown().await;
}

#[tokio::test]
async fn count_segment_needs_the_header_and_answers_plain_text() {
    let emulator = emulator().await;
    let token = app_token(&emulator).await;
    // graph-api.md §3.2: without header → 400 Request_BadRequest "$count is not currently supported."
    let error = graph_error(
        &get(&emulator, &token, "/users/$count").await,
        400,
        "Request_BadRequest",
    );
    assert_eq!(error["message"], "$count is not currently supported.");
    let reply = get_with(
        &emulator,
        &token,
        "/users/$count",
        &[("ConsistencyLevel", "eventual")],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(reply.text, "8");
    emulator.shutdown().await;
}

#[tokio::test]
async fn get_by_id_or_upn_and_404_shape() {
    let emulator = emulator().await;
    let token = app_token(&emulator).await;
    let by_upn = get(&emulator, &token, "/users/Adele.Vance@contoso.com")
        .await
        .json();
    assert_eq!(by_upn["id"], ADELE);
    // graph-api.md §3.1: a single GET returns the object with `…#users/$entity`.
    assert_eq!(
        by_upn["@odata.context"],
        format!("{}/$metadata#users/$entity", emulator.graph_url())
    );
    let selected = get(
        &emulator,
        &token,
        &format!("/users/{ADELE}?$select=id,onPremisesImmutableId"),
    )
    .await
    .json();
    assert_eq!(
        selected["@odata.context"],
        format!(
            "{}/$metadata#users(id,onPremisesImmutableId)/$entity",
            emulator.graph_url()
        )
    );
    // graph-api.md §10: 404 Request_ResourceNotFound with this message.
    let missing = "68be84bf-a585-4776-80b3-30aa5207aa22";
    let error = graph_error(
        &get(&emulator, &token, &format!("/users/{missing}")).await,
        404,
        "Request_ResourceNotFound",
    );
    assert_eq!(
        error["message"],
        format!(
            "Resource '{missing}' does not exist or one of its queried reference-property objects are not present."
        )
    );
    // Deleted users are not found on /users.
    graph_error(
        &get(&emulator, &token, &format!("/users/{MEGAN_DELETED}")).await,
        404,
        "Request_ResourceNotFound",
    );
    // graph-api.md §10: 405.
    let reply = call(
        Method::PUT,
        &format!("{}/users/{ADELE}", emulator.graph_url()),
        &token,
        &[],
        None,
    )
    .await;
    assert_eq!(
        graph_error(&reply, 405, "Request_BadRequest")["message"],
        "Specified HTTP method is not allowed for the request target."
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn patch_sets_and_clears_the_immutable_id() {
    let emulator = emulator().await;
    let token = app_token(&emulator).await;
    // graph-api.md §5: PATCH → 204, empty body.
    let reply = patch(
        &emulator,
        &token,
        &format!("/users/{LYNNE}"),
        json!({"onPremisesImmutableId": "nofCJe0gZk6D8J4gRgrt+A=="}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert!(reply.text.is_empty());
    let read = get(
        &emulator,
        &token,
        &format!("/users/{LYNNE}?$select=onPremisesImmutableId"),
    )
    .await
    .json();
    assert_eq!(read["onPremisesImmutableId"], "nofCJe0gZk6D8J4gRgrt+A==");
    // SDK bodies carry `@odata.type`, an annotation rather than a property.
    let reply = patch(
        &emulator,
        &token,
        &format!("/users/{LYNNE}"),
        json!({"@odata.type": "#microsoft.graph.user", "jobTitle": "Planner"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);
    // Clear with JSON null (§5; §16 #6 default 204 on v1.0).
    let reply = patch(
        &emulator,
        &token,
        &format!("/users/{LYNNE}"),
        json!({"onPremisesImmutableId": null}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let read = get(
        &emulator,
        &token,
        &format!("/users/{LYNNE}?$select=onPremisesImmutableId"),
    )
    .await
    .json();
    assert_eq!(read["onPremisesImmutableId"], Value::Null);
    // graph-api.md §5: "The $ and _ characters can't be used"; never "".
    for bad in ["abc_def", "abc$def", ""] {
        let reply = patch(
            &emulator,
            &token,
            &format!("/users/{LYNNE}"),
            json!({"onPremisesImmutableId": bad}),
        )
        .await;
        graph_error(&reply, 400, "Request_BadRequest");
    }
    emulator.shutdown().await;
}

#[tokio::test]
async fn v1_null_patch_can_be_switched_to_400() {
    // graph-api.md §16 #6 alternative.
    let emulator = emulator_with(fixture_with(|fixture| {
        fixture.settings.v1_null_immutable_id_patch_allowed = false
    }))
    .await;
    let token = app_token(&emulator).await;
    let reply = patch(
        &emulator,
        &token,
        &format!("/users/{LYNNE}"),
        json!({"onPremisesImmutableId": null}),
    )
    .await;
    graph_error(&reply, 400, "Request_BadRequest");
    // beta still accepts the documented clear (entra-matching.md §13).
    let beta = call(
        Method::PATCH,
        &format!("{}/beta/users/{LYNNE}", emulator.base_url()),
        &token,
        &[],
        Some(json!({"onPremisesImmutableId": null})),
    )
    .await;
    assert_eq!(beta.status, StatusCode::NO_CONTENT);
    emulator.shutdown().await;
}

#[tokio::test]
async fn duplicate_immutable_ids_are_refused_against_active_and_deleted_holders() {
    let emulator = emulator().await;
    let token = app_token(&emulator).await;
    // graph-api.md §10: 400 Request_BadRequest + details ObjectConflict / ConflictingObjects.
    let reply = patch(
        &emulator,
        &token,
        &format!("/users/{ADELE}"),
        json!({"onPremisesImmutableId": ADELE_ANCHOR}),
    )
    .await;
    let error = graph_error(&reply, 400, "Request_BadRequest");
    assert_eq!(
        error["message"],
        "Another object with the same value for property onPremisesImmutableId already exists."
    );
    assert_eq!(error["details"][0]["code"], "ObjectConflict");
    assert_eq!(error["details"][0]["target"], "onPremisesImmutableId");
    assert_eq!(error["details"][1]["code"], "ConflictingObjects");
    assert_eq!(
        error["details"][1]["target"],
        format!("User_{ADELE_DUPLICATE}")
    );
    // §16 #1: a recycle-bin user reserves its ID.
    let reply = patch(
        &emulator,
        &token,
        &format!("/users/{MEGAN}"),
        json!({"onPremisesImmutableId": MEGAN_DELETED_ANCHOR}),
    )
    .await;
    let error = graph_error(&reply, 400, "Request_BadRequest");
    assert_eq!(
        error["details"][1]["target"],
        format!("User_{MEGAN_DELETED}")
    );
    // Case-sensitive: a different case is another value (entra-matching.md §1).
    let reply = patch(
        &emulator,
        &token,
        &format!("/users/{MEGAN}"),
        json!({"onPremisesImmutableId": MEGAN_DELETED_ANCHOR.to_lowercase()}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    emulator.shutdown().await;
}

#[tokio::test]
async fn conflict_switches_change_reservation_and_shape() {
    let emulator = emulator_with(fixture_with(|fixture| {
        fixture.settings.deleted_users_reserve_immutable_id = false;
        fixture.settings.conflict_shape =
            hardmatch_emulator::settings::ConflictShape::ImmutableIdWithoutDetails;
    }))
    .await;
    let token = app_token(&emulator).await;
    // §16 #1 alternative: deleted holders do not reserve.
    let reply = patch(
        &emulator,
        &token,
        &format!("/users/{MEGAN}"),
        json!({"onPremisesImmutableId": MEGAN_DELETED_ANCHOR}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    // §16 #2 alternative: `immutableId`, no details.
    let reply = patch(
        &emulator,
        &token,
        &format!("/users/{ADELE}"),
        json!({"onPremisesImmutableId": ADELE_ANCHOR}),
    )
    .await;
    let error = graph_error(&reply, 400, "Request_BadRequest");
    assert_eq!(
        error["message"],
        "Another object with the same value for property immutableId already exists."
    );
    assert!(error.get("details").is_none());
    emulator.shutdown().await;
}

#[tokio::test]
async fn synced_federated_and_admin_targets_are_refused() {
    let emulator = emulator().await;
    let token = app_token(&emulator).await;
    // graph-api.md §10: write to synced user, exact message.
    let reply = patch(
        &emulator,
        &token,
        &format!("/users/{LEE_SYNCED}"),
        json!({"onPremisesImmutableId": "bmV3LXZhbHVlLTEyMzQ1Ng=="}),
    )
    .await;
    let error = graph_error(&reply, 400, "Request_BadRequest");
    assert_eq!(
        error["message"],
        "Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration."
    );
    // §16 #16: federated-UPN user → 400 by default.
    let reply = patch(
        &emulator,
        &token,
        &format!("/users/{ISAIAH_FEDERATED}"),
        json!({"onPremisesImmutableId": "bmV3LXZhbHVlLTEyMzQ1Ng=="}),
    )
    .await;
    graph_error(&reply, 400, "Request_BadRequest");
    // graph-api.md §14: sensitive action on a Global Administrator needs PAA/GA.
    let reply = patch(
        &emulator,
        &token,
        &format!("/users/{ALEX_ADMIN}"),
        json!({"onPremisesImmutableId": "bmV3LXZhbHVlLTEyMzQ1Ng=="}),
    )
    .await;
    graph_error(&reply, 403, "Authorization_RequestDenied");
    let reply = delete(&emulator, &token, &format!("/users/{ALEX_ADMIN}")).await;
    graph_error(&reply, 403, "Authorization_RequestDenied");
    emulator.shutdown().await;
}

#[tokio::test]
async fn delete_moves_the_user_to_the_recycle_bin_with_a_rewritten_upn() {
    let emulator = emulator().await;
    let token = app_token(&emulator).await;
    // graph-api.md §5: DELETE → 204, soft delete.
    assert_eq!(
        delete(&emulator, &token, &format!("/users/{DIEGO}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    graph_error(
        &get(&emulator, &token, &format!("/users/{DIEGO}")).await,
        404,
        "Request_ResourceNotFound",
    );
    let deleted = get(
        &emulator,
        &token,
        &format!("/directory/deletedItems/{DIEGO}"),
    )
    .await
    .json();
    assert!(deleted["deletedDateTime"].is_string());
    // §16 #17: the UPN gets an id prefix.
    assert!(
        deleted["userPrincipalName"]
            .as_str()
            .unwrap()
            .starts_with(&DIEGO.replace('-', ""))
    );
    // The synced duplicate may be deleted by default (KB2709902 switch).
    assert_eq!(
        delete(&emulator, &token, &format!("/users/{ADELE_DUPLICATE}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn synced_user_deletion_can_be_refused_by_switch() {
    let emulator = emulator_with(fixture_with(|fixture| {
        fixture.settings.synced_user_delete_allowed = false
    }))
    .await;
    let token = app_token(&emulator).await;
    graph_error(
        &delete(&emulator, &token, &format!("/users/{LEE_SYNCED}")).await,
        400,
        "Request_BadRequest",
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn license_details_name_the_sku_and_plans() {
    let emulator = emulator().await;
    let token = app_token(&emulator).await;
    // graph-api.md §9: {"value":[{"id","skuId","skuPartNumber","servicePlans":[…]}]}.
    let reply = get(&emulator, &token, &format!("/users/{ADELE}/licenseDetails")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = reply.json();
    assert_eq!(body["value"][0]["skuPartNumber"], "SPE_E3");
    assert_eq!(
        body["value"][0]["servicePlans"][0]["servicePlanName"],
        "EXCHANGE_S_ENTERPRISE"
    );
    // graph-api.md §13: licenseDetails costs 2 RU.
    assert_eq!(reply.header("x-ms-resource-unit"), Some("2"));
    emulator.shutdown().await;
    // §16 #9 alternative: 403 for app-only.
    let emulator = emulator_with(fixture_with(|fixture| {
        fixture.settings.license_details_app_only_allowed = false
    }))
    .await;
    let token = app_token(&emulator).await;
    graph_error(
        &get(&emulator, &token, &format!("/users/{ADELE}/licenseDetails")).await,
        403,
        "Authorization_RequestDenied",
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn orderby_display_name_is_default_other_properties_and_filter_combinations_are_advanced() {
    let emulator = emulator().await;
    let token = app_token(&emulator).await;
    let body = get(
        &emulator,
        &token,
        "/users?$orderby=displayName%20desc&$select=displayName",
    )
    .await
    .json();
    let names: Vec<&str> = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["displayName"].as_str().unwrap())
        .collect();
    assert_eq!(names.first(), Some(&"Megan Bowen"));
    assert_eq!(names.last(), Some(&"Adele Vance"));
    // graph-api.md §3.2: `$filter` + `$orderby` is always advanced.
    let reply = get(
        &emulator,
        &token,
        "/users?$filter=startsWith(displayName,'a')&$orderby=displayName",
    )
    .await;
    graph_error(&reply, 400, "Request_UnsupportedQuery");
    let reply = get_with(
        &emulator,
        &token,
        "/users?$filter=startsWith(displayName,'a')&$orderby=displayName&$count=true",
        &[("ConsistencyLevel", "eventual")],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    emulator.shutdown().await;
}

#[tokio::test]
async fn odata_key_syntax_addresses_a_user_whose_upn_starts_with_a_dollar() {
    let emulator = emulator_with(fixture_with(|fixture| {
        let mut admin = fixture.users[0].clone();
        admin.insert("id".into(), json!("0f0f0f0f-0000-4000-8000-000000000001"));
        admin.insert("userPrincipalName".into(), json!("$admin@contoso.com"));
        fixture.users.push(admin);
    }))
    .await;
    let token = app_token(&emulator).await;
    let reply = get(
        &emulator,
        &token,
        "/users('%24admin@contoso.com')?$select=id",
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json()["id"], "0f0f0f0f-0000-4000-8000-000000000001");
    let reply = get(&emulator, &token, &format!("/users('{ADELE}')")).await;
    assert_eq!(reply.status, StatusCode::OK);
    emulator.shutdown().await;
}

#[tokio::test]
async fn create_user_requires_an_immutable_id_for_federated_upns_and_refuses_used_ones() {
    let emulator = emulator().await;
    let token = app_token(&emulator).await;
    let new_user = |upn: &str, immutable_id: Option<&str>| {
        json!({"accountEnabled": true, "displayName": "New User", "mailNickname": "newuser",
               "userPrincipalName": upn, "onPremisesImmutableId": immutable_id,
               "passwordProfile": {"forceChangePasswordNextSignIn": true, "password": "x-Long-Passw0rd"}})
    };
    let reply = post(
        &emulator,
        &token,
        "/users",
        new_user("new.user@contoso.com", None),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let created = reply.json();
    assert!(!reply.text.contains("password"));
    assert_eq!(
        get(
            &emulator,
            &token,
            &format!("/users/{}", created["id"].as_str().unwrap())
        )
        .await
        .status,
        StatusCode::OK
    );
    // graph-api.md §5, §10: federated UPN without an ImmutableID.
    let error = graph_error(
        &post(
            &emulator,
            &token,
            "/users",
            new_user("new.user@fabrikam.com", None),
        )
        .await,
        400,
        "Request_BadRequest",
    );
    assert_eq!(
        error["message"],
        "One or more properties contains invalid values."
    );
    assert_eq!(
        post(
            &emulator,
            &token,
            "/users",
            new_user("other.user@fabrikam.com", Some("bmV3LWZlZGVyYXRlZC11c2Vy"))
        )
        .await
        .status,
        StatusCode::CREATED
    );
    // §16 #19 default: a used ImmutableID is the 400 conflict.
    let error = graph_error(
        &post(
            &emulator,
            &token,
            "/users",
            new_user("third.user@contoso.com", Some(ADELE_ANCHOR)),
        )
        .await,
        400,
        "Request_BadRequest",
    );
    assert_eq!(
        error["details"][1]["target"],
        format!("User_{ADELE_DUPLICATE}")
    );
    // A UPN in an unverified domain is refused.
    graph_error(
        &post(
            &emulator,
            &token,
            "/users",
            new_user("x@corp.contoso.local", None),
        )
        .await,
        400,
        "Request_BadRequest",
    );
    emulator.shutdown().await;
    // §16 #19 alternative: 500 "The given key was not present in the dictionary".
    let emulator = emulator_with(fixture_with(|fixture| {
        fixture.settings.create_with_used_immutable_id =
            hardmatch_emulator::settings::CreateConflictBehaviour::KeyNotFound;
    }))
    .await;
    let token = app_token(&emulator).await;
    let reply = post(
        &emulator,
        &token,
        "/users",
        new_user("third.user@contoso.com", Some(ADELE_ANCHOR)),
    )
    .await;
    assert_eq!(reply.status.as_u16(), 500, "{}", reply.text);
    emulator.shutdown().await;
}
