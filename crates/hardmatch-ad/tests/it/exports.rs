//! The same lab users exported as LDIF (OpenLDAP's ldapsearch) and as an Export-Csv-style
//! CSV (written here the way Windows PowerShell 5.1 writes one) give the same users as a
//! live read.

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hardmatch_ad::{AnchorChoice, NoReporter, read_export};
use hardmatch_core::anchor::ObjectGuid;

use crate::lab::lab;

/// What the snapshot needs, named as in AD.
const ATTRIBUTES: [&str; 12] = [
    "objectGUID",
    "mS-DS-ConsistencyGuid",
    "userPrincipalName",
    "mail",
    "proxyAddresses",
    "sAMAccountName",
    "displayName",
    "distinguishedName",
    "userAccountControl",
    "objectSid",
    "objectClass",
    "objectCategory",
];

#[test]
fn ldapsearch_ldif_gives_the_live_users() {
    let Some(lab) = lab() else { return };
    let live = lab.read_corp();
    // ldapsearch's default output: a version line, comments, lines folded at 76
    // columns, `::` Base64 for binary and non-ASCII values, referrals as comments, and a
    // `search:`/`result:` trailer.
    let ldif = lab.ldapsearch(
        &lab.corp(),
        "(&(objectCategory=person)(objectClass=user))",
        &ATTRIBUTES,
    );
    assert!(ldif.contains("\n "), "expected folded lines");
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("users.ldif");
    std::fs::write(&path, &ldif).unwrap();
    let exported = read_export(&path, &AnchorChoice::Auto, &NoReporter).unwrap();
    assert_eq!(exported.source.kind, "ldif");
    assert_eq!(exported.users, live.users);
}

/// One LDIF record from ldbsearch: DN and (attribute, value) pairs.
type Record = (String, Vec<(String, Vec<u8>)>);

/// Samba's own view via ldbsearch on the database: it renders objectGUID and objectSid as
/// strings, like PowerShell's ADUser objects do.
fn ldbsearch(base_dn: &str) -> Vec<Record> {
    let sam = std::env::var("HARDMATCH_LAB_SAM_LDB")
        .expect("HARDMATCH_LAB_SAM_LDB is set by `scripts/ad-lab env`");
    let output = Command::new("ldbsearch")
        .args([
            "-H",
            &sam,
            "-b",
            base_dn,
            "(&(objectCategory=person)(objectClass=user))",
        ])
        .args(ATTRIBUTES)
        .output()
        .expect("ldbsearch runs (apt-get install ldb-tools)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    let mut records = Vec::new();
    for block in text.replace("\n ", "").split("\n\n") {
        let mut dn = None;
        let mut values = Vec::new();
        for line in block.lines().filter(|line| !line.starts_with('#')) {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let bytes = match value.strip_prefix(':') {
                Some(encoded) => BASE64.decode(encoded.trim()).expect("Base64"),
                None => value.trim_start().as_bytes().to_vec(),
            };
            if name == "dn" {
                dn = Some(String::from_utf8(bytes).expect("UTF-8 DN"));
            } else {
                values.push((name.to_owned(), bytes));
            }
        }
        if let Some(dn) = dn {
            records.push((dn, values));
        }
    }
    records
}

fn quote(value: &str) -> String {
    format!("\"{}\"", value.replace('"', "\"\""))
}

/// Writes what `Get-ADUser -Filter * -Properties * | Select-Object … | Export-Csv
/// -Encoding Unicode` produces: a `#TYPE` line, every field quoted, UTF-16LE with BOM,
/// GUIDs and SIDs as strings, `Enabled` as True/False, proxyAddresses joined with `;`.
fn write_powershell_csv(records: &[Record], path: &Path) {
    let columns = [
        "DistinguishedName",
        "Enabled",
        "ObjectClass",
        "ObjectGUID",
        "mS-DS-ConsistencyGuid",
        "proxyAddresses",
        "SID",
        "SamAccountName",
        "UserPrincipalName",
        "mail",
        "DisplayName",
        "GivenName",
        "Surname",
        "userAccountControl",
        "whenChanged",
    ];
    let mut text = String::from("#TYPE Selected.Microsoft.ActiveDirectory.Management.ADUser\r\n");
    text.push_str(&columns.map(quote).join(","));
    text.push_str("\r\n");
    for (dn, values) in records {
        let all = |name: &str| -> Vec<String> {
            values
                .iter()
                .filter(|(attribute, _)| attribute.eq_ignore_ascii_case(name))
                .map(|(_, bytes)| String::from_utf8_lossy(bytes).into_owned())
                .collect()
        };
        let one = |name: &str| all(name).into_iter().next().unwrap_or_default();
        let consistency = values
            .iter()
            .find(|(attribute, _)| attribute == "mS-DS-ConsistencyGuid")
            .map(|(_, bytes)| {
                ObjectGuid::from_ad_slice(bytes)
                    .expect("16 bytes")
                    .to_string()
            })
            .unwrap_or_default();
        let flags: u32 = one("userAccountControl").parse().expect("a number");
        let enabled = if flags & 2 == 0 { "True" } else { "False" };
        let object_class = all("objectClass").last().cloned().unwrap_or_default();
        let row = [
            dn.clone(),
            enabled.to_owned(),
            object_class,
            one("objectGUID"),
            consistency,
            all("proxyAddresses").join(";"),
            one("objectSid"),
            one("sAMAccountName"),
            one("userPrincipalName"),
            one("mail"),
            one("displayName"),
            one("givenName"),
            one("sn"),
            one("userAccountControl"),
            one("whenChanged"),
        ];
        text.push_str(&row.map(|value| quote(&value)).join(","));
        text.push_str("\r\n");
    }
    let mut bytes = vec![0xff, 0xfe];
    for unit in text.encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    std::fs::write(path, bytes).expect("temporary file is writable");
}

#[test]
fn an_export_csv_in_utf16_gives_the_live_users() {
    let Some(lab) = lab() else { return };
    let live = lab.read_corp();
    let records = ldbsearch(&lab.corp());
    assert_eq!(records.len(), live.users.len());
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("users.csv");
    write_powershell_csv(&records, &path);
    let exported = read_export(&path, &AnchorChoice::Auto, &NoReporter).unwrap();
    assert_eq!(exported.source.kind, "export-csv");
    assert_eq!(exported.users, live.users);
}
