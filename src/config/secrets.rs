//! Secrets named by the config (an environment variable or a file), never written in it, and
//! resolved only at the point of use.

use std::path::PathBuf;

use anyhow::Context as _;

use super::diag::Diagnostics;
use super::raw::S;
use crate::secret::Secret;

/// A secret named by the config, never written in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    None,
    Env(String),
    File(PathBuf),
}

impl SecretRef {
    /// Read the secret now. `Ok(None)` when none is configured.
    pub fn resolve(&self) -> anyhow::Result<Option<Secret>> {
        match self {
            SecretRef::None => Ok(None),
            SecretRef::Env(var) => match std::env::var(var) {
                Ok(v) if !v.trim().is_empty() => Ok(Some(Secret::new(v.trim().to_string()))),
                _ => anyhow::bail!("environment variable {var} is not set or empty"),
            },
            SecretRef::File(path) => {
                let v = std::fs::read_to_string(path)
                    .with_context(|| format!("reading secret file {}", path.display()))?;
                Ok(Some(Secret::new(v.trim().to_string())))
            }
        }
    }
}

/// `<what>-env` or `<what>-file`: at most one, and an env key must hold a variable's name.
pub fn secret_ref(
    d: &mut Diagnostics<'_>,
    env: Option<&S<String>>,
    file: Option<&S<String>>,
    what: &str,
) -> SecretRef {
    match (env, file) {
        (Some(e), Some(_)) => {
            d.at(
                Some(e.span()),
                "conflicting-keys",
                format!("set either `{what}-env` or `{what}-file`, not both"),
            );
            SecretRef::Env(e.get_ref().clone())
        }
        (Some(e), None) => {
            let name = e.get_ref();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                d.at(
                    Some(e.span()),
                    "invalid-value",
                    format!(
                        "`{what}-env` must name an environment variable (letters, digits, _), \
                         not hold the {what} itself"
                    ),
                );
            }
            SecretRef::Env(name.clone())
        }
        (None, Some(f)) => SecretRef::File(PathBuf::from(f.get_ref())),
        (None, None) => SecretRef::None,
    }
}
