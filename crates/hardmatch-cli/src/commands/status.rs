//! `hardmatch status`: what is wrong with each user and what the next sync will do.
//! All judgement is in `hardmatch_core::diagnose`; this module only selects and renders.

use std::borrow::Cow;

use hardmatch_core::ad::{AdSnapshot, AdUser};
use hardmatch_core::diagnose::{
    BlockReason, ConflictReason, DiagnoseOptions, Diagnosis, Status, UserStatus, diagnose_with,
};
use hardmatch_core::parallel;
use hardmatch_core::sync::{
    CloudIndex, SyncEngine, SyncReportDetail, SyncScope, deletion_threshold_of,
};
use hardmatch_core::tenant::TenantSnapshot;

use crate::ExitStatus;
use crate::args::{DiagnosisArgs, EngineChoice, StatusArgs};
use crate::printer::Printer;
use crate::sources::{
    AdInput, Context, TenantInput, load_ad, load_tenant, read_snapshot_pair, resolve_ad,
    resolve_tenant,
};
use crate::table;

pub(crate) fn run(arguments: &StatusArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let ad_input = resolve_ad(&arguments.ad, context)?;
    let tenant_input = resolve_tenant(&arguments.tenant, context)?;
    let (ad, tenant) = load_directories(&ad_input, &tenant_input, context)?;
    // Built here rather than inside the diagnosis so that it, too, is left to the exit.
    let index = CloudIndex::of(&tenant);
    let mut options = diagnose_options(&arguments.diagnosis, &tenant);
    // Only the JSON shows the predicted report's records.
    if !arguments.json {
        options.sync_report = SyncReportDetail::Summary;
    }
    let mut diagnosis = diagnose_with(&ad.users, &tenant, &index, &options);
    select_users(&mut diagnosis, &ad.users, arguments);
    let mut out = Blocks::new(&context.printer);
    if arguments.json {
        serde_json::to_writer_pretty(&mut out, &diagnosis)?;
        std::io::Write::write_all(&mut out, b"\n")?;
    } else if arguments.csv {
        render_csv(&diagnosis, &mut out)?;
    } else {
        render_text(&diagnosis, &tenant, arguments, &mut out)?;
    }
    out.finish()?;
    // The diagnosis borrows from the directories, so it goes first.
    release_at_exit(diagnosis);
    release_at_exit(index);
    release_at_exit((ad, tenant));
    Ok(ExitStatus::Success)
}

/// Hands output to the printer in blocks of about a megabyte as it is rendered, so that the
/// table, CSV or JSON of a million users (hundreds of megabytes) is never held whole.
struct Blocks<'printer> {
    printer: &'printer Printer,
    text: String,
    /// Bytes written through `io::Write` and not yet checked to be UTF-8. serde_json writes
    /// a value in many small pieces; checking them in batches keeps that check off the
    /// profile.
    partial: Vec<u8>,
}

impl<'printer> Blocks<'printer> {
    const SIZE: usize = 1 << 20;
    /// How many bytes written through `io::Write` are checked at once.
    const CHECKED_AT_ONCE: usize = 1 << 16;

    fn new(printer: &'printer Printer) -> Self {
        Self {
            printer,
            text: String::with_capacity(Self::SIZE + (Self::SIZE >> 4)),
            partial: Vec::new(),
        }
    }

    /// Prints what has been rendered once it fills a block.
    fn pass_on_when_full(&mut self) -> std::io::Result<()> {
        if self.text.len() >= Self::SIZE {
            self.printer.data(&self.text)?;
            self.text.clear();
        }
        Ok(())
    }

    /// Moves the whole characters of `partial` to `text`; a character split across two
    /// writes stays behind until its last byte arrives.
    fn take_whole_characters(&mut self) {
        match std::str::from_utf8(&self.partial) {
            Ok(text) => {
                self.text.push_str(text);
                self.partial.clear();
            }
            Err(error) => {
                let valid = error.valid_up_to();
                if let Ok(text) = std::str::from_utf8(&self.partial[..valid]) {
                    self.text.push_str(text);
                }
                self.partial.drain(..valid);
            }
        }
    }

    fn finish(mut self) -> std::io::Result<()> {
        self.take_whole_characters();
        if !self.partial.is_empty() {
            // Never reached with serde_json, which writes whole characters; kept visible.
            self.text
                .push_str(&String::from_utf8_lossy(&std::mem::take(&mut self.partial)));
        }
        if self.text.is_empty() {
            return Ok(());
        }
        self.printer.data(&self.text)
    }
}

impl std::io::Write for Blocks<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.partial.extend_from_slice(bytes);
        if self.partial.len() >= Self::CHECKED_AT_ONCE {
            self.take_whole_characters();
            self.pass_on_when_full()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.take_whole_characters();
        Ok(())
    }
}

/// Reads both directories: two snapshot files at once ([`read_snapshot_pair`]); live
/// sources one after the other, as each reports its own progress.
pub(crate) fn load_directories(
    ad_input: &AdInput,
    tenant_input: &TenantInput,
    context: &Context,
) -> anyhow::Result<(AdSnapshot, TenantSnapshot)> {
    if let (AdInput::Snapshot(ad_path), TenantInput::Snapshot(tenant_path)) =
        (ad_input, tenant_input)
    {
        return read_snapshot_pair(ad_path, tenant_path);
    }
    let ad = load_ad(ad_input, context)?;
    let tenant = load_tenant(tenant_input, context)?;
    Ok((ad, tenant))
}

/// Leaves a command's large values to the operating system. Freeing a million-user
/// directory entry by entry takes seconds at the end of a run whose process is about to
/// exit anyway, and returns nothing the exit would not.
pub(crate) fn release_at_exit<T>(value: T) {
    std::mem::forget(value);
}

/// The prediction's settings, from flags and the tenant's own sync configuration.
pub(crate) fn diagnose_options(
    arguments: &DiagnosisArgs,
    tenant: &TenantSnapshot,
) -> DiagnoseOptions {
    let mut options = DiagnoseOptions::default();
    if !arguments.scope_ous.is_empty() {
        options.scope = SyncScope::OrganizationalUnits {
            include: arguments.scope_ous.clone(),
            exclude: arguments.exclude_ous.clone(),
        };
    }
    options.sync.engine = match arguments.engine {
        EngineChoice::Connect => SyncEngine::Connect,
        EngineChoice::CloudSync => SyncEngine::CloudSync,
    };
    options.sync.deletion_threshold = deletion_threshold_of(&tenant.tenant);
    options
}

/// Narrows the user list to `--status` and `--user`; the summary keeps counting everyone.
fn select_users(diagnosis: &mut Diagnosis, ad_users: &[AdUser], arguments: &StatusArgs) {
    let wanted_user = |status: &UserStatus| {
        arguments.users.is_empty()
            || ad_users.get(status.ad_index).is_some_and(|user| {
                arguments.users.iter().any(|wanted| {
                    [
                        user.user_principal_name.as_deref(),
                        user.sam_account_name.as_deref(),
                        Some(user.distinguished_name.as_str()),
                    ]
                    .into_iter()
                    .flatten()
                    .any(|name| name.eq_ignore_ascii_case(wanted))
                })
            })
    };
    let wanted_status = |status: &UserStatus| {
        arguments.statuses.is_empty()
            || arguments
                .statuses
                .iter()
                .any(|name| name == status.status.name())
    };
    diagnosis
        .users
        .retain(|status| wanted_user(status) && wanted_status(status));
}

/// A short phrase for a status, as the tables show it.
pub(crate) fn describe(status: &Status) -> String {
    match status {
        Status::Linked => "linked".to_owned(),
        Status::WillHardMatch => "will hard-match".to_owned(),
        Status::WillSoftMatch { attribute } => format!("will soft-match on {}", attribute.name()),
        Status::WillCreate => "will create a new cloud user".to_owned(),
        Status::Blocked { reason } => format!(
            "blocked: {}",
            match reason {
                BlockReason::AdminRole => "target has an admin role".to_owned(),
                BlockReason::PimEligibility => "target is PIM-eligible for a role".to_owned(),
                BlockReason::ObjectIdentifier =>
                    "target's onPremisesObjectIdentifier is set".to_owned(),
                BlockReason::TenantFlag(flag) => format!("tenant flag {flag}"),
                BlockReason::SyncedFromOtherAnchor =>
                    "target is synced from another anchor".to_owned(),
                BlockReason::FederatedDomain => "target is in a federated domain".to_owned(),
            }
        ),
        Status::Conflicting { reason } => format!(
            "conflict: {}",
            match reason {
                ConflictReason::InvalidSoftMatch =>
                    "InvalidSoftMatch (candidate holds another ImmutableID)",
                ConflictReason::UpnConflict => "UPN also on another object",
                ConflictReason::ProxyAddressConflict => "proxy address also on another object",
                ConflictReason::ImmutableIdHeldByOther => "ImmutableID held by another object",
                ConflictReason::SyncCreatedDuplicate => "joined to a duplicate the sync created",
                ConflictReason::QuarantinedAttribute => "a value is quarantined",
                ConflictReason::DuplicateSourceAnchor => "another AD object has the same anchor",
            }
        ),
        Status::OutOfScope => "out of sync scope".to_owned(),
    }
}

fn render_text(
    diagnosis: &Diagnosis,
    tenant: &TenantSnapshot,
    arguments: &StatusArgs,
    out: &mut Blocks<'_>,
) -> std::io::Result<()> {
    let total: u64 = diagnosis.summary.values().sum();
    let text = &mut out.text;
    text.push_str(&format!(
        "Tenant {} · tenant state of {} · {total} AD users\n\n",
        tenant.tenant.initial_domain, diagnosis.taken_at
    ));
    for name in Status::NAMES {
        let count = diagnosis.summary.get(name).copied().unwrap_or_default();
        text.push_str(&format!("  {name:<16} {count:>8}\n"));
    }
    let shown: Vec<&str> = if arguments.statuses.is_empty() {
        Status::NAMES
            .into_iter()
            .filter(|name| !matches!(*name, "linked" | "out_of_scope"))
            .collect()
    } else {
        arguments.statuses.iter().map(String::as_str).collect()
    };
    for name in shown {
        // Borrowed cells: a million-row table would otherwise copy every name once more
        // only to print it. Status phrases are few, so each is made once; an evidence line
        // that describes a cloud user is written here, for this table only.
        let mut phrases: Vec<(&Status, String)> = Vec::new();
        let selected: Vec<&UserStatus> = diagnosis
            .users
            .iter()
            .filter(|user| user.status.name() == name)
            .collect();
        for user in &selected {
            if !phrases.iter().any(|(status, _)| *status == &user.status) {
                phrases.push((&user.status, describe(&user.status)));
            }
        }
        write_table(
            out,
            name,
            &["AD USER", "STATUS", "CLOUD ACCOUNT", "EVIDENCE"],
            &selected,
            |user| {
                [
                    user.user_principal_name()
                        .unwrap_or(user.distinguished_name()),
                    phrases
                        .iter()
                        .find(|(status, _)| *status == &user.status)
                        .map_or("", |(_, phrase)| phrase.as_str()),
                    user.cloud_user_principal_name().unwrap_or("-"),
                ]
            },
            |user, text| {
                if let Some(evidence) = user.evidence.first() {
                    write_display(text, &evidence.detail);
                }
            },
        )?;
    }
    // Hundreds of thousands of findings at a million users: borrowed cells, each kind's
    // name made once, like the statuses' phrases, and each detail written straight out.
    let finding_names = KindNames::of(diagnosis.tenant_findings.iter().map(|finding| finding.kind));
    write_table(
        out,
        "tenant findings",
        &["FINDING", "CLOUD ACCOUNT", "DETAIL"],
        &diagnosis.tenant_findings,
        |finding| {
            [
                finding_names.of_kind(&finding.kind),
                finding.user_principal_name,
            ]
        },
        |finding, text| write_display(text, &finding.detail),
    )?;
    let hygiene_names = KindNames::of(diagnosis.hygiene.iter().map(|finding| finding.kind));
    write_table(
        out,
        "on-premises hygiene",
        &["PROBLEM", "ATTRIBUTE", "VALUE", "DETAIL"],
        &diagnosis.hygiene,
        |finding| {
            [
                hygiene_names.of_kind(&finding.kind),
                finding.attribute.as_str(),
                finding.value.as_str(),
            ]
        },
        |finding, text| text.push_str(&finding.detail),
    )
}

/// Writes a titled table, a row at a time, into the output's blocks. The leading columns
/// (`cells`) are measured over all rows first; the last is not padded, so `last` writes it
/// straight from its row, and no table is held whole, nor any of its longest cells. An
/// empty table is left out. A long table is measured in two halves and written a few
/// thousand rows at a time, two at once, on two cores: a million rows took most of a
/// second on one.
fn write_table<'row, Row: Sync, const LEADING: usize>(
    out: &mut Blocks<'_>,
    title: &str,
    header: &[&str],
    rows: &'row [Row],
    cells: impl Fn(&'row Row) -> [&'row str; LEADING] + Sync,
    last: impl Fn(&'row Row, &mut String) + Sync,
) -> std::io::Result<()> {
    /// Rows written at a time.
    const ROWS_PER_PIECE: usize = 4096;
    if rows.is_empty() {
        return Ok(());
    }
    out.text.push_str(&format!("\n{title} ({})\n", rows.len()));
    let measure = |rows: &'row [Row]| table::Columns::measure(header, rows.iter().map(&cells));
    let columns = if rows.len() < parallel::ITEMS_WORTH_A_THREAD {
        measure(rows)
    } else {
        let (first, second) = rows.split_at(rows.len() / 2);
        let (first, second) = parallel::both(|| measure(first), || measure(second));
        first.widest_of(&second)
    };
    columns.row(&mut out.text, header);
    let piece = |number: usize| {
        let start = number * ROWS_PER_PIECE;
        let mut text = String::new();
        for row in &rows[start..rows.len().min(start + ROWS_PER_PIECE)] {
            columns.row_with_last(&mut text, &cells(row), |text| last(row, text));
        }
        text
    };
    let pieces = rows.len().div_ceil(ROWS_PER_PIECE);
    parallel::in_order_by_twos(pieces, rows.len(), piece, |text| {
        out.text.push_str(&text);
        out.pass_on_when_full()
    })
}

/// Appends a value's text: writing to a String cannot fail.
fn write_display(text: &mut String, value: &impl std::fmt::Display) {
    let _ = std::fmt::Write::write_fmt(text, format_args!("{value}"));
}

/// The JSON names of the few kinds a list of findings has, made once each.
struct KindNames<Kind>(Vec<(Kind, String)>);

impl<Kind: PartialEq + serde::Serialize> KindNames<Kind> {
    fn of(kinds: impl Iterator<Item = Kind>) -> Self {
        let mut names: Vec<(Kind, String)> = Vec::new();
        for kind in kinds {
            if !names.iter().any(|(known, _)| *known == kind) {
                let name = json_name(&kind);
                names.push((kind, name));
            }
        }
        Self(names)
    }

    fn of_kind(&self, kind: &Kind) -> &str {
        self.0
            .iter()
            .find(|(known, _)| known == kind)
            .map_or("", |(_, name)| name.as_str())
    }
}

fn render_csv(diagnosis: &Diagnosis, out: &mut Blocks<'_>) -> std::io::Result<()> {
    out.text.push_str(
        "distinguished_name,user_principal_name,sam_account_name,immutable_id,status,detail,cloud_user_id,cloud_user_principal_name,evidence\n",
    );
    for user in &diagnosis.users {
        let evidence: Vec<Cow<'_, str>> = user
            .evidence
            .iter()
            .map(|evidence| evidence.detail.text())
            .collect();
        let fields = [
            user.distinguished_name(),
            user.user_principal_name().unwrap_or_default(),
            user.sam_account_name().unwrap_or_default(),
            user.immutable_id(),
            user.status.name(),
            &describe(&user.status),
            user.cloud_user_id().unwrap_or_default(),
            user.cloud_user_principal_name().unwrap_or_default(),
            &evidence.join("; "),
        ];
        let row: Vec<String> = fields.iter().map(|field| table::csv_field(field)).collect();
        out.text.push_str(&row.join(","));
        out.text.push('\n');
        out.pass_on_when_full()?;
    }
    Ok(())
}

/// The snake_case name serde gives a unit enum variant.
pub(crate) fn json_name(value: &impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    #[test]
    fn blocks_keep_a_character_split_across_writes_whole() {
        let printer = Printer::new(true, false);
        let mut blocks = Blocks::new(&printer);
        let bytes = "zoë".as_bytes();
        blocks.write_all(&bytes[..3]).unwrap();
        blocks.flush().unwrap();
        assert_eq!(blocks.text, "zo");
        blocks.write_all(&bytes[3..]).unwrap();
        blocks.flush().unwrap();
        assert_eq!(blocks.text, "zoë");
        assert!(blocks.partial.is_empty());
    }

    #[test]
    fn a_long_table_reads_as_one_measured_and_written_whole() {
        let printer = Printer::new(true, false);
        let mut blocks = Blocks::new(&printer);
        // The widest name is in the second half, and the rows fill several pieces.
        let rows: Vec<Vec<String>> = (0..10_000)
            .map(|number| {
                let name = if number == 9_000 {
                    "the widest name, ü".to_owned()
                } else {
                    format!("user{number}")
                };
                vec![name, format!("note {}", number % 7)]
            })
            .collect();
        write_table(
            &mut blocks,
            "users",
            &["NAME", "NOTE"],
            &rows,
            |row| [row[0].as_str()],
            |row, text| text.push_str(&row[1]),
        )
        .unwrap();
        let whole = table::render(&["NAME", "NOTE"], &rows);
        assert_eq!(blocks.text, format!("\nusers (10000)\n{whole}"));
    }

    #[test]
    fn blocks_check_a_full_batch_without_splitting_a_character() {
        let printer = Printer::new(true, false);
        let mut blocks = Blocks::new(&printer);
        // "ë" is two bytes: an odd length ends inside one.
        let text = "ë".repeat(Blocks::CHECKED_AT_ONCE);
        let odd = Blocks::CHECKED_AT_ONCE + 1;
        blocks.write_all(&text.as_bytes()[..odd]).unwrap();
        assert_eq!(blocks.text.len(), Blocks::CHECKED_AT_ONCE);
        assert_eq!(blocks.partial.len(), 1);
        blocks.write_all(&text.as_bytes()[odd..]).unwrap();
        blocks.flush().unwrap();
        assert_eq!(blocks.text, text);
    }
}
