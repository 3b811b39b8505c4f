//! The on-premises Active Directory adapter: everything hardmatch knows about talking to AD.
//!
//! hardmatch starts from each on-premises user's source anchor, and admins reach AD in two
//! ways: live over LDAP(S) from a machine that sees a domain controller, or through an
//! export made on Windows (`Get-ADUser | Export-Csv`, csvde, ldifde/ldapsearch LDIF). Every
//! path ends in the same pure [`hardmatch_core::ad::AdUser`] values, so later stages cannot
//! tell where their input came from.
//!
//! Entry points:
//! - [`read_users`] (async) / [`read_users_blocking`]: live, paged read of one or more
//!   directories described by an [`AdSource`], returning an [`AdSnapshot`].
//! - [`read_export`]: an export file (`.csv` or `.ldif`) into an [`AdSnapshot`].
//! - [`DirectoryWriter`]: the guarded writes (ConsistencyGuid, UPN, proxyAddresses), each
//!   refused when the directory no longer holds the value the caller saw.
//!
//! Progress and warnings go through a [`Reporter`]; this crate never prints.
//!
//! What this build supports: TLS through rustls with the ring provider (`ldaps://`, and
//! `ldap://` upgraded with StartTLS), trusting the system roots plus given CA files;
//! simple binds with a DN or a UPN. NTLM (`DOMAIN\user`) and Kerberos binds are not built
//! yet: ldap3 offers them behind its `ntlm` and `gssapi` features (the latter needs
//! libkrb5 and libclang at build time). Attributes AD returns in ranges (more than 1500
//! values) are refused rather than read partially.

mod entry;
mod error;
mod export;
mod ldap;
mod reporter;
mod secret;
mod settings;
mod tls;
mod write;

pub use entry::{DirectoryEntry, domain_from_distinguished_name, sid_to_string, user_from_entry};
pub use error::AdError;
pub use export::{ExportFormat, read_export, read_export_bytes};
pub use hardmatch_core::ad::{AdSnapshot, AdSnapshotSource, AdUser, AnchorAttribute};
pub use ldap::{read_users, read_users_blocking};
pub use reporter::{AdWarning, NoReporter, Reporter};
pub use secret::Password;
pub use settings::{
    AdSource, AnchorChoice, Bind, DEFAULT_PAGE_SIZE, DEFAULT_USER_FILTER, Directory, SearchScope,
    TlsOptions, Transport,
};
pub use write::DirectoryWriter;
