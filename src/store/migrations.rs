//! Numbered schema migrations. Append only: a released migration's effect is never changed.
//! When they are applied, and what refuses a state they do not describe: [`super::schema`].

pub(super) const MIGRATIONS: &[&str] = &[
    // 1: the foundation schema.
    r"
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        trigger TEXT NOT NULL,
        dry_run INTEGER NOT NULL DEFAULT 0,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        result TEXT NOT NULL,
        report TEXT
    );
    CREATE TABLE server_state (
        server TEXT PRIMARY KEY,
        pinned_ref TEXT, pinned_commit TEXT,
        latest_version TEXT, latest_tag TEXT, latest_commit TEXT,
        last_status TEXT, last_error TEXT, last_run_id INTEGER, last_run_at TEXT, last_success_at TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        hold_reason TEXT, held_since TEXT
    );
    CREATE TABLE tag_history (
        server TEXT NOT NULL,
        tag TEXT NOT NULL,
        commit_id TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        PRIMARY KEY (server, tag, commit_id)
    );
    CREATE TABLE pull_requests (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        server TEXT NOT NULL,
        version TEXT NOT NULL,
        tag TEXT NOT NULL,
        commit_id TEXT NOT NULL,
        branch TEXT NOT NULL,
        forge_id TEXT, url TEXT,
        title TEXT NOT NULL,
        body_hash TEXT NOT NULL,
        head_commit TEXT,
        state TEXT NOT NULL,
        held INTEGER NOT NULL DEFAULT 0,
        closed_by TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (server, version)
    );
    CREATE TABLE license_baselines (
        server TEXT PRIMARY KEY,
        commit_id TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        snapshot TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE license_reviews (
        server TEXT PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        judgement TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE license_approvals (
        server TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        approved_by TEXT NOT NULL,
        note TEXT,
        approved_at TEXT NOT NULL,
        PRIMARY KEY (server, fingerprint)
    );
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        dedupe_key TEXT NOT NULL UNIQUE,
        server TEXT NOT NULL,
        reason TEXT NOT NULL,
        recipients TEXT NOT NULL,
        cc TEXT NOT NULL,
        subject TEXT NOT NULL,
        text_body TEXT NOT NULL,
        html_body TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT,
        created_at TEXT NOT NULL,
        sent_at TEXT,
        run_id INTEGER
    );
    CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
    CREATE TABLE lease (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        acquired_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
    );
    ",
    // 2: conditional-request cache of the HTTP release channels, per-owner digests, review reminders.
    r"
    CREATE TABLE http_cache (
        url TEXT PRIMARY KEY,
        etag TEXT NOT NULL,
        body BLOB NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE digest_items (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        owner TEXT NOT NULL,
        outbox_id INTEGER NOT NULL REFERENCES outbox(id),
        created_at TEXT NOT NULL,
        digest_outbox_id INTEGER,
        UNIQUE (owner, outbox_id)
    );
    CREATE TABLE reminders (
        server TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        sent_count INTEGER NOT NULL DEFAULT 0,
        last_at TEXT NOT NULL,
        PRIMARY KEY (server, fingerprint)
    );
    ",
    // 3: a person can accept a moved tag's new commit; later checks compare against that.
    r"
    ALTER TABLE tag_history ADD COLUMN accepted_by TEXT;
    ALTER TABLE tag_history ADD COLUMN accepted_at TEXT;
    ",
    // 4: the quiet mark: what a server's last full check saw upstream, so a later run whose
    // upstream answers the same skips the fetch, the mirror and the forge.
    r"
    CREATE TABLE quiet_marks (
        server TEXT PRIMARY KEY,
        key TEXT NOT NULL,
        checked_at TEXT NOT NULL
    );
    ",
    // 5: each server's full report, written as the server finishes, so a run of thousands of
    // servers holds only summaries in memory; `runs.report` keeps the summary document.
    r"
    CREATE TABLE run_servers (
        run_id INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        server TEXT NOT NULL,
        status TEXT NOT NULL,
        report TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
    );
    ",
    // 6: the HTTP cache was keyed by the full URL, so a registry URL with `user:pass@` put the
    // password in the state. Keys no longer carry credentials; drop the old entries (each costs
    // one full GET on the next run).
    r"
    DELETE FROM http_cache;
    ",
    // 7: GitHub webhook deliveries that started a run, so a replayed delivery starts none.
    r"
    CREATE TABLE IF NOT EXISTS webhook_deliveries (
        id TEXT PRIMARY KEY,
        received_at TEXT NOT NULL
    );
    ",
    // 8: the head upkeep last wrote to each bot branch (and a write in flight), which tells its
    // own branch from one a person touched; seeded from the PR records that know their head.
    // The forge's warnings of each server's last full check (reviewers not found, labels
    // refused). Written to apply cleanly whatever migrations are numbered before it.
    // (Its seeding was `INSERT OR IGNORE` until the state could live on PostgreSQL: the same
    // rows, the newest record of each branch first, in SQL both backends speak.)
    r"
    CREATE TABLE IF NOT EXISTS bot_branches (
        server TEXT NOT NULL,
        branch TEXT NOT NULL,
        head TEXT,
        pending_base TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (server, branch)
    );
    INSERT INTO bot_branches(server, branch, head, updated_at)
        SELECT server, branch, head_commit, updated_at FROM pull_requests
        WHERE head_commit IS NOT NULL
        ORDER BY updated_at DESC, id DESC
        ON CONFLICT DO NOTHING;
    CREATE TABLE IF NOT EXISTS forge_warnings (
        server TEXT PRIMARY KEY,
        warnings TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    ",
    // 9 to 11 say IF NOT EXISTS, as 8 does: branches that each numbered theirs 6 were merged
    // in one order, and a database a test winds back to an older version replays them.
    // 9: the MCP surface gate: a release whose surface has findings at the `hold-on` levels is
    // held until someone approves that surface (keyed on its fingerprint), like a license change.
    r"
    CREATE TABLE IF NOT EXISTS mcp_reviews (
        server TEXT PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        judgement TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS mcp_approvals (
        server TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        approved_by TEXT NOT NULL,
        note TEXT,
        approved_at TEXT NOT NULL,
        PRIMARY KEY (server, fingerprint)
    );
    ",
    // 10: security advisories: the details of each advisory by id and `modified` (the OSV
    // querybatch answers with ids only), and each server's last answer (what the next run's
    // fleet query asks, and what is shown when the service is down).
    r"
    CREATE TABLE IF NOT EXISTS advisory_vulns (
        id TEXT PRIMARY KEY,
        modified TEXT NOT NULL,
        body BLOB NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS advisory_state (
        server TEXT PRIMARY KEY,
        packages TEXT NOT NULL,
        pinned TEXT,
        proposed TEXT,
        report TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    ",
    // 11: files attached to an outbox email (the license texts of a review), kept apart so the
    // drain's listing of due emails does not load them.
    r"
    CREATE TABLE IF NOT EXISTS outbox_attachments (
        outbox_id INTEGER NOT NULL REFERENCES outbox(id),
        position INTEGER NOT NULL,
        filename TEXT NOT NULL,
        content_type TEXT NOT NULL,
        body BLOB NOT NULL,
        PRIMARY KEY (outbox_id, position)
    );
    ",
    // 12: the withheld versions (deprecated, yanked, deleted, above the dist-tag) a server's
    // notes already named, so a full check says each once (see store/withheld.rs).
    r"
    CREATE TABLE IF NOT EXISTS withheld_noted (
        server TEXT NOT NULL,
        channel TEXT NOT NULL,
        version TEXT NOT NULL,
        reason TEXT NOT NULL,
        noted_at TEXT NOT NULL,
        PRIMARY KEY (server, channel, version, reason)
    );
    ",
    // 13: an outbox row that goes to a chat destination instead of email. The row itself is an
    // ordinary outbox row (same drain, same exactly-once protocol); this says where it goes and
    // what its card shows.
    r"
    CREATE TABLE IF NOT EXISTS outbox_chat (
        outbox_id INTEGER PRIMARY KEY REFERENCES outbox(id),
        destination TEXT NOT NULL,
        card TEXT,
        link TEXT
    );
    ",
    // 14: the audit trail of review decisions (approved, declined, superseded by a newer text;
    // from the CLI, the API or a PR comment), the PR commands handled (keyed by the comment, with
    // the reply and close they still owe, so a crash never loses or repeats one), and where each
    // held PR's comments were last read.
    r"
    CREATE TABLE IF NOT EXISTS review_decisions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        server TEXT NOT NULL,
        kind TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        version TEXT,
        decision TEXT NOT NULL,
        source TEXT NOT NULL,
        actor TEXT NOT NULL,
        decided_at TEXT NOT NULL,
        note TEXT,
        pr_url TEXT,
        comment_url TEXT
    );
    CREATE INDEX IF NOT EXISTS review_decisions_server ON review_decisions(server, fingerprint);
    CREATE TABLE IF NOT EXISTS pr_commands (
        server TEXT NOT NULL,
        key TEXT NOT NULL,
        pr_id TEXT NOT NULL,
        outcome TEXT NOT NULL,
        reply TEXT,
        reply_owed INTEGER NOT NULL,
        close_owed INTEGER NOT NULL,
        recorded_at TEXT NOT NULL,
        PRIMARY KEY (server, key)
    );
    CREATE TABLE IF NOT EXISTS pr_comment_cursors (
        server TEXT PRIMARY KEY,
        pr_id TEXT NOT NULL,
        cursor TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    ",
    // 15: the fleet at a glance. `fleet_behind`: what each server's last full check saw of the releases
    // newer than the pin. `pr_merges`: when a rebuild PR was seen merged, and when the release it
    // proposed was published (the lead time). `pr_checks`: the pipeline's answer on an open
    // PR's head commit, and the validators of the forge's answers for conditional rereads.
    r"
    CREATE TABLE IF NOT EXISTS fleet_behind (
        server TEXT PRIMARY KEY,
        releases_behind INTEGER NOT NULL,
        behind_since TEXT,
        moved_tag INTEGER NOT NULL DEFAULT 0,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS pr_merges (
        pr_id INTEGER PRIMARY KEY,
        server TEXT NOT NULL,
        version TEXT NOT NULL,
        published_at TEXT,
        merged_at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS pr_checks (
        pr_id INTEGER PRIMARY KEY,
        server TEXT NOT NULL,
        head_commit TEXT NOT NULL,
        state TEXT NOT NULL,
        failed TEXT NOT NULL,
        url TEXT,
        checked_at TEXT NOT NULL
    );
    ",
    // 16: guarded auto-merge (issue 17). `pr_auto_merge`: what upkeep last did about the
    // forge's auto-merge of a PR: `arming` (written before the forge is asked, so a crash
    // leaves "maybe armed"), `armed`, `merged`, `refused`, `blocked`, `off`; the guards that
    // blocked it, the head it was armed at, the strategy. The forge's own answer stays the truth.
    r"
    CREATE TABLE IF NOT EXISTS pr_auto_merge (
        pr_id INTEGER PRIMARY KEY,
        server TEXT NOT NULL,
        state TEXT NOT NULL,
        head_commit TEXT,
        strategy TEXT,
        blocked_by TEXT NOT NULL DEFAULT '[]',
        note TEXT,
        updated_at TEXT NOT NULL
    );
    ",
    // 17: the order a tag's sightings were written (`seq`, per server and tag), the tie-break
    // of the tag history when two sightings share a time: what SQLite's implicit rowid was, in
    // SQL PostgreSQL speaks too. Existing rows are numbered by when they were first seen (the
    // order they were written in), then by commit for sightings of the same millisecond.
    r"
    ALTER TABLE tag_history ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
    UPDATE tag_history SET seq = 1 + (
        SELECT COUNT(*) FROM tag_history AS earlier
        WHERE earlier.server = tag_history.server AND earlier.tag = tag_history.tag
          AND (earlier.first_seen < tag_history.first_seen
               OR (earlier.first_seen = tag_history.first_seen
                   AND earlier.commit_id < tag_history.commit_id))
    );
    ",
    // 18: work shared between processes (issue 19). `server_claims`: which process syncs a
    // server now (a row lease: holder, expiry, and a fencing token that grows with every claim,
    // so a process whose claim lapsed cannot write under it), and when its last sync ended (a
    // scheduled run on another replica leaves a server synced since its tick alone). The outbox
    // rows a sender is delivering are claimed the same way (`outbox_claims`), and a run says who
    // runs it and when it last made progress (`run_holders`), so a replica marks only runs that
    // really died as aborted. New tables rather than new columns: every statement here can run
    // twice.
    r"
    CREATE TABLE IF NOT EXISTS server_claims (
        server TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        token INTEGER NOT NULL,
        claimed_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        released INTEGER NOT NULL DEFAULT 0,
        finished_at TEXT
    );
    CREATE TABLE IF NOT EXISTS outbox_claims (
        outbox_id INTEGER PRIMARY KEY,
        holder TEXT NOT NULL,
        expires_at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS run_holders (
        run_id INTEGER PRIMARY KEY,
        holder TEXT NOT NULL,
        heartbeat_at TEXT NOT NULL
    );
    ",
    // 19: whose open rebuild PR an HTTP cache row answers about (`server`; NULL: shared, such as
    // a release channel's page), so a PR's rows (its state, its head's checks) are deleted with
    // the transaction that ends it; and an index on the time of a row's last full answer, by
    // which every row is pruned once it is old (`store::Store::prune_http_cache`). Rows from
    // before are shared: age removes them.
    r"
    ALTER TABLE http_cache ADD COLUMN server TEXT;
    CREATE INDEX IF NOT EXISTS http_cache_server ON http_cache(server);
    CREATE INDEX IF NOT EXISTS http_cache_updated_at ON http_cache(updated_at);
    ",
    // 20: reminders of held MCP surface reviews, counted per surface as `reminders` counts them
    // per license text (a table of its own, as `mcp_reviews` and `mcp_approvals` are).
    r"
    CREATE TABLE IF NOT EXISTS mcp_reminders (
        server TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        sent_count INTEGER NOT NULL DEFAULT 0,
        last_at TEXT NOT NULL,
        PRIMARY KEY (server, fingerprint)
    );
    ",
];
