//! What a live AD read needs to know: where, as whom, how to trust the server, what to read.
//!
//! These are resolved settings: the CLI turns flags, environment and prompts into one
//! [`AdSource`] and this crate never looks at the environment itself.

use std::path::PathBuf;
use std::time::Duration;

use crate::secret::Password;

/// The default filter: user objects (not computers, which are also `objectClass=user`),
/// enabled and disabled alike.
pub const DEFAULT_USER_FILTER: &str = "(&(objectCategory=person)(objectClass=user))";

/// Active Directory and Samba refuse pages larger than this (AD's MaxPageSize).
pub const DEFAULT_PAGE_SIZE: i32 = 1000;

/// One directory to read: a server URL and the subtree to search there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Directory {
    /// `ldaps://host[:port]` or `ldap://host[:port]` (StartTLS, see [`TlsOptions`]).
    pub url: String,
    /// For example `DC=corp,DC=contoso,DC=com`.
    pub base_dn: String,
}

/// How to authenticate.
///
/// Every variant exists in every build, so that callers need no feature switches of their
/// own; a method this build lacks fails with [`crate::AdError::BindMethodNotBuilt`] before
/// any connection is made. [`Bind::is_built`] tells in advance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bind {
    /// A simple bind with a DN (`CN=svc,OU=…`), a UPN (`svc@corp.contoso.com`) or a
    /// down-level name (`CORP\svc`; AD accepts all three). Needs TLS: AD refuses simple
    /// binds on unencrypted connections (strongAuthRequired).
    Simple { name: String, password: Password },
    /// NTLM (SASL GSS-SPNEGO carrying NTLMSSP) as `DOMAIN\user` or `user@domain`. Over TLS
    /// the `tls-server-end-point` channel binding is sent, so it passes DCs that enforce
    /// LDAP channel binding. Needs the `ntlm` feature (on by default; pure Rust).
    Ntlm { user: String, password: Password },
    /// Kerberos (SASL GSSAPI) with the current ticket cache (`kinit`), no password. The
    /// service principal is `ldap/<server_name>`, by default the URL's host, which must then
    /// be the DC's FQDN rather than an IP address or an alias. Needs the `kerberos` feature
    /// (links the system's Kerberos library).
    Kerberos { server_name: Option<String> },
    /// No bind; AD allows little more than reading the rootDSE this way.
    Anonymous,
}

impl Bind {
    /// The identity as shown in messages; never the password.
    pub fn display_name(&self) -> &str {
        match self {
            Self::Simple { name, .. } => name,
            Self::Ntlm { user, .. } => user,
            Self::Kerberos { .. } => "(current Kerberos ticket)",
            Self::Anonymous => "(anonymous)",
        }
    }

    /// The method's name in messages and on the command line.
    pub fn method_name(&self) -> &'static str {
        match self {
            Self::Simple { .. } => "simple",
            Self::Ntlm { .. } => "ntlm",
            Self::Kerberos { .. } => "kerberos",
            Self::Anonymous => "anonymous",
        }
    }

    /// Whether this build can bind this way (see the crate's features).
    pub fn is_built(&self) -> bool {
        match self {
            Self::Simple { .. } | Self::Anonymous => true,
            Self::Ntlm { .. } => cfg!(feature = "ntlm"),
            Self::Kerberos { .. } => cfg!(feature = "kerberos"),
        }
    }
}

/// How the connection is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Decide by URL: `ldaps://` is TLS from the first byte, `ldap://` upgrades with StartTLS.
    Automatic,
    /// `ldap://` without any TLS. Only useful to show what a DC says about it.
    Plaintext,
}

/// Certificate trust for the TLS connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsOptions {
    pub transport: Transport,
    /// Extra trusted CA certificates (PEM files), on top of the system's roots.
    pub ca_certificates: Vec<PathBuf>,
    /// Accept any certificate. Exists for broken labs; every read then reports
    /// [`crate::AdWarning::TlsVerificationDisabled`].
    pub insecure_skip_verify: bool,
}

impl Default for TlsOptions {
    fn default() -> Self {
        Self {
            transport: Transport::Automatic,
            ca_certificates: Vec::new(),
            insecure_skip_verify: false,
        }
    }
}

/// LDAP search scope below each base DN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SearchScope {
    Base,
    OneLevel,
    Subtree,
}

/// Which attribute supplies the source anchor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnchorChoice {
    /// Entra Connect's rule: `mS-DS-ConsistencyGuid` when set, else `objectGUID`.
    Auto,
    /// Always `objectGUID`, as Connect did before ConsistencyGuid support.
    ObjectGuid,
    /// `mS-DS-ConsistencyGuid`; when it is empty Connect writes the objectGUID into it
    /// before exporting, so the effective anchor is then the objectGUID (same as `Auto`).
    ConsistencyGuid,
    /// A custom anchor attribute such as `employeeID`: text values are used as they are,
    /// binary values are Base64-encoded like Connect does.
    Attribute(String),
}

impl AnchorChoice {
    /// Parses the `--anchor` spelling: `auto`, `objectGUID`, `mS-DS-ConsistencyGuid` or a name.
    pub fn parse(text: &str) -> Self {
        if text.eq_ignore_ascii_case("auto") {
            Self::Auto
        } else if text.eq_ignore_ascii_case("objectGUID") {
            Self::ObjectGuid
        } else if text.eq_ignore_ascii_case("mS-DS-ConsistencyGuid") {
            Self::ConsistencyGuid
        } else {
            Self::Attribute(text.to_owned())
        }
    }
}

/// Everything a live read needs.
#[derive(Clone, Debug)]
pub struct AdSource {
    /// One or more directories; their users are merged, each recording its domain.
    pub directories: Vec<Directory>,
    pub bind: Bind,
    pub tls: TlsOptions,
    /// LDAP filter, [`DEFAULT_USER_FILTER`] unless the admin narrows it.
    pub filter: String,
    pub scope: SearchScope,
    pub anchor: AnchorChoice,
    /// Entries per page; servers cap it at 1000.
    pub page_size: i32,
    /// Limit for connecting and for each LDAP operation.
    pub timeout: Duration,
}

impl AdSource {
    /// A source with the defaults for everything but where and as whom.
    pub fn new(directories: Vec<Directory>, bind: Bind) -> Self {
        Self {
            directories,
            bind,
            tls: TlsOptions::default(),
            filter: DEFAULT_USER_FILTER.to_owned(),
            scope: SearchScope::Subtree,
            anchor: AnchorChoice::Auto,
            page_size: DEFAULT_PAGE_SIZE,
            timeout: Duration::from_secs(30),
        }
    }
}
