//! Resource-unit throttling over HTTP (graph-api.md §13, §10, §11, §16 #12).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

#[tokio::test]
async fn costs_are_reported_per_request() {
    let emulator = emulator().await;
    let token = app_token(&emulator).await;
    // graph-api.md §13: GET users 2; $select −1; `$select=…&$top=999` = 1; other GETs 1.
    assert_eq!(
        get(&emulator, &token, "/users")
            .await
            .header("x-ms-resource-unit"),
        Some("2")
    );
    assert_eq!(
        get(&emulator, &token, "/users?$select=id&$top=999")
            .await
            .header("x-ms-resource-unit"),
        Some("1")
    );
    assert_eq!(
        get(&emulator, &token, &format!("/users/{ADELE}"))
            .await
            .header("x-ms-resource-unit"),
        Some("1")
    );
    // Writes: 1 RU + 1 write.
    let reply = patch(
        &emulator,
        &token,
        &format!("/users/{LYNNE}"),
        json!({"jobTitle": "x"}),
    )
    .await;
    assert_eq!(reply.header("x-ms-resource-unit"), Some("1"));
    emulator.shutdown().await;
}

fn batch_of_lists() -> Value {
    json!({"requests": (0..20).map(|id| json!({"id": id.to_string(), "method": "GET", "url": "/users"})).collect::<Vec<_>>()})
}

#[tokio::test]
async fn a_small_tenant_is_throttled_at_3500_units_and_early_retries_are_refused_again() {
    let (emulator, clock) = emulator_with_clock(hardmatch_emulator::Fixture::example()).await;
    let token = app_token(&emulator).await;
    // 9 users: < 50 → 3,500 RU / 10 s. 20 lists × 2 RU per batch; the clock stands still.
    let mut throttled_item = None;
    let mut saw_percentage = false;
    for _ in 0..100 {
        let reply = post(&emulator, &token, "/$batch", batch_of_lists()).await;
        // §16 #11: outer status 200 even with a throttled item.
        assert_eq!(reply.status, StatusCode::OK);
        let body = reply.json();
        for item in body["responses"].as_array().unwrap() {
            saw_percentage |= item["headers"]["x-ms-throttle-limit-percentage"].is_string();
            if item["status"] == 429 && throttled_item.is_none() {
                throttled_item = Some(item.clone());
            }
        }
        if throttled_item.is_some() {
            break;
        }
    }
    let item = throttled_item.expect("a batch item is throttled");
    // graph-api.md §11: per-item 429 with its own Retry-After.
    assert!(item["headers"]["Retry-After"].is_string(), "{item}");
    // §13: x-ms-throttle-limit-percentage only above 0.8, seen before the limit.
    assert!(saw_percentage);
    // A top-level call now: 429 TooManyRequests with the documented headers and body.
    let reply = get(&emulator, &token, "/users").await;
    let error = graph_error(&reply, 429, "TooManyRequests");
    assert_eq!(error["message"], "Please retry again later.");
    assert_eq!(error["innerError"]["code"], "429");
    assert_eq!(error["innerError"]["status"], "429");
    // §16 #12 default: whole seconds.
    let retry_after = reply.header("retry-after").unwrap().to_owned();
    assert!(retry_after.parse::<u64>().is_ok(), "{retry_after}");
    assert_eq!(
        reply.header("x-ms-throttle-scope"),
        Some(format!("Tenant_Application/Read/{APP_ID}/{TENANT_ID}").as_str())
    );
    assert_eq!(
        reply.header("x-ms-throttle-information"),
        Some("ResourceUnitLimitExceeded")
    );
    // A retry before Retry-After is refused again, even a cheap one.
    clock.advance(Duration::from_millis(1));
    assert_eq!(
        get(&emulator, &token, "/users?$select=id&$top=5")
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // After it, the bucket has refilled enough.
    clock.advance(Duration::from_secs(2));
    assert_eq!(
        get(&emulator, &token, "/users").await.status,
        StatusCode::OK
    );
    // Another app has its own bucket (per app + tenant).
    let other = token_for(&emulator, READ_ONLY_APP_ID, READ_ONLY_SECRET).await;
    clock.advance(Duration::ZERO);
    assert_eq!(
        get(&emulator, &other, "/users").await.status,
        StatusCode::OK
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn fractional_retry_after_by_switch_and_throttling_off_by_switch() {
    let (emulator, _clock) = emulator_with_clock(fixture_with(|fixture| {
        fixture.settings.retry_after_format =
            hardmatch_emulator::settings::RetryAfterFormat::Fractional;
    }))
    .await;
    let token = app_token(&emulator).await;
    let mut retry_after = None;
    for _ in 0..100 {
        let body = post(&emulator, &token, "/$batch", batch_of_lists())
            .await
            .json();
        retry_after = body["responses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|item| item["status"] == 429)
            .map(|item| item["headers"]["Retry-After"].as_str().unwrap().to_owned());
        if retry_after.is_some() {
            break;
        }
    }
    // §16 #12 alternative: fractional seconds, e.g. "2.128".
    let retry_after = retry_after.unwrap();
    assert!(retry_after.contains('.'), "{retry_after}");
    emulator.shutdown().await;
    let (emulator, _clock) = emulator_with_clock(fixture_with(|fixture| {
        fixture.settings.throttling_enabled = false
    }))
    .await;
    let token = app_token(&emulator).await;
    for _ in 0..100 {
        let body = post(&emulator, &token, "/$batch", batch_of_lists())
            .await
            .json();
        assert!(
            body["responses"]
                .as_array()
                .unwrap()
                .iter()
                .all(|item| item["status"] == 200)
        );
    }
    emulator.shutdown().await;
}
