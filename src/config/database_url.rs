//! The PostgreSQL connection URL of `[state] backend = "postgres"`: named by the config
//! (`url-env` or `url-file`), never written in it, read only when the state is opened, held as
//! a [`Secret`], and shown only through [`redact`].
//!
//! A connection URL usually carries the database password (`postgres://user:pw@host/db`, or
//! `?password=` in its query), so no message built here ever holds the value: errors name the
//! variable or the file it came from, and [`redact`] drops both places a password can sit.

use anyhow::bail;

use super::secrets::{self, SecretRef};
use crate::secret::Secret;

/// The URL schemes PostgreSQL clients accept (libpq's "Connection URIs").
const SCHEMES: [&str; 2] = ["postgres", "postgresql"];

/// Query parameters of a connection URL that hold a secret (libpq's `password` and
/// `sslpassword`, the passphrase of the client key).
const SECRET_PARAMS: [&str; 2] = ["password", "sslpassword"];

/// What the variable or file must hold, for the message when it is empty.
const HOLDS: &str = "the PostgreSQL connection URL";

/// Read the URL that `from` names, now: the variable's value or the file's text, with
/// surrounding whitespace (a file's trailing newline) trimmed. Every error names the
/// variable or the file, never the value.
pub fn load(from: &SecretRef) -> anyhow::Result<Secret> {
    load_with(from, |var| std::env::var_os(var))
}

/// [`load`] with the environment given (tests cannot set variables: the crate forbids
/// `unsafe`, which `std::env::set_var` needs).
fn load_with(
    from: &SecretRef,
    env: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> anyhow::Result<Secret> {
    let origin = source(from);
    let text = match from {
        SecretRef::None => {
            bail!("[state] backend = \"postgres\" needs `url-env` or `url-file` to name its URL")
        }
        SecretRef::Env(var) => match env(var) {
            None => bail!("{origin} is not set"),
            Some(value) => value
                .into_string()
                .map_err(|_| anyhow::anyhow!("{origin} is not valid UTF-8"))?,
        },
        SecretRef::File(path) => secrets::read_file(path, &origin, HOLDS)?,
    };
    let url = text.trim();
    if url.is_empty() {
        bail!("{origin} is empty: it must hold {HOLDS}");
    }
    if !is_postgres_url(url) {
        bail!(
            "{origin} does not hold a PostgreSQL connection URL \
             (postgres://USER:PASSWORD@HOST:PORT/DATABASE); the value is not shown"
        );
    }
    Ok(Secret::new(url))
}

/// Where the URL comes from, for messages: `environment variable X ([state] url-env)` or
/// `file /p ([state] url-file)`.
pub fn source(from: &SecretRef) -> String {
    match from {
        SecretRef::None => "nowhere (no [state] url-env or url-file)".to_string(),
        SecretRef::Env(var) => format!("environment variable {} ([state] url-env)", shown(var)),
        SecretRef::File(path) => {
            let path = path.to_string_lossy();
            format!("file {} ([state] url-file)", shown(&path))
        }
    }
}

/// `url` without its credentials, for every message, log field and page: no user name or
/// password, no `password`/`sslpassword` query parameter. A value that is not a PostgreSQL URL
/// is not shown at all (a password could sit anywhere in it).
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://").filter(|_| is_postgres_url(url)) else {
        return "<not a PostgreSQL URL; not shown>".to_string();
    };
    // The userinfo ends at the last `@` (a password may hold an unescaped one), unless a `?` or
    // `#` comes before it: then that `@` may be a query password's, and nothing is safe to show.
    let location = match rest.rfind('@') {
        None => rest,
        Some(at) if rest[..at].contains(['?', '#']) => {
            return format!("{scheme}://<not shown: an @ after its query begins>");
        }
        Some(at) => &rest[at + 1..],
    };
    let shown = format!("{scheme}://{location}");
    let Ok(mut parsed) = reqwest::Url::parse(&shown) else {
        // libpq's URLs go beyond the URL standard (several `host:port` pairs): without the
        // query, which may hold a password.
        return shown
            .split(['?', '#'])
            .next()
            .unwrap_or_default()
            .to_string();
    };
    let kept: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(k, _)| !SECRET_PARAMS.contains(&k.as_ref()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(kept);
    }
    parsed.to_string()
}

/// Whether `text` is a URL with a PostgreSQL scheme (no whitespace, which a pasted
/// `KEY=value` line or a second line of a file would bring). Not parsed as a standard URL:
/// libpq's may name several hosts (`postgres://h1:5432,h2:5432/db`), which the standard refuses;
/// the client parses it when it connects.
fn is_postgres_url(text: &str) -> bool {
    let Some((scheme, _)) = text.split_once("://") else {
        return false;
    };
    SCHEMES.iter().any(|s| scheme.eq_ignore_ascii_case(s))
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn shown(name: &str) -> &str {
    secrets::shown(name).unwrap_or(secrets::NOT_SHOWN)
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "postgres://upkeep:s3cret-pw@db.example.com:5432/upkeep?sslmode=require";

    #[test]
    fn the_url_is_read_from_a_file_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("url");
        std::fs::write(&path, format!("{URL}\n")).unwrap();
        let url = load(&SecretRef::File(path)).unwrap();
        assert_eq!(url.expose(), URL);
        assert!(!format!("{url:?} {url}").contains("s3cret"));
    }

    #[test]
    fn a_missing_or_empty_file_is_named_and_its_value_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing-url");
        let err = format!("{:#}", load(&SecretRef::File(missing.clone())).unwrap_err());
        assert!(err.contains(&*missing.to_string_lossy()), "{err}");
        assert!(err.contains("No such file"), "{err}");

        let empty = dir.path().join("empty-url");
        std::fs::write(&empty, "\n  \n").unwrap();
        let err = format!("{:#}", load(&SecretRef::File(empty.clone())).unwrap_err());
        assert!(err.contains(&*empty.to_string_lossy()), "{err}");
        assert!(err.contains("is empty"), "{err}");

        // An env-file line, or two URLs: not a URL, and the password is not echoed.
        let wrong = dir.path().join("wrong-url");
        std::fs::write(&wrong, format!("DATABASE_URL={URL}\n")).unwrap();
        let err = format!("{:#}", load(&SecretRef::File(wrong.clone())).unwrap_err());
        assert!(
            err.contains("does not hold") && !err.contains("s3cret"),
            "{err}"
        );
        std::fs::write(&wrong, format!("{URL}\n{URL}\n")).unwrap();
        let err = format!("{:#}", load(&SecretRef::File(wrong)).unwrap_err());
        assert!(
            err.contains("does not hold") && !err.contains("s3cret"),
            "{err}"
        );
    }

    #[test]
    fn the_url_is_read_from_the_environment_or_the_variable_is_named() {
        let env = |var: &str| {
            let value = match var {
                "SET" => format!(" {URL}\n"),
                "EMPTY" => String::new(),
                "WRONG" => "mysql://upkeep:s3cret-pw@db/upkeep".into(),
                _ => return None,
            };
            Some(std::ffi::OsString::from(value))
        };
        let load = |from: SecretRef| load_with(&from, env);
        assert_eq!(load(SecretRef::Env("SET".into())).unwrap().expose(), URL);
        let err = format!("{:#}", load(SecretRef::Env("UNSET".into())).unwrap_err());
        assert_eq!(
            err,
            "environment variable UNSET ([state] url-env) is not set"
        );
        let err = format!("{:#}", load(SecretRef::Env("EMPTY".into())).unwrap_err());
        assert_eq!(
            err,
            "environment variable EMPTY ([state] url-env) is empty: it must hold the PostgreSQL \
             connection URL"
        );
        let err = format!("{:#}", load(SecretRef::Env("WRONG".into())).unwrap_err());
        assert!(err.contains("WRONG") && !err.contains("s3cret"), "{err}");
        let err = format!("{:#}", load(SecretRef::None).unwrap_err());
        assert!(err.contains("url-env"), "{err}");
        // And the real environment, through `load`.
        let unset = "UPKEEP_TEST_DATABASE_URL_SURELY_UNSET";
        let err = format!(
            "{:#}",
            super::load(&SecretRef::Env(unset.into())).unwrap_err()
        );
        assert!(
            err.starts_with(&format!("environment variable {unset} ")),
            "{err}"
        );
    }

    #[test]
    fn a_redacted_url_keeps_where_and_drops_every_credential() {
        assert_eq!(
            redact(URL),
            "postgres://db.example.com:5432/upkeep?sslmode=require"
        );
        assert_eq!(
            redact("postgresql://db/upkeep?user=u&password=pw&sslpassword=kp&sslmode=require"),
            "postgresql://db/upkeep?user=u&sslmode=require"
        );
        assert_eq!(
            redact("postgres://db/upkeep?password=pw"),
            "postgres://db/upkeep"
        );
        assert_eq!(
            redact("postgres://localhost/upkeep"),
            "postgres://localhost/upkeep"
        );
        // Several hosts (libpq), which the URL standard refuses: the same, by hand.
        let multi = "postgres://u:s3cret@h1:5432,h2:5433/upkeep?password=s3cret&sslmode=require";
        assert_eq!(redact(multi), "postgres://h1:5432,h2:5433/upkeep");
        assert_eq!(
            load_with(&SecretRef::Env("M".into()), |_| Some(multi.into()))
                .unwrap()
                .expose(),
            multi
        );
        // A password with an `@` in it: the host follows the last `@`.
        assert_eq!(redact("postgres://u:p@ss@db/x"), "postgres://db/x");
        // Unescaped `/`, `?`, `#` or `@` in a password, in the userinfo or the query.
        assert_eq!(redact("postgres://u:s3/cret@db/x"), "postgres://db/x");
        for odd in [
            "not a url s3cret",
            "mysql://u:s3cret@db/x",
            "s3cret",
            "",
            "postgres://u:1234?s3cret@db/x",
            "postgres://u:s3#cret@db/x",
            "postgres://u@db/x?password=s3@cret",
        ] {
            assert!(
                !redact(odd).contains("s3") && !redact(odd).contains("cret"),
                "{odd}"
            );
            assert!(!redact(odd).contains("1234"), "{odd}");
        }
        for odd in ["not a url s3cret", "mysql://u:s3cret@db/x", "s3cret", ""] {
            assert!(!redact(odd).contains("s3cret"), "{odd}");
        }
    }
}
