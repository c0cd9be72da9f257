use super::*;
use std::time::Duration;

use crate::forge::pin::PinFormat;
use crate::license::code::FindingCode;

fn check(src: &str) -> Result<ValidConfig, Vec<String>> {
    parse(Path::new("upkeep.toml"), src).map_err(|e| e.0.iter().map(ToString::to_string).collect())
}

const GOOD: &str = r#"
[state]
path = "var/upkeep.db"
cache-dir = "var/cache"

[schedule]
cron = "0 */6 * * *"
timezone = "UTC"

[email]
from = "upkeep@example.com"
transport = "file"
dir = "var/outbox"

[[servers]]
name = "figma-context-mcp"
upstream = "https://github.com/GLips/Figma-Context-MCP.git"
owners = ["figma-owners@example.com"]
release = { channel = "git-tags", tag-pattern = "^v(.+)$", prerelease = false }

[servers.mirror]
forge = "local"
repo = "var/mirrors/figma-context-mcp.git"
base = "main"
pin-file = "azure-pipelines.yml"
pin-format = "azure-pipelines"
"#;

#[test]
fn the_issue_example_is_valid() {
    let c = check(GOOD).expect("valid");
    assert_eq!(c.servers.len(), 1);
    let s = &c.servers[0];
    assert_eq!(s.name, "figma-context-mcp");
    assert_eq!(s.mirror.pin_format, PinFormat::AzurePipelines);
    assert!(matches!(s.mirror.forge, ForgeConfig::Local { .. }));
    assert_eq!(
        c.next_fires(chrono::DateTime::from_timestamp(0, 0).unwrap(), 3)
            .len(),
        3
    );
}

#[test]
fn every_problem_is_reported_with_line_and_column() {
    let src = r#"
[schedule]
cron = "61 * * * *"
timezone = "Mars/Olympus"

[[servers]]
name = "a"
upstream = "x"
owners = ["not-an-address"]
colour = "blue"
release = { tag-pattern = "^v(" }
[servers.mirror]
repo = "m"

[[servers]]
name = "a"
upstream = "y"
owners = ["o@example.com"]
release = { tag-pattern = "^v.+$" }
[servers.mirror]
forge = "gitlab"
"#;
    let errs = check(src).unwrap_err();
    let joined = errs.join("\n");
    for needle in [
        "upkeep.toml:3:8: invalid cron expression",
        "upkeep.toml:4:12: unknown timezone",
        "upkeep.toml:9:11: server `a`: owner `not-an-address`",
        "upkeep.toml:10:1: unknown key `colour` in [servers]",
        "upkeep.toml:11:27: server `a`: `tag-pattern` is not a valid regex",
        "upkeep.toml:16:8: duplicate server name `a`",
        "needs a capture group",
        "forge `gitlab` is not one of",
    ] {
        assert!(joined.contains(needle), "missing {needle:?} in:\n{joined}");
    }
}

#[test]
fn syntax_errors_name_the_place() {
    let errs = check("[state]\npath = \n").unwrap_err();
    assert!(errs[0].starts_with("upkeep.toml:2:"), "{errs:?}");
}

#[test]
fn five_and_six_field_cron_are_accepted_and_others_explained() {
    assert!(parse_cron("*/5 * * * *").is_ok());
    assert!(parse_cron("30 */5 * * * *").is_ok());
    let e = parse_cron("* * *").unwrap_err();
    assert!(e.contains("5-field crontab form"), "{e}");
}

#[test]
fn secrets_are_named_not_written() {
    let src = GOOD.replace(
        "forge = \"local\"\nrepo = \"var/mirrors/figma-context-mcp.git\"",
        "forge = \"github\"\nrepo = \"org/mirror\"\ntoken-env = \"ghp_abc-123\"",
    );
    let errs = check(&src).unwrap_err().join("\n");
    assert!(errs.contains("must name an environment variable"), "{errs}");
}

#[test]
fn hostile_server_names_are_refused() {
    for bad in ["../x", "a b", "UPPER", "x.lock", "a\nb", ""] {
        let src = GOOD.replace("name = \"figma-context-mcp\"", &format!("name = {bad:?}"));
        assert!(check(&src).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn missing_file_gets_a_hint() {
    let e = load(Path::new("/nonexistent/upkeep.toml")).unwrap_err();
    assert!(e.to_string().contains("config/example.toml"), "{e}");
}

#[test]
fn the_example_config_is_valid() {
    let c = check(include_str!("../../config/example.toml"))
        .expect("config/example.toml must stay valid");
    assert_eq!(c.servers[0].name, "figma-context-mcp");
    assert_eq!(c.license.allowed.len(), 5);
    assert_eq!(c.state.lease_timeout, Duration::from_secs(1800));
    assert_eq!(c.state.report_retention, Duration::from_secs(30 * 86_400));
}

/// The example's PostgreSQL block does what it says: uncommented (one URL source), with the
/// SQLite keys taken out, the config is valid and on PostgreSQL.
#[test]
fn the_example_postgres_block_is_valid_once_uncommented() {
    let example = include_str!("../../config/example.toml");
    let sqlite_only = |l: &&str| !l.starts_with("path =") && !l.starts_with("busy-timeout =");
    let uncomment = |l: &str| match l.strip_prefix("# ") {
        Some(rest)
            if ["backend", "url-env", "lock-timeout", "claim-ttl"]
                .iter()
                .any(|k| rest.starts_with(&format!("{k} ="))) =>
        {
            rest.to_string()
        }
        _ => l.to_string(),
    };
    let text: Vec<String> = example.lines().filter(sqlite_only).map(uncomment).collect();
    let c = check(&text.join("\n")).expect("the example's PostgreSQL block");
    let pg = postgres(&c);
    assert_eq!(pg.url_from, SecretRef::Env("UPKEEP_DATABASE_URL".into()));
    assert!(example.contains("# url-file = "));
}

#[test]
fn report_retention_is_a_duration_with_its_place_named() {
    let errs = check("[state]\nreport-retention = \"a month\"\n").unwrap_err();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains("2:20") && errs[0].contains("report-retention"),
        "{errs:?}"
    );
    let c = check("[state]\nreport-retention = \"0s\"\n").unwrap();
    assert!(c.state.report_retention.is_zero());
}

#[test]
fn a_duplicate_server_names_both_copies_with_the_lines_shown() {
    let second = GOOD
        .split_once("[[servers]]")
        .map(|(_, s)| format!("[[servers]]{s}"))
        .unwrap();
    let src = format!("{GOOD}\n{second}");
    let errs = parse(Path::new("upkeep.toml"), &src).unwrap_err();
    assert_eq!(errs.0.len(), 1, "{errs}");
    let d = &errs.0[0];
    assert_eq!(
        (d.code, d.line, d.related.len()),
        ("duplicate-server", 29, 1)
    );
    assert_eq!((d.related[0].line, d.related[0].column), (16, 8));
    insta::assert_snapshot!(format!("{d:#}"), @r#"
    upkeep.toml:29:8: duplicate server name `figma-context-mcp`, first defined here (16:8) [duplicate-server]
       |
    29 | name = "figma-context-mcp"
       |        ^^^^^^^^^^^^^^^^^^^
       ...
    16 | name = "figma-context-mcp"
       |        ------------------- first defined here
    "#);
}

#[test]
fn review_codes_are_finding_codes_and_a_typo_gets_a_suggestion() {
    let src = format!(
        "{GOOD}\n[servers.license]\nreview-codes = [\"file-added\", \"text-chaged\"]\n\n\
         [license]\nreview-codes = [\"copyright-only\", \"weather\"]\n"
    );
    let errs = parse(Path::new("upkeep.toml"), &src).unwrap_err();
    let text: Vec<String> = errs.0.iter().map(|d| format!("{d:#}")).collect();
    insta::assert_snapshot!(text.join("\n"), @r#"
    upkeep.toml:29:31: `review-codes`: `text-chaged` is not a license finding code; did you mean `text-changed`? [unknown-code]
       |
    29 | review-codes = ["file-added", "text-chaged"]
       |                               ^^^^^^^^^^^^^
    upkeep.toml:32:35: `review-codes`: `weather` is not a license finding code; known codes: unchanged, renamed, formatting-only, copyright-only, text-changed, id-changed, file-added, file-removed, manifest-changed, notice-changed, manifest-disagrees, license-removed, not-allowed, binary, too-large, symlink, unreadable, manifest-unparsable, package-added, package-removed, vendored-changed [unknown-code]
       |
    32 | review-codes = ["copyright-only", "weather"]
       |                                   ^^^^^^^^^
    "#);
    // The valid ones are typed.
    let ok =
        format!("{GOOD}\n[servers.license]\nreview-codes = [\"file-added\", \"notice-changed\"]\n");
    let c = check(&ok).unwrap();
    assert_eq!(
        c.servers[0].license.review_codes,
        Some(vec![FindingCode::FileAdded, FindingCode::NoticeChanged])
    );
}

/// `GOOD` with its server reading `channel`, `verify` and `[servers.channels]` as given.
fn with_channels(release: &str, channels: &str) -> String {
    GOOD.replace(
        "release = { channel = \"git-tags\", tag-pattern = \"^v(.+)$\", prerelease = false }",
        release,
    ) + &format!("\n[servers.channels]\n{channels}\n")
}

#[test]
fn the_npm_dist_tag_defaults_to_latest_and_can_follow_another() {
    let npm = |channels: &str| {
        let c = check(&with_channels("release = { channel = \"npm\" }", channels)).unwrap();
        match &c.servers[0].channels[&Channel::Npm] {
            ChannelConfig::Npm { dist_tag, .. } => dist_tag.clone(),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(npm("npm = { package = \"figma\" }"), "latest");
    assert_eq!(
        npm("npm = { package = \"figma\", dist-tag = \"next\" }"),
        "next"
    );
}

#[test]
fn a_dist_tag_npm_would_refuse_is_an_error_with_what_was_meant() {
    let problems = |tag: &str| {
        check(&with_channels(
            "release = { channel = \"npm\" }",
            &format!("npm = {{ package = \"figma\", dist-tag = {tag:?} }}"),
        ))
        .unwrap_err()
    };
    let spaced = problems(" next ");
    assert_eq!(spaced.len(), 1, "{spaced:?}");
    assert!(
        spaced[0].contains("has whitespace") && spaced[0].contains("did you mean `next`?"),
        "{spaced:?}"
    );
    assert!(spaced[0].ends_with("[invalid-dist-tag]"), "{spaced:?}");
    assert!(
        problems("release candidate")[0].contains("did you mean `release-candidate`?"),
        "two words become one tag"
    );
    for version in ["1.2.0", "v2", "^1.4", ">=2.0.0", "1.x", "*"] {
        let p = problems(version);
        assert!(
            p[0].contains("reads as a version or range")
                && p[0].contains("did you mean `latest` or `next`?"),
            "{version}: {p:?}"
        );
    }
    assert!(problems("")[0].contains("is empty"));
    // Tag names that only start with a letter of a range are fine.
    for fine in ["beta", "vnext", "next-2", "canary", "x-preview"] {
        assert!(
            check(&with_channels(
                "release = { channel = \"npm\" }",
                &format!("npm = {{ package = \"figma\", dist-tag = {fine:?} }}"),
            ))
            .is_ok(),
            "{fine}"
        );
    }
}

#[test]
fn a_pypi_channel_under_another_scheme_than_pep440_is_a_warning() {
    let warnings = |scheme: &str| {
        let c = check(&with_channels(
            &format!("release = {{ channel = \"pypi\", scheme = \"{scheme}\" }}"),
            "pypi = { project = \"figma\" }",
        ))
        .expect("a warning leaves the config valid");
        c.warnings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(warnings("pep440"), Vec::<String>::new());
    let semver = warnings("semver");
    assert_eq!(semver.len(), 1, "{semver:?}");
    assert!(
        semver[0].starts_with("upkeep.toml:29:8: server `figma-context-mcp`: channel `pypi`"),
        "{semver:?}"
    );
    assert!(semver[0].contains("1.0rc1"), "{semver:?}");
    assert!(semver[0].ends_with("[pypi-scheme]"), "{semver:?}");
    // A pypi table no server reads is not advice anyone needs.
    let unused = check(&with_channels(
        "release = { channel = \"git-tags\" }",
        "pypi = { project = \"figma\" }",
    ))
    .unwrap();
    assert!(unused.warnings.is_empty(), "{:?}", unused.warnings);
}

/// No token for a GitHub mirror or a `github-releases` channel is allowed but warned about:
/// 60 requests an hour per address, and conditional requests are free only with a token.
#[test]
fn github_without_a_token_is_a_warning_not_an_error() {
    let src = GOOD
        .replace(
            "release = { channel = \"git-tags\", tag-pattern = \"^v(.+)$\", prerelease = false }",
            "release = { channel = \"github-releases\", tag-pattern = \"^v(.+)$\" }",
        )
        .replace(
            "forge = \"local\"\nrepo = \"var/mirrors/figma-context-mcp.git\"",
            "forge = \"github\"\nrepo = \"org/mirror\"",
        );
    let config = check(&src).expect("valid");
    let codes: Vec<&str> = config.warnings.iter().map(|w| w.code).collect();
    assert_eq!(
        codes,
        ["github-no-token", "github-no-token"],
        "{:?}",
        config.warnings
    );
    let text: Vec<String> = config.warnings.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|w| w.contains("github mirror has no token")),
        "{text:?}"
    );
    assert!(
        text.iter().any(|w| w.contains("60 requests an hour")),
        "{text:?}"
    );
    assert!(
        text.iter().all(|w| w.starts_with("upkeep.toml:")),
        "placed: {text:?}"
    );

    let with_tokens = src.replace(
        "repo = \"org/mirror\"",
        "repo = \"org/mirror\"\ntoken-env = \"GH_TOKEN\"",
    ) + "\n[servers.channels]\ngithub-releases = { token-env = \"GH_TOKEN\" }\n";
    let config = check(&with_tokens).expect("valid");
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    assert!(check(GOOD).unwrap().warnings.is_empty());
}

fn with_service(service: &str) -> Result<ValidConfig, Vec<String>> {
    check(&format!("{service}\n{GOOD}"))
}

#[test]
fn concurrency_defaults_come_from_the_wan_measurements() {
    let c = check(GOOD).unwrap();
    assert_eq!(c.service.concurrency, 32);
    assert_eq!(
        c.service.per_host_concurrency,
        PerHostConcurrency { git: 16, api: 8 }
    );
}

#[test]
fn per_host_concurrency_by_transport_or_as_one_integer() {
    let per_host = |service: &str| with_service(service).unwrap().service.per_host_concurrency;
    for (service, git, api) in [
        ("[service.per-host-concurrency]\ngit = 24\napi = 3\n", 24, 3),
        // One key set: the other keeps its default.
        ("[service]\nper-host-concurrency = { api = 2 }\n", 16, 2),
        // The integer form of earlier versions sets both.
        (
            "[service]\nconcurrency = 6\nper-host-concurrency = 5\n",
            5,
            5,
        ),
    ] {
        assert_eq!(
            per_host(service),
            PerHostConcurrency { git, api },
            "{service}"
        );
    }
    let c = with_service("[service]\nconcurrency = 6\n").unwrap();
    assert_eq!(c.service.concurrency, 6);
}

#[test]
fn every_wrong_per_host_value_is_reported() {
    let errs = with_service(
        "[service]\nconcurrency = 0\n[service.per-host-concurrency]\ngit = 0\napi = \"eight\"\nssh = 4\n",
    )
    .unwrap_err();
    let joined = errs.join("\n");
    assert_eq!(errs.len(), 4, "{joined}");
    assert!(
        joined.contains("`concurrency` must be a positive number"),
        "{joined}"
    );
    assert!(
        joined.contains("`per-host-concurrency.git` must be a positive number, not `0`"),
        "{joined}"
    );
    assert!(
        joined.contains("`per-host-concurrency.api` must be a positive number, not `\"eight\"`"),
        "{joined}"
    );
    assert!(
        joined.contains(
            "`per-host-concurrency.ssh`: unknown key (expected `git` or `api`) [unknown-key]"
        ),
        "{joined}"
    );
    for bad in ["-1", "\"16\"", "[16]"] {
        let errs = with_service(&format!("[service]\nper-host-concurrency = {bad}\n")).unwrap_err();
        assert_eq!(errs.len(), 1, "{bad}: {errs:?}");
        assert!(
            errs[0].contains("`per-host-concurrency` must be a positive number"),
            "{errs:?}"
        );
        assert!(
            errs[0].starts_with("upkeep.toml:2:"),
            "points at the value: {errs:?}"
        );
    }
}

#[test]
fn approvers_are_checked_and_a_servers_list_replaces_the_global_one() {
    use crate::config::license::Approver;
    let src = format!(
        "{GOOD}\n[servers.license]\napprovers = [\"azure:cela@example.com\"]\n\n\
         [license]\napprovers = [\"github:ada\", \"ada\", \"gitlab:bob\", \"github:-x\"]\n"
    );
    let errs = check(&src).unwrap_err();
    assert_eq!(errs.len(), 3, "{errs:?}");
    assert!(
        errs.iter().all(|e| e.ends_with("[invalid-approver]")),
        "{errs:?}"
    );
    assert!(
        errs[0].contains("`ada` is not `github:<login>`"),
        "{errs:?}"
    );
    let ok = format!(
        "{GOOD}\n[servers.license]\napprovers = [\"azure:cela@example.com\"]\n\n\
         [license]\napprovers = [\"github:ada\"]\n"
    );
    let c = check(&ok).unwrap();
    assert_eq!(c.license.approvers, [Approver::Github("ada".into())]);
    assert_eq!(
        c.servers[0].license.approvers,
        [Approver::Azure("cela@example.com".into())],
        "the server's list replaces the global one"
    );
    let inherit = format!("{GOOD}\n[license]\napprovers = [\"github:ada\"]\n");
    let c = check(&inherit).unwrap();
    assert_eq!(c.servers[0].license.approvers, c.license.approvers);
    // GOOD's mirror is local: nobody comments there, so `check` says so (a warning only).
    assert!(
        c.warnings
            .iter()
            .any(|w| w.code == "approver-forge" && w.message.contains("github:ada")),
        "{:?}",
        c.warnings
    );
}

/// `[mcp] approvers`: the same entries as the license's, its own list per server, and where it
/// is not set the license approvers decide MCP holds too, with a warning that says so.
#[test]
fn mcp_approvers_are_their_own_list_and_fall_back_to_the_license_ones_with_a_warning() {
    use crate::config::license::Approver;
    let github = GOOD.replace(
        "forge = \"local\"\nrepo = \"var/mirrors/figma-context-mcp.git\"",
        "forge = \"github\"\nrepo = \"org/mirror\"\ntoken-env = \"GH_TOKEN\"",
    );
    let license = "[license]\napprovers = [\"github:cela-ada\"]\n";
    let errs = check(&format!(
        "{github}\n[servers.mcp]\napprovers = [\"sec\"]\n\n\
         [mcp]\napprovers = [\"github:sec-sam\", \"gitlab:x\"]\n"
    ))
    .unwrap_err();
    assert_eq!(errs.len(), 2, "every entry is checked: {errs:?}");
    assert!(
        errs.iter().all(|e| e.ends_with("[invalid-approver]")),
        "{errs:?}"
    );

    let own = check(&format!(
        "{github}\n{license}\n[mcp]\napprovers = [\"github:sec-sam\"]\n"
    ))
    .unwrap();
    let server = &own.servers[0];
    assert_eq!(server.mcp_approvers(), [Approver::Github("sec-sam".into())]);
    assert_eq!(
        server.license.approvers,
        [Approver::Github("cela-ada".into())]
    );
    assert!(own.warnings.is_empty(), "{:?}", own.warnings);

    let replaced = check(&format!(
        "{github}\n[servers.mcp]\napprovers = [\"azure:sec@example.com\"]\n\n\
         {license}\n[mcp]\napprovers = [\"github:sec-sam\"]\n"
    ))
    .unwrap();
    assert_eq!(
        replaced.servers[0].mcp_approvers(),
        [Approver::Azure("sec@example.com".into())],
        "the server's list replaces the global one"
    );
    let text: Vec<String> = replaced.warnings.iter().map(ToString::to_string).collect();
    assert!(
        text.iter().any(
            |w| w.contains("MCP approvers azure:sec@example.com cannot comment")
                && w.contains("`upkeep review approve|decline --kind mcp`")
                && w.ends_with("[approver-forge]")
        ),
        "{text:?}"
    );

    let cli_only = check(&format!("{github}\n{license}\n[mcp]\napprovers = []\n")).unwrap();
    assert!(cli_only.servers[0].mcp_approvers().is_empty());
    assert!(cli_only.warnings.is_empty(), "{:?}", cli_only.warnings);

    let unset_src = format!("{github}\n{license}");
    let unset = check(&unset_src).unwrap();
    assert_eq!(
        unset.servers[0].mcp_approvers(),
        unset.servers[0].license.approvers,
        "configs without the list keep working"
    );
    let text: Vec<String> = unset.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(text.len(), 1, "{text:?}");
    assert!(
        text[0].contains(
            "the license approvers also decide the MCP surface reviews of figma-context-mcp"
        ) && text[0].ends_with("[mcp-approvers-unset]"),
        "{text:?}"
    );
    let line = 1 + unset_src
        .lines()
        .position(|l| l.starts_with("approvers = "))
        .unwrap();
    assert!(
        text[0].starts_with(&format!("upkeep.toml:{line}:")),
        "points at the license list: {text:?}"
    );

    let gate_off = check(&format!("{github}\n{license}\n[mcp]\nhold-on = []\n")).unwrap();
    assert!(gate_off.warnings.is_empty(), "{:?}", gate_off.warnings);
}

/// `[freshness] max-lag` and its per-server override (issue 17).
mod freshness {
    use super::*;

    #[test]
    fn max_lag_defaults_to_two_weeks_and_each_server_may_set_its_own() {
        let c = check(GOOD).expect("valid");
        assert_eq!(c.freshness.max_lag, DEFAULT_MAX_LAG);
        assert_eq!(c.servers[0].max_lag, None);
        let src = format!(
            "{GOOD}\n[servers.freshness]\nmax-lag = \"3d\"\n\n[freshness]\nmax-lag = \"30d\"\n"
        );
        let c = check(&src).expect("valid");
        assert_eq!(c.freshness.max_lag, Duration::from_secs(30 * 86_400));
        assert_eq!(c.servers[0].max_lag, Some(Duration::from_secs(3 * 86_400)));
    }

    #[test]
    fn a_max_lag_that_would_alert_every_run_or_is_no_duration_is_refused() {
        let errs = check(&format!("{GOOD}\n[freshness]\nmax-lag = \"10m\"\n")).unwrap_err();
        assert!(errs.iter().any(|e| e.contains("under an hour")), "{errs:?}");
        let errs = check(&format!(
            "{GOOD}\n[servers.freshness]\nmax-lag = \"soon\"\n"
        ))
        .unwrap_err();
        assert!(
            errs.iter().any(|e| e.contains("is not a duration")),
            "{errs:?}"
        );
        let errs = check(&format!("{GOOD}\n[freshness]\nmax-lags = \"3d\"\n")).unwrap_err();
        assert!(errs.iter().any(|e| e.contains("max-lags")), "{errs:?}");
    }
}

#[test]
fn the_dashboard_asks_for_the_read_token_unless_opened_on_loopback() {
    let with =
        |service: &str| check(&GOOD.replace("[[servers]]", &format!("{service}\n[[servers]]")));
    let c = check(GOOD).unwrap();
    assert_eq!(c.service.dashboard, DashboardAccess::Token);
    let c = with("[service]\ndashboard = \"open\"\n").unwrap();
    assert_eq!(c.service.dashboard, DashboardAccess::Open);
    let e = with("[service]\nlisten = \"0.0.0.0:9187\"\ndashboard = \"open\"\n").unwrap_err();
    assert!(e.iter().any(|m| m.contains("[open-dashboard]")), "{e:?}");
    let e = with("[service]\ndashboard = \"public\"\n").unwrap_err();
    assert!(
        e.iter()
            .any(|m| m.contains("`dashboard`: `public` is not one of")),
        "{e:?}"
    );
}

#[test]
fn the_advisory_batch_window_is_a_short_duration() {
    let c = check("[advisories]\nbatch-window = \"2s\"\n").unwrap();
    assert_eq!(c.advisories.batch_window, Duration::from_secs(2));
    let c = check("").unwrap();
    assert_eq!(c.advisories.batch_window, Duration::from_millis(250));
    let errs = check("[advisories]\nbatch-window = \"10m\"\n").unwrap_err();
    assert!(
        errs.len() == 1 && errs[0].contains("2:16") && errs[0].contains("at most 60s"),
        "{errs:?}"
    );
    let errs = check("[advisories]\nbatch-window = \"soon\"\n").unwrap_err();
    assert!(errs[0].contains("batch-window"), "{errs:?}");
}

#[test]
fn the_sqlite_state_migrates_itself_unless_told_not_to() {
    assert!(check("").unwrap().state.auto_migrate);
    let c = check("[state]\nauto-migrate = false\n").unwrap();
    assert!(!c.state.auto_migrate);
    assert!(check("[state]\nauto-migrate = \"no\"\n").is_err());
}

// ---- [state] backend ------------------------------------------------------------------------

const PG: &str = "[state]\nbackend = \"postgres\"\nurl-env = \"UPKEEP_DATABASE_URL\"\n";

fn postgres(c: &ValidConfig) -> &PostgresState {
    match &c.state.backend {
        StateBackend::Postgres(pg) => pg,
        other => panic!("not postgres: {other:?}"),
    }
}

#[test]
fn the_state_is_sqlite_unless_postgres_is_chosen() {
    for src in ["", "[state]\nbackend = \"sqlite\"\npath = \"x.db\"\n"] {
        let c = check(src).unwrap();
        let StateBackend::Sqlite { path, busy_timeout } = &c.state.backend else {
            panic!("{src}: not sqlite");
        };
        assert_eq!((path, *busy_timeout), (&c.state.path, c.state.busy_timeout));
        assert_eq!(c.state.location(), path.display().to_string());
    }
    let c = check(PG).unwrap();
    let pg = postgres(&c);
    assert_eq!(pg.url_from, SecretRef::Env("UPKEEP_DATABASE_URL".into()));
    assert_eq!(pg.lock_timeout, DEFAULT_LOCK_WAIT);
    assert_eq!(pg.claim_ttl, DEFAULT_CLAIM_TTL);
    assert_eq!(pg.claim_renewal(), Duration::from_secs(40));
    assert_eq!(
        c.state.location(),
        "PostgreSQL (URL from environment variable UPKEEP_DATABASE_URL ([state] url-env))"
    );
    let c = check(
        "[state]\nbackend = \"postgres\"\nurl-file = \"/run/secrets/db-url\"\n\
         lock-timeout = \"5s\"\nclaim-ttl = \"1m\"\n",
    )
    .unwrap();
    let pg = postgres(&c);
    assert_eq!(pg.url_from, SecretRef::File("/run/secrets/db-url".into()));
    assert_eq!(
        (pg.lock_timeout, pg.claim_ttl),
        (Duration::from_secs(5), Duration::from_secs(60))
    );
}

#[test]
fn postgres_migrates_only_when_told_to() {
    assert!(!check(PG).unwrap().state.auto_migrate);
    let c = check(&format!("{PG}auto-migrate = true\n")).unwrap();
    assert!(c.state.auto_migrate);
}

#[test]
fn an_unknown_backend_is_refused_at_its_place() {
    let errs = check("[state]\nbackend = \"mysql\"\nurl-env = \"X\"\n").unwrap_err();
    // Only the backend: which keys fit is unknown until it is right.
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].contains("2:11") && errs[0].contains("\"postgres\", not `mysql`"));
    assert!(errs[0].ends_with("[invalid-value]"), "{errs:?}");
    // A connection URL written as the backend: placed, never shown.
    let src = "[state]\nbackend = \"postgres://u:hunter2@db/x?password=hunter2\"\n";
    let errs = parse(Path::new("upkeep.toml"), src).unwrap_err().0;
    assert_eq!((errs[0].line, errs[0].code), (2, "secret-in-config"));
    assert!(!format!("{:#}", errs[0]).contains("hunter2"), "{errs:?}");
}

#[test]
fn a_url_in_the_config_is_refused_without_showing_it() {
    let src =
        "[state]\nbackend = \"postgres\"\nurl = \"postgres://u:hunter2@db/x?password=hunter2\"\n";
    let errs = parse(Path::new("upkeep.toml"), src).unwrap_err().0;
    assert_eq!(errs.len(), 1, "{errs:?}");
    let d = &errs[0];
    assert_eq!((d.line, d.column, d.code), (3, 7, "secret-in-config"));
    assert!(d.message.contains("url-env") && d.message.contains("url-file"));
    let shown = format!("{d:#}");
    assert!(!shown.contains("hunter2"), "{shown}");
    // Not an unknown key either, whatever its type.
    let errs = check("[state]\nurl = 5\n").unwrap_err();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].contains("[secret-in-config]"));
}

#[test]
fn postgres_needs_exactly_one_url_source_that_names_the_url() {
    let errs = check("[state]\nbackend = \"postgres\"\n").unwrap_err();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].contains("2:11") && errs[0].ends_with("[missing-key]"));
    let both = format!("{PG}url-file = \"/run/secrets/db-url\"\n");
    let errs = check(&both).unwrap_err();
    assert!(
        errs.len() == 1 && errs[0].ends_with("[conflicting-keys]"),
        "{errs:?}"
    );
    // The URL itself where its name belongs: placed, never shown, in either key.
    for key in ["url-env", "url-file"] {
        let src =
            format!("[state]\nbackend = \"postgres\"\n{key} = \"postgres://u:hunter2@db/x\"\n");
        let errs = parse(Path::new("upkeep.toml"), &src).unwrap_err().0;
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!((errs[0].line, errs[0].code), (3, "secret-in-config"));
        assert!(!format!("{:#}", errs[0]).contains("hunter2"));
    }
    let errs = check("[state]\nbackend = \"postgres\"\nurl-env = \"not a name\"\n").unwrap_err();
    assert!(errs[0].ends_with("[invalid-value]"), "{errs:?}");
}

#[test]
fn keys_of_the_other_backend_are_refused() {
    let errs = check(&format!(
        "{PG}path = \"var/upkeep.db\"\nbusy-timeout = \"5s\"\n"
    ))
    .unwrap_err();
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(errs[0].contains("4:8") && errs[0].contains("remove `path`"));
    assert!(errs[1].contains("5:16") && errs[1].contains("`lock-timeout`"));
    assert!(errs.iter().all(|e| e.ends_with("[wrong-backend]")));

    let src =
        "[state]\nurl-env = \"X\"\nurl-file = \"/f\"\nlock-timeout = \"5s\"\nclaim-ttl = \"2m\"\n";
    let errs = check(src).unwrap_err();
    assert_eq!(errs.len(), 4, "{errs:?}");
    for (e, key) in errs
        .iter()
        .zip(["url-env", "url-file", "lock-timeout", "claim-ttl"])
    {
        assert!(
            e.contains(&format!("`{key}` is for `backend = \"postgres\"`")),
            "{e}"
        );
        assert!(e.contains("SQLite (the default)") && e.ends_with("[wrong-backend]"));
    }
    let errs = check("[state]\nbackend = \"sqlite\"\nurl-env = \"postgres://u:hunter2@db/x\"\n")
        .unwrap_err();
    assert!(errs[0].contains("this state is SQLite:"), "{errs:?}");
    let d = parse(
        Path::new("u.toml"),
        "[state]\nurl-file = \"postgres://u:hunter2@db/x\"\n",
    )
    .unwrap_err()
    .0;
    assert!(!format!("{:#}", d[0]).contains("hunter2"));
}

#[test]
fn a_claim_outlives_a_renewal_that_waits_for_a_lock() {
    let errs = check(&format!("{PG}lock-timeout = \"0s\"\n")).unwrap_err();
    assert!(
        errs.len() == 1 && errs[0].contains("4:16") && errs[0].contains("forever"),
        "{errs:?}"
    );
    // 30s is 3 x 10s: the second renewal would land as the claim expires.
    let errs = check(&format!("{PG}claim-ttl = \"30s\"\n")).unwrap_err();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].contains("4:13") && errs[0].contains("3 x `lock-timeout` (10s)"));
    // A lock timeout raised past the default claim's third is placed at itself.
    let errs = check(&format!("{PG}lock-timeout = \"1m\"\n")).unwrap_err();
    assert!(
        errs[0].contains("4:16") && errs[0].contains("`claim-ttl` (2m)"),
        "{errs:?}"
    );
    let c = check(&format!("{PG}lock-timeout = \"1s\"\nclaim-ttl = \"4s\"\n")).unwrap();
    assert_eq!(postgres(&c).claim_ttl, Duration::from_secs(4));
    let errs = check(&format!("{PG}claim-ttl = \"soon\"\n")).unwrap_err();
    assert!(errs[0].ends_with("[invalid-duration]"), "{errs:?}");
}

#[test]
fn the_postgres_pool_size_is_a_small_positive_number_and_postgres_only() {
    assert_eq!(postgres(&check(PG).unwrap()).pool_size, DEFAULT_POOL_SIZE);
    let c = check(&format!("{PG}pool-size = 2\n")).unwrap();
    assert_eq!(postgres(&c).pool_size, 2);
    // Every bad value is collected with the others, at its place.
    let errs = check(&format!("{PG}pool-size = 0\nlock-timeout = \"0s\"\n")).unwrap_err();
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(
        errs[0].contains("4:13") && errs[0].contains("from 1 to 64, not 0"),
        "{errs:?}"
    );
    assert!(errs[0].ends_with("[invalid-value]"), "{errs:?}");
    let errs = check(&format!("{PG}pool-size = 65\n")).unwrap_err();
    assert!(errs[0].contains("not 65"), "{errs:?}");
    // SQLite has one connection: the key is refused, not ignored.
    let errs = check("[state]\npool-size = 4\n").unwrap_err();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains("2:13")
            && errs[0].contains("`pool-size` is for `backend = \"postgres\"`")
            && errs[0].ends_with("[wrong-backend]"),
        "{errs:?}"
    );
}

#[test]
fn one_delivery_is_bounded_by_the_transports_timeouts() {
    let smtp =
        "[email]\nfrom = \"u@example.com\"\ntransport = \"smtp\"\nhost = \"smtp.example.com\"\n";
    // The file transport has no network to wait for.
    assert_eq!(check("").unwrap().email.delivery_bound(), Duration::ZERO);
    assert_eq!(
        check(smtp).unwrap().email.delivery_bound(),
        Duration::from_secs(30)
    );
    let c = check(&format!("{smtp}timeout = \"5s\"\n")).unwrap();
    assert_eq!(c.email.delivery_bound(), Duration::from_secs(5));
    // A chat POST may take longer than that.
    let chat = format!(
        "{smtp}timeout = \"5s\"\nchat = [\"team\"]\n\n[chat.team]\nkind = \"teams\"\n\
         webhook-url-env = \"UPKEEP_TEAMS_URL\"\n"
    );
    let c = check(&chat).unwrap();
    assert_eq!(c.email.delivery_bound(), CHAT_POST_TIMEOUT);
    // And the lock its outcome waits for is the backend's.
    assert_eq!(c.state.lock_wait(), DEFAULT_LOCK_WAIT);
    let c = check(&format!("{PG}lock-timeout = \"4s\"\n")).unwrap();
    assert_eq!(c.state.lock_wait(), Duration::from_secs(4));
}
