//! Settings are resolved once, before any command runs: command line, then environment
//! (`HARDMATCH_*`, and azure-identity's `AZURE_*` names), then the chosen profile of
//! `hardmatch.toml`, then defaults. Commands receive resolved values and never read the
//! environment or the file themselves, so precedence is decided in exactly one place.
//!
//! MSPs keep one profile per customer: tenant, forest, authentication and policy.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

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
    /// A certificate file hardmatch signs in with, like `--certificate`.
    pub const CERTIFICATE: &str = "HARDMATCH_CERTIFICATE";
    /// azure-identity's certificate variable, read with the rest of its set.
    pub const CLIENT_CERTIFICATE: &[&str] = &["AZURE_CLIENT_CERTIFICATE_PATH"];
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
        toml::from_str(text).map_err(|error: toml::de::Error| {
            // The message and its position only: toml's own text quotes the offending line,
            // which may be a secret pasted where only a variable name belongs.
            let position = error.span().map_or(String::new(), |span| {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.len() - before.rfind('\n').map_or(0, |at| at + 1) + 1;
                format!(" (line {line}, column {column})")
            });
            Hinted::new(
                format!(
                    "`{}` is not a valid hardmatch configuration{position}: {}",
                    origin.display(),
                    error.message().trim_end()
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
    let text = std::fs::read_to_string(&path).map_err(|error| {
        Hinted::new(
            format!(
                "cannot read the configuration file `{}`: {error}",
                path.display()
            ),
            "check the path given with --config or HARDMATCH_CONFIG (without either, hardmatch \
             reads ./hardmatch.toml when it exists)",
        )
    })?;
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

    /// What `resolve_tenant` and `resolve_ad` make of one command line, environment and
    /// profile: the code every command goes through, not a model of it.
    struct Resolved {
        tenant: Option<hardmatch_graph::GraphSettings>,
        ad: Option<hardmatch_ad::AdSource>,
    }

    fn resolve(flags: &[String], variables: &[(String, String)], profile: &str) -> Resolved {
        use clap::Parser as _;
        let mut command_line: Vec<String> = [
            "hardmatch",
            "status",
            "--base-dn",
            "DC=corp,DC=contoso,DC=com",
            "--bind-password-env",
            "BIND_PASSWORD",
        ]
        .map(str::to_owned)
        .to_vec();
        command_line.extend(flags.iter().cloned());
        let cli = crate::args::Cli::try_parse_from(command_line).unwrap();
        let crate::args::Command::Status(arguments) = cli.command else {
            unreachable!("parsed as status")
        };
        let mut pairs = vec![("BIND_PASSWORD", "bind-password"), ("GRAPH_SECRET", "s")];
        pairs.extend(
            variables
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str())),
        );
        let file = format!("[profiles.customer]\n{profile}");
        let context = crate::sources::Context {
            printer: crate::printer::Printer::new(true, false),
            environment: Environment::from_pairs(pairs),
            profile: ConfigFile::parse(&file, Path::new("hardmatch.toml"))
                .unwrap()
                .select(None, Path::new("hardmatch.toml"))
                .unwrap(),
        };
        let tenant = match crate::sources::resolve_tenant(&arguments.tenant, &context) {
            Ok(crate::sources::TenantInput::Live(settings)) => Some(*settings),
            Ok(crate::sources::TenantInput::Snapshot(_)) => unreachable!("no snapshot given"),
            Err(_) => None,
        };
        let ad = match crate::sources::resolve_ad(&arguments.ad, &context) {
            Ok(crate::sources::AdInput::Live(source)) => Some(source),
            Ok(_) => unreachable!("no snapshot or export given"),
            Err(_) => None,
        };
        Resolved { tenant, ad }
    }

    /// One setting that exists in all three layers.
    struct Layered {
        flag: &'static str,
        /// In their own precedence order: `HARDMATCH_*` before azure-identity's `AZURE_*`.
        variables: &'static [&'static str],
        profile_key: &'static str,
        read: fn(&Resolved) -> Option<String>,
    }

    const LAYERED: &[Layered] = &[
        Layered {
            flag: "--tenant-id",
            variables: env_names::TENANT_ID,
            profile_key: "tenant_id",
            read: |resolved| resolved.tenant.as_ref()?.tenant_id.clone(),
        },
        Layered {
            flag: "--client-id",
            variables: env_names::CLIENT_ID,
            profile_key: "client_id",
            read: |resolved| resolved.tenant.as_ref()?.client_id.clone(),
        },
        Layered {
            flag: "--authority-url",
            variables: env_names::AUTHORITY_URL,
            profile_key: "authority_url",
            read: |resolved| resolved.tenant.as_ref()?.authority_url.clone(),
        },
        Layered {
            flag: "--graph-url",
            variables: env_names::GRAPH_URL,
            profile_key: "graph_url",
            read: |resolved| resolved.tenant.as_ref()?.graph_url.clone(),
        },
        Layered {
            flag: "--ldap-url",
            variables: env_names::LDAP_URL,
            profile_key: "ldap_url",
            read: |resolved| Some(resolved.ad.as_ref()?.directories.first()?.url.clone()),
        },
        Layered {
            flag: "--bind-dn",
            variables: env_names::BIND_DN,
            profile_key: "bind_dn",
            read: |resolved| match &resolved.ad.as_ref()?.bind {
                hardmatch_ad::Bind::Simple { name, .. } => Some(name.clone()),
                _ => None,
            },
        },
    ];

    #[test]
    fn every_layered_setting_takes_the_first_layer_that_sets_it() {
        // Every combination of layers, for every setting: the flag, each variable, the
        // profile. The expected value is worked out from the stated order, so a layer read
        // in the wrong order, or not read at all, fails here.
        let mut checked = 0;
        for setting in LAYERED {
            let layers = setting.variables.len() + 2;
            for present in 0..(1_u32 << layers) {
                let has = |layer: usize| present & (1 << layer) != 0;
                let mut flags = vec!["--client-secret-env".to_owned(), "GRAPH_SECRET".to_owned()];
                if setting.flag != "--ldap-url" {
                    flags.extend(["--ldap-url".to_owned(), "ldaps://dc.test".to_owned()]);
                }
                let mut variables = Vec::new();
                let mut profile = String::new();
                let mut expected = None;
                if has(0) {
                    flags.extend([setting.flag.to_owned(), "from-flag".to_owned()]);
                    expected = Some("from-flag".to_owned());
                }
                for (index, variable) in setting.variables.iter().enumerate() {
                    if has(index + 1) {
                        let value = format!("from-{variable}");
                        variables.push(((*variable).to_owned(), value.clone()));
                        expected = expected.or(Some(value));
                    }
                }
                if has(layers - 1) {
                    profile = if setting.profile_key == "ldap_url" {
                        format!("{} = [\"from-profile\"]\n", setting.profile_key)
                    } else {
                        format!("{} = \"from-profile\"\n", setting.profile_key)
                    };
                    expected = expected.or(Some("from-profile".to_owned()));
                }
                let resolved = resolve(&flags, &variables, &profile);
                assert_eq!(
                    (setting.read)(&resolved),
                    expected,
                    "{} with flag: {}, variables: {variables:?}, profile: {profile:?}",
                    setting.flag,
                    has(0),
                );
                checked += 1;
            }
        }
        // 6 settings; three have two environment variables (16 cases), three have one (8).
        assert_eq!(checked, 3 * 16 + 3 * 8);
    }

    #[test]
    fn the_sign_in_method_comes_from_the_first_layer_that_names_one() {
        fn method(resolved: &Resolved) -> String {
            use hardmatch_graph::CredentialSettings;
            match resolved
                .tenant
                .as_ref()
                .map(|settings| &settings.credential)
            {
                None => "none".to_owned(),
                Some(CredentialSettings::ClientSecret(secret)) => {
                    format!("secret {}", secret.expose())
                }
                Some(CredentialSettings::Certificate { path, .. }) => {
                    format!("certificate {}", path.display())
                }
                Some(CredentialSettings::Environment) => "azure-identity variables".to_owned(),
                Some(CredentialSettings::DeviceCode { .. }) => "device code".to_owned(),
                Some(CredentialSettings::AzureCli { .. }) => "azure cli".to_owned(),
            }
        }
        let flag_secret = ["--client-secret-env", "FLAG_SECRET"].as_slice();
        let flag_certificate = ["--certificate", "flag.pem"].as_slice();
        let profile_secret = "client_secret_env = \"PROFILE_SECRET\"\n";
        let profile_certificate = "certificate = \"profile.pem\"\n";
        let azure_secret = [("AZURE_CLIENT_SECRET", "azure")].as_slice();
        let azure_certificate = [("AZURE_CLIENT_CERTIFICATE_PATH", "azure.pem")].as_slice();
        let hardmatch_certificate = [("HARDMATCH_CERTIFICATE", "env.pem")].as_slice();
        /// Flags, environment, profile, and the sign-in method expected.
        type Row<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str, &'a str);
        #[rustfmt::skip]
        let table: &[Row] = &[
            // flags                       environment            profile             method
            (&[],                          &[],                   "",                 "none"),
            (&[],                          &[],                   profile_secret,     "secret profile"),
            (&[],                          &[],                   profile_certificate, "certificate profile.pem"),
            (&[],                          azure_secret,          profile_secret,     "azure-identity variables"),
            (&[],                          azure_certificate,     profile_certificate, "azure-identity variables"),
            (&[],                          hardmatch_certificate, profile_secret,     "certificate env.pem"),
            (flag_secret,                  azure_secret,          profile_certificate, "secret flag"),
            (flag_certificate,             hardmatch_certificate, profile_secret,     "certificate flag.pem"),
            (&["--device-code"],           azure_secret,          profile_secret,     "device code"),
            (&["--azure-cli"],             hardmatch_certificate, profile_certificate, "azure cli"),
        ];
        for (flags, environment, profile, expected) in table {
            let flags: Vec<String> = flags.iter().map(|flag| (*flag).to_owned()).collect();
            let mut variables: Vec<(String, String)> = environment
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect();
            variables.extend([
                ("FLAG_SECRET".to_owned(), "flag".to_owned()),
                ("PROFILE_SECRET".to_owned(), "profile".to_owned()),
            ]);
            let resolved = resolve(&flags, &variables, profile);
            assert_eq!(
                method(&resolved),
                *expected,
                "flags {flags:?}, environment {environment:?}, profile {profile:?}"
            );
        }
    }

    #[test]
    fn unset_layers_leave_the_defaults() {
        let resolved = resolve(
            &["--ldap-url".to_owned(), "ldaps://dc.test".to_owned()],
            &[],
            "",
        );
        let ad = resolved.ad.unwrap();
        assert!(matches!(ad.bind, hardmatch_ad::Bind::Anonymous));
        assert_eq!(ad.filter, hardmatch_ad::DEFAULT_USER_FILTER);
        assert!(matches!(ad.scope, hardmatch_ad::SearchScope::Subtree));
        assert!(matches!(ad.anchor, hardmatch_ad::AnchorChoice::Auto));
        // Without any sign-in method there is no tenant to read, and the error says how to
        // give one rather than falling back to something unasked for.
        assert!(resolved.tenant.is_none());
        let no_ldap = resolve(&[], &[], "");
        assert!(no_ldap.ad.is_none());
    }

    #[test]
    fn the_configuration_file_and_profile_follow_the_same_order() {
        let directory = tempfile::tempdir().unwrap();
        let write = |name: &str, tenant_by_profile: &[(&str, &str)]| {
            let mut text = String::new();
            for (profile, tenant) in tenant_by_profile {
                text.push_str(&format!("[profiles.{profile}]\ntenant_id = \"{tenant}\"\n"));
            }
            let path = directory.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let flag_file = write("flag.toml", &[("a", "flag-file/a"), ("b", "flag-file/b")]);
        let env_file = write("env.toml", &[("a", "env-file/a"), ("b", "env-file/b")]);
        let flag_path = flag_file.to_str().unwrap();
        let env_path = env_file.to_str().unwrap();
        /// `--config`, `HARDMATCH_CONFIG`, `--profile`, `HARDMATCH_PROFILE`, the tenant expected.
        type Row<'a> = (
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
            &'a str,
        );
        #[rustfmt::skip]
        let table: &[Row] = &[
            // --config        HARDMATCH_CONFIG  --profile  HARDMATCH_PROFILE  tenant
            (Some(flag_path),  Some(env_path),   Some("a"), Some("b"),         "flag-file/a"),
            (None,             Some(env_path),   Some("a"), Some("b"),         "env-file/a"),
            (None,             Some(env_path),   None,      Some("b"),         "env-file/b"),
            (Some(flag_path),  None,             None,      Some("b"),         "flag-file/b"),
        ];
        for (config_flag, config_variable, profile_flag, profile_variable, expected) in table {
            let mut pairs = Vec::new();
            if let Some(path) = config_variable {
                pairs.push((env_names::CONFIG, *path));
            }
            if let Some(name) = profile_variable {
                pairs.push((env_names::PROFILE, *name));
            }
            let profile = load_profile(
                config_flag.map(Path::new),
                *profile_flag,
                &Environment::from_pairs(pairs),
            )
            .unwrap();
            assert_eq!(profile.tenant_id.as_deref(), Some(*expected));
        }
    }
}
