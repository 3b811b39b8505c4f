//! The engine: runs a reviewed plan's actions through the ports, journaling each one
//! before and after it is sent, and picks an interrupted run up where it stopped.
//!
//! Its rules, in order of importance:
//! - nothing is sent that is not journaled `in_flight` first (with its before-image and the
//!   exact request), so a crash leaves at most the in-flight actions unknown;
//! - an unknown (in-flight) action is settled by re-reading its target: the effect is there,
//!   so it succeeded and is not sent again; or it is not, so it is sent once more;
//! - every target is re-read before it is changed, and an action whose precondition no
//!   longer holds is not sent (`stale`); whatever depends on an action that did not
//!   succeed is `skipped`;
//! - a failed write is re-read too: an answer lost to the network is not a failure when
//!   the change is there.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use hardmatch_core::plan::{
    ActionKind, Check, Directory, Plan, PlanAction, PlanFileError, Precondition, SIGN_IN_ACTIVITY,
    StalePrecondition, actions_fingerprint, days_since_epoch, last_sign_in_days,
};
use hardmatch_core::tenant::SignInActivity;

use crate::journal::{ActionRecord, ActionState, JournalError, NewAction, NewRun, Outcome};
use crate::ports::{
    AdWrite, CloudPort, CloudRead, CloudWrite, DirectoryPort, LikelyPlace, PortError, Sent,
    SyncPort,
};
use crate::workspace::Workspace;

/// A Graph soft-delete stays restorable this long (entra-matching.md §12).
const RESTORE_WINDOW_DAYS: i64 = 30;

#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("the plan recorded for run `{run_id}` cannot be read: {source}")]
    RecordedPlan {
        run_id: String,
        source: PlanFileError,
    },
    #[error("run `{0}` is unfinished in this workspace")]
    UnfinishedRun(String),
    #[error("there is no unfinished run to resume in this workspace")]
    NothingToResume,
    #[error("run `{0}` has not finished")]
    NotFinished(String),
    #[error("cannot read the cloud: {0}")]
    Read(#[from] PortError),
    #[error("no new sync cycle completed within {seconds} s (last sync: {last})")]
    SyncTimeout { seconds: u64, last: String },
}

impl ExecutorError {
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Journal(error) => error.hint().map(str::to_owned),
            Self::RecordedPlan { .. } => Some(
                "the journal's copy of the plan is damaged; keep the workspace and report this"
                    .to_owned(),
            ),
            Self::UnfinishedRun(run) => Some(format!(
                "finish it first with `hardmatch apply --resume` (run {run}); a second plan on top of \
                 an interrupted one could undo its work"
            )),
            Self::NothingToResume => Some(
                "`hardmatch history` lists the runs; start a new one with `hardmatch apply PLAN`"
                    .to_owned(),
            ),
            Self::NotFinished(_) => {
                Some("finish it with `hardmatch apply --resume` before undoing it".to_owned())
            }
            Self::Read(error) => error.hint().map(str::to_owned),
            Self::SyncTimeout { .. } => Some(
                "the cycle may still be running: check the sync server (Synchronization Service \
                 Manager, or `Get-ADSyncScheduler`), then run `hardmatch sync --wait` again"
                    .to_owned(),
            ),
        }
    }
}

/// The three directions the engine talks in.
#[derive(Debug)]
pub struct Ports<'a, C, D, S> {
    pub cloud: &'a C,
    pub directory: &'a D,
    pub sync: &'a S,
}

/// Told about every change of an action's state, for live display.
pub trait Observer {
    fn action(&self, action: &PlanAction, state: ActionState, detail: Option<&str>);
}

/// An observer that shows nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Observer for Silent {
    fn action(&self, _action: &PlanAction, _state: ActionState, _detail: Option<&str>) {}
}

/// Who runs it, against what.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The OS user name, for the audit trail.
    pub operator: String,
    /// The tenant's id or domain, as the operator confirmed it.
    pub tenant: String,
}

/// How a run ended.
#[derive(Clone, Debug)]
pub struct RunSummary {
    pub run_id: String,
    /// `completed` (every action succeeded), `partial` or `failed`.
    pub outcome: String,
    pub actions: Vec<ActionRecord>,
    /// For undo runs: what could not be reversed, and why.
    pub not_reversible: Vec<String>,
}

impl RunSummary {
    pub fn count(&self, state: ActionState) -> usize {
        self.actions
            .iter()
            .filter(|action| action.state == state)
            .count()
    }
}

/// The current time as RFC 3339, for the journal.
pub fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn new_run_id() -> String {
    let stamp = time::OffsetDateTime::now_utc();
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}-{}",
        stamp.year(),
        u8::from(stamp.month()),
        stamp.day(),
        stamp.hour(),
        stamp.minute(),
        stamp.second(),
        suffix.get(..6).unwrap_or_default()
    )
}

/// Starts a new run of `plan` and executes it. Refused while another run is unfinished.
pub async fn apply<C: CloudPort, D: DirectoryPort, S: SyncPort>(
    plan: &Plan,
    workspace: &mut Workspace,
    ports: &Ports<'_, C, D, S>,
    options: &RunOptions,
    observer: &dyn Observer,
) -> Result<RunSummary, ExecutorError> {
    if let Some(run) = workspace.journal().unfinished_runs()?.into_iter().next() {
        return Err(ExecutorError::UnfinishedRun(run));
    }
    let run_id = new_run_id();
    begin(plan, workspace, &run_id, "apply", None, options)?;
    execute(plan, workspace, &run_id, ports, observer, Vec::new()).await
}

fn begin(
    plan: &Plan,
    workspace: &mut Workspace,
    run_id: &str,
    kind: &str,
    undoes_run: Option<&str>,
    options: &RunOptions,
) -> Result<(), ExecutorError> {
    let text = plan
        .to_json()
        .map_err(|source| ExecutorError::RecordedPlan {
            run_id: run_id.to_owned(),
            source,
        })?;
    let targets: Vec<String> = plan.actions.iter().map(describe_target).collect();
    let actions: Vec<NewAction<'_>> = plan
        .actions
        .iter()
        .zip(&targets)
        .map(|(action, target)| NewAction {
            action_id: &action.id,
            kind: action.kind.name(),
            target,
        })
        .collect();
    let started_at = now();
    workspace.journal_mut().begin_run(
        &NewRun {
            id: run_id,
            kind,
            undoes_run,
            plan_fingerprint: &plan.actions_fingerprint,
            plan: &text,
            tenant: &options.tenant,
            operator: &options.operator,
            started_at: &started_at,
        },
        &actions,
    )?;
    Ok(())
}

/// Continues the workspace's unfinished run: in-flight actions are reconciled by re-reading
/// their targets, pending ones run, finished ones never run again.
pub async fn resume<C: CloudPort, D: DirectoryPort, S: SyncPort>(
    workspace: &mut Workspace,
    ports: &Ports<'_, C, D, S>,
    observer: &dyn Observer,
) -> Result<RunSummary, ExecutorError> {
    let Some(run_id) = workspace.journal().unfinished_runs()?.into_iter().next() else {
        return Err(ExecutorError::NothingToResume);
    };
    let plan = recorded_plan(workspace, &run_id)?;
    execute(&plan, workspace, &run_id, ports, observer, Vec::new()).await
}

/// The plan a run executed, as the journal recorded it.
pub fn recorded_plan(workspace: &Workspace, run_id: &str) -> Result<Plan, ExecutorError> {
    let text = workspace.journal().plan_of(run_id)?;
    Plan::from_json(&text).map_err(|source| ExecutorError::RecordedPlan {
        run_id: run_id.to_owned(),
        source,
    })
}

/// A human name for an action's target.
pub fn describe_target(action: &PlanAction) -> String {
    let target = &action.target;
    match target.directory {
        Directory::SyncServer => "the sync engine".to_owned(),
        _ => {
            let name = target
                .user_principal_name
                .clone()
                .or_else(|| target.distinguished_name.clone())
                .unwrap_or_default();
            match &target.id {
                Some(id) => format!("{name} ({id})"),
                None => name,
            }
        }
    }
}

/// What re-reading a target found.
enum Reading {
    Cloud(CloudRead),
    Directory(Option<serde_json::Value>),
    Nothing,
}

impl Reading {
    fn state(&self) -> serde_json::Value {
        match self {
            Self::Cloud(read) => read.state(),
            Self::Directory(Some(state)) => normalized(state.clone()),
            Self::Directory(None) | Self::Nothing => serde_json::Value::Null,
        }
    }
}

/// AD returns multi-valued attributes in no particular order; compare them sorted.
fn normalized(mut state: serde_json::Value) -> serde_json::Value {
    if let Some(serde_json::Value::Array(addresses)) = state.get_mut("proxy_addresses") {
        addresses.sort_by_key(|address| address.to_string());
    }
    state
}

async fn read<C: CloudPort, D: DirectoryPort, S: SyncPort>(
    action: &PlanAction,
    ports: &Ports<'_, C, D, S>,
) -> Result<Reading, PortError> {
    match action.target.directory {
        Directory::Cloud => {
            let Some(id) = action.target.id.as_deref() else {
                return Err(PortError::new("the cloud action names no object id"));
            };
            Ok(Reading::Cloud(ports.cloud.read(id).await?))
        }
        Directory::ActiveDirectory => Ok(Reading::Directory(
            ports.directory.read(&action.target).await?,
        )),
        Directory::SyncServer => Ok(Reading::Nothing),
    }
}

/// [`read`], with the sign-in activity a soft delete is checked against.
async fn read_with_sign_ins<C: CloudPort, D: DirectoryPort, S: SyncPort>(
    action: &PlanAction,
    plan: &Plan,
    ports: &Ports<'_, C, D, S>,
) -> Result<Reading, PortError> {
    let (Directory::Cloud, Some(id)) = (action.target.directory, action.target.id.as_deref())
    else {
        return read(action, ports).await;
    };
    let mut reads = [ports.cloud.read(id).await];
    add_sign_ins(&[action], plan, &mut reads, ports).await;
    let [read] = reads;
    Ok(Reading::Cloud(read?))
}

/// Whether the action's precondition names the target's sign-in activity (a soft delete
/// planned with it read).
fn relies_on_sign_in(action: &PlanAction) -> bool {
    action
        .precondition
        .as_ref()
        .is_some_and(|precondition| precondition.expected(SIGN_IN_ACTIVITY).is_some())
}

/// Adds the sign-in activity, read now in one go, to the re-read states of the soft deletes
/// (`reads[i]` is `actions[i]`'s target): those that rely on it compare it, the others are
/// refused when it shows a recent sign-in. When it cannot be read it is left out, so that
/// the preconditions that rely on it fail rather than pass on a guess.
async fn add_sign_ins<C: CloudPort, D: DirectoryPort, S: SyncPort>(
    actions: &[&PlanAction],
    plan: &Plan,
    reads: &mut [Result<CloudRead, PortError>],
    ports: &Ports<'_, C, D, S>,
) {
    // A plan that allows deleting recently used accounts has no recency to check: its
    // soft deletes need the activity only where they rely on what the plan read.
    let checks_recency = !plan.policy.allow_delete_recent_sign_in;
    let relying: Vec<usize> = actions
        .iter()
        .enumerate()
        .filter(|(position, action)| {
            (checks_recency && action.kind == ActionKind::SoftDelete || relies_on_sign_in(action))
                && matches!(reads.get(*position), Some(Ok(CloudRead::Active(_))))
        })
        .map(|(position, _)| position)
        .collect();
    if relying.is_empty() {
        return;
    }
    let ids: Vec<String> = relying
        .iter()
        .filter_map(|&position| actions[position].target.id.clone())
        .collect();
    let Ok(mut found) = ports.cloud.sign_in_activity(&ids).await else {
        return;
    };
    for position in relying {
        let Some(id) = actions[position].target.id.as_deref() else {
            continue;
        };
        if let (Some(activity), Some(Ok(CloudRead::Active(state)))) =
            (found.remove(id), reads.get_mut(position))
            && let Some(object) = state.as_object_mut()
        {
            // None on record reads as the plan wrote it: the activity with no dates.
            let activity = serde_json::to_value(activity.unwrap_or_default())
                .unwrap_or(serde_json::Value::Null);
            object.insert(SIGN_IN_ACTIVITY.to_owned(), activity);
        }
    }
}

/// What a stale action's journal entry says: what changed, and the next step where the
/// change has a known one.
fn stale_detail(stale: &StalePrecondition) -> String {
    if stale.property == SIGN_IN_ACTIVITY && stale.actual == "null" {
        return format!(
            "the plan relies on the sign-in activity it read ({}), which cannot be read now \
             (it needs AuditLog.Read.All and Entra ID P1 or P2): not deleted on a guess; make \
             a new plan, with --skip-sign-in-read if it stays unreadable",
            stale.expected
        );
    }
    let mut detail = format!("{stale}; it changed after the plan was made");
    if stale.property == "onPremisesSyncEnabled" && stale.actual == "true" {
        // A sync linked it since: from now on its anchor is changed on-premises only.
        detail.push_str("; ");
        detail.push_str(hardmatch_graph::error::SYNCED_OBJECT_HINT);
    }
    if stale.property == SIGN_IN_ACTIVITY {
        detail.push_str("; someone signed in to it: check who uses it before a new plan");
    }
    detail
}

/// Why a soft delete planned without its target's sign-in activity must not go ahead: the
/// activity read now shows a sign-in within the plan's "recent" window, which its policy
/// does not allow (the planner's own rule, applied now that the activity is known).
fn recent_sign_in(action: &PlanAction, plan: &Plan, state: &serde_json::Value) -> Option<String> {
    if action.kind != ActionKind::SoftDelete || relies_on_sign_in(action) {
        return None;
    }
    let policy = &plan.policy;
    if policy.allow_delete_recent_sign_in {
        return None;
    }
    let activity: SignInActivity =
        serde_json::from_value(state.get(SIGN_IN_ACTIVITY)?.clone()).ok()?;
    let days = last_sign_in_days(&activity, days_since_epoch(&now())?)?;
    (days <= i64::from(policy.recent_sign_in_days)).then(|| {
        format!(
            "it signed in {days} day(s) ago, which the plan did not know: not deleted; check \
             who uses it, or make a new plan with --allow-delete-recent-sign-in"
        )
    })
}

/// The value an AD consistency-GUID action writes: the planned value, or the objectGUID;
/// an empty value clears it (undo of a first write).
fn consistency_guid_value(action: &PlanAction, state: &serde_json::Value) -> Option<String> {
    match action.value.as_deref() {
        Some("") => None,
        Some(value) => Some(value.to_owned()),
        None => state
            .get("object_guid")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned),
    }
}

/// Whether the action's effect is visible in `reading`; `None` when it cannot be seen
/// (a sync cycle leaves no mark on one object).
fn effect_present(action: &PlanAction, reading: &Reading) -> Option<bool> {
    let value = action.value.as_deref();
    let text = |state: &serde_json::Value, property: &str| {
        state
            .get(property)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    match (action.kind, reading) {
        (ActionKind::SetImmutableId, Reading::Cloud(CloudRead::Active(state))) => {
            Some(text(state, "onPremisesImmutableId").as_deref() == value)
        }
        (ActionKind::ClearImmutableId, Reading::Cloud(CloudRead::Active(state))) => {
            Some(text(state, "onPremisesImmutableId").is_none())
        }
        (ActionKind::SetImmutableId | ActionKind::ClearImmutableId, Reading::Cloud(_)) => {
            Some(false)
        }
        (ActionKind::SoftDelete, Reading::Cloud(read)) => {
            Some(!matches!(read, CloudRead::Active(_)))
        }
        (ActionKind::PurgeDeleted, Reading::Cloud(read)) => Some(*read == CloudRead::Absent),
        (ActionKind::RestoreDeleted, Reading::Cloud(read)) => {
            Some(matches!(read, CloudRead::Active(_)))
        }
        (_, Reading::Directory(None)) => Some(false),
        (ActionKind::AdSetUpn, Reading::Directory(Some(state))) => {
            Some(text(state, "user_principal_name").as_deref() == value)
        }
        (ActionKind::AdAddProxyAddress, Reading::Directory(Some(state))) => Some(
            state
                .get("proxy_addresses")
                .and_then(serde_json::Value::as_array)
                .is_some_and(|addresses| {
                    addresses.iter().any(|address| {
                        address
                            .as_str()
                            .zip(value)
                            .is_some_and(|(address, value)| address.eq_ignore_ascii_case(value))
                    })
                }),
        ),
        (ActionKind::AdSetConsistencyGuid, Reading::Directory(Some(state))) => {
            let wanted = consistency_guid_value(action, state).map(|guid| guid.to_lowercase());
            Some(text(state, "consistency_guid").map(|guid| guid.to_lowercase()) == wanted)
        }
        (
            ActionKind::AdMoveOutOfScope | ActionKind::AdMoveIntoScope,
            Reading::Directory(Some(state)),
        ) => Some(text(state, "distinguished_name").is_some_and(|name| {
            value.is_some_and(|container| {
                name.to_lowercase()
                    .ends_with(&format!(",{}", container.to_lowercase()))
            })
        })),
        _ => None,
    }
}

/// The action's precondition as it must hold *now*: the plan computed every AD action's
/// precondition from the directory before the run, so the effects of this run's earlier
/// successful actions on the same object are folded in (a UPN set by `a1` is the UPN `a2`
/// expects).
fn precondition_now(
    action: &PlanAction,
    plan: &Plan,
    states: &HashMap<String, ActionState>,
) -> Option<Precondition> {
    let mut precondition = action.precondition.clone()?;
    if action.target.directory != Directory::ActiveDirectory {
        return Some(precondition);
    }
    let earlier = plan
        .actions
        .iter()
        .take_while(|earlier| earlier.id != action.id)
        .filter(|earlier| {
            earlier.target.directory == Directory::ActiveDirectory
                && earlier.target.id == action.target.id
                && states.get(&earlier.id) == Some(&ActionState::Succeeded)
        });
    for earlier in earlier {
        let value = earlier.value.clone().unwrap_or_default();
        for check in &mut precondition.checks {
            let Check::Equals {
                property,
                value: expected,
            } = check
            else {
                continue;
            };
            match (earlier.kind, &**property) {
                (ActionKind::AdSetUpn, "user_principal_name") => {
                    *expected = value.clone().into();
                }
                (ActionKind::AdAddProxyAddress, "proxy_addresses") => {
                    if let serde_json::Value::Array(addresses) = expected {
                        addresses.push(value.clone().into());
                    } else {
                        *expected = serde_json::json!([value.clone()]);
                    }
                }
                (
                    ActionKind::AdMoveOutOfScope | ActionKind::AdMoveIntoScope,
                    "distinguished_name",
                ) => {
                    if let Some(name) = expected.as_str() {
                        let relative = name.split(',').next().unwrap_or_default();
                        *expected = format!("{relative},{value}").into();
                    }
                }
                _ => {}
            }
        }
    }
    for check in &mut precondition.checks {
        if let Check::Equals { property, value } = check
            && property == "proxy_addresses"
            && let serde_json::Value::Array(addresses) = value
        {
            addresses.sort_by_key(|address| address.to_string());
        }
    }
    Some(precondition)
}

/// What to send for an action, built from the plan and the target as just re-read.
enum Write {
    Cloud(CloudWrite),
    Directory(AdWrite),
    Sync(String),
}

impl Write {
    fn request(&self) -> serde_json::Value {
        match self {
            Self::Cloud(write) => write.request(),
            Self::Directory(write) => write.request(),
            Self::Sync(policy) => {
                serde_json::json!({ "method": "sync", "url": "sync engine", "body": { "policy": policy } })
            }
        }
    }
}

fn build_write(action: &PlanAction, reading: &Reading) -> Result<Write, PortError> {
    let id = action.target.id.clone().unwrap_or_default();
    let state = reading.state();
    let text = |property: &str| {
        state
            .get(property)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    let distinguished_name = || {
        text("distinguished_name")
            .or_else(|| action.target.distinguished_name.clone())
            .unwrap_or_default()
    };
    let value = || {
        action
            .value
            .clone()
            .ok_or_else(|| PortError::new(format!("action {} has no value", action.id)))
    };
    Ok(match action.kind {
        ActionKind::SetImmutableId => Write::Cloud(CloudWrite::SetImmutableId {
            user_id: id,
            value: value()?,
        }),
        ActionKind::ClearImmutableId => Write::Cloud(CloudWrite::ClearImmutableId { user_id: id }),
        ActionKind::SoftDelete => Write::Cloud(CloudWrite::SoftDelete { user_id: id }),
        ActionKind::PurgeDeleted => Write::Cloud(CloudWrite::Purge { user_id: id }),
        ActionKind::RestoreDeleted => Write::Cloud(CloudWrite::Restore { user_id: id }),
        ActionKind::AdSetUpn => Write::Directory(AdWrite::SetUserPrincipalName {
            distinguished_name: distinguished_name(),
            expected: text("user_principal_name"),
            value: value()?,
        }),
        ActionKind::AdAddProxyAddress => Write::Directory(AdWrite::AddProxyAddress {
            distinguished_name: distinguished_name(),
            expected: state
                .get("proxy_addresses")
                .and_then(serde_json::Value::as_array)
                .map(|addresses| {
                    addresses
                        .iter()
                        .filter_map(|address| address.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            value: value()?,
        }),
        ActionKind::AdSetConsistencyGuid => Write::Directory(AdWrite::SetConsistencyGuid {
            distinguished_name: distinguished_name(),
            expected: text("consistency_guid"),
            value: consistency_guid_value(action, &state),
        }),
        ActionKind::AdMoveOutOfScope | ActionKind::AdMoveIntoScope => {
            let mut error = PortError::new(
                "moving AD objects between OUs is not automated by this hardmatch",
            )
            .with_hint(format!(
                "move the object to `{}` yourself (Active Directory Users and Computers, or \
                 Move-ADObject), then `hardmatch verify`",
                action.value.as_deref().unwrap_or_default()
            ));
            error.not_sent = true;
            return Err(error);
        }
        ActionKind::TriggerSync => {
            Write::Sync(action.value.clone().unwrap_or_else(|| "Delta".to_owned()))
        }
    })
}

async fn send<C: CloudPort, D: DirectoryPort, S: SyncPort>(
    write: &Write,
    ports: &Ports<'_, C, D, S>,
) -> Result<Sent, PortError> {
    match write {
        Write::Cloud(write) => ports.cloud.write(write).await,
        Write::Directory(write) => ports.directory.write(write).await,
        Write::Sync(policy) => ports.sync.trigger(policy).await,
    }
}

/// Sends an in-flight action and journals how it ended. A failure is re-read first: the
/// change may have landed although its answer was lost.
async fn send_and_record<C: CloudPort, D: DirectoryPort, S: SyncPort>(
    action: &PlanAction,
    write: &Write,
    workspace: &mut Workspace,
    run_id: &str,
    ports: &Ports<'_, C, D, S>,
    observer: &dyn Observer,
) -> Result<ActionState, ExecutorError> {
    let result = send(write, ports).await;
    record(action, result, workspace, run_id, ports, observer).await
}

/// Journals how a sent action ended; a failure is re-read first.
async fn record<C: CloudPort, D: DirectoryPort, S: SyncPort>(
    action: &PlanAction,
    result: Result<Sent, PortError>,
    workspace: &mut Workspace,
    run_id: &str,
    ports: &Ports<'_, C, D, S>,
    observer: &dyn Observer,
) -> Result<ActionState, ExecutorError> {
    match result {
        Ok(sent) => {
            workspace.journal_mut().mark_finished(
                run_id,
                &action.id,
                Outcome::Succeeded {
                    response: sent.response.as_ref(),
                    request_id: sent.request_id.as_deref(),
                },
                &now(),
            )?;
            observer.action(action, ActionState::Succeeded, None);
            Ok(ActionState::Succeeded)
        }
        Err(error) => {
            let confirmed = if error.not_sent {
                false
            } else {
                match read(action, ports).await {
                    Ok(reading) => effect_present(action, &reading) == Some(true),
                    Err(_) => false,
                }
            };
            if confirmed {
                let detail = format!("the answer was an error ({error}), but the change is there");
                workspace.journal_mut().mark_finished(
                    run_id,
                    &action.id,
                    Outcome::Confirmed { detail: &detail },
                    &now(),
                )?;
                observer.action(action, ActionState::Succeeded, Some(&detail));
                return Ok(ActionState::Succeeded);
            }
            let mut detail = error.message.clone();
            if let Some(hint) = error.hint() {
                detail.push_str(&format!(" (hint: {hint})"));
            }
            workspace.journal_mut().mark_finished(
                run_id,
                &action.id,
                Outcome::Failed {
                    response: None,
                    request_id: error.request_id.as_deref(),
                    detail: &detail,
                },
                &now(),
            )?;
            tracing::warn!(action = %action.id, %detail, "action failed");
            observer.action(action, ActionState::Failed, Some(&detail));
            Ok(ActionState::Failed)
        }
    }
}

async fn execute<C: CloudPort, D: DirectoryPort, S: SyncPort>(
    plan: &Plan,
    workspace: &mut Workspace,
    run_id: &str,
    ports: &Ports<'_, C, D, S>,
    observer: &dyn Observer,
    not_reversible: Vec<String>,
) -> Result<RunSummary, ExecutorError> {
    let recorded = workspace.journal().actions(run_id)?;
    let mut states: HashMap<String, ActionState> = recorded
        .iter()
        .map(|record| (record.action_id.clone(), record.state))
        .collect();
    let mut index = 0;
    while let Some(action) = plan.actions.get(index) {
        let state = states
            .get(&action.id)
            .copied()
            .unwrap_or(ActionState::Pending);
        let group = concurrent_group(plan, index, &states);
        if state == ActionState::Pending && group.len() > 1 {
            run_group(
                &group,
                plan,
                workspace,
                run_id,
                ports,
                observer,
                &mut states,
            )
            .await?;
            // The action at `index` is finished now; the others of the group, further on,
            // are passed over when the loop reaches them.
            continue;
        }
        let new_state = match state {
            ActionState::InFlight => reconcile(action, workspace, run_id, ports, observer).await?,
            ActionState::Pending => {
                run_pending(action, plan, workspace, run_id, ports, observer, &states).await?
            }
            finished => finished,
        };
        states.insert(action.id.clone(), new_state);
        index += 1;
    }
    let all: HashSet<ActionState> = states.values().copied().collect();
    let outcome = if all.iter().all(|state| *state == ActionState::Succeeded) {
        "completed"
    } else if all.contains(&ActionState::Succeeded) {
        "partial"
    } else {
        "failed"
    };
    workspace
        .journal_mut()
        .finish_run(run_id, outcome, &now())?;
    Ok(RunSummary {
        run_id: run_id.to_owned(),
        outcome: outcome.to_owned(),
        actions: workspace.journal().actions(run_id)?,
        not_reversible,
    })
}

/// The largest group of independent cloud writes (Graph's batch limit): one `$batch`
/// re-reads all their targets and one more sends all their writes, paced by the Graph
/// client within the tenant's quota.
const GROUP_SIZE: usize = hardmatch_graph::BATCH_SIZE;

/// The pending cloud writes from `start` on that may go together: of the same kind as the
/// one at `start`, on different objects, each with everything it depends on finished. A
/// later action may overtake unfinished ones of other kinds, so that the planner's
/// per-user order (delete, purge, delete, purge…) still gives groups of 20 deletes, then 20
/// purges; but never one on its own target or one it depends on, and never anything but a
/// cloud action: an AD write or a sync cycle ends the search.
fn concurrent_group<'a>(
    plan: &'a Plan,
    start: usize,
    states: &HashMap<String, ActionState>,
) -> Vec<&'a PlanAction> {
    let state_of = |action: &PlanAction| {
        states
            .get(&action.id)
            .copied()
            .unwrap_or(ActionState::Pending)
    };
    let unfinished =
        |state: ActionState| matches!(state, ActionState::Pending | ActionState::InFlight);
    let mut group: Vec<&PlanAction> = Vec::new();
    let Some(first) = plan.actions.get(start) else {
        return group;
    };
    if !first.kind.is_cloud() || state_of(first) != ActionState::Pending {
        return group;
    }
    // Unfinished actions passed over, which what follows must not overtake on their target.
    let mut passed: Vec<&PlanAction> = Vec::new();
    for action in plan.actions.iter().skip(start) {
        if group.len() == GROUP_SIZE {
            break;
        }
        let state = state_of(action);
        if !unfinished(state) {
            continue;
        }
        if !action.kind.is_cloud() {
            break;
        }
        let waits_for_something = action.depends_on.iter().any(|dependency| {
            states
                .get(dependency)
                .is_none_or(|state| unfinished(*state))
        });
        let shares_a_target = group
            .iter()
            .chain(&passed)
            .any(|other| other.target.id == action.target.id);
        if action.kind == first.kind
            && state == ActionState::Pending
            && !waits_for_something
            && !shares_a_target
        {
            group.push(action);
        } else {
            passed.push(action);
        }
    }
    group
}

/// Re-reads the group's targets in one go, prepares each action (each journaled in flight
/// before anything is sent), sends the ready writes together (one `$batch` through the
/// Graph port), and records each outcome on its own.
async fn run_group<C: CloudPort, D: DirectoryPort, S: SyncPort>(
    group: &[&PlanAction],
    plan: &Plan,
    workspace: &mut Workspace,
    run_id: &str,
    ports: &Ports<'_, C, D, S>,
    observer: &dyn Observer,
    states: &mut HashMap<String, ActionState>,
) -> Result<(), ExecutorError> {
    let ids: Vec<String> = group
        .iter()
        .filter_map(|action| action.target.id.clone())
        .collect();
    let likely = match group.first().map(|action| action.kind) {
        Some(ActionKind::PurgeDeleted | ActionKind::RestoreDeleted) => LikelyPlace::RecycleBin,
        _ => LikelyPlace::Active,
    };
    let mut reads = ports.cloud.read_many(&ids, likely).await;
    let with_ids: Vec<&PlanAction> = group
        .iter()
        .copied()
        .filter(|action| action.target.id.is_some())
        .collect();
    add_sign_ins(&with_ids, plan, &mut reads, ports).await;
    let mut reads = reads.into_iter();
    let mut ready = Vec::new();
    // The group's in-flight records are committed together, before any write leaves.
    workspace.journal_mut().begin_group()?;
    for action in group {
        let reading = match action.target.id {
            Some(_) => reads
                .next()
                .unwrap_or_else(|| Err(PortError::new("no answer for the target's re-read")))
                .map(Reading::Cloud),
            None => Err(PortError::new("the cloud action names no object id")),
        };
        match prepare(
            action,
            plan,
            workspace,
            run_id,
            ports,
            observer,
            states,
            Some(reading),
        )
        .await?
        {
            Prepared::Done(state) => {
                states.insert(action.id.clone(), state);
            }
            Prepared::Ready(Write::Cloud(write)) => ready.push((*action, write)),
            // A group holds cloud actions only; anything else goes on its own.
            Prepared::Ready(write) => {
                workspace.journal_mut().commit_group()?;
                let state =
                    send_and_record(action, &write, workspace, run_id, ports, observer).await?;
                states.insert(action.id.clone(), state);
                workspace.journal_mut().begin_group()?;
            }
        }
    }
    workspace.journal_mut().commit_group()?;
    let writes: Vec<CloudWrite> = ready.iter().map(|(_, write)| write.clone()).collect();
    let results = ports.cloud.write_many(&writes).await;
    // Outcomes are committed together too: a crash before that commit leaves the group
    // in flight, which a resume settles by re-reading each target.
    workspace.journal_mut().begin_group()?;
    for ((action, _), result) in ready.iter().zip(results) {
        let state = record(action, result, workspace, run_id, ports, observer).await?;
        states.insert(action.id.clone(), state);
    }
    workspace.journal_mut().commit_group()?;
    Ok(())
}

async fn reconcile<C: CloudPort, D: DirectoryPort, S: SyncPort>(
    action: &PlanAction,
    workspace: &mut Workspace,
    run_id: &str,
    ports: &Ports<'_, C, D, S>,
    observer: &dyn Observer,
) -> Result<ActionState, ExecutorError> {
    // Unreadable now means unknown still: fail the resume rather than guess.
    let reading = read(action, ports).await?;
    if effect_present(action, &reading) == Some(true) {
        let detail = "reconciled: the change was found on re-reading the target; not sent again";
        workspace.journal_mut().mark_finished(
            run_id,
            &action.id,
            Outcome::Confirmed { detail },
            &now(),
        )?;
        observer.action(action, ActionState::Succeeded, Some(detail));
        return Ok(ActionState::Succeeded);
    }
    let write = match build_write(action, &reading) {
        Ok(write) => write,
        Err(error) => {
            workspace.journal_mut().mark_finished(
                run_id,
                &action.id,
                Outcome::Failed {
                    response: None,
                    request_id: None,
                    detail: &error.message,
                },
                &now(),
            )?;
            observer.action(action, ActionState::Failed, Some(&error.message));
            return Ok(ActionState::Failed);
        }
    };
    workspace
        .journal_mut()
        .mark_resent(run_id, &action.id, &write.request(), &now())?;
    observer.action(
        action,
        ActionState::InFlight,
        Some("not found on re-reading the target after an interruption: sending it once more"),
    );
    send_and_record(action, &write, workspace, run_id, ports, observer).await
}

async fn run_pending<C: CloudPort, D: DirectoryPort, S: SyncPort>(
    action: &PlanAction,
    plan: &Plan,
    workspace: &mut Workspace,
    run_id: &str,
    ports: &Ports<'_, C, D, S>,
    observer: &dyn Observer,
    states: &HashMap<String, ActionState>,
) -> Result<ActionState, ExecutorError> {
    match prepare(
        action, plan, workspace, run_id, ports, observer, states, None,
    )
    .await?
    {
        Prepared::Done(state) => Ok(state),
        Prepared::Ready(write) => {
            send_and_record(action, &write, workspace, run_id, ports, observer).await
        }
    }
}

/// A pending action after its checks: finished without sending, or journaled in flight
/// and ready to send.
enum Prepared {
    Done(ActionState),
    Ready(Write),
}

/// Dependencies, re-read (unless the caller read the target already, in bulk),
/// precondition, then the write-ahead `in_flight` record.
#[allow(clippy::too_many_arguments)]
async fn prepare<C: CloudPort, D: DirectoryPort, S: SyncPort>(
    action: &PlanAction,
    plan: &Plan,
    workspace: &mut Workspace,
    run_id: &str,
    ports: &Ports<'_, C, D, S>,
    observer: &dyn Observer,
    states: &HashMap<String, ActionState>,
    reading: Option<Result<Reading, PortError>>,
) -> Result<Prepared, ExecutorError> {
    let unmet: Vec<&str> = action
        .depends_on
        .iter()
        .filter(|dependency| states.get(*dependency) != Some(&ActionState::Succeeded))
        .map(String::as_str)
        .collect();
    if !unmet.is_empty() {
        let detail = format!("not attempted: {} did not succeed", unmet.join(", "));
        return not_sent(
            action,
            workspace,
            run_id,
            ActionState::Skipped,
            &detail,
            observer,
        )
        .map(Prepared::Done);
    }
    let reading = match reading {
        Some(reading) => reading,
        None => read_with_sign_ins(action, plan, ports).await,
    };
    let reading = match reading {
        Ok(reading) => reading,
        Err(error) => {
            let detail = format!("cannot re-read the target: {error}");
            return not_sent(
                action,
                workspace,
                run_id,
                ActionState::Skipped,
                &detail,
                observer,
            )
            .map(Prepared::Done);
        }
    };
    let before = reading.state();
    let stale = precondition_now(action, plan, states)
        .and_then(|precondition| precondition.evaluate(&before).err())
        .map(|stale| stale_detail(&stale))
        .or_else(|| recent_sign_in(action, plan, &before));
    if let Some(detail) = stale {
        return not_sent(
            action,
            workspace,
            run_id,
            ActionState::Stale,
            &detail,
            observer,
        )
        .map(Prepared::Done);
    }
    let write = match build_write(action, &reading) {
        Ok(write) => write,
        Err(error) => {
            let mut detail = error.message.clone();
            if let Some(hint) = error.hint() {
                detail.push_str(&format!(" (hint: {hint})"));
            }
            return not_sent(
                action,
                workspace,
                run_id,
                ActionState::Skipped,
                &detail,
                observer,
            )
            .map(Prepared::Done);
        }
    };
    // The write-ahead step: durable before the request leaves.
    workspace.journal_mut().mark_in_flight(
        run_id,
        &action.id,
        &before,
        &write.request(),
        &now(),
    )?;
    observer.action(action, ActionState::InFlight, None);
    Ok(Prepared::Ready(write))
}

fn not_sent(
    action: &PlanAction,
    workspace: &mut Workspace,
    run_id: &str,
    state: ActionState,
    detail: &str,
    observer: &dyn Observer,
) -> Result<ActionState, ExecutorError> {
    workspace
        .journal_mut()
        .mark_not_sent(run_id, &action.id, state, detail, &now())?;
    observer.action(action, state, Some(detail));
    Ok(state)
}

/// Reverses what can be reversed of a finished run, as a journaled run of its own.
pub async fn undo<C: CloudPort, D: DirectoryPort, S: SyncPort>(
    run_id: &str,
    workspace: &mut Workspace,
    ports: &Ports<'_, C, D, S>,
    options: &RunOptions,
    observer: &dyn Observer,
) -> Result<RunSummary, ExecutorError> {
    if let Some(run) = workspace.journal().unfinished_runs()?.into_iter().next() {
        if run == run_id {
            return Err(ExecutorError::NotFinished(run));
        }
        return Err(ExecutorError::UnfinishedRun(run));
    }
    let plan = recorded_plan(workspace, run_id)?;
    let records = workspace.journal().actions(run_id)?;
    let (actions, not_reversible) = undo_actions(&plan, &records, &now());
    let mut undo_plan = plan.clone();
    undo_plan.users.clear();
    undo_plan.skipped.clear();
    undo_plan.actions = actions;
    undo_plan.actions_fingerprint = actions_fingerprint(&undo_plan.actions);
    let undo_id = new_run_id();
    begin(
        &undo_plan,
        workspace,
        &undo_id,
        "undo",
        Some(run_id),
        options,
    )?;
    execute(
        &undo_plan,
        workspace,
        &undo_id,
        ports,
        observer,
        not_reversible,
    )
    .await
}

/// The actions that reverse `records`' successful ones, newest first, and what cannot be
/// reversed. Each undo action's precondition is the state the original left behind: an
/// object changed since is not reverted blindly.
pub fn undo_actions(
    plan: &Plan,
    records: &[ActionRecord],
    now: &str,
) -> (Vec<PlanAction>, Vec<String>) {
    let by_id: HashMap<&str, &PlanAction> = plan
        .actions
        .iter()
        .map(|action| (action.id.as_str(), action))
        .collect();
    let purged: HashSet<Option<&str>> = records
        .iter()
        .filter(|record| record.state == ActionState::Succeeded)
        .filter_map(|record| by_id.get(record.action_id.as_str()))
        .filter(|action| action.kind == ActionKind::PurgeDeleted)
        .map(|action| action.target.id.as_deref())
        .collect();
    let mut actions = Vec::new();
    let mut not_reversible = Vec::new();
    for record in records.iter().rev() {
        if record.state != ActionState::Succeeded {
            continue;
        }
        let Some(original) = by_id.get(record.action_id.as_str()) else {
            continue;
        };
        let before = record
            .before_image
            .clone()
            .unwrap_or(serde_json::Value::Null);
        let before_text = |property: &str| {
            before
                .get(property)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        let target = describe_target(original);
        let equals = |property: &'static str, value: serde_json::Value| Check::Equals {
            property: property.into(),
            value,
        };
        let (kind, value, checks, reason) = match original.kind {
            ActionKind::SetImmutableId | ActionKind::ClearImmutableId => {
                let applied = match original.kind {
                    ActionKind::SetImmutableId => original
                        .value
                        .clone()
                        .map_or(serde_json::Value::Null, Into::into),
                    _ => serde_json::Value::Null,
                };
                // Once a sync has linked the account, its ImmutableID is the sync's: taking it
                // back would unlink a synced user, so the undo also relies on the sync state
                // the run left behind, and goes stale instead.
                let synced_before = before
                    .get("onPremisesSyncEnabled")
                    .cloned()
                    .unwrap_or(serde_json::Value::Null);
                let check = vec![
                    equals("onPremisesImmutableId", applied),
                    equals("onPremisesSyncEnabled", synced_before),
                ];
                match before_text("onPremisesImmutableId") {
                    Some(previous) => (
                        ActionKind::SetImmutableId,
                        Some(previous.clone()),
                        check,
                        format!(
                            "undo {}: give {target} back its ImmutableID {previous}",
                            record.action_id
                        ),
                    ),
                    None => (
                        ActionKind::ClearImmutableId,
                        None,
                        check,
                        format!("undo {}: {target} had no ImmutableID", record.action_id),
                    ),
                }
            }
            ActionKind::SoftDelete => {
                if purged.contains(&original.target.id.as_deref()) {
                    not_reversible.push(format!(
                        "{} soft-deleted {target}, and the run purged it: a purge is permanent",
                        record.action_id
                    ));
                    continue;
                }
                let deleted_days = record
                    .finished_at
                    .as_deref()
                    .and_then(hardmatch_core::plan::days_since_epoch);
                let today = hardmatch_core::plan::days_since_epoch(now);
                if let (Some(deleted), Some(today)) = (deleted_days, today)
                    && today - deleted >= RESTORE_WINDOW_DAYS
                {
                    not_reversible.push(format!(
                        "{} soft-deleted {target} more than {RESTORE_WINDOW_DAYS} days ago: the recycle bin no longer holds it",
                        record.action_id
                    ));
                    continue;
                }
                (
                    ActionKind::RestoreDeleted,
                    None,
                    vec![Check::Present {
                        property: "deletedDateTime".into(),
                    }],
                    format!(
                        "undo {}: restore {target} from the recycle bin",
                        record.action_id
                    ),
                )
            }
            ActionKind::PurgeDeleted => {
                not_reversible.push(format!(
                    "{} permanently deleted {target}: a purge cannot be undone",
                    record.action_id
                ));
                continue;
            }
            ActionKind::RestoreDeleted => (
                ActionKind::SoftDelete,
                None,
                vec![equals("deletedDateTime", serde_json::Value::Null)],
                format!(
                    "undo {}: put {target} back in the recycle bin",
                    record.action_id
                ),
            ),
            ActionKind::AdSetUpn => match before_text("user_principal_name") {
                Some(previous) => (
                    ActionKind::AdSetUpn,
                    Some(previous.clone()),
                    vec![equals(
                        "user_principal_name",
                        original
                            .value
                            .clone()
                            .map_or(serde_json::Value::Null, Into::into),
                    )],
                    format!(
                        "undo {}: set the UPN of {target} back to {previous}",
                        record.action_id
                    ),
                ),
                None => {
                    not_reversible.push(format!(
                        "{} gave {target} a UPN where it had none; remove it by hand if needed",
                        record.action_id
                    ));
                    continue;
                }
            },
            ActionKind::AdSetConsistencyGuid => (
                ActionKind::AdSetConsistencyGuid,
                Some(before_text("consistency_guid").unwrap_or_default()),
                Vec::new(),
                format!(
                    "undo {}: restore the mS-DS-ConsistencyGuid of {target}",
                    record.action_id
                ),
            ),
            ActionKind::AdAddProxyAddress => {
                not_reversible.push(format!(
                    "{} added {} to {target}: remove it by hand if it must go (hardmatch only adds addresses)",
                    record.action_id,
                    original.value.as_deref().unwrap_or_default()
                ));
                continue;
            }
            ActionKind::AdMoveOutOfScope | ActionKind::AdMoveIntoScope => {
                not_reversible.push(format!(
                    "{} moved {target}: move it back by hand",
                    record.action_id
                ));
                continue;
            }
            ActionKind::TriggerSync => {
                not_reversible.push(format!(
                    "{} ran a sync cycle: run `hardmatch sync` after the undo so the directory catches up",
                    record.action_id
                ));
                continue;
            }
        };
        let precondition = if checks.is_empty() {
            None
        } else {
            Some(precondition_of(checks))
        };
        actions.push(PlanAction {
            id: format!("u{}", actions.len() + 1),
            kind,
            target: original.target.clone(),
            value,
            reason,
            evidence: Vec::new(),
            depends_on: Vec::new(),
            irreversible: false,
            precondition,
            for_user: original.for_user.clone(),
        });
    }
    (actions, not_reversible)
}

fn precondition_of(checks: Vec<Check>) -> Precondition {
    // The fingerprint is for reading at a glance; undo preconditions are never compared by
    // it, so the checks' JSON stands in for the planner's hash.
    let fingerprint = serde_json::to_string(&checks).unwrap_or_default();
    Precondition {
        checks,
        fingerprint,
    }
}

/// One planned user's verdict.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Verdict {
    /// The AD user's DN.
    pub user: String,
    pub target_id: String,
    /// `linked`, `pending` (changes made, waiting for a sync cycle) or `failed`.
    pub status: String,
    pub problems: Vec<String>,
    pub next_step: Option<String>,
}

/// Checks that each planned link took effect: the target holds the ImmutableID and is
/// synced, the duplicates are gone, and no provisioning error is left.
pub async fn verify<C: CloudPort>(plan: &Plan, cloud: &C) -> Result<Vec<Verdict>, ExecutorError> {
    // Every target, then every duplicate, read up front in bulk (20 per request where the
    // port can), not one or two requests per user.
    let targets: Vec<String> = plan
        .users
        .iter()
        .map(|user| user.target_id.clone())
        .collect();
    let mut seen = HashSet::new();
    let duplicates: Vec<String> = plan
        .actions
        .iter()
        .filter(|action| action.kind.removes_a_user())
        .filter_map(|action| action.target.id.clone())
        .filter(|id| seen.insert(id.clone()))
        .collect();
    let mut reads: HashMap<String, CloudRead> = HashMap::new();
    for (ids, likely) in [
        (&targets, LikelyPlace::Active),
        (&duplicates, LikelyPlace::RecycleBin),
    ] {
        for (id, read) in ids.iter().zip(cloud.read_many(ids, likely).await) {
            reads.insert(id.clone(), read?);
        }
    }
    let read = |id: &str| {
        reads
            .get(id)
            .cloned()
            .ok_or_else(|| ExecutorError::Read(PortError::new(format!("no answer for {id}"))))
    };
    let mut verdicts = Vec::new();
    for user in &plan.users {
        let mut problems = Vec::new();
        let mut unsynced = false;
        let mut not_set = false;
        match read(&user.target_id)? {
            CloudRead::Active(state) => {
                let anchor = state
                    .get("onPremisesImmutableId")
                    .and_then(serde_json::Value::as_str);
                if anchor != Some(user.immutable_id.as_str()) {
                    not_set = true;
                    problems.push(format!(
                        "{} holds ImmutableID {}, not {}",
                        user.target_user_principal_name,
                        anchor.unwrap_or("none"),
                        user.immutable_id
                    ));
                } else if state.get("onPremisesSyncEnabled") != Some(&serde_json::Value::Bool(true))
                {
                    unsynced = true;
                    problems.push(format!(
                        "{} holds the ImmutableID but no sync cycle has matched it yet",
                        user.target_user_principal_name
                    ));
                }
                if let Some(errors) = state
                    .get("onPremisesProvisioningErrors")
                    .and_then(serde_json::Value::as_array)
                    && !errors.is_empty()
                {
                    problems.push(format!(
                        "{} has provisioning errors: {}",
                        user.target_user_principal_name,
                        serde_json::Value::Array(errors.clone())
                    ));
                }
            }
            CloudRead::Deleted(_) => problems.push(format!(
                "the target {} is in the recycle bin",
                user.target_user_principal_name
            )),
            CloudRead::Absent => problems.push(format!(
                "the target {} no longer exists",
                user.target_user_principal_name
            )),
        }
        let removals = plan.actions.iter().filter(|action| {
            action.for_user.as_deref() == Some(user.distinguished_name.as_str())
                && action.kind.removes_a_user()
        });
        let mut checked = HashSet::new();
        for removal in removals {
            let Some(id) = removal.target.id.as_deref() else {
                continue;
            };
            let purges = plan.actions.iter().any(|action| {
                action.kind == ActionKind::PurgeDeleted && action.target.id.as_deref() == Some(id)
            });
            if !checked.insert(id) {
                continue;
            }
            match read(id)? {
                CloudRead::Active(_) => problems.push(format!(
                    "the duplicate {} is still active",
                    describe_target(removal)
                )),
                CloudRead::Deleted(_) if purges => problems.push(format!(
                    "the duplicate {} is still in the recycle bin, reserving the ImmutableID",
                    describe_target(removal)
                )),
                _ => {}
            }
        }
        let (status, next_step) = if problems.is_empty() {
            ("linked", None)
        } else if unsynced && problems.len() == 1 {
            (
                "pending",
                Some("run a sync cycle: `hardmatch sync --wait`, then verify again".to_owned()),
            )
        } else if not_set || problems.len() > 1 {
            (
                "failed",
                Some("see `hardmatch history` for the run's failed or stale actions; `hardmatch apply --resume` finishes an interrupted run, a new plan handles what changed".to_owned()),
            )
        } else {
            (
                "failed",
                Some("fix what is named above, then make a new plan".to_owned()),
            )
        };
        verdicts.push(Verdict {
            user: user.distinguished_name.clone(),
            target_id: user.target_id.clone(),
            status: status.to_owned(),
            problems,
            next_step,
        });
    }
    Ok(verdicts)
}

/// Waits until `organization.onPremisesLastSyncDateTime` moves past `previous` (a new cycle
/// completed); returns the new value.
pub async fn wait_for_sync<C: CloudPort>(
    cloud: &C,
    previous: Option<&str>,
    timeout: Duration,
    interval: Duration,
) -> Result<String, ExecutorError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let last = cloud.last_sync().await?;
        if let Some(last) = &last
            && is_later_sync(previous, last)
        {
            return Ok(last.clone());
        }
        if tokio::time::Instant::now() + interval > deadline {
            return Err(ExecutorError::SyncTimeout {
                seconds: timeout.as_secs(),
                last: last.unwrap_or_else(|| "never".to_owned()),
            });
        }
        tokio::time::sleep(interval).await;
    }
}

/// Whether `last` records a cycle after `previous`, both as the tenant reported them: a
/// later instant, never merely a different text (a replica that has not seen the last
/// cycle yet answers an older value, and the same instant may be written differently).
/// Text that does not parse falls back to inequality.
fn is_later_sync(previous: Option<&str>, last: &str) -> bool {
    let Some(previous) = previous else {
        return true;
    };
    let parse = |text: &str| {
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
    };
    match (parse(previous), parse(last)) {
        (Some(previous), Some(last)) => last > previous,
        _ => previous != last,
    }
}

#[cfg(test)]
mod sync_tests {
    use super::is_later_sync;

    #[test]
    fn only_a_later_instant_is_a_new_cycle() {
        assert!(is_later_sync(None, "2026-11-22T05:00:00Z"));
        assert!(is_later_sync(
            Some("2026-11-22T05:00:00Z"),
            "2026-11-22T05:00:01Z"
        ));
        // An older answer (a lagging replica) and the same instant written otherwise.
        assert!(!is_later_sync(
            Some("2026-11-22T05:00:01Z"),
            "2026-11-22T05:00:00Z"
        ));
        assert!(!is_later_sync(
            Some("2026-11-22T05:00:00Z"),
            "2026-11-22T05:00:00.000Z"
        ));
        assert!(!is_later_sync(
            Some("2026-11-22T06:00:00+01:00"),
            "2026-11-22T05:00:00Z"
        ));
    }
}
