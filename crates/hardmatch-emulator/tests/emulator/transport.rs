//! TLS, chaos, latency, the request log, and a throughput measurement.

use std::time::{Duration, Instant};

use hardmatch_emulator::{Chaos, EmulatorOptions, Fixture, TlsMode, start};
use reqwest::StatusCode;

use crate::common::*;

#[tokio::test]
async fn tls_serves_a_certificate_for_loopback_signed_by_the_exposed_ca() {
    let mut options = EmulatorOptions::new(Fixture::example());
    options.tls = TlsMode::SelfSigned;
    let emulator = start(options).await.unwrap();
    assert!(emulator.base_url().starts_with("https://127.0.0.1:"));
    let ca = emulator.ca_certificate_pem().unwrap().to_owned();
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"));
    let trusting = client_trusting(&[&ca]);
    let response = trusting
        .post(emulator.token_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("client_id={APP_ID}&client_secret={APP_SECRET}&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&grant_type=client_credentials"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let token = json_of(response).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // SAN localhost too.
    let port = emulator.base_url().rsplit(':').next().unwrap().to_owned();
    let users = trusting
        .get(format!("https://localhost:{port}/v1.0/users"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(users.status(), StatusCode::OK);
    // A client that does not trust the CA fails the handshake.
    assert!(client().get(emulator.graph_url()).send().await.is_err());
    emulator.shutdown().await;
}

#[tokio::test]
async fn chaos_injects_seeded_faults_at_the_rate() {
    let run = |seed| async move {
        let mut options = EmulatorOptions::new(fixture_with(|fixture| {
            fixture.settings.chaos_slow_response_milliseconds = 5
        }));
        options.chaos = Some(Chaos { rate: 0.5, seed });
        let emulator = start(options).await.unwrap();
        let token = app_token(&emulator).await;
        let mut outcomes = Vec::new();
        for _ in 0..60 {
            let result = client()
                .get(format!("{}/users?$select=id", emulator.graph_url()))
                .bearer_auth(&token)
                .send()
                .await;
            outcomes.push(match result {
                Ok(response) => response.status().as_u16(),
                Err(_) => 0,
            });
        }
        emulator.shutdown().await;
        outcomes
    };
    let first = run(42).await;
    // The same seed replays the same faults.
    assert_eq!(first, run(42).await);
    for status in [0, 429, 503, 504] {
        assert!(first.contains(&status), "{status} in {first:?}");
    }
    let faults = first.iter().filter(|status| **status != 200).count();
    assert!((15..50).contains(&faults), "{faults}");
}

#[tokio::test]
async fn latency_delays_answers_and_the_request_log_counts_calls() {
    let mut options = EmulatorOptions::new(Fixture::example());
    options.latency = Duration::from_millis(50);
    let emulator = start(options).await.unwrap();
    let token = app_token(&emulator).await;
    let started = Instant::now();
    get(&emulator, &token, "/users").await;
    assert!(started.elapsed() >= Duration::from_millis(50));
    get(&emulator, &token, "/users/nobody@contoso.com").await;
    let log: serde_json::Value = json_of(
        client()
            .get(format!("{}/_emulator/requests", emulator.base_url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let requests = log["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[1]["method"], "GET");
    assert_eq!(requests[1]["path"], "/v1.0/users");
    assert_eq!(requests[1]["status"], 200);
    assert_eq!(requests[2]["status"], 404);
    assert_eq!(emulator.requests_json().as_array().unwrap().len(), 3);
    // The state dump loads again as a fixture.
    let state: serde_json::Value = json_of(
        client()
            .get(format!("{}/_emulator/state", emulator.base_url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(Fixture::from_json(&state.to_string()).is_ok());
    emulator.shutdown().await;
}

#[tokio::test]
async fn binding_outside_loopback_is_refused() {
    let mut options = EmulatorOptions::new(Fixture::example());
    options.bind = "0.0.0.0:0".parse().unwrap();
    assert!(start(options).await.is_err());
}

#[tokio::test]
async fn measures_requests_per_second_of_a_users_page() {
    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    // A tenant of 2,000 users, read in pages of 999 as hardmatch does.
    let emulator = emulator_with(fixture_with(|fixture| {
        fixture.settings.throttling_enabled = false;
        let template = fixture.users[0].clone();
        for index in 0..2_000 {
            let mut user = template.clone();
            user.insert(
                "id".into(),
                format!("00000000-0000-4000-8000-{index:012}").into(),
            );
            user.insert(
                "userPrincipalName".into(),
                format!("user{index}@contoso.com").into(),
            );
            user.insert(
                "onPremisesImmutableId".into(),
                format!("bWVhc3VyZS11c2VyLXt{index}").into(),
            );
            fixture.users.push(user);
        }
    }))
    .await;
    let token = app_token(&emulator).await;
    let http = client();
    for (label, url, count) in [
        (
            "small page (default set, 100 users)",
            format!("{}/users", emulator.graph_url()),
            50u32,
        ),
        (
            "page of 999 with $select",
            format!(
                "{}/users?$select=id,userPrincipalName,onPremisesImmutableId,onPremisesSyncEnabled&$top=999",
                emulator.graph_url()
            ),
            20,
        ),
        (
            "$filter onPremisesImmutableId eq",
            format!(
                "{}/users?$filter=onPremisesImmutableId%20eq%20'bWVhc3VyZS11c2VyLXt1500'&$select=id",
                emulator.graph_url()
            ),
            50,
        ),
    ] {
        let started = Instant::now();
        for _ in 0..count {
            let response = http.get(&url).bearer_auth(&token).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            response.bytes().await.unwrap();
        }
        let rate = f64::from(count) / started.elapsed().as_secs_f64();
        println!("{label}: {rate:.0} requests/s sequential, {build} build, 2,008 users");
        assert!(rate > 2.0, "{label}: {rate}");
    }
    emulator.shutdown().await;
}
