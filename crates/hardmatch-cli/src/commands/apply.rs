//! `hardmatch apply`, `undo`, `sync`, `verify` and `history`: the executor's commands.
//!
//! These are the commands that change a tenant, so they ask before they act (the typed
//! tenant domain for destructive plans, and separately for purges), refuse to run unattended
//! without `--yes`, and show every action's state as it changes. The journal lives in a
//! workspace directory, `.hardmatch/` by default, which keeps itself out of git.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use hardmatch_core::plan::{ActionKind, Plan, PlanAction};
use hardmatch_core::sync::SyncScope;
use hardmatch_executor::adapters::{
    CloudSyncJob, CommandSync, GraphCloud, LdapDirectory, SnapshotDirectory,
};
use hardmatch_executor::journal::{ActionState, RunRecord};
use hardmatch_executor::ports::{
    AdWrite, CloudPort as _, DirectoryPort, NoDirectory, PortError, Sent, SyncPort,
};
use hardmatch_executor::workspace::Workspace;
use hardmatch_executor::{ExecutorError, Observer, Ports, RunOptions, RunSummary};
use hardmatch_graph::GraphClient;

use crate::ExitStatus;
use crate::args::{
    AdSourceArgs, ApplyArgs, HistoryArgs, SyncArgs, SyncEngineArgs, SyncEngineChoice,
    TenantSourceArgs, UndoArgs, VerifyArgs, WorkspaceArgs,
};
use crate::commands::plan::read_plan;
use crate::error::Hinted;
use crate::output::{Visibility, write_atomically};
use crate::printer::Printer;
use crate::settings::env_names;
use crate::sources::{
    AdInput, Context, TenantInput, graph_error, load_ad, resolve_ad, resolve_tenant, runtime,
};
use crate::table;

const DEFAULT_WORKSPACE: &str = ".hardmatch";

fn executor_error(error: ExecutorError) -> anyhow::Error {
    match error.hint() {
        Some(hint) => Hinted::new(error.to_string(), hint).into(),
        None => error.into(),
    }
}

fn workspace_path(arguments: &WorkspaceArgs, context: &Context) -> PathBuf {
    arguments
        .workspace
        .clone()
        .or_else(|| {
            context
                .environment
                .first(env_names::WORKSPACE)
                .map(PathBuf::from)
        })
        .or_else(|| context.profile.workspace.clone())
        .unwrap_or_else(|| PathBuf::from(DEFAULT_WORKSPACE))
}

fn open_workspace(arguments: &WorkspaceArgs, context: &Context) -> anyhow::Result<Workspace> {
    let path = workspace_path(arguments, context);
    let workspace = Workspace::open(&path).map_err(|error| match error.hint() {
        Some(hint) => anyhow::Error::new(Hinted::new(error.to_string(), hint)),
        None => error.into(),
    })?;
    // The journal names users and tenants: keep it out of any repository it sits in.
    let ignore = path.join(".gitignore");
    if !ignore.exists() {
        let _ = std::fs::write(&ignore, "*\n");
    }
    Ok(workspace)
}

fn operator(context: &Context) -> String {
    context
        .environment
        .get("USER")
        .or_else(|| context.environment.get("USERNAME"))
        .unwrap_or_else(|| "unknown".to_owned())
}

async fn connect_graph(
    arguments: &TenantSourceArgs,
    context: &Context,
) -> anyhow::Result<GraphClient> {
    match resolve_tenant(arguments, context)? {
        TenantInput::Live(settings) => GraphClient::connect(*settings).await.map_err(graph_error),
        TenantInput::Snapshot(_) => Err(Hinted::new(
            "this command changes or checks the live tenant; a snapshot cannot be written to",
            "pass the sign-in flags instead of --tenant-snapshot (--tenant-id, --client-id, \
             --client-secret-env or --certificate, or --device-code)",
        )
        .into()),
    }
}

/// The AD port: a live directory when AD source flags were given; an AD snapshot file for
/// rehearsals against the emulator (its writes are saved back to the file, so the
/// emulator's next cycle sees them); else none.
enum CliDirectory {
    Live(Box<LdapDirectory>),
    Rehearsal {
        directory: SnapshotDirectory,
        snapshot: Box<hardmatch_core::ad::AdSnapshot>,
        path: PathBuf,
    },
    None(NoDirectory),
}

impl DirectoryPort for CliDirectory {
    async fn read(
        &self,
        target: &hardmatch_core::plan::ActionTarget,
    ) -> Result<Option<serde_json::Value>, PortError> {
        match self {
            Self::Live(directory) => directory.read(target).await,
            Self::Rehearsal { directory, .. } => directory.read(target).await,
            Self::None(directory) => directory.read(target).await,
        }
    }

    async fn write(&self, write: &AdWrite) -> Result<Sent, PortError> {
        match self {
            Self::Live(directory) => directory.write(write).await,
            Self::Rehearsal {
                directory,
                snapshot,
                path,
            } => {
                let sent = directory.write(write).await?;
                let mut saved = (**snapshot).clone();
                saved.users = directory.users();
                let text = serde_json::to_vec_pretty(&saved)
                    .map_err(|error| PortError::new(error.to_string()))?;
                write_atomically(path, &text, Visibility::Ordinary).map_err(|error| {
                    PortError::new(format!("cannot save the rehearsal AD snapshot: {error:#}"))
                })?;
                Ok(sent)
            }
            Self::None(directory) => directory.write(write).await,
        }
    }
}

fn has_ad_source(arguments: &AdSourceArgs, context: &Context) -> bool {
    !arguments.ldap_urls.is_empty()
        || context.environment.first(env_names::LDAP_URL).is_some()
        || !context.profile.ldap_url.is_empty()
}

fn directory_port(arguments: &AdSourceArgs, context: &Context) -> anyhow::Result<CliDirectory> {
    if let Some(path) = &arguments.ad_snapshot {
        let snapshot = crate::sources::read_ad_snapshot(path)?;
        context.printer.warning(&format!(
            "rehearsal: AD changes are written to the snapshot `{}`, not to a directory",
            path.display()
        ));
        return Ok(CliDirectory::Rehearsal {
            directory: SnapshotDirectory::new(snapshot.users.clone()),
            snapshot: Box::new(snapshot),
            path: path.clone(),
        });
    }
    if !has_ad_source(arguments, context) {
        return Ok(CliDirectory::None(NoDirectory));
    }
    match resolve_ad(arguments, context)? {
        AdInput::Live(source) => Ok(CliDirectory::Live(Box::new(LdapDirectory::new(source)))),
        _ => Err(Hinted::new(
            "AD actions need a live directory",
            "pass --ldap-url and --base-dn (an export or a snapshot cannot be written to)",
        )
        .into()),
    }
}

/// The sync engines the CLI can start.
enum CliSync<'a> {
    Command(CommandSync),
    CloudSync(CloudSyncJob<'a>),
    Emulator {
        client: reqwest::Client,
        url: String,
        ad: Option<AdInput>,
        scope_ous: Vec<String>,
        context: &'a Context,
    },
    None(hardmatch_executor::ports::NoSync),
}

impl SyncPort for CliSync<'_> {
    async fn trigger(&self, policy: &str) -> Result<Sent, PortError> {
        match self {
            Self::Command(command) => command.trigger(policy).await,
            Self::CloudSync(job) => job.trigger(policy).await,
            Self::None(none) => none.trigger(policy).await,
            Self::Emulator {
                client,
                url,
                ad,
                scope_ous,
                context,
            } => {
                let users = match ad {
                    Some(AdInput::Live(source)) => Some(
                        hardmatch_ad::read_users(source, &hardmatch_ad::NoReporter)
                            .await?
                            .users,
                    ),
                    Some(other) => Some(
                        load_ad(other, context)
                            .map_err(|error| PortError::new(format!("{error:#}")))?
                            .users,
                    ),
                    None => None,
                };
                let scope = if scope_ous.is_empty() {
                    SyncScope::All
                } else {
                    SyncScope::OrganizationalUnits {
                        include: scope_ous.clone(),
                        exclude: Vec::new(),
                    }
                };
                let mut body = serde_json::json!({ "scope": scope });
                if let Some(users) = users {
                    body["ad_users"] = serde_json::to_value(users)
                        .map_err(|error| PortError::new(error.to_string()))?;
                }
                let address = format!("{}/_emulator/sync", url.trim_end_matches('/'));
                let response = client
                    .post(&address)
                    .json(&body)
                    .send()
                    .await
                    .map_err(|error| {
                        PortError::new(format!("cannot reach the emulator at `{address}`: {error}"))
                    })?;
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                if !status.is_success() {
                    return Err(PortError::new(format!(
                        "the emulator refused the sync cycle ({status}): {text}"
                    )));
                }
                Ok(Sent {
                    request_id: None,
                    response: serde_json::from_str(&text).ok(),
                })
            }
        }
    }
}

fn sync_port<'a>(
    engine: Option<SyncEngineChoice>,
    arguments: &SyncEngineArgs,
    tenant: &TenantSourceArgs,
    ad: &AdSourceArgs,
    client: Option<&'a GraphClient>,
    context: &'a Context,
) -> anyhow::Result<CliSync<'a>> {
    let engine = match engine {
        Some(engine) => engine,
        None if arguments.sync_command.is_some() => SyncEngineChoice::Connect,
        None => return Ok(CliSync::None(hardmatch_executor::ports::NoSync)),
    };
    Ok(match engine {
        SyncEngineChoice::Connect => {
            let command = match &arguments.sync_command {
                Some(command) => CommandSync {
                    program: if cfg!(windows) { "cmd" } else { "sh" }.to_owned(),
                    arguments: vec![
                        if cfg!(windows) { "/C" } else { "-c" }.to_owned(),
                        command.clone(),
                    ],
                    timeout: Duration::from_secs(300),
                },
                None => CommandSync::local_default().ok_or_else(|| {
                    Hinted::new(
                        "Entra Connect's cycle can only be started on the Connect server itself",
                        "pass --sync-command with a remote command, e.g. --sync-command \
                         \"ssh connect01 powershell -NoProfile -Command 'Start-ADSyncSyncCycle -PolicyType Delta'\"",
                    )
                })?,
            };
            CliSync::Command(command)
        }
        SyncEngineChoice::CloudSync => {
            let (Some(service_principal_id), Some(job_id)) = (
                arguments.service_principal_id.clone(),
                arguments.job_id.clone(),
            ) else {
                return Err(Hinted::new(
                    "Cloud Sync needs its service principal and job",
                    "pass --service-principal-id and --job-id (Entra admin center → Cloud Sync → \
                     the configuration's properties)",
                )
                .into());
            };
            let Some(client) = client else {
                return Err(anyhow::anyhow!("Cloud Sync needs a tenant connection"));
            };
            CliSync::CloudSync(CloudSyncJob {
                client,
                service_principal_id,
                job_id,
            })
        }
        SyncEngineChoice::Emulator => {
            let url = arguments
                .emulator_url
                .clone()
                .or_else(|| tenant.graph_url.clone())
                .ok_or_else(|| {
                    Hinted::new(
                        "no emulator URL",
                        "pass --emulator-url with the URL `hardmatch emulator` printed",
                    )
                })?;
            let ad =
                if ad.ldap_urls.is_empty() && ad.ad_snapshot.is_none() && ad.ad_export.is_none() {
                    None
                } else {
                    Some(resolve_ad(ad, context)?)
                };
            CliSync::Emulator {
                client: crate::commands::emulator::control_client(tenant.graph_ca_cert.as_deref())?,
                url,
                ad,
                scope_ous: arguments.scope_ous.clone(),
                context,
            }
        }
    })
}

/// Prints each action's state as it changes, on stderr.
struct LiveStatus<'a> {
    printer: &'a Printer,
}

impl Observer for LiveStatus<'_> {
    fn action(&self, action: &PlanAction, state: ActionState, detail: Option<&str>) {
        let target = hardmatch_executor::engine::describe_target(action);
        let line = format!(
            "{:<4} {:<24} {:<10} {target}{}",
            action.id,
            action.kind.name(),
            state.name(),
            detail
                .map(|detail| format!(": {detail}"))
                .unwrap_or_default()
        );
        match state {
            ActionState::Failed | ActionState::Stale => self.printer.warning(&line),
            _ => self.printer.status(&line),
        }
    }
}

fn ask(printer: &Printer, question: &str) -> anyhow::Result<String> {
    printer.notice(question);
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .context("cannot read the answer from the terminal")?;
    Ok(answer.trim().to_owned())
}

/// How the operator confirmed, from the command line.
#[derive(Clone, Copy)]
struct Confirmation {
    yes: bool,
    /// Purges cannot be undone, so `--yes` alone never confirms them.
    allow_purge: bool,
}

/// Asks for what the plan does: `yes` for a plan that deletes nothing; the tenant's domain
/// for destructive plans; and, for purges, the number of purges again.
fn confirm(
    plan: &Plan,
    domain: &str,
    confirmation: Confirmation,
    printer: &Printer,
    verb: &str,
) -> anyhow::Result<()> {
    let purges = plan
        .actions
        .iter()
        .filter(|action| action.kind == ActionKind::PurgeDeleted)
        .count();
    if confirmation.yes {
        if purges > 0 && !confirmation.allow_purge {
            return Err(Hinted::new(
                format!(
                    "the plan purges {purges} user(s) permanently, and --yes alone does not confirm purges; nothing was changed"
                ),
                "review the purges with `hardmatch show`, then add --allow-purge to --yes",
            )
            .into());
        }
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Hinted::new(
            format!("`hardmatch {verb}` changes the tenant and there is no terminal to confirm on"),
            "review the plan with `hardmatch show`, then pass --yes to run without asking",
        )
        .into());
    }
    let deletes = plan
        .actions
        .iter()
        .filter(|action| action.kind.removes_a_user())
        .count();
    let refused = || -> anyhow::Error {
        Hinted::new(
            "not confirmed; nothing was changed",
            "run it again when ready",
        )
        .into()
    };
    if deletes == 0 {
        if !ask(printer, "Apply these changes? Type `yes` to continue:")?
            .eq_ignore_ascii_case("yes")
        {
            return Err(refused());
        }
        return Ok(());
    }
    let answer = ask(
        printer,
        &format!(
            "This deletes {deletes} cloud object(s) in {domain}. Type the tenant's domain to continue:"
        ),
    )?;
    if !answer.eq_ignore_ascii_case(domain) {
        return Err(refused());
    }
    if purges > 0 {
        let answer = ask(
            printer,
            &format!(
                "{purges} of them are PURGED: permanent, no undo, mailboxes and OneDrive lost. Type `purge {purges}` to continue:"
            ),
        )?;
        if answer != format!("purge {purges}") {
            return Err(refused());
        }
    }
    Ok(())
}

/// The signed-in tenant's id and the domain an admin types to confirm, from one read of
/// `/organization`.
struct TenantIdentity {
    id: Option<String>,
    domain: String,
}

async fn tenant_identity(client: &GraphClient) -> TenantIdentity {
    match client.organization().await {
        Ok(organization) => TenantIdentity {
            domain: organization
                .verified_domains
                .iter()
                .find(|domain| domain.is_initial)
                .map_or_else(|| organization.id.clone(), |domain| domain.name.clone()),
            id: Some(organization.id),
        },
        Err(_) => TenantIdentity {
            id: None,
            domain: "the tenant".to_owned(),
        },
    }
}

/// Refuses to run a plan made for another tenant than the one signed in to (ids compare
/// case-insensitively); a tenant whose id cannot be read is refused too, since nothing
/// then says it is the right one.
fn refuse_other_tenant(
    planned_for: &str,
    signed_in: Option<&str>,
    domain: &str,
) -> anyhow::Result<()> {
    if planned_for.is_empty() {
        return Ok(());
    }
    match signed_in {
        Some(id) if id.eq_ignore_ascii_case(planned_for) => Ok(()),
        Some(id) => Err(Hinted::new(
            format!(
                "the plan was made for tenant {planned_for}, but this sign-in is to tenant {id} \
                 ({domain}); nothing was changed"
            ),
            "sign in to the tenant the plan was made for (--tenant-id), or make a new plan \
             from this tenant with `hardmatch plan`",
        )
        .into()),
        None => Err(Hinted::new(
            format!(
                "cannot confirm that the signed-in tenant is {planned_for}, the plan's: \
                 /organization could not be read; nothing was changed"
            ),
            "grant the app Organization.Read.All (or sign in as a user who can read the \
             organization), then run the command again",
        )
        .into()),
    }
}

fn show_summary(summary: &RunSummary, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let rows: Vec<Vec<String>> = summary
        .actions
        .iter()
        .map(|action| {
            vec![
                action.action_id.clone(),
                action.kind.clone(),
                action.state.name().to_owned(),
                action.target.clone(),
                action.detail.clone().unwrap_or_default(),
            ]
        })
        .collect();
    printer.data(&table::render(
        &["ACTION", "KIND", "STATE", "TARGET", "DETAIL"],
        &rows,
    ))?;
    for line in &summary.not_reversible {
        printer.warning(&format!("not reversible: {line}"));
    }
    printer.status(&format!(
        "run {}: {} ({} succeeded, {} failed, {} stale, {} skipped)",
        summary.run_id,
        summary.outcome,
        summary.count(ActionState::Succeeded),
        summary.count(ActionState::Failed),
        summary.count(ActionState::Stale),
        summary.count(ActionState::Skipped),
    ));
    if summary.outcome == "completed" {
        Ok(ExitStatus::Success)
    } else {
        printer.notice(&format!(
            "hint: `hardmatch history` and the run's journal say why; `hardmatch verify {}` shows what took effect",
            summary.run_id
        ));
        Ok(ExitStatus::Failure)
    }
}

/// The cloud, directory and sync adapters that `apply` and `undo` run a plan through, built
/// once from the command's flags around the signed-in Graph client.
struct LiveAdapters<'a> {
    cloud: GraphCloud,
    directory: CliDirectory,
    sync: CliSync<'a>,
}

impl<'a> LiveAdapters<'a> {
    fn new(
        client: &'a GraphClient,
        engine: Option<SyncEngineChoice>,
        sync: &SyncEngineArgs,
        tenant: &TenantSourceArgs,
        ad: &AdSourceArgs,
        context: &'a Context,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            cloud: GraphCloud::new(client.clone()),
            directory: directory_port(ad, context)?,
            sync: sync_port(engine, sync, tenant, ad, Some(client), context)?,
        })
    }

    fn ports(&self) -> Ports<'_, GraphCloud, CliDirectory, CliSync<'a>> {
        Ports {
            cloud: &self.cloud,
            directory: &self.directory,
            sync: &self.sync,
        }
    }
}

pub(crate) fn apply(arguments: &ApplyArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let plan = match &arguments.plan {
        Some(path) => Some(read_plan(path)?),
        None => None,
    };
    let mut workspace = open_workspace(&arguments.workspace, context)?;
    let printer = &context.printer;
    runtime()?.block_on(async {
        let client = connect_graph(&arguments.tenant, context).await?;
        let adapters = LiveAdapters::new(
            &client,
            arguments.sync_engine,
            &arguments.sync,
            &arguments.tenant,
            &arguments.ad,
            context,
        )?;
        let ports = adapters.ports();
        let observer = LiveStatus { printer };
        let tenant = tenant_identity(&client).await;
        // The plan's tenant, or for a resume the interrupted run's: a plan only ever runs
        // against the tenant it was made from.
        let planned_for = match &plan {
            Some(plan) => plan.tenant_id.clone(),
            None => match workspace
                .journal()
                .unfinished_runs()
                .map_err(|error| executor_error(error.into()))?
                .first()
            {
                Some(run) => {
                    hardmatch_executor::engine::recorded_plan(&workspace, run)
                        .map_err(executor_error)?
                        .tenant_id
                }
                None => String::new(),
            },
        };
        refuse_other_tenant(&planned_for, tenant.id.as_deref(), &tenant.domain)?;
        let domain = tenant.domain;
        let summary = match plan {
            Some(plan) => {
                printer.data(&plan_before_confirmation(&plan))?;
                confirm(
                    &plan,
                    &domain,
                    Confirmation {
                        yes: arguments.yes,
                        allow_purge: arguments.allow_purge,
                    },
                    printer,
                    "apply",
                )?;
                let options = RunOptions {
                    operator: operator(context),
                    tenant: domain.clone(),
                };
                hardmatch_executor::apply(&plan, &mut workspace, &ports, &options, &observer)
                    .await
                    .map_err(executor_error)?
            }
            None => hardmatch_executor::resume(&mut workspace, &ports, &observer)
                .await
                .map_err(executor_error)?,
        };
        show_summary(&summary, printer)
    })
}

pub(crate) fn undo(arguments: &UndoArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let mut workspace = open_workspace(&arguments.workspace, context)?;
    let printer = &context.printer;
    runtime()?.block_on(async {
        let client = connect_graph(&arguments.tenant, context).await?;
        let adapters = LiveAdapters::new(
            &client,
            arguments.sync_engine,
            &arguments.sync,
            &arguments.tenant,
            &arguments.ad,
            context,
        )?;
        let ports = adapters.ports();
        let plan = hardmatch_executor::engine::recorded_plan(&workspace, &arguments.run)
            .map_err(executor_error)?;
        let records = workspace
            .journal()
            .actions(&arguments.run)
            .map_err(|error| executor_error(error.into()))?;
        let (actions, not_reversible) = hardmatch_executor::engine::undo_actions(
            &plan,
            &records,
            &hardmatch_executor::engine::now(),
        );
        for action in &actions {
            printer.status(&format!("will: {}", action.reason));
        }
        for line in &not_reversible {
            printer.warning(&format!("cannot undo: {line}"));
        }
        let mut preview = plan.clone();
        preview.actions = actions;
        let domain = tenant_identity(&client).await.domain;
        confirm(
            &preview,
            &domain,
            Confirmation {
                yes: arguments.yes,
                allow_purge: false,
            },
            printer,
            "undo",
        )?;
        let options = RunOptions {
            operator: operator(context),
            tenant: domain,
        };
        let summary = hardmatch_executor::undo(
            &arguments.run,
            &mut workspace,
            &ports,
            &options,
            &LiveStatus { printer },
        )
        .await
        .map_err(executor_error)?;
        show_summary(&summary, printer)
    })
}

pub(crate) fn sync(arguments: &SyncArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let printer = &context.printer;
    runtime()?.block_on(async {
        // Graph is needed to wait (the tenant says when a cycle completed) and for Cloud
        // Sync; Connect and the emulator start without it.
        let needs_graph = arguments.wait || arguments.engine == SyncEngineChoice::CloudSync;
        let client = if needs_graph {
            Some(connect_graph(&arguments.tenant, context).await?)
        } else {
            None
        };
        let cloud = client.clone().map(GraphCloud::new);
        let previous = match &cloud {
            Some(cloud) if arguments.wait => cloud.last_sync().await.map_err(port_error)?,
            _ => None,
        };
        let port = sync_port(
            Some(arguments.engine),
            &arguments.sync,
            &arguments.tenant,
            &arguments.ad,
            client.as_ref(),
            context,
        )?;
        port.trigger("Delta").await.map_err(port_error)?;
        printer.status("sync cycle started");
        if let (true, Some(cloud)) = (arguments.wait, &cloud) {
            let interval = if arguments.engine == SyncEngineChoice::Emulator {
                Duration::from_millis(200)
            } else {
                Duration::from_secs(30)
            };
            let last = hardmatch_executor::wait_for_sync(
                cloud,
                previous.as_deref(),
                Duration::from_secs(arguments.timeout),
                interval,
            )
            .await
            .map_err(executor_error)?;
            printer.data_line(&format!("last sync: {last}"))?;
        }
        Ok(ExitStatus::Success)
    })
}

fn port_error(error: PortError) -> anyhow::Error {
    match error.hint() {
        Some(hint) => Hinted::new(error.message.clone(), hint).into(),
        None => anyhow::anyhow!(error.message),
    }
}

pub(crate) fn verify(arguments: &VerifyArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let printer = &context.printer;
    let plan = if Path::new(&arguments.target).is_file() {
        read_plan(Path::new(&arguments.target))?
    } else {
        let workspace = open_workspace(&arguments.workspace, context)?;
        hardmatch_executor::engine::recorded_plan(&workspace, &arguments.target)
            .map_err(executor_error)?
    };
    runtime()?.block_on(async {
        let client = connect_graph(&arguments.tenant, context).await?;
        let cloud = GraphCloud::new(client);
        let verdicts = hardmatch_executor::verify(&plan, &cloud)
            .await
            .map_err(executor_error)?;
        if arguments.json {
            for verdict in &verdicts {
                printer.data_line(&serde_json::to_string(verdict)?)?;
            }
        } else {
            printer.data(&verdict_table(&verdicts))?;
        }
        Ok(
            if verdicts.iter().all(|verdict| verdict.status == "linked") {
                ExitStatus::Success
            } else {
                ExitStatus::Failure
            },
        )
    })
}

pub(crate) fn history(arguments: &HistoryArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let workspace = open_workspace(&arguments.workspace, context)?;
    let runs = workspace
        .journal()
        .runs()
        .map_err(|error| executor_error(error.into()))?;
    let printer = &context.printer;
    let counts = |run: &RunRecord| {
        run.action_counts
            .iter()
            .map(|(state, count)| format!("{count} {state}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if arguments.json {
        for run in &runs {
            printer.data_line(&serde_json::to_string(run)?)?;
        }
    } else if arguments.csv {
        let mut text = String::from(
            "id,kind,undoes_run,operator,tenant,started_at,finished_at,outcome,actions\n",
        );
        for run in &runs {
            let fields = [
                run.id.clone(),
                run.kind.clone(),
                run.undoes_run.clone().unwrap_or_default(),
                run.operator.clone(),
                run.tenant.clone(),
                run.started_at.clone(),
                run.finished_at.clone().unwrap_or_default(),
                run.outcome
                    .clone()
                    .unwrap_or_else(|| "unfinished".to_owned()),
                counts(run),
            ];
            text.push_str(
                &fields
                    .iter()
                    .map(|field| table::csv_field(field))
                    .collect::<Vec<_>>()
                    .join(","),
            );
            text.push('\n');
        }
        printer.data(&text)?;
    } else {
        let rows: Vec<Vec<String>> = runs
            .iter()
            .map(|run| {
                vec![
                    run.id.clone(),
                    run.kind.clone(),
                    run.operator.clone(),
                    run.started_at.clone(),
                    run.outcome
                        .clone()
                        .unwrap_or_else(|| "unfinished".to_owned()),
                    counts(run),
                ]
            })
            .collect();
        printer.data(&table::render(
            &["RUN", "KIND", "OPERATOR", "STARTED", "OUTCOME", "ACTIONS"],
            &rows,
        ))?;
    }
    Ok(ExitStatus::Success)
}

/// What `verify` found per planned user, as `verify` and the demo print it.
pub(crate) fn verdict_table(verdicts: &[hardmatch_executor::Verdict]) -> String {
    let rows: Vec<Vec<String>> = verdicts
        .iter()
        .map(|verdict| {
            vec![
                verdict.user.clone(),
                verdict.status.clone(),
                verdict.problems.join("; "),
                verdict.next_step.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table::render(&["USER", "STATUS", "PROBLEMS", "NEXT STEP"], &rows)
}

/// The plan as `apply` shows it before asking: whole for a few users; for thousands, its
/// counts and first entries, not pages to scroll past to the prompt.
fn plan_before_confirmation(plan: &Plan) -> String {
    hardmatch_core::plan::render_show_up_to(plan, crate::commands::plan::SUMMARY_ENTRIES)
}

#[cfg(test)]
mod tests {
    use hardmatch_core::plan::PlanPolicy;
    use serde_json::json;

    use super::*;

    fn plan_of(actions: usize) -> Plan {
        let actions: Vec<serde_json::Value> = (1..=actions)
            .map(|n| {
                json!({
                    "id": format!("a{n}"),
                    "kind": "set_immutable_id",
                    "target": {
                        "directory": "cloud",
                        "id": format!("c{n}"),
                        "userPrincipalName": format!("user{n}@contoso.com"),
                    },
                    "value": "EHBye9YB8Uehb2ZaPpx3QA==",
                    "reason": "link",
                })
            })
            .collect();
        serde_json::from_value(json!({
            "format_version": 1,
            "generated_at": "2026-12-07T00:00:00Z",
            "fingerprint": "inputs",
            "actions_fingerprint": "actions",
            "tenant_id": "tenant",
            "password_hash_sync": null,
            "policy": PlanPolicy::default(),
            "users": [],
            "skipped": [],
            "actions": actions,
        }))
        .unwrap()
    }

    #[test]
    fn a_large_plan_is_shown_shortened_before_the_confirmation() {
        let shown = plan_before_confirmation(&plan_of(60));
        assert!(
            shown.contains("by kind:      set_immutable_id 60"),
            "{shown}"
        );
        assert!(shown.contains("user50@contoso.com"), "{shown}");
        assert!(!shown.contains("user51@contoso.com"), "{shown}");
        assert!(shown.contains("... and 10 more actions"), "{shown}");
        // A plan within the limit is shown whole, as `show` renders it.
        let small = plan_of(50);
        assert_eq!(
            plan_before_confirmation(&small),
            hardmatch_core::plan::render_show(&small)
        );
    }
}
