//! Secrets (tokens, passwords) resolved from the environment or files named in the config.
//!
//! A `Secret` never prints its value: `Debug` and `Display` are redacted, so a secret that ends up
//! in a log field, an error or a report shows `<redacted>`. Read the value with [`Secret::expose`]
//! only at the point of use (an HTTP header, an SMTP login).

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}
