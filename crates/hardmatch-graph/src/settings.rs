//! Everything [`GraphClient::connect`](crate::GraphClient::connect) needs, filled in by the CLI.
//!
//! The library never reads the process environment: the CLI reads azure-identity's variables
//! once (see [`EnvironmentCredentials::from_lookup`] and the `*_VARIABLE` constants) and hands
//! the values over here, so tests can set them without touching global state.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::auth::certificate::AssertionAlgorithm;
use crate::error::GraphError;
use crate::pacer::PacingSettings;
use crate::retry::RetryPolicy;
use crate::secret::Secret;

/// A Microsoft cloud: where its sign-in service and its Graph live.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Cloud {
    /// The worldwide cloud.
    #[default]
    Global,
    /// Azure Government (GCC High), `login.microsoftonline.us` / `graph.microsoft.us`.
    UsGovernment,
    /// Azure China, operated by 21Vianet.
    China,
}

impl Cloud {
    pub fn authority_url(self) -> &'static str {
        match self {
            Cloud::Global => "https://login.microsoftonline.com",
            Cloud::UsGovernment => "https://login.microsoftonline.us",
            Cloud::China => "https://login.chinacloudapi.cn",
        }
    }

    pub fn graph_url(self) -> &'static str {
        match self {
            Cloud::Global => "https://graph.microsoft.com",
            Cloud::UsGovernment => "https://graph.microsoft.us",
            Cloud::China => "https://microsoftgraph.chinacloudapi.cn",
        }
    }
}

impl FromStr for Cloud {
    type Err = GraphError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "global" | "public" | "azurecloud" => Ok(Cloud::Global),
            "usgov" | "us-gov" | "usgovernment" | "azureusgovernment" => Ok(Cloud::UsGovernment),
            "china" | "azurechinacloud" => Ok(Cloud::China),
            _ => Err(GraphError::Configuration {
                reason: format!("unknown cloud `{text}`; expected `global`, `usgov` or `china`"),
            }),
        }
    }
}

/// Receives Microsoft's device-code instructions ("To sign in, use a web browser to open
/// the page … and enter the code …"); the CLI prints them to stderr.
#[derive(Clone)]
pub struct DeviceCodePrompt(Arc<dyn Fn(&DeviceCodeMessage) + Send + Sync>);

impl DeviceCodePrompt {
    pub fn new(callback: impl Fn(&DeviceCodeMessage) + Send + Sync + 'static) -> Self {
        Self(Arc::new(callback))
    }

    pub(crate) fn show(&self, message: &DeviceCodeMessage) {
        (self.0)(message);
    }
}

impl fmt::Debug for DeviceCodePrompt {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("DeviceCodePrompt")
    }
}

/// What the user has to do to finish a device-code sign-in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceCodeMessage {
    /// Microsoft's own sentence, to be shown as is.
    pub message: String,
    pub user_code: String,
    pub verification_uri: String,
    pub expires_in: Duration,
}

/// How to obtain a token.
#[derive(Clone, Debug)]
pub enum CredentialSettings {
    /// azure-identity's variables: a secret if `AZURE_CLIENT_SECRET` is set, else the
    /// certificate in `AZURE_CLIENT_CERTIFICATE_PATH`.
    Environment,
    /// An app registration's client secret (`--client-secret-env VAR`).
    ClientSecret(Secret),
    /// An app registration's certificate, PEM (certificate + unencrypted key) or PFX/PKCS#12.
    Certificate {
        path: PathBuf,
        password: Option<Secret>,
    },
    /// A human administrator signs in on another device (delegated permissions).
    DeviceCode { prompt: DeviceCodePrompt },
    /// The token of the signed-in Azure CLI (`az login`).
    AzureCli {
        /// The `az` executable; `az` on the `PATH` by default.
        program: PathBuf,
    },
}

/// azure-identity's environment variables, read by the CLI.
#[derive(Clone, Debug, Default)]
pub struct EnvironmentCredentials {
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub client_certificate_path: Option<PathBuf>,
    pub client_certificate_password: Option<Secret>,
}

impl EnvironmentCredentials {
    pub const TENANT_ID_VARIABLE: &'static str = "AZURE_TENANT_ID";
    pub const CLIENT_ID_VARIABLE: &'static str = "AZURE_CLIENT_ID";
    pub const CLIENT_SECRET_VARIABLE: &'static str = "AZURE_CLIENT_SECRET";
    pub const CLIENT_CERTIFICATE_PATH_VARIABLE: &'static str = "AZURE_CLIENT_CERTIFICATE_PATH";
    pub const CLIENT_CERTIFICATE_PASSWORD_VARIABLE: &'static str =
        "AZURE_CLIENT_CERTIFICATE_PASSWORD";

    /// Builds the values from a lookup such as `|name| std::env::var(name).ok()`; empty
    /// values count as unset, as in azure-identity.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let read = |name: &str| lookup(name).filter(|value| !value.is_empty());
        Self {
            tenant_id: read(Self::TENANT_ID_VARIABLE),
            client_id: read(Self::CLIENT_ID_VARIABLE),
            client_secret: read(Self::CLIENT_SECRET_VARIABLE).map(Secret::from),
            client_certificate_path: read(Self::CLIENT_CERTIFICATE_PATH_VARIABLE)
                .map(PathBuf::from),
            client_certificate_password: read(Self::CLIENT_CERTIFICATE_PASSWORD_VARIABLE)
                .map(Secret::from),
        }
    }
}

/// Request behaviour: concurrency, retries, pacing, time-outs.
#[derive(Clone, Debug)]
pub struct HttpSettings {
    /// Requests in flight at once. Graph throttles per app and tenant, so more rarely helps.
    pub concurrency: usize,
    pub retry: RetryPolicy,
    pub pacing: PacingSettings,
    /// Time-out of one HTTP exchange.
    pub request_timeout: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            concurrency: 4,
            retry: RetryPolicy::default(),
            pacing: PacingSettings::default(),
            request_timeout: Duration::from_secs(100),
        }
    }
}

/// The resolved flags of `hardmatch … --tenant-id --client-id --client-secret-env VAR
/// --certificate FILE --device-code --azure-cli --cloud --authority-url --graph-url`.
#[derive(Clone, Debug)]
pub struct GraphSettings {
    /// Directory (tenant) id or a verified domain; falls back to `AZURE_TENANT_ID`.
    pub tenant_id: Option<String>,
    /// Application (client) id; falls back to `AZURE_CLIENT_ID`, and for device code to
    /// Microsoft Graph Command Line Tools.
    pub client_id: Option<String>,
    pub credential: CredentialSettings,
    pub environment: EnvironmentCredentials,
    pub cloud: Cloud,
    /// Overrides the cloud's sign-in service, e.g. the emulator's `authority_url()`.
    pub authority_url: Option<String>,
    /// Overrides the cloud's Graph root (without `/v1.0`), e.g. the emulator's.
    pub graph_url: Option<String>,
    /// Extra trusted CA certificates (PEM), e.g. the emulator's own CA. They are added to
    /// the system's trust store; verification is never switched off.
    pub extra_ca_pem: Option<Vec<u8>>,
    /// Signature of certificate client assertions; PS256 unless a tenant needs RS256.
    pub assertion_algorithm: AssertionAlgorithm,
    /// Delegated permissions a device-code sign-in asks for, e.g.
    /// [`RECOMMENDED_DELEGATED_SCOPES`]. Empty: `.default`, i.e. whatever was already
    /// consented for the client id.
    pub delegated_scopes: Vec<String>,
    pub http: HttpSettings,
}

impl GraphSettings {
    /// Settings for a credential with everything else at its default.
    pub fn new(credential: CredentialSettings) -> Self {
        Self {
            tenant_id: None,
            client_id: None,
            credential,
            environment: EnvironmentCredentials::default(),
            cloud: Cloud::Global,
            authority_url: None,
            graph_url: None,
            extra_ca_pem: None,
            assertion_algorithm: AssertionAlgorithm::default(),
            delegated_scopes: Vec::new(),
            http: HttpSettings::default(),
        }
    }
}

/// What a delegated hard-match run needs: read and write users (ImmutableID, delete,
/// restore), read roles, and read and switch the tenant's sync feature flags. A Global
/// Administrator can consent to them when signing in.
pub const RECOMMENDED_DELEGATED_SCOPES: &[&str] = &[
    "User.ReadWrite.All",
    "Directory.Read.All",
    "RoleManagement.Read.Directory",
    "OnPremDirectorySynchronization.ReadWrite.All",
];

/// Microsoft Graph Command Line Tools, the public client Microsoft Graph PowerShell uses;
/// device code works with it when the user names no app registration of their own.
pub const GRAPH_COMMAND_LINE_TOOLS_CLIENT_ID: &str = "14d82eec-204b-4c2f-b7e8-296a70dab67e";

/// Endpoints after applying the cloud and the overrides.
#[derive(Clone, Debug)]
pub(crate) struct Endpoints {
    /// Sign-in service root, no trailing slash.
    pub(crate) authority: Url,
    /// Graph root, no trailing slash and no version segment.
    pub(crate) graph: Url,
    /// `{resource}/.default`: the cloud's Graph, also when requests go to an override.
    pub(crate) scope: String,
    /// The cloud's Graph resource, to qualify delegated scopes.
    pub(crate) resource: String,
    /// The Graph URL was overridden (the emulator or a proxy).
    pub(crate) custom_graph: bool,
}

impl Endpoints {
    pub(crate) fn resolve(settings: &GraphSettings) -> Result<Self, GraphError> {
        let authority = parse_root(
            settings
                .authority_url
                .as_deref()
                .unwrap_or(settings.cloud.authority_url()),
            "--authority-url",
        )?;
        let mut graph = parse_root(
            settings
                .graph_url
                .as_deref()
                .unwrap_or(settings.cloud.graph_url()),
            "--graph-url",
        )?;
        // Accept a URL that already names a version: the requests add their own.
        for version in ["/v1.0", "/beta"] {
            if let Some(stripped) = graph.path().strip_suffix(version) {
                let stripped = stripped.to_owned();
                graph.set_path(&stripped);
            }
        }
        Ok(Self {
            authority,
            graph,
            scope: format!("{}/.default", settings.cloud.graph_url()),
            resource: settings.cloud.graph_url().to_owned(),
            custom_graph: settings.graph_url.is_some(),
        })
    }

    /// `{authority}/{tenant}/oauth2/v2.0/{endpoint}`.
    pub(crate) fn oauth_url(&self, tenant: &str, endpoint: &str) -> String {
        format!(
            "{}/{}/oauth2/v2.0/{endpoint}",
            self.authority.as_str().trim_end_matches('/'),
            tenant
        )
    }

    /// `{graph}/{version}{path}`; `path` starts with `/`.
    pub(crate) fn graph_url(&self, version: ApiVersion, path: &str) -> String {
        format!(
            "{}/{}{path}",
            self.graph.as_str().trim_end_matches('/'),
            version.segment()
        )
    }
}

/// Graph API version of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ApiVersion {
    V1,
    Beta,
}

impl ApiVersion {
    pub(crate) fn segment(self) -> &'static str {
        match self {
            ApiVersion::V1 => "v1.0",
            ApiVersion::Beta => "beta",
        }
    }
}

/// Parses a root URL; plain `http` only for loopback, since tokens and secrets travel on it.
fn parse_root(text: &str, flag: &str) -> Result<Url, GraphError> {
    let mut url = Url::parse(text).map_err(|error| GraphError::Configuration {
        reason: format!("{flag} `{text}` is not a URL: {error}"),
    })?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(GraphError::Configuration {
                reason: format!(
                    "{flag} `{text}` uses plain http to a host that is not this machine; \
                     tokens would travel unencrypted, use https"
                ),
            });
        }
        other => {
            return Err(GraphError::Configuration {
                reason: format!("{flag} `{text}` has unsupported scheme `{other}`"),
            });
        }
    }
    url.set_query(None);
    url.set_fragment(None);
    let trimmed = url.path().trim_end_matches('/').to_owned();
    url.set_path(&trimmed);
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(address)) => IpAddr::V4(address).is_loopback(),
        Some(url::Host::Ipv6(address)) => IpAddr::V6(address).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clouds_parse_and_name_their_endpoints() {
        assert_eq!("usgov".parse::<Cloud>().ok(), Some(Cloud::UsGovernment));
        assert_eq!("China".parse::<Cloud>().ok(), Some(Cloud::China));
        assert!("mars".parse::<Cloud>().is_err());
        assert_eq!(
            Cloud::China.graph_url(),
            "https://microsoftgraph.chinacloudapi.cn"
        );
    }

    #[test]
    fn environment_values_come_from_the_lookup_and_empty_means_unset() {
        let environment = EnvironmentCredentials::from_lookup(|name| match name {
            "AZURE_TENANT_ID" => Some("contoso.onmicrosoft.com".to_owned()),
            "AZURE_CLIENT_SECRET" => Some("value".to_owned()),
            "AZURE_CLIENT_ID" => Some(String::new()),
            _ => None,
        });
        assert_eq!(
            environment.tenant_id.as_deref(),
            Some("contoso.onmicrosoft.com")
        );
        assert_eq!(environment.client_id, None);
        assert!(!format!("{environment:?}").contains("value"));
    }

    #[test]
    fn overrides_win_and_versions_are_stripped() {
        let mut settings = GraphSettings::new(CredentialSettings::Environment);
        settings.authority_url = Some("http://127.0.0.1:8443/".to_owned());
        settings.graph_url = Some("http://127.0.0.1:8443/v1.0".to_owned());
        let endpoints = Endpoints::resolve(&settings).expect("valid");
        assert_eq!(
            endpoints.oauth_url("contoso", "token"),
            "http://127.0.0.1:8443/contoso/oauth2/v2.0/token"
        );
        assert_eq!(
            endpoints.graph_url(ApiVersion::Beta, "/users/x"),
            "http://127.0.0.1:8443/beta/users/x"
        );
        assert_eq!(endpoints.scope, "https://graph.microsoft.com/.default");
    }

    #[test]
    fn plain_http_is_refused_off_loopback() {
        let mut settings = GraphSettings::new(CredentialSettings::Environment);
        settings.graph_url = Some("http://graph.example.com".to_owned());
        assert!(Endpoints::resolve(&settings).is_err());
        settings.graph_url = Some("https://graph.example.com".to_owned());
        assert!(Endpoints::resolve(&settings).is_ok());
    }
}
