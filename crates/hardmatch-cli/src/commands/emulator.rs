//! `hardmatch emulator`: the bundled Entra ID emulator as a process, and `emulator sync`,
//! which reads AD from any AD source and runs one sync cycle on a running emulator.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use hardmatch_core::sync::SyncScope;
use hardmatch_emulator::{Chaos, EmulatorOptions, Fixture, TlsMode};

use crate::ExitStatus;
use crate::args::{EmulatorArgs, EmulatorCommand, EmulatorSyncArgs, EngineChoice};
use crate::error::Hinted;
use crate::output::{Visibility, write_atomically};
use crate::sources::{AdInput, Context, load_ad, resolve_ad, runtime};

pub(crate) fn run(arguments: &EmulatorArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    match &arguments.command {
        Some(EmulatorCommand::Sync(sync)) => self::sync(sync, context),
        None => serve(arguments, context),
    }
}

fn serve(arguments: &EmulatorArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let fixture = match &arguments.fixture {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the fixture `{}`", path.display()))?;
            Fixture::from_json(&text).map_err(|error| {
                Hinted::new(
                    format!(
                        "`{}` is not a usable emulator fixture: {error}",
                        path.display()
                    ),
                    "a tenant snapshot from `hardmatch snapshot tenant` loads as a fixture; \
                     see the emulator's FIXTURE.md for the format",
                )
            })?
        }
        None => Fixture::example(),
    };
    let mut options = EmulatorOptions::new(fixture);
    options.bind = std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, arguments.port));
    options.latency = Duration::from_millis(arguments.latency_ms);
    if let Some(rate) = arguments.chaos {
        if !(0.0..=1.0).contains(&rate) {
            return Err(Hinted::new(
                format!("--chaos {rate} is not a share of requests"),
                "give a rate from 0 to 1, e.g. --chaos 0.1 for one request in ten",
            )
            .into());
        }
        options.chaos = Some(Chaos {
            rate,
            seed: arguments.seed,
        });
    }
    options.tls = match (&arguments.tls_cert, &arguments.tls_key) {
        (Some(cert), Some(key)) => TlsMode::Files {
            cert: cert.clone(),
            key: key.clone(),
        },
        _ if arguments.tls => TlsMode::SelfSigned,
        _ => TlsMode::Off,
    };
    let ad_input = match (&arguments.ad_snapshot, &arguments.ad_export) {
        (Some(path), _) => Some(AdInput::Snapshot(path.clone())),
        (None, Some(path)) => Some(AdInput::Export {
            path: path.clone(),
            anchor: hardmatch_ad::AnchorChoice::Auto,
        }),
        (None, None) => None,
    };
    if let Some(input) = &ad_input {
        options.ad_snapshot = Some(load_ad(input, context)?);
    }

    let runtime = runtime()?;
    runtime.block_on(async {
        let emulator = hardmatch_emulator::start(options).await.map_err(|error| {
            Hinted::new(
                error.to_string(),
                "pick another --port, or 0 for a free one",
            )
        })?;
        // The CA file lives as long as the emulator; a client reads it after `ca-cert`.
        let ca_directory =
            tempfile::tempdir().context("cannot create a directory for the CA certificate")?;
        context
            .printer
            .data_line(&format!("listening on {}", emulator.base_url()))?;
        if let Some(pem) = emulator.ca_certificate_pem() {
            let path = ca_directory.path().join("emulator-ca.pem");
            write_atomically(&path, pem.as_bytes(), Visibility::Ordinary)?;
            context
                .printer
                .data_line(&format!("ca-cert {}", path.display()))?;
        }
        context.printer.status(&format!(
            "tenant {} · token endpoint {} · Ctrl-C stops",
            emulator.tenant_id(),
            emulator.token_url()
        ));
        tokio::signal::ctrl_c()
            .await
            .context("cannot wait for Ctrl-C")?;
        context.printer.status("stopping the emulator");
        emulator.shutdown().await;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitStatus::Success)
}

fn sync(arguments: &EmulatorSyncArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let input = resolve_ad(&arguments.ad, context)?;
    let ad = load_ad(&input, context)?;
    let scope = if arguments.diagnosis.scope_ous.is_empty() {
        SyncScope::All
    } else {
        SyncScope::OrganizationalUnits {
            include: arguments.diagnosis.scope_ous.clone(),
            exclude: arguments.diagnosis.exclude_ous.clone(),
        }
    };
    let body = serde_json::json!({
        "ad_users": ad.users,
        "scope": scope,
        "engine": match arguments.diagnosis.engine {
            EngineChoice::Connect => "connect",
            EngineChoice::CloudSync => "cloud_sync",
        },
    });
    let client = control_client(arguments.emulator_ca_cert.as_deref())?;
    let url = format!("{}/_emulator/sync", arguments.url.trim_end_matches('/'));
    let report: serde_json::Value = runtime()?.block_on(async {
        let response = client
            .post(&url)
            .json(&body)
            .send()
            .await
            .map_err(|error| {
                Hinted::new(
                    format!("cannot reach the emulator at `{url}`: {error}"),
                    "start it with `hardmatch emulator` and pass the URL it printed; with --tls, \
                     pass --emulator-ca-cert with the `ca-cert` path it printed",
                )
            })?;
        let status = response.status();
        let text = response
            .text()
            .await
            .context("cannot read the emulator's answer")?;
        if !status.is_success() {
            anyhow::bail!("the emulator refused the sync cycle ({status}): {text}");
        }
        serde_json::from_str(&text).context("the emulator's sync report is not JSON")
    })?;
    context
        .printer
        .data_line(&serde_json::to_string_pretty(&report)?)?;
    Ok(ExitStatus::Success)
}

/// An HTTP client for the emulator's control endpoints: plain HTTP, or HTTPS that trusts
/// exactly the emulator's CA.
pub(crate) fn control_client(ca_certificate: Option<&Path>) -> anyhow::Result<reqwest::Client> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    if let Some(path) = ca_certificate {
        use rustls_pki_types::pem::PemObject as _;
        let pem = std::fs::read(path).with_context(|| {
            format!(
                "cannot read the emulator CA certificate `{}`",
                path.display()
            )
        })?;
        for certificate in rustls_pki_types::CertificateDer::pem_slice_iter(&pem) {
            let certificate = certificate
                .with_context(|| format!("`{}` is not a PEM certificate", path.display()))?;
            roots
                .add(certificate)
                .with_context(|| format!("`{}` is not a usable CA certificate", path.display()))?;
        }
    }
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("cannot set up TLS")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(Duration::from_secs(600))
        .build()
        .context("cannot set up the HTTP client")
}
