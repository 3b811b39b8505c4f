//! Settings are resolved once, before any command runs: command line, then environment
//! (`HARDMATCH_*`, and azure-identity's `AZURE_*` names), then the chosen profile of
//! `hardmatch.toml`, then defaults. Commands receive resolved values and never read the
//! environment or the file themselves, so precedence is decided in exactly one place.
//!
//! MSPs keep one profile per customer: tenant, forest, authentication and policy.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Deserialize;

use crate::error::Hinted;

/// Environment variables hardmatch reads, in one place so they can be documented.
pub mod env_names {
    pub const CONFIG: &str = "HARDMATCH_CONFIG";
    pub const PROFILE: &str = "HARDMATCH_PROFILE";
    pub const TENANT_ID: &[&str] = &["HARDMATCH_TENANT_ID", "AZURE_TENANT_ID"];
    pub const CLIENT_ID: &[&str] = &["HARDMATCH_CLIENT_ID", "AZURE_CLIENT_ID"];
    /// Holds the secret itself, as azure-identity's `EnvironmentCredential` expects.
    pub const CLIENT_SECRET: &[&str] = &["AZURE_CLIENT_SECRET"];
    pub const CLIENT_CERTIFICATE: &[&str] =
        &["HARDMATCH_CERTIFICATE", "AZURE_CLIENT_CERTIFICATE_PATH"];
    pub const CLIENT_CERTIFICATE_PASSWORD: &[&str] = &["AZURE_CLIENT_CERTIFICATE_PASSWORD"];
    pub const GRAPH_URL: &[&str] = &["HARDMATCH_GRAPH_URL"];
    pub const AUTHORITY_URL: &[&str] = &["HARDMATCH_AUTHORITY_URL", "AZURE_AUTHORITY_HOST"];
    pub const LDAP_URL: &[&str] = &["HARDMATCH_LDAP_URL"];
    pub const BIND_DN: &[&str] = &["HARDMATCH_BIND_DN"];
    pub const WORKSPACE: &[&str] = &["HARDMATCH_WORKSPACE"];
}

/// A read-only view of the environment, captured once so that resolution is a pure
/// function of its inputs (and tests need not touch the process environment).
#[derive(Clone, Debug, Default)]
pub struct Environment {
    variables: BTreeMap<String, OsString>,
}

impl Environment {
    pub fn from_process() -> Self {
        Self {
            variables: std::env::vars_os()
                .filter_map(|(name, value)| Some((name.into_string().ok()?, value)))
                .collect(),
        }
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            variables: pairs
                .into_iter()
                .map(|(name, value)| (name.to_owned(), OsString::from(value)))
                .collect(),
        }
    }

    /// The first of `names` that is set to a non-empty value.
    pub fn first(&self, names: &[&str]) -> Option<String> {
        names.iter().find_map(|name| {
            let value = self.variables.get(*name)?.to_str()?;
            (!value.is_empty()).then(|| value.to_owned())
        })
    }

    /// The value of one named variable, e.g. the one `--client-secret-env` names.
    pub fn get(&self, name: &str) -> Option<String> {
        self.first(&[name])
    }

    pub fn is_set(&self, name: &str) -> bool {
        self.variables.contains_key(name)
    }
}

/// `hardmatch.toml`: named profiles, one per tenant and forest.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The profile used when neither `--profile` nor `HARDMATCH_PROFILE` names one.
    #[serde(default)]
    pub default_profile: Option<String>,
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// One customer's settings. Every field is optional: the command line and environment
/// fill in or override what a profile leaves out. Secrets are never stored here, only the
/// names of the environment variables or files that hold them.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    // The tenant.
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    pub client_secret_env: Option<String>,
    pub certificate: Option<PathBuf>,
    pub certificate_password_env: Option<String>,
    pub cloud: Option<String>,
    pub authority_url: Option<String>,
    pub graph_url: Option<String>,
    pub graph_ca_cert: Option<PathBuf>,
    // The forest.
    #[serde(default)]
    pub ldap_url: Vec<String>,
    #[serde(default)]
    pub base_dn: Vec<String>,
    pub bind_dn: Option<String>,
    pub bind_method: Option<crate::args::BindMethodChoice>,
    pub bind_password_env: Option<String>,
    pub bind_password_file: Option<PathBuf>,
    pub ca_cert: Option<PathBuf>,
    pub ldap_filter: Option<String>,
    pub anchor: Option<String>,
    // Where journals and plans live.
    pub workspace: Option<PathBuf>,
    // Policy.
    #[serde(default)]
    pub policy: PolicyProfile,
}

/// Safety overrides a profile may set. Each is off unless set explicitly.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyProfile {
    pub deletion_threshold: Option<u32>,
    pub allow_delete_licensed: Option<bool>,
    pub allow_delete_mailbox: Option<bool>,
    pub allow_delete_privileged: Option<bool>,
    pub allow_delete_recently_used: Option<bool>,
}

impl ConfigFile {
    pub fn parse(text: &str, origin: &Path) -> anyhow::Result<Self> {
        toml::from_str(text).map_err(|error| {
            Hinted::new(
                format!(
                    "`{}` is not a valid hardmatch configuration: {error}",
                    origin.display()
                ),
                "see the README's `hardmatch.toml` section for the profile keys",
            )
            .into()
        })
    }

    /// Finds the profile to use. Naming a profile that does not exist is an error, as is a
    /// file with several profiles and no way to choose one.
    pub fn select(&self, requested: Option<&str>, origin: &Path) -> anyhow::Result<Profile> {
        let name = requested.or(self.default_profile.as_deref());
        match name {
            Some(name) => self.profiles.get(name).cloned().ok_or_else(|| {
                let known = self.profiles.keys().cloned().collect::<Vec<_>>().join(", ");
                Hinted::new(
                    format!("`{}` has no profile `{name}`", origin.display()),
                    format!("profiles in that file: {known}"),
                )
                .into()
            }),
            None if self.profiles.len() <= 1 => {
                Ok(self.profiles.values().next().cloned().unwrap_or_default())
            }
            None => Err(Hinted::new(
                format!(
                    "`{}` has several profiles and none was chosen",
                    origin.display()
                ),
                "pass --profile NAME, set HARDMATCH_PROFILE, or set default_profile in the file",
            )
            .into()),
        }
    }
}

/// Where the configuration comes from: `--config`, `HARDMATCH_CONFIG`, then
/// `./hardmatch.toml`. Returns the profile to use (empty when there is no file).
pub fn load_profile(
    config_flag: Option<&Path>,
    profile_flag: Option<&str>,
    environment: &Environment,
) -> anyhow::Result<Profile> {
    let explicit = config_flag
        .map(Path::to_path_buf)
        .or_else(|| environment.get(env_names::CONFIG).map(PathBuf::from));
    let requested_profile = profile_flag
        .map(str::to_owned)
        .or_else(|| environment.get(env_names::PROFILE));
    let path = match explicit {
        Some(path) => path,
        None => {
            let local = PathBuf::from("hardmatch.toml");
            if !local.exists() {
                return match requested_profile {
                    Some(name) => Err(Hinted::new(
                        format!("profile `{name}` was requested but there is no hardmatch.toml"),
                        "pass --config FILE or set HARDMATCH_CONFIG",
                    )
                    .into()),
                    None => Ok(Profile::default()),
                };
            }
            local
        }
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the configuration file `{}`", path.display()))?;
    ConfigFile::parse(&text, &path)?.select(requested_profile.as_deref(), &path)
}

/// The first value present, in precedence order: command line, environment, profile.
pub fn pick<T>(command_line: Option<T>, environment: Option<T>, profile: Option<T>) -> Option<T> {
    command_line.or(environment).or(profile)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
        default_profile = "contoso"

        [profiles.contoso]
        tenant_id = "contoso.onmicrosoft.com"
        client_id = "11111111-1111-1111-1111-111111111111"
        client_secret_env = "CONTOSO_SECRET"
        ldap_url = ["ldaps://dc1.corp.contoso.com"]
        base_dn = ["OU=Staff,DC=corp,DC=contoso,DC=com"]
        bind_method = "ntlm"
        policy = { deletion_threshold = 50 }

        [profiles.fabrikam]
        tenant_id = "fabrikam.onmicrosoft.com"
    "#;

    #[test]
    fn the_default_profile_is_used_unless_one_is_named() {
        let file = ConfigFile::parse(FILE, Path::new("hardmatch.toml")).unwrap();
        let contoso = file.select(None, Path::new("hardmatch.toml")).unwrap();
        assert_eq!(
            contoso.tenant_id.as_deref(),
            Some("contoso.onmicrosoft.com")
        );
        assert_eq!(contoso.policy.deletion_threshold, Some(50));
        assert_eq!(
            contoso.bind_method,
            Some(crate::args::BindMethodChoice::Ntlm)
        );
        let fabrikam = file
            .select(Some("fabrikam"), Path::new("hardmatch.toml"))
            .unwrap();
        assert_eq!(
            fabrikam.tenant_id.as_deref(),
            Some("fabrikam.onmicrosoft.com")
        );
    }

    #[test]
    fn an_unknown_profile_names_the_known_ones() {
        let file = ConfigFile::parse(FILE, Path::new("hardmatch.toml")).unwrap();
        let error = file
            .select(Some("northwind"), Path::new("hardmatch.toml"))
            .unwrap_err();
        assert!(error.to_string().contains("no profile `northwind`"));
        assert_eq!(
            crate::error::hints(&error),
            ["profiles in that file: contoso, fabrikam"]
        );
    }

    #[test]
    fn unknown_keys_are_refused_rather_than_ignored() {
        // A typo in a safety setting must not silently fall back to the default.
        let error = ConfigFile::parse(
            "[profiles.a]\npolicy = { alow_delete_licensed = true }\n",
            Path::new("x.toml"),
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("alow_delete_licensed"),
            "{error}"
        );
    }

    #[test]
    fn precedence_is_command_line_then_environment_then_profile() {
        let environment = Environment::from_pairs([("AZURE_TENANT_ID", "from-env")]);
        let from_environment = environment.first(env_names::TENANT_ID);
        assert_eq!(
            pick(
                Some("flag".to_owned()),
                from_environment.clone(),
                Some("file".to_owned())
            ),
            Some("flag".to_owned())
        );
        assert_eq!(
            pick(None, from_environment, Some("file".to_owned())),
            Some("from-env".to_owned())
        );
        assert_eq!(pick(None, None, Some("file")), Some("file"));
        // HARDMATCH_* wins over AZURE_* when both are set.
        let both = Environment::from_pairs([
            ("AZURE_TENANT_ID", "azure"),
            ("HARDMATCH_TENANT_ID", "hardmatch"),
        ]);
        assert_eq!(
            both.first(env_names::TENANT_ID).as_deref(),
            Some("hardmatch")
        );
    }
}
