//! A string that must never be shown: client secrets, certificate passwords, access and
//! refresh tokens, signed client assertions.
//!
//! `Debug` and `Display` print `****`, so a secret that ends up in a log line, an error
//! message or a `{:?}` of a settings struct stays hidden. The value is only reachable
//! through [`Secret::expose`], which makes every place that sends it greppable.

use std::fmt;

/// A credential or token; prints as `****`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// What `Debug` and `Display` print instead of the value.
    pub const REDACTED: &'static str = "****";

    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that sends it over the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(Self::REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(Self::REDACTED)
    }
}

/// Reads a secret from a JSON string (token responses); it is never serialized back.
impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <String as serde::Deserialize>::deserialize(deserializer).map(Secret::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let secret = Secret::new("s3cr3t~value");
        assert_eq!(format!("{secret:?}"), "****");
        assert_eq!(format!("{secret}"), "****");
        assert_eq!(format!("{:#?}", Some(&secret)), "Some(\n    ****,\n)");
        assert_eq!(secret.expose(), "s3cr3t~value");
    }

    #[test]
    fn a_struct_holding_a_secret_debug_prints_redacted() {
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Holder {
            client_secret: Secret,
        }
        let holder = Holder {
            client_secret: Secret::from("hunter2"),
        };
        let printed = format!("{holder:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("****"));
    }
}
