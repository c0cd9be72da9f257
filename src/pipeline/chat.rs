//! The outbox's chat rows, delivered, and the call that queues an email with its chat card.
//!
//! A chat row goes through the email protocol of `pipeline::outbox`: mark `sending`
//! (attempts+1, committed) -> POST -> mark `sent`. A crash after the service accepted the POST
//! and before `sent` is committed sends the message again on the next drain: chat webhooks
//! take no idempotency key, so this cannot be closed, only kept small. Nothing runs between the
//! answer and the `sent` update but the log line, and every card names its outbox row
//! ("message N") in its context line, so a reader can tell a repeat from a new message.

use std::sync::Arc;

use crate::config::{ChatKind, EmailConfig};
use crate::notify::chat::ChatSender;
use crate::notify::transport::Outcome;
use crate::render::chat::{ChatCard, card_from_email, slack_message, teams_message};
use crate::report::{Attachment, EmailSummary};
use crate::store::{ChatMessage, NewEmail, OutboxRow, Store, Tx};

/// Queue `email` with `card` as what its chat destinations show, in the caller's transaction
/// (the same as [`Store::enqueue_email_with`], which gives chat a card made from the email).
/// Returns whether the email was new.
pub fn enqueue_with_card(
    tx: &Tx<'_>,
    email: &NewEmail,
    attachments: &[Attachment],
    card: &ChatCard,
    run_id: Option<i64>,
) -> anyhow::Result<bool> {
    let card = serde_json::to_string(card)?;
    Store::enqueue_email_with_card(tx, email, attachments, Some(&card), run_id)
}

/// The drain's chat sender, made at its first chat row.
#[derive(Default)]
pub(super) struct Sender(Option<Arc<ChatSender>>);

impl Sender {
    fn get(&mut self, config: &EmailConfig) -> anyhow::Result<Arc<ChatSender>> {
        if let Some(s) = &self.0 {
            return Ok(Arc::clone(s));
        }
        let s = ChatSender::from_config(&config.chat)?;
        self.0 = Some(Arc::clone(&s));
        Ok(s)
    }
}

/// One due chat row: rendered for its destination's kind, posted once, the outcome recorded.
pub(super) async fn send(
    store: &Arc<Store>,
    sender: &mut Sender,
    config: &EmailConfig,
    row: &OutboxRow,
    message: ChatMessage,
    summary: &mut EmailSummary,
) -> anyhow::Result<()> {
    let id = row.id;
    let destination = message.destination.clone();
    let what = format!("chat message {id} to {destination}");
    let sender = sender.get(config)?;
    let outcome = match sender.kind(&destination) {
        None => Outcome::Permanent(format!(
            "chat destination `{destination}` is not configured (any more)"
        )),
        Some(kind) => {
            let card = card_of(row, &message);
            let payload = match kind {
                ChatKind::Teams => teams_message(&card),
                ChatKind::Slack => slack_message(&card),
            };
            if !store.blocking(move |s| s.mark_sending(id)).await? {
                // Another replica's drain holds it, or sent it since this drain read the outbox.
                return Ok(());
            }
            crate::failpoint::hit("chat-before-post");
            let outcome = sender.deliver(&destination, payload).await;
            if matches!(outcome, Outcome::Sent) {
                crate::failpoint::hit("chat-after-post");
            }
            outcome
        }
    };
    super::outbox::record(store, row, outcome, &what, summary).await;
    Ok(())
}

/// The row's card: the one it was queued with, else one made from the email; with the row's
/// number in its context line.
fn card_of(row: &OutboxRow, message: &ChatMessage) -> ChatCard {
    let stored = message
        .card
        .as_deref()
        .and_then(|c| serde_json::from_str::<ChatCard>(c).ok());
    let mut card = stored.unwrap_or_else(|| {
        card_from_email(
            &row.server,
            &row.reason,
            &row.subject,
            &row.text,
            message.link.as_deref(),
        )
    });
    if card.link.is_none() {
        card.link.clone_from(&message.link);
    }
    card.context = format!("upkeep · {} · message {id}", row.reason, id = row.id);
    card
}
