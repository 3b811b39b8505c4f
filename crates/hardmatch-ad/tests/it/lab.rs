//! Finding the AD lab and building sources for it.
//!
//! The lab is found through the `HARDMATCH_LAB_*` variables that `scripts/ad-lab env`
//! prints. Without them the tests fail, naming the command to run, unless
//! `HARDMATCH_SKIP_LAB=1` says to skip them (with a visible notice).

// A missing lab must fail loudly, and a skipped one must say so on the test output.
#![allow(clippy::panic)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use hardmatch_ad::{AdSnapshot, AdSource, Bind, Directory, NoReporter, Password, TlsOptions};

pub(crate) struct Lab {
    pub(crate) ldaps_url: String,
    pub(crate) ldap_url: String,
    pub(crate) bind_dn: String,
    pub(crate) bind_upn: String,
    pub(crate) password: String,
    pub(crate) base_dn: String,
    pub(crate) ca_cert: PathBuf,
    /// The NetBIOS domain name, for `DOMAIN\user` (NTLM) names.
    // Builds without NTLM have no test that binds with it.
    #[cfg_attr(not(feature = "ntlm"), allow(dead_code))]
    pub(crate) domain: String,
}

fn variable(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: this test needs the Samba AD DC lab. Run `scripts/ad-lab up` and \
             `eval \"$(scripts/ad-lab env)\"` (scripts/test does both), or set HARDMATCH_SKIP_LAB=1 \
             to skip lab tests"
        )
    })
}

/// The lab, or `None` when lab tests are skipped on purpose.
pub(crate) fn lab() -> Option<Lab> {
    if std::env::var("HARDMATCH_SKIP_LAB").as_deref() == Ok("1") {
        // Straight to the process's stderr: the test harness captures `eprintln!`.
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            b"NOTICE: HARDMATCH_SKIP_LAB=1: skipping a test that needs the AD lab\n",
        );
        return None;
    }
    Some(Lab {
        ldaps_url: variable("HARDMATCH_LAB_LDAPS_URL"),
        ldap_url: variable("HARDMATCH_LAB_LDAP_URL"),
        bind_dn: variable("HARDMATCH_LAB_BIND_DN"),
        bind_upn: variable("HARDMATCH_LAB_BIND_UPN"),
        password: variable("HARDMATCH_LAB_BIND_PASSWORD"),
        base_dn: variable("HARDMATCH_LAB_BASE_DN"),
        ca_cert: PathBuf::from(variable("HARDMATCH_LAB_CA_CERT")),
        domain: variable("HARDMATCH_LAB_DOMAIN"),
    })
}

impl Lab {
    /// Whether the lab DC accepts SASL binds (NTLM, Kerberos) over TLS without SASL signing,
    /// as Windows DCs do. Labs provisioned before `scripts/ad-lab` set that refuse them
    /// ("Sign or Seal are required"); the shared lab a benchmark keeps running may be one,
    /// so the SASL tests say so visibly and skip rather than fail on the lab's age.
    // Builds without NTLM and Kerberos have no SASL bind test.
    #[cfg_attr(not(any(feature = "ntlm", feature = "kerberos")), allow(dead_code))]
    pub(crate) fn accepts_sasl_over_tls(&self) -> bool {
        let configuration = std::fs::read_to_string(variable("HARDMATCH_LAB_SMB_CONF"))
            .expect("the lab's smb.conf is readable");
        if configuration.contains("ldap server require strong auth = allow_sasl_over_tls") {
            return true;
        }
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            b"NOTICE: this AD lab predates SASL binds over TLS: skipping an NTLM/Kerberos test; \
              recreate it with `scripts/ad-lab down && scripts/ad-lab up`\n",
        );
        false
    }

    /// The OU holding the seeded edge-case users.
    pub(crate) fn corp(&self) -> String {
        format!("OU=Corp,{}", self.base_dn)
    }

    pub(crate) fn bind(&self) -> Bind {
        Bind::Simple {
            name: self.bind_dn.clone(),
            password: Password::new(self.password.clone()),
        }
    }

    pub(crate) fn tls(&self) -> TlsOptions {
        TlsOptions {
            ca_certificates: vec![self.ca_cert.clone()],
            ..TlsOptions::default()
        }
    }

    /// A source reading `base_dn` over `url` with the lab's credentials and CA.
    pub(crate) fn source(&self, url: &str, base_dn: &str) -> AdSource {
        let mut source = AdSource::new(
            vec![Directory {
                url: url.to_owned(),
                base_dn: base_dn.to_owned(),
            }],
            self.bind(),
        );
        source.tls = self.tls();
        source.timeout = Duration::from_secs(60);
        source
    }

    /// The seeded users, read live over LDAPS.
    pub(crate) fn read_corp(&self) -> AdSnapshot {
        let source = self.source(&self.ldaps_url, &self.corp());
        hardmatch_ad::read_users_blocking(&source, &NoReporter).expect("the lab answers")
    }

    /// OpenLDAP's ldapsearch against the lab: an independent client for comparisons.
    pub(crate) fn ldapsearch(&self, base_dn: &str, filter: &str, attributes: &[&str]) -> String {
        let output = Command::new("ldapsearch")
            .env("LDAPTLS_CACERT", &self.ca_cert)
            .env("LDAPTLS_REQCERT", "demand")
            .args([
                "-x",
                "-H",
                &self.ldaps_url,
                "-D",
                &self.bind_dn,
                "-w",
                &self.password,
            ])
            .args(["-E", "pr=1000/noprompt", "-b", base_dn, filter])
            .args(attributes)
            .output()
            .expect("ldapsearch runs (apt-get install ldap-utils)");
        assert!(
            output.status.success(),
            "ldapsearch failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("LDIF is UTF-8")
    }
}
