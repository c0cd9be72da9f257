//! Ref advertisements over smart HTTP (`upstream::smart_http`) against real `git http-backend`
//! on 127.0.0.1: what they list must be what libgit2 lists for the same upstream (its raw
//! advertisement, and the tags and default branch `Cache::fetch` gives the quiet key), over v2
//! and v0 servers, plain HTTP, HTTPS with a test CA and HTTP/2; with redirects, auth challenges,
//! connections the server closes, and servers that answer wrongly.

mod smart_http_support;

use std::collections::BTreeMap;
use std::sync::Arc;

use smart_http_support::{Behaviour, GitHttp, Repos, Response, pki};
use upkeep::upstream::Cache;
use upkeep::upstream::smart_http::{
    AdvertisedHead, AdvertisedTag, Advertisement, ListError, ListOptions, Protocol, RefLister,
};

fn client() -> reqwest::blocking::Client {
    client_with(true, false)
}

/// A client that follows redirects itself or leaves them to the lister, and trusts the test CA
/// or only the system's roots.
fn client_with(follow_redirects: bool, trust_test_ca: bool) -> reqwest::blocking::Client {
    upkeep::http::install_crypto_provider();
    let mut builder = reqwest::blocking::Client::builder().no_proxy();
    if !follow_redirects {
        builder = builder.redirect(reqwest::redirect::Policy::none());
    }
    if trust_test_ca {
        let ca = reqwest::Certificate::from_pem(pki().ca_pem.as_bytes()).unwrap();
        builder = builder.tls_certs_merge([ca]);
    }
    builder.build().unwrap()
}

fn lister() -> RefLister {
    RefLister::new(client(), ListOptions::default())
}

fn v2() -> Behaviour {
    Behaviour {
        v2: true,
        ..Behaviour::default()
    }
}

/// libgit2's own advertisement of `url`: tags with their peeled values, and HEAD.
fn libgit2_view(url: &str) -> (Vec<AdvertisedTag>, Option<AdvertisedHead>) {
    let mut remote = git2::Remote::create_detached(url).unwrap();
    let conn = remote
        .connect_auth(git2::Direction::Fetch, None, None)
        .unwrap();
    let mut tags: BTreeMap<String, AdvertisedTag> = BTreeMap::new();
    let mut head = None;
    for h in conn.list().unwrap() {
        let oid = h.oid().to_string();
        if h.name() == "HEAD" {
            head = Some(AdvertisedHead {
                oid,
                target: h.symref_target().map(str::to_string),
            });
        } else if let Some(name) = h.name().strip_prefix("refs/tags/") {
            match name.strip_suffix("^{}") {
                Some(base) => tags.get_mut(base).unwrap().peeled = Some(oid),
                None => {
                    tags.insert(
                        name.to_string(),
                        AdvertisedTag {
                            name: name.to_string(),
                            oid,
                            peeled: None,
                        },
                    );
                }
            }
        }
    }
    (tags.into_values().collect(), head)
}

/// Asserts that `ad` is what libgit2 sees at `libgit2_url` (the same repository, perhaps served
/// differently), and what `Cache::fetch` gives the pipeline: the same release tags (those that
/// peel to a commit) and the same default branch.
fn assert_agrees(ad: &Advertisement, libgit2_url: &str) {
    let (tags, head) = libgit2_view(libgit2_url);
    assert_eq!(ad.tags, tags, "tags differ from libgit2's advertisement");
    assert_eq!(ad.head, head, "HEAD differs from libgit2's advertisement");

    let cache_dir = tempfile::tempdir().unwrap();
    // The huge-list case has more tags than the default `[state] max-tags`; this comparison is
    // about agreeing with libgit2, not about that cap.
    let fetched = Cache::new(cache_dir.path())
        .with_limits(upkeep::upstream::FetchLimits {
            max_tags: 1_000_000,
            ..Default::default()
        })
        .fetch("s", libgit2_url)
        .unwrap();
    let commits: Vec<(String, String)> = ad
        .tag_targets()
        .into_iter()
        .filter(|(_, target)| {
            let oid = git2::Oid::from_str(target).unwrap();
            fetched.repo.find_object(oid, None).unwrap().kind() == Some(git2::ObjectType::Commit)
        })
        .collect();
    let cached: Vec<(String, String)> = fetched
        .tags
        .iter()
        .map(|t| (t.name.clone(), t.commit.clone()))
        .collect();
    assert_eq!(commits, cached, "release tags differ from Cache::fetch");
    let cached_branch = fetched
        .default_branch
        .map(|(name, oid)| (name, oid.to_string()));
    assert_eq!(ad.default_branch(), cached_branch);
}

/// A history with every kind of tag: lightweight, annotated, a tag of a tag, tags of a tree
/// and of a blob, a non-ASCII name, a branch besides main.
fn every_kind_of_tag(repos: &Repos) {
    let c1 = repos.commit("LICENSE", "MIT License\n");
    repos.git(&["tag", "v1.0.0", &c1]);
    repos.commit("a.txt", "2\n");
    repos.git(&["tag", "-a", "v1.1.0", "-m", "Release 1.1.0"]);
    repos.git(&[
        "tag",
        "-a",
        "v1.1.0-signed",
        "-m",
        "a tag of a tag",
        "v1.1.0",
    ]);
    repos.git(&["tag", "tree-tag", "HEAD^{tree}"]);
    repos.git(&["tag", "-a", "blob-tag", "-m", "a blob", "HEAD:a.txt"]);
    repos.git(&["tag", "v2.0.0-é"]);
    repos.git(&["branch", "develop", &c1]);
}

/// `count` upstreams `r0.git`, `r1.git`, ... with [`every_kind_of_tag`].
fn upstreams_with_every_kind_of_tag(count: usize) -> Repos {
    let repos = Repos::new();
    every_kind_of_tag(&repos);
    for i in 0..count {
        repos.publish(&format!("r{i}.git"));
    }
    repos
}

#[test]
fn every_kind_of_tag_agrees_with_libgit2_over_v2_and_v0() {
    let repos = Repos::new();
    every_kind_of_tag(&repos);
    repos.publish("r.git");
    let v2_server = GitHttp::start(&repos.root, v2(), None);
    let v0_server = GitHttp::start(&repos.root, Behaviour::default(), None);
    let lister = lister();

    let ad = lister.list(&v2_server.url("r.git")).unwrap();
    assert_eq!(ad.protocol, Protocol::V2);
    assert_eq!(ad.tags.len(), 6, "{ad:?}");
    let nested = ad.tags.iter().find(|t| t.name == "v1.1.0-signed").unwrap();
    let plain = ad.tags.iter().find(|t| t.name == "v1.1.0").unwrap();
    assert_eq!(
        nested.peeled, plain.peeled,
        "a tag of a tag peels to the commit"
    );
    assert_eq!(ad.default_branch().unwrap().0, "main");
    assert_agrees(&ad, &v2_server.url("r.git"));
    let log = v2_server.log();
    assert_eq!(
        log.iter().map(|l| l.method.as_str()).collect::<Vec<_>>()[..2],
        ["GET", "POST"],
        "v2: info/refs, then ls-refs"
    );
    assert_eq!(log[0].git_protocol.as_deref(), Some("version=2"));
    assert!(log[0].user_agent.as_deref().unwrap().starts_with("git/"));

    let ad0 = lister.list(&v0_server.url("r.git")).unwrap();
    assert_eq!(ad0.protocol, Protocol::V0);
    assert_eq!(ad0.tags, ad.tags);
    assert_eq!(ad0.head, ad.head);
    assert_agrees(&ad0, &v0_server.url("r.git"));
    // Asking for v0 gets v0 even from a v2 server.
    let v0_only = RefLister::new(
        client(),
        ListOptions {
            protocol_v2: false,
            ..ListOptions::default()
        },
    );
    let forced = v0_only.list(&v2_server.url("r.git")).unwrap();
    assert_eq!(forced.protocol, Protocol::V0);
    assert_eq!(forced.tags, ad.tags);
}

#[test]
fn moved_deleted_and_new_tags_are_seen_as_libgit2_sees_them() {
    let repos = Repos::new();
    let c1 = repos.commit("a.txt", "1\n");
    repos.git(&["tag", "v1.0.0", &c1]);
    repos.git(&["tag", "-a", "v1.1.0", "-m", "1.1.0"]);
    repos.git(&["tag", "v1.2.0"]);
    repos.publish("r.git");
    let server = GitHttp::start(&repos.root, v2(), None);
    let v0_server = GitHttp::start(&repos.root, Behaviour::default(), None);
    let lister = lister();
    let before = lister.list(&server.url("r.git")).unwrap();
    assert_agrees(&before, &server.url("r.git"));

    // Move v1.0.0 (a release tag re-pointed) and the annotated v1.1.0 (a new tag object that
    // peels to another commit), delete v1.2.0, add v1.3.0 (annotated).
    let c2 = repos.commit("a.txt", "2\n");
    repos.git(&["tag", "-f", "v1.0.0", &c2]);
    repos.git(&["tag", "-f", "-a", "v1.1.0", "-m", "1.1.0 again", &c2]);
    repos.git(&["tag", "-d", "v1.2.0"]);
    repos.git(&["tag", "-a", "v1.3.0", "-m", "1.3.0"]);
    repos.publish("r.git");
    for url in [server.url("r.git"), v0_server.url("r.git")] {
        let after = lister.list(&url).unwrap();
        assert_agrees(&after, &url);
        let names: Vec<&str> = after.tags.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["v1.0.0", "v1.1.0", "v1.3.0"]);
        let moved = &after.tags[0];
        assert_eq!(moved.oid, c2);
        assert_ne!(before.tags[0].oid, moved.oid);
        let annotated = &after.tags[1];
        assert_eq!(annotated.peeled.as_deref(), Some(c2.as_str()));
        assert_ne!(before.tags[1].oid, annotated.oid, "a new tag object");
        assert_ne!(before.tags[1].peeled, annotated.peeled);
    }
}

#[test]
fn a_huge_tag_list_agrees_and_the_size_cap_holds() {
    let repos = Repos::new();
    let c1 = repos.commit("a.txt", "1\n");
    let bare = repos.publish("big.git");
    // 500 annotated tags from one fast-import, then 10,000 lightweight ones written straight
    // into packed-refs (git's own format; loose files by the thousand are slow to delete).
    let mut import = String::new();
    for i in 0..500 {
        import.push_str(&format!(
            "tag rel-{i:04}\nfrom {c1}\ntagger Dev <dev@example.com> 1700000000 +0000\ndata 2\nr\n"
        ));
    }
    smart_http_support::git_in(&bare, &["fast-import", "--quiet"], Some(&import));
    smart_http_support::git(&bare, &["pack-refs", "--all"]);
    let mut packed = std::fs::read_to_string(bare.join("packed-refs")).unwrap();
    let mut lines: Vec<String> = (0..10_000)
        .map(|i| {
            format!(
                "{c1} refs/tags/v{}.{}.{}\n",
                i / 1000,
                (i / 10) % 100,
                i % 10
            )
        })
        .collect();
    lines.sort();
    packed.push_str(&lines.concat());
    // packed-refs must stay sorted: the lightweight `v*` names sort after `rel-*`.
    std::fs::write(bare.join("packed-refs"), packed).unwrap();

    let v2_server = GitHttp::start(&repos.root, v2(), None);
    let v0_server = GitHttp::start(&repos.root, Behaviour::default(), None);
    let ad = lister().list(&v2_server.url("big.git")).unwrap();
    assert_eq!(ad.tags.len(), 10_500);
    assert_eq!(ad.tags.iter().filter(|t| t.peeled.is_some()).count(), 500);
    assert_agrees(&ad, &v2_server.url("big.git"));
    let ad0 = lister().list(&v0_server.url("big.git")).unwrap();
    assert_eq!((ad0.tags, ad0.head), (ad.tags, ad.head));

    // The same list with a 64 KiB cap fails while streaming, with a clear error.
    let capped = RefLister::new(
        client(),
        ListOptions {
            max_response_bytes: 64 * 1024,
            ..ListOptions::default()
        },
    );
    for server in [&v2_server, &v0_server] {
        let err = capped.list(&server.url("big.git")).unwrap_err();
        assert!(
            matches!(err, ListError::TooLarge { limit: 65536, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("larger than 65536 bytes"), "{err}");
    }
}

#[test]
fn an_empty_repository_and_another_default_branch() {
    let repos = Repos::new();
    smart_http_support::git(&repos.root, &["init", "-q", "--bare", "empty.git"]);
    repos.commit("a.txt", "1\n");
    repos.git(&["tag", "v1"]);
    repos.git(&["branch", "-m", "main", "trunk"]);
    let bare = repos.publish("trunk.git");
    smart_http_support::git(&bare, &["symbolic-ref", "HEAD", "refs/heads/trunk"]);
    for server in [
        GitHttp::start(&repos.root, v2(), None),
        GitHttp::start(&repos.root, Behaviour::default(), None),
    ] {
        let empty = lister().list(&server.url("empty.git")).unwrap();
        assert!(empty.tags.is_empty() && empty.head.is_none(), "{empty:?}");
        let (tags, head) = libgit2_view(&server.url("empty.git"));
        assert!(tags.is_empty() && head.is_none());

        let ad = lister().list(&server.url("trunk.git")).unwrap();
        assert_eq!(ad.default_branch().unwrap().0, "trunk");
        assert_agrees(&ad, &server.url("trunk.git"));
    }
}

#[test]
fn redirects_on_the_initial_request_are_followed_and_the_rest_go_to_the_new_base() {
    let repos = Repos::new();
    every_kind_of_tag(&repos);
    repos.publish("r.git");
    for v2_server in [true, false] {
        let behaviour = || Behaviour {
            v2: v2_server,
            ..Behaviour::default()
        };
        // A second server the first one sends clients to (another origin: allowed on the
        // initial request, as git's http.followRedirects = initial and libgit2 allow).
        let target = GitHttp::start(&repos.root, behaviour(), None);
        let mut b = behaviour();
        b.redirects = vec![
            ("/old/r.git/".into(), "/r.git/".into(), 301),
            ("/moved/r.git/".into(), target.url("r.git/"), 302),
            ("/temp/r.git/".into(), "/r.git/".into(), 307),
        ];
        let server = GitHttp::start(&repos.root, b, None);
        let reference = lister().list(&target.url("r.git")).unwrap();

        // The client follows (reqwest's default policy), or leaves it to the lister (none).
        let manual = client_with(false, false);
        for lister in [lister(), RefLister::new(manual, ListOptions::default())] {
            for path in ["old/r.git", "moved/r.git", "temp/r.git"] {
                server.clear_log();
                target.clear_log();
                let ad = lister.list(&server.url(path)).unwrap();
                assert_eq!(ad.tags, reference.tags, "{path}");
                assert_eq!(ad.head, reference.head, "{path}");
                let answered: Vec<(String, String)> = server
                    .log()
                    .into_iter()
                    .chain(target.log())
                    .filter(|l| l.status == 200)
                    .map(|l| (l.method, l.target))
                    .collect();
                // The advertisement came from the new base, and v2's ls-refs POST went there
                // too, not to the old URL (gitprotocol-http(5): the redirected URL is the base
                // for the rest of the exchange).
                let mut expected = vec![(
                    "GET".to_string(),
                    "/r.git/info/refs?service=git-upload-pack".to_string(),
                )];
                if v2_server {
                    expected.push(("POST".into(), "/r.git/git-upload-pack".into()));
                }
                assert_eq!(answered, expected, "{path}, v2 server: {v2_server}");
            }
        }
        // libgit2 follows them too and sees the same.
        assert_agrees(&reference, &server.url("old/r.git"));
    }
}

#[test]
fn redirects_git_would_refuse_are_refused() {
    let repos = Repos::new();
    repos.commit("a.txt", "1\n");
    repos.publish("r.git");
    let mut b = v2();
    b.redirects = vec![
        // Away from the repository: the URL base cannot be rebuilt (git's update_url_from_redirect).
        ("/login/r.git/".into(), "/sign-in?next=".into(), 302),
        // A loop.
        ("/loop/".into(), "/loop/".into(), 302),
    ];
    let post_redirect: smart_http_support::Hook = Arc::new(|req| {
        (req.method == "POST" && req.path() == "/r.git/git-upload-pack").then(|| {
            Response::new(307, "text/plain", "")
                .with_header("Location", "/elsewhere/git-upload-pack")
        })
    });
    let server = GitHttp::start(&repos.root, b, None);
    let mut pb = v2();
    pb.hook = Some(post_redirect);
    let post_server = GitHttp::start(&repos.root, pb, None);
    let lister = lister();

    let err = lister.list(&server.url("login/r.git")).unwrap_err();
    assert!(
        matches!(&err, ListError::Redirect { reason, .. } if reason.contains("does not end in")),
        "{err}"
    );
    let manual = RefLister::new(client_with(false, false), ListOptions::default());
    for lister in [&lister, &manual] {
        let err = lister.list(&server.url("loop/r.git")).unwrap_err();
        assert!(
            matches!(&err, ListError::Redirect { reason, .. } if reason.contains("redirects")),
            "{err}"
        );
        let err = lister.list(&post_server.url("r.git")).unwrap_err();
        assert!(
            matches!(&err, ListError::Redirect { reason, .. } if reason.contains("initial request")),
            "{err}"
        );
    }
}

#[test]
fn https_downgrades_are_refused() {
    let repos = Repos::new();
    repos.commit("a.txt", "1\n");
    repos.publish("r.git");
    let plain = GitHttp::start(&repos.root, v2(), None);
    let mut b = v2();
    b.redirects = vec![("/r.git/".into(), plain.url("r.git/"), 301)];
    let tls = GitHttp::start(&repos.root, b, Some(pki().server_config(&["http/1.1"])));
    let manual = client_with(false, true);
    let err = RefLister::new(manual, ListOptions::default())
        .list(&tls.url("r.git"))
        .unwrap_err();
    assert!(
        matches!(&err, ListError::Redirect { reason, .. } if reason.contains("from https to http")),
        "{err}"
    );
    // Nothing was sent over plain HTTP.
    assert!(plain.log().is_empty());
}

#[test]
fn an_auth_challenge_is_answered_with_the_urls_credentials_and_never_shown() {
    let repos = Repos::new();
    every_kind_of_tag(&repos);
    repos.publish("r.git");
    repos.publish("s.git");
    for v2_server in [true, false] {
        let server = GitHttp::start(
            &repos.root,
            Behaviour {
                v2: v2_server,
                basic_auth: Some(("bot".into(), "s3cr3t-t0ken".into())),
                ..Behaviour::default()
            },
            None,
        );
        let shared = lister();

        // No credentials: a clear error, nothing to leak.
        let err = shared.list(&server.url("r.git")).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, ListError::AuthRequired { .. }), "{text}");
        assert!(
            text.contains("HTTP 401") && text.contains("Basic") && text.contains("no credentials"),
            "{text}"
        );
        // Wrong credentials: refused, and the message never shows them.
        let err = shared
            .list(&server.url_with("bot:wrong-pass", "r.git"))
            .unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(matches!(err, ListError::AuthRejected { .. }), "{text}");
        assert!(!text.contains("wrong-pass"), "{text}");
        // Credentials are removed from a shown URL wholesale (user name too).
        assert!(!text.contains("bot:") && !text.contains("bot@"), "{text}");

        // Right credentials: 401 first, then the same request with them, as libgit2 does.
        let fresh = lister();
        server.clear_log();
        let url = server.url_with("bot:s3cr3t-t0ken", "r.git");
        let ad = fresh.list(&url).unwrap();
        let log = server.log();
        assert_eq!(log[0].status, 401);
        assert!(log[0].authorization.is_none());
        assert!(
            log[1..]
                .iter()
                .all(|l| l.authorization.is_some() && l.status == 200),
            "{log:?}"
        );
        assert_agrees(&ad, &url);
        // A second upstream on the same host gets them at once: no second challenge.
        server.clear_log();
        fresh
            .list(&server.url_with("bot:s3cr3t-t0ken", "s.git"))
            .unwrap();
        assert!(
            server.log().iter().all(|l| l.status == 200),
            "{:?}",
            server.log()
        );
    }
}

#[test]
fn credentials_are_not_sent_to_another_host_a_redirect_names() {
    let repos = Repos::new();
    repos.commit("a.txt", "1\n");
    repos.publish("r.git");
    let other = GitHttp::start(
        &repos.root,
        Behaviour {
            v2: true,
            basic_auth: Some(("bot".into(), "pw".into())),
            ..Behaviour::default()
        },
        None,
    );
    let mut b = v2();
    b.redirects = vec![("/r.git/".into(), other.url("r.git/"), 302)];
    let server = GitHttp::start(&repos.root, b, None);
    let err = lister()
        .list(&server.url_with("bot:pw", "r.git"))
        .unwrap_err();
    assert!(
        matches!(&err, ListError::AuthRequired { hint, .. } if hint.contains("only sent there")),
        "{err}"
    );
    assert!(other.log().iter().all(|l| l.authorization.is_none()));
}

#[test]
fn connections_the_server_closes_after_each_answer_are_replaced() {
    let repos = upstreams_with_every_kind_of_tag(8);
    for v2_server in [true, false] {
        let server = GitHttp::start(
            &repos.root,
            Behaviour {
                v2: v2_server,
                close_after_response: true,
                ..Behaviour::default()
            },
            None,
        );
        let lister = lister();
        let first = lister.list(&server.url("r0.git")).unwrap();
        for i in 0..8 {
            let ad = lister.list(&server.url(&format!("r{i}.git"))).unwrap();
            assert_eq!(ad, first);
        }
        // Every request had a connection of its own: the server really closed them.
        let log = server.log();
        let conns: std::collections::HashSet<u64> = log.iter().map(|l| l.conn).collect();
        assert_eq!(conns.len(), log.len());
        // libgit2 itself fails against this server when it fetches (it reuses the closed
        // connection for its POST), so it is compared through a server that keeps them open.
        let steady = GitHttp::start(&repos.root, Behaviour::default(), None);
        assert_agrees(&first, &steady.url("r0.git"));
    }
}

#[test]
fn a_request_on_a_kept_alive_connection_the_server_dropped_is_sent_again() {
    let repos = upstreams_with_every_kind_of_tag(4);
    let steady = GitHttp::start(&repos.root, v2(), None);
    for v2_server in [true, false] {
        let server = GitHttp::start(
            &repos.root,
            Behaviour {
                v2: v2_server,
                drop_second_request: true,
                ..Behaviour::default()
            },
            None,
        );
        let lister = lister();
        for i in 0..4 {
            let url = server.url(&format!("r{i}.git"));
            let ad = lister.list(&url).unwrap();
            assert_agrees(&ad, &steady.url(&format!("r{i}.git")));
        }
        // Requests were dropped (the second on each connection), and each was sent once more,
        // on a new connection, and answered there.
        let log = server.log();
        let dropped: Vec<usize> = (0..log.len()).filter(|&i| log[i].status == 0).collect();
        assert!(!dropped.is_empty(), "{log:?}");
        for i in dropped {
            let again = &log[i + 1];
            assert_eq!(
                (&again.method, &again.target, again.status),
                (&log[i].method, &log[i].target, 200),
                "{log:?}"
            );
            assert_ne!(again.conn, log[i].conn);
        }
        // What the lister recovers from: a client that does not send again gets an error (the
        // HTTP client does not retry a request it has written).
        let raw = client();
        let info_refs = format!("{}/info/refs?service=git-upload-pack", server.url("r0.git"));
        raw.get(&info_refs).send().unwrap().bytes().unwrap();
        assert!(raw.get(&info_refs).send().is_err(), "{:?}", server.log());
    }
}

#[test]
fn kept_alive_connections_are_reused_across_upstreams() {
    let repos = upstreams_with_every_kind_of_tag(10);
    let server = GitHttp::start(&repos.root, v2(), None);
    let lister = lister();
    for i in 0..10 {
        lister.list(&server.url(&format!("r{i}.git"))).unwrap();
    }
    let log = server.log();
    assert_eq!(log.len(), 20);
    let conns: std::collections::HashSet<u64> = log.iter().map(|l| l.conn).collect();
    assert_eq!(conns.len(), 1, "one connection for 20 sequential requests");
}

#[test]
fn a_dumb_server_or_a_page_that_is_not_git_is_a_clear_error() {
    let repos = Repos::new();
    repos.commit("a.txt", "1\n");
    repos.git(&["tag", "v1"]);
    let bare = repos.publish("r.git");
    smart_http_support::git(&bare, &["update-server-info"]);
    let dumb = GitHttp::start(
        &repos.root,
        Behaviour {
            dumb: true,
            ..Behaviour::default()
        },
        None,
    );
    let err = lister().list(&dumb.url("r.git")).unwrap_err();
    assert!(
        matches!(&err, ListError::NotSmart { detail, .. } if detail.contains("dumb HTTP server")),
        "{err}"
    );
    let page: smart_http_support::Hook = Arc::new(|_| {
        Some(Response::new(
            200,
            "text/html; charset=utf-8",
            "<html><body>Sign in to continue</body></html>",
        ))
    });
    let login = GitHttp::start(
        &repos.root,
        Behaviour {
            hook: Some(page),
            ..Behaviour::default()
        },
        None,
    );
    let err = lister().list(&login.url("r.git")).unwrap_err();
    assert!(
        matches!(&err, ListError::NotSmart { detail, .. } if detail.contains("sign-in")),
        "{err}"
    );
}

#[test]
fn error_statuses_and_broken_answers_are_reported_clearly() {
    let repos = Repos::new();
    repos.commit("a.txt", "1\n");
    repos.publish("r.git");
    let server = GitHttp::start(&repos.root, v2(), None);
    let err = lister().list(&server.url("missing.git")).unwrap_err();
    assert!(
        matches!(err, ListError::NotFound { status: 404, .. }),
        "{err}"
    );

    let smart = "application/x-git-upload-pack-advertisement";
    let cases: Vec<(Response, &str)> = vec![
        (
            Response::new(403, "text/plain", "Repository access suspended\n"),
            "access forbidden (HTTP 403); remote: Repository access suspended",
        ),
        (
            Response::new(429, "text/plain", "slow down").with_header("Retry-After", "30"),
            "rate limited (HTTP 429, retry after 30s); remote: slow down",
        ),
        (
            Response::new(502, "text/html", "<h1>bad gateway</h1>"),
            "unexpected HTTP status 502",
        ),
        (
            Response::new(200, smart, "0019ERR access denied: no\n"),
            "the server reported an error: access denied: no",
        ),
        (
            Response::new(200, smart, "hello world"),
            "invalid smart-HTTP answer",
        ),
        (
            Response::new(200, smart, "001e# service=git-upload-pack\n0000003f1111"),
            "invalid smart-HTTP answer",
        ),
        (
            Response::new(200, smart, "000eversion 2\n0015agent=git/2.47.0\n0000"),
            "does not offer ls-refs",
        ),
    ];
    for (resp, says) in cases {
        let hook_resp = resp.clone();
        let hook: smart_http_support::Hook = Arc::new(move |_| Some(hook_resp.clone()));
        let s = GitHttp::start(
            &repos.root,
            Behaviour {
                hook: Some(hook),
                ..Behaviour::default()
            },
            None,
        );
        let err = lister().list(&s.url_with("u:pw-9f3", "r.git")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(says), "{}: {text}", resp.status);
        assert!(!text.contains("pw-9f3"), "{text}");
    }
}

#[test]
fn https_with_a_test_ca_agrees_with_libgit2_over_https() {
    let repos = Repos::new();
    every_kind_of_tag(&repos);
    repos.publish("r.git");
    let server = GitHttp::start(&repos.root, v2(), Some(pki().server_config(&["http/1.1"])));
    let with_ca = client_with(true, true);
    let ad = RefLister::new(with_ca, ListOptions::default())
        .list(&server.url("r.git"))
        .unwrap();
    assert_eq!(ad.protocol, Protocol::V2);
    trust_test_ca_in_libgit2();
    assert_agrees(&ad, &server.url("r.git"));

    // A client without the CA refuses the server's certificate.
    let err = lister().list(&server.url("r.git")).unwrap_err();
    assert!(matches!(err, ListError::Network { .. }), "{err}");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
}

#[test]
fn http2_carries_many_upstreams_over_one_connection() {
    let repos = Repos::new();
    every_kind_of_tag(&repos);
    for i in 0..24 {
        repos.publish(&format!("r{i:02}.git"));
    }
    let server = GitHttp::start_h2(&repos.root, v2(), pki().server_config(&["h2", "http/1.1"]));
    let with_ca = client_with(true, true);
    let lister = Arc::new(RefLister::new(with_ca, ListOptions::default()));
    // Warm up one connection, then 24 listings from 8 threads at once.
    let first = lister.list(&server.url("r00.git")).unwrap();
    let ads: Vec<Advertisement> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let lister = lister.clone();
                let server = &server;
                s.spawn(move || {
                    (0..3)
                        .map(|k| {
                            lister
                                .list(&server.url(&format!("r{:02}.git", t * 3 + k)))
                                .unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(ads.len(), 24);
    assert!(ads.iter().all(|a| *a == first));
    let log = server.log();
    assert!(log.iter().all(|l| l.version == "HTTP/2.0"), "{log:?}");
    let conns: std::collections::HashSet<u64> = log.iter().map(|l| l.conn).collect();
    assert_eq!(
        conns.len(),
        1,
        "all 50 requests multiplexed on one connection"
    );
    trust_test_ca_in_libgit2();
    assert_agrees(&first, &server.url("r00.git"));
}

/// libgit2 (OpenSSL) trusts the test CA from here on; process-wide, set once.
fn trust_test_ca_in_libgit2() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: libgit2's global options are set before this process's first HTTPS request
        // through libgit2 (only the tests above make one, after this call), and never again.
        unsafe { git2::opts::set_ssl_cert_file(pki().ca_file()) }.unwrap();
    });
}
