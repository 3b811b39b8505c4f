//! Bind methods other than simple against the lab DC: NTLM (`DOMAIN\user`) over both TLS
//! transports, with the tls-server-end-point channel binding ldap3 sends, and its refusals.

#[cfg(feature = "ntlm")]
mod ntlm {
    use hardmatch_ad::{AdError, Bind, NoReporter, Password, read_users_blocking};

    use crate::lab::lab;

    fn ntlm(user: String, password: &str) -> Bind {
        Bind::Ntlm {
            user,
            password: Password::new(password),
        }
    }

    #[test]
    fn ntlm_bind_reads_the_users_a_simple_bind_reads() {
        let Some(lab) = lab() else { return };
        if !lab.accepts_sasl_over_tls() {
            return;
        }
        let simple = lab.read_corp();
        assert!(simple.users.len() >= 11, "{} users", simple.users.len());
        let down_level = format!("{}\\Administrator", lab.domain);
        for (url, user) in [
            (&lab.ldaps_url, down_level.clone()),
            // StartTLS: the channel binding is taken from the upgraded connection.
            (&lab.ldap_url, down_level.clone()),
            (&lab.ldaps_url, lab.bind_upn.clone()),
        ] {
            let mut source = lab.source(url, &lab.corp());
            source.bind = ntlm(user.clone(), &lab.password);
            let snapshot = read_users_blocking(&source, &NoReporter)
                .unwrap_or_else(|error| panic!("{url} as {user}: {error}"));
            assert_eq!(snapshot.users, simple.users, "{url} as {user}");
        }
    }

    #[test]
    fn ntlm_bind_with_a_wrong_password_is_refused_without_showing_it() {
        let Some(lab) = lab() else { return };
        if !lab.accepts_sasl_over_tls() {
            return;
        }
        let user = format!("{}\\Administrator", lab.domain);
        let mut source = lab.source(&lab.ldaps_url, &lab.corp());
        source.bind = ntlm(user.clone(), "Not-The-Passw0rd!");
        let error = read_users_blocking(&source, &NoReporter).unwrap_err();
        assert!(
            matches!(error, AdError::InvalidCredentials { .. }),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(
            message.starts_with(&format!(
                "`{}` rejected the credentials of `{user}`",
                lab.ldaps_url
            )),
            "{message}"
        );
        assert!(!message.contains("Not-The-Passw0rd!"), "{message}");
        assert!(!format!("{error:?}").contains("Not-The-Passw0rd!"));
        assert!(error.hint().unwrap().contains("CORP\\svc-hardmatch"));
    }

    #[test]
    fn ntlm_bind_with_a_name_without_domain_fails_before_connecting() {
        let Some(lab) = lab() else { return };
        let mut source = lab.source("ldaps://unreachable.invalid:1", &lab.corp());
        source.bind = ntlm("Administrator".to_owned(), &lab.password);
        let error = read_users_blocking(&source, &NoReporter).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`Administrator` cannot be used for ntlm binds: NTLM needs the domain in the name"
        );
    }
}

/// Kerberos needs the lab's KDC (`scripts/ad-lab` runs one on 127.0.0.1:88) and the
/// `KRB5_CONFIG`/`KRB5CCNAME` that `scripts/ad-lab env` exports: the GSSAPI library reads
/// them when the process starts, so they cannot be set from inside a test.
#[cfg(feature = "kerberos")]
mod kerberos {
    // A lab without a KDC must fail loudly, naming the fix.
    #![allow(clippy::panic)]

    use std::io::Write as _;
    use std::process::{Command, Stdio};

    use hardmatch_ad::{AdError, Bind, NoReporter, read_users_blocking};

    use crate::lab::{Lab, lab};

    fn variable(name: &str) -> String {
        std::env::var(name).unwrap_or_else(|_| {
            panic!(
                "{name} is not set: Kerberos tests need `eval \"$(scripts/ad-lab env)\"` from a \
                 lab with a KDC"
            )
        })
    }

    /// A ticket for the lab's administrator in the lab's own cache, as an admin's `kinit`.
    fn kinit(lab: &Lab) {
        let configuration = variable("KRB5_CONFIG");
        assert!(
            std::path::Path::new(&configuration).exists(),
            "{configuration} is missing: this lab predates its KDC; recreate it with \
             `scripts/ad-lab down && scripts/ad-lab up`"
        );
        let principal = format!("Administrator@{}", variable("HARDMATCH_LAB_REALM"));
        let mut child = Command::new("kinit")
            .arg(&principal)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kinit runs (apt-get install krb5-user)");
        child
            .stdin
            .take()
            .expect("stdin is piped")
            .write_all(format!("{}\n", lab.password).as_bytes())
            .expect("kinit reads the password");
        let output = child.wait_with_output().expect("kinit finishes");
        assert!(
            output.status.success(),
            "kinit {principal} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn kdestroy() {
        // No cache to destroy is fine: the point is that none is left.
        let _ = Command::new("kdestroy")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// One test, because the steps share the lab's ticket cache: without a ticket, with
    /// one over both TLS transports, and for a service the KDC does not know.
    #[test]
    fn kerberos_bind_uses_the_current_ticket() {
        let Some(lab) = lab() else { return };
        if !lab.accepts_sasl_over_tls() {
            return;
        }
        let host = variable("HARDMATCH_LAB_KDC_HOST");
        let bind = |server_name: &str| Bind::Kerberos {
            server_name: Some(server_name.to_owned()),
        };
        let simple = lab.read_corp();

        kdestroy();
        let mut source = lab.source(&lab.ldaps_url, &lab.corp());
        source.bind = bind(&host);
        let error = read_users_blocking(&source, &NoReporter).unwrap_err();
        assert!(matches!(error, AdError::Kerberos { .. }), "{error:?}");
        assert!(error.hint().unwrap().contains("kinit"), "{error}");

        kinit(&lab);
        for url in [&lab.ldaps_url, &lab.ldap_url] {
            let mut source = lab.source(url, &lab.corp());
            source.bind = bind(&host);
            let snapshot = read_users_blocking(&source, &NoReporter)
                .unwrap_or_else(|error| panic!("{url}: {error}"));
            assert_eq!(snapshot.users, simple.users, "{url}");
        }

        source.bind = bind("nosuchhost.hardmatch.test");
        let error = read_users_blocking(&source, &NoReporter).unwrap_err();
        assert!(matches!(error, AdError::Kerberos { .. }), "{error:?}");
        assert!(error.hint().unwrap().contains("ldap/<fqdn>"), "{error}");

        // The URL's host is the default service name; an IP address cannot be one.
        source.bind = Bind::Kerberos { server_name: None };
        let error = read_users_blocking(&source, &NoReporter).unwrap_err();
        assert!(error.to_string().contains("IP address"), "{error}");
    }
}
