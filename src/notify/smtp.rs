//! SMTP transport (temporary minimal version; the full one is being written).

use crate::config::SmtpConfig;

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("transient: {0}")]
    Transient(String),
    #[error("permanent: {0}")]
    Permanent(String),
}

pub struct SmtpSender;

impl SmtpSender {
    pub async fn send(&self, _message: &lettre::Message) -> Result<(), SendError> {
        Err(SendError::Transient("SMTP transport not built yet".into()))
    }
}

pub fn sender_from_config(_c: &SmtpConfig) -> anyhow::Result<SmtpSender> {
    Ok(SmtpSender)
}
