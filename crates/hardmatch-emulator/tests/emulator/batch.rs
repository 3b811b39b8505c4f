//! `$batch` (graph-api.md §11, §16 #10, #11).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

fn response<'a>(body: &'a Value, id: &str) -> &'a Value {
    body["responses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["id"] == id)
        .unwrap()
}

#[tokio::test]
async fn items_run_with_their_own_status_headers_and_dependencies() {
    let emulator = emulator().await;
    let token = app_token(&emulator).await;
    let reply = post(&emulator, &token, "/$batch", json!({"requests": [
        {"id": "1", "method": "GET", "url": format!("{}/users/{ADELE}?$select=id", emulator.graph_url())},
        {"id": "2", "method": "GET", "url": "/users/68be84bf-a585-4776-80b3-30aa5207aa22"},
        {"id": "3", "method": "PATCH", "url": format!("/users/{LYNNE}"), "dependsOn": ["2"],
         "headers": {"Content-Type": "application/json"}, "body": {"onPremisesImmutableId": "abc"}},
        {"id": "4", "method": "GET", "url": "/users/$count", "headers": {"ConsistencyLevel": "eventual"}},
        {"id": "5", "method": "GET", "url": "/users/$count"},
        {"id": "6", "method": "PATCH", "url": format!("/users/{LYNNE}"), "dependsOn": ["1"],
         "headers": {"Content-Type": "application/json"}, "body": {"jobTitle": "Lead Planner"}},
    ]}))
    .await;
    // Outer 200 when parsed; per-item status.
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let body = reply.json();
    assert_eq!(response(&body, "1")["status"], 200);
    assert_eq!(response(&body, "1")["body"]["id"], ADELE);
    // Items carry x-ms-resource-unit.
    assert!(response(&body, "1")["headers"]["x-ms-resource-unit"].is_string());
    assert_eq!(response(&body, "2")["status"], 404);
    // Failed prerequisite → 424.
    assert_eq!(response(&body, "3")["status"], 424);
    // ConsistencyLevel in the item's headers counts; the outer request's would not.
    assert_eq!(response(&body, "4")["status"], 200);
    assert_eq!(response(&body, "5")["status"], 400);
    assert_eq!(response(&body, "6")["status"], 204);
    let read = get(
        &emulator,
        &token,
        &format!("/users/{LYNNE}?$select=jobTitle,onPremisesImmutableId"),
    )
    .await
    .json();
    assert_eq!(read["jobTitle"], "Lead Planner");
    assert_eq!(read["onPremisesImmutableId"], Value::Null);
    emulator.shutdown().await;
}

#[tokio::test]
async fn malformed_batches_are_400() {
    let emulator = emulator().await;
    let token = app_token(&emulator).await;
    let item =
        |id: usize| json!({"id": id.to_string(), "method": "GET", "url": "/users?$select=id"});
    // Max 20 (§16 #10: 400, generic message).
    let reply = post(
        &emulator,
        &token,
        "/$batch",
        json!({"requests": (0..21).map(item).collect::<Vec<_>>()}),
    )
    .await;
    graph_error(&reply, 400, "BadRequest");
    assert_eq!(
        post(
            &emulator,
            &token,
            "/$batch",
            json!({"requests": (0..20).map(item).collect::<Vec<_>>()})
        )
        .await
        .status,
        StatusCode::OK
    );
    // Unique ids, else whole batch 400.
    let reply = post(
        &emulator,
        &token,
        "/$batch",
        json!({"requests": [item(1), item(1)]}),
    )
    .await;
    graph_error(&reply, 400, "BadRequest");
    // A body needs Content-Type in the item headers.
    let reply = post(&emulator, &token, "/$batch", json!({"requests": [
        {"id": "1", "method": "PATCH", "url": format!("/users/{LYNNE}"), "body": {"jobTitle": "x"}}]})).await;
    graph_error(&reply, 400, "BadRequest");
    emulator.shutdown().await;
}
