//! Bind passwords as a type that cannot leak through formatting.
//!
//! A password printed by a `{:?}` in a log line or an error message is a password on a
//! ticket system forever, so `Debug` and `Display` both show `****` and the only way to
//! the text is the explicit [`Password::expose`].

use std::fmt;

/// A secret used for an LDAP bind. Formats as `****`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The secret itself, for the one place that sends it to the server.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("****")
    }
}

impl fmt::Display for Password {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("****")
    }
}

#[cfg(test)]
mod tests {
    use super::Password;

    #[test]
    fn formatting_never_shows_the_secret() {
        let password = Password::new("Lab-Only-Passw0rd!");
        assert_eq!(format!("{password}"), "****");
        assert_eq!(format!("{password:?}"), "****");
        assert_eq!(format!("{:?}", Some(&password)), "Some(****)");
        assert_eq!(password.expose(), "Lab-Only-Passw0rd!");
    }
}
