//! Everything that can go wrong reading or writing AD, each with the next step to take.
//!
//! An admin running hardmatch against a domain controller meets certificate, credential and
//! policy problems long before any matching happens. Each variant's `Display` names the
//! cause with the values involved (never a password); [`AdError::hint`] says what to do.

use std::path::PathBuf;

/// An AD adapter failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdError {
    #[error("cannot reach the LDAP server at `{url}`: {detail}")]
    Unreachable { url: String, detail: String },

    #[error("the connection to `{url}` closed in the middle of the {operation}")]
    ConnectionLost {
        url: String,
        operation: &'static str,
    },

    #[error("`{url}` did not answer in time ({operation})")]
    Timeout {
        url: String,
        operation: &'static str,
    },

    #[error("the certificate of `{url}` is not trusted: {detail}")]
    TlsUntrusted { url: String, detail: String },

    #[error("the certificate of `{url}` is not valid for that host name: {detail}")]
    TlsName { url: String, detail: String },

    #[error("TLS with `{url}` failed: {detail}")]
    Tls { url: String, detail: String },

    #[error("cannot use CA certificate file `{path}`: {detail}", path = path.display())]
    CaCertificate { path: PathBuf, detail: String },

    #[error("`{url}` rejected the credentials of `{bind_name}`{reason}", reason = ad_bind_reason(diagnostic))]
    InvalidCredentials {
        url: String,
        bind_name: String,
        /// The server's diagnostic text; AD's carries a `data 52e`-style sub-code.
        diagnostic: String,
    },

    #[error(
        "`{url}` requires a protected connection for this bind (strongAuthRequired): {diagnostic}"
    )]
    StrongAuthRequired { url: String, diagnostic: String },

    #[error(
        "the bind password for `{bind_name}` is empty; LDAP treats that as an unauthenticated bind that reads nothing"
    )]
    EmptyPassword { bind_name: String },

    #[error(
        "this hardmatch was built without {method} binds (cargo feature `{feature}` of hardmatch-ad)"
    )]
    BindMethodNotBuilt {
        method: &'static str,
        feature: &'static str,
    },

    #[error("`{bind_name}` cannot be used for {method} binds: {detail}")]
    InvalidBindName {
        bind_name: String,
        method: &'static str,
        detail: String,
    },

    #[error("the NTLM bind of `{bind_name}` to `{url}` failed: {detail}")]
    Ntlm {
        url: String,
        bind_name: String,
        detail: String,
    },

    #[error("the Kerberos bind to `{url}` as service `ldap/{server_name}` failed: {detail}")]
    Kerberos {
        url: String,
        server_name: String,
        detail: String,
    },

    #[error("`{url}` stopped the search at its size limit after {entries} entries")]
    SizeLimit { url: String, entries: u64 },

    #[error("`{url}` stopped the search at its time limit after {entries} entries")]
    TimeLimit { url: String, entries: u64 },

    #[error("`{url}`: {operation} failed with LDAP result {code} ({name}): {diagnostic}")]
    Ldap {
        url: String,
        operation: &'static str,
        code: u32,
        name: &'static str,
        diagnostic: String,
    },

    #[error("the search filter for `{url}` is not valid LDAP filter syntax")]
    InvalidFilter { url: String },

    #[error("`{url}` is not an LDAP URL: {detail}")]
    InvalidUrl { url: String, detail: String },

    #[error("entry `{distinguished_name}`: {detail}")]
    MalformedEntry {
        distinguished_name: String,
        detail: String,
    },

    #[error("cannot read `{path}`: {source}", path = path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("`{path}` is not a CSV file hardmatch can read: {detail} (line {line})", path = path.display())]
    Csv {
        path: PathBuf,
        line: u64,
        detail: String,
    },

    #[error("`{path}` has no `{column}` column", path = path.display())]
    MissingColumn { path: PathBuf, column: String },

    #[error("`{path}` has the column `{column}` twice (columns {first} and {second})", path = path.display())]
    DuplicateColumn {
        path: PathBuf,
        column: String,
        first: usize,
        second: usize,
    },

    #[error("`{path}` is separated by {separator}; hardmatch reads comma- or semicolon-separated CSV", path = path.display())]
    Separator {
        path: PathBuf,
        separator: &'static str,
    },

    #[error("`{path}` is empty", path = path.display())]
    EmptyExport { path: PathBuf },

    #[error("`{path}` line {line}, column `{column}`: {detail}", path = path.display())]
    ExportValue {
        path: PathBuf,
        line: u64,
        column: String,
        detail: String,
    },

    #[error("`{path}` is not valid {encoding} text: {detail}", path = path.display())]
    Encoding {
        path: PathBuf,
        encoding: &'static str,
        detail: String,
    },

    #[error("`{path}` line {line}: {detail}", path = path.display())]
    Ldif {
        path: PathBuf,
        line: u64,
        detail: String,
    },

    #[error("`{path}`: cannot tell the export format from the file name; expected .csv or .ldif", path = path.display())]
    UnknownExportFormat { path: PathBuf },

    #[error("no user entry `{distinguished_name}` at `{url}`")]
    NoSuchEntry {
        url: String,
        distinguished_name: String,
    },

    #[error(
        "refused to change {attribute} of `{distinguished_name}`: the directory holds {actual}, the plan expected {expected}"
    )]
    PreconditionFailed {
        distinguished_name: String,
        attribute: String,
        expected: String,
        actual: String,
    },

    #[error("cannot start the runtime for a blocking AD read: {0}")]
    Runtime(std::io::Error),
}

impl AdError {
    /// The next step for the admin, when there is a useful one.
    pub fn hint(&self) -> Option<String> {
        let hint = match self {
            Self::Unreachable { .. } => {
                "check the host name and port (LDAPS is usually 636, LDAP/StartTLS 389) and that no firewall is in the way".to_owned()
            }
            Self::ConnectionLost { .. } => {
                "nothing was written; run the command again. If it keeps happening, a firewall, load balancer or the DC's MaxConnIdleTime may be cutting long reads: read a narrower --base-dn, or ask for the idle limit to be raised".to_owned()
            }
            Self::Timeout { .. } => {
                "check that the server is up and reachable; a busy DC may need a longer --timeout".to_owned()
            }
            Self::TlsUntrusted { .. } => {
                "pass --ca-cert FILE with the PEM certificate of the CA that issued the domain controller's certificate".to_owned()
            }
            Self::TlsName { .. } => {
                "connect with a host name the certificate lists in its subjectAltName (usually the DC's FQDN), not an alias or IP address it lacks".to_owned()
            }
            Self::Tls { .. } => {
                "check that the port speaks the protocol of the URL: ldaps:// for 636, ldap:// (StartTLS) for 389".to_owned()
            }
            Self::CaCertificate { .. } => {
                "pass a readable PEM file containing `-----BEGIN CERTIFICATE-----` blocks".to_owned()
            }
            Self::InvalidCredentials { .. } => {
                "check the bind DN/UPN and password (a UPN looks like svc-hardmatch@corp.contoso.com; with --bind-method ntlm the name is CORP\\svc-hardmatch)".to_owned()
            }
            Self::BindMethodNotBuilt { feature, .. } => format!(
                "install a build with it: cargo install --locked --features {feature} --path crates/hardmatch-cli{}; or bind another way (--bind-method simple)",
                if *feature == "kerberos" {
                    " (building Kerberos needs the krb5 headers and libclang: apt-get install libkrb5-dev libclang-dev)"
                } else {
                    ""
                }
            ),
            Self::InvalidBindName { method, .. } => match *method {
                "ntlm" => "write the name as DOMAIN\\user (NetBIOS domain) or user@domain".to_owned(),
                _ => "pass the DC's fully qualified host name, as in its service principal ldap/<host>".to_owned(),
            },
            Self::Ntlm { .. } => {
                "check the name (DOMAIN\\user) and that the DC allows NTLM; where it does not, use --bind-method kerberos or simple".to_owned()
            }
            Self::Kerberos { detail, .. } => kerberos_hint(detail),
            Self::EmptyPassword { .. } => {
                "pass the password with --bind-password-env VAR, --bind-password-file FILE or at the prompt".to_owned()
            }
            Self::StrongAuthRequired { .. } => {
                "use ldaps:// or StartTLS (ldap:// with TLS left on): the DC refuses simple binds without encryption".to_owned()
            }
            Self::SizeLimit { .. } | Self::TimeLimit { .. } => {
                "the server did not honour paging; narrow --base-dn or --filter, or raise the server's MaxPageSize/MaxQueryDuration".to_owned()
            }
            Self::Ldap { code: 50, .. } => {
                "the bind account lacks the permission; use an account delegated to read (or, for writes, write) these attributes".to_owned()
            }
            Self::Ldap { code: 32, .. } => "check --base-dn: the server has no such entry".to_owned(),
            Self::Ldap { .. } => return None,
            Self::InvalidUrl { .. } => {
                "write it as ldaps://dc1.corp.contoso.com or ldap://dc1.corp.contoso.com:389".to_owned()
            }
            Self::MalformedEntry { .. } => {
                "fix the attribute in AD or leave the entry out with --filter; hardmatch does not guess anchors".to_owned()
            }
            Self::Io { .. } => "check the path and its permissions".to_owned(),
            Self::Csv { .. } => {
                "re-export with PowerShell's Export-Csv (it quotes every field) and do not edit the file in a spreadsheet that changes quoting".to_owned()
            }
            Self::MissingColumn { column, .. } => format!(
                "export with the column included, e.g. Get-ADUser -Filter * -Properties * | Export-Csv -NoTypeInformation -Encoding UTF8 users.csv (see docs for `{column}`)"
            ),
            Self::DuplicateColumn { column, .. } => format!(
                "keep one `{column}` column: hardmatch cannot tell which of the two holds the value (a hand-merged file, or a Select-Object naming the property twice?)"
            ),
            Self::InvalidFilter { .. } => {
                "check --ldap-filter (or the profile's ldap_filter): every part in parentheses, balanced, e.g. (&(objectCategory=person)(objectClass=user)(department=Sales))".to_owned()
            }
            Self::Separator { .. } => {
                "export with commas (Export-Csv's default) or semicolons (Export-Csv -UseCulture); a spreadsheet's tab- or pipe-separated save is not read".to_owned()
            }
            Self::EmptyExport { .. } => {
                "the export wrote nothing; run it again and check its output, e.g. Get-ADUser -Filter * -Properties * | Export-Csv -NoTypeInformation -Encoding UTF8 users.csv".to_owned()
            }
            Self::ExportValue { column, .. } => export_value_hint(column),
            Self::Encoding { .. } => {
                "re-export with -Encoding UTF8 (or Unicode); Windows PowerShell 5.1 writes ASCII by default, which loses non-English names".to_owned()
            }
            Self::Ldif { .. } => {
                "export with ldifde -f users.ldif or ldapsearch -LLL; hand edits must keep `attr: value` / `attr:: base64` lines and one-space continuation lines".to_owned()
            }
            Self::UnknownExportFormat { .. } => {
                "rename the file to end in .csv (Export-Csv, csvde) or .ldif (ldifde, ldapsearch)".to_owned()
            }
            Self::NoSuchEntry { .. } => {
                "the object was moved, renamed or deleted since the plan was made; take a new snapshot and plan again".to_owned()
            }
            Self::PreconditionFailed { .. } => {
                "someone changed the object since the plan was made; take a new snapshot and plan again".to_owned()
            }
            Self::Runtime(_) => return None,
        };
        Some(hint)
    }
}

/// The next step for a GSSAPI failure, recognised by the MIT/Heimdal message texts.
fn kerberos_hint(detail: &str) -> String {
    let lowered = detail.to_ascii_lowercase();
    if lowered.contains("credentials cache")
        || lowered.contains("no kerberos credentials")
        || lowered.contains("ticket expired")
        || lowered.contains("no credentials")
    {
        "there is no valid Kerberos ticket: run `kinit user@REALM` (check with `klist`), or point KRB5CCNAME at the ticket cache".to_owned()
    } else if lowered.contains("not found in kerberos database")
        || lowered.contains("unknown server")
    {
        "the KDC knows no such service principal: connect with the DC's fully qualified host name (its SPN is ldap/<fqdn>), not an IP address or a DNS alias".to_owned()
    } else if lowered.contains("realm") || lowered.contains("kdc") {
        "Kerberos cannot find a KDC for the realm: check /etc/krb5.conf (or KRB5_CONFIG) and DNS SRV records for _kerberos._tcp.<realm>".to_owned()
    } else if lowered.contains("skew") {
        "this machine's clock differs from the DC's by more than Kerberos allows (5 minutes): synchronise it".to_owned()
    } else {
        "check `klist` for a valid ticket (run `kinit user@REALM`) and that the URL names the DC by its fully qualified host name".to_owned()
    }
}

fn export_value_hint(column: &str) -> String {
    let lowered = column.to_ascii_lowercase();
    if lowered == "proxyaddresses" {
        "PowerShell wrote the collection's type name instead of the addresses; export them \
         joined: Select-Object *,@{n='proxyAddresses';e={$_.proxyAddresses -join ';'}} -ExcludeProperty proxyAddresses"
            .to_owned()
    } else if lowered == "objectguid" {
        "the value was cut or edited: an objectGUID is 32 hex digits, written by Export-Csv as \
         xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (csvde: X'…', 16 bytes); export again rather than editing the file"
            .to_owned()
    } else if lowered.contains("guid") {
        "PowerShell wrote `System.Byte[]` or an unreadable value; export the GUID as text: \
         @{n='mS-DS-ConsistencyGuid';e={if($_.'mS-DS-ConsistencyGuid'){[guid][byte[]]$_.'mS-DS-ConsistencyGuid'}}}"
            .to_owned()
    } else {
        format!("export `{column}` as plain text")
    }
}

/// AD's `data XXX` sub-code of an invalidCredentials diagnostic, in words.
fn ad_bind_reason(diagnostic: &str) -> String {
    let Some(position) = diagnostic.find("data ") else {
        return String::new();
    };
    let code: String = diagnostic[position + 5..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    let reason = match code.to_ascii_lowercase().as_str() {
        "525" => "user not found",
        "52e" => "wrong password",
        "530" => "logon not permitted at this time",
        "531" => "logon not permitted from this workstation",
        "532" => "password expired",
        "533" => "account disabled",
        "701" => "account expired",
        "773" => "password must be changed",
        "775" => "account locked out",
        _ => return String::new(),
    };
    format!(" ({reason})")
}

/// The RFC 4511 name of an LDAP result code, for messages.
pub(crate) fn result_code_name(code: u32) -> &'static str {
    match code {
        0 => "success",
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        4 => "sizeLimitExceeded",
        7 => "authMethodNotSupported",
        8 => "strongAuthRequired",
        10 => "referral",
        11 => "adminLimitExceeded",
        12 => "unavailableCriticalExtension",
        13 => "confidentialityRequired",
        16 => "noSuchAttribute",
        17 => "undefinedAttributeType",
        19 => "constraintViolation",
        20 => "attributeOrValueExists",
        21 => "invalidAttributeSyntax",
        32 => "noSuchObject",
        34 => "invalidDNSyntax",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        64 => "namingViolation",
        65 => "objectClassViolation",
        68 => "entryAlreadyExists",
        80 => "other",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_credentials_name_the_ad_sub_code() {
        let error = AdError::InvalidCredentials {
            url: "ldaps://dc1".into(),
            bind_name: "svc@corp".into(),
            diagnostic: "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 52e, v4563".into(),
        };
        assert_eq!(
            error.to_string(),
            "`ldaps://dc1` rejected the credentials of `svc@corp` (wrong password)"
        );
        assert!(error.hint().unwrap().contains("bind DN/UPN and password"));
    }

    #[test]
    fn every_user_facing_error_has_a_hint() {
        let error = AdError::TlsUntrusted {
            url: "ldaps://dc1".into(),
            detail: "unknown issuer".into(),
        };
        assert!(error.hint().unwrap().contains("--ca-cert"));
        let error = AdError::StrongAuthRequired {
            url: "ldap://dc1".into(),
            diagnostic: String::new(),
        };
        assert!(error.hint().unwrap().contains("ldaps://"));
    }
}
