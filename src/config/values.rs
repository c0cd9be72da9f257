//! Value checks shared by every section: durations, email addresses, positive numbers, regexes,
//! string lists. Each reports into the diagnostics and returns a usable value (the default) so
//! validation can go on and find the next problem.

use std::time::Duration;

use regex::Regex;

use super::diag::Diagnostics;
use super::raw::S;

/// A humantime duration (`30s`, `15m`, `7d`); `default` when absent or wrong.
pub fn duration(
    d: &mut Diagnostics<'_>,
    value: Option<&S<String>>,
    key: &str,
    default: Duration,
) -> Duration {
    match value {
        None => default,
        Some(v) => match humantime::parse_duration(v.get_ref()) {
            Ok(dur) => dur,
            Err(e) => {
                d.at(
                    Some(v.span()),
                    "invalid-duration",
                    format!(
                        "`{key}`: `{}` is not a duration ({e}); write e.g. \"30s\", \"15m\", \"7d\"",
                        v.get_ref()
                    ),
                );
                default
            }
        },
    }
}

/// A size in bytes written as a number with a unit (`512KiB`, `2GiB`, `100MB`) or plain
/// bytes (`1048576`); `default` when absent or wrong.
pub fn size(d: &mut Diagnostics<'_>, value: Option<&S<String>>, key: &str, default: u64) -> u64 {
    let Some(v) = value else {
        return default;
    };
    parse_size(v.get_ref()).unwrap_or_else(|| {
        d.at(
            Some(v.span()),
            "invalid-size",
            format!(
                "`{key}`: `{}` is not a size; write e.g. \"512MiB\", \"2GiB\"",
                v.get_ref()
            ),
        );
        default
    })
}

/// `2GiB` -> 2^31; units B, KB/MB/GB (powers of 1000) and KiB/MiB/GiB (powers of 1024).
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: u64 = number.parse().ok()?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(factor).filter(|b| *b > 0)
}

/// `bytes` in the largest binary unit that divides it (`512KiB`), else in bytes.
pub fn format_size(bytes: u64) -> String {
    for (unit, factor) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if bytes >= factor && bytes.is_multiple_of(factor) {
            return format!("{}{unit}", bytes / factor);
        }
    }
    bytes.to_string()
}

pub fn is_email(addr: &str) -> bool {
    addr.parse::<lettre::Address>().is_ok()
}

/// The address as written; a diagnostic when it is not one. `what` starts the message.
pub fn email(d: &mut Diagnostics<'_>, value: &S<String>, what: &str) -> String {
    if !is_email(value.get_ref()) {
        d.at(
            Some(value.span()),
            "invalid-address",
            format!("{what} `{}` is not an email address", value.get_ref()),
        );
    }
    value.get_ref().clone()
}

/// A number above zero that fits `T`; `default` when absent, a diagnostic when not.
pub fn positive<T: TryFrom<i64> + PartialOrd + Default + Copy>(
    d: &mut Diagnostics<'_>,
    value: Option<&S<i64>>,
    message: &str,
    default: T,
) -> T {
    match value {
        None => default,
        Some(n) => T::try_from(*n.get_ref())
            .ok()
            .filter(|n| *n > T::default())
            .unwrap_or_else(|| {
                d.at(Some(n.span()), "invalid-value", message);
                default
            }),
    }
}

/// The strings of a list as written (empty when absent).
pub fn strings(value: Option<&S<Vec<S<String>>>>) -> Vec<String> {
    value
        .map(|l| l.get_ref().iter().map(|s| s.get_ref().clone()).collect())
        .unwrap_or_default()
}

/// A compiled regex, or a diagnostic naming `key` and the regex error.
pub fn regex(d: &mut Diagnostics<'_>, value: &S<String>, key: &str, who: &str) -> Option<Regex> {
    // Thousands of servers usually share a handful of patterns, and a compiled regex is ~13 KB:
    // compile each pattern once (clones share the program) instead of once per server.
    static COMPILED: std::sync::LazyLock<
        std::sync::Mutex<std::collections::HashMap<String, Regex>>,
    > = std::sync::LazyLock::new(Default::default);
    let mut compiled = COMPILED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(r) = compiled.get(value.get_ref()) {
        return Some(r.clone());
    }
    match Regex::new(value.get_ref()) {
        Ok(r) => {
            compiled.insert(value.get_ref().clone(), r.clone());
            Some(r)
        }
        Err(e) => {
            let msg = e.to_string();
            let last = msg.lines().last().unwrap_or("").trim().to_string();
            d.at(
                Some(value.span()),
                "invalid-regex",
                format!("{who}: `{key}` is not a valid regex: {last}"),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_as_people_write_them() {
        use super::parse_size;
        assert_eq!(parse_size("512KiB"), Some(512 * 1024));
        assert_eq!(parse_size("2GiB"), Some(2 << 30));
        assert_eq!(parse_size("100MB"), Some(100_000_000));
        assert_eq!(parse_size("4096"), Some(4096));
        for bad in ["", "0", "2 TiB", "GiB", "-1MiB", "1.5GiB"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
        for text in ["512KiB", "2GiB", "3MiB", "1000"] {
            assert_eq!(super::format_size(parse_size(text).unwrap()), text);
        }
    }
}
