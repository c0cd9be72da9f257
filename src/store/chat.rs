//! Chat destinations in the outbox: every email queued for a server is fanned out, in the
//! transaction that queues it, to one outbox row per chat destination of that server.
//!
//! A chat row is an ordinary `outbox` row (the same drain, statuses, attempts, back-off and
//! exactly-once protocol as email) whose one recipient is `chat:<destination>` and whose dedupe
//! key is the email's with `#chat:<destination>` added; `outbox_chat` says where it goes and
//! what its card shows (the caller's card as JSON, or none: then the drain builds one from the
//! email's subject and text, linking the PR that was open when it was queued).
//!
//! Which server sends to which destination is configuration, and the callers that queue emails
//! hold only a transaction: the routes live in this store's memory, which every transaction of
//! the store can read ([`Store::set_chat_routes`], set by the composition root when it opens the
//! store). Nothing of them is written to the state, and a store opened without routes queues
//! email only.

use std::collections::{BTreeSet, HashMap};

use super::db::{Exec as _, OptionalExt as _, params};
use super::{Attachment, NewEmail, Store, Tx};

/// The recipient of a chat row: `chat:<destination>`.
pub const CHAT_RECIPIENT_PREFIX: &str = "chat:";

/// Where a chat row goes and what it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub destination: String,
    /// The caller's card (JSON), or None for one made from the email.
    pub card: Option<String>,
    /// The server's open PR when the message was queued.
    pub link: Option<String>,
}

impl Store {
    /// The (server, destination) pairs new emails fan out to, replacing any earlier ones.
    pub fn set_chat_routes(&self, routes: &[(String, String)]) -> anyhow::Result<()> {
        let mut map: HashMap<String, BTreeSet<String>> = HashMap::new();
        for (server, destination) in routes {
            map.entry(server.clone())
                .or_default()
                .insert(destination.clone());
        }
        *self
            .context
            .chat_routes
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = map;
        Ok(())
    }

    /// Queue `email` (unless its dedupe key exists) and, when it is new, one chat row per chat
    /// destination of its server, all in the caller's transaction. `card` is the chat card as
    /// JSON (`render::chat::ChatCard`); None lets the drain make one from the email. Returns
    /// whether the email was new.
    pub fn enqueue_email_with_card(
        tx: &Tx<'_>,
        email: &NewEmail,
        attachments: &[Attachment],
        card: Option<&str>,
        run_id: Option<i64>,
    ) -> anyhow::Result<bool> {
        let Some(_) = Self::insert_email(tx, email, attachments, run_id)? else {
            return Ok(false);
        };
        for destination in Self::chat_destinations(tx, &email.server) {
            let row = NewEmail {
                dedupe_key: format!("{}#chat:{destination}", email.dedupe_key),
                recipients: vec![format!("{CHAT_RECIPIENT_PREFIX}{destination}")],
                cc: Vec::new(),
                html: String::new(),
                ..email.clone()
            };
            // The key is new with the email's, unless a key of that shape was queued apart.
            let Some(id) = Self::insert_email(tx, &row, &[], run_id)? else {
                continue;
            };
            let link = Self::open_pr_tx(tx, &email.server)?.and_then(|pr| pr.url);
            tx.execute(
                "INSERT INTO outbox_chat(outbox_id, destination, card, link) VALUES (?1, ?2, ?3, ?4)",
                params![id, destination, card, link],
            )?;
        }
        Ok(true)
    }

    /// The chat destinations of `server` in this store's routes, in order.
    fn chat_destinations(tx: &Tx<'_>, server: &str) -> Vec<String> {
        tx.context
            .chat_routes
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(server)
            .map(|d| d.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Where outbox row `id` goes when it is a chat row (None: an email).
    pub fn chat_message(&self, id: i64) -> anyhow::Result<Option<ChatMessage>> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT destination, card, link FROM outbox_chat WHERE outbox_id = ?1",
                params![id],
                |r| {
                    Ok(ChatMessage {
                        destination: r.get(0)?,
                        card: r.get(1)?,
                        link: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(key: &str, server: &str) -> NewEmail {
        NewEmail {
            dedupe_key: key.into(),
            server: server.into(),
            reason: "license-review".into(),
            recipients: vec!["owner@example.com".into()],
            cc: Vec::new(),
            subject: "subject".into(),
            text: "text".into(),
            html: "<p>text</p>".into(),
        }
    }

    fn routes(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(s, d)| ((*s).to_string(), (*d).to_string()))
            .collect()
    }

    crate::store::testing::on_both_backends! {
        fn a_new_email_fans_out_once_per_destination_in_its_transaction() {
            let dir = tempfile::tempdir().unwrap();
            let store = crate::store::testing::open(dir.path());
            store
                .set_chat_routes(&routes(&[
                    ("a", "legal-teams"),
                    ("a", "ops-slack"),
                    ("b", "x"),
                ]))
                .unwrap();
            let queue = |key: &str, server: &str, card: Option<&str>| {
                store
                    .transaction(|tx| {
                        Store::enqueue_email_with_card(tx, &email(key, server), &[], card, None)
                    })
                    .unwrap()
            };
            assert!(queue("k1", "a", Some("{\"title\":\"t\"}")));
            // The same key again: neither the email nor its chat rows are queued twice.
            assert!(!queue("k1", "a", None));
            let rows = store.outbox(&[]).unwrap();
            let keys: Vec<&str> = rows.iter().map(|r| r.dedupe_key.as_str()).collect();
            assert_eq!(keys, ["k1", "k1#chat:legal-teams", "k1#chat:ops-slack"]);
            assert_eq!(rows[1].recipients, ["chat:legal-teams"]);
            assert!(rows[1].html.is_empty() && rows[1].cc.is_empty());
            assert_eq!(store.chat_message(rows[0].id).unwrap(), None);
            let chat = store.chat_message(rows[2].id).unwrap().unwrap();
            assert_eq!(chat.destination, "ops-slack");
            assert_eq!(chat.card.as_deref(), Some("{\"title\":\"t\"}"));
            assert_eq!(chat.link, None);

            // A rolled-back transaction leaves neither the email nor its chat rows.
            let failed: anyhow::Result<()> = store.transaction(|tx| {
                Store::enqueue_email_with_card(tx, &email("k2", "a"), &[], None, None)?;
                anyhow::bail!("the decision failed")
            });
            assert!(failed.is_err());
            assert_eq!(store.outbox(&[]).unwrap().len(), 3);

            // A server without destinations, and a store without routes, queue the email only.
            assert!(queue("k3", "c", None));
            let other = crate::store::testing::open(dir.path());
            assert!(
                other
                    .transaction(|tx| Store::enqueue_email(tx, &email("k4", "a"), None))
                    .unwrap()
            );
            assert_eq!(store.outbox(&[]).unwrap().len(), 5);
        }
    }
}
