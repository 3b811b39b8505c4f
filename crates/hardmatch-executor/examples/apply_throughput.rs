//! How fast `apply` runs the field story's plan for many users against the emulator with
//! its real Graph quotas: `cargo run --release -p hardmatch-executor --example apply_throughput -- 300`.
//! Prints actions, cloud writes, seconds and writes per second.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use hardmatch_core::ad::{AdUser, AnchorAttribute};
use hardmatch_core::anchor::ObjectGuid;
use hardmatch_core::diagnose::{DiagnoseOptions, diagnose};
use hardmatch_core::plan::{PlanInput, PlanPolicy, Selection, plan};
use hardmatch_emulator::{EmulatorOptions, Fixture, RunningEmulator, SyncRequest};
use hardmatch_executor::adapters::{GraphCloud, SnapshotDirectory};
use hardmatch_executor::ports::{PortError, Sent, SyncPort};
use hardmatch_executor::workspace::Workspace;
use hardmatch_executor::{Ports, RunOptions, Silent};
use hardmatch_graph::{CredentialSettings, GraphClient, GraphSettings, NoProgress, Secret};
use serde_json::{Value, json};

const CLIENT_ID: &str = "0f1e2d3c-4b5a-4697-8877-665544332211";
const CLIENT_SECRET: &str = "executor-test-secret";
const LICENCE: &str = "05e9a617-0261-4cee-bb44-138d3ef5d965";

fn real_id(index: usize) -> String {
    format!("a1b2c3d4-{index:04}-4e5f-9a0b-1c2d3e4f5a61")
}

/// A tenant with `users` licensed cloud accounts, `user<N>@contoso.com`, none synced.
fn fixture(users: usize) -> Fixture {
    let accounts: Vec<Value> = (0..users)
        .map(|index| {
            json!({
                "id": real_id(index),
                "userPrincipalName": format!("user{index}@contoso.com"),
                "displayName": format!("User {index}"),
                "mail": format!("user{index}@contoso.com"),
                "mailNickname": format!("user{index}"),
                "proxyAddresses": [format!("SMTP:user{index}@contoso.com")],
                "accountEnabled": true,
                "createdDateTime": "2022-05-02T09:00:00Z",
                "onPremisesImmutableId": null,
                "onPremisesSyncEnabled": null,
                "assignedLicenses": [{ "skuId": LICENCE, "disabledPlans": [] }]
            })
        })
        .collect();
    let document = json!({
        "format_version": 1,
        "tenant": {
            "id": "5d6e7f80-9a1b-4c2d-8e3f-4a5b6c7d8e9f",
            "display_name": "Contoso",
            "initial_domain": "contoso.onmicrosoft.com",
            "domains": [
                { "id": "contoso.com", "authenticationType": "Managed", "isDefault": true, "isInitial": false, "isVerified": true },
                { "id": "contoso.onmicrosoft.com", "authenticationType": "Managed", "isDefault": false, "isInitial": true, "isVerified": true }
            ],
            "on_premises_sync_enabled": true,
            "on_premises_last_sync_date_time": null
        },
        "apps": [{
            "client_id": CLIENT_ID,
            "display_name": "hardmatch executor test",
            "client_secret": CLIENT_SECRET,
            "application_permissions": [
                "User.ReadWrite.All", "User.DeleteRestore.All", "Organization.Read.All",
                "Domain.Read.All", "RoleManagement.Read.Directory"
            ]
        }],
        "users": accounts,
        "role_definitions": [],
        "role_assignments": [],
        "role_eligibilities": []
    });
    let mut fixture = Fixture::from_json(&document.to_string()).unwrap();
    // The real quotas: this measures the executor under them.
    fixture.settings.throttling_enabled = true;
    fixture
}

/// AD users on an unverified UPN suffix with their contoso address as a secondary one:
/// the first sync cannot soft-match them and creates duplicates (the field story).
fn ad_users(users: usize) -> Vec<AdUser> {
    (0..users)
        .map(|index| {
            let mut bytes = [0x5a; 16];
            bytes[0] = index as u8;
            bytes[1] = (index >> 8) as u8;
            let guid = ObjectGuid::from_ad_bytes(bytes);
            AdUser {
                distinguished_name: format!("CN=User {index},OU=Sales,DC=corp,DC=contoso,DC=com"),
                domain: Some("corp.contoso.com".into()),
                object_guid: guid,
                consistency_guid: None,
                anchor_attribute: AnchorAttribute::ObjectGuid,
                immutable_id: guid.immutable_id(),
                user_principal_name: Some(format!("user{index}@fabrikam.com")),
                mail: Some(format!("user{index}@fabrikam.com")),
                proxy_addresses: vec![
                    format!("SMTP:user{index}@fabrikam.com"),
                    format!("smtp:user{index}@contoso.com"),
                ],
                sam_account_name: Some(format!("user{index}")),
                display_name: Some(format!("User {index}")),
                given_name: None,
                surname: None,
                enabled: true,
                object_sid: None,
                when_changed: None,
            }
        })
        .collect()
}

/// The emulator's sync cycle over the in-memory directory.
struct EmulatorSync<'a> {
    emulator: &'a RunningEmulator,
    directory: &'a SnapshotDirectory,
}

impl SyncPort for EmulatorSync<'_> {
    async fn trigger(&self, _policy: &str) -> Result<Sent, PortError> {
        let report = self
            .emulator
            .run_sync(SyncRequest {
                ad_users: Some(self.directory.users()),
                ..SyncRequest::default()
            })
            .map_err(|error| PortError::new(error.to_string()))?;
        Ok(Sent {
            request_id: None,
            response: Some(report),
        })
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let users: usize = std::env::args()
        .nth(1)
        .and_then(|text| text.parse().ok())
        .unwrap_or(300);
    let emulator = hardmatch_emulator::start(EmulatorOptions::new(fixture(users)))
        .await
        .unwrap();
    let directory = SnapshotDirectory::new(ad_users(users));
    emulator
        .run_sync(SyncRequest {
            ad_users: Some(directory.users()),
            ..SyncRequest::default()
        })
        .unwrap();
    let mut settings =
        GraphSettings::new(CredentialSettings::ClientSecret(Secret::new(CLIENT_SECRET)));
    settings.tenant_id = Some(emulator.tenant_id());
    settings.client_id = Some(CLIENT_ID.to_owned());
    settings.authority_url = Some(emulator.authority_url());
    settings.graph_url = Some(emulator.graph_url());
    let client = GraphClient::connect(settings).await.unwrap();
    let tenant = hardmatch_graph::snapshot_tenant(&client, &NoProgress)
        .await
        .unwrap();
    let ad = directory.users();
    let diagnosis = diagnose(&ad, &tenant, &DiagnoseOptions::default());
    let policy = PlanPolicy {
        deletion_threshold: u32::MAX,
        ..PlanPolicy::default()
    };
    let plan = plan(&PlanInput {
        ad_users: &ad,
        tenant: &tenant,
        diagnosis: &diagnosis,
        connector_space: None,
        selection: &Selection::AllSafe,
        policy: &policy,
        generated_at: &hardmatch_executor::engine::now(),
    })
    .unwrap();
    let cloud_writes = plan
        .actions
        .iter()
        .filter(|action| action.kind.is_cloud())
        .count();
    let workspace_directory = tempfile::tempdir().unwrap();
    let mut workspace = Workspace::open(workspace_directory.path()).unwrap();
    let cloud = GraphCloud::new(client);
    let sync = EmulatorSync {
        emulator: &emulator,
        directory: &directory,
    };
    let ports = Ports {
        cloud: &cloud,
        directory: &directory,
        sync: &sync,
    };
    let options = RunOptions {
        operator: "bench".to_owned(),
        tenant: "contoso".to_owned(),
    };
    let started = std::time::Instant::now();
    let summary = hardmatch_executor::apply(&plan, &mut workspace, &ports, &options, &Silent)
        .await
        .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{users} users: {} actions ({cloud_writes} cloud writes), outcome {}, {:.1} s, {:.1} cloud writes/s",
        plan.actions.len(),
        summary.outcome,
        seconds,
        cloud_writes as f64 / seconds
    );
    emulator.shutdown().await;
}
