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
//! What every build supports: TLS through rustls with the ring provider (`ldaps://`, and
//! `ldap://` upgraded with StartTLS), trusting the system roots plus given CA files; simple
//! binds with a DN, a UPN or `DOMAIN\user`. Attributes AD returns in ranges (more than
//! 1500 values) are refused rather than read partially.
//!
//! # Features: which binds a build can make
//!
//! | [`Bind`] | Cargo feature | Default | Build needs |
//! |---|---|---|---|
//! | `Simple`, `Anonymous` | — | always | nothing |
//! | `Ntlm` (`DOMAIN\user` or `user@domain`) | `ntlm` | on | nothing: pure Rust (sspi) |
//! | `Kerberos` (current ticket) | `kerberos` | off | libclang and the MIT Kerberos headers (Debian: `libkrb5-dev libclang-dev`); links libgssapi_krb5 |
//!
//! NTLM and Kerberos go through ldap3's `ntlm` and `gssapi` features. Over TLS both send
//! the `tls-server-end-point` channel binding, so they work with DCs that enforce LDAP
//! channel binding. NTLM relies on TLS for privacy (ldap3 does not seal); Kerberos on a
//! plaintext connection ([`Transport::Plaintext`]) installs its own encryption layer.
//! Kerberos asks for the service `ldap/<host>`: the URL must name the DC by its FQDN (or
//! [`Bind::Kerberos`] gives the name), and the ticket comes from `kinit` (`KRB5CCNAME`,
//! `KRB5_CONFIG` as usual). Kerberos is off by default so that a plain `cargo build` works
//! on a machine without those packages; a build without a method refuses it before
//! connecting with [`AdError::BindMethodNotBuilt`], naming the feature to enable.

mod entry;
mod error;
mod export;
mod ldap;
mod reporter;
mod secret;
mod settings;
mod tls;
mod write;

pub use entry::{
    DirectoryEntry, USER_ATTRIBUTES, domain_from_distinguished_name, sid_to_string, user_from_entry,
};
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
