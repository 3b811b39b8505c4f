//! Live reads over LDAP(S): connect, bind, paged search, and the error mapping that turns
//! ldap3's and rustls's failures into messages an admin can act on.
//!
//! Paging uses ldap3's adapters with `EntriesOnly` first: AD answers a domain-root search
//! with continuation references (DomainDnsZones, Configuration), which would otherwise
//! arrive as entries and break the read.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use hardmatch_core::ad::{AD_SNAPSHOT_FORMAT_VERSION, AdSnapshot, AdSnapshotSource, AdUser};
use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::asn1::{PL, StructureTag};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, LdapResult, ResultEntry, Scope};

use crate::entry::{DirectoryEntry, USER_ATTRIBUTES, user_from_entry};
use crate::error::{AdError, result_code_name};
use crate::reporter::{AdWarning, Reporter};
use crate::settings::{
    AdSource, AnchorChoice, Bind, Directory, SearchScope, TlsOptions, Transport,
};
use crate::tls::client_config;

/// Reads the users of every directory in `source` into one snapshot.
///
/// Users appear once even when two directories overlap (same objectGUID), sorted by
/// distinguished name so that snapshots of the same directory compare equal.
pub async fn read_users(source: &AdSource, reporter: &dyn Reporter) -> Result<AdSnapshot, AdError> {
    let started = Instant::now();
    let mut users = Vec::new();
    let mut seen = HashSet::new();
    let mut locations = Vec::new();
    for directory in &source.directories {
        reporter.directory_started(&directory.url, &directory.base_dn);
        let mut ldap = connect(
            &directory.url,
            &source.bind,
            &source.tls,
            source.timeout,
            reporter,
        )
        .await?;
        let read = search_users(&mut ldap, directory, source, reporter, started, users.len()).await;
        // Unbinding is a courtesy to the server; the read's outcome is what matters.
        let _ = ldap.unbind().await;
        for user in read? {
            if seen.insert(user.object_guid) {
                users.push(user);
            }
        }
        locations.push(location(directory));
    }
    sort_users(&mut users);
    Ok(AdSnapshot {
        format_version: AD_SNAPSHOT_FORMAT_VERSION,
        source: AdSnapshotSource {
            kind: "ldap".to_owned(),
            locations,
        },
        taken_at: now_rfc3339(),
        users,
    })
}

/// [`read_users`] for callers without an async runtime: runs it on a fresh
/// current-thread tokio runtime.
pub fn read_users_blocking(
    source: &AdSource,
    reporter: &dyn Reporter,
) -> Result<AdSnapshot, AdError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(AdError::Runtime)?
        .block_on(read_users(source, reporter))
}

pub(crate) fn sort_users(users: &mut [AdUser]) {
    // One lowercased key per user, not two per comparison: at 100k users the comparison
    // version spent more time lowercasing than the whole read spent decoding entries.
    users.sort_by_cached_key(|user| user.distinguished_name.to_lowercase());
}

pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn location(directory: &Directory) -> String {
    format!(
        "{}/{}",
        directory.url.trim_end_matches('/'),
        directory.base_dn
    )
}

/// Opens a connection, upgrades it to TLS as the URL and options ask, and binds.
pub(crate) async fn connect(
    url: &str,
    bind: &Bind,
    tls: &TlsOptions,
    timeout: Duration,
    reporter: &dyn Reporter,
) -> Result<Ldap, AdError> {
    let lowered = url.to_ascii_lowercase();
    let secure_scheme = if lowered.starts_with("ldaps://") {
        true
    } else if lowered.starts_with("ldap://") {
        false
    } else {
        return Err(AdError::InvalidUrl {
            url: url.to_owned(),
            detail: "it must start with ldaps:// or ldap://".to_owned(),
        });
    };
    // A bind this build cannot make, or a name it cannot use, fails before any network
    // traffic: the admin learns it at once rather than after a connect timeout.
    let kerberos_server = prepare_bind(url, bind)?;
    let mut settings = LdapConnSettings::new().set_conn_timeout(timeout);
    match client_config(tls)? {
        Some(config) => settings = settings.set_config(config),
        None => {
            let warning = AdWarning::TlsVerificationDisabled {
                url: url.to_owned(),
            };
            tracing::debug!("{warning}");
            reporter.warning(&warning);
            settings = settings.set_no_tls_verify(true);
        }
    }
    if !secure_scheme {
        match tls.transport {
            Transport::Automatic => settings = settings.set_starttls(true),
            Transport::Plaintext => {
                let warning = AdWarning::Plaintext {
                    url: url.to_owned(),
                };
                tracing::debug!("{warning}");
                reporter.warning(&warning);
            }
        }
    }
    tracing::debug!(url, "connecting");
    let (connection, mut ldap) = LdapConnAsync::with_settings(settings, url)
        .await
        .map_err(|error| classify(url, "connect", error))?;
    tokio::spawn(async move {
        if let Err(error) = connection.drive().await {
            tracing::debug!(%error, "LDAP connection ended with an error");
        }
    });
    match bind {
        Bind::Anonymous => {}
        Bind::Simple { name, password } => {
            if password.expose().is_empty() {
                return Err(AdError::EmptyPassword {
                    bind_name: name.clone(),
                });
            }
            tracing::debug!(url, bind_name = %name, "simple bind");
            let result = ldap
                .with_timeout(timeout)
                .simple_bind(name, password.expose())
                .await
                .map_err(|error| classify(url, "bind", error))?;
            check_bind(url, name, result)?;
        }
        Bind::Ntlm { user, password } => {
            if password.expose().is_empty() {
                return Err(AdError::EmptyPassword {
                    bind_name: user.clone(),
                });
            }
            ntlm_bind(&mut ldap, url, user, password, timeout).await?;
        }
        Bind::Kerberos { .. } => {
            kerberos_bind(&mut ldap, url, &kerberos_server, timeout).await?;
        }
    }
    Ok(ldap)
}

/// Checks what can be checked before connecting: that this build has the bind method and
/// that the name fits it. Returns the host name for Kerberos's service principal (empty for
/// the other methods).
fn prepare_bind(url: &str, bind: &Bind) -> Result<String, AdError> {
    if !bind.is_built() {
        return Err(AdError::BindMethodNotBuilt {
            method: bind.method_name(),
            feature: bind.method_name(),
        });
    }
    match bind {
        Bind::Ntlm { user, .. } => {
            check_ntlm_name(user)?;
            Ok(String::new())
        }
        Bind::Kerberos { server_name } => match server_name {
            Some(name) => Ok(name.clone()),
            None => kerberos_server_name(url),
        },
        Bind::Simple { .. } | Bind::Anonymous => Ok(String::new()),
    }
}

/// NTLM names a user as `DOMAIN\user` or `user@domain`. ldap3 hands the name to sspi,
/// which panics on a mixed form such as `CORP\svc@corp.com`, so it is checked here first.
fn check_ntlm_name(user: &str) -> Result<(), AdError> {
    let invalid = |detail: &str| AdError::InvalidBindName {
        bind_name: user.to_owned(),
        method: "ntlm",
        detail: detail.to_owned(),
    };
    if let Some((domain, account)) = user.split_once('\\') {
        if domain.is_empty() || account.is_empty() {
            return Err(invalid("both the domain and the account must be given"));
        }
        if account.contains(['\\', '@']) || domain.contains('@') {
            return Err(invalid("it mixes the DOMAIN\\user and user@domain forms"));
        }
        Ok(())
    } else if let Some((account, domain)) = user.rsplit_once('@') {
        if domain.is_empty() || account.is_empty() {
            return Err(invalid("both the account and the domain must be given"));
        }
        Ok(())
    } else {
        Err(invalid("NTLM needs the domain in the name"))
    }
}

/// The host of an LDAP URL, for the Kerberos service principal `ldap/<host>`.
fn kerberos_server_name(url: &str) -> Result<String, AdError> {
    let invalid = |detail: &str| AdError::InvalidBindName {
        bind_name: url.to_owned(),
        method: "kerberos",
        detail: detail.to_owned(),
    };
    let rest = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split(['/', '?'])
        .next()
        .unwrap_or_default();
    let host = if let Some(bracketed) = rest.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else {
        rest.split(':').next().unwrap_or_default()
    };
    if host.is_empty() {
        return Err(invalid("the URL names no host"));
    }
    if host.parse::<std::net::IpAddr>().is_ok() {
        return Err(invalid(
            "the URL names an IP address, and Kerberos tickets are issued for host names",
        ));
    }
    Ok(host.to_ascii_lowercase())
}

/// A bind's result: invalidCredentials names the identity, other codes as usual.
fn check_bind(url: &str, bind_name: &str, result: LdapResult) -> Result<(), AdError> {
    check(url, "bind", result).map_err(|error| match error {
        AdError::Ldap {
            code: 49,
            diagnostic,
            ..
        } => AdError::InvalidCredentials {
            url: url.to_owned(),
            bind_name: bind_name.to_owned(),
            diagnostic,
        },
        other => other,
    })
}

#[cfg(feature = "ntlm")]
async fn ntlm_bind(
    ldap: &mut Ldap,
    url: &str,
    user: &str,
    password: &crate::Password,
    timeout: Duration,
) -> Result<(), AdError> {
    tracing::debug!(url, bind_name = %user, "NTLM bind");
    let result = ldap
        .with_timeout(timeout)
        .sasl_ntlm_bind(user, password.expose())
        .await
        .map_err(|error| match error {
            // sspi's messages describe the NTLM exchange, never the password.
            LdapError::SSPIError { source } => AdError::Ntlm {
                url: url.to_owned(),
                bind_name: user.to_owned(),
                detail: source.to_string(),
            },
            LdapError::NoNtlmChallengeToken => AdError::Ntlm {
                url: url.to_owned(),
                bind_name: user.to_owned(),
                detail: "the server sent no NTLM challenge".to_owned(),
            },
            other => classify(url, "bind", other),
        })?;
    check_bind(url, user, result)
}

#[cfg(not(feature = "ntlm"))]
async fn ntlm_bind(
    _ldap: &mut Ldap,
    _url: &str,
    _user: &str,
    _password: &crate::Password,
    _timeout: Duration,
) -> Result<(), AdError> {
    // prepare_bind refuses NTLM in this build before connecting.
    Err(AdError::BindMethodNotBuilt {
        method: "ntlm",
        feature: "ntlm",
    })
}

#[cfg(feature = "kerberos")]
async fn kerberos_bind(
    ldap: &mut Ldap,
    url: &str,
    server_name: &str,
    timeout: Duration,
) -> Result<(), AdError> {
    tracing::debug!(url, server_name, "Kerberos bind");
    let kerberos_error = |detail: String| AdError::Kerberos {
        url: url.to_owned(),
        server_name: server_name.to_owned(),
        detail,
    };
    let result = ldap
        .with_timeout(timeout)
        .sasl_gssapi_bind(server_name)
        .await
        .map_err(|error| match error {
            LdapError::GssapiOperationError(detail) => kerberos_error(detail),
            LdapError::NoGssapiToken => {
                kerberos_error("the server sent no GSSAPI token".to_owned())
            }
            other => classify(url, "bind", other),
        })?;
    check_bind(url, "(current Kerberos ticket)", result)
}

#[cfg(not(feature = "kerberos"))]
async fn kerberos_bind(
    _ldap: &mut Ldap,
    _url: &str,
    _server_name: &str,
    _timeout: Duration,
) -> Result<(), AdError> {
    // prepare_bind refuses Kerberos in this build before connecting.
    Err(AdError::BindMethodNotBuilt {
        method: "kerberos",
        feature: "kerberos",
    })
}

async fn search_users(
    ldap: &mut Ldap,
    directory: &Directory,
    source: &AdSource,
    reporter: &dyn Reporter,
    started: Instant,
    already_read: usize,
) -> Result<Vec<AdUser>, AdError> {
    let url = directory.url.as_str();
    let mut attributes: Vec<String> = USER_ATTRIBUTES
        .iter()
        .map(|&name| name.to_owned())
        .collect();
    if let AnchorChoice::Attribute(name) = &source.anchor {
        attributes.push(name.clone());
    }
    let adapters: Vec<Box<dyn Adapter<'_, String, Vec<String>>>> = vec![
        Box::new(EntriesOnly::new()),
        Box::new(PagedResults::new(source.page_size)),
    ];
    let scope = match source.scope {
        SearchScope::Base => Scope::Base,
        SearchScope::OneLevel => Scope::OneLevel,
        SearchScope::Subtree => Scope::Subtree,
    };
    let mut search = ldap
        .with_timeout(source.timeout)
        .streaming_search_with(
            adapters,
            &directory.base_dn,
            scope,
            &source.filter,
            attributes,
        )
        .await
        .map_err(|error| classify(url, "search", error))?;
    // Entries are decoded on a blocking thread while this loop only hands them over:
    // ldap3 asks for the next page when the loop reaches the end of the current one, so
    // decoding here would keep the server waiting for it page after page.
    let (entries_out, entries_in) = tokio::sync::mpsc::unbounded_channel::<ResultEntry>();
    let anchor = source.anchor.clone();
    let decoder = tokio::task::spawn_blocking(move || decode_entries(entries_in, &anchor));
    let report_every = u64::try_from(source.page_size.max(1)).unwrap_or(1000);
    let mut entries: u64 = 0;
    let streamed = loop {
        let next = match search.next().await {
            Ok(next) => next,
            Err(error) => break Err(limit_error(classify(url, "search", error), url, entries)),
        };
        let Some(raw) = next else { break Ok(()) };
        entries += 1;
        // The decoder only stops early on an error, which is reported below.
        let _ = entries_out.send(raw);
        if entries.is_multiple_of(report_every) {
            reporter.progress(already_read as u64 + entries, started.elapsed());
        }
    };
    drop(entries_out);
    let decoded = decoder.await.map_err(|error| AdError::MalformedEntry {
        distinguished_name: "(unknown)".to_owned(),
        detail: format!("decoding entries stopped: {error}"),
    })?;
    streamed?;
    let result = search.finish().await;
    check(url, "search", result).map_err(|error| limit_error(error, url, entries))?;
    let (users, warnings) = decoded?;
    for warning in &warnings {
        tracing::debug!("{warning}");
        reporter.warning(warning);
    }
    reporter.progress((already_read + users.len()) as u64, started.elapsed());
    tracing::debug!(url, users = users.len(), "directory read");
    Ok(users)
}

/// Decodes entries as they arrive until the sender is dropped; stops at the first entry
/// that is not valid, which is the error.
fn decode_entries(
    mut entries: tokio::sync::mpsc::UnboundedReceiver<ResultEntry>,
    anchor: &AnchorChoice,
) -> Result<(Vec<AdUser>, Vec<AdWarning>), AdError> {
    let mut users = Vec::new();
    let mut warnings = Vec::new();
    while let Some(raw) = entries.blocking_recv() {
        let entry = directory_entry(raw)?;
        if !entry.looks_like_user() {
            continue;
        }
        let (user, user_warnings) = user_from_entry(&entry, anchor)?;
        warnings.extend(user_warnings);
        users.push(user);
    }
    Ok((users, warnings))
}

/// Turns a search result entry, as BER, straight into ours: `[APPLICATION 4] SEQUENCE {
/// objectName, attributes SEQUENCE OF SEQUENCE { type, vals SET OF value } }`.
///
/// Not ldap3's `SearchEntry::construct`: that one panics on BER it cannot parse (a malformed
/// answer from a server must be an error, not a crash), tries every value as UTF-8 and
/// copies it into a second map, which at 100k users cost more client CPU than the rest of
/// the decoding. Values here stay bytes, in the server's order.
pub(crate) fn directory_entry(raw: ResultEntry) -> Result<DirectoryEntry, AdError> {
    let invalid = |distinguished_name: &str, detail: &str| AdError::MalformedEntry {
        distinguished_name: distinguished_name.to_owned(),
        detail: format!("the server sent an entry that is not valid LDAP (BER): {detail}"),
    };
    let unknown = "(unknown)";
    if raw.0.id != 4 {
        return Err(invalid(unknown, "it is not a search result entry"));
    }
    let mut parts = constructed(raw.0)
        .ok_or_else(|| invalid(unknown, "no parts"))?
        .into_iter();
    let name = parts
        .next()
        .and_then(primitive)
        .ok_or_else(|| invalid(unknown, "no distinguished name"))?;
    let name = String::from_utf8(name)
        .map_err(|_| invalid(unknown, "the distinguished name is not UTF-8"))?;
    let attributes = parts
        .next()
        .and_then(constructed)
        .ok_or_else(|| invalid(&name, "no attribute list"))?;
    let mut entry = DirectoryEntry::new(name);
    for attribute in attributes {
        let mut pair = constructed(attribute)
            .ok_or_else(|| invalid(&entry.distinguished_name, "an attribute is not a sequence"))?
            .into_iter();
        let attribute_name = pair
            .next()
            .and_then(primitive)
            .and_then(|bytes| String::from_utf8(bytes).ok());
        let values = pair.next().and_then(constructed).and_then(|values| {
            values
                .into_iter()
                .map(primitive)
                .collect::<Option<Vec<Vec<u8>>>>()
        });
        let (Some(attribute_name), Some(values)) = (attribute_name, values) else {
            return Err(invalid(
                &entry.distinguished_name,
                "an attribute has no name or no value list",
            ));
        };
        entry.push_values(&attribute_name, values);
    }
    Ok(entry)
}

/// The parts of a constructed BER element; `None` for a primitive one.
fn constructed(tag: StructureTag) -> Option<Vec<StructureTag>> {
    match tag.payload {
        PL::C(parts) => Some(parts),
        PL::P(_) => None,
    }
}

/// The bytes of a primitive BER element (an OCTET STRING); `None` for a constructed one.
fn primitive(tag: StructureTag) -> Option<Vec<u8>> {
    match tag.payload {
        PL::P(bytes) => Some(bytes),
        PL::C(_) => None,
    }
}

/// Maps a non-success result to an error; referrals (10) are fine here.
pub(crate) fn check(url: &str, operation: &'static str, result: LdapResult) -> Result<(), AdError> {
    match result.rc {
        0 | 10 => Ok(()),
        8 | 13 => Err(AdError::StrongAuthRequired {
            url: url.to_owned(),
            diagnostic: result.text,
        }),
        code => Err(AdError::Ldap {
            url: url.to_owned(),
            operation,
            code,
            name: result_code_name(code),
            diagnostic: result.text,
        }),
    }
}

fn limit_error(error: AdError, url: &str, entries: u64) -> AdError {
    match error {
        AdError::Ldap { code: 4, .. } => AdError::SizeLimit {
            url: url.to_owned(),
            entries,
        },
        AdError::Ldap { code: 3, .. } => AdError::TimeLimit {
            url: url.to_owned(),
            entries,
        },
        other => other,
    }
}

/// Classifies an ldap3 error: network, TLS trust, TLS name, LDAP result, timeout.
pub(crate) fn classify(url: &str, operation: &'static str, error: LdapError) -> AdError {
    match error {
        LdapError::LdapResult { result } => match check(url, operation, result) {
            Err(error) => error,
            Ok(()) => AdError::Ldap {
                url: url.to_owned(),
                operation,
                code: 0,
                name: "success",
                diagnostic: "unexpected success reported as an error".to_owned(),
            },
        },
        LdapError::Timeout { .. } => AdError::Timeout {
            url: url.to_owned(),
            operation,
        },
        LdapError::Rustls { source } => classify_rustls(url, &source),
        LdapError::Io { source } => {
            if let Some(tls) = source
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            {
                return classify_rustls(url, tls);
            }
            AdError::Unreachable {
                url: url.to_owned(),
                detail: source.to_string(),
            }
        }
        LdapError::UrlParsing { .. } | LdapError::UnknownScheme(_) | LdapError::DNSName { .. } => {
            AdError::InvalidUrl {
                url: url.to_owned(),
                detail: error.to_string(),
            }
        }
        // Closed before anything was exchanged: the server was never really reached.
        LdapError::EndOfStream | LdapError::OpSend { .. } | LdapError::ResultRecv { .. }
            if operation == "connect" =>
        {
            AdError::Unreachable {
                url: url.to_owned(),
                detail: format!("the connection closed during {operation}"),
            }
        }
        LdapError::EndOfStream | LdapError::OpSend { .. } | LdapError::ResultRecv { .. } => {
            AdError::ConnectionLost {
                url: url.to_owned(),
                operation,
            }
        }
        LdapError::FilterParsing => AdError::InvalidFilter {
            url: url.to_owned(),
        },
        other => AdError::Tls {
            url: url.to_owned(),
            detail: other.to_string(),
        },
    }
}

fn classify_rustls(url: &str, error: &rustls::Error) -> AdError {
    use rustls::CertificateError;
    match error {
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => AdError::TlsName {
            url: url.to_owned(),
            detail: error.to_string(),
        },
        rustls::Error::InvalidCertificate(_) => AdError::TlsUntrusted {
            url: url.to_owned(),
            detail: error.to_string(),
        },
        _ => AdError::Tls {
            url: url.to_owned(),
            detail: error.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_failures_are_told_apart_by_cause() {
        let name = rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName);
        let trust = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let wrapped = std::io::Error::new(std::io::ErrorKind::InvalidData, name.clone());
        assert!(matches!(
            classify("ldaps://dc1", "connect", LdapError::Io { source: wrapped }),
            AdError::TlsName { .. }
        ));
        let error = classify(
            "ldaps://dc1",
            "connect",
            LdapError::Rustls { source: trust },
        );
        assert!(matches!(error, AdError::TlsUntrusted { .. }));
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(matches!(
            classify("ldaps://dc1", "connect", LdapError::Io { source: refused }),
            AdError::Unreachable { .. }
        ));
    }

    #[test]
    fn ntlm_names_need_a_domain_in_one_form() {
        assert!(check_ntlm_name("HARDMATCH\\Administrator").is_ok());
        assert!(check_ntlm_name("svc@corp.contoso.com").is_ok());
        for bad in [
            "svc",
            "\\svc",
            "CORP\\",
            "CORP\\svc@corp.com",
            "@corp",
            "svc@",
        ] {
            let error = check_ntlm_name(bad).unwrap_err();
            assert!(
                matches!(error, AdError::InvalidBindName { method: "ntlm", .. }),
                "{bad}: {error}"
            );
            assert!(error.hint().unwrap().contains("DOMAIN\\user"));
        }
    }

    #[test]
    fn kerberos_takes_the_service_host_from_the_url() {
        assert_eq!(
            kerberos_server_name("ldaps://DC1.corp.contoso.com:636/").unwrap(),
            "dc1.corp.contoso.com"
        );
        assert_eq!(
            kerberos_server_name("ldap://dc1.corp.contoso.com").unwrap(),
            "dc1.corp.contoso.com"
        );
        let error = kerberos_server_name("ldaps://127.0.0.1:636").unwrap_err();
        assert!(error.to_string().contains("IP address"), "{error}");
        assert!(kerberos_server_name("ldaps://[::1]:636").is_err());
        let named = Bind::Kerberos {
            server_name: Some("dc1.hardmatch.test".to_owned()),
        };
        if named.is_built() {
            assert_eq!(
                prepare_bind("ldaps://127.0.0.1", &named).unwrap(),
                "dc1.hardmatch.test"
            );
        }
    }

    #[test]
    fn a_method_this_build_lacks_is_refused_with_the_feature_to_enable() {
        for bind in [
            Bind::Kerberos { server_name: None },
            Bind::Ntlm {
                user: "CORP\\svc".to_owned(),
                password: crate::Password::new("secret"),
            },
        ] {
            let outcome = prepare_bind("ldaps://dc1.corp.contoso.com", &bind);
            if bind.is_built() {
                assert!(outcome.is_ok(), "{outcome:?}");
                continue;
            }
            let error = outcome.unwrap_err();
            let feature = bind.method_name();
            assert_eq!(
                error.to_string(),
                format!(
                    "this hardmatch was built without {feature} binds (cargo feature `{feature}` of hardmatch-ad)"
                )
            );
            assert!(
                error
                    .hint()
                    .unwrap()
                    .contains(&format!("--features {feature}"))
            );
        }
    }

    #[test]
    fn kerberos_failures_point_at_the_next_step() {
        let error = |detail: &str| AdError::Kerberos {
            url: "ldaps://dc1.corp.contoso.com".to_owned(),
            server_name: "dc1.corp.contoso.com".to_owned(),
            detail: detail.to_owned(),
        };
        let missing = error(
            "gssapi error: No credentials were supplied, or the credentials were unavailable or inaccessible (No Kerberos credentials available (default cache: FILE:/tmp/krb5cc_0))",
        );
        assert!(missing.hint().unwrap().contains("kinit"), "{missing}");
        let unknown = error("Server ldap/10.0.0.1@CORP.CONTOSO.COM not found in Kerberos database");
        assert!(unknown.hint().unwrap().contains("ldap/<fqdn>"));
        assert_eq!(
            unknown.to_string(),
            "the Kerberos bind to `ldaps://dc1.corp.contoso.com` as service `ldap/dc1.corp.contoso.com` failed: Server ldap/10.0.0.1@CORP.CONTOSO.COM not found in Kerberos database"
        );
    }

    fn octets(bytes: &[u8]) -> StructureTag {
        StructureTag {
            class: ldap3::asn1::TagClass::Universal,
            id: 4,
            payload: PL::P(bytes.to_vec()),
        }
    }

    fn sequence(id: u64, parts: Vec<StructureTag>) -> StructureTag {
        StructureTag {
            class: ldap3::asn1::TagClass::Universal,
            id,
            payload: PL::C(parts),
        }
    }

    fn result_entry(name: &[u8], attributes: Vec<StructureTag>) -> ResultEntry {
        let entry = StructureTag {
            class: ldap3::asn1::TagClass::Application,
            id: 4,
            payload: PL::C(vec![octets(name), sequence(16, attributes)]),
        };
        ResultEntry::new(entry)
    }

    fn attribute(name: &str, values: &[&[u8]]) -> StructureTag {
        let values = values.iter().map(|value| octets(value)).collect();
        sequence(16, vec![octets(name.as_bytes()), sequence(17, values)])
    }

    #[test]
    fn entries_decode_from_ber_with_binary_values_and_the_servers_value_order() {
        let guid: &[u8] = &[
            0xe9, 0x23, 0x59, 0x9c, 0xff, 0xfe, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
        ];
        let raw = result_entry(
            b"CN=Megan Bowen,OU=Staff,DC=hardmatch,DC=test",
            vec![
                attribute("objectGUID", &[guid]),
                attribute("proxyAddresses", &[b"smtp:b@x", b"SMTP:a@x", &[0xff, b'x']]),
                attribute("objectGUID;binary", &[b"second"]),
            ],
        );
        let entry = directory_entry(raw).unwrap();
        assert_eq!(
            entry.distinguished_name,
            "CN=Megan Bowen,OU=Staff,DC=hardmatch,DC=test"
        );
        assert_eq!(
            entry.values("OBJECTGUID"),
            [guid.to_vec(), b"second".to_vec()]
        );
        assert_eq!(
            entry.values("proxyAddresses"),
            [b"smtp:b@x".to_vec(), b"SMTP:a@x".to_vec(), vec![0xff, b'x']]
        );
        assert!(entry.values("mail").is_empty());
    }

    #[test]
    fn malformed_ber_is_an_error_naming_the_entry_when_known() {
        let not_an_entry = ResultEntry::new(sequence(16, vec![octets(b"CN=x")]));
        let no_parts = ResultEntry::new(StructureTag {
            class: ldap3::asn1::TagClass::Application,
            id: 4,
            payload: PL::P(b"flat".to_vec()),
        });
        let bad_name = result_entry(&[0xff, 0xfe], Vec::new());
        let flat_attribute = result_entry(b"CN=x,DC=test", vec![octets(b"mail")]);
        let no_values = result_entry(b"CN=x,DC=test", vec![sequence(16, vec![octets(b"mail")])]);
        let nested_value = result_entry(
            b"CN=x,DC=test",
            vec![sequence(
                16,
                vec![
                    octets(b"mail"),
                    sequence(17, vec![sequence(16, Vec::new())]),
                ],
            )],
        );
        for (raw, named) in [
            (not_an_entry, "(unknown)"),
            (no_parts, "(unknown)"),
            (bad_name, "(unknown)"),
            (flat_attribute, "CN=x,DC=test"),
            (no_values, "CN=x,DC=test"),
            (nested_value, "CN=x,DC=test"),
        ] {
            let error = directory_entry(raw).unwrap_err();
            let AdError::MalformedEntry {
                distinguished_name,
                detail,
            } = &error
            else {
                panic!("{error:?}");
            };
            assert_eq!(distinguished_name, named);
            assert!(detail.contains("not valid LDAP (BER)"), "{detail}");
        }
    }

    #[test]
    fn result_codes_become_specific_errors() {
        let result = |rc| LdapResult {
            rc,
            matched: String::new(),
            text: "diagnostic".to_owned(),
            refs: Vec::new(),
            ctrls: Vec::new(),
        };
        assert!(check("u", "bind", result(0)).is_ok());
        assert!(matches!(
            check("u", "bind", result(8)),
            Err(AdError::StrongAuthRequired { .. })
        ));
        let error = limit_error(check("u", "search", result(4)).unwrap_err(), "u", 7);
        assert_eq!(
            error.to_string(),
            "`u` stopped the search at its size limit after 7 entries"
        );
        let error = check("u", "search", result(50)).unwrap_err();
        assert!(error.hint().unwrap().contains("permission"));
    }
}
