//! How fast `apply` runs the field story's plan for many users against the emulator with
//! its real Graph quotas: `cargo run --release -p hardmatch-executor --example apply_throughput -- 300`.
//! Prints actions, cloud writes, seconds and writes per second.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use hardmatch_core::diagnose::{DiagnoseOptions, diagnose};
use hardmatch_core::plan::{PlanInput, PlanPolicy, Selection, plan};
use hardmatch_emulator::{EmulatorOptions, Fixture, SyncRequest};
use hardmatch_executor::adapters::{GraphCloud, SnapshotDirectory};
use hardmatch_executor::workspace::Workspace;
use hardmatch_executor::{Ports, RunOptions, Silent};
use hardmatch_graph::{CredentialSettings, GraphClient, GraphSettings, NoProgress, Secret};

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let users: usize = std::env::args()
        .nth(1)
        .and_then(|text| text.parse().ok())
        .unwrap_or(300);
    let emulator = hardmatch_emulator::start(EmulatorOptions::new(throttled(fixture(users))))
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

/// The real quotas: this example measures the executor under them.
fn throttled(mut fixture: Fixture) -> Fixture {
    fixture.settings.throttling_enabled = true;
    fixture
}
