//! `hardmatch plan` and `hardmatch show`: the planner's value written to a file for review,
//! and that file rendered for a change-approval reader. All decisions are the core's.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Seek as _, Write as _};
use std::path::Path;

use anyhow::Context as _;
use hardmatch_core::diagnose::{DiagnoseOptions, diagnose_with};
use hardmatch_core::plan::{
    ActionKind, DraftedPlan, LateFingerprint, MappingEntry, Plan, PlanAction, PlanFileError,
    PlanInput, PlanPolicy, RoutePreference, Selection, draft_plan, render_powershell,
    render_show_in_blocks,
};
use hardmatch_core::sync::{CloudIndex, SyncReportDetail};
use hardmatch_core::tenant::{SignInActivity, TenantSnapshot};
use hardmatch_graph::GraphError;

use crate::ExitStatus;
use crate::args::{PlanArgs, PolicyArgs, RouteChoice, SelectionArgs, ShowArgs};
use crate::commands::status::{diagnose_options, load_directories, release_at_exit};
use crate::error::Hinted;
use crate::output::{Visibility, write_atomically_with};
use crate::progress::Counter;
use crate::settings::{PolicyProfile, pick};
use crate::sources::{
    Context, LiveTenant, TenantInput, load_ad, read_live_tenant, resolve_ad, resolve_tenant,
};
use crate::table;

/// How many users, actions and users not planned `plan` and `apply` list; `show` lists
/// them all.
pub(crate) const SUMMARY_ENTRIES: usize = 50;

pub(crate) fn run(arguments: &PlanArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let selection = selection(&arguments.selection)?;
    let policy = policy(&arguments.policy, &context.profile.policy);
    let ad_input = resolve_ad(&arguments.ad, context)?;
    let tenant_input = resolve_tenant(&arguments.tenant, context)?;
    let (ad, mut tenant, live) = match &tenant_input {
        TenantInput::Live(settings) => {
            let ad = load_ad(&ad_input, context)?;
            let (tenant, live) = read_live_tenant(settings, context)?;
            (ad, tenant, Some(live))
        }
        TenantInput::Snapshot(_) => {
            let (ad, tenant) = load_directories(&ad_input, &tenant_input, context)?;
            (ad, tenant, None)
        }
    };
    // The planner reads the prediction's decisions, not its report's records.
    let options = DiagnoseOptions {
        sync_report: SyncReportDetail::Summary,
        ..diagnose_options(&arguments.diagnosis, &tenant)
    };
    let generated_at = now_rfc3339();
    let mut asked = BTreeSet::new();
    loop {
        let index = CloudIndex::of(&tenant);
        let diagnosis = diagnose_with(&ad.users, &tenant, &index, &options);
        let input = PlanInput {
            ad_users: &ad.users,
            tenant: &tenant,
            diagnosis: &diagnosis,
            connector_space: options.connector_space.as_ref(),
            selection: &selection,
            policy: &policy,
            generated_at: &generated_at,
        };
        let plan = draft_plan(&input, &index).map_err(|refusal| {
            Hinted::new(
                format!("no plan was made: {refusal}"),
                "check the users named with --user or in --mapping against `hardmatch status`",
            )
        })?;
        // A deletion refused for a recent sign-in can leave another account to delete in
        // its place; that one is read too. Each pass asks only about accounts not asked
        // about before (one Graph no longer finds stays unread), so this ends.
        let read = match &live {
            Some(live) if !arguments.skip_sign_in_read => {
                let deletions = plan.actions_of_kind(ActionKind::SoftDelete);
                let unread = deletions_without_sign_in(deletions, &tenant, &asked);
                if unread.is_empty() {
                    None
                } else {
                    let read = read_sign_ins(live, &unread, context)?;
                    asked.extend(unread);
                    read
                }
            }
            _ => None,
        };
        if let Some(found) = read {
            drop(plan);
            drop((diagnosis, index));
            record_sign_ins(&mut tenant, found);
            continue;
        }
        let summary = with_final_newline(plan.render_show_up_to(SUMMARY_ENTRIES));
        write_plan_file(&plan, &arguments.output)?;
        context.printer.data(&summary)?;
        context.printer.status(&format!(
            "wrote {} actions for {} users ({} skipped) to {}",
            plan.action_count(),
            plan.user_count(),
            plan.skipped().len(),
            arguments.output.display()
        ));
        let status = if plan.has_changes() {
            ExitStatus::Changes
        } else {
            ExitStatus::Success
        };
        // Freed one by one, a million users' plan, diagnosis and index take seconds.
        release_at_exit(plan);
        release_at_exit((diagnosis, index));
        release_at_exit((ad, tenant));
        return Ok(status);
    }
}

/// Writes the plan file, making and encoding it on this core (and a second, for a long
/// plan) while another thread writes it: at a million users the file is over a gigabyte,
/// and the kernel takes about as long to take it in as the encoder to make it. The actions'
/// fingerprint, known only once every action is made, is written last, over the zeros that
/// stand in its place. The file appears whole or not at all.
fn write_plan_file(plan: &DraftedPlan<'_>, path: &Path) -> anyhow::Result<()> {
    /// What the writer is handed: text to append, then the fingerprint, which ends it. A
    /// writer that sees the pieces stop without it was left by a failed encoding, and
    /// refuses to put the file in place.
    enum Written {
        Piece(Vec<u8>),
        Fingerprint(LateFingerprint),
    }
    let (pieces, received) = std::sync::mpsc::sync_channel::<Written>(4);
    let (encoded, written) = std::thread::scope(|scope| {
        let writer = scope.spawn(move || {
            write_atomically_with(path, Visibility::Ordinary, |file| {
                for written in received {
                    match written {
                        Written::Piece(piece) => file.write_all(&piece)?,
                        Written::Fingerprint(late) => {
                            file.seek(std::io::SeekFrom::Start(late.offset))?;
                            return file.write_all(late.text.as_bytes());
                        }
                    }
                }
                Err(std::io::Error::other(
                    "the plan's encoding stopped before its end",
                ))
            })
        });
        let stopped = || std::io::Error::other("the plan file's writer stopped");
        let encoded = plan
            .write_json_in_pieces(Plan::ITEMS_PER_PIECE, |piece| {
                pieces.send(Written::Piece(piece)).map_err(|_| stopped())
            })
            .and_then(|late| {
                pieces
                    .send(Written::Fingerprint(late))
                    .map_err(|_| PlanFileError::Write(stopped()))
            });
        drop(pieces);
        (encoded, writer.join())
    });
    match written {
        // The writer's own error says more than the encoder's "writer stopped".
        Ok(written) => written?,
        // A panic while writing is a bug; carry it on rather than report it as an IO error.
        Err(payload) => std::panic::resume_unwind(payload),
    }
    encoded.context("cannot encode the plan")
}

/// The active accounts the plan deletes whose sign-in activity the tenant read did not
/// carry (a whole-tenant read of it is throttled far below the other reads), leaving out
/// those `asked` about already.
fn deletions_without_sign_in(
    actions: impl IntoIterator<Item = PlanAction>,
    tenant: &TenantSnapshot,
    asked: &BTreeSet<String>,
) -> Vec<String> {
    // The deletions are few and the tenant large: the tenant is looked through once, for
    // them, rather than indexed whole on every pass.
    let deleted: BTreeSet<String> = actions
        .into_iter()
        .filter(|action| action.kind == ActionKind::SoftDelete)
        .filter_map(|action| action.target.id)
        .filter(|id| !asked.contains(id))
        .collect();
    if deleted.is_empty() {
        return Vec::new();
    }
    let mut ids: Vec<String> = tenant
        .users
        .iter()
        .filter(|user| {
            !user.is_deleted()
                && user.sign_in_activity.is_none()
                && deleted.contains(user.id.as_str())
        })
        .map(|user| user.id.to_string())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Reads the sign-in activity of `ids`, by id (`None`: read, and none on record); `None`
/// when Graph refused it (no `AuditLog.Read.All`, or no Entra ID P1/P2), which leaves those
/// deletions resting on licences, mailbox and roles, as the evidence then says.
fn read_sign_ins(
    live: &LiveTenant,
    ids: &[String],
    context: &Context,
) -> anyhow::Result<Option<SignIns>> {
    context.printer.status(&format!(
        "reading the sign-in activity of {} account(s) the plan deletes",
        ids.len()
    ));
    let counter = Counter::new(&context.printer, "accounts");
    counter.set_message("reading sign-in activity:".to_owned());
    let read = live.runtime.block_on(
        live.client
            .sign_in_activity_with_progress(ids, &mut |asked| counter.set_position(asked as u64)),
    );
    counter.finish();
    match read {
        Ok(found) => Ok(Some(found)),
        Err(GraphError::PermissionDenied { message, .. }) => {
            // Graph's message says which of the two is missing.
            context.printer.warning_with_hint(
                &format!(
                    "the sign-in activity of the accounts the plan deletes was not read \
                     (Microsoft Graph: \"{message}\"); their deletions rest on licences, \
                     mailbox and roles"
                ),
                "grant the app registration AuditLog.Read.All with admin consent (the tenant \
                 also needs Microsoft Entra ID P1 or P2), or pass --skip-sign-in-read to plan \
                 without it",
            );
            Ok(None)
        }
        Err(error) => Err(Hinted::new(
            format!("cannot read the sign-in activity of the accounts the plan deletes: {error}"),
            format!(
                "{}; or pass --skip-sign-in-read to plan without it",
                error.hint()
            ),
        )
        .into()),
    }
}

/// Sign-in activity read from Graph, by user id; `None` when read and none is on record.
type SignIns = BTreeMap<String, Option<SignInActivity>>;

/// Puts the sign-in activity read into the tenant's users.
fn record_sign_ins(tenant: &mut TenantSnapshot, mut found: SignIns) {
    for user in &mut tenant.users {
        if let Some(activity) = found.remove(user.id.as_str()) {
            // Read and empty is "none on record", which the evidence tells apart from
            // never read.
            user.sign_in_activity = Some(Box::new(activity.unwrap_or_default()));
        }
    }
}

pub(crate) fn show(arguments: &ShowArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let plan = read_plan(&arguments.plan)?;
    // The JSON and the review are printed as they are made: at a million users each is over
    // a gigabyte.
    if arguments.powershell {
        context
            .printer
            .data(&with_final_newline(render_powershell(&plan)))?;
    } else if arguments.json {
        // The plan file's text, then a blank line.
        plan.write_json_in_pieces(Plan::ITEMS_PER_PIECE, |piece| {
            let text = String::from_utf8(piece).map_err(std::io::Error::other)?;
            context.printer.data(&text)
        })
        .context("cannot encode the plan")?;
        context.printer.data("\n")?;
    } else {
        let mut ends_a_line = true;
        render_show_in_blocks(&plan, |block| {
            ends_a_line = block.ends_with('\n');
            context.printer.data(block)
        })?;
        if !ends_a_line {
            context.printer.data("\n")?;
        }
    }
    Ok(ExitStatus::Success)
}

fn with_final_newline(mut text: String) -> String {
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// Reads a plan file, refusing newer formats and hand edits with the next step. It is
/// parsed as it is read: at a million users its text is 1.3 GB, as large as the plan it
/// parses to, and `show` held both (the parse takes about a second longer from a reader).
/// A file that does not parse is read again whole, which words the error.
pub(crate) fn read_plan(path: &Path) -> anyhow::Result<Plan> {
    let cannot_read = |error: std::io::Error| {
        Hinted::new(
            format!("cannot read the plan `{}`: {error}", path.display()),
            "`hardmatch plan … -o FILE` writes one",
        )
    };
    let file = std::fs::File::open(path).map_err(cannot_read)?;
    let parsed = serde_json::from_reader(std::io::BufReader::with_capacity(1 << 20, file));
    let read = match parsed {
        Ok(plan) => Plan::checked(plan),
        Err(_) => {
            let text = std::fs::read_to_string(path).map_err(cannot_read)?;
            Plan::from_json(&text)
        }
    };
    read.map_err(|error| {
        let hint = match error {
            // Remaking the plan with an older hardmatch is a different plan from the reviewed one.
            PlanFileError::NewerFormat { .. } => {
                "read it with the hardmatch version that wrote it (or a newer one), or make a new plan with this one and review that"
            }
            _ => {
                "make a new plan with `hardmatch plan`; a plan is reviewed as written and never edited"
            }
        };
        Hinted::new(format!("`{}` cannot be used: {error}", path.display()), hint).into()
    })
}

fn selection(arguments: &SelectionArgs) -> anyhow::Result<Selection> {
    if arguments.all_safe {
        return Ok(Selection::AllSafe);
    }
    if let Some(path) = &arguments.mapping {
        return read_mapping(path).map(Selection::Mapping);
    }
    Ok(Selection::Users(arguments.users.clone()))
}

fn policy(arguments: &PolicyArgs, profile: &PolicyProfile) -> PlanPolicy {
    let defaults = PlanPolicy::default();
    let flag = |given: bool, configured: Option<bool>| given || configured.unwrap_or(false);
    PlanPolicy {
        allow_delete_licensed: flag(
            arguments.allow_delete_licensed,
            profile.allow_delete_licensed,
        ),
        allow_delete_mailbox: flag(arguments.allow_delete_mailbox, profile.allow_delete_mailbox),
        allow_delete_privileged: flag(
            arguments.allow_delete_privileged,
            profile.allow_delete_privileged,
        ),
        allow_delete_recent_sign_in: flag(
            arguments.allow_delete_recent_sign_in,
            profile.allow_delete_recently_used,
        ),
        allow_delete_synced: arguments.allow_delete_synced,
        deletion_threshold: pick(
            arguments.deletion_threshold,
            None,
            profile.deletion_threshold,
        )
        .unwrap_or(defaults.deletion_threshold),
        route: match arguments.route {
            RouteChoice::DeleteAndPurge => RoutePreference::DeleteAndPurge,
            RouteChoice::OutOfScope => RoutePreference::OutOfScope,
        },
        out_of_scope_container: arguments.out_of_scope_ou.clone(),
        ..defaults
    }
}

/// A two-column CSV with a header naming the AD side first and the cloud side second.
fn read_mapping(path: &Path) -> anyhow::Result<Vec<MappingEntry>> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        Hinted::new(
            format!("cannot read the mapping file `{}`: {error}", path.display()),
            "check the path; the mapping is a UTF-8 CSV with the header `ad,cloud`",
        )
    })?;
    // The first line must be the header: read as one, a first pair would vanish silently.
    let header = text.lines().next().unwrap_or_default();
    let header_names: Vec<String> = header
        .trim()
        .trim_start_matches('\u{feff}')
        .split(',')
        .map(|field| field.trim().trim_matches('"').to_ascii_lowercase())
        .collect();
    if header_names != ["ad", "cloud"] {
        return Err(Hinted::new(
            format!(
                "line 1 of `{}` is not the header `ad,cloud`: {}",
                path.display(),
                table::csv_field(header.trim())
            ),
            "start the file with the line `ad,cloud`, then one pair per line",
        )
        .into());
    }
    let mut entries = Vec::new();
    for (number, line) in text.lines().enumerate().skip(1) {
        let line = line.trim().trim_start_matches('\u{feff}');
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line
            .split(',')
            .map(|field| field.trim().trim_matches('"'))
            .collect();
        match fields.as_slice() {
            [ad, cloud] if !ad.is_empty() && !cloud.is_empty() => entries.push(MappingEntry {
                ad: (*ad).to_owned(),
                cloud: (*cloud).to_owned(),
            }),
            _ => {
                return Err(Hinted::new(
                    format!(
                        "line {} of `{}` is not `ad,cloud`: {}",
                        number + 1,
                        path.display(),
                        table::csv_field(line)
                    ),
                    "each line pairs an AD user (sAMAccountName, UPN or objectGUID) with a cloud UPN or object id",
                )
                .into());
            }
        }
    }
    if entries.is_empty() {
        return Err(Hinted::new(
            format!("the mapping file `{}` has no pairs", path.display()),
            "write a header line `ad,cloud`, then one pair per line",
        )
        .into());
    }
    Ok(entries)
}

pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_active_accounts_the_plan_deletes_unread_and_not_yet_asked_are_read() {
        let tenant: TenantSnapshot = serde_json::from_value(json!({
            "format_version": 1,
            "source": { "kind": "fixture", "location": "test" },
            "taken_at": "2026-11-22T03:00:00Z",
            "tenant": {
                "id": "tenant", "display_name": "Contoso",
                "initial_domain": "contoso.onmicrosoft.com", "domains": []
            },
            "users": [
                { "id": "unread", "userPrincipalName": "a@contoso.com" },
                { "id": "read", "userPrincipalName": "b@contoso.com", "signInActivity": {} },
                { "id": "kept", "userPrincipalName": "c@contoso.com" },
                {
                    "id": "binned", "userPrincipalName": "d@contoso.com",
                    "deletedDateTime": "2026-11-20T03:00:00Z"
                }
            ]
        }))
        .unwrap();
        let action = |kind: ActionKind, target: &str| -> PlanAction {
            serde_json::from_value(json!({
                "id": format!("a-{target}"),
                "kind": kind,
                "target": { "directory": "cloud", "id": target, "userPrincipalName": null },
                "reason": "test"
            }))
            .unwrap()
        };
        let plan = Plan {
            format_version: 1,
            generated_at: "2026-11-22T03:00:00Z".to_owned(),
            fingerprint: String::new(),
            actions_fingerprint: String::new(),
            tenant_id: "tenant".to_owned(),
            password_hash_sync: None,
            policy: PlanPolicy::default(),
            users: Vec::new(),
            skipped: Vec::new(),
            actions: vec![
                action(ActionKind::SoftDelete, "unread"),
                action(ActionKind::PurgeDeleted, "unread"),
                action(ActionKind::SoftDelete, "read"),
                action(ActionKind::ClearImmutableId, "kept"),
                action(ActionKind::SoftDelete, "binned"),
            ],
        };
        let none = BTreeSet::new();
        assert_eq!(
            deletions_without_sign_in(plan.actions.clone(), &tenant, &none),
            ["unread"]
        );
        // Asked about already (Graph no longer found it): not again, so planning ends.
        let asked = BTreeSet::from(["unread".to_owned()]);
        assert!(deletions_without_sign_in(plan.actions, &tenant, &asked).is_empty());
    }
}
