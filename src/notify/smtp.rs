//! SMTP transport (being written).
