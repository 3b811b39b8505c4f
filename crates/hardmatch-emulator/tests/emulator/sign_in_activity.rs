//! `signInActivity`: `AuditLog.Read.All`, then a P1/P2 tenant, ids only as keys, and the
//! reports service's own quota (graph-api.md §9, §13, §14).

use std::time::Duration;

use hardmatch_emulator::{Fixture, RunningEmulator};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

const AUDIT_LOG_READ_ALL: &str = "AuditLog.Read.All";

fn adele_activity() -> Value {
    json!({
        "lastSignInDateTime": "2026-10-30T08:14:02Z",
        "lastSignInRequestId": "0d4f2a6e-8c1b-4e7a-9f3d-2b5c6a7e8f90",
        "lastNonInteractiveSignInDateTime": "2026-11-20T17:45:11Z",
        "lastNonInteractiveSignInRequestId": "1e5a3b7f-9d2c-4f8b-a04e-3c6d7b8f9a01",
        "lastSuccessfulSignInDateTime": "2026-11-20T17:45:11Z",
        "lastSuccessfulSignInRequestId": "1e5a3b7f-9d2c-4f8b-a04e-3c6d7b8f9a01"
    })
}

/// Microsoft Entra ID P2 as `subscribedSkus` lists it.
fn entra_id_p2() -> serde_json::Map<String, Value> {
    json!({
        "skuId": "84a661c4-e949-4bd2-a560-ed7766fcaf2b",
        "skuPartNumber": "AAD_PREMIUM_P2",
        "servicePlans": [{
            "servicePlanId": "eec0eb4f-6444-4f95-aba0-50c24d67f998",
            "servicePlanName": "AAD_PREMIUM_P2",
            "provisioningStatus": "Success",
            "appliesTo": "User"
        }]
    })
    .as_object()
    .unwrap()
    .clone()
}

fn hardmatch_app(fixture: &mut Fixture) -> &mut hardmatch_emulator::AppRegistration {
    fixture
        .apps
        .iter_mut()
        .find(|app| app.client_id == APP_ID)
        .unwrap()
}

fn grant_audit_log(fixture: &mut Fixture) {
    let app = hardmatch_app(fixture);
    for permissions in [
        &mut app.application_permissions,
        &mut app.delegated_permissions,
    ] {
        if !permissions
            .iter()
            .any(|granted| granted == AUDIT_LOG_READ_ALL)
        {
            permissions.push(AUDIT_LOG_READ_ALL.to_owned());
        }
    }
}

/// No app with `AuditLog.Read.All` and no subscribed SKU, whatever the example holds.
fn without_audit_log_or_premium(fixture: &mut Fixture) {
    for app in &mut fixture.apps {
        app.application_permissions
            .retain(|granted| granted != AUDIT_LOG_READ_ALL);
    }
    fixture.license_skus.clear();
}

/// The example tenant with Entra ID P2, `AuditLog.Read.All` granted to the `hardmatch` app
/// and sign-in data for Adele; Lynne never signed in.
fn premium_tenant() -> Fixture {
    fixture_with(|fixture| {
        grant_audit_log(fixture);
        fixture.license_skus = vec![entra_id_p2()];
        let adele = fixture
            .users
            .iter_mut()
            .find(|user| user["id"] == ADELE)
            .unwrap();
        adele.insert("signInActivity".into(), adele_activity());
        let lynne = fixture
            .users
            .iter_mut()
            .find(|user| user["id"] == LYNNE)
            .unwrap();
        lynne.remove("signInActivity");
    })
}

fn list_path() -> String {
    format!("/users?$filter=id%20in%20('{ADELE}','{LYNNE}')&$select=id,signInActivity")
}

fn by_id(body: &Value, id: &str) -> Value {
    body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|user| user["id"] == id)
        .unwrap()
        .clone()
}

/// Every read that selects `signInActivity` (list, get, deleted items) is a 403 with `code`
/// and `message`.
async fn assert_every_read_refused(
    emulator: &RunningEmulator,
    token: &str,
    code: &str,
    message: &str,
) {
    for path in [
        list_path(),
        format!("/users/{ADELE}?$select=id,signInActivity"),
        "/directory/deletedItems/microsoft.graph.user?$select=id,signInActivity".to_owned(),
    ] {
        let error = graph_error(&get(emulator, token, &path).await, 403, code);
        assert_eq!(error["message"], message, "{path}");
    }
}

#[tokio::test]
async fn sign_in_activity_needs_audit_log_read_all_before_anything_else() {
    // No premium SKU either: the permission is checked first.
    let emulator = emulator_with(fixture_with(without_audit_log_or_premium)).await;
    let token = app_token(&emulator).await;
    assert_every_read_refused(
        &emulator,
        &token,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    )
    .await;
    // The same reads without signInActivity are served.
    let reply = get(
        &emulator,
        &token,
        &format!("/users?$filter=id%20in%20('{ADELE}','{LYNNE}')&$select=id"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    emulator.shutdown().await;
}

#[tokio::test]
async fn sign_in_activity_needs_a_tenant_with_entra_id_p1_or_p2() {
    let emulator = emulator_with(fixture_with(|fixture| {
        without_audit_log_or_premium(fixture);
        grant_audit_log(fixture);
    }))
    .await;
    let token = app_token(&emulator).await;
    assert_every_read_refused(
        &emulator,
        &token,
        "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
        "Neither tenant is B2C or tenant doesn't have premium license",
    )
    .await;
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_premium_tenant_serves_the_stored_sign_in_activity_when_selected() {
    let emulator = emulator_with(premium_tenant()).await;
    let token = app_token(&emulator).await;
    let reply = get(&emulator, &token, &list_path()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["value"].as_array().unwrap().len(), 2);
    assert_eq!(by_id(&body, ADELE)["signInActivity"], adele_activity());
    // graph-api.md §9: a user who never signed in has none; the property is null.
    let lynne = by_id(&body, LYNNE);
    assert!(lynne.as_object().unwrap().contains_key("signInActivity"));
    assert_eq!(lynne["signInActivity"], Value::Null);
    let reply = get(
        &emulator,
        &token,
        &format!("/users/{ADELE}?$select=id,signInActivity"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json()["signInActivity"], adele_activity());
    // graph-api.md §3.1: only with $select.
    let reply = get(&emulator, &token, &format!("/users/{ADELE}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(!reply.text.contains("signInActivity"), "{}", reply.text);
    let reply = get(
        &emulator,
        &token,
        "/directory/deletedItems/microsoft.graph.user?$select=id,signInActivity",
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        by_id(&reply.json(), MEGAN_DELETED)["signInActivity"],
        Value::Null
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_get_by_upn_that_selects_sign_in_activity_is_refused() {
    let emulator = emulator_with(premium_tenant()).await;
    let token = app_token(&emulator).await;
    let reply = get(
        &emulator,
        &token,
        "/users/adele.vance@contoso.com?$select=id,signInActivity",
    )
    .await;
    // A 2026 Graph Explorer capture: the code is the bare status.
    let error = graph_error(&reply, 400, "400");
    assert_eq!(
        error["message"],
        "Get By Key only supports UserId and the key has to be a valid Guid"
    );
    let reply = get(
        &emulator,
        &token,
        "/users/adele.vance@contoso.com?$select=id,displayName",
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json()["id"], ADELE);
    let reply = get(
        &emulator,
        &token,
        &format!("/users('{ADELE}')?$select=id,signInActivity"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json()["signInActivity"], adele_activity());
    emulator.shutdown().await;
}

async fn delegated_token(emulator: &RunningEmulator, scope: &str) -> String {
    let form = |url: String, body: String| async move {
        let response = client()
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        json_of(response).await
    };
    let base = emulator.authority_url();
    let started = form(
        format!("{base}/{TENANT_ID}/oauth2/v2.0/devicecode"),
        format!("client_id={APP_ID}&scope={scope}"),
    )
    .await;
    // The lab mode approves on the first poll.
    let answer = form(
        format!("{base}/{TENANT_ID}/oauth2/v2.0/token"),
        format!(
            "grant_type=urn:ietf:params:oauth:grant-type:device_code&client_id={APP_ID}&device_code={}",
            started["device_code"].as_str().unwrap()
        ),
    )
    .await;
    answer["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_delegated_sign_in_needs_the_audit_log_scope() {
    let mut fixture = premium_tenant();
    fixture.settings.device_code_auto_approve_after_polls = Some(1);
    fixture.settings.device_code_interval_seconds = 0;
    let emulator = emulator_with(fixture).await;
    let without = delegated_token(&emulator, "Directory.Read.All").await;
    graph_error(
        &get(&emulator, &without, &list_path()).await,
        403,
        "Authorization_RequestDenied",
    );
    let with = delegated_token(&emulator, "Directory.Read.All%20AuditLog.Read.All").await;
    let reply = get(&emulator, &with, &list_path()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        by_id(&reply.json(), ADELE)["signInActivity"],
        adele_activity()
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn the_sixth_sign_in_activity_read_in_10_seconds_is_throttled_and_other_reads_are_not() {
    let (emulator, clock) = emulator_with_clock(premium_tenant()).await;
    let token = app_token(&emulator).await;
    // graph-api.md §13: reports incl. signInActivity, 5 requests / 10 s per app and tenant;
    // the clock stands still.
    for attempt in 0..5 {
        let path = if attempt % 2 == 0 {
            list_path()
        } else {
            format!("/users/{ADELE}?$select=id,signInActivity")
        };
        let reply = get(&emulator, &token, &path).await;
        assert_eq!(reply.status, StatusCode::OK, "{attempt}: {}", reply.text);
    }
    let reply = get(&emulator, &token, &list_path()).await;
    let error = graph_error(&reply, 429, "TooManyRequests");
    assert_eq!(error["message"], "Please retry again later.");
    // One request refills in 2 s.
    assert_eq!(reply.header("retry-after"), Some("2"));
    assert_eq!(
        reply.header("x-ms-throttle-scope"),
        Some(format!("Tenant_Application/Read/{APP_ID}/{TENANT_ID}").as_str())
    );
    assert_eq!(
        reply.header("x-ms-throttle-information"),
        Some("ResourceUnitLimitExceeded")
    );
    // Reads without signInActivity stay within the resource-unit bucket.
    let reply = get(
        &emulator,
        &token,
        &format!("/users/{ADELE}?$select=id,displayName"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    // Before Retry-After the quota is still spent; at it, one more read is served.
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        get(&emulator, &token, &list_path()).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        get(&emulator, &token, &list_path()).await.status,
        StatusCode::OK
    );
    // graph-api.md §11: $batch items are charged one by one, with their own 429.
    clock.advance(Duration::from_secs(10));
    let requests: Vec<Value> = (0..6)
        .map(|id| {
            json!({"id": id.to_string(), "method": "GET",
                   "url": format!("/users/{ADELE}?$select=id,signInActivity")})
        })
        .collect();
    let reply = post(
        &emulator,
        &token,
        "/$batch",
        json!({ "requests": requests }),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let body = reply.json();
    let statuses: Vec<&Value> = body["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| &item["status"])
        .collect();
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429]);
    assert_eq!(body["responses"][5]["headers"]["Retry-After"], "2");
    emulator.shutdown().await;
}

#[tokio::test]
async fn the_reports_quota_is_off_when_throttling_is() {
    let mut fixture = premium_tenant();
    fixture.settings.throttling_enabled = false;
    let (emulator, _clock) = emulator_with_clock(fixture).await;
    let token = app_token(&emulator).await;
    for attempt in 0..10 {
        let reply = get(&emulator, &token, &list_path()).await;
        assert_eq!(reply.status, StatusCode::OK, "{attempt}: {}", reply.text);
    }
    emulator.shutdown().await;
}
