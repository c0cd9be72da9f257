//! Notifications: email rendering and transports.

pub mod email;
pub mod smtp;
