//! The byte-order proof against a real AD implementation (issue 2): objectGUIDs read as
//! raw bytes over LDAPS from the Samba AD DC lab must Base64-encode to exactly what
//! `hardmatch convert` makes of the GUID strings Samba itself reports.
//!
//! The lab is found through `HARDMATCH_LAB_*` (`scripts/ad-lab env`). Without them the
//! test fails and says to run `scripts/ad-lab up`, unless `HARDMATCH_SKIP_LAB=1`.

// A missing lab must fail loudly, and a skipped one must say so on the test output.
#![allow(clippy::panic)]

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;

use crate::support::{hardmatch, render};

fn lab_variable(name: &str) -> Option<String> {
    if std::env::var("HARDMATCH_SKIP_LAB").as_deref() == Ok("1") {
        // Straight to the process's stderr: the test harness captures `eprintln!`.
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            b"NOTICE: HARDMATCH_SKIP_LAB=1: skipping a test that needs the AD lab\n",
        );
        return None;
    }
    Some(std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: this test needs the Samba AD DC lab. Run `scripts/ad-lab up` and \
             `eval \"$(scripts/ad-lab env)\"` (scripts/test does both), or set HARDMATCH_SKIP_LAB=1 \
             to skip lab tests"
        )
    }))
}

/// DN → raw objectGUID bytes of every user under `base_dn`, read with ldap3 over LDAPS,
/// verifying the server against the lab CA.
fn raw_object_guids(
    url: &str,
    bind_dn: &str,
    password: &str,
    base_dn: &str,
    ca_cert: &str,
) -> BTreeMap<String, Vec<u8>> {
    let mut roots = rustls::RootCertStore::empty();
    for certificate in CertificateDer::pem_file_iter(ca_cert).expect("the lab CA file exists") {
        roots
            .add(certificate.expect("PEM"))
            .expect("a CA certificate");
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let settings = LdapConnSettings::new().set_config(Arc::new(config));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let (connection, mut ldap) = LdapConnAsync::with_settings(settings, url)
            .await
            .expect("LDAPS connection to the lab, verified against its CA");
        tokio::spawn(async move { connection.drive().await });
        ldap.simple_bind(bind_dn, password)
            .await
            .expect("bind")
            .success()
            .expect("bind succeeds");
        let (entries, result) = ldap
            .search(
                base_dn,
                Scope::Subtree,
                "(objectClass=user)",
                vec!["objectGUID"],
            )
            .await
            .expect("search")
            .success()
            .map(|(entries, result)| (entries, result.rc))
            .expect("search succeeds");
        assert_eq!(result, 0);
        entries
            .into_iter()
            .map(|raw| {
                let entry = SearchEntry::construct(raw);
                // ldap3 files a value that happens to be valid UTF-8 under `attrs`.
                let bytes = match entry.bin_attrs.get("objectGUID") {
                    Some(values) => values[0].clone(),
                    None => entry.attrs["objectGUID"][0].clone().into_bytes(),
                };
                (entry.dn, bytes)
            })
            .collect()
    })
}

/// DN → GUID string, as Samba renders objectGUID itself (ldbsearch on its database).
fn samba_guid_strings(sam_ldb: &str, base_dn: &str) -> BTreeMap<String, String> {
    let output = Command::new("ldbsearch")
        .args([
            "-H",
            sam_ldb,
            "-b",
            base_dn,
            "(objectClass=user)",
            "objectGUID",
        ])
        .output()
        .expect("ldbsearch runs (apt-get install ldb-tools)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    let mut guids = BTreeMap::new();
    let mut dn = None;
    for line in text.replace("\n ", "").lines() {
        if let Some(value) = line.strip_prefix("dn:: ") {
            let bytes = BASE64.decode(value).expect("Base64 DN");
            dn = Some(String::from_utf8(bytes).expect("UTF-8 DN"));
        } else if let Some(value) = line.strip_prefix("dn: ") {
            dn = Some(value.to_owned());
        } else if let Some(value) = line.strip_prefix("objectGUID: ") {
            guids.insert(dn.take().expect("dn before objectGUID"), value.to_owned());
        }
    }
    guids
}

#[test]
fn convert_matches_the_raw_object_guid_bytes_of_a_real_dc() {
    let Some(url) = lab_variable("HARDMATCH_LAB_LDAPS_URL") else {
        return;
    };
    let variable = |name| lab_variable(name).expect("not skipped");
    let base_dn = format!("OU=Corp,{}", variable("HARDMATCH_LAB_BASE_DN"));
    let raw = raw_object_guids(
        &url,
        &variable("HARDMATCH_LAB_BIND_DN"),
        &variable("HARDMATCH_LAB_BIND_PASSWORD"),
        &base_dn,
        &variable("HARDMATCH_LAB_CA_CERT"),
    );
    let strings = samba_guid_strings(&variable("HARDMATCH_LAB_SAM_LDB"), &base_dn);
    assert!(raw.len() >= 10, "seeded users expected, got {raw:?}");
    assert_eq!(
        raw.keys().collect::<Vec<_>>(),
        strings.keys().collect::<Vec<_>>()
    );

    let mut command = hardmatch();
    command.args(["convert", "--json"]);
    command.args(strings.values());
    let output = command.output().expect("hardmatch runs");
    assert!(output.status.success(), "{}", render(&output));
    let lines: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .expect("UTF-8")
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), strings.len());
    for ((dn, guid), line) in strings.iter().zip(&lines) {
        let bytes = &raw[dn];
        assert_eq!(bytes.len(), 16, "{dn}");
        assert_eq!(line["input"], guid.as_str());
        assert_eq!(
            line["immutable_id"],
            BASE64.encode(bytes),
            "{dn}: Samba reports {guid}, raw bytes {bytes:02x?}"
        );
    }
}
