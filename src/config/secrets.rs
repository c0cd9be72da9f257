//! Secrets named by the config (an environment variable or a file), never written in it, and
//! resolved only at the point of use.
//!
//! A secret written where its name belongs (`token-env = "ghp_..."`) is refused, and neither
//! its diagnostic nor any later error prints it: the config check would otherwise pass it, and
//! the run would publish it in "environment variable <it> is not set".

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::diag::Diagnostics;
use super::raw::S;
use crate::secret::Secret;

/// A secret named by the config, never written in it.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretRef {
    None,
    Env(String),
    File(PathBuf),
}

/// A name or path that looks like a secret itself, as it is shown in messages.
pub(super) const NOT_SHOWN: &str = "<a value that looks like a secret, not shown>";

impl SecretRef {
    /// Read the secret now. `Ok(None)` when none is configured.
    pub fn resolve(&self) -> anyhow::Result<Option<Secret>> {
        match self {
            SecretRef::None => Ok(None),
            SecretRef::Env(var) => match std::env::var(var) {
                Ok(v) if !v.trim().is_empty() => Ok(Some(Secret::new(v.trim().to_string()))),
                _ => anyhow::bail!(
                    "environment variable {} is not set or empty",
                    shown(var).unwrap_or(NOT_SHOWN)
                ),
            },
            SecretRef::File(path) => {
                let name = path.to_string_lossy();
                let origin = format!("secret file {}", shown(&name).unwrap_or(NOT_SHOWN));
                read_file(path, &origin, "the secret").map(|v| Some(Secret::new(v)))
            }
        }
    }
}

/// The text of the file at `path` that holds a secret (`holds` says which), without the
/// whitespace around it (a trailing newline). An empty file, or one of whitespace only, is
/// an error, as an unset variable is: a secret file mounted before its content was written,
/// or a template never filled in, must not become an empty password or token. Errors name
/// the file as `origin` says, never its content.
pub(super) fn read_file(path: &Path, origin: &str, holds: &str) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {origin}"))?;
    let value = text.trim();
    if value.is_empty() {
        anyhow::bail!("{origin} is empty: it must hold {holds}");
    }
    Ok(value.to_string())
}

/// `name` when it may be printed: never when it looks like a secret itself.
pub(super) fn shown(name: &str) -> Option<&str> {
    crate::secret::looks_like_secret(name)
        .is_none()
        .then_some(name)
}

// Debug reaches logs and the quiet key: a name that looks like a secret is not shown there
// either.
impl std::fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretRef::None => f.write_str("None"),
            SecretRef::Env(var) => f
                .debug_tuple("Env")
                .field(&shown(var).unwrap_or(NOT_SHOWN))
                .finish(),
            SecretRef::File(path) => f
                .debug_tuple("File")
                .field(&shown(&path.to_string_lossy()).unwrap_or(NOT_SHOWN))
                .finish(),
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
    let pasted_env = env.is_some_and(|e| pasted_secret(d, e, what, "env"));
    let pasted_file = file.is_some_and(|f| pasted_secret(d, f, what, "file"));
    if pasted_env || pasted_file {
        return SecretRef::None;
    }
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

/// Whether `value` (of `<what>-<kind>`) is a secret pasted where its name belongs; reported
/// without the value, with what to do instead.
fn pasted_secret(d: &mut Diagnostics<'_>, value: &S<String>, what: &str, kind: &str) -> bool {
    let Some(looks) = crate::secret::looks_like_secret(value.get_ref()) else {
        return false;
    };
    // `sync-token` -> token, `webhook-secret` -> secret, `password` -> password.
    let noun = what.rsplit('-').next().unwrap_or(what);
    let instead = if kind == "env" {
        format!(
            "put the {noun} in an environment variable and name the variable here \
             (`{what}-env = \"UPKEEP_{}\"`)",
            what.to_ascii_uppercase().replace('-', "_")
        )
    } else {
        format!("put the {noun} in a file and give the file's path here")
    };
    d.at(
        Some(value.span()),
        "secret-in-config",
        format!(
            "`{what}-{kind}` holds what looks like {looks}, not the {}: {instead}; \
             and replace that {noun}, since it was written into the config",
            if kind == "env" {
                "name of an environment variable"
            } else {
                "path of a file"
            }
        ),
    );
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "ghp_R2d2C3poBB8Luke0Leia1Han2Solo3Chewie4";

    #[test]
    fn an_empty_secret_file_is_refused_by_name_and_a_filled_one_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("smtp-password");
        for empty in ["", "\n", "  \n\t\r\n"] {
            std::fs::write(&path, empty).unwrap();
            let err = format!("{:#}", SecretRef::File(path.clone()).resolve().unwrap_err());
            assert_eq!(
                err,
                format!(
                    "secret file {} is empty: it must hold the secret",
                    path.display()
                ),
                "{empty:?}"
            );
        }
        std::fs::write(&path, "  s3cret-Value\n").unwrap();
        let secret = SecretRef::File(path.clone()).resolve().unwrap().unwrap();
        assert_eq!(secret.expose(), "s3cret-Value");
        // A missing file names the file too, and nothing of a secret-looking path.
        let missing = dir.path().join("missing");
        let err = format!(
            "{:#}",
            SecretRef::File(missing.clone()).resolve().unwrap_err()
        );
        assert!(
            err.starts_with(&format!("reading secret file {}", missing.display())),
            "{err}"
        );
    }

    #[test]
    fn a_name_that_looks_like_a_secret_is_never_echoed() {
        // Defence in depth: `check` refuses these, but a SecretRef may be built in code too.
        for r in [SecretRef::Env(TOKEN.into()), SecretRef::File(TOKEN.into())] {
            let err = format!("{:#}", r.resolve().unwrap_err());
            assert!(!err.contains(TOKEN), "{err}");
            assert!(err.contains("not shown"), "{err}");
            assert!(!format!("{r:?}").contains(TOKEN));
        }
        let plain = SecretRef::Env("UPKEEP_TEST_SURELY_UNSET_VARIABLE".into());
        let err = format!("{:#}", plain.resolve().unwrap_err());
        assert!(err.contains("UPKEEP_TEST_SURELY_UNSET_VARIABLE"), "{err}");
    }
}
