//! Guarded writes against the lab: each succeeds only while the directory holds what the
//! caller saw, and is refused, unchanged, otherwise.
//!
//! The test works on a user it creates in its own OU, so that reads running in parallel
//! see the seeded users unchanged.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use hardmatch_ad::{AdError, AnchorChoice, DirectoryWriter, NoReporter, read_users_blocking};
use hardmatch_core::anchor::ObjectGuid;

use crate::lab::{Lab, lab};

fn ldap_tool(lab: &Lab, tool: &str, arguments: &[&str], input: &str) -> bool {
    let mut child = Command::new(tool)
        .env("LDAPTLS_CACERT", &lab.ca_cert)
        .args([
            "-x",
            "-H",
            &lab.ldaps_url,
            "-D",
            &lab.bind_dn,
            "-w",
            &lab.password,
        ])
        .args(arguments)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ldap-utils are installed");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input.as_bytes())
        .expect("write LDIF");
    child.wait().expect("tool finishes").success()
}

/// Creates a fresh user and returns its DN.
fn create_user(lab: &Lab) -> String {
    let organizational_unit = format!("OU=WriteTests,{}", lab.base_dn);
    ldap_tool(
        lab,
        "ldapadd",
        &["-c"],
        &format!("dn: {organizational_unit}\nobjectClass: organizationalUnit\nou: WriteTests\n"),
    );
    let unique = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .subsec_nanos()
    );
    let dn = format!("CN=writer-{unique},{organizational_unit}");
    let ldif = format!(
        "dn: {dn}\nobjectClass: user\nsAMAccountName: w{}\nuserPrincipalName: writer-{unique}@contoso.com\nproxyAddresses: SMTP:writer-{unique}@contoso.com\n",
        &unique[unique.len().saturating_sub(18)..]
    );
    assert!(
        ldap_tool(lab, "ldapadd", &[], &ldif),
        "could not create {dn}"
    );
    dn
}

#[test]
fn writes_are_refused_when_the_directory_changed() {
    let Some(lab) = lab() else { return };
    let dn = create_user(&lab);
    let first = ObjectGuid::parse_canonical("2d8b0ce6-aa32-4f31-a6e8-88343e6244a5").unwrap();
    let second = ObjectGuid::parse_canonical("9c5923e9-de52-33ea-88de-7ebc8633b9cc").unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut writer = runtime.block_on(async {
        let mut writer = DirectoryWriter::connect(
            &lab.ldaps_url,
            &lab.bind(),
            &lab.tls(),
            Duration::from_secs(30),
            &NoReporter,
        )
        .await
        .unwrap();

        // ConsistencyGuid: empty → first; a stale "empty" precondition is refused.
        writer.set_consistency_guid(&dn, None, first).await.unwrap();
        let error = writer
            .set_consistency_guid(&dn, None, second)
            .await
            .unwrap_err();
        assert!(
            matches!(error, AdError::PreconditionFailed { .. }),
            "{error:?}"
        );
        assert!(
            error
                .to_string()
                .contains("2d8b0ce6-aa32-4f31-a6e8-88343e6244a5"),
            "{error}"
        );
        assert!(error.hint().unwrap().contains("plan again"));
        writer
            .set_consistency_guid(&dn, Some(first), second)
            .await
            .unwrap();
        let error = writer.clear_consistency_guid(&dn, first).await.unwrap_err();
        assert!(
            matches!(error, AdError::PreconditionFailed { .. }),
            "{error:?}"
        );

        writer
    });

    // The anchor the next read sees is the ConsistencyGuid just written.
    let mut source = lab.source(&lab.ldaps_url, &dn);
    source.scope = hardmatch_ad::SearchScope::Base;
    source.anchor = AnchorChoice::Auto;
    let users = read_users_blocking(&source, &NoReporter).unwrap().users;
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].immutable_id.as_str(), "6SNZnFLe6jOI3n68hjO5zA==");

    runtime.block_on(async {
        writer.clear_consistency_guid(&dn, second).await.unwrap();

        // UPN.
        let unique = dn
            .trim_start_matches("CN=writer-")
            .split(',')
            .next()
            .unwrap()
            .to_owned();
        let old_upn = format!("writer-{unique}@contoso.com");
        let new_upn = format!("writer.new-{unique}@contoso.com");
        let error = writer
            .set_user_principal_name(&dn, Some("someone.else@contoso.com"), &new_upn)
            .await
            .unwrap_err();
        assert!(error.to_string().contains(&old_upn), "{error}");
        writer
            .set_user_principal_name(&dn, Some(&old_upn), &new_upn)
            .await
            .unwrap();

        // proxyAddresses.
        let primary = format!("SMTP:writer-{unique}@contoso.com");
        let secondary = format!("smtp:w-{unique}@contoso.com");
        let error = writer
            .add_proxy_addresses(&dn, &[], std::slice::from_ref(&secondary))
            .await
            .unwrap_err();
        assert!(
            matches!(error, AdError::PreconditionFailed { .. }),
            "{error:?}"
        );
        writer
            .add_proxy_addresses(
                &dn,
                std::slice::from_ref(&primary),
                std::slice::from_ref(&secondary),
            )
            .await
            .unwrap();

        let error = writer
            .set_consistency_guid("CN=nobody,OU=WriteTests,DC=hardmatch,DC=test", None, first)
            .await
            .unwrap_err();
        assert!(matches!(error, AdError::NoSuchEntry { .. }), "{error:?}");
        writer.close().await;
    });
    ldap_tool(&lab, "ldapdelete", &[], &format!("{dn}\n"));
}
