//! The identity platform: client credentials, assertions, device code, discovery, and the
//! 401/403 paths of Graph (graph-api.md §2, §10).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hardmatch_emulator::{EmulatorOptions, start};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

async fn form(url: &str, body: &str) -> (StatusCode, Value) {
    let response = client()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, json_of(response).await)
}

fn assert_aadsts(body: &Value, error: &str, code: u64) {
    // graph-api.md §2: error, error_description "AADSTS…\r\nTrace ID…", error_codes,
    // timestamp, trace_id, correlation_id.
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_codes"], json!([code]), "{body}");
    let description = body["error_description"].as_str().unwrap();
    assert!(
        description.starts_with(&format!("AADSTS{code}: ")),
        "{description}"
    );
    assert!(description.contains("\r\nTrace ID: "));
    assert!(description.contains("\r\nCorrelation ID: "));
    assert!(description.contains("\r\nTimestamp: "));
    assert!(body["trace_id"].is_string() && body["correlation_id"].is_string());
    let timestamp = body["timestamp"].as_str().unwrap();
    assert!(
        timestamp.ends_with('Z') && timestamp.contains(' '),
        "{timestamp}"
    );
}

#[tokio::test]
async fn client_secret_in_the_form_or_http_basic_yields_a_bearer_token() {
    let emulator = emulator().await;
    // graph-api.md §2: form fields.
    let (status, body) = form(
        &emulator.token_url(),
        &format!("client_id={APP_ID}&client_secret={APP_SECRET}&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&grant_type=client_credentials"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    // graph-api.md §16 #13: ext_expires_in by default.
    assert_eq!(body["ext_expires_in"], 3599);
    let token = body["access_token"].as_str().unwrap();
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["tid"], TENANT_ID);
    assert_eq!(claims["appid"], APP_ID);
    assert!(
        claims["roles"]
            .as_array()
            .unwrap()
            .contains(&json!("User.ReadWrite.All"))
    );
    // "client_secret (URL-encoded; HTTP Basic also accepted)".
    let response = client()
        .post(format!(
            "{}/contoso.com/oauth2/v2.0/token",
            emulator.authority_url()
        ))
        .header(
            "authorization",
            format!(
                "Basic {}",
                STANDARD.encode(format!("{APP_ID}:{APP_SECRET}"))
            ),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body("scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    emulator.shutdown().await;
}

#[tokio::test]
async fn token_errors_use_the_aadsts_shape_and_codes() {
    let emulator = emulator().await;
    let url = emulator.token_url();
    // graph-api.md §2: bad secret → invalid_client AADSTS7000215 with this text.
    let (status, body) = form(&url, &format!("client_id={APP_ID}&client_secret=wrong&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&grant_type=client_credentials")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_aadsts(&body, "invalid_client", 7000215);
    assert!(body["error_description"].as_str().unwrap().contains(&format!(
        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{APP_ID}'."
    )));
    // graph-api.md §2: client credentials need {resource}/.default.
    let (status, body) = form(&url, &format!("client_id={APP_ID}&client_secret={APP_SECRET}&scope=User.Read.All&grant_type=client_credentials")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_aadsts(&body, "invalid_scope", 1002012);
    let (_, body) = form(
        &format!(
            "{}/fabrikam.example/oauth2/v2.0/token",
            emulator.authority_url()
        ),
        "client_id=x",
    )
    .await;
    assert_aadsts(&body, "invalid_request", 90002);
    let (_, body) = form(&url, "client_id=00000000-0000-0000-0000-000000000000&client_secret=x&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&grant_type=client_credentials").await;
    assert_aadsts(&body, "unauthorized_client", 700016);
    emulator.shutdown().await;
}

fn sign_assertion(algorithm: &str, header_extra: Value, claims: Value) -> String {
    use ring::signature::{RSA_PKCS1_SHA256, RSA_PSS_SHA256, RsaKeyPair};
    let key = RsaKeyPair::from_pkcs8(include_bytes!("../data/test-app.key.pk8.der")).unwrap();
    let mut header = json!({"alg": algorithm, "typ": "JWT"});
    for (name, value) in header_extra.as_object().unwrap() {
        header[name] = value.clone();
    }
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut signature = vec![0; key.public().modulus_len()];
    let padding: &dyn ring::signature::RsaEncoding = if algorithm == "PS256" {
        &RSA_PSS_SHA256
    } else {
        &RSA_PKCS1_SHA256
    };
    key.sign(
        padding,
        &ring::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut signature,
    )
    .unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn certificate_der() -> Vec<u8> {
    let pem = include_str!("../data/test-app.cert.pem");
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    STANDARD.decode(body).unwrap()
}

fn thumbprints() -> (String, String) {
    let der = certificate_der();
    (
        URL_SAFE_NO_PAD.encode(ring::digest::digest(
            &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            &der,
        )),
        URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, &der)),
    )
}

fn assertion_claims(audience: &str, now: i64, lifetime: i64) -> Value {
    json!({"aud": audience, "iss": APP_ID, "sub": APP_ID, "jti": "5a0f8b8e-3a0b-4f40-9c5e-2d9b8c1f2e3d",
           "nbf": now, "iat": now, "exp": now + lifetime})
}

async fn assertion_grant(url: &str, assertion: &str) -> (StatusCode, Value) {
    form(url, &format!(
        "client_id={APP_ID}&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={assertion}"
    ))
    .await
}

#[tokio::test]
async fn certificate_assertions_in_rs256_with_sha1_and_ps256_with_sha256_are_accepted() {
    let emulator = emulator().await;
    let url = emulator.token_url();
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let (sha1, sha256) = thumbprints();
    // graph-api.md §2: azure_identity signs RS256 with SHA-1 x5t.
    let rs256 = sign_assertion(
        "RS256",
        json!({"x5t": sha1}),
        assertion_claims(&url, now, 600),
    );
    let (status, body) = assertion_grant(&url, &rs256).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // graph-api.md §2: the 2025 doc's PS256 with x5t#S256.
    let ps256 = sign_assertion(
        "PS256",
        json!({"x5t#S256": sha256}),
        assertion_claims(&url, now, 600),
    );
    let (status, body) = assertion_grant(&url, &ps256).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // exp in the past.
    let expired = sign_assertion(
        "RS256",
        json!({"x5t": sha1}),
        assertion_claims(&url, now - 1200, 600),
    );
    let (_, body) = assertion_grant(&url, &expired).await;
    assert_aadsts(&body, "invalid_client", 700024);
    // aud must be the token endpoint.
    let wrong_audience = sign_assertion(
        "RS256",
        json!({"x5t": sha1}),
        assertion_claims("https://example.invalid/token", now, 600),
    );
    let (status, body) = assertion_grant(&url, &wrong_audience).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // A signature that does not verify.
    let mut tampered = rs256.clone();
    tampered.truncate(tampered.len() - 4);
    tampered.push_str("AAAA");
    let (_, body) = assertion_grant(&url, &tampered).await;
    assert_aadsts(&body, "invalid_client", 700027);
    emulator.shutdown().await;
}

#[tokio::test]
async fn device_code_flow_pending_slow_down_approval_and_expiry() {
    let (emulator, clock) = emulator_with_clock(hardmatch_emulator::Fixture::example()).await;
    let base = emulator.authority_url();
    let start_flow = || async {
        form(
            &format!("{base}/organizations/oauth2/v2.0/devicecode"),
            &format!("client_id={APP_ID}&scope=https%3A%2F%2Fgraph.microsoft.com%2FUser.ReadWrite.All%20offline_access%20openid"),
        )
        .await
    };
    // graph-api.md §2: device_code, user_code, verification_uri, expires_in 900, interval, message.
    let (status, started) = start_flow().await;
    assert_eq!(status, StatusCode::OK, "{started}");
    assert_eq!(started["expires_in"], 900);
    assert_eq!(started["interval"], 5);
    assert!(started.get("verification_uri_complete").is_none());
    let device_code = started["device_code"].as_str().unwrap().to_owned();
    let poll = |code: String| {
        let url = format!("{base}/organizations/oauth2/v2.0/token");
        async move {
            form(&url, &format!("grant_type=urn:ietf:params:oauth:grant-type:device_code&client_id={APP_ID}&device_code={code}")).await
        }
    };
    let (_, body) = poll(device_code.clone()).await;
    assert_aadsts(&body, "authorization_pending", 70016);
    // Polling again before the interval → slow_down.
    let (_, body) = poll(device_code.clone()).await;
    assert_eq!(body["error"], "slow_down");
    let approval = client()
        .post(format!("{base}/_emulator/devicecode/approve"))
        .body(
            json!({"user_code": started["user_code"], "user": "alex.wilber@contoso.com"})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(approval.status(), StatusCode::NO_CONTENT);
    clock.advance(Duration::from_secs(5));
    let (status, tokens) = poll(device_code.clone()).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    // Success adds scope, refresh_token (offline_access) and id_token (openid).
    assert!(
        tokens["scope"]
            .as_str()
            .unwrap()
            .contains("User.ReadWrite.All")
    );
    assert!(tokens["refresh_token"].is_string());
    assert!(tokens["id_token"].is_string());
    // A delegated token reads the tenant sync settings as a Global Administrator
    // (graph-api.md §7).
    let delegated_app = {
        let token = tokens["access_token"].as_str().unwrap();
        let claims: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(token.split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(claims["scp"], "User.ReadWrite.All");
        token.to_owned()
    };
    let _ = delegated_app;
    // Declined.
    let (_, declined) = start_flow().await;
    client()
        .post(format!("{base}/_emulator/devicecode/approve"))
        .body(json!({"user_code": declined["user_code"], "decline": true}).to_string())
        .send()
        .await
        .unwrap();
    clock.advance(Duration::from_secs(5));
    let (_, body) = poll(declined["device_code"].as_str().unwrap().to_owned()).await;
    assert_eq!(body["error"], "authorization_declined");
    // Expired after expires_in.
    let (_, expiring) = start_flow().await;
    clock.advance(Duration::from_secs(901));
    let (_, body) = poll(expiring["device_code"].as_str().unwrap().to_owned()).await;
    assert_eq!(body["error"], "expired_token");
    emulator.shutdown().await;
}

#[tokio::test]
async fn device_code_is_approved_automatically_after_n_polls_in_lab_mode() {
    let mut fixture = hardmatch_emulator::Fixture::example();
    fixture.settings.device_code_auto_approve_after_polls = Some(2);
    fixture.settings.device_code_interval_seconds = 0;
    let emulator = emulator_with(fixture).await;
    let base = emulator.authority_url();
    let (_, started) = form(
        &format!("{base}/{TENANT_ID}/oauth2/v2.0/devicecode"),
        &format!("client_id={APP_ID}&scope=OnPremDirectorySynchronization.Read.All"),
    )
    .await;
    let url = format!("{base}/{TENANT_ID}/oauth2/v2.0/token");
    let body = format!(
        "grant_type=urn:ietf:params:oauth:grant-type:device_code&client_id={APP_ID}&device_code={}",
        started["device_code"].as_str().unwrap()
    );
    let (_, first) = form(&url, &body).await;
    assert_eq!(first["error"], "authorization_pending");
    let (status, second) = form(&url, &body).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    // The auto-approved user is the Global Administrator, so the delegated token reads
    // /directory/onPremisesSynchronization (graph-api.md §7).
    let token = second["access_token"].as_str().unwrap();
    let reply = get(&emulator, token, "/directory/onPremisesSynchronization").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.json()["value"][0]["features"]
            .as_object()
            .unwrap()
            .len(),
        20
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn discovery_documents_point_at_the_emulator() {
    let emulator = emulator().await;
    let base = emulator.authority_url();
    let document: Value = json_of(
        client()
            .get(format!(
                "{base}/{TENANT_ID}/v2.0/.well-known/openid-configuration"
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        document["token_endpoint"],
        format!("{base}/{TENANT_ID}/oauth2/v2.0/token")
    );
    assert_eq!(document["issuer"], format!("{base}/{TENANT_ID}/v2.0"));
    let keys: Value = json_of(
        client()
            .get(document["jwks_uri"].as_str().unwrap())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(keys["keys"][0]["kty"], "EC");
    let instance: Value = json_of(
        client()
            .get(format!("{base}/common/discovery/instance?api-version=1.1"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        instance["tenant_discovery_endpoint"]
            .as_str()
            .unwrap()
            .starts_with(&base)
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn graph_rejects_missing_malformed_and_expired_tokens_with_401() {
    let (emulator, clock) = emulator_with_clock(hardmatch_emulator::Fixture::example()).await;
    // graph-api.md §10: 401 InvalidAuthenticationToken with these texts.
    let reply = get(&emulator, "", "/users").await;
    assert_eq!(
        graph_error(&reply, 401, "InvalidAuthenticationToken")["message"],
        "Access token is empty."
    );
    let reply = get(&emulator, "garbage", "/users").await;
    assert_eq!(
        graph_error(&reply, 401, "InvalidAuthenticationToken")["message"],
        "CompactToken parsing failed with error code: 80049217"
    );
    let token = app_token(&emulator).await;
    assert_eq!(
        get(&emulator, &token, "/users").await.status,
        StatusCode::OK
    );
    clock.advance(Duration::from_secs(3600));
    let reply = get(&emulator, &token, "/users").await;
    // graph-api.md §16 #14.
    assert_eq!(
        graph_error(&reply, 401, "InvalidAuthenticationToken")["message"],
        "Lifetime validation failed, the token is expired."
    );
    // A token from another emulator (another key) is refused.
    let other = start(EmulatorOptions::default()).await.unwrap();
    let foreign = app_token(&other).await;
    assert_eq!(
        get(&emulator, &foreign, "/users").await.status,
        StatusCode::UNAUTHORIZED
    );
    other.shutdown().await;
    emulator.shutdown().await;
}

#[tokio::test]
async fn missing_permissions_are_403_authorization_request_denied() {
    let emulator = emulator().await;
    let read_only = token_for(&emulator, READ_ONLY_APP_ID, READ_ONLY_SECRET).await;
    assert_eq!(
        get(&emulator, &read_only, "/users").await.status,
        StatusCode::OK
    );
    // graph-api.md §14: PATCH onPremisesImmutableId needs User.ReadWrite.All.
    let reply = patch(
        &emulator,
        &read_only,
        &format!("/users/{LYNNE}"),
        json!({"onPremisesImmutableId": "abc"}),
    )
    .await;
    let error = graph_error(&reply, 403, "Authorization_RequestDenied");
    assert_eq!(
        error["message"],
        "Insufficient privileges to complete the operation."
    );
    // graph-api.md §6: /organization needs Organization.Read.All.
    graph_error(
        &get(&emulator, &read_only, "/organization").await,
        403,
        "Authorization_RequestDenied",
    );
    emulator.shutdown().await;
}
