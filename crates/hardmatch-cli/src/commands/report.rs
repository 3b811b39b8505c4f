//! `hardmatch report`: the diagnosis, and a plan when given, as one self-contained HTML file
//! for reviewers who do not run hardmatch themselves (a change board, a help-desk lead).
//!
//! All judgement is the core's (`diagnose`, the plan file); this module only renders. The
//! file carries its style, script and chart inline and loads nothing, so it opens offline
//! and as a mail attachment. Rows are streamed into the output file as they are rendered,
//! and every row is in the HTML itself (the filter hides rows, no script builds them), so a
//! large tenant costs file size rather than a page that stalls in a script.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::io::{self, BufWriter, Write};

use hardmatch_core::ad::{AdSnapshot, AdUser};
use hardmatch_core::diagnose::{
    DiagnoseOptions, Diagnosis, Status, UserStatus, aligned_user_principal_names, diagnose,
    has_mailbox,
};
use hardmatch_core::plan::{Check, Plan, PlanAction, Route, inputs_fingerprint};
use hardmatch_core::sync::SyncReportDetail;
use hardmatch_core::tenant::{CloudUser, TenantSnapshot};

use crate::ExitStatus;
use crate::args::ReportArgs;
use crate::commands::plan::{now_rfc3339, read_plan};
use crate::commands::status::{describe, diagnose_options, json_name, release_at_exit};
use crate::error::Hinted;
use crate::output::{Visibility, write_atomically_with};
use crate::sources::{Context, load_ad, load_tenant, resolve_ad, resolve_tenant};

const STYLE: &str = include_str!("report/report.css");
const SCRIPT: &str = include_str!("report/report.js");

/// Statuses the filter hides at first: nobody has to act on them.
const HIDDEN_AT_FIRST: [&str; 2] = ["linked", "out_of_scope"];

/// Rows a section shows at once; "show more" reveals the next ones. Laying out every row of
/// a large tenant would take a browser minutes, while filtering the rows in the page takes
/// a fraction of a second.
const ROWS_AT_ONCE: usize = 500;

/// Distinguished names listed per hygiene finding; an unverified suffix can name every user
/// of a forest, and a cell of a hundred thousand names helps nobody.
const NAMES_PER_FINDING: usize = 50;

pub(crate) fn run(arguments: &ReportArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    // The plan is read first: a mistyped path should not wait for a live directory read.
    let plan = arguments.plan.as_deref().map(read_plan).transpose()?;
    let ad_input = resolve_ad(&arguments.ad, context)?;
    let tenant_input = resolve_tenant(&arguments.tenant, context)?;
    let ad = load_ad(&ad_input, context)?;
    let tenant = load_tenant(&tenant_input, context)?;
    if let (Some(plan), Some(path)) = (&plan, &arguments.plan)
        && plan.tenant_id != tenant.tenant.id
    {
        return Err(Hinted::new(
            format!(
                "the plan `{}` is for tenant {}, but the tenant read is {} ({})",
                path.display(),
                plan.tenant_id,
                tenant.tenant.initial_domain,
                tenant.tenant.id
            ),
            "pass the tenant the plan was made for, or make a plan for this tenant with `hardmatch plan`",
        )
        .into());
    }
    // The page shows no record of the predicted sync report.
    let options = DiagnoseOptions {
        sync_report: SyncReportDetail::Summary,
        ..diagnose_options(&arguments.diagnosis, &tenant)
    };
    let diagnosis = diagnose(&ad.users, &tenant, &options);
    let report = Report {
        ad: &ad,
        tenant: &tenant,
        diagnosis: &diagnosis,
        plan: plan.as_ref().map(|plan| PlanView {
            plan,
            made_from_these_inputs: plan.fingerprint == inputs_fingerprint(&ad.users, &tenant),
        }),
        generated_at: now_rfc3339(),
    };
    write_atomically_with(&arguments.html, Visibility::Ordinary, |file| {
        let mut out = BufWriter::with_capacity(1 << 16, file);
        report.write(&mut out)?;
        out.flush()
    })
    .map_err(|error| {
        Hinted::new(
            format!("the report was not written: {error:#}"),
            "check that the directory exists and that you may write to it",
        )
    })?;
    context.printer.status(&format!(
        "wrote the report of {} AD users{} to {}",
        ad.users.len(),
        plan.as_ref()
            .map(|plan| format!(" and {} planned actions", plan.actions.len()))
            .unwrap_or_default(),
        arguments.html.display()
    ));
    release_at_exit((diagnosis, plan));
    release_at_exit((ad, tenant));
    Ok(ExitStatus::Success)
}

/// Text made safe for element content and quoted attribute values alike.
struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(position) = rest.find(['&', '<', '>', '"', '\'']) {
            let (before, from) = rest.split_at(position);
            formatter.write_str(before)?;
            let mut characters = from.chars();
            formatter.write_str(match characters.next() {
                Some('&') => "&amp;",
                Some('<') => "&lt;",
                Some('>') => "&gt;",
                Some('"') => "&quot;",
                _ => "&#39;",
            })?;
            rest = characters.as_str();
        }
        formatter.write_str(rest)
    }
}

fn escaped(text: &str) -> Escaped<'_> {
    Escaped(text)
}

struct PlanView<'a> {
    plan: &'a Plan,
    /// Whether the plan's input fingerprint matches the directories this report read.
    made_from_these_inputs: bool,
}

struct Report<'a> {
    ad: &'a AdSnapshot,
    tenant: &'a TenantSnapshot,
    diagnosis: &'a Diagnosis<'a>,
    plan: Option<PlanView<'a>>,
    generated_at: String,
}

impl Report<'_> {
    fn write(&self, out: &mut impl Write) -> io::Result<()> {
        let tenant = &self.tenant.tenant;
        write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
             style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n\
             <meta name=\"generator\" content=\"hardmatch {version}\">\n\
             <title>hardmatch report · {tenant}</title>\n<style>\n{STYLE}</style>\n</head>\n<body data-rows-at-once=\"{ROWS_AT_ONCE}\">\n",
            version = env!("CARGO_PKG_VERSION"),
            tenant = escaped(&tenant.initial_domain),
        )?;
        self.write_header(out)?;
        self.write_filters(out)?;
        writeln!(out, "<main>")?;
        self.write_chart(out)?;
        self.write_conflicts(out)?;
        if let Some(plan) = &self.plan {
            write_plan(out, plan)?;
        }
        self.write_users(out)?;
        self.write_tenant_findings(out)?;
        self.write_hygiene(out)?;
        write!(
            out,
            "</main>\n<script>\n{SCRIPT}</script>\n</body>\n</html>\n"
        )
    }

    fn write_header(&self, out: &mut impl Write) -> io::Result<()> {
        let tenant = &self.tenant.tenant;
        let ad = self.ad;
        // A forest is named by its domains; an export names none, so its files stand in.
        let domains: BTreeSet<String> = ad
            .users
            .iter()
            .filter_map(|user| user.domain.as_deref())
            .map(str::to_ascii_lowercase)
            .collect();
        let forest = if domains.is_empty() {
            ad.source.locations.join(", ")
        } else {
            domains.into_iter().collect::<Vec<_>>().join(", ")
        };
        write!(
            out,
            "<header>\n<h1>hardmatch report</h1>\n<dl class=\"facts\">\n\
             <dt>Tenant</dt><dd id=\"tenant\">{name}<span class=\"muted\"> · {domain} · {id}</span></dd>\n\
             <dt>Forest</dt><dd id=\"forest\">{forest}<span class=\"muted\"> · {count} AD users from {kind}</span></dd>\n\
             <dt>Tenant state of</dt><dd id=\"tenant-taken-at\">{tenant_taken}</dd>\n\
             <dt>AD read at</dt><dd id=\"ad-taken-at\">{ad_taken}</dd>\n\
             <dt>Generated</dt><dd id=\"generated-at\">{generated}</dd>\n\
             <dt>hardmatch</dt><dd id=\"version\">{version}</dd>\n</dl>\n</header>\n",
            name = escaped(
                tenant
                    .display_name
                    .as_deref()
                    .unwrap_or(&tenant.initial_domain)
            ),
            domain = escaped(&tenant.initial_domain),
            id = escaped(&tenant.id),
            forest = escaped(&forest),
            count = ad.users.len(),
            kind = escaped(&ad.source.kind),
            tenant_taken = escaped(&self.tenant.taken_at),
            ad_taken = escaped(&ad.taken_at),
            generated = escaped(&self.generated_at),
            version = env!("CARGO_PKG_VERSION"),
        )
    }

    fn count(&self, status: &str) -> u64 {
        self.diagnosis
            .summary
            .get(status)
            .copied()
            .unwrap_or_default()
    }

    fn write_filters(&self, out: &mut impl Write) -> io::Result<()> {
        write!(
            out,
            "<nav id=\"filters\" aria-label=\"Filter\">\n\
             <label class=\"search\">Search <input id=\"search\" type=\"search\" \
             placeholder=\"name, address, DN, id…\" autocomplete=\"off\" spellcheck=\"false\"></label>\n\
             <fieldset id=\"status-filter\"><legend>Statuses</legend>\n"
        )?;
        for name in Status::NAMES {
            writeln!(
                out,
                "<label><input type=\"checkbox\" value=\"{name}\"{checked}> \
                 <span class=\"badge s-{name}\">{name}</span> <span class=\"count\">{count}</span></label>",
                checked = if HIDDEN_AT_FIRST.contains(&name) {
                    ""
                } else {
                    " checked"
                },
                count = self.count(name),
            )?;
        }
        write!(
            out,
            "</fieldset>\n<noscript><p>The filter and search need JavaScript; without it, \
             linked and out-of-scope users stay hidden.</p></noscript>\n</nav>\n"
        )
    }

    fn write_chart(&self, out: &mut impl Write) -> io::Result<()> {
        const ROW: u64 = 28;
        const LABEL_WIDTH: u64 = 150;
        const BAR_WIDTH: u64 = 420;
        let total: u64 = self.diagnosis.summary.values().sum();
        let largest = Status::NAMES
            .iter()
            .map(|name| self.count(name))
            .max()
            .unwrap_or_default()
            .max(1);
        let height = ROW * Status::NAMES.len() as u64 + 8;
        write!(
            out,
            "<section id=\"summary\">\n<h2>Status of {total} AD users</h2>\n\
             <svg id=\"status-chart\" class=\"chart\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" \
             height=\"{height}\" role=\"img\" aria-labelledby=\"chart-title\">\n\
             <title id=\"chart-title\">AD users per status</title>\n",
            width = LABEL_WIDTH + BAR_WIDTH + 80,
        )?;
        for (row, name) in (0..).zip(Status::NAMES) {
            let count = self.count(name);
            // A status with users keeps a visible sliver however small its share.
            let width = match count * BAR_WIDTH / largest {
                0 if count > 0 => 2,
                width => width,
            };
            let top = row * ROW + 4;
            writeln!(
                out,
                "<g class=\"bar s-{name}\" data-status=\"{name}\"><title>{name}: {count}</title>\
                 <text class=\"label\" x=\"0\" y=\"{text_y}\">{name}</text>\
                 <rect x=\"{LABEL_WIDTH}\" y=\"{top}\" width=\"{width}\" height=\"20\" rx=\"3\"></rect>\
                 <text class=\"count\" x=\"{count_x}\" y=\"{text_y}\">{count}</text></g>",
                text_y = top + 15,
                count_x = LABEL_WIDTH + width + 6,
            )?;
        }
        write!(
            out,
            "</svg>\n<p class=\"muted\">Click a bar to show only that status.</p>\n</section>\n"
        )
    }

    fn write_conflicts(&self, out: &mut impl Write) -> io::Result<()> {
        let involved: Vec<&UserStatus> = self
            .diagnosis
            .users
            .iter()
            .filter(|user| {
                matches!(
                    user.status,
                    Status::Conflicting { .. } | Status::Blocked { .. }
                )
            })
            .collect();
        writeln!(out, "<section id=\"conflicts\">")?;
        write_heading(out, 2, "Conflicts and blocks", involved.len(), "conflicts")?;
        writeln!(
            out,
            "<p class=\"muted\">The AD user and the cloud objects its status is about, side by \
             side. Values that collide between them are <mark class=\"collides\">marked</mark>.</p>"
        )?;
        if involved.is_empty() {
            writeln!(out, "<p class=\"empty\">No conflicts and no blocks.</p>")?;
        }
        let objects = CloudObjects::for_users(self.tenant, &involved);
        let mut page = Page::default();
        for user in involved {
            self.write_pair(out, user, &objects, page.hidden(Some(user.status.name())))?;
        }
        write_more_button(out, "conflicts")?;
        writeln!(out, "</section>")
    }

    fn write_pair(
        &self,
        out: &mut impl Write,
        user: &UserStatus,
        objects: &CloudObjects<'_>,
        hidden: &str,
    ) -> io::Result<()> {
        let Some(ad) = self.ad.users.get(user.ad_index) else {
            return Ok(());
        };
        let aligned = aligned_user_principal_names(ad, &self.tenant.tenant);
        let clouds: Vec<(&str, &CloudUser)> = involved_cloud_ids(user)
            .filter_map(|(role, id)| objects.users.get(id).map(|cloud| (role, *cloud)))
            .collect();
        let mut keys: Vec<HashSet<Key>> = vec![ad_keys(ad, &aligned)];
        keys.extend(clouds.iter().map(|(_, cloud)| cloud_keys(cloud)));
        let collisions = collisions(&keys);
        let name = user.status.name();
        write!(
            out,
            "<article class=\"pair\" data-filter=\"conflicts\" data-status=\"{name}\"{hidden}>\n\
             <h3>{who} <span class=\"badge s-{name}\">{phrase}</span></h3>\n<div class=\"sides\">\n\
             <section class=\"side ad\"><h4>AD user</h4>\n<table class=\"attributes\">\n",
            who = escaped(
                ad.user_principal_name
                    .as_deref()
                    .unwrap_or(&ad.distinguished_name)
            ),
            phrase = escaped(&describe(&user.status)),
        )?;
        let mut side = Side {
            out: &mut *out,
            collisions: &collisions,
        };
        side.plain("distinguishedName", &ad.distinguished_name)?;
        side.addresses("userPrincipalName", ad.user_principal_name.iter())?;
        if !aligned.is_empty() {
            side.addresses("UPN on a verified domain", aligned.iter())?;
        }
        side.plain(
            "sAMAccountName",
            ad.sam_account_name.as_deref().unwrap_or(""),
        )?;
        side.addresses("mail", ad.mail.iter())?;
        side.addresses("SMTP addresses", ad.smtp_addresses())?;
        side.anchor(
            &format!("ImmutableID ({})", ad.anchor_attribute.ldap_name()),
            Some(ad.immutable_id.as_str()),
        )?;
        side.plain("enabled", if ad.enabled { "yes" } else { "no" })?;
        writeln!(out, "</table></section>")?;
        for (role, cloud) in &clouds {
            write!(
                out,
                "<section class=\"side cloud\" data-role=\"{role}\"><h4>Cloud: {title}</h4>\n\
                 <table class=\"attributes\">\n",
                role = escaped(role),
                title = escaped(role_title(role)),
            )?;
            let mut side = Side {
                out: &mut *out,
                collisions: &collisions,
            };
            side.plain("id", &cloud.id)?;
            side.addresses(
                "userPrincipalName",
                std::iter::once(&cloud.user_principal_name),
            )?;
            side.plain("displayName", cloud.display_name.as_deref().unwrap_or(""))?;
            side.addresses("mail", cloud.mail.iter())?;
            side.addresses("SMTP addresses", cloud.smtp_addresses())?;
            side.anchor(
                "onPremisesImmutableId",
                cloud
                    .on_premises_immutable_id
                    .as_ref()
                    .map(|anchor| anchor.as_str()),
            )?;
            side.plain("state", &objects.state_of(cloud))?;
            for error in &cloud.on_premises_provisioning_errors {
                side.plain(
                    "quarantined",
                    &format!(
                        "{} {}",
                        error.property_causing_error.as_deref().unwrap_or("?"),
                        error.value.as_deref().unwrap_or("?")
                    ),
                )?;
            }
            writeln!(out, "</table></section>")?;
        }
        write!(out, "</div>\n<ul class=\"evidence\">")?;
        for evidence in &user.evidence {
            write!(out, "<li>{}</li>", escaped(&evidence.detail.text()))?;
        }
        write!(out, "</ul>\n</article>\n")
    }

    fn write_users(&self, out: &mut impl Write) -> io::Result<()> {
        writeln!(out, "<section id=\"users\">")?;
        write_heading(out, 2, "AD users", self.diagnosis.users.len(), "users")?;
        write_table_start(
            out,
            "user-table",
            &[
                "AD user",
                "sAMAccountName",
                "Status",
                "Cloud account",
                "Evidence",
            ],
        )?;
        let mut page = Page::default();
        for user in &self.diagnosis.users {
            let name = user.status.name();
            write!(
                out,
                "<tr data-filter=\"users\" data-status=\"{name}\"{hidden}><td>",
                hidden = page.hidden(Some(name))
            )?;
            match &user.user_principal_name() {
                Some(upn) => write!(
                    out,
                    "{}<div class=\"dn\">{}</div>",
                    escaped(upn),
                    escaped(user.distinguished_name())
                )?,
                None => write!(out, "{}", escaped(user.distinguished_name()))?,
            }
            write!(
                out,
                "</td><td>{sam}</td><td><span class=\"badge s-{name}\">{name}</span> {phrase}</td>\
                 <td>{cloud}</td><td>",
                sam = escaped(user.sam_account_name().unwrap_or("")),
                phrase = escaped(&describe(&user.status)),
                cloud = escaped(user.cloud_user_principal_name().unwrap_or("—")),
            )?;
            write_lines(
                out,
                user.evidence.iter().map(|evidence| evidence.detail.text()),
            )?;
            writeln!(out, "</td></tr>")?;
        }
        write_table_end(out, "users")?;
        writeln!(out, "</section>")
    }

    fn write_tenant_findings(&self, out: &mut impl Write) -> io::Result<()> {
        let findings = &self.diagnosis.tenant_findings;
        writeln!(out, "<section id=\"tenant-findings\">")?;
        write_heading(out, 2, "Tenant findings", findings.len(), "findings")?;
        if findings.is_empty() {
            return write!(
                out,
                "<p class=\"empty\">No orphaned anchors, sync-created duplicates or addresses a takeover would drop.</p>\n</section>\n"
            );
        }
        write_table_start(
            out,
            "finding-table",
            &["Finding", "Cloud account", "Detail", "Addresses"],
        )?;
        let mut page = Page::default();
        for finding in findings {
            write!(
                out,
                "<tr data-filter=\"findings\"{hidden}><td>{kind}</td><td>{upn}<div class=\"dn\">{id}</div></td>\
                 <td>{detail}</td><td>",
                kind = escaped(&json_name(&finding.kind)),
                upn = escaped(finding.user_principal_name),
                id = escaped(finding.cloud_user_id),
                detail = escaped(&finding.detail.to_string()),
                hidden = page.hidden(None),
            )?;
            write_lines(out, &finding.addresses)?;
            writeln!(out, "</td></tr>")?;
        }
        write_table_end(out, "findings")?;
        writeln!(out, "</section>")
    }

    fn write_hygiene(&self, out: &mut impl Write) -> io::Result<()> {
        let findings = &self.diagnosis.hygiene;
        writeln!(out, "<section id=\"hygiene\">")?;
        write_heading(out, 2, "On-premises hygiene", findings.len(), "hygiene")?;
        if findings.is_empty() {
            return write!(
                out,
                "<p class=\"empty\">No IdFix-like problems in the AD data.</p>\n</section>\n"
            );
        }
        write_table_start(
            out,
            "hygiene-table",
            &["Problem", "Attribute", "Value", "AD users", "Detail"],
        )?;
        let mut page = Page::default();
        for finding in findings {
            write!(
                out,
                "<tr data-filter=\"hygiene\"{hidden}><td>{kind}</td><td>{attribute}</td><td>{value}</td><td>",
                kind = escaped(&json_name(&finding.kind)),
                attribute = escaped(&finding.attribute),
                value = escaped(&finding.value),
                hidden = page.hidden(None),
            )?;
            write_lines(
                out,
                finding.distinguished_names.iter().take(NAMES_PER_FINDING),
            )?;
            let more = finding
                .distinguished_names
                .len()
                .saturating_sub(NAMES_PER_FINDING);
            if more > 0 {
                write!(
                    out,
                    "<br><em>and {more} more (`hardmatch status --json` lists all)</em>"
                )?;
            }
            writeln!(out, "</td><td>{}</td></tr>", escaped(&finding.detail))?;
        }
        write_table_end(out, "hygiene")?;
        writeln!(out, "</section>")
    }
}

fn write_plan(out: &mut impl Write, view: &PlanView<'_>) -> io::Result<()> {
    let plan = view.plan;
    let irreversible = plan
        .actions
        .iter()
        .filter(|action| action.irreversible)
        .count();
    write!(
        out,
        "<section id=\"plan\">\n<h2>Plan: {actions} actions, <span class=\"irreversible-count\">{irreversible} \
         irreversible</span></h2>\n<dl class=\"facts\">\n\
         <dt>Generated</dt><dd>{generated}</dd>\n<dt>Inputs</dt><dd>{fingerprint}{currency}</dd>\n\
         <dt>Password</dt><dd>{password}</dd>\n</dl>\n",
        actions = plan.actions.len(),
        generated = escaped(&plan.generated_at),
        fingerprint = escaped(&plan.fingerprint),
        currency = if view.made_from_these_inputs {
            " <span class=\"muted\">(the directories this report read)</span>"
        } else {
            " <strong class=\"warning\">made from other directory data than this report's: apply \
             re-checks every precondition and refuses what changed</strong>"
        },
        password = match plan.password_hash_sync {
            Some(true) =>
                "a takeover replaces the cloud password with the AD one (password hash sync is on)",
            Some(false) => "kept (password hash sync is off)",
            None =>
                "replaced by the AD password if password hash sync is on (the tenant's sync settings were not readable)",
        },
    )?;
    write_heading(out, 3, "Users to link", plan.users.len(), "plan-users")?;
    if !plan.users.is_empty() {
        write_table_start(
            out,
            "plan-user-table",
            &[
                "AD user",
                "Cloud account",
                "Route",
                "Cloud values the takeover overwrites",
            ],
        )?;
        let mut page = Page::default();
        for user in &plan.users {
            write!(
                out,
                "<tr data-filter=\"plan-users\"{hidden}><td>{upn}<div class=\"dn\">{dn}</div></td>\
                 <td>{target}<div class=\"dn\">{target_id}</div></td><td>{route}</td><td>",
                upn = escaped(user.user_principal_name.as_deref().unwrap_or("no UPN")),
                dn = escaped(&user.distinguished_name),
                target = escaped(&user.target_user_principal_name),
                target_id = escaped(&user.target_id),
                hidden = page.hidden(None),
                route = match user.route {
                    Route::SetAndSync => "set and sync",
                    Route::DeleteAndPurge => "delete and purge the duplicate",
                    Route::OutOfScope => "out of sync scope and back",
                },
            )?;
            if user.overwrites.is_empty() {
                write!(out, "<span class=\"muted\">no attribute differs</span>")?;
            }
            write_lines(
                out,
                user.overwrites.iter().map(|overwrite| {
                    format!(
                        "{}: {} → {}",
                        overwrite.property,
                        none_if_empty(&overwrite.cloud_value),
                        none_if_empty(&overwrite.on_premises_value)
                    )
                }),
            )?;
            writeln!(out, "</td></tr>")?;
        }
        write_table_end(out, "plan-users")?;
    }
    write_heading(out, 3, "Actions, in order", plan.actions.len(), "actions")?;
    if plan.actions.is_empty() {
        writeln!(out, "<p class=\"empty\">No changes.</p>")?;
    } else {
        write_table_start(
            out,
            "actions",
            &[
                "#",
                "Action",
                "Target",
                "Value",
                "Why",
                "Precondition",
                "After",
            ],
        )?;
        let mut page = Page::default();
        for action in &plan.actions {
            write_action(out, action, page.hidden(None))?;
        }
        write_table_end(out, "actions")?;
    }
    if !plan.skipped.is_empty() {
        write_heading(out, 3, "Not planned", plan.skipped.len(), "skipped")?;
        write_table_start(out, "skipped-table", &["User", "Code", "Reason"])?;
        let mut page = Page::default();
        for skipped in &plan.skipped {
            writeln!(
                out,
                "<tr data-filter=\"skipped\"{}><td>{}</td><td>{}</td><td>{}</td></tr>",
                page.hidden(None),
                escaped(&skipped.user),
                escaped(&skipped.code),
                escaped(&skipped.reason)
            )?;
        }
        write_table_end(out, "skipped")?;
    }
    writeln!(out, "</section>")
}

fn write_action(out: &mut impl Write, action: &PlanAction, hidden: &str) -> io::Result<()> {
    let target = &action.target;
    write!(
        out,
        "<tr data-filter=\"actions\" data-action=\"{id}\" data-kind=\"{kind}\" data-irreversible=\"{irreversible}\"{class}{hidden}>\
         <td>{id}</td><td><code>{kind}</code>{mark}</td><td>",
        id = escaped(&action.id),
        kind = action.kind.name(),
        irreversible = action.irreversible,
        class = if action.irreversible {
            " class=\"irreversible\""
        } else {
            ""
        },
        mark = if action.irreversible {
            "<br><strong class=\"irreversible-mark\" title=\"cannot be undone\">⚠ IRREVERSIBLE</strong>"
        } else {
            ""
        },
    )?;
    match (&target.user_principal_name, &target.id) {
        (Some(upn), Some(id)) => write!(
            out,
            "{}<div class=\"dn\">{}</div>",
            escaped(upn),
            escaped(id)
        )?,
        (Some(name), None) | (None, Some(name)) => write!(out, "{}", escaped(name))?,
        (None, None) => write!(out, "the Entra Connect server")?,
    }
    if let Some(dn) = &target.distinguished_name {
        write!(out, "<div class=\"dn\">{}</div>", escaped(dn))?;
    }
    write!(
        out,
        "</td><td>{}</td><td>{}",
        escaped(action.value.as_deref().unwrap_or("")),
        escaped(&action.reason)
    )?;
    for evidence in &action.evidence {
        write!(out, "<div class=\"dn\">{}</div>", escaped(evidence))?;
    }
    write!(out, "</td><td>")?;
    match &action.precondition {
        None => write!(out, "<span class=\"muted\">none</span>")?,
        Some(precondition) => {
            write!(out, "<ul class=\"checks\">")?;
            for check in &precondition.checks {
                match check {
                    Check::Equals { property, value } => write!(
                        out,
                        "<li><code>{}</code> = <code>{}</code></li>",
                        escaped(property),
                        escaped(&value.to_string())
                    )?,
                    Check::Present { property } => {
                        write!(out, "<li><code>{}</code> is set</li>", escaped(property))?;
                    }
                }
            }
            write!(out, "</ul>")?;
        }
    }
    writeln!(
        out,
        "</td><td>{}</td></tr>",
        escaped(&action.depends_on.join(", "))
    )
}

/// Values one per line within a cell.
fn write_lines(
    out: &mut impl Write,
    lines: impl IntoIterator<Item = impl AsRef<str>>,
) -> io::Result<()> {
    for (position, line) in lines.into_iter().enumerate() {
        if position > 0 {
            write!(out, "<br>")?;
        }
        write!(out, "{}", escaped(line.as_ref()))?;
    }
    Ok(())
}

/// A heading with its row count and the counter the filter script fills in.
fn write_heading(
    out: &mut impl Write,
    level: u8,
    title: &str,
    count: usize,
    filter: &str,
) -> io::Result<()> {
    writeln!(
        out,
        "<h{level}>{title} ({count}) <span class=\"shown\" data-shown-of=\"{filter}\"></span></h{level}>"
    )
}

/// The start of a table of filterable rows, up to its first row.
fn write_table_start(out: &mut impl Write, id: &str, headers: &[&str]) -> io::Result<()> {
    write!(out, "<table id=\"{id}\" class=\"rows\">\n<thead><tr>")?;
    for header in headers {
        write!(out, "<th>{header}</th>")?;
    }
    writeln!(out, "</tr></thead>\n<tbody>")
}

/// The end of a table of filterable rows, and its "show more" button.
fn write_table_end(out: &mut impl Write, filter: &str) -> io::Result<()> {
    writeln!(out, "</tbody>\n</table>")?;
    write_more_button(out, filter)
}

/// Filled in and shown by the script when more rows match than are shown.
fn write_more_button(out: &mut impl Write, filter: &str) -> io::Result<()> {
    writeln!(
        out,
        "<button type=\"button\" class=\"more\" data-more-of=\"{filter}\" hidden></button>"
    )
}

/// Which rows of a section the page shows before its script runs: the same ones the
/// script's first pass shows, so a large report is never laid out whole.
#[derive(Default)]
struct Page {
    shown: usize,
}

impl Page {
    fn hidden(&mut self, status: Option<&str>) -> &'static str {
        if status.is_some_and(|status| HIDDEN_AT_FIRST.contains(&status))
            || self.shown >= ROWS_AT_ONCE
        {
            " hidden"
        } else {
            self.shown += 1;
            ""
        }
    }
}

fn none_if_empty(value: &str) -> &str {
    if value.is_empty() { "(none)" } else { value }
}

/// The cloud objects a status names, each once with the role it plays: the evidence's
/// objects first (duplicate, holder, candidate…), then the status's own account.
fn involved_cloud_ids<'a>(user: &UserStatus<'a>) -> impl Iterator<Item = (&'a str, &'a str)> {
    let mut seen: Vec<&str> = Vec::new();
    user.evidence
        .iter()
        .filter_map(|evidence| evidence.cloud_user_id.map(|id| (evidence.code, id)))
        .chain(user.cloud_user_id().map(|id| ("target", id)))
        .filter(move |(_, id)| {
            let new = !seen.contains(id);
            seen.push(id);
            new
        })
}

fn role_title(role: &str) -> &str {
    match role {
        "duplicate" => "the duplicate the sync created",
        "real_account" => "the person's own account",
        "holder" => "also holds the ImmutableID",
        "candidate" => "the match candidate",
        "restores" => "restored from the recycle bin",
        "quarantined" => "joined, with quarantined values",
        _ => "the account the status is about",
    }
}

/// The cloud users the conflict cards show, found in one pass over the tenant.
struct CloudObjects<'a> {
    users: HashMap<&'a str, &'a CloudUser>,
    assigned_roles: HashSet<&'a str>,
    eligible_roles: HashSet<&'a str>,
}

impl<'a> CloudObjects<'a> {
    fn for_users(tenant: &'a TenantSnapshot, involved: &[&UserStatus]) -> Self {
        let wanted: HashSet<&str> = involved
            .iter()
            .flat_map(|user| involved_cloud_ids(user).map(|(_, id)| id))
            .collect();
        let principals = |assignments: &'a [hardmatch_core::tenant::RoleAssignment]| {
            assignments
                .iter()
                .map(|assignment| assignment.principal_id.as_str())
                .filter(|id| wanted.contains(id))
                .collect::<HashSet<&str>>()
        };
        Self {
            assigned_roles: principals(&tenant.role_assignments),
            eligible_roles: principals(&tenant.role_eligibilities),
            users: tenant
                .users
                .iter()
                .filter(|user| wanted.contains(user.id.as_str()))
                .map(|user| (user.id.as_str(), user))
                .collect(),
        }
    }

    /// What a reviewer weighs before deleting or taking over an account.
    fn state_of(&self, user: &CloudUser) -> String {
        let mut facts: Vec<String> = Vec::new();
        if let Some(deleted) = &user.deleted_date_time {
            facts.push(format!("in the recycle bin since {deleted}"));
        }
        facts.push(
            match user.on_premises_sync_enabled {
                Some(true) => "synced",
                Some(false) => "formerly synced",
                None => "cloud-only",
            }
            .to_owned(),
        );
        if user.is_licensed() {
            facts.push(format!("{} licence(s)", user.assigned_licenses.len()));
        }
        if has_mailbox(user) {
            facts.push("mailbox".to_owned());
        }
        if self.assigned_roles.contains(user.id.as_str()) {
            facts.push("admin role".to_owned());
        }
        if self.eligible_roles.contains(user.id.as_str()) {
            facts.push("PIM-eligible".to_owned());
        }
        facts.join(", ")
    }
}

/// A value that identifies an object to the sync: addresses (UPNs and SMTP addresses share
/// one namespace, compared without regard to case) and source anchors (exact).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Address(String),
    Anchor(String),
}

fn address_key(value: &str) -> Key {
    Key::Address(value.to_ascii_lowercase())
}

fn ad_keys(ad: &AdUser, aligned: &[String]) -> HashSet<Key> {
    ad.user_principal_name
        .as_deref()
        .into_iter()
        .chain(aligned.iter().map(String::as_str))
        .chain(ad.mail.as_deref())
        .chain(ad.smtp_addresses())
        .map(address_key)
        .chain(std::iter::once(Key::Anchor(
            ad.immutable_id.as_str().to_owned(),
        )))
        .collect()
}

fn cloud_keys(cloud: &CloudUser) -> HashSet<Key> {
    std::iter::once(cloud.user_principal_name.as_str())
        .chain(cloud.mail.as_deref())
        .chain(cloud.smtp_addresses())
        .map(address_key)
        .chain(
            cloud
                .on_premises_immutable_id
                .as_ref()
                .map(|anchor| Key::Anchor(anchor.as_str().to_owned())),
        )
        .collect()
}

/// The values found on more than one of a card's objects: what makes them collide.
fn collisions(objects: &[HashSet<Key>]) -> HashSet<Key> {
    let mut counts: HashMap<&Key, usize> = HashMap::new();
    for keys in objects {
        for key in keys {
            *counts.entry(key).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .filter(|(_, count)| *count > 1)
        .map(|(key, _)| key.clone())
        .collect()
}

/// One side of a conflict card: attribute rows, colliding values marked.
struct Side<'a, W: Write> {
    out: &'a mut W,
    collisions: &'a HashSet<Key>,
}

impl<W: Write> Side<'_, W> {
    fn plain(&mut self, label: &str, value: &str) -> io::Result<()> {
        writeln!(
            self.out,
            "<tr><th>{}</th><td>{}</td></tr>",
            escaped(label),
            escaped(value)
        )
    }

    fn addresses(
        &mut self,
        label: &str,
        values: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> io::Result<()> {
        write!(self.out, "<tr><th>{}</th><td>", escaped(label))?;
        for (position, value) in values.into_iter().enumerate() {
            let value = value.as_ref();
            if position > 0 {
                write!(self.out, "<br>")?;
            }
            self.value(value, &address_key(value))?;
        }
        writeln!(self.out, "</td></tr>")
    }

    fn anchor(&mut self, label: &str, value: Option<&str>) -> io::Result<()> {
        write!(self.out, "<tr><th>{}</th><td>", escaped(label))?;
        if let Some(value) = value {
            self.value(value, &Key::Anchor(value.to_owned()))?;
        }
        writeln!(self.out, "</td></tr>")
    }

    fn value(&mut self, value: &str, key: &Key) -> io::Result<()> {
        if self.collisions.contains(key) {
            write!(
                self.out,
                "<mark class=\"collides\" title=\"also on another object here\">{}</mark>",
                escaped(value)
            )
        } else {
            write!(self.out, "{}", escaped(value))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_markup_character_is_escaped_and_the_rest_kept() {
        assert_eq!(
            escaped("O'Brien & \"Sons\" <b>é</b>").to_string(),
            "O&#39;Brien &amp; &quot;Sons&quot; &lt;b&gt;é&lt;/b&gt;"
        );
        assert_eq!(escaped("plain").to_string(), "plain");
        assert_eq!(escaped("").to_string(), "");
    }

    #[test]
    fn a_value_on_two_objects_collides_and_one_on_a_single_object_does_not() {
        let ad = HashSet::from([
            address_key("Adele@Contoso.com"),
            Key::Anchor("abc=".to_owned()),
        ]);
        let cloud = HashSet::from([
            address_key("adele@contoso.com"),
            Key::Anchor("ABC=".to_owned()),
        ]);
        let found = collisions(&[ad, cloud]);
        assert_eq!(found, HashSet::from([address_key("ADELE@contoso.com")]));
    }
}
