//! Store queries for digests and review reminders (being written).
