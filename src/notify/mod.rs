//! Notifications: the email outbox sender, message building and transports (file, SMTP).
//!
//! Emails are enqueued by the pipeline in the same state transaction as the decision that caused
//! them; this module only drains the outbox. It never decides whether to email.

pub mod digest;
pub mod email;
pub mod outbox;
pub mod reminders;
pub mod smtp;
