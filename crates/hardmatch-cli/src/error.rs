//! Errors as the user sees them: what went wrong, and a `hint:` saying what to do next.

use std::fmt;

/// An error that carries the next step for the user. Commands return it (inside
/// `anyhow::Error`); the printer shows the message and then `hint: …`.
#[derive(Debug)]
pub struct Hinted {
    pub message: String,
    pub hint: String,
}

impl Hinted {
    pub fn new(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: hint.into(),
        }
    }
}

impl fmt::Display for Hinted {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl std::error::Error for Hinted {}

/// The hints found anywhere in an error's chain, outermost first.
pub fn hints(error: &anyhow::Error) -> Vec<&str> {
    error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<Hinted>())
        .map(|hinted| hinted.hint.as_str())
        .collect()
}

/// A closed stdout (`hardmatch … | head`) is how the reader says it has seen enough.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
