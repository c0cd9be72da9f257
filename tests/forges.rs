//! The GitHub and Azure DevOps forges against stateful fakes on loopback: the same scenarios,
//! written once over [`FakeForge`], run for both.

mod forge_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use forge_support::azure::FakeAzure;
use forge_support::github::FakeGithub;
use forge_support::{
    BOT_EMAIL, BOT_NAME, FakeForge, FakePrState, Fault, PIN_CONTENT, PIN_PATH, TOKEN,
};
use upkeep::forge::{Access, CommitWrite, Forge as _, ForgeError, Identity, PrRequest, PrState};
use upkeep::http::{EtagCache, HttpClient, HttpMetrics, Request};

const BRANCH: &str = "upkeep/demo-server";

fn bot() -> Identity {
    Identity {
        name: BOT_NAME.into(),
        email: BOT_EMAIL.into(),
    }
}

fn write(base_commit: &str, content: &str, expected_head: Option<&str>) -> CommitWrite {
    CommitWrite {
        branch: BRANCH.into(),
        base_commit: base_commit.into(),
        path: PIN_PATH.into(),
        content: content.as_bytes().to_vec(),
        message: format!("Rebuild: pin {}", content.trim()),
        author: bot(),
        expected_head: expected_head.map(String::from),
    }
}

fn pr_request<F: FakeForge>(draft: bool, labels: &[&str]) -> PrRequest {
    PrRequest {
        branch: BRANCH.into(),
        base: "main".into(),
        title: "Rebuild demo-server v1.1.0".into(),
        body: "Upstream released v1.1.0.".into(),
        labels: labels.iter().map(|l| l.to_string()).collect(),
        reviewers: vec!["alice".into()],
        draft,
    }
}

/// Every request carried exactly the expected Authorization header.
fn assert_auth_on_every_request<F: FakeForge>(fake: &F) {
    let requests = fake.core().requests();
    assert!(!requests.is_empty());
    for r in &requests {
        assert!(
            r.auth_present && r.auth_correct,
            "{} {} had a wrong or missing Authorization",
            r.method,
            r.path
        );
        assert!(
            !r.headers.iter().any(|(_, v)| v.contains(TOKEN)),
            "token leaked in another header of {}",
            r.path
        );
        assert!(
            r.headers
                .iter()
                .any(|(k, v)| k == "user-agent" && v.starts_with("upkeep/"))
        );
    }
}

/// A fresh fake with the bot branch: one commit on base.
fn with_bot_branch<F: FakeForge>() -> (F, Box<dyn upkeep::forge::Forge>) {
    let fake = F::start();
    let forge = fake.forge();
    let base = forge.read_base_file("main", PIN_PATH).unwrap();
    forge
        .write_branch(&write(&base.base_commit, "upstream = \"v1.1.0\"\n", None))
        .unwrap();
    (fake, forge)
}

/// Creates the bot branch with one commit and opens a draft PR; returns (fake, forge, PR id).
fn with_open_pr<F: FakeForge>() -> (F, Box<dyn upkeep::forge::Forge>, String) {
    let (fake, forge) = with_bot_branch::<F>();
    let pr = forge
        .open_pr(&pr_request::<F>(true, &["upkeep", "rebuild"]))
        .unwrap();
    (fake, forge, pr.id)
}

fn read_base_file<F: FakeForge>() {
    let fake = F::start();
    let forge = fake.forge();
    assert_eq!(forge.kind(), F::KIND);
    assert!(!forge.location().contains(TOKEN));
    let base = forge.read_base_file("main", PIN_PATH).unwrap();
    assert_eq!(base.content, PIN_CONTENT.as_bytes());
    assert_eq!(Some(base.base_commit), fake.core().head("main"));
    assert!(matches!(
        forge.read_base_file("main", "missing.toml"),
        Err(ForgeError::NotFound(_))
    ));
    assert!(matches!(
        forge.read_base_file("no-such-branch", PIN_PATH),
        Err(ForgeError::NotFound(_))
    ));
    assert_auth_on_every_request(&fake);
}

fn write_branch_new_then_move_then_stale<F: FakeForge>() {
    let fake = F::start();
    let core = fake.core();
    let forge = fake.forge();
    let base = forge.read_base_file("main", PIN_PATH).unwrap().base_commit;
    assert_eq!(forge.branch_state(BRANCH).unwrap(), None);

    let first = forge
        .write_branch(&write(&base, "upstream = \"v1.1.0\"\n", None))
        .unwrap();
    assert_eq!(core.head(BRANCH).as_deref(), Some(first.as_str()));
    assert_eq!(core.parents(&first), vec![base.clone()]);
    assert_eq!(
        core.file_at(&first, PIN_PATH).unwrap(),
        b"upstream = \"v1.1.0\"\n"
    );
    assert_eq!(
        core.file_at(&first, "README.md").unwrap(),
        b"mirror\n",
        "other files are kept"
    );
    assert_eq!(core.author_email(&first).as_deref(), Some(BOT_EMAIL));
    let state = forge.branch_state(BRANCH).unwrap().unwrap();
    assert_eq!(state.head, first);
    assert_eq!(state.parents, vec![base.clone()]);
    assert_eq!(state.author_email.as_deref(), Some(BOT_EMAIL));

    // The branch exists now: writing as if it were new is refused.
    let again = forge.write_branch(&write(&base, "upstream = \"v1.1.0\"\n", None));
    assert!(matches!(again, Err(ForgeError::Conflict(_))), "{again:?}");

    let second = forge
        .write_branch(&write(&base, "upstream = \"v1.2.0\"\n", Some(&first)))
        .unwrap();
    assert_ne!(second, first);
    assert_eq!(core.head(BRANCH).as_deref(), Some(second.as_str()));
    assert_eq!(
        core.parents(&second),
        vec![base.clone()],
        "one commit on top of base, not on the old head"
    );
    assert_eq!(
        core.file_at(&second, PIN_PATH).unwrap(),
        b"upstream = \"v1.2.0\"\n"
    );

    let stale = forge.write_branch(&write(&base, "upstream = \"v1.3.0\"\n", Some(&first)));
    assert!(matches!(stale, Err(ForgeError::Conflict(_))), "{stale:?}");
    assert_eq!(
        core.head(BRANCH).as_deref(),
        Some(second.as_str()),
        "a refused write moves nothing"
    );

    // A human pushes to the bot branch: the head moves on, with their commit on top.
    let human = core.push_commit(BRANCH, "NOTES.md", b"hand edit\n", "dev@example.com");
    let state = forge.branch_state(BRANCH).unwrap().unwrap();
    assert_eq!(state.head, human);
    assert_eq!(state.parents, vec![second.clone()]);
    assert_eq!(state.author_email.as_deref(), Some("dev@example.com"));
    assert_auth_on_every_request(&fake);
}

/// The commits on the bot branch that base lacks, after base moved on: only the branch's own
/// (Azure DevOps' commitsbatch read as documented; GitHub's compare), never base's new ones.
fn commits_beside_lists_the_branch_not_the_moved_base<F: FakeForge>() {
    let fake = F::start();
    let core = fake.core();
    let forge = fake.forge();
    let base = forge.read_base_file("main", PIN_PATH).unwrap().base_commit;
    let ours = forge
        .write_branch(&write(&base, "upstream = \"v1.1.0\"\n", None))
        .unwrap();
    let moved = core.push_commit("main", "OTHER.md", b"base moved\n", "dev@example.com");
    let listed = forge.commits_beside(BRANCH, "main", 10).unwrap();
    assert_eq!(
        listed.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        vec![ours.as_str()],
        "base's new commit {moved} is not on the branch's side"
    );
    assert_eq!(listed[0].subject, "Rebuild: pin upstream = \"v1.1.0\"");
    let human = core.push_commit(BRANCH, "NOTES.md", b"hand edit\n", "dev@example.com");
    let listed = forge.commits_beside(BRANCH, "main", 10).unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].id, human, "newest first");
    assert_eq!(listed[0].author, "Someone");
    assert_eq!(forge.commits_beside(BRANCH, "main", 1).unwrap().len(), 1);
}

fn open_draft_pr_with_labels_and_reviewers<F: FakeForge>() {
    let (fake, forge, id) = with_open_pr::<F>();
    let stored = fake.core().pr(id.parse().unwrap());
    assert!(stored.draft);
    assert_eq!(stored.labels, vec!["upkeep", "rebuild"]);
    assert_eq!(stored.reviewers, vec![F::reviewer("alice")]);
    assert_eq!(stored.head, BRANCH);
    assert_eq!(stored.base, "main");
    assert_eq!(stored.body, "Upstream released v1.1.0.");

    let info = forge.find_pr(BRANCH, Some(&id)).unwrap().unwrap();
    assert_eq!(info.state, PrState::Open);
    assert!(info.draft);
    assert_eq!(info.labels, vec!["upkeep", "rebuild"]);
    assert_eq!(info.title, "Rebuild demo-server v1.1.0");
    assert!(info.url.contains(&id), "{}", info.url);

    let duplicate = forge.open_pr(&pr_request::<F>(true, &[]));
    assert!(
        matches!(duplicate, Err(ForgeError::Conflict(_))),
        "{duplicate:?}"
    );
}

fn a_bad_reviewer_does_not_block_the_pr<F: FakeForge>() {
    let (fake, forge) = with_bot_branch::<F>();
    let mut request = pr_request::<F>(false, &["upkeep"]);
    request.reviewers = vec!["not-a-collaborator".into()];
    let pr = forge.open_pr(&request).unwrap();
    let stored = fake.core().pr(pr.id.parse().unwrap());
    assert!(stored.reviewers.is_empty());
    assert_eq!(stored.labels, vec!["upkeep"]);
}

/// Azure DevOps: reviewers are resolved to identity ids; one that resolves to nobody (or to
/// several people) is left out and said, and the PR is opened with the others.
#[test]
fn azure_reviewers_are_resolved_and_the_unresolvable_are_warned_about() {
    let (fake, forge) = with_bot_branch::<FakeAzure>();
    let mut request = pr_request::<FakeAzure>(false, &[]);
    request.reviewers = vec!["alice".into(), "nobody@example.com".into(), "sam".into()];
    let pr = forge.open_pr(&request).unwrap();
    let stored = fake.core.pr(pr.id.parse().unwrap());
    assert_eq!(stored.reviewers, vec![forge_support::azure::ALICE_ID]);
    assert_eq!(pr.warnings.len(), 2, "{:?}", pr.warnings);
    assert!(
        pr.warnings[0].contains("nobody@example.com")
            && pr.warnings[0].contains("no Azure DevOps identity")
    );
    assert!(
        pr.warnings[1].contains("`sam`") && pr.warnings[1].contains("2 Azure DevOps identities")
    );
    let create = fake
        .core
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/pullrequests"))
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(&create.body).unwrap();
    assert_eq!(
        body["reviewers"],
        serde_json::json!([{ "id": forge_support::azure::ALICE_ID }])
    );

    // Resolved once per process: a second PR asks the Identities API nothing about alice.
    fake.core.clear_requests();
    forge
        .update_pr(&pr.id, &pr_request::<FakeAzure>(false, &[]))
        .unwrap();
    let mut other = pr_request::<FakeAzure>(false, &[]);
    other.branch = "main".into();
    other.base = BRANCH.into();
    forge.open_pr(&other).unwrap();
    assert!(
        !fake
            .core
            .requests()
            .iter()
            .any(|r| r.path.ends_with("/_apis/identities") && r.query.contains("alice")),
        "{:?}",
        fake.core.requests()
    );
}

/// Azure DevOps: a label whose tag definition the PAT may not create is refused with TF401289;
/// the PR is open anyway, and the refusal names the permission to grant.
#[test]
fn azure_label_refused_for_lack_of_permission_names_the_permission() {
    let (fake, forge) = with_bot_branch::<FakeAzure>();
    fake.core.lock().tags.insert("upkeep".into());
    fake.core.lock().tag_create_denied = true;
    let pr = forge
        .open_pr(&pr_request::<FakeAzure>(
            true,
            &["upkeep", "license-review-required"],
        ))
        .unwrap();
    assert_eq!(pr.labels, vec!["upkeep"], "the existing tag was added");
    assert_eq!(pr.warnings.len(), 1, "{:?}", pr.warnings);
    assert!(pr.warnings[0].contains("TF401289"), "{}", pr.warnings[0]);
    assert!(
        pr.warnings[0].contains("Create tag definition"),
        "{}",
        pr.warnings[0]
    );
    assert_eq!(fake.core.pr(pr.id.parse().unwrap()).labels, vec!["upkeep"]);
    // The labels are read back with the list API, not from the update's answer.
    let found = forge.find_pr(BRANCH, Some(&pr.id)).unwrap().unwrap();
    assert_eq!(found.labels, vec!["upkeep"]);
}

/// Azure DevOps: TF401179 (the PR exists) is a Conflict the pipeline adopts; any other 409 is
/// reported in the service's words, not taken for "already exists".
#[test]
fn azure_create_refusals_are_classified_by_their_body() {
    let (fake, forge, _) = with_open_pr::<FakeAzure>();
    let err = forge
        .open_pr(&pr_request::<FakeAzure>(true, &[]))
        .unwrap_err();
    assert!(matches!(err, ForgeError::Conflict(_)), "{err:?}");
    assert!(err.to_string().contains("TF401179"), "{err}");
    fake.core.fail(Fault {
        status: 409,
        headers: vec![],
        body: r#"{"message":"TF400898: An internal error occurred. Activity Id: 1."}"#.into(),
        times: 1,
        path_contains: Some("/pullrequests".into()),
    });
    let mut other = pr_request::<FakeAzure>(true, &[]);
    other.branch = "main".into();
    other.base = BRANCH.into();
    let err = forge.open_pr(&other).unwrap_err();
    assert!(matches!(err, ForgeError::Other(_)), "{err:?}");
    assert!(err.to_string().contains("TF400898"), "{err}");
}

/// Azure DevOps counts the description limit in UTF-16 code units: 2,001 characters with
/// emoji are over it, and refused before anything is sent.
#[test]
fn azure_description_limit_counts_utf16_units() {
    let (fake, forge, id) = with_open_pr::<FakeAzure>();
    let mut request = pr_request::<FakeAzure>(true, &[]);
    request.body = format!("a{}", "🦀".repeat(2_000));
    fake.core.clear_requests();
    let err = forge.update_pr(&id, &request).unwrap_err();
    assert!(err.to_string().contains("4001 UTF-16"), "{err}");
    assert!(fake.core.requests().is_empty(), "nothing was sent");
    request.body = "🦀".repeat(2_000);
    forge.update_pr(&id, &request).unwrap();
    assert_eq!(
        fake.core
            .pr(id.parse().unwrap())
            .body
            .encode_utf16()
            .count(),
        4_000
    );
}

fn find_pr_by_branch_and_id<F: FakeForge>() {
    let (_fake, forge, id) = with_open_pr::<F>();
    let by_branch = forge.find_pr(BRANCH, None).unwrap().unwrap();
    assert_eq!(by_branch.id, id);
    assert_eq!(by_branch.head_branch, BRANCH);
    assert_eq!(forge.find_pr(BRANCH, Some(&id)).unwrap().unwrap().id, id);
    assert!(forge.find_pr("upkeep/other", None).unwrap().is_none());
    assert!(forge.find_pr(BRANCH, Some("9999")).unwrap().is_none());
}

fn update_pr_title_body_ready_and_labels<F: FakeForge>() {
    let (fake, forge, id) = with_open_pr::<F>();
    let mut request = pr_request::<F>(false, &["upkeep", "license-review"]);
    request.title = "Rebuild demo-server v1.2.0".into();
    request.body = "Upstream released v1.2.0.".into();
    let info = forge.update_pr(&id, &request).unwrap();
    assert_eq!(info.title, "Rebuild demo-server v1.2.0");
    assert!(!info.draft);
    assert_eq!(info.labels, vec!["upkeep", "license-review"]);

    let stored = fake.core().pr(id.parse().unwrap());
    assert_eq!(stored.title, "Rebuild demo-server v1.2.0");
    assert_eq!(stored.body, "Upstream released v1.2.0.");
    assert!(!stored.draft, "draft -> ready for review");
    let mut labels = stored.labels.clone();
    labels.sort();
    assert_eq!(
        labels,
        vec!["license-review", "upkeep"],
        "rebuild removed, license-review added"
    );

    // And back to draft.
    forge
        .update_pr(&id, &pr_request::<F>(true, &["upkeep"]))
        .unwrap();
    let stored = fake.core().pr(id.parse().unwrap());
    assert!(stored.draft);
    assert_eq!(stored.labels, vec!["upkeep"]);
    let found = forge.find_pr(BRANCH, Some(&id)).unwrap().unwrap();
    assert!(found.draft);
    assert_eq!(found.labels, vec!["upkeep"]);
}

fn comment_on_pr<F: FakeForge>() {
    let (fake, forge, id) = with_open_pr::<F>();
    forge
        .comment_pr(&id, "The upstream license changed; CELA review requested.")
        .unwrap();
    assert_eq!(
        fake.core().pr(id.parse().unwrap()).texts(),
        vec!["The upstream license changed; CELA review requested."]
    );
    assert!(matches!(
        forge.comment_pr("9999", "x"),
        Err(ForgeError::NotFound(_))
    ));
}

fn closed_and_merged_states<F: FakeForge>() {
    let (fake, forge, id) = with_open_pr::<F>();
    fake.core()
        .set_pr_state(id.parse().unwrap(), FakePrState::Closed, "carol");
    let closed = forge.find_pr(BRANCH, Some(&id)).unwrap().unwrap();
    assert_eq!(closed.state, PrState::Closed);
    assert_eq!(closed.closed_by.as_deref(), Some("carol"));
    assert!(closed.closed_at.is_some());
    assert!(
        forge.find_pr(BRANCH, None).unwrap().is_none(),
        "only open PRs are found by branch"
    );

    fake.core()
        .set_pr_state(id.parse().unwrap(), FakePrState::Merged, "dave");
    let merged = forge.find_pr(BRANCH, Some(&id)).unwrap().unwrap();
    assert_eq!(merged.state, PrState::Merged);
    assert_eq!(merged.closed_by.as_deref(), Some("dave"));
}

/// `pr_state`: open, closed and merged (with the forge's time), and None for a PR the forge
/// does not have; what the quiet path asks of an open PR.
fn pr_state_open_closed_merged<F: FakeForge>() {
    let (fake, forge, id) = with_open_pr::<F>();
    let cache = EtagCache::new();
    let seen = forge.pr_state(&id, &cache).unwrap().unwrap();
    assert_eq!((seen.state, seen.closed_at), (PrState::Open, None));
    let number: u64 = id.parse().unwrap();
    fake.core()
        .set_pr_state(number, FakePrState::Closed, "carol");
    let seen = forge.pr_state(&id, &cache).unwrap().unwrap();
    assert_eq!(seen.state, PrState::Closed);
    assert_eq!(seen.closed_at.as_deref(), Some("2026-01-02T03:04:05Z"));
    fake.core()
        .set_pr_state(number, FakePrState::Merged, "dave");
    let seen = forge.pr_state(&id, &cache).unwrap().unwrap();
    assert_eq!(seen.state, PrState::Merged);
    assert_eq!(seen.closed_at.as_deref(), Some("2026-01-02T03:04:05Z"));
    assert_eq!(forge.pr_state("9999", &cache).unwrap(), None);
}

#[test]
fn github_pr_state_is_reread_conditionally() {
    let (fake, forge, id) = with_open_pr::<FakeGithub>();
    let cache = EtagCache::new();
    let first = forge.pr_state(&id, &cache).unwrap();
    fake.core().clear_requests();
    assert_eq!(
        forge.pr_state(&id, &cache).unwrap(),
        first,
        "the 304 replays it"
    );
    let requests = fake.core().requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(
        requests[0]
            .headers
            .iter()
            .any(|(k, _)| k == "if-none-match")
    );
    assert_eq!(requests[0].status, 304);
    // A change is a new answer, not the cached one.
    fake.core()
        .set_pr_state(id.parse().unwrap(), FakePrState::Merged, "dave");
    let seen = forge.pr_state(&id, &cache).unwrap().unwrap();
    assert_eq!(seen.state, PrState::Merged);
}

fn server_errors_are_retried<F: FakeForge>() {
    let fake = F::start();
    let forge = fake.forge();
    fake.core().fail_next(500, 2, &[]);
    let base = forge.read_base_file("main", PIN_PATH).unwrap();
    assert_eq!(base.content, PIN_CONTENT.as_bytes());
    let requests = fake.core().requests();
    assert_eq!(requests[0].path, requests[1].path);
    assert_eq!(
        requests[1].path, requests[2].path,
        "the same request was sent three times"
    );

    // More 500s than retries: the error keeps the status and the body.
    fake.core().fail_next(503, 10, &[]);
    let err = forge.read_base_file("main", PIN_PATH).unwrap_err();
    assert!(matches!(err, ForgeError::Other(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("503") && text.contains("injected 503"),
        "{text}"
    );
    assert!(text.contains("GET http://127.0.0.1"), "{text}");
}

fn rate_limit_waits_for_retry_after<F: FakeForge>() {
    let fake = F::start();
    let forge = fake.forge();
    fake.core().fail_next(429, 1, &[("retry-after", "1")]);
    let started = Instant::now();
    forge.read_base_file("main", PIN_PATH).unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        started.elapsed()
    );

    // A wait beyond the cap fails at once as RateLimited: one request, no retry, and far less
    // time than the hour it was asked to wait (the bound is a ceiling, not a speed).
    let impatient = fake.client(Some(TOKEN), Duration::ZERO);
    fake.core().clear_requests();
    fake.core().fail_next(429, 1, &[("retry-after", "3600")]);
    let started = Instant::now();
    let err = impatient.read_base_file("main", PIN_PATH).unwrap_err();
    assert!(matches!(err, ForgeError::RateLimited(_)), "{err:?}");
    assert_eq!(fake.core().requests().len(), 1, "not retried");
    assert!(started.elapsed() < Duration::from_secs(600));
}

fn unauthorized_keeps_the_body<F: FakeForge>() {
    let fake = F::start();
    let forge = fake.client(Some("wrong-token"), Duration::from_secs(5));
    let err = forge.read_base_file("main", PIN_PATH).unwrap_err();
    assert!(matches!(err, ForgeError::Unauthorized(_)), "{err:?}");
    assert!(err.to_string().contains("Bad credentials"), "{err}");
    assert!(
        fake.core()
            .requests()
            .iter()
            .all(|r| r.auth_present && !r.auth_correct)
    );

    let anonymous = fake.client(None, Duration::from_secs(5));
    assert!(matches!(
        anonymous.read_base_file("main", PIN_PATH),
        Err(ForgeError::Unauthorized(_))
    ));
    assert!(fake.core().requests().iter().any(|r| !r.auth_present));
}

fn body_over_the_limit_is_refused<F: FakeForge>() {
    let (fake, forge, id) = with_open_pr::<F>();
    fake.core().clear_requests();
    let mut request = pr_request::<F>(true, &[]);
    request.body = "x".repeat(F::BODY_LIMIT + 1);
    let err = forge.open_pr(&request).unwrap_err();
    assert!(
        err.to_string().contains(&F::BODY_LIMIT.to_string()),
        "{err}"
    );
    let err = forge.update_pr(&id, &request).unwrap_err();
    assert!(
        err.to_string().contains(&F::BODY_LIMIT.to_string()),
        "{err}"
    );
    assert!(fake.core().requests().is_empty(), "nothing was sent");
    request.body = "x".repeat(F::BODY_LIMIT);
    forge.update_pr(&id, &request).unwrap();
    assert_eq!(
        fake.core().pr(id.parse().unwrap()).body.len(),
        F::BODY_LIMIT
    );
}

fn check_access_and_unknown_repo<F: FakeForge>() {
    let fake = F::start();
    fake.forge().check_access("main").unwrap();
    assert!(matches!(
        fake.forge().check_access("nope"),
        Err(ForgeError::NotFound(_))
    ));
    assert!(matches!(
        fake.client_for_unknown_repo().check_access("main"),
        Err(ForgeError::NotFound(_))
    ));
    assert!(matches!(
        fake.client_for_unknown_repo()
            .read_base_file("main", PIN_PATH),
        Err(ForgeError::NotFound(_))
    ));
    fake.core().lock().push_allowed = false;
    let err = fake.forge().check_access("main").unwrap_err();
    assert!(matches!(err, ForgeError::Unauthorized(_)), "{err:?}");
}

/// A canary token never shows up in any error, even when a server echoes it back.
fn token_never_in_errors<F: FakeForge>() {
    let (fake, forge, id) = with_open_pr::<F>();
    let mut errors: Vec<ForgeError> = Vec::new();
    fake.core().fail(Fault {
        status: 401,
        headers: vec![],
        body: "{\"message\":\"Bad credentials: you sent {auth}\"}".into(),
        times: 1,
        path_contains: None,
    });
    errors.push(forge.find_pr(BRANCH, Some(&id)).unwrap_err());
    fake.core().fail(Fault {
        status: 500,
        headers: vec![],
        // Enough for every retry of the reads and every re-read of the writes below.
        body: "echo {auth}".into(),
        times: 100,
        path_contains: None,
    });
    errors.push(forge.comment_pr(&id, "hello").unwrap_err());
    errors.push(
        forge
            .write_branch(&write(
                "0".repeat(40).as_str(),
                "x",
                Some("1111111111111111111111111111111111111111"),
            ))
            .unwrap_err(),
    );
    errors.push(
        fake.client(Some(TOKEN), Duration::ZERO)
            .open_pr(&pr_request::<F>(true, &[]))
            .unwrap_err(),
    );
    fake.core().lock().faults.clear();
    errors.push(forge.open_pr(&pr_request::<F>(true, &[])).unwrap_err());
    errors.push(
        fake.client_for_unknown_repo()
            .read_base_file("main", PIN_PATH)
            .unwrap_err(),
    );
    let encoded = F::authorization(TOKEN);
    let encoded = encoded.split(' ').next_back().unwrap();
    assert!(
        errors.iter().any(|e| e.to_string().contains("<redacted>")),
        "the echo was scrubbed: {errors:?}"
    );
    for error in &errors {
        for text in [error.to_string(), format!("{error:?}")] {
            assert!(
                !text.contains(TOKEN) && !text.contains(encoded),
                "token leaked: {text}"
            );
        }
    }
}

/// A create whose answer is lost (the forge made the PR, the client got a 502) is confirmed by
/// a re-read, not sent again: exactly one PR. The same for a comment.
fn a_lost_answer_is_confirmed_not_resent<F: FakeForge>() {
    let fake = F::start();
    let forge = fake.forge();
    let base = forge.read_base_file("main", PIN_PATH).unwrap();
    forge
        .write_branch(&write(&base.base_commit, "upstream = \"v1.1.0\"\n", None))
        .unwrap();
    fake.core().clear_requests();
    let path = if F::KIND == "github" {
        "/pulls"
    } else {
        "/pullrequests"
    };
    fake.core().lose_answer("POST", path, 502, 1);
    let pr = forge.open_pr(&pr_request::<F>(false, &["upkeep"])).unwrap();
    assert_eq!(fake.core().lock().prs.len(), 1, "exactly one PR");
    let posts = |path: &str| {
        fake.core()
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with(path))
            .count()
    };
    assert_eq!(posts(path), 1, "the create was not sent again");
    assert_eq!(fake.core().pr(pr.id.parse().unwrap()).labels, ["upkeep"]);

    let comments = if F::KIND == "github" {
        "/comments"
    } else {
        "/threads"
    };
    fake.core().lose_answer("POST", comments, 502, 1);
    forge.comment_pr(&pr.id, "a note").unwrap();
    assert_eq!(fake.core().pr(pr.id.parse().unwrap()).texts(), ["a note"]);
    assert_eq!(posts(comments), 1, "the comment was not sent again");
}

/// A PR's comments with their authors as the forge names them, oldest first; reading again with
/// the cursor costs one request, and on GitHub an unchanged list is a 304 (or a `since` query
/// that returns only what changed). Closing a PR closes it, and closing it again is no error.
fn pr_comments_and_close<F: FakeForge>() {
    use upkeep::forge::CommentsRead;
    let (fake, forge, id) = with_open_pr::<F>();
    let n: u64 = id.parse().unwrap();
    fake.core()
        .add_comment(n, "ada", "/upkeep approve-license CELA-1");
    forge.comment_pr(&id, "a note from upkeep").unwrap();
    let CommentsRead::Read { comments, cursor } = forge.pr_comments(&id, None).unwrap() else {
        panic!("a first read reads");
    };
    let seen: Vec<(&str, &str)> = comments
        .iter()
        .map(|c| (c.author.as_str(), c.body.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("ada", "/upkeep approve-license CELA-1"),
            (forge_support::BOT_LOGIN, "a note from upkeep")
        ]
    );
    assert!(
        comments
            .iter()
            .all(|c| !c.created_at.is_empty() && !c.url.is_empty())
    );
    fake.core().clear_requests();
    let mut reads = 0;
    let mut cursor = cursor;
    // The cursor settles within two reads; then an unchanged list is one request each time.
    for _ in 0..3 {
        match forge.pr_comments(&id, cursor.as_deref()).unwrap() {
            CommentsRead::Unchanged => {}
            CommentsRead::Read { cursor: c, .. } => cursor = c,
        }
        reads += 1;
    }
    let requests = fake.core().requests();
    assert_eq!(requests.len(), reads, "one request per read");
    if F::KIND == "github" {
        assert!(
            matches!(
                forge.pr_comments(&id, cursor.as_deref()).unwrap(),
                CommentsRead::Unchanged
            ),
            "an unchanged list is a 304"
        );
        assert!(requests.iter().all(|r| r.query.contains("since=")));
        fake.core().add_comment(n, "bob", "later");
        let CommentsRead::Read { comments, .. } =
            forge.pr_comments(&id, cursor.as_deref()).unwrap()
        else {
            panic!("a new comment changes the list");
        };
        assert!(
            comments
                .iter()
                .any(|c| c.body == "later" && c.author == "bob")
        );
        assert!(comments.len() < 4, "only what changed since: {comments:?}");
    }
    forge.close_pr(&id).unwrap();
    assert_eq!(fake.core().pr(n).state, FakePrState::Closed);
    forge.close_pr(&id).unwrap();
}

/// The pipeline's checks on a PR's head: what passed, failed and runs, with links; nothing
/// when no pipeline reported (issue 17).
fn pr_checks_of_the_head<F: FakeForge>() {
    use forge_support::FakeCheck;
    use upkeep::forge::checks::ChecksState;
    let (fake, forge, id) = with_open_pr::<F>();
    let pr = forge.find_pr(BRANCH, Some(&id)).unwrap().unwrap();
    let head = fake.core().lock().refs[BRANCH].clone();
    let etags = EtagCache::new();
    let none = forge.pr_checks(&id, &pr.url, &head, &etags).unwrap();
    assert_eq!(none.state(), ChecksState::None, "{none:?}");
    let check = |name: &str, outcome, status| FakeCheck {
        name: name.into(),
        outcome,
        url: format!("https://ci.example/{name}"),
        status,
    };
    fake.core().lock().checks.insert(
        head.clone(),
        vec![
            check("build", "pass", false),
            check("scan", "pending", true),
        ],
    );
    let pending = forge.pr_checks(&id, &pr.url, &head, &etags).unwrap();
    assert_eq!(pending.state(), ChecksState::Pending, "{pending:?}");
    fake.core().lock().checks.insert(
        head.clone(),
        vec![check("build", "fail", false), check("scan", "pass", true)],
    );
    let failed = forge.pr_checks(&id, &pr.url, &head, &etags).unwrap();
    assert_eq!(failed.state(), ChecksState::Failure, "{failed:?}");
    let names: Vec<(&str, Option<&str>)> = failed
        .failed()
        .map(|c| (c.name.as_str(), c.url.as_deref()))
        .collect();
    assert_eq!(names.len(), 1, "{failed:?}");
    assert_eq!(names[0].0, "build");
    assert!(
        names[0].1.is_some(),
        "a failed check links to its run: {failed:?}"
    );
    assert!(failed.url.is_some(), "{failed:?}");
    assert_eq!(failed.head, head);
}

/// GitHub: an unchanged commit's checks are reread with `If-None-Match` and answered `304`.
#[test]
fn github_checks_are_reread_conditionally() {
    let (fake, forge, id) = with_open_pr::<FakeGithub>();
    let pr = forge.find_pr(BRANCH, Some(&id)).unwrap().unwrap();
    let head = fake.core().lock().refs[BRANCH].clone();
    fake.core().lock().checks.insert(
        head.clone(),
        vec![forge_support::FakeCheck {
            name: "build".into(),
            outcome: "fail",
            url: "https://ci.example/build".into(),
            status: false,
        }],
    );
    let etags = EtagCache::new();
    let first = forge.pr_checks(&id, &pr.url, &head, &etags).unwrap();
    fake.core().clear_requests();
    let again = forge.pr_checks(&id, &pr.url, &head, &etags).unwrap();
    assert_eq!(first, again, "the 304 replays the same answer");
    let requests = fake.core().requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    for r in &requests {
        assert!(
            r.headers.iter().any(|(k, _)| k == "if-none-match"),
            "{} {} was not conditional",
            r.method,
            r.path
        );
    }
}

/// A [`ConditionalCache`] that shows what it holds, for the tests of what is stored.
#[derive(Default)]
struct ShownCache(std::sync::Mutex<std::collections::BTreeMap<String, (String, Vec<u8>)>>);

impl upkeep::http::ConditionalCache for ShownCache {
    fn get(&self, url: &str) -> Option<(String, Vec<u8>)> {
        self.0.lock().unwrap().get(url).cloned()
    }
    fn put(&self, url: &str, etag: &str, body: &[u8]) {
        self.0
            .lock()
            .unwrap()
            .insert(url.to_string(), (etag.to_string(), body.to_vec()));
    }
}

impl ShownCache {
    fn entry(&self, ending: &str) -> Option<(String, String)> {
        let all = self.0.lock().unwrap();
        all.iter()
            .find(|(url, _)| url.contains(ending))
            .map(|(_, (etag, body))| (etag.clone(), String::from_utf8_lossy(body).into_owned()))
    }
}

/// A GitHub PR whose head has `checks`, read once through a fresh [`ShownCache`].
struct CheckedPr {
    fake: FakeGithub,
    forge: Box<dyn upkeep::forge::Forge>,
    id: String,
    url: String,
    head: String,
    cache: ShownCache,
    first: upkeep::forge::checks::PrChecks,
}

impl CheckedPr {
    fn read(checks: Vec<forge_support::FakeCheck>) -> Self {
        let (fake, forge, id) = with_open_pr::<FakeGithub>();
        let url = forge.find_pr(BRANCH, Some(&id)).unwrap().unwrap().url;
        let head = fake.core().lock().refs[BRANCH].clone();
        fake.core().lock().checks.insert(head.clone(), checks);
        let cache = ShownCache::default();
        let first = forge.pr_checks(&id, &url, &head, &cache).unwrap();
        fake.core().clear_requests();
        CheckedPr {
            fake,
            forge,
            id,
            url,
            head,
            cache,
            first,
        }
    }

    /// Reads the checks again; they must be what the first read found.
    fn read_again(&self) -> Vec<forge_support::Recorded> {
        let again = self
            .forge
            .pr_checks(&self.id, &self.url, &self.head, &self.cache)
            .unwrap();
        assert_eq!(again, self.first);
        self.fake.core().requests()
    }
}

fn failing_build() -> Vec<forge_support::FakeCheck> {
    vec![forge_support::FakeCheck {
        name: "build".into(),
        outcome: "fail",
        url: "https://ci.example/build".into(),
        status: false,
    }]
}

/// GitHub: what the cache keeps of a check answer is the weak ETag GitHub sent and only the
/// fields upkeep reads; the `304` replays the same checks.
#[test]
fn github_check_answers_are_kept_small_under_their_weak_etag() {
    let pr = CheckedPr::read(failing_build());
    let (etag, body) = pr.cache.entry("/check-runs").expect("check runs cached");
    assert!(etag.starts_with("W/\""), "{etag}");
    assert!(body.contains("\"build\""), "{body}");
    assert!(
        !body.contains("head_sha") && !body.contains("total_count"),
        "{body}"
    );
    let requests = pr.read_again();
    assert!(requests.iter().all(|r| r.status == 304), "{requests:?}");
}

/// GitHub: a check list longer than one page (`Link: rel="next"`) is judged on its first 100
/// and not cached, so the next read is a full one; the one-page status list still is.
#[test]
fn github_check_answers_of_more_than_one_page_are_not_cached() {
    let many: Vec<_> = (0..101)
        .map(|i| forge_support::FakeCheck {
            name: format!("job-{i:03}"),
            outcome: "pass",
            url: format!("https://ci.example/{i}"),
            status: false,
        })
        .collect();
    let pr = CheckedPr::read(many);
    assert_eq!(pr.first.checks.len(), 100, "the first page");
    assert!(
        pr.cache.entry("/check-runs").is_none(),
        "one page of two is not kept"
    );
    assert!(pr.cache.entry("/status").is_some());
    for r in pr.read_again() {
        let conditional = r.headers.iter().any(|(k, _)| k == "if-none-match");
        assert_eq!(conditional, r.path.ends_with("/status"), "{r:?}");
    }
}

/// A kept answer that no longer decodes (written by another version, or damaged) is not
/// trusted when GitHub confirms its ETag: the checks are read again in full.
#[test]
fn github_a_kept_check_answer_that_does_not_decode_is_read_again() {
    let pr = CheckedPr::read(failing_build());
    for entry in pr.cache.0.lock().unwrap().values_mut() {
        entry.1 = b"{\"check_runs\": 7".to_vec();
    }
    let statuses: Vec<u16> = pr.read_again().iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [304, 200, 304, 200],
        "confirmed, then read in full"
    );
    let (_, body) = pr.cache.entry("/check-runs").unwrap();
    assert!(
        body.contains("\"build\""),
        "the entry is written again: {body}"
    );
}

macro_rules! for_both_forges {
    ($($scenario:ident),* $(,)?) => {
        mod github {
            use super::*;
            $( #[test] fn $scenario() { super::$scenario::<FakeGithub>() } )*
        }
        mod azure {
            use super::*;
            $( #[test] fn $scenario() { super::$scenario::<FakeAzure>() } )*
        }
    };
}

for_both_forges!(
    read_base_file,
    write_branch_new_then_move_then_stale,
    commits_beside_lists_the_branch_not_the_moved_base,
    open_draft_pr_with_labels_and_reviewers,
    a_bad_reviewer_does_not_block_the_pr,
    find_pr_by_branch_and_id,
    update_pr_title_body_ready_and_labels,
    comment_on_pr,
    closed_and_merged_states,
    pr_state_open_closed_merged,
    server_errors_are_retried,
    rate_limit_waits_for_retry_after,
    unauthorized_keeps_the_body,
    body_over_the_limit_is_refused,
    check_access_and_unknown_repo,
    token_never_in_errors,
    a_lost_answer_is_confirmed_not_resent,
    pr_comments_and_close,
    pr_checks_of_the_head,
);

/// The shared client against a live server: metrics per host and status, and the ETag cache.
#[test]
fn http_client_metrics_and_etag_cache() {
    let fake = FakeGithub::start();
    let metrics = Arc::new(HttpMetrics::default());
    let client = HttpClient::new(
        forge_support::test_http_settings(Duration::from_secs(5)),
        Some(upkeep::http::Auth::Bearer(upkeep::secret::Secret::new(
            TOKEN,
        ))),
    )
    .unwrap()
    .with_metrics(Arc::clone(&metrics));
    let url = reqwest::Url::parse(&format!("{}/repos/acme/mirror", fake.server.url())).unwrap();

    fake.core.fail_next(500, 2, &[]);
    client.execute(&Request::get(url.clone())).unwrap();
    fake.core.fail_next(429, 1, &[("retry-after", "0")]);
    let cache = EtagCache::new();
    let first = client.get_cached(url.clone(), &cache).unwrap();
    assert!(!first.not_modified);
    let second = client.get_cached(url.clone(), &cache).unwrap();
    assert!(
        second.not_modified,
        "the second GET was conditional and got 304"
    );
    assert_eq!(second.body, first.body);
    let last = fake.core.requests().pop().unwrap();
    assert!(
        last.headers
            .iter()
            .any(|(k, v)| k == "if-none-match" && v == "\"repo-true\"")
    );

    let host = format!("127.0.0.1:{}", fake.server.addr.port());
    let snapshot = metrics.snapshot();
    let m = &snapshot[&host];
    assert_eq!(m.requests_by_status.get("500"), Some(&2));
    assert_eq!(m.requests_by_status.get("200"), Some(&2));
    assert_eq!(m.requests_by_status.get("429"), Some(&1));
    assert_eq!(m.requests_by_status.get("304"), Some(&1));
    assert_eq!(m.retries, 2);
    assert_eq!(m.rate_limit_waits, 1);
}

/// A network error (nothing listening) is retried and then reported without the token.
#[test]
fn network_errors_are_retried_then_reported() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let metrics = Arc::new(HttpMetrics::default());
    let client = HttpClient::new(
        forge_support::test_http_settings(Duration::from_secs(1)),
        Some(upkeep::http::Auth::Bearer(upkeep::secret::Secret::new(
            TOKEN,
        ))),
    )
    .unwrap()
    .with_metrics(Arc::clone(&metrics));
    let url = reqwest::Url::parse(&format!("http://127.0.0.1:{port}/x")).unwrap();
    let err = client.execute(&Request::get(url)).unwrap_err();
    assert!(matches!(err, ForgeError::Other(_)));
    assert!(err.to_string().contains("attempt 4 of 4"), "{err}");
    assert!(!err.to_string().contains(TOKEN));
    let snapshot = metrics.snapshot();
    assert_eq!(
        snapshot[&format!("127.0.0.1:{port}")]
            .requests_by_status
            .get("network-error"),
        Some(&4)
    );
}

/// GitHub's primary rate limit: a 403 with `x-ratelimit-remaining: 0` waits until the reset.
#[test]
fn github_rate_limit_403_waits_until_reset() {
    let fake = FakeGithub::start();
    let reset = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 2;
    fake.core.fail(Fault {
        status: 403,
        headers: vec![
            ("x-ratelimit-remaining".into(), "0".into()),
            ("x-ratelimit-reset".into(), reset.to_string()),
        ],
        body: "{\"message\":\"API rate limit exceeded\"}".into(),
        times: 1,
        path_contains: None,
    });
    let started = Instant::now();
    let base = fake.forge().read_base_file("main", PIN_PATH).unwrap();
    assert_eq!(base.content, PIN_CONTENT.as_bytes());
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited {:?}",
        started.elapsed()
    );

    // A plain 403 (no rate-limit signal) is Unauthorized at once, not waited on.
    fake.core.fail(Fault {
        status: 403,
        headers: vec![],
        body: "{\"message\":\"Resource not accessible by integration\"}".into(),
        times: 1,
        path_contains: None,
    });
    let err = fake.forge().read_base_file("main", PIN_PATH).unwrap_err();
    assert!(matches!(err, ForgeError::Unauthorized(_)), "{err:?}");
    assert!(err.to_string().contains("Resource not accessible"), "{err}");
}

/// Azure DevOps answers a bad PAT with 203 and a sign-in page: that is Unauthorized.
#[test]
fn azure_sign_in_page_is_unauthorized() {
    let fake = FakeAzure::start();
    fake.core.fail(Fault {
        status: 203,
        headers: vec![],
        body: "<html>Sign in</html>".into(),
        times: 1,
        path_contains: None,
    });
    let err = fake.forge().read_base_file("main", PIN_PATH).unwrap_err();
    assert!(matches!(err, ForgeError::Unauthorized(_)), "{err:?}");
    assert!(err.to_string().contains("sign-in page"), "{err}");
}

/// Debug output of the concrete forges (settings, client) never shows the token.
#[test]
fn debug_of_forges_is_redacted() {
    let github = FakeGithub::start();
    let azure = FakeAzure::start();
    let texts = [
        format!(
            "{:?}",
            github.client_for("mirror", Some(TOKEN), Duration::from_secs(1))
        ),
        format!(
            "{:?}",
            azure.client_for("mirror", Some(TOKEN), Duration::from_secs(1))
        ),
    ];
    let basic = FakeAzure::authorization(TOKEN);
    for text in texts {
        assert!(
            text.contains("redacted") || text.contains("Sensitive"),
            "{text}"
        );
        assert!(
            !text.contains(TOKEN) && !text.contains(basic.trim_start_matches("Basic ")),
            "{text}"
        );
    }
}

fn github_forge_on(
    fake: &FakeGithub,
    pool: &upkeep::http::Pool,
) -> upkeep::forge::github::GithubForge {
    upkeep::forge::github::GithubForge::build(
        pool,
        upkeep::forge::github::GithubSettings {
            api_url: fake.server.url(),
            owner: forge_support::github::OWNER.into(),
            repo: forge_support::github::REPO.into(),
            token: Some(upkeep::secret::Secret::new(TOKEN)),
            timeout: forge_support::TIMEOUT,
            max_retries: 3,
            max_rate_limit_wait: Duration::from_secs(5),
        },
        forge_support::test_http_settings(Duration::from_secs(5)),
    )
    .unwrap()
}

/// The body GitHub sends with a secondary rate limit ("Rate limits for the REST API", "About
/// secondary rate limits"): a 403 (or 429) whose message says so, here without `retry-after`
/// and with budget left, so only the message tells it apart from a permission 403.
fn secondary_limit(times: u32) -> Fault {
    Fault {
        status: 403,
        headers: vec![("x-ratelimit-remaining".into(), "4990".into())],
        body: "{\"message\":\"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.\",\"documentation_url\":\"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits\"}".into(),
        times,
        path_contains: None,
    }
}

/// A secondary rate limit is waited out (the wait itself, a minute doubling, is the policy's
/// table test; the tests configure 20 ms for the minute) and the request retried; more limits
/// than retries end as RateLimited naming the rule.
#[test]
fn github_secondary_rate_limit_is_waited_out_and_retried() {
    let fake = FakeGithub::start();
    let forge = fake.forge();
    fake.core.fail(secondary_limit(2));
    let base = forge.read_base_file("main", PIN_PATH).unwrap();
    assert_eq!(base.content, PIN_CONTENT.as_bytes());
    let requests = fake.core.requests();
    assert_eq!(
        requests[0].path, requests[2].path,
        "retried twice: {requests:?}"
    );

    fake.core.clear_requests();
    fake.core.fail(secondary_limit(10));
    let err = forge.read_base_file("main", PIN_PATH).unwrap_err();
    assert!(matches!(err, ForgeError::RateLimited(_)), "{err:?}");
    assert!(
        err.to_string().contains("secondary limit back-off"),
        "{err}"
    );
    assert_eq!(fake.core.requests().len(), 4, "one try and three retries");
    fake.core.lock().faults.clear();
}

/// The run's ceiling on waiting: once spent, a rate-limited request fails at once with a
/// rate-limit error that names the setting, and a request that is not limited still goes on.
#[test]
fn the_runs_rate_limit_wait_ceiling_fails_the_request_not_the_others() {
    let fake = FakeGithub::start();
    let pool = upkeep::http::Pool::new(Duration::from_secs(10)).unwrap();
    // The first secondary wait (20 ms) fits; the second (40 ms) does not.
    pool.wait_budget().reset(Duration::from_millis(30));
    let limited = github_forge_on(&fake, &pool);
    fake.core.fail(secondary_limit(5));
    let err = limited.read_base_file("main", PIN_PATH).unwrap_err();
    assert!(matches!(err, ForgeError::RateLimited(_)), "{err:?}");
    assert!(
        err.to_string().contains("[service] max-rate-limit-wait"),
        "{err}"
    );
    assert_eq!(fake.core.requests().len(), 2, "waited once, then gave up");
    fake.core.lock().faults.clear();
    let other = github_forge_on(&fake, &pool);
    assert!(other.read_base_file("main", PIN_PATH).is_ok());
}

/// The budget headers of every answer are kept per host for `/metrics`.
#[test]
fn the_rate_limit_budget_is_kept_per_host() {
    let fake = FakeGithub::start();
    fake.core.fail(Fault {
        status: 429,
        headers: vec![
            ("retry-after".into(), "0".into()),
            ("x-ratelimit-remaining".into(), "0".into()),
            ("x-ratelimit-reset".into(), "1700000000".into()),
        ],
        body: "{}".into(),
        times: 1,
        path_contains: None,
    });
    let metrics = Arc::new(HttpMetrics::default());
    let client = HttpClient::new(
        forge_support::test_http_settings(Duration::from_secs(5)),
        None,
    )
    .unwrap()
    .with_metrics(Arc::clone(&metrics));
    let url = reqwest::Url::parse(&format!("{}/repos/acme/mirror", fake.server.url())).unwrap();
    client.execute(&Request::get(url)).unwrap_err();
    let host = format!("127.0.0.1:{}", fake.server.addr.port());
    let m = &metrics.snapshot()[&host];
    assert_eq!(m.rate_limit_remaining, Some(0));
    assert_eq!(m.rate_limit_reset, Some(1_700_000_000));
    assert_eq!(m.rate_limit_waits, 1);
}

/// A POST that gets a 5xx is not resent by the HTTP layer (it may have been applied); a GET is.
#[test]
fn writes_that_may_have_been_applied_are_not_resent_by_the_http_layer() {
    let fake = FakeGithub::start();
    let client = HttpClient::new(
        forge_support::test_http_settings(Duration::from_secs(5)),
        Some(upkeep::http::Auth::Bearer(upkeep::secret::Secret::new(
            TOKEN,
        ))),
    )
    .unwrap();
    let url =
        reqwest::Url::parse(&format!("{}/repos/acme/mirror/pulls", fake.server.url())).unwrap();
    fake.core.fail_next(502, 5, &[]);
    let err = client
        .execute(&Request::new(reqwest::Method::POST, url).json(&serde_json::json!({})))
        .unwrap_err();
    assert!(matches!(err, ForgeError::MaybeApplied(_)), "{err:?}");
    assert_eq!(fake.core.requests().len(), 1, "sent once");
}

/// "Draft pull requests are not supported in this repository.": the create and the conversion
/// to draft are refused as Unsupported (the pipeline then opens it ready; see forges_e2e), and
/// nothing is created by the refused request.
#[test]
fn github_drafts_not_available_are_unsupported() {
    let fake = FakeGithub::start();
    fake.core.lock().drafts_unsupported = true;
    let forge = fake.forge();
    let base = forge.read_base_file("main", PIN_PATH).unwrap();
    forge
        .write_branch(&write(&base.base_commit, "upstream = \"v1.1.0\"\n", None))
        .unwrap();
    let err = forge
        .open_pr(&pr_request::<FakeGithub>(true, &[]))
        .unwrap_err();
    assert!(matches!(err, ForgeError::Unsupported(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("Draft pull requests are not supported"),
        "{err}"
    );
    assert!(fake.core.lock().prs.is_empty());
    let pr = forge
        .open_pr(&pr_request::<FakeGithub>(false, &[]))
        .unwrap();
    let err = forge
        .update_pr(&pr.id, &pr_request::<FakeGithub>(true, &[]))
        .unwrap_err();
    assert!(matches!(err, ForgeError::Unsupported(_)), "{err:?}");
}

/// "A pull request already exists for acme:branch." (in `errors[].message`) is a Conflict the
/// pipeline adopts; any other 422 is reported as GitHub worded it.
#[test]
fn github_422_bodies_are_classified() {
    let (fake, forge, _) = with_open_pr::<FakeGithub>();
    let err = forge
        .open_pr(&pr_request::<FakeGithub>(false, &[]))
        .unwrap_err();
    assert!(matches!(err, ForgeError::Conflict(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("A pull request already exists for acme:upkeep/demo-server."),
        "{err}"
    );
    let mut request = pr_request::<FakeGithub>(false, &[]);
    request.branch = "no-such-branch".into();
    let err = forge.open_pr(&request).unwrap_err();
    assert!(matches!(err, ForgeError::Other(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("GitHub refused the pull request: Validation Failed: head: invalid"),
        "{err}"
    );
    assert_eq!(fake.core.lock().prs.len(), 1);
}

/// A branch write whose answer is lost is confirmed by reading the ref: one ref, at our commit.
#[test]
fn github_ref_write_with_a_lost_answer_is_confirmed() {
    let fake = FakeGithub::start();
    let forge = fake.forge();
    let base = forge.read_base_file("main", PIN_PATH).unwrap();
    fake.core.lose_answer("POST", "/git/refs", 502, 1);
    let head = forge
        .write_branch(&write(&base.base_commit, "upstream = \"v1.1.0\"\n", None))
        .unwrap();
    assert_eq!(fake.core.head(BRANCH).as_deref(), Some(head.as_str()));
    fake.core.lose_answer("PATCH", "/git/refs/heads/", 502, 1);
    let moved = forge
        .write_branch(&write(
            &base.base_commit,
            "upstream = \"v1.2.0\"\n",
            Some(&head),
        ))
        .unwrap();
    assert_eq!(fake.core.head(BRANCH).as_deref(), Some(moved.as_str()));
    let ref_writes = fake
        .core
        .requests()
        .iter()
        .filter(|r| r.path.contains("/git/refs") && r.method != "GET")
        .count();
    assert_eq!(ref_writes, 2, "each ref write sent once");
}

/// A GitHub App installation token gets no `permissions` on the repository: `check --online`
/// says it could not tell, and does not fail.
#[test]
fn github_check_access_without_reported_permissions_is_unknown() {
    let fake = FakeGithub::start();
    fake.core.lock().permissions_hidden = true;
    match fake.forge().check_access("main").unwrap() {
        Access::Unknown(why) => assert!(why.contains("could not be told"), "{why}"),
        Access::Writable => panic!("no permissions were reported"),
    }
    fake.core.lock().permissions_hidden = false;
    assert_eq!(fake.forge().check_access("main").unwrap(), Access::Writable);
}
