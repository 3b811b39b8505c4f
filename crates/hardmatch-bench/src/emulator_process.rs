//! A `hardmatch emulator` child process for the benchmarks that talk Graph: started on a
//! free loopback port with a generated tenant, latency and the real quotas, and asked for
//! its request log, which is how the benchmarks count requests (the same count for
//! hardmatch and for any other client).

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, bail};
use serde::Deserialize;

/// One request the emulator served, as `GET /_emulator/requests` lists it.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct ServedRequest {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) status: u16,
}

/// The app the generator writes into every tenant fixture, to sign in as.
#[derive(Clone, Debug)]
pub(crate) struct App {
    pub(crate) tenant_id: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
}

impl App {
    /// Reads the tenant id and the first app from a generated tenant.json.
    pub(crate) fn of_fixture(path: &Path) -> anyhow::Result<Self> {
        #[derive(Deserialize)]
        struct Tenant {
            id: String,
        }
        #[derive(Deserialize)]
        struct Registration {
            client_id: String,
            client_secret: Option<String>,
        }
        #[derive(Deserialize)]
        struct Head {
            tenant: Tenant,
            #[serde(default)]
            apps: Vec<Registration>,
        }
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let head: Head = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a tenant fixture", path.display()))?;
        let Some(app) = head.apps.into_iter().next() else {
            bail!("{} has no app to sign in with", path.display());
        };
        Ok(Self {
            tenant_id: head.tenant.id,
            client_id: app.client_id,
            client_secret: app
                .client_secret
                .with_context(|| format!("the app of {} has no secret", path.display()))?,
        })
    }
}

/// The environment variable the benchmarks pass the app's secret in.
pub(crate) const SECRET_VARIABLE: &str = "HARDMATCH_BENCH_CLIENT_SECRET";

/// A running `hardmatch emulator`, stopped when dropped.
pub(crate) struct EmulatorProcess {
    child: Child,
    pub(crate) url: String,
    /// With TLS: the emulator's CA certificate, which clients must trust.
    pub(crate) ca_certificate: Option<PathBuf>,
}

impl EmulatorProcess {
    /// Starts `hardmatch emulator --fixture FIXTURE --latency-ms LATENCY` (and `--tls`) on
    /// a free port and waits for its `listening on` line. Throttling stays as the fixture
    /// sets it (on by default: the real resource-unit and write quotas).
    pub(crate) fn start(
        hardmatch: &Path,
        fixture: &Path,
        latency_milliseconds: u64,
        tls: bool,
    ) -> anyhow::Result<Self> {
        let mut command = Command::new(hardmatch);
        command
            .args(["emulator", "--port", "0", "--quiet", "--fixture"])
            .arg(fixture)
            .args(["--latency-ms", &latency_milliseconds.to_string()]);
        if tls {
            command.arg("--tls");
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {} emulator", hardmatch.display()))?;
        let stdout = child.stdout.take().context("the emulator's stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let mut next_line = |prefix: &str| -> Option<String> {
            let line = lines.next()?.ok()?;
            line.trim().strip_prefix(prefix).map(str::to_owned)
        };
        let url = next_line("listening on ");
        let ca_certificate = if tls {
            next_line("ca-cert ").map(PathBuf::from)
        } else {
            None
        };
        match (url, ca_certificate.is_some() == tls) {
            (Some(url), true) => Ok(Self {
                url,
                child,
                ca_certificate,
            }),
            _ => {
                let _ignored = child.kill();
                let _ignored = child.wait();
                bail!("the emulator did not start (see its messages above)")
            }
        }
    }

    /// The flags that point a hardmatch command at this emulator as `app`.
    pub(crate) fn tenant_flags(&self, app: &App) -> Vec<String> {
        [
            "--tenant-id",
            &app.tenant_id,
            "--client-id",
            &app.client_id,
            "--client-secret-env",
            SECRET_VARIABLE,
            "--authority-url",
            &self.url,
            "--graph-url",
            &self.url,
        ]
        .iter()
        .map(|&text| text.to_owned())
        .chain(
            self.ca_certificate
                .iter()
                .flat_map(|path| ["--graph-ca-cert".to_owned(), path.display().to_string()]),
        )
        .collect()
    }

    /// Every request served since the start or the last [`Self::clear_requests`].
    pub(crate) fn requests(&self) -> anyhow::Result<Vec<ServedRequest>> {
        #[derive(Deserialize)]
        struct Log {
            requests: Vec<ServedRequest>,
        }
        let body = self.control("GET", "/_emulator/requests")?;
        let log: Log = serde_json::from_slice(&body).context("reading the request log")?;
        Ok(log.requests)
    }

    /// The emulator's whole tenant as it stands (fixture format).
    pub(crate) fn state(&self) -> anyhow::Result<serde_json::Value> {
        let body = self.control("GET", "/_emulator/state")?;
        serde_json::from_slice(&body).context("reading the emulator's state")
    }

    pub(crate) fn clear_requests(&self) -> anyhow::Result<()> {
        self.control("DELETE", "/_emulator/requests").map(drop)
    }

    /// One exchange with the emulator's control endpoints, through curl, which speaks the
    /// emulator's TLS with its CA as well as plain HTTP.
    fn control(&self, method: &str, path: &str) -> anyhow::Result<Vec<u8>> {
        let mut command = Command::new("curl");
        command.args(["--silent", "--show-error", "--fail", "--request", method]);
        if let Some(ca_certificate) = &self.ca_certificate {
            command.arg("--cacert").arg(ca_certificate);
        }
        let output = command
            .arg(format!("{}{path}", self.url))
            .stdin(Stdio::null())
            .output()
            .context("running curl (Debian: apt-get install curl)")?;
        if !output.status.success() {
            bail!(
                "{method} {path} on the emulator failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(output.stdout)
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ignored = self.child.kill();
        let _ignored = self.child.wait();
    }
}
