//! The executor against the real emulator and a real SQLite journal: the field story's
//! plan for several users goes through apply → sync → verify; stale plans, resume after an
//! interruption, undo, two runs on one workspace, and 10% chaos over 20 seeds.
//!
//! AD is an in-memory directory built from AD users (the Samba lab runs the LDAP side in the
//! CLI suite); the emulator's sync cycle reads those users, so AD writes reach the cloud
//! exactly as a Connect cycle would carry them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::collections::BTreeMap;

use hardmatch_core::ad::AdUser;
use hardmatch_core::diagnose::{DiagnoseOptions, diagnose};
use hardmatch_core::plan::{
    ActionKind, Plan, PlanInput, PlanPolicy, Selection, actions_fingerprint, plan,
};
use hardmatch_emulator::{Chaos, EmulatorOptions, Fixture, RunningEmulator, SyncRequest};
use hardmatch_executor::adapters::{GraphCloud, SnapshotDirectory};
use hardmatch_executor::journal::ActionState;
use hardmatch_executor::ports::{CloudPort, CloudRead, CloudWrite, PortError, Sent};
use hardmatch_executor::workspace::{Workspace, WorkspaceError};
use hardmatch_executor::{ExecutorError, Ports, RunOptions, Silent};
use hardmatch_graph::{
    CredentialSettings, GraphClient, GraphSettings, NoProgress, RetryPolicy, Secret,
};
use serde_json::{Value, json};

mod common;

use common::*;

async fn start(fixture: Fixture, chaos: Option<Chaos>) -> RunningEmulator {
    let mut options = EmulatorOptions::new(fixture);
    options.chaos = chaos;
    hardmatch_emulator::start(options).await.unwrap()
}

async fn client(emulator: &RunningEmulator) -> GraphClient {
    let mut settings =
        GraphSettings::new(CredentialSettings::ClientSecret(Secret::new(CLIENT_SECRET)));
    settings.tenant_id = Some(emulator.tenant_id());
    settings.client_id = Some(CLIENT_ID.to_owned());
    settings.authority_url = Some(emulator.authority_url());
    settings.graph_url = Some(emulator.graph_url());
    settings.http.retry = RetryPolicy::default().without_delays();
    GraphClient::connect(settings).await.unwrap()
}

/// Runs the first (duplicating) cycle, then plans from the tenant as Graph shows it.
async fn field_story(emulator: &RunningEmulator, directory: &SnapshotDirectory) -> Plan {
    field_story_reading_sign_ins(emulator, directory, false).await
}

/// [`field_story`], with the active users' sign-in activity read before planning when
/// `sign_ins`, as a live `hardmatch plan` reads it for the accounts it deletes.
async fn field_story_reading_sign_ins(
    emulator: &RunningEmulator,
    directory: &SnapshotDirectory,
    sign_ins: bool,
) -> Plan {
    emulator
        .run_sync(SyncRequest {
            ad_users: Some(directory.users()),
            ..SyncRequest::default()
        })
        .unwrap();
    let graph = client(emulator).await;
    let mut tenant = hardmatch_graph::snapshot_tenant(&graph, &NoProgress)
        .await
        .unwrap();
    if sign_ins {
        let ids: Vec<String> = tenant
            .users
            .iter()
            .filter(|user| !user.is_deleted())
            .map(|user| user.id.to_string())
            .collect();
        let mut found = graph.sign_in_activity(&ids).await.unwrap();
        for user in &mut tenant.users {
            if let Some(activity) = found.remove(user.id.as_str()) {
                user.sign_in_activity = Some(Box::new(activity.unwrap_or_default()));
            }
        }
    }
    let users = directory.users();
    let options = DiagnoseOptions::default();
    let diagnosis = diagnose(&users, &tenant, &options);
    plan(&PlanInput {
        ad_users: &users,
        tenant: &tenant,
        diagnosis: &diagnosis,
        connector_space: None,
        selection: &Selection::AllSafe,
        policy: &PlanPolicy::default(),
        generated_at: &hardmatch_executor::engine::now(),
    })
    .unwrap()
}

fn options() -> RunOptions {
    RunOptions {
        operator: "tester".to_owned(),
        tenant: "contoso.onmicrosoft.com".to_owned(),
    }
}

/// Successful writes the emulator served, by method and path: each must appear once.
/// Writes sent inside a `$batch` are logged by the emulator as `…/$batch/users/{id}`; they
/// count here under the same path as a write sent alone, so that one write sent once in a
/// batch and once alone shows up twice.
fn writes(emulator: &RunningEmulator) -> BTreeMap<(String, String), usize> {
    let mut counts = BTreeMap::new();
    for entry in log_entries(emulator) {
        let method = entry["method"].as_str().unwrap_or_default().to_owned();
        let path = entry["path"]
            .as_str()
            .unwrap_or_default()
            .replace("/$batch/", "/");
        let status = entry["status"].as_u64().unwrap_or_default();
        if method != "GET"
            && (200..300).contains(&status)
            && !path.contains("/oauth2/")
            && !path.ends_with("/$batch")
            && !path.starts_with("/_emulator")
        {
            *counts.entry((method, path)).or_default() += 1;
        }
    }
    counts
}

/// The emulator's request log, in the order served.
fn log_entries(emulator: &RunningEmulator) -> Vec<Value> {
    let log = emulator.requests_json();
    log.get("requests")
        .unwrap_or(&log)
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The users' state that matters, for comparing runs: id, UPN, ImmutableID, sync, deletion.
fn final_state(emulator: &RunningEmulator) -> Vec<(String, String, Value, Value, bool)> {
    let state = emulator.state_json();
    let mut users: Vec<_> = state["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| {
            (
                user["id"].as_str().unwrap_or_default().to_owned(),
                user["userPrincipalName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                user["onPremisesImmutableId"].clone(),
                user["onPremisesSyncEnabled"].clone(),
                user["deletedDateTime"].is_string(),
            )
        })
        // Duplicates get fresh ids per run; what matters is that none is left.
        .filter(|user| user.0.starts_with("a1b2c3d4-") || !user.4)
        .collect();
    users.sort_by_key(|user| format!("{user:?}"));
    users
}

fn kinds(plan: &Plan) -> Vec<ActionKind> {
    plan.actions.iter().map(|action| action.kind).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_field_story_plan_applies_syncs_and_verifies_linked() {
    let emulator = start(fixture(3), None).await;
    let directory = SnapshotDirectory::new(ad_users(3));
    let plan = field_story(&emulator, &directory).await;
    assert_eq!(plan.users.len(), 3, "{}", plan.to_json().unwrap());
    let kinds = kinds(&plan);
    assert!(kinds.contains(&ActionKind::SoftDelete), "{kinds:?}");
    assert!(kinds.contains(&ActionKind::PurgeDeleted));
    assert!(kinds.contains(&ActionKind::SetImmutableId));

    let workspace_directory = tempfile::tempdir().unwrap();
    let mut workspace = Workspace::open(workspace_directory.path()).unwrap();
    let cloud = GraphCloud::new(client(&emulator).await);
    let sync = EmulatorSync {
        emulator: &emulator,
        directory: &directory,
    };
    let ports = Ports {
        cloud: &cloud,
        directory: &directory,
        sync: &sync,
    };

    // Before apply, nothing is linked.
    let before = hardmatch_executor::verify(&plan, &cloud).await.unwrap();
    assert!(
        before.iter().all(|verdict| verdict.status == "failed"),
        "{before:#?}"
    );

    let summary = hardmatch_executor::apply(&plan, &mut workspace, &ports, &options(), &Silent)
        .await
        .unwrap();
    assert_eq!(summary.outcome, "completed", "{:#?}", summary.actions);
    assert!(
        summary
            .actions
            .iter()
            .all(|action| action.state == ActionState::Succeeded)
    );
    // Every write the plan made reached Graph exactly once.
    assert!(
        writes(&emulator).values().all(|count| *count == 1),
        "{:#?}",
        writes(&emulator)
    );

    // The plan ends with a cycle (trigger_sync); if it did not, sync now.
    let served_before_verify = log_entries(&emulator).len();
    let verdicts = hardmatch_executor::verify(&plan, &cloud).await.unwrap();
    // Verify reads in bulk: one `$batch` for the three targets, one for the three
    // duplicates in the recycle bin and one more among active users (they are purged).
    assert_eq!(log_entries(&emulator).len() - served_before_verify, 3);
    assert!(
        verdicts.iter().all(|verdict| verdict.status == "linked"),
        "{verdicts:#?}"
    );

    // The journal has the audit trail: before-images, requests, an operator.
    let run = workspace.journal().run(&summary.run_id).unwrap();
    assert_eq!(run.operator, "tester");
    let records = workspace.journal().actions(&summary.run_id).unwrap();
    let delete = records
        .iter()
        .find(|record| record.kind == "soft_delete")
        .unwrap();
    assert_eq!(delete.request.as_ref().unwrap()["method"], "DELETE");
    assert!(delete.before_image.as_ref().unwrap()["deletedDateTime"].is_null());
    // Each successful cloud write carries the request id Graph answered with, one per
    // request, so that a support case can name it.
    let cloud_kinds: Vec<&str> = plan
        .actions
        .iter()
        .filter(|action| action.kind.is_cloud())
        .map(|action| action.kind.name())
        .collect();
    let request_ids: std::collections::BTreeSet<String> = records
        .iter()
        .filter(|record| cloud_kinds.contains(&record.kind.as_str()))
        .map(|record| {
            let id = record
                .request_id
                .clone()
                .unwrap_or_else(|| panic!("{} has no request id", record.action_id));
            uuid::Uuid::parse_str(&id).unwrap_or_else(|error| panic!("{id}: {error}"));
            id
        })
        .collect();
    assert_eq!(
        request_ids.len(),
        plan.actions.iter().filter(|a| a.kind.is_cloud()).count()
    );
    let journal_text = std::fs::read(workspace_directory.path().join("journal.sqlite")).unwrap();
    assert!(!String::from_utf8_lossy(&journal_text).contains(CLIENT_SECRET));

    // A second run of the same plan on a now-changed tenant sends nothing: all stale or skipped.
    let again = hardmatch_executor::apply(&plan, &mut workspace, &ports, &options(), &Silent)
        .await
        .unwrap();
    assert_eq!(
        again.count(ActionState::Succeeded),
        0,
        "{:#?}",
        again.actions
    );
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_licensed_after_the_plan_is_not_deleted() {
    let emulator = start(fixture(1), None).await;
    let directory = SnapshotDirectory::new(ad_users(1));
    let plan = field_story(&emulator, &directory).await;
    let duplicate = plan
        .actions
        .iter()
        .find(|action| action.kind == ActionKind::SoftDelete)
        .and_then(|action| action.target.id.clone())
        .unwrap();
    // Between review and apply, someone licenses the duplicate.
    let mut state = emulator.state_json();
    for user in state["users"].as_array_mut().unwrap() {
        if user["id"] == duplicate.as_str() {
            user["assignedLicenses"] = json!([{ "skuId": LICENCE, "disabledPlans": [] }]);
        }
    }
    let licensed = start(Fixture::from_json(&state.to_string()).unwrap(), None).await;
    emulator.shutdown().await;

    let workspace_directory = tempfile::tempdir().unwrap();
    let mut workspace = Workspace::open(workspace_directory.path()).unwrap();
    let cloud = GraphCloud::new(client(&licensed).await);
    let sync = EmulatorSync {
        emulator: &licensed,
        directory: &directory,
    };
    let ports = Ports {
        cloud: &cloud,
        directory: &directory,
        sync: &sync,
    };
    let summary = hardmatch_executor::apply(&plan, &mut workspace, &ports, &options(), &Silent)
        .await
        .unwrap();
    let state_of = |kind: &str| {
        summary
            .actions
            .iter()
            .find(|action| action.kind == kind)
            .map(|action| (action.state, action.detail.clone()))
            .unwrap()
    };
    let (delete_state, delete_detail) = state_of("soft_delete");
    assert_eq!(delete_state, ActionState::Stale, "{:#?}", summary.actions);
    assert!(delete_detail.unwrap().contains("assignedLicenseSkuIds"));
    assert_eq!(state_of("purge_deleted").0, ActionState::Skipped);
    assert_eq!(state_of("set_immutable_id").0, ActionState::Skipped);
    assert_ne!(summary.outcome, "completed");
    // The licensed holder is still there, and nothing was deleted.
    assert!(
        writes(&licensed)
            .keys()
            .all(|(method, _)| method != "DELETE"),
        "{:#?}",
        writes(&licensed)
    );
    GraphCloud::new(client(&licensed).await)
        .client()
        .get_user(&duplicate)
        .await
        .unwrap();
    licensed.shutdown().await;
}

/// Lets the fixture's app read sign-in activity, in a tenant with Entra ID P1.
fn with_sign_ins(mut tenant: Fixture) -> Fixture {
    tenant.apps[0]
        .application_permissions
        .push("AuditLog.Read.All".to_owned());
    tenant.ensure_entra_id_premium();
    tenant
}

/// The plan's soft delete, and the emulator's state it was planned on.
async fn planned_deletion(sign_ins: bool) -> (Plan, String, Value, SnapshotDirectory) {
    let emulator = start(with_sign_ins(fixture(1)), None).await;
    let directory = SnapshotDirectory::new(ad_users(1));
    let plan = field_story_reading_sign_ins(&emulator, &directory, sign_ins).await;
    let duplicate = plan
        .actions
        .iter()
        .find(|action| action.kind == ActionKind::SoftDelete)
        .and_then(|action| action.target.id.clone())
        .unwrap();
    let state = emulator.state_json();
    emulator.shutdown().await;
    (plan, duplicate, state, directory)
}

/// `state` with the user `id`'s sign-in activity set.
fn signed_in(mut state: Value, id: &str, activity: Value) -> Value {
    for user in state["users"].as_array_mut().unwrap() {
        if user["id"] == id {
            user["signInActivity"] = activity.clone();
        }
    }
    state
}

/// `state` with the app no longer allowed to read sign-ins.
fn without_audit_log(mut state: Value) -> Value {
    state["apps"][0]["application_permissions"]
        .as_array_mut()
        .unwrap()
        .retain(|permission| permission != "AuditLog.Read.All");
    state
}

/// Applies `plan` to an emulator holding `state`: the soft delete's outcome, and whether
/// anything was deleted.
async fn deletion_outcome(
    plan: &Plan,
    state: &Value,
    directory: &SnapshotDirectory,
) -> (ActionState, String, bool) {
    let (state, detail, deleted, _) = deletion_outcome_and_reads(plan, state, directory).await;
    (state, detail, deleted)
}

/// [`deletion_outcome`], and how many requests read sign-in activity.
async fn deletion_outcome_and_reads(
    plan: &Plan,
    state: &Value,
    directory: &SnapshotDirectory,
) -> (ActionState, String, bool, usize) {
    let tenant = start(Fixture::from_json(&state.to_string()).unwrap(), None).await;
    let workspace_directory = tempfile::tempdir().unwrap();
    let mut workspace = Workspace::open(workspace_directory.path()).unwrap();
    let cloud = GraphCloud::new(client(&tenant).await);
    let sync = EmulatorSync {
        emulator: &tenant,
        directory,
    };
    let ports = Ports {
        cloud: &cloud,
        directory,
        sync: &sync,
    };
    let summary = hardmatch_executor::apply(plan, &mut workspace, &ports, &options(), &Silent)
        .await
        .unwrap();
    let deletion = summary
        .actions
        .iter()
        .find(|action| action.kind == "soft_delete")
        .unwrap();
    let deleted = writes(&tenant).keys().any(|(method, _)| method == "DELETE");
    let sign_in_reads = log_entries(&tenant)
        .iter()
        .filter(|entry| {
            entry["query"]
                .as_str()
                .is_some_and(|query| query.contains("signInActivity"))
        })
        .count();
    tenant.shutdown().await;
    (
        deletion.state,
        deletion.detail.clone().unwrap_or_default(),
        deleted,
        sign_in_reads,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_signed_in_to_after_the_plan_is_not_deleted() {
    let (plan, duplicate, saved, directory) = planned_deletion(true).await;
    let delete = plan
        .actions
        .iter()
        .find(|action| action.kind == ActionKind::SoftDelete)
        .unwrap();
    assert!(
        serde_json::to_string(&delete.precondition)
            .unwrap()
            .contains("\"signInActivity\""),
        "the plan read the duplicate's sign-ins and relies on them"
    );
    // As planned: deleted.
    let (state, _, deleted) = deletion_outcome(&plan, &saved, &directory).await;
    assert_eq!(state, ActionState::Succeeded);
    assert!(deleted);
    // Someone signed in to it since.
    let since = signed_in(
        saved.clone(),
        &duplicate,
        json!({ "lastSignInDateTime": "2026-11-23T09:15:00Z" }),
    );
    let (state, detail, deleted) = deletion_outcome(&plan, &since, &directory).await;
    assert_eq!((state, deleted), (ActionState::Stale, false), "{detail}");
    assert!(detail.contains("someone signed in to it"), "{detail}");
    // The app may no longer read sign-ins.
    let unreadable = without_audit_log(saved);
    let (state, detail, deleted) = deletion_outcome(&plan, &unreadable, &directory).await;
    assert_eq!((state, deleted), (ActionState::Stale, false), "{detail}");
    assert!(
        detail.contains("which cannot be read now (it needs AuditLog.Read.All"),
        "{detail}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_made_without_sign_ins_deletes_nobody_apply_finds_recently_signed_in() {
    // Planned from a tenant read without sign-ins (a snapshot, or no AuditLog.Read.All then).
    let (plan, duplicate, saved, directory) = planned_deletion(false).await;
    let yesterday = (time::OffsetDateTime::now_utc() - time::Duration::days(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let recent = signed_in(
        saved.clone(),
        &duplicate,
        json!({ "lastNonInteractiveSignInDateTime": yesterday }),
    );
    let (state, detail, deleted, reads) =
        deletion_outcome_and_reads(&plan, &recent, &directory).await;
    assert_eq!(
        (state, deleted, reads),
        (ActionState::Stale, false, 1),
        "{detail}"
    );
    assert!(
        detail.contains("it signed in 1 day(s) ago, which the plan did not know"),
        "{detail}"
    );
    // A plan that allowed deleting recently used accounts has nothing to check, and reads
    // nothing for it.
    let mut allowing = plan.clone();
    allowing.policy.allow_delete_recent_sign_in = true;
    let (state, detail, deleted, reads) =
        deletion_outcome_and_reads(&allowing, &recent, &directory).await;
    assert_eq!(
        (state, deleted, reads),
        (ActionState::Succeeded, true, 0),
        "{detail}"
    );
    // A sign-in long ago, or none readable, leaves the plan as it was reviewed.
    let long_ago = signed_in(
        saved.clone(),
        &duplicate,
        json!({ "lastSignInDateTime": "2024-01-15T08:00:00Z" }),
    );
    let (state, detail, deleted) = deletion_outcome(&plan, &long_ago, &directory).await;
    assert_eq!((state, deleted), (ActionState::Succeeded, true), "{detail}");
    let unreadable = without_audit_log(recent);
    let (state, detail, deleted) = deletion_outcome(&plan, &unreadable, &directory).await;
    assert_eq!((state, deleted), (ActionState::Succeeded, true), "{detail}");
}

/// The cloud as seen by a process that dies during its `writes`-th write: before the
/// request leaves (`sent: false`) or right after it was served (`sent: true`). Dropping the
/// apply future at that point is what a `kill -9` does to it: the journal keeps whatever
/// was committed, nothing more.
struct Crashing<'a> {
    inner: &'a GraphCloud,
    writes_left: std::cell::Cell<usize>,
    sent: bool,
    crashed: tokio::sync::Notify,
}

impl CloudPort for Crashing<'_> {
    async fn read(&self, user_id: &str) -> Result<CloudRead, PortError> {
        self.inner.read(user_id).await
    }

    async fn write(&self, write: &CloudWrite) -> Result<Sent, PortError> {
        if self.writes_left.get() == 0 {
            if self.sent {
                let _ = self.inner.write(write).await;
            }
            self.crashed.notify_one();
            std::future::pending::<()>().await;
        }
        self.writes_left.set(self.writes_left.get() - 1);
        self.inner.write(write).await
    }

    /// A group goes in one `$batch`: the crash comes before it leaves, or right after it
    /// was served, when the write it counts to is in it.
    async fn write_many(&self, writes: &[CloudWrite]) -> Vec<Result<Sent, PortError>> {
        if self.writes_left.get() < writes.len() {
            if self.sent {
                let _ = self.inner.write_many(writes).await;
            }
            self.crashed.notify_one();
            std::future::pending::<()>().await;
        }
        self.writes_left.set(self.writes_left.get() - writes.len());
        self.inner.write_many(writes).await
    }

    async fn last_sync(&self) -> Result<Option<String>, PortError> {
        self.inner.last_sync().await
    }
}

/// Applies `plan` and "kills" the process at the `writes`-th cloud write; returns whether
/// the crash point was reached (a plan with fewer writes just completes).
async fn apply_until_crash(
    plan: &Plan,
    workspace: &mut Workspace,
    cloud: &GraphCloud,
    directory: &SnapshotDirectory,
    sync: &EmulatorSync<'_>,
    writes: usize,
    sent: bool,
) -> bool {
    let crashing = Crashing {
        inner: cloud,
        writes_left: std::cell::Cell::new(writes),
        sent,
        crashed: tokio::sync::Notify::new(),
    };
    let ports = Ports {
        cloud: &crashing,
        directory,
        sync,
    };
    let run_options = options();
    let run = hardmatch_executor::apply(plan, workspace, &ports, &run_options, &Silent);
    tokio::select! {
        result = run => {
            result.unwrap();
            false
        }
        () = crashing.crashed.notified() => true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_after_an_interruption_repeats_no_write_and_skips_none() {
    for sent in [true, false] {
        let emulator = start(fixture(3), None).await;
        let directory = SnapshotDirectory::new(ad_users(3));
        let plan = field_story(&emulator, &directory).await;
        let cloud = GraphCloud::new(client(&emulator).await);
        let sync = EmulatorSync {
            emulator: &emulator,
            directory: &directory,
        };
        let ports = Ports {
            cloud: &cloud,
            directory: &directory,
            sync: &sync,
        };
        let workspace_directory = tempfile::tempdir().unwrap();
        {
            let mut workspace = Workspace::open(workspace_directory.path()).unwrap();
            assert!(
                apply_until_crash(&plan, &mut workspace, &cloud, &directory, &sync, 7, sent).await
            );
        }
        let mut workspace = Workspace::open(workspace_directory.path()).unwrap();
        let run_id = workspace.journal().unfinished_runs().unwrap().remove(0);
        let in_flight = workspace
            .journal()
            .actions(&run_id)
            .unwrap()
            .into_iter()
            .filter(|action| action.state == ActionState::InFlight)
            .count();
        // Independent writes go together, so a crash leaves the whole group in flight: the
        // field story's three ImmutableID writes (the crash is at the eighth cloud write,
        // the second of them). They were committed in flight before their `$batch` left;
        // killed before it left, none of them reached Graph, killed after, all of them.
        assert_eq!(in_flight, 3, "{:?}", kinds(&plan));
        let immutable_id_writes = writes(&emulator)
            .keys()
            .filter(|(method, _)| method == "PATCH")
            .count();
        assert_eq!(immutable_id_writes, if sent { 3 } else { 0 }, "sent={sent}");
        // A new apply is refused while the run is unfinished.
        let refused = hardmatch_executor::apply(&plan, &mut workspace, &ports, &options(), &Silent)
            .await
            .unwrap_err();
        assert!(
            matches!(refused, ExecutorError::UnfinishedRun(_)),
            "{refused}"
        );
        assert!(refused.hint().unwrap().contains("--resume"));

        let summary = hardmatch_executor::resume(&mut workspace, &ports, &Silent)
            .await
            .unwrap();
        assert_eq!(summary.run_id, run_id);
        assert_eq!(summary.outcome, "completed", "{:#?}", summary.actions);
        // Each in-flight action was settled by re-reading: found (reconciled) or sent once
        // more (resent); which one depends on whether its request got out before the crash.
        let detail_of = |needle: &str| {
            summary
                .actions
                .iter()
                .filter(|action| {
                    action
                        .detail
                        .as_deref()
                        .is_some_and(|detail| detail.contains(needle))
                })
                .count()
        };
        let settled = detail_of("reconciled") + detail_of("resent");
        assert!(detail_of(if sent { "reconciled" } else { "resent" }) >= 1);
        assert_eq!(settled, in_flight, "sent={sent}: {:#?}", summary.actions);
        // Every write exactly once over both "processes", none missing.
        let after = writes(&emulator);
        assert!(after.values().all(|count| *count == 1), "{after:#?}");
        let cloud_writes = plan
            .actions
            .iter()
            .filter(|action| action.kind.is_cloud())
            .count();
        assert_eq!(after.len(), cloud_writes, "{after:#?}");
        let verdicts = hardmatch_executor::verify(&plan, &cloud).await.unwrap();
        assert!(
            verdicts.iter().all(|verdict| verdict.status == "linked"),
            "{verdicts:#?}"
        );
        emulator.shutdown().await;
    }
}

/// The cloud with another admin at work: right before the group of ImmutableID writes
/// leaves (after its targets were re-read), a cloud-only account takes one of the values.
struct Squatting<'a> {
    inner: &'a GraphCloud,
    squatter: String,
    value: String,
}

impl CloudPort for Squatting<'_> {
    async fn read(&self, user_id: &str) -> Result<CloudRead, PortError> {
        self.inner.read(user_id).await
    }

    async fn write(&self, write: &CloudWrite) -> Result<Sent, PortError> {
        self.inner.write(write).await
    }

    async fn write_many(&self, writes: &[CloudWrite]) -> Vec<Result<Sent, PortError>> {
        if matches!(writes.first(), Some(CloudWrite::SetImmutableId { .. })) {
            self.inner
                .write(&CloudWrite::SetImmutableId {
                    user_id: self.squatter.clone(),
                    value: self.value.clone(),
                })
                .await
                .unwrap();
        }
        self.inner.write_many(writes).await
    }

    async fn last_sync(&self) -> Result<Option<String>, PortError> {
        self.inner.last_sync().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_graph_refuses_fails_alone_and_the_rest_of_its_batch_succeeds() {
    // Four cloud accounts, three AD users: the fourth account is cloud-only.
    let emulator = start(fixture(4), None).await;
    let directory = SnapshotDirectory::new(ad_users(3));
    let plan = field_story(&emulator, &directory).await;
    assert_eq!(plan.users.len(), 3);
    let contested = plan.users[1].clone();
    let cloud = GraphCloud::new(client(&emulator).await);
    let squatting = Squatting {
        inner: &cloud,
        squatter: real_id(3),
        value: contested.immutable_id.to_string(),
    };
    let sync = EmulatorSync {
        emulator: &emulator,
        directory: &directory,
    };
    let ports = Ports {
        cloud: &squatting,
        directory: &directory,
        sync: &sync,
    };
    let workspace_directory = tempfile::tempdir().unwrap();
    let mut workspace = Workspace::open(workspace_directory.path()).unwrap();
    let summary = hardmatch_executor::apply(&plan, &mut workspace, &ports, &options(), &Silent)
        .await
        .unwrap();
    assert_eq!(summary.outcome, "partial", "{:#?}", summary.actions);
    let set_actions: Vec<(&str, &str)> = plan
        .actions
        .iter()
        .filter(|action| action.kind == ActionKind::SetImmutableId)
        .map(|action| {
            (
                action.id.as_str(),
                action.target.id.as_deref().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(set_actions.len(), 3);
    for (action_id, target) in &set_actions {
        let record = summary
            .actions
            .iter()
            .find(|record| record.action_id == *action_id)
            .unwrap();
        if *target == contested.target_id {
            assert_eq!(record.state, ActionState::Failed, "{record:#?}");
            let detail = record.detail.clone().unwrap_or_default();
            // Graph's conflict, read: the holder named, with the next step.
            assert!(
                detail.contains("already holds") && detail.contains(&real_id(3)),
                "{detail}"
            );
            assert!(detail.contains("hint:"), "{detail}");
            assert!(record.request_id.is_some(), "{record:#?}");
        } else {
            assert_eq!(record.state, ActionState::Succeeded, "{record:#?}");
        }
    }
    // The three ImmutableID writes left together, in one `$batch`: the refused one is in
    // the log once, with its 4xx, and the others once each, successful.
    let entries = log_entries(&emulator);
    let items: Vec<(String, u64)> = entries
        .iter()
        .filter(|entry| {
            entry["method"] == "PATCH"
                && entry["path"]
                    .as_str()
                    .is_some_and(|path| path.contains("/$batch/"))
        })
        .map(|entry| {
            (
                entry["path"].as_str().unwrap().to_owned(),
                entry["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(items.len(), 3, "{items:#?}");
    for (path, status) in &items {
        if path.ends_with(&contested.target_id) {
            assert!((400..500).contains(status), "{path}: {status}");
        } else {
            assert!((200..300).contains(status), "{path}: {status}");
        }
    }
    assert!(writes(&emulator).values().all(|count| *count == 1));
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn independent_writes_and_their_re_reads_cost_one_request_per_twenty() {
    const USERS: usize = 45;
    let emulator = start(fixture(USERS), None).await;
    let directory = SnapshotDirectory::new(ad_users(USERS));
    let mut plan = field_story(&emulator, &directory).await;
    // The plan's soft deletes and purges: 45 independent writes, then 45 more.
    plan.actions.retain(|action| action.kind.removes_a_user());
    plan.actions_fingerprint = actions_fingerprint(&plan.actions);
    assert_eq!(plan.actions.len(), 2 * USERS);
    let cloud = GraphCloud::new(client(&emulator).await);
    let sync = EmulatorSync {
        emulator: &emulator,
        directory: &directory,
    };
    let ports = Ports {
        cloud: &cloud,
        directory: &directory,
        sync: &sync,
    };
    let served_before = log_entries(&emulator).len();
    let workspace_directory = tempfile::tempdir().unwrap();
    let mut workspace = Workspace::open(workspace_directory.path()).unwrap();
    let summary = hardmatch_executor::apply(&plan, &mut workspace, &ports, &options(), &Silent)
        .await
        .unwrap();
    assert_eq!(summary.outcome, "completed", "{:#?}", summary.actions);
    let entries = log_entries(&emulator).split_off(served_before);
    let path = |entry: &Value| entry["path"].as_str().unwrap_or_default().to_owned();
    // The emulator logs a batch's write items just before the batch itself; a batch
    // without them carried reads.
    let mut write_batches = 0;
    let mut read_batches = 0;
    let mut items_in_batch = Vec::new();
    let mut items = 0;
    for entry in &entries {
        let path = path(entry);
        if path.contains("/$batch/") {
            items += 1;
        } else if path.ends_with("/$batch") {
            if items > 0 {
                write_batches += 1;
                items_in_batch.push(items);
            } else {
                read_batches += 1;
            }
            items = 0;
        }
    }
    assert_eq!(write_batches, 2 * USERS.div_ceil(20), "{items_in_batch:?}");
    // The plan goes user by user (delete, purge, delete, purge…); the groups go by kind,
    // 20 deletes, then those 20 users' purges.
    assert_eq!(items_in_batch, vec![20, 20, 20, 20, 5, 5]);
    // One re-read per group: the deletes' targets read among active users, the purges'
    // in the recycle bin first, where they are.
    assert_eq!(read_batches, 2 * USERS.div_ceil(20));
    // And no write went alone.
    let lone_writes = entries
        .iter()
        .filter(|entry| entry["method"] != "GET" && entry["method"] != "POST")
        .filter(|entry| !path(entry).contains("/$batch/"))
        .count();
    assert_eq!(lone_writes, 0);
    assert_eq!(writes(&emulator).len(), 2 * USERS);
    emulator.shutdown().await;
}

/// The emulator state after the first (duplicating) cycle, and the plan made from it.
async fn prepared(users: usize) -> (Value, Plan, SnapshotDirectory) {
    let emulator = start(fixture(users), None).await;
    let directory = SnapshotDirectory::new(ad_users(users));
    let plan = field_story(&emulator, &directory).await;
    let state = emulator.state_json();
    emulator.shutdown().await;
    (state, plan, directory)
}

/// Applies `plan` to an emulator started from `state`, crashing at `crash` (write number,
/// sent or not) and resuming; returns the final state and the writes served.
/// Faults the emulator answered with, over every converge run of this process.
static FAULTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

async fn converge(
    state: &Value,
    plan: &Plan,
    ad: &[AdUser],
    chaos: Option<Chaos>,
    crash: Option<(usize, bool)>,
) -> (
    Vec<(String, String, Value, Value, bool)>,
    BTreeMap<(String, String), usize>,
) {
    let emulator = start(Fixture::from_json(&state.to_string()).unwrap(), chaos).await;
    let directory = SnapshotDirectory::new(ad.to_vec());
    let cloud = GraphCloud::new(client(&emulator).await);
    let sync = EmulatorSync {
        emulator: &emulator,
        directory: &directory,
    };
    let ports = Ports {
        cloud: &cloud,
        directory: &directory,
        sync: &sync,
    };
    let workspace_directory = tempfile::tempdir().unwrap();
    let mut workspace = Workspace::open(workspace_directory.path()).unwrap();
    let summary = match crash {
        Some((writes, sent))
            if apply_until_crash(
                plan,
                &mut workspace,
                &cloud,
                &directory,
                &sync,
                writes,
                sent,
            )
            .await =>
        {
            hardmatch_executor::resume(&mut workspace, &ports, &Silent)
                .await
                .unwrap()
        }
        Some(_) => {
            let run = workspace.journal().runs().unwrap().remove(0);
            hardmatch_executor::RunSummary {
                outcome: run.outcome.unwrap_or_default(),
                actions: workspace.journal().actions(&run.id).unwrap(),
                run_id: run.id,
                not_reversible: Vec::new(),
            }
        }
        None => hardmatch_executor::apply(plan, &mut workspace, &ports, &options(), &Silent)
            .await
            .unwrap(),
    };
    assert_eq!(summary.outcome, "completed", "{:#?}", summary.actions);
    let faults = log_entries(&emulator)
        .iter()
        .filter(|entry| matches!(entry["status"].as_u64(), Some(429 | 503 | 504)))
        .count();
    FAULTS.fetch_add(faults, std::sync::atomic::Ordering::Relaxed);
    let result = (final_state(&emulator), writes(&emulator));
    emulator.shutdown().await;
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_ten_percent_chaos_twenty_seeds_reach_the_fault_free_state() {
    let (state, plan, directory) = prepared(3).await;
    let ad = directory.users();
    let (expected, expected_writes) = converge(&state, &plan, &ad, None, None).await;
    assert!(expected_writes.values().all(|count| *count == 1));
    for seed in 0..20 {
        let chaos = Chaos { rate: 0.1, seed };
        let (found, writes) = converge(&state, &plan, &ad, Some(chaos), None).await;
        assert_eq!(found, expected, "seed {seed}");
        // No action ran twice, none was lost.
        assert_eq!(writes, expected_writes, "seed {seed}");
    }
    // Chaos did happen (resets leave no status; these are the answered faults).
    assert!(FAULTS.load(std::sync::atomic::Ordering::Relaxed) > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_at_random_points_resume_to_the_same_state() {
    let (state, plan, directory) = prepared(2).await;
    let ad = directory.users();
    let (expected, expected_writes) = converge(&state, &plan, &ad, None, None).await;
    let cloud_writes = plan
        .actions
        .iter()
        .filter(|action| action.kind.is_cloud())
        .count();
    let mut random = 0x2545_f491_4f6c_dd1d_u64;
    let trials = 60;
    for trial in 0..trials {
        // xorshift: reproducible, no extra crate.
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        let point = (random % cloud_writes as u64) as usize;
        let sent = random & 0x100 != 0;
        let (found, writes) = converge(&state, &plan, &ad, None, Some((point, sent))).await;
        assert_eq!(
            found, expected,
            "trial {trial}: crash at write {point}, sent {sent}"
        );
        assert_eq!(
            writes, expected_writes,
            "trial {trial}: crash at write {point}, sent {sent}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_restores_a_soft_deleted_user_and_names_what_it_cannot_undo() {
    let emulator = start(fixture(1), None).await;
    let directory = SnapshotDirectory::new(ad_users(1));
    let plan = field_story(&emulator, &directory).await;
    let cloud = GraphCloud::new(client(&emulator).await);
    let sync = EmulatorSync {
        emulator: &emulator,
        directory: &directory,
    };
    let ports = Ports {
        cloud: &cloud,
        directory: &directory,
        sync: &sync,
    };
    let workspace_directory = tempfile::tempdir().unwrap();
    let mut workspace = Workspace::open(workspace_directory.path()).unwrap();

    // A plan reviewed down to its soft-delete: the duplicate goes to the recycle bin only.
    let mut only_delete = plan.clone();
    only_delete
        .actions
        .retain(|action| action.kind == ActionKind::SoftDelete);
    only_delete.actions_fingerprint = actions_fingerprint(&only_delete.actions);
    let duplicate = only_delete.actions[0].target.id.clone().unwrap();
    let applied =
        hardmatch_executor::apply(&only_delete, &mut workspace, &ports, &options(), &Silent)
            .await
            .unwrap();
    assert_eq!(applied.outcome, "completed");
    assert!(
        cloud
            .client()
            .get_user(&duplicate)
            .await
            .unwrap_err()
            .is_not_found()
    );

    let undone =
        hardmatch_executor::undo(&applied.run_id, &mut workspace, &ports, &options(), &Silent)
            .await
            .unwrap();
    assert_eq!(undone.outcome, "completed", "{:#?}", undone.actions);
    assert_eq!(undone.actions[0].kind, "restore_deleted");
    let restored = cloud.client().get_user(&duplicate).await.unwrap();
    assert!(restored.deleted_date_time.is_none());
    let undo_run = workspace.journal().run(&undone.run_id).unwrap();
    assert_eq!(undo_run.kind, "undo");
    assert_eq!(
        undo_run.undoes_run.as_deref(),
        Some(applied.run_id.as_str())
    );

    emulator.shutdown().await;

    // The whole plan, on a fresh tenant: the undo of a purge is refused and said; the
    // ImmutableID the run set is taken back.
    let emulator = start(fixture(1), None).await;
    let plan = field_story(&emulator, &directory_for(1)).await;
    let directory = directory_for(1);
    let cloud = GraphCloud::new(client(&emulator).await);
    let sync = EmulatorSync {
        emulator: &emulator,
        directory: &directory,
    };
    let ports = Ports {
        cloud: &cloud,
        directory: &directory,
        sync: &sync,
    };
    let applied = hardmatch_executor::apply(&plan, &mut workspace, &ports, &options(), &Silent)
        .await
        .unwrap();
    assert_eq!(applied.outcome, "completed", "{:#?}", applied.actions);
    let undone =
        hardmatch_executor::undo(&applied.run_id, &mut workspace, &ports, &options(), &Silent)
            .await
            .unwrap();
    assert!(
        undone
            .not_reversible
            .iter()
            .any(|line| line.contains("purge")),
        "{:#?}",
        undone.not_reversible
    );
    // The run's sync linked the account, so its ImmutableID is now the sync's: the undo
    // goes stale on the sync state instead of unlinking a synced user.
    let target = plan.users[0].target_id.clone();
    let clear = undone
        .actions
        .iter()
        .find(|action| action.kind == "clear_immutable_id")
        .unwrap_or_else(|| panic!("{:#?}", undone.actions));
    assert_eq!(clear.state, ActionState::Stale, "{clear:#?}");
    let detail = clear.detail.as_deref().unwrap_or_default();
    assert!(
        detail.contains("`onPremisesSyncEnabled` is true")
            && detail.contains("take it out of sync scope first"),
        "{detail}"
    );
    let linked = cloud.client().get_user(&target).await.unwrap();
    assert_eq!(linked.on_premises_sync_enabled, Some(true));
    assert_eq!(
        linked
            .on_premises_immutable_id
            .as_ref()
            .map(|id| id.as_str()),
        Some(plan.users[0].immutable_id.as_str())
    );
    emulator.shutdown().await;
}

fn directory_for(users: usize) -> SnapshotDirectory {
    SnapshotDirectory::new(ad_users(users))
}

#[test]
fn two_runs_cannot_share_a_workspace() {
    let directory = tempfile::tempdir().unwrap();
    let _first = Workspace::open(directory.path()).unwrap();
    let second = Workspace::open(directory.path()).unwrap_err();
    assert!(matches!(second, WorkspaceError::Busy { .. }));
}
