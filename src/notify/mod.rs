//! Notifications: message building, the transports (file, SMTP, chat webhooks), and the pure
//! decisions and texts of digests and review reminders.
//!
//! Emails are enqueued by the pipeline in the same state transaction as the decision that caused
//! them, and the outbox is drained by `pipeline::outbox`; this module knows no state, and never
//! decides whether to email.

pub mod chat;
pub mod digest;
pub mod email;
pub mod reminders;
pub mod smtp;
pub mod transport;
