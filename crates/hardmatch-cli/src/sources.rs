//! Where a command's directories come from: source flags, profile and environment resolved
//! into one value, then loaded into the core's snapshot types.
//!
//! Every command that reads AD accepts the same three kinds of source — live LDAP, a
//! snapshot file, an export — so resolution happens here once rather than per command.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use hardmatch_ad::{
    AdError, AdSource, AnchorChoice, Bind, Directory, Password, SearchScope, Transport,
};
use hardmatch_core::ad::{AD_SNAPSHOT_FORMAT_VERSION, AdSnapshot};
use hardmatch_core::snapshot_text::{SnapshotUsers, Unsplittable, UsersSplitter};
use hardmatch_core::tenant::{TENANT_SNAPSHOT_FORMAT_VERSION, TenantSnapshot};
use hardmatch_graph::{
    CredentialSettings, DeviceCodePrompt, EnvironmentCredentials, GraphClient, GraphError,
    GraphSettings, Secret,
};
use serde::de::DeserializeOwned;

use crate::args::{AdSourceArgs, BindMethodChoice, ScopeChoice, TenantSourceArgs};
use crate::error::Hinted;
use crate::printer::Printer;
use crate::progress::Counter;
use crate::settings::{Environment, Profile, env_names, pick};

/// What every command receives besides its own arguments: resolved once in `run`.
#[derive(Debug)]
pub struct Context {
    pub printer: Printer,
    pub environment: Environment,
    pub profile: Profile,
}

/// A resolved AD source.
#[derive(Debug)]
pub enum AdInput {
    Live(AdSource),
    Snapshot(PathBuf),
    Export { path: PathBuf, anchor: AnchorChoice },
}

pub fn resolve_ad(arguments: &AdSourceArgs, context: &Context) -> anyhow::Result<AdInput> {
    let profile = &context.profile;
    let anchor = AnchorChoice::parse(
        pick(arguments.anchor.as_deref(), None, profile.anchor.as_deref()).unwrap_or("auto"),
    );
    if let Some(path) = &arguments.ad_snapshot {
        return Ok(AdInput::Snapshot(path.clone()));
    }
    if let Some(path) = &arguments.ad_export {
        return Ok(AdInput::Export {
            path: path.clone(),
            anchor,
        });
    }
    let urls = first_non_empty(&[
        arguments.ldap_urls.clone(),
        context
            .environment
            .first(env_names::LDAP_URL)
            .into_iter()
            .collect(),
        profile.ldap_url.clone(),
    ]);
    if urls.is_empty() {
        return Err(Hinted::new(
            "no AD source was given",
            "pass --ldap-url URL --base-dn DN for a live directory, --ad-snapshot FILE, or \
             --ad-export FILE (a Get-ADUser | Export-Csv, csvde or LDIF export)",
        )
        .into());
    }
    let base_dns = first_non_empty(&[arguments.base_dns.clone(), profile.base_dn.clone()]);
    let directories = pair_directories(&urls, &base_dns)?;
    let bind_name = pick(
        arguments.bind_dn.clone(),
        context.environment.first(env_names::BIND_DN),
        profile.bind_dn.clone(),
    );
    // Simple stays the default even for DOMAIN\user names, which AD accepts in simple
    // binds too: the method changes only when the admin asks for it.
    let bind = match (arguments.bind_method.or(profile.bind_method), bind_name) {
        (Some(BindMethodChoice::Kerberos), _) => Bind::Kerberos { server_name: None },
        (Some(BindMethodChoice::Ntlm), Some(user)) => Bind::Ntlm {
            password: bind_password(arguments, context, &user)?,
            user,
        },
        (Some(BindMethodChoice::Ntlm), None) => {
            return Err(Hinted::new(
                "--bind-method ntlm needs an account",
                "pass --bind-dn DOMAIN\\user (or user@domain) and the password",
            )
            .into());
        }
        (_, Some(name)) => Bind::Simple {
            password: bind_password(arguments, context, &name)?,
            name,
        },
        (_, None) => Bind::Anonymous,
    };
    let mut source = AdSource::new(directories, bind);
    source.anchor = anchor;
    source.tls.ca_certificates = if arguments.ca_certs.is_empty() {
        profile.ca_cert.iter().cloned().collect()
    } else {
        arguments.ca_certs.clone()
    };
    source.tls.insecure_skip_verify = arguments.insecure_skip_tls_verify;
    if arguments.allow_plaintext {
        source.tls.transport = Transport::Plaintext;
    }
    if let Some(filter) = pick(
        arguments.ldap_filter.clone(),
        None,
        profile.ldap_filter.clone(),
    ) {
        source.filter = filter;
    }
    if let Some(scope) = arguments.scope {
        source.scope = match scope {
            ScopeChoice::Base => SearchScope::Base,
            ScopeChoice::One => SearchScope::OneLevel,
            ScopeChoice::Sub => SearchScope::Subtree,
        };
    }
    Ok(AdInput::Live(source))
}

/// Reads the users a resolved source names.
pub fn load_ad(input: &AdInput, context: &Context) -> anyhow::Result<AdSnapshot> {
    match input {
        AdInput::Snapshot(path) => read_ad_snapshot(path),
        AdInput::Export { path, anchor } => {
            let counter = Counter::new(&context.printer, "users");
            let snapshot = hardmatch_ad::read_export(path, anchor, &counter);
            counter.finish();
            snapshot.map_err(ad_error)
        }
        AdInput::Live(source) => {
            if source.tls.insecure_skip_verify {
                context.printer.warning(
                    "--insecure-skip-tls-verify: the directory's certificate is not checked; \
                     anyone on the network path can read the bind password",
                );
            }
            let counter = Counter::new(&context.printer, "users");
            let snapshot = hardmatch_ad::read_users_blocking(source, &counter);
            counter.finish();
            snapshot.map_err(ad_error)
        }
    }
}

pub fn read_ad_snapshot(path: &Path) -> anyhow::Result<AdSnapshot> {
    let snapshot: AdSnapshot =
        read_snapshot_file(path, "an AD snapshot", "hardmatch snapshot ad -o FILE")?;
    if snapshot.format_version > AD_SNAPSHOT_FORMAT_VERSION {
        return Err(Hinted::new(
            format!(
                "`{}` is an AD snapshot of format {}, newer than this hardmatch reads ({})",
                path.display(),
                snapshot.format_version,
                AD_SNAPSHOT_FORMAT_VERSION
            ),
            "use the hardmatch version that wrote it, or a newer one",
        )
        .into());
    }
    Ok(snapshot)
}

/// Reads an AD and a tenant snapshot at the same time, one per thread, which halves the
/// longest step of a million-user run on two cores.
pub fn read_snapshot_pair(
    ad_path: &Path,
    tenant_path: &Path,
) -> anyhow::Result<(AdSnapshot, TenantSnapshot)> {
    let (ad, tenant) = std::thread::scope(|scope| {
        let tenant = scope.spawn(|| read_tenant_snapshot(tenant_path));
        let ad = read_ad_snapshot(ad_path);
        (ad, tenant.join())
    });
    let tenant = match tenant {
        Ok(tenant) => tenant,
        // A panic in the parser is a bug; carry it on rather than report it as bad input.
        Err(payload) => std::panic::resume_unwind(payload),
    };
    Ok((ad?, tenant?))
}

/// Snapshot files are read this much at a time...
const READ_CHUNK_BYTES: usize = 1 << 20;
/// ...and their users parsed this much text at a time: a few thousand users.
const USERS_BATCH_BYTES: usize = 4 << 20;

/// Reads and parses a snapshot file, naming the file and what it should have been.
///
/// The users are parsed a batch at a time as the file is read, so the file's text is never
/// held whole beside them (at a million users, that was 1.7 GB). Should the text not
/// split, or a piece not parse, the file is parsed again whole: that reading decides, and
/// words the error.
pub fn read_snapshot_file<S>(path: &Path, what: &str, how_to_make_one: &str) -> anyhow::Result<S>
where
    S: DeserializeOwned + SnapshotUsers,
    S::User: DeserializeOwned,
{
    let cannot_read = |error: std::io::Error| {
        anyhow::Error::new(Hinted::new(
            format!("cannot read `{}`: {error}", path.display()),
            format!("check the path; `{how_to_make_one}` writes {what}"),
        ))
    };
    let read = read_in_batches(path, READ_CHUNK_BYTES, USERS_BATCH_BYTES);
    if let Some(snapshot) = read.map_err(cannot_read)? {
        return Ok(snapshot);
    }
    // Bytes, not a String: the parsers check UTF-8 as they go, so a separate validation
    // pass over a snapshot of a gigabyte would only add time.
    let bytes = std::fs::read(path).map_err(cannot_read)?;
    if let Ok(value) = sonic_rs::from_slice(&bytes) {
        return Ok(value);
    }
    // The fast parser's errors are terse; serde_json, reading the same bytes again only on
    // failure, names the line, column and expected type. Should it accept what the fast
    // parser refused, its reading stands.
    serde_json::from_slice(&bytes).map_err(|error| {
        // Only on failure: is it another of our files, passed to the wrong flag?
        if let Some((kind, flag)) = kind_of_file(&bytes).filter(|(kind, _)| *kind != what) {
            return Hinted::new(
                format!("`{}` is {kind}, not {what}", path.display()),
                format!("pass it with {flag}"),
            )
            .into();
        }
        Hinted::new(
            format!("`{}` is not {what}: {error}", path.display()),
            format!(
                "`{how_to_make_one}` writes {what}; a hand-edited file may have lost its shape"
            ),
        )
        .into()
    })
}

/// The snapshot, or `None` when its text did not split or a piece did not parse.
fn read_in_batches<S>(
    path: &Path,
    chunk_bytes: usize,
    batch_bytes: usize,
) -> std::io::Result<Option<S>>
where
    S: DeserializeOwned + SnapshotUsers,
    S::User: DeserializeOwned,
{
    // A pipe (`<(…)`) cannot be read a second time to word an error, nor opened to look
    // at without taking its writer: read it whole.
    let metadata = std::fs::metadata(path)?;
    if !metadata.is_file() {
        return Ok(None);
    }
    let mut file = std::fs::File::open(path)?;
    let length = usize::try_from(metadata.len()).unwrap_or(usize::MAX);
    let mut splitter = UsersSplitter::new(batch_bytes);
    let mut users: Vec<S::User> = Vec::new();
    let mut on_batch = |batch: &[u8]| -> Result<(), Unsplittable> {
        let parsed: Vec<S::User> = sonic_rs::from_slice(batch).map_err(|_| Unsplittable)?;
        if users.is_empty() && !parsed.is_empty() {
            // Growing a vector of a million users by doubling would copy it about twenty
            // times and could hold twice its size at the end; the first batch's bytes per
            // user tell the file's count closely enough to reserve it once.
            let bytes_per_user = (batch.len() / parsed.len()).max(1);
            let _ = users.try_reserve(length / bytes_per_user / 20 * 21);
        }
        users.extend(parsed);
        Ok(())
    };
    let mut chunk = vec![0; chunk_bytes];
    loop {
        let read = match std::io::Read::read(&mut file, &mut chunk) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        if splitter.feed(&chunk[..read], &mut on_batch).is_err() {
            return Ok(None);
        }
    }
    let Ok(envelope) = splitter.finish() else {
        return Ok(None);
    };
    let Ok(mut snapshot) = sonic_rs::from_slice::<S>(&envelope) else {
        return Ok(None);
    };
    snapshot.add_users(users);
    Ok(Some(snapshot))
}

/// Which of hardmatch's JSON files these bytes are, by their top-level keys, and the flag
/// that reads it.
fn kind_of_file(bytes: &[u8]) -> Option<(&'static str, &'static str)> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let has = |key: &str| value.get(key).is_some();
    if has("actions_fingerprint") {
        Some(("a plan", "`hardmatch show`, `apply` or `verify`"))
    } else if has("tenant") && has("users") {
        Some(("a tenant snapshot", "--tenant-snapshot"))
    } else if has("source") && has("users") {
        Some(("an AD snapshot", "--ad-snapshot"))
    } else {
        None
    }
}

/// A resolved tenant source.
#[derive(Debug)]
pub enum TenantInput {
    Live(Box<GraphSettings>),
    Snapshot(PathBuf),
}

pub fn resolve_tenant(
    arguments: &TenantSourceArgs,
    context: &Context,
) -> anyhow::Result<TenantInput> {
    if let Some(path) = &arguments.tenant_snapshot {
        return Ok(TenantInput::Snapshot(path.clone()));
    }
    let profile = &context.profile;
    let environment = &context.environment;
    let credential = resolve_credential(arguments, context)?;
    let mut settings = GraphSettings::new(credential);
    settings.environment = EnvironmentCredentials::from_lookup(|name| environment.get(name));
    settings.tenant_id = pick(
        arguments.tenant_id.clone(),
        environment.first(env_names::TENANT_ID),
        profile.tenant_id.clone(),
    );
    settings.client_id = pick(
        arguments.client_id.clone(),
        environment.first(env_names::CLIENT_ID),
        profile.client_id.clone(),
    );
    if let Some(cloud) = pick(arguments.cloud.clone(), None, profile.cloud.clone()) {
        settings.cloud = cloud.parse().map_err(graph_error)?;
    }
    settings.authority_url = pick(
        arguments.authority_url.clone(),
        environment.first(env_names::AUTHORITY_URL),
        profile.authority_url.clone(),
    );
    settings.graph_url = pick(
        arguments.graph_url.clone(),
        environment.first(env_names::GRAPH_URL),
        profile.graph_url.clone(),
    );
    if let Some(path) = pick(
        arguments.graph_ca_cert.clone(),
        None,
        profile.graph_ca_cert.clone(),
    ) {
        let pem = std::fs::read(&path).map_err(|error| {
            Hinted::new(
                format!(
                    "cannot read the CA certificate `{}`: {error}",
                    path.display()
                ),
                "pass --graph-ca-cert with a readable PEM file (the emulator prints its path as \
                 `ca-cert PATH`)",
            )
        })?;
        settings.extra_ca_pem = Some(pem);
    }
    Ok(TenantInput::Live(Box::new(settings)))
}

/// The sign-in method of the first layer that names one — flags, then the environment,
/// then the profile — so that a profile's client secret never beats `AZURE_CLIENT_SECRET`
/// exported for one run.
fn resolve_credential(
    arguments: &TenantSourceArgs,
    context: &Context,
) -> anyhow::Result<CredentialSettings> {
    let profile = &context.profile;
    let environment = &context.environment;
    let certificate = |path: PathBuf| -> anyhow::Result<CredentialSettings> {
        let password_variable = pick(
            arguments.certificate_password_env.clone(),
            None,
            profile.certificate_password_env.clone(),
        );
        let password = match password_variable {
            Some(variable) => Some(Secret::new(required_variable(
                environment,
                &variable,
                "the certificate password",
            )?)),
            None => environment
                .first(env_names::CLIENT_CERTIFICATE_PASSWORD)
                .map(Secret::new),
        };
        Ok(CredentialSettings::Certificate { path, password })
    };
    let client_secret = |variable: &str| -> anyhow::Result<CredentialSettings> {
        Ok(CredentialSettings::ClientSecret(Secret::new(
            required_variable(environment, variable, "the client secret")?,
        )))
    };
    if arguments.device_code {
        let printer = context.printer.clone();
        return Ok(CredentialSettings::DeviceCode {
            prompt: DeviceCodePrompt::new(move |message| printer.notice(&message.message)),
        });
    }
    if arguments.azure_cli {
        return Ok(CredentialSettings::AzureCli {
            // The Azure CLI is a batch script on Windows, which process creation does not
            // find under its bare name.
            program: PathBuf::from(if cfg!(windows) { "az.cmd" } else { "az" }),
        });
    }
    if let Some(path) = &arguments.certificate {
        return certificate(path.clone());
    }
    if let Some(variable) = &arguments.client_secret_env {
        return client_secret(variable);
    }
    if let Some(path) = environment.get(env_names::CERTIFICATE) {
        return certificate(PathBuf::from(path));
    }
    if environment.first(env_names::CLIENT_SECRET).is_some()
        || environment.first(env_names::CLIENT_CERTIFICATE).is_some()
    {
        return Ok(CredentialSettings::Environment);
    }
    if let Some(path) = &profile.certificate {
        return certificate(path.clone());
    }
    if let Some(variable) = &profile.client_secret_env {
        return client_secret(variable);
    }
    Err(Hinted::new(
        "no tenant source was given",
        "pass --tenant-snapshot FILE, or sign in with --client-secret-env VAR, --certificate \
         FILE, --device-code or --azure-cli (AZURE_CLIENT_SECRET / \
         AZURE_CLIENT_CERTIFICATE_PATH in the environment also work)",
    )
    .into())
}

/// Reads the tenant a resolved source names.
pub fn load_tenant(input: &TenantInput, context: &Context) -> anyhow::Result<TenantSnapshot> {
    match input {
        TenantInput::Snapshot(path) => read_tenant_snapshot(path),
        TenantInput::Live(settings) => {
            read_live_tenant(settings, context).map(|(tenant, _)| tenant)
        }
    }
}

/// A tenant read live, still signed in: the reads that follow reuse the session, as a
/// second sign-in would ask for a second device code.
pub struct LiveTenant {
    pub runtime: tokio::runtime::Runtime,
    pub client: GraphClient,
}

/// Signs in and reads the tenant, keeping the session.
pub fn read_live_tenant(
    settings: &GraphSettings,
    context: &Context,
) -> anyhow::Result<(TenantSnapshot, LiveTenant)> {
    let runtime = runtime()?;
    let (tenant, client) = runtime.block_on(async {
        let client = GraphClient::connect(settings.clone())
            .await
            .map_err(graph_error)?;
        let counter = Counter::new(&context.printer, "objects");
        let snapshot = hardmatch_graph::snapshot_tenant(&client, &counter).await;
        counter.finish();
        anyhow::Ok((snapshot.map_err(graph_error)?, client))
    })?;
    Ok((tenant, LiveTenant { runtime, client }))
}

pub fn read_tenant_snapshot(path: &Path) -> anyhow::Result<TenantSnapshot> {
    let snapshot: TenantSnapshot = read_snapshot_file(
        path,
        "a tenant snapshot",
        "hardmatch snapshot tenant -o FILE",
    )?;
    if snapshot.format_version > TENANT_SNAPSHOT_FORMAT_VERSION {
        return Err(Hinted::new(
            format!(
                "`{}` is a tenant snapshot of format {}, newer than this hardmatch reads ({})",
                path.display(),
                snapshot.format_version,
                TENANT_SNAPSHOT_FORMAT_VERSION
            ),
            "use the hardmatch version that wrote it, or a newer one",
        )
        .into());
    }
    Ok(snapshot)
}

/// The async runtime for the network adapters; built per command, as only one runs.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn required_variable(
    environment: &Environment,
    variable: &str,
    what: &str,
) -> anyhow::Result<String> {
    environment.get(variable).ok_or_else(|| {
        Hinted::new(
            format!("the environment variable `{variable}` named for {what} is not set"),
            format!("export {variable}=… before running hardmatch"),
        )
        .into()
    })
}

/// `GraphError`s know their next step; carry it to the printer.
pub fn graph_error(error: GraphError) -> anyhow::Error {
    Hinted::new(error.to_string(), error.hint()).into()
}

/// `AdError`s know their next step; carry it to the printer.
pub fn ad_error(error: AdError) -> anyhow::Error {
    match error.hint() {
        Some(hint) => Hinted::new(error.to_string(), hint).into(),
        None => error.into(),
    }
}

fn first_non_empty(candidates: &[Vec<String>]) -> Vec<String> {
    candidates
        .iter()
        .find(|candidate| !candidate.is_empty())
        .cloned()
        .unwrap_or_default()
}

/// URLs and base DNs pair up in order; one URL may serve several base DNs.
fn pair_directories(urls: &[String], base_dns: &[String]) -> anyhow::Result<Vec<Directory>> {
    let directory = |url: &String, base_dn: &String| Directory {
        url: url.clone(),
        base_dn: base_dn.clone(),
    };
    match (urls, base_dns) {
        (_, []) => Err(Hinted::new(
            "no base DN was given for the LDAP search",
            "pass --base-dn, e.g. --base-dn DC=corp,DC=contoso,DC=com (or an OU to narrow the scope)",
        )
        .into()),
        ([url], base_dns) => Ok(base_dns.iter().map(|base_dn| directory(url, base_dn)).collect()),
        (urls, base_dns) if urls.len() == base_dns.len() => {
            Ok(urls.iter().zip(base_dns).map(|(url, base_dn)| directory(url, base_dn)).collect())
        }
        (urls, base_dns) => Err(Hinted::new(
            format!("{} LDAP URLs but {} base DNs", urls.len(), base_dns.len()),
            "give one --base-dn per --ldap-url, in the same order",
        )
        .into()),
    }
}

fn bind_password(
    arguments: &AdSourceArgs,
    context: &Context,
    bind_name: &str,
) -> anyhow::Result<Password> {
    if let Some(password) = &arguments.bind_password {
        context.printer.warning(
            "--bind-password puts the password in the process list and shell history; \
             prefer --bind-password-env VAR or --bind-password-file FILE",
        );
        return Ok(Password::new(password.clone()));
    }
    let variable = pick(
        arguments.bind_password_env.clone(),
        None,
        context.profile.bind_password_env.clone(),
    );
    if let Some(variable) = variable {
        return context
            .environment
            .get(&variable)
            .map(Password::new)
            .ok_or_else(|| {
                Hinted::new(
                    format!("the environment variable `{variable}` named for the bind password is not set"),
                    format!("export {variable}=… before running hardmatch, or use --bind-password-file"),
                )
                .into()
            });
    }
    let file = pick(
        arguments.bind_password_file.clone(),
        None,
        context.profile.bind_password_file.clone(),
    );
    if let Some(file) = file {
        let text = std::fs::read_to_string(&file).map_err(|error| {
            Hinted::new(
                format!(
                    "cannot read the bind password file `{}`: {error}",
                    file.display()
                ),
                "check the path and that this account may read it (keep it mode 0600), or use \
                 --bind-password-env VAR",
            )
        })?;
        let password = text.lines().next().unwrap_or_default();
        if password.is_empty() {
            return Err(Hinted::new(
                format!("the bind password file `{}` is empty", file.display()),
                "put the password on the file's first line",
            )
            .into());
        }
        return Ok(Password::new(password));
    }
    use std::io::IsTerminal as _;
    if std::io::stdin().is_terminal() {
        let password = rpassword::prompt_password(format!("Password for {bind_name}: "))
            .context("cannot read the bind password from the terminal")?;
        return Ok(Password::new(password));
    }
    Err(Hinted::new(
        format!("no password was given for `{bind_name}`"),
        "pass --bind-password-env VAR or --bind-password-file FILE (no terminal to prompt on)",
    )
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_base_dns_pair_in_order() {
        let urls = ["ldaps://a".to_owned(), "ldaps://b".to_owned()];
        let dns = ["DC=a".to_owned(), "DC=b".to_owned()];
        let pairs = pair_directories(&urls, &dns).unwrap();
        assert_eq!(pairs[1].url, "ldaps://b");
        assert_eq!(pairs[1].base_dn, "DC=b");
        let one_url = pair_directories(&urls[..1], &dns).unwrap();
        assert!(one_url.iter().all(|directory| directory.url == "ldaps://a"));
        assert!(pair_directories(&urls, &dns[..1]).is_err());
        assert!(pair_directories(&urls, &[]).is_err());
    }

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/it/fixtures/field-story")
            .join(name)
    }

    #[test]
    fn snapshots_read_in_batches_equal_the_whole_parse() {
        let ad_path = fixture("ad.json");
        let tenant_path = fixture("tenant.json");
        let ad: AdSnapshot = serde_json::from_slice(&std::fs::read(&ad_path).unwrap()).unwrap();
        let tenant: TenantSnapshot =
            serde_json::from_slice(&std::fs::read(&tenant_path).unwrap()).unwrap();
        assert!(ad.users.len() > 2 && tenant.users.len() > 2);
        for (chunk_bytes, batch_bytes) in [(7, 1), (64, 500), (1 << 20, 4 << 20)] {
            let read_ad = read_in_batches::<AdSnapshot>(&ad_path, chunk_bytes, batch_bytes);
            assert_eq!(read_ad.unwrap().as_ref(), Some(&ad));
            let read_tenant = read_in_batches(&tenant_path, chunk_bytes, batch_bytes);
            assert_eq!(read_tenant.unwrap().as_ref(), Some(&tenant));
        }
    }

    #[test]
    fn a_user_that_does_not_parse_is_worded_by_the_whole_parse() {
        let text = std::fs::read_to_string(fixture("ad.json")).unwrap();
        // The last user loses a required field, far from the first batch.
        let key = "\"distinguished_name\"";
        let at = text.rfind(key).unwrap();
        let damaged = format!(
            "{}\"distinguished_nam\"{}",
            &text[..at],
            &text[at + key.len()..]
        );
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("ad.json");
        std::fs::write(&path, damaged).unwrap();
        assert!(matches!(
            read_in_batches::<AdSnapshot>(&path, 64, 100),
            Ok(None)
        ));
        let error = read_ad_snapshot(&path).unwrap_err().to_string();
        assert!(
            error.contains("missing field `distinguished_name` at line"),
            "{error}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_snapshot_from_a_pipe_is_read_once_and_its_errors_worded() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("ad.json");
        let made = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap();
        assert!(made.success());
        let text = std::fs::read_to_string(fixture("ad.json")).unwrap();
        let damaged = text.replacen("\"distinguished_name\"", "\"distinguished_nam\"", 1);
        let writer = {
            let path = path.clone();
            std::thread::spawn(move || std::fs::write(path, damaged).unwrap())
        };
        let error = read_ad_snapshot(&path).unwrap_err().to_string();
        writer.join().unwrap();
        assert!(
            error.contains("missing field `distinguished_name` at line"),
            "{error}"
        );
    }
}
