//! Per-owner digests: owners listed in `[email.digest] owners` get one email per digest period
//! instead of one email per event.
//!
//! Two steps, both driven by the outbox drain (`pipeline::outbox`, which owns the state side):
//! 1. routing: when a due email is handled for the first time, its digest owners are taken out
//!    of its direct recipients ([`split`]) and a digest item links each of them to the email. An
//!    email left with no direct recipient is marked [`DIGESTED`].
//! 2. queueing: when the digest schedule has fired since an owner's oldest unclaimed item
//!    ([`period_start`]), one digest email summarising every unclaimed item ([`digest_email`]) is
//!    queued under [`digest_key`] and claims the items in the same transaction: an item is never
//!    lost and never in two digests.
//!
//! This module holds the decisions and the text, all pure; it neither reads the state nor sends.

use std::fmt::Write as _;

use chrono::{DateTime, TimeZone, Utc};

use crate::render::license::encoded_len;
use crate::render::{EmailText, html_escape};
use crate::report::Attachment;

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

/// What a digest may carry of its items' attachments (as sent, base64 included): each license
/// review keeps its own under 100 KB, so this is about twenty reviews' worth.
pub const ATTACHMENTS_LIMIT_BYTES: usize = 2 * 1024 * 1024;

/// The attachments of a digest's items (`(server, attachments)` in item order), each renamed
/// `<server>-<name>` so two servers' `LICENSE-1.2.0.txt` do not collide, kept in order while
/// they fit [`ATTACHMENTS_LIMIT_BYTES`]; the names of the rest, which the digest says are left out.
pub fn digest_attachments(items: &[(&str, Vec<Attachment>)]) -> (Vec<Attachment>, Vec<String>) {
    let mut kept = Vec::new();
    let mut left_out = Vec::new();
    let mut used = 0;
    for (server, attachments) in items {
        for a in attachments {
            let filename = format!("{server}-{}", a.filename);
            let size = encoded_len(&a.body);
            if used + size <= ATTACHMENTS_LIMIT_BYTES {
                used += size;
                kept.push(Attachment {
                    filename,
                    content_type: a.content_type.clone(),
                    body: a.body.clone(),
                });
            } else {
                left_out.push(filename);
            }
        }
    }
    (kept, left_out)
}

/// `email` with a closing paragraph naming what is attached and what was left out (and where
/// to read it: `upkeep license show`). Unchanged when the items had no attachments.
pub fn with_attachment_note(
    mut email: EmailText,
    kept: &[Attachment],
    left_out: &[String],
) -> EmailText {
    if kept.is_empty() && left_out.is_empty() {
        return email;
    }
    let mut note = String::new();
    if !kept.is_empty() {
        let names: Vec<&str> = kept.iter().map(|a| a.filename.as_str()).collect();
        let _ = writeln!(note, "Attached: {}.", names.join(", "));
    }
    if !left_out.is_empty() {
        let _ = writeln!(
            note,
            "Not attached (over this digest's size limit): {}. `upkeep license show SERVER` prints them.",
            left_out.join(", ")
        );
    }
    email.text.push('\n');
    email.text.push_str(&note);
    let html_note = format!(
        "<p>{}</p>",
        html_escape(note.trim_end()).replace('\n', "<br>")
    );
    match email.html.rfind("</body>") {
        Some(at) => email.html.insert_str(at, &html_note),
        None => email.html.push_str(&html_note),
    }
    email
}

/// The dedupe key of `owner`'s digest for the period starting at `period`.
pub fn digest_key(owner: &str, period: DateTime<Utc>) -> String {
    format!(
        "digest:{owner}:{}",
        period.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
}

#[cfg(test)]
mod tests {
    use std::str::FromStr as _;

    use super::*;

    #[test]
    fn digest_attachments_are_renamed_per_server_and_kept_within_the_limit() {
        let file = |name: &str, len: usize| Attachment {
            filename: name.into(),
            content_type: "text/plain; charset=utf-8".into(),
            body: vec![b'a'; len],
        };
        let big = ATTACHMENTS_LIMIT_BYTES / 2;
        let items = [
            ("weather", vec![file("LICENSE-1.1.0.txt", 10)]),
            (
                "search",
                vec![
                    file("LICENSE-1.1.0.txt", big),
                    file("LICENSE-1.0.0.txt", big),
                ],
            ),
            ("maps", vec![file("LICENSE-2.0.0.txt", 10)]),
        ];
        let (kept, left_out) = digest_attachments(&items);
        let names: Vec<&str> = kept.iter().map(|a| a.filename.as_str()).collect();
        // Base64 makes each half-limit file bigger than half: the second one does not fit.
        assert_eq!(
            names,
            [
                "weather-LICENSE-1.1.0.txt",
                "search-LICENSE-1.1.0.txt",
                "maps-LICENSE-2.0.0.txt"
            ]
        );
        assert_eq!(left_out, ["search-LICENSE-1.0.0.txt"]);
        let email = || EmailText {
            subject: "s".into(),
            text: "body\n".into(),
            html: "<html><body><p>body</p></body></html>".into(),
        };
        let noted = with_attachment_note(email(), &kept, &left_out);
        assert!(
            noted
                .text
                .contains("Attached: weather-LICENSE-1.1.0.txt, search-LICENSE-1.1.0.txt")
        );
        assert!(
            noted
                .text
                .contains("Not attached (over this digest's size limit): search-LICENSE-1.0.0.txt")
        );
        assert!(noted.html.ends_with("</p></body></html>"), "{}", noted.html);
        assert_eq!(with_attachment_note(email(), &[], &[]).text, "body\n");
    }

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
