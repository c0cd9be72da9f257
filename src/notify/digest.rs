//! Per-owner digests: owners listed in `[email.digest] owners` get one email per digest period
//! instead of one email per event.
//!
//! Two steps, both driven by the outbox drain:
//! 1. [`route`]: when a due email is handled for the first time, its digest owners are taken
//!    out of its direct recipients and a digest item links each of them to the email (one
//!    transaction). An email left with no direct recipient is marked [`DIGESTED`].
//! 2. [`enqueue_due`]: when the digest schedule has fired since an owner's oldest unclaimed item,
//!    one digest email summarising every unclaimed item is queued (dedupe key
//!    `digest:<owner>:<period start>`) and claims the items in the same transaction: an item is
//!    never lost and never in two digests.
//!
//! The decisions ([`split`], [`period_start`]) and the text ([`digest_email`]) are pure. This
//! module does not send anything itself.

use std::fmt::Write as _;

use chrono::{DateTime, TimeZone, Utc};

use crate::config::EmailConfig;
use crate::render::{EmailText, html_escape};
use crate::store::{NewEmail, OutboxRow, Store};

/// Outbox status of an email whose every recipient gets it in a digest instead.
pub const DIGESTED: &str = "digested";
/// Outbox reason of digest emails (never digested themselves).
pub const REASON: &str = "digest";

/// The address part of a recipient (`Name <a@b>` -> `a@b`), lowercased, for comparisons.
pub fn address_key(recipient: &str) -> String {
    let r = recipient.trim();
    let inner = match (r.rfind('<'), r.rfind('>')) {
        (Some(a), Some(b)) if a < b => &r[a + 1..b],
        _ => r,
    };
    inner.trim().to_lowercase()
}

/// Who gets an email how, once digest owners are taken out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Recipients that get it in their digest.
    pub digested: Vec<String>,
    /// Direct `To` (Cc is promoted here when every `To` recipient is digested).
    pub to: Vec<String>,
    pub cc: Vec<String>,
}

impl Split {
    /// Nobody gets the email directly.
    pub fn nobody_direct(&self) -> bool {
        self.to.is_empty() && self.cc.is_empty()
    }
}

/// Take the `digested` owners out of `to`. When that empties `to`, the Cc recipients (say, the
/// escalation address of a reminder) become the direct recipients, as a message needs a `To`.
pub fn split(to: &[String], cc: &[String], digested: &[String]) -> Split {
    let keys: Vec<String> = digested.iter().map(|d| address_key(d)).collect();
    let (dig, direct): (Vec<String>, Vec<String>) = to
        .iter()
        .cloned()
        .partition(|r| keys.contains(&address_key(r)));
    if direct.is_empty() {
        Split {
            digested: dig,
            to: cc.to_vec(),
            cc: Vec::new(),
        }
    } else {
        Split {
            digested: dig,
            to: direct,
            cc: cc.to_vec(),
        }
    }
}

/// The start of the digest period an owner's items are due in: the latest fire time of
/// `schedule` (evaluated in `tz`) that is after the oldest item and not after `now`. None: the
/// schedule has not fired since the oldest item, so the items wait.
pub fn period_start<Z: TimeZone>(
    schedule: &cron::Schedule,
    tz: &Z,
    oldest: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    // prev_from(now) is strictly before now; a fire exactly at `now` is seen one tick later.
    let fired = schedule
        .after(&now.with_timezone(tz))
        .next_back()?
        .with_timezone(&Utc);
    (fired > oldest).then_some(fired)
}

/// Hand every due email's digest owners to their digests (first handling of an email only:
/// an email already tried keeps the recipients it was tried with). Returns the problems met.
pub fn route(store: &Store, config: &EmailConfig, rows: &[OutboxRow]) -> Vec<String> {
    let Some(dg) = &config.digest else {
        return Vec::new();
    };
    let mut errors = Vec::new();
    for row in rows {
        if row.reason == REASON || row.attempts > 0 || row.status != "pending" {
            continue;
        }
        let s = split(&row.recipients, &row.cc, &dg.owners);
        if s.digested.is_empty() {
            continue;
        }
        match store.route_to_digest(row.id, &s.digested, s.nobody_direct()) {
            Ok(()) => {
                tracing::info!(
                    outbox_id = row.id,
                    owners = s.digested.len(),
                    direct = !s.nobody_direct(),
                    "email handed to the digest"
                );
            }
            Err(e) => errors.push(format!("outbox {}: {e:#}", row.id)),
        }
    }
    errors
}

/// One email as a digest shows it.
#[derive(Debug, Clone)]
pub struct DigestEntry<'a> {
    pub server: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
}

/// The inside of an HTML body (`<html><body ...>X</body></html>` -> `X`), or None when the
/// document does not have that shape.
fn html_inner(html: &str) -> Option<&str> {
    let start = html.find("<body")?;
    let open_end = start + html[start..].find('>')? + 1;
    let close = html.rfind("</body>")?;
    (open_end <= close).then(|| &html[open_end..close])
}

/// The digest email of one owner: every item's subject and full text, in order.
pub fn digest_email(entries: &[DigestEntry<'_>]) -> EmailText {
    let n = entries.len();
    let subject = format!(
        "[upkeep] digest: {n} update{} for your sponsored servers",
        if n == 1 { "" } else { "s" }
    );
    let mut t = String::from("upkeep collected these emails for you since your last digest.\n\n");
    let mut h = String::from(
        "<html><body style=\"font-family:sans-serif\"><p>upkeep collected these emails for you since your last digest.</p><ol>",
    );
    for (i, e) in entries.iter().enumerate() {
        let _ = writeln!(t, "  {}. {} ({})", i + 1, e.subject, e.server);
        let _ = write!(
            h,
            "<li><a href=\"#item-{}\">{}</a> ({})</li>",
            i + 1,
            html_escape(e.subject),
            html_escape(e.server)
        );
    }
    h.push_str("</ol>");
    for (i, e) in entries.iter().enumerate() {
        let rule = "=".repeat(72);
        let _ = write!(
            t,
            "\n{rule}\n{}. {}\n{rule}\n\n{}",
            i + 1,
            e.subject,
            e.text
        );
        if !e.text.ends_with('\n') {
            t.push('\n');
        }
        let _ = write!(
            h,
            "<hr><h2 id=\"item-{}\">{}. {}</h2>",
            i + 1,
            i + 1,
            html_escape(e.subject)
        );
        match html_inner(e.html) {
            Some(inner) => h.push_str(inner),
            None => {
                let _ = write!(h, "<pre>{}</pre>", html_escape(e.text));
            }
        }
    }
    let footer = "You get these in a digest because you are listed in [email.digest] owners.";
    let _ = write!(t, "\n{footer}\n");
    let _ = write!(
        h,
        "<hr><p style=\"color:#666\">{}</p></body></html>",
        html_escape(footer)
    );
    EmailText {
        subject,
        text: t,
        html: h,
    }
}

/// The dedupe key of `owner`'s digest for the period starting at `period`.
pub fn digest_key(owner: &str, period: DateTime<Utc>) -> String {
    format!(
        "digest:{owner}:{}",
        period.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
}

/// Queue one digest per owner whose schedule fired since their oldest unclaimed item; returns
/// how many were queued. The schedule is evaluated in `tz`. Items left over from a digest
/// configuration that was since removed go out at once, so nothing waits forever.
pub fn enqueue_due<Z: TimeZone>(
    store: &Store,
    config: &EmailConfig,
    tz: &Z,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let mut queued = 0;
    for (owner, oldest) in store.owners_with_digest_items()? {
        let oldest = DateTime::parse_from_rfc3339(&oldest).map_or(now, |t| t.with_timezone(&Utc));
        let period = match &config.digest {
            Some(dg) => period_start(&dg.schedule, tz, oldest, now),
            None => Some(now),
        };
        let Some(period) = period else { continue };
        let id = store.transaction(|tx| {
            // Read inside the transaction that claims them: no other digest can take them.
            let items = Store::unclaimed_digest_items(tx, &owner)?;
            if items.is_empty() {
                return Ok(None);
            }
            let entries: Vec<DigestEntry<'_>> = items
                .iter()
                .map(|i| DigestEntry {
                    server: &i.server,
                    subject: &i.subject,
                    text: &i.text,
                    html: &i.html,
                })
                .collect();
            let text = digest_email(&entries);
            let email = NewEmail {
                dedupe_key: digest_key(&owner, period),
                server: REASON.into(),
                reason: REASON.into(),
                recipients: vec![owner.clone()],
                cc: Vec::new(),
                subject: text.subject,
                text: text.text,
                html: text.html,
            };
            let ids: Vec<i64> = items.iter().map(|i| i.id).collect();
            Store::enqueue_digest(tx, &email, &ids)
        })?;
        if let Some(id) = id {
            tracing::info!(outbox_id = id, "queued a digest");
            queued += 1;
        }
    }
    Ok(queued)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr as _;

    fn owners(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn digest_owners_leave_to_and_cc_is_promoted_when_to_empties() {
        let to = owners(&["A <a@x.org>", "b@x.org"]);
        let cc = owners(&["esc@x.org"]);
        let s = split(&to, &cc, &owners(&["A@X.org"]));
        assert_eq!(s.digested, owners(&["A <a@x.org>"]));
        assert_eq!(s.to, owners(&["b@x.org"]));
        assert_eq!(s.cc, cc);

        let s = split(&to, &cc, &owners(&["a@x.org", "b@x.org"]));
        assert_eq!(s.to, cc);
        assert!(s.cc.is_empty());
        assert!(!s.nobody_direct());

        let s = split(&to, &[], &owners(&["a@x.org", "b@x.org"]));
        assert!(s.nobody_direct());
        assert_eq!(split(&to, &cc, &[]).digested, Vec::<String>::new());
    }

    #[test]
    fn items_wait_for_the_first_fire_after_the_oldest() {
        let daily = cron::Schedule::from_str("0 0 8 * * *").unwrap();
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        // Queued at 10:00: not due the same day, due after 08:00 the next day.
        assert_eq!(
            period_start(
                &daily,
                &Utc,
                t("2026-03-01T10:00:00Z"),
                t("2026-03-01T23:00:00Z")
            ),
            None
        );
        assert_eq!(
            period_start(
                &daily,
                &Utc,
                t("2026-03-01T10:00:00Z"),
                t("2026-03-02T08:00:01Z")
            ),
            Some(t("2026-03-02T08:00:00Z"))
        );
        // Three days later: still one period, the latest.
        assert_eq!(
            period_start(
                &daily,
                &Utc,
                t("2026-03-01T10:00:00Z"),
                t("2026-03-04T09:00:00Z")
            ),
            Some(t("2026-03-04T08:00:00Z"))
        );
        // In another timezone, 08:00 local.
        let berlin = chrono_tz::Europe::Berlin;
        assert_eq!(
            period_start(
                &daily,
                &berlin,
                t("2026-03-01T10:00:00Z"),
                t("2026-03-02T07:30:00Z")
            ),
            Some(t("2026-03-02T07:00:00Z"))
        );
    }

    fn queue(store: &Store, key: &str, to: &[&str]) -> i64 {
        store
            .transaction(|tx| {
                Store::enqueue_email(
                    tx,
                    &NewEmail {
                        dedupe_key: key.into(),
                        server: "s".into(),
                        reason: "license-review".into(),
                        recipients: owners(to),
                        cc: Vec::new(),
                        subject: format!("subject {key}"),
                        text: format!("text {key}"),
                        html: String::new(),
                    },
                    None,
                )
            })
            .unwrap();
        store
            .outbox(&[])
            .unwrap()
            .into_iter()
            .find(|r| r.dedupe_key == key)
            .unwrap()
            .id
    }

    fn config(cron: &str, digest_owners: &[&str]) -> EmailConfig {
        EmailConfig {
            from: "upkeep@example.com".into(),
            transport: crate::config::EmailTransport::File {
                dir: std::path::PathBuf::from("unused"),
            },
            failing_runs_alert: 3,
            review_sla: std::time::Duration::from_secs(60),
            escalation: None,
            digest: Some(crate::config::DigestConfig {
                owners: owners(digest_owners),
                expression: cron.into(),
                schedule: cron::Schedule::from_str(cron).unwrap(),
            }),
        }
    }

    #[test]
    fn items_are_claimed_by_exactly_one_digest_and_routing_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        // Every second: due once a second has passed since the oldest item.
        let cfg = config("* * * * * *", &["busy@x.org"]);
        let a = queue(&store, "a", &["busy@x.org"]);
        let b = queue(&store, "b", &["busy@x.org", "other@x.org"]);
        let rows = store.due_emails().unwrap();
        assert!(route(&store, &cfg, &rows).is_empty());
        // A second drain (say, after a crash before sending) changes nothing.
        assert!(route(&store, &cfg, &rows).is_empty());
        assert_eq!(store.outbox_row(a).unwrap().unwrap().status, DIGESTED);
        assert_eq!(store.outbox_row(b).unwrap().unwrap().status, "pending");
        assert_eq!(store.digest_owners_of(b).unwrap(), owners(&["busy@x.org"]));

        let now = Utc::now();
        assert_eq!(
            enqueue_due(&store, &cfg, &Utc, now).unwrap(),
            0,
            "not fired yet"
        );
        let later = now + chrono::Duration::seconds(2);
        assert_eq!(enqueue_due(&store, &cfg, &Utc, later).unwrap(), 1);
        assert_eq!(
            enqueue_due(&store, &cfg, &Utc, later).unwrap(),
            0,
            "claimed"
        );
        let digest = store
            .outbox(&[])
            .unwrap()
            .into_iter()
            .find(|r| r.reason == REASON)
            .unwrap();
        assert_eq!(digest.recipients, owners(&["busy@x.org"]));
        assert_eq!(store.digest_items_of(digest.id).unwrap(), [a, b]);
        assert!(digest.text.contains("text a") && digest.text.contains("text b"));

        // A new item in the same period: the period's key is taken, so it waits for the next
        // digest instead of joining a second one for the same period.
        let c = queue(&store, "c", &["busy@x.org"]);
        route(&store, &cfg, &store.due_emails().unwrap());
        let fired = period_start(&cfg.digest.as_ref().unwrap().schedule, &Utc, now, later).unwrap();
        store
            .transaction(|tx| {
                tx.execute(
                    "UPDATE digest_items SET created_at = ?1 WHERE outbox_id = ?2",
                    rusqlite::params![
                        (fired - chrono::Duration::milliseconds(1))
                            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                        c
                    ],
                )?;
                Ok(())
            })
            .unwrap();
        assert_eq!(enqueue_due(&store, &cfg, &Utc, later).unwrap(), 0);
        let next = later + chrono::Duration::seconds(1);
        assert_eq!(enqueue_due(&store, &cfg, &Utc, next).unwrap(), 1);
        let digests: Vec<_> = store
            .outbox(&[])
            .unwrap()
            .into_iter()
            .filter(|r| r.reason == REASON)
            .collect();
        assert_eq!(digests.len(), 2);
        assert_eq!(store.digest_items_of(digests[1].id).unwrap(), [c]);
    }

    #[test]
    fn digest_shows_every_item_and_its_html_inside() {
        let entries = [
            DigestEntry {
                server: "a",
                subject: "[upkeep] a: one",
                text: "first body",
                html: "<html><body style=\"x\"><p>first <b>html</b></p></body></html>",
            },
            DigestEntry {
                server: "b<i>",
                subject: "[upkeep] b: two",
                text: "second body\n",
                html: "not a document",
            },
        ];
        let e = digest_email(&entries);
        assert_eq!(
            e.subject,
            "[upkeep] digest: 2 updates for your sponsored servers"
        );
        assert!(e.text.contains("first body\n") && e.text.contains("second body\n"));
        assert!(e.html.contains("<p>first <b>html</b></p>"));
        assert!(e.html.contains("<pre>second body\n</pre>"));
        assert!(e.html.contains("b&lt;i&gt;"));
        assert_eq!(e.html.matches("<body").count(), 1);
    }
}
