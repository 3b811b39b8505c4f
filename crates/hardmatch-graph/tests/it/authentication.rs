//! Each sign-in method against the emulator's token service.

use std::time::Duration;

use hardmatch_emulator::{EmulatorOptions, TlsMode};
use hardmatch_graph::{
    AssertionAlgorithm, CredentialSettings, DeviceCodeFailure, EnvironmentCredentials, GraphClient,
    GraphError, Secret, SyncSettingsRead,
};

use crate::support::{
    self, CLIENT_ID, CLIENT_SECRET, Prompts, fixture, fixture_path, settings, start,
};

#[tokio::test]
async fn client_secret_signs_in_and_reads() {
    let emulator = start(fixture()).await;
    let client = GraphClient::connect(support::secret_settings(&emulator))
        .await
        .expect("connects");
    assert_eq!(client.authentication_method(), "client secret");
    assert!(!client.list_users().await.expect("lists").is_empty());
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_wrong_secret_is_an_authentication_error_with_its_aadsts_code() {
    let emulator = start(fixture()).await;
    let settings = settings(
        &emulator,
        CredentialSettings::ClientSecret(Secret::new("wrong-secret-value")),
    );
    let error = GraphClient::connect(settings).await.expect_err("refused");
    match &error {
        GraphError::Authentication {
            aadsts_code,
            error: code,
            ..
        } => {
            assert_eq!(*aadsts_code, Some(7_000_215));
            assert_eq!(code, "invalid_client");
        }
        other => panic!("{other:?}"),
    }
    assert!(error.hint().contains("not its id"), "{}", error.hint());
    assert!(!format!("{error} {error:?}").contains("wrong-secret-value"));
    emulator.shutdown().await;
}

#[tokio::test]
async fn certificates_sign_in_from_pem_and_pfx_with_ps256_and_rs256() {
    let emulator = start(fixture()).await;
    for (file, password, algorithm) in [
        ("app-pkcs8.pem", None, AssertionAlgorithm::Ps256),
        ("app-pkcs1.pem", None, AssertionAlgorithm::Rs256),
        (
            "app-aes.pfx",
            Some(Secret::new("fixture-password")),
            AssertionAlgorithm::Ps256,
        ),
        (
            "app-legacy.pfx",
            Some(Secret::new("fixture-password")),
            AssertionAlgorithm::Rs256,
        ),
    ] {
        let mut settings = settings(
            &emulator,
            CredentialSettings::Certificate {
                path: fixture_path(file),
                password,
            },
        );
        settings.assertion_algorithm = algorithm;
        let client = GraphClient::connect(settings)
            .await
            .unwrap_or_else(|error| panic!("{file}: {error}"));
        assert_eq!(client.authentication_method(), "certificate");
        client
            .get_user("lynne.robbins@contoso.com")
            .await
            .expect("reads");
    }
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_certificate_not_registered_on_the_app_is_refused_with_a_hint() {
    // The example fixture registers another certificate: ours must fail signature checks.
    let emulator = start(hardmatch_emulator::Fixture::example()).await;
    let settings = settings(
        &emulator,
        CredentialSettings::Certificate {
            path: fixture_path("app-pkcs8.pem"),
            password: None,
        },
    );
    let error = GraphClient::connect(settings).await.expect_err("refused");
    assert!(
        matches!(error, GraphError::Authentication { .. }),
        "{error:?}"
    );
    assert!(
        error.hint().contains("certificate") || error.hint().contains("credential"),
        "{}",
        error.hint()
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn environment_variables_choose_the_secret_then_the_certificate() {
    let emulator = start(fixture()).await;
    let tenant = emulator.tenant_id();
    let with_secret = EnvironmentCredentials::from_lookup(|name| match name {
        "AZURE_TENANT_ID" => Some(tenant.clone()),
        "AZURE_CLIENT_ID" => Some(CLIENT_ID.to_owned()),
        "AZURE_CLIENT_SECRET" => Some(CLIENT_SECRET.to_owned()),
        _ => None,
    });
    let mut from_environment = settings(&emulator, CredentialSettings::Environment);
    from_environment.tenant_id = None;
    from_environment.client_id = None;
    from_environment.environment = with_secret;
    let client = GraphClient::connect(from_environment.clone())
        .await
        .expect("secret from environment");
    assert_eq!(client.authentication_method(), "client secret");

    let certificate_path = fixture_path("app-aes.pfx");
    from_environment.environment = EnvironmentCredentials::from_lookup(|name| match name {
        "AZURE_TENANT_ID" => Some(tenant.clone()),
        "AZURE_CLIENT_ID" => Some(CLIENT_ID.to_owned()),
        "AZURE_CLIENT_CERTIFICATE_PATH" => Some(certificate_path.display().to_string()),
        "AZURE_CLIENT_CERTIFICATE_PASSWORD" => Some("fixture-password".to_owned()),
        _ => None,
    });
    let client = GraphClient::connect(from_environment.clone())
        .await
        .expect("certificate from environment");
    assert_eq!(client.authentication_method(), "certificate");

    from_environment.environment = EnvironmentCredentials::default();
    let error = GraphClient::connect(from_environment)
        .await
        .expect_err("nothing set");
    assert!(
        matches!(error, GraphError::Configuration { .. }),
        "{error:?}"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn device_code_shows_the_message_polls_and_reads_sync_flags_as_a_delegated_admin() {
    let mut tenant = fixture();
    tenant.settings.device_code_auto_approve_after_polls = Some(2);
    let emulator = start(tenant).await;
    let prompts = Prompts::default();
    let mut settings = settings(
        &emulator,
        CredentialSettings::DeviceCode {
            prompt: prompts.callback(),
        },
    );
    // Named scopes, as an admin consents to them, instead of `.default`.
    settings.delegated_scopes = vec![
        "User.ReadWrite.All".to_owned(),
        "OnPremDirectorySynchronization.ReadWrite.All".to_owned(),
    ];
    let client = GraphClient::connect(settings)
        .await
        .expect("device code sign-in");
    let shown = prompts.all();
    assert_eq!(shown.len(), 1);
    assert!(
        shown[0].message.contains(&shown[0].user_code),
        "{}",
        shown[0].message
    );
    match client.sync_settings().await.expect("reads") {
        SyncSettingsRead::Known(settings) => {
            assert!(settings.features.soft_match_on_upn_enabled);
        }
        SyncSettingsRead::Unknown { reason } => {
            panic!("delegated GA should read the flags: {reason}")
        }
    }
    emulator.shutdown().await;
}

#[tokio::test]
async fn device_code_expiry_and_decline_are_typed() {
    let mut tenant = fixture();
    tenant.settings.device_code_expires_in_seconds = 1;
    tenant.settings.device_code_interval_seconds = 1;
    let emulator = start(tenant).await;
    let expiring = settings(
        &emulator,
        CredentialSettings::DeviceCode {
            prompt: Prompts::default().callback(),
        },
    );
    let error = GraphClient::connect(expiring)
        .await
        .expect_err("nobody signs in");
    assert!(
        matches!(
            error,
            GraphError::DeviceCode {
                failure: DeviceCodeFailure::Expired
            }
        ),
        "{error:?}"
    );
    assert!(error.hint().contains("rerun"));
    emulator.shutdown().await;

    let emulator = start(fixture()).await;
    let prompts = Prompts::default();
    let declining = settings(
        &emulator,
        CredentialSettings::DeviceCode {
            prompt: prompts.callback(),
        },
    );
    let connecting = tokio::spawn(GraphClient::connect(declining));
    let user_code = loop {
        if let Some(prompt) = prompts.all().first() {
            break prompt.user_code.clone();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let response = support::control_client()
        .post(format!(
            "{}/_emulator/devicecode/approve",
            emulator.base_url()
        ))
        .body(serde_json::json!({"user_code": user_code, "decline": true}).to_string())
        .send()
        .await
        .expect("control endpoint");
    assert!(response.status().is_success(), "{}", response.status());
    let error = connecting.await.expect("task").expect_err("declined");
    assert!(
        matches!(
            error,
            GraphError::DeviceCode {
                failure: DeviceCodeFailure::Declined
            }
        ),
        "{error:?}"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn azure_cli_token_is_taken_from_az_account_get_access_token() {
    use std::os::unix::fs::PermissionsExt;

    let emulator = start(fixture()).await;
    // A real token from the emulator, handed out by a stand-in `az` that records its arguments.
    let token_text = support::control_client()
        .post(emulator.token_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}&grant_type=client_credentials&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"
        ))
        .send()
        .await
        .expect("token")
        .text()
        .await
        .expect("body");
    let token_response: serde_json::Value = serde_json::from_str(&token_text).expect("json");
    let access_token = token_response["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let directory = tempfile::tempdir().expect("temp dir");
    let output = directory.path().join("token.json");
    let expires_on = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 3600;
    std::fs::write(
        &output,
        serde_json::json!({"accessToken": access_token, "expiresOn": "2026-11-22 05:00:00.000000", "expires_on": expires_on, "tenant": emulator.tenant_id(), "tokenType": "Bearer"}).to_string(),
    )
    .expect("write");
    let arguments = directory.path().join("arguments.txt");
    let program = directory.path().join("az");
    std::fs::write(
        &program,
        format!(
            "#!/bin/sh\necho \"$@\" > '{}'\ncat '{}'\n",
            arguments.display(),
            output.display()
        ),
    )
    .expect("write");
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).expect("chmod");

    let settings = settings(
        &emulator,
        CredentialSettings::AzureCli {
            program: program.clone(),
        },
    );
    let client = GraphClient::connect(settings)
        .await
        .expect("connects with the CLI token");
    assert_eq!(client.authentication_method(), "Azure CLI");
    client.list_users().await.expect("reads");
    let passed = std::fs::read_to_string(&arguments).expect("arguments");
    assert!(
        passed.starts_with(
            "account get-access-token --resource-type ms-graph --output json --tenant "
        ),
        "{passed}"
    );

    // A missing `az` and a failing one are explained.
    let missing = settings_for_program(&emulator, directory.path().join("no-such-az"));
    let error = GraphClient::connect(missing).await.expect_err("missing");
    assert!(matches!(error, GraphError::AzureCli { .. }), "{error:?}");
    assert!(error.hint().contains("az login"));
    let failing = directory.path().join("az-failing");
    std::fs::write(
        &failing,
        "#!/bin/sh\necho \"ERROR: Please run 'az login' to setup account.\" >&2\nexit 1\n",
    )
    .expect("write");
    std::fs::set_permissions(&failing, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let error = GraphClient::connect(settings_for_program(&emulator, failing))
        .await
        .expect_err("fails");
    assert!(error.to_string().contains("az login"), "{error}");
    emulator.shutdown().await;
}

fn settings_for_program(
    emulator: &hardmatch_emulator::RunningEmulator,
    program: std::path::PathBuf,
) -> hardmatch_graph::GraphSettings {
    settings(emulator, CredentialSettings::AzureCli { program })
}

#[tokio::test]
async fn https_with_the_emulators_own_ca_and_never_without_it() {
    let mut options = EmulatorOptions::new(fixture());
    options.tls = TlsMode::SelfSigned;
    let emulator = support::start_with(options).await;
    assert!(emulator.base_url().starts_with("https://"));
    let mut trusted = support::secret_settings(&emulator);
    trusted.extra_ca_pem = emulator
        .ca_certificate_pem()
        .map(|pem| pem.as_bytes().to_vec());
    let client = GraphClient::connect(trusted)
        .await
        .expect("connects over https");
    client.organization().await.expect("reads");

    // Verification is always on: without the CA the connection is refused at once, as
    // untrusted, not retried as a transient failure.
    let untrusted = support::secret_settings(&emulator);
    let error = GraphClient::connect(untrusted)
        .await
        .expect_err("untrusted");
    assert!(
        matches!(error, GraphError::TlsUntrusted { .. }),
        "{error:?}"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_cached_token_is_reused() {
    let emulator = start(fixture()).await;
    let client = support::client(&emulator).await;
    for _ in 0..3 {
        client.organization().await.expect("reads");
    }
    let token_requests = support::served(&emulator)
        .iter()
        .filter(|(_, path, _, _)| path.ends_with("/oauth2/v2.0/token"))
        .count();
    assert_eq!(token_requests, 1);
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_token_the_service_calls_expired_is_renewed_once_and_the_call_succeeds() {
    let clock = std::sync::Arc::new(hardmatch_emulator::ManualClock::starting_now());
    let mut options = EmulatorOptions::new(fixture());
    options.clock = clock.clone();
    let emulator = support::start_with(options).await;
    let client = support::client(&emulator).await;
    client.organization().await.expect("reads");
    // Two hours pass in the emulator: the cached token is still "fresh" for the client's
    // own clock, so Graph's 401 is what makes it sign in again.
    clock.advance(Duration::from_secs(7_200));
    client.organization().await.expect("renewed and read");
    let log = support::served(&emulator);
    let token_requests = log
        .iter()
        .filter(|entry| entry.1.ends_with("/oauth2/v2.0/token"))
        .count();
    assert_eq!(token_requests, 2);
    assert_eq!(log.iter().filter(|entry| entry.3 == 401).count(), 1);
    emulator.shutdown().await;
}

#[tokio::test]
async fn device_code_for_a_permission_the_app_lacks_is_an_authentication_error() {
    let emulator = start(fixture()).await;
    let mut settings = settings(
        &emulator,
        CredentialSettings::DeviceCode {
            prompt: Prompts::default().callback(),
        },
    );
    settings.delegated_scopes = vec!["Mail.ReadWrite".to_owned()];
    match GraphClient::connect(settings)
        .await
        .expect_err("not consented")
    {
        GraphError::Authentication { aadsts_code, .. } => assert_eq!(aadsts_code, Some(65_001)),
        other => panic!("{other:?}"),
    }
    emulator.shutdown().await;
}
