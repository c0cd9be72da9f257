//! The dashboard of `upkeep serve` in a real browser: a fixture fleet synced by the real binary
//! (real upstreams and mirrors in temp dirs), its state finished by the store's own writers where
//! a person or a later pipeline step would act (a declined PR, a failed pipeline, the count of
//! releases behind), then the pages read over loopback by the HTTP client (access, headers,
//! well-formedness) and by headless Chromium (the DOM it builds, sorting by following the link,
//! screenshots under `target/dashboard-screenshots/`).

#[path = "dashboard_support/chromium.rs"]
mod chromium;
mod service_support;

use std::path::{Path, PathBuf};

use git2::{Repository, Signature};
use service_support::*;
use upkeep::freshness::ChecksState;
use upkeep::store::{Behind, ChecksRecord, FailedCheck, PrRecordState, ServerState, Store};

const CURRENT: &str = "alpha-current";
const BEHIND: &str = "bravo-behind";
const HELD: &str = "charlie-held";
const PIPELINE: &str = "delta-pipeline";
const DECLINED: &str = "echo-declined";
const FAILING: &str = "foxtrot-failing";

/// A version string an upstream controls, made to break out of an attribute and a tag.
const HOSTILE_VERSION: &str = "\"><img src=x onerror=alert(3)>";
const HOSTILE_TAGS: [&str; 2] = [
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(2)>",
];

const MIT: &str = "MIT License\n\nCopyright (c) 2025 Test Authors\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\nof this software, to deal in the Software without restriction.\n";
/// The restriction v1.2.0 of the held server adds to its license.
const RIDER: &str =
    "You may not sell the Software or offer it as a hosted service without a commercial license.";

/// Tag `version` on the upstream's main: a commit whose LICENSE is `license`.
fn release(upstream: &Path, version: &str, license: &str) {
    let repo = Repository::open_bare(upstream).unwrap();
    let sig = Signature::now("Up Stream", "up@example.org").unwrap();
    let parent = repo.head().unwrap().peel_to_commit().unwrap();
    let mut tb = repo.treebuilder(Some(&parent.tree().unwrap())).unwrap();
    tb.insert("LICENSE", repo.blob(license.as_bytes()).unwrap(), 0o100_644)
        .unwrap();
    let tree = repo.find_tree(tb.write().unwrap()).unwrap();
    release_commit(&repo, &sig, &tree, &[&parent], version);
}

fn upstream_path(f: &Fixture, name: &str) -> PathBuf {
    f.dir.path().join("upstreams").join(format!("{name}.git"))
}

fn days_ago(days: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now() - chrono::Duration::days(days)
}

/// The fleet in every state: synced for real, then what people and the pipeline's later steps
/// record.
fn fleet() -> Fixture {
    let names = [CURRENT, BEHIND, HELD, PIPELINE, DECLINED, FAILING];
    let mut f = Fixture::new(
        &names,
        &[],
        &Settings {
            cron: far_cron(),
            ..Settings::default()
        },
    );
    // Current: the upstream's only release is the pinned one.
    Repository::open_bare(upstream_path(&f, CURRENT))
        .unwrap()
        .tag_delete("v1.1.0")
        .unwrap();
    // Held: the newest release adds a restriction to the license.
    release(
        &upstream_path(&f, HELD),
        "1.2.0",
        &format!("{MIT}\n{RIDER}\n"),
    );
    // Failing: the upstream is gone.
    let failing = f.servers.iter_mut().find(|s| s.name == FAILING).unwrap();
    failing.upstream = format!("file://{}/gone.git", f.dir.path().display());
    let text = f.config_text(&Settings {
        cron: far_cron(),
        ..Settings::default()
    });
    std::fs::write(&f.config, text).unwrap();

    let out = f.upkeep(&["sync", "--now"]);
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    for (name, status) in [
        (CURRENT, "up-to-date"),
        (BEHIND, "pr-opened"),
        (HELD, "held"),
        (FAILING, "failed"),
    ] {
        assert!(
            said.lines().any(|l| l.contains(name) && l.contains(status)),
            "{name} is not {status} after the sync:\n{said}"
        );
    }
    finish_state(&f.store());
    f
}

/// What the sync does not write: a person closing a PR, the pipeline's checks and the
/// freshness counts (written by the fleet's pipeline step), and a hostile upstream's tags.
fn finish_state(store: &Store) {
    let declined = store.open_pr(DECLINED).unwrap().expect("echo's PR");
    store
        .transaction(|tx| {
            Store::set_pr_state(
                tx,
                declined.id,
                PrRecordState::Declined,
                Some("owner@example.com"),
            )
        })
        .unwrap();
    let pr = store.open_pr(PIPELINE).unwrap().expect("delta's PR");
    store
        .put_checks(
            pr.id,
            PIPELINE,
            &ChecksRecord {
                head_commit: pr.head_commit.clone().unwrap_or_default(),
                state: ChecksState::Failure,
                failed: vec![FailedCheck {
                    name: "build <linux>".into(),
                    url: Some("https://ci.example.com/build/1".into()),
                }],
                url: Some("https://ci.example.com/build/1".into()),
                checked_at: chrono::Utc::now().to_rfc3339(),
            },
        )
        .unwrap();
    for (name, releases, days) in [
        (CURRENT, 0, None),
        (BEHIND, 1, Some(10)),
        (HELD, 2, Some(30)),
        (PIPELINE, 1, Some(3)),
        (DECLINED, 1, Some(20)),
        (FAILING, 1, Some(5)),
    ] {
        let behind = Behind {
            releases_behind: releases,
            behind_since: days.map(days_ago),
            moved_tag: false,
        };
        store.put_behind(name, &behind).unwrap();
    }
    let commit = "0123456789abcdef0123456789abcdef01234567".to_string();
    let tags: Vec<(String, String)> = HOSTILE_TAGS
        .iter()
        .map(|t| ((*t).to_string(), commit.clone()))
        .collect();
    store
        .transaction(|tx| {
            Store::record_tags(tx, BEHIND, &tags)?;
            let mut st: ServerState = Store::server_state_tx(tx, BEHIND)?.expect("bravo's state");
            st.latest_version = Some(HOSTILE_VERSION.into());
            Store::put_server_state(tx, &st)
        })
        .unwrap();
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The page at `path`, checked for well-formedness by an XML parser (the pages are polyglot).
fn well_formed(html: &str, path: &str) {
    roxmltree::Document::parse_with_options(
        html,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..roxmltree::ParsingOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("{path} is not well-formed: {e}\n{html}"));
}

/// The server names of the fleet table's rows, in order.
fn row_order(dom: &str) -> Vec<String> {
    dom.split("<tr data-server=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_string())
        .collect()
}

/// The markup of `name`'s row.
fn row<'a>(dom: &'a str, name: &str) -> &'a str {
    let start = dom
        .find(&format!("<tr data-server=\"{name}\""))
        .unwrap_or_else(|| panic!("no row for {name}"));
    let rest = &dom[start..];
    &rest[..rest.find("</tr>").unwrap()]
}

fn screenshots() -> PathBuf {
    // CARGO_TARGET_TMPDIR is target/tmp: the screenshots go beside it, under target/.
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("dashboard-screenshots")
}

#[test]
fn the_dashboard_asks_for_the_read_token_and_says_nothing_to_strangers() {
    let f = fleet();
    let svc = f.start();
    let http = client();
    let url = |p: &str| format!("{}{p}", svc.base);

    let anonymous = http.get(url("/")).send().unwrap();
    assert_eq!(anonymous.status(), 401);
    for (header, value) in [
        ("x-content-type-options", "nosniff"),
        ("cache-control", "no-store"),
        ("x-frame-options", "DENY"),
    ] {
        assert_eq!(anonymous.headers()[header], value, "{header}");
    }
    let csp = anonymous.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.starts_with("default-src 'none'; style-src 'sha256-"),
        "{csp}"
    );
    let login = anonymous.text().unwrap();
    well_formed(&login, "/ (signed out)");
    assert!(login.contains("<form method=\"post\" action=\"/login\">"));
    assert!(
        !login.contains(BEHIND),
        "a stranger saw the fleet:\n{login}"
    );

    let page = http.get(url("/")).bearer_auth(READ_TOKEN).send().unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-store");
    assert!(page.text().unwrap().contains(BEHIND));

    let wrong = http
        .post(url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=not-the-token")
        .send()
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get("set-cookie").is_none());
    let signed_in = http
        .post(url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={READ_TOKEN}"))
        .send()
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        !cookie.contains(READ_TOKEN),
        "the cookie holds the token itself: {cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_string();
    let with_cookie = http
        .get(url("/"))
        .header("cookie", &session)
        .send()
        .unwrap();
    assert_eq!(with_cookie.status(), 200);

    // Every page parses, for every server and the run; unknown ones are 404s.
    let get = |p: &str| {
        let r = http.get(url(p)).bearer_auth(READ_TOKEN).send().unwrap();
        (r.status().as_u16(), r.text().unwrap())
    };
    for p in ["/", "/?sort=lag", "/runs/1"]
        .into_iter()
        .map(String::from)
        .chain(
            [CURRENT, BEHIND, HELD, PIPELINE, DECLINED, FAILING].map(|n| format!("/servers/{n}")),
        )
    {
        let (code, html) = get(&p);
        assert_eq!(code, 200, "{p}: {html}");
        well_formed(&html, &p);
    }
    assert_eq!(get("/servers/%3Cscript%3E").0, 404);
    assert_eq!(get("/runs/999").0, 404);
    // Read-only: nothing on the pages takes a write.
    let post = http.post(url("/")).bearer_auth(READ_TOKEN).send().unwrap();
    assert_eq!(post.status(), 405);
}

#[test]
fn the_fleet_in_every_state_in_a_real_browser() {
    let browser = chromium::Chromium::find();
    let f = fleet();
    let open = f
        .config_text(&Settings {
            cron: far_cron(),
            ..Settings::default()
        })
        .replace("[service]\n", "[service]\ndashboard = \"open\"\n");
    // config_text writes what f.servers say, the failing server's gone upstream included.
    std::fs::write(&f.config, open).unwrap();
    let svc = f.start();
    let base = svc.base.clone();

    let dom = browser.dom(&format!("{base}/"));
    assert_eq!(
        row_order(&dom),
        [CURRENT, BEHIND, HELD, PIPELINE, DECLINED, FAILING],
        "sorted by name first"
    );
    assert!(row(&dom, CURRENT).contains("up-to-date"));
    assert!(row(&dom, BEHIND).contains("awaiting-merge"));
    assert!(row(&dom, HELD).contains("license-review"));
    assert!(row(&dom, PIPELINE).contains("pipeline-failed: build &lt;linux&gt;"));
    assert!(row(&dom, DECLINED).contains("declined"));
    assert!(row(&dom, FAILING).contains("failing: "));
    // Hostile upstream text is text: no element came of it.
    assert!(!dom.contains("<img") && !dom.contains("<script"), "{dom}");
    assert!(
        row(&dom, BEHIND).contains("&gt;&lt;img src=x onerror=alert(3)&gt;"),
        "{}",
        row(&dom, BEHIND)
    );

    // Sorting: follow the Lag header's link, as a person would.
    let link = dom
        .split("href=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .find(|href| href.contains("sort=lag"))
        .expect("a sort-by-lag link")
        .replace("&amp;", "&");
    let by_lag = browser.dom(&format!("{base}{link}"));
    assert_eq!(
        row_order(&by_lag),
        [HELD, DECLINED, BEHIND, FAILING, PIPELINE, CURRENT],
        "longest lag first"
    );
    assert!(by_lag.contains("aria-sort=\"descending\""));

    // The held server's page shows the license diff; the hostile tags stay text.
    let held = browser.dom(&format!("{base}/servers/{HELD}"));
    assert!(held.contains("License review pending"), "{held}");
    assert!(
        held.contains(RIDER),
        "the added license words are not on the page:\n{held}"
    );
    assert!(held.contains("<svg"), "no lag chart");
    let behind = browser.dom(&format!("{base}/servers/{BEHIND}"));
    assert!(
        !behind.contains("<img") && !behind.contains("<script"),
        "{behind}"
    );
    assert!(
        behind.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{behind}"
    );

    let shots = screenshots();
    let held_page = format!("/servers/{HELD}");
    for (file, path, width, height) in [
        ("fleet.png", "/", 1400, 1000),
        ("fleet-by-lag.png", "/?sort=lag", 1400, 1000),
        ("server-held.png", held_page.as_str(), 1400, 1600),
        // The README's picture (docs/dashboard.png is a copy of it).
        ("readme.png", "/?sort=lag", 1400, 780),
    ] {
        browser.screenshot(&format!("{base}{path}"), &shots.join(file), width, height);
    }
}
