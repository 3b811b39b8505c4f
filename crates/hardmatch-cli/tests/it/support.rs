//! Running the real binary and rendering what a user would see, for snapshots.

use std::process::Output;

use assert_cmd::Command;

/// The `hardmatch` binary with a predictable environment: no colour, no inherited config.
pub(crate) fn hardmatch() -> Command {
    let mut command = Command::cargo_bin("hardmatch").expect("the hardmatch binary is built");
    command.env("NO_COLOR", "1").env_remove("RUST_LOG");
    command
}

/// Exit code, stdout and stderr as one text, the way a snapshot should show them.
pub(crate) fn render(output: &Output) -> String {
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        output
            .status
            .code()
            .map_or("signal".to_owned(), |code| code.to_string()),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    )
}

/// The Samba AD DC lab, as `scripts/ad-lab env` describes it.
pub(crate) struct Lab {
    pub(crate) ldaps_url: String,
    pub(crate) bind_dn: String,
    pub(crate) password: String,
    pub(crate) base_dn: String,
    pub(crate) ca_cert: String,
}

impl Lab {
    /// The lab, or `None` with a visible notice when `HARDMATCH_SKIP_LAB=1`. A lab that is
    /// simply missing fails the test: a skipped test must never pass for a run one.
    pub(crate) fn from_environment() -> Option<Self> {
        if std::env::var("HARDMATCH_SKIP_LAB").as_deref() == Ok("1") {
            eprintln!("NOTICE: HARDMATCH_SKIP_LAB=1: skipping a test that needs the AD lab");
            return None;
        }
        let variable = |name: &str| {
            std::env::var(name).unwrap_or_else(|_| {
                panic!(
                    "{name} is not set: this test needs the Samba AD DC lab. Run `scripts/ad-lab up` \
                     and `eval \"$(scripts/ad-lab env)\"` (scripts/test does both), or set \
                     HARDMATCH_SKIP_LAB=1 to skip lab tests"
                )
            })
        };
        Some(Self {
            ldaps_url: variable("HARDMATCH_LAB_LDAPS_URL"),
            bind_dn: variable("HARDMATCH_LAB_BIND_DN"),
            password: variable("HARDMATCH_LAB_BIND_PASSWORD"),
            base_dn: variable("HARDMATCH_LAB_BASE_DN"),
            ca_cert: variable("HARDMATCH_LAB_CA_CERT"),
        })
    }

    /// The AD source flags for a `hardmatch` command searching below `base_dn`; the password travels in
    /// `HARDMATCH_TEST_BIND_PASSWORD`, which [`Lab::command`] sets.
    pub(crate) fn source_flags_under(&self, base_dn: &str) -> Vec<String> {
        [
            "--ldap-url",
            &self.ldaps_url,
            "--base-dn",
            base_dn,
            "--bind-dn",
            &self.bind_dn,
            "--bind-password-env",
            "HARDMATCH_TEST_BIND_PASSWORD",
            "--ca-cert",
            &self.ca_cert,
        ]
        .iter()
        .map(|flag| (*flag).to_owned())
        .collect()
    }

    /// `hardmatch` with the lab password in its environment.
    pub(crate) fn command(&self) -> Command {
        let mut command = hardmatch();
        command.env("HARDMATCH_TEST_BIND_PASSWORD", &self.password);
        command
    }
}

/// A `hardmatch emulator` process, killed when dropped.
pub(crate) struct EmulatorProcess {
    child: std::process::Child,
    pub(crate) url: String,
    pub(crate) ca_cert: Option<String>,
}

impl EmulatorProcess {
    /// Starts `hardmatch emulator` with `arguments` and waits for its `listening on` line.
    pub(crate) fn start(arguments: &[&str]) -> Self {
        use std::io::BufRead as _;
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("hardmatch"))
            .args(["emulator", "--port", "0", "--quiet"])
            .args(arguments)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("hardmatch emulator starts");
        let mut lines = std::io::BufReader::new(child.stdout.take().expect("piped")).lines();
        let first = lines.next().expect("a first line").expect("UTF-8");
        let url = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {first}"))
            .to_owned();
        let ca_cert = if arguments.contains(&"--tls") {
            let line = lines.next().expect("a ca-cert line").expect("UTF-8");
            Some(
                line.strip_prefix("ca-cert ")
                    .expect("ca-cert PATH")
                    .to_owned(),
            )
        } else {
            None
        };
        Self {
            child,
            url,
            ca_cert,
        }
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
