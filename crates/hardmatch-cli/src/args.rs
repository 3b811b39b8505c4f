//! The command-line interface definition, from which help, completions and the man page
//! are generated.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const CONVERT_EXAMPLES: &str = "\
Examples:
  hardmatch convert 20e8847b-03bc-43c8-a93b-175bb489058a
  hardmatch convert e4ToILwDyEOpOxdbtIkFig== --json
  Get-ADUser -Filter * | Select ObjectGUID | Export-Csv g.csv   # on Windows, then:
  hardmatch convert - < g.csv";

/// Link on-premises Active Directory users to their existing Entra ID accounts.
#[derive(Debug, Parser)]
#[command(name = "hardmatch", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Print only data and errors.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// More detail on stderr: -v for progress details, -vv for debugging.
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// When to colour output; `NO_COLOR` in the environment means never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Configuration file with named profiles [default: ./hardmatch.toml; env: HARDMATCH_CONFIG].
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Profile of the configuration file to use [env: HARDMATCH_PROFILE].
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Resolves `auto` against `NO_COLOR` and whether stderr is a terminal.
    pub fn enabled(self) -> bool {
        use std::io::IsTerminal as _;
        match self {
            Self::Always => true,
            Self::Never => false,
            Self::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
                    && std::io::stderr().is_terminal()
            }
        }
    }
}

// Parsed once per process; boxing the large variants would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show an anchor in every form: GUID, ImmutableID, hex, LDAP filter, connector-space DN.
    #[command(after_help = CONVERT_EXAMPLES)]
    Convert(ConvertArgs),
    /// Save a point-in-time copy of AD or the tenant, for review, offline planning or rehearsal.
    #[command(subcommand, after_help = SNAPSHOT_EXAMPLES)]
    Snapshot(SnapshotCommand),
    /// Show every AD user's status and what the next sync will do, with evidence.
    #[command(after_help = STATUS_EXAMPLES)]
    Status(StatusArgs),
    /// Work out the exact, safe changes that link the chosen users, and write them to a plan
    /// file for review. It prints the plan's first 50 users and actions; `hardmatch show`
    /// renders all of it. Exit status: 0 no changes needed, 2 the plan has changes, 1 error.
    #[command(after_help = PLAN_EXAMPLES)]
    Plan(PlanArgs),
    /// Show a plan file for review: what changes, what is irreversible, what a takeover
    /// overwrites; or the equivalent Microsoft Graph PowerShell.
    #[command(after_help = SHOW_EXAMPLES)]
    Show(ShowArgs),
    /// Write the diagnosis (and a plan, with --plan) as one self-contained HTML file for
    /// reviewers without a terminal: status chart, conflicts side by side, plan actions with
    /// the irreversible ones marked, and a filter and search that work offline.
    #[command(after_help = REPORT_EXAMPLES)]
    Report(ReportArgs),
    /// Run the bundled Entra ID emulator (Graph, sign-in, Entra Connect's sync cycle), for
    /// tests, demos and rehearsals; `hardmatch emulator sync` runs a sync cycle on it.
    #[command(args_conflicts_with_subcommands = true, after_help = EMULATOR_EXAMPLES)]
    Emulator(EmulatorArgs),
    /// Execute a reviewed plan: re-read every target, refuse what changed, journal every
    /// write before and after it is sent. `--resume` continues an interrupted run.
    ///
    /// It shows the plan's first 50 users and actions before asking; `hardmatch show`
    /// renders all of it.
    #[command(after_help = APPLY_EXAMPLES)]
    Apply(ApplyArgs),
    /// Reverse a run's reversible changes (restores, previous ImmutableIDs, AD values), as a
    /// journaled run of its own; says what cannot be reversed.
    #[command(after_help = UNDO_EXAMPLES)]
    Undo(UndoArgs),
    /// Start a sync cycle (Entra Connect, Cloud Sync or the emulator); `--wait` waits for it.
    #[command(after_help = SYNC_EXAMPLES)]
    Sync(SyncArgs),
    /// Check that a plan's (or a run's) links took effect, and say what is pending.
    #[command(after_help = VERIFY_EXAMPLES)]
    Verify(VerifyArgs),
    /// List the workspace's runs: who, when, what, outcome (an audit log).
    #[command(after_help = HISTORY_EXAMPLES)]
    History(HistoryArgs),
    /// A guided tour on this machine, with no tenant and no AD: a bundled tenant of a few
    /// hundred users in the built-in emulator goes through status, plan, apply, sync and
    /// verify, each step explained.
    #[command(after_help = DEMO_EXAMPLES)]
    Demo(DemoArgs),
    /// Predict a plan's outcome without touching the tenant: apply it to an emulated copy
    /// of a tenant snapshot, run the sync cycle, and report who ends up linked, who stays
    /// broken and why, and any new duplicate.
    #[command(after_help = REHEARSE_EXAMPLES)]
    Rehearse(RehearseArgs),
    /// Print a shell completion script, e.g. `hardmatch completions bash > /etc/bash_completion.d/hardmatch`.
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `hardmatch man > /usr/local/share/man/man1/hardmatch.1`.
    #[command(after_help = MAN_EXAMPLES)]
    Man,
}

const SHOW_EXAMPLES: &str = "\
Examples:
  hardmatch show plan.json                  # per user: actions, what is irreversible, what a takeover overwrites
  hardmatch show plan.json --powershell     # the same steps as Microsoft Graph PowerShell, to compare or run by hand
  hardmatch show plan.json --json | jq '.actions[] | select(.irreversible)'";

const UNDO_EXAMPLES: &str = "\
Examples:
  hardmatch history                                                  # find the run id
  hardmatch undo 20261120-090500-3f2a1c --tenant-id contoso.onmicrosoft.com --client-id ID --client-secret-env SECRET
  hardmatch undo 20261120-090500-3f2a1c --yes --sync-engine connect ...   # and start a sync cycle after

Purged users cannot be brought back; undo names them and reverses the rest.";

const SYNC_EXAMPLES: &str = "\
Examples:
  hardmatch sync                            # on the Entra Connect server (Windows): Start-ADSyncSyncCycle -PolicyType Delta
  hardmatch --profile contoso sync --wait   # and wait for the cycle; the profile signs in to the tenant
  hardmatch sync --sync-command \"ssh connect01 powershell -NoProfile -Command 'Start-ADSyncSyncCycle -PolicyType Delta'\" \\
      --wait --tenant-id contoso.onmicrosoft.com --client-id ID --client-secret-env SECRET
  hardmatch sync --engine cloud-sync --service-principal-id ID --job-id JOB --tenant-id … --client-id … --client-secret-env …
  hardmatch sync --engine emulator --emulator-url http://127.0.0.1:8080 --ad-snapshot ad.json

--wait watches the tenant's onPremisesLastSyncDateTime, so it needs the tenant's sign-in flags.";

const VERIFY_EXAMPLES: &str = "\
Examples:
  hardmatch verify plan.json --tenant-id contoso.onmicrosoft.com --client-id ID --client-secret-env SECRET
  hardmatch verify 20261120-090500-3f2a1c --json ...      # a run from `hardmatch history`

Each planned user is linked, pending (only the sync cycle is missing) or failed, with the next step.
Exit status: 0 when every user is linked, 1 otherwise.";

const HISTORY_EXAMPLES: &str = "\
Examples:
  hardmatch history                         # runs in ./.hardmatch, newest first
  hardmatch history --csv > audit.csv
  hardmatch history --workspace /srv/hardmatch/contoso --json";

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  hardmatch completions bash > /etc/bash_completion.d/hardmatch
  hardmatch completions zsh > \"${fpath[1]}/_hardmatch\"
  hardmatch completions powershell >> $PROFILE      # Windows PowerShell";

const MAN_EXAMPLES: &str = "\
Examples:
  hardmatch man > /usr/local/share/man/man1/hardmatch.1 && man hardmatch
  hardmatch man | man -l -";

const SNAPSHOT_EXAMPLES: &str = "\
Examples:
  hardmatch snapshot ad --ad-export users.csv -o ad.json
  hardmatch snapshot tenant --tenant-id contoso.onmicrosoft.com --device-code -o tenant.json
  hardmatch status --ad-snapshot ad.json --tenant-snapshot tenant.json   # then work offline";

const SNAPSHOT_AD_EXAMPLES: &str = "\
Examples:
  hardmatch snapshot ad --ldap-url ldaps://dc1.corp.contoso.com --base-dn DC=corp,DC=contoso,DC=com \\
      --bind-dn svc-hardmatch@corp.contoso.com --bind-password-env HARDMATCH_BIND_PASSWORD -o ad.json
  hardmatch snapshot ad --ad-export users.csv -o ad.json     # from Get-ADUser | Export-Csv";

#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Read AD users (live over LDAP(S), or from an export) into a snapshot file.
    #[command(after_help = SNAPSHOT_AD_EXAMPLES)]
    Ad(SnapshotAdArgs),
    /// Read the tenant's users (active and deleted), domains, sync state and role holders
    /// over Microsoft Graph into a snapshot file, which also loads as an emulator fixture.
    #[command(after_help = SNAPSHOT_TENANT_EXAMPLES)]
    Tenant(SnapshotTenantArgs),
}

const SNAPSHOT_TENANT_EXAMPLES: &str = "\
Examples:
  AZURE_CLIENT_SECRET=… hardmatch snapshot tenant --tenant-id contoso.onmicrosoft.com --client-id 1111… -o tenant.json
  hardmatch snapshot tenant --tenant-id contoso.onmicrosoft.com --device-code -o tenant.json";

#[derive(Debug, Args)]
pub struct SnapshotTenantArgs {
    #[command(flatten)]
    pub tenant: TenantSourceArgs,
    /// Where to write the snapshot (JSON); written whole or not at all.
    #[arg(long, short, value_name = "FILE")]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct SnapshotAdArgs {
    #[command(flatten)]
    pub ad: AdSourceArgs,
    /// Where to write the snapshot (JSON); written whole or not at all.
    #[arg(long, short, value_name = "FILE")]
    pub output: PathBuf,
}

const STATUS_EXAMPLES: &str = "\
Examples:
  hardmatch status --ad-snapshot ad.json --tenant-snapshot tenant.json
  hardmatch status --ad-snapshot ad.json --tenant-snapshot tenant.json --status will_create --csv > new.csv
  hardmatch status --ad-export users.csv --tenant-id contoso.onmicrosoft.com --device-code --user adele.vance@contoso.com

Exit status: 0 when the diagnosis ran (whatever it found), 1 on error.";

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub ad: AdSourceArgs,
    #[command(flatten)]
    pub tenant: TenantSourceArgs,
    #[command(flatten)]
    pub diagnosis: DiagnosisArgs,
    /// Only users with these statuses (linked, will_hard_match, will_soft_match, will_create,
    /// blocked, conflicting, out_of_scope). Without it, the tables show every status but
    /// linked and out_of_scope; the summary always counts all.
    #[arg(long = "status", value_name = "STATUS", value_parser = clap::builder::PossibleValuesParser::new(STATUS_NAMES))]
    pub statuses: Vec<String>,
    /// Only these users: UPN, sAMAccountName or distinguished name (case-insensitive).
    #[arg(long = "user", value_name = "USER")]
    pub users: Vec<String>,
    /// Print the diagnosis as JSON.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print one CSV row per user.
    #[arg(long)]
    pub csv: bool,
}

pub const STATUS_NAMES: [&str; 7] = hardmatch_core::diagnose::Status::NAMES;

/// How the next sync is predicted.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Sync prediction")]
pub struct DiagnosisArgs {
    /// Entra Connect's OU filter: only users under these containers are in sync scope.
    #[arg(long = "scope-ou", value_name = "DN")]
    pub scope_ous: Vec<String>,
    /// Containers excluded from sync scope even under a --scope-ou.
    #[arg(long = "exclude-ou", value_name = "DN")]
    pub exclude_ous: Vec<String>,
    /// The engine that syncs this forest; Cloud Sync soft-matches on primary SMTP only.
    #[arg(long, value_enum, default_value_t = EngineChoice::Connect)]
    pub engine: EngineChoice,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum EngineChoice {
    #[default]
    Connect,
    CloudSync,
}

const PLAN_EXAMPLES: &str = "\
Examples:
  hardmatch plan --ad-snapshot ad.json --tenant-snapshot tenant.json --user adele.vance@contoso.com -o plan.json
  hardmatch plan --ad-snapshot ad.json --tenant-snapshot tenant.json --mapping pairs.csv -o plan.json
  hardmatch plan --ad-snapshot ad.json --tenant-snapshot tenant.json --all-safe -o plan.json

A mapping file is CSV with a header `ad,cloud`: the AD user (sAMAccountName, UPN or objectGUID)
and the cloud account (UPN or object id) it must be linked to.";

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub ad: AdSourceArgs,
    #[command(flatten)]
    pub tenant: TenantSourceArgs,
    #[command(flatten)]
    pub diagnosis: DiagnosisArgs,
    #[command(flatten)]
    pub selection: SelectionArgs,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Where to write the plan (JSON); written whole or not at all.
    #[arg(long, short, value_name = "FILE")]
    pub output: PathBuf,
    /// Do not read the last sign-in of the accounts a live plan deletes. The read needs
    /// AuditLog.Read.All and Entra ID P1 or P2; without it a deletion rests on licences,
    /// mailbox and roles, and its evidence says the sign-in activity is unknown.
    #[arg(long, help_heading = "Safety policy")]
    pub skip_sign_in_read: bool,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
#[command(next_help_heading = "Users to link")]
pub struct SelectionArgs {
    /// AD users by UPN, sAMAccountName, DN or objectGUID; repeat for several.
    #[arg(long = "user", value_name = "USER")]
    pub users: Vec<String>,
    /// CSV of `ad,cloud` pairs, for accounts whose names differ.
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,
    /// Every user with a clear target whose plan needs no override.
    #[arg(long)]
    pub all_safe: bool,
}

/// Safety overrides; each is off unless given.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Safety policy")]
pub struct PolicyArgs {
    /// Allow deleting a holder that has licences.
    #[arg(long)]
    pub allow_delete_licensed: bool,
    /// Allow deleting a holder that has a mailbox.
    #[arg(long)]
    pub allow_delete_mailbox: bool,
    /// Allow deleting a holder with an admin role or PIM eligibility.
    #[arg(long)]
    pub allow_delete_privileged: bool,
    /// Allow deleting a holder that signed in recently.
    #[arg(long)]
    pub allow_delete_recent_sign_in: bool,
    /// Allow deleting synced holders other than the duplicate the sync created.
    #[arg(long)]
    pub allow_delete_synced: bool,
    /// Refuse plans that delete more objects than this [default: 500, as Entra Connect].
    #[arg(long, value_name = "COUNT")]
    pub deletion_threshold: Option<u32>,
    /// Route for a duplicate the sync created: delete and purge it (default), or move the
    /// AD user out of sync scope and back.
    #[arg(long, value_enum, default_value_t = RouteChoice::DeleteAndPurge)]
    pub route: RouteChoice,
    /// Container outside the sync scope that the out-of-scope route moves users to.
    #[arg(long, value_name = "DN")]
    pub out_of_scope_ou: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum RouteChoice {
    #[default]
    DeleteAndPurge,
    OutOfScope,
}

const REPORT_EXAMPLES: &str = "\
Examples:
  hardmatch report --ad-snapshot ad.json --tenant-snapshot tenant.json --html report.html
  hardmatch report --ad-snapshot ad.json --tenant-snapshot tenant.json --plan plan.json --html report.html

The file has no external assets (styles, script and chart are inline) and fetches nothing,
so it can be mailed or attached to a change request and opened offline in any browser.";

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub ad: AdSourceArgs,
    #[command(flatten)]
    pub tenant: TenantSourceArgs,
    #[command(flatten)]
    pub diagnosis: DiagnosisArgs,
    /// A plan file (from `hardmatch plan`) to include: its actions in order, irreversible
    /// ones marked, with their preconditions and reasons.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// Where to write the report (HTML); written whole or not at all.
    #[arg(long, value_name = "FILE")]
    pub html: PathBuf,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The plan file.
    pub plan: PathBuf,
    /// Print the equivalent Microsoft Graph PowerShell commands instead.
    #[arg(long, conflicts_with = "json")]
    pub powershell: bool,
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
}

const EMULATOR_EXAMPLES: &str = "\
Examples:
  hardmatch emulator --port 8443 --tls                       # the bundled example tenant
  hardmatch emulator --fixture tenant.json --ad-snapshot ad.json --latency-ms 50
  hardmatch emulator sync --url http://127.0.0.1:8080 --ad-snapshot ad.json
  hardmatch emulator sync --url https://127.0.0.1:8443 --emulator-ca-cert ca.pem \\
      --ldap-url ldaps://127.0.0.1 --base-dn DC=corp,DC=contoso,DC=com --bind-dn … --bind-password-env …

The emulator listens on loopback only and prints `listening on URL` (and `ca-cert PATH` with
--tls) once it accepts connections. Ctrl-C stops it.";

#[derive(Debug, Args)]
pub struct EmulatorArgs {
    #[command(subcommand)]
    pub command: Option<EmulatorCommand>,
    /// Port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Tenant fixture (or a tenant snapshot); the bundled example tenant when absent.
    #[arg(long, value_name = "FILE")]
    pub fixture: Option<PathBuf>,
    /// Delay added to every response, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub latency_ms: u64,
    /// Share of requests answered with a fault (429, 503, 504, reset, slow), 0 to 1.
    #[arg(long, value_name = "RATE")]
    pub chaos: Option<f64>,
    /// Seed of the chaos faults, for repeatable runs.
    #[arg(long, value_name = "SEED", default_value_t = 0, requires = "chaos")]
    pub seed: u64,
    /// Serve HTTPS with a certificate made at start; its CA's path is printed as `ca-cert PATH`.
    #[arg(long)]
    pub tls: bool,
    /// Serve HTTPS with this certificate chain (PEM) instead.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// AD users the sync cycle reads when a request brings none: a snapshot or an export.
    #[arg(long, value_name = "FILE", conflicts_with = "ad_export")]
    pub ad_snapshot: Option<PathBuf>,
    #[arg(long, value_name = "FILE")]
    pub ad_export: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum EmulatorCommand {
    /// Run one Entra Connect sync cycle on a running emulator, reading AD from any AD source.
    #[command(after_help = EMULATOR_SYNC_EXAMPLES)]
    Sync(EmulatorSyncArgs),
}

const EMULATOR_SYNC_EXAMPLES: &str = "\
Examples:
  hardmatch emulator sync --url http://127.0.0.1:8080 --ad-snapshot ad.json
  hardmatch emulator sync --url https://127.0.0.1:8443 --emulator-ca-cert ca.pem --ad-export users.csv --scope-ou OU=Staff,DC=corp,DC=contoso,DC=com";

#[derive(Debug, Args)]
pub struct EmulatorSyncArgs {
    /// The emulator's URL, as it printed it.
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// The emulator's CA certificate, when it serves HTTPS.
    #[arg(long, value_name = "FILE")]
    pub emulator_ca_cert: Option<PathBuf>,
    #[command(flatten)]
    pub ad: AdSourceArgs,
    #[command(flatten)]
    pub diagnosis: DiagnosisArgs,
}

/// Where on-premises users come from: a live directory, a snapshot, or an export.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "AD source")]
pub struct AdSourceArgs {
    /// LDAP URL of a domain controller (ldaps://host, or ldap://host with StartTLS);
    /// repeat for several domains, each paired with a --base-dn.
    #[arg(long = "ldap-url", value_name = "URL")]
    pub ldap_urls: Vec<String>,
    /// Base DN to search; repeat to pair with each --ldap-url in order.
    #[arg(long = "base-dn", value_name = "DN")]
    pub base_dns: Vec<String>,
    /// Account to bind as: a DN, a UPN or DOMAIN\user.
    #[arg(long, value_name = "NAME")]
    pub bind_dn: Option<String>,
    /// How to bind: simple (DN, UPN or DOMAIN\user with a password, over TLS), ntlm
    /// (DOMAIN\user or user@domain with a password; TLS channel binding), or kerberos (the
    /// current ticket from kinit, no password; --ldap-url must name the DC by its FQDN;
    /// only in builds with the `kerberos` feature) [default: simple].
    #[arg(long, value_enum, value_name = "METHOD")]
    pub bind_method: Option<BindMethodChoice>,
    /// Environment variable that holds the bind password.
    #[arg(long, value_name = "VAR")]
    pub bind_password_env: Option<String>,
    /// File whose first line is the bind password.
    #[arg(long, value_name = "FILE")]
    pub bind_password_file: Option<PathBuf>,
    /// The bind password itself. Visible to other users in the process list: prefer
    /// --bind-password-env or --bind-password-file.
    #[arg(long, value_name = "PASSWORD")]
    pub bind_password: Option<String>,
    /// CA certificate (PEM) to trust for the directory's TLS certificate, besides the system roots.
    #[arg(long = "ca-cert", value_name = "FILE")]
    pub ca_certs: Vec<PathBuf>,
    /// Do not verify the directory's TLS certificate. Never use outside a lab.
    #[arg(long)]
    pub insecure_skip_tls_verify: bool,
    /// Allow ldap:// without StartTLS (a lab, or a channel protected otherwise).
    #[arg(long)]
    pub allow_plaintext: bool,
    /// LDAP filter selecting users [default: (&(objectCategory=person)(objectClass=user))].
    #[arg(long, value_name = "FILTER")]
    pub ldap_filter: Option<String>,
    /// Search scope below each base DN.
    #[arg(long, value_enum, value_name = "SCOPE")]
    pub scope: Option<ScopeChoice>,
    /// Source anchor: auto (mS-DS-ConsistencyGuid when set, else objectGUID, as Entra
    /// Connect does), objectGUID, mS-DS-ConsistencyGuid, or another attribute's name.
    #[arg(long, value_name = "ATTRIBUTE")]
    pub anchor: Option<String>,
    /// Read users from a snapshot written by `hardmatch snapshot ad`.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["ldap_urls", "ad_export"])]
    pub ad_snapshot: Option<PathBuf>,
    /// Read users from an export: Get-ADUser | Export-Csv or csvde (.csv), ldifde or ldapsearch (.ldif).
    #[arg(long, value_name = "FILE", conflicts_with = "ldap_urls")]
    pub ad_export: Option<PathBuf>,
}

/// `--bind-method` (and a profile's `bind_method`): how to authenticate to the directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BindMethodChoice {
    Simple,
    Ntlm,
    Kerberos,
}

/// Where the tenant's state comes from: live over Microsoft Graph, or a snapshot file.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Tenant source")]
pub struct TenantSourceArgs {
    /// Read the tenant from a snapshot written by `hardmatch snapshot tenant`.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["device_code", "azure_cli", "certificate", "client_secret_env"])]
    pub tenant_snapshot: Option<PathBuf>,
    /// Directory (tenant) id or a verified domain [env: HARDMATCH_TENANT_ID, AZURE_TENANT_ID].
    #[arg(long, value_name = "ID")]
    pub tenant_id: Option<String>,
    /// Application (client) id of the app registration [env: HARDMATCH_CLIENT_ID, AZURE_CLIENT_ID].
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// Environment variable that holds the app's client secret.
    #[arg(long, value_name = "VAR")]
    pub client_secret_env: Option<String>,
    /// The app's certificate, PEM (certificate and key) or PFX, sent as a signed assertion
    /// [env: HARDMATCH_CERTIFICATE].
    #[arg(long, value_name = "FILE")]
    pub certificate: Option<PathBuf>,
    /// Environment variable that holds the PFX password.
    #[arg(long, value_name = "VAR")]
    pub certificate_password_env: Option<String>,
    /// Sign in as a person with a device code (needed to read the tenant's sync flags).
    #[arg(long)]
    pub device_code: bool,
    /// Use the Azure CLI's signed-in account (`az login`).
    #[arg(long)]
    pub azure_cli: bool,
    /// National cloud: global, usgov or china.
    #[arg(long, value_name = "CLOUD")]
    pub cloud: Option<String>,
    /// Sign-in service root, e.g. the emulator's URL.
    #[arg(long, value_name = "URL")]
    pub authority_url: Option<String>,
    /// Microsoft Graph root without /v1.0, e.g. the emulator's URL.
    #[arg(long, value_name = "URL")]
    pub graph_url: Option<String>,
    /// CA certificate (PEM) to trust for Graph and sign-in besides the system roots, e.g.
    /// the emulator's.
    #[arg(long, value_name = "FILE")]
    pub graph_ca_cert: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ScopeChoice {
    Base,
    One,
    Sub,
}

#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// Values to convert, in any form; `-` reads one value per line from stdin (a pasted
    /// column of an export, quotes and header included).
    #[arg(required = true, value_name = "VALUE")]
    pub values: Vec<String>,
    /// One JSON object per value, one per line.
    #[arg(long)]
    pub json: bool,
}

const APPLY_EXAMPLES: &str = "\
Examples:
  hardmatch apply plan.json --tenant-id contoso.onmicrosoft.com --client-id ID --client-secret-env SECRET
  hardmatch apply plan.json --yes ... --sync-engine connect      # automation: no prompts
  hardmatch apply plan.json --yes --allow-purge ...              # automation, and the plan purges
  hardmatch apply --resume ...                                    # after a crash or Ctrl-C";

/// Where the journal lives.
#[derive(Debug, Args, Default)]
pub struct WorkspaceArgs {
    /// The workspace directory holding the journal [default: .hardmatch in the current
    /// directory, or the profile's `workspace`].
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SyncEngineChoice {
    /// Entra Connect Sync, through a command (on Windows, Start-ADSyncSyncCycle).
    Connect,
    /// Entra Cloud Sync, through Graph's synchronization job API.
    CloudSync,
    /// The bundled emulator's cycle.
    Emulator,
}

/// How to start a sync cycle.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Sync engine")]
pub struct SyncEngineArgs {
    /// The command that starts an Entra Connect delta cycle, run through the shell
    /// (e.g. `ssh connect01 powershell -NoProfile -Command Start-ADSyncSyncCycle -PolicyType Delta`).
    #[arg(long, value_name = "COMMAND")]
    pub sync_command: Option<String>,
    /// Cloud Sync: the provisioning agent's service principal id.
    #[arg(long, value_name = "ID")]
    pub service_principal_id: Option<String>,
    /// Cloud Sync: the synchronization job id.
    #[arg(long, value_name = "ID")]
    pub job_id: Option<String>,
    /// The emulator's URL [default: --graph-url].
    #[arg(long, value_name = "URL")]
    pub emulator_url: Option<String>,
    /// Emulator cycles: only these OUs are in scope (repeatable).
    #[arg(long = "sync-scope-ou", value_name = "DN")]
    pub scope_ous: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The reviewed plan file (from `hardmatch plan`).
    #[arg(value_name = "PLAN", required_unless_present = "resume")]
    pub plan: Option<PathBuf>,
    /// Do not ask for confirmation (automation). Without it, apply asks on a terminal and
    /// refuses to run without one.
    #[arg(long)]
    pub yes: bool,
    /// With --yes: also confirm the plan's purges, which are permanent. Without it, --yes
    /// refuses a plan that purges (on a terminal, purges are confirmed by typing).
    #[arg(long)]
    pub allow_purge: bool,
    /// Continue the workspace's interrupted run instead of starting one.
    #[arg(long, conflicts_with = "plan")]
    pub resume: bool,
    /// The engine for the plan's `trigger_sync` actions.
    #[arg(long, value_enum, value_name = "ENGINE")]
    pub sync_engine: Option<SyncEngineChoice>,
    #[command(flatten)]
    pub workspace: WorkspaceArgs,
    #[command(flatten)]
    pub tenant: TenantSourceArgs,
    #[command(flatten)]
    pub ad: AdSourceArgs,
    #[command(flatten)]
    pub sync: SyncEngineArgs,
}

#[derive(Debug, Args)]
pub struct UndoArgs {
    /// The run to reverse (`hardmatch history` lists them).
    #[arg(value_name = "RUN")]
    pub run: String,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
    #[arg(long, value_enum, value_name = "ENGINE")]
    pub sync_engine: Option<SyncEngineChoice>,
    #[command(flatten)]
    pub workspace: WorkspaceArgs,
    #[command(flatten)]
    pub tenant: TenantSourceArgs,
    #[command(flatten)]
    pub ad: AdSourceArgs,
    #[command(flatten)]
    pub sync: SyncEngineArgs,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Which sync engine to start.
    #[arg(long, value_enum, default_value = "connect")]
    pub engine: SyncEngineChoice,
    /// Wait until Entra ID reports a completed cycle (organization.onPremisesLastSyncDateTime).
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 1800)]
    pub timeout: u64,
    #[command(flatten)]
    pub tenant: TenantSourceArgs,
    #[command(flatten)]
    pub ad: AdSourceArgs,
    #[command(flatten)]
    pub sync: SyncEngineArgs,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A plan file, or a run id from `hardmatch history`.
    #[arg(value_name = "PLAN|RUN")]
    pub target: String,
    /// One JSON object per planned user.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub workspace: WorkspaceArgs,
    #[command(flatten)]
    pub tenant: TenantSourceArgs,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// JSON, one run per line.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// CSV with a header row.
    #[arg(long)]
    pub csv: bool,
    #[command(flatten)]
    pub workspace: WorkspaceArgs,
}

const DEMO_EXAMPLES: &str = "\
Examples:
  hardmatch demo                       # bundled tenant and AD, work files in a temporary directory
  hardmatch demo --keep demo-run       # keep the plan, snapshots and journal
  hardmatch demo --json | jq .verify   # each step's results as one JSON document
  hardmatch demo --ldap-url ldaps://dc1.corp.contoso.com --base-dn DC=corp,DC=contoso,DC=com \\
      --bind-dn svc-hardmatch@corp.contoso.com --bind-password-env HARDMATCH_BIND_PASSWORD

With an AD source, the demo reads your users once and works on a copy in memory: it never
writes to a directory, and it never talks to a real tenant.

Exit status: 0 when every planned user ends linked, 1 otherwise or on error.";

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the work files (tenant and AD snapshots, plan, journal) in this directory
    /// instead of a temporary one.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
    /// Print each step's results as one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
    /// Read AD from here instead of the bundled snapshot (read once, never written).
    #[command(flatten)]
    pub ad: AdSourceArgs,
}

const REHEARSE_EXAMPLES: &str = "\
Examples:
  hardmatch rehearse plan.json --tenant-snapshot tenant.json --ad-snapshot ad.json
  hardmatch rehearse plan.json --tenant-snapshot tenant.json --ad-snapshot ad.json --json
  hardmatch rehearse plan.json --tenant-snapshot tenant.json --ldap-url ldaps://dc1.corp.contoso.com \\
      --base-dn DC=corp,DC=contoso,DC=com --bind-dn svc-hardmatch@corp.contoso.com --bind-password-env VAR

The plan runs through the real executor against the bundled emulator loaded with the
snapshot; AD changes go to an in-memory copy of the AD users. Nothing is written to the
tenant or to AD, and no credentials are needed.

Exit status: 0 when every planned user is predicted linked and no new duplicate appears;
1 when some user is predicted broken, a duplicate appears, or on error.";

#[derive(Debug, Args)]
pub struct RehearseArgs {
    /// The plan file (from `hardmatch plan`).
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,
    /// The tenant as `hardmatch snapshot tenant` wrote it.
    #[arg(long, value_name = "FILE")]
    pub tenant_snapshot: PathBuf,
    /// One JSON document: per planned user, the predicted end state.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub ad: AdSourceArgs,
    #[command(flatten)]
    pub diagnosis: DiagnosisArgs,
}
