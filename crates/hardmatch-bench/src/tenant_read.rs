//! Tenant read through the emulator (issue 8 item 3): `hardmatch snapshot tenant` against
//! a generated tenant served with 50 ms latency and the real quotas, counting the requests
//! in the emulator's log against the minimum a full read needs, ⌈M/999⌉ + ⌈D/999⌉ + the
//! fixed reads, and timing it against the latency floor of its longest request chain.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use crate::bench::{
    BenchArgs, Measured, data_dir, ratio, thousands, timed_accepting, timed_with_env_accepting,
};
use crate::emulator_process::{App, EmulatorProcess, SECRET_VARIABLE, ServedRequest};
use crate::output;

/// Graph's largest page of users.
const PAGE: usize = 999;

/// The reads a tenant snapshot cannot do without besides the user pages, one request
/// each: what the minimum's constant counts.
pub(crate) const FIXED_READS: [&str; 7] = [
    "token",
    "organization",
    "domains",
    "directory sync settings",
    "role definitions",
    "role assignments",
    "role eligibility schedules",
];

/// How the emulator's log splits one snapshot's requests.
#[derive(Clone, Debug, Default)]
pub(crate) struct RequestCount {
    pub(crate) active_pages: usize,
    pub(crate) deleted_pages: usize,
    /// Everything else, by `METHOD path`, in first-seen order.
    pub(crate) other: Vec<(String, usize)>,
    pub(crate) throttled: usize,
}

impl RequestCount {
    pub(crate) fn of(requests: &[ServedRequest]) -> Self {
        let mut count = Self::default();
        for request in requests {
            if request.status == 429 {
                count.throttled += 1;
            }
            let path = request.path.trim_end_matches('/');
            if request.method == "GET" && path.ends_with("/users") {
                count.active_pages += 1;
            } else if request.method == "GET"
                && path.ends_with("/directory/deletedItems/microsoft.graph.user")
            {
                count.deleted_pages += 1;
            } else {
                // The token path names the tenant; the document names no tenant of a run.
                let path = match request.path.split_once("/oauth2/") {
                    Some((_, rest)) => format!("/{{tenant}}/oauth2/{rest}"),
                    None => request.path.clone(),
                };
                let key = format!("{} {path}", request.method);
                match count.other.iter_mut().find(|(seen, _)| *seen == key) {
                    Some((_, seen)) => *seen += 1,
                    None => count.other.push((key, 1)),
                }
            }
        }
        count
    }

    pub(crate) fn total(&self) -> usize {
        self.active_pages + self.deleted_pages + self.other.iter().map(|(_, n)| n).sum::<usize>()
    }
}

pub(crate) struct Row {
    users: usize,
    active: usize,
    deleted: usize,
    requests: RequestCount,
    measured: Measured,
}

pub(crate) enum TenantRead {
    Measured {
        version: String,
        latency_milliseconds: u64,
        rows: Vec<Row>,
    },
    Skipped(String),
}

/// The minimum requests of a full read: every page of active and of deleted users (one
/// even when a collection is empty, to learn that it is) and the fixed reads.
pub(crate) fn minimum_requests(active: usize, deleted: usize) -> usize {
    active.div_ceil(PAGE).max(1) + deleted.div_ceil(PAGE).max(1) + FIXED_READS.len()
}

pub(crate) fn bench(
    this: &Path,
    arguments: &BenchArgs,
    version: &str,
    work: &Path,
) -> anyhow::Result<TenantRead> {
    if !arguments.hardmatch.exists() {
        return Ok(TenantRead::Skipped(format!(
            "the hardmatch CLI was not built ({})",
            arguments.hardmatch.display()
        )));
    }
    let mut rows = Vec::new();
    for &users in &arguments.tenant_read_sizes {
        let directory = data_dir(work, users);
        let fixture = directory.join("tenant.json");
        if !fixture.exists() {
            generate(this, arguments, users, &directory, &[], work)?;
        }
        let app = App::of_fixture(&fixture)?;
        output::message(&format!(
            "tenant read: {users} users, {} ms latency × {} runs",
            arguments.latency_ms, arguments.runs
        ));
        let emulator =
            EmulatorProcess::start(&arguments.hardmatch, &fixture, arguments.latency_ms, false)?;
        let snapshot = work.join(format!("tenant-read-{users}.json"));
        let mut snapshot_args = vec!["snapshot".to_owned(), "tenant".to_owned()];
        snapshot_args.extend(emulator.tenant_flags(&app));
        snapshot_args.extend(["-o".to_owned(), snapshot.display().to_string()]);
        let mut samples = Vec::new();
        let mut requests = RequestCount::default();
        for _ in 0..arguments.runs {
            emulator.clear_requests()?;
            samples.push(timed_with_env_accepting(
                &arguments.hardmatch,
                &snapshot_args,
                None,
                work,
                &[(SECRET_VARIABLE, &app.client_secret)],
                &[0],
            )?);
            // Every run reads the same tenant the same way; the last run's log is reported.
            requests = RequestCount::of(&emulator.requests()?);
        }
        let read: hardmatch_core::tenant::TenantSnapshot = serde_json::from_slice(
            &std::fs::read(&snapshot).with_context(|| format!("reading {}", snapshot.display()))?,
        )
        .context("the snapshot hardmatch wrote does not parse")?;
        let deleted = read
            .users
            .iter()
            .filter(|user| user.deleted_date_time.is_some())
            .count();
        rows.push(Row {
            users,
            active: read.users.len() - deleted,
            deleted,
            requests,
            measured: Measured::of(&samples),
        });
    }
    Ok(TenantRead::Measured {
        version: version.to_owned(),
        latency_milliseconds: arguments.latency_ms,
        rows,
    })
}

/// Runs the generator for `users` AD users into `directory`, with extra rate flags.
pub(crate) fn generate(
    this: &Path,
    arguments: &BenchArgs,
    users: usize,
    directory: &Path,
    rates: &[&str],
    work: &Path,
) -> anyhow::Result<()> {
    output::message(&format!(
        "generating {users} users into {}",
        directory.display()
    ));
    let mut gen_args = vec![
        "gen".to_owned(),
        "--seed".to_owned(),
        arguments.seed.to_string(),
        "--users".to_owned(),
        users.to_string(),
        "--out-dir".to_owned(),
        directory.display().to_string(),
    ];
    gen_args.extend(rates.iter().map(|&rate| rate.to_owned()));
    timed_accepting(this, &gen_args, None, work, &[0]).map(drop)
}

pub(crate) fn render(text: &mut String, section: &TenantRead) {
    let _ = writeln!(text, "\n## Tenant read through the emulator\n");
    let (version, latency, rows) = match section {
        TenantRead::Measured {
            version,
            latency_milliseconds,
            rows,
        } => (version, latency_milliseconds, rows),
        TenantRead::Skipped(reason) => {
            let _ = writeln!(text, "Not measured in this run: {reason}.");
            return;
        }
    };
    let _ = writeln!(
        text,
        "`hardmatch snapshot tenant` ({version}) against `hardmatch emulator --latency-ms {latency}` \
         serving the generator's tenant.json (throttling on: the resource-unit bucket of the \
         tenant's size tier and the write quotas). Requests are counted in the emulator's \
         request log. Minimum = ⌈M/999⌉ + ⌈D/999⌉ + {} (M active users, D deleted users, at \
         least one page each; the constant counts the fixed reads: {}). The latency floor is \
         the longest chain of requests that must follow one another, the active-user pages \
         after the token, × {latency} ms: what any client paging sequentially pays, \
         whatever its speed.\n\n\
         | Cloud users | Active (M) | Deleted (D) | Requests | Minimum | Extra | Wall (median) | Wall (fastest–slowest) | Latency floor | Wall / floor | CPU | Peak RSS |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        FIXED_READS.len(),
        FIXED_READS.join(", "),
    );
    for row in rows {
        let minimum = minimum_requests(row.active, row.deleted);
        let floor = (row.active.div_ceil(PAGE).max(1) + 1) as f64 * *latency as f64 / 1000.0;
        let _ = writeln!(
            text,
            "| {} | {} | {} | {} | {} | {} | {:.2} s | {:.2}–{:.2} s | {:.2} s | {:.2}× | {:.2} s | {:.0} MiB |",
            thousands(row.active + row.deleted),
            thousands(row.active),
            thousands(row.deleted),
            row.requests.total(),
            minimum,
            row.requests.total() as i64 - minimum as i64,
            row.measured.wall_seconds,
            row.measured.fastest_wall_seconds,
            row.measured.slowest_wall_seconds,
            floor,
            ratio(row.measured.wall_seconds, floor),
            row.measured.cpu_seconds,
            row.measured.rss_mib(),
        );
    }
    if let Some(row) = rows.last() {
        let others: Vec<String> = row
            .requests
            .other
            .iter()
            .map(|(request, count)| format!("`{request}` × {count}"))
            .collect();
        let _ = writeln!(
            text,
            "\nAt {} users the log held {} active-user pages, {} deleted-user pages and: {}. \
             {} answered 429.",
            thousands(row.users),
            row.requests.active_pages,
            row.requests.deleted_pages,
            others.join(", "),
            row.requests.throttled,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served(method: &str, path: &str, status: u16) -> ServedRequest {
        ServedRequest {
            method: method.to_owned(),
            path: path.to_owned(),
            status,
        }
    }

    #[test]
    fn the_minimum_counts_pages_of_999_and_the_fixed_reads() {
        assert_eq!(minimum_requests(999, 0), 1 + 1 + 7);
        assert_eq!(minimum_requests(1_000, 1_998), 2 + 2 + 7);
        assert_eq!(minimum_requests(100_000, 2_000), 101 + 3 + 7);
    }

    #[test]
    fn the_log_splits_into_pages_and_the_rest() {
        let count = RequestCount::of(&[
            served("POST", "/tenant/oauth2/v2.0/token", 200),
            served("GET", "/v1.0/users", 200),
            served("GET", "/v1.0/users", 429),
            served("GET", "/v1.0/users/$count", 200),
            served(
                "GET",
                "/v1.0/directory/deletedItems/microsoft.graph.user",
                200,
            ),
            served("GET", "/v1.0/users/$count", 200),
        ]);
        assert_eq!(count.active_pages, 2);
        assert_eq!(count.deleted_pages, 1);
        assert_eq!(count.throttled, 1);
        assert_eq!(
            count.other,
            [
                ("POST /{tenant}/oauth2/v2.0/token".to_owned(), 1),
                ("GET /v1.0/users/$count".to_owned(), 2)
            ]
        );
        assert_eq!(count.total(), 6);
    }
}
