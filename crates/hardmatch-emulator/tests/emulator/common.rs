//! Helpers: start an emulator, get tokens, send requests.

use std::sync::Arc;

use hardmatch_emulator::{EmulatorOptions, Fixture, ManualClock, RunningEmulator, start};
use reqwest::{Client, Method, StatusCode};
use serde_json::Value;

pub(crate) const APP_ID: &str = "8a9f2c1e-4b3d-4e5f-9a6b-7c8d9e0f1a2b";
pub(crate) const APP_SECRET: &str = "hardmatch-emulator-secret";
pub(crate) const READ_ONLY_APP_ID: &str = "3b4c5d6e-7f80-4a1b-9c2d-3e4f5a6b7c8d";
pub(crate) const READ_ONLY_SECRET: &str = "hardmatch-emulator-read-only-secret";
pub(crate) const TENANT_ID: &str = "7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e0f";

pub(crate) const LYNNE: &str = "1a2b3c4d-0001-4e5f-8a9b-0c1d2e3f4a01";
pub(crate) const ADELE: &str = "2c3d4e5f-0002-4e5f-8a9b-0c1d2e3f4a02";
pub(crate) const MEGAN: &str = "3e4f5a6b-0003-4e5f-8a9b-0c1d2e3f4a03";
pub(crate) const ALEX_ADMIN: &str = "4a5b6c7d-0004-4e5f-8a9b-0c1d2e3f4a04";
pub(crate) const ADELE_DUPLICATE: &str = "5c6d7e8f-0005-4e5f-8a9b-0c1d2e3f4a05";
pub(crate) const LEE_SYNCED: &str = "6e7f8a9b-0006-4e5f-8a9b-0c1d2e3f4a06";
pub(crate) const MEGAN_DELETED: &str = "7a8b9c0d-0007-4e5f-8a9b-0c1d2e3f4a07";
pub(crate) const DIEGO: &str = "8c9d0e1f-0008-4e5f-8a9b-0c1d2e3f4a08";
pub(crate) const ISAIAH_FEDERATED: &str = "9e0f1a2b-0009-4e5f-8a9b-0c1d2e3f4a09";

pub(crate) const ADELE_ANCHOR: &str = "6SNZnFLe6jOI3n68hjO5zA==";
pub(crate) const MEGAN_DELETED_ANCHOR: &str = "TlNJ14afp0S1cmvntTssqQ==";

/// A rustls client config on the ring provider, trusting `roots`.
pub(crate) fn tls_config(roots: &[&str]) -> rustls::ClientConfig {
    let mut store = rustls::RootCertStore::empty();
    for pem in roots {
        use rustls::pki_types::pem::PemObject;
        for certificate in rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes()) {
            store.add(certificate.unwrap()).unwrap();
        }
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth()
}

pub(crate) fn client() -> Client {
    client_trusting(&[])
}

pub(crate) fn client_trusting(roots: &[&str]) -> Client {
    Client::builder()
        .use_preconfigured_tls(tls_config(roots))
        .no_proxy()
        .build()
        .unwrap()
}

pub(crate) fn fixture_with(change: impl FnOnce(&mut Fixture)) -> Fixture {
    let mut fixture = Fixture::example();
    change(&mut fixture);
    fixture
}

pub(crate) async fn emulator() -> RunningEmulator {
    start(EmulatorOptions::new(Fixture::example()))
        .await
        .unwrap()
}

pub(crate) async fn emulator_with(fixture: Fixture) -> RunningEmulator {
    start(EmulatorOptions::new(fixture)).await.unwrap()
}

/// An emulator on a manual clock, and the clock.
pub(crate) async fn emulator_with_clock(fixture: Fixture) -> (RunningEmulator, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::starting_now());
    let mut options = EmulatorOptions::new(fixture);
    options.clock = clock.clone();
    (start(options).await.unwrap(), clock)
}

pub(crate) async fn token_for(emulator: &RunningEmulator, client_id: &str, secret: &str) -> String {
    let response = client()
        .post(emulator.token_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "client_id={client_id}&client_secret={secret}&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&grant_type=client_credentials"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = json_of(response).await;
    body["access_token"].as_str().unwrap().to_owned()
}

pub(crate) async fn app_token(emulator: &RunningEmulator) -> String {
    token_for(emulator, APP_ID, APP_SECRET).await
}

/// A response read whole.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) text: String,
}

impl Reply {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

pub(crate) async fn json_of(response: reqwest::Response) -> Value {
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}

pub(crate) async fn call(
    method: Method,
    url: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Reply {
    let mut request = client().request(method, url).bearer_auth(token);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.unwrap();
    Reply {
        status: response.status(),
        headers: response.headers().clone(),
        text: response.text().await.unwrap(),
    }
}

pub(crate) async fn get(emulator: &RunningEmulator, token: &str, path: &str) -> Reply {
    call(
        Method::GET,
        &format!("{}{path}", emulator.graph_url()),
        token,
        &[],
        None,
    )
    .await
}

pub(crate) async fn get_with(
    emulator: &RunningEmulator,
    token: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Reply {
    call(
        Method::GET,
        &format!("{}{path}", emulator.graph_url()),
        token,
        headers,
        None,
    )
    .await
}

pub(crate) async fn patch(
    emulator: &RunningEmulator,
    token: &str,
    path: &str,
    body: Value,
) -> Reply {
    call(
        Method::PATCH,
        &format!("{}{path}", emulator.graph_url()),
        token,
        &[],
        Some(body),
    )
    .await
}

pub(crate) async fn delete(emulator: &RunningEmulator, token: &str, path: &str) -> Reply {
    call(
        Method::DELETE,
        &format!("{}{path}", emulator.graph_url()),
        token,
        &[],
        None,
    )
    .await
}

pub(crate) async fn post(
    emulator: &RunningEmulator,
    token: &str,
    path: &str,
    body: Value,
) -> Reply {
    call(
        Method::POST,
        &format!("{}{path}", emulator.graph_url()),
        token,
        &[],
        Some(body),
    )
    .await
}

/// Asserts a Graph error envelope and returns its `error` object.
pub(crate) fn graph_error(reply: &Reply, status: u16, code: &str) -> Value {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.text);
    let body = reply.json();
    let error = body["error"].clone();
    assert_eq!(error["code"], code, "{}", reply.text);
    // graph-api.md §10: innerError carries date (no zone), request-id, client-request-id.
    let inner = &error["innerError"];
    assert!(inner["request-id"].is_string(), "{}", reply.text);
    assert!(inner["client-request-id"].is_string());
    let date = inner["date"].as_str().unwrap();
    assert_eq!(date.len(), 19, "date without zone: {date}");
    assert!(!date.ends_with('Z'));
    error
}
