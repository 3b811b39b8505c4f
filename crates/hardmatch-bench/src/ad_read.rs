//! The AD read benchmark: `hardmatch snapshot ad` against OpenLDAP's `ldapsearch` on the
//! Samba lab's OU=Bulk (issue 8, section 2).
//!
//! Both clients read from the same local Samba DC, so besides each client's wall time and
//! CPU the section measures the server's CPU during each run (from `/proc`): that share
//! is the floor under both clients, and what is left above it is the client's.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::bail;
use hardmatch_ad::{DEFAULT_USER_FILTER, USER_ATTRIBUTES};

use crate::bench::{
    BenchArgs, Measured, Sample, hardmatch_version, median, ratio, thousands, timed, timed_with_env,
};
use crate::output;

/// Lab settings from `eval "$(scripts/ad-lab env)"`.
struct Lab {
    url: String,
    bind_dn: String,
    password: String,
    base_dn: String,
    ca_cert: String,
}

impl Lab {
    fn from_environment() -> Option<Self> {
        let variable = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        Some(Self {
            url: variable("HARDMATCH_LAB_LDAPS_URL")?,
            bind_dn: variable("HARDMATCH_LAB_BIND_DN")?,
            password: variable("HARDMATCH_LAB_BIND_PASSWORD")?,
            base_dn: variable("HARDMATCH_LAB_BASE_DN")?,
            ca_cert: variable("HARDMATCH_LAB_CA_CERT")?,
        })
    }
}

/// ldapsearch asks for what hardmatch-ad asks for, with the same filter.
const AD_ATTRIBUTES: [&str; USER_ATTRIBUTES.len()] = USER_ATTRIBUTES;
const AD_FILTER: &str = DEFAULT_USER_FILTER;

/// Linux reports process CPU in `/proc/<pid>/stat` in USER_HZ ticks, 100 per second on
/// every architecture hardmatch builds for.
const TICKS_PER_SECOND: f64 = 100.0;

pub(crate) struct AdReadRow {
    /// `hardmatch --version`, to name the build that was measured.
    version: String,
    base_dn: String,
    users: usize,
    hardmatch: Measured,
    ldapsearch: Measured,
    /// Median CPU seconds the lab's Samba processes spent during each client's runs; `None`
    /// when no Samba process could be read (a lab on another machine).
    server_cpu: Option<ServerCpu>,
    /// One-minute load averages before and after the section, to judge its noise.
    load: (Option<f64>, Option<f64>),
}

struct ServerCpu {
    hardmatch: f64,
    ldapsearch: f64,
}

pub(crate) enum AdRead {
    Measured(AdReadRow),
    Skipped(String),
}

/// One timed run and the Samba CPU it caused.
fn with_server_cpu(
    run: impl FnOnce() -> anyhow::Result<Sample>,
) -> anyhow::Result<(Sample, Option<f64>)> {
    let before = samba_cpu_seconds();
    let sample = run()?;
    let after = samba_cpu_seconds();
    Ok((
        sample,
        before.zip(after).map(|(before, after)| after - before),
    ))
}

/// CPU seconds (user + system) used so far by every process of this machine whose command
/// line starts with `samba` (the root process, the LDAP workers, the KDC's); `None` when
/// there is none or `/proc` cannot be read.
fn samba_cpu_seconds() -> Option<f64> {
    let mut ticks: u64 = 0;
    let mut found = false;
    for process in std::fs::read_dir("/proc").ok()?.flatten() {
        let path = process.path();
        let Ok(command_line) = std::fs::read(path.join("cmdline")) else {
            continue;
        };
        if !command_line.starts_with(b"samba") {
            continue;
        }
        if let Some(used) = std::fs::read_to_string(path.join("stat"))
            .ok()
            .as_deref()
            .and_then(cpu_ticks)
        {
            ticks += used;
            found = true;
        }
    }
    found.then(|| ticks as f64 / TICKS_PER_SECOND)
}

/// utime + stime of a `/proc/<pid>/stat` line, in ticks.
fn cpu_ticks(stat: &str) -> Option<u64> {
    // The command name in parentheses may hold spaces and parentheses; the fields after
    // its last `)` do not.
    let (_, fields) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = fields.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    Some(user + system)
}

fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `hardmatch snapshot ad` against OpenLDAP's `ldapsearch` (paged, 1000 per page, the
/// same attributes, filter and server), alternating runs.
pub(crate) fn bench(arguments: &BenchArgs, work: &Path) -> anyhow::Result<AdRead> {
    if !arguments.hardmatch.exists() {
        return Ok(AdRead::Skipped(format!(
            "the hardmatch CLI was not built ({})",
            arguments.hardmatch.display()
        )));
    }
    let Some(lab) = Lab::from_environment() else {
        return Ok(AdRead::Skipped(
            "the Samba lab's settings were not in the environment (eval \"$(scripts/ad-lab env)\")"
                .to_owned(),
        ));
    };
    let ldapsearch = Path::new("/usr/bin/ldapsearch");
    if !ldapsearch.exists() {
        return Ok(AdRead::Skipped(
            "ldapsearch (ldap-utils) is not installed".to_owned(),
        ));
    }
    let base_dn = arguments
        .ad_read_base_dn
        .clone()
        .unwrap_or_else(|| format!("OU=Bulk,{}", lab.base_dn));
    // ldapsearch and hardmatch both verify the lab's certificate against its CA.
    let ldapsearch_args: Vec<String> = [
        "-LLL",
        "-x",
        "-H",
        &lab.url,
        "-D",
        &lab.bind_dn,
        "-w",
        &lab.password,
        "-E",
        "pr=1000/noprompt",
        "-b",
        &base_dn,
        AD_FILTER,
    ]
    .iter()
    .map(|&text| text.to_owned())
    .chain(AD_ATTRIBUTES.iter().map(|&name| name.to_owned()))
    .collect();
    let snapshot = work.join("ad-read.json");
    let hardmatch_args: Vec<String> = [
        "snapshot",
        "ad",
        "--ldap-url",
        &lab.url,
        "--base-dn",
        &base_dn,
        "--bind-dn",
        &lab.bind_dn,
        "--bind-password-env",
        "HARDMATCH_LAB_BIND_PASSWORD",
        "--ca-cert",
        &lab.ca_cert,
        "-o",
        &snapshot.display().to_string(),
    ]
    .iter()
    .map(|&text| text.to_owned())
    .collect();
    let ldif = work.join("ad-read.ldif");
    output::message(&format!(
        "AD read: {base_dn}, hardmatch vs ldapsearch × {} runs",
        arguments.runs
    ));
    let load_before = load_average();
    let run_ldapsearch = || {
        timed_with_env(
            ldapsearch,
            &ldapsearch_args,
            Some(&ldif),
            work,
            &[
                ("LDAPTLS_CACERT", &lab.ca_cert),
                ("LDAPTLS_REQCERT", "demand"),
            ],
        )
    };
    let run_hardmatch = || timed(&arguments.hardmatch, &hardmatch_args, None, work);
    // One untimed run of each warms Samba's caches, so that neither side pays for the
    // other's cold start.
    run_ldapsearch()?;
    run_hardmatch()?;
    let mut hardmatch = Vec::new();
    let mut baseline = Vec::new();
    let mut hardmatch_server = Vec::new();
    let mut baseline_server = Vec::new();
    for _ in 0..arguments.runs {
        let (sample, server) = with_server_cpu(run_hardmatch)?;
        hardmatch.push(sample);
        hardmatch_server.extend(server);
        let (sample, server) = with_server_cpu(run_ldapsearch)?;
        baseline.push(sample);
        baseline_server.extend(server);
    }
    let load_after = load_average();
    let ldif_text = std::fs::read_to_string(&ldif).unwrap_or_default();
    let entries = ldif_text
        .lines()
        .filter(|line| line.starts_with("dn:"))
        .count();
    let snapshot_users = std::fs::read(&snapshot)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<hardmatch_core::ad::AdSnapshot>(&bytes).ok())
        .map(|snapshot| snapshot.users.len());
    if snapshot_users != Some(entries) {
        bail!(
            "hardmatch read {snapshot_users:?} users but ldapsearch returned {entries} entries from {base_dn}"
        );
    }
    let server_cpu = (hardmatch_server.len() == arguments.runs
        && baseline_server.len() == arguments.runs)
        .then(|| ServerCpu {
            hardmatch: median(&hardmatch_server),
            ldapsearch: median(&baseline_server),
        });
    Ok(AdRead::Measured(AdReadRow {
        version: hardmatch_version(arguments),
        base_dn,
        users: entries,
        hardmatch: Measured::of(&hardmatch),
        ldapsearch: Measured::of(&baseline),
        server_cpu,
        load: (load_before, load_after),
    }))
}

pub(crate) fn render(text: &mut String, ad_read: &AdRead) {
    // Writing to a String cannot fail; the results are ignored with that knowledge.
    let _ = writeln!(
        text,
        "\n## AD read: hardmatch against OpenLDAP's ldapsearch\n"
    );
    let row = match ad_read {
        AdRead::Measured(row) => row,
        AdRead::Skipped(reason) => {
            let _ = writeln!(text, "{}{reason}.", crate::bench::NOT_MEASURED);
            return;
        }
    };
    let measured = ratio(row.hardmatch.wall_seconds, row.ldapsearch.wall_seconds);
    let server_row =
        |cpu: Option<f64>| cpu.map_or("not measured".to_owned(), |cpu| format!("{cpu:.2} s"));
    let _ = writeln!(
        text,
        "`hardmatch snapshot ad` against `ldapsearch -E pr=1000/noprompt` with the same \
         filter (`{AD_FILTER}`), the same {} attributes and the same Samba lab server over \
         LDAPS, base `{}`; ldapsearch writes LDIF, hardmatch (`{}`) writes the JSON \
         snapshot. One untimed warm-up run each, then alternating runs. CPU is the \
         client's user + system time; server CPU is what the lab's Samba processes used \
         during the same runs.\n\n\
         | | Wall (median) | Wall (fastest–slowest) | Client CPU | Server CPU | Peak RSS |\n\
         |---|---:|---:|---:|---:|---:|\n\
         | hardmatch | {:.2} s | {:.2}–{:.2} s | {:.2} s | {} | {:.0} MiB |\n\
         | ldapsearch | {:.2} s | {:.2}–{:.2} s | {:.2} s | {} | {:.0} MiB |\n\n\
         {} users. Ratio {:.2}×; goal ≤ 1.2×: {}.",
        AD_ATTRIBUTES.len(),
        row.base_dn,
        row.version,
        row.hardmatch.wall_seconds,
        row.hardmatch.fastest_wall_seconds,
        row.hardmatch.slowest_wall_seconds,
        row.hardmatch.cpu_seconds,
        server_row(row.server_cpu.as_ref().map(|server| server.hardmatch)),
        row.hardmatch.rss_mib(),
        row.ldapsearch.wall_seconds,
        row.ldapsearch.fastest_wall_seconds,
        row.ldapsearch.slowest_wall_seconds,
        row.ldapsearch.cpu_seconds,
        server_row(row.server_cpu.as_ref().map(|server| server.ldapsearch)),
        row.ldapsearch.rss_mib(),
        thousands(row.users),
        measured,
        if measured <= 1.2 {
            format!(
                "met, {:.0}% under the limit",
                (1.0 - measured / 1.2) * 100.0
            )
        } else {
            format!("missed by {:.0}%", (measured / 1.2 - 1.0) * 100.0)
        },
    );
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let load =
        |value: Option<f64>| value.map_or("unknown".to_owned(), |value| format!("{value:.2}"));
    let extra_cpu = row.hardmatch.cpu_seconds - row.ldapsearch.cpu_seconds;
    let extra_wall = row.hardmatch.wall_seconds - row.ldapsearch.wall_seconds;
    let _ = write!(
        text,
        "\nWhere the time goes: the one-minute load average was {} before the section and {} \
         after it, on {cores} cores; other work on the machine slows both clients alike but \
         widens the spread. ",
        load(row.load.0),
        load(row.load.1),
    );
    if let Some(server) = &row.server_cpu {
        let _ = write!(
            text,
            "Samba serves one connection's paged search on one worker, and spent {:.2} s of CPU \
             on ldapsearch's read ({:.0}% of its wall time) and {:.2} s on hardmatch's: the \
             server is the floor under both. ",
            server.ldapsearch,
            server.ldapsearch / row.ldapsearch.wall_seconds.max(1e-9) * 100.0,
            server.hardmatch,
        );
    }
    let _ = writeln!(
        text,
        "hardmatch spends {extra_cpu:.2} s more client CPU than ldapsearch (TLS and BER in \
         ldap3, decoding entries into typed users, sorting by DN, writing and syncing the \
         JSON), most of it on another thread while the next page is fetched, and takes \
         {extra_wall:.2} s more wall time."
    );
    if measured > 1.2 {
        // What client CPU does not explain is waiting between pages.
        let pages = row.users.div_ceil(1000).max(1);
        let unexplained = (extra_wall - extra_cpu.max(0.0)).max(0.0);
        let _ = writeln!(
            text,
            "\nWhy the goal is missed: the server does the same work for both, so the gap is on \
             the client side. On this {cores}-core machine hardmatch's extra CPU competes with \
             Samba, which is busy for the whole read. The remaining {unexplained:.2} s ({:.0} ms \
             per page over {pages} pages) is extra waiting between pages, a per-request latency \
             of hardmatch's LDAP client to look for.",
            unexplained * 1000.0 / pages as f64,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_read_after_a_command_name_with_spaces_and_parentheses() {
        let stat = "29420 (ldap(0) x) S 29419 29398 29398 0 -1 4194624 6131 0 0 0 3661 485 0 0 20 0 1 0 2201 0";
        assert_eq!(cpu_ticks(stat), Some(3661 + 485));
        assert_eq!(cpu_ticks("29420 (samba) S 1 2"), None);
        assert_eq!(cpu_ticks("no parentheses"), None);
    }

    fn measured(wall_seconds: f64, cpu_seconds: f64) -> Measured {
        Measured {
            wall_seconds,
            peak_rss_kib: 1024,
            cpu_seconds,
            fastest_wall_seconds: wall_seconds,
            slowest_wall_seconds: wall_seconds,
        }
    }

    fn rendered(hardmatch_wall: f64, server_cpu: Option<ServerCpu>) -> String {
        let mut text = String::new();
        render(
            &mut text,
            &AdRead::Measured(AdReadRow {
                version: "hardmatch 0.1.0".to_owned(),
                base_dn: "OU=Bulk,DC=hardmatch,DC=test".to_owned(),
                users: 100_000,
                hardmatch: measured(hardmatch_wall, 1.8),
                ldapsearch: measured(10.0, 0.5),
                server_cpu,
                load: (Some(0.5), None),
            }),
        );
        text
    }

    #[test]
    fn the_section_says_met_with_the_margin_or_missed_with_why() {
        let met = rendered(
            11.0,
            Some(ServerCpu {
                hardmatch: 9.1,
                ldapsearch: 9.0,
            }),
        );
        assert!(
            met.contains("Ratio 1.10×; goal ≤ 1.2×: met, 8% under the limit."),
            "{met}"
        );
        assert!(
            met.contains("| 9.10 s |") && met.contains("| 9.00 s |"),
            "{met}"
        );
        assert!(met.contains("spent 9.00 s of CPU on ldapsearch's read (90% of its wall time)"));
        assert!(met.contains("was 0.50 before the section and unknown after it"));
        assert!(!met.contains("Why the goal is missed"));

        let missed = rendered(15.0, None);
        assert!(
            missed.contains("Ratio 1.50×; goal ≤ 1.2×: missed by 25%."),
            "{missed}"
        );
        assert!(missed.contains("| not measured |"));
        assert!(!missed.contains("of CPU on ldapsearch's read"));
        assert!(missed.contains("Why the goal is missed"));
        assert!(missed.contains("1.30 s more client CPU"));
    }

    #[test]
    fn a_skipped_section_says_why() {
        let mut text = String::new();
        render(
            &mut text,
            &AdRead::Skipped("the lab is not running".to_owned()),
        );
        assert!(text.ends_with("Not measured in this run: the lab is not running.\n"));
    }
}
